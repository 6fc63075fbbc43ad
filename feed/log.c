/*
 * log.c - messages: appending (with group commit), reading by marker,
 * getting and deleting by id, popping.
 *
 * A message is one record in `msgs`, keyed qid | seq (both big-endian, so
 * a queue's log is one contiguous, ordered key range):
 *
 *     +------------+------------+--------+-----------------+
 *     | created_ms | expires_ms | due_ms | claim_expires_ms |
 *     +------------+------------+--------+-----------------+
 *     | client id (16) | claim id (16) | claim_count | flags |  body ...
 *     +----------------+---------------+-------------+-------+----------
 *
 * Appending is one put per message plus, rarely, an `expiry` entry (see
 * feed_internal.h). A group commit runs many publishers' batches in one
 * write transaction; a request that cannot be appended for a reason of its
 * own (a bad name, a missing queue with FEED_APPEND_NO_CREATE) is refused
 * before anything of it is written, so it cannot spoil the others. If the
 * transaction as a whole fails, each request is retried alone.
 *
 * Reading walks the log from the marker: O(log n) to find the start, then
 * one step per message returned or skipped. The walk stops before a message
 * that is not due yet (so the marker never passes it), and before messages
 * lost to expiry once it has something to return, so that the next read
 * starts at the hole and reports it as a gap.
 */
#include <stdlib.h>

#include "feed_internal.h"

/* Largest body accepted: LMDB's limit is far higher; this keeps a value
 * and its header well inside 32-bit lengths. */
#define BODY_MAX (UINT32_C(1) << 30)

/* ----------------------------------------------------- record helpers */

int feed__msg_load(feed_t *feed, MDB_txn *txn, uint64_t qid, uint64_t seq,
		   struct feed__mrec *m, MDB_val *body)
{
	uint8_t k[16];
	MDB_val key = {16, k}, val;
	int rc;

	feed__msg_key(k, qid, seq);
	rc = mdb_get(txn, feed->msgs, &key, &val);
	if (rc)
		return feed__err(rc);
	if (val.mv_size < sizeof(*m))
		return FEED_ECORRUPT;
	memcpy(m, val.mv_data, sizeof(*m));
	if (body) {
		body->mv_size = val.mv_size - sizeof(*m);
		body->mv_data = (uint8_t *)val.mv_data + sizeof(*m);
	}
	return 0;
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
	rc = mdb_put(txn, feed->msgs, &key, &val, MDB_RESERVE);
	if (rc)
		return feed__err(rc);
	memcpy(val.mv_data, m, sizeof(*m));
	if (body->mv_size)
		memcpy((uint8_t *)val.mv_data + sizeof(*m), body->mv_data,
		       body->mv_size);
	return 0;
}

/* Puts or deletes the entry qid | t | seq of an index keyed by time. */
static int index_op(MDB_txn *txn, MDB_dbi dbi, uint64_t qid, uint64_t t,
		    uint64_t seq, bool del)
{
	uint8_t k[24];
	MDB_val key = {24, k}, val = {0, NULL};
	int rc;

	feed__be64(k, qid);
	feed__be64(k + 8, t);
	feed__be64(k + 16, seq);
	if (!del)
		return feed__err(mdb_put(txn, dbi, &key, &val, 0));
	rc = mdb_del(txn, dbi, &key, NULL);
	return rc == MDB_NOTFOUND ? 0 : feed__err(rc);
}

int feed__msg_set_expiry(feed_t *feed, MDB_txn *txn, struct feed__queue *q,
			 uint64_t seq, struct feed__mrec *m,
			 uint64_t expires_ms)
{
	int rc = 0;

	if (m->flags & FEED__M_INDEXED)
		rc = index_op(txn, feed->expiry, q->qid, m->expires_ms, seq,
			      true);
	if (rc == 0)
		rc = index_op(txn, feed->expiry, q->qid, expires_ms, seq,
			      false);
	if (rc)
		return rc;
	m->flags |= FEED__M_INDEXED;
	m->expires_ms = expires_ms;
	return feed__due_lower(feed, txn, q, expires_ms);
}

