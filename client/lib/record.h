/* E2E records: what one Noise transport message carries.
 *
 * A record is the plaintext sealed into one Noise transport message:
 *
 *   u8  type      RECORD_DATA, RECORD_ACK or RECORD_CLOSE (the sender
 *                 ends the session: what the peer sent broke a rule)
 *   u8  flags     RECORD_FIN (last record of its message), RECORD_RESUME
 *                 (the sender reconnected: resend what I have not acked)
 *   u16 reason    why a RECORD_CLOSE ends the session (a zk_err_t code);
 *                 zero in the other types
 *   u32 data_len  bytes of message data in this record
 *   u64 rseq      record sequence number, 1, 2, ... (0 in an ACK)
 *   u64 ack       every record up to this one has arrived (cumulative)
 *   u64 msg_len   length of the whole message this record belongs to
 *   data[data_len], then zero bytes up to the padded size
 *
 * Big-endian throughout. The padded size is the smallest bucket that
 * holds header and data, so the relay learns a message's size only to
 * the bucket (and the number of full records). Buckets are chosen so the
 * sealed message (plaintext + 16-byte tag) is 256, 1024, 4096, 16384 or
 * the largest payload allowed (at most 65535) bytes.
 *
 * Parsing is strict: an unknown type or flag, non-zero reserved or
 * padding bytes, data_len beyond the record, or fields that contradict
 * each other are refused with -ZK_EMALFORMED. */
#ifndef ZKR_RECORD_H
#define ZKR_RECORD_H

#include <stddef.h>
#include <stdint.h>

#define RECORD_HEADER 32u
#define RECORD_TAG 16u          /* AEAD tag added by sealing */
#define RECORD_MAX_SEALED 65535u
#define RECORD_MIN_SEALED 256u  /* smallest bucket */

enum { RECORD_DATA = 1, RECORD_ACK = 2, RECORD_CLOSE = 3 };
enum { RECORD_FIN = 0x01, RECORD_RESUME = 0x02 };

typedef struct {
	uint8_t type, flags;
	uint16_t reason;     /* RECORD_CLOSE only */
	uint64_t rseq, ack, msg_len;
	const uint8_t *data; /* into the parsed buffer */
	uint32_t data_len;
} record_t;

/* The largest plaintext record for a relay whose max payload is
 * max_payload bytes (clamped to RECORD_MAX_SEALED); 0 if it is too small
 * for even the smallest bucket. */
size_t record_max_plain(size_t max_payload);
/* Message bytes one record can carry under that limit. */
size_t record_chunk(size_t max_plain);
/* The padded plaintext size for data_len bytes of data: a bucket size
 * (never above max_plain), or 0 if data_len does not fit. */
size_t record_padded(size_t data_len, size_t max_plain);
/* Writes r (r->data, r->data_len) padded to record_padded() into out (cap
 * bytes); 0 and *olen, or -ZK_EINVAL / -ZK_ETOOLARGE. */
int record_encode(const record_t *r, size_t max_plain, uint8_t *out, size_t cap, size_t *olen);
int record_decode(const uint8_t *p, size_t n, record_t *out);

#endif
