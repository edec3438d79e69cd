/* The SDK's link (client/lib/link.c) against the real relay: TLS 1.3
 * with client certificates, the upgrade, Hello/Welcome, Data both ways
 * with the source stamped, nacks, refusals reported through `down` with
 * the right reason, retries with backoff, the relay's pings answered, and
 * link_close() leaving a loop that closes clean (ASan checks the rest).
 *
 * Each test runs its own uv loop in the test process; a 10 ms tick keeps
 * uv_run(UV_RUN_ONCE) returning so the test can check its conditions. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "itest.h"
#include "link.h"
#include "zkerr.h"

#define MAX_RX 256
#define SAFE_ADDR "practice-a/safe-1"
#define CLIENT_ADDR "practice-a/client-1"

typedef struct {
	const char *name;
	link_t *l;
	int ups, downs, last_down, nacks, writables, done;
	int down_errs[16];
	uint32_t nack_stream;
	uint64_t nack_seq;
	int nack_reason;
	link_welcome_t w;
	int close_in_down; /* link_close() from inside the nth down */
	int close_in_data; /* link_close() from inside the first data */
	int after_close;   /* callbacks after link_close(): must stay 0 */
	int closed;
	/* Data received. */
	int ndata;
	char src[MAX_RX][WIRE_MAX_ADDR + 1];
	uint32_t stream[MAX_RX];
	uint64_t seq[MAX_RX];
	size_t len[MAX_RX];
	int payload_ok[MAX_RX];
} side_t;

typedef struct {
	uv_loop_t loop;
	uv_timer_t tick;
	harness_t *h;
} fix_t;

/* ---- Callbacks --------------------------------------------------------- */

static void note_after_close(side_t *s)
{
	if (s->closed)
		s->after_close++;
}

static void done_cb(void *ud)
{
	side_t *s = ud;
	s->done++;
}

static void close_side(side_t *s)
{
	if (s->l != NULL && !s->closed) {
		s->closed = 1;
		link_close(s->l, done_cb, s);
	}
}

static void on_up(void *ud, const link_welcome_t *w)
{
	side_t *s = ud;
	note_after_close(s);
	s->ups++;
	s->w = *w;
}

static void on_down(void *ud, int err)
{
	side_t *s = ud;
	note_after_close(s);
	if (s->downs < 16)
		s->down_errs[s->downs] = err;
	s->downs++;
	s->last_down = err;
	if (s->close_in_down && s->downs == s->close_in_down)
		close_side(s);
}

static void on_data(void *ud, const char *src, size_t src_len, uint32_t stream, uint64_t seq,
		    const uint8_t *p, size_t n)
{
	side_t *s = ud;
	int i = s->ndata;

	note_after_close(s);
	if (i >= MAX_RX || src_len > WIRE_MAX_ADDR)
		return;
	memcpy(s->src[i], src, src_len);
	s->src[i][src_len] = '\0';
	s->stream[i] = stream;
	s->seq[i] = seq;
	s->len[i] = n;
	s->payload_ok[i] = harness_payload_ok(p, n, TAG(stream, seq, 1));
	s->ndata++;
	if (s->close_in_data)
		close_side(s);
}

static void on_nack(void *ud, uint32_t stream, uint64_t seq, int reason)
{
	side_t *s = ud;
	note_after_close(s);
	s->nacks++;
	s->nack_stream = stream;
	s->nack_seq = seq;
	s->nack_reason = reason;
}

static void on_writable(void *ud)
{
	side_t *s = ud;
	note_after_close(s);
	s->writables++;
}

static const link_cb_t cbs = { on_up, on_down, on_data, on_nack, on_writable };

/* ---- Fixture ----------------------------------------------------------- */

static void on_tick(uv_timer_t *t)
{
	(void)t;
}

static void fix_init(fix_t *f, const char *name, int start)
{
	signal(SIGPIPE, SIG_IGN);
	memset(f, 0, sizeof(*f));
	ck_assert_int_eq(uv_loop_init(&f->loop), 0);
	ck_assert_int_eq(uv_timer_init(&f->loop, &f->tick), 0);
	ck_assert_int_eq(uv_timer_start(&f->tick, on_tick, 10, 10), 0);
	f->h = harness_new(name);
	if (start)
		START(f->h);
	else
		ck_assert_ptr_nonnull(f->h);
}

