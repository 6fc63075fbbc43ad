/*
 * claim.c - claims, pop and purge: competing consumers of one queue.
 *
 * A claim is one record in `claims` plus an entry in `cexpiry` (formats and
 * upkeep in record.c). Its messages carry the claim id and expiry in their
 * own records, which is what makes a message claimed: a message is in a
 * live claim when its claim id is set and its claim expiry is in the
 * future, so an expired claim stops protecting its messages at once,
 * before anything releases it.
 *
 * Finding claimable messages (see "Claiming" in feed_internal.h), in this
 * order: expired claims of the queue are released (their messages go to
 * `avail`); then the queue's `avail` list (ready messages below the claim
 * cursor, oldest first); then `delayed` entries that are due by now,
 * earliest due first (the first one not due is the wake time); then the
 * log from the cursor on, stepping over delayed messages (they have their
 * entries) and messages a claim already took from `delayed` ahead of the
 * cursor. Expired messages met on the way are removed.
 *
 * Cost: every call is bounded, whatever the queue holds. Releasing stops
 * after RELEASE_MSGS messages (compaction releases the rest); the walks
 * stop once the call has touched WALK_BUDGET records (feed__touched, the
 * cost meter), and the cursor keeps the progress for the next call. A
 * call that stopped so says it (walk_ctx.stopped): a claim's wake_ms is
 * then now + 1, a purge says `more`.
 *
 * Dead letters (feed.h, feed_claim_opts_t): a claim's take checks each
 * message first; one whose claim_count reached the queue's maximum is
 * moved (move_msg: removed as consumed, appended to the dead-letter
 * queue's tail) instead of taken, and counts towards no limit, but its
 * records count against the walk's budget as any take's. Redrive is the
 * purge walk with that move as its take. Retry backoff is stored in the
 * claim (record.c) and applied wherever the claim's messages are let go.
 *
 * Map pointers: a key or value read from LMDB is valid only until the
 * next write of the transaction (LMDB may spill or move dirty pages).
 * Each walk step seeks afresh after its writes, copies what it needs out
 * of the key (seq, due time) at once, and hands the message body to the
 * take function before anything is written; each take function copies
 * the body before its first write. The comments at each step say how.
 */
#include <stdio.h>
#include <stdlib.h>
#include <uuid/uuid.h>

#include "feed_internal.h"

/* Messages of expired claims one call may release; at least a whole claim
 * of the caller's own size fits. */
#define RELEASE_MSGS(limit) (16 + (limit))
/* Records one call may touch walking for messages (takes included). */
#define WALK_BUDGET(limit) (256 + 16 * (uint64_t)(limit))

/* ------------------------------------------------------ claimable walk */

/*
 * What to do with a claimable message: the body is borrowed from the map
 * and valid only until the next write, so a take copies it (into the
 * result) before it writes anything.
 */
typedef int (*take_fn)(feed_t *feed, MDB_txn *txn, struct feed__queue *q,
		       uint64_t seq, struct feed__mrec *m, MDB_val *body,
		       void *ctx);

struct walk_ctx {
	uint64_t now_ms;
	size_t limit, taken;
	take_fn take;
	void *ctx;
	/* The take keeps the message (a claim): the walk takes it off the
	 * list it came from. Pops and purges remove it, entries and all. */
	bool keeps;
	uint64_t wake; /* earliest due time of a delayed message seen */
	uint64_t end;  /* feed__touched at which the walk stops */
	bool stopped;  /* stopped by a budget: more may be claimable */
};

/* Whether the walk's budget is spent (then it stops, and says so). */
static bool walk_spent(struct walk_ctx *w)
{
	if (feed__touched < w->end)
		return false;
	w->stopped = true;
	return true;
}

/* A take's answer that it moved the message away (a dead letter): the
 * message and its entries are gone, and it counts towards no limit. */
#define TAKE_MOVED 2

/* Counts what a take took; 0 or the take's error. */
static int took(struct walk_ctx *w, int rc)
{
	if (rc == TAKE_MOVED)
		return 0;
	w->taken += rc == 0;
	return rc;
}

/* Visits the claimable messages of `avail`, oldest first. */
static int walk_avail(feed_t *feed, MDB_txn *txn, struct feed__queue *q,
		      struct walk_ctx *w)
{
	uint64_t next = 0;
	int rc = 0;

	while (rc == 0 && w->taken < w->limit && !walk_spent(w)) {
		MDB_val key, val, body;
		struct feed__mrec m;
		uint64_t seq;

		/* A fresh seek each step: taking writes to `avail`; the seq
		 * is copied out of the key before anything is written. */
		rc = feed__first(txn, feed->avail, q->qid, next, &key, &val);
		if (rc)
			return rc == FEED_ENOTFOUND ? 0 : rc;
		seq = feed__get_be64((uint8_t *)key.mv_data + 8);
		next = seq + 1;
		rc = feed__msg_load(feed, txn, q->qid, seq, &m, &body);
		if (rc)
			return rc == FEED_ENOTFOUND ? FEED_ECORRUPT : rc;
		if (m.expires_ms <= w->now_ms) {
			rc = feed__msg_remove(feed, txn, q, seq, &m,
					      FEED__EXPIRED);
		} else if (m.due_ms > w->now_ms) {
			/* Only with a clock that went back: released messages
			 * were due when claimed. It stays listed. */
			feed__wake_min(&w->wake, m.due_ms);
		} else {
			/* Take first: body is valid until the first write. */
			rc = w->take(feed, txn, q, seq, &m, &body, w->ctx);
			if (rc == 0 && w->keeps)
				rc = feed__avail_set(feed, txn, q->qid, seq,
						     false);
			rc = took(w, rc);
		}
	}
	return rc;
}

