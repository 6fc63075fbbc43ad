/*
 * swarm.h - many WebSocket client connections on one epoll loop: the
 * subscribers of the fan-out test (tests/hub/test_ws_fanout.c) and of the
 * WebSocket benchmark (tests/bench/ws/ws_bench.c).
 *
 * A test or a benchmark needs thousands of subscribers in one thread, and
 * neither of the clients already in the tree fits: tests/hub/test_ws.c's
 * is blocking, one connection at a time, and hub/cli/net.c runs one lws
 * connection until it ends. This one is a plain RFC 6455 client on
 * non-blocking sockets: it sends the upgrade request and reads the
 * server's frames (any size, fragmented or not), answers pings and
 * closes, masks what it sends, and hands each whole text message to a
 * callback. It never sends data frames: stream-URL subscribers need none.
 *
 *     struct swarm *s = swarm_new(1000, port, 1, &cbs);
 *     for (unsigned i = 0; i < 1000; i++)
 *             swarm_connect(s, i, "/v2/queues/q/stream?marker=...");
 *     while (want more)
 *             swarm_poll(s, 100);       (calls cbs.up / text / down)
 *     swarm_free(s);
 *
 * Connections are opened at most SWARM_CONNECTING at a time (the rest wait
 * in order), so a burst does not overflow the server's listen backlog.
 * Connection i binds to source address 127.0.0.(1 + i % sources) when
 * `sources` > 1, for more than one address's worth of ephemeral ports.
 *
 * Memory: an idle connection holds no buffer; bytes of a frame that is
 * not complete yet are kept per connection until it is.
 *
 * Not thread-safe: one thread per swarm.
 */
#ifndef HERALD_TEST_SWARM_H
#define HERALD_TEST_SWARM_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define SWARM_CONNECTING 256 /* upgrades in flight at once */

struct swarm;

struct swarm_cbs {
	/* The server answered connection i's upgrade with 101. */
	void (*up)(void *arg, unsigned i);
	/* A whole text message of connection i (borrowed until return;
	 * not NUL-terminated). */
	void (*text)(void *arg, unsigned i, const char *msg, size_t len);
	/* Connection i ended: refused, closed by the server, or failed
	 * (`why` says which). It is not reopened. */
	void (*down)(void *arg, unsigned i, const char *why);
	void *arg;
	/* A whole binary message of connection i, as text's; may be NULL
	 * (binary messages are then dropped). */
	void (*binary)(void *arg, unsigned i, const char *msg, size_t len);
};

/* n connections to 127.0.0.1:port. NULL when out of memory. */
struct swarm *swarm_new(unsigned n, int port, unsigned sources,
			const struct swarm_cbs *cbs);
/* Closes every connection (without callbacks) and frees s. */
void swarm_free(struct swarm *s);
/* Opens connection i to `path` (copied), now or when a slot frees. */
void swarm_connect(struct swarm *s, unsigned i, const char *path);
/* Waits up to timeout_ms (0: not at all) for events and handles them.
 * Returns the number handled, -1 when epoll fails. */
int swarm_poll(struct swarm *s, int timeout_ms);
/* Sends connection i (open) one text frame of at most 125 bytes: false
 * when it cannot. */
bool swarm_send(struct swarm *s, unsigned i, const char *text, size_t len);
/* The epoll descriptor: readable when swarm_poll has something to do,
 * for a caller that waits on the swarm and on descriptors of its own. */
int swarm_fd(const struct swarm *s);
/* Connections whose upgrade succeeded and that have not ended. */
unsigned swarm_up(const struct swarm *s);
/* Connections that ended (refused, closed, failed). */
unsigned swarm_down(const struct swarm *s);

/* CPU seconds (user + system) process pid has used so far; -1 when
 * unknown. Both the test and the benchmark report the server's. */
double swarm_cpu_seconds(pid_t pid);

#endif /* HERALD_TEST_SWARM_H */