int feed__msg_remove(feed_t *feed, MDB_txn *txn, struct feed__queue *q,
		     uint64_t seq, const struct feed__mrec *m,
		     enum feed__why why)
{
	uint8_t k[16];
	MDB_val key = {16, k};
	int rc;

	feed__msg_key(k, q->qid, seq);
	rc = feed__err(mdb_del(txn, feed->msgs, &key, NULL));
	if (rc == 0 && (m->flags & FEED__M_INDEXED))
		rc = index_op(txn, feed->expiry, q->qid, m->expires_ms, seq,
			      true);
	if (rc)
		return rc;
	if (!feed__zero16(m->claim_id)) {
		rc = feed__claim_forget(feed, txn, q, m);
	} else if (seq < q->rec.claim_cursor) {
		rc = mdb_del(txn, feed->avail, &key, NULL);
		rc = rc == MDB_NOTFOUND ? 0 : feed__err(rc);
	}
	if (rc)
		return rc;
	q->rec.count--;
	if (why == FEED__EXPIRED && seq > q->rec.expired_max_seq)
		q->rec.expired_max_seq = seq;
	if (why == FEED__DELETED && seq > q->rec.deleted_max_seq)
		q->rec.deleted_max_seq = seq;
	return 0;
}

/* -------------------------------------------------------------- append */

/* Checks a request before any transaction: 0, or its own error. */
static int append_check(const feed_append_req_t *r)
{
	int rc = feed__name_check(r->project, r->queue);

	if (rc)
		return rc;
	if (r->n_msgs == 0 || !r->msgs)
		return FEED_EINVAL;
	for (size_t i = 0; i < r->n_msgs; i++) {
		if (r->msgs[i].ttl_s == 0 ||
		    (r->msgs[i].body_len && !r->msgs[i].body))
			return FEED_EINVAL;
		if (r->msgs[i].body_len > BODY_MAX)
			return FEED_ETOOBIG;
	}
	return 0;
}

/*
 * Appends one request's batch. A reason of the request's own is reported
 * in r->status before anything is written; the return value is for
 * failures of the transaction itself.
 */
/*
 * Puts a new message record (MDB_RESERVE: the caller fills val). While
 * the queue's keys are the last of `msgs` - always for the newest queue,
 * the common case of one busy queue - MDB_APPEND puts them at the end of
 * the tree and fills pages whole instead of splitting them in half. Once
 * a key is not the last, *append goes false and plain puts follow.
 */
static int msg_put(MDB_cursor *cur, MDB_val *key, MDB_val *val, bool *append)
{
	int rc;

	if (*append) {
		rc = mdb_cursor_put(cur, key, val, MDB_RESERVE | MDB_APPEND);
		if (rc != MDB_KEYEXIST)
			return feed__err(rc);
		*append = false;
	}
	return feed__err(mdb_cursor_put(cur, key, val, MDB_RESERVE));
}

static int append_msgs(feed_t *feed, MDB_txn *txn, MDB_cursor *cur,
		       feed_append_req_t *r, struct feed__queue *q,
		       uint64_t now_ms, bool *append);

static int append_one(feed_t *feed, MDB_txn *txn, feed_append_req_t *r,
		      uint64_t now_ms)
{
	struct feed__queue q;
	MDB_cursor *cur;
	bool append = true;
	int rc;

	if (r->flags & FEED_APPEND_NO_CREATE)
		rc = feed__queue_find(feed, txn, r->project, r->queue, &q);
	else
		rc = feed__queue_open(feed, txn, r->project, r->queue, NULL, 0,
				      now_ms, &q, NULL);
	if (rc == FEED_ENOQUEUE || rc == FEED_EINVAL) {
		r->status = rc;
		return 0;
	}
	if (rc)
		return rc;
	if (r->n_msgs > FEED__SEQ_MAX - q.rec.next_seq) {
		r->status = FEED_EFULL;
		return 0;
	}
	if (q.rec.count == 0)
		q.rec.tail_expires_ms = 0; /* nothing left to be in order with */
	rc = mdb_cursor_open(txn, feed->msgs, &cur);
	if (rc)
		return feed__err(rc);
	rc = append_msgs(feed, txn, cur, r, &q, now_ms, &append);
	mdb_cursor_close(cur);
	if (rc)
		return rc;
	r->last_seq = q.rec.next_seq - 1;
	r->status = 0;
	return feed__queue_save(feed, txn, &q);
}