/* Visits the `delayed` entries due by now, earliest first; the first one
 * not due yet is the wake time. */
static int walk_delayed(feed_t *feed, MDB_txn *txn, struct feed__queue *q,
			struct walk_ctx *w)
{
	int rc = 0;

	while (rc == 0 && w->taken < w->limit && !walk_spent(w)) {
		MDB_val key, val, body;
		struct feed__mrec m;
		uint64_t due, seq;

		/* The first entry of the queue, sought afresh after the
		 * writes of the last step; due and seq copied out at once. */
		rc = feed__first(txn, feed->delayed, q->qid, 0, &key, &val);
		if (rc)
			return rc == FEED_ENOTFOUND ? 0 : rc;
		if (key.mv_size != 24)
			return FEED_ECORRUPT;
		due = feed__get_be64((uint8_t *)key.mv_data + 8);
		seq = feed__get_be64((uint8_t *)key.mv_data + 16);
		if (due == FEED__BY_SEQ)
			return 0; /* only the by-seq half: none by due time */
		if (due > w->now_ms) {
			feed__wake_min(&w->wake, due);
			return 0;
		}
		rc = feed__msg_load(feed, txn, q->qid, seq, &m, &body);
		if (rc)
			return rc == FEED_ENOTFOUND ? FEED_ECORRUPT : rc;
		if (!feed__msg_delayed(&m) || !feed__zero16(m.claim_id))
			return FEED_ECORRUPT;
		if (m.expires_ms <= w->now_ms) {
			rc = feed__msg_remove(feed, txn, q, seq, &m,
					      FEED__EXPIRED);
			continue;
		}
		/* Take first: body is valid until the first write. A taken
		 * message is no longer delayed (claim_count > 0); the entries
		 * go by the due time copied out above. */
		rc = w->take(feed, txn, q, seq, &m, &body, w->ctx);
		if (rc == 0 && w->keeps)
			rc = feed__delayed_set(feed, txn, q->qid, due, seq,
					       false);
		rc = took(w, rc);
	}
	return rc;
}

/* Visits the messages from the claim cursor on, advancing it. */
static int walk_fresh(feed_t *feed, MDB_txn *txn, struct feed__queue *q,
		      struct walk_ctx *w)
{
	int rc = 0;

	while (rc == 0 && w->taken < w->limit && !walk_spent(w)) {
		MDB_val key, val, body;
		struct feed__mrec m;
		uint64_t seq;

		/* Sought afresh from the cursor after the last step's
		 * writes; seq and header copied out, body handed to the take
		 * before any write. */
		rc = feed__first(txn, feed->msgs, q->qid, q->rec.claim_cursor,
				 &key, &val);
		if (rc)
			return rc == FEED_ENOTFOUND ? 0 : rc;
		seq = feed__get_be64((uint8_t *)key.mv_data + 8);
		rc = feed__mrec_decode(&val, &m, &body);
		if (rc)
			return rc;
		/* Handle it as a message at or past the cursor, then move
		 * the cursor past it. A delayed one keeps its `delayed`
		 * entries; one a claim took from `delayed` ahead of the
		 * cursor is held by its claim or listed in `avail`: both
		 * are where the invariants want them once the cursor has
		 * passed. */
		if (m.expires_ms <= w->now_ms) {
			rc = feed__msg_remove(feed, txn, q, seq, &m,
					      FEED__EXPIRED);
		} else if (m.claim_count > 0 || feed__msg_delayed(&m)) {
			/* listed already, or held */
		} else if (m.due_ms > w->now_ms) {
			/* Not delayed, yet not due: only with a clock that
			 * went back. Listed as ready, for later. */
			feed__wake_min(&w->wake, m.due_ms);
			rc = feed__avail_set(feed, txn, q->qid, seq, true);
		} else {
			rc = w->take(feed, txn, q, seq, &m, &body, w->ctx);
			rc = took(w, rc);
		}
		q->rec.claim_cursor = seq + 1;
	}
	return rc;
}

struct release_ctx {
	struct feed__queue *q;
	size_t budget, left;
	bool more;
};

/*
 * Releases claim c if its messages fit in what is left to release. When
 * not, the next call may release it (more) - unless it is larger than a
 * call's whole budget: then only compaction will (and its commit wakes
 * the waiting claimers), so saying "more" would only make them spin.
 */
static int release_some(feed_t *feed, MDB_txn *txn, struct feed__claim *c,
			void *arg)
{
	struct release_ctx *r = arg;
	size_t cost = c->rec.n ? c->rec.n : 1;

	if (cost > r->left) {
		r->more = cost <= r->budget;
		return FEED__STOP;
	}
	r->left -= cost;
	return feed__claim_drop(feed, txn, r->q, c);
}

static int claimable_walk(feed_t *feed, MDB_txn *txn, struct feed__queue *q,
			  struct walk_ctx *w)
{
	struct release_ctx r = {q, RELEASE_MSGS(w->limit),
				RELEASE_MSGS(w->limit), false};
	int rc;

