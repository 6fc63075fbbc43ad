/*
 * sse.c - Server-Sent Events: GET /v2/queues/{q}/events.
 *
 * A subscriber is (queue, marker, filters) and a wake hook on the queue;
 * the log is the buffer. Whenever the connection can take more, next()
 * reads the messages after the marker from feed, renders them as events,
 * and moves the marker; a commit to the queue wakes the stream. Nothing is
 * queued per subscriber beyond the one batch being written (about 64 KiB),
 * so a client that reads slowly costs its socket buffer and that batch,
 * not a backlog.
 *
 *   id: <message id>                  one event per message; the id is
 *   event: message                    the marker to resume from, which
 *   data: {"id", "ttl", "age", "body"}  EventSource sends back as
 *                                      Last-Event-ID on a reconnect
 *   event: gap
 *   data: {"missed": N|null, "resume_marker": "<id>"}
 *
 *   : ping                            every 15 s, so proxies keep it open
 *
 * Where it starts: after Last-Event-ID if sent (it wins), else after
 * ?marker=, else after the newest message now ("from now"). Messages lost
 * to expiry, or a marker of a deleted generation of the queue, become a
 * gap event; nothing is skipped silently. ?echo=false leaves out the
 * reader's own messages (default: all), and claimed messages are sent
 * too: a stream follows the log, not a worker's view of it.
 */
#include <stdlib.h>
#include <string.h>

#include "req.h"
#include "buf.h"
#include "clock.h"
#include "server.h"
#include "api/api.h"
#include "live/wait.h"
#include "live/sub.h"
#include "render.h"

#define HEARTBEAT_S 15
#define PAGE 50           /* messages per read, at most */
#define BATCH_BYTES 65536 /* rendered ahead of the socket, about */

struct sse {
	struct hub_req *r; /* the request that owns the stream */
	struct hub_sub sub;
	lws_sorted_usec_list_t beat;
	feed_read_opts_t opts;
	char marker[FEED_ID_LEN + 1]; /* after the last message read */
	bool beat_due;
	/* Rendered, not yet handed to the transport. */
	struct hub_buf pend;
	size_t pend_off; /* handed over up to here */
};

static int pend_add(struct sse *s, const char *text, size_t len)
{
	hub_buf_add(&s->pend, text, len);
	return s->pend.failed ? -1 : 0;
}

