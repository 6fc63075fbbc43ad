/*
 * test_move.c - moving a queue between environments (feed.h, "Moving a
 * queue"; feed/move.c): a queue with claims, delayed and expired
 * messages, lost ranges, idempotency keys, subscriptions and metadata
 * goes from A to B and reads the same there - ids, markers, claims,
 * repeats refused - while B's own queues use other internal keys; a
 * corrupt or truncated blob and an existing name are refused; the
 * generation counter rises across the move; a format 2 store opens and
 * keeps its ids.
 */
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feed.h"
#include "fixture.h"
#include "tap.h"

#define T0 1700000000000ULL
#define SEC 1000ULL

static const char *P = "mv";

static uint8_t client[16];

static void post(feed_t *feed, const char *q, const char *body,
		 uint32_t ttl_s, uint32_t delay_s, const char *key,
		 uint64_t now, char id[FEED_ID_LEN + 1])
{
	feed_msg_in_t in = {body, strlen(body), ttl_s, delay_s};
	feed_key_t k = {key, key ? strlen(key) : 0};
	char ids[1][FEED_ID_LEN + 1];
	feed_append_req_t r = {.project = P, .queue = q, .msgs = &in,
			       .n_msgs = 1, .ids = ids,
			       .keys = key ? &k : NULL};

	memcpy(r.client_id, client, 16);
	if (feed_append_group(feed, &r, 1, now) || r.status)
		bail_out("append to %s: %s", q, feed_strerror(r.status));
	if (id)
		memcpy(id, ids[0], sizeof(ids[0]));
}

struct subjob {
	const char *queue, *uri, *marker, *id;
	uint64_t now;
	char out_id[FEED_SUB_ID_LEN + 1];
	bool existed, advance;
};

static int sub_fn(feed_txn_t *txn, void *arg)
{
	struct subjob *j = arg;
	feed_sub_in_t in = {j->uri, "{\"k\": 1}", 3600};

	if (j->advance)
		return feed_sub_advance_tx(txn, P, j->queue, j->id, j->marker,
					   j->now);
	return feed_sub_create_tx(txn, P, j->queue, &in, j->now, j->out_id,
				  &j->existed);
}

static int group1(feed_t *feed, feed_job_fn fn, void *ctx)
{
	feed_job_t job = {fn, ctx, 0, 0};
	int rc = feed_write_group(feed, &job, 1);

	return rc ? rc : job.status;
}

struct blobjob {
	const void *blob;
	size_t len;
	char project[FEED_PROJECT_MAX + 1], name[FEED_NAME_MAX + 1];
	uint64_t floor;
};

static int import_fn(feed_txn_t *txn, void *arg)
{
	struct blobjob *j = arg;

	return feed_queue_import_tx(txn, j->blob, j->len, j->project, j->name);
}

static int raise_fn(feed_txn_t *txn, void *arg)
{
	return feed_generation_raise_tx(txn, ((struct blobjob *)arg)->floor);
}

/* Every message of q from marker, with claimed and delayed ones, as one
 * "id:body," string. */
static const char *all_of(feed_t *feed, const char *q, const char *marker,
			  uint64_t now)
{
	static char out[8192];
	feed_read_opts_t ro = {.limit = 100,
			       .flags = FEED_READ_INCLUDE_CLAIMED |
					FEED_READ_INCLUDE_DELAYED |
					FEED_READ_ECHO};
	feed_msgs_t m;
	size_t o = 0;

	out[0] = '\0';
	if (feed_read(feed, P, q, marker, &ro, now, &m))
		return "(read failed)";
	for (size_t i = 0; i < m.n; i++)
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%s:%.*s,",
				      m.v[i].id, (int)m.v[i].body_len,
				      (const char *)m.v[i].body);
	snprintf(out + o, sizeof(out) - o, "next=%s", m.next_marker);
	feed_msgs_free(&m);
	return out;
}

static int scan_count(const char *project, const char *name, void *ctx)
{
	(void)project;
	(void)name;
	(*(int *)ctx)++;
	return 0;
}

