/*
 * test_group.c - group commit (feed_write_group): jobs of every kind in
 * one transaction, each all or nothing; a job that needs a bigger map
 * without the jobs before it running twice; storage full for one job
 * while the others commit; and every request answered when an allocation
 * fails.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feed.h"
#include "fixture.h"
#include "tap.h"

#define NOW 1700000000000ull

static uint64_t total(feed_t *feed, const char *queue)
{
	feed_queue_stats_t st;

	if (feed_queue_stats(feed, "p", queue, NOW, &st))
		return UINT64_MAX;
	return st.total;
}

/* ----------------------------------------------------- jobs of a test */

struct post {
	feed_append_req_t req;
	feed_msg_in_t msgs[10];
	char ids[10][FEED_ID_LEN + 1];
	int runs;
};

static void post_init(struct post *p, const char *queue, size_t n,
		      const char *body, size_t len)
{
	memset(p, 0, sizeof(*p));
	for (size_t i = 0; i < n; i++)
		p->msgs[i] = (feed_msg_in_t){body, len, 3600, 0};
	p->req = (feed_append_req_t){.project = "p", .queue = queue,
				     .msgs = p->msgs, .n_msgs = n,
				     .ids = p->ids};
}

static int post_job(feed_txn_t *txn, void *arg)
{
	struct post *p = arg;

	p->runs++;
	return feed_append_tx(txn, &p->req, NOW);
}

struct claim_job {
	feed_claim_t claim;
	size_t deleted;
	int runs;
};

/* Claims 3 and deletes what it claimed: two writes, one job. */
static int claim_delete_job(feed_txn_t *txn, void *arg)
{
	struct claim_job *c = arg;
	const char *ids[3];
	int rc;

	c->runs++;
	feed_claim_free(&c->claim);
	rc = feed_claim_create_tx(txn, "p", "a", 30, 30, 3, NOW, &c->claim);
	for (size_t i = 0; rc == 0 && i < c->claim.msgs.n; i++)
		ids[i] = c->claim.msgs.v[i].id;
	if (rc == 0)
		rc = feed_delete_many_tx(txn, "p", "a", ids, c->claim.msgs.n,
					 NOW, &c->deleted);
	return rc;
}

/* Writes, then fails for a reason of its own. */
static int spoiled_job(feed_txn_t *txn, void *arg)
{
	struct post *p = arg;
	int rc = feed_append_tx(txn, &p->req, NOW);

	if (rc == 0)
		rc = feed_queue_delete_tx(txn, "p", "a");
	return rc ? rc : FEED_EINVAL;
}

/* ------------------------------------------------------------- tests */

static void test_mixed(void)
{
	const char *dir;
	feed_t *feed = fixture_open(&dir, NULL);
	struct post a1, a2, bad, spoil;
	struct claim_job cj = {0};
	feed_job_t jobs[5];
	int rc;

	post_init(&a1, "a", 5, "{}", 2);
	post_init(&a2, "a", 5, "{}", 2);
	post_init(&bad, "a", 1, "{}", 2);
	bad.msgs[0].ttl_s = 0; /* refused before anything is written */
	post_init(&spoil, "b", 3, "{}", 2);
	jobs[0] = (feed_job_t){post_job, &a1, -1, FEED_JOB_DIRECT};
	jobs[1] = (feed_job_t){post_job, &bad, -1, FEED_JOB_DIRECT};
	jobs[2] = (feed_job_t){spoiled_job, &spoil, -1, 0};
	jobs[3] = (feed_job_t){claim_delete_job, &cj, -1, 0};
	jobs[4] = (feed_job_t){post_job, &a2, -1, 0};
	rc = feed_write_group(feed, jobs, 5);
	is(rc, 0, "a group of mixed jobs commits");
	is(jobs[0].status, 0, "the first post committed");
	is(jobs[1].status, FEED_EINVAL, "a refused post has its own status");
	is(jobs[2].status, FEED_EINVAL, "a job failing after writes fails");
	is((long long)total(feed, "b"), 0, "and its writes are undone");
	is(jobs[3].status, 0, "a claim+delete job committed");
	is((long long)cj.claim.msgs.n, 3,
	   "it claimed the first post's messages, written in the same group");
	is((long long)cj.deleted, 3, "and deleted them in the same job");
	is(jobs[4].status, 0, "the post after them committed");
	is((long long)total(feed, "a"), 7, "5 + 5 - 3 messages are stored");
	ok(a1.runs == 1 && a2.runs == 1 && cj.runs == 1,
	   "no job ran twice");
	feed_claim_free(&cj.claim);
	feed_close(feed);
	fixture_rmdir(dir);
}

