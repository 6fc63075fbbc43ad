/*
 * test_messages.c - messages of API v2 and v1.1 (zaqar-api.md §6.5, §7.1,
 * §7.2, §7.4, §8): post, list with marker/limit/echo/include_claimed and
 * next links, get one, get by ids, delete one, bulk delete, pop, the
 * validation of posts (sizes, ttls, shapes), delayed messages and
 * idempotency keys (a Herald extension) and checksums (enable-checksum).
 */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

static struct hh_server srv;
static struct hh_client a;   /* client A, projA: the poster */
static struct hh_client b;   /* client B, projA: another reader */
static struct hh_resp r = HH_RESP_INIT;
static char id[3][128];

#define MSG_FMT "{\"id\": \"%s\", \"href\": \"/v2/queues/q1/messages/%s\", \"ttl\": %d, \"age\": %d, \"body\": %s}"

static const char *msg(int i, int age)
{
	static const int ttl[3] = {300, 3600, 600};
	static const char *body[3] = {"{\"event\": \"one\"}", "\"two\"", "[3]"};

	return hh_fmt(MSG_FMT, id[i], id[i], ttl[i], age, body[i]);
}

static void post(void)
{
	hh_call(&a, &r, "POST", "/v2/queues/q1/messages",
		"{\"messages\": [{\"ttl\": 300, \"body\": {\"event\": \"one\"}},"
		" {\"body\": \"two\", \"unknown\": 1},"
		" {\"ttl\": 600, \"body\": [3]}]}");
	is(r.status, 201, "post 3 messages");
	ok(hh_keys_are(r.json, "resources"), "v2 post body is {resources}: %s",
	   r.body);
	is(hh_len(r.json, "resources"), 3, "three resources");
	for (int i = 0; i < 3; i++) {
		const char *href = hh_gets(r.json, hh_fmt("resources.%d", i));

		hh_copy(id[i], sizeof(id[i]), hh_href_id(href));
		is_str(href, hh_fmt("/v2/queues/q1/messages/%s", id[i]),
		       "resource %d is the message's path", i);
		ok(id[i][0] != '\0' && strspn(id[i], "abcdefghijklmnopqrstuvwxyz"
						"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
						"0123456789-_.~") == strlen(id[i]),
		   "id %d is URL-safe: %s", i, id[i]);
	}
	is_str(hh_header(&r, "location"),
	       hh_fmt("/v2/queues/q1/messages?ids=%s,%s,%s", id[0], id[1], id[2]),
	       "Location lists the ids");
	ok(hh_header(&r, "content-type") != NULL &&
		   strncmp(hh_header(&r, "content-type"), "application/json", 16) == 0,
	   "Content-Type application/json");

	hh_call(&a, &r, "POST", "/v2/queues/q3/messages",
		"{\"messages\": [{\"body\": null}]}");
	is(r.status, 201, "post to a new queue creates it; body null is fine");
	hh_call(&a, &r, "GET", "/v2/queues?limit=20", NULL);
	ok(strstr(r.body, "\"q3\"") != NULL, "the auto-created queue is listed");
	hh_call(&a, &r, "GET", "/v2/queues/q3/messages?echo=true", NULL);
	ok(json_is_null(hh_get(r.json, "messages.0.body")), "a null body reads back null");
	is(hh_geti(r.json, "messages.0.ttl"), 3600, "ttl defaults to 3600");
}

