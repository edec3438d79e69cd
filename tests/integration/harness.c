/* The integration-test harness. See harness.h. */
#include "harness.h"

#include <time.h>

#include "tokenmint.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_SET 64
#define MAX_LIVE 8
#define START_ATTEMPTS 3
#define LISTEN_WAIT_MS 10000
#define PKI_WAIT_MS 60000


typedef struct {
	char *section, *key, *value; /* value NULL: remove the default */
} setting_t;

#define MAX_SAFES 4
#define SAFE_READY_MS 30000

/* A data-safe agent started by harness_safe_start(). */
typedef struct {
	char practice[65], endpoint[65];
	char dir[500];
	char pubkey[64];
	pid_t pid;
} safe_t;

struct harness {
	char dir[400];
	char err[1024];
	pid_t pid;
	int port;
	pid_t owner;              /* the process that created this harness */
	setting_t set[MAX_SET];
	size_t nset;
	char **strs;              /* paths handed out, freed with h */
	size_t nstrs, capstrs;
	safe_t safes[MAX_SAFES];  /* data-safe agents (harness_safe_start) */
	int nsafes;
	int restarts;             /* harness_restart() count */
	int nruns;                /* names run-N.out/.err */
};

static char g_base[256];
static char g_cache[300];
static const char *g_relay_bin;
static const char *g_pki_script;
static const char *g_registry_script;
static const char *g_safe_bin; /* optional: ZK_SAFE_BIN, ZK_CLI_BIN */
static const char *g_cli_bin;
static int g_next_id;

static harness_t *g_live[MAX_LIVE];
static int g_atexit_done;

/* ---------------------------------------------------------------------- */

