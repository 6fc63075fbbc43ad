/*
 * feed_bench.c - how fast feed appends, reads, claims and compacts, and how
 * much of that it keeps when a queue holds a large backlog.
 *
 * A program, not a test: it prints its figures and exits 0 unless a feed
 * call failed. docs/benchmarks.md holds a run and how to read it.
 *
 * Method
 * ------
 * Two environments are made under the bench directory, each with a queue
 * "backlog" of B messages (100-byte bodies, ttl 14 days): B = 1,000 and
 * B = --big (default 1,000,000). They are filled in FEED_NOSYNC mode in
 * groups of 10 requests x 1,000 messages, flushed with feed_sync(), closed
 * and reopened in FEED_SYNC mode: every figure is measured in sync mode.
 *
 * Figures, in this order:
 *   read by marker   a "subscriber" starts at the id of a random message of
 *                    the backlog and reads 5 pages of 20 (Zaqar's page
 *                    size) by marker; subscribers follow one another.
 *   compaction       C messages with ttl 60 s are appended to queue "ttl"
 *                    (untimed), the data clock moves 61 s on, and
 *                    feed_compact() with a budget of 1,000 records per
 *                    transaction is timed until no work is left.
 *   claim+delete     claim 10..20 messages (ttl 60 s, grace 60 s) from the
 *                    head of the backlog, then delete them with one
 *                    feed_delete_many() ("delete_many"), or with one
 *                    feed_delete() per message and the claim id ("delete
 *                    each"). Consumed messages are put back at the tail,
 *                    untimed, so the backlog stays near B.
 *   append           groups of 1, 10, 100 and 1,000 messages into the
 *                    backlog queue. A group is ONE feed_append_group()
 *                    call - one transaction, one commit - holding requests
 *                    of at most 10 messages each, as the hub collects them
 *                    from publishers: 1 = 1 request x 1 message, 10 = 1 x
 *                    10, 100 = 10 x 10, 1000 = 100 x 10. These figures
 *                    grow the queue: B is where they start.
 *
 * Costs per call (issue #9: what a call costs must not grow with what the
 * queue holds). Each is timed per call and counted in records touched
 * (feed_debug_touched() around the call), the count that shows the cost
 * whatever the noise of the machine:
 *   mixed ttls       queue "mixed": one message with ttl 14 days, then B
 *                    messages with ttl 1 h (the default) in generations of
 *                    D = 500 created `step` apart (step = 1 h x D / B),
 *                    then the first message deleted: every live message
 *                    expires before a message ahead of it did ("out of
 *                    order"). Each step moves the data clock by `step`, so
 *                    that the oldest generation (D messages) is due, and
 *                    appends a new one (untimed), so B stay live; then it
 *                    times feed_queue_stats() (its total must be B) and
 *                    feed_compact() with a budget of 1,000: one call does
 *                    the D due messages, unless it says `more`; the calls
 *                    after it are timed as well, and every call counts.
 *                    Steps are capped (--quick 20, else 200): the clock of
 *                    the small side moves 30 min per step.
 *   delayed          queue "delayed": P messages delayed 900 s, then 1,000
 *                    ready ones; P = 0 in the small environment and
 *                    --delayed (default 100,000) in the big one. Times
 *                    feed_claim_create() of 10 (ttl 60 s, grace 60 s) ALONE:
 *                    the feed_delete_many() of what it claimed and the
 *                    refill at the tail are untimed. One untimed claim
 *                    first, so that the first claim's walk past the delayed
 *                    messages is not in the figure. The clock stands still.
 *                    Here the two sides differ by the delayed messages
 *                    (and by the backlogs the environments hold, as for
 *                    every figure).
 *
 * The storage is shared and noisy, so every timed figure alternates
 * between the two environments in REPS slices (small, big, small, big,
 * ...) and sums them: a slow spell of the disk hits both sides of a ratio
 * alike. Each slice runs for its share of --slice or until a message cap.
 * Compaction does a fixed amount of work once per environment.
 *
 * Two references frame the figures: the storage's sync floor (what an LMDB
 * commit waits for at least: a 4 KiB write + fdatasync() of the data file,
 * then a 4 KiB O_DSYNC write of the meta page) and appends in groups of
 * 1,000 in FEED_NOSYNC mode (feed's own cost, no sync).
 *
 * Only feed calls are timed, with CLOCK_MONOTONIC; "cpu" is the process's
 * CPU time over the same spans (CLOCK_PROCESS_CPUTIME_ID) as a share of
 * the wall time: near 100% a figure is bound by feed's code, near 0% by
 * waiting for the disk. feed itself runs on a synthetic clock, now_ms,
 * which starts at a fixed date and moves only when the bench moves it.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "feed.h"
#include "span.h"

#define PROJECT "bench"
#define BACKLOG "backlog"
#define TTL_QUEUE "ttl"
#define BODY_LEN 100
#define BACKLOG_TTL_S (14u * 86400u)
#define SHORT_TTL_S 60u
#define START_MS UINT64_C(1700000000000)
#define FILL_REQ_MSGS 1000
#define FILL_GROUP 10000
#define REQ_MSGS 10 /* messages per request in the append figures */
#define MAX_REQS (FILL_GROUP / REQ_MSGS)
#define READ_PAGE 20
#define READ_PAGES 5
#define CLAIM_MAX 20
#define COMPACT_BUDGET 1000
#define SMALL_BACKLOG 1000
#define REFILL_AT 100
#define MAP_SIZE (UINT64_C(4) << 30)
#define N_BACKLOGS 2
#define MIXED_QUEUE "mixed"
#define DELAYED_QUEUE "delayed"
#define LONG_TTL_S (14u * 86400u)
#define DEFAULT_TTL_S 3600u
#define MIXED_DUE 500 /* messages due at each step of the mixed figure */
#define DELAY_S 900u
#define READY 1000 /* ready messages of the delayed figure's queue */
#define CLAIM_N 10

