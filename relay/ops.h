/* The operations listener: plain HTTP/1.1 on its own address (default
 * 127.0.0.1:9464), separate from the mTLS port. GET /metrics (Prometheus
 * text 0.0.4), GET /healthz (the loop is turning), GET /readyz (listening,
 * registry loaded, not draining). Anything else is 404. One request per
 * connection, a bounded request buffer, a read deadline, a cap on
 * concurrent scrapers. It serves nothing about practices or endpoints. */
#ifndef RELAY_OPS_H
#define RELAY_OPS_H

#include <stddef.h>

#include "relay.h"

#define OPS_MAX_REQUEST 2048
#define OPS_MAX_CLIENTS 16
#define OPS_TIMEOUT_MS 5000

int ops_start(relay_t *r, char *err, size_t errlen);
void ops_stop(relay_t *r);
/* 1 if /readyz would answer 200. */
int ops_ready(const relay_t *r);

#endif
