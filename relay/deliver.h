/* Delivery: frames into destination queues, out to the socket, and
 * nothing dropped on the way.
 *
 * A frame for a destination that is unknown, offline or not permitted is
 * nacked with one reason (no_route), so a sender learns nothing it may not
 * know. Above a queue's high-water mark the senders feeding it stop being
 * read (lws_rx_flow_control) until it drains below the low-water mark. A
 * destination that leaves with frames queued nacks each of them to its
 * sender as undelivered. */
#ifndef RELAY_DELIVER_H
#define RELAY_DELIVER_H

#include <stdint.h>

#include "conn.h"
#include "wire.h"

/* Routes one data frame from src. Never fails silently: either the frame
 * is queued or src gets a nack. Rate limits and token expiry are judged
 * at src->relay->rx_ns and rx_s, when the frame's message was read. */
void deliver_data(conn_t *src, const wire_frame_t *f);
/* Queues relay control frames to c (bypassing the byte cap, which control
 * frames cannot grow past one message's worth while c is paused). */
int deliver_welcome(conn_t *c);
int deliver_ack(conn_t *c, uint64_t seq);
int deliver_nack(conn_t *c, uint32_t stream, uint64_t seq, int reason);
int deliver_close_frame(conn_t *c, int reason);
/* Writes the head block; 0, or -1 to close the connection. */
int deliver_flush(conn_t *c);
/* c is closing: nack its queued data frames to their senders, release
 * the senders paused on it, and free the queue. */
void deliver_abandon(conn_t *c);

#endif
