/*
 * shards.c - moving a shard between cluster nodes: the admin endpoints a
 * move is made of (a Herald extension, docs/api.md; the whole procedure,
 * driven by `herald cluster move`, in docs/scale.md).
 *
 *   POST /v2/cluster/shards/S/freeze   (on A) writes to S refused with 503
 *        from now (move.h); answers once the writer has passed a barrier,
 *        so nothing of S commits here after: S's queues and A's next
 *        generation
 *   GET  /v2/cluster/shards/S/queues   S's queues here, whether frozen
 *   POST /v2/cluster/shards/S/export   {"project", "queue"} -> the queue
 *        as a blob, base64 (feed_queue_export); only while no write to
 *        S can commit here: S frozen, or not this node's
 *   POST /v2/cluster/shards/S/import   (on B) {"blob"} -> 201 the queue
 *        written whole (feed_queue_import): 409 when the name exists,
 *        400 for a malformed blob or one of another shard
 *   POST /v2/cluster/generation        {"at_least": N}: B's generations
 *        after A's (feed.h, "Moving a queue")
 *   POST /v2/cluster/map/reload        the map file read again (SIGHUP's)
 *   POST /v2/cluster/shards/S/drop     (on A, once the map gives S to
 *        another node, and while S is frozen here - or ?force=true)
 *        deletes every queue of S here
 *   POST /v2/cluster/shards/S/thaw     writes to S taken again
 *
 * Every write goes through the writer, as every write does; the reads
 * (listing, export) run on the loop thread, as reads do. Admin only
 * (route.c: HUB_AUTH_ADMIN).
 */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "cluster.h"
#include "live/hooks.h"
#include "live/wait.h"
#include "move.h"
#include "writer.h"

/* The shard of the URL, or false after a 404. */
static bool shard_of(struct hub_req *r, unsigned *s)
{
	char *end;
	unsigned long v;

	if (r->id && r->id[0] >= '0' && r->id[0] <= '9') {
		v = strtoul(r->id, &end, 10);
		if (!*end && v < HUB_SHARDS) {
			*s = (unsigned)v;
			return true;
		}
	}
	hub_reply_error(r, 404, "Not Found", "Shards are numbered 0 to %u.",
			HUB_SHARDS - 1);
	return false;
}

/* ------------------------------------------------------------- listing */

struct list_ctx {
	unsigned shard;
	json_t *queues;
	bool bad; /* a project jansson cannot hold (not UTF-8) */
};

static int list_one(const char *project, const char *name, void *arg)
{
	struct list_ctx *c = arg;
	json_t *p;

	if (hub_cluster_shard(name, strlen(name)) != c->shard)
		return 0;
	p = json_string(project);
	if (!p) {
		c->bad = true;
		return 0;
	}
	json_array_append_new(c->queues, json_pack("{s:o, s:s}", "project", p,
						   "queue", name));
	return 0;
}

/* {"shard", "node", "owner", "frozen", "next_generation", "queues":
 * [{"project", "queue"}...]}: a new reference, or NULL after replying. */
static json_t *shard_state(struct hub_req *r, feed_t *feed, unsigned s)
{
	struct list_ctx c = {s, json_array(), false};
	char owner[HUB_NODE_MAX] = "";
	uint64_t next = 0;
	int rc = feed_queue_scan(feed, list_one, &c);

	if (rc == 0)
		rc = feed_generation_next(feed, &next);
	if (rc) {
		json_decref(c.queues);
		hub_reply_feed_error(r, rc, NULL);
		return NULL;
	}
	if (c.bad) {
		json_decref(c.queues);
		hub_reply_error(r, 409, "Conflict", "Shard %u has a queue of a "
				"project whose id is not UTF-8: it cannot be "
				"listed in JSON, so this shard cannot be moved "
				"by this API.", s);
		return NULL;
	}
	hub_cluster_shard_owner(s, owner);
	return json_pack("{s:I, s:s, s:s, s:b, s:I, s:o}", "shard",
			 (json_int_t)s, "node", hub_cluster_self(), "owner",
			 owner, "frozen", hub_move_frozen(s),
			 "next_generation", (json_int_t)next, "queues",
			 c.queues);
}

