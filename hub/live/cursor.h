/*
 * cursor.h - the one reader of every live subscriber (cursor.c):
 * WebSocket subscriptions and the stream URL, Server-Sent Events; and the
 * marker rule that long-poll listings share with them.
 *
 *   hub_cursor_open   where to start: after a marker, the oldest, or now;
 *                     a malformed marker is FEED_EBADID (refuse it, below)
 *   hub_cursor_next   the next batch: a gap report, or messages within a
 *                     byte budget, or nothing now (then a due timer is set
 *                     if time alone could bring more)
 *   hub_cursor_close  off the registry
 *
 * Transports only frame what a batch holds (a WebSocket frame, SSE
 * events); hub_cursor_render_msg() writes the message object they share.
 *
 * Loop (lws service) thread only.
 */
#ifndef HERALD_HUB_LIVE_CURSOR_H
#define HERALD_HUB_LIVE_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "cluster.h"
#include "feed.h"
#include "req.h"
#include "live/sub.h"
#include "live/tail.h"

/* ------------------------------------------------------ the marker rule */

/*
 * One rule on every live transport and long-poll: a marker that is not a
 * message id (24 hex digits of a generation > 0) is refused before any
 * stream starts, with 400 and this error (HTTP: {"title", "description"};
 * WebSocket actions: {"exception": description, "error": null}). A
 * well-formed marker of a deleted generation (stale) is no error: the
 * read reports a gap and resumes at the oldest message.
 */
#define HUB_CURSOR_BAD_MARKER_TITLE "Invalid API request"
#define HUB_CURSOR_BAD_MARKER_TEXT                                             \
	"Invalid marker: pass the id of the last message seen."

/* Whether `marker` may start a read: NULL and "" (absent) may. */
bool hub_cursor_marker_ok(const char *marker);
/* Replies the 400 of a malformed marker (see above). */
void hub_cursor_refuse(struct hub_req *r);

/* ------------------------------------------------------------ the cursor */

enum hub_cursor_from {
	HUB_CURSOR_MARKER, /* after opts.marker ("" / NULL: the oldest) */
	HUB_CURSOR_OLDEST, /* the whole backlog */
	HUB_CURSOR_NOW,    /* only what is appended after the open */
};

struct hub_cursor;

struct hub_cursor_opts {
	enum hub_sub_kind kind;    /* the subscriber's, for the metrics */
	const char *project;       /* "" for the default project */
	const char *queue;
	enum hub_cursor_from from;
	const char *marker;        /* HUB_CURSOR_MARKER only */
	unsigned flags;            /* FEED_READ_* */
	const uint8_t *client_id;  /* the reader, for echo; NULL: none */
	size_t limit;              /* messages per batch at most, >= 1 */
	size_t budget;             /* bytes of bodies per batch, about */
	/* Read through the queue's shared rendered tail (tail.c) while the
	 * marker lies in it: batches carry the rendered messages only (v is
	 * NULL). Needs a registry. */
	bool shared;
	/* Called when a commit or a due timer may have given the cursor
	 * something: read with hub_cursor_next() soon (not from inside). */
	void (*wake)(struct hub_cursor *c);
};

/* Embed in the subscriber's state; the fields are the cursor's. */
struct hub_cursor {
	struct hub_sub sub;            /* in the registry */
	struct hub_subs *subs;         /* NULL: not woken (unit tests) */
	feed_t *feed;
	void (*wake)(struct hub_cursor *c);
	feed_read_opts_t read;
	size_t budget;
	bool shared;
	struct hub_tail_reader tail;   /* its place in the shared tail */
	char project[FEED_PROJECT_MAX + 1];
	char queue[FEED_NAME_MAX + 1];
	/* Where the next read starts: after the last message delivered, or
	 * a gap's resume marker; "" = the oldest. */
	char marker[FEED_ID_LEN + 1];
};

/*
 * Starts c on o->queue and hangs it on `subs` (may be NULL). Returns 0;
 * FEED_EBADID for a malformed o->marker (reply hub_cursor_refuse or its
 * words); FEED_EINVAL for names too long; FEED_ENOMEM when the registry
 * could not take it; another FEED_E* when "now" could not be read. On
 * failure c is closed (hub_cursor_close is a no-op on it).
 */
