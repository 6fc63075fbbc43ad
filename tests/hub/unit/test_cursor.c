/*
 * test_cursor.c - the live cursor (hub/live/cursor.c) against a feed in a
 * temporary directory: batches within the byte budget, gaps and their
 * resume marker, the bad- and stale-marker rule, "from now", the rendered
 * message object; and the registry's due timer (hub/live/sub.c) waking a
 * cursor when a delayed message falls due on a test clock.
 *
 * The clock is a test clock file (hub_clock_init), moved by rename as the
 * end-to-end harness does; lws runs a context without a listener only
 * for the due timer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "clock.h"
#include "feed.h"
#include "fixture.h"
#include "live/cursor.h"
#include "live/sub.h"
#include "tap.h"

#define T0  1795352400000ULL
#define SEC 1000ULL
#define BIG 20000 /* body bytes: a 64 KiB budget takes 4 such messages */

static const char *P = "proj";
static char id_buf[64][FEED_ID_LEN + 1];

/* Appends n messages to queue (body: a JSON string of `size` bytes, or
 * "<i>" when size is 0); their ids go to id_buf[first..]. */
static void append(feed_t *feed, const char *queue, int first, int n,
		   size_t size, uint32_t ttl_s, uint32_t delay_s, uint64_t now)
{
	char *body = malloc(size + 32);
	uint8_t client[16];

	fixture_client(client, 1);
	for (int i = 0; i < n; i++) {
		feed_msg_in_t in = {.body = body, .ttl_s = ttl_s,
				    .delay_s = delay_s};
		char (*ids)[FEED_ID_LEN + 1] = &id_buf[first + i];

		if (size) {
			memset(body, 'x', size);
			body[0] = body[size - 1] = '"';
			in.body_len = size;
		} else {
			in.body_len = (size_t)sprintf(body, "%d", first + i);
		}
		if (feed_append(feed, P, queue, &in, 1, client, now, ids))
			bail_out("append to %s", queue);
	}
	free(body);
}

static int woken;
static struct lws_context *loop; /* while the due timer is tested */

static void on_wake(struct hub_cursor *c)
{
	(void)c;
	woken++;
	/* lws runs a ripe timer at the start of a service call and then
	 * polls; with no connection to become writable, end that poll. */
	if (loop)
		lws_cancel_service(loop);
}

static int open_at(struct hub_cursor *c, feed_t *feed, struct hub_subs *subs,
		   const char *queue, enum hub_cursor_from from,
		   const char *marker)
{
	struct hub_cursor_opts o = {
		.project = P, .queue = queue, .from = from, .marker = marker,
		.flags = FEED_READ_INCLUDE_CLAIMED | FEED_READ_ECHO,
		.limit = 50, .budget = 65536, .wake = on_wake,
	};

	return hub_cursor_open(c, subs, feed, &o);
}

static void budget(feed_t *feed)
{
	struct hub_cursor c;
	struct hub_cursor_batch b;
	size_t sizes[4] = {0};
	int k = 0, got = 0;

	append(feed, "big", 0, 10, BIG, 3600, 0, T0);
	is(open_at(&c, feed, NULL, "big", HUB_CURSOR_OLDEST, NULL), 0,
	   "a cursor opens at the oldest");
	for (; k < 4; k++) {
		if (hub_cursor_next(&c, T0, &b) || b.kind != HUB_BATCH_MSGS)
			break;
		sizes[k] = b.n;
		if (b.n)
			ok(strcmp(b.v[0].id, id_buf[got]) == 0,
			   "batch %d starts at the first message not sent", k);
		got += (int)b.n;
		is_str(b.marker, id_buf[got - 1],
		       "batch %d's marker is its last message", k);
		is_str(c.marker, b.marker, "and the cursor is there");
		hub_cursor_batch_free(&b);
	}
	ok(k == 3 && sizes[0] == 4 && sizes[1] == 4 && sizes[2] == 2,
	   "a page of 10 messages of 20 KB goes in batches of 4, 4, 2 "
	   "(about 64 KiB each; got %zu %zu %zu)", sizes[0], sizes[1],
	   sizes[2]);
	is(b.kind, HUB_BATCH_NONE, "then nothing");
	hub_cursor_close(&c);
}