static void opts_for(fix_t *f, link_opts_t *o, const char *practice, const char *endpoint)
{
	memset(o, 0, sizeof(*o));
	o->host = "127.0.0.1";
	o->port = harness_port(f->h);
	o->server_name = "localhost";
	o->ca_file = harness_path(f->h, "pki/ca.crt");
	o->cert_file = harness_cert(f->h, practice, endpoint);
	o->key_file = harness_key(f->h, practice, endpoint);
	o->backoff_min_ms = 50;
	o->backoff_max_ms = 200;
	o->connect_timeout_ms = 3000;
	o->low_water = 4096;
}

static void side_open(fix_t *f, side_t *s, const link_opts_t *o, const char *token)
{
	ck_assert_int_eq(link_new(&f->loop, o, &cbs, s, &s->l), 0);
	ck_assert_int_eq(link_set_token(s->l, token), 0);
	ck_assert_int_eq(link_start(s->l), 0);
}

typedef int (*cond_fn)(void *arg);

/* Runs the loop until cond holds or timeout_ms pass; 1 if it held. */
static int run_until(fix_t *f, cond_fn cond, void *arg, int timeout_ms)
{
	int64_t end = harness_now_ms() + timeout_ms;

	while (!cond(arg)) {
		if (harness_now_ms() >= end)
			return 0;
		uv_run(&f->loop, UV_RUN_ONCE);
	}
	return 1;
}

static void run_for(fix_t *f, int ms)
{
	int64_t end = harness_now_ms() + ms;
	while (harness_now_ms() < end)
		uv_run(&f->loop, UV_RUN_ONCE);
}

static int is_up(void *arg)
{
	side_t *s = arg;
	return s->ups > 0 && link_is_up(s->l);
}

static int has_down(void *arg)
{
	return ((side_t *)arg)->downs > 0;
}

static int is_done(void *arg)
{
	return ((side_t *)arg)->done > 0;
}

#define WAIT_UP(f, s)                                                                 \
	ck_assert_msg(run_until((f), is_up, (s), WAIT_MS), "%s: not up (downs %d, last %s)", \
		      (s)->name, (s)->downs, zk_err_name((s)->last_down))

/* Closes the links, waits for their `done`, then checks the loop has no
 * handle left: nothing leaked into it, nothing runs late. */
