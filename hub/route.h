/*
 * route.h - the route table (route.c): method + path -> a route, its
 * parameters and its attributes; then dispatch to its handler. And the
 * API's name rules.
 *
 * Routing is two steps, so a transport can act on a route's attributes
 * before it has the whole request, without knowing any path itself:
 *
 *   hub_route_lookup(method, path)   at header time: the route (or why
 *                                    none: 404, 405, OPTIONS), the version,
 *                                    {queue} and {id}, the attributes
 *   ... the transport reads the body up to hub_route_body_max(), checks
 *       Accept with hub_route_accepts(), reads ids from the query where
 *       ids_in_query allows ...
 *   hub_route_dispatch(r, match)     404 / 405 / OPTIONS / a bad queue
 *                                    or topic name, or the handler
 *
 * hub_route(r) does both at once (WebSocket actions, re-runs of a held
 * request).
 */
#ifndef HERALD_HUB_ROUTE_H
#define HERALD_HUB_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "req.h"

/* ------------------------------------------------------------ attributes */

/* Which limit caps a route's request body (hub_route_body_max). */
enum hub_body_limit {
	HUB_BODY_DEFAULT,  /* HUB_BODY_DEFAULT_MAX: any other body */
	HUB_BODY_MESSAGES, /* max-messages-post-size: a post of messages */
	HUB_BODY_METADATA, /* max-queue-metadata (at least the default) */
	HUB_BODY_SHARD,    /* HUB_BODY_SHARD_MAX: a queue moving in */
};
#define HUB_BODY_DEFAULT_MAX 65536
/* A moving queue's blob, base64 in JSON (api/shards.c, docs/scale.md). */
#define HUB_BODY_SHARD_MAX (256u << 20)

/* Media types a route answers with besides JSON, which every route
 * answers (its errors are JSON): what an Accept header must allow. */
enum hub_media {
	HUB_MEDIA_SSE = 1u << 0,  /* text/event-stream */
	HUB_MEDIA_ATOM = 1u << 1, /* application/atom+xml, application/xml,
				   * text/xml */
	HUB_MEDIA_HTML = 1u << 2, /* text/html (the dashboard at /) */
	HUB_MEDIA_ANY = 1u << 3,  /* whatever is asked (the dashboard's
				   * files) */
	HUB_MEDIA_RSS = 1u << 4,  /* application/rss+xml, application/xml,
				   * text/xml */
	HUB_MEDIA_JSONFEED = 1u << 5, /* application/feed+json */
};

/*
 * What a route needs of its caller, enforced by the auth layer before the
 * handler runs (auth.c; ARCHITECTURE.md "Who may do what"): the roles
 * that meet each need are auth.c's need_roles (docs/security.md).
 */
enum hub_auth {
	HUB_AUTH_NONE,      /* anyone: versions, home documents, ping,
			     * dashboard, the WebSocket actions endpoint
			     * (each action is checked) */
	HUB_AUTH_READ,      /* reads a project's queues and messages, feeds */
	HUB_AUTH_PUBLISH,   /* posts messages */
	HUB_AUTH_CONSUME,   /* claims, deletes (acknowledges) messages */
	HUB_AUTH_SUBSCRIBE, /* live streams: SSE, the stream URL, subscribe */
	HUB_AUTH_WRITE,     /* changes queues: create, metadata, delete,
			     * purge, share, webhook subscriptions, redrive */
	HUB_AUTH_ADMIN,     /* the operator: the storage health report */
};

/* Whether a route is a WebSocket endpoint, and which kind: the WebSocket
 * transport upgrades only these (an upgrade of any other path is
 * refused). A plain HTTP request of the same path runs the row's handler:
 * 426 for the endpoints that speak only WebSocket (/v2/ws, the stream
 * URL); the versions document or the dashboard for / - which upgrades
 * too, as Zaqar's WebSocket transport serves its actions at / on its own
 * port. */
enum hub_websocket {
	HUB_WS_NONE,    /* plain HTTP */
	HUB_WS_ACTIONS, /* /v2/ws and /: Zaqar's actions, plus subscribe */
	HUB_WS_STREAM,  /* /v2/queues/{q}/stream: one subscription */
};

struct hub_route_attrs {
	enum hub_body_limit body;
	unsigned media;     /* enum hub_media bits; 0: JSON only */
	/* Client-ID and X-Project-Id may come as query parameters
	 * (client_id=, project_id=): browsers and feed readers cannot set
	 * headers on live streams and feeds. */
	bool ids_in_query;
	enum hub_auth auth;
	enum hub_websocket websocket;
};

