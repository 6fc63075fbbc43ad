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
 * Several service loops (server.c, --loops): each has an outlet of its
 * own - its finished jobs, its busy count, its hooks - and a job goes
 * back to the loop it came from (job->loop). Every committed append is
 * news for every loop (each has its own subscribers of the queue): the
 * writer leaves a note of (project, queue) in every other loop's outlet
 * and wakes it too, so no loop waits for another to pass it on.
 *
 * Locking: one mutex guards the lists and the busy counts; the writer
 * sleeps on a condition variable. The writer knows neither lws nor the
 * server: it is given a feed and two hooks (writer.h) - `wake`, called on
 * the writer thread when jobs are ready to collect (the server calls
 * lws_cancel_service(), the one lws call other threads may make), and
 * `committed`, called on the loop thread for every committed append (the
 * server tells the queue's subscribers) - so it runs and is tested alone.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster.h"
#include "config.h"
#include "log.h"
#include "metrics.h"
#include "move.h"
#include "req.h"
#include "writer.h"

/* Most jobs, and most message bytes, one group commit takes: a bound on
 * the size of a write transaction (lmdb.md: keep them bounded). */
#define GROUP_JOBS 1024
#define GROUP_BYTES (16u << 20)

/* A committed append of another loop: (project, queue) for `committed`. */
struct note {
	struct note *next;
	size_t project_len;
	char names[]; /* project \0 queue \0 */
};

/* One service loop's side of the writer. */
struct outlet {
	struct hub_job *finished, **finished_tail;
	struct note *notes, **notes_tail;
	unsigned busy;
	bool woken; /* something came since the last wake (under lock) */
	struct hub_writer_hooks hooks;
};

struct hub_writer {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct hub_job *pending, **pending_tail;
	unsigned busy;
	bool stop;
	feed_t *feed;
	unsigned n_loops;
	struct outlet *out;
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

/* Whether a finished job is an append that stored something (one of
 * repeats only - idempotency keys - stored nothing). */
static bool stored_append(const struct hub_job *job)
{
	return job->areq && job->rc == 0 &&
	       job->areq->n_dups < job->areq->n_msgs;
}

/* Leaves the news of a change of (project, queue) in every loop's outlet
 * but from's (lock held). Out of memory, that loop's subscribers of the
 * queue hear of it with the queue's next commit. */
static void note_change(struct hub_writer *w, unsigned from,
			const char *project, const char *queue)
{
	size_t p = strlen(project), q = strlen(queue);

	for (unsigned i = 0; i < w->n_loops; i++) {
		struct note *nt;

		if (i == from)
			continue;
		nt = malloc(sizeof(*nt) + p + q + 2);
		if (!nt)
			continue;
		nt->next = NULL;
		nt->project_len = p;
		memcpy(nt->names, project, p + 1);
		memcpy(nt->names + p + 1, queue, q + 1);
		*w->out[i].notes_tail = nt;
		w->out[i].notes_tail = &nt->next;
		w->out[i].woken = true;
	}
}

/* Wakes the loops whose outlets got something (writer thread, or a
 * loop's in hub_writer_notify: woken is only touched under the lock). */
static void wake_marked(struct hub_writer *w)
{
	bool woken[HUB_LOOPS_MAX] = {false};

	pthread_mutex_lock(&w->lock);
	for (unsigned i = 0; i < w->n_loops; i++) {
		woken[i] = w->out[i].woken;
		w->out[i].woken = false;
	}
	pthread_mutex_unlock(&w->lock);
	for (unsigned i = 0; i < w->n_loops; i++)
		if (woken[i])
			w->out[i].hooks.wake(w->out[i].hooks.arg);
}

void hub_writer_notify(struct hub_writer *w, unsigned from,
		       const char *project, const char *queue)
{
	if (!w || w->n_loops < 2)
		return;
	pthread_mutex_lock(&w->lock);
	note_change(w, from, project, queue);
	pthread_mutex_unlock(&w->lock);
	wake_marked(w);
}

/* Hands jobs[0..n) back to their loops' threads, which call their done,
 * and tells the other loops of the appends. */
static void hand_back(struct hub_writer *w, struct hub_job **jobs, size_t n)
{
	pthread_mutex_lock(&w->lock);
	for (size_t i = 0; i < n; i++) {
		struct outlet *o = &w->out[jobs[i]->loop];

		jobs[i]->next = NULL;
		*o->finished_tail = jobs[i];
		o->finished_tail = &jobs[i]->next;
		o->woken = true;
		if (w->n_loops > 1 && stored_append(jobs[i]))
			note_change(w, jobs[i]->loop, jobs[i]->areq->project,
				    jobs[i]->areq->queue);
	}
	pthread_mutex_unlock(&w->lock);
	wake_marked(w);
}

/* Whether the job writes to a moving shard (move.h): not run then. */
static bool held(struct hub_job *job)
{
	job->moving = false;
	for (unsigned i = 0; i < job->n_shards && !job->moving; i++)
		if (hub_move_frozen(job->shard[i])) {
			job->moving = true;
			job->shard[0] = job->shard[i];
			job->rc = FEED_EIO; /* not run: done() only frees */
		}
	return job->moving;
}

/*
 * Runs a list of jobs in order: every run of jobs up to the next solo one
 * (within the group bounds) as one group commit, a solo job alone,
 * handing each back as soon as it committed. A job held for a moving
 * shard is handed back without running.
 */
static void run_list(struct hub_writer *w, struct hub_job *list)
{
	while (list) {
		struct hub_job **batch = w->batch;
		size_t n = 0, bytes = 0;

		if (held(list)) {
			batch[n++] = list;
			list = list->next;
			hand_back(w, batch, n);
			continue;
		}
		if (list->solo) {
			batch[n++] = list;
			list = list->next;
			batch[0]->rc = batch[0]->solo(w->feed, batch[0]->ctx,
						      batch[0]->now_ms);
			hub_metrics_solo();
			hand_back(w, batch, n);
			continue;
		}
		while (list && !list->solo && n < GROUP_JOBS &&
		       (n == 0 || !held(list))) {
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
				    const struct hub_writer_hooks *hooks,
				    unsigned n_loops)
{
	struct hub_writer *w = calloc(1, sizeof(*w));

	if (!w || !n_loops || n_loops > HUB_LOOPS_MAX)
		goto fail;
	w->out = calloc(n_loops, sizeof(*w->out));
	if (!w->out)
		goto fail;
	w->feed = feed;
	w->n_loops = n_loops;
	for (unsigned i = 0; i < n_loops; i++) {
		w->out[i].hooks = hooks[i];
		w->out[i].finished_tail = &w->out[i].finished;
		w->out[i].notes_tail = &w->out[i].notes;
	}
	w->pending_tail = &w->pending;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->wake, NULL);
	if (pthread_create(&w->thread, NULL, writer_main, w)) {
		pthread_cond_destroy(&w->wake);
		pthread_mutex_destroy(&w->lock);
		goto fail;
	}
	return w;
fail:
	if (w)
		free(w->out);
	free(w);
	return NULL;
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
	for (unsigned i = 0; i < w->n_loops; i++)
		hub_writer_collect(w, i);
	pthread_cond_destroy(&w->wake);
	pthread_mutex_destroy(&w->lock);
	free(w->out);
	free(w);
}

void hub_writer_submit(struct hub_writer *w, struct hub_job *job)
{
	job->next = NULL;
	if (job->loop >= w->n_loops)
		job->loop = 0;
	pthread_mutex_lock(&w->lock);
	*w->pending_tail = job;
	w->pending_tail = &job->next;
	w->busy++;
	w->out[job->loop].busy++;
	pthread_cond_signal(&w->wake);
	pthread_mutex_unlock(&w->lock);
}

void hub_writer_collect(struct hub_writer *w, unsigned loop)
{
	struct outlet *o = &w->out[loop];
	struct hub_job *list;
	struct note *notes;

	pthread_mutex_lock(&w->lock);
	list = o->finished;
	o->finished = NULL;
	o->finished_tail = &o->finished;
	notes = o->notes;
	o->notes = NULL;
	o->notes_tail = &o->notes;
	pthread_mutex_unlock(&w->lock);
	while (list) {
		struct hub_job *job = list;
		struct hub_req *r = job->req;

		list = list->next;
		/* A committed append changed its queue: tell its subscribers
		 * (before answering the publisher: they are independent). */
		if (stored_append(job)) {
			hub_metrics_posted(job->areq->n_msgs -
					   job->areq->n_dups);
			if (o->hooks.committed)
				o->hooks.committed(o->hooks.arg,
						   job->areq->project,
						   job->areq->queue);
		}
		if (r)
			r->transport->job_back(r);
		if (job->moving && r)
			hub_move_refuse(r, job->shard[0]);
		job->done(job->moving ? NULL : r, job->ctx, job->rc);
		if (r)
			r->transport->resume(r);
		pthread_mutex_lock(&w->lock);
		w->busy--;
		o->busy--;
		pthread_mutex_unlock(&w->lock);
		free(job);
	}
	/* The other loops' news after this loop's own jobs: a job of the
	 * same group that found its queue empty and now waits on it must
	 * be waiting when the news comes (an append before it in the group
	 * it would have seen). A late wake is only a look for nothing. */
	while (notes) {
		struct note *nt = notes;

		notes = nt->next;
		if (o->hooks.committed)
			o->hooks.committed(o->hooks.arg, nt->names,
					   nt->names + nt->project_len + 1);
		free(nt);
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
	job->loop = r->loop;
	/* Its shards, for a move's freeze (cluster nodes only). */
	if (r->queue && hub_cluster_on())
		job->shard[job->n_shards++] =
			hub_cluster_shard(r->queue, strlen(r->queue));
	if (r->also_queue && hub_cluster_on())
		job->shard[job->n_shards++] =
			hub_cluster_shard(r->also_queue, strlen(r->also_queue));
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

unsigned hub_writer_busy_loop(struct hub_writer *w, unsigned loop)
{
	unsigned busy;

	pthread_mutex_lock(&w->lock);
	busy = loop < w->n_loops ? w->out[loop].busy : 0;
	pthread_mutex_unlock(&w->lock);
	return busy;
}
