/*
 * test_compact.c - compaction: exactly the expired messages, in bounded
 * batches; expired claims; deleted queues; lifetimes raised by claims.
 *
 * Each test works in its own environment so the counts compaction reports
 * belong to that test alone.
 */
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feed.h"
#include "fixture.h"
#include "tap.h"

#define T0  1700000000000ULL
#define SEC 1000ULL

typedef char feed_id_t[FEED_ID_LEN + 1];

static const char *P = "compact";

static void append_msg(feed_t *feed, const char *queue, const char *body,
		       uint32_t ttl_s, uint64_t now_ms,
		       char id[FEED_ID_LEN + 1])
{
	feed_msg_in_t in = {.body = body, .body_len = strlen(body),
			    .ttl_s = ttl_s};
	uint8_t client[16];
	feed_id_t ids[1] = {""};
	int rc;

	fixture_client(client, 1);
	rc = feed_append(feed, P, queue, &in, 1, client, now_ms, ids);
	if (rc)
		diag("append %s to %s: %s", body, queue, feed_strerror(rc));
	if (id)
		memcpy(id, ids[0], sizeof(ids[0]));
}

/* Appends n messages m<first>.. in batches of up to 100. */
static void append_many(feed_t *feed, const char *project, const char *queue,
			int first, int n, uint32_t ttl_s, uint64_t now_ms)
{
	feed_msg_in_t in[100];
	char bodies[100][16];
	uint8_t client[16];

	fixture_client(client, 1);
	for (int done = 0; done < n;) {
		int k = n - done < 100 ? n - done : 100;

		for (int i = 0; i < k; i++) {
			snprintf(bodies[i], sizeof(bodies[i]), "m%d",
				 first + done + i);
			in[i] = (feed_msg_in_t){.body = bodies[i],
						.body_len = strlen(bodies[i]),
						.ttl_s = ttl_s};
		}
		if (feed_append(feed, project, queue, in, k, client, now_ms,
				NULL))
			bail_out("append to %s failed", queue);
		done += k;
	}
}

/* Reads the whole queue (claimed included) at now_ms; bodies joined. */
static void read_all(feed_t *feed, const char *queue, uint64_t now_ms,
		     char *out, size_t size)
{
	char m[FEED_ID_LEN + 1] = "";
	size_t off = 0;
	feed_read_opts_t ro = {.limit = 50,
			       .flags = FEED_READ_INCLUDE_CLAIMED |
					FEED_READ_ECHO};

	out[0] = '\0';
	for (int pages = 0; pages < 1000; pages++) {
		feed_msgs_t page = {0};
		int rc = feed_read(feed, P, queue, m, &ro, now_ms, &page);
		size_t n = page.n;
		bool gap = page.gap;

		for (size_t i = 0; rc == 0 && i < page.n && off < size - 1; i++)
			off += snprintf(out + off, size - off, "%s%.*s",
					off ? "," : "",
					(int)page.v[i].body_len,
					(const char *)page.v[i].body);
		if (rc == 0)
			memcpy(m, page.next_marker, sizeof(m));
		feed_msgs_free(&page);
		if (rc || (n == 0 && !gap))
			break;
	}
}

static uint64_t total_of(feed_t *feed, const char *project, const char *queue,
			 uint64_t now_ms)
{
	feed_queue_stats_t st = {0};

	if (feed_queue_stats(feed, project, queue, now_ms, &st))
		return (uint64_t)-1;
	return st.total;
}

/* Runs compaction until it has no more work; sums what it reports. */
static int compact_all(feed_t *feed, uint64_t now_ms, size_t budget,
		       feed_compact_result_t *sum, int *calls)
{
	feed_compact_result_t cr;
	int rc = 0;

	memset(sum, 0, sizeof(*sum));
	*calls = 0;
	do {
		memset(&cr, 0, sizeof(cr));
		rc = feed_compact(feed, now_ms, budget, &cr);
		(*calls)++;
		sum->messages += cr.messages;
		sum->claims += cr.claims;
		sum->dropped += cr.dropped;
		sum->corrupt += cr.corrupt;
	} while (rc == 0 && cr.more && *calls < 100000);
	sum->more = cr.more;
	return rc;
}

