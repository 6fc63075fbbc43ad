/*
 * token.c - `herald token`: the token file's side of the `tokens` auth
 * strategy (hub/auth_tokens.c, docs/security.md), with no server.
 *
 *   herald token hash [TOKEN]   the SHA-256 hex of TOKEN (else of stdin's
 *                               first line), as the token file wants it;
 *                               the same as `printf %s TOKEN | sha256sum`
 *   herald token new PROJECT ROLES [PATTERN...]
 *                               a fresh random token (32 bytes from
 *                               OpenSSL's generator, base64url) on
 *                               stderr, and its token-file line on stdout
 *                               (`>> tokens` keeps only the hash)
 */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "cli.h"

static void print_hash(FILE *out, const char *token)
{
	unsigned char md[32];
	unsigned int len = 0;

	EVP_Digest(token, strlen(token), md, &len, EVP_sha256(), NULL);
	for (unsigned int i = 0; i < len; i++)
		fprintf(out, "%02x", md[i]);
}

static int token_hash(int argc, char **argv)
{
	char line[8192];
	const char *token = argc > 2 ? argv[2] : NULL;

	if (!token) {
		if (!fgets(line, sizeof(line), stdin)) {
			fprintf(stderr, "herald token hash: no token on stdin\n");
			return CLI_USAGE;
		}
		line[strcspn(line, "\r\n")] = '\0';
		token = line;
	}
	if (!*token) {
		fprintf(stderr, "herald token hash: the token is empty\n");
		return CLI_USAGE;
	}
	print_hash(stdout, token);
	putchar('\n');
	return CLI_OK;
}

static int token_new(int argc, char **argv)
{
	static const char b64url[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char raw[33];
	char token[45];
	size_t n = 0;

	if (argc < 4) {
		fprintf(stderr, "usage: herald token new PROJECT ROLES "
			"[QUEUE-PATTERN...]\n");
		return CLI_USAGE;
	}
	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		fprintf(stderr, "herald token new: no random bytes\n");
		return CLI_USAGE;
	}
	for (size_t i = 0; i < sizeof(raw); i += 3) {
		unsigned v = (unsigned)raw[i] << 16 | (unsigned)raw[i + 1] << 8 |
			     raw[i + 2];

		for (int k = 18; k >= 0; k -= 6)
			token[n++] = b64url[(v >> k) & 63];
	}
	token[n] = '\0';
	fprintf(stderr, "token (give it to the client; it is not kept): %s\n",
		token);
	print_hash(stdout, token);
	for (int i = 2; i < argc; i++)
		printf(" %s", argv[i]);
	putchar('\n');
	return CLI_OK;
}

int hub_cli_token(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "hash") == 0)
		return token_hash(argc, argv);
	if (argc >= 2 && strcmp(argv[1], "new") == 0)
		return token_new(argc, argv);
	fprintf(argc >= 2 && !strcmp(argv[1], "--help") ? stdout : stderr,
		"usage: herald token hash [TOKEN]    (TOKEN from stdin if "
		"absent)\n"
		"       herald token new PROJECT ROLES [QUEUE-PATTERN...]\n\n"
		"The lines of the token file of `herald serve --auth tokens` "
		"(docs/security.md).\n");
	return argc >= 2 && !strcmp(argv[1], "--help") ? CLI_OK : CLI_USAGE;
}
