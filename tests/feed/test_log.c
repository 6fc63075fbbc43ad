/*
 * test_log.c - the message log: append (single and group commit), read with
 * markers and filters, gaps, get, delete and pop.
 *
 * Message bodies are "m<N>" so a reader's view can be compared with the
 * order of publication by body alone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feed.h"
#include "fixture.h"
#include "tap.h"

#define T0  1700000000000ULL
#define SEC 1000ULL

typedef char feed_id_t[FEED_ID_LEN + 1];

static const char *P = "log";

static int append_msg(feed_t *feed, const char *queue, const char *body,
		      uint32_t ttl_s, uint32_t delay_s, unsigned client_n,
		      uint64_t now_ms, char id[FEED_ID_LEN + 1])
{
	feed_msg_in_t in = {.body = body, .body_len = strlen(body),
			    .ttl_s = ttl_s, .delay_s = delay_s};
	uint8_t client[16];
	feed_id_t ids[1] = {""};
	int rc;

	fixture_client(client, client_n);
	rc = feed_append(feed, P, queue, &in, 1, client, now_ms, ids);
	if (rc)
		diag("append %s to %s: %s", body, queue, feed_strerror(rc));
	if (id)
		memcpy(id, ids[0], sizeof(ids[0]));
	return rc;
}

/* Appends bodies m<first>..m<first+n-1> one per call, ttl 600, client 1. */
static void append_range(feed_t *feed, const char *queue, int first, int n,
			 uint64_t now_ms, feed_id_t *ids)
{
	for (int i = 0; i < n; i++) {
		char body[16];

		snprintf(body, sizeof(body), "m%d", first + i);
		append_msg(feed, queue, body, 600, 0, 1, now_ms,
			   ids ? ids[i] : NULL);
	}
}

static bool body_is(const feed_msg_t *m, const char *want)
{
	return m->body_len == strlen(want) &&
	       memcmp(m->body, want, m->body_len) == 0;
}

static int read_q(feed_t *feed, const char *queue, const char *marker,
		  size_t limit, unsigned flags, unsigned reader_n,
		  uint64_t now_ms, feed_msgs_t *out)
{
	feed_read_opts_t ro = {.limit = limit, .flags = flags};

	fixture_client(ro.client_id, reader_n);
	return feed_read(feed, P, queue, marker, &ro, now_ms, out);
}

/* True when the page's bodies are exactly `want` (comma-separated). */
static bool page_is(const feed_msgs_t *page, const char *want)
{
	char got[1024] = "";
	size_t off = 0;

	for (size_t i = 0; i < page->n && off < sizeof(got) - 1; i++)
		off += snprintf(got + off, sizeof(got) - off, "%s%.*s",
				i ? "," : "", (int)page->v[i].body_len,
				(const char *)page->v[i].body);
	if (strcmp(got, want))
		diag("page is \"%s\", want \"%s\"", got, want);
	return strcmp(got, want) == 0;
}

/* Reads from `marker` to the end in pages of `limit`; bodies joined. */
static void read_all(feed_t *feed, const char *queue, const char *marker,
		     size_t limit, unsigned flags, uint64_t now_ms, char *out,
		     size_t size)
{
	char m[FEED_ID_LEN + 1] = "";
	size_t off = 0;

	out[0] = '\0';
	if (marker)
		snprintf(m, sizeof(m), "%s", marker);
	for (int pages = 0; pages < 1000; pages++) {
		feed_msgs_t page = {0};
		int rc = read_q(feed, queue, m, limit, flags, 99, now_ms,
				&page);
		size_t n = page.n;
		bool gap = page.gap;

		for (size_t i = 0; rc == 0 && i < page.n && off < size - 1; i++)
			off += snprintf(out + off, size - off, "%s%.*s",
					off ? "," : "",
					(int)page.v[i].body_len,
					(const char *)page.v[i].body);
		if (rc == 0)
			memcpy(m, page.next_marker, sizeof(m));
		feed_msgs_free(&page);
		if (rc || (n == 0 && !gap))
			break;
	}
}

static void test_fifo(feed_t *feed)
{
	feed_id_t ids[15];
	feed_msg_in_t in[5];
	char bodies[5][8];
	uint8_t client[16];
	feed_msgs_t page = {0};
	bool order = true, fields = true;
	uint64_t gen, seq;

	for (int i = 0; i < 10; i++) {
		char body[8];

		snprintf(body, sizeof(body), "m%d", i);
		append_msg(feed, "fifo", body, 600, 0, 1, T0 + i, ids[i]);
	}
	for (int i = 0; i < 5; i++) {
		snprintf(bodies[i], sizeof(bodies[i]), "m%d", 10 + i);
		in[i] = (feed_msg_in_t){.body = bodies[i],
					.body_len = strlen(bodies[i]),
					.ttl_s = 600};
	}
	fixture_client(client, 1);
	is(feed_append(feed, P, "fifo", in, 5, client, T0 + 10, ids + 10), 0,
	   "append a batch of five");
	for (int i = 0; i < 15; i++)
		if (feed_id_parse(ids[i], &gen, &seq) || seq != (uint64_t)i + 1)
			order = false;
	ok(order, "append hands out ids with seqs 1..15 in order");

	is(read_q(feed, "fifo", NULL, 100, 0, 99, T0 + 20, &page), 0,
	   "read the whole queue");
	is(page.n, 15, "read returns all fifteen");
	order = page.n == 15;
	for (size_t i = 0; order && i < page.n; i++) {
		const feed_msg_t *m = &page.v[i];
		char want[24];
		uint64_t created = i < 10 ? T0 + i : T0 + 10;

		snprintf(want, sizeof(want), "m%zu", i);
		if (!body_is(m, want) || strcmp(m->id, ids[i]) ||
		    m->seq != i + 1)
			order = false;
		if (m->created_ms != created ||
		    m->expires_ms != created + 600 * SEC ||
		    m->due_ms != created || m->claim_id[0] ||
		    m->claim_count != 0 ||
		    memcmp(m->client_id, client, 16))
			fields = false;
	}
	ok(order, "a single producer's messages read back in FIFO order");
	ok(fields,
	   "created, expires, due, client, claim fields are as appended");
	if (page.n == 15)
		is_str(page.next_marker, ids[14], "next_marker is the last id");
	else
		skip(1, "short read");
	ok(!page.gap, "a read from the start reports no gap");
	feed_msgs_free(&page);
	ok(page.n == 0 && page.v == NULL, "msgs_free leaves msgs empty");
}

