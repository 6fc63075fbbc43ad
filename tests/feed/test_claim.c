/*
 * test_claim.c - claims: exclusivity, counts, grace, renew, release, expiry,
 * the claim rules of delete, delayed messages, a large backlog, the cost
 * of a claim (records touched, whatever the queue holds) and the format 1
 * upgrade of delayed messages.
 *
 * Bodies are "m<N>" in publication order; a claim is compared with the
 * bodies it should hold. feed_debug_check() verifies the index invariants
 * after the tests that move messages between indexes.
 *
 * The upgrade test builds the format 1 layout by hand, so this file (and
 * only it) reaches into feed_internal.h and LMDB.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feed.h"
#include "feed_internal.h"
#include "fixture.h"
#include "tap.h"

#define T0  1700000000000ULL
#define SEC 1000ULL

typedef char feed_id_t[FEED_ID_LEN + 1];

static const char *P = "claim";
static const char *unknown_claim = "00000000-0000-4000-8000-000000000000";

static void append_msg(feed_t *feed, const char *queue, const char *body,
		       uint32_t ttl_s, uint32_t delay_s, uint64_t now_ms,
		       char id[FEED_ID_LEN + 1])
{
	feed_msg_in_t in = {.body = body, .body_len = strlen(body),
			    .ttl_s = ttl_s, .delay_s = delay_s};
	uint8_t client[16];
	feed_id_t ids[1] = {""};
	int rc;

	fixture_client(client, 1);
	rc = feed_append(feed, P, queue, &in, 1, client, now_ms, ids);
	if (rc)
		diag("append %s to %s: %s", body, queue, feed_strerror(rc));
	if (id)
		memcpy(id, ids[0], sizeof(ids[0]));
}

static void append_range(feed_t *feed, const char *queue, int n,
			 uint64_t now_ms, feed_id_t *ids)
{
	for (int i = 0; i < n; i++) {
		char body[16];

		snprintf(body, sizeof(body), "m%d", i);
		append_msg(feed, queue, body, 600, 0, now_ms,
			   ids ? ids[i] : NULL);
	}
}

/* Appends bodies m<first>..m<first+n-1>, ttl 600. */
static void append_range_from(feed_t *feed, const char *queue, int first,
			      int n, uint64_t now_ms)
{
	for (int i = first; i < first + n; i++) {
		char body[16];

		snprintf(body, sizeof(body), "m%d", i);
		append_msg(feed, queue, body, 600, 0, now_ms, NULL);
	}
}

/* True when the messages' bodies are exactly `want` (comma-separated). */
static bool bodies_are(const feed_msgs_t *msgs, const char *want)
{
	char got[1024] = "";
	size_t off = 0;

	for (size_t i = 0; i < msgs->n && off < sizeof(got) - 1; i++)
		off += snprintf(got + off, sizeof(got) - off, "%s%.*s",
				i ? "," : "", (int)msgs->v[i].body_len,
				(const char *)msgs->v[i].body);
	if (strcmp(got, want))
		diag("messages are \"%s\", want \"%s\"", got, want);
	return strcmp(got, want) == 0;
}

static int claim(feed_t *feed, const char *queue, uint32_t ttl_s,
		 uint32_t grace_s, size_t limit, uint64_t now_ms,
		 feed_claim_t *out)
{
	memset(out, 0, sizeof(*out));
	return feed_claim_create(feed, P, queue, ttl_s, grace_s, limit, now_ms,
				 out);
}

static int read_bodies(feed_t *feed, const char *queue, uint64_t now_ms,
		       feed_msgs_t *out)
{
	feed_read_opts_t ro = {.limit = 100};

	fixture_client(ro.client_id, 99);
	return feed_read(feed, P, queue, NULL, &ro, now_ms, out);
}

/* Every message, claimed and delayed ones included. */
static int read_q_all(feed_t *feed, const char *queue, uint64_t now_ms,
		      feed_msgs_t *out)
{
	feed_read_opts_t ro = {.limit = 100,
			       .flags = FEED_READ_INCLUDE_CLAIMED |
					FEED_READ_INCLUDE_DELAYED};

	fixture_client(ro.client_id, 99);
	return feed_read(feed, P, queue, NULL, &ro, now_ms, out);
}

static uint64_t expires_of(feed_t *feed, const char *queue, const char *id,
			   uint64_t now_ms)
{
	feed_msgs_t got = {0};
	uint64_t e = 0;

	if (feed_get(feed, P, queue, id, now_ms, &got) == 0 && got.n == 1)
		e = got.v[0].expires_ms;
	feed_msgs_free(&got);
	return e;
}

static void test_exclusive(feed_t *feed)
{
	feed_claim_t a, b, c, d, g = {0};
	bool fields = true;

	append_range(feed, "ex", 6, T0, NULL);
	is(claim(feed, "ex", 60, 30, 2, T0 + SEC, &a), 0, "claim A of two");
	is(claim(feed, "ex", 60, 30, 2, T0 + SEC, &b), 0, "claim B of two");
	is(claim(feed, "ex", 60, 30, 10, T0 + SEC, &c), 0, "claim C of ten");
	is(claim(feed, "ex", 60, 30, 10, T0 + SEC, &d), 0, "claim D of ten");
	ok(bodies_are(&a.msgs, "m0,m1"), "A gets the two oldest");
	ok(bodies_are(&b.msgs, "m2,m3"),
	   "claimed messages are hidden from a second claim");
	ok(bodies_are(&c.msgs, "m4,m5"), "C gets the rest");
	is(d.msgs.n, 0, "a claim with nothing claimable gets no messages");
	is_str(d.id, "", "and creates no claim");
	ok(strlen(a.id) == FEED_CLAIM_ID_LEN && strcmp(a.id, b.id) &&
		   strcmp(b.id, c.id) && strcmp(a.id, c.id),
	   "claim ids are %d characters and distinct", FEED_CLAIM_ID_LEN);

	is(a.ttl_s, 60, "claim ttl_s");
	is(a.grace_s, 30, "claim grace_s");
	is(a.updated_ms, T0 + SEC, "claim updated_ms is its creation");
	is(a.expires_ms, T0 + 61 * SEC, "claim expires_ms is now + ttl");
	for (size_t i = 0; i < a.msgs.n; i++) {
		const feed_msg_t *m = &a.msgs.v[i];

		if (strcmp(m->claim_id, a.id) ||
		    m->claim_expires_ms != a.expires_ms || m->claim_count != 1)
			fields = false;
	}
	ok(fields, "claimed messages carry the claim id, expiry and count 1");

	is(feed_claim_get(feed, P, "ex", b.id, T0 + 2 * SEC, &g), 0,
	   "claim_get B");
	ok(bodies_are(&g.msgs, "m2,m3"), "claim_get returns its messages");
	ok(strcmp(g.id, b.id) == 0 && g.expires_ms == b.expires_ms &&
		   g.updated_ms == b.updated_ms && g.ttl_s == 60 &&
		   g.grace_s == 30,
	   "claim_get returns the claim's id, times, ttl and grace");
	feed_claim_free(&g);
	is(feed_claim_get(feed, P, "other", b.id, T0 + 2 * SEC, &g),
	   FEED_ENOCLAIM, "a claim is not found through another queue");
	feed_claim_free(&g);
	is(feed_claim_release(feed, P, "other", b.id, T0 + 2 * SEC), 0,
	   "release through another queue succeeds");
	is(feed_claim_get(feed, P, "ex", b.id, T0 + 2 * SEC, &g), 0,
	   "but leaves the claim in place");
	feed_claim_free(&g);

	feed_claim_free(&d);
	is(claim(feed, "empty-never", 60, 30, 10, T0, &d), 0,
	   "claim on a missing queue");
	ok(d.msgs.n == 0 && d.id[0] == '\0', "gets nothing and no claim id");
	feed_claim_free(&d);
	feed_queue_create(feed, P, "empty", NULL, 0, T0, NULL);
	is(claim(feed, "empty", 60, 30, 10, T0, &d), 0,
	   "claim on an empty queue");
	ok(d.msgs.n == 0 && d.id[0] == '\0', "gets nothing and no claim id");

	feed_claim_free(&a);
	feed_claim_free(&b);
	feed_claim_free(&c);
	feed_claim_free(&d);
}

