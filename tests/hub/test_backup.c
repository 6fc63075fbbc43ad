/*
 * test_backup.c - `herald backup TARGET` beside a server that serves
 * writes, and the documented restore (docs/operations.md).
 *
 * A publisher thread posts one message per request to queue "load" and
 * records every acknowledged id in order. Once it is going, the number
 * acknowledged so far is taken: those messages were acknowledged before
 * the backup began, so each must be in it. The backup runs as its own
 * process (as an operator runs it) while the publisher goes on. A second
 * server is then restored from the copy the documented way (stopped, its
 * data directory's files replaced by the backup's data.mdb, lock file
 * removed, started) and must hold every one of them - and none of those
 * posted after the backup ended.
 *
 * The source is fragmented first (5 MB posted to "junk" and popped again),
 * so its file holds megabytes of free pages that a compacting copy leaves
 * out: the backup must be far smaller than the source.
 *
 * The publisher thread uses only its own client (the harness's client is
 * one per thread) and no TAP calls; the main thread does all the checking.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define MAX_IDS 100000
#define BEFORE_MIN 40 /* acknowledged messages before the backup starts */

static struct hh_server srv;
static char ids[MAX_IDS][32];
static atomic_int acked;      /* ids[0..acked) are acknowledged */
static atomic_bool stop;
static atomic_int failures;   /* publisher requests not answered 201 */

static void *publisher(void *arg)
{
	struct hh_client c;
	struct hh_resp r = HH_RESP_INIT;
	char body[128];

	(void)arg;
	hh_client_init(&c, &srv, HH_CLIENT_A, "bk");
	for (int n = 0; n < MAX_IDS && !atomic_load(&stop); n++) {
		const char *href;

		snprintf(body, sizeof(body),
			 "{\"messages\": [{\"body\": {\"n\": %d}}]}", n);
		hh_call(&c, &r, "POST", "/v2/queues/load/messages", body);
		href = r.status == 201 ? hh_gets(r.json, "resources.0") : NULL;
		if (!href || !strrchr(href, '/')) {
			atomic_fetch_add(&failures, 1);
			break;
		}
		hh_copy(ids[n], sizeof(ids[n]), strrchr(href, '/') + 1);
		atomic_store(&acked, n + 1);
	}
	hh_resp_free(&r);
	hh_client_close(&c);
	return NULL;
}

/* Waits (bounded) until the publisher acknowledged at least n. */
static bool wait_acked(int n)
{
	struct timespec tick = {0, 1000000};

	for (int i = 0; i < 30000; i++) {
		if (atomic_load(&acked) >= n)
			return true;
		if (atomic_load(&failures))
			return false;
		nanosleep(&tick, NULL);
	}
	return false;
}

static long long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) ? -1 : (long long)st.st_size;
}

/* `herald backup --data DATA TARGET` (DATA NULL: no --data); its output
 * into *out. Returns its exit status. */
static int backup(const char *data, const char *target, char **out)
{
	const char *bin = getenv("HERALD_BIN");
	const char *log = hh_fmt("%s/backup.out", srv.dir);
	const char *argv[] = {bin, "backup", "--data", data, target, NULL};

	if (!data) {
		argv[2] = target;
		argv[3] = NULL;
	}
	return hh_run(argv, log, out);
}

/* Fragments the source: 5 MB in, popped out again. */
static void fragment(struct hh_client *c)
{
	struct hh_resp r = HH_RESP_INIT;
	int popped = 0;

	hh_post_bulk(c, "junk", 100);
	for (int i = 0; i < 40; i++) {
		hh_call(c, &r, "DELETE", "/v2/queues/junk/messages?pop=20",
			NULL);
		if (r.status != 200 || hh_len(r.json, "messages") <= 0)
			break;
		popped += (int)hh_len(r.json, "messages");
	}
	is(popped, 500, "the 500 fragmenting messages are popped again");
	hh_resp_free(&r);
}

/* Every id in ids[0..n) is on s's queue "load". */
static void check_restored(struct hh_server *s, int n)
{
	struct hh_client c;
	struct hh_resp r = HH_RESP_INIT;
	int found = 0, first_missing = -1;

	hh_client_init(&c, s, HH_CLIENT_B, "bk");
	for (int i = 0; i < n; i += 20) {
		char q[20 * 33 + 64];
		size_t len = 0;
		int k = i + 20 < n ? 20 : n - i;

		len += (size_t)snprintf(q, sizeof(q),
					"/v2/queues/load/messages?ids=");
		for (int j = 0; j < k; j++)
			len += (size_t)snprintf(q + len, sizeof(q) - len,
						"%s%s", j ? "," : "",
						ids[i + j]);
		hh_call(&c, &r, "GET", q, NULL);
		if (r.status == 200 && hh_len(r.json, "messages") == k)
			found += k;
		else if (first_missing < 0)
			first_missing = i;
	}
	is(found, n, "every message acknowledged before the backup began "
		     "is in the restored server");
	if (first_missing >= 0)
		diag("first batch missing from id %s", ids[first_missing]);
	hh_call(&c, &r, "GET", "/v2/queues/junk/stats", NULL);
	is(hh_geti(r.json, "messages.total"), 0,
	   "the popped queue is restored empty");
	hh_resp_free(&r);
	hh_client_close(&c);
}

/* How many of ids[from..to) are on s's queue "load". */
static int count_present(struct hh_server *s, int from, int to)
{
	struct hh_client c;
	struct hh_resp r = HH_RESP_INIT;
	int found = 0;

	hh_client_init(&c, s, HH_CLIENT_B, "bk");
	for (int i = from; i < to; i++) {
		hh_call(&c, &r, "GET",
			hh_fmt("/v2/queues/load/messages/%s", ids[i]), NULL);
		found += r.status == 200;
	}
	hh_resp_free(&r);
	hh_client_close(&c);
	return found;
}

