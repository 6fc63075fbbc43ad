/*
 * log.c - messages: appending (with group commit), reading by marker,
 * getting and deleting by id.
 *
 * A message is one record in `msgs`, keyed qid | seq (both big-endian, so
 * a queue's log is one contiguous, ordered key range); its format and the
 * index entries that go with it belong to record.c.
 *
 * Appending is one put per message plus an `expiry` entry per run of one
 * expiry (see feed_internal.h): one for a request with one ttl, shared by
 * the requests of a group commit to one queue. A message with an
 * idempotency key costs one `idem` lookup more, and when stored two index
 * writes (its `idem` and `iexpiry` entries); a repeat is answered with
 * the original's id and nothing of it is written (feed.h, "Idempotent
 * appends"). A group commit runs many publishers' batches in one
 * write transaction; a request that cannot be appended for a reason of its
 * own (a bad name, a missing queue with FEED_APPEND_NO_CREATE) is refused
 * before anything of it is written, so it cannot spoil the others. If the
 * transaction as a whole fails, each request is retried alone.
 *
 * Reading walks the log from the marker: O(log n) to find the start, then
 * one step per message returned or skipped. The walk stops before a message
 * that is not due yet (so the marker never passes it; a listing may ask to
 * step over such messages instead), and before messages
 * lost to expiry once it has something to return, so that the next read
 * starts at the hole and reports it as a gap.
 *
 * Gaps. A hole in the log after the marker (seqs no longer stored) is
 * lost only where `lost` says so (feed_internal.h): deleted and popped
 * messages were consumed by someone, and are no gap. The queue's
 * expired_max_seq (the end of its last lost range) filters: a hole after
 * it needs no lookup. Otherwise one cursor on `lost`, moving forward only
 * during a read, finds the ranges inside each hole: amortised O(1) per
 * hole. Ranges wholly inside a hole give an exact count; a range reaching
 * over the marker counts exactly only when all of it was lost. Expired
 * messages still stored (not compacted yet) count one each.
 */
#include <stdlib.h>

#include "feed_internal.h"

/* Largest body accepted: LMDB's limit is far higher; this keeps a value
 * and its header well inside 32-bit lengths. */
#define BODY_MAX (UINT32_C(1) << 30)

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
		if (!r->keys)
			continue;
		if (r->keys[i].len > FEED_IDEM_KEY_MAX)
			return FEED_ETOOBIG;
		if (r->keys[i].len && !r->keys[i].key)
			return FEED_EINVAL;
	}
	return 0;
}

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

	feed__touch();
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

/*
 * Appends one request's batch. A reason of the request's own is reported
 * in r->status before anything is written; the return value is for
 * failures of the transaction itself.
 */
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
	r->last_seq = r->n_dups < r->n_msgs ? q.rec.next_seq - 1 : 0;
	r->status = 0;
	return feed__queue_save(feed, txn, &q);
}

/*
 * A keyed message's lookup (feed.h, "Idempotent appends"): *orig = the
 * seq of the original when the key is in its window (a repeat), else 0.
 * An entry past its window that compaction has not removed yet goes
 * now, so that the new one replaces it whole.
 */
static int idem_lookup(feed_t *feed, MDB_txn *txn, const struct feed__queue *q,
		       const feed_key_t *in, uint64_t now_ms, uint64_t *orig)
{
	struct feed__irec rec;
	int rc = feed__idem_get(feed, txn, q->qid, in->key, in->len, &rec);

	*orig = 0;
	if (rc == FEED_ENOTFOUND)
		return 0;
	if (rc)
		return rc;
	if (rec.expires_ms > now_ms) {
		*orig = rec.seq;
		return 0;
	}
	return feed__idem_set(feed, txn, q->qid, in->key, in->len, &rec,
			      false);
}

