/* noise.c: the cacophony test vectors for NK, KK, IK and XX with both
 * ciphers, then one test per way a handshake or transport message can be
 * wrong.
 *
 * The vectors are read at run time from
 * $ZK_VECTORS_DIR/noise-25519-sha256.json (default ../shared/vectors,
 * relative to the repository root the tests run from). Every handshake
 * and transport message is reproduced byte for byte by the sender and
 * decrypted by the receiver. Vectors named "NoisePSK_" use the pre-32
 * revision pre-shared-key scheme, which revision 34 replaced; they are
 * skipped and counted. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "noise.h"
#include "suites.h"
#include "zkerr.h"

#define MAXM (NOISE_MAX_MSG + 1)

/* ---- Helpers ---- */

static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t len = strlen(s);

	ck_assert_msg(len % 2 == 0 && len / 2 <= cap, "bad hex field");
	for (size_t i = 0; i < len / 2; i++) {
		unsigned int v;

		ck_assert_int_eq(sscanf(s + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
	return len / 2;
}

/* A 32-byte key field, or NULL if the vector has none. */
static const uint8_t *key_field(const json_t *v, const char *name, uint8_t out[NOISE_KEY_LEN])
{
	const char *s = json_string_value(json_object_get(v, name));

	if (s == NULL)
		return NULL;
	ck_assert_uint_eq(unhex(s, out, NOISE_KEY_LEN), NOISE_KEY_LEN);
	return out;
}

static json_t *load_vectors(void)
{
	const char *dir = getenv("ZK_VECTORS_DIR");
	char path[4096];
	json_error_t err;
	json_t *root;

	snprintf(path, sizeof(path), "%s/noise-25519-sha256.json",
		 dir != NULL ? dir : "../shared/vectors");
	root = json_load_file(path, 0, &err);
	ck_assert_msg(root != NULL, "%s: %s (line %d)", path, err.text, err.line);
	ck_assert(json_is_array(json_object_get(root, "vectors")));
	return root;
}

static int parse_pattern(const char *s, noise_pattern_t *p)
{
	static const struct {
		const char *name;
		noise_pattern_t p;
	} tab[] = {
		{ "NK", NOISE_PATTERN_NK },
		{ "KK", NOISE_PATTERN_KK },
		{ "IK", NOISE_PATTERN_IK },
		{ "XX", NOISE_PATTERN_XX },
	};

	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (strcmp(s, tab[i].name) == 0) {
			*p = tab[i].p;
			return 1;
		}
	return 0;
}

static int parse_cipher(const char *s, noise_cipher_t *c)
{
	if (strcmp(s, "AESGCM") == 0)
		*c = NOISE_CIPHER_AESGCM;
	else if (strcmp(s, "ChaChaPoly") == 0)
		*c = NOISE_CIPHER_CHACHAPOLY;
	else
		return 0;
	return 1;
}

/* Runs one vector; returns the number of messages checked. */
static size_t run_vector(const json_t *v, noise_pattern_t pat, noise_cipher_t cipher)
{
	const char *name = json_string_value(json_object_get(v, "name"));
	const json_t *msgs = json_object_get(v, "messages");
	uint8_t is[32], ie[32], irs[32], rsk[32], re[32], rrs[32];
	uint8_t iprol[256], rprol[256];
	size_t iplen = unhex(json_string_value(json_object_get(v, "init_prologue")), iprol,
			     sizeof(iprol));
	size_t rplen = unhex(json_string_value(json_object_get(v, "resp_prologue")), rprol,
			     sizeof(rprol));
	noise_handshake_t *ini = NULL, *rsp = NULL;
	noise_cipher_state_t *i_send = NULL, *i_recv = NULL, *r_send = NULL, *r_recv = NULL;
	static uint8_t payload[MAXM], expect[MAXM], out[MAXM], back[MAXM];
	uint8_t h1[NOISE_HASH_LEN], h2[NOISE_HASH_LEN];
	size_t i;

	ck_assert_int_eq(noise_handshake_new(&ini, pat, cipher, 1, iprol, iplen,
					     key_field(v, "init_static", is),
					     key_field(v, "init_remote_static", irs),
					     key_field(v, "init_ephemeral", ie)), 0);
	ck_assert_int_eq(noise_handshake_new(&rsp, pat, cipher, 0, rprol, rplen,
					     key_field(v, "resp_static", rsk),
					     key_field(v, "resp_remote_static", rrs),
					     key_field(v, "resp_ephemeral", re)), 0);
	ck_assert_msg(json_array_size(msgs) > 0, "%s: no messages", name);
	for (i = 0; i < json_array_size(msgs); i++) {
		const json_t *m = json_array_get(msgs, i);
		size_t plen = unhex(json_string_value(json_object_get(m, "payload")), payload,
				    sizeof(payload));
		size_t elen = unhex(json_string_value(json_object_get(m, "ciphertext")), expect,
				    sizeof(expect));
		int from_init = i % 2 == 0;
		size_t olen = 0, blen = 0;

		if (!noise_handshake_done(ini)) {
			noise_handshake_t *w = from_init ? ini : rsp, *r = from_init ? rsp : ini;

			ck_assert_int_eq(noise_write_message(w, payload, plen, out, sizeof(out),
							     &olen), 0);
			ck_assert_int_eq(noise_read_message(r, out, olen, back, sizeof(back),
							    &blen), 0);
		} else {
			ck_assert_int_eq(noise_encrypt(from_init ? i_send : r_send, NULL, 0,
						       payload, plen, out, sizeof(out), &olen), 0);
			ck_assert_int_eq(noise_decrypt(from_init ? r_recv : i_recv, NULL, 0, out,
						       olen, back, sizeof(back), &blen), 0);
		}
		ck_assert_msg(olen == elen && memcmp(out, expect, elen) == 0,
			      "%s: message %zu differs", name, i);
		ck_assert_msg(blen == plen && memcmp(back, payload, plen) == 0,
			      "%s: payload %zu differs", name, i);
		if (noise_handshake_done(ini) && i_send == NULL) {
			ck_assert(noise_handshake_done(rsp));
			ck_assert_int_eq(noise_handshake_hash(ini, h1, sizeof(h1)), 0);
			ck_assert_int_eq(noise_handshake_hash(rsp, h2, sizeof(h2)), 0);
			ck_assert_mem_eq(h1, h2, sizeof(h1));
			if (json_object_get(v, "handshake_hash") != NULL) {
				uint8_t hh[NOISE_HASH_LEN];

				ck_assert_uint_eq(unhex(json_string_value(json_object_get(
							  v, "handshake_hash")), hh, sizeof(hh)),
						  sizeof(hh));
				ck_assert_mem_eq(h1, hh, sizeof(hh));
			}
			ck_assert_int_eq(noise_split(ini, &i_send, &i_recv), 0);
			ck_assert_int_eq(noise_split(rsp, &r_send, &r_recv), 0);
		}
	}
	ck_assert_msg(i_send != NULL, "%s: handshake did not finish", name);
	noise_cipher_free(&i_send);
	noise_cipher_free(&i_recv);
	noise_cipher_free(&r_send);
	noise_cipher_free(&r_recv);
	noise_handshake_free(&ini);
	noise_handshake_free(&rsp);
	ck_assert_ptr_null(ini);
	return i;
}

/* ---- Vectors ---- */

START_TEST(test_vectors)
{
	json_t *root = load_vectors();
	const json_t *vecs = json_object_get(root, "vectors");
	int seen[4][2] = { { 0 } };
	size_t ran = 0, skipped = 0, msgs = 0;

	for (size_t i = 0; i < json_array_size(vecs); i++) {
		const json_t *v = json_array_get(vecs, i);
		const char *name = json_string_value(json_object_get(v, "name"));
		const char *dh = json_string_value(json_object_get(v, "dh"));
		const char *hash = json_string_value(json_object_get(v, "hash"));
		noise_pattern_t pat;
		noise_cipher_t cipher;

		ck_assert(name != NULL && dh != NULL && hash != NULL);
		if (strncmp(name, "Noise_", 6) != 0 || strcmp(dh, "25519") != 0 ||
		    strcmp(hash, "SHA256") != 0 ||
		    !parse_pattern(json_string_value(json_object_get(v, "pattern")), &pat) ||
		    !parse_cipher(json_string_value(json_object_get(v, "cipher")), &cipher)) {
			skipped++;
			continue;
		}
		msgs += run_vector(v, pat, cipher);
		seen[pat][cipher]++;
		ran++;
	}
	/* Every supported pattern and cipher met at least one vector. */
	for (int p = 0; p < 4; p++)
		for (int c = 0; c < 2; c++)
			ck_assert_msg(seen[p][c] > 0, "no vector for pattern %d cipher %d", p, c);
	ck_assert_uint_ge(ran, 8);
	ck_assert_uint_ge(msgs, 8 * 6);
	ck_assert_uint_eq(ran + skipped, json_array_size(vecs));
	json_decref(root);
}
END_TEST

/* ---- Handshakes with fresh keys ---- */

static const uint8_t init_priv[32] = {
	0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x01,
	0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x20,
};
static const uint8_t resp_priv[32] = {
	0xa1, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6, 0x07, 0x18, 0x29, 0x3a, 0x4b, 0x5c, 0x6d, 0x7e, 0x8f, 0x90,
	0x91, 0x82, 0x73, 0x64, 0x55, 0x46, 0x37, 0x28, 0x19, 0x0a, 0xfb, 0xec, 0xdd, 0xce, 0xbf, 0x40,
};
static const uint8_t prologue[] = "zkrelay test";

typedef struct {
	noise_handshake_t *ini, *rsp;
	noise_cipher_state_t *i_send, *i_recv, *r_send, *r_recv;
} pair_t;

static void ik_new(pair_t *p, const uint8_t *rs_for_init)
{
	uint8_t rpub[32];

	memset(p, 0, sizeof(*p));
	ck_assert_int_eq(noise_public_key(resp_priv, rpub, sizeof(rpub)), 0);
	ck_assert_int_eq(noise_handshake_new(&p->ini, NOISE_PATTERN_IK, NOISE_CIPHER_AESGCM, 1,
					     prologue, sizeof(prologue), init_priv,
					     rs_for_init != NULL ? rs_for_init : rpub, NULL), 0);
	ck_assert_int_eq(noise_handshake_new(&p->rsp, NOISE_PATTERN_IK, NOISE_CIPHER_AESGCM, 0,
					     prologue, sizeof(prologue), resp_priv, NULL, NULL), 0);
}

/* Runs both IK messages and splits. */
static void ik_connect(pair_t *p)
{
	uint8_t msg[256], pl[256];
	size_t mlen = 0, plen = 0;

	ik_new(p, NULL);
	ck_assert_int_eq(noise_write_message(p->ini, (const uint8_t *)"hi", 2, msg, sizeof(msg),
					     &mlen), 0);
	ck_assert_uint_eq(mlen, 32 + 48 + 2 + 16);
	ck_assert_int_eq(noise_read_message(p->rsp, msg, mlen, pl, sizeof(pl), &plen), 0);
	ck_assert_uint_eq(plen, 2);
	ck_assert_int_eq(noise_write_message(p->rsp, NULL, 0, msg, sizeof(msg), &mlen), 0);
	ck_assert_uint_eq(mlen, 32 + 16);
	ck_assert_int_eq(noise_read_message(p->ini, msg, mlen, pl, sizeof(pl), &plen), 0);
	ck_assert_uint_eq(plen, 0);
	ck_assert(noise_handshake_done(p->ini) && noise_handshake_done(p->rsp));
	ck_assert_int_eq(noise_split(p->ini, &p->i_send, &p->i_recv), 0);
	ck_assert_int_eq(noise_split(p->rsp, &p->r_send, &p->r_recv), 0);
}

static void pair_free(pair_t *p)
{
	noise_handshake_free(&p->ini);
	noise_handshake_free(&p->rsp);
	noise_cipher_free(&p->i_send);
	noise_cipher_free(&p->i_recv);
	noise_cipher_free(&p->r_send);
	noise_cipher_free(&p->r_recv);
}

START_TEST(test_ik_round_trip)
{
	pair_t p;
	uint8_t ipub[32], seen[32], h1[32], h2[32], ct[64], pt[64];
	size_t clen = 0, plen = 0;

	ik_connect(&p);
	/* The responder learnt the initiator's static key from message 1. */
	ck_assert_int_eq(noise_public_key(init_priv, ipub, sizeof(ipub)), 0);
	ck_assert_int_eq(noise_handshake_remote_static(p.rsp, seen, sizeof(seen)), 0);
	ck_assert_mem_eq(ipub, seen, 32);
	ck_assert_int_eq(noise_handshake_hash(p.ini, h1, sizeof(h1)), 0);
	ck_assert_int_eq(noise_handshake_hash(p.rsp, h2, sizeof(h2)), 0);
	ck_assert_mem_eq(h1, h2, 32);
	/* Both directions, and each direction's counter advances alone. */
	ck_assert_int_eq(noise_encrypt(p.r_send, NULL, 0, (const uint8_t *)"pong", 4, ct,
				       sizeof(ct), &clen), 0);
	ck_assert_int_eq(noise_decrypt(p.i_recv, NULL, 0, ct, clen, pt, sizeof(pt), &plen), 0);
	ck_assert_mem_eq(pt, "pong", 4);
	ck_assert_int_eq(noise_encrypt(p.i_send, (const uint8_t *)"ad", 2,
				       (const uint8_t *)"ping", 4, ct, sizeof(ct), &clen), 0);
	/* In place. */
	ck_assert_int_eq(noise_decrypt(p.r_recv, (const uint8_t *)"ad", 2, ct, clen, ct,
				       sizeof(ct), &plen), 0);
	ck_assert_mem_eq(ct, "ping", 4);
	ck_assert_uint_eq(noise_cipher_nonce(p.i_send), 1);
	ck_assert_uint_eq(noise_cipher_nonce(p.r_recv), 1);
	pair_free(&p);
}
END_TEST

START_TEST(test_random_ephemerals_differ)
{
	pair_t a, b;
	uint8_t m1[128], m2[128];
	size_t l1 = 0, l2 = 0;

	ik_new(&a, NULL);
	ik_new(&b, NULL);
	ck_assert_int_eq(noise_write_message(a.ini, NULL, 0, m1, sizeof(m1), &l1), 0);
	ck_assert_int_eq(noise_write_message(b.ini, NULL, 0, m2, sizeof(m2), &l2), 0);
	ck_assert_uint_eq(l1, l2);
	ck_assert(memcmp(m1, m2, 32) != 0);
	pair_free(&a);
	pair_free(&b);
}
END_TEST

/* ---- Negative tests ---- */

START_TEST(test_transport_bit_flip)
{
	pair_t p;
	uint8_t ct[64], pt[64];
	size_t clen = 0, plen = 0;

	ik_connect(&p);
	ck_assert_int_eq(noise_encrypt(p.i_send, NULL, 0, (const uint8_t *)"secret", 6, ct,
				       sizeof(ct), &clen), 0);
	for (size_t bit = 0; bit < clen * 8; bit += 7) {
		ct[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		ck_assert_int_eq(noise_decrypt(p.r_recv, NULL, 0, ct, clen, pt, sizeof(pt), &plen),
				 -ZK_EPROTO);
		ct[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	/* Wrong associated data and a truncated message fail too. */
	ck_assert_int_eq(noise_decrypt(p.r_recv, (const uint8_t *)"x", 1, ct, clen, pt, sizeof(pt),
				       &plen), -ZK_EPROTO);
	ck_assert_int_eq(noise_decrypt(p.r_recv, NULL, 0, ct, 15, pt, sizeof(pt), &plen),
			 -ZK_EMALFORMED);
	/* Failures left the counter alone: the real message still opens. */
	ck_assert_uint_eq(noise_cipher_nonce(p.r_recv), 0);
	ck_assert_int_eq(noise_decrypt(p.r_recv, NULL, 0, ct, clen, pt, sizeof(pt), &plen), 0);
	ck_assert_mem_eq(pt, "secret", 6);
	/* A replay does not. */
	ck_assert_int_eq(noise_decrypt(p.r_recv, NULL, 0, ct, clen, pt, sizeof(pt), &plen),
			 -ZK_EPROTO);
	pair_free(&p);
}
END_TEST

START_TEST(test_handshake_bit_flip)
{
	pair_t p;
	uint8_t msg[128], pl[128];
	size_t mlen = 0, plen = 0;

	ik_new(&p, NULL);
	ck_assert_int_eq(noise_write_message(p.ini, (const uint8_t *)"hi", 2, msg, sizeof(msg),
					     &mlen), 0);
	msg[mlen - 1] ^= 0x01;
	ck_assert_int_eq(noise_read_message(p.rsp, msg, mlen, pl, sizeof(pl), &plen), -ZK_EPROTO);
	/* The handshake is dead from now on. */
	msg[mlen - 1] ^= 0x01;
	ck_assert_int_eq(noise_read_message(p.rsp, msg, mlen, pl, sizeof(pl), &plen), -ZK_EPROTO);
	ck_assert(!noise_handshake_done(p.rsp));
	pair_free(&p);
}
END_TEST

START_TEST(test_ik_wrong_remote_static)
{
	static const uint8_t other_priv[32] = { 0x42, 0x42, 0x42, 0x42, 0x42 };
	uint8_t wrong[32], msg[128], pl[128];
	size_t mlen = 0, plen = 0;
	pair_t p;

	ck_assert_int_eq(noise_public_key(other_priv, wrong, sizeof(wrong)), 0);
	ik_new(&p, wrong);
	ck_assert_int_eq(noise_write_message(p.ini, NULL, 0, msg, sizeof(msg), &mlen), 0);
	ck_assert_int_eq(noise_read_message(p.rsp, msg, mlen, pl, sizeof(pl), &plen), -ZK_EPROTO);
	ck_assert_int_eq(noise_write_message(p.rsp, NULL, 0, msg, sizeof(msg), &mlen), -ZK_EPROTO);
	pair_free(&p);
}
END_TEST

START_TEST(test_prologue_mismatch)
{
	uint8_t rpub[32], msg[128], pl[128];
	size_t mlen = 0, plen = 0;
	noise_handshake_t *ini = NULL, *rsp = NULL;

	ck_assert_int_eq(noise_public_key(resp_priv, rpub, sizeof(rpub)), 0);
	ck_assert_int_eq(noise_handshake_new(&ini, NOISE_PATTERN_IK, NOISE_CIPHER_AESGCM, 1,
					     (const uint8_t *)"a", 1, init_priv, rpub, NULL), 0);
	ck_assert_int_eq(noise_handshake_new(&rsp, NOISE_PATTERN_IK, NOISE_CIPHER_AESGCM, 0,
					     (const uint8_t *)"b", 1, resp_priv, NULL, NULL), 0);
	ck_assert_int_eq(noise_write_message(ini, NULL, 0, msg, sizeof(msg), &mlen), 0);
	ck_assert_int_eq(noise_read_message(rsp, msg, mlen, pl, sizeof(pl), &plen), -ZK_EPROTO);
	noise_handshake_free(&ini);
	noise_handshake_free(&rsp);
}
END_TEST

START_TEST(test_too_large)
{
	static uint8_t big[MAXM + NOISE_TAG_LEN], out[MAXM + NOISE_TAG_LEN];
	size_t olen = 0;
	pair_t p;

	ik_new(&p, NULL);
	/* Handshake payload over the limit, and one that fits alone but not
	 * with the message's keys and tag. */
	ck_assert_int_eq(noise_write_message(p.ini, big, NOISE_MAX_MSG + 1, out, sizeof(out),
					     &olen), -ZK_ETOOLARGE);
	pair_free(&p);
	ik_new(&p, NULL);
	ck_assert_int_eq(noise_write_message(p.ini, big, NOISE_MAX_MSG - 32 - 48 - 15, out,
					     sizeof(out), &olen), -ZK_ETOOLARGE);
	pair_free(&p);
	ik_new(&p, NULL);
	ck_assert_int_eq(noise_write_message(p.ini, big, NOISE_MAX_MSG - 32 - 48 - 16, out,
					     sizeof(out), &olen), 0);
	ck_assert_uint_eq(olen, NOISE_MAX_MSG);
	ck_assert_int_eq(noise_read_message(p.rsp, big, NOISE_MAX_MSG + 1, out, sizeof(out),
					    &olen), -ZK_ETOOLARGE);
	pair_free(&p);

	ik_connect(&p);
	ck_assert_int_eq(noise_encrypt(p.i_send, NULL, 0, big, NOISE_MAX_MSG - NOISE_TAG_LEN + 1,
				       out, sizeof(out), &olen), -ZK_ETOOLARGE);
	ck_assert_int_eq(noise_decrypt(p.r_recv, NULL, 0, big, NOISE_MAX_MSG + 1, out, sizeof(out),
				       &olen), -ZK_ETOOLARGE);
	/* An output buffer one byte short. */
	ck_assert_int_eq(noise_encrypt(p.i_send, NULL, 0, big, 10, out, 10 + NOISE_TAG_LEN - 1,
				       &olen), -ZK_ETOOLARGE);
	ck_assert_uint_eq(noise_cipher_nonce(p.i_send), 0);
	ck_assert_int_eq(noise_encrypt(p.i_send, NULL, 0, big, NOISE_MAX_MSG - NOISE_TAG_LEN, out,
				       sizeof(out), &olen), 0);
	ck_assert_uint_eq(olen, NOISE_MAX_MSG);
	pair_free(&p);
}
END_TEST

START_TEST(test_nonce_exhausted)
{
	uint8_t ct[64], pt[64];
	size_t clen = 0, plen = 0;
	pair_t p;

	ik_connect(&p);
	noise_cipher_set_nonce(p.i_send, NOISE_NONCE_MAX - 1);
	noise_cipher_set_nonce(p.r_recv, NOISE_NONCE_MAX - 1);
	/* The last usable nonce works on both sides. */
	ck_assert_int_eq(noise_encrypt(p.i_send, NULL, 0, (const uint8_t *)"last", 4, ct,
				       sizeof(ct), &clen), 0);
	ck_assert_int_eq(noise_decrypt(p.r_recv, NULL, 0, ct, clen, pt, sizeof(pt), &plen), 0);
	ck_assert_uint_eq(noise_cipher_nonce(p.i_send), NOISE_NONCE_MAX);
	/* 2^64-1 is reserved: refused, and the counter does not wrap to 0. */
	ck_assert_int_eq(noise_encrypt(p.i_send, NULL, 0, (const uint8_t *)"more", 4, ct,
				       sizeof(ct), &clen), -ZK_EINVAL);
	ck_assert_int_eq(noise_encrypt(p.i_send, NULL, 0, (const uint8_t *)"more", 4, ct,
				       sizeof(ct), &clen), -ZK_EINVAL);
	ck_assert_uint_eq(noise_cipher_nonce(p.i_send), NOISE_NONCE_MAX);
	ck_assert_int_eq(noise_decrypt(p.r_recv, NULL, 0, ct, clen, pt, sizeof(pt), &plen),
			 -ZK_EINVAL);
	ck_assert_uint_eq(noise_cipher_nonce(p.r_recv), NOISE_NONCE_MAX);
	pair_free(&p);
}
END_TEST

START_TEST(test_out_of_turn)
{
	uint8_t msg[128], pl[128];
	size_t mlen = 0, plen = 0;
	noise_cipher_state_t *a = NULL, *b = NULL;
	pair_t p;

	ik_new(&p, NULL);
	/* The responder cannot speak first, the initiator cannot read first. */
	ck_assert_int_eq(noise_write_message(p.rsp, NULL, 0, msg, sizeof(msg), &mlen), -ZK_EINVAL);
	ck_assert_int_eq(noise_read_message(p.ini, msg, 48, pl, sizeof(pl), &plen), -ZK_EINVAL);
	ck_assert_int_eq(noise_split(p.ini, &a, &b), -ZK_EINVAL);
	ck_assert_ptr_null(a);
	ck_assert_int_eq(noise_handshake_hash(p.ini, msg, sizeof(msg)), -ZK_EINVAL);
	pair_free(&p);

	ik_connect(&p);
	ck_assert_int_eq(noise_write_message(p.ini, NULL, 0, msg, sizeof(msg), &mlen), -ZK_EINVAL);
	pair_free(&p);
}
END_TEST

START_TEST(test_short_message)
{
	uint8_t msg[128], pl[128];
	size_t mlen = 0, plen = 0;
	pair_t p;

	ik_new(&p, NULL);
	ck_assert_int_eq(noise_write_message(p.ini, NULL, 0, msg, sizeof(msg), &mlen), 0);
	/* One byte short of e, s and the payload tag. */
	ck_assert_int_eq(noise_read_message(p.rsp, msg, 31, pl, sizeof(pl), &plen), -ZK_EMALFORMED);
	pair_free(&p);
	ik_new(&p, NULL);
	ck_assert_int_eq(noise_write_message(p.ini, NULL, 0, msg, sizeof(msg), &mlen), 0);
	ck_assert_int_eq(noise_read_message(p.rsp, msg, mlen - 1, pl, sizeof(pl), &plen),
			 -ZK_EMALFORMED);
	pair_free(&p);
}
END_TEST

START_TEST(test_low_order_ephemeral)
{
	uint8_t msg[128], pl[128];
	size_t mlen = 0, plen = 0;
	pair_t p;

	ik_new(&p, NULL);
	ck_assert_int_eq(noise_write_message(p.ini, NULL, 0, msg, sizeof(msg), &mlen), 0);
	/* e = 0 is a low-order point: the DH result would be all zero. */
	memset(msg, 0, 32);
	ck_assert_int_eq(noise_read_message(p.rsp, msg, mlen, pl, sizeof(pl), &plen), -ZK_EPROTO);
	pair_free(&p);
}
END_TEST

START_TEST(test_missing_keys)
{
	noise_handshake_t *hs = NULL;

	/* IK initiator without the responder's key, IK responder without its
	 * own, XX without a static key, an unknown pattern. */
	ck_assert_int_eq(noise_handshake_new(&hs, NOISE_PATTERN_IK, NOISE_CIPHER_AESGCM, 1, NULL, 0,
					     init_priv, NULL, NULL), -ZK_EINVAL);
	ck_assert_int_eq(noise_handshake_new(&hs, NOISE_PATTERN_IK, NOISE_CIPHER_AESGCM, 0, NULL, 0,
					     NULL, NULL, NULL), -ZK_EINVAL);
	ck_assert_int_eq(noise_handshake_new(&hs, NOISE_PATTERN_XX, NOISE_CIPHER_AESGCM, 1, NULL, 0,
					     NULL, NULL, NULL), -ZK_EINVAL);
	ck_assert_int_eq(noise_handshake_new(&hs, (noise_pattern_t)99, NOISE_CIPHER_AESGCM, 1, NULL,
					     0, init_priv, init_priv, NULL), -ZK_EINVAL);
	ck_assert_ptr_null(hs);
	/* NK initiator has no static key. */
	ck_assert_int_eq(noise_handshake_new(&hs, NOISE_PATTERN_NK, NOISE_CIPHER_CHACHAPOLY, 1,
					     NULL, 0, NULL, init_priv, NULL), 0);
	noise_handshake_free(&hs);
	ck_assert_ptr_null(hs);
	noise_handshake_free(&hs);
	noise_handshake_free(NULL);
}
END_TEST

Suite *noise_suite(void)
{
	Suite *s = suite_create("noise");
	TCase *vec = tcase_create("vectors");
	TCase *tc = tcase_create("noise");

	tcase_add_test(vec, test_vectors);
	suite_add_tcase(s, vec);

	tcase_add_test(tc, test_ik_round_trip);
	tcase_add_test(tc, test_random_ephemerals_differ);
	tcase_add_test(tc, test_transport_bit_flip);
	tcase_add_test(tc, test_handshake_bit_flip);
	tcase_add_test(tc, test_ik_wrong_remote_static);
	tcase_add_test(tc, test_prologue_mismatch);
	tcase_add_test(tc, test_too_large);
	tcase_add_test(tc, test_nonce_exhausted);
	tcase_add_test(tc, test_out_of_turn);
	tcase_add_test(tc, test_short_message);
	tcase_add_test(tc, test_low_order_ephemeral);
	tcase_add_test(tc, test_missing_keys);
	suite_add_tcase(s, tc);
	return s;
}
