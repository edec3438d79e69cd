/* Runs the real zkrelay process for integration tests.
 *
 * Each test gets its own temporary directory holding a copy of the dev PKI
 * (generated once per test-binary run by deploy/dev-pki.sh), a relay
 * config file with a free port, and the relay's log (its stderr). The
 * relay binary and the PKI script come from the environment:
 *   ZKRELAY_BIN     absolute path of the relay binary
 *   ZK_PKI_SCRIPT   absolute path of deploy/dev-pki.sh
 *
 * A harness kills its relay when freed and when the process exits
 * normally, and the relay is started with a parent death signal, so no
 * relay outlives its test even when the test ends in _exit() or is killed
 * by its timeout. A test that ends without harness_free() (a failure)
 * keeps its directory; harness_global_cleanup(1) prints the tail of each
 * kept relay log, which is what one wants to see after a failure.
 *
 * Nothing here uses the Check framework, so a benchmark can link it. */
#ifndef ZK_HARNESS_H
#define ZK_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tclient.h"

typedef struct harness harness_t;

/* Once per process, before any test forks: reads the environment, makes
 * the base temporary directory and generates the default PKI (practices
 * practice-a and practice-b, endpoints safe-1 (safe), client-1 and
 * client-2 (client) in each). 0 or -1 with a message on stderr. */
int harness_global_init(void);
/* Removes the base directory, or keeps it and says where it is. */
void harness_global_cleanup(int keep);

/* A fresh directory with its own copy of the PKI. name is for humans. */
harness_t *harness_new(const char *name);
/* Kills the relay if it runs, removes the directory. NULL is fine. */
void harness_free(harness_t *h);

