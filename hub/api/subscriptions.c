/*
 * subscriptions.c - Zaqar v2's subscriptions of a queue (webhooks):
 * POST/GET /v2/queues/{q}/subscriptions, GET/PATCH/DELETE
 * .../subscriptions/{id}, PUT .../subscriptions/{id}/confirm.
 *
 * A subscription is stored by feed (feed/sub.c) with a marker into the
 * queue's log; delivering to it is the webhook deliverer's work
 * (live/hooks.c), which every write here tells once it committed, so it
 * picks up what changed. Validation and texts follow Zaqar's
 * (validation.py subscription_posting / _patching / _confirming); the
 * answers follow its redis driver (transcript_v2_subs*.txt).
 *
 * Herald's differences, documented in docs/api.md: a subscriber URI may
 * only name http or https (mailto and trust+ are refused: Herald cannot
 * send them), a literal address must pass the webhook allowlist (the SSRF
 * guard, also checked at every delivery), and deleting a queue deletes
 * its subscriptions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "live/hooks.h"
#include "meta.h"
#include "writer.h"

#define SUBS_DEFAULT_LIMIT 10
#define SUBS_MAX_LIMIT 20
#define MIN_SUBSCRIPTION_TTL 60
/* The longest ttl: its expiry must stay a time Python can show (Zaqar's
 * check is datetime.max); Herald's is the year 9999 too. */
#define MAX_EXPIRY_S INT64_C(253402300799)

static const char *const TYPES =
	"['http', 'https', 'mailto', 'trust+http', 'trust+https']";

/* What a write carries to the writer thread and back. */
struct sjob {
	char project[FEED_PROJECT_MAX + 1];
	char queue[FEED_NAME_MAX + 1];
	char id[FEED_SUB_ID_LEN + 1];
	char *subscriber, *options; /* NULL: unchanged (PATCH) */
	feed_sub_in_t in;
	bool confirmed, existed;
	bool unsubscribed; /* a confirm of false */
	struct hub_hooks *hooks;
	bool require_confirmation;
};

static struct sjob *sjob_new(struct hub_req *r)
{
	struct sjob *j = calloc(1, sizeof(*j));

	if (!j) {
		hub_reply_feed_error(r, FEED_ENOMEM, NULL);
		return NULL;
	}
	snprintf(j->project, sizeof(j->project), "%s", r->project);
	snprintf(j->queue, sizeof(j->queue), "%s", r->queue);
	snprintf(j->id, sizeof(j->id), "%s", r->id ? r->id : "");
	j->hooks = r->hooks;
	j->require_confirmation = r->cfg->require_confirmation;
	return j;
}

static void sjob_free(struct sjob *j)
{
	free(j->subscriber);
	free(j->options);
	free(j);
}

/* ------------------------------------------------------------ validation */

/* Python's truth of a JSON value: null, false, 0, "", [] and {} are
 * false (Zaqar tests `if ttl:`, `if options and ...`). */
static bool truthy(json_t *v)
{
	if (!v)
		return false;
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return json_object_size(v) > 0;
	case JSON_ARRAY:
		return json_array_size(v) > 0;
	case JSON_STRING:
		return json_string_length(v) > 0;
	case JSON_INTEGER:
		return json_integer_value(v) != 0;
	case JSON_REAL:
		return json_real_value(v) != 0;
	case JSON_TRUE:
		return true;
	default:
		return false;
	}
}

/* The URI's scheme (RFC 3986: a letter, then letters, digits, + - .),
 * lower-cased into out; "" when it has none. */
static void uri_scheme(const char *uri, char out[16])
{
	size_t i = 0;

	out[0] = '\0';
	while (i < 15 && uri[i] && uri[i] != ':') {
		char c = uri[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (i > 0 && ((c >= '0' && c <= '9') || c == '+' ||
				 c == '-' || c == '.'))))
			return;
		out[i] = (char)(c | 0x20);
		i++;
	}
	if (uri[i] != ':')
		return;
	out[i] = '\0';
}

