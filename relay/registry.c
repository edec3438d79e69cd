#include "registry.h"
#include "tokenmint.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "b64url.h"
#include "ident.h"
#include "wire.h"
#include "zkerr.h"

#define SUFFIX ".json"
#define SUFFIX_LEN (sizeof(SUFFIX) - 1)
/* Longest piece of an untrusted string quoted in an error message. */
#define QUOTE_MAX 64

/* A string in a practice's pool: not NUL-terminated. */
typedef struct {
	const char *s;
	size_t len;
} span_t;

/* A token key (kid -> public key) or a data-safe (endpoint id -> SPKI
 * pin). The span comes first so span_cmp sorts and finds both. */
typedef struct {
	span_t id;
	uint8_t val[32];
} entry_t;

struct registry_practice {
	span_t id; /* first, for span_cmp */
	int active;
	entry_t *keys; /* sorted by kid */
	size_t nkeys;
	entry_t *safes; /* sorted by endpoint id */
	size_t nsafes;
	span_t *jtis; /* sorted */
	size_t njtis;
	/* The bytes of every id and jti above. Its size is the file's: a
	 * decoded JSON string is never longer than its spelling. */
	char *pool;
	size_t pool_cap, pool_used;
};

struct registry {
	registry_practice_t *practices; /* sorted by id */
	size_t count;
};

/* ---- lookups ------------------------------------------------------------ */

/* Orders spans bytewise, a shorter prefix first. */
static int span_cmp(const void *a, const void *b)
{
	const span_t *x = a, *y = b;
	int c = memcmp(x->s, y->s, x->len < y->len ? x->len : y->len);

	if (c != 0)
		return c;
	return (x->len > y->len) - (x->len < y->len);
}

/* base holds n elements of size bytes, each starting with a span_t. */
static const void *span_find(const void *base, size_t n, size_t size, const char *s, size_t len)
{
	span_t key = { s, len };

	if (n == 0 || s == NULL || len == 0)
		return NULL;
	return bsearch(&key, base, n, size, span_cmp);
}

size_t registry_count(const registry_t *reg)
{
	return reg ? reg->count : 0;
}

const registry_practice_t *registry_find(const registry_t *reg, const char *practice_id,
					 size_t len)
{
	if (!reg)
		return NULL;
	return span_find(reg->practices, reg->count, sizeof(*reg->practices), practice_id, len);
}

int registry_practice_active(const registry_practice_t *p)
{
	return p != NULL && p->active;
}

const uint8_t *registry_token_key(const registry_practice_t *p, const char *kid, size_t kid_len)
{
	const entry_t *e;

	if (!p)
		return NULL;
	e = span_find(p->keys, p->nkeys, sizeof(*p->keys), kid, kid_len);
	return e ? e->val : NULL;
}

int registry_safe_known(const registry_practice_t *p, const char *endpoint_id, size_t len)
{
	return p != NULL &&
	       span_find(p->safes, p->nsafes, sizeof(*p->safes), endpoint_id, len) != NULL;
}

int registry_safe_ok(const registry_practice_t *p, const char *endpoint_id, size_t len,
		     const uint8_t spki_sha256[REGISTRY_PIN_LEN])
{
	const entry_t *e;

	if (!p || !spki_sha256)
		return 0;
	e = span_find(p->safes, p->nsafes, sizeof(*p->safes), endpoint_id, len);
	return e != NULL && CRYPTO_memcmp(e->val, spki_sha256, REGISTRY_PIN_LEN) == 0;
}

int registry_jti_revoked(const registry_practice_t *p, const char *jti, size_t len)
{
	return p != NULL && span_find(p->jtis, p->njtis, sizeof(*p->jtis), jti, len) != NULL;
}

int registry_spki_sha256(X509 *cert, uint8_t out[REGISTRY_PIN_LEN])
{
	if (!cert || !out)
		return -ZK_EINVAL;
	/* One definition of the pin for the registry and the token's cnf. */
	return tokenmint_spki_sha256(cert, out);
}

/* ---- freeing -------------------------------------------------------------- */

static void practice_free(registry_practice_t *p)
{
	free(p->keys);
	free(p->safes);
	free(p->jtis);
	free(p->pool);
	memset(p, 0, sizeof(*p));
}

