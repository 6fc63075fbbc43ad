/*
 * feed.h - Herald's storage engine: queues as append-only logs in LMDB.
 *
 * This header is feed's manual. It is the only header the rest of Herald
 * includes; everything behind it is private to feed/.
 *
 * Model
 * -----
 * A feed environment (feed_t) is one LMDB environment in one directory.
 * It holds queues, namespaced by project. A queue is an append-only log of
 * messages numbered 1, 2, 3, ... (its sequence numbers). Each message has an
 * opaque body, a creation time, an expiry time (creation + ttl, raised by
 * claims), an optional delay, the client id of its publisher, and, while it is
 * claimed, the id of the claim holding it.
 *
 * Ids and markers
 * ---------------
 * A message id is FEED_ID_LEN lowercase hex characters that encode the queue's
 * generation and the message's sequence number. Every time a queue is
 * created it gets a new generation, so an id or marker taken from a queue
 * that was deleted and created again is recognised as stale instead of being
 * misread as a position in the new log. A queue moved to another
 * environment keeps its generation (see "Moving a queue" for the rule that
 * keeps generations increasing across environments). A marker is simply the id of the last
 * message a reader saw. Claim ids are random UUIDs (FEED_CLAIM_ID_LEN chars).
 *
 * Conventions
 * -----------
 * - Fallible functions return 0 on success or a negative FEED_E* code, and
 *   hand results back through out-parameters. feed_strerror() names a code.
 *   Nothing in feed/ prints.
 * - Time is a parameter: every call whose result depends on time takes
 *   `now_ms`, milliseconds since the Unix epoch. feed never reads the clock.
 * - Pointer arguments are borrowed for the duration of the call. Results are
 *   copies owned by the caller; no pointer into the database escapes. Whoever
 *   fills a feed_msgs_t or feed_queue_list_t frees it with the matching _free.
 * - Thread safety: a feed_t may be used from several threads at once. Reads
 *   run in parallel in short read transactions; writes are serialised (LMDB
 *   allows one write transaction at a time). A write returns only after its
 *   transaction committed in the configured durability mode.
 * - Queue names and project ids are byte strings: a project id of at most
 *   FEED_PROJECT_MAX bytes, a name of 1..FEED_NAME_MAX bytes, neither
 *   containing NUL. Naming rules beyond that belong to the caller.
 */
#ifndef HERALD_FEED_H
#define HERALD_FEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- errors */

/* X(name, value, description). Values are negative and far from errno. */
#define FEED_ERRORS(X)                                                         \
	X(FEED_EINVAL, -30900, "invalid argument")                             \
	X(FEED_EBADID, -30901, "malformed message id, marker or claim id")     \
	X(FEED_ENOQUEUE, -30902, "queue does not exist")                       \
	X(FEED_ENOTFOUND, -30903, "message does not exist")                    \
	X(FEED_ENOCLAIM, -30904, "claim does not exist or has expired")        \
	X(FEED_ECLAIMED,                                                       \
	  -30905, "message is claimed; its live claim id is required")         \
	X(FEED_ENOTCLAIMED,                                                    \
	  -30906, "a claim id was given but the message is not claimed")      \
	X(FEED_ETOOBIG, -30907, "value too large")                             \
	X(FEED_EFULL, -30908, "storage full")                                  \
	X(FEED_ENOMEM, -30909, "out of memory")                                \
	X(FEED_EIO, -30910, "storage error")                                   \
	X(FEED_ECORRUPT, -30911, "storage holds an unexpected record")         \
	X(FEED_EVERSION, -30912, "storage was written by another format")     \
	X(FEED_EEXISTS, -30913, "it exists already")

enum feed_error {
	FEED_OK = 0,
#define FEED__ENUM(name, value, text) name = value,
	FEED_ERRORS(FEED__ENUM)
#undef FEED__ENUM
};

/* A static string describing `err` (a FEED_E* code or 0). Never NULL. */
const char *feed_strerror(int err);

/* The storage library under feed, as its version string names it (e.g.
 * "LMDB 0.9.24: (July 24, 2019)"): for `herald --version`. Static. */
const char *feed_version(void);

/* ----------------------------------------------------------- environment */

#define FEED_ID_LEN 24       /* message ids and markers, hex characters */
#define FEED_CLAIM_ID_LEN 36 /* claim ids: canonical UUID form */
#define FEED_PROJECT_MAX 256
#define FEED_NAME_MAX 64

typedef struct feed feed_t;

enum feed_durability {
	/* Default. A committed write survives a process crash and a power
	 * loss: every commit is flushed to disk before it returns. */
	FEED_SYNC = 0,
	/* Commits are not flushed (LMDB's MDB_NOSYNC, without MDB_WRITEMAP):
	 * each is written to the OS, which writes it back when it will. A
	 * process crash loses nothing committed. A system crash or power
	 * loss may lose the commits since the last flush, and - lmdb.h: "a
	 * system crash can corrupt the database ... However, if the
	 * filesystem preserves write order and the MDB_WRITEMAP flag is not
	 * used ... database integrity is maintained" - may corrupt the file
	 * unless the file system writes in the order it was given. Commits
	 * up to a feed_sync() that returned 0 are on disk. */
	FEED_NOSYNC = 1,
};

typedef struct feed_options {
	/* Initial map size in bytes; 0 = 64 MiB. Rounded to the page size.
	 * The map grows by doubling when a write needs more room. */
	uint64_t map_size;
	/* Most the data may grow to, in bytes; 0 = 1 TiB. Past it, writes
	 * that add data fail with FEED_EFULL, while reads, deletes, claim
	 * releases and compaction keep working (they may use a small reserve
	 * above the maximum). */
	uint64_t max_map_size;
	enum feed_durability durability;
	/* Most concurrent read transactions; 0 = 510. */
	unsigned max_readers;
	/* Largest queue metadata accepted, bytes; 0 = 65536. */
	size_t max_metadata;
} feed_options_t;

/*
 * Opens (creating if needed) the environment in directory `dir`, which must
 * exist. `opts` may be NULL for the defaults. Clears reader slots left by
 * dead processes. One process must not open the same directory twice, and
 * a feed_t must not cross fork(): open it in the process that uses it.
 * On success *out owns the environment; close it with feed_close().
 */
int feed_open(feed_t **out, const char *dir, const feed_options_t *opts);

/* Closes the environment. No call on it may be running or follow. NULL ok. */
void feed_close(feed_t *feed);

