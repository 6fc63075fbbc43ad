/*
 * queue.c - queues: names, records, metadata, listing and the tail
 * marker.
 *
 * A queue is found by name in `names` (project \0 name -> qid | metadata)
 * and described by its record in `queues` (qid -> struct feed__qrec | the
 * name key). The record carries the counters stats.c turns into exact
 * counts, and next_seq, from which feed_queue_tail() makes the marker
 * "from now" without touching the log.
 *
 * Deleting a queue removes its name at once and marks the record dropped
 * with a `due` entry at time 1, so compaction reclaims the rest in bounded
 * steps; nothing of it is reachable in the meantime.
 */
#include <stdlib.h>

#include "feed_internal.h"

int feed__name_check(const char *project, const char *name)
{
	size_t plen, nlen;

	if (!project || !name)
		return FEED_EINVAL;
	plen = strlen(project);
	nlen = strlen(name);
	if (plen > FEED_PROJECT_MAX || nlen == 0 || nlen > FEED_NAME_MAX)
		return FEED_EINVAL;
	return 0;
}

size_t feed__name_key(uint8_t *key, const char *project, const char *name)
{
	size_t plen = strlen(project), nlen = strlen(name);

	memcpy(key, project, plen);
	key[plen] = '\0';
	memcpy(key + plen + 1, name, nlen);
	return plen + 1 + nlen;
}

/* The `names` entry of project/name: *key its key (built in k), *val its
 * value (qid | metadata, in the map), *qid. FEED_ENOQUEUE when missing. */
static int name_get(feed_t *feed, MDB_txn *txn, const char *project,
		    const char *name, uint8_t *k, MDB_val *key, MDB_val *val,
		    uint64_t *qid)
{
	int rc;

	*qid = 0;
	key->mv_size = feed__name_key(k, project, name);
	key->mv_data = k;
	feed__touch();
	rc = mdb_get(txn, feed->names, key, val);
	if (rc)
		return rc == MDB_NOTFOUND ? FEED_ENOQUEUE : feed__err(rc);
	if (val->mv_size < 8)
		return FEED_ECORRUPT;
	memcpy(qid, val->mv_data, 8);
	return 0;
}

int feed__queue_load(feed_t *feed, MDB_txn *txn, uint64_t qid,
		     struct feed__queue *q)
{
	uint8_t k[8];
	MDB_val key = {8, k}, val;
	size_t rec_len;
	int rc;

	feed__be64(k, qid);
	feed__touch();
	rc = mdb_get(txn, feed->queues, &key, &val);
	if (rc)
		return rc == MDB_NOTFOUND ? FEED_ENOQUEUE : feed__err(rc);
	/* A format 2 record ends before `generation`: it is the qid. */
	if (val.mv_size < FEED__QREC_V2)
		return FEED_ECORRUPT;
	memcpy(&q->rec, val.mv_data, FEED__QREC_V2);
	if (q->rec.name_len > sizeof(q->key))
		return FEED_ECORRUPT;
	if (val.mv_size == FEED__QREC_V2 + q->rec.name_len)
		rec_len = FEED__QREC_V2;
	else if (val.mv_size == sizeof(q->rec) + q->rec.name_len)
		rec_len = sizeof(q->rec);
	else
		return FEED_ECORRUPT;
	memcpy(&q->rec, val.mv_data, rec_len);
	if (rec_len == FEED__QREC_V2)
		q->rec.generation = qid;
	memcpy(q->key, (const uint8_t *)val.mv_data + rec_len,
	       q->rec.name_len);
	q->key_len = q->rec.name_len;
	q->qid = qid;
	return 0;
}

int feed__queue_save(feed_t *feed, MDB_txn *txn, struct feed__queue *q)
{
	uint8_t k[8], buf[sizeof(q->rec) + sizeof(q->key)];
	MDB_val key = {8, k}, val;

	feed__be64(k, q->qid);
	q->rec.name_len = (uint32_t)q->key_len;
	memcpy(buf, &q->rec, sizeof(q->rec));
	memcpy(buf + sizeof(q->rec), q->key, q->key_len);
	val.mv_size = sizeof(q->rec) + q->key_len;
	val.mv_data = buf;
	feed__touch();
	return feed__err(mdb_put(txn, feed->queues, &key, &val, 0));
}

