/*
 * test_v1.c - API v1 (zaqar-api.md §11), starting with the seed walkthrough
 * of Cloud Queues v1: create a queue, post a bare array of messages, claim
 * two of them, delete one with its claim id.
 *
 * Herald's decisions (API.md §2) where Zaqar's drivers disagree: listing a
 * missing queue in v1 is 204 and posting to one is 404.
 */
#include "harness.h"

#include <string.h>

static struct hh_server srv;
static struct hh_client c;   /* client A, project projV1 */
static struct hh_client cb;  /* client B, project projV1 */
static struct hh_resp r = HH_RESP_INIT;

static void seed_walkthrough(void)
{
	char ids[3][128], cid[128];
	json_t *msgs, *m;
	size_t i;

	hh_call(&c, &r, "PUT", "/v1/queues/q", "");
	is(r.status, 201, "walkthrough: PUT /v1/queues/q creates the queue");
	is_str(hh_header(&r, "location"), "/v1/queues/q",
	       "walkthrough: PUT answers Location");

	hh_call(&c, &r, "POST", "/v1/queues/q/messages",
		"[{\"ttl\": 300, \"body\": {\"event\": \"BackupStarted\"}},"
		" {\"ttl\": 300, \"body\": {\"event\": \"BackupProgress\", \"pct\": 50}},"
		" {\"ttl\": 600, \"body\": \"done\"}]");
	is(r.status, 201, "walkthrough: POST a JSON array of messages is 201");
	ok(hh_keys_are(r.json, "partial,resources"),
	   "walkthrough: the body is {partial, resources}: %s", r.body);
	ok(json_is_false(hh_get(r.json, "partial")),
	   "walkthrough: partial is false");
	is(hh_len(r.json, "resources"), 3, "walkthrough: three resources");
	for (i = 0; i < 3; i++) {
		const char *href = hh_gets(r.json, hh_fmt("resources.%zu", i));

		hh_copy(ids[i], sizeof(ids[i]), hh_href_id(href));
		is_str(href, hh_fmt("/v1/queues/q/messages/%s", ids[i]),
		       "walkthrough: resource %zu is a message path", i);
	}
	ok(ids[0][0] != '\0' && strcmp(ids[0], ids[1]) != 0 &&
		   strcmp(ids[1], ids[2]) != 0,
	   "walkthrough: the ids are distinct");
	is_str(hh_header(&r, "location"),
	       hh_fmt("/v1/queues/q/messages?ids=%s,%s,%s", ids[0], ids[1],
		      ids[2]),
	       "walkthrough: Location lists the new ids in order");

	hh_call(&c, &r, "POST", "/v1/queues/q/claims?limit=2",
		"{\"ttl\": 60, \"grace\": 60}");
	is(r.status, 201, "walkthrough: POST claims?limit=2 is 201");
	msgs = r.json;
	ok(json_is_array(msgs), "walkthrough: v1 claims answer a bare array");
	is(hh_len(msgs, ""), 2, "walkthrough: two messages claimed");
	hh_copy(cid, sizeof(cid), hh_href_id(hh_header(&r, "location")));
	is_str(hh_header(&r, "location"), hh_fmt("/v1/queues/q/claims/%s", cid),
	       "walkthrough: Location is the claim");
	json_array_foreach(msgs, i, m)
	{
		ok(hh_keys_are(m, "href,ttl,age,body"),
		   "walkthrough: claimed message %zu is {href, ttl, age, body}",
		   i);
		is_str(hh_gets(m, "href"),
		       hh_fmt("/v1/queues/q/messages/%s?claim_id=%s", ids[i],
			      cid),
		       "walkthrough: claimed message %zu href carries claim_id",
		       i);
		is(hh_geti(m, "ttl"), 300, "walkthrough: message %zu ttl", i);
		is(hh_geti(m, "age"), 0, "walkthrough: message %zu age", i);
	}
	is_str(hh_dump(hh_get(msgs, "0.body")),
	       "{\"event\":\"BackupStarted\"}", "walkthrough: first body");

	hh_call(&c, &r, "DELETE",
		hh_fmt("/v1/queues/q/messages/%s?claim_id=%s", ids[0], cid),
		NULL);
	is(r.status, 204, "walkthrough: DELETE the message with its claim");
	is(r.body_len, 0, "walkthrough: the 204 has no body");

	hh_call(&c, &r, "GET", hh_fmt("/v1/queues/q/messages/%s", ids[0]),
		NULL);
	is(r.status, 404, "walkthrough: the deleted message is gone");
	hh_call(&c, &r, "GET", hh_fmt("/v1/queues/q/messages/%s", ids[1]),
		NULL);
	is(r.status, 200, "walkthrough: the other claimed message is there");
	is_str(hh_gets(r.json, "href"), hh_fmt("/v1/queues/q/messages/%s", ids[1]),
	       "walkthrough: v1 GET message href has no claim id");
}

