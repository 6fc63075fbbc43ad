/*
 * test_writer.c - the writer thread (hub/writer.c) alone, on a feed in a
 * temporary directory: group commit of every kind of write (appends,
 * claims, deletes, failing jobs), order, the hand-back through the hooks,
 * jobs whose client went away, solo jobs, and stop.
 *
 * The writer takes the whole pending list each time it wakes. To make
 * grouping deterministic a test first submits a solo job that blocks
 * until the test releases it; everything submitted meanwhile is pending
 * together when the writer comes back for more.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "fixture.h"
#include "move.h"
#include "tap.h"
#include "writer.h"

/* ------------------------------------------------ hooks and transport */

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned wakes;
	bool gate_open, gate_entered;
} sync_ = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, false,
	   false};

static unsigned committed_calls;
static char committed_queue[32];

static void on_wake(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&sync_.lock);
	sync_.wakes++;
	pthread_cond_broadcast(&sync_.cond);
	pthread_mutex_unlock(&sync_.lock);
}

/* Per loop (arg: the loop's index) with several loops. */
static unsigned loop_wakes[2], loop_committed[2];
static char loop_committed_names[2][64];

static void on_committed(void *arg, const char *project, const char *queue)
{
	(void)arg;
	(void)project;
	committed_calls++;
	snprintf(committed_queue, sizeof(committed_queue), "%s", queue);
}

static void on_loop_wake(void *arg)
{
	pthread_mutex_lock(&sync_.lock);
	loop_wakes[(uintptr_t)arg]++;
	pthread_cond_broadcast(&sync_.cond);
	pthread_mutex_unlock(&sync_.lock);
}

static void on_loop_committed(void *arg, const char *project,
			      const char *queue)
{
	uintptr_t i = (uintptr_t)arg;

	loop_committed[i]++;
	snprintf(loop_committed_names[i], sizeof(loop_committed_names[i]),
		 "%s/%s", project, queue);
}

/* A request whose transport records what the writer tells it. */
struct test_req {
	struct hub_req pub;
	int job_out, job_back, resumed;
};

static void t_job_out(struct hub_req *r, struct hub_job *job)
{
	(void)job;
	((struct test_req *)r)->job_out++;
}

static void t_job_back(struct hub_req *r)
{
	((struct test_req *)r)->job_back++;
}

static void t_resume(struct hub_req *r)
{
	((struct test_req *)r)->resumed++;
}

static const struct hub_transport test_transport = {
	.job_out = t_job_out,
	.job_back = t_job_back,
	.resume = t_resume,
};

/* ------------------------------------------------------------- jobs */

/* What done() saw, in the order it was called. */
static int done_order[64];
static int done_rc[64];
static bool done_had_req[64];
static size_t n_done;

struct ctx {
	int tag;
	feed_append_req_t areq;
	feed_msg_in_t msg;
};

static void done_fn(struct hub_req *r, void *arg, int rc)
{
	struct ctx *c = arg;

	if (n_done < 64) {
		done_order[n_done] = c->tag;
		done_rc[n_done] = rc;
		done_had_req[n_done] = r != NULL;
	}
	n_done++;
	free(c);
}

/* A solo job that blocks the writer until the gate opens. */
static int gate_run(feed_t *feed, void *arg, uint64_t now_ms)
{
	(void)feed;
	(void)arg;
	(void)now_ms;
	pthread_mutex_lock(&sync_.lock);
	sync_.gate_entered = true;
	pthread_cond_broadcast(&sync_.cond);
	while (!sync_.gate_open)
		pthread_cond_wait(&sync_.cond, &sync_.lock);
	pthread_mutex_unlock(&sync_.lock);
	return 0;
}

/* A grouped job that writes, then fails: its write must not stay. */
static int failing_run(feed_txn_t *txn, void *arg, uint64_t now_ms)
{
	static const feed_msg_in_t msg = {"{}", 2, 60, 0};
	feed_append_req_t areq = {.project = "p", .queue = "undone",
				  .msgs = &msg, .n_msgs = 1};
	int rc = feed_append_tx(txn, &areq, now_ms);

	(void)arg;
	return rc ? rc : FEED_EINVAL;
}

