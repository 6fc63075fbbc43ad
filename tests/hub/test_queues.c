/*
 * test_queues.c - queues of API v2 and v1.1 (zaqar-api.md §6.1-§6.4, §8):
 * list with paging and next links, PUT 201/204, GET with the reserved
 * defaults, PATCH (JSON patch, 415, 409), DELETE, stats through post,
 * claim and delete, purge; and projects keeping queues apart.
 */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

#define PATCH_TYPE                                                             \
	"Content-Type: application/openstack-messaging-v2.0-json-patch\r\n"
#define DEFAULTS                                                               \
	"\"_max_messages_post_size\": 262144, \"_default_message_ttl\": 3600, " \
	"\"_default_message_delay\": 0, \"_dead_letter_queue\": null, "        \
	"\"_dead_letter_queue_messages_ttl\": null, \"_max_claim_count\": "    \
	"null, \"_enable_encrypt_messages\": false"

static struct hh_server srv;
static struct hh_client c;
static struct hh_resp r = HH_RESP_INIT;

static void create_and_get(void)
{
	hh_call(&c, &r, "GET", "/v2/queues", NULL);
	is(r.status, 200, "list of no queues is 200");
	ok(hh_json_eq(&r, "{\"queues\": [], \"links\": []}"),
	   "list of no queues is empty with no links");

	hh_call(&c, &r, "PUT", "/v2/queues/q1", "");
	is(r.status, 201, "PUT q1 without body creates it");
	is_str(hh_header(&r, "location"), "/v2/queues/q1", "PUT answers Location");
	is(r.body_len, 0, "PUT 201 has an empty body");
	hh_call(&c, &r, "PUT", "/v2/queues/q1", "");
	is(r.status, 204, "PUT q1 again is 204");
	is_str(hh_header(&r, "location"), "/v2/queues/q1",
	       "PUT 204 answers Location");
	hh_call(&c, &r, "PUT", "/v2/queues/nocl", NULL);
	ok(r.status == 201 || r.status == 411,
	   "PUT without Content-Length is answered, 201 or 411 (got %d)",
	   r.status);
	ok(r.status == 201 || json_is_string(hh_get(r.json, "title")),
	   "a 411 has a JSON error body");
	hh_call(&c, &r, "DELETE", "/v2/queues/nocl", NULL);
	hh_call(&c, &r, "PUT", "/v2/queues/q2",
		"{\"color\": \"red\", \"_default_message_ttl\": 120}");
	is(r.status, 201, "PUT q2 with metadata");
	hh_call(&c, &r, "PUT", "/v2/queues/q2", "{\"color\": \"green\"}");
	is(r.status, 204, "PUT existing q2 with other metadata is 204");

	hh_call(&c, &r, "GET", "/v2/queues/q1", NULL);
	is(r.status, 200, "GET q1");
	ok(hh_json_eq(&r, "{" DEFAULTS "}"),
	   "GET q1 is the reserved defaults");
	hh_call(&c, &r, "GET", "/v2/queues/q2", NULL);
	ok(hh_json_eq(&r, "{\"color\": \"red\", \"_max_messages_post_size\": 262144,"
			  " \"_default_message_ttl\": 120, \"_default_message_delay\": 0,"
			  " \"_dead_letter_queue\": null, \"_dead_letter_queue_messages_ttl\": null,"
			  " \"_max_claim_count\": null, \"_enable_encrypt_messages\": false}"),
	   "GET q2: stored metadata (not updated by the second PUT) with defaults");
	hh_call(&c, &r, "GET", "/v2/queues/nosuch", NULL);
	is(r.status, 200, "GET a missing queue is 200");
	ok(hh_json_eq(&r, "{" DEFAULTS "}"), "GET a missing queue: defaults");
	hh_call(&c, &r, "HEAD", "/v2/queues/q1", NULL);
	ok(r.status == 200 || r.status == 405,
	   "HEAD a queue is answered (got %d)", r.status);
	is(r.body_len, 0, "HEAD has no body");

	hh_call(&c, &r, "PUT", "/v2/queues/a.b-c_D9", "");
	is(r.status, 201, "a name with . - _ and digits is valid");
	hh_call(&c, &r, "DELETE", "/v2/queues/a.b-c_D9", NULL);
	hh_call(&c, &r, "PUT", "/v2/queues/bad%20name", "");
	expect_error(&r, 400, "Invalid queue identification",
		     "The format of the submitted queue name or project id is "
		     "not valid.",
		     "a name with a space");
	hh_call(&c, &r, "PUT", "/v2/queues/bad!name", "");
	expect_error(&r, 400, "Invalid queue identification",
		     "The format of the submitted queue name or project id is "
		     "not valid.",
		     "a name with !");
	hh_call(&c, &r, "PUT",
		"/v2/queues/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "");
	expect_error(&r, 400, "Invalid queue identification",
		     "The format of the submitted queue name or project id is "
		     "not valid.",
		     "a 65-character name");
	hh_call(&c, &r, "PUT",
		"/v2/queues/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "");
	is(r.status, 201, "a 64-character name is valid");
	hh_call(&c, &r, "DELETE",
		"/v2/queues/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		NULL);
	is(r.status, 204, "DELETE it");

	hh_call(&c, &r, "PUT", "/v2/queues/bad1", "{\"_default_message_ttl\": \"x\"}");
	expect_error(&r, 400, "Invalid API request",
		     "_default_message_ttl must be integer.",
		     "PUT with a string _default_message_ttl");
	hh_call(&c, &r, "PUT", "/v2/queues/bad1", "{\"_default_message_ttl\": 59}");
	expect_error(&r, 400, "Invalid API request",
		     "_default_message_ttl can not exceed 1209600 seconds, and "
		     "must be at least 60 seconds long.",
		     "PUT with _default_message_ttl 59");
	hh_call(&c, &r, "PUT", "/v2/queues/bad1",
		"{\"_max_messages_post_size\": 262145}");
	expect_error(&r, 400, "Invalid API request",
		     "_max_messages_post_size can not exceed 262144,  and must "
		     "be at least greater than 0.",
		     "PUT with _max_messages_post_size too big");
	hh_call(&c, &r, "PUT", "/v2/queues/bad1",
		"{\"_default_message_delay\": 901}");
	expect_error(&r, 400, "Invalid API request",
		     "The TTL can not exceed 900 seconds, and must be at least 0 "
		     "seconds long.",
		     "PUT with _default_message_delay 901");
	hh_call(&c, &r, "PUT", "/v2/queues/bad1",
		"{\"_enable_encrypt_messages\": \"yes\"}");
	expect_error(&r, 400, "Invalid API request",
		     "_enable_encrypt_messages must be boolean.",
		     "PUT with a string _enable_encrypt_messages");
	hh_call(&c, &r, "PUT", "/v2/queues/bad1", "[1]");
	expect_error(&r, 400, "Invalid request body",
		     "Document type not supported.", "PUT with an array body");
	hh_call(&c, &r, "PUT", "/v2/queues/bad1", "{\"a\": ");
	expect_error(&r, 400, "Invalid request body",
		     "Request body could not be parsed.", "PUT with bad JSON");
	{
		size_t n = 70000;
		char *big = malloc(n + 1);

		memset(big, ' ', n);
		memcpy(big, "{\"k\": \"", 7);
		memset(big + 7, 'x', n - 10);
		memcpy(big + n - 3, "\"} ", 3);
		big[n] = '\0';
		hh_call(&c, &r, "PUT", "/v2/queues/bad1", big);
		expect_error(&r, 400, "Invalid API request",
			     "Queue metadata is too large. Max size: 65536",
			     "PUT with 70000 bytes of metadata");
		free(big);
	}
	hh_call(&c, &r, "GET", "/v2/queues", NULL);
	ok(strstr(r.body, "bad1") == NULL, "rejected PUTs created no queue");
}

static void listing(void)
{
	char seen[64][8];
	int n = 0;
	char next[1024] = "/v2/queues";
	bool sorted = true;

	hh_call(&c, &r, "GET", "/v2/queues?limit=1", NULL);
	ok(hh_json_eq(&r, "{\"queues\": [{\"name\": \"q1\", \"href\": \"/v2/queues/q1\"}],"
			  " \"links\": [{\"rel\": \"next\", \"href\": \"/v2/queues?limit=1&marker=q1\"}]}"),
	   "list limit=1: q1 and a next link");
	hh_call(&c, &r, "GET", "/v2/queues?limit=1&marker=q1", NULL);
	ok(hh_json_eq(&r, "{\"queues\": [{\"name\": \"q2\", \"href\": \"/v2/queues/q2\"}],"
			  " \"links\": [{\"rel\": \"next\", \"href\": \"/v2/queues?marker=q2&limit=1\"}]}"),
	   "list after marker q1: q2 (Zaqar puts a marker that was sent first)");
	hh_call(&c, &r, "GET", "/v2/queues?marker=q2", NULL);
	ok(hh_json_eq(&r, "{\"queues\": [], \"links\": []}"),
	   "list after the last queue is empty, no links");
	hh_call(&c, &r, "GET", "/v2/queues?detailed=true&with_count=true", NULL);
	ok(hh_json_eq(&r, "{\"queues\": ["
			  "{\"name\": \"q1\", \"metadata\": {" DEFAULTS "}, \"href\": \"/v2/queues/q1\"},"
			  "{\"name\": \"q2\", \"metadata\": {\"color\": \"red\", \"_max_messages_post_size\": 262144,"
			  " \"_default_message_ttl\": 120, \"_default_message_delay\": 0,"
			  " \"_dead_letter_queue\": null, \"_dead_letter_queue_messages_ttl\": null,"
			  " \"_max_claim_count\": null, \"_enable_encrypt_messages\": false},"
			  " \"href\": \"/v2/queues/q2\"}],"
			  " \"links\": [{\"rel\": \"next\", \"href\": \"/v2/queues?detailed=true&with_count=true&marker=q2\"}],"
			  " \"count\": 2}"),
	   "list detailed with count");
	hh_call(&c, &r, "GET", "/v2/queues?limit=0", NULL);
	expect_error(&r, 400, "Invalid API request",
		     "Limit must be at least 1 and no greater than 20.",
		     "list limit=0");
	hh_call(&c, &r, "GET", "/v2/queues?limit=21", NULL);
	expect_error(&r, 400, "Invalid API request",
		     "Limit must be at least 1 and no greater than 20.",
		     "list limit=21");
	hh_call(&c, &r, "GET", "/v2/queues?limit=abc", NULL);
	expect_error(&r, 400, "Invalid parameter",
		     "The \"limit\" parameter is invalid. The value must be an "
		     "integer.",
		     "list limit=abc");
	hh_call(&c, &r, "GET", "/v2/queues?detailed=maybe", NULL);
	expect_4xx(&r, 400, "list detailed=maybe");

	/* 23 more queues: walk all 25 by following next links. */
	for (int i = 0; i < 23; i++) {
		hh_call(&c, &r, "PUT", hh_fmt("/v2/queues/p%02d", i), "");
		if (r.status != 201)
			break;
	}
	is(r.status, 201, "23 more queues created");
	for (int page = 0; page < 10; page++) {
		json_t *q;
		size_t i;

		hh_call(&c, &r, "GET", next, NULL);
		if (r.status != 200 || hh_len(r.json, "queues") <= 0)
			break;
		json_array_foreach(hh_get(r.json, "queues"), i, q)
		{
			if (n < 64)
				hh_copy(seen[n], sizeof(seen[0]),
					hh_gets(q, "name"));
			if (n > 0 && n < 64 && strcmp(seen[n - 1], seen[n]) >= 0)
				sorted = false;
			n++;
		}
		if (page == 0)
			is(hh_len(r.json, "queues"), 10,
			   "default page size is 10");
		hh_copy(next, sizeof(next), hh_gets(r.json, "links.0.href"));
	}
	is(n, 25, "following next links lists all 25 queues once");
	ok(sorted, "queues come sorted by name, without repeats");
	hh_call(&c, &r, "GET", "/v2/queues?with_count=true&limit=20", NULL);
	is(hh_geti(r.json, "count"), 25, "with_count counts all queues");
	is(hh_len(r.json, "queues"), 20, "limit=20 gives 20");
	for (int i = 0; i < 23; i++)
		hh_call(&c, &r, "DELETE", hh_fmt("/v2/queues/p%02d", i), NULL);
	hh_call(&c, &r, "GET", "/v2/queues?with_count=true", NULL);
	is(hh_len(r.json, "queues"), 2, "deleted queues are no longer listed");
}

static void patch(void)
{
	hh_call(&c, &r, "PUT", "/v2/queues/pq", "{\"_default_message_ttl\": 300}");
	hh_callh(&c, &r, "PATCH", "/v2/queues/pq", PATCH_TYPE,
		 "[{\"op\": \"add\", \"path\": \"/metadata/a\", \"value\": 1},"
		 " {\"op\": \"add\", \"path\": \"/metadata/b\", \"value\": 2},"
		 " {\"op\": \"replace\", \"path\": \"/metadata/a\", \"value\": 10}]");
	is(r.status, 200, "PATCH add+add+replace");
	ok(hh_json_eq(&r, "{\"a\": 10, \"b\": 2, \"_default_message_ttl\": 300,"
			  " \"_max_messages_post_size\": 262144, \"_default_message_delay\": 0,"
			  " \"_dead_letter_queue\": null, \"_dead_letter_queue_messages_ttl\": null,"
			  " \"_max_claim_count\": null, \"_enable_encrypt_messages\": false}"),
	   "PATCH answers the whole metadata with defaults");
	hh_callh(&c, &r, "PATCH", "/v2/queues/pq", PATCH_TYPE,
		 "[{\"op\": \"remove\", \"path\": \"/metadata/b\"}]");
	is(r.status, 200, "PATCH remove");
	ok(hh_get(r.json, "b") == NULL && hh_geti(r.json, "a") == 10,
	   "PATCH remove removed b only");
	hh_call(&c, &r, "GET", "/v2/queues/pq", NULL);
	ok(hh_get(r.json, "b") == NULL && hh_geti(r.json, "a") == 10,
	   "GET after PATCH shows the change");
	hh_callh(&c, &r, "PATCH", "/v2/queues/pq", PATCH_TYPE,
		 "[{\"op\": \"replace\", \"path\": \"/metadata/zzz\", \"value\": 1}]");
	expect_error(&r, 409, "Resource conflict",
		     "Can't replace non-existent object zzz.",
		     "PATCH replace an absent key");
	hh_callh(&c, &r, "PATCH", "/v2/queues/pq", PATCH_TYPE,
		 "[{\"op\": \"remove\", \"path\": \"/metadata/zzz\"}]");
	expect_error(&r, 409, "Resource conflict",
		     "Can't remove non-existent object zzz.",
		     "PATCH remove an absent key");
	hh_callh(&c, &r, "PATCH", "/v2/queues/pq", PATCH_TYPE,
		 "[{\"op\": \"replace\", \"path\": \"/metadata/_max_claim_count\", \"value\": 3}]");
	is(r.status, 200, "PATCH replace an absent reserved key is allowed");
	hh_callh(&c, &r, "PATCH", "/v2/queues/pq", PATCH_TYPE,
		 "[{\"op\": \"remove\", \"path\": \"/metadata/_dead_letter_queue\"}]");
	is(r.status, 200, "PATCH remove an absent reserved key is a no-op");
	hh_call(&c, &r, "PATCH", "/v2/queues/pq",
		"[{\"op\": \"add\", \"path\": \"/metadata/c\", \"value\": 1}]");
	expect_error(&r, 415, "Accepted media type for PATCH: {'Accept-Patch': "
			      "'application/openstack-messaging-v2.0-json-patch'}.",
		     NULL, "PATCH with Content-Type application/json");
	hh_callh(&c, &r, "PATCH", "/v2/queues/pq", PATCH_TYPE,
		 "[{\"op\": \"move\", \"path\": \"/metadata/a\"}]");
	expect_error(&r, 400, "Invalid request body",
		     "Invalid operation: `move`. It must be one of the "
		     "following: add, remove, replace.",
		     "PATCH op move");
	hh_callh(&c, &r, "PATCH", "/v2/queues/pq", PATCH_TYPE,
		 "[{\"op\": \"add\", \"path\": \"/meta/a\", \"value\": 1}]");
	expect_error(&r, 400, "Invalid request body",
		     "The root of path must be metadata, e.g /metadata/key.",
		     "PATCH path root not metadata");
	hh_callh(&c, &r, "PATCH", "/v2/queues/pq", PATCH_TYPE,
		 "[{\"op\": \"add\", \"path\": \"/metadata/b/c\", \"value\": 1}]");
	expect_error(&r, 400, "Invalid request body",
		     "Invalid JSON pointer for this resource: '/metadata/b/c, "
		     "e.g /metadata/key'",
		     "PATCH path too deep");
	hh_callh(&c, &r, "PATCH", "/v2/queues/pq", PATCH_TYPE,
		 "[{\"op\": \"add\", \"path\": \"/metadata/x\"}]");
	expect_error(&r, 400, "Invalid request body",
		     "Operation \"add\" requires a member named \"value\".",
		     "PATCH add without value");
	hh_callh(&c, &r, "PATCH", "/v2/queues/pq", PATCH_TYPE,
		 "[{\"op\": \"add\", \"path\": \"/metadata/_default_message_ttl\", \"value\": 99999999}]");
	expect_error(&r, 400, "Invalid request body",
		     "_default_message_ttl can not exceed 1209600 seconds, and "
		     "must be at least 60 seconds long.",
		     "PATCH an invalid reserved value");
	hh_callh(&c, &r, "PATCH", "/v2/queues/pq", PATCH_TYPE,
		 "{\"op\": \"add\"}");
	expect_4xx(&r, 400, "PATCH with an object instead of a list");
	hh_callh(&c, &r, "PATCH", "/v2/queues/pq", PATCH_TYPE, "[1, 2]");
	expect_4xx(&r, 400, "PATCH with a list of numbers");
	hh_callh(&c, &r, "PATCH", "/v2/queues/pq", PATCH_TYPE, "");
	expect_error(&r, 400, "Invalid request body",
		     "PATCH body could not be empty for update.",
		     "PATCH with an empty body");
	hh_callh(&c, &r, "PATCH", "/v2/queues/nosuch", PATCH_TYPE,
		 "[{\"op\": \"add\", \"path\": \"/metadata/a\", \"value\": 1}]");
	expect_error(&r, 404, "Not found",
		     "Queue nosuch does not exist for project projA",
		     "PATCH a missing queue");
	hh_call(&c, &r, "GET", "/v2/queues/pq", NULL);
	is(hh_geti(r.json, "_default_message_ttl"), 300,
	   "rejected PATCHes changed nothing");
	hh_callh(&c, &r, "PATCH", "/v2/queues/pq", PATCH_TYPE,
		 "[{\"op\": \"add\", \"path\": \"/metadata/~1s~0t\", \"value\": true}]");
	is(r.status, 200, "PATCH with escaped pointer");
	ok(json_is_true(json_object_get(r.json, "/s~t")),
	   "~1 and ~0 are decoded in the key");
}

static uint64_t created_ms;

static void stats(void)
{
	char ids[3][128], cid[128];
	struct hh_client other;

	hh_client_init(&other, &srv, HH_CLIENT_B, "projA");
	hh_call(&c, &r, "GET", "/v2/queues/sq/stats", NULL);
	is(r.status, 200, "stats of a missing queue is 200");
	ok(hh_json_eq(&r, "{\"messages\": {\"claimed\": 0, \"free\": 0, \"total\": 0}}"),
	   "stats of a missing queue are zeros");
	created_ms = srv.now_ms;
	hh_call(&c, &r, "POST", "/v2/queues/sq/messages",
		"{\"messages\": [{\"body\": 1, \"ttl\": 300}, {\"body\": 2},"
		" {\"body\": 3, \"ttl\": 600}]}");
	is(r.status, 201, "post 3 to sq");
	for (int i = 0; i < 3; i++)
		hh_copy(ids[i], sizeof(ids[i]),
			hh_href_id(hh_gets(r.json, hh_fmt("resources.%d", i))));
	hh_clock_advance(&srv, 7000);
	hh_call(&c, &r, "GET", "/v2/queues/sq/stats", NULL);
	ok(hh_json_eq(&r, hh_fmt(
		"{\"messages\": {\"claimed\": 0, \"free\": 3, \"total\": 3,"
		" \"oldest\": {\"age\": 7, \"created\": \"%s\", \"href\": \"/v2/queues/sq/messages/%s\"},"
		" \"newest\": {\"age\": 7, \"created\": \"%s\", \"href\": \"/v2/queues/sq/messages/%s\"}}}",
		hh_time(created_ms), ids[0], hh_time(created_ms), ids[2])),
	   "stats after posting 3: exact, oldest and newest {age, created, href}");

	hh_call(&other, &r, "POST", "/v2/queues/sq/claims?limit=2",
		"{\"ttl\": 60, \"grace\": 60}");
	is(r.status, 201, "claim 2 of sq");
	hh_copy(cid, sizeof(cid), hh_href_claim(hh_gets(r.json, "messages.0.href")));
	hh_call(&c, &r, "GET", "/v2/queues/sq/stats", NULL);
	is(hh_geti(r.json, "messages.claimed"), 2, "stats: 2 claimed");
	is(hh_geti(r.json, "messages.free"), 1, "stats: 1 free");
	is(hh_geti(r.json, "messages.total"), 3, "stats: 3 in all");

	hh_call(&other, &r, "DELETE",
		hh_fmt("/v2/queues/sq/messages/%s?claim_id=%s", ids[0], cid), NULL);
	is(r.status, 204, "delete a claimed message with its claim");
	hh_call(&c, &r, "GET", "/v2/queues/sq/stats", NULL);
	is(hh_geti(r.json, "messages.claimed"), 1, "stats after delete: 1 claimed");
	is(hh_geti(r.json, "messages.free"), 1, "stats after delete: 1 free");
	is(hh_geti(r.json, "messages.total"), 2, "stats after delete: 2 in all");
	is_str(hh_gets(r.json, "messages.oldest.href"),
	       hh_fmt("/v2/queues/sq/messages/%s", ids[1]),
	       "stats after delete: oldest is the second message");

	hh_call(&other, &r, "DELETE", hh_fmt("/v2/queues/sq/claims/%s", cid), NULL);
	is(r.status, 204, "release the claim");
	hh_call(&c, &r, "GET", "/v2/queues/sq/stats", NULL);
	is(hh_geti(r.json, "messages.claimed"), 0, "stats after release: 0 claimed");
	is(hh_geti(r.json, "messages.free"), 2, "stats after release: 2 free");

	hh_call(&c, &r, "DELETE", hh_fmt("/v2/queues/sq/messages?ids=%s,%s", ids[1], ids[2]), NULL);
	is(r.status, 204, "bulk delete the rest");
	hh_call(&c, &r, "GET", "/v2/queues/sq/stats", NULL);
	ok(hh_json_eq(&r, "{\"messages\": {\"claimed\": 0, \"free\": 0, \"total\": 0}}"),
	   "stats of an emptied queue are zeros without oldest/newest");
	hh_client_close(&other);
}

static void purge_and_delete(void)
{
	hh_call(&c, &r, "POST", "/v2/queues/pg/messages",
		"{\"messages\": [{\"body\": 1}, {\"body\": 2}]}");
	is(r.status, 201, "post 2 to pg");
	hh_call(&c, &r, "POST", "/v2/queues/pg/purge", "");
	is(r.status, 204, "purge without body");
	hh_call(&c, &r, "GET", "/v2/queues/pg/stats", NULL);
	is(hh_geti(r.json, "messages.total"), 0, "purge removed the messages");
	hh_call(&c, &r, "GET", "/v2/queues/pg", NULL);
	is(r.status, 200, "the purged queue is still there");
	hh_call(&c, &r, "POST", "/v2/queues/pg/messages",
		"{\"messages\": [{\"body\": 1}]}");
	hh_call(&c, &r, "POST", "/v2/queues/pg/purge",
		"{\"resource_types\": [\"messages\"]}");
	is(r.status, 204, "purge messages only");
	hh_call(&c, &r, "GET", "/v2/queues/pg/stats", NULL);
	is(hh_geti(r.json, "messages.total"), 0, "purge of messages emptied it");
	hh_call(&c, &r, "POST", "/v2/queues/pg/purge",
		"{\"resource_types\": [\"bogus\"]}");
	expect_4xx(&r, 400, "purge with an unknown resource type");
	hh_call(&c, &r, "POST", "/v2/queues/pg/purge", "{}");
	expect_error(&r, 400, "Invalid API request",
		     "Post body must contain key \"resource_types\".",
		     "purge with a body without resource_types");
	hh_call(&c, &r, "POST", "/v2/queues/nosuch/purge", "");
	is(r.status, 204, "purge of a missing queue is 204");

	hh_call(&c, &r, "POST", "/v2/queues/dq/messages",
		"{\"messages\": [{\"body\": \"old\"}]}");
	hh_call(&c, &r, "DELETE", "/v2/queues/dq", NULL);
	is(r.status, 204, "DELETE queue");
	hh_call(&c, &r, "DELETE", "/v2/queues/dq", NULL);
	is(r.status, 204, "DELETE queue again is 204");
	hh_call(&c, &r, "DELETE", "/v2/queues/neverwas", NULL);
	is(r.status, 204, "DELETE a missing queue is 204");
	hh_call(&c, &r, "GET", "/v2/queues/dq/stats", NULL);
	is(hh_geti(r.json, "messages.total"), 0, "a deleted queue's messages are gone");
	hh_call(&c, &r, "GET", "/v2/queues/dq/messages?echo=true", NULL);
	ok(hh_json_eq(&r, "{\"messages\": [], \"links\": []}"),
	   "listing a deleted queue is empty");
	hh_call(&c, &r, "POST", "/v2/queues/dq/messages",
		"{\"messages\": [{\"body\": \"new\"}]}");
	hh_call(&c, &r, "GET", "/v2/queues/dq/messages?echo=true", NULL);
	is(hh_len(r.json, "messages"), 1, "a recreated queue holds only new messages");
	is_str(hh_gets(r.json, "messages.0.body"), "new", "the new message");
	hh_call(&c, &r, "DELETE", "/v2/queues/dq", NULL);
}

static void projects(void)
{
	struct hh_client b;

	hh_client_init(&b, &srv, HH_CLIENT_A, "projB");
	hh_call(&b, &r, "GET", "/v2/queues", NULL);
	ok(hh_json_eq(&r, "{\"queues\": [], \"links\": []}"),
	   "another project sees none of projA's queues");
	hh_call(&b, &r, "GET", "/v2/queues/q2", NULL);
	ok(hh_json_eq(&r, "{" DEFAULTS "}"),
	   "another project's q2 is a different queue");
	hh_call(&c, &r, "POST", "/v2/queues/shared/messages",
		"{\"messages\": [{\"body\": \"A\"}]}");
	hh_call(&b, &r, "POST", "/v2/queues/shared/messages",
		"{\"messages\": [{\"body\": \"B1\"}, {\"body\": \"B2\"}]}");
	hh_call(&c, &r, "GET", "/v2/queues/shared/messages?echo=true", NULL);
	ok(hh_len(r.json, "messages") == 1 &&
		   hh_gets(r.json, "messages.0.body") != NULL &&
		   strcmp(hh_gets(r.json, "messages.0.body"), "A") == 0,
	   "projA sees only its own message in 'shared'");
	hh_call(&b, &r, "GET", "/v2/queues/shared/stats", NULL);
	is(hh_geti(r.json, "messages.total"), 2, "projB's 'shared' has 2");
	hh_call(&b, &r, "DELETE", "/v2/queues/shared", NULL);
	hh_call(&c, &r, "GET", "/v2/queues/shared/stats", NULL);
	is(hh_geti(r.json, "messages.total"), 1,
	   "deleting projB's queue leaves projA's");
	hh_call(&b, &r, "PUT", "/v2/queues/onlyb", "");
	hh_call(&c, &r, "GET", "/v2/queues?limit=20", NULL);
	ok(strstr(r.body, "onlyb") == NULL, "projA does not list projB's queue");
	b.project = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	hh_call(&b, &r, "PUT", "/v2/queues/q", "");
	expect_error(&r, 400, "Invalid queue identification",
		     "The format of the submitted queue name or project id is "
		     "not valid.",
		     "a 257-character project id");
	hh_client_close(&b);
}

static void v1_1(void)
{
	struct hh_client d;

	hh_client_init(&d, &srv, HH_CLIENT_A, "proj11");
	hh_call(&d, &r, "GET", "/v1.1/queues", NULL);
	ok(hh_json_eq(&r, "{\"queues\": [], \"links\": []}"),
	   "v1.1 list of no queues");
	hh_call(&d, &r, "PUT", "/v1.1/queues/q11", "{\"k\": \"v\"}");
	is(r.status, 201, "v1.1 PUT with metadata");
	is_str(hh_header(&r, "location"), "/v1.1/queues/q11",
	       "v1.1 PUT answers Location");
	hh_call(&d, &r, "PUT", "/v1.1/queues/q11", "");
	is(r.status, 204, "v1.1 PUT existing queue");
	hh_call(&d, &r, "GET", "/v1.1/queues/q11", NULL);
	ok(hh_json_eq(&r, "{\"k\": \"v\"}"),
	   "v1.1 GET queue is the stored metadata, no defaults");
	hh_call(&d, &r, "GET", "/v1.1/queues/nosuch", NULL);
	is(r.status, 200, "v1.1 GET missing queue is 200");
	ok(hh_json_eq(&r, "{}"), "v1.1 GET missing queue is {}");
	hh_call(&d, &r, "PUT", "/v1.1/queues/bad11",
		"{\"_default_message_ttl\": \"x\"}");
	expect_error(&r, 400, "Invalid API request",
		     "_default_message_ttl must be integer.",
		     "v1.1 PUT validates reserved metadata");
	hh_callh(&d, &r, "PATCH", "/v1.1/queues/q11", PATCH_TYPE,
		 "[{\"op\": \"add\", \"path\": \"/metadata/a\", \"value\": 1}]");
	expect_error(&r, 405, "405 Method Not Allowed", NULL,
		     "v1.1 has no queue PATCH");
	ok(hh_header_has(&r, "allow", "GET") && hh_header_has(&r, "allow", "PUT") &&
		   hh_header_has(&r, "allow", "DELETE") &&
		   !hh_header_has(&r, "allow", "PATCH"),
	   "v1.1 queue Allow: GET, PUT, DELETE (got %s)",
	   hh_header(&r, "allow") ? hh_header(&r, "allow") : "none");
	hh_call(&d, &r, "GET", "/v1.1/queues?limit=1", NULL);
	ok(hh_json_eq(&r, "{\"queues\": [{\"name\": \"q11\", \"href\": \"/v1.1/queues/q11\"}],"
			  " \"links\": [{\"rel\": \"next\", \"href\": \"/v1.1/queues?limit=1&marker=q11\"}]}"),
	   "v1.1 list");
	hh_call(&d, &r, "GET", "/v1.1/queues?detailed=true", NULL);
	ok(hh_json_eq(&r,
		      "{\"queues\": [{\"name\": \"q11\", \"metadata\": {\"k\": \"v\"}, \"href\": \"/v1.1/queues/q11\"}],"
		      " \"links\": [{\"rel\": \"next\", \"href\": \"/v1.1/queues?detailed=true&marker=q11\"}]}"),
	   "v1.1 list detailed shows metadata as stored");
	hh_call(&d, &r, "GET", "/v1.1/queues/q11/stats", NULL);
	ok(hh_json_eq(&r, "{\"messages\": {\"claimed\": 0, \"free\": 0, \"total\": 0}}"),
	   "v1.1 stats of an empty queue");
	hh_call(&d, &r, "GET", "/v1.1/queues/nosuch/stats", NULL);
	ok(hh_json_eq(&r, "{\"messages\": {\"claimed\": 0, \"free\": 0, \"total\": 0}}"),
	   "v1.1 stats of a missing queue are zeros");
	hh_call(&d, &r, "POST", "/v1.1/queues/q11/purge", "");
	is(r.status, 404, "v1.1 has no purge");
	hh_call(&d, &r, "DELETE", "/v1.1/queues/q11", NULL);
	is(r.status, 204, "v1.1 DELETE queue");
	hh_call(&d, &r, "GET", "/v1.1/queues", NULL);
	ok(hh_json_eq(&r, "{\"queues\": [], \"links\": []}"),
	   "v1.1 deleted queue is gone");
	hh_client_close(&d);
}

int main(void)
{
	hh_start(&srv, NULL);
	hh_client_init(&c, &srv, HH_CLIENT_A, "projA");

	create_and_get();
	listing();
	patch();
	stats();
	purge_and_delete();
	projects();
	v1_1();

	hh_resp_free(&r);
	hh_client_close(&c);
	return hh_finish(&srv);
}