static void queues(void)
{
	struct hh_client np;

	hh_client_init(&np, &srv, NULL, NULL);
	hh_call(&np, &r, "GET", "/v1/queues", NULL);
	is(r.status, 204, "v1 list queues without project, none yet: 204");
	hh_call(&np, &r, "PUT", "/v1/queues/noproj", "");
	is(r.status, 201, "v1 PUT queue without X-Project-Id");
	hh_call(&np, &r, "GET", "/v1/queues", NULL);
	is(r.status, 200, "v1 list queues of the no-project namespace");
	ok(hh_json_eq(&r, "{\"queues\": [{\"name\": \"noproj\", \"href\": "
			  "\"/v1/queues/noproj\"}], \"links\": [{\"rel\": "
			  "\"next\", \"href\": \"/v1/queues?marker=noproj\"}]}"),
	   "v1 no-project namespace holds only its own queue");
	hh_client_close(&np);

	hh_call(&c, &r, "PUT", "/v1/queues/v1q", "{\"ignored\": true}");
	is(r.status, 201, "v1 PUT queue (body ignored) is 201");
	hh_call(&c, &r, "PUT", "/v1/queues/v1q", "");
	is(r.status, 204, "v1 PUT existing queue is 204");
	is_str(hh_header(&r, "location"), "/v1/queues/v1q",
	       "v1 PUT existing queue answers Location");
	hh_call(&c, &r, "GET", "/v1/queues/v1q", NULL);
	is(r.status, 204, "v1 GET existing queue is 204");
	is_str(hh_header(&r, "content-location"), "/v1/queues/v1q",
	       "v1 GET queue answers Content-Location");
	hh_call(&c, &r, "HEAD", "/v1/queues/v1q", NULL);
	is(r.status, 204, "v1 HEAD existing queue is 204");
	hh_call(&c, &r, "GET", "/v1/queues/nosuch", NULL);
	is(r.status, 404, "v1 GET missing queue is 404");
	is(r.body_len, 0, "v1 GET missing queue has an empty body");
	hh_call(&c, &r, "HEAD", "/v1/queues/nosuch", NULL);
	is(r.status, 404, "v1 HEAD missing queue is 404");

	hh_call(&c, &r, "PUT", "/v1/queues/v1q/metadata",
		"{\"color\": \"blue\"}");
	is(r.status, 204, "v1 PUT metadata is 204");
	is_str(hh_header(&r, "location"), "/v1/queues/v1q/metadata",
	       "v1 PUT metadata answers Location");
	hh_call(&c, &r, "GET", "/v1/queues/v1q/metadata", NULL);
	is(r.status, 200, "v1 GET metadata is 200");
	ok(hh_json_eq(&r, "{\"color\": \"blue\"}"),
	   "v1 GET metadata is the stored object as-is");
	is_str(hh_header(&r, "content-location"), "/v1/queues/v1q/metadata",
	       "v1 GET metadata answers Content-Location");
	hh_call(&c, &r, "PUT", "/v1/queues/v1q/metadata",
		"{\"_default_message_ttl\": 120}");
	expect_error(&r, 400, "Invalid API request",
		     "Reserved queue attributes in metadata (which names start "
		     "with \"_\") can not be set in API v1.",
		     "v1 PUT reserved metadata");
	hh_call(&c, &r, "PUT", "/v1/queues/nosuch/metadata",
		"{\"color\": \"blue\"}");
	expect_error(&r, 404, "Not found",
		     "Queue nosuch does not exist for project projV1",
		     "v1 PUT metadata of a missing queue");
	hh_call(&c, &r, "GET", "/v1/queues/nosuch/metadata", NULL);
	expect_error(&r, 404, "Not found",
		     "Queue nosuch does not exist for project projV1",
		     "v1 GET metadata of a missing queue");
	hh_call(&c, &r, "PUT", "/v1/queues/v1q/metadata", "[1, 2]");
	expect_4xx(&r, 400, "v1 PUT metadata that is not an object");

	hh_call(&c, &r, "GET", "/v1/queues?detailed=true", NULL);
	is(r.status, 200, "v1 list queues detailed");
	ok(hh_json_eq(&r, "{\"queues\": ["
			  "{\"name\": \"q\", \"metadata\": {}, \"href\": \"/v1/queues/q\"},"
			  "{\"name\": \"v1q\", \"metadata\": {\"color\": \"blue\"}, \"href\": \"/v1/queues/v1q\"}],"
			  " \"links\": [{\"rel\": \"next\", \"href\": "
			  "\"/v1/queues?detailed=true&marker=v1q\"}]}"),
	   "v1 detailed list has metadata as stored and a next link");
	is_str(hh_header(&r, "content-location"), "/v1/queues?detailed=true",
	       "v1 list answers Content-Location");
	hh_call(&c, &r, "GET", "/v1/queues?limit=1", NULL);
	ok(hh_json_eq(&r, "{\"queues\": [{\"name\": \"q\", \"href\": \"/v1/queues/q\"}],"
			  " \"links\": [{\"rel\": \"next\", \"href\": "
			  "\"/v1/queues?limit=1&marker=q\"}]}"),
	   "v1 list limit=1");
	hh_call(&c, &r, "GET", "/v1/queues?limit=1&marker=q", NULL);
	is_str(hh_gets(r.json, "queues.0.name"), "v1q",
	       "v1 list after marker q is v1q");
	hh_call(&c, &r, "GET", "/v1/queues?marker=v1q", NULL);
	is(r.status, 204, "v1 list past the last queue is 204");
}