/* Flushes committed data to disk. In FEED_NOSYNC mode this makes every
 * commit so far durable; in FEED_SYNC mode they already are (a no-op). */
int feed_sync(feed_t *feed);

/* Clears reader slots of dead processes; returns how many through *cleared
 * (may be NULL). Cheap; call it now and then. */
int feed_check_readers(feed_t *feed, int *cleared);

typedef struct feed_env_info {
	uint64_t map_size;     /* current map size, bytes */
	uint64_t max_map_size; /* configured maximum, bytes */
	uint64_t used_bytes;   /* pages in use by the last commit, bytes */
	unsigned readers;      /* reader slots in use */
} feed_env_info_t;

int feed_env_info(feed_t *feed, feed_env_info_t *out);

/* Records in the whole environment, from LMDB's entry counts: O(1), not a
 * walk (stats.c). queues: queues that exist (topics included); messages:
 * stored message records - live ones plus the expired ones compaction has
 * not removed yet and those of deleted queues not reclaimed yet; claims:
 * claim records not released yet (expired ones included). For metrics. */
typedef struct feed_env_totals {
	uint64_t queues, messages, claims;
} feed_env_totals_t;

int feed_env_totals(feed_t *feed, feed_env_totals_t *out);

/* ---------------------------------------------------------------- backup */

typedef struct feed_backup_info {
	uint64_t source_bytes; /* size of the source's data file, bytes */
	uint64_t backup_bytes; /* size of the compacted copy, bytes */
} feed_backup_info_t;

/*
 * Hot backup: writes a compacted, consistent copy of the environment in
 * `data_dir` into `target_dir`, which must be an existing empty directory,
 * while a server (another process) goes on reading and writing it. The copy
 * is the last commit before the call began: every write acknowledged
 * before then is in it. It holds only data.mdb, free pages left out, and
 * is flushed to disk before this returns; feed_open() opens it like any
 * environment (and makes its lock file then).
 *
 * The calling process opens the environment read-only for the duration
 * (it needs write access to its lock file, as every LMDB reader does), so
 * it must not be a process that has `data_dir` open already: never call it
 * in the server. Run as root, it gives the lock file to the owner of the
 * data file (it may have created it), so the server's user can open it.
 * The server's writes are never blocked; pages they free cannot be reused
 * until the copy ends, so the source may grow by what is written
 * meanwhile.
 *
 * Errors: FEED_EINVAL when target_dir is missing or not a directory (errno
 * says which), FEED_EEXISTS when it holds anything, FEED_ENOTFOUND when
 * data_dir holds no environment (no data.mdb), FEED_EIO for a system error
 * (errno set: EACCES, ENOSPC, ...). On failure nothing is left in
 * target_dir. `info` may be NULL.
 */
int feed_backup(const char *data_dir, const char *target_dir,
		feed_backup_info_t *info);

/* ---------------------------------------------------------------- queues */

/*
 * Creates the queue if it does not exist; *created (may be NULL) says
 * whether it did. `metadata` (may be NULL, `meta_len` 0) is stored only when
 * the queue is created. Metadata are opaque bytes to feed (JSON to Herald).
 */
int feed_queue_create(feed_t *feed, const char *project, const char *name,
		      const void *metadata, size_t meta_len, uint64_t now_ms,
		      bool *created);

/*
 * Deletes the queue with all its messages and claims; succeeds if it did not
 * exist. The queue disappears at once (a new queue of the same name is a new
 * generation); its records are reclaimed by feed_compact() in bounded steps,
 * so deleting a queue of any size is quick.
 */
int feed_queue_delete(feed_t *feed, const char *project, const char *name);

/* *exists = whether the queue exists. */
int feed_queue_exists(feed_t *feed, const char *project, const char *name,
		      bool *exists);

/*
 * Metadata. get: *meta is a new malloc'd copy (free() it; NULL when empty),
 * *len its length; FEED_ENOQUEUE if the queue does not exist.
 * set: replaces the metadata whole; FEED_ETOOBIG past max_metadata;
 * FEED_ENOQUEUE for a missing queue (set never creates one).
 * feed_queue_create with metadata past max_metadata: FEED_ETOOBIG,
 * nothing created.
 */
int feed_queue_meta_get(feed_t *feed, const char *project, const char *name,
			void **meta, size_t *len);
int feed_queue_meta_set(feed_t *feed, const char *project, const char *name,
			const void *meta, size_t len);

typedef struct feed_queue_entry {
	char *name;     /* NUL-terminated */
	void *metadata; /* may be NULL when meta_len is 0 */
	size_t meta_len;
} feed_queue_entry_t;

typedef struct feed_queue_list {
	feed_queue_entry_t *v;
	size_t n;
} feed_queue_list_t;

/* The most entries one feed_queue_list call returns. */
#define FEED_QUEUE_LIST_MAX 1024

/*
 * Lists the project's queues in name order (bytewise), those whose name sorts
 * after `marker` (NULL or "" = from the first), at most `limit`, and never
 * more than FEED_QUEUE_LIST_MAX (a larger limit is capped silently; page on
 * from the last name). Metadata are copied only when `with_metadata`. Free
 * with feed_queue_list_free().
 */
int feed_queue_list(feed_t *feed, const char *project, const char *marker,
		    size_t limit, bool with_metadata, feed_queue_list_t *out);
void feed_queue_list_free(feed_queue_list_t *list);

/* Number of queues in the project. */
int feed_queue_count(feed_t *feed, const char *project, uint64_t *count);

typedef struct feed_msg_ref {
	char id[FEED_ID_LEN + 1];
	uint64_t created_ms;
} feed_msg_ref_t;

typedef struct feed_queue_stats {
	uint64_t total;   /* live messages: not expired, not deleted */
	uint64_t claimed; /* of those, in a live claim */
	uint64_t free;    /* total - claimed */
	feed_msg_ref_t oldest, newest; /* valid when total > 0 */
	/* Messages ever appended to this generation of the queue; posted -
	 * total have gone (deleted, popped or expired). Rates come from
	 * differences of these over time. */
	uint64_t posted;
} feed_queue_stats_t;

/*
 * Exact counts at `now_ms`. Costs O(log n) plus the expired messages and
 * claims that compaction has not yet removed (and the queue's expiry runs
 * due by now): never a scan of the queue, whatever the mix of ttls. For a
 * queue compaction has caught up with, a handful of records, also at
 * millions of messages. A queue that does not exist has all counts 0 (not
 * an error).
 */
int feed_queue_stats(feed_t *feed, const char *project, const char *name,
		     uint64_t now_ms, feed_queue_stats_t *out);

