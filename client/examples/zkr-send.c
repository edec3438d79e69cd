/* The smallest libzkrelay program: send one message to a peer through the
 * relay, end to end encrypted, and print the first answer.
 *
 *   zkr-send CA CERT KEY TOKEN STATIC_KEY_HEX PEER PEER_PUB_HEX MESSAGE
 *
 * (hex keys keep the example free of file handling; zkrelay-cli shows the
 * real thing.) README.md quotes this file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "zkrelay.h"

static int hex32(const char *s, uint8_t out[32])
{
	for (int i = 0; i < 32; i++)
		if (sscanf(s + 2 * i, "%2hhx", &out[i]) != 1)
			return -1;
	return strlen(s) == 64 ? 0 : -1;
}

static int status = 1;

static void on_message(zkr_session_t *s, const uint8_t *msg, size_t len, void *ud)
{
	printf("%s answered %zu bytes: %.*s\n", zkr_session_peer(s), len, (int)len,
	       (const char *)msg);
	status = 0;
	zkr_client_close(zkr_session_client(s), NULL, NULL);
}

static void on_error(zkr_session_t *s, int err, void *ud)
{
	fprintf(stderr, "zkr-send: %s\n", zkr_strerror(err));
	zkr_client_close(zkr_session_client(s), NULL, NULL);
}

int main(int argc, char **argv)
{
	static const zkr_callbacks_t cb = { .on_message = on_message, .on_error = on_error };
	uint8_t peer_key[ZKR_KEY_LEN];
	zkr_session_t *s;
	zkr_client_t *c;
	zkr_config_t cfg;
	int rc;

	if (argc != 9) {
		fprintf(stderr, "usage: zkr-send CA CERT KEY TOKEN KEY_HEX PEER PEER_PUB_HEX MSG\n");
		return 64;
	}
	zkr_config_init(&cfg);
	cfg.ca_file = argv[1];
	cfg.cert_file = argv[2];
	cfg.key_file = argv[3];
	cfg.token = argv[4];
	cfg.cb = &cb;
	if (hex32(argv[5], cfg.static_key) || hex32(argv[7], peer_key)) {
		fprintf(stderr, "zkr-send: keys are 64 hex digits\n");
		return 64;
	}
	if ((rc = zkr_client_new(uv_default_loop(), &cfg, &c)) < 0 ||
	    (rc = zkr_client_start(c)) < 0 ||
	    (rc = zkr_session_open(c, argv[6], peer_key, &s)) < 0 ||
	    (rc = zkr_session_send(s, argv[8], strlen(argv[8]), NULL)) < 0) {
		fprintf(stderr, "zkr-send: %s\n", zkr_strerror(rc));
		return 1;
	}
	zkr_wipe(cfg.static_key, sizeof(cfg.static_key));
	uv_run(uv_default_loop(), UV_RUN_DEFAULT); /* until the client is closed */
	return status;
}
