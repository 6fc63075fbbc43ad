/*
 * ws.c - WebSocket connections: GET /v2/ws (Zaqar's actions, plus
 * subscribe) and GET /v2/queues/{q}/stream (one subscription, no request
 * frame needed). Subprotocol "herald.v1", optional: the protocol is the
 * vhost's default, so a browser's `new WebSocket(url)` lands here too.
 *
 * THE LOG IS THE BUFFER. A subscription is only (queue, marker, flags) and
 * a hook in the subscriber registry (sub.c); it holds no messages:
 *
 *   commit on q --> hub_sub_notify --> wake: sub->pending = true,
 *                                       lws_callback_on_writable(wsi)
 *   SERVER_WRITEABLE --> feed_read(q, after sub->marker, <= 100 messages)
 *                    --> ONE frame (<= ~64 KiB), marker advanced
 *                    --> writable again while anything is pending
 *
 * A slow reader costs its marker; a reader that reconnects passes its last
 * marker and resumes with no gap and no duplicate. When feed reports that
 * messages after the marker were lost to expiry (or the marker is from a
 * deleted generation of the queue) the subscriber gets a `gap` frame
 * before the messages that follow the hole - never a silent skip.
 *
 * A connection:
 *
 *   rx frames --> actions: a FIFO, run one at a time in order, answered
 *                 through hub_route (ws_actions.c); frames out in order
 *   subs      --> up to max-subscriptions-per-connection, served
 *                 round-robin, one frame per writable callback;
 *                 response frames go first
 *
 * Reading stops (lws_rx_flow_control) while WS_MAX_QUEUED actions, or
 * WS_MAX_QUEUED_BYTES of their answers, wait to
 * be answered or written, so a client that sends without reading costs a
 * bounded amount of memory. Frames over the size limit get a 400 frame.
 * Idle connections are pinged by lws (info.retry_and_idle_policy in
 * server.c) and dropped when they stop answering.
 *
 * Loop thread only.
 */
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>

#include "clock.h"
#include "buf.h"
#include "transport/ws.h"

#define WS_MAX_QUEUED 32        /* actions waiting: then stop reading */
#define WS_RESUME_QUEUED 16     /* ... and read again at this many */
#define WS_MAX_QUEUED_BYTES (1u << 20) /* answers waiting: stop reading */
#define WS_BATCH 100            /* messages per frame at most */
#define WS_FRAME_SOFT 65536     /* stop adding messages past this size */
#define WS_FRAME_SLACK 65536    /* request frames: post size + this */

enum sub_kind {
	SUB_STREAM,  /* subscribe / stream URL: messages and gap frames */
	SUB_NOTIFY,  /* subscription_create: Zaqar's notification frames */
};

struct ws_sub {
	lws_dll2_t node;           /* in its connection's subs */
	struct hub_sub hook;       /* in the registry, woken on commits */
	struct hub_ws_conn *c;
	enum sub_kind kind;
	char id[37];
	char queue[FEED_NAME_MAX + 1];
	char marker[FEED_ID_LEN + 1]; /* "" = from the oldest */
	bool echo;
	bool pending;              /* may have something to send */
	lws_sorted_usec_list_t due; /* a delayed message falls due */
	uint64_t created_ms;
	long long ttl;             /* subscription_create's, reported only */
};

struct hub_ws_conn {
	struct lws *wsi;
	struct hub_server *srv;
	char id[37];
	/* The stream URL's parameters (stream_queue[0] == 0: /v2/ws). */
	char stream_queue[FEED_NAME_MAX + 1];
	char stream_marker[FEED_ID_LEN + 1];
	char stream_project[FEED_PROJECT_MAX + 1];
	bool stream_echo, stream_has_client;
	uint8_t stream_client[16];
	/* Subscriptions share one project and client: the last frame's. */
	char project[FEED_PROJECT_MAX + 1];
	uint8_t client_id[16];
	bool has_client_id;
	/* The message being received. */
	struct hub_buf rx;
	bool rx_started, rx_binary, rx_too_big;
	/* Actions, in order: answered (ready) ones wait to be written. */
	struct hub_ws_action *head, **tail;
	struct hub_ws_action *running;
	unsigned queued;
	bool rx_paused, in_run;
	lws_dll2_owner_t subs;
	struct ws_sub *rr;         /* round-robin: the next to serve */
};

struct pss {
	struct hub_ws_conn *c;
};


static void new_id(char out[37])
{
	uuid_t u;

	uuid_generate_random(u);
	uuid_unparse_lower(u, out);
}

