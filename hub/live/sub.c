/*
 * sub.c - the subscriber registry: who waits for which queue.
 *
 * The log is the buffer. A subscriber here is only a hook, a wake
 * callback, hung on a queue; it holds no messages. When a commit changes
 * a queue (writer.c, after an append group or a claim release), the
 * queue's subscribers are woken; each then reads what it needs from feed
 * itself - a WebSocket or SSE connection asks to be writable and reads the
 * next batch after its marker, a held long-poll request runs its handler
 * again. A slow subscriber therefore costs nothing here but its hook.
 *
 *   buckets[hash(project \0 queue)] -> subq -> subq -> ...
 *                                       |
 *                                       subs: sub <-> sub <-> sub
 *
 * A queue entry exists while it has subscribers. A notify wakes each
 * subscriber attached at its start once, in O(subscribers); callbacks may
 * detach themselves or others and attach anew - one attached during a
 * notify is not woken by it, so a long-poll request that finds nothing
 * and waits again cannot loop.
 *
 * Loop thread only.
 */
#include <stdlib.h>
#include <string.h>

#include "req.h"
#include "server.h"
#include "live/wait.h"
#include "live/sub.h"

#define NBUCKETS 1024u /* a power of two */

struct hub_subq {
	struct hub_subq *next; /* in its bucket */
	lws_dll2_owner_t subs;
	unsigned busy;         /* a notify is running over it */
	size_t key_len;
	char key[]; /* project \0 queue */
};

struct hub_subs {
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

int hub_sub_attach(struct hub_server *srv, struct hub_sub *sub,
		   const char *project, const char *queue)
{
	char key[FEED_PROJECT_MAX + 1 + FEED_NAME_MAX];
	struct hub_subs *s = srv->subs;
	struct hub_subq **p, *q;
	size_t len;

	if (sub->q)
		hub_sub_detach(srv, sub);
	if (strlen(project) > FEED_PROJECT_MAX || strlen(queue) > FEED_NAME_MAX)
		return -1;
	len = make_key(key, project, queue);
	p = find(s, key, len);
	q = *p;
	if (!q) {
		q = calloc(1, sizeof(*q) + len);
		if (!q)
			return -1;
		q->key_len = len;
		memcpy(q->key, key, len);
		*p = q;
	}
	lws_dll2_add_tail(&sub->node, &q->subs);
	sub->q = q;
	s->count++;
	return 0;
}

void hub_sub_detach(struct hub_server *srv, struct hub_sub *sub)
{
	struct hub_subs *s = srv->subs;
	struct hub_subq *q = sub->q, **p;

	if (!q)
		return;
	lws_dll2_remove(&sub->node);
	sub->q = NULL;
	s->count--;
	if (q->subs.count || q->busy)
		return;
	p = find(s, q->key, q->key_len);
	*p = q->next;
	free(q);
}

void hub_sub_notify(struct hub_server *srv, const char *project,
		    const char *queue)
{
	char key[FEED_PROJECT_MAX + 1 + FEED_NAME_MAX];
	struct hub_subs *s = srv->subs;
	lws_dll2_owner_t pending;
	struct hub_subq *q, **p;
	struct lws_dll2 *d;

	if (!s || strlen(project) > FEED_PROJECT_MAX ||
	    strlen(queue) > FEED_NAME_MAX)
		return;
	q = *find(s, key, make_key(key, project, queue));
	if (!q)
		return;
	/* Those attached now are woken, each once, oldest first: move them
	 * aside, and put each back before its wake. A callback may detach
	 * itself or others, or attach anew (at the tail of q->subs, so not
	 * woken by this notify); q stays while this runs. */
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
	if (q->subs.count || q->busy)
		return;
	p = find(s, q->key, q->key_len);
	*p = q->next;
	free(q);
}

size_t hub_sub_count(const struct hub_server *srv)
{
	return srv->subs ? srv->subs->count : 0;
}

int hub_subs_init(struct hub_server *srv)
{
	srv->subs = calloc(1, sizeof(*srv->subs));
	return srv->subs ? 0 : -1;
}

void hub_subs_free(struct hub_server *srv)
{
	struct hub_subs *s = srv->subs;

	if (!s)
		return;
	/* Subscribers are gone with their connections by now; entries left
	 * would be a leak of a bug, not of the design. */
	for (unsigned i = 0; i < NBUCKETS; i++) {
		while (s->buckets[i]) {
			struct hub_subq *q = s->buckets[i];

			s->buckets[i] = q->next;
			free(q);
		}
	}
	free(s);
	srv->subs = NULL;
}

/* --------------------------------------------------------------- waiting */

#define WAIT_MAX_S 20

bool hub_wait_param(struct hub_req *r)
{
	long long wait;

	if (r->version != HUB_V2)
		return true;
	if (!hub_query_int(r, "wait", 0, &wait))
		return false;
	if (wait < 0 || wait > WAIT_MAX_S) {
		hub_reply_error(r, 400, "Invalid API request",
				"The wait may not be greater than %d seconds, "
				"and must be at least 0 seconds long.",
				WAIT_MAX_S);
		return false;
	}
	r->wait_asked = wait > 0;
	/* Set once: a handler run again after a wake keeps its deadline,
	 * and one run after the wait ended must not wait again. */
	if (wait > 0 && !r->wait_until_ms && !r->wait_over)
		r->wait_until_ms = r->now_ms + (uint64_t)wait * 1000;
	return true;
}

bool hub_can_wait(const struct hub_req *r)
{
	return r->wait_until_ms && !r->wait_over && r->transport->hold &&
	       r->queue;
}

void hub_wait(struct hub_req *r)
{
	r->transport->hold(r);
}

void hub_notify_queue(struct hub_server *srv, const char *project,
		      const char *queue)
{
	hub_sub_notify(srv, project, queue);
}

void hub_stream(struct hub_req *r, const char *content_type,
		const struct hub_stream_ops *ops, void *state)
{
	if (!r->transport->stream) {
		ops->free(state);
		hub_reply_error(r, 501, "Not implemented",
				"This transport cannot stream.");
		return;
	}
	r->transport->stream(r, content_type, ops, state);
}

void hub_stream_wake(struct hub_req *r)
{
	r->transport->stream_wake(r);
}
