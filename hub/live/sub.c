/*
 * sub.c - the subscriber registry: who waits for which queue, and the due
 * timers that wake them when time alone gives them something.
 *
 * The log is the buffer. A subscriber here is only a hook, a wake
 * callback, hung on a queue; it holds no messages. When a commit changes
 * a queue (writer.c, after an append group or a claim release), the
 * queue's subscribers are woken; each then reads what it needs from feed
 * itself - a WebSocket or SSE connection asks to be writable and reads the
 * next batch after its marker (cursor.c), a held long-poll request runs
 * its handler again. A slow subscriber therefore costs nothing here but
 * its hook.
 *
 *   buckets[hash(project \0 queue)] -> subq -> subq -> ...
 *                                       |  due: one timer, at due_ms
 *                                       subs: sub <-> sub <-> sub
 *
 * A queue entry exists while it has subscribers. A notify wakes each
 * subscriber attached at its start once, in O(subscribers); callbacks may
 * detach themselves or others and attach anew - one attached during a
 * notify is not woken by it, so a long-poll request that finds nothing
 * and waits again cannot loop.
 *
 * Due timers. Some waits end without a commit: a delayed message falls
 * due, a claim expires and its messages are free again. A subscriber whose
 * read found nothing learns from feed when that could change (wake_ms) and
 * asks hub_sub_wake_at(); the queue entry keeps ONE timer at the earliest
 * time asked, not one per subscriber, and when it is due wakes all of the
 * queue's subscribers as a commit would (those with nothing new read
 * again, find nothing and ask again). Times are on the API clock
 * (hub_now_ms), which a test may hold still or move: the lws timer is
 * armed for at most DUE_STEP_MS of real time and then compares the API
 * clock with due_ms again, re-arming until it is due.
 *
 * The shared tail. A queue entry may hold the queue's rendered tail
 * (tail.c), made when a live cursor first asks for it. A notify (or a due
 * timer) fills it - one read of the log, each new message rendered once -
 * before it wakes anyone, so the woken cursors find the messages there
 * and copy shared bytes instead of each reading and rendering them.
 *
 * Wakes are queued. A notify puts the queue's subscribers on the
 * registry's wake queue (those already there stay in their place: they
 * are woken once, and then take everything that came) and wakes at most
 * WAKE_BUDGET of them now; the rest are woken on the next passes of the
 * loop, WAKE_BUDGET per pass (a timer due at once). A woken WebSocket or
 * SSE subscriber asks to be writable, and the loop writes in the same pass
 * all the connections that asked: the budget bounds how many subscriber
 * writes one pass makes, so a publisher's request is read and answered
 * between them instead of behind 10,000 writes.
 *
 * Buckets grow: doubled when the queue entries pass twice their number.
 *
 * Invariants: q->due_ms != 0 iff q->due is scheduled; an entry freed
 * cancels its timer first; a sub is in s->ready at most once, and only
 * while attached.
 *
 * Loop (lws service) thread only.
 */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "feed.h"
#include "log.h"
#include "live/sub.h"
#include "live/tail.h"

#define NBUCKETS_MIN 1024u /* a power of two */
#define DUE_STEP_MS 1000   /* real time between looks at the API clock */
#define WAKE_BUDGET 256    /* subscribers woken per loop pass */

struct hub_subq {
	struct hub_subq *next; /* in its bucket */
	struct hub_subs *owner;
	struct hub_tail *tail; /* NULL until a cursor asks */
	uint32_t hash;
	lws_dll2_owner_t subs;
	lws_sorted_usec_list_t due;
	uint64_t due_ms;       /* 0: no timer */
	size_t key_len;
	char key[]; /* project \0 queue \0 (key_len: without the last) */
};

struct hub_subs {
	struct lws_context *ctx;
	struct hub_subq **buckets;
	size_t nbuckets, nq;     /* buckets (a power of two), queue entries */
	/* Subscribers attached, in all, by hub_sub.kind: `own`, or the
	 * server's totals over its loops (hub_subs_share_totals). */
	struct hub_sub_totals own, *totals;
	/* Tells the other loops' registries (hub_subs_set_relay). */
	void (*relay)(void *arg, const char *project, const char *queue);
	void *relay_arg;
	struct hub_tail_pool pool;
	lws_dll2_owner_t ready;  /* due a wake, oldest first */
	lws_sorted_usec_list_t pump;
	bool pump_armed, pumping;
};

static size_t make_key(char *key, const char *project, const char *queue)
{
	size_t p = strlen(project), q = strlen(queue);

	memcpy(key, project, p + 1);
	memcpy(key + p + 1, queue, q);
	return p + 1 + q;
}

static uint32_t hash(const char *key, size_t len)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)key[i]) * 16777619u;
	return h;
}

static struct hub_subq **find(struct hub_subs *s, const char *key, size_t len)
{
	struct hub_subq **p = &s->buckets[hash(key, len) & (s->nbuckets - 1)];

	while (*p && ((*p)->key_len != len || memcmp((*p)->key, key, len)))
		p = &(*p)->next;
	return p;
}