static void list(void)
{
	char next[1024];

	hh_call(&a, &r, "GET", "/v2/queues/q1/messages", NULL);
	is(r.status, 200, "list own messages without echo is 200");
	ok(hh_json_eq(&r, "{\"messages\": [], \"links\": []}"),
	   "own messages are hidden without echo");
	hh_call(&a, &r, "GET", "/v2/queues/q1/messages?echo=true", NULL);
	ok(hh_json_eq(&r, hh_fmt("{\"messages\": [%s, %s, %s], \"links\": [{\"rel\": \"next\","
				 " \"href\": \"/v2/queues/q1/messages?echo=true&include_delayed=true&marker=%s\"}]}",
				 msg(0, 0), msg(1, 0), msg(2, 0), id[2])),
	   "echo=true lists all 3 exactly, in order, with a next link");
	hh_call(&a, &r, "GET", "/v2/queues/q1/messages?echo=True", NULL);
	is(hh_len(r.json, "messages"), 3, "echo=True (as python sends it)");

	hh_call(&b, &r, "GET", "/v2/queues/q1/messages?limit=2", NULL);
	ok(hh_json_eq(&r, hh_fmt("{\"messages\": [%s, %s], \"links\": [{\"rel\": \"next\","
				 " \"href\": \"/v2/queues/q1/messages?limit=2&include_delayed=true&marker=%s\"}]}",
				 msg(0, 0), msg(1, 0), id[1])),
	   "another client, limit=2: the first two and a next link");
	hh_copy(next, sizeof(next), hh_gets(r.json, "links.0.href"));
	hh_clock_advance(&srv, 4000);
	hh_call(&b, &r, "GET", next, NULL);
	ok(hh_json_eq(&r, hh_fmt("{\"messages\": [%s], \"links\": [{\"rel\": \"next\","
				 " \"href\": \"/v2/queues/q1/messages?marker=%s&limit=2&include_delayed=true\"}]}",
				 msg(2, 4), id[2])),
	   "following the next link: the third, age 4, next link");
	hh_copy(next, sizeof(next), hh_gets(r.json, "links.0.href"));
	hh_call(&b, &r, "GET", next, NULL);
	ok(hh_json_eq(&r, "{\"messages\": [], \"links\": []}"),
	   "following it again: an empty page without links");

	hh_call(&b, &r, "GET", hh_fmt("/v2/queues/q1/messages?marker=%s", id[0]), NULL);
	ok(hh_len(r.json, "messages") == 2 &&
		   strcmp(hh_gets(r.json, "messages.0.id") ? hh_gets(r.json, "messages.0.id") : "", id[1]) == 0,
	   "marker = the first id lists what follows it");
	is_str(hh_gets(r.json, "links.0.href"),
	       hh_fmt("/v2/queues/q1/messages?marker=%s&include_delayed=true", id[2]),
	       "the marker is replaced in place in the next link");
	hh_call(&b, &r, "GET", "/v2/queues/q1/messages?marker=", NULL);
	is(hh_len(r.json, "messages"), 3, "a blank marker is as if absent");
	hh_call(&b, &r, "GET", "/v2/queues/q1/messages?marker=bogus", NULL);
	ok(r.status == 200 || r.status == 400,
	   "a bogus marker is 200 or 400, never a crash (got %d)", r.status);

	hh_call(&b, &r, "GET", "/v2/queues/q1/messages?limit=0", NULL);
	expect_error(&r, 400, "Invalid API request",
		     "Limit must be at least 1 and may not be greater than 20.",
		     "list limit=0");
	hh_call(&b, &r, "GET", "/v2/queues/q1/messages?limit=21", NULL);
	expect_error(&r, 400, "Invalid API request",
		     "Limit must be at least 1 and may not be greater than 20.",
		     "list limit=21");
	hh_call(&b, &r, "GET", "/v2/queues/q1/messages?limit=-1", NULL);
	expect_4xx(&r, 400, "list limit=-1");
	hh_call(&b, &r, "GET", "/v2/queues/q1/messages?limit=x", NULL);
	expect_error(&r, 400, "Invalid parameter",
		     "The \"limit\" parameter is invalid. The value must be an "
		     "integer.",
		     "list limit=x");
	hh_call(&b, &r, "GET", "/v2/queues/q1/messages?echo=perhaps", NULL);
	expect_4xx(&r, 400, "list echo=perhaps");
	hh_call(&b, &r, "GET", "/v2/queues/nosuch/messages", NULL);
	ok(hh_json_eq(&r, "{\"messages\": [], \"links\": []}"),
	   "listing a missing queue is an empty 200");

	/* canonical client ids: the dashless form is the same client */
	{
		struct hh_client a2;

		hh_client_init(&a2, &srv, "3f2504e04f8941d39a0c0305e82c3301", "projA");
		hh_call(&a2, &r, "GET", "/v2/queues/q1/messages", NULL);
		is(hh_len(r.json, "messages"), 0,
		   "the dashless form of the poster's id is the same client");
		a2.client_id = "{3F2504E0-4F89-41D3-9A0C-0305E82C3301}";
		hh_call(&a2, &r, "GET", "/v2/queues/q1/messages", NULL);
		is(hh_len(r.json, "messages"), 0,
		   "so is the braced upper-case form");
		hh_client_close(&a2);
	}
}

static void get_one_and_ids(void)
{
	hh_call(&b, &r, "GET", hh_fmt("/v2/queues/q1/messages/%s", id[0]), NULL);
	is(r.status, 200, "GET one message");
	ok(hh_json_eq(&r, msg(0, 4)), "GET one is {id, href, ttl, age, body}");
	hh_call(&a, &r, "GET", hh_fmt("/v2/queues/q1/messages/%s", id[1]), NULL);
	ok(hh_json_eq(&r, msg(1, 4)), "GET one ignores echo: the poster reads its own");
	hh_call(&b, &r, "GET", "/v2/queues/q1/messages/" HH_NO_SUCH_ID, NULL);
	expect_error(&r, 404, "Not found",
		     "Message " HH_NO_SUCH_ID " does not exist in queue q1 for project projA",
		     "GET a missing message");
	hh_call(&b, &r, "GET", "/v2/queues/q1/messages/abc", NULL);
	expect_error(&r, 404, "Not found",
		     "Message abc does not exist in queue q1 for project projA",
		     "GET a message with a malformed id");
	hh_call(&b, &r, "GET", hh_fmt("/v2/queues/nosuch/messages/%s", id[0]), NULL);
	expect_error(&r, 404, "Not found",
		     "Queue nosuch does not exist for project projA",
		     "GET a message of a missing queue");

	hh_call(&a, &r, "GET", hh_fmt("/v2/queues/q1/messages?ids=%s,%s", id[0], id[2]), NULL);
	is(r.status, 200, "GET by ids");
	ok(hh_json_eq(&r, hh_fmt("{\"messages\": [%s, %s]}", msg(0, 4), msg(2, 4))),
	   "GET by ids: exactly those, no links, own messages included");
	hh_call(&a, &r, "GET",
		hh_fmt("/v2/queues/q1/messages?ids=%s&ids=" HH_NO_SUCH_ID, id[1]), NULL);
	ok(hh_json_eq(&r, hh_fmt("{\"messages\": [%s]}", msg(1, 4))),
	   "GET by repeated ids skips the missing one");
	hh_call(&a, &r, "GET", "/v2/queues/q1/messages?ids=" HH_NO_SUCH_ID, NULL);
	expect_error(&r, 404, "Not found",
		     "No messages with IDs: ['" HH_NO_SUCH_ID "'] found in the "
		     "queue q1 for project projA.",
		     "GET by ids when none exists");
	{
		char ids[2048] = "";

		for (int i = 0; i < 21; i++)
			strcat(ids, hh_fmt("%s%s", i ? "," : "", id[0]));
		hh_call(&a, &r, "GET", hh_fmt("/v2/queues/q1/messages?ids=%s", ids), NULL);
		expect_4xx(&r, 400, "GET by 21 ids");
	}
}

