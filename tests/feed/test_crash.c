/*
 * test_crash.c - crash safety: a writer killed at a random moment never
 * loses an acknowledged message, never half-commits a batch, and leaves a
 * log that reopens with strictly increasing sequence numbers.
 *
 * Each round forks a child that opens the feed (after the fork: an LMDB
 * environment must never cross fork()), then appends batches of 1..50
 * messages in FEED_SYNC mode to one queue, forever. Around every append it
 * reports to the parent through a pipe:
 *
 *     child                                   parent
 *     -----                                   ------
 *     write INTENT(n)                         reads records while a kill
 *     feed_append(n messages)                 timer of 1..30 ms runs, then
 *     write ACK(id) x n   (one write)         SIGKILL, reap, drain the pipe,
 *     ...                                     reopen the feed and check
 *
 * A record is at most a few hundred bytes and every write() is below
 * PIPE_BUF, so a record is either whole in the pipe or absent; the parser
 * still ignores a torn tail. The parent opens the feed only after the child
 * is dead, and closes it again before the next fork.
 *
 * Every round uses the same directory, so later rounds recover from the
 * wreck of earlier ones (stale reader slots, a write lock held by a dead
 * process). After round r the log must be: the log after round r-1,
 * unchanged; then every id acknowledged in round r, in order, with the
 * bodies the child wrote; then either nothing or the whole batch that was
 * in flight when the child died (committed, not yet acknowledged).
 *
 * Odd rounds commit each batch as a group of two jobs (feed_write_group):
 * the batch for the log, and a worker's job on a second queue "work" -
 * post 3, claim 3, delete 2 of them - so every group leaves exactly one
 * claimed message there. The group is one transaction: after the crash,
 * "work" must hold one message per committed group of the round, the
 * in-flight one counted exactly when its log batch is there.
 *
 * The seed of the kill timings and batch sizes is printed; HERALD_SEED
 * replays it (the kill moment itself still depends on the scheduler).
 * HERALD_CRASH_ROUNDS overrides the number of rounds.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "feed.h"
#include "fixture.h"
#include "tap.h"

#define ROUNDS_DEFAULT 20
#define POINTS_PER_ROUND 7
#define BATCH_MAX 50
#define KILL_MIN_MS 1
#define KILL_MAX_MS 30
#define START_LIMIT_MS 10000
#define PIPE_SIZE (1 << 20)
#define TTL_S 86400
#define NOW_MS UINT64_C(1700000000000)
#define PROJECT "crash"
#define QUEUE "log"
#define BODY_MAX 64
#define WORK "work"

enum rec_type {
	REC_INTENT = 'I',
	REC_ACK = 'A',
	REC_GROUP = 'G', /* a group's worker job committed too */
	REC_ERROR = 'E'
};

/* What the child tells the parent; fixed size so the parser stays simple. */
struct rec {
	char type;
	int32_t n;                /* INTENT: batch size; ERROR: feed code */
	int32_t group;            /* INTENT: 1 when sent as a group */
	char id[FEED_ID_LEN + 1]; /* ACK */
};

struct ids {
	char (*v)[FEED_ID_LEN + 1];
	size_t n, cap;
};

/* What the parent learnt from one child. */
struct round_log {
	struct ids acked;
	size_t inflight; /* size of the last announced batch not acknowledged */
	bool inflight_group; /* and it went as a group with a worker job */
	size_t groups;   /* groups acknowledged (odd rounds) */
	bool started;    /* the child opened the feed and announced a batch */
	int child_error; /* a feed error the child reported, or 0 */
};

static uint64_t rng_state;

/* splitmix64: small, seedable, good enough for timings and sizes. */
static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static unsigned rng_range(uint64_t *s, unsigned lo, unsigned hi)
{
	return lo + (unsigned)(rng_next(s) % (hi - lo + 1));
}

