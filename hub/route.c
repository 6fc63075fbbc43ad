/*
 * route.c - the route table: method + path -> a route, its parameters and
 * its attributes (route.h); dispatch to the route's handler.
 *
 * One table serves every version: each row names the versions it exists
 * in, the path pattern below the version prefix, the method, the handler
 * and the route's attributes - which limit caps its body, what it answers
 * besides JSON, whether ids may come in its query, what it will require
 * of its caller. Versions differ only in which rows they have and in the
 * handlers' thin adapters (r->version). A path that matches a row of its
 * version but not its method is a 405 with an Allow header; OPTIONS lists
 * the methods; no row at all is a 404 - all with falcon's bodies, as Zaqar.
 * Transports know no path: they ask hub_route_lookup().
 *
 * Patterns: "{queue}" matches a queue name, validated here against the
 * API's rule (^[a-zA-Z0-9_.-]+$, at most 64 characters; a bad one is a 400
 * before any handler runs); "{topic}" a topic name, by the same rule (as
 * Zaqar's topic_identification); "{id}" matches any one non-empty
 * segment.
 *
 * Topics (/v2/topics..., Zaqar >= 8) are queues without claims: their rows
 * name the queue handlers, and dispatch maps the request onto the topics'
 * storage before the handler runs (hub_topic_storage(), below). A handler
 * serves a topic by using r->project and r->queue for feed as always; it
 * only looks at r->topic where the API shows a topic differently from a
 * queue (hrefs, "Topic" texts, the reserved metadata, stats). There are
 * no claim rows under /topics: those paths are 404s, as in Zaqar.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "move.h"
#include "req.h"
#include "route.h"
#include "api/api.h"

#define V1 HUB_V1
#define V11 HUB_V1_1
#define V2 HUB_V2
#define ALL HUB_ALL_VERSIONS
#define NONE 0u /* unversioned */

struct hub_route {
	unsigned versions;
	enum hub_method method;
	const char *pattern;
	hub_handler_fn handler;
	struct hub_route_attrs attrs;
};

/* Attributes: {body limit, media besides JSON, ids in the query, auth,
 * WebSocket endpoint}; LIVE: live streams and feeds, read by browsers and
 * feed readers. */
#define ATTRS(body_, media_, ids_, auth_, ws_)                               \
	{.body = (body_), .media = (media_), .ids_in_query = (ids_),           \
	 .auth = (auth_), .websocket = (ws_)}
#define OPEN ATTRS(HUB_BODY_DEFAULT, 0, false, HUB_AUTH_NONE, HUB_WS_NONE)
#define READ ATTRS(HUB_BODY_DEFAULT, 0, false, HUB_AUTH_READ, HUB_WS_NONE)
#define WRITE ATTRS(HUB_BODY_DEFAULT, 0, false, HUB_AUTH_WRITE, HUB_WS_NONE)
#define WRITE_META                                                             \
	ATTRS(HUB_BODY_METADATA, 0, false, HUB_AUTH_WRITE, HUB_WS_NONE)
#define PUBLISH                                                                \
	ATTRS(HUB_BODY_MESSAGES, 0, false, HUB_AUTH_PUBLISH, HUB_WS_NONE)
#define CONSUME ATTRS(HUB_BODY_DEFAULT, 0, false, HUB_AUTH_CONSUME, HUB_WS_NONE)
#define ADMIN ATTRS(HUB_BODY_DEFAULT, 0, false, HUB_AUTH_ADMIN, HUB_WS_NONE)
#define ADMIN_SHARD ATTRS(HUB_BODY_SHARD, 0, false, HUB_AUTH_ADMIN, HUB_WS_NONE)
#define LIVE(media, need)                                                      \
	ATTRS(HUB_BODY_DEFAULT, media, true, need, HUB_WS_NONE)
#define WEBSOCKET(ids, need, kind)                                             \
	ATTRS(HUB_BODY_DEFAULT, 0, ids, need, kind)

