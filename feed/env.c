/*
 * env.c - the feed environment: opening LMDB, errors, and the transaction
 * runners every other file goes through.
 *
 * Map growth. LMDB's map is a fixed reservation of address space; a write
 * that needs more fails with MDB_MAP_FULL. The group runner then commits
 * the jobs before it, doubles the map (up to max_map_size) and runs the
 * job again in a new transaction. Resizing
 * is only allowed while no transaction of this process is active, so every
 * transaction holds `maplock` shared and the resize takes it exclusively.
 *
 * Storage full. At max_map_size, writes that add data fail with
 * FEED_EFULL. Writes that free space (deletes, releases, compaction) must
 * still go through, but in a copy-on-write B-tree even a delete needs fresh
 * pages; those writes may therefore grow the map into a reserve above the
 * maximum, after which the map is shrunk back as far as LMDB allows.
 *
 * Threading: any thread may read; writers queue on `wlock`, which also
 * orders them before the resize lock, so a writer waiting to resize never
 * deadlocks with another writer.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "feed_internal.h"

#define MiB (UINT64_C(1) << 20)

static const struct {
	int code;
	const char *text;
} errors[] = {
	{FEED_OK, "success"},
#define FEED__TEXT(name, value, text) {name, text},
	FEED_ERRORS(FEED__TEXT)
#undef FEED__TEXT
};

const char *feed_strerror(int err)
{
	for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++)
		if (errors[i].code == err)
			return errors[i].text;
	return "unknown error";
}

const char *feed_version(void)
{
	return MDB_VERSION_STRING;
}

_Thread_local uint64_t feed__touched;

uint64_t feed_debug_touched(void)
{
	return feed__touched;
}

static _Thread_local unsigned fail_in;

void feed_debug_fail_alloc(unsigned n)
{
	fail_in = n;
}

void *feed__malloc(size_t size)
{
	if (fail_in && --fail_in == 0)
		return NULL;
	return malloc(size);
}

/* Translates an LMDB code; feed's own codes pass through unchanged. */
int feed__err(int rc)
{
	switch (rc) {
	case MDB_SUCCESS:
		return 0;
	case MDB_NOTFOUND:
		return FEED_ENOTFOUND;
	case MDB_MAP_FULL:
		return FEED__EMAPFULL;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID:
		return FEED_ECORRUPT;
	case MDB_VERSION_MISMATCH:
		return FEED_EVERSION;
	case MDB_BAD_VALSIZE:
		return FEED_ETOOBIG;
	case ENOMEM:
		return FEED_ENOMEM;
	case ENOSPC:
		return FEED_EFULL;
	default:
		/* feed's own codes pass through */
		if (rc <= FEED_EINVAL && rc >= FEED__EMAPFULL)
			return rc;
		return FEED_EIO;
	}
}

/* ------------------------------------------------------------- reads */

/*
 * Read transactions are reused: a finished one is reset (it lets go of
 * its snapshot, so it does not hold pages back from reuse) and kept for
 * the next read, which renews it. That saves the allocation and the
 * reader-table locking of a fresh begin (lmdb.h, mdb_txn_reset). A reset
 * transaction is not active, so the map may still be resized.
 */
int feed__read_begin(feed_t *feed, MDB_txn **txn)
{
	MDB_txn *t = NULL;
	int rc;

	pthread_rwlock_rdlock(&feed->maplock);
	pthread_mutex_lock(&feed->rlock);
	if (feed->n_idle)
		t = feed->idle[--feed->n_idle];
	pthread_mutex_unlock(&feed->rlock);
	if (t) {
		rc = mdb_txn_renew(t);
		if (rc == 0) {
			*txn = t;
			return 0;
		}
		mdb_txn_abort(t);
	}
	rc = mdb_txn_begin(feed->env, NULL, MDB_RDONLY, txn);
	if (rc) {
		pthread_rwlock_unlock(&feed->maplock);
		return feed__err(rc);
	}
	return 0;
}

void feed__read_end(feed_t *feed, MDB_txn *txn)
{
	bool kept = false;

	mdb_txn_reset(txn);
	pthread_mutex_lock(&feed->rlock);
	if (feed->n_idle < FEED__IDLE_READERS) {
		feed->idle[feed->n_idle++] = txn;
		kept = true;
	}
	pthread_mutex_unlock(&feed->rlock);
	if (!kept)
		mdb_txn_abort(txn);
	pthread_rwlock_unlock(&feed->maplock);
}

