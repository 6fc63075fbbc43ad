/*
 * ws.c - WebSocket connections: GET /v2/ws and GET / (Zaqar's actions, plus
 * subscribe) and GET /v2/queues/{q}/stream (one subscription, no request
 * frame needed). Subprotocol "herald.v1", optional: the protocol is the
 * vhost's default, so a browser's `new WebSocket(url)` lands here too.
 *
 * This file owns the lws protocol, the connection and its frames in and
 * out; ws_sub.c owns its subscriptions (and the stream URL's checks),
 * ws_actions.c runs Zaqar's actions. A connection:
 *
 *   rx frames --> actions: a FIFO, run one at a time in order, answered
 *                 through hub_route (ws_actions.c); frames out in order
 *   subs      --> up to max-subscriptions-per-connection (ws_sub.c),
 *                 served round-robin, one frame per writable callback;
 *                 response frames go first
 *
 * Reading stops (lws_rx_flow_control) while WS_MAX_QUEUED actions, or
 * WS_MAX_QUEUED_BYTES of their answers, wait to
 * be answered or written, so a client that sends without reading costs a
 * bounded amount of memory. Frames over the size limit get a 400 frame.
 * Idle connections are pinged and dropped when they stop answering by
 * a coarse sweep per vhost (keepalive.h: lws's own validity timers cost
 * O(connections) per pong): a ping after WS_PING_MS..2x of silence, the
 * hangup after WS_HANGUP_MS..+WS_PING_MS, on the API clock (hub_now_ms:
 * tests move it; a wall-clock jump forward pings and may drop the silent
 * connections early - they reconnect and resume from their markers).
 *
 * Drain (SIGTERM, HUB_CALLBACK_DRAIN): every connection is woken; once
 * the answers to its actions are written it is closed with 1001 (going
 * away), so clients reconnect elsewhere or later and resume from their
 * markers. The connections open at that moment count as in flight until
 * they are closed, so the server waits for the close handshakes (bounded
 * by its drain time) instead of dropping the sockets.
 *
 * Loop thread only.
 */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "cors.h"
#include "buf.h"
#include "metrics.h"
#include "transport/keepalive.h"
#include "transport/ws_conn.h"

#define WS_MAX_QUEUED 32        /* actions waiting: then stop reading */
#define WS_RESUME_QUEUED 16     /* ... and read again at this many */
#define WS_MAX_QUEUED_BYTES (1u << 20) /* answers waiting: stop reading */
#define WS_FRAME_SLACK 65536    /* request frames: post size + this */
#define WS_FRAME_KEEP (256u << 10) /* the frame buffer kept between writes */

#define WS_PING_MS 30000       /* idle this long: a ping */
#define WS_HANGUP_MS 75000     /* idle this long: hung up */
#define WS_KA_TICK_MS 1000     /* the sweep's step */

struct pss {
	struct hub_ws_conn *c;
};

/* The vhost's (so the loop's) part: its connections' idle sweep. */
struct ws_vhd {
	struct hub_ka ka;
	lws_sorted_usec_list_t sul;
	struct lws_context *ctx;
};

static void ka_ping(struct hub_ka_conn *k, void *arg)
{
	struct hub_ws_conn *c = lws_container_of(k, struct hub_ws_conn, ka);

	(void)arg;
	c->ping_due = true;
	lws_callback_on_writable(c->wsi);
}

