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
 */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "req.h"
#include "api/api.h"
#include "writer.h"
#include "live/wait.h"
#include "render.h"

#define CLAIM_DEFAULT_LIMIT 10

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
};

static void claim_ctx_free(struct claim_ctx *c)
{
	if (!c)
		return;
	feed_claim_free(&c->claim);
	free(c->project);
	free(c->queue);
	free(c->id);
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

static int create_run(feed_txn_t *txn, void *ctx, uint64_t now_ms)
{
	struct claim_ctx *c = ctx;
	int rc = 0;

	feed_claim_free(&c->claim); /* a run before this one may have filled it */
	/* Each call is bounded and keeps its progress; an empty one that
	 * stopped for its budget is no claim: go on, a few budgets' worth,
	 * before answering that nothing is claimable. */
	for (int i = 0; i < CLAIM_CALLS; i++) {
		rc = feed_claim_create_tx(txn, c->project, c->queue, c->ttl_s,
					  c->grace_s, c->limit, now_ms,
					  &c->claim);
		if (rc || c->claim.msgs.n || c->claim.wake_ms != now_ms + 1)
			break;
		feed_claim_free(&c->claim);
	}
	return rc;
}

static void create_reply(struct hub_req *r, const feed_claim_t *claim)
{
	char *base = hub_queue_href(r, r->queue);
	json_t *arr = json_array(), *data = json_array();

	for (size_t i = 0; i < claim->msgs.n; i++)
		json_array_append_new(arr,
				      hub_msg_json(r, &claim->msgs.v[i], data));
	hub_reply_set_location(r, "%s/claims/%s", base ? base : "", claim->id);
	hub_reply_set_claim(r, claim->id);
	hub_reply_set_msgs(r, data);
	free(base);
	if (r->version == HUB_V1)
		hub_reply(r, 201, arr);
	else
		hub_reply(r, 201, json_pack("{s:o}", "messages", arr));
}

static void create_done(struct hub_req *r, void *ctx, int rc)
{
	struct claim_ctx *c = ctx;

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
	json_t *arr, *data;
	int rc;

	if (r->version == HUB_V1)
		hub_header(r, "Content-Location", "%s", r->path);
	rc = feed_claim_get(r->feed, r->project, r->queue, r->id, r->now_ms,
			    &claim);
	if (rc) {
		reply_claim_error(r, rc);
		return;
	}
	arr = json_array();
	data = json_array();
	for (size_t i = 0; i < claim.msgs.n; i++)
		json_array_append_new(arr,
				      hub_msg_json(r, &claim.msgs.v[i], data));
	hub_reply_set_msgs(r, data);
	hub_reply(r, 200,
		  json_pack("{s:I,s:I,s:o,s:s}", "age",
			    (json_int_t)(r->now_ms > claim.updated_ms
						 ? hub_secs(r->now_ms -
							    claim.updated_ms)
						 : 0),
			    "ttl", (json_int_t)claim.ttl_s, "messages", arr,
			    "href", r->path));
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

	return feed_claim_release_tx(txn, c->project, c->queue, c->id, now_ms);
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
	struct claim_ctx *c = claim_ctx_new(r);

	if (c)
		hub_defer(r, release_run, release_done, c);
}
