/*
 * home.c - the routes around the queues: the versions document, the
 * json-home documents, ping and health. Pre-signed URLs (share and the
 * URL-Signature check) are share.c's.
 *
 * Home documents
 * --------------
 * Generated with jansson from one table, home_rows[]: one row per
 * resource and per set of versions, in the order Zaqar lists them, so
 * a resource is named once and each version's document only lists the
 * routes Herald serves under that prefix. Rel names, href templates and
 * hints are Zaqar's (zaqar-api.md §6.8, transcripts/homedoc_*.json) with
 * two kinds of change:
 *   - left out: subscriptions, pools and flavors (Herald has no such
 *     routes), and rel/queue_share when no signing key is configured
 *     (the route could then only answer 400);
 *   - fixed: message_delete's template is {?claim_id}, the parameter the
 *     route reads, where Zaqar's says {?claim}.
 * rel/health is listed: Herald always serves health (to admins), where
 * Zaqar only does in admin_mode.
 *
 * Health
 * ------
 * /v1/health is Zaqar v1's liveness probe (204), and so is Herald's own
 * unversioned /health (for load balancers). /v1.1 and /v2 health answer
 * Zaqar's report - storage_reachable and, per operation of Zaqar's
 * cycle (create a queue, post, claim, list, delete, release, bulk-delete,
 * drop the queue), succeeded / seconds / ref - but WITHOUT running the
 * cycle: Zaqar's writes a queue, 100 messages and about 8 commits per
 * call, a load amplifier for anyone who may call it. Here a call only
 * reads, and costs one short read transaction:
 *   - list_messages: the read transaction succeeded, and its time;
 *   - the writes: storage answered, the writer's last group commit
 *     succeeded (or none ran yet), and - for those that add data, create,
 *     post and claim - the map is not full; seconds is that last commit's
 *     duration (fsync included), what a write waits for.
 * The read probes a queue of a reserved project whose name starts with
 * a control character that an HTTP header cannot carry (route.c keeps
 * "\x01" for it), so no client's queue is touched.
 *
 * Threads: everything here runs on the loop thread.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metrics.h"
#include "req.h"
#include "api/api.h"
#include "api/gather.h"

/* ------------------------------------------------------------- versions */

static const struct {
	const char *id, *status, *updated, *type, *href;
} versions[] = {
	{ "1", "DEPRECATED", "2014-9-11T17:47:05Z",
	  "application/vnd.openstack.messaging-v1+json", "/v1/" },
	{ "1.1", "DEPRECATED", "2016-7-29T02:22:47Z",
	  "application/vnd.openstack.messaging-v1_1+json", "/v1.1/" },
	{ "2", "CURRENT", "2014-9-24T04:06:47Z",
	  "application/vnd.openstack.messaging-v2+json", "/v2/" },
};

void hub_get_versions(struct hub_req *r)
{
	json_t *list;

	/* A browser asks for HTML: it gets the dashboard, API clients the
	 * versions document. */
	if (hub_web_wanted(r)) {
		hub_web_index(r);
		return;
	}
	list = json_array();
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++)
		json_array_append_new(list, json_pack(
			"{s:s, s:s, s:s, s:[{s:s, s:s}], s:[{s:s, s:s}]}",
			"id", versions[i].id, "status", versions[i].status,
			"updated", versions[i].updated,
			"media-types", "base", "application/json",
			"type", versions[i].type,
			"links", "href", versions[i].href, "rel", "self"));
	hub_reply(r, 300, json_pack("{s:o}", "versions", list));
}

/* ------------------------------------------------------- home documents */

enum {
	HOME_POST = 1u << 0,  /* hints carry accept-post */
	HOME_HREF = 1u << 1,  /* a plain "href" (no template, no vars) */
	HOME_SHARE = 1u << 2, /* only when pre-signed URLs are on */
};

#define V1 HUB_V1
#define V11 HUB_V1_1
#define V2 HUB_V2

/*
 * path follows the version prefix; vars is "name=param/x,..." (NULL: no
 * href-vars); allow is a comma list.
 */
