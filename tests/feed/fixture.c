/*
 * fixture.c - temporary directories and small helpers for feed's tests.
 */
#include "fixture.h"

#include <ftw.h>
#include <limits.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"

static char dir_buf[PATH_MAX];

const char *fixture_mkdir(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir_buf, sizeof(dir_buf), "%s/herald-test-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir_buf))
		bail_out("mkdtemp %s failed", dir_buf);
	return dir_buf;
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void fixture_rmdir(const char *dir)
{
	if (dir && *dir)
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

feed_t *fixture_open(const char **dir_out, const feed_options_t *opts)
{
	const char *dir = fixture_mkdir();
	feed_t *feed = NULL;
	int rc = feed_open(&feed, dir, opts);

	if (rc)
		bail_out("feed_open %s: %s", dir, feed_strerror(rc));
	if (dir_out)
		*dir_out = dir;
	return feed;
}

void fixture_client(uint8_t id[16], unsigned n)
{
	memset(id, 0, 16);
	id[0] = 0xc1;
	memcpy(id + 12, &n, sizeof(n));
}

void fixture_check(feed_t *feed, const char *what)
{
	char why[256] = "";
	int rc = feed_debug_check(feed, why, sizeof(why));

	if (rc)
		diag("%s", why);
	is(rc, 0, "index invariants hold %s", what);
}

void fixture_drop_first(const char *dir, const char *db)
{
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_cursor *cur;
	MDB_val key, val;

	if (mdb_env_create(&env) || mdb_env_set_maxdbs(env, 32) ||
	    mdb_env_set_mapsize(env, 64 << 20) ||
	    mdb_env_open(env, dir, 0, 0644) ||
	    mdb_txn_begin(env, NULL, 0, &txn) ||
	    mdb_dbi_open(txn, db, 0, &dbi) ||
	    mdb_cursor_open(txn, dbi, &cur) ||
	    mdb_cursor_get(cur, &key, &val, MDB_FIRST) ||
	    mdb_cursor_del(cur, 0))
		bail_out("cannot drop the first entry of %s", db);
	mdb_cursor_close(cur);
	if (mdb_txn_commit(txn))
		bail_out("cannot commit to %s", db);
	mdb_env_close(env);
}