static void test_two_readers(feed_t *feed)
{
	char ma[FEED_ID_LEN + 1] = "", mb[FEED_ID_LEN + 1] = "";
	int seen_a = 0, seen_b = 0;
	bool a_ok = true, b_ok = true, stay = true;

	append_range(feed, "two", 0, 20, T0, NULL);
	for (int round = 0; round < 60; round++) {
		feed_msgs_t pa = {0}, pb = {0};
		size_t na, nb;

		if (round == 3)
			append_range(feed, "two", 20, 5, T0 + SEC, NULL);
		if (read_q(feed, "two", ma, 3, 0, 50, T0 + 2 * SEC, &pa) ||
		    read_q(feed, "two", mb, 4, 0, 51, T0 + 2 * SEC, &pb)) {
			a_ok = false;
			break;
		}
		for (size_t i = 0; i < pa.n; i++) {
			char want[24];

			snprintf(want, sizeof(want), "m%d", seen_a++);
			if (!body_is(&pa.v[i], want))
				a_ok = false;
		}
		for (size_t i = 0; i < pb.n; i++) {
			char want[24];

			snprintf(want, sizeof(want), "m%d", seen_b++);
			if (!body_is(&pb.v[i], want))
				b_ok = false;
		}
		if (pa.n == 0 && strcmp(pa.next_marker, ma))
			stay = false;
		memcpy(ma, pa.next_marker, sizeof(ma));
		memcpy(mb, pb.next_marker, sizeof(mb));
		na = pa.n;
		nb = pb.n;
		feed_msgs_free(&pa);
		feed_msgs_free(&pb);
		if (round > 3 && na == 0 && nb == 0)
			break;
	}
	ok(a_ok, "reader A (limit 3) sees messages in order, none twice");
	ok(b_ok, "reader B (limit 4) sees messages in order, none twice");
	is(seen_a, 25, "reader A sees all 25, including those appended later");
	is(seen_b, 25, "reader B sees all 25");
	ok(stay, "an empty page's next_marker is the marker it was given");
}

static void test_markers(feed_t *feed)
{
	feed_msgs_t page = {0};
	feed_id_t ids[2];

	is(read_q(feed, "missing", NULL, 10, 0, 99, T0, &page), 0,
	   "read of a missing queue succeeds");
	is(page.n, 0, "a missing queue reads as empty");
	is_str(page.next_marker, "",
	       "empty queue from its start: next_marker \"\"");
	ok(!page.gap, "a missing queue reports no gap");
	feed_msgs_free(&page);

	append_range(feed, "mk", 0, 2, T0, ids);
	is(read_q(feed, "mk", "zz", 10, 0, 99, T0, &page), FEED_EBADID,
	   "a malformed marker is FEED_EBADID");
	feed_msgs_free(&page);
	is(read_q(feed, "mk", "0123456789abcdef0123456x", 10, 0, 99, T0,
		  &page),
	   FEED_EBADID, "a marker with a non-hex character is FEED_EBADID");
	feed_msgs_free(&page);
	is(read_q(feed, "mk", NULL, 0, 0, 99, T0, &page), FEED_EINVAL,
	   "limit 0 is FEED_EINVAL");
	feed_msgs_free(&page);

	is(read_q(feed, "mk", "", 1, 0, 99, T0, &page), 0, "read limit 1");
	ok(page_is(&page, "m0"), "marker \"\" reads from the oldest");
	is_str(page.next_marker, ids[0], "next_marker is the id just read");
	feed_msgs_free(&page);
	is(read_q(feed, "mk", ids[0], 10, 0, 99, T0, &page), 0,
	   "read after m0");
	ok(page_is(&page, "m1"),
	   "a read returns messages strictly after the marker");
	feed_msgs_free(&page);
	is(read_q(feed, "mk", ids[1], 10, 0, 99, T0, &page), 0,
	   "read after the last");
	is(page.n, 0, "nothing after the last message");
	is_str(page.next_marker, ids[1], "next_marker stays at the last id");
	feed_msgs_free(&page);
}

static void test_echo(feed_t *feed)
{
	feed_id_t ids[4];
	feed_msgs_t page = {0}, page2 = {0};

	append_msg(feed, "echo", "m0", 600, 0, 1, T0, ids[0]);
	append_msg(feed, "echo", "m1", 600, 0, 1, T0, ids[1]);
	append_msg(feed, "echo", "m2", 600, 0, 2, T0, ids[2]);
	append_msg(feed, "echo", "m3", 600, 0, 1, T0, ids[3]);

	read_q(feed, "echo", NULL, 10, 0, 1, T0, &page);
	ok(page_is(&page, "m2"), "a reader does not see its own messages");
	is_str(page.next_marker, ids[3],
	       "next_marker advances over the reader's own messages");
	feed_msgs_free(&page);
	read_q(feed, "echo", NULL, 10, FEED_READ_ECHO, 1, T0, &page);
	ok(page_is(&page, "m0,m1,m2,m3"), "FEED_READ_ECHO shows its own too");
	feed_msgs_free(&page);
	read_q(feed, "echo", NULL, 10, 0, 2, T0, &page);
	ok(page_is(&page, "m0,m1,m3"),
	   "another reader sees the others' messages");
	feed_msgs_free(&page);

	read_q(feed, "echo", NULL, 1, 0, 1, T0, &page);
	ok(page_is(&page, "m2"),
	   "limit 1 skips own messages to the first other");
	read_q(feed, "echo", page.next_marker, 10, 0, 1, T0, &page2);
	is(page2.n, 0, "the rest are the reader's own");
	is_str(page2.next_marker, ids[3], "and next_marker passes them");
	feed_msgs_free(&page);
	feed_msgs_free(&page2);
}

static void test_include_claimed(feed_t *feed)
{
	feed_claim_t claim = {0}, all = {0};
	feed_id_t ids[20];
	char marker[FEED_ID_LEN + 1];
	feed_msgs_t page = {0};

	append_range(feed, "ic", 0, 4, T0, NULL);
	is(feed_claim_create(feed, P, "ic", 60, 60, 2, T0, &claim), 0,
	   "claim two");
	read_q(feed, "ic", NULL, 10, 0, 99, T0, &page);
	ok(page_is(&page, "m2,m3"), "claimed messages are hidden by default");
	feed_msgs_free(&page);
	read_q(feed, "ic", NULL, 10, FEED_READ_INCLUDE_CLAIMED, 99, T0, &page);
	ok(page_is(&page, "m0,m1,m2,m3"),
	   "FEED_READ_INCLUDE_CLAIMED lists claimed messages");
	if (page.n == 4) {
		is_str(page.v[0].claim_id, claim.id,
		       "a claimed message carries its claim id");
		is(page.v[0].claim_expires_ms, T0 + 60 * SEC,
		   "and its claim's expiry");
		is_str(page.v[2].claim_id, "",
		       "an unclaimed message has claim id \"\"");
	} else {
		skip(3, "short read");
	}
	feed_msgs_free(&page);
	read_q(feed, "ic", NULL, 10, FEED_READ_INCLUDE_CLAIMED, 99,
	       T0 + 61 * SEC, &page);
	ok(page.n == 4 && page.v[0].claim_id[0] == '\0',
	   "after the claim expired its messages show claim id \"\"");
	feed_msgs_free(&page);

	append_range(feed, "ictail", 0, 20, T0, ids);
	feed_claim_create(feed, P, "ictail", 60, 60, 20, T0, &all);
	read_q(feed, "ictail", NULL, 10, 0, 99, T0, &page);
	is(page.n, 0, "a queue whose messages are all claimed reads empty");
	is_str(page.next_marker, ids[19],
	       "next_marker advances over claimed messages, to the last");
	memcpy(marker, page.next_marker, sizeof(marker));
	feed_msgs_free(&page);
	append_range(feed, "ictail", 20, 1, T0, NULL);
	read_q(feed, "ictail", marker, 10, 0, 99, T0, &page);
	ok(page_is(&page, "m20"),
	   "a message appended after the claimed run reads from that marker");
	feed_msgs_free(&page);
	feed_claim_free(&claim);
	feed_claim_free(&all);
}

