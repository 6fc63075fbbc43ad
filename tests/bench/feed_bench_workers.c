/*
 * feed_bench_workers.c - what the workers' features of issue #13 cost in
 * feed: dead-letter moves per second, and claims beside messages waiting
 * out a retry backoff.
 *
 * A program, not a test (feed_bench.c's sibling; that file is full): it
 * prints its figures and exits 0 unless a feed call failed or a figure's
 * own check did not hold. docs/benchmarks.md, "Workers (issue #13)",
 * holds a run.
 *
 * Method
 * ------
 * Setups run in FEED_NOSYNC mode and are flushed (feed_sync), closed and
 * reopened in FEED_SYNC mode: every figure is measured in sync mode, each
 * commit on disk before its call returns. feed runs on a synthetic clock
 * that moves only when the bench moves it.
 *
 *   dlq moves   queue "src" of --dlq N messages (default 100,000; 512-byte
 *               bodies, ttl 14 days), each claimed once (claims of 20,
 *               opts max_claims 1, dlq "dead") and let go by its claim's
 *               expiry (the clock moves 61 s on, compaction releases
 *               them). Then claims of 20 with the same options are timed
 *               until "src" is empty: every message they reach has
 *               reached its maximum, so each call moves as many as its
 *               cost bound lets it and claims none. Checked: N moved,
 *               "dead" holds N. Reported: moves/s, moves per call (one
 *               transaction each) and records touched per move.
 *   backoff     two environments, each with queue "w": the small one
 *               holds 1,000 ready messages; the big one first --delayed P
 *               (default 100,000) messages claimed (claims of 20, opts
 *               retry_delay 3,600 s) and released, so each waits out its
 *               backoff in `delayed`, then the same 1,000 ready ones.
 *               Timed: feed_claim_create() of 10 (ttl 60 s, grace 60 s)
 *               plus the feed_delete_many() of what it claimed, the
 *               refill at the tail untimed; the clock stands still, so no
 *               backoff ends. Slices alternate small, big, ... (REPS
 *               each) so that a slow spell of the disk hits both sides.
 *               Goal: big / small <= 1.5 (issue #13).
 *
 * Only feed calls are timed, with CLOCK_MONOTONIC; "cpu" is the process's
 * CPU time over the same spans as a share of wall time.
 */
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "feed.h"
#include "span.h"

#define PROJECT "bench"
#define SRC "src"
#define DEAD "dead"
#define WQ "w"
#define DLQ_BODY_LEN 512
#define BODY_LEN 100
#define LONG_TTL_S (14u * 86400u)
#define START_MS UINT64_C(1700000000000)
#define MAP_SIZE (UINT64_C(4) << 30)
#define FILL 1000        /* messages per setup append */
#define SETUP_CLAIM 20
#define READY 1000
#define CLAIM_N 10
#define REFILL_AT 100
#define BACKOFF_S 3600u
#define REPS 3

struct config {
	const char *dir;
	uint64_t dlq_n, delayed;
	double slice_s;
	bool quick;
};

static char dlq_body[DLQ_BODY_LEN], body[BODY_LEN];

static void die(const char *what, int rc)
{
	fprintf(stderr, "feed_bench_workers: %s: %s\n", what, feed_strerror(rc));
	exit(1);
}

static void must(bool cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "feed_bench_workers: %s\n", what);
		exit(1);
	}
}

static feed_t *open_env(const char *path, enum feed_durability d)
{
	feed_options_t opts = {.map_size = MAP_SIZE, .durability = d};
	feed_t *feed;
	int rc = feed_open(&feed, path, &opts);

	if (rc)
		die("feed_open", rc);
	return feed;
}

/* Flushes a setup made in nosync mode and reopens in sync mode. */
static feed_t *to_sync(feed_t *feed, const char *path)
{
	int rc = feed_sync(feed);

	if (rc)
		die("feed_sync", rc);
	feed_close(feed);
	return open_env(path, FEED_SYNC);
}

