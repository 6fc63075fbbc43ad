/*
 * test_env.c - the environment: reopen, info, map growth, storage full,
 * sync, reader slots, concurrent use from several threads, and the
 * upgrade of a format-1 store.
 */
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "feed.h"
#include "fixture.h"
#include "tap.h"

#define T0  1700000000000ULL
#define SEC 1000ULL
#define MiB (UINT64_C(1) << 20)

typedef char feed_id_t[FEED_ID_LEN + 1];

static const char *P = "env";

/* Fills a body whose bytes depend on `n`, so bodies can be checked. */
static void fill_body(char *body, size_t len, unsigned n)
{
	for (size_t i = 0; i < len; i++)
		body[i] = (char)(n * 31 + i * 7);
}

static int append_bodies(feed_t *feed, const char *queue, unsigned first,
			 unsigned n, size_t len, uint64_t now_ms,
			 feed_id_t *ids)
{
	feed_msg_in_t in[8];
	uint8_t client[16];
	int rc;

	if (n > 8)
		bail_out("append_bodies: at most 8");
	fixture_client(client, 1);
	for (unsigned i = 0; i < n; i++) {
		char *b = malloc(len);

		if (!b)
			bail_out("out of memory");
		fill_body(b, len, first + i);
		in[i] = (feed_msg_in_t){.body = b, .body_len = len,
					.ttl_s = 3600};
	}
	rc = feed_append(feed, P, queue, in, n, client, now_ms, ids);
	for (unsigned i = 0; i < n; i++)
		free((void *)in[i].body);
	return rc;
}

/*
 * Reads the whole queue; counts messages and checks that message k (in
 * log order, from `first`) has the body fill_body(len, first + k).
 */
static size_t read_check(feed_t *feed, const char *queue, unsigned first,
			 size_t len, bool *intact)
{
	char m[FEED_ID_LEN + 1] = "";
	feed_read_opts_t ro = {.limit = 50,
			       .flags = FEED_READ_ECHO |
					FEED_READ_INCLUDE_CLAIMED};
	char *want = malloc(len);
	size_t seen = 0;

	*intact = want != NULL;
	for (int pages = 0; want && pages < 10000; pages++) {
		feed_msgs_t page = {0};
		int rc = feed_read(feed, P, queue, m, &ro, T0 + SEC, &page);
		size_t n = page.n;

		if (rc) {
			diag("read %s: %s", queue, feed_strerror(rc));
			*intact = false;
		}
		for (size_t i = 0; i < page.n; i++, seen++) {
			fill_body(want, len, first + (unsigned)seen);
			if (page.v[i].body_len != len ||
			    memcmp(page.v[i].body, want, len))
				*intact = false;
		}
		memcpy(m, page.next_marker, sizeof(m));
		feed_msgs_free(&page);
		if (rc || n == 0)
			break;
	}
	free(want);
	return seen;
}

