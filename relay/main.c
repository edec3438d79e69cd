/* zkrelay: the daemon's entry point, signals and lifecycle. */
#include <getopt.h>
#include <libwebsockets.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "conn.h"
#include "guard.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "ops.h"
#include "relay.h"
#include "sandbox.h"
#include "tls.h"
#include "zkerr.h"

#define TICK_MS 100
/* Settled connections (pings, idle, token expiry, TLS buffers) are looked
 * at every 500 ms; those with a handshake, upgrade or hello deadline every
 * tick. */
#define FULL_TICK_EVERY 5
/* Descriptors beside the connections: listeners, ops, logs, audit, registry. */
#define FD_RESERVE 64

static void usage(FILE *f)
{
	fprintf(f,
		"usage: zkrelay [-c FILE] [--check-config] [--print-config]\n"
		"       zkrelay --version | --help\n"
		"\n"
		"Routes end-to-end encrypted frames between data-safes and their clients\n"
		"over TLS 1.3 mutually authenticated WebSockets (subprotocol zkrelay.v1).\n"
		"\n"
		"  -c, --config FILE   read FILE (INI) over the embedded defaults\n"
		"      --check-config  validate the configuration and the TLS files, then exit\n"
		"      --print-config  print the effective configuration and exit\n"
		"      --version       print the version and exit\n"
		"  -h, --help          this text\n"
		"\n"
		"Without -c the relay listens on 127.0.0.1:8443 with the dev PKI in\n"
		"build/dev/pki (make pki). Signals: TERM/INT drain and exit; HUP reloads\n"
		"the CA, CRL and server certificate and cuts connections they no longer admit.\n");
}

static void on_tick(uv_timer_t *t)
{
	relay_t *r = t->data;
	r->last_tick_ms = uv_now(r->loop);
	conn_tick(r, uv_now(r->loop), ++r->ticks % FULL_TICK_EVERY == 0);
	practice_sweep(&r->practices, uv_hrtime());
}

static void close_all(relay_t *r, int force)
{
	for (conn_t *c = r->conns; c; c = c->next) {
		if (force || c->state < CONN_OPEN)
			conn_kill(c);
		else
			conn_close(c, LWS_CLOSE_STATUS_GOINGAWAY, ZK_EGOINGAWAY);
	}
}

static void on_drain_deadline(uv_timer_t *t)
{
	relay_t *r = t->data;
	zlog(ZLOG_WARN, "drain_deadline", "", NULL);
	close_all(r, 1);
}

static void on_handle_closed(uv_handle_t *h) { (void)h; }

/* Runs on its own loop turn: libwebsockets must not be destroyed from
 * inside one of its own callbacks (stop_loop() is reached from
 * WSI_DESTROY). Once its handles and ours are closed, uv_run() returns. */
static void on_finish(uv_timer_t *t)
{
	relay_t *r = t->data;
	listener_stop(r);
	uv_close((uv_handle_t *)&r->drain_timer, on_handle_closed);
}

static void stop_loop(relay_t *r)
{
	if (r->stopping)
		return;
	r->stopping = 1;
	uv_timer_stop(&r->tick);
	uv_timer_stop(&r->drain_timer);
	uv_timer_start(&r->drain_timer, on_finish, 0, 0);
	uv_close((uv_handle_t *)&r->tick, on_handle_closed);
	uv_close((uv_handle_t *)&r->watchdog, on_handle_closed);
	ops_stop(r);
	uv_close((uv_handle_t *)&r->kick_idle, on_handle_closed);
	uv_close((uv_handle_t *)&r->sig_term, on_handle_closed);
	uv_close((uv_handle_t *)&r->sig_int, on_handle_closed);
	uv_close((uv_handle_t *)&r->sig_hup, on_handle_closed);
}

void relay_maybe_finish(relay_t *r)
{
	if (r->draining && !r->conns)
		stop_loop(r);
}

void relay_begin_drain(relay_t *r)
{
	if (r->draining)
		return;
	r->draining = 1;
	zlog(ZLOG_INFO, "draining", "u", "deadline_s", (unsigned long long)r->cfg.drain_s);
	notify_send("STOPPING=1");
	close_all(r, 0);
	uv_timer_start(&r->drain_timer, on_drain_deadline, (uint64_t)r->cfg.drain_s * 1000, 0);
	relay_maybe_finish(r);
}