/*
 * The marker "from now": a read from it returns exactly the messages
 * appended to the queue after this call (and reports a gap if the queue is
 * deleted and created again in between, as for any stale marker). For an
 * existing queue it is always a real marker, also when the queue is empty
 * or was never appended to (the marker before its next message). For a
 * queue that does not exist it is "" and the call succeeds: every message
 * a read from "" can find in a queue created later was appended after the
 * call. Cost: O(log n), one lookup of the queue record; never a walk.
 */
int feed_queue_tail(feed_t *feed, const char *project, const char *queue,
		    char marker[FEED_ID_LEN + 1]);

/* -------------------------------------------------------------- messages */

typedef struct feed_msg_in {
	const void *body; /* opaque bytes, copied */
	size_t body_len;
	uint32_t ttl_s;   /* > 0 */
	uint32_t delay_s; /* hidden from reads and claims until due */
} feed_msg_in_t;

/*
 * A message's idempotency key: opaque bytes (copied), 1..FEED_IDEM_KEY_MAX
 * of them; len 0 = none. Given per request in a parallel array
 * (feed_append_req_t.keys) rather than in feed_msg_in_t, so that the
 * callers that fill feed_msg_in_t by position stay as they are.
 */
typedef struct feed_key {
	const void *key;
	size_t len;
} feed_key_t;

/* Longest idempotency key, bytes. */
#define FEED_IDEM_KEY_MAX 320
/* The window of a key when a request names none, seconds. */
#define FEED_IDEM_WINDOW_S 300

/*
 * Idempotent appends
 * ------------------
 * A message may carry a key. Within the key's window - from the append
 * that stored a message with it, for the request's idem_window_s (0 =
 * FEED_IDEM_WINDOW_S) - a message with the same key in the same queue is
 * a repeat: it is not stored, its id in `ids` is the ORIGINAL message's
 * and dups[i] says so. A repeat stays a repeat for the whole window even
 * when the original has been deleted, claimed or has expired since (as
 * SQS's deduplication ids): the window belongs to the key, not to the
 * message. After the window the key is free and the next message with
 * it is stored (and starts a new window). Two messages of one request
 * with one key: the second is a repeat of the first. Keys are per queue
 * generation (the same key in two queues, or in a queue deleted and
 * created again, is independent), durable like the messages (a reopen
 * keeps them), and removed by feed_compact() once their window passed,
 * in O(expired) like messages; a deleted queue's keys are reclaimed with
 * it. Cost: a keyed message costs one more lookup and, when stored, two
 * index writes (O(log n)); a repeat costs the lookup only. Messages
 * without a key cost nothing more.
 */

/* Flags of feed_append_req_t. */
enum {
	/* Fail with FEED_ENOQUEUE instead of creating a missing queue. */
	FEED_APPEND_NO_CREATE = 1u << 0,
};

/*
 * One publisher's batch, for group commit. The caller fills the inputs;
 * feed_append_group() fills `status` and `ids`. The batch is all or
 * nothing: either every message is committed or none is.
 */
typedef struct feed_append_req {
	const char *project;
	const char *queue;
	const feed_msg_in_t *msgs;
	size_t n_msgs;          /* >= 1 */
	uint8_t client_id[16];  /* publisher (a UUID's 16 bytes) */
	unsigned flags;         /* FEED_APPEND_* */
	/* results */
	int status;             /* 0, or why this batch failed */
	/* seq of its last message stored, when status 0 (0 when every
	 * message was a repeat) */
	uint64_t last_seq;
	/* Caller's array of n_msgs, filled; may be NULL. A repeat's is the
	 * original message's id. */
	char (*ids)[FEED_ID_LEN + 1];
	/* Idempotency keys: n_msgs entries, keys[i] for msgs[i]; NULL =
	 * none (see "Idempotent appends"). */
	const feed_key_t *keys;
	/* Window of the keys this request stores, seconds; 0 =
	 * FEED_IDEM_WINDOW_S. Set by the caller (e.g. a queue's setting). */
	uint32_t idem_window_s;
	/* Caller's array of n_msgs, filled: dups[i] = message i was a
	 * repeat, not stored (see "Idempotent appends"); may be NULL. */
	bool *dups;
	size_t n_dups; /* result: how many were repeats, when status 0 */
} feed_append_req_t;

/*
 * Group commit of appends: appends every request's batch in ONE write
 * transaction (one fsync), creating queues as needed - feed_write_group()
 * with one feed_append_tx() job per request. On return EVERY request's
 * `status` is set, on every path: 0 when its batch is committed, else why
 * not (e.g. FEED_EINVAL for a bad request, FEED_EFULL, FEED_ENOMEM). A
 * failing request never takes the others down. Returns 0, or a negative
 * code when the shared transaction itself failed (or the arguments are
 * unusable); the statuses say which requests are committed either way.
 * Messages within a queue are numbered in the order of `reqs`.
 */
int feed_append_group(feed_t *feed, feed_append_req_t *reqs, size_t n,
		      uint64_t now_ms);

/* One batch, one transaction: a group of one. `ids` may be NULL. */
int feed_append(feed_t *feed, const char *project, const char *queue,
		const feed_msg_in_t *msgs, size_t n_msgs,
		const uint8_t client_id[16], uint64_t now_ms,
		char (*ids)[FEED_ID_LEN + 1]);

/* A message as returned by reads, gets, claims and pops. */
typedef struct feed_msg {
	char id[FEED_ID_LEN + 1];
	uint64_t seq;
	uint64_t created_ms;
	uint64_t expires_ms;  /* current: a claim may have raised it */
	uint64_t due_ms;      /* visible from (created + delay) */
	uint8_t client_id[16];
	/* the live claim holding it, or "" when not claimed at `now_ms` */
	char claim_id[FEED_CLAIM_ID_LEN + 1];
	uint64_t claim_expires_ms;
	uint32_t claim_count; /* times it was claimed */
	const void *body;     /* owned by the enclosing feed_msgs_t */
	size_t body_len;
} feed_msg_t;

