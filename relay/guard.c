#include "guard.h"

#include <math.h>
#include <string.h>

/* Thresholds are computed for the upper end of each length bucket: for a
 * fixed count k, P(Bin(n, p) >= k) grows with n, so a threshold that holds
 * at the bucket's largest n holds for every n in it. Buckets are 1/32 of
 * an octave wide, so thresholds are at most ~2% conservative. */
#define STEPS_PER_OCTAVE 32
#define NBUCKETS (STEPS_PER_OCTAVE * 12 + 1) /* 16 .. 65535 */

#if defined(__x86_64__) && defined(__GNUC__)
/* The CPU has AVX2 (set by guard_init()): count 32 positions a step. */
static int wide;
#endif

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
#if defined(__x86_64__) && defined(__GNUC__)
	wide = __builtin_cpu_supports("avx2");
#endif
	ready = 1;
}

void guard_thresholds(size_t n, guard_stats_t *out)
{
	guard_init();
	*out = table[bucket_of(judged(n))];
}

/* Printable ASCII, tab, LF, CR. */
static inline uint32_t is_text(uint8_t b)
{
	return ((uint8_t)(b - 0x20) < 0x5f) | (b == '\t') | (b == '\n') | (b == '\r');
}

/* Consecutive bytes equal or one apart: d = b - prev in {255, 0, 1}
 * <=> d + 1 in {0, 1, 2}. */
static inline uint32_t is_near(uint8_t prev, uint8_t b)
{
	return (uint8_t)(b - prev + 1) <= 2;
}

/* The text and near counts of one run, byte by byte: the reference the
 * vector loop below must agree with, and its tail. Positions from..n-1. */
static void count_scalar(const uint8_t *p, size_t from, size_t n, uint32_t *text, uint32_t *near)
{
	uint32_t t = 0, m = 0;

	for (size_t k = from; k < n; k++) {
		t += is_text(p[k]);
		m += is_near(p[k - 1], p[k]); /* from >= 1 */
	}
	*text += t;
	*near += m;
}

#if defined(__SSE2__)
#include <emmintrin.h>

/* 16 positions per step: each lane's count is a byte, so lanes are
 * folded into 64-bit sums (psadbw) at least every 255 steps. */
#define LANE_STEPS 255

/* Adds 1 to the text and near lanes of the 16 positions at p + k that
 * mask keeps. */
static inline void count_step(const uint8_t *p, size_t k, __m128i mask, __m128i *tacc,
			      __m128i *nacc)
{
	const __m128i one = _mm_set1_epi8(1), two = _mm_set1_epi8(2);
	const __m128i sp = _mm_set1_epi8(0x20), top = _mm_set1_epi8(0x5e);
	__m128i b = _mm_loadu_si128((const __m128i *)(p + k));
	__m128i prev = _mm_loadu_si128((const __m128i *)(p + k - 1));
	/* (uint8_t)(b - 0x20) < 0x5f <=> min(b - 0x20, 0x5e) == b - 0x20 */
	__m128i x = _mm_sub_epi8(b, sp);
	__m128i t = _mm_cmpeq_epi8(_mm_min_epu8(x, top), x);
	t = _mm_or_si128(t, _mm_cmpeq_epi8(b, _mm_set1_epi8('\t')));
	t = _mm_or_si128(t, _mm_cmpeq_epi8(b, _mm_set1_epi8('\n')));
	t = _mm_or_si128(t, _mm_cmpeq_epi8(b, _mm_set1_epi8('\r')));
	__m128i d = _mm_add_epi8(_mm_sub_epi8(b, prev), one);
	__m128i m = _mm_cmpeq_epi8(_mm_min_epu8(d, two), d);
	*tacc = _mm_sub_epi8(*tacc, _mm_and_si128(t, mask)); /* a true lane is -1 */
	*nacc = _mm_sub_epi8(*nacc, _mm_and_si128(m, mask));
}

static uint32_t lanes_sum(__m128i v)
{
	__m128i s = _mm_sad_epu8(v, _mm_setzero_si128());
	return (uint32_t)(_mm_cvtsi128_si64(s) + _mm_cvtsi128_si64(_mm_unpackhi_epi64(s, s)));
}

