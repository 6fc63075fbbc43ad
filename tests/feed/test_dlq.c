/*
 * test_dlq.c - dead letters, retry backoff, release with a delay, redrive
 * and cheap renewals (feed_claim_create2, feed_claim_release2,
 * feed_queue_redrive, feed_claim_renew): when a message moves, what it
 * keeps, what each step costs in records (feed_debug_touched), and that
 * the index invariants hold after every step (feed_debug_check).
 *
 * The clock is the parameter now_ms; nothing sleeps.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feed.h"
#include "fixture.h"
#include "tap.h"

#define T0  1700000000000ULL
#define SEC 1000ULL

static const char *P = "dlq";

static void append_n(feed_t *feed, const char *queue, const char *prefix,
		     int n, uint32_t ttl_s, uint64_t now_ms)
{
	uint8_t client[16];

	fixture_client(client, 1);
	for (int i = 0; i < n; i++) {
		char body[32];
		feed_msg_in_t in = {.body = body, .ttl_s = ttl_s};
		int rc;

		in.body_len = (size_t)snprintf(body, sizeof(body), "%s%d",
					       prefix, i);
		rc = feed_append(feed, P, queue, &in, 1, client, now_ms, NULL);
		if (rc)
			diag("append: %s", feed_strerror(rc));
	}
}

static int claim2(feed_t *feed, const char *queue, size_t limit,
		  feed_claim_opts_t *o, uint64_t now_ms, feed_claim_t *out)
{
	return feed_claim_create2(feed, P, queue, 60, 60, limit, o, now_ms,
				  out);
}

/* Claims (limit 1) and says whether it got the message with body want. */
static bool claims_body(feed_t *feed, const char *queue, feed_claim_opts_t *o,
			uint64_t now_ms, const char *want, char id[37])
{
	feed_claim_t c;
	bool got;
	int rc = claim2(feed, queue, 1, o, now_ms, &c);

	got = rc == 0 && c.msgs.n == 1 &&
	      c.msgs.v[0].body_len == strlen(want) &&
	      memcmp(c.msgs.v[0].body, want, strlen(want)) == 0;
	if (id)
		memcpy(id, c.id, sizeof(c.id));
	feed_claim_free(&c);
	return got;
}

static uint64_t total(feed_t *feed, const char *queue, uint64_t now_ms)
{
	feed_queue_stats_t st;

	if (feed_queue_stats(feed, P, queue, now_ms, &st))
		return UINT64_MAX;
	return st.total;
}

/* ---------------------------------------------------------- dead letters */

static void test_move(feed_t *feed)
{
	feed_claim_opts_t o = {.max_claims = 2, .dlq = "dead", .dlq_ttl_s = 120};
	feed_read_opts_t ro = {.limit = 10, .flags = FEED_READ_ECHO};
	feed_claim_t c;
	feed_msgs_t got;
	char id[37], marker[FEED_ID_LEN + 1];
	uint64_t now = T0, before;
	bool exists = true;

	append_n(feed, "src", "poison", 1, 600, now);
	feed_queue_tail(feed, P, "src", marker);
	feed_queue_exists(feed, P, "dead", &exists);
	ok(!exists, "the dead-letter queue does not exist yet");
	for (int i = 1; i <= 2; i++) {
		ok(claims_body(feed, "src", &o, now, "poison0", id),
		   "claim %d of max 2 takes the message", i);
		feed_claim_release(feed, P, "src", id, now);
		fixture_check(feed, "after a claim and release");
	}
	before = feed_debug_touched();
	is(claim2(feed, "src", 1, &o, now, &c), 0, "third claim");
	diag("records touched by a claim that moves one message: %llu",
	     (unsigned long long)(feed_debug_touched() - before));
	is((long long)c.msgs.n, 0, "the third claim gets nothing");
	is((long long)c.dead_lettered, 1, "it moved the message");
	is_str(c.id, "", "no claim was created");
	feed_claim_free(&c);
	fixture_check(feed, "after the move");
	is((long long)total(feed, "src", now), 0, "the source is empty");
	feed_queue_exists(feed, P, "dead", &exists);
	ok(exists, "the dead-letter queue was created");
	is(feed_read(feed, P, "dead", NULL, &ro, now, &got), 0, "read dlq");
	is((long long)got.n, 1, "the message is in the dead-letter queue");
	if (got.n == 1) {
		ok(got.v[0].body_len == 7 &&
			   memcmp(got.v[0].body, "poison0", 7) == 0,
		   "with its body");
		is((long long)(got.v[0].expires_ms - got.v[0].created_ms),
		   (long long)(120 * SEC), "and the dead-letter ttl");
		is((long long)got.v[0].claim_count, 0,
		   "it starts over in the dead-letter queue");
	}
	feed_msgs_free(&got);
	memset(&ro, 0, sizeof(ro));
	ro.limit = 10;
	ro.flags = FEED_READ_ECHO;
	is(feed_read(feed, P, "src", marker, &ro, now, &got), 0, "read src");
	ok(!got.gap, "a reader of the source sees no gap: it was consumed");
	feed_msgs_free(&got);
}