void hub_shard_queues(struct hub_req *r)
{
	unsigned s;
	json_t *st;

	if (shard_of(r, &s) && (st = shard_state(r, r->feed, s)))
		hub_reply(r, 200, st);
}

/* -------------------------------------------------------------- freeze */

struct shard_job {
	unsigned shard;
	feed_t *feed;
	struct hub_hooks *hooks;
	struct hub_subs *subs;
	void *blob;        /* import */
	size_t blob_len;
	uint64_t at_least; /* generation */
	char project[FEED_PROJECT_MAX + 1], queue[FEED_NAME_MAX + 1];
	json_t *queues;    /* drop: [{"project", "queue"}] */
	size_t dropped;
};

static struct shard_job *job_new(struct hub_req *r, unsigned s)
{
	struct shard_job *j = calloc(1, sizeof(*j));

	if (!j) {
		hub_reply_feed_error(r, FEED_ENOMEM, NULL);
		return NULL;
	}
	j->shard = s;
	j->feed = r->feed;
	j->hooks = r->hooks;
	j->subs = r->subs;
	return j;
}

static void job_free(struct shard_job *j)
{
	free(j->blob);
	json_decref(j->queues);
	free(j);
}

/* Writes nothing: that it ran means every job before it is done. */
static int barrier_run(feed_txn_t *txn, void *ctx, uint64_t now_ms)
{
	(void)txn;
	(void)ctx;
	(void)now_ms;
	return 0;
}

static void freeze_done(struct hub_req *r, void *ctx, int rc)
{
	struct shard_job *j = ctx;
	json_t *st;

	if (r && rc)
		hub_reply_feed_error(r, rc, NULL);
	else if (r && (st = shard_state(r, j->feed, j->shard)))
		hub_reply(r, 200, st);
	job_free(j);
}

void hub_shard_freeze(struct hub_req *r)
{
	char owner[HUB_NODE_MAX] = "";
	struct shard_job *j;
	unsigned s;

	if (!shard_of(r, &s))
		return;
	if (!hub_cluster_on()) {
		hub_reply_error(r, 409, "Conflict", "This server is no node of "
				"a cluster (--node, --cluster-map): it has no "
				"shard to move.");
		return;
	}
	if (!hub_cluster_shard_owner(s, owner)) {
		hub_reply_error(r, 409, "Conflict", "Shard %u is node %s's, "
				"not this node's (%s): freeze it where it is.",
				s, owner, hub_cluster_self());
		return;
	}
	if (!(j = job_new(r, s)))
		return;
	/* The bit first, then the barrier: every job the writer takes
	 * after it sees the bit (move.c). */
	hub_move_freeze(s, true);
	hub_defer(r, barrier_run, freeze_done, j);
}

void hub_shard_thaw(struct hub_req *r)
{
	unsigned s;

	if (!shard_of(r, &s))
		return;
	hub_move_freeze(s, false);
	hub_reply(r, 200, json_pack("{s:I, s:b}", "shard", (json_int_t)s,
				    "frozen", 0));
}

/* -------------------------------------------------------------- export */

/* The body's string member `name` (borrowed), or NULL after a 400. */
static const char *body_string(struct hub_req *r, json_t *body,
			       const char *name)
{
	const char *v = json_string_value(json_object_get(body, name));

	if (!v)
		hub_reply_error(r, 400, "Invalid request body", "\"%s\": a "
				"string is required.", name);
	return v;
}

