/* /proc readings. See procstat.h. */
#include "procstat.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Reads a whole small /proc file into buf (NUL-terminated). */
static int read_small(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL)
		return -1;
	n = fread(buf, 1, cap - 1, f);
	fclose(f);
	if (n == 0 || n == cap - 1)
		return -1; /* empty, or longer than any stat line can be */
	buf[n] = '\0';
	return 0;
}

/* One decimal field: digits up to a space or the end, nothing else. */
static int parse_u64(const char *s, const char **end, uint64_t *out)
{
	char *e;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &e, 10);
	if (errno != 0 || (*e != ' ' && *e != '\0' && *e != '\n'))
		return -1;
	*end = e;
	*out = v;
	return 0;
}

int procstat_cpu_us(pid_t pid, uint64_t *us)
{
	char path[64], buf[2048];
	const char *p;
	uint64_t utime, stime;
	long tck = sysconf(_SC_CLK_TCK);
	int field;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (tck <= 0 || read_small(path, buf, sizeof(buf)) < 0)
		return -1;
	/* proc(5): field 2 is the command name in parentheses and may itself
	 * hold spaces and parentheses, so counting starts after the last ')'.
	 * Field 3 (state) follows it; utime and stime are fields 14 and 15. */
	p = strrchr(buf, ')');
	if (p == NULL || p[1] != ' ')
		return -1;
	p += 2;
	for (field = 3; field < 14; field++) {
		p = strchr(p, ' ');
		if (p == NULL)
			return -1;
		p++;
	}
	if (parse_u64(p, &p, &utime) < 0 || *p != ' ' || parse_u64(p + 1, &p, &stime) < 0)
		return -1;
	*us = (utime + stime) * 1000000u / (uint64_t)tck;
	return 0;
}

static int status_kib(pid_t pid, const char *field, uint64_t *kib)
{
	char path[64], buf[8192];
	const char *p, *end;
	uint64_t v;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (read_small(path, buf, sizeof(buf)) < 0)
		return -1;
	p = strstr(buf, field);
	if (p == NULL)
		return -1;
	p += strlen(field);
	while (*p == ' ' || *p == '\t')
		p++;
	if (parse_u64(p, &end, &v) < 0 || strncmp(end, " kB", 3) != 0)
		return -1;
	*kib = v;
	return 0;
}

int procstat_peak_rss_kib(pid_t pid, uint64_t *kib)
{
	return status_kib(pid, "\nVmHWM:", kib);
}

int procstat_rss_kib(pid_t pid, uint64_t *kib)
{
	return status_kib(pid, "\nVmRSS:", kib);
}