static void compact_all(feed_t *feed, uint64_t now_ms);

/* Appends m<first>..m<first+n-1> in one batch with `ttl_s`, client 1. */
static void append_batch(feed_t *feed, const char *queue, int first, int n,
			 uint32_t ttl_s, uint64_t now_ms)
{
	feed_msg_in_t in[200];
	char bodies[200][16];
	uint8_t client[16];

	fixture_client(client, 1);
	for (int i = 0; i < n && i < 200; i++) {
		snprintf(bodies[i], sizeof(bodies[i]), "m%d", first + i);
		in[i] = (feed_msg_in_t){.body = bodies[i],
					.body_len = strlen(bodies[i]),
					.ttl_s = ttl_s};
	}
	if (feed_append(feed, P, queue, in, n, client, now_ms, NULL))
		bail_out("append of a batch to %s failed", queue);
}

static void expect_range(char *buf, size_t size, int from, int to)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int i = from; i < to && off < size - 1; i++)
		off += snprintf(buf + off, size - off, "%sm%d",
				i > from ? "," : "", i);
}

static void test_claimed_runs(feed_t *feed)
{
	feed_claim_t a = {0}, b = {0}, c = {0}, d = {0};
	char all[4096], want[4096], tail[4096];
	feed_msgs_t page = {0};

	append_batch(feed, "runs", 0, 200, 600, T0);
	feed_claim_create(feed, P, "runs", 300, 60, 50, T0, &a);
	feed_claim_create(feed, P, "runs", 300, 60, 50, T0, &b);
	feed_claim_create(feed, P, "runs", 300, 60, 50, T0, &c);
	feed_claim_release(feed, P, "runs", b.id, T0);
	read_all(feed, "runs", NULL, 10, 0, T0, all, sizeof(all));
	expect_range(want, sizeof(want), 50, 100);
	expect_range(tail, sizeof(tail), 150, 200);
	strcat(want, ",");
	strcat(want, tail);
	is_str(all, want,
	       "long runs of claimed messages are skipped, released ones read");
	read_q(feed, "runs", NULL, 5, 0, 99, T0, &page);
	ok(page_is(&page, "m50,m51,m52,m53,m54"),
	   "the first page after a claimed run of 50");
	feed_msgs_free(&page);
	read_all(feed, "runs", NULL, 10, FEED_READ_INCLUDE_CLAIMED, T0, all,
		 sizeof(all));
	expect_range(want, sizeof(want), 0, 200);
	is_str(all, want, "FEED_READ_INCLUDE_CLAIMED reads all 200");

	/* a claimed run followed by an expiry hole */
	append_batch(feed, "runhole", 0, 100, 600, T0);
	append_batch(feed, "runhole", 100, 10, 10, T0);
	append_batch(feed, "runhole", 110, 10, 600, T0);
	feed_claim_create(feed, P, "runhole", 300, 60, 100, T0, &d);
	compact_all(feed, T0 + 11 * SEC);
	read_all(feed, "runhole", NULL, 10, 0, T0 + 11 * SEC, all, sizeof(all));
	expect_range(want, sizeof(want), 110, 120);
	is_str(all, want, "past a claimed run and an expiry hole the read "
	       "finds the rest");
	feed_claim_free(&a);
	feed_claim_free(&b);
	feed_claim_free(&c);
	feed_claim_free(&d);
}

static void test_expiry_hides(feed_t *feed)
{
	feed_id_t ids[4];
	char all[256];
	feed_msgs_t got = {0};

	append_msg(feed, "exp", "m0", 10, 0, 1, T0, ids[0]);
	append_msg(feed, "exp", "m1", 100, 0, 1, T0, ids[1]);
	append_msg(feed, "exp", "m2", 10, 0, 1, T0, ids[2]);
	append_msg(feed, "exp", "m3", 100, 0, 1, T0, ids[3]);
	read_all(feed, "exp", NULL, 10, 0, T0 + 9 * SEC, all, sizeof(all));
	is_str(all, "m0,m1,m2,m3", "before expiry every message reads");
	read_all(feed, "exp", NULL, 10, 0, T0 + 11 * SEC, all, sizeof(all));
	is_str(all, "m1,m3", "expired messages are hidden before compaction");
	read_all(feed, "exp", NULL, 1, 0, T0 + 11 * SEC, all, sizeof(all));
	is_str(all, "m1,m3", "and hidden when paging one by one");
	is(feed_get(feed, P, "exp", ids[0], T0 + 9 * SEC, &got), 0,
	   "get before expiry finds it");
	feed_msgs_free(&got);
	is(feed_get(feed, P, "exp", ids[0], T0 + 11 * SEC, &got),
	   FEED_ENOTFOUND, "get after expiry does not");
	feed_msgs_free(&got);
}

static void test_delay(feed_t *feed)
{
	feed_id_t ids[3];
	feed_msgs_t page = {0};
	char marker[FEED_ID_LEN + 1];
	uint64_t due = T0 + 60 * SEC;

	append_msg(feed, "delay", "A", 600, 0, 1, T0, ids[0]);
	append_msg(feed, "delay", "B", 600, 60, 1, T0, ids[1]);
	append_msg(feed, "delay", "C", 600, 0, 1, T0, ids[2]);

	read_q(feed, "delay", NULL, 10, 0, 99, T0, &page);
	ok(page_is(&page, "A"), "a read stops before a message not yet due");
	is_str(page.next_marker, ids[0], "the marker does not pass it");
	feed_msgs_free(&page);
	read_q(feed, "delay", ids[0], 10, 0, 99, due - 1, &page);
	is(page.n, 0, "one ms before due the read still stops");
	is_str(page.next_marker, ids[0], "and the marker stays");
	feed_msgs_free(&page);
	read_q(feed, "delay", NULL, 10, FEED_READ_INCLUDE_DELAYED, 99, T0,
	       &page);
	ok(page_is(&page, "A,B,C"), "FEED_READ_INCLUDE_DELAYED lists it");
	if (page.n == 3)
		is(page.v[1].due_ms, due, "due_ms is created + delay");
	else
		skip(1, "short read");
	feed_msgs_free(&page);
	read_q(feed, "delay", ids[0], 10, 0, 99, due, &page);
	ok(page_is(&page, "B,C"), "once due the message reads in order");
	feed_msgs_free(&page);

	append_msg(feed, "delay0", "B", 600, 60, 1, T0, NULL);
	append_msg(feed, "delay0", "C", 600, 0, 1, T0, NULL);
	read_q(feed, "delay0", NULL, 10, 0, 99, T0, &page);
	is(page.n, 0, "a delayed first message stops the read at the start");
	memcpy(marker, page.next_marker, sizeof(marker));
	feed_msgs_free(&page);
	read_q(feed, "delay0", marker, 10, 0, 99, due, &page);
	ok(page_is(&page, "B,C"),
	   "the marker returned then still leads to the delayed message");
	feed_msgs_free(&page);
}

