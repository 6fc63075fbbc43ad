/*
 * test_claims.c - claims of API v2 and v1.1 (zaqar-api.md §6.6, §7.3, §8)
 * and the claim rules of deleting a message (§6.5): create 201/204, get,
 * patch, release, validation, grace, and 403/400/204 on delete.
 */
#include "harness.h"

#include <string.h>

static struct hh_server srv;
static struct hh_client a;   /* poster */
static struct hh_client w;   /* worker */
static struct hh_resp r = HH_RESP_INIT;
static char id[3][128];
static char cid[128], cid2[128];

static const char *claimed(int i, int ttl, int age, const char *body,
			   const char *claim)
{
	return hh_fmt("{\"id\": \"%s\", \"href\": \"/v2/queues/q1/messages/%s?claim_id=%s\","
		      " \"ttl\": %d, \"age\": %d, \"body\": %s}",
		      id[i], id[i], claim, ttl, age, body);
}

static void create(void)
{
	hh_call(&a, &r, "POST", "/v2/queues/q1/messages",
		"{\"messages\": [{\"ttl\": 300, \"body\": {\"event\": \"one\"}},"
		" {\"body\": \"two\"}, {\"ttl\": 600, \"body\": [3]}]}");
	is(r.status, 201, "post 3");
	for (int i = 0; i < 3; i++)
		hh_copy(id[i], sizeof(id[i]),
			hh_href_id(hh_gets(r.json, hh_fmt("resources.%d", i))));

	hh_call(&w, &r, "POST", "/v2/queues/q1/claims?limit=2",
		"{\"ttl\": 60, \"grace\": 60}");
	is(r.status, 201, "claim limit=2 ttl 60 grace 60 is 201");
	hh_copy(cid, sizeof(cid), hh_href_id(hh_header(&r, "location")));
	is_str(hh_header(&r, "location"), hh_fmt("/v2/queues/q1/claims/%s", cid),
	       "Location is the claim");
	ok(cid[0] != '\0', "the claim has an id: %s", cid);
	ok(hh_json_eq(&r, hh_fmt("{\"messages\": [%s, %s]}",
				 claimed(0, 300, 0, "{\"event\": \"one\"}", cid),
				 claimed(1, 3600, 0, "\"two\"", cid))),
	   "the claim answers the two oldest, href with claim_id, ttls kept");

	hh_clock_advance(&srv, 6000);
	hh_call(&w, &r, "GET", hh_fmt("/v2/queues/q1/claims/%s", cid), NULL);
	is(r.status, 200, "GET claim");
	ok(hh_json_eq(&r, hh_fmt("{\"age\": 6, \"ttl\": 60, \"messages\": [%s, %s],"
				 " \"href\": \"/v2/queues/q1/claims/%s\"}",
				 claimed(0, 300, 6, "{\"event\": \"one\"}", cid),
				 claimed(1, 3600, 6, "\"two\"", cid), cid)),
	   "GET claim: {age, ttl, messages, href}");

	hh_call(&w, &r, "GET", "/v2/queues/q1/messages", NULL);
	is(hh_len(r.json, "messages"), 1, "claimed messages are hidden from a listing");
	is_str(hh_gets(r.json, "messages.0.id"), id[2], "only the free one is listed");
	hh_call(&w, &r, "GET", "/v2/queues/q1/messages?include_claimed=true", NULL);
	is(r.status, 200, "include_claimed=true without marker is 200 (Herald)");
	is(hh_len(r.json, "messages"), 3, "include_claimed lists all 3");
	is_str(hh_gets(r.json, "messages.0.href"),
	       hh_fmt("/v2/queues/q1/messages/%s?claim_id=%s", id[0], cid),
	       "a listed claimed message's href carries its claim");
	is_str(hh_gets(r.json, "messages.2.href"),
	       hh_fmt("/v2/queues/q1/messages/%s", id[2]),
	       "a listed free message's href has no claim");
	hh_call(&w, &r, "GET", hh_fmt("/v2/queues/q1/messages/%s", id[0]), NULL);
	ok(hh_json_eq(&r, claimed(0, 300, 6, "{\"event\": \"one\"}", cid)),
	   "GET a claimed message: href with claim_id");
	hh_call(&w, &r, "GET", hh_fmt("/v2/queues/q1/messages?ids=%s,%s", id[1], id[2]), NULL);
	is_str(hh_gets(r.json, "messages.0.href"),
	       hh_fmt("/v2/queues/q1/messages/%s?claim_id=%s", id[1], cid),
	       "GET by ids includes claimed messages");

	hh_call(&w, &r, "POST", "/v2/queues/q1/claims", "");
	is(r.status, 201, "claim with no body (defaults 300/60)");
	hh_copy(cid2, sizeof(cid2), hh_href_id(hh_header(&r, "location")));
	ok(hh_json_eq(&r, hh_fmt("{\"messages\": [%s]}",
				 claimed(2, 600, 6, "[3]", cid2))),
	   "it takes the remaining message; ttl 600 outlives 300+60");
	ok(strcmp(cid, cid2) != 0, "a new claim id");
	hh_call(&w, &r, "GET", hh_fmt("/v2/queues/q1/claims/%s", cid2), NULL);
	is(hh_geti(r.json, "ttl"), 300, "default claim ttl is 300");

	hh_call(&w, &r, "POST", "/v2/queues/q1/claims", "{\"ttl\": 60, \"grace\": 60}");
	is(r.status, 204, "claim when nothing is left is 204");
	is(r.body_len, 0, "the 204 has no body");
	ok(hh_header(&r, "location") == NULL, "and no Location");

	hh_call(&a, &r, "GET", "/v2/queues/q1/stats", NULL);
	is(hh_geti(r.json, "messages.claimed"), 3, "stats: 3 claimed");
	is(hh_geti(r.json, "messages.free"), 0, "stats: 0 free");
}

