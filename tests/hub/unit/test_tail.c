/*
 * test_tail.c - the shared rendered tail (hub/live/tail.c) against a feed
 * in a temporary directory: one rendering shared by every reader, refs
 * and freeing, joining in the middle, echo filtering, the byte bound and
 * eviction, expiry and gaps, age re-rendering; and cursors reading
 * through it (hub/live/cursor.c with a registry), a lagging one catching
 * up from the log with no gap and no duplicate.
 *
 * Times are parameters (now_ms), except where the registry fills a tail:
 * it reads the API clock (real time here, with long ttls). The registry
 * runs without an lws context (wakes at once, no due timers), so nothing
 * here waits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "feed.h"
#include "fixture.h"
#include "live/cursor.h"
#include "live/sub.h"
#include "live/tail.h"
#include "tap.h"

#define T0  1795352400000ULL
#define SEC 1000ULL

static const char *P = "proj";
static char ids[256][FEED_ID_LEN + 1];

/* Appends n messages "<first+i>" of client `client` (body padded with
 * spaces to `pad` bytes when pad > 0); ids to ids[first..]. */
static void append(feed_t *feed, const char *queue, int first, int n,
		   unsigned client, size_t pad, uint32_t ttl_s, uint64_t now)
{
	uint8_t cid[16];
	char body[4096];

	fixture_client(cid, client);
	for (int i = 0; i < n; i++) {
		int len = snprintf(body, sizeof(body), "%d", first + i);
		feed_msg_in_t in = {.body = body, .ttl_s = ttl_s};

		while (pad && (size_t)len < pad && (size_t)len < sizeof(body))
			body[len++] = ' ';
		in.body_len = (size_t)len;
		if (feed_append(feed, P, queue, &in, 1, cid, now, &ids[first + i]))
			bail_out("append to %s", queue);
	}
}

static struct hub_tail_pool pool_of(size_t queue_max)
{
	struct hub_tail_pool p = {.max_bytes = 1u << 26, .queue_max = queue_max};

	return p;
}

static enum hub_tail_take_result take(struct hub_tail *t,
				      struct hub_tail_reader *r, uint64_t now,
				      const uint8_t *skip,
				      const struct hub_tail_msg **v, size_t *n,
				      char *marker)
{
	return hub_tail_take(t, r, now, skip, 100, 1u << 20, v, n, marker);
}

