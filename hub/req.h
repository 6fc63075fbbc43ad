/*
 * req.h - the request API every transport and handler uses: the request a
 * handler serves, its replies, query parameters and JSON bodies.
 *
 * A request arrives by a transport - HTTP (http.c) or a WebSocket action
 * (ws_actions.c) - which fills a struct hub_req: headers, query and body,
 * after the pre-routing checks of the Zaqar API (pre-signed URL, media
 * types, Client-ID, X-Project-ID, queue name), which take the route's
 * attributes from the route table (route.h: the transport knows no path).
 * route.c picks the handler, which replies at once (reads: LMDB reads are
 * fast and run on the loop thread), defers a write to the writer thread
 * (writer.h) and replies in its `done` callback, waits for its queue
 * (long-poll, live/wait.h), or streams (SSE). A reply is data (reply.h):
 * status, JSON value and named fields; the transport renders it - HTTP
 * with a length, so the connection can be kept alive; WebSocket as
 * Zaqar's response frame.
 *
 * Threads: the lws service thread runs everything here except the `run`
 * functions of deferred writes, which run on the writer thread and may
 * only touch feed and their own context.
 *
 * JSON: every json_t * a function returns is a new reference unless its
 * comment says "borrowed"; functions that take one say "steals" when they
 * take the reference over.
 */
#ifndef HERALD_HUB_REQ_H
#define HERALD_HUB_REQ_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "feed.h"
#include "reply.h"

struct hub_auth_cred;
struct hub_hclient;

/* ------------------------------------------------------------- requests */

/* Longest idempotency key a client may send, bytes (feed takes more:
 * room for a request key's index suffix). */
#define HUB_IDEM_KEY_MAX 256

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
struct hub_writer;
struct hub_subs;
struct hub_hooks;
struct hub_req;
struct hub_job;
struct hub_ident;

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
	char *key;   /* owns one block: the key, its NUL, the value */
	char *value; /* percent-decoded; in key's block */
	size_t len;  /* of value as received (hub_query_list splits it) */
};

struct hub_req {
	const struct hub_transport *transport;
	/* The transport renders messages from r->reply.msgs (WebSocket
	 * actions): hub_msg_text() fills its `data` only then, so HTTP
	 * pays nothing for it. */
	bool wants_msg_data;
	/* What serves the request, all borrowed from the server: handlers
	 * and the core use these, never the server itself (transports
	 * may: srv). */
	struct hub_server *srv;
	feed_t *feed;
	const struct hub_config *cfg;
	struct hub_writer *writer;      /* hub_defer*() */
	unsigned loop;                  /* the service loop serving r */
	struct hub_subs *subs;          /* waits, notifications */
	struct hub_hooks *hooks;        /* webhook subscriptions' deliverer */
	uint64_t now_ms;                /* the request's clock */

	enum hub_method method;
	enum hub_version version;       /* of the route; 0 for unversioned */
	const char *prefix;             /* "/v2", "/v1.1", "/v1" or "" */
	const char *path;               /* full decoded path, no query */
	/* Route parameters (NULL when the route has none), NUL-terminated,
	 * already validated: the queue name against the name rules. */
	const char *queue;              /* {queue_name} */
	/* Another queue a deferred write of r writes to (a redrive's
	 * destination), which the writer holds it for too while that
	 * queue's shard moves (move.h); NULL: none. */
	const char *also_queue;
	const char *id;                 /* {message_id} or {claim_id} */
	char queue_buf[FEED_NAME_MAX + 1]; /* their storage */
	char id_buf[128];
	/*
	 * A topic route (/v2/topics...; route.c, hub_topic_storage()):
	 * r->queue is then the topic's name and r->project the storage
	 * project of the caller's topics, so a handler calls feed exactly
	 * as for a queue; what it shows comes from project_sent (the
	 * X-Project-ID as sent: hub_project_text()) and says "topics" where
	 * it says "queues" (hub_queue_href(), hub_msg_text()).
	 */
	bool topic;
	const char *project_sent;       /* topic routes; else NULL */
	char project_buf[FEED_PROJECT_MAX + 1];