static void delete_rules(void)
{
	hh_call(&w, &r, "DELETE", hh_fmt("/v2/queues/q1/messages/%s", id[0]), NULL);
	expect_error(&r, 403, "Unable to delete",
		     "This message is claimed; it cannot be deleted without a "
		     "valid claim ID.",
		     "delete a claimed message without claim_id");
	hh_call(&w, &r, "DELETE",
		hh_fmt("/v2/queues/q1/messages/%s?claim_id=" HH_NO_SUCH_ID, id[0]), NULL);
	expect_error(&r, 400, "Unable to delete",
		     "The specified claim does not exist or has expired.",
		     "delete with a claim id that names no claim");
	hh_call(&w, &r, "DELETE",
		hh_fmt("/v2/queues/q1/messages/%s?claim_id=abc", id[0]), NULL);
	expect_error(&r, 400, "Unable to delete",
		     "The specified claim does not exist or has expired.",
		     "delete with a malformed claim id");
	hh_call(&w, &r, "DELETE",
		hh_fmt("/v2/queues/q1/messages/%s?claim_id=%s", id[0], cid2), NULL);
	is(r.status, 403, "delete with another live claim's id is 403");
	is_str(hh_gets(r.json, "title"), "Unable to delete", "403 title");
	hh_call(&w, &r, "GET", hh_fmt("/v2/queues/q1/messages/%s", id[0]), NULL);
	is(r.status, 200, "the message survived the refused deletes");
	hh_call(&w, &r, "DELETE",
		hh_fmt("/v2/queues/q1/messages/%s?claim_id=%s", id[0], cid), NULL);
	is(r.status, 204, "delete with the right claim id");
	hh_call(&w, &r, "DELETE",
		hh_fmt("/v2/queues/q1/messages/%s?claim_id=%s", id[0], cid), NULL);
	is(r.status, 204, "delete it again: 204");
	hh_call(&w, &r, "GET", hh_fmt("/v2/queues/q1/messages/%s", id[0]), NULL);
	is(r.status, 404, "it is gone");
	hh_call(&w, &r, "GET", hh_fmt("/v2/queues/q1/claims/%s", cid), NULL);
	is(hh_len(r.json, "messages"), 1, "the claim no longer lists the deleted message");
}