/* ------------------------------------------------------- subscriptions */

static void sub_wake(struct hub_sub *hook)
{
	struct ws_sub *s = lws_container_of(hook, struct ws_sub, hook);

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
	hub_sub_detach(c->srv, &s->hook);
	lws_sul_cancel(&s->due);
	lws_dll2_remove(&s->node);
	free(s);
}

static void sub_due(lws_sorted_usec_list_t *sul)
{
	struct ws_sub *s = lws_container_of(sul, struct ws_sub, due);

	s->pending = true;
	lws_callback_on_writable(s->c->wsi);
}

/*
 * A read that came back empty may have stopped before a message that is
 * not due yet (a delayed one): no commit will announce it when it falls
 * due, so a timer does.
 */
static void sub_wait_due(struct hub_ws_conn *c, struct ws_sub *s,
			 const feed_read_opts_t *opts, uint64_t now)
{
	feed_read_opts_t peek = *opts;
	feed_msgs_t next = {0};

	peek.limit = 1;
	peek.flags |= FEED_READ_INCLUDE_DELAYED;
	if (feed_read(c->srv->feed, c->project, s->queue, s->marker, &peek,
		      now, &next) == 0 &&
	    next.n && next.v[0].due_ms > now)
		lws_sul_schedule(c->srv->ctx, 0, &s->due, sub_due,
				 (lws_usec_t)(next.v[0].due_ms - now) *
					 LWS_US_PER_MS);
	feed_msgs_free(&next);
}

/*
 * Starts a subscription on c->project's `queue` after `marker` ("" = the
 * oldest). Returns it, or NULL with *why set (status and text).
 */
static struct ws_sub *sub_new(struct hub_ws_conn *c, enum sub_kind kind,
			      const char *queue, const char *marker, bool echo,
			      int *status, const char **why)
{
	struct ws_sub *s;

	static char text[96]; /* loop thread only */

	if (c->subs.count >= c->srv->cfg.max_subs_per_connection) {
		snprintf(text, sizeof(text), "Too many subscriptions on this "
			 "connection (at most %u).",
			 c->srv->cfg.max_subs_per_connection);
		*status = 400;
		*why = text;
		return NULL;
	}
	if (hub_sub_count(c->srv) >= c->srv->cfg.max_subscribers) {
		*status = 503;
		*why = "Too many subscribers on this server.";
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		*status = 503;
		*why = "Out of memory.";
		return NULL;
	}
	s->c = c;
	s->kind = kind;
	s->echo = echo || !c->has_client_id;
	s->hook.wake = sub_wake;
	s->created_ms = hub_now_ms();
	new_id(s->id);
	snprintf(s->queue, sizeof(s->queue), "%s", queue);
	snprintf(s->marker, sizeof(s->marker), "%s", marker);
	if (hub_sub_attach(c->srv, &s->hook, c->project, queue)) {
		free(s);
		*status = 503;
		*why = "Out of memory.";
		return NULL;
	}
	lws_dll2_add_tail(&s->node, &c->subs);
	/* The backlog after the marker goes first. */
	s->pending = true;
	lws_callback_on_writable(c->wsi);
	return s;
}

/* The marker after the queue's newest message now ("" when empty). */
static int marker_now(struct hub_ws_conn *c, const char *queue,
		      char out[FEED_ID_LEN + 1])
{
	feed_queue_stats_t st;
	int rc = feed_queue_stats(c->srv->feed, c->project, queue,
				  hub_now_ms(), &st);

	out[0] = '\0';
	if (rc == 0 && st.total)
		memcpy(out, st.newest.id, FEED_ID_LEN + 1);
	return rc;
}

/* Writes one text frame (text is LWS_PRE + len). -1: drop the connection. */
static int send_text(struct hub_ws_conn *c, char *text, size_t len)
{
	return lws_write(c->wsi, (unsigned char *)text + LWS_PRE, len,
			 LWS_WRITE_TEXT) < (int)len
		       ? -1
		       : 0;
}

static int send_json(struct hub_ws_conn *c, json_t *frame)
{
	char *text = json_dumps(frame, JSON_ENCODE_ANY), *buf;
	size_t len;
	int rc;

	json_decref(frame);
	if (!text)
		return -1;
	len = strlen(text);
	buf = malloc(LWS_PRE + len);
	if (!buf) {
		free(text);
		return -1;
	}
	memcpy(buf + LWS_PRE, text, len);
	free(text);
	rc = send_text(c, buf, len);
	free(buf);
	return rc;
}