/* A data-safe needs its registry entry; a token its key, its practice
 * active and its jti not revoked. */
static int still_admitted(const relay_t *r, const conn_t *c)
{
	const registry_practice_t *p;
	if (c->token && !token_still_valid(r->registry, c->token))
		return 0;
	if (c->ident.role != WIRE_ROLE_SAFE)
		return 1;
	p = registry_find(r->registry, c->ident.practice, strlen(c->ident.practice));
	return p && registry_practice_active(p) &&
	       registry_safe_ok(p, c->ident.endpoint, strlen(c->ident.endpoint), c->spki);
}

static void cut(conn_t *c, int reason)
{
	audit_connection_cut(c->relay->audit, c->ident.addr, conn_audit_practice(c), reason,
			     conn_audit_jti(c));
	zlog(ZLOG_INFO, "connection_cut", "ss", "endpoint", c->log_id,
	     "reason", zk_err_name(reason));
	conn_close(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, reason);
}

/* A connection whose certificate was verified under the old CA and CRL
 * but that has no WebSocket yet (still upgrading): nothing to send a
 * Close on, so the socket goes. 1 if it was cut. */
static int recheck_unopened(relay_t *r, conn_t *c)
{
	SSL *ssl = lws_get_ssl(c->wsi);

	if (!ssl || !SSL_get0_peer_certificate(ssl) || tls_peer_still_valid(r->ssl_ctx, ssl))
		return 0;
	zlog(ZLOG_INFO, "connection_cut", "ss", "phase", "upgrade", "reason",
	     zk_err_name(ZK_ECERTREVOKED));
	conn_kill(c);
	c->state = CONN_CLOSING;
	return 1;
}

unsigned relay_recheck_access(relay_t *r)
{
	unsigned n = 0;
	for (conn_t *c = r->conns; c; c = c->next) {
		if (c->state == CONN_TLS || c->state == CONN_UPGRADE) {
			n += (unsigned)recheck_unopened(r, c);
			continue;
		}
		if (c->state != CONN_OPEN)
			continue;
		if (!tls_peer_still_valid(r->ssl_ctx, lws_get_ssl(c->wsi))) {
			cut(c, ZK_ECERTREVOKED);
			n++;
		} else if (c->hello_done && !still_admitted(r, c)) {
			cut(c, ZK_ENOTAUTH);
			n++;
		}
	}
	return n;
}

/* SIGHUP: CA, CRL and server certificate for every handshake from now on,
 * and the registry, each loaded whole before it replaces the old one (on
 * any error the old one stays and the log says why). Then every
 * connection they no longer admit is closed, open or still upgrading. */
static void reload(relay_t *r)
{
	const config_t *cfg = &r->cfg;
	registry_t *reg = NULL;
	char err[512];
	int ok = 1;

	notify_send("RELOADING=1");
	if (!r->ssl_ctx || tls_reload(r->ssl_ctx, cfg->ca_file, cfg->cert_file, cfg->key_file,
				      cfg->crl_file, err, sizeof(err))) {
		zlog(ZLOG_ERROR, "reload_failed", "ss", "what", "tls", "error",
		     r->ssl_ctx ? err : "no TLS context");
		ok = 0;
	}
	if (registry_load(cfg->registry_dir, &reg, err, sizeof(err))) {
		zlog(ZLOG_ERROR, "reload_failed", "ss", "what", "registry", "error", err);
		metrics.reload_failed++;
		ok = 0;
	} else {
		registry_free(r->registry);
		r->registry = reg;
		metrics.reload_ok++;
		metrics.last_reload_ok = (double)time(NULL);
	}
	unsigned n = relay_recheck_access(r);
	zlog(ok ? ZLOG_INFO : ZLOG_WARN, ok ? "reloaded" : "reload_incomplete", "u",
	     "connections_cut", (unsigned long long)n);
	notify_send("READY=1");
}

static void on_signal(uv_signal_t *s, int signum)
{
	relay_t *r = s->data;
	if (signum == SIGHUP)
		reload(r);
	else
		relay_begin_drain(r);
}