/* Appends n messages of len-byte bodies b in requests of FILL. */
static void append_n(feed_t *feed, const char *queue, uint64_t n,
		     const char *b, size_t len, uint64_t now_ms)
{
	static feed_msg_in_t msgs[FILL];

	for (size_t i = 0; i < FILL; i++)
		msgs[i] = (feed_msg_in_t){.body = b, .body_len = len,
					  .ttl_s = LONG_TTL_S};
	while (n > 0) {
		feed_append_req_t r = {.project = PROJECT, .queue = queue,
				       .msgs = msgs,
				       .n_msgs = n < FILL ? (size_t)n : FILL};
		int rc = feed_append_group(feed, &r, 1, now_ms);

		if (rc || r.status)
			die("feed_append_group", rc ? rc : r.status);
		n -= r.n_msgs;
	}
}

static uint64_t total_of(feed_t *feed, const char *queue, uint64_t now_ms)
{
	feed_queue_stats_t st;
	int rc = feed_queue_stats(feed, PROJECT, queue, now_ms, &st);

	if (rc)
		die("feed_queue_stats", rc);
	return st.total;
}

/* Claims everything claimable of queue with opts, SETUP_CLAIM at a time;
 * release: let each claim go at once (its backoff applies). */
static uint64_t claim_all(feed_t *feed, const char *queue,
			  feed_claim_opts_t *o, bool release, uint64_t now_ms)
{
	uint64_t n = 0;

	for (;;) {
		feed_claim_t c = {0};
		int rc = feed_claim_create2(feed, PROJECT, queue, 60, 60,
					    SETUP_CLAIM, o, now_ms, &c);

		if (rc)
			die("feed_claim_create2", rc);
		n += c.msgs.n;
		if (release && c.msgs.n)
			rc = feed_claim_release(feed, PROJECT, queue, c.id,
						now_ms);
		if (rc)
			die("feed_claim_release", rc);
		if (!c.msgs.n && c.wake_ms != now_ms + 1) {
			feed_claim_free(&c);
			return n;
		}
		feed_claim_free(&c);
	}
}

/* ------------------------------------------------------------ dlq moves */

static void bench_dlq(const struct config *cfg)
{
	char path[PATH_MAX];
	feed_claim_opts_t o = {.max_claims = 1};
	uint64_t now = START_MS, moved = 0, calls = 0, touched;
	struct span s = {0};
	feed_compact_result_t cr;
	feed_t *feed;
	double t0 = clock_s(CLOCK_MONOTONIC);

	strcpy(o.dlq, DEAD);
	snprintf(path, sizeof(path), "%s/dlq", cfg->dir);
	must(mkdir(path, 0700) == 0, path);
	feed = open_env(path, FEED_NOSYNC);
	append_n(feed, SRC, cfg->dlq_n, dlq_body, DLQ_BODY_LEN, now);
	must(claim_all(feed, SRC, &o, false, now) == cfg->dlq_n,
	     "the first pass claims every message once");
	now += 61000;
	do {
		int rc = feed_compact(feed, now, 1000, &cr);

		if (rc)
			die("feed_compact", rc);
	} while (cr.more);
	feed = to_sync(feed, path);
	printf("  dlq: %" PRIu64 " messages of %d bytes, each claimed once "
	       "and let go, set up in %.1f s (nosync)\n", cfg->dlq_n,
	       DLQ_BODY_LEN, clock_s(CLOCK_MONOTONIC) - t0);

	touched = feed_debug_touched();
	for (;;) {
		feed_claim_t c = {0};
		int rc;

		span_start(&s);
		rc = feed_claim_create2(feed, PROJECT, SRC, 60, 60,
					SETUP_CLAIM, &o, now, &c);
		span_stop(&s);
		if (rc)
			die("feed_claim_create2", rc);
		must(c.msgs.n == 0, "a message past its maximum was claimed");
		calls++;
		moved += c.dead_lettered;
		if (!c.dead_lettered && c.wake_ms != now + 1)
			break;
		feed_claim_free(&c);
	}
	touched = feed_debug_touched() - touched;
	must(moved == cfg->dlq_n && total_of(feed, DEAD, now) == cfg->dlq_n &&
		     total_of(feed, SRC, now) == 0,
	     "every message moved to the dead-letter queue");
	printf("  dlq moves: %" PRIu64 " in %.2f s = %.0f moves/s; %" PRIu64
	       " calls, %.1f moves/call, %.0f us/call, %.1f records "
	       "touched/move, cpu %.0f%%\n",
	       moved, s.wall, (double)moved / s.wall, calls,
	       (double)moved / (double)calls, s.wall / (double)calls * 1e6,
	       (double)touched / (double)moved, 100.0 * s.cpu / s.wall);
	feed_close(feed);
}