/* Puts the key of message seq, just stored, for the request's window. */
static int idem_store(feed_t *feed, MDB_txn *txn, struct feed__queue *q,
		      const feed_append_req_t *r, const feed_key_t *in,
		      uint64_t seq, uint64_t now_ms)
{
	uint32_t window_s = r->idem_window_s ? r->idem_window_s
					     : FEED_IDEM_WINDOW_S;
	struct feed__irec rec = {seq, now_ms + (uint64_t)window_s * 1000};
	int rc = feed__idem_set(feed, txn, q->qid, in->key, in->len, &rec,
				true);

	return rc ? rc : feed__due_lower(feed, txn, q, rec.expires_ms);
}

/* Writes the messages of one request into queue q. */
static int append_msgs(feed_t *feed, MDB_txn *txn, MDB_cursor *cur,
		       feed_append_req_t *r, struct feed__queue *q,
		       uint64_t now_ms, bool *append)
{
	uint8_t k[16];
	MDB_val key = {16, k}, val;
	int rc;

	r->n_dups = 0;
	for (size_t i = 0; i < r->n_msgs; i++) {
		const feed_msg_in_t *in = &r->msgs[i];
		const feed_key_t *ik = r->keys && r->keys[i].len ? &r->keys[i]
								 : NULL;
		uint64_t seq, orig = 0;

		if (r->dups)
			r->dups[i] = false;
		if (ik) {
			rc = idem_lookup(feed, txn, q, ik, now_ms, &orig);
			if (rc)
				return rc;
		}
		if (orig) {
			if (r->ids)
				feed__id_format(r->ids[i], q->rec.generation, orig);
			if (r->dups)
				r->dups[i] = true;
			r->n_dups++;
			continue;
		}
		seq = q->rec.next_seq++;
		struct feed__mrec m = {
			.created_ms = now_ms,
			.expires_ms = now_ms + (uint64_t)in->ttl_s * 1000,
			.due_ms = now_ms + (uint64_t)in->delay_s * 1000,
		};

		memcpy(m.client_id, r->client_id, 16);
		rc = feed__run_append(feed, txn, q, seq, m.expires_ms);
		if (rc == 0)
			rc = feed__due_lower(feed, txn, q, m.expires_ms);
		if (rc)
			return rc;
		feed__msg_key(k, q->qid, seq);
		val.mv_size = sizeof(m) + in->body_len;
		rc = msg_put(cur, &key, &val, append);
		if (rc)
			return rc;
		feed__mrec_encode(&val, &m, in->body, in->body_len);
		rc = feed__delayed_appended(feed, txn, q, seq, &m);
		if (rc)
			return rc;
		if (ik) {
			rc = idem_store(feed, txn, q, r, ik, seq, now_ms);
			if (rc)
				return rc;
		}
		if (r->ids)
			feed__id_format(r->ids[i], q->rec.generation, seq);
		q->rec.count++;
	}
	return 0;
}

struct append_ctx {
	feed_append_req_t *req;
	uint64_t now_ms;
};

static int append_fn(feed_t *feed, MDB_txn *txn, void *arg)
{
	struct append_ctx *c = arg;
	int rc = append_one(feed, txn, c->req, c->now_ms);

	/* A refusal of the request's own fails its job (nothing written). */
	return rc ? rc : c->req->status;
}

int feed_append_tx(feed_txn_t *txn, feed_append_req_t *r, uint64_t now_ms)
{
	struct append_ctx c = {r, now_ms};
	int rc;

	r->last_seq = 0;
	r->n_dups = 0;
	rc = r->status = append_check(r);
	if (rc == 0)
		rc = feed__run(feed__txn_feed(txn), txn, append_fn, &c, 0);
	r->status = rc;
	return rc;
}

static int group_job(feed_txn_t *txn, void *arg)
{
	struct append_ctx *g = arg;

	return feed_append_tx(txn, g->req, g->now_ms);
}

