/*
 * record.c - the records of messages and claims, and the index entries
 * that point at them: the one place that knows how they are encoded and
 * what must change together when one of them changes.
 *
 * Message (`msgs`, key qid | seq):
 *
 *     +------------+------------+--------+------------------+
 *     | created_ms | expires_ms | due_ms | claim_expires_ms |
 *     +------------+------------+--------+------------------+
 *     | client id (16) | claim id (16) | claim_count | flags |  body ...
 *     +----------------+---------------+-------------+-------+----------
 *
 * Claim (`claims`, key qid | claim id):
 *
 *     +------------+------------+-------+---------+------+---+-----------+
 *     | updated_ms | expires_ms | ttl_s | grace_s | live | n | seq[n] ... |
 *     +------------+------------+-------+---------+------+---+-----------+
 *     then, only for a claim with a retry backoff:
 *     +---------+-------------+
 *     | delay_s | delay_max_s |   (struct feed__cretry; its absence = none)
 *     +---------+-------------+
 *
 * Index entries have empty values; their keys say everything:
 *
 *     expiry   qid | expires_ms | seq        start of a run of one expiry
 *     avail    qid | seq                     unclaimed, below the cursor
 *     cexpiry  qid | expires_ms | claim id   every claim, by its expiry
 *     due      due_ms | qid              a queue's next compaction work
 *     delayed  qid | due_ms | seq        appended or let go with a delay,
 *                                        not taken since:
 *              qid | FEED__BY_SEQ | seq  the same message, in log order
 *
 * Lost ranges (`lost`, key qid | first): u64 last | u64 count.
 *
 * Idempotency keys (`idem`, key qid | key bytes): u64 seq | u64
 * expires_ms, the message stored with the key and the end of its window;
 * `iexpiry` qid | expires_ms | key bytes (empty) lists them by that end.
 *
 * What moves together (the invariants of feed_internal.h): appending a
 * message with a delay puts both its `delayed` entries (and moves the
 * claim cursor over it when the cursor is at it); a claim taking it
 * deletes them (claim.c: the message's claim_count becomes nonzero, so it
 * is no longer feed__msg_delayed); removing a message removes, by what it
 * is, its place in its claim (crec.live, qrec.claimed), its `delayed`
 * entries (keyed by its due_ms) or its `avail` entry, and records a loss
 * in `lost` when it expired or was purged; raising its expiry moves it out
 * of its `expiry` run and may lower the queue's `due` entry; dropping a
 * claim clears its messages, lists them in `avail` - or, let go with a
 * delay (a backoff, a release with a delay), in `delayed` at their new
 * due time with FEED__M_RETRY - and removes its `cexpiry` entry.
 * Moving a message to another queue (claim.c) is a removal here and an
 * append there (feed__msg_append). Callers (log.c, claim.c, compact.c, stats.c) go through these
 * functions instead of writing records themselves.
 *
 * Map pointers: values read here point into the map and are valid only
 * until the next write of the transaction. A rewrite of a message copies
 * its body out first; claims are copied out whole (seqs malloc'd).
 */
#include <stdlib.h>

#include "feed_internal.h"

/* ------------------------------------------------------------ seeking */

int feed__seek_key(MDB_cursor *cur, uint64_t qid, const uint8_t *k,
		   size_t len, MDB_val *key, MDB_val *val)
{
	int rc;

	key->mv_size = len;
	key->mv_data = (void *)k;
	feed__touch();
	rc = mdb_cursor_get(cur, key, val, MDB_SET_RANGE);
	if (rc)
		return feed__err(rc);
	if (key->mv_size < 16 || feed__get_be64(key->mv_data) != qid)
		return FEED_ENOTFOUND;
	return 0;
}

int feed__seek(MDB_cursor *cur, uint64_t qid, uint64_t from, MDB_val *key,
	       MDB_val *val)
{
	uint8_t k[16];

	feed__msg_key(k, qid, from);
	return feed__seek_key(cur, qid, k, sizeof(k), key, val);
}

int feed__step(MDB_cursor *cur, uint64_t qid, MDB_val *key, MDB_val *val)
{
	int rc;

	feed__touch();
	rc = mdb_cursor_get(cur, key, val, MDB_NEXT);
	if (rc)
		return feed__err(rc);
	if (key->mv_size < 16 || feed__get_be64(key->mv_data) != qid)
		return FEED_ENOTFOUND;
	return 0;
}