int hub_cursor_open(struct hub_cursor *c, struct hub_subs *subs,
		    feed_t *feed, const struct hub_cursor_opts *o);
/* Off the registry; c's storage is the caller's. Safe to call twice. */
void hub_cursor_close(struct hub_cursor *c);

/* Messages per batch at most (hub_cursor_opts.limit is clamped). */
#define HUB_CURSOR_LIMIT_MAX 256

/* A message of a batch: its id and its JSON object as every live
 * transport sends it (hub_cursor_render_msg), shared or the batch's own. */
struct hub_cursor_item {
	const char *id;
	const char *json;
	size_t len;
};

enum hub_batch_kind {
	HUB_BATCH_NONE, /* nothing now; the cursor wakes when there may be */
	HUB_BATCH_GAP,  /* messages after the marker were lost (expiry, or a
			 * stale marker); the messages after the hole come
			 * in the next batch */
	HUB_BATCH_MSGS, /* v[0..n) in log order */
	/* Nothing here, and the queue's shard is another node's now (a
	 * shard move, cluster.h): `owner` holds it; the marker is where it
	 * was before this read, for the subscriber to go on from there. */
	HUB_BATCH_MOVED,
};

struct hub_cursor_batch {
	enum hub_batch_kind kind;
	uint64_t now_ms;           /* of the read: ages are against it */
	/* GAP: how many were lost, -1 when unknown. */
	int64_t missed;
	/* MOVED: the node that holds the queue now. */
	char owner[HUB_NODE_MAX];
	/* The cursor's marker after this batch: for a GAP the marker where
	 * delivery resumes (before the first message after the hole, so
	 * resuming from it yields exactly what comes next); for MSGS the
	 * marker after the last message of the batch. */
	char marker[FEED_ID_LEN + 1];
	/* MSGS: the messages, n >= 1, rendered (items) and, read from the
	 * log, as stored (v; NULL when they came from the shared tail). */
	const struct hub_cursor_item *items;
	const feed_msg_t *v;       /* owned by the batch */
	size_t n;
	feed_msgs_t msgs_;         /* private */
	struct hub_buf text_;
	struct hub_cursor_item items_[HUB_CURSOR_LIMIT_MAX];
};

/*
 * Reads the next batch after c's marker and moves the marker past it
 * (the caller sends it, or drops the connection). In a cluster, a read
 * that finds no message (nothing, or a gap) of a queue this node no
 * longer owns is MOVED instead, the marker left where it was: the move's
 * drop of the queue wakes its subscribers, and each learns so once it
 * has had everything this node held (no per-batch ownership check). MSGS holds at least one
 * message and stops adding them once their bodies pass the budget. When
 * the batch is NONE and time alone could bring more (a delayed message
 * falling due; a claim expiring when claimed messages are left out), the
 * cursor asks the registry for a wake at that time. Returns 0 or a FEED_E*
 * code (the marker is unchanged; try again at the next wake). Free the
 * batch with hub_cursor_batch_free(), before anything else can commit
 * (the shared items live in the tail until its next fill).
 */
int hub_cursor_next(struct hub_cursor *c, uint64_t now_ms,
		    struct hub_cursor_batch *b);
void hub_cursor_batch_free(struct hub_cursor_batch *b);
/*
 * Whether c may have more now, after a MSGS batch: false only when it
 * reads through the shared tail and stands at its end (nothing after its
 * place), so the transport need not ask again before the next wake.
 */
bool hub_cursor_may_have_more(const struct hub_cursor *c);

/*
 * Appends a message as the JSON object every live transport sends:
 * {"id": "...", "ttl": N, "age": N, "body": <the stored body>}. The body
 * is JSON already (compact, as posted) and goes in as it is: no parse.
 */
void hub_cursor_render_msg(struct hub_buf *out, const feed_msg_t *m,
			   uint64_t now_ms);

#endif /* HERALD_HUB_LIVE_CURSOR_H */
