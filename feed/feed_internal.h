/*
 * feed_internal.h - what the files of feed/ share: the environment struct,
 * the LMDB layout, record formats and the feed__ helpers. Never included
 * outside feed/.
 *
 * LMDB layout (all integers in keys are big-endian, so LMDB's byte order is
 * the log order; values are host-endian structs, read and written with
 * memcpy because LMDB does not align values):
 *
 *   database  key                                   value
 *   --------  ------------------------------------  -------------------------
 *   info      "format" | "next_qid"                 u32 | u64
 *   names     project \0 name                       qid u64 | metadata bytes
 *   queues    qid                                   struct feed__qrec | name key
 *   msgs      qid | seq                             struct feed__mrec | body
 *   expiry    qid | expires_ms | first_seq          (empty)
 *   avail     qid | seq                             (empty)
 *   claims    qid | claim id (16)                   struct feed__crec | seq u64[n]
 *                                                   [| struct feed__cretry]
 *   cexpiry   qid | expires_ms | claim id (16)      (empty)
 *   due       due_ms | qid                          (empty)
 *   lost      qid | first_seq                       u64 last_seq | u64 count
 *   delayed   qid | due_ms | seq                    (empty)
 *             qid | FEED__BY_SEQ | seq              (empty)
 *   idem      qid | key bytes (1..FEED_IDEM_KEY_MAX)  struct feed__irec
 *   iexpiry   qid | expires_ms | key bytes          (empty)
 *   subs      qid | subscription id (16)            struct feed__srec | uri | options
 *   sexpiry   qid | expires_ms | subscription id    (empty)
 *   suri      qid | hash64(uri) | subscription id   (empty)
 *
 * The qid is the queue's internal key prefix: every creation takes the
 * next one from `next_qid`, so records of a deleted queue can never be
 * confused with those of its successor. Ids carry the queue's generation
 * (qrec.generation), not its qid: for a queue created here they are the
 * same number; a queue imported from another node (move.c) gets a qid of
 * this environment and keeps the generation its ids were made with, so
 * markers held by its readers stay valid. An id whose generation is not
 * the queue's is stale. `next_qid` is also the floor of generations: a
 * move raises it to at least the source's (feed.h, "Moving a queue"), so
 * a generation is never given twice across the nodes a queue moved over.
 * Format 2 records end before `generation`: they read as generation = qid
 * (feed__queue_load), and the format 3 upgrade writes it in (upgrade.c).
 *
 * Expiry by runs: every stored message is covered by an `expiry` entry,
 * but an entry is the start of a run, not one per message. The entry
 * qid | E | s covers the present messages from s on, in seq order, whose
 * expiry is E, up to the first present message with another expiry, the
 * next entry qid | E | s' of the same expiry (s' > s), or the end of the
 * queue's keys. Removed messages are simply absent (a seek skips them)
 * and end no run; an entry whose run has no message left is stale and
 * compaction drops it when its time comes. Runs of one expiry never
 * overlap (the next entry of that expiry bounds them), and a message is
 * in at most one run (its expiry picks the run's E), so walking the runs
 * due by now visits each expired message once.
 *   - Appending: qrec.tail_expires_ms is the expiry of the run still open
 *     at the tail (0 = closed). A message with that expiry continues it
 *     for free; any other puts qid | E | seq and opens a run at E. So a
 *     request of n messages with one ttl, and the requests of one group
 *     commit for one queue, cost one entry.
 *   - Raising a message's expiry (claims) moves it out of its run: it
 *     joins the run of its previous present message if that has the new
 *     expiry, else starts qid | new | seq; its old start entry (if any)
 *     goes, and qid | old | next is put when the next present message
 *     has the old expiry, so the rest of the old run stays covered.
 *   - Compaction takes the first entries of a queue whose E is due and
 *     removes their runs; stats count the messages of those runs.
 * (FEED__M_INDEXED of format 1 is retired; format 2's upgrade, upgrade.c,
 * adds the run starts old data lacks.)
 *
 * Lost ranges: `lost` holds qid | first -> {last, count}: every seq in
 * [first, last] is gone, and `count` of them were lost to the readers that
 * had not passed them (expired and removed, or purged); the others were
 * deleted or popped, i.e. consumed. count = FEED__LOST_UNKNOWN when it is
 * not known (holes a format-1 store left). Ranges never overlap; a range
 * is merged with its neighbours whenever nothing is present between them,
 * so their number is bounded by the live messages (and later deletions)
 * between them, not by history. A range's first and last seqs are always
 * lost ones (it grows only by losses), so a range reaching past a marker
 * holds a loss after it: a gap found through `lost` is never spurious,
 * only its count may be unknown. A read checks a hole after its marker
 * against them (log.c) instead of calling every hole lost.
 *
 * Claiming without scanning claimed or delayed messages: the queue's
 * claim cursor divides its log. Messages at or after the cursor are
 * "fresh": a claim meets them in log order, once, and moves the cursor
 * past them. Below it, the unclaimed messages that are ready (released,
 * or passed over for another reason) are listed in `avail`. A message
 * appended with a delay gets its two `delayed` entries at append, one by
 * due time (what claims walk) and one by seq (what a reader jumping over
 * claimed runs must not pass), and keeps them until it is taken or
 * removed, wherever it is. A claim takes from `avail` first, then from
 * `delayed` what is due (earliest due first; the first entry not yet due
 * is also its wake time), then fresh messages from the cursor on,
 * stepping over delayed ones. So a claim never visits a message it
 * cannot take, except expired ones (removed on the way) and, in the fresh
 * region only, delayed messages appended behind a backlog - and those
 * steps are bounded per call (claim.c), the cursor keeping the progress.
 * A delayed message appended while the cursor is at the tail moves the
 * cursor over it at once, so when consumers keep up the fresh region
 * holds no delayed messages at all.
 *
 * A message is "delayed" (feed__msg_delayed) when it was appended with a
 * delay and never claimed (claim_count 0, due time after its creation),
 * or when a claim let it go with a delay - a retry backoff or a release
 * with a delay - and no claim took it since (FEED__M_RETRY, set only on
 * an unclaimed message with claim_count > 0 and cleared when a claim
 * takes it): a rule on the record alone, the same at any clock. Both
 * kinds have the same two `delayed` entries at their due time and are
 * taken from there as due. Format 1 never set the bit, so its upgrade
 * rule (claim.c) is unchanged.
 *
 * record.c owns the formats of `msgs`, `claims` and the index entries
 * (`expiry`, `avail`, `cexpiry`, `due`, `delayed`) and keeps them in step
 * with each other; queue.c owns `names` and `queues`.
 *
 * Invariants, per queue:
 *   - mrec.claim_id != 0  <=>  the message is in that claim's record and
 *     counted in qrec.claimed and crec.live (until the claim is released,
 *     even after it expired); it has neither an `avail` nor a `delayed`
 *     entry;
 *   - claim_id == 0 and feed__msg_delayed  <=>  both `delayed` entries
 *     (qid, due_ms, seq) and (qid, FEED__BY_SEQ, seq), at any seq; then no
 *     `avail` entry;
 *   - claim_id == 0, not feed__msg_delayed, and (seq < claim_cursor or
 *     claim_count > 0)  <=>  an `avail` entry. So for seq < claim_cursor
 *     an unclaimed message has exactly one of an `avail` or a `delayed`
 *     entry; at or after the cursor it has a `delayed` entry iff it was
 *     appended with a delay and not taken yet, and an `avail` entry only
 *     if a claim took it from `delayed` ahead of the cursor and let it go;
 *   - every stored message is covered by exactly one run (above);
 *   - every seq in a `lost` range is absent from `msgs`, and
 *     qrec.expired_max_seq >= the last seq of every range;
 *   - qrec.due_ms != 0  <=>  a `due` entry (due_ms, qid), and due_ms is no
 *     later than the earliest expiry of any message or claim of the queue
 *     (its first `expiry` and `cexpiry` entries).
 * feed_debug_check() verifies these but crec.live and the last one.
 *
 * Idempotency keys: `idem` maps a key a publisher sent with a message
 * to the seq it was stored under and the end of its window; `iexpiry`
 * lists the same entries by that end, so compaction finds the ones whose
 * window passed in O(expired) (first keys of qid in `iexpiry`). Per
 * queue: idem qid | key  <=>  iexpiry qid | irec.expires_ms | key. An
 * entry past its window is dead whether compaction removed it yet or not
 * (the append checks the time), and qrec.due_ms is also no later than
 * the queue's first `iexpiry` entry. Keys name a generation: a queue
 * deleted and created again starts without any. feed_debug_check()
 * (check.c) verifies these for every live queue.
 *
 * Subscriptions (sub.c): `subs` holds each with its marker; `sexpiry` and
 * `suri` index them by expiry and by a hash of the subscriber URI, one
 * entry each, and qrec.due_ms is also no later than the queue's first
 * `sexpiry` entry.
 */
