/* Nothing weaker than the TLS profile gets through, tried with tools we
 * did not write: sslscan and the openssl command line. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "itest.h"

/* Runs cmd (stdin from /dev/null, bounded by timeout) and returns its
 * combined output, malloc'd. */
static char *run(const char *cmd)
{
	char full[2048], *out = NULL;
	size_t len = 0, cap = 0, n;
	char chunk[4096];
	FILE *p;

	snprintf(full, sizeof(full), "timeout 20 %s </dev/null 2>&1", cmd);
	p = popen(full, "r");
	ck_assert_ptr_nonnull(p);
	while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0) {
		if (len + n + 1 > cap) {
			cap = (len + n + 1) * 2;
			out = realloc(out, cap);
			ck_assert_ptr_nonnull(out);
		}
		memcpy(out + len, chunk, n);
		len += n;
	}
	pclose(p);
	if (!out)
		out = calloc(1, 1);
	out[len] = '\0';
	return out;
}

/* "openssl s_client" against the relay with the demo client-1 identity
 * and extra options. */
static char *s_client(harness_t *h, const char *extra)
{
	char cmd[1800];
	snprintf(cmd, sizeof(cmd),
		 "openssl s_client -connect 127.0.0.1:%d -servername localhost -CAfile %s "
		 "-cert %s -key %s %s",
		 harness_port(h), harness_path(h, "pki/ca.crt"),
		 harness_cert(h, "practice-a", "client-1"), harness_key(h, "practice-a", "client-1"),
		 extra);
	return run(cmd);
}

static int has(const char *out, const char *s)
{
	return strstr(out, s) != NULL;
}

START_TEST(test_sslscan_profile)
{
	harness_t *h = harness_new("sslscan");
	char cmd[256], *out;

	START(h);
	snprintf(cmd, sizeof(cmd), "sslscan --no-colour 127.0.0.1:%d", harness_port(h));
	out = run(cmd);
	ck_assert_msg(has(out, "TLSv1.3   enabled"), "%s", out);
	static const char *const off[] = { "SSLv2     disabled", "SSLv3     disabled",
					   "TLSv1.0   disabled", "TLSv1.1   disabled",
					   "TLSv1.2   disabled" };
	for (size_t i = 0; i < sizeof(off) / sizeof(off[0]); i++)
		ck_assert_msg(has(out, off[i]), "sslscan: no \"%s\" in:\n%s", off[i], out);
	ck_assert(has(out, "TLS_AES_256_GCM_SHA384"));
	ck_assert(has(out, "TLS_AES_128_GCM_SHA256"));
	/* Exactly two accepted suites, and no other group. */
	int suites = 0;
	for (const char *p = out; (p = strstr(p, "TLSv1.3  ")) != NULL; p++)
		suites += strstr(p, "bits  TLS_") != NULL && strstr(p, "bits  TLS_") < strchr(p, '\n');
	ck_assert_msg(suites == 2, "%d TLS 1.3 suites accepted:\n%s", suites, out);
	ck_assert_msg(!has(out, "CHACHA20") && !has(out, "CCM"), "%s", out);
	ck_assert_msg(!has(out, "x25519") && !has(out, "X25519") && !has(out, "x448"), "%s", out);
	free(out);
	harness_free(h);
}
END_TEST

START_TEST(test_weaker_offers_refused)
{
	harness_t *h = harness_new("downgrade");
	char *out;

	START(h);
	/* The profile itself is accepted by this client. */
	out = s_client(h, "-tls1_3");
	ck_assert_msg(has(out, "TLSv1.3") && has(out, "TLS_AES_"), "%s", out);
	ck_assert_msg(!has(out, "Reused"), "%s", out);
	free(out);
	/* The relay's preference decides: AES-128 though AES-256 is offered
	 * first; AES-256 when it is all that is offered. */
	out = s_client(h, "-ciphersuites TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256");
	ck_assert_msg(has(out, "Cipher is TLS_AES_128_GCM_SHA256"), "%s", out);
	free(out);
	out = s_client(h, "-ciphersuites TLS_AES_256_GCM_SHA384");
	ck_assert_msg(has(out, "Cipher is TLS_AES_256_GCM_SHA384"), "%s", out);
	free(out);
	static const char *const refused[] = {
		"-tls1_2",
		"-tls1_1",
		"-tls1",
		"-ciphersuites TLS_CHACHA20_POLY1305_SHA256",
		"-ciphersuites TLS_AES_128_CCM_SHA256",
		"-groups X25519",
		"-groups X448",
	};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		out = s_client(h, refused[i]);
		ck_assert_msg(has(out, "Cipher is (NONE)") || has(out, "alert") ||
				      has(out, "no protocols available") || has(out, "error"),
			      "%s: handshake not refused:\n%s", refused[i], out);
		ck_assert_msg(!has(out, "Verify return code: 0 (ok)") || has(out, "(NONE)"),
			      "%s: handshake completed:\n%s", refused[i], out);
		free(out);
	}
	/* ALPN: h2 is never chosen. */
	out = s_client(h, "-alpn h2");
	ck_assert_msg(!has(out, "ALPN protocol: h2"), "%s", out);
	free(out);
	/* No session ticket is issued, so nothing can resume. */
	out = s_client(h, "-sess_out /dev/null -msg");
	ck_assert_msg(!has(out, "NewSessionTicket"), "a session ticket was issued:\n%s", out);
	free(out);
	harness_free(h);
}
END_TEST

/* A plaintext WebSocket upgrade on the TLS port gets no 101. */
START_TEST(test_plaintext_websocket_refused)
{
	harness_t *h = harness_new("plainws");
	char buf[512] = "";
	static const char req[] = "GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
				  "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
				  "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: zkrelay.v1\r\n\r\n";
	FILE *f;
	char cmd[512];

	START(h);
	/* Raw bytes, no TLS, through the shell's /dev/tcp. */
	snprintf(cmd, sizeof(cmd),
		 "bash -c 'exec 3<>/dev/tcp/127.0.0.1/%d; printf \"%%s\" \"$0\" >&3; "
		 "timeout 3 cat <&3' '%s'",
		 harness_port(h), req);
	f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	pclose(f);
	ck_assert_msg(strstr(buf, "101") == NULL && strstr(buf, "HTTP/1.1") == NULL,
		      "plaintext upgrade answered: %s", buf);
	harness_free(h);
}
END_TEST

Suite *downgrade_suite(void)
{
	Suite *s = suite_create("downgrade");
	TCase *tc = tcase_create("downgrade");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_sslscan_profile);
	tcase_add_test(tc, test_weaker_offers_refused);
	tcase_add_test(tc, test_plaintext_websocket_refused);
	suite_add_tcase(s, tc);
	return s;
}
