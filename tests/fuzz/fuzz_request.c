/*
 * fuzz_request.c - libFuzzer target: the HTTP request path without a
 * socket, each step as the HTTP transport runs it on what lws parsed:
 *
 *   framing   hub_http_framing_check (version, path, Content-Length,
 *             Transfer-Encoding)
 *   route     hub_route_lookup for the method and path, the route's
 *             Accept check and body limit
 *   names     queue name, project id, Client-ID (UUID)
 *   query     hub_query_int / _bool / _list as the handlers read them
 *   body      hub_body_json and hub_body_int, as the handlers validate
 *
 * Input: newline-separated fields - method (its first byte picks one),
 * path, version, Content-Length ("-": none; "T" prefix: with
 * Transfer-Encoding), Accept, query (a=1&b=2), then the body (the rest).
 * Any crash, sanitizer report or leak is a finding.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "render.h"
#include "req.h"
#include "route.h"
#include "transport/http_framing.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

enum { F_METHOD, F_PATH, F_VERSION, F_LENGTH, F_ACCEPT, F_QUERY, F_BODY,
       F_COUNT };

static struct hub_config cfg;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	hub_config_defaults(&cfg);
	hub_log_set_level(HUB_LOG_ERROR); /* quiet: findings only */
	return 0;
}

/* Splits data into F_COUNT fields (copies, NUL-terminated; lens kept). */
static void split(const uint8_t *data, size_t size, char *f[F_COUNT],
		  size_t len[F_COUNT])
{
	size_t at = 0;

	for (int i = 0; i < F_COUNT; i++) {
		size_t end = size;

		if (i < F_BODY && at < size) {
			const uint8_t *nl = memchr(data + at, '\n', size - at);

			if (nl)
				end = (size_t)(nl - data);
		}
		if (at > size)
			at = size;
		len[i] = end - at;
		f[i] = malloc(len[i] + 1);
		if (!f[i])
			abort();
		memcpy(f[i], data + at, len[i]);
		f[i][len[i]] = '\0';
		at = end + 1;
	}
}

/* The query as the HTTP transport loads it: key=value pairs, blank values
 * dropped. */
static void query_load(struct hub_req *r, char *q)
{
	for (char *save = NULL, *kv = strtok_r(q, "&", &save); kv;
	     kv = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(kv, '='), *block;
		size_t n;

		if (!eq || !eq[1])
			continue;
		*eq = '\0';
		n = (size_t)(eq - kv) + 1 + strlen(eq + 1) + 1;
		block = malloc(n);
		if (!block)
			abort();
		memcpy(block, kv, n); /* "key\0value\0" */
		if (hub_query_take(r, block, block + (eq - kv) + 1))
			abort();
	}
}

static void query_and_body(struct hub_req *r, char *f[F_COUNT],
			   size_t len[F_COUNT])
{
	const char *ids[20];
	long long n;
	size_t count;
	bool b;
	json_t *obj;

	query_load(r, f[F_QUERY]);
	hub_query_list(r, "ids", ids, 20, &count);
	if (!hub_query_int(r, "limit", 10, &n) ||
	    !hub_query_bool(r, "detailed", false, &b) ||
	    !hub_query_bool(r, "echo", false, &b))
		return;
	r->has_body = true;
	r->body = f[F_BODY];
	r->body_len = len[F_BODY];
	obj = hub_body_json(r, JSON_OBJECT);
	if (!obj)
		return;
	if (hub_body_int(r, obj, "ttl", false, 3600, &n))
		hub_body_int(r, obj, "grace", true, 0, &n);
	json_decref(obj);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *f[F_COUNT];
	size_t len[F_COUNT];
	struct hub_http_framing fr;
	struct hub_http_refusal why;
	struct hub_route_match m;
	struct hub_req r;
	uint8_t uuid[16];
	long long length;
	enum hub_method method;

	split(data, size, f, len);
	method = (enum hub_method)((len[F_METHOD] ? (uint8_t)f[F_METHOD][0] : 0) %
				   HUB_METHOD_COUNT);
	fr = (struct hub_http_framing){
		.version = f[F_VERSION],
		.path = f[F_PATH],
		.path_len = len[F_PATH],
		.content_length = strcmp(f[F_LENGTH], "-") == 0
					  ? NULL
					  : f[F_LENGTH] + (f[F_LENGTH][0] == 'T'),
		.transfer_encoding = f[F_LENGTH][0] == 'T',
	};
	/* What lws hands on: a path that starts with '/', without NUL. */
	if (hub_http_framing_check(&fr, &length, &why) &&
	    f[F_PATH][0] == '/' && strlen(f[F_PATH]) == len[F_PATH]) {
		hub_route_lookup(method, f[F_PATH], &m);
		if (m.attrs) {
			hub_route_accepts(m.attrs, f[F_ACCEPT]);
			hub_route_body_max(m.attrs, &cfg.limits);
		}
	}
	hub_queue_name_ok(f[F_ACCEPT], len[F_ACCEPT]);
	hub_project_ok(f[F_ACCEPT]);
	hub_uuid_parse(f[F_ACCEPT], uuid);

	memset(&r, 0, sizeof(r));
	r.cfg = &cfg;
	r.method = method;
	r.path = f[F_PATH];
	r.project = "";
	r.prefix = "";
	query_and_body(&r, f, len);
	hub_req_release(&r);
	for (int i = 0; i < F_COUNT; i++)
		free(f[i]);
	return 0;
}
