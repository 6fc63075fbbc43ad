/*
 * test_dlq.c - dead-letter queues (zaqar-api.md §6.2, §7.3;
 * transcript_v2_dlq.txt) through the real server, and Herald's
 * extensions around them (docs/api.md): redrive, retry backoff
 * (_retry_delay, _retry_delay_max), release with a delay (DELETE of a
 * claim with ?delay=N), the refusal of a renew of an expired claim, and
 * the checks of the worker settings in a queue's metadata.
 *
 * Time moves with the test clock (hh_clock_advance), never by sleeping.
 */
#include "harness.h"

#include <string.h>

static struct hh_server srv;
static struct hh_client a; /* poster */
static struct hh_client w; /* worker */
static struct hh_resp r = HH_RESP_INIT;

/* The claim id of the last 201 claim, from its Location. */
static char cid[128];

static int claim(const char *queue, const char *body)
{
	hh_call(&w, &r, "POST", hh_fmt("/v2/queues/%s/claims", queue), body);
	if (r.status == 201)
		hh_copy(cid, sizeof(cid), hh_href_id(hh_header(&r, "location")));
	return r.status;
}

/* The transcript's sequence; Herald moves the message where Zaqar's
 * redis driver loses it. */
static void transcript(void)
{
	hh_call(&a, &r, "PUT", "/v2/queues/qm",
		"{\"_max_claim_count\": 1, \"_dead_letter_queue\": \"dlq\","
		" \"_dead_letter_queue_messages_ttl\": 120}");
	is(r.status, 201, "queue qm with _max_claim_count=1, "
			  "_dead_letter_queue=dlq, ttl 120");
	hh_call(&a, &r, "POST", "/v2/queues/qm/messages",
		"{\"messages\": [{\"ttl\": 300, \"body\": \"poison\"}]}");
	is(r.status, 201, "post the poison message");
	is(claim("qm", NULL), 201, "claim #1 takes it");
	is_str(hh_gets(r.json, "messages.0.body"), "poison", "its body");
	hh_call(&w, &r, "DELETE", hh_fmt("/v2/queues/qm/claims/%s", cid), NULL);
	is(r.status, 204, "release");
	is(claim("qm", NULL), 204,
	   "claim #2: claim_count reached the max, moved: 204");
	is(r.body_len, 0, "the 204 has no body");
	hh_call(&a, &r, "GET", "/v2/queues/qm/stats", NULL);
	ok(hh_json_eq(&r, "{\"messages\": {\"claimed\": 0, \"free\": 0, "
			  "\"total\": 0}}"),
	   "qm stats: empty, as Zaqar's");
	hh_call(&a, &r, "GET", "/v2/queues/dlq/messages?echo=true", NULL);
	is(r.status, 200, "dlq list");
	is(hh_len(r.json, "messages"), 1,
	   "the message really arrived in the DLQ (Zaqar's redis: lost)");
	is_str(hh_gets(r.json, "messages.0.body"), "poison",
	       "with its body");
	is(hh_geti(r.json, "messages.0.ttl"), 120,
	   "with _dead_letter_queue_messages_ttl");
	hh_call(&a, &r, "GET", "/v2/queues", NULL);
	ok(strstr(hh_dump(r.json), "\"dlq\"") != NULL,
	   "the DLQ was created, as a queue of the project");
}

static void redrive(void)
{
	hh_call(&a, &r, "POST", "/v2/queues/dlq/redrive", "{}");
	is(r.status, 400, "redrive without a destination is 400");
	hh_call(&a, &r, "POST", "/v2/queues/dlq/redrive",
		"{\"destination\": \"dlq\"}");
	is(r.status, 400, "redrive onto itself is 400");
	hh_call(&a, &r, "POST", "/v2/queues/dlq/redrive",
		"{\"destination\": \"qm\", \"limit\": 0}");
	is(r.status, 400, "limit 0 is 400");
	hh_call(&a, &r, "POST", "/v2/queues/dlq/redrive",
		"{\"destination\": \"qm\", \"limit\": 10}");
	is(r.status, 200, "redrive");
	ok(hh_json_eq(&r, "{\"moved\": 1, \"more\": false}"),
	   "one moved, nothing more");
	is(claim("qm", NULL), 201, "the source can claim it again");
	is_str(hh_gets(r.json, "messages.0.body"), "poison", "same body");
	hh_call(&w, &r, "DELETE",
		hh_fmt("/v2/queues/qm/messages/%s?claim_id=%s",
		       hh_href_id(hh_gets(r.json, "messages.0.href")), cid),
		NULL);
	is(r.status, 204, "and the worker deletes it");
}