static void fix_finish(fix_t *f, side_t *const *sides, size_t n)
{
	for (size_t i = 0; i < n; i++)
		close_side(sides[i]);
	for (size_t i = 0; i < n; i++) {
		ck_assert_msg(run_until(f, is_done, sides[i], WAIT_MS), "%s: no done",
			      sides[i]->name);
		ck_assert_int_eq(sides[i]->done, 1);
		ck_assert_int_eq(sides[i]->after_close, 0);
	}
	uv_close((uv_handle_t *)&f->tick, NULL);
	ck_assert_int_eq(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	ck_assert_int_eq(uv_loop_close(&f->loop), 0);
	harness_free(f->h);
}

static int send_payload(side_t *s, const char *dst, uint32_t stream, uint64_t seq, size_t n)
{
	uint8_t *p = malloc(n);
	int rc;

	ck_assert_ptr_nonnull(p);
	harness_payload(p, n, TAG(stream, seq, 1));
	rc = link_send(s->l, dst, stream, seq, p, n);
	free(p);
	return rc;
}

typedef struct {
	side_t *s;
	int n;
} count_t;

static int has_data(void *arg)
{
	count_t *c = arg;
	return c->s->ndata >= c->n;
}

static void expect_rx(fix_t *f, side_t *s, int n)
{
	count_t c = { s, n };
	ck_assert_msg(run_until(f, has_data, &c, WAIT_MS), "%s: %d of %d frames (downs %d, %s)",
		      s->name, s->ndata, n, s->downs, zk_err_name(s->last_down));
}

static void check_rx(const side_t *s, int i, const char *src, uint32_t stream, uint64_t seq,
		     size_t len)
{
	ck_assert_str_eq(s->src[i], src);
	ck_assert_uint_eq(s->stream[i], stream);
	ck_assert_uint_eq(s->seq[i], seq);
	ck_assert_uint_eq(s->len[i], len);
	ck_assert_msg(s->payload_ok[i], "%s: frame %d: payload differs", s->name, i);
}

/* A data-safe and a client of practice-a, both up. */
static void open_pair(fix_t *f, side_t *safe, side_t *cl)
{
	link_opts_t o;

	memset(safe, 0, sizeof(*safe));
	memset(cl, 0, sizeof(*cl));
	safe->name = "safe";
	cl->name = "client";
	opts_for(f, &o, "practice-a", "safe-1");
	side_open(f, safe, &o, "");
	opts_for(f, &o, "practice-a", "client-1");
	side_open(f, cl, &o, harness_token(f->h, "practice-a", "client-1"));
	WAIT_UP(f, safe);
	WAIT_UP(f, cl);
}

/* ---- Tests ------------------------------------------------------------- */

START_TEST(test_link_data_both_ways)
{
	fix_t f;
	side_t safe, cl;
	side_t *all[] = { &safe, &cl };
	size_t sizes[5] = { 16, 1000, 16384, 40000, 0 };

	fix_init(&f, "link-data", 1);
	open_pair(&f, &safe, &cl);
	ck_assert_str_eq(safe.w.addr, SAFE_ADDR);
	ck_assert_int_eq(safe.w.role, WIRE_ROLE_SAFE);
	ck_assert_str_eq(cl.w.addr, CLIENT_ADDR);
	ck_assert_int_eq(cl.w.role, WIRE_ROLE_CLIENT);
	ck_assert_ptr_nonnull(link_welcome(cl.l));
	sizes[4] = cl.w.max_payload_bytes;
	/* Client to data-safe: every size up to the largest payload. */
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(send_payload(&cl, SAFE_ADDR, 3, (uint64_t)i + 1, sizes[i]), 0);
	expect_rx(&f, &safe, 5);
	for (int i = 0; i < 5; i++)
		check_rx(&safe, i, CLIENT_ADDR, 3, (uint64_t)i + 1, sizes[i]);
	/* One above the largest payload is refused locally. */
	ck_assert_int_eq(send_payload(&cl, SAFE_ADDR, 3, 99, (size_t)cl.w.max_payload_bytes + 1),
			 -ZK_EINVAL);
	ck_assert_int_eq(link_send(cl.l, SAFE_ADDR, 3, 99, (const uint8_t *)"x", 0), -ZK_EINVAL);
	ck_assert_int_eq(link_send(cl.l, "", 3, 99, (const uint8_t *)"x", 1), -ZK_EINVAL);
	/* And the data-safe answers the client. */
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(send_payload(&safe, CLIENT_ADDR, 4, (uint64_t)i + 10, sizes[i]), 0);
	expect_rx(&f, &cl, 5);
	for (int i = 0; i < 5; i++)
		check_rx(&cl, i, SAFE_ADDR, 4, (uint64_t)i + 10, sizes[i]);
	/* Many frames in one loop turn travel in Batches, in order. */
	for (int i = 0; i < 120; i++)
		ck_assert_int_eq(send_payload(&cl, SAFE_ADDR, 5, (uint64_t)i, 700 + (size_t)i * 3), 0);
	ck_assert_uint_gt(link_queued(cl.l), 0);
	expect_rx(&f, &safe, 125);
	for (int i = 0; i < 120; i++)
		check_rx(&safe, 5 + i, CLIENT_ADDR, 5, (uint64_t)i, 700 + (size_t)i * 3);
	ck_assert_uint_eq(link_queued(cl.l), 0);
	ck_assert_int_ge(cl.writables, 1);
	ck_assert_int_eq(safe.downs + cl.downs, 0);
	fix_finish(&f, all, 2);
}
END_TEST

START_TEST(test_link_no_route)
{
	fix_t f;
	side_t safe, cl;
	side_t *all[] = { &safe, &cl };

	fix_init(&f, "link-noroute", 1);
	open_pair(&f, &safe, &cl);
	ck_assert_int_eq(send_payload(&cl, "practice-a/safe-9", 7, 42, 100), 0);
	ck_assert_msg(run_until(&f, has_data, &(count_t){ &safe, 1 }, QUIET_MS) == 0,
		      "data reached the wrong data-safe");
	ck_assert_int_eq(cl.nacks, 1);
	ck_assert_uint_eq(cl.nack_stream, 7);
	ck_assert_uint_eq(cl.nack_seq, 42);
	ck_assert_int_eq(cl.nack_reason, ZK_ENOROUTE);
	ck_assert_int_eq(cl.downs, 0);
	fix_finish(&f, all, 2);
}
END_TEST

START_TEST(test_link_bad_token)
{
	fix_t f;
	side_t cl = { .name = "client" };
	side_t *all[] = { &cl };
	link_opts_t o;

	fix_init(&f, "link-badtoken", 1);
	opts_for(&f, &o, "practice-a", "client-1");
	side_open(&f, &cl, &o, "v4.public.not-a-token");
	ck_assert(run_until(&f, has_down, &cl, WAIT_MS));
	ck_assert_msg(cl.last_down == ZK_ETOKEN, "down: %s", zk_err_name(cl.last_down));
	ck_assert_int_eq(cl.ups, 0);
	/* A client without any token is refused the same way. */
	ck_assert_int_eq(link_set_token(cl.l, NULL), 0);
	cl.downs = 0;
	ck_assert(run_until(&f, has_down, &cl, WAIT_MS));
	ck_assert_msg(cl.last_down == ZK_ETOKEN, "down: %s", zk_err_name(cl.last_down));
	ck_assert_int_eq(cl.ups, 0);
	fix_finish(&f, all, 1);
}
END_TEST

START_TEST(test_link_refresh)
{
	fix_t f;
	side_t safe, cl;
	side_t *all[] = { &safe, &cl };

	fix_init(&f, "link-refresh", 1);
	open_pair(&f, &safe, &cl);
	/* A fresh valid token: acknowledged, the link stays up and routes. */
	ck_assert_int_eq(link_set_token(cl.l, harness_token(f.h, "practice-a", "client-1")), 0);
	ck_assert_int_eq(send_payload(&cl, SAFE_ADDR, 1, 1, 64), 0);
	expect_rx(&f, &safe, 1);
	run_for(&f, QUIET_MS);
	ck_assert_int_eq(cl.downs, 0);
	/* A bad one: the relay ends the connection and says why. */
	ck_assert_int_eq(link_set_token(cl.l, "v4.public.bad"), 0);
	ck_assert(run_until(&f, has_down, &cl, WAIT_MS));
	ck_assert_msg(cl.last_down == ZK_ETOKEN, "down: %s", zk_err_name(cl.last_down));
	ck_assert(!link_is_up(cl.l));
	ck_assert_ptr_null(link_welcome(cl.l));
	ck_assert_int_eq(link_send(cl.l, SAFE_ADDR, 1, 2, (const uint8_t *)"x", 1), -ZK_ECLOSED);
	fix_finish(&f, all, 2);
}
END_TEST

START_TEST(test_link_wrong_ca)
{
	fix_t f;
	side_t a = { .name = "wrong-ca" }, b = { .name = "wrong-name" };
	side_t c = { .name = "no-key" };
	side_t *all[] = { &a, &b, &c };
	link_opts_t o;

	fix_init(&f, "link-ca", 1);
	/* A trust store without the relay's CA (only an endpoint cert). */
	opts_for(&f, &o, "practice-a", "safe-1");
	o.ca_file = harness_cert(f.h, "practice-a", "client-1");
	side_open(&f, &a, &o, "");
	/* The right CA, the wrong name. */
	opts_for(&f, &o, "practice-a", "safe-1");
	o.server_name = "relay.invalid";
	side_open(&f, &b, &o, "");
	/* A key file that does not exist. */
	opts_for(&f, &o, "practice-a", "safe-1");
	o.key_file = harness_path(f.h, "pki/missing.key");
	side_open(&f, &c, &o, "");
	ck_assert(run_until(&f, has_down, &a, WAIT_MS));
	ck_assert(run_until(&f, has_down, &b, WAIT_MS));
	ck_assert(run_until(&f, has_down, &c, WAIT_MS));
	ck_assert_msg(a.last_down == ZK_ECERT, "wrong CA: %s", zk_err_name(a.last_down));
	ck_assert_msg(b.last_down == ZK_ECERT, "wrong name: %s", zk_err_name(b.last_down));
	ck_assert_msg(c.last_down == ZK_ECERT, "no key: %s", zk_err_name(c.last_down));
	ck_assert_int_eq(a.ups + b.ups + c.ups, 0);
	fix_finish(&f, all, 3);
}
END_TEST

static int downs_at_least_3(void *arg)
{
	return ((side_t *)arg)->downs >= 3;
}

START_TEST(test_link_unreachable_retries)
{
	fix_t f;
	side_t s = { .name = "unreachable" };
	side_t *all[] = { &s };
	link_opts_t o;
	int64_t t0;

	fix_init(&f, "link-unreach", 0);
	opts_for(&f, &o, "practice-a", "safe-1");
	o.port = harness_free_port(); /* nothing listens there */
	o.backoff_min_ms = 20;
	o.backoff_max_ms = 80;
	side_open(&f, &s, &o, "");
	t0 = harness_now_ms();
	ck_assert_msg(run_until(&f, downs_at_least_3, &s, WAIT_MS), "only %d attempts", s.downs);
	for (int i = 0; i < 3; i++)
		ck_assert_msg(s.down_errs[i] == ZK_EUNREACHABLE, "attempt %d: %s", i,
			      zk_err_name(s.down_errs[i]));
	/* Backoff: at least min/2 before each retry, at most max. */
	ck_assert_int_ge(harness_now_ms() - t0, 2 * 10);
	ck_assert_int_lt(harness_now_ms() - t0, 2000);
	ck_assert_int_eq(s.ups, 0);
	fix_finish(&f, all, 1);
}
END_TEST

/* A listener that completes TCP handshakes (the kernel does) and never
 * speaks: the link must give up at its connect timeout. */
START_TEST(test_link_connect_timeout)
{
	fix_t f;
	side_t s = { .name = "silent" };
	side_t *all[] = { &s };
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	link_opts_t o;
	int fd;

	fix_init(&f, "link-timeout", 0);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(fd, 8), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &al), 0);
	opts_for(&f, &o, "practice-a", "safe-1");
	o.port = ntohs(a.sin_port);
	o.connect_timeout_ms = 300;
	side_open(&f, &s, &o, "");
	ck_assert(run_until(&f, has_down, &s, WAIT_MS));
	ck_assert_msg(s.last_down == ZK_ETIMEOUT, "down: %s", zk_err_name(s.last_down));
	fix_finish(&f, all, 1);
	close(fd);
}
END_TEST