static void test_wake(feed_t *feed)
{
	feed_claim_t c1 = {0}, c2 = {0}, big = {0};
	feed_msgs_t page = {0};
	feed_id_t ids[2];

	append_msg(feed, "wake", "A", 600, 0, 1, T0, ids[0]);
	append_msg(feed, "wake", "B", 600, 30, 1, T0, ids[1]);
	read_q(feed, "wake", NULL, 10, 0, 99, T0, &page);
	is(page.wake_ms, T0 + 30 * SEC,
	   "wake_ms of a read stopped by a delayed message is its due time");
	feed_msgs_free(&page);
	read_q(feed, "wake", NULL, 10, FEED_READ_INCLUDE_DELAYED, 99, T0,
	       &page);
	is(page.wake_ms, 0, "a read that includes delayed messages has none");
	feed_msgs_free(&page);
	read_q(feed, "wake", NULL, 10, 0, 99, T0 + 30 * SEC, &page);
	is(page.wake_ms, 0,
	   "a read that met nothing depending on time has wake_ms 0");
	feed_msgs_free(&page);

	append_range(feed, "wakec", 0, 3, T0, NULL);
	feed_claim_create(feed, P, "wakec", 50, 0, 1, T0, &c1);
	feed_claim_create(feed, P, "wakec", 40, 0, 1, T0, &c2);
	read_q(feed, "wakec", NULL, 10, 0, 99, T0, &page);
	ok(page_is(&page, "m2"), "the claimed messages are skipped");
	is(page.wake_ms, T0 + 40 * SEC,
	   "a read that skipped claimed messages wakes at the earliest of "
	   "their claim expiries");
	feed_msgs_free(&page);
	read_q(feed, "wakec", NULL, 10, FEED_READ_INCLUDE_CLAIMED, 99, T0,
	       &page);
	is(page.wake_ms, 0, "a read that includes claimed messages has none");
	feed_msgs_free(&page);
	feed_claim_free(&c1);

	append_range(feed, "wakej", 0, 40, T0, NULL);
	feed_claim_create(feed, P, "wakej", 90, 0, 1, T0, &c1);
	feed_claim_create(feed, P, "wakej", 70, 0, 39, T0, &big);
	read_q(feed, "wakej", NULL, 10, 0, 99, T0, &page);
	is(page.n, 0, "a queue all claimed reads empty");
	is(page.wake_ms, T0 + 70 * SEC,
	   "a read that jumped over a claimed run wakes at the earliest "
	   "claim expiry");
	feed_msgs_free(&page);
	feed_claim_free(&c1);
	feed_claim_free(&c2);
	feed_claim_free(&big);
}

static void test_tail(feed_t *feed)
{
	feed_msgs_t page = {0};
	char tail[FEED_ID_LEN + 1], empty[FEED_ID_LEN + 1];
	uint64_t gen, seq;

	is(feed_queue_tail(feed, P, "tmissing", tail), 0,
	   "feed_queue_tail of a missing queue succeeds");
	is_str(tail, "", "with the marker \"\"");
	append_range(feed, "tmissing", 0, 2, T0, NULL);
	read_q(feed, "tmissing", tail, 10, 0, 99, T0, &page);
	ok(page_is(&page, "m0,m1"),
	   "and a read from it sees what a queue created later holds");
	feed_msgs_free(&page);

	feed_queue_create(feed, P, "tempty", NULL, 0, T0, NULL);
	is(feed_queue_tail(feed, P, "tempty", empty), 0,
	   "feed_queue_tail of an empty queue succeeds");
	ok(feed_id_parse(empty, &gen, &seq) == 0 && seq == 0,
	   "with the marker before its first message");
	append_range(feed, "tempty", 0, 2, T0, NULL);
	read_q(feed, "tempty", empty, 10, 0, 99, T0, &page);
	ok(page_is(&page, "m0,m1") && !page.gap,
	   "a read from an empty queue's tail sees the next appends");
	feed_msgs_free(&page);

	append_range(feed, "ttail", 0, 3, T0, NULL);
	is(feed_queue_tail(feed, P, "ttail", tail), 0, "feed_queue_tail");
	read_q(feed, "ttail", tail, 10, 0, 99, T0, &page);
	ok(page.n == 0 && !page.gap, "a read from the tail is empty at once");
	feed_msgs_free(&page);
	append_range(feed, "ttail", 3, 2, T0, NULL);
	read_q(feed, "ttail", tail, 10, 0, 99, T0, &page);
	ok(page_is(&page, "m3,m4") && !page.gap,
	   "a read from feed_queue_tail sees exactly the messages appended "
	   "after it");
	feed_msgs_free(&page);

	feed_queue_delete(feed, P, "ttail");
	append_range(feed, "ttail", 5, 1, T0, NULL);
	read_q(feed, "ttail", tail, 10, 0, 99, T0, &page);
	ok(page.gap && page_is(&page, "m5"),
	   "a tail of a deleted generation reads as a gap");
	feed_msgs_free(&page);
	is(feed_queue_tail(feed, P, "", tail), FEED_EINVAL,
	   "feed_queue_tail checks the name");
}

static void test_skip_delayed(feed_t *feed)
{
	feed_id_t ids[5];
	feed_msgs_t page = {0};
	unsigned skip = FEED_READ_SKIP_DELAYED;

	append_msg(feed, "skip", "A", 600, 0, 1, T0, ids[0]);
	append_msg(feed, "skip", "B", 600, 60, 1, T0, ids[1]);
	append_msg(feed, "skip", "C", 600, 0, 1, T0, ids[2]);
	append_msg(feed, "skip", "D", 600, 30, 1, T0, ids[3]);
	append_msg(feed, "skip", "E", 600, 0, 1, T0, ids[4]);

	read_q(feed, "skip", NULL, 10, skip, 99, T0, &page);
	ok(page_is(&page, "A,C,E"),
	   "FEED_READ_SKIP_DELAYED steps over messages not yet due");
	is_str(page.next_marker, ids[4], "and its marker passes them");
	is(page.wake_ms, T0 + 30 * SEC,
	   "wake_ms is the earliest due time it skipped");
	feed_msgs_free(&page);
	read_q(feed, "skip", NULL, 2, skip, 99, T0, &page);
	ok(page_is(&page, "A,C"), "the limit counts only messages returned");
	is_str(page.next_marker, ids[2], "the marker stops at the last one");
	feed_msgs_free(&page);
	read_q(feed, "skip", ids[2], 10, skip, 99, T0, &page);
	ok(page_is(&page, "E"), "the next page goes on after it");
	feed_msgs_free(&page);
	read_q(feed, "skip", NULL, 10, skip | FEED_READ_INCLUDE_DELAYED, 99,
	       T0, &page);
	ok(page_is(&page, "A,B,C,D,E"), "FEED_READ_INCLUDE_DELAYED wins");
	feed_msgs_free(&page);
	read_q(feed, "skip", NULL, 10, skip, 99, T0 + 30 * SEC, &page);
	ok(page_is(&page, "A,C,D,E"), "a message once due is listed");
	is(page.wake_ms, T0 + 60 * SEC, "and the next due time is the wake");
	feed_msgs_free(&page);
}