static void test_nothing_to_do(void)
{
	const char *dir;
	feed_t *feed = fixture_open(&dir, NULL);
	feed_compact_result_t cr;

	memset(&cr, 0xa5, sizeof(cr));
	is(feed_compact(feed, T0, 100, &cr), 0, "compact a fresh environment");
	ok(cr.messages == 0 && cr.claims == 0 && cr.dropped == 0 && !cr.more,
	   "with nothing to do compaction reports zeros");
	append_many(feed, P, "live", 0, 10, 600, T0);
	memset(&cr, 0xa5, sizeof(cr));
	is(feed_compact(feed, T0 + 599 * SEC, 100, &cr), 0,
	   "compact before anything expired");
	ok(cr.messages == 0 && cr.claims == 0 && cr.dropped == 0 && !cr.more,
	   "live messages give compaction nothing to do");
	is(total_of(feed, P, "live", T0 + 599 * SEC), 10, "all ten remain");
	feed_close(feed);
	fixture_rmdir(dir);
}

static void test_exact(void)
{
	const char *dir;
	feed_t *feed = fixture_open(&dir, NULL);
	feed_compact_result_t sum;
	char all[512];
	int calls;

	for (int i = 0; i < 10; i++) {
		char body[8];

		snprintf(body, sizeof(body), "m%d", i);
		append_msg(feed, "q", body, i % 2 ? 10 : 1000, T0, NULL);
	}
	/* mixed ttls: a short ttl appended after a long one */
	append_msg(feed, "long-then-short", "long", 1000, T0, NULL);
	append_msg(feed, "long-then-short", "short", 10, T0 + SEC, NULL);

	is(total_of(feed, P, "q", T0 + 12 * SEC), 5,
	   "stats see five live before compaction");
	is(compact_all(feed, T0 + 12 * SEC, 1000, &sum, &calls), 0, "compact");
	is(sum.messages, 6, "compaction removes exactly the six expired");
	is(sum.claims + sum.dropped, 0, "and nothing else");
	is(total_of(feed, P, "q", T0 + 12 * SEC), 5, "stats still five");
	read_all(feed, "q", T0 + 12 * SEC, all, sizeof(all));
	is_str(all, "m0,m2,m4,m6,m8", "reads see the same five");
	read_all(feed, "long-then-short", T0 + 12 * SEC, all, sizeof(all));
	is_str(all, "long",
	       "a short ttl appended after a long one is removed");
	is(total_of(feed, P, "long-then-short", T0 + 12 * SEC), 1,
	   "and the long one is kept");
	is(compact_all(feed, T0 + 12 * SEC, 1000, &sum, &calls), 0,
	   "compact again");
	is(sum.messages, 0, "a second pass finds nothing");
	feed_close(feed);
	fixture_rmdir(dir);
}

static void test_bounded(void)
{
	enum { N = 500, BUDGET = 10 };
	const char *dir;
	feed_t *feed = fixture_open(&dir, NULL);
	feed_compact_result_t first, sum;
	int calls = 0;

	append_many(feed, P, "big", 0, N, 10, T0);
	append_many(feed, "other", "big", 0, 5, 1000, T0);
	memset(&first, 0, sizeof(first));
	is(feed_compact(feed, T0 + 11 * SEC, BUDGET, &first), 0,
	   "compact with budget %d", BUDGET);
	ok(first.more, "work remains after one small-budget call");
	ok(first.messages > 0 && first.messages <= 2 * BUDGET,
	   "one call removes about the budget (removed %zu)", first.messages);
	is(total_of(feed, P, "big", T0 + 11 * SEC), 0,
	   "stats are exact in the middle of compaction");
	is(compact_all(feed, T0 + 11 * SEC, BUDGET, &sum, &calls), 0,
	   "compact until done");
	is(first.messages + sum.messages, N,
	   "repeated calls remove every expired message once");
	ok(calls >= (int)((N - first.messages) / (2 * BUDGET)),
	   "in many calls (%d)", calls);
	ok(!sum.more, "and finish");
	is(total_of(feed, "other", "big", T0 + 11 * SEC), 5,
	   "the live queue of another project is untouched");
	feed_close(feed);
	fixture_rmdir(dir);
}

