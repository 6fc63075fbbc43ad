/*
 * feed_bench.c - how fast feed appends, reads, claims and compacts, and how
 * much of that it keeps when a queue holds a large backlog.
 *
 * A program, not a test: it prints its figures and exits 0 unless a feed
 * call failed. docs/benchmarks.md holds a run and how to read it.
 *
 * Method
 * ------
 * For each backlog size B (1,000, then --big, default 1,000,000) it makes a
 * fresh environment under the bench directory and:
 *
 *   1. fills queue "backlog" with B messages (100-byte bodies, ttl 14 days)
 *      in FEED_NOSYNC mode, in groups of 10 requests x 1,000 messages, then
 *      feed_sync(), closes and reopens in FEED_SYNC mode; every figure
 *      below is measured in FEED_SYNC mode.
 *   2. read by marker: a "subscriber" starts at the id of a random message
 *      of the backlog and reads 5 pages of 20 (the Zaqar page size) by
 *      marker; subscribers follow one another for the time slice.
 *   3. compaction: appends C messages with ttl 60 s to queue "ttl"
 *      (untimed), moves the data clock 61 s on, then times feed_compact()
 *      with a budget of 1,000 records per transaction until no work is
 *      left.
 *   4. claim + delete: claim 10..20 messages (ttl 60 s, grace 60 s) from
 *      the head of "backlog", then delete them with one feed_delete_many()
 *      (figure "claim+delete_many"), or one feed_delete() per message with
 *      the claim id (figure "claim+delete each"). Consumed messages are
 *      put back at the tail, untimed, so the backlog stays near B.
 *   5. append: groups of 1, 10, 100 and 1,000 messages into "backlog",
 *      where a group is ONE feed_append_group() call (one transaction, one
 *      fsync) holding requests of at most 10 messages each, as a hub would
 *      collect them from publishers: 1 = 1 request x 1 message, 10 = 1 x
 *      10, 100 = 10 x 10, 1000 = 100 x 10.
 *
 * Each timed figure runs for a time slice (1 s; 0.2 s with --quick) or a
 * message cap, whichever ends first. Only the feed calls are timed
 * (CLOCK_MONOTONIC); feed itself is given a synthetic clock, now_ms, that
 * starts at a fixed date and moves only when the bench says so.
 */
#include <errno.h>
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

#define PROJECT "bench"
#define BACKLOG "backlog"
#define TTL_QUEUE "ttl"
#define BODY_LEN 100
#define BACKLOG_TTL_S (14u * 86400u)
#define SHORT_TTL_S 60u
#define START_MS UINT64_C(1700000000000)
#define FILL_REQ_MSGS 1000
#define FILL_GROUP_REQS 10
#define REQ_MSGS 10 /* messages per request in the append figures */
#define MAX_GROUP 1000
#define READ_PAGE 20
#define READ_PAGES 5
#define COMPACT_BUDGET 1000
#define SMALL_BACKLOG 1000
#define REFILL_AT 100
#define MAP_SIZE (UINT64_C(4) << 30)
#define N_BACKLOGS 2

typedef char msg_id[FEED_ID_LEN + 1];

struct config {
	bool quick, keep;
	const char *dir;
	uint64_t big;
	double slice_s;       /* time slice of each figure */
	uint64_t append_cap;  /* most messages in one append figure */
	uint64_t compact_n;   /* expired messages for the compaction figure */
	uint64_t seed;
};

/* One environment with its backlog. */
struct bench {
	const struct config *cfg;
	feed_t *feed;
	char path[PATH_MAX];
	uint64_t now_ms;
	uint64_t backlog;  /* messages the backlog should hold */
	msg_id *ids;        /* ids of the backlog as filled, for markers */
	size_t n_ids;
	uint64_t rng;
	uint8_t client[16];
	feed_msg_in_t msgs[FILL_REQ_MSGS];
	feed_append_req_t reqs[MAX_GROUP];
	msg_id *out_ids;    /* FILL_GROUP_REQS * FILL_REQ_MSGS results */
};