static void test_reopen(void)
{
	const char *tmp;
	char dir[4096];
	feed_t *feed = fixture_open(&tmp, NULL);
	feed_id_t ids[3], more[1];
	feed_claim_t c = {0}, g = {0};
	feed_queue_stats_t st = {0};
	feed_options_t opts = {.durability = FEED_NOSYNC};
	void *meta = NULL;
	size_t len = 0;
	bool exists = false, intact = false;
	uint64_t gen, seq = 0;
	int rc;

	snprintf(dir, sizeof(dir), "%s", tmp);
	feed_queue_create(feed, P, "r", "M", 1, T0, NULL);
	append_bodies(feed, "r", 0, 3, 100, T0, ids);
	feed_claim_create(feed, P, "r", 600, 60, 1, T0, &c);
	feed_close(feed);

	feed = NULL;
	rc = feed_open(&feed, dir, NULL);
	is(rc, 0, "reopen the environment");
	if (rc)
		bail_out("reopen failed: %s", feed_strerror(rc));
	feed_queue_exists(feed, P, "r", &exists);
	ok(exists, "the queue survives a reopen");
	is(feed_queue_meta_get(feed, P, "r", &meta, &len), 0, "meta_get");
	ok(len == 1 && meta && memcmp(meta, "M", 1) == 0,
	   "so does its metadata");
	free(meta);
	is(read_check(feed, "r", 0, 100, &intact), 3,
	   "all three messages read");
	ok(intact, "with their bodies");
	is(feed_claim_get(feed, P, "r", c.id, T0 + SEC, &g), 0,
	   "the claim survives a reopen");
	ok(g.expires_ms == c.expires_ms && g.msgs.n == 1 &&
		   strcmp(g.msgs.v[0].id, ids[0]) == 0,
	   "with its expiry and message");
	feed_claim_free(&g);
	feed_queue_stats(feed, P, "r", T0 + SEC, &st);
	ok(st.total == 3 && st.claimed == 1, "stats survive a reopen");
	is(append_bodies(feed, "r", 3, 1, 100, T0 + SEC, more), 0,
	   "append after reopen");
	ok(feed_id_parse(more[0], &gen, &seq) == 0 && seq == 4,
	   "the sequence continues after a reopen (seq %llu)",
	   (unsigned long long)seq);
	feed_close(feed);

	/* NOSYNC: feed_sync flushes, and what was committed is there */
	feed = NULL;
	is(feed_open(&feed, dir, &opts), 0, "reopen in FEED_NOSYNC mode");
	is(append_bodies(feed, "r", 4, 1, 100, T0 + SEC, NULL), 0,
	   "append in FEED_NOSYNC mode");
	is(feed_sync(feed), 0, "feed_sync");
	feed_close(feed);
	feed = NULL;
	is(feed_open(&feed, dir, NULL), 0, "reopen after a NOSYNC session");
	is(read_check(feed, "r", 0, 100, &intact), 5,
	   "the NOSYNC session's message is there");
	ok(intact, "with every body intact");
	feed_close(feed);
	feed_claim_free(&c);
	fixture_rmdir(dir);

	feed = (feed_t *)1;
	ok(feed_open(&feed, "/nonexistent/herald/feed/dir", NULL) < 0,
	   "opening a directory that does not exist fails");
	feed_close(NULL);
	ok(1, "feed_close(NULL) is harmless");
}

static void test_info(void)
{
	const char *tmp;
	char dir[4096];
	feed_t *feed = fixture_open(&tmp, NULL);
	feed_env_info_t info;
	feed_options_t opts = {.map_size = MiB + 1, .max_map_size = 64 * MiB};
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);

	snprintf(dir, sizeof(dir), "%s", tmp);
	memset(&info, 0xa5, sizeof(info));
	is(feed_env_info(feed, &info), 0, "env_info");
	is(info.map_size, 64 * MiB, "the default map is 64 MiB");
	is(info.max_map_size, MiB * MiB, "the default maximum is 1 TiB");
	ok(info.used_bytes > 0 && info.used_bytes <= info.map_size,
	   "used bytes are within the map (%llu)",
	   (unsigned long long)info.used_bytes);
	ok(info.readers <= 510, "readers within the default slots (%u)",
	   info.readers);
	feed_close(feed);
	fixture_rmdir(dir);

	feed = fixture_open(&tmp, &opts);
	snprintf(dir, sizeof(dir), "%s", tmp);
	is(feed_env_info(feed, &info), 0, "env_info with options");
	ok(info.map_size % page == 0 &&
		   (info.map_size > MiB + 1 ? info.map_size - (MiB + 1)
					    : MiB + 1 - info.map_size) < page,
	   "the map size is rounded to the page size (%llu)",
	   (unsigned long long)info.map_size);
	is(info.max_map_size, 64 * MiB, "the maximum is as configured");
	feed_close(feed);
	fixture_rmdir(dir);
}

static void test_growth(void)
{
	enum { LEN = 64 * 1024, N = 64 };
	const char *tmp;
	char dir[4096];
	feed_options_t opts = {.map_size = MiB, .max_map_size = 64 * MiB};
	feed_t *feed = fixture_open(&tmp, &opts);
	feed_env_info_t info = {0};
	bool all = true, intact = false, doubling = false;
	uint64_t m;

	snprintf(dir, sizeof(dir), "%s", tmp);
	for (unsigned i = 0; i < N; i += 4) {
		int rc = append_bodies(feed, "grow", i, 4, LEN, T0, NULL);

		if (rc) {
			diag("append %u: %s", i, feed_strerror(rc));
			all = false;
			break;
		}
	}
	ok(all, "appending 4 MiB to a 1 MiB map succeeds");
	is(feed_env_info(feed, &info), 0, "env_info");
	ok(info.map_size > MiB && info.map_size <= 64 * MiB,
	   "the map grew within the maximum (%llu)",
	   (unsigned long long)info.map_size);
	for (m = MiB; m <= info.map_size; m *= 2)
		if (m == info.map_size)
			doubling = true;
	ok(doubling && info.map_size < 2 * info.used_bytes,
	   "by doubling, no further than needed (used %llu)",
	   (unsigned long long)info.used_bytes);
	is(read_check(feed, "grow", 0, LEN, &intact), N, "every message reads");
	ok(intact, "with its body intact");
	feed_close(feed);

	feed = NULL;
	is(feed_open(&feed, dir, &opts), 0,
	   "reopen a grown environment with the small initial map");
	if (feed) {
		is(read_check(feed, "grow", 0, LEN, &intact), N,
		   "every message reads after the reopen");
		ok(intact, "intact");
		is(append_bodies(feed, "grow", N, 4, LEN, T0, NULL), 0,
		   "and appends go on");
		feed_close(feed);
	} else {
		skip(3, "reopen failed");
	}
	fixture_rmdir(dir);
}