int feed__queue_find(feed_t *feed, MDB_txn *txn, const char *project,
		     const char *name, struct feed__queue *q)
{
	uint8_t k[sizeof(q->key)];
	MDB_val key, val;
	uint64_t qid;
	int rc = feed__name_check(project, name);

	if (rc)
		return rc;
	rc = name_get(feed, txn, project, name, k, &key, &val, &qid);
	return rc ? rc : feed__queue_load(feed, txn, qid, q);
}

int feed__qid_peek(feed_t *feed, MDB_txn *txn, uint64_t *next)
{
	MDB_val key = {8, "next_qid"}, val;
	int rc = mdb_get(txn, feed->info, &key, &val);

	*next = 1;
	if (rc == 0 && val.mv_size == sizeof(*next))
		memcpy(next, val.mv_data, sizeof(*next));
	else if (rc != MDB_NOTFOUND)
		return rc ? feed__err(rc) : FEED_ECORRUPT;
	return 0;
}

/* Stores the counter. */
static int qid_put(feed_t *feed, MDB_txn *txn, uint64_t next)
{
	MDB_val key = {8, "next_qid"}, val = {sizeof(next), &next};

	return feed__err(mdb_put(txn, feed->info, &key, &val, 0));
}

int feed__qid_next(feed_t *feed, MDB_txn *txn, uint64_t *qid)
{
	uint64_t next;
	int rc = feed__qid_peek(feed, txn, &next);

	if (rc)
		return rc;
	if (next > FEED__QID_MAX)
		return FEED_EFULL;
	*qid = next;
	return qid_put(feed, txn, next + 1);
}

int feed__qid_raise(feed_t *feed, MDB_txn *txn, uint64_t floor)
{
	uint64_t next;
	int rc = feed__qid_peek(feed, txn, &next);

	if (rc || next >= floor)
		return rc;
	if (floor > FEED__QID_MAX + 1)
		return FEED_EINVAL;
	return qid_put(feed, txn, floor);
}

int feed__queue_open(feed_t *feed, MDB_txn *txn, const char *project,
		     const char *name, const void *meta, size_t meta_len,
		     uint64_t now_ms, struct feed__queue *q, bool *created)
{
	MDB_val key, val;
	uint8_t *buf;
	int rc = feed__queue_find(feed, txn, project, name, q);

	if (created)
		*created = false;
	if (rc != FEED_ENOQUEUE)
		return rc;
	if (meta_len > feed->max_metadata)
		return FEED_ETOOBIG;
	memset(q, 0, sizeof(*q));
	rc = feed__qid_next(feed, txn, &q->qid);
	if (rc)
		return rc;
	q->key_len = feed__name_key(q->key, project, name);
	q->rec.generation = q->qid;
	q->rec.created_ms = now_ms;
	q->rec.next_seq = 1;
	q->rec.claim_cursor = 1;
	rc = feed__queue_save(feed, txn, q);
	if (rc)
		return rc;
	key.mv_size = q->key_len;
	key.mv_data = q->key;
	val.mv_size = 8 + meta_len;
	rc = mdb_put(txn, feed->names, &key, &val, MDB_RESERVE);
	if (rc)
		return feed__err(rc);
	buf = val.mv_data;
	memcpy(buf, &q->qid, 8);
	if (meta_len)
		memcpy(buf + 8, meta, meta_len);
	if (created)
		*created = true;
	return 0;
}

/* -------------------------------------------------------------- create */

struct create_ctx {
	const char *project, *name;
	const void *meta;
	size_t meta_len;
	uint64_t now_ms;
	bool created;
};

