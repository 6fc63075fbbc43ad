/*
 * test_webhooks.c - webhook subscriptions end to end: Zaqar v2's
 * subscriptions API (transcript_v2_subs*.txt), and delivery to a real
 * HTTP receiver on loopback started by the test (receiver.h): Zaqar's
 * body, post_data and post_headers, order, retries by the retry policy on
 * the test clock, a subscriber that stays down not blocking the others,
 * markers that survive a restart, the confirmation flow with a pre-signed
 * URL, ttl expiry, purge and queue deletion, and the SSRF allowlist.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "receiver.h"
#include "wsc.h"

#define SUBS "/v2/queues/sq/subscriptions"

static struct hh_server srv;
static struct hh_client c;

static const char *sub_body(const struct rx *rx, const char *path,
			    const char *extra)
{
	return hh_fmt("{\"subscriber\": \"http://127.0.0.1:%d%s\"%s%s}",
		      rx_port(rx), path, extra ? ", " : "", extra ? extra : "");
}

/* Creates a subscription of queue q; its id (static buffer). */
static const char *subscribe(const char *q, const char *body)
{
	static char id[64];
	struct hh_resp r = HH_RESP_INIT;

	hh_call(&c, &r, "POST", hh_fmt("/v2/queues/%s/subscriptions", q), body);
	if (r.status != 201)
		diag("subscribe %s: %d %s", q, r.status, r.body);
	hh_copy(id, sizeof(id), hh_gets(r.json, "subscription_id"));
	hh_resp_free(&r);
	return id;
}

static void post(const char *q, const char *msgs)
{
	struct hh_resp r = HH_RESP_INIT;

	hh_call(&c, &r, "POST", hh_fmt("/v2/queues/%s/messages", q),
		hh_fmt("{\"messages\": [%s]}", msgs));
	if (r.status != 201)
		diag("post %s: %d %s", q, r.status, r.body);
	hh_resp_free(&r);
}

/* Waits (bounded) until the server's log holds `text`. */
static bool log_has(const struct hh_server *s, const char *text)
{
	for (int i = 0; i < 100; i++) {
		FILE *f = fopen(s->log, "r");
		char line[2048];
		bool found = false;

		while (f && !found && fgets(line, sizeof(line), f))
			found = strstr(line, text) != NULL;
		if (f)
			fclose(f);
		if (found)
			return true;
		usleep(50 * 1000);
	}
	return false;
}

/* ------------------------------------------------------------------ API */