static json_t *event_msg(const feed_msg_t *m, uint64_t now_ms)
{
	json_t *body = json_loadb(m->body, m->body_len, JSON_DECODE_ANY, NULL);

	return json_pack("{s:s, s:I, s:I, s:o}", "id", m->id, "ttl",
			 (json_int_t)hub_secs(m->expires_ms - m->created_ms),
			 "age",
			 (json_int_t)hub_secs(now_ms > m->created_ms
						      ? now_ms - m->created_ms
						      : 0),
			 "body", body ? body : json_null());
}

/*
 * Sends out.v[0..n) as one "messages" frame. This runs once per subscriber
 * for every batch, so it writes the frame as text: the stored bodies are
 * JSON already (compact, as posted) and go in as they are, and ids, queue
 * names and subscription ids need no escaping. No parse, no tree.
 */
static int send_messages(struct hub_ws_conn *c, const struct ws_sub *s,
			 const feed_msgs_t *out, size_t n, uint64_t now)
{
	struct hub_buf t;
	int rc;

	hub_buf_init(&t, LWS_PRE); /* lws writes the frame in place */
	hub_buf_printf(&t, "{\"event\": \"messages\", \"subscription\": \"%s\", "
		    "\"queue_name\": \"%s\", \"messages\": [", s->id, s->queue);
	for (size_t i = 0; i < n; i++) {
		const feed_msg_t *m = &out->v[i];

		hub_buf_printf(&t, "%s{\"id\": \"%s\", \"ttl\": %lld, \"age\": %lld, "
			    "\"body\": ", i ? ", " : "", m->id,
			    hub_secs(m->expires_ms - m->created_ms),
			    hub_secs(now > m->created_ms ? now - m->created_ms
							 : 0));
		hub_buf_add(&t, m->body, m->body_len);
		hub_buf_add(&t, "}", 1);
	}
	hub_buf_printf(&t, "], \"marker\": \"%s\"}", s->marker);
	rc = t.failed ? -1 : send_text(c, t.data, t.len - LWS_PRE);
	hub_buf_free(&t);
	return rc;
}

/*
 * Serves s once: reads the next batch after its marker and sends it as
 * one frame. Returns 1 when a frame went out, 0 when there was nothing to
 * send (s->pending cleared), -1 to drop the connection.
 */
static int sub_serve(struct hub_ws_conn *c, struct ws_sub *s)
{
	uint64_t now = hub_now_ms();
	feed_read_opts_t opts = {
		.limit = s->kind == SUB_NOTIFY ? 1 : WS_BATCH,
		.flags = FEED_READ_INCLUDE_CLAIMED |
			 (s->echo ? FEED_READ_ECHO : 0u),
	};
	feed_msgs_t out = {0};
	json_t *frame = NULL;
	size_t n = 0, bytes = 0;
	int rc;

	memcpy(opts.client_id, c->client_id, 16);
	rc = feed_read(c->srv->feed, c->project, s->queue, s->marker, &opts,
		       now, &out);
	if (rc) {
		hub_log(HUB_LOG_ERROR, "ws: reading %s for a subscriber: %s",
			s->queue, feed_strerror(rc));
		s->pending = false; /* tried again at the next commit */
		return 0;
	}
	if (out.gap && s->kind == SUB_STREAM) {
		char resume[FEED_ID_LEN + 1];

		/* The gap first; its marker resumes before the messages
		 * that follow the hole, which the next read returns. */
		if (out.n == 0 || feed_marker_before(out.v[0].id, resume)) {
			if (out.n)
				hub_log(HUB_LOG_ERROR, "ws: cannot resume before "
					"%s; its batch is reported missed",
					out.v[0].id);
			memcpy(resume, out.next_marker, sizeof(resume));
			if (out.missed >= 0)
				out.missed += (int64_t)out.n;
		}
		frame = json_pack("{s:s, s:s, s:s, s:o, s:s}", "event", "gap",
				  "subscription", s->id, "queue_name", s->queue,
				  "missed",
				  out.missed >= 0 ? json_integer(out.missed)
						  : json_null(),
				  "marker", resume);
		memcpy(s->marker, resume, sizeof(resume));
		feed_msgs_free(&out);
		return send_json(c, frame) ? -1 : 1;
	}
	if (out.n == 0) {
		if (out.next_marker[0])
			memcpy(s->marker, out.next_marker, sizeof(s->marker));
		feed_msgs_free(&out);
		s->pending = false;
		sub_wait_due(c, s, &opts, now);
		return 0;
	}
	if (s->kind == SUB_NOTIFY) {
		json_t *m = event_msg(&out.v[0], now);

		frame = json_pack("{s:s, s:s, s:O, s:O}", "Message_Type",
				  "Notification", "queue_name", s->queue, "ttl",
				  json_object_get(m, "ttl"), "body",
				  json_object_get(m, "body"));
		json_decref(m);
		memcpy(s->marker, out.next_marker, sizeof(s->marker));
		feed_msgs_free(&out);
		return send_json(c, frame) ? -1 : 1;
	}
	for (n = 0; n < out.n && (n == 0 || bytes < WS_FRAME_SOFT); n++)
		bytes += out.v[n].body_len + 96;
	/* All of the batch went: resume where feed says (past skipped
	 * messages too); else after the last one sent. */
	memcpy(s->marker, n == out.n ? out.next_marker : out.v[n - 1].id,
	       sizeof(s->marker));
	rc = send_messages(c, s, &out, n, now);
	feed_msgs_free(&out);
	return rc ? -1 : 1;
}

