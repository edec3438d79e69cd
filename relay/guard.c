#include "guard.h"

#include <math.h>
#include <string.h>

/* Thresholds are computed for the upper end of each length bucket: for a
 * fixed count k, P(Bin(n, p) >= k) grows with n, so a threshold that holds
 * at the bucket's largest n holds for every n in it. Buckets are 1/32 of
 * an octave wide, so thresholds are at most ~2% conservative. */
#define STEPS_PER_OCTAVE 32
#define NBUCKETS (STEPS_PER_OCTAVE * 12 + 1) /* 16 .. 65535 */

static guard_stats_t table[NBUCKETS];
static uint32_t bucket_top[NBUCKETS];
static int ready;

/* The three statistics share the budget equally; max also covers all
 * 256 byte values (union bound). */
#define BUDGET_EACH (GUARD_FALSE_REFUSAL / 3.0)

/* Chernoff bound on P(Bin(n, p) >= k) for k > np: exp(-n D(k/n || p)). */
static double tail_bound(double n, double p, double k)
{
	double a = k / n;
	if (a <= p)
		return 1.0;
	if (a >= 1.0)
		return pow(p, n);
	double d = a * log(a / p) + (1 - a) * log((1 - a) / (1 - p));
	return exp(-n * d);
}

/* The smallest k with bound(n, p, k) * multiplicity <= budget. */
static uint32_t threshold(double n, double p, double multiplicity, double budget)
{
	uint32_t lo = (uint32_t)ceil(n * p), hi = (uint32_t)n + 1;
	while (lo < hi) { /* the bound falls as k grows */
		uint32_t mid = lo + (hi - lo) / 2;
		if (tail_bound(n, p, mid) * multiplicity <= budget)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* The number of bytes judged for a payload of n bytes. */
static size_t judged(size_t n)
{
	return n > 2 * GUARD_WINDOW ? 2 * GUARD_WINDOW : n;
}

static size_t bucket_of(size_t n)
{
	/* The first bucket whose top is >= n. */
	size_t lo = 0, hi = NBUCKETS - 1;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (bucket_top[mid] >= n)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

void guard_init(void)
{
	if (ready)
		return;
	for (size_t i = 0; i < NBUCKETS; i++) {
		double top = floor(GUARD_MIN_BYTES * pow(2.0, (double)i / STEPS_PER_OCTAVE));
		if (top > GUARD_MAX_BYTES || i == NBUCKETS - 1)
			top = GUARD_MAX_BYTES;
		bucket_top[i] = (uint32_t)top;
		table[i].max = threshold(top, 1.0 / 256, 256, BUDGET_EACH);
		table[i].text = threshold(top, 98.0 / 256, 1, BUDGET_EACH);
		table[i].near = threshold(top - 1, 3.0 / 256, 1, BUDGET_EACH);
	}
	ready = 1;
}

void guard_thresholds(size_t n, guard_stats_t *out)
{
	guard_init();
	*out = table[bucket_of(judged(n))];
}

/* Printable ASCII, tab, LF, CR. */
static int is_text(unsigned b)
{
	return (b >= 0x20 && b <= 0x7e) || b == '\t' || b == '\n' || b == '\r';
}

/* The per-byte work is one histogram increment and one difference; the
 * maximum and the text count are read off the histogram afterwards. */
static uint32_t scan(const uint8_t *p, size_t n, uint32_t count[256])
{
	/* Four partial histograms: consecutive equal bytes would otherwise
	 * wait on each other's increment. */
	uint32_t part[4][256], near = 0;
	size_t i;

	memset(part, 0, sizeof(part));
	for (i = 0; i + 4 <= n; i += 4) {
		part[0][p[i]]++;
		part[1][p[i + 1]]++;
		part[2][p[i + 2]]++;
		part[3][p[i + 3]]++;
	}
	for (; i < n; i++)
		part[0][p[i]]++;
	for (unsigned b = 0; b < 256; b++)
		count[b] += part[0][b] + part[1][b] + part[2][b] + part[3][b];
	for (i = 1; i < n; i++) /* d in {255, 0, 1} <=> d + 1 in {0, 1, 2} */
		near += (uint8_t)(p[i] - p[i - 1] + 1) <= 2;
	return near;
}

void guard_stats(const uint8_t *p, size_t n, guard_stats_t *out)
{
	uint32_t count[256];

	memset(count, 0, sizeof(count));
	memset(out, 0, sizeof(*out));
	if (n > 2 * GUARD_WINDOW) {
		out->near = scan(p, GUARD_WINDOW, count);
		out->near += scan(p + n - GUARD_WINDOW, GUARD_WINDOW, count);
	} else {
		out->near = scan(p, n, count);
	}
	for (unsigned b = 0; b < 256; b++) {
		if (count[b] > out->max)
			out->max = count[b];
		if (is_text(b))
			out->text += count[b];
	}
}

int guard_ok(const uint8_t *p, size_t n)
{
	guard_stats_t s, t;

	if (n < GUARD_MIN_BYTES)
		return 0;
	guard_stats(p, n, &s);
	guard_thresholds(n, &t);
	/* Two windows have one adjacent pair fewer than one run of their
	 * length; the threshold for the longer run is the larger, so it
	 * stays conservative. */
	return s.max < t.max && s.text < t.text && s.near < t.near;
}
