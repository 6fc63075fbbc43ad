/*
 * test_sub.c - subscriptions (feed.h, "subscriptions"): create, the
 * uniqueness of a URI per queue, update, confirm, markers, listing with
 * paging, the scan of every queue, ttl and compaction, and a deleted
 * queue taking its subscriptions with it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feed.h"
#include "fixture.h"
#include "tap.h"

#define T0  1700000000000ULL
#define SEC 1000ULL

static const char *P = "subs";

/* One write job: a create, update, confirm, advance, delete or purge. */
enum op { CREATE, UPDATE, CONFIRM, ADVANCE, DELETE, PURGE };

struct job {
	enum op op;
	const char *queue, *id, *marker;
	feed_sub_in_t in;
	bool confirmed, restart;
	uint64_t now_ms;
	char out_id[FEED_SUB_ID_LEN + 1];
	bool existed;
	size_t n;
};

static int job_fn(feed_txn_t *txn, void *arg)
{
	struct job *j = arg;

	switch (j->op) {
	case CREATE:
		return feed_sub_create_tx(txn, P, j->queue, &j->in, j->now_ms,
					  j->out_id, &j->existed);
	case UPDATE:
		return feed_sub_update_tx(txn, P, j->queue, j->id, &j->in,
					  j->now_ms);
	case CONFIRM:
		return feed_sub_confirm_tx(txn, P, j->queue, j->id,
					   j->confirmed, j->restart, j->now_ms);
	case ADVANCE:
		return feed_sub_advance_tx(txn, P, j->queue, j->id, j->marker,
					   j->now_ms);
	case DELETE:
		return feed_sub_delete_tx(txn, P, j->queue, j->id);
	case PURGE:
		return feed_sub_purge_tx(txn, P, j->queue, &j->n);
	}
	return FEED_EINVAL;
}

static int run(feed_t *feed, struct job *j)
{
	feed_job_t job = {job_fn, j, 0, 0};
	int rc = feed_write_group(feed, &job, 1);

	return rc ? rc : job.status;
}

static int create(feed_t *feed, const char *queue, const char *uri,
		  uint32_t ttl_s, uint64_t now, char id[FEED_SUB_ID_LEN + 1],
		  bool *existed)
{
	struct job j = {.op = CREATE, .queue = queue, .now_ms = now,
			.in = {uri, NULL, ttl_s}};
	int rc = run(feed, &j);

	memcpy(id, j.out_id, sizeof(j.out_id));
	if (existed)
		*existed = j.existed;
	return rc;
}

static void post(feed_t *feed, const char *queue, int n, uint64_t now,
		 char last[FEED_ID_LEN + 1])
{
	for (int i = 0; i < n; i++) {
		feed_msg_in_t m = {"{}", 2, 3600, 0};

		char (*ids)[FEED_ID_LEN + 1] = (char (*)[FEED_ID_LEN + 1])last;

		if (feed_append(feed, P, queue, &m, 1, NULL, now, ids))
			bail_out("append failed");
	}
}

static void test_create_and_unique(feed_t *feed)
{
	char a[FEED_SUB_ID_LEN + 1], b[FEED_SUB_ID_LEN + 1];
	feed_subs_t s;
	bool existed, exists;

	is(create(feed, "q1", "http://h/a", 3600, T0, a, &existed), 0,
	   "a subscription is created");
	ok(strlen(a) == FEED_SUB_ID_LEN && !existed, "with a new uuid");
	feed_queue_exists(feed, P, "q1", &exists);
	ok(exists, "and its queue with it");
	is(create(feed, "q1", "http://h/a", 600, T0, b, &existed), 0,
	   "the same URI again, unconfirmed: not an error");
	ok(existed && strcmp(a, b) == 0, "answered with the existing id");
	is(create(feed, "q2", "http://h/a", 600, T0, b, &existed), 0,
	   "the same URI on another queue is another subscription");
	ok(!existed && strcmp(a, b) != 0, "with its own id");

	is(feed_sub_get(feed, P, "q1", a, T0 + 5 * SEC, &s), 0, "get");
	ok(s.n == 1 && strcmp(s.v[0].subscriber, "http://h/a") == 0 &&
		   strcmp(s.v[0].options, "{}") == 0 && s.v[0].ttl_s == 3600 &&
		   !s.v[0].confirmed && strcmp(s.v[0].queue, "q1") == 0 &&
		   strcmp(s.v[0].project, P) == 0,
	   "gives what was created, options {} by default");
	feed_subs_free(&s);

	struct job c = {.op = CONFIRM, .queue = "q1", .id = a,
			.confirmed = true, .now_ms = T0};
	is(run(feed, &c), 0, "confirm");
	is(create(feed, "q1", "http://h/a", 600, T0, b, &existed),
	   FEED_EEXISTS, "a confirmed URI again: FEED_EEXISTS");
	is(strcmp(a, b), 0, "naming the existing one");
	c.id = "00000000-0000-4000-8000-000000000000";
	is(run(feed, &c), FEED_ENOTFOUND, "confirming none: not found");
	c.id = "nonsense";
	is(run(feed, &c), FEED_ENOTFOUND, "a malformed id: not found");
	is(feed_sub_get(feed, P, "nosuch", a, T0, &s), FEED_ENOTFOUND,
	   "get on a queue that does not exist: not found");
	fixture_check(feed, "after creates");
}

