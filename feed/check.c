/*
 * check.c - feed_debug_check(): every index invariant of feed_internal.h,
 * read back from the records, for tests (never a running hub).
 *
 * Per live queue: each message against the entries its state wants
 * (check_msg: `avail`, `delayed`, its `expiry` run, its claim), the
 * queue's counts, no `avail` or `delayed` entry without its message; and
 * the idempotency keys (check_idem): every `idem` entry qid | key ->
 * irec has its `iexpiry` entry qid | irec.expires_ms | key, and the two
 * hold as many entries, so neither has one without the other (distinct
 * keys make distinct `iexpiry` keys); an irec names a seq the queue has
 * given out, and qrec.due_ms is set and no later than the first `iexpiry`
 * entry's time; and the subscriptions (sub.c's feed__subs_check).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feed_internal.h"

struct check {
	feed_t *feed;
	MDB_txn *txn;
	char *why;
	size_t why_len;
};

static int check_fail(struct check *ck, uint64_t qid, uint64_t seq,
		      const char *what)
{
	if (ck->why && ck->why_len)
		snprintf(ck->why, ck->why_len, "queue %llu, seq %llu: %s",
			 (unsigned long long)qid, (unsigned long long)seq,
			 what);
	return FEED_ECORRUPT;
}

/* Whether key k is in dbi: 1, 0, or an error. */
static int check_has(struct check *ck, MDB_dbi dbi, uint8_t *k, size_t len)
{
	MDB_val key = {len, k}, val;
	int rc = mdb_get(ck->txn, dbi, &key, &val);

	feed__touch();
	return rc == 0 ? 1 : rc == MDB_NOTFOUND ? 0 : feed__err(rc);
}

/* Counts the entries of queue qid in dbi. */
static int check_count(struct check *ck, MDB_dbi dbi, uint64_t qid,
		       uint64_t *n)
{
	return feed__count(ck->txn, dbi, qid, n);
}

/* The previous present message of a queue walk: its seq (0: none) and
 * expiry. */
struct check_prev {
	uint64_t seq, expires_ms;
};

/* Whether an `expiry` entry qid | e | s with prev < s < seq exists: the
 * start of a run whose messages before seq are all gone. */
static int check_run_start(struct check *ck, uint64_t qid, uint64_t e,
			   uint64_t prev, uint64_t seq)
{
	uint8_t k[24];
	MDB_cursor *cur;
	MDB_val key = {24, k}, val;
	int rc = feed__err(mdb_cursor_open(ck->txn, ck->feed->expiry, &cur));

	if (rc)
		return rc;
	feed__msg_key(k, qid, e);
	feed__be64(k + 16, seq);
	feed__touch();
	rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
	rc = mdb_cursor_get(cur, &key, &val, rc == 0 ? MDB_PREV : MDB_LAST);
	if (rc == 0)
		rc = key.mv_size == 24 &&
		     feed__get_be64(key.mv_data) == qid &&
		     feed__get_be64((uint8_t *)key.mv_data + 8) == e &&
		     feed__get_be64((uint8_t *)key.mv_data + 16) > prev;
	else
		rc = rc == MDB_NOTFOUND ? 0 : feed__err(rc);
	mdb_cursor_close(cur);
	return rc;
}

/* What the invariants want of message seq; counts what it should have.
 * *prev: the previous present message; set to this one. */
static int check_msg(struct check *ck, const struct feed__queue *q,
		     uint64_t seq, const struct feed__mrec *m, uint64_t want[2],
		     struct check_prev *prev)
{
	feed_t *feed = ck->feed;
	uint8_t k[24];
	bool claimed = !feed__zero16(m->claim_id);
	bool delayed = !claimed && feed__msg_delayed(m);
	bool avail = !claimed && !delayed &&
		     (seq < q->rec.claim_cursor || m->claim_count > 0);
	int has;

	/* Let go with a delay: only by a claim, and only while unclaimed. */
	if ((m->flags & FEED__M_RETRY) && (claimed || m->claim_count == 0))
		return check_fail(ck, q->qid, seq, "retry flag out of place");

