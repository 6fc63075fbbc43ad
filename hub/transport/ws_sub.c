/*
 * ws_sub.c - WebSocket subscriptions: `subscribe` / `unsubscribe` and
 * Zaqar's `subscription_*` on /v2/ws, and the one subscription of a
 * stream URL (/v2/queues/{q}/stream).
 *
 * THE LOG IS THE BUFFER. A subscription is a cursor (live/cursor.c:
 * queue, marker, filters, and a hook in the subscriber registry) and a
 * flag; it holds no messages:
 *
 *   commit on q, or a due timer --> cursor wake: sub->pending = true,
 *                                   lws_callback_on_writable(wsi)
 *   SERVER_WRITEABLE --> hub_cursor_next: a gap, or <= 100 messages of
 *                        about 64 KiB --> ONE frame, marker advanced
 *                    --> writable again while anything is pending
 *
 * A slow reader costs its marker; a reader that reconnects passes its last
 * marker and resumes with no gap and no duplicate. Messages lost after
 * the marker (expiry, or a marker of a deleted generation of the queue)
 * become a `gap` frame whose marker resumes before the messages that
 * follow the hole - never a silent skip. A malformed marker is refused
 * with the cursor's 400: as the answer to `subscribe`, or, on a stream
 * URL, as the HTTP answer to the upgrade (hub_ws_confirm_upgrade).
 *
 * A queue another node of the cluster owns is read the same way through
 * that node's API (remote.h), woken by the cluster's bus: `subscribe` to
 * it answers once the owner has answered the first read (its refusal, or
 * 503 when it cannot be reached, becomes the action's), and its frames
 * are the same. Without a bus (--cluster-bus) such a subscribe gets 421.
 *
 * Subscriptions of a connection are served round-robin, one frame per
 * writable callback (ws.c sends action answers first). Notification
 * subscriptions (subscription_create) send Zaqar's one-message frames and
 * no gap frames (Zaqar's shape has none).
 *
 * Loop (lws service) thread only.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "cluster.h"
#include "cors.h"
#include "log.h"
#include "metrics.h"
#include "live/cursor.h"
#include "transport/remote.h"
#include "transport/ws_conn.h"

#define WS_BATCH 100        /* messages per frame at most */
#define WS_FRAME_SOFT 65536 /* stop adding messages past this size */

enum sub_kind {
	SUB_STREAM,  /* subscribe / stream URL: messages and gap frames */
	SUB_NOTIFY,  /* subscription_create: Zaqar's notification frames */
};

struct ws_sub {
	lws_dll2_t node;           /* in its connection's subs */
	struct hub_cursor cur;     /* where it is; woken on commits (only
				    * cur.queue is set for a remote one) */
	struct hub_remote *remote; /* another node's queue: read there */
	struct hub_ws_action *opening; /* its subscribe, until answered */
	struct hub_ws_conn *c;
	enum sub_kind kind;
	char id[37];
	bool pending;              /* may have something to send */
	uint64_t created_ms;
	long long ttl;             /* subscription_create's, reported only */
};

/* ------------------------------------------------------- subscriptions */

static void sub_wake(struct hub_cursor *cur)
{
	struct ws_sub *s = lws_container_of(cur, struct ws_sub, cur);

	s->pending = true;
	lws_callback_on_writable(s->c->wsi);
}

static struct ws_sub *sub_find(struct hub_ws_conn *c, const char *id)
{
	lws_start_foreach_dll(struct lws_dll2 *, d, lws_dll2_get_head(&c->subs)) {
		struct ws_sub *s = lws_container_of(d, struct ws_sub, node);

		if (strcmp(s->id, id) == 0)
			return s;
	} lws_end_foreach_dll(d);
	return NULL;
}

static void sub_free(struct hub_ws_conn *c, struct ws_sub *s)
{
	if (c->rr == s)
		c->rr = NULL;
	hub_cursor_close(&s->cur);
	hub_remote_close(s->remote);
	lws_dll2_remove(&s->node);
	free(s);
}

void hub_ws_sub_close_all(struct hub_ws_conn *c)
{
	struct lws_dll2 *d;

	while ((d = lws_dll2_get_head(&c->subs)))
		sub_free(c, lws_container_of(d, struct ws_sub, node));
}

/* Why a subscription could not start: a status and a text. */
struct refusal {
	int status;
	char text[128];
};

static int cursor_refusal(int rc, struct refusal *why)
{
	why->status = rc == FEED_EBADID ? 400 : 503;
	snprintf(why->text, sizeof(why->text), "%s",
		 rc == FEED_EBADID ? HUB_CURSOR_BAD_MARKER_TEXT
		 : rc == FEED_ENOMEM ? "Out of memory."
				     : "Storage failed. Please try again.");
	return -1;
}