/* ------------------------------------------------------------- actions */

static void run_next(struct hub_ws_conn *c);
static void conn_action(struct hub_ws_action *a, const char *action);

static void action_free(struct hub_ws_conn *c, struct hub_ws_action *a)
{
	if (a->job)
		a->job->req = NULL; /* the write goes on; done() frees ctx */
	hub_ws_action_clear(a);
	free(a);
	c->queued--;
	c->srv->inflight--;
}

/* Bytes of answers built and waiting for the client to read them. */
static size_t queued_bytes(const struct hub_ws_conn *c)
{
	size_t n = 0;

	for (const struct hub_ws_action *a = c->head; a; a = a->next)
		n += a->frame_len;
	return n;
}

/*
 * A client that sends without reading makes answers pile up: stop reading
 * it past WS_MAX_QUEUED actions or WS_MAX_QUEUED_BYTES of answers, read
 * again once it has taken its answers (TCP pushes back meanwhile).
 */
static void rx_budget(struct hub_ws_conn *c)
{
	bool over = c->queued >= WS_MAX_QUEUED ||
		    queued_bytes(c) >= WS_MAX_QUEUED_BYTES;

	if (over && !c->rx_paused) {
		c->rx_paused = true;
		lws_rx_flow_control(c->wsi, 0);
	} else if (!over && c->rx_paused && c->queued <= WS_RESUME_QUEUED &&
		   queued_bytes(c) < WS_MAX_QUEUED_BYTES / 2) {
		c->rx_paused = false;
		lws_rx_flow_control(c->wsi, 1);
	}
}

/* a's frame is set (a->ready_fn): write it in its turn, run the next. */
static void action_ready(struct hub_ws_action *a)
{
	struct hub_ws_conn *c = a->conn;

	a->ready = true;
	rx_budget(c);
	if (c->running == a)
		c->running = NULL;
	if (c->head && c->head->ready)
		lws_callback_on_writable(c->wsi);
	if (!c->in_run)
		run_next(c);
}

/* Runs the waiting actions, one at a time, in order. */
static void run_next(struct hub_ws_conn *c)
{
	c->in_run = true;
	for (struct hub_ws_action *a = c->head; a && !c->running; a = a->next) {
		if (a->started)
			continue;
		a->started = true;
		if (a->ready)
			continue; /* refused before it could run */
		c->running = a;
		a->pub.now_ms = hub_now_ms();
		if (hub_ws_action_run(a) == HUB_WS_ACTION_CONN)
			conn_action(a, json_string_value(
					       json_object_get(a->request, "action")));
	}
	c->in_run = false;
}

