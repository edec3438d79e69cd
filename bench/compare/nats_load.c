/* cmpload on the NATS C client (libnats): TLS with a client
 * certificate, one subject per pair. See cmpload.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nats/nats.h>

#include "cmpload.h"

typedef struct {
	natsConnection *nc;
	natsSubscription *sub;
	cmpload_msg_cb cb;
	void *arg;
} nconn_t;

static void *n_connect(const cmpload_tls_t *t, const char *id, char *err, size_t errlen)
{
	nconn_t *c = calloc(1, sizeof(*c));
	natsOptions *o = NULL;
	natsStatus s;
	char url[64];

	if (c == NULL)
		return NULL;
	snprintf(url, sizeof(url), "tls://127.0.0.1:%d", t->port);
	s = natsOptions_Create(&o);
	if (s == NATS_OK)
		s = natsOptions_SetURL(o, url);
	if (s == NATS_OK)
		s = natsOptions_SetName(o, id);
	if (s == NATS_OK)
		s = natsOptions_SetSecure(o, true);
	if (s == NATS_OK)
		s = natsOptions_LoadCATrustedCertificates(o, t->ca);
	if (s == NATS_OK)
		s = natsOptions_LoadCertificatesChain(o, t->cert, t->key);
	if (s == NATS_OK)
		s = natsOptions_SetExpectedHostname(o, "localhost");
	if (s == NATS_OK)
		s = natsOptions_SetTimeout(o, 30000);
	if (s == NATS_OK)
		s = natsConnection_Connect(&c->nc, o);
	natsOptions_Destroy(o);
	if (s != NATS_OK) {
		snprintf(err, errlen, "connect: %s", natsStatus_GetText(s));
		free(c);
		return NULL;
	}
	return c;
}

static void n_on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *m, void *closure)
{
	nconn_t *c = closure;

	(void)nc;
	(void)sub;
	c->cb(c->arg, (const uint8_t *)natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m));
	natsMsg_Destroy(m);
}

static int n_subscribe(void *h, const char *topic, cmpload_msg_cb cb, void *arg)
{
	nconn_t *c = h;
	natsStatus s;

	c->cb = cb;
	c->arg = arg;
	s = natsConnection_Subscribe(&c->sub, c->nc, topic, n_on_msg, c);
	/* No client-side limit: the window bounds what is in flight, and a
	 * "slow consumer" drop would read as loss. */
	if (s == NATS_OK)
		s = natsSubscription_SetPendingLimits(c->sub, -1, -1);
	if (s == NATS_OK)
		s = natsConnection_Flush(c->nc); /* the server has the subscription */
	return s == NATS_OK ? 0 : -1;
}

static int n_publish(void *h, const char *topic, const uint8_t *p, size_t n)
{
	nconn_t *c = h;

	return natsConnection_Publish(c->nc, topic, p, (int)n) == NATS_OK ? 0 : -1;
}

static void n_disconnect(void *h)
{
	nconn_t *c = h;

	if (c->sub)
		natsSubscription_Destroy(c->sub);
	natsConnection_Destroy(c->nc);
	free(c);
}

int main(int argc, char **argv)
{
	static const cmpload_driver_t d = { "nats", n_connect, n_subscribe, n_publish,
					    n_disconnect };

	return cmpload_main(argc, argv, &d);
}