/* Positions k..n-1 (k >= 1); returns the first position it did not count
 * (n if it counted all). The last partial step reads the last 16
 * positions again and keeps only the lanes not yet counted. */
static size_t count_vector(const uint8_t *p, size_t k, size_t n, uint32_t *text, uint32_t *near)
{
	static const uint8_t keep_last[32] = {
		0,    0,    0,    0,    0,    0,    0,    0,    0,    0,    0,
		0,    0,    0,    0,    0,    0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	};
	const __m128i all = _mm_set1_epi8(-1);
	uint32_t t = 0, m = 0;

	if (n < 17)
		return k;
	while (n - k >= 16) {
		__m128i tacc = _mm_setzero_si128(), nacc = _mm_setzero_si128();
		for (unsigned s = 0; s < LANE_STEPS && n - k >= 16; s++, k += 16)
			count_step(p, k, all, &tacc, &nacc);
		t += lanes_sum(tacc);
		m += lanes_sum(nacc);
	}
	if (k < n) {
		/* n - k in 1..15 positions left; the step at n - 16 >= 1 sees
		 * 16 - (n - k) counted ones first. */
		__m128i tacc = _mm_setzero_si128(), nacc = _mm_setzero_si128();
		__m128i mask = _mm_loadu_si128((const __m128i *)(keep_last + (n - k)));
		count_step(p, n - 16, mask, &tacc, &nacc);
		t += lanes_sum(tacc);
		m += lanes_sum(nacc);
		k = n;
	}
	*text += t;
	*near += m;
	return k;
}

/* The largest of 256 byte counts. */
static uint32_t max_u8x256(const uint8_t *h)
{
	__m128i v = _mm_loadu_si128((const __m128i *)h);
	for (unsigned i = 16; i < 256; i += 16)
		v = _mm_max_epu8(v, _mm_loadu_si128((const __m128i *)(h + i)));
	v = _mm_max_epu8(v, _mm_srli_si128(v, 8));
	v = _mm_max_epu8(v, _mm_srli_si128(v, 4));
	v = _mm_max_epu8(v, _mm_srli_si128(v, 2));
	v = _mm_max_epu8(v, _mm_srli_si128(v, 1));
	return (uint32_t)(_mm_cvtsi128_si32(v) & 0xff);
}
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_WIDE 1

/* The same as count_step() on 32 positions, where the CPU has AVX2
 * (guard_init() asks it). */
__attribute__((target("avx2"))) static size_t count_wide(const uint8_t *p, size_t n,
							  uint32_t *text, uint32_t *near)
{
	const __m256i one = _mm256_set1_epi8(1), two = _mm256_set1_epi8(2);
	const __m256i sp = _mm256_set1_epi8(0x20), top = _mm256_set1_epi8(0x5e);
	const __m256i tab = _mm256_set1_epi8('\t'), lf = _mm256_set1_epi8('\n');
	const __m256i cr = _mm256_set1_epi8('\r'), zero = _mm256_setzero_si256();
	__m256i tsum = zero, nsum = zero;
	size_t k = 1;

	while (n - k >= 32) {
		__m256i tacc = zero, nacc = zero;
		for (unsigned s = 0; s < LANE_STEPS && n - k >= 32; s++, k += 32) {
			__m256i b = _mm256_loadu_si256((const __m256i *)(p + k));
			__m256i prev = _mm256_loadu_si256((const __m256i *)(p + k - 1));
			__m256i x = _mm256_sub_epi8(b, sp);
			__m256i t = _mm256_cmpeq_epi8(_mm256_min_epu8(x, top), x);
			t = _mm256_or_si256(t, _mm256_cmpeq_epi8(b, tab));
			t = _mm256_or_si256(t, _mm256_cmpeq_epi8(b, lf));
			t = _mm256_or_si256(t, _mm256_cmpeq_epi8(b, cr));
			__m256i d = _mm256_add_epi8(_mm256_sub_epi8(b, prev), one);
			__m256i m = _mm256_cmpeq_epi8(_mm256_min_epu8(d, two), d);
			tacc = _mm256_sub_epi8(tacc, t);
			nacc = _mm256_sub_epi8(nacc, m);
		}
		tsum = _mm256_add_epi64(tsum, _mm256_sad_epu8(tacc, zero));
		nsum = _mm256_add_epi64(nsum, _mm256_sad_epu8(nacc, zero));
	}
	uint64_t ts[4], ns[4];
	_mm256_storeu_si256((__m256i *)ts, tsum);
	_mm256_storeu_si256((__m256i *)ns, nsum);
	*text += (uint32_t)(ts[0] + ts[1] + ts[2] + ts[3]);
	*near += (uint32_t)(ns[0] + ns[1] + ns[2] + ns[3]);
	return k;
}
#endif
#else
static size_t count_vector(const uint8_t *p, size_t k, size_t n, uint32_t *text, uint32_t *near)
{
	return k;
}