static void backoff(void)
{
	hh_call(&a, &r, "PUT", "/v2/queues/rq",
		"{\"_retry_delay\": 10, \"_retry_delay_max\": 25}");
	is(r.status, 201, "queue rq with _retry_delay 10, max 25");
	hh_call(&a, &r, "POST", "/v2/queues/rq/messages",
		"{\"messages\": [{\"ttl\": 3600, \"body\": \"job\"}]}");
	is(claim("rq", NULL), 201, "claim #1");
	hh_call(&w, &r, "DELETE", hh_fmt("/v2/queues/rq/claims/%s", cid), NULL);
	is(r.status, 204, "release");
	is(claim("rq", NULL), 204, "not claimable right after the release");
	hh_clock_advance(&srv, 9999);
	is(claim("rq", NULL), 204, "nor at 9.999 s");
	hh_clock_advance(&srv, 1);
	is(claim("rq", NULL), 201, "claimable at 10 s");
	/* Expires after 60 s: then 20 s of backoff from its expiry. */
	hh_call(&w, &r, "PATCH", hh_fmt("/v2/queues/rq/claims/%s", cid),
		"{\"ttl\": 60}");
	is(r.status, 204, "a renew");
	hh_clock_advance(&srv, 60000 + 19999);
	is(claim("rq", NULL), 204, "an expired claim's message waits 20 s");
	hh_clock_advance(&srv, 1);
	is(claim("rq", NULL), 201, "claimable at expiry + 20 s");

	hh_call(&w, &r, "DELETE",
		hh_fmt("/v2/queues/rq/claims/%s?delay=-1", cid), NULL);
	is(r.status, 400, "a negative release delay is 400");
	hh_call(&w, &r, "DELETE",
		hh_fmt("/v2/queues/rq/claims/%s?delay=30", cid), NULL);
	is(r.status, 204, "release with ?delay=30");
	hh_clock_advance(&srv, 29999);
	is(claim("rq", NULL), 204, "not claimable at 29.999 s");
	hh_clock_advance(&srv, 1);
	is(claim("rq", NULL), 201, "claimable at 30 s");
}

static void renew_expired(void)
{
	char old[128];

	hh_call(&a, &r, "POST", "/v2/queues/rn/messages",
		"{\"messages\": [{\"ttl\": 3600, \"body\": \"r\"}]}");
	is(claim("rn", "{\"ttl\": 60}"), 201, "a claim of 60 s");
	hh_copy(old, sizeof(old), cid);
	for (int i = 0; i < 20; i++) {
		hh_clock_advance(&srv, 30000);
		hh_call(&w, &r, "PATCH", hh_fmt("/v2/queues/rn/claims/%s", old),
			"{\"ttl\": 60}");
		if (r.status != 204)
			break;
	}
	is(r.status, 204, "renewed 20 times, every 30 s, past its first ttl");
	hh_clock_advance(&srv, 60001);
	hh_call(&w, &r, "PATCH", hh_fmt("/v2/queues/rn/claims/%s", old),
		"{\"ttl\": 60}");
	expect_error(&r, 404, "Not found",
		     hh_fmt("Claim %s does not exist in queue rn for project "
			    "projA", old),
		     "a renew of an expired claim is 404 with a JSON body");
}

#define PATCH_TYPE "Content-Type: application/openstack-messaging-v2.0-json-patch\r\n"

/* One unusable worker setting: 400 on PUT (Zaqar's "Invalid API
 * request"), and on a PATCH that adds it to a valid queue ("Invalid
 * request body"), each with `desc`; the queue keeps its metadata. */