static bool names_fit(const char *project, const char *queue)
{
	return strlen(project) <= FEED_PROJECT_MAX &&
	       strlen(queue) <= FEED_NAME_MAX;
}

/* Frees q when nothing holds it any more. */
static void subq_release(struct hub_subs *s, struct hub_subq *q)
{
	struct hub_subq **p;

	if (q->subs.count)
		return;
	lws_sul_cancel(&q->due);
	hub_tail_free(q->tail);
	p = find(s, q->key, q->key_len);
	*p = q->next;
	s->nq--;
	free(q);
}

/* Doubles the buckets when the entries pass twice their number (kept as
 * they are when memory is short: only slower). */
static void grow(struct hub_subs *s)
{
	size_t n = s->nbuckets * 2;
	struct hub_subq **b;

	if (s->nq <= s->nbuckets * 2)
		return;
	b = calloc(n, sizeof(*b));
	if (!b)
		return;
	for (size_t i = 0; i < s->nbuckets; i++) {
		while (s->buckets[i]) {
			struct hub_subq *q = s->buckets[i];

			s->buckets[i] = q->next;
			q->next = b[q->hash & (n - 1)];
			b[q->hash & (n - 1)] = q;
		}
	}
	free(s->buckets);
	s->buckets = b;
	s->nbuckets = n;
}

int hub_sub_attach(struct hub_subs *s, struct hub_sub *sub,
		   const char *project, const char *queue)
{
	char key[FEED_PROJECT_MAX + 1 + FEED_NAME_MAX];
	struct hub_subq **p, *q;
	size_t len;

	if (sub->q)
		hub_sub_detach(s, sub);
	if (!names_fit(project, queue))
		return -1;
	len = make_key(key, project, queue);
	p = find(s, key, len);
	q = *p;
	if (!q) {
		/* One more byte, zero: the queue name ends in a NUL too. */
		q = calloc(1, sizeof(*q) + len + 1);
		if (!q)
			return -1;
		q->owner = s;
		q->key_len = len;
		q->hash = hash(key, len);
		memcpy(q->key, key, len);
		*p = q;
		s->nq++;
		grow(s);
	}
	lws_dll2_add_tail(&sub->node, &q->subs);
	sub->q = q;
	atomic_fetch_add_explicit(&s->totals->count, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->totals->by_kind[sub->kind < HUB_SUB_KINDS
							  ? sub->kind
							  : HUB_SUB_OTHER],
				  1, memory_order_relaxed);
	return 0;
}

void hub_sub_detach(struct hub_subs *s, struct hub_sub *sub)
{
	struct hub_subq *q = sub->q;

	if (!q)
		return;
	lws_dll2_remove(&sub->node);
	if (!lws_dll2_is_detached(&sub->ready))
		lws_dll2_remove(&sub->ready);
	sub->q = NULL;
	atomic_fetch_sub_explicit(&s->totals->count, 1, memory_order_relaxed);
	atomic_fetch_sub_explicit(&s->totals->by_kind[sub->kind < HUB_SUB_KINDS
							  ? sub->kind
							  : HUB_SUB_OTHER],
				  1, memory_order_relaxed);
	subq_release(s, q);
}

/* ------------------------------------------------------------- wakes */

static void pump(struct hub_subs *s);

static void pump_fire(lws_sorted_usec_list_t *sul)
{
	struct hub_subs *s = lws_container_of(sul, struct hub_subs, pump);

	s->pump_armed = false;
	pump(s);
}

/*
 * Wakes up to WAKE_BUDGET subscribers from the wake queue, oldest first;
 * the rest on the next pass. A wake may detach itself or others (off the
 * queue with them) or attach anew (not queued: one attached during a
 * wake is not woken by it, so a long-poll request that finds nothing and
 * waits again cannot loop).
 */
static void pump(struct hub_subs *s)
{
	struct lws_dll2 *d;

	if (s->pumping)
		return; /* a wake notified: the running pump takes them */
	s->pumping = true;
	for (unsigned n = 0; n < WAKE_BUDGET &&
			     (d = lws_dll2_get_head(&s->ready)); n++) {
		struct hub_sub *sub = lws_container_of(d, struct hub_sub, ready);

		lws_dll2_remove(d);
		sub->wake(sub);
	}
	s->pumping = false;
	if (lws_dll2_get_head(&s->ready) && !s->pump_armed && s->ctx) {
		s->pump_armed = true;
		lws_sul_schedule(s->ctx, 0, &s->pump, pump_fire, 1);
	}
}

static void due_set(struct hub_subq *q, uint64_t wake_ms);