/* ----------------------------------------------------------------- routes */

struct hub_route; /* a row of the table (route.c) */

/* What a lookup found. */
struct hub_route_match {
	/* The row for the method; NULL when there is none: then `allowed`
	 * says why - 0: no route has the path (404); else the methods that
	 * do (bits 1 << enum hub_method): 405, or OPTIONS' answer. */
	const struct hub_route *route;
	unsigned allowed;
	/* The attributes of `route`, or of the path's first row when the
	 * method has none, or the defaults for an unknown path. Never
	 * NULL. */
	const struct hub_route_attrs *attrs;
	enum hub_version version; /* 0: unversioned */
	const char *prefix;       /* "/v2", "/v1.1", "/v1" or "" */
	/* Client-ID is required: a /v1.1/ or /v2/ path, known or not. */
	bool client_id_required;
	/* {queue} (or {topic}) and {id} ("" when the route has none);
	 * bad_queue: that segment breaks the name rule (a 400 at
	 * dispatch). */
	char queue[FEED_NAME_MAX + 1];
	char id[128];
	bool bad_queue;
	/* A topic route (/v2/topics...): dispatch maps the project to the
	 * topics' storage (hub_topic_storage()), and Zaqar's words for a
	 * bad name or project say "topic". */
	bool topic;
};

/* Looks `path` (decoded, no query) up for `method`; fills m. Pure: no
 * request, no reply - a transport may call it as soon as it has the
 * request line. */
void hub_route_lookup(enum hub_method method, const char *path,
		      struct hub_route_match *m);
/* Runs r (after the pre-routing checks) by its lookup m: replies 404,
 * 405 (with Allow), OPTIONS (200 with Allow) or 400 for a bad queue name
 * or project; else sets r->version, prefix, queue and id and calls the
 * route's handler. */
void hub_route_dispatch(struct hub_req *r, const struct hub_route_match *m);
/* hub_route_lookup(r->method, r->path) and hub_route_dispatch(). */
void hub_route(struct hub_req *r);
/* Replies Zaqar's 400 for a bad queue name or project id ("Invalid queue
 * identification"), or for a bad topic name or project id on a topic
 * route ("Invalid topic identification"). */
void hub_route_refuse_name(struct hub_req *r, bool topic);

/* The table's rows, for the metrics' route label (metrics.c): a row's
 * index (of a match's route), and a row's pattern (below the version
 * prefix), method and versions (0: unversioned). */
size_t hub_route_index(const struct hub_route *rt);
void hub_route_row(size_t i, const char **pattern, enum hub_method *method,
		   unsigned *versions);
size_t hub_route_count(void);

/* The most body bytes a route takes under the limits l. */
size_t hub_route_body_max(const struct hub_route_attrs *a,
			  const struct hub_limits *l);
/* Replies the 400 for a body over that limit, in Zaqar's words for the
 * route (and r->method: a PUT's title differs from a PATCH's). */
void hub_route_refuse_body(struct hub_req *r, const struct hub_route_attrs *a);
/* Whether an Accept header (non-empty) allows what the route answers. */
bool hub_route_accepts(const struct hub_route_attrs *a, const char *accept);

/* ------------------------------------------------------------ name rules */

/* The API's rule for queue names: ^[a-zA-Z0-9_.-]+$, 1..64 characters. */
bool hub_queue_name_ok(const char *s, size_t len);
/* A project id: at most FEED_PROJECT_MAX bytes, no control characters
 * (which a query parameter or a WebSocket frame could carry). */
bool hub_project_ok(const char *s);

/*
 * Where the topics of `project` (a project id as sent, "" for none) are
 * stored: the feed project to use with the topic's name as the queue
 * name, written to `out`. See route.c for why this mapping. False when
 * `project` is too long for it (FEED_PROJECT_MAX bytes: one more than
 * topics allow) - Zaqar's "Invalid topic identification" then.
 */
bool hub_topic_storage(const char *project, char out[FEED_PROJECT_MAX + 1]);
/* The inverse: the project a topic's storage project `storage` was made
 * from, or NULL when it is a queue's. */
const char *hub_topic_project(const char *storage);

#endif /* HERALD_HUB_ROUTE_H */