static const struct home_row {
	unsigned versions;
	const char *rel, *path, *vars, *allow;
	unsigned flags;
} home_rows[] = {
	{ V1 | V11 | V2, "rel/queues", "/queues{?marker,limit,detailed}",
	  "marker=param/marker,limit=param/queue_limit,"
	  "detailed=param/detailed", "GET", 0 },
	{ V1, "rel/queue", "/queues/{queue_name}",
	  "queue_name=param/queue_name", "GET,HEAD,PUT,DELETE", 0 },
	{ V11, "rel/queue", "/queues/{queue_name}",
	  "queue_name=param/queue_name", "PUT,DELETE", 0 },
	{ V2, "rel/queue", "/queues/{queue_name}",
	  "queue_name=param/queue_name", "GET,PUT,DELETE,PATCH", 0 },
	{ V1, "rel/queue-metadata", "/queues/{queue_name}/metadata",
	  "queue_name=param/queue_name", "GET,PUT", 0 },
	{ V1, "rel/queue-stats", "/queues/{queue_name}/stats",
	  "queue_name=param/queue_name", "GET", 0 },
	{ V11 | V2, "rel/queue_stats", "/queues/{queue_name}/stats",
	  "queue_name=param/queue_name", "GET", 0 },
	{ V2, "rel/queue_share", "/queues/{queue_name}/share",
	  "queue_name=param/queue_name", "POST", HOME_POST | HOME_SHARE },
	{ V2, "rel/queue_purge", "/queues/{queue_name}/purge",
	  "queue_name=param/queue_name", "POST", HOME_POST },
	{ V1 | V11 | V2, "rel/messages",
	  "/queues/{queue_name}/messages{?marker,limit,echo,include_claimed}",
	  "queue_name=param/queue_name,marker=param/marker,"
	  "limit=param/messages_limit,echo=param/echo,"
	  "include_claimed=param/include_claimed", "GET", 0 },
	{ V1, "rel/post-messages", "/queues/{queue_name}/messages",
	  "queue_name=param/queue_name", "POST", HOME_POST },
	{ V11 | V2, "rel/post_messages", "/queues/{queue_name}/messages",
	  "queue_name=param/queue_name", "POST", HOME_POST },
	{ V11 | V2, "rel/messages_delete",
	  "/queues/{queue_name}/messages{?ids,pop}",
	  "queue_name=param/queue_name,ids=param/ids,pop=param/pop",
	  "DELETE", 0 },
	{ V11 | V2, "rel/message_delete",
	  "/queues/{queue_name}/messages/{message_id}{?claim_id}",
	  "queue_name=param/queue_name,message_id=param/message_id,"
	  "claim_id=param/claim_id", "DELETE", 0 },
	{ V2, "rel/message_get", "/queues/{queue_name}/messages/{message_id}",
	  "queue_name=param/queue_name,message_id=param/message_id",
	  "GET", 0 },
	/* v1 names the claim-creating resource rel/claim. */
	{ V1, "rel/claim", "/queues/{queue_name}/claims{?limit}",
	  "queue_name=param/queue_name,limit=param/claim_limit",
	  "POST", HOME_POST },
	{ V11 | V2, "rel/claim", "/queues/{queue_name}/claims/{claim_id}",
	  "queue_name=param/queue_name,claim_id=param/claim_id", "GET", 0 },
	{ V11 | V2, "rel/post_claim", "/queues/{queue_name}/claims{?limit}",
	  "queue_name=param/queue_name,limit=param/claim_limit",
	  "POST", HOME_POST },
	{ V11 | V2, "rel/patch_claim",
	  "/queues/{queue_name}/claims/{claim_id}",
	  "queue_name=param/queue_name,claim_id=param/claim_id",
	  "PATCH", HOME_POST },
	{ V11 | V2, "rel/delete_claim",
	  "/queues/{queue_name}/claims/{claim_id}",
	  "queue_name=param/queue_name,claim_id=param/claim_id",
	  "DELETE", 0 },
	{ V11 | V2, "rel/ping", "/ping", NULL, "GET", 0 },
	{ V11 | V2, "rel/health", "/health", NULL, "GET", HOME_HREF },
};

#undef V1
#undef V11
#undef V2