static void ids_push(struct ids *ids, const char *id)
{
	if (ids->n == ids->cap) {
		size_t cap = ids->cap ? ids->cap * 2 : 256;
		void *v = realloc(ids->v, cap * sizeof(*ids->v));

		if (!v)
			bail_out("out of memory");
		ids->v = v;
		ids->cap = cap;
	}
	memcpy(ids->v[ids->n], id, FEED_ID_LEN + 1);
	ids->v[ids->n][FEED_ID_LEN] = '\0';
	ids->n++;
}

static void ids_free(struct ids *ids)
{
	free(ids->v);
	memset(ids, 0, sizeof(*ids));
}

/* The body of the k-th message a child of round r sends. */
static size_t body_make(char *buf, unsigned round, size_t k)
{
	return (size_t)snprintf(buf, BODY_MAX, "round %u message %zu", round,
				k);
}

static uint64_t now_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Writes all of buf; the child has nobody to tell if this fails. */
static void write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			_exit(3);
		p += w;
		len -= (size_t)w;
	}
}

struct batch {
	const feed_msg_in_t *msgs;
	size_t n;
	const uint8_t *client;
	uint64_t now_ms;
	char (*ids)[FEED_ID_LEN + 1];
};

static int batch_job(feed_txn_t *txn, void *arg)
{
	struct batch *b = arg;
	feed_append_req_t r = {.project = PROJECT, .queue = QUEUE,
			       .msgs = b->msgs, .n_msgs = b->n,
			       .ids = b->ids};

	memcpy(r.client_id, b->client, 16);
	return feed_append_tx(txn, &r, b->now_ms);
}

/* A worker's job: post 3 to "work", claim 3, delete 2 of them. */
static int worker_job(feed_txn_t *txn, void *arg)
{
	static const feed_msg_in_t msgs[3] = {
		{"1", 1, TTL_S, 0}, {"2", 1, TTL_S, 0}, {"3", 1, TTL_S, 0}};
	struct batch *b = arg;
	feed_append_req_t r = {.project = PROJECT, .queue = WORK,
			       .msgs = msgs, .n_msgs = 3};
	feed_claim_t claim;
	const char *ids[2];
	size_t deleted = 0;
	int rc = feed_append_tx(txn, &r, b->now_ms);

	if (rc)
		return rc;
	rc = feed_claim_create_tx(txn, PROJECT, WORK, 30, 30, 3, b->now_ms,
				  &claim);
	if (rc == 0 && claim.msgs.n != 3)
		rc = FEED_ECORRUPT; /* the 3 just posted are claimable */
	if (rc == 0) {
		ids[0] = claim.msgs.v[0].id;
		ids[1] = claim.msgs.v[1].id;
		rc = feed_delete_many_tx(txn, PROJECT, WORK, ids, 2, b->now_ms,
					 &deleted);
	}
	if (rc == 0 && deleted != 2)
		rc = FEED_ECORRUPT;
	feed_claim_free(&claim);
	return rc;
}

/* The batch, alone or as a group with a worker's job: one commit. */
static int append_batch(feed_t *feed, struct batch *b, bool group)
{
	feed_job_t jobs[2] = {{batch_job, b, 0, FEED_JOB_DIRECT},
			      {worker_job, b, 0, 0}};
	int rc = feed_write_group(feed, jobs, group ? 2 : 1);

	if (rc == 0)
		rc = jobs[0].status;
	if (rc == 0 && group)
		rc = jobs[1].status;
	return rc;
}

