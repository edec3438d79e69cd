#include "record.h"

#include <string.h>

#include "zkerr.h"

/* Sealed sizes of the buckets below the largest one. */
static const size_t buckets[] = { 256, 1024, 4096, 16384 };

static void put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 3; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static void put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get_u64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

size_t record_max_plain(size_t max_payload)
{
	if (max_payload > RECORD_MAX_SEALED)
		max_payload = RECORD_MAX_SEALED;
	if (max_payload < RECORD_MIN_SEALED)
		return 0;
	return max_payload - RECORD_TAG;
}

size_t record_chunk(size_t max_plain)
{
	return max_plain > RECORD_HEADER ? max_plain - RECORD_HEADER : 0;
}

size_t record_padded(size_t data_len, size_t max_plain)
{
	size_t need;

	if (max_plain < RECORD_HEADER || data_len > max_plain - RECORD_HEADER)
		return 0;
	need = RECORD_HEADER + data_len;
	for (size_t i = 0; i < sizeof(buckets) / sizeof(buckets[0]); i++)
		if (need <= buckets[i] - RECORD_TAG && buckets[i] - RECORD_TAG <= max_plain)
			return buckets[i] - RECORD_TAG;
	return max_plain;
}

static int valid(const record_t *r)
{
	if (r->type != RECORD_CLOSE && r->reason != 0)
		return 0;
	if (r->type == RECORD_DATA)
		return r->rseq != 0 && (r->flags & ~(RECORD_FIN)) == 0 &&
		       r->data_len <= r->msg_len;
	if (r->type == RECORD_ACK)
		return r->rseq == 0 && r->data_len == 0 && r->msg_len == 0 &&
		       (r->flags & ~RECORD_RESUME) == 0;
	if (r->type == RECORD_CLOSE)
		return r->rseq == 0 && r->data_len == 0 && r->msg_len == 0 && r->flags == 0 &&
		       r->reason != 0;
	return 0;
}

int record_encode(const record_t *r, size_t max_plain, uint8_t *out, size_t cap, size_t *olen)
{
	size_t padded;

	if (!r || !out || !olen || (r->data_len && !r->data) || !valid(r))
		return -ZK_EINVAL;
	padded = record_padded(r->data_len, max_plain);
	if (padded == 0 || padded > cap)
		return -ZK_ETOOLARGE;
	out[0] = r->type;
	out[1] = r->flags;
	out[2] = (uint8_t)(r->reason >> 8);
	out[3] = (uint8_t)r->reason;
	put_u32(out + 4, r->data_len);
	put_u64(out + 8, r->rseq);
	put_u64(out + 16, r->ack);
	put_u64(out + 24, r->msg_len);
	if (r->data_len)
		memcpy(out + RECORD_HEADER, r->data, r->data_len);
	memset(out + RECORD_HEADER + r->data_len, 0, padded - RECORD_HEADER - r->data_len);
	*olen = padded;
	return 0;
}

int record_decode(const uint8_t *p, size_t n, record_t *out)
{
	record_t r;

	if (!p || !out || n < RECORD_HEADER)
		return -ZK_EMALFORMED;
	memset(&r, 0, sizeof(r));
	r.type = p[0];
	r.flags = p[1];
	r.reason = (uint16_t)(p[2] << 8 | p[3]);
	r.data_len = get_u32(p + 4);
	r.rseq = get_u64(p + 8);
	r.ack = get_u64(p + 16);
	r.msg_len = get_u64(p + 24);
	if (!valid(&r) || r.data_len > n - RECORD_HEADER)
		return -ZK_EMALFORMED;
	for (size_t i = RECORD_HEADER + r.data_len; i < n; i++)
		if (p[i])
			return -ZK_EMALFORMED;
	r.data = p + RECORD_HEADER;
	*out = r;
	return 0;
}
