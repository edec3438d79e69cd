/* The relay process under test. See relayproc.h. */
#include "relayproc.h"

#include "../tests/integration/harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define START_ATTEMPTS 3
#define LISTEN_WAIT_MS 10000
#define POLL_MS 10

static int seterr(relayproc_t *rp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int seterr(relayproc_t *rp, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rp->err, sizeof(rp->err), fmt, ap);
	va_end(ap);
	return -1;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* The relay's syscall filter stays on unless ZK_BENCH_SECCOMP=off: a
 * relay built with AddressSanitizer needs calls the filter refuses
 * (LeakSanitizer's check at exit uses ptrace and prctl). */
static const char *seccomp_setting(void)
{
	const char *v = getenv("ZK_BENCH_SECCOMP");

	return v && strcmp(v, "off") == 0 ? "off" : "on";
}

static int write_config(relayproc_t *rp, const char *extra)
{
	FILE *f = fopen(rp->conf, "w");
	char crl[300];

	if (f == NULL)
		return seterr(rp, "%s: %s", rp->conf, strerror(errno));
	snprintf(crl, sizeof(crl), "%s/crl.pem", rp->pki);
	/* Every limit not set below is the relay's default; the rate limits
	 * are off: a closed-loop benchmark sends as fast as the relay relays,
	 * which is what those limits exist to stop. */
	fprintf(f, "; zkrelay-bench: every limit not set below is the relay's default.\n"
		   "[relay]\nid = zkrelay-bench\nlisten = 127.0.0.1:%d\n"
		   "registry_dir = %s/../registry\nallow_root = %s\nseccomp = %s\n\n"
		   "[tls]\nca_file = %s/ca.crt\ncert_file = %s/server.crt\n"
		   "key_file = %s/server.key\n",
		rp->port, rp->pki, geteuid() == 0 ? "true" : "false", seccomp_setting(), rp->pki,
		rp->pki, rp->pki);
	if (access(crl, R_OK) == 0)
		fprintf(f, "crl_file = %s\n", crl);
	/* info, not warn: readiness is the info line "listening", and at info
	 * the relay logs per connection, never per frame. */
	fprintf(f, "\n[limits]\nconn_frames_per_s = 4294967295\nconn_frames_burst = 4294967295\n"
		   "conn_bytes_per_s = 4294967295\nconn_bytes_burst = 4294967295\n"
		   "practice_frames_per_s = 4294967295\npractice_frames_burst = 4294967295\n"
		   "practice_bytes_per_s = 4294967295\npractice_bytes_burst = 4294967295\n");
	fprintf(f, "\n[audit]\nfile = off\n\n[ops]\nlisten = 127.0.0.1:%d\n\n[log]\nlevel = info\n",
		rp->ops_port);
	if (extra != NULL)
		fprintf(f, "\n%s", extra);
	return fclose(f) == 0 ? 0 : seterr(rp, "%s: write failed", rp->conf);
}

static pid_t spawn(relayproc_t *rp, const char *relay_bin)
{
	pid_t parent = getpid(), pid = fork();

	if (pid != 0)
		return pid;
	{
		int log = open(rp->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int in = open("/dev/null", O_RDONLY);
		char *argv[] = { (char *)relay_bin, "-c", rp->conf, NULL };
		sigset_t none;
		int fd;

		/* The signal goes to the relay when the thread that forked it
		 * ends; that is the benchmark's main thread. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		if (in >= 0)
			dup2(in, 0);
		if (log >= 0) {
			dup2(log, 1);
			dup2(log, 2);
		}
		for (fd = 3; fd < 1024; fd++)
			close(fd);
		execv(relay_bin, argv);
		dprintf(2, "zkrelay-bench: exec %s: %s\n", relay_bin, strerror(errno));
		_exit(127);
	}
}

static void reaped(relayproc_t *rp, int status)
{
	rp->pid = 0;
	rp->status = status;
	rp->exited = 1;
}

static int log_has(const relayproc_t *rp, const char *needle)
{
	FILE *f = fopen(rp->log, "r");
	char *line = NULL;
	size_t cap = 0;
	int found = 0;

	if (f == NULL)
		return 0;
	while (!found && getline(&line, &cap, f) >= 0)
		found = strstr(line, needle) != NULL;
	free(line);
	fclose(f);
	return found;
}

/* 0 listening; -1 the relay exited (perhaps the port was taken: retry);
 * -2 it runs but never said it listens. */
static int wait_listening(relayproc_t *rp)
{
	long long deadline = now_ms() + LISTEN_WAIT_MS;
	int status;

	for (;;) {
		if (log_has(rp, "\"event\":\"listening\""))
			return 0;
		if (waitpid(rp->pid, &status, WNOHANG) == rp->pid) {
			char how[64];

			reaped(rp, status);
			return seterr(rp, "relay %s before listening",
				      relayproc_how(rp, how, sizeof(how)));
		}
		if (now_ms() > deadline) {
			kill(rp->pid, SIGKILL);
			waitpid(rp->pid, &status, 0);
			reaped(rp, status);
			seterr(rp, "relay not listening after %d ms", LISTEN_WAIT_MS);
			return -2; /* not worth a retry: the relay hangs */
		}
		sleep_ms(POLL_MS);
	}
}

int relayproc_start(relayproc_t *rp, const char *relay_bin, const char *pki_dir,
		    const char *extra_conf)
{
	const char *tmp = getenv("TMPDIR");
	char real[PATH_MAX];
	int attempt, r = -1;

	memset(rp, 0, sizeof(*rp));
	if (access(relay_bin, X_OK) != 0)
		return seterr(rp, "%s: %s", relay_bin, strerror(errno));
	if (realpath(pki_dir, real) == NULL)
		return seterr(rp, "%s: %s", pki_dir, strerror(errno));
	size_t real_len = strlen(real);
	if (real_len >= sizeof(rp->pki))
		return seterr(rp, "%s: path too long", real);
	memcpy(rp->pki, real, real_len + 1);
	snprintf(rp->dir, sizeof(rp->dir), "%s/zkrelay-bench.XXXXXX",
		 tmp != NULL && tmp[0] == '/' ? tmp : "/tmp");
	if (mkdtemp(rp->dir) == NULL) {
		rp->dir[0] = '\0';
		return seterr(rp, "mkdtemp: %s", strerror(errno));
	}
	snprintf(rp->conf, sizeof(rp->conf), "%s/relay.conf", rp->dir);
	snprintf(rp->log, sizeof(rp->log), "%s/relay.log", rp->dir);
	for (attempt = 0; attempt < START_ATTEMPTS && r == -1; attempt++) {
		rp->port = harness_free_port();
		rp->ops_port = harness_free_port();
		if (rp->port <= 0 || rp->ops_port <= 0 || rp->port == rp->ops_port)
			return seterr(rp, "no free port: %s", strerror(errno));
		if (write_config(rp, extra_conf) < 0)
			return -1;
		rp->pid = spawn(rp, relay_bin);
		if (rp->pid < 0) {
			rp->pid = 0;
			return seterr(rp, "fork: %s", strerror(errno));
		}
		rp->exited = 0;
		r = wait_listening(rp);
	}
	return r == 0 ? 0 : -1;
}

int relayproc_alive(relayproc_t *rp)
{
	int status;

	if (rp->pid <= 0)
		return 0;
	if (waitpid(rp->pid, &status, WNOHANG) == rp->pid) {
		reaped(rp, status);
		return 0;
	}
	return 1;
}

const char *relayproc_how(const relayproc_t *rp, char *buf, size_t cap)
{
	if (!rp->exited)
		snprintf(buf, cap, "running");
	else if (WIFEXITED(rp->status))
		snprintf(buf, cap, "exited with status %d", WEXITSTATUS(rp->status));
	else if (WIFSIGNALED(rp->status))
		snprintf(buf, cap, "was killed by signal %d", WTERMSIG(rp->status));
	else
		snprintf(buf, cap, "ended (wait status 0x%x)", rp->status);
	return buf;
}

int relayproc_stop(relayproc_t *rp, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	char how[64];
	int status;

	if (!relayproc_alive(rp))
		return seterr(rp, "relay %s before it was stopped",
			      relayproc_how(rp, how, sizeof(how)));
	kill(rp->pid, SIGTERM);
	for (;;) {
		if (waitpid(rp->pid, &status, WNOHANG) == rp->pid) {
			reaped(rp, status);
			if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
				return 0;
			return seterr(rp, "relay %s after SIGTERM",
				      relayproc_how(rp, how, sizeof(how)));
		}
		if (now_ms() > deadline)
			break;
		sleep_ms(POLL_MS);
	}
	kill(rp->pid, SIGKILL);
	waitpid(rp->pid, &status, 0);
	reaped(rp, status);
	return seterr(rp, "relay still running %d ms after SIGTERM; killed", timeout_ms);
}

static int is_problem(const char *line)
{
	return line[0] != '{' || strstr(line, "\"level\":\"warn\"") != NULL ||
	       strstr(line, "\"level\":\"error\"") != NULL;
}

int relayproc_print_log(const relayproc_t *rp, FILE *out, int problems_only, int max_lines)
{
	FILE *f = fopen(rp->log, "r");
	char *line = NULL;
	size_t cap = 0;
	long total = 0, skip = 0, n = 0;
	int printed = 0;

	if (f == NULL)
		return 0;
	if (!problems_only) {
		while (getline(&line, &cap, f) >= 0)
			total++;
		skip = total > max_lines ? total - max_lines : 0;
		rewind(f);
	}
	while (getline(&line, &cap, f) >= 0) {
		if (problems_only ? !is_problem(line) : n++ < skip)
			continue;
		fprintf(out, "  relay log: %s%s", line,
			line[0] && line[strlen(line) - 1] == '\n' ? "" : "\n");
		printed++;
	}
	free(line);
	fclose(f);
	return printed;
}

void relayproc_cleanup(relayproc_t *rp, int keep)
{
	int status;

	if (rp->pid > 0) {
		kill(rp->pid, SIGKILL);
		waitpid(rp->pid, &status, 0);
		reaped(rp, status);
	}
	if (rp->dir[0] == '\0')
		return;
	if (keep) {
		fprintf(stderr, "zkrelay-bench: relay config and log kept in %s\n", rp->dir);
		return;
	}
	unlink(rp->conf);
	unlink(rp->log);
	rmdir(rp->dir);
	rp->dir[0] = '\0';
}