static void test_update(feed_t *feed)
{
	char a[FEED_SUB_ID_LEN + 1], b[FEED_SUB_ID_LEN + 1];
	feed_subs_t s;

	create(feed, "up", "http://h/1", 3600, T0, a, NULL);
	create(feed, "up", "http://h/2", 3600, T0, b, NULL);
	struct job u = {.op = UPDATE, .queue = "up", .id = a,
			.now_ms = T0 + 10 * SEC,
			.in = {"http://h/2", NULL, 0}};
	is(run(feed, &u), FEED_EEXISTS, "moving to another's URI: exists");
	u.in = (feed_sub_in_t){"http://h/3", "{\"k\":1}", 120};
	is(run(feed, &u), 0, "update of URI, options and ttl");
	feed_sub_get(feed, P, "up", a, T0 + 10 * SEC, &s);
	ok(s.n == 1 && strcmp(s.v[0].subscriber, "http://h/3") == 0 &&
		   strcmp(s.v[0].options, "{\"k\":1}") == 0 &&
		   s.v[0].ttl_s == 120 &&
		   s.v[0].created_ms == T0 + 10 * SEC,
	   "all three changed; the ttl starts again");
	feed_subs_free(&s);
	char c[FEED_SUB_ID_LEN + 1];
	bool existed;
	is(create(feed, "up", "http://h/1", 3600, T0, c, &existed), 0,
	   "the old URI is free again");
	ok(!existed && strcmp(c, a) != 0, "a new subscription takes it");
	u.in = (feed_sub_in_t){NULL, "{}", 0};
	is(run(feed, &u), 0, "update of options alone");
	feed_sub_get(feed, P, "up", a, T0 + 10 * SEC, &s);
	ok(s.n == 1 && strcmp(s.v[0].subscriber, "http://h/3") == 0 &&
		   s.v[0].ttl_s == 120,
	   "keeps the URI and ttl");
	feed_subs_free(&s);
	u.id = "00000000-0000-4000-8000-000000000000";
	is(run(feed, &u), FEED_ENOTFOUND, "update of none: not found");
	fixture_check(feed, "after updates");
}

static void test_markers(feed_t *feed)
{
	char a[FEED_SUB_ID_LEN + 1], last[FEED_ID_LEN + 1];
	feed_subs_t s;
	feed_msgs_t m;
	feed_read_opts_t o = {.limit = 10, .flags = FEED_READ_ECHO};

	post(feed, "mq", 3, T0, last);
	create(feed, "mq", "http://h/m", 3600, T0, a, NULL);
	post(feed, "mq", 2, T0, last);
	feed_sub_get(feed, P, "mq", a, T0, &s);
	is(feed_read(feed, P, "mq", s.v[0].marker, &o, T0, &m), 0,
	   "a read from a new subscription's marker");
	is((int)m.n, 2, "gives what was posted after it was created");
	feed_msgs_free(&m);

	struct job v = {.op = ADVANCE, .queue = "mq", .id = a,
			.marker = last, .now_ms = T0};
	is(run(feed, &v), 0, "advance to the last message");
	feed_subs_free(&s);
	feed_sub_get(feed, P, "mq", a, T0, &s);
	is(strcmp(s.v[0].marker, last), 0, "the marker moved");
	v.marker = "not-a-marker";
	is(run(feed, &v), FEED_EBADID, "a malformed marker: bad id");
	v.marker = s.v[0].marker;
	feed_subs_free(&s);

	/* Never back: advance to an earlier marker changes nothing. */
	char early[FEED_ID_LEN + 1];
	feed_marker_before(last, early);
	v.marker = early;
	is(run(feed, &v), 0, "advance to an earlier marker");
	feed_sub_get(feed, P, "mq", a, T0, &s);
	is(strcmp(s.v[0].marker, last), 0, "leaves the marker where it was");
	feed_subs_free(&s);

	/* Confirming with restart skips what came meanwhile. */
	post(feed, "mq", 4, T0, last);
	struct job c = {.op = CONFIRM, .queue = "mq", .id = a,
			.confirmed = true, .restart = true, .now_ms = T0};
	run(feed, &c);
	feed_sub_get(feed, P, "mq", a, T0, &s);
	ok(s.v[0].confirmed && strcmp(s.v[0].marker, last) == 0,
	   "confirm with restart moves the marker to the tail");
	feed_subs_free(&s);
	c.confirmed = false;
	c.restart = false;
	run(feed, &c);
	feed_sub_get(feed, P, "mq", a, T0, &s);
	ok(!s.v[0].confirmed, "confirmed can be taken back");
	feed_subs_free(&s);
	fixture_check(feed, "after markers");
}