static int upgrade_refused(void *arg)
{
	side_t *s = arg;
	return s->last_down == ZK_EUPGRADE;
}

/* A TLS server with the relay's certificate that answers HTTP but is no
 * WebSocket server (openssl s_server -www): the upgrade fails. */
START_TEST(test_link_upgrade_refused)
{
	fix_t f;
	side_t s = { .name = "not-ws" };
	side_t *all[] = { &s };
	link_opts_t o;
	char accept[32];
	int port, status;
	pid_t pid;

	fix_init(&f, "link-upgrade", 0);
	port = harness_free_port();
	ck_assert_int_gt(port, 0);
	snprintf(accept, sizeof(accept), "127.0.0.1:%d", port);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		execlp("openssl", "openssl", "s_server", "-quiet", "-tls1_3", "-www", "-accept",
		       accept, "-cert", harness_path(f.h, "pki/server.crt"), "-key",
		       harness_path(f.h, "pki/server.key"), (char *)NULL);
		_exit(127);
	}
	opts_for(&f, &o, "practice-a", "safe-1");
	o.port = port;
	o.backoff_min_ms = 20;
	o.backoff_max_ms = 100;
	side_open(&f, &s, &o, "");
	/* Until s_server listens the attempts find nobody. */
	ck_assert_msg(run_until(&f, upgrade_refused, &s, WAIT_MS), "down: %s",
		      zk_err_name(s.last_down));
	for (int i = 0; i < s.downs && i < 16; i++)
		ck_assert(s.down_errs[i] == ZK_EUNREACHABLE || s.down_errs[i] == ZK_EUPGRADE);
	ck_assert_int_eq(s.ups, 0);
	fix_finish(&f, all, 1);
	kill(pid, SIGTERM);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
}
END_TEST

