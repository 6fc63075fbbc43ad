/*
 * test_time.c - time, moved through the clock file instead of sleeping
 * (zaqar-api.md §7.3): message TTLs, claim expiry and grace, ages.
 */
#include "harness.h"

#include <string.h>

static struct hh_server srv;
static struct hh_client a;   /* poster */
static struct hh_client w;   /* worker */
static struct hh_resp r = HH_RESP_INIT;

static void ttl(void)
{
	char id[128];

	hh_call(&a, &r, "POST", "/v2/queues/tq/messages",
		"{\"messages\": [{\"ttl\": 60, \"body\": \"short\"}, {\"ttl\": 3600, \"body\": \"long\"}]}");
	is(r.status, 201, "post ttl 60 and ttl 3600");
	hh_copy(id, sizeof(id), hh_href_id(hh_gets(r.json, "resources.0")));
	hh_clock_advance(&srv, 59000);
	hh_call(&w, &r, "GET", "/v2/queues/tq/messages", NULL);
	is(hh_len(r.json, "messages"), 2, "after 59 s both are listed");
	is(hh_geti(r.json, "messages.0.age"), 59, "age 59");
	is(hh_geti(r.json, "messages.0.ttl"), 60, "ttl stays 60");
	hh_clock_advance(&srv, 2000);
	hh_call(&w, &r, "GET", "/v2/queues/tq/messages", NULL);
	is(hh_len(r.json, "messages"), 1, "after 61 s the ttl-60 message is gone from listings");
	is_str(hh_gets(r.json, "messages.0.body"), "long", "the other remains");
	hh_call(&w, &r, "GET", hh_fmt("/v2/queues/tq/messages/%s", id), NULL);
	is(r.status, 404, "GET the expired message is 404");
	hh_call(&w, &r, "GET", hh_fmt("/v2/queues/tq/messages?ids=%s", id), NULL);
	is(r.status, 404, "GET by ids of the expired message is 404");
	hh_call(&w, &r, "GET", "/v2/queues/tq/stats", NULL);
	is(hh_geti(r.json, "messages.total"), 1, "stats count 1 after expiry");
	is(hh_geti(r.json, "messages.free"), 1, "1 free");
	is_str(hh_gets(r.json, "messages.oldest.href"),
	       hh_fmt("/v2/queues/tq/messages/%s",
		      hh_href_id(hh_gets(r.json, "messages.newest.href"))),
	       "oldest and newest are the remaining message");
	hh_call(&w, &r, "POST", "/v2/queues/tq/claims?limit=5", "{\"ttl\": 60, \"grace\": 60}");
	is(r.status, 201, "claim after expiry");
	is(hh_len(r.json, "messages"), 1, "the expired message is not claimable");
	hh_call(&w, &r, "DELETE", "/v2/queues/tq/messages?pop=5", NULL);
	is(hh_len(r.json, "messages"), 0, "nor poppable (the other is claimed)");
}

static void claim_expiry(void)
{
	char cid[128], ids[2][128];

	hh_call(&a, &r, "POST", "/v2/queues/cq/messages",
		"{\"messages\": [{\"ttl\": 300, \"body\": 1}, {\"ttl\": 300, \"body\": 2}]}");
	for (int i = 0; i < 2; i++)
		hh_copy(ids[i], sizeof(ids[i]),
			hh_href_id(hh_gets(r.json, hh_fmt("resources.%d", i))));
	hh_call(&w, &r, "POST", "/v2/queues/cq/claims", "{\"ttl\": 60, \"grace\": 60}");
	is(r.status, 201, "claim both, ttl 60 grace 60");
	hh_copy(cid, sizeof(cid), hh_href_claim(hh_gets(r.json, "messages.0.href")));
	hh_clock_advance(&srv, 59000);
	hh_call(&w, &r, "GET", hh_fmt("/v2/queues/cq/claims/%s", cid), NULL);
	is(r.status, 200, "the claim is there after 59 s");
	is(hh_geti(r.json, "age"), 59, "claim age 59");
	hh_call(&w, &r, "POST", "/v2/queues/cq/claims", "{}");
	is(r.status, 204, "nothing else is claimable meanwhile");
	hh_clock_advance(&srv, 2000);
	hh_call(&w, &r, "GET", hh_fmt("/v2/queues/cq/claims/%s", cid), NULL);
	expect_error(&r, 404, "Not found",
		     hh_fmt("Claim %s does not exist in queue cq for project projT", cid),
		     "the claim after 61 s");
	hh_call(&w, &r, "PATCH", hh_fmt("/v2/queues/cq/claims/%s", cid), "{\"ttl\": 60}");
	is(r.status, 404, "an expired claim cannot be renewed");
	hh_call(&w, &r, "GET", "/v2/queues/cq/messages", NULL);
	is(hh_len(r.json, "messages"), 2, "the messages are listed again");
	is_str(hh_gets(r.json, "messages.0.href"),
	       hh_fmt("/v2/queues/cq/messages/%s", ids[0]),
	       "their href no longer carries the claim");
	hh_call(&w, &r, "GET", "/v2/queues/cq/stats", NULL);
	is(hh_geti(r.json, "messages.claimed"), 0, "stats: 0 claimed");
	hh_call(&w, &r, "DELETE", hh_fmt("/v2/queues/cq/messages/%s?claim_id=%s", ids[0], cid), NULL);
	expect_error(&r, 400, "Unable to delete",
		     "A claim was specified, but the message is not currently claimed.",
		     "delete with the expired claim id");
	hh_call(&w, &r, "POST", "/v2/queues/cq/claims", "{\"ttl\": 60, \"grace\": 60}");
	is(r.status, 201, "the messages are claimable again");
	is(hh_len(r.json, "messages"), 2, "both of them");
	hh_copy(cid, sizeof(cid), hh_href_claim(hh_gets(r.json, "messages.0.href")));

	/* renewal moves the expiry */
	hh_clock_advance(&srv, 50000);
	hh_call(&w, &r, "PATCH", hh_fmt("/v2/queues/cq/claims/%s", cid), "{\"ttl\": 60, \"grace\": 60}");
	is(r.status, 204, "renew at 50 s");
	hh_clock_advance(&srv, 50000);
	hh_call(&w, &r, "GET", hh_fmt("/v2/queues/cq/claims/%s", cid), NULL);
	is(r.status, 200, "the renewed claim lives past its first expiry");
	is(hh_geti(r.json, "age"), 50, "its age counts from the renewal");
	hh_clock_advance(&srv, 11000);
	hh_call(&w, &r, "GET", hh_fmt("/v2/queues/cq/claims/%s", cid), NULL);
	is(r.status, 404, "and expires 60 s after the renewal");
}

