/*
 * claims.c - the claim routes of v1, v1.1 and v2 (zaqar-api.md §6.6,
 * §7.3, §8, §11): create, get, renew (PATCH), release (DELETE).
 *
 *   route          v2 / v1.1                        v1
 *   POST claims    body optional: ttl, grace        body required with
 *                  default to the config (300/60)   both ttl and grace
 *                  201 {"messages": [..]} / 204     201 bare array / 204
 *   GET  claim     {"age", "ttl", "messages", "href"}        same
 *   PATCH claim    body required; ttl, grace        ttl required,
 *                  optional (300/60)                grace default 0
 *   DELETE claim   204, also for a claim that does not exist
 *
 * Checks run in Zaqar's order: the limit parameter's type, the body and
 * its field types, then ttl, limit and grace ranges (grace is not
 * range-checked on PATCH, as in Zaqar). A claim id that is not a UUID is
 * a claim that does not exist (feed answers FEED_ENOCLAIM).
 *
 * GET is a read on the loop thread; create, renew and release are writes
 * on the writer thread, with a context that owns copies of the names.
 * Over HTTP the claim id reaches the client only in Location and in the
 * messages' hrefs (?claim_id=), which python-zaqarclient parses; the
 * reply also carries it as a field (and the messages as data) for
 * WebSocket's frames.
 *
 * Dead letters, retry backoff (zaqar-api.md §6.2, §7.3; docs/api.md): a
 * claim hands feed a callback (claim_opts_from_meta) that reads the
 * queue's reserved keys from the metadata feed has at hand in the
 * claim's own transaction, so they cost no second one. Values that are
 * not usable (not integers, out of range, a bad queue name) are
 * ignored there, as if absent: Zaqar's PUT checks only their types.
 *
 * Herald extensions: DELETE of a claim takes ?delay=N (release, claimable
 * again in N s); POST /v2/queues/{q}/redrive moves a bounded step of a
 * dead-letter queue's messages back to a destination queue.
 */
#include <stdlib.h>
#include <string.h>

#include "route.h"

#include "cluster.h"
#include "config.h"
#include "metrics.h"
#include "move.h"
#include "req.h"
#include "api/api.h"
#include "writer.h"
#include "live/wait.h"
#include "render.h"
#include "meta.h"

#define CLAIM_DEFAULT_LIMIT 10
/* Retry backoff (extension): the cap when _retry_delay_max is absent,
 * seconds (meta.h: the largest either may be). */
#define RETRY_DEFAULT_MAX 3600
/* Release with a delay (extension): the largest delay, seconds. */
#define RELEASE_DELAY_MAX 43200
/* Redrive (extension): the default and largest step. */
#define REDRIVE_DEFAULT_LIMIT 20
#define REDRIVE_MAX_LIMIT 1000

/* A failed claim read or write; an id that is not a UUID names a claim
 * that does not exist. */
static void reply_claim_error(struct hub_req *r, int rc)
{
	hub_reply_feed_error(r, rc == FEED_EBADID ? FEED_ENOCLAIM : rc, NULL);
}

/* Reads ttl and grace from the body into *ttl, *grace (which hold the
 * defaults of the fields not required); false after replying. */
static bool claim_body(struct hub_req *r, bool ttl_required,
		       bool grace_required, long long *ttl, long long *grace)
{
	json_t *doc = hub_body_json(r, JSON_OBJECT);
	bool ok;

	if (!doc)
		return false;
	ok = hub_body_int(r, doc, "ttl", ttl_required, *ttl, ttl) &&
	     hub_body_int(r, doc, "grace", grace_required, *grace, grace);
	json_decref(doc);
	return ok;
}

