/*
 * compact.c - compaction: removing expired messages, releasing expired
 * claims, reclaiming deleted queues.
 *
 * Work is found through `due` (due_ms | qid), which holds, for every queue
 * with something that will expire, a time no later than the earliest such
 * expiry. One call handles the queues due by now, oldest due first:
 *
 *   1. expired claims of the queue (from `cexpiry`) are released;
 *   2. the queue's first `expiry` entries due by now are taken, earliest
 *      first: each is the start of a run of messages of that expiry
 *      (feed_internal.h), all expired. The run is walked and its messages
 *      removed, the span they leave recorded in `lost` at once; when the
 *      run ends the entry goes, and when the budget runs out inside it the
 *      entry moves to where the walk stopped, so the next call goes on
 *      from there;
 *   3. idempotency keys whose window passed are removed: the queue's
 *      first `iexpiry` entries due by now, each with its `idem` entry;
 *   4. subscriptions whose ttl passed are removed (sub.c), the queue's
 *      first `sexpiry` entries due by now;
 *   5. the queue's due time becomes the earliest of its first `expiry`,
 *      `cexpiry`, `iexpiry` and `sexpiry` entries - or its entry goes
 *      when there is none.
 *
 * A dropped queue's due time is 1: its records are deleted range by range.
 *
 * The budget counts records touched (feed__touch: seeks, steps, gets,
 * puts, deletes), checked after every step, so a call touches at most
 * `budget` plus one step's worth (a removal: about ten; the release of a
 * claim, which goes whole: a few per message it holds). Each call is one
 * write transaction; `more` tells the caller to call again. The cost is
 * that of what expired, never of what is still alive: live messages are
 * never visited (a run holds only messages of its expiry).
 *
 * A queue whose records contradict each other is skipped, not fatal: its
 * work runs in a nested transaction that is thrown away, its due time is
 * pushed SKIP_MS later (so later calls do not spin on it), and the result
 * counts it. Compaction of every other queue goes on.
 */
#include "feed_internal.h"

/* How long compaction leaves a corrupt queue alone. */
#define SKIP_MS (60 * UINT64_C(1000))

struct compact_ctx {
	uint64_t now_ms;
	size_t budget;
	uint64_t start; /* feed__touched when the call began */
	feed_compact_result_t *out;
};

/* Budget left: records the call may still touch. */
static size_t left(const struct compact_ctx *c)
{
	uint64_t spent = feed__touched - c->start;

	return spent >= c->budget ? 0 : (size_t)(c->budget - spent);
}

/*
 * Step 2 for the run of entry qid | t | s: removes its messages while the
 * budget lasts. *done = the run is finished (its entry deleted).
 */
static int compact_run(feed_t *feed, MDB_txn *txn, struct feed__queue *q,
		       struct compact_ctx *c, uint64_t t, uint64_t s,
		       bool *done)
{
	uint64_t bound, pos = s, first = 0, last = 0, n = 0;
	int rc = feed__run_bound(feed, txn, q->qid, t, s, &bound);

	*done = false;
	while (rc == 0 && left(c) > 0) {
		MDB_val key, val;
		struct feed__mrec m;
		uint64_t seq = 0;

		rc = feed__first(txn, feed->msgs, q->qid, pos, &key, &val);
		if (rc == 0) {
			seq = feed__get_be64((uint8_t *)key.mv_data + 8);
			rc = feed__mrec_decode(&val, &m, NULL);
		}
		if (rc == FEED_ENOTFOUND || (rc == 0 && (seq >= bound ||
							 m.expires_ms != t))) {
			*done = true;
			rc = 0;
			break;
		}
		if (rc == 0)
			rc = feed__msg_remove(feed, txn, q, seq, &m,
					      FEED__EXPIRED_NOTED);
		if (rc)
			break;
		first = first ? first : seq;
		last = seq;
		n++;
		pos = seq + 1;
		c->out->messages++;
	}
	/* Everything in [first, last] is gone: the walk saw each present
	 * message in it, and removed it. */
	if (rc == 0 && n)
		rc = feed__lost_add(feed, txn, q, first, last, n);
	if (rc == 0 && (*done || pos != s))
		rc = feed__expiry_set(feed, txn, q->qid, t, s, false);
	if (rc == 0 && !*done && pos != s)
		rc = feed__expiry_set(feed, txn, q->qid, t, pos, true);
	/* An open tail run may have just lost its entry: close it, so the
	 * next append of that expiry starts one. */
	if (rc == 0 && *done && t == q->rec.tail_expires_ms)
		q->rec.tail_expires_ms = 0;
	return rc;
}

