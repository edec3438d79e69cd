/* Registry files (relay/registry.h). Each input is written as the one
 * file practice-a.json of an otherwise empty directory, which is then
 * loaded; a registry that loads is queried and freed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "registry.h"
#include "zkerr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static char dir[256], path[300];

static void cleanup(void)
{
	unlink(path);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_mkdtemp(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/" FUZZ_PRACTICE ".json", dir);
	atexit(cleanup);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t pin[REGISTRY_PIN_LEN];
	registry_t *reg = NULL;
	const registry_practice_t *p;
	char err[512];
	int rc;

	if (fuzz_write_file(path, data, size))
		fuzz_die("write registry file");
	err[0] = '\0';
	rc = registry_load(dir, &reg, err, sizeof(err));
	if (rc != 0) {
		if (reg != NULL || (rc != -ZK_ECONFIG && rc != -ZK_EIO && rc != -ZK_ENOMEM) ||
		    err[0] == '\0' || memchr(err, '\0', sizeof(err)) == NULL)
			abort();
		return 0;
	}
	if (registry_count(reg) != 1 || !(p = registry_find(reg, FUZZ_PRACTICE, strlen(FUZZ_PRACTICE))))
		abort(); /* the file's name must be its practice id */
	(void)registry_practice_active(p);
	(void)registry_token_key(p, FUZZ_KID, strlen(FUZZ_KID));
	(void)registry_safe_known(p, "safe-1", 6);
	(void)registry_safe_ok(p, "safe-1", 6, pin);
	(void)registry_jti_revoked(p, FUZZ_JTI_REVOKED, strlen(FUZZ_JTI_REVOKED));
	(void)registry_find(reg, "practice-b", 10);
	registry_free(reg);
	return 0;
}