/* A new action for frame text (NULL: not decodable, `error` says why). */
static void action_queue(struct hub_ws_conn *c, json_t *doc, const char *error,
			 bool unexpected)
{
	struct hub_ws_action *a = calloc(1, sizeof(*a));
	json_t *action, *body, *headers;

	if (!a) {
		json_decref(doc);
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		return;
	}
	a->conn = c;
	a->ready_fn = action_ready;
	a->pub.srv = c->srv;
	a->pub.feed = c->srv->feed;
	a->pub.cfg = &c->srv->cfg;
	a->pub.project = "";
	a->pub.content_type = "";
	a->pub.prefix = "";
	c->srv->inflight++;
	c->queued++;
	*c->tail = a;
	c->tail = &a->next;
	action = json_is_object(doc) ? json_object_get(doc, "action") : NULL;
	body = json_is_object(doc) ? json_object_get(doc, "body") : NULL;
	headers = json_is_object(doc) ? json_object_get(doc, "headers") : NULL;
	a->request = json_pack("{s:O?, s:o, s:o, s:s}", "action", action,
			       "body", body ? json_incref(body) : json_object(),
			       "headers",
			       headers ? json_incref(headers) : json_object(),
			       "api", "v2");
	a->body = json_object_get(a->request, "body");
	json_decref(doc);
	if (error) {
		hub_ws_action_reply(a, 400, json_pack("{s:s}", "error", error));
		a->ready = true;
	} else if (unexpected) {
		hub_ws_action_reply(a, 400, json_pack("{s:s}", "error",
			"Unexpected body type. Expected dict or dict like."));
		a->ready = true;
	} else if (!json_is_string(action) || !json_is_object(a->body) ||
		   !json_is_object(json_object_get(a->request, "headers"))) {
		hub_ws_action_reply(a, 400, json_pack("{s:s}", "error",
					"Schema validation failed."));
		a->ready = true;
	}
	if (a->ready)
		lws_callback_on_writable(c->wsi);
	rx_budget(c);
	run_next(c);
}

static void on_message(struct hub_ws_conn *c)
{
	size_t limit = c->srv->cfg.limits.max_messages_post_size + WS_FRAME_SLACK;
	json_error_t err;
	json_t *doc;
	char text[512];

	if (c->rx_too_big) {
		snprintf(text, sizeof(text), "Frame too large. Max size %zu "
			 "bytes.", limit);
		action_queue(c, NULL, text, false);
		return;
	}
	if (c->rx_binary) {
		action_queue(c, NULL, "Can't decode binary (MessagePack) "
			     "request: Herald speaks JSON in text frames.",
			     false);
		return;
	}
	doc = json_loadb(c->rx.data ? c->rx.data : "", c->rx.len,
			 JSON_DECODE_ANY, &err);
	if (!doc) {
		snprintf(text, sizeof(text), "Can't decode text (JSON) request. "
			 "JSONDecodeError: %s: line %d column %d (char %d)",
			 err.text, err.line, err.column, err.position);
		action_queue(c, NULL, text, false);
		return;
	}
	action_queue(c, doc, NULL, !json_is_object(doc));
}

static int on_receive(struct hub_ws_conn *c, const void *in, size_t len)
{
	size_t limit = c->srv->cfg.limits.max_messages_post_size + WS_FRAME_SLACK;

	if (!c->rx_started) {
		c->rx_started = true;
		hub_buf_reset(&c->rx, 0);
		c->rx_too_big = false;
		c->rx_binary = lws_frame_is_binary(c->wsi);
	}
	if (!c->rx_too_big && c->rx.len + len > limit) {
		c->rx_too_big = true; /* the rest is read and dropped */
		hub_buf_free(&c->rx);
	}
	if (!c->rx_too_big && len) {
		hub_buf_add(&c->rx, in, len);
		if (c->rx.failed)
			return -1;
	}
	if (lws_is_final_fragment(c->wsi) &&
	    !lws_remaining_packet_payload(c->wsi)) {
		c->rx_started = false;
		on_message(c);
		if (c->rx.cap > 65536) /* keep a big buffer only while used */
			hub_buf_free(&c->rx);
	}
	return 0;
}

/* ------------------------------------------------ connection's actions */

static void reply_sub(struct hub_ws_action *a, struct ws_sub *s, int st,
		      const char *why)
{
	if (s)
		hub_ws_action_reply(a, 201,
				    json_pack("{s:s}", "subscription", s->id));
	else
		hub_ws_action_fail(a, st, why, NULL);
}

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