static void test_stale_marker(feed_t *feed)
{
	feed_id_t old[3];
	feed_msgs_t page = {0}, next = {0};
	char marker[FEED_ID_LEN + 1];

	append_range(feed, "regen", 0, 3, T0, old);
	is(feed_queue_delete(feed, P, "regen"), 0, "delete regen");
	append_range(feed, "regen", 100, 5, T0 + SEC, NULL);
	is(read_q(feed, "regen", old[1], 10, 0, 99, T0 + 2 * SEC, &page), 0,
	   "read with a marker of the deleted generation");
	ok(page.gap, "a stale marker reports a gap");
	is(page.missed, -1, "with missed unknown (-1)");
	ok(page_is(&page, "m100,m101,m102,m103,m104"),
	   "and resumes from the oldest message, not from the old seq");
	is(read_q(feed, "regen", page.next_marker, 10, 0, 99, T0 + 2 * SEC,
		  &next),
	   0, "read on");
	ok(next.n == 0 && !next.gap, "the next read is empty without a gap");
	feed_msgs_free(&page);
	feed_msgs_free(&next);
	is(feed_get(feed, P, "regen", old[0], T0 + 2 * SEC, &page),
	   FEED_ENOTFOUND, "an id of the deleted generation is not found");
	feed_msgs_free(&page);

	append_range(feed, "regen0", 0, 3, T0, old);
	feed_queue_delete(feed, P, "regen0");
	feed_queue_create(feed, P, "regen0", NULL, 0, T0 + SEC, NULL);
	read_q(feed, "regen0", old[2], 10, 0, 99, T0 + SEC, &page);
	ok(page.n == 0 && page.gap,
	   "a stale marker on an empty recreated queue reports a gap");
	memcpy(marker, page.next_marker, sizeof(marker));
	feed_msgs_free(&page);
	append_range(feed, "regen0", 7, 1, T0 + 2 * SEC, NULL);
	read_q(feed, "regen0", marker, 10, 0, 99, T0 + 2 * SEC, &page);
	ok(page_is(&page, "m7"),
	   "its next_marker leads to the first message of the new generation");
	feed_msgs_free(&page);
}

static void compact_all(feed_t *feed, uint64_t now_ms)
{
	feed_compact_result_t cr;

	for (int i = 0; i < 1000; i++) {
		memset(&cr, 0, sizeof(cr));
		if (feed_compact(feed, now_ms, 1000, &cr) || !cr.more)
			break;
	}
}

static void test_gap_after_compaction(feed_t *feed)
{
	feed_id_t ids[5], early[2];
	feed_msgs_t page = {0};
	char marker[FEED_ID_LEN + 1];

	append_msg(feed, "gap", "m0", 1000, 0, 1, T0, ids[0]);
	append_msg(feed, "gap", "m1", 1000, 0, 1, T0, ids[1]);
	append_msg(feed, "gap", "m2", 10, 0, 1, T0, ids[2]);
	append_msg(feed, "gap", "m3", 10, 0, 1, T0, ids[3]);
	append_msg(feed, "gap", "m4", 1000, 0, 1, T0, ids[4]);
	compact_all(feed, T0 + 11 * SEC);

	read_q(feed, "gap", ids[0], 10, 0, 99, T0 + 11 * SEC, &page);
	ok(page_is(&page, "m1"), "a read stops before a hole left by expiry");
	ok(!page.gap, "the messages before the hole come without a gap");
	memcpy(marker, page.next_marker, sizeof(marker));
	feed_msgs_free(&page);
	read_q(feed, "gap", marker, 10, 0, 99, T0 + 11 * SEC, &page);
	ok(page.gap, "the next read reports the gap");
	ok(page.missed == 2 || page.missed == -1,
	   "missed is the count (2) or unknown (got %lld)",
	   (long long)page.missed);
	ok(page_is(&page, "m4"), "and resumes after the hole");
	memcpy(marker, page.next_marker, sizeof(marker));
	feed_msgs_free(&page);
	read_q(feed, "gap", marker, 10, 0, 99, T0 + 11 * SEC, &page);
	ok(page.n == 0 && !page.gap, "a gap is reported once");
	feed_msgs_free(&page);

	/* expiry of a prefix of the log (no expiry index involved) */
	append_msg(feed, "gaphead", "m0", 10, 0, 1, T0, ids[0]);
	append_msg(feed, "gaphead", "m1", 10, 0, 1, T0, NULL);
	append_msg(feed, "gaphead", "m2", 10, 0, 1, T0, NULL);
	append_msg(feed, "gaphead", "m3", 1000, 0, 1, T0, NULL);
	compact_all(feed, T0 + 11 * SEC);
	read_q(feed, "gaphead", ids[0], 10, 0, 99, T0 + 11 * SEC, &page);
	ok(page.gap, "expiry of the log's head after the marker is a gap");
	ok(page.missed == 2 || page.missed == -1,
	   "missed is the count (2) or unknown (got %lld)",
	   (long long)page.missed);
	ok(page_is(&page, "m3"), "and the read resumes after it");
	feed_msgs_free(&page);

	/* an expiry hole followed by a user delete is still a gap */
	append_msg(feed, "gapdel", "m0", 1000, 0, 1, T0, ids[0]);
	append_msg(feed, "gapdel", "m1", 10, 0, 1, T0, ids[1]);
	append_msg(feed, "gapdel", "m2", 1000, 0, 1, T0, ids[2]);
	append_msg(feed, "gapdel", "m3", 1000, 0, 1, T0, ids[3]);
	compact_all(feed, T0 + 11 * SEC);
	feed_delete(feed, P, "gapdel", ids[2], NULL, T0 + 11 * SEC, NULL);
	read_q(feed, "gapdel", ids[0], 10, 0, 99, T0 + 11 * SEC, &page);
	ok(page.gap,
	   "an expired message hidden behind a later delete is a gap");
	ok(page.missed == 1 || page.missed == -1,
	   "missed counts only the expired one (1) or is unknown (got %lld)",
	   (long long)page.missed);
	ok(page_is(&page, "m3"), "and the read resumes at the next message");
	feed_msgs_free(&page);

	/* a delete after an expiry the reader had already passed is not */
	append_msg(feed, "gappast", "m0", 10, 0, 1, T0, NULL);
	append_msg(feed, "gappast", "m1", 1000, 0, 1, T0, ids[1]);
	append_msg(feed, "gappast", "m2", 1000, 0, 1, T0, ids[2]);
	append_msg(feed, "gappast", "m3", 1000, 0, 1, T0, NULL);
	read_q(feed, "gappast", NULL, 2, 0, 99, T0, &page);
	ok(page_is(&page, "m0,m1"), "reader saw m0 and m1 before expiry");
	feed_msgs_free(&page);
	compact_all(feed, T0 + 11 * SEC);
	feed_delete(feed, P, "gappast", ids[2], NULL, T0 + 11 * SEC, NULL);
	read_q(feed, "gappast", ids[1], 10, 0, 99, T0 + 11 * SEC, &page);
	ok(page_is(&page, "m3") && !page.gap,
	   "an expiry before the marker and a delete after it are no gap");
	feed_msgs_free(&page);

	/* the marker's own message expiring is not a gap */
	append_msg(feed, "gapself", "m0", 10, 0, 1, T0, early[0]);
	append_msg(feed, "gapself", "m1", 1000, 0, 1, T0, early[1]);
	compact_all(feed, T0 + 11 * SEC);
	read_q(feed, "gapself", early[0], 10, 0, 99, T0 + 11 * SEC, &page);
	ok(page_is(&page, "m1") && !page.gap,
	   "removal of the marker's own message is not a gap");
	feed_msgs_free(&page);
}