typedef struct feed_msgs {
	feed_msg_t *v;
	size_t n;
	/* Reads only: the marker to pass to the next read ("" when there is
	 * nothing to resume from: an empty queue read from its start). */
	char next_marker[FEED_ID_LEN + 1];
	/*
	 * Reads only: true when messages after the marker are gone that this
	 * reader never saw and can no longer see: expired (whether removed
	 * by compaction yet or not) or purged - or the marker belongs to a
	 * deleted generation of the queue. Deleted and popped messages were
	 * consumed, and are never a gap. The read then resumes from the
	 * oldest message still there. `missed` is how many, exact whenever
	 * feed can know it; -1 when unknown (a stale generation; a range of
	 * removed messages that reaches back over the marker and mixes lost
	 * and deleted ones; holes a format-1 store left).
	 */
	bool gap;
	int64_t missed;
	/*
	 * Reads only: 0, or the earliest time after now_ms at which this
	 * same read (same marker, same options) could return more without
	 * any write: the due time of a delayed message the read stopped at
	 * (or the earliest it skipped, with FEED_READ_SKIP_DELAYED), or the
	 * expiry of a live
	 * claim on a message the read skipped as claimed (then the earliest
	 * live-claim expiry of the queue, which may be earlier: a wake at
	 * wake_ms may find nothing new, never miss something). For a
	 * subscriber's due timer. Costs at most O(log n) beyond the read.
	 */
	uint64_t wake_ms;
	/* private */
	char *arena_;
} feed_msgs_t;

/* Frees what a read/get/claim/pop put into `msgs`; leaves it empty. */
void feed_msgs_free(feed_msgs_t *msgs);

/* Flags of feed_read_opts_t. */
enum {
	FEED_READ_INCLUDE_CLAIMED = 1u << 0, /* list messages in live claims */
	FEED_READ_ECHO = 1u << 1,            /* list the reader's own messages */
	FEED_READ_INCLUDE_DELAYED = 1u << 2, /* list messages not yet due */
	/* Step over messages not yet due instead of stopping before them
	 * (the rule of Zaqar's HTTP listing; see feed_read). */
	FEED_READ_SKIP_DELAYED = 1u << 3,
};

typedef struct feed_read_opts {
	size_t limit;          /* most messages to return, >= 1 */
	unsigned flags;        /* FEED_READ_* */
	uint8_t client_id[16]; /* the reader, for echo suppression */
} feed_read_opts_t;

/*
 * Reads messages strictly after `marker` (NULL or "" = from the oldest), up
 * to opts->limit, in log order. Expired messages are never returned;
 * claimed ones and the reader's own are skipped unless the flags ask for
 * them. A message not yet due (delayed) is not skipped by default: the read
 * stops before it, so a marker never passes a message its reader has not
 * been shown (what a live subscriber wants). FEED_READ_INCLUDE_DELAYED lists
 * delayed messages; FEED_READ_SKIP_DELAYED (ignored with INCLUDE_DELAYED)
 * steps over them like claimed ones, so the read goes on to the messages
 * after them and next_marker passes them: a reader paging on from that
 * marker will not see them once due (Zaqar's listing: delayed messages are
 * left out and its marker moves past them). Its wake_ms is then the
 * earliest due time it stepped over.
 *
 * out->next_marker is the marker for the next read; it advances over the
 * skipped messages too. See feed_msgs_t for gaps: a read never jumps over
 * lost messages silently; it stops before such a hole and the next read
 * reports it.
 *
 * A queue that does not exist reads as empty. A malformed marker is
 * FEED_EBADID. Messages still stored but expired after the marker count
 * as lost like removed ones. Cost: O(log n + limit + skipped), where runs
 * of claimed messages are jumped over rather than walked; a hole in the
 * log costs nothing when nothing was lost after the marker, else O(1)
 * amortised (one forward walk over the queue's lost ranges per read).
 */
int feed_read(feed_t *feed, const char *project, const char *queue,
	      const char *marker, const feed_read_opts_t *opts,
	      uint64_t now_ms, feed_msgs_t *out);

/*
 * Gets messages by id, in the order given, skipping ids that do not exist,
 * expired, or are not of this queue's generation. No claim, echo or delay
 * filter. `get` of one id: FEED_ENOTFOUND when missing.
 * Malformed ids are FEED_EBADID (get) or skipped (get_many).
 */
int feed_get(feed_t *feed, const char *project, const char *queue,
	     const char *id, uint64_t now_ms, feed_msgs_t *out);
int feed_get_many(feed_t *feed, const char *project, const char *queue,
		  const char *const *ids, size_t n, uint64_t now_ms,
		  feed_msgs_t *out);

/*
 * Deletes one message. `claim_id` NULL or "": allowed unless the message is
 * in a live claim (FEED_ECLAIMED). With a claim id, checked in this order
 * (Zaqar's): a message that does not exist (or expired) succeeds with
 * nothing removed; FEED_ENOTCLAIMED if the message is not in a live claim,
 * whatever claim id came with it (also one that does not exist or
 * expired); FEED_ENOCLAIM if the named claim does not exist or expired;
 * FEED_ECLAIMED if another live claim holds it. A malformed claim id (not
 * a UUID, or the nil UUID) names no claim: FEED_ENOCLAIM before anything
 * is looked up. *deleted (may be NULL) says whether something was
 * removed. A malformed message id is FEED_EBADID.
 */
int feed_delete(feed_t *feed, const char *project, const char *queue,
		const char *id, const char *claim_id, uint64_t now_ms,
		bool *deleted);

/*
 * Deletes every listed message that exists, claimed or not, in one
 * transaction. Malformed or unknown ids are ignored. *deleted (may be NULL)
 * = how many were removed.
 */
int feed_delete_many(feed_t *feed, const char *project, const char *queue,
		     const char *const *ids, size_t n, uint64_t now_ms,
		     size_t *deleted);

/*
 * Removes and returns up to `limit` of the oldest messages that could be
 * claimed now (not claimed, not expired, due), in one transaction, found
 * as feed_claim_create finds them: same order, same cost, O(log n +
 * limit) records whatever else the queue holds, and the same bound: a pop
 * may stop at it and return fewer than `limit` messages (even none)
 * although more could be popped further on; the next pop goes on from
 * there.
 */
int feed_pop(feed_t *feed, const char *project, const char *queue,
	     size_t limit, uint64_t now_ms, feed_msgs_t *out);

/*
 * Purge in bounded steps: removes up to `budget` (>= 1) of the messages
 * feed_pop would take (not in a live claim, not expired, due), oldest
 * first, in one write transaction, without copying their bodies out.
 * Messages in live claims and messages not yet due stay, as with pops
 * (Zaqar's purge is a loop of pops); expired messages and claims met on
 * the way are removed as a pop removes them. *purged (may be NULL) = how
 * many were removed; *more (may be NULL) = whether the budget ran out, so
 * that another step may find more: call again while it is true. A step
 * is found as feed_claim_create finds messages and bounded the same way,
 * O(log n + budget) whatever else the queue holds: *more is also true when
 * the step stopped at that bound with fewer than `budget` removed (even
 * none). A queue that does not exist purges as empty.
 */
