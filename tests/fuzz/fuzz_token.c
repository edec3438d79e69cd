/* Access token checks at the relay (relay/token.h). A registry with one
 * practice and one key is loaded once; every input is a token presented
 * on hello by practice-a/client-1, checked at a fixed time. The same
 * bytes, NUL-terminated, go through the RFC 3339 time parser.
 *
 * A mutated token almost never carries a valid signature, so the claim
 * checks after verification are reached mostly by the seed tokens and
 * mutations of their claims that the signature then refuses; the footer
 * parsing and everything before the signature check see every input. */
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "token.h"
#include "zkerr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static registry_t *reg;
static ident_t who;
static const token_rules_t rules = {
	.relay_id = FUZZ_RELAY_ID,
	.leeway_s = FUZZ_LEEWAY,
	.max_lifetime_s = FUZZ_MAX_LIFETIME,
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char dir[256], path[300], json[1024], err[256];
	size_t len = fuzz_registry_json(json, sizeof(json));

	fuzz_mkdtemp(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/" FUZZ_PRACTICE ".json", dir);
	if (fuzz_write_file(path, json, len))
		fuzz_die("write registry");
	if (registry_load(dir, &reg, err, sizeof(err)) || registry_count(reg) != 1) {
		fprintf(stderr, "%s\n", err);
		fuzz_die("registry_load");
	}
	/* The registry is in memory now; leave nothing behind. */
	unlink(path);
	rmdir(dir);
	if (ident_parse_uri(FUZZ_SUB_URI, strlen(FUZZ_SUB_URI), &who))
		fuzz_die("ident");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	token_claims_t *t = NULL;
	char *s;
	int64_t when;
	int rc;

	rc = token_verify(reg, &rules, &who, fuzz_cnf, data, size, FUZZ_NOW, &t);
	if (rc == 0) {
		if (strcmp(t->iss, FUZZ_PRACTICE) != 0 || t->ndst == 0 ||
		    t->ndst > TOKEN_MAX_DST || !token_still_valid(reg, t))
			abort();
		/* Every destination kept must be one the token allows. */
		for (size_t i = 0; i < t->ndst; i++) {
			char addr[WIRE_MAX_ADDR + 1];
			int n = snprintf(addr, sizeof(addr), "%s/%s", t->iss,
					 token_dst_endpoint(t, i));
			if (n <= 0 || (size_t)n >= sizeof(addr) ||
			    !token_allows(t, (const uint8_t *)addr, (size_t)n))
				abort();
		}
		(void)token_allows(t, (const uint8_t *)FUZZ_SAFE_ADDR, strlen(FUZZ_SAFE_ADDR));
		token_claims_free(&t);
	} else if (rc != -ZK_ETOKEN || t != NULL) {
		abort(); /* one refusal code, whatever the reason */
	}

	if (!(s = malloc(size + 1)))
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	rc = token_parse_time(s, &when);
	if (rc != 0 && rc != -ZK_EMALFORMED)
		abort();
	free(s);
	return 0;
}