static void test_api(struct rx *rx)
{
	struct hh_resp r = HH_RESP_INIT;
	char a[64], b[64];

	snprintf(a, sizeof(a), "%s",
		 subscribe("sq", sub_body(rx, "/hook",
					  "\"options\": {\"k\": \"v\"}")));
	ok(strlen(a) == 36, "create answers a subscription id");
	hh_call(&c, &r, "POST", SUBS, sub_body(rx, "/hook", NULL));
	is(r.status, 201, "the same subscriber again, unconfirmed: 201");
	is_str(hh_gets(r.json, "subscription_id"), a, "with the same id");
	is_str(hh_header(&r, "Location"), SUBS, "and Location");

	hh_call(&c, &r, "POST", SUBS, "{\"subscriber\": \"ftp://x/y\"}");
	expect_error(&r, 400, "Invalid API request",
		     "The subscriber type of subscription must be supported in "
		     "the list ['http', 'https', 'mailto', 'trust+http', "
		     "'trust+https'].", "a bad scheme");
	hh_call(&c, &r, "POST", SUBS, "{}");
	expect_error(&r, 400, "Invalid API request",
		     "Missing parameter subscriber in body.", "no subscriber");
	hh_call(&c, &r, "POST", SUBS, "");
	expect_error(&r, 400, "Invalid API request",
		     "Missing parameter subscriber in body.", "an empty body");
	hh_call(&c, &r, "POST", SUBS, sub_body(rx, "/x", "\"ttl\": 59"));
	expect_error(&r, 400, "Invalid API request",
		     "The TTL for a subscription must be at least 60 seconds "
		     "long.", "ttl 59");
	hh_call(&c, &r, "POST", SUBS, sub_body(rx, "/x", "\"ttl\": -1"));
	is(r.status, 400, "ttl -1: 400, as Zaqar");
	hh_call(&c, &r, "POST", SUBS, sub_body(rx, "/x", "\"ttl\": \"60\""));
	expect_error(&r, 400, "Invalid API request", "TTL must be an integer.",
		     "a string ttl");
	hh_call(&c, &r, "POST", SUBS, sub_body(rx, "/x", "\"options\": [1]"));
	expect_error(&r, 400, "Invalid API request", "Options must be a dict.",
		     "options not a dict");
	hh_call(&c, &r, "POST", SUBS,
		sub_body(rx, "/x", "\"options\": {\"_retry_policy\": 5}"));
	expect_error(&r, 400, "Invalid API request",
		     "retry_policy must be a dict.", "a bad retry policy");
	hh_call(&c, &r, "POST", SUBS, "{\"subscriber\": \"mailto:a@b.c\"}");
	expect_error(&r, 400, "Invalid API request",
		     "Herald delivers to http and https subscribers only; "
		     "mailto is not supported.", "mailto");

	snprintf(b, sizeof(b), "%s", subscribe("sq", sub_body(rx, "/h2", NULL)));
	hh_call(&c, &r, "GET", SUBS, NULL);
	is(r.status, 200, "list");
	is(hh_len(r.json, "subscriptions"), 2, "lists both");
	ok(strcmp(hh_gets(r.json, "subscriptions.0.id"),
		  hh_gets(r.json, "subscriptions.1.id")) < 0, "by id");
	ok(hh_keys_are(hh_get(r.json, "subscriptions.0"),
		       "id,source,subscriber,ttl,age,options,confirmed"),
	   "Zaqar's fields");
	is_str(hh_gets(r.json, "links.0.href"),
	       hh_fmt(SUBS "?marker=%s", hh_gets(r.json, "subscriptions.1.id")),
	       "the next link carries the last id");
	hh_call(&c, &r, "GET", SUBS "?limit=1", NULL);
	is(hh_len(r.json, "subscriptions"), 1, "limit=1 lists one");
	char first[64];
	hh_copy(first, sizeof(first), hh_gets(r.json, "subscriptions.0.id"));
	is_str(hh_gets(r.json, "links.0.href"),
	       hh_fmt(SUBS "?limit=1&marker=%s", first),
	       "limit, then marker, as Zaqar");
	hh_call(&c, &r, "GET", hh_fmt(SUBS "?limit=1&marker=%s", first), NULL);
	ok(hh_len(r.json, "subscriptions") == 1 &&
		   strcmp(hh_gets(r.json, "subscriptions.0.id"), first) > 0,
	   "the next page has the other");
	hh_call(&c, &r, "GET", SUBS "?limit=21", NULL);
	expect_error(&r, 400, "Invalid API request",
		     "Limit must be at least 1 and may not be greater than 20.",
		     "limit 21");

	hh_call(&c, &r, "GET", hh_fmt(SUBS "/%s", a), NULL);
	is(r.status, 200, "get");
	ok(hh_json_eq(&r, hh_fmt("{\"id\": \"%s\", \"source\": \"sq\", "
				 "\"subscriber\": \"http://127.0.0.1:%d/hook\", "
				 "\"ttl\": 3600, \"age\": 0, \"options\": "
				 "{\"k\": \"v\"}, \"confirmed\": false}",
				 a, rx_port(rx))),
	   "as created, ttl 3600 by default");
	hh_call(&c, &r, "GET", SUBS "/" HH_NO_SUCH_ID, NULL);
	expect_error(&r, 404, "Not found",
		     "Subscription " HH_NO_SUCH_ID " does not exist",
		     "get of a missing one");

	hh_call(&c, &r, "PATCH", hh_fmt(SUBS "/%s", a),
		"{\"ttl\": 600, \"options\": {\"post_data\": "
		"\"{\\\"wrapped\\\": \\\"$zaqar_message$\\\"}\"}}");
	is(r.status, 204, "patch");
	is_str(hh_header(&r, "Location"), hh_fmt(SUBS "/%s", a),
	       "Location is the item");
	hh_call(&c, &r, "PATCH", hh_fmt(SUBS "/%s", a),
		sub_body(rx, "/h2", NULL));
	expect_error(&r, 409, "Resource conflict",
		     "Such subscription already exists. Subscriptions are "
		     "unique by project + queue + subscriber URI.",
		     "patch to another's subscriber");
	hh_call(&c, &r, "PATCH", SUBS "/" HH_NO_SUCH_ID, "{\"ttl\": 600}");
	expect_error(&r, 404, "Not found",
		     "Subscription " HH_NO_SUCH_ID " does not exist",
		     "patch of a missing one");
	hh_call(&c, &r, "PATCH", hh_fmt(SUBS "/%s", a), "{}");
	expect_error(&r, 400, "Invalid API request",
		     "No subscription to create.", "an empty patch");

	hh_call(&c, &r, "PUT", hh_fmt(SUBS "/%s/confirm", a),
		"{\"confirmed\": true}");
	is(r.status, 204, "confirm");
	is_str(hh_header(&r, "Location"), hh_fmt(SUBS "/%s/confirm", a),
	       "Location is the confirm resource");
	hh_call(&c, &r, "PUT", hh_fmt(SUBS "/%s/confirm", a),
		"{\"confirmed\": 1}");
	expect_error(&r, 400, "Invalid API request",
		     "The 'confirmed' should be boolean.", "confirm non-bool");
	hh_call(&c, &r, "PUT", SUBS "/" HH_NO_SUCH_ID "/confirm",
		"{\"confirmed\": true}");
	is(r.status, 404, "confirm of a missing one: 404");
	hh_call(&c, &r, "GET", hh_fmt(SUBS "/%s", a), NULL);
	ok(hh_geti(r.json, "ttl") == 600 &&
		   json_is_true(hh_get(r.json, "confirmed")) &&
		   hh_gets(r.json, "options.post_data"),
	   "get shows the patch and the confirmation");
	hh_call(&c, &r, "POST", SUBS, sub_body(rx, "/hook", NULL));
	expect_error(&r, 409, "Resource conflict",
		     "Such subscription already exists.Subscriptions are "
		     "unique by project + queue + subscriber URI.",
		     "a confirmed subscriber again");
	is_str(hh_header(&r, "Location"), SUBS, "409 with Location");

	hh_call(&c, &r, "DELETE", hh_fmt(SUBS "/%s", b), NULL);
	is(r.status, 204, "delete");
	hh_call(&c, &r, "DELETE", hh_fmt(SUBS "/%s", b), NULL);
	is(r.status, 204, "delete of a missing one: 204 too");
	hh_call(&c, &r, "GET", hh_fmt(SUBS "/%s", b), NULL);
	is(r.status, 404, "it is gone");
	hh_call(&c, &r, "DELETE", hh_fmt(SUBS "/%s", a), NULL);
	hh_call(&c, &r, "GET", "/v1.1/queues/sq/subscriptions", NULL);
	is(r.status, 404, "no subscriptions in v1.1");
	hh_resp_free(&r);
}