/* ---------------------------------------------------------- map size */

/* Sets the map size; the caller holds wlock and no transaction is open. */
static int map_resize(feed_t *feed, uint64_t size)
{
	int rc;

	pthread_rwlock_wrlock(&feed->maplock);
	rc = mdb_env_set_mapsize(feed->env, (size_t)size);
	if (rc == 0) {
		MDB_envinfo info;

		mdb_env_info(feed->env, &info);
		feed->map_size = info.me_mapsize;
	}
	pthread_rwlock_unlock(&feed->maplock);
	return feed__err(rc);
}

/* The next map size for a write that hit MAP_FULL (one that frees space
 * may go into the reserve), or 0 when none. */
static uint64_t map_next(const feed_t *feed, bool frees)
{
	if (feed->map_size < feed->max_map_size) {
		uint64_t size = feed->map_size * 2;

		return size < feed->max_map_size ? size : feed->max_map_size;
	}
	if (frees && feed->map_size < feed->max_map_size + feed->reserve)
		return feed->max_map_size + feed->reserve;
	return 0;
}

/* ------------------------------------------------------- group commit */

/*
 * A group is run in segments: one write transaction runs jobs in order,
 * each in a transaction nested in it (so a failing job is undone alone;
 * a direct job runs in it straight, and nested only after it failed for
 * a reason of the storage, the segment's earlier jobs running again),
 * until every job ran or one needs a bigger map. The segment commits what
 * ran; the map grows; the next segment starts with the job that needed
 * room. So a job that committed never runs again, and one commit (one
 * fsync) serves the whole group unless the map has to grow.
 */
struct feed_txn {
	feed_t *feed;
	MDB_txn *txn;  /* the job's own, nested in the segment's */
	bool reserve;  /* the map is in its reserve: only writes that free */
	bool frees;    /* every write of the job so far frees space */
	bool mapfull;  /* a write of the job needed a bigger map */
};

int feed__run(feed_t *feed, feed_txn_t *t, feed__write_fn fn, void *ctx,
	      unsigned flags)
{
	int rc;

	if (!t)
		return feed__write(feed, fn, ctx, flags);
	if (!(flags & FEED__W_FREES)) {
		if (t->reserve)
			return FEED_EFULL;
		t->frees = false;
	}
	rc = fn(t->feed, t->txn, ctx);
	if (rc == FEED__EMAPFULL)
		t->mapfull = true;
	return rc;
}

feed_t *feed__txn_feed(feed_txn_t *t)
{
	return t->feed;
}

/* A direct job that failed for a reason of the storage runs again nested
 * (set on the job by the runner, cleared when the group returns). */
#define JOB_NESTED (1u << 31)

static bool direct(const feed_job_t *job)
{
	return (job->flags & (FEED_JOB_DIRECT | JOB_NESTED)) ==
	       FEED_JOB_DIRECT;
}

/* Whether a direct job's error may have left writes of it behind: only a
 * storage failure can strike after its first write. */
static bool spoils(int rc)
{
	return rc == FEED__EMAPFULL || rc == FEED_ENOMEM || rc == FEED_EIO ||
	       rc == FEED_ECORRUPT || rc == FEED_EVERSION;
}

/* Runs one job in a transaction nested in `parent`, or straight in it
 * when the job is direct. */
static int job_run(feed_t *feed, MDB_txn *parent, feed_job_t *job,
		   bool reserve, bool *frees)
{
	struct feed_txn t = {feed, parent, reserve, true, false};
	int rc;

	*frees = true;
	if (direct(job)) {
		rc = job->fn(&t, job->ctx);
		*frees = t.frees;
		return t.mapfull ? FEED__EMAPFULL : rc;
	}
	rc = feed__err(mdb_txn_begin(feed->env, parent, 0, &t.txn));
	if (rc)
		return rc;
	rc = job->fn(&t, job->ctx);
	/* A job that went on after a full map has a spoiled transaction. */
	if (t.mapfull)
		rc = FEED__EMAPFULL;
	if (rc == 0)
		rc = feed__err(mdb_txn_commit(t.txn)); /* aborts on failure */
	else
		mdb_txn_abort(t.txn);
	*frees = t.frees;
	return rc;
}

