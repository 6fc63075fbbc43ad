/*
 * route.c - method + path -> handler.
 *
 * One table serves every version: each row names the versions it exists
 * in, the path pattern below the version prefix, the method and the
 * handler. Versions differ only in which rows they have and in the
 * handlers' thin adapters (r->version). A path that matches a row of its
 * version but not its method is a 405 with an Allow header; OPTIONS lists
 * the methods; no row at all is a 404 - all with falcon's bodies, as Zaqar.
 *
 * Patterns: "{queue}" matches a queue name, validated here against the
 * API's rule (^[a-zA-Z0-9_.-]+$, at most 64 characters; a bad one is a 400
 * before any handler runs); "{id}" matches any one non-empty segment.
 */
#include <string.h>

#include "req.h"
#include "route.h"
#include "api/api.h"

#define V1 HUB_V1
#define V11 HUB_V1_1
#define V2 HUB_V2
#define ALL HUB_ALL_VERSIONS
#define NONE 0u /* unversioned */

struct route {
	unsigned versions;
	enum hub_method method;
	const char *pattern;
	hub_handler_fn handler;
};

static const struct route routes[] = {
	{NONE, HUB_GET, "/", hub_get_versions},
	{NONE, HUB_GET, "/dashboard/{id}", hub_web_file},
	{NONE, HUB_GET, "/health", hub_health},
	{NONE, HUB_HEAD, "/health", hub_health},
	{ALL, HUB_GET, "/", hub_get_home},
	{V11 | V2, HUB_GET, "/ping", hub_ping},
	{V11 | V2, HUB_HEAD, "/ping", hub_ping},
	{ALL, HUB_GET, "/health", hub_health},
	{V1, HUB_HEAD, "/health", hub_health},

	{ALL, HUB_GET, "/queues", hub_queues_list},
	{ALL, HUB_GET, "/queues/{queue}", hub_queue_get},
	{V1, HUB_HEAD, "/queues/{queue}", hub_queue_get},
	{ALL, HUB_PUT, "/queues/{queue}", hub_queue_put},
	{V2, HUB_PATCH, "/queues/{queue}", hub_queue_patch},
	{ALL, HUB_DELETE, "/queues/{queue}", hub_queue_delete},
	{ALL, HUB_GET, "/queues/{queue}/stats", hub_queue_stats},
	{V2, HUB_GET, "/queues/{queue}/counters", hub_queue_counters},
	{V1, HUB_GET, "/queues/{queue}/metadata", hub_queue_meta_get},
	{V1, HUB_PUT, "/queues/{queue}/metadata", hub_queue_meta_put},
	{V2, HUB_POST, "/queues/{queue}/purge", hub_queue_purge},
	{V2, HUB_POST, "/queues/{queue}/share", hub_share},
	{V2, HUB_GET, "/queues/{queue}/feed.atom", hub_queue_atom},
	{V2, HUB_GET, "/queues/{queue}/events", hub_queue_events},

	{ALL, HUB_POST, "/queues/{queue}/messages", hub_messages_post},
	{ALL, HUB_GET, "/queues/{queue}/messages", hub_messages_get},
	{ALL, HUB_DELETE, "/queues/{queue}/messages", hub_messages_delete},
	{ALL, HUB_GET, "/queues/{queue}/messages/{id}", hub_message_get},
	{ALL, HUB_DELETE, "/queues/{queue}/messages/{id}", hub_message_delete},

	{ALL, HUB_POST, "/queues/{queue}/claims", hub_claims_post},
	{ALL, HUB_GET, "/queues/{queue}/claims/{id}", hub_claim_get},
	{ALL, HUB_PATCH, "/queues/{queue}/claims/{id}", hub_claim_patch},
	{ALL, HUB_DELETE, "/queues/{queue}/claims/{id}", hub_claim_delete},
};

static const char *const method_names[] = {
	"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS",
};

bool hub_queue_name_ok(const char *s, size_t len)
{
	if (len == 0 || len > FEED_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
			return false;
	}
	return true;
}

