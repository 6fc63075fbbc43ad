/*
 * move.c - a queue out of one environment and into another, whole, with
 * its ids: the storage half of moving a shard between cluster nodes
 * (docs/scale.md; feed.h, "Moving a queue").
 *
 * Export reads, in one read transaction, every record keyed by the
 * queue's qid in every database (feed_internal.h's layout) and writes
 * them into a blob without the qid, which is this environment's alone.
 * Import writes them back under a qid taken from the target's counter, in
 * one write transaction: the queue arrives whole or not at all. What the
 * records hold stays as it was - the generation in the queue record (so
 * ids and markers read the same), seqs, claim ids, subscription ids,
 * times - so readers, claimers and subscribers go on where they were.
 *
 * The blob (integers big-endian unless said; values are the records as
 * this build stores them, so both ends must run the same store format on
 * the same byte order - the header says both, import checks them):
 *
 *   header   "HRLDQMV\0" (8) | version u32 (1) | store format u32
 *            | 0x01020304 as a host u32 | next_qid u64 (the source's)
 *   names    project length u16 | name length u16 | project | name
 *   meta     length u32 | the queue's metadata
 *   queue    length u32 | struct feed__qrec (the generation is in it)
 *   entries  { tag u8 (1..12: msgs ... suri) | key length u16
 *            | value length u32 | key without its qid | value } ...
 *            | tag 0
 *   check    CRC-32 u32 of every byte before it
 *
 * `due` (due_ms | qid) is not carried: the queue record's due_ms says it,
 * and import puts it back. `names` and `queues` are the header's.
 */
#include <stdlib.h>
#include <zlib.h>

#include "feed_internal.h"

#define MAGIC "HRLDQMV"
#define VERSION 1u
#define BOM 0x01020304u
#define HEAD_LEN (8 + 4 + 4 + 4 + 8)

/* Tags 1 .. N_TAGS - 1: the databases whose every key starts with the
 * qid (feed_internal.h's layout but info, names, queues and due). A new
 * such database gets the next tag, and old blobs still read. */
#define N_TAGS 13u

static MDB_dbi *tag_dbi(feed_t *feed, unsigned tag)
{
	MDB_dbi *dbis[N_TAGS] = {
		NULL,		&feed->msgs,  &feed->expiry,  &feed->avail,
		&feed->claims,	&feed->cexpiry, &feed->lost,  &feed->delayed,
		&feed->idem,	&feed->iexpiry, &feed->subs,  &feed->sexpiry,
		&feed->suri,
	};

	return tag < N_TAGS ? dbis[tag] : NULL;
}

/* CRC-32 (IEEE): zlib's. */
static uint32_t crc32_of(const uint8_t *p, size_t n)
{
	uLong c = crc32(0L, Z_NULL, 0);

	/* zlib takes a uInt length: a blob may be longer. */
	while (n > 0) {
		uInt k = n > 0x40000000u ? 0x40000000u : (uInt)n;

		c = crc32(c, p, k);
		p += k;
		n -= k;
	}
	return (uint32_t)c;
}

/* ---------------------------------------------------------------- out */

struct out {
	uint8_t *p;
	size_t len, cap;
	int rc;
};

static void put(struct out *o, const void *v, size_t n)
{
	if (o->rc || n == 0)
		return;
	if (n > o->cap - o->len) {
		size_t cap = o->cap ? o->cap : 4096;
		uint8_t *p;

		while (cap - o->len < n)
			cap *= 2;
		p = realloc(o->p, cap);
		if (!p) {
			o->rc = FEED_ENOMEM;
			return;
		}
		o->p = p;
		o->cap = cap;
	}
	memcpy(o->p + o->len, v, n);
	o->len += n;
}

static void put_be(struct out *o, uint64_t v, size_t n)
{
	uint8_t b[8];

	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
	put(o, b, n);
}

/* Every key of queue qid in dbi, as entries of `tag`. Not feed__seek:
 * `idem` keys may be shorter than qid | u64. */
static int put_db(feed_t *feed, MDB_txn *txn, uint64_t qid, unsigned tag,
		  struct out *o)
{
	uint8_t k[8];
	MDB_cursor *cur;
	MDB_val key = {8, k}, val;
	MDB_cursor_op op = MDB_SET_RANGE;
	int rc = feed__err(mdb_cursor_open(txn, *tag_dbi(feed, tag), &cur));

