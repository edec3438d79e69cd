/* Shared by the libFuzzer harnesses and the seed corpus generator: the
 * fixed token key, the identity a token is checked for, and a scratch
 * directory removed at exit. Everything here is deterministic, so a
 * reproducer found on one machine reproduces on another. */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "b64url.h"
#include "paseto.h"

/* 32-byte Ed25519 seed of practice-a's token key "k1". A fuzzing key, not
 * a secret: it signs the seed tokens and nothing else. */
static const uint8_t fuzz_key_seed[32] = {
	0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec, 0x2c, 0xc4,
	0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03, 0x1c, 0xae, 0x7f, 0x60,
};

#define FUZZ_PRACTICE "practice-a"
#define FUZZ_KID "k1"
#define FUZZ_SUB "practice-a/client-1"
#define FUZZ_SUB_URI "zkrelay://practice/practice-a/client/client-1"
#define FUZZ_SAFE_ADDR "practice-a/safe-1"
#define FUZZ_RELAY_ID "relay-1"
#define FUZZ_JTI_REVOKED "revoked-1"
/* 2026-01-01T00:00:00Z: "now" for token checks, fixed so a seed token
 * never expires. */
#define FUZZ_NOW INT64_C(1767225600)
#define FUZZ_LEEWAY 60
#define FUZZ_MAX_LIFETIME 3600

/* SHA-256 of the holder certificate's SPKI (cnf) and of safe-1's (pin):
 * any fixed 32 bytes do, as no certificate is involved. */
static const uint8_t fuzz_cnf[32] = {
	0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10,
	0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20,
};
#define FUZZ_SAFE_PIN_HEX "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"

/* Aborts: a harness that cannot set itself up must not report a clean run. */
_Noreturn static inline void fuzz_die(const char *what)
{
	fprintf(stderr, "fuzz setup failed: %s\n", what);
	abort();
}

/* Writes len bytes to path (truncating). 0 or -1. */
static inline int fuzz_write_file(const char *path, const void *p, size_t len)
{
	FILE *f = fopen(path, "wb");
	int rc = 0;

	if (!f)
		return -1;
	if (len && fwrite(p, 1, len, f) != len)
		rc = -1;
	if (fclose(f) != 0)
		rc = -1;
	return rc;
}

/* A fresh directory under $TMPDIR (or /tmp) into path (cap bytes). */
static inline void fuzz_mkdtemp(char *path, size_t cap)
{
	const char *tmp = getenv("TMPDIR");

	if (!tmp || !*tmp)
		tmp = "/tmp";
	if ((size_t)snprintf(path, cap, "%s/zkrelay-fuzz.XXXXXX", tmp) >= cap || !mkdtemp(path))
		fuzz_die("mkdtemp");
}

/* practice-a's registry file: active, token key k1 (the public half of
 * fuzz_key_seed), data-safe safe-1, one revoked jti. The layout is the
 * one deploy/dev-registry.sh writes. Returns the length written. */
static inline size_t fuzz_registry_json(char *out, size_t cap)
{
	paseto_sk_t *sk = NULL;
	paseto_pk_t *pk = NULL;
	uint8_t raw[PASETO_KEY_LEN];
	char pub[64];
	size_t publen;
	int n;

	if (paseto_sk_from_seed(fuzz_key_seed, sizeof(fuzz_key_seed), &sk) ||
	    paseto_pk_from_sk(sk, &pk) || paseto_pk_to_raw(pk, raw, sizeof(raw)) < 0 ||
	    b64url_encode(raw, sizeof(raw), pub, sizeof(pub) - 1, &publen))
		fuzz_die("token key");
	pub[publen] = '\0';
	paseto_sk_free(&sk);
	paseto_pk_free(&pk);
	n = snprintf(out, cap,
		     "{\n"
		     "  \"practice_id\": \"" FUZZ_PRACTICE "\",\n"
		     "  \"status\": \"active\",\n"
		     "  \"token_keys\": [\n"
		     "    { \"kid\": \"" FUZZ_KID "\", \"public_key\": \"%s\" }\n"
		     "  ],\n"
		     "  \"data_safes\": [\n"
		     "    { \"endpoint_id\": \"safe-1\", \"spki_sha256\": \"" FUZZ_SAFE_PIN_HEX "\" }\n"
		     "  ],\n"
		     "  \"revoked_jti\": [\"" FUZZ_JTI_REVOKED "\"]\n"
		     "}\n",
		     pub);
	if (n < 0 || (size_t)n >= cap)
		fuzz_die("registry json");
	return (size_t)n;
}

#endif