/* Step 2: the runs due by now, while the budget lasts. */
static int compact_runs(feed_t *feed, MDB_txn *txn, struct feed__queue *q,
			struct compact_ctx *c)
{
	int rc = 0;

	while (rc == 0 && left(c) > 0) {
		MDB_val key, val;
		uint64_t t;
		bool done;

		rc = feed__first(txn, feed->expiry, q->qid, 0, &key, &val);
		if (rc == FEED_ENOTFOUND)
			return 0;
		if (rc == 0 && key.mv_size != 24)
			rc = FEED_ECORRUPT;
		if (rc)
			break;
		t = feed__get_be64((uint8_t *)key.mv_data + 8);
		if (t > c->now_ms)
			return 0;
		rc = compact_run(feed, txn, q, c, t,
				 feed__get_be64((uint8_t *)key.mv_data + 16),
				 &done);
	}
	return rc;
}

/*
 * Step 3: idempotency keys whose window passed by now, earliest first,
 * while the budget lasts: the queue's first `iexpiry` entries, each with
 * its `idem` entry (four records touched a key).
 */
static int compact_keys(feed_t *feed, MDB_txn *txn, struct feed__queue *q,
			struct compact_ctx *c)
{
	int rc = 0;

	while (rc == 0 && left(c) > 0) {
		MDB_val key, val;
		struct feed__irec rec;
		const uint8_t *k;
		uint8_t kb[FEED_IDEM_KEY_MAX];
		size_t len;

		rc = feed__first(txn, feed->iexpiry, q->qid, 0, &key, &val);
		if (rc == FEED_ENOTFOUND)
			return 0;
		if (rc == 0 && (key.mv_size <= 16 ||
				key.mv_size > 16 + FEED_IDEM_KEY_MAX))
			rc = FEED_ECORRUPT;
		if (rc)
			break;
		k = key.mv_data;
		rec.expires_ms = feed__get_be64(k + 8);
		if (rec.expires_ms > c->now_ms)
			return 0;
		/* The key is in the map: copy it before the first write. */
		len = key.mv_size - 16;
		memcpy(kb, k + 16, len);
		rc = feed__idem_get(feed, txn, q->qid, kb, len, &rec);
		if (rc == 0 && rec.expires_ms != feed__get_be64(k + 8))
			rc = FEED_ECORRUPT;
		if (rc == 0)
			rc = feed__idem_set(feed, txn, q->qid, kb, len, &rec,
					    false);
		if (rc == 0)
			c->out->keys++;
	}
	return rc;
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
	uint64_t t1, t2, t3, t4;
	size_t released;
	int rc;

	rc = feed__claims_release_expired(feed, txn, q, c->now_ms, left(c),
					  &released);
	if (rc)
		return rc;
	c->out->claims += released;
	rc = compact_runs(feed, txn, q, c);
	if (rc == 0)
		rc = compact_keys(feed, txn, q, c);
	if (rc == 0)
		rc = feed__subs_expire(feed, txn, q, c->now_ms, left(c),
				       &c->out->subs);
	if (rc)
		return rc;
	if (left(c) > 0) {
		/* Done with this queue: it is next due at its earliest. */
		rc = first_time(txn, feed->expiry, q->qid, &t1);
		if (rc == 0)
			rc = first_time(txn, feed->cexpiry, q->qid, &t2);
		if (rc == 0)
			rc = first_time(txn, feed->iexpiry, q->qid, &t3);
		if (rc == 0)
			rc = first_time(txn, feed->sexpiry, q->qid, &t4);
		if (rc == 0)
			rc = feed__due_set(feed, txn, q,
					   earliest(earliest(t1, t2),
						    earliest(t3, t4)));
	}
	return rc ? rc : feed__queue_save(feed, txn, q);
}

/* Deletes what is left of a dropped queue, range by range. */
static int reclaim(feed_t *feed, MDB_txn *txn, struct feed__queue *q,
		   struct compact_ctx *c)
{
	const MDB_dbi dbs[] = {feed->msgs,   feed->expiry,  feed->avail,
			       feed->claims, feed->cexpiry, feed->lost,
			       feed->delayed, feed->idem,   feed->iexpiry,
			       feed->subs,    feed->sexpiry, feed->suri};
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
			if (rc || left(c) == 0 ||
			    feed__get_be64(key.mv_data) != q->qid)
				break;
			rc = mdb_cursor_del(cur, 0);
			if (rc)
				break;
			c->out->dropped++;
		}
		mdb_cursor_close(cur);
		if (rc && rc != MDB_NOTFOUND)
			return feed__err(rc);
		if (left(c) == 0)
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