static void test_no_gap_for_deletes(feed_t *feed)
{
	feed_id_t ids[5];
	feed_msgs_t page = {0};
	const char *many[1];

	append_range(feed, "nogap", 0, 5, T0, ids);
	read_q(feed, "nogap", NULL, 1, 0, 99, T0, &page);
	ok(page_is(&page, "m0"), "reader has seen m0");
	feed_msgs_free(&page);
	feed_delete(feed, P, "nogap", ids[1], NULL, T0, NULL);
	many[0] = ids[2];
	feed_delete_many(feed, P, "nogap", many, 1, T0, NULL);
	feed_pop(feed, P, "nogap", 2, T0, &page);
	ok(page_is(&page, "m0,m3"), "pop took m0 and m3");
	feed_msgs_free(&page);
	read_q(feed, "nogap", ids[0], 10, 0, 99, T0, &page);
	ok(page_is(&page, "m4"), "the reader resumes past deleted messages");
	ok(!page.gap, "deletes and pops are not reported as a gap");
	feed_msgs_free(&page);
}

/* A gap means messages the reader can no longer see, counted exactly. */
static void test_gap_exact(feed_t *feed)
{
	feed_id_t ids[6];
	feed_msgs_t page = {0};
	char marker[FEED_ID_LEN + 1];
	feed_claim_t claim = {0};
	size_t purged = 0;

	/* A worker deleted m1 after the reader's marker; m3 expired later. */
	append_msg(feed, "spur", "m0", 1000, 0, 1, T0, ids[0]);
	append_msg(feed, "spur", "m1", 1000, 0, 1, T0, ids[1]);
	append_msg(feed, "spur", "m2", 1000, 0, 1, T0, ids[2]);
	append_msg(feed, "spur", "m3", 10, 0, 1, T0, ids[3]);
	append_msg(feed, "spur", "m4", 1000, 0, 1, T0, ids[4]);
	feed_delete(feed, P, "spur", ids[1], NULL, T0, NULL);
	compact_all(feed, T0 + 11 * SEC);
	read_q(feed, "spur", ids[0], 10, 0, 99, T0 + 11 * SEC, &page);
	ok(page_is(&page, "m2") && !page.gap,
	   "a message a worker deleted after the marker is no gap, also "
	   "when a later one expired");
	memcpy(marker, page.next_marker, sizeof(marker));
	feed_msgs_free(&page);
	read_q(feed, "spur", marker, 10, 0, 99, T0 + 11 * SEC, &page);
	ok(page.gap && page.missed == 1 && page_is(&page, "m4"),
	   "the expired one is a gap of exactly 1 (missed %lld)",
	   (long long)page.missed);
	feed_msgs_free(&page);

	/* Expired runs around a deleted message: one hole, counted. */
	append_msg(feed, "mixgap", "m0", 1000, 0, 1, T0, ids[0]);
	append_msg(feed, "mixgap", "m1", 10, 0, 1, T0, ids[1]);
	append_msg(feed, "mixgap", "m2", 1000, 0, 1, T0, ids[2]);
	append_msg(feed, "mixgap", "m3", 10, 0, 1, T0, ids[3]);
	append_msg(feed, "mixgap", "m4", 10, 0, 1, T0, ids[4]);
	append_msg(feed, "mixgap", "m5", 1000, 0, 1, T0, ids[5]);
	feed_delete(feed, P, "mixgap", ids[2], NULL, T0, NULL);
	compact_all(feed, T0 + 11 * SEC);
	read_q(feed, "mixgap", ids[0], 10, 0, 99, T0 + 11 * SEC, &page);
	ok(page.gap && page.missed == 3 && page_is(&page, "m5"),
	   "three expired around a deleted one: missed exactly 3 (got %lld)",
	   (long long)page.missed);
	feed_msgs_free(&page);

	/* Expired but not compacted yet, behind a deleted one. */
	append_msg(feed, "lategap", "m0", 1000, 0, 1, T0, ids[0]);
	append_msg(feed, "lategap", "m1", 1000, 0, 1, T0, ids[1]);
	append_msg(feed, "lategap", "m2", 10, 0, 1, T0, ids[2]);
	append_msg(feed, "lategap", "m3", 1000, 0, 1, T0, ids[3]);
	feed_delete(feed, P, "lategap", ids[1], NULL, T0, NULL);
	read_q(feed, "lategap", ids[0], 10, 0, 99, T0 + 11 * SEC, &page);
	ok(page.gap && page.missed == 1 && page_is(&page, "m3"),
	   "an expired message still stored is a gap of 1 (got %lld)",
	   (long long)page.missed);
	feed_msgs_free(&page);

	/* A lost range reaching back over the marker (the reader saw its
	 * first message), with another queue's ranges after it. */
	append_msg(feed, "reach", "m0", 10, 0, 1, T0, ids[0]);
	append_msg(feed, "reach", "m1", 10, 0, 1, T0, ids[1]);
	append_msg(feed, "reach", "m2", 1000, 0, 1, T0, ids[2]);
	append_msg(feed, "reach2", "m0", 10, 0, 1, T0, NULL);
	append_msg(feed, "reach2", "m1", 1000, 0, 1, T0, NULL);
	compact_all(feed, T0 + 11 * SEC);
	read_q(feed, "reach", ids[0], 10, 0, 99, T0 + 11 * SEC, &page);
	ok(page.gap && page.missed == 1 && page_is(&page, "m2"),
	   "a lost range reaching over the marker counts its part after it "
	   "(missed %lld)", (long long)page.missed);
	feed_msgs_free(&page);

	/* Purged after the marker: lost to this reader. */
	append_range(feed, "purgegap", 0, 4, T0, ids);
	feed_delete(feed, P, "purgegap", ids[1], NULL, T0, NULL);
	if (feed_claim_create(feed, P, "purgegap", 60, 0, 1, T0, &claim))
		bail_out("claim failed");
	feed_claim_free(&claim);
	feed_queue_purge(feed, P, "purgegap", 1, T0, &purged, NULL);
	is(purged, 1, "purge took m2 (m0 is claimed, m1 deleted)");
	read_q(feed, "purgegap", ids[0], 10, 0, 99, T0, &page);
	ok(page.gap && page.missed == 1 && page_is(&page, "m3"),
	   "a purged message after the marker is a gap of 1 (got %lld)",
	   (long long)page.missed);
	feed_msgs_free(&page);
}