static const struct hub_route routes[] = {
	/* GET / is the versions document, or the dashboard for a browser;
	 * upgraded, it is Zaqar's WebSocket endpoint (its transport serves
	 * the actions at / on its port), the same as /v2/ws. */
	{NONE, HUB_GET, "/", hub_get_versions,
	 ATTRS(HUB_BODY_DEFAULT, HUB_MEDIA_HTML, false, HUB_AUTH_NONE,
	       HUB_WS_ACTIONS)},
	{NONE, HUB_GET, "/dashboard/{id}", hub_web_file,
	 ATTRS(HUB_BODY_DEFAULT, HUB_MEDIA_ANY, false, HUB_AUTH_NONE,
	       HUB_WS_NONE)},
	{NONE, HUB_GET, "/health", hub_health, OPEN},
	/* Prometheus: its own access setting (api/metrics.c), any Accept. */
	{NONE, HUB_GET, "/metrics", hub_metrics_get,
	 ATTRS(HUB_BODY_DEFAULT, HUB_MEDIA_ANY, false, HUB_AUTH_NONE,
	       HUB_WS_NONE)},
	{NONE, HUB_HEAD, "/health", hub_health, OPEN},
	{ALL, HUB_GET, "/", hub_get_home, OPEN},
	{V11 | V2, HUB_GET, "/ping", hub_ping, OPEN},
	{V11 | V2, HUB_HEAD, "/ping", hub_ping, OPEN},
	{V1, HUB_GET, "/health", hub_health, OPEN}, /* a liveness probe */
	{V11, HUB_GET, "/health", hub_health, OPEN},   /* no policy: Zaqar 15 */
	{V2, HUB_GET, "/health", hub_health, ADMIN},
	{V1, HUB_HEAD, "/health", hub_health, OPEN},

	{ALL, HUB_GET, "/queues", hub_queues_list, READ},
	{ALL, HUB_GET, "/queues/{queue}", hub_queue_get, READ},
	{V1, HUB_HEAD, "/queues/{queue}", hub_queue_get, READ},
	{ALL, HUB_PUT, "/queues/{queue}", hub_queue_put, WRITE_META},
	{V2, HUB_PATCH, "/queues/{queue}", hub_queue_patch, WRITE_META},
	{ALL, HUB_DELETE, "/queues/{queue}", hub_queue_delete, WRITE},
	{ALL, HUB_GET, "/queues/{queue}/stats", hub_queue_stats, READ},
	{V2, HUB_GET, "/queues/{queue}/counters", hub_queue_counters, READ},
	{V1, HUB_GET, "/queues/{queue}/metadata", hub_queue_meta_get, READ},
	{V1, HUB_PUT, "/queues/{queue}/metadata", hub_queue_meta_put,
	 WRITE_META},
	{V2, HUB_POST, "/queues/{queue}/purge", hub_queue_purge, WRITE},
	{V2, HUB_POST, "/queues/{queue}/share", hub_share, WRITE},
	{V2, HUB_GET, "/queues/{queue}/feed.atom", hub_queue_atom,
	 LIVE(HUB_MEDIA_ATOM, HUB_AUTH_READ)},
	{V2, HUB_GET, "/queues/{queue}/feed.rss", hub_queue_rss,
	 LIVE(HUB_MEDIA_RSS, HUB_AUTH_READ)},
	{V2, HUB_GET, "/queues/{queue}/feed.json", hub_queue_jsonfeed,
	 LIVE(HUB_MEDIA_JSONFEED, HUB_AUTH_READ)},
	{V2, HUB_GET, "/queues/{queue}/events", hub_queue_events,
	 LIVE(HUB_MEDIA_SSE, HUB_AUTH_SUBSCRIBE)},
	/* WebSocket endpoints: upgraded by the WebSocket transport. */
	{V2, HUB_GET, "/ws", hub_upgrade_required,
	 WEBSOCKET(false, HUB_AUTH_NONE, HUB_WS_ACTIONS)},
	{V2, HUB_GET, "/ws/", hub_upgrade_required,
	 WEBSOCKET(false, HUB_AUTH_NONE, HUB_WS_ACTIONS)},
	{V2, HUB_GET, "/queues/{queue}/stream", hub_upgrade_required,
	 WEBSOCKET(true, HUB_AUTH_SUBSCRIBE, HUB_WS_STREAM)},

	{ALL, HUB_POST, "/queues/{queue}/messages", hub_messages_post,
	 PUBLISH},
	{ALL, HUB_GET, "/queues/{queue}/messages", hub_messages_get, READ},
	{ALL, HUB_DELETE, "/queues/{queue}/messages", hub_messages_delete,
	 CONSUME},
	{ALL, HUB_GET, "/queues/{queue}/messages/{id}", hub_message_get, READ},
	{ALL, HUB_DELETE, "/queues/{queue}/messages/{id}", hub_message_delete,
	 CONSUME},

	{V2, HUB_POST, "/queues/{queue}/subscriptions", hub_subscriptions_post,
	 WRITE},
	{V2, HUB_GET, "/queues/{queue}/subscriptions", hub_subscriptions_get,
	 READ},
	{V2, HUB_GET, "/queues/{queue}/subscriptions/{id}",
	 hub_subscription_get, READ},
	{V2, HUB_PATCH, "/queues/{queue}/subscriptions/{id}",
	 hub_subscription_patch, WRITE},
	{V2, HUB_DELETE, "/queues/{queue}/subscriptions/{id}",
	 hub_subscription_delete, WRITE},
	{V2, HUB_PUT, "/queues/{queue}/subscriptions/{id}/confirm",
	 hub_subscription_confirm, WRITE},

	{ALL, HUB_POST, "/queues/{queue}/claims", hub_claims_post, CONSUME},
	{ALL, HUB_GET, "/queues/{queue}/claims/{id}", hub_claim_get, READ},
	{ALL, HUB_PATCH, "/queues/{queue}/claims/{id}", hub_claim_patch,
	 CONSUME},
	{ALL, HUB_DELETE, "/queues/{queue}/claims/{id}", hub_claim_delete,
	 CONSUME},

	/* Moving a shard between cluster nodes (docs/api.md, a Herald
	 * extension; api/shards.c): admin only. */
	{V2, HUB_POST, "/cluster/shards/{id}/freeze", hub_shard_freeze, ADMIN},
	{V2, HUB_POST, "/cluster/shards/{id}/thaw", hub_shard_thaw, ADMIN},
	{V2, HUB_GET, "/cluster/shards/{id}/queues", hub_shard_queues, ADMIN},
	{V2, HUB_POST, "/cluster/shards/{id}/export", hub_shard_export, ADMIN},
	{V2, HUB_POST, "/cluster/shards/{id}/import", hub_shard_import,
	 ADMIN_SHARD},
	{V2, HUB_POST, "/cluster/shards/{id}/drop", hub_shard_drop, ADMIN},
	{V2, HUB_POST, "/cluster/generation", hub_cluster_generation, ADMIN},
	{V2, HUB_POST, "/cluster/map/reload", hub_cluster_map_reload, ADMIN},

	/* Dead letters (docs/api.md): redrive, a Herald extension. */
	{V2, HUB_POST, "/queues/{queue}/redrive", hub_queue_redrive, WRITE},

	/* Topics: the queue handlers, on the topics' storage (see the top). */
	{V2, HUB_GET, "/topics", hub_queues_list, READ},
	{V2, HUB_GET, "/topics/{topic}", hub_queue_get, READ},
	{V2, HUB_PUT, "/topics/{topic}", hub_queue_put, WRITE_META},
	{V2, HUB_PATCH, "/topics/{topic}", hub_queue_patch, WRITE_META},
	{V2, HUB_DELETE, "/topics/{topic}", hub_queue_delete, WRITE},
	{V2, HUB_GET, "/topics/{topic}/stats", hub_topic_stats, READ},
	{V2, HUB_POST, "/topics/{topic}/purge", hub_queue_purge, WRITE},
	{V2, HUB_POST, "/topics/{topic}/messages", hub_messages_post,
	 PUBLISH},
	{V2, HUB_GET, "/topics/{topic}/messages", hub_messages_get, READ},
	{V2, HUB_DELETE, "/topics/{topic}/messages", hub_messages_delete,
	 CONSUME},
	{V2, HUB_POST, "/topics/{topic}/subscriptions", hub_subscriptions_post,
	 WRITE},
	{V2, HUB_GET, "/topics/{topic}/subscriptions", hub_subscriptions_get,
	 READ},
	{V2, HUB_GET, "/topics/{topic}/subscriptions/{id}",
	 hub_subscription_get, READ},
	{V2, HUB_PATCH, "/topics/{topic}/subscriptions/{id}",
	 hub_subscription_patch, WRITE},
	{V2, HUB_DELETE, "/topics/{topic}/subscriptions/{id}",
	 hub_subscription_delete, WRITE},
	{V2, HUB_PUT, "/topics/{topic}/subscriptions/{id}/confirm",
	 hub_subscription_confirm, WRITE},
	{V2, HUB_GET, "/topics/{topic}/messages/{id}", hub_message_get, READ},
	{V2, HUB_DELETE, "/topics/{topic}/messages/{id}", hub_message_delete,
	 CONSUME},
};