static void test_interleaved(feed_t *feed)
{
	feed_claim_t a, b, c;

	append_range(feed, "il", 5, T0, NULL);
	claim(feed, "il", 60, 60, 2, T0, &a);
	claim(feed, "il", 60, 60, 1, T0, &b);
	ok(bodies_are(&b.msgs, "m2"), "B gets the first unclaimed");
	is(feed_claim_release(feed, P, "il", a.id, T0), 0, "release A");
	claim(feed, "il", 60, 60, 10, T0, &c);
	ok(bodies_are(&c.msgs, "m0,m1,m3,m4"),
	   "a claim takes released messages in log order, around B's");
	feed_claim_free(&a);
	feed_claim_free(&b);
	feed_claim_free(&c);
}

static void test_claim_count(feed_t *feed)
{
	feed_claim_t a, b, c, g = {0};

	append_range(feed, "cc", 1, T0, NULL);
	claim(feed, "cc", 60, 60, 1, T0, &a);
	ok(a.msgs.n == 1 && a.msgs.v[0].claim_count == 1,
	   "first claim: count 1");
	feed_claim_release(feed, P, "cc", a.id, T0);
	is(feed_claim_get(feed, P, "cc", a.id, T0, &g), FEED_ENOCLAIM,
	   "a released claim is gone");
	feed_claim_free(&g);
	claim(feed, "cc", 60, 60, 1, T0, &b);
	ok(b.msgs.n == 1 && b.msgs.v[0].claim_count == 2,
	   "re-claim after release: count 2");
	claim(feed, "cc", 60, 60, 1, T0 + 61 * SEC, &c);
	ok(c.msgs.n == 1 && c.msgs.v[0].claim_count == 3,
	   "re-claim after expiry: count 3");
	ok(c.msgs.n == 1 && strcmp(c.msgs.v[0].claim_id, c.id) == 0,
	   "the message now carries the new claim id");
	feed_claim_free(&a);
	feed_claim_free(&b);
	feed_claim_free(&c);
}

static void test_grace(feed_t *feed)
{
	feed_id_t ids[3], late[1], rel[1];
	feed_claim_t a, b, r;
	feed_msgs_t page = {0};

	append_msg(feed, "gr", "m0", 60, 0, T0, ids[0]);
	append_msg(feed, "gr", "m1", 130, 0, T0, ids[1]);
	append_msg(feed, "gr", "m2", 1000, 0, T0, ids[2]);
	claim(feed, "gr", 100, 60, 3, T0, &a);
	if (a.msgs.n == 3) {
		is(a.msgs.v[0].expires_ms, T0 + 160 * SEC,
		   "ttl 60 under claim 100 + grace 60 lives to claim + grace");
		is(a.msgs.v[1].expires_ms, T0 + 160 * SEC,
		   "ttl 130, expiring within the grace, is raised too");
		is(a.msgs.v[2].expires_ms, T0 + 1000 * SEC,
		   "a message outliving the claim keeps its expiry");
	} else {
		skip(3, "claim got %zu messages", a.msgs.n);
	}
	is(expires_of(feed, "gr", ids[0], T0), T0 + 160 * SEC,
	   "get shows the raised expiry");
	read_bodies(feed, "gr", T0 + 150 * SEC, &page);
	ok(bodies_are(&page, "m0,m1,m2"),
	   "after the claim expired the messages live on, unclaimed");
	feed_msgs_free(&page);
	read_bodies(feed, "gr", T0 + 161 * SEC, &page);
	ok(bodies_are(&page, "m2"), "past claim + grace they expire");
	feed_msgs_free(&page);

	append_msg(feed, "gr2", "m0", 60, 0, T0, late[0]);
	claim(feed, "gr2", 100, 60, 1, T0 + 30 * SEC, &b);
	is(expires_of(feed, "gr2", late[0], T0 + 30 * SEC), T0 + 190 * SEC,
	   "grace counts from the claim's expiry, not the message's creation");

	append_msg(feed, "gr3", "m0", 60, 0, T0, rel[0]);
	claim(feed, "gr3", 100, 60, 1, T0, &r);
	feed_claim_release(feed, P, "gr3", r.id, T0 + 10 * SEC);
	is(expires_of(feed, "gr3", rel[0], T0 + 10 * SEC), T0 + 160 * SEC,
	   "a released message keeps the lifetime the claim gave it");
	read_bodies(feed, "gr3", T0 + 100 * SEC, &page);
	ok(bodies_are(&page, "m0"), "and is readable past its own ttl");
	feed_msgs_free(&page);

	feed_claim_free(&a);
	feed_claim_free(&b);
	feed_claim_free(&r);
}