static void act_subscribe(struct hub_ws_action *a)
{
	struct hub_ws_conn *c = a->conn;
	const char *q = json_string_value(json_object_get(a->body, "queue_name"));
	json_t *jm = json_object_get(a->body, "marker");
	const char *from = json_string_value(json_object_get(a->body, "from"));
	char marker[FEED_ID_LEN + 1] = "";
	const char *why = NULL;
	struct ws_sub *s;
	uint64_t g, n;
	int st = 400;

	if (!hub_queue_name_ok(q, strlen(q))) {
		hub_ws_action_fail(a, 400, "The format of the submitted queue "
				   "name or project id is not valid.", NULL);
		return;
	}
	if ((jm && !json_is_null(jm) && !json_is_string(jm)) ||
	    (from && strcmp(from, "marker") && strcmp(from, "oldest") &&
	     strcmp(from, "now"))) {
		hub_ws_action_reply(a, 400, json_pack("{s:s}", "error",
					"Schema validation failed."));
		return;
	}
	if (!from)
		from = json_is_string(jm) ? "marker" : "now";
	if (strcmp(from, "marker") == 0) {
		const char *m = json_string_value(jm);

		if (!m || feed_id_parse(m, &g, &n)) {
			hub_ws_action_fail(a, 400, "Invalid marker: pass the id "
					   "of the last message seen.", NULL);
			return;
		}
		snprintf(marker, sizeof(marker), "%s", m);
	}
	if (!conn_identity(a))
		return;
	if (strcmp(from, "now") == 0 && marker_now(c, q, marker)) {
		hub_ws_action_fail(a, 503, "Storage failed. Please try again.",
				   NULL);
		return;
	}
	s = sub_new(c, SUB_STREAM, q, marker,
		    json_is_true(json_object_get(a->body, "echo")), &st, &why);
	reply_sub(a, s, st, why);
}

static json_t *notify_json(const struct ws_sub *s, uint64_t now_ms)
{
	char subscriber[64];

	snprintf(subscriber, sizeof(subscriber), "websocket://%s", s->c->id);
	return json_pack("{s:s, s:s, s:s, s:I, s:I, s:{}, s:b}", "id", s->id,
			 "source", s->queue, "subscriber", subscriber, "ttl",
			 (json_int_t)s->ttl, "age",
			 (json_int_t)hub_secs(now_ms > s->created_ms
						      ? now_ms - s->created_ms
						      : 0),
			 "options", "confirmed", 0);
}

static struct ws_sub *notify_find(struct hub_ws_conn *c, const char *project,
				  const char *queue, const char *id)
{
	lws_start_foreach_dll(struct lws_dll2 *, d, lws_dll2_get_head(&c->subs)) {
		struct ws_sub *s = lws_container_of(d, struct ws_sub, node);

		if (s->kind == SUB_NOTIFY && strcmp(s->queue, queue) == 0 &&
		    strcmp(c->project, project) == 0 &&
		    (!id || strcmp(s->id, id) == 0))
			return s;
	} lws_end_foreach_dll(d);
	return NULL;
}

/* subscription_*: Zaqar's WebSocket push, to this connection only. */
static void act_subscription(struct hub_ws_action *a, const char *action)
{
	struct hub_ws_conn *c = a->conn;
	const char *q = json_string_value(json_object_get(a->body, "queue_name"));
	const char *sid = json_string_value(
		json_object_get(a->body, "subscription_id"));
	uint64_t now = a->pub.now_ms;
	char text[256];
	struct ws_sub *s;

	if (!hub_queue_name_ok(q, strlen(q))) {
		hub_ws_action_fail(a, 400, "The format of the submitted queue "
				   "name or project id is not valid.", NULL);
		return;
	}
	if (strcmp(action, "subscription_create") == 0) {
		char marker[FEED_ID_LEN + 1];
		json_t *ttl = json_object_get(a->body, "ttl");
		const char *why = NULL;
		int st = 400;

		if (json_object_get(a->body, "subscriber")) {
			hub_ws_action_fail(a, 400, "Herald pushes subscriptions "
					   "to the WebSocket connection itself; "
					   "subscriber URLs (webhooks) are not "
					   "supported.", NULL);
			return;
		}
		if (!conn_identity(a))
			return;
		if (notify_find(c, a->pub.project, q, NULL)) {
			hub_ws_action_reply(a, 409, json_string(
				"Subscription already exists."));
			return;
		}
		if (marker_now(c, q, marker)) {
			hub_ws_action_fail(a, 503, "Storage failed. Please try "
					   "again.", NULL);
			return;
		}
		s = sub_new(c, SUB_NOTIFY, q, marker, true, &st, &why);
		if (!s) {
			hub_ws_action_fail(a, st, why, NULL);
			return;
		}
		s->ttl = ttl ? json_integer_value(ttl) : 3600;
		snprintf(text, sizeof(text), "Subscription %s created.", q);
		hub_ws_action_reply(a, 201, json_pack("{s:s, s:s}",
				    "subscription_id", s->id, "message", text));
		return;
	}
	if (strcmp(action, "subscription_list") == 0) {
		json_t *arr = json_array();

		lws_start_foreach_dll(struct lws_dll2 *, d,
				      lws_dll2_get_head(&c->subs)) {
			s = lws_container_of(d, struct ws_sub, node);
			if (s->kind == SUB_NOTIFY && strcmp(s->queue, q) == 0 &&
			    strcmp(c->project, a->pub.project) == 0)
				json_array_append_new(arr, notify_json(s, now));
		} lws_end_foreach_dll(d);
		hub_ws_action_reply(a, 200, json_pack("{s:o}", "subscriptions",
						      arr));
		return;
	}
	s = notify_find(c, a->pub.project, q, sid);
	if (strcmp(action, "subscription_get") == 0) {
		if (s) {
			hub_ws_action_reply(a, 200, notify_json(s, now));
		} else {
			snprintf(text, sizeof(text),
				 "Subscription %.64s does not exist", sid);
			hub_ws_action_fail(a, 404, text, NULL);
		}
		return;
	}
	/* subscription_delete: removing what is not there succeeds. */
	if (s)
		sub_free(c, s);
	snprintf(text, sizeof(text), "Subscription %.64s removed.", sid);
	hub_ws_action_reply(a, 204, json_string(text));
}