int feed_queue_purge(feed_t *feed, const char *project, const char *queue,
		     size_t budget, uint64_t now_ms, size_t *purged,
		     bool *more);

/* ---------------------------------------------------------------- claims */

typedef struct feed_claim {
	char id[FEED_CLAIM_ID_LEN + 1];
	uint64_t updated_ms; /* created or last renewed */
	uint64_t expires_ms;
	uint32_t ttl_s, grace_s;
	feed_msgs_t msgs;    /* its messages still present */
	/*
	 * feed_claim_create only, when it took fewer than `limit` messages
	 * (none included): 0, or the earliest time after now_ms at which more
	 * could become claimable without a write - the earliest expiry of a
	 * live claim of the queue, or the earliest due time of a delayed
	 * message of the queue not due yet. When the call stopped at its
	 * cost bound (see feed_claim_create), more may be claimable already:
	 * then it is now_ms + 1, "call again". 0 when it took `limit`. For a
	 * waiting claimer's timer (a long-poll claim).
	 */
	uint64_t wake_ms;
	/* feed_claim_create2 only: messages it moved to the dead-letter
	 * queue instead of claiming them (feed_claim_opts_t). */
	size_t dead_lettered;
} feed_claim_t;

/* Frees claim->msgs. */
void feed_claim_free(feed_claim_t *claim);

/*
 * Claims up to `limit` of the oldest claimable messages (not in a live
 * claim, not expired, due) for `ttl_s` seconds. A message whose expiry
 * would come before the claim's expiry + `grace_s` is kept alive until then.
 * Each claimed message's claim_count goes up by one.
 * When nothing is claimable: returns 0 with out->msgs.n == 0 and no claim
 * is created (out->id is "").
 *
 * Order: messages let go by other claims first (released ones, and those
 * of expired claims as they are released, earliest-expiring claim
 * first), oldest first; then delayed messages that are due, earliest due
 * first; then the rest in log order. So it is FIFO among messages that
 * were never delayed or claimed, and among delayed ones by due time.
 *
 * Cost: O(log n + limit) records, whatever the queue holds - claimed,
 * delayed or expired messages, expired claims: never a scan over any of
 * them. To keep that bound a call releases expired claims, earliest
 * first, while they hold at most 16 + limit messages in all (it stops at
 * the first that does not fit: later calls or compaction release it, and
 * only compaction one larger than 16 + limit; until then claims do not
 * find their messages), and it touches at most about 256 + 16 * limit
 * records. Where the log holds a long run of messages that cannot be
 * taken (delayed messages appended behind a backlog, expired ones), a
 * call may stop at that bound and return fewer than `limit` messages
 * (even none) although more are claimable further on; its progress is
 * kept, the next call goes on from there, and out->wake_ms says to call
 * again at once. Expired messages met on the way are removed.
 */
int feed_claim_create(feed_t *feed, const char *project, const char *queue,
		      uint32_t ttl_s, uint32_t grace_s, size_t limit,
		      uint64_t now_ms, feed_claim_t *out);

/*
 * What a queue's metadata asks of its claims; feed does not parse
 * metadata, so the caller says it, either directly or through `from_meta`.
 * All zero (or "") is feed_claim_create's behaviour.
 *
 * Dead letters (Zaqar v2's _max_claim_count and _dead_letter_queue): when
 * both max_claims and dlq are set, a message the claim would take whose
 * claim_count has reached max_claims is moved instead, in the claim's
 * transaction, to the queue `dlq` of the same project (created if
 * missing): appended at its tail as a new message of it (new id, age 0,
 * claim_count 0) with the same body and publisher, living dlq_ttl_s
 * seconds, or when 0 as long as it had left in the source. In the source
 * the move is a removal that consumed the message (as a delete or pop:
 * no gap for readers). So with max_claims N a message is claimed N
 * times and moved at the (N+1)-th claim that reaches it - Zaqar's
 * order. dlq naming the claimed queue itself means no dead-lettering.
 * Cost per move: O(1) records (a removal plus an append, with their
 * index entries).
 *
 * Retry backoff (a Herald extension): with retry_delay_s > 0, a message
 * of this claim that is let go - its claim released, or expired - is
 * claimable again only retry_delay_s * 2^(claim_count - 1) seconds
 * later, at most retry_delay_max_s (when below retry_delay_s:
 * retry_delay_s), counted from the release or from the claim's expiry.
 * Until then it is delayed as a message appended with a delay is:
 * hidden from claims (and from reads that skip delayed messages) and
 * claimable at exactly that time. The policy is stored with the claim
 * when it is created; later changes of the queue's don't change it.
 */
typedef struct feed_claim_opts {
	uint32_t max_claims;        /* 0 = no dead-lettering */
	char dlq[FEED_NAME_MAX + 1]; /* "" = none */
	uint32_t dlq_ttl_s;         /* 0 = the lifetime it has left */
	uint32_t retry_delay_s;     /* 0 = claimable again at once */
	uint32_t retry_delay_max_s;
	/*
	 * May be NULL. Called once per call, in the claim's transaction and
	 * before it writes, with the queue's metadata (borrowed, valid for
	 * the call only; NULL and 0 when it has none) and the options to
	 * fill: so the metadata cost no second transaction. Not called when
	 * the queue does not exist.
	 */
	void (*from_meta)(const void *meta, size_t len,
			  struct feed_claim_opts *opts, void *arg);
	void *arg;
} feed_claim_opts_t;

/*
 * feed_claim_create with options (`opts` may be NULL: none; when it has
 * from_meta, *opts is filled by it and the caller may read what it
 * chose, e.g. opts->dlq to notify that queue's waiters).
 * out->dead_lettered counts the messages moved; they count towards no
 * limit, and a call that moved some and claimed none is a claim of
 * nothing (out->id ""). A move counts against the call's cost bound as
 * a take does.
 */
int feed_claim_create2(feed_t *feed, const char *project, const char *queue,
		       uint32_t ttl_s, uint32_t grace_s, size_t limit,
		       feed_claim_opts_t *opts, uint64_t now_ms,
		       feed_claim_t *out);

/* The claim with its messages; FEED_ENOCLAIM if missing or expired (or
 * the claim id is malformed). */
