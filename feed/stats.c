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
 * Expired messages not yet removed are the expired in-order prefix of the
 * log (walked from its head, stepping over out-of-order ones) plus the
 * `expiry` entries due by now; expired claims are the `cexpiry` entries due
 * by now (record.c's one walk over them). So a stats call costs O(log n +
 * the backlog compaction has not reached), never O(messages).
 *
 * The oldest and newest live messages come from the two ends of the log:
 * the head walk above, and a walk back from the tail over expired ones.
 */
#include "feed_internal.h"

/* Walks the head of the log: counts the expired in-order messages not yet
 * removed and finds the oldest live message. */
static int stats_head(feed_t *feed, MDB_txn *txn, const struct feed__queue *q,
		      uint64_t now_ms, uint64_t *expired,
		      feed_queue_stats_t *out)
{
	MDB_val key, val;
	MDB_cursor *cur;
	struct feed__mrec m;
	bool have_oldest = false;
	int rc = feed__err(mdb_cursor_open(txn, feed->msgs, &cur));

	if (rc)
		return rc;
	for (rc = feed__seek(cur, q->qid, 0, &key, &val); rc == 0;
	     rc = feed__step(cur, q->qid, &key, &val)) {
		rc = feed__mrec_decode(&val, &m, NULL);
		if (rc)
			break;
		if (m.expires_ms <= now_ms) {
			if (!(m.flags & FEED__M_INDEXED))
				(*expired)++;
			continue;
		}
		if (!have_oldest) {
			feed__id_format(out->oldest.id, q->qid,
					feed__get_be64((uint8_t *)key.mv_data + 8));
			out->oldest.created_ms = m.created_ms;
			have_oldest = true;
		}
		if (!(m.flags & FEED__M_INDEXED))
			break;
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
			feed__id_format(out->newest.id, q->qid,
					feed__get_be64((uint8_t *)key.mv_data + 8));
			out->newest.created_ms = m.created_ms;
			break;
		}
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : feed__err(rc);
}

/* Counts the `expiry` entries of queue qid due by now_ms. */
static int count_expiry(feed_t *feed, MDB_txn *txn, uint64_t qid,
			uint64_t now_ms, uint64_t *n)
{
	MDB_val key, val;
	MDB_cursor *cur;
	int rc = feed__err(mdb_cursor_open(txn, feed->expiry, &cur));

	if (rc)
		return rc;
	for (rc = feed__seek(cur, qid, 0, &key, &val); rc == 0;
	     rc = feed__step(cur, qid, &key, &val)) {
		if (feed__get_be64((uint8_t *)key.mv_data + 8) > now_ms)
			break;
		(*n)++;
	}
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
		rc = stats_head(feed, txn, &q, now_ms, &expired, out);
	if (rc == 0)
		rc = count_expiry(feed, txn, q.qid, now_ms, &expired);
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