/* An unknown path: JSON only (its 404 is JSON), the default body cap. */
static const struct hub_route_attrs no_route_attrs = OPEN;

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

/*
 * Where topics live. A topic is stored as a queue of the same name in a
 * project of its own: TOPIC_NS followed by the caller's project. No caller
 * can name that project - a project id may hold no control character
 * (hub_project_ok(), checked by every transport) - so
 *   - a topic is never reachable as a queue, and no queue as a topic:
 *     /v2/queues lists and counts the project's queues only;
 *   - a topic never collides with a queue of its name, and is private to
 *     its project exactly as a queue is (the mapping is one-to-one);
 *   - everything feed does for a queue - TTL, delays, compaction, stats,
 *     idempotency keys, live waits - it does for a topic, unchanged.
 * "\x01" starts the health check's project (api/home.c), hence "\x02".
 * The byte it costs leaves topics to projects of up to FEED_PROJECT_MAX -
 * 1 bytes (Zaqar takes FEED_PROJECT_MAX): a longer one is refused.
 */
#define TOPIC_NS '\x02'

bool hub_topic_storage(const char *project, char out[FEED_PROJECT_MAX + 1])
{
	size_t len = strlen(project);

	if (len >= FEED_PROJECT_MAX)
		return false;
	out[0] = TOPIC_NS;
	memcpy(out + 1, project, len + 1);
	return true;
}

