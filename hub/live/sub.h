/*
 * sub.h - the subscriber registry: who waits on which queue, and when a
 * queue's waiters must be woken without a commit (sub.c).
 *
 * The registry is its own object (struct hub_subs), made by whoever runs
 * the loop and passed explicitly; it knows nothing of the server. Loop
 * (lws service) thread only.
 */
#ifndef HERALD_HUB_LIVE_SUB_H
#define HERALD_HUB_LIVE_SUB_H

#include <libwebsockets.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "feed.h"

struct hub_subs;

/* Who a subscriber is, for the metrics' count by transport (metrics.c):
 * its owner sets it before the first attach. */
enum hub_sub_kind {
	HUB_SUB_OTHER,    /* none set */
	HUB_SUB_WS,       /* a WebSocket subscribe action */
	HUB_SUB_STREAM,   /* the WebSocket stream URL */
	HUB_SUB_SSE,      /* an SSE stream */
	HUB_SUB_LONGPOLL, /* a held long-poll */
	HUB_SUB_WEBHOOK,  /* a webhook subscription's deliverer */
	HUB_SUB_KINDS
};

/*
 * A subscriber: a wake callback hung on one queue (see sub.c). Embed it
 * in the owner's state; zero it before the first attach.
 */
struct hub_sub {
	lws_dll2_t node;
	lws_dll2_t ready;   /* in the registry's wake queue while due a wake */
	struct hub_subq *q; /* NULL while detached */
	void (*wake)(struct hub_sub *sub);
	enum hub_sub_kind kind;
};

/*
 * A registry whose due timers run on `ctx` (lws_sul_schedule). Returns
 * NULL when out of memory. Free it after lws_context_destroy(ctx), which
 * closes the connections and so detaches every subscriber.
 */
struct hub_subs *hub_subs_new(struct lws_context *ctx);
void hub_subs_free(struct hub_subs *subs);
/* Hangs sub on (project, queue), moving it if attached elsewhere.
 * Returns 0, or -1 (names too long, out of memory; sub stays detached). */
int hub_sub_attach(struct hub_subs *subs, struct hub_sub *sub,
		   const char *project, const char *queue);
/* Takes sub off its queue; no-op when detached. */
void hub_sub_detach(struct hub_subs *subs, struct hub_sub *sub);
/*
 * Wakes every subscriber of (project, queue) once, after filling the
 * queue's shared tail (tail.h) if it has one. Wakes go through a queue:
 * at most a pass's budget of them now, the rest on the next passes of the
 * loop, so that a fan-out to thousands never holds up the loop's other
 * work (sub.c). NULL subs: no-op.
 */
void hub_sub_notify(struct hub_subs *subs, const char *project,
		    const char *queue);
/*
 * A due timer: wake the subscribers of sub's queue once the API clock
 * (hub_now_ms) reaches wake_ms - a delayed message falls due, a claim
 * expires. One timer per queue, at the earliest time asked; it fires
 * once, then whoever still needs one asks again. The timer runs in real
 * time for at most a second at a time and then re-reads the API clock, so
 * a test that moves its clock is served within a second. No-op for a
 * detached sub or wake_ms 0.
 */
void hub_sub_wake_at(struct hub_sub *sub, uint64_t wake_ms);
/*
 * The shared rendered tail of sub's queue (tail.h), made on first use
 * when `feed` is given (NULL: only an existing one). NULL when sub is
 * detached, or none could be made. It lives while the queue has
 * subscribers; its readers leave it before they detach.
 */
struct hub_tail *hub_sub_tail(struct hub_sub *sub, feed_t *feed);
/* Bytes the shared tails may hold: per queue and in total (defaults
 * below; tests set small ones; the server's loops share them out). */
#define HUB_TAIL_QUEUE_MAX (8u << 20)
#define HUB_TAIL_TOTAL_MAX (64u << 20)
void hub_subs_tail_limits(struct hub_subs *subs, size_t queue_max,
			  size_t total_max);
/* Subscribers attached: of this registry, or of every registry sharing
 * its totals (several loops; any thread may read them). */
size_t hub_sub_count(const struct hub_subs *subs);
/* Subscribers of one kind attached: O(1). */
size_t hub_sub_count_kind(const struct hub_subs *subs, enum hub_sub_kind kind);

/* Counts that several registries (one per service loop, server.c) add
 * to: hub_sub_count and hub_sub_count_kind tell the sum. */
struct hub_sub_totals {
	_Atomic size_t count;
	_Atomic size_t by_kind[HUB_SUB_KINDS];
};
/* Makes subs count into t (borrowed: it outlives subs), from now on:
 * before anything attaches. */
void hub_subs_share_totals(struct hub_subs *subs, struct hub_sub_totals *t);
/* Sets how a change of a queue that is no append (those the writer
 * tells every loop of) reaches the other loops' registries: relay(arg,
 * project, queue), called by hub_sub_notify_all. */
void hub_subs_set_relay(struct hub_subs *subs,
			void (*relay)(void *arg, const char *project,
				      const char *queue),
			void *arg);
/* hub_sub_notify here, and on the other loops through the relay. */
void hub_sub_notify_all(struct hub_subs *subs, const char *project,
			const char *queue);

#endif /* HERALD_HUB_LIVE_SUB_H */
