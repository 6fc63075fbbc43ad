/*
 * auth_tokens.c - the `tokens` strategy (auth.h): bearer tokens listed in
 * a file by their SHA-256, never in clear (docs/security.md).
 *
 * The file, one token a line ('#' starts a comment, blank lines skipped),
 * fields separated by blanks:
 *
 *   SHA256-HEX  PROJECT  ROLES  [QUEUE-PATTERN ...]
 *   9f86d08...  shop     publish,consume  orders-*  invoices
 *
 * SHA256-HEX is the lowercase (or uppercase) hex digest of the token as
 * the client sends it (`herald token hash`, or `printf %s TOKEN |
 * sha256sum`); PROJECT a project id, or "*" for a token that may name
 * any project with X-Project-Id (an operator's); ROLES a comma-separated
 * list of read, publish, consume, subscribe, manage, admin; the patterns
 * are fnmatch globs over queue (and topic) names - none: every queue.
 *
 * A file with any bad line is refused as a whole (at start the server
 * does not start; at a SIGHUP the old list stays). Lookups hash the
 * presented token and search the digests, sorted (bsearch): the time
 * does not depend on how much of a token is right.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "auth.h"
#include "log.h"

struct token {
	unsigned char digest[32];
	struct hub_ident id;
};

struct tokens {
	struct token *v;
	size_t n;
};

static int cmp_token(const void *a, const void *b)
{
	return memcmp(((const struct token *)a)->digest,
		      ((const struct token *)b)->digest, 32);
}

static bool parse_digest(const char *s, unsigned char out[32])
{
	size_t n = 0;

	if (strlen(s) != 64)
		return false;
	return OPENSSL_hexstr2buf_ex(out, 32, &n, s, '\0') == 1 && n == 32;
}

/* One line's fields into t; NULL, or why the line is bad. */
static const char *parse_line(char *line, struct token *t)
{
	static const char *const blanks = " \t\r\n";
	char *save = NULL, *digest, *project, *roles, *pattern;
	const char *bad;
	size_t bad_len;

	digest = strtok_r(line, blanks, &save);
	project = strtok_r(NULL, blanks, &save);
	roles = strtok_r(NULL, blanks, &save);
	if (!digest || !project || !roles)
		return "expected: SHA256-HEX PROJECT ROLES [QUEUE-PATTERN...]";
	if (!parse_digest(digest, t->digest))
		return "the first field is not 64 hex digits (a SHA-256)";
	if (strcmp(project, "*") == 0)
		t->id.any_project = true;
	else if (strlen(project) > FEED_PROJECT_MAX)
		return "the project id is too long";
	else
		snprintf(t->id.project, sizeof(t->id.project), "%s", project);
	if (!hub_auth_roles_parse(roles, &t->id.roles, &bad, &bad_len))
		return "an unknown role (read, publish, consume, subscribe, "
		       "manage, admin)";
	if (!t->id.roles)
		return "no roles";
	while ((pattern = strtok_r(NULL, blanks, &save)))
		if (!hub_ident_add_queue(&t->id, pattern, strlen(pattern)))
			return "too many queue patterns";
	return NULL;
}

/* Reads the file's lines into ts; -1 after logging the first bad one. */
static int read_tokens(FILE *f, const char *path, struct tokens *ts)
{
	char line[4096];
	int lineno = 0;

	while (fgets(line, sizeof(line), f)) {
		char *s = line + strspn(line, " \t");
		struct token t, *v;
		const char *why;

		lineno++;
		if (!*s || *s == '#' || *s == '\n' || *s == '\r')
			continue;
		memset(&t, 0, sizeof(t));
		why = strchr(line, '\n') || feof(f) ? parse_line(s, &t)
						     : "line too long";
		if (why) {
			hub_log(HUB_LOG_ERROR, "auth: %s:%d: %s", path, lineno,
				why);
			return -1;
		}
		v = realloc(ts->v, (ts->n + 1) * sizeof(*v));
		if (!v)
			return -1;
		ts->v = v;
		ts->v[ts->n++] = t;
	}
	return 0;
}

static void tokens_free(void *state)
{
	struct tokens *ts = state;

	if (!ts)
		return;
	free(ts->v);
	free(ts);
}

static int tokens_load(const struct hub_config *cfg, void **state)
{
	struct tokens *ts;
	FILE *f;
	int rc;

	if (!cfg->auth_tokens[0]) {
		hub_log(HUB_LOG_ERROR, "auth: --auth tokens needs "
			"--auth-tokens FILE (docs/security.md)");
		return -1;
	}
	f = fopen(cfg->auth_tokens, "r");
	if (!f) {
		hub_log(HUB_LOG_ERROR, "auth: cannot read the token file %s: "
			"%s", cfg->auth_tokens, strerror(errno));
		return -1;
	}
	ts = calloc(1, sizeof(*ts));
	rc = ts ? read_tokens(f, cfg->auth_tokens, ts) : -1;
	fclose(f);
	if (rc == 0 && ts->n)
		qsort(ts->v, ts->n, sizeof(*ts->v), cmp_token);
	for (size_t i = 1; rc == 0 && i < ts->n; i++) {
		if (memcmp(ts->v[i - 1].digest, ts->v[i].digest, 32) == 0) {
			hub_log(HUB_LOG_ERROR, "auth: %s: a token is listed "
				"twice", cfg->auth_tokens);
			rc = -1;
		}
	}
	if (rc) {
		tokens_free(ts);
		return -1;
	}
	hub_log(HUB_LOG_INFO, "auth: %zu token(s) from %s", ts->n,
		cfg->auth_tokens);
	*state = ts;
	return 0;
}

static enum hub_auth_verdict tokens_verify(void *state, const char *token,
					   uint64_t now_ms,
					   struct hub_ident *id,
					   const char **why,
					   struct hub_auth_wait *w)
{
	const struct tokens *ts = state;
	struct token key;
	const struct token *t;
	unsigned int len = 0;

	(void)now_ms;
	(void)w;
	if (!EVP_Digest(token, strlen(token), key.digest, &len, EVP_sha256(),
			NULL) || len != 32) {
		*why = "The token could not be checked.";
		return HUB_AUTH_REFUSED;
	}
	t = ts->n ? bsearch(&key, ts->v, ts->n, sizeof(*ts->v), cmp_token)
		  : NULL;
	if (!t) {
		*why = "The token is not valid.";
		return HUB_AUTH_REFUSED;
	}
	*id = t->id;
	return HUB_AUTH_OK;
}

const struct hub_auth_strategy hub_auth_tokens = {
	.name = "tokens",
	.load = tokens_load,
	.free = tokens_free,
	.verify = tokens_verify,
	.cancel = NULL,
};