/* Fills q's shared tail, then queues a wake for each of q's subscribers. */
static void wake_all(struct hub_subs *s, struct hub_subq *q)
{
	uint64_t wake_ms = 0;

	if (q->tail) {
		int rc = hub_tail_fill(q->tail, hub_now_ms(), &wake_ms);

		if (rc)
			hub_log(HUB_LOG_ERROR, "live: filling the tail of %s: "
				"%s", q->key + strlen(q->key) + 1,
				feed_strerror(rc));
		due_set(q, wake_ms);
	}
	lws_start_foreach_dll(struct lws_dll2 *, d, lws_dll2_get_head(&q->subs)) {
		struct hub_sub *sub = lws_container_of(d, struct hub_sub, node);

		/* (No `continue` in lws's foreach: it would skip the step.) */
		if (lws_dll2_is_detached(&sub->ready))
			lws_dll2_add_tail(&sub->ready, &s->ready);
	} lws_end_foreach_dll(d);
	if (!s->pump_armed)
		pump(s);
}

void hub_sub_notify(struct hub_subs *s, const char *project,
		    const char *queue)
{
	char key[FEED_PROJECT_MAX + 1 + FEED_NAME_MAX];
	struct hub_subq *q;

	if (!s || !names_fit(project, queue))
		return;
	q = *find(s, key, make_key(key, project, queue));
	if (q)
		wake_all(s, q);
}

/* ------------------------------------------------------------ due timers */

static void due_fire(lws_sorted_usec_list_t *sul);

static void due_arm(struct hub_subq *q, uint64_t now_ms)
{
	uint64_t ms = q->due_ms > now_ms ? q->due_ms - now_ms : 0;

	if (ms > DUE_STEP_MS)
		ms = DUE_STEP_MS;
	lws_sul_schedule(q->owner->ctx, 0, &q->due, due_fire,
			 (lws_usec_t)ms * LWS_US_PER_MS);
}

static void due_fire(lws_sorted_usec_list_t *sul)
{
	struct hub_subq *q = lws_container_of(sul, struct hub_subq, due);
	uint64_t now = hub_now_ms();

	if (now < q->due_ms) {
		due_arm(q, now); /* the API clock is behind: look again */
		return;
	}
	q->due_ms = 0;
	wake_all(q->owner, q);
}

static void due_set(struct hub_subq *q, uint64_t wake_ms)
{
	if (!wake_ms || (q->due_ms && q->due_ms <= wake_ms) || !q->owner->ctx)
		return;
	q->due_ms = wake_ms;
	due_arm(q, hub_now_ms());
}

void hub_sub_wake_at(struct hub_sub *sub, uint64_t wake_ms)
{
	if (sub->q)
		due_set(sub->q, wake_ms);
}

struct hub_tail *hub_sub_tail(struct hub_sub *sub, feed_t *feed)
{
	struct hub_subq *q = sub->q;

	if (!q)
		return NULL;
	if (!q->tail && feed)
		q->tail = hub_tail_new(&q->owner->pool, feed, q->key,
				       q->key + strlen(q->key) + 1);
	return q->tail;
}

/* ----------------------------------------------------------- registry */

void hub_subs_tail_limits(struct hub_subs *s, size_t queue_max,
			  size_t total_max)
{
	s->pool.queue_max = queue_max;
	s->pool.max_bytes = total_max;
}

size_t hub_sub_count(const struct hub_subs *s)
{
	return s ? atomic_load_explicit(&s->totals->count,
					memory_order_relaxed)
		 : 0;
}

size_t hub_sub_count_kind(const struct hub_subs *s, enum hub_sub_kind kind)
{
	return s && kind < HUB_SUB_KINDS
		       ? atomic_load_explicit(&s->totals->by_kind[kind],
					      memory_order_relaxed)
		       : 0;
}

void hub_subs_share_totals(struct hub_subs *s, struct hub_sub_totals *t)
{
	s->totals = t;
}

void hub_subs_set_relay(struct hub_subs *s,
			void (*relay)(void *arg, const char *project,
				      const char *queue),
			void *arg)
{
	s->relay = relay;
	s->relay_arg = arg;
}

void hub_sub_notify_all(struct hub_subs *s, const char *project,
			const char *queue)
{
	hub_sub_notify(s, project, queue);
	if (s && s->relay)
		s->relay(s->relay_arg, project, queue);
}

struct hub_subs *hub_subs_new(struct lws_context *ctx)
{
	struct hub_subs *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->ctx = ctx;
	s->totals = &s->own;
	s->nbuckets = NBUCKETS_MIN;
	s->buckets = calloc(s->nbuckets, sizeof(*s->buckets));
	s->pool.max_bytes = HUB_TAIL_TOTAL_MAX;
	s->pool.queue_max = HUB_TAIL_QUEUE_MAX;
	if (!s->buckets) {
		free(s);
		return NULL;
	}
	return s;
}

void hub_subs_free(struct hub_subs *s)
{
	if (!s)
		return;
	/* Subscribers are gone with their connections by now, and so is the
	 * lws context with its timer list (so no lws_sul_cancel here);
	 * entries left would be a leak of a bug, not of the design. */
	for (size_t i = 0; i < s->nbuckets; i++) {
		while (s->buckets[i]) {
			struct hub_subq *q = s->buckets[i];

			s->buckets[i] = q->next;
			hub_tail_free(q->tail);
			free(q);
		}
	}
	free(s->buckets);
	free(s);
}