/* Writes the messages of one request into queue q. */
static int append_msgs(feed_t *feed, MDB_txn *txn, MDB_cursor *cur,
		       feed_append_req_t *r, struct feed__queue *q,
		       uint64_t now_ms, bool *append)
{
	uint8_t k[16];
	MDB_val key = {16, k}, val;
	int rc;

	for (size_t i = 0; i < r->n_msgs; i++) {
		const feed_msg_in_t *in = &r->msgs[i];
		uint64_t seq = q->rec.next_seq++;
		struct feed__mrec m = {
			.created_ms = now_ms,
			.expires_ms = now_ms + (uint64_t)in->ttl_s * 1000,
			.due_ms = now_ms + (uint64_t)in->delay_s * 1000,
		};

		memcpy(m.client_id, r->client_id, 16);
		if (m.expires_ms < q->rec.tail_expires_ms) {
			m.flags |= FEED__M_INDEXED;
			rc = index_op(txn, feed->expiry, q->qid, m.expires_ms,
				      seq, false);
			if (rc)
				return rc;
		} else {
			q->rec.tail_expires_ms = m.expires_ms;
		}
		rc = feed__due_lower(feed, txn, q, m.expires_ms);
		if (rc)
			return rc;
		feed__msg_key(k, q->qid, seq);
		val.mv_size = sizeof(m) + in->body_len;
		rc = msg_put(cur, &key, &val, append);
		if (rc)
			return rc;
		memcpy(val.mv_data, &m, sizeof(m));
		if (in->body_len)
			memcpy((uint8_t *)val.mv_data + sizeof(m), in->body,
			       in->body_len);
		if (r->ids)
			feed__id_format(r->ids[i], q->qid, seq);
		q->rec.count++;
	}
	return 0;
}

struct group_ctx {
	feed_append_req_t *reqs;
	const int *checked; /* append_check() of each request */
	size_t n;
	uint64_t now_ms;
};

static int group_fn(feed_t *feed, MDB_txn *txn, void *arg)
{
	struct group_ctx *c = arg;

	for (size_t i = 0; i < c->n; i++) {
		feed_append_req_t *r = &c->reqs[i];
		int rc;

		r->status = c->checked[i];
		if (r->status)
			continue;
		rc = append_one(feed, txn, r, c->now_ms);
		if (rc)
			return rc;
	}
	return 0;
}

int feed_append_group(feed_t *feed, feed_append_req_t *reqs, size_t n,
		      uint64_t now_ms)
{
	struct group_ctx c = {reqs, NULL, n, now_ms};
	int *checked, rc;
	size_t failed = 0;

	if (!feed || (!reqs && n))
		return FEED_EINVAL;
	if (n == 0)
		return 0;
	checked = malloc(n * sizeof(*checked));
	if (!checked)
		return FEED_ENOMEM;
	for (size_t i = 0; i < n; i++)
		checked[i] = append_check(&reqs[i]);
	c.checked = checked;
	rc = feed__write(feed, group_fn, &c, 0);
	if (rc && n > 1) {
		/* Find out which requests can go on their own. */
		for (size_t i = 0; i < n; i++) {
			struct group_ctx one = {&reqs[i], &checked[i], 1,
						now_ms};
			int rc1 = feed__write(feed, group_fn, &one, 0);

			if (rc1)
				reqs[i].status = rc1;
			failed += reqs[i].status != 0;
		}
		rc = failed == n ? reqs[0].status : 0;
	} else if (rc) {
		reqs[0].status = rc;
	}
	free(checked);
	return rc;
}

