/*
 * cursor.c - the one reader of the live transports: a marker, the next
 * batch after it, gaps, due timers and "from now".
 *
 * A cursor is (queue, marker, read options) and a hook in the subscriber
 * registry (sub.c); the log is the buffer, so the cursor holds nothing
 * between batches but its marker. Each hub_cursor_next() is one feed_read
 * (one short read transaction):
 *
 *   feed_read(after marker, <= limit)
 *     gap      -> GAP batch: missed, resume marker = the marker before the
 *                 first message after the hole (or the read's next marker
 *                 when none came); the cursor moves there, so the next
 *                 batch is exactly the messages after the hole
 *     messages -> MSGS batch: v[0..n), n >= 1, cut once the bodies pass
 *                 the byte budget; the marker moves past v[n-1] only (all
 *                 of the page went: to the read's next marker, past what
 *                 it skipped)
 *     nothing  -> NONE: the marker moves past what the read skipped; if
 *                 feed says time alone could change that (wake_ms: a
 *                 delayed message falling due, a claim expiring) the
 *                 registry is asked for a wake then
 *
 * The rule for markers: malformed ones are refused when the cursor opens
 * (FEED_EBADID, answered with one 400 on every transport: cursor.h); a
 * stale one (of a deleted generation of the queue) is a gap of unknown
 * size, as feed reports it. "From now" is feed_queue_tail(): one lookup,
 * no walk.
 *
 * Shared reads (opts.shared: WebSocket `subscribe`, the stream URL, SSE).
 * While the marker lies in the queue's shared tail (tail.c, filled by the
 * registry once per commit), hub_cursor_next() takes the batch from there
 * - pointers to messages rendered once for every subscriber, its own
 * client's stepped over when echo is off - and reads the log only when
 * the marker is not (or no longer) in the tail. Log batches are rendered
 * by the cursor alone, so every batch carries rendered items either way.
 *
 * Invariant: the marker never passes a message the transport was not
 * given, so resuming from any marker the cursor showed (a batch's, a
 * gap's) yields no duplicate and no hole.
 *
 * Loop (lws service) thread only.
 */
#include <string.h>

#include "log.h"
#include "render.h"
#include "live/cursor.h"

/* Bytes a message costs a batch beyond its body: the rendered fields. */
#define MSG_OVERHEAD 96

bool hub_cursor_marker_ok(const char *marker)
{
	return !marker || !*marker || feed_id_parse(marker, NULL, NULL) == 0;
}

void hub_cursor_refuse(struct hub_req *r)
{
	hub_reply_error(r, 400, HUB_CURSOR_BAD_MARKER_TITLE, "%s",
			HUB_CURSOR_BAD_MARKER_TEXT);
}

static void cursor_woken(struct hub_sub *sub)
{
	struct hub_cursor *c = lws_container_of(sub, struct hub_cursor, sub);

	c->wake(c);
}

/* Where c starts, from o. */
static int cursor_start(struct hub_cursor *c, const struct hub_cursor_opts *o)
{
	c->marker[0] = '\0';
	switch (o->from) {
	case HUB_CURSOR_MARKER:
		if (!hub_cursor_marker_ok(o->marker))
			return FEED_EBADID;
		if (o->marker)
			memcpy(c->marker, o->marker, strlen(o->marker) + 1);
		return 0;
	case HUB_CURSOR_NOW:
		return feed_queue_tail(c->feed, c->project, c->queue, c->marker);
	case HUB_CURSOR_OLDEST:
	default:
		return 0;
	}
}

int hub_cursor_open(struct hub_cursor *c, struct hub_subs *subs,
		    feed_t *feed, const struct hub_cursor_opts *o)
{
	int rc;

	memset(c, 0, sizeof(*c));
	if (strlen(o->project) > FEED_PROJECT_MAX ||
	    strlen(o->queue) > FEED_NAME_MAX)
		return FEED_EINVAL;
	c->feed = feed;
	c->wake = o->wake;
	c->budget = o->budget;
	c->read.limit = o->limit ? o->limit : 1;
	if (c->read.limit > HUB_CURSOR_LIMIT_MAX)
		c->read.limit = HUB_CURSOR_LIMIT_MAX;
	c->read.flags = o->flags;
	c->shared = o->shared && subs;
	if (o->client_id)
		memcpy(c->read.client_id, o->client_id, 16);
	memcpy(c->project, o->project, strlen(o->project) + 1);
	memcpy(c->queue, o->queue, strlen(o->queue) + 1);
	rc = cursor_start(c, o);
	if (rc)
		return rc;
	c->sub.wake = cursor_woken;
	c->sub.kind = o->kind;
	if (subs && hub_sub_attach(subs, &c->sub, c->project, c->queue))
		return FEED_ENOMEM;
	c->subs = subs;
	return 0;
}