static void test_move_keeps_lifetime(feed_t *feed)
{
	feed_claim_opts_t o = {.max_claims = 1, .dlq = "dead2"};
	feed_read_opts_t ro = {.limit = 10, .flags = FEED_READ_ECHO};
	feed_msgs_t got;
	char id[37];

	append_n(feed, "src2", "x", 1, 900, T0);
	ok(claims_body(feed, "src2", &o, T0, "x0", id), "claimed once");
	feed_claim_release(feed, P, "src2", id, T0 + 10 * SEC);
	ok(!claims_body(feed, "src2", &o, T0 + 10 * SEC, "x0", NULL),
	   "the second claim moves it");
	feed_read(feed, P, "dead2", NULL, &ro, T0 + 10 * SEC, &got);
	ok(got.n == 1 && got.v[0].expires_ms == T0 + 900 * SEC,
	   "without a dead-letter ttl it keeps the lifetime it had left");
	feed_msgs_free(&got);
	fixture_check(feed, "after a move keeping the lifetime");
}

/* Claims every message of queue once and releases it. */
static void claim_all_once(feed_t *feed, const char *queue, size_t n,
			   feed_claim_opts_t *o)
{
	feed_claim_t c;

	claim2(feed, queue, n, o, T0, &c);
	if (c.msgs.n != n)
		diag("claimed %zu of %zu", c.msgs.n, n);
	feed_claim_release(feed, P, queue, c.id, T0);
	feed_claim_free(&c);
}

static void test_move_cost(feed_t *feed)
{
	feed_claim_opts_t o = {.max_claims = 1, .dlq = "dead3"};
	feed_claim_t c;
	uint64_t t1, t20;

	/* Two queues of messages claimed once, behind a backlog in the
	 * dead-letter queue: the next claim moves them all (moves count
	 * towards no limit). */
	append_n(feed, "dead3", "b", 2000, 600, T0);
	append_n(feed, "src3a", "p", 1, 600, T0);
	append_n(feed, "src3b", "q", 20, 600, T0);
	claim_all_once(feed, "src3a", 1, &o);
	claim_all_once(feed, "src3b", 20, &o);

	t1 = feed_debug_touched();
	claim2(feed, "src3a", 20, &o, T0, &c);
	t1 = feed_debug_touched() - t1;
	is((long long)c.dead_lettered, 1, "one claim moved one");
	feed_claim_free(&c);
	t20 = feed_debug_touched();
	claim2(feed, "src3b", 20, &o, T0, &c);
	t20 = feed_debug_touched() - t20;
	is((long long)c.dead_lettered, 20, "one claim moved twenty");
	feed_claim_free(&c);
	diag("moving 1: %llu records, moving 20: %llu records, per move %.1f",
	     (unsigned long long)t1, (unsigned long long)t20,
	     (double)(t20 - t1) / 19);
	ok(t20 - t1 <= 19 * 12, "a move costs O(1) records (at most 12)");
	is((long long)total(feed, "dead3", T0), 2021, "all 21 arrived");
	fixture_check(feed, "after moves");
}

