/*
 * stats.c - exact counts of a queue without a scan of its log.
 *
 * The queue record (queue.c) counts stored messages (`count`) and messages
 * held by unreleased claims (`claimed`). What has expired but not been
 * collected by compaction yet is subtracted at read time:
 *
 *   total   = count - (expired messages not yet removed)
 *   claimed = claimed - (live messages of expired claims not yet released)
 *   free    = total - claimed
 *
 * Expired messages not yet removed are exactly the messages of the
 * queue's `expiry` runs due by now (feed_internal.h: every message is in
 * one run, and a run holds messages of its expiry only), so counting them
 * walks those runs and nothing else; expired claims are the `cexpiry`
 * entries due by now (record.c's one walk over them). A stats call costs
 * O(log n + due runs + the backlog compaction has not reached), never
 * O(messages), whatever the mix of ttls.
 *
 * The oldest and newest live messages come from the two ends of the log,
 * each walked over expired messages only (backlog again).
 */
#include "feed_internal.h"

/* Finds the oldest live message, walking from the head over expired ones. */
static int stats_head(feed_t *feed, MDB_txn *txn, const struct feed__queue *q,
		      uint64_t now_ms, feed_queue_stats_t *out)
{
	MDB_val key, val;
	MDB_cursor *cur;
	struct feed__mrec m;
	int rc = feed__err(mdb_cursor_open(txn, feed->msgs, &cur));

	if (rc)
		return rc;
	for (rc = feed__seek(cur, q->qid, 0, &key, &val); rc == 0;
	     rc = feed__step(cur, q->qid, &key, &val)) {
		rc = feed__mrec_decode(&val, &m, NULL);
		if (rc)
			break;
		if (m.expires_ms > now_ms) {
			feed__id_format(out->oldest.id, q->rec.generation,
					feed__get_be64((uint8_t *)key.mv_data + 8));
			out->oldest.created_ms = m.created_ms;
			break;
		}
	}
	mdb_cursor_close(cur);
	return rc == FEED_ENOTFOUND ? 0 : rc;
}

