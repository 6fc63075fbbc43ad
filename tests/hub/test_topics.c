/*
 * test_topics.c - Zaqar v2's topics (/v2/topics, Zaqar >= 8: queues
 * without claims) through the real server: the lifecycle and metadata of
 * a topic (as Zaqar's test_topic_lifecycle.py), listing with paging and
 * filters, isolation from queues of the same name and from other
 * projects, messages (post, list, get, delete, pop), stats in the shape
 * of Zaqar's mongodb driver, purge, no claims (404s), the name and
 * project rules with Zaqar's texts, TTL and delays on the test clock, and
 * a long-poll on a topic.
 *
 * Time moves with the test clock (hh_clock_advance), never by sleeping.
 */
#include "harness.h"

#include <string.h>

static struct hh_server srv;
static struct hh_client a;  /* project projA */
static struct hh_client b;  /* project projB */
static struct hh_resp r = HH_RESP_INIT;

#define BAD_TOPIC_DESC                                                         \
	"The format of the submitted topic name or project id is not valid."
#define TOPIC_DEFAULTS                                                         \
	"\"_max_messages_post_size\": 262144, \"_default_message_ttl\": 3600, " \
	"\"_default_message_delay\": 0"

/* ------------------------------------------------------------ lifecycle */

static void lifecycle(void)
{
	hh_call(&a, &r, "GET", "/v2/topics/mars/stats", NULL);
	is(r.status, 200, "stats of a topic not yet created: 200");
	ok(hh_json_eq(&r, "{\"messages\": {\"claimed\": 0, \"free\": 0, "
			  "\"total\": 0}}"),
	   "with Zaqar's zeros");

	hh_call(&a, &r, "PUT", "/v2/topics/mars", "{\"messages\": {\"ttl\": 600}}");
	is(r.status, 201, "PUT creates the topic: 201");
	is_str(hh_header(&r, "location"), "/v2/topics/mars",
	       "Location is the topic's path");
	hh_call(&a, &r, "PUT", "/v2/topics/mars", "{\"other\": 1}");
	is(r.status, 204, "PUT of an existing topic: 204");

	hh_call(&a, &r, "GET", "/v2/topics/mars", NULL);
	is(r.status, 200, "GET the topic");
	ok(hh_json_eq(&r, "{\"messages\": {\"ttl\": 600}, " TOPIC_DEFAULTS "}"),
	   "its metadata with a topic's three defaults (no queue keys); the "
	   "second PUT changed nothing");

	hh_call(&a, &r, "GET", "/v2/topics/nosuch", NULL);
	is(r.status, 200, "GET of a missing topic: 200, as Zaqar's");
	ok(hh_json_eq(&r, "{" TOPIC_DEFAULTS "}"), "with the defaults only");

	hh_call(&a, &r, "GET", "/v2/topics/mars/stats", NULL);
	ok(hh_json_eq(&r, "{\"messages\": {\"total\": 0}}"),
	   "stats of an empty topic: total only (Zaqar's mongodb)");

	hh_call(&a, &r, "DELETE", "/v2/topics/mars", NULL);
	is(r.status, 204, "DELETE: 204");
	hh_call(&a, &r, "DELETE", "/v2/topics/mars", NULL);
	is(r.status, 204, "DELETE of a missing topic: 204");
	hh_call(&a, &r, "GET", "/v2/topics/mars/stats", NULL);
	ok(hh_json_eq(&r, "{\"messages\": {\"claimed\": 0, \"free\": 0, "
			  "\"total\": 0}}"),
	   "stats after the delete: the zeros of no topic");

	hh_call(&a, &r, "PUT", "/v2/topics/venus", "");
	is(r.status, 201, "PUT with an empty body");
	hh_call(&a, &r, "PUT", "/v2/topics/venus", "[]");
	expect_error(&r, 400, "Invalid request body",
		     "Document type not supported.", "PUT with an array");
	hh_call(&a, &r, "PUT", "/v2/topics/venus", "{");
	expect_4xx(&r, 400, "PUT with broken JSON");
	hh_call(&a, &r, "PUT", "/v2/topics/venus",
		"{\"_default_message_ttl\": 10}");
	is(r.status, 400, "reserved keys are checked as a queue's");
}