/* The subscriber: Zaqar's scheme list, then Herald's own limits. */
static bool subscriber_ok(struct hub_req *r, json_t *v)
{
	static const char *const zaqar[] = {"http", "https", "mailto",
					    "trust+http", "trust+https"};
	const char *uri = json_string_value(v);
	char scheme[16] = "", why[256];
	bool known = false;

	if (uri)
		uri_scheme(uri, scheme);
	for (size_t i = 0; i < sizeof(zaqar) / sizeof(*zaqar); i++)
		known |= strcmp(scheme, zaqar[i]) == 0;
	if (!known) {
		hub_reply_error(r, 400, "Invalid API request",
				"The subscriber type of subscription must be "
				"supported in the list %s.", TYPES);
		return false;
	}
	if (strcmp(scheme, "http") && strcmp(scheme, "https")) {
		hub_reply_error(r, 400, "Invalid API request",
				"Herald delivers to http and https "
				"subscribers only; %s is not supported.",
				scheme);
		return false;
	}
	if (strlen(uri) > FEED_SUB_URI_MAX) {
		hub_reply_error(r, 400, "Invalid API request",
				"The subscriber URI may not be longer than "
				"%d characters.", FEED_SUB_URI_MAX);
		return false;
	}
	if (!hub_hooks_uri_allowed(r->cfg, uri, why, sizeof(why))) {
		hub_reply_error(r, 400, "Invalid API request", "%s", why);
		return false;
	}
	return true;
}

/*
 * Zaqar's subscription_patching (and, with `post`, _posting) of doc, the
 * values into j. False after replying 400.
 */
static bool body_check(struct hub_req *r, json_t *doc, bool post,
		       struct sjob *j)
{
	json_t *sub = json_object_get(doc, "subscriber");
	json_t *opt = json_object_get(doc, "options");
	json_t *ttl = json_object_get(doc, "ttl");
	const char *why;
	char buf[256];
	long long n;

	if (post && !sub) {
		hub_reply_error(r, 400, "Invalid API request",
				"Missing parameter subscriber in body.");
		return false;
	}
	if (json_object_size(doc) == 0) {
		hub_reply_error(r, 400, "Invalid API request",
				"No subscription to create.");
		return false;
	}
	if ((post || truthy(sub)) && !subscriber_ok(r, sub))
		return false;
	if (truthy(opt) && !json_is_object(opt)) {
		hub_reply_error(r, 400, "Invalid API request",
				"Options must be a dict.");
		return false;
	}
	why = json_is_object(opt) ? hub_meta_retry_check(opt, buf, sizeof(buf))
				  : NULL;
	if (why) {
		hub_reply_error(r, 400, "Invalid API request", "%s", why);
		return false;
	}
	if (truthy(ttl)) {
		if (!json_is_integer(ttl) && !json_is_boolean(ttl)) {
			hub_reply_error(r, 400, "Invalid API request",
					"TTL must be an integer.");
			return false;
		}
		n = json_is_integer(ttl) ? json_integer_value(ttl) : 1;
		if (n < MIN_SUBSCRIPTION_TTL) {
			hub_reply_error(r, 400, "Invalid API request",
					"The TTL for a subscription must be "
					"at least %d seconds long.",
					MIN_SUBSCRIPTION_TTL);
			return false;
		}
		if (n > MAX_EXPIRY_S - (long long)(r->now_ms / 1000)) {
			hub_reply_error(r, 400, "Invalid API request",
					"The TTL seconds for a subscription "
					"plus current time must be less than "
					"9999-12-31 23:59:59.999999.");
			return false;
		}
		j->in.ttl_s = (uint64_t)n;
	} else if (post) {
		j->in.ttl_s = HUB_DEFAULT_SUBSCRIPTION_TTL;
	}
	if (truthy(sub)) {
		j->subscriber = strdup(json_string_value(sub));
		j->in.subscriber = j->subscriber;
		if (!j->subscriber)
			goto nomem;
	}
	/* Options present are an object or falsy ({} then). */
	if (post || opt) {
		j->options = json_is_object(opt) ? json_dumps(opt, JSON_COMPACT)
						 : strdup("{}");
		j->in.options = j->options;
		if (!j->options)
			goto nomem;
	}
	return true;
nomem:
	hub_reply_feed_error(r, FEED_ENOMEM, NULL);
	return false;
	return true;
}