const char *hub_topic_project(const char *storage)
{
	return storage[0] == TOPIC_NS ? storage + 1 : NULL;
}

/* Whether a row's pattern is under /topics. */
static bool pattern_topic(const char *pattern)
{
	return strncmp(pattern, "/topics", 7) == 0 &&
	       (pattern[7] == '/' || pattern[7] == '\0');
}

/*
 * Matching. A path is split into its segments once per lookup, and each
 * row's pattern once per process (its shape); a row is then compared only
 * when its number of segments is the path's, a segment at a time. (The
 * lookup scanned every row's pattern and the path again per row before:
 * 4 % of a GET.)
 */
#define SEG_MAX 8 /* more than any pattern has; a longer path matches none */
#define ROWS (sizeof(routes) / sizeof(*routes))

enum seg_kind { SEG_LITERAL, SEG_QUEUE, SEG_ID };

struct seg {
	const char *s; /* after its slash */
	size_t len;
	enum seg_kind kind;
};

struct shape {
	int n;
	struct seg seg[SEG_MAX];
};

static struct shape shapes[ROWS];
static pthread_once_t shapes_once = PTHREAD_ONCE_INIT;

/* Splits "/a/b/" into "a", "b", "": the count, or -1 when p is not a
 * path or has more than SEG_MAX segments. "" has none. */
static int split(const char *p, struct seg *out)
{
	int n = 0;

	while (*p) {
		const char *end;

		if (*p != '/' || n == SEG_MAX)
			return -1;
		end = strchr(p + 1, '/');
		if (!end)
			end = p + strlen(p);
		out[n].s = p + 1;
		out[n].len = (size_t)(end - p - 1);
		out[n].kind = SEG_LITERAL;
		n++;
		p = end;
	}
	return n;
}

static void shapes_init(void)
{
	for (size_t i = 0; i < ROWS; i++) {
		struct shape *sh = &shapes[i];

		sh->n = split(routes[i].pattern, sh->seg);
		if (sh->n < 0)
			abort(); /* a pattern the table should not have */
		for (int j = 0; j < sh->n; j++) {
			struct seg *g = &sh->seg[j];

			if ((g->len == 7 && !memcmp(g->s, "{queue}", 7)) ||
			    (g->len == 7 && !memcmp(g->s, "{topic}", 7)))
				g->kind = SEG_QUEUE;
			else if (g->len == 4 && !memcmp(g->s, "{id}", 4))
				g->kind = SEG_ID;
		}
	}
}

/* A path split once, and whether each segment is a good queue name (-1:
 * not looked at yet). */
struct split_path {
	int n;
	struct seg seg[SEG_MAX];
	signed char name_ok[SEG_MAX];
};

/*
 * Matches the path against a row's shape. On a match fills m's queue and
 * id (a queue or topic segment failing the name rule sets m->bad_queue:
 * the route matches, the request is refused).
 */
