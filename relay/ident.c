#include "ident.h"

#include <openssl/x509v3.h>
#include <string.h>
#include <strings.h>

#include "zkerr.h"

#define URI_PREFIX "zkrelay://practice/"
#define SCHEME "zkrelay:"

int ident_id_ok(const char *s, size_t len)
{
	if (len == 0 || len > WIRE_MAX_ID)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
			return 0;
	}
	return 1;
}

/* Splits off the next '/'-terminated (or final) segment of [*p, end). */
static int segment(const char **p, const char *end, int last, const char **s, size_t *n)
{
	const char *slash = memchr(*p, '/', (size_t)(end - *p));
	if (last ? slash != NULL : slash == NULL)
		return -1;
	*s = *p;
	*n = (size_t)((last ? end : slash) - *p);
	*p = last ? end : slash + 1;
	return 0;
}

int ident_parse_uri(const char *uri, size_t len, ident_t *out)
{
	const size_t plen = sizeof(URI_PREFIX) - 1;
	const char *p, *end, *prac, *role, *ep;
	size_t np, nr, ne;
	ident_t id;

	if (len <= plen || memcmp(uri, URI_PREFIX, plen) != 0 || memchr(uri, 0, len))
		return -ZK_ECERT;
	p = uri + plen;
	end = uri + len;
	if (segment(&p, end, 0, &prac, &np) || segment(&p, end, 0, &role, &nr) ||
	    segment(&p, end, 1, &ep, &ne))
		return -ZK_ECERT;
	if (!ident_id_ok(prac, np) || !ident_id_ok(ep, ne))
		return -ZK_ECERT;
	memset(&id, 0, sizeof(id));
	if (nr == 4 && memcmp(role, "safe", 4) == 0)
		id.role = WIRE_ROLE_SAFE;
	else if (nr == 6 && memcmp(role, "client", 6) == 0)
		id.role = WIRE_ROLE_CLIENT;
	else
		return -ZK_ECERT;
	memcpy(id.practice, prac, np);
	memcpy(id.endpoint, ep, ne);
	memcpy(id.addr, prac, np);
	id.addr[np] = '/';
	memcpy(id.addr + np + 1, ep, ne);
	id.addr_len = np + 1 + ne;
	*out = id;
	return 0;
}

int ident_from_cert(X509 *cert, ident_t *out)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	int found = 0, rc = -ZK_ECERT;
	ident_t id;

	if (!names)
		return -ZK_ECERT;
	for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
		if (gn->type != GEN_URI)
			continue;
		const char *s = (const char *)ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier);
		int n = ASN1_STRING_length(gn->d.uniformResourceIdentifier);
		/* Schemes are case-insensitive (RFC 3986, 3.1): "ZKRELAY:" is
		 * one of ours too, and then refused as malformed. */
		if (n < (int)sizeof(SCHEME) - 1 || strncasecmp(s, SCHEME, sizeof(SCHEME) - 1))
			continue;
		if (++found > 1 || ident_parse_uri(s, (size_t)n, &id))
			goto out;
	}
	if (found == 1) {
		*out = id;
		rc = 0;
	}
out:
	GENERAL_NAMES_free(names);
	return rc;
}

int ident_addr_ok(const uint8_t *addr, size_t len, size_t *plen)
{
	const uint8_t *slash = memchr(addr, '/', len);
	if (!slash)
		return 0;
	size_t np = (size_t)(slash - addr);
	if (!ident_id_ok((const char *)addr, np) ||
	    !ident_id_ok((const char *)slash + 1, len - np - 1))
		return 0;
	*plen = np;
	return 1;
}
