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

#endif