/* ------------------------------------------------------------- delivery */

static void test_delivery(struct rx *rx)
{
	size_t base = rx_count(rx);
	const struct rx_request *q;

	subscribe("dq", sub_body(rx, "/plain",
				 "\"options\": {\"post_headers\": "
				 "{\"X-Token\": \"t1\", \"Content-Length\": \"0\", "
				 "\"X-Split\": \"a\\r\\nInjected: 1\", "
				 "\"Bad Name\": \"x\"}}"));
	subscribe("dq", sub_body(rx, "/wrapped",
				 "\"options\": {\"post_data\": \"{\\\"w\\\": "
				 "\\\"$zaqar_message$\\\"}\"}"));
	post("dq", "{\"ttl\": 300, \"body\": {\"event\": \"hello\"}}, "
		   "{\"ttl\": 300, \"body\": 2}, {\"ttl\": 300, \"body\": \"three\"}");
	ok(rx_wait(rx, base + 6, 5000), "three messages reach two subscribers");
	const char *plain[3] = {NULL}, *wrapped[3] = {NULL};
	int np = 0, nw = 0;
	bool headers = true, posts = true;
	for (size_t i = base; i < base + 6 && (q = rx_get(rx, i)); i++) {
		posts &= strcmp(q->method, "POST") == 0;
		if (strcmp(q->path, "/plain") == 0 && np < 3) {
			plain[np++] = q->body;
			headers &= strcasestr(q->headers, "x-token: t1") != NULL &&
				   strcasestr(q->headers,
					      "content-type: application/json") &&
				   !strcasestr(q->headers, "injected") &&
				   !strcasestr(q->headers, "bad name") &&
				   !strcasestr(q->headers, "content-length: 0");
		} else if (nw < 3) {
			wrapped[nw++] = q->body;
		}
	}
	ok(posts, "every delivery is a POST");
	is(np, 3, "the plain one got three");
	is(nw, 3, "the wrapped one got three");
	json_t *j = plain[0] ? json_loads(plain[0], 0, NULL) : NULL;
	ok(j && hh_keys_are(j, "ttl,body,Message_Type,queue_name") &&
		   hh_geti(j, "ttl") == 300 &&
		   strcmp(hh_gets(j, "Message_Type"), "Notification") == 0 &&
		   strcmp(hh_gets(j, "queue_name"), "dq") == 0 &&
		   strcmp(hh_gets(j, "body.event"), "hello") == 0,
	   "Zaqar's notification body");
	json_decref(j);
	ok(plain[1] && strstr(plain[1], "\"body\": 2") && plain[2] &&
		   strstr(plain[2], "\"three\""),
	   "in the order posted");
	ok(headers, "with Content-Type and the post_headers, but none that "
	   "would split or reframe the request");
	j = wrapped[0] ? json_loads(wrapped[0], 0, NULL) : NULL;
	ok(j && strcmp(hh_gets(j, "w.body.event"), "hello") == 0 &&
		   strcmp(hh_gets(j, "w.queue_name"), "dq") == 0,
	   "post_data wraps the message where $zaqar_message$ was");
	json_decref(j);
}