#ifndef HERALD_FEED_INTERNAL_H
#define HERALD_FEED_INTERNAL_H

#include <lmdb.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>

#include "feed.h"

/* Read transactions kept for reuse; a reader slot each. */
#define FEED__IDLE_READERS 32

struct feed {
	MDB_env *env;
	MDB_dbi info, names, queues, msgs, expiry, avail, claims, cexpiry, due,
		lost, delayed, idem, iexpiry, subs, sexpiry, suri;
	/* One writer at a time; it alone may resize the map. */
	pthread_mutex_t wlock;
	/* Held shared by every transaction, exclusively to resize the map
	 * (LMDB requires that no transaction is active then). */
	pthread_rwlock_t maplock;
	uint64_t map_size, max_map_size, reserve;
	size_t max_metadata;
	/* Read transactions kept reset for reuse (env.c), under rlock. */
	pthread_mutex_t rlock;
	MDB_txn *idle[FEED__IDLE_READERS];
	unsigned n_idle;
};

/* Internal error: the map is full; the write runner grows it and retries. */
#define FEED__EMAPFULL (-30999)
/* Internal: a group's segment must run again (env.c). */
#define FEED__ERETRY (-30998)

/* --------------------------------------------------------- cost counter */

/*
 * Records this thread's feed calls touched: every record or index entry
 * read (a seek, a step, a get) or written (a put, a delete) counts one.
 * feed_debug_touched() hands it to cost tests; the count is per thread,
 * so counting costs an increment and no lock. It is also the meter of
 * the claim walk's budget (claim.c), so it counts in every build.
 */