static int pend_printf(struct sse *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int pend_printf(struct sse *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	hub_buf_vprintf(&s->pend, fmt, ap);
	va_end(ap);
	return s->pend.failed ? -1 : 0;
}

/* One message event. The stored body is compact JSON: no newline, so it
 * fits one data: line as it is. */
static int render_msg(struct sse *s, const feed_msg_t *m, uint64_t now_ms)
{
	uint64_t age = now_ms > m->created_ms ? now_ms - m->created_ms : 0;

	if (pend_printf(s, "id: %s\nevent: message\ndata: {\"id\": \"%s\", "
			"\"ttl\": %lld, \"age\": %lld, \"body\": ",
			m->id, m->id, hub_secs(m->expires_ms - m->created_ms),
			hub_secs(age)) ||
	    pend_add(s, m->body, m->body_len))
		return -1;
	return pend_add(s, "}\n\n", 3);
}

/* Reads the next page after the marker into pend. */
static int read_page(struct sse *s)
{
	struct hub_req *r = s->r;
	feed_msgs_t msgs;
	uint64_t now = hub_now_ms();
	int rc = feed_read(r->feed, r->project, r->queue, s->marker, &s->opts,
			   now, &msgs);

	if (rc == FEED_EBADID) {
		/* Not an id of ours: start at the oldest, and say so. */
		s->marker[0] = '\0';
		rc = feed_read(r->feed, r->project, r->queue, NULL, &s->opts,
			       now, &msgs);
		msgs.gap = rc == 0;
		msgs.missed = -1;
	}
	if (rc)
		return -1;
	if (msgs.gap) {
		if (msgs.missed >= 0)
			rc = pend_printf(s, "event: gap\ndata: {\"missed\": %lld, "
					 "\"resume_marker\": \"%s\"}\n\n",
					 (long long)msgs.missed, msgs.next_marker);
		else
			rc = pend_printf(s, "event: gap\ndata: {\"missed\": null, "
					 "\"resume_marker\": \"%s\"}\n\n",
					 msgs.next_marker);
	}
	/* Render about BATCH_BYTES: a client that does not read holds up
	 * one batch, not a page of large messages. The marker moves only
	 * past what was rendered. */
	for (size_t i = 0; rc == 0 && i < msgs.n; i++) {
		rc = render_msg(s, &msgs.v[i], now);
		if (rc == 0 && s->pend.len >= BATCH_BYTES && i + 1 < msgs.n) {
			memcpy(s->marker, msgs.v[i].id, sizeof(s->marker));
			feed_msgs_free(&msgs);
			return 0;
		}
	}
	if (rc == 0 && msgs.next_marker[0])
		memcpy(s->marker, msgs.next_marker, sizeof(s->marker));
	feed_msgs_free(&msgs);
	return rc;
}

static long sse_next(void *state, char *buf, size_t len)
{
	struct sse *s = state;
	size_t n;

	if (s->pend_off == s->pend.len) {
		s->pend_off = 0;
		hub_buf_reset(&s->pend, 0);
		if (s->beat_due && pend_add(s, ": ping\n\n", 8))
			return -1;
		s->beat_due = false;
		if (read_page(s))
			return -1;
	}
	n = s->pend.len - s->pend_off;
	if (n == 0)
		return 0; /* nothing new: wait for a wake */
	if (n > len)
		n = len;
	memcpy(buf, s->pend.data + s->pend_off, n);
	s->pend_off += n;
	/* The transport asks for writable again after any write, so the
	 * rest of pend, or the next page, follows. */
	return (long)n;
}

static void sse_free(void *state)
{
	struct sse *s = state;

	hub_sub_detach(s->r->srv, &s->sub);
	lws_sul_cancel(&s->beat);
	hub_buf_free(&s->pend);
	free(s);
}

static const struct hub_stream_ops sse_ops = {
	.next = sse_next,
	.free = sse_free,
};

static void sse_wake(struct hub_sub *sub)
{
	struct sse *s = lws_container_of(sub, struct sse, sub);

	hub_stream_wake(s->r);
}

static void sse_beat(lws_sorted_usec_list_t *sul)
{
	struct sse *s = lws_container_of(sul, struct sse, beat);

	/* The beat also retries a read: a delayed message may be due. */
	s->beat_due = true;
	hub_stream_wake(s->r);
	lws_sul_schedule(s->r->srv->ctx, 0, &s->beat, sse_beat,
			 (lws_usec_t)HEARTBEAT_S * LWS_US_PER_SEC);
}

/* Where the stream starts: Last-Event-ID, ?marker=, or now. */
static void start_marker(struct sse *s, struct hub_req *r)
{
	const char *m = r->last_event_id[0] ? r->last_event_id
					    : hub_query(r, "marker");
	feed_queue_stats_t st;

	if (m && strlen(m) < sizeof(s->marker)) {
		memcpy(s->marker, m, strlen(m) + 1);
		return;
	}
	if (feed_queue_stats(r->feed, r->project, r->queue, r->now_ms, &st) ==
		    0 &&
	    st.total)
		memcpy(s->marker, st.newest.id, sizeof(s->marker));
}

void hub_queue_events(struct hub_req *r)
{
	struct sse *s;
	bool echo;

	if (!hub_query_bool(r, "echo", true, &echo))
		return;
	if (hub_sub_count(r->srv) >= r->cfg->max_subscribers) {
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
	s->opts.limit = PAGE;
	s->opts.flags = FEED_READ_INCLUDE_CLAIMED | (echo ? FEED_READ_ECHO : 0);
	if (r->has_client_id)
		memcpy(s->opts.client_id, r->client_id, 16);
	start_marker(s, r);
	s->sub.wake = sse_wake;
	if (hub_sub_attach(r->srv, &s->sub, r->project, r->queue)) {
		free(s);
		hub_reply_error(r, 503, "Service temporarily unavailable",
				"Cannot subscribe. Please try again in a few "
				"seconds.");
		return;
	}
	lws_sul_schedule(r->srv->ctx, 0, &s->beat, sse_beat,
			 (lws_usec_t)HEARTBEAT_S * LWS_US_PER_SEC);
	hub_stream(r, "text/event-stream", &sse_ops, s);
}