static bool claim_ttl_ok(struct hub_req *r, long long ttl)
{
	unsigned max = r->cfg->limits.max_claim_ttl;

	if (ttl >= HUB_MIN_CLAIM_TTL && ttl <= max)
		return true;
	hub_reply_error(r, 400, "Invalid API request",
			"The TTL for a claim may not exceed %u seconds, and "
			"must be at least %d seconds long.",
			max, HUB_MIN_CLAIM_TTL);
	return false;
}

/* Context of a deferred claim write. */
struct claim_ctx {
	struct hub_subs *subs;
	char *project, *queue, *id;
	uint32_t ttl_s, grace_s;
	size_t limit;
	feed_claim_t claim;
	feed_claim_opts_t opts; /* create: what the metadata asked */
	uint32_t delay_s;       /* release: FEED_RELEASE_BACKOFF or a delay */
	char *dest;             /* redrive */
	size_t moved;
	bool more;
};

static void claim_ctx_free(struct claim_ctx *c)
{
	if (!c)
		return;
	feed_claim_free(&c->claim);
	free(c->project);
	free(c->queue);
	free(c->id);
	free(c->dest);
	free(c);
}

/* A context with copies of the request's names; NULL after replying. */
static struct claim_ctx *claim_ctx_new(struct hub_req *r)
{
	struct claim_ctx *c = calloc(1, sizeof(*c));

	if (c) {
		c->subs = r->subs;
		c->project = strdup(r->project ? r->project : "");
		c->queue = strdup(r->queue);
		c->id = strdup(r->id ? r->id : "");
	}
	if (!c || !c->project || !c->queue || !c->id) {
		claim_ctx_free(c);
		hub_reply_feed_error(r, FEED_ENOMEM, NULL);
		return NULL;
	}
	return c;
}

/* ---------------------------------------------------------------- create */

/* Claim calls one request may make when feed's walk budget stops a call
 * before it found anything (feed.h: wake_ms = now + 1, "call again"). */
#define CLAIM_CALLS 8

/* A positive integer of the metadata no larger than max; 0 otherwise
 * (absent, not an integer, out of range: not usable, so ignored). */
static uint32_t meta_uint(json_t *meta, const char *key, long long max)
{
	json_t *v = json_object_get(meta, key);
	long long n = json_is_integer(v) ? json_integer_value(v) : 0;

	return n > 0 && n <= max ? (uint32_t)n : 0;
}

/*
 * feed's from_meta for a claim: the queue's dead-letter and backoff
 * settings, on the writer thread, in the claim's transaction. Zaqar
 * dead-letters only with both _max_claim_count and _dead_letter_queue.
 */
static void claim_opts_from_meta(const void *data, size_t len,
				 feed_claim_opts_t *o, void *arg)
{
	json_t *meta = data ? json_loadb(data, len, 0, NULL) : NULL;
	const char *dlq;

	(void)arg;
	if (!json_is_object(meta)) {
		json_decref(meta);
		return;
	}
	dlq = json_string_value(json_object_get(meta, "_dead_letter_queue"));
	o->max_claims = meta_uint(meta, "_max_claim_count", UINT32_MAX);
	/* Not into a queue whose shard is moving (move.h): nothing may
	 * commit there now; a later claim dead-letters these. */
	if (o->max_claims && dlq && hub_queue_name_ok(dlq, strlen(dlq)) &&
	    !hub_move_frozen(hub_cluster_shard(dlq, strlen(dlq))))
		strcpy(o->dlq, dlq);
	o->dlq_ttl_s = meta_uint(meta, "_dead_letter_queue_messages_ttl",
				 UINT32_MAX);
	o->retry_delay_s = meta_uint(meta, "_retry_delay", HUB_RETRY_DELAY_MAX);
	o->retry_delay_max_s = meta_uint(meta, "_retry_delay_max", HUB_RETRY_DELAY_MAX);
	if (o->retry_delay_s && !o->retry_delay_max_s)
		o->retry_delay_max_s = RETRY_DEFAULT_MAX;
	json_decref(meta);
}