static void test_from_meta_cb(const void *meta, size_t len,
			      feed_claim_opts_t *o, void *arg)
{
	int *calls = arg;

	++*calls;
	if (meta && len == 4 && memcmp(meta, "dlq!", 4) == 0) {
		o->max_claims = 1;
		strcpy(o->dlq, "dead4");
	}
}

static void test_from_meta(feed_t *feed)
{
	int calls = 0;
	feed_claim_opts_t o = {.from_meta = test_from_meta_cb, .arg = &calls};
	char id[37];

	feed_queue_create(feed, P, "src4", "dlq!", 4, T0, NULL);
	append_n(feed, "src4", "y", 1, 600, T0);
	ok(claims_body(feed, "src4", &o, T0, "y0", id), "claimed once");
	is(calls, 1, "the metadata were handed to the callback");
	is_str(o.dlq, "dead4", "the caller sees the options it chose");
	feed_claim_release(feed, P, "src4", id, T0);
	ok(!claims_body(feed, "src4", &o, T0, "y0", NULL),
	   "options from the metadata move it");
	is((long long)total(feed, "dead4", T0), 1, "it arrived");
	o.dlq[0] = '\0';
	o.max_claims = 5;
	strcpy(o.dlq, "src5");
	append_n(feed, "src5", "z", 1, 600, T0);
	o.from_meta = NULL;
	ok(claims_body(feed, "src5", &o, T0, "z0", id),
	   "a dead-letter queue naming the queue itself is ignored");
	fixture_check(feed, "after options from metadata");
}

/* --------------------------------------------------------------- backoff */

static void test_backoff(feed_t *feed)
{
	feed_claim_opts_t o = {.retry_delay_s = 10, .retry_delay_max_s = 25};
	feed_claim_t c;
	uint64_t t = T0;
	char id[37];

	append_n(feed, "retry", "r", 1, 3600, t);
	ok(claims_body(feed, "retry", &o, t, "r0", id), "first claim");
	t += 1 * SEC;
	feed_claim_release(feed, P, "retry", id, t);
	fixture_check(feed, "after a release with backoff");
	claim2(feed, "retry", 1, &o, t + 10 * SEC - 1, &c);
	is((long long)c.msgs.n, 0, "not claimable a ms before 10 s");
	is((long long)c.wake_ms, (long long)(t + 10 * SEC),
	   "the claim's wake time is the due time");
	feed_claim_free(&c);
	ok(claims_body(feed, "retry", &o, t + 10 * SEC, "r0", id),
	   "claimable exactly 10 s after the release");
	t += 12 * SEC;
	feed_claim_release(feed, P, "retry", id, t);
	ok(!claims_body(feed, "retry", &o, t + 20 * SEC - 1, "r0", NULL),
	   "after the second claim: 20 s");
	ok(claims_body(feed, "retry", &o, t + 20 * SEC, "r0", id),
	   "claimable at 20 s");
	/* Third claim at t + 20 s expires 60 s later: 40 s capped at 25. */
	t += 20 * SEC + 60 * SEC;
	ok(!claims_body(feed, "retry", &o, t + 25 * SEC - 1, "r0", NULL),
	   "an expired claim's message waits its backoff (capped at 25 s)");
	fixture_check(feed, "after an expired claim with backoff");
	ok(claims_body(feed, "retry", &o, t + 25 * SEC, "r0", NULL),
	   "claimable at expiry + 25 s");
	fixture_check(feed, "after backoff claims");
}

