/*
 * metrics.h - the server's counters and histograms, and their Prometheus
 * text exposition (metrics.c). The list of what is exported, with types
 * and labels, is docs/operations.md#metrics.
 *
 * Cost on the hot path: every counter has ONE thread that writes it (a
 * loop thread or the writer thread, said below per call; with --loops
 * each loop thread has a copy of the loop counters of its own, named by
 * hub_metrics_loop(), summed at scrape), so an update is a relaxed load
 * and store of a 64-bit word - a plain add, no lock, no atomic
 * read-modify-write - and a scrape on a loop thread reads the other
 * threads' words with relaxed loads (a value at most one update old).
 */
#ifndef HERALD_HUB_METRICS_H
#define HERALD_HUB_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "feed.h"
#include "req.h"

struct hub_route_match;
struct hub_writer;

/* A counter with one writing thread (see the top). */
typedef _Atomic uint64_t hub_counter_t;

static inline void hub_counter_add(hub_counter_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

static inline uint64_t hub_counter_get(const hub_counter_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

/* Why a request was refused before (or instead of) its handler: the
 * label `reason` of herald_http_rejected_total. */
enum hub_reject {
	HUB_REJECT_BODY_TOO_LARGE, /* over the route's body limit */
	HUB_REJECT_FRAMING,        /* chunked, or a bad Content-Length */
	HUB_REJECT_CHECKS,         /* a pre-routing check (headers, media) */
	HUB_REJECT_METHOD,         /* a method the server does not know */
	HUB_REJECT_PIPELINED,      /* pipelined where lws cannot read it */
	HUB_REJECT_SHUTTING_DOWN,  /* came while the server drains */
	HUB_REJECT_SUBSCRIBERS,    /* max-subscribers reached */
	HUB_REJECT_METRICS_AUTH,   /* a scrape without the metrics token */
	HUB_REJECT_UNAUTHENTICATED, /* no or a bad credential: 401 */
	HUB_REJECT_FORBIDDEN,      /* a credential without the right: 403 */
	HUB_REJECT_BAD_SIGNATURE,  /* a pre-signed URL that does not check */
	HUB_REJECT_COUNT
};

/* ------------------------------------------------------- the loop thread */

/*
 * One HTTP request answered (the transport, when its answer went out or
 * its stream ended): counted by its route (m, as looked up; its route
 * NULL: "unmatched"), method and status; its duration goes to the
 * route's latency histogram unless it was a stream (SSE: its duration is
 * the subscriber's life, not a latency). bytes_in/out: body bytes.
 */
void hub_metrics_http(const struct hub_route_match *m, enum hub_method method,
		      int status, uint64_t duration_ns, size_t bytes_in,
		      size_t bytes_out, bool stream);
/* A request refused for `why` (besides its count by status). */
void hub_metrics_reject(enum hub_reject why);
/* WebSocket frames' payload bytes received and sent. */
void hub_metrics_ws_bytes(size_t in, size_t out);
/* Loop thread: a connection was accepted onto (or adopted by) this
 * loop. */
void hub_metrics_connection(void);
/* Messages an append stored (repeats of idempotency keys not counted). */
void hub_metrics_posted(size_t n);
/* Messages a claim handed out. */
void hub_metrics_claimed(size_t n);
/* What a compaction step removed. */
void hub_metrics_compacted(const feed_compact_result_t *res);

/* ----------------------------------------------------- the writer thread */

/* A group commit of n jobs ran in duration_ns (commit and fsync
 * included); rc is feed_write_group's. */
void hub_metrics_group(size_t n, uint64_t duration_ns, int rc);
/* A solo job (writer.h) ran. */
void hub_metrics_solo(void);

/* ------------------------------------------------------------- reading */

/* The last group commit, for the health report (api/home.c): any
 * thread. commits 0: none yet. */
struct hub_metrics_commit {
	uint64_t commits, failures;
	uint64_t last_ns; /* the last one's duration */
	int last_rc;      /* and its result */
};
void hub_metrics_last_commit(struct hub_metrics_commit *out);

/* The transports of live subscribers, in the order of
 * hub_metrics_sources.subscribers. */
enum hub_metrics_transport {
	HUB_METRICS_WS,       /* WebSocket subscribe actions */
	HUB_METRICS_STREAM,   /* the WebSocket stream URL */
	HUB_METRICS_SSE,
	HUB_METRICS_LONGPOLL,
	HUB_METRICS_WEBHOOK,
	HUB_METRICS_TRANSPORTS
};

/* What a scrape reads besides the counters, all borrowed. The core
 * knows no subscriber registry (live/ is above it): the handler counts
 * them in. */
struct hub_metrics_sources {
	feed_t *feed;
	struct hub_writer *writer;
	uint64_t subscribers[HUB_METRICS_TRANSPORTS];
};

/*
 * Appends the text exposition (format 0.0.4) of every metric to out.
 * Loop thread. Cost: the counters (O(routes x statuses), a few thousand
 * words) and, from feed, one feed_env_info() and one feed_env_totals():
 * O(1) each - never a walk over the queues.
 */
void hub_metrics_render(struct hub_buf *out,
			const struct hub_metrics_sources *src);

/* ------------------------------------------------------------- access */

/* Who may scrape /metrics (config metrics = off | open | token). */
enum hub_metrics_access {
	HUB_METRICS_OFF,   /* /metrics is a 404 */
	HUB_METRICS_OPEN,  /* anyone who reaches the port */
	HUB_METRICS_TOKEN, /* Authorization: Bearer <the token> */
};

/*
 * Reads the access setting at start: cfg->metrics ("" = the default:
 * open when the server listens on a loopback address, off otherwise)
 * and, for token, cfg->metrics_token_file (the token's SHA-256, 64 hex
 * digits, on its first line). Prints why and returns -1 when they are
 * bad. Loop thread, before serving.
 */
int hub_metrics_configure(const struct hub_config *cfg);
/* The server runs n service loops (1..HUB_LOOPS_MAX; before they start):
 * a scrape sums their loop counters. */
void hub_metrics_loops(unsigned n);
/* The calling thread is service loop `loop` (< the n above): its loop
 * counters are its own copy. A thread that never calls it counts as
 * loop 0. */
void hub_metrics_loop(unsigned loop);
enum hub_metrics_access hub_metrics_access(void);
/* SIGHUP: metrics = token re-reads metrics-token-file; a bad file keeps
 * the token it had (and says so in the log). Loop thread. */
void hub_metrics_reload(const struct hub_config *cfg);
/* Whether `authorization` (an Authorization header, NULL or "" when
 * absent) carries the metrics token; constant time in the token. */
bool hub_metrics_token_ok(const char *authorization);

#endif /* HERALD_HUB_METRICS_H */
