/*
 * hub.h - what the files of hub/ share: configuration, the request a
 * handler serves, replies, deferred writes, waiting and streaming, and the
 * route handlers.
 *
 * A request arrives by a transport - HTTP (http.c) or a WebSocket action
 * (ws_actions.c) - which fills a struct hub_req: headers, query and body,
 * after the pre-routing checks of the Zaqar API (pre-signed URL, media
 * types, Client-ID, X-Project-ID, queue name). route.c picks the handler,
 * which replies through req.c at once (reads: LMDB reads are fast and run
 * on the loop thread), defers a write to the writer thread (writer.c) and
 * replies in its `done` callback, waits for its queue (long-poll), or
 * streams (SSE). The transport then sends the reply: HTTP with a length,
 * so the connection can be kept alive; WebSocket as Zaqar's response frame.
 *
 * Threads: the lws service thread runs everything here except the `run`
 * functions of deferred writes, which run on the writer thread and may
 * only touch feed and their own context.
 *
 * JSON: every json_t * a function returns is a new reference unless its
 * comment says "borrowed"; functions that take one say "steals" when they
 * take the reference over.
 */
#ifndef HERALD_HUB_H
#define HERALD_HUB_H

#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "feed.h"

#define HUB_VERSION_STRING "0.1.0"

/* ---------------------------------------------------------------- config */

/* Zaqar's limits and defaults (zaqar-api.md §4); all configurable. */
struct hub_limits {
	uint32_t default_message_ttl;    /* 3600 */
	uint32_t default_message_delay;  /* 0 */
	uint32_t default_claim_ttl;      /* 300 */
	uint32_t default_claim_grace;    /* 60 */
	uint32_t max_queues_per_page;    /* 20 */
	uint32_t max_messages_per_page;  /* 20: list limit, ids per request */
	uint32_t max_messages_per_claim_or_pop; /* 20 */
	uint32_t max_queue_metadata;     /* 65536 bytes */
	uint32_t max_messages_post_size; /* 262144 bytes */
	uint32_t max_message_ttl;        /* 1209600 */
	uint32_t max_message_delay;      /* 900 */
	uint32_t max_claim_ttl;          /* 43200 */
	uint32_t max_claim_grace;        /* 43200 */
};

/* Hard minimums of the API, not configurable. */
#define HUB_MIN_MESSAGE_TTL 60
#define HUB_MIN_CLAIM_TTL 60
#define HUB_MIN_CLAIM_GRACE 60

enum hub_log_level { HUB_LOG_ERROR, HUB_LOG_WARN, HUB_LOG_INFO, HUB_LOG_DEBUG };

struct hub_config {
	char listen_host[256];           /* 127.0.0.1 */
	int listen_port;                 /* 8888; 0 = any free port */
	char data_dir[PATH_MAX];         /* ./herald-data */
	enum feed_durability durability; /* sync */
	uint64_t map_size;               /* feed's initial map, bytes */
	uint64_t max_map_size;           /* feed's maximum, bytes */
	char signing_key[256];           /* pre-signed URLs; "" = off */
	char web_dir[PATH_MAX];          /* the dashboard's files; "" = found */
	enum hub_log_level log_level;    /* info */
	uint32_t compact_interval_ms;    /* 1000 */
	uint32_t compact_budget;         /* records per compaction step */
	uint32_t max_connections;        /* 0 = as the fd limit allows */
	uint32_t max_subs_per_connection; /* WebSocket subscriptions, 16 */
	uint32_t max_subscribers;        /* live subscribers in all, 100000 */
	/* Testing only: read "now" (ms since the epoch) from this file
	 * instead of the system clock, so tests can move time. */
	char clock_file[PATH_MAX];
	struct hub_limits limits;
};

/* Fills *cfg with the defaults. */
void hub_config_defaults(struct hub_config *cfg);
/*
 * Applies, in this order (later wins): the config file named by --config
 * or HERALD_CONFIG, HERALD_* environment variables, then command-line
 * options of `herald serve`. Prints a clear message to stderr and returns
 * -1 on a bad setting; returns 1 when --help was printed, 0 otherwise.
 */