const char *harness_error(const harness_t *h);
const char *harness_dir(const harness_t *h);
/* A path inside the test directory; owned by h. */
const char *harness_path(harness_t *h, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Runs the PKI script on this test's PKI: "$ZK_PKI_SCRIPT DIR/pki arg...",
 * arguments NULL-terminated, e.g. ("issue", "practice-a", "client",
 * "old-1", "--expired", NULL) or ("revoke", "practice-a", "client-2",
 * NULL). Returns the script's exit status (0 on success) or -1. */
int harness_pki(harness_t *h, ...) __attribute__((sentinel));
/* DIR/pki/<practice>/<endpoint>.crt and .key. */
const char *harness_cert(harness_t *h, const char *practice, const char *endpoint);
const char *harness_key(harness_t *h, const char *practice, const char *endpoint);

/* Config overrides, applied by the next harness_start(). A NULL value
 * removes a default key (e.g. tls crl_file). */
void harness_set(harness_t *h, const char *section, const char *key, const char *value);
void harness_set_int(harness_t *h, const char *section, const char *key, long long value);

/* Writes the config with a free port, starts "$ZKRELAY_BIN -c CONFIG" with
 * stderr to DIR/relay.log, and waits (up to 10 s) for the log line with
 * "event":"listening". Retries with another port if the relay exits first.
 * 0 or -1 (see harness_error()). */
int harness_start(harness_t *h);
int harness_port(const harness_t *h);
pid_t harness_pid(const harness_t *h);
int harness_running(harness_t *h);
int harness_signal(harness_t *h, int sig);
/* Waits for the relay to exit; *status as from waitpid(). 0, or -1 on
 * timeout (the relay keeps running). */
int harness_wait_exit(harness_t *h, int timeout_ms, int *status);
/* SIGTERM, then waits up to 15 s (then SIGKILL). *status as from
 * waitpid(); 0, or -1 if it had to be killed. */
int harness_stop(harness_t *h, int *status);

/* Relay log search: a line that contains every one of the given
 * substrings (NULL-terminated list). */
int harness_log_find(harness_t *h, ...) __attribute__((sentinel));
/* The same, waiting up to timeout_ms for such a line. 1 found, 0 not. */
int harness_log_wait(harness_t *h, int timeout_ms, ...) __attribute__((sentinel));
/* How many lines contain all substrings. */
int harness_log_count(harness_t *h, ...) __attribute__((sentinel));
const char *harness_log_path(harness_t *h);

/* A loopback TCP port the kernel just handed out (another process may
 * take it before it is bound again); -1 on failure. */
int harness_free_port(void);

/* Client options for this relay: port, CA, and the endpoint's certificate
 * (practice or endpoint NULL: no client certificate). */
void harness_client_opts(harness_t *h, tclient_opts_t *o, const char *practice,
			 const char *endpoint);
/* An access token for a demo client (practice/endpoint), issued by its own
 * practice for <practice>/safe-1, valid for an hour; "" for a data-safe
 * (safe-N), which needs none. Owned by h. */
const char *harness_token(harness_t *h, const char *practice, const char *endpoint);
/* Any token: holder's certificate practice/endpoint, issuing practice iss
 * (its pki/<iss>/token-k1.key), one destination, times in Unix seconds.
 * NULL-safe: "" if it cannot be made. Owned by h. */
const char *harness_token_with(harness_t *h, const char *holder_practice, const char *endpoint,
			       const char *iss, const char *dst, int64_t iat, int64_t exp,
			       const char *jti);
/* Rebuilds pki/registry from the PKI (after issuing data-safe certs). */
int harness_registry(harness_t *h);
/* Connects as the endpoint and says hello (with harness_token()). Always returns a
 * client (NULL only when out of memory); *rc is 0 once Welcome arrived,
 * else the tclient error (see tclient_error()). */
tclient_t *harness_endpoint(harness_t *h, const char *practice, const char *endpoint, int *rc);

/* Payload bytes that look like ciphertext (a relay's plaintext guard must
 * pass them) and that the receiver can check: a function of tag only. */
void harness_payload(uint8_t *p, size_t n, uint64_t tag);
int harness_payload_ok(const uint8_t *p, size_t n, uint64_t tag);

int64_t harness_now_ms(void);
void harness_sleep_ms(int ms);

/* ---------------------------------------------------------------------- */
/* The relay restarted in place, and the endpoint programs.
 *
 * The data-safe agent and the CLI come from the environment too:
 *   ZK_SAFE_BIN     absolute path of zkrelay-safe
 *   ZK_CLI_BIN      absolute path of zkrelay-cli
 * Neither is needed by the suites that drive the relay alone;
 * harness_programs() says whether both are there. Every program started
 * here gets a parent death signal and is killed with its harness. */

/* Starts the relay again on the port it had, so endpoints that reconnect
 * find it; a relay still running is first killed with SIGKILL (no drain).
 * The old log is kept as relay.log.N (N = 1, 2, ...) and relay.log starts
 * empty. Waits, like harness_start(), for "listening", retrying while the
 * port is still held for up to 10 s. 0 or -1 (see harness_error()). */
int harness_restart(harness_t *h);
/* How many times harness_restart() started a relay. */
int harness_restarts(const harness_t *h);

/* 0 if ZK_SAFE_BIN and ZK_CLI_BIN name executables; else -1 and why. */
int harness_programs(char *why, size_t cap);

/* A finished (or running) child program and what it wrote. */
typedef struct {
	pid_t pid;            /* while it runs */
	int status;           /* exit code; 128+N if killed by signal N; -1 not run */
	int timed_out;        /* killed by harness_run_wait() at its timeout */
	int64_t ms;           /* start to exit */
	char *out, *err;      /* its stdout and stderr, NUL-terminated */
	size_t out_len, err_len;
	char out_path[600], err_path[600]; /* where they were written */
	char cmd[400];        /* the command line, for messages (cut short) */
	int64_t t0_;
} harness_run_t;

/* Starts argv (argv[0] an absolute path) with stdin from /dev/null and
 * stdout/stderr to files in the test directory (run-N.out, run-N.err).
 * 0, or -1 if it could not be started. */
int harness_run_start(harness_t *h, harness_run_t *r, char *const argv[]);
/* Waits up to timeout_ms for it (then SIGKILL, timed_out = 1) and reads
 * its output back. 0 once it exited or was killed, -1 if no child. */
int harness_run_wait(harness_run_t *r, int timeout_ms);
/* Both. */
int harness_run(harness_t *h, harness_run_t *r, int timeout_ms, char *const argv[]);
/* Frees the captured output; kills the child if it still runs. */
void harness_run_free(harness_run_t *r);

/* "$ZK_CLI_BIN --state STATE arg..." (NULL-terminated; state NULL: no
 * --state), started or run to the end. */
int harness_cli_start(harness_t *h, harness_run_t *r, const char *state, ...)
	__attribute__((sentinel));
int harness_cli(harness_t *h, harness_run_t *r, int timeout_ms, const char *state, ...)
	__attribute__((sentinel));
/* The same with the arguments in a NULL-terminated array. */
int harness_cli_v(harness_t *h, harness_run_t *r, int timeout_ms, const char *state,
		  const char *const args[]);
/* "$ZK_SAFE_BIN arg..." run to the end (keygen, enroll, audit-verify). */
int harness_safe_cmd(harness_t *h, harness_run_t *r, int timeout_ms, ...)
	__attribute__((sentinel));

/* A data-safe agent for practice/endpoint (certificate and practice token
 * key from this test's PKI) connected to this harness's relay, in its own
 * directory DIR/safe-<practice>-<endpoint>/ holding:
 *   safe.conf   the config (contract: [safe] and [relay] sections)
 *   e2e.key     its static key, made once with "keygen"; e2e.pub its
 *               public half (base64url)
 *   store/      the document store
 *   audit.log   its hash-chained audit file
 *   safe.log    its stderr (appended across restarts)
 * Starts "$ZK_SAFE_BIN run -c safe.conf" and waits up to 30 s for a new
 * "safe_ready" line in safe.log. The relay must be running (its port goes
 * into the config). At most 4 per harness. 0 or -1 (harness_error()). */
int harness_safe_start(harness_t *h, const char *practice, const char *endpoint);
/* SIGTERM, then waits up to 15 s (then SIGKILL). *status (may be NULL)
 * as from waitpid(). 0, or -1 if it had to be killed or was not running. */
int harness_safe_stop(harness_t *h, const char *practice, const char *endpoint, int *status);
pid_t harness_safe_pid(harness_t *h, const char *practice, const char *endpoint);
/* A file in the safe's directory ("safe.conf", "audit.log", "store/p-1");
 * owned by h. */
const char *harness_safe_path(harness_t *h, const char *practice, const char *endpoint,
			      const char *file);
/* Its public key (base64url), "" before harness_safe_start(). */
const char *harness_safe_pubkey(harness_t *h, const char *practice, const char *endpoint);

/* Any text file, searched like the relay log: a line holding every one
 * of the substrings. Count of such lines (0 if the file is missing). */
int harness_file_count(const char *path, ...) __attribute__((sentinel));
/* Waits up to timeout_ms for at least one such line. 1 found, 0 not. */
int harness_file_wait(const char *path, int timeout_ms, ...) __attribute__((sentinel));
/* Whether the file contains the bytes anywhere (not line by line). 1
 * yes, 0 no, -1 unreadable. */
int harness_file_contains(const char *path, const void *needle, size_t n);

/* Bytes the process has read so far through read-type system calls,
 * sockets included (rchar in /proc/PID/io); -1 if unreadable. Lets a test
 * act in the middle of a transfer whatever the programs print. */
int64_t harness_proc_rchar(pid_t pid);

#endif
