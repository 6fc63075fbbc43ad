/*
 * sub.c - subscriptions: a queue's webhook subscribers, each a record
 * with a marker into the queue's log (feed.h, "subscriptions").
 *
 * Three databases, all keyed by the queue's generation first, so a
 * dropped queue's subscriptions are reclaimed by compaction with the rest
 * of its records, and a live queue's are found by a seek:
 *
 *   subs      qid | sid (16)                  struct feed__srec | uri | options
 *   sexpiry   qid | expires_ms | sid          (empty)
 *   suri      qid | hash64(uri) | sid         (empty)
 *
 * Per queue: subs qid | sid  <=>  sexpiry qid | srec.expires_ms | sid  and
 * suri qid | hash(uri) | sid. `suri` finds the subscription of a URI in
 * O(log n) (URIs are too long for keys; a hash collision costs one more
 * record read, the URIs themselves are compared). The queue's due time
 * (feed__due_lower) is no later than its first `sexpiry` entry, so
 * compaction removes a subscription once its ttl passed (compact.c); until
 * then every call here treats it as gone already.
 */
#include <stdlib.h>
#include <uuid/uuid.h>

#include "feed_internal.h"

enum {
	FEED__S_CONFIRMED = 1u << 0,
};

struct feed__srec {
	uint64_t created_ms;
	uint64_t expires_ms;
	uint64_t marker_seq; /* the last seq handed to the subscriber */
	uint64_t uri_hash;
	uint64_t ttl_s;
	uint32_t flags; /* FEED__S_* */
	uint32_t uri_len;
	uint32_t opt_len; /* uri then options follow, no NULs */
	uint32_t unused;
};

/* A subscription read from `subs`: its record and where its bytes are
 * (in the map: valid until the next write of the transaction). */
struct sub {
	uint8_t sid[16];
	struct feed__srec rec;
	const char *uri;
	const char *opt;
};

/* ---------------------------------------------------------------- keys */

