/*
 * test_key.c - message ids, markers, claim ids and error names.
 *
 * Ids are taken from real appends and claims so the test checks the format
 * feed hands out, not one we imagine: 24 lowercase hex characters that parse
 * back to the message's generation and sequence number.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feed.h"
#include "fixture.h"
#include "tap.h"

#define T0 1700000000000ULL

static const char *project = "key";

static bool is_lower_hex(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
	}
	return true;
}

static int append_three(feed_t *feed, const char *queue, uint64_t now_ms,
			char (*ids)[FEED_ID_LEN + 1])
{
	feed_msg_in_t in[3] = {
		{.body = "a", .body_len = 1, .ttl_s = 600},
		{.body = "b", .body_len = 1, .ttl_s = 600},
		{.body = "c", .body_len = 1, .ttl_s = 600},
	};
	uint8_t client[16];

	fixture_client(client, 1);
	return feed_append(feed, project, queue, in, 3, client, now_ms, ids);
}

static void test_id_round_trip(feed_t *feed)
{
	char ids[3][FEED_ID_LEN + 1];
	uint64_t gen[3] = {0}, seq[3] = {0};
	feed_msgs_t got = {0};

	memset(ids, 0, sizeof(ids));
	is(append_three(feed, "ids", T0, ids), 0, "append of three messages");
	for (int i = 0; i < 3; i++) {
		is(strlen(ids[i]), FEED_ID_LEN, "id %d is %d characters", i,
		   FEED_ID_LEN);
		ok(is_lower_hex(ids[i], FEED_ID_LEN),
		   "id %d is lowercase hex (%s)", i, ids[i]);
		is(feed_id_parse(ids[i], &gen[i], &seq[i]), 0,
		   "id %d parses", i);
		is(seq[i], i + 1, "id %d parses to seq %d", i, i + 1);
	}
	ok(gen[0] == gen[1] && gen[1] == gen[2],
	   "ids of one queue generation share the generation");
	ok(strcmp(ids[0], ids[1]) < 0 && strcmp(ids[1], ids[2]) < 0,
	   "ids sort bytewise in log order");

	is(feed_get(feed, project, "ids", ids[1], T0, &got), 0,
	   "get by the second id");
	if (got.n == 1) {
		is(got.v[0].seq, seq[1], "message seq matches the parsed seq");
		is_str(got.v[0].id, ids[1], "message id matches the given id");
	} else {
		skip(2, "get returned %zu messages", got.n);
	}
	feed_msgs_free(&got);
}

static void test_generation_changes(feed_t *feed)
{
	char before[3][FEED_ID_LEN + 1], after[3][FEED_ID_LEN + 1];
	uint64_t gen_before = 0, gen_after = 0, seq_before = 0, seq_after = 0;

	is(append_three(feed, "regen", T0, before), 0, "append to regen");
	is(feed_queue_delete(feed, project, "regen"), 0, "delete regen");
	is(append_three(feed, "regen", T0 + 1000, after), 0,
	   "append recreates regen");
	is(feed_id_parse(before[0], &gen_before, &seq_before), 0,
	   "old id parses");
	is(feed_id_parse(after[0], &gen_after, &seq_after), 0,
	   "new id parses");
	ok(gen_before != gen_after,
	   "a recreated queue has a new generation (%llu then %llu)",
	   (unsigned long long)gen_before, (unsigned long long)gen_after);
	ok(strcmp(before[0], after[0]) != 0,
	   "first id of a recreated queue differs from the old first id");
}

static void test_id_malformed(void)
{
	static const struct {
		const char *id;
		const char *why;
	} bad[] = {
		{"", "empty id"},
		{"0", "one character"},
		{"00000000000000000000001", "23 characters"},
		{"0000000000000000000000001", "25 characters"},
		{"00000000000000000000000g", "non-hex character"},
		{"0000000000000000000000-1", "a dash"},
		{"00000000000 000000000001", "a space"},
		{"00000000000000000000000A",
		 "uppercase hex (ids are lowercase)"},
		{"zzzzzzzzzzzzzzzzzzzzzzzz", "all non-hex"},
	};
	uint64_t gen, seq;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		is(feed_id_parse(bad[i].id, &gen, &seq), FEED_EBADID,
		   "id_parse rejects %s", bad[i].why);
	is(feed_id_parse(NULL, &gen, &seq), FEED_EBADID,
	   "id_parse rejects NULL");
}

static void test_claim_id_parse(feed_t *feed)
{
	static const uint8_t want[16] = {0x12, 0x3e, 0x45, 0x67, 0xe8, 0x9b,
					 0x12, 0xd3, 0xa4, 0x56, 0x42, 0x66,
					 0x14, 0x17, 0x40, 0x0a};
	static const char *bad[] = {
		"",
		"123e4567-e89b-12d3-a456-42661417400",   /* 35 */
		"123e4567-e89b-12d3-a456-42661417400a0", /* 37 */
		"123e4567e89b12d3a456426614174 00a",
		"123e4567e89b12d3a45642661417400a", /* no dashes */
		"123e4567-e89b-12d3-a456-42661417400g",
		"123e4567-e89b12-d3-a456-42661417400a", /* dash misplaced */
		"{23e4567-e89b-12d3-a456-42661417400}",
		"not a claim id at all, not even close",
	};
	uint8_t got[16];
	feed_claim_t claim = {0};
	char ids[3][FEED_ID_LEN + 1];

	memset(got, 0, sizeof(got));
	is(feed_claim_id_parse("123e4567-e89b-12d3-a456-42661417400a", got), 0,
	   "claim_id_parse accepts a lowercase UUID");
	ok(memcmp(got, want, 16) == 0, "lowercase UUID parses to its bytes");
	memset(got, 0, sizeof(got));
	is(feed_claim_id_parse("123E4567-E89B-12D3-A456-42661417400A", got), 0,
	   "claim_id_parse accepts an uppercase UUID");
	ok(memcmp(got, want, 16) == 0,
	   "uppercase UUID parses to the same bytes");

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		is(feed_claim_id_parse(bad[i], got), FEED_EBADID,
		   "claim_id_parse rejects \"%s\"", bad[i]);
	is(feed_claim_id_parse(NULL, got), FEED_EBADID,
	   "claim_id_parse rejects NULL");

	is(append_three(feed, "claims", T0, ids), 0, "append for a claim");
	is(feed_claim_create(feed, project, "claims", 60, 60, 1, T0, &claim), 0,
	   "claim one message");
	is(strlen(claim.id), FEED_CLAIM_ID_LEN, "claim id is %d characters",
	   FEED_CLAIM_ID_LEN);
	is(feed_claim_id_parse(claim.id, got), 0,
	   "a claim id from claim_create parses");
	feed_claim_free(&claim);
}