static void test_renew(feed_t *feed)
{
	feed_id_t ids[1];
	feed_claim_t a, b, g = {0};

	append_msg(feed, "rn", "m0", 60, 0, T0, ids[0]);
	claim(feed, "rn", 60, 60, 1, T0, &a);
	is(expires_of(feed, "rn", ids[0], T0), T0 + 120 * SEC,
	   "message lives to claim + grace");
	is(feed_claim_renew(feed, P, "rn", a.id, 100, 30, T0 + 50 * SEC), 0,
	   "renew at 50 s for 100 s, grace 30");
	is(feed_claim_get(feed, P, "rn", a.id, T0 + 50 * SEC, &g), 0,
	   "claim_get after renew");
	is(g.expires_ms, T0 + 150 * SEC, "renew: claim expires at now + ttl");
	is(g.updated_ms, T0 + 50 * SEC, "renew: updated_ms is the renewal");
	ok(g.ttl_s == 100 && g.grace_s == 30, "renew: new ttl and grace");
	ok(g.msgs.n == 1 && g.msgs.v[0].claim_expires_ms == T0 + 150 * SEC,
	   "renew: messages carry the new claim expiry");
	feed_claim_free(&g);
	is(expires_of(feed, "rn", ids[0], T0 + 50 * SEC), T0 + 180 * SEC,
	   "renew: messages live to the new expiry + grace");
	claim(feed, "rn", 60, 60, 1, T0 + 120 * SEC, &b);
	is(b.msgs.n, 0,
	   "past the original expiry the renewed claim still holds");
	feed_claim_free(&b);
	is(feed_claim_get(feed, P, "rn", a.id, T0 + 149 * SEC, &g), 0,
	   "claim lives until its new expiry");
	feed_claim_free(&g);
	is(feed_claim_renew(feed, P, "rn", a.id, 100, 30, T0 + 151 * SEC),
	   FEED_ENOCLAIM, "renew after expiry");
	is(feed_claim_renew(feed, P, "rn", unknown_claim, 100, 30, T0),
	   FEED_ENOCLAIM, "renew of an unknown claim");
	feed_claim_free(&a);
}

static void test_release(feed_t *feed)
{
	feed_claim_t a, b;
	feed_msgs_t page = {0};

	append_range(feed, "rl", 2, T0, NULL);
	claim(feed, "rl", 300, 60, 2, T0, &a);
	read_bodies(feed, "rl", T0, &page);
	is(page.n, 0, "claimed messages are not read");
	feed_msgs_free(&page);
	is(feed_claim_release(feed, P, "rl", a.id, T0 + SEC), 0, "release");
	read_bodies(feed, "rl", T0 + SEC, &page);
	ok(bodies_are(&page, "m0,m1"), "released messages read at once");
	feed_msgs_free(&page);
	claim(feed, "rl", 300, 60, 10, T0 + SEC, &b);
	ok(bodies_are(&b.msgs, "m0,m1"), "released messages claim at once");
	is(feed_claim_release(feed, P, "rl", a.id, T0 + SEC), 0,
	   "releasing a released claim succeeds");
	is(feed_claim_release(feed, P, "rl", unknown_claim, T0 + SEC), 0,
	   "releasing an unknown claim succeeds");
	is(feed_claim_release(feed, P, "nosuch", unknown_claim, T0 + SEC), 0,
	   "releasing in a missing queue succeeds");
	read_bodies(feed, "rl", T0 + SEC, &page);
	is(page.n, 0, "releasing A did not release B's messages");
	feed_msgs_free(&page);
	feed_claim_free(&a);
	feed_claim_free(&b);
}

static void test_expiry(feed_t *feed)
{
	feed_claim_t a, b, g = {0};
	feed_msgs_t page = {0};

	append_range(feed, "xp", 2, T0, NULL);
	claim(feed, "xp", 60, 60, 2, T0, &a);
	is(feed_claim_get(feed, P, "xp", a.id, T0 + 59 * SEC, &g), 0,
	   "claim lives before its expiry");
	feed_claim_free(&g);
	claim(feed, "xp", 60, 60, 2, T0 + 59 * SEC, &b);
	is(b.msgs.n, 0, "nothing claimable while the claim lives");
	feed_claim_free(&b);
	is(feed_claim_get(feed, P, "xp", a.id, T0 + 61 * SEC, &g),
	   FEED_ENOCLAIM, "claim_get after expiry");
	feed_claim_free(&g);
	read_bodies(feed, "xp", T0 + 61 * SEC, &page);
	ok(bodies_are(&page, "m0,m1"), "expiry makes the messages readable");
	feed_msgs_free(&page);
	claim(feed, "xp", 60, 60, 2, T0 + 61 * SEC, &b);
	ok(bodies_are(&b.msgs, "m0,m1"), "and claimable by a new claim");
	feed_claim_free(&a);
	feed_claim_free(&b);
}

static void test_delete_rules(feed_t *feed)
{
	feed_id_t ids[5], missing;
	feed_claim_t a, b, g = {0};
	bool deleted = false;
	uint64_t later = T0 + 61 * SEC;

	append_range(feed, "dr", 5, T0, ids);
	claim(feed, "dr", 60, 60, 2, T0, &a);  /* m0, m1 */
	claim(feed, "dr", 300, 60, 1, T0, &b); /* m2 */

	is(feed_delete(feed, P, "dr", ids[0], NULL, T0, &deleted),
	   FEED_ECLAIMED, "deleting a claimed message without claim id");
	is(feed_delete(feed, P, "dr", ids[0], "", T0, &deleted), FEED_ECLAIMED,
	   "deleting a claimed message with claim id \"\"");
	is(feed_delete(feed, P, "dr", ids[0], b.id, T0, &deleted),
	   FEED_ECLAIMED, "deleting with another live claim's id");
	is(feed_delete(feed, P, "dr", ids[0], unknown_claim, T0, &deleted),
	   FEED_ENOCLAIM, "deleting with an unknown claim id");
	is(feed_delete(feed, P, "dr", ids[3], a.id, T0, &deleted),
	   FEED_ENOTCLAIMED, "deleting an unclaimed message with a claim id");
	is(feed_delete(feed, P, "dr", ids[3], unknown_claim, T0, &deleted),
	   FEED_ENOTCLAIMED,
	   "an unclaimed message is not claimed whatever claim id comes");
	is(feed_delete(feed, P, "dr", ids[3], "abc", T0, &deleted),
	   FEED_ENOCLAIM, "a malformed claim id names no claim");
	memcpy(missing, ids[4], sizeof(missing));
	missing[FEED_ID_LEN - 1] = 'f'; /* seq 15 of 5 */
	is(feed_delete(feed, P, "dr", missing, unknown_claim, T0, &deleted),
	   0, "deleting a missing message with a claim id succeeds");
	is(expires_of(feed, "dr", ids[3], T0), T0 + 600 * SEC,
	   "refused deletes left the unclaimed message in place");
	deleted = false;
	is(feed_delete(feed, P, "dr", ids[0], a.id, T0, &deleted), 0,
	   "deleting with the holding claim's id");
	ok(deleted, "removes the message");
	is(feed_claim_get(feed, P, "dr", a.id, T0, &g), 0, "claim_get A");
	ok(bodies_are(&g.msgs, "m1"), "claim_get omits deleted messages");
	feed_claim_free(&g);

	is(feed_delete(feed, P, "dr", ids[1], a.id, later, &deleted),
	   FEED_ENOTCLAIMED,
	   "deleting with its expired claim's id: the message is not claimed");
	is(feed_delete(feed, P, "dr", ids[2], a.id, later, &deleted),
	   FEED_ENOCLAIM,
	   "deleting a claimed message with an expired claim's id");
	deleted = false;
	is(feed_delete(feed, P, "dr", ids[1], NULL, later, &deleted), 0,
	   "an expired claim no longer protects its message");
	ok(deleted, "and the message is removed");
	is(feed_delete(feed, P, "dr", ids[2], NULL, later, &deleted),
	   FEED_ECLAIMED, "B, still live, protects its message");
	deleted = false;
	is(feed_delete(feed, P, "dr", ids[2], b.id, later, &deleted), 0,
	   "B's id deletes it");
	ok(deleted, "and the message is removed");
	feed_claim_free(&a);
	feed_claim_free(&b);
}