/* A subscription's room on c, within the limits: NULL with *why. */
static struct ws_sub *sub_alloc(struct hub_ws_conn *c, enum sub_kind kind,
				struct refusal *why)
{
	const struct hub_config *cfg = &c->srv->cfg;
	struct ws_sub *s;

	why->status = 400;
	if (c->subs.count >= cfg->max_subs_per_connection) {
		snprintf(why->text, sizeof(why->text), "Too many subscriptions "
			 "on this connection (at most %u).",
			 cfg->max_subs_per_connection);
		return NULL;
	}
	if (hub_sub_count(c->srv->subs) >= cfg->max_subscribers) {
		hub_metrics_reject(HUB_REJECT_SUBSCRIBERS);
		why->status = 503;
		snprintf(why->text, sizeof(why->text), "Too many subscribers "
			 "on this server.");
		return NULL;
	}
	if (!(s = calloc(1, sizeof(*s)))) {
		cursor_refusal(FEED_ENOMEM, why);
		return NULL;
	}
	s->c = c;
	s->kind = kind;
	s->created_ms = hub_now_ms();
	hub_uuid_new(s->id);
	return s;
}

/* s is set: on c's list, its backlog after the marker first. */
static void sub_add(struct hub_ws_conn *c, struct ws_sub *s)
{
	lws_dll2_add_tail(&s->node, &c->subs);
	s->pending = true;
	lws_callback_on_writable(c->wsi);
}

/*
 * Starts a subscription on c->project's `queue`, from `from` (after
 * `marker` for HUB_CURSOR_MARKER). Returns it, or NULL with *why set.
 */
static struct ws_sub *sub_new(struct hub_ws_conn *c, enum sub_kind kind,
			      const char *queue, enum hub_cursor_from from,
			      const char *marker, bool echo, struct refusal *why)
{
	struct hub_cursor_opts o = {
		/* The stream URL's connection holds its one subscription. */
		.kind = c->stream.queue[0] ? HUB_SUB_STREAM : HUB_SUB_WS,
		.project = c->project,
		.queue = queue,
		.from = from,
		.marker = marker,
		.flags = FEED_READ_INCLUDE_CLAIMED |
			 (echo || !c->has_client_id ? FEED_READ_ECHO : 0u),
		.client_id = c->client_id,
		.limit = kind == SUB_NOTIFY ? 1 : WS_BATCH,
		.budget = WS_FRAME_SOFT,
		.shared = kind == SUB_STREAM,
		.wake = sub_wake,
	};
	struct ws_sub *s = sub_alloc(c, kind, why);
	int rc;

	if (!s)
		return NULL;
	rc = hub_cursor_open(&s->cur, c->srv->subs, c->srv->feed, &o);
	if (rc) {
		free(s);
		cursor_refusal(rc, why);
		return NULL;
	}
	sub_add(c, s);
	return s;
}

static void remote_wake(struct hub_remote *rm)
{
	struct ws_sub *s = hub_remote_user(rm);

	s->pending = true;
	lws_callback_on_writable(s->c->wsi);
}

/* The owner answered the first read: the subscribe's answer. */
static void remote_opened(struct hub_remote *rm, int status, const char *why)
{
	struct ws_sub *s = hub_remote_user(rm);
	struct hub_ws_action *a = s->opening;

	s->opening = NULL;
	if (status) {
		hub_ws_action_fail(a, status, why, NULL);
		sub_free(s->c, s);
	} else {
		hub_ws_action_reply(a, 201, json_pack("{s:s}", "subscription",
						      s->id));
	}
	a->ready_fn(a);
}

/*
 * A subscribe to `queue` of node `owner`: started (a's answer follows,
 * true), or refused now (false, *why set).
 */
static bool sub_new_remote(struct hub_ws_action *a, const char *queue,
			   const char *owner, enum hub_cursor_from from,
			   const char *marker, bool echo, struct refusal *why)
{
	struct hub_ws_conn *c = a->conn;
	struct ws_sub *s = sub_alloc(c, SUB_STREAM, why);
	const char *text;
	struct hub_remote_opts o = {
		.project = c->project,
		.queue = queue,
		.from = from,
		.marker = marker,
		.echo = echo || !c->has_client_id,
		.client_id = c->has_client_id ? c->client_id : NULL,
		.token = c->token,
		.opened = remote_opened,
		.wake = remote_wake,
	};

	if (!s)
		return false;
	snprintf(s->cur.queue, sizeof(s->cur.queue), "%s", queue);
	o.user = s;
	s->opening = a;
	if (!(s->remote = hub_remote_open(c->srv->remotes, owner, &o, &text))) {
		free(s);
		why->status = 503;
		snprintf(why->text, sizeof(why->text), "%s", text);
		return false;
	}
	sub_add(c, s);
	return true;
}