/*
 * Retries on the test clock with a short policy: attempts at 0 (and two
 * immediate retries), then +10 s, +10 s (minimum delay), +10 s, +15 s
 * (linear backoff 10..20 step 5), +20 s (maximum delay): 7 attempts, then
 * the message is given up and the next one delivered. Meanwhile another
 * subscriber of the queue is not held up.
 */
static void test_retries(struct rx *bad, struct rx *good)
{
	const char *policy =
		"\"options\": {\"_retry_policy\": {\"retries_with_no_delay\": 2,"
		" \"minimum_delay_retries\": 2, \"minimum_delay\": 10, "
		"\"maximum_delay\": 20, \"maximum_delay_retries\": 1}}";
	const long waits[] = {10, 10, 10, 15, 20};
	size_t b0 = rx_count(bad), g0 = rx_count(good);
	bool each = true;

	subscribe("rq", sub_body(bad, "/down", policy));
	subscribe("rq", sub_body(good, "/up", NULL));
	rx_answer(bad, 500);
	post("rq", "{\"ttl\": 3000, \"body\": \"first\"}");
	ok(rx_wait(bad, b0 + 3, 5000), "a failed delivery is retried twice at "
	   "once");
	ok(rx_wait(good, g0 + 1, 5000), "the other subscriber got the message");
	ok(!rx_wait(bad, b0 + 4, 1000), "then waits for the clock");
	for (size_t i = 0; i < sizeof(waits) / sizeof(*waits); i++) {
		bool early, late;

		hh_clock_advance(&srv, (uint64_t)waits[i] * 1000 - 1000);
		early = rx_wait(bad, b0 + 4 + i, 1200);
		hh_clock_advance(&srv, 1000);
		late = !rx_wait(bad, b0 + 4 + i, 5000);
		if (early || late)
			diag("retry %zu came %s", i + 1, early ? "early" : "late");
		each &= !early && !late;
	}
	ok(each, "retries come at the policy's delays, not before");
	is((int)rx_count_body(bad, "first", 500), 8, "eight attempts in all");
	ok(log_has(&srv, "gave up a message"), "then it is given up, logged");

	rx_answer(bad, 200);
	post("rq", "{\"ttl\": 3000, \"body\": \"second\"}");
	ok(rx_wait(bad, b0 + 9, 5000), "the next message is delivered");
	is((int)rx_count_body(bad, "second", 200), 1, "once");
	ok(rx_wait(good, g0 + 2, 5000) &&
		   rx_count_body(good, "first", 200) == 1 &&
		   rx_count_body(good, "second", 200) == 1,
	   "the healthy subscriber got each once, never held up");

	/* A 503 twice, then a 200: delivered by the immediate retries. */
	b0 = rx_count(bad);
	rx_answer_next(bad, 2, 503);
	post("rq", "{\"ttl\": 3000, \"body\": \"third\"}");
	ok(rx_wait(bad, b0 + 3, 5000), "two failures and the retry that "
	   "worked");
	is((int)rx_count_body(bad, "third", 200), 1, "delivered once");

	/* 4xx counts as delivered (Zaqar): no retry. */
	b0 = rx_count(bad);
	rx_answer_next(bad, 1, 404);
	post("rq", "{\"ttl\": 3000, \"body\": \"fourth\"}");
	post("rq", "{\"ttl\": 3000, \"body\": \"fifth\"}");
	ok(rx_wait(bad, b0 + 2, 5000) &&
		   rx_count_body(bad, "fourth", 404) == 1 &&
		   rx_count_body(bad, "fifth", 200) == 1,
	   "a 404 is an answer: the next message follows");
}