#define PATCH_HDR                                                              \
	"Content-Type: application/openstack-messaging-v2.0-json-patch\r\n"

static void patch(const char *path, const char *doc)
{
	hh_callh(&a, &r, "PATCH", path, PATCH_HDR, doc);
}

static void metadata_patch(void)
{
	hh_call(&a, &r, "PUT", "/v2/topics/xyz", NULL);
	is(r.status, 201, "topic xyz");
	patch("/v2/topics/xyz",
	      "[{\"op\": \"add\", \"path\": \"/metadata/key1\", \"value\": 1},"
	      " {\"op\": \"add\", \"path\": \"/metadata/key2\", \"value\": 1}]");
	is(r.status, 200, "PATCH add");
	patch("/v2/topics/xyz",
	      "[{\"op\": \"remove\", \"path\": \"/metadata/_default_message_ttl\"}]");
	is(r.status, 200, "removing an unset reserved key: 200");
	patch("/v2/topics/xyz",
	      "[{\"op\": \"replace\", \"path\": \"/metadata/_default_message_ttl\","
	      " \"value\": 300}]");
	is(r.status, 200, "replacing an unset reserved key stores it");
	ok(hh_json_eq(&r, "{\"key1\": 1, \"key2\": 1, "
			  "\"_default_message_ttl\": 300, "
			  "\"_max_messages_post_size\": 262144, "
			  "\"_default_message_delay\": 0}"),
	   "the answer is the topic's metadata with its defaults");
	patch("/v2/topics/xyz",
	      "[{\"op\": \"replace\", \"path\": \"/metadata/_max_claim_count\","
	      " \"value\": 3}]");
	expect_error(&r, 409, "Resource conflict",
		     "Can't replace non-existent object _max_claim_count.",
		     "_max_claim_count is no reserved key of a topic");
	patch("/v2/topics/xyz",
	      "[{\"op\": \"remove\", \"path\": \"/metadata/key3\"}]");
	expect_error(&r, 409, "Resource conflict",
		     "Can't remove non-existent object key3.",
		     "removing a missing key");
	patch("/v2/topics/nosuch",
	      "[{\"op\": \"add\", \"path\": \"/metadata/k\", \"value\": 1}]");
	expect_error(&r, 404, "Not found",
		     "Topic nosuch does not exist for project projA",
		     "PATCH of a missing topic");
	hh_callh(&a, &r, "PATCH", "/v2/topics/xyz", NULL, "[]");
	is(r.status, 415, "PATCH without the patch media type: 415");

	hh_call(&a, &r, "PUT", "/v2/queues/xyz", NULL);
	patch("/v2/queues/xyz",
	      "[{\"op\": \"replace\", \"path\": \"/metadata/_max_claim_count\","
	      " \"value\": 3}]");
	is(r.status, 200, "while a queue's PATCH may replace _max_claim_count");
	hh_call(&a, &r, "GET", "/v2/topics/xyz", NULL);
	ok(hh_get(r.json, "_max_claim_count") == NULL,
	   "and the queue's metadata is not the topic's");
	hh_call(&a, &r, "DELETE", "/v2/queues/xyz", NULL);
}

/* ------------------------------------------------------------- names */

/* One request as another project, on a connection of its own. */
static void as_project(const char *project, const char *method,
		       const char *path)
{
	struct hh_client c;

	hh_client_init(&c, &srv, HH_CLIENT_A, project);
	hh_call(&c, &r, method, path, NULL);
	hh_client_close(&c);
}