int feed__first(MDB_txn *txn, MDB_dbi dbi, uint64_t qid, uint64_t from,
		MDB_val *key, MDB_val *val)
{
	MDB_cursor *cur;
	int rc = feed__err(mdb_cursor_open(txn, dbi, &cur));

	if (rc)
		return rc;
	rc = feed__seek(cur, qid, from, key, val);
	mdb_cursor_close(cur);
	return rc;
}

/* -------------------------------------------------------- index entries */

int feed__index_set(MDB_txn *txn, MDB_dbi dbi, const void *k, size_t len,
		    bool on)
{
	MDB_val key = {len, (void *)k}, val = {0, NULL};
	int rc;

	feed__touch();
	if (on)
		return feed__err(mdb_put(txn, dbi, &key, &val, 0));
	rc = mdb_del(txn, dbi, &key, NULL);
	return rc == MDB_NOTFOUND ? 0 : feed__err(rc);
}

int feed__expiry_set(feed_t *feed, MDB_txn *txn, uint64_t qid, uint64_t t,
		     uint64_t seq, bool on)
{
	uint8_t k[24];

	feed__msg_key(k, qid, t);
	feed__be64(k + 16, seq);
	return feed__index_set(txn, feed->expiry, k, sizeof(k), on);
}

int feed__avail_set(feed_t *feed, MDB_txn *txn, uint64_t qid, uint64_t seq,
		    bool on)
{
	uint8_t k[16];

	feed__msg_key(k, qid, seq);
	return feed__index_set(txn, feed->avail, k, sizeof(k), on);
}

/* Keyed by due time for claims, by seq for readers; FEED__BY_SEQ itself
 * is never a due time (now_ms plus a 32-bit delay in seconds stays far
 * below it; a due time that would reach it is keyed one below). */
int feed__delayed_set(feed_t *feed, MDB_txn *txn, uint64_t qid,
		      uint64_t due_ms, uint64_t seq, bool on)
{
	uint8_t k[24];
	int rc;

	feed__msg_key(k, qid, due_ms < FEED__BY_SEQ ? due_ms : FEED__BY_SEQ - 1);
	feed__be64(k + 16, seq);
	rc = feed__index_set(txn, feed->delayed, k, sizeof(k), on);
	if (rc)
		return rc;
	feed__be64(k + 8, FEED__BY_SEQ);
	return feed__index_set(txn, feed->delayed, k, sizeof(k), on);
}

int feed__delayed_appended(feed_t *feed, MDB_txn *txn, struct feed__queue *q,
			   uint64_t seq, const struct feed__mrec *m)
{
	if (!feed__msg_delayed(m))
		return 0;
	/* The cursor at the new message: every earlier one was met already,
	 * so stepping over this one now is what the next claim would do. */
	if (q->rec.claim_cursor == seq)
		q->rec.claim_cursor = seq + 1;
	return feed__delayed_set(feed, txn, q->qid, m->due_ms, seq, true);
}

int feed__delayed_next(feed_t *feed, MDB_txn *txn, uint64_t qid,
		       uint64_t after, uint64_t *next)
{
	uint8_t k[24];
	MDB_cursor *cur;
	MDB_val key, val;
	int rc = feed__err(mdb_cursor_open(txn, feed->delayed, &cur));

	if (rc)
		return rc;
	feed__msg_key(k, qid, FEED__BY_SEQ);
	feed__be64(k + 16, after + 1);
	rc = feed__seek_key(cur, qid, k, sizeof(k), &key, &val);
	if (rc == 0 && key.mv_size == 24 &&
	    feed__get_be64((uint8_t *)key.mv_data + 8) == FEED__BY_SEQ &&
	    feed__get_be64((uint8_t *)key.mv_data + 16) < *next)
		*next = feed__get_be64((uint8_t *)key.mv_data + 16);
	mdb_cursor_close(cur);
	return rc == FEED_ENOTFOUND ? 0 : rc;
}

static int cexpiry_set(feed_t *feed, MDB_txn *txn, uint64_t qid, uint64_t t,
		       const uint8_t id[16], bool on)
{
	uint8_t k[32];

	feed__msg_key(k, qid, t);
	memcpy(k + 16, id, 16);
	return feed__index_set(txn, feed->cexpiry, k, sizeof(k), on);
}

/* The `due` entry due_ms | qid (keyed by time first: compaction's queue). */
static int due_put(feed_t *feed, MDB_txn *txn, uint64_t due_ms, uint64_t qid,
		   bool on)
{
	uint8_t k[16];

	feed__be64(k, due_ms);
	feed__be64(k + 8, qid);
	return feed__index_set(txn, feed->due, k, sizeof(k), on);
}