/* Waits (bounded) until `needle` was answered `status` n times. */
static bool got_n(struct rx *rx, const char *needle, int status, size_t n)
{
	for (int i = 0; i < 50; i++) {
		if (rx_count_body(rx, needle, status) >= n)
			return true;
		rx_wait(rx, rx_count(rx) + 1, 100);
	}
	return false;
}

/* A subscriber that is down across a restart gets what it missed. */
static void test_restart(struct rx *rx)
{
	subscribe("keep", sub_body(rx, "/keep", NULL));
	post("keep", "{\"ttl\": 3000, \"body\": \"k1\"}");
	ok(got_n(rx, "k1", 200, 1), "k1 is delivered");
	rx_answer(rx, 500);
	post("keep", "{\"ttl\": 3000, \"body\": \"k2\"}");
	ok(got_n(rx, "k2", 500, 1), "k2 fails while the receiver is down");
	hh_stop(&srv);
	rx_answer(rx, 200);
	hh_restart(&srv);
	hh_client_close(&c);
	hh_client_init(&c, &srv, HH_CLIENT_A, "projA");
	ok(got_n(rx, "k2", 200, 1), "after a restart, k2 is delivered");
	post("keep", "{\"ttl\": 3000, \"body\": \"k3\"}");
	ok(got_n(rx, "k3", 200, 1), "and what is posted after");
	is((int)rx_count_body(rx, "k2", 200), 1, "k2 once");
	ok(rx_count_body(rx, "k1", 200) <= 2,
	   "k1 at most once more (at least once, never lost)");
}

static void test_lifecycle(struct rx *rx)
{
	struct hh_resp r = HH_RESP_INIT;
	char id[64];
	size_t n0;

	/* ttl: gone when it passed, and no longer delivered. */
	snprintf(id, sizeof(id), "%s",
		 subscribe("tq", sub_body(rx, "/short", "\"ttl\": 60")));
	subscribe("tq", sub_body(rx, "/long", NULL));
	hh_clock_advance(&srv, 61 * 1000);
	hh_call(&c, &r, "GET", hh_fmt("/v2/queues/tq/subscriptions/%s", id),
		NULL);
	is(r.status, 404, "a subscription whose ttl passed is gone");
	n0 = rx_count(rx);
	post("tq", "{\"ttl\": 3000, \"body\": \"after-ttl\"}");
	ok(rx_wait(rx, n0 + 1, 5000), "the live one gets the message");
	ok(!rx_wait(rx, n0 + 2, 1000), "the expired one does not");

	/* purge of subscriptions, and a queue deleted takes its own. */
	subscribe("pq", sub_body(rx, "/p1", NULL));
	subscribe("pq", sub_body(rx, "/p2", NULL));
	hh_call(&c, &r, "POST", "/v2/queues/pq/purge",
		"{\"resource_types\": [\"subscriptions\"]}");
	is(r.status, 204, "purge of subscriptions");
	hh_call(&c, &r, "GET", "/v2/queues/pq/subscriptions", NULL);
	is(hh_len(r.json, "subscriptions"), 0, "removes them");
	subscribe("pq", sub_body(rx, "/p3", NULL));
	hh_call(&c, &r, "DELETE", "/v2/queues/pq", NULL);
	hh_call(&c, &r, "GET", "/v2/queues/pq/subscriptions", NULL);
	is(hh_len(r.json, "subscriptions"), 0,
	   "deleting the queue deletes its subscriptions");
	n0 = rx_count(rx);
	post("pq", "{\"ttl\": 3000, \"body\": \"recreated\"}");
	ok(!rx_wait(rx, n0 + 1, 1000), "and they deliver nothing more");
	hh_resp_free(&r);
}

