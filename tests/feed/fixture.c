/*
 * fixture.c - temporary directories and small helpers for feed's tests.
 */
#include "fixture.h"

#include <ftw.h>
#include <limits.h>
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