static uint32_t max_u8x256(const uint8_t *h)
{
	uint32_t max = 0;
	for (unsigned i = 0; i < 256; i++)
		max = h[i] > max ? h[i] : max;
	return max;
}
#endif

/* Text bytes of p[0..n-1] and near pairs (p[k-1], p[k]) for k in 1..n-1,
 * in one pass. */
static void count_run(const uint8_t *p, size_t n, uint32_t *text, uint32_t *near)
{
	if (n == 0)
		return;
	size_t k = 1; /* position 0 has no predecessor */

	*text += is_text(p[0]);
#if defined(HAVE_WIDE)
	if (wide)
		k = count_wide(p, n, text, near);
#endif
	k = count_vector(p, k, n, text, near);
	count_scalar(p, k, n, text, near);
}

/* Judged bytes are at most 2 * GUARD_WINDOW, so 16-bit counts hold. */
_Static_assert(2 * GUARD_WINDOW <= UINT16_MAX, "guard counts are 16-bit");

/* Short runs: byte counters (a run of at most 255 bytes cannot overflow
 * one), cleared and searched for their maximum 16 at a time. */
#define SHORT_RUN 255

static uint32_t max_short(const uint8_t *a, size_t na, const uint8_t *b, size_t nb)
{
	uint8_t hist[256];
	size_t i;

	memset(hist, 0, sizeof(hist));
	for (i = 0; i < na; i++)
		hist[a[i]]++;
	for (i = 0; i < nb; i++)
		hist[b[i]]++;
	return max_u8x256(hist);
}

/* Four partial histograms: consecutive equal bytes would otherwise wait
 * on each other's increment. */
static void hist4(uint16_t part[4][256], const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i + 4 <= n; i += 4) {
		part[0][p[i]]++;
		part[1][p[i + 1]]++;
		part[2][p[i + 2]]++;
		part[3][p[i + 3]]++;
	}
	for (; i < n; i++)
		part[0][p[i]]++;
}

static uint32_t max_long(const uint8_t *a, size_t na, const uint8_t *b, size_t nb)
{
	uint16_t part[4][256], max = 0;

	memset(part, 0, sizeof(part));
	hist4(part, a, na);
	hist4(part, b, nb);
	for (unsigned v = 0; v < 256; v++) {
		uint16_t c = (uint16_t)(part[0][v] + part[1][v] + part[2][v] + part[3][v]);
		max = c > max ? c : max;
	}
	return max;
}

/* The judged bytes are one run (the whole payload) or two (its first and
 * last windows); b is empty for one. */
void guard_stats(const uint8_t *p, size_t n, guard_stats_t *out)
{
	const uint8_t *a = p, *b = p;
	size_t na = n, nb = 0;

	if (n > 2 * GUARD_WINDOW) {
		na = nb = GUARD_WINDOW;
		b = p + n - GUARD_WINDOW;
	}
	out->near = out->text = 0;
	count_run(a, na, &out->text, &out->near);
	count_run(b, nb, &out->text, &out->near);
	out->max = na + nb <= SHORT_RUN ? max_short(a, na, b, nb) : max_long(a, na, b, nb);
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