static void test_not_claimable(feed_t *feed)
{
	feed_claim_t a, b, c, d;

	append_msg(feed, "dl", "m0", 600, 60, T0, NULL);
	append_msg(feed, "dl", "m1", 600, 0, T0, NULL);
	claim(feed, "dl", 300, 60, 10, T0, &a);
	ok(bodies_are(&a.msgs, "m1"), "a delayed message is not claimable");
	claim(feed, "dl", 300, 60, 10, T0 + 60 * SEC, &b);
	ok(bodies_are(&b.msgs, "m0"), "once due it is");

	/* a delayed message parked among released ones does not block them */
	append_msg(feed, "dl2", "m0", 600, 60, T0, NULL);
	append_range_from(feed, "dl2", 1, 3, T0);
	claim(feed, "dl2", 300, 60, 10, T0, &d);
	ok(bodies_are(&d.msgs, "m1,m2,m3"),
	   "a claim passes over a delayed one");
	feed_claim_release(feed, P, "dl2", d.id, T0);
	feed_claim_free(&d);
	claim(feed, "dl2", 300, 60, 10, T0 + SEC, &d);
	ok(bodies_are(&d.msgs, "m1,m2,m3"),
	   "released messages behind a delayed one are claimable");
	feed_claim_free(&d);
	claim(feed, "dl2", 300, 60, 10, T0 + 60 * SEC, &d);
	ok(bodies_are(&d.msgs, "m0"), "and the delayed one once due");
	feed_claim_free(&d);

	append_msg(feed, "exp", "m0", 10, 0, T0, NULL);
	append_msg(feed, "exp", "m1", 600, 0, T0, NULL);
	claim(feed, "exp", 300, 60, 10, T0 + 11 * SEC, &c);
	ok(bodies_are(&c.msgs, "m1"), "an expired message is not claimable");
	feed_claim_free(&a);
	feed_claim_free(&b);
	feed_claim_free(&c);
}

static void test_wake(feed_t *feed)
{
	feed_claim_t a, b, c, d;

	claim(feed, "wnone", 300, 0, 10, T0, &a);
	is(a.wake_ms, 0, "a claim on a missing queue has wake_ms 0");
	feed_claim_free(&a);

	append_range(feed, "wclaimed", 3, T0, NULL);
	claim(feed, "wclaimed", 50, 0, 1, T0, &a);
	claim(feed, "wclaimed", 30, 0, 2, T0, &b);
	is(b.wake_ms, 0, "a claim that took its limit has wake_ms 0");
	claim(feed, "wclaimed", 300, 0, 10, T0, &c);
	is(c.msgs.n, 0, "nothing is claimable");
	is(c.wake_ms, T0 + 30 * SEC,
	   "a claim that finds only claimed messages wakes at the earliest "
	   "claim expiry");
	feed_claim_free(&c);
	claim(feed, "wclaimed", 300, 0, 10, T0 + 30 * SEC, &c);
	is(c.msgs.n, 2, "at that time the claim finds the freed messages");
	is(c.wake_ms, T0 + 50 * SEC, "and wakes at the next claim expiry");
	feed_claim_free(&a);
	feed_claim_free(&b);
	feed_claim_free(&c);

	append_msg(feed, "wdelay", "m0", 600, 0, T0, NULL);
	append_msg(feed, "wdelay", "m1", 600, 20, T0, NULL);
	append_msg(feed, "wdelay", "m2", 600, 10, T0, NULL);
	claim(feed, "wdelay", 300, 0, 10, T0, &d);
	ok(bodies_are(&d.msgs, "m0"), "a claim passes over delayed messages");
	is(d.wake_ms, T0 + 10 * SEC,
	   "and wakes at the earliest due time it passed");
	feed_claim_free(&d);
	claim(feed, "wdelay", 300, 0, 10, T0 + 5 * SEC, &d);
	is(d.wake_ms, T0 + 10 * SEC,
	   "also when the delayed ones are parked in avail");
	feed_claim_free(&d);
	claim(feed, "wdelay", 300, 0, 10, T0 + 10 * SEC, &d);
	ok(bodies_are(&d.msgs, "m2"), "once due the message is claimed");
	is(d.wake_ms, T0 + 20 * SEC, "and the claim wakes for the next one");
	feed_claim_free(&d);
}