static void names(void)
{
	char name[80], *project;

	hh_call(&a, &r, "PUT", "/v2/topics/Nice-Boat_2", NULL);
	is(r.status, 201, "Nice-Boat_2 is a good name");
	hh_call(&a, &r, "PUT", "/v2/topics/Service.test_topic", NULL);
	is(r.status, 201, "dots are allowed");
	hh_call(&a, &r, "PUT", "/v2/topics/Nice-Bo@t", NULL);
	expect_error(&r, 400, "Invalid topic identification", BAD_TOPIC_DESC,
		     "a name with @");
	memset(name, 'n', 65);
	name[65] = '\0';
	hh_call(&a, &r, "PUT", hh_fmt("/v2/topics/%s", name), NULL);
	expect_error(&r, 400, "Invalid topic identification", BAD_TOPIC_DESC,
		     "a name of 65 characters");
	hh_call(&a, &r, "DELETE", "/v2/topics/non-ascii-n%C5%93me", NULL);
	expect_error(&r, 400, "Invalid topic identification", BAD_TOPIC_DESC,
		     "a non-ASCII name");
	hh_call(&a, &r, "GET", "/v2/topics/b@d/messages", NULL);
	expect_error(&r, 400, "Invalid topic identification", BAD_TOPIC_DESC,
		     "a bad name under messages");
	hh_call(&a, &r, "GET", "/v2/queues/b@d", NULL);
	expect_error(&r, 400, "Invalid queue identification",
		     "The format of the submitted queue name or project id is "
		     "not valid.",
		     "while a queue's says queue");

	project = calloc(1, 300);
	memset(project, 'p', 257);
	as_project(project, "PUT", "/v2/topics/muv");
	expect_error(&r, 400, "Invalid topic identification", BAD_TOPIC_DESC,
		     "a project id of 257 bytes");
	project[255] = '\0';
	as_project(project, "PUT", "/v2/topics/muv");
	is(r.status, 201, "a project id of 255 bytes has topics");
	project[255] = 'p';
	project[256] = '\0';
	as_project(project, "PUT", "/v2/topics/muv");
	expect_error(&r, 400, "Invalid topic identification", BAD_TOPIC_DESC,
		     "one of 256 bytes has none (Herald's limit, docs/api.md)");
	as_project(project, "PUT", "/v2/queues/muv");
	is(r.status, 201, "but has queues");
	as_project("bad\x01project", "GET", "/v2/topics");
	expect_error(&r, 400, "Invalid topic identification", BAD_TOPIC_DESC,
		     "a project id with a control character");
	free(project);
	hh_call(&a, &r, "DELETE", "/v2/topics/Nice-Boat_2", NULL);
	hh_call(&a, &r, "DELETE", "/v2/topics/Service.test_topic", NULL);
	hh_call(&a, &r, "DELETE", "/v2/topics/venus", NULL);
	hh_call(&a, &r, "DELETE", "/v2/topics/xyz", NULL);
}

/* ------------------------------------------------------------- listing */

