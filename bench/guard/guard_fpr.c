/* zkrelay-guard-fpr: the plaintext guard's false refusals, measured.
 *
 * Feeds N random payloads (what ciphertext looks like; default 10,000,000)
 * of lengths log-uniform in 16..65535 to guard_ok() and counts refusals.
 * The guard's budget is below 1e-9 per payload by calculation, so the
 * expected count for 1e7 payloads is below 0.01. Only the bytes the guard
 * reads are generated (for a long payload its two end windows), which is
 * equivalent: every byte of a uniform payload is uniform and independent.
 *
 *   zkrelay-guard-fpr [N]
 */
#include <math.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "guard.h"

#define POOL (1u << 24)

int main(int argc, char **argv)
{
	unsigned long long n = argc > 1 ? strtoull(argv[1], NULL, 10) : 10000000ull, refused = 0;
	static uint8_t pool[POOL + GUARD_MAX_BYTES], payload[GUARD_MAX_BYTES];
	unsigned long long judged_bytes = 0;
	size_t pos = POOL;
	uint64_t lens;
	struct timespec t0, t1;

	guard_init();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned long long i = 0; i < n; i++) {
		if (pos + 2 * GUARD_WINDOW + 8 > POOL) {
			if (RAND_bytes(pool, POOL) != 1)
				return 1;
			pos = 0;
		}
		memcpy(&lens, pool + pos, sizeof(lens));
		pos += sizeof(lens);
		/* log-uniform length in [16, 65535] */
		double u = (double)(lens >> 11) / 9007199254740992.0;
		size_t len = (size_t)(16.0 * pow(65535.0 / 16.0, u));
		size_t need = len > 2 * GUARD_WINDOW ? 2 * GUARD_WINDOW : len;
		/* The judged bytes sit at the start and end of the payload. */
		if (len > 2 * GUARD_WINDOW) {
			memcpy(payload, pool + pos, GUARD_WINDOW);
			memcpy(payload + len - GUARD_WINDOW, pool + pos + GUARD_WINDOW, GUARD_WINDOW);
		} else {
			memcpy(payload, pool + pos, len);
		}
		pos += need;
		judged_bytes += need;
		if (!guard_ok(payload, len)) {
			refused++;
			fprintf(stderr, "refused: payload %llu of %zu bytes\n", i, len);
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("guard-fpr: payloads=%llu refused=%llu budget=%g expected_below=%g seconds=%.1f "
	       "ns_per_judged_byte=%.2f\n",
	       n, refused, GUARD_FALSE_REFUSAL, GUARD_FALSE_REFUSAL * (double)n, s,
	       s * 1e9 / (double)judged_bytes);
	return refused ? 1 : 0;
}
