/*
 * test_route.c - the route table (hub/route.c) on its own: lookup by
 * method and path for each version, the 404 / 405 / OPTIONS answers and
 * their Allow sets, and the attributes of routes (body limits, media
 * types, ids in the query, auth).
 */
#include <string.h>

#include "tap.h"
#include "config.h"
#include "req.h"
#include "route.h"

static struct hub_config cfg;

#define BIT(m) (1u << (m))

/* A request for dispatch, as a transport would fill it. */
static void req_init(struct hub_req *r, enum hub_method method,
		     const char *path)
{
	memset(r, 0, sizeof(*r));
	r->cfg = &cfg;
	r->method = method;
	r->path = path;
	r->project = "";
	r->content_type = "";
}

/* The value of header `name` in r's reply ("" when absent), copied. */
static const char *header(const struct hub_req *r, const char *name)
{
	static char out[256];
	const char *h = r->reply.headers.data;
	size_t n = strlen(name);

	out[0] = '\0';
	for (; h && h < r->reply.headers.data + r->reply.headers.len;
	     h = strstr(h, "\r\n") + 2) {
		if (strncmp(h, name, n) == 0 && h[n] == ':') {
			const char *v = h + n + 2, *e = strstr(v, "\r\n");

			snprintf(out, sizeof(out), "%.*s", (int)(e - v), v);
			break;
		}
	}
	return out;
}

static void lookup_by_version(void)
{
	struct hub_route_match m;

	hub_route_lookup(HUB_GET, "/v2/queues/q1/messages", &m);
	ok(m.route != NULL, "GET /v2/queues/q1/messages has a route");
	is(m.version, HUB_V2, "its version is v2");
	is_str(m.prefix, "/v2", "its prefix is /v2");
	is_str(m.queue, "q1", "{queue} is q1");
	is_str(m.id, "", "no {id}");
	ok(m.client_id_required, "a /v2/ path requires Client-ID");

	hub_route_lookup(HUB_GET, "/v1.1/queues/q1/claims/c-9", &m);
	ok(m.route != NULL, "GET /v1.1/.../claims/{id} has a route");
	is(m.version, HUB_V1_1, "its version is v1.1");
	is_str(m.id, "c-9", "{id} is c-9");
	ok(m.client_id_required, "a /v1.1/ path requires Client-ID");

	hub_route_lookup(HUB_GET, "/v1/queues/q1/metadata", &m);
	ok(m.route != NULL, "v1 has queue metadata");
	is(m.version, HUB_V1, "its version is v1");
	ok(!m.client_id_required, "v1 does not require Client-ID up front");
	hub_route_lookup(HUB_GET, "/v2/queues/q1/metadata", &m);
	ok(m.route == NULL && m.allowed == 0, "v2 has no metadata resource");
	hub_route_lookup(HUB_PATCH, "/v1/queues/q1", &m);
	ok(m.route == NULL && m.allowed != 0, "v1 has no PATCH of a queue");

	hub_route_lookup(HUB_GET, "/v2", &m);
	ok(m.route != NULL && m.version == HUB_V2, "/v2 is v2's home");
	ok(!m.client_id_required, "/v2 without its slash needs no Client-ID");
	hub_route_lookup(HUB_GET, "/", &m);
	ok(m.route != NULL && m.version == 0, "/ is the unversioned versions");
	hub_route_lookup(HUB_GET, "/v3/queues", &m);
	ok(m.route == NULL && m.allowed == 0 && m.version == 0,
	   "an unknown version is an unknown path");
	ok(!m.client_id_required, "... and needs no Client-ID");
	hub_route_lookup(HUB_GET, "/v2/queues/bad%20name", &m);
	ok(m.route != NULL && m.bad_queue, "a bad queue name still routes, "
	   "flagged bad");
	hub_route_lookup(HUB_GET, "/v2/queues/q1/messages/", &m);
	ok(m.allowed == 0, "a trailing slash is another path");
}