int feed_claim_get(feed_t *feed, const char *project, const char *queue,
		   const char *claim_id, uint64_t now_ms, feed_claim_t *out);

/*
 * Renews a live claim: it now expires at now + ttl_s, and its messages live
 * at least until then + grace_s. FEED_ENOCLAIM if missing or expired.
 */
int feed_claim_renew(feed_t *feed, const char *project, const char *queue,
		     const char *claim_id, uint32_t ttl_s, uint32_t grace_s,
		     uint64_t now_ms);

/*
 * Releases a claim: its messages are claimable again at once (keeping any
 * lifetime the claim gave them), or, when the claim was created with a
 * retry backoff (feed_claim_opts_t), once their backoff from now has
 * passed. Succeeds if the claim does not exist.
 */
int feed_claim_release(feed_t *feed, const char *project, const char *queue,
		       const char *claim_id, uint64_t now_ms);

/* The claim's own backoff, for feed_claim_release2's delay_s. */
#define FEED_RELEASE_BACKOFF UINT32_MAX

/*
 * Release with a delay (a Herald extension, as a worker's "nack, retry
 * in N s"): the claim's messages become claimable again at now + delay_s
 * (0: at once, whatever the claim's backoff), as delayed messages until
 * then; delay_s FEED_RELEASE_BACKOFF is feed_claim_release. Renewing is
 * never needed for this: FEED_ENOCLAIM is not an error here either.
 */
int feed_claim_release2(feed_t *feed, const char *project, const char *queue,
			const char *claim_id, uint32_t delay_s,
			uint64_t now_ms);

/*
 * Redrive (a Herald extension, as SQS's DLQ redrive): moves up to
 * `budget` (>= 1) of the messages of `from` that a claim could take now
 * (the same ones, in the same order, found the same way and bounded as
 * feed_queue_purge's step) to the tail of `to` in the same project
 * (created if missing), in one transaction. Each keeps its body,
 * publisher and the lifetime it has left, and starts over in `to` as a
 * new message (new id, claim_count 0). In `from` it was consumed (no
 * gap). *moved (may be NULL) = how many; *more (may be NULL): call again
 * while true. `from` equal to `to`, or a queue that does not exist,
 * moves nothing. O(log n + budget) records.
 */
int feed_queue_redrive(feed_t *feed, const char *project, const char *from,
		       const char *to, size_t budget, uint64_t now_ms,
		       size_t *moved, bool *more);

/* ------------------------------------------------------------ compaction */

typedef struct feed_compact_result {
	size_t messages; /* expired messages removed */
	size_t claims;   /* expired claims released */
	size_t dropped;  /* records of deleted queues reclaimed */
	size_t keys;     /* idempotency keys past their window removed */
	size_t subs;     /* subscriptions past their ttl removed */
	/* Queues skipped because their records contradict each other
	 * (FEED_ECORRUPT inside them), and the generation (as in its message
	 * ids) of the last one; 0 and 0 normally. */
	size_t corrupt;
	uint64_t corrupt_qid;
	bool more;       /* work remained when the budget ran out */
} feed_compact_result_t;

/*
 * Removes expired messages, releases expired claims, removes idempotency
 * keys past their window and reclaims deleted queues in ONE write
 * transaction that touches at most about `budget`
 * records (0 = 1): the budget counts every record and index entry read or
 * written (as feed_debug_touched() does), checked after each step, so a
 * call goes past it by at most one step: about ten records for removing
 * messages, a few per message it holds for releasing one expired claim
 * (a claim is released whole). Writers are
 * never held long. Finds its work through an index of due times and, per
 * queue, an index of runs of messages of one expiry: O(expired), never
 * O(total) - live messages are not visited, whatever the mix of ttls and
 * claims. Call it on a timer; call again at once while out->more is true.
 *
 * A queue whose records are inconsistent does not stop compaction: its
 * work in this call is undone, it is counted in out->corrupt, and its due
 * time is pushed 60 s past now_ms, so later calls go on with the other
 * queues and retry it a minute later (its expired messages stay until
 * then; reads and stats still hide them). The call still returns 0.
 */
int feed_compact(feed_t *feed, uint64_t now_ms, size_t budget,
		 feed_compact_result_t *out);

/* ---------------------------------------------------------- group commit */

/*
 * Every write above commits on its own: one transaction, one flush in
 * FEED_SYNC mode. A program with many small writes waiting (a server with
 * many clients) can instead hand them to feed_write_group() as jobs, which
 * all share ONE transaction and one commit, and each stays all or nothing:
 * a job runs in a transaction of its own nested in the group's, so when
 * it fails only its writes are undone and the others are committed.
 *
 * A job is a function given a feed_txn_t, in which it calls the _tx forms
 * of the writes below (the same writes as above, with the same rules and
 * results, but committed with the group). One job may make several writes:
 * they commit together or not at all. Jobs run in order on the calling
 * thread, each seeing the writes of the jobs before it. The feed_txn_t is
 * valid only during the job's call.
 *
 * fn returns 0 or a FEED_E* code; its status is that code, or the
 * commit's error. A job may run more than once - when its writes need a
 * bigger map, the group commits the jobs before it, grows the map and
 * runs it again in a fresh transaction - so fn must start from its inputs
 * each time. The _tx calls help: each one that fails leaves its outputs
 * empty (as their plain forms do). A job that committed never runs again.
 */
typedef struct feed_txn feed_txn_t;
typedef int (*feed_job_fn)(feed_txn_t *txn, void *ctx);

/* Flags of feed_job_t. */
enum {
	/*
	 * The job refuses for reasons of its own only before it writes (as
	 * feed_append_tx does), so it may run straight in the group's
	 * transaction, saving the nested one (about 2 us of LMDB's
	 * bookkeeping). Should it fail for a reason of the storage, feed
	 * runs it again nested, and the jobs before it again too.
	 */
	FEED_JOB_DIRECT = 1u << 0,
};

typedef struct feed_job {
	feed_job_fn fn;
	void *ctx;
	int status;     /* set by feed_write_group: 0 = committed */
	unsigned flags; /* FEED_JOB_* */
} feed_job_t;

/*
 * Runs jobs[0..n) and commits them, normally in one transaction. On return
 * every job's status is set, and 0 means its writes are committed in the
 * configured durability mode; nothing of a job with another status is.
 * Returns 0, or a negative code when the shared transaction itself failed
 * (the jobs it held then have that status).
 */
int feed_write_group(feed_t *feed, feed_job_t *jobs, size_t n);