static void listing(void)
{
	char next[512];

	hh_call(&a, &r, "GET", "/v2/topics", NULL);
	is(r.status, 200, "an empty listing");
	ok(hh_json_eq(&r, "{\"topics\": [], \"links\": []}"),
	   "has no topics and no links");
	hh_call(&a, &r, "GET", "/v2/topics?limit=21", NULL);
	expect_error(&r, 400, "Invalid API request",
		     "Limit must be at least 1 and no greater than 20.",
		     "limit over the page size");

	hh_call(&a, &r, "PUT", "/v2/topics/t1", "{\"node\": 31}");
	hh_call(&a, &r, "PUT", "/v2/topics/t2", "{\"node\": 32}");
	hh_call(&a, &r, "PUT", "/v2/topics/t3", "{\"node\": 33}");
	hh_call(&b, &r, "PUT", "/v2/topics/t3", "{\"alt\": 1}");
	is(r.status, 201, "projB has its own t3");

	hh_call(&a, &r, "GET", "/v2/topics?limit=2", NULL);
	is(hh_len(r.json, "topics"), 2, "limit=2: two topics");
	is_str(hh_gets(r.json, "topics.0.name"), "t1", "in name order");
	is_str(hh_gets(r.json, "topics.0.href"), "/v2/topics/t1",
	       "with the topic's href");
	ok(hh_keys_are(hh_get(r.json, "topics.0"), "name,href"),
	   "and no metadata unless detailed");
	is_str(hh_gets(r.json, "links.0.href"), "/v2/topics?limit=2&marker=t2",
	       "the next link, as Zaqar's");
	hh_copy(next, sizeof(next), hh_gets(r.json, "links.0.href"));
	hh_call(&a, &r, "GET", next, NULL);
	is(hh_len(r.json, "topics"), 1, "the next page has the rest");
	is_str(hh_gets(r.json, "topics.0.name"), "t3", "t3 of projA");
	hh_copy(next, sizeof(next), hh_gets(r.json, "links.0.href"));
	hh_call(&a, &r, "GET", next, NULL);
	ok(hh_json_eq(&r, "{\"topics\": [], \"links\": []}"),
	   "after the last page: empty, no links");

	hh_call(&a, &r, "GET", "/v2/topics?detailed=true", NULL);
	ok(hh_json_eq(&r, "{\"topics\": ["
			  "{\"name\": \"t1\", \"href\": \"/v2/topics/t1\", "
			  "\"metadata\": {\"node\": 31, " TOPIC_DEFAULTS "}},"
			  "{\"name\": \"t2\", \"href\": \"/v2/topics/t2\", "
			  "\"metadata\": {\"node\": 32, " TOPIC_DEFAULTS "}},"
			  "{\"name\": \"t3\", \"href\": \"/v2/topics/t3\", "
			  "\"metadata\": {\"node\": 33, " TOPIC_DEFAULTS "}}],"
			  " \"links\": [{\"rel\": \"next\", \"href\": "
			  "\"/v2/topics?detailed=true&marker=t3\"}]}"),
	   "detailed: metadata with the topic defaults; projB's t3 absent");
	hh_call(&a, &r, "GET", "/v2/topics?node=32", NULL);
	is(hh_len(r.json, "topics"), 1, "a metadata filter");
	is_str(hh_gets(r.json, "topics.0.name"), "t2", "finds t2");
	hh_call(&a, &r, "GET", "/v2/topics?name=t&node=33", NULL);
	is_str(hh_gets(r.json, "topics.0.name"), "t3",
	       "name and metadata filters together");
	hh_call(&a, &r, "GET", "/v2/topics?with_count=true", NULL);
	ok(hh_json_eq(&r, "{\"topics\": [], \"links\": []}"),
	   "with_count is a metadata filter for topics, as in Zaqar");

	hh_call(&b, &r, "GET", "/v2/topics?detailed=true", NULL);
	is(hh_len(r.json, "topics"), 1, "projB lists its one topic");
	is(hh_geti(r.json, "topics.0.metadata.alt"), 1, "its own t3");
}

/* ------------------------------------------------------------ isolation */

