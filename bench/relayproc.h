/* The relay under test: one zkrelay process on a free loopback port, with
 * a configuration written for the benchmark and its log in a temporary
 * directory.
 *
 * The integration-test harness can start a relay too, but only with the
 * PKI it generates itself from a script named in the environment; the
 * benchmark is handed an existing PKI directory and uses it read-only.
 *
 * The relay gets a parent death signal, so it never outlives the
 * benchmark, even when the benchmark is killed. */
#ifndef ZK_BENCH_RELAYPROC_H
#define ZK_BENCH_RELAYPROC_H

#include <stdio.h>
#include <sys/types.h>

typedef struct {
	char dir[256];   /* temporary directory: relay.conf, relay.log */
	char conf[320];
	char log[320];
	char pki[256];   /* absolute path of the PKI directory */
	pid_t pid;       /* 0 when not running */
	int status;      /* waitpid() status once it has exited */
	int exited;
	int port;
	int ops_port;    /* plain HTTP /metrics on 127.0.0.1 */
	char err[512];
} relayproc_t;

/* Makes the directory, writes the config (listen on 127.0.0.1 at a free
 * port, the ops listener on another, TLS files from pki_dir, relay
 * defaults for every limit unless extra_conf, INI sections appended to
 * the file, sets them; NULL for none), starts relay_bin and waits up to
 * 10 s for its "listening" log line. Retries with other ports when the
 * relay exits first (another process took a port). 0, or -1 with rp->err
 * set. */
int relayproc_start(relayproc_t *rp, const char *relay_bin, const char *pki_dir,
		    const char *extra_conf);

/* 1 while the relay runs; reaps it once it has exited. */
int relayproc_alive(relayproc_t *rp);

/* How the relay ended, for messages: "exited with status 0", "was killed
 * by signal 9", or "running". */
const char *relayproc_how(const relayproc_t *rp, char *buf, size_t cap);

/* SIGTERM, then waits up to timeout_ms (then SIGKILL). 0 when the relay
 * exited with status 0; -1 with rp->err set when it had already ended,
 * ended otherwise, or had to be killed. */
int relayproc_stop(relayproc_t *rp, int timeout_ms);

/* Writes relay log lines to out: with problems_only, the warn and error
 * lines and anything that is not a JSON line; otherwise the last
 * max_lines lines. Returns how many lines were written. */
int relayproc_print_log(const relayproc_t *rp, FILE *out, int problems_only, int max_lines);

/* Kills the relay if it still runs. Removes the directory unless keep,
 * in which case it says where the directory is. */
void relayproc_cleanup(relayproc_t *rp, int keep);

#endif