extern _Thread_local uint64_t feed__touched;

static inline void feed__touch(void)
{
	feed__touched++;
}

/* malloc, but failing when a test asked for it (feed_debug_fail_alloc). */
void *feed__malloc(size_t size);

/* ------------------------------------------------------------- records */

enum {
	FEED__Q_DROPPED = 1u << 0, /* deleted; compaction reclaims it */
};

struct feed__qrec {
	uint64_t created_ms;
	uint64_t next_seq;        /* seq of the next message; the first is 1 */
	uint64_t count;           /* stored messages, expired ones included */
	uint64_t claimed;         /* messages held by unreleased claims */
	uint64_t claim_cursor;    /* see "Claiming" above */
	uint64_t tail_expires_ms; /* expiry of the open tail run, 0 = closed */
	uint64_t expired_max_seq; /* highest seq of a `lost` range */
	uint64_t deleted_max_seq; /* format 1 only; unused since */
	uint64_t due_ms;          /* its `due` entry, 0 when none */
	uint32_t flags;           /* FEED__Q_* */
	uint32_t name_len;        /* name key (project \0 name) follows */
	uint64_t generation;      /* in its ids (above); format 3 on */
};

/* A format 2 queue record's size: everything before `generation`. */
#define FEED__QREC_V2 offsetof(struct feed__qrec, generation)

enum {
	/* Bit 0 was format 1's FEED__M_INDEXED (an `expiry` entry of its
	 * own); old records may still carry it. Reserved, ignored. */
	FEED__M_RESERVED0 = 1u << 0,
	/* Let go by a claim with a delay, not taken since: delayed until
	 * due_ms (see feed__msg_delayed). */
	FEED__M_RETRY = 1u << 1,
};

struct feed__mrec {
	uint64_t created_ms;
	uint64_t expires_ms;
	uint64_t due_ms; /* visible from */
	uint64_t claim_expires_ms;
	uint8_t client_id[16];
	uint8_t claim_id[16]; /* all zero when not in a claim */
	uint32_t claim_count;
	uint32_t flags; /* FEED__M_* */
};