	/* Headers. */
	const char *project;            /* X-Project-ID; "" when absent */
	bool has_client_id;
	uint8_t client_id[16];          /* canonical UUID bytes */
	/* Who the caller is, as the auth layer resolved it (auth.h;
	 * borrowed from the transport): handlers read this, never a
	 * credential. NULL only for requests the layer did not see. */
	const struct hub_ident *ident;
	const char *content_type;       /* "" when absent */
	/* If-None-Match; "" when absent (NULL from transports without
	 * HTTP headers, e.g. WebSocket actions). See hub_etag_matches(). */
	const char *if_none_match;
	const char *last_event_id;      /* SSE resume point; "" when absent */
	const char *accept;             /* Accept; NULL or "" when absent */
	/* What a feed's absolute URLs are made of (api/feeds.c) and its
	 * If-Modified-Since: Host, Forwarded, X-Forwarded-Proto and
	 * X-Forwarded-Host as sent ("" when absent; NULL from transports
	 * without HTTP headers: then the URLs are paths). */
	const char *host;
	const char *forwarded;
	const char *x_forwarded_proto;
	const char *x_forwarded_host;
	const char *if_modified_since;
	/* Authorization as sent, for the metrics' own token (api/metrics.c);
	 * "" when absent, NULL from transports without HTTP headers. */
	const char *authorization;
	/* The credentials as sent (auth.h), for a request a node makes on
	 * the caller's behalf to the cluster's other nodes (api/gather.c):
	 * HTTP's headers, a WebSocket action's connection token and
	 * X-Project-ID. NULL from transports that keep none. */
	const struct hub_auth_cred *cred;
	/* The loop's HTTP client (hclient.h), for those requests. */
	const struct hub_hclient *hclient;
	/* Herald-Local: 1 - a request from another node of the cluster,
	 * answered for this node alone (never gathered again). */
	bool cluster_local;
	/* Idempotency-Key (a Herald extension, docs/api.md; read on POST,
	 * and from a WebSocket message_post's headers): the request's key
	 * when the body gives none. NULL when absent. idempotency_key_len
	 * is its length as sent; more than HUB_IDEM_KEY_MAX when it was
	 * longer than that (then the key itself was not kept). */
	const char *idempotency_key;
	size_t idempotency_key_len;

	/* Query parameters in the order sent; blank values dropped. */
	struct hub_kv *query;
	size_t n_query, query_cap;

	/* Long-poll (see hub_wait()): the handler may wait for its queue
	 * until wait_until_ms (0: not now); wait_asked: the client sent
	 * wait > 0; wait_over: its wait ended (the last run answers);
	 * wait_wake_ms: 0, or when its queue could give it something without
	 * a commit (a delayed message due, a claim expiring). */
	uint64_t wait_until_ms;
	uint64_t wait_wake_ms;
	bool wait_asked;
	bool wait_over;

	/* Body: has_body when Content-Length was sent (even 0). */
	bool has_body;
	const char *body;
	size_t body_len;

	/* The reply, set through hub_reply*() (reply.h); every transport
	 * renders it from its data. */
	struct hub_reply reply;
};

/* ------------------------------------------------------ query and body */

/* The first value of a query parameter; NULL when absent or blank. */
const char *hub_query(const struct hub_req *r, const char *name);
/* Adds a parameter (for the transports): takes over `block`, which holds
 * the key and its NUL, `value` being the NUL-terminated rest of it; frees
 * the block on failure. 0, or -1 when memory runs out. */
int hub_query_take(struct hub_req *r, char *block, char *value);
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
/* The first check of hub_body_json(): false after replying 400 "Request
 * body can not be empty" to a request without a body. */
bool hub_body_present(struct hub_req *r);
/* Replies hub_body_json()'s 400 for a body jansson refused with err. */
void hub_body_refuse(struct hub_req *r, const json_error_t *err);
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


#endif /* HERALD_HUB_REQ_H */
