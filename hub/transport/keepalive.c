/*
 * keepalive.c - the coarse idle sweep (keepalive.h has why and how).
 *
 *   conns:  c0 - c1 - c2 - ... - cN-1     (order of arrival)
 *                     ^ next
 *   a tick looks at ceil(N x elapsed / ping) + 1 of them from `next` on
 *   (elapsed: the clock's move since the last tick, a tick at first),
 *   wrapping at the tail, at most N: every connection is looked at
 *   within one ping interval, even when ticks come late or the clock
 *   jumps.
 *
 * Removing the connection `next` points at moves `next` on first, so a
 * sweep never follows a stale link. New connections join at the tail.
 */
#include "transport/keepalive.h"

void hub_ka_init(struct hub_ka *ka, uint32_t ping_ms, uint32_t hangup_ms,
		 uint32_t tick_ms,
		 void (*ping)(struct hub_ka_conn *c, void *arg),
		 void (*hangup)(struct hub_ka_conn *c, void *arg), void *arg)
{
	*ka = (struct hub_ka){.ping_ms = ping_ms, .hangup_ms = hangup_ms,
			      .tick_ms = tick_ms, .ping = ping,
			      .hangup = hangup, .arg = arg};
}

void hub_ka_add(struct hub_ka *ka, struct hub_ka_conn *c, uint64_t now_ms)
{
	c->last_ms = now_ms;
	c->pinged = false;
	lws_dll2_add_tail(&c->node, &ka->conns);
}

void hub_ka_remove(struct hub_ka *ka, struct hub_ka_conn *c)
{
	if (lws_dll2_is_detached(&c->node))
		return;
	if (ka->next == &c->node)
		ka->next = c->node.next;
	lws_dll2_remove(&c->node);
}

void hub_ka_seen(struct hub_ka_conn *c, uint64_t now_ms)
{
	c->last_ms = now_ms;
	c->pinged = false;
}

/* Looks at one connection. */
static void check(struct hub_ka *ka, struct hub_ka_conn *c, uint64_t now_ms)
{
	uint64_t idle = now_ms > c->last_ms ? now_ms - c->last_ms : 0;

	if (idle >= ka->hangup_ms) {
		ka->hangup(c, ka->arg);
	} else if (idle >= ka->ping_ms && !c->pinged) {
		c->pinged = true;
		ka->ping(c, ka->arg);
	}
}

size_t hub_ka_sweep(struct hub_ka *ka, uint64_t now_ms)
{
	size_t n = (size_t)ka->conns.count, slice;
	uint64_t elapsed = ka->last_sweep_ms && now_ms > ka->last_sweep_ms
				   ? now_ms - ka->last_sweep_ms
				   : ka->tick_ms;

	ka->last_sweep_ms = now_ms;
	if (!n)
		return 0;
	if (elapsed > ka->ping_ms)
		elapsed = ka->ping_ms;
	slice = (size_t)(((uint64_t)n * elapsed + ka->ping_ms - 1) /
			 ka->ping_ms) + 1;
	if (slice > n)
		slice = n;
	for (size_t i = 0; i < slice; i++) {
		lws_dll2_t *d = ka->next ? ka->next : lws_dll2_get_head(&ka->conns);

		ka->next = d->next; /* before the callbacks: see the top */
		check(ka, lws_container_of(d, struct hub_ka_conn, node), now_ms);
	}
	return slice;
}