/* A grouped claim of up to 5 messages of queue "work", then a delete of
 * the first one it got, with the claim id: one job, two writes. */
static int claim_delete_run(feed_txn_t *txn, void *arg, uint64_t now_ms)
{
	feed_claim_t claim;
	int rc = feed_claim_create_tx(txn, "p", "work", 60, 60, 5, now_ms,
				      &claim);

	(void)arg;
	if (rc == 0 && claim.msgs.n)
		rc = feed_delete_tx(txn, "p", "work", claim.msgs.v[0].id,
				    claim.id, now_ms, NULL);
	feed_claim_free(&claim);
	return rc;
}

static struct hub_job *job_make(int tag, hub_run_fn run, hub_solo_fn solo,
				const char *queue, struct hub_req *r)
{
	struct hub_job *job = calloc(1, sizeof(*job));
	struct ctx *c = calloc(1, sizeof(*c));

	if (!job || !c)
		bail_out("out of memory");
	c->tag = tag;
	job->req = r;
	job->run = run;
	job->solo = solo;
	job->done = done_fn;
	job->ctx = c;
	job->now_ms = 1000000;
	if (!run && !solo) {
		c->msg.body = "{}";
		c->msg.body_len = 2;
		c->msg.ttl_s = 60;
		c->areq.project = "p";
		c->areq.queue = queue;
		c->areq.msgs = &c->msg;
		c->areq.n_msgs = 1;
		job->areq = &c->areq;
	}
	if (r)
		r->transport->job_out(r, job);
	return job;
}

/* An append job of one message to queue (run NULL), or a grouped job. */
static struct hub_job *job_new(int tag, hub_run_fn run, const char *queue,
			       struct hub_req *r)
{
	return job_make(tag, run, NULL, queue, r);
}

static struct hub_job *gate_job(int tag)
{
	return job_make(tag, NULL, gate_run, NULL, NULL);
}

/* Waits until `n` jobs are finished, collecting as the loop thread. */
static void collect_until(struct hub_writer *w, size_t n)
{
	while (n_done < n) {
		pthread_mutex_lock(&sync_.lock);
		while (hub_writer_busy(w) > 0 && sync_.wakes == 0)
			pthread_cond_wait(&sync_.cond, &sync_.lock);
		sync_.wakes = 0;
		pthread_mutex_unlock(&sync_.lock);
		hub_writer_collect(w, 0);
	}
}

static void gate_close(void)
{
	pthread_mutex_lock(&sync_.lock);
	sync_.gate_open = false;
	sync_.gate_entered = false;
	pthread_mutex_unlock(&sync_.lock);
}

/* Waits until the writer is inside the gate job. */
static void gate_wait_entered(void)
{
	pthread_mutex_lock(&sync_.lock);
	while (!sync_.gate_entered)
		pthread_cond_wait(&sync_.cond, &sync_.lock);
	pthread_mutex_unlock(&sync_.lock);
}

static void gate_wait_entered_then_open(void)
{
	gate_wait_entered();
	pthread_mutex_lock(&sync_.lock);
	sync_.gate_open = true;
	pthread_cond_broadcast(&sync_.cond);
	pthread_mutex_unlock(&sync_.lock);
}

/* ------------------------------------------------------------ tests */