/* Compaction releasing an expired claim applies the claim's backoff. */
static void test_backoff_compact(feed_t *feed)
{
	feed_claim_opts_t o = {.retry_delay_s = 50};
	feed_compact_result_t res;
	uint64_t t = T0 + 61 * SEC;
	char id[37];

	append_n(feed, "retryc", "k", 1, 3600, T0);
	ok(claims_body(feed, "retryc", &o, T0, "k0", id), "claimed");
	do {
		feed_compact(feed, t, 1000, &res);
	} while (res.more);
	fixture_check(feed, "after compaction released a claim with backoff");
	ok(!claims_body(feed, "retryc", NULL, T0 + 110 * SEC - 1, "k0", NULL),
	   "compaction's release delays it by the claim's backoff");
	ok(claims_body(feed, "retryc", NULL, T0 + 110 * SEC, "k0", NULL),
	   "claimable at the claim's expiry + 50 s");
}

static void test_release_delay(feed_t *feed)
{
	feed_claim_opts_t o = {.retry_delay_s = 100};
	feed_read_opts_t ro = {.limit = 10, .flags = FEED_READ_ECHO};
	feed_msgs_t got;
	char id[37];

	append_n(feed, "nack", "n", 1, 3600, T0);
	ok(claims_body(feed, "nack", NULL, T0, "n0", id), "claimed");
	is(feed_claim_release2(feed, P, "nack", id, 30, T0), 0,
	   "released with a delay of 30 s");
	fixture_check(feed, "after a release with a delay");
	feed_read(feed, P, "nack", NULL, &ro, T0 + SEC, &got);
	is((long long)got.n, 0, "hidden from a listing until due");
	feed_msgs_free(&got);
	ok(!claims_body(feed, "nack", NULL, T0 + 30 * SEC - 1, "n0", NULL),
	   "not claimable before 30 s");
	ok(claims_body(feed, "nack", &o, T0 + 30 * SEC, "n0", id),
	   "claimable at 30 s");
	is(feed_claim_release2(feed, P, "nack", id, 0, T0 + 31 * SEC), 0,
	   "released with delay 0 despite a backoff");
	ok(claims_body(feed, "nack", NULL, T0 + 31 * SEC, "n0", id),
	   "claimable at once");
	feed_claim_release2(feed, P, "nack", id, 5, T0 + 32 * SEC);
	is(feed_pop(feed, P, "nack", 1, T0 + 37 * SEC, &got), 0, "pop");
	is((long long)got.n, 1, "a pop takes it when due");
	feed_msgs_free(&got);
	fixture_check(feed, "after popping a retried message");
}

/* Claim cost with 0 and 100k backoff-delayed messages in the queue. */
static uint64_t claim_cost(feed_t *feed, const char *queue, uint64_t now_ms)
{
	feed_claim_t c;
	uint64_t t = feed_debug_touched();

	claim2(feed, queue, 10, NULL, now_ms, &c);
	t = feed_debug_touched() - t;
	if (c.msgs.n != 10)
		diag("claimed %zu of 10", c.msgs.n);
	feed_claim_free(&c);
	return t;
}

static void test_cost_delayed(feed_t *feed)
{
	feed_claim_opts_t o = {.retry_delay_s = 3600};
	feed_claim_t c;
	uint64_t t0, t100k;
	int rc;

	append_n(feed, "cost0", "c", 10, 7200, T0);
	t0 = claim_cost(feed, "cost0", T0);
	append_n(feed, "cost1", "d", 100000, 7200, T0);
	rc = feed_claim_create2(feed, P, "cost1", 60, 60, 100000, &o, T0, &c);
	is(rc == 0 ? (long long)c.msgs.n : -1, 100000, "100k claimed");
	feed_claim_release(feed, P, "cost1", c.id, T0);
	feed_claim_free(&c);
	append_n(feed, "cost1", "f", 10, 7200, T0);
	t100k = claim_cost(feed, "cost1", T0 + SEC);
	diag("claim of 10: %llu records with no delayed messages, %llu with "
	     "100k backoff-delayed ones", (unsigned long long)t0,
	     (unsigned long long)t100k);
	ok(t100k * 2 <= t0 * 3, "within 1.5x");
}