static void isolation(void)
{
	char qid[64], tid[64];

	hh_call(&a, &r, "POST", "/v2/queues/t1/messages",
		"{\"messages\": [{\"body\": \"to the queue\"}]}");
	is(r.status, 201, "a queue named as topic t1 gets a message");
	hh_copy(qid, sizeof(qid), hh_href_id(hh_gets(r.json, "resources.0")));
	hh_call(&a, &r, "POST", "/v2/topics/t1/messages",
		"{\"messages\": [{\"body\": \"to the topic\"}]}");
	is(r.status, 201, "topic t1 gets one");
	hh_copy(tid, sizeof(tid), hh_href_id(hh_gets(r.json, "resources.0")));

	hh_call(&a, &r, "GET", "/v2/queues", NULL);
	ok(hh_json_eq(&r, "{\"queues\": [{\"name\": \"t1\", \"href\": "
			  "\"/v2/queues/t1\"}], \"links\": [{\"rel\": \"next\", "
			  "\"href\": \"/v2/queues?marker=t1\"}]}"),
	   "GET /v2/queues lists the queue, no topic");
	hh_call(&a, &r, "GET", "/v2/queues?with_count=true", NULL);
	is(hh_geti(r.json, "count"), 1, "and counts no topic");

	hh_call(&a, &r, "GET", "/v2/queues/t1/messages?echo=true", NULL);
	is(hh_len(r.json, "messages"), 1, "the queue holds one message");
	is_str(hh_gets(r.json, "messages.0.body"), "to the queue",
	       "its own");
	hh_call(&a, &r, "GET", "/v2/topics/t1/messages?echo=true", NULL);
	is(hh_len(r.json, "messages"), 1, "the topic holds one message");
	is_str(hh_gets(r.json, "messages.0.body"), "to the topic", "its own");

	hh_call(&a, &r, "GET", hh_fmt("/v2/queues/t1/messages/%s", tid), NULL);
	ok(r.status == 404 ||
	   strcmp(hh_gets(r.json, "body") ? hh_gets(r.json, "body") : "",
		  "to the topic") != 0,
	   "the topic's message id does not reach it through the queue");
	hh_call(&a, &r, "GET", hh_fmt("/v2/topics/t1/messages/%s", qid), NULL);
	ok(r.status == 404 ||
	   strcmp(hh_gets(r.json, "body") ? hh_gets(r.json, "body") : "",
		  "to the queue") != 0,
	   "nor the queue's through the topic");

	hh_call(&a, &r, "DELETE", "/v2/topics/t1", NULL);
	hh_call(&a, &r, "GET", "/v2/queues/t1/stats", NULL);
	is(hh_geti(r.json, "messages.total"), 1,
	   "deleting topic t1 leaves queue t1 whole");
	hh_call(&a, &r, "DELETE", "/v2/queues/t1", NULL);
	hh_call(&a, &r, "GET", "/v2/topics?limit=1", NULL);
	is_str(hh_gets(r.json, "topics.0.name"), "t2",
	       "and deleting queue t1 leaves the topics");
	hh_call(&a, &r, "PUT", "/v2/topics/t1", "{\"node\": 31}");

	hh_call(&a, &r, "POST", "/v2/topics/t2/messages",
		"{\"messages\": [{\"body\": \"projA only\"}]}");
	hh_call(&b, &r, "GET", "/v2/topics/t2/messages?echo=true", NULL);
	ok(hh_json_eq(&r, "{\"messages\": [], \"links\": []}"),
	   "projB sees nothing of projA's t2");
	hh_call(&b, &r, "GET", "/v2/topics/t2/stats", NULL);
	is(hh_geti(r.json, "messages.claimed"), 0,
	   "its stats are the zeros of no topic");
	hh_call(&b, &r, "GET", "/v2/topics/t2", NULL);
	ok(hh_json_eq(&r, "{" TOPIC_DEFAULTS "}"),
	   "nor projA's metadata");
	hh_call(&b, &r, "POST", "/v2/topics/t2/messages",
		"{\"messages\": [{\"body\": 1}]}");
	expect_error(&r, 404, "Not found",
		     "Topic t2 does not exist for project projB",
		     "projB cannot post to projA's topic");
	hh_call(&a, &r, "DELETE", "/v2/topics/t2/messages?pop=5", NULL);
	is(hh_len(r.json, "messages"), 1, "(the message is popped)");
}

/* ------------------------------------------------------------- messages */

