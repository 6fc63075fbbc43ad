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
 * Invariants: q->due_ms != 0 iff q->due is scheduled; an entry freed
 * cancels its timer first.
 *
 * Loop (lws service) thread only.
 */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "feed.h"
#include "live/sub.h"

#define NBUCKETS 1024u   /* a power of two */
#define DUE_STEP_MS 1000 /* real time between looks at the API clock */

struct hub_subq {
	struct hub_subq *next; /* in its bucket */
	struct hub_subs *owner;
	lws_dll2_owner_t subs;
	unsigned busy;         /* a notify is running over it */
	lws_sorted_usec_list_t due;
	uint64_t due_ms;       /* 0: no timer */
	size_t key_len;
	char key[]; /* project \0 queue */
};

struct hub_subs {
	struct lws_context *ctx;
	struct hub_subq *buckets[NBUCKETS];
	size_t count; /* subscribers attached */
};

static size_t make_key(char *key, const char *project, const char *queue)
{
	size_t p = strlen(project), q = strlen(queue);

	memcpy(key, project, p + 1);
	memcpy(key + p + 1, queue, q);
	return p + 1 + q;
}

static unsigned hash(const char *key, size_t len)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)key[i]) * 16777619u;
	return h & (NBUCKETS - 1);
}

static struct hub_subq **find(struct hub_subs *s, const char *key, size_t len)
{
	struct hub_subq **p = &s->buckets[hash(key, len)];

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

	if (q->subs.count || q->busy)
		return;
	lws_sul_cancel(&q->due);
	p = find(s, q->key, q->key_len);
	*p = q->next;
	free(q);
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
		q = calloc(1, sizeof(*q) + len);
		if (!q)
			return -1;
		q->owner = s;
		q->key_len = len;
		memcpy(q->key, key, len);
		*p = q;
	}
	lws_dll2_add_tail(&sub->node, &q->subs);
	sub->q = q;
	s->count++;
	return 0;
}

void hub_sub_detach(struct hub_subs *s, struct hub_sub *sub)
{
	struct hub_subq *q = sub->q;

	if (!q)
		return;
	lws_dll2_remove(&sub->node);
	sub->q = NULL;
	s->count--;
	subq_release(s, q);
}

/* Wakes those attached to q now, each once, oldest first. */
static void wake_all(struct hub_subs *s, struct hub_subq *q)
{
	lws_dll2_owner_t pending;
	struct lws_dll2 *d;

	/* Move them aside, and put each back before its wake. A callback
	 * may detach itself or others, or attach anew (at the tail of
	 * q->subs, so not woken by this run); q stays while this runs. */
	memset(&pending, 0, sizeof(pending));
	while ((d = lws_dll2_get_head(&q->subs))) {
		lws_dll2_remove(d);
		lws_dll2_add_tail(d, &pending);
	}
	q->busy++;
	while ((d = lws_dll2_get_head(&pending))) {
		struct hub_sub *sub = lws_container_of(d, struct hub_sub, node);

		lws_dll2_remove(d);
		lws_dll2_add_tail(d, &q->subs);
		sub->wake(sub);
	}
	q->busy--;
	subq_release(s, q);
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
	wake_all(q->owner, q); /* may free q */
}

void hub_sub_wake_at(struct hub_sub *sub, uint64_t wake_ms)
{
	struct hub_subq *q = sub->q;

	if (!q || !wake_ms || (q->due_ms && q->due_ms <= wake_ms))
		return;
	q->due_ms = wake_ms;
	due_arm(q, hub_now_ms());
}

/* ----------------------------------------------------------- registry */

size_t hub_sub_count(const struct hub_subs *s)
{
	return s ? s->count : 0;
}

struct hub_subs *hub_subs_new(struct lws_context *ctx)
{
	struct hub_subs *s = calloc(1, sizeof(*s));

	if (s)
		s->ctx = ctx;
	return s;
}

void hub_subs_free(struct hub_subs *s)
{
	if (!s)
		return;
	/* Subscribers are gone with their connections by now, and so is the
	 * lws context with its timer list (so no lws_sul_cancel here);
	 * entries left would be a leak of a bug, not of the design. */
	for (unsigned i = 0; i < NBUCKETS; i++) {
		while (s->buckets[i]) {
			struct hub_subq *q = s->buckets[i];

			s->buckets[i] = q->next;
			free(q);
		}
	}
	free(s);
}