static void gap(feed_t *feed)
{
	struct hub_cursor c, again;
	struct hub_cursor_batch b;
	char want[FEED_ID_LEN + 1];

	append(feed, "g", 10, 1, 0, 3600, 0, T0);   /* kept */
	append(feed, "g", 11, 3, 0, 60, 0, T0);     /* expire */
	append(feed, "g", 14, 6, BIG, 3600, 0, T0); /* after the hole */
	feed_marker_before(id_buf[14], want);
	is(open_at(&c, feed, NULL, "g", HUB_CURSOR_MARKER, id_buf[10]), 0,
	   "a cursor after the kept message");
	is(hub_cursor_next(&c, T0 + 61 * SEC, &b), 0, "reads after expiry");
	is(b.kind, HUB_BATCH_GAP, "the first batch is the gap");
	is(b.missed, 3, "counting the 3 expired messages");
	is_str(b.marker, want, "its resume marker is just before the first "
	       "message after the hole");
	hub_cursor_batch_free(&b);
	hub_cursor_next(&c, T0 + 61 * SEC, &b);
	ok(b.kind == HUB_BATCH_MSGS && b.n == 4 &&
	   strcmp(b.v[0].id, id_buf[14]) == 0,
	   "then the messages after the hole, cut by the budget");
	hub_cursor_batch_free(&b);

	open_at(&again, feed, NULL, "g", HUB_CURSOR_MARKER, want);
	hub_cursor_next(&again, T0 + 61 * SEC, &b);
	ok(b.kind == HUB_BATCH_MSGS && strcmp(b.v[0].id, id_buf[14]) == 0,
	   "resuming from the gap's marker gives exactly the next unseen "
	   "message, with no gap");
	hub_cursor_batch_free(&b);
	hub_cursor_close(&again);
	hub_cursor_close(&c);
}

static void markers(feed_t *feed)
{
	struct hub_cursor c;
	struct hub_cursor_batch b;
	char stale[FEED_ID_LEN + 1];

	ok(hub_cursor_marker_ok(NULL) && hub_cursor_marker_ok(""),
	   "an absent marker is no error");
	ok(!hub_cursor_marker_ok("zz") &&
	   !hub_cursor_marker_ok("000000000000000000000001") &&
	   !hub_cursor_marker_ok("0000000001000000000000011"),
	   "not hex, generation 0, too long: malformed");
	is(open_at(&c, feed, NULL, "g", HUB_CURSOR_MARKER, "zz"), FEED_EBADID,
	   "a cursor refuses a malformed marker");
	hub_cursor_close(&c); /* a no-op on a cursor that did not open */

	append(feed, "s", 20, 2, 0, 3600, 0, T0);
	memcpy(stale, id_buf[21], sizeof(stale));
	feed_queue_delete(feed, P, "s");
	append(feed, "s", 22, 1, 0, 3600, 0, T0);
	is(open_at(&c, feed, NULL, "s", HUB_CURSOR_MARKER, stale), 0,
	   "a stale marker (deleted generation) opens");
	hub_cursor_next(&c, T0, &b);
	ok(b.kind == HUB_BATCH_GAP && b.missed == -1,
	   "and reads as a gap of unknown size");
	hub_cursor_batch_free(&b);
	hub_cursor_next(&c, T0, &b);
	ok(b.kind == HUB_BATCH_MSGS && b.n == 1 &&
	   strcmp(b.v[0].id, id_buf[22]) == 0,
	   "then the new queue's messages");
	hub_cursor_batch_free(&b);
	hub_cursor_close(&c);
}