int feed__due_set(feed_t *feed, MDB_txn *txn, struct feed__queue *q,
		  uint64_t due_ms)
{
	int rc;

	if (q->rec.due_ms == due_ms)
		return 0;
	if (q->rec.due_ms) {
		rc = due_put(feed, txn, q->rec.due_ms, q->qid, false);
		if (rc)
			return rc;
	}
	q->rec.due_ms = due_ms;
	return due_ms ? due_put(feed, txn, due_ms, q->qid, true) : 0;
}

int feed__due_lower(feed_t *feed, MDB_txn *txn, struct feed__queue *q,
		    uint64_t due_ms)
{
	if (due_ms == 0 || (q->rec.due_ms && q->rec.due_ms <= due_ms))
		return 0;
	return feed__due_set(feed, txn, q, due_ms);
}

/* ------------------------------------------------------------- messages */

int feed__mrec_decode(const MDB_val *val, struct feed__mrec *m,
		      MDB_val *body)
{
	if (val->mv_size < sizeof(*m))
		return FEED_ECORRUPT;
	memcpy(m, val->mv_data, sizeof(*m));
	if (body) {
		body->mv_size = val->mv_size - sizeof(*m);
		body->mv_data = (uint8_t *)val->mv_data + sizeof(*m);
	}
	return 0;
}

void feed__mrec_encode(MDB_val *val, const struct feed__mrec *m,
		       const void *body, size_t len)
{
	memcpy(val->mv_data, m, sizeof(*m));
	if (len)
		memcpy((uint8_t *)val->mv_data + sizeof(*m), body, len);
}

int feed__msg_load(feed_t *feed, MDB_txn *txn, uint64_t qid, uint64_t seq,
		   struct feed__mrec *m, MDB_val *body)
{
	uint8_t k[16];
	MDB_val key = {16, k}, val;
	int rc;

	feed__msg_key(k, qid, seq);
	feed__touch();
	rc = mdb_get(txn, feed->msgs, &key, &val);
	if (rc)
		return feed__err(rc);
	return feed__mrec_decode(&val, m, body);
}

/* `body` must not point into the map: the put may move what it points at. */
int feed__msg_store(feed_t *feed, MDB_txn *txn, uint64_t qid, uint64_t seq,
		    const struct feed__mrec *m, const MDB_val *body)
{
	uint8_t k[16];
	MDB_val key = {16, k}, val;
	int rc;

	feed__msg_key(k, qid, seq);
	val.mv_size = sizeof(*m) + body->mv_size;
	feed__touch();
	rc = mdb_put(txn, feed->msgs, &key, &val, MDB_RESERVE);
	if (rc)
		return feed__err(rc);
	feed__mrec_encode(&val, m, body->mv_data, body->mv_size);
	return 0;
}

/* The expiries of the present messages around seq: before (*pe, 0 when
 * none) and after (*ns, *ne; *ns 0 when none). */
static int neighbours(feed_t *feed, MDB_txn *txn, uint64_t qid, uint64_t seq,
		      uint64_t *pe, uint64_t *ns, uint64_t *ne)
{
	uint8_t k[16];
	MDB_val key = {16, k}, val;
	MDB_cursor *cur;
	struct feed__mrec m;
	int rc = feed__err(mdb_cursor_open(txn, feed->msgs, &cur));

	*pe = *ns = *ne = 0;
	if (rc)
		return rc;
	rc = feed__seek(cur, qid, seq + 1, &key, &val);
	if (rc == 0)
		rc = feed__mrec_decode(&val, &m, NULL);
	if (rc == 0) {
		*ns = feed__get_be64((uint8_t *)key.mv_data + 8);
		*ne = m.expires_ms;
	}
	if (rc == 0 || rc == FEED_ENOTFOUND)
		rc = feed__seek(cur, qid, seq, &key, &val);
	if (rc == 0) {
		feed__touch();
		rc = feed__err(mdb_cursor_get(cur, &key, &val, MDB_PREV));
	}
	if (rc == 0 && feed__get_be64(key.mv_data) == qid &&
	    feed__mrec_decode(&val, &m, NULL) == 0)
		*pe = m.expires_ms;
	mdb_cursor_close(cur);
	return rc == FEED_ENOTFOUND ? 0 : rc;
}