/* Topics are fed to subscriptions the same way, apart from queues. */
static void test_topic(struct rx *rx)
{
	struct hh_resp r = HH_RESP_INIT;

	hh_call(&c, &r, "PUT", "/v2/topics/tt", NULL);
	hh_call(&c, &r, "POST", "/v2/topics/tt/subscriptions",
		sub_body(rx, "/topic", NULL));
	is(r.status, 201, "a topic's subscription is created");
	is_str(hh_header(&r, "Location"), "/v2/topics/tt/subscriptions",
	       "at the topic's path");
	hh_call(&c, &r, "GET", "/v2/topics/tt/subscriptions", NULL);
	is(hh_len(r.json, "subscriptions"), 1, "listed under the topic");
	hh_call(&c, &r, "GET", "/v2/queues/tt/subscriptions", NULL);
	is(hh_len(r.json, "subscriptions"), 0, "not under a queue of its name");
	hh_call(&c, &r, "POST", "/v2/topics/tt/messages",
		"{\"messages\": [{\"ttl\": 300, \"body\": \"to-topic\"}]}");
	is(r.status, 201, "a post to the topic");
	ok(got_n(rx, "to-topic", 200, 1), "reaches the topic's subscriber");
	bool named = false;
	for (size_t i = 0; i < rx_count(rx); i++)
		named |= strstr(rx_get(rx, i)->body, "to-topic") &&
			 strstr(rx_get(rx, i)->body, "\"queue_name\": \"tt\"");
	ok(named, "named by the topic");
	hh_call(&c, &r, "POST", "/v2/queues/tt/messages",
		"{\"messages\": [{\"ttl\": 300, \"body\": \"to-queue\"}]}");
	hh_call(&c, &r, "POST", "/v2/topics/tt/messages",
		"{\"messages\": [{\"ttl\": 300, \"body\": \"topic-2\"}]}");
	ok(got_n(rx, "topic-2", 200, 1) &&
		   rx_count_body(rx, "to-queue", 200) == 0,
	   "a queue of the same name feeds it nothing");
	hh_resp_free(&r);
}

/* Over WebSocket: a subscriber URL makes a stored webhook subscription,
 * listed beside the connection's own. */
static void test_websocket(struct rx *rx)
{
	const char *hdrs = "{\"Client-ID\": \"" HH_CLIENT_A "\", "
			   "\"X-Project-ID\": \"projA\"}";
	struct wsc w;
	json_t *f;
	char hook[64], own[64];

	ok(wsc_open(&w, &srv, "/v2/ws", NULL), "a WebSocket connection");
	f = act(&w, "subscription_create", hdrs,
		hh_fmt("{\"queue_name\": \"wq\", \"subscriber\": "
		       "\"http://127.0.0.1:%d/ws-hook\", \"ttl\": 600}",
		       rx_port(rx)));
	ok(hh_geti(f, "headers.status") == 201 &&
		   hh_gets(f, "body.subscription_id") &&
		   strcmp(hh_gets(f, "body.message"),
			  "Subscription wq created.") == 0,
	   "subscription_create with a subscriber: 201, stored");
	hh_copy(hook, sizeof(hook), hh_gets(f, "body.subscription_id"));
	json_decref(f);
	f = act(&w, "subscription_create", hdrs,
		hh_fmt("{\"queue_name\": \"wq\", \"subscriber\": "
		       "\"http://127.0.0.1:%d/ws-hook\"}", rx_port(rx)));
	is(hh_geti(f, "headers.status"), 201,
	   "the same subscriber again, unconfirmed: 201");
	json_decref(f);
	f = act(&w, "subscription_create", hdrs,
		"{\"queue_name\": \"wq\", \"subscriber\": \"ftp://x\"}");
	is(hh_geti(f, "headers.status"), 400, "a bad scheme: 400");
	json_decref(f);
	f = act(&w, "subscription_create", hdrs, "{\"queue_name\": \"wq\"}");
	hh_copy(own, sizeof(own), hh_gets(f, "body.subscription_id"));
	json_decref(f);
	f = act(&w, "subscription_list", hdrs, "{\"queue_name\": \"wq\"}");
	ok(hh_len(f, "body.subscriptions") == 2 &&
		   strcmp(hh_gets(f, "body.subscriptions.0.id"), hook) == 0 &&
		   strcmp(hh_gets(f, "body.subscriptions.1.id"), own) == 0,
	   "subscription_list: the stored one, then the connection's");
	json_decref(f);
	f = act(&w, "subscription_get", hdrs,
		hh_fmt("{\"queue_name\": \"wq\", \"subscription_id\": "
		       "\"%s\"}", hook));
	ok(hh_geti(f, "headers.status") == 200 &&
		   hh_geti(f, "body.ttl") == 600 &&
		   strstr(hh_gets(f, "body.subscriber"), "/ws-hook"),
	   "subscription_get of the stored one");
	json_decref(f);
	f = act(&w, "message_post", hdrs,
		"{\"queue_name\": \"wq\", \"messages\": [{\"body\": "
		"\"over-ws\", \"ttl\": 60}]}");
	json_decref(f);
	ok(got_n(rx, "over-ws", 200, 1), "the webhook is delivered to");
	f = act(&w, "subscription_delete", hdrs,
		hh_fmt("{\"queue_name\": \"wq\", \"subscription_id\": "
		       "\"%s\"}", hook));
	ok(hh_geti(f, "headers.status") == 204 &&
		   strcmp(hh_gets(f, "body"),
			  hh_fmt("Subscription %s removed.", hook)) == 0,
	   "subscription_delete of the stored one");
	json_decref(f);
	f = act(&w, "subscription_get", hdrs,
		hh_fmt("{\"queue_name\": \"wq\", \"subscription_id\": "
		       "\"%s\"}", hook));
	ok(hh_geti(f, "headers.status") == 404 &&
		   strcmp(hh_gets(f, "body.error"),
			  hh_fmt("Subscription %s does not exist.", hook)) == 0,
	   "then it is gone: 404 with Zaqar's texts");
	json_decref(f);
	wsc_close(&w);
}