int hub_config_load(struct hub_config *cfg, int argc, char **argv);
/* Prints `herald serve --help`. */
void hub_config_usage(FILE *out);

/* --------------------------------------------------------------- logging */

void hub_log_set_level(enum hub_log_level level);
void hub_log(enum hub_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ------------------------------------------------------------- requests */

enum hub_method {
	HUB_GET,
	HUB_HEAD,
	HUB_POST,
	HUB_PUT,
	HUB_PATCH,
	HUB_DELETE,
	HUB_OPTIONS,
	HUB_METHOD_COUNT
};

/* API versions, as bits so a route can serve several. */
enum hub_version {
	HUB_V1 = 1u << 0,
	HUB_V1_1 = 1u << 1,
	HUB_V2 = 1u << 2,
	HUB_ALL_VERSIONS = HUB_V1 | HUB_V1_1 | HUB_V2,
};

struct hub_server;
struct hub_req;
struct hub_job;

/*
 * A streaming answer (Server-Sent Events): after the 200 and its headers,
 * the transport calls next() whenever the connection can take more, until
 * it returns -1 or the client leaves; then free(). next() fills buf with
 * up to len bytes and returns how many; 0 means nothing to send now - the
 * producer calls hub_stream_wake() when it has something.
 */
struct hub_stream_ops {
	long (*next)(void *state, char *buf, size_t len);
	void (*free)(void *state);
};

/*
 * How a request travels and gets its answer: HTTP (http.c) or a WebSocket
 * action (ws.c). The writer and the long-poll machinery call these; a
 * handler never does.
 */
struct hub_transport {
	/* A deferred write of r went to the writer, and came back. */
	void (*job_out)(struct hub_req *r, struct hub_job *job);
	void (*job_back)(struct hub_req *r);
	/* r's answer is ready (after a deferred write or a wait): send it. */
	void (*resume)(struct hub_req *r);
	/* Long-poll: hold r until its queue changes or its wait ends, then
	 * run its handler again. NULL when the transport cannot hold. */
	void (*hold)(struct hub_req *r);
	/* Streaming answer (SSE): see hub_stream(). NULL when unsupported. */
	void (*stream)(struct hub_req *r, const char *content_type,
		       const struct hub_stream_ops *ops, void *state);
	void (*stream_wake)(struct hub_req *r);
};

struct hub_kv {
	char *key;
	char *value; /* percent-decoded */
	size_t len;  /* of value as received (hub_query_list splits it) */
};

struct hub_req {
	const struct hub_transport *transport;
	struct hub_server *srv;
	feed_t *feed;                   /* borrowed: the server's */
	const struct hub_config *cfg;   /* borrowed */
	uint64_t now_ms;                /* the request's clock */

	enum hub_method method;
	enum hub_version version;       /* of the route; 0 for unversioned */
	const char *prefix;             /* "/v2", "/v1.1", "/v1" or "" */
	const char *path;               /* full decoded path, no query */
	/* Route parameters (NULL when the route has none), NUL-terminated,
	 * already validated: the queue name against the name rules. */
	const char *queue;              /* {queue_name} */
	const char *id;                 /* {message_id} or {claim_id} */
	char queue_buf[FEED_NAME_MAX + 1]; /* their storage */
	char id_buf[128];

	/* Headers. */
	const char *project;            /* X-Project-ID; "" when absent */
	bool has_client_id;
	uint8_t client_id[16];          /* canonical UUID bytes */
	bool is_admin;                  /* X-Roles lists "admin" */
	const char *content_type;       /* "" when absent */
	/* If-None-Match; "" when absent (NULL from transports without
	 * HTTP headers, e.g. WebSocket actions). See hub_etag_matches(). */
	const char *if_none_match;
	const char *last_event_id;      /* SSE resume point; "" when absent */
	const char *accept;             /* Accept; NULL or "" when absent */

	/* Query parameters in the order sent; blank values dropped. */
	struct hub_kv *query;
	size_t n_query;

	/* Long-poll (see hub_wait()): the handler may wait for its queue
	 * until wait_until_ms (0: not now); wait_asked: the client sent
	 * wait > 0; wait_over: its wait ended (the last run answers). */
	uint64_t wait_until_ms;
	bool wait_asked;
	bool wait_over;

	/* Body: has_body when Content-Length was sent (even 0). */
	bool has_body;
	const char *body;
	size_t body_len;

	/* The reply, set through hub_reply*(); private to http.c. */
	int status;
	char *resp_body;
	size_t resp_len;
	const char *resp_type;
	char *resp_headers; /* "name: value\r\n"... */
	size_t resp_headers_len;
	bool replied;
};

/* ---------------------------------------------------------------- replies */

/*
 * Replies `status` with a JSON body (steals `body`; NULL = no body, e.g.
 * 204). Content-Type application/json either way, as Zaqar does.
 * A handler replies exactly once, now or in a deferred write's `done`.
 */
void hub_reply(struct hub_req *r, int status, json_t *body);
/* Replies with a raw body of the given content type (copied). */
void hub_reply_raw(struct hub_req *r, int status, const char *type,
		   const void *body, size_t len);
/* Replies Zaqar's error body {"title": ..., "description": ...};
 * `fmt` NULL leaves the description out (routing errors). */
void hub_reply_error(struct hub_req *r, int status, const char *title,
		     const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Replies the one status and body that map feed error `err`; `what`
 * names the thing for 404s (e.g. "Message <id>"; may be NULL). */
void hub_reply_feed_error(struct hub_req *r, int err, const char *what);
/* Adds a response header (e.g. "Location"). */
void hub_header(struct hub_req *r, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ------------------------------------------------------ query and body */

/* The first value of a query parameter; NULL when absent or blank. */
const char *hub_query(const struct hub_req *r, const char *name);
/* Integer parameter: *out = def when absent. Returns false after replying
 * 400 "Invalid parameter" when it is not an integer. */
bool hub_query_int(struct hub_req *r, const char *name, long long def,
		   long long *out);
/* Boolean parameter (true/True/t/yes/y/1/on, false/False/f/no/n/0/off). */
bool hub_query_bool(struct hub_req *r, const char *name, bool def, bool *out);
/* Comma-separated and/or repeated list parameter: up to max items into
 * out (pointers into r's storage); *n = how many there were in all (may
 * exceed max). */
void hub_query_list(const struct hub_req *r, const char *name,
		    const char **out, size_t max, size_t *n);
/*
 * Parses the body as JSON. On failure replies 400 "Invalid request body"
 * with Zaqar's description ("Request body can not be empty", "Request body
 * could not be parsed.", "JSON contains integer that is too large.", "Document
 * type not supported." when `want` is JSON_OBJECT or JSON_ARRAY and the
 * document is the other kind) and returns NULL. want = -1: any type.
 */
json_t *hub_body_json(struct hub_req *r, int want);
/*
 * An integer field of a JSON body object, as Zaqar's sanitize() reads it:
 * absent = def unless required; present = an integer (a JSON boolean is
 * one, as to Python; null is not). Replies 400 and returns false
 * otherwise.
 */
bool hub_body_int(struct hub_req *r, json_t *obj, const char *name,
		  bool required, long long def, long long *out);
/* Frees what a request holds for its query and reply (transports). */
void hub_req_release(struct hub_req *r);
/*
 * The next link of a listing, as Zaqar builds it: r->path, then those of
 * the `recognised` parameters (NULL-terminated, in Zaqar's fixed order)
 * that were sent, booleans as true/false, and the marker set to `marker`:
 * in its place when one was sent, else last. `extra` (may be NULL) names
 * a recognised parameter to add as "true" when absent. New malloc'd.
 */
char *hub_next_link(const struct hub_req *r, const char *const *recognised,
		    const char *marker, const char *extra);

/* ------------------------------------------------------ deferred writes */

/* Runs on the writer thread: touch only feed and ctx. Returns a feed
 * code, handed to done. */
typedef int (*hub_run_fn)(feed_t *feed, void *ctx, uint64_t now_ms);
/* Runs on the loop thread after the write committed (or failed: rc).
 * r is NULL when the client went away meanwhile: only free ctx then. */
typedef void (*hub_done_fn)(struct hub_req *r, void *ctx, int rc);

/* Defers a write: run(feed, ctx, r->now_ms) on the writer thread, then
 * done(r, ctx, rc) on the loop thread. The handler returns after this. */
void hub_defer(struct hub_req *r, hub_run_fn run, hub_done_fn done,
	       void *ctx);
/*
 * Defers an append that the writer may group-commit with others: areq
 * (owned by ctx, valid until done) is passed to feed_append_group(); rc
 * is areq->status.
 */
void hub_defer_append(struct hub_req *r, feed_append_req_t *areq,
		      hub_done_fn done, void *ctx);

/* --------------------------------------------------------------- waiting */

/*
 * Long-poll (v2 `wait=N`, N seconds 0..20): hub_wait_param() reads the
 * parameter (replies 400 and returns false when it is bad) and sets
 * r->wait_until_ms. A handler that finds nothing to return checks
 * hub_can_wait(r): when true it calls hub_wait(r) instead of replying,
 * and returns. The request is then held; when a write commits on r->queue,
 * or the wait ends, the handler runs again from the start (r->now_ms
 * updated; after the end hub_can_wait() is false, so it replies).
 */
bool hub_wait_param(struct hub_req *r);
bool hub_can_wait(const struct hub_req *r);
void hub_wait(struct hub_req *r);
/*
 * Starts a streaming answer (200, content_type, no length; the connection
 * closes when it ends). r is then owned by the stream: the handler returns
 * and never replies. Replies 501 when the transport cannot stream.
 */
void hub_stream(struct hub_req *r, const char *content_type,
		const struct hub_stream_ops *ops, void *state);
/* The stream's producer has something new: call its next() soon. */
void hub_stream_wake(struct hub_req *r);

/* Tells the subscribers of a queue that it changed (e.g. after a claim
 * release made messages claimable); by names, for a done() whose client
 * may be gone. Appends notify by themselves. */
void hub_notify_queue(struct hub_server *srv, const char *project,
		      const char *queue);

/* ------------------------------------------------------------ rendering */

/* The queue's path prefix: e.g. "/v2/queues/q1" (new malloc'd string). */
char *hub_queue_href(const struct hub_req *r, const char *queue);
/*
 * A message as Zaqar renders it: {id, href, ttl, age, body} (v1: no id);
 * href carries ?claim_id= when the message is claimed. NULL on a body
 * that does not parse (never, for what Herald stored).
 */
json_t *hub_msg_json(const struct hub_req *r, const feed_msg_t *m);
/* Parses a Client-ID the way Zaqar does (dashed, dash-less, {braces},
 * urn:uuid: prefix) into 16 bytes; 0 or -1. */
int hub_uuid_parse(const char *text, uint8_t out[16]);
/* Seconds from ms, for ages and ttls: whole seconds, rounding down. */
static inline long long hub_secs(uint64_t ms)
{
	return (long long)(ms / 1000);
}
/* RFC 3339 UTC "YYYY-MM-DDTHH:MM:SSZ" of ms since the epoch. */
void hub_time_format(char out[32], uint64_t ms);

/* Queue metadata as JSON (new reference; {} when none or no queue). */
json_t *hub_queue_meta(const struct hub_req *r, const char *queue);
/* Reads an integer reserved key of the metadata; def when absent/not int. */
long long hub_meta_int(json_t *meta, const char *key, long long def);

/* ------------------------------------------------------ conditional GET */

/*
 * Entity tags (etag.c): a hash of what an answer depends on - never of its
 * ages - for ETag / If-None-Match. A handler starts one, adds the inputs
 * of its answer, formats the tag, sends it as the ETag header and, when
 * hub_etag_matches(), replies 304 with no body instead of the answer.
 */
struct hub_etag {
	uint64_t h;
};
/* "W/" + quote + 16 hex + quote + NUL. */
#define HUB_ETAG_MAX 24

/* Starts a tag (seeded with Herald's version: an upgrade changes tags). */
void hub_etag_init(struct hub_etag *e);
/* Adds bytes, a string (NULL differs from ""), an integer. */
void hub_etag_add(struct hub_etag *e, const void *data, size_t len);
void hub_etag_add_str(struct hub_etag *e, const char *s);
void hub_etag_add_u64(struct hub_etag *e, uint64_t v);
/* The tag as an ETag header value: "\"<16 hex>\"", W/ first when weak. */
void hub_etag_format(const struct hub_etag *e, bool weak,
		     char out[HUB_ETAG_MAX]);
/* Whether r's If-None-Match matches `tag` (RFC 9110 §13.1.2: "*", a
 * list, W/ ignored on both sides). */
bool hub_etag_matches(const struct hub_req *r, const char *tag);

/* --------------------------------------------------------------- routes */

typedef void (*hub_handler_fn)(struct hub_req *r);

/* The API's rule for queue names: ^[a-zA-Z0-9_.-]+$, 1..64 characters. */
bool hub_queue_name_ok(const char *s, size_t len);
/* A project id: at most FEED_PROJECT_MAX bytes, no control characters
 * (which a query parameter or a WebSocket frame could carry). */
bool hub_project_ok(const char *s);

/* Dispatches r (after the pre-routing checks) to its handler, or replies
 * 404 / 405 / OPTIONS. route.c. */
void hub_route(struct hub_req *r);

/* api_home.c: versions, home documents, ping, health. */
void hub_get_versions(struct hub_req *r);   /* GET / */
void hub_get_home(struct hub_req *r);       /* GET /v2/ ... */
void hub_ping(struct hub_req *r);           /* GET|HEAD /v2/ping */
void hub_health(struct hub_req *r);         /* GET or HEAD of a health route */

/* share.c: pre-signed URLs. */
void hub_share(struct hub_req *r);          /* POST /v2/queues/q/share */
/* Checks the URL-Signature header set of r, if any: returns true when r
 * may proceed, false after replying 404 (Zaqar's answer to a bad one). */
bool hub_check_signature(struct hub_req *r, const char *signature,
			 const char *expires, const char *methods,
			 const char *paths);

/* web.c: the dashboard. hub_web_wanted: r asks for HTML (a browser). */
bool hub_web_wanted(const struct hub_req *r);
void hub_web_index(struct hub_req *r);      /* GET / for a browser */
void hub_web_file(struct hub_req *r);       /* GET /dashboard/NAME */

/* sse.c: GET /v2/queues/q/events, Server-Sent Events. */
void hub_queue_events(struct hub_req *r);

/* api_queues.c */
void hub_queues_list(struct hub_req *r);    /* GET /queues */
void hub_queue_put(struct hub_req *r);      /* PUT /queues/q */
void hub_queue_get(struct hub_req *r);      /* GET|HEAD /queues/q */
void hub_queue_patch(struct hub_req *r);    /* PATCH /v2/queues/q */
void hub_queue_delete(struct hub_req *r);   /* DELETE /queues/q */
void hub_queue_stats(struct hub_req *r);    /* GET /queues/q/stats */
void hub_queue_counters(struct hub_req *r); /* GET /v2/queues/q/counters */
void hub_queue_purge(struct hub_req *r);    /* POST /v2/queues/q/purge */
void hub_queue_meta_get(struct hub_req *r); /* GET /v1/queues/q/metadata */
void hub_queue_meta_put(struct hub_req *r); /* PUT /v1/queues/q/metadata */

/* api_messages.c */
void hub_messages_post(struct hub_req *r);   /* POST /queues/q/messages */
void hub_messages_get(struct hub_req *r);    /* GET  /queues/q/messages */

/* api_message.c */
void hub_messages_delete(struct hub_req *r); /* DELETE /queues/q/messages */
void hub_message_get(struct hub_req *r);     /* GET /queues/q/messages/id */
void hub_message_delete(struct hub_req *r);  /* DELETE .../messages/id */

/* api_claims.c */
void hub_claims_post(struct hub_req *r);   /* POST /queues/q/claims */
void hub_claim_get(struct hub_req *r);     /* GET /queues/q/claims/id */
void hub_claim_patch(struct hub_req *r);   /* PATCH /queues/q/claims/id */
void hub_claim_delete(struct hub_req *r);  /* DELETE /queues/q/claims/id */

/* atom.c */
void hub_queue_atom(struct hub_req *r);    /* GET /v2/queues/q/feed.atom */

#endif /* HERALD_HUB_H */