static void test_purge(feed_t *feed)
{
	feed_claim_t a;
	feed_queue_stats_t st;
	feed_msgs_t page = {0};
	size_t purged = 99;
	bool more = true;

	is(feed_queue_purge(feed, P, "pmissing", 10, T0, &purged, &more), 0,
	   "purging a missing queue succeeds");
	ok(purged == 0 && !more, "and purges nothing");
	is(feed_queue_purge(feed, P, "pg", 0, T0, NULL, NULL), FEED_EINVAL,
	   "a purge budget of 0 is refused");

	append_range(feed, "pg", 5, T0, NULL);
	append_msg(feed, "pg", "late", 600, 60, T0, NULL);
	append_range_from(feed, "pg", 5, 3, T0);
	claim(feed, "pg", 300, 0, 2, T0, &a); /* m0, m1 */
	is(feed_queue_purge(feed, P, "pg", 4, T0, &purged, &more), 0,
	   "a purge step");
	ok(purged == 4 && more, "removes its budget and says there may be more");
	is(feed_queue_purge(feed, P, "pg", 4, T0, &purged, &more), 0,
	   "the next step");
	ok(purged == 2 && !more, "removes the rest and says it is done");
	read_q_all(feed, "pg", T0, &page);
	ok(bodies_are(&page, "m0,m1,late"),
	   "a purge leaves claimed and delayed messages, as pops do");
	feed_msgs_free(&page);
	feed_queue_stats(feed, P, "pg", T0, &st);
	ok(st.total == 3 && st.claimed == 2, "stats count what is left");
	feed_claim_free(&a);
	is(feed_queue_purge(feed, P, "pg", 10, T0 + 301 * SEC, &purged, &more),
	   0, "a purge after the claim expired");
	ok(purged == 3, "takes its messages and the now due one too");
	feed_queue_stats(feed, P, "pg", T0 + 301 * SEC, &st);
	is(st.total, 0, "the queue is empty");
}

static void test_backlog(feed_t *feed)
{
	enum { N = 1000, BATCH = 100, LIMIT = 10 };
	feed_msg_in_t in[BATCH];
	char bodies[BATCH][8];
	uint8_t client[16];
	uint64_t next = 1, now = T0 + SEC;
	size_t claims = 0, claimed = 0;
	bool fifo = true, sizes = true;
	feed_claim_t c;
	feed_queue_stats_t st = {0};

	fixture_client(client, 1);
	for (int b = 0; b < N / BATCH; b++) {
		for (int i = 0; i < BATCH; i++) {
			snprintf(bodies[i], sizeof(bodies[i]), "%d",
				 b * BATCH + i);
			in[i] = (feed_msg_in_t){.body = bodies[i],
						.body_len = strlen(bodies[i]),
						.ttl_s = 3600};
		}
		if (feed_append(feed, P, "backlog", in, BATCH, client, T0,
				NULL))
			bail_out("append of the backlog failed");
	}
	for (;;) {
		if (claim(feed, "backlog", 600, 60, LIMIT, now, &c)) {
			fifo = false;
			break;
		}
		if (c.msgs.n == 0) {
			feed_claim_free(&c);
			break;
		}
		claims++;
		if (c.msgs.n != LIMIT)
			sizes = false;
		for (size_t i = 0; i < c.msgs.n; i++, claimed++)
			if (c.msgs.v[i].seq != next++)
				fifo = false;
		feed_claim_free(&c);
		if (claims > N)
			break;
	}
	is(claims, N / LIMIT, "a backlog of %d takes %d claims of %d", N,
	   N / LIMIT, LIMIT);
	ok(sizes, "every claim is full");
	is(claimed, N, "every message is claimed");
	ok(fifo, "each message is claimed once, in FIFO order");
	feed_queue_stats(feed, P, "backlog", now, &st);
	ok(st.total == N && st.claimed == N && st.free == 0,
	   "stats: all %d claimed", N);
}


/* ------------------------------------------------------ delayed messages */

static void test_due_order(feed_t *feed)
{
	feed_claim_t c;

	append_msg(feed, "due", "m0", 600, 30, T0, NULL);
	append_msg(feed, "due", "m1", 600, 10, T0, NULL);
	append_msg(feed, "due", "m2", 600, 0, T0, NULL);
	append_msg(feed, "due", "m3", 600, 20, T0, NULL);
	append_msg(feed, "due", "m4", 600, 10, T0, NULL);
	claim(feed, "due", 300, 0, 10, T0, &c);
	ok(bodies_are(&c.msgs, "m2"), "only the ready message is claimed");
	is(c.wake_ms, T0 + 10 * SEC, "wake_ms is the earliest due time");
	feed_claim_free(&c);
	claim(feed, "due", 300, 0, 10, T0 + 10 * SEC - 1, &c);
	ok(c.msgs.n == 0 && c.wake_ms == T0 + 10 * SEC,
	   "a millisecond before, nothing is claimable; wake_ms unchanged");
	feed_claim_free(&c);
	claim(feed, "due", 300, 0, 1, T0 + 10 * SEC, &c);
	ok(bodies_are(&c.msgs, "m1"),
	   "exactly when due it is claimable; equal due times in log order");
	feed_claim_free(&c);
	claim(feed, "due", 300, 0, 10, T0 + 10 * SEC, &c);
	ok(bodies_are(&c.msgs, "m4"), "then the other one due then");
	is(c.wake_ms, T0 + 20 * SEC, "and wake_ms moves to the next due time");
	feed_claim_free(&c);
	claim(feed, "due", 300, 0, 10, T0 + 40 * SEC, &c);
	ok(bodies_are(&c.msgs, "m3,m0"),
	   "delayed messages due together come in due order, not log order");
	feed_claim_free(&c);
	append_msg(feed, "due", "m5", 600, 5, T0 + 40 * SEC, NULL);
	claim(feed, "due", 300, 0, 10, T0 + 40 * SEC, &c);
	ok(c.msgs.n == 0 && c.wake_ms == T0 + 45 * SEC,
	   "a delayed message appended at the tail wakes the claimer when due");
	feed_claim_free(&c);
	claim(feed, "due", 300, 0, 10, T0 + 45 * SEC, &c);
	ok(bodies_are(&c.msgs, "m5"), "and is claimed then");
	feed_claim_free(&c);
	fixture_check(feed, "after claims of delayed messages");
}

/* A delayed message that falls due ahead of the claim cursor is claimed
 * from `delayed`; released, it is listed in `avail` though the cursor has
 * not reached it, and the fresh walk steps over it. */
static void test_due_ahead(feed_t *feed)
{
	feed_claim_t a, b, c;

	append_range(feed, "ahead", 20, T0, NULL);
	append_msg(feed, "ahead", "late", 600, 10, T0, NULL);
	append_range_from(feed, "ahead", 20, 5, T0);
	claim(feed, "ahead", 300, 0, 5, T0, &a);
	ok(bodies_are(&a.msgs, "m0,m1,m2,m3,m4"), "a claim before it is due");
	claim(feed, "ahead", 300, 0, 3, T0 + 10 * SEC, &b);
	ok(bodies_are(&b.msgs, "late,m5,m6"),
	   "once due it comes first, though the cursor has not reached it");
	fixture_check(feed, "with a claimed message ahead of the cursor");
	is(feed_claim_release(feed, P, "ahead", b.id, T0 + 10 * SEC), 0,
	   "release it");
	fixture_check(feed, "with a released message ahead of the cursor");
	claim(feed, "ahead", 300, 0, 100, T0 + 10 * SEC, &c);
	ok(bodies_are(&c.msgs, "m5,m6,late,m7,m8,m9,m10,m11,m12,m13,m14,m15,"
			       "m16,m17,m18,m19,m20,m21,m22,m23,m24"),
	   "released ones in log order, then the rest, each once");
	fixture_check(feed, "after the fresh walk passed it");
	feed_claim_free(&a);
	feed_claim_free(&b);
	feed_claim_free(&c);
}