static void delete_and_pop(void)
{
	char ids[4][128];

	hh_call(&a, &r, "POST", "/v2/queues/q4/messages",
		"{\"messages\": [{\"body\": 1}, {\"body\": 2}, {\"body\": 3}, {\"body\": 4}]}");
	is(r.status, 201, "post 4 to q4");
	for (int i = 0; i < 4; i++)
		hh_copy(ids[i], sizeof(ids[i]),
			hh_href_id(hh_gets(r.json, hh_fmt("resources.%d", i))));

	hh_call(&a, &r, "DELETE", hh_fmt("/v2/queues/q4/messages/%s", ids[3]), NULL);
	is(r.status, 204, "delete an unclaimed message");
	is(r.body_len, 0, "the 204 has no body");
	hh_call(&a, &r, "DELETE", hh_fmt("/v2/queues/q4/messages/%s", ids[3]), NULL);
	is(r.status, 204, "delete it again: 204");
	hh_call(&a, &r, "GET", hh_fmt("/v2/queues/q4/messages/%s", ids[3]), NULL);
	is(r.status, 404, "the deleted message is gone");
	hh_call(&a, &r, "DELETE", "/v2/queues/nosuch/messages/" HH_NO_SUCH_ID, NULL);
	is(r.status, 204, "delete a message of a missing queue: 204");

	hh_call(&a, &r, "DELETE", "/v2/queues/q4/messages?pop=2", NULL);
	is(r.status, 200, "pop 2");
	is(hh_len(r.json, "messages"), 2, "pop returns 2 messages");
	is_str(hh_gets(r.json, "messages.0.id"), ids[0], "pop takes the oldest first");
	is_str(hh_gets(r.json, "messages.1.id"), ids[1], "then the next");
	is(hh_geti(r.json, "messages.0.body"), 1, "popped body");
	ok(hh_get(r.json, "messages.0.ttl") != NULL && hh_get(r.json, "messages.0.age") != NULL,
	   "popped messages carry ttl and age");
	hh_call(&a, &r, "GET", "/v2/queues/q4/stats", NULL);
	is(hh_geti(r.json, "messages.total"), 1, "one message left after pop");
	hh_call(&a, &r, "DELETE", "/v2/queues/q4/messages?pop=0", NULL);
	expect_error(&r, 400, "Invalid API request",
		     "Pop value must be at least 1 and may not be greater than 20.",
		     "pop=0");
	hh_call(&a, &r, "DELETE", "/v2/queues/q4/messages?pop=21", NULL);
	expect_error(&r, 400, "Invalid API request",
		     "Pop value must be at least 1 and may not be greater than 20.",
		     "pop=21");
	hh_call(&a, &r, "DELETE", hh_fmt("/v2/queues/q4/messages?pop=1&ids=%s", ids[2]), NULL);
	expect_error(&r, 400, "Invalid API request",
		     "pop and id params cannot be present together in the delete "
		     "request.",
		     "pop and ids together");
	hh_call(&a, &r, "DELETE", "/v2/queues/q4/messages", NULL);
	expect_error(&r, 400, "Invalid API request",
		     "The request should have either \"ids\" or \"pop\" parameter "
		     "in the request, to be able to delete.",
		     "bulk delete with neither");
	hh_call(&a, &r, "DELETE", "/v2/queues/nosuch/messages?pop=3", NULL);
	ok(r.status == 200 && hh_json_eq(&r, "{\"messages\": []}"),
	   "pop of a missing queue: 200 {\"messages\": []}");

	{
		char many[4096] = "";

		for (int i = 0; i < 21; i++)
			strcat(many, hh_fmt("%s%s", i ? "," : "", HH_NO_SUCH_ID));
		hh_call(&a, &r, "DELETE", hh_fmt("/v2/queues/q4/messages?ids=%s", many), NULL);
		expect_error(&r, 400, "Invalid API request",
			     "ids parameter should have at least 1 and not greater "
			     "than 20 values.",
			     "bulk delete of 21 ids");
	}
	hh_call(&a, &r, "DELETE",
		hh_fmt("/v2/queues/q4/messages?ids=%s," HH_NO_SUCH_ID, ids[2]), NULL);
	is(r.status, 204, "bulk delete by ids, one of them missing");
	hh_call(&a, &r, "GET", "/v2/queues/q4/stats", NULL);
	ok(hh_json_eq(&r, "{\"messages\": {\"claimed\": 0, \"free\": 0, \"total\": 0}}"),
	   "q4 is empty");
	hh_call(&a, &r, "DELETE", "/v2/queues/q4/messages?pop=5", NULL);
	ok(r.status == 200 && hh_json_eq(&r, "{\"messages\": []}"),
	   "pop of an empty queue: 200 {\"messages\": []}");
}

/* A post body of exactly `len` bytes: one message with a padded string. */
static char *post_of_size(size_t len)
{
	const char *head = "{\"messages\": [{\"ttl\": 300, \"body\": \"";
	const char *tail = "\"}]}";
	char *s = malloc(len + 1);
	size_t h = strlen(head), t = strlen(tail);

	memcpy(s, head, h);
	memset(s + h, 'x', len - h - t);
	memcpy(s + len - t, tail, t);
	s[len] = '\0';
	return s;
}

