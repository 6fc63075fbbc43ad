/*
 * test_cost.c - feed keeps the cost promises of feed.h: compaction
 * touches about its budget, stats touch a handful of records, whatever
 * the mix of ttls and however long the queue.
 *
 * The costly shape: one long-ttl message, then a long stream of
 * default-ttl ones (which format 1 indexed one by one, as out of order),
 * then the long-ttl message deleted, so the head of the log is the live
 * stream. Costs are counted with feed_debug_touched(); times are printed
 * for information only.
 *
 * The stream has HERALD_COST_N messages (default 1,000,000). A sanitizer
 * build may set a smaller N to stay quick (appending is what takes time;
 * the costs checked do not depend on N).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "feed.h"
#include "fixture.h"
#include "tap.h"

#define T0  1700000000000ULL
#define SEC 1000ULL
#define TTL 3600 /* the stream's ttl, s */

static const char *P = "cost";

static double ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 +
	       (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

/* Stats of queue q at now_ms, and the records they touched. */
static uint64_t stats_cost(feed_t *feed, const char *q, uint64_t now_ms,
			   feed_queue_stats_t *st, double *ms)
{
	struct timespec t0;
	uint64_t before = feed_debug_touched();

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (feed_queue_stats(feed, P, q, now_ms, st))
		bail_out("stats failed");
	*ms = ms_since(&t0);
	return feed_debug_touched() - before;
}

/* Appends the stream: groups of REQS requests of PER messages, group g at
 * T0 + 1 + g ms (so each group has its own expiry). */
enum { REQS = 10, PER = 10 };

static void append_stream(feed_t *feed, const char *q, size_t n)
{
	static const char body[] = "stream message";
	feed_msg_in_t in[PER];
	feed_append_req_t reqs[REQS];
	size_t done = 0;

	for (int i = 0; i < PER; i++)
		in[i] = (feed_msg_in_t){body, sizeof(body) - 1, TTL, 0};
	for (uint64_t g = 0; done < n; g++) {
		size_t k = 0;

		for (; k < REQS && done < n; k++) {
			size_t m = n - done < PER ? n - done : PER;

			reqs[k] = (feed_append_req_t){
				.project = P, .queue = q, .msgs = in,
				.n_msgs = m};
			fixture_client(reqs[k].client_id, 1);
			done += m;
		}
		if (feed_append_group(feed, reqs, k, T0 + 1 + g))
			bail_out("append_group failed");
		for (size_t i = 0; i < k; i++)
			if (reqs[i].status)
				bail_out("append: %s",
					 feed_strerror(reqs[i].status));
	}
}

static void test_long_head(void)
{
	const char *env = getenv("HERALD_COST_N");
	size_t n = env && *env ? strtoull(env, NULL, 10) : 1000000;
	feed_options_t opts = {.durability = FEED_NOSYNC,
			       .map_size = UINT64_C(2) << 30};
	const char *dir;
	feed_t *feed = fixture_open(&dir, &opts);
	feed_msg_in_t lone = {"long", 4, 100000, 0};
	char ids[1][FEED_ID_LEN + 1];
	feed_queue_stats_t st;
	feed_compact_result_t cr, sum = {0};
	struct timespec t0;
	uint64_t before, cost, expired, now;
	double ms;
	bool deleted = false;
	int calls = 0;

	if (n < 2000)
		n = 2000;
	diag("%zu messages after one long-ttl one", n);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (feed_append(feed, P, "long", &lone, 1, NULL, T0, ids))
		bail_out("append failed");
	append_stream(feed, "long", n);
	feed_delete(feed, P, "long", ids[0], NULL, T0, &deleted);
	ok(deleted, "the long-ttl message at the head is deleted");
	diag("appended in %.0f ms", ms_since(&t0));

	/* Nothing expired yet. */
	cost = stats_cost(feed, "long", T0 + 1000 * SEC, &st, &ms);
	is(st.total, n, "stats: every message of the stream is live");
	ok(cost < 50, "stats touch O(1) records (%llu, %.3f ms)",
	   (unsigned long long)cost, ms);

	/* The first five groups (500 messages) expired: fewer than the
	 * budget, so a compaction step finishes them and looks further. */
	now = T0 + TTL * SEC + 5;
	expired = 5 * REQS * PER;
	cost = stats_cost(feed, "long", now, &st, &ms);
	is(st.total, n - expired, "stats are exact before compaction");
	ok(cost < 50 + 2 * expired,
	   "stats before compaction touch O(expired) records (%llu)",
	   (unsigned long long)cost);

	before = feed_debug_touched();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	is(feed_compact(feed, now, 1000, &cr), 0, "one compaction step");
	ms = ms_since(&t0);
	cost = feed_debug_touched() - before;
	ok(cost <= 1200, "a step with budget 1000 touches <= 1200 records "
	   "(%llu, %.3f ms)", (unsigned long long)cost, ms);
	ok(cr.messages > 0, "and removes expired messages (%zu)",
	   cr.messages);
	sum.messages = cr.messages;
	while (cr.more && calls++ < 1000) {
		before = feed_debug_touched();
		feed_compact(feed, now, 1000, &cr);
		cost = feed_debug_touched() - before;
		if (cost > 1200)
			break;
		sum.messages += cr.messages;
	}
	ok(cost <= 1200 && !cr.more, "every later step too, until done "
	   "(%d steps)", calls + 1);
	is(sum.messages, expired, "compaction removed exactly the expired");

	cost = stats_cost(feed, "long", now, &st, &ms);
	is(st.total, n - expired, "stats are exact after compaction");
	ok(cost < 50, "stats after compaction touch O(1) records (%llu, "
	   "%.3f ms)", (unsigned long long)cost, ms);

	before = feed_debug_touched();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	is(feed_compact(feed, now, 1000, &cr), 0,
	   "a compaction step with nothing (more) expired");
	ms = ms_since(&t0);
	cost = feed_debug_touched() - before;
	ok(cost < 50 && cr.messages == 0,
	   "touches O(1) records (%llu, %.3f ms)", (unsigned long long)cost,
	   ms);
	feed_close(feed);
	fixture_rmdir(dir);
}

/* ------------------------------------------------------- mixed ttls */

enum { M = 400 };

static const uint32_t ttls[] = {10, 20, 1000, 15, 20, 5, 1000, 10};

struct model {
	uint64_t exp[M];
	bool gone[M];
};

static uint64_t live_at(const struct model *m, uint64_t now)
{
	uint64_t n = 0;

	for (int i = 0; i < M; i++)
		n += !m->gone[i] && m->exp[i] > now;
	return n;
}

static void test_mixed(void)
{
	static const uint64_t at[] = {3, 7, 12, 16, 22, 40, 65, 500, 1200};
	const char *dir;
	feed_t *feed = fixture_open(&dir, NULL);
	struct model m;
	feed_claim_t c = {0};
	char ids[M][FEED_ID_LEN + 1];
	uint64_t removed = 0, worst = 0, worst_stats = 0;
	bool all = true;

	/* Runs of 1..5 messages of one ttl, every run at its own time. */
	for (int i = 0, r = 0; i < M; r++) {
		feed_msg_in_t in[5];
		int k = 1 + r % 5;
		uint64_t t = T0 + (uint64_t)r * 7;

		k = k < M - i ? k : M - i;
		for (int j = 0; j < k; j++) {
			in[j] = (feed_msg_in_t){"x", 1, ttls[r % 8], 0};
			m.exp[i + j] = t + ttls[r % 8] * SEC;
			m.gone[i + j] = false;
		}
		if (feed_append(feed, P, "mixed", in, (size_t)k, NULL, t,
				&ids[i]))
			bail_out("append failed");
		i += k;
	}
	/* A claim raises the first 30 to T0 + 2 s + 60 s (unless later). */
	if (feed_claim_create(feed, P, "mixed", 30, 30, 30, T0 + 2 * SEC, &c))
		bail_out("claim failed");
	is(c.msgs.n, 30, "claimed 30");
	for (int i = 0; i < 30; i++)
		if (m.exp[i] < T0 + 62 * SEC)
			m.exp[i] = T0 + 62 * SEC;
	feed_claim_free(&c);
	/* Deletes here and there. */
	for (int i = 40; i < M; i += 37) {
		feed_delete(feed, P, "mixed", ids[i], NULL, T0 + 2 * SEC, NULL);
		m.gone[i] = true;
	}
	for (size_t k = 0; k < sizeof(at) / sizeof(at[0]); k++) {
		uint64_t now = T0 + at[k] * SEC, want = live_at(&m, now);
		feed_compact_result_t cr;
		feed_queue_stats_t st;
		uint64_t before;
		int steps = 0;

		feed_queue_stats(feed, P, "mixed", now, &st);
		all &= st.total == want;
		if (st.total != want)
			diag("at +%llu s before compaction: total %llu, want "
			     "%llu", (unsigned long long)at[k],
			     (unsigned long long)st.total,
			     (unsigned long long)want);
		do {
			before = feed_debug_touched();
			feed_compact(feed, now, 50, &cr);
			before = feed_debug_touched() - before;
			worst = before > worst ? before : worst;
			removed += cr.messages;
		} while (cr.more && ++steps < 1000);
		for (int i = 0; i < M; i++)
			if (!m.gone[i] && m.exp[i] <= now)
				m.gone[i] = true;
		before = feed_debug_touched();
		feed_queue_stats(feed, P, "mixed", now, &st);
		before = feed_debug_touched() - before;
		worst_stats = before > worst_stats ? before : worst_stats;
		all &= st.total == want;
		if (st.total != want)
			diag("at +%llu s after compaction: total %llu, want "
			     "%llu", (unsigned long long)at[k],
			     (unsigned long long)st.total,
			     (unsigned long long)want);
	}
	ok(all, "stats are exact before and after each compaction");
	/* A claim is released whole (30 messages here): the one step that
	 * may go past the budget by more than a removal. */
	ok(worst <= 50 + 30 * 6, "every compaction step touched about its "
	   "budget (at most %llu)", (unsigned long long)worst);
	ok(worst_stats < 30, "stats after compaction touch O(1) records (at "
	   "most %llu)", (unsigned long long)worst_stats);
	is(removed, M - (M - 40 + 36) / 37, "compaction removed every message "
	   "that was not deleted, once");
	feed_close(feed);
	fixture_rmdir(dir);
}

/* Index entries an append costs: one per run of one expiry. */
static void test_append_entries(void)
{
	const char *dir;
	feed_t *feed = fixture_open(&dir, NULL);
	feed_msg_in_t same[10], mixed[10], later[10];
	feed_append_req_t reqs[3];
	uint64_t before, fresh, cont, alt, group;

	for (int i = 0; i < 10; i++) {
		same[i] = (feed_msg_in_t){"x", 1, 60, 0};
		mixed[i] = (feed_msg_in_t){"x", 1, i % 2 ? 90 : 60, 0};
	}
	for (int i = 0; i < 10; i++)
		later[i] = (feed_msg_in_t){"x", 1, 90, 0};
	/* The first append also makes the queue due: not counted. */
	feed_append(feed, P, "entries", same, 10, NULL, T0, NULL);
	before = feed_debug_touched();
	feed_append(feed, P, "entries", same, 10, NULL, T0, NULL);
	cont = feed_debug_touched() - before;
	before = feed_debug_touched();
	feed_append(feed, P, "entries", later, 10, NULL, T0, NULL);
	fresh = feed_debug_touched() - before;
	before = feed_debug_touched();
	feed_append(feed, P, "entries", mixed, 10, NULL, T0, NULL);
	alt = feed_debug_touched() - before;
	is(fresh - cont, 1, "a request of 10 with a new ttl puts one entry; "
	   "one that continues the tail's expiry none");
	is(alt - cont, 10, "alternating ttls put one entry per message");
	for (int i = 0; i < 3; i++)
		reqs[i] = (feed_append_req_t){.project = P,
					      .queue = "entries",
					      .msgs = same,
					      .n_msgs = 10};
	before = feed_debug_touched();
	feed_append_group(feed, reqs, 3, T0 + 1);
	group = feed_debug_touched() - before;
	is(group, 3 * cont + 1, "a group of three such requests at a new "
	   "time shares one entry");
	feed_close(feed);
	fixture_rmdir(dir);
}

int main(void)
{
	test_long_head();
	test_mixed();
	test_append_entries();
	done_testing();
	return exit_status();
}