static void patch_and_release(void)
{
	hh_call(&w, &r, "PATCH", hh_fmt("/v2/queues/q1/claims/%s", cid),
		"{\"ttl\": 120, \"grace\": 60}");
	is(r.status, 204, "PATCH claim");
	is(r.body_len, 0, "the 204 has no body");
	hh_call(&w, &r, "GET", hh_fmt("/v2/queues/q1/claims/%s", cid), NULL);
	ok(hh_json_eq(&r, hh_fmt("{\"age\": 0, \"ttl\": 120, \"messages\": [%s],"
				 " \"href\": \"/v2/queues/q1/claims/%s\"}",
				 claimed(1, 3600, 6, "\"two\"", cid), cid)),
	   "GET claim after PATCH: age 0, ttl 120");
	hh_call(&w, &r, "PATCH", hh_fmt("/v2/queues/q1/claims/%s", cid), "{}");
	is(r.status, 204, "PATCH with {} (defaults)");
	hh_call(&w, &r, "GET", hh_fmt("/v2/queues/q1/claims/%s", cid), NULL);
	is(hh_geti(r.json, "ttl"), 300, "PATCH {} sets the default ttl 300");
	hh_call(&w, &r, "PATCH", hh_fmt("/v2/queues/q1/claims/%s", cid),
		"{\"ttl\": 43201}");
	expect_error(&r, 400, "Invalid API request",
		     "The TTL for a claim may not exceed 43200 seconds, and must "
		     "be at least 60 seconds long.",
		     "PATCH claim ttl 43201");
	hh_call(&w, &r, "PATCH", hh_fmt("/v2/queues/q1/claims/%s", cid),
		"{\"ttl\": 59}");
	expect_error(&r, 400, "Invalid API request",
		     "The TTL for a claim may not exceed 43200 seconds, and must "
		     "be at least 60 seconds long.",
		     "PATCH claim ttl 59");
	hh_call(&w, &r, "PATCH", hh_fmt("/v2/queues/q1/claims/%s", cid), "");
	expect_error(&r, 400, "Invalid request body",
		     "Request body can not be empty", "PATCH claim without body");
	hh_call(&w, &r, "PATCH", hh_fmt("/v2/queues/q1/claims/%s", cid), "[]");
	expect_error(&r, 400, "Invalid request body",
		     "Document type not supported.", "PATCH claim with an array");
	hh_call(&w, &r, "PATCH", "/v2/queues/q1/claims/" HH_NO_SUCH_ID,
		"{\"ttl\": 100}");
	expect_error(&r, 404, "Not found",
		     "Claim " HH_NO_SUCH_ID " does not exist in queue q1 for "
		     "project projA",
		     "PATCH a missing claim");
	hh_call(&w, &r, "GET", "/v2/queues/q1/claims/" HH_NO_SUCH_ID, NULL);
	expect_error(&r, 404, "Not found",
		     "Claim " HH_NO_SUCH_ID " does not exist in queue q1 for "
		     "project projA",
		     "GET a missing claim");
	hh_call(&w, &r, "GET", "/v2/queues/q1/claims/abc", NULL);
	is(r.status, 404, "GET a claim with a malformed id is 404");

	hh_call(&w, &r, "DELETE", hh_fmt("/v2/queues/q1/claims/%s", cid), NULL);
	is(r.status, 204, "release the claim");
	hh_call(&w, &r, "GET", hh_fmt("/v2/queues/q1/claims/%s", cid), NULL);
	is(r.status, 404, "a released claim is gone");
	hh_call(&w, &r, "DELETE", "/v2/queues/q1/claims/" HH_NO_SUCH_ID, NULL);
	is(r.status, 204, "release a missing claim: 204");
	hh_call(&w, &r, "GET", "/v2/queues/q1/messages", NULL);
	ok(hh_len(r.json, "messages") == 1 &&
		   hh_gets(r.json, "messages.0.href") != NULL &&
		   strcmp(hh_gets(r.json, "messages.0.href"),
			  hh_fmt("/v2/queues/q1/messages/%s", id[1])) == 0,
	   "the released message is listed again, href without claim");
	hh_call(&w, &r, "DELETE",
		hh_fmt("/v2/queues/q1/messages/%s?claim_id=%s", id[1], cid), NULL);
	expect_error(&r, 400, "Unable to delete",
		     "A claim was specified, but the message is not currently "
		     "claimed.",
		     "delete an unclaimed message with a claim id");
	hh_call(&w, &r, "POST", "/v2/queues/q1/claims?limit=5", "{\"ttl\": 60, \"grace\": 60}");
	is(r.status, 201, "the released message can be claimed again");
	is(hh_len(r.json, "messages"), 1, "just that one");
	is_str(hh_gets(r.json, "messages.0.id"), id[1], "it is the released one");
}

