/*
 * upgrade.c - bringing a store of an older format to the current one.
 *
 * Format 1 -> 2. Format 1 had `expiry` entries only for out-of-order
 * messages (FEED__M_INDEXED: one entry each); the in-order ones expired as
 * a prefix of the log. Format 2 covers every message by a run start
 * (feed_internal.h, "Expiry by runs") and keeps `lost` ranges. So, per
 * queue, in log order:
 *
 *   - a message whose previous present message has another expiry (or
 *     that is the first present one) gets the start qid | expires | seq.
 *     A message with the expiry of its predecessor is covered by the run
 *     that covers the predecessor (or by its own format-1 entry, which
 *     then starts a run of its own: runs of one expiry end at the next
 *     entry of that expiry). Entries format 1 had stay valid starts;
 *   - holes (seqs no longer stored) up to qrec.expired_max_seq may hold
 *     messages lost to expiry that format 1 did not tell from deleted
 *     ones: they become `lost` ranges of unknown count, so readers still
 *     get a gap (missed -1) for them, as format 1 reported;
 *   - tail_expires_ms becomes the expiry of the last present message (its
 *     run is the open tail run), 0 for an empty queue.
 *
 * Writes go in transactions of at most BATCH messages. Every write puts a
 * value computed from the messages alone (format-1 records, unchanged by
 * the upgrade), so a crash part-way is redone from the start by the next
 * open and ends in the same state; the format is written last. Dropped
 * queues are skipped: compaction reclaims them whole.
 *
 * Format 2 -> 3. Queue records gain their generation (feed_internal.h):
 * format 2 made every queue in this environment, so it is the qid. Every
 * record, dropped ones too, is rewritten at the current size, 256 to a
 * write transaction; a record already rewritten reads back the same, so
 * the step is idempotent as well.
 */
#include "feed_internal.h"

/* Messages looked at per write transaction. */
#define BATCH 4096

/* One queue's progress, carried from one transaction to the next. */
struct up_state {
	uint64_t next;     /* seq to go on from */
	uint64_t prev_seq; /* last present message, 0 = none yet */
	uint64_t prev_exp; /* its expiry */
	uint64_t lost_max; /* end of the last hole made a `lost` range */
	bool done;
};

struct up_queue {
	uint64_t qid;
	/* `from` is what committed; a step works on `to`, so that a step
	 * the runner retries (map resize) starts from `from` again. */
	struct up_state from, to;
};

/* The hole after s->prev_seq up to seq of a format-1 queue: maybe lost
 * when it starts at or before `max` (its expired_max_seq). */
static int up_hole(feed_t *feed, MDB_txn *txn, uint64_t qid,
		   struct up_state *s, uint64_t seq, uint64_t max)
{
	struct feed__lost l = {seq - 1, FEED__LOST_UNKNOWN};

	if (seq <= s->prev_seq + 1 || s->prev_seq + 1 > max)
		return 0;
	s->lost_max = seq - 1;
	return feed__lost_put(feed, txn, qid, s->prev_seq + 1, &l);
}

struct up_seen {
	uint64_t seq, exp;
};

/* Copies out up to BATCH messages of qid from seq `from` on; *end when
 * the queue's last one is among them. */
static int up_collect(feed_t *feed, MDB_txn *txn, uint64_t qid,
		      uint64_t from, struct up_seen *seen, size_t *n,
		      bool *end)
{
	MDB_cursor *cur;
	MDB_val key, val;
	int rc = feed__err(mdb_cursor_open(txn, feed->msgs, &cur));

	*n = 0;
	if (rc)
		return rc;
	for (rc = feed__seek(cur, qid, from, &key, &val); rc == 0 && *n < BATCH;
	     rc = feed__step(cur, qid, &key, &val)) {
		struct feed__mrec m;

		rc = feed__mrec_decode(&val, &m, NULL);
		if (rc)
			break;
		seen[*n].seq = feed__get_be64((uint8_t *)key.mv_data + 8);
		seen[(*n)++].exp = m.expires_ms;
	}
	mdb_cursor_close(cur);
	*end = rc == FEED_ENOTFOUND;
	return *end ? 0 : rc;
}

/* Up to BATCH messages of queue u->qid: run starts and lost holes. */
static int runs_step(feed_t *feed, MDB_txn *txn, void *arg)
{
	static _Thread_local struct up_seen seen[BATCH];
	struct up_queue *u = arg;
	struct up_state *s = &u->to;
	struct feed__queue q;
	size_t n;
	bool end;
	int rc = feed__queue_load(feed, txn, u->qid, &q);

	u->to = u->from;
	/* Copy out first: the writes below may move what the map holds. */
	if (rc == 0)
		rc = up_collect(feed, txn, u->qid, s->next, seen, &n, &end);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		rc = up_hole(feed, txn, u->qid, s, seen[i].seq,
			     q.rec.expired_max_seq);
		if (rc == 0 && (s->prev_seq == 0 || s->prev_exp != seen[i].exp))
			rc = feed__expiry_set(feed, txn, u->qid, seen[i].exp,
					      seen[i].seq, true);
		s->prev_seq = seen[i].seq;
		s->prev_exp = seen[i].exp;
		s->next = seen[i].seq + 1;
	}
	if (rc || !end)
		return rc;
	/* The end of the queue: its tail hole and its open tail run. */
	rc = up_hole(feed, txn, u->qid, s, q.rec.next_seq,
		     q.rec.expired_max_seq);
	q.rec.tail_expires_ms = s->prev_seq ? s->prev_exp : 0;
	/* Its new meaning: the end of the last `lost` range. */
	if (s->lost_max > q.rec.expired_max_seq)
		q.rec.expired_max_seq = s->lost_max;
	if (rc == 0)
		rc = feed__queue_save(feed, txn, &q);
	s->done = true;
	return rc;
}