	feed__msg_key(k, q->qid, seq);
	has = check_has(ck, feed->avail, k, 16);
	if (has < 0)
		return has;
	if (has != avail)
		return check_fail(ck, q->qid, seq,
				  avail ? "no avail entry" : "avail entry");
	feed__msg_key(k, q->qid, m->due_ms);
	feed__be64(k + 16, seq);
	has = check_has(ck, feed->delayed, k, 24);
	if (has >= 0 && has == delayed) {
		feed__be64(k + 8, FEED__BY_SEQ);
		has = check_has(ck, feed->delayed, k, 24);
	}
	if (has < 0)
		return has;
	if (has != delayed)
		return check_fail(ck, q->qid, seq,
				  delayed ? "no delayed entry" : "delayed entry");
	feed__msg_key(k, q->qid, m->expires_ms);
	feed__be64(k + 16, seq);
	has = check_has(ck, feed->expiry, k, 24);
	if (has < 0)
		return has;
	/* Covered: it starts a run, continues its predecessor's, or a run
	 * starts after its predecessor (whose expiry differs). */
	if (!has && prev->seq && prev->expires_ms == m->expires_ms)
		has = 1;
	if (!has)
		has = check_run_start(ck, q->qid, m->expires_ms, prev->seq,
				      seq);
	if (has < 0)
		return has;
	if (!has)
		return check_fail(ck, q->qid, seq, "not in an expiry run");
	prev->seq = seq;
	prev->expires_ms = m->expires_ms;
	if (claimed) {
		struct feed__claim c;
		int rc = feed__claim_load(feed, ck->txn, q->qid, m->claim_id,
					  &c);
		bool in = false;

		for (uint32_t i = 0; rc == 0 && i < c.rec.n; i++)
			in = in || c.seqs[i] == seq;
		free(c.seqs);
		if (rc && rc != FEED_ENOCLAIM)
			return rc;
		if (!in)
			return check_fail(ck, q->qid, seq, "not in its claim");
	}
	want[0] += avail;
	want[1] += 2 * delayed;
	return 0;
}

static int check_queue(struct check *ck, const struct feed__queue *q)
{
	feed_t *feed = ck->feed;
	/* `expiry` is not counted: a run start whose messages are all gone
	 * stays until compaction reaches its time (feed_internal.h). */
	const MDB_dbi dbs[2] = {feed->avail, feed->delayed};
	uint64_t want[2] = {0}, count = 0, claimed = 0, n;
	struct check_prev prev = {0, 0};
	MDB_cursor *cur;
	MDB_val key, val;
	int rc = feed__err(mdb_cursor_open(ck->txn, feed->msgs, &cur));

	if (rc)
		return rc;
	for (rc = feed__seek(cur, q->qid, 0, &key, &val); rc == 0;
	     rc = feed__step(cur, q->qid, &key, &val)) {
		struct feed__mrec m;
		uint64_t seq = feed__get_be64((uint8_t *)key.mv_data + 8);

		rc = feed__mrec_decode(&val, &m, NULL);
		if (rc == 0 && seq >= q->rec.next_seq)
			rc = check_fail(ck, q->qid, seq, "past next_seq");
		if (rc == 0)
			rc = check_msg(ck, q, seq, &m, want, &prev);
		if (rc)
			break;
		count++;
		claimed += !feed__zero16(m.claim_id);
	}
	mdb_cursor_close(cur);
	if (rc != FEED_ENOTFOUND)
		return rc;
	if (count != q->rec.count || claimed != q->rec.claimed)
		return check_fail(ck, q->qid, 0, "counts differ from the log");
	for (size_t i = 0; i < 2; i++) {
		rc = check_count(ck, dbs[i], q->qid, &n);
		if (rc)
			return rc;
		if (n != want[i])
			return check_fail(ck, q->qid, 0,
					  "index entries without a message");
	}
	return 0;
}

/* The next entry of queue qid in a walk of `idem` (whose keys may be
 * shorter than feed__step's 16 bytes): 0, FEED_ENOTFOUND past the queue's
 * keys, or an error. op: MDB_SET_RANGE (key = qid) or MDB_NEXT. */
static int idem_next(MDB_cursor *cur, uint64_t qid, MDB_val *key,
		     MDB_val *val, MDB_cursor_op op)
{
	int rc;

	feed__touch();
	rc = mdb_cursor_get(cur, key, val, op);
	if (rc)
		return rc == MDB_NOTFOUND ? FEED_ENOTFOUND : feed__err(rc);
	if (key->mv_size < 8 || feed__get_be64(key->mv_data) != qid)
		return FEED_ENOTFOUND;
	return 0;
}

