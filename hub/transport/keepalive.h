/*
 * keepalive.h - idle checks of long-lived connections by a coarse sweep
 * (keepalive.c): O(1) per connection per ping interval, whatever the
 * number of connections.
 *
 * Why not lws's: lws 4.1.6 keeps each connection's validity timer in one
 * sorted list per context and re-inserts it on every pong and at every
 * connection's start (lws_dll2_add_sorted from the head: the new
 * deadline is the latest, so the walk is the whole list). With N
 * connections pinged every P seconds that is N / P inserts a second of
 * O(N) each: N^2 / P list steps a second - some 3 million at 10,000
 * connections, 330 million at 100,000.
 *
 * The sweep: a connection says when it last heard from its peer
 * (hub_ka_seen, O(1), no list moves); a timer per loop calls
 * hub_ka_sweep() every tick, which looks at the next slice of the
 * connections, round-robin, in proportion to how far the clock moved
 * since the last sweep - so every connection is looked at at least once
 * per ping interval of that clock. One idle for ping_ms gets one ping
 * (ping()); one idle for hangup_ms is hung up (hangup()). So a ping goes
 * out after ping_ms to 2 x ping_ms of silence, a hangup after hangup_ms
 * to hangup_ms + ping_ms. The clock is a parameter: ws.c gives
 * hub_idle_ms() (monotonic; the test clock in tests).
 *
 * Loop thread only; the callbacks must not remove connections during
 * the sweep (close them asynchronously: hub_ka_remove when they go).
 */
#ifndef HERALD_HUB_TRANSPORT_KEEPALIVE_H
#define HERALD_HUB_TRANSPORT_KEEPALIVE_H

#include <libwebsockets.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A connection's part, inside the connection's own struct. */
struct hub_ka_conn {
	lws_dll2_t node;
	uint64_t last_ms; /* heard from the peer */
	bool pinged;      /* a ping went out since */
};

struct hub_ka {
	lws_dll2_owner_t conns;
	lws_dll2_t *next;  /* where the next sweep starts; NULL: the head */
	uint32_t ping_ms, hangup_ms, tick_ms;
	uint64_t last_sweep_ms;  /* the clock at the last sweep; 0: none */
	void (*ping)(struct hub_ka_conn *c, void *arg);
	void (*hangup)(struct hub_ka_conn *c, void *arg);
	void *arg;
};

/* Sets ka up empty (hangup_ms > ping_ms >= tick_ms > 0). */
void hub_ka_init(struct hub_ka *ka, uint32_t ping_ms, uint32_t hangup_ms,
		 uint32_t tick_ms,
		 void (*ping)(struct hub_ka_conn *c, void *arg),
		 void (*hangup)(struct hub_ka_conn *c, void *arg), void *arg);
/* c starts being checked, heard from at now_ms. */
void hub_ka_add(struct hub_ka *ka, struct hub_ka_conn *c, uint64_t now_ms);
/* c is no longer checked (it closes). Not added: no-op. */
void hub_ka_remove(struct hub_ka *ka, struct hub_ka_conn *c);
/* The peer of c was heard from (any frame, a pong). */
void hub_ka_seen(struct hub_ka_conn *c, uint64_t now_ms);
/* One tick at now_ms: looks at the next slice; returns how many it
 * looked at. */
size_t hub_ka_sweep(struct hub_ka *ka, uint64_t now_ms);

#endif /* HERALD_HUB_TRANSPORT_KEEPALIVE_H */