static void messages(void)
{
	char id1[64], id2[64], next[512];

	hh_call(&a, &r, "POST", "/v2/topics/nosuch/messages",
		"{\"messages\": [{\"body\": 1}]}");
	expect_error(&r, 404, "Not found",
		     "Topic nosuch does not exist for project projA",
		     "a post never creates a topic");
	hh_call(&a, &r, "GET", "/v2/topics", NULL);
	ok(!strstr(r.body, "nosuch"), "nosuch was not created");

	hh_call(&a, &r, "POST", "/v2/topics/t1/messages",
		"{\"messages\": [{\"ttl\": 300, \"body\": {\"n\": 1}},"
		" {\"body\": \"two\"}]}");
	is(r.status, 201, "post two messages");
	hh_copy(id1, sizeof(id1), hh_href_id(hh_gets(r.json, "resources.0")));
	hh_copy(id2, sizeof(id2), hh_href_id(hh_gets(r.json, "resources.1")));
	is_str(hh_gets(r.json, "resources.0"),
	       hh_fmt("/v2/topics/t1/messages/%s", id1),
	       "resources are topic hrefs");
	is_str(hh_header(&r, "location"),
	       hh_fmt("/v2/topics/t1/messages?ids=%s,%s", id1, id2),
	       "Location names them");
	hh_call(&a, &r, "POST", "/v2/topics/t1/messages", "{}");
	expect_error(&r, 400, "Invalid API request",
		     "No messages were found in the request body.",
		     "a post without messages");
	hh_call(&a, &r, "POST", "/v2/topics/t1/messages",
		"{\"messages\": [{\"ttl\": 10, \"body\": 1}]}");
	is(r.status, 400, "ttl ranges as a queue's");

	hh_call(&a, &r, "GET", "/v2/topics/t1/messages?echo=true&limit=1", NULL);
	is(r.status, 200, "list");
	is(hh_len(r.json, "messages"), 1, "one per page");
	is_str(hh_gets(r.json, "messages.0.href"),
	       hh_fmt("/v2/topics/t1/messages/%s", id1),
	       "a listed message has a topic href");
	is(hh_geti(r.json, "messages.0.ttl"), 300, "its ttl");
	hh_copy(next, sizeof(next), hh_gets(r.json, "links.0.href"));
	ok(strncmp(next, "/v2/topics/t1/messages?", 23) == 0,
	   "the next link is the topic's");
	hh_call(&a, &r, "GET", next, NULL);
	is_str(hh_gets(r.json, "messages.0.body"), "two", "page two");
	hh_call(&a, &r, "GET", "/v2/topics/t1/messages", NULL);
	ok(hh_json_eq(&r, "{\"messages\": [], \"links\": []}"),
	   "without echo the poster's own messages are not listed");

	hh_call(&a, &r, "GET", hh_fmt("/v2/topics/t1/messages/%s", id1), NULL);
	is(r.status, 200, "get one");
	ok(hh_keys_are(r.json, "id,href,ttl,age,body"), "Zaqar's fields");
	is(hh_geti(r.json, "body.n"), 1, "its body");
	hh_call(&a, &r, "GET",
		hh_fmt("/v2/topics/t1/messages?ids=%s,%s", id1, id2), NULL);
	is(hh_len(r.json, "messages"), 2, "get by ids");
	hh_call(&a, &r, "DELETE", hh_fmt("/v2/topics/t1/messages/%s", id1),
		NULL);
	is(r.status, 204, "delete one");
	hh_call(&a, &r, "GET", hh_fmt("/v2/topics/t1/messages/%s", id1), NULL);
	expect_error(&r, 404, "Not found",
		     hh_fmt("Message %s does not exist in queue t1 for project "
			    "projA", id1),
		     "a deleted message (Zaqar's storage says queue)");
	hh_call(&a, &r, "GET", hh_fmt("/v2/topics/t1/messages?ids=%s", id1),
		NULL);
	expect_error(&r, 404, "Not found",
		     hh_fmt("No messages with IDs: ['%s'] found in the queue t1 "
			    "for project projA.", id1),
		     "ids of no message");
	hh_call(&a, &r, "DELETE",
		hh_fmt("/v2/topics/t1/messages/%s?claim_id=%s", id2,
		       HH_NO_SUCH_ID), NULL);
	expect_error(&r, 400, "Unable to delete",
		     "A claim was specified, but the message is not currently "
		     "claimed.",
		     "nothing on a topic is claimed");
	hh_call(&a, &r, "DELETE", "/v2/topics/t1/messages?pop=5", NULL);
	is(r.status, 200, "pop");
	is(hh_len(r.json, "messages"), 1, "pops the one left");
	is_str(hh_gets(r.json, "messages.0.body"), "two", "the second");

	hh_call(&a, &r, "POST", "/v2/topics/t1/messages",
		"{\"messages\": [{\"body\": 3}, {\"body\": 4}]}");
	hh_call(&a, &r, "DELETE",
		hh_fmt("/v2/topics/t1/messages?ids=%s", hh_resource_ids(&r)),
		NULL);
	is(r.status, 204, "delete by ids");
	hh_call(&a, &r, "GET", "/v2/topics/t1/stats", NULL);
	is(hh_geti(r.json, "messages.total"), 0, "the topic is empty");
}