static void shared_and_freed(feed_t *feed)
{
	struct hub_tail_pool pool = pool_of(1u << 20);
	struct hub_tail *t = hub_tail_new(&pool, feed, P, "s");
	struct hub_tail_reader a = {0}, b = {0}, late = {0};
	const struct hub_tail_msg *va[100], *vb[100];
	char ma[FEED_ID_LEN + 1], mb[FEED_ID_LEN + 1], start[FEED_ID_LEN + 1];
	struct hub_buf want = {0};
	feed_msgs_t m;
	feed_read_opts_t o = {.limit = 10, .flags = FEED_READ_ECHO};
	size_t na, nb;
	uint64_t wake;

	append(feed, "s", 0, 2, 1, 0, 3600, T0); /* before the tail: not in */
	hub_tail_free(t);
	t = hub_tail_new(&pool, feed, P, "s");
	if (!t || feed_queue_tail(feed, P, "s", start))
		bail_out("a tail");
	ok(hub_tail_join(t, &a, start), "a reader at the queue's end joins");
	ok(hub_tail_join(t, &b, start), "and a second one");
	ok(!hub_tail_join(t, &late, ids[0]),
	   "one whose marker is before the tail does not");
	is(take(t, &a, T0, NULL, va, &na, ma), HUB_TAIL_EMPTY,
	   "nothing after the end yet");
	append(feed, "s", 2, 5, 1, 0, 3600, T0 + SEC);
	is(hub_tail_fill(t, T0 + SEC, &wake), 0, "a fill reads the commit");
	is(hub_tail_count(t), 5, "and holds its 5 messages");
	is(pool.bytes, hub_tail_bytes(t), "counted in the pool");

	is(take(t, &a, T0 + SEC, NULL, va, &na, ma), HUB_TAIL_TOOK,
	   "the first reader takes them");
	is(take(t, &b, T0 + SEC, NULL, vb, &nb, mb), HUB_TAIL_TOOK,
	   "so does the second");
	ok(na == 5 && nb == 5 && va[0] == vb[0] && va[4] == vb[4],
	   "both get the same rendered messages, not copies");
	is_str(ma, ids[6], "the marker is the last message's id");
	feed_read(feed, P, "s", ids[1], &o, T0 + SEC, &m);
	hub_cursor_render_msg(&want, &m.v[0], T0 + SEC);
	ok(m.n == 5 && va[0]->len == want.len &&
	   memcmp(va[0]->json, want.data, want.len) == 0,
	   "the rendering is the cursor's message object");
	hub_buf_free(&want);
	feed_msgs_free(&m);
	is(take(t, &a, T0 + SEC, NULL, va, &na, ma), HUB_TAIL_EMPTY,
	   "then nothing more");
	is(hub_tail_count(t), 0,
	   "messages every reader has passed are freed (at the next take)");

	append(feed, "s", 7, 3, 1, 0, 3600, T0 + SEC);
	hub_tail_fill(t, T0 + SEC, &wake);
	take(t, &a, T0 + SEC, NULL, va, &na, ma);
	take(t, &a, T0 + SEC, NULL, va, &na, ma);
	is(hub_tail_count(t), 3, "a reader still before them keeps them");
	ok(hub_tail_join(t, &late, ids[8]),
	   "a reader whose marker is in the middle of a cached batch joins");
	is(take(t, &late, T0 + SEC, NULL, va, &na, ma), HUB_TAIL_TOOK,
	   "and takes");
	ok(na == 1 && strcmp(va[0]->id, ids[9]) == 0,
	   "exactly the messages after its marker");
	hub_tail_leave(t, &b);
	hub_tail_leave(t, &late);
	take(t, &a, T0 + SEC, NULL, va, &na, ma);
	is(hub_tail_count(t), 0, "freed once the last reader left");
	hub_tail_leave(t, &a);
	hub_tail_free(t);
	is(pool.bytes, 0, "the pool is empty once the tail is freed");
}

static void echo(feed_t *feed)
{
	struct hub_tail_pool pool = pool_of(1u << 20);
	struct hub_tail *t = hub_tail_new(&pool, feed, P, "e");
	struct hub_tail_reader r1 = {0}, r2 = {0}, all = {0};
	const struct hub_tail_msg *v[100];
	char start[FEED_ID_LEN + 1], mk[FEED_ID_LEN + 1];
	uint8_t c1[16];
	size_t n;
	uint64_t wake;
	bool only2 = true;

	fixture_client(c1, 1);
	feed_queue_tail(feed, P, "e", start);
	hub_tail_join(t, &r1, start);
	hub_tail_join(t, &r2, start);
	hub_tail_join(t, &all, start);
	append(feed, "e", 20, 2, 1, 0, 3600, T0);
	append(feed, "e", 22, 2, 2, 0, 3600, T0);
	append(feed, "e", 24, 1, 1, 0, 3600, T0);
	hub_tail_fill(t, T0, &wake);
	take(t, &r1, T0, c1, v, &n, mk);
	for (size_t i = 0; i < n; i++)
		only2 = only2 && memcmp(v[i]->client_id, c1, 16) != 0;
	ok(n == 2 && only2 && strcmp(v[0]->id, ids[22]) == 0,
	   "echo=false leaves out its own client's messages, only those");
	is_str(mk, ids[24], "and its marker still passes them");
	take(t, &all, T0, NULL, v, &n, mk);
	is(n, 5, "a reader with echo gets all of them, from the same tail");
	hub_tail_leave(t, &r1);
	hub_tail_leave(t, &r2);
	hub_tail_leave(t, &all);
	hub_tail_free(t);
}

