/* Writes the seed corpora under DIR/<harness>/ (tests/fuzz/corpus): a few
 * valid inputs per harness, made with the project's own encoders and
 * token minting so they stay in step with the code.
 *   mkcorpus DIR */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_common.h"
#include "tokenmint.h"
#include "wire.h"
#include "zkerr.h"

static const char *root;

static void put(const char *harness, const char *name, const void *p, size_t len)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", root, harness);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/%s", root, harness, name);
	if (fuzz_write_file(path, p, len))
		fuzz_die(path);
}

static void puts_(const char *harness, const char *name, const char *s)
{
	put(harness, name, s, strlen(s));
}

/* rx_split seed: n fragments, limit byte, cut points, then the message. */
static void put_rx(const char *name, uint8_t nfrag_byte, uint8_t limit, const uint8_t *cuts,
		   size_t ncuts, const uint8_t *msg, size_t len)
{
	static uint8_t buf[70000];
	size_t n = 0;

	buf[n++] = nfrag_byte;
	buf[n++] = limit;
	if (ncuts)
		memcpy(buf + n, cuts, ncuts);
	n += ncuts;
	memcpy(buf + n, msg, len);
	put("fuzz_rx_split", name, buf, n + len);
}

static void wire_seeds(paseto_sk_t *sk, const char *token)
{
	static uint8_t big[4096];
	uint8_t buf[8192];
	buf_writer_t w;
	const char *dst = FUZZ_SAFE_ADDR, *src = FUZZ_SUB;
	static const uint8_t payload[] = "noise handshake message 1";
	static const uint8_t cuts3[] = { 40, 200 };
	static const uint8_t cuts8[] = { 1, 2, 3, 50, 51, 100, 255 };

	buf_writer_init(&w, buf, sizeof(buf));
	wire_put_hello(&w, WIRE_HELLO, (const uint8_t *)token, strlen(token));
	put("fuzz_wire", "hello", buf, w.len);
	put_rx("hello-2", 1, 255, cuts3, 1, buf, w.len);

	buf_writer_init(&w, buf, sizeof(buf));
	wire_put_hello(&w, WIRE_REFRESH, (const uint8_t *)token, strlen(token));
	put("fuzz_wire", "refresh", buf, w.len);

	buf_writer_init(&w, buf, sizeof(buf));
	wire_put_welcome(&w, FUZZ_PRACTICE, WIRE_ROLE_CLIENT, "client-1", 66560, 65535);
	put("fuzz_wire", "welcome", buf, w.len);

	buf_writer_init(&w, buf, sizeof(buf));
	wire_put_ack(&w, 1);
	wire_put_nack(&w, 3, 7, ZK_ENOROUTE);
	wire_put_close(&w, ZK_EIDLE, "idle");
	put("fuzz_wire", "ack-nack-close", buf, w.len);

	buf_writer_init(&w, buf, sizeof(buf));
	wire_put_data(&w, (const uint8_t *)dst, strlen(dst), NULL, 0, 1, 1, payload,
		      sizeof(payload) - 1);
	put("fuzz_wire", "data-dst", buf, w.len);
	put_rx("data-1", 0, 0, NULL, 0, buf, w.len);
	put_rx("data-3", 2, 0, cuts3, 2, buf, w.len);

	buf_writer_init(&w, buf, sizeof(buf));
	wire_put_data(&w, NULL, 0, (const uint8_t *)src, strlen(src), 2, 9, payload,
		      sizeof(payload) - 1);
	put("fuzz_wire", "data-src", buf, w.len);
	/* Refused by the relay: data without dst. */
	put_rx("data-nodst", 1, 0, cuts3, 1, buf, w.len);

	memset(big, 0xa5, sizeof(big));
	buf_writer_init(&w, buf, sizeof(buf));
	wire_put_hello(&w, WIRE_HELLO, (const uint8_t *)token, strlen(token));
	wire_put_data(&w, (const uint8_t *)dst, strlen(dst), NULL, 0, 1, 2, big, sizeof(big) / 2);
	wire_put_data(&w, (const uint8_t *)dst, strlen(dst), NULL, 0, 1, 3, big, 1);
	wire_put_ack(&w, UINT64_MAX);
	put("fuzz_wire", "batch", buf, w.len);
	put_rx("batch-8", 7, 255, cuts8, 7, buf, w.len);
	/* Two bytes over a 1024-byte limit. */
	put_rx("batch-over-limit", 3, 0, cuts8, 3, buf, 1026);
	if (!buf_writer_ok(&w))
		fuzz_die("wire seeds");
	(void)sk;
}

