/* End-to-end static key files: a 32-byte X25519 private key as base64url
 * text without padding and a newline, mode 0600.
 *
 * The reader is strict (exactly 43 base64url characters, then optionally
 * one "\n") and refuses a file that group or others can read, as ssh does
 * for its keys: a key another user could have read is not ours alone.
 * Every buffer that held the key is wiped. */
#ifndef ZK_KEYFILE_H
#define ZK_KEYFILE_H

#include <stddef.h>
#include <stdint.h>

#define KEYFILE_LEN 32u
/* base64url of 32 bytes, without its NUL. */
#define KEYFILE_B64 43u

/* Writes priv to a new file at path; refuses an existing one. */
int keyfile_create(const char *path, const uint8_t priv[KEYFILE_LEN], char *err, size_t errlen);
int keyfile_read(const char *path, uint8_t priv[KEYFILE_LEN], char *err, size_t errlen);
/* base64url of a public key, NUL-terminated. */
int keyfile_encode_pub(const uint8_t pub[KEYFILE_LEN], char out[KEYFILE_B64 + 1]);
/* Strict decode of a base64url public key. 0 or -ZK_EMALFORMED. */
int keyfile_decode_pub(const char *s, uint8_t pub[KEYFILE_LEN]);

#endif
