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
#include "noise.h"
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

/* Noise IK fixtures: fixed static and ephemeral X25519 private keys for
 * both sides, so every handshake message (and every seed) is the same on
 * every run. Test keys, not secrets. */
static const uint8_t fuzz_noise_init_s[32] = {
	0xe6, 0x1e, 0xf9, 0x91, 0x9c, 0xde, 0x45, 0xdd, 0x5f, 0x82, 0x16, 0x64, 0x04, 0xbd, 0x08, 0xe3,
	0x8b, 0xce, 0xb5, 0xdf, 0xdf, 0xde, 0xd0, 0xa3, 0x4c, 0x8d, 0xf7, 0xed, 0x54, 0x22, 0x14, 0xd1,
};
static const uint8_t fuzz_noise_resp_s[32] = {
	0x4a, 0x3a, 0xcb, 0xfd, 0xb1, 0x63, 0xde, 0xc6, 0x51, 0xdf, 0xa3, 0x19, 0x4d, 0xec, 0xe6, 0x76,
	0xd4, 0x37, 0x02, 0x9c, 0x62, 0xa4, 0x08, 0xb4, 0xc5, 0xea, 0x91, 0x14, 0x24, 0x6e, 0x48, 0x93,
};
static const uint8_t fuzz_noise_init_e[32] = {
	0x89, 0x3e, 0x28, 0xb9, 0xdc, 0x6c, 0xa8, 0xd6, 0x11, 0xab, 0x66, 0x47, 0x54, 0xb8, 0xce, 0xb7,
	0xba, 0xc5, 0x11, 0x73, 0x49, 0xa4, 0x43, 0x9a, 0x6b, 0x05, 0x69, 0xda, 0x97, 0x7c, 0x46, 0x4a,
};
static const uint8_t fuzz_noise_resp_e[32] = {
	0xbb, 0xdb, 0x4c, 0xdb, 0xd3, 0x09, 0xf1, 0xa1, 0xf2, 0xe1, 0x45, 0x69, 0x69, 0x66, 0x4a, 0x16,
	0x3b, 0x3d, 0xe8, 0x9a, 0x0b, 0xde, 0x85, 0x5c, 0x3d, 0xc5, 0x01, 0xd6, 0x4e, 0xb5, 0x1e, 0x3e,
};
#define FUZZ_NOISE_PROLOGUE "zkrelay fuzz"

/* A fresh IK handshake for one side with the fixed keys. The responder's
 * public key is computed once: a scalar multiplication per run would
 * cost a good part of a harness's speed. */
static inline noise_handshake_t *fuzz_noise_hs(int initiator, noise_cipher_t cipher)
{
	static uint8_t resp_pub[NOISE_KEY_LEN];
	static int have_pub;
	noise_handshake_t *hs = NULL;

	if (!have_pub && noise_public_key(fuzz_noise_resp_s, resp_pub, sizeof(resp_pub)))
		fuzz_die("noise public key");
	have_pub = 1;
	if (noise_handshake_new(&hs, NOISE_PATTERN_IK, cipher, initiator,
				(const uint8_t *)FUZZ_NOISE_PROLOGUE, sizeof(FUZZ_NOISE_PROLOGUE) - 1,
				initiator ? fuzz_noise_init_s : fuzz_noise_resp_s,
				initiator ? resp_pub : NULL,
				initiator ? fuzz_noise_init_e : fuzz_noise_resp_e))
		fuzz_die("noise handshake");
	return hs;
}

/* A whole IK handshake with the fixed keys: its two messages (into m1 and
 * m2, each NOISE_MAX_MSG bytes) and, if wanted, the initiator's sending
 * and the responder's receiving cipher state. */
static inline void fuzz_noise_session(noise_cipher_t cipher, uint8_t *m1, size_t *m1len,
				      uint8_t *m2, size_t *m2len, noise_cipher_state_t **i_send,
				      noise_cipher_state_t **r_recv)
{
	static const uint8_t p1[] = "hello, data-safe", p2[] = "welcome";
	noise_handshake_t *ini = fuzz_noise_hs(1, cipher), *res = fuzz_noise_hs(0, cipher);
	noise_cipher_state_t *a = NULL, *b = NULL, *c = NULL, *d = NULL;
	uint8_t pl[64];
	size_t plen;

	if (noise_write_message(ini, p1, sizeof(p1) - 1, m1, NOISE_MAX_MSG, m1len) ||
	    noise_read_message(res, m1, *m1len, pl, sizeof(pl), &plen) ||
	    noise_write_message(res, p2, sizeof(p2) - 1, m2, NOISE_MAX_MSG, m2len) ||
	    noise_read_message(ini, m2, *m2len, pl, sizeof(pl), &plen) ||
	    noise_split(ini, &a, &b) || noise_split(res, &c, &d))
		fuzz_die("noise session");
	noise_handshake_free(&ini);
	noise_handshake_free(&res);
	noise_cipher_free(&b);
	noise_cipher_free(&c);
	if (i_send)
		*i_send = a;
	else
		noise_cipher_free(&a);
	if (r_recv)
		*r_recv = d;
	else
		noise_cipher_free(&d);
}

#endif
