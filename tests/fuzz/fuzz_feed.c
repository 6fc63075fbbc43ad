/*
 * fuzz_feed.c - libFuzzer target: sequences of feed operations on a real
 * environment (a temporary directory), checked after each step against a
 * simple in-memory model of one queue, on an injected clock:
 *
 *   append    1-3 messages, ttl 1-64 s, some delayed 1-4 s
 *   clock     moves on 0-3.75 s, or a minute
 *   list      every live message, page by page from the start or from
 *             a marker (a message's id): the model's, in log order
 *   claim     up to 1-8 claimable messages for 1-32 s (grace 0-7 s):
 *             only claimable ones, as many as the model has (fewer only
 *             where feed.h allows it: messages of an expired claim not
 *             yet released); their lives stretch to the claim's end +
 *             grace
 *   release   a claim: its messages are claimable again
 *   delete    a message: refused (FEED_ECLAIMED) while claimed
 *   compact   a bounded step: changes nothing live
 *
 * The model is what feed.h promises, no more: a mismatch is a crash
 * (abort) with what differed. Each input uses a queue of its own,
 * deleted at the end.
 */
#include <ftw.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "feed.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define MAX_MSGS 64
#define MAX_CLAIMS 16
#define PROJECT "fuzz"

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "model mismatch: " __VA_ARGS__);       \
			fprintf(stderr, " (%s)\n", #cond);                     \
			abort();                                               \
		}                                                              \
	} while (0)

struct mmsg {
	char id[FEED_ID_LEN + 1];
	uint64_t expires_ms, due_ms;
	int claim; /* index in claims, -1: none */
	bool gone; /* deleted */
	bool from_expired; /* in a claim that expired unreleased */
};

struct mclaim {
	char id[FEED_CLAIM_ID_LEN + 1];
	uint64_t expires_ms;
};

struct model {
	struct mmsg m[MAX_MSGS];
	size_t n;
	struct mclaim c[MAX_CLAIMS];
	size_t nc;
	uint64_t now_ms;
	char queue[32];
};

static feed_t *feed;
static unsigned long inputs;
static const uint8_t client[16] = {1, 2, 3, 4, 5, 6, 7, 8,
				   9, 10, 11, 12, 13, 14, 15, 16};

static char dir[] = "/tmp/herald-fuzz-feed-XXXXXX";

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* The environment goes with the process (libFuzzer ends with exit()). */
static void cleanup(void)
{
	feed_close(feed);
	nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	feed_options_t opts = {.durability = FEED_NOSYNC};

	(void)argc;
	(void)argv;
	if (!mkdtemp(dir) || feed_open(&feed, dir, &opts) != 0)
		abort();
	atexit(cleanup);
	return 0;
}

static bool live(const struct model *md, const struct mmsg *x)
{
	return !x->gone && x->expires_ms > md->now_ms;
}

static bool claimed(const struct model *md, const struct mmsg *x)
{
	return x->claim >= 0 && md->c[x->claim].expires_ms > md->now_ms;
}

static bool claimable(const struct model *md, const struct mmsg *x)
{
	return live(md, x) && x->due_ms <= md->now_ms && !claimed(md, x);
}

static void op_append(struct model *md, const uint8_t *a)
{
	feed_msg_in_t in[3];
	char ids[3][FEED_ID_LEN + 1];
	size_t n = 1 + a[0] % 3;
	int rc;

	if (md->n + n > MAX_MSGS)
		return;
	for (size_t i = 0; i < n; i++)
		in[i] = (feed_msg_in_t){
			.body = a, .body_len = 1,
			.ttl_s = 1 + a[1] % 64,
			.delay_s = a[2] % 4 == 0 ? 1 + a[2] % 4 : 0,
		};
	rc = feed_append(feed, PROJECT, md->queue, in, n, client, md->now_ms,
			 ids);
	CHECK(rc == 0, "append: %s", feed_strerror(rc));
	for (size_t i = 0; i < n; i++) {
		struct mmsg *x = &md->m[md->n++];

		memcpy(x->id, ids[i], sizeof(x->id));
		x->expires_ms = md->now_ms + in[i].ttl_s * 1000ull;
		x->due_ms = md->now_ms + in[i].delay_s * 1000ull;
		x->claim = -1;
		x->gone = x->from_expired = false;
	}
}

static void op_clock(struct model *md, const uint8_t *a)
{
	uint64_t step = a[0] % 16 == 15 ? 60000 : (a[0] % 16) * 250ull;

	md->now_ms += step;
	/* Messages of a claim that expires stay with it until a claim or
	 * compaction releases it (feed.h: a claim call may stop before a
	 * large one). */
	for (size_t i = 0; i < md->n; i++)
		if (md->m[i].claim >= 0 && !claimed(md, &md->m[i]))
			md->m[i].from_expired = true;
}

/* Lists from `marker` (NULL: the start) page by page; compares with the
 * live messages of the model after index `after` (-1: all). */
