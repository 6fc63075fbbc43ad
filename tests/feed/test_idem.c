/*
 * test_idem.c - idempotent appends (feed.h, "Idempotent appends"): a
 * repeat within its key's window is answered with the original's id and
 * stores nothing; windows end; keys are per queue, durable, compacted in
 * O(expired) and reclaimed with their queue; feed_debug_check() holds
 * the `idem` and `iexpiry` entries to each other at every step, and finds
 * a key that lost either.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "feed.h"
#include "fixture.h"
#include "tap.h"

#define T0  1700000000000ULL
#define SEC 1000ULL

typedef char feed_id_t[FEED_ID_LEN + 1];

static const char *P = "idem";

/* One request of n messages with bodies[i] and keys[i] (NULL = none). */
struct post {
	feed_id_t ids[8];
	bool dups[8];
	size_t n_dups;
	uint64_t last_seq;
	int rc;
};

static void post_keys(feed_t *feed, const char *queue, const char *const *bodies,
		      const char *const *keys, size_t n, uint32_t window_s,
		      uint64_t now_ms, struct post *out)
{
	feed_msg_in_t in[8];
	feed_key_t k[8];
	feed_append_req_t r = {
		.project = P,
		.queue = queue,
		.msgs = in,
		.n_msgs = n,
		.keys = k,
		.idem_window_s = window_s,
	};

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < n; i++) {
		in[i] = (feed_msg_in_t){.body = bodies[i],
					.body_len = strlen(bodies[i]),
					.ttl_s = 3600};
		k[i] = (feed_key_t){keys[i], keys[i] ? strlen(keys[i]) : 0};
	}
	r.ids = out->ids;
	r.dups = out->dups;
	out->rc = feed_append_group(feed, &r, 1, now_ms);
	if (out->rc == 0)
		out->rc = r.status;
	out->n_dups = r.n_dups;
	out->last_seq = r.last_seq;
}

/* One keyed message; its id and whether it was a repeat. */
static bool post1(feed_t *feed, const char *queue, const char *body,
		  const char *key, uint32_t window_s, uint64_t now_ms,
		  char id[FEED_ID_LEN + 1])
{
	struct post p;

	post_keys(feed, queue, &body, &key, 1, window_s, now_ms, &p);
	if (p.rc)
		diag("append %s: %s", body, feed_strerror(p.rc));
	memcpy(id, p.ids[0], FEED_ID_LEN + 1);
	return p.dups[0];
}

static uint64_t total(feed_t *feed, const char *queue, uint64_t now_ms)
{
	feed_queue_stats_t st;

	feed_queue_stats(feed, P, queue, now_ms, &st);
	return st.total;
}

static void compact_all(feed_t *feed, uint64_t now_ms,
			feed_compact_result_t *sum)
{
	feed_compact_result_t res;

	memset(sum, 0, sizeof(*sum));
	do {
		if (feed_compact(feed, now_ms, 1000, &res))
			break;
		sum->messages += res.messages;
		sum->keys += res.keys;
		sum->dropped += res.dropped;
	} while (res.more);
}

static void test_repeat(feed_t *feed)
{
	feed_id_t a, b, c;
	feed_msgs_t got = {0};
	struct post p;
	const char *body = "again", *key = "k1";

	ok(!post1(feed, "q", "first", "k1", 0, T0, a), "a new key is stored");
	ok(post1(feed, "q", "again", "k1", 0, T0 + 10 * SEC, b),
	   "the same key within the window is a repeat");
	is_str(b, a, "a repeat answers with the original's id");
	is(total(feed, "q", T0 + 10 * SEC), 1, "a repeat stores nothing");
	ok(feed_read(feed, P, "q", NULL, &(feed_read_opts_t){.limit = 10,
		     .flags = FEED_READ_ECHO}, T0 + 10 * SEC, &got) == 0 &&
	   got.n == 1 && got.v[0].body_len == 5 &&
	   memcmp(got.v[0].body, "first", 5) == 0,
	   "the log holds the original only");
	feed_msgs_free(&got);
	post_keys(feed, "q", &body, &key, 1, 0, T0 + 20 * SEC, &p);
	ok(p.rc == 0 && p.n_dups == 1 && p.last_seq == 0,
	   "a request of repeats only: n_dups counts them, last_seq is 0");

	ok(feed_delete(feed, P, "q", a, NULL, T0 + 30 * SEC, NULL) == 0,
	   "the original is deleted");
	ok(post1(feed, "q", "again", "k1", 0, T0 + 40 * SEC, b) &&
	   strcmp(b, a) == 0,
	   "after the original is gone, a repeat in the window still is one");
	is(total(feed, "q", T0 + 40 * SEC), 0, "and it stores nothing");

	ok(!post1(feed, "q", "late", "k1", 0, T0 + 300 * SEC, c) &&
	   strcmp(c, a) != 0,
	   "at the end of the default window (300 s) the key is free");
	ok(post1(feed, "q", "late2", "k1", 0, T0 + 310 * SEC, b) &&
	   strcmp(b, c) == 0, "and the new message starts a new window");

	ok(!post1(feed, "q", "w", "short", 10, T0, a), "a 10 s window");
	ok(post1(feed, "q", "w", "short", 10, T0 + 9999, b) &&
	   strcmp(a, b) == 0, "repeat just inside it");
	ok(!post1(feed, "q", "w", "short", 10, T0 + 10 * SEC, b) &&
	   strcmp(a, b) != 0, "stored again once it passed (not compacted)");
	fixture_check(feed, "after a key replaced its dead entry");
}

