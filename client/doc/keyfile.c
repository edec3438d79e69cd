#include "keyfile.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "b64url.h"
#include "file.h"
#include "zkerr.h"

int keyfile_encode_pub(const uint8_t pub[KEYFILE_LEN], char out[KEYFILE_B64 + 1])
{
	size_t n;

	if (b64url_encode(pub, KEYFILE_LEN, out, KEYFILE_B64, &n) || n != KEYFILE_B64)
		return -ZK_EINVAL;
	out[n] = '\0';
	return 0;
}

int keyfile_decode_pub(const char *s, uint8_t pub[KEYFILE_LEN])
{
	uint8_t tmp[KEYFILE_LEN];
	size_t n;

	if (!s || strnlen(s, KEYFILE_B64 + 1) != KEYFILE_B64 ||
	    b64url_decode(s, KEYFILE_B64, tmp, sizeof(tmp), &n) || n != KEYFILE_LEN)
		return -ZK_EMALFORMED;
	memcpy(pub, tmp, sizeof(tmp));
	return 0;
}

int keyfile_create(const char *path, const uint8_t priv[KEYFILE_LEN], char *err, size_t errlen)
{
	char text[KEYFILE_B64 + 2];
	size_t n;
	int rc;

	if (b64url_encode(priv, KEYFILE_LEN, text, KEYFILE_B64, &n) || n != KEYFILE_B64)
		return zk_errf(err, errlen, -ZK_EINVAL, "%s: cannot encode the key", path);
	text[KEYFILE_B64] = '\n';
	rc = file_create(path, text, KEYFILE_B64 + 1, 0600, err, errlen);
	if (rc && errno == EEXIST)
		rc = zk_errf(err, errlen, -ZK_EIO, "%s: exists; refusing to overwrite a key", path);
	OPENSSL_cleanse(text, sizeof(text));
	return rc;
}

int keyfile_read(const char *path, uint8_t priv[KEYFILE_LEN], char *err, size_t errlen)
{
	struct stat st;
	char *text = NULL;
	size_t len = 0, klen, n;
	int rc;

	if (stat(path, &st) == 0 && (st.st_mode & 077))
		return zk_errf(err, errlen, -ZK_EIO, "%s: readable by others; chmod 600 it", path);
	rc = file_read(path, 256, &text, &len, err, errlen);
	if (rc)
		return rc;
	klen = len == KEYFILE_B64 + 1 && text[KEYFILE_B64] == '\n' ? KEYFILE_B64 : len;
	if (klen != KEYFILE_B64 || b64url_decode(text, klen, priv, KEYFILE_LEN, &n) ||
	    n != KEYFILE_LEN)
		rc = zk_errf(err, errlen, -ZK_EMALFORMED, "%s: not a base64url X25519 key", path);
	OPENSSL_cleanse(text, len);
	free(text);
	return rc;
}