static void ka_hangup(struct hub_ka_conn *k, void *arg)
{
	struct hub_ws_conn *c = lws_container_of(k, struct hub_ws_conn, ka);

	(void)arg;
	lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

static void ka_tick(lws_sorted_usec_list_t *sul)
{
	struct ws_vhd *v = lws_container_of(sul, struct ws_vhd, sul);

	hub_ka_sweep(&v->ka, hub_idle_ms());
	lws_sul_schedule(v->ctx, 0, &v->sul, ka_tick,
			 WS_KA_TICK_MS * LWS_US_PER_MS);
}

static struct ws_vhd *vhd_of(struct lws *wsi)
{
	return lws_protocol_vh_priv_get(lws_get_vhost(wsi),
					lws_get_protocol(wsi));
}

/* Writes one text frame (text is LWS_PRE + len): one per WRITEABLE
 * callback. -1: drop the connection. */
static int send_text(struct hub_ws_conn *c, char *text, size_t len)
{
	hub_metrics_ws_bytes(0, len);
	return lws_write(c->wsi, (unsigned char *)text + LWS_PRE, len,
			 LWS_WRITE_TEXT) < (int)len
		       ? -1
		       : 0;
}

/* ------------------------------------------------------------- actions */

static void run_next(struct hub_ws_conn *c);

static void action_free(struct hub_ws_conn *c, struct hub_ws_action *a)
{
	if (a->job)
		a->job->req = NULL; /* the write goes on; done() frees ctx */
	if (a->auth_pending)
		hub_auth_cancel(&a->auth_wait);
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
			hub_ws_conn_action(a, json_string_value(json_object_get(
						      a->request, "action")));
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
	a->conn_ident = &c->ident;
	a->ready_fn = action_ready;
	a->pub.srv = c->srv;
	a->pub.writer = c->srv->writer;
	a->pub.loop = c->srv->loop;
	a->pub.subs = c->srv->subs;
	a->pub.hooks = c->srv->hooks;
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

/* ------------------------------------------------------------- writing */

static int on_writeable(struct hub_ws_conn *c)
{
	struct hub_ws_action *a = c->head;
	bool more = false;

	if (c->srv->stopping && !a) {
		static const char why[] = "server stopping";

		lws_close_reason(c->wsi, LWS_CLOSE_STATUS_GOINGAWAY,
				 (unsigned char *)why, sizeof(why) - 1);
		return -1;
	}
	if (c->ping_due) { /* the sweep's ping: this write's one frame */
		/* With a payload: lws 4.1.6 hands an empty pong to nobody
		 * (ops-ws.c), and the pong is what tells the sweep. */
		unsigned char ping[LWS_PRE + 2];

		c->ping_due = false;
		memcpy(ping + LWS_PRE, "hb", 2);
		if (lws_write(c->wsi, ping + LWS_PRE, 2, LWS_WRITE_PING) < 0)
			return -1;
		lws_callback_on_writable(c->wsi); /* whatever else waits */
		return 0;
	}
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
		/* One frame for the first subscription that has one, built
		 * in the loop's one frame buffer: lws copies what the socket
		 * does not take, so no subscriber holds a buffer. */
		struct hub_buf *frame = &c->srv->frame;
		int rc;

		hub_buf_reset(frame, 0);
		rc = hub_ws_sub_serve(c, frame);
		if (rc > 0 && send_text(c, frame->data, frame->len - LWS_PRE))
			rc = -1;
		if (frame->cap > WS_FRAME_KEEP)
			hub_buf_free(frame); /* keep only a usual frame's room */
		if (rc < 0)
			return -1;
		/* It may have more: hub_ws_sub_pending() says, below. */
	}
	if (more || hub_ws_sub_pending(c) || (c->head && c->head->ready))
		lws_callback_on_writable(c->wsi);
	return 0;
}

/* ---------------------------------------------------------- connections */

/*
 * Only the route table's WebSocket endpoints upgrade (/v2/ws, / and the
 * stream URL); the stream's parameters were checked at the upgrade
 * (hub_ws_confirm_upgrade answered a bad one with a 400), and are read
 * here. Returns nonzero to refuse.
 */
static bool actions_path(struct lws *wsi)
{
	struct hub_route_match m;
	char uri[256];

	if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0)
		return false;
	hub_route_lookup(HUB_GET, uri, &m);
	return m.route && m.attrs->websocket == HUB_WS_ACTIONS;
}

static int on_filter(struct lws *wsi, struct pss *pss, struct hub_server *srv)
{
	struct hub_ws_conn *c;
	const char *title, *desc;
	int st;

	char origin[512] = "", host[256] = "";

	if (!pss || srv->stopping)
		return 1;
	/* The Origin check (cors.h) again: lws does not always ask this
	 * protocol to confirm the upgrade (ws_sub.c) before it binds. */
	if (lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN) > 0 &&
	    (lws_hdr_copy(wsi, host, sizeof(host), WSI_TOKEN_HOST), true) &&
	    !hub_cors_allowed(srv->cfg.cors_origins, origin, host))
		return 1;
	c = calloc(1, sizeof(*c));
	if (!c)
		return 1;
	c->srv = srv;
	c->tail = &c->head;
	hub_uuid_new(c->id);
	st = hub_ws_stream_parse(wsi, &c->stream, &title, &desc);
	if (st < 0 && !actions_path(wsi))
		st = 1; /* no WebSocket endpoint */
	/* The credentials were judged at the upgrade's confirmation (a
	 * refusal answered there with JSON): this keeps the identity. */
	if (st <= 0 && hub_ws_upgrade_auth(wsi, srv, &c->stream, &c->ident,
					   &title))
		st = 1;
	if (st > 0) {
		free(c);
		return 1;
	}
	if (c->ident.resolved)
		hub_ws_conn_keep_upgrade_token(c, wsi);
	pss->c = c;
	return 0;
}