int feed_append(feed_t *feed, const char *project, const char *queue,
		const feed_msg_in_t *msgs, size_t n_msgs,
		const uint8_t client_id[16], uint64_t now_ms,
		char (*ids)[FEED_ID_LEN + 1])
{
	feed_append_req_t r = {
		.project = project,
		.queue = queue,
		.msgs = msgs,
		.n_msgs = n_msgs,
		.ids = ids,
	};
	int rc;

	if (client_id)
		memcpy(r.client_id, client_id, 16);
	rc = feed_append_group(feed, &r, 1, now_ms);
	return rc ? rc : r.status;
}

/* ---------------------------------------------------------------- read */

struct walk {
	feed_msgs_t *out;
	uint64_t prev; /* last seq visited: the marker to resume from */
	bool track;    /* report messages lost to expiry after prev */
	uint64_t wake; /* see feed_msgs_t.wake_ms */
	bool jumped;   /* skipped claimed messages without visiting them */
};

/* A run of `n` messages after w->prev is lost to expiry. Returns true if
 * the walk must stop first, because it has messages to hand back. */
static bool lost(struct walk *w, uint64_t n, bool exact)
{
	if (!w->track)
		return false;
	if (w->out->n > 0)
		return true;
	w->out->gap = true;
	if (!exact || w->out->missed < 0)
		w->out->missed = -1;
	else
		w->out->missed += (int64_t)n;
	return false;
}

/*
 * The first seq after `after` that may be visible to a reader skipping
 * claimed messages: all of (after, *next) is in live claims or gone.
 * Candidates are the next `avail` entry, the claim cursor, and messages of
 * expired claims not yet released (still marked, no longer protected).
 */
static int next_unclaimed(feed_t *feed, MDB_txn *txn,
			  const struct feed__queue *q, uint64_t after,
			  uint64_t now_ms, uint64_t *next)
{
	uint8_t k[16];
	MDB_val key = {16, k}, val;
	MDB_cursor *cur;
	int rc;

	*next = q->rec.claim_cursor;
	feed__msg_key(k, q->qid, after + 1);
	rc = mdb_cursor_open(txn, feed->avail, &cur);
	if (rc)
		return feed__err(rc);
	rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
	if (rc == 0 && feed__get_be64(key.mv_data) == q->qid) {
		uint64_t seq = feed__get_be64((uint8_t *)key.mv_data + 8);

		*next = seq < *next ? seq : *next;
	}
	mdb_cursor_close(cur);
	if (rc && rc != MDB_NOTFOUND)
		return feed__err(rc);

	feed__msg_key(k, q->qid, 0);
	key.mv_size = 16;
	key.mv_data = k;
	rc = mdb_cursor_open(txn, feed->cexpiry, &cur);
	if (rc)
		return feed__err(rc);
	for (rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
		const uint8_t *kp = key.mv_data;
		uint8_t ck[24];
		MDB_val ckey = {24, ck}, cval;
		struct feed__crec c;

		if (key.mv_size != 32 || feed__get_be64(kp) != q->qid ||
		    feed__get_be64(kp + 8) > now_ms)
			break;
		memcpy(ck, kp, 8);
		memcpy(ck + 8, kp + 16, 16);
		rc = mdb_get(txn, feed->claims, &ckey, &cval);
		if (rc || cval.mv_size < sizeof(c))
			break;
		memcpy(&c, cval.mv_data, sizeof(c));
		for (uint32_t i = 0; i < c.n && sizeof(c) + (i + 1) * 8 <= cval.mv_size; i++) {
			uint64_t seq;

			memcpy(&seq, (uint8_t *)cval.mv_data + sizeof(c) + i * 8, 8);
			if (seq > after && seq < *next)
				*next = seq;
		}
	}
	mdb_cursor_close(cur);
	return rc == 0 || rc == MDB_NOTFOUND ? 0 : feed__err(rc);
}

/* Claimed messages in a row before a read looks for the end of the run. */
#define CLAIMED_RUN 8

