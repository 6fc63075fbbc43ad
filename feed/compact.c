/*
 * compact.c - compaction: removing expired messages, releasing expired
 * claims, reclaiming deleted queues.
 *
 * Work is found through `due` (due_ms | qid), which holds, for every queue
 * with something that will expire, a time no later than the earliest such
 * expiry. One call handles the queues due by now, oldest due first:
 *
 *   1. expired claims of the queue (from `cexpiry`) are released;
 *   2. expired out-of-order messages (from `expiry`) are removed;
 *   3. the head of the log is walked and its expired in-order messages
 *      removed, up to the first live one (out-of-order messages met on the
 *      way are stepped over; step 2 owns them);
 *   4. the queue's due time becomes the earliest of: that first live
 *      in-order message's expiry, its first `expiry` entry, its first
 *      `cexpiry` entry - or the entry goes when there is none.
 *
 * A dropped queue's due time is 1: its records are deleted range by range.
 *
 * Each call is one write transaction touching about `budget` records, so
 * the writer is never held long; `more` tells the caller to call again.
 * The cost is that of what expired, never of what is still alive.
 */
#include "feed_internal.h"

struct compact_ctx {
	uint64_t now_ms;
	size_t budget, left;
	feed_compact_result_t *out;
};

/* Step 2: expired messages listed in `expiry`. Returns 0 or an error;
 * c->left says whether the budget ran out. */
static int compact_indexed(feed_t *feed, MDB_txn *txn, struct feed__queue *q,
			   struct compact_ctx *c)
{
	while (c->left > 0) {
		MDB_val key, val;
		struct feed__mrec m;
		uint64_t seq;
		int rc = feed__first(txn, feed->expiry, q->qid, 0, &key, &val);

		if (rc == FEED_ENOTFOUND)
			return 0;
		if (rc)
			return rc;
		if (key.mv_size != 24 ||
		    feed__get_be64((uint8_t *)key.mv_data + 8) > c->now_ms)
			return 0;
		seq = feed__get_be64((uint8_t *)key.mv_data + 16);
		rc = feed__msg_load(feed, txn, q->qid, seq, &m, NULL);
		if (rc == FEED_ENOTFOUND) {
			/* An entry without its message: drop it. */
			rc = feed__expiry_set(feed, txn, q->qid,
					      feed__get_be64((uint8_t *)
							     key.mv_data + 8),
					      seq, false);
			if (rc)
				return rc;
			continue;
		}
		if (rc == 0)
			rc = feed__msg_remove(feed, txn, q, seq, &m,
					      FEED__EXPIRED);
		if (rc)
			return rc;
		c->out->messages++;
		c->left--;
	}
	return 0;
}

/* Step 3: the expired head of the log. *head_due = expiry of the first
 * live in-order message, 0 if none. */
static int compact_head(feed_t *feed, MDB_txn *txn, struct feed__queue *q,
			struct compact_ctx *c, uint64_t *head_due)
{
	uint64_t next = 0;

	*head_due = 0;
	while (c->left > 0) {
		MDB_val key, val;
		MDB_cursor *cur;
		struct feed__mrec m;
		uint64_t seq;
		int rc = feed__err(mdb_cursor_open(txn, feed->msgs, &cur));

		if (rc)
			return rc;
		rc = feed__seek(cur, q->qid, next, &key, &val);
		/* Step over out-of-order messages without a new seek. */
		while (rc == 0) {
			rc = feed__mrec_decode(&val, &m, NULL);
			if (rc || !(m.flags & FEED__M_INDEXED))
				break;
			rc = feed__step(cur, q->qid, &key, &val);
		}
		mdb_cursor_close(cur);
		if (rc)
			return rc == FEED_ENOTFOUND ? 0 : rc;
		seq = feed__get_be64((uint8_t *)key.mv_data + 8);
		if (m.expires_ms > c->now_ms) {
			*head_due = m.expires_ms;
			return 0;
		}
		rc = feed__msg_remove(feed, txn, q, seq, &m, FEED__EXPIRED);
		if (rc)
			return rc;
		next = seq + 1;
		c->out->messages++;
		c->left--;
	}
	return 0;
}

/* The earliest time in a qid | time | ... index, 0 if none. */
static int first_time(MDB_txn *txn, MDB_dbi dbi, uint64_t qid, uint64_t *t)
{
	MDB_val key, val;
	int rc = feed__first(txn, dbi, qid, 0, &key, &val);

	*t = 0;
	if (rc == FEED_ENOTFOUND)
		return 0;
	if (rc == 0)
		*t = feed__get_be64((uint8_t *)key.mv_data + 8);
	return rc;
}

static uint64_t earliest(uint64_t a, uint64_t b)
{
	return a == 0 ? b : b == 0 ? a : a < b ? a : b;
}

static int compact_queue(feed_t *feed, MDB_txn *txn, struct feed__queue *q,
			 struct compact_ctx *c)
{
	uint64_t head_due, t1, t2;
	size_t released;
	int rc;

	rc = feed__claims_release_expired(feed, txn, q, c->now_ms, c->left,
					  &released);
	if (rc)
		return rc;
	c->out->claims += released;
	c->left -= released < c->left ? released : c->left;
	rc = compact_indexed(feed, txn, q, c);
	if (rc == 0)
		rc = compact_head(feed, txn, q, c, &head_due);
	if (rc)
		return rc;
	if (c->left > 0) {
		/* Done with this queue: it is next due at its earliest. */
		rc = first_time(txn, feed->expiry, q->qid, &t1);
		if (rc == 0)
			rc = first_time(txn, feed->cexpiry, q->qid, &t2);
		if (rc == 0)
			rc = feed__due_set(feed, txn, q,
					   earliest(head_due, earliest(t1, t2)));
	}
	return rc ? rc : feed__queue_save(feed, txn, q);
}