static void not_found_and_allow(void)
{
	struct hub_route_match m;
	struct hub_req r;

	hub_route_lookup(HUB_GET, "/v2/nothing", &m);
	is(m.allowed, 0, "no route: nothing allowed");
	ok(m.attrs != NULL, "no route: default attributes still");
	req_init(&r, HUB_GET, "/v2/nothing");
	hub_route_dispatch(&r, &m);
	is(r.reply.status, 404, "no route: 404");
	is_str(r.reply.error_title, "404 Not Found", "falcon's 404 title");
	ok(r.reply.error_text == NULL, "and no description");
	hub_req_release(&r);

	hub_route_lookup(HUB_PUT, "/v2/queues/q1/messages", &m);
	ok(m.route == NULL, "PUT messages: no route for the method");
	is(m.allowed, BIT(HUB_GET) | BIT(HUB_POST) | BIT(HUB_DELETE),
	   "messages allow GET, POST, DELETE");
	req_init(&r, HUB_PUT, "/v2/queues/q1/messages");
	hub_route_dispatch(&r, &m);
	is(r.reply.status, 405, "PUT messages: 405");
	is_str(header(&r, "Allow"), "GET, POST, DELETE, OPTIONS",
	       "with its Allow set");
	hub_req_release(&r);

	hub_route_lookup(HUB_OPTIONS, "/v2/queues/q1", &m);
	req_init(&r, HUB_OPTIONS, "/v2/queues/q1");
	hub_route_dispatch(&r, &m);
	is(r.reply.status, 200, "OPTIONS of a queue: 200");
	is_str(header(&r, "Allow"), "GET, PUT, PATCH, DELETE, OPTIONS",
	       "v2 queue: GET, PUT, PATCH, DELETE");
	hub_req_release(&r);

	hub_route_lookup(HUB_OPTIONS, "/v1/queues/q1", &m);
	req_init(&r, HUB_OPTIONS, "/v1/queues/q1");
	hub_route_dispatch(&r, &m);
	is_str(header(&r, "Allow"), "GET, HEAD, PUT, DELETE, OPTIONS",
	       "v1 queue: GET, HEAD, PUT, DELETE");
	hub_req_release(&r);

	hub_route_lookup(HUB_OPTIONS, "/v1.1/ping", &m);
	is(m.allowed, BIT(HUB_GET) | BIT(HUB_HEAD), "v1.1 ping: GET, HEAD");
	hub_route_lookup(HUB_GET, "/v1/ping", &m);
	is(m.allowed, 0, "v1 has no ping");

	hub_route_lookup(HUB_GET, "/v2/queues/bad%20name", &m);
	req_init(&r, HUB_GET, "/v2/queues/bad%20name");
	hub_route_dispatch(&r, &m);
	is(r.reply.status, 400, "a bad queue name: 400 at dispatch");
	is_str(r.reply.error_title, "Invalid queue identification",
	       "in Zaqar's words");
	hub_req_release(&r);
}

