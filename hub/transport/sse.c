/*
 * sse.c - Server-Sent Events: GET /v2/queues/{q}/events.
 *
 * A stream is a cursor (live/cursor.c: queue, marker, filters, and a wake
 * hook on the queue) and the bytes of one batch not yet written; the log
 * is the buffer. Whenever the connection can take more, next() asks the
 * cursor for its next batch and frames it as events; a commit to the
 * queue, or the cursor's due timer (a delayed message falls due), wakes
 * the stream. Nothing is queued per subscriber beyond the one batch being
 * written (about 64 KiB), so a client that reads slowly costs its socket
 * buffer and that batch, not a backlog.
 *
 *   id: <message id>                  one event per message; the id is
 *   event: message                    the marker to resume from, which
 *   data: {"id", "ttl", "age", "body"}  EventSource sends back as
 *                                      Last-Event-ID on a reconnect
 *   event: gap
 *   data: {"missed": N|null, "resume_marker": "<id>"}
 *                                      resume_marker: before the first
 *                                      message after the hole
 *
 *   : ping                            after 15-30 s without a write, so
 *                                      proxies keep it open
 *
 * Where it starts: after Last-Event-ID if sent (it wins), else after
 * ?marker=, else after the newest message now ("from now"). A malformed
 * marker is refused with the cursor's 400 before the stream starts; a
 * marker of a deleted generation of the queue, like messages lost to
 * expiry, becomes a gap event; nothing is skipped silently. ?echo=false
 * leaves out the reader's own messages (default: all), and claimed
 * messages are sent too: a stream follows the log, not a worker's view.
 * A stream whose queue's shard has moved to another node ends once it
 * has had what this node held (the cursor's MOVED; the move's drop wakes
 * it), and the client reconnects.
 *
 * Loop (lws service) thread only.
 */
#include <stdlib.h>
#include <string.h>

#include "req.h"
#include "buf.h"
#include "clock.h"
#include "log.h"
#include "transport/keepalive.h"
#include "metrics.h"
#include "server.h"
#include "api/api.h"
#include "live/cursor.h"
#include "live/wait.h"
#include "live/sub.h"

#define BEAT_MS 15000     /* a comment after 15-30 s without a write */
#define BEAT_TICK_MS 1000 /* the heartbeat sweep's step */
#define PAGE 50           /* messages per read, at most */
#define BATCH_BYTES 65536 /* rendered ahead of the socket, about */

/*
 * Heartbeats by a coarse sweep (transport/keepalive.h), one per loop:
 * a stream says when it last wrote, and the sweep looks at a slice of
 * the loop's streams each second, so a heartbeat costs O(1) per stream,
 * not a re-insert into lws's sorted timer list per stream every 15 s
 * (O(streams) each). Each loop is one thread (server.h): the sweep is
 * that thread's. It ticks only while the loop has streams.
 */
static _Thread_local struct {
	struct hub_ka ka;
	lws_sorted_usec_list_t sul;
	struct lws_context *ctx;
	bool ticking;
} beats;

struct sse {
	struct hub_req *r; /* the request that owns the stream */
	struct hub_cursor cur;
	struct hub_ka_conn ka; /* last_ms: its last write */
	bool beat_due;
	/* Rendered, not yet handed to the transport. */
	struct hub_buf pend;
	size_t pend_off; /* handed over up to here */
};

static void render_gap(struct sse *s, const struct hub_cursor_batch *b)
{
	if (b->missed >= 0)
		hub_buf_printf(&s->pend, "event: gap\ndata: {\"missed\": %lld, "
			       "\"resume_marker\": \"%s\"}\n\n",
			       (long long)b->missed, b->marker);
	else
		hub_buf_printf(&s->pend, "event: gap\ndata: {\"missed\": null, "
			       "\"resume_marker\": \"%s\"}\n\n", b->marker);
}

/* One event per message: the batch's rendered objects, the same bytes a
 * WebSocket frame carries (shared: live/tail.c). The stored body is
 * compact JSON: no newline, so it fits one data: line as it is. */
static void render_msgs(struct sse *s, const struct hub_cursor_batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		hub_buf_add(&s->pend, "id: ", 4);
		hub_buf_add(&s->pend, b->items[i].id, FEED_ID_LEN);
		hub_buf_add(&s->pend, "\nevent: message\ndata: ", 22);
		hub_buf_add(&s->pend, b->items[i].json, b->items[i].len);
		hub_buf_add(&s->pend, "\n\n", 2);
	}
}

/* The cursor's next batches into pend: a gap, then the messages after it. */
static int fill(struct sse *s)
{
	struct hub_cursor_batch b;
	int rc = 0;

	for (int i = 0; i < 2 && rc == 0; i++) {
		rc = hub_cursor_next(&s->cur, hub_now_ms(), &b);
		if (rc) {
			hub_log(HUB_LOG_ERROR, "sse: reading %s: %s",
				s->cur.queue, feed_strerror(rc));
			break;
		}
		/* Its queue moved to another node (docs/scale.md): end the
		 * stream, so the client reconnects through the balancer,
		 * to the owner, from its Last-Event-ID. */
		if (b.kind == HUB_BATCH_MOVED)
			return -1;
		if (b.kind == HUB_BATCH_GAP)
			render_gap(s, &b);
		else if (b.kind == HUB_BATCH_MSGS)
			render_msgs(s, &b);
		hub_cursor_batch_free(&b);
		if (b.kind != HUB_BATCH_GAP)
			break;
	}
	return rc || s->pend.failed ? -1 : 0;
}