/* A figure: one row of results, per backlog. */
struct figure {
	const char *name;
	uint64_t msgs[N_BACKLOGS];
	double secs[N_BACKLOGS];
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

static struct figure figs[N_FIGS] = {
	[FIG_READ] = {"read by marker (pages of 20)"},
	[FIG_COMPACT] = {"compaction (budget 1000)"},
	[FIG_CLAIM_MANY] = {"claim 10..20 + delete_many"},
	[FIG_CLAIM_EACH] = {"claim 10..20 + delete each"},
	[FIG_APPEND_1] = {"append, groups of 1 (1 req x 1)"},
	[FIG_APPEND_10] = {"append, groups of 10 (1 req x 10)"},
	[FIG_APPEND_100] = {"append, groups of 100 (10 reqs x 10)"},
	[FIG_APPEND_1000] = {"append, groups of 1000 (100 reqs x 10)"},
};

static const char body[BODY_LEN] =
	"0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuv"
	"wxyz0123456789abcdefghijklmnopq";

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
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

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p) {
		fprintf(stderr, "feed_bench: out of memory\n");
		exit(1);
	}
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

static void bench_open(struct bench *b, enum feed_durability durability)
{
	feed_options_t opts = {.map_size = MAP_SIZE, .durability = durability};
	int rc = feed_open(&b->feed, b->path, &opts);

	if (rc)
		die("feed_open", rc);
}

/*
 * Appends n_reqs requests of req_msgs messages each to `queue` in one
 * feed_append_group() call. The ids land in b->out_ids, request after
 * request.
 */