/* The body as a JSON object; an absent or empty body is {} (Zaqar). */
static json_t *body_doc(struct hub_req *r)
{
	if (!r->has_body || r->body_len == 0)
		return json_object();
	return hub_body_json(r, JSON_OBJECT);
}

/* ------------------------------------------------------------- answers */

static json_t *sub_json(const struct hub_req *r, const feed_sub_t *s)
{
	json_t *opt = json_loads(s->options, 0, NULL);
	uint64_t age = r->now_ms > s->created_ms
			       ? (r->now_ms - s->created_ms) / 1000
			       : 0;

	return json_pack("{s:s, s:s, s:s, s:I, s:I, s:o, s:b}", "id", s->id,
			 "source", s->queue, "subscriber", s->subscriber,
			 "ttl", (json_int_t)s->ttl_s, "age", (json_int_t)age,
			 "options", opt ? opt : json_object(), "confirmed",
			 s->confirmed);
}

/* The subscription is gone: Zaqar's 404. */
static void reply_missing(struct hub_req *r, const char *id)
{
	hub_reply_error(r, 404, "Not found", "Subscription %s does not exist",
			id);
}

/* ---------------------------------------------------------------- create */

static int create_run(feed_txn_t *txn, void *ctx, uint64_t now_ms)
{
	struct sjob *j = ctx;

	return feed_sub_create_tx(txn, j->project, j->queue, &j->in, now_ms,
				  j->id, &j->existed);
}

static void create_done(struct hub_req *r, void *ctx, int rc)
{
	struct sjob *j = ctx;

	if (rc == 0 || rc == FEED_EEXISTS)
		hub_hooks_reload(j->hooks, j->project, j->queue);
	/* Zaqar sends (again) the confirmation of an unconfirmed one. */
	if (rc == 0 && j->require_confirmation)
		hub_hooks_confirmation(j->hooks, j->project, j->queue, j->id,
				       false);
	if (r && rc == FEED_EEXISTS) {
		hub_reply_set_location(r, "%s", r->path);
		hub_reply_error(r, 409, "Resource conflict",
				"Such subscription already exists."
				"Subscriptions are unique by project + queue "
				"+ subscriber URI.");
	} else if (r && rc) {
		hub_reply_feed_error(r, rc, "Subscription");
	} else if (r) {
		hub_reply_set_location(r, "%s", r->path);
		hub_reply(r, 201, json_pack("{s:s}", "subscription_id", j->id));
	}
	sjob_free(j);
}

void hub_subscriptions_post(struct hub_req *r)
{
	json_t *doc = body_doc(r);
	struct sjob *j;

	if (!doc)
		return;
	j = sjob_new(r);
	if (j && body_check(r, doc, true, j)) {
		hub_defer(r, create_run, create_done, j);
		j = NULL;
	}
	if (j)
		sjob_free(j);
	json_decref(doc);
}

/* ------------------------------------------------------------ list, get */

void hub_subscriptions_get(struct hub_req *r)
{
	static const char *const params[] = {"marker", "limit", NULL};
	const char *marker = hub_query(r, "marker");
	json_t *subs, *links;
	feed_subs_t list;
	long long limit;
	int rc;

	if (!hub_query_int(r, "limit", SUBS_DEFAULT_LIMIT, &limit))
		return;
	if (limit < 1 || limit > SUBS_MAX_LIMIT) {
		hub_reply_error(r, 400, "Invalid API request",
				"Limit must be at least 1 and may not be "
				"greater than %d.", SUBS_MAX_LIMIT);
		return;
	}
	rc = feed_sub_list(r->feed, r->project, r->queue, marker,
			   (size_t)limit, r->now_ms, &list);
	/* A marker that names no subscription starts nowhere: an empty
	 * page, as Zaqar's drivers give. */
	if (rc == FEED_EBADID) {
		rc = 0;
		memset(&list, 0, sizeof(list));
	}
	if (rc) {
		hub_reply_feed_error(r, rc, "Subscriptions");
		return;
	}
	subs = json_array();
	links = json_array();
	for (size_t i = 0; i < list.n; i++)
		json_array_append_new(subs, sub_json(r, &list.v[i]));
	if (list.n) {
		char *href = hub_next_link(r, params, list.v[list.n - 1].id,
					   NULL);

		json_array_append_new(links,
				      json_pack("{s:s, s:s}", "rel", "next",
						"href", href ? href : ""));
		free(href);
	}
	feed_subs_free(&list);
	hub_reply(r, 200, json_pack("{s:o, s:o}", "subscriptions", subs,
				    "links", links));
}