static void op_list(struct model *md, const char *marker, long after)
{
	feed_read_opts_t o = {.limit = 7, .flags = FEED_READ_INCLUDE_CLAIMED |
						 FEED_READ_ECHO |
						 FEED_READ_INCLUDE_DELAYED};
	char next[FEED_ID_LEN + 1] = "";
	size_t want = (size_t)(after + 1);

	if (marker)
		snprintf(next, sizeof(next), "%s", marker);
	for (int page = 0; page < 2 * MAX_MSGS; page++) {
		feed_msgs_t out = {0};
		int rc = feed_read(feed, PROJECT, md->queue, next, &o,
				   md->now_ms, &out);

		CHECK(rc == 0, "read: %s", feed_strerror(rc));
		for (size_t i = 0; i < out.n; i++) {
			while (want < md->n && !live(md, &md->m[want]))
				want++;
			CHECK(want < md->n, "read: %s is not in the model",
			      out.v[i].id);
			CHECK(strcmp(out.v[i].id, md->m[want].id) == 0,
			      "read: got %s, the model says %s", out.v[i].id,
			      md->m[want].id);
			want++;
		}
		if (out.n == 0 && !out.gap) {
			feed_msgs_free(&out);
			break;
		}
		snprintf(next, sizeof(next), "%s", out.next_marker);
		feed_msgs_free(&out);
	}
	while (want < md->n && !live(md, &md->m[want]))
		want++;
	CHECK(want == md->n, "read: %s was not listed", md->m[want].id);
}

static struct mmsg *find(struct model *md, const char *id)
{
	for (size_t i = 0; i < md->n; i++)
		if (strcmp(md->m[i].id, id) == 0)
			return &md->m[i];
	return NULL;
}

static void op_claim(struct model *md, const uint8_t *a)
{
	size_t limit = 1 + a[0] % 8, can = 0, need = 0;
	uint32_t ttl = 1 + a[1] % 32, grace = a[2] % 8;
	uint64_t keep;
	feed_claim_t c = {0};
	int rc;
	bool short_ok = false;

	if (md->nc == MAX_CLAIMS)
		return;
	for (size_t i = 0; i < md->n; i++) {
		can += claimable(md, &md->m[i]);
		short_ok |= claimable(md, &md->m[i]) && md->m[i].from_expired;
	}
	need = can < limit ? can : limit;
	rc = feed_claim_create(feed, PROJECT, md->queue, ttl, grace, limit,
			       md->now_ms, &c);
	CHECK(rc == 0, "claim: %s", feed_strerror(rc));
	CHECK(c.msgs.n <= need && (c.msgs.n == need || short_ok),
	      "claim: took %zu, the model has %zu claimable (limit %zu)",
	      c.msgs.n, can, limit);
	keep = md->now_ms + ttl * 1000ull + grace * 1000ull;
	for (size_t i = 0; i < c.msgs.n; i++) {
		struct mmsg *x = find(md, c.msgs.v[i].id);

		CHECK(x && claimable(md, x), "claim: took %s, not claimable",
		      c.msgs.v[i].id);
		x->claim = (int)md->nc;
		x->from_expired = false;
		if (x->expires_ms < keep)
			x->expires_ms = keep;
	}
	if (c.msgs.n) {
		struct mclaim *k = &md->c[md->nc++];

		memcpy(k->id, c.id, sizeof(k->id));
		k->expires_ms = md->now_ms + ttl * 1000ull;
	}
	feed_claim_free(&c);
}

static void op_release(struct model *md, const uint8_t *a)
{
	size_t k;
	int rc;

	if (md->nc == 0)
		return;
	k = a[0] % md->nc;
	rc = feed_claim_release(feed, PROJECT, md->queue, md->c[k].id,
				md->now_ms);
	CHECK(rc == 0, "release: %s", feed_strerror(rc));
	for (size_t i = 0; i < md->n; i++)
		if (md->m[i].claim == (int)k && claimed(md, &md->m[i]))
			md->m[i].claim = -1;
}

static void op_delete(struct model *md, const uint8_t *a)
{
	struct mmsg *x;
	bool deleted = false;
	int rc;

	if (md->n == 0)
		return;
	x = &md->m[a[0] % md->n];
	rc = feed_delete(feed, PROJECT, md->queue, x->id, NULL, md->now_ms,
			 &deleted);
	if (live(md, x) && claimed(md, x)) {
		CHECK(rc == FEED_ECLAIMED, "delete of claimed %s: %s", x->id,
		      feed_strerror(rc));
		return;
	}
	CHECK(rc == 0, "delete %s: %s", x->id, feed_strerror(rc));
	if (live(md, x))
		CHECK(deleted, "delete: live %s was not removed", x->id);
	else if (x->gone)
		CHECK(!deleted, "delete: deleted %s was removed again", x->id);
	x->gone = true;
}

static void op_compact(struct model *md, const uint8_t *a)
{
	feed_compact_result_t res;
	int rc = feed_compact(feed, md->now_ms, 1 + a[0] % 64, &res);

	CHECK(rc == 0, "compact: %s", feed_strerror(rc));
	(void)md; /* a step may leave expired claims for the next: the
		   * model keeps allowing short claims for their messages */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct model md;
	uint8_t a[3];

	memset(&md, 0, sizeof(md));
	md.now_ms = 1795352400000ull;
	snprintf(md.queue, sizeof(md.queue), "q%lu", inputs++);
	for (size_t at = 0; at < size; at += 4) {
		for (size_t i = 0; i < 3; i++)
			a[i] = at + 1 + i < size ? data[at + 1 + i] : 0;
		switch (data[at] % 8) {
		case 0: op_append(&md, a); break;
		case 1: op_clock(&md, a); break;
		case 2: op_list(&md, NULL, -1); break;
		case 3:
			if (md.n) {
				size_t i = a[0] % md.n;

				op_list(&md, md.m[i].id, (long)i);
			}
			break;
		case 4: op_claim(&md, a); break;
		case 5: op_release(&md, a); break;
		case 6: op_delete(&md, a); break;
		case 7: op_compact(&md, a); break;
		}
	}
	op_list(&md, NULL, -1);
	feed_queue_delete(feed, PROJECT, md.queue);
	return 0;
}