/* The actions that touch the connection (subscribe, unsubscribe,
 * subscription_*), after ws_actions.c's common checks. */
static void conn_action(struct hub_ws_action *a, const char *action)
{
	struct hub_ws_conn *c = a->conn;

	if (strcmp(action, "subscribe") == 0) {
		act_subscribe(a);
	} else if (strcmp(action, "unsubscribe") == 0) {
		const char *id = json_string_value(
			json_object_get(a->body, "subscription"));
		struct ws_sub *s = sub_find(c, id);
		char text[128];

		if (s) {
			sub_free(c, s);
			hub_ws_action_reply(a, 204, NULL);
		} else {
			snprintf(text, sizeof(text),
				 "Subscription %.64s does not exist", id);
			hub_ws_action_fail(a, 404, text, NULL);
		}
	} else {
		act_subscription(a, action);
	}
	action_ready(a);
}

/* ------------------------------------------------------------- writing */

/* The next subscription with something pending, round-robin. */
static struct ws_sub *sub_next(struct hub_ws_conn *c, struct ws_sub *after)
{
	struct lws_dll2 *d = after ? after->node.next : NULL;

	if (!d)
		d = lws_dll2_get_head(&c->subs);
	return d ? lws_container_of(d, struct ws_sub, node) : NULL;
}

static int on_writeable(struct hub_ws_conn *c)
{
	struct hub_ws_action *a = c->head;
	struct ws_sub *s;
	bool more = false;

	if (a && a->ready) {
		if (!a->frame)
			return -1; /* could not build it: no silent drop */
		if (send_text(c, a->frame, a->frame_len))
			return -1;
		c->head = a->next;
		if (!c->head)
			c->tail = &c->head;
		action_free(c, a);
		rx_budget(c);
		more = true; /* subscriptions or the next response */
	} else {
		/* One frame for the first subscription that has one. */
		s = c->rr;
		for (unsigned i = 0; i < c->subs.count; i++) {
			int rc;

			s = sub_next(c, s);
			if (!s->pending)
				continue;
			rc = sub_serve(c, s);
			if (rc < 0)
				return -1;
			if (rc > 0) {
				c->rr = s;
				more = true; /* it may have more */
				break;
			}
		}
	}
	if (!more) {
		lws_start_foreach_dll(struct lws_dll2 *, d,
				      lws_dll2_get_head(&c->subs)) {
			if (lws_container_of(d, struct ws_sub, node)->pending)
				more = true;
		} lws_end_foreach_dll(d);
	}
	if (more || (c->head && c->head->ready))
		lws_callback_on_writable(c->wsi);
	return 0;
}

/* ---------------------------------------------------------- connections */

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

/*
 * Only /v2/ws and /v2/queues/{q}/stream upgrade; the stream's parameters
 * are checked here, so a bad one refuses the upgrade. Returns nonzero to
 * refuse.
 */
static int filter(struct lws *wsi, struct hub_ws_conn *c);

static int on_filter(struct lws *wsi, struct pss *pss, struct hub_server *srv)
{
	struct hub_ws_conn *c;

	if (!pss || srv->stopping)
		return 1;
	c = calloc(1, sizeof(*c));
	if (!c)
		return 1;
	c->srv = srv;
	c->tail = &c->head;
	new_id(c->id);
	if (filter(wsi, c)) {
		free(c);
		return 1;
	}
	pss->c = c;
	return 0;
}