static void bounded(feed_t *feed)
{
	struct hub_tail_pool pool = pool_of(4096);
	struct hub_tail *t = hub_tail_new(&pool, feed, P, "b"), *other;
	struct hub_tail_reader slow = {0};
	const struct hub_tail_msg *v[100];
	char start[FEED_ID_LEN + 1], mk[FEED_ID_LEN + 1];
	size_t n;
	uint64_t wake;

	feed_queue_tail(feed, P, "b", start);
	hub_tail_join(t, &slow, start);
	append(feed, "b", 30, 40, 1, 500, 3600, T0);
	is(hub_tail_fill(t, T0, &wake), 0, "a fill of 40 messages of 500 B");
	ok(hub_tail_bytes(t) <= 4096 + 1024,
	   "stays within the tail's byte bound (%zu B)", hub_tail_bytes(t));
	ok(hub_tail_count(t) < 40, "by evicting the oldest (%zu held)",
	   hub_tail_count(t));
	is(take(t, &slow, T0, NULL, v, &n, mk), HUB_TAIL_OUT,
	   "a reader whose place was evicted is out: it reads the log");
	ok(slow.at == NULL, "and holds nothing");
	hub_tail_free(t);

	pool = pool_of(1u << 20);
	pool.max_bytes = 2048;
	t = hub_tail_new(&pool, feed, P, "b");
	other = hub_tail_new(&pool, feed, P, "b2");
	append(feed, "b", 70, 10, 1, 500, 3600, T0);
	append(feed, "b2", 80, 2, 1, 500, 3600, T0);
	hub_tail_fill(t, T0, &wake);
	ok(pool.bytes <= 2048 + 1024 && !hub_tail_more(t),
	   "the total bound holds too: a tail keeps its newest");
	hub_tail_fill(other, T0, &wake);
	ok(hub_tail_count(other) == 0 && hub_tail_more(other),
	   "a tail that finds the pool full caches nothing and knows the log "
	   "has more");
	hub_tail_free(other);
	hub_tail_free(t);
}

static void expiry_and_age(feed_t *feed)
{
	struct hub_tail_pool pool = pool_of(1u << 20);
	struct hub_tail *t = hub_tail_new(&pool, feed, P, "x");
	struct hub_tail_reader r = {0}, aged = {0};
	const struct hub_tail_msg *v[100];
	char start[FEED_ID_LEN + 1], mk[FEED_ID_LEN + 1];
	size_t n;
	uint64_t wake;

	feed_queue_tail(feed, P, "x", start);
	hub_tail_join(t, &r, start);
	hub_tail_join(t, &aged, start);
	append(feed, "x", 90, 1, 1, 0, 60, T0);
	append(feed, "x", 91, 1, 1, 0, 3600, T0);
	hub_tail_fill(t, T0, &wake);
	take(t, &aged, T0 + 2500, NULL, v, &n, mk);
	ok(n == 2 && strstr(v[1]->json, "\"age\": 2, ") != NULL,
	   "age is rendered again when its second changed: %s", v[1]->json);
	is(take(t, &r, T0 + 61 * SEC, NULL, v, &n, mk), HUB_TAIL_OUT,
	   "a message expired since it was cached takes its reader out "
	   "(the log reports the gap)");
	append(feed, "x", 92, 1, 1, 0, 3600, T0 + 61 * SEC);
	hub_tail_fill(t, T0 + 62 * SEC, &wake);
	ok(hub_tail_join(t, &r, ids[91]),
	   "past the lost message (as the log resumes it) it joins again");
	take(t, &r, T0 + 62 * SEC, NULL, v, &n, mk);
	ok(n == 1 && strcmp(v[0]->id, ids[92]) == 0, "and gets what follows");

	/* A message lost before any fill read it: the fill finds the gap. */
	append(feed, "x", 93, 1, 1, 0, 60, T0 + 62 * SEC);
	append(feed, "x", 94, 1, 1, 0, 3600, T0 + 130 * SEC);
	is(hub_tail_fill(t, T0 + 130 * SEC, &wake), 0,
	   "a fill that finds a gap in the log");
	ok(hub_tail_count(t) == 1 && hub_tail_join(t, &aged, ids[93]),
	   "starts again after the gap, holding what follows it");
	is(take(t, &r, T0 + 130 * SEC, NULL, v, &n, mk), HUB_TAIL_OUT,
	   "its readers from before are out: they read the log, which "
	   "reports the gap");
	ok(take(t, &aged, T0 + 130 * SEC, NULL, v, &n, mk) == HUB_TAIL_TOOK &&
	   n == 1 && strcmp(v[0]->id, ids[94]) == 0,
	   "one at the resume point gets what follows the gap");
	hub_tail_leave(t, &r);
	hub_tail_leave(t, &aged);
	hub_tail_free(t);
}