static void test_list_and_scan(feed_t *feed)
{
	char ids[25][FEED_SUB_ID_LEN + 1], uri[64];
	feed_subs_t s;
	size_t seen = 0;
	bool more, sorted = true;
	char marker[FEED_SUB_ID_LEN + 1] = "";

	for (int i = 0; i < 25; i++) {
		snprintf(uri, sizeof(uri), "http://h/list/%d", i);
		create(feed, "lq", uri, 3600, T0, ids[i], NULL);
	}
	do {
		is(feed_sub_list(feed, P, "lq", marker, 10, T0, &s), 0,
		   "list a page");
		for (size_t i = 1; i < s.n; i++)
			sorted &= strcmp(s.v[i - 1].id, s.v[i].id) < 0;
		if (seen && s.n)
			sorted &= strcmp(marker, s.v[0].id) < 0;
		seen += s.n;
		if (s.n)
			memcpy(marker, s.v[s.n - 1].id, sizeof(marker));
		more = s.n == 10;
		feed_subs_free(&s);
	} while (more);
	is((int)seen, 25, "pages of 10 list all 25");
	ok(sorted, "by id, each page after its marker");
	is(feed_sub_list(feed, P, "lq", "bad", 10, T0, &s), FEED_EBADID,
	   "a malformed marker: bad id");
	is(feed_sub_list(feed, P, "none", NULL, 10, T0, &s), 0,
	   "a queue that does not exist lists none");
	is((int)s.n, 0, "(none)");

	uint8_t resume[FEED_SUB_RESUME_LEN] = {0};
	size_t total = 0, lq = 0;
	do {
		is(feed_sub_scan(feed, resume, 7, T0, &s, &more), 0,
		   "scan a page");
		total += s.n;
		for (size_t i = 0; i < s.n; i++)
			lq += strcmp(s.v[i].queue, "lq") == 0;
		feed_subs_free(&s);
	} while (more);
	is((int)lq, 25, "the scan finds every subscription of lq");
	ok(total >= 25 + 3, "and those of the other queues");

	struct job p = {.op = PURGE, .queue = "lq"};
	is(run(feed, &p), 0, "purge");
	is((int)p.n, 25, "removes all 25");
	feed_sub_list(feed, P, "lq", NULL, 0, T0, &s);
	is((int)s.n, 0, "none left");
	feed_subs_free(&s);
	fixture_check(feed, "after purge");
}

static void test_ttl_and_compaction(feed_t *feed)
{
	char a[FEED_SUB_ID_LEN + 1], b[FEED_SUB_ID_LEN + 1];
	feed_subs_t s;
	feed_compact_result_t r;
	bool existed;

	create(feed, "tq", "http://h/t", 60, T0, a, NULL);
	is(feed_sub_get(feed, P, "tq", a, T0 + 59 * SEC, &s), 0,
	   "alive before its ttl");
	feed_subs_free(&s);
	is(feed_sub_get(feed, P, "tq", a, T0 + 60 * SEC, &s), FEED_ENOTFOUND,
	   "gone when its ttl passed, before compaction");
	feed_sub_list(feed, P, "tq", NULL, 0, T0 + 60 * SEC, &s);
	is((int)s.n, 0, "and not listed");
	feed_subs_free(&s);
	is(create(feed, "tq", "http://h/t", 60, T0 + 61 * SEC, b, &existed), 0,
	   "its URI may be subscribed again");
	ok(!existed && strcmp(a, b) != 0, "as a new subscription");

	memset(&r, 0, sizeof(r));
	do {
		feed_compact(feed, T0 + 70 * SEC, 1000, &r);
	} while (r.more);
	ok(r.subs >= 1, "compaction removes the expired record");
	fixture_check(feed, "after compaction");
	struct job d = {.op = DELETE, .queue = "tq", .id = a};
	is(run(feed, &d), 0, "deleting a removed one is no error");
	d.id = b;
	is(run(feed, &d), 0, "delete");
	is(feed_sub_get(feed, P, "tq", b, T0 + 70 * SEC, &s), FEED_ENOTFOUND,
	   "it is gone");
}