struct feed__crec {
	uint64_t updated_ms;
	uint64_t expires_ms;
	uint32_t ttl_s;
	uint32_t grace_s;
	uint32_t live; /* messages of seqs[] still held by this claim */
	uint32_t n;    /* seqs follow */
};

/* A queue looked up in a transaction. */
struct feed__queue {
	uint64_t qid;
	struct feed__qrec rec;
	size_t key_len;
	uint8_t key[FEED_PROJECT_MAX + 1 + FEED_NAME_MAX];
};

/* ----------------------------------------------------------------- keys */

static inline void feed__be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static inline uint64_t feed__get_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* qid | seq, the key of `msgs` and `avail`. */
static inline void feed__msg_key(uint8_t k[16], uint64_t qid, uint64_t seq)
{
	feed__be64(k, qid);
	feed__be64(k + 8, seq);
}

static inline bool feed__zero16(const uint8_t *p)
{
	static const uint8_t zero[16];

	return memcmp(p, zero, 16) == 0;
}

/* Largest generation and seq an id can carry. */
#define FEED__QID_MAX ((UINT64_C(1) << 40) - 1)
#define FEED__SEQ_MAX ((UINT64_C(1) << 56) - 1)

void feed__id_format(char out[FEED_ID_LEN + 1], uint64_t gen, uint64_t seq);
void feed__claim_id_format(char out[FEED_CLAIM_ID_LEN + 1],
			   const uint8_t id[16]);

/* ---------------------------------------------------------- environment */

/* Translates an LMDB return code to a FEED_E* code (MAP_FULL internal). */
int feed__err(int mdb_rc);

/* Flags of feed__write. */
enum {
	/* The write frees space: it may use the reserve above the maximum. */
	FEED__W_FREES = 1u << 0,
};

typedef int (*feed__write_fn)(feed_t *feed, MDB_txn *txn, void *ctx);

/*
 * Runs fn in a write transaction of its own (a group commit of one job)
 * and commits it. When the map is full, aborts, grows the map and runs fn
 * again (fn must therefore only report results through ctx once it is
 * about to succeed, or reset them at its start). Returns fn's error, a
 * commit error, or FEED_EFULL.
 */
int feed__write(feed_t *feed, feed__write_fn fn, void *ctx, unsigned flags);

/*
 * Every write goes through this: with t NULL, feed__write(); otherwise fn
 * runs in the job transaction t of a group commit (feed_write_group), once
 * (a job that needs a bigger map is run again whole by the group).
 * FEED_EFULL without running fn when t's map is in its reserve and fn does
 * not free space (flags).
 */
int feed__run(feed_t *feed, feed_txn_t *t, feed__write_fn fn, void *ctx,
	      unsigned flags);
/* The environment of a job transaction. */
feed_t *feed__txn_feed(feed_txn_t *t);

/* A short read transaction: begin, use, end. */
int feed__read_begin(feed_t *feed, MDB_txn **txn);
void feed__read_end(feed_t *feed, MDB_txn *txn);

/* The format of the store, in `info` "format". 3: queue records carry
 * their generation; 2 had none (generation = qid); 2 and on: every
 * message covered by an `expiry` run, and `lost`; 1 had `expiry` entries
 * for out-of-order messages only (upgrade.c brings 1 and 2 to 3). */
#define FEED__FORMAT 3u

/*
 * Brings a store of an older format (`format`, read from `info`) to the
 * current one in bounded write transactions, writing the new format last,
 * so a crash part-way leaves the old format and the next open redoes it
 * (every step is idempotent). upgrade.c; called by feed_open.
 */
int feed__upgrade(feed_t *feed, uint32_t format);

/* ---------------------------------------------------------------- queues */

/* Checks a project / queue name pair (lengths, no NUL). */
int feed__name_check(const char *project, const char *name);

/* Finds the live queue; FEED_ENOQUEUE when missing. */
int feed__queue_find(feed_t *feed, MDB_txn *txn, const char *project,
		     const char *name, struct feed__queue *q);