static void round_trip(void)
{
	const char *da, *db;
	feed_t *a = fixture_open(&da, NULL), *b = fixture_open(&db, NULL);
	char id1[FEED_ID_LEN + 1], id2[FEED_ID_LEN + 1], id5[FEED_ID_LEN + 1];
	char marker[FEED_ID_LEN + 1], want[8192];
	char again[FEED_ID_LEN + 1], id3[FEED_ID_LEN + 1];
	char sub_marker[FEED_ID_LEN + 1];
	feed_subs_t subs;
	feed_claim_t claim;
	struct subjob sj = {.queue = "work", .uri = "http://127.0.0.1:9/h",
			    .now = T0};
	feed_msgs_t got;
	void *blob;
	size_t len;
	uint64_t next_a, next_b;
	struct blobjob j = {0};
	feed_queue_stats_t st_a, st_b;
	bool exists = true;
	int n = 0;

	/* On A: queues created and deleted to move its counter on, then
	 * "work" with a bit of everything. */
	for (int i = 0; i < 5; i++) {
		post(a, "churn", "x", 60, 0, NULL, T0, NULL);
		feed_queue_delete(a, P, "churn");
	}
	feed_queue_create(a, P, "work", "{\"m\": 1}", 8, T0, NULL);
	post(a, "work", "one", 10, 0, NULL, T0, id1);      /* expires */
	post(a, "work", "two", 3600, 0, NULL, T0, id2);    /* claimed */
	post(a, "work", "three", 3600, 0, NULL, T0, id3); /* read */
	post(a, "work", "four", 3600, 600, NULL, T0, NULL); /* delayed */
	post(a, "work", "five", 3600, 0, "key-5", T0, id5);  /* with a key */
	if (group1(a, sub_fn, &sj))
		bail_out("subscription");
	if (feed_read(a, P, "work", "", &(feed_read_opts_t){.limit = 1,
		      .flags = FEED_READ_ECHO}, T0, &got))
		bail_out("read");
	memcpy(marker, got.next_marker, sizeof(marker));
	feed_msgs_free(&got);
	/* Past "one"'s ttl, compacted: a lost range on A. */
	feed_compact_result_t cr;

	feed_compact(a, T0 + 20 * SEC, 1000, &cr);
	/* The subscription's marker past "three" (its deliverer's step). */
	sj.advance = true;
	sj.id = sj.out_id;
	sj.marker = id3;
	sj.now = T0 + 20 * SEC;
	if (group1(a, sub_fn, &sj))
		bail_out("advance");
	feed_sub_list(a, P, "work", NULL, 0, T0 + 20 * SEC, &subs);
	if (subs.n != 1)
		bail_out("no subscription");
	snprintf(sub_marker, sizeof(sub_marker), "%s", subs.v[0].marker);
	feed_subs_free(&subs);
	/* "two" and "three" claimed, let go, "two" claimed again. */
	if (feed_claim_create(a, P, "work", 600, 60, 2, T0 + 21 * SEC,
			      &claim) || claim.msgs.n != 2)
		bail_out("claim");
	feed_claim_release(a, P, "work", claim.id, T0 + 21 * SEC);
	feed_claim_free(&claim);
	if (feed_claim_create(a, P, "work", 600, 60, 1, T0 + 22 * SEC,
			      &claim) || claim.msgs.n != 1)
		bail_out("claim again");
	snprintf(want, sizeof(want), "%s", all_of(a, "work", "", T0 + 30 * SEC));
	feed_queue_stats(a, P, "work", T0 + 30 * SEC, &st_a);

	is(feed_queue_export(a, P, "nope", &blob, &len), FEED_ENOQUEUE,
	   "export of a queue that does not exist: FEED_ENOQUEUE");
	is(feed_queue_export(a, P, "work", &blob, &len), 0, "export");
	feed_generation_next(a, &next_a);
	feed_generation_next(b, &next_b);
	ok(next_a > 6 && next_b == 1, "A's counter is past its generations "
	   "(%llu), B's is fresh", (unsigned long long)next_a);

	/* B holds a queue of its own first: its internal key is the
	 * imported queue's generation, so the two must not mix. */
	post(b, "mine", "b's own", 3600, 0, NULL, T0, NULL);

	j.blob = blob;
	j.len = len;
	is(group1(b, import_fn, &j), 0, "import on B");
	is_str(j.project, P, "it names the project");
	is_str(j.name, "work", "and the queue");
	is_str(all_of(b, "work", "", T0 + 30 * SEC), want,
	       "every message on B with the ids it had on A, in order");
	feed_queue_stats(b, P, "work", T0 + 30 * SEC, &st_b);
	ok(st_a.total == st_b.total && st_a.claimed == st_b.claimed &&
	   st_a.free == st_b.free && !strcmp(st_a.oldest.id, st_b.oldest.id) &&
	   !strcmp(st_a.newest.id, st_b.newest.id),
	   "stats agree (%llu total, %llu claimed)",
	   (unsigned long long)st_b.total, (unsigned long long)st_b.claimed);
	ok(strstr(all_of(b, "mine", "", T0 + 30 * SEC), ":b's own,next=") &&
	   !strstr(all_of(b, "mine", "", T0 + 30 * SEC), "one"),
	   "B's own queue is untouched");
	is_str(all_of(b, "work", marker, T0 + 30 * SEC),
	       all_of(a, "work", marker, T0 + 30 * SEC),
	       "a marker taken on A reads on from the same place on B");
	{
		char m1[FEED_ID_LEN + 1];

		feed_marker_before(id1, m1);
		if (feed_read(b, P, "work", m1, &(feed_read_opts_t){
			      .limit = 10, .flags = FEED_READ_ECHO},
			      T0 + 30 * SEC, &got))
			bail_out("read from before one");
		ok(got.gap && got.missed == 1, "the expired message is still "
		   "a gap of 1 on B for a reader from before it");
		feed_msgs_free(&got);
	}
	feed_claim_t cb;

	is(feed_claim_get(b, P, "work", claim.id, T0 + 30 * SEC, &cb), 0,
	   "A's claim is live on B");
	ok(cb.msgs.n == 1 && !strcmp(cb.msgs.v[0].id, claim.msgs.v[0].id),
	   "holding the same message");
	feed_claim_free(&cb);
	is(feed_delete(b, P, "work", claim.msgs.v[0].id, claim.id,
		       T0 + 30 * SEC, NULL), 0,
	   "and it deletes its message there");
	feed_claim_free(&claim);
	post(b, "work", "five again", 3600, 0, "key-5", T0 + 40 * SEC, again);
	is_str(again, id5, "an idempotency key from A is a repeat on B: the "
	       "original id");
	is(feed_sub_list(b, P, "work", NULL, 0, T0 + 40 * SEC, &subs), 0,
	   "subscriptions listed on B");
	ok(subs.n == 1 && !strcmp(subs.v[0].id, sj.out_id) &&
	   !strcmp(subs.v[0].marker, sub_marker) &&
	   !strcmp(subs.v[0].subscriber, sj.uri),
	   "the subscription moved, with its id, URI and marker");
	feed_subs_free(&subs);
	void *meta;
	size_t meta_len;

	feed_queue_meta_get(b, P, "work", &meta, &meta_len);
	ok(meta_len == 8 && !memcmp(meta, "{\"m\": 1}", 8), "metadata moved");
	free(meta);
	feed_generation_next(b, &next_b);
	ok(next_b > next_a, "B's counter was raised past A's (%llu > %llu)",
	   (unsigned long long)next_b, (unsigned long long)next_a);
	post(b, "work", "six", 3600, 0, NULL, T0 + 40 * SEC, again);
	ok(!strncmp(again, id1, 10), "a message posted on B has the moved "
	   "generation: %s", again);
	fixture_check(b, "on B after the import and its use");

	/* The generation rule: deleted and created again on B, the queue
	 * gets a generation above every one A gave. */
	feed_queue_delete(b, P, "work");
	post(b, "work", "new", 3600, 0, NULL, T0 + 50 * SEC, again);
	{
		uint64_t g_new, g_old;

		feed_id_parse(again, &g_new, NULL);
		feed_id_parse(id1, &g_old, NULL);
		ok(g_new >= next_a && g_new > g_old, "created again on B: "
		   "generation %llu, above A's counter %llu",
		   (unsigned long long)g_new, (unsigned long long)next_a);
	}
	if (feed_read(b, P, "work", marker, &(feed_read_opts_t){.limit = 10,
		      .flags = FEED_READ_ECHO}, T0 + 50 * SEC, &got))
		bail_out("stale read");
	ok(got.gap && got.missed == -1 && got.n == 1,
	   "the old marker is stale there: a gap, then the new log");
	feed_msgs_free(&got);

	/* Refusals. */
	feed_queue_delete(b, P, "work");
	post(b, "work", "in the way", 3600, 0, NULL, T0, NULL);
	is(group1(b, import_fn, &j), FEED_EEXISTS,
	   "import of a name the project has: FEED_EEXISTS");
	ok(strstr(all_of(b, "work", "", T0), ":in the way,next=") &&
	   !strstr(all_of(b, "work", "", T0), "three"),
	   "and nothing was written");
	feed_queue_delete(b, P, "work");
	j.len = len - 1;
	is(group1(b, import_fn, &j), FEED_EINVAL, "a truncated blob: "
	   "FEED_EINVAL");
	j.len = len / 2;
	is(feed_blob_peek(blob, j.len, NULL, NULL, NULL), FEED_EINVAL,
	   "half a blob: FEED_EINVAL");
	j.len = len;
	((uint8_t *)blob)[len / 2] ^= 0x40;
	is(group1(b, import_fn, &j), FEED_EINVAL, "a flipped bit: "
	   "FEED_EINVAL (checksum)");
	((uint8_t *)blob)[len / 2] ^= 0x40;
	is(feed_queue_import(b, "not a blob", 10, NULL, NULL), FEED_EINVAL,
	   "bytes that are no blob: FEED_EINVAL");
	{
		size_t cut_ok = 0, flip_ok = 0;

		for (size_t k = 0; k < len; k++)
			cut_ok += feed_blob_peek(blob, k, NULL, NULL, NULL) ==
				  FEED_EINVAL;
		for (size_t k = 0; k < len; k++) {
			((uint8_t *)blob)[k] ^= 0x01;
			flip_ok += feed_blob_peek(blob, len, NULL, NULL,
						  NULL) != 0;
			((uint8_t *)blob)[k] ^= 0x01;
		}
		is(cut_ok, len, "each of the %zu shorter prefixes is refused",
		   len);
		is(flip_ok, len, "a blob with any one bit changed is refused");
	}
	feed_queue_exists(b, P, "work", &exists);
	ok(!exists, "none of them made the queue");
	is(feed_queue_import(b, blob, len, NULL, NULL), 0,
	   "the intact blob still imports");
	feed_queue_scan(b, scan_count, &n);
	is(n, 2, "feed_queue_scan sees B's two queues");
	fixture_check(b, "after the refusals");
	free(blob);

	/* The counter on its own. */
	j.floor = 5;
	feed_generation_next(b, &next_b);
	is(group1(b, raise_fn, &j), 0, "raising to below the counter");
	feed_generation_next(b, &next_a);
	is(next_a, next_b, "leaves it as it was");
	j.floor = next_b + 100;
	group1(b, raise_fn, &j);
	feed_generation_next(b, &next_a);
	is(next_a, next_b + 100, "raising above it moves it there");
	feed_close(a);
	feed_close(b);
	fixture_rmdir(da);
	fixture_rmdir(db);
}