/* The child: append until killed. Never returns. */
static void child_run(const char *dir, unsigned round, uint64_t seed, int fd)
{
	feed_msg_in_t msgs[BATCH_MAX];
	char bodies[BATCH_MAX][BODY_MAX];
	char ids[BATCH_MAX][FEED_ID_LEN + 1];
	struct rec recs[BATCH_MAX + 1], err = {.type = REC_ERROR};
	feed_options_t opts = {.durability = FEED_SYNC};
	uint8_t client[16];
	feed_t *feed = NULL;
	size_t k = 0;
	int rc;

	fixture_client(client, round);
	rc = feed_open(&feed, dir, &opts);
	for (uint64_t s = seed; rc == 0;) {
		unsigned n = rng_range(&s, 1, BATCH_MAX);
		struct rec intent = {.type = REC_INTENT, .n = (int32_t)n,
				     .group = (int32_t)(round % 2)};
		struct batch b = {msgs, n, client, NOW_MS + round, ids};

		for (unsigned i = 0; i < n; i++) {
			msgs[i] = (feed_msg_in_t){
				.body = bodies[i],
				.body_len = body_make(bodies[i], round, k + i),
				.ttl_s = TTL_S,
			};
		}
		write_all(fd, &intent, sizeof(intent));
		rc = append_batch(feed, &b, round % 2);
		if (rc)
			break;
		memset(recs, 0, sizeof(recs));
		for (unsigned i = 0; i < n; i++) {
			recs[i].type = REC_ACK;
			memcpy(recs[i].id, ids[i], sizeof(recs[i].id));
		}
		recs[n].type = REC_GROUP; /* ignored for a batch alone */
		write_all(fd, recs, (n + (round % 2)) * sizeof(recs[0]));
		k += n;
	}
	err.n = rc;
	write_all(fd, &err, sizeof(err));
	_exit(2);
}

/* Parses whole records out of buf[0..*len), keeping a torn tail. */
static void parse_records(char *buf, size_t *len, struct round_log *log)
{
	size_t off = 0;

	for (; *len - off >= sizeof(struct rec); off += sizeof(struct rec)) {
		struct rec r;

		memcpy(&r, buf + off, sizeof(r));
		switch (r.type) {
		case REC_INTENT:
			log->inflight = (size_t)r.n;
			log->inflight_group = r.group != 0;
			log->started = true;
			break;
		case REC_GROUP:
			log->groups++;
			log->inflight_group = false;
			break;
		case REC_ACK:
			ids_push(&log->acked, r.id);
			if (log->inflight > 0)
				log->inflight--;
			break;
		case REC_ERROR:
			log->child_error = r.n;
			break;
		default:
			bail_out("unknown record type %d from the child",
				 r.type);
		}
	}
	memmove(buf, buf + off, *len - off);
	*len -= off;
}

/* Reads what is in the pipe now (or waits up to timeout_ms). False at EOF. */
static bool pump(int fd, int timeout_ms, char *buf, size_t *len, size_t cap,
		 struct round_log *log)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	ssize_t r;

	if (poll(&pfd, 1, timeout_ms) <= 0)
		return true;
	r = read(fd, buf + *len, cap - *len);
	if (r < 0)
		return errno == EINTR || errno == EAGAIN;
	if (r == 0)
		return false;
	*len += (size_t)r;
	parse_records(buf, len, log);
	return true;
}

/*
 * Waits `ms` without reading the pipe. Reading it while waiting would wake
 * the parent right after each write of the child and so bunch the kills
 * just after the child's reports instead of spreading them over its work.
 */
static void kill_timer(unsigned ms)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_nsec += (long)(ms % 1000) * 1000000L;
	t.tv_sec += ms / 1000 + t.tv_nsec / 1000000000L;
	t.tv_nsec %= 1000000000L;
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) ==
	       EINTR)
		;
}

/*
 * Runs one child until its kill timer fires; fills `log`. The timer starts
 * at the fork when `from_fork` (a crash while opening or creating the queue
 * is fair game), else once the child announced its first batch (so the
 * round exercises appends even when opening is slow, as under sanitizers).
 * Returns the wait status of the child.
 */