static void validation(void)
{
	const char *bad[][3] = {
		{"?limit=0", "{}", "Limit must be at least 1 and may not be greater than 20."},
		{"?limit=21", "{}", "Limit must be at least 1 and may not be greater than 20."},
		{"", "{\"ttl\": 60, \"grace\": 59}", "The grace for a claim may not exceed 43200 seconds, and must be at least 60 seconds long."},
		{"", "{\"ttl\": 60, \"grace\": 43201}", "The grace for a claim may not exceed 43200 seconds, and must be at least 60 seconds long."},
		{"", "{\"ttl\": 43201, \"grace\": 60}", "The TTL for a claim may not exceed 43200 seconds, and must be at least 60 seconds long."},
		{"", "{\"ttl\": 59, \"grace\": 60}", "The TTL for a claim may not exceed 43200 seconds, and must be at least 60 seconds long."},
	};

	hh_call(&a, &r, "POST", "/v2/queues/cv/messages", "{\"messages\": [{\"body\": 1}]}");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		hh_call(&w, &r, "POST", hh_fmt("/v2/queues/cv/claims%s", bad[i][0]), bad[i][1]);
		expect_error(&r, 400, "Invalid API request", bad[i][2],
			     hh_fmt("claim%s %s", bad[i][0], bad[i][1]));
	}
	hh_call(&w, &r, "POST", "/v2/queues/cv/claims", "{\"ttl\": null}");
	expect_error(&r, 400, "Invalid request body",
		     "The value of the \"ttl\" field must be a int.", "claim ttl null");
	hh_call(&w, &r, "POST", "/v2/queues/cv/claims", "{\"ttl\": \"60\"}");
	expect_error(&r, 400, "Invalid request body",
		     "The value of the \"ttl\" field must be a int.", "claim ttl string");
	hh_call(&w, &r, "POST", "/v2/queues/cv/claims", "{\"grace\": 1.5}");
	expect_4xx(&r, 400, "claim grace 1.5");
	hh_call(&w, &r, "POST", "/v2/queues/cv/claims", "[]");
	expect_error(&r, 400, "Invalid request body",
		     "Document type not supported.", "claim with an array body");
	hh_call(&w, &r, "POST", "/v2/queues/cv/claims", "{\"ttl\": ");
	expect_error(&r, 400, "Invalid request body",
		     "Request body could not be parsed.", "claim with bad JSON");
	hh_call(&w, &r, "POST", "/v2/queues/cv/claims?limit=abc", "{}");
	expect_error(&r, 400, "Invalid parameter",
		     "The \"limit\" parameter is invalid. The value must be an "
		     "integer.",
		     "claim limit=abc");
	hh_call(&a, &r, "GET", "/v2/queues/cv/stats", NULL);
	is(hh_geti(r.json, "messages.claimed"), 0, "refused claims claimed nothing");
	hh_call(&w, &r, "POST", "/v2/queues/cv/claims", "{}");
	is(r.status, 201, "claim with {} uses the defaults");
	hh_call(&w, &r, "POST", "/v2/queues/nosuch/claims", "{}");
	is(r.status, 204, "claim on a missing queue is 204");
}

static void grace(void)
{
	hh_call(&a, &r, "POST", "/v2/queues/qg/messages",
		"{\"messages\": [{\"ttl\": 60, \"body\": \"g\"}, {\"ttl\": 3600, \"body\": \"long\"}]}");
	hh_call(&w, &r, "POST", "/v2/queues/qg/claims",
		"{\"ttl\": 100, \"grace\": 60}");
	is(r.status, 201, "claim ttl 100 grace 60");
	is(hh_geti(r.json, "messages.0.ttl"), 160,
	   "a message that would expire first gets ttl = claim ttl + grace");
	is(hh_geti(r.json, "messages.1.ttl"), 3600,
	   "a message that outlives the claim keeps its ttl");
}