int feed__msg_set_expiry(feed_t *feed, MDB_txn *txn, struct feed__queue *q,
			 uint64_t seq, struct feed__mrec *m,
			 uint64_t expires_ms)
{
	uint64_t old = m->expires_ms, pe, ns, ne;
	int rc;

	if (old == expires_ms)
		return 0;
	rc = neighbours(feed, txn, q->qid, seq, &pe, &ns, &ne);
	/* Out of its old run: a start entry goes, and the rest of the run
	 * (from the next present message on) keeps one of its own. */
	if (rc == 0)
		rc = feed__expiry_set(feed, txn, q->qid, old, seq, false);
	if (rc == 0 && ns && ne == old)
		rc = feed__expiry_set(feed, txn, q->qid, old, ns, true);
	/* Into the run of its predecessor, or a run of its own. */
	if (rc == 0 && pe != expires_ms)
		rc = feed__expiry_set(feed, txn, q->qid, expires_ms, seq, true);
	if (rc)
		return rc;
	if (ns == 0)
		q->rec.tail_expires_ms = expires_ms; /* its run is the tail's */
	m->expires_ms = expires_ms;
	return feed__due_lower(feed, txn, q, expires_ms);
}

int feed__run_append(feed_t *feed, MDB_txn *txn, struct feed__queue *q,
		     uint64_t seq, uint64_t expires_ms)
{
	if (expires_ms == q->rec.tail_expires_ms)
		return 0;
	q->rec.tail_expires_ms = expires_ms;
	return feed__expiry_set(feed, txn, q->qid, expires_ms, seq, true);
}

int feed__run_bound(feed_t *feed, MDB_txn *txn, uint64_t qid, uint64_t t,
		    uint64_t after, uint64_t *bound)
{
	uint8_t k[24];
	MDB_val key, val;
	MDB_cursor *cur;
	int rc = feed__err(mdb_cursor_open(txn, feed->expiry, &cur));

	*bound = UINT64_MAX;
	if (rc)
		return rc;
	feed__msg_key(k, qid, t);
	feed__be64(k + 16, after + 1);
	rc = feed__seek_key(cur, qid, k, sizeof(k), &key, &val);
	if (rc == 0 && key.mv_size == 24 &&
	    feed__get_be64((uint8_t *)key.mv_data + 8) == t)
		*bound = feed__get_be64((uint8_t *)key.mv_data + 16);
	mdb_cursor_close(cur);
	return rc == FEED_ENOTFOUND ? 0 : rc;
}

int feed__msg_rewrite(feed_t *feed, MDB_txn *txn, struct feed__queue *q,
		      uint64_t seq, struct feed__mrec *m,
		      const MDB_val *map_body, uint64_t keep_ms)
{
	MDB_val body = {map_body->mv_size, NULL};
	int rc = 0;

	/* Copy first: every write below may move what map_body points at. */
	if (body.mv_size) {
		body.mv_data = malloc(body.mv_size);
		if (!body.mv_data)
			return FEED_ENOMEM;
		memcpy(body.mv_data, map_body->mv_data, body.mv_size);
	}
	if (m->expires_ms < keep_ms)
		rc = feed__msg_set_expiry(feed, txn, q, seq, m, keep_ms);
	if (rc == 0)
		rc = feed__msg_store(feed, txn, q->qid, seq, m, &body);
	free(body.mv_data);
	return rc;
}

int feed__msg_remove(feed_t *feed, MDB_txn *txn, struct feed__queue *q,
		     uint64_t seq, const struct feed__mrec *m,
		     enum feed__why why)
{
	uint8_t k[16];
	MDB_val key = {16, k};
	int rc;

	feed__msg_key(k, q->qid, seq);
	feed__touch();
	rc = feed__err(mdb_del(txn, feed->msgs, &key, NULL));
	if (rc)
		return rc;
	if (!feed__zero16(m->claim_id))
		rc = feed__claim_forget(feed, txn, q, m);
	else if (feed__msg_delayed(m))
		rc = feed__delayed_set(feed, txn, q->qid, m->due_ms, seq,
				       false);
	else if (seq < q->rec.claim_cursor || m->claim_count > 0)
		rc = feed__avail_set(feed, txn, q->qid, seq, false);
	if (rc)
		return rc;
	q->rec.count--;
	if (why == FEED__EXPIRED || why == FEED__PURGED)
		rc = feed__lost_add(feed, txn, q, seq, seq, 1);
	return rc;
}