/* -------------------------------------------------------------- backoff */

struct side {
	const char *name;
	char path[PATH_MAX];
	feed_t *feed;
	uint64_t delayed, calls, consumed, touched;
	struct span s;
};

static void side_fill(struct side *sd, const struct config *cfg,
		      uint64_t delayed)
{
	feed_claim_opts_t o = {.retry_delay_s = BACKOFF_S,
			       .retry_delay_max_s = BACKOFF_S};
	double t0 = clock_s(CLOCK_MONOTONIC);

	snprintf(sd->path, sizeof(sd->path), "%s/%s", cfg->dir, sd->name);
	must(mkdir(sd->path, 0700) == 0, sd->path);
	sd->delayed = delayed;
	sd->feed = open_env(sd->path, FEED_NOSYNC);
	append_n(sd->feed, WQ, delayed, body, BODY_LEN, START_MS);
	must(claim_all(sd->feed, WQ, &o, true, START_MS) == delayed,
	     "every message claimed and released once");
	append_n(sd->feed, WQ, READY, body, BODY_LEN, START_MS);
	sd->feed = to_sync(sd->feed, sd->path);
	printf("  backoff, %-5s %7" PRIu64 " backoff-delayed + %d ready, set "
	       "up in %.1f s (nosync)\n", sd->name, delayed, READY,
	       clock_s(CLOCK_MONOTONIC) - t0);
}

/* One claim of CLAIM_N and its delete_many, timed together. */
static void side_claim(struct side *sd)
{
	const char *ids[CLAIM_N];
	feed_claim_t c = {0};
	size_t deleted = 0;
	uint64_t t = feed_debug_touched();
	int rc;

	span_start(&sd->s);
	rc = feed_claim_create(sd->feed, PROJECT, WQ, 60, 60, CLAIM_N,
			       START_MS, &c);
	for (size_t i = 0; rc == 0 && i < c.msgs.n; i++)
		ids[i] = c.msgs.v[i].id;
	if (rc == 0)
		rc = feed_delete_many(sd->feed, PROJECT, WQ, ids, c.msgs.n,
				      START_MS, &deleted);
	span_stop(&sd->s);
	sd->touched += feed_debug_touched() - t;
	if (rc)
		die("claim + delete_many", rc);
	must(c.msgs.n == CLAIM_N && deleted == CLAIM_N,
	     "a claim of 10 took and deleted 10 ready messages");
	for (size_t i = 0; i < c.msgs.n; i++)
		must(c.msgs.v[i].claim_count == 1,
		     "a backoff-delayed message was claimed");
	feed_claim_free(&c);
	sd->calls++;
	if (++sd->consumed * CLAIM_N >= REFILL_AT) {
		append_n(sd->feed, WQ, sd->consumed * CLAIM_N, body, BODY_LEN,
			 START_MS);
		sd->consumed = 0;
	}
}