/* One due queue's work, in a nested transaction: FEED_ECORRUPT leaves
 * nothing of it behind. */
static int compact_one(feed_t *feed, MDB_txn *txn, uint64_t qid,
		       uint64_t due_ms, struct compact_ctx *c)
{
	struct feed__queue q;
	MDB_txn *sub;
	int rc = feed__err(mdb_txn_begin(feed->env, txn, 0, &sub));

	if (rc)
		return rc;
	rc = feed__queue_load(feed, sub, qid, &q);
	if (rc == 0 && q.rec.due_ms != due_ms)
		rc = FEED_ECORRUPT;
	if (rc == 0 && (q.rec.flags & FEED__Q_DROPPED))
		rc = reclaim(feed, sub, &q, c);
	else if (rc == 0)
		rc = compact_queue(feed, sub, &q, c);
	/* A queue still due with budget left would loop forever. */
	if (rc == 0 && left(c) > 0 && q.rec.due_ms &&
	    q.rec.due_ms <= c->now_ms && !(q.rec.flags & FEED__Q_DROPPED))
		rc = FEED_ECORRUPT;
	if (rc == 0)
		return feed__err(mdb_txn_commit(sub));
	mdb_txn_abort(sub);
	return rc;
}

/* Puts a corrupt queue's due entry (due_ms | qid) SKIP_MS after now, in
 * its record too when that can be read, and counts it. */
static int skip_corrupt(feed_t *feed, MDB_txn *txn, uint64_t qid,
			uint64_t due_ms, struct compact_ctx *c)
{
	struct feed__queue q;
	uint8_t k[16];
	uint64_t later = c->now_ms + SKIP_MS;
	int rc;

	c->out->corrupt++;
	c->out->corrupt_qid = qid;
	rc = feed__queue_load(feed, txn, qid, &q);
	if (rc == 0)
		c->out->corrupt_qid = q.rec.generation;
	if (rc == 0 && q.rec.due_ms == due_ms) {
		rc = feed__due_set(feed, txn, &q, later);
		return rc ? rc : feed__queue_save(feed, txn, &q);
	}
	feed__be64(k, due_ms);
	feed__be64(k + 8, qid);
	rc = feed__index_set(txn, feed->due, k, sizeof(k), false);
	feed__be64(k, later);
	return rc ? rc : feed__index_set(txn, feed->due, k, sizeof(k), true);
}

static int compact_fn(feed_t *feed, MDB_txn *txn, void *arg)
{
	struct compact_ctx *c = arg;
	int rc = 0;

	memset(c->out, 0, sizeof(*c->out));
	c->start = feed__touched;
	while (left(c) > 0) {
		MDB_cursor *cur;
		MDB_val key, val;
		uint64_t due_ms, qid;

		rc = feed__err(mdb_cursor_open(txn, feed->due, &cur));
		if (rc)
			return rc;
		feed__touch();
		rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
		if (rc == 0 && key.mv_size == 16) {
			due_ms = feed__get_be64(key.mv_data);
			qid = feed__get_be64((uint8_t *)key.mv_data + 8);
		} else if (rc == 0) {
			/* Not a due entry at all: drop it. */
			rc = mdb_cursor_del(cur, 0);
			mdb_cursor_close(cur);
			if (rc)
				return feed__err(rc);
			continue;
		}
		mdb_cursor_close(cur);
		if (rc == MDB_NOTFOUND)
			return 0;
		if (rc)
			return feed__err(rc);
		if (due_ms > c->now_ms)
			return 0;
		rc = compact_one(feed, txn, qid, due_ms, c);
		if (rc == FEED_ENOQUEUE) {
			/* A due entry without its queue: drop it. */
			uint8_t k[16];

			feed__be64(k, due_ms);
			feed__be64(k + 8, qid);
			rc = feed__index_set(txn, feed->due, k, sizeof(k),
					     false);
		}
		if (rc == FEED_ECORRUPT)
			rc = skip_corrupt(feed, txn, qid, due_ms, c);
		if (rc)
			return rc;
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