/*
 * s's queue moved to node `owner` (a shard move, docs/scale.md; the
 * cursor's MOVED batch): a subscription of /v2/ws goes on, read there
 * from its marker;
 * without a bus, or for the stream URL (which the balancer routes by its
 * queue) and notification subscriptions, the connection is dropped so
 * that its client reconnects, through the balancer, from its marker.
 * Returns 0, or -1 to drop the connection.
 */
static int sub_moved(struct ws_sub *s, const char *marker, const char *owner)
{
	struct hub_ws_conn *c = s->c;
	struct hub_remote_opts o = {
		.project = c->project,
		.queue = s->cur.queue,
		.from = HUB_CURSOR_MARKER,
		.marker = marker,
		.echo = (s->cur.read.flags & FEED_READ_ECHO) != 0,
		.client_id = c->has_client_id ? c->client_id : NULL,
		.token = c->token,
		.wake = remote_wake,
		.user = s,
	};
	const char *why = "the stream URL is routed by its queue";

	if (!c->stream.queue[0] && s->kind == SUB_STREAM && c->srv->remotes &&
	    (s->remote = hub_remote_open(c->srv->remotes, owner, &o, &why))) {
		hub_cursor_close(&s->cur);
		s->pending = false;
		hub_log(HUB_LOG_INFO, "ws: %s moved to node %s: its "
			"subscriber reads it there", s->cur.queue, owner);
		return 0;
	}
	if (!c->stream.queue[0] && !c->srv->remotes)
		why = "no --cluster-bus";
	hub_log(HUB_LOG_INFO, "ws: %s moved to node %s: closing the "
		"connection of its subscriber (%s), which reconnects",
		s->cur.queue, owner, why);
	return -1;
}

/* ------------------------------------------------------------- frames */

/* Frames are rendered into `out` (LWS_PRE headroom given by ws.c, which
 * writes them): 0, or -1 when one cannot be built. */
static int frame_json(struct hub_buf *out, json_t *frame)
{
	char *text = json_dumps(frame, JSON_ENCODE_ANY);

	json_decref(frame);
	if (!text)
		return -1;
	hub_buf_adds(out, text);
	free(text);
	return out->failed ? -1 : 0;
}

/*
 * One "messages" frame. This runs once per subscriber for every batch,
 * so it writes the frame as text: ids, queue names and subscription ids
 * need no escaping, and the messages are the batch's rendered objects
 * (shared by all the queue's caught-up subscribers: live/tail.c), copied
 * between this subscription's head and its marker. No parse, no tree.
 */
static int frame_messages(struct hub_buf *t, const struct ws_sub *s,
			  const struct hub_cursor_batch *b)
{
	hub_buf_printf(t, "{\"event\": \"messages\", \"subscription\": \"%s\", "
		       "\"queue_name\": \"%s\", \"messages\": [", s->id,
		       s->cur.queue);
	for (size_t i = 0; i < b->n; i++) {
		if (i)
			hub_buf_add(t, ", ", 2);
		hub_buf_add(t, b->items[i].json, b->items[i].len);
	}
	hub_buf_printf(t, "], \"marker\": \"%s\"}", b->marker);
	return t->failed ? -1 : 0;
}

static int frame_gap(struct hub_buf *out, const struct ws_sub *s,
		     const struct hub_cursor_batch *b)
{
	return frame_json(out, json_pack("{s:s, s:s, s:s, s:o, s:s}", "event",
				      "gap", "subscription", s->id,
				      "queue_name", s->cur.queue, "missed",
				      b->missed >= 0 ? json_integer(b->missed)
						     : json_null(),
				      "marker", b->marker));
}

/* Zaqar's notification of one message. */
static int frame_notification(struct hub_buf *out, const struct ws_sub *s,
			      const feed_msg_t *m)
{
	json_t *body = json_loadb(m->body, m->body_len, JSON_DECODE_ANY, NULL);

	return frame_json(out, json_pack("{s:s, s:s, s:I, s:o}", "Message_Type",
				      "Notification", "queue_name",
				      s->cur.queue, "ttl",
				      (json_int_t)hub_secs(m->expires_ms -
							   m->created_ms),
				      "body", body ? body : json_null()));
}

