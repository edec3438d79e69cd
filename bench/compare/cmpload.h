/* The load generator for the comparison brokers (make bench-compare):
 * the traffic zkrelay-bench sends through zkrelay, sent through another
 * broker over its own client library, so the brokers' CPU per message can
 * be set side by side.
 *
 * A driver adapts one client library (NATS, MQTT); cmpload_main() does
 * the rest: P publisher/subscriber pairs on their own connections, one
 * subject or topic per pair, in one of three modes:
 *   closed  each publisher keeps at most --window payload bytes beyond
 *           what its subscriber has received: the most messages/s
 *   open    a fixed rate over all pairs; latency from each message's due
 *           time to its arrival (p50, p99, p99.9)
 *   idle    K connections that only connect: the broker's RSS per
 *           connection, and handshakes/s with its CPU per handshake
 * Each message carries its sequence number and due time in its first 16
 * bytes; a subscriber checks that nothing is lost or reordered. The
 * broker's CPU (all threads) comes from /proc/PID/stat over the run. */
#ifndef ZK_CMPLOAD_H
#define ZK_CMPLOAD_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
	int port;
	const char *ca, *cert, *key; /* PEM files: CA, client certificate and key */
} cmpload_tls_t;

/* A message arrived: p, n valid during the call only. */
typedef void (*cmpload_msg_cb)(void *arg, const uint8_t *p, size_t n);

typedef struct {
	const char *name;
	/* A connected client with id (unique), or NULL with err filled. */
	void *(*connect)(const cmpload_tls_t *t, const char *id, char *err, size_t errlen);
	/* Subscribes and waits until the broker has confirmed it. */
	int (*subscribe)(void *c, const char *topic, cmpload_msg_cb cb, void *arg);
	int (*publish)(void *c, const char *topic, const uint8_t *p, size_t n);
	void (*disconnect)(void *c);
} cmpload_driver_t;

int cmpload_main(int argc, char **argv, const cmpload_driver_t *d);

#endif