/* ----------------------------------------------------------- allowlist */

static void test_allowlist_default(void)
{
	struct hh_server d;
	struct hh_client dc;
	struct hh_resp r = HH_RESP_INIT;
	struct rx *rx = rx_start();
	const char *refused[] = {"http://127.0.0.1:1/x", "http://10.1.2.3/x",
				 "http://[::1]:80/x", "http://192.168.0.1/x",
				 "http://169.254.169.254/latest",
				 "http://[::ffff:127.0.0.1]/x",
				 "http://user@127.0.0.2/x"};

	hh_start(&d, NULL);
	hh_client_init(&dc, &d, HH_CLIENT_A, "projA");
	for (size_t i = 0; i < sizeof(refused) / sizeof(*refused); i++) {
		hh_call(&dc, &r, "POST", "/v2/queues/aq/subscriptions",
			hh_fmt("{\"subscriber\": \"%s\"}", refused[i]));
		is(r.status, 400, hh_fmt("by default %s is refused", refused[i]));
		ok(r.json && strstr(hh_gets(r.json, "description"),
				    "webhook allowlist"),
		   "saying why");
	}
	hh_call(&dc, &r, "POST", "/v2/queues/unposted/subscriptions",
		"{\"subscriber\": \"http://192.0.32.10/x\"}");
	is(r.status, 201, "a public address is allowed (never posted to)");
	/* A name passes at creation; its address is checked at delivery. */
	hh_call(&dc, &r, "POST", "/v2/queues/aq/subscriptions",
		hh_fmt("{\"subscriber\": \"http://localhost:%d/x\"}",
		       rx_port(rx)));
	is(r.status, 201, "a host name is accepted at creation");
	hh_call(&dc, &r, "POST", "/v2/queues/aq/messages",
		"{\"messages\": [{\"body\": 1}]}");
	ok(log_has(&d, "is not allowed by the server's webhook allowlist"),
	   "its loopback address is refused at delivery");
	is((int)rx_count(rx), 0, "nothing reached the receiver");
	hh_resp_free(&r);
	hh_client_close(&dc);
	hh_discard(&d);
	rx_stop(rx);
}

static void test_allowlist_narrow(struct rx *rx)
{
	const char *args[] = {"--webhook-allow", "localhost", NULL};
	struct hh_server d;
	struct hh_client dc;
	struct hh_resp r = HH_RESP_INIT;
	size_t n0 = rx_count(rx);

	hh_start(&d, args);
	hh_client_init(&dc, &d, HH_CLIENT_A, "projA");
	hh_call(&dc, &r, "POST", "/v2/queues/nq/subscriptions",
		"{\"subscriber\": \"http://192.0.32.10/x\"}");
	is(r.status, 400, "an allowlist without \"public\" refuses public "
	   "addresses");
	hh_call(&dc, &r, "POST", "/v2/queues/nq/subscriptions",
		hh_fmt("{\"subscriber\": \"http://localhost:%d/named\"}",
		       rx_port(rx)));
	is(r.status, 201, "a listed name is allowed");
	hh_call(&dc, &r, "POST", "/v2/queues/nq/messages",
		"{\"messages\": [{\"body\": \"by-name\"}]}");
	ok(rx_wait(rx, n0 + 1, 5000) &&
		   rx_count_body(rx, "by-name", 200) == 1,
	   "and delivered to, whatever it resolves to");
	hh_resp_free(&r);
	hh_client_close(&dc);
	hh_discard(&d);
}

/* --------------------------------------------------------- confirmation */