static int run_child(const char *dir, unsigned round, uint64_t child_seed,
		     unsigned kill_ms, bool from_fork, struct round_log *log)
{
	char buf[8192];
	size_t len = 0;
	int fds[2], status = 0;
	uint64_t deadline;
	pid_t pid;
	bool open = true;

	if (pipe(fds))
		bail_out("pipe: %s", strerror(errno));
	/* Room for everything a child acknowledges in KILL_MAX_MS, so it
	 * does not stall on a full pipe while the parent waits (if the
	 * kernel refuses, it stalls now and then: still a valid crash). */
	fcntl(fds[1], F_SETPIPE_SZ, PIPE_SIZE);
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		bail_out("fork: %s", strerror(errno));
	if (pid == 0) {
		close(fds[0]);
		child_run(dir, round, child_seed, fds[1]);
	}
	close(fds[1]);
	/* A safety limit, not a timing assumption: a child that never gets
	 * to its first batch is killed anyway and the round still checked. */
	deadline = now_mono_ms() + START_LIMIT_MS;
	for (uint64_t now = now_mono_ms();
	     !from_fork && open && !log->started && now < deadline;
	     now = now_mono_ms())
		open = pump(fds[0], (int)(deadline - now), buf, &len,
			    sizeof(buf), log);
	kill_timer(kill_ms);
	kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	while (open)
		open = pump(fds[0], -1, buf, &len, sizeof(buf), log);
	close(fds[0]);
	return status;
}

/* The whole log of the queue, oldest first. False (and a diag) on error. */
static bool read_log(feed_t *feed, uint64_t now_ms, feed_msgs_t *pages,
		     size_t *n_pages, size_t max_pages)
{
	feed_read_opts_t opts = {
		.limit = 1000,
		.flags = FEED_READ_INCLUDE_CLAIMED | FEED_READ_ECHO |
			 FEED_READ_INCLUDE_DELAYED,
	};
	char marker[FEED_ID_LEN + 1] = "";

	*n_pages = 0;
	while (*n_pages < max_pages) {
		feed_msgs_t *page = &pages[*n_pages];
		int rc = feed_read(feed, PROJECT, QUEUE, marker, &opts, now_ms,
				   page);

		if (rc) {
			diag("feed_read: %s", feed_strerror(rc));
			return false;
		}
		(*n_pages)++;
		if (page->gap) {
			diag("feed_read reports a gap (%" PRId64 " missed)",
			     page->missed);
			return false;
		}
		if (page->n == 0)
			return true;
		memcpy(marker, page->next_marker, sizeof(marker));
	}
	diag("the log does not end after %zu pages", max_pages);
	return false;
}

struct checker {
	struct ids log;     /* ids of the whole log after the last round */
	uint64_t generation;
	bool have_generation;
	uint64_t groups; /* groups committed in earlier rounds */
};

/* Flattens pages into ids, checking seqs and generations. */
static bool check_order(struct checker *c, feed_msgs_t *pages,
			size_t n_pages, struct ids *now)
{
	uint64_t last_seq = 0;

	for (size_t p = 0; p < n_pages; p++) {
		for (size_t i = 0; i < pages[p].n; i++) {
			const feed_msg_t *m = &pages[p].v[i];
			uint64_t gen, seq;

			if (feed_id_parse(m->id, &gen, &seq)) {
				diag("unparsable id %s", m->id);
				return false;
			}
			if (seq != m->seq || seq <= last_seq) {
				diag("seq %" PRIu64 " (id %s, field %" PRIu64
				     ") after %" PRIu64, seq, m->id, m->seq,
				     last_seq);
				return false;
			}
			if (c->have_generation && gen != c->generation) {
				diag("generation %" PRIu64 " != %" PRIu64, gen,
				     c->generation);
				return false;
			}
			c->generation = gen;
			c->have_generation = true;
			last_seq = seq;
			ids_push(now, m->id);
		}
	}
	return true;
}

/* The message at log position `pos` across the pages. */
static const feed_msg_t *log_at(feed_msgs_t *pages, size_t n_pages,
				size_t pos)
{
	for (size_t p = 0; p < n_pages; p++) {
		if (pos < pages[p].n)
			return &pages[p].v[pos];
		pos -= pages[p].n;
	}
	return NULL;
}

static bool body_is(const feed_msg_t *m, unsigned round, size_t k)
{
	char want[BODY_MAX];
	size_t len = body_make(want, round, k);

	return m && m->body_len == len && memcmp(m->body, want, len) == 0;
}