/* A reader jumping over a run of claimed messages must not pass a delayed
 * message below the claim cursor (it is listed in `delayed`, not in
 * `avail`). */
static void test_read_jump(feed_t *feed)
{
	feed_claim_t a, b;
	feed_msgs_t page = {0};
	feed_read_opts_t ro = {.limit = 5};
	char want[64];

	append_range(feed, "rj", 10, T0, NULL);
	append_msg(feed, "rj", "late", 600, 60, T0, NULL);
	append_range_from(feed, "rj", 10, 20, T0);
	claim(feed, "rj", 300, 0, 10, T0, &a);
	claim(feed, "rj", 300, 0, 10, T0, &b);
	ok(bodies_are(&b.msgs, "m10,m11,m12,m13,m14,m15,m16,m17,m18,m19"),
	   "the second claim steps over the delayed message");
	fixture_client(ro.client_id, 99);
	is(feed_read(feed, P, "rj", NULL, &ro, T0 + 30 * SEC, &page), 0,
	   "read before the delayed message is due");
	ok(page.n == 0 && page.wake_ms == T0 + 60 * SEC,
	   "stops at it, past the claimed run, and wakes when it is due");
	feed_msgs_free(&page);
	is(feed_read(feed, P, "rj", NULL, &ro, T0 + 60 * SEC, &page), 0,
	   "read once it is due");
	snprintf(want, sizeof(want), "late,m20,m21,m22,m23");
	ok(bodies_are(&page, want),
	   "the jump over the claimed run lands on the delayed message");
	feed_msgs_free(&page);
	feed_claim_free(&a);
	feed_claim_free(&b);
}

static void test_pop_delayed(feed_t *feed)
{
	feed_msgs_t got = {0};
	size_t purged = 0;
	bool more = true;

	append_msg(feed, "pd", "m0", 600, 20, T0, NULL);
	append_msg(feed, "pd", "m1", 600, 0, T0, NULL);
	append_msg(feed, "pd", "m2", 600, 10, T0, NULL);
	append_msg(feed, "pd", "m3", 600, 0, T0, NULL);
	is(feed_pop(feed, P, "pd", 10, T0, &got), 0, "pop");
	ok(bodies_are(&got, "m1,m3"), "pops only what is due");
	feed_msgs_free(&got);
	is(feed_pop(feed, P, "pd", 10, T0 + 20 * SEC, &got), 0, "pop later");
	ok(bodies_are(&got, "m2,m0"), "pops delayed ones in due order");
	feed_msgs_free(&got);

	append_msg(feed, "pgd", "m0", 600, 20, T0, NULL);
	append_msg(feed, "pgd", "m1", 600, 0, T0, NULL);
	append_msg(feed, "pgd", "m2", 600, 10, T0, NULL);
	feed_queue_purge(feed, P, "pgd", 10, T0, &purged, &more);
	ok(purged == 1 && !more, "purge leaves delayed messages");
	feed_queue_purge(feed, P, "pgd", 10, T0 + 10 * SEC, &purged, &more);
	ok(purged == 1 && !more, "and removes them once due");
	feed_queue_purge(feed, P, "pgd", 10, T0 + 20 * SEC, &purged, &more);
	ok(purged == 1 && !more, "each of them");
	fixture_check(feed, "after pops and purges of delayed messages");
}

static void test_delayed_removed(feed_t *feed)
{
	feed_id_t ids[4];
	feed_compact_result_t cr;
	feed_claim_t c;
	bool deleted = false;

	append_msg(feed, "dx", "m0", 600, 60, T0, ids[0]);
	append_msg(feed, "dx", "m1", 5, 60, T0, ids[1]);
	append_msg(feed, "dx", "m2", 100, 30, T0, ids[2]);
	append_msg(feed, "dx", "m3", 600, 30, T0, ids[3]);
	is(feed_delete(feed, P, "dx", ids[0], NULL, T0, &deleted), 0,
	   "delete a delayed message");
	ok(deleted, "it is removed");
	fixture_check(feed, "after deleting a delayed message");
	do {
		feed_compact(feed, T0 + 6 * SEC, 100, &cr);
	} while (cr.more);
	is(cr.messages, 1, "compaction removes the one that expired undue");
	fixture_check(feed, "after a delayed message expired");
	claim(feed, "dx", 300, 0, 10, T0 + 101 * SEC, &c);
	ok(bodies_are(&c.msgs, "m3"),
	   "a claim removes a due one that expired and takes the other");
	feed_claim_free(&c);
	fixture_check(feed, "after a claim removed an expired delayed message");
}

/* -------------------------------------------------------------- costs */

#define DELAYED_N 100000
#define LIMIT 10
/* What a claim of LIMIT may touch: the walk's budget of 256 + 16 * limit
 * records, the few before and after it (queue, claim record), and the
 * one step that crosses the budget. */
#define WALK_MAX (256 + 16 * LIMIT + 40)

/* Appends n messages "<prefix><first + i>" in one group commit of
 * requests of up to 10000 messages. */
static void append_bulk(feed_t *feed, const char *queue, const char *prefix,
			int first, int n, uint32_t ttl_s, uint32_t delay_s,
			uint64_t now_ms)
{
	enum { BATCH = 10000 };
	size_t nreq = (size_t)(n + BATCH - 1) / BATCH;
	feed_append_req_t *reqs = calloc(nreq, sizeof(*reqs));
	feed_msg_in_t *in = calloc((size_t)n, sizeof(*in));
	char (*bodies)[16] = calloc((size_t)n, sizeof(*bodies));

	if (!reqs || !in || !bodies)
		bail_out("out of memory");
	for (int i = 0; i < n; i++) {
		snprintf(bodies[i], sizeof(bodies[i]), "%s%d", prefix,
			 first + i);
		in[i] = (feed_msg_in_t){.body = bodies[i],
					.body_len = strlen(bodies[i]),
					.ttl_s = ttl_s,
					.delay_s = delay_s};
	}
	for (size_t r = 0; r < nreq; r++) {
		reqs[r].project = P;
		reqs[r].queue = queue;
		reqs[r].msgs = in + r * BATCH;
		reqs[r].n_msgs = r + 1 < nreq ? BATCH : (size_t)n - r * BATCH;
		fixture_client(reqs[r].client_id, 1);
	}
	if (feed_append_group(feed, reqs, nreq, now_ms))
		bail_out("bulk append to %s failed", queue);
	for (size_t r = 0; r < nreq; r++)
		if (reqs[r].status)
			bail_out("bulk append to %s: %s", queue,
				 feed_strerror(reqs[r].status));
	free(reqs);
	free(in);
	free(bodies);
}