/*
 * Serves s once: its cursor's next batch as one frame into `out`. Returns
 * 1 when a frame was rendered, 0 when none was (s->pending cleared when
 * there is nothing now), -1 to drop the connection.
 */
static int sub_serve(struct ws_sub *s, struct hub_buf *out)
{
	struct hub_cursor_batch b;
	int rc = 0;

	if (s->remote)
		hub_remote_next(s->remote, &b);
	else
		rc = hub_cursor_next(&s->cur, hub_now_ms(), &b);
	if (rc) {
		hub_log(HUB_LOG_ERROR, "ws: reading %s for a subscriber: %s",
			s->cur.queue, feed_strerror(rc));
		s->pending = false; /* tried again at the next wake */
		return 0;
	}
	if (b.kind == HUB_BATCH_GAP || b.kind == HUB_BATCH_MSGS)
		hub_buf_reset(out, LWS_PRE); /* lws writes it in place */
	switch (b.kind) {
	case HUB_BATCH_NONE:
		s->pending = false;
		break;
	case HUB_BATCH_MOVED:
		rc = sub_moved(s, b.marker, b.owner);
		break;
	case HUB_BATCH_GAP:
		/* A notification has no gap frame: its next batch follows. */
		if (s->kind == SUB_STREAM)
			rc = frame_gap(out, s, &b) ? -1 : 1;
		break;
	case HUB_BATCH_MSGS:
		rc = (s->kind == SUB_NOTIFY
			      ? frame_notification(out, s, &b.v[0])
			      : frame_messages(out, s, &b))
			     ? -1
			     : 1;
		/* At the shared tail's end: no need to look again before the
		 * next wake (saves a writable callback per wake). */
		s->pending = s->remote ? hub_remote_ready(s->remote)
				       : hub_cursor_may_have_more(&s->cur);
		break;
	}
	hub_cursor_batch_free(&b);
	return rc;
}

/* The next subscription after `after`, round-robin. */
static struct ws_sub *sub_next(struct hub_ws_conn *c, struct ws_sub *after)
{
	struct lws_dll2 *d = after ? after->node.next : NULL;

	if (!d)
		d = lws_dll2_get_head(&c->subs);
	return d ? lws_container_of(d, struct ws_sub, node) : NULL;
}

int hub_ws_sub_serve(struct hub_ws_conn *c, struct hub_buf *frame)
{
	struct ws_sub *s = c->rr;

	for (unsigned i = 0; i < c->subs.count; i++) {
		int rc;

		s = sub_next(c, s);
		if (!s->pending)
			continue;
		rc = sub_serve(s, frame);
		if (rc != 0) {
			c->rr = s;
			return rc;
		}
	}
	return 0;
}

bool hub_ws_sub_pending(struct hub_ws_conn *c)
{
	lws_start_foreach_dll(struct lws_dll2 *, d, lws_dll2_get_head(&c->subs)) {
		if (lws_container_of(d, struct ws_sub, node)->pending)
			return true;
	} lws_end_foreach_dll(d);
	return false;
}

/* ------------------------------------------------ connection's actions */

static const char *const bad_name = "The format of the submitted queue name "
				    "or project id is not valid.";

/* Subscriptions of one connection share its project and Client-ID. */
static bool conn_identity(struct hub_ws_action *a)
{
	struct hub_ws_conn *c = a->conn;

	if (c->subs.count && (strcmp(c->project, a->pub.project) ||
			      memcmp(c->client_id, a->pub.client_id, 16))) {
		hub_ws_action_fail(a, 400, "All subscriptions of a connection "
				   "use one X-Project-ID and Client-ID.", NULL);
		return false;
	}
	snprintf(c->project, sizeof(c->project), "%s", a->pub.project);
	memcpy(c->client_id, a->pub.client_id, 16);
	c->has_client_id = true;
	return true;
}

/* subscribe's "from" and "marker"; false after replying. */
static bool subscribe_from(struct hub_ws_action *a, enum hub_cursor_from *from,
			   const char **marker)
{
	json_t *jm = json_object_get(a->body, "marker");
	const char *f = json_string_value(json_object_get(a->body, "from"));

	if ((jm && !json_is_null(jm) && !json_is_string(jm)) ||
	    (f && strcmp(f, "marker") && strcmp(f, "oldest") &&
	     strcmp(f, "now"))) {
		hub_ws_action_reply(a, 400, json_pack("{s:s}", "error",
					"Schema validation failed."));
		return false;
	}
	if (!f)
		f = json_is_string(jm) ? "marker" : "now";
	*marker = json_string_value(jm);
	*from = strcmp(f, "marker") == 0   ? HUB_CURSOR_MARKER
		: strcmp(f, "oldest") == 0 ? HUB_CURSOR_OLDEST
					   : HUB_CURSOR_NOW;
	/* from "marker" needs one: an absent or empty one is malformed. */
	if (*from == HUB_CURSOR_MARKER &&
	    (!*marker || !**marker || !hub_cursor_marker_ok(*marker))) {
		hub_ws_action_fail(a, 400, HUB_CURSOR_BAD_MARKER_TEXT, NULL);
		return false;
	}
	return true;
}

