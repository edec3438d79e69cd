#include "name.h"

#include <string.h>

static int lower_or_digit(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int alnum(unsigned char c)
{
	return lower_or_digit(c) || (c >= 'A' && c <= 'Z');
}

static int punct(unsigned char c)
{
	return c == '.' || c == '_' || c == '-';
}

int name_doc_ok(const char *s, size_t len)
{
	if (!s || len == 0 || len > NAME_DOC_MAX || !alnum((unsigned char)s[0]))
		return 0;
	for (size_t i = 1; i < len; i++)
		if (!alnum((unsigned char)s[i]) && !punct((unsigned char)s[i]))
			return 0;
	return 1;
}

int name_id_ok(const char *s, size_t len)
{
	if (!s || len == 0 || len > NAME_ID_MAX || !lower_or_digit((unsigned char)s[0]))
		return 0;
	for (size_t i = 1; i < len; i++)
		if (!lower_or_digit((unsigned char)s[i]) && !punct((unsigned char)s[i]))
			return 0;
	return 1;
}

int name_addr_ok(const char *s, size_t len)
{
	const char *slash = s ? memchr(s, '/', len) : NULL;
	size_t plen;

	if (!slash)
		return 0;
	plen = (size_t)(slash - s);
	return name_id_ok(s, plen) && name_id_ok(slash + 1, len - plen - 1);
}

/* strnlen: a string longer than the cap is refused without reading on. */
int name_doc_ok_str(const char *s)
{
	return s && name_doc_ok(s, strnlen(s, NAME_DOC_MAX + 1));
}

int name_id_ok_str(const char *s)
{
	return s && name_id_ok(s, strnlen(s, NAME_ID_MAX + 1));
}

int name_addr_ok_str(const char *s)
{
	return s && name_addr_ok(s, strnlen(s, NAME_ADDR_MAX + 1));
}