static void on_wake(struct hub_cursor *c)
{
	(void)c;
}

static int open_shared(struct hub_cursor *c, feed_t *feed,
		       struct hub_subs *subs, const char *marker)
{
	struct hub_cursor_opts o = {
		.project = P, .queue = "c", .from = HUB_CURSOR_MARKER,
		.marker = marker, .flags = FEED_READ_INCLUDE_CLAIMED |
		FEED_READ_ECHO, .limit = 4, .budget = 65536, .shared = true,
		.wake = on_wake,
	};

	return hub_cursor_open(c, subs, feed, &o);
}

/* Reads c until nothing is left; appends the message numbers to got. */
static void drain(struct hub_cursor *c, int *got, int *n, int *shared,
		  int *gaps)
{
	struct hub_cursor_batch b;

	while (hub_cursor_next(c, hub_now_ms(), &b) == 0 &&
	       b.kind != HUB_BATCH_NONE) {
		if (b.kind == HUB_BATCH_GAP)
			++*gaps;
		for (size_t i = 0; i < b.n; i++) {
			const char *body = strstr(b.items[i].json, "\"body\": ");

			got[(*n)++] = body ? atoi(body + 8) : -1;
		}
		if (b.kind == HUB_BATCH_MSGS && !b.v)
			++*shared;
		hub_cursor_batch_free(&b);
	}
}

static void cursors(feed_t *feed)
{
	struct hub_subs *subs = hub_subs_new(NULL);
	struct hub_cursor lag, live;
	char start[FEED_ID_LEN + 1];
	int got[256], n = 0, shared = 0, gaps = 0, live_got[256], ln = 0,
	    lshared = 0;
	bool in_order = true;
	/* The registry fills on the API clock: the real one here. */
	uint64_t now = hub_now_ms();

	hub_subs_tail_limits(subs, 8192, 1u << 20);
	append(feed, "c", 100, 10, 1, 0, 3600, now);
	feed_queue_tail(feed, P, "c", start);
	is(open_shared(&live, feed, subs, start), 0, "a caught-up cursor");
	is(open_shared(&lag, feed, subs, ids[101]), 0,
	   "and one 8 messages behind the tail");
	drain(&live, live_got, &ln, &lshared, &gaps);
	append(feed, "c", 110, 10, 1, 0, 3600, now);
	hub_sub_notify(subs, P, "c"); /* the commit: fills the tail */
	drain(&live, live_got, &ln, &lshared, &gaps);
	ok(ln == 10 && lshared == 3, "the caught-up one reads 10 messages "
	   "in 3 batches from the shared tail (%d, %d)", ln, lshared);
	/* So many that the lagging one's place would be evicted. */
	append(feed, "c", 120, 60, 1, 300, 3600, now);
	hub_sub_notify(subs, P, "c");
	drain(&lag, got, &n, &shared, &gaps);
	for (int i = 0; i < n; i++)
		in_order = in_order && got[i] == 102 + i;
	ok(n == 78 && in_order && gaps == 0,
	   "the lagging one gets 102..179 exactly once, in order, no gap "
	   "(%d messages)", n);
	ok(shared > 0, "partly from the shared tail once it caught up (%d "
	   "batches)", shared);
	hub_cursor_close(&lag);
	hub_cursor_close(&live);
	is(hub_sub_count(subs), 0, "both closed");
	hub_subs_free(subs);
}

int main(void)
{
	const char *dir;
	feed_t *feed = fixture_open(&dir, NULL);

	shared_and_freed(feed);
	echo(feed);
	bounded(feed);
	expiry_and_age(feed);
	cursors(feed);
	feed_close(feed);
	fixture_rmdir(dir);
	done_testing();
	return exit_status();
}
