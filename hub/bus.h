/*
 * bus.h - the message bus between the nodes of a cluster (docs/scale.md):
 * what the core asks of the transport that speaks it (transport/nats.c,
 * NATS core over an lws raw connection), which fills the server's struct
 * hub_bus (server.h) at start: the core calls it and knows no transport
 * code, as with the HTTP client (hclient.h).
 *
 * What travels is only news, never messages: "queue Q of project P grew"
 * on subject herald.q.Q (the project is the payload). The node that owns
 * Q publishes it after every commit; a node whose subscribers watch Q
 * (transport/remote.c) subscribes to it, and on hearing it reads Q's owner
 * from its subscribers' markers. NATS core keeps nothing and may drop:
 * a lost news item costs latency (the periodic check, or the read on the
 * bus's reconnection, finds the messages), never a message.
 *
 *   core / readers               bus (transport/nats.c)
 *   publish(project, queue) --> PUB herald.q.QUEUE  (loop 0, at commits)
 *   watch(queue) / unwatch  --> SUB / UNSUB, counted per queue
 *   registry wake of       <--  MSG: hub_sub_notify(project, queue)
 *   (project, queue)
 *   every remote reader    <--  every (re)connection, once the SUBs are
 *   reads (hub_remotes_heal)    sent again
 *
 * Loop thread only: each service loop has its own connection.
 */
#ifndef HERALD_HUB_BUS_H
#define HERALD_HUB_BUS_H

/* The subject prefix; the queue's name follows. */
#define HUB_BUS_SUBJECT "herald.q."

struct hub_bus {
	/* Tells the cluster that (project, queue) grew. Never blocks: when
	 * the bus is down or behind, the news is dropped (see above). */
	void (*publish)(void *arg, const char *project, const char *queue);
	/* Wants news of `queue` (any project): 0, or -1 out of memory.
	 * Counted: as many unwatch() calls end it. */
	int (*watch)(void *arg, const char *queue);
	void (*unwatch)(void *arg, const char *queue);
	void *arg;
};

#endif /* HERALD_HUB_BUS_H */
