/* The names the document protocol and its files carry, checked by one
 * strict rule each.
 *
 * Patient and document names: [A-Za-z0-9][A-Za-z0-9._-]{0,127}. The
 * first character being a letter or digit rules out ".", "..", hidden
 * files and option-looking names; no '/' anywhere means a name is always
 * one path component and can never leave the directory it is opened in.
 *
 * Practice and endpoint ids: [a-z0-9][a-z0-9._-]{0,63}, and addresses
 * "<practice-id>/<endpoint-id>": the rule the relay applies to
 * certificates (relay/ident.h), so an address we accept is one the relay
 * could have stamped. */
#ifndef ZK_NAME_H
#define ZK_NAME_H

#include <stddef.h>

#define NAME_DOC_MAX 128u
#define NAME_ID_MAX 64u
#define NAME_ADDR_MAX (2 * NAME_ID_MAX + 1)

/* Each returns 1 if s (len bytes, no NUL needed) is valid, else 0. */
int name_doc_ok(const char *s, size_t len);
int name_id_ok(const char *s, size_t len);
int name_addr_ok(const char *s, size_t len);
/* The same for NUL-terminated strings; NULL is refused. */
int name_doc_ok_str(const char *s);
int name_id_ok_str(const char *s);
int name_addr_ok_str(const char *s);

#endif
