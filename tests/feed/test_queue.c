/*
 * test_queue.c - queues: create, delete, exists, list, count, metadata,
 * name validation and exact stats through every operation that changes them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feed.h"
#include "fixture.h"
#include "tap.h"

#define T0  1700000000000ULL
#define SEC 1000ULL

static void append_one(feed_t *feed, const char *project, const char *queue,
		       uint32_t ttl_s, uint32_t delay_s, uint64_t now_ms,
		       char id[FEED_ID_LEN + 1])
{
	feed_msg_in_t in = {.body = "x", .body_len = 1, .ttl_s = ttl_s,
			    .delay_s = delay_s};
	uint8_t client[16];
	char ids[1][FEED_ID_LEN + 1] = {""};
	int rc;

	fixture_client(client, 7);
	rc = feed_append(feed, project, queue, &in, 1, client, now_ms, ids);
	if (rc)
		diag("append to %s/%s: %s", project, queue, feed_strerror(rc));
	if (id)
		memcpy(id, ids[0], FEED_ID_LEN + 1);
}

static bool meta_is(feed_t *feed, const char *project, const char *name,
		    const char *want)
{
	void *meta = (void *)1;
	size_t len = 99;
	bool same;
	int rc = feed_queue_meta_get(feed, project, name, &meta, &len);

	if (rc) {
		diag("meta_get %s/%s: %s", project, name, feed_strerror(rc));
		return false;
	}
	if (!want)
		same = meta == NULL && len == 0;
	else
		same = meta && len == strlen(want) &&
		       memcmp(meta, want, len) == 0;
	if (!same)
		diag("metadata of %s/%s is \"%.*s\" (%zu bytes), want \"%s\"",
		     project, name, meta ? (int)len : 6,
		     meta ? (char *)meta : "(null)", len,
		     want ? want : "(null)");
	if (meta != (void *)1)
		free(meta);
	return same;
}

static void test_create_exists_delete(feed_t *feed)
{
	bool created = false, exists = true;

	is(feed_queue_exists(feed, "p", "q1", &exists), 0, "exists on nothing");
	ok(!exists, "a queue never created does not exist");
	is(feed_queue_create(feed, "p", "q1", "{\"a\":1}", 7, T0, &created), 0,
	   "create q1");
	ok(created, "first create says created");
	is(feed_queue_create(feed, "p", "q1", "{\"b\":2}", 7, T0, &created), 0,
	   "create q1 again");
	ok(!created, "second create says not created");
	ok(meta_is(feed, "p", "q1", "{\"a\":1}"),
	   "metadata is stored only when the queue is created");
	is(feed_queue_create(feed, "p", "q1", NULL, 0, T0, NULL), 0,
	   "create with created == NULL");
	is(feed_queue_exists(feed, "p", "q1", &exists), 0, "exists q1");
	ok(exists, "q1 exists after create");

	is(feed_queue_delete(feed, "p", "q1"), 0, "delete q1");
	is(feed_queue_exists(feed, "p", "q1", &exists), 0,
	   "exists after delete");
	ok(!exists, "q1 does not exist after delete");
	is(feed_queue_delete(feed, "p", "q1"), 0, "deleting a missing queue");
	is(feed_queue_delete(feed, "p", "never"), 0,
	   "deleting a never-created queue");

	is(feed_queue_create(feed, "p", "q1", NULL, 0, T0, &created), 0,
	   "recreate q1 without metadata");
	ok(created, "recreate says created");
	ok(meta_is(feed, "p", "q1", NULL),
	   "a recreated queue does not inherit the old metadata");

	append_one(feed, "p", "implicit", 60, 0, T0, NULL);
	is(feed_queue_exists(feed, "p", "implicit", &exists), 0,
	   "exists implicit");
	ok(exists, "append creates a missing queue");
}

static void test_metadata(void)
{
	feed_options_t opts = {.max_metadata = 16};
	const char *dir;
	feed_t *feed = fixture_open(&dir, &opts);
	void *meta = NULL;
	size_t len = 0;
	bool exists = true;

	is(feed_queue_meta_get(feed, "p", "missing", &meta, &len),
	   FEED_ENOQUEUE, "meta_get of a missing queue");
	free(meta);
	meta = NULL;
	is(feed_queue_meta_set(feed, "p", "missing", "{}", 2), FEED_ENOQUEUE,
	   "meta_set of a missing queue");
	is(feed_queue_exists(feed, "p", "missing", &exists), 0,
	   "exists missing");
	ok(!exists, "meta_set does not create a missing queue");

	is(feed_queue_create(feed, "p", "m", NULL, 0, T0, NULL), 0, "create m");
	ok(meta_is(feed, "p", "m", NULL), "no metadata reads as NULL, 0");
	is(feed_queue_meta_set(feed, "p", "m", "abcdef", 6), 0, "set 6 bytes");
	ok(meta_is(feed, "p", "m", "abcdef"), "get returns what set stored");
	is(feed_queue_meta_set(feed, "p", "m", "xy", 2), 0, "set 2 bytes");
	ok(meta_is(feed, "p", "m", "xy"), "set replaces the metadata whole");
	is(feed_queue_meta_set(feed, "p", "m", "0123456789abcdef", 16), 0,
	   "set exactly max_metadata bytes");
	ok(meta_is(feed, "p", "m", "0123456789abcdef"),
	   "metadata of exactly max_metadata bytes is kept");
	is(feed_queue_meta_set(feed, "p", "m", "0123456789abcdefg", 17),
	   FEED_ETOOBIG, "set of max_metadata + 1 bytes is too big");
	ok(meta_is(feed, "p", "m", "0123456789abcdef"),
	   "a refused set leaves the metadata unchanged");
	is(feed_queue_meta_set(feed, "p", "m", NULL, 0), 0, "set empty");
	ok(meta_is(feed, "p", "m", NULL), "empty metadata reads as NULL, 0");

	is(feed_queue_create(feed, "p", "big", "0123456789abcdefg", 17, T0,
			     NULL),
	   FEED_ETOOBIG, "create with metadata past max_metadata");
	is(feed_queue_exists(feed, "p", "big", &exists), 0, "exists big");
	ok(!exists, "a refused create creates nothing");

	feed_close(feed);
	fixture_rmdir(dir);
}

static bool list_is(feed_t *feed, const char *project, const char *marker,
		    size_t limit, const char *const *want, size_t n_want,
		    const char *what)
{
	feed_queue_list_t list = {0};
	int rc = feed_queue_list(feed, project, marker, limit, false, &list);
	bool same = rc == 0 && list.n == n_want;

	for (size_t i = 0; same && i < n_want; i++)
		same = strcmp(list.v[i].name, want[i]) == 0;
	if (!same) {
		diag("%s: rc %d, %zu names, want %zu:", what, rc, list.n,
		     n_want);
		for (size_t i = 0; i < list.n; i++)
			diag("  got %s", list.v[i].name);
	}
	ok(same, "%s", what);
	feed_queue_list_free(&list);
	return same;
}

static void test_list(feed_t *feed)
{
	/* created out of order; bytewise: "Z" < "a" < "b" < "z" < "\xc3\xa9" */
	static const char *names[] = {"z", "b", "\xc3\xa9", "a", "Z", "b0"};
	static const char *sorted[] = {"Z", "a", "b", "b0", "z", "\xc3\xa9"};
	feed_queue_list_t list = {0};
	char marker[FEED_NAME_MAX + 1] = "";
	size_t seen = 0, pages = 0;
	bool in_order = true;
	uint64_t count = 99;

	for (size_t i = 0; i < 6; i++) {
		char meta[16];

		snprintf(meta, sizeof(meta), "m-%s", names[i]);
		feed_queue_create(feed, "lp", names[i], meta, strlen(meta), T0,
				  NULL);
	}
	list_is(feed, "lp", NULL, 100, sorted, 6,
		"list returns every queue in bytewise name order");
	list_is(feed, "lp", "", 100, sorted, 6,
		"marker \"\" lists from the first");
	list_is(feed, "lp", "a", 2, sorted + 2, 2,
		"marker lists names after it, at most limit");
	list_is(feed, "lp", "az", 100, sorted + 2, 4,
		"a marker that is not a queue name still pages after it");
	list_is(feed, "lp", "\xc3\xa9", 100, NULL, 0,
		"marker at the last name gives an empty page");

	/* page through with limit 4 */
	for (;;) {
		int rc = feed_queue_list(feed, "lp", marker, 4, false, &list);

		if (rc || list.n == 0) {
			feed_queue_list_free(&list);
			break;
		}
		pages++;
		for (size_t i = 0; i < list.n; i++, seen++)
			if (seen >= 6 || strcmp(list.v[i].name, sorted[seen]))
				in_order = false;
		snprintf(marker, sizeof(marker), "%s", list.v[list.n - 1].name);
		feed_queue_list_free(&list);
		if (pages > 10)
			break;
	}
	is(seen, 6, "paging with limit 4 visits all six queues");
	is(pages, 2, "paging with limit 4 takes two non-empty pages");
	ok(in_order, "paging keeps name order and never repeats");

	is(feed_queue_list(feed, "lp", NULL, 100, false, &list), 0,
	   "list without metadata");
	if (list.n == 6) {
		ok(list.v[0].metadata == NULL && list.v[0].meta_len == 0,
		   "without with_metadata no metadata is copied");
	} else {
		skip(1, "list returned %zu", list.n);
	}
	feed_queue_list_free(&list);

	is(feed_queue_list(feed, "lp", NULL, 100, true, &list), 0,
	   "list with metadata");
	if (list.n == 6) {
		bool all = true;

		for (size_t i = 0; i < 6; i++) {
			char want[16];

			snprintf(want, sizeof(want), "m-%s", sorted[i]);
			if (list.v[i].meta_len != strlen(want) ||
			    !list.v[i].metadata ||
			    memcmp(list.v[i].metadata, want,
				   list.v[i].meta_len))
				all = false;
		}
		ok(all, "with_metadata copies each queue's metadata");
	} else {
		skip(1, "list returned %zu", list.n);
	}
	feed_queue_list_free(&list);

	is(feed_queue_count(feed, "lp", &count), 0, "count lp");
	is(count, 6, "count is the number of queues in the project");
	feed_queue_delete(feed, "lp", "b0");
	is(feed_queue_count(feed, "lp", &count), 0, "count after a delete");
	is(count, 5, "a deleted queue is not counted");
	list_is(feed, "lp", "b", 1, (const char *[]){"z"}, 1,
		"a deleted queue is not listed");
	is(feed_queue_count(feed, "nobody", &count), 0,
	   "count of empty project");
	is(count, 0, "a project without queues counts 0");
	list_is(feed, "nobody", NULL, 10, NULL, 0,
		"a project without queues lists nothing");
}