static bool match(const struct shape *sh, struct split_path *sp,
		  struct hub_route_match *m)
{
	m->queue[0] = m->id[0] = '\0';
	m->bad_queue = false;
	if (sh->n != sp->n)
		return false;
	for (int i = 0; i < sh->n; i++) {
		const struct seg *pat = &sh->seg[i], *g = &sp->seg[i];

		switch (pat->kind) {
		case SEG_LITERAL:
			if (pat->len != g->len || memcmp(pat->s, g->s, g->len))
				return false;
			break;
		case SEG_QUEUE:
			if (g->len == 0)
				return false;
			if (sp->name_ok[i] < 0)
				sp->name_ok[i] = hub_queue_name_ok(g->s, g->len);
			if (!sp->name_ok[i]) {
				m->bad_queue = true;
			} else {
				memcpy(m->queue, g->s, g->len);
				m->queue[g->len] = '\0';
			}
			break;
		case SEG_ID:
			if (g->len == 0 || g->len >= sizeof(m->id))
				return false;
			memcpy(m->id, g->s, g->len);
			m->id[g->len] = '\0';
			break;
		}
	}
	return true;
}

/* Splits the version prefix off the path: the rest of it. */
static const char *split_version(const char *path, struct hub_route_match *m)
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

		if (strncmp(path, versions[i].prefix, n) == 0 &&
		    (path[n] == '/' || path[n] == '\0')) {
			m->version = versions[i].version;
			m->prefix = versions[i].prefix;
			/* "/v2" alone (no slash) needs no Client-ID. */
			m->client_id_required = path[n] == '/' &&
						versions[i].version != HUB_V1;
			return path[n] ? path + n : "/";
		}
	}
	m->version = 0;
	m->prefix = "";
	m->client_id_required = false;
	return path;
}

void hub_route_lookup(enum hub_method method, const char *path,
		      struct hub_route_match *m)
{
	const char *rest = split_version(path, m);
	struct hub_route_match q;
	struct split_path sp;

	m->route = NULL;
	m->allowed = 0;
	m->attrs = &no_route_attrs;
	m->queue[0] = m->id[0] = '\0';
	m->bad_queue = false;
	m->topic = false;
	pthread_once(&shapes_once, shapes_init);
	sp.n = split(rest, sp.seg);
	if (sp.n < 0)
		return; /* no row has it: 404 */
	memset(sp.name_ok, -1, sizeof(sp.name_ok));
	for (size_t i = 0; i < ROWS; i++) {
		const struct hub_route *rt = &routes[i];

		if (m->version ? !(rt->versions & m->version) : rt->versions)
			continue;
		if (!match(&shapes[i], &sp, &q))
			continue;
		if (!m->allowed) {
			m->attrs = &rt->attrs; /* the path's first row */
			m->topic = pattern_topic(rt->pattern);
		}
		m->allowed |= 1u << rt->method;
		if (rt->method == method && !m->route) {
			m->route = rt;
			m->attrs = &rt->attrs;
			memcpy(m->queue, q.queue, sizeof(m->queue));
			memcpy(m->id, q.id, sizeof(m->id));
			m->bad_queue = q.bad_queue;
		}
	}
}

void hub_route_refuse_name(struct hub_req *r, bool topic)
{
	if (topic)
		hub_reply_error(r, 400, "Invalid topic identification",
				"The format of the submitted topic name or "
				"project id is not valid.");
	else
		hub_reply_error(r, 400, "Invalid queue identification",
				"The format of the submitted queue name or "
				"project id is not valid.");
}

/*
 * Puts r on the topics' storage: r->project becomes the storage project,
 * the project sent is kept in r->project_sent. A request run again (a
 * held long-poll) is already mapped: mapped from what was sent, always.
 * False when the project is too long for topics.
 */
static bool topic_map(struct hub_req *r)
{
	const char *sent = r->topic ? r->project_sent : r->project;

	if (!hub_topic_storage(sent, r->project_buf))
		return false;
	r->topic = true;
	r->project_sent = sent;
	r->project = r->project_buf;
	return true;
}