	w->end = feed__touched + WALK_BUDGET(w->limit);
	rc = feed__claims_expired(feed, txn, q->qid, w->now_ms, true,
				  release_some, &r);
	w->stopped = r.more;
	if (rc == 0)
		rc = walk_avail(feed, txn, q, w);
	if (rc == 0)
		rc = walk_delayed(feed, txn, q, w);
	if (rc == 0)
		rc = walk_fresh(feed, txn, q, w);
	return rc;
}

/* ---------------------------------------------------------------- moves */

/*
 * Moving messages to another queue of the project (dead letters,
 * redrive): the destination is opened (created if missing) at the first
 * move of a call and saved once at its end.
 */
struct mover {
	const char *project, *name;
	uint32_t ttl_s; /* 0: the lifetime the message has left */
	uint64_t now_ms;
	bool open;
	struct feed__queue q;
	size_t moved;
};

/*
 * Moves message seq of q (record m, body borrowed from the map) to the
 * tail of mv's queue as a new message: removed from q as consumed
 * (FEED__DELETED: no gap for q's readers, who never lose a message they
 * could still read - it was delivered, and lives on elsewhere), appended
 * with the same body and publisher. O(1) records.
 */
static int move_msg(feed_t *feed, MDB_txn *txn, struct feed__queue *q,
		    uint64_t seq, const struct feed__mrec *m,
		    const MDB_val *body, struct mover *mv)
{
	struct feed__mrec n = {
		.created_ms = mv->now_ms,
		.due_ms = mv->now_ms,
		.expires_ms = mv->ttl_s ? mv->now_ms + (uint64_t)mv->ttl_s * 1000
					: m->expires_ms,
	};
	MDB_val copy = {body->mv_size, NULL};
	uint64_t to;
	int rc = 0;

	memcpy(n.client_id, m->client_id, 16);
	/* Copy first: every write below may move what body points at. */
	if (copy.mv_size) {
		copy.mv_data = feed__malloc(copy.mv_size);
		if (!copy.mv_data)
			return FEED_ENOMEM;
		memcpy(copy.mv_data, body->mv_data, copy.mv_size);
	}
	if (!mv->open)
		rc = feed__queue_open(feed, txn, mv->project, mv->name, NULL, 0,
				      mv->now_ms, &mv->q, NULL);
	mv->open = rc == 0;
	if (rc == 0 && mv->q.qid == q->qid)
		rc = FEED_EINVAL; /* callers rule this out */
	if (rc == 0)
		rc = feed__msg_remove(feed, txn, q, seq, m, FEED__DELETED);
	if (rc == 0)
		rc = feed__msg_append(feed, txn, &mv->q, &n, &copy, &to);
	free(copy.mv_data);
	mv->moved += rc == 0;
	return rc;
}

/* -------------------------------------------------------------- create */

struct create_ctx {
	const char *project, *queue;
	uint32_t ttl_s, grace_s;
	size_t limit;
	uint64_t now_ms;
	struct feed__claim c;
	struct feed__msgbuf b;
	feed_claim_t *out;
	uint64_t wake;
	/* The caller's options as given, and as this run uses them. */
	const feed_claim_opts_t *given;
	feed_claim_opts_t o;
	struct mover dlq;
};

/* Whether message m is a dead letter to move rather than claim. */
static bool dead_letter(const struct create_ctx *cc,
			const struct feed__mrec *m)
{
	return cc->o.max_claims && cc->o.dlq[0] &&
	       m->claim_count >= cc->o.max_claims;
}

static int take_claim(feed_t *feed, MDB_txn *txn, struct feed__queue *q,
		      uint64_t seq, struct feed__mrec *m, MDB_val *body,
		      void *arg)
{
	struct create_ctx *cc = arg;
	uint64_t keep = cc->c.rec.expires_ms + (uint64_t)cc->grace_s * 1000;
	feed_msgs_t *out = cc->b.out;
	struct feed__mrec shown;
	MDB_val copy;
	int rc;

	if (dead_letter(cc, m)) {
		rc = move_msg(feed, txn, q, seq, m, body, &cc->dlq);
		return rc ? rc : TAKE_MOVED;
	}
	memcpy(m->claim_id, cc->c.id, 16);
	m->claim_expires_ms = cc->c.rec.expires_ms;
	m->claim_count++;
	m->flags &= ~(uint32_t)FEED__M_RETRY; /* taken: no longer delayed */
	/* Into the result before any write (body points into the map), as
	 * it will be once its lifetime is raised. */
	shown = *m;
	if (shown.expires_ms < keep)
		shown.expires_ms = keep;
	rc = feed__msgbuf_add(&cc->b, q->rec.generation, seq, &shown, body, cc->now_ms);
	if (rc == 0 && m->expires_ms < keep)
		rc = feed__msg_set_expiry(feed, txn, q, seq, m, keep);
	if (rc)
		return rc;
	/* The result's copy of the body is the source for the rewrite
	 * (body->mv_size is the caller's copy; only mv_data is the map's,
	 * and it is not read past the first write). */
	copy.mv_size = body->mv_size;
	copy.mv_data = copy.mv_size ? out->arena_ +
					      (uintptr_t)out->v[out->n - 1].body
				    : NULL;
	rc = feed__msg_store(feed, txn, q->qid, seq, m, &copy);
	if (rc)
		return rc;
	cc->c.seqs[cc->c.rec.n++] = seq;
	cc->c.rec.live++;
	q->rec.claimed++;
	return 0;
}