typedef char msg_id[FEED_ID_LEN + 1];

struct config {
	bool quick, keep;
	const char *dir;
	uint64_t big;
	double slice_s;      /* time per figure and backlog */
	int reps;            /* slices it is cut into, alternating backlogs */
	uint64_t append_cap; /* most messages in one append slice */
	uint64_t compact_n;  /* expired messages for the compaction figure */
	uint64_t delayed;    /* delayed messages ahead, big side */
	uint64_t mixed_steps; /* most steps of the mixed figure */
	uint64_t seed;
};

/* Wall and CPU time spent in timed spans. */
/* One environment with its backlog. */
struct bench {
	const struct config *cfg;
	const char *name; /* "small" or "big" */
	feed_t *feed;
	char path[PATH_MAX];
	uint64_t now_ms;
	uint64_t backlog; /* messages the backlog queue is filled with */
	msg_id *ids;      /* their ids, for markers */
	size_t n_ids;
	uint64_t rng;
	uint8_t client[16];
	feed_msg_in_t msgs[FILL_REQ_MSGS];
	feed_append_req_t reqs[MAX_REQS];
	msg_id *out_ids; /* FILL_GROUP results */
	/* the mixed ttls figure */
	uint64_t mixed_live, mixed_due, mixed_step_ms, mixed_steps;
};

enum fig_id {
	FIG_READ,
	FIG_COMPACT,
	FIG_CLAIM_MANY,
	FIG_CLAIM_EACH,
	FIG_APPEND_1,
	FIG_APPEND_10,
	FIG_APPEND_100,
	FIG_APPEND_1000,
	N_FIGS
};

/* A figure: what it counts, per backlog. */
struct figure {
	const char *name;
	const char *unit; /* what `ops` counts */
	uint64_t msgs[N_BACKLOGS], ops[N_BACKLOGS];
	struct span span[N_BACKLOGS];
};

static struct figure figs[N_FIGS] = {
	[FIG_READ] = {"read by marker, pages of 20", "reads"},
	[FIG_COMPACT] = {"compaction, budget 1000", "calls"},
	[FIG_CLAIM_MANY] = {"claim 10..20 + delete_many", "claims"},
	[FIG_CLAIM_EACH] = {"claim 10..20 + delete each", "claims"},
	[FIG_APPEND_1] = {"append, groups of 1 (1 req x 1)", "commits"},
	[FIG_APPEND_10] = {"append, groups of 10 (1 req x 10)", "commits"},
	[FIG_APPEND_100] = {"append, groups of 100 (10 req x 10)", "commits"},
	[FIG_APPEND_1000] = {"append, groups of 1000 (100 req x 10)",
			     "commits"},
};

/* A cost per call: calls timed, records touched, items they handled. */
struct cost {
	const char *name;
	const char *short_name; /* for the goals */
	const char *size_name; /* what size[] counts */
	const char *item_name; /* what items[] counts */
	uint64_t size[N_BACKLOGS];
	uint64_t calls[N_BACKLOGS], touched[N_BACKLOGS], items[N_BACKLOGS];
	struct span span[N_BACKLOGS];
};

enum cost_id { COST_COMPACT, COST_STATS, COST_CLAIM, N_COSTS };

static struct cost costs[N_COSTS] = {
	[COST_COMPACT] = {"compact step, mixed ttls, 500 due",
			  "compact step, mixed ttls", "live", "removed"},
	[COST_STATS] = {"queue stats, mixed ttls", "queue stats, mixed ttls",
			"live", "total"},
	[COST_CLAIM] = {"claim 10, delayed ahead (claim alone)",
			"claim 10, delayed ahead", "delayed", "claimed"},
};

static struct {
	double sync_per_s;  /* the storage's commit floor */
	double nosync_rate; /* appends in groups of 1000, FEED_NOSYNC */
	double nosync_cpu;
} ref;

static const char body[BODY_LEN] =
	"0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuv"
	"wxyz0123456789abcdefghijklmnopq";

static double rate_of(uint64_t n, double secs)
{
	return secs > 0 ? (double)n / secs : 0;
}

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "feed_bench: %s: %s\n", what, feed_strerror(rc));
	exit(1);
}