void hub_route_dispatch(struct hub_req *r, const struct hub_route_match *m)
{
	char allow[128] = "";

	r->version = m->version;
	r->prefix = m->prefix;
	if (!m->allowed) {
		hub_reply_error(r, 404, "404 Not Found", NULL);
		return;
	}
	for (int i = 0; i < HUB_OPTIONS; i++) {
		if (!(m->allowed & (1u << i)))
			continue;
		strcat(allow, method_names[i]);
		strcat(allow, ", ");
	}
	strcat(allow, "OPTIONS");
	if (r->method == HUB_OPTIONS) {
		hub_header(r, "Allow", "%s", allow);
		hub_reply(r, 200, NULL);
		return;
	}
	if (!m->route) {
		hub_header(r, "Allow", "%s", allow);
		hub_reply_error(r, 405, "405 Method Not Allowed", NULL);
		return;
	}
	if (m->bad_queue || strlen(r->project) > FEED_PROJECT_MAX ||
	    (m->topic && !topic_map(r))) {
		hub_route_refuse_name(r, m->topic);
		return;
	}
	/* The URL's name, as the balancer hashed it (a topic's too). */
	if (m->queue[0] && !hub_cluster_route(r, m->queue))
		return;
	/* A write to a shard moving away (move.h): 503, retry. */
	if (m->queue[0] && !hub_move_route(r, m->queue))
		return;
	memcpy(r->queue_buf, m->queue, sizeof(r->queue_buf));
	memcpy(r->id_buf, m->id, sizeof(r->id_buf));
	r->queue = m->queue[0] ? r->queue_buf : NULL;
	r->id = m->id[0] ? r->id_buf : NULL;
	m->route->handler(r);
}

void hub_route(struct hub_req *r)
{
	struct hub_route_match m;

	hub_route_lookup(r->method, r->path, &m);
	hub_route_dispatch(r, &m);
}

size_t hub_route_index(const struct hub_route *rt)
{
	return (size_t)(rt - routes);
}

void hub_route_row(size_t i, const char **pattern, enum hub_method *method,
		   unsigned *versions)
{
	*pattern = routes[i].pattern;
	*method = routes[i].method;
	*versions = routes[i].versions;
}

size_t hub_route_count(void)
{
	return sizeof(routes) / sizeof(*routes);
}

/* ------------------------------------------------------------ attributes */

size_t hub_route_body_max(const struct hub_route_attrs *a,
			  const struct hub_limits *l)
{
	switch (a->body) {
	case HUB_BODY_MESSAGES:
		return l->max_messages_post_size;
	case HUB_BODY_METADATA:
		return l->max_queue_metadata > HUB_BODY_DEFAULT_MAX
			       ? l->max_queue_metadata
			       : HUB_BODY_DEFAULT_MAX;
	case HUB_BODY_SHARD:
		return HUB_BODY_SHARD_MAX;
	default:
		return HUB_BODY_DEFAULT_MAX;
	}
}

void hub_route_refuse_body(struct hub_req *r, const struct hub_route_attrs *a)
{
	const struct hub_limits *l = &r->cfg->limits;

	switch (a->body) {
	case HUB_BODY_MESSAGES:
		hub_reply_error(r, 400, "Invalid API request",
				"Message collection size is too large. Max "
				"size %u", l->max_messages_post_size);
		break;
	case HUB_BODY_METADATA:
		hub_reply_error(r, 400, r->method == HUB_PUT
					       ? "Invalid API request"
					       : "Invalid request body",
				"Queue metadata is too large. Max size: %u",
				l->max_queue_metadata);
		break;
	default:
		hub_reply_error(r, 400, "Invalid API request",
				"Request body is too large. Max size %zu",
				hub_route_body_max(a, l));
		break;
	}
}

bool hub_route_accepts(const struct hub_route_attrs *a, const char *accept)
{
	if (strstr(accept, "application/json") || strstr(accept, "*/*") ||
	    strstr(accept, "application/*"))
		return true;
	if (a->media & HUB_MEDIA_ANY)
		return true;
	if ((a->media & HUB_MEDIA_SSE) && strstr(accept, "text/event-stream"))
		return true;
	if ((a->media & HUB_MEDIA_ATOM) &&
	    (strstr(accept, "application/atom+xml") ||
	     strstr(accept, "application/xml") || strstr(accept, "text/xml")))
		return true;
	if ((a->media & HUB_MEDIA_RSS) &&
	    (strstr(accept, "application/rss+xml") ||
	     strstr(accept, "application/xml") || strstr(accept, "text/xml")))
		return true;
	if ((a->media & HUB_MEDIA_JSONFEED) &&
	    strstr(accept, "application/feed+json"))
		return true;
	return (a->media & HUB_MEDIA_HTML) && strstr(accept, "text/html");
}