static void test_full(void)
{
	enum { LEN = 16 * 1024, BATCH = 4, MAX_BATCHES = 2000 };
	const char *tmp;
	char dir[4096];
	feed_options_t opts = {.map_size = MiB, .max_map_size = 4 * MiB};
	feed_t *feed = fixture_open(&tmp, &opts);
	feed_id_t *ids = calloc(MAX_BATCHES * BATCH, sizeof(*ids));
	const char **half = calloc(MAX_BATCHES * BATCH, sizeof(*half));
	feed_claim_t keep = {0};
	feed_compact_result_t cr;
	feed_queue_stats_t st = {0};
	feed_env_info_t info = {0};
	unsigned batches = 0, again = 0;
	size_t n, deleted = 0;
	bool intact = false, compacted = true;
	int rc = 0;

	snprintf(dir, sizeof(dir), "%s", tmp);
	if (!ids || !half)
		bail_out("out of memory");
	append_bodies(feed, "keep", 0, 1, 100, T0, NULL);
	feed_claim_create(feed, P, "keep", 600, 60, 1, T0, &keep);

	while (batches < MAX_BATCHES) {
		rc = append_bodies(feed, "fill", batches * BATCH, BATCH, LEN,
				   T0, ids + batches * BATCH);
		if (rc)
			break;
		batches++;
	}
	is(rc, FEED_EFULL, "appending past max_map_size fails with FEED_EFULL");
	ok(batches > 0, "after %u batches of %d x %d bytes", batches, BATCH,
	   LEN);
	n = (size_t)batches * BATCH;
	feed_env_info(feed, &info);
	diag("full at map_size %llu, used %llu, max %llu",
	     (unsigned long long)info.map_size,
	     (unsigned long long)info.used_bytes,
	     (unsigned long long)info.max_map_size);
	feed_queue_stats(feed, P, "fill", T0 + SEC, &st);
	is(st.total, n, "every batch committed before the error is there, "
	   "the refused one is not");
	is(read_check(feed, "fill", 0, LEN, &intact), n,
	   "a full environment still reads");
	ok(intact, "and nothing committed was lost");
	is(feed_claim_release(feed, P, "keep", keep.id, T0 + SEC), 0,
	   "a claim release works when full");

	feed_close(feed);
	feed = NULL;
	is(feed_open(&feed, dir, &opts), 0, "a full environment reopens");
	if (!feed)
		bail_out("cannot reopen the full environment");
	is(read_check(feed, "fill", 0, LEN, &intact), n,
	   "and reads everything after the reopen");

	for (size_t i = 0; i < n / 2; i++)
		half[i] = ids[i];
	is(feed_delete_many(feed, P, "fill", half, n / 2, T0 + SEC, &deleted),
	   0, "delete_many works when full");
	is(deleted, n / 2, "and deletes half");
	is(append_bodies(feed, "fill", 100000, BATCH, LEN, T0 + SEC, NULL), 0,
	   "after freeing space an append succeeds again");

	is(feed_queue_delete(feed, P, "fill"), 0,
	   "queue_delete works when full");
	for (int i = 0; i < 10000; i++) {
		memset(&cr, 0, sizeof(cr));
		rc = feed_compact(feed, T0 + SEC, 100, &cr);
		if (rc) {
			diag("compact: %s", feed_strerror(rc));
			compacted = false;
			break;
		}
		if (!cr.more)
			break;
	}
	ok(compacted, "compaction of the deleted queue works");
	while (again < batches) {
		if (append_bodies(feed, "refill", again * BATCH, BATCH, LEN,
				  T0 + SEC, NULL))
			break;
		again++;
	}
	ok(again >= batches * 3 / 4,
	   "after deleting the queue the space is reusable (%u of %u batches)",
	   again, batches);
	is(read_check(feed, "keep", 0, 100, &intact), 1,
	   "the other queue is untouched");
	ok(intact, "intact");

	feed_claim_free(&keep);
	free(ids);
	free(half);
	feed_close(feed);
	fixture_rmdir(dir);
}

