/* config.c: the INI loader and the cross-key rules. Every numeric key is
 * tried at both edges of its range and one step past each; refusals must
 * carry the line number and name the key, so an operator can find the
 * mistake without reading the source. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "suites.h"
#include "zkerr.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define ERRLEN 512

static char err[ERRLEN];

/* Loads text over the defaults. */
static int load(config_t *c, const char *text)
{
	config_defaults(c);
	memset(err, 'Z', sizeof(err));
	return config_load_string(c, text, err, sizeof(err));
}

static void assert_contains(const char *hay, const char *needle)
{
	ck_assert_msg(strstr(hay, needle) != NULL, "\"%s\" does not contain \"%s\"", hay, needle);
}

static uint64_t field(const config_t *c, size_t off, int width)
{
	const char *p = (const char *)c + off;

	if (width == 4) {
		uint32_t v;

		memcpy(&v, p, sizeof(v));
		return v;
	}
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

#define F32(f) offsetof(config_t, f), 4
#define F64(f) offsetof(config_t, f), 8

/* ---- defaults ------------------------------------------------------- */

START_TEST(test_defaults_valid)
{
	config_t c;

	config_defaults(&c);
	memset(err, 'Z', sizeof(err));
	ck_assert_int_eq(config_validate(&c, err, sizeof(err)), 0);
	ck_assert_str_eq(c.relay_id, "zkrelay-dev");
	ck_assert_str_eq(c.listen_addr, "127.0.0.1");
	ck_assert_int_eq(c.listen_port, 8443);
	ck_assert_int_eq(c.log_level, ZLOG_INFO);
}
END_TEST

/* Empty text, blank lines and comments change nothing. */
START_TEST(test_empty_text_keeps_defaults)
{
	static const char *const texts[] = { "", "\n\n", "; a comment\n# another\n",
					     "[limits]\n; nothing set\n" };
	config_t d;

	config_defaults(&d);
	for (size_t i = 0; i < ARRAY_LEN(texts); i++) {
		config_t c;

		ck_assert_int_eq(load(&c, texts[i]), 0);
		ck_assert_msg(memcmp(&c, &d, sizeof(c)) == 0, "text %zu changed the defaults", i);
	}
}
END_TEST

/* ---- every key ---------------------------------------------------------- */

static const char all_keys[] = "[relay]\n"
			       "id = relay-7\n"
			       "listen = 0.0.0.0:9443\n"
			       "\n"
			       "[tls]\n"
			       "ca_file = /etc/zkrelay/ca.pem\n"
			       "cert_file = /etc/zkrelay/relay.pem\n"
			       "key_file = /etc/zkrelay/relay.key\n"
			       "crl_file = /etc/zkrelay/crl.pem\n"
			       "\n"
			       "[limits]\n"
			       "max_message_bytes = 32768\n"
			       "max_payload_bytes = 30000\n"
			       "max_connections = 5000\n"
			       "max_connections_per_ip = 50\n"
			       "queue_max_bytes = 2097152\n"
			       "queue_high_water = 1048576\n"
			       "queue_low_water = 262144\n"
			       "queue_total_max_bytes = 1073741824\n"
			       "\n"
			       "[timeouts]\n"
			       "tls_handshake_s = 7\n"
			       "upgrade_s = 8\n"
			       "hello_s = 9\n"
			       "ping_s = 30\n"
			       "idle_s = 90\n"
			       "drain_s = 11\n"
			       "\n"
			       "[log]\n"
			       "level = debug\n";

START_TEST(test_every_key)
{
	config_t c;

	ck_assert_msg(load(&c, all_keys) == 0, "%s", err);
	ck_assert_str_eq(c.relay_id, "relay-7");
	ck_assert_str_eq(c.listen_addr, "0.0.0.0");
	ck_assert_int_eq(c.listen_port, 9443);
	ck_assert_str_eq(c.ca_file, "/etc/zkrelay/ca.pem");
	ck_assert_str_eq(c.cert_file, "/etc/zkrelay/relay.pem");
	ck_assert_str_eq(c.key_file, "/etc/zkrelay/relay.key");
	ck_assert_str_eq(c.crl_file, "/etc/zkrelay/crl.pem");
	ck_assert_uint_eq(c.max_message_bytes, 32768);
	ck_assert_uint_eq(c.max_payload_bytes, 30000);
	ck_assert_uint_eq(c.max_connections, 5000);
	ck_assert_uint_eq(c.max_connections_per_ip, 50);
	ck_assert_uint_eq(c.queue_max_bytes, 2097152);
	ck_assert_uint_eq(c.queue_high_water, 1048576);
	ck_assert_uint_eq(c.queue_low_water, 262144);
	ck_assert_uint_eq(c.queue_total_max_bytes, 1073741824);
	ck_assert_uint_eq(c.tls_handshake_s, 7);
	ck_assert_uint_eq(c.upgrade_s, 8);
	ck_assert_uint_eq(c.hello_s, 9);
	ck_assert_uint_eq(c.ping_s, 30);
	ck_assert_uint_eq(c.idle_s, 90);
	ck_assert_uint_eq(c.drain_s, 11);
	ck_assert_int_eq(c.log_level, ZLOG_DEBUG);
}
END_TEST

/* A file that sets one key leaves every other at its default. */
START_TEST(test_one_key_over_defaults)
{
	config_t c, want;

	ck_assert_int_eq(load(&c, "[timeouts]\nhello_s = 12\n"), 0);
	config_defaults(&want);
	want.hello_s = 12;
	ck_assert_int_eq(memcmp(&c, &want, sizeof(c)), 0);
}
END_TEST

/* The separators and comments inih allows: spaces around '=', ':' as the
 * separator, an inline comment after whitespace. */
START_TEST(test_syntax_variants)
{
	config_t c;

	ck_assert_int_eq(load(&c, "[timeouts]\nhello_s=12\n"), 0);
	ck_assert_uint_eq(c.hello_s, 12);
	ck_assert_int_eq(load(&c, "[timeouts]\n  hello_s   =   13  \n"), 0);
	ck_assert_uint_eq(c.hello_s, 13);
	ck_assert_int_eq(load(&c, "[timeouts]\nhello_s : 14\n"), 0);
	ck_assert_uint_eq(c.hello_s, 14);
	ck_assert_int_eq(load(&c, "[timeouts]\nhello_s = 15 ; seconds\n"), 0);
	ck_assert_uint_eq(c.hello_s, 15);
	/* Decimal only: a leading zero is not octal. */
	ck_assert_int_eq(load(&c, "[timeouts]\nhello_s = 010\n"), 0);
	ck_assert_uint_eq(c.hello_s, 10);
}
END_TEST

/* ---- numeric ranges ------------------------------------------------------ */

typedef struct {
	const char *text;
	size_t off;
	int width;
	uint64_t want;
} num_ok_t;

/* Each key at its minimum and maximum, with whatever companion keys the
 * cross-key rules need so that the edge value alone decides. */
static const num_ok_t num_ok[] = {
	{ "[limits]\nmax_message_bytes = 1024\n", F32(max_message_bytes), 1024 },
	{ "[limits]\nmax_message_bytes = 16777216\nqueue_max_bytes = 16778240\n",
	  F32(max_message_bytes), 16777216 },
	{ "[limits]\nmax_payload_bytes = 16\n", F32(max_payload_bytes), 16 },
	{ "[limits]\nmax_payload_bytes = 65535\n", F32(max_payload_bytes), 65535 },
	{ "[limits]\nmax_connections = 1\nmax_connections_per_ip = 1\n", F32(max_connections), 1 },
	{ "[limits]\nmax_connections = 1000000\n", F32(max_connections), 1000000 },
	{ "[limits]\nmax_connections_per_ip = 1\n", F32(max_connections_per_ip), 1 },
	{ "[limits]\nmax_connections = 1000000\nmax_connections_per_ip = 1000000\n",
	  F32(max_connections_per_ip), 1000000 },
	{ "[limits]\nmax_message_bytes = 1024\nqueue_max_bytes = 4096\n"
	  "queue_high_water = 2048\nqueue_low_water = 1024\n",
	  F64(queue_max_bytes), 4096 },
	{ "[limits]\nqueue_max_bytes = 17179869184\nqueue_total_max_bytes = 17179869184\n",
	  F64(queue_max_bytes), 17179869184ull },
	{ "[limits]\nqueue_high_water = 1024\nqueue_low_water = 0\n", F64(queue_high_water), 1024 },
	{ "[limits]\nqueue_high_water = 17179869184\nqueue_max_bytes = 17179869184\n"
	  "queue_total_max_bytes = 17179869184\n",
	  F64(queue_high_water), 17179869184ull },
	{ "[limits]\nqueue_low_water = 0\n", F64(queue_low_water), 0 },
	{ "[limits]\nmax_message_bytes = 1024\nqueue_max_bytes = 4096\n"
	  "queue_high_water = 2048\nqueue_low_water = 1024\nqueue_total_max_bytes = 4096\n",
	  F64(queue_total_max_bytes), 4096 },
	{ "[limits]\nqueue_total_max_bytes = 1099511627776\n", F64(queue_total_max_bytes),
	  1099511627776ull },
	{ "[limits]\nconn_frames_per_s = 1\n", F32(conn_frames.rate), 1 },
	{ "[limits]\nconn_frames_per_s = 4294967295\n", F32(conn_frames.rate), 4294967295u },
	{ "[limits]\nconn_frames_burst = 1\n", F32(conn_frames.burst), 1 },
	{ "[limits]\nconn_frames_burst = 4294967295\n", F32(conn_frames.burst), 4294967295u },
	{ "[limits]\nconn_bytes_per_s = 1\n", F32(conn_bytes.rate), 1 },
	{ "[limits]\nconn_bytes_burst = 65535\n", F32(conn_bytes.burst), 65535 },
	{ "[limits]\nconn_bytes_burst = 4294967295\n", F32(conn_bytes.burst), 4294967295u },
	{ "[limits]\npractice_frames_per_s = 1\n", F32(practice_frames.rate), 1 },
	{ "[limits]\npractice_frames_burst = 4294967295\n", F32(practice_frames.burst),
	  4294967295u },
	{ "[limits]\npractice_bytes_per_s = 4294967295\n", F32(practice_bytes.rate), 4294967295u },
	{ "[limits]\nmax_payload_bytes = 16\npractice_bytes_burst = 16\n",
	  F32(practice_bytes.burst), 16 },
	{ "[timeouts]\ntls_handshake_s = 1\n", F32(tls_handshake_s), 1 },
	{ "[timeouts]\ntls_handshake_s = 300\n", F32(tls_handshake_s), 300 },
	{ "[timeouts]\nupgrade_s = 1\n", F32(upgrade_s), 1 },
	{ "[timeouts]\nupgrade_s = 300\n", F32(upgrade_s), 300 },
	{ "[timeouts]\nhello_s = 1\n", F32(hello_s), 1 },
	{ "[timeouts]\nhello_s = 300\n", F32(hello_s), 300 },
	{ "[timeouts]\nping_s = 1\n", F32(ping_s), 1 },
	{ "[timeouts]\nping_s = 3600\nidle_s = 7200\n", F32(ping_s), 3600 },
	{ "[timeouts]\nidle_s = 2\nping_s = 1\n", F32(idle_s), 2 },
	{ "[timeouts]\nidle_s = 7200\n", F32(idle_s), 7200 },
	{ "[timeouts]\ndrain_s = 0\n", F32(drain_s), 0 },
	{ "[timeouts]\ndrain_s = 600\n", F32(drain_s), 600 },
};

START_TEST(test_number_edges_accepted)
{
	const num_ok_t *t = &num_ok[_i];
	config_t c;

	ck_assert_msg(load(&c, t->text) == 0, "%s-> %s", t->text, err);
	ck_assert_uint_eq(field(&c, t->off, t->width), t->want);
}
END_TEST

/* queue_low_water's maximum cannot pass the cross-key rules (it must stay
 * below queue_high_water, whose maximum is the same), but the parser
 * itself accepts it: the refusal is the cross-key one. */
START_TEST(test_low_water_max_parses)
{
	config_t c;

	ck_assert_int_eq(load(&c, "[limits]\nqueue_low_water = 17179869184\n"), -ZK_ECONFIG);
	assert_contains(err, "queue_low_water must be below queue_high_water");
	ck_assert_int_eq(load(&c, "[limits]\nqueue_low_water = 17179869185\n"), -ZK_ECONFIG);
	assert_contains(err, "<string>:2: ");
	assert_contains(err, "expected an integer in 0..17179869184");
}
END_TEST

typedef struct {
	const char *section, *key, *value;
} num_bad_t;

/* One step past each edge, and for keys whose minimum is 0, a negative. */
static const num_bad_t num_bad[] = {
	{ "limits", "max_message_bytes", "1023" },
	{ "limits", "max_message_bytes", "16777217" },
	{ "limits", "max_payload_bytes", "15" },
	{ "limits", "max_payload_bytes", "65536" },
	{ "limits", "max_connections", "0" },
	{ "limits", "max_connections", "1000001" },
	{ "limits", "max_connections_per_ip", "0" },
	{ "limits", "max_connections_per_ip", "1000001" },
	{ "limits", "queue_max_bytes", "4095" },
	{ "limits", "queue_max_bytes", "17179869185" },
	{ "limits", "queue_high_water", "1023" },
	{ "limits", "queue_high_water", "17179869185" },
	{ "limits", "queue_low_water", "-1" },
	{ "limits", "queue_low_water", "17179869185" },
	{ "limits", "queue_total_max_bytes", "4095" },
	{ "limits", "queue_total_max_bytes", "1099511627777" },
	{ "limits", "conn_frames_per_s", "0" },
	{ "limits", "conn_frames_per_s", "4294967296" },
	{ "limits", "conn_frames_burst", "0" },
	{ "limits", "conn_bytes_per_s", "0" },
	{ "limits", "conn_bytes_burst", "0" },
	{ "limits", "conn_bytes_burst", "4294967296" },
	{ "limits", "practice_frames_per_s", "0" },
	{ "limits", "practice_frames_burst", "0" },
	{ "limits", "practice_bytes_per_s", "0" },
	{ "limits", "practice_bytes_per_s", "4294967296" },
	{ "limits", "practice_bytes_burst", "0" },
	{ "timeouts", "tls_handshake_s", "0" },
	{ "timeouts", "tls_handshake_s", "301" },
	{ "timeouts", "upgrade_s", "0" },
	{ "timeouts", "upgrade_s", "301" },
	{ "timeouts", "hello_s", "0" },
	{ "timeouts", "hello_s", "301" },
	{ "timeouts", "ping_s", "0" },
	{ "timeouts", "ping_s", "3601" },
	{ "timeouts", "idle_s", "1" },
	{ "timeouts", "idle_s", "7201" },
	{ "timeouts", "drain_s", "-1" },
	{ "timeouts", "drain_s", "601" },
	/* A 32-bit key must not wrap a 33-bit value into range. */
	{ "timeouts", "hello_s", "4294967306" },
	{ "limits", "max_connections", "4294967297" },
};

START_TEST(test_number_out_of_range)
{
	const num_bad_t *t = &num_bad[_i];
	char text[256], want[128];
	config_t c;

	snprintf(text, sizeof(text), "[%s]\n%s = %s\n", t->section, t->key, t->value);
	ck_assert_int_eq(load(&c, text), -ZK_ECONFIG);
	snprintf(want, sizeof(want), "<string>:2: [%s] %s = \"%s\": expected an integer in ",
		 t->section, t->key, t->value);
	assert_contains(err, want);
}
END_TEST

/* Anything but plain decimal digits is refused, whatever strtoull would
 * make of it. */
static const char *const not_numbers[] = {
	"",	 "abc",	  "-1",	  "+5",	  "10x",	  "0x10", "1e3",
	"1.5",	 "1 0",	  "10,",  "\"10\"", "18446744073709551616",
	"99999999999999999999999", "\xd9\xa1\xd9\xa0", /* Arabic-Indic 10 */
};

START_TEST(test_not_a_number)
{
	char text[256];
	config_t c;

	snprintf(text, sizeof(text), "[timeouts]\nhello_s = %s\n", not_numbers[_i]);
	ck_assert_int_eq(load(&c, text), -ZK_ECONFIG);
	assert_contains(err, "<string>:2: [timeouts] hello_s = ");
	assert_contains(err, "expected an integer in 1..300");
}
END_TEST

/* ---- strings, level, listen ---------------------------------------------- */

#define S64 "relay-0123456789012345678901234567890123456789012345678901234567"

START_TEST(test_strings)
{
	char text[1024];
	char path[151];
	config_t c;

	ck_assert_uint_eq(strlen(S64), 64);
	ck_assert_int_eq(load(&c, "[relay]\nid = " S64 "\n"), 0);
	ck_assert_str_eq(c.relay_id, S64);
	ck_assert_int_eq(load(&c, "[relay]\nid = " S64 "x\n"), -ZK_ECONFIG);
	assert_contains(err, "<string>:2: [relay] id = ");
	assert_contains(err, "expected a non-empty string");
	ck_assert_int_eq(load(&c, "[relay]\nid =\n"), -ZK_ECONFIG);
	assert_contains(err, "<string>:2: [relay] id = \"\"");
	ck_assert_int_eq(load(&c, "[tls]\nkey_file = \n"), -ZK_ECONFIG);
	assert_contains(err, "<string>:2: [tls] key_file");

	/* Paths keep their spaces inside and lose them at the ends. */
	ck_assert_int_eq(load(&c, "[tls]\ncrl_file =  /srv/zk relay/crl.pem  \n"), 0);
	ck_assert_str_eq(c.crl_file, "/srv/zk relay/crl.pem");
	memset(path, 'p', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	snprintf(text, sizeof(text), "[tls]\nca_file = %s\n", path);
	ck_assert_int_eq(load(&c, text), 0);
	ck_assert_str_eq(c.ca_file, path);
}
END_TEST

/* CONFIG_PATH_MAX allows paths up to 179 bytes. */
START_TEST(test_long_path)
{
	char text[2048], path[CONFIG_PATH_MAX];
	config_t c;

	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	snprintf(text, sizeof(text), "[tls]\nca_file = %s\n", path);
	ck_assert_msg(load(&c, text) == 0, "179-byte path refused: %s", err);
	ck_assert_str_eq(c.ca_file, path);
}
END_TEST

/* A comment may be as long as it likes without any part of it being read
 * as a setting. Comment lengths around any plausible line-buffer size are
 * tried, so that the text after a cut would start exactly at "drain_s". */
START_TEST(test_long_comment)
{
	char text[1024];
	config_t c;
	size_t n;
	int set_at = -1, refused_at = -1;

	for (int pad = 100; pad < 600; pad++) {
		n = (size_t)snprintf(text, sizeof(text), "[timeouts]\n; ");
		memset(text + n, 'c', (size_t)pad);
		snprintf(text + n + (size_t)pad, sizeof(text) - n - (size_t)pad, " drain_s = 7\n");
		if (load(&c, text) != 0) {
			if (refused_at < 0)
				refused_at = pad;
		} else if (c.drain_s != 5 && set_at < 0) {
			set_at = pad;
		}
	}
	ck_assert_msg(set_at < 0, "drain_s set from inside a %d-byte comment", set_at + 14);
	ck_assert_msg(refused_at < 0, "a %d-byte comment refused", refused_at + 14);
}
END_TEST

START_TEST(test_path_too_long)
{
	char text[2048], path[CONFIG_PATH_MAX + 1];
	config_t c;

	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	snprintf(text, sizeof(text), "[tls]\ncert_file = %s\n", path);
	ck_assert_int_eq(load(&c, text), -ZK_ECONFIG);
}
END_TEST

START_TEST(test_log_level)
{
	static const struct {
		const char *v;
		int level;
	} ok[] = { { "debug", ZLOG_DEBUG }, { "info", ZLOG_INFO }, { "warn", ZLOG_WARN },
		   { "error", ZLOG_ERROR } };
	static const char *const bad[] = { "DEBUG", "Info", "verbose", "warning", "3", "" };
	char text[128];
	config_t c;

	for (size_t i = 0; i < ARRAY_LEN(ok); i++) {
		snprintf(text, sizeof(text), "[log]\nlevel = %s\n", ok[i].v);
		ck_assert_int_eq(load(&c, text), 0);
		ck_assert_int_eq(c.log_level, ok[i].level);
	}
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		snprintf(text, sizeof(text), "[log]\nlevel = %s\n", bad[i]);
		ck_assert_int_eq(load(&c, text), -ZK_ECONFIG);
		assert_contains(err, "<string>:2: [log] level");
		assert_contains(err, "one of debug, info, warn, error");
	}
}
END_TEST

typedef struct {
	const char *v;
	const char *addr;
	int port;
} listen_ok_t;

static const listen_ok_t listen_ok[] = {
	{ "127.0.0.1:9000", "127.0.0.1", 9000 },
	{ "0.0.0.0:1", "0.0.0.0", 1 },
	{ "localhost:8443", "localhost", 8443 },
	{ "[::1]:8443", "::1", 8443 },
	{ "[::]:443", "::", 443 },
	{ "[2001:db8::1]:65535", "2001:db8::1", 65535 },
	{ "10.1.2.3:00443", "10.1.2.3", 443 },
	/* 63 bytes: the longest host listen_addr holds. */
	{ "h23456789012345678901234567890123456789012345678901234567890123:1",
	  "h23456789012345678901234567890123456789012345678901234567890123", 1 },
};

START_TEST(test_listen_ok)
{
	const listen_ok_t *t = &listen_ok[_i];
	char text[256];
	config_t c;

	snprintf(text, sizeof(text), "[relay]\nlisten = %s\n", t->v);
	ck_assert_msg(load(&c, text) == 0, "%s: %s", t->v, err);
	ck_assert_str_eq(c.listen_addr, t->addr);
	ck_assert_int_eq(c.listen_port, t->port);
}
END_TEST

static const char *const listen_bad[] = {
	"127.0.0.1",
	"127.0.0.1:",
	":8443",
	"[]:8443",
	"[::1]",
	"[::1]:",
	"localhost:-1",
	"localhost:+80",
	"localhost:80x",
	"localhost:0x50",
	"localhost:65536",
	"localhost:99999999999999999999999",
	"h234567890123456789012345678901234567890123456789012345678901234:1",
};

START_TEST(test_listen_bad)
{
	char text[256];
	config_t c;

	snprintf(text, sizeof(text), "[relay]\nlisten = %s\n", listen_bad[_i]);
	ck_assert_int_eq(load(&c, text), -ZK_ECONFIG);
	assert_contains(err, "<string>:2: [relay] listen = ");
	assert_contains(err, "expected host:port");
	ck_assert_str_eq(c.listen_addr, "127.0.0.1");
	ck_assert_int_eq(c.listen_port, 8443);
}
END_TEST

/* ---- unknown, repeated, malformed ----------------------------------------- */

typedef struct {
	const char *text;
	const char *where; /* "<string>:N: " */
	const char *what;
} refusal_t;

static const refusal_t refusals[] = {
	{ "[limits]\nmax_conections = 10\n", "<string>:2: ", "unknown key [limits] max_conections" },
	{ "[timeouts]\nhello_s = 5\n\n[limit]\nmax_connections = 10\n", "<string>:4: ",
	  "unknown section [limit]" },
	{ "max_connections = 10\n", "<string>:1: ", "unknown key [] max_connections" },
	{ "[relay]\nmax_connections = 10\n", "<string>:2: ", "unknown key [relay] max_connections" },
	{ "[Limits]\nmax_connections = 10\n", "<string>:1: ", "unknown section [Limits]" },
	{ "[limits]\nMax_Connections = 10\n", "<string>:2: ", "unknown key [limits] Max_Connections" },
	{ "[limits]\nmax_connections = 300\nmax_connections = 400\n", "<string>:3: ",
	  "[limits] max_connections is set twice" },
	{ "[limits]\nmax_connections = 300\n[timeouts]\nhello_s = 3\n[limits]\nmax_connections = 300\n",
	  "<string>:6: ", "[limits] max_connections is set twice" },
	/* A refused value still counts as set: the report is about line 2. */
	{ "[limits]\nmax_connections = x\nmax_connections = 300\n", "<string>:2: ",
	  "[limits] max_connections = \"x\"" },
	/* Only the first error is reported. */
	{ "[limits]\nbogus = 1\nother = 2\n", "<string>:2: ", "unknown key [limits] bogus" },
	{ "[limits]\nmax_connections = 300\nbogus = 1\nhello_s = 0\n", "<string>:3: ", "bogus" },
	{ "[limits\n", "<string>:1: ", "syntax error" },
	{ "[limits]\nmax_connections\n", "<string>:2: ", "syntax error" },
};

START_TEST(test_refusal)
{
	const refusal_t *t = &refusals[_i];
	config_t c;

	ck_assert_int_eq(load(&c, t->text), -ZK_ECONFIG);
	ck_assert_msg(strncmp(err, t->where, strlen(t->where)) == 0, "\"%s\" is not at %s", err,
		      t->where);
	assert_contains(err, t->what);
}
END_TEST

/* The line number and the message must describe the same line: a syntax
 * error on line 2 must not be reported with line 3's complaint. */
START_TEST(test_error_message_matches_line)
{
	config_t c;

	ck_assert_int_eq(load(&c, "[limits]\nnot a setting\nbogus = 1\n"), -ZK_ECONFIG);
	ck_assert_msg(strncmp(err, "<string>:2: ", 12) == 0, "%s", err);
	ck_assert_msg(strstr(err, "bogus") == NULL, "line 2 reported with line 3's error: %s",
		      err);
}
END_TEST

/* A message longer than the caller's buffer is cut, never overrun, and
 * still a terminated string. */
START_TEST(test_error_truncated)
{
	char *small = malloc(16);
	config_t c;

	ck_assert_ptr_nonnull(small);
	config_defaults(&c);
	ck_assert_int_eq(config_load_string(&c, "[limits]\nthis_key_name_is_long = 1\n", small, 16),
			 -ZK_ECONFIG);
	ck_assert_uint_eq(strlen(small), 15);
	ck_assert_int_eq(strncmp(small, "<string>:2: ", 12), 0);
	config_defaults(&c);
	c.ping_s = c.idle_s;
	ck_assert_int_eq(config_validate(&c, small, 8), -ZK_ECONFIG);
	ck_assert_uint_eq(strlen(small), 7);
	free(small);
}
END_TEST

START_TEST(test_missing_file)
{
	config_t c;

	config_defaults(&c);
	ck_assert_int_eq(config_load(&c, "/nonexistent/zkrelay-unit.ini", err, sizeof(err)),
			 -ZK_ECONFIG);
	assert_contains(err, "/nonexistent/zkrelay-unit.ini: cannot open");
}
END_TEST

/* ---- cross-key rules ------------------------------------------------------- */

typedef struct {
	const char *text;
	const char *why; /* NULL: accepted */
} cross_t;

static const cross_t cross[] = {
	/* Defaults: high 512 KiB, max 1 MiB, total 256 MiB, message 65 KiB,
	 * connections 10000 and 256 per address, ping 20 s, idle 60 s. */
	{ "[limits]\nqueue_low_water = 524287\n", NULL },
	{ "[limits]\nqueue_low_water = 524288\n", "queue_low_water must be below queue_high_water" },
	{ "[limits]\nqueue_low_water = 600000\n", "queue_low_water must be below queue_high_water" },
	{ "[limits]\nqueue_high_water = 1048576\n", NULL },
	{ "[limits]\nqueue_high_water = 1048577\n",
	  "queue_high_water must not exceed queue_max_bytes" },
	{ "[limits]\nqueue_max_bytes = 268435456\n", NULL },
	{ "[limits]\nqueue_max_bytes = 268435457\n",
	  "queue_max_bytes must not exceed queue_total_max_bytes" },
	{ "[limits]\nqueue_total_max_bytes = 1048575\n",
	  "queue_max_bytes must not exceed queue_total_max_bytes" },
	{ "[limits]\nmax_message_bytes = 1047552\n", NULL },
	{ "[limits]\nmax_message_bytes = 1047553\n", "queue_max_bytes must hold at least one message" },
	{ "[limits]\nmax_connections = 256\n", NULL },
	{ "[limits]\nmax_connections = 255\n",
	  "max_connections_per_ip must not exceed max_connections" },
	{ "[limits]\nmax_connections_per_ip = 10001\n",
	  "max_connections_per_ip must not exceed max_connections" },
	/* Least privilege: a group or a chroot needs a user; chroot is absolute. */
	{ "[relay]\nuser = nobody\ngroup = nogroup\nchroot = /var/empty\n", NULL },
	{ "[relay]\ngroup = nogroup\n", "[relay] group needs [relay] user" },
	{ "[relay]\nchroot = /var/empty\n", "[relay] chroot needs [relay] user" },
	{ "[relay]\nuser = nobody\nchroot = var/empty\n", "[relay] chroot must be an absolute path" },
	/* A bytes burst below the largest payload would refuse it forever. */
	{ "[limits]\nconn_bytes_burst = 65535\n", NULL },
	{ "[limits]\nconn_bytes_burst = 65534\n", "conn_bytes_burst must be at least max_payload_bytes" },
	{ "[limits]\nmax_payload_bytes = 1000\nconn_bytes_burst = 1000\n", NULL },
	{ "[limits]\npractice_bytes_burst = 65535\n", NULL },
	{ "[limits]\npractice_bytes_burst = 65534\n",
	  "practice_bytes_burst must be at least max_payload_bytes" },
	{ "[timeouts]\nping_s = 59\n", NULL },
	{ "[timeouts]\nping_s = 60\n", "ping_s must be below idle_s" },
	{ "[timeouts]\nping_s = 61\n", "ping_s must be below idle_s" },
	{ "[timeouts]\nidle_s = 20\n", "ping_s must be below idle_s" },
};

/* [relay] seccomp is on by default and takes on or off only; allow_root
 * is a boolean, off by default. */
START_TEST(test_privilege_keys)
{
	config_t c;

	config_defaults(&c);
	ck_assert_int_eq(c.seccomp, 1);
	ck_assert_int_eq(c.allow_root, 0);
	ck_assert_str_eq(c.run_user, "");
	ck_assert_int_eq(load(&c, "[relay]\nseccomp = off\nallow_root = true\n"), 0);
	ck_assert_int_eq(c.seccomp, 0);
	ck_assert_int_eq(c.allow_root, 1);
	ck_assert_int_eq(load(&c, "[relay]\nseccomp = on\n"), 0);
	ck_assert_int_eq(c.seccomp, 1);
	ck_assert_int_eq(load(&c, "[relay]\nseccomp = true\n"), -ZK_ECONFIG);
	assert_contains(err, "expected on or off");
	ck_assert_int_eq(load(&c, "[relay]\nallow_root = on\n"), -ZK_ECONFIG);
	assert_contains(err, "expected true or false");
	ck_assert_int_eq(load(&c, "[relay]\nuser = zkrelay\ngroup = zkrelay\n"), 0);
	ck_assert_str_eq(c.run_user, "zkrelay");
	ck_assert_str_eq(c.run_group, "zkrelay");
}
END_TEST

START_TEST(test_cross_key)
{
	const cross_t *t = &cross[_i];
	config_t c;
	int rc = load(&c, t->text);

	if (!t->why) {
		ck_assert_msg(rc == 0, "%s-> %s", t->text, err);
		return;
	}
	ck_assert_int_eq(rc, -ZK_ECONFIG);
	assert_contains(err, t->why);
}
END_TEST

/* config_validate on its own, on a struct built in code. */
START_TEST(test_validate_direct)
{
	config_t c;

	config_defaults(&c);
	c.queue_low_water = c.queue_high_water;
	ck_assert_int_eq(config_validate(&c, err, sizeof(err)), -ZK_ECONFIG);
	assert_contains(err, "queue_low_water");

	config_defaults(&c);
	c.queue_high_water = c.queue_max_bytes + 1;
	ck_assert_int_eq(config_validate(&c, err, sizeof(err)), -ZK_ECONFIG);
	assert_contains(err, "queue_high_water");

	config_defaults(&c);
	c.queue_total_max_bytes = c.queue_max_bytes - 1;
	ck_assert_int_eq(config_validate(&c, err, sizeof(err)), -ZK_ECONFIG);
	assert_contains(err, "queue_max_bytes must not exceed queue_total_max_bytes");

	config_defaults(&c);
	c.max_connections_per_ip = c.max_connections + 1;
	ck_assert_int_eq(config_validate(&c, err, sizeof(err)), -ZK_ECONFIG);
	assert_contains(err, "max_connections_per_ip");

	config_defaults(&c);
	c.ping_s = c.idle_s;
	ck_assert_int_eq(config_validate(&c, err, sizeof(err)), -ZK_ECONFIG);
	assert_contains(err, "ping_s");

	config_defaults(&c);
	c.max_message_bytes = UINT32_MAX;
	ck_assert_int_eq(config_validate(&c, err, sizeof(err)), -ZK_ECONFIG);
	assert_contains(err, "queue_max_bytes must hold");

	config_defaults(&c);
	c.ping_s = c.idle_s - 1;
	c.queue_low_water = c.queue_high_water - 1;
	c.max_connections_per_ip = c.max_connections;
	ck_assert_int_eq(config_validate(&c, err, sizeof(err)), 0);
}
END_TEST

Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *keys = tcase_create("keys");
	TCase *numbers = tcase_create("numbers");
	TCase *values = tcase_create("values");
	TCase *errors = tcase_create("errors");
	TCase *rules = tcase_create("rules");

	tcase_add_test(keys, test_defaults_valid);
	tcase_add_test(keys, test_empty_text_keeps_defaults);
	tcase_add_test(keys, test_every_key);
	tcase_add_test(keys, test_one_key_over_defaults);
	tcase_add_test(keys, test_syntax_variants);
	tcase_add_loop_test(numbers, test_number_edges_accepted, 0, (int)ARRAY_LEN(num_ok));
	tcase_add_test(numbers, test_low_water_max_parses);
	tcase_add_loop_test(numbers, test_number_out_of_range, 0, (int)ARRAY_LEN(num_bad));
	tcase_add_loop_test(numbers, test_not_a_number, 0, (int)ARRAY_LEN(not_numbers));
	tcase_add_test(values, test_strings);
	tcase_add_test(values, test_long_path);
	tcase_add_test(values, test_long_comment);
	tcase_add_test(values, test_path_too_long);
	tcase_add_test(values, test_log_level);
	tcase_add_loop_test(values, test_listen_ok, 0, (int)ARRAY_LEN(listen_ok));
	tcase_add_loop_test(values, test_listen_bad, 0, (int)ARRAY_LEN(listen_bad));
	tcase_add_loop_test(errors, test_refusal, 0, (int)ARRAY_LEN(refusals));
	tcase_add_test(errors, test_error_message_matches_line);
	tcase_add_test(errors, test_error_truncated);
	tcase_add_test(errors, test_missing_file);
	tcase_add_loop_test(rules, test_cross_key, 0, (int)ARRAY_LEN(cross));
	tcase_add_test(rules, test_validate_direct);
	tcase_add_test(rules, test_privilege_keys);
	suite_add_tcase(s, keys);
	suite_add_tcase(s, numbers);
	suite_add_tcase(s, values);
	suite_add_tcase(s, errors);
	suite_add_tcase(s, rules);
	return s;
}
