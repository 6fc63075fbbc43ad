/*
 * writer.h - deferred writes: the writer thread runs every write
 * transaction (writer.c); handlers hand it work through hub_defer*().
 */
#ifndef HERALD_HUB_WRITER_H
#define HERALD_HUB_WRITER_H

#include <stdint.h>

#include "feed.h"
#include "req.h"

/* ------------------------------------------------------ deferred writes */

/* Runs on the writer thread, as a job of a group commit: make the writes
 * with the feed_*_tx calls on txn, touch only ctx otherwise. Returns a
 * feed code, handed to done. It may run more than once (feed.h, group
 * commit): start from the inputs in ctx each time. */
typedef int (*hub_run_fn)(feed_txn_t *txn, void *ctx, uint64_t now_ms);
/* Runs on the writer thread alone, outside any group: for work that must
 * see each of its own writes committed before the next, or read before
 * it writes (a metadata patch). */
typedef int (*hub_solo_fn)(feed_t *feed, void *ctx, uint64_t now_ms);
/* Runs on the loop thread after the write committed (or failed: rc).
 * r is NULL when the client went away meanwhile: only free ctx then. */
typedef void (*hub_done_fn)(struct hub_req *r, void *ctx, int rc);

/* Defers a write: run(txn, ctx, now) on the writer thread, committed with
 * whatever else is waiting, then done(r, ctx, rc) on the loop thread. The
 * handler returns after this. */
void hub_defer(struct hub_req *r, hub_run_fn run, hub_done_fn done,
	       void *ctx);
/* Defers a solo job: solo(feed, ctx, now) alone, then done. */
void hub_defer_solo(struct hub_req *r, hub_solo_fn solo, hub_done_fn done,
		    void *ctx);
/*
 * Defers an append: areq (owned by ctx, valid until done) is run with
 * feed_append_tx() in the next group commit; rc is areq->status.
 */
void hub_defer_append(struct hub_req *r, feed_append_req_t *areq,
		      hub_done_fn done, void *ctx);

struct hub_writer;

/*
 * A deferred write. The loop thread fills it and submits it; the writer
 * thread runs it - every job waiting, solo ones apart, as ONE group commit
 * (feed_write_group), so they share one commit - and hands it back; the
 * loop thread then calls done. `req` belongs to the loop thread only: it
 * is cleared when the client goes away while the job is out. Exactly one
 * of run, solo and areq is set.
 */
struct hub_job {
	struct hub_job *next;
	struct hub_req *req;
	hub_run_fn run;
	hub_solo_fn solo;
	feed_append_req_t *areq;
	hub_done_fn done;
	void *ctx;
	uint64_t now_ms;
	int rc;
	/* The service loop the job came from, which its done() runs on
	 * (server.c: --loops); 0 with one loop. */
	unsigned loop;
	/* A write to queues of shard[0..n_shards): while one of them is
	 * moving (move.h) the writer does not run it (`moving`, that shard
	 * in `shard[0]`), and its request gets the move's 503 instead of
	 * done's answer. */
	bool moving;
	unsigned n_shards, shard[2];
};

/* What the writer calls outside itself (it knows neither lws nor the
 * server). */
struct hub_writer_hooks {
	/* Writer thread: finished jobs wait; make the loop thread call
	 * hub_writer_collect() soon (e.g. lws_cancel_service()). */
	void (*wake)(void *arg);
	/* Loop thread, from hub_writer_collect(): an append to (project,
	 * queue) committed - on every loop, the one that sent it before
	 * its done() runs (e.g. wake the queue's subscribers). May be
	 * NULL. */
	void (*committed)(void *arg, const char *project, const char *queue);
	void *arg;
};

/* Starts the writer thread on `feed` (borrowed: it must outlive the
 * writer) for n_loops service loops (at least 1): hooks[i] are loop i's,
 * copied. NULL when the thread cannot start. */
struct hub_writer *hub_writer_start(feed_t *feed,
				    const struct hub_writer_hooks *hooks,
				    unsigned n_loops);
/* Finishes every submitted job, then stops the thread, calls every
 * loop's done()s on this thread (so every loop thread must have ended)
 * and frees w. NULL ok. */
void hub_writer_stop(struct hub_writer *w);
/* Any thread that owns the job; the writer owns it until collected.
 * job->loop names the loop it goes back to. */
void hub_writer_submit(struct hub_writer *w, struct hub_job *job);
/* Loop `loop`'s thread: tells it the appends of other loops that
 * committed (hooks.committed), then calls `done` for every finished job
 * of its own (from the lws EVENT_WAIT_CANCELLED callback) and frees it. */
void hub_writer_collect(struct hub_writer *w, unsigned loop);
/* Any loop's thread: (project, queue) changed outside an append (a claim
 * released, messages moved): tells every loop but `from` through its
 * committed hook, as for an append. No-op with one loop. */
void hub_writer_notify(struct hub_writer *w, unsigned from,
		       const char *project, const char *queue);
/* Jobs submitted and not yet collected: all of them, and loop's. */
unsigned hub_writer_busy(struct hub_writer *w);
unsigned hub_writer_busy_loop(struct hub_writer *w, unsigned loop);
/* What group commit achieved so far: jobs run in groups, of which
 * appends, and the commits they shared. */
struct hub_writer_counts {
	unsigned long long jobs, appends, commits;
};
void hub_writer_counts(struct hub_writer *w, struct hub_writer_counts *out);

#endif /* HERALD_HUB_WRITER_H */