static void body_limits(void)
{
	const struct hub_limits *l = &cfg.limits;
	struct hub_route_match m;
	struct hub_req r;

	hub_route_lookup(HUB_POST, "/v2/queues/q/messages", &m);
	is(m.attrs->body, HUB_BODY_MESSAGES, "a post of messages: its limit");
	is(hub_route_body_max(m.attrs, l), l->max_messages_post_size,
	   "max-messages-post-size");
	req_init(&r, HUB_POST, "/v2/queues/q/messages");
	hub_route_refuse_body(&r, m.attrs);
	is(r.reply.status, 400, "refused: 400");
	is_str(r.reply.error_text,
	       "Message collection size is too large. Max size 262144",
	       "in Zaqar's words for a post");
	hub_req_release(&r);

	hub_route_lookup(HUB_PUT, "/v1.1/queues/q", &m);
	is(m.attrs->body, HUB_BODY_METADATA, "a queue PUT: the metadata limit");
	is(hub_route_body_max(m.attrs, l), 65536, "64 KiB by default");
	req_init(&r, HUB_PUT, "/v1.1/queues/q");
	hub_route_refuse_body(&r, m.attrs);
	is_str(r.reply.error_title, "Invalid API request", "PUT's title");
	is_str(r.reply.error_text, "Queue metadata is too large. Max size: 65536",
	       "metadata's words");
	hub_req_release(&r);
	hub_route_lookup(HUB_PATCH, "/v2/queues/q", &m);
	req_init(&r, HUB_PATCH, "/v2/queues/q");
	hub_route_refuse_body(&r, m.attrs);
	is_str(r.reply.error_title, "Invalid request body", "PATCH's title");
	hub_req_release(&r);
	hub_route_lookup(HUB_PUT, "/v1/queues/q/metadata", &m);
	is(m.attrs->body, HUB_BODY_METADATA, "v1 metadata PUT: metadata limit");

	hub_route_lookup(HUB_POST, "/v2/queues/q/claims", &m);
	is(m.attrs->body, HUB_BODY_DEFAULT, "a claim: the default limit");
	is(hub_route_body_max(m.attrs, l), HUB_BODY_DEFAULT_MAX, "64 KiB");
	req_init(&r, HUB_POST, "/v2/queues/q/claims");
	hub_route_refuse_body(&r, m.attrs);
	is_str(r.reply.error_text, "Request body is too large. Max size 65536",
	       "the default words");
	hub_req_release(&r);
	hub_route_lookup(HUB_PATCH, "/v2/queues/q/claims/c1", &m);
	is(m.attrs->body, HUB_BODY_DEFAULT,
	   "a claim PATCH: the default limit, not the metadata's");
	hub_route_lookup(HUB_POST, "/v3/anything/messages", &m);
	is(m.attrs->body, HUB_BODY_DEFAULT, "an unknown path: the default");
}