	if (rc)
		return rc;
	feed__be64(k, qid);
	for (;;) {
		uint8_t b = (uint8_t)tag;

		feed__touch();
		rc = feed__err(mdb_cursor_get(cur, &key, &val, op));
		op = MDB_NEXT;
		if (rc || o->rc || key.mv_size < 8 ||
		    feed__get_be64(key.mv_data) != qid)
			break;
		if (val.mv_size > UINT32_MAX) {
			rc = FEED_ECORRUPT;
			break;
		}
		put(o, &b, 1);
		put_be(o, key.mv_size - 8, 2);
		put_be(o, val.mv_size, 4);
		put(o, (const uint8_t *)key.mv_data + 8, key.mv_size - 8);
		put(o, val.mv_data, val.mv_size);
	}
	mdb_cursor_close(cur);
	if (rc == FEED_ENOTFOUND)
		rc = 0;
	return rc ? rc : o->rc;
}

static int export_txn(feed_t *feed, MDB_txn *txn, const char *project,
		      const char *name, struct out *o)
{
	struct feed__queue q;
	uint8_t k[FEED_PROJECT_MAX + 1 + FEED_NAME_MAX];
	MDB_val key, val;
	uint64_t next;
	uint8_t zero = 0;
	int rc = feed__queue_find(feed, txn, project, name, &q);

	if (rc == 0)
		rc = feed__qid_peek(feed, txn, &next);
	if (rc)
		return rc;
	key.mv_size = feed__name_key(k, project, name);
	key.mv_data = k;
	rc = feed__err(mdb_get(txn, feed->names, &key, &val));
	if (rc)
		return rc == FEED_ENOTFOUND ? FEED_ECORRUPT : rc;
	if (val.mv_size < 8)
		return FEED_ECORRUPT;
	put(o, MAGIC, 8);
	put_be(o, VERSION, 4);
	put_be(o, FEED__FORMAT, 4);
	put(o, &(uint32_t){BOM}, 4);
	put_be(o, next, 8);
	put_be(o, strlen(project), 2);
	put_be(o, strlen(name), 2);
	put(o, project, strlen(project));
	put(o, name, strlen(name));
	put_be(o, val.mv_size - 8, 4);
	put(o, (const uint8_t *)val.mv_data + 8, val.mv_size - 8);
	q.rec.name_len = 0; /* the name is the header's */
	put_be(o, sizeof(q.rec), 4);
	put(o, &q.rec, sizeof(q.rec));
	for (unsigned tag = 1; rc == 0 && tag < N_TAGS; tag++)
		rc = put_db(feed, txn, q.qid, tag, o);
	put(o, &zero, 1);
	return rc ? rc : o->rc;
}

int feed_queue_export(feed_t *feed, const char *project, const char *name,
		      void **blob, size_t *len)
{
	struct out o = {NULL, 0, 0, 0};
	MDB_txn *txn;
	int rc = feed__name_check(project, name);

	*blob = NULL;
	*len = 0;
	if (rc)
		return rc;
	rc = feed__read_begin(feed, &txn);
	if (rc)
		return rc;
	rc = export_txn(feed, txn, project, name, &o);
	feed__read_end(feed, txn);
	if (rc == 0) {
		put_be(&o, crc32_of(o.p, o.len), 4);
		rc = o.rc;
	}
	if (rc) {
		free(o.p);
		return rc;
	}
	*blob = o.p;
	*len = o.len;
	return 0;
}

/* ----------------------------------------------------------------- in */

/* A blob, read: the header's fields and where the entries start. */
struct blob {
	uint64_t next_qid;
	char project[FEED_PROJECT_MAX + 1];
	char name[FEED_NAME_MAX + 1];
	const uint8_t *meta;
	size_t meta_len;
	struct feed__qrec rec;
	const uint8_t *entries, *end; /* end: at the checksum */
};

struct in {
	const uint8_t *p, *end;
	bool bad;
};

static const uint8_t *take(struct in *in, size_t n)
{
	const uint8_t *p = in->p;

	if (in->bad || n > (size_t)(in->end - in->p)) {
		in->bad = true;
		return NULL;
	}
	in->p += n;
	return p;
}

