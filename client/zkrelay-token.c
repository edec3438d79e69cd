/* zkrelay-token: issues a practice access token, as a data-safe does.
 *
 *   zkrelay-token --key PRACTICE_KEY.pem --iss PRACTICE --kid KID
 *                 --cert HOLDER.crt --dst PRACTICE/SAFE [--dst ...]
 *                 [--aud RELAY_ID] [--ttl SECONDS] [--jti ID]
 *
 * The holder's address (sub) and certificate hash (cnf) come from the
 * holder's certificate, so a token can only ever be used together with
 * that certificate's private key. */
#include <getopt.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>

#include "ident.h"
#include "tokenmint.h"
#include "zkerr.h"

#define MAX_DST 16

static void usage(FILE *f)
{
	fprintf(f,
		"usage: zkrelay-token --key PEM --iss PRACTICE --kid KID --cert HOLDER.crt\n"
		"                     --dst PRACTICE/SAFE [--dst ...] [--aud RELAY_ID]\n"
		"                     [--ttl SECONDS] [--jti ID]\n"
		"\n"
		"Prints a PASETO v4.public access token for the holder of HOLDER.crt,\n"
		"signed with the practice's Ed25519 key. --ttl defaults to 3600 (the\n"
		"relay accepts at most one hour); --aud defaults to zkrelay-dev; --jti\n"
		"defaults to a random id. The holder's address is read from the\n"
		"certificate's zkrelay URI SAN.\n");
}

/* The holder's "<practice>/<endpoint>", by the relay's own strict rule. */
static int holder_addr(const char *cert_path, char *out, size_t cap)
{
	FILE *fp = fopen(cert_path, "r");
	X509 *cert = fp ? PEM_read_X509(fp, NULL, NULL, NULL) : NULL;
	ident_t id;
	int rc = -1;

	if (fp)
		fclose(fp);
	if (cert && ident_from_cert(cert, &id) == 0 && id.addr_len < cap) {
		memcpy(out, id.addr, id.addr_len + 1);
		rc = 0;
	}
	X509_free(cert);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' }, { "iss", required_argument, NULL, 'i' },
		{ "kid", required_argument, NULL, 'K' }, { "cert", required_argument, NULL, 'c' },
		{ "dst", required_argument, NULL, 'd' }, { "aud", required_argument, NULL, 'a' },
		{ "ttl", required_argument, NULL, 't' }, { "jti", required_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },      { 0 }
	};
	const char *key = NULL, *cert = NULL, *dst[MAX_DST];
	char sub[160], jti[40], *token = NULL, *end;
	tokenmint_t t = { .aud = "zkrelay-dev", .dst = dst };
	long ttl = 3600;
	paseto_sk_t *sk = NULL;
	int o, rc;

	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 'k': key = optarg; break;
		case 'i': t.iss = optarg; break;
		case 'K': t.kid = optarg; break;
		case 'c': cert = optarg; break;
		case 'a': t.aud = optarg; break;
		case 'j': t.jti = optarg; break;
		case 'd':
			if (t.ndst == MAX_DST) {
				fprintf(stderr, "zkrelay-token: at most %d --dst\n", MAX_DST);
				return 2;
			}
			dst[t.ndst++] = optarg;
			break;
		case 't':
			ttl = strtol(optarg, &end, 10);
			if (*end || ttl < 1 || ttl > 3600) {
				fprintf(stderr, "zkrelay-token: --ttl must be 1..3600 seconds\n");
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!key || !t.iss || !t.kid || !cert || t.ndst == 0 || optind < argc) {
		usage(stderr);
		return 2;
	}
	if (holder_addr(cert, sub, sizeof(sub)) || tokenmint_cert_cnf(cert, t.cnf)) {
		fprintf(stderr, "zkrelay-token: %s: not a certificate with one zkrelay URI SAN\n", cert);
		return 1;
	}
	if (tokenmint_load_key(key, &sk)) {
		fprintf(stderr, "zkrelay-token: %s: not an Ed25519 private key\n", key);
		return 1;
	}
	if (!t.jti) {
		unsigned char r[16];
		if (RAND_bytes(r, sizeof(r)) != 1)
			return 1;
		for (size_t i = 0; i < sizeof(r); i++)
			snprintf(jti + 2 * i, 3, "%02x", r[i]);
		t.jti = jti;
	}
	t.sub = sub;
	t.iat = t.nbf = (int64_t)time(NULL);
	t.exp = t.iat + ttl;
	rc = tokenmint(sk, &t, &token);
	paseto_sk_free(&sk);
	if (rc) {
		fprintf(stderr, "zkrelay-token: cannot sign: %s\n", zk_err_name(rc));
		return 1;
	}
	printf("%s\n", token);
	free(token);
	return 0;
}