/* The options of this run: the caller's, filled from the queue's
 * metadata when asked (read in this transaction, before any write). */
static int create_opts(feed_t *feed, MDB_txn *txn, struct create_ctx *cc,
		       const struct feed__queue *q)
{
	MDB_val key = {q->key_len, (void *)q->key}, val;
	int rc;

	if (cc->given)
		cc->o = *cc->given;
	else
		memset(&cc->o, 0, sizeof(cc->o));
	if (cc->o.from_meta) {
		feed__touch();
		rc = mdb_get(txn, feed->names, &key, &val);
		if (rc)
			return rc == MDB_NOTFOUND ? FEED_ECORRUPT : feed__err(rc);
		if (val.mv_size < 8)
			return FEED_ECORRUPT;
		cc->o.from_meta(val.mv_size > 8 ? (uint8_t *)val.mv_data + 8
						: NULL,
				val.mv_size - 8, &cc->o, cc->o.arg);
	}
	cc->o.dlq[FEED_NAME_MAX] = '\0';
	/* A dead-letter queue that is the queue itself would loop. */
	if (strcmp(cc->o.dlq, cc->queue) == 0 ||
	    feed__name_check(cc->project, cc->o.dlq) != 0)
		cc->o.dlq[0] = '\0';
	cc->c.retry.delay_s = cc->o.retry_delay_s;
	cc->c.retry.delay_max_s = cc->o.retry_delay_max_s;
	cc->dlq = (struct mover){.project = cc->project, .name = cc->o.dlq,
				 .ttl_s = cc->o.dlq_ttl_s,
				 .now_ms = cc->now_ms};
	return 0;
}

static int create_fn(feed_t *feed, MDB_txn *txn, void *arg)
{
	struct create_ctx *cc = arg;
	struct walk_ctx w = {.now_ms = cc->now_ms, .limit = cc->limit,
			     .take = take_claim, .ctx = cc, .keeps = true};
	struct feed__queue q;
	uint64_t t;
	int rc;

	/* Start over: a retry after a map resize runs this again. */
	feed_msgs_free(cc->b.out);
	feed__msgbuf_init(&cc->b, cc->b.out);
	cc->c.rec.n = 0;
	cc->c.rec.live = 0;
	cc->wake = 0;
	cc->dlq.moved = 0;
	rc = feed__queue_find(feed, txn, cc->project, cc->queue, &q);
	if (rc)
		return rc == FEED_ENOQUEUE ? 0 : rc;
	rc = create_opts(feed, txn, cc, &q);
	if (rc == 0)
		rc = claimable_walk(feed, txn, &q, &w);
	/* Short, not stopped: nothing is claimable now; what time alone can
	 * free is the first delayed entry not due (w.wake) and the other
	 * claims (before this one is added). Stopped by the budget: more
	 * may be claimable now, by another call. */
	if (rc == 0 && w.taken < cc->limit && w.stopped) {
		cc->wake = cc->now_ms + 1;
	} else if (rc == 0 && w.taken < cc->limit) {
		rc = feed__claims_next_expiry(feed, txn, q.qid, cc->now_ms, &t);
		feed__wake_min(&w.wake, t);
		cc->wake = w.wake;
	}
	if (rc == 0 && w.taken) {
		rc = feed__claim_store(feed, txn, q.qid, &cc->c);
		if (rc == 0)
			rc = feed__claim_expiry_set(feed, txn, q.qid, &cc->c,
						    true);
		if (rc == 0)
			rc = feed__due_lower(feed, txn, &q,
					     cc->c.rec.expires_ms);
	}
	if (rc == 0 && cc->dlq.open)
		rc = feed__queue_save(feed, txn, &cc->dlq.q);
	return rc ? rc : feed__queue_save(feed, txn, &q);
}

static int claim_create_op(feed_t *feed, feed_txn_t *t, const char *project,
			   const char *queue, uint32_t ttl_s, uint32_t grace_s,
			   size_t limit, feed_claim_opts_t *opts,
			   uint64_t now_ms, feed_claim_t *out)
{
	struct create_ctx cc = {
		.project = project,
		.queue = queue,
		.ttl_s = ttl_s,
		.grace_s = grace_s,
		.limit = limit,
		.now_ms = now_ms,
		.out = out,
		.given = opts,
	};
	int rc = feed__name_check(project, queue);

	memset(out, 0, sizeof(*out));
	feed__msgbuf_init(&cc.b, &out->msgs);
	if (rc)
		return rc;
	if (ttl_s == 0 || limit == 0 || limit > UINT32_MAX)
		return FEED_EINVAL;
	cc.c.seqs = malloc(limit * sizeof(uint64_t));
	if (!cc.c.seqs)
		return FEED_ENOMEM;
	uuid_generate_random(cc.c.id);
	cc.c.rec.updated_ms = now_ms;
	cc.c.rec.expires_ms = now_ms + (uint64_t)ttl_s * 1000;
	cc.c.rec.ttl_s = ttl_s;
	cc.c.rec.grace_s = grace_s;
	rc = feed__run(feed, t, create_fn, &cc, 0);
	free(cc.c.seqs);
	if (rc) {
		feed_msgs_free(&out->msgs);
		return rc;
	}
	feed__msgbuf_finish(&cc.b);
	if (opts && opts->from_meta)
		*opts = cc.o;
	out->wake_ms = cc.wake;
	out->dead_lettered = cc.dlq.moved;
	if (out->msgs.n) {
		feed__claim_id_format(out->id, cc.c.id);
		out->updated_ms = cc.c.rec.updated_ms;
		out->expires_ms = cc.c.rec.expires_ms;
		out->ttl_s = ttl_s;
		out->grace_s = grace_s;
	}
	return 0;
}