/* --------------------------------------------------------------- redrive */

static void test_redrive(feed_t *feed)
{
	feed_read_opts_t ro = {.limit = 10, .flags = FEED_READ_ECHO};
	feed_msgs_t got;
	size_t moved = 0;
	bool more = false;
	uint64_t t;

	append_n(feed, "rdlq", "d", 5, 600, T0);
	t = feed_debug_touched();
	is(feed_queue_redrive(feed, P, "rdlq", "rsrc", 2, T0, &moved, &more),
	   0, "redrive step 1");
	diag("records touched by a redrive step of 2: %llu",
	     (unsigned long long)(feed_debug_touched() - t));
	ok(moved == 2 && more, "moved 2, more to do");
	fixture_check(feed, "after a redrive step");
	feed_queue_redrive(feed, P, "rdlq", "rsrc", 2, T0, &moved, &more);
	ok(moved == 2 && more, "moved 2 more");
	feed_queue_redrive(feed, P, "rdlq", "rsrc", 2, T0, &moved, &more);
	ok(moved == 1 && !more, "the last one, and done");
	feed_read(feed, P, "rsrc", NULL, &ro, T0, &got);
	is((long long)got.n, 5, "all five are back in the source");
	ok(got.n == 5 && memcmp(got.v[0].body, "d0", 2) == 0 &&
		   memcmp(got.v[4].body, "d4", 2) == 0,
	   "in their order");
	feed_msgs_free(&got);
	is((long long)total(feed, "rdlq", T0), 0, "the DLQ is empty");
	is(feed_queue_redrive(feed, P, "rdlq", "rdlq", 2, T0, &moved, &more),
	   0, "redrive onto itself");
	is((long long)moved, 0, "moves nothing");
	fixture_check(feed, "after redrive");
}

/* ----------------------------------------------------------------- renew */

static void test_renew_cheap(feed_t *feed)
{
	feed_claim_t c;
	uint64_t first = 0, last = 0;
	int fails = 0;

	append_n(feed, "renew", "w", 10, 600, T0);
	append_n(feed, "renew", "x", 1000, 600, T0);
	feed_claim_create(feed, P, "renew", 60, 60, 10, T0, &c);
	for (int i = 1; i <= 1000; i++) {
		uint64_t t = feed_debug_touched();

		fails += feed_claim_renew(feed, P, "renew", c.id, 60, 60,
					  T0 + (uint64_t)i * SEC) != 0;
		t = feed_debug_touched() - t;
		if (i == 1)
			first = t;
		last = t;
	}
	is(fails, 0, "1000 renewals in a row succeed");
	diag("records touched per renew of a claim of 10: first %llu, "
	     "1000th %llu", (unsigned long long)first,
	     (unsigned long long)last);
	/* Past 480 s each renew raises the messages' lifetimes too (grace):
	 * a few more records per message, never more. */
	ok(first <= 10 * 10 + 12 && last <= 10 * 10 + 12,
	   "a renew costs O(claimed messages): at most 10 per message");
	is(feed_claim_renew(feed, P, "renew", c.id, 60, 60,
			    T0 + 1061 * SEC),
	   FEED_ENOCLAIM, "a renew of an expired claim is refused");
	feed_claim_free(&c);
	fixture_check(feed, "after renewals");
}

int main(void)
{
	const char *dir;
	feed_options_t opts = {.durability = FEED_NOSYNC};
	feed_t *feed = fixture_open(&dir, &opts);

	test_move(feed);
	test_move_keeps_lifetime(feed);
	test_move_cost(feed);
	test_from_meta(feed);
	test_backoff(feed);
	test_backoff_compact(feed);
	test_release_delay(feed);
	test_redrive(feed);
	test_renew_cheap(feed);
	test_cost_delayed(feed);

	feed_close(feed);
	fixture_rmdir(dir);
	done_testing();
	return exit_status();
}