/* Finds the newest live message, walking back from the tail. */
static int stats_tail(feed_t *feed, MDB_txn *txn, const struct feed__queue *q,
		      uint64_t now_ms, feed_queue_stats_t *out)
{
	uint8_t k[16];
	MDB_val key = {16, k}, val;
	MDB_cursor *cur;
	MDB_cursor_op op;
	struct feed__mrec m;
	int rc;

	/* Step back from the first key after the queue's (or the last). */
	feed__msg_key(k, q->qid + 1, 0);
	rc = mdb_cursor_open(txn, feed->msgs, &cur);
	if (rc)
		return feed__err(rc);
	rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
	op = rc == MDB_NOTFOUND ? MDB_LAST : MDB_PREV;
	while ((rc = mdb_cursor_get(cur, &key, &val, op)) == 0) {
		feed__touch();
		op = MDB_PREV;
		if (feed__get_be64(key.mv_data) != q->qid)
			break;
		rc = feed__mrec_decode(&val, &m, NULL);
		if (rc)
			break;
		if (m.expires_ms > now_ms) {
			feed__id_format(out->newest.id, q->rec.generation,
					feed__get_be64((uint8_t *)key.mv_data + 8));
			out->newest.created_ms = m.created_ms;
			break;
		}
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : feed__err(rc);
}

/* Counts the messages of the run qid | t | s that ends before `bound`. */
static int count_run(MDB_cursor *msgs, uint64_t qid, uint64_t t, uint64_t s,
		     uint64_t bound, uint64_t *n)
{
	MDB_val key, val;
	struct feed__mrec m;
	int rc;

	for (rc = feed__seek(msgs, qid, s, &key, &val); rc == 0;
	     rc = feed__step(msgs, qid, &key, &val)) {
		rc = feed__mrec_decode(&val, &m, NULL);
		if (rc || feed__get_be64((uint8_t *)key.mv_data + 8) >= bound ||
		    m.expires_ms != t)
			break;
		(*n)++;
	}
	return rc == FEED_ENOTFOUND ? 0 : rc;
}

/* Counts the messages of queue qid's runs due by now_ms: the expired ones
 * compaction has not removed yet. The next entry of the walk, when of the
 * same expiry, is where a run ends. */
static int count_expired(feed_t *feed, MDB_txn *txn, uint64_t qid,
			 uint64_t now_ms, uint64_t *n)
{
	MDB_val key, val;
	MDB_cursor *cur, *msgs;
	uint64_t t = 0, s = 0;
	bool have = false;
	int rc = feed__err(mdb_cursor_open(txn, feed->expiry, &cur));

	if (rc)
		return rc;
	rc = feed__err(mdb_cursor_open(txn, feed->msgs, &msgs));
	if (rc) {
		mdb_cursor_close(cur);
		return rc;
	}
	for (rc = feed__seek(cur, qid, 0, &key, &val); rc == 0;
	     rc = feed__step(cur, qid, &key, &val)) {
		uint64_t t2, s2;

		if (key.mv_size != 24) {
			rc = FEED_ECORRUPT;
			break;
		}
		t2 = feed__get_be64((uint8_t *)key.mv_data + 8);
		s2 = feed__get_be64((uint8_t *)key.mv_data + 16);
		if (have)
			rc = count_run(msgs, qid, t, s, t2 == t ? s2 : UINT64_MAX,
				       n);
		have = false;
		if (rc || t2 > now_ms)
			break;
		t = t2;
		s = s2;
		have = true;
	}
	if (rc == FEED_ENOTFOUND && have)
		rc = count_run(msgs, qid, t, s, UINT64_MAX, n);
	mdb_cursor_close(msgs);
	mdb_cursor_close(cur);
	return rc == FEED_ENOTFOUND ? 0 : rc;
}

static int add_live(feed_t *feed, MDB_txn *txn, struct feed__claim *c,
		    void *arg)
{
	(void)feed;
	(void)txn;
	*(uint64_t *)arg += c->rec.live;
	return 0;
}

int feed_queue_stats(feed_t *feed, const char *project, const char *name,
		     uint64_t now_ms, feed_queue_stats_t *out)
{
	struct feed__queue q;
	uint64_t expired = 0, released = 0;
	MDB_txn *txn;
	int rc = feed__name_check(project, name);

	memset(out, 0, sizeof(*out));
	if (rc)
		return rc;
	rc = feed__read_begin(feed, &txn);
	if (rc)
		return rc;
	rc = feed__queue_find(feed, txn, project, name, &q);
	if (rc == 0)
		rc = stats_head(feed, txn, &q, now_ms, out);
	if (rc == 0)
		rc = count_expired(feed, txn, q.qid, now_ms, &expired);
	if (rc == 0)
		rc = feed__claims_expired(feed, txn, q.qid, now_ms, false,
					  add_live, &released);
	if (rc == 0)
		rc = stats_tail(feed, txn, &q, now_ms, out);
	feed__read_end(feed, txn);
	if (rc) {
		memset(out, 0, sizeof(*out));
		return rc == FEED_ENOQUEUE ? 0 : rc;
	}
	if (expired > q.rec.count || released > q.rec.claimed)
		return FEED_ECORRUPT;
	out->total = q.rec.count - expired;
	out->claimed = q.rec.claimed - released;
	out->posted = q.rec.next_seq - 1;
	if (out->claimed > out->total)
		return FEED_ECORRUPT;
	out->free = out->total - out->claimed;
	return 0;
}

/*
 * Totals of the whole environment from LMDB's own entry counts (mdb_stat
 * keeps one per database in its root): O(1) whatever the number of
 * queues, for a metrics scrape. They count records, not what a reader
 * would see: `messages` includes the expired messages compaction has not
 * removed yet and those of deleted queues not reclaimed yet; `claims`
 * includes expired claims not released yet.
 */
int feed_env_totals(feed_t *feed, feed_env_totals_t *out)
{
	MDB_stat st;
	MDB_txn *txn;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = feed__read_begin(feed, &txn);
	if (rc)
		return rc;
	rc = feed__err(mdb_stat(txn, feed->names, &st));
	if (rc == 0) {
		out->queues = st.ms_entries;
		rc = feed__err(mdb_stat(txn, feed->msgs, &st));
	}
	if (rc == 0) {
		out->messages = st.ms_entries;
		rc = feed__err(mdb_stat(txn, feed->claims, &st));
	}
	if (rc == 0)
		out->claims = st.ms_entries;
	feed__read_end(feed, txn);
	return rc;
}