void hub_shard_export(struct hub_req *r)
{
	char owner[HUB_NODE_MAX] = "";
	const char *project, *queue;
	json_t *body;
	void *blob = NULL;
	size_t len = 0;
	char *text;
	unsigned s;
	int rc;

	if (!shard_of(r, &s) || !(body = hub_body_json(r, JSON_OBJECT)))
		return;
	if (!(project = body_string(r, body, "project")) ||
	    !(queue = body_string(r, body, "queue")))
		goto out;
	if (hub_cluster_shard(queue, strlen(queue)) != s) {
		hub_reply_error(r, 400, "Invalid request body", "Queue %s is "
				"not in shard %u.", queue, s);
		goto out;
	}
	if (!hub_move_frozen(s) && hub_cluster_shard_owner(s, owner)) {
		hub_reply_error(r, 409, "Conflict", "Shard %u takes writes "
				"here: freeze it first (POST .../freeze), so "
				"that the export holds every write.", s);
		goto out;
	}
	rc = feed_queue_export(r->feed, project, queue, &blob, &len);
	if (rc) {
		hub_reply_feed_error(r, rc, "Queue");
		goto out;
	}
	text = hub_b64_encode(blob, len);
	free(blob);
	if (!text) {
		hub_reply_feed_error(r, FEED_ENOMEM, NULL);
		goto out;
	}
	hub_reply(r, 200, json_pack("{s:s, s:s, s:I, s:s}", "project", project,
				    "queue", queue, "bytes", (json_int_t)len,
				    "blob", text));
	free(text);
out:
	json_decref(body);
}

/* -------------------------------------------------------------- import */

static int import_run(feed_txn_t *txn, void *ctx, uint64_t now_ms)
{
	struct shard_job *j = ctx;

	(void)now_ms;
	return feed_queue_import_tx(txn, j->blob, j->blob_len, j->project,
				    j->queue);
}

static void import_done(struct hub_req *r, void *ctx, int rc)
{
	struct shard_job *j = ctx;

	/* Its subscriptions are this node's to deliver now. */
	if (rc == 0)
		hub_hooks_reload(j->hooks, j->project, j->queue);
	if (r && rc == FEED_EEXISTS)
		hub_reply_error(r, 409, "Conflict", "Queue %s exists here "
				"already: nothing was written.", j->queue);
	else if (r && rc)
		hub_reply_feed_error(r, rc, "Queue");
	else if (r)
		hub_reply(r, 201, json_pack("{s:s, s:s}", "project",
					    j->project, "queue", j->queue));
	job_free(j);
}

void hub_shard_import(struct hub_req *r)
{
	struct shard_job *j = NULL;
	const char *text;
	json_t *body;
	unsigned s;
	int rc;

	if (!shard_of(r, &s) || !(body = hub_body_json(r, JSON_OBJECT)))
		return;
	if (!(text = body_string(r, body, "blob")) || !(j = job_new(r, s)))
		goto fail;
	j->blob = hub_b64_decode(text, strlen(text), &j->blob_len);
	rc = j->blob ? feed_blob_peek(j->blob, j->blob_len, j->project,
				      j->queue, NULL)
		     : FEED_EINVAL;
	if (rc) {
		hub_reply_error(r, 400, "Invalid request body", "\"blob\": %s.",
				rc == FEED_EVERSION
					? "written by a node of another "
					  "storage format or byte order"
					: "not a queue's export (base64 of "
					  "what .../export gave), or damaged");
		goto fail;
	}
	if (hub_cluster_shard(j->queue, strlen(j->queue)) != s) {
		hub_reply_error(r, 400, "Invalid request body", "The blob holds "
				"queue %s, which is not in shard %u.", j->queue,
				s);
		goto fail;
	}
	json_decref(body);
	hub_defer(r, import_run, import_done, j);
	return;
fail:
	if (j)
		job_free(j);
	json_decref(body);
}

/* ---------------------------------------------------------- generation */

static int raise_run(feed_txn_t *txn, void *ctx, uint64_t now_ms)
{
	(void)now_ms;
	return feed_generation_raise_tx(txn,
					((struct shard_job *)ctx)->at_least);
}

static void raise_done(struct hub_req *r, void *ctx, int rc)
{
	struct shard_job *j = ctx;
	uint64_t next = 0;

	if (r && rc == 0)
		rc = feed_generation_next(j->feed, &next);
	if (r && rc)
		hub_reply_feed_error(r, rc, NULL);
	else if (r)
		hub_reply(r, 200, json_pack("{s:I}", "next_generation",
					    (json_int_t)next));
	job_free(j);
}

