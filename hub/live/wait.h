/*
 * wait.h - a request that waits for its queue (long-poll) or streams its
 * answer (SSE), and telling a queue's waiters that it changed (wait.c).
 */
#ifndef HERALD_HUB_LIVE_WAIT_H
#define HERALD_HUB_LIVE_WAIT_H

#include <stdbool.h>
#include <stdint.h>

#include "req.h"

/* --------------------------------------------------------------- waiting */

/*
 * Long-poll (v2 `wait=N`, N seconds 0..20): hub_wait_param() reads the
 * parameter (replies 400 and returns false when it is bad) and sets
 * r->wait_until_ms. A handler that finds nothing to return checks
 * hub_can_wait(r): when true it calls hub_wait(r, wake_ms) instead of
 * replying, and returns. The request is then held; when a write commits on
 * r->queue, when the API clock reaches wake_ms (feed's wake_ms of the read
 * or claim that found nothing: a delayed message falls due, a claim
 * expires; 0 for none), or when the wait ends, the handler runs again from
 * the start (r->now_ms updated; after the end hub_can_wait() is false, so
 * it replies).
 */
bool hub_wait_param(struct hub_req *r);
bool hub_can_wait(const struct hub_req *r);
void hub_wait(struct hub_req *r, uint64_t wake_ms);
/*
 * Starts a streaming answer (200, content_type, no length; the connection
 * closes when it ends). r is then owned by the stream: the handler returns
 * and never replies. Replies 501 when the transport cannot stream.
 */
void hub_stream(struct hub_req *r, const char *content_type,
		const struct hub_stream_ops *ops, void *state);
/* The stream's producer has something new: call its next() soon. */
void hub_stream_wake(struct hub_req *r);

/* Tells the subscribers of a queue that it changed (e.g. after a claim
 * release made messages claimable); by names, for a done() whose client
 * may be gone. Appends notify by themselves. */
void hub_notify_queue(struct hub_subs *subs, const char *project,
		      const char *queue);

#endif /* HERALD_HUB_LIVE_WAIT_H */