static void validation(void)
{
	const char *posts[][3] = {
		{"{\"messages\": [{\"ttl\": 59, \"body\": 1}]}", "Invalid API request",
		 "The TTL for a message may not exceed 1209600 seconds, and must be at least 60 seconds long."},
		{"{\"messages\": [{\"ttl\": 1209601, \"body\": 1}]}", "Invalid API request",
		 "The TTL for a message may not exceed 1209600 seconds, and must be at least 60 seconds long."},
		{"{\"messages\": [{\"ttl\": \"60\", \"body\": 1}]}", "Invalid request body",
		 "The value of the \"ttl\" field must be a int."},
		{"{\"messages\": [{\"ttl\": 60}]}", "Invalid request body", "Missing \"body\" field."},
		{"{\"messages\": []}", "Invalid API request", "No messages to enqueu."},
		{"{\"msgs\": [{\"body\": 1}]}", "Invalid API request", "No messages were found in the request body."},
		{"[{\"ttl\": 300, \"body\": 1}]", "Invalid API request", "No messages were found in the request body."},
		{"{\"messages\": [{\"body\": ", "Invalid request body", "Request body could not be parsed."},
		{"", "Invalid request body", "Request body can not be empty"},
	};
	char *big;

	for (size_t i = 0; i < sizeof(posts) / sizeof(posts[0]); i++) {
		hh_call(&a, &r, "POST", "/v2/queues/v/messages", posts[i][0]);
		expect_error(&r, 400, posts[i][1], posts[i][2],
			     hh_fmt("post %s", posts[i][0]));
	}
	hh_call(&a, &r, "POST", "/v2/queues/v/messages", "{\"messages\": [1, 2]}");
	expect_4xx(&r, 400, "post messages that are not objects (Zaqar: 500)");
	hh_call(&a, &r, "POST", "/v2/queues/v/messages", "{\"messages\": {\"body\": 1}}");
	expect_4xx(&r, 400, "post messages as an object");
	hh_call(&a, &r, "POST", "/v2/queues/v/messages",
		"{\"messages\": [{\"body\": 1, \"ttl\": 300, \"delay\": 901}]}");
	is(r.status, 201, "delay is ignored on a queue without _default_message_delay");
	hh_call(&a, &r, "DELETE", "/v2/queues/v", NULL);

	/* all or nothing */
	hh_call(&a, &r, "POST", "/v2/queues/aon/messages",
		"{\"messages\": [{\"body\": \"keep\"}]}");
	hh_call(&a, &r, "POST", "/v2/queues/aon/messages",
		"{\"messages\": [{\"body\": 1}, {\"body\": 2}, {\"body\": 3, \"ttl\": 59}]}");
	is(r.status, 400, "a batch with one bad message is refused");
	hh_call(&a, &r, "POST", "/v2/queues/aon/messages",
		"{\"messages\": [{\"body\": 1}, {\"ttl\": 120}]}");
	is(r.status, 400, "a batch with a message without body is refused");
	hh_call(&a, &r, "GET", "/v2/queues/aon/stats", NULL);
	is(hh_geti(r.json, "messages.total"), 1,
	   "after refused batches the queue has no new message");
	hh_call(&a, &r, "GET", "/v2/queues/aon/messages?echo=true", NULL);
	is(hh_len(r.json, "messages"), 1, "the listing shows only the first post");

	/* sizes: Content-Length of the whole body against 262144 */
	big = post_of_size(262144);
	hh_call(&a, &r, "POST", "/v2/queues/big/messages", big);
	is(r.status, 201, "a post of exactly 262144 bytes is accepted");
	free(big);
	big = post_of_size(262145);
	hh_call(&a, &r, "POST", "/v2/queues/big/messages", big);
	expect_error(&r, 400, "Invalid API request",
		     "Message collection size is too large. Max size 262144",
		     "a post of 262145 bytes");
	free(big);
	big = post_of_size(1000000);
	hh_call(&a, &r, "POST", "/v2/queues/big/messages", big);
	expect_error(&r, 400, "Invalid API request",
		     "Message collection size is too large. Max size 262144",
		     "a post of 1000000 bytes");
	free(big);
	hh_call(&a, &r, "GET", "/v2/queues/big/stats", NULL);
	is(hh_geti(r.json, "messages.total"), 1, "oversize posts stored nothing");
	hh_call(&a, &r, "GET", "/v2/queues/big/messages?echo=true", NULL);
	is(hh_len(r.json, "messages"), 1, "the 262144-byte message reads back");
	ok(hh_gets(r.json, "messages.0.body") != NULL &&
		   strlen(hh_gets(r.json, "messages.0.body")) ==
			   262144 - strlen("{\"messages\": [{\"ttl\": 300, \"body\": \"\"}]}"),
	   "with its whole body");

	hh_call(&a, &r, "PUT", "/v2/queues/qsmall", "{\"_max_messages_post_size\": 100}");
	is(r.status, 201, "queue with _max_messages_post_size 100");
	big = post_of_size(150);
	hh_call(&a, &r, "POST", "/v2/queues/qsmall/messages", big);
	expect_error(&r, 400, "Invalid API request",
		     "Message collection size is too large. The max size for "
		     "current queue is 100. It is calculated by max size = "
		     "min(max_messages_post_size_config: 262144, "
		     "max_messages_post_size_queue: 100).",
		     "a 150-byte post to that queue");
	free(big);
	big = post_of_size(100);
	hh_call(&a, &r, "POST", "/v2/queues/qsmall/messages", big);
	is(r.status, 201, "a 100-byte post to that queue is accepted");
	free(big);

	hh_call(&a, &r, "PUT", "/v2/queues/qttl", "{\"_default_message_ttl\": 120}");
	hh_call(&a, &r, "POST", "/v2/queues/qttl/messages", "{\"messages\": [{\"body\": 1}]}");
	hh_call(&a, &r, "GET", "/v2/queues/qttl/messages?echo=true", NULL);
	is(hh_geti(r.json, "messages.0.ttl"), 120,
	   "ttl defaults to the queue's _default_message_ttl");

	hh_callh(&a, &r, "POST", "/v2/queues/ct/messages",
		 "Content-Type: application/x-www-form-urlencoded\r\n",
		 "{\"messages\": [{\"body\": 1}]}");
	expect_error(&r, 400, "Invalid Content-Type",
		     "Endpoint does not accept `application/x-www-form-urlencoded` "
		     "content; currently supported media type is `application/json`; "
		     "specify proper client-side media type with the \"Content-Type\" header.",
		     "form-urlencoded post");
	hh_callh(&a, &r, "POST", "/v2/queues/ct/messages", "Content-Type: text/plain\r\n",
		 "{\"messages\": [{\"body\": 1}]}");
	is(r.status, 201, "a text/plain post is parsed as JSON");
	hh_callh(&a, &r, "GET", "/v2/queues/ct/messages", "Accept: text/plain\r\n", NULL);
	is(r.status, 406, "Accept: text/plain is 406");
	is(r.body_len, 0, "the 406 has an empty body");
	hh_callh(&a, &r, "GET", "/v2/queues/ct/messages",
		 "Accept: text/html, application/json;q=0.5\r\n", NULL);
	is(r.status, 200, "an Accept that includes application/json is fine");
}