/* The writes, in a job of a group commit. */
int feed_append_tx(feed_txn_t *txn, feed_append_req_t *req, uint64_t now_ms);
int feed_queue_create_tx(feed_txn_t *txn, const char *project,
			 const char *name, const void *metadata,
			 size_t meta_len, uint64_t now_ms, bool *created);
int feed_queue_delete_tx(feed_txn_t *txn, const char *project,
			 const char *name);
int feed_queue_meta_set_tx(feed_txn_t *txn, const char *project,
			   const char *name, const void *meta, size_t len);
int feed_delete_tx(feed_txn_t *txn, const char *project, const char *queue,
		   const char *id, const char *claim_id, uint64_t now_ms,
		   bool *deleted);
int feed_delete_many_tx(feed_txn_t *txn, const char *project,
			const char *queue, const char *const *ids, size_t n,
			uint64_t now_ms, size_t *deleted);
int feed_pop_tx(feed_txn_t *txn, const char *project, const char *queue,
		size_t limit, uint64_t now_ms, feed_msgs_t *out);
int feed_queue_purge_tx(feed_txn_t *txn, const char *project,
			const char *queue, size_t budget, uint64_t now_ms,
			size_t *purged, bool *more);
int feed_claim_create_tx(feed_txn_t *txn, const char *project,
			 const char *queue, uint32_t ttl_s, uint32_t grace_s,
			 size_t limit, uint64_t now_ms, feed_claim_t *out);
int feed_claim_create2_tx(feed_txn_t *txn, const char *project,
			  const char *queue, uint32_t ttl_s, uint32_t grace_s,
			  size_t limit, feed_claim_opts_t *opts,
			  uint64_t now_ms, feed_claim_t *out);
int feed_claim_release2_tx(feed_txn_t *txn, const char *project,
			   const char *queue, const char *claim_id,
			   uint32_t delay_s, uint64_t now_ms);
int feed_queue_redrive_tx(feed_txn_t *txn, const char *project,
			  const char *from, const char *to, size_t budget,
			  uint64_t now_ms, size_t *moved, bool *more);
int feed_claim_renew_tx(feed_txn_t *txn, const char *project,
			const char *queue, const char *claim_id,
			uint32_t ttl_s, uint32_t grace_s, uint64_t now_ms);
int feed_claim_release_tx(feed_txn_t *txn, const char *project,
			  const char *queue, const char *claim_id,
			  uint64_t now_ms);
int feed_compact_tx(feed_txn_t *txn, uint64_t now_ms, size_t budget,
		    feed_compact_result_t *out);

/* ------------------------------------------------------- moving a queue */

/*
 * A queue moves to another environment (a shard moving between the nodes
 * of a cluster, docs/scale.md) as a blob: feed_queue_export() on the
 * source, feed_queue_import() on the target. The queue keeps everything -
 * its messages with their seqs, times and publishers, claims (same ids,
 * same expiry), delayed messages, lost ranges, idempotency keys,
 * subscriptions with their markers, metadata and counters - and its
 * generation, so its message ids, markers and next markers read on the
 * target exactly as on the source, and a reader goes on without a gap or
 * a repeat. (Inside, the target files it under a key prefix of its own.)
 *
 * The generations rule. A queue's generations must strictly increase
 * over its whole history, across every environment it lived in: a queue
 * deleted and created again must never get a generation a client may
 * still hold a marker of (it would read the new log as the old). Each
 * environment hands out generations from one counter, so a move raises
 * the target's counter to at least the source's (the blob carries it;
 * feed_queue_import does it in the same transaction). A program moving
 * queues another way, or moving a queue's shard with no queue in it yet,
 * raises it itself: feed_generation_next() on the source,
 * feed_generation_raise_tx() on the target.
 *
 * Writes to the queue on the source after its export are not in the
 * blob: the caller stops them before (the hub freezes the shard) and
 * deletes the source's copy only once the target holds the queue.
 */

/*
 * The queue as a blob: *blob (free() it) of *len bytes, a consistent
 * snapshot (one read transaction) with a version, the store format and a
 * checksum. Values are this build's records: import on a build of the
 * same store format and byte order. FEED_ENOQUEUE when missing.
 */
int feed_queue_export(feed_t *feed, const char *project, const char *name,
		      void **blob, size_t *len);

/*
 * Writes the queue of a blob from feed_queue_export(), all of it in one
 * transaction (all or nothing), and raises the counter of generations to
 * the source's. project and name (FEED_PROJECT_MAX + 1 and FEED_NAME_MAX
 * + 1 bytes; may be NULL) get the queue's names. FEED_EINVAL for a blob
 * that is truncated, corrupt (checksum) or not one; FEED_EVERSION for one
 * of another store format or byte order; FEED_EEXISTS when the project
 * has a queue of that name already (nothing is written: move it away or
 * delete it first); FEED_ETOOBIG when its metadata exceeds max_metadata.
 */
int feed_queue_import(feed_t *feed, const void *blob, size_t len,
		      char *project, char *name);
int feed_queue_import_tx(feed_txn_t *txn, const void *blob, size_t len,
			 char *project, char *name);

/* Checks a blob as import does (but for the store) and reads its names
 * and the source's next generation; each out-parameter may be NULL. */
int feed_blob_peek(const void *blob, size_t len, char *project, char *name,
		   uint64_t *next_generation);

/* The generation the next queue created here gets (1 for a new store). */
int feed_generation_next(feed_t *feed, uint64_t *next);
/* Raises it to at least `floor` (never lowers it). */
int feed_generation_raise_tx(feed_txn_t *txn, uint64_t floor);

/*
 * Calls fn(project, name, ctx) for every queue of every project (topics'
 * storage projects too), in key order, in one read transaction: fn must
 * not call feed. fn returns 0 to go on, else that code is returned.
 */
typedef int (*feed_scan_fn)(const char *project, const char *name,
			    void *ctx);
int feed_queue_scan(feed_t *feed, feed_scan_fn fn, void *ctx);

/* --------------------------------------------------------- subscriptions */

/*
 * A subscription of a queue (Zaqar's webhook subscriptions): a subscriber
 * URI, options (a JSON object, opaque here), a ttl, whether it is
 * confirmed - and a marker, the last message handed to the subscriber, so
 * delivery is a cursor over the log like any reader's. Subscriptions
 * belong to their queue's generation: deleting the queue deletes them
 * (compaction reclaims them with its other records). They are unique by
 * queue and subscriber URI. A subscription whose ttl passed is gone for
 * every call at once; compaction removes its record later.
 */
