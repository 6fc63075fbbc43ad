/*
 * test_restart.c - durability across a restart: post, stop the server with
 * SIGTERM (exit 0), start it again on the same data directory; messages,
 * metadata, claims, markers and idempotency keys are still there, and a
 * marker from before the restart continues the listing.
 */
#include "harness.h"

#include <string.h>

static struct hh_server srv;
static struct hh_client a;   /* poster */
static struct hh_client b;   /* reader */
static struct hh_resp r = HH_RESP_INIT;

int main(void)
{
	char ids[5][128], next[1024], cid[128], v1id[128], kid[128], hid[128];
	const char *keyed = "{\"messages\": [{\"body\": \"once\", \"idempotency_key\": \"order-7\"}]}";

	hh_start(&srv, NULL);
	hh_client_init(&a, &srv, HH_CLIENT_A, "projR");
	hh_client_init(&b, &srv, HH_CLIENT_B, "projR");

	hh_call(&a, &r, "PUT", "/v2/queues/rq", "{\"color\": \"blue\", \"_default_message_ttl\": 600}");
	is(r.status, 201, "create rq with metadata");
	hh_call(&a, &r, "POST", "/v2/queues/rq/messages",
		"{\"messages\": [{\"body\": 0}, {\"body\": 1}, {\"body\": 2}, {\"body\": 3}, {\"body\": 4}]}");
	is(r.status, 201, "post 5");
	for (int i = 0; i < 5; i++)
		hh_copy(ids[i], sizeof(ids[i]),
			hh_href_id(hh_gets(r.json, hh_fmt("resources.%d", i))));
	hh_call(&b, &r, "GET", "/v2/queues/rq/messages?limit=2", NULL);
	is(hh_len(r.json, "messages"), 2, "read the first page of 2");
	hh_copy(next, sizeof(next), hh_gets(r.json, "links.0.href"));
	hh_call(&b, &r, "POST", "/v2/queues/rq/claims?limit=1", "{\"ttl\": 3600, \"grace\": 60}");
	is(r.status, 201, "claim the oldest");
	hh_copy(cid, sizeof(cid), hh_href_claim(hh_gets(r.json, "messages.0.href")));
	hh_call(&a, &r, "PUT", "/v1/queues/legacy", "");
	hh_call(&a, &r, "POST", "/v1/queues/legacy/messages", "[{\"ttl\": 600, \"body\": \"v1\"}]");
	hh_copy(v1id, sizeof(v1id), hh_href_id(hh_gets(r.json, "resources.0")));

	hh_call(&a, &r, "POST", "/v2/queues/idq/messages", keyed);
	is(r.status, 201, "a post with an idempotency key");
	hh_copy(kid, sizeof(kid), hh_href_id(hh_gets(r.json, "resources.0")));

	hh_callh(&a, &r, "POST", "/v2/queues/idh/messages",
		 "Idempotency-Key: req-h\r\n", "{\"messages\": [{\"body\": \"h\"}]}");
	is(r.status, 201, "a post with an Idempotency-Key header");
	hh_copy(hid, sizeof(hid), hh_href_id(hh_gets(r.json, "resources.0")));

	is(hh_stop(&srv), 0, "the server exits 0 on SIGTERM");
	hh_clock_advance(&srv, 10000);
	hh_restart(&srv);
	diag("restarted on port %d", srv.port);

	hh_call(&b, &r, "GET", next, NULL);
	is(r.status, 200, "the next link from before the restart works");
	ok(hh_len(r.json, "messages") == 2 &&
		   strcmp(hh_gets(r.json, "messages.0.id") ? hh_gets(r.json, "messages.0.id") : "", ids[2]) == 0 &&
		   strcmp(hh_gets(r.json, "messages.1.id") ? hh_gets(r.json, "messages.1.id") : "", ids[3]) == 0,
	   "it continues with the third and fourth messages");
	is(hh_geti(r.json, "messages.0.age"), 10, "ages count on from the clock");
	is(hh_geti(r.json, "messages.0.ttl"), 600, "the queue's default ttl was kept");
	hh_call(&b, &r, "GET", hh_fmt("/v2/queues/rq/messages?marker=%s", ids[3]), NULL);
	is(hh_len(r.json, "messages"), 1, "a marker from before the restart lists what follows");
	is_str(hh_gets(r.json, "messages.0.id"), ids[4], "the fifth message");

	hh_call(&a, &r, "GET", "/v2/queues/rq", NULL);
	is_str(hh_gets(r.json, "color"), "blue", "metadata survived");
	hh_call(&a, &r, "GET", "/v2/queues/rq/stats", NULL);
	is(hh_geti(r.json, "messages.total"), 5, "all 5 messages survived");
	is(hh_geti(r.json, "messages.claimed"), 1, "the claim survived");
	hh_call(&b, &r, "GET", hh_fmt("/v2/queues/rq/claims/%s", cid), NULL);
	is(r.status, 200, "GET the claim after the restart");
	is(hh_geti(r.json, "age"), 10, "claim age counts on");
	hh_call(&b, &r, "DELETE", hh_fmt("/v2/queues/rq/messages/%s", ids[0]), NULL);
	is(r.status, 403, "the claimed message still needs its claim");
	hh_call(&b, &r, "DELETE", hh_fmt("/v2/queues/rq/messages/%s?claim_id=%s", ids[0], cid), NULL);
	is(r.status, 204, "and is deleted with it");

	hh_call(&a, &r, "POST", "/v2/queues/rq/messages", "{\"messages\": [{\"body\": 5}]}");
	is(r.status, 201, "post after the restart");
	ok(strcmp(hh_href_id(hh_gets(r.json, "resources.0")) ? hh_href_id(hh_gets(r.json, "resources.0")) : "", ids[4]) != 0,
	   "a new id, not a reused one");
	hh_call(&b, &r, "GET", hh_fmt("/v2/queues/rq/messages?marker=%s", ids[4]), NULL);
	is(hh_len(r.json, "messages"), 1, "the new message comes after the old marker");
	is(hh_geti(r.json, "messages.0.body"), 5, "it is the new one");
	hh_call(&a, &r, "GET", "/v2/queues/rq/messages?echo=true&limit=20", NULL);
	is(hh_len(r.json, "messages"), 5, "the listing holds 4 old + 1 new, in order");
	is(hh_geti(r.json, "messages.4.body"), 5, "the new one last");

	hh_call(&a, &r, "POST", "/v2/queues/idq/messages", keyed);
	ok(r.status == 201 && hh_len(r.json, "duplicates") == 1 &&
		   strcmp(hh_href_id(hh_gets(r.json, "resources.0")) ? hh_href_id(hh_gets(r.json, "resources.0")) : "", kid) == 0,
	   "after the restart the key's repeat is still recognised: %s", r.body);
	hh_call(&a, &r, "GET", "/v2/queues/idq/stats", NULL);
	is(hh_geti(r.json, "messages.total"), 1, "and stored nothing");
	hh_callh(&a, &r, "POST", "/v2/queues/idh/messages",
		 "Idempotency-Key: req-h\r\n", "{\"messages\": [{\"body\": \"h\"}]}");
	ok(r.status == 201 && hh_len(r.json, "duplicates") == 1 &&
		   strcmp(hh_href_id(hh_gets(r.json, "resources.0")) ? hh_href_id(hh_gets(r.json, "resources.0")) : "", hid) == 0,
	   "the header's key too, 10 s later across the restart: %s", r.body);
	hh_clock_advance(&srv, 289999);
	hh_callh(&a, &r, "POST", "/v2/queues/idh/messages",
		 "Idempotency-Key: req-h\r\n", "{\"messages\": [{\"body\": \"h\"}]}");
	ok(hh_len(r.json, "duplicates") == 1, "still a repeat just inside the 300 s window");
	hh_clock_advance(&srv, 1);
	hh_callh(&a, &r, "POST", "/v2/queues/idh/messages",
		 "Idempotency-Key: req-h\r\n", "{\"messages\": [{\"body\": \"h\"}]}");
	ok(r.status == 201 && hh_len(r.json, "duplicates") == 0 &&
		   strcmp(hh_href_id(hh_gets(r.json, "resources.0")) ? hh_href_id(hh_gets(r.json, "resources.0")) : "", hid) != 0,
	   "300 s after the first post the window is over: stored again: %s", r.body);
	hh_call(&a, &r, "GET", "/v2/queues/idh/stats", NULL);
	is(hh_geti(r.json, "messages.total"), 2, "two copies in all");

	hh_call(&a, &r, "GET", hh_fmt("/v1/queues/legacy/messages/%s", v1id), NULL);
	is(r.status, 200, "a v1 message survived");
	hh_call(&a, &r, "GET", "/v1/queues/legacy", NULL);
	is(r.status, 204, "the v1 queue survived");

	/* a second restart right after writes */
	hh_call(&a, &r, "POST", "/v2/queues/rq2/messages", "{\"messages\": [{\"body\": \"x\"}]}");
	is(r.status, 201, "post just before a second stop");
	is(hh_stop(&srv), 0, "the second stop exits 0");
	hh_restart(&srv);
	hh_call(&a, &r, "GET", "/v2/queues/rq2/stats", NULL);
	is(hh_geti(r.json, "messages.total"), 1, "an acknowledged post survives at once");

	hh_resp_free(&r);
	hh_client_close(&a);
	hh_client_close(&b);
	return hh_finish(&srv);
}