static void delayed(void)
{
	char nodelay[128];

	hh_call(&a, &r, "PUT", "/v2/queues/qd", "{\"_default_message_delay\": 30}");
	is(r.status, 201, "queue with _default_message_delay 30");
	hh_call(&a, &r, "POST", "/v2/queues/qd/messages",
		"{\"messages\": [{\"body\": \"delayed-default\"}]}");
	is(r.status, 201, "post a message with the default delay");
	hh_call(&a, &r, "POST", "/v2/queues/qd/messages",
		"{\"messages\": [{\"body\": \"nodelay\", \"delay\": 0}]}");
	hh_copy(nodelay, sizeof(nodelay), hh_href_id(hh_gets(r.json, "resources.0")));
	hh_call(&a, &r, "POST", "/v2/queues/qd/messages",
		"{\"messages\": [{\"body\": \"x\", \"delay\": 901}]}");
	expect_error(&r, 400, "Invalid API request",
		     "The Delay TTL for a message may not exceed 900 seconds,and "
		     "must be at least 0 seconds long.",
		     "delay 901 on a delay queue");

	hh_call(&b, &r, "GET", "/v2/queues/qd/messages", NULL);
	is(hh_len(r.json, "messages"), 1, "the delayed message is hidden");
	is_str(hh_gets(r.json, "messages.0.body"), "nodelay", "only the other shows");
	is_str(hh_gets(r.json, "links.0.href"),
	       hh_fmt("/v2/queues/qd/messages?marker=%s", nodelay),
	       "a delay queue's next link has no include_delayed");
	hh_call(&b, &r, "GET", "/v2/queues/qd/messages?include_delayed=true", NULL);
	is(hh_len(r.json, "messages"), 2, "include_delayed=true shows both");
	hh_call(&b, &r, "POST", "/v2/queues/qd/claims", "");
	is(r.status, 201, "claim on the delay queue");
	is(hh_len(r.json, "messages"), 1, "the claim skips the delayed message");
	is_str(hh_gets(r.json, "messages.0.body"), "nodelay", "and takes the other");
	hh_clock_advance(&srv, 31000);
	hh_call(&b, &r, "GET", "/v2/queues/qd/messages", NULL);
	is(hh_len(r.json, "messages"), 1, "after 31 s the delayed message shows");
	is_str(hh_gets(r.json, "messages.0.body"), "delayed-default", "it is that one");
}

static void v1_1(void)
{
	struct hh_client d;
	char i0[128], i1[128];

	hh_client_init(&d, &srv, HH_CLIENT_A, "proj11");
	hh_call(&d, &r, "PUT", "/v1.1/queues/q11", "{\"_default_message_ttl\": 120}");
	hh_call(&d, &r, "POST", "/v1.1/queues/q11/messages",
		"{\"messages\": [{\"body\": \"a\"}, {\"ttl\": 120, \"body\": \"b\"}]}");
	is(r.status, 201, "v1.1 post");
	ok(hh_keys_are(r.json, "resources"), "v1.1 post body is {resources}");
	hh_copy(i0, sizeof(i0), hh_href_id(hh_gets(r.json, "resources.0")));
	hh_copy(i1, sizeof(i1), hh_href_id(hh_gets(r.json, "resources.1")));
	is_str(hh_gets(r.json, "resources.0"), hh_fmt("/v1.1/queues/q11/messages/%s", i0),
	       "v1.1 resource path");
	is_str(hh_header(&r, "location"), hh_fmt("/v1.1/queues/q11/messages?ids=%s,%s", i0, i1),
	       "v1.1 post Location");
	hh_call(&d, &r, "GET", "/v1.1/queues/q11/messages?echo=true", NULL);
	ok(hh_json_eq(&r, hh_fmt(
		"{\"messages\": ["
		"{\"id\": \"%s\", \"href\": \"/v1.1/queues/q11/messages/%s\", \"ttl\": 3600, \"age\": 0, \"body\": \"a\"},"
		"{\"id\": \"%s\", \"href\": \"/v1.1/queues/q11/messages/%s\", \"ttl\": 120, \"age\": 0, \"body\": \"b\"}],"
		" \"links\": [{\"rel\": \"next\", \"href\": \"/v1.1/queues/q11/messages?echo=true&marker=%s\"}]}",
		i0, i0, i1, i1, i1)),
	   "v1.1 list: ttl 3600 (queue default not applied), no include_delayed in the link");
	hh_call(&d, &r, "GET", hh_fmt("/v1.1/queues/q11/messages?marker=%s&echo=true", i1), NULL);
	ok(hh_json_eq(&r, "{\"messages\": [], \"links\": []}"), "v1.1 empty page");
	hh_call(&d, &r, "GET", hh_fmt("/v1.1/queues/q11/messages/%s", i0), NULL);
	is_str(hh_gets(r.json, "id"), i0, "v1.1 GET one");
	hh_call(&d, &r, "GET", hh_fmt("/v1.1/queues/q11/messages?ids=%s", i1), NULL);
	is(hh_len(r.json, "messages"), 1, "v1.1 GET by ids");
	hh_call(&d, &r, "GET", "/v1.1/queues/q11/messages?ids=" HH_NO_SUCH_ID, NULL);
	is(r.status, 404, "v1.1 GET by ids none found is 404");
	hh_call(&d, &r, "DELETE", "/v1.1/queues/q11/messages?pop=1", NULL);
	is(r.status, 200, "v1.1 pop");
	is_str(hh_gets(r.json, "messages.0.id"), i0, "v1.1 pop takes the oldest");
	hh_call(&d, &r, "DELETE", hh_fmt("/v1.1/queues/q11/messages?ids=%s", i1), NULL);
	is(r.status, 204, "v1.1 bulk delete");
	hh_call(&d, &r, "POST", "/v1.1/queues/q11/messages", "{\"messages\": [{\"body\": 1}]}");
	hh_copy(i0, sizeof(i0), hh_href_id(hh_gets(r.json, "resources.0")));
	hh_call(&d, &r, "DELETE", hh_fmt("/v1.1/queues/q11/messages/%s", i0), NULL);
	is(r.status, 204, "v1.1 delete one");
	hh_call(&d, &r, "GET", "/v1.1/queues/q11/stats", NULL);
	is(hh_geti(r.json, "messages.total"), 0, "v1.1 queue is empty");
	hh_client_close(&d);
}