static void media_ids_auth(void)
{
	struct hub_route_match m;

	hub_route_lookup(HUB_GET, "/v2/queues/q/events", &m);
	ok(m.attrs->media & HUB_MEDIA_SSE, "events answer text/event-stream");
	ok(m.attrs->ids_in_query, "events take ids in the query");
	ok(hub_route_accepts(m.attrs, "text/event-stream"),
	   "events accept Accept: text/event-stream");
	ok(!hub_route_accepts(m.attrs, "text/html"), "but not text/html");
	is(m.attrs->auth, HUB_AUTH_SUBSCRIBE, "events: a live stream (subscribe)");

	hub_route_lookup(HUB_GET, "/v2/ws", &m);
	is(m.attrs->websocket, HUB_WS_ACTIONS, "/v2/ws is the actions endpoint");
	hub_route_lookup(HUB_GET, "/v2/ws/", &m);
	is(m.attrs->websocket, HUB_WS_ACTIONS, "with a trailing slash too");
	hub_route_lookup(HUB_GET, "/v2/queues/q/stream", &m);
	ok(m.route && m.attrs->websocket == HUB_WS_STREAM &&
		   strcmp(m.queue, "q") == 0,
	   "the stream URL is a WebSocket endpoint with its queue");
	ok(m.attrs->ids_in_query, "the stream URL takes ids in the query");
	hub_route_lookup(HUB_GET, "/", &m);
	ok(m.route && m.attrs->websocket == HUB_WS_ACTIONS &&
		   (m.attrs->media & HUB_MEDIA_HTML),
	   "/ upgrades to the actions endpoint, as Zaqar's WebSocket "
	   "transport, and is the versions document or the dashboard over "
	   "plain HTTP");
	hub_route_lookup(HUB_GET, "/v2", &m);
	is(m.attrs->websocket, HUB_WS_NONE, "/v2 (the home document) does not");
	hub_route_lookup(HUB_GET, "/v1.1/ws", &m);
	ok(!m.route, "no WebSocket endpoint outside v2");
	hub_route_lookup(HUB_GET, "/v2/queues/q/events", &m);
	is(m.attrs->websocket, HUB_WS_NONE, "events are plain HTTP");

	hub_route_lookup(HUB_GET, "/v2/queues/q/feed.atom", &m);
	ok(m.attrs->ids_in_query, "the Atom feed takes ids in the query");
	ok(hub_route_accepts(m.attrs, "application/atom+xml") &&
		   hub_route_accepts(m.attrs, "text/xml"),
	   "and answers Atom and XML");
	ok(!hub_route_accepts(m.attrs, "text/event-stream"), "not SSE");
	hub_route_lookup(HUB_GET, "/v2/queues/q/feed.rss", &m);
	ok(m.route && m.attrs->ids_in_query,
	   "the RSS feed is a route that takes ids in the query");
	ok(hub_route_accepts(m.attrs, "application/rss+xml") &&
		   hub_route_accepts(m.attrs, "application/xml"),
	   "and answers RSS and XML");
	ok(!hub_route_accepts(m.attrs, "application/atom+xml"), "not Atom");
	hub_route_lookup(HUB_GET, "/v2/queues/q/feed.json", &m);
	ok(m.route && m.attrs->ids_in_query,
	   "the JSON Feed is a route that takes ids in the query");
	ok(hub_route_accepts(m.attrs, "application/feed+json"),
	   "and answers application/feed+json");
	ok(!hub_route_accepts(m.attrs, "application/rss+xml"), "not RSS");
	hub_route_lookup(HUB_GET, "/v1.1/queues/q/feed.rss", &m);
	ok(!m.route, "the feeds are v2 routes");

	hub_route_lookup(HUB_GET, "/v2/queues/q/messages", &m);
	ok(!m.attrs->ids_in_query, "a listing takes ids from headers only");
	is(m.attrs->media, 0, "and answers JSON only");
	ok(hub_route_accepts(m.attrs, "application/json"), "JSON accepted");
	ok(hub_route_accepts(m.attrs, "*/*"), "*/* accepted");
	ok(!hub_route_accepts(m.attrs, "text/html"), "text/html refused");

	hub_route_lookup(HUB_GET, "/", &m);
	ok(hub_route_accepts(m.attrs, "text/html"), "/ answers a browser");
	hub_route_lookup(HUB_GET, "/v2/", &m);
	ok(!hub_route_accepts(m.attrs, "text/html"), "/v2/ does not");
	ok(hub_route_accepts(m.attrs, "application/json-home"),
	   "/v2/ answers json-home");
	hub_route_lookup(HUB_GET, "/dashboard/app.js", &m);
	ok(m.route && hub_route_accepts(m.attrs, "text/javascript"),
	   "the dashboard's files answer whatever is asked");
	is(m.attrs->auth, HUB_AUTH_NONE, "the dashboard is open");

	hub_route_lookup(HUB_POST, "/v2/queues/q/messages", &m);
	is(m.attrs->auth, HUB_AUTH_PUBLISH, "a post: publish");
	hub_route_lookup(HUB_POST, "/v2/queues/q/claims", &m);
	is(m.attrs->auth, HUB_AUTH_CONSUME, "a claim: consume");
	hub_route_lookup(HUB_GET, "/v2/health", &m);
	is(m.attrs->auth, HUB_AUTH_ADMIN, "v2 health: admin");
	hub_route_lookup(HUB_GET, "/v1.1/health", &m);
	is(m.attrs->auth, HUB_AUTH_NONE, "v1.1 health: open, as in Zaqar 15");
	hub_route_lookup(HUB_GET, "/v1/health", &m);
	is(m.attrs->auth, HUB_AUTH_NONE, "v1 health: a liveness probe, open");
	hub_route_lookup(HUB_GET, "/v2/ping", &m);
	is(m.attrs->auth, HUB_AUTH_NONE, "ping: open");
	hub_route_lookup(HUB_DELETE, "/v2/queues/q", &m);
	is(m.attrs->auth, HUB_AUTH_WRITE, "a queue delete: a write");
}

int main(void)
{
	hub_config_defaults(&cfg);
	lookup_by_version();
	not_found_and_allow();
	body_limits();
	media_ids_auth();
	done_testing();
	return exit_status();
}