/*
 * One segment: runs jobs[*i..n) in one write transaction and commits the
 * ones that ran. Returns 0 when all ran, FEED__EMAPFULL with *i at a job
 * that needs a bigger map (*frees: whether it only frees space), or an
 * error of the transaction itself (*i at the first job not committed).
 */
static int segment(feed_t *feed, feed_job_t *jobs, size_t n, size_t *i,
		   bool *frees)
{
	size_t first = *i;
	bool reserve = feed->map_size > feed->max_map_size;
	MDB_txn *txn;
	int rc, crc;

	pthread_rwlock_rdlock(&feed->maplock);
	rc = feed__err(mdb_txn_begin(feed->env, NULL, 0, &txn));
	if (rc) {
		pthread_rwlock_unlock(&feed->maplock);
		return rc;
	}
	for (; *i < n; (*i)++) {
		bool was_direct = direct(&jobs[*i]);

		rc = job_run(feed, txn, &jobs[*i], reserve, frees);
		if (was_direct && spoils(rc)) {
			/* Its writes may be half there: drop the segment and
			 * run it again, this job nested. */
			jobs[*i].flags |= JOB_NESTED;
			mdb_txn_abort(txn);
			pthread_rwlock_unlock(&feed->maplock);
			*i = first;
			return FEED__ERETRY;
		}
		if (rc == FEED__EMAPFULL)
			break;
		jobs[*i].status = rc;
		rc = 0;
	}
	if (*i == first) {
		/* The first job needs room: nothing to commit. */
		mdb_txn_abort(txn);
		pthread_rwlock_unlock(&feed->maplock);
		return rc;
	}
	crc = feed__err(mdb_txn_commit(txn));
	pthread_rwlock_unlock(&feed->maplock);
	if (crc) {
		/* Nothing of the segment is committed: run it again after
		 * growing (the map), or fail it. */
		*i = first;
		if (crc == FEED__EMAPFULL)
			*frees = false;
		return crc;
	}
	return rc;
}

/* A write that changes (almost) nothing: see feed_write_group. */
static int touch_fn(feed_t *feed, MDB_txn *txn, void *ctx)
{
	MDB_val key = {4, "tick"}, val = {sizeof(size_t), NULL};
	size_t id = mdb_txn_id(txn);

	(void)ctx;
	val.mv_data = &id;
	return feed__err(mdb_put(txn, feed->info, &key, &val, 0));
}

static int touch_job(feed_txn_t *t, void *ctx)
{
	return feed__run(t->feed, t, touch_fn, ctx, FEED__W_FREES);
}

/* Runs the group; the caller holds wlock. */
static int group_locked(feed_t *feed, feed_job_t *jobs, size_t n)
{
	bool touched = false;
	size_t i = 0;
	int rc = 0;

	while (i < n) {
		bool frees = false;
		uint64_t size;

		rc = segment(feed, jobs, n, &i, &frees);
		if (rc == 0)
			break;
		if (rc == FEED__ERETRY)
			continue;
		if (rc != FEED__EMAPFULL) {
			/* The transaction itself failed: nothing from job i
			 * on is committed. */
			for (; i < n; i++)
				jobs[i].status = rc;
			break;
		}
		size = map_next(feed, frees);
		if (size) {
			rc = map_resize(feed, size);
			if (rc == 0)
				continue;
		} else if (!touched) {
			/*
			 * LMDB reuses the pages a transaction freed only from
			 * the second transaction after it. When full, spend
			 * one small transaction so space freed just before
			 * becomes usable, and try once more.
			 */
			feed_job_t touch = {touch_job, NULL, 0, 0};
			size_t one = 0;

			touched = true;
			if (segment(feed, &touch, 1, &one, &frees) == 0)
				continue;
			rc = FEED_EFULL;
		} else {
			rc = FEED_EFULL;
		}
		/* No more room for job i: it fails alone. */
		jobs[i++].status = rc;
		touched = false;
		rc = 0;
	}
	/* Give the reserve back: appends must not use it. LMDB keeps the
	 * map at least as large as the data in it. */
	if (feed->map_size > feed->max_map_size)
		map_resize(feed, feed->max_map_size);
	return rc;
}

