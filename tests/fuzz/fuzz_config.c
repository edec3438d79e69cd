/* Relay configuration (relay/config.h): the input, NUL-terminated, is an
 * INI text read over the embedded defaults; a text that loads is then
 * checked by the cross-key rules. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "zkerr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	config_t cfg;
	char err[512], *text;
	int rc;

	if (!(text = malloc(size + 1)))
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	config_defaults(&cfg);
	err[0] = '\0';
	rc = config_load_string(&cfg, text, err, sizeof(err));
	if (rc == 0) {
		if (config_validate(&cfg, err, sizeof(err)) == 0 &&
		    config_payload_limit(&cfg) > cfg.max_payload_bytes)
			abort();
	} else if (rc != -ZK_ECONFIG || err[0] == '\0') {
		abort();
	}
	free(text);
	return 0;
}
