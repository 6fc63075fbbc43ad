/*
 * tail.c - the shared rendered tail of a queue: its recent messages,
 * each rendered ONCE, that every caught-up live subscriber of the queue
 * is given by pointer instead of reading and rendering them itself.
 *
 * Without it every subscriber read the log and rendered every message's
 * JSON for itself: O(subscribers x messages) reads and renders. With it
 * a commit costs one read and one render per message (hub_tail_fill, run
 * by the registry when it wakes the queue's subscribers), and each
 * subscriber's write is a copy of shared bytes around its own framing.
 *
 *   lo                                                        hi
 *   |  m(lo+1) -> m -> m -> ... -> m(hi) -> [end: not filled]  |
 *        ^refs 2        ^refs 1                ^refs 9000
 *
 * What the tail holds: for one generation of the queue, every message
 * with lo < seq <= hi that a live read (claimed and the reader's own
 * included) showed at the fills, in log order. The last element is the
 * end, not filled yet: the next message is rendered into it, so the
 * readers waiting there (the caught-up ones) find it without being
 * touched. A reader's place is the element after the last one it was
 * given, and each element counts its readers (refs): elements from the
 * head that no reader needs are freed at the tail's next take or fill
 * (not at once: the taker's batch still points at them).
 *
 * Where a reader may stand. A reader joins with its cursor's marker when
 * it lies in [lo, hi] of the tail's generation (or is "", the oldest,
 * while the tail holds the queue from its start); otherwise it reads the
 * log (cursor.c) until its marker does. Readers never leave a gap: the
 * tail is contiguous over (lo, hi], and a reader is taken out - and reads
 * the log from its marker, which has not moved past anything it was not
 * given - when
 *   - the element at its place was evicted (the byte budget: oldest
 *     first, also when readers stand there) or the tail was reset (a fill
 *     found a gap in the log: expiry; or a new generation of the queue);
 *   - the next message has expired since it was cached (the log then
 *     reports the gap, as it would have).
 * A message deleted after it was cached may still be given to a reader
 * that stood before it: the same race as a delete just after delivery.
 *
 * Bytes: each element counts its rendering and itself, per tail
 * (pool->queue_max) and for all tails (pool->max_bytes). A fill that
 * does not fit evicts this tail's oldest; when it still does not fit it
 * stops, and the readers at the end read the log (they stay correct; they
 * only lose the sharing). An evicted element that readers stand at keeps
 * its struct (no bytes) until they have gone: a reader costs a place,
 * never the bytes of a backlog.
 *
 * `age` is rendered at the fill and re-rendered when a reader is given a
 * message whose age in seconds has changed since: at most once a second
 * per message.
 *
 * Loop (lws service) thread only.
 */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "render.h"
#include "live/cursor.h"
#include "live/tail.h"

#define FILL_PAGE 1000 /* messages per fill read at most */

struct hub_tail {
	struct hub_tail_pool *pool;
	feed_t *feed;
	char project[FEED_PROJECT_MAX + 1];
	char queue[FEED_NAME_MAX + 1];
	struct hub_tail_msg *head, *end; /* end: the unfilled last element */
	uint64_t gen, lo, hi;            /* gen 0: not known yet */
	char marker[FEED_ID_LEN + 1];    /* the next fill reads after it */
	size_t count, bytes;
	bool more;
	bool from_start; /* lo is the queue's start: "" (the oldest) joins */
};

static size_t msg_bytes(const struct hub_tail_msg *m)
{
	return sizeof(*m) + m->cap;
}

static void account(struct hub_tail *t, const struct hub_tail_msg *m, bool add)
{
	size_t b = msg_bytes(m);

	if (add) {
		t->bytes += b;
		t->pool->bytes += b;
	} else {
		t->bytes -= b;
		t->pool->bytes -= b;
	}
}

static struct hub_tail_msg *end_new(struct hub_tail *t)
{
	struct hub_tail_msg *m = calloc(1, sizeof(*m));

	if (m)
		account(t, m, true);
	return m;
}

/* Frees m's rendering (an evicted or reset element keeps its struct
 * while readers stand at it). */
static void msg_drop_bytes(struct hub_tail *t, struct hub_tail_msg *m)
{
	account(t, m, false);
	free(m->json);
	m->json = NULL;
	m->len = m->cap = 0;
	account(t, m, true);
}

static void msg_free(struct hub_tail *t, struct hub_tail_msg *m)
{
	account(t, m, false);
	free(m->json);
	free(m);
}

/* Unlinks the head; frees it or, when readers stand at it, marks it dead. */
static void evict_head(struct hub_tail *t)
{
	struct hub_tail_msg *m = t->head;

	t->head = m->next;
	t->lo = m->seq;
	t->from_start = false;
	t->count--;
	if (m->refs) {
		m->dead = true;
		msg_drop_bytes(t, m);
	} else {
		msg_free(t, m);
	}
}

/* Frees the elements from the head that no reader needs. */
static void trim(struct hub_tail *t)
{
	while (t->head != t->end && t->head->refs == 0)
		evict_head(t);
}