static void test_get(feed_t *feed)
{
	static char big[100000];
	feed_id_t ids[5];
	feed_msgs_t got = {0};
	feed_claim_t claim = {0};
	uint8_t c3[16];
	const char *many[6];
	bool deleted = false;
	feed_msg_in_t in = {.body = big, .body_len = sizeof(big), .ttl_s = 600};

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7 + 3);
	fixture_client(c3, 3);
	append_msg(feed, "get", "hello", 100, 0, 3, T0, ids[0]);
	append_msg(feed, "get", "m1", 10, 0, 1, T0, ids[1]);
	append_msg(feed, "get", "m2", 600, 60, 1, T0, ids[2]);
	feed_append(feed, P, "get", &in, 1, c3, T0, ids + 3);
	append_msg(feed, "get", "m4", 600, 0, 1, T0, ids[4]);
	feed_delete(feed, P, "get", ids[4], NULL, T0, &deleted);

	is(feed_get(feed, P, "get", ids[0], T0 + 1, &got), 0, "get m0");
	if (is(got.n, 1, "get returns one message")) {
		const feed_msg_t *m = &got.v[0];

		is_str(m->id, ids[0], "get: id");
		is(m->seq, 1, "get: seq");
		is(m->created_ms, T0, "get: created_ms");
		is(m->expires_ms, T0 + 100 * SEC, "get: expires_ms");
		is(m->due_ms, T0, "get: due_ms");
		ok(memcmp(m->client_id, c3, 16) == 0, "get: client id");
		is_str(m->claim_id, "", "get: no claim");
		is(m->claim_count, 0, "get: never claimed");
		ok(body_is(m, "hello"), "get: body");
	} else {
		skip(9, "no message");
	}
	feed_msgs_free(&got);

	is(feed_get(feed, P, "get", ids[2], T0, &got), 0,
	   "get ignores the delay filter");
	ok(got.n == 1 && got.v[0].due_ms == T0 + 60 * SEC,
	   "a delayed message comes with its due time");
	feed_msgs_free(&got);
	is(feed_get(feed, P, "get", ids[3], T0, &got), 0, "get the big one");
	ok(got.n == 1 && got.v[0].body_len == sizeof(big) &&
		   memcmp(got.v[0].body, big, sizeof(big)) == 0,
	   "a 100000-byte body comes back intact");
	feed_msgs_free(&got);

	feed_claim_create(feed, P, "get", 60, 60, 1, T0, &claim);
	is(feed_get(feed, P, "get", ids[0], T0, &got), 0,
	   "get ignores the claim filter");
	ok(got.n == 1 && strcmp(got.v[0].claim_id, claim.id) == 0 &&
		   got.v[0].claim_count == 1,
	   "a claimed message comes with its claim id and count");
	feed_msgs_free(&got);

	is(feed_get(feed, P, "get", ids[1], T0 + 11 * SEC, &got),
	   FEED_ENOTFOUND, "get of an expired message");
	feed_msgs_free(&got);
	is(feed_get(feed, P, "get", ids[4], T0, &got), FEED_ENOTFOUND,
	   "get of a deleted message");
	feed_msgs_free(&got);
	is(feed_get(feed, P, "get", "xyz", T0, &got), FEED_EBADID,
	   "get of a malformed id");
	feed_msgs_free(&got);
	is(feed_get(feed, P, "nosuchqueue", ids[0], T0, &got), FEED_ENOTFOUND,
	   "get in a missing queue");
	feed_msgs_free(&got);

	many[0] = ids[3];
	many[1] = "not-an-id";
	many[2] = ids[0];
	many[3] = ids[4];
	many[4] = ids[1];
	many[5] = ids[2];
	is(feed_get_many(feed, P, "get", many, 6, T0 + 11 * SEC, &got), 0,
	   "get_many");
	ok(got.n == 3 && strcmp(got.v[0].id, ids[3]) == 0 &&
		   strcmp(got.v[1].id, ids[0]) == 0 &&
		   strcmp(got.v[2].id, ids[2]) == 0,
	   "get_many returns known ids in the order given, skipping "
	   "malformed, deleted and expired ones");
	feed_msgs_free(&got);
	is(feed_get_many(feed, P, "get", many + 3, 2, T0 + 11 * SEC, &got), 0,
	   "get_many of only unknown ids");
	is(got.n, 0, "returns nothing");
	feed_msgs_free(&got);
	feed_claim_free(&claim);
}

static void test_delete(feed_t *feed)
{
	feed_id_t ids[6];
	feed_msgs_t got = {0};
	feed_claim_t claim = {0};
	feed_queue_stats_t st = {0};
	bool deleted = false;
	size_t n = 99;
	const char *many[6];
	char all[256];

	append_range(feed, "del", 0, 3, T0, ids);
	is(feed_delete(feed, P, "del", ids[0], NULL, T0, &deleted), 0,
	   "delete m0");
	ok(deleted, "deleted says a message was removed");
	is(feed_get(feed, P, "del", ids[0], T0, &got), FEED_ENOTFOUND,
	   "a deleted message is not found");
	feed_msgs_free(&got);
	read_all(feed, "del", NULL, 10, 0, T0, all, sizeof(all));
	is_str(all, "m1,m2", "a deleted message is not read");
	deleted = true;
	is(feed_delete(feed, P, "del", ids[0], NULL, T0, &deleted), 0,
	   "delete m0 again succeeds");
	ok(!deleted, "and says nothing was removed");
	is(feed_delete(feed, P, "del", ids[1], "", T0, NULL), 0,
	   "delete with claim id \"\" and deleted NULL");
	deleted = true;
	is(feed_delete(feed, P, "nosuch", ids[2], NULL, T0, &deleted), 0,
	   "delete in a missing queue succeeds");
	ok(!deleted, "and removes nothing");
	is(feed_delete(feed, P, "del", "bogus", NULL, T0, NULL), FEED_EBADID,
	   "delete of a malformed id");

	append_range(feed, "dm", 0, 6, T0, ids);
	feed_claim_create(feed, P, "dm", 60, 60, 1, T0, &claim);
	feed_delete(feed, P, "dm", ids[5], NULL, T0, NULL);
	many[0] = ids[0]; /* claimed */
	many[1] = ids[2];
	many[2] = "junk";
	many[3] = ids[2];
	many[4] = ids[5]; /* already deleted */
	many[5] = ids[3];
	is(feed_delete_many(feed, P, "dm", many, 6, T0, &n), 0, "delete_many");
	is(n, 3,
	   "delete_many counts the removed: claimed, unclaimed, once each");
	read_all(feed, "dm", NULL, 10, FEED_READ_INCLUDE_CLAIMED, T0, all,
		 sizeof(all));
	is_str(all, "m1,m4", "delete_many removed them, the claimed one too");
	feed_queue_stats(feed, P, "dm", T0, &st);
	ok(st.total == 2 && st.claimed == 0, "stats agree (total %llu, "
	   "claimed %llu)", (unsigned long long)st.total,
	   (unsigned long long)st.claimed);
	is(feed_delete_many(feed, P, "dm", many, 0, T0, &n), 0,
	   "delete_many of nothing");
	is(n, 0, "removes nothing");
	feed_claim_free(&claim);
}