void hub_cluster_generation(struct hub_req *r)
{
	struct shard_job *j;
	json_t *body = hub_body_json(r, JSON_OBJECT);
	long long n;

	if (!body)
		return;
	if (!hub_body_int(r, body, "at_least", true, 0, &n)) {
		json_decref(body);
		return;
	}
	json_decref(body);
	if (n < 1 || n > (1LL << 40)) {
		hub_reply_error(r, 400, "Invalid request body", "\"at_least\": "
				"1 to 2^40.");
		return;
	}
	if (!(j = job_new(r, 0)))
		return;
	j->at_least = (uint64_t)n;
	hub_defer(r, raise_run, raise_done, j);
}

void hub_cluster_map_reload(struct hub_req *r)
{
	if (!hub_cluster_on()) {
		hub_reply_error(r, 409, "Conflict", "This server is no node of "
				"a cluster: it has no map to read.");
		return;
	}
	if (hub_cluster_reload() < 0) {
		hub_reply_error(r, 500, "Internal Server Error", "The map file "
				"could not be read or is not a whole map (the "
				"log says why): the map in force stays.");
		return;
	}
	hub_reply(r, 200, json_pack("{s:s, s:b}", "node", hub_cluster_self(),
				    "reloaded", 1));
}

/* ---------------------------------------------------------------- drop */

static int drop_run(feed_txn_t *txn, void *ctx, uint64_t now_ms)
{
	struct shard_job *j = ctx;
	size_t i;
	json_t *q;
	int rc = 0;

	(void)now_ms;
	j->dropped = 0;
	json_array_foreach(j->queues, i, q) {
		rc = feed_queue_delete_tx(
			txn, json_string_value(json_object_get(q, "project")),
			json_string_value(json_object_get(q, "queue")));
		if (rc)
			break;
		j->dropped++;
	}
	return rc;
}

static void drop_done(struct hub_req *r, void *ctx, int rc)
{
	struct shard_job *j = ctx;
	size_t i;
	json_t *q;

	/* Their subscriptions go; their live streams here wake and end
	 * (sse.c), so their clients reconnect to the new owner. */
	json_array_foreach(j->queues, i, q) {
		const char *p = json_string_value(json_object_get(q, "project"));
		const char *name = json_string_value(json_object_get(q, "queue"));

		if (rc == 0)
			hub_hooks_reload(j->hooks, p, name);
		hub_notify_queue(j->subs, p, name);
	}
	if (r && rc)
		hub_reply_feed_error(r, rc, "Queue");
	else if (r)
		hub_reply(r, 200, json_pack("{s:I, s:I}", "shard",
					    (json_int_t)j->shard, "dropped",
					    (json_int_t)j->dropped));
	job_free(j);
}

void hub_shard_drop(struct hub_req *r)
{
	char owner[HUB_NODE_MAX] = "";
	struct shard_job *j;
	json_t *st;
	unsigned s;
	bool force = false;

	if (!shard_of(r, &s) || !hub_query_bool(r, "force", false, &force))
		return;
	if (hub_cluster_shard_owner(s, owner)) {
		hub_reply_error(r, 409, "Conflict", "Shard %u is still this "
				"node's in the map in force: its queues are "
				"dropped only once the map gives it to "
				"another node (and that node holds them).", s);
		return;
	}
	if (!(st = shard_state(r, r->feed, s)))
		return;
	/* The freeze lives in memory: a node that restarted after the
	 * export may have taken writes the export does not hold. Its
	 * copies stay unless the caller knows they are stale (force: a
	 * node's copies of a shard it never owned, a failed move's). */
	if (!hub_move_frozen(s) && !force &&
	    json_array_size(json_object_get(st, "queues"))) {
		json_decref(st);
		hub_reply_error(r, 409, "Conflict", "Shard %u is not frozen "
				"here: if this node restarted during the move, "
				"it may hold writes taken after the export. Its "
				"copies are kept; compare them with %s's and "
				"drop them with ?force=true.", s, owner);
		return;
	}
	if (!(j = job_new(r, s))) {
		json_decref(st);
		return;
	}
	j->queues = json_incref(json_object_get(st, "queues"));
	json_decref(st);
	hub_defer(r, drop_run, drop_done, j);
}