/* Finds the queue or creates it; *created may be NULL. */
int feed__queue_open(feed_t *feed, MDB_txn *txn, const char *project,
		     const char *name, const void *meta, size_t meta_len,
		     uint64_t now_ms, struct feed__queue *q, bool *created);
/* Loads a queue by qid (live or dropped). */
int feed__queue_load(feed_t *feed, MDB_txn *txn, uint64_t qid,
		     struct feed__queue *q);
/* Writes q->rec back. */
int feed__queue_save(feed_t *feed, MDB_txn *txn, struct feed__queue *q);
/* The name key of project/name (project \0 name) into key; its length. */
size_t feed__name_key(uint8_t *key, const char *project, const char *name);

/* `info` "next_qid", the next queue's qid and generation: *next (1 when
 * never set); the next one taken (FEED_EFULL past FEED__QID_MAX); raised
 * to at least floor (never lowered: feed.h, "Moving a queue"). */
int feed__qid_peek(feed_t *feed, MDB_txn *txn, uint64_t *next);
int feed__qid_next(feed_t *feed, MDB_txn *txn, uint64_t *qid);
int feed__qid_raise(feed_t *feed, MDB_txn *txn, uint64_t floor);

/* ---------------------------------------------- records (record.c) */

/* A callback's "stop here, no error" (positive: never a FEED_E* code). */
#define FEED__STOP 1

/*
 * Seeking within one queue's keys (every database but `info`, `names` and
 * `due` is keyed qid | ...). feed__seek positions cur at the first key at
 * or after qid | from; feed__seek_key at or after the given key (which
 * starts with qid); feed__step moves to the next key. Each returns 0 with
 * key/val pointing into the map, or FEED_ENOTFOUND past the queue's keys.
 * feed__first is feed__seek on a cursor of its own: key and val stay valid
 * until the next write of the transaction.
 */
int feed__seek(MDB_cursor *cur, uint64_t qid, uint64_t from, MDB_val *key,
	       MDB_val *val);
int feed__seek_key(MDB_cursor *cur, uint64_t qid, const uint8_t *k,
		   size_t len, MDB_val *key, MDB_val *val);
int feed__step(MDB_cursor *cur, uint64_t qid, MDB_val *key, MDB_val *val);
int feed__first(MDB_txn *txn, MDB_dbi dbi, uint64_t qid, uint64_t from,
		MDB_val *key, MDB_val *val);

/* How many keys of queue qid dbi holds (a walk: tests and checks). */
int feed__count(MDB_txn *txn, MDB_dbi dbi, uint64_t qid, uint64_t *n);

/* The one put-or-delete of an index entry (empty value): on = present.
 * Deleting an entry that is not there is not an error. */
int feed__index_set(MDB_txn *txn, MDB_dbi dbi, const void *k, size_t len,
		    bool on);
/* The `expiry` entry qid | t | seq and the `avail` entry qid | seq. */
int feed__expiry_set(feed_t *feed, MDB_txn *txn, uint64_t qid, uint64_t t,
		     uint64_t seq, bool on);
int feed__avail_set(feed_t *feed, MDB_txn *txn, uint64_t qid, uint64_t seq,
		    bool on);

/* The seq-ordered half of `delayed`: its keys carry this instead of a
 * due time (no due time reaches it), so they sort after every due one. */
#define FEED__BY_SEQ UINT64_MAX
/* Both `delayed` entries of message seq, due at due_ms. */
int feed__delayed_set(feed_t *feed, MDB_txn *txn, uint64_t qid,
		      uint64_t due_ms, uint64_t seq, bool on);
/* Append's one call for each new message m: when it is appended with a
 * delay, lists it in `delayed` and, if the claim cursor is at it, moves
 * the cursor past it (so that claims never step over it). The caller
 * saves q. */
int feed__delayed_appended(feed_t *feed, MDB_txn *txn, struct feed__queue *q,
			   uint64_t seq, const struct feed__mrec *m);
/* Lowers *next to the first seq after `after` with a `delayed` entry, if
 * there is one below *next. One seek. */
int feed__delayed_next(feed_t *feed, MDB_txn *txn, uint64_t qid,
		       uint64_t after, uint64_t *next);

/* Replaces the queue's `due` entry by due_ms (0 = remove it), and moves it
 * to min(current, due_ms) (0 = no change). */
