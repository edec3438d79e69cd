#include "state.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"
#include "keyfile.h"
#include "zkerr.h"
#include "zkrelay.h"

#define CONFIG "config.json"
#define STATIC_KEY "static.key"
#define ENROLLMENT "enrollment.json"
#define MAX_CONFIG 16384u

static int path_in(const char *dir, const char *file, char *out, size_t cap)
{
	return snprintf(out, cap, "%s/%s", dir, file) < (int)cap ? 0 : -ZK_EINVAL;
}

int state_dir(const char *opt, char *out, size_t cap)
{
	const char *env = getenv("ZKRELAY_CLI_STATE"), *home = getenv("HOME");
	int n;

	if (opt && *opt)
		n = snprintf(out, cap, "%s", opt);
	else if (env && *env)
		n = snprintf(out, cap, "%s", env);
	else if (home && *home)
		n = snprintf(out, cap, "%s/.config/zkrelay-cli", home);
	else
		return -ZK_EINVAL;
	return n > 0 && (size_t)n < cap ? 0 : -ZK_EINVAL;
}

/* mkdir -p, the last component 0700 (it will hold a private key). */
static int make_dirs(const char *dir, char *err, size_t errlen)
{
	char p[PATH_MAX];
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof(p))
		return zk_errf(err, errlen, -ZK_EINVAL, "%s: bad directory name", dir);
	memcpy(p, dir, n + 1);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) && errno != EEXIST)
			return zk_errf(err, errlen, -ZK_EIO, "%s: %s", p, strerror(errno));
		*s = '/';
	}
	if (mkdir(p, 0700) && errno != EEXIST)
		return zk_errf(err, errlen, -ZK_EIO, "%s: %s", p, strerror(errno));
	return 0;
}

/* An absolute path to an existing readable file, so the CLI works from
 * any directory later. */
static int abs_file(const char *what, const char *path, char out[PATH_MAX], char *err,
		    size_t errlen)
{
	if (!realpath(path, out) || access(out, R_OK))
		return zk_errf(err, errlen, -ZK_EIO, "%s %s: %s", what, path, strerror(errno));
	return 0;
}

static int write_config(const char *dir, const state_t *st, char *err, size_t errlen)
{
	char path[PATH_MAX], *s = NULL;
	json_t *j = json_pack("{s:s, s:s, s:s}", "cert", st->cert, "key", st->key, "ca", st->ca);
	int rc = -ZK_ENOMEM;

	if (j)
		s = json_dumps(j, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	if (s && (rc = path_in(dir, CONFIG, path, sizeof(path))) == 0)
		rc = file_create(path, s, strlen(s), 0600, err, errlen);
	free(s);
	json_decref(j);
	return rc;
}

int state_init(const char *dir, const char *cert, const char *key, const char *ca,
	       uint8_t pub[32], char *err, size_t errlen)
{
	state_t st;
	uint8_t priv[ZKR_KEY_LEN];
	char path[PATH_MAX];
	int rc;

	if (abs_file("certificate", cert, st.cert, err, errlen) ||
	    abs_file("key", key, st.key, err, errlen) || abs_file("CA", ca, st.ca, err, errlen))
		return -ZK_EIO;
	if (path_in(dir, CONFIG, path, sizeof(path)) || path_in(dir, STATIC_KEY, path, sizeof(path)))
		return zk_errf(err, errlen, -ZK_EINVAL, "%s: path too long", dir);
	path_in(dir, CONFIG, path, sizeof(path));
	if (access(path, F_OK) == 0)
		return zk_errf(err, errlen, -ZK_EIO, "%s: already initialised", dir);
	rc = make_dirs(dir, err, errlen);
	if (rc)
		return rc;
	rc = zkr_keygen(priv, pub);
	path_in(dir, STATIC_KEY, path, sizeof(path));
	if (rc == 0)
		rc = keyfile_create(path, priv, err, errlen);
	zkr_wipe(priv, sizeof(priv));
	if (rc == 0)
		rc = write_config(dir, &st, err, errlen);
	return rc;
}

static int get_path(const json_t *j, const char *key, char out[PATH_MAX])
{
	const json_t *v = json_object_get(j, key);

	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) >= PATH_MAX)
		return -1;
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

int state_load(const char *dir, state_t *st, char *err, size_t errlen)
{
	char path[PATH_MAX], *text = NULL;
	size_t len = 0;
	json_t *j;
	int rc;

	if (path_in(dir, CONFIG, path, sizeof(path)))
		return zk_errf(err, errlen, -ZK_EINVAL, "%s: path too long", dir);
	if (access(path, F_OK))
		return zk_errf(err, errlen, -ZK_EIO, "%s: not initialised (run init first)", dir);
	rc = file_read(path, MAX_CONFIG, &text, &len, err, errlen);
	if (rc)
		return rc;
	j = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
	free(text);
	rc = 0;
	if (!json_is_object(j) || get_path(j, "cert", st->cert) || get_path(j, "key", st->key) ||
	    get_path(j, "ca", st->ca))
		rc = zk_errf(err, errlen, -ZK_EMALFORMED, "%s: malformed", path);
	json_decref(j);
	if (rc == 0)
		snprintf(st->dir, sizeof(st->dir), "%s", dir);
	return rc;
}

int state_static_key(const char *dir, uint8_t priv[32], char *err, size_t errlen)
{
	char path[PATH_MAX];

	if (path_in(dir, STATIC_KEY, path, sizeof(path)))
		return zk_errf(err, errlen, -ZK_EINVAL, "%s: path too long", dir);
	if (access(path, F_OK))
		return zk_errf(err, errlen, -ZK_EIO, "%s: not initialised (run init first)", dir);
	return keyfile_read(path, priv, err, errlen);
}

int state_public_key(const char *dir, uint8_t pub[32], char *err, size_t errlen)
{
	uint8_t priv[ZKR_KEY_LEN];
	int rc = state_static_key(dir, priv, err, errlen);

	if (rc == 0 && (rc = zkr_public_key(priv, pub)) != 0)
		zk_errf(err, errlen, rc, "%s/" STATIC_KEY ": not an X25519 key", dir);
	zkr_wipe(priv, sizeof(priv));
	return rc;
}

int state_read_enrollment(const char *dir, enroll_t *e, char *err, size_t errlen)
{
	char path[PATH_MAX];

	if (path_in(dir, ENROLLMENT, path, sizeof(path)))
		return zk_errf(err, errlen, -ZK_EINVAL, "%s: path too long", dir);
	if (access(path, F_OK))
		return zk_errf(err, errlen, -ZK_EIO, "%s: not enrolled (run enroll first)", dir);
	return enroll_read(path, e, err, errlen);
}

int state_write_enrollment(const char *dir, const enroll_t *e, char *err, size_t errlen)
{
	char path[PATH_MAX];

	if (path_in(dir, ENROLLMENT, path, sizeof(path)))
		return zk_errf(err, errlen, -ZK_EINVAL, "%s: path too long", dir);
	return enroll_write(path, e, err, errlen);
}