/* The documented restore: stop, replace the data files, start. */
static void restore(struct hh_server *s, const char *backup_dir)
{
	is(hh_stop(s), 0, "the server to restore into stops with exit 0");
	unlink(hh_fmt("%s/data.mdb", s->data));
	unlink(hh_fmt("%s/lock.mdb", s->data));
	ok(rename(hh_fmt("%s/data.mdb", backup_dir),
		  hh_fmt("%s/data.mdb", s->data)) == 0,
	   "the backup's data.mdb replaces the data file");
	hh_restart(s);
}

static void test_hot_backup(void)
{
	struct hh_client c;
	struct hh_server s2;
	pthread_t th;
	const char *target = hh_fmt("%s/backup", srv.dir);
	char target_copy[4096], *out = NULL;
	long long src, copy;
	int before, after, total, st;

	hh_copy(target_copy, sizeof(target_copy), target);
	target = target_copy;
	hh_client_init(&c, &srv, HH_CLIENT_A, "bk");
	fragment(&c);
	if (pthread_create(&th, NULL, publisher, NULL))
		bail_out("pthread_create: %s", strerror(errno));
	ok(wait_acked(BEFORE_MIN), "the publisher is going");
	before = atomic_load(&acked);
	if (mkdir(target, 0755))
		bail_out("mkdir %s: %s", target, strerror(errno));
	st = backup(srv.data, target, &out);
	after = atomic_load(&acked);
	is(st, 0, "herald backup exits 0 while the server serves writes");
	if (st)
		diag("%s", out);
	ok(strstr(out, "compacted") != NULL, "it says what it wrote");
	free(out);
	ok(wait_acked(atomic_load(&acked) + 20),
	   "the server goes on acknowledging writes after the backup");
	atomic_store(&stop, true);
	pthread_join(th, NULL);
	is(atomic_load(&failures), 0, "no publisher request failed");
	diag("%d messages acknowledged before the backup, %d in all", before,
	     atomic_load(&acked));

	src = file_size(hh_fmt("%s/data.mdb", srv.data));
	copy = file_size(hh_fmt("%s/data.mdb", target));
	diag("source data.mdb %lld bytes, backup %lld bytes", src, copy);
	ok(src > 5000000, "the fragmented source file holds the 5 MB");
	ok(copy > 0 && copy * 4 < src,
	   "the backup is compacted: under a quarter of the source");
	ok(file_size(hh_fmt("%s/lock.mdb", target)) < 0,
	   "the backup holds no lock file");

	hh_start(&s2, NULL);
	restore(&s2, target);
	check_restored(&s2, before);
	/* The request in flight when the backup returned may be in it;
	 * every one acknowledged after that was sent later. */
	total = atomic_load(&acked);
	if (total > after + 101)
		total = after + 101; /* a hundred of them tell enough */
	is(count_present(&s2, after + 1, total), 0,
	   "messages posted after the backup ended are not in it: a "
	   "snapshot");
	is(hh_discard(&s2), 0, "the restored server stops with exit 0");
	hh_client_close(&c);
}

static void expect_refused(const char *data, const char *target,
			   const char *says, const char *name)
{
	char *out = NULL;

	is(backup(data, target, &out), 2, hh_fmt("%s: exit status 2", name));
	ok(strstr(out, says) != NULL, hh_fmt("%s: says \"%s\"", name, says));
	if (!strstr(out, says))
		diag("it said: %s", out);
	free(out);
}

static void test_bad_targets(void)
{
	const char *full = hh_fmt("%s/full", srv.dir);
	char full_copy[4096], empty[4096], file[4096];
	long long size;

	hh_copy(full_copy, sizeof(full_copy), full);
	hh_copy(empty, sizeof(empty), hh_fmt("%s/empty", srv.dir));
	hh_copy(file, sizeof(file), hh_fmt("%s/a-file", srv.dir));
	if (mkdir(full_copy, 0755) || mkdir(empty, 0755))
		bail_out("mkdir: %s", strerror(errno));
	hh_run((const char *const[]){"touch", file, NULL},
	       hh_fmt("%s/touch.out", srv.dir), NULL);
	hh_run((const char *const[]){"cp", hh_fmt("%s/data.mdb", srv.data),
				     full_copy, NULL},
	       hh_fmt("%s/cp.out", srv.dir), NULL);
	size = file_size(hh_fmt("%s/data.mdb", full_copy));

	expect_refused(srv.data, hh_fmt("%s/missing", srv.dir),
		       "No such file or directory", "a missing target");
	expect_refused(srv.data, full_copy, "is not empty",
		       "a target that holds a data file");
	is(file_size(hh_fmt("%s/data.mdb", full_copy)), size,
	   "the data file in the refused target is left alone");
	expect_refused(srv.data, file, "Not a directory",
		       "a target that is a file");
	expect_refused(empty, hh_fmt("%s/missing", srv.dir),
		       "No such file or directory",
		       "a missing target is named before the source");
	expect_refused(hh_fmt("%s/nowhere", srv.dir), empty,
		       "holds no Herald data", "a data directory with no data");
	expect_refused(NULL, "--data", "usage: herald backup",
		       "no target at all");
	ok(file_size(hh_fmt("%s/data.mdb", empty)) < 0,
	   "a refused backup leaves nothing in the empty target");
}

int main(void)
{
	hh_start(&srv, NULL);
	test_hot_backup();
	test_bad_targets();
	return hh_finish(&srv);
}