static long sse_next(void *state, char *buf, size_t len)
{
	struct sse *s = state;
	size_t n;

	if (s->pend_off == s->pend.len) {
		s->pend_off = 0;
		hub_buf_reset(&s->pend, 0);
		if (s->beat_due)
			hub_buf_add(&s->pend, ": ping\n\n", 8);
		s->beat_due = false;
		if (fill(s))
			return -1;
	}
	n = s->pend.len - s->pend_off;
	if (n == 0)
		return 0; /* nothing new: wait for a wake */
	hub_ka_seen(&s->ka, hub_idle_ms());
	if (n > len)
		n = len;
	memcpy(buf, s->pend.data + s->pend_off, n);
	s->pend_off += n;
	/* The transport asks for writable again after any write, so the
	 * rest of pend, or the next batch, follows. */
	return (long)n;
}

static void sse_free(void *state)
{
	struct sse *s = state;

	hub_cursor_close(&s->cur);
	hub_ka_remove(&beats.ka, &s->ka);
	if (beats.ticking && !beats.ka.conns.count) {
		/* The loop's last stream: no ticks, and the next stream sets
		 * the sweep up again (on whatever context it is then). */
		lws_sul_cancel(&beats.sul);
		beats.ticking = false;
		beats.ctx = NULL;
	}
	hub_buf_free(&s->pend);
	free(s);
}

static const struct hub_stream_ops sse_ops = {
	.next = sse_next,
	.free = sse_free,
};

static void sse_wake(struct hub_cursor *c)
{
	struct sse *s = lws_container_of(c, struct sse, cur);

	hub_stream_wake(s->r);
}

/* The sweep's "ping": a heartbeat comment with the stream's next write. */
static void beat_due(struct hub_ka_conn *c, void *arg)
{
	struct sse *s = lws_container_of(c, struct sse, ka);

	(void)arg;
	s->beat_due = true;
	hub_stream_wake(s->r);
}

/* Never: a stream ends when its client goes (the socket says so). */
static void beat_hangup(struct hub_ka_conn *c, void *arg)
{
	(void)c;
	(void)arg;
}

static void beat_tick(lws_sorted_usec_list_t *sul)
{
	(void)sul;
	hub_ka_sweep(&beats.ka, hub_idle_ms());
	lws_sul_schedule(beats.ctx, 0, &beats.sul, beat_tick,
			 BEAT_TICK_MS * LWS_US_PER_MS);
}

/* s joins its loop's heartbeat sweep (set up on the loop's first). */
static void beat_add(struct sse *s, struct lws_context *ctx)
{
	if (!beats.ctx) {
		hub_ka_init(&beats.ka, BEAT_MS, UINT32_MAX, BEAT_TICK_MS,
			    beat_due, beat_hangup, NULL);
		beats.ctx = ctx;
	}
	hub_ka_add(&beats.ka, &s->ka, hub_idle_ms());
	if (!beats.ticking) {
		beats.ticking = true;
		lws_sul_schedule(beats.ctx, 0, &beats.sul, beat_tick,
				 BEAT_TICK_MS * LWS_US_PER_MS);
	}
}

/* Opens s's cursor where the stream starts: Last-Event-ID, ?marker=, or
 * now. Replies and returns false when it cannot. */
static bool sse_open(struct sse *s, struct hub_req *r, bool echo)
{
	const char *m = r->last_event_id[0] ? r->last_event_id
					    : hub_query(r, "marker");
	struct hub_cursor_opts o = {
		.kind = HUB_SUB_SSE,
		.project = r->project,
		.queue = r->queue,
		.from = m ? HUB_CURSOR_MARKER : HUB_CURSOR_NOW,
		.marker = m,
		.flags = FEED_READ_INCLUDE_CLAIMED | (echo ? FEED_READ_ECHO : 0u),
		.client_id = r->has_client_id ? r->client_id : NULL,
		.limit = PAGE,
		.budget = BATCH_BYTES,
		.shared = true,
		.wake = sse_wake,
	};
	int rc = hub_cursor_open(&s->cur, r->subs, r->feed, &o);

	if (rc == FEED_EBADID)
		hub_cursor_refuse(r);
	else if (rc == FEED_ENOMEM)
		hub_reply_error(r, 503, "Service temporarily unavailable",
				"Cannot subscribe. Please try again in a few "
				"seconds.");
	else if (rc)
		hub_reply_feed_error(r, rc, NULL);
	return rc == 0;
}

void hub_queue_events(struct hub_req *r)
{
	struct sse *s;
	bool echo;

	if (!hub_query_bool(r, "echo", true, &echo))
		return;
	if (hub_sub_count(r->subs) >= r->cfg->max_subscribers) {
		hub_metrics_reject(HUB_REJECT_SUBSCRIBERS);
		hub_reply_error(r, 503, "Service temporarily unavailable",
				"Too many subscribers on this server.");
		return;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		hub_reply_error(r, 503, "Service temporarily unavailable",
				"Out of memory. Please try again in a few "
				"seconds.");
		return;
	}
	s->r = r;
	if (!sse_open(s, r, echo)) {
		free(s);
		return;
	}
	beat_add(s, r->srv->ctx);
	hub_stream(r, "text/event-stream", &sse_ops, s);
}
