/* The plaintext guard: a cheap statistical test, on every data payload,
 * that ciphertext passes and plaintext fails.
 *
 * An end-to-end record is indistinguishable from uniform random bytes, so
 * under that hypothesis each statistic below has an exactly known
 * binomial distribution, and each threshold is set where a Chernoff bound
 * on the tail is below a fixed budget. A payload is refused if any one
 * statistic passes its threshold; by the union bound the chance that a
 * real ciphertext is refused is below GUARD_FALSE_REFUSAL (1e-9) per
 * payload, whatever its length. The statistics, for a payload of n bytes:
 *   max  the count of the most frequent byte value: each count is
 *        Bin(n, 1/256); zero runs, padding, repeated patterns and most
 *        text fail it.
 *   text bytes in printable ASCII, tab, CR, LF (98 values): Bin(n, 98/256);
 *        JSON, HL7, FHIR, XML, CSV, PDF text fail it.
 *   near consecutive bytes equal or one apart (mod 256): the differences of
 *        uniform bytes are themselves independent and uniform, so this is
 *        Bin(n-1, 3/256); gradients, raw images and audio fail it.
 * A payload longer than 2 * GUARD_WINDOW is judged on its first and last
 * GUARD_WINDOW bytes (a uniform payload's windows are uniform too), so the
 * cost per frame is bounded: headers, text and padding show at the ends.
 * A payload shorter than GUARD_MIN_BYTES (16, a Noise tag) cannot be an
 * end-to-end record and is refused. For short payloads some thresholds
 * exceed the length (the text test cannot judge below ~30 bytes): such
 * payloads are judged by what can be judged, and any length from 16 up can
 * be a Noise transport message. */
#ifndef RELAY_GUARD_H
#define RELAY_GUARD_H

#include <stddef.h>
#include <stdint.h>

#define GUARD_MIN_BYTES 16u
#define GUARD_MAX_BYTES 65535u
#define GUARD_WINDOW 1024u
#define GUARD_FALSE_REFUSAL 1e-9

/* Computes the threshold tables and picks the widest vector loops the
 * CPU has (results are the same); call once before guard_ok(). */
void guard_init(void);
/* 1 if p (n bytes) may be an end-to-end record, 0 if it is refused. */
int guard_ok(const uint8_t *p, size_t n);

/* For tests and the false-refusal benchmark: the statistics of the judged
 * bytes and the thresholds for a payload of length n (a statistic >= its
 * threshold refuses). */
typedef struct {
	uint32_t max, text, near;
} guard_stats_t;
void guard_stats(const uint8_t *p, size_t n, guard_stats_t *out);
void guard_thresholds(size_t n, guard_stats_t *out);

#endif