static int create_run(feed_txn_t *txn, void *ctx, uint64_t now_ms)
{
	struct claim_ctx *c = ctx;
	size_t moved = 0;
	int rc = 0;

	feed_claim_free(&c->claim); /* a run before this one may have filled it */
	/* Each call is bounded and keeps its progress; an empty one that
	 * stopped for its budget is no claim: go on, a few budgets' worth,
	 * before answering that nothing is claimable. */
	for (int i = 0; i < CLAIM_CALLS; i++) {
		memset(&c->opts, 0, sizeof(c->opts));
		c->opts.from_meta = claim_opts_from_meta;
		rc = feed_claim_create2_tx(txn, c->project, c->queue, c->ttl_s,
					   c->grace_s, c->limit, &c->opts,
					   now_ms, &c->claim);
		moved += c->claim.dead_lettered;
		if (rc || c->claim.msgs.n || c->claim.wake_ms != now_ms + 1)
			break;
		feed_claim_free(&c->claim);
	}
	c->moved = rc ? 0 : moved;
	return rc;
}

static void create_reply(struct hub_req *r, const feed_claim_t *claim)
{
	char *base = hub_queue_href(r, r->queue);
	struct hub_buf text = {0};
	json_t *data = r->wants_msg_data ? json_array() : NULL;

	if (r->version != HUB_V1)
		hub_buf_adds(&text, "{\"messages\": ");
	hub_msg_array_text(&text, r, claim->msgs.v, claim->msgs.n, true, data);
	if (r->version != HUB_V1)
		hub_buf_add(&text, "}", 1);
	hub_reply_set_location(r, "%s/claims/%s", base ? base : "", claim->id);
	hub_reply_set_claim(r, claim->id);
	hub_reply_set_msgs(r, data);
	free(base);
	hub_reply_text(r, 201, &text, NULL);
}

static void create_done(struct hub_req *r, void *ctx, int rc)
{
	struct claim_ctx *c = ctx;

	if (rc == 0)
		hub_metrics_claimed(c->claim.msgs.n); /* committed: counted */
	/* Dead letters arrived: wake the dead-letter queue's waiters. */
	if (rc == 0 && c->moved && c->opts.dlq[0])
		hub_notify_queue(c->subs, c->project, c->opts.dlq);

	if (r && rc)
		hub_reply_feed_error(r, rc, NULL);
	else if (r && c->claim.msgs.n == 0 && hub_can_wait(r))
		hub_wait(r, c->claim.wake_ms); /* on a commit, or expiry */
	else if (r && c->claim.msgs.n == 0)
		hub_reply(r, 204, NULL);
	else if (r)
		create_reply(r, &c->claim);
	claim_ctx_free(c);
}

void hub_claims_post(struct hub_req *r)
{
	const struct hub_limits *lim = &r->cfg->limits;
	long long limit, ttl = lim->default_claim_ttl;
	long long grace = lim->default_claim_grace;
	struct claim_ctx *c;

	if (!hub_query_int(r, "limit", CLAIM_DEFAULT_LIMIT, &limit))
		return;
	/* v2/v1.1: no body (or an empty one) means the defaults. */
	if ((r->version == HUB_V1 || (r->has_body && r->body_len > 0)) &&
	    !claim_body(r, r->version == HUB_V1, r->version == HUB_V1, &ttl,
			&grace))
		return;
	if (!claim_ttl_ok(r, ttl))
		return;
	if (limit < 1 || limit > lim->max_messages_per_claim_or_pop) {
		hub_reply_error(r, 400, "Invalid API request",
				"Limit must be at least 1 and may not be "
				"greater than %u.",
				lim->max_messages_per_claim_or_pop);
		return;
	}
	if (grace < HUB_MIN_CLAIM_GRACE || grace > lim->max_claim_grace) {
		hub_reply_error(r, 400, "Invalid API request",
				"The grace for a claim may not exceed %u "
				"seconds, and must be at least %d seconds "
				"long.",
				lim->max_claim_grace, HUB_MIN_CLAIM_GRACE);
		return;
	}
	if (!hub_wait_param(r))
		return;
	c = claim_ctx_new(r);
	if (!c)
		return;
	c->ttl_s = (uint32_t)ttl;
	c->grace_s = (uint32_t)grace;
	c->limit = (size_t)limit;
	hub_defer(r, create_run, create_done, c);
}

