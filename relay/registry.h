/* The practice registry: what the relay knows about each practice.
 *
 * A directory of JSON files, one per practice, named <practice-id>.json:
 *
 *   {
 *     "practice_id": "practice-a",
 *     "status": "active",
 *     "token_keys": [ { "kid": "k1", "public_key": "<base64url>" } ],
 *     "data_safes": [ { "endpoint_id": "safe-1", "spki_sha256": "<hex>" } ],
 *     "revoked_jti": [ "token-id-1" ]
 *   }
 *
 * Every member is required and no other is allowed. status is "active" or
 * "suspended"; an active practice has at least one token key. Ids
 * (practice_id, kid, endpoint_id) are [a-z0-9][a-z0-9._-]{0,63};
 * public_key is the raw 32-byte Ed25519 key in strict unpadded base64url;
 * spki_sha256 is 64 lowercase hex digits, the SHA-256 of the DER
 * SubjectPublicKeyInfo of the data-safe's certificate; a jti is 1 to
 * REGISTRY_MAX_JTI visible ASCII characters. A kid, endpoint_id or jti
 * listed twice, a duplicate key in any object, or a file whose name is not
 * its practice_id plus ".json" is an error. Files whose names do not end
 * in ".json" are ignored.
 *
 * Nothing here is secret, but all of it is untrusted input: sizes are
 * bounded and the whole directory loads or nothing does. A loaded
 * registry is immutable; a reload builds a new one and swaps it whole.
 * Lookups are binary searches over sorted arrays. */
#ifndef RELAY_REGISTRY_H
#define RELAY_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#define REGISTRY_MAX_PRACTICES 100000u
#define REGISTRY_MAX_FILE_BYTES (16u * 1024u * 1024u)
#define REGISTRY_MAX_KEYS 64u
#define REGISTRY_MAX_SAFES 1024u
#define REGISTRY_MAX_JTIS 100000u
#define REGISTRY_MAX_JTI 128u
#define REGISTRY_KEY_LEN 32u  /* raw Ed25519 public key */
#define REGISTRY_PIN_LEN 32u  /* SHA-256 of a DER SubjectPublicKeyInfo */

typedef struct registry registry_t;
typedef struct registry_practice registry_practice_t;

/* Loads every <practice-id>.json in dir. 0 and *out, or a negative error
 * with *out untouched and a message in err naming the file and the
 * reason: -ZK_ECONFIG for content, -ZK_EIO for a directory or file that
 * cannot be read, -ZK_ENOMEM. An empty directory is an empty registry. */
int registry_load(const char *dir, registry_t **out, char *err, size_t errlen);
/* NULL is a no-op. */
void registry_free(registry_t *reg);
size_t registry_count(const registry_t *reg);

/* The practice with this id (len bytes, no NUL needed), or NULL. */
const registry_practice_t *registry_find(const registry_t *reg, const char *practice_id,
					 size_t len);
/* 1 if the practice's status is "active". */
int registry_practice_active(const registry_practice_t *p);
/* The raw REGISTRY_KEY_LEN-byte Ed25519 public key with this kid, or NULL. */
const uint8_t *registry_token_key(const registry_practice_t *p, const char *kid, size_t kid_len);
/* 1 if endpoint_id is a registered data-safe of p and its pin equals
 * spki_sha256. */
int registry_safe_ok(const registry_practice_t *p, const char *endpoint_id, size_t len,
		     const uint8_t spki_sha256[REGISTRY_PIN_LEN]);
/* 1 if endpoint_id is a registered data-safe of p, whatever its pin. */
int registry_safe_known(const registry_practice_t *p, const char *endpoint_id, size_t len);
/* 1 if jti is on p's revocation list. */
int registry_jti_revoked(const registry_practice_t *p, const char *jti, size_t len);

/* SHA-256 of the DER SubjectPublicKeyInfo of cert, the value
 *   openssl x509 -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum
 * prints. 0, or -ZK_ECERT (-ZK_EINVAL for NULL arguments) with out
 * untouched. */
int registry_spki_sha256(X509 *cert, uint8_t out[REGISTRY_PIN_LEN]);

#endif
