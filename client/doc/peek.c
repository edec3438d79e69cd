#include "peek.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "b64url.h"
#include "paseto.h"
#include "zkerr.h"

int peek_claims(const char *token, size_t len, json_t **claims)
{
	static const size_t hlen = sizeof(PASETO_V4_PUBLIC_HEADER) - 1;
	const char *body, *dot;
	uint8_t *raw = NULL;
	size_t blen, n = 0;
	json_t *j = NULL;
	int rc = -ZK_EMALFORMED;

	if (!token || len < hlen || len > PASETO_MAX_TOKEN ||
	    memcmp(token, PASETO_V4_PUBLIC_HEADER, hlen))
		return rc;
	body = token + hlen;
	dot = memchr(body, '.', len - hlen);
	blen = dot ? (size_t)(dot - body) : len - hlen;
	raw = malloc(blen + 1);
	if (!raw)
		return -ZK_ENOMEM;
	/* body = b64url(m || 64-byte signature) */
	if (b64url_decode(body, blen, raw, blen + 1, &n) || n < PASETO_SIG_LEN)
		goto fail;
	j = json_loadb((const char *)raw, n - PASETO_SIG_LEN, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(j))
		goto fail;
	*claims = j;
	j = NULL;
	rc = 0;
fail:
	json_decref(j);
	free(raw);
	return rc;
}