int feed_claim_create(feed_t *feed, const char *project, const char *queue,
		      uint32_t ttl_s, uint32_t grace_s, size_t limit,
		      uint64_t now_ms, feed_claim_t *out)
{
	return claim_create_op(feed, NULL, project, queue, ttl_s, grace_s,
			       limit, NULL, now_ms, out);
}

int feed_claim_create_tx(feed_txn_t *txn, const char *project,
			 const char *queue, uint32_t ttl_s, uint32_t grace_s,
			 size_t limit, uint64_t now_ms, feed_claim_t *out)
{
	return claim_create_op(feed__txn_feed(txn), txn, project, queue, ttl_s,
			       grace_s, limit, NULL, now_ms, out);
}

int feed_claim_create2(feed_t *feed, const char *project, const char *queue,
		       uint32_t ttl_s, uint32_t grace_s, size_t limit,
		       feed_claim_opts_t *opts, uint64_t now_ms,
		       feed_claim_t *out)
{
	return claim_create_op(feed, NULL, project, queue, ttl_s, grace_s,
			       limit, opts, now_ms, out);
}

int feed_claim_create2_tx(feed_txn_t *txn, const char *project,
			  const char *queue, uint32_t ttl_s, uint32_t grace_s,
			  size_t limit, feed_claim_opts_t *opts,
			  uint64_t now_ms, feed_claim_t *out)
{
	return claim_create_op(feed__txn_feed(txn), txn, project, queue, ttl_s,
			       grace_s, limit, opts, now_ms, out);
}

/* ----------------------------------------------------------------- get */

struct get_ctx {
	struct feed__msgbuf *b;
	uint64_t gen, now_ms; /* gen: in the ids */
};

static int get_one(feed_t *feed, MDB_txn *txn, uint64_t seq,
		   struct feed__mrec *m, MDB_val *body, void *arg)
{
	struct get_ctx *g = arg;

	(void)feed;
	(void)txn;
	return feed__msgbuf_add(g->b, g->gen, seq, m, body, g->now_ms);
}

int feed_claim_get(feed_t *feed, const char *project, const char *queue,
		   const char *claim_id, uint64_t now_ms, feed_claim_t *out)
{
	struct feed__msgbuf b;
	struct feed__queue q;
	struct feed__claim c = {.seqs = NULL};
	uint8_t id[16];
	MDB_txn *txn;
	int rc = feed__name_check(project, queue);

	memset(out, 0, sizeof(*out));
	feed__msgbuf_init(&b, &out->msgs);
	if (rc)
		return rc;
	if (feed_claim_id_parse(claim_id, id))
		return FEED_ENOCLAIM;
	rc = feed__read_begin(feed, &txn);
	if (rc)
		return rc;
	rc = feed__queue_find(feed, txn, project, queue, &q);
	if (rc == 0)
		rc = feed__claim_load(feed, txn, q.qid, id, &c);
	if (rc == 0 && c.rec.expires_ms <= now_ms)
		rc = FEED_ENOCLAIM;
	if (rc == 0) {
		struct get_ctx g = {&b, q.rec.generation, now_ms};

		rc = feed__claim_each(feed, txn, q.qid, &c, get_one, &g);
	}
	feed__read_end(feed, txn);
	free(c.seqs);
	feed__msgbuf_finish(&b);
	if (rc) {
		feed_msgs_free(&out->msgs);
		return rc == FEED_ENOQUEUE ? FEED_ENOCLAIM : rc;
	}
	feed__claim_id_format(out->id, id);
	out->updated_ms = c.rec.updated_ms;
	out->expires_ms = c.rec.expires_ms;
	out->ttl_s = c.rec.ttl_s;
	out->grace_s = c.rec.grace_s;
	return 0;
}

/* ------------------------------------------------------ renew, release */

struct claim_ctx {
	const char *project, *queue;
	uint8_t id[16];
	uint32_t ttl_s, grace_s;
	uint64_t now_ms;
	uint64_t delay_ms; /* release: FEED__BACKOFF or a delay */
};

struct renew_msg {
	struct feed__queue *q;
	uint64_t expires_ms, keep_ms;
};

/* A message of a renewed claim: the new claim expiry, the lifetime. The
 * body is the map's (feed__claim_each loads each message afresh, after
 * the writes for the one before): feed__msg_rewrite copies it before its
 * first write. The claim's seqs are a malloc'd copy, so renew_fn's writes
 * to the claim's records cannot move them. */
static int renew_one(feed_t *feed, MDB_txn *txn, uint64_t seq,
		     struct feed__mrec *m, MDB_val *body, void *arg)
{
	struct renew_msg *r = arg;

	m->claim_expires_ms = r->expires_ms;
	return feed__msg_rewrite(feed, txn, r->q, seq, m, body, r->keep_ms);
}