bool hub_project_ok(const char *s)
{
	if (strlen(s) > FEED_PROJECT_MAX)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/* Route parameters, copied out of the path. */
struct params {
	char queue[FEED_NAME_MAX + 1];
	char id[128];
	bool bad_queue;
};

/*
 * Matches `path` against `pattern` segment by segment. On a match fills
 * p (a queue segment failing the name rule sets p->bad_queue: the route
 * matches, the request is refused).
 */
static bool match(const char *pattern, const char *path, struct params *p)
{
	memset(p, 0, sizeof(*p));
	while (*pattern && *path) {
		const char *pe = strchr(pattern + 1, '/');
		const char *se = strchr(path + 1, '/');
		size_t plen = pe ? (size_t)(pe - pattern) : strlen(pattern);
		size_t slen = se ? (size_t)(se - path) : strlen(path);

		if (*pattern != '/' || *path != '/')
			return false;
		if (plen == 8 && strncmp(pattern, "/{queue}", 8) == 0) {
			if (slen < 2)
				return false;
			if (!hub_queue_name_ok(path + 1, slen - 1))
				p->bad_queue = true;
			else
				memcpy(p->queue, path + 1, slen - 1);
		} else if (plen == 5 && strncmp(pattern, "/{id}", 5) == 0) {
			if (slen < 2 || slen - 1 >= sizeof(p->id))
				return false;
			memcpy(p->id, path + 1, slen - 1);
		} else if (plen != slen || strncmp(pattern, path, plen) != 0) {
			return false;
		}
		pattern += plen;
		path += slen;
	}
	return *pattern == '\0' && *path == '\0';
}

/* Splits the version prefix off the path. */
static const char *split_version(struct hub_req *r)
{
	static const struct {
		const char *prefix;
		enum hub_version version;
	} versions[] = {
		{"/v1.1", HUB_V1_1},
		{"/v1", HUB_V1},
		{"/v2", HUB_V2},
	};

	for (size_t i = 0; i < sizeof(versions) / sizeof(*versions); i++) {
		size_t n = strlen(versions[i].prefix);

		if (strncmp(r->path, versions[i].prefix, n) == 0 &&
		    (r->path[n] == '/' || r->path[n] == '\0')) {
			r->version = versions[i].version;
			r->prefix = versions[i].prefix;
			return r->path[n] ? r->path + n : "/";
		}
	}
	r->version = 0;
	r->prefix = "";
	return r->path;
}

void hub_route(struct hub_req *r)
{
	struct params p = {.bad_queue = false};
	const char *rest = split_version(r);
	unsigned allowed = 0;
	const struct route *hit = NULL;
	char allow[128] = "";

	for (size_t i = 0; i < sizeof(routes) / sizeof(*routes); i++) {
		const struct route *rt = &routes[i];
		struct params q;

		if (r->version ? !(rt->versions & r->version) : rt->versions)
			continue;
		if (!match(rt->pattern, rest, &q))
			continue;
		allowed |= 1u << rt->method;
		if (rt->method == r->method && !hit) {
			hit = rt;
			p = q;
		}
	}
	if (!allowed) {
		hub_reply_error(r, 404, "404 Not Found", NULL);
		return;
	}
	for (int m = 0; m < HUB_OPTIONS; m++) {
		if (!(allowed & (1u << m)))
			continue;
		strcat(allow, method_names[m]);
		strcat(allow, ", ");
	}
	strcat(allow, "OPTIONS");
	if (r->method == HUB_OPTIONS) {
		hub_header(r, "Allow", "%s", allow);
		hub_reply(r, 200, NULL);
		return;
	}
	if (!hit) {
		hub_header(r, "Allow", "%s", allow);
		hub_reply_error(r, 405, "405 Method Not Allowed", NULL);
		return;
	}
	if (p.bad_queue || strlen(r->project) > FEED_PROJECT_MAX) {
		hub_reply_error(r, 400, "Invalid queue identification",
				"The format of the submitted queue name or "
				"project id is not valid.");
		return;
	}
	memcpy(r->queue_buf, p.queue, sizeof(r->queue_buf));
	memcpy(r->id_buf, p.id, sizeof(r->id_buf));
	r->queue = p.queue[0] ? r->queue_buf : NULL;
	r->id = p.id[0] ? r->id_buf : NULL;
	hit->handler(r);
}