/* Claims LIMIT at now_ms; *touched = the records the call touched. */
static int claim_counted(feed_t *feed, const char *queue, uint64_t now_ms,
			 feed_claim_t *out, uint64_t *touched)
{
	uint64_t before = feed_debug_touched();
	int rc = claim(feed, queue, 3600, 60, LIMIT, now_ms, out);

	*touched = feed_debug_touched() - before;
	return rc;
}

/* True when the messages are "<prefix><first>", "<prefix><first+1>", ... */
static bool bodies_run(const feed_msgs_t *msgs, const char *prefix,
		       int first)
{
	for (size_t i = 0; i < msgs->n; i++) {
		char want[16];

		snprintf(want, sizeof(want), "%s%d", prefix, first + (int)i);
		if (msgs->v[i].body_len != strlen(want) ||
		    memcmp(msgs->v[i].body, want, strlen(want)))
			return false;
	}
	return true;
}

/* Consumers keep up: the delayed messages were posted with the claim
 * cursor at the tail, ready ones after them. */
static void test_cost_at_tail(feed_t *feed)
{
	uint64_t now = T0 + SEC, t, most = 0;
	feed_claim_t c;
	bool full = true, fifo = true;

	append_bulk(feed, "cost-tail", "r", 0, 50, 3600, 0, T0);
	for (int i = 0; i < 5; i++) {
		claim(feed, "cost-tail", 3600, 60, LIMIT, now, &c);
		feed_claim_free(&c);
	}
	append_bulk(feed, "cost-tail", "d", 0, DELAYED_N, 3600, 900, T0);
	append_bulk(feed, "cost-tail", "r", 50, 200, 3600, 0, T0);
	for (int i = 0; i < 20; i++) {
		claim_counted(feed, "cost-tail", now, &c, &t);
		full = full && c.msgs.n == LIMIT;
		fifo = fifo && bodies_run(&c.msgs, "r", 50 + i * LIMIT);
		if (t > most)
			most = t;
		feed_claim_free(&c);
	}
	ok(full && fifo, "behind %d delayed messages, claims take the ready "
	   "ones in order", DELAYED_N);
	ok(most < 100, "each claim of %d touches < 100 records (most: %llu)",
	   LIMIT, (unsigned long long)most);
	claim_counted(feed, "cost-tail", now, &c, &t);
	ok(c.msgs.n == 0 && c.wake_ms == T0 + 900 * SEC,
	   "with only delayed ones left nothing is claimed; wake at their due");
	ok(t < 30, "and that costs < 30 records (%llu)", (unsigned long long)t);
	feed_claim_free(&c);
	most = 0;
	full = fifo = true;
	for (int i = 0; i < 5; i++) {
		claim_counted(feed, "cost-tail", T0 + 900 * SEC, &c, &t);
		full = full && c.msgs.n == LIMIT;
		fifo = fifo && bodies_run(&c.msgs, "d", i * LIMIT);
		if (t > most)
			most = t;
		feed_claim_free(&c);
	}
	ok(full && fifo, "once due, claims take the delayed ones in order");
	/* Their claim outlives them: each one's expiry is raised, which
	 * moves it out of its expiry run (a few seeks and writes each). */
	ok(most < 15 * LIMIT, "each touching < %d records, 15 per message "
	   "with its expiry raised (most: %llu)", 15 * LIMIT,
	   (unsigned long long)most);
}

/* The delayed messages sit in the fresh region, behind a ready backlog
 * and in front of more ready messages. */
static void test_cost_behind_backlog(feed_t *feed)
{
	enum { READY = 500 };
	uint64_t now = T0 + SEC, t, most = 0;
	feed_claim_t c;
	int got = 0, calls = 0;
	bool order = true, again = true;

	append_bulk(feed, "cost-back", "r", 0, READY, 3600, 0, T0);
	append_bulk(feed, "cost-back", "d", 0, DELAYED_N, 3600, 900, T0);
	append_bulk(feed, "cost-back", "r", READY, READY, 3600, 0, T0);
	while (got < 2 * READY && calls < 2000) {
		if (claim_counted(feed, "cost-back", now, &c, &t))
			break;
		calls++;
		order = order && bodies_run(&c.msgs, "r", got);
		/* short of its limit: only because the budget ran out */
		if (c.msgs.n < LIMIT && got + (int)c.msgs.n < 2 * READY)
			again = again && c.wake_ms == now + 1;
		got += (int)c.msgs.n;
		if (t > most)
			most = t;
		feed_claim_free(&c);
	}
	is(got, 2 * READY, "claims get every ready message, past %d delayed "
	   "ones in the log", DELAYED_N);
	ok(order, "in log order");
	ok(most <= WALK_MAX, "each call stays within the walk budget (most "
	   "%llu records, bound %d)", (unsigned long long)most, WALK_MAX);
	ok(again, "a call stopped by the budget says to call again at once");
	ok(calls < 2 * READY / LIMIT + DELAYED_N / 200,
	   "successive claims make progress through them (%d calls)", calls);
	claim_counted(feed, "cost-back", now, &c, &t);
	ok(c.msgs.n == 0 && c.wake_ms == T0 + 900 * SEC,
	   "then nothing is left but delayed ones; wake at their due time");
	feed_claim_free(&c);
	claim_counted(feed, "cost-back", T0 + 900 * SEC, &c, &t);
	ok(c.msgs.n == LIMIT && bodies_run(&c.msgs, "d", 0) && t < 15 * LIMIT,
	   "once due they are claimed in order, < %d records (%llu)",
	   15 * LIMIT, (unsigned long long)t);
	feed_claim_free(&c);
}