static int renew_fn(feed_t *feed, MDB_txn *txn, void *arg)
{
	struct claim_ctx *cc = arg;
	struct feed__queue q;
	struct feed__claim c = {.seqs = NULL};
	uint64_t expires, keep;
	int rc = feed__queue_find(feed, txn, cc->project, cc->queue, &q);

	if (rc)
		return rc == FEED_ENOQUEUE ? FEED_ENOCLAIM : rc;
	rc = feed__claim_load(feed, txn, q.qid, cc->id, &c);
	if (rc == 0 && c.rec.expires_ms <= cc->now_ms)
		rc = FEED_ENOCLAIM;
	if (rc)
		goto out;
	expires = cc->now_ms + (uint64_t)cc->ttl_s * 1000;
	keep = expires + (uint64_t)cc->grace_s * 1000;
	rc = feed__claim_expiry_set(feed, txn, q.qid, &c, false);
	if (rc == 0) {
		struct renew_msg r = {&q, expires, keep};

		rc = feed__claim_each(feed, txn, q.qid, &c, renew_one, &r);
	}
	if (rc)
		goto out;
	c.rec.updated_ms = cc->now_ms;
	c.rec.expires_ms = expires;
	c.rec.ttl_s = cc->ttl_s;
	c.rec.grace_s = cc->grace_s;
	rc = feed__claim_store(feed, txn, q.qid, &c);
	if (rc == 0)
		rc = feed__claim_expiry_set(feed, txn, q.qid, &c, true);
	if (rc == 0)
		rc = feed__due_lower(feed, txn, &q, expires);
	if (rc == 0)
		rc = feed__queue_save(feed, txn, &q);
out:
	free(c.seqs);
	return rc;
}

static int claim_renew_op(feed_t *feed, feed_txn_t *t,
	const char *project, const char *queue,
		     const char *claim_id, uint32_t ttl_s, uint32_t grace_s,
		     uint64_t now_ms)
{
	struct claim_ctx cc = {project, queue, {0}, ttl_s, grace_s, now_ms, 0};
	int rc = feed__name_check(project, queue);

	if (rc)
		return rc;
	if (ttl_s == 0)
		return FEED_EINVAL;
	if (feed_claim_id_parse(claim_id, cc.id))
		return FEED_ENOCLAIM;
	return feed__run(feed, t, renew_fn, &cc, 0);
}

int feed_claim_renew(feed_t *feed, const char *project, const char *queue,
		     const char *claim_id, uint32_t ttl_s, uint32_t grace_s,
		     uint64_t now_ms)
{
	return claim_renew_op(feed, NULL, project, queue, claim_id, ttl_s, grace_s, now_ms);
}

int feed_claim_renew_tx(feed_txn_t *txn, const char *project, const char *queue,
		     const char *claim_id, uint32_t ttl_s, uint32_t grace_s,
		     uint64_t now_ms)
{
	return claim_renew_op(feed__txn_feed(txn), txn,
		project, queue, claim_id, ttl_s, grace_s, now_ms);
}

static int release_fn(feed_t *feed, MDB_txn *txn, void *arg)
{
	struct claim_ctx *cc = arg;
	struct feed__queue q;
	struct feed__claim c = {.seqs = NULL};
	int rc = feed__queue_find(feed, txn, cc->project, cc->queue, &q);

	if (rc)
		return rc == FEED_ENOQUEUE ? 0 : rc;
	rc = feed__claim_load(feed, txn, q.qid, cc->id, &c);
	/* Let go now - or when it expired, if that was earlier. */
	if (rc == 0)
		rc = feed__claim_let_go(feed, txn, &q, &c,
					c.rec.expires_ms < cc->now_ms
						? c.rec.expires_ms
						: cc->now_ms,
					cc->delay_ms);
	if (rc == 0)
		rc = feed__queue_save(feed, txn, &q);
	free(c.seqs);
	return rc == FEED_ENOCLAIM ? 0 : rc;
}

static int claim_release_op(feed_t *feed, feed_txn_t *t, const char *project,
			    const char *queue, const char *claim_id,
			    uint32_t delay_s, uint64_t now_ms)
{
	struct claim_ctx cc = {project, queue, {0}, 0, 0, now_ms,
			       delay_s == FEED_RELEASE_BACKOFF
				       ? FEED__BACKOFF
				       : (uint64_t)delay_s * 1000};
	int rc = feed__name_check(project, queue);

	if (rc)
		return rc;
	if (feed_claim_id_parse(claim_id, cc.id))
		return 0; /* no such claim: nothing to release */
	return feed__run(feed, t, release_fn, &cc, FEED__W_FREES);
}

int feed_claim_release(feed_t *feed, const char *project, const char *queue,
		       const char *claim_id, uint64_t now_ms)
{
	return claim_release_op(feed, NULL, project, queue, claim_id,
				FEED_RELEASE_BACKOFF, now_ms);
}

int feed_claim_release2(feed_t *feed, const char *project, const char *queue,
			const char *claim_id, uint32_t delay_s,
			uint64_t now_ms)
{
	return claim_release_op(feed, NULL, project, queue, claim_id, delay_s,
				now_ms);
}

int feed_claim_release2_tx(feed_txn_t *txn, const char *project,
			   const char *queue, const char *claim_id,
			   uint32_t delay_s, uint64_t now_ms)
{
	return claim_release_op(feed__txn_feed(txn), txn, project, queue,
				claim_id, delay_s, now_ms);
}

