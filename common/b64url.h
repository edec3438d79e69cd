/* Strict base64url without padding (RFC 4648 section 5, as PASETO uses it).
 *
 * The decoder accepts exactly one spelling of every byte string: no '='
 * padding, no characters outside [A-Za-z0-9_-], no whitespace, no length
 * that leaves a single character over (len % 4 == 1), and no set bits in
 * the unused low bits of the last character. Two spellings of one token
 * would otherwise compare unequal as strings while verifying the same.
 *
 * Both directions map characters without table lookups or branches on the
 * data, so decoding a key or seed leaks nothing through timing. */
#ifndef ZK_B64URL_H
#define ZK_B64URL_H

#include <stddef.h>
#include <stdint.h>

/* Characters needed to encode n bytes; SIZE_MAX if that does not fit in a
 * size_t. No terminating NUL is counted. */
size_t b64url_encoded_len(size_t n);
/* Bytes that decoding n characters yields, if they are valid. */
size_t b64url_decoded_len(size_t n);

/* Encodes len bytes into out (capacity cap), without padding and without a
 * terminating NUL. 0 and *out_len = characters written, or -ZK_EINVAL if
 * cap is too small or an argument is NULL. */
int b64url_encode(const uint8_t *in, size_t len, char *out, size_t cap, size_t *out_len);

/* Decodes len characters into out (capacity cap). 0 and *out_len = bytes
 * written; -ZK_EMALFORMED if the input is not strict base64url (see
 * above); -ZK_EINVAL if cap is too small or an argument is NULL. On
 * failure out holds no partial result (it is wiped). */
int b64url_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *out_len);

#endif