/* Herald's idempotency keys (docs/api.md, an extension): a repeat within
 * the queue's window is answered with the original's id, stored once. */
static const char *res_id(int i)
{
	static char buf[4][128];

	hh_copy(buf[i & 3], sizeof(buf[0]),
		hh_href_id(hh_gets(r.json, hh_fmt("resources.%d", i))));
	return buf[i & 3];
}

static void idempotency(void)
{
	char k1[128], k2[128], ra[128], rb[128];
	const char *two = "{\"messages\": [{\"body\": 1, \"idempotency_key\": \"k1\"},"
			  " {\"body\": 2, \"idempotency_key\": \"k2\"}]}";
	char big[300];

	hh_call(&a, &r, "POST", "/v2/queues/iq/messages", two);
	is(r.status, 201, "post 2 messages with keys");
	hh_copy(k1, sizeof(k1), res_id(0));
	hh_copy(k2, sizeof(k2), res_id(1));
	ok(hh_json_eq(&r, hh_fmt("{\"resources\": [\"/v2/queues/iq/messages/%s\", "
				 "\"/v2/queues/iq/messages/%s\"], \"duplicates\": []}",
				 k1, k2)),
	   "a keyed post answers {resources, duplicates: []}: %s", r.body);
	hh_call(&a, &r, "POST", "/v2/queues/iq/messages", two);
	is(r.status, 201, "the same post again is still 201");
	ok(strcmp(res_id(0), k1) == 0 && strcmp(res_id(1), k2) == 0,
	   "with the original ids");
	ok(hh_json_eq(&r, hh_fmt("{\"resources\": [\"/v2/queues/iq/messages/%s\", "
				 "\"/v2/queues/iq/messages/%s\"], \"duplicates\": [0, 1]}",
				 k1, k2)),
	   "and both listed as duplicates: %s", r.body);
	hh_call(&a, &r, "GET", "/v2/queues/iq/messages?echo=true", NULL);
	is(hh_len(r.json, "messages"), 2, "the listing shows one copy of each");

	hh_call(&a, &r, "POST", "/v2/queues/iq/messages",
		"{\"messages\": [{\"body\": 3, \"idempotency_key\": \"k1\"}, {\"body\": 4}]}");
	ok(r.status == 201 && strcmp(res_id(0), k1) == 0 &&
		   strcmp(res_id(1), k1) && strcmp(res_id(1), k2) &&
		   hh_len(r.json, "duplicates") == 1 &&
		   hh_geti(r.json, "duplicates.0") == 0,
	   "a repeat and a new message in one post: %s", r.body);
	hh_call(&a, &r, "GET", "/v2/queues/iq/messages?echo=true", NULL);
	is(hh_len(r.json, "messages"), 3, "only the new one was added");

	hh_call(&a, &r, "POST", "/v2/queues/iq/messages",
		"{\"idempotency_key\": \"req-1\", \"messages\": [{\"body\": \"a\"}, {\"body\": \"b\"}]}");
	is(r.status, 201, "a post with a request key");
	hh_copy(ra, sizeof(ra), res_id(0));
	hh_copy(rb, sizeof(rb), res_id(1));
	ok(strcmp(ra, rb) != 0 && hh_len(r.json, "duplicates") == 0,
	   "its messages are distinct (the key stands for key+index)");
	hh_call(&a, &r, "POST", "/v2/queues/iq/messages",
		"{\"idempotency_key\": \"req-1\", \"messages\": [{\"body\": \"a\"}, {\"body\": \"b\"}]}");
	ok(r.status == 201 && strcmp(res_id(0), ra) == 0 &&
		   strcmp(res_id(1), rb) == 0 && hh_len(r.json, "duplicates") == 2,
	   "the retried request answers the original ids: %s", r.body);
	hh_call(&a, &r, "GET", "/v2/queues/iq/stats", NULL);
	is(hh_geti(r.json, "messages.total"), 5, "5 messages stored in all");
	hh_call(&b, &r, "POST", "/v2/queues/iq2/messages", two);
	ok(r.status == 201 && strcmp(res_id(0), k1) != 0 &&
		   hh_len(r.json, "duplicates") == 0,
	   "the same keys in another queue are new there");

	hh_call(&a, &r, "POST", "/v2/queues/iq/messages",
		"{\"messages\": [{\"body\": 1, \"idempotency_key\": 5}]}");
	ok(r.status == 400 && hh_gets(r.json, "description") &&
		   strstr(hh_gets(r.json, "description"), "idempotency_key"),
	   "a key that is no string: 400 with a JSON error: %s", r.body);
	hh_call(&a, &r, "POST", "/v2/queues/iq/messages",
		"{\"messages\": [{\"body\": 1, \"idempotency_key\": \"\"}]}");
	is(r.status, 400, "an empty key: 400");
	memset(big, 'x', 257);
	big[257] = '\0';
	hh_call(&a, &r, "POST", "/v2/queues/iq/messages",
		hh_fmt("{\"messages\": [{\"body\": 1, \"idempotency_key\": \"%s\"}]}", big));
	is(r.status, 400, "a key of 257 bytes: 400");
	big[256] = '\0';
	hh_call(&a, &r, "POST", "/v2/queues/iq/messages",
		hh_fmt("{\"messages\": [{\"body\": 1, \"idempotency_key\": \"%s\"}]}", big));
	is(r.status, 201, "a key of 256 bytes is fine");
	hh_call(&a, &r, "POST", "/v2/queues/iq/messages",
		"{\"messages\": [{\"body\": 1, \"idempotency_key\": \"a\\u0000b\"}]}");
	is(r.status, 400, "a key with a NUL: 400");
	hh_call(&a, &r, "POST", "/v2/queues/iq/messages",
		"{\"idempotency_key\": [], \"messages\": [{\"body\": 1}]}");
	is(r.status, 400, "a request key that is no string: 400");

	hh_call(&a, &r, "PUT", "/v2/queues/wq", "{\"_idempotency_window\": -1}");
	is(r.status, 400, "_idempotency_window -1: 400");
	hh_call(&a, &r, "PUT", "/v2/queues/wq", "{\"_idempotency_window\": \"10\"}");
	is(r.status, 400, "_idempotency_window a string: 400");
	hh_call(&a, &r, "PUT", "/v2/queues/wq", "{\"_idempotency_window\": 86401}");
	is(r.status, 400, "_idempotency_window past a day: 400");
	hh_call(&a, &r, "PUT", "/v2/queues/wq", "{\"_idempotency_window\": 10}");
	is(r.status, 201, "a queue with a 10 s window");
	hh_call(&a, &r, "PUT", "/v2/queues/offq", "{\"_idempotency_window\": 0}");
	is(r.status, 201, "a queue with keys off");
	hh_call(&a, &r, "POST", "/v2/queues/wq/messages", two);
	hh_copy(k1, sizeof(k1), res_id(0));
	hh_call(&a, &r, "POST", "/v2/queues/offq/messages", two);
	hh_call(&a, &r, "POST", "/v2/queues/offq/messages", two);
	ok(r.status == 201 && !hh_get(r.json, "duplicates"),
	   "with the window 0 keys are ignored: no duplicates field");
	hh_call(&a, &r, "GET", "/v2/queues/offq/stats", NULL);
	is(hh_geti(r.json, "messages.total"), 4, "and every post is stored");
	hh_clock_advance(&srv, 9000);
	hh_call(&a, &r, "POST", "/v2/queues/wq/messages", two);
	ok(strcmp(res_id(0), k1) == 0, "9 s later, a repeat in the 10 s window");
	hh_clock_advance(&srv, 1000);
	hh_call(&a, &r, "POST", "/v2/queues/wq/messages", two);
	ok(r.status == 201 && strcmp(res_id(0), k1) != 0 &&
		   hh_len(r.json, "duplicates") == 0,
	   "10 s later the window passed: stored again");
}