static uint64_t uri_hash(const char *s, size_t len)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325); /* FNV-1a */

	for (size_t i = 0; i < len; i++) {
		h ^= (uint8_t)s[i];
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

/* qid | sid, the key of `subs`. */
static void sub_key(uint8_t k[24], uint64_t qid, const uint8_t sid[16])
{
	feed__be64(k, qid);
	memcpy(k + 8, sid, 16);
}

/* qid | t | sid: the keys of `sexpiry` (t = expiry) and `suri` (hash). */
static int index_set(MDB_txn *txn, MDB_dbi dbi, uint64_t qid, uint64_t t,
		     const uint8_t sid[16], bool on)
{
	uint8_t k[32];

	feed__be64(k, qid);
	feed__be64(k + 8, t);
	memcpy(k + 16, sid, 16);
	return feed__index_set(txn, dbi, k, sizeof(k), on);
}

static int decode(const MDB_val *key, const MDB_val *val, struct sub *s)
{
	if (key->mv_size != 24 || val->mv_size < sizeof(s->rec))
		return FEED_ECORRUPT;
	memcpy(s->sid, (const uint8_t *)key->mv_data + 8, 16);
	memcpy(&s->rec, val->mv_data, sizeof(s->rec));
	if (val->mv_size != sizeof(s->rec) + (size_t)s->rec.uri_len +
				    s->rec.opt_len)
		return FEED_ECORRUPT;
	s->uri = (const char *)val->mv_data + sizeof(s->rec);
	s->opt = s->uri + s->rec.uri_len;
	return 0;
}

static int sub_load(feed_t *feed, MDB_txn *txn, uint64_t qid,
		    const uint8_t sid[16], struct sub *s)
{
	uint8_t k[24];
	MDB_val key = {sizeof(k), k}, val;
	int rc;

	sub_key(k, qid, sid);
	feed__touch();
	rc = mdb_get(txn, feed->subs, &key, &val);
	if (rc == MDB_NOTFOUND)
		return FEED_ENOTFOUND;
	return rc ? feed__err(rc) : decode(&key, &val, s);
}

/* Writes s's record with these bytes (which may point into the map: the
 * value is assembled before the put). */
static int sub_put(feed_t *feed, MDB_txn *txn, uint64_t qid,
		   const struct sub *s)
{
	size_t len = sizeof(s->rec) + (size_t)s->rec.uri_len + s->rec.opt_len;
	uint8_t k[24], *buf = feed__malloc(len);
	MDB_val key = {sizeof(k), k}, val = {len, buf};
	int rc;

	if (!buf)
		return FEED_ENOMEM;
	memcpy(buf, &s->rec, sizeof(s->rec));
	memcpy(buf + sizeof(s->rec), s->uri, s->rec.uri_len);
	memcpy(buf + sizeof(s->rec) + s->rec.uri_len, s->opt, s->rec.opt_len);
	sub_key(k, qid, s->sid);
	feed__touch();
	rc = feed__err(mdb_put(txn, feed->subs, &key, &val, 0));
	free(buf);
	return rc;
}

/* Puts (on) or deletes both index entries of s. */
static int sub_index(feed_t *feed, MDB_txn *txn, uint64_t qid,
		     const struct sub *s, bool on)
{
	int rc = index_set(txn, feed->sexpiry, qid, s->rec.expires_ms, s->sid,
			   on);

	return rc ? rc : index_set(txn, feed->suri, qid, s->rec.uri_hash,
				   s->sid, on);
}

static int sub_remove(feed_t *feed, MDB_txn *txn, uint64_t qid,
		      const struct sub *s)
{
	uint8_t k[24];
	MDB_val key = {sizeof(k), k};
	int rc = sub_index(feed, txn, qid, s, false);

	sub_key(k, qid, s->sid);
	feed__touch();
	return rc ? rc : feed__err(mdb_del(txn, feed->subs, &key, NULL));
}

/*
 * The live subscription of `uri` other than `except` (NULL: any):
 * FEED_ENOTFOUND when none. Walks the URI's hash entries (one, but for a
 * collision) and compares the URIs.
 */
static int find_uri(feed_t *feed, MDB_txn *txn, uint64_t qid,
		    const char *uri, size_t len, uint64_t now_ms,
		    const uint8_t *except, struct sub *s)
{
	uint64_t h = uri_hash(uri, len);
	uint8_t k[16];
	MDB_cursor *cur;
	MDB_val key, val;
	int rc = feed__err(mdb_cursor_open(txn, feed->suri, &cur));

	if (rc)
		return rc;
	feed__be64(k, qid);
	feed__be64(k + 8, h);
	for (rc = feed__seek_key(cur, qid, k, 16, &key, &val); rc == 0;
	     rc = feed__step(cur, qid, &key, &val)) {
		const uint8_t *kb = key.mv_data;

		if (key.mv_size != 32)
			rc = FEED_ECORRUPT;
		if (rc || feed__get_be64(kb + 8) != h)
			break;
		if (except && memcmp(kb + 16, except, 16) == 0)
			continue;
		rc = sub_load(feed, txn, qid, kb + 16, s);
		if (rc == FEED_ENOTFOUND)
			rc = FEED_ECORRUPT;
		if (rc)
			break;
		if (s->rec.expires_ms > now_ms && s->rec.uri_len == len &&
		    memcmp(s->uri, uri, len) == 0)
			break;
	}
	mdb_cursor_close(cur);
	if (rc == 0 && (key.mv_size != 32 ||
			feed__get_be64((const uint8_t *)key.mv_data + 8) != h))
		rc = FEED_ENOTFOUND;
	return rc;
}

static int id_parse(const char *id, uint8_t sid[16])
{
	return id && feed_claim_id_parse(id, sid) == 0 ? 0 : FEED_ENOTFOUND;
}

/* The live subscription `id` of a live queue. */
static int find_live(feed_t *feed, MDB_txn *txn, const char *project,
		     const char *queue, const char *id, uint64_t now_ms,
		     struct feed__queue *q, struct sub *s)
{
	uint8_t sid[16];
	int rc = id_parse(id, sid);

	if (rc == 0)
		rc = feed__queue_find(feed, txn, project, queue, q);
	if (rc == FEED_ENOQUEUE)
		rc = FEED_ENOTFOUND;
	if (rc == 0)
		rc = sub_load(feed, txn, q->qid, sid, s);
	if (rc == 0 && s->rec.expires_ms <= now_ms)
		rc = FEED_ENOTFOUND;
	return rc;
}

/* -------------------------------------------------------------- writes */

struct sub_ctx {
	const char *project, *queue, *id;
	const feed_sub_in_t *in;
	uint64_t now_ms;
	bool flag, restart;     /* confirm's value; restart the marker */
	const char *marker;
	char *id_out;
	bool *existed;
	size_t *n;
};

static int options_check(feed_t *feed, const feed_sub_in_t *in)
{
	if (in->subscriber && strlen(in->subscriber) > FEED_SUB_URI_MAX)
		return FEED_ETOOBIG;
	if (in->options && strlen(in->options) > feed->max_metadata)
		return FEED_ETOOBIG;
	return 0;
}

/* Sets what in gives on s (bytes borrowed from in), a new ttl from now. */
static void sub_apply(struct sub *s, const feed_sub_in_t *in, uint64_t now_ms)
{
	if (in->subscriber) {
		s->uri = in->subscriber;
		s->rec.uri_len = (uint32_t)strlen(in->subscriber);
		s->rec.uri_hash = uri_hash(s->uri, s->rec.uri_len);
	}
	if (in->options) {
		s->opt = in->options;
		s->rec.opt_len = (uint32_t)strlen(in->options);
	}
	if (in->ttl_s) {
		s->rec.ttl_s = in->ttl_s;
		s->rec.created_ms = now_ms;
		s->rec.expires_ms = in->ttl_s > (UINT64_MAX - now_ms) / 1000
					    ? UINT64_MAX - 1
					    : now_ms + in->ttl_s * 1000;
	}
}

/* Puts s with its index entries and lowers the queue's due time to its
 * expiry. */
static int sub_store(feed_t *feed, MDB_txn *txn, struct feed__queue *q,
		     const struct sub *s)
{
	int rc = sub_put(feed, txn, q->qid, s);

	if (rc == 0)
		rc = sub_index(feed, txn, q->qid, s, true);
	if (rc == 0)
		rc = feed__due_lower(feed, txn, q, s->rec.expires_ms);
	return rc ? rc : feed__queue_save(feed, txn, q);
}

static int create_fn(feed_t *feed, MDB_txn *txn, void *arg)
{
	struct sub_ctx *c = arg;
	struct feed__queue q;
	struct sub s;
	int rc = feed__queue_open(feed, txn, c->project, c->queue, NULL, 0,
				  c->now_ms, &q, NULL);

	if (rc == 0)
		rc = find_uri(feed, txn, q.qid, c->in->subscriber,
			      strlen(c->in->subscriber), c->now_ms, NULL, &s);
	if (rc == 0) {
		feed__claim_id_format(c->id_out, s.sid);
		*c->existed = true;
		return s.rec.flags & FEED__S_CONFIRMED ? FEED_EEXISTS : 0;
	}
	if (rc != FEED_ENOTFOUND)
		return rc;
	memset(&s, 0, sizeof(s));
	uuid_generate_random(s.sid);
	s.opt = "{}";
	s.rec.opt_len = 2;
	sub_apply(&s, c->in, c->now_ms);
	s.rec.marker_seq = q.rec.next_seq - 1;
	rc = sub_store(feed, txn, &q, &s);
	if (rc == 0)
		feed__claim_id_format(c->id_out, s.sid);
	return rc;
}

int feed_sub_create_tx(feed_txn_t *txn, const char *project,
		       const char *queue, const feed_sub_in_t *in,
		       uint64_t now_ms, char id[FEED_SUB_ID_LEN + 1],
		       bool *existed)
{
	feed_t *feed = feed__txn_feed(txn);
	struct sub_ctx c = {.project = project, .queue = queue, .in = in,
			    .now_ms = now_ms, .id_out = id, .existed = existed};
	int rc = feed__name_check(project, queue);

	id[0] = '\0';
	*existed = false;
	if (rc == 0 && (!in->subscriber || !in->ttl_s))
		rc = FEED_EINVAL;
	if (rc == 0)
		rc = options_check(feed, in);
	return rc ? rc : feed__run(feed, txn, create_fn, &c, 0);
}

static int update_fn(feed_t *feed, MDB_txn *txn, void *arg)
{
	struct sub_ctx *c = arg;
	struct feed__queue q;
	struct sub s, other;
	int rc = find_live(feed, txn, c->project, c->queue, c->id, c->now_ms,
			   &q, &s);

	if (rc == 0 && c->in->subscriber) {
		rc = find_uri(feed, txn, q.qid, c->in->subscriber,
			      strlen(c->in->subscriber), c->now_ms, s.sid,
			      &other);
		if (rc == 0)
			return FEED_EEXISTS;
		if (rc == FEED_ENOTFOUND)
			rc = 0;
	}
	if (rc == 0)
		rc = sub_index(feed, txn, q.qid, &s, false);
	if (rc)
		return rc;
	/* The index writes may have moved the map's pages: read again. */
	rc = sub_load(feed, txn, q.qid, s.sid, &s);
	if (rc == 0) {
		sub_apply(&s, c->in, c->now_ms);
		rc = sub_store(feed, txn, &q, &s);
	}
	return rc;
}

int feed_sub_update_tx(feed_txn_t *txn, const char *project,
		       const char *queue, const char *id,
		       const feed_sub_in_t *in, uint64_t now_ms)
{
	feed_t *feed = feed__txn_feed(txn);
	struct sub_ctx c = {.project = project, .queue = queue, .id = id,
			    .in = in, .now_ms = now_ms};
	int rc = feed__name_check(project, queue);

	if (rc == 0)
		rc = options_check(feed, in);
	return rc ? rc : feed__run(feed, txn, update_fn, &c, 0);
}

static int delete_fn(feed_t *feed, MDB_txn *txn, void *arg)
{
	struct sub_ctx *c = arg;
	struct feed__queue q;
	struct sub s;
	/* An expired one goes too: it is gone for callers already. */
	int rc = find_live(feed, txn, c->project, c->queue, c->id, 0, &q, &s);

	if (rc == FEED_ENOTFOUND)
		return 0;
	return rc ? rc : sub_remove(feed, txn, q.qid, &s);
}

int feed_sub_delete_tx(feed_txn_t *txn, const char *project,
		       const char *queue, const char *id)
{
	struct sub_ctx c = {.project = project, .queue = queue, .id = id};
	int rc = feed__name_check(project, queue);

	return rc ? rc : feed__run(feed__txn_feed(txn), txn, delete_fn, &c,
				   FEED__W_FREES);
}

static int purge_fn(feed_t *feed, MDB_txn *txn, void *arg)
{
	struct sub_ctx *c = arg;
	struct feed__queue q;
	int rc = feed__queue_find(feed, txn, c->project, c->queue, &q);

	*c->n = 0;
	if (rc)
		return rc == FEED_ENOQUEUE ? 0 : rc;
	for (;;) {
		MDB_val key, val;
		struct sub s;

		rc = feed__first(txn, feed->subs, q.qid, 0, &key, &val);
		if (rc == 0)
			rc = decode(&key, &val, &s);
		if (rc == 0)
			rc = sub_remove(feed, txn, q.qid, &s);
		if (rc)
			break;
		(*c->n)++;
	}
	return rc == FEED_ENOTFOUND ? 0 : rc;
}

int feed_sub_purge_tx(feed_txn_t *txn, const char *project,
		      const char *queue, size_t *n)
{
	size_t dummy;
	struct sub_ctx c = {.project = project, .queue = queue,
			    .n = n ? n : &dummy};
	int rc = feed__name_check(project, queue);

	return rc ? rc : feed__run(feed__txn_feed(txn), txn, purge_fn, &c,
				   FEED__W_FREES);
}

static int confirm_fn(feed_t *feed, MDB_txn *txn, void *arg)
{
	struct sub_ctx *c = arg;
	struct feed__queue q;
	struct sub s;
	int rc = find_live(feed, txn, c->project, c->queue, c->id, c->now_ms,
			   &q, &s);

	if (rc)
		return rc;
	s.rec.flags = c->flag ? s.rec.flags | FEED__S_CONFIRMED
			      : s.rec.flags & ~(uint32_t)FEED__S_CONFIRMED;
	if (c->restart)
		s.rec.marker_seq = q.rec.next_seq - 1;
	return sub_put(feed, txn, q.qid, &s);
}

int feed_sub_confirm_tx(feed_txn_t *txn, const char *project,
			const char *queue, const char *id, bool confirmed,
			bool restart, uint64_t now_ms)
{
	struct sub_ctx c = {.project = project, .queue = queue, .id = id,
			    .now_ms = now_ms, .flag = confirmed,
			    .restart = restart};
	int rc = feed__name_check(project, queue);

	return rc ? rc : feed__run(feed__txn_feed(txn), txn, confirm_fn, &c,
				   0);
}

static int advance_fn(feed_t *feed, MDB_txn *txn, void *arg)
{
	struct sub_ctx *c = arg;
	struct feed__queue q;
	struct sub s;
	uint64_t gen, seq;
	int rc = find_live(feed, txn, c->project, c->queue, c->id, c->now_ms,
			   &q, &s);

	if (rc)
		return rc;
	if (feed_id_parse(c->marker, &gen, &seq) || gen != q.rec.generation ||
	    seq >= q.rec.next_seq)
		return FEED_EBADID;
	if (seq <= s.rec.marker_seq)
		return 0;
	s.rec.marker_seq = seq;
	return sub_put(feed, txn, q.qid, &s);
}

int feed_sub_advance_tx(feed_txn_t *txn, const char *project,
			const char *queue, const char *id, const char *marker,
			uint64_t now_ms)
{
	struct sub_ctx c = {.project = project, .queue = queue, .id = id,
			    .now_ms = now_ms, .marker = marker};
	int rc = feed__name_check(project, queue);

	return rc ? rc : feed__run(feed__txn_feed(txn), txn, advance_fn, &c,
				   0);
}

/* --------------------------------------------------------------- reads */

void feed_subs_free(feed_subs_t *subs)
{
	if (!subs)
		return;
	free(subs->v);
	free(subs->arena_);
	memset(subs, 0, sizeof(*subs));
}

/* A list being filled: entries, then their strings in one arena whose
 * offsets become pointers at the end (the arena moves as it grows). */
struct builder {
	feed_subs_t *out;
	size_t cap, used, size;
	size_t *offs; /* per entry: subscriber, options */
};

static int arena_put(struct builder *b, const char *s, size_t len,
		     size_t *off)
{
	if (b->used + len + 1 > b->size) {
		size_t size = (b->used + len + 1) * 2;
		char *a = realloc(b->out->arena_, size);

		if (!a)
			return FEED_ENOMEM;
		b->out->arena_ = a;
		b->size = size;
	}
	memcpy(b->out->arena_ + b->used, s, len);
	b->out->arena_[b->used + len] = '\0';
	*off = b->used;
	b->used += len + 1;
	return 0;
}

static int build_add(struct builder *b, const struct feed__queue *q,
		     const struct sub *s)
{
	feed_sub_t *e;
	const char *name = memchr(q->key, '\0', q->key_len);
	int rc;

	if (!name)
		return FEED_ECORRUPT;
	if (b->out->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 8;
		feed_sub_t *v = realloc(b->out->v, cap * sizeof(*v));
		size_t *offs = v ? realloc(b->offs, cap * 2 * sizeof(*offs))
				 : NULL;

		if (v)
			b->out->v = v;
		if (!offs)
			return FEED_ENOMEM;
		b->offs = offs;
		b->cap = cap;
	}
	e = &b->out->v[b->out->n];
	memset(e, 0, sizeof(*e));
	feed__claim_id_format(e->id, s->sid);
	memcpy(e->project, q->key, (size_t)(name - (const char *)q->key));
	memcpy(e->queue, name + 1,
	       q->key_len - (size_t)(name + 1 - (const char *)q->key));
	e->created_ms = s->rec.created_ms;
	e->expires_ms = s->rec.expires_ms;
	e->ttl_s = s->rec.ttl_s;
	e->confirmed = s->rec.flags & FEED__S_CONFIRMED;
	feed__id_format(e->marker, q->rec.generation, s->rec.marker_seq);
	rc = arena_put(b, s->uri, s->rec.uri_len, &b->offs[2 * b->out->n]);
	if (rc == 0)
		rc = arena_put(b, s->opt, s->rec.opt_len,
			       &b->offs[2 * b->out->n + 1]);
	if (rc == 0)
		b->out->n++;
	return rc;
}

static int build_end(struct builder *b, int rc)
{
	for (size_t i = 0; rc == 0 && i < b->out->n; i++) {
		b->out->v[i].subscriber = b->out->arena_ + b->offs[2 * i];
		b->out->v[i].options = b->out->arena_ + b->offs[2 * i + 1];
	}
	free(b->offs);
	if (rc)
		feed_subs_free(b->out);
	return rc;
}

int feed_sub_get(feed_t *feed, const char *project, const char *queue,
		 const char *id, uint64_t now_ms, feed_subs_t *out)
{
	struct builder b = {out, 0, 0, 0, NULL};
	struct feed__queue q;
	struct sub s;
	MDB_txn *txn;
	int rc = feed__name_check(project, queue);

	memset(out, 0, sizeof(*out));
	if (rc == 0)
		rc = feed__read_begin(feed, &txn);
	if (rc)
		return rc;
	rc = find_live(feed, txn, project, queue, id, now_ms, &q, &s);
	if (rc == 0)
		rc = build_add(&b, &q, &s);
	feed__read_end(feed, txn);
	return build_end(&b, rc);
}

int feed_sub_list(feed_t *feed, const char *project, const char *queue,
		  const char *marker, size_t limit, uint64_t now_ms,
		  feed_subs_t *out)
{
	struct builder b = {out, 0, 0, 0, NULL};
	struct feed__queue q;
	uint8_t k[24], after[16];
	bool has_marker = marker && *marker;
	MDB_cursor *cur = NULL;
	MDB_val key, val;
	MDB_txn *txn;
	int rc = feed__name_check(project, queue);

	memset(out, 0, sizeof(*out));
	if (rc == 0 && has_marker && feed_claim_id_parse(marker, after))
		rc = FEED_EBADID;
	if (rc == 0)
		rc = feed__read_begin(feed, &txn);
	if (rc)
		return rc;
	rc = feed__queue_find(feed, txn, project, queue, &q);
	if (rc == 0)
		rc = feed__err(mdb_cursor_open(txn, feed->subs, &cur));
	if (rc == 0) {
		sub_key(k, q.qid, has_marker ? after : (const uint8_t[16]){0});
		rc = feed__seek_key(cur, q.qid, k, sizeof(k), &key, &val);
	}
	for (; rc == 0 && (limit == 0 || out->n < limit);
	     rc = feed__step(cur, q.qid, &key, &val)) {
		struct sub s;

		rc = decode(&key, &val, &s);
		if (rc)
			break;
		if (has_marker && memcmp(s.sid, after, 16) == 0)
			continue;
		if (s.rec.expires_ms > now_ms)
			rc = build_add(&b, &q, &s);
		if (rc)
			break;
	}
	if (cur)
		mdb_cursor_close(cur);
	feed__read_end(feed, txn);
	if (rc == FEED_ENOTFOUND || rc == FEED_ENOQUEUE)
		rc = 0;
	return build_end(&b, rc);
}

/* mdb_cursor_get as a feed code: FEED_ENOTFOUND at the end. */
static int cursor_get(MDB_cursor *cur, MDB_val *key, MDB_val *val,
		      MDB_cursor_op op)
{
	int rc;

	feed__touch();
	rc = mdb_cursor_get(cur, key, val, op);
	return rc == MDB_NOTFOUND ? FEED_ENOTFOUND : feed__err(rc);
}

int feed_sub_scan(feed_t *feed, uint8_t resume[FEED_SUB_RESUME_LEN],
		  size_t limit, uint64_t now_ms, feed_subs_t *out, bool *more)
{
	struct builder b = {out, 0, 0, 0, NULL};
	uint8_t k[FEED_SUB_RESUME_LEN];
	MDB_val key = {sizeof(k), k}, val;
	MDB_cursor *cur;
	MDB_txn *txn;
	int rc = feed__read_begin(feed, &txn);

	memset(out, 0, sizeof(*out));
	*more = false;
	if (rc)
		return rc;
	rc = feed__err(mdb_cursor_open(txn, feed->subs, &cur));
	if (rc) {
		feed__read_end(feed, txn);
		return rc;
	}
	memcpy(k, resume, sizeof(k));
	rc = cursor_get(cur, &key, &val, MDB_SET_RANGE);
	/* resume is the last one returned: step past it. */
	if (rc == 0 && key.mv_size == sizeof(k) &&
	    memcmp(key.mv_data, resume, sizeof(k)) == 0)
		rc = cursor_get(cur, &key, &val, MDB_NEXT);
	for (; rc == 0; rc = cursor_get(cur, &key, &val, MDB_NEXT)) {
		struct feed__queue q;
		struct sub s;

		if (limit && out->n == limit) {
			*more = true;
			break;
		}
		rc = decode(&key, &val, &s);
		if (rc == 0)
			rc = feed__queue_load(feed, txn,
					      feed__get_be64(key.mv_data), &q);
		if (rc == 0 && !(q.rec.flags & FEED__Q_DROPPED) &&
		    s.rec.expires_ms > now_ms) {
			rc = build_add(&b, &q, &s);
			memcpy(resume, key.mv_data, FEED_SUB_RESUME_LEN);
		}
		if (rc)
			break;
	}
	if (rc == FEED_ENOTFOUND)
		rc = 0;
	mdb_cursor_close(cur);
	feed__read_end(feed, txn);
	return build_end(&b, rc);
}

/* ----------------------------------------------------------- compaction */

int feed__subs_expire(feed_t *feed, MDB_txn *txn, struct feed__queue *q,
		      uint64_t now_ms, size_t budget, size_t *removed)
{
	uint64_t start = feed__touched;
	int rc = 0;

	while (rc == 0 && feed__touched - start < budget) {
		MDB_val key, val;
		struct sub s;

		rc = feed__first(txn, feed->sexpiry, q->qid, 0, &key, &val);
		if (rc == FEED_ENOTFOUND)
			return 0;
		if (rc == 0 && key.mv_size != 32)
			rc = FEED_ECORRUPT;
		if (rc)
			break;
		if (feed__get_be64((uint8_t *)key.mv_data + 8) > now_ms)
			return 0;
		rc = sub_load(feed, txn, q->qid, (uint8_t *)key.mv_data + 16,
			      &s);
		if (rc == FEED_ENOTFOUND ||
		    (rc == 0 && s.rec.expires_ms !=
				feed__get_be64((uint8_t *)key.mv_data + 8)))
			rc = FEED_ECORRUPT;
		if (rc == 0)
			rc = sub_remove(feed, txn, q->qid, &s);
		if (rc == 0)
			(*removed)++;
	}
	return rc;
}

/* -------------------------------------------------------------- checks */

static int has_index(MDB_txn *txn, MDB_dbi dbi, uint64_t qid, uint64_t t,
		     const uint8_t sid[16])
{
	uint8_t k[32];
	MDB_val key = {sizeof(k), k}, val;
	int rc;

	feed__be64(k, qid);
	feed__be64(k + 8, t);
	memcpy(k + 16, sid, 16);
	feed__touch();
	rc = mdb_get(txn, dbi, &key, &val);
	return rc == 0 ? 1 : rc == MDB_NOTFOUND ? 0 : feed__err(rc);
}

int feed__subs_check(feed_t *feed, MDB_txn *txn, const struct feed__queue *q,
		     const char **what)
{
	MDB_cursor *cur;
	MDB_val key, val;
	uint64_t n = 0, n_exp, n_uri, first = 0;
	int rc = feed__err(mdb_cursor_open(txn, feed->subs, &cur));

	*what = NULL;
	if (rc)
		return rc;
	for (rc = feed__seek(cur, q->qid, 0, &key, &val); rc == 0;
	     rc = feed__step(cur, q->qid, &key, &val)) {
		struct sub s;

		rc = decode(&key, &val, &s);
		if (rc) {
			*what = "a malformed subscription record";
			break;
		}
		if (s.rec.uri_hash != uri_hash(s.uri, s.rec.uri_len))
			*what = "a subscription whose URI hash is wrong";
		else if (s.rec.marker_seq >= q->rec.next_seq)
			*what = "a subscription marker past the queue's tail";
		else if ((rc = has_index(txn, feed->sexpiry, q->qid,
					 s.rec.expires_ms, s.sid)) != 1)
			*what = "a subscription without its sexpiry entry";
		else if ((rc = has_index(txn, feed->suri, q->qid,
					 s.rec.uri_hash, s.sid)) != 1)
			*what = "a subscription without its suri entry";
		if (*what || rc < 0)
			break;
		rc = 0;
		if (!first || s.rec.expires_ms < first)
			first = s.rec.expires_ms;
		n++;
	}
	mdb_cursor_close(cur);
	if (*what)
		return FEED_ECORRUPT;
	if (rc != FEED_ENOTFOUND)
		return rc;
	rc = feed__count(txn, feed->sexpiry, q->qid, &n_exp);
	if (rc == 0)
		rc = feed__count(txn, feed->suri, q->qid, &n_uri);
	if (rc)
		return rc;
	if (n_exp != n || n_uri != n)
		*what = "subscription index entries without their subscription";
	else if (n && (q->rec.due_ms == 0 || q->rec.due_ms > first))
		*what = "due later than a subscription's expiry";
	return *what ? FEED_ECORRUPT : 0;
}