/* ------------------------------------------------------------------- get */

void hub_claim_get(struct hub_req *r)
{
	feed_claim_t claim;
	struct hub_buf text = {0};
	long long age;
	json_t *data;
	int rc;

	if (r->version == HUB_V1)
		hub_header(r, "Content-Location", "%s", r->path);
	rc = feed_claim_get(r->feed, r->project, r->queue, r->id, r->now_ms,
			    &claim);
	if (rc) {
		reply_claim_error(r, rc);
		return;
	}
	age = r->now_ms > claim.updated_ms
		      ? hub_secs(r->now_ms - claim.updated_ms)
		      : 0;
	data = r->wants_msg_data ? json_array() : NULL;
	hub_buf_printf(&text, "{\"age\": %lld, \"ttl\": %lld, \"messages\": ",
		       age, (long long)claim.ttl_s);
	hub_msg_array_text(&text, r, claim.msgs.v, claim.msgs.n, true, data);
	hub_buf_adds(&text, ", \"href\": ");
	hub_render_str(&text, r->path);
	hub_buf_add(&text, "}", 1);
	hub_reply_set_msgs(r, data);
	/* WebSocket's claim_get frame reads the age and ttl as values. */
	hub_reply_text(r, 200, &text,
		       r->wants_msg_data
			       ? json_pack("{s:I,s:I}", "age", (json_int_t)age,
					   "ttl", (json_int_t)claim.ttl_s)
			       : NULL);
	feed_claim_free(&claim);
}

/* ----------------------------------------------------------------- patch */

static int renew_run(feed_txn_t *txn, void *ctx, uint64_t now_ms)
{
	struct claim_ctx *c = ctx;

	return feed_claim_renew_tx(txn, c->project, c->queue, c->id, c->ttl_s,
				c->grace_s, now_ms);
}

static void renew_done(struct hub_req *r, void *ctx, int rc)
{
	if (r && rc)
		reply_claim_error(r, rc);
	else if (r)
		hub_reply(r, 204, NULL);
	claim_ctx_free(ctx);
}

void hub_claim_patch(struct hub_req *r)
{
	const struct hub_limits *lim = &r->cfg->limits;
	bool v1 = r->version == HUB_V1;
	long long ttl = lim->default_claim_ttl;
	long long grace = v1 ? 0 : lim->default_claim_grace;
	struct claim_ctx *c;

	/* The body is required; v1 requires ttl (grace defaults to 0). */
	if (!claim_body(r, v1, false, &ttl, &grace))
		return;
	if (!claim_ttl_ok(r, ttl))
		return;
	c = claim_ctx_new(r);
	if (!c)
		return;
	c->ttl_s = (uint32_t)ttl;
	/* Zaqar does not range-check grace on update; keep it storable. */
	c->grace_s = grace < 0 ? 0 : grace > UINT32_MAX ? UINT32_MAX
							  : (uint32_t)grace;
	hub_defer(r, renew_run, renew_done, c);
}

/* ---------------------------------------------------------------- delete */

static int release_run(feed_txn_t *txn, void *ctx, uint64_t now_ms)
{
	struct claim_ctx *c = ctx;

	return feed_claim_release2_tx(txn, c->project, c->queue, c->id,
				      c->delay_s, now_ms);
}