static void test_group_commit(feed_t *feed)
{
	struct hub_writer_hooks hooks = {on_wake, on_committed, NULL};
	struct hub_writer *w = hub_writer_start(feed, &hooks, 1);
	struct hub_writer_counts counts;
	struct test_req req = {.pub.transport = &test_transport};
	bool in_order = true;

	ok(w != NULL, "the writer starts on a feed");
	gate_close();
	n_done = 0;
	hub_writer_submit(w, gate_job(0));
	/* The gate job is running: these ten pile up behind it. */
	gate_wait_entered();
	for (int i = 1; i <= 10; i++)
		hub_writer_submit(w, job_new(i, NULL, "q", i == 5 ? &req.pub
								  : NULL));
	is(hub_writer_busy(w), 11, "eleven jobs are out at the writer");
	gate_wait_entered_then_open();
	collect_until(w, 11);
	hub_writer_counts(w, &counts);
	is((long long)counts.appends, 10, "ten append requests ran");
	is((long long)counts.commits, 1,
	   "consecutive appends share ONE commit");
	for (size_t i = 0; i < 11; i++)
		if (done_order[i] != (int)i)
			in_order = false;
	ok(in_order, "done() runs in the order the jobs were submitted");
	is(committed_calls, 10, "the committed hook ran once per append");
	is_str(committed_queue, "q", "the committed hook names the queue");
	is(done_rc[5], 0, "a committed append reports 0");
	ok(done_had_req[5] && !done_had_req[4],
	   "done() gets the request, or NULL when there is none");
	is(req.job_out, 1, "the transport saw its job go out");
	is(req.job_back, 1, "the transport saw its job come back");
	is(req.resumed, 1, "the transport was resumed after done()");
	is(hub_writer_busy(w), 0, "nothing is left at the writer");
	hub_writer_stop(w);
}

static uint64_t queue_total(feed_t *feed, const char *queue)
{
	feed_queue_stats_t st;

	return feed_queue_stats(feed, "p", queue, 1000000, &st) ? 0 : st.total;
}

static void test_mixed_group(feed_t *feed)
{
	struct hub_writer_hooks hooks = {on_wake, NULL, NULL};
	struct hub_writer *w = hub_writer_start(feed, &hooks, 1);
	struct hub_writer_counts counts;

	gate_close();
	n_done = 0;
	hub_writer_submit(w, gate_job(0));
	gate_wait_entered();
	hub_writer_submit(w, job_new(1, NULL, "work", NULL));
	hub_writer_submit(w, job_new(2, NULL, "work", NULL));
	hub_writer_submit(w, job_new(3, failing_run, NULL, NULL));
	hub_writer_submit(w, job_new(4, claim_delete_run, NULL, NULL));
	hub_writer_submit(w, job_new(5, NULL, "b", NULL));
	gate_wait_entered_then_open();
	collect_until(w, 6);
	hub_writer_counts(w, &counts);
	is((long long)counts.commits, 1,
	   "appends, a claim+delete and a failing job share ONE commit");
	is((long long)counts.jobs, 5, "five jobs ran in that group");
	is(done_rc[3], FEED_EINVAL, "a failing job's code reaches its done()");
	is((long long)queue_total(feed, "undone"), 0,
	   "and its own write was undone");
	is(done_rc[4], 0, "the claim+delete after it committed");
	is((long long)queue_total(feed, "work"), 1,
	   "it saw the appends before it in the same group and deleted one");
	is(done_rc[5], 0, "the append after the failing job committed");
	is(done_order[5], 5, "in order");
	hub_writer_stop(w);
}

static void test_solo_breaks_groups(feed_t *feed)
{
	struct hub_writer_hooks hooks = {on_wake, NULL, NULL};
	struct hub_writer *w = hub_writer_start(feed, &hooks, 1);
	struct hub_writer_counts counts;

	gate_close();
	n_done = 0;
	hub_writer_submit(w, gate_job(0));
	gate_wait_entered();
	hub_writer_submit(w, job_new(1, NULL, "a", NULL));
	/* Already open: it passes at once, but alone. */
	pthread_mutex_lock(&sync_.lock);
	sync_.gate_open = true;
	pthread_mutex_unlock(&sync_.lock);
	hub_writer_submit(w, gate_job(2));
	hub_writer_submit(w, job_new(3, NULL, "a", NULL));
	pthread_mutex_lock(&sync_.lock);
	pthread_cond_broadcast(&sync_.cond);
	pthread_mutex_unlock(&sync_.lock);
	collect_until(w, 4);
	hub_writer_counts(w, &counts);
	is((long long)counts.commits, 2,
	   "a solo job between appends splits them into two commits");
	is((long long)counts.jobs, 2, "and is not counted as a group job");
	is(done_order[3], 3, "the append after it still runs, in order");
	hub_writer_stop(w);
}