static void messages(void)
{
	char id1[128], id2[128], cid[128];

	hh_call(&c, &r, "POST", "/v1/queues/v1q/messages",
		"[{\"ttl\": 300, \"body\": {\"a\": 1}}, {\"ttl\": 300, \"body\": \"b\"}]");
	is(r.status, 201, "v1 post two messages");
	ok(json_is_false(hh_get(r.json, "partial")), "v1 post: partial false");
	hh_copy(id1, sizeof(id1), hh_href_id(hh_gets(r.json, "resources.0")));
	hh_copy(id2, sizeof(id2), hh_href_id(hh_gets(r.json, "resources.1")));

	hh_call(&c, &r, "POST", "/v1/queues/v1q/messages",
		"[{\"body\": \"no ttl\"}]");
	expect_error(&r, 400, "Invalid request body", "Missing \"ttl\" field.",
		     "v1 post without ttl");
	hh_call(&c, &r, "POST", "/v1/queues/v1q/messages",
		"[{\"ttl\": 300}]");
	expect_error(&r, 400, "Invalid request body", "Missing \"body\" field.",
		     "v1 post without body");
	hh_call(&c, &r, "POST", "/v1/queues/v1q/messages",
		"{\"messages\": [{\"ttl\": 300, \"body\": 1}]}");
	expect_error(&r, 400, "Invalid request body",
		     "Document type not supported.",
		     "v1 post an object instead of an array");
	hh_call(&c, &r, "POST", "/v1/queues/nosuchq/messages",
		"[{\"ttl\": 300, \"body\": 1}]");
	expect_error(&r, 404, "Not found",
		     "Queue nosuchq does not exist for project projV1",
		     "v1 post to a missing queue (Herald: 404)");
	cb.client_id = NULL;
	hh_call(&cb, &r, "POST", "/v1/queues/v1q/messages",
		"[{\"ttl\": 300, \"body\": 1}]");
	expect_error(&r, 400, "Missing header value",
		     "The \"Client-ID\" header is required.",
		     "v1 post without Client-ID");
	hh_call(&cb, &r, "GET", "/v1/queues/v1q/messages?echo=true", NULL);
	expect_error(&r, 400, "Missing header value",
		     "The \"Client-ID\" header is required.",
		     "v1 list without Client-ID");
	cb.client_id = HH_CLIENT_B;

	hh_call(&c, &r, "GET", "/v1/queues/v1q/messages", NULL);
	is(r.status, 204, "v1 list of own messages without echo is 204");
	is_str(hh_header(&r, "content-location"), "/v1/queues/v1q/messages",
	       "v1 list answers Content-Location");
	hh_call(&c, &r, "GET", "/v1/queues/v1q/messages?echo=true", NULL);
	is(r.status, 200, "v1 list echo=true");
	ok(hh_json_eq(&r, hh_fmt(
		"{\"messages\": ["
		"{\"href\": \"/v1/queues/v1q/messages/%s\", \"ttl\": 300, \"age\": 0, \"body\": {\"a\": 1}},"
		"{\"href\": \"/v1/queues/v1q/messages/%s\", \"ttl\": 300, \"age\": 0, \"body\": \"b\"}],"
		" \"links\": [{\"rel\": \"next\", \"href\": "
		"\"/v1/queues/v1q/messages?echo=true&marker=%s\"}]}",
		id1, id2, id2)),
	   "v1 list: messages without id, next link with marker");
	hh_call(&cb, &r, "GET", "/v1/queues/v1q/messages?limit=1", NULL);
	is(r.status, 200, "v1 list by another client");
	is(hh_len(r.json, "messages"), 1, "v1 list limit=1 gives one");
	hh_call(&cb, &r, "GET", hh_fmt("/v1/queues/v1q/messages?limit=1&marker=%s", id1), NULL);
	is_str(hh_gets(r.json, "messages.0.href"),
	       hh_fmt("/v1/queues/v1q/messages/%s", id2),
	       "v1 list after the first marker gives the second");
	hh_call(&cb, &r, "GET", hh_fmt("/v1/queues/v1q/messages?marker=%s", id2), NULL);
	is(r.status, 204, "v1 list past the end is 204");
	hh_call(&c, &r, "GET", "/v1/queues/nosuch/messages?echo=true", NULL);
	is(r.status, 204, "v1 list of a missing queue is 204 (Herald)");

	hh_call(&c, &r, "GET", hh_fmt("/v1/queues/v1q/messages/%s", id1), NULL);
	is(r.status, 200, "v1 GET message");
	ok(hh_json_eq(&r, hh_fmt("{\"href\": \"/v1/queues/v1q/messages/%s\", "
				 "\"ttl\": 300, \"age\": 0, \"body\": {\"a\": 1}}",
				 id1)),
	   "v1 GET message is {href, ttl, age, body}");
	is_str(hh_header(&r, "content-location"),
	       hh_fmt("/v1/queues/v1q/messages/%s", id1),
	       "v1 GET message answers Content-Location");
	hh_call(&c, &r, "GET", hh_fmt("/v1/queues/v1q/messages?ids=%s,%s", id1, id2), NULL);
	is(r.status, 200, "v1 GET by ids");
	ok(json_is_array(r.json) && hh_len(r.json, "") == 2,
	   "v1 GET by ids is a bare array of two");
	ok(hh_keys_are(hh_get(r.json, "1"), "href,ttl,age,body"),
	   "v1 GET by ids: messages are {href, ttl, age, body}");
	hh_call(&c, &r, "GET", "/v1/queues/v1q/messages?ids=" HH_NO_SUCH_ID, NULL);
	is(r.status, 204, "v1 GET by ids none found is 204");

	/* claims */
	hh_call(&c, &r, "POST", "/v1/queues/v1q/claims", "");
	expect_error(&r, 400, "Invalid request body",
		     "Request body can not be empty", "v1 claim without body");
	hh_call(&c, &r, "POST", "/v1/queues/v1q/claims", "{\"ttl\": 60}");
	expect_error(&r, 400, "Invalid request body",
		     "Missing \"grace\" field.", "v1 claim without grace");
	hh_call(&c, &r, "POST", "/v1/queues/v1q/claims", "{\"grace\": 60}");
	expect_error(&r, 400, "Invalid request body",
		     "Missing \"ttl\" field.", "v1 claim without ttl");
	hh_call(&c, &r, "POST", "/v1/queues/v1q/claims?limit=1",
		"{\"ttl\": 60, \"grace\": 60}");
	is(r.status, 201, "v1 claim one");
	hh_copy(cid, sizeof(cid), hh_href_claim(hh_gets(r.json, "0.href")));
	ok(hh_json_eq(&r, hh_fmt("[{\"href\": \"/v1/queues/v1q/messages/%s?claim_id=%s\", "
				 "\"ttl\": 300, \"age\": 0, \"body\": {\"a\": 1}}]",
				 id1, cid)),
	   "v1 claim answers a bare array with the claim in href");
	hh_clock_advance(&srv, 5000);
	hh_call(&c, &r, "GET", hh_fmt("/v1/queues/v1q/claims/%s", cid), NULL);
	is(r.status, 200, "v1 GET claim");
	ok(hh_json_eq(&r, hh_fmt("{\"age\": 5, \"ttl\": 60, \"messages\": ["
				 "{\"href\": \"/v1/queues/v1q/messages/%s?claim_id=%s\", "
				 "\"ttl\": 300, \"age\": 5, \"body\": {\"a\": 1}}],"
				 " \"href\": \"/v1/queues/v1q/claims/%s\"}",
				 id1, cid, cid)),
	   "v1 GET claim is {age, ttl, messages, href}");
	is_str(hh_header(&r, "content-location"),
	       hh_fmt("/v1/queues/v1q/claims/%s", cid),
	       "v1 GET claim answers Content-Location");
	hh_call(&c, &r, "PATCH", hh_fmt("/v1/queues/v1q/claims/%s", cid),
		"{\"ttl\": 120}");
	is(r.status, 204, "v1 PATCH claim, grace optional");
	hh_call(&c, &r, "GET", hh_fmt("/v1/queues/v1q/claims/%s", cid), NULL);
	is(hh_geti(r.json, "ttl"), 120, "v1 claim ttl after PATCH");
	is(hh_geti(r.json, "age"), 0, "v1 claim age restarts after PATCH");

	hh_call(&c, &r, "GET", "/v1/queues/v1q/stats", NULL);
	is(r.status, 200, "v1 stats");
	is(hh_geti(r.json, "messages.claimed"), 1, "v1 stats: one claimed");
	is(hh_geti(r.json, "messages.free"), 1, "v1 stats: one free");
	is(hh_geti(r.json, "messages.total"), 2, "v1 stats: two in all");
	ok(hh_keys_are(hh_get(r.json, "messages.oldest"), "age,created,href"),
	   "v1 stats oldest is {age, created, href}");
	is_str(hh_gets(r.json, "messages.oldest.href"),
	       hh_fmt("/v1/queues/v1q/messages/%s", id1), "v1 stats oldest href");
	is_str(hh_header(&r, "content-location"), "/v1/queues/v1q/stats",
	       "v1 stats answers Content-Location");
	hh_call(&c, &r, "GET", "/v1/queues/nosuch/stats", NULL);
	expect_error(&r, 404, "Not found",
		     "Queue nosuch does not exist for project projV1",
		     "v1 stats of a missing queue");

	hh_call(&c, &r, "DELETE", hh_fmt("/v1/queues/v1q/messages/%s", id1), NULL);
	expect_error(&r, 403, "Unable to delete",
		     "This message is claimed; it cannot be deleted without a "
		     "valid claim ID.",
		     "v1 delete a claimed message without claim id");
	hh_call(&c, &r, "DELETE",
		hh_fmt("/v1/queues/v1q/messages/%s?claim_id=%s", id1, cid), NULL);
	is(r.status, 204, "v1 delete a claimed message with its claim");
	hh_call(&c, &r, "DELETE", hh_fmt("/v1/queues/v1q/claims/%s", cid), NULL);
	is(r.status, 204, "v1 DELETE claim");
	hh_call(&c, &r, "GET", hh_fmt("/v1/queues/v1q/claims/%s", cid), NULL);
	is(r.status, 404, "v1 GET released claim is 404");
	hh_call(&c, &r, "POST", "/v1/queues/empty1/claims",
		"{\"ttl\": 60, \"grace\": 60}");
	ok(r.status == 204 || r.status == 404,
	   "v1 claim on a missing queue finds nothing (got %d)", r.status);
	hh_call(&c, &r, "PUT", "/v1/queues/empty1", "");
	hh_call(&c, &r, "POST", "/v1/queues/empty1/claims",
		"{\"ttl\": 60, \"grace\": 60}");
	is(r.status, 204, "v1 claim on an empty queue is 204");

	hh_call(&c, &r, "DELETE", "/v1/queues/v1q/messages", NULL);
	expect_error(&r, 400, "Missing parameter",
		     "The \"ids\" parameter is required.",
		     "v1 bulk delete without ids");
	hh_call(&c, &r, "DELETE", "/v1/queues/v1q/messages?pop=1", NULL);
	expect_error(&r, 400, "Missing parameter",
		     "The \"ids\" parameter is required.", "v1 has no pop");
	hh_call(&c, &r, "DELETE",
		hh_fmt("/v1/queues/v1q/messages?ids=%s," HH_NO_SUCH_ID, id2), NULL);
	is(r.status, 204, "v1 bulk delete by ids");
	hh_call(&c, &r, "GET", "/v1/queues/v1q/messages?echo=true", NULL);
	is(r.status, 204, "v1 list after deleting everything is 204");

	hh_call(&c, &r, "DELETE", "/v1/queues/v1q", NULL);
	is(r.status, 204, "v1 DELETE queue");
	hh_call(&c, &r, "DELETE", "/v1/queues/v1q", NULL);
	is(r.status, 204, "v1 DELETE queue again is 204");
	hh_call(&c, &r, "GET", "/v1/queues/v1q", NULL);
	is(r.status, 404, "v1 deleted queue is gone");
}