/* subscribe; false when its answer comes later (another node's queue). */
static bool act_subscribe(struct hub_ws_action *a)
{
	const char *q = json_string_value(json_object_get(a->body, "queue_name"));
	enum hub_cursor_from from;
	const char *marker;
	struct refusal why;
	struct ws_sub *s;
	char owner[HUB_NODE_MAX];
	unsigned shard;

	bool echo = json_is_true(json_object_get(a->body, "echo"));

	if (!hub_queue_name_ok(q, strlen(q))) {
		hub_ws_action_fail(a, 400, bad_name, NULL);
		return true;
	}
	if (!subscribe_from(a, &from, &marker) || !conn_identity(a))
		return true;
	if (!hub_cluster_owns(q, owner, &shard)) {
		char text[512];

		if (a->conn->srv->remotes) {
			if (sub_new_remote(a, q, owner, from, marker, echo,
					   &why))
				return false;
			hub_ws_action_fail(a, why.status, why.text, NULL);
			return true;
		}
		hub_cluster_misdirected(text, sizeof(text), q, owner, shard);
		hub_ws_action_fail(a, 421, text, NULL);
		return true;
	}
	s = sub_new(a->conn, SUB_STREAM, q, from, marker, echo, &why);
	if (s)
		hub_ws_action_reply(a, 201,
				    json_pack("{s:s}", "subscription", s->id));
	else
		hub_ws_action_fail(a, why.status, why.text, NULL);
	return true;
}

static void act_unsubscribe(struct hub_ws_action *a)
{
	const char *id = json_string_value(json_object_get(a->body,
							   "subscription"));
	struct ws_sub *s = sub_find(a->conn, id);
	char text[128];

	if (s) {
		sub_free(a->conn, s);
		hub_ws_action_reply(a, 204, NULL);
		return;
	}
	snprintf(text, sizeof(text), "Subscription %.64s does not exist", id);
	hub_ws_action_fail(a, 404, text, NULL);
}

static json_t *notify_json(const struct ws_sub *s, uint64_t now_ms)
{
	char subscriber[64];

	snprintf(subscriber, sizeof(subscriber), "websocket://%s", s->c->id);
	return json_pack("{s:s, s:s, s:s, s:I, s:I, s:{}, s:b}", "id", s->id,
			 "source", s->cur.queue, "subscriber", subscriber, "ttl",
			 (json_int_t)s->ttl, "age",
			 (json_int_t)hub_secs(now_ms > s->created_ms
						      ? now_ms - s->created_ms
						      : 0),
			 "options", "confirmed", 0);
}

/* The connection's notification subscription of (project, queue), with
 * id `id` unless NULL. */
static struct ws_sub *notify_find(struct hub_ws_conn *c, const char *project,
				  const char *queue, const char *id)
{
	lws_start_foreach_dll(struct lws_dll2 *, d, lws_dll2_get_head(&c->subs)) {
		struct ws_sub *s = lws_container_of(d, struct ws_sub, node);

		if (s->kind == SUB_NOTIFY && strcmp(s->cur.queue, queue) == 0 &&
		    strcmp(c->project, project) == 0 &&
		    (!id || strcmp(s->id, id) == 0))
			return s;
	} lws_end_foreach_dll(d);
	return NULL;
}

/*
 * Zaqar's subscription ttl rule (validation.subscription_patching): a
 * ttl given and not 0 is at least 60 seconds, and now + ttl must stay a
 * date Python can hold; else 400, exception the rule, error null.
 */
static bool ttl_ok(struct hub_ws_action *a, json_t *ttl)
{
	/* 9999-12-31T23:59:59Z, Python's datetime.max, in seconds. */
	const long long max_s = 253402300799LL;
	long long v = json_integer_value(ttl);
	long long now_s = (long long)(a->pub.now_ms / 1000);

	if (!ttl || v == 0)
		return true;
	if (v < 60) {
		hub_ws_action_fail(a, 400, "The TTL for a subscription must be "
				   "at least 60 seconds long.", NULL);
		return false;
	}
	if (v > max_s - now_s) {
		hub_ws_action_fail(a, 400, "The TTL seconds for a subscription "
				   "plus current time must be less than "
				   "9999-12-31 23:59:59.999999.", NULL);
		return false;
	}
	return true;
}

