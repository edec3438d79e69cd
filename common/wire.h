/* The zkrelay wire format (proto/zkrelay.proto), decoded strictly and
 * without copies.
 *
 * One WebSocket message is one Batch: a sequence of entries, each the
 * Batch field 1 (wire type 2) holding one Frame. The decoder hands out
 * pointers into the caller's message buffer; nothing is allocated. It is
 * stricter than protobuf: an unknown field number, a wrong wire type, a
 * repeated singular field, an empty or double oneof, an overlong varint, a
 * value out of range, an empty batch or trailing bytes all fail with
 * -ZK_EMALFORMED. Fields equal to their proto3 default may be absent.
 *
 * The encoder writes Batch entries the same protobuf-c code would write
 * (fields in number order, defaults omitted); tests check both directions
 * against protobuf-c. */
#ifndef ZK_WIRE_H
#define ZK_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define WIRE_MAX_PAYLOAD 65535u    /* one Noise message */
#define WIRE_MAX_ADDR 129u         /* "<practice-id>/<endpoint-id>" */
#define WIRE_MAX_ID 64u            /* practice-id or endpoint-id */
#define WIRE_MAX_TOKEN 4096u
#define WIRE_MAX_DETAIL 256u
/* Worst-case bytes a Data entry adds around its payload and src. */
#define WIRE_DATA_OVERHEAD 48u

typedef enum {
	WIRE_HELLO = 1,
	WIRE_WELCOME = 2,
	WIRE_REFRESH = 3,
	WIRE_ACK = 4,
	WIRE_NACK = 5,
	WIRE_CLOSE = 6,
	WIRE_DATA = 7,
} wire_type_t;

typedef enum {
	WIRE_ROLE_NONE = 0,
	WIRE_ROLE_SAFE = 1,
	WIRE_ROLE_CLIENT = 2,
} wire_role_t;

typedef struct {
	const uint8_t *p;
	size_t len;
} wire_slice_t;

typedef struct {
	wire_type_t type;
	union {
		struct { wire_slice_t token; } hello;     /* hello and refresh */
		struct {
			wire_slice_t practice_id, endpoint_id;
			wire_role_t role;
			uint32_t max_message_bytes, max_payload_bytes;
		} welcome;
		struct { uint64_t seq; } ack;
		struct { uint32_t stream; uint64_t seq; uint32_t reason; } nack;
		struct { uint32_t reason; wire_slice_t detail; } close;
		struct {
			wire_slice_t dst, src;
			uint32_t stream;
			uint64_t seq;
			wire_slice_t payload;
		} data;
	} u;
} wire_frame_t;

/* Range rules the decoder enforces: string fields hold no NUL and stay
 * within their WIRE_MAX_*; data.payload is 1..WIRE_MAX_PAYLOAD bytes; a
 * data frame has a non-empty dst (sent by an endpoint) or src (delivered
 * by the relay), and the relay requires dst on what it receives; reason and role values are known ones.
 * Whether an address is well formed is the router's business, not this
 * layer's. */

typedef struct {
	buf_reader_t r;
} wire_iter_t;

void wire_iter_init(wire_iter_t *it, const uint8_t *msg, size_t len);
/* 1: *out holds the next frame; 0: end of batch (only after at least one
 * frame; an empty message is malformed); -ZK_EMALFORMED: stop. A failed
 * call leaves the iterator and *out untouched, so calling again fails
 * again. */
int wire_next(wire_iter_t *it, wire_frame_t *out);
/* Walks the whole message once; 0 if every frame decodes, the number of
 * frames in *count. */
int wire_validate(const uint8_t *msg, size_t len, size_t *count);

/* Encoders. Each appends one Batch entry to w, whole or not at all: an
 * entry that does not fit sets the writer's overflow flag and writes
 * nothing. They write what they are given; the decoder's range rules are
 * the caller's to respect. */
/* Any decoded or hand-built frame, e.g. a data frame re-sent with src
 * stamped. An unknown type writes nothing and sets the overflow flag. */
void wire_put_frame(buf_writer_t *w, const wire_frame_t *f);
/* Exact size wire_put_frame() will write for f. */
size_t wire_frame_size(const wire_frame_t *f);
/* type must be WIRE_HELLO or WIRE_REFRESH; any other value writes nothing
 * and sets the overflow flag. */
void wire_put_hello(buf_writer_t *w, wire_type_t type /* HELLO or REFRESH */,
		    const uint8_t *token, size_t token_len);
/* practice_id, endpoint_id and detail are C strings; NULL omits them. */
void wire_put_welcome(buf_writer_t *w, const char *practice_id, wire_role_t role,
		      const char *endpoint_id, uint32_t max_message_bytes,
		      uint32_t max_payload_bytes);
void wire_put_ack(buf_writer_t *w, uint64_t seq);
void wire_put_nack(buf_writer_t *w, uint32_t stream, uint64_t seq, uint32_t reason);
void wire_put_close(buf_writer_t *w, uint32_t reason, const char *detail);
/* dst or src may be NULL/0 to omit. A NULL pointer omits its field
 * whatever the length (payload too, though a data frame needs one). */
void wire_put_data(buf_writer_t *w, const uint8_t *dst, size_t dst_len,
		   const uint8_t *src, size_t src_len, uint32_t stream,
		   uint64_t seq, const uint8_t *payload, size_t payload_len);
/* Exact size wire_put_data() will write for these lengths and values; a
 * length of 0 stands for an omitted field. */
size_t wire_data_size(size_t dst_len, size_t src_len, uint32_t stream,
		      uint64_t seq, size_t payload_len);

#endif