/* Earlier rounds intact, then this round's acks in order with bodies. */
static bool check_prefix(const struct checker *c, const struct ids *now,
			 feed_msgs_t *pages, size_t n_pages, unsigned round,
			 const struct ids *acked)
{
	size_t base = c->log.n;

	if (now->n < base + acked->n) {
		diag("log holds %zu messages, want at least %zu", now->n,
		     base + acked->n);
		return false;
	}
	for (size_t i = 0; i < base; i++) {
		if (strcmp(now->v[i], c->log.v[i])) {
			diag("message %zu was %s, now %s", i, c->log.v[i],
			     now->v[i]);
			return false;
		}
	}
	for (size_t i = 0; i < acked->n; i++) {
		if (strcmp(now->v[base + i], acked->v[i])) {
			diag("acknowledged #%zu is %s, log has %s", i,
			     acked->v[i], now->v[base + i]);
			return false;
		}
		if (!body_is(log_at(pages, n_pages, base + i), round, i)) {
			diag("acknowledged #%zu (%s) has the wrong body", i,
			     acked->v[i]);
			return false;
		}
	}
	return true;
}

/* The unacknowledged tail: nothing, or the whole batch in flight, with the
 * bodies the child was sending. */
static bool check_tail(const struct ids *now, size_t base, size_t acked,
		       size_t inflight, feed_msgs_t *pages, size_t n_pages,
		       unsigned round)
{
	size_t extra = now->n - base - acked;

	if (extra != 0 && extra != inflight)
		return false;
	for (size_t i = 0; i < extra; i++) {
		if (!body_is(log_at(pages, n_pages, base + acked + i), round,
			     acked + i))
			return false;
	}
	return true;
}

static bool check_get_many(feed_t *feed, const struct ids *acked,
			   uint64_t now_ms)
{
	feed_msgs_t got = {0};
	const char **ids;
	bool good = false;
	int rc;

	if (acked->n == 0)
		return true;
	ids = calloc(acked->n, sizeof(*ids));
	if (!ids)
		bail_out("out of memory");
	for (size_t i = 0; i < acked->n; i++)
		ids[i] = acked->v[i];
	rc = feed_get_many(feed, PROJECT, QUEUE, ids, acked->n, now_ms, &got);
	if (rc) {
		diag("feed_get_many: %s", feed_strerror(rc));
		goto out;
	}
	if (got.n != acked->n) {
		diag("feed_get_many found %zu of %zu", got.n, acked->n);
		goto out;
	}
	good = true;
	for (size_t i = 0; good && i < got.n; i++)
		good = strcmp(got.v[i].id, acked->v[i]) == 0;
out:
	feed_msgs_free(&got);
	free(ids);
	return good;
}

#define MAX_PAGES 4096

/*
 * The worker queue holds one claimed message per group committed: those
 * acknowledged, and the one in flight when its log batch is in the log
 * (the two jobs were one transaction).
 */
static void check_work(struct checker *c, feed_t *feed, unsigned round,
		       const struct round_log *log, bool inflight_committed)
{
	feed_queue_stats_t st;
	uint64_t want = c->groups + log->groups + (inflight_committed ? 1 : 0);
	int rc = feed_queue_stats(feed, PROJECT, WORK, NOW_MS + round, &st);

	ok(rc == 0 && st.total == want && st.claimed == want,
	   "round %u: the worker queue holds one claimed message per "
	   "committed group (%" PRIu64 ")", round, want);
	if (rc == 0 && (st.total != want || st.claimed != want))
		diag("work: total %" PRIu64 ", claimed %" PRIu64, st.total,
		     st.claimed);
	c->groups = want;
}

/* Reopens the feed after round `round` and checks it; POINTS_PER_ROUND - 1
 * points (the caller made the first). */