static void refused(const char *key, const char *value, const char *desc)
{
	hh_call(&a, &r, "PUT", "/v2/queues/vq", hh_fmt("{\"%s\": %s}", key, value));
	expect_error(&r, 400, "Invalid API request", desc,
		     hh_fmt("PUT %s: %s", key, value));
	hh_callh(&a, &r, "PATCH", "/v2/queues/vq", PATCH_TYPE,
		 hh_fmt("[{\"op\": \"add\", \"path\": \"/metadata/%s\", "
			"\"value\": %s}]", key, value));
	expect_error(&r, 400, "Invalid request body", desc,
		     hh_fmt("PATCH %s: %s", key, value));
}

static void settings(void)
{
	const char *ttl = "The TTL for a message may not exceed 1209600 seconds, "
			  "and must be at least 60 seconds long.";
	const char *count = "_max_claim_count must be a positive integer (at "
			    "most 4294967295), or 0 or null for none.";
	const char *dlq = "_dead_letter_queue must be a queue name: 1 to 64 "
			  "ASCII letters, digits, underscores and hyphens.";
	const char *delay = "_retry_delay must be an integer number of seconds "
			    "from 0 (off) to 43200.";
	const char *dmax = "_retry_delay_max must be an integer number of "
			   "seconds from 1 to 43200.";
	const char *window = "_idempotency_window must be an integer number of "
			     "seconds from 0 (off) to 86400.";

	hh_call(&a, &r, "PUT", "/v2/queues/vq", "{\"keep\": 1}");
	is(r.status, 201, "settings: a valid queue vq");
	/* Zaqar's own checks, its texts */
	refused("_max_claim_count", "\"3\"", "_max_claim_count must be integer.");
	refused("_dead_letter_queue_messages_ttl", "\"120\"",
		"_dead_letter_queue_messages_ttl must be integer.");
	refused("_dead_letter_queue_messages_ttl", "59", ttl);
	refused("_dead_letter_queue_messages_ttl", "0", ttl);
	refused("_dead_letter_queue_messages_ttl", "1209601", ttl);
	/* Herald's, where Zaqar has none */
	refused("_max_claim_count", "-1", count);
	refused("_max_claim_count", "4294967296", count);
	refused("_dead_letter_queue", "5", dlq);
	refused("_dead_letter_queue", "\"no/such\"", dlq);
	refused("_dead_letter_queue", "\"vq\"",
		"_dead_letter_queue must name another queue than vq itself.");
	refused("_retry_delay", "-1", delay);
	refused("_retry_delay", "43201", delay);
	refused("_retry_delay", "\"10\"", delay);
	refused("_retry_delay", "1.5", delay);
	refused("_retry_delay_max", "0", dmax);
	refused("_retry_delay_max", "true", dmax);
	refused("_retry_delay_max", "43201", dmax);
	refused("_idempotency_window", "-1", window);
	refused("_idempotency_window", "[]", window);
	hh_call(&a, &r, "GET", "/v2/queues/vq", NULL);
	ok(hh_geti(r.json, "keep") == 1 && !hh_get(r.json, "_retry_delay") &&
		   json_is_null(hh_get(r.json, "_max_claim_count")),
	   "the refused settings were not stored: %s", r.body);

	hh_call(&a, &r, "PUT", "/v2/queues/vq",
		"{\"_max_claim_count\": 3, \"_dead_letter_queue\": \"vq-dead\", "
		"\"_dead_letter_queue_messages_ttl\": 60, \"_retry_delay\": 43200, "
		"\"_retry_delay_max\": 1, \"_idempotency_window\": 0}");
	is(r.status, 204, "the bounds themselves are fine");
	hh_call(&a, &r, "PUT", "/v2/queues/vq",
		"{\"_max_claim_count\": 0, \"_dead_letter_queue\": \"\", "
		"\"_dead_letter_queue_messages_ttl\": null, \"_retry_delay\": 0, "
		"\"_retry_delay_max\": null}");
	is(r.status, 204, "and so are none: 0, \"\" and null");
}

int main(void)
{
	hh_start(&srv, NULL);
	hh_client_init(&a, &srv, HH_CLIENT_A, "projA");
	hh_client_init(&w, &srv, HH_CLIENT_B, "projA");

	transcript();
	redrive();
	backoff();
	renew_expired();
	settings();

	hh_resp_free(&r);
	hh_client_close(&a);
	hh_client_close(&w);
	return hh_finish(&srv);
}