/* --------------------------------------------------------- stats, purge */

static void stats_purge(void)
{
	char id[64];

	hh_call(&a, &r, "POST", "/v2/topics/t2/messages",
		"{\"messages\": [{\"body\": 1}, {\"body\": 2}, {\"body\": 3}]}");
	hh_copy(id, sizeof(id), hh_href_id(hh_gets(r.json, "resources.0")));
	hh_clock_advance(&srv, 5000);
	hh_call(&a, &r, "GET", "/v2/topics/t2/stats", NULL);
	is(r.status, 200, "stats");
	ok(hh_keys_are(hh_get(r.json, "messages"), "total,oldest,newest"),
	   "total, oldest and newest: no claimed or free on a topic");
	is(hh_geti(r.json, "messages.total"), 3, "three messages");
	ok(hh_keys_are(hh_get(r.json, "messages.oldest"), "age,created,href"),
	   "the oldest as Zaqar's HTTP shows it");
	is_str(hh_gets(r.json, "messages.oldest.href"),
	       hh_fmt("/v2/topics/t2/messages/%s", id), "with a topic href");
	is(hh_geti(r.json, "messages.oldest.age"), 5, "and its age");

	hh_call(&a, &r, "POST", "/v2/topics/t2/purge",
		"{\"resource_types\": [\"subscriptions\"]}");
	is(r.status, 204, "purge of subscriptions only");
	hh_call(&a, &r, "GET", "/v2/topics/t2/stats", NULL);
	is(hh_geti(r.json, "messages.total"), 3, "leaves the messages");
	hh_call(&a, &r, "POST", "/v2/topics/t2/purge",
		"{\"resource_types\": [\"claims\"]}");
	expect_error(&r, 400, "Invalid API request",
		     "Resource types must be a sub set of {'messages', "
		     "'subscriptions'}.",
		     "purge of an unknown resource type");
	hh_call(&a, &r, "POST", "/v2/topics/t2/purge", NULL);
	is(r.status, 204, "purge");
	hh_call(&a, &r, "GET", "/v2/topics/t2/stats", NULL);
	ok(hh_json_eq(&r, "{\"messages\": {\"total\": 0}}"),
	   "empties the topic, which stays");
}

/* ---------------------------------------------------------- no claims */

static void no_claims(void)
{
	const char *paths[] = {"/v2/topics/t1/claims",
			       "/v2/topics/t1/claims/" HH_NO_SUCH_ID,
			       "/v2/topics/t1/redrive",
			       "/v2/topics/t1/stream",
			       "/v1.1/topics", "/v1/topics/t1"};
	const char *methods[] = {"POST", "PATCH", "POST", "GET", "GET", "PUT"};

	for (size_t i = 0; i < sizeof(paths) / sizeof(*paths); i++) {
		hh_call(&a, &r, methods[i], paths[i], "{}");
		expect_error(&r, 404, "404 Not Found", NULL,
			     hh_fmt("%s %s is no route", methods[i], paths[i]));
	}
	hh_call(&a, &r, "GET", "/v2/topics/t1/claims/" HH_NO_SUCH_ID, NULL);
	is(r.status, 404, "no claim is got from a topic");
	hh_call(&a, &r, "OPTIONS", "/v2/topics/t1", NULL);
	is_str(hh_header(&r, "allow"), "GET, PUT, PATCH, DELETE, OPTIONS",
	       "a topic's methods");
	hh_call(&a, &r, "POST", "/v2/topics/t1", "{}");
	is(r.status, 405, "POST of a topic: 405");
}

/* ------------------------------------------------------- ttl and delay */