/* A direct job that writes and then fails for a reason of the storage:
 * the first time only. */
struct flaky {
	struct post p;
	int runs;
};

static int flaky_job(feed_txn_t *txn, void *arg)
{
	struct flaky *f = arg;
	int rc = feed_append_tx(txn, &f->p.req, NOW);

	return rc ? rc : ++f->runs == 1 ? FEED_ENOMEM : 0;
}

static int enomem_job(feed_txn_t *txn, void *arg)
{
	struct post *p = arg;
	int rc = feed_append_tx(txn, &p->req, NOW);

	return rc ? rc : FEED_ENOMEM;
}

static void test_direct_spoiled(void)
{
	const char *dir;
	feed_t *feed = fixture_open(&dir, NULL);
	struct post before, after, doomed;
	struct flaky flaky;
	feed_job_t jobs[4];

	post_init(&before, "d", 2, "{}", 2);
	post_init(&flaky.p, "d", 3, "{}", 2);
	flaky.runs = 0;
	post_init(&doomed, "d", 4, "{}", 2);
	post_init(&after, "d", 5, "{}", 2);
	jobs[0] = (feed_job_t){post_job, &before, -1, FEED_JOB_DIRECT};
	jobs[1] = (feed_job_t){flaky_job, &flaky, -1, FEED_JOB_DIRECT};
	jobs[2] = (feed_job_t){enomem_job, &doomed, -1, FEED_JOB_DIRECT};
	jobs[3] = (feed_job_t){post_job, &after, -1, FEED_JOB_DIRECT};
	is(feed_write_group(feed, jobs, 4), 0, "a group with spoiled direct "
	   "jobs commits");
	ok(jobs[0].status == 0 && jobs[1].status == 0 && jobs[3].status == 0,
	   "the direct jobs around them committed, the flaky one on its "
	   "second, nested run");
	is(jobs[2].status, FEED_ENOMEM,
	   "a direct job that fails for the storage every time fails alone");
	is((long long)total(feed, "d"), 2 + 3 + 5,
	   "its half-done writes are gone, nothing is stored twice");
	is(before.runs, 3, "the jobs before a spoiled one ran again with it");
	ok(jobs[1].flags == FEED_JOB_DIRECT,
	   "the flags are as the caller set them afterwards");
	feed_close(feed);
	fixture_rmdir(dir);
}

static void test_map_grows(void)
{
	enum { N = 300 };
	feed_options_t opts = {.map_size = 1u << 20};
	const char *dir;
	feed_t *feed = fixture_open(&dir, &opts);
	static struct post posts[N];
	static char body[4000];
	feed_job_t jobs[N];
	bool all_ok = true;
	int max_runs = 0;
	feed_env_info_t info;

	memset(body, 'x', sizeof(body));
	body[0] = '"';
	body[sizeof(body) - 1] = '"';
	for (size_t i = 0; i < N; i++) {
		post_init(&posts[i], "big", 10, body, sizeof(body));
		/* Half direct, half nested: both paths meet a full map. */
		jobs[i] = (feed_job_t){post_job, &posts[i], -1,
				       i % 2 ? FEED_JOB_DIRECT : 0};
	}
	is(feed_write_group(feed, jobs, N), 0,
	   "a group twelve times the map commits");
	for (size_t i = 0; i < N; i++) {
		all_ok = all_ok && jobs[i].status == 0;
		if (posts[i].runs > max_runs)
			max_runs = posts[i].runs;
	}
	ok(all_ok, "every job committed");
	ok(max_runs >= 2,
	   "jobs that needed room ran again after the map grew (at most %d "
	   "times)", max_runs);
	is((long long)total(feed, "big"), N * 10,
	   "every message is stored exactly once");
	is((long long)posts[N - 1].req.last_seq, N * 10,
	   "and numbered without a hole");
	feed_env_info(feed, &info);
	ok(info.map_size > (1u << 20), "the map grew");
	feed_close(feed);
	fixture_rmdir(dir);
}