static uint64_t take_be(struct in *in, size_t n)
{
	const uint8_t *p = take(in, n);
	uint64_t v = 0;

	for (size_t i = 0; p && i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* One entry at in->p: *tag (0: the end), key suffix and value. */
static void take_entry(struct in *in, unsigned *tag, MDB_val *k, MDB_val *v)
{
	*tag = (unsigned)take_be(in, 1);
	if (*tag == 0 || in->bad)
		return;
	k->mv_size = take_be(in, 2);
	v->mv_size = take_be(in, 4);
	k->mv_data = (void *)take(in, k->mv_size);
	v->mv_data = (void *)take(in, v->mv_size);
	if (*tag >= N_TAGS || k->mv_size > 511 - 8)
		in->bad = true;
}

/*
 * Reads the blob's header and checks the whole of it: checksum, version,
 * format and byte order, lengths, and that its entries run to the end
 * marker just before the checksum. FEED_EINVAL for anything else than a
 * blob feed_queue_export() made, FEED_EVERSION for one of another format.
 */
static int blob_read(const void *data, size_t len, size_t max_meta,
		     struct blob *b)
{
	struct in in = {data, (const uint8_t *)data + len, false};
	const uint8_t *p;
	uint32_t bom;
	size_t plen, nlen, qlen;
	unsigned tag;
	MDB_val k, v;

	if (!data || len < HEAD_LEN + 4)
		return FEED_EINVAL;
	in.p = in.end - 4;
	if (crc32_of(data, len - 4) != (uint32_t)take_be(&in, 4))
		return FEED_EINVAL;
	in.p = data;
	in.end -= 4;
	p = take(&in, 8);
	if (memcmp(p, MAGIC, 8) || take_be(&in, 4) != VERSION)
		return FEED_EINVAL;
	if (take_be(&in, 4) != FEED__FORMAT)
		return FEED_EVERSION;
	memcpy(&bom, take(&in, 4), 4);
	if (bom != BOM)
		return FEED_EVERSION;
	b->next_qid = take_be(&in, 8);
	plen = take_be(&in, 2);
	nlen = take_be(&in, 2);
	if (plen > FEED_PROJECT_MAX || nlen == 0 || nlen > FEED_NAME_MAX ||
	    !(p = take(&in, plen + nlen)))
		return FEED_EINVAL;
	memcpy(b->project, p, plen);
	b->project[plen] = '\0';
	memcpy(b->name, p + plen, nlen);
	b->name[nlen] = '\0';
	b->meta_len = take_be(&in, 4);
	b->meta = take(&in, b->meta_len);
	qlen = take_be(&in, 4);
	if (in.bad || qlen != sizeof(b->rec) || !(p = take(&in, qlen)) ||
	    strlen(b->project) != plen || strlen(b->name) != nlen)
		return FEED_EINVAL;
	if (b->meta_len > max_meta)
		return FEED_ETOOBIG;
	memcpy(&b->rec, p, sizeof(b->rec));
	if ((b->rec.flags & FEED__Q_DROPPED) || b->rec.generation == 0 ||
	    b->rec.generation > FEED__QID_MAX ||
	    b->next_qid <= b->rec.generation ||
	    b->next_qid > FEED__QID_MAX + 1)
		return FEED_EINVAL;
	b->entries = in.p;
	do
		take_entry(&in, &tag, &k, &v);
	while (!in.bad && tag != 0);
	if (in.bad || in.p != in.end)
		return FEED_EINVAL;
	b->end = in.end;
	return 0;
}

static int import_fn(feed_t *feed, MDB_txn *txn, void *arg)
{
	const struct blob *b = arg;
	struct feed__queue q;
	struct in in = {b->entries, b->end, false};
	uint8_t k[8 + 511];
	MDB_val key, val;
	unsigned tag;
	int rc = feed__queue_find(feed, txn, b->project, b->name, &q);

	if (rc == 0)
		return FEED_EEXISTS;
	if (rc != FEED_ENOQUEUE)
		return rc;
	/* The generations rule (feed.h): this node's next ones come after
	 * every one the source gave. */
	rc = feed__qid_raise(feed, txn, b->next_qid);
	if (rc == 0)
		rc = feed__qid_next(feed, txn, &q.qid);
	if (rc)
		return rc;
	q.rec = b->rec;
	q.key_len = feed__name_key(q.key, b->project, b->name);
	rc = feed__queue_save(feed, txn, &q);
	if (rc)
		return rc;
	key = (MDB_val){q.key_len, q.key};
	val.mv_size = 8 + b->meta_len;
	rc = feed__err(mdb_put(txn, feed->names, &key, &val, MDB_RESERVE));
	if (rc)
		return rc;
	memcpy(val.mv_data, &q.qid, 8);
	if (b->meta_len)
		memcpy((uint8_t *)val.mv_data + 8, b->meta, b->meta_len);
	if (q.rec.due_ms) {
		feed__be64(k, q.rec.due_ms);
		feed__be64(k + 8, q.qid);
		rc = feed__index_set(txn, feed->due, k, 16, true);
	}
	feed__be64(k, q.qid);
	for (take_entry(&in, &tag, &key, &val); rc == 0 && tag != 0;
	     take_entry(&in, &tag, &key, &val)) {
		memcpy(k + 8, key.mv_data, key.mv_size);
		key = (MDB_val){8 + key.mv_size, k};
		feed__touch();
		rc = mdb_put(txn, *tag_dbi(feed, tag), &key, &val,
			     MDB_NOOVERWRITE);
		/* A key twice: no export makes that. */
		rc = rc == MDB_KEYEXIST ? FEED_EINVAL : feed__err(rc);
	}
	return rc;
}

static int import_op(feed_t *feed, feed_txn_t *t, const void *blob,
		     size_t len, char *project, char *name)
{
	struct blob b;
	int rc = blob_read(blob, len, feed->max_metadata, &b);

	if (project)
		project[0] = '\0';
	if (name)
		name[0] = '\0';
	if (rc == 0)
		rc = feed__run(feed, t, import_fn, &b, 0);
	if (rc == 0 && project)
		memcpy(project, b.project, strlen(b.project) + 1);
	if (rc == 0 && name)
		memcpy(name, b.name, strlen(b.name) + 1);
	return rc;
}

int feed_queue_import(feed_t *feed, const void *blob, size_t len,
		      char *project, char *name)
{
	return import_op(feed, NULL, blob, len, project, name);
}

int feed_queue_import_tx(feed_txn_t *txn, const void *blob, size_t len,
			 char *project, char *name)
{
	return import_op(feed__txn_feed(txn), txn, blob, len, project, name);
}

int feed_blob_peek(const void *blob, size_t len, char *project, char *name,
		   uint64_t *next_generation)
{
	struct blob b;
	int rc = blob_read(blob, len, SIZE_MAX, &b);

	if (rc)
		return rc;
	if (project)
		memcpy(project, b.project, strlen(b.project) + 1);
	if (name)
		memcpy(name, b.name, strlen(b.name) + 1);
	if (next_generation)
		*next_generation = b.next_qid;
	return 0;
}

/* ------------------------------------------------------ the counter */

static int raise_fn(feed_t *feed, MDB_txn *txn, void *arg)
{
	return feed__qid_raise(feed, txn, *(const uint64_t *)arg);
}

int feed_generation_raise_tx(feed_txn_t *txn, uint64_t floor)
{
	feed_t *feed = feed__txn_feed(txn);

	if (floor == 0 || floor > FEED__QID_MAX + 1)
		return FEED_EINVAL;
	return feed__run(feed, txn, raise_fn, &floor, 0);
}

int feed_generation_next(feed_t *feed, uint64_t *next)
{
	MDB_txn *txn;
	int rc = feed__read_begin(feed, &txn);

	*next = 0;
	if (rc)
		return rc;
	rc = feed__qid_peek(feed, txn, next);
	feed__read_end(feed, txn);
	return rc;
}

/* ---------------------------------------------------- every queue */

int feed_queue_scan(feed_t *feed, feed_scan_fn fn, void *ctx)
{
	MDB_txn *txn;
	MDB_cursor *cur;
	MDB_val key, val;
	int rc = feed__read_begin(feed, &txn);

	if (rc)
		return rc;
	rc = feed__err(mdb_cursor_open(txn, feed->names, &cur));
	if (rc) {
		feed__read_end(feed, txn);
		return rc;
	}
	for (MDB_cursor_op op = MDB_FIRST; rc == 0; op = MDB_NEXT) {
		char project[FEED_PROJECT_MAX + 1], name[FEED_NAME_MAX + 1];
		const char *k, *nul;
		size_t plen, nlen;

		rc = feed__err(mdb_cursor_get(cur, &key, &val, op));
		if (rc)
			break;
		feed__touch();
		k = key.mv_data;
		nul = memchr(k, '\0', key.mv_size);
		if (!nul)
			continue;
		plen = (size_t)(nul - k);
		nlen = key.mv_size - plen - 1;
		if (plen > FEED_PROJECT_MAX || nlen == 0 ||
		    nlen > FEED_NAME_MAX)
			continue;
		memcpy(project, k, plen);
		project[plen] = '\0';
		memcpy(name, nul + 1, nlen);
		name[nlen] = '\0';
		rc = fn(project, name, ctx);
	}
	if (rc == FEED_ENOTFOUND)
		rc = 0;
	mdb_cursor_close(cur);
	feed__read_end(feed, txn);
	return rc;
}