static void test_project_isolation(feed_t *feed)
{
	feed_queue_stats_t st = {0};
	uint64_t count = 0;
	bool exists = false;
	feed_msgs_t got = {0};
	feed_read_opts_t ro = {.limit = 10, .flags = FEED_READ_ECHO};
	char id[FEED_ID_LEN + 1];

	feed_queue_create(feed, "pa", "shared", "A", 1, T0, NULL);
	feed_queue_create(feed, "pb", "shared", "B", 1, T0, NULL);
	ok(meta_is(feed, "pa", "shared", "A") &&
		   meta_is(feed, "pb", "shared", "B"),
	   "one queue name in two projects keeps two metadata");
	append_one(feed, "pa", "shared", 600, 0, T0, id);
	append_one(feed, "pa", "shared", 600, 0, T0, NULL);
	feed_queue_stats(feed, "pb", "shared", T0, &st);
	is(st.total, 0, "messages of pa/shared are not in pb/shared");
	is(feed_read(feed, "pb", "shared", NULL, &ro, T0, &got), 0, "read pb");
	is(got.n, 0, "reading pb/shared does not see pa's messages");
	feed_msgs_free(&got);
	is(feed_get(feed, "pb", "shared", id, T0, &got), FEED_ENOTFOUND,
	   "an id of pa/shared is not found in pb/shared");
	feed_msgs_free(&got);

	is(feed_queue_delete(feed, "pa", "shared"), 0, "delete pa/shared");
	feed_queue_exists(feed, "pb", "shared", &exists);
	ok(exists, "deleting pa/shared leaves pb/shared");

	/* names that a naive project+name concatenation would confuse */
	feed_queue_create(feed, "a", "bc", "a/bc", 4, T0, NULL);
	feed_queue_create(feed, "ab", "c", "ab/c", 4, T0, NULL);
	feed_queue_create(feed, "", "c", "/c", 2, T0, NULL);
	ok(meta_is(feed, "a", "bc", "a/bc") && meta_is(feed, "ab", "c", "ab/c"),
	   "a/bc and ab/c are different queues");
	list_is(feed, "a", NULL, 10, (const char *[]){"bc"}, 1,
		"project a lists only its own queue, not those of ab");
	list_is(feed, "ab", NULL, 10, (const char *[]){"c"}, 1,
		"project ab lists only its own queue");
	list_is(feed, "", NULL, 10, (const char *[]){"c"}, 1,
		"the empty project lists only its own queue");
	feed_queue_count(feed, "a", &count);
	is(count, 1, "project a counts one queue");
	append_one(feed, "a", "bc", 600, 0, T0, NULL);
	feed_queue_stats(feed, "ab", "c", T0, &st);
	is(st.total, 0, "a message in a/bc is not in ab/c");
}