void hub_subscription_get(struct hub_req *r)
{
	feed_subs_t s;
	int rc = feed_sub_get(r->feed, r->project, r->queue, r->id, r->now_ms,
			      &s);

	if (rc == FEED_ENOTFOUND) {
		reply_missing(r, r->id);
		return;
	}
	if (rc) {
		hub_reply_feed_error(r, rc, "Subscription");
		return;
	}
	hub_reply(r, 200, sub_json(r, &s.v[0]));
	feed_subs_free(&s);
}

/* ----------------------------------------------------- patch, delete */

static int update_run(feed_txn_t *txn, void *ctx, uint64_t now_ms)
{
	struct sjob *j = ctx;

	return feed_sub_update_tx(txn, j->project, j->queue, j->id, &j->in,
				  now_ms);
}

/* Answers a write on one subscription: 204 with Location, or its error. */
static void item_done(struct hub_req *r, void *ctx, int rc)
{
	struct sjob *j = ctx;

	if (rc == 0)
		hub_hooks_reload(j->hooks, j->project, j->queue);
	if (rc == 0 && j->require_confirmation && j->unsubscribed)
		hub_hooks_confirmation(j->hooks, j->project, j->queue, j->id,
				       true);
	if (r && rc == FEED_ENOTFOUND)
		reply_missing(r, j->id);
	else if (r && rc == FEED_EEXISTS)
		hub_reply_error(r, 409, "Resource conflict",
				"Such subscription already exists. "
				"Subscriptions are unique by project + queue "
				"+ subscriber URI.");
	else if (r && rc)
		hub_reply_feed_error(r, rc, "Subscription");
	else if (r) {
		if (r->method != HUB_DELETE)
			hub_reply_set_location(r, "%s", r->path);
		hub_reply(r, 204, NULL);
	}
	sjob_free(j);
}

void hub_subscription_patch(struct hub_req *r)
{
	json_t *doc = body_doc(r);
	struct sjob *j;

	if (!doc)
		return;
	j = sjob_new(r);
	if (j && body_check(r, doc, false, j)) {
		hub_defer(r, update_run, item_done, j);
		j = NULL;
	}
	if (j)
		sjob_free(j);
	json_decref(doc);
}

static int delete_run(feed_txn_t *txn, void *ctx, uint64_t now_ms)
{
	struct sjob *j = ctx;

	(void)now_ms;
	return feed_sub_delete_tx(txn, j->project, j->queue, j->id);
}

void hub_subscription_delete(struct hub_req *r)
{
	struct sjob *j = sjob_new(r);

	if (j)
		hub_defer(r, delete_run, item_done, j);
}

/* ------------------------------------------------------------- confirm */

static int confirm_run(feed_txn_t *txn, void *ctx, uint64_t now_ms)
{
	struct sjob *j = ctx;

	return feed_sub_confirm_tx(txn, j->project, j->queue, j->id,
				   j->confirmed,
				   j->confirmed && j->require_confirmation,
				   now_ms);
}

void hub_subscription_confirm(struct hub_req *r)
{
	json_t *doc = body_doc(r), *v;
	struct sjob *j;

	if (!doc)
		return;
	v = json_object_get(doc, "confirmed");
	if (!json_is_boolean(v)) {
		hub_reply_error(r, 400, "Invalid API request",
				"The 'confirmed' should be boolean.");
		json_decref(doc);
		return;
	}
	j = sjob_new(r);
	if (j) {
		j->confirmed = json_is_true(v);
		/* item_done: an unsubscription is confirmed to the
		 * subscriber (Zaqar's UnsubscribeConfirmation). */
		j->unsubscribed = !j->confirmed;
		hub_defer(r, confirm_run, item_done, j);
	}
	json_decref(doc);
}
