/* PASETO v4.public parsing (common/paseto.h) and strict base64url
 * (common/b64url.h). The input is a token checked under one fixed key:
 * the footer is read without verification, then the whole token is
 * verified with and without an implicit assertion. The same bytes are
 * also decoded as base64url; anything accepted must encode back to the
 * very same characters, since the decoder accepts one spelling only. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "zkerr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static paseto_pk_t *pk;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	paseto_sk_t *sk = NULL;

	if (paseto_sk_from_seed(fuzz_key_seed, sizeof(fuzz_key_seed), &sk) ||
	    paseto_pk_from_sk(sk, &pk))
		fuzz_die("paseto key");
	paseto_sk_free(&sk);
	return 0;
}

static void check_b64url(const uint8_t *data, size_t size)
{
	static uint8_t out[PASETO_MAX_TOKEN * 2];
	static char enc[PASETO_MAX_TOKEN * 3];
	uint8_t small[8];
	size_t n = 0, m = 0;
	int rc;

	if (size > sizeof(out))
		size = sizeof(out);
	rc = b64url_decode((const char *)data, size, out, sizeof(out), &n);
	if (rc == 0) {
		if (n != b64url_decoded_len(size) ||
		    b64url_encode(out, n, enc, sizeof(enc), &m) != 0 || m != size ||
		    memcmp(enc, data, size) != 0)
			abort();
	} else if (rc != -ZK_EMALFORMED) {
		abort();
	}
	/* Too small a buffer: an error, never a partial write past cap. */
	rc = b64url_decode((const char *)data, size, small, sizeof(small), &n);
	if (rc == 0 && n > sizeof(small))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t implicit[] = "zkrelay implicit assertion";
	uint8_t foot[PASETO_MAX_TOKEN], tiny[4];
	uint8_t *msg = NULL, *footer = NULL;
	size_t mlen = 0, flen = 0, n = 0, tn = 0;
	int frc, vrc;

	frc = paseto_v4_footer((const char *)data, size, foot, sizeof(foot), &n);
	(void)paseto_v4_footer((const char *)data, size, tiny, sizeof(tiny), &tn);

	vrc = paseto_v4_verify(pk, (const char *)data, size, NULL, 0, &msg, &mlen, &footer, &flen);
	if (vrc == 0) {
		/* Verified: the unverified footer reader must have seen the
		 * same footer, and both buffers are NUL-terminated. */
		if (frc != 0 || n != flen || (flen && memcmp(foot, footer, flen) != 0) ||
		    msg[mlen] != '\0' || footer[flen] != '\0')
			abort();
		free(msg);
		free(footer);
	} else if (vrc != -ZK_ETOKEN) {
		abort();
	}
	msg = footer = NULL;
	vrc = paseto_v4_verify(pk, (const char *)data, size, implicit, sizeof(implicit) - 1, &msg,
			       &mlen, &footer, &flen);
	if (vrc == 0) {
		free(msg);
		free(footer);
	}

	check_b64url(data, size);
	return 0;
}