static void test_queue_delete(feed_t *feed)
{
	char a[FEED_SUB_ID_LEN + 1];
	feed_subs_t s;
	feed_compact_result_t r;
	bool existed;

	create(feed, "dq", "http://h/d", 3600, T0, a, NULL);
	feed_queue_delete(feed, P, "dq");
	is(feed_sub_get(feed, P, "dq", a, T0, &s), FEED_ENOTFOUND,
	   "a deleted queue's subscription is gone");
	char b[FEED_SUB_ID_LEN + 1];
	is(create(feed, "dq", "http://h/d", 3600, T0, b, &existed), 0,
	   "the queue created again may take the URI");
	ok(!existed, "as a new subscription");
	do {
		feed_compact(feed, T0 + SEC, 1000, &r);
	} while (r.more);
	feed_sub_list(feed, P, "dq", NULL, 0, T0, &s);
	ok(s.n == 1 && strcmp(s.v[0].id, b) == 0,
	   "reclaiming the old generation leaves the new one's");
	feed_subs_free(&s);
	fixture_check(feed, "after reclaim");
}

static void test_bad_input(feed_t *feed)
{
	char id[FEED_SUB_ID_LEN + 1], *big = malloc(FEED_SUB_URI_MAX + 2);

	memset(big, 'a', FEED_SUB_URI_MAX + 1);
	big[FEED_SUB_URI_MAX + 1] = '\0';
	is(create(feed, "bq", big, 3600, T0, id, NULL), FEED_ETOOBIG,
	   "a URI over the limit: too big");
	is(create(feed, "bq", "http://h/x", 0, T0, id, NULL), FEED_EINVAL,
	   "no ttl: invalid");
	char name[FEED_NAME_MAX + 2];
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	is(create(feed, name, "http://h/x", 60, T0, id, NULL), FEED_EINVAL,
	   "a queue name over the limit: invalid");
	free(big);
}

static feed_t *test_durable(feed_t *feed, const char *dir)
{
	char a[FEED_SUB_ID_LEN + 1];
	feed_subs_t s;

	create(feed, "keep", "http://h/k", 3600, T0, a, NULL);
	feed_close(feed);
	if (feed_open(&feed, dir, NULL))
		bail_out("reopen failed");
	is(feed_sub_get(feed, P, "keep", a, T0, &s), 0,
	   "a subscription survives a reopen");
	feed_subs_free(&s);
	return feed;
}

/* feed_debug_check() finds a subscription that lost an index entry, and
 * an index entry whose subscription is gone. */
static void test_check_fails(void)
{
	static const char *const dbs[] = {"sexpiry", "suri", "subs"};

	for (int i = 0; i < 3; i++) {
		const char *dir;
		feed_t *feed = fixture_open(&dir, NULL);
		char id[FEED_SUB_ID_LEN + 1], why[256] = "";

		create(feed, "cq", "http://h/c", 3600, T0, id, NULL);
		fixture_check(feed, "before the damage");
		feed_close(feed);
		fixture_drop_first(dir, dbs[i]);
		if (feed_open(&feed, dir, NULL))
			bail_out("reopen failed");
		ok(feed_debug_check(feed, why, sizeof(why)) == FEED_ECORRUPT &&
			   strstr(why, "subscription"),
		   "the check finds a lost %s entry", dbs[i]);
		diag("%s", why);
		feed_close(feed);
		fixture_rmdir(dir);
	}
}

int main(void)
{
	const char *dir;
	feed_t *feed = fixture_open(&dir, NULL);

	test_create_and_unique(feed);
	test_update(feed);
	test_markers(feed);
	test_list_and_scan(feed);
	test_ttl_and_compaction(feed);
	test_queue_delete(feed);
	test_bad_input(feed);
	feed = test_durable(feed, dir);
	test_check_fails();

	feed_close(feed);
	fixture_rmdir(dir);
	done_testing();
	return exit_status();
}