static void test_claims(void)
{
	const char *dir;
	feed_t *feed = fixture_open(&dir, NULL);
	feed_compact_result_t sum;
	feed_claim_t a = {0}, b = {0}, r = {0}, g = {0};
	char all[256];
	int calls;

	append_many(feed, P, "c", 0, 3, 1000, T0);
	feed_claim_create(feed, P, "c", 60, 60, 2, T0, &a);
	feed_claim_create(feed, P, "c", 60, 60, 1, T0, &r);
	feed_claim_release(feed, P, "c", r.id, T0 + SEC);

	is(compact_all(feed, T0 + 59 * SEC, 100, &sum, &calls), 0,
	   "compact while the claim lives");
	is(sum.claims, 0, "a live claim is not released");
	is(compact_all(feed, T0 + 61 * SEC, 100, &sum, &calls), 0,
	   "compact after the claim expired");
	is(sum.claims, 1,
	   "the expired claim is released (the released one is not counted)");
	is(sum.messages, 0, "its messages are not removed");
	is(feed_claim_get(feed, P, "c", a.id, T0 + 61 * SEC, &g), FEED_ENOCLAIM,
	   "the claim is gone");
	feed_claim_free(&g);
	read_all(feed, "c", T0 + 61 * SEC, all, sizeof(all));
	is_str(all, "m0,m1,m2", "its messages remain");
	feed_claim_create(feed, P, "c", 60, 60, 10, T0 + 61 * SEC, &b);
	ok(b.msgs.n == 3, "and are claimable again");
	ok(b.msgs.n == 3 && b.msgs.v[0].claim_count == 2,
	   "with their claim count kept");

	/* renewal moves the claim's expiry for compaction too */
	is(feed_claim_renew(feed, P, "c", b.id, 60, 60, T0 + 100 * SEC), 0,
	   "renew B at 100 s");
	is(compact_all(feed, T0 + 122 * SEC, 100, &sum, &calls), 0,
	   "compact past B's first expiry");
	is(sum.claims, 0, "a renewed claim is not released at its old expiry");
	is(feed_claim_get(feed, P, "c", b.id, T0 + 122 * SEC, &g), 0,
	   "the renewed claim still exists");
	feed_claim_free(&g);
	is(compact_all(feed, T0 + 161 * SEC, 100, &sum, &calls), 0,
	   "compact past the renewed expiry");
	is(sum.claims, 1, "the renewed claim is released then");

	feed_claim_free(&a);
	feed_claim_free(&b);
	feed_claim_free(&r);
	feed_close(feed);
	fixture_rmdir(dir);
}

static void test_claim_extended(void)
{
	const char *dir;
	feed_t *feed = fixture_open(&dir, NULL);
	feed_compact_result_t sum;
	feed_claim_t a = {0}, b = {0};
	feed_id_t id, id2;
	char all[256];
	int calls;

	append_msg(feed, "x", "m0", 10, T0, id);
	feed_claim_create(feed, P, "x", 60, 60, 1, T0, &a);
	/* m0 now lives to T0 + 120 s */
	is(compact_all(feed, T0 + 11 * SEC, 100, &sum, &calls), 0,
	   "compact past the message's own ttl");
	is(sum.messages, 0, "a claimed message is not removed at its own ttl");
	is(compact_all(feed, T0 + 61 * SEC, 100, &sum, &calls), 0,
	   "compact past the claim's expiry");
	ok(sum.claims == 1 && sum.messages == 0,
	   "the claim is released but its message lives on within the grace");
	read_all(feed, "x", T0 + 100 * SEC, all, sizeof(all));
	is_str(all, "m0", "the message still reads within the grace");
	is(compact_all(feed, T0 + 121 * SEC, 100, &sum, &calls), 0,
	   "compact past claim + grace");
	is(sum.messages, 1, "the message is removed then");
	is(total_of(feed, P, "x", T0 + 121 * SEC), 0, "and gone");

	/* renewal raises the lifetime compaction honours */
	append_msg(feed, "y", "m0", 10, T0, id2);
	feed_claim_create(feed, P, "y", 60, 60, 1, T0, &b);
	feed_claim_renew(feed, P, "y", b.id, 100, 60, T0 + 50 * SEC);
	/* m0 now lives to T0 + 210 s */
	is(compact_all(feed, T0 + 130 * SEC, 100, &sum, &calls), 0,
	   "compact past the first claim + grace");
	is(sum.messages, 0, "a renewed claim's message is kept");
	is(total_of(feed, P, "y", T0 + 130 * SEC), 1, "and counted");
	is(compact_all(feed, T0 + 211 * SEC, 100, &sum, &calls), 0,
	   "compact past the renewed claim + grace");
	is(sum.messages, 1, "then it is removed");
	feed_claim_free(&a);
	feed_claim_free(&b);
	feed_close(feed);
	fixture_rmdir(dir);
}

