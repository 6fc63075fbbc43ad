/*
 * queue.c - queues: names, records, metadata, listing and stats.
 *
 * A queue is found by name in `names` (project \0 name -> qid | metadata)
 * and described by its record in `queues` (qid -> struct feed__qrec | the
 * name key). The record carries the counters that make stats exact without
 * a scan of the log:
 *
 *   total   = count - (expired messages not yet removed)
 *   claimed = claimed - (messages of expired claims not yet released)
 *   free    = total - claimed
 *
 * Both corrections look only at what compaction has not reached yet: the
 * expired prefix of the log and the `expiry` / `cexpiry` entries due by
 * now, so a stats call costs O(log n + that backlog).
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

/* The name key: project \0 name. */
static size_t name_key(uint8_t *key, const char *project, const char *name)
{
	size_t plen = strlen(project), nlen = strlen(name);

	memcpy(key, project, plen);
	key[plen] = '\0';
	memcpy(key + plen + 1, name, nlen);
	return plen + 1 + nlen;
}

int feed__queue_load(feed_t *feed, MDB_txn *txn, uint64_t qid,
		     struct feed__queue *q)
{
	uint8_t k[8];
	MDB_val key = {8, k}, val;
	int rc;

	feed__be64(k, qid);
	rc = mdb_get(txn, feed->queues, &key, &val);
	if (rc)
		return rc == MDB_NOTFOUND ? FEED_ENOQUEUE : feed__err(rc);
	if (val.mv_size < sizeof(q->rec))
		return FEED_ECORRUPT;
	memcpy(&q->rec, val.mv_data, sizeof(q->rec));
	if (q->rec.name_len > sizeof(q->key) ||
	    val.mv_size != sizeof(q->rec) + q->rec.name_len)
		return FEED_ECORRUPT;
	memcpy(q->key, (const uint8_t *)val.mv_data + sizeof(q->rec),
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
	key.mv_size = name_key(k, project, name);
	key.mv_data = k;
	rc = mdb_get(txn, feed->names, &key, &val);
	if (rc)
		return rc == MDB_NOTFOUND ? FEED_ENOQUEUE : feed__err(rc);
	if (val.mv_size < 8)
		return FEED_ECORRUPT;
	memcpy(&qid, val.mv_data, 8);
	return feed__queue_load(feed, txn, qid, q);
}

static int next_qid(feed_t *feed, MDB_txn *txn, uint64_t *qid)
{
	MDB_val key = {8, "next_qid"}, val;
	uint64_t next = 1;
	int rc = mdb_get(txn, feed->info, &key, &val);

	if (rc == 0 && val.mv_size == sizeof(next))
		memcpy(&next, val.mv_data, sizeof(next));
	else if (rc != MDB_NOTFOUND)
		return rc ? feed__err(rc) : FEED_ECORRUPT;
	if (next > FEED__QID_MAX)
		return FEED_EFULL;
	*qid = next++;
	val.mv_size = sizeof(next);
	val.mv_data = &next;
	return feed__err(mdb_put(txn, feed->info, &key, &val, 0));
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
	rc = next_qid(feed, txn, &q->qid);
	if (rc)
		return rc;
	q->key_len = name_key(q->key, project, name);
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

/* ------------------------------------------------------------ due index */

static int due_put(feed_t *feed, MDB_txn *txn, uint64_t due_ms, uint64_t qid,
		   bool del)
{
	uint8_t k[16];
	MDB_val key = {16, k}, val = {0, NULL};
	int rc;

	feed__be64(k, due_ms);
	feed__be64(k + 8, qid);
	if (del) {
		rc = mdb_del(txn, feed->due, &key, NULL);
		return rc == MDB_NOTFOUND ? 0 : feed__err(rc);
	}
	return feed__err(mdb_put(txn, feed->due, &key, &val, 0));
}

int feed__due_set(feed_t *feed, MDB_txn *txn, struct feed__queue *q,
		  uint64_t due_ms)
{
	int rc;

	if (q->rec.due_ms == due_ms)
		return 0;
	if (q->rec.due_ms) {
		rc = due_put(feed, txn, q->rec.due_ms, q->qid, true);
		if (rc)
			return rc;
	}
	q->rec.due_ms = due_ms;
	return due_ms ? due_put(feed, txn, due_ms, q->qid, false) : 0;
}

int feed__due_lower(feed_t *feed, MDB_txn *txn, struct feed__queue *q,
		    uint64_t due_ms)
{
	if (due_ms == 0 || (q->rec.due_ms && q->rec.due_ms <= due_ms))
		return 0;
	return feed__due_set(feed, txn, q, due_ms);
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

int feed_queue_create(feed_t *feed, const char *project, const char *name,
		      const void *metadata, size_t meta_len, uint64_t now_ms,
		      bool *created)
{
	struct create_ctx c = {project, name, metadata, meta_len, now_ms, false};
	int rc = feed__name_check(project, name);

	if (rc == 0 && meta_len > feed->max_metadata)
		rc = FEED_ETOOBIG;
	if (rc == 0)
		rc = feed__write(feed, create_fn, &c, 0);
	if (created)
		*created = rc == 0 && c.created;
	return rc;
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

int feed_queue_delete(feed_t *feed, const char *project, const char *name)
{
	struct name_ctx c = {project, name, NULL, 0};
	int rc = feed__name_check(project, name);

	return rc ? rc : feed__write(feed, delete_fn, &c, FEED__W_FREES);
}

/* ------------------------------------------------------ exists, metadata */

int feed_queue_tail(feed_t *feed, const char *project, const char *queue,
		    char marker[FEED_ID_LEN + 1])
{
	struct feed__queue q;
	MDB_txn *txn;
	int rc = feed__name_check(project, queue);

	marker[0] = '\0';
	if (rc)
		return rc;
	rc = feed__read_begin(feed, &txn);
	if (rc)
		return rc;
	rc = feed__queue_find(feed, txn, project, queue, &q);
	feed__read_end(feed, txn);
	if (rc == 0)
		feed__id_format(marker, q.qid, q.rec.next_seq - 1);
	return rc == FEED_ENOQUEUE ? 0 : rc;
}

int feed_queue_exists(feed_t *feed, const char *project, const char *name,
		      bool *exists)
{
	struct feed__queue q;
	MDB_txn *txn;
	int rc = feed__name_check(project, name);

	if (rc)
		return rc;
	rc = feed__read_begin(feed, &txn);
	if (rc)
		return rc;
	rc = feed__queue_find(feed, txn, project, name, &q);
	feed__read_end(feed, txn);
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
	int rc = feed__name_check(project, name);

	*meta = NULL;
	*len = 0;
	if (rc)
		return rc;
	key.mv_size = name_key(k, project, name);
	key.mv_data = k;
	rc = feed__read_begin(feed, &txn);
	if (rc)
		return rc;
	rc = mdb_get(txn, feed->names, &key, &val);
	if (rc)
		rc = rc == MDB_NOTFOUND ? FEED_ENOQUEUE : feed__err(rc);
	else if (val.mv_size < 8)
		rc = FEED_ECORRUPT;
	else
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

	key.mv_size = name_key(k, c->project, c->name);
	key.mv_data = k;
	rc = mdb_get(txn, feed->names, &key, &val);
	if (rc)
		return rc == MDB_NOTFOUND ? FEED_ENOQUEUE : feed__err(rc);
	if (val.mv_size < 8)
		return FEED_ECORRUPT;
	memcpy(&qid, val.mv_data, 8);
	val.mv_size = 8 + c->meta_len;
	rc = mdb_put(txn, feed->names, &key, &val, MDB_RESERVE);
	if (rc)
		return feed__err(rc);
	memcpy(val.mv_data, &qid, 8);
	if (c->meta_len)
		memcpy((uint8_t *)val.mv_data + 8, c->meta, c->meta_len);
	return 0;
}

int feed_queue_meta_set(feed_t *feed, const char *project, const char *name,
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
	return feed__write(feed, meta_set_fn, &c, 0);
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

int feed_queue_list(feed_t *feed, const char *project, const char *marker,
		    size_t limit, bool with_metadata, feed_queue_list_t *out)
{
	uint8_t k[FEED_PROJECT_MAX + 1 + FEED_NAME_MAX + 1];
	size_t plen, mlen = marker ? strlen(marker) : 0;
	MDB_val key, val;
	MDB_cursor *cur;
	MDB_txn *txn;
	MDB_cursor_op op = MDB_SET_RANGE;
	int rc;

	out->v = NULL;
	out->n = 0;
	if (!project || (plen = strlen(project)) > FEED_PROJECT_MAX ||
	    mlen > FEED_NAME_MAX)
		return FEED_EINVAL;
	if (limit == 0)
		return 0;
	out->v = calloc(limit < 1024 ? limit : 1024, sizeof(*out->v));
	if (!out->v)
		return FEED_ENOMEM;
	if (limit > 1024)
		limit = 1024;
	memcpy(k, project, plen);
	k[plen] = '\0';
	memcpy(k + plen + 1, marker ? marker : "", mlen);
	key.mv_size = plen + 1 + mlen;
	key.mv_data = k;
	rc = feed__read_begin(feed, &txn);
	if (rc)
		goto fail;
	rc = feed__err(mdb_cursor_open(txn, feed->names, &cur));
	if (rc) {
		feed__read_end(feed, txn);
		goto fail;
	}
	while (out->n < limit) {
		rc = mdb_cursor_get(cur, &key, &val, op);
		op = MDB_NEXT;
		if (rc) {
			rc = rc == MDB_NOTFOUND ? 0 : feed__err(rc);
			break;
		}
		if (key.mv_size <= plen + 1 || memcmp(key.mv_data, k, plen + 1))
			break;
		if (key.mv_size == plen + 1 + mlen && mlen &&
		    memcmp((const uint8_t *)key.mv_data + plen + 1, marker,
			   mlen) == 0)
			continue; /* the marker itself */
		rc = list_add(out, plen, &key, &val, with_metadata);
		if (rc)
			break;
	}
	mdb_cursor_close(cur);
	feed__read_end(feed, txn);
	if (rc == 0)
		return 0;
fail:
	feed_queue_list_free(out);
	return rc;
}

int feed_queue_count(feed_t *feed, const char *project, uint64_t *count)
{
	uint8_t k[FEED_PROJECT_MAX + 1];
	size_t plen;
	MDB_val key, val;
	MDB_cursor *cur;
	MDB_txn *txn;
	MDB_cursor_op op = MDB_SET_RANGE;
	int rc;

	*count = 0;
	if (!project || (plen = strlen(project)) > FEED_PROJECT_MAX)
		return FEED_EINVAL;
	memcpy(k, project, plen);
	k[plen] = '\0';
	key.mv_size = plen + 1;
	key.mv_data = k;
	rc = feed__read_begin(feed, &txn);
	if (rc)
		return rc;
	rc = feed__err(mdb_cursor_open(txn, feed->names, &cur));
	if (rc) {
		feed__read_end(feed, txn);
		return rc;
	}
	for (;;) {
		rc = mdb_cursor_get(cur, &key, &val, op);
		op = MDB_NEXT;
		if (rc) {
			rc = rc == MDB_NOTFOUND ? 0 : feed__err(rc);
			break;
		}
		if (key.mv_size <= plen + 1 || memcmp(key.mv_data, k, plen + 1))
			break;
		(*count)++;
	}
	mdb_cursor_close(cur);
	feed__read_end(feed, txn);
	return rc;
}

/* ----------------------------------------------------------------- stats */

/* Walks the head of the log: counts the expired in-order messages not yet
 * removed and finds the oldest live message. */
static int stats_head(feed_t *feed, MDB_txn *txn, const struct feed__queue *q,
		      uint64_t now_ms, uint64_t *expired,
		      feed_queue_stats_t *out)
{
	uint8_t k[16];
	MDB_val key = {16, k}, val;
	MDB_cursor *cur;
	MDB_cursor_op op = MDB_SET_RANGE;
	struct feed__mrec m;
	bool have_oldest = false;
	int rc;

	feed__msg_key(k, q->qid, 0);
	rc = mdb_cursor_open(txn, feed->msgs, &cur);
	if (rc)
		return feed__err(rc);
	while ((rc = mdb_cursor_get(cur, &key, &val, op)) == 0) {
		op = MDB_NEXT;
		if (feed__get_be64(key.mv_data) != q->qid)
			break;
		if (val.mv_size < sizeof(m)) {
			rc = MDB_CORRUPTED;
			break;
		}
		memcpy(&m, val.mv_data, sizeof(m));
		if (m.expires_ms <= now_ms) {
			if (!(m.flags & FEED__M_INDEXED))
				(*expired)++;
			continue;
		}
		if (!have_oldest) {
			feed__id_format(out->oldest.id, q->qid,
					feed__get_be64((uint8_t *)key.mv_data + 8));
			out->oldest.created_ms = m.created_ms;
			have_oldest = true;
		}
		if (!(m.flags & FEED__M_INDEXED))
			break;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : feed__err(rc);
}

/* Finds the newest live message, walking back from the tail. */
static int stats_tail(feed_t *feed, MDB_txn *txn, const struct feed__queue *q,
		      uint64_t now_ms, feed_queue_stats_t *out)
{
	uint8_t k[16];
	MDB_val key = {16, k}, val;
	MDB_cursor *cur;
	MDB_cursor_op op;
	struct feed__mrec m;
	int rc;

	feed__msg_key(k, q->qid + 1, 0);
	rc = mdb_cursor_open(txn, feed->msgs, &cur);
	if (rc)
		return feed__err(rc);
	rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
	op = rc == MDB_NOTFOUND ? MDB_LAST : MDB_PREV;
	while ((rc = mdb_cursor_get(cur, &key, &val, op)) == 0) {
		op = MDB_PREV;
		if (feed__get_be64(key.mv_data) != q->qid)
			break;
		if (val.mv_size < sizeof(m)) {
			rc = MDB_CORRUPTED;
			break;
		}
		memcpy(&m, val.mv_data, sizeof(m));
		if (m.expires_ms > now_ms) {
			feed__id_format(out->newest.id, q->qid,
					feed__get_be64((uint8_t *)key.mv_data + 8));
			out->newest.created_ms = m.created_ms;
			break;
		}
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : feed__err(rc);
}

/*
 * Counts the entries of an index keyed qid | time | ... whose time is at
 * most now_ms. For `cexpiry`, sums the live messages of those claims
 * instead.
 */
static int count_due(feed_t *feed, MDB_txn *txn, MDB_dbi dbi, uint64_t qid,
		     uint64_t now_ms, bool claims, uint64_t *n)
{
	uint8_t k[16];
	MDB_val key = {16, k}, val;
	MDB_cursor *cur;
	MDB_cursor_op op = MDB_SET_RANGE;
	int rc;

	feed__be64(k, qid);
	feed__be64(k + 8, 0);
	rc = mdb_cursor_open(txn, dbi, &cur);
	if (rc)
		return feed__err(rc);
	while ((rc = mdb_cursor_get(cur, &key, &val, op)) == 0) {
		const uint8_t *kp = key.mv_data;

		op = MDB_NEXT;
		if (key.mv_size < 16 || feed__get_be64(kp) != qid ||
		    feed__get_be64(kp + 8) > now_ms)
			break;
		if (claims) {
			uint8_t ck[24];
			MDB_val ckey = {24, ck}, cval;
			struct feed__crec c;

			memcpy(ck, kp, 8);
			memcpy(ck + 8, kp + 16, 16);
			rc = mdb_get(txn, feed->claims, &ckey, &cval);
			if (rc || cval.mv_size < sizeof(c)) {
				rc = rc ? rc : MDB_CORRUPTED;
				break;
			}
			memcpy(&c, cval.mv_data, sizeof(c));
			*n += c.live;
		} else {
			(*n)++;
		}
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : feed__err(rc);
}

int feed_queue_stats(feed_t *feed, const char *project, const char *name,
		     uint64_t now_ms, feed_queue_stats_t *out)
{
	struct feed__queue q;
	uint64_t expired = 0, released = 0;
	MDB_txn *txn;
	int rc = feed__name_check(project, name);

	memset(out, 0, sizeof(*out));
	if (rc)
		return rc;
	rc = feed__read_begin(feed, &txn);
	if (rc)
		return rc;
	rc = feed__queue_find(feed, txn, project, name, &q);
	if (rc == 0)
		rc = stats_head(feed, txn, &q, now_ms, &expired, out);
	if (rc == 0)
		rc = count_due(feed, txn, feed->expiry, q.qid, now_ms, false,
			       &expired);
	if (rc == 0)
		rc = count_due(feed, txn, feed->cexpiry, q.qid, now_ms, true,
			       &released);
	if (rc == 0)
		rc = stats_tail(feed, txn, &q, now_ms, out);
	feed__read_end(feed, txn);
	if (rc) {
		memset(out, 0, sizeof(*out));
		return rc == FEED_ENOQUEUE ? 0 : rc;
	}
	if (expired > q.rec.count || released > q.rec.claimed)
		return FEED_ECORRUPT;
	out->total = q.rec.count - expired;
	out->claimed = q.rec.claimed - released;
	out->posted = q.rec.next_seq - 1;
	if (out->claimed > out->total)
		return FEED_ECORRUPT;
	out->free = out->total - out->claimed;
	return 0;
}