#define FEED_SUB_ID_LEN 36    /* subscription ids: canonical UUID form */
#define FEED_SUB_URI_MAX 4096 /* the longest subscriber URI */

typedef struct feed_sub {
	char id[FEED_SUB_ID_LEN + 1];
	char project[FEED_PROJECT_MAX + 1];
	char queue[FEED_NAME_MAX + 1];
	const char *subscriber; /* NUL-terminated; owned by the list */
	const char *options;    /* JSON text, NUL-terminated; "{}" when none */
	uint64_t created_ms;    /* when the ttl started (created, or ttl set) */
	uint64_t expires_ms;    /* created_ms + ttl */
	uint64_t ttl_s;
	bool confirmed;
	/* The marker after the last message handed over: a read from it
	 * (feed_read) gives the messages still to deliver. */
	char marker[FEED_ID_LEN + 1];
} feed_sub_t;

typedef struct feed_subs {
	feed_sub_t *v;
	size_t n;
	/* private */
	char *arena_;
} feed_subs_t;

void feed_subs_free(feed_subs_t *subs);

/* What a create or an update sets; NULL / 0 leave a field as it is (an
 * update) or take the default (a create: options "{}"; ttl is required). */
typedef struct feed_sub_in {
	const char *subscriber;
	const char *options;
	uint64_t ttl_s;
} feed_sub_in_t;

/*
 * Creates a subscription of (project, queue), creating the queue if need
 * be; its marker starts at the queue's tail (it gets what is posted from
 * now on). If the queue already has one for that subscriber URI: when that
 * one is confirmed, FEED_EEXISTS (with its id in id); otherwise its id, and
 * *existed = true, nothing changed (Zaqar: "confirmation re-sent").
 * FEED_ETOOBIG for a URI over FEED_SUB_URI_MAX or options over the
 * metadata limit. O(log n).
 */
int feed_sub_create_tx(feed_txn_t *txn, const char *project,
		       const char *queue, const feed_sub_in_t *in,
		       uint64_t now_ms, char id[FEED_SUB_ID_LEN + 1],
		       bool *existed);
/* Changes what in sets; a new ttl starts from now. FEED_ENOTFOUND when
 * there is no such live subscription, FEED_EEXISTS when the new URI is
 * another subscription's. */
int feed_sub_update_tx(feed_txn_t *txn, const char *project,
		       const char *queue, const char *id,
		       const feed_sub_in_t *in, uint64_t now_ms);
/* Deletes one; 0 also when there is none. */
int feed_sub_delete_tx(feed_txn_t *txn, const char *project,
		       const char *queue, const char *id);
/* Deletes every subscription of the queue (a purge); *n how many. */
int feed_sub_purge_tx(feed_txn_t *txn, const char *project,
		      const char *queue, size_t *n);
/* Sets `confirmed`; with restart, the marker moves to the queue's tail
 * too (what was posted while unconfirmed is not delivered).
 * FEED_ENOTFOUND when there is none. */
int feed_sub_confirm_tx(feed_txn_t *txn, const char *project,
			const char *queue, const char *id, bool confirmed,
			bool restart, uint64_t now_ms);
/* Moves the marker to `marker` (a marker of a read of this queue); never
 * back. FEED_ENOTFOUND when the subscription is gone, FEED_EBADID for a
 * marker of another generation. */
int feed_sub_advance_tx(feed_txn_t *txn, const char *project,
			const char *queue, const char *id, const char *marker,
			uint64_t now_ms);

/* One live subscription; FEED_ENOTFOUND when there is none. */
int feed_sub_get(feed_t *feed, const char *project, const char *queue,
		 const char *id, uint64_t now_ms, feed_subs_t *out);
/* The queue's live subscriptions with ids after `marker` (NULL or "":
 * from the first), by id, at most limit (0: all). O(log n + limit). */
int feed_sub_list(feed_t *feed, const char *project, const char *queue,
		  const char *marker, size_t limit, uint64_t now_ms,
		  feed_subs_t *out);
/* Every live subscription of every queue, for a deliverer starting up, a
 * page at a time: zero `resume` before the first call; each call returns
 * up to limit subscriptions after the last one it returned and updates
 * resume; *more when there are others. */
#define FEED_SUB_RESUME_LEN 24
int feed_sub_scan(feed_t *feed, uint8_t resume[FEED_SUB_RESUME_LEN],
		  size_t limit, uint64_t now_ms, feed_subs_t *out,
		  bool *more);

/* ------------------------------------------------------------ diagnostics */

/*
 * How many stored records (messages, claims, queue records and index
 * entries) the feed calls of the calling thread have read or written so
 * far. For tests that hold feed to the costs this header promises: take
 * the difference around a call. Counting is per thread and costs nothing.
 */
uint64_t feed_debug_touched(void);

/*
 * Fault injection for tests: the n-th allocation from now that feed's
 * write paths make on the calling thread fails as if memory ran out
 * (n = 0: none). Lets a test see that every failure path still answers.
 */
void feed_debug_fail_alloc(unsigned n);

/*
 * Checks the index invariants of every queue (feed_internal.h): that each
 * message has exactly the index entries its state wants (in `avail`,
 * `delayed`, `expiry`, its claim) and no entry lacks its message, the
 * queue's counts, and that its idempotency keys' `idem` and `iexpiry`
 * entries match one to one (check.c). Returns 0, or FEED_ECORRUPT with a description of the
 * first violation in `why` (may be NULL; truncated to why_len). Reads
 * every record of every queue: for tests, never for a running hub.
 */
int feed_debug_check(feed_t *feed, char *why, size_t why_len);

/* ------------------------------------------------------------------- ids */

/* Parses a message id / marker into its generation and seq. Accepts
 * FEED_ID_LEN hex digits (either case; feed writes lowercase) and a
 * generation > 0; anything else is FEED_EBADID. */
int feed_id_parse(const char *id, uint64_t *generation, uint64_t *seq);

/*
 * The marker from which a read starts exactly at message `id` (the id's
 * predecessor in its queue's log, whether or not that message exists; for
 * the first message, the marker before any). FEED_EBADID for a malformed
 * id or one that names no message (sequence 0).
 */
int feed_marker_before(const char *id, char out[FEED_ID_LEN + 1]);

/* Parses a claim id (canonical UUID text, case-insensitive) to bytes. */
int feed_claim_id_parse(const char *text, uint8_t out[16]);

#ifdef __cplusplus
}
#endif

#endif /* HERALD_FEED_H */