int feed_append_group(feed_t *feed, feed_append_req_t *reqs, size_t n,
		      uint64_t now_ms)
{
	feed_job_t *jobs;
	struct append_ctx *ctx;
	int rc;

	if (!reqs)
		return n ? FEED_EINVAL : 0;
	for (size_t i = 0; i < n; i++)
		reqs[i].status = FEED_EINVAL;
	if (!feed)
		return FEED_EINVAL;
	if (n == 0)
		return 0;
	jobs = feed__malloc(n * (sizeof(*jobs) + sizeof(*ctx)));
	if (!jobs) {
		for (size_t i = 0; i < n; i++)
			reqs[i].status = FEED_ENOMEM;
		return FEED_ENOMEM;
	}
	ctx = (struct append_ctx *)(jobs + n);
	for (size_t i = 0; i < n; i++) {
		ctx[i] = (struct append_ctx){&reqs[i], now_ms};
		jobs[i] = (feed_job_t){group_job, &ctx[i], 0, FEED_JOB_DIRECT};
	}
	rc = feed_write_group(feed, jobs, n);
	/* Every path sets every status: the job's is the final word. */
	for (size_t i = 0; i < n; i++)
		reqs[i].status = jobs[i].status;
	free(jobs);
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
	const feed_read_opts_t *opts;
	uint64_t now_ms;
	uint64_t prev;      /* last seq visited: the marker to resume from */
	bool track;         /* report messages lost to expiry after prev */
	uint64_t wake;      /* see feed_msgs_t.wake_ms */
	bool jumped;        /* skipped claimed messages without visiting them */
	size_t claimed_run; /* claimed messages skipped in a row */
	MDB_cursor *lost;   /* on `lost`, opened by the first hole checked */
	int lost_rc;        /* its position: 0 = on lost_first/lost_rec */
	uint64_t lost_first;
	struct feed__lost lost_rec;
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

/* Loads the range under w->lost into w->lost_first/lost_rec; w->lost_rc
 * is 0, FEED_ENOTFOUND past the queue's ranges, or an error. */
static void lost_load(struct walk *w, int rc, MDB_val *key, MDB_val *val)
{
	if (rc == 0 && (key->mv_size != 16 || val->mv_size != 16))
		rc = FEED_ECORRUPT;
	if (rc == 0) {
		w->lost_first = feed__get_be64((uint8_t *)key->mv_data + 8);
		memcpy(&w->lost_rec, val->mv_data, sizeof(w->lost_rec));
	}
	w->lost_rc = rc;
}

/* What range r = [first, r->last] tells about the hole [a, b]. */
static void lost_part(uint64_t first, const struct feed__lost *r, uint64_t a,
		      uint64_t b, uint64_t *n, bool *exact)
{
	uint64_t lo = first > a ? first : a, hi = r->last < b ? r->last : b;

	if (r->count == 0 || lo > hi)
		return; /* all of it deleted, or outside */
	if (r->count == FEED__LOST_UNKNOWN)
		*exact = false;
	else if (first >= a && r->last <= b)
		*n += r->count;
	else if (r->count == r->last - first + 1)
		*n += hi - lo + 1;
	else
		*exact = false;
}

/* The messages of the hole [a, b] (all of it gone) that were lost: *n of
 * them, exactly when *exact. Holes are asked for in log order. */
static int hole_lost(feed_t *feed, MDB_txn *txn, const struct feed__queue *q,
		     struct walk *w, uint64_t a, uint64_t b, uint64_t *n,
		     bool *exact)
{
	MDB_val key, val;
	int rc;

	*n = 0;
	*exact = true;
	if (!w->lost) {
		uint64_t first = 0;
		struct feed__lost r;
		bool found;

		/* A range may reach over the marker into the first hole. */
		rc = feed__lost_at_or_before(feed, txn, q->qid, a, &first, &r,
					     &found);
		if (rc)
			return rc;
		if (found && first < a)
			lost_part(first, &r, a, b, n, exact);
		rc = feed__err(mdb_cursor_open(txn, feed->lost, &w->lost));
		if (rc) {
			w->lost = NULL;
			return rc;
		}
		rc = feed__seek(w->lost, q->qid, a, &key, &val);
		lost_load(w, rc, &key, &val);
	}
	/* Ranges starting before a were seen with an earlier hole. */
	while (w->lost_rc == 0 && w->lost_first <= b) {
		if (w->lost_first >= a)
			lost_part(w->lost_first, &w->lost_rec, a, b, n, exact);
		rc = feed__step(w->lost, q->qid, &key, &val);
		lost_load(w, rc, &key, &val);
	}
	return w->lost_rc == FEED_ENOTFOUND ? 0 : w->lost_rc;
}

/* The hole [a, b] after w->prev: *gone when some of it was lost, *stop
 * when the walk must stop before it (lost, and the read has messages to
 * hand back). */
static int hole(feed_t *feed, MDB_txn *txn, const struct feed__queue *q,
		struct walk *w, uint64_t a, uint64_t b, bool *gone, bool *stop)
{
	uint64_t n;
	bool exact;
	int rc;

	*gone = *stop = false;
	if (!w->track || a > b || q->rec.expired_max_seq < a)
		return 0;
	rc = hole_lost(feed, txn, q, w, a, b, &n, &exact);
	*gone = rc == 0 && (n > 0 || !exact);
	if (*gone)
		*stop = lost(w, n, exact);
	return rc;
}

struct unclaimed {
	uint64_t after, next;
};

static int expired_claim_seqs(feed_t *feed, MDB_txn *txn,
			      struct feed__claim *c, void *arg)
{
	struct unclaimed *u = arg;

	(void)feed;
	(void)txn;
	for (uint32_t i = 0; i < c->rec.n; i++)
		if (c->seqs[i] > u->after && c->seqs[i] < u->next)
			u->next = c->seqs[i];
	return 0;
}

/*
 * The first seq after `after` that may be visible to a reader skipping
 * claimed messages: all of (after, *next) is in live claims or gone.
 * Candidates are the next `avail` entry, the next `delayed` one (delayed
 * messages are unclaimed too, also below the cursor), the claim cursor,
 * and messages of expired claims not yet released (still marked, no
 * longer protected).
 */
static int next_unclaimed(feed_t *feed, MDB_txn *txn,
			  const struct feed__queue *q, uint64_t after,
			  uint64_t now_ms, uint64_t *next)
{
	struct unclaimed u = {after, q->rec.claim_cursor};
	MDB_val key, val;
	int rc = feed__first(txn, feed->avail, q->qid, after + 1, &key, &val);

	if (rc == 0 && feed__get_be64((uint8_t *)key.mv_data + 8) < u.next)
		u.next = feed__get_be64((uint8_t *)key.mv_data + 8);
	if (rc == 0 || rc == FEED_ENOTFOUND)
		rc = feed__delayed_next(feed, txn, q->qid, after, &u.next);
	if (rc == 0)
		rc = feed__claims_expired(feed, txn, q->qid, now_ms, false,
					  expired_claim_seqs, &u);
	*next = u.next;
	return rc;
}

/* Claimed messages in a row before a read looks for the end of the run. */
#define CLAIMED_RUN 8

/* A claimed message skipped: maybe jump over the rest of its run (*jump =
 * the seq to go on from). */
static int read_claimed(feed_t *feed, MDB_txn *txn,
			const struct feed__queue *q, struct walk *w,
			uint64_t seq, uint64_t claim_expires_ms, uint64_t *jump)
{
	uint64_t next;
	int rc;

	feed__wake_min(&w->wake, claim_expires_ms);
	/* Not when losses may have left holes in the run to report. */
	if (++w->claimed_run < CLAIMED_RUN || q->rec.expired_max_seq > seq)
		return 0;
	w->claimed_run = 0;
	rc = next_unclaimed(feed, txn, q, seq, w->now_ms, &next);
	if (rc == 0 && next > seq + 1) {
		w->jumped = true;
		w->prev = next - 1;
		*jump = next;
	}
	return rc;
}

/* What a read does with message seq: 0 to go on, FEED__STOP to stop
 * before it, or an error. */
static int read_one(feed_t *feed, MDB_txn *txn, const struct feed__queue *q,
		    struct walk *w, struct feed__msgbuf *b, uint64_t seq,
		    const MDB_val *val, uint64_t *jump)
{
	unsigned flags = w->opts->flags;
	struct feed__mrec m;
	MDB_val body;
	bool gone, stop;
	int rc;

	/* A hole: removed messages; `lost` tells the consumed from the lost. */
	rc = hole(feed, txn, q, w, w->prev + 1, seq - 1, &gone, &stop);
	if (rc || stop)
		return rc ? rc : FEED__STOP;
	rc = feed__mrec_decode(val, &m, &body);
	if (rc)
		return rc;
	if (m.expires_ms <= w->now_ms) {
		if (lost(w, 1, true))
			return FEED__STOP;
		w->prev = seq;
		return 0;
	}
	if (m.due_ms > w->now_ms && !(flags & FEED_READ_INCLUDE_DELAYED)) {
		feed__wake_min(&w->wake, m.due_ms);
		if (!(flags & FEED_READ_SKIP_DELAYED))
			return FEED__STOP;
		w->prev = seq;
		return 0;
	}
	w->prev = seq;
	if (feed__claimed(&m, w->now_ms) &&
	    !(flags & FEED_READ_INCLUDE_CLAIMED))
		return read_claimed(feed, txn, q, w, seq, m.claim_expires_ms,
				    jump);
	w->claimed_run = 0;
	if (!(flags & FEED_READ_ECHO) &&
	    memcmp(m.client_id, w->opts->client_id, 16) == 0)
		return 0;
	return feed__msgbuf_add(b, q->rec.generation, seq, &m, &body,
				w->now_ms);
}

static int read_walk(feed_t *feed, MDB_txn *txn, const struct feed__queue *q,
		     struct feed__msgbuf *b, struct walk *w)
{
	const struct feed__qrec *qr = &q->rec;
	MDB_val key, val;
	MDB_cursor *cur;
	uint64_t jump = 0, t;
	int rc = feed__err(mdb_cursor_open(txn, feed->msgs, &cur));

	if (rc)
		return rc;
	rc = feed__seek(cur, q->qid, w->prev + 1, &key, &val);
	while (rc == 0 && b->out->n < w->opts->limit) {
		rc = read_one(feed, txn, q, w, b,
			      feed__get_be64((uint8_t *)key.mv_data + 8), &val,
			      &jump);
		if (rc == 0 && jump)
			rc = feed__seek(cur, q->qid, jump, &key, &val);
		else if (rc == 0)
			rc = feed__step(cur, q->qid, &key, &val);
		jump = 0;
	}
	mdb_cursor_close(cur);
	if (rc == FEED_ENOTFOUND && w->track) {
		/* Messages lost at the very end of the log: report them when
		 * there is nothing else to hand back, and move past them. */
		uint64_t last = qr->next_seq - 1;
		bool gone, stop;

		rc = hole(feed, txn, q, w, w->prev + 1, last, &gone, &stop);
		if (rc == 0 && gone && !stop)
			w->prev = last;
		if (rc == 0)
			rc = FEED_ENOTFOUND;
	}
	if (w->lost)
		mdb_cursor_close(w->lost);
	if (rc && rc != FEED__STOP && rc != FEED_ENOTFOUND)
		return rc;
	if (w->jumped) {
		int rc2 = feed__claims_next_expiry(feed, txn, q->qid,
						   w->now_ms, &t);

		if (rc2)
			return rc2;
		feed__wake_min(&w->wake, t);
	}
	return 0;
}

int feed_read(feed_t *feed, const char *project, const char *queue,
	      const char *marker, const feed_read_opts_t *opts,
	      uint64_t now_ms, feed_msgs_t *out)
{
	struct feed__msgbuf b;
	struct feed__queue q;
	struct walk w = {.out = out, .opts = opts, .now_ms = now_ms};
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
		if (has_marker && gen == q.rec.generation) {
			w.prev = mseq;
			w.track = true;
		} else if (has_marker) {
			out->gap = true;
			out->missed = -1;
		}
		rc = read_walk(feed, txn, &q, &b, &w);
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
		feed__id_format(out->next_marker, q.rec.generation, w.prev);
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
	if (gen != q->rec.generation)
		return FEED_ENOTFOUND;
	rc = feed__msg_load(feed, txn, q->qid, seq, &m, &body);
	if (rc)
		return rc;
	if (m.expires_ms <= now_ms)
		return FEED_ENOTFOUND;
	return feed__msgbuf_add(b, q->rec.generation, seq, &m, &body, now_ms);
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

/* Whether deleting m with claim id `claim` (or none) is allowed, in the
 * order feed_delete documents. */
static int delete_allowed(feed_t *feed, MDB_txn *txn, uint64_t qid,
			  const struct feed__mrec *m, const uint8_t *claim,
			  uint64_t now_ms)
{
	struct feed__claim c;
	int rc;

	if (!claim)
		return feed__claimed(m, now_ms) ? FEED_ECLAIMED : 0;
	if (!feed__claimed(m, now_ms))
		return FEED_ENOTCLAIMED;
	if (memcmp(m->claim_id, claim, 16) == 0)
		return 0; /* its live claim */
	rc = feed__claim_load(feed, txn, qid, claim, &c);
	free(c.seqs);
	if (rc == 0 && c.rec.expires_ms <= now_ms)
		rc = FEED_ENOCLAIM;
	return rc ? rc : FEED_ECLAIMED;
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

		if (feed_id_parse(c->ids[i], &gen, &seq) ||
		    gen != q.rec.generation)
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

static int delete_op(feed_t *feed, feed_txn_t *t,
	const char *project, const char *queue,
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
	rc = feed__run(feed, t, delete_fn, &c, FEED__W_FREES);
	if (rc == 0 && deleted)
		*deleted = c.deleted > 0;
	return rc;
}

int feed_delete(feed_t *feed, const char *project, const char *queue,
		const char *id, const char *claim_id, uint64_t now_ms,
		bool *deleted)
{
	return delete_op(feed, NULL, project, queue, id, claim_id, now_ms, deleted);
}

int feed_delete_tx(feed_txn_t *txn, const char *project, const char *queue,
		const char *id, const char *claim_id, uint64_t now_ms,
		bool *deleted)
{
	return delete_op(feed__txn_feed(txn), txn,
		project, queue, id, claim_id, now_ms, deleted);
}

static int delete_many_op(feed_t *feed, feed_txn_t *t,
	const char *project, const char *queue,
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
	rc = feed__run(feed, t, delete_fn, &c, FEED__W_FREES);
	if (rc == 0 && deleted)
		*deleted = c.deleted;
	return rc;
}

int feed_delete_many(feed_t *feed, const char *project, const char *queue,
		     const char *const *ids, size_t n, uint64_t now_ms,
		     size_t *deleted)
{
	return delete_many_op(feed, NULL, project, queue, ids, n, now_ms, deleted);
}

int feed_delete_many_tx(feed_txn_t *txn, const char *project, const char *queue,
		     const char *const *ids, size_t n, uint64_t now_ms,
		     size_t *deleted)
{
	return delete_many_op(feed__txn_feed(txn), txn,
		project, queue, ids, n, now_ms, deleted);
}