void hub_cursor_close(struct hub_cursor *c)
{
	struct hub_tail *t = c->tail.at ? hub_sub_tail(&c->sub, NULL) : NULL;

	if (t)
		hub_tail_leave(t, &c->tail);
	if (c->subs)
		hub_sub_detach(c->subs, &c->sub);
	c->subs = NULL;
}

/* A gap: the cursor resumes before the first message after the hole. */
static void take_gap(struct hub_cursor *c, struct hub_cursor_batch *b)
{
	feed_msgs_t *m = &b->msgs_;

	b->kind = HUB_BATCH_GAP;
	b->missed = m->missed;
	if (m->n == 0 || feed_marker_before(m->v[0].id, b->marker)) {
		/* (A read never returns sequence 0; this is for safety.) */
		if (m->n)
			hub_log(HUB_LOG_ERROR, "cursor: cannot resume before "
				"%s; its batch is reported missed", m->v[0].id);
		memcpy(b->marker, m->next_marker, sizeof(b->marker));
		if (b->missed >= 0)
			b->missed += (int64_t)m->n;
	}
	memcpy(c->marker, b->marker, sizeof(c->marker));
	feed_msgs_free(m);
}

/* Messages: as many as fit the budget, at least one. */
static void take_msgs(struct hub_cursor *c, struct hub_cursor_batch *b)
{
	feed_msgs_t *m = &b->msgs_;
	size_t n, bytes = 0;

	for (n = 0; n < m->n && (n == 0 || bytes < c->budget); n++)
		bytes += m->v[n].body_len + MSG_OVERHEAD;
	b->kind = HUB_BATCH_MSGS;
	b->v = m->v;
	b->n = n;
	memcpy(b->marker, n == m->n ? m->next_marker : m->v[n - 1].id,
	       sizeof(b->marker));
	memcpy(c->marker, b->marker, sizeof(c->marker));
}

/* The log's messages of a MSGS batch, rendered by this reader alone. */
static int render_own(struct hub_cursor_batch *b)
{
	size_t start = 0;

	/* Offsets first: the text may move while it grows. */
	for (size_t i = 0; i < b->n; i++) {
		hub_cursor_render_msg(&b->text_, &b->v[i], b->now_ms);
		b->items_[i].id = b->v[i].id;
		b->items_[i].len = b->text_.len - start;
		start = b->text_.len;
	}
	if (b->text_.failed)
		return FEED_ENOMEM;
	start = 0;
	for (size_t i = 0; i < b->n; i++) {
		b->items_[i].json = b->text_.data + start;
		start += b->items_[i].len;
	}
	b->items = b->items_;
	return 0;
}

/* Messages from the shared tail: items point into it. */
static void take_shared_items(struct hub_cursor_batch *b,
			      const struct hub_tail_msg **v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		b->items_[i].id = v[i]->id;
		b->items_[i].json = v[i]->json;
		b->items_[i].len = v[i]->len;
	}
	b->kind = HUB_BATCH_MSGS;
	b->items = b->items_;
	b->n = n;
}

/*
 * The next batch from the queue's shared tail, when c's marker lies in
 * it. Returns 1 when it answered (b set, or *rc an error), 0 when c must
 * read the log.
 */
static int next_shared(struct hub_cursor *c, uint64_t now_ms,
		       struct hub_cursor_batch *b, int *rc)
{
	struct hub_tail *t = hub_sub_tail(&c->sub, c->feed);
	const uint8_t *skip = c->read.flags & FEED_READ_ECHO
				      ? NULL : c->read.client_id;
	const struct hub_tail_msg *v[HUB_CURSOR_LIMIT_MAX];
	size_t n = 0;
	bool filled = false;