void registry_free(registry_t *reg)
{
	if (!reg)
		return;
	for (size_t i = 0; i < reg->count; i++)
		practice_free(&reg->practices[i]);
	free(reg->practices);
	free(reg);
}

/* ---- parsing one file ---------------------------------------------------- */

typedef struct {
	const char *path; /* for messages */
	char *err;
	size_t errlen;
	registry_practice_t *p;
} parse_t;


/* "<path>: <message>", and -ZK_ECONFIG. */
__attribute__((format(printf, 2, 3))) static int fail(parse_t *ps, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return zk_errf(ps->err, ps->errlen, -ZK_ECONFIG, "%s: %s", ps->path, msg);
}

/* Copies a string of the document into the practice's pool. */
static int pool_take(parse_t *ps, const char *s, size_t len, span_t *out)
{
	registry_practice_t *p = ps->p;

	if (p->pool_cap - p->pool_used < len)
		return fail(ps, "strings longer than the file");
	memcpy(p->pool + p->pool_used, s, len);
	out->s = p->pool + p->pool_used;
	out->len = len;
	p->pool_used += len;
	return 0;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Exactly 64 lowercase hex digits. */
static int hex32(const char *s, size_t len, uint8_t out[32])
{
	uint8_t v[32];

	if (len != 64)
		return -1;
	for (size_t i = 0; i < 32; i++) {
		int hi = hex_digit(s[2 * i]), lo = hex_digit(s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		v[i] = (uint8_t)(hi << 4 | lo);
	}
	memcpy(out, v, sizeof(v));
	return 0;
}

/* Strict unpadded base64url of exactly 32 bytes (43 characters). */
static int b64url32(const char *s, size_t len, uint8_t out[32])
{
	uint8_t v[32];
	size_t n = 0;

	if (len != b64url_encoded_len(sizeof(v)))
		return -1;
	if (b64url_decode(s, len, v, sizeof(v), &n) != 0 || n != sizeof(v))
		return -1;
	memcpy(out, v, sizeof(v));
	return 0;
}

static int jti_ok(const char *s, size_t len)
{
	if (len == 0 || len > REGISTRY_MAX_JTI)
		return 0;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

/* A JSON array of at most max elements. */
static int array_of(parse_t *ps, const char *name, const json_t *v, size_t max, size_t *n)
{
	if (!json_is_array(v))
		return fail(ps, "%s: not an array", name);
	*n = json_array_size(v);
	if (*n > max)
		return fail(ps, "%s: more than %zu entries", name, max);
	return 0;
}

/* Sorts entries (each starting with a span_t) and refuses a repeated id. */
static int sort_unique(parse_t *ps, void *base, size_t n, size_t size, const char *array,
		       const char *what)
{
	if (n < 2)
		return 0;
	qsort(base, n, size, span_cmp);
	for (size_t i = 1; i < n; i++) {
		const span_t *a = (const span_t *)((const char *)base + (i - 1) * size);
		const span_t *b = (const span_t *)((const char *)base + i * size);

		/* Pool strings have no NUL: quote at most len bytes. */
		int shown = (int)(a->len < QUOTE_MAX ? a->len : QUOTE_MAX);

		if (span_cmp(a, b) == 0)
			return fail(ps, "%s: duplicate %s \"%.*s\"", array, what, shown, a->s);
	}
	return 0;
}

/* An object whose members are exactly the strings names[0] and names[1]. */
static int two_strings(parse_t *ps, const char *arr, size_t i, json_t *obj,
		       const char *const names[2], span_t vals[2])
{
	const char *key;
	json_t *v;
	unsigned seen = 0;

	if (!json_is_object(obj))
		return fail(ps, "%s[%zu]: not an object", arr, i);
	json_object_foreach(obj, key, v) {
		unsigned k = strcmp(key, names[0]) == 0 ? 0 : strcmp(key, names[1]) == 0 ? 1 : 2;

		if (k == 2)
			return fail(ps, "%s[%zu]: unknown member \"%.*s\"", arr, i, QUOTE_MAX, key);
		if (!json_is_string(v))
			return fail(ps, "%s[%zu].%s: not a string", arr, i, key);
		vals[k].s = json_string_value(v);
		vals[k].len = json_string_length(v);
		seen |= 1u << k;
	}
	for (unsigned k = 0; k < 2; k++)
		if (!(seen & (1u << k)))
			return fail(ps, "%s[%zu]: missing member \"%s\"", arr, i, names[k]);
	return 0;
}

static int parse_practice_id(parse_t *ps, json_t *v)
{
	if (!json_is_string(v))
		return fail(ps, "practice_id: not a string");
	if (!ident_id_ok(json_string_value(v), json_string_length(v)))
		return fail(ps, "practice_id: not a valid id ([a-z0-9][a-z0-9._-]{0,63})");
	return pool_take(ps, json_string_value(v), json_string_length(v), &ps->p->id);
}

static int parse_status(parse_t *ps, json_t *v)
{
	const char *s = json_string_value(v);

	if (!json_is_string(v))
		return fail(ps, "status: not a string");
	if (json_string_length(v) == 6 && strcmp(s, "active") == 0)
		ps->p->active = 1;
	else if (json_string_length(v) == 9 && strcmp(s, "suspended") == 0)
		ps->p->active = 0;
	else
		return fail(ps, "status: not \"active\" or \"suspended\"");
	return 0;
}

/* Token keys and data-safes: an id and 32 bytes each. */
typedef struct {
	const char *array;        /* member name */
	const char *names[2];     /* id member, value member */
	const char *what;         /* id name in duplicate messages */
	const char *value_rule;   /* message for a bad value */
	int (*decode)(const char *s, size_t len, uint8_t out[32]);
	size_t max;
} entries_spec_t;

static const entries_spec_t key_spec = {
	"token_keys", { "kid", "public_key" }, "kid",
	"not the strict base64url (no padding) of a 32-byte Ed25519 public key", b64url32,
	REGISTRY_MAX_KEYS,
};

static const entries_spec_t safe_spec = {
	"data_safes", { "endpoint_id", "spki_sha256" }, "endpoint_id",
	"not 64 lowercase hex digits (a SHA-256)", hex32, REGISTRY_MAX_SAFES,
};

static int parse_entries(parse_t *ps, json_t *v, const entries_spec_t *spec, entry_t **out,
			 size_t *nout)
{
	entry_t *e = NULL;
	size_t n = 0;
	int rc = array_of(ps, spec->array, v, spec->max, &n);

	if (rc)
		return rc;
	if (n > 0 && !(e = calloc(n, sizeof(*e))))
		return -ZK_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		span_t s[2];

		rc = two_strings(ps, spec->array, i, json_array_get(v, i), spec->names, s);
		if (rc)
			goto out;
		if (!ident_id_ok(s[0].s, s[0].len)) {
			rc = fail(ps, "%s[%zu].%s: not a valid id ([a-z0-9][a-z0-9._-]{0,63})",
				  spec->array, i, spec->names[0]);
			goto out;
		}
		if (spec->decode(s[1].s, s[1].len, e[i].val) != 0) {
			rc = fail(ps, "%s[%zu].%s: %s", spec->array, i, spec->names[1],
				  spec->value_rule);
			goto out;
		}
		rc = pool_take(ps, s[0].s, s[0].len, &e[i].id);
		if (rc)
			goto out;
	}
	rc = sort_unique(ps, e, n, sizeof(*e), spec->array, spec->what);
out:
	if (rc) {
		free(e);
		return rc;
	}
	*out = e;
	*nout = n;
	return 0;
}

static int parse_token_keys(parse_t *ps, json_t *v)
{
	return parse_entries(ps, v, &key_spec, &ps->p->keys, &ps->p->nkeys);
}

static int parse_data_safes(parse_t *ps, json_t *v)
{
	return parse_entries(ps, v, &safe_spec, &ps->p->safes, &ps->p->nsafes);
}

static int parse_revoked_jti(parse_t *ps, json_t *v)
{
	span_t *j = NULL;
	size_t n = 0;
	int rc = array_of(ps, "revoked_jti", v, REGISTRY_MAX_JTIS, &n);

	if (rc)
		return rc;
	if (n > 0 && !(j = calloc(n, sizeof(*j))))
		return -ZK_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const json_t *s = json_array_get(v, i);

		if (!json_is_string(s)) {
			rc = fail(ps, "revoked_jti[%zu]: not a string", i);
			goto out;
		}
		if (!jti_ok(json_string_value(s), json_string_length(s))) {
			rc = fail(ps, "revoked_jti[%zu]: not 1 to %u visible ASCII characters", i,
				  REGISTRY_MAX_JTI);
			goto out;
		}
		rc = pool_take(ps, json_string_value(s), json_string_length(s), &j[i]);
		if (rc)
			goto out;
	}
	rc = sort_unique(ps, j, n, sizeof(*j), "revoked_jti", "jti");
out:
	if (rc) {
		free(j);
		return rc;
	}
	ps->p->jtis = j;
	ps->p->njtis = n;
	return 0;
}

/* The members of a practice file, all required. jansson already refused
 * a member given twice, so each parser runs at most once. */
static const struct {
	const char *name;
	int (*parse)(parse_t *ps, json_t *v);
} members[] = {
	{ "practice_id", parse_practice_id },
	{ "status", parse_status },
	{ "token_keys", parse_token_keys },
	{ "data_safes", parse_data_safes },
	{ "revoked_jti", parse_revoked_jti },
};

#define MEMBER_COUNT (sizeof(members) / sizeof(members[0]))

static int parse_members(parse_t *ps, json_t *root)
{
	const char *key;
	json_t *v;
	unsigned seen = 0;

	if (!json_is_object(root))
		return fail(ps, "not a JSON object");
	json_object_foreach(root, key, v) {
		size_t m = 0;
		int rc;

		while (m < MEMBER_COUNT && strcmp(key, members[m].name) != 0)
			m++;
		if (m == MEMBER_COUNT)
			return fail(ps, "unknown member \"%.*s\"", QUOTE_MAX, key);
		rc = members[m].parse(ps, v);
		if (rc)
			return rc;
		seen |= 1u << m;
	}
	for (size_t m = 0; m < MEMBER_COUNT; m++)
		if (!(seen & (1u << m)))
			return fail(ps, "missing member \"%s\"", members[m].name);
	return 0;
}

/* Reads a regular file of at most REGISTRY_MAX_FILE_BYTES. O_NONBLOCK:
 * a FIFO named like a practice file must not hang the loader; it is
 * refused as not regular. */
static int read_file(parse_t *ps, int dfd, const char *name, char **out, size_t *outlen)
{
	struct stat st;
	char *buf = NULL;
	size_t cap, len = 0;
	int fd, rc = 0;

	fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return zk_errf(ps->err, ps->errlen, -ZK_EIO, "%s: %s", ps->path, strerror(errno));
	if (fstat(fd, &st) != 0) {
		rc = zk_errf(ps->err, ps->errlen, -ZK_EIO, "%s: %s", ps->path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = fail(ps, "not a regular file");
		goto out;
	}
	if (st.st_size < 0 || (uintmax_t)st.st_size > REGISTRY_MAX_FILE_BYTES)
		goto too_large;
	/* One byte more than the size, to see a file that grew meanwhile. */
	cap = (size_t)st.st_size + 1;
	if (!(buf = malloc(cap))) {
		rc = -ZK_ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t r;

		if (len == cap) {
			size_t ncap = cap * 2;
			char *nbuf;

			if (cap > REGISTRY_MAX_FILE_BYTES)
				goto too_large;
			if (ncap > REGISTRY_MAX_FILE_BYTES + 1)
				ncap = REGISTRY_MAX_FILE_BYTES + 1;
			if (!(nbuf = realloc(buf, ncap))) {
				rc = -ZK_ENOMEM;
				goto out;
			}
			buf = nbuf;
			cap = ncap;
		}
		r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = zk_errf(ps->err, ps->errlen, -ZK_EIO, "%s: %s", ps->path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	if (len > REGISTRY_MAX_FILE_BYTES)
		goto too_large;
	goto out;
too_large:
	rc = fail(ps, "larger than %u bytes", REGISTRY_MAX_FILE_BYTES);
out:
	close(fd);
	if (rc) {
		free(buf);
		return rc;
	}
	*out = buf;
	*outlen = len;
	return 0;
}

/* Loads dir/name into *out (all of it, or nothing). */
static int load_practice(const char *dir, int dfd, const char *name, registry_practice_t *out,
			 char *err, size_t errlen)
{
	char path[4096];
	registry_practice_t p;
	parse_t ps = { path, err, errlen, &p };
	json_error_t jerr;
	json_t *root = NULL;
	char *text = NULL;
	size_t len = 0, stem = strlen(name) - SUFFIX_LEN;
	int rc;

	memset(&p, 0, sizeof(p));
	/* Only a message uses the path; a truncated one is still useful. */
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	rc = read_file(&ps, dfd, name, &text, &len);
	if (rc)
		goto out;
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		rc = fail(&ps, "line %d column %d: %s", jerr.line, jerr.column, jerr.text);
		goto out;
	}
	p.pool_cap = len;
	if (!(p.pool = malloc(len > 0 ? len : 1))) {
		rc = -ZK_ENOMEM;
		goto out;
	}
	rc = parse_members(&ps, root);
	if (rc)
		goto out;
	if (p.id.len != stem || memcmp(p.id.s, name, stem) != 0) {
		rc = fail(&ps, "file name is not practice_id \"%.*s\" + \".json\"", (int)p.id.len,
			  p.id.s);
		goto out;
	}
	if (p.active && p.nkeys == 0)
		rc = fail(&ps, "an active practice needs at least one token key");
out:
	json_decref(root);
	free(text);
	if (rc) {
		if (rc == -ZK_ENOMEM)
			zk_errf(err, errlen, rc, "%s: out of memory", path);
		practice_free(&p);
		return rc;
	}
	*out = p;
	return 0;
}

/* ---- the directory ------------------------------------------------------ */

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_practice_file(const char *name)
{
	size_t n = strlen(name);

	return n >= SUFFIX_LEN && strcmp(name + n - SUFFIX_LEN, SUFFIX) == 0;
}

static void names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* The sorted names of dir's *.json entries, so loading (and which error
 * is reported first) does not depend on readdir's order. */
static int list_names(const char *dir, DIR *d, char ***out, size_t *nout, char *err,
		      size_t errlen)
{
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	for (;;) {
		struct dirent *de;

		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno != 0)
				rc = zk_errf(err, errlen, -ZK_EIO, "%s: %s", dir, strerror(errno));
			break;
		}
		if (!is_practice_file(de->d_name))
			continue;
		if (n == REGISTRY_MAX_PRACTICES) {
			rc = zk_errf(err, errlen, -ZK_ECONFIG, "%s: more than %u practice files", dir,
				 REGISTRY_MAX_PRACTICES);
			break;
		}
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			char **nn = realloc(names, ncap * sizeof(*names));

			if (!nn) {
				rc = zk_errf(err, errlen, -ZK_ENOMEM, "%s: out of memory", dir);
				break;
			}
			names = nn;
			cap = ncap;
		}
		if (!(names[n] = strdup(de->d_name))) {
			rc = zk_errf(err, errlen, -ZK_ENOMEM, "%s: out of memory", dir);
			break;
		}
		n++;
	}
	if (rc) {
		names_free(names, n);
		return rc;
	}
	if (n > 1)
		qsort(names, n, sizeof(*names), name_cmp);
	*out = names;
	*nout = n;
	return 0;
}

