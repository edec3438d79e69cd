/* Searching a live process's memory. See memscan.h. */
#include "memscan.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHUNK ((size_t)1 << 20)
#define PAGE ((size_t)4096)
#define MAX_NEEDLE 4096u

typedef struct {
	int fd;                 /* /proc/PID/mem */
	const uint8_t *needle;
	size_t n;
	uint8_t *buf;           /* carry (n - 1 bytes at most) + one chunk */
	size_t carry;           /* bytes kept from the end of the last read */
	uint64_t carry_end;     /* the address just past them */
	const char *map_line;
	memscan_t *res;
} scan_t;

/* Searches buf[0..len), whose byte at index carry sits at address addr. */
static void search(scan_t *s, size_t len, uint64_t addr)
{
	const uint8_t *p = s->buf, *end = s->buf + len;

	while ((size_t)(end - p) >= s->n) {
		const uint8_t *m = memmem(p, (size_t)(end - p), s->needle, s->n);

		if (m == NULL)
			break;
		if (s->res->hits++ == 0) {
			s->res->first_hit = addr - s->carry + (uint64_t)(m - s->buf);
			snprintf(s->res->first_map, sizeof(s->res->first_map), "%s", s->map_line);
		}
		p = m + 1;
	}
}

/* Keeps the last n - 1 bytes of buf[0..len) (ending at address end) so an
 * occurrence that spans two reads is found. */
static void keep_tail(scan_t *s, size_t len, uint64_t end)
{
	size_t keep = s->n - 1 < len ? s->n - 1 : len;

	memmove(s->buf, s->buf + len - keep, keep);
	s->carry = keep;
	s->carry_end = end;
}

/* Reads [addr, addr + len) into the buffer after the carry and searches
 * it. 0, or -1 if the kernel refused (nothing counted then). */
static int read_piece(scan_t *s, uint64_t addr, size_t len)
{
	size_t got = 0;

	if (s->carry_end != addr)
		s->carry = 0;
	while (got < len) {
		ssize_t r = pread(s->fd, s->buf + s->carry + got, len - got, (off_t)(addr + got));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	s->res->bytes += len;
	search(s, s->carry + len, addr);
	keep_tail(s, s->carry + len, addr + len);
	return 0;
}

static void scan_region(scan_t *s, uint64_t start, uint64_t end)
{
	uint64_t a;

	s->res->regions++;
	for (a = start; a < end; a += CHUNK) {
		size_t len = end - a < CHUNK ? (size_t)(end - a) : CHUNK;
		uint64_t p;

		if (read_piece(s, a, len) == 0)
			continue;
		/* Part of the chunk is unreadable: page by page. */
		for (p = a; p < a + len; p += PAGE) {
			size_t plen = a + len - p < PAGE ? (size_t)(a + len - p) : PAGE;

			if (read_piece(s, p, plen) < 0)
				s->res->skipped_bytes += plen;
		}
	}
}

/* "start-end perms offset dev inode [path]": the numbers and whether the
 * mapping may be read. 0, or -1 for a line of another shape. */
static int parse_map(const char *line, uint64_t *start, uint64_t *end, int *readable,
		     unsigned long *inode)
{
	char perms[8];
	unsigned long long st, en, off;
	unsigned maj, min;

	if (sscanf(line, "%llx-%llx %7s %llx %x:%x %lu", &st, &en, perms, &off, &maj, &min,
		   inode) != 7 || en < st)
		return -1;
	*start = st;
	*end = en;
	*readable = perms[0] == 'r';
	return 0;
}

int memscan_find(pid_t pid, const void *needle, size_t n, memscan_t *res)
{
	char path[64], *line = NULL;
	size_t cap = 0;
	scan_t s;
	FILE *maps;
	int rc = -1, saved;

	if (needle == NULL || n == 0 || n > MAX_NEEDLE || res == NULL) {
		errno = EINVAL;
		return -1;
	}
	memset(res, 0, sizeof(*res));
	memset(&s, 0, sizeof(s));
	s.needle = needle;
	s.n = n;
	s.res = res;
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	maps = fopen(path, "re");
	if (maps == NULL)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	s.fd = open(path, O_RDONLY | O_CLOEXEC);
	s.buf = malloc(CHUNK + MAX_NEEDLE);
	if (s.fd < 0 || s.buf == NULL)
		goto out;
	while (getline(&line, &cap, maps) >= 0) {
		uint64_t start, end;
		unsigned long inode;
		int readable;

		line[strcspn(line, "\n")] = '\0';
		if (parse_map(line, &start, &end, &readable, &inode) < 0 || !readable)
			continue;
		if (inode == 0 && end - start > MEMSCAN_MAX_REGION) {
			res->skipped_bytes += end - start;
			continue;
		}
		s.map_line = line;
		scan_region(&s, start, end);
	}
	rc = 0;
out:
	saved = errno;
	free(line);
	free(s.buf);
	if (s.fd > 0)
		close(s.fd);
	fclose(maps);
	errno = saved;
	return rc;
}

const char *memscan_describe(const memscan_t *res, char *buf, size_t cap)
{
	int k = snprintf(buf, cap, "%" PRIu64 " hits in %" PRIu64 " regions, %.1f MiB read, "
			 "%.1f MiB skipped", res->hits, res->regions,
			 (double)res->bytes / (1 << 20), (double)res->skipped_bytes / (1 << 20));

	if (res->hits > 0 && k > 0 && (size_t)k < cap)
		snprintf(buf + k, cap - (size_t)k, "; first at 0x%" PRIx64 " in %s", res->first_hit,
			 res->first_map);
	return buf;
}
