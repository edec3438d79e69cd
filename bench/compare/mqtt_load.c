/* cmpload on the Mosquitto C client (libmosquitto): MQTT 3.1.1 over TLS
 * with a client certificate, QoS 0, one topic per pair. See cmpload.h. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>

#include "cmpload.h"

#define WAIT_S 30

typedef struct {
	struct mosquitto *m;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int connected, subscribed, failed; /* under mu */
	cmpload_msg_cb cb;
	void *arg;
} mconn_t;

static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void lib_init(void)
{
	mosquitto_lib_init();
}

static void set_flag(mconn_t *c, int *flag, int v)
{
	pthread_mutex_lock(&c->mu);
	*flag = v;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
}

static int wait_flag(mconn_t *c, const int *flag)
{
	struct timespec ts;
	int ok;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += WAIT_S;
	pthread_mutex_lock(&c->mu);
	while (!*flag && !c->failed)
		if (pthread_cond_timedwait(&c->cv, &c->mu, &ts) != 0)
			break;
	ok = *flag && !c->failed;
	pthread_mutex_unlock(&c->mu);
	return ok ? 0 : -1;
}

static void on_connect(struct mosquitto *m, void *obj, int rc)
{
	mconn_t *c = obj;

	(void)m;
	if (rc == 0)
		set_flag(c, &c->connected, 1);
	else
		set_flag(c, &c->failed, 1);
}

static void on_subscribe(struct mosquitto *m, void *obj, int mid, int n, const int *qos)
{
	mconn_t *c = obj;

	(void)m;
	(void)mid;
	set_flag(c, n == 1 && qos[0] == 0 ? &c->subscribed : &c->failed, 1);
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg)
{
	mconn_t *c = obj;

	(void)m;
	if (c->cb)
		c->cb(c->arg, msg->payload, (size_t)msg->payloadlen);
}

static void m_free(mconn_t *c)
{
	if (c->m)
		mosquitto_destroy(c->m);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	free(c);
}

static void *m_connect(const cmpload_tls_t *t, const char *id, char *err, size_t errlen)
{
	mconn_t *c = calloc(1, sizeof(*c));
	int rc;

	pthread_once(&g_once, lib_init);
	if (c == NULL)
		return NULL;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	c->m = mosquitto_new(id, true, c);
	if (c->m == NULL) {
		snprintf(err, errlen, "mosquitto_new failed");
		m_free(c);
		return NULL;
	}
	mosquitto_connect_callback_set(c->m, on_connect);
	mosquitto_subscribe_callback_set(c->m, on_subscribe);
	mosquitto_message_callback_set(c->m, on_message);
	rc = mosquitto_tls_set(c->m, t->ca, NULL, t->cert, t->key, NULL);
	/* The broker's certificate names 127.0.0.1 as an IP address, which
	 * this client's host-name check does not match; the chain is still
	 * verified against the CA. */
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_tls_insecure_set(c->m, true);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_connect(c->m, "127.0.0.1", t->port, 600);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_loop_start(c->m);
	if (rc != MOSQ_ERR_SUCCESS || wait_flag(c, &c->connected) < 0) {
		snprintf(err, errlen, "connect: %s", rc ? mosquitto_strerror(rc) : "no CONNACK");
		if (rc == MOSQ_ERR_SUCCESS)
			mosquitto_loop_stop(c->m, true);
		m_free(c);
		return NULL;
	}
	return c;
}

static int m_subscribe(void *h, const char *topic, cmpload_msg_cb cb, void *arg)
{
	mconn_t *c = h;

	c->cb = cb;
	c->arg = arg;
	if (mosquitto_subscribe(c->m, NULL, topic, 0) != MOSQ_ERR_SUCCESS)
		return -1;
	return wait_flag(c, &c->subscribed);
}

static int m_publish(void *h, const char *topic, const uint8_t *p, size_t n)
{
	mconn_t *c = h;

	return mosquitto_publish(c->m, NULL, topic, (int)n, p, 0, false) == MOSQ_ERR_SUCCESS ?
	       0 : -1;
}

static void m_disconnect(void *h)
{
	mconn_t *c = h;

	mosquitto_disconnect(c->m);
	mosquitto_loop_stop(c->m, false);
	m_free(c);
}

int main(int argc, char **argv)
{
	static const cmpload_driver_t d = { "mosquitto", m_connect, m_subscribe, m_publish,
					    m_disconnect };

	return cmpload_main(argc, argv, &d);
}