int feed__msg_append(feed_t *feed, MDB_txn *txn, struct feed__queue *q,
		     const struct feed__mrec *m, const MDB_val *body,
		     uint64_t *seq)
{
	int rc;

	if (q->rec.next_seq >= FEED__SEQ_MAX)
		return FEED_EFULL;
	if (q->rec.count == 0)
		q->rec.tail_expires_ms = 0; /* nothing left to be in order with */
	*seq = q->rec.next_seq++;
	rc = feed__run_append(feed, txn, q, *seq, m->expires_ms);
	if (rc == 0)
		rc = feed__due_lower(feed, txn, q, m->expires_ms);
	if (rc == 0)
		rc = feed__msg_store(feed, txn, q->qid, *seq, m, body);
	if (rc == 0)
		rc = feed__delayed_appended(feed, txn, q, *seq, m);
	if (rc == 0)
		q->rec.count++;
	return rc;
}

/* ---------------------------------------------------------- lost ranges */

int feed__lost_put(feed_t *feed, MDB_txn *txn, uint64_t qid, uint64_t first,
		   const struct feed__lost *l)
{
	uint8_t k[16];
	MDB_val key = {16, k}, val = {sizeof(*l), (void *)l};

	feed__msg_key(k, qid, first);
	feed__touch();
	return feed__err(mdb_put(txn, feed->lost, &key, &val, 0));
}

/* Whether no message of qid is present in [a, b] (a > b: true). */
static int none_present(feed_t *feed, MDB_txn *txn, uint64_t qid, uint64_t a,
			uint64_t b, bool *none)
{
	MDB_val key, val;
	int rc;

	*none = true;
	if (a > b)
		return 0;
	rc = feed__first(txn, feed->msgs, qid, a, &key, &val);
	if (rc == 0)
		*none = feed__get_be64((uint8_t *)key.mv_data + 8) > b;
	return rc == FEED_ENOTFOUND ? 0 : rc;
}

int feed__lost_at_or_before(feed_t *feed, MDB_txn *txn, uint64_t qid,
			     uint64_t seq, uint64_t *first,
			     struct feed__lost *l, bool *found)
{
	uint8_t k[16];
	MDB_val key = {16, k}, val;
	MDB_cursor *cur;
	int rc = feed__err(mdb_cursor_open(txn, feed->lost, &cur));