/* A format 2 store (queue records without their generation) opens as
 * format 3, every id as before. */
static void format2(void)
{
	const char *dir;
	feed_t *f = fixture_open(&dir, NULL);
	char before[8192];
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi queues, info;
	MDB_cursor *cur;
	MDB_val key, val;
	uint32_t format = 2;
	int rc, shrunk = 0;

	post(f, "old", "a", 3600, 0, NULL, T0, NULL);
	post(f, "old", "b", 3600, 0, NULL, T0, NULL);
	post(f, "gone", "x", 3600, 0, NULL, T0, NULL);
	feed_queue_delete(f, P, "gone");
	snprintf(before, sizeof(before), "%s", all_of(f, "old", "", T0));
	feed_close(f);
	/* Cut the generation off every queue record (its last 8 bytes
	 * before the name), as format 2 wrote them. */
	if (mdb_env_create(&env) || mdb_env_set_maxdbs(env, 32) ||
	    mdb_env_set_mapsize(env, 64u << 20) ||
	    mdb_env_open(env, dir, 0, 0644) ||
	    mdb_txn_begin(env, NULL, 0, &txn) ||
	    mdb_dbi_open(txn, "queues", 0, &queues) ||
	    mdb_dbi_open(txn, "info", 0, &info) ||
	    mdb_cursor_open(txn, queues, &cur))
		bail_out("lmdb");
	uint8_t keys[8][8], recs[8][512];
	size_t lens[8];

	for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST); rc == 0 &&
	     shrunk < 8; rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
		uint32_t name_len;
		/* format 2's struct feed__qrec: nine u64, flags, name_len */
		size_t head = 80;

		memcpy(&name_len, (uint8_t *)val.mv_data + head - 4, 4);
		if (key.mv_size != 8 || val.mv_size != head + 8 + name_len)
			bail_out("unexpected record size %zu (key %zu, name %u)",
				 val.mv_size, key.mv_size, name_len);
		memcpy(keys[shrunk], key.mv_data, 8);
		memcpy(recs[shrunk], val.mv_data, head);
		memcpy(recs[shrunk] + head, (uint8_t *)val.mv_data + head + 8,
		       name_len);
		lens[shrunk++] = head + name_len;
	}
	mdb_cursor_close(cur);
	for (int i = 0; i < shrunk; i++) {
		MDB_val k2 = {8, keys[i]}, v2 = {lens[i], recs[i]};

		if (mdb_put(txn, queues, &k2, &v2, 0))
			bail_out("put");
	}
	key = (MDB_val){6, "format"};
	val = (MDB_val){4, &format};
	if (mdb_put(txn, info, &key, &val, 0) || mdb_txn_commit(txn))
		bail_out("commit");
	mdb_env_close(env);
	ok(shrunk >= 1, "a format 2 store made (%d queue records)", shrunk);
	is(feed_open(&f, dir, NULL), 0, "it opens");
	is_str(all_of(f, "old", "", T0), before, "with the same ids");
	post(f, "old", "c", 3600, 0, NULL, T0, NULL);
	fixture_check(f, "after the upgrade");
	feed_close(f);
	is(feed_open(&f, dir, NULL), 0, "and opens again, format 3");
	ok(strstr(all_of(f, "old", "", T0), ":c,") != NULL, "with what came "
	   "since");
	feed_close(f);
	fixture_rmdir(dir);
}

int main(void)
{
	fixture_client(client, 1);
	round_trip();
	format2();
	done_testing();
	return exit_status();
}