int feed_write_group(feed_t *feed, feed_job_t *jobs, size_t n)
{
	int rc;

	if (n && !jobs)
		return FEED_EINVAL;
	for (size_t i = 0; i < n; i++)
		jobs[i].status = feed ? FEED_EIO : FEED_EINVAL;
	if (!feed)
		return FEED_EINVAL;
	if (n == 0)
		return 0;
	pthread_mutex_lock(&feed->wlock);
	rc = group_locked(feed, jobs, n);
	pthread_mutex_unlock(&feed->wlock);
	for (size_t i = 0; i < n; i++)
		jobs[i].flags &= ~JOB_NESTED;
	return rc;
}

/* A group of one job that runs fn: what every write without a txn uses. */
struct one_ctx {
	feed__write_fn fn;
	void *ctx;
	unsigned flags;
};

static int one_job(feed_txn_t *t, void *arg)
{
	struct one_ctx *o = arg;

	return feed__run(t->feed, t, o->fn, o->ctx, o->flags);
}

int feed__write(feed_t *feed, feed__write_fn fn, void *ctx, unsigned flags)
{
	struct one_ctx o = {fn, ctx, flags};
	feed_job_t job = {one_job, &o, 0, 0};
	int rc = feed_write_group(feed, &job, 1);

	return rc ? rc : job.status;
}

/* ------------------------------------------------------------ opening */

/* Opens the databases; *found = the store's format (FEED__FORMAT for a
 * new one, which gets it written). */
static int open_dbs(feed_t *feed, MDB_txn *txn, uint32_t *found)
{
	static const struct {
		const char *name;
		size_t off;
	} dbs[] = {
		{"info", offsetof(feed_t, info)},
		{"names", offsetof(feed_t, names)},
		{"queues", offsetof(feed_t, queues)},
		{"msgs", offsetof(feed_t, msgs)},
		{"expiry", offsetof(feed_t, expiry)},
		{"avail", offsetof(feed_t, avail)},
		{"claims", offsetof(feed_t, claims)},
		{"cexpiry", offsetof(feed_t, cexpiry)},
		{"due", offsetof(feed_t, due)},
		{"lost", offsetof(feed_t, lost)},
		{"delayed", offsetof(feed_t, delayed)},
		{"idem", offsetof(feed_t, idem)},
		{"iexpiry", offsetof(feed_t, iexpiry)},
		{"subs", offsetof(feed_t, subs)},
		{"sexpiry", offsetof(feed_t, sexpiry)},
		{"suri", offsetof(feed_t, suri)},
	};
	MDB_val k = {6, "format"}, v;
	uint32_t format = FEED__FORMAT;
	int rc;

	for (size_t i = 0; i < sizeof(dbs) / sizeof(dbs[0]); i++) {
		MDB_dbi *dbi = (MDB_dbi *)((char *)feed + dbs[i].off);

		rc = mdb_dbi_open(txn, dbs[i].name, MDB_CREATE, dbi);
		if (rc)
			return feed__err(rc);
	}
	*found = format;
	rc = mdb_get(txn, feed->info, &k, &v);
	if (rc == MDB_NOTFOUND) {
		v.mv_size = sizeof(format);
		v.mv_data = &format;
		return feed__err(mdb_put(txn, feed->info, &k, &v, 0));
	}
	if (rc)
		return feed__err(rc);
	if (v.mv_size != sizeof(format))
		return FEED_EVERSION;
	memcpy(found, v.mv_data, sizeof(*found));
	return *found >= 1 && *found <= FEED__FORMAT ? 0 : FEED_EVERSION;
}

static int open_dbs_fn(feed_t *feed, MDB_txn *txn, void *ctx)
{
	return open_dbs(feed, txn, ctx);
}

static uint64_t clamp(uint64_t v, uint64_t lo, uint64_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* The sizes and limits of `opts`, with their defaults, in whole pages. */
static void sizes_set(feed_t *feed, const feed_options_t *opts)
{
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);

	feed->max_map_size = opts->max_map_size ? opts->max_map_size
						: UINT64_C(1) << 40;
	feed->map_size = opts->map_size ? opts->map_size : 64 * MiB;
	if (feed->map_size > feed->max_map_size)
		feed->map_size = feed->max_map_size;
	/* Whole pages: LMDB would use whole pages anyway, and a size we
	 * report should be the size we use. */
	feed->max_map_size = (feed->max_map_size + page - 1) / page * page;
	feed->map_size = (feed->map_size + page - 1) / page * page;
	feed->reserve = clamp(feed->max_map_size / 8, MiB, 256 * MiB);
	feed->max_metadata = opts->max_metadata ? opts->max_metadata : 65536;
}

