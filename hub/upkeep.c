/*
 * upkeep.c - the server's own writes on a timer (upkeep.h): compaction in
 * bounded steps, and the flush of durability = interval.
 *
 * Compaction: every compact_interval_ms a job on the writer thread runs
 * one bounded feed_compact() step; while it reports more work the next
 * step is queued at once, interleaved with the publishers' commits.
 *
 * Flushing (durability = interval): feed does not sync its commits
 * (FEED_NOSYNC), and every sync_interval_ms a feed_sync() job goes to the
 * writer - behind the commits already queued, so it flushes them too; a
 * next one is queued only when the last came back.
 */
#include <stdlib.h>

#include <libwebsockets.h>

#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "server.h"
#include "upkeep.h"
#include "writer.h"

/* ----------------------------------------------------------- compaction */

struct compact_job {
	struct hub_server *srv;
	uint32_t budget;
	feed_compact_result_t res;
};

static void compact_schedule(struct hub_server *srv, uint32_t delay_ms);

/* A bounded step, committed with whatever else the writer has waiting. */
static int compact_run(feed_txn_t *txn, void *ctx, uint64_t now_ms)
{
	struct compact_job *job = ctx;

	return feed_compact_tx(txn, now_ms, job->budget, &job->res);
}

static void compact_done(struct hub_req *r, void *ctx, int rc)
{
	struct compact_job *job = ctx;
	struct hub_server *srv = job->srv;

	(void)r;
	srv->compacting = false;
	if (rc == 0)
		rc = feed_check_readers(srv->feed, NULL);
	if (rc)
		hub_log(HUB_LOG_ERROR, "compaction: %s", feed_strerror(rc));
	else if (job->res.corrupt)
		/* feed skipped it (and tries again in a minute); the others
		 * are compacted as usual. */
		hub_log(HUB_LOG_ERROR, "compaction: %zu queue(s) hold records "
			"that contradict each other and were skipped, the last "
			"of generation %010llx (message ids starting so); "
			"back up the data directory and report it",
			job->res.corrupt,
			(unsigned long long)job->res.corrupt_qid);
	if (rc == 0)
		hub_metrics_compacted(&job->res);
	if (rc == 0 && (job->res.messages || job->res.claims ||
			job->res.dropped || job->res.keys))
		hub_log(HUB_LOG_DEBUG, "compaction: %zu messages, %zu claims, "
			"%zu idempotency keys, %zu records of deleted queues",
			job->res.messages, job->res.claims, job->res.keys,
			job->res.dropped);
	if (!srv->stopping)
		compact_schedule(srv, rc == 0 && job->res.more
					      ? 0
					      : srv->cfg.compact_interval_ms);
	free(job);
}

static void compact_tick(lws_sorted_usec_list_t *sul)
{
	struct hub_server *srv =
		lws_container_of(sul, struct hub_server, compact_sul);
	struct compact_job *job;
	struct hub_job *j;

	if (srv->compacting || srv->stopping)
		return;
	job = calloc(1, sizeof(*job));
	j = calloc(1, sizeof(*j));
	if (!job || !j) {
		free(job);
		free(j);
		compact_schedule(srv, srv->cfg.compact_interval_ms);
		return;
	}
	job->srv = srv;
	job->budget = srv->cfg.compact_budget;
	j->run = compact_run;
	j->done = compact_done;
	j->ctx = job;
	j->now_ms = hub_now_ms();
	srv->compacting = true;
	hub_writer_submit(srv->writer, j);
}

static void compact_schedule(struct hub_server *srv, uint32_t delay_ms)
{
	lws_sul_schedule(srv->ctx, 0, &srv->compact_sul, compact_tick,
			 (lws_usec_t)delay_ms * LWS_US_PER_MS);
}

/* ------------------------------------------------------------- flushing */

static void sync_schedule(struct hub_server *srv);

static int sync_run(feed_t *feed, void *ctx, uint64_t now_ms)
{
	(void)ctx;
	(void)now_ms;
	return feed_sync(feed);
}

static void sync_done(struct hub_req *r, void *ctx, int rc)
{
	struct hub_server *srv = ctx;

	(void)r;
	srv->syncing = false;
	if (rc) {
		hub_log(HUB_LOG_ERROR, "durability: flushing failed: %s",
			feed_strerror(rc));
	} else {
		srv->syncs++;
		hub_log(HUB_LOG_DEBUG, "durability: flushed (%llu so far)",
			srv->syncs);
	}
	if (!srv->stopping)
		sync_schedule(srv);
}

static void sync_tick(lws_sorted_usec_list_t *sul)
{
	struct hub_server *srv =
		lws_container_of(sul, struct hub_server, sync_sul);
	struct hub_job *j;

	if (srv->syncing || srv->stopping)
		return;
	j = calloc(1, sizeof(*j));
	if (!j) {
		sync_schedule(srv);
		return;
	}
	j->solo = sync_run; /* alone, after the writes queued before it */
	j->done = sync_done;
	j->ctx = srv;
	j->now_ms = hub_now_ms();
	srv->syncing = true;
	hub_writer_submit(srv->writer, j);
}

static void sync_schedule(struct hub_server *srv)
{
	if (srv->cfg.durability != HUB_DURABILITY_INTERVAL)
		return;
	lws_sul_schedule(srv->ctx, 0, &srv->sync_sul, sync_tick,
			 (lws_usec_t)srv->cfg.sync_interval_ms * LWS_US_PER_MS);
}

void hub_upkeep_last_flush(struct hub_server *srv)
{
	int rc;

	if (!srv->feed || srv->cfg.durability == HUB_DURABILITY_SYNC)
		return;
	rc = feed_sync(srv->feed);
	if (rc)
		hub_log(HUB_LOG_ERROR, "durability: the last flush failed: %s",
			feed_strerror(rc));
	else
		hub_log(HUB_LOG_INFO, "durability: flushed at stop (%llu "
			"flushes while running)", srv->syncs);
}

/* ---------------------------------------------------------------- start */

void hub_upkeep_start(struct hub_server *srv)
{
	compact_schedule(srv, srv->cfg.compact_interval_ms);
	sync_schedule(srv);
}

void hub_upkeep_stop(struct hub_server *srv)
{
	lws_sul_cancel(&srv->compact_sul);
	lws_sul_cancel(&srv->sync_sul);
}
