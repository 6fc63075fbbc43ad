/*
 * env.c - the feed environment: opening LMDB, errors, and the transaction
 * runners every other file goes through.
 *
 * Map growth. LMDB's map is a fixed reservation of address space; a write
 * that needs more fails with MDB_MAP_FULL. feed__write() then aborts,
 * doubles the map (up to max_map_size) and runs the write again. Resizing
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
#define FEED__FORMAT 1u

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

/* ------------------------------------------------------- transactions */

int feed__read_begin(feed_t *feed, MDB_txn **txn)
{
	int rc;

	pthread_rwlock_rdlock(&feed->maplock);
	rc = mdb_txn_begin(feed->env, NULL, MDB_RDONLY, txn);
	if (rc) {
		pthread_rwlock_unlock(&feed->maplock);
		return feed__err(rc);
	}
	return 0;
}

void feed__read_end(feed_t *feed, MDB_txn *txn)
{
	mdb_txn_abort(txn);
	pthread_rwlock_unlock(&feed->maplock);
}

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

/* The next map size for a write that hit MAP_FULL, or 0 when none. */
static uint64_t map_next(const feed_t *feed, unsigned flags)
{
	if (feed->map_size < feed->max_map_size) {
		uint64_t size = feed->map_size * 2;

		return size < feed->max_map_size ? size : feed->max_map_size;
	}
	if ((flags & FEED__W_FREES) &&
	    feed->map_size < feed->max_map_size + feed->reserve)
		return feed->max_map_size + feed->reserve;
	return 0;
}

/* Runs fn in write transactions until it commits or fails for a reason
 * other than a map that can still grow. The caller holds wlock. */
static int write_locked(feed_t *feed, feed__write_fn fn, void *ctx,
			unsigned flags)
{
	MDB_txn *txn;
	int rc;

	for (;;) {
		uint64_t size;

		pthread_rwlock_rdlock(&feed->maplock);
		rc = feed__err(mdb_txn_begin(feed->env, NULL, 0, &txn));
		if (rc == 0) {
			rc = fn(feed, txn, ctx);
			if (rc == 0)
				rc = feed__err(mdb_txn_commit(txn));
			else
				mdb_txn_abort(txn);
		}
		pthread_rwlock_unlock(&feed->maplock);
		if (rc != FEED__EMAPFULL)
			return rc;
		size = map_next(feed, flags);
		if (size == 0)
			return FEED_EFULL;
		rc = map_resize(feed, size);
		if (rc)
			return rc;
	}
}

/* A write that changes (almost) nothing: see feed__write. */
static int touch_fn(feed_t *feed, MDB_txn *txn, void *ctx)
{
	MDB_val key = {4, "tick"}, val = {sizeof(size_t), NULL};
	size_t id = mdb_txn_id(txn);

	(void)ctx;
	val.mv_data = &id;
	return feed__err(mdb_put(txn, feed->info, &key, &val, 0));
}

int feed__write(feed_t *feed, feed__write_fn fn, void *ctx, unsigned flags)
{
	int rc;

	pthread_mutex_lock(&feed->wlock);
	rc = write_locked(feed, fn, ctx, flags);
	if (rc == FEED_EFULL && !(flags & FEED__W_FREES)) {
		/* LMDB reuses the pages a transaction freed only from the
		 * second transaction after it. When full, spend one small
		 * transaction so space freed just before becomes usable, and
		 * try once more. */
		if (write_locked(feed, touch_fn, NULL, FEED__W_FREES) == 0)
			rc = write_locked(feed, fn, ctx, flags);
	}
	/* Give the reserve back: appends must not use it. LMDB keeps the
	 * map at least as large as the data in it. */
	if (feed->map_size > feed->max_map_size)
		map_resize(feed, feed->max_map_size);
	pthread_mutex_unlock(&feed->wlock);
	return rc;
}

/* ------------------------------------------------------------ opening */

static int open_dbs(feed_t *feed, MDB_txn *txn)
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
		{"delayed", offsetof(feed_t, delayed)},
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
	memcpy(&format, v.mv_data, sizeof(format));
	return format == FEED__FORMAT ? 0 : FEED_EVERSION;
}

static int open_dbs_fn(feed_t *feed, MDB_txn *txn, void *ctx)
{
	(void)ctx;
	return open_dbs(feed, txn);
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
	rc = mdb_env_set_maxdbs(feed->env, 16);
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
	rc = feed__write(feed, open_dbs_fn, NULL, 0);
	if (rc)
		goto fail;
	*out = feed;
	return 0;

fail:
	if (feed->env)
		mdb_env_close(feed->env);
	pthread_rwlock_destroy(&feed->maplock);
	pthread_mutex_destroy(&feed->wlock);
	free(feed);
	return rc == FEED__EMAPFULL ? FEED_EFULL : rc;
}

void feed_close(feed_t *feed)
{
	if (!feed)
		return;
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