static void test_dropped_queues(void)
{
	const char *dir;
	feed_t *feed = fixture_open(&dir, NULL);
	feed_compact_result_t first, sum;
	feed_claim_t a = {0}, g = {0};
	feed_queue_stats_t st = {0};
	feed_msgs_t page = {0};
	feed_read_opts_t ro = {.limit = 100, .flags = FEED_READ_ECHO};
	char all[2048];
	bool created = false;
	int calls;

	append_many(feed, P, "dq", 0, 300, 1000, T0);
	feed_claim_create(feed, P, "dq", 600, 60, 5, T0, &a);
	is(feed_queue_delete(feed, P, "dq"), 0, "delete a queue of 300");
	memset(&first, 0, sizeof(first));
	is(feed_compact(feed, T0 + SEC, 20, &first), 0,
	   "compact with budget 20");
	ok(first.dropped > 0 && first.more,
	   "reclaims part of the deleted queue, with more to do");
	is(compact_all(feed, T0 + SEC, 20, &sum, &calls), 0,
	   "compact until done");
	ok(first.dropped + sum.dropped >= 300,
	   "every message record of the deleted queue is reclaimed (%zu)",
	   first.dropped + sum.dropped);
	is(first.messages + sum.messages, 0,
	   "reclaimed records are not counted as expired messages");

	is(feed_queue_create(feed, P, "dq", NULL, 0, T0 + 2 * SEC, &created), 0,
	   "recreate dq");
	ok(created, "it is a new queue");
	feed_queue_stats(feed, P, "dq", T0 + 2 * SEC, &st);
	ok(st.total == 0 && st.claimed == 0,
	   "the recreated queue starts empty");
	feed_read(feed, P, "dq", NULL, &ro, T0 + 2 * SEC, &page);
	is(page.n, 0, "and reads empty");
	feed_msgs_free(&page);
	is(feed_claim_get(feed, P, "dq", a.id, T0 + 2 * SEC, &g), FEED_ENOCLAIM,
	   "the old queue's claim is gone");
	feed_claim_free(&g);
	feed_claim_free(&a);

	/* deleted and recreated before compaction ran: keep the new data */
	append_many(feed, P, "dr", 0, 200, 1000, T0);
	feed_queue_delete(feed, P, "dr");
	append_many(feed, P, "dr", 1000, 5, 1000, T0 + SEC);
	is(compact_all(feed, T0 + 2 * SEC, 20, &sum, &calls), 0,
	   "compact a queue deleted and recreated");
	ok(sum.dropped >= 200, "the old generation is reclaimed (%zu)",
	   sum.dropped);
	read_all(feed, "dr", T0 + 2 * SEC, all, sizeof(all));
	is_str(all, "m1000,m1001,m1002,m1003,m1004",
	       "the new generation's messages survive compaction");
	is(total_of(feed, P, "dr", T0 + 2 * SEC), 5, "and are counted");
	is(compact_all(feed, T0 + 2 * SEC, 20, &sum, &calls), 0,
	   "compact again");
	ok(sum.messages == 0 && sum.claims == 0 && sum.dropped == 0,
	   "nothing is left to do");
	feed_close(feed);
	fixture_rmdir(dir);
}

static void test_released_then_expired(void)
{
	const char *dir;
	feed_t *feed = fixture_open(&dir, NULL);
	feed_compact_result_t sum;
	feed_claim_t a = {0}, b = {0}, c = {0};
	feed_msgs_t got = {0};
	feed_queue_stats_t st = {0};
	feed_id_t ids[3];
	int calls;

	/* released messages expire and are compacted: claims must skip them */
	append_msg(feed, "rx", "m0", 10, T0, ids[0]);
	append_msg(feed, "rx", "m1", 600, T0, ids[1]);
	feed_claim_create(feed, P, "rx", 5, 1, 2, T0, &a);
	feed_claim_release(feed, P, "rx", a.id, T0 + SEC);
	is(compact_all(feed, T0 + 11 * SEC, 100, &sum, &calls), 0, "compact");
	is(sum.messages, 1, "the released, expired message is removed");
	feed_claim_create(feed, P, "rx", 60, 60, 10, T0 + 12 * SEC, &b);
	ok(b.msgs.n == 1 && strcmp(b.msgs.v[0].id, ids[1]) == 0,
	   "a later claim gets only the live released message");
	feed_claim_release(feed, P, "rx", b.id, T0 + 12 * SEC);
	feed_pop(feed, P, "rx", 10, T0 + 12 * SEC, &got);
	ok(got.n == 1 && strcmp(got.v[0].id, ids[1]) == 0,
	   "pop gets only the live message too");
	feed_msgs_free(&got);

	/* a claim that lost a message to a delete, then expired */
	append_many(feed, P, "rd", 0, 3, 600, T0);
	feed_claim_create(feed, P, "rd", 60, 60, 3, T0, &c);
	if (c.msgs.n == 3)
		feed_delete(feed, P, "rd", c.msgs.v[1].id, c.id, T0, NULL);
	is(compact_all(feed, T0 + 61 * SEC, 100, &sum, &calls), 0,
	   "compact after the claim expired");
	is(sum.claims, 1, "the claim is released");
	feed_queue_stats(feed, P, "rd", T0 + 61 * SEC, &st);
	ok(st.total == 2 && st.claimed == 0 && st.free == 2,
	   "stats count its two remaining messages as free");
	feed_claim_free(&b);
	feed_claim_create(feed, P, "rd", 60, 60, 10, T0 + 62 * SEC, &b);
	is(b.msgs.n, 2, "and a new claim gets both");
	feed_claim_free(&a);
	feed_claim_free(&b);
	feed_claim_free(&c);
	feed_close(feed);
	fixture_rmdir(dir);
}