static void test_full(void)
{
	enum { N = 200 };
	feed_options_t opts = {.map_size = 1u << 20, .max_map_size = 2u << 20};
	const char *dir;
	feed_t *feed = fixture_open(&dir, &opts);
	static struct post posts[N];
	static char body[4000];
	feed_job_t jobs[N + 1];
	size_t committed = 0, full = 0, other = 0, last_ok = 0;
	int rc;

	memset(body, 'y', sizeof(body));
	body[0] = '"';
	body[sizeof(body) - 1] = '"';
	for (size_t i = 0; i < N; i++) {
		post_init(&posts[i], "full", 10, body, sizeof(body));
		jobs[i] = (feed_job_t){post_job, &posts[i], -1,
				       i % 3 ? FEED_JOB_DIRECT : 0};
	}
	rc = feed_write_group(feed, jobs, N);
	is(rc, 0, "a group that overflows the storage still returns 0");
	for (size_t i = 0; i < N; i++) {
		if (jobs[i].status == 0) {
			committed++;
			last_ok = i;
		} else if (jobs[i].status == FEED_EFULL) {
			full++;
		} else {
			other++;
		}
	}
	ok(committed > 0 && full > 0 && other == 0,
	   "jobs before the storage filled committed, the rest got "
	   "FEED_EFULL (%zu, %zu)", committed, full);
	is((long long)total(feed, "full"), (long long)committed * 10,
	   "exactly the committed jobs' messages are stored");
	rc = feed_delete(feed, "p", "full", posts[last_ok].ids[0], NULL, NOW,
			 NULL);
	is(rc, 0, "a delete still works on full storage");
	feed_close(feed);
	fixture_rmdir(dir);
}

static void test_alloc_failure(void)
{
	const char *dir;
	feed_t *feed = fixture_open(&dir, NULL);
	struct post p[3];
	feed_append_req_t reqs[3];
	int rc;

	for (size_t i = 0; i < 3; i++) {
		post_init(&p[i], "nomem", 2, "{}", 2);
		reqs[i] = p[i].req;
		reqs[i].status = 12345;
	}
	feed_debug_fail_alloc(1);
	rc = feed_append_group(feed, reqs, 3, NOW);
	feed_debug_fail_alloc(0);
	is(rc, FEED_ENOMEM, "feed_append_group reports a failed allocation");
	ok(reqs[0].status == FEED_ENOMEM && reqs[1].status == FEED_ENOMEM &&
	   reqs[2].status == FEED_ENOMEM,
	   "and sets EVERY request's status: none reads as committed");
	is((long long)total(feed, "nomem"), 0, "nothing was stored");
	rc = feed_append_group(NULL, reqs, 3, NOW);
	ok(rc == FEED_EINVAL && reqs[0].status == FEED_EINVAL &&
	   reqs[2].status == FEED_EINVAL,
	   "no feed: every status is set too");
	rc = feed_append_group(feed, reqs, 3, NOW);
	ok(rc == 0 && reqs[0].status == 0 && reqs[2].status == 0,
	   "the same group commits once memory is there");
	is((long long)total(feed, "nomem"), 6, "all six messages stored");
	feed_close(feed);
	fixture_rmdir(dir);
}

int main(void)
{
	test_mixed();
	test_direct_spoiled();
	test_map_grows();
	test_full();
	test_alloc_failure();
	done_testing();
	return exit_status();
}
