/*
 * writer.c - the writer thread: every write to feed happens here, so the
 * event loop never waits for a commit (an fsync in sync mode).
 *
 *   loop thread                      writer thread
 *   -----------                      -------------
 *   hub_defer*() -> submit --------> pending list
 *                                    take the whole list; run it in order
 *                                    as ONE feed_write_group() (one
 *                                    commit) - appends, claims, deletes,
 *                                    compaction steps alike - solo jobs
 *                                    apart; each group handed back as
 *   EVENT_WAIT_CANCELLED  <--------- soon as it committed, through the
 *   hub_writer_collect(): done()     finished list + lws_cancel_service()
 *
 * Group commit falls out of this: while one commit is running, new
 * requests pile up in the pending list and go out together in the next.
 * Each job is all or nothing inside the group (feed nests a transaction
 * per job), so a failing request never takes the others down. Requests
 * are never acknowledged before their commit: `done` runs only after
 * feed returned, with the job's own status.
 *
 * Locking: one mutex guards both lists and the busy count; the writer
 * sleeps on a condition variable. The writer knows neither lws nor the
 * server: it is given a feed and two hooks (writer.h) - `wake`, called on
 * the writer thread when jobs are ready to collect (the server calls
 * lws_cancel_service(), the one lws call other threads may make), and
 * `committed`, called on the loop thread for every committed append (the
 * server tells the queue's subscribers) - so it runs and is tested alone.
 */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "log.h"
#include "metrics.h"
#include "req.h"
#include "writer.h"

/* Most jobs, and most message bytes, one group commit takes: a bound on
 * the size of a write transaction (lmdb.md: keep them bounded). */
#define GROUP_JOBS 1024
#define GROUP_BYTES (16u << 20)

struct hub_writer {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct hub_job *pending, **pending_tail;
	struct hub_job *finished, **finished_tail;
	unsigned busy;
	bool stop;
	feed_t *feed;
	struct hub_writer_hooks hooks;
	/* Scratch for group commits, writer thread only. */
	feed_job_t group[GROUP_JOBS];
	struct hub_job *batch[GROUP_JOBS];
	struct hub_writer_counts counts;
};

/* One job of a group commit: the job's own writes in txn. */
static int group_job(feed_txn_t *txn, void *arg)
{
	struct hub_job *job = arg;

	if (job->areq)
		return feed_append_tx(txn, job->areq, job->now_ms);
	return job->run(txn, job->ctx, job->now_ms);
}

static size_t job_bytes(const struct hub_job *job)
{
	size_t n = 0;

	if (job->areq)
		for (size_t i = 0; i < job->areq->n_msgs; i++)
			n += job->areq->msgs[i].body_len;
	return n;
}

/* Runs jobs[0..n) as one group commit; each gets its own status. */
static uint64_t mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void run_group(struct hub_writer *w, struct hub_job **jobs, size_t n)
{
	unsigned long long appends = 0;
	uint64_t now = 0, t0;
	int rc;

	/* One clock for the group: the latest request's, so that the
	 * messages of one commit share their creation time. */
	for (size_t i = 0; i < n; i++)
		if (jobs[i]->now_ms > now)
			now = jobs[i]->now_ms;
	for (size_t i = 0; i < n; i++) {
		jobs[i]->now_ms = now;
		/* An append refuses only before it writes: no nested
		 * transaction needed (feed.h, FEED_JOB_DIRECT). */
		w->group[i] = (feed_job_t){group_job, jobs[i], 0,
					   jobs[i]->areq ? FEED_JOB_DIRECT : 0};
		appends += jobs[i]->areq != NULL;
	}
	t0 = mono_ns();
	rc = feed_write_group(w->feed, w->group, n);
	hub_metrics_group(n, mono_ns() - t0, rc);
	/* Every job's status is set on every path: it is the answer. */
	for (size_t i = 0; i < n; i++)
		jobs[i]->rc = w->group[i].status;
	pthread_mutex_lock(&w->lock);
	w->counts.jobs += n;
	w->counts.appends += appends;
	w->counts.commits++;
	pthread_mutex_unlock(&w->lock);
}

/* Hands jobs[0..n) back to the loop thread, which calls their done. */
static void hand_back(struct hub_writer *w, struct hub_job **jobs, size_t n)
{
	pthread_mutex_lock(&w->lock);
	for (size_t i = 0; i < n; i++) {
		jobs[i]->next = NULL;
		*w->finished_tail = jobs[i];
		w->finished_tail = &jobs[i]->next;
	}
	pthread_mutex_unlock(&w->lock);
	w->hooks.wake(w->hooks.arg);
}

/*
 * Runs a list of jobs in order: every run of jobs up to the next solo one
 * (within the group bounds) as one group commit, a solo job alone,
 * handing each back as soon as it committed.
 */