int feed__due_set(feed_t *feed, MDB_txn *txn, struct feed__queue *q,
		  uint64_t due_ms);
int feed__due_lower(feed_t *feed, MDB_txn *txn, struct feed__queue *q,
		    uint64_t due_ms);

/* Why a message goes. EXPIRED and PURGED are losses: feed__msg_remove
 * records them in `lost`; EXPIRED_NOTED is an expiry whose caller records
 * the loss itself (compaction, a run at a time, with feed__lost_add). */
enum feed__why {
	FEED__EXPIRED,
	FEED__DELETED,
	FEED__PURGED,
	FEED__EXPIRED_NOTED,
};

/* A message value: header copied to *m, body (may be NULL) borrowed from
 * the map; FEED_ECORRUPT when too short. */
int feed__mrec_decode(const MDB_val *val, struct feed__mrec *m,
		      MDB_val *body);
/* Fills a value reserved (MDB_RESERVE) for sizeof(*m) + len bytes. */
void feed__mrec_encode(MDB_val *val, const struct feed__mrec *m,
		       const void *body, size_t len);

/* Reads message seq into *m (and its body, borrowed from the map, valid
 * until the next write); FEED_ENOTFOUND when missing. */
int feed__msg_load(feed_t *feed, MDB_txn *txn, uint64_t qid, uint64_t seq,
		   struct feed__mrec *m, MDB_val *body);
/* Writes a message; `body` must not point into the map. */
int feed__msg_store(feed_t *feed, MDB_txn *txn, uint64_t qid, uint64_t seq,
		    const struct feed__mrec *m, const MDB_val *body);
/* Writes a message header back with its body as loaded (`map_body`, which
 * may point into the map: it is copied before anything is written), its
 * expiry first raised to keep_ms if that is later (0: no change). */
int feed__msg_rewrite(feed_t *feed, MDB_txn *txn, struct feed__queue *q,
		      uint64_t seq, struct feed__mrec *m,
		      const MDB_val *map_body, uint64_t keep_ms);
/* Sets a message's expiry (in *m, which the caller stores), keeping
 * `expiry` runs and `due` in step: moves the message out of its run (see
 * "Expiry by runs"). Cost: three seeks and at most three index writes. */
int feed__msg_set_expiry(feed_t *feed, MDB_txn *txn, struct feed__queue *q,
			 uint64_t seq, struct feed__mrec *m,
			 uint64_t expires_ms);
/*
 * Removes message seq (its record `m`) with everything that points at it:
 * its avail entry or its place in its claim, the queue's counters, and a
 * `lost` record for a loss (enum feed__why). Its run's entry stays (a
 * removed message ends no run). The caller saves q afterwards.
 */
int feed__msg_remove(feed_t *feed, MDB_txn *txn, struct feed__queue *q,
		     uint64_t seq, const struct feed__mrec *m,
		     enum feed__why why);

/* Appends message m (body not in the map) at the tail of q, with its
 * index entries, as an append does; *seq = its seq. For moves between
 * queues (dead letters, redrive). The caller saves q. */
int feed__msg_append(feed_t *feed, MDB_txn *txn, struct feed__queue *q,
		     const struct feed__mrec *m, const MDB_val *body,
		     uint64_t *seq);

/* The open tail run: a message appended with expiry E at seq continues
 * it, or starts qid | E | seq. */
int feed__run_append(feed_t *feed, MDB_txn *txn, struct feed__queue *q,
		     uint64_t seq, uint64_t expires_ms);
/* *bound = seq of the next `expiry` entry of queue qid with expiry t after
 * seq `after` (where the run from `after` ends at the latest), UINT64_MAX
 * when none. One seek. */
int feed__run_bound(feed_t *feed, MDB_txn *txn, uint64_t qid, uint64_t t,
		    uint64_t after, uint64_t *bound);

/* A `lost` count that is not known. */
#define FEED__LOST_UNKNOWN UINT64_MAX

struct feed__lost {
	uint64_t last, count;
};

/*
 * Records that every seq in [first, last] of q is gone (the caller removed
 * them, or they were absent), `count` of them lost. Merges the range with
 * the previous and next ones when nothing is present between them, and
 * raises q->rec.expired_max_seq (the caller saves q). Cost: at most four
 * seeks and three writes.
 */