static void test_readers(void)
{
	const char *tmp;
	char dir[4096];
	feed_t *feed = fixture_open(&tmp, NULL);
	feed_msgs_t page = {0};
	feed_read_opts_t ro = {.limit = 10, .flags = FEED_READ_ECHO};
	int cleared = -1, status = 0;
	pid_t pid;

	snprintf(dir, sizeof(dir), "%s", tmp);
	append_bodies(feed, "r", 0, 2, 10, T0, NULL);
	is(feed_check_readers(feed, &cleared), 0, "check_readers");
	is(cleared, 0, "no dead readers in a fresh environment");
	is(feed_check_readers(feed, NULL), 0, "check_readers with NULL");

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		feed_t *child = NULL;
		feed_msgs_t got = {0};

		/* leave without closing, as a crashed process would */
		if (feed_open(&child, dir, NULL))
			_exit(2);
		if (feed_read(child, P, "r", NULL, &ro, T0, &got) || got.n != 2)
			_exit(3);
		_exit(0);
	}
	if (pid < 0)
		bail_out("fork failed");
	waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	   "another process reads the environment, then dies");
	cleared = -1;
	is(feed_check_readers(feed, &cleared), 0,
	   "check_readers after it died");
	ok(cleared == 0 || cleared == 1,
	   "clears at most its one reader slot (%d)", cleared);
	is(feed_check_readers(feed, &cleared), 0, "check_readers again");
	is(cleared, 0, "nothing is left to clear");
	is(feed_read(feed, P, "r", NULL, &ro, T0, &page), 0,
	   "the environment reads after clearing");
	is(page.n, 2, "both messages");
	feed_msgs_free(&page);
	feed_close(feed);
	fixture_rmdir(dir);
}

/* ------------------------------------------------------------ threads */

enum { WRITERS = 4, PER_WRITER = 200, READERS = 2 };

struct shared {
	feed_t *feed;
	atomic_int writers_left;
	atomic_int errors;
};

struct reader {
	struct shared *sh;
	size_t seen;
	bool in_order;
};

struct writer {
	struct shared *sh;
	int n;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	uint8_t client[16];

	fixture_client(client, 100 + w->n);
	for (int i = 0; i < PER_WRITER; i++) {
		char body[32];
		feed_msg_in_t in;

		snprintf(body, sizeof(body), "t%d-%d", w->n, i);
		in = (feed_msg_in_t){.body = body, .body_len = strlen(body),
				     .ttl_s = 3600};
		if (feed_append(w->sh->feed, P, "mt", &in, 1, client, T0, NULL))
			atomic_fetch_add(&w->sh->errors, 1);
	}
	atomic_fetch_sub(&w->sh->writers_left, 1);
	return NULL;
}

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	char m[FEED_ID_LEN + 1] = "";
	feed_read_opts_t ro = {.limit = 7, .flags = FEED_READ_ECHO};
	uint64_t last = 0;
	bool done = false;

	r->in_order = true;
	for (long spins = 0; spins < 10000000; spins++) {
		feed_msgs_t page = {0};
		bool writers_done = atomic_load(&r->sh->writers_left) == 0;
		size_t n;

		if (feed_read(r->sh->feed, P, "mt", m, &ro, T0, &page)) {
			atomic_fetch_add(&r->sh->errors, 1);
			break;
		}
		for (size_t i = 0; i < page.n; i++, r->seen++) {
			if (page.v[i].seq <= last)
				r->in_order = false;
			last = page.v[i].seq;
		}
		memcpy(m, page.next_marker, sizeof(m));
		n = page.n;
		feed_msgs_free(&page);
		if (n == 0 && done)
			break;
		/* one more empty read after the writers finished */
		if (n == 0 && writers_done)
			done = true;
	}
	return NULL;
}

