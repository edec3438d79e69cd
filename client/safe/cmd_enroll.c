/* enroll: everything a new client needs, in one file.
 *
 * The grant binds the client's address, its end-to-end public key and
 * its certificate; the relay access token binds address and certificate
 * and lets the client reach this data-safe only. Both are signed with
 * the practice key, which never leaves the data-safe. */
#include <getopt.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "enroll.h"
#include "grant.h"
#include "keyfile.h"
#include "name.h"
#include "practice.h"
#include "safe.h"
#include "safecfg.h"
#include "tokenmint.h"
#include "zkerr.h"
#include "zkrelay.h"

#define DAY_S 86400
#define MAX_GRANT_DAYS 3650

typedef struct {
	const char *conf, *client, *client_key, *cert, *patient, *out;
	long grant_days, token_seconds;
	uint8_t e2e[32];
} args_t;

/* Strict decimal in lo..hi. */
static int parse_num(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return -1;
	v = strtol(s, &end, 10);
	if (*end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static int check_args(const safe_cmd_t *c, args_t *a)
{
	if (!a->conf || !a->client || !a->client_key || !a->cert)
		return safe_usage_error(c, "-c, --client, --client-key and --client-cert are needed");
	if (!name_addr_ok_str(a->client))
		return safe_usage_error(c, "--client is not an address PRACTICE/ENDPOINT");
	if (keyfile_decode_pub(a->client_key, a->e2e))
		return safe_usage_error(c, "--client-key is not a base64url X25519 public key");
	if (a->patient && !name_doc_ok_str(a->patient))
		return safe_usage_error(c, "--patient is not a valid patient id");
	return 0;
}

/* 0 when done, -1 after --help, or an exit status. */
static int parse_args(const safe_cmd_t *c, int argc, char **argv, args_t *a)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "client", required_argument, NULL, 'C' },
		{ "client-key", required_argument, NULL, 'k' },
		{ "client-cert", required_argument, NULL, 'x' },
		{ "patient", required_argument, NULL, 'p' },
		{ "grant-days", required_argument, NULL, 'g' },
		{ "token-seconds", required_argument, NULL, 't' },
		{ "out", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int o;

	while ((o = getopt_long(argc, argv, ":hc:", opts, NULL)) != -1) {
		switch (o) {
		case 'c': a->conf = optarg; break;
		case 'C': a->client = optarg; break;
		case 'k': a->client_key = optarg; break;
		case 'x': a->cert = optarg; break;
		case 'p': a->patient = optarg; break;
		case 'o': a->out = optarg; break;
		case 'g':
			if (parse_num(optarg, 1, MAX_GRANT_DAYS, &a->grant_days))
				return safe_usage_error(c, "--grant-days must be 1..3650");
			break;
		case 't':
			if (parse_num(optarg, 60, PRACTICE_TOKEN_MAX_S, &a->token_seconds))
				return safe_usage_error(c, "--token-seconds must be 60..3600");
			break;
		case 'h': safe_usage(c, stdout, 1); return -1;
		default: return safe_bad_option(c, o, argv);
		}
	}
	if (optind != argc)
		return safe_usage_error(c, "unexpected argument");
	return check_args(c, a);
}

/* 1 if cert names exactly the client address addr by its zkrelay URI:
 * a grant for one endpoint bound to another's certificate would only
 * fail later, at the relay, with a less clear message. */
static int cert_names(X509 *cert, const char *addr)
{
	GENERAL_NAMES *sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	const char *slash = strchr(addr, '/');
	char want[200];
	int found = 0, other = 0;

	snprintf(want, sizeof(want), "zkrelay://practice/%.*s/client/%s", (int)(slash - addr),
		 addr, slash + 1);
	for (int i = 0; i < sk_GENERAL_NAME_num(sans); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(sans, i);
		const char *u;
		int n;

		if (g->type != GEN_URI)
			continue;
		u = (const char *)ASN1_STRING_get0_data(g->d.uniformResourceIdentifier);
		n = ASN1_STRING_length(g->d.uniformResourceIdentifier);
		if (n < 10 || strncmp(u, "zkrelay://", 10))
			continue;
		if (strlen(want) == (size_t)n && memcmp(u, want, (size_t)n) == 0)
			found++;
		else
			other++;
	}
	GENERAL_NAMES_free(sans);
	return found == 1 && other == 0;
}

static int client_cnf(const char *path, const char *addr, uint8_t cnf[32], char *err,
		      size_t errlen)
{
	FILE *f = fopen(path, "r");
	X509 *cert = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	int rc = -ZK_ECERT;

	if (f)
		fclose(f);
	if (!cert)
		return zk_errf(err, errlen, rc, "%s: not a readable PEM certificate", path);
	if (!cert_names(cert, addr))
		zk_errf(err, errlen, rc, "%s: not the client certificate of %s", path, addr);
	else if ((rc = tokenmint_spki_sha256(cert, cnf)) != 0)
		zk_errf(err, errlen, rc, "%s: cannot hash its public key", path);
	X509_free(cert);
	return rc;
}

static int safe_pub(const safecfg_t *cfg, uint8_t pub[32], char *err, size_t errlen)
{
	uint8_t priv[ZKR_KEY_LEN];
	int rc = keyfile_read(cfg->static_key_file, priv, err, errlen);

	if (rc == 0 && (rc = zkr_public_key(priv, pub)) != 0)
		zk_errf(err, errlen, -ZK_EINVAL, "%s: not an X25519 key", cfg->static_key_file);
	zkr_wipe(priv, sizeof(priv));
	return rc;
}

/* Mints grant and token into e. */
static int mint(const safecfg_t *cfg, const args_t *a, enroll_t *e, char *err, size_t errlen)
{
	practice_t p;
	grant_t g;
	char *grant = NULL, *token = NULL;
	int64_t now = (int64_t)time(NULL);
	int rc;

	memset(&g, 0, sizeof(g));
	snprintf(g.sub, sizeof(g.sub), "%s", a->client);
	snprintf(g.patient, sizeof(g.patient), "%s", a->patient ? a->patient : "");
	memcpy(g.e2e, a->e2e, 32);
	rc = client_cnf(a->cert, a->client, g.cnf, err, errlen);
	if (rc || (rc = practice_open(cfg, &p, err, errlen)) != 0)
		return rc;
	rc = practice_grant(&p, &g, now, a->grant_days * DAY_S, &grant);
	if (rc == 0)
		rc = practice_relay_token(&p, a->client, g.cnf, now, a->token_seconds, g.exp, &token);
	practice_close(&p);
	if (rc == 0 && (strlen(grant) >= sizeof(e->grant) || strlen(token) >= sizeof(e->token)))
		rc = -ZK_ETOOLARGE;
	if (rc == 0) {
		memcpy(e->grant, grant, strlen(grant) + 1);
		memcpy(e->token, token, strlen(token) + 1);
	} else {
		zk_errf(err, errlen, rc, "cannot sign: %s", zk_err_name(rc));
	}
	free(grant);
	free(token);
	return rc;
}

static int fill(const safecfg_t *cfg, const args_t *a, enroll_t *e, char *err, size_t errlen)
{
	snprintf(e->relay_host, sizeof(e->relay_host), "%s", cfg->host);
	e->relay_port = (int)cfg->port;
	snprintf(e->server_name, sizeof(e->server_name), "%s", cfg->server_name);
	snprintf(e->practice, sizeof(e->practice), "%s", cfg->practice);
	snprintf(e->safe, sizeof(e->safe), "%s", cfg->address);
	snprintf(e->client, sizeof(e->client), "%s", a->client);
	snprintf(e->patient, sizeof(e->patient), "%s", a->patient ? a->patient : "");
	if (safe_pub(cfg, e->safe_key, err, errlen))
		return -1;
	return mint(cfg, a, e, err, errlen);
}

static int emit(const char *out, const enroll_t *e, char *err, size_t errlen)
{
	char *s;
	int rc;

	if (out)
		return enroll_write(out, e, err, errlen);
	s = enroll_dumps(e);
	if (!s)
		return zk_errf(err, errlen, -ZK_ENOMEM, "out of memory");
	rc = 0;
	if (fputs(s, stdout) < 0 || fflush(stdout))
		rc = zk_errf(err, errlen, -ZK_EIO, "stdout: write failed");
	zkr_wipe(s, strlen(s));
	free(s);
	return rc;
}

int safe_cmd_enroll(const safe_cmd_t *c, int argc, char **argv)
{
	args_t a = { .grant_days = 90, .token_seconds = PRACTICE_TOKEN_MAX_S };
	char err[SAFE_ERRLEN] = "";
	safecfg_t cfg;
	enroll_t *e;
	int rc = parse_args(c, argc, argv, &a);

	if (rc)
		return rc < 0 ? 0 : rc;
	if (safecfg_load(a.conf, &cfg, err, sizeof(err))) {
		fprintf(stderr, SAFE_PROG " enroll: %s\n", err);
		return SAFE_EXIT_FAIL;
	}
	e = calloc(1, sizeof(*e));
	rc = SAFE_EXIT_FAIL;
	if (!e)
		snprintf(err, sizeof(err), "out of memory");
	else if (fill(&cfg, &a, e, err, sizeof(err)) == 0 && emit(a.out, e, err, sizeof(err)) == 0)
		rc = 0;
	if (rc)
		fprintf(stderr, SAFE_PROG " enroll: %s\n", err);
	if (e)
		zkr_wipe(e, sizeof(*e));
	free(e);
	return rc;
}