static void grace(void)
{
	char id[128], cid[128];

	hh_call(&a, &r, "POST", "/v2/queues/gq/messages",
		"{\"messages\": [{\"ttl\": 60, \"body\": \"g\"}]}");
	hh_copy(id, sizeof(id), hh_href_id(hh_gets(r.json, "resources.0")));
	hh_call(&w, &r, "POST", "/v2/queues/gq/claims", "{\"ttl\": 100, \"grace\": 60}");
	is(hh_geti(r.json, "messages.0.ttl"), 160, "grace raises the ttl to 160");
	hh_copy(cid, sizeof(cid), hh_href_claim(hh_gets(r.json, "messages.0.href")));
	hh_clock_advance(&srv, 120000);
	hh_call(&w, &r, "GET", hh_fmt("/v2/queues/gq/messages/%s", id), NULL);
	is(r.status, 200, "at 120 s the message lives on past its own ttl");
	is(hh_geti(r.json, "ttl"), 160, "with ttl 160");
	is(hh_geti(r.json, "age"), 120, "and age 120");
	hh_call(&w, &r, "GET", "/v2/queues/gq/messages?include_claimed=true", NULL);
	is(hh_len(r.json, "messages"), 1, "it is listed with include_claimed (claim expired at 100 s)");
	hh_clock_advance(&srv, 41000);
	hh_call(&w, &r, "GET", hh_fmt("/v2/queues/gq/messages/%s", id), NULL);
	is(r.status, 404, "at 161 s it is gone");
	hh_call(&w, &r, "GET", "/v2/queues/gq/stats", NULL);
	is(hh_geti(r.json, "messages.total"), 0, "and gone from stats");

	/* release keeps the extended ttl */
	hh_call(&a, &r, "POST", "/v2/queues/gq2/messages",
		"{\"messages\": [{\"ttl\": 60, \"body\": \"h\"}]}");
	hh_copy(id, sizeof(id), hh_href_id(hh_gets(r.json, "resources.0")));
	hh_call(&w, &r, "POST", "/v2/queues/gq2/claims", "{\"ttl\": 300, \"grace\": 60}");
	hh_copy(cid, sizeof(cid), hh_href_claim(hh_gets(r.json, "messages.0.href")));
	hh_call(&w, &r, "DELETE", hh_fmt("/v2/queues/gq2/claims/%s", cid), NULL);
	is(r.status, 204, "release at once");
	hh_clock_advance(&srv, 100000);
	hh_call(&w, &r, "GET", hh_fmt("/v2/queues/gq2/messages/%s", id), NULL);
	is(r.status, 200, "the released message keeps its extended ttl");
	is(hh_geti(r.json, "ttl"), 360, "ttl 360");
}

static void compaction(void)
{
	/* many expired messages; the compaction timer may run at any time */
	hh_call(&a, &r, "POST", "/v2/queues/many/messages",
		"{\"messages\": [{\"ttl\": 60, \"body\": 1}, {\"ttl\": 60, \"body\": 2},"
		" {\"ttl\": 60, \"body\": 3}, {\"ttl\": 600, \"body\": 4}]}");
	hh_clock_advance(&srv, 3600000);
	hh_call(&a, &r, "POST", "/v2/queues/many/messages",
		"{\"messages\": [{\"ttl\": 60, \"body\": \"fresh\"}]}");
	is(r.status, 201, "post after an hour");
	hh_call(&w, &r, "GET", "/v2/queues/many/messages", NULL);
	is(hh_len(r.json, "messages"), 1, "only the fresh message is listed");
	is_str(hh_gets(r.json, "messages.0.body"), "fresh", "it is the fresh one");
	hh_call(&w, &r, "GET", "/v2/queues/many/stats", NULL);
	is(hh_geti(r.json, "messages.total"), 1, "stats count only it");
	hh_call(&w, &r, "GET", "/v2/queues/tq/stats", NULL);
	ok(hh_json_eq(&r, "{\"messages\": {\"claimed\": 0, \"free\": 0, \"total\": 0}}"),
	   "every message of tq has expired by now");
}

int main(void)
{
	hh_start(&srv, NULL);
	hh_client_init(&a, &srv, HH_CLIENT_A, "projT");
	hh_client_init(&w, &srv, HH_CLIENT_B, "projT");

	ttl();
	claim_expiry();
	grace();
	compaction();

	hh_resp_free(&r);
	hh_client_close(&a);
	hh_client_close(&w);
	return hh_finish(&srv);
}