static int read_walk(feed_t *feed, MDB_txn *txn, const struct feed__queue *q,
		     const feed_read_opts_t *opts, uint64_t now_ms,
		     struct feed__msgbuf *b, struct walk *w)
{
	const struct feed__qrec *qr = &q->rec;
	uint8_t k[16];
	MDB_val key = {16, k}, val, body;
	MDB_cursor *cur;
	MDB_cursor_op op = MDB_SET_RANGE;
	struct feed__mrec m;
	size_t claimed_run = 0;
	bool end = false;
	int rc;

	feed__msg_key(k, q->qid, w->prev + 1);
	rc = mdb_cursor_open(txn, feed->msgs, &cur);
	if (rc)
		return feed__err(rc);
	while (b->out->n < opts->limit) {
		uint64_t seq;

		rc = mdb_cursor_get(cur, &key, &val, op);
		op = MDB_NEXT;
		if (rc == MDB_NOTFOUND ||
		    (rc == 0 && feed__get_be64(key.mv_data) != q->qid)) {
			rc = 0;
			end = true;
			break;
		}
		if (rc)
			break;
		seq = feed__get_be64((uint8_t *)key.mv_data + 8);
		/* A hole: removed messages. Deleted ones are consumed, not
		 * lost; only expiry can have taken one this reader missed. */
		if (seq > w->prev + 1 && qr->expired_max_seq > w->prev &&
		    lost(w, seq - w->prev - 1, qr->deleted_max_seq <= w->prev))
			break;
		if (val.mv_size < sizeof(m)) {
			rc = MDB_CORRUPTED;
			break;
		}
		memcpy(&m, val.mv_data, sizeof(m));
		if (m.expires_ms <= now_ms) {
			if (lost(w, 1, true))
				break;
			w->prev = seq;
			continue;
		}
		if (m.due_ms > now_ms &&
		    !(opts->flags & FEED_READ_INCLUDE_DELAYED)) {
			feed__wake_min(&w->wake, m.due_ms);
			break;
		}
		w->prev = seq;
		if (feed__claimed(&m, now_ms) &&
		    !(opts->flags & FEED_READ_INCLUDE_CLAIMED)) {
			uint64_t next;

			feed__wake_min(&w->wake, m.claim_expires_ms);

			/* Jump over a long run of claimed messages - unless
			 * expiry may have left holes in it to report. */
			if (++claimed_run < CLAIMED_RUN ||
			    qr->expired_max_seq > seq)
				continue;
			claimed_run = 0;
			rc = next_unclaimed(feed, txn, q, seq, now_ms, &next);
			if (rc)
				break;
			if (next > seq + 1) {
				w->jumped = true;
				w->prev = next - 1;
				feed__msg_key(k, q->qid, next);
				key.mv_size = 16;
				key.mv_data = k;
				op = MDB_SET_RANGE;
			}
			continue;
		}
		claimed_run = 0;
		if (!(opts->flags & FEED_READ_ECHO) &&
		    memcmp(m.client_id, opts->client_id, 16) == 0)
			continue;
		body.mv_size = val.mv_size - sizeof(m);
		body.mv_data = (uint8_t *)val.mv_data + sizeof(m);
		rc = feed__msgbuf_add(b, q->qid, seq, &m, &body, now_ms);
		if (rc)
			break;
	}
	mdb_cursor_close(cur);
	if (rc)
		return feed__err(rc);
	if (w->jumped) {
		uint64_t t;

		rc = feed__claims_next_expiry(feed, txn, q->qid, now_ms, &t);
		if (rc)
			return rc;
		feed__wake_min(&w->wake, t);
	}
	/* Messages lost at the very end of the log: report them when there
	 * is nothing else to hand back, and move past them. */
	if (end && w->track) {
		uint64_t last = qr->next_seq - 1;

		if (last > w->prev && qr->expired_max_seq > w->prev &&
		    !lost(w, last - w->prev, qr->deleted_max_seq <= w->prev))
			w->prev = last;
	}
	return 0;
}