static void test_pop(feed_t *feed)
{
	feed_id_t ids[6];
	feed_msgs_t got = {0};
	feed_claim_t claim = {0};
	feed_queue_stats_t st = {0};
	uint64_t now = T0 + 11 * SEC;

	append_range(feed, "pop", 0, 4, T0, ids);
	append_msg(feed, "pop", "m4", 10, 0, 1, T0, ids[4]);
	append_msg(feed, "pop", "m5", 600, 60, 1, T0, ids[5]);
	feed_claim_create(feed, P, "pop", 60, 60, 2, T0, &claim);

	is(feed_pop(feed, P, "pop", 1, now, &got), 0, "pop one");
	ok(page_is(&got, "m2"), "pop takes the oldest unclaimed message");
	feed_msgs_free(&got);
	is(feed_pop(feed, P, "pop", 10, now, &got), 0, "pop ten");
	ok(page_is(&got, "m3"),
	   "pop skips claimed, expired and delayed messages");
	feed_msgs_free(&got);
	is(feed_get(feed, P, "pop", ids[2], now, &got), FEED_ENOTFOUND,
	   "a popped message is gone");
	feed_msgs_free(&got);
	feed_queue_stats(feed, P, "pop", now, &st);
	is(st.total, 3, "stats drop by the popped messages");
	is(feed_pop(feed, P, "pop", 10, now, &got), 0,
	   "pop with nothing poppable");
	is(got.n, 0, "returns nothing");
	feed_msgs_free(&got);

	is(feed_pop(feed, P, "pop", 10, T0 + 61 * SEC, &got), 0,
	   "pop after the claim expired and m5 is due");
	ok(page_is(&got, "m0,m1,m5"), "pop returns them in log order");
	feed_msgs_free(&got);
	feed_queue_stats(feed, P, "pop", T0 + 61 * SEC, &st);
	is(st.total, 0, "the queue is empty");
	is(feed_pop(feed, P, "nosuch", 10, T0, &got), 0,
	   "pop of a missing queue");
	is(got.n, 0, "returns nothing");
	feed_msgs_free(&got);
	feed_claim_free(&claim);
}

static void test_group(feed_t *feed)
{
	feed_msg_in_t a[2] = {{.body = "a0", .body_len = 2, .ttl_s = 600},
			      {.body = "a1", .body_len = 2, .ttl_s = 600}};
	feed_msg_in_t b = {.body = "b0", .body_len = 2, .ttl_s = 600};
	feed_msg_in_t c = {.body = "a2", .body_len = 2, .ttl_s = 600};
	feed_msg_in_t bad[2] = {{.body = "x", .body_len = 1, .ttl_s = 600},
				{.body = "y", .body_len = 1, .ttl_s = 0}};
	feed_id_t ids[8][2];
	feed_append_req_t r[8];
	const char *queues[8] = {"ga", "gb", "ga", "gc", "", "gmissing",
				 "gexisting", "gbad"};
	const feed_msg_in_t *msgs[8] = {a, &b, &c, &b, &b, &b, &b, bad};
	size_t counts[8] = {2, 1, 1, 0, 1, 1, 1, 2};
	int want[8] = {0, 0, 0, FEED_EINVAL, FEED_EINVAL, FEED_ENOQUEUE, 0,
		       FEED_EINVAL};
	feed_queue_stats_t st = {0};
	uint64_t gen, seq;
	bool exists = true;
	char all[256];
	uint8_t client[16];

	feed_queue_create(feed, P, "gexisting", NULL, 0, T0, NULL);
	memset(r, 0, sizeof(r));
	memset(ids, 0, sizeof(ids));
	for (int i = 0; i < 8; i++) {
		r[i].project = P;
		r[i].queue = queues[i];
		r[i].msgs = msgs[i];
		r[i].n_msgs = counts[i];
		fixture_client(r[i].client_id, 10 + i);
		r[i].ids = ids[i];
		r[i].status = 12345;
	}
	r[5].flags = FEED_APPEND_NO_CREATE;
	r[6].flags = FEED_APPEND_NO_CREATE;

	is(feed_append_group(feed, r, 8, T0), 0,
	   "append_group processes the group");
	for (int i = 0; i < 8; i++)
		is(r[i].status, want[i],
		   "request %d (%s, %zu msgs%s) status %s",
		   i, queues[i], counts[i],
		   r[i].flags ? ", no-create" : "", feed_strerror(want[i]));
	is(r[0].last_seq, 2, "first request to ga ends at seq 2");
	is(r[2].last_seq, 3, "second request to ga is numbered after it");
	is(r[1].last_seq, 1, "gb starts at seq 1");
	is(r[6].last_seq, 1, "gexisting starts at seq 1");
	ok(feed_id_parse(ids[2][0], &gen, &seq) == 0 && seq == 3,
	   "ids are filled for each request");
	read_all(feed, "ga", NULL, 10, 0, T0, all, sizeof(all));
	is_str(all, "a0,a1,a2",
	       "ga holds both requests' messages in request order");
	read_all(feed, "gb", NULL, 10, 0, T0, all, sizeof(all));
	is_str(all, "b0", "gb holds its message");
	feed_queue_exists(feed, P, "gmissing", &exists);
	ok(!exists, "FEED_APPEND_NO_CREATE does not create the queue");
	feed_queue_stats(feed, P, "gbad", T0, &st);
	is(st.total, 0, "a batch with an invalid message commits nothing");

	fixture_client(client, 1);
	is(feed_append(feed, P, "gd", a, 0, client, T0, NULL), FEED_EINVAL,
	   "append of zero messages");
	is(feed_append(feed, P, "gd", bad, 2, client, T0, NULL), FEED_EINVAL,
	   "append with a zero ttl");
	feed_queue_stats(feed, P, "gd", T0, &st);
	is(st.total, 0, "nothing of a refused batch is stored");
}

int main(void)
{
	const char *dir;
	feed_t *feed = fixture_open(&dir, NULL);

	test_fifo(feed);
	test_two_readers(feed);
	test_markers(feed);
	test_echo(feed);
	test_include_claimed(feed);
	test_claimed_runs(feed);
	test_expiry_hides(feed);
	test_delay(feed);
	test_wake(feed);
	test_tail(feed);
	test_skip_delayed(feed);
	test_stale_marker(feed);
	test_gap_after_compaction(feed);
	test_no_gap_for_deletes(feed);
	test_gap_exact(feed);
	test_get(feed);
	test_delete(feed);
	test_pop(feed);
	test_group(feed);

	feed_close(feed);
	fixture_rmdir(dir);
	done_testing();
	return exit_status();
}