static int create_fn(feed_t *feed, MDB_txn *txn, void *arg)
{
	struct create_ctx *c = arg;
	struct feed__queue q;

	return feed__queue_open(feed, txn, c->project, c->name, c->meta,
				c->meta_len, c->now_ms, &q, &c->created);
}

static int queue_create_op(feed_t *feed, feed_txn_t *t,
	const char *project, const char *name,
		      const void *metadata, size_t meta_len, uint64_t now_ms,
		      bool *created)
{
	struct create_ctx c = {project, name, metadata, meta_len, now_ms, false};
	int rc = feed__name_check(project, name);

	if (rc == 0 && meta_len > feed->max_metadata)
		rc = FEED_ETOOBIG;
	if (rc == 0)
		rc = feed__run(feed, t, create_fn, &c, 0);
	if (created)
		*created = rc == 0 && c.created;
	return rc;
}

int feed_queue_create(feed_t *feed, const char *project, const char *name,
		      const void *metadata, size_t meta_len, uint64_t now_ms,
		      bool *created)
{
	return queue_create_op(feed, NULL, project, name, metadata, meta_len, now_ms, created);
}

int feed_queue_create_tx(feed_txn_t *txn, const char *project, const char *name,
		      const void *metadata, size_t meta_len, uint64_t now_ms,
		      bool *created)
{
	return queue_create_op(feed__txn_feed(txn), txn,
		project, name, metadata, meta_len, now_ms, created);
}

/* -------------------------------------------------------------- delete */

struct name_ctx {
	const char *project, *name;
	const void *meta;
	size_t meta_len;
};

static int delete_fn(feed_t *feed, MDB_txn *txn, void *arg)
{
	struct name_ctx *c = arg;
	struct feed__queue q;
	MDB_val key;
	int rc = feed__queue_find(feed, txn, c->project, c->name, &q);

	if (rc)
		return rc == FEED_ENOQUEUE ? 0 : rc;
	key.mv_size = q.key_len;
	key.mv_data = q.key;
	rc = feed__err(mdb_del(txn, feed->names, &key, NULL));
	if (rc)
		return rc;
	q.rec.flags |= FEED__Q_DROPPED;
	rc = feed__due_set(feed, txn, &q, 1);
	return rc ? rc : feed__queue_save(feed, txn, &q);
}

static int queue_delete_op(feed_t *feed, feed_txn_t *t,
	const char *project, const char *name)
{
	struct name_ctx c = {project, name, NULL, 0};
	int rc = feed__name_check(project, name);

	return rc ? rc : feed__run(feed, t, delete_fn, &c, FEED__W_FREES);
}

int feed_queue_delete(feed_t *feed, const char *project, const char *name)
{
	return queue_delete_op(feed, NULL, project, name);
}

int feed_queue_delete_tx(feed_txn_t *txn, const char *project, const char *name)
{
	return queue_delete_op(feed__txn_feed(txn), txn,
		project, name);
}

/* ------------------------------------------------------ exists, metadata */

/* The queue's record as of now, in a read transaction of its own. */
static int queue_peek(feed_t *feed, const char *project, const char *name,
		      struct feed__queue *q)
{
	MDB_txn *txn;
	int rc = feed__read_begin(feed, &txn);

	if (rc)
		return rc;
	rc = feed__queue_find(feed, txn, project, name, q);
	feed__read_end(feed, txn);
	return rc;
}

int feed_queue_tail(feed_t *feed, const char *project, const char *queue,
		    char marker[FEED_ID_LEN + 1])
{
	struct feed__queue q;
	int rc = feed__name_check(project, queue);

	marker[0] = '\0';
	if (rc)
		return rc;
	rc = queue_peek(feed, project, queue, &q);
	if (rc == 0)
		feed__id_format(marker, q.rec.generation, q.rec.next_seq - 1);
	return rc == FEED_ENOQUEUE ? 0 : rc;
}