static char *mint(paseto_sk_t *sk, const char *kid, const char *jti, int64_t iat, int64_t exp)
{
	static const char *const dst[] = { FUZZ_SAFE_ADDR };
	tokenmint_t t = {
		.iss = FUZZ_PRACTICE, .kid = kid, .sub = FUZZ_SUB, .aud = FUZZ_RELAY_ID,
		.jti = jti, .iat = iat, .nbf = iat, .exp = exp, .dst = dst, .ndst = 1,
	};
	char *tok = NULL;

	memcpy(t.cnf, fuzz_cnf, sizeof(t.cnf));
	if (tokenmint(sk, &t, &tok))
		fuzz_die("tokenmint");
	return tok;
}

static void token_seeds(paseto_sk_t *sk, char **valid)
{
	char *tok, *plain;
	char ts[32];
	static const uint8_t m[] = "{\"hello\":1}";

	*valid = mint(sk, FUZZ_KID, "jti-1", FUZZ_NOW - 60, FUZZ_NOW + 600);
	puts_("fuzz_token", "valid", *valid);
	puts_("fuzz_paseto", "token-footer", *valid);
	tok = mint(sk, FUZZ_KID, FUZZ_JTI_REVOKED, FUZZ_NOW - 60, FUZZ_NOW + 600);
	puts_("fuzz_token", "revoked", tok);
	free(tok);
	tok = mint(sk, FUZZ_KID, "jti-2", FUZZ_NOW - 7200, FUZZ_NOW - 3600);
	puts_("fuzz_token", "expired", tok);
	free(tok);
	tok = mint(sk, "k2", "jti-3", FUZZ_NOW - 60, FUZZ_NOW + 600);
	puts_("fuzz_token", "unknown-kid", tok);
	free(tok);

	if (paseto_v4_sign(sk, m, sizeof(m) - 1, NULL, 0, NULL, 0, &plain))
		fuzz_die("paseto_v4_sign");
	puts_("fuzz_paseto", "token-plain", plain);
	free(plain);
	puts_("fuzz_paseto", "b64url", "SGVsbG8sIHdvcmxkIQ");

	tokenmint_time(FUZZ_NOW, ts, sizeof(ts));
	puts_("fuzz_token", "time-utc", ts);
	puts_("fuzz_token", "time-offset", "2026-02-28T23:59:60.123+01:30");
}

static void registry_seeds(void)
{
	char json[2048];
	size_t len = fuzz_registry_json(json, sizeof(json));

	put("fuzz_registry", "practice-a.json", json, len);
	puts_("fuzz_registry", "suspended.json",
	      "{\n  \"practice_id\": \"practice-a\",\n  \"status\": \"suspended\",\n"
	      "  \"token_keys\": [],\n  \"data_safes\": [],\n  \"revoked_jti\": []\n}\n");
}

/* fuzz_noise: byte 0 picks mode (0: responder reads message 1, 1:
 * initiator reads message 2, 2: transport decrypt) and cipher. */
static void noise_seeds(void)
{
	static uint8_t m1[NOISE_MAX_MSG], m2[NOISE_MAX_MSG], buf[NOISE_MAX_MSG + 2];
	static const uint8_t ad[] = "stream 7", pt[] = "an end-to-end record";
	static const char *const names[2] = { "aesgcm", "chachapoly" };
	char name[64];

	for (int c = 0; c < 2; c++) {
		noise_cipher_state_t *tx = NULL;
		size_t l1, l2, clen;

		fuzz_noise_session((noise_cipher_t)c, m1, &l1, m2, &l2, &tx, NULL);
		buf[0] = (uint8_t)(0 + 3 * c);
		memcpy(buf + 1, m1, l1);
		snprintf(name, sizeof(name), "ik-msg1-%s", names[c]);
		put("fuzz_noise", name, buf, l1 + 1);
		buf[0] = (uint8_t)(1 + 3 * c);
		memcpy(buf + 1, m2, l2);
		snprintf(name, sizeof(name), "ik-msg2-%s", names[c]);
		put("fuzz_noise", name, buf, l2 + 1);
		buf[0] = (uint8_t)(2 + 3 * c);
		buf[1] = sizeof(ad) - 1;
		memcpy(buf + 2, ad, sizeof(ad) - 1);
		if (noise_encrypt(tx, ad, sizeof(ad) - 1, pt, sizeof(pt) - 1, buf + 1 + sizeof(ad),
				  sizeof(buf) - 1 - sizeof(ad), &clen))
			fuzz_die("noise_encrypt");
		snprintf(name, sizeof(name), "transport-%s", names[c]);
		put("fuzz_noise", name, buf, 1 + sizeof(ad) + clen);
		noise_cipher_free(&tx);
	}
}

int main(int argc, char **argv)
{
	paseto_sk_t *sk = NULL;
	char *valid = NULL;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	root = argv[1];
	mkdir(root, 0755);
	if (paseto_sk_from_seed(fuzz_key_seed, sizeof(fuzz_key_seed), &sk))
		fuzz_die("paseto key");
	token_seeds(sk, &valid);
	wire_seeds(sk, valid);
	registry_seeds();
	noise_seeds();
	free(valid);
	paseto_sk_free(&sk);
	return 0;
}