static void append_group(struct bench *b, const char *queue, size_t n_reqs,
			 size_t req_msgs, uint32_t ttl_s)
{
	int rc;

	for (size_t i = 0; i < req_msgs; i++)
		b->msgs[i] = (feed_msg_in_t){
			.body = body, .body_len = BODY_LEN, .ttl_s = ttl_s};
	for (size_t r = 0; r < n_reqs; r++) {
		b->reqs[r] = (feed_append_req_t){
			.project = PROJECT,
			.queue = queue,
			.msgs = b->msgs,
			.n_msgs = req_msgs,
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
			uint32_t ttl_s, bool keep_ids)
{
	while (n > 0) {
		uint64_t group = FILL_REQ_MSGS * FILL_GROUP_REQS;
		size_t reqs, last;

		if (group > n)
			group = n;
		reqs = (size_t)((group + FILL_REQ_MSGS - 1) / FILL_REQ_MSGS);
		last = (size_t)(group - (reqs - 1) * FILL_REQ_MSGS);
		/* Full requests first, then the remainder as its own. */
		if (reqs > 1)
			append_group(b, queue, reqs - 1, FILL_REQ_MSGS, ttl_s);
		if (keep_ids && reqs > 1) {
			memcpy(b->ids + b->n_ids, b->out_ids,
			       (reqs - 1) * FILL_REQ_MSGS * sizeof(msg_id));
			b->n_ids += (reqs - 1) * FILL_REQ_MSGS;
		}
		append_group(b, queue, 1, last, ttl_s);
		if (keep_ids) {
			memcpy(b->ids + b->n_ids, b->out_ids,
			       last * sizeof(msg_id));
			b->n_ids += last;
		}
		n -= group;
	}
}

static void fill_backlog(struct bench *b)
{
	double t0 = mono_s();
	int rc;

	bench_open(b, FEED_NOSYNC);
	b->ids = xcalloc((size_t)b->backlog, sizeof(msg_id));
	append_bulk(b, BACKLOG, b->backlog, BACKLOG_TTL_S, true);
	rc = feed_sync(b->feed);
	if (rc)
		die("feed_sync", rc);
	feed_close(b->feed);
	bench_open(b, FEED_SYNC);
	printf("  filled %" PRIu64 " messages in %.2f s (nosync, groups "
	       "of %d), reopened in sync mode\n",
	       b->backlog, mono_s() - t0, FILL_REQ_MSGS * FILL_GROUP_REQS);
}

static void report(enum fig_id f, int k, uint64_t msgs, double secs,
		   const char *extra)
{
	figs[f].msgs[k] = msgs;
	figs[f].secs[k] = secs;
	printf("  %-40s %9" PRIu64 " msgs %8.3f s %12.0f msgs/s%s\n",
	       figs[f].name, msgs, secs, secs > 0 ? (double)msgs / secs : 0,
	       extra ? extra : "");
	fflush(stdout);
}

static void bench_read(struct bench *b, int k)
{
	feed_read_opts_t opts = {.limit = READ_PAGE};
	double start = mono_s(), secs;
	uint64_t msgs = 0;

	do {
		char marker[FEED_ID_LEN + 1];
		size_t at = (size_t)(rng_next(&b->rng) % b->n_ids);

		memcpy(marker, b->ids[at], sizeof(marker));
		for (int p = 0; p < READ_PAGES; p++) {
			feed_msgs_t out = {0};
			int rc = feed_read(b->feed, PROJECT, BACKLOG, marker,
					   &opts, b->now_ms, &out);

			if (rc)
				die("feed_read", rc);
			msgs += out.n;
			memcpy(marker, out.next_marker, sizeof(marker));
			feed_msgs_free(&out);
		}
		secs = mono_s() - start;
	} while (secs < b->cfg->slice_s);
	report(FIG_READ, k, msgs, secs, NULL);
}

static void bench_compact(struct bench *b, int k)
{
	feed_compact_result_t res;
	uint64_t removed = 0, claims = 0, rounds = 0;
	double start, secs;
	char extra[96];

	append_bulk(b, TTL_QUEUE, b->cfg->compact_n, SHORT_TTL_S, false);
	b->now_ms += (SHORT_TTL_S + 1) * 1000;
	start = mono_s();
	do {
		int rc = feed_compact(b->feed, b->now_ms, COMPACT_BUDGET, &res);

		if (rc)
			die("feed_compact", rc);
		removed += res.messages;
		claims += res.claims;
		rounds++;
	} while (res.more);
	secs = mono_s() - start;
	snprintf(extra, sizeof(extra), "  (%" PRIu64 " calls%s)", rounds,
		 removed == b->cfg->compact_n ? "" : ", COUNT MISMATCH");
	report(FIG_COMPACT, k, removed, secs, extra);
	if (removed != b->cfg->compact_n)
		fprintf(stderr, "feed_bench: compaction removed %" PRIu64
			" messages, %" PRIu64 " expected\n", removed,
			b->cfg->compact_n);
}

/* Puts `n` messages back at the tail of the backlog (untimed). */
static void refill(struct bench *b, uint64_t n)
{
	append_bulk(b, BACKLOG, n, BACKLOG_TTL_S, false);
}

static void bench_claim(struct bench *b, int k, bool each)
{
	const char *ids[20];
	uint64_t msgs = 0, consumed = 0, claims = 0;
	double spent = 0, start = mono_s();
	char extra[64];

	do {
		feed_claim_t claim = {0};
		size_t limit = 10 + (size_t)(rng_next(&b->rng) % 11);
		double t0 = mono_s();
		int rc = feed_claim_create(b->feed, PROJECT, BACKLOG, 60, 60,
					   limit, b->now_ms, &claim);

		if (rc)
			die("feed_claim_create", rc);
		if (claim.msgs.n == 0 || claim.msgs.n > limit) {
			fprintf(stderr, "feed_bench: claimed %zu of %zu\n",
				claim.msgs.n, limit);
			exit(1);
		}
		for (size_t i = 0; i < claim.msgs.n; i++)
			ids[i] = claim.msgs.v[i].id;
		for (size_t i = 0; each && i < claim.msgs.n; i++) {
			rc = feed_delete(b->feed, PROJECT, BACKLOG, ids[i],
					 claim.id, b->now_ms, NULL);
			if (rc)
				die("feed_delete", rc);
		}
		if (!each) {
			size_t deleted = 0;

			rc = feed_delete_many(b->feed, PROJECT, BACKLOG, ids,
					      claim.msgs.n, b->now_ms,
					      &deleted);
			if (rc)
				die("feed_delete_many", rc);
			if (deleted != claim.msgs.n) {
				fprintf(stderr, "feed_bench: deleted %zu of "
					"%zu\n", deleted, claim.msgs.n);
				exit(1);
			}
		}
		spent += mono_s() - t0;
		msgs += claim.msgs.n;
		consumed += claim.msgs.n;
		claims++;
		feed_claim_free(&claim);
		if (consumed >= REFILL_AT) {
			refill(b, consumed);
			consumed = 0;
		}
	} while (mono_s() - start < b->cfg->slice_s);
	if (consumed)
		refill(b, consumed);
	snprintf(extra, sizeof(extra), "  (%.0f claims/s)",
		 spent > 0 ? (double)claims / spent : 0);
	report(each ? FIG_CLAIM_EACH : FIG_CLAIM_MANY, k, msgs, spent, extra);
}

static void bench_append(struct bench *b, int k, enum fig_id f,
			 size_t group)
{
	size_t req_msgs = group < REQ_MSGS ? group : REQ_MSGS;
	size_t n_reqs = group / req_msgs;
	uint64_t msgs = 0, commits = 0;
	double start = mono_s(), secs;
	char extra[64];

	do {
		append_group(b, BACKLOG, n_reqs, req_msgs, BACKLOG_TTL_S);
		msgs += group;
		commits++;
		secs = mono_s() - start;
	} while (secs < b->cfg->slice_s && msgs < b->cfg->append_cap);
	snprintf(extra, sizeof(extra), "  (%.0f commits/s)",
		 (double)commits / secs);
	report(f, k, msgs, secs, extra);
}

static void env_report(struct bench *b)
{
	feed_env_info_t info;
	int rc = feed_env_info(b->feed, &info);

	if (rc)
		die("feed_env_info", rc);
	printf("  environment: %.1f MiB used, map %.1f MiB\n",
	       (double)info.used_bytes / 1048576.0,
	       (double)info.map_size / 1048576.0);
}

static void run_backlog(const struct config *cfg, int k, uint64_t backlog)
{
	struct bench b = {
		.cfg = cfg,
		.now_ms = START_MS,
		.backlog = backlog,
		.rng = cfg->seed + (uint64_t)k,
	};
	static const size_t groups[] = {1, 10, 100, 1000};

	b.client[0] = 0xbe;
	b.out_ids = xcalloc(FILL_REQ_MSGS * FILL_GROUP_REQS, sizeof(msg_id));
	snprintf(b.path, sizeof(b.path), "%s/backlog-%" PRIu64, cfg->dir,
		 backlog);
	if (mkdir(b.path, 0700)) {
		fprintf(stderr, "feed_bench: mkdir %s: %s\n", b.path,
			strerror(errno));
		exit(1);
	}
	printf("\nbacklog %" PRIu64 " messages (%s)\n", backlog, b.path);
	fill_backlog(&b);
	bench_read(&b, k);
	bench_compact(&b, k);
	bench_claim(&b, k, false);
	bench_claim(&b, k, true);
	for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++)
		bench_append(&b, k, FIG_APPEND_1 + (int)g, groups[g]);
	env_report(&b);
	feed_close(b.feed);
	if (!cfg->keep)
		rm_tree(b.path);
	free(b.ids);
	free(b.out_ids);
}

static double rate(enum fig_id f, int k)
{
	return figs[f].secs[k] > 0 ? (double)figs[f].msgs[k] / figs[f].secs[k]
				   : 0;
}

static void summary(const struct config *cfg)
{
	double append = rate(FIG_APPEND_1000, 0) < rate(FIG_APPEND_1000, 1)
				? rate(FIG_APPEND_1000, 0)
				: rate(FIG_APPEND_1000, 1);
	double read_ratio = rate(FIG_READ, 0) / rate(FIG_READ, 1);
	double claim_ratio = rate(FIG_CLAIM_MANY, 0) / rate(FIG_CLAIM_MANY, 1);

	printf("\nsummary (msgs/s; ratio = backlog %d / backlog %" PRIu64
	       ", higher is a slowdown)\n", SMALL_BACKLOG, cfg->big);
	printf("  %-40s %12s %12s %7s\n", "figure", "backlog 1k", "backlog big",
	       "ratio");
	for (int f = 0; f < N_FIGS; f++)
		printf("  %-40s %12.0f %12.0f %7.2f\n", figs[f].name,
		       rate(f, 0), rate(f, 1), rate(f, 0) / rate(f, 1));
	printf("\ngoals\n");
	printf("  %-52s %12.0f  %s\n",
	       "append, groups of 1000, sync >= 1000000 msgs/s", append,
	       append >= 1e6 ? "met" : "MISSED");
	printf("  %-52s %12.2f  %s\n", "read by marker, backlog ratio <= 1.5",
	       read_ratio, read_ratio <= 1.5 ? "met" : "MISSED");
	printf("  %-52s %12.2f  %s\n",
	       "claim+delete_many, backlog ratio <= 1.5", claim_ratio,
	       claim_ratio <= 1.5 ? "met" : "MISSED");
	if (cfg->quick)
		printf("  (--quick: small counts and slices; not figures to "
		       "quote)\n");
}

static void usage(FILE *to)
{
	fprintf(to, "usage: feed_bench [--quick] [--dir DIR] [--big N] "
		    "[--keep]\n"
		    "  --quick    small counts and 0.2 s slices (CI smoke run)\n"
		    "  --dir DIR  make the environments under DIR (it must "
		    "exist)\n"
		    "             default: a new directory under $TMPDIR\n"
		    "  --big N    the large backlog, messages (default "
		    "1000000)\n"
		    "  --keep     leave the environments in place\n"
		    "  HERALD_SEED=N replays the random choices\n");
}

static void parse_args(int argc, char **argv, struct config *cfg)
{
	bool big_set = false;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			cfg->quick = true;
		} else if (!strcmp(argv[i], "--keep")) {
			cfg->keep = true;
		} else if (!strcmp(argv[i], "--dir") && i + 1 < argc) {
			cfg->dir = argv[++i];
		} else if (!strcmp(argv[i], "--big") && i + 1 < argc) {
			char *end;

			cfg->big = strtoull(argv[++i], &end, 10);
			big_set = true;
			if (*end || cfg->big < 1) {
				usage(stderr);
				exit(2);
			}
		} else if (!strcmp(argv[i], "--help") ||
			   !strcmp(argv[i], "-h")) {
			usage(stdout);
			exit(0);
		} else {
			usage(stderr);
			exit(2);
		}
	}
	if (!big_set)
		cfg->big = cfg->quick ? 20000 : 1000000;
	cfg->slice_s = cfg->quick ? 0.2 : 1.0;
	cfg->append_cap = cfg->quick ? 20000 : 2000000;
	cfg->compact_n = cfg->quick ? 5000 : 100000;
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
	struct config cfg = {0};
	char tmp[PATH_MAX];
	const char *tmpdir = getenv("TMPDIR");
	bool own_dir = false;
	double t0 = mono_s();

	parse_args(argc, argv, &cfg);
	cfg.seed = seed_get();
	if (!cfg.dir) {
		snprintf(tmp, sizeof(tmp), "%s/herald-bench-XXXXXX",
			 tmpdir && *tmpdir ? tmpdir : "/tmp");
		if (!mkdtemp(tmp)) {
			fprintf(stderr, "feed_bench: mkdtemp %s: %s\n", tmp,
				strerror(errno));
			return 1;
		}
		cfg.dir = tmp;
		own_dir = true;
	}
	printf("feed_bench%s: %d-byte bodies, sync mode, slices of %.1f s, "
	       "seed %" PRIu64 "\n", cfg.quick ? " --quick" : "", BODY_LEN,
	       cfg.slice_s, cfg.seed);
	run_backlog(&cfg, 0, SMALL_BACKLOG);
	run_backlog(&cfg, 1, cfg.big);
	summary(&cfg);
	if (own_dir && !cfg.keep)
		rm_tree(cfg.dir);
	printf("\ntotal %.1f s\n", mono_s() - t0);
	return 0;
}
