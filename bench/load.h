/* The load: sender/receiver pairs pushing Data frames through the relay.
 *
 * A pair is one client endpoint sending to one data-safe of its practice.
 * During a run each pair has two threads on the blocking test client
 * (tests/integration/tclient.h): the sender sends Batches of Data frames
 * as fast as the window allows, the receiver takes them apart and checks
 * every frame (type, stream, sequence number, source stamp, payload
 * bytes). The loop is closed: a sender keeps at most `window` frames that
 * its receiver has not yet checked; with no window the relay's
 * backpressure is the only brake.
 *
 * Open loop (rate > 0): a sender sends at a fixed rate whatever its
 * receiver does; frame k is due at start + k / rate and carries that time
 * (CLOCK_MONOTONIC, ns) as its sequence number. A sender that falls
 * behind sends what is due in one Batch. The receiver checks that the
 * numbers rise and records each frame's end-to-end latency from its due
 * time, so a stall in the sender counts against the latency too.
 *
 * A lagging receiver (receiver_delay_us > 0) sleeps after every message,
 * so the relay's queue for it fills and its backpressure must hold the
 * sender back without losing a frame.
 *
 * Any loss, reordering, nack, unexpected frame or stall (no frame for
 * stall_ms) ends the run for every pair and is reported as an error. */
#ifndef ZK_BENCH_LOAD_H
#define ZK_BENCH_LOAD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../tests/integration/tclient.h"

typedef struct {
	char src[96];               /* "practice-a/client-1": the sender's address */
	char dst[96];               /* "practice-a/safe-1" */
	tclient_t *snd;
	tclient_t *rcv;
	uint32_t max_message_bytes; /* from the sender's Welcome */
	uint32_t max_payload_bytes;
} load_pair_t;

/* Connects the receiver, then the sender (so the first frame finds its
 * route), each with its certificate PKI/PRACTICE/ENDPOINT.crt and .key, and
 * says hello on both. rcvbuf > 0 sets the receiver's SO_RCVBUF (a lagging
 * receiver whose kernel must not absorb the backlog). 0, or -1 with a
 * message in err. */
int load_pair_connect(load_pair_t *p, int port, const char *pki, const char *practice,
		      const char *sender, const char *receiver, int rcvbuf, char *err,
		      size_t errlen);
/* Sends a WebSocket close on both connections and frees them. */
void load_pair_close(load_pair_t *p);

/* Frames of frame_bytes that fit in one message under the relay's limit,
 * at most batch; 0 when not even one fits. */
size_t load_frames_per_message(const load_pair_t *p, size_t frame_bytes, size_t batch);

typedef struct {
	uint32_t stream;        /* distinct per run, so a stray frame shows */
	size_t frame_bytes;     /* payload bytes per frame */
	uint64_t frames;        /* per pair */
	size_t per_message;     /* frames per Batch, from load_frames_per_message() */
	uint64_t window;        /* frames in flight per pair; 0: no window */
	const uint8_t *payload; /* frame_bytes bytes sent in every frame */
	pid_t relay_pid;        /* whose CPU time is measured */
	int stall_ms;
	uint64_t rate;          /* open loop: frames/s per pair; 0: closed loop */
	uint32_t receiver_delay_us; /* receivers sleep this after each message */
} load_params_t;

typedef struct {
	uint64_t frames;        /* delivered and checked, all pairs */
	double wall_s;          /* first frame sent to last frame checked */
	uint64_t relay_cpu_us;  /* relay CPU time over the same interval */
	uint64_t self_cpu_us;   /* this process (all pairs' threads) */
	/* Open loop: end-to-end latency percentiles, microseconds. */
	double p50_us, p99_us, p999_us, max_us;
} load_result_t;

/* One run over all pairs. 0, or -1 with the first failure in err. */
int load_run(load_pair_t *pairs, size_t npairs, const load_params_t *lp, load_result_t *res,
	     char *err, size_t errlen);

#endif
