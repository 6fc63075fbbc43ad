/*
 * tail.h - a queue's recent messages, rendered once and shared by every
 * live subscriber of the queue (tail.c).
 *
 *   hub_tail_new / _free     one per queue entry of the registry (sub.c)
 *   hub_tail_fill            after a commit or a due timer: ONE read of
 *                            the log after the tail's end, each message
 *                            rendered once into the tail
 *   hub_tail_join / _leave   a reader (a cursor) whose marker lies in the
 *                            tail takes a place in it; leaves on close
 *   hub_tail_take            a reader's next messages: pointers to the
 *                            shared bytes, its place moved past them
 *
 * Bounded by bytes per queue and, through the pool, in total; what does
 * not fit is not cached and its readers read the log (cursor.c).
 *
 * Loop (lws service) thread only.
 */
#ifndef HERALD_HUB_LIVE_TAIL_H
#define HERALD_HUB_LIVE_TAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "feed.h"

/* What every tail of a registry shares: its byte budget. */
struct hub_tail_pool {
	size_t bytes;     /* held by all tails now */
	size_t max_bytes; /* in total */
	size_t queue_max; /* per tail */
};

/* One message, rendered: {"id", "ttl", "age", "body"} (see
 * hub_cursor_render_msg). Read-only to readers. */
struct hub_tail_msg {
	struct hub_tail_msg *next;
	uint64_t seq;
	uint64_t created_ms, expires_ms;
	uint8_t client_id[16];
	char id[FEED_ID_LEN + 1];
	bool filled; /* false: the end, where the next message will be */
	bool dead;   /* evicted or reset: its readers read the log */
	unsigned refs; /* readers whose next message this is */
	long long age_s; /* of the rendering */
	char *json;
	size_t len, cap;
};

/* A reader's place: the next message it has not been given. */
struct hub_tail_reader {
	struct hub_tail_msg *at; /* NULL: not in the tail */
};

struct hub_tail;

/* A tail of (project, queue) on `feed`, starting after the queue's
 * newest message now. NULL when out of memory. */
struct hub_tail *hub_tail_new(struct hub_tail_pool *pool, feed_t *feed,
			      const char *project, const char *queue);
/* Frees t; every reader must have left. */
void hub_tail_free(struct hub_tail *t);

/*
 * Reads what the log has after the tail's end (at most a page) and
 * renders it into the tail. Returns 0 or a FEED_E* code. *wake_ms: 0, or
 * when time alone could bring more (a delayed message falling due).
 */
int hub_tail_fill(struct hub_tail *t, uint64_t now_ms, uint64_t *wake_ms);
/* Whether the last fill was cut short: the log may have more. */
bool hub_tail_more(const struct hub_tail *t);

/*
 * Places r in t when `marker` (the reader's cursor) lies in what t holds:
 * every message after it that the log showed at the fills is in t.
 * Returns whether it did. A reader already in t is left where it is.
 */
bool hub_tail_join(struct hub_tail *t, struct hub_tail_reader *r,
		   const char *marker);
/* Takes r out of t (no-op when it is not in). */
void hub_tail_leave(struct hub_tail *t, struct hub_tail_reader *r);

enum hub_tail_take_result {
	HUB_TAIL_OUT,   /* r is not (or no longer) in t: read the log */
	HUB_TAIL_EMPTY, /* nothing after r's place yet */
	HUB_TAIL_TOOK,  /* v[0..*n) (maybe none: all were r's own), marker */
};

/*
 * r's next messages: at most `limit`, stopping once their bytes pass
 * `budget`; messages of client `skip_client` (NULL: none) are stepped
 * over (echo=false). `marker` gets the id of the last message stepped
 * to. A message expired by now_ms takes r out (the log then reports the
 * gap). Ages are re-rendered when their second changed. The pointers
 * stay valid until the next fill, join, leave or take on t.
 */
enum hub_tail_take_result hub_tail_take(struct hub_tail *t,
					struct hub_tail_reader *r,
					uint64_t now_ms,
					const uint8_t *skip_client,
					size_t limit, size_t budget,
					const struct hub_tail_msg **v, size_t *n,
					char marker[FEED_ID_LEN + 1]);

/* Whether r's place holds a message (it is not at the end, or its place
 * was evicted: either way, a take would give it something). */
bool hub_tail_reader_more(const struct hub_tail_reader *r);

/* Messages and bytes held (tests, metrics). */
size_t hub_tail_count(const struct hub_tail *t);
size_t hub_tail_bytes(const struct hub_tail *t);

#endif /* HERALD_HUB_LIVE_TAIL_H */