/* Splits a comma list into a JSON array of strings (new reference). */
static json_t *home_list(const char *list)
{
	json_t *a = json_array();

	while (*list) {
		size_t n = strcspn(list, ",");

		json_array_append_new(a, json_stringn(list, n));
		list += n + (list[n] == ',');
	}
	return a;
}

/* One resource of a home document (new reference). */
static json_t *home_resource(const struct home_row *row, const char *prefix)
{
	json_t *res = json_object();
	json_t *hints = json_object();
	size_t plen = strlen(prefix) + strlen(row->path) + 1;
	char *href = malloc(plen);

	if (href) {
		snprintf(href, plen, "%s%s", prefix, row->path);
		json_object_set_new(res, row->flags & HOME_HREF ?
				    "href" : "href-template",
				    json_string(href));
		free(href);
	}
	if (row->vars) {
		json_t *vars = json_object();
		const char *v = row->vars;

		while (*v) {
			size_t n = strcspn(v, ",");
			size_t k = strcspn(v, "=");
			char name[64];

			if (k < n && k < sizeof(name)) {
				memcpy(name, v, k);
				name[k] = '\0';
				json_object_set_new(vars, name,
					json_stringn(v + k + 1, n - k - 1));
			}
			v += n + (v[n] == ',');
		}
		json_object_set_new(res, "href-vars", vars);
	}
	json_object_set_new(hints, "allow", home_list(row->allow));
	json_object_set_new(hints, "formats",
			    json_pack("{s:{}}", "application/json"));
	if (row->flags & HOME_POST)
		json_object_set_new(hints, "accept-post",
				    json_pack("[s]", "application/json"));
	json_object_set_new(res, "hints", hints);
	return res;
}

void hub_get_home(struct hub_req *r)
{
	json_t *resources = json_object();
	json_t *doc;
	char *text;

	for (size_t i = 0; i < sizeof(home_rows) / sizeof(home_rows[0]); i++) {
		const struct home_row *row = &home_rows[i];

		if (!(row->versions & r->version))
			continue;
		if ((row->flags & HOME_SHARE) && !r->cfg->signing_key[0])
			continue;
		json_object_set_new(resources, row->rel,
				    home_resource(row, r->prefix));
	}
	doc = json_pack("{s:o}", "resources", resources);
	/* Indented as Zaqar's json.dumps(indent=4): same bytes. */
	text = doc ? json_dumps(doc, JSON_INDENT(4)) : NULL;
	json_decref(doc);
	if (!text) {
		hub_reply_error(r, 500, "Internal server error",
				"Out of memory.");
		return;
	}
	hub_header(r, "Cache-Control", "max-age=86400");
	hub_reply_raw(r, 200, "application/json-home", text, strlen(text));
	free(text);
}

/* ----------------------------------------------------------- ping, health */

/* The reserved project of health checks (see the top of the file). */
#define HEALTH_PROJECT "\x01herald-health"
#define HEALTH_QUEUE "health"

/* Whether storage answers a read: one short read transaction. */
static bool storage_alive(feed_t *feed)
{
	bool exists;

	return feed_queue_exists(feed, HEALTH_PROJECT, HEALTH_QUEUE,
				 &exists) == 0;
}

static void reply_unavailable(struct hub_req *r)
{
	hub_reply_error(r, 503, "Service temporarily unavailable",
			"Storage is not reachable. "
			"Please try again in a few seconds.");
}

void hub_upgrade_required(struct hub_req *r)
{
	hub_header(r, "Upgrade", "websocket");
	hub_reply_error(r, 426, "Upgrade Required",
			"This URL speaks WebSocket: connect with a WebSocket "
			"client (Connection: Upgrade, Upgrade: websocket).");
}

void hub_ping(struct hub_req *r)
{
	if (r->method == HUB_GET && !storage_alive(r->feed)) {
		reply_unavailable(r);
		return;
	}
	hub_reply(r, 204, NULL);
}

/* Zaqar's operation names, in Zaqar's order. */
enum health_op {
	OP_CREATE_QUEUE,
	OP_POST_MESSAGES,
	OP_CLAIM_MESSAGES,
	OP_LIST_MESSAGES,
	OP_DELETE_MESSAGES,
	OP_DELETE_CLAIM,
	OP_BULK_DELETE,
	OP_DELETE_QUEUE,
	OP_COUNT
};