int64_t harness_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void harness_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int seterr(harness_t *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int seterr(harness_t *h, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(h->err, sizeof(h->err), fmt, ap);
	va_end(ap);
	return -1;
}

const char *harness_error(const harness_t *h)
{
	return h->err;
}

const char *harness_dir(const harness_t *h)
{
	return h->dir;
}

static const char *keep_str(harness_t *h, char *s)
{
	if (s == NULL)
		return "";
	if (h->nstrs == h->capstrs) {
		size_t cap = h->capstrs ? 2 * h->capstrs : 32;
		char **n = realloc(h->strs, cap * sizeof(*n));

		if (n == NULL) {
			free(s);
			return "";
		}
		h->strs = n;
		h->capstrs = cap;
	}
	h->strs[h->nstrs++] = s;
	return s;
}

const char *harness_path(harness_t *h, const char *fmt, ...)
{
	char rel[512], *s = NULL;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	if (asprintf(&s, "%s/%s", h->dir, rel) < 0)
		s = NULL;
	return keep_str(h, s);
}

const char *harness_cert(harness_t *h, const char *practice, const char *endpoint)
{
	return harness_path(h, "pki/%s/%s.crt", practice, endpoint);
}

const char *harness_key(harness_t *h, const char *practice, const char *endpoint)
{
	return harness_path(h, "pki/%s/%s.key", practice, endpoint);
}

static int run_cmd(char *const argv[], const char *log_path, int wait_ms);

const char *harness_token_with(harness_t *h, const char *holder_practice, const char *endpoint,
			       const char *iss, const char *dst, int64_t iat, int64_t exp,
			       const char *jti)
{
	char sub[160], *tok = NULL;
	const char *dsts[1] = { dst };
	tokenmint_t t = { .iss = iss, .kid = "k1", .sub = sub, .aud = "zkrelay-dev",
			  .jti = jti, .iat = iat, .nbf = iat, .exp = exp, .dst = dsts,
			  .ndst = 1 };
	paseto_sk_t *sk = NULL;

	snprintf(sub, sizeof(sub), "%s/%s", holder_practice, endpoint);
	if (tokenmint_cert_cnf(harness_cert(h, holder_practice, endpoint), t.cnf) ||
	    tokenmint_load_key(harness_path(h, "pki/%s/token-k1.key", iss), &sk) ||
	    tokenmint(sk, &t, &tok))
		tok = NULL;
	paseto_sk_free(&sk);
	return keep_str(h, tok);
}

const char *harness_token(harness_t *h, const char *practice, const char *endpoint)
{
	static unsigned serial;
	char jti[64], dst[160];
	int64_t now = (int64_t)time(NULL);

	/* The demo PKI names its data-safes safe-N: they need no token. */
	if (strncmp(endpoint, "safe", 4) == 0)
		return "";
	snprintf(jti, sizeof(jti), "t-%d-%u", (int)getpid(), ++serial);
	snprintf(dst, sizeof(dst), "%s/safe-1", practice);
	return harness_token_with(h, practice, endpoint, practice, dst, now, now + 3600, jti);
}

int harness_registry(harness_t *h)
{
	char *argv[4], pki[600], reg[600], log_path[600];
	int r;

	snprintf(pki, sizeof(pki), "%s/pki", h->dir);
	snprintf(reg, sizeof(reg), "%s/pki/registry", h->dir);
	snprintf(log_path, sizeof(log_path), "%s/registry.log", h->dir);
	argv[0] = (char *)g_registry_script;
	argv[1] = pki;
	argv[2] = reg;
	argv[3] = NULL;
	r = run_cmd(argv, log_path, PKI_WAIT_MS);
	if (r != 0)
		seterr(h, "registry script failed (status %d); see %s", r, log_path);
	return r;
}

const char *harness_log_path(harness_t *h)
{
	return harness_path(h, "relay.log");
}

/* ---------------------------------------------------------------------- */
/* Processes. */

static void close_from(int lowfd)
{
	int fd;

	for (fd = lowfd; fd < 1024; fd++)
		close(fd);
}

/* Forks argv with stdin from /dev/null, stdout and stderr to the files
 * (each appended to or truncated), and a parent death signal: a child
 * dies with its test, even when the test is killed by its timeout. */
static pid_t spawn_child(char *const argv[], const char *out_path, int out_append,
			 const char *err_path, int err_append)
{
	pid_t parent = getpid(), pid = fork();

	if (pid != 0)
		return pid;
	{
		int in = open("/dev/null", O_RDONLY);
		int out = open(out_path, O_WRONLY | O_CREAT | (out_append ? O_APPEND : O_TRUNC), 0644);
		int err = open(err_path, O_WRONLY | O_CREAT | (err_append ? O_APPEND : O_TRUNC), 0644);
		sigset_t none;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		if (in >= 0)
			dup2(in, 0);
		if (out >= 0)
			dup2(out, 1);
		if (err >= 0)
			dup2(err, 2);
		close_from(3);
		execv(argv[0], argv);
		_exit(127);
	}
}

/* Runs argv with stdout and stderr appended to log_path, waits up to
 * timeout_ms. Exit status, or -1. */
static int run_cmd(char *const argv[], const char *log_path, int timeout_ms)
{
	int64_t deadline = harness_now_ms() + timeout_ms;
	int status;
	pid_t pid = spawn_child(argv, log_path, 1, log_path, 1);

	if (pid < 0)
		return -1;
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		if (r < 0 && errno != EINTR)
			return -1;
		if (harness_now_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
		harness_sleep_ms(10);
	}
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void rm_rf(const char *dir)
{
	if (dir[0] != '\0')
		nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int copy_tree(const char *from, const char *to, const char *log_path)
{
	char *argv[] = { "/bin/cp", "-a", (char *)from, (char *)to, NULL };

	return run_cmd(argv, log_path, 30000);
}

/* ---------------------------------------------------------------------- */

int harness_global_init(void)
{
	const char *tmp = getenv("TMPDIR");
	char log_path[700];
	char *argv[3];
	int64_t t0;
	int r;

	g_relay_bin = getenv("ZKRELAY_BIN");
	g_pki_script = getenv("ZK_PKI_SCRIPT");
	g_registry_script = getenv("ZK_REGISTRY_SCRIPT");
	g_safe_bin = getenv("ZK_SAFE_BIN");
	g_cli_bin = getenv("ZK_CLI_BIN");
	if (g_relay_bin == NULL || g_pki_script == NULL || g_relay_bin[0] != '/' ||
	    g_pki_script[0] != '/' || g_registry_script == NULL || g_registry_script[0] != '/') {
		fprintf(stderr, "integration tests need ZKRELAY_BIN, ZK_PKI_SCRIPT and "
				"ZK_REGISTRY_SCRIPT "
				"(absolute paths); run them with 'make check-integration'\n");
		return -1;
	}
	if (access(g_relay_bin, X_OK) != 0) {
		fprintf(stderr, "ZKRELAY_BIN %s: %s\n", g_relay_bin, strerror(errno));
		return -1;
	}
	if (access(g_pki_script, R_OK) != 0) {
		fprintf(stderr, "ZK_PKI_SCRIPT %s: %s\n", g_pki_script, strerror(errno));
		return -1;
	}
	snprintf(g_base, sizeof(g_base), "%s/zkrelay-itest.XXXXXX",
		 tmp && tmp[0] ? tmp : "/tmp");
	if (mkdtemp(g_base) == NULL) {
		fprintf(stderr, "mkdtemp %s: %s\n", g_base, strerror(errno));
		g_base[0] = '\0';
		return -1;
	}
	snprintf(g_cache, sizeof(g_cache), "%s/pki", g_base);
	snprintf(log_path, sizeof(log_path), "%s/pki.log", g_base);
	argv[0] = (char *)g_pki_script;
	argv[1] = g_cache;
	argv[2] = NULL;
	t0 = harness_now_ms();
	r = run_cmd(argv, log_path, PKI_WAIT_MS);
	if (r != 0) {
		fprintf(stderr, "%s %s failed (status %d); see %s\n", g_pki_script, g_cache, r,
			log_path);
		return -1;
	}
	{
		char reg[400], *rargv[4];
		snprintf(reg, sizeof(reg), "%s/registry", g_cache);
		rargv[0] = (char *)g_registry_script;
		rargv[1] = g_cache;
		rargv[2] = reg;
		rargv[3] = NULL;
		r = run_cmd(rargv, log_path, PKI_WAIT_MS);
		if (r != 0) {
			fprintf(stderr, "%s failed (status %d); see %s\n", g_registry_script, r,
				log_path);
			return -1;
		}
	}
	fprintf(stderr, "dev PKI generated in %lld ms\n", (long long)(harness_now_ms() - t0));
	return 0;
}

static void print_log_tail(const char *dir, int lines);

void harness_global_cleanup(int keep)
{
	struct dirent *e;
	DIR *d;

	if (g_base[0] == '\0')
		return;
	if (!keep) {
		rm_rf(g_base);
		return;
	}
	/* A passing test removes its directory; what is left belongs to
	 * failures (Check ends a failed test at once, so the test itself
	 * cannot say where its relay log is). */
	d = opendir(g_base);
	while (d != NULL && (e = readdir(d)) != NULL) {
		char sub[600];

		if (e->d_name[0] == '.' || strcmp(e->d_name, "pki") == 0 ||
		    strcmp(e->d_name, "pki.log") == 0)
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", g_base, e->d_name);
		print_log_tail(sub, 8);
	}
	if (d != NULL)
		closedir(d);
	fprintf(stderr, "test directories kept in %s\n", g_base);
}

/* ---------------------------------------------------------------------- */

static void print_log_tail(const char *dir, int lines)
{
	char path[700];
	FILE *f;
	long size;
	char *buf, *p;
	int n = 0;

	snprintf(path, sizeof(path), "%s/relay.log", dir);
	f = fopen(path, "r");
	if (f == NULL)
		return;
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	if (size > 65536)
		fseek(f, size - 65536, SEEK_SET);
	else
		fseek(f, 0, SEEK_SET);
	buf = calloc(1, 65537);
	if (buf != NULL) {
		size_t got = fread(buf, 1, 65536, f);
		buf[got] = '\0';
		for (p = buf + got; p > buf; p--)
			if (p[-1] == '\n' && ++n > lines)
				break;
		fprintf(stderr, "---- %s (last lines)\n%s", path, p);
		free(buf);
	}
	fclose(f);
}

static void kill_safes(harness_t *h);

static void kill_relay(harness_t *h)
{
	int status;

	if (h->pid > 0) {
		kill(h->pid, SIGKILL);
		waitpid(h->pid, &status, 0);
		h->pid = 0;
	}
}

/* A program that exits without harness_free() (a benchmark that gives up)
 * must not leave its relay behind. Check ends a failed test with _exit(),
 * which skips this; there the relay's parent death signal stops it. */
static void at_exit(void)
{
	int i;

	for (i = 0; i < MAX_LIVE; i++) {
		harness_t *h = g_live[i];

		if (h == NULL || h->owner != getpid())
			continue;
		kill_safes(h);
		kill_relay(h);
		fprintf(stderr, "test directory kept: %s\n", h->dir);
		print_log_tail(h->dir, 20);
	}
}

harness_t *harness_new(const char *name)
{
	harness_t *h = calloc(1, sizeof(*h));
	char pki[600], log_path[600];
	int i;

	if (h == NULL)
		return NULL;
	h->owner = getpid();
	snprintf(h->dir, sizeof(h->dir), "%s/%.40s-%d-%d.XXXXXX",
		 g_base[0] ? g_base : "/tmp", name, (int)getpid(), g_next_id++);
	if (mkdtemp(h->dir) == NULL) {
		seterr(h, "mkdtemp: %s", strerror(errno));
		return h;
	}
	snprintf(pki, sizeof(pki), "%s/pki", h->dir);
	snprintf(log_path, sizeof(log_path), "%s/pki.log", h->dir);
	if (g_cache[0] != '\0' && copy_tree(g_cache, pki, log_path) != 0)
		seterr(h, "copying the PKI failed");
	if (!g_atexit_done) {
		atexit(at_exit);
		g_atexit_done = 1;
	}
	for (i = 0; i < MAX_LIVE; i++)
		if (g_live[i] == NULL) {
			g_live[i] = h;
			break;
		}
	return h;
}

void harness_free(harness_t *h)
{
	size_t i;
	int j;

	if (h == NULL)
		return;
	for (j = 0; j < MAX_LIVE; j++)
		if (g_live[j] == h)
			g_live[j] = NULL;
	kill_safes(h);
	kill_relay(h);
	rm_rf(h->dir);
	for (i = 0; i < h->nset; i++) {
		free(h->set[i].section);
		free(h->set[i].key);
		free(h->set[i].value);
	}
	for (i = 0; i < h->nstrs; i++)
		free(h->strs[i]);
	free(h->strs);
	free(h);
}

int harness_pki(harness_t *h, ...)
{
	char *argv[32], pki[600], log_path[600];
	const char *a;
	va_list ap;
	int n = 0, r;

	snprintf(pki, sizeof(pki), "%s/pki", h->dir);
	snprintf(log_path, sizeof(log_path), "%s/pki.log", h->dir);
	argv[n++] = (char *)g_pki_script;
	argv[n++] = pki;
	va_start(ap, h);
	while ((a = va_arg(ap, const char *)) != NULL && n < 31)
		argv[n++] = (char *)a;
	va_end(ap);
	argv[n] = NULL;
	r = run_cmd(argv, log_path, PKI_WAIT_MS);
	if (r != 0)
		seterr(h, "PKI script %s failed (status %d); see %s", argv[2], r, log_path);
	return r;
}

/* ---------------------------------------------------------------------- */
/* Config. */

void harness_set(harness_t *h, const char *section, const char *key, const char *value)
{
	size_t i;

	for (i = 0; i < h->nset; i++)
		if (strcmp(h->set[i].section, section) == 0 && strcmp(h->set[i].key, key) == 0)
			break;
	if (i == h->nset) {
		if (h->nset == MAX_SET)
			return;
		h->set[i].section = strdup(section);
		h->set[i].key = strdup(key);
		h->nset++;
	} else {
		free(h->set[i].value);
	}
	h->set[i].value = value ? strdup(value) : NULL;
}

void harness_set_int(harness_t *h, const char *section, const char *key, long long value)
{
	char v[32];

	snprintf(v, sizeof(v), "%lld", value);
	harness_set(h, section, key, v);
}

int harness_free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;

	if (fd < 0)
		return -1;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &al) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static const setting_t *find_set(const harness_t *h, const char *section, const char *key)
{
	size_t i;

	for (i = 0; i < h->nset; i++)
		if (strcmp(h->set[i].section, section) == 0 && strcmp(h->set[i].key, key) == 0)
			return &h->set[i];
	return NULL;
}

static int write_config(harness_t *h, const char *path)
{
	static const char *const sections[] = { "relay", "tls", "limits", "timeouts", "tokens",
						"audit", "ops", "log" };
	char listen[64], ca[600], crt[600], key[600], crl[600], reg[600], audit[600];
	const char *seccomp = getenv("ZK_ITEST_SECCOMP");
	const char *defaults[][3] = {
		{ "relay", "id", "zkrelay-dev" },
		{ "relay", "listen", listen },
		{ "relay", "registry_dir", reg },
		/* Tests run as whoever runs them, root included (CI). */
		{ "relay", "allow_root", geteuid() == 0 ? "true" : "false" },
		/* The syscall filter is on unless the environment turns it off
		 * (make check-asan does: the leak check at exit needs system
		 * calls a relay never makes). */
		{ "relay", "seccomp", seccomp && strcmp(seccomp, "off") == 0 ? "off" : "on" },
		{ "tls", "ca_file", ca },
		{ "tls", "cert_file", crt },
		{ "tls", "key_file", key },
		{ "tls", "crl_file", crl },
		{ "audit", "file", audit },
		{ "ops", "listen", "127.0.0.1:0" }, /* off unless a test asks */
		{ "log", "level", "info" },
	};
	size_t s, i;
	FILE *f;

	snprintf(listen, sizeof(listen), "127.0.0.1:%d", h->port);
	snprintf(ca, sizeof(ca), "%s/pki/ca.crt", h->dir);
	snprintf(crt, sizeof(crt), "%s/pki/server.crt", h->dir);
	snprintf(key, sizeof(key), "%s/pki/server.key", h->dir);
	snprintf(crl, sizeof(crl), "%s/pki/crl.pem", h->dir);
	snprintf(audit, sizeof(audit), "%s/audit.log", h->dir);
	snprintf(reg, sizeof(reg), "%s/pki/registry", h->dir);
	f = fopen(path, "w");
	if (f == NULL)
		return seterr(h, "%s: %s", path, strerror(errno));
	fprintf(f, "; zkrelay integration test\n");
	for (s = 0; s < sizeof(sections) / sizeof(sections[0]); s++) {
		fprintf(f, "\n[%s]\n", sections[s]);
		for (i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
			if (strcmp(defaults[i][0], sections[s]) == 0 &&
			    find_set(h, defaults[i][0], defaults[i][1]) == NULL)
				fprintf(f, "%s = %s\n", defaults[i][1], defaults[i][2]);
		for (i = 0; i < h->nset; i++)
			if (strcmp(h->set[i].section, sections[s]) == 0 && h->set[i].value != NULL)
				fprintf(f, "%s = %s\n", h->set[i].key, h->set[i].value);
	}
	/* Sections this harness does not know, for tests of the parser. */
	for (i = 0; i < h->nset; i++) {
		int known = 0;

		for (s = 0; s < sizeof(sections) / sizeof(sections[0]); s++)
			known |= strcmp(h->set[i].section, sections[s]) == 0;
		if (!known && h->set[i].value != NULL)
			fprintf(f, "\n[%s]\n%s = %s\n", h->set[i].section, h->set[i].key,
				h->set[i].value);
	}
	return fclose(f) == 0 ? 0 : seterr(h, "%s: write failed", path);
}

/* ---------------------------------------------------------------------- */

static pid_t spawn_relay(harness_t *h, const char *config, const char *log_path)
{
	char out_path[600];
	char *argv[] = { (char *)g_relay_bin, "-c", (char *)config, NULL };

	snprintf(out_path, sizeof(out_path), "%s/relay.out", h->dir);
	return spawn_child(argv, out_path, 1, log_path, 0);
}

/* Starts the relay with the config already written and waits until it
 * logs "listening" (0), exits first (1, with its wait status in *status:
 * most likely its port was taken), or deadline passes (-1, killed). -1
 * also if it cannot be started. */
static int launch(harness_t *h, const char *config, const char *log_path, int64_t deadline,
		  int *status)
{
	h->pid = spawn_relay(h, config, log_path);
	if (h->pid < 0) {
		h->pid = 0;
		return seterr(h, "fork: %s", strerror(errno));
	}
	for (;;) {
		if (harness_log_find(h, "\"event\":\"listening\"", NULL))
			return 0;
		if (waitpid(h->pid, status, WNOHANG) == h->pid) {
			h->pid = 0;
			return 1;
		}
		if (harness_now_ms() > deadline) {
			kill_relay(h);
			return seterr(h, "relay not listening after %d ms; see %s", LISTEN_WAIT_MS,
				      log_path);
		}
		harness_sleep_ms(10);
	}
}

int harness_start(harness_t *h)
{
	const char *config = harness_path(h, "relay.conf");
	const char *log_path = harness_log_path(h);
	int attempt;

	if (h->err[0] != '\0')
		return -1;
	if (h->pid > 0)
		return seterr(h, "relay already running");
	for (attempt = 0; attempt < START_ATTEMPTS; attempt++) {
		int status = 0, rc;

		h->port = harness_free_port();
		if (h->port <= 0)
			return seterr(h, "no free port");
		if (write_config(h, config) < 0)
			return -1;
		rc = launch(h, config, log_path, harness_now_ms() + LISTEN_WAIT_MS, &status);
		if (rc <= 0)
			return rc;
		/* Another process took the port first: try another one. */
		seterr(h, "relay exited (status 0x%x) before listening; see %s", status, log_path);
		harness_sleep_ms(200);
	}
	return -1;
}

int harness_port(const harness_t *h)
{
	return h->port;
}

pid_t harness_pid(const harness_t *h)
{
	return h->pid;
}

int harness_running(harness_t *h)
{
	int status;

	if (h->pid <= 0)
		return 0;
	if (waitpid(h->pid, &status, WNOHANG) == h->pid) {
		h->pid = 0;
		return 0;
	}
	return 1;
}

int harness_signal(harness_t *h, int sig)
{
	return h->pid > 0 ? kill(h->pid, sig) : -1;
}

int harness_wait_exit(harness_t *h, int timeout_ms, int *status)
{
	int64_t deadline = harness_now_ms() + timeout_ms;
	int st;

	if (h->pid <= 0)
		return seterr(h, "relay not running");
	for (;;) {
		pid_t r = waitpid(h->pid, &st, WNOHANG);

		if (r == h->pid) {
			h->pid = 0;
			if (status != NULL)
				*status = st;
			return 0;
		}
		if (harness_now_ms() > deadline)
			return seterr(h, "relay still running after %d ms", timeout_ms);
		harness_sleep_ms(5);
	}
}

int harness_stop(harness_t *h, int *status)
{
	if (harness_signal(h, SIGTERM) < 0)
		return seterr(h, "relay not running");
	if (harness_wait_exit(h, 15000, status) == 0)
		return 0;
	kill_relay(h);
	return -1;
}

/* ---------------------------------------------------------------------- */
/* The relay log: one JSON object per line. */

static int log_scan(harness_t *h, va_list ap, int count_all)
{
	const char *subs[16];
	char path[600];
	int nsubs = 0, count = 0;
	char *line = NULL;
	size_t cap = 0;
	FILE *f;

	while (nsubs < 16 && (subs[nsubs] = va_arg(ap, const char *)) != NULL)
		nsubs++;
	snprintf(path, sizeof(path), "%s/relay.log", h->dir);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	while (getline(&line, &cap, f) >= 0) {
		int i, all = 1;

		for (i = 0; i < nsubs && all; i++)
			all = strstr(line, subs[i]) != NULL;
		if (all) {
			count++;
			if (!count_all)
				break;
		}
	}
	free(line);
	fclose(f);
	return count;
}

int harness_log_find(harness_t *h, ...)
{
	va_list ap;
	int r;

	va_start(ap, h);
	r = log_scan(h, ap, 0);
	va_end(ap);
	return r > 0;
}

int harness_log_count(harness_t *h, ...)
{
	va_list ap;
	int r;

	va_start(ap, h);
	r = log_scan(h, ap, 1);
	va_end(ap);
	return r;
}

int harness_log_wait(harness_t *h, int timeout_ms, ...)
{
	int64_t deadline = harness_now_ms() + timeout_ms;

	for (;;) {
		va_list ap;
		int r;

		va_start(ap, timeout_ms);
		r = log_scan(h, ap, 0);
		va_end(ap);
		if (r > 0)
			return 1;
		if (harness_now_ms() > deadline)
			return 0;
		harness_sleep_ms(10);
	}
}

/* ---------------------------------------------------------------------- */

void harness_client_opts(harness_t *h, tclient_opts_t *o, const char *practice,
			 const char *endpoint)
{
	tclient_opts_init(o);
	o->port = h->port;
	o->ca_file = harness_path(h, "pki/ca.crt");
	if (practice != NULL && endpoint != NULL) {
		o->cert_file = harness_cert(h, practice, endpoint);
		o->key_file = harness_key(h, practice, endpoint);
	}
}

tclient_t *harness_endpoint(harness_t *h, const char *practice, const char *endpoint, int *rc)
{
	tclient_opts_t o;
	tclient_t *c;
	int r;

	harness_client_opts(h, &o, practice, endpoint);
	c = tclient_new(&o);
	if (c == NULL) {
		*rc = TCLIENT_ENOMEM;
		return NULL;
	}
	r = tclient_connect(c);
	if (r == 0)
		r = tclient_hello(c, harness_token(h, practice, endpoint), NULL);
	*rc = r;
	return c;
}

/* ---------------------------------------------------------------------- */
/* splitmix64: uniform bytes, cheap, reproducible from the tag alone. */

static uint64_t mix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void harness_payload(uint8_t *p, size_t n, uint64_t tag)
{
	uint64_t s = tag * 0x2545f4914f6cdd1dull + n;
	size_t i;

	for (i = 0; i < n; i += 8) {
		uint64_t v = mix(&s);
		size_t k;

		for (k = 0; k < 8 && i + k < n; k++)
			p[i + k] = (uint8_t)(v >> (8 * k));
	}
}

int harness_payload_ok(const uint8_t *p, size_t n, uint64_t tag)
{
	uint8_t *want = malloc(n ? n : 1);
	int ok;

	if (want == NULL)
		return 0;
	harness_payload(want, n, tag);
	ok = memcmp(want, p, n) == 0;
	free(want);
	return ok;
}

/* ---------------------------------------------------------------------- */
/* The relay restarted on its port. */

int harness_restart(harness_t *h)
{
	const char *config = harness_path(h, "relay.conf");
	const char *log_path = harness_log_path(h);
	int64_t deadline = harness_now_ms() + LISTEN_WAIT_MS;
	char old[700];

	if (h->err[0] != '\0')
		return -1;
	if (h->port <= 0)
		return seterr(h, "restart: the relay was never started");
	kill_relay(h);
	h->restarts++;
	snprintf(old, sizeof(old), "%s.%d", log_path, h->restarts);
	if (rename(log_path, old) < 0 && errno != ENOENT)
		return seterr(h, "rename %s: %s", log_path, strerror(errno));
	if (write_config(h, config) < 0)
		return -1;
	for (;;) {
		int status = 0, rc = launch(h, config, log_path, deadline, &status);

		if (rc <= 0)
			return rc;
		/* Most likely the port is still held: try again shortly. */
		if (harness_now_ms() > deadline)
			return seterr(h, "restarted relay exited before listening on port %d; see %s",
				      h->port, log_path);
		harness_sleep_ms(100);
	}
}

int harness_restarts(const harness_t *h)
{
	return h->restarts;
}

/* ---------------------------------------------------------------------- */
/* Child programs. */

int harness_programs(char *why, size_t cap)
{
	const char *names[2] = { "ZK_SAFE_BIN", "ZK_CLI_BIN" };
	const char *bins[2] = { g_safe_bin, g_cli_bin };
	int i;

	for (i = 0; i < 2; i++) {
		if (bins[i] == NULL || bins[i][0] != '/') {
			snprintf(why, cap, "%s is not set to an absolute path (run the suite with "
				 "'make check-integration')", names[i]);
			return -1;
		}
		if (access(bins[i], X_OK) != 0) {
			snprintf(why, cap, "%s %s: %s", names[i], bins[i], strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* The whole file as a NUL-terminated string (at most 256 MiB). */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;

	*len = 0;
	if (f == NULL)
		return calloc(1, 1);
	for (;;) {
		size_t got;

		if (cap - n < 65536) {
			char *nb;

			cap = cap ? 2 * cap : 65536 * 2;
			if (cap > ((size_t)256 << 20) || (nb = realloc(buf, cap + 1)) == NULL)
				break;
			buf = nb;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	fclose(f);
	if (buf == NULL)
		return calloc(1, 1);
	buf[n] = '\0';
	*len = n;
	return buf;
}

int harness_run_start(harness_t *h, harness_run_t *r, char *const argv[])
{
	char runs[600];
	FILE *f;
	int i, n = ++h->nruns;

	memset(r, 0, sizeof(*r));
	r->status = -1;
	snprintf(r->out_path, sizeof(r->out_path), "%s/run-%d.out", h->dir, n);
	snprintf(r->err_path, sizeof(r->err_path), "%s/run-%d.err", h->dir, n);
	/* runs.log: which command wrote which run-N files, for a person
	 * looking at a kept test directory. */
	snprintf(runs, sizeof(runs), "%s/runs.log", h->dir);
	for (i = 0; argv[i] != NULL; i++) {
		size_t used = strlen(r->cmd);
		const char *base = i == 0 && strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[i];

		snprintf(r->cmd + used, sizeof(r->cmd) - used, "%s%s", i ? " " : "", base);
	}
	f = fopen(runs, "a");
	if (f != NULL) {
		fprintf(f, "run-%d:", n);
		for (i = 0; argv[i] != NULL; i++)
			fprintf(f, " %s", argv[i]);
		fprintf(f, "\n");
		fclose(f);
	}
	r->t0_ = harness_now_ms();
	r->pid = spawn_child(argv, r->out_path, 0, r->err_path, 0);
	if (r->pid < 0) {
		r->pid = 0;
		return seterr(h, "fork: %s", strerror(errno));
	}
	return 0;
}

int harness_run_wait(harness_run_t *r, int timeout_ms)
{
	int64_t deadline = harness_now_ms() + timeout_ms;
	int st;

	if (r->pid <= 0)
		return -1;
	for (;;) {
		pid_t w = waitpid(r->pid, &st, WNOHANG);

		if (w == r->pid)
			break;
		if (w < 0 && errno != EINTR) {
			r->pid = 0;
			return -1;
		}
		if (harness_now_ms() > deadline) {
			kill(r->pid, SIGKILL);
			waitpid(r->pid, &st, 0);
			r->timed_out = 1;
			break;
		}
		harness_sleep_ms(5);
	}
	r->pid = 0;
	r->ms = harness_now_ms() - r->t0_;
	if (WIFEXITED(st))
		r->status = WEXITSTATUS(st);
	else if (WIFSIGNALED(st))
		r->status = 128 + WTERMSIG(st);
	free(r->out);
	free(r->err);
	r->out = slurp(r->out_path, &r->out_len);
	r->err = slurp(r->err_path, &r->err_len);
	return 0;
}

int harness_run(harness_t *h, harness_run_t *r, int timeout_ms, char *const argv[])
{
	if (harness_run_start(h, r, argv) < 0)
		return -1;
	return harness_run_wait(r, timeout_ms);
}

void harness_run_free(harness_run_t *r)
{
	if (r == NULL)
		return;
	if (r->pid > 0) {
		int st;

		kill(r->pid, SIGKILL);
		waitpid(r->pid, &st, 0);
		r->pid = 0;
	}
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

#define MAX_ARGS 64

/* argv = prefix..., then the NULL-terminated arguments of ap. */
static int build_argv(char **argv, int n, va_list ap)
{
	const char *a;

	while ((a = va_arg(ap, const char *)) != NULL) {
		if (n == MAX_ARGS - 1)
			return -1;
		argv[n++] = (char *)a;
	}
	argv[n] = NULL;
	return 0;
}

static int cli_argv(harness_t *h, char **argv, const char *state, va_list ap)
{
	int n = 0;

	if (g_cli_bin == NULL)
		return seterr(h, "ZK_CLI_BIN is not set");
	argv[n++] = (char *)g_cli_bin;
	if (state != NULL) {
		argv[n++] = "--state";
		argv[n++] = (char *)state;
	}
	if (build_argv(argv, n, ap) < 0)
		return seterr(h, "too many arguments");
	return 0;
}

int harness_cli_start(harness_t *h, harness_run_t *r, const char *state, ...)
{
	char *argv[MAX_ARGS];
	va_list ap;
	int rc;

	memset(r, 0, sizeof(*r));
	r->status = -1;
	va_start(ap, state);
	rc = cli_argv(h, argv, state, ap);
	va_end(ap);
	return rc < 0 ? -1 : harness_run_start(h, r, argv);
}

int harness_cli(harness_t *h, harness_run_t *r, int timeout_ms, const char *state, ...)
{
	char *argv[MAX_ARGS];
	va_list ap;
	int rc;

	memset(r, 0, sizeof(*r));
	r->status = -1;
	va_start(ap, state);
	rc = cli_argv(h, argv, state, ap);
	va_end(ap);
	return rc < 0 ? -1 : harness_run(h, r, timeout_ms, argv);
}

int harness_cli_v(harness_t *h, harness_run_t *r, int timeout_ms, const char *state,
		  const char *const args[])
{
	char *argv[MAX_ARGS];
	int n = 0, i;

	memset(r, 0, sizeof(*r));
	r->status = -1;
	if (g_cli_bin == NULL)
		return seterr(h, "ZK_CLI_BIN is not set");
	argv[n++] = (char *)g_cli_bin;
	if (state != NULL) {
		argv[n++] = "--state";
		argv[n++] = (char *)state;
	}
	for (i = 0; args[i] != NULL; i++) {
		if (n == MAX_ARGS - 1)
			return seterr(h, "too many arguments");
		argv[n++] = (char *)args[i];
	}
	argv[n] = NULL;
	return harness_run(h, r, timeout_ms, argv);
}

int harness_safe_cmd(harness_t *h, harness_run_t *r, int timeout_ms, ...)
{
	char *argv[MAX_ARGS];
	va_list ap;
	int rc;

	memset(r, 0, sizeof(*r));
	r->status = -1;
	if (g_safe_bin == NULL)
		return seterr(h, "ZK_SAFE_BIN is not set");
	argv[0] = (char *)g_safe_bin;
	va_start(ap, timeout_ms);
	rc = build_argv(argv, 1, ap);
	va_end(ap);
	if (rc < 0)
		return seterr(h, "too many arguments");
	return harness_run(h, r, timeout_ms, argv);
}

/* ---------------------------------------------------------------------- */
/* Data-safe agents. */

static safe_t *find_safe(harness_t *h, const char *practice, const char *endpoint, int create)
{
	safe_t *s;
	int i;

	for (i = 0; i < h->nsafes; i++)
		if (strcmp(h->safes[i].practice, practice) == 0 &&
		    strcmp(h->safes[i].endpoint, endpoint) == 0)
			return &h->safes[i];
	if (!create || h->nsafes == MAX_SAFES)
		return NULL;
	{
		safe_t n;

		memset(&n, 0, sizeof(n));
		snprintf(n.practice, sizeof(n.practice), "%s", practice);
		snprintf(n.endpoint, sizeof(n.endpoint), "%s", endpoint);
		snprintf(n.dir, sizeof(n.dir), "%s/safe-%s-%s", h->dir, practice, endpoint);
		s = &h->safes[h->nsafes++];
		*s = n;
	}
	return s;
}

static void kill_safes(harness_t *h)
{
	int i, st;

	for (i = 0; i < h->nsafes; i++)
		if (h->safes[i].pid > 0) {
			kill(h->safes[i].pid, SIGKILL);
			waitpid(h->safes[i].pid, &st, 0);
			h->safes[i].pid = 0;
		}
}

const char *harness_safe_path(harness_t *h, const char *practice, const char *endpoint,
			      const char *file)
{
	return harness_path(h, "safe-%s-%s/%s", practice, endpoint, file);
}

const char *harness_safe_pubkey(harness_t *h, const char *practice, const char *endpoint)
{
	safe_t *s = find_safe(h, practice, endpoint, 0);

	return s != NULL ? s->pubkey : "";
}

pid_t harness_safe_pid(harness_t *h, const char *practice, const char *endpoint)
{
	safe_t *s = find_safe(h, practice, endpoint, 0);

	return s != NULL ? s->pid : 0;
}

/* e2e.key once, made by "zkrelay-safe keygen", and its public half. */
static int safe_key(harness_t *h, safe_t *s)
{
	char key[600], pub[600];
	harness_run_t r;
	size_t len;
	char *text;
	FILE *f;

	snprintf(key, sizeof(key), "%s/e2e.key", s->dir);
	snprintf(pub, sizeof(pub), "%s/e2e.pub", s->dir);
	if (access(key, F_OK) == 0) {
		text = slurp(pub, &len);
	} else {
		if (harness_safe_cmd(h, &r, 30000, "keygen", "--out", key, NULL) < 0)
			return -1;
		if (r.status != 0) {
			seterr(h, "zkrelay-safe keygen: exit %d: %.300s", r.status, r.err);
			harness_run_free(&r);
			return -1;
		}
		text = r.out;
		r.out = NULL;
		harness_run_free(&r);
		f = fopen(pub, "w");
		if (f != NULL) {
			fputs(text, f);
			fclose(f);
		}
	}
	text[strcspn(text, " \r\n")] = '\0';
	snprintf(s->pubkey, sizeof(s->pubkey), "%s", text);
	free(text);
	if (strlen(s->pubkey) != 43)
		return seterr(h, "zkrelay-safe keygen printed \"%s\", not a base64url key", s->pubkey);
	return 0;
}

static int write_safe_config(harness_t *h, safe_t *s, const char *path)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return seterr(h, "%s: %s", path, strerror(errno));
	fprintf(f, "; zkrelay-safe for an integration test\n"
		   "[safe]\n"
		   "address = %s/%s\n"
		   "store_dir = %s/store\n"
		   "static_key_file = %s/e2e.key\n"
		   "token_key_file = %s/pki/%s/token-k1.key\n"
		   "token_kid = k1\n"
		   "relay_id = zkrelay-dev\n"
		   "audit_file = %s/audit.log\n"
		   "max_upload_bytes = 268435456\n"
		   "\n[relay]\n"
		   "host = 127.0.0.1\n"
		   "port = %d\n"
		   "server_name = localhost\n"
		   "ca_file = %s/pki/ca.crt\n"
		   "cert_file = %s/pki/%s/%s.crt\n"
		   "key_file = %s/pki/%s/%s.key\n",
		s->practice, s->endpoint, s->dir, s->dir, h->dir, s->practice, s->dir, h->port,
		h->dir, h->dir, s->practice, s->endpoint, h->dir, s->practice, s->endpoint);
	return fclose(f) == 0 ? 0 : seterr(h, "%s: write failed", path);
}

int harness_safe_start(harness_t *h, const char *practice, const char *endpoint)
{
	safe_t *s = find_safe(h, practice, endpoint, 1);
	char conf[600], store[600], log_path[600], out_path[600];
	int64_t deadline;
	int before, st;

	if (h->err[0] != '\0')
		return -1;
	if (s == NULL)
		return seterr(h, "more than %d data-safes", MAX_SAFES);
	if (g_safe_bin == NULL)
		return seterr(h, "ZK_SAFE_BIN is not set");
	if (s->pid > 0)
		return seterr(h, "data-safe %s/%s already running", practice, endpoint);
	if (h->port <= 0)
		return seterr(h, "start the relay before the data-safe");
	snprintf(store, sizeof(store), "%s/store", s->dir);
	if ((mkdir(s->dir, 0700) < 0 && errno != EEXIST) ||
	    (mkdir(store, 0700) < 0 && errno != EEXIST))
		return seterr(h, "mkdir %s: %s", store, strerror(errno));
	if (safe_key(h, s) < 0)
		return -1;
	snprintf(conf, sizeof(conf), "%s/safe.conf", s->dir);
	snprintf(log_path, sizeof(log_path), "%s/safe.log", s->dir);
	snprintf(out_path, sizeof(out_path), "%s/safe.out", s->dir);
	if (write_safe_config(h, s, conf) < 0)
		return -1;
	before = harness_file_count(log_path, "\"event\":\"safe_ready\"", NULL);
	{
		char *argv[] = { (char *)g_safe_bin, "run", "-c", conf, NULL };

		s->pid = spawn_child(argv, out_path, 1, log_path, 1);
	}
	if (s->pid < 0) {
		s->pid = 0;
		return seterr(h, "fork: %s", strerror(errno));
	}
	deadline = harness_now_ms() + SAFE_READY_MS;
	for (;;) {
		if (harness_file_count(log_path, "\"event\":\"safe_ready\"", NULL) > before)
			return 0;
		if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
			s->pid = 0;
			return seterr(h, "data-safe %s/%s exited (status 0x%x) before safe_ready; "
				      "see %s", practice, endpoint, st, log_path);
		}
		if (harness_now_ms() > deadline) {
			kill(s->pid, SIGKILL);
			waitpid(s->pid, &st, 0);
			s->pid = 0;
			return seterr(h, "data-safe %s/%s not ready after %d ms; see %s", practice,
				      endpoint, SAFE_READY_MS, log_path);
		}
		harness_sleep_ms(10);
	}
}

int harness_safe_stop(harness_t *h, const char *practice, const char *endpoint, int *status)
{
	safe_t *s = find_safe(h, practice, endpoint, 0);
	int64_t deadline = harness_now_ms() + 15000;
	int st;

	if (s == NULL || s->pid <= 0)
		return seterr(h, "data-safe %s/%s not running", practice, endpoint);
	kill(s->pid, SIGTERM);
	for (;;) {
		if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
			s->pid = 0;
			if (status != NULL)
				*status = st;
			return 0;
		}
		if (harness_now_ms() > deadline) {
			kill(s->pid, SIGKILL);
			waitpid(s->pid, &st, 0);
			s->pid = 0;
			if (status != NULL)
				*status = st;
			return seterr(h, "data-safe %s/%s ignored SIGTERM for 15 s", practice,
				      endpoint);
		}
		harness_sleep_ms(5);
	}
}

/* ---------------------------------------------------------------------- */
/* Files and processes. */

static int file_scan(const char *path, va_list ap)
{
	const char *subs[16];
	int nsubs = 0, count = 0;
	char *line = NULL;
	size_t cap = 0;
	FILE *f;

	while (nsubs < 16 && (subs[nsubs] = va_arg(ap, const char *)) != NULL)
		nsubs++;
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	while (getline(&line, &cap, f) >= 0) {
		int i, all = 1;

		for (i = 0; i < nsubs && all; i++)
			all = strstr(line, subs[i]) != NULL;
		count += all;
	}
	free(line);
	fclose(f);
	return count;
}

int harness_file_count(const char *path, ...)
{
	va_list ap;
	int r;

	va_start(ap, path);
	r = file_scan(path, ap);
	va_end(ap);
	return r;
}

int harness_file_wait(const char *path, int timeout_ms, ...)
{
	int64_t deadline = harness_now_ms() + timeout_ms;

	for (;;) {
		va_list ap;
		int r;

		va_start(ap, timeout_ms);
		r = file_scan(path, ap);
		va_end(ap);
		if (r > 0)
			return 1;
		if (harness_now_ms() > deadline)
			return 0;
		harness_sleep_ms(10);
	}
}

int harness_file_contains(const char *path, const void *needle, size_t n)
{
	size_t len;
	char *text;
	int found;

	if (access(path, R_OK) != 0)
		return -1;
	text = slurp(path, &len);
	found = n > 0 && memmem(text, len, needle, n) != NULL;
	free(text);
	return found;
}

int64_t harness_proc_rchar(pid_t pid)
{
	char path[64], line[128];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/io", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "rchar: %lld", &v) == 1)
			break;
	fclose(f);
	return v;
}
