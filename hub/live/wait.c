/*
 * wait.c - the request side of live delivery: long-poll parameters and
 * holds, streaming answers, and notifying a queue by name.
 *
 * A handler decides whether to wait (it found nothing) and says until
 * when its queue could change by time alone (wake_ms, from feed); the
 * transport holds the request on the subscriber registry (sub.c), which
 * wakes it on a commit or at wake_ms. Streams (SSE) get their bytes from
 * a producer the transport drives. Nothing here touches lws.
 *
 * Loop (lws service) thread only.
 */
#include "req.h"
#include "live/sub.h"
#include "live/wait.h"

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

void hub_wait(struct hub_req *r, uint64_t wake_ms)
{
	r->wait_wake_ms = wake_ms;
	r->transport->hold(r);
}

void hub_notify_queue(struct hub_subs *subs, const char *project,
		      const char *queue)
{
	hub_sub_notify_all(subs, project, queue);
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