/* The Idempotency-Key header (an extension): the request's key when the
 * body has none; the same key in both is fine, two different ones 400. */
static void idempotency_header(void)
{
	const char *one = "{\"messages\": [{\"body\": \"h1\"}, {\"body\": \"h2\"}]}";
	const char *hk = "Idempotency-Key: hdr-1\r\n";
	char h1[128], h2[128], big[300];

	hh_callh(&a, &r, "POST", "/v2/queues/ih/messages", hk, one);
	ok(r.status == 201 && hh_len(r.json, "duplicates") == 0,
	   "a post with the header: 201, keys in play: %s", r.body);
	hh_copy(h1, sizeof(h1), res_id(0));
	hh_copy(h2, sizeof(h2), res_id(1));
	hh_callh(&a, &r, "POST", "/v2/queues/ih/messages", hk, one);
	ok(r.status == 201 && strcmp(res_id(0), h1) == 0 &&
		   strcmp(res_id(1), h2) == 0 && hh_len(r.json, "duplicates") == 2,
	   "the same post with the same header: the original ids: %s", r.body);
	hh_call(&a, &r, "POST", "/v2/queues/ih/messages",
		"{\"idempotency_key\": \"hdr-1\", \"messages\": [{\"body\": \"h1\"}, "
		"{\"body\": \"h2\"}]}");
	ok(r.status == 201 && strcmp(res_id(0), h1) == 0 &&
		   hh_len(r.json, "duplicates") == 2,
	   "the header's key is the body's request key: %s", r.body);
	hh_callh(&a, &r, "POST", "/v2/queues/ih/messages", hk,
		 "{\"idempotency_key\": \"hdr-1\", \"messages\": [{\"body\": \"h1\"}, "
		 "{\"body\": \"h2\"}]}");
	ok(r.status == 201 && hh_len(r.json, "duplicates") == 2,
	   "the same key in the header and the body: fine");
	hh_callh(&a, &r, "POST", "/v2/queues/ih/messages", hk,
		 "{\"idempotency_key\": \"other\", \"messages\": [{\"body\": 1}]}");
	expect_error(&r, 400, "Invalid request body",
		     "The Idempotency-Key header and the body's idempotency_key "
		     "differ: send one of them, or the same key in both.",
		     "a header and a body key that differ: 400");
	hh_callh(&a, &r, "POST", "/v2/queues/ih/messages", hk,
		 "{\"messages\": [{\"body\": \"own\", \"idempotency_key\": \"m-1\"}, "
		 "{\"body\": \"h2\"}]}");
	ok(r.status == 201 && strcmp(res_id(0), h1) != 0 &&
		   strcmp(res_id(1), h2) == 0 &&
		   hh_len(r.json, "duplicates") == 1,
	   "a message's own key wins over the header's: %s", r.body);
	hh_callh(&a, &r, "POST", "/v2/queues/ih/messages",
		 "Idempotency-Key: \r\n", one);
	expect_4xx(&r, 400, "an empty Idempotency-Key: 400");
	memset(big, 'k', 257);
	big[257] = '\0';
	hh_callh(&a, &r, "POST", "/v2/queues/ih/messages",
		 hh_fmt("Idempotency-Key: %s\r\n", big), one);
	expect_error(&r, 400, "Invalid request body",
		     "The Idempotency-Key header must be 1 to 256 bytes.",
		     "an Idempotency-Key of 257 bytes: 400");
	big[256] = '\0';
	hh_callh(&a, &r, "POST", "/v2/queues/ih/messages",
		 hh_fmt("Idempotency-Key: %s\r\n", big), one);
	is(r.status, 201, "one of 256 bytes is fine");
	hh_call(&a, &r, "GET", "/v2/queues/ih/stats", NULL);
	is(hh_geti(r.json, "messages.total"), 5,
	   "2 + 1 + 2 stored: no repeat was stored again");
	hh_call(&a, &r, "PUT", "/v1/queues/ih1", "");
	hh_callh(&a, &r, "POST", "/v1/queues/ih1/messages", hk,
		 "[{\"ttl\": 60, \"body\": 1}]");
	hh_copy(h1, sizeof(h1), res_id(0));
	hh_callh(&a, &r, "POST", "/v1/queues/ih1/messages", hk,
		 "[{\"ttl\": 60, \"body\": 1}]");
	ok(r.status == 201 && strcmp(res_id(0), h1) == 0,
	   "v1, whose post has no document key, takes the header: %s", r.body);
	hh_callh(&a, &r, "POST", "/v2/queues/ih/claims", hk, "{\"ttl\": 60}");
	is(r.status, 201, "other POSTs ignore the header");
}