/*
 * Gives message `id` a claim id no claim has, through LMDB directly (the
 * feed closed): its queue's records then contradict each other. 48 is
 * the offset of the claim id in a message record (feed_internal.h).
 */
static void corrupt_claim(const char *dir, const char *id)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi msgs;
	uint8_t k[16], rec[512];
	MDB_val key = {16, k}, val;
	uint64_t qid, seq;

	feed_id_parse(id, &qid, &seq);
	for (int i = 0; i < 8; i++) {
		k[i] = (uint8_t)(qid >> (56 - 8 * i));
		k[8 + i] = (uint8_t)(seq >> (56 - 8 * i));
	}
	if (mdb_env_create(&env) || mdb_env_set_maxdbs(env, 16) ||
	    mdb_env_set_mapsize(env, 64 << 20) ||
	    mdb_env_open(env, dir, 0, 0644) ||
	    mdb_txn_begin(env, NULL, 0, &txn) ||
	    mdb_dbi_open(txn, "msgs", 0, &msgs) ||
	    mdb_get(txn, msgs, &key, &val) || val.mv_size > sizeof(rec))
		bail_out("cannot reach message %s", id);
	memcpy(rec, val.mv_data, val.mv_size);
	memset(rec + 48, 0xab, 16);
	val.mv_data = rec;
	if (mdb_put(txn, msgs, &key, &val, 0) || mdb_txn_commit(txn))
		bail_out("cannot write message %s", id);
	mdb_env_close(env);
}

static void test_corrupt_queue(void)
{
	const char *dir;
	feed_t *feed = fixture_open(&dir, NULL);
	feed_compact_result_t cr, sum;
	char bad[FEED_ID_LEN + 1];
	uint64_t bad_qid;
	int calls;

	append_msg(feed, "bad", "b0", 10, T0, bad);
	append_many(feed, P, "good", 0, 20, 10, T0);
	feed_close(feed);
	corrupt_claim(dir, bad);
	feed_id_parse(bad, &bad_qid, NULL);
	if (feed_open(&feed, dir, NULL))
		bail_out("reopen");

	memset(&cr, 0, sizeof(cr));
	is(feed_compact(feed, T0 + 11 * SEC, 1000, &cr), 0,
	   "compaction with a corrupt queue succeeds");
	ok(cr.corrupt == 1 && cr.corrupt_qid == bad_qid,
	   "and reports the corrupt queue (%zu)", cr.corrupt);
	is(cr.messages, 20, "the other queue is compacted all the same");
	ok(!cr.more, "the skipped queue is not due again at once");
	is(compact_all(feed, T0 + 11 * SEC, 1000, &sum, &calls), 0,
	   "compact again");
	ok(sum.corrupt == 0 && sum.messages == 0 && calls == 1,
	   "later calls do not spin on it");
	memset(&cr, 0, sizeof(cr));
	feed_compact(feed, T0 + 72 * SEC, 1000, &cr);
	ok(cr.corrupt == 1 && !cr.more, "it is retried a minute later");
	feed_close(feed);
	fixture_rmdir(dir);
}

int main(void)
{
	test_nothing_to_do();
	test_exact();
	test_bounded();
	test_claims();
	test_claim_extended();
	test_dropped_queues();
	test_released_then_expired();
	test_corrupt_queue();
	done_testing();
	return exit_status();
}
