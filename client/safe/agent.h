/* The running data-safe: one libzkrelay client on a libuv loop, connected
 * out to the relay with the data-safe's certificate (no token: a
 * data-safe is admitted by certificate and registry entry), accepting
 * the end-to-end sessions of clients and answering their requests
 * (serve.h). SIGTERM and SIGINT close the client and end the loop. */
#ifndef ZK_AGENT_H
#define ZK_AGENT_H

#include <stddef.h>

#include "safecfg.h"

/* Runs until a signal stops it: 0, or a negative zk_err_t with a message
 * in err when it could not start. */
int agent_run(const safecfg_t *cfg, char *err, size_t errlen);

#endif