/* The next live queue after qid (*next 0 when none). */
static int next_queue(feed_t *feed, uint64_t qid, uint64_t *next)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	uint8_t k[8];
	MDB_val key = {8, k}, val;
	MDB_cursor_op op = MDB_SET_RANGE;
	int rc = feed__read_begin(feed, &txn);

	*next = 0;
	if (rc)
		return rc;
	rc = feed__err(mdb_cursor_open(txn, feed->queues, &cur));
	if (rc) {
		feed__read_end(feed, txn);
		return rc;
	}
	feed__be64(k, qid + 1);
	while (rc == 0 && *next == 0) {
		struct feed__qrec r;

		rc = feed__err(mdb_cursor_get(cur, &key, &val, op));
		op = MDB_NEXT;
		if (rc == 0 && (key.mv_size != 8 || val.mv_size < FEED__QREC_V2))
			rc = FEED_ECORRUPT;
		if (rc)
			break;
		memcpy(&r, val.mv_data, FEED__QREC_V2);
		if (!(r.flags & FEED__Q_DROPPED))
			*next = feed__get_be64(key.mv_data);
	}
	mdb_cursor_close(cur);
	feed__read_end(feed, txn);
	return rc == FEED_ENOTFOUND ? 0 : rc;
}

/* The `delayed` index for one queue (claim.c knows what belongs in it). */
static int delayed_step(feed_t *feed, MDB_txn *txn, void *arg)
{
	struct feed__queue q;
	int rc = feed__queue_load(feed, txn, *(uint64_t *)arg, &q);

	return rc ? rc : feed__claims_upgrade(feed, txn, &q);
}

static int format_fn(feed_t *feed, MDB_txn *txn, void *arg)
{
	MDB_val k = {6, "format"}, v = {sizeof(uint32_t), arg};

	return feed__err(mdb_put(txn, feed->info, &k, &v, 0));
}

/* Format 1 -> 2, queue by queue. */
static int upgrade_1(feed_t *feed)
{
	uint64_t qid = 0;
	int rc;

	for (;;) {
		struct up_queue u = {.qid = 0};

		rc = next_queue(feed, qid, &qid);
		if (rc || qid == 0)
			return rc;
		/* Per-queue steps: each takes its queue to the end in bounded
		 * write transactions (the `delayed` index in one per queue:
		 * it visits only `avail` and the messages from the claim
		 * cursor on). */
		u.qid = qid;
		u.from.next = 1;
		while (rc == 0 && !u.from.done) {
			rc = feed__write(feed, runs_step, &u, 0);
			if (rc == 0)
				u.from = u.to;
		}
		if (rc == 0)
			rc = feed__write(feed, delayed_step, &qid, 0);
		if (rc)
			return rc;
	}
}

/* Format 2 -> 3: up to BATCH queue records from qid *next on, live or
 * dropped, rewritten with their generation (= qid: format 2 made every
 * queue here); *next = 0 past the last. */
struct gen_step {
	uint64_t from, next;
};

static int gen_step(feed_t *feed, MDB_txn *txn, void *arg)
{
	struct gen_step *g = arg;
	uint64_t qids[256];
	size_t n = 0;
	uint8_t k[8];
	MDB_val key = {8, k}, val;
	MDB_cursor *cur;
	MDB_cursor_op op = MDB_SET_RANGE;
	int rc = feed__err(mdb_cursor_open(txn, feed->queues, &cur));

	if (rc)
		return rc;
	feed__be64(k, g->from);
	g->next = 0;
	/* Copy the keys out first: the saves below move the map's pages. */
	while (n < sizeof(qids) / sizeof(qids[0])) {
		rc = feed__err(mdb_cursor_get(cur, &key, &val, op));
		op = MDB_NEXT;
		if (rc)
			break;
		if (key.mv_size != 8)
			continue;
		qids[n++] = feed__get_be64(key.mv_data);
	}
	mdb_cursor_close(cur);
	if (rc && rc != FEED_ENOTFOUND)
		return rc;
	if (rc == 0)
		g->next = qids[n - 1] + 1;
	for (size_t i = 0; i < n; i++) {
		struct feed__queue q;

		/* The load gives a format 2 record generation = qid; the
		 * save writes the record whole. */
		rc = feed__queue_load(feed, txn, qids[i], &q);
		if (rc == 0)
			rc = feed__queue_save(feed, txn, &q);
		if (rc)
			return rc;
	}
	return 0;
}

static int upgrade_2(feed_t *feed)
{
	struct gen_step g = {1, 0};
	int rc;

	do {
		rc = feed__write(feed, gen_step, &g, 0);
		g.from = g.next;
	} while (rc == 0 && g.next);
	return rc;
}

int feed__upgrade(feed_t *feed, uint32_t format)
{
	uint32_t to = FEED__FORMAT;
	int rc = 0;

	if (format < 1 || format >= FEED__FORMAT)
		return FEED_EVERSION;
	if (format == 1)
		rc = upgrade_1(feed);
	if (rc == 0)
		rc = upgrade_2(feed);
	return rc ? rc : feed__write(feed, format_fn, &to, 0);
}