static void notify_create(struct hub_ws_action *a, const char *q)
{
	json_t *ttl = json_object_get(a->body, "ttl");
	struct refusal why;
	struct ws_sub *s;
	char text[256];

	if (!ttl_ok(a, ttl))
		return;
	if (!conn_identity(a))
		return;
	if (notify_find(a->conn, a->pub.project, q, NULL)) {
		hub_ws_action_reply(a, 409, json_string("Subscription already "
							"exists."));
		return;
	}
	s = sub_new(a->conn, SUB_NOTIFY, q, HUB_CURSOR_NOW, NULL, true, &why);
	if (!s) {
		hub_ws_action_fail(a, why.status, why.text, NULL);
		return;
	}
	s->ttl = ttl ? json_integer_value(ttl) : 3600;
	snprintf(text, sizeof(text), "Subscription %s created.", q);
	hub_ws_action_reply(a, 201, json_pack("{s:s, s:s}", "subscription_id",
					      s->id, "message", text));
}

bool hub_ws_conn_owns_sub(struct hub_ws_conn *c, const char *project,
			  const char *queue, const char *id)
{
	return c && project && queue && id &&
	       notify_find(c, project, queue, id) != NULL;
}

json_t *hub_ws_conn_subs_json(struct hub_ws_conn *c, const char *project,
			      const char *queue, uint64_t now_ms)
{
	json_t *arr = json_array();

	if (!c || !project || !queue)
		return arr;
	lws_start_foreach_dll(struct lws_dll2 *, d, lws_dll2_get_head(&c->subs)) {
		struct ws_sub *s = lws_container_of(d, struct ws_sub, node);

		if (s->kind == SUB_NOTIFY && strcmp(s->cur.queue, queue) == 0 &&
		    strcmp(c->project, project) == 0)
			json_array_append_new(arr, notify_json(s, now_ms));
	} lws_end_foreach_dll(d);
	return arr;
}

/* subscription_*: Zaqar's WebSocket push, to this connection only. */
static void act_subscription(struct hub_ws_action *a, const char *action)
{
	const char *q = json_string_value(json_object_get(a->body, "queue_name"));
	const char *sid = json_string_value(
		json_object_get(a->body, "subscription_id"));
	char text[256];
	struct ws_sub *s;

	if (!hub_queue_name_ok(q, strlen(q))) {
		hub_ws_action_fail(a, 400, bad_name, NULL);
		return;
	}
	if (strcmp(action, "subscription_create") == 0) {
		notify_create(a, q);
		return;
	}
	s = notify_find(a->conn, a->pub.project, q, sid);
	if (strcmp(action, "subscription_get") == 0) {
		if (s) {
			hub_ws_action_reply(a, 200, notify_json(s, a->pub.now_ms));
		} else {
			char error[128];

			/* Zaqar: the exception, and the handler's error. */
			snprintf(text, sizeof(text),
				 "Subscription %.64s does not exist", sid);
			snprintf(error, sizeof(error),
				 "Subscription %.64s does not exist.", sid);
			hub_ws_action_fail(a, 404, text, error);
		}
		return;
	}
	/* subscription_delete: removing what is not there succeeds. */
	if (s)
		sub_free(a->conn, s);
	snprintf(text, sizeof(text), "Subscription %.64s removed.", sid);
	hub_ws_action_reply(a, 204, json_string(text));
}

void hub_ws_conn_action(struct hub_ws_action *a, const char *action)
{
	if (strcmp(action, "subscribe") == 0) {
		if (!act_subscribe(a))
			return; /* ready_fn follows */
	} else if (strcmp(action, "unsubscribe") == 0) {
		act_unsubscribe(a);
	} else {
		act_subscription(a, action);
	}
	a->ready_fn(a);
}

/* ------------------------------------------------------- the stream URL */

/* Copies a query argument of the upgrade request; false when absent. */
static bool urlarg(struct lws *wsi, const char *name, char *buf, size_t len)
{
	/* lws copies "name=value" and points at the value. */
	const char *v = lws_get_urlarg_by_name(wsi, name, buf, (int)len);

	if (!v) {
		buf[0] = '\0';
		return false;
	}
	memmove(buf, v, strlen(v) + 1);
	return buf[0] != '\0';
}