int feed_read(feed_t *feed, const char *project, const char *queue,
	      const char *marker, const feed_read_opts_t *opts,
	      uint64_t now_ms, feed_msgs_t *out)
{
	struct feed__msgbuf b;
	struct feed__queue q;
	struct walk w = {out, 0, false, 0, false};
	uint64_t gen = 0, mseq = 0;
	bool has_marker = marker && *marker;
	MDB_txn *txn;
	int rc;

	feed__msgbuf_init(&b, out);
	if (!opts || opts->limit == 0)
		return FEED_EINVAL;
	rc = feed__name_check(project, queue);
	if (rc == 0 && has_marker)
		rc = feed_id_parse(marker, &gen, &mseq);
	if (rc)
		return rc;
	rc = feed__read_begin(feed, &txn);
	if (rc)
		return rc;
	rc = feed__queue_find(feed, txn, project, queue, &q);
	if (rc == 0) {
		if (has_marker && gen == q.qid) {
			w.prev = mseq;
			w.track = true;
		} else if (has_marker) {
			out->gap = true;
			out->missed = -1;
		}
		rc = read_walk(feed, txn, &q, opts, now_ms, &b, &w);
	}
	feed__read_end(feed, txn);
	feed__msgbuf_finish(&b);
	if (rc == FEED_ENOQUEUE) {
		/* Nothing to read; keep the reader's place. */
		if (has_marker)
			memcpy(out->next_marker, marker, FEED_ID_LEN + 1);
		return 0;
	}
	if (rc) {
		feed_msgs_free(out);
		return rc;
	}
	if (w.prev)
		feed__id_format(out->next_marker, q.qid, w.prev);
	out->wake_ms = w.wake;
	return 0;
}

/* ----------------------------------------------------------------- get */

/* Adds message `id` of q to b if it exists and has not expired. */
static int get_one(feed_t *feed, MDB_txn *txn, const struct feed__queue *q,
		   const char *id, uint64_t now_ms, struct feed__msgbuf *b)
{
	struct feed__mrec m;
	MDB_val body;
	uint64_t gen, seq;
	int rc = feed_id_parse(id, &gen, &seq);

	if (rc)
		return rc;
	if (gen != q->qid)
		return FEED_ENOTFOUND;
	rc = feed__msg_load(feed, txn, q->qid, seq, &m, &body);
	if (rc)
		return rc;
	if (m.expires_ms <= now_ms)
		return FEED_ENOTFOUND;
	return feed__msgbuf_add(b, q->qid, seq, &m, &body, now_ms);
}

int feed_get_many(feed_t *feed, const char *project, const char *queue,
		  const char *const *ids, size_t n, uint64_t now_ms,
		  feed_msgs_t *out)
{
	struct feed__msgbuf b;
	struct feed__queue q;
	MDB_txn *txn;
	int rc;

	feed__msgbuf_init(&b, out);
	rc = feed__name_check(project, queue);
	if (rc || n == 0)
		return rc;
	if (!ids)
		return FEED_EINVAL;
	rc = feed__read_begin(feed, &txn);
	if (rc)
		return rc;
	rc = feed__queue_find(feed, txn, project, queue, &q);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		rc = get_one(feed, txn, &q, ids[i], now_ms, &b);
		if (rc == FEED_ENOTFOUND || rc == FEED_EBADID)
			rc = 0;
	}
	feed__read_end(feed, txn);
	feed__msgbuf_finish(&b);
	if (rc == FEED_ENOQUEUE)
		rc = 0;
	if (rc)
		feed_msgs_free(out);
	return rc;
}

int feed_get(feed_t *feed, const char *project, const char *queue,
	     const char *id, uint64_t now_ms, feed_msgs_t *out)
{
	int rc = feed_id_parse(id, NULL, NULL);

	if (rc) {
		memset(out, 0, sizeof(*out));
		return rc;
	}
	rc = feed_get_many(feed, project, queue, &id, 1, now_ms, out);
	if (rc == 0 && out->n == 0)
		rc = FEED_ENOTFOUND;
	return rc;
}

/* --------------------------------------------------------------- delete */

struct delete_ctx {
	const char *project, *queue;
	const char *const *ids;
	size_t n;
	bool check_claims;    /* feed_delete's rules, or none */
	const uint8_t *claim; /* NULL: no claim id given */
	uint64_t now_ms;
	size_t deleted;
};