static void test_threads(void)
{
	const char *tmp;
	char dir[4096];
	struct shared sh;
	struct writer w[WRITERS];
	struct reader r[READERS];
	pthread_t wt[WRITERS], rt[READERS];
	feed_queue_stats_t st = {0};
	feed_read_opts_t ro = {.limit = 1000, .flags = FEED_READ_ECHO};
	feed_msgs_t all = {0};
	int next[WRITERS] = {0};
	bool per_writer = true;

	sh.feed = fixture_open(&tmp, NULL);
	snprintf(dir, sizeof(dir), "%s", tmp);
	atomic_init(&sh.writers_left, WRITERS);
	atomic_init(&sh.errors, 0);
	for (int i = 0; i < READERS; i++) {
		r[i] = (struct reader){.sh = &sh};
		pthread_create(&rt[i], NULL, reader_main, &r[i]);
	}
	for (int i = 0; i < WRITERS; i++) {
		w[i] = (struct writer){.sh = &sh, .n = i};
		pthread_create(&wt[i], NULL, writer_main, &w[i]);
	}
	for (int i = 0; i < WRITERS; i++)
		pthread_join(wt[i], NULL);
	for (int i = 0; i < READERS; i++)
		pthread_join(rt[i], NULL);

	is(atomic_load(&sh.errors), 0,
	   "%d writers and %d readers at once: no call fails", WRITERS,
	   READERS);
	feed_queue_stats(sh.feed, P, "mt", T0, &st);
	is(st.total, WRITERS * PER_WRITER, "every append is there");
	for (int i = 0; i < READERS; i++) {
		is(r[i].seen, WRITERS * PER_WRITER,
		   "concurrent reader %d sees every message once", i);
		ok(r[i].in_order, "concurrent reader %d sees them in log order",
		   i);
	}
	is(feed_read(sh.feed, P, "mt", NULL, &ro, T0, &all), 0, "read all");
	for (size_t i = 0; i < all.n; i++) {
		int t = -1, k = -1;
		char body[32];

		snprintf(body, sizeof(body), "%.*s", (int)all.v[i].body_len,
			 (const char *)all.v[i].body);
		if (sscanf(body, "t%d-%d", &t, &k) != 2 || t < 0 ||
		    t >= WRITERS || k != next[t]++)
			per_writer = false;
		if (all.v[i].seq != i + 1)
			per_writer = false;
	}
	ok(all.n == WRITERS * PER_WRITER && per_writer,
	   "each writer's messages keep its order; seqs are 1..%d",
	   WRITERS * PER_WRITER);
	feed_msgs_free(&all);
	feed_close(sh.feed);
	fixture_rmdir(dir);
}

/* ----------------------------------------------------------- upgrade */

/*
 * Format 1 by hand: the test writes data with today's code and turns it
 * into what format 1 would have stored, through LMDB directly - `expiry`
 * entries only for out-of-order messages (flag bit 0 set in their
 * records), no `lost` database, tail_expires_ms the latest in-order
 * expiry, format 1 in `info`. The record layouts are those of
 * feed_internal.h (the test must not include it): offsets below.
 */
enum {
	Q_TAIL = 40,   /* qrec.tail_expires_ms */
	M_EXPIRES = 8, /* mrec.expires_ms */
	M_FLAGS = 68,  /* mrec.flags */
};

static void be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void check_mdb(int rc, const char *what)
{
	if (rc)
		bail_out("%s: %s", what, mdb_strerror(rc));
}