int feed_queue_exists(feed_t *feed, const char *project, const char *name,
		      bool *exists)
{
	struct feed__queue q;
	int rc = feed__name_check(project, name);

	if (rc)
		return rc;
	rc = queue_peek(feed, project, name, &q);
	*exists = rc == 0;
	return rc == FEED_ENOQUEUE ? 0 : rc;
}

/* Copies `len` bytes to a new buffer (NULL when len is 0). */
static int dup_bytes(const void *src, size_t len, void **out)
{
	*out = NULL;
	if (len == 0)
		return 0;
	*out = malloc(len);
	if (!*out)
		return FEED_ENOMEM;
	memcpy(*out, src, len);
	return 0;
}

int feed_queue_meta_get(feed_t *feed, const char *project, const char *name,
			void **meta, size_t *len)
{
	uint8_t k[FEED_PROJECT_MAX + 1 + FEED_NAME_MAX];
	MDB_val key, val;
	MDB_txn *txn;
	uint64_t qid;
	int rc = feed__name_check(project, name);

	*meta = NULL;
	*len = 0;
	if (rc)
		return rc;
	rc = feed__read_begin(feed, &txn);
	if (rc)
		return rc;
	rc = name_get(feed, txn, project, name, k, &key, &val, &qid);
	if (rc == 0)
		rc = dup_bytes((const uint8_t *)val.mv_data + 8,
			       val.mv_size - 8, meta);
	feed__read_end(feed, txn);
	if (rc == 0)
		*len = val.mv_size - 8;
	return rc;
}

static int meta_set_fn(feed_t *feed, MDB_txn *txn, void *arg)
{
	struct name_ctx *c = arg;
	uint8_t k[FEED_PROJECT_MAX + 1 + FEED_NAME_MAX];
	MDB_val key, val;
	uint64_t qid;
	int rc;

	rc = name_get(feed, txn, c->project, c->name, k, &key, &val, &qid);
	if (rc)
		return rc;
	val.mv_size = 8 + c->meta_len;
	rc = mdb_put(txn, feed->names, &key, &val, MDB_RESERVE);
	if (rc)
		return feed__err(rc);
	memcpy(val.mv_data, &qid, 8);
	if (c->meta_len)
		memcpy((uint8_t *)val.mv_data + 8, c->meta, c->meta_len);
	return 0;
}

static int queue_meta_set_op(feed_t *feed, feed_txn_t *t,
	const char *project, const char *name,
			const void *meta, size_t len)
{
	struct name_ctx c = {project, name, meta, len};
	int rc = feed__name_check(project, name);

	if (rc)
		return rc;
	if (len > feed->max_metadata)
		return FEED_ETOOBIG;
	if (len && !meta)
		return FEED_EINVAL;
	return feed__run(feed, t, meta_set_fn, &c, 0);
}

int feed_queue_meta_set(feed_t *feed, const char *project, const char *name,
			const void *meta, size_t len)
{
	return queue_meta_set_op(feed, NULL, project, name, meta, len);
}

int feed_queue_meta_set_tx(feed_txn_t *txn, const char *project, const char *name,
			const void *meta, size_t len)
{
	return queue_meta_set_op(feed__txn_feed(txn), txn,
		project, name, meta, len);
}

/* --------------------------------------------------------------- listing */

void feed_queue_list_free(feed_queue_list_t *list)
{
	if (!list)
		return;
	for (size_t i = 0; i < list->n; i++) {
		free(list->v[i].name);
		free(list->v[i].metadata);
	}
	free(list->v);
	list->v = NULL;
	list->n = 0;
}

/* Adds the queue at (key, val) to the list. */
static int list_add(feed_queue_list_t *out, size_t plen, const MDB_val *key,
		    const MDB_val *val, bool with_metadata)
{
	feed_queue_entry_t *e = &out->v[out->n];
	size_t nlen = key->mv_size - plen - 1;
	int rc = 0;

	memset(e, 0, sizeof(*e));
	e->name = malloc(nlen + 1);
	if (!e->name)
		return FEED_ENOMEM;
	memcpy(e->name, (const char *)key->mv_data + plen + 1, nlen);
	e->name[nlen] = '\0';
	if (with_metadata && val->mv_size > 8) {
		rc = dup_bytes((const uint8_t *)val->mv_data + 8,
			       val->mv_size - 8, &e->metadata);
		e->meta_len = val->mv_size - 8;
	}
	out->n++;
	return rc;
}