/* Pinged from the loop itself, so a stuck loop stops the pings. */
static void on_watchdog(uv_timer_t *t)
{
	notify_send("WATCHDOG=1");
}

static int start_handles(relay_t *r)
{
	uv_signal_t *sigs[] = { &r->sig_term, &r->sig_int, &r->sig_hup };
	int nums[] = { SIGTERM, SIGINT, SIGHUP };

	if (uv_timer_init(r->loop, &r->tick) || uv_timer_init(r->loop, &r->drain_timer) ||
	    uv_idle_init(r->loop, &r->kick_idle))
		return -ZK_EIO;
	r->tick.data = r->drain_timer.data = r->kick_idle.data = r;
	for (int i = 0; i < 3; i++) {
		if (uv_signal_init(r->loop, sigs[i]) || uv_signal_start(sigs[i], on_signal, nums[i]))
			return -ZK_EIO;
		sigs[i]->data = r;
	}
	if (uv_timer_init(r->loop, &r->watchdog))
		return -ZK_EIO;
	r->watchdog.data = r;
	uint64_t wd = notify_watchdog_ms();
	if (wd && uv_timer_start(&r->watchdog, on_watchdog, wd / 2, wd / 2))
		return -ZK_EIO;
	r->last_tick_ms = uv_now(r->loop); /* healthy from the start */
	return uv_timer_start(&r->tick, on_tick, TICK_MS, TICK_MS) ? -ZK_EIO : 0;
}

static int relay_init(relay_t *r, char *err, size_t errlen)
{
	guard_init();
	r->start_time = (double)time(NULL);
	if (RAND_bytes(r->log_key, sizeof(r->log_key)) != 1) {
		snprintf(err, errlen, "no randomness for the log pseudonym key");
		return -ZK_EIO;
	}
	metrics.last_reload_ok = r->start_time;
	r->rules.relay_id = r->cfg.relay_id;
	r->rules.leeway_s = r->cfg.token_leeway_s;
	r->rules.max_lifetime_s = r->cfg.token_max_lifetime_s;
	if (registry_load(r->cfg.registry_dir, &r->registry, err, errlen))
		return -ZK_ECONFIG;
	if (r->cfg.audit_file[0] && strcmp(r->cfg.audit_file, "off") &&
	    audit_open(r->cfg.audit_file, r->cfg.audit_sync ? AUDIT_SYNC : 0, &r->audit, err,
		       errlen))
		return -ZK_ECONFIG;
	if (route_init(&r->routes, 1024) || conn_slab_init(&r->slab) ||
	    iplimit_init(&r->ips, r->cfg.max_connections, r->cfg.max_connections_per_ip) ||
	    practice_table_init(&r->practices, &r->cfg.practice_frames, &r->cfg.practice_bytes)) {
		snprintf(err, errlen, "out of memory");
		return -ZK_ENOMEM;
	}
	queue_pool_init(&r->pool, LWS_PRE, 16 * 1024, 256);
	return 0;
}

static void relay_free(relay_t *r)
{
	registry_free(r->registry);
	r->registry = NULL;
	audit_close(&r->audit);
	OPENSSL_cleanse(r->log_key, sizeof(r->log_key));
	route_free(&r->routes);
	conn_slab_free(&r->slab);
	iplimit_free(&r->ips);
	practice_table_free(&r->practices);
	queue_pool_free(&r->pool);
}

/* Everything that needs privilege is done (ports bound, keys, registry
 * and audit trail open): chroot, drop to the configured user, then the
 * syscall filter, which from here on covers every thread. */
static int shed_privileges(relay_t *r, char *err, size_t errlen)
{
	const privdrop_t *p = &r->priv;

	if (privdrop_apply(p, err, errlen))
		return -ZK_EIO;
	if (p->drop || p->chroot_dir[0])
		zlog(ZLOG_INFO, "privileges_dropped", "uus", "uid", (unsigned long long)p->uid,
		     "gid", (unsigned long long)p->gid, "chroot",
		     p->chroot_dir[0] ? p->chroot_dir : "none");
	else if (p->as_root)
		zlog(ZLOG_WARN, "running_as_root", "s", "why", "[relay] allow_root = true");
	if (r->cfg.seccomp && sandbox_install(err, errlen))
		return -ZK_EIO;
	zlog(ZLOG_INFO, "sandbox", "s", "seccomp", r->cfg.seccomp ? "on" : "off");
	return 0;
}