static void test_bad_append_alone(feed_t *feed)
{
	struct hub_writer_hooks hooks = {on_wake, NULL, NULL};
	struct hub_writer *w = hub_writer_start(feed, &hooks, 1);
	struct hub_job *bad;

	gate_close();
	n_done = 0;
	hub_writer_submit(w, gate_job(0));
	gate_wait_entered();
	hub_writer_submit(w, job_new(1, NULL, "ok1", NULL));
	bad = job_new(2, NULL, "missing", NULL);
	bad->areq->flags = FEED_APPEND_NO_CREATE;
	hub_writer_submit(w, bad);
	hub_writer_submit(w, job_new(3, NULL, "ok2", NULL));
	gate_wait_entered_then_open();
	collect_until(w, 4);
	is(done_rc[1], 0, "the append before a refused one commits");
	is(done_rc[2], FEED_ENOQUEUE,
	       "a refused append of the group gets its own code");
	is(done_rc[3], 0, "the append after a refused one commits");
	hub_writer_stop(w);
}

/* Keyed appends: a post of repeats only stored nothing, so it wakes no
 * subscriber (the committed hook), though it is answered as committed. */
static void test_repeats_wake_nobody(feed_t *feed)
{
	static const feed_key_t key = {"k-1", 3};
	struct hub_writer_hooks hooks = {on_wake, on_committed, NULL};
	struct hub_writer *w = hub_writer_start(feed, &hooks, 1);
	bool dup[2][1] = {{false}, {false}};

	n_done = 0;
	committed_calls = 0;
	for (int i = 0; i < 2; i++) {
		struct hub_job *job = job_new(i, NULL, "keyed", NULL);

		job->areq->keys = &key;
		job->areq->dups = dup[i];
		hub_writer_submit(w, job);
		collect_until(w, (size_t)i + 1);
	}
	is(done_rc[0], 0, "a keyed append commits");
	is(done_rc[1], 0, "its repeat is answered as committed");
	ok(!dup[0][0] && dup[1][0], "the second was the repeat");
	is(committed_calls, 1, "only the first woke the queue's subscribers");
	hub_writer_stop(w);
}

static void test_stop_finishes(feed_t *feed)
{
	struct hub_writer_hooks hooks = {on_wake, NULL, NULL};
	struct hub_writer *w = hub_writer_start(feed, &hooks, 1);
	uint64_t total = 0;
	feed_queue_stats_t st;

	n_done = 0;
	for (int i = 0; i < 20; i++)
		hub_writer_submit(w, job_new(i, NULL, "stop", NULL));
	hub_writer_stop(w); /* no collect: stop finishes and collects all */
	is((long long)n_done, 20, "stop runs every submitted job's done()");
	if (feed_queue_stats(feed, "p", "stop", 1000000, &st) == 0)
		total = st.total;
	is((long long)total, 20, "and every append was committed");
}

/* --loops: a job comes back to the loop that sent it; the other loops
 * hear of its append (and are woken for it), and nothing else. */