static void misc(void)
{
	struct hh_client np;

	hh_client_init(&np, &srv, NULL, NULL);
	hh_call(&np, &r, "GET", "/v1/health", NULL);
	is(r.status, 204, "GET /v1/health is 204");
	hh_call(&np, &r, "HEAD", "/v1/health", NULL);
	is(r.status, 204, "HEAD /v1/health is 204");
	hh_call(&np, &r, "GET", "/v1/ping", NULL);
	is(r.status, 404, "v1 has no ping");
	hh_call(&np, &r, "GET", "/v1/", NULL);
	is(r.status, 200, "GET /v1/ home document");
	ok(hh_header(&r, "content-type") != NULL &&
		   strncmp(hh_header(&r, "content-type"),
			   "application/json-home", 21) == 0,
	   "v1 home is application/json-home");
	is_str(hh_header(&r, "cache-control"), "max-age=86400",
	       "v1 home Cache-Control");
	is_str(hh_gets(r.json, "resources.rel/queues.href-template"),
	       "/v1/queues{?marker,limit,detailed}", "v1 home rel/queues");
	ok(hh_get(r.json, "resources.rel/queue") != NULL &&
		   hh_get(r.json, "resources.rel/messages") != NULL &&
		   hh_get(r.json, "resources.rel/claim") != NULL,
	   "v1 home has queue, messages and claim relations");
	np.client_id = "not-a-uuid";
	hh_call(&np, &r, "GET", "/v1/queues", NULL);
	expect_error(&r, 400, "Wrong UUID value", "Malformed hexadecimal UUID.",
		     "v1: a Client-ID, when present, must be a UUID");
	np.client_id = NULL;
	np.project = "";
	hh_call(&np, &r, "GET", "/v1/queues", NULL);
	expect_error(&r, 400, "Empty project header not allowed",
		     "X-PROJECT-ID cannot be an empty string. Specify the right "
		     "header X-PROJECT-ID and retry.",
		     "v1: an empty X-Project-Id");
	hh_client_close(&np);
}

int main(void)
{
	hh_start(&srv, NULL);
	hh_client_init(&c, &srv, HH_CLIENT_A, "projV1");
	hh_client_init(&cb, &srv, HH_CLIENT_B, "projV1");

	seed_walkthrough();
	queues();
	messages();
	misc();

	hh_resp_free(&r);
	hh_client_close(&c);
	hh_client_close(&cb);
	return hh_finish(&srv);
}