/* Makes queue qid of the store in dir look like format 1. */
static void make_format1(const char *dir, uint64_t qid)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi msgs, expiry, lost, queues, info;
	MDB_cursor *cur;
	MDB_val key, val;
	uint8_t k[24];
	uint64_t tail = 0;
	uint32_t format = 1;
	int rc;

	check_mdb(mdb_env_create(&env), "env");
	mdb_env_set_maxdbs(env, 16);
	mdb_env_set_mapsize(env, 64 * MiB);
	check_mdb(mdb_env_open(env, dir, 0, 0644), "env open");
	check_mdb(mdb_txn_begin(env, NULL, 0, &txn), "txn");
	check_mdb(mdb_dbi_open(txn, "msgs", 0, &msgs), "msgs");
	check_mdb(mdb_dbi_open(txn, "expiry", 0, &expiry), "expiry");
	check_mdb(mdb_dbi_open(txn, "lost", 0, &lost), "lost");
	check_mdb(mdb_dbi_open(txn, "queues", 0, &queues), "queues");
	check_mdb(mdb_dbi_open(txn, "info", 0, &info), "info");
	/* No run starts at all, and no `lost`. */
	check_mdb(mdb_drop(txn, expiry, 0), "drop expiry");
	check_mdb(mdb_drop(txn, lost, 1), "drop lost");
	/* Format 1's entries: out-of-order messages, flagged. */
	check_mdb(mdb_cursor_open(txn, msgs, &cur), "cursor");
	be64(k, qid);
	be64(k + 8, 0);
	key = (MDB_val){16, k};
	for (rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
	     rc == 0 && get_be64(key.mv_data) == qid;
	     rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
		uint8_t rec[4096], ek[24];
		uint64_t exp;
		uint32_t flags;
		MDB_val v2 = {val.mv_size, rec}, k2, e = {0, NULL};

		if (val.mv_size > sizeof(rec))
			bail_out("record too large");
		memcpy(rec, val.mv_data, val.mv_size);
		memcpy(&exp, rec + M_EXPIRES, 8);
		memcpy(&flags, rec + M_FLAGS, 4);
		flags &= ~1u;
		if (exp < tail) {
			flags |= 1u;
			be64(ek, qid);
			be64(ek + 8, exp);
			memcpy(ek + 16, (uint8_t *)key.mv_data + 8, 8);
			k2 = (MDB_val){24, ek};
			check_mdb(mdb_put(txn, expiry, &k2, &e, 0), "entry");
		} else {
			tail = exp;
		}
		memcpy(rec + M_FLAGS, &flags, 4);
		check_mdb(mdb_cursor_put(cur, &key, &v2, MDB_CURRENT), "msg");
	}
	mdb_cursor_close(cur);
	be64(k, qid);
	key = (MDB_val){8, k};
	check_mdb(mdb_get(txn, queues, &key, &val), "queue");
	{
		uint8_t rec[1024];
		MDB_val v2 = {val.mv_size, rec};

		memcpy(rec, val.mv_data, val.mv_size);
		memcpy(rec + Q_TAIL, &tail, 8);
		check_mdb(mdb_put(txn, queues, &key, &v2, 0), "queue put");
	}
	key = (MDB_val){6, "format"};
	val = (MDB_val){4, &format};
	check_mdb(mdb_put(txn, info, &key, &val, 0), "format");
	check_mdb(mdb_txn_commit(txn), "commit");
	mdb_env_close(env);
}

/* Sets format 1 only (a crash after some of the upgrade was written). */
static void set_format1(const char *dir)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi info;
	uint32_t format = 1;
	MDB_val key = {6, "format"}, val = {4, &format};

	check_mdb(mdb_env_create(&env), "env");
	mdb_env_set_maxdbs(env, 16);
	mdb_env_set_mapsize(env, 64 * MiB);
	check_mdb(mdb_env_open(env, dir, 0, 0644), "env open");
	check_mdb(mdb_txn_begin(env, NULL, 0, &txn), "txn");
	check_mdb(mdb_dbi_open(txn, "info", 0, &info), "info");
	check_mdb(mdb_put(txn, info, &key, &val, 0), "format");
	check_mdb(mdb_txn_commit(txn), "commit");
	mdb_env_close(env);
}

enum { UPN = 41 };

struct up_model {
	uint64_t exp[UPN];
	bool gone[UPN];
};

static uint64_t up_live(const struct up_model *m, uint64_t now)
{
	uint64_t n = 0;

	for (int i = 0; i < UPN; i++)
		n += !m->gone[i] && m->exp[i] > now;
	return n;
}

static void up_append(feed_t *feed, struct up_model *m, feed_id_t *ids,
		      int first, int n, uint32_t ttl, uint64_t now)
{
	for (int i = first; i < first + n; i++) {
		char body[8];
		feed_msg_in_t in = {body, 0, ttl, 0};

		in.body_len = (size_t)snprintf(body, sizeof(body), "m%d", i);
		if (feed_append(feed, P, "up", &in, 1, NULL, now, &ids[i]))
			bail_out("append");
		m->exp[i] = now + ttl * SEC;
		m->gone[i] = false;
	}
}