static void v1_1(void)
{
	struct hh_client d;
	char c11[128], m[128];

	hh_client_init(&d, &srv, HH_CLIENT_A, "proj11");
	hh_call(&d, &r, "POST", "/v1.1/queues/q11/messages",
		"{\"messages\": [{\"body\": \"a\"}, {\"body\": \"b\"}]}");
	hh_copy(m, sizeof(m), hh_href_id(hh_gets(r.json, "resources.0")));
	hh_call(&d, &r, "POST", "/v1.1/queues/q11/claims?limit=1", "");
	is(r.status, 201, "v1.1 claim without body");
	hh_copy(c11, sizeof(c11), hh_href_id(hh_header(&r, "location")));
	is_str(hh_header(&r, "location"), hh_fmt("/v1.1/queues/q11/claims/%s", c11),
	       "v1.1 claim Location");
	ok(hh_json_eq(&r, hh_fmt("{\"messages\": [{\"id\": \"%s\", \"href\": "
				 "\"/v1.1/queues/q11/messages/%s?claim_id=%s\", "
				 "\"ttl\": 3600, \"age\": 0, \"body\": \"a\"}]}",
				 m, m, c11)),
	   "v1.1 claim body");
	hh_call(&d, &r, "GET", hh_fmt("/v1.1/queues/q11/claims/%s", c11), NULL);
	is_str(hh_gets(r.json, "href"), hh_fmt("/v1.1/queues/q11/claims/%s", c11),
	       "v1.1 GET claim");
	is(hh_geti(r.json, "ttl"), 300, "v1.1 claim default ttl 300");
	hh_call(&d, &r, "PATCH", hh_fmt("/v1.1/queues/q11/claims/%s", c11), "{\"ttl\": 200}");
	is(r.status, 204, "v1.1 PATCH claim");
	hh_call(&d, &r, "GET", "/v1.1/queues/q11/stats", NULL);
	is(hh_geti(r.json, "messages.claimed"), 1, "v1.1 stats: 1 claimed");
	is(hh_geti(r.json, "messages.free"), 1, "v1.1 stats: 1 free");
	hh_call(&d, &r, "DELETE", hh_fmt("/v1.1/queues/q11/messages/%s", m), NULL);
	is(r.status, 403, "v1.1 delete a claimed message without claim: 403");
	hh_call(&d, &r, "DELETE", hh_fmt("/v1.1/queues/q11/claims/%s", c11), NULL);
	is(r.status, 204, "v1.1 release");
	hh_call(&d, &r, "DELETE", hh_fmt("/v1.1/queues/q11/messages/%s", m), NULL);
	is(r.status, 204, "v1.1 delete the released message");
	hh_client_close(&d);
}

/* Behind a long run of delayed messages after a ready one, a claim goes on
 * through feed's bounded steps instead of answering 204 while a ready
 * message waits further on. */
static void past_delayed(void)
{
	/* Per-message delays need the queue's default (Zaqar's rule). */
	const char *ten = "{\"messages\": [{\"body\": 1}, {\"body\": 1},"
		" {\"body\": 1}, {\"body\": 1}, {\"body\": 1}, {\"body\": 1},"
		" {\"body\": 1}, {\"body\": 1}, {\"body\": 1}, {\"body\": 1}]}";
	bool posted;

	hh_call(&a, &r, "PUT", "/v2/queues/slow",
		"{\"_default_message_delay\": 900}");
	posted = r.status == 201;
	hh_call(&a, &r, "POST", "/v2/queues/slow/messages",
		"{\"messages\": [{\"body\": \"first\", \"delay\": 0}]}");
	for (int i = 0; i < 150; i++) {
		hh_call(&a, &r, "POST", "/v2/queues/slow/messages", ten);
		posted = posted && r.status == 201;
	}
	hh_call(&a, &r, "POST", "/v2/queues/slow/messages",
		"{\"messages\": [{\"body\": \"last\", \"delay\": 0}]}");
	ok(posted && r.status == 201,
	   "a ready message, 1,500 delayed ones, a ready one");
	hh_call(&w, &r, "POST", "/v2/queues/slow/claims?limit=2", "{}");
	ok(r.status == 201 && hh_len(r.json, "messages") == 1 &&
	   strcmp(hh_gets(r.json, "messages.0.body"), "first") == 0,
	   "a claim of 2 gets the first; its walk stopped in the delayed run");
	hh_call(&w, &r, "POST", "/v2/queues/slow/claims?limit=2", "{}");
	ok(r.status == 201 && hh_len(r.json, "messages") == 1 &&
	   strcmp(hh_gets(r.json, "messages.0.body"), "last") == 0,
	   "the next claim goes on past them and gets the last (not a 204)");
	hh_call(&w, &r, "POST", "/v2/queues/slow/claims?limit=2", "{}");
	is(r.status, 204, "then nothing is claimable: 204");
}

int main(void)
{
	hh_start(&srv, NULL);
	hh_client_init(&a, &srv, HH_CLIENT_A, "projA");
	hh_client_init(&w, &srv, HH_CLIENT_B, "projA");

	create();
	delete_rules();
	patch_and_release();
	validation();
	grace();
	v1_1();
	past_delayed();

	hh_resp_free(&r);
	hh_client_close(&a);
	hh_client_close(&w);
	return hh_finish(&srv);
}