static void locks_init(feed_t *feed)
{
	pthread_rwlockattr_t attr;

	pthread_mutex_init(&feed->wlock, NULL);
	pthread_mutex_init(&feed->rlock, NULL);
	pthread_rwlockattr_init(&attr);
	/* A writer waiting to resize must not starve behind readers. */
	pthread_rwlockattr_setkind_np(
		&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&feed->maplock, &attr);
	pthread_rwlockattr_destroy(&attr);
}

/* Creates and opens the LMDB environment in dir; an LMDB code. */
static int env_open(feed_t *feed, const char *dir, unsigned flags,
		    unsigned max_readers)
{
	MDB_envinfo info;
	int rc, dead;

	rc = mdb_env_create(&feed->env);
	if (rc)
		return rc;
	rc = mdb_env_set_maxdbs(feed->env, 24);
	if (rc == 0)
		rc = mdb_env_set_maxreaders(feed->env,
					    max_readers ? max_readers : 510);
	if (rc == 0)
		rc = mdb_env_set_mapsize(feed->env, (size_t)feed->map_size);
	if (rc == 0)
		rc = mdb_env_open(feed->env, dir, flags, 0644);
	if (rc)
		return rc;
	mdb_reader_check(feed->env, &dead);
	/* An existing file may be larger than the configured start. */
	mdb_env_info(feed->env, &info);
	feed->map_size = info.me_mapsize;
	return 0;
}

int feed_open(feed_t **out, const char *dir, const feed_options_t *opts)
{
	static const feed_options_t defaults;
	unsigned env_flags = MDB_NOTLS;
	uint32_t format = 0;
	feed_t *feed;
	int rc;

	if (!out || !dir)
		return FEED_EINVAL;
	*out = NULL;
	if (!opts)
		opts = &defaults;
	if (opts->durability == FEED_NOSYNC)
		env_flags |= MDB_NOSYNC;
	else if (opts->durability != FEED_SYNC)
		return FEED_EINVAL;
	feed = calloc(1, sizeof(*feed));
	if (!feed)
		return FEED_ENOMEM;
	sizes_set(feed, opts);
	locks_init(feed);
	rc = env_open(feed, dir, env_flags, opts->max_readers);
	if (rc) {
		rc = feed__err(rc);
		goto fail;
	}
	rc = feed__write(feed, open_dbs_fn, &format, 0);
	if (rc == 0 && format != FEED__FORMAT)
		rc = feed__upgrade(feed, format);
	if (rc)
		goto fail;
	*out = feed;
	return 0;

fail:
	if (feed->env)
		mdb_env_close(feed->env);
	pthread_rwlock_destroy(&feed->maplock);
	pthread_mutex_destroy(&feed->wlock);
	pthread_mutex_destroy(&feed->rlock);
	free(feed);
	return rc == FEED__EMAPFULL ? FEED_EFULL : rc;
}

void feed_close(feed_t *feed)
{
	if (!feed)
		return;
	while (feed->n_idle)
		mdb_txn_abort(feed->idle[--feed->n_idle]);
	pthread_mutex_destroy(&feed->rlock);
	mdb_env_close(feed->env);
	pthread_rwlock_destroy(&feed->maplock);
	pthread_mutex_destroy(&feed->wlock);
	free(feed);
}

int feed_sync(feed_t *feed)
{
	return feed__err(mdb_env_sync(feed->env, 1));
}

int feed_check_readers(feed_t *feed, int *cleared)
{
	int dead = 0, rc = mdb_reader_check(feed->env, &dead);

	if (cleared)
		*cleared = dead;
	return feed__err(rc);
}

int feed_env_info(feed_t *feed, feed_env_info_t *out)
{
	MDB_envinfo info;
	MDB_stat st;
	int rc;

	pthread_rwlock_rdlock(&feed->maplock);
	rc = mdb_env_info(feed->env, &info);
	if (rc == 0)
		rc = mdb_env_stat(feed->env, &st);
	pthread_rwlock_unlock(&feed->maplock);
	if (rc)
		return feed__err(rc);
	out->map_size = info.me_mapsize;
	out->max_map_size = feed->max_map_size;
	out->used_bytes = (uint64_t)(info.me_last_pgno + 1) * st.ms_psize;
	out->readers = info.me_numreaders;
	return 0;
}
