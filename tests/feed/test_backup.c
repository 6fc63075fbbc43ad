/*
 * test_backup.c - feed_backup(): a compacted copy that opens as a feed and
 * holds what the source held, and the refusals of a target or source that
 * cannot take part. (The copy beside a running server, under load, is
 * tests/hub/test_backup.c.)
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "feed.h"
#include "fixture.h"
#include "tap.h"

#define T0 1700000000000ULL
#define BODY 8000

static const char *P = "bk";

/* n messages of BODY bytes whose bytes depend on their number. */
static void append_n(feed_t *feed, const char *queue, unsigned first,
		     unsigned n, char (*ids)[FEED_ID_LEN + 1])
{
	static char bodies[8][BODY];
	feed_msg_in_t in[8];
	uint8_t client[16];

	fixture_client(client, 1);
	for (unsigned done = 0; done < n; done += 8) {
		unsigned k = n - done < 8 ? n - done : 8;

		for (unsigned i = 0; i < k; i++) {
			memset(bodies[i], 'a' + (int)((first + done + i) % 26),
			       BODY);
			in[i] = (feed_msg_in_t){.body = bodies[i],
						.body_len = BODY,
						.ttl_s = 3600};
		}
		if (feed_append(feed, P, queue, in, k, client, T0,
				ids ? ids + done : NULL))
			bail_out("append failed");
	}
}

static long long file_size(const char *dir)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/data.mdb", dir);
	return stat(path, &st) ? -1 : (long long)st.st_size;
}

static void test_copy(const char *src, const char *dst)
{
	char ids[10][FEED_ID_LEN + 1];
	const char *idp[10];
	feed_backup_info_t info = {0, 0};
	feed_msgs_t got = {0};
	feed_t *feed;
	bool more = true;
	int rc, same = 0;

	if (feed_open(&feed, src, NULL))
		bail_out("cannot open the source");
	append_n(feed, "junk", 0, 200, NULL);
	append_n(feed, "keep", 0, 10, ids);
	while (more)
		if (feed_queue_purge(feed, P, "junk", 1000, T0, NULL, &more))
			bail_out("purge failed");
	feed_close(feed);

	rc = feed_backup(src, dst, &info);
	is(rc, 0, "a backup of a closed environment succeeds");
	is((long long)info.source_bytes, file_size(src),
	   "source_bytes is the source file's size");
	is((long long)info.backup_bytes, file_size(dst),
	   "backup_bytes is the copy's size");
	ok(info.backup_bytes * 4 < info.source_bytes,
	   "the copy leaves the purged megabytes out: under a quarter");
	diag("source %llu bytes, copy %llu bytes",
	     (unsigned long long)info.source_bytes,
	     (unsigned long long)info.backup_bytes);

	is(feed_open(&feed, dst, NULL), 0, "the copy opens as a feed");
	for (int i = 0; i < 10; i++)
		idp[i] = ids[i];
	rc = feed_get_many(feed, P, "keep", idp, 10, T0, &got);
	is(rc == 0 ? (int)got.n : -1, 10, "it holds every kept message");
	for (size_t i = 0; rc == 0 && i < got.n; i++)
		same += got.v[i].body_len == BODY &&
			((const char *)got.v[i].body)[0] == 'a' + (int)i;
	is(same, 10, "with their bodies");
	feed_msgs_free(&got);
	fixture_check(feed, "in the copy");
	feed_close(feed);
}

static void test_refusals(const char *src, const char *dst, const char *tmp)
{
	char missing[PATH_MAX], file[PATH_MAX], empty[PATH_MAX];
	feed_backup_info_t info = {7, 7};
	FILE *f;

	if (strlen(tmp) > PATH_MAX / 2)
		bail_out("temporary directory name too long");
	snprintf(missing, sizeof(missing), "%s/missing", tmp);
	snprintf(file, sizeof(file), "%s/a-file", tmp);
	snprintf(empty, sizeof(empty), "%s/empty", tmp);
	f = fopen(file, "w");
	if (!f || fclose(f) || mkdir(empty, 0755))
		bail_out("cannot make the test's files");

	is(feed_backup(src, dst, &info), FEED_EEXISTS,
	   "a target that holds a copy: FEED_EEXISTS");
	ok(info.source_bytes == 7, "a refusal leaves info alone");
	errno = 0;
	is(feed_backup(src, missing, NULL), FEED_EINVAL,
	   "a missing target: FEED_EINVAL");
	is(errno, ENOENT, "errno says ENOENT");
	errno = 0;
	is(feed_backup(src, file, NULL), FEED_EINVAL,
	   "a target that is a file: FEED_EINVAL");
	is(errno, ENOTDIR, "errno says ENOTDIR");
	is(feed_backup(empty, missing, NULL), FEED_EINVAL,
	   "the target is checked before the source");
	is(feed_backup(missing, empty, NULL), FEED_ENOTFOUND,
	   "a source without data.mdb: FEED_ENOTFOUND");
	is(file_size(empty), -1, "and nothing is left in the target");
	is(feed_backup(NULL, empty, NULL), FEED_EINVAL, "NULL source");
	is(feed_backup(src, NULL, NULL), FEED_EINVAL, "NULL target");
}

/* Run as root with no lock file, the backup makes one: it must belong to
 * the data file's owner, who runs the server. */
static void test_lock_owner(const char *src, const char *tmp)
{
	char data[PATH_MAX], lock[PATH_MAX], dst[PATH_MAX];
	struct stat st;

	if (geteuid() != 0) {
		skip(2, "not root: cannot give the data file to another user");
		return;
	}
	snprintf(data, sizeof(data), "%s/data.mdb", src);
	snprintf(lock, sizeof(lock), "%s/lock.mdb", src);
	snprintf(dst, sizeof(dst), "%s/dst-owner", tmp);
	if (chown(data, 65534, 65534) || unlink(lock) || mkdir(dst, 0755))
		bail_out("cannot prepare the source: %s", strerror(errno));
	is(feed_backup(src, dst, NULL), 0, "a backup made as root succeeds");
	ok(stat(lock, &st) == 0 && st.st_uid == 65534 && st.st_gid == 65534,
	   "the lock file it made belongs to the data file's owner");
}

int main(void)
{
	char tmp[PATH_MAX / 2], src[PATH_MAX / 2 + 8], dst[PATH_MAX / 2 + 8];

	snprintf(tmp, sizeof(tmp), "%s", fixture_mkdir());
	snprintf(src, sizeof(src), "%s/src", tmp);
	snprintf(dst, sizeof(dst), "%s/dst", tmp);
	if (mkdir(src, 0755) || mkdir(dst, 0755))
		bail_out("mkdir: %s", strerror(errno));
	test_copy(src, dst);
	test_refusals(src, dst, tmp);
	test_lock_owner(src, tmp);
	fixture_rmdir(tmp);
	return exit_status();
}