static void test_batch(feed_t *feed)
{
	const char *bodies[] = {"x", "y", "z", "w"};
	const char *keys[] = {"same", NULL, "same", "other"};
	struct post p, p2;

	post_keys(feed, "batch", bodies, keys, 4, 0, T0, &p);
	ok(p.rc == 0 && !p.dups[0] && !p.dups[1] && p.dups[2] && !p.dups[3] &&
	   p.n_dups == 1,
	   "two messages with one key in a request: the second is a repeat");
	is_str(p.ids[2], p.ids[0], "it answers with the first one's id");
	ok(strcmp(p.ids[1], p.ids[0]) && strcmp(p.ids[3], p.ids[1]),
	   "the others have ids of their own");
	is(total(feed, "batch", T0), 3, "three are stored");

	post_keys(feed, "batch", bodies, keys, 4, 0, T0 + SEC, &p2);
	ok(p2.rc == 0 && !p2.dups[1] && p2.dups[0] && p2.dups[2] &&
	   p2.dups[3] && p2.n_dups == 3,
	   "the request again: every keyed message a repeat, the unkeyed one "
	   "stored");
	ok(strcmp(p2.ids[0], p.ids[0]) == 0 && strcmp(p2.ids[3], p.ids[3]) == 0,
	   "with the original ids");
	is(total(feed, "batch", T0 + SEC), 4, "one more stored");
	fixture_check(feed, "after keyed batches with repeats");
}

static void test_group(feed_t *feed)
{
	feed_msg_in_t in = {.body = "g", .body_len = 1, .ttl_s = 60};
	feed_key_t k = {"gk", 2};
	feed_id_t ids[2];
	bool dups[2];
	feed_append_req_t r[2];

	for (int i = 0; i < 2; i++)
		r[i] = (feed_append_req_t){.project = P, .queue = "group",
					   .msgs = &in, .n_msgs = 1,
					   .keys = &k, .ids = &ids[i],
					   .dups = &dups[i]};
	ok(feed_append_group(feed, r, 2, T0) == 0 && r[0].status == 0 &&
	   r[1].status == 0 && !dups[0] && dups[1] &&
	   strcmp(ids[0], ids[1]) == 0,
	   "in one group commit, a later request repeats an earlier one");
	fixture_check(feed, "after a group commit with a repeat");
}

static void test_per_queue(feed_t *feed)
{
	feed_id_t a, b, c;

	ok(!post1(feed, "pa", "1", "shared", 0, T0, a) &&
	   !post1(feed, "pb", "1", "shared", 0, T0, b),
	   "the same key in two queues is stored in each");
	ok(post1(feed, "pa", "2", "shared", 0, T0 + SEC, c) &&
	   strcmp(c, a) == 0, "and repeats within its own queue");
	ok(feed_queue_delete(feed, P, "pb") == 0 &&
	   !post1(feed, "pb", "1", "shared", 0, T0 + SEC, c),
	   "a queue deleted and created again starts without keys");
	fixture_check(feed, "after a keyed queue was deleted and created again");
}

static void test_bad_keys(feed_t *feed)
{
	char big[FEED_IDEM_KEY_MAX + 2];
	feed_msg_in_t in = {.body = "b", .body_len = 1, .ttl_s = 60};
	feed_key_t k = {big, sizeof(big) - 1};
	feed_append_req_t r = {.project = P, .queue = "bad", .msgs = &in,
			       .n_msgs = 1, .keys = &k};

	memset(big, 'k', sizeof(big));
	feed_append_group(feed, &r, 1, T0);
	is(r.status, FEED_ETOOBIG, "a key past FEED_IDEM_KEY_MAX: ETOOBIG");
	k = (feed_key_t){NULL, 3};
	feed_append_group(feed, &r, 1, T0);
	is(r.status, FEED_EINVAL, "a length without bytes: EINVAL");
	k = (feed_key_t){big, FEED_IDEM_KEY_MAX};
	feed_append_group(feed, &r, 1, T0);
	is(r.status, 0, "a key of FEED_IDEM_KEY_MAX bytes is fine");
	fixture_check(feed, "after refused keys and a longest one");
}