static void bench_backoff(const struct config *cfg)
{
	struct side sd[2] = {{.name = "zero"}, {.name = "many"}};
	double us[2];

	side_fill(&sd[0], cfg, 0);
	side_fill(&sd[1], cfg, cfg->delayed);
	for (int k = 0; k < 2; k++)
		side_claim(&sd[k]); /* untimed warm-up: first walks */
	for (int k = 0; k < 2; k++)
		sd[k] = (struct side){.name = sd[k].name, .feed = sd[k].feed,
				      .delayed = sd[k].delayed,
				      .consumed = sd[k].consumed};
	for (int rep = 0; rep < REPS; rep++)
		for (int k = 0; k < 2; k++) {
			double end = sd[k].s.wall + cfg->slice_s / REPS;

			do
				side_claim(&sd[k]);
			while (sd[k].s.wall < end);
		}
	for (int k = 0; k < 2; k++) {
		us[k] = sd[k].s.wall / (double)sd[k].calls * 1e6;
		printf("  claim 10 + delete_many, %7" PRIu64 " backoff-delayed: "
		       "%6" PRIu64 " calls, %7.0f us/call, %5.1f records "
		       "touched/call, cpu %.0f%%\n",
		       sd[k].delayed, sd[k].calls, us[k],
		       (double)sd[k].touched / (double)sd[k].calls,
		       100.0 * sd[k].s.cpu / sd[k].s.wall);
		must(total_of(sd[k].feed, WQ, START_MS) ==
			     sd[k].delayed + READY - sd[k].consumed * CLAIM_N,
		     "the queue holds what it should");
		feed_close(sd[k].feed);
	}
	printf("  ratio %" PRIu64 " / 0 backoff-delayed: %.2fx time, %.2fx "
	       "records (goal <= 1.5x)\n", cfg->delayed, us[1] / us[0],
	       ((double)sd[1].touched / (double)sd[1].calls) /
		       ((double)sd[0].touched / (double)sd[0].calls));
}

/* ------------------------------------------------------------------ main */

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void usage(FILE *to)
{
	fprintf(to,
		"usage: feed_bench_workers [--quick] [--dir DIR] [--dlq N] "
		"[--delayed N] [--slice S]\n"
		"  --quick      small counts and short slices (a smoke run)\n"
		"  --dir DIR    make the environments under DIR (it must "
		"exist)\n"
		"               default: a new directory under $TMPDIR, "
		"removed\n"
		"  --dlq N      messages moved to the dead-letter queue "
		"(default 100000)\n"
		"  --delayed N  backoff-delayed messages of the big side "
		"(default 100000)\n"
		"  --slice S    seconds per side of the backoff figure "
		"(default 6)\n");
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
	for (int i = 1; i < argc; i++) {
		bool has_value = i + 1 < argc;

		if (!strcmp(argv[i], "--quick")) {
			cfg->quick = true;
		} else if (!strcmp(argv[i], "--dir") && has_value) {
			cfg->dir = argv[++i];
		} else if (!strcmp(argv[i], "--dlq") && has_value) {
			cfg->dlq_n = parse_num(argv[++i]);
		} else if (!strcmp(argv[i], "--delayed") && has_value) {
			cfg->delayed = parse_num(argv[++i]);
		} else if (!strcmp(argv[i], "--slice") && has_value) {
			cfg->slice_s = strtod(argv[++i], NULL);
		} else {
			usage(!strcmp(argv[i], "--help") ? stdout : stderr);
			exit(!strcmp(argv[i], "--help") ? 0 : 2);
		}
	}
	if (!cfg->dlq_n)
		cfg->dlq_n = cfg->quick ? 2000 : 100000;
	if (!cfg->delayed)
		cfg->delayed = cfg->quick ? 2000 : 100000;
	if (cfg->slice_s <= 0)
		cfg->slice_s = cfg->quick ? 0.3 : 6.0;
}

int main(int argc, char **argv)
{
	struct config cfg = {0};
	char tmp[PATH_MAX];
	const char *tmpdir = getenv("TMPDIR");
	bool own_dir = false;
	double t0 = clock_s(CLOCK_MONOTONIC);

	parse_args(argc, argv, &cfg);
	memset(dlq_body, 'd', sizeof(dlq_body));
	memset(body, 'b', sizeof(body));
	if (!cfg.dir) {
		snprintf(tmp, sizeof(tmp), "%s/herald-bench-XXXXXX",
			 tmpdir && *tmpdir ? tmpdir : "/tmp");
		must(mkdtemp(tmp) != NULL, tmp);
		cfg.dir = tmp;
		own_dir = true;
	}
	printf("feed_bench_workers%s: sync mode\n", cfg.quick ? " --quick" : "");
	bench_dlq(&cfg);
	bench_backoff(&cfg);
	if (own_dir)
		nftw(cfg.dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	printf("total %.1f s\n", clock_s(CLOCK_MONOTONIC) - t0);
	return 0;
}