static int filter(struct lws *wsi, struct hub_ws_conn *c)
{
	char uri[256], buf[512];
	uint64_t g, n;

	if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0)
		return 1;
	if (strcmp(uri, "/v2/ws") == 0 || strcmp(uri, "/v2/ws/") == 0)
		return 0;
	if (strncmp(uri, "/v2/queues/", 11) != 0)
		return 1;
	{
		const char *q = uri + 11, *slash = strchr(q, '/');

		if (!slash || strcmp(slash, "/stream") != 0 ||
		    (size_t)(slash - q) > FEED_NAME_MAX)
			return 1;
		memcpy(c->stream_queue, q, (size_t)(slash - q));
		c->stream_queue[slash - q] = '\0';
	}
	if (!hub_queue_name_ok(c->stream_queue, strlen(c->stream_queue)))
		return 1;
	if (urlarg(wsi, "marker=", buf, sizeof(buf))) {
		if (strlen(buf) != FEED_ID_LEN || feed_id_parse(buf, &g, &n))
			return 1;
		memcpy(c->stream_marker, buf, FEED_ID_LEN + 1);
	}
	if (urlarg(wsi, "client_id=", buf, sizeof(buf))) {
		if (hub_uuid_parse(buf, c->stream_client))
			return 1;
		c->stream_has_client = true;
	}
	if (urlarg(wsi, "project_id=", buf, sizeof(buf))) {
		if (strlen(buf) > FEED_PROJECT_MAX)
			return 1;
		snprintf(c->stream_project, sizeof(c->stream_project), "%s", buf);
	}
	c->stream_echo = urlarg(wsi, "echo=", buf, sizeof(buf)) &&
			 (strcmp(buf, "true") == 0 || strcmp(buf, "1") == 0);
	return 0;
}

static int on_established(struct lws *wsi, struct pss *pss)
{
	struct hub_ws_conn *c = pss ? pss->c : NULL;
	const char *why = NULL;
	int st;

	if (!c)
		return -1;
	c->wsi = wsi;
	if (!c->stream_queue[0])
		return 0;
	/* The stream URL: one subscription, from the marker or from now. */
	memcpy(c->project, c->stream_project, sizeof(c->project));
	memcpy(c->client_id, c->stream_client, 16);
	c->has_client_id = c->stream_has_client;
	if (!c->stream_marker[0] &&
	    marker_now(c, c->stream_queue, c->stream_marker))
		return -1;
	if (!sub_new(c, SUB_STREAM, c->stream_queue, c->stream_marker,
		     c->stream_echo, &st, &why)) {
		hub_log(HUB_LOG_WARN, "ws: stream of %s refused: %s",
			c->stream_queue, why);
		return -1;
	}
	return 0;
}

static void on_closed(struct pss *pss)
{
	struct hub_ws_conn *c = pss ? pss->c : NULL;
	struct lws_dll2 *d;

	if (!c)
		return;
	pss->c = NULL;
	while ((d = lws_dll2_get_head(&c->subs)))
		sub_free(c, lws_container_of(d, struct ws_sub, node));
	while (c->head) {
		struct hub_ws_action *a = c->head;

		c->head = a->next;
		action_free(c, a);
	}
	hub_buf_free(&c->rx);
	free(c);
}

static int callback_ws(struct lws *wsi, enum lws_callback_reasons reason,
		       void *user, void *in, size_t len)
{
	struct pss *pss = user;
	struct hub_server *srv =
		wsi ? lws_context_user(lws_get_context(wsi)) : NULL;

	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return on_filter(wsi, pss, srv);
	case LWS_CALLBACK_ESTABLISHED:
		return on_established(wsi, pss);
	case LWS_CALLBACK_RECEIVE:
		return pss && pss->c ? on_receive(pss->c, in, len) : -1;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return pss && pss->c && pss->c->wsi ? on_writeable(pss->c) : 0;
	case LWS_CALLBACK_CLOSED:
		on_closed(pss);
		break;
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		/* The writer's hand-back is collected by the HTTP protocol
		 * (lws calls this for every protocol). */
		break;
	default:
		break;
	}
	return 0;
}

const struct lws_protocols hub_ws_protocol = {
	.name = "herald.v1",
	.callback = callback_ws,
	.per_session_data_size = sizeof(struct pss),
	.rx_buffer_size = 65536,
};