static void from_now(feed_t *feed)
{
	struct hub_cursor c;
	struct hub_cursor_batch b;
	struct hub_buf t = {0};
	char want[256];

	append(feed, "n", 30, 3, 0, 3600, 0, T0);
	is(open_at(&c, feed, NULL, "n", HUB_CURSOR_NOW, NULL), 0,
	   "a cursor from now");
	hub_cursor_next(&c, T0, &b);
	is(b.kind, HUB_BATCH_NONE, "has no backlog");
	append(feed, "n", 33, 1, 0, 3600, 0, T0);
	hub_cursor_next(&c, T0 + 2500, &b);
	ok(b.kind == HUB_BATCH_MSGS && b.n == 1 &&
	   strcmp(b.v[0].id, id_buf[33]) == 0,
	   "and gets exactly what is appended after");
	if (b.n) {
		hub_cursor_render_msg(&t, &b.v[0], b.now_ms);
		snprintf(want, sizeof(want), "{\"id\": \"%s\", \"ttl\": 3600, "
			 "\"age\": 2, \"body\": 33}", id_buf[33]);
		ok(t.len == strlen(want) && memcmp(t.data, want, t.len) == 0,
		   "rendered as {id, ttl, age, body} with the body as stored");
	}
	hub_buf_free(&t);
	hub_cursor_batch_free(&b);
	hub_cursor_close(&c);
	is(open_at(&c, feed, NULL, "none", HUB_CURSOR_NOW, NULL), 0,
	   "from now on a queue that does not exist");
	append(feed, "none", 34, 1, 0, 3600, 0, T0);
	hub_cursor_next(&c, T0, &b);
	ok(b.kind == HUB_BATCH_MSGS && b.n == 1,
	   "gets the first message of the queue made later");
	hub_cursor_batch_free(&b);
	hub_cursor_close(&c);
}

/* ---------------------------------------------------------- due timers */

static char clock_path[512];

static void clock_set(uint64_t ms)
{
	char tmp[600];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", clock_path);
	f = fopen(tmp, "w");
	if (!f || fprintf(f, "%llu\n", (unsigned long long)ms) < 0 ||
	    fclose(f) || rename(tmp, clock_path))
		bail_out("cannot write the clock file");
}

/* Runs the loop until woken changes or ms of real time pass. */
static bool serve_until_woken(struct lws_context *ctx, uint64_t ms)
{
	int before = woken;
	uint64_t end = hub_mono_ms() + ms;

	while (woken == before && hub_mono_ms() < end)
		lws_service(ctx, 50);
	return woken != before;
}

static void due(feed_t *feed, const char *dir)
{
	static const struct lws_protocols protocols[] = {
		{"none", lws_callback_http_dummy, 0, 0, 0, NULL, 0},
		{NULL, NULL, 0, 0, 0, NULL, 0},
	};
	struct lws_context_creation_info info;
	struct lws_context *ctx;
	struct hub_subs *subs;
	struct hub_cursor c;
	struct hub_cursor_batch b;

	snprintf(clock_path, sizeof(clock_path), "%s/clock", dir);
	clock_set(T0);
	if (hub_clock_init(clock_path))
		bail_out("cannot start the test clock");
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	lws_set_log_level(LLL_ERR, NULL);
	ctx = lws_create_context(&info);
	subs = ctx ? hub_subs_new(ctx) : NULL;
	if (!subs)
		bail_out("cannot make an lws context and a registry");
	loop = ctx;

	append(feed, "late", 40, 1, 0, 3600, 5, T0); /* due at T0 + 5 s */
	is(open_at(&c, feed, subs, "late", HUB_CURSOR_OLDEST, NULL), 0,
	   "a cursor on the registry");
	is(hub_sub_count(subs), 1, "is one subscriber");
	hub_cursor_next(&c, T0, &b);
	is(b.kind, HUB_BATCH_NONE, "a delayed message is not read before due");
	ok(!serve_until_woken(ctx, 1500),
	   "no wake while the test clock stands before the due time");
	clock_set(T0 + 6 * SEC);
	ok(serve_until_woken(ctx, 2000),
	   "the due timer wakes the cursor within a second or so of the "
	   "clock passing the due time");
	hub_cursor_next(&c, hub_now_ms(), &b);
	ok(b.kind == HUB_BATCH_MSGS && b.n == 1 &&
	   strcmp(b.v[0].id, id_buf[40]) == 0, "and the message is read");
	hub_cursor_batch_free(&b);
	hub_sub_notify(subs, P, "late");
	is(woken, 2, "a commit's notify wakes it too");
	hub_cursor_close(&c);
	is(hub_sub_count(subs), 0, "closed, it is off the registry");
	loop = NULL;
	lws_context_destroy(ctx);
	hub_subs_free(subs);
	hub_clock_close();
}

int main(void)
{
	const char *dir;
	feed_t *feed = fixture_open(&dir, NULL);

	budget(feed);
	gap(feed);
	markers(feed);
	from_now(feed);
	due(feed, dir);
	feed_close(feed);
	fixture_rmdir(dir);
	done_testing();
	return exit_status();
}