static void test_strerror(void)
{
	static const struct {
		int code;
		const char *text;
	} codes[] = {
#define X(name, value, text) {name, text},
		FEED_ERRORS(X)
#undef X
	};
	size_t n = sizeof(codes) / sizeof(codes[0]);
	const char *ok_text = feed_strerror(0);
	bool distinct = true;

	ok(ok_text != NULL && *ok_text, "strerror(0) is a non-empty string");
	for (size_t i = 0; i < n; i++) {
		const char *s = feed_strerror(codes[i].code);

		ok(s != NULL && *s, "strerror(%d) is a non-empty string",
		   codes[i].code);
		is_str(s, codes[i].text, "strerror(%d) is the table's text",
		       codes[i].code);
		if (!s || !ok_text || strcmp(s, ok_text) == 0)
			distinct = false;
		for (size_t j = 0; j < i && s; j++) {
			const char *t = feed_strerror(codes[j].code);

			if (t && strcmp(s, t) == 0)
				distinct = false;
		}
	}
	ok(distinct, "every code and 0 have distinct strings");
	ok(feed_strerror(-1) != NULL,
	   "strerror of an unknown code is not NULL");
	ok(feed_strerror(12345) != NULL,
	   "strerror of a positive unknown code is not NULL");
	ok(feed_strerror(-30999) != NULL,
	   "strerror just outside the table is not NULL");
}

static void test_marker_before(feed_t *feed)
{
	uint8_t client[16];
	feed_msg_in_t m[3] = {{"1", 1, 60, 0}, {"2", 1, 60, 0}, {"3", 1, 60, 0}};
	char ids[3][FEED_ID_LEN + 1], before[FEED_ID_LEN + 1];
	feed_read_opts_t opts = {.limit = 10, .flags = FEED_READ_ECHO};
	feed_msgs_t out;

	fixture_client(client, 7);
	if (feed_append(feed, "p", "before", m, 3, client, 1000, ids))
		bail_out("append failed");
	is(feed_marker_before(ids[2], before), 0, "the marker before an id");
	is(feed_read(feed, "p", "before", before, &opts, 1000, &out), 0,
	   "reads from it");
	ok(out.n == 1 && strcmp(out.v[0].id, ids[2]) == 0,
	   "and the read starts exactly at that id");
	feed_msgs_free(&out);
	is(feed_marker_before(ids[0], before), 0,
	   "the first message has a marker before it too");
	is(feed_read(feed, "p", "before", before, &opts, 1000, &out), 0,
	   "which reads from the start");
	ok(out.n == 3 && strcmp(out.v[0].id, ids[0]) == 0 && !out.gap,
	   "all three, no gap");
	feed_msgs_free(&out);
	is(feed_marker_before(before, ids[1]), FEED_EBADID,
	   "a sequence-0 marker names no message");
	is(feed_marker_before("zz", before), FEED_EBADID, "a malformed id");
}

int main(void)
{
	const char *dir;
	feed_t *feed = fixture_open(&dir, NULL);

	test_id_round_trip(feed);
	test_generation_changes(feed);
	test_id_malformed();
	test_claim_id_parse(feed);
	test_strerror();
	test_marker_before(feed);

	feed_close(feed);
	fixture_rmdir(dir);
	done_testing();
	return exit_status();
}
