/*
 * backup.c - hot backups: a compacted, consistent copy of an environment
 * that a running server goes on writing to.
 *
 * The copy is made in the calling process, which opens the environment
 * read-only beside the server (feed_open's flags make that safe: no
 * MDB_NOLOCK, so both processes share the lock file's reader table and
 * writer mutex; no MDB_WRITEMAP, so the server's commits reach the file
 * through the page cache this process maps too). LMDB's compacting copy
 * (mdb_env_copy2 with MDB_CP_COMPACT) runs in one read transaction:
 *
 *   - it never takes the writer mutex, so the server's commits go on;
 *   - its snapshot is the last commit before it began, so every write
 *     acknowledged before then is in the copy;
 *   - while it runs, pages freed by later commits cannot be reused (a
 *     long reader), so the source file may grow by what the server
 *     writes during the copy - bounded by the copy's duration;
 *   - a backup process killed midway leaves a stale reader slot, which
 *     the server clears with mdb_reader_check (after every compaction
 *     step; feed_check_readers);
 *   - a lock file this process had to create (no server since boot) is
 *     given to the data file's owner, so the server can open it later.
 *
 * The server may grow the map meanwhile. Our map is the size the file's
 * meta page gave at open; a read transaction that finds the data past it
 * fails with MDB_MAP_RESIZED, and mdb_env_set_mapsize(env, 0) adopts the
 * new size. The copy is only data.mdb; the lock file is rebuilt by the
 * first process that opens the copy.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "feed_internal.h"

#define RESIZE_RETRIES 8

/* 0 when dir is an existing empty directory; FEED_EINVAL (errno set) when
 * it is missing or not a directory, FEED_EEXISTS when it holds anything. */
static int target_check(const char *dir)
{
	struct dirent *e;
	DIR *d = opendir(dir);
	int rc = 0;

	if (!d)
		return FEED_EINVAL;
	errno = 0;
	while (rc == 0 && (e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			rc = FEED_EEXISTS;
	if (rc == 0 && errno)
		rc = FEED_EIO;
	closedir(d);
	return rc;
}

/* The size of dir/data.mdb into *size; -1 (errno set) when it has none. */
static int data_size(const char *dir, uint64_t *size)
{
	char path[4096];
	struct stat st;

	if (snprintf(path, sizeof(path), "%s/data.mdb", dir) >=
	    (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (stat(path, &st))
		return -1;
	*size = (uint64_t)st.st_size;
	return 0;
}

/* Flushes dir/data.mdb and dir itself: mdb_env_copy2 closes the copy
 * without fsync. An LMDB (errno) code. */
static int flush_copy(const char *dir)
{
	char path[4096];
	int fd, rc = 0;

	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	fd = open(path, O_RDONLY);
	if (fd < 0 || fsync(fd))
		rc = errno;
	if (fd >= 0)
		close(fd);
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	if (rc == 0 && (fd < 0 || fsync(fd)))
		rc = errno;
	if (fd >= 0)
		close(fd);
	return rc;
}

/* Removes what a failed copy left in dir (it was empty before). */
static void unlink_copy(const char *dir)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	unlink(path);
}

/*
 * Gives dir/lock.mdb to the owner of dir/data.mdb. When no server ran
 * since boot, this process creates the lock file, owned by whoever runs
 * the backup (root, say): a server running as the data's user could then
 * not open it. Only root can change an owner; for anyone else this is a
 * no-op, as it is when the owners match already.
 */
static void lock_owner_fix(const char *dir)
{
	char data[4096], lock[4096];
	struct stat ds, ls;

	snprintf(data, sizeof(data), "%s/data.mdb", dir);
	snprintf(lock, sizeof(lock), "%s/lock.mdb", dir);
	if (geteuid() != 0 || stat(data, &ds) || stat(lock, &ls))
		return;
	if ((ds.st_uid != ls.st_uid || ds.st_gid != ls.st_gid) &&
	    chown(lock, ds.st_uid, ds.st_gid))
		return; /* best effort: a server that cannot open it says so */
}

/* Copies env into target, adopting a map the server grew; an LMDB code. */
static int copy(MDB_env *env, const char *target)
{
	int rc = MDB_MAP_RESIZED;

	for (int i = 0; rc == MDB_MAP_RESIZED && i < RESIZE_RETRIES; i++) {
		rc = mdb_env_copy2(env, target, MDB_CP_COMPACT);
		if (rc == MDB_MAP_RESIZED) {
			int src = mdb_env_set_mapsize(env, 0);

			if (src)
				return src;
		}
	}
	return rc;
}

/* An LMDB code as a feed code, leaving errno set for system errors. */
static int backup_err(int rc)
{
	if (rc > 0)
		errno = rc;
	return feed__err(rc);
}

int feed_backup(const char *data_dir, const char *target_dir,
		feed_backup_info_t *info)
{
	feed_backup_info_t out = {0, 0};
	MDB_env *env = NULL;
	int rc;

	if (!data_dir || !target_dir)
		return FEED_EINVAL;
	rc = target_check(target_dir);
	if (rc)
		return rc;
	if (data_size(data_dir, &out.source_bytes))
		return errno == ENOENT ? FEED_ENOTFOUND : backup_err(errno);
	rc = mdb_env_create(&env);
	if (rc == 0)
		rc = mdb_env_open(env, data_dir, MDB_RDONLY | MDB_NOTLS, 0644);
	if (rc == 0) {
		lock_owner_fix(data_dir);
		rc = copy(env, target_dir);
		if (rc)
			unlink_copy(target_dir); /* half a copy is no backup */
	}
	if (env)
		mdb_env_close(env);
	if (rc == 0)
		rc = flush_copy(target_dir);
	if (rc == 0 && data_size(target_dir, &out.backup_bytes))
		rc = errno;
	if (rc)
		return backup_err(rc);
	if (info)
		*info = out;
	return 0;
}