	*found = false;
	if (rc)
		return rc;
	feed__msg_key(k, qid, seq);
	feed__touch();
	rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
	if (rc == 0 && memcmp(key.mv_data, k, 16) == 0) {
		*found = true;
	} else if (rc == 0 || rc == MDB_NOTFOUND) {
		feed__touch();
		rc = mdb_cursor_get(cur, &key, &val,
				    rc ? MDB_LAST : MDB_PREV);
		*found = rc == 0 && key.mv_size == 16 &&
			 feed__get_be64(key.mv_data) == qid;
	}
	if (*found && val.mv_size != sizeof(*l))
		rc = FEED_ECORRUPT;
	else if (*found) {
		*first = feed__get_be64((uint8_t *)key.mv_data + 8);
		memcpy(l, val.mv_data, sizeof(*l));
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : feed__err(rc);
}

static uint64_t count_add(uint64_t a, uint64_t b)
{
	return a == FEED__LOST_UNKNOWN || b == FEED__LOST_UNKNOWN ||
			       a + b < a
		       ? FEED__LOST_UNKNOWN
		       : a + b;
}

int feed__lost_add(feed_t *feed, MDB_txn *txn, struct feed__queue *q,
		   uint64_t first, uint64_t last, uint64_t count)
{
	struct feed__lost l = {last, count}, prev, next;
	uint64_t pfirst = 0, nfirst = 0;
	bool found, none = false;
	int rc;

	rc = feed__lost_at_or_before(feed, txn, q->qid, first, &pfirst, &prev,
			       &found);
	if (rc == 0 && found)
		rc = none_present(feed, txn, q->qid, prev.last + 1,
				  first - 1, &none);
	if (rc)
		return rc;
	if (found && none) {
		/* Extend the previous range over this one. */
		first = pfirst;
		l.last = prev.last > last ? prev.last : last;
		l.count = count_add(prev.count, count);
	}
	/* The next range, if nothing is present up to it, joins too. */
	found = false;
	if (rc == 0) {
		MDB_val key, val;

		rc = feed__first(txn, feed->lost, q->qid, l.last + 1, &key,
				 &val);
		if (rc == 0 && val.mv_size != sizeof(next))
			rc = FEED_ECORRUPT;
		if (rc == 0) {
			nfirst = feed__get_be64((uint8_t *)key.mv_data + 8);
			memcpy(&next, val.mv_data, sizeof(next));
			found = true;
		}
		if (rc == FEED_ENOTFOUND)
			rc = 0;
	}
	if (rc == 0 && found)
		rc = none_present(feed, txn, q->qid, l.last + 1, nfirst - 1,
				  &none);
	if (rc == 0 && found && none) {
		uint8_t k[16];

		l.last = next.last;
		l.count = count_add(l.count, next.count);
		feed__msg_key(k, q->qid, nfirst);
		rc = feed__index_set(txn, feed->lost, k, sizeof(k), false);
	}
	if (rc == 0)
		rc = feed__lost_put(feed, txn, q->qid, first, &l);
	if (rc == 0 && l.last > q->rec.expired_max_seq)
		q->rec.expired_max_seq = l.last;
	return rc;
}

/* --------------------------------------------------------------- claims */

/* The key of a claim: qid | claim id. */
static void claim_key(uint8_t k[24], uint64_t qid, const uint8_t id[16])
{
	feed__be64(k, qid);
	memcpy(k + 8, id, 16);
}

int feed__claim_load(feed_t *feed, MDB_txn *txn, uint64_t qid,
		     const uint8_t id[16], struct feed__claim *c)
{
	uint8_t k[24];
	MDB_val key = {24, k}, val;
	int rc;

	claim_key(k, qid, id);
	memcpy(c->id, id, 16);
	c->seqs = NULL;
	feed__touch();
	rc = mdb_get(txn, feed->claims, &key, &val);
	if (rc)
		return rc == MDB_NOTFOUND ? FEED_ENOCLAIM : feed__err(rc);
	if (val.mv_size < sizeof(c->rec))
		return FEED_ECORRUPT;
	memcpy(&c->rec, val.mv_data, sizeof(c->rec));
	memset(&c->retry, 0, sizeof(c->retry));
	if (val.mv_size == sizeof(c->rec) + c->rec.n * sizeof(uint64_t) +
				   sizeof(c->retry))
		memcpy(&c->retry, (uint8_t *)val.mv_data + val.mv_size -
					  sizeof(c->retry),
		       sizeof(c->retry));
	else if (val.mv_size != sizeof(c->rec) + c->rec.n * sizeof(uint64_t))
		return FEED_ECORRUPT;
	c->seqs = malloc(c->rec.n ? c->rec.n * sizeof(uint64_t) : 1);
	if (!c->seqs)
		return FEED_ENOMEM;
	memcpy(c->seqs, (uint8_t *)val.mv_data + sizeof(c->rec),
	       c->rec.n * sizeof(uint64_t));
	return 0;
}

int feed__claim_store(feed_t *feed, MDB_txn *txn, uint64_t qid,
		      const struct feed__claim *c)
{
	uint8_t k[24];
	MDB_val key = {24, k}, val;
	int rc;

	bool retry = c->retry.delay_s != 0;

	claim_key(k, qid, c->id);
	val.mv_size = sizeof(c->rec) + c->rec.n * sizeof(uint64_t) +
		      (retry ? sizeof(c->retry) : 0);
	feed__touch();
	rc = mdb_put(txn, feed->claims, &key, &val, MDB_RESERVE);
	if (rc)
		return feed__err(rc);
	memcpy(val.mv_data, &c->rec, sizeof(c->rec));
	if (c->rec.n)
		memcpy((uint8_t *)val.mv_data + sizeof(c->rec), c->seqs,
		       c->rec.n * sizeof(uint64_t));
	if (retry)
		memcpy((uint8_t *)val.mv_data + sizeof(c->rec) +
			       c->rec.n * sizeof(uint64_t),
		       &c->retry, sizeof(c->retry));
	return 0;
}

int feed__claim_expiry_set(feed_t *feed, MDB_txn *txn, uint64_t qid,
			   const struct feed__claim *c, bool on)
{
	return cexpiry_set(feed, txn, qid, c->rec.expires_ms, c->id, on);
}

int feed__claim_each(feed_t *feed, MDB_txn *txn, uint64_t qid,
		     const struct feed__claim *c, feed__held_fn fn, void *ctx)
{
	int rc = 0;

	for (uint32_t i = 0; rc == 0 && i < c->rec.n; i++) {
		struct feed__mrec m;
		MDB_val body;

		/* Loaded afresh each time: fn may have written since. */
		rc = feed__msg_load(feed, txn, qid, c->seqs[i], &m, &body);
		if (rc == FEED_ENOTFOUND)
			rc = 0; /* deleted since */
		else if (rc == 0 && memcmp(m.claim_id, c->id, 16) == 0)
			rc = fn(feed, txn, c->seqs[i], &m, &body, ctx);
	}
	return rc;
}

uint64_t feed__retry_delay_ms(const struct feed__cretry *r,
			      uint32_t claim_count)
{
	uint64_t d = r->delay_s, cap = r->delay_max_s;
	uint32_t n = claim_count > 1 ? claim_count - 1 : 0;

	if (cap < d)
		cap = d;
	/* Doubling stops at the cap; 2^32 s would pass any cap anyway. */
	while (n-- > 0 && d < cap)
		d *= 2;
	return (d < cap ? d : cap) * 1000;
}

struct let_go_ctx {
	struct feed__queue *q;
	const struct feed__cretry *retry;
	uint64_t base_ms, delay_ms;
};

/*
 * Message seq of a claim being dropped: back into `avail` when claimable
 * at once, else into `delayed` at its due time (FEED__M_RETRY).
 */
static int let_go(feed_t *feed, MDB_txn *txn, uint64_t seq,
		  struct feed__mrec *m, MDB_val *body, void *arg)
{
	struct let_go_ctx *g = arg;
	struct feed__queue *q = g->q;
	uint64_t d = g->delay_ms == FEED__BACKOFF
			     ? feed__retry_delay_ms(g->retry, m->claim_count)
			     : g->delay_ms;
	int rc;