static void test_loops(feed_t *feed)
{
	struct hub_writer_hooks hooks[2] = {
		{on_loop_wake, on_loop_committed, (void *)0},
		{on_loop_wake, on_loop_committed, (void *)1},
	};
	struct hub_writer *w = hub_writer_start(feed, hooks, 2);
	struct hub_job *append = job_new(1, NULL, "fan", NULL);
	struct hub_job *grouped = job_new(2, claim_delete_run, NULL, NULL);

	ok(w != NULL, "the writer starts for two loops");
	append->loop = 1;
	grouped->loop = 1;
	n_done = 0;
	hub_writer_submit(w, append);
	hub_writer_submit(w, grouped);
	is(hub_writer_busy_loop(w, 1), 2, "loop 1 has two jobs out");
	is(hub_writer_busy_loop(w, 0), 0, "loop 0 has none");
	pthread_mutex_lock(&sync_.lock);
	while (loop_wakes[0] == 0 || loop_wakes[1] == 0)
		pthread_cond_wait(&sync_.cond, &sync_.lock);
	pthread_mutex_unlock(&sync_.lock);
	hub_writer_collect(w, 0);
	is((long long)n_done, 0, "loop 0 runs no done() of loop 1's jobs");
	is(loop_committed[0], 1, "loop 0 hears of loop 1's append once");
	is_str(loop_committed_names[0], "p/fan",
	       "with the append's project and queue");
	while (n_done < 2) {
		pthread_mutex_lock(&sync_.lock);
		while (hub_writer_busy_loop(w, 1) > 0 && loop_wakes[1] == 0)
			pthread_cond_wait(&sync_.cond, &sync_.lock);
		loop_wakes[1] = 0;
		pthread_mutex_unlock(&sync_.lock);
		hub_writer_collect(w, 1);
	}
	is(done_order[0] * 10 + done_order[1], 12,
	   "loop 1 runs its jobs' done() in order");
	is(loop_committed[1], 1, "loop 1 hears of its own append once");
	is(loop_committed[0], 1, "loop 0 heard of nothing else");
	is(hub_writer_busy(w), 0, "nothing is left at the writer");
	hub_writer_stop(w);
}

/*
 * A shard moving (move.h) frozen while jobs for it wait at the writer:
 * the writer does not run them - done() gets no request, only frees -
 * and their requests get the move's 503; the jobs around them run.
 */
static void test_moving_shard(feed_t *feed)
{
	struct hub_writer_hooks hooks = {on_wake, on_committed, NULL};
	struct hub_writer *w = hub_writer_start(feed, &hooks, 1);
	struct test_req req = {.pub.transport = &test_transport};
	unsigned s = hub_cluster_shard("frozen", 6);
	uint64_t warm = queue_total(feed, "warm");
	struct hub_job *j;

	gate_close();
	n_done = 0;
	hub_writer_submit(w, gate_job(0));
	gate_wait_entered();
	hub_writer_submit(w, job_new(1, NULL, "warm", NULL));
	j = job_new(2, NULL, "frozen", &req.pub);
	j->shard[j->n_shards++] = s;
	hub_writer_submit(w, j);
	hub_writer_submit(w, job_new(3, NULL, "warm", NULL));
	/* Submitted before the freeze, taken after it. */
	hub_move_freeze(s, true);
	gate_wait_entered_then_open();
	collect_until(w, 4);
	hub_move_freeze(s, false);
	is(queue_total(feed, "frozen"), 0, "a job of the moving shard waiting "
	   "at the writer wrote nothing");
	ok(!done_had_req[2] && done_rc[2] != 0, "its done() got no request "
	   "(it only frees)");
	is(req.pub.reply.status, 503, "its request got the move's 503");
	is(req.resumed, 1, "and was resumed to send it");
	is(queue_total(feed, "warm"), warm + 2, "the jobs around it ran");
	hub_reply_release(&req.pub.reply);
	hub_writer_stop(w);
}

int main(void)
{
	const char *dir;
	feed_t *feed = fixture_open(&dir, NULL);

	test_group_commit(feed);
	test_mixed_group(feed);
	test_solo_breaks_groups(feed);
	test_bad_append_alone(feed);
	test_repeats_wake_nobody(feed);
	test_stop_finishes(feed);
	test_loops(feed);
	test_moving_shard(feed);
	feed_close(feed);
	fixture_rmdir(dir);
	done_testing();
	return exit_status();
}