static const char *const health_op_names[OP_COUNT] = {
	"create_queue", "post_messages", "claim_messages", "list_messages",
	"delete_messages", "delete_claim", "bulk_delete_messages",
	"delete_queue",
};

/* The operations that add data: they fail once the map is full, where
 * deletes and releases go on (feed.h, max_map_size). */
static bool op_adds(enum health_op op)
{
	return op == OP_CREATE_QUEUE || op == OP_POST_MESSAGES ||
	       op == OP_CLAIM_MESSAGES;
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) +
	       (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* One entry of operation_status (new reference). */
static json_t *health_op(bool succeeded, double seconds)
{
	return json_pack("{s:b, s:f, s:n}", "succeeded", succeeded, "seconds",
			 seconds, "ref");
}

/* Reads only (see the top): a timed read transaction for the reads, the
 * writer's last group commit for the writes, the map for room. */
static json_t *health_body(struct hub_req *r)
{
	struct hub_metrics_commit last;
	feed_env_info_t info = {0};
	struct timespec t0;
	json_t *status = json_object();
	bool reachable, writes_ok, full;
	double read_s, write_s;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	reachable = storage_alive(r->feed) &&
		    feed_env_info(r->feed, &info) == 0;
	read_s = seconds_since(&t0);
	hub_metrics_last_commit(&last);
	writes_ok = reachable && (last.commits == 0 || last.last_rc == 0);
	full = info.used_bytes >= info.max_map_size;
	write_s = (double)last.last_ns / 1e9;
	for (int i = 0; i < OP_COUNT; i++) {
		bool ok = i == OP_LIST_MESSAGES
				  ? reachable
				  : writes_ok && !(full && op_adds(i));

		json_object_set_new(status, health_op_names[i],
				    health_op(ok, i == OP_LIST_MESSAGES
							  ? read_s
							  : write_s));
	}
	return json_pack("{s:b, s:o}", "storage_reachable", reachable,
			 "operation_status", status);
}

/* A cluster's report (api/gather.h): reachable when every node's storage
 * is, each operation succeeded when it did on every node, in the slowest
 * node's seconds. */
static void health_gathered(struct hub_req *r, json_t *const *answers,
			    size_t n, void *ctx)
{
	json_t *body = ctx, *status = json_object_get(body,
						       "operation_status");
	bool reachable = json_is_true(json_object_get(body,
						      "storage_reachable"));

	for (size_t i = 0; i < n; i++) {
		json_t *theirs = json_object_get(answers[i],
						 "operation_status");

		reachable &= json_is_true(json_object_get(answers[i],
							  "storage_reachable"));
		for (int op = 0; op < OP_COUNT; op++) {
			json_t *mine = json_object_get(status,
						       health_op_names[op]);
			json_t *t = json_object_get(theirs,
						    health_op_names[op]);
			double ms = json_number_value(json_object_get(mine,
								      "seconds"));
			double ts = json_number_value(json_object_get(t,
								      "seconds"));
			bool ok = json_is_true(json_object_get(mine,
							       "succeeded")) &&
				  json_is_true(json_object_get(t, "succeeded"));

			json_object_set_new(status, health_op_names[op],
					    health_op(ok, ms > ts ? ms : ts));
		}
	}
	json_object_set_new(body, "storage_reachable", json_boolean(reachable));
	hub_reply(r, 200, json_incref(body));
}

static void body_free(void *body)
{
	json_decref(body);
}

static void health_report(struct hub_req *r)
{
	json_t *body = health_body(r);

	if (body && hub_gather_wanted(r)) {
		hub_gather(r, r->path, health_gathered, body, body_free);
		return;
	}
	hub_reply(r, 200, body);
}

void hub_health(struct hub_req *r)
{
	if (r->version == HUB_V1 || r->version == 0) {
		/* v1's health, and Herald's unversioned /health, are
		 * liveness probes like ping. */
		hub_ping(r);
		return;
	}
	/* Zaqar 15 enforces the admin role (policy health:get) on v2's
	 * health only: its route needs HUB_AUTH_ADMIN, which the auth
	 * layer checked (auth.c); v1.1's resource has no policy check. */
	health_report(r);
}