static bool over(const struct hub_tail *t)
{
	return t->bytes > t->pool->queue_max ||
	       t->pool->bytes > t->pool->max_bytes;
}

/* Everything held goes (a gap or a new generation): the readers read the
 * log, which tells them. The tail starts again empty after `marker`. */
static int reset(struct hub_tail *t, const char *marker)
{
	uint64_t seq = 0;

	while (t->head != t->end)
		evict_head(t);
	if (t->end->refs) {
		t->end->dead = true;
		t->end = end_new(t);
		if (!t->end)
			return FEED_ENOMEM;
	}
	t->head = t->end;
	memcpy(t->marker, marker, sizeof(t->marker));
	t->gen = 0;
	if (marker[0] && feed_id_parse(marker, &t->gen, &seq))
		t->gen = 0;
	t->lo = t->hi = seq;
	t->from_start = !marker[0];
	return 0;
}

struct hub_tail *hub_tail_new(struct hub_tail_pool *pool, feed_t *feed,
			      const char *project, const char *queue)
{
	struct hub_tail *t = calloc(1, sizeof(*t));
	char marker[FEED_ID_LEN + 1] = "";

	if (!t)
		return NULL;
	t->pool = pool;
	t->feed = feed;
	snprintf(t->project, sizeof(t->project), "%s", project);
	snprintf(t->queue, sizeof(t->queue), "%s", queue);
	t->end = t->head = end_new(t);
	if (!t->end || feed_queue_tail(feed, project, queue, marker) ||
	    reset(t, marker)) {
		hub_tail_free(t);
		return NULL;
	}
	return t;
}

void hub_tail_free(struct hub_tail *t)
{
	if (!t)
		return;
	while (t->head) {
		struct hub_tail_msg *m = t->head;

		t->head = m->next;
		msg_free(t, m);
	}
	free(t);
}

/* ---------------------------------------------------------------- fill */

/* Renders m into the end element and appends a new end. */
static int put(struct hub_tail *t, const feed_msg_t *m, uint64_t now_ms,
	       struct hub_buf *scratch)
{
	struct hub_tail_msg *e = t->end, *next;
	uint64_t gen;

	hub_buf_reset(scratch, 0);
	hub_cursor_render_msg(scratch, m, now_ms);
	next = end_new(t);
	if (scratch->failed || !next) {
		if (next)
			msg_free(t, next);
		return FEED_ENOMEM;
	}
	account(t, e, false);
	e->json = hub_buf_take(scratch, &e->len);
	e->cap = e->len;
	account(t, e, true);
	feed_id_parse(m->id, &gen, &e->seq);
	memcpy(e->id, m->id, sizeof(e->id));
	memcpy(e->client_id, m->client_id, 16);
	e->created_ms = m->created_ms;
	e->expires_ms = m->expires_ms;
	e->age_s = hub_secs(now_ms > m->created_ms ? now_ms - m->created_ms : 0);
	e->filled = true;
	e->next = next;
	t->end = next;
	t->count++;
	t->hi = e->seq;
	t->gen = gen;
	return 0;
}

/* Moves the tail's end to `marker` (past what a read stepped over). */
static void advance(struct hub_tail *t, const char *marker)
{
	uint64_t gen, seq;

	if (!marker[0] || feed_id_parse(marker, &gen, &seq) ||
	    (t->gen && gen != t->gen))
		return;
	memcpy(t->marker, marker, sizeof(t->marker));
	t->gen = gen;
	if (seq > t->hi)
		t->hi = seq;
}

/* A gap in the log: start again before the first message after it. */
static int fill_gap(struct hub_tail *t, const feed_msgs_t *m)
{
	char resume[FEED_ID_LEN + 1];

	if (!m->n || feed_marker_before(m->v[0].id, resume))
		memcpy(resume, m->next_marker, sizeof(resume));
	return reset(t, resume);
}

static int fill_msgs(struct hub_tail *t, const feed_msgs_t *m,
		     uint64_t now_ms)
{
	struct hub_buf scratch = {0};
	size_t i;
	int rc = 0;

	trim(t);
	for (i = 0; i < m->n && rc == 0; i++) {
		while (over(t) && t->head != t->end)
			evict_head(t);
		if (over(t))
			break; /* the pool is full: the rest is read from the log */
		rc = put(t, &m->v[i], now_ms, &scratch);
		if (rc == 0)
			memcpy(t->marker, m->v[i].id, sizeof(t->marker));
	}
	hub_buf_free(&scratch);
	if (rc == 0 && i == m->n)
		advance(t, m->next_marker);
	t->more = rc != 0 || i < m->n || m->n == FILL_PAGE;
	return rc;
}