/* Checks the upgraded queue against the model at the given times. */
static void up_check(feed_t *feed, struct up_model *m, const char *marker,
		     const char *what)
{
	static const uint64_t at[] = {0, 12, 15, 61, 150, 250};
	feed_read_opts_t ro = {.limit = 100,
			       .flags = FEED_READ_INCLUDE_CLAIMED | FEED_READ_ECHO};
	feed_msgs_t page = {0};
	bool exact = true;
	size_t removed = 0, want_removed = 0;

	is(feed_read(feed, P, "up", marker, &ro, T0 + 12 * SEC, &page), 0,
	   "%s: read from before a format-1 expiry hole", what);
	ok(page.gap && page.missed == -1,
	   "%s: it is a gap of unknown size (missed %lld)", what,
	   (long long)page.missed);
	feed_msgs_free(&page);
	for (size_t k = 0; k < sizeof(at) / sizeof(at[0]); k++) {
		uint64_t now = T0 + at[k] * SEC, want = up_live(m, now);
		feed_queue_stats_t st;
		feed_compact_result_t cr;

		feed_queue_stats(feed, P, "up", now, &st);
		exact &= st.total == want;
		if (st.total != want)
			diag("+%llu s: total %llu, want %llu",
			     (unsigned long long)at[k],
			     (unsigned long long)st.total,
			     (unsigned long long)want);
		do {
			if (feed_compact(feed, now, 100, &cr))
				bail_out("compact");
			removed += cr.messages;
		} while (cr.more);
		for (int i = 0; i < UPN; i++)
			if (!m->gone[i] && m->exp[i] <= now) {
				m->gone[i] = true;
				want_removed++;
			}
		feed_queue_stats(feed, P, "up", now, &st);
		exact &= st.total == want;
	}
	ok(exact, "%s: stats are exact before and after compaction", what);
	is(removed, want_removed,
	   "%s: compaction removed every expired message once", what);
	is(up_live(m, UINT64_MAX - 1), 0, "%s: and every message expired",
	   what);
}

static void test_upgrade(void)
{
	const char *dir;
	feed_t *feed = fixture_open(&dir, NULL);
	struct up_model m;
	feed_id_t ids[UPN];
	feed_claim_t c = {0};
	feed_compact_result_t cr;
	feed_read_opts_t ro = {.limit = 100,
			       .flags = FEED_READ_INCLUDE_CLAIMED | FEED_READ_ECHO};
	feed_msgs_t page = {0};
	uint64_t qid;
	char marker[FEED_ID_LEN + 1];

	up_append(feed, &m, ids, 0, 1, 100, T0);
	up_append(feed, &m, ids, 1, 20, 10, T0);
	up_append(feed, &m, ids, 21, 10, 200, T0);
	up_append(feed, &m, ids, 31, 10, 10, T0 + SEC);
	feed_claim_create(feed, P, "up", 30, 30, 3, T0, &c);
	is(c.msgs.n, 3, "claimed m0..m2");
	feed_claim_free(&c);
	m.exp[1] = m.exp[2] = T0 + 60 * SEC;
	feed_delete(feed, P, "up", ids[5], NULL, T0, NULL);
	feed_delete(feed, P, "up", ids[25], NULL, T0, NULL);
	m.gone[5] = m.gone[25] = true;
	do
		feed_compact(feed, T0 + 10 * SEC, 100, &cr);
	while (cr.more);
	for (int i = 0; i < UPN; i++)
		m.gone[i] |= m.exp[i] <= T0 + 10 * SEC;
	feed_close(feed);
	feed_marker_before(ids[3], marker);
	feed_id_parse(ids[0], &qid, NULL);

	make_format1(dir, qid);
	feed = NULL;
	is(feed_open(&feed, dir, NULL), 0, "a format-1 store opens (upgraded)");
	if (!feed)
		return;
	is(feed_read(feed, P, "up", NULL, &ro, T0 + 10 * SEC, &page), 0,
	   "read it whole");
	is(page.n, up_live(&m, T0 + 10 * SEC), "every live message reads");
	feed_msgs_free(&page);
	feed_close(feed);

	/* A crash before the format was written: the upgrade runs again. */
	set_format1(dir);
	is(feed_open(&feed, dir, NULL), 0, "a half-upgraded store opens");
	up_check(feed, &m, marker, "after the upgrade, twice");
	feed_close(feed);
	fixture_rmdir(dir);
}

int main(void)
{
	test_reopen();
	test_info();
	test_growth();
	test_full();
	test_readers();
	test_threads();
	test_upgrade();
	done_testing();
	return exit_status();
}