int feed_claim_release_tx(feed_txn_t *txn, const char *project, const char *queue,
		       const char *claim_id, uint64_t now_ms)
{
	return claim_release_op(feed__txn_feed(txn), txn, project, queue,
				claim_id, FEED_RELEASE_BACKOFF, now_ms);
}

/* ----------------------------------------------------------------- pop */

struct pop_ctx {
	const char *project, *queue;
	size_t limit;
	uint64_t now_ms;
	struct feed__msgbuf b;
};

static int take_pop(feed_t *feed, MDB_txn *txn, struct feed__queue *q,
		    uint64_t seq, struct feed__mrec *m, MDB_val *body,
		    void *arg)
{
	struct pop_ctx *pc = arg;
	/* The body is copied into the result before the removal writes. */
	int rc = feed__msgbuf_add(&pc->b, q->rec.generation, seq, m, body, pc->now_ms);

	return rc ? rc : feed__msg_remove(feed, txn, q, seq, m, FEED__DELETED);
}

static int pop_fn(feed_t *feed, MDB_txn *txn, void *arg)
{
	struct pop_ctx *pc = arg;
	struct walk_ctx w = {.now_ms = pc->now_ms, .limit = pc->limit,
			     .take = take_pop, .ctx = pc};
	struct feed__queue q;
	int rc;

	feed_msgs_free(pc->b.out);
	feed__msgbuf_init(&pc->b, pc->b.out);
	rc = feed__queue_find(feed, txn, pc->project, pc->queue, &q);
	if (rc)
		return rc == FEED_ENOQUEUE ? 0 : rc;
	rc = claimable_walk(feed, txn, &q, &w);
	return rc ? rc : feed__queue_save(feed, txn, &q);
}

static int pop_op(feed_t *feed, feed_txn_t *t,
	const char *project, const char *queue,
	     size_t limit, uint64_t now_ms, feed_msgs_t *out)
{
	struct pop_ctx pc = {project, queue, limit, now_ms, {0}};
	int rc = feed__name_check(project, queue);

	feed__msgbuf_init(&pc.b, out);
	if (rc)
		return rc;
	if (limit == 0)
		return FEED_EINVAL;
	rc = feed__run(feed, t, pop_fn, &pc, FEED__W_FREES);
	if (rc) {
		feed_msgs_free(out);
		return rc;
	}
	feed__msgbuf_finish(&pc.b);
	return 0;
}

int feed_pop(feed_t *feed, const char *project, const char *queue,
	     size_t limit, uint64_t now_ms, feed_msgs_t *out)
{
	return pop_op(feed, NULL, project, queue, limit, now_ms, out);
}

int feed_pop_tx(feed_txn_t *txn, const char *project, const char *queue,
	     size_t limit, uint64_t now_ms, feed_msgs_t *out)
{
	return pop_op(feed__txn_feed(txn), txn,
		project, queue, limit, now_ms, out);
}

/* --------------------------------------------------------------- purge */

struct purge_ctx {
	const char *project, *queue;
	size_t budget;
	uint64_t now_ms;
	size_t purged;
	bool stopped; /* the walk's own budget ran out first */
};

static int take_purge(feed_t *feed, MDB_txn *txn, struct feed__queue *q,
		      uint64_t seq, struct feed__mrec *m, MDB_val *body,
		      void *arg)
{
	(void)body;
	(void)arg;
	return feed__msg_remove(feed, txn, q, seq, m, FEED__PURGED);
}

static int purge_fn(feed_t *feed, MDB_txn *txn, void *arg)
{
	struct purge_ctx *pc = arg;
	struct walk_ctx w = {.now_ms = pc->now_ms, .limit = pc->budget,
			     .take = take_purge, .ctx = pc};
	struct feed__queue q;
	int rc;

	pc->purged = 0;
	pc->stopped = false;
	rc = feed__queue_find(feed, txn, pc->project, pc->queue, &q);
	if (rc)
		return rc == FEED_ENOQUEUE ? 0 : rc;
	rc = claimable_walk(feed, txn, &q, &w);
	pc->purged = w.taken;
	pc->stopped = w.stopped;
	return rc ? rc : feed__queue_save(feed, txn, &q);
}

static int queue_purge_op(feed_t *feed, feed_txn_t *t,
	const char *project, const char *queue,
		     size_t budget, uint64_t now_ms, size_t *purged,
		     bool *more)
{
	struct purge_ctx pc = {project, queue, budget, now_ms, 0, false};
	int rc = feed__name_check(project, queue);

	if (purged)
		*purged = 0;
	if (more)
		*more = false;
	if (rc)
		return rc;
	if (budget == 0)
		return FEED_EINVAL;
	rc = feed__run(feed, t, purge_fn, &pc, FEED__W_FREES);
	if (rc)
		return rc;
	if (purged)
		*purged = pc.purged;
	if (more)
		*more = pc.purged == budget || pc.stopped;
	return 0;
}

int feed_queue_purge(feed_t *feed, const char *project, const char *queue,
		     size_t budget, uint64_t now_ms, size_t *purged,
		     bool *more)
{
	return queue_purge_op(feed, NULL, project, queue, budget, now_ms, purged, more);
}

int feed_queue_purge_tx(feed_txn_t *txn, const char *project, const char *queue,
		     size_t budget, uint64_t now_ms, size_t *purged,
		     bool *more)
{
	return queue_purge_op(feed__txn_feed(txn), txn,
		project, queue, budget, now_ms, purged, more);
}