/* One `idem` entry: a key of 1..FEED_IDEM_KEY_MAX bytes, an irec naming
 * a seq given out, its `iexpiry` entry; *first: the earliest window end
 * seen (0: none yet). */
static int check_idem_one(struct check *ck, const struct feed__queue *q,
			  const MDB_val *key, const MDB_val *val,
			  uint64_t *first)
{
	uint8_t k[16 + FEED_IDEM_KEY_MAX];
	size_t len = key->mv_size - 8;
	struct feed__irec rec;
	int has;

	if (len < 1 || len > FEED_IDEM_KEY_MAX || val->mv_size != sizeof(rec))
		return check_fail(ck, q->qid, 0, "malformed idem entry");
	memcpy(&rec, val->mv_data, sizeof(rec));
	if (rec.seq == 0 || rec.seq >= q->rec.next_seq)
		return check_fail(ck, q->qid, rec.seq,
				  "idem entry names a seq never given out");
	feed__be64(k, q->qid);
	feed__be64(k + 8, rec.expires_ms);
	memcpy(k + 16, (uint8_t *)key->mv_data + 8, len);
	has = check_has(ck, ck->feed->iexpiry, k, 16 + len);
	if (has < 0)
		return has;
	if (!has)
		return check_fail(ck, q->qid, rec.seq,
				  "idem entry without its iexpiry entry");
	if (*first == 0 || rec.expires_ms < *first)
		*first = rec.expires_ms;
	return 0;
}

/* The idempotency keys of queue q (see the top). */
static int check_idem(struct check *ck, const struct feed__queue *q)
{
	uint8_t k[8];
	MDB_cursor *cur;
	MDB_val key = {8, k}, val;
	uint64_t n = 0, n_exp = 0, first = 0;
	int rc = feed__err(mdb_cursor_open(ck->txn, ck->feed->idem, &cur));

	if (rc)
		return rc;
	feed__be64(k, q->qid);
	for (rc = idem_next(cur, q->qid, &key, &val, MDB_SET_RANGE); rc == 0;
	     rc = idem_next(cur, q->qid, &key, &val, MDB_NEXT)) {
		rc = check_idem_one(ck, q, &key, &val, &first);
		if (rc)
			break;
		n++;
	}
	mdb_cursor_close(cur);
	if (rc != FEED_ENOTFOUND)
		return rc;
	rc = check_count(ck, ck->feed->iexpiry, q->qid, &n_exp);
	if (rc)
		return rc;
	if (n_exp != n)
		return check_fail(ck, q->qid, 0,
				  "iexpiry entries without their idem entry");
	if (n && (q->rec.due_ms == 0 || q->rec.due_ms > first))
		return check_fail(ck, q->qid, 0,
				  "due later than an idempotency window's end");
	return 0;
}

int feed_debug_check(feed_t *feed, char *why, size_t why_len)
{
	struct check ck = {feed, NULL, why, why_len};
	MDB_cursor *cur = NULL;
	MDB_val key, val;
	int rc;

	if (why && why_len)
		why[0] = '\0';
	rc = feed__read_begin(feed, &ck.txn);
	if (rc)
		return rc;
	rc = feed__err(mdb_cursor_open(ck.txn, feed->queues, &cur));
	for (int op = MDB_FIRST; rc == 0; op = MDB_NEXT) {
		struct feed__queue q;

		rc = mdb_cursor_get(cur, &key, &val, op);
		if (rc) {
			rc = rc == MDB_NOTFOUND ? 0 : feed__err(rc);
			break;
		}
		if (key.mv_size != 8)
			continue;
		rc = feed__queue_load(feed, ck.txn,
				      feed__get_be64(key.mv_data), &q);
		if (rc == 0 && !(q.rec.flags & FEED__Q_DROPPED))
			rc = check_queue(&ck, &q);
		if (rc == 0 && !(q.rec.flags & FEED__Q_DROPPED))
			rc = check_idem(&ck, &q);
		if (rc == 0 && !(q.rec.flags & FEED__Q_DROPPED)) {
			const char *what;

			rc = feed__subs_check(feed, ck.txn, &q, &what);
			if (rc == FEED_ECORRUPT && what)
				check_fail(&ck, q.qid, 0, what);
		}
	}
	if (cur)
		mdb_cursor_close(cur);
	feed__read_end(feed, ck.txn);
	return rc;
}