static void verify_round(struct checker *c, const char *dir, unsigned round,
			 const struct round_log *log)
{
	static feed_msgs_t pages[MAX_PAGES];
	feed_options_t opts = {.durability = FEED_SYNC};
	uint64_t now_ms = NOW_MS + round;
	struct ids now = {0};
	size_t n_pages = 0;
	feed_t *feed = NULL;
	int rc = feed_open(&feed, dir, &opts);
	bool good;

	if (!is(rc, 0, "round %u: the feed reopens after the crash", round)) {
		diag("feed_open: %s", feed_strerror(rc));
		skip(POINTS_PER_ROUND - 2, "no feed");
		return;
	}
	good = read_log(feed, now_ms, pages, &n_pages, MAX_PAGES) &&
	       check_order(c, pages, n_pages, &now);
	ok(good, "round %u: the log reads back whole, seqs strictly "
		 "increasing, one generation", round);
	ok(good && check_prefix(c, &now, pages, n_pages, round, &log->acked),
	   "round %u: earlier messages intact, %zu acknowledged present in "
	   "order with their bodies", round, log->acked.n);
	good = good && now.n >= c->log.n + log->acked.n;
	ok(good && check_tail(&now, c->log.n, log->acked.n, log->inflight,
			      pages, n_pages, round),
	   "round %u: unacknowledged tail is none or all of the batch in "
	   "flight (%zu of %zu)", round, good ? now.n - c->log.n -
	   log->acked.n : 0, log->inflight);
	ok(check_get_many(feed, &log->acked, now_ms),
	   "round %u: feed_get_many finds every acknowledged id", round);
	check_work(c, feed, round, log,
		   good && now.n - c->log.n - log->acked.n > 0 &&
			   log->inflight_group);
	for (size_t p = 0; p < n_pages; p++)
		feed_msgs_free(&pages[p]);
	feed_close(feed);
	if (good) {
		ids_free(&c->log);
		c->log = now;
	} else {
		ids_free(&now);
	}
}

/* After the last round: the counts agree with the log. */
static void verify_stats(const struct checker *c, const char *dir,
			 unsigned rounds)
{
	feed_queue_stats_t st;
	feed_t *feed = NULL;
	int rc = feed_open(&feed, dir, NULL);

	if (rc) {
		ok(0, "queue stats count every message of the log");
		diag("feed_open: %s", feed_strerror(rc));
		return;
	}
	rc = feed_queue_stats(feed, PROJECT, QUEUE, NOW_MS + rounds, &st);
	ok(rc == 0 && st.total == c->log.n && st.claimed == 0,
	   "queue stats count every message of the log (%zu)", c->log.n);
	if (rc)
		diag("feed_queue_stats: %s", feed_strerror(rc));
	else if (st.total != c->log.n)
		diag("stats total %" PRIu64, st.total);
	feed_close(feed);
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

int main(void)
{
	const char *env = getenv("HERALD_CRASH_ROUNDS");
	unsigned rounds = env && *env ? (unsigned)atoi(env) : ROUNDS_DEFAULT;
	uint64_t seed = seed_get();
	struct checker c = {0};
	const char *dir;
	size_t total_acked = 0;

	if (rounds == 0)
		rounds = ROUNDS_DEFAULT;
	plan((int)(rounds * POINTS_PER_ROUND + 1));
	diag("seed %" PRIu64 " (replay with HERALD_SEED=%" PRIu64 ")", seed,
	     seed);
	rng_state = seed;
	dir = fixture_mkdir();
	for (unsigned r = 0; r < rounds; r++) {
		struct round_log log = {0};
		unsigned kill_ms = rng_range(&rng_state, KILL_MIN_MS,
					     KILL_MAX_MS);
		uint64_t child_seed = rng_next(&rng_state);
		bool from_fork = r % 4 == 0;
		int st = run_child(dir, r, child_seed, kill_ms, from_fork,
				   &log);

		ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
		   "round %u: the child was killed %u ms after %s, %zu "
		   "messages acknowledged", r, kill_ms,
		   from_fork ? "the fork" : "its first batch", log.acked.n);
		if (log.child_error)
			diag("the child failed: %s",
			     feed_strerror(log.child_error));
		verify_round(&c, dir, r, &log);
		total_acked += log.acked.n;
		ids_free(&log.acked);
	}
	diag("%zu messages acknowledged over %u rounds, %zu in the log",
	     total_acked, rounds, c.log.n);
	verify_stats(&c, dir, rounds);
	ids_free(&c.log);
	fixture_rmdir(dir);
	return exit_status();
}