static void test_invalid_names(feed_t *feed)
{
	char name65[FEED_NAME_MAX + 2], name64[FEED_NAME_MAX + 1];
	char proj257[FEED_PROJECT_MAX + 2], proj256[FEED_PROJECT_MAX + 1];
	feed_queue_list_t list = {0};
	feed_msg_in_t in = {.body = "x", .body_len = 1, .ttl_s = 60};
	uint8_t client[16];
	bool created = false;

	memset(name65, 'n', FEED_NAME_MAX + 1);
	name65[FEED_NAME_MAX + 1] = '\0';
	memset(name64, 'n', FEED_NAME_MAX);
	name64[FEED_NAME_MAX] = '\0';
	memset(proj257, 'p', FEED_PROJECT_MAX + 1);
	proj257[FEED_PROJECT_MAX + 1] = '\0';
	memset(proj256, 'p', FEED_PROJECT_MAX);
	proj256[FEED_PROJECT_MAX] = '\0';
	fixture_client(client, 1);

	is(feed_queue_create(feed, "p", "", NULL, 0, T0, NULL), FEED_EINVAL,
	   "create with an empty name");
	is(feed_queue_create(feed, "p", name65, NULL, 0, T0, NULL), FEED_EINVAL,
	   "create with a name of FEED_NAME_MAX + 1 bytes");
	is(feed_queue_create(feed, proj257, "q", NULL, 0, T0, NULL),
	   FEED_EINVAL, "create with a project of FEED_PROJECT_MAX + 1 bytes");
	is(feed_queue_create(feed, "p", name64, NULL, 0, T0, &created), 0,
	   "create with a name of FEED_NAME_MAX bytes");
	ok(created, "a name of FEED_NAME_MAX bytes is created");
	is(feed_queue_create(feed, proj256, "q", NULL, 0, T0, &created), 0,
	   "create with a project of FEED_PROJECT_MAX bytes");
	ok(created, "a project of FEED_PROJECT_MAX bytes is created");
	list_is(feed, proj256, NULL, 10, (const char *[]){"q"}, 1,
		"the longest project lists its queue");
	is(feed_queue_list(feed, proj257, NULL, 10, false, &list), FEED_EINVAL,
	   "list with a project too long");
	feed_queue_list_free(&list);
	is(feed_queue_meta_set(feed, "p", name65, "{}", 2), FEED_EINVAL,
	   "meta_set with a name too long");
	is(feed_append(feed, "p", "", &in, 1, client, T0, NULL), FEED_EINVAL,
	   "append to an empty name");
	is(feed_append(feed, "p", name65, &in, 1, client, T0, NULL),
	   FEED_EINVAL, "append to a name too long");
}