/* ------------------------------------------------------------- redrive */

struct redrive_ctx {
	const char *project, *from;
	size_t budget;
	struct mover mv;
	bool stopped;
};

static int take_redrive(feed_t *feed, MDB_txn *txn, struct feed__queue *q,
			uint64_t seq, struct feed__mrec *m, MDB_val *body,
			void *arg)
{
	struct redrive_ctx *rc = arg;

	return move_msg(feed, txn, q, seq, m, body, &rc->mv);
}

static int redrive_fn(feed_t *feed, MDB_txn *txn, void *arg)
{
	struct redrive_ctx *rd = arg;
	struct walk_ctx w = {.now_ms = rd->mv.now_ms, .limit = rd->budget,
			     .take = take_redrive, .ctx = rd};
	struct feed__queue q;
	int rc;

	rd->mv.open = false;
	rd->mv.moved = 0;
	rd->stopped = false;
	rc = feed__queue_find(feed, txn, rd->project, rd->from, &q);
	if (rc)
		return rc == FEED_ENOQUEUE ? 0 : rc;
	rc = claimable_walk(feed, txn, &q, &w);
	rd->stopped = w.stopped;
	if (rc == 0 && rd->mv.open)
		rc = feed__queue_save(feed, txn, &rd->mv.q);
	return rc ? rc : feed__queue_save(feed, txn, &q);
}

static int redrive_op(feed_t *feed, feed_txn_t *t, const char *project,
		      const char *from, const char *to, size_t budget,
		      uint64_t now_ms, size_t *moved, bool *more)
{
	struct redrive_ctx rd = {.project = project, .from = from,
				 .budget = budget,
				 .mv = {.project = project, .name = to,
					.now_ms = now_ms}};
	int rc = feed__name_check(project, from);

	if (moved)
		*moved = 0;
	if (more)
		*more = false;
	if (rc == 0)
		rc = feed__name_check(project, to);
	if (rc)
		return rc;
	if (budget == 0)
		return FEED_EINVAL;
	if (strcmp(from, to) == 0)
		return 0;
	rc = feed__run(feed, t, redrive_fn, &rd, 0);
	if (rc)
		return rc;
	if (moved)
		*moved = rd.mv.moved;
	if (more)
		*more = rd.mv.moved == budget || rd.stopped;
	return 0;
}

int feed_queue_redrive(feed_t *feed, const char *project, const char *from,
		       const char *to, size_t budget, uint64_t now_ms,
		       size_t *moved, bool *more)
{
	return redrive_op(feed, NULL, project, from, to, budget, now_ms, moved,
			  more);
}

int feed_queue_redrive_tx(feed_txn_t *txn, const char *project,
			  const char *from, const char *to, size_t budget,
			  uint64_t now_ms, size_t *moved, bool *more)
{
	return redrive_op(feed__txn_feed(txn), txn, project, from, to, budget,
			  now_ms, moved, more);
}

/* ------------------------------------------------------------- upgrade */

/* Lists message seq (record m) in `delayed` if it was appended with a
 * delay and is not claimed; *moved says whether it is. */
static int upgrade_one(feed_t *feed, MDB_txn *txn, uint64_t qid, uint64_t seq,
		       const struct feed__mrec *m, bool *moved)
{
	*moved = feed__zero16(m->claim_id) && feed__msg_delayed(m);
	return *moved ? feed__delayed_set(feed, txn, qid, m->due_ms, seq, true)
		      : 0;
}

int feed__claims_upgrade(feed_t *feed, MDB_txn *txn, struct feed__queue *q)
{
	uint64_t next = 0;
	bool moved = false;
	int rc;

	/* Below the cursor, format 1 parked delayed messages in `avail`.
	 * Keys are copied out (seq) before each write; each step seeks
	 * afresh. */
	for (;;) {
		MDB_val key, val;
		struct feed__mrec m;
		uint64_t seq;

		rc = feed__first(txn, feed->avail, q->qid, next, &key, &val);
		if (rc)
			break;
		seq = feed__get_be64((uint8_t *)key.mv_data + 8);
		next = seq + 1;
		moved = false;
		rc = feed__msg_load(feed, txn, q->qid, seq, &m, NULL);
		if (rc == FEED_ENOTFOUND) /* an entry without its message */
			rc = feed__avail_set(feed, txn, q->qid, seq, false);
		else if (rc == 0)
			rc = upgrade_one(feed, txn, q->qid, seq, &m, &moved);
		if (rc == 0 && moved)
			rc = feed__avail_set(feed, txn, q->qid, seq, false);
		if (rc)
			return rc;
	}
	if (rc != FEED_ENOTFOUND)
		return rc;
	/* At and after it, format 1 listed nothing. */
	next = q->rec.claim_cursor;
	for (;;) {
		MDB_val key, val;
		struct feed__mrec m;
		uint64_t seq;

		rc = feed__first(txn, feed->msgs, q->qid, next, &key, &val);
		if (rc)
			break;
		seq = feed__get_be64((uint8_t *)key.mv_data + 8);
		next = seq + 1;
		rc = feed__mrec_decode(&val, &m, NULL);
		if (rc == 0)
			rc = upgrade_one(feed, txn, q->qid, seq, &m, &moved);
		if (rc)
			return rc;
	}
	return rc == FEED_ENOTFOUND ? 0 : rc;
}