/* Deletes what is left of a dropped queue, range by range. */
static int reclaim(feed_t *feed, MDB_txn *txn, struct feed__queue *q,
		   struct compact_ctx *c)
{
	const MDB_dbi dbs[] = {feed->msgs, feed->expiry, feed->avail,
			       feed->claims, feed->cexpiry};
	uint8_t k[8];
	MDB_val key = {8, k};
	int rc;

	for (size_t i = 0; i < sizeof(dbs) / sizeof(dbs[0]); i++) {
		MDB_cursor *cur;
		MDB_val val;

		rc = mdb_cursor_open(txn, dbs[i], &cur);
		if (rc)
			return feed__err(rc);
		feed__be64(k, q->qid);
		key.mv_size = 8;
		key.mv_data = k;
		for (;;) {
			/* Seek afresh after each delete. */
			feed__be64(k, q->qid);
			key.mv_size = 8;
			key.mv_data = k;
			feed__touch();
			rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
			if (rc || c->left == 0 ||
			    feed__get_be64(key.mv_data) != q->qid)
				break;
			rc = mdb_cursor_del(cur, 0);
			if (rc)
				break;
			c->out->dropped++;
			c->left--;
		}
		mdb_cursor_close(cur);
		if (rc && rc != MDB_NOTFOUND)
			return feed__err(rc);
		if (c->left == 0)
			return 0;
	}
	/* All gone: the record and its due entry go last. */
	feed__be64(k, q->qid);
	key.mv_size = 8;
	key.mv_data = k;
	rc = feed__due_set(feed, txn, q, 0);
	if (rc == 0)
		rc = feed__err(mdb_del(txn, feed->queues, &key, NULL));
	return rc;
}

static int compact_fn(feed_t *feed, MDB_txn *txn, void *arg)
{
	struct compact_ctx *c = arg;
	int rc = 0;

	memset(c->out, 0, sizeof(*c->out));
	c->left = c->budget;
	while (c->left > 0) {
		MDB_cursor *cur;
		MDB_val key, val;
		struct feed__queue q;
		uint64_t due_ms, qid;

		rc = feed__err(mdb_cursor_open(txn, feed->due, &cur));
		if (rc)
			return rc;
		feed__touch();
		rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
		mdb_cursor_close(cur);
		if (rc == MDB_NOTFOUND)
			return 0;
		if (rc)
			return feed__err(rc);
		if (key.mv_size != 16)
			return FEED_ECORRUPT;
		due_ms = feed__get_be64(key.mv_data);
		qid = feed__get_be64((uint8_t *)key.mv_data + 8);
		if (due_ms > c->now_ms)
			return 0;
		rc = feed__queue_load(feed, txn, qid, &q);
		if (rc == FEED_ENOQUEUE) {
			/* A due entry without its queue: drop it. */
			rc = feed__err(mdb_del(txn, feed->due, &key, NULL));
			if (rc)
				return rc;
			continue;
		}
		if (rc)
			return rc;
		if (q.rec.due_ms != due_ms)
			return FEED_ECORRUPT;
		if (q.rec.flags & FEED__Q_DROPPED)
			rc = reclaim(feed, txn, &q, c);
		else
			rc = compact_queue(feed, txn, &q, c);
		if (rc)
			return rc;
		/* A queue still due with budget left would loop forever. */
		if (c->left > 0 && q.rec.due_ms && q.rec.due_ms <= c->now_ms &&
		    !(q.rec.flags & FEED__Q_DROPPED))
			return FEED_ECORRUPT;
	}
	return 0;
}

/* Whether some queue is still due by now_ms, as txn sees it. */
static int still_due(feed_t *feed, MDB_txn *txn, uint64_t now_ms, bool *more)
{
	MDB_cursor *cur;
	MDB_val key, val;
	int rc = mdb_cursor_open(txn, feed->due, &cur);

	*more = false;
	if (rc == 0) {
		feed__touch();
		rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
		if (rc == 0 && key.mv_size == 16)
			*more = feed__get_be64(key.mv_data) <= now_ms;
		mdb_cursor_close(cur);
	}
	return rc == MDB_NOTFOUND ? 0 : feed__err(rc);
}

/* One step, and whether work is left after it, in one transaction. */
static int step_fn(feed_t *feed, MDB_txn *txn, void *arg)
{
	struct compact_ctx *c = arg;
	int rc = compact_fn(feed, txn, c);

	return rc ? rc : still_due(feed, txn, c->now_ms, &c->out->more);
}

static int compact_op(feed_t *feed, feed_txn_t *t, uint64_t now_ms,
		      size_t budget, feed_compact_result_t *out)
{
	struct compact_ctx c = {now_ms, budget ? budget : 1, 0, out};
	int rc;

	memset(out, 0, sizeof(*out));
	rc = feed__run(feed, t, step_fn, &c, FEED__W_FREES);
	if (rc)
		memset(out, 0, sizeof(*out));
	return rc;
}

int feed_compact(feed_t *feed, uint64_t now_ms, size_t budget,
		 feed_compact_result_t *out)
{
	return compact_op(feed, NULL, now_ms, budget, out);
}

int feed_compact_tx(feed_txn_t *txn, uint64_t now_ms, size_t budget,
		    feed_compact_result_t *out)
{
	return compact_op(feed__txn_feed(txn), txn, now_ms, budget, out);
}