/* Whether deleting m with claim id `claim` (or none) is allowed. */
static int delete_allowed(feed_t *feed, MDB_txn *txn, uint64_t qid,
			  const struct feed__mrec *m, const uint8_t *claim,
			  uint64_t now_ms)
{
	uint8_t k[24];
	MDB_val key = {24, k}, val;
	struct feed__crec c;
	int rc;

	if (!claim)
		return feed__claimed(m, now_ms) ? FEED_ECLAIMED : 0;
	feed__be64(k, qid);
	memcpy(k + 8, claim, 16);
	rc = mdb_get(txn, feed->claims, &key, &val);
	if (rc)
		return rc == MDB_NOTFOUND ? FEED_ENOCLAIM : feed__err(rc);
	if (val.mv_size < sizeof(c))
		return FEED_ECORRUPT;
	memcpy(&c, val.mv_data, sizeof(c));
	if (c.expires_ms <= now_ms)
		return FEED_ENOCLAIM;
	if (!feed__claimed(m, now_ms))
		return FEED_ENOTCLAIMED;
	return memcmp(m->claim_id, claim, 16) ? FEED_ECLAIMED : 0;
}

static int delete_fn(feed_t *feed, MDB_txn *txn, void *arg)
{
	struct delete_ctx *c = arg;
	struct feed__queue q;
	int rc = feed__queue_find(feed, txn, c->project, c->queue, &q);

	c->deleted = 0;
	if (rc)
		return rc == FEED_ENOQUEUE ? 0 : rc;
	for (size_t i = 0; i < c->n; i++) {
		struct feed__mrec m;
		uint64_t gen, seq;

		if (feed_id_parse(c->ids[i], &gen, &seq) || gen != q.qid)
			continue;
		rc = feed__msg_load(feed, txn, q.qid, seq, &m, NULL);
		if (rc == FEED_ENOTFOUND)
			continue;
		if (rc == 0 && m.expires_ms <= c->now_ms)
			continue; /* gone already; compaction removes it */
		if (rc == 0 && c->check_claims)
			rc = delete_allowed(feed, txn, q.qid, &m, c->claim,
					    c->now_ms);
		if (rc == 0)
			rc = feed__msg_remove(feed, txn, &q, seq, &m,
					      FEED__DELETED);
		if (rc)
			return rc;
		c->deleted++;
	}
	return c->deleted ? feed__queue_save(feed, txn, &q) : 0;
}

int feed_delete(feed_t *feed, const char *project, const char *queue,
		const char *id, const char *claim_id, uint64_t now_ms,
		bool *deleted)
{
	uint8_t claim[16];
	struct delete_ctx c = {project, queue, &id, 1, true, NULL, now_ms, 0};
	int rc = feed__name_check(project, queue);

	if (deleted)
		*deleted = false;
	if (rc == 0)
		rc = feed_id_parse(id, NULL, NULL);
	if (rc)
		return rc;
	if (claim_id && *claim_id) {
		/* A claim id that cannot exist is a claim that does not. */
		if (feed_claim_id_parse(claim_id, claim))
			return FEED_ENOCLAIM;
		c.claim = claim;
	}
	rc = feed__write(feed, delete_fn, &c, FEED__W_FREES);
	if (rc == 0 && deleted)
		*deleted = c.deleted > 0;
	return rc;
}

int feed_delete_many(feed_t *feed, const char *project, const char *queue,
		     const char *const *ids, size_t n, uint64_t now_ms,
		     size_t *deleted)
{
	struct delete_ctx c = {project, queue, ids, n, false, NULL, now_ms, 0};
	int rc = feed__name_check(project, queue);

	if (deleted)
		*deleted = 0;
	if (rc || n == 0)
		return rc;
	if (!ids)
		return FEED_EINVAL;
	rc = feed__write(feed, delete_fn, &c, FEED__W_FREES);
	if (rc == 0 && deleted)
		*deleted = c.deleted;
	return rc;
}