/* Every connection is a descriptor: the soft limit goes up to the hard
 * one (often 1024 and far more), and a hard limit too low for
 * max_connections is said at start, not found out at the first refused
 * accept. */
static void raise_fd_limit(const relay_t *r)
{
	struct rlimit rl;
	const rlim_t need = (rlim_t)r->cfg.max_connections + FD_RESERVE;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
		zlog(ZLOG_WARN, "fd_limit_low", "dd", "limit", (int)rl.rlim_cur,
		     "max_connections", (int)r->cfg.max_connections);
}

static int run(relay_t *r)
{
	uv_loop_t loop;
	char err[512] = "cannot set up the event loop's timers and signals";
	int rc = 1;

	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit(r);
	if (uv_loop_init(&loop))
		return 1;
	r->loop = &loop;
	/* The handles first: stop_loop() closes them on any failure after. */
	if (start_handles(r) || relay_init(r, err, sizeof(err)) ||
	    listener_start(r, err, sizeof(err)) || ops_start(r, err, sizeof(err)) ||
	    shed_privileges(r, err, sizeof(err))) {
		zlog(ZLOG_ERROR, "startup_failed", "s", "error", err);
		fprintf(stderr, "zkrelay: %s\n", err);
		if (!r->stopping)
			stop_loop(r);
		goto out;
	}
	r->cert_expiry = tls_cert_not_after(r->cfg.cert_file);
	zlog(ZLOG_INFO, "listening", "sdssd", "addr", r->cfg.listen_addr, "port",
	     r->cfg.listen_port, "relay_id", r->cfg.relay_id, "version", ZK_VERSION, "ops_port",
	     r->cfg.ops_port);
	notify_send("READY=1");
	uv_run(&loop, UV_RUN_DEFAULT);
	rc = 0;
out:
	/* libwebsockets closes its handles on the foreign loop; run the loop
	 * until they are gone before closing it. */
	listener_stop(r);
	uv_run(&loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&loop))
		zlog(ZLOG_WARN, "loop_not_empty", "", NULL);
	relay_free(r);
	if (rc == 0)
		zlog(ZLOG_INFO, "stopped", "", NULL);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "print-config", no_argument, NULL, 'P' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	static relay_t r;
	const char *path = NULL;
	int check = 0, print = 0, o;
	char err[512];

	while ((o = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (o) {
		case 'c': path = optarg; break;
		case 'C': check = 1; break;
		case 'P': print = 1; break;
		case 'V': printf("zkrelay %s\n", ZK_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "zkrelay: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	config_defaults(&r.cfg);
	if (path && config_load(&r.cfg, path, err, sizeof(err))) {
		fprintf(stderr, "zkrelay: config: %s\n", err);
		return 1;
	}
	zlog_set_level((zlog_level_t)r.cfg.log_level);
	if (print) {
		config_print(&r.cfg);
		return 0;
	}
	if (tls_check_files(r.cfg.ca_file, r.cfg.cert_file, r.cfg.key_file, r.cfg.crl_file,
			    err, sizeof(err))) {
		fprintf(stderr, "zkrelay: tls: %s\n", err);
		return 1;
	}
	/* Before anything is opened: a start that could not drop as
	 * configured must not begin. The check leaves out the rules about
	 * who runs it (systemd runs the check and the relay as the same
	 * user; an operator checking as root is not the relay). */
	if ((check ? privdrop_resolve(&r.cfg, &r.priv, err, sizeof(err))
		   : privdrop_plan(&r.cfg, geteuid(), &r.priv, err, sizeof(err)))) {
		fprintf(stderr, "zkrelay: %s\n", err);
		return 1;
	}
	if (check) {
		registry_t *reg;
		if (registry_load(r.cfg.registry_dir, &reg, err, sizeof(err))) {
			fprintf(stderr, "zkrelay: registry: %s\n", err);
			return 1;
		}
		printf("zkrelay: configuration OK (%zu practices in the registry)\n",
		       registry_count(reg));
		registry_free(reg);
		return 0;
	}
	return run(&r);
}