static void must(bool cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "feed_bench: %s: %s\n", what, strerror(errno));
		exit(1);
	}
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	must(p != NULL, "calloc");
	return p;
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void rm_tree(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* ------------------------------------------------------- environments */

static void bench_open(struct bench *b, enum feed_durability durability)
{
	feed_options_t opts = {.map_size = MAP_SIZE, .durability = durability};
	int rc = feed_open(&b->feed, b->path, &opts);

	if (rc)
		die("feed_open", rc);
}

static void bench_init(struct bench *b, const struct config *cfg,
		       const char *name, uint64_t backlog, uint64_t rng)
{
	*b = (struct bench){
		.cfg = cfg,
		.name = name,
		.now_ms = START_MS,
		.backlog = backlog,
		.rng = rng,
	};
	b->client[0] = 0xbe;
	b->out_ids = xcalloc(FILL_GROUP, sizeof(msg_id));
	snprintf(b->path, sizeof(b->path), "%s/%s", cfg->dir, name);
	must(mkdir(b->path, 0700) == 0, b->path);
}

static void bench_fini(struct bench *b)
{
	feed_env_info_t info;
	int rc = feed_env_info(b->feed, &info);

	if (rc)
		die("feed_env_info", rc);
	printf("  %s: %.1f MiB used, map %.1f MiB\n", b->path,
	       (double)info.used_bytes / 1048576.0,
	       (double)info.map_size / 1048576.0);
	feed_close(b->feed);
	if (!b->cfg->keep)
		rm_tree(b->path);
	free(b->ids);
	free(b->out_ids);
}

/*
 * Appends `n` messages (n <= FILL_GROUP) to `queue` in ONE
 * feed_append_group() call, as requests of `req_msgs` messages (the last
 * one may be shorter). Their ids land in b->out_ids, in order.
 */
static void append_group(struct bench *b, const char *queue, size_t n,
			 size_t req_msgs, uint32_t ttl_s, uint32_t delay_s)
{
	size_t n_reqs = (n + req_msgs - 1) / req_msgs;
	int rc;

	for (size_t i = 0; i < req_msgs; i++)
		b->msgs[i] = (feed_msg_in_t){.body = body,
					     .body_len = BODY_LEN,
					     .ttl_s = ttl_s,
					     .delay_s = delay_s};
	for (size_t r = 0; r < n_reqs; r++) {
		size_t left = n - r * req_msgs;

		b->reqs[r] = (feed_append_req_t){
			.project = PROJECT,
			.queue = queue,
			.msgs = b->msgs,
			.n_msgs = left < req_msgs ? left : req_msgs,
			.ids = b->out_ids + r * req_msgs,
		};
		memcpy(b->reqs[r].client_id, b->client, 16);
	}
	rc = feed_append_group(b->feed, b->reqs, n_reqs, b->now_ms);
	if (rc)
		die("feed_append_group", rc);
	for (size_t r = 0; r < n_reqs; r++)
		if (b->reqs[r].status)
			die("feed_append_group request", b->reqs[r].status);
}

/* Appends n messages to `queue` in large groups (setup, untimed). */
static void append_bulk(struct bench *b, const char *queue, uint64_t n,
			uint32_t ttl_s, uint32_t delay_s, bool keep_ids)
{
	while (n > 0) {
		size_t group = n < FILL_GROUP ? (size_t)n : FILL_GROUP;

		append_group(b, queue, group, FILL_REQ_MSGS, ttl_s, delay_s);
		if (keep_ids) {
			memcpy(b->ids + b->n_ids, b->out_ids,
			       group * sizeof(msg_id));
			b->n_ids += group;
		}
		n -= group;
	}
}

static void fill_backlog(struct bench *b)
{
	double t0 = clock_s(CLOCK_MONOTONIC);
	int rc;

	bench_open(b, FEED_NOSYNC);
	b->ids = xcalloc((size_t)b->backlog, sizeof(msg_id));
	append_bulk(b, BACKLOG, b->backlog, BACKLOG_TTL_S, 0, true);
	rc = feed_sync(b->feed);
	if (rc)
		die("feed_sync", rc);
	feed_close(b->feed);
	bench_open(b, FEED_SYNC);
	printf("  backlog %-9" PRIu64 " filled in %.2f s (nosync, groups of "
	       "%d), reopened in sync mode\n", b->backlog,
	       clock_s(CLOCK_MONOTONIC) - t0, FILL_GROUP);
}

/* ----------------------------------------------------------- figures */

/* One slice of reads by marker. */
static void slice_read(struct bench *b, struct figure *f, int k,
		       double secs)
{
	feed_read_opts_t opts = {.limit = READ_PAGE};
	struct span *s = &f->span[k];
	double end = s->wall + secs;

	do {
		char marker[FEED_ID_LEN + 1];
		size_t at = (size_t)(rng_next(&b->rng) % b->n_ids);

		memcpy(marker, b->ids[at], sizeof(marker));
		span_start(s);
		for (int p = 0; p < READ_PAGES; p++) {
			feed_msgs_t out = {0};
			int rc = feed_read(b->feed, PROJECT, BACKLOG, marker,
					   &opts, b->now_ms, &out);

			if (rc)
				die("feed_read", rc);
			f->msgs[k] += out.n;
			f->ops[k]++;
			memcpy(marker, out.next_marker, sizeof(marker));
			feed_msgs_free(&out);
		}
		span_stop(s);
	} while (s->wall < end);
}

/* Compaction of compact_n expired messages, once. */
static void run_compact(struct bench *b, struct figure *f, int k)
{
	feed_compact_result_t res;
	struct span *s = &f->span[k];

	append_bulk(b, TTL_QUEUE, b->cfg->compact_n, SHORT_TTL_S, 0, false);
	b->now_ms += (SHORT_TTL_S + 1) * 1000;
	do {
		int rc;

		span_start(s);
		rc = feed_compact(b->feed, b->now_ms, COMPACT_BUDGET, &res);
		span_stop(s);
		if (rc)
			die("feed_compact", rc);
		f->msgs[k] += res.messages;
		f->ops[k]++;
	} while (res.more);
	if (f->msgs[k] != b->cfg->compact_n) {
		fprintf(stderr, "feed_bench: compaction removed %" PRIu64
			" messages, %" PRIu64 " expected\n", f->msgs[k],
			b->cfg->compact_n);
		exit(1);
	}
}

/* Deletes what the claim holds, in one call or one by one. */
static void delete_claimed(struct bench *b, const char *queue,
			   feed_claim_t *claim, bool each)
{
	const char *ids[CLAIM_MAX];
	size_t deleted = 0;
	int rc;

	for (size_t i = 0; i < claim->msgs.n; i++)
		ids[i] = claim->msgs.v[i].id;
	if (!each) {
		rc = feed_delete_many(b->feed, PROJECT, queue, ids,
				      claim->msgs.n, b->now_ms, &deleted);
		if (rc)
			die("feed_delete_many", rc);
	}
	for (size_t i = 0; each && i < claim->msgs.n; i++) {
		bool gone = false;

		rc = feed_delete(b->feed, PROJECT, queue, ids[i], claim->id,
				 b->now_ms, &gone);
		if (rc)
			die("feed_delete", rc);
		deleted += gone;
	}
	if (deleted != claim->msgs.n) {
		fprintf(stderr, "feed_bench: deleted %zu of %zu claimed\n",
			deleted, claim->msgs.n);
		exit(1);
	}
}

/* One slice of claim + delete; refills the backlog untimed. */
static void slice_claim(struct bench *b, struct figure *f, int k,
			double secs, bool each)
{
	struct span *s = &f->span[k];
	double end = s->wall + secs;
	uint64_t consumed = 0;

	do {
		feed_claim_t claim = {0};
		size_t limit = 10 + (size_t)(rng_next(&b->rng) % 11);
		int rc;

		span_start(s);
		rc = feed_claim_create(b->feed, PROJECT, BACKLOG, 60, 60, limit,
				       b->now_ms, &claim);
		if (rc)
			die("feed_claim_create", rc);
		if (claim.msgs.n == 0 || claim.msgs.n > limit) {
			fprintf(stderr, "feed_bench: claimed %zu of %zu\n",
				claim.msgs.n, limit);
			exit(1);
		}
		delete_claimed(b, BACKLOG, &claim, each);
		span_stop(s);
		f->msgs[k] += claim.msgs.n;
		f->ops[k]++;
		consumed += claim.msgs.n;
		feed_claim_free(&claim);
		if (consumed >= REFILL_AT) {
			append_bulk(b, BACKLOG, consumed, BACKLOG_TTL_S, 0, false);
			consumed = 0;
		}
	} while (s->wall < end);
	if (consumed)
		append_bulk(b, BACKLOG, consumed, BACKLOG_TTL_S, 0, false);
}

/* One slice of appends in groups of `group`. */
static void slice_append(struct bench *b, struct figure *f, int k,
			 double secs, size_t group)
{
	struct span *s = &f->span[k];
	double end = s->wall + secs;
	uint64_t cap = f->msgs[k] + b->cfg->append_cap / (uint64_t)b->cfg->reps;

	do {
		span_start(s);
		append_group(b, BACKLOG, group,
			     group < REQ_MSGS ? group : REQ_MSGS,
			     BACKLOG_TTL_S, 0);
		span_stop(s);
		f->msgs[k] += group;
		f->ops[k]++;
	} while (s->wall < end && f->msgs[k] < cap);
}

/* Runs figure `id` in alternating slices over both environments. */
static void run_figure(struct bench *b, enum fig_id id)
{
	static const size_t groups[] = {1, 10, 100, 1000};
	const struct config *cfg = b[0].cfg;
	double secs = cfg->slice_s / cfg->reps;
	struct figure *f = &figs[id];

	for (int rep = 0; rep < cfg->reps; rep++) {
		for (int k = 0; k < N_BACKLOGS; k++) {
			switch (id) {
			case FIG_READ:
				slice_read(&b[k], f, k, secs);
				break;
			case FIG_COMPACT:
				if (rep == 0)
					run_compact(&b[k], f, k);
				break;
			case FIG_CLAIM_MANY:
			case FIG_CLAIM_EACH:
				slice_claim(&b[k], f, k, secs,
					    id == FIG_CLAIM_EACH);
				break;
			default:
				slice_append(&b[k], f, k, secs,
					     groups[id - FIG_APPEND_1]);
				break;
			}
		}
	}
	for (int k = 0; k < N_BACKLOGS; k++) {
		struct span *s = &f->span[k];

		printf("  %-38s %8" PRIu64 " %9" PRIu64 " msgs %7.3f s "
		       "%10.0f msgs/s %8.0f %s/s  cpu %3.0f%%\n",
		       k ? "" : f->name, b[k].backlog, f->msgs[k], s->wall,
		       rate_of(f->msgs[k], s->wall),
		       rate_of(f->ops[k], s->wall), f->unit,
		       s->wall > 0 ? 100 * s->cpu / s->wall : 0);
	}
	fflush(stdout);
}

/* ------------------------------------------------------ costs per call */

/* Closes and reopens the environment in `durability`, flushed. */
static void bench_reopen(struct bench *b, enum feed_durability durability)
{
	int rc = feed_sync(b->feed);

	if (rc)
		die("feed_sync", rc);
	feed_close(b->feed);
	bench_open(b, durability);
}

/* Compacts until no work is left (untimed). */
static void compact_drain(struct bench *b)
{
	feed_compact_result_t res;

	do {
		int rc = feed_compact(b->feed, b->now_ms, COMPACT_BUDGET, &res);

		if (rc)
			die("feed_compact", rc);
	} while (res.more);
}

/* Starts a timed call: *touched0 = the records touched so far. */
static void cost_start(struct cost *c, int k, uint64_t *touched0)
{
	*touched0 = feed_debug_touched();
	span_start(&c->span[k]);
}

static void cost_stop(struct cost *c, int k, uint64_t touched0)
{
	span_stop(&c->span[k]);
	c->touched[k] += feed_debug_touched() - touched0;
	c->calls[k]++;
}

/*
 * Queue "mixed" with `live` live messages, all out of order (see the
 * design comment), in FEED_NOSYNC mode; reopened in sync mode.
 */
static void mixed_fill(struct bench *b, uint64_t live)
{
	char first[FEED_ID_LEN + 1];
	uint64_t due = live < MIXED_DUE ? live : MIXED_DUE;
	uint64_t gens = live / due;
	uint64_t ttl_ms = (uint64_t)DEFAULT_TTL_S * 1000;
	double t0 = clock_s(CLOCK_MONOTONIC);
	bool deleted = false;
	int rc;

	/* Whatever the figures before left to expire (their claims) goes
	 * first, so that the timed steps compact the mixed queue only. */
	b->now_ms += ttl_ms;
	compact_drain(b);
	bench_reopen(b, FEED_NOSYNC);
	b->mixed_due = due;
	b->mixed_live = gens * due;
	b->mixed_step_ms = (ttl_ms + gens - 1) / gens;
	append_group(b, MIXED_QUEUE, 1, 1, LONG_TTL_S, 0);
	memcpy(first, b->out_ids[0], sizeof(first));
	for (uint64_t g = 0; g < gens; g++) {
		if (g)
			b->now_ms += b->mixed_step_ms;
		append_group(b, MIXED_QUEUE, (size_t)due, (size_t)due,
			     DEFAULT_TTL_S, 0);
	}
	rc = feed_delete(b->feed, PROJECT, MIXED_QUEUE, first, NULL,
			 b->now_ms, &deleted);
	if (rc)
		die("feed_delete", rc);
	if (!deleted) {
		fprintf(stderr, "feed_bench: the 14-day message was not "
			"deleted\n");
		exit(1);
	}
	bench_reopen(b, FEED_SYNC);
	printf("  mixed ttls, %-5s %8" PRIu64 " live, filled in %.2f s "
	       "(nosync), a generation of %" PRIu64 " every %" PRIu64 " ms\n",
	       b->name, b->mixed_live, clock_s(CLOCK_MONOTONIC) - t0, due,
	       b->mixed_step_ms);
}

/*
 * One step of the mixed figure: the oldest generation becomes due and a
 * new one arrives (untimed); then stats and one compaction step, timed.
 */
static void mixed_step(struct bench *b, int k)
{
	struct cost *cs = &costs[COST_STATS], *cc = &costs[COST_COMPACT];
	feed_queue_stats_t st;
	feed_compact_result_t res;
	uint64_t touched0;
	int rc;

	b->now_ms += b->mixed_step_ms;
	append_group(b, MIXED_QUEUE, (size_t)b->mixed_due,
		     (size_t)b->mixed_due, DEFAULT_TTL_S, 0);

	cost_start(cs, k, &touched0);
	rc = feed_queue_stats(b->feed, PROJECT, MIXED_QUEUE, b->now_ms, &st);
	cost_stop(cs, k, touched0);
	if (rc)
		die("feed_queue_stats", rc);
	if (st.total != b->mixed_live) {
		fprintf(stderr, "feed_bench: stats of %s say %" PRIu64
			" live, %" PRIu64 " expected\n", MIXED_QUEUE, st.total,
			b->mixed_live);
		exit(1);
	}
	cs->items[k] += st.total;

	/* Every call is timed, the ones after a first that said `more` too:
	 * work left to an untimed call would leave the figure. */
	do {
		cost_start(cc, k, &touched0);
		rc = feed_compact(b->feed, b->now_ms, COMPACT_BUDGET, &res);
		cost_stop(cc, k, touched0);
		if (rc)
			die("feed_compact", rc);
		cc->items[k] += res.messages;
	} while (res.more);
	b->mixed_steps++;
}

static void slice_mixed(struct bench *b, int k, double secs)
{
	struct span *s0 = &costs[COST_STATS].span[k];
	struct span *s1 = &costs[COST_COMPACT].span[k];
	double end = s0->wall + s1->wall + secs;
	uint64_t cap = b->mixed_steps + b->cfg->mixed_steps / b->cfg->reps;

	do
		mixed_step(b, k);
	while (s0->wall + s1->wall < end && b->mixed_steps < cap);
}

/* Queue "delayed": `delayed` messages not due for DELAY_S, then READY
 * ready ones, in FEED_NOSYNC mode; reopened in sync mode. */
static void delayed_fill(struct bench *b, uint64_t delayed)
{
	double t0 = clock_s(CLOCK_MONOTONIC);

	bench_reopen(b, FEED_NOSYNC);
	append_bulk(b, DELAYED_QUEUE, delayed, DEFAULT_TTL_S, DELAY_S, false);
	append_bulk(b, DELAYED_QUEUE, READY, DEFAULT_TTL_S, 0, false);
	bench_reopen(b, FEED_SYNC);
	printf("  delayed, %-5s %8" PRIu64 " delayed + %d ready, filled in "
	       "%.2f s (nosync)\n", b->name, delayed, READY,
	       clock_s(CLOCK_MONOTONIC) - t0);
}

/* One claim of CLAIM_N from the delayed queue, timed or not, then its
 * delete_many (untimed). Returns how many it claimed. */
static size_t delayed_claim(struct bench *b, int k, bool timed)
{
	struct cost *c = &costs[COST_CLAIM];
	feed_claim_t claim = {0};
	uint64_t touched0 = 0;
	size_t n;
	int rc;

	if (timed)
		cost_start(c, k, &touched0);
	rc = feed_claim_create(b->feed, PROJECT, DELAYED_QUEUE, 60, 60,
			       CLAIM_N, b->now_ms, &claim);
	if (timed)
		cost_stop(c, k, touched0);
	if (rc)
		die("feed_claim_create", rc);
	if (claim.msgs.n != CLAIM_N) {
		fprintf(stderr, "feed_bench: claimed %zu of %d from %s\n",
			claim.msgs.n, CLAIM_N, DELAYED_QUEUE);
		exit(1);
	}
	delete_claimed(b, DELAYED_QUEUE, &claim, false);
	n = claim.msgs.n;
	feed_claim_free(&claim);
	return n;
}

static void slice_delayed(struct bench *b, int k, double secs)
{
	struct cost *c = &costs[COST_CLAIM];
	double end = c->span[k].wall + secs;
	uint64_t consumed = 0;

	do {
		size_t n = delayed_claim(b, k, true);

		c->items[k] += n;
		consumed += n;
		if (consumed >= REFILL_AT) {
			append_bulk(b, DELAYED_QUEUE, consumed, DEFAULT_TTL_S,
				    0, false);
			consumed = 0;
		}
	} while (c->span[k].wall < end);
	if (consumed)
		append_bulk(b, DELAYED_QUEUE, consumed, DEFAULT_TTL_S, 0,
			    false);
}

static void print_cost(enum cost_id id)
{
	const struct cost *c = &costs[id];

	for (int k = 0; k < N_BACKLOGS; k++) {
		const struct span *s = &c->span[k];
		double calls = c->calls[k] ? (double)c->calls[k] : 1;

		printf("  %-38s %8" PRIu64 " %7s %7" PRIu64 " calls %7.3f s "
		       "%10.1f us/call %10.1f touched/call %8.1f %s/call  "
		       "cpu %3.0f%%\n",
		       k ? "" : c->name, c->size[k], c->size_name, c->calls[k],
		       s->wall, 1e6 * s->wall / calls,
		       (double)c->touched[k] / calls,
		       (double)c->items[k] / calls, c->item_name,
		       s->wall > 0 ? 100 * s->cpu / s->wall : 0);
	}
	fflush(stdout);
}

/* The costs per call, in alternating slices like every figure. */
static void run_costs(struct bench *b)
{
	const struct config *cfg = b[0].cfg;
	double secs = cfg->slice_s / cfg->reps;

	printf("\n  %-38s %16s %13s %9s %15s %20s\n", "costs per call",
	       "size", "calls", "seconds", "time", "records touched");
	for (int k = 0; k < N_BACKLOGS; k++)
		mixed_fill(&b[k], b[k].backlog);
	for (int k = 0; k < N_BACKLOGS; k++) {
		costs[COST_STATS].size[k] = b[k].mixed_live;
		costs[COST_COMPACT].size[k] = b[k].mixed_live;
	}
	for (int rep = 0; rep < cfg->reps; rep++)
		for (int k = 0; k < N_BACKLOGS; k++)
			slice_mixed(&b[k], k, secs);
	print_cost(COST_COMPACT);
	print_cost(COST_STATS);

	for (int k = 0; k < N_BACKLOGS; k++) {
		costs[COST_CLAIM].size[k] = k ? cfg->delayed : 0;
		delayed_fill(&b[k], costs[COST_CLAIM].size[k]);
		delayed_claim(&b[k], k, false);
		append_bulk(&b[k], DELAYED_QUEUE, CLAIM_N, DEFAULT_TTL_S, 0,
			    false);
	}
	for (int rep = 0; rep < cfg->reps; rep++)
		for (int k = 0; k < N_BACKLOGS; k++)
			slice_delayed(&b[k], k, secs);
	print_cost(COST_CLAIM);
}

/* -------------------------------------------------------- references */

/*
 * What an LMDB commit in sync mode waits for at least: its pages are
 * written and fdatasync()ed, then the meta page is written through an
 * O_DSYNC descriptor. Done here with one 4 KiB page of each.
 */
static void probe_storage(const struct config *cfg)
{
	char data_path[PATH_MAX + 16], meta_path[PATH_MAX + 16];
	char page[4096];
	uint64_t n = 0;
	double start = clock_s(CLOCK_MONOTONIC), secs;
	int data, meta;

	memset(page, 0x5a, sizeof(page));
	snprintf(data_path, sizeof(data_path), "%s/probe.data", cfg->dir);
	snprintf(meta_path, sizeof(meta_path), "%s/probe.meta", cfg->dir);
	data = open(data_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	must(data >= 0, data_path);
	meta = open(meta_path, O_RDWR | O_CREAT | O_TRUNC | O_DSYNC, 0600);
	must(meta >= 0, meta_path);
	do {
		off_t at = (off_t)(n % 256) * 4096;

		must(pwrite(data, page, sizeof(page), at) == sizeof(page),
		     "pwrite");
		must(fdatasync(data) == 0, "fdatasync");
		must(pwrite(meta, page, sizeof(page), 0) == sizeof(page),
		     "pwrite");
		n++;
		secs = clock_s(CLOCK_MONOTONIC) - start;
	} while (secs < cfg->slice_s / 2);
	close(data);
	close(meta);
	unlink(data_path);
	unlink(meta_path);
	ref.sync_per_s = rate_of(n, secs);
	printf("  %-38s %8s %9" PRIu64 " x    %7.3f s %10.0f /s "
	       "(%.3f ms each)\n", "storage: 4K write+fdatasync+4K dsync",
	       "", n, secs, ref.sync_per_s, 1000.0 / ref.sync_per_s);
}

/* Appends in groups of 1000 without syncing: feed's own cost. */
static void probe_nosync(const struct config *cfg)
{
	struct bench b;
	struct span s = {0};
	uint64_t msgs = 0;

	bench_init(&b, cfg, "nosync", 0, cfg->seed);
	bench_open(&b, FEED_NOSYNC);
	do {
		span_start(&s);
		append_group(&b, BACKLOG, 1000, REQ_MSGS, BACKLOG_TTL_S, 0);
		span_stop(&s);
		msgs += 1000;
	} while (s.wall < cfg->slice_s && msgs < cfg->append_cap);
	feed_close(b.feed);
	if (!cfg->keep)
		rm_tree(b.path);
	free(b.out_ids);
	ref.nosync_rate = rate_of(msgs, s.wall);
	ref.nosync_cpu = s.wall > 0 ? 100 * s.cpu / s.wall : 0;
	printf("  %-38s %8s %9" PRIu64 " msgs %7.3f s %10.0f msgs/s "
	       "%17s cpu %3.0f%%\n", "append, groups of 1000, NOSYNC", "",
	       msgs, s.wall, ref.nosync_rate, "", ref.nosync_cpu);
}

/* ----------------------------------------------------------- summary */

static double fig_rate(enum fig_id f, int k)
{
	return rate_of(figs[f].msgs[k], figs[f].span[k].wall);
}

static double fig_ratio(enum fig_id f)
{
	double big = fig_rate(f, 1);

	return big > 0 ? fig_rate(f, 0) / big : 0;
}

/* Seconds (or records touched) per call of cost `i` on side `k`. */
static double cost_per_call(enum cost_id i, int k, bool touched)
{
	const struct cost *c = &costs[i];

	if (!c->calls[k])
		return 0;
	return (touched ? (double)c->touched[k] : c->span[k].wall) /
	       (double)c->calls[k];
}

static double cost_ratio(enum cost_id i, bool touched)
{
	double small = cost_per_call(i, 0, touched);

	return small > 0 ? cost_per_call(i, 1, touched) / small : 0;
}

static void summary(const struct config *cfg)
{
	double a0 = fig_rate(FIG_APPEND_1000, 0);
	double a1 = fig_rate(FIG_APPEND_1000, 1);
	double append = a0 < a1 ? a0 : a1;
	double read_ratio = fig_ratio(FIG_READ);
	double claim_ratio = fig_ratio(FIG_CLAIM_MANY);

	printf("\nsummary, msgs/s (ratio = backlog %d / backlog %" PRIu64
	       "; above 1 is a slowdown)\n", SMALL_BACKLOG, cfg->big);
	printf("  %-38s %12s %12s %7s\n", "figure", "small", "big", "ratio");
	for (int f = 0; f < N_FIGS; f++)
		printf("  %-38s %12.0f %12.0f %7.2f\n", figs[f].name,
		       fig_rate(f, 0), fig_rate(f, 1), fig_ratio(f));
	printf("\ncosts per call (ratio = big / small; above 1 is a "
	       "slowdown)\n");
	printf("  %-38s %9s %9s %7s %10s %10s %7s\n", "figure", "us small",
	       "us big", "ratio", "rec small", "rec big", "ratio");
	for (int i = 0; i < N_COSTS; i++)
		printf("  %-38s %9.1f %9.1f %7.2f %10.1f %10.1f %7.2f\n",
		       costs[i].name, 1e6 * cost_per_call(i, 0, false),
		       1e6 * cost_per_call(i, 1, false), cost_ratio(i, false),
		       cost_per_call(i, 0, true), cost_per_call(i, 1, true),
		       cost_ratio(i, true));
	printf("  %-38s %12.0f /s\n", "storage sync floor", ref.sync_per_s);
	printf("  %-38s %12.0f msgs/s\n", "append, groups of 1000, NOSYNC",
	       ref.nosync_rate);
	printf("\ngoals\n");
	printf("  %-50s %12.0f  %s\n",
	       "append, groups of 1000, sync >= 1000000 msgs/s", append,
	       append >= 1e6 ? "met" : "MISSED");
	printf("  %-50s %12.2f  %s\n", "read by marker, backlog ratio <= 1.5",
	       read_ratio, read_ratio <= 1.5 ? "met" : "MISSED");
	printf("  %-50s %12.2f  %s\n",
	       "claim + delete_many, backlog ratio <= 1.5", claim_ratio,
	       claim_ratio <= 1.5 ? "met" : "MISSED");
	for (int i = 0; i < N_COSTS; i++) {
		double r = cost_ratio(i, false);
		char goal[80];

		snprintf(goal, sizeof(goal), "%s, ratio <= 1.5",
			 costs[i].short_name);
		printf("  %-50s %12.2f  %s (records touched: ratio %.2f)\n",
		       goal, r, r <= 1.5 ? "met" : "MISSED",
		       cost_ratio(i, true));
	}
	if (cfg->quick)
		printf("  (--quick: small counts and slices, figures not to be "
		       "quoted)\n");
}

/* -------------------------------------------------------------- main */

static void usage(FILE *to)
{
	fprintf(to,
		"usage: feed_bench [--quick] [--dir DIR] [--big N] [--slice S] "
		"[--delayed N] [--keep]\n"
		"  --quick    small counts and short slices (CI smoke run)\n"
		"  --dir DIR  make the environments under DIR (it must exist)\n"
		"             default: a new directory under $TMPDIR, removed\n"
		"  --big N    the large backlog, messages (default 1000000)\n"
		"  --slice S  seconds per figure and backlog (default 3)\n"
		"  --delayed N  delayed messages ahead of the ready ones, big\n"
		"             side of the delayed claim figure (default 100000,\n"
		"             --quick 20000)\n"
		"  --keep     leave the environments in place\n"
		"  HERALD_SEED=N replays the random choices\n");
}

static uint64_t parse_num(const char *s)
{
	char *end;
	uint64_t v = strtoull(s, &end, 10);

	if (*end || v == 0) {
		usage(stderr);
		exit(2);
	}
	return v;
}

static void parse_args(int argc, char **argv, struct config *cfg)
{
	bool big_set = false, slice_set = false;

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		bool has_value = i + 1 < argc;

		if (!strcmp(arg, "--quick")) {
			cfg->quick = true;
		} else if (!strcmp(arg, "--keep")) {
			cfg->keep = true;
		} else if (!strcmp(arg, "--dir") && has_value) {
			cfg->dir = argv[++i];
		} else if (!strcmp(arg, "--big") && has_value) {
			cfg->big = parse_num(argv[++i]);
			big_set = true;
		} else if (!strcmp(arg, "--delayed") && has_value) {
			cfg->delayed = parse_num(argv[++i]);
		} else if (!strcmp(arg, "--slice") && has_value) {
			cfg->slice_s = strtod(argv[++i], NULL);
			slice_set = cfg->slice_s > 0;
		} else if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
			usage(stdout);
			exit(0);
		} else {
			usage(stderr);
			exit(2);
		}
	}
	if (!big_set)
		cfg->big = cfg->quick ? 20000 : 1000000;
	if (!slice_set)
		cfg->slice_s = cfg->quick ? 0.2 : 3.0;
	cfg->reps = cfg->quick ? 1 : 3;
	cfg->append_cap = cfg->quick ? 20000 : 3000000;
	cfg->compact_n = cfg->quick ? 5000 : 100000;
	if (!cfg->delayed)
		cfg->delayed = cfg->quick ? 20000 : 100000;
	cfg->mixed_steps = cfg->quick ? 20 : 200;
}