static void test_confirmation(struct rx *rx)
{
	const char *args[] = {"--require-confirmation", "true", "--signing-key",
			      "s3cret", "--webhook-allow", "127.0.0.1", NULL};
	struct hh_server d;
	struct hh_client dc;
	struct hh_resp r = HH_RESP_INIT;
	size_t n0 = rx_count(rx);
	char id[64];
	json_t *j;

	hh_start(&d, args);
	hh_client_init(&dc, &d, HH_CLIENT_A, "projA");
	hh_call(&dc, &r, "POST", "/v2/queues/cq/subscriptions",
		sub_body(rx, "/confirm-me", NULL));
	hh_copy(id, sizeof(id), hh_gets(r.json, "subscription_id"));
	ok(rx_wait(rx, n0 + 1, 5000), "a new subscription gets a "
	   "confirmation request");
	j = json_loads(rx_get(rx, n0)->body, 0, NULL);
	ok(j && strcmp(hh_gets(j, "Message_Type"),
		       "SubscriptionConfirmation") == 0 &&
		   strcmp(hh_gets(j, "URL-Methods"), "PUT") == 0 &&
		   strcmp(hh_gets(j, "URL-Paths"),
			  hh_fmt("/v2/queues/cq/subscriptions/%s/confirm",
				 id)) == 0 &&
		   strcmp(hh_gets(j, "X-Project-ID"), "projA") == 0 &&
		   hh_gets(j, "URL-Signature") && hh_gets(j, "URL-Expires") &&
		   json_is_true(hh_get(j, "SubscribeBody.confirmed")),
	   "Zaqar's confirmation message with a pre-signed URL");
	hh_call(&dc, &r, "POST", "/v2/queues/cq/messages",
		"{\"messages\": [{\"body\": \"before-confirm\"}]}");

	/* The subscriber confirms with the signed URL alone. */
	struct hh_client anon;
	hh_client_init(&anon, &d, NULL, NULL);
	hh_callh(&anon, &r, "PUT", hh_gets(j, "URL-Paths"),
		 hh_fmt("URL-Signature: %s\r\nURL-Expires: %s\r\n"
			"URL-Methods: PUT\r\nURL-Paths: %s\r\n"
			"X-Project-Id: projA\r\nClient-ID: %s\r\n",
			hh_gets(j, "URL-Signature"), hh_gets(j, "URL-Expires"),
			hh_gets(j, "URL-Paths"), HH_CLIENT_B),
		 "{\"confirmed\": true}");
	is(r.status, 204, "the pre-signed confirm is accepted");
	hh_client_close(&anon);
	json_decref(j);
	hh_call(&dc, &r, "POST", "/v2/queues/cq/messages",
		"{\"messages\": [{\"body\": \"after-confirm\"}]}");
	ok(rx_wait(rx, n0 + 2, 5000) &&
		   rx_count_body(rx, "after-confirm", 200) == 1,
	   "once confirmed, messages are delivered");
	is((int)rx_count_body(rx, "before-confirm", 200), 0,
	   "what came before the confirmation is not");

	hh_call(&dc, &r, "PUT",
		hh_fmt("/v2/queues/cq/subscriptions/%s/confirm", id),
		"{\"confirmed\": false}");
	is(r.status, 204, "unconfirm");
	ok(rx_wait(rx, n0 + 3, 5000) &&
		   rx_count_body(rx, "UnsubscribeConfirmation", 200) == 1,
	   "the subscriber is told it unsubscribed");
	hh_call(&dc, &r, "POST", "/v2/queues/cq/messages",
		"{\"messages\": [{\"body\": \"unconfirmed\"}]}");
	ok(!rx_wait(rx, n0 + 4, 1000), "and gets no more messages");
	hh_resp_free(&r);
	hh_client_close(&dc);
	hh_discard(&d);
}

int main(void)
{
	const char *args[] = {"--webhook-allow", "public,127.0.0.1",
			      "--log-level", getenv("WH_DEBUG") ? "debug" : "warn",
			      NULL};
	struct rx *rx = rx_start(), *bad = rx_start();

	hh_start(&srv, args);
	hh_client_init(&c, &srv, HH_CLIENT_A, "projA");
	test_api(rx);
	test_delivery(rx);
	test_retries(bad, rx);
	test_lifecycle(rx);
	test_restart(rx);
	test_topic(rx);
	test_websocket(rx);
	test_allowlist_default();
	test_allowlist_narrow(rx);
	test_confirmation(rx);

	hh_client_close(&c);
	rx_stop(bad);
	rx_stop(rx);
	return hh_finish(&srv);
}