static void ttl_delay(void)
{
	char id[64];

	hh_call(&a, &r, "PUT", "/v2/topics/slow",
		"{\"_default_message_delay\": 30}");
	is(r.status, 201, "a topic with a default delay");
	hh_call(&a, &r, "POST", "/v2/topics/slow/messages",
		"{\"messages\": [{\"ttl\": 60, \"body\": \"later\"}]}");
	hh_copy(id, sizeof(id), hh_href_id(hh_gets(r.json, "resources.0")));
	hh_call(&a, &r, "GET", "/v2/topics/slow/messages?echo=true", NULL);
	is(hh_len(r.json, "messages"), 0, "a delayed message is not listed");
	hh_call(&a, &r, "GET",
		"/v2/topics/slow/messages?echo=true&include_delayed=true", NULL);
	is(hh_len(r.json, "messages"), 1, "unless include_delayed");
	hh_clock_advance(&srv, 31000);
	hh_call(&a, &r, "GET", "/v2/topics/slow/messages?echo=true", NULL);
	is(hh_len(r.json, "messages"), 1, "31 s later it is due");

	hh_clock_advance(&srv, 30000);
	hh_call(&a, &r, "GET", "/v2/topics/slow/messages?echo=true", NULL);
	is(hh_len(r.json, "messages"), 0, "past its ttl it is gone");
	hh_call(&a, &r, "GET", hh_fmt("/v2/topics/slow/messages/%s", id), NULL);
	is(r.status, 404, "and cannot be got");
	hh_call(&a, &r, "GET", "/v2/topics/slow/stats", NULL);
	is(hh_geti(r.json, "messages.total"), 0, "stats count it no more");

	hh_call(&a, &r, "PUT", "/v2/topics/short",
		"{\"_default_message_ttl\": 120}");
	hh_call(&a, &r, "POST", "/v2/topics/short/messages",
		"{\"messages\": [{\"body\": 1}]}");
	hh_call(&a, &r, "GET", "/v2/topics/short/messages?echo=true", NULL);
	is(hh_geti(r.json, "messages.0.ttl"), 120,
	   "a topic's _default_message_ttl applies");
	hh_clock_advance(&srv, 121000);
	hh_call(&a, &r, "GET", "/v2/topics/short/stats", NULL);
	is(hh_geti(r.json, "messages.total"), 0, "and expires it");
}

/* ------------------------------------------------------------ long-poll */

static void longpoll(void)
{
	struct hh_client held;
	const char *req;

	hh_client_init(&held, &srv, HH_CLIENT_B, "projA");
	held.timeout_ms = 25000;
	req = hh_fmt("GET /v2/topics/t3/messages?wait=20 HTTP/1.1\r\n"
		     "Host: t\r\nClient-ID: %s\r\nX-Project-Id: projA\r\n\r\n",
		     HH_CLIENT_B);
	if (hh_send(&held, req, strlen(req)) != 0)
		bail_out("cannot send the held GET");
	hh_call(&a, &r, "POST", "/v2/topics/t3/messages",
		"{\"messages\": [{\"body\": \"wake\"}]}");
	is(r.status, 201, "a post to the topic");
	is(hh_recv(&held, &r, false), 200, "answers a long-poll on the topic");
	is_str(hh_gets(r.json, "messages.0.body"), "wake",
	       "with the message posted");
	ok(strncmp(hh_gets(r.json, "messages.0.href") ?
		   hh_gets(r.json, "messages.0.href") : "",
		   "/v2/topics/t3/messages/", 23) == 0,
	   "rendered as the topic's");
	hh_client_close(&held);
}

int main(void)
{
	hh_start(&srv, NULL);
	hh_client_init(&a, &srv, HH_CLIENT_A, "projA");
	hh_client_init(&b, &srv, HH_CLIENT_B, "projB");

	lifecycle();
	metadata_patch();
	names();
	listing();
	isolation();
	messages();
	stats_purge();
	no_claims();
	ttl_delay();
	longpoll();

	hh_resp_free(&r);
	hh_client_close(&a);
	hh_client_close(&b);
	return hh_finish(&srv);
}