/* Keys survive a reopen; compaction removes expired keys only, in
 * O(expired). */
static feed_t *test_durable_and_compact(feed_t *feed, const char *dir)
{
	feed_compact_result_t sum;
	feed_id_t a, b, live[3];
	char key[32];
	uint64_t t, now = T0 + 1000 * SEC;

	/* Everything the tests before left behind expires by `now`. */
	compact_all(feed, now, &sum);
	ok(!post1(feed, "d", "orig", "durable", 0, now, a), "key stored");
	feed_close(feed);
	ok(feed_open(&feed, dir, NULL) == 0, "reopened");
	ok(post1(feed, "d", "again", "durable", 0, now + SEC, b) &&
	   strcmp(a, b) == 0, "after a reopen the key is still a repeat");
	fixture_check(feed, "after a reopen");

	for (int i = 0; i < 2000; i++) {
		snprintf(key, sizeof(key), "live%d", i);
		post1(feed, "c", "l", key, 3600, now, i < 3 ? live[i] : a);
	}
	for (int i = 0; i < 10; i++) {
		snprintf(key, sizeof(key), "short%d", i);
		post1(feed, "c", "s", key, 10, now, a);
	}
	t = feed_debug_touched();
	compact_all(feed, now + 11 * SEC, &sum);
	t = feed_debug_touched() - t;
	is(sum.keys, 10, "compaction removes the 10 keys whose window "
	       "passed");
	ok(t <= 10 * 4 + 40, "in O(expired): %llu records touched with 2000 "
	   "live keys", (unsigned long long)t);
	compact_all(feed, now + 11 * SEC, &sum);
	ok(sum.keys == 0, "nothing more to do at the same time");
	ok(post1(feed, "c", "l", "live1", 3600, now + 12 * SEC, b) &&
	   strcmp(b, live[1]) == 0, "live keys stay");
	fixture_check(feed, "after key compaction");
	return feed;
}

/* The records a deleted queue leaves; keyed or not. */
static size_t dropped_of(feed_t *feed, const char *queue, bool keyed)
{
	const char *bodies[] = {"1", "2", "3", "4", "5"};
	const char *keys[] = {"a", "b", "c", "d", "e"};
	const char *none[5] = {NULL};
	feed_compact_result_t sum;
	struct post p;

	post_keys(feed, queue, bodies, keyed ? keys : none, 5, 0, T0 + 2000 * SEC,
		  &p);
	feed_queue_delete(feed, P, queue);
	compact_all(feed, T0 + 2000 * SEC, &sum);
	return sum.dropped;
}

static void test_reclaim(feed_t *feed)
{
	feed_compact_result_t sum;
	size_t keyed, plain;

	compact_all(feed, T0 + 2000 * SEC, &sum);
	keyed = dropped_of(feed, "rk", true);
	plain = dropped_of(feed, "rp", false);
	is((long long)(keyed - plain), 10,
	       "a deleted queue's 5 keys (two entries each) are reclaimed");
	fixture_check(feed, "after reclaiming");
}

/* feed_debug_check() finds a key that lost either of its two entries. */
static void test_check_fails(void)
{
	static const char *const dbs[] = {"iexpiry", "idem"};
	static const char *const want[] = {
		"idem entry without its iexpiry entry",
		"iexpiry entries without their idem entry"};

	for (int i = 0; i < 2; i++) {
		const char *dir;
		feed_t *feed = fixture_open(&dir, NULL);
		char why[256] = "";
		feed_id_t a;

		post1(feed, "x", "1", "k", 0, T0, a);
		post1(feed, "x", "2", "k2", 0, T0, a);
		fixture_check(feed, "before the damage");
		feed_close(feed);
		fixture_drop_first(dir, dbs[i]);
		ok(feed_open(&feed, dir, NULL) == 0, "reopened after dropping "
		   "an %s entry", dbs[i]);
		ok(feed_debug_check(feed, why, sizeof(why)) == FEED_ECORRUPT &&
		   strstr(why, want[i]), "the check finds it: %s", why);
		feed_close(feed);
		fixture_rmdir(dir);
	}
}

int main(void)
{
	const char *dir;
	feed_t *feed = fixture_open(&dir, NULL);

	test_repeat(feed);
	test_batch(feed);
	test_group(feed);
	test_per_queue(feed);
	test_bad_keys(feed);
	feed = test_durable_and_compact(feed, dir);
	test_reclaim(feed);

	feed_close(feed);
	fixture_rmdir(dir);
	test_check_fails();
	done_testing();
	return exit_status();
}