/* Whether the upgrade's path is a stream URL (the route table says);
 * its queue into st, *bad_queue when the name breaks the rule. */
static bool stream_path(struct lws *wsi, struct hub_ws_stream *st,
			bool *bad_queue)
{
	struct hub_route_match m;
	char uri[256];

	if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0)
		return false;
	hub_route_lookup(HUB_GET, uri, &m);
	if (!m.route || m.attrs->websocket != HUB_WS_STREAM)
		return false;
	*bad_queue = m.bad_queue;
	memcpy(st->queue, m.queue, sizeof(st->queue));
	return true;
}

int hub_ws_stream_parse(struct lws *wsi, struct hub_ws_stream *st,
			const char **title, const char **desc)
{
	bool bad_queue = false;
	char buf[512];
	unsigned shard;

	memset(st, 0, sizeof(*st));
	if (!stream_path(wsi, st, &bad_queue))
		return -1;
	*title = "Invalid queue identification";
	*desc = bad_name;
	if (bad_queue)
		return 400;
	if (!hub_cluster_owns(st->queue, buf, &shard)) {
		*title = "Misdirected Request";
		*desc = "This node does not hold the queue's shard: connect "
			"through the cluster's balancer.";
		return 421;
	}
	if (urlarg(wsi, "project_id=", buf, sizeof(buf))) {
		if (strlen(buf) > FEED_PROJECT_MAX || !hub_project_ok(buf))
			return 400;
		memcpy(st->project, buf, strlen(buf) + 1);
	}
	if (urlarg(wsi, "marker=", buf, sizeof(buf))) {
		*title = HUB_CURSOR_BAD_MARKER_TITLE;
		*desc = HUB_CURSOR_BAD_MARKER_TEXT;
		if (!hub_cursor_marker_ok(buf))
			return 400;
		memcpy(st->marker, buf, FEED_ID_LEN + 1);
	}
	if (urlarg(wsi, "client_id=", buf, sizeof(buf))) {
		*title = "Wrong UUID value";
		*desc = "Malformed hexadecimal UUID.";
		if (hub_uuid_parse(buf, st->client))
			return 400;
		st->has_client = true;
	}
	st->echo = urlarg(wsi, "echo=", buf, sizeof(buf)) &&
		   (strcmp(buf, "true") == 0 || strcmp(buf, "1") == 0);
	return 0;
}

/* Answers a refused upgrade with `status` and a JSON error, as HTTP does. */
static int refuse_upgrade(struct lws *wsi, int status, const char *title,
			  const char *desc)
{
	json_t *j = json_pack("{s:s, s:s}", "title", title, "description", desc);
	char *body = j ? json_dumps(j, 0) : NULL;
	unsigned char buf[LWS_PRE + 1024];
	unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf);
	size_t len = body ? strlen(body) : 0;
	int rc = -1;

	json_decref(j);
	if (!body || len > sizeof(buf) - LWS_PRE)
		goto out;
	if (lws_add_http_common_headers(wsi, (unsigned)status,
					"application/json", len, &p, end) ||
	    lws_finalize_write_http_header(wsi, start, &p, end))
		goto out;
	memcpy(start, body, len);
	if (lws_write(wsi, start, len, LWS_WRITE_HTTP_FINAL) != (int)len)
		goto out;
	rc = 1; /* answered: lws completes the transaction */
out:
	free(body);
	return rc;
}

/* A known header of the upgrade, whole, into buf; false when absent,
 * too long or holding control characters. */