static void run_list(struct hub_writer *w, struct hub_job *list)
{
	while (list) {
		struct hub_job **batch = w->batch;
		size_t n = 0, bytes = 0;

		if (list->solo) {
			batch[n++] = list;
			list = list->next;
			batch[0]->rc = batch[0]->solo(w->feed, batch[0]->ctx,
						      batch[0]->now_ms);
			hub_metrics_solo();
			hand_back(w, batch, n);
			continue;
		}
		while (list && !list->solo && n < GROUP_JOBS) {
			size_t more = job_bytes(list);

			if (n && bytes + more > GROUP_BYTES)
				break;
			bytes += more;
			batch[n++] = list;
			list = list->next;
		}
		run_group(w, batch, n);
		hand_back(w, batch, n);
	}
}

static void *writer_main(void *arg)
{
	struct hub_writer *w = arg;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		struct hub_job *list;

		while (!w->pending && !w->stop)
			pthread_cond_wait(&w->wake, &w->lock);
		if (!w->pending)
			break;
		list = w->pending;
		w->pending = NULL;
		w->pending_tail = &w->pending;
		pthread_mutex_unlock(&w->lock);
		run_list(w, list);
		pthread_mutex_lock(&w->lock);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

struct hub_writer *hub_writer_start(feed_t *feed,
				    const struct hub_writer_hooks *hooks)
{
	struct hub_writer *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->feed = feed;
	w->hooks = *hooks;
	w->pending_tail = &w->pending;
	w->finished_tail = &w->finished;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->wake, NULL);
	if (pthread_create(&w->thread, NULL, writer_main, w)) {
		pthread_cond_destroy(&w->wake);
		pthread_mutex_destroy(&w->lock);
		free(w);
		return NULL;
	}
	return w;
}

void hub_writer_stop(struct hub_writer *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	if (w->counts.commits)
		hub_log(HUB_LOG_INFO, "writer: %llu jobs (%llu appends) in %llu "
			"group commits (%.1f per commit)", w->counts.jobs,
			w->counts.appends, w->counts.commits,
			(double)w->counts.jobs / (double)w->counts.commits);
	/* Everything ran; hand the contexts back for freeing. */
	hub_writer_collect(w);
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

void hub_writer_submit(struct hub_writer *w, struct hub_job *job)
{
	job->next = NULL;
	pthread_mutex_lock(&w->lock);
	*w->pending_tail = job;
	w->pending_tail = &job->next;
	w->busy++;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
}

void hub_writer_collect(struct hub_writer *w)
{
	struct hub_job *list;

	pthread_mutex_lock(&w->lock);
	list = w->finished;
	w->finished = NULL;
	w->finished_tail = &w->finished;
	pthread_mutex_unlock(&w->lock);
	while (list) {
		struct hub_job *job = list;
		struct hub_req *r = job->req;

		list = list->next;
		/* A committed append changed its queue: tell its subscribers
		 * (before answering the publisher: they are independent). One
		 * of repeats only (idempotency keys) stored nothing. */
		if (job->areq && job->rc == 0 &&
		    job->areq->n_dups < job->areq->n_msgs) {
			hub_metrics_posted(job->areq->n_msgs -
					   job->areq->n_dups);
			if (w->hooks.committed)
				w->hooks.committed(w->hooks.arg, job->areq);
		}
		if (r)
			r->transport->job_back(r);
		job->done(r, job->ctx, job->rc);
		if (r)
			r->transport->resume(r);
		pthread_mutex_lock(&w->lock);
		w->busy--;
		pthread_mutex_unlock(&w->lock);
		free(job);
	}
}

void hub_writer_counts(struct hub_writer *w, struct hub_writer_counts *out)
{
	pthread_mutex_lock(&w->lock);
	*out = w->counts;
	pthread_mutex_unlock(&w->lock);
}

/* ------------------------------------------------------ deferred writes */

static void submit(struct hub_req *r, hub_run_fn run, hub_solo_fn solo,
		   feed_append_req_t *areq, hub_done_fn done, void *ctx)
{
	struct hub_job *job = calloc(1, sizeof(*job));

	if (!job) {
		done(NULL, ctx, FEED_ENOMEM);
		hub_reply_error(r, 503, "Service temporarily unavailable",
				"Out of memory. Please try again in a few "
				"seconds.");
		return;
	}
	job->req = r;
	job->run = run;
	job->solo = solo;
	job->areq = areq;
	job->done = done;
	job->ctx = ctx;
	job->now_ms = r->now_ms;
	r->transport->job_out(r, job);
	hub_writer_submit(r->writer, job);
}

void hub_defer(struct hub_req *r, hub_run_fn run, hub_done_fn done, void *ctx)
{
	submit(r, run, NULL, NULL, done, ctx);
}

void hub_defer_solo(struct hub_req *r, hub_solo_fn solo, hub_done_fn done,
		    void *ctx)
{
	submit(r, NULL, solo, NULL, done, ctx);
}

void hub_defer_append(struct hub_req *r, feed_append_req_t *areq,
		      hub_done_fn done, void *ctx)
{
	submit(r, NULL, NULL, areq, done, ctx);
}

unsigned hub_writer_busy(struct hub_writer *w)
{
	unsigned busy;

	pthread_mutex_lock(&w->lock);
	busy = w->busy;
	pthread_mutex_unlock(&w->lock);
	return busy;
}