/* The relay pings idle connections and hangs up after idle_s without an
 * answer: a link that answers stays up well past idle_s. */
START_TEST(test_link_answers_pings)
{
	fix_t f;
	side_t safe, cl;
	side_t *all[] = { &safe, &cl };

	fix_init(&f, "link-ping", 0);
	harness_set_int(f.h, "timeouts", "ping_s", 1);
	harness_set_int(f.h, "timeouts", "idle_s", 2);
	START(f.h);
	open_pair(&f, &safe, &cl);
	run_for(&f, 3500);
	ck_assert_msg(safe.downs + cl.downs == 0, "dropped: %s / %s", zk_err_name(safe.last_down),
		      zk_err_name(cl.last_down));
	ck_assert_int_eq(send_payload(&cl, SAFE_ADDR, 1, 1, 64), 0);
	expect_rx(&f, &safe, 1);
	fix_finish(&f, all, 2);
}
END_TEST

/* link_close() at awkward moments: before start, while connecting, and
 * from inside `down` and `data`. No callback after it, `done` once. */
START_TEST(test_link_close_anywhere)
{
	fix_t f;
	side_t idle = { .name = "never-started" }, dialing = { .name = "dialing" };
	side_t in_down = { .name = "in-down", .close_in_down = 2 };
	side_t safe, cl;
	side_t *all[] = { &idle, &dialing, &in_down, &safe, &cl };
	link_opts_t o;

	fix_init(&f, "link-close", 1);
	opts_for(&f, &o, "practice-a", "safe-1");
	ck_assert_int_eq(link_new(&f.loop, &o, &cbs, &idle, &idle.l), 0);
	close_side(&idle);
	opts_for(&f, &o, "practice-a", "client-2");
	side_open(&f, &dialing, &o, harness_token(f.h, "practice-a", "client-2"));
	uv_run(&f.loop, UV_RUN_NOWAIT); /* the attempt begins: TCP connect */
	close_side(&dialing);
	opts_for(&f, &o, "practice-a", "safe-1");
	o.port = harness_free_port();
	o.backoff_min_ms = 10;
	side_open(&f, &in_down, &o, "");
	ck_assert(run_until(&f, is_done, &in_down, WAIT_MS));
	ck_assert_int_eq(in_down.downs, 2);
	open_pair(&f, &safe, &cl);
	safe.close_in_data = 1;
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(send_payload(&cl, SAFE_ADDR, 1, (uint64_t)i, 5000), 0);
	ck_assert(run_until(&f, is_done, &safe, WAIT_MS));
	ck_assert_int_eq(safe.ndata, 1);
	ck_assert_int_eq(idle.ups + idle.downs + dialing.ups + dialing.downs, 0);
	fix_finish(&f, all, 5);
}
END_TEST

Suite *link_suite(void)
{
	Suite *s = suite_create("link");
	TCase *tc = tcase_create("link");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_link_data_both_ways);
	tcase_add_test(tc, test_link_no_route);
	tcase_add_test(tc, test_link_bad_token);
	tcase_add_test(tc, test_link_refresh);
	tcase_add_test(tc, test_link_wrong_ca);
	tcase_add_test(tc, test_link_unreachable_retries);
	tcase_add_test(tc, test_link_connect_timeout);
	tcase_add_test(tc, test_link_upgrade_refused);
	tcase_add_test(tc, test_link_answers_pings);
	tcase_add_test(tc, test_link_close_anywhere);
	suite_add_tcase(s, tc);
	return s;
}