static int on_established(struct lws *wsi, struct pss *pss)
{
	struct hub_ws_conn *c = pss ? pss->c : NULL;

	if (!c || c->srv->stopping)
		return -1; /* upgraded after the drain began: not counted */
	c->wsi = wsi;
	c->srv->ws_conns++;
	c->ka_owner = vhd_of(wsi) ? &vhd_of(wsi)->ka : NULL;
	if (c->ka_owner)
		hub_ka_add(c->ka_owner, &c->ka, hub_idle_ms());
	/* The stream URL: one subscription, from the marker or from now. */
	return c->stream.queue[0] ? hub_ws_stream_open(c) : 0;
}

static void on_closed(struct pss *pss)
{
	struct hub_ws_conn *c = pss ? pss->c : NULL;

	if (!c)
		return;
	pss->c = NULL;
	if (c->wsi) { /* established: counted */
		c->srv->ws_conns--;
		if (c->ka_owner)
			hub_ka_remove(c->ka_owner, &c->ka);
		if (c->srv->stopping)
			c->srv->inflight--; /* counted at the drain */
	}
	hub_ws_sub_close_all(c);
	while (c->head) {
		struct hub_ws_action *a = c->head;

		c->head = a->next;
		action_free(c, a);
	}
	hub_buf_free(&c->rx);
	free(c->token);
	free(c);
}

static int callback_ws(struct lws *wsi, enum lws_callback_reasons reason,
		       void *user, void *in, size_t len)
{
	struct pss *pss = user;
	struct hub_server *srv =
		wsi ? lws_context_user(lws_get_context(wsi)) : NULL;

	switch ((int)reason) { /* HUB_CALLBACK_DRAIN is no lws reason */
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		/* lws asks the connection's protocol before it has a mount,
		 * which is the vhost's default: this one (server.c). */
		return hub_ws_confirm_upgrade(wsi);
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return on_filter(wsi, pss, srv);
	case LWS_CALLBACK_ESTABLISHED:
		return on_established(wsi, pss);
	case LWS_CALLBACK_PROTOCOL_INIT: {
		struct ws_vhd *v = lws_protocol_vh_priv_zalloc(
			lws_get_vhost(wsi), lws_get_protocol(wsi), sizeof(*v));

		if (!v)
			return -1;
		v->ctx = lws_get_context(wsi);
		hub_ka_init(&v->ka, WS_PING_MS, WS_HANGUP_MS, WS_KA_TICK_MS,
			    ka_ping, ka_hangup, NULL);
		lws_sul_schedule(v->ctx, 0, &v->sul, ka_tick,
				 WS_KA_TICK_MS * LWS_US_PER_MS);
		break;
	}
	case LWS_CALLBACK_PROTOCOL_DESTROY: {
		struct ws_vhd *v = vhd_of(wsi);

		if (v)
			lws_sul_cancel(&v->sul);
		break;
	}
	case LWS_CALLBACK_RECEIVE_PONG:
		if (pss && pss->c && pss->c->ka_owner)
			hub_ka_seen(&pss->c->ka, hub_idle_ms());
		break;
	case LWS_CALLBACK_RECEIVE:
		if (pss && pss->c && pss->c->ka_owner)
			hub_ka_seen(&pss->c->ka, hub_idle_ms());
		hub_metrics_ws_bytes(len, 0);
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
	case HUB_CALLBACK_DRAIN:
		/* A fake wsi bound to the vhost (lws_callback_vhost_protocols_
		 * vhost): wake every connection, see the top. */
		if (!srv)
			break;
		srv->inflight += srv->ws_conns;
		lws_callback_on_writable_all_protocol_vhost(
			lws_get_vhost(wsi), lws_get_protocol(wsi));
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
	/* lws 4.1 mallocs each connection's frame buffer at this size
	 * (lws_server_init_wsi_for_ws). At 64 KiB an idle connection cost
	 * 8.1 KiB resident and 85 KiB of address space, at 1 KiB 5.1 KiB
	 * (ws_bench, 10,000 subscribers). Frames longer than it arrive in
	 * pieces, which on_receive() joins; subscribers send little. */
	.rx_buffer_size = 1024,
	/* lws_issue_raw() sends at most this a call (the buffer's size when
	 * 0): a coalesced write's whole budget goes at once. */
	.tx_packet_size = 65536,
};