/* Called for each queue of a names walk (key and val point into the map);
 * returns 0 to go on, FEED__STOP to stop, or an error. */
typedef int (*name_fn)(const MDB_val *key, const MDB_val *val, void *ctx);

/* The project's queues in name order after `marker` ("" = from the first),
 * in one read transaction. */
static int names_walk(feed_t *feed, const char *project, const char *marker,
		      name_fn fn, void *ctx)
{
	uint8_t k[FEED_PROJECT_MAX + 1 + FEED_NAME_MAX];
	size_t plen = strlen(project), mlen = strlen(marker);
	MDB_val key = {plen + 1 + mlen, k}, val;
	MDB_cursor_op op = MDB_SET_RANGE;
	MDB_cursor *cur;
	MDB_txn *txn;
	int rc;

	memcpy(k, project, plen + 1);
	memcpy(k + plen + 1, marker, mlen);
	rc = feed__read_begin(feed, &txn);
	if (rc)
		return rc;
	rc = feed__err(mdb_cursor_open(txn, feed->names, &cur));
	if (rc)
		goto end;
	while (rc == 0) {
		rc = feed__err(mdb_cursor_get(cur, &key, &val, op));
		op = MDB_NEXT;
		if (rc || key.mv_size <= plen + 1 ||
		    memcmp(key.mv_data, k, plen + 1))
			break;
		if (mlen && key.mv_size == plen + 1 + mlen &&
		    memcmp((const uint8_t *)key.mv_data + plen + 1, marker,
			   mlen) == 0)
			continue; /* the marker itself */
		rc = fn(&key, &val, ctx);
	}
	mdb_cursor_close(cur);
end:
	feed__read_end(feed, txn);
	return rc == FEED__STOP || rc == FEED_ENOTFOUND ? 0 : rc;
}

struct list_ctx {
	feed_queue_list_t *out;
	size_t plen, limit;
	bool with_metadata;
};

static int list_one(const MDB_val *key, const MDB_val *val, void *arg)
{
	struct list_ctx *c = arg;
	int rc = list_add(c->out, c->plen, key, val, c->with_metadata);

	if (rc)
		return rc;
	return c->out->n >= c->limit ? FEED__STOP : 0;
}

int feed_queue_list(feed_t *feed, const char *project, const char *marker,
		    size_t limit, bool with_metadata, feed_queue_list_t *out)
{
	struct list_ctx c = {out, 0,
			     limit < FEED_QUEUE_LIST_MAX ? limit
							 : FEED_QUEUE_LIST_MAX,
			     with_metadata};
	int rc;

	out->v = NULL;
	out->n = 0;
	if (!project || (c.plen = strlen(project)) > FEED_PROJECT_MAX ||
	    (marker && strlen(marker) > FEED_NAME_MAX))
		return FEED_EINVAL;
	if (limit == 0)
		return 0;
	out->v = calloc(c.limit, sizeof(*out->v));
	if (!out->v)
		return FEED_ENOMEM;
	rc = names_walk(feed, project, marker ? marker : "", list_one, &c);
	if (rc)
		feed_queue_list_free(out);
	return rc;
}

static int count_one(const MDB_val *key, const MDB_val *val, void *arg)
{
	(void)key;
	(void)val;
	(*(uint64_t *)arg)++;
	return 0;
}

int feed_queue_count(feed_t *feed, const char *project, uint64_t *count)
{
	*count = 0;
	if (!project || strlen(project) > FEED_PROJECT_MAX)
		return FEED_EINVAL;
	return names_walk(feed, project, "", count_one, count);
}