	if (!t || !hub_tail_join(t, &c->tail, c->marker))
		return 0;
	for (;;) {
		enum hub_tail_take_result res = hub_tail_take(
			t, &c->tail, now_ms, skip, c->read.limit, c->budget, v, &n,
			c->marker);
		uint64_t wake_ms = 0;

		if (res == HUB_TAIL_OUT)
			return 0;
		if (res == HUB_TAIL_TOOK && n)
			break;
		if (res == HUB_TAIL_TOOK)
			continue; /* only its own messages: on to the next */
		/* Nothing after its place: the tail may be behind the log. */
		if (filled || !hub_tail_more(t))
			break;
		filled = true;
		*rc = hub_tail_fill(t, now_ms, &wake_ms);
		if (*rc)
			return 1;
		hub_sub_wake_at(&c->sub, wake_ms);
	}
	memcpy(b->marker, c->marker, sizeof(b->marker));
	if (n)
		take_shared_items(b, v, n);
	return 1;
}

/* The next batch, wherever the queue lives now (hub_cursor_next). */
static int next_here(struct hub_cursor *c, uint64_t now_ms,
		     struct hub_cursor_batch *b)
{
	int rc = 0;

	memset(b, 0, sizeof(*b));
	b->now_ms = now_ms;
	if (c->shared && next_shared(c, now_ms, b, &rc))
		return rc;
	rc = feed_read(c->feed, c->project, c->queue, c->marker, &c->read,
		       now_ms, &b->msgs_);
	if (rc)
		return rc;
	if (b->msgs_.gap) {
		take_gap(c, b);
	} else if (b->msgs_.n) {
		char before[FEED_ID_LEN + 1];

		memcpy(before, c->marker, sizeof(before));
		take_msgs(c, b);
		rc = render_own(b);
		if (rc) { /* not given: the marker stays before them */
			memcpy(c->marker, before, sizeof(c->marker));
			hub_cursor_batch_free(b);
		}
	} else {
		if (b->msgs_.next_marker[0])
			memcpy(c->marker, b->msgs_.next_marker,
			       sizeof(c->marker));
		memcpy(b->marker, c->marker, sizeof(b->marker));
		if (c->subs && b->msgs_.wake_ms)
			hub_sub_wake_at(&c->sub, b->msgs_.wake_ms);
		feed_msgs_free(&b->msgs_);
	}
	return rc;
}

int hub_cursor_next(struct hub_cursor *c, uint64_t now_ms,
		    struct hub_cursor_batch *b)
{
	char before[FEED_ID_LEN + 1];
	unsigned shard;
	int rc;

	memcpy(before, c->marker, sizeof(before));
	rc = next_here(c, now_ms, b);
	if (rc == 0 && b->kind != HUB_BATCH_MSGS && hub_cluster_on() &&
	    !hub_cluster_owns(c->queue, b->owner, &shard)) {
		hub_cursor_batch_free(b);
		memcpy(c->marker, before, sizeof(c->marker));
		memcpy(b->marker, before, sizeof(b->marker));
		b->kind = HUB_BATCH_MOVED;
	}
	return rc;
}

void hub_cursor_batch_free(struct hub_cursor_batch *b)
{
	feed_msgs_free(&b->msgs_);
	hub_buf_free(&b->text_);
	b->items = NULL;
	b->v = NULL;
	b->n = 0;
}

bool hub_cursor_may_have_more(const struct hub_cursor *c)
{
	return !c->tail.at || hub_tail_reader_more(&c->tail);
}

void hub_cursor_render_msg(struct hub_buf *out, const feed_msg_t *m,
			   uint64_t now_ms)
{
	hub_buf_adds(out, "{\"id\": \"");
	hub_buf_adds(out, m->id);
	hub_buf_adds(out, "\", \"ttl\": ");
	hub_buf_add_int(out, hub_secs(m->expires_ms - m->created_ms));
	hub_buf_adds(out, ", \"age\": ");
	hub_buf_add_int(out, hub_secs(now_ms > m->created_ms
					      ? now_ms - m->created_ms
					      : 0));
	hub_buf_adds(out, ", \"body\": ");
	hub_buf_add(out, m->body, m->body_len);
	hub_buf_add(out, "}", 1);
}