/*
 * With --enable-checksum, as Zaqar's enable_checksum: every v1.1 and v2
 * rendering of a message carries "checksum": "MD5:" + md5(json.dumps(
 * body)) after its body (the value CPython gives for the posted body);
 * v1's format has none.
 */
static void checksums(void)
{
	static const char *const on[] = {"--enable-checksum", "true", NULL};
	/* static: hh_start() keeps a pointer to it for its exit handler */
	static struct hh_server s2;
	const char *sum = "MD5:e5f32c4cf1e31d57d2c459c2322583b9";
	struct hh_client c;
	char mid[128];

	hh_start(&s2, on);
	hh_client_init(&c, &s2, HH_CLIENT_A, "projA");
	hh_call(&c, &r, "POST", "/v2/queues/cs/messages",
		"{\"messages\": [{\"body\": {\"b\": [1, 2.5, \"\\u00e9\"], "
		"\"a\": null, \"s\": \"x\\\"y\\\\/\\n\\u0001\\u007f\"}}, "
		"{\"body\": null}]}");
	is(r.status, 201, "checksums: post");
	hh_copy(mid, sizeof(mid), hh_href_id(hh_gets(r.json, "resources.0")));

	hh_call(&c, &r, "GET", "/v2/queues/cs/messages?echo=true", NULL);
	ok(hh_keys_are(hh_get(r.json, "messages.0"),
		       "id,href,ttl,age,body,checksum"),
	   "a listed message: {id, href, ttl, age, body, checksum}");
	is_str(hh_gets(r.json, "messages.0.checksum"), sum,
	       "the checksum is Zaqar's: MD5 of the body as json.dumps writes it");
	ok(hh_keys_are(hh_get(r.json, "messages.1"), "id,href,ttl,age,body"),
	   "a null body has none, as Zaqar's get_checksum gives \"\"");
	hh_call(&c, &r, "GET", hh_fmt("/v2/queues/cs/messages/%s", mid), NULL);
	is_str(hh_gets(r.json, "checksum"), sum, "a get carries it");
	hh_call(&c, &r, "GET", hh_fmt("/v2/queues/cs/messages?ids=%s", mid), NULL);
	is_str(hh_gets(r.json, "messages.0.checksum"), sum,
	       "a get by ids carries it");
	hh_call(&c, &r, "GET", "/v1.1/queues/cs/messages?echo=true", NULL);
	is_str(hh_gets(r.json, "messages.0.checksum"), sum, "v1.1 too");
	hh_call(&c, &r, "GET", "/v1/queues/cs/messages?echo=true", NULL);
	ok(hh_get(r.json, "messages.0.body") &&
		   !hh_get(r.json, "messages.0.checksum"),
	   "v1's message format has none");
	hh_call(&c, &r, "POST", "/v2/queues/cs/claims?limit=1",
		"{\"ttl\": 60, \"grace\": 60}");
	is(r.status, 201, "a claim");
	is_str(hh_gets(r.json, "messages.0.checksum"), sum,
	       "a claim's messages carry it");
	hh_call(&c, &r, "POST", "/v2/queues/cpop/messages",
		"{\"messages\": [{\"body\": {\"b\": [1, 2.5, \"\\u00e9\"], "
		"\"a\": null, \"s\": \"x\\\"y\\\\/\\n\\u0001\\u007f\"}}, "
		"{\"body\": null}]}");
	hh_call(&c, &r, "DELETE", "/v2/queues/cpop/messages?pop=2", NULL);
	ok(r.status == 200 && hh_len(r.json, "messages") == 2 &&
		   hh_keys_are(hh_get(r.json, "messages.0"),
			       "id,age,ttl,body,claim_id,claim_count,checksum"),
	   "a popped message carries it too: %s", r.body);
	is_str(hh_gets(r.json, "messages.0.checksum"), sum,
	       "the same checksum in a pop");
	ok(!hh_get(r.json, "messages.1.checksum"), "a popped null body has none");
	hh_call(&c, &r, "POST", "/v1.1/queues/cpop/messages",
		"{\"messages\": [{\"ttl\": 60, \"body\": {\"b\": [1, 2.5, \"\\u00e9\"], "
		"\"a\": null, \"s\": \"x\\\"y\\\\/\\n\\u0001\\u007f\"}}]}");
	hh_call(&c, &r, "DELETE", "/v1.1/queues/cpop/messages?pop=1", NULL);
	is_str(hh_gets(r.json, "messages.0.checksum"), sum, "a v1.1 pop too");
	hh_client_close(&c);
	is(hh_discard(&s2), 0, "the checksum server exits 0");
}

int main(void)
{
	hh_start(&srv, NULL);
	hh_client_init(&a, &srv, HH_CLIENT_A, "projA");
	hh_client_init(&b, &srv, HH_CLIENT_B, "projA");

	post();
	list();
	get_one_and_ids();
	delete_and_pop();
	validation();
	delayed();
	v1_1();
	idempotency();
	idempotency_header();
	checksums();

	hh_resp_free(&r);
	hh_client_close(&a);
	hh_client_close(&b);
	return hh_finish(&srv);
}