int hub_tail_fill(struct hub_tail *t, uint64_t now_ms, uint64_t *wake_ms)
{
	feed_read_opts_t o = {
		.limit = FILL_PAGE,
		.flags = FEED_READ_INCLUDE_CLAIMED | FEED_READ_ECHO,
	};
	feed_msgs_t m;
	int rc = 0;

	*wake_ms = 0;
	/* A gap resets the tail; the messages after it come in a second read. */
	for (int i = 0; i < 2; i++) {
		rc = feed_read(t->feed, t->project, t->queue, t->marker, &o,
			       now_ms, &m);
		if (rc)
			return rc;
		if (m.gap) {
			rc = fill_gap(t, &m);
			feed_msgs_free(&m);
			if (rc)
				return rc;
			continue;
		}
		if (m.n)
			rc = fill_msgs(t, &m, now_ms);
		else
			advance(t, m.next_marker);
		if (!m.n)
			t->more = false;
		*wake_ms = m.wake_ms;
		feed_msgs_free(&m);
		break;
	}
	return rc;
}

bool hub_tail_more(const struct hub_tail *t)
{
	return t->more;
}

/* ------------------------------------------------------------- readers */

static void place(struct hub_tail_reader *r, struct hub_tail_msg *m)
{
	m->refs++;
	r->at = m;
}

bool hub_tail_join(struct hub_tail *t, struct hub_tail_reader *r,
		   const char *marker)
{
	uint64_t gen, seq;
	struct hub_tail_msg *m;

	if (r->at && r->at->dead)
		hub_tail_leave(t, r);
	if (r->at)
		return true;
	if (!marker || !marker[0]) {
		if (!t->from_start)
			return false;
		place(r, t->head); /* the oldest: all the tail holds */
		return true;
	}
	if (feed_id_parse(marker, &gen, &seq) || !t->gen || gen != t->gen ||
	    seq < t->lo || seq > t->hi)
		return false;
	for (m = t->head; m->filled && m->seq <= seq; m = m->next)
		;
	place(r, m);
	return true;
}

void hub_tail_leave(struct hub_tail *t, struct hub_tail_reader *r)
{
	struct hub_tail_msg *m = r->at;

	if (!m)
		return;
	r->at = NULL;
	m->refs--;
	if (m->dead && !m->refs)
		msg_free(t, m);
	else
		trim(t);
}

/* Renders m's age again when its second has changed. */
static void refresh_age(struct hub_tail *t, struct hub_tail_msg *m,
			uint64_t now_ms)
{
	long long age = hub_secs(now_ms > m->created_ms
					 ? now_ms - m->created_ms : 0);
	const char *key = "\"age\": ";
	char *at, *after, digits[24];
	size_t head, old, len;
	struct hub_buf b = {0};

	if (age == m->age_s)
		return;
	at = strstr(m->json, key); /* before the body: the id and ttl only */
	if (!at)
		return;
	at += strlen(key);
	after = at + strspn(at, "0123456789");
	head = (size_t)(at - m->json);
	old = (size_t)(after - at);
	len = (size_t)snprintf(digits, sizeof(digits), "%lld", age);
	hub_buf_add(&b, m->json, head);
	hub_buf_add(&b, digits, len);
	hub_buf_add(&b, after, m->len - head - old);
	if (b.failed) {
		hub_buf_free(&b);
		return; /* the old age stays: within seconds, never wrong JSON */
	}
	account(t, m, false);
	free(m->json);
	m->json = hub_buf_take(&b, &m->len);
	m->cap = m->len;
	account(t, m, true);
	m->age_s = age;
}

enum hub_tail_take_result hub_tail_take(struct hub_tail *t,
					struct hub_tail_reader *r,
					uint64_t now_ms,
					const uint8_t *skip_client,
					size_t limit, size_t budget,
					const struct hub_tail_msg **v, size_t *n,
					char marker[FEED_ID_LEN + 1])
{
	struct hub_tail_msg *m = r->at, *last = NULL;
	size_t bytes = 0;

	*n = 0;
	trim(t); /* what the last take stepped past (its batch is done) */
	if (!m || m->dead) {
		hub_tail_leave(t, r);
		return HUB_TAIL_OUT;
	}
	for (; m->filled && *n < limit && (*n == 0 || bytes < budget);
	     m = m->next) {
		if (m->expires_ms <= now_ms) {
			if (last)
				break; /* give what came before it first */
			hub_tail_leave(t, r);
			return HUB_TAIL_OUT;
		}
		last = m;
		if (skip_client && memcmp(m->client_id, skip_client, 16) == 0)
			continue;
		refresh_age(t, m, now_ms);
		v[(*n)++] = m;
		bytes += m->len;
	}
	if (!last)
		return HUB_TAIL_EMPTY;
	memcpy(marker, last->id, FEED_ID_LEN + 1);
	r->at->refs--;
	place(r, m);
	return HUB_TAIL_TOOK;
}

bool hub_tail_reader_more(const struct hub_tail_reader *r)
{
	return r->at && (r->at->filled || r->at->dead);
}

size_t hub_tail_count(const struct hub_tail *t)
{
	return t->count;
}

size_t hub_tail_bytes(const struct hub_tail *t)
{
	return t->bytes;
}