int feed__lost_add(feed_t *feed, MDB_txn *txn, struct feed__queue *q,
		   uint64_t first, uint64_t last, uint64_t count);
/* The range of qid with the greatest first <= seq (*found), copied out:
 * *first and *l. Two cursor moves at most. */
int feed__lost_at_or_before(feed_t *feed, MDB_txn *txn, uint64_t qid,
			    uint64_t seq, uint64_t *first, struct feed__lost *l,
			    bool *found);
/* The one put of a `lost` record (no merging: upgrade.c). */
int feed__lost_put(feed_t *feed, MDB_txn *txn, uint64_t qid, uint64_t first,
		   const struct feed__lost *l);

static inline bool feed__claimed(const struct feed__mrec *m, uint64_t now_ms)
{
	return !feed__zero16(m->claim_id) && m->claim_expires_ms > now_ms;
}

/* Appended with a delay and never claimed since: it has `delayed` entries
 * (see the invariants above). Time-independent on purpose. */
static inline bool feed__msg_delayed(const struct feed__mrec *m)
{
	return (m->claim_count == 0 && m->due_ms > m->created_ms) ||
	       (m->flags & FEED__M_RETRY) != 0;
}

/* A claim record, copied out of the map (seqs malloc'd: free(c->seqs),
 * also after a failed load). A claim created with a retry backoff stores
 * it after seqs[] (struct feed__cretry); a record without that tail has
 * none, so older records read as before. */
struct feed__cretry {
	uint32_t delay_s, delay_max_s;
};

struct feed__claim {
	uint8_t id[16];
	struct feed__crec rec;
	uint64_t *seqs;
	struct feed__cretry retry; /* zero: none */
};

/* The backoff of a message let go after its claim_count-th claim, ms: 0
 * without a policy. */
uint64_t feed__retry_delay_ms(const struct feed__cretry *r,
			      uint32_t claim_count);

/* FEED_ENOCLAIM when missing. */
int feed__claim_load(feed_t *feed, MDB_txn *txn, uint64_t qid,
		     const uint8_t id[16], struct feed__claim *c);
int feed__claim_store(feed_t *feed, MDB_txn *txn, uint64_t qid,
		      const struct feed__claim *c);
/* The claim's `cexpiry` entry (at c->rec.expires_ms). */
int feed__claim_expiry_set(feed_t *feed, MDB_txn *txn, uint64_t qid,
			   const struct feed__claim *c, bool on);
/* Calls fn for each message still held by claim c (the body borrowed from
 * the map: valid until the next write); fn returns 0 or an error. */
typedef int (*feed__held_fn)(feed_t *feed, MDB_txn *txn, uint64_t seq,
			     struct feed__mrec *m, MDB_val *body, void *ctx);
int feed__claim_each(feed_t *feed, MDB_txn *txn, uint64_t qid,
		     const struct feed__claim *c, feed__held_fn fn, void *ctx);
/* Lets go of every message of claim c (back into `avail`, or with the
 * claim's backoff from its expiry into `delayed`) and deletes the claim
 * with its `cexpiry` entry. The caller saves q. */
int feed__claim_drop(feed_t *feed, MDB_txn *txn, struct feed__queue *q,
		     const struct feed__claim *c);
/* The same, the messages claimable again from base_ms + delay_ms (0:
 * at once), or with delay_ms FEED__BACKOFF, base_ms + their backoff. */
#define FEED__BACKOFF UINT64_MAX
int feed__claim_let_go(feed_t *feed, MDB_txn *txn, struct feed__queue *q,
		       const struct feed__claim *c, uint64_t base_ms,
		       uint64_t delay_ms);
/* Removes a message from the claim holding it (the message is going). */
int feed__claim_forget(feed_t *feed, MDB_txn *txn, struct feed__queue *q,
		       const struct feed__mrec *m);

/*
 * The one walk over expired claims: calls fn for every claim of queue qid
 * whose expiry is at most now_ms and that is not released yet, earliest
 * first. fn may write (in a write transaction), release the claim, and
 * returns 0 to go on, FEED__STOP to stop, or an error (returned). With
 * `fix`, index entries without their claim are deleted on the way
 * (otherwise skipped). Cost: one seek per expired claim.
 */