static bool upgrade_hdr(struct lws *wsi, enum lws_token_indexes h, char *buf,
			size_t len)
{
	int n = lws_hdr_total_length(wsi, h);

	buf[0] = '\0';
	if (n <= 0 || (size_t)n >= len || lws_hdr_copy(wsi, buf, (int)len, h) < 0)
		return false;
	for (char *c = buf; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return false;
	return strlen(buf) == (size_t)n;
}

/* A "bearer.TOKEN" entry of Sec-WebSocket-Protocol, into buf. */
static bool protocol_token(struct lws *wsi, char *buf, size_t len)
{
	char list[4096];

	if (!upgrade_hdr(wsi, WSI_TOKEN_PROTOCOL, list, sizeof(list)))
		return false;
	for (char *e = list; *e; e += strcspn(e, ",")) {
		size_t n;

		e += strspn(e, " ,");
		n = strcspn(e, ", ");
		if (n > 7 && n - 7 < len && strncmp(e, "bearer.", 7) == 0) {
			memcpy(buf, e + 7, n - 7);
			buf[n - 7] = '\0';
			return true;
		}
	}
	return false;
}

/* The upgrade's token, wherever it came (see hub_ws_upgrade_auth). */
static const char *upgrade_token(struct lws *wsi, char *buf, size_t len)
{
	if (upgrade_hdr(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, buf, len)) {
		if (strncasecmp(buf, "Bearer ", 7) != 0)
			return NULL;
		memmove(buf, buf + 7, strlen(buf + 7) + 1);
		return buf;
	}
	if (upgrade_hdr(wsi, WSI_TOKEN_X_AUTH_TOKEN, buf, len) ||
	    urlarg(wsi, "access_token=", buf, len) ||
	    protocol_token(wsi, buf, len))
		return buf;
	return NULL;
}

int hub_ws_upgrade_auth(struct lws *wsi, struct hub_server *srv,
			const struct hub_ws_stream *st, struct hub_ident *id,
			const char **why)
{
	char token[8192];
	struct hub_auth_cred cred = {
		.project = st->project[0] ? st->project : NULL,
	};
	int status = 401;

	memset(id, 0, sizeof(*id));
	if (!hub_auth_required(srv->auth))
		return 0; /* none: each action's headers say */
	cred.token = upgrade_token(wsi, token, sizeof(token));
	if (!cred.token && !st->queue[0])
		return 0; /* the actions endpoint: authenticate comes later */
	/* No waiting at an upgrade: a strategy that answers later
	 * (Keystone) is asked with the authenticate action instead. */
	if (hub_auth_resolve(srv->auth, &cred, hub_now_ms(), id, why, NULL) !=
	    HUB_AUTH_OK) {
		memset(id, 0, sizeof(*id));
		return 401;
	}
	if (st->queue[0] &&
	    !hub_auth_permits(id, HUB_AUTH_SUBSCRIBE, st->queue, hub_now_ms(),
			      &status, why))
		return status;
	return 0;
}

const char *hub_ws_conn_token(const struct hub_ws_conn *c)
{
	return c->token;
}

void hub_ws_conn_keep_token(struct hub_ws_conn *c, const char *token)
{
	free(c->token);
	c->token = token && *token ? strdup(token) : NULL;
}

void hub_ws_conn_keep_upgrade_token(struct hub_ws_conn *c, struct lws *wsi)
{
	char token[8192];

	hub_ws_conn_keep_token(c, upgrade_token(wsi, token, sizeof(token)));
}

int hub_ws_confirm_upgrade(struct lws *wsi)
{
	struct hub_server *srv = lws_context_user(lws_get_context(wsi));
	struct hub_ws_stream st;
	struct hub_ident id;
	const char *title = NULL, *desc = NULL;
	char origin[512] = "", host[256] = "";
	int status;

	/* A page of another origin may not open it (cors.h): a browser
	 * sends Origin, other clients usually none. */
	if (lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN) > 0 &&
	    (lws_hdr_copy(wsi, host, sizeof(host), WSI_TOKEN_HOST), true) &&
	    !hub_cors_allowed(srv->cfg.cors_origins, origin, host)) {
		hub_log(HUB_LOG_WARN, "ws: upgrade from origin %.200s refused "
			"(not in --cors-origins)", origin);
		return refuse_upgrade(wsi, 403, "Forbidden",
				      "This origin may not open WebSockets "
				      "here (see --cors-origins).");
	}
	status = hub_ws_stream_parse(wsi, &st, &title, &desc);
	if (status == 0 || status == -1) {
		status = hub_ws_upgrade_auth(wsi, srv, &st, &id, &desc);
		title = status == 401 ? "Unauthorized" : "Not authorized";
	}
	/* Other paths are for the protocol filter (ws.c) to judge. */
	return status > 0 ? refuse_upgrade(wsi, status, title, desc) : 0;
}

int hub_ws_stream_open(struct hub_ws_conn *c)
{
	const struct hub_ws_stream *st = &c->stream;
	struct refusal why;

	/* The credential's project, unless it lets the URL name one. */
	if (c->ident.resolved && !c->ident.any_project)
		memcpy(c->project, c->ident.project, sizeof(c->project));
	else
		memcpy(c->project, st->project, sizeof(c->project));
	memcpy(c->client_id, st->client, 16);
	c->has_client_id = st->has_client;
	if (!sub_new(c, SUB_STREAM, st->queue,
		     st->marker[0] ? HUB_CURSOR_MARKER : HUB_CURSOR_NOW,
		     st->marker, st->echo, &why)) {
		hub_log(HUB_LOG_WARN, "ws: stream of %s refused: %s", st->queue,
			why.text);
		return -1;
	}
	return 0;
}
