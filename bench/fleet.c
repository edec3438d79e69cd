/* Many client connections. See fleet.h. */
#include "fleet.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A handshake the relay has not finished in this time is a failure: the
 * relay is overloaded or stuck, and the scenario's figures mean nothing. */
#define CONNECT_TIMEOUT_MS 30000

typedef struct {
	fleet_t *f;
	size_t first;        /* this worker's members: first, first + threads, ... */
	atomic_int *failed;
	char err[512];
} worker_t;

int fleet_init(fleet_t *f, const mint_t *mint, int port, const char *aud, size_t n,
	       size_t threads, char *err, size_t errlen)
{
	char name[32];
	size_t i;

	memset(f, 0, sizeof(*f));
	f->mint = mint;
	f->port = port;
	f->n = n;
	f->threads = threads < 1 ? 1 : threads > n ? n : threads;
	f->conns = calloc(n, sizeof(*f->conns));
	f->certs = calloc(n, sizeof(*f->certs));
	f->tokens = calloc(n, sizeof(*f->tokens));
	if (f->conns == NULL || f->certs == NULL || f->tokens == NULL) {
		snprintf(err, errlen, "out of memory for %zu connections", n);
		goto fail;
	}
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "idle-%zu", i);
		f->certs[i] = mint_cert(mint, name);
		f->tokens[i] = mint_token(mint, name, aud);
		if (f->certs[i] == NULL || f->tokens[i] == NULL) {
			snprintf(err, errlen, "cannot mint the identity %s", name);
			goto fail;
		}
	}
	return 0;
fail:
	fleet_free(f);
	return -1;
}

void fleet_free(fleet_t *f)
{
	size_t i;

	fleet_drop(f);
	for (i = 0; f->certs != NULL && i < f->n; i++)
		X509_free(f->certs[i]);
	for (i = 0; f->tokens != NULL && i < f->n; i++)
		free(f->tokens[i]);
	free(f->conns);
	free(f->certs);
	free(f->tokens);
	memset(f, 0, sizeof(*f));
}

static int connect_one(fleet_t *f, size_t i, char *err, size_t errlen)
{
	tclient_opts_t o;
	tclient_t *c;

	tclient_opts_init(&o);
	o.port = f->port;
	o.timeout_ms = CONNECT_TIMEOUT_MS;
	o.ssl_ctx = f->mint->ctx;
	o.cert = f->certs[i];
	o.key = f->mint->key;
	c = tclient_new(&o);
	if (c == NULL) {
		snprintf(err, errlen, "idle-%zu: out of memory", i);
		return -1;
	}
	if (tclient_connect(c) < 0 || tclient_hello(c, f->tokens[i], NULL) < 0) {
		snprintf(err, errlen, "idle-%zu: connect and hello: %s", i, tclient_error(c));
		tclient_free(c);
		return -1;
	}
	f->conns[i] = c;
	return 0;
}

static void *worker_main(void *arg)
{
	worker_t *w = arg;
	fleet_t *f = w->f;

	for (size_t i = w->first; i < f->n && !atomic_load(w->failed); i += f->threads) {
		if (f->conns[i] != NULL)
			continue;
		if (connect_one(f, i, w->err, sizeof(w->err)) < 0)
			atomic_store(w->failed, 1);
	}
	return NULL;
}

int fleet_connect(fleet_t *f, char *err, size_t errlen)
{
	worker_t *w = calloc(f->threads, sizeof(*w));
	pthread_t *tid = calloc(f->threads, sizeof(*tid));
	atomic_int failed = 0;
	size_t i, started = 0;
	int rc = -1;

	if (w == NULL || tid == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (i = 0; i < f->threads; i++) {
		w[i] = (worker_t){ .f = f, .first = i, .failed = &failed };
		if (pthread_create(&tid[i], NULL, worker_main, &w[i]) != 0) {
			atomic_store(&failed, 1);
			snprintf(w[i].err, sizeof(w[i].err), "pthread_create failed");
			break;
		}
		started++;
	}
	for (i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	rc = atomic_load(&failed) ? -1 : 0;
	for (i = 0; rc < 0 && i < f->threads; i++)
		if (w[i].err[0] != '\0') {
			snprintf(err, errlen, "%s", w[i].err);
			break;
		}
out:
	free(w);
	free(tid);
	return rc;
}

void fleet_drop(fleet_t *f)
{
	for (size_t i = 0; f->conns != NULL && i < f->n; i++) {
		tclient_free(f->conns[i]);
		f->conns[i] = NULL;
	}
}