static void stats_is(feed_t *feed, const char *queue, uint64_t now_ms,
		     uint64_t total, uint64_t claimed, const char *oldest,
		     uint64_t oldest_ms, const char *newest, uint64_t newest_ms,
		     const char *when)
{
	feed_queue_stats_t st;
	int rc;

	memset(&st, 0xa5, sizeof(st));
	rc = feed_queue_stats(feed, "st", queue, now_ms, &st);
	is(rc, 0, "stats %s", when);
	is(st.total, total, "total %s", when);
	is(st.claimed, claimed, "claimed %s", when);
	is(st.free, total - claimed, "free %s", when);
	if (total == 0)
		return;
	st.oldest.id[FEED_ID_LEN] = '\0';
	st.newest.id[FEED_ID_LEN] = '\0';
	is_str(st.oldest.id, oldest, "oldest id %s", when);
	is(st.oldest.created_ms, oldest_ms, "oldest created %s", when);
	is_str(st.newest.id, newest, "newest id %s", when);
	is(st.newest.created_ms, newest_ms, "newest created %s", when);
}

static void test_stats(feed_t *feed)
{
	char s[5][FEED_ID_LEN + 1];
	feed_claim_t c1 = {0}, c2 = {0};
	feed_msgs_t popped = {0};
	feed_compact_result_t cr = {0};
	uint64_t now = T0 + 10 * SEC;
	bool deleted = false;

	stats_is(feed, "none", T0, 0, 0, NULL, 0, NULL, 0,
		 "of a missing queue");
	for (int i = 0; i < 5; i++)
		append_one(feed, "st", "q", 600, 0, T0 + i * SEC, s[i]);
	stats_is(feed, "q", now, 5, 0, s[0], T0, s[4], T0 + 4 * SEC,
		 "after five appends");

	is(feed_claim_create(feed, "st", "q", 60, 60, 2, now, &c1), 0,
	   "claim two");
	stats_is(feed, "q", now, 5, 2, s[0], T0, s[4], T0 + 4 * SEC,
		 "after claiming two");

	is(feed_delete(feed, "st", "q", s[4], NULL, now, &deleted), 0,
	   "delete the newest");
	stats_is(feed, "q", now, 4, 2, s[0], T0, s[3], T0 + 3 * SEC,
		 "after deleting the newest");
	{
		feed_queue_stats_t st;

		is(feed_queue_stats(feed, "st", "q", now, &st), 0, "stats");
		is(st.posted, 5, "posted counts every append, deleted ones too");
	}

	is(feed_delete(feed, "st", "q", s[0], c1.id, now, &deleted), 0,
	   "delete the oldest with its claim id");
	stats_is(feed, "q", now, 3, 1, s[1], T0 + SEC, s[3], T0 + 3 * SEC,
		 "after deleting a claimed message");

	is(feed_claim_release(feed, "st", "q", c1.id, now), 0, "release");
	stats_is(feed, "q", now, 3, 0, s[1], T0 + SEC, s[3], T0 + 3 * SEC,
		 "after the release");

	is(feed_claim_create(feed, "st", "q", 60, 60, 1, now, &c2), 0,
	   "claim one for 60 s");
	stats_is(feed, "q", now + 59 * SEC, 3, 1, s[1], T0 + SEC, s[3],
		 T0 + 3 * SEC, "while the claim lives");
	stats_is(feed, "q", now + 61 * SEC, 3, 0, s[1], T0 + SEC, s[3],
		 T0 + 3 * SEC, "once the claim expired");

	is(feed_pop(feed, "st", "q", 1, now + 61 * SEC, &popped), 0, "pop one");
	is(popped.n, 1, "pop returned one");
	if (popped.n == 1)
		is_str(popped.v[0].id, s[1], "pop took the oldest");
	else
		skip(1, "nothing popped");
	feed_msgs_free(&popped);
	stats_is(feed, "q", now + 61 * SEC, 2, 0, s[2], T0 + 2 * SEC, s[3],
		 T0 + 3 * SEC, "after the pop");

	/* s2 expires at T0 + 602 s, s3 at T0 + 603 s */
	stats_is(feed, "q", T0 + 602 * SEC + 500, 1, 0, s[3], T0 + 3 * SEC,
		 s[3], T0 + 3 * SEC, "after the oldest expired, uncompacted");
	is(feed_compact(feed, T0 + 602 * SEC + 500, 1000, &cr), 0, "compact");
	stats_is(feed, "q", T0 + 602 * SEC + 500, 1, 0, s[3], T0 + 3 * SEC,
		 s[3], T0 + 3 * SEC, "after compaction");
	stats_is(feed, "q", T0 + 603 * SEC + 1, 0, 0, NULL, 0, NULL, 0,
		 "after every message expired");

	/* the newest expiring first leaves the older one as newest */
	append_one(feed, "st", "mixed", 1000, 0, T0, s[0]);
	append_one(feed, "st", "mixed", 10, 0, T0 + SEC, s[1]);
	stats_is(feed, "mixed", T0 + 12 * SEC, 1, 0, s[0], T0, s[0], T0,
		 "when the newest message expired first");

	/* expiries out of log order, one raised by a claim */
	append_one(feed, "st", "raised", 10, 0, T0, s[0]);
	append_one(feed, "st", "raised", 100, 0, T0, s[1]);
	append_one(feed, "st", "raised", 10, 0, T0, s[2]);
	append_one(feed, "st", "raised", 100, 0, T0, s[3]);
	feed_claim_free(&c1);
	is(feed_claim_create(feed, "st", "raised", 60, 60, 1, T0, &c1), 0,
	   "claim the first, raising its expiry to 120 s");
	stats_is(feed, "raised", T0 + 11 * SEC, 3, 1, s[0], T0, s[3], T0,
		 "when the claim outlives a message's ttl");
	stats_is(feed, "raised", T0 + 61 * SEC, 3, 0, s[0], T0, s[3], T0,
		 "when the claim expired within the grace");
	stats_is(feed, "raised", T0 + 101 * SEC, 1, 0, s[0], T0, s[0], T0,
		 "when only the claim-raised message lives");
	stats_is(feed, "raised", T0 + 121 * SEC, 0, 0, NULL, 0, NULL, 0,
		 "past claim + grace");

	/* delayed messages are live: counted, and free */
	append_one(feed, "st", "delayed", 600, 60, T0, s[0]);
	stats_is(feed, "delayed", T0, 1, 0, s[0], T0, s[0], T0,
		 "with a delayed message");

	append_one(feed, "st", "gone", 600, 0, T0, NULL);
	is(feed_queue_delete(feed, "st", "gone"), 0, "delete queue gone");
	stats_is(feed, "gone", T0, 0, 0, NULL, 0, NULL, 0,
		 "after the queue was deleted");

	feed_claim_free(&c1);
	feed_claim_free(&c2);
}

int main(void)
{
	const char *dir;
	feed_t *feed = fixture_open(&dir, NULL);

	test_create_exists_delete(feed);
	test_list(feed);
	test_project_isolation(feed);
	test_invalid_names(feed);
	test_stats(feed);
	feed_close(feed);
	fixture_rmdir(dir);

	test_metadata();

	done_testing();
	return exit_status();
}