	/* m is a copy; body is the map's and feed__msg_rewrite copies it
	 * before it writes. */
	memset(m->claim_id, 0, 16);
	m->claim_expires_ms = 0;
	if (d) {
		m->due_ms = g->base_ms + d;
		m->flags |= FEED__M_RETRY;
	}
	rc = feed__msg_rewrite(feed, txn, q, seq, m, body, 0);
	if (rc == 0 && d)
		rc = feed__delayed_set(feed, txn, q->qid, m->due_ms, seq,
				       true);
	else if (rc == 0)
		rc = feed__avail_set(feed, txn, q->qid, seq, true);
	if (rc == 0 && q->rec.claimed)
		q->rec.claimed--;
	return rc;
}

int feed__claim_drop(feed_t *feed, MDB_txn *txn, struct feed__queue *q,
		     const struct feed__claim *c)
{
	/* Let go when it expired (or, released early, no later than now:
	 * the caller of an early release uses feed__claim_let_go). */
	return feed__claim_let_go(feed, txn, q, c, c->rec.expires_ms,
				  FEED__BACKOFF);
}

int feed__claim_let_go(feed_t *feed, MDB_txn *txn, struct feed__queue *q,
		       const struct feed__claim *c, uint64_t base_ms,
		       uint64_t delay_ms)
{
	struct let_go_ctx g = {q, &c->retry, base_ms, delay_ms};
	uint8_t k[24];
	MDB_val key = {24, k};
	int rc = feed__claim_each(feed, txn, q->qid, c, let_go, &g);

	if (rc)
		return rc;
	claim_key(k, q->qid, c->id);
	feed__touch();
	rc = mdb_del(txn, feed->claims, &key, NULL);
	if (rc && rc != MDB_NOTFOUND)
		return feed__err(rc);
	return feed__claim_expiry_set(feed, txn, q->qid, c, false);
}

int feed__claim_forget(feed_t *feed, MDB_txn *txn, struct feed__queue *q,
		       const struct feed__mrec *m)
{
	struct feed__claim c;
	int rc = feed__claim_load(feed, txn, q->qid, m->claim_id, &c);

	if (rc == 0 && (c.rec.live == 0 || q->rec.claimed == 0))
		rc = FEED_ECORRUPT;
	if (rc == 0) {
		c.rec.live--;
		q->rec.claimed--;
		rc = feed__claim_store(feed, txn, q->qid, &c);
	}
	free(c.seqs);
	return rc == FEED_ENOCLAIM ? FEED_ECORRUPT : rc;
}

/* The key right after k (a fixed-width big-endian number): the next seek
 * of a walk whose callback may have written to the index. */
static bool key_after(uint8_t *k, size_t len)
{
	for (size_t i = len; i-- > 0;)
		if (++k[i] != 0)
			return true;
	return false;
}

int feed__claims_expired(feed_t *feed, MDB_txn *txn, uint64_t qid,
			 uint64_t now_ms, bool fix, feed__claim_fn fn,
			 void *ctx)
{
	uint8_t k[32];
	size_t len = 16;
	int rc;

	feed__msg_key(k, qid, 0);
	do {
		MDB_cursor *cur;
		MDB_val key, val;
		struct feed__claim c = {.seqs = NULL};
		bool loaded = false;

		rc = feed__err(mdb_cursor_open(txn, feed->cexpiry, &cur));
		if (rc)
			break;
		rc = feed__seek_key(cur, qid, k, len, &key, &val);
		if (rc == 0 && (key.mv_size != 32 ||
				feed__get_be64((uint8_t *)key.mv_data + 8) >
					now_ms))
			rc = FEED_ENOTFOUND;
		if (rc == 0) {
			memcpy(k, key.mv_data, 32);
			len = 32;
			rc = feed__claim_load(feed, txn, qid, k + 16, &c);
			loaded = rc == 0;
		}
		if (rc == FEED_ENOCLAIM) /* an entry without its claim */
			rc = fix ? feed__err(mdb_cursor_del(cur, 0)) : 0;
		mdb_cursor_close(cur);
		if (loaded)
			rc = fn(feed, txn, &c, ctx);
		free(c.seqs);
	} while (rc == 0 && key_after(k, len));
	return rc == FEED__STOP || rc == FEED_ENOTFOUND ? 0 : rc;
}

struct release_ctx {
	struct feed__queue *q;
	size_t budget, *n;
};

static int release_one(feed_t *feed, MDB_txn *txn, struct feed__claim *c,
		       void *arg)
{
	struct release_ctx *r = arg;
	int rc = feed__claim_drop(feed, txn, r->q, c);

	if (rc)
		return rc;
	return ++*r->n >= r->budget ? FEED__STOP : 0;
}

int feed__claims_release_expired(feed_t *feed, MDB_txn *txn,
				 struct feed__queue *q, uint64_t now_ms,
				 size_t budget, size_t *n)
{
	struct release_ctx r = {q, budget, n};

	*n = 0;
	if (budget == 0)
		return 0;
	return feed__claims_expired(feed, txn, q->qid, now_ms, true,
				    release_one, &r);
}

int feed__claims_next_expiry(feed_t *feed, MDB_txn *txn, uint64_t qid,
			     uint64_t now_ms, uint64_t *t)
{
	MDB_val key, val;
	int rc = feed__first(txn, feed->cexpiry, qid, now_ms + 1, &key, &val);

	*t = rc == 0 ? feed__get_be64((uint8_t *)key.mv_data + 8) : 0;
	return rc == FEED_ENOTFOUND ? 0 : rc;
}

/* ---------------------------------------------------- idempotency keys */

/* qid | key into k (room for 8 + FEED_IDEM_KEY_MAX); the length. */
static size_t idem_key(uint8_t *k, uint64_t qid, const void *key, size_t len)
{
	feed__be64(k, qid);
	memcpy(k + 8, key, len);
	return 8 + len;
}

int feed__idem_get(feed_t *feed, MDB_txn *txn, uint64_t qid, const void *key,
		   size_t len, struct feed__irec *rec)
{
	uint8_t k[8 + FEED_IDEM_KEY_MAX];
	MDB_val kv = {idem_key(k, qid, key, len), k}, val;
	int rc;

	feed__touch();
	rc = mdb_get(txn, feed->idem, &kv, &val);
	if (rc == MDB_NOTFOUND)
		return FEED_ENOTFOUND;
	if (rc)
		return feed__err(rc);
	if (val.mv_size != sizeof(*rec))
		return FEED_ECORRUPT;
	memcpy(rec, val.mv_data, sizeof(*rec));
	return 0;
}

int feed__idem_set(feed_t *feed, MDB_txn *txn, uint64_t qid, const void *key,
		   size_t len, const struct feed__irec *rec, bool on)
{
	uint8_t k[16 + FEED_IDEM_KEY_MAX];
	MDB_val kv = {idem_key(k, qid, key, len), k};
	MDB_val val = {sizeof(*rec), (void *)rec};
	int rc;

	feed__touch();
	if (on)
		rc = mdb_put(txn, feed->idem, &kv, &val, 0);
	else
		rc = mdb_del(txn, feed->idem, &kv, NULL);
	if (rc && rc != MDB_NOTFOUND)
		return feed__err(rc);
	feed__be64(k + 8, rec->expires_ms);
	memcpy(k + 16, key, len);
	return feed__index_set(txn, feed->iexpiry, k, 16 + len, on);
}

int feed__count(MDB_txn *txn, MDB_dbi dbi, uint64_t qid, uint64_t *n)
{
	MDB_cursor *cur;
	MDB_val key, val;
	int rc = feed__err(mdb_cursor_open(txn, dbi, &cur));

	*n = 0;
	if (rc)
		return rc;
	for (rc = feed__seek(cur, qid, 0, &key, &val); rc == 0;
	     rc = feed__step(cur, qid, &key, &val))
		++*n;
	mdb_cursor_close(cur);
	return rc == FEED_ENOTFOUND ? 0 : rc;
}