static void test_cost_expired_claims(feed_t *feed)
{
	enum { N = 2000 };
	uint64_t t;
	feed_claim_t c;
	feed_compact_result_t cr;
	int rounds = 0;

	append_bulk(feed, "cost-xc", "r", 0, N, 3600, 0, T0);
	for (int i = 0; i < N; i++) {
		claim(feed, "cost-xc", 60, 0, 1, T0, &c);
		feed_claim_free(&c);
	}
	claim_counted(feed, "cost-xc", T0 + 61 * SEC, &c, &t);
	/* which ones: those of the first claims released (equal expiries
	 * are in claim id order) */
	is(c.msgs.n, LIMIT, "after %d claims expired, a claim takes %d of "
	   "their messages", N, LIMIT);
	ok(t <= WALK_MAX, "touching no more than the walk budget (%llu)",
	   (unsigned long long)t);
	feed_claim_free(&c);
	do {
		feed_compact(feed, T0 + 61 * SEC, 500, &cr);
	} while (cr.more && ++rounds < 100);
	fixture_check(feed, "after compaction released the rest");
	claim_counted(feed, "cost-xc", T0 + 61 * SEC, &c, &t);
	is(c.msgs.n, LIMIT, "claims go on with the released ones");
	feed_claim_free(&c);

	/* An expired claim larger than a call may release: compaction's. */
	append_bulk(feed, "cost-big", "r", 0, 100, 3600, 0, T0);
	claim(feed, "cost-big", 60, 0, 100, T0, &c);
	feed_claim_free(&c);
	claim_counted(feed, "cost-big", T0 + 61 * SEC, &c, &t);
	ok(c.msgs.n == 0 && c.wake_ms == 0 && t < 30,
	   "a claim leaves an expired claim of 100 to compaction, cheaply, "
	   "without asking to be called again (%llu records)",
	   (unsigned long long)t);
	feed_claim_free(&c);
	do {
		feed_compact(feed, T0 + 61 * SEC, 500, &cr);
	} while (cr.more && ++rounds < 200);
	claim_counted(feed, "cost-big", T0 + 61 * SEC, &c, &t);
	ok(c.msgs.n == LIMIT && bodies_run(&c.msgs, "r", 0),
	   "once compaction released it, claims take its messages in order");
	feed_claim_free(&c);
}

/* ------------------------------------------------------------ upgrade */

struct fmt1 {
	const char *queue;
	bool upgrade; /* run the upgrade; else take the queue back to format 1 */
};

/* Format 1 had no `delayed`: delayed messages a claim had passed were
 * parked in `avail`, those ahead of the cursor had no entry. */
static int fmt1_fn(feed_t *feed, MDB_txn *txn, void *arg)
{
	struct fmt1 *f = arg;
	struct feed__queue q;
	uint8_t k[16];
	MDB_val key = {16, k}, val;
	MDB_cursor *cur;
	int rc = feed__queue_find(feed, txn, P, f->queue, &q);

	if (rc || f->upgrade)
		return rc ? rc : feed__claims_upgrade(feed, txn, &q);
	rc = mdb_cursor_open(txn, feed->delayed, &cur);
	feed__msg_key(k, q.qid, 0);
	if (rc == 0)
		rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
	while (rc == 0 && feed__get_be64(key.mv_data) == q.qid) {
		uint64_t due = feed__get_be64((uint8_t *)key.mv_data + 8);
		uint64_t seq = feed__get_be64((uint8_t *)key.mv_data + 16);

		rc = mdb_cursor_del(cur, 0);
		if (rc == 0 && due != FEED__BY_SEQ && seq < q.rec.claim_cursor)
			rc = feed__avail_set(feed, txn, q.qid, seq, true);
		if (rc == 0)
			rc = mdb_cursor_get(cur, &key, &val, MDB_GET_CURRENT);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static void test_upgrade(feed_t *feed)
{
	struct fmt1 down = {"up", false}, up = {"up", true};
	feed_claim_t c;
	char why[256];

	append_msg(feed, "up", "m0", 600, 0, T0, NULL);
	append_msg(feed, "up", "m1", 600, 60, T0, NULL);
	append_msg(feed, "up", "m2", 600, 0, T0, NULL);
	append_msg(feed, "up", "m3", 600, 30, T0, NULL);
	append_msg(feed, "up", "m4", 600, 0, T0, NULL);
	append_msg(feed, "up", "m5", 600, 0, T0, NULL);
	claim(feed, "up", 300, 0, 2, T0, &c); /* m0, m2: the cursor is at m3 */
	ok(bodies_are(&c.msgs, "m0,m2"), "claim before the downgrade");
	feed_claim_free(&c);
	append_msg(feed, "up", "m6", 600, 20, T0, NULL);
	is(feed__write(feed, fmt1_fn, &down, 0), 0, "back to format 1");
	is(feed_debug_check(feed, why, sizeof(why)), FEED_ECORRUPT,
	   "the check sees the format 1 layout as wrong: %s", why);
	is(feed__write(feed, fmt1_fn, &up, 0), 0, "upgrade");
	fixture_check(feed, "after the upgrade");
	is(feed__write(feed, fmt1_fn, &up, 0), 0, "upgrade again");
	fixture_check(feed, "after upgrading twice");
	claim(feed, "up", 300, 0, 10, T0, &c);
	ok(bodies_are(&c.msgs, "m4,m5"), "upgraded: only ready ones claimed");
	is(c.wake_ms, T0 + 20 * SEC, "and wake_ms is the earliest due time");
	feed_claim_free(&c);
	claim(feed, "up", 300, 0, 10, T0 + 30 * SEC, &c);
	ok(bodies_are(&c.msgs, "m6,m3"), "delayed ones come when due");
	feed_claim_free(&c);
	claim(feed, "up", 300, 0, 10, T0 + 60 * SEC, &c);
	ok(bodies_are(&c.msgs, "m1"), "each of them");
	feed_claim_free(&c);
	fixture_check(feed, "after claiming the upgraded queue");
}

int main(void)
{
	const char *dir;
	feed_options_t opts = {.durability = FEED_NOSYNC};
	feed_t *feed = fixture_open(&dir, &opts);

	test_exclusive(feed);
	test_interleaved(feed);
	test_claim_count(feed);
	test_grace(feed);
	test_renew(feed);
	test_release(feed);
	test_expiry(feed);
	test_delete_rules(feed);
	test_not_claimable(feed);
	test_wake(feed);
	test_purge(feed);
	test_backlog(feed);
	test_due_order(feed);
	test_due_ahead(feed);
	test_read_jump(feed);
	test_pop_delayed(feed);
	test_delayed_removed(feed);
	test_cost_at_tail(feed);
	test_cost_behind_backlog(feed);
	test_cost_expired_claims(feed);
	test_upgrade(feed);

	feed_close(feed);
	fixture_rmdir(dir);
	done_testing();
	return exit_status();
}