int registry_load(const char *dir, registry_t **out, char *err, size_t errlen)
{
	registry_t *reg = NULL;
	char **names = NULL;
	size_t n = 0;
	DIR *d;
	int rc;

	if (!dir || !out)
		return zk_errf(err, errlen, -ZK_EINVAL, "registry: no directory given");
	d = opendir(dir);
	if (!d)
		return zk_errf(err, errlen, -ZK_EIO, "%s: %s", dir, strerror(errno));
	rc = list_names(dir, d, &names, &n, err, errlen);
	if (rc)
		goto out;
	if (!(reg = calloc(1, sizeof(*reg))) ||
	    (n > 0 && !(reg->practices = calloc(n, sizeof(*reg->practices))))) {
		rc = zk_errf(err, errlen, -ZK_ENOMEM, "%s: out of memory", dir);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		rc = load_practice(dir, dirfd(d), names[i], &reg->practices[reg->count], err,
				   errlen);
		if (rc)
			goto out;
		reg->count++;
	}
	/* File names are unique and each equals its practice id, so the ids
	 * are too. */
	if (reg->count > 1)
		qsort(reg->practices, reg->count, sizeof(*reg->practices), span_cmp);
out:
	closedir(d);
	names_free(names, n);
	if (rc) {
		registry_free(reg);
		return rc;
	}
	*out = reg;
	return 0;
}