static uint64_t seed_get(void)
{
	const char *env = getenv("HERALD_SEED");
	struct timespec ts;

	if (env && *env)
		return strtoull(env, NULL, 0);
	clock_gettime(CLOCK_REALTIME, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec) ^
	       ((uint64_t)getpid() << 32);
}

int main(int argc, char **argv)
{
	static const enum fig_id order[] = {
		FIG_READ,       FIG_COMPACT,     FIG_CLAIM_MANY,
		FIG_CLAIM_EACH, FIG_APPEND_1,    FIG_APPEND_10,
		FIG_APPEND_100, FIG_APPEND_1000,
	};
	struct config cfg = {0};
	struct bench b[N_BACKLOGS];
	char tmp[PATH_MAX];
	const char *tmpdir = getenv("TMPDIR");
	bool own_dir = false;
	double t0 = clock_s(CLOCK_MONOTONIC);

	parse_args(argc, argv, &cfg);
	cfg.seed = seed_get();
	if (!cfg.dir) {
		snprintf(tmp, sizeof(tmp), "%s/herald-bench-XXXXXX",
			 tmpdir && *tmpdir ? tmpdir : "/tmp");
		must(mkdtemp(tmp) != NULL, tmp);
		cfg.dir = tmp;
		own_dir = true;
	}
	printf("feed_bench%s: %d-byte bodies, sync mode, %.1f s per figure "
	       "and backlog in %d slices, seed %" PRIu64 "\n",
	       cfg.quick ? " --quick" : "", BODY_LEN, cfg.slice_s, cfg.reps,
	       cfg.seed);
	printf("\nreferences\n");
	probe_storage(&cfg);
	probe_nosync(&cfg);

	printf("\nbacklogs\n");
	bench_init(&b[0], &cfg, "small", SMALL_BACKLOG, cfg.seed + 1);
	bench_init(&b[1], &cfg, "big", cfg.big, cfg.seed + 2);
	for (int k = 0; k < N_BACKLOGS; k++)
		fill_backlog(&b[k]);

	printf("\n  %-38s %8s %9s      %7s   %10s        %8s\n", "figures",
	       "backlog", "messages", "seconds", "msgs/s", "ops/s");
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		run_figure(b, order[i]);
	run_costs(b);

	printf("\nenvironments\n");
	for (int k = 0; k < N_BACKLOGS; k++)
		bench_fini(&b[k]);
	if (own_dir && !cfg.keep)
		rm_tree(cfg.dir);
	summary(&cfg);
	printf("\ntotal %.1f s\n", clock_s(CLOCK_MONOTONIC) - t0);
	return 0;
}