typedef int (*feed__claim_fn)(feed_t *feed, MDB_txn *txn,
			      struct feed__claim *c, void *ctx);
int feed__claims_expired(feed_t *feed, MDB_txn *txn, uint64_t qid,
			 uint64_t now_ms, bool fix, feed__claim_fn fn,
			 void *ctx);
/* Releases claims of q that expired by now_ms, at most budget; *n counts
 * them. */
int feed__claims_release_expired(feed_t *feed, MDB_txn *txn,
				 struct feed__queue *q, uint64_t now_ms,
				 size_t budget, size_t *n);
/* *t = the earliest expiry after now_ms of a claim of queue qid, 0 when
 * there is none. One seek in `cexpiry`. */
int feed__claims_next_expiry(feed_t *feed, MDB_txn *txn, uint64_t qid,
			     uint64_t now_ms, uint64_t *t);

/*
 * claim.c: the per-queue step of the format 1 -> 2 upgrade. Format 1 had
 * no `delayed`: a delayed message was parked in `avail` once a claim had
 * passed it, or had no entry at all ahead of the cursor. This gives every
 * unclaimed message appended with a delay (feed__msg_delayed) its
 * `delayed` entries and takes it out of `avail`. Idempotent; visits each
 * `avail` entry and each message at or after the claim cursor once (no
 * clock involved). q is not changed.
 */
int feed__claims_upgrade(feed_t *feed, MDB_txn *txn, struct feed__queue *q);

/* ------------------------------------------- idempotency keys (record.c) */

/* The value of an `idem` entry. */
struct feed__irec {
	uint64_t seq;        /* the message stored with the key */
	uint64_t expires_ms; /* end of the key's window */
};

/* Looks key up in queue qid: 0 with *rec filled, FEED_ENOTFOUND when
 * missing (dead entries, past their window, are found too: the caller
 * compares). One get. */
int feed__idem_get(feed_t *feed, MDB_txn *txn, uint64_t qid, const void *key,
		   size_t len, struct feed__irec *rec);
/* Puts (on) or deletes both entries of key, `idem` and its `iexpiry`
 * entry at rec->expires_ms. Two writes; deleting a missing pair is not
 * an error. The caller keeps `due` in step (feed__due_lower). */
int feed__idem_set(feed_t *feed, MDB_txn *txn, uint64_t qid, const void *key,
		   size_t len, const struct feed__irec *rec, bool on);

/* ------------------------------------------------ subscriptions (sub.c) */

/* Compaction's step for subscriptions: removes the queue's subscriptions
 * whose ttl passed by now_ms, earliest first, while fewer than `budget`
 * records were touched; adds how many to *removed. */
int feed__subs_expire(feed_t *feed, MDB_txn *txn, struct feed__queue *q,
		      uint64_t now_ms, size_t budget, size_t *removed);
/* feed_debug_check()'s part (check.c): q's subscriptions against their
 * `sexpiry` and `suri` entries, markers and due time. FEED_ECORRUPT with
 * *what saying why. */
int feed__subs_check(feed_t *feed, MDB_txn *txn, const struct feed__queue *q,
		     const char **what);

/* ------------------------------------------------ result sets (key.c) */

/* Lowers a wake-up time *wake (0 = none) to t (0 = no change). */
static inline void feed__wake_min(uint64_t *wake, uint64_t t)
{
	if (t && (*wake == 0 || t < *wake))
		*wake = t;
}

/* Builds a feed_msgs_t: append messages (bodies copied), then finish. */
struct feed__msgbuf {
	feed_msgs_t *out;
	size_t cap;
	size_t arena_used, arena_cap;
};
void feed__msgbuf_init(struct feed__msgbuf *b, feed_msgs_t *out);
int feed__msgbuf_add(struct feed__msgbuf *b, uint64_t gen, uint64_t seq,
		     const struct feed__mrec *m, const MDB_val *body,
		     uint64_t now_ms);
/* Points the bodies into the arena; call once, after the last add. */
void feed__msgbuf_finish(struct feed__msgbuf *b);

#endif /* HERALD_FEED_INTERNAL_H */