static void release_done(struct hub_req *r, void *ctx, int rc)
{
	struct claim_ctx *c = ctx;

	/* Its messages are claimable again: wake those waiting for them,
	 * whether or not the client that released them is still there. */
	if (rc == 0)
		hub_notify_queue(c->subs, c->project, c->queue);
	if (r && rc && rc != FEED_ENOCLAIM && rc != FEED_EBADID)
		hub_reply_feed_error(r, rc, NULL);
	else if (r)
		hub_reply(r, 204, NULL);
	claim_ctx_free(c);
}

void hub_claim_delete(struct hub_req *r)
{
	struct claim_ctx *c;
	long long delay = -1;

	/* Herald's extension: ?delay=N, claimable again N s from now. */
	if (!hub_query_int(r, "delay", -1, &delay))
		return;
	if (hub_query(r, "delay") &&
	    (delay < 0 || delay > RELEASE_DELAY_MAX)) {
		hub_reply_error(r, 400, "Invalid API request",
				"The delay of a release may not exceed %d "
				"seconds, and must be at least 0 seconds.",
				RELEASE_DELAY_MAX);
		return;
	}
	c = claim_ctx_new(r);
	if (!c)
		return;
	c->delay_s = delay < 0 ? FEED_RELEASE_BACKOFF : (uint32_t)delay;
	hub_defer(r, release_run, release_done, c);
}

/* --------------------------------------------------------------- redrive */

static int redrive_run(feed_txn_t *txn, void *ctx, uint64_t now_ms)
{
	struct claim_ctx *c = ctx;

	return feed_queue_redrive_tx(txn, c->project, c->queue, c->dest,
				     c->limit, now_ms, &c->moved, &c->more);
}

static void redrive_done(struct hub_req *r, void *ctx, int rc)
{
	struct claim_ctx *c = ctx;

	if (rc == 0 && c->moved)
		hub_notify_queue(c->subs, c->project, c->dest);
	if (r && rc)
		hub_reply_feed_error(r, rc, NULL);
	else if (r)
		hub_reply(r, 200,
			  json_pack("{s:I,s:b}", "moved", (json_int_t)c->moved,
				    "more", c->more));
	claim_ctx_free(c);
}

/*
 * POST /v2/queues/{dlq}/redrive {"destination": "q", "limit": N}: one
 * bounded step (N, default 20, at most 1000) of moving the messages a
 * claim could take from this queue to the destination; 200 {"moved": n,
 * "more": bool}, "more" meaning call again. A Herald extension.
 */
void hub_queue_redrive(struct hub_req *r)
{
	json_t *doc = hub_body_json(r, JSON_OBJECT);
	long long limit = REDRIVE_DEFAULT_LIMIT;
	const char *dest;
	struct claim_ctx *c;

	if (!doc)
		return;
	dest = json_string_value(json_object_get(doc, "destination"));
	if (!hub_body_int(r, doc, "limit", false, limit, &limit)) {
		json_decref(doc);
		return;
	}
	if (!dest || !hub_queue_name_ok(dest, strlen(dest)) ||
	    strcmp(dest, r->queue) == 0) {
		hub_reply_error(r, 400, "Invalid API request",
				"Redrive needs a \"destination\": the name "
				"of another queue.");
	} else if (limit < 1 || limit > REDRIVE_MAX_LIMIT) {
		hub_reply_error(r, 400, "Invalid API request",
				"Limit must be at least 1 and may not be "
				"greater than %d.",
				REDRIVE_MAX_LIMIT);
	} else if (!hub_move_route_also(r, dest)) {
		/* its destination's shard is moving: 503 (move.h) */
	} else if ((c = claim_ctx_new(r)) != NULL) {
		c->dest = strdup(dest);
		c->limit = (size_t)limit;
		/* The writer holds it too while dest's shard moves. */
		r->also_queue = c->dest;
		if (c->dest)
			hub_defer(r, redrive_run, redrive_done, c);
		else {
			claim_ctx_free(c);
			hub_reply_feed_error(r, FEED_ENOMEM, NULL);
		}
	}
	json_decref(doc);
}
