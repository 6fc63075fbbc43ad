/*
 * test_ws.c - the WebSocket endpoints over the real server: Zaqar's
 * actions on /v2/ws (the transcript's sequence and its errors) and at /
 * (where Zaqar's WebSocket transport serves them), subscribe
 * (backlog then live, resume after a reconnect, echo suppression, gaps
 * after expiry, unsubscribe), the stream URL, Zaqar-style notifications,
 * the frame size limit, one answer to a malformed marker on every live
 * transport, and many subscribers receiving every message once and in
 * order.
 *
 * The client is wsc.h's minimal RFC 6455 client, so tests can also send
 * what a library would not: a JSON array, a binary frame, an oversize
 * frame.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "wsc.h"

/* Buffering the backlog for 20 stalled subscribers would grow the heap by
 * 20 x 20 MB; what they may cost is a batch and a partial frame each plus
 * the allocator's slack, which is noisy (glibc keeps freed 50 KB request
 * bodies and the writer thread's arena; up to 16.5 MB seen on a loaded
 * machine). The bound sits well between the two. */
#define STALLED_GROWTH_MAX_KB (64 * 1024)

#define PROJECT "wsproj"
#define HDRS "{\"Client-ID\": \"" HH_CLIENT_A "\", \"X-Project-ID\": \"" PROJECT "\"}"
#define HDRS_ROOT "{\"Client-ID\": \"" HH_CLIENT_B "\", \"X-Project-ID\": \"wsroot\"}"
#define HDRS_B "{\"Client-ID\": \"" HH_CLIENT_B "\", \"X-Project-ID\": \"" PROJECT "\"}"

/* s, or "" when NULL. */
static const char *S(const char *s)
{
	return s ? s : "";
}

static int status_of(json_t *resp)
{
	return (int)hh_geti(resp, "headers.status");
}

/* ------------------------------------------------------------ the tests */

static void transcript(struct hh_server *srv)
{
	struct wsc w, w2;
	json_t *r, *req;
	char mid0[64], mid1[64], cid[64], sid[64];

	ok(wsc_open(&w, srv, "/v2/ws", "herald.v1"), "/v2/ws upgrades with "
	   "subprotocol herald.v1");

	r = act(&w, "queue_list", HDRS, "{}");
	is(status_of(r), 200, "queue_list: 200");
	ok(hh_len(r, "body.queues") == 0, "no queues yet");
	req = json_pack("{s:s, s:{}, s:{s:s, s:s}, s:s}", "action",
			"queue_list", "body", "headers", "Client-ID", HH_CLIENT_A,
			"X-Project-ID", PROJECT, "api", "v2");
	ok(json_equal(json_object_get(r, "request"), req),
	   "the request is echoed with api v2");
	json_decref(req);
	json_decref(r);

	r = act(&w, "queue_create", HDRS,
		"{\"queue_name\": \"wsq\", \"metadata\": {\"a\": 1}}");
	is(status_of(r), 201, "queue_create: 201");
	is_str(hh_gets(r, "body"), "Queue wsq created.", "body says so");
	json_decref(r);
	r = act(&w, "queue_create", HDRS, "{\"queue_name\": \"wsq\"}");
	is(status_of(r), 204, "again: 204");
	is_str(hh_gets(r, "body"), "Queue wsq created.", "same body");
	json_decref(r);

	r = act(&w, "queue_get", HDRS, "{\"queue_name\": \"wsq\"}");
	is(status_of(r), 200, "queue_get: 200");
	ok(hh_keys_are(hh_get(r, "body"), "a") && hh_geti(r, "body.a") == 1,
	   "the metadata, no reserved defaults");
	json_decref(r);
	r = act(&w, "queue_get", HDRS, "{\"queue_name\": \"nosuch\"}");
	ok(status_of(r) == 200 && hh_keys_are(hh_get(r, "body"), ""),
	   "queue_get of a missing queue: 200 {}");
	json_decref(r);

	r = act(&w, "queue_list", HDRS, "{\"limit\": 5, \"detailed\": true}");
	is(status_of(r), 200, "detailed queue_list: 200");
	ok(hh_keys_are(hh_get(r, "body.queues.0"), "name,metadata") &&
	   hh_geti(r, "body.queues.0.metadata.a") == 1,
	   "queues as {name, metadata}, no href");
	json_decref(r);

	r = act(&w, "message_post", HDRS,
		"{\"queue_name\": \"wsq\", \"messages\": [{\"body\": {\"k\": 1}, "
		"\"ttl\": 120}, {\"body\": \"two\"}]}");
	is(status_of(r), 201, "message_post: 201");
	is(hh_len(r, "body.message_ids"), 2, "two message ids");
	hh_copy(mid0, sizeof(mid0), hh_gets(r, "body.message_ids.0"));
	hh_copy(mid1, sizeof(mid1), hh_gets(r, "body.message_ids.1"));
	json_decref(r);

	r = act(&w, "message_list", HDRS,
		"{\"queue_name\": \"wsq\", \"echo\": true}");
	is(status_of(r), 200, "message_list: 200");
	is(hh_len(r, "body.messages"), 2, "both messages");
	ok(hh_keys_are(hh_get(r, "body.messages.0"), "id,claim_id,ttl,age,body"),
	   "message objects are {id, claim_id, ttl, age, body}");
	ok(json_is_null(hh_get(r, "body.messages.0.claim_id")) &&
	   hh_geti(r, "body.messages.0.ttl") == 120 &&
	   hh_geti(r, "body.messages.1.ttl") == 3600,
	   "claim_id null, ttls as posted and default");
	ok(hh_keys_are(hh_get(r, "body"), "messages"), "no links");
	json_decref(r);

	r = act(&w, "message_get", HDRS,
		hh_fmt("{\"queue_name\": \"wsq\", \"message_id\": \"%s\"}", mid0));
	is(status_of(r), 200, "message_get: 200");
	is_str(hh_gets(r, "body.messages.id"), mid0,
	       "body.messages is the one message");
	json_decref(r);

	r = act(&w, "message_get_many", HDRS,
		hh_fmt("{\"queue_name\": \"wsq\", \"message_ids\": [\"%s\", "
		       "\"%s\"]}", mid0, mid1));
	ok(status_of(r) == 200 && hh_len(r, "body.messages") == 2,
	   "message_get_many: 200, both");
	json_decref(r);

	r = act(&w, "claim_create", HDRS,
		"{\"queue_name\": \"wsq\", \"ttl\": 60, \"grace\": 60, "
		"\"limit\": 1}");
	is(status_of(r), 201, "claim_create: 201");
	hh_copy(cid, sizeof(cid), hh_gets(r, "body.claim_id"));
	ok(strlen(cid) == 36, "a claim id");
	ok(hh_len(r, "body.messages") == 1 &&
	   strcmp(S(hh_gets(r, "body.messages.0.claim_id")), cid) == 0,
	   "one message, carrying the claim id");
	json_decref(r);

	r = act(&w, "claim_get", HDRS,
		hh_fmt("{\"queue_name\": \"wsq\", \"claim_id\": \"%s\"}", cid));
	ok(status_of(r) == 200 && hh_keys_are(hh_get(r, "body"),
					      "age,ttl,messages") &&
	   hh_geti(r, "body.ttl") == 60, "claim_get: 200 {age, ttl, messages}");
	json_decref(r);

	r = act(&w, "claim_update", HDRS,
		hh_fmt("{\"queue_name\": \"wsq\", \"claim_id\": \"%s\", "
		       "\"ttl\": 120}", cid));
	is(status_of(r), 204, "claim_update: 204");
	is_str(hh_gets(r, "body"), hh_fmt("Claim %s updated.", cid),
	       "Claim <id> updated.");
	json_decref(r);

	r = act(&w, "message_delete", HDRS,
		hh_fmt("{\"queue_name\": \"wsq\", \"message_id\": \"%s\"}", mid0));
	is(status_of(r), 403, "deleting a claimed message without its claim: 403");
	is_str(hh_gets(r, "body.exception"), hh_fmt("Message %s is claimed", mid0),
	       "exception names the message");
	is_str(hh_gets(r, "body.error"), "This message is claimed; it cannot be "
	       "deleted without a valid claim ID.", "error explains");
	json_decref(r);
	r = act(&w, "message_delete", HDRS,
		hh_fmt("{\"queue_name\": \"wsq\", \"message_id\": \"%s\", "
		       "\"claim_id\": \"%s\"}", mid0, cid));
	ok(status_of(r) == 204 && hh_keys_are(hh_get(r, "body"), ""),
	   "with the claim: 204 {}");
	json_decref(r);

	r = act(&w, "claim_delete", HDRS,
		hh_fmt("{\"queue_name\": \"wsq\", \"claim_id\": \"%s\"}", cid));
	ok(status_of(r) == 204 &&
	   strcmp(S(hh_gets(r, "body")), hh_fmt("Claim %s deleted.", cid)) == 0,
	   "claim_delete: 204 Claim <id> deleted.");
	json_decref(r);

	r = act(&w, "queue_get_stats", HDRS, "{\"queue_name\": \"wsq\"}");
	ok(status_of(r) == 200 && hh_geti(r, "body.messages.total") == 1 &&
	   hh_geti(r, "body.messages.free") == 1, "queue_get_stats: 1 left");
	json_decref(r);

	r = act(&w, "message_delete_many", HDRS,
		"{\"queue_name\": \"wsq\", \"pop\": 1}");
	ok(status_of(r) == 200 && hh_len(r, "body.messages") == 1 &&
	   strcmp(S(hh_gets(r, "body.messages.0.id")), mid1) == 0,
	   "pop: 200 with the message");
	json_decref(r);
	r = act(&w, "message_delete_many", HDRS,
		hh_fmt("{\"queue_name\": \"wsq\", \"message_ids\": [\"%s\", "
		       "\"%s\"]}", mid0, mid1));
	ok(status_of(r) == 204 && hh_keys_are(hh_get(r, "body"), ""),
	   "delete by ids: 204 {}");
	json_decref(r);

	/* Errors. */
	r = act(&w, "no_such_action", HDRS, "{}");
	ok(status_of(r) == 400 && strcmp(S(hh_gets(r, "body.error")),
					 "no_such_action is not a valid action") == 0,
	   "unknown action: 400 <action> is not a valid action");
	json_decref(r);
	r = act(&w, "queue_get", "{\"X-Project-ID\": \"wsproj\"}", "{}");
	ok(status_of(r) == 400 && strcmp(S(hh_gets(r, "body.error")),
					 "Schema validation failed.") == 0,
	   "missing Client-ID: 400 Schema validation failed.");
	ok(hh_keys_are(hh_get(r, "request.headers"), "X-Project-ID"),
	   "the request's headers are echoed as sent");
	json_decref(r);
	r = act(&w, "queue_list", "{\"Client-ID\": \"" HH_CLIENT_A "\"}", "{}");
	ok(status_of(r) == 200,
	   "without X-Project-ID the default project is used, as on HTTP");
	json_decref(r);
	r = act(&w, "queue_list", "{\"Client-ID\": \"" HH_CLIENT_A "\", "
		"\"X-Project-ID\": \"\"}", "{}");
	ok(status_of(r) == 400, "an empty X-Project-ID is refused");
	json_decref(r);
	r = act(&w, "message_post", HDRS, "{\"queue_name\": \"wsq\"}");
	ok(status_of(r) == 400 && strcmp(S(hh_gets(r, "body.error")),
					 "Schema validation failed.") == 0,
	   "a missing required body field: schema validation failed");
	json_decref(r);
	r = act(&w, "queue_get", "{\"Client-ID\": \"nope\", \"X-Project-ID\": "
		"\"wsproj\"}", "{\"queue_name\": \"wsq\"}");
	ok(status_of(r) == 400 && hh_gets(r, "body.exception"),
	   "a malformed Client-ID: 400 with an exception");
	json_decref(r);

	wsc_send(&w, "not json");
	r = wsc_recv(&w, 5000);
	ok(status_of(r) == 400 &&
	   strncmp(S(hh_gets(r, "body.error")),
		   "Can't decode text (JSON) request.", 33) == 0,
	   "not JSON: 400 Can't decode text (JSON) request.");
	ok(json_is_null(hh_get(r, "request.action")) &&
	   hh_keys_are(hh_get(r, "request.body"), "") &&
	   strcmp(S(hh_gets(r, "request.api")), "v2") == 0,
	   "echo {action: null, body: {}, headers: {}, api: v2}");
	json_decref(r);
	wsc_send(&w, "[1,2]");
	r = wsc_recv(&w, 5000);
	ok(status_of(r) == 400 &&
	   strcmp(S(hh_gets(r, "body.error")),
		  "Unexpected body type. Expected dict or dict like.") == 0,
	   "a JSON array: 400 Unexpected body type");
	json_decref(r);
	wsc_send_op(&w, 2, "\x81\xa1", 2);
	r = wsc_recv(&w, 5000);
	ok(status_of(r) == 400, "a binary frame: 400");
	json_decref(r);

	/* Zaqar's push to the connection itself. */
	r = act(&w, "subscription_create", HDRS,
		"{\"queue_name\": \"wsq\", \"ttl\": 3600}");
	is(status_of(r), 201, "subscription_create without subscriber: 201");
	hh_copy(sid, sizeof(sid), hh_gets(r, "body.subscription_id"));
	is_str(hh_gets(r, "body.message"), "Subscription wsq created.",
	       "Subscription <q> created.");
	json_decref(r);
	r = act(&w, "subscription_list", HDRS, "{\"queue_name\": \"wsq\"}");
	ok(status_of(r) == 200 && hh_len(r, "body.subscriptions") == 1 &&
	   strcmp(S(hh_gets(r, "body.subscriptions.0.id")), sid) == 0 &&
	   hh_keys_are(hh_get(r, "body.subscriptions.0"),
		       "id,source,subscriber,ttl,age,options,confirmed"),
	   "subscription_list: 200, the subscription");
	json_decref(r);
	r = act(&w, "subscription_get", HDRS,
		hh_fmt("{\"queue_name\": \"wsq\", \"subscription_id\": \"%s\"}",
		       sid));
	ok(status_of(r) == 200 && hh_geti(r, "body.ttl") == 3600,
	   "subscription_get: 200");
	json_decref(r);

	ok(wsc_open(&w2, srv, "/v2/ws", NULL), "a second connection, with no "
	   "subprotocol (as a browser)");
	r = act(&w2, "message_post", HDRS_B,
		"{\"queue_name\": \"wsq\", \"messages\": [{\"body\": "
		"\"notify-me\", \"ttl\": 60}]}");
	is(status_of(r), 201, "it posts");
	json_decref(r);
	r = wsc_recv(&w, 5000);
	ok(r && strcmp(S(hh_gets(r, "Message_Type")), "Notification") == 0 &&
	   strcmp(S(hh_gets(r, "body")), "notify-me") == 0 &&
	   hh_geti(r, "ttl") == 60 &&
	   strcmp(S(hh_gets(r, "queue_name")), "wsq") == 0,
	   "the subscriber gets a Notification frame");
	json_decref(r);

	r = act(&w, "subscription_delete", HDRS,
		hh_fmt("{\"queue_name\": \"wsq\", \"subscription_id\": \"%s\"}",
		       sid));
	ok(status_of(r) == 204 &&
	   strcmp(S(hh_gets(r, "body")),
		  hh_fmt("Subscription %s removed.", sid)) == 0,
	   "subscription_delete: 204 Subscription <id> removed.");
	json_decref(r);

	r = act(&w, "queue_purge", HDRS, "{\"queue_name\": \"wsq\"}");
	ok(status_of(r) == 204 && hh_keys_are(hh_get(r, "body"), ""),
	   "queue_purge: 204 {}");
	json_decref(r);
	r = act(&w, "queue_delete", HDRS, "{\"queue_name\": \"wsq\"}");
	ok(status_of(r) == 204 &&
	   strcmp(S(hh_gets(r, "body")), "Queue wsq removed.") == 0,
	   "queue_delete: 204 Queue wsq removed.");
	json_decref(r);

	/* Pipelined: responses in request order, effects in order too. */
	wsc_send(&w, "{\"action\": \"message_post\", \"headers\": " HDRS ", "
		 "\"body\": {\"queue_name\": \"pipe\", \"messages\": [{\"body\": 1}]}}");
	wsc_send(&w, "{\"action\": \"message_list\", \"headers\": " HDRS ", "
		 "\"body\": {\"queue_name\": \"pipe\", \"echo\": true}}");
	wsc_send(&w, "{\"action\": \"queue_get_stats\", \"headers\": " HDRS ", "
		 "\"body\": {\"queue_name\": \"pipe\"}}");
	r = wsc_recv(&w, 5000);
	is_str(hh_gets(r, "request.action"), "message_post", "pipelined: the post's "
	       "answer first");
	json_decref(r);
	r = wsc_recv(&w, 5000);
	ok(strcmp(S(hh_gets(r, "request.action")), "message_list") == 0 &&
	   hh_len(r, "body.messages") == 1, "then the list, which sees the post");
	json_decref(r);
	r = wsc_recv(&w, 5000);
	is_str(hh_gets(r, "request.action"), "queue_get_stats", "then the stats");
	json_decref(r);

	wsc_close(&w2);
	wsc_close(&w);
}

/* Reads frames of subscription `sid` until `want` messages came (or a
 * timeout); appends their ids to ids[]. Counts gaps. */
struct got {
	char (*ids)[32];
	size_t n, cap;
	int gaps;
	long long missed;
	char marker[32];
	bool bad_order;
};

static void got_frames(struct wsc *w, struct got *g, size_t want, int timeout_ms)
{
	while (g->n < want) {
		json_t *f = wsc_recv(w, timeout_ms), *m;
		const char *ev = hh_gets(f, "event");
		size_t i;

		if (!f)
			return;
		if (ev && strcmp(ev, "gap") == 0) {
			g->gaps++;
			g->missed = json_is_integer(hh_get(f, "missed"))
					    ? hh_geti(f, "missed") : -1;
			hh_copy(g->marker, sizeof(g->marker), hh_gets(f, "marker"));
		} else if (ev && strcmp(ev, "messages") == 0) {
			json_array_foreach(json_object_get(f, "messages"), i, m) {
				const char *id = hh_gets(m, "id");

				if (g->n == g->cap) {
					g->cap = g->cap ? 2 * g->cap : 1024;
					g->ids = realloc(g->ids, g->cap * sizeof(*g->ids));
				}
				if (g->n && strcmp(g->ids[g->n - 1], S(id)) >= 0)
					g->bad_order = true;
				hh_copy(g->ids[g->n++], 32, id);
			}
			hh_copy(g->marker, sizeof(g->marker), hh_gets(f, "marker"));
		}
		json_decref(f);
	}
}

static bool quiet(struct wsc *w, int ms)
{
	char *t = wsc_recv_text(w, ms);

	if (t)
		diag("unexpected frame: %.200s", t);
	free(t);
	return t == NULL;
}

static void post_n(struct hh_client *c, const char *q, int from, int n)
{
	struct hh_resp r = HH_RESP_INIT;
	char body[8192];
	size_t len = 0;

	len += (size_t)snprintf(body + len, sizeof(body) - len, "{\"messages\": [");
	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(body + len, sizeof(body) - len,
					"%s{\"body\": {\"n\": %d}, \"ttl\": 60}",
					i ? ", " : "", from + i);
	snprintf(body + len, sizeof(body) - len, "]}");
	if (hh_call(c, &r, "POST", hh_fmt("/v2/queues/%s/messages", q), body) != 201)
		diag("post to %s: %d %s", q, r.status, r.body);
	hh_resp_free(&r);
}

static void subscribe_resume(struct hh_server *srv)
{
	struct hh_client pub;
	struct wsc w;
	struct got g = {0};
	json_t *r;
	char marker[32];

	hh_client_init(&pub, srv, HH_CLIENT_B, PROJECT);
	post_n(&pub, "sq", 0, 5);
	wsc_open(&w, srv, "/v2/ws", "herald.v1");
	r = act(&w, "subscribe", HDRS, "{\"queue_name\": \"sq\", \"from\": \"oldest\"}");
	is(status_of(r), 201, "subscribe: 201");
	ok(hh_gets(r, "body.subscription") != NULL, "with a subscription id");
	json_decref(r);
	got_frames(&w, &g, 5, 5000);
	is(g.n, 5, "the backlog of 5 comes first");
	post_n(&pub, "sq", 5, 3);
	got_frames(&w, &g, 8, 5000);
	is(g.n, 8, "then the 3 posted live");
	ok(!g.bad_order && g.gaps == 0, "in order, no gap");
	hh_copy(marker, sizeof(marker), g.marker);
	is_str(marker, g.ids[7], "the frame's marker is the last id");
	wsc_close(&w);

	post_n(&pub, "sq", 8, 4);
	wsc_open(&w, srv, "/v2/ws", "herald.v1");
	r = act(&w, "subscribe", HDRS,
		hh_fmt("{\"queue_name\": \"sq\", \"marker\": \"%s\"}", marker));
	is(status_of(r), 201, "subscribe again with the last marker");
	json_decref(r);
	got_frames(&w, &g, 12, 5000);
	is(g.n, 12, "resumes with exactly the 4 posted meanwhile");
	ok(!g.bad_order && g.gaps == 0, "no duplicate, no gap across the reconnect");
	ok(quiet(&w, 300), "and nothing more");

	/* from now: only what comes after. */
	r = act(&w, "subscribe", HDRS, "{\"queue_name\": \"sq\", \"from\": \"now\"}");
	is(status_of(r), 201, "a second subscription on the connection, from now");
	json_decref(r);
	ok(quiet(&w, 300), "no backlog for 'now' (the first is up to date)");
	post_n(&pub, "sq", 12, 1);
	{
		json_t *f1 = wsc_recv(&w, 5000), *f2 = wsc_recv(&w, 5000);

		ok(f1 && f2 && strcmp(S(hh_gets(f1, "subscription")),
				       S(hh_gets(f2, "subscription"))) != 0,
		   "one post: a frame for each subscription");
		json_decref(f1);
		json_decref(f2);
	}
	free(g.ids);
	wsc_close(&w);
	hh_client_close(&pub);
}

static void echo_and_unsubscribe(struct hh_server *srv)
{
	struct hh_client pub;
	struct wsc w;
	struct got g = {0};
	json_t *r;
	char sid[64];

	hh_client_init(&pub, srv, HH_CLIENT_B, PROJECT);
	wsc_open(&w, srv, "/v2/ws", "herald.v1");
	r = act(&w, "subscribe", HDRS, "{\"queue_name\": \"eq\", \"echo\": false}");
	hh_copy(sid, sizeof(sid), hh_gets(r, "body.subscription"));
	json_decref(r);
	r = act(&w, "message_post", HDRS,
		"{\"queue_name\": \"eq\", \"messages\": [{\"body\": \"mine\"}]}");
	is(status_of(r), 201, "the subscriber posts on its own connection");
	json_decref(r);
	post_n(&pub, "eq", 0, 1);
	got_frames(&w, &g, 1, 5000);
	ok(g.n == 1 && quiet(&w, 300), "echo false: only the other client's message");
	r = act(&w, "unsubscribe", HDRS, hh_fmt("{\"subscription\": \"%s\"}", sid));
	is(status_of(r), 204, "unsubscribe: 204");
	json_decref(r);
	post_n(&pub, "eq", 1, 1);
	ok(quiet(&w, 300), "no frame after unsubscribe");
	r = act(&w, "unsubscribe", HDRS, hh_fmt("{\"subscription\": \"%s\"}", sid));
	is(status_of(r), 404, "unsubscribing again: 404");
	json_decref(r);
	r = act(&w, "subscribe", HDRS,
		"{\"queue_name\": \"eq\", \"from\": \"oldest\", \"echo\": true}");
	json_decref(r);
	g.n = 0;
	got_frames(&w, &g, 3, 5000);
	is(g.n, 3, "echo true, from oldest: all three");
	r = act(&w, "subscribe", HDRS, "{\"queue_name\": \"eq\", \"marker\": \"zz\"}");
	is(status_of(r), 400, "a malformed marker: 400");
	json_decref(r);
	free(g.ids);
	wsc_close(&w);
	hh_client_close(&pub);
}

static void gap_after_expiry(struct hh_server *srv)
{
	struct hh_client pub;
	struct wsc w;
	struct got g = {0};
	json_t *r;
	char marker[32];

	hh_client_init(&pub, srv, HH_CLIENT_B, PROJECT);
	post_n(&pub, "gq", 0, 3); /* ttl 60 */
	wsc_open(&w, srv, "/v2/ws", NULL);
	r = act(&w, "subscribe", HDRS, "{\"queue_name\": \"gq\", \"from\": \"oldest\"}");
	json_decref(r);
	got_frames(&w, &g, 1, 5000);
	hh_copy(marker, sizeof(marker), g.ids[0]);
	wsc_close(&w);

	hh_clock_advance(srv, 120 * 1000); /* the other two expire */
	post_n(&pub, "gq", 3, 1);
	wsc_open(&w, srv, "/v2/ws", NULL);
	r = act(&w, "subscribe", HDRS,
		hh_fmt("{\"queue_name\": \"gq\", \"marker\": \"%s\"}", marker));
	json_decref(r);
	g.n = 0;
	got_frames(&w, &g, 1, 5000);
	is(g.gaps, 1, "a gap event for the expired messages");
	is(g.missed, 2, "missed: 2");
	is(g.n, 1, "then the message after the hole");
	ok(quiet(&w, 300), "nothing more");
	free(g.ids);
	wsc_close(&w);
	hh_client_close(&pub);
}

static void stream_url(struct hh_server *srv)
{
	struct hh_client pub;
	struct wsc w;
	struct got g = {0};

	hh_client_init(&pub, srv, HH_CLIENT_B, PROJECT);
	post_n(&pub, "st", 0, 2);
	ok(wsc_open(&w, srv, "/v2/queues/st/stream?client_id=" HH_CLIENT_A
		    "&project_id=" PROJECT, NULL),
	   "the stream URL upgrades without a subprotocol");
	ok(quiet(&w, 300), "from now: no backlog");
	post_n(&pub, "st", 2, 2);
	got_frames(&w, &g, 2, 5000);
	is(g.n, 2, "the messages posted after it opened");
	wsc_close(&w);
	post_n(&pub, "st", 4, 1);
	ok(wsc_open(&w, srv, hh_fmt("/v2/queues/st/stream?marker=%s&project_id="
				     PROJECT, g.marker), NULL),
	   "reopened with marker=");
	got_frames(&w, &g, 3, 5000);
	is(g.n, 3, "resumes after the marker");
	wsc_close(&w);

	ok(!wsc_open(&w, srv, "/v2/queues/st/other", NULL), "other paths do not "
	   "upgrade");
	wsc_close(&w);
	ok(!wsc_open(&w, srv, "/v2/queues/st/stream?marker=bad", NULL),
	   "a malformed marker refuses the stream");
	wsc_close(&w);
	free(g.ids);
	hh_client_close(&pub);
}

#define BAD_MARKER_TEXT "Invalid marker: pass the id of the last message seen."
#define BAD_MARKER_JSON "{\"title\": \"Invalid API request\", \"description\": " \
	"\"" BAD_MARKER_TEXT "\"}"

/*
 * One rule for a malformed marker on every live transport, before any
 * stream starts: 400 and the same error - on WebSocket subscribe (as a
 * response frame, as every WS error), SSE, the stream URL (as the HTTP
 * answer to the upgrade) and a long-poll listing.
 */
static void bad_marker_everywhere(struct hh_server *srv)
{
	struct hh_client c;
	struct hh_resp r = HH_RESP_INIT;
	struct wsc w;
	json_t *f;
	const char *upgrade =
		"GET /v2/queues/bm/stream?marker=zz&project_id=" PROJECT
		" HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\n"
		"Connection: Upgrade\r\n"
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
		"Sec-WebSocket-Version: 13\r\n\r\n";

	wsc_open(&w, srv, "/v2/ws", "herald.v1");
	f = act(&w, "subscribe", HDRS,
		"{\"queue_name\": \"bm\", \"marker\": \"zz\"}");
	ok(status_of(f) == 400 &&
	   strcmp(S(hh_gets(f, "body.exception")), BAD_MARKER_TEXT) == 0 &&
	   json_is_null(hh_get(f, "body.error")),
	   "WebSocket subscribe: 400 {exception: <the text>, error: null}");
	json_decref(f);
	wsc_close(&w);

	hh_client_init(&c, srv, HH_CLIENT_A, PROJECT);
	hh_callh(&c, &r, "GET", "/v2/queues/bm/events?marker=zz",
		 "Accept: text/event-stream\r\n", NULL);
	ok(r.status == 400 && hh_json_eq(&r, BAD_MARKER_JSON),
	   "SSE: 400 with the JSON error, no stream (got %d %s)", r.status,
	   r.body);
	hh_callh(&c, &r, "GET", "/v2/queues/bm/events",
		 "Accept: text/event-stream\r\nLast-Event-ID: zz\r\n", NULL);
	ok(r.status == 400 && hh_json_eq(&r, BAD_MARKER_JSON),
	   "SSE with a malformed Last-Event-ID: the same");
	hh_call(&c, &r, "GET", "/v2/queues/bm/messages?marker=zz&wait=5", NULL);
	ok(r.status == 400 && hh_json_eq(&r, BAD_MARKER_JSON),
	   "long-poll listing: the same, at once (got %d %s)", r.status, r.body);
	hh_client_close(&c);

	hh_client_init(&c, srv, NULL, NULL);
	if (hh_send(&c, upgrade, strlen(upgrade)) < 0)
		bail_out("cannot send the upgrade");
	hh_recv(&c, &r, false);
	ok(r.status == 400 && hh_json_eq(&r, BAD_MARKER_JSON),
	   "stream URL: the upgrade is answered 400 with the JSON error "
	   "(got %d %s)", r.status, r.body);
	hh_client_close(&c);
	hh_resp_free(&r);
}

/* Sends a WebSocket upgrade of `path`; the answer's status into r. */
static void send_upgrade(struct hh_server *srv, const char *path,
			 struct hh_resp *r)
{
	struct hh_client c;
	const char *req = hh_fmt("GET %s HTTP/1.1\r\nHost: t\r\nUpgrade: websocket"
			   "\r\nConnection: Upgrade\r\n"
			   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
			   "Sec-WebSocket-Version: 13\r\n\r\n", path);

	hh_client_init(&c, srv, NULL, NULL);
	if (hh_send(&c, req, strlen(req)) < 0)
		bail_out("cannot send the upgrade");
	hh_recv(&c, r, false);
	hh_client_close(&c);
}

/*
 * The WebSocket endpoints are rows of the route table: asked over plain
 * HTTP they answer 426; an upgrade of any other path is refused; a stream
 * URL whose queue name breaks the rule is answered 400 with the JSON
 * error instead of upgrading.
 */
static void endpoints(struct hh_server *srv)
{
	struct hh_client c;
	struct hh_resp r = HH_RESP_INIT;
	char long_name[80];

	hh_client_init(&c, srv, HH_CLIENT_A, PROJECT);
	hh_call(&c, &r, "GET", "/v2/ws", NULL);
	ok(r.status == 426 && strcmp(S(hh_gets(r.json, "title")),
				     "Upgrade Required") == 0,
	   "GET /v2/ws over plain HTTP: 426 with a JSON error (got %d)",
	   r.status);
	hh_call(&c, &r, "GET", "/v2/queues/q/stream", NULL);
	is(r.status, 426, "the stream URL over plain HTTP: 426");
	hh_client_close(&c);

	send_upgrade(srv, "/v2/queues/q/messages", &r);
	ok(r.status != 101, "an upgrade of a plain route is refused (got %d)",
	   r.status);
	memset(long_name, 'a', 70);
	long_name[70] = '\0';
	send_upgrade(srv, hh_fmt("/v2/queues/%s/stream?project_id=" PROJECT,
				 long_name), &r);
	ok(r.status == 400 && strcmp(S(hh_gets(r.json, "title")),
				     "Invalid queue identification") == 0,
	   "a stream URL with a bad queue name: 400 with the JSON error "
	   "(got %d %s)", r.status, r.body ? r.body : "");
	hh_resp_free(&r);
}

/*
 * Zaqar's WebSocket transport serves its actions at / on its own port, and
 * Zaqar's functional WebSocket tests connect there with no subprotocol:
 * an upgrade of / is the same endpoint as /v2/ws, while a plain GET / is
 * still the versions document (and the dashboard for a browser).
 */
static void root_endpoint(struct hh_server *srv)
{
	struct hh_client c;
	struct hh_resp hr = HH_RESP_INIT;
	struct wsc w;
	json_t *r;
	bool up;

	up = wsc_open(&w, srv, "/", NULL);
	ok(up, "an upgrade of / with no subprotocol: 101 (got %d)", w.status);
	r = act(&w, "queue_list", HDRS_ROOT, "{}");
	ok(status_of(r) == 200 && hh_len(r, "body.queues") == 0 &&
		   strcmp(S(hh_gets(r, "request.api")), "v2") == 0,
	   "queue_list over /: 200, Zaqar's frame");
	json_decref(r);
	r = act(&w, "queue_create", HDRS_ROOT, "{\"queue_name\": \"rootq\"}");
	ok(status_of(r) == 201 &&
		   strcmp(S(hh_gets(r, "body")), "Queue rootq created.") == 0,
	   "queue_create over /: 201");
	json_decref(r);
	r = act(&w, "message_post", HDRS_ROOT,
		"{\"queue_name\": \"rootq\", \"messages\": "
		"[{\"body\": {\"n\": 1}, \"ttl\": 300}]}");
	ok(status_of(r) == 201 && hh_len(r, "body.message_ids") == 1,
	   "message_post over /: 201 with one id");
	json_decref(r);
	r = act(&w, "message_list", HDRS_ROOT,
		"{\"queue_name\": \"rootq\", \"echo\": true}");
	ok(status_of(r) == 200 && hh_len(r, "body.messages") == 1 &&
		   hh_geti(r, "body.messages.0.body.n") == 1 &&
		   hh_keys_are(hh_get(r, "body.messages.0"),
			       "id,claim_id,ttl,age,body"),
	   "message_list over /: the message, in Zaqar's WS shape");
	json_decref(r);
	wsc_close(&w);

	hh_client_init(&c, srv, NULL, NULL);
	hh_call(&c, &hr, "GET", "/", NULL);
	ok(hr.status == 300 && hh_get(hr.json, "versions") != NULL,
	   "a plain GET / is still the versions document (got %d)",
	   hr.status);
	hh_callh(&c, &hr, "GET", "/", "Accept: text/html\r\n", NULL);
	ok(hr.status == 200 && hh_header(&hr, "Content-Type") &&
		   strstr(hh_header(&hr, "Content-Type"), "text/html"),
	   "and the dashboard for a browser");
	hh_call(&c, &hr, "GET", "/v2", NULL);
	is(hr.status, 200, "GET /v2 is still the home document");
	hh_client_close(&c);
	hh_resp_free(&hr);
	send_upgrade(srv, "/v2", &hr);
	ok(hr.status != 101, "an upgrade of /v2 is refused (got %d)",
	   hr.status);
	hh_resp_free(&hr);
}

/* Whether a frame's body is Zaqar's error {exception: text, error: e}
 * (e NULL: null). */
static bool zaqar_error(json_t *f, const char *text, const char *error)
{
	json_t *e = hh_get(f, "body.error");

	return hh_keys_are(hh_get(f, "body"), "exception,error") &&
	       strcmp(S(hh_gets(f, "body.exception")), text) == 0 &&
	       (error ? json_is_string(e) && strcmp(json_string_value(e), error) == 0
		      : json_is_null(e));
}

/*
 * The smaller differences from Zaqar (mongodb driver, v2 WebSocket
 * handlers) found by comparing frames side by side: each as Zaqar
 * answers it.
 */
static void zaqar_differences(struct hh_server *srv)
{
	struct wsc w;
	json_t *r;
	char mid[64], cid[64], other[64];
	const char *nil = "4b1c0c4e-7d3b-4e5a-9a7e-000000000000";

	wsc_open(&w, srv, "/", NULL);
	r = act(&w, "queue_get_stats", HDRS, "{\"queue_name\": \"nowhere\"}");
	ok(status_of(r) == 404 &&
		   hh_keys_are(hh_get(r, "body.messages"), "claimed,free,total") &&
		   hh_geti(r, "body.messages.total") == 0,
	   "queue_get_stats of a missing queue: 404 with zero stats");
	json_decref(r);

	r = act(&w, "message_post", HDRS,
		"{\"queue_name\": \"zd\", \"messages\": [{\"body\": 1}, "
		"{\"body\": 2}]}");
	hh_copy(mid, sizeof(mid), hh_gets(r, "body.message_ids.0"));
	json_decref(r);
	r = act(&w, "queue_get_stats", HDRS, "{\"queue_name\": \"zd\"}");
	ok(status_of(r) == 200 &&
		   hh_keys_are(hh_get(r, "body.messages.oldest"), "id,age,created") &&
		   strcmp(S(hh_gets(r, "body.messages.oldest.id")), mid) == 0 &&
		   hh_keys_are(hh_get(r, "body.messages.newest"), "id,age,created"),
	   "queue_get_stats: oldest and newest are {id, age, created}, as "
	   "the mongodb driver gives them");
	json_decref(r);

	r = act(&w, "message_get_many", HDRS,
		"{\"queue_name\": \"zd\", \"message_ids\": "
		"[\"ffffffffffffffffffffffff\"]}");
	ok(status_of(r) == 200 && hh_len(r, "body.messages") == 0 &&
		   json_is_array(hh_get(r, "body.messages")),
	   "message_get_many with no existing ids: 200 {messages: []}");
	json_decref(r);
	r = act(&w, "message_get_many", HDRS,
		"{\"queue_name\": \"nowhere\", \"message_ids\": [\"x\"]}");
	ok(status_of(r) == 200 && hh_len(r, "body.messages") == 0,
	   "and of a missing queue");
	json_decref(r);
	r = act(&w, "message_get", HDRS,
		"{\"queue_name\": \"zd\", \"message_id\": \"ffffffffffffffffffffffff\"}");
	ok(status_of(r) == 404 &&
		   zaqar_error(r, "Message ffffffffffffffffffffffff does not "
			       "exist in queue zd, project " PROJECT, NULL),
	   "message_get of a missing message: 404, MessageDoesNotExist's text");
	json_decref(r);

	r = act(&w, "subscription_create", HDRS,
		"{\"queue_name\": \"zd\", \"ttl\": -1}");
	ok(status_of(r) == 400 &&
		   zaqar_error(r, "The TTL for a subscription must be at least "
			       "60 seconds long.", NULL),
	   "subscription_create with ttl -1: 400");
	json_decref(r);
	r = act(&w, "subscription_get", HDRS,
		hh_fmt("{\"queue_name\": \"zd\", \"subscription_id\": \"%s\"}", nil));
	ok(status_of(r) == 404 &&
		   zaqar_error(r, hh_fmt("Subscription %s does not exist", nil),
			       hh_fmt("Subscription %s does not exist.", nil)),
	   "subscription_get of a missing one: 404, error filled");
	json_decref(r);

	r = act(&w, "claim_get", HDRS,
		hh_fmt("{\"queue_name\": \"zd\", \"claim_id\": \"%s\"}", nil));
	ok(status_of(r) == 404 &&
		   zaqar_error(r, hh_fmt("Claim %s does not exist in queue zd, "
					 "project " PROJECT, nil),
			       hh_fmt("Claim %s does not exist.", nil)),
	   "claim_get of a missing claim: 404, error filled");
	json_decref(r);
	r = act(&w, "claim_update", HDRS,
		hh_fmt("{\"queue_name\": \"zd\", \"claim_id\": \"%s\", "
		       "\"ttl\": 100}", nil));
	ok(status_of(r) == 404 &&
		   zaqar_error(r, hh_fmt("Claim %s does not exist in queue zd, "
					 "project " PROJECT, nil),
			       hh_fmt("Claim %s does not exist.", nil)),
	   "claim_update of a missing claim: 404, error filled");
	json_decref(r);

	r = act(&w, "claim_create", HDRS,
		"{\"queue_name\": \"zd\", \"limit\": 1, \"ttl\": 60}");
	hh_copy(cid, sizeof(cid), hh_gets(r, "body.claim_id"));
	json_decref(r);
	r = act(&w, "claim_create", HDRS,
		"{\"queue_name\": \"zd\", \"limit\": 1, \"ttl\": 60}");
	hh_copy(other, sizeof(other), hh_gets(r, "body.claim_id"));
	json_decref(r);
	r = act(&w, "message_delete", HDRS,
		hh_fmt("{\"queue_name\": \"zd\", \"message_id\": \"%s\", "
		       "\"claim_id\": \"%s\"}", mid, nil));
	ok(status_of(r) == 400 &&
		   zaqar_error(r, hh_fmt("Claim %s does not exist in queue zd, "
					 "project " PROJECT, nil),
			       "The specified claim does not exist or has "
			       "expired."),
	   "message_delete with a claim id that does not exist: 400, the "
	   "text in error, ClaimDoesNotExist's in exception");
	json_decref(r);
	r = act(&w, "message_delete", HDRS,
		hh_fmt("{\"queue_name\": \"zd\", \"message_id\": \"%s\", "
		       "\"claim_id\": \"%s\"}", mid, other));
	ok(status_of(r) == 403 &&
		   zaqar_error(r, hh_fmt("Message %s is not claimed by %s", mid,
					 other),
			       "This message is claimed; it cannot be deleted "
			       "without a valid claim ID."),
	   "message_delete with another claim's id: 403, MessageNotClaimedBy");
	json_decref(r);
	r = act(&w, "claim_delete", HDRS,
		hh_fmt("{\"queue_name\": \"zd\", \"claim_id\": \"%s\"}", cid));
	json_decref(r);
	r = act(&w, "claim_delete", HDRS,
		hh_fmt("{\"queue_name\": \"zd\", \"claim_id\": \"%s\"}", other));
	json_decref(r);

	r = act(&w, "queue_purge", HDRS,
		"{\"queue_name\": \"zd\", \"resource_types\": [\"bogus\"]}");
	ok(status_of(r) == 204 && hh_keys_are(hh_get(r, "body"), ""),
	   "queue_purge with an unknown resource type: 204 {}");
	json_decref(r);
	r = act(&w, "queue_get_stats", HDRS, "{\"queue_name\": \"zd\"}");
	is(hh_geti(r, "body.messages.total"), 2, "and nothing was purged");
	json_decref(r);
	r = act(&w, "queue_purge", HDRS,
		"{\"queue_name\": \"zd\", \"resource_types\": [\"messages\", "
		"\"bogus\"]}");
	is(status_of(r), 204, "messages and an unknown type: 204");
	json_decref(r);
	r = act(&w, "queue_get_stats", HDRS, "{\"queue_name\": \"zd\"}");
	is(hh_geti(r, "body.messages.total"), 0, "and the messages are purged");
	json_decref(r);
	r = act(&w, "queue_delete", HDRS, "{\"queue_name\": \"zd\"}");
	json_decref(r);
	wsc_close(&w);
}

static void limits(struct hh_server *srv)
{
	struct wsc w;
	json_t *r;
	size_t big = 262144 + 65536 + 10;
	char *text = malloc(big + 1);
	int n201 = 0;

	wsc_open(&w, srv, "/v2/ws", "herald.v1");
	memset(text, ' ', big);
	text[big] = 0;
	text[0] = '{';
	text[big - 1] = '}';
	wsc_send(&w, text);
	r = wsc_recv(&w, 5000);
	ok(status_of(r) == 400 && strstr(S(hh_gets(r, "body.error")),
					 "too large"),
	   "a frame over the size limit: 400");
	json_decref(r);
	free(text);

	/* A frame far longer than lws's frame buffer (1 KiB) arrives in
	 * pieces, joined whole. */
	size_t blen = 200000;
	char *post = malloc(blen + 128);
	int at = snprintf(post, blen + 128, "{\"queue_name\": \"lim\", "
			  "\"messages\": [{\"body\": \"");
	memset(post + at, 'b', blen);
	strcpy(post + at + blen, "\"}]}");
	r = act(&w, "message_post", HDRS, post);
	is(status_of(r), 201, "a 200 KB message_post frame: 201");
	json_decref(r);
	free(post);
	r = act(&w, "message_list", HDRS,
		"{\"queue_name\": \"lim\", \"echo\": true}");
	ok(strlen(S(hh_gets(r, "body.messages.0.body"))) == blen,
	   "and its body comes back whole");
	json_decref(r);
	r = act(&w, "queue_delete", HDRS, "{\"queue_name\": \"lim\"}");
	json_decref(r);
	for (int i = 0; i < 17; i++) {
		r = act(&w, "subscribe", HDRS, "{\"queue_name\": \"lim\"}");
		n201 += status_of(r) == 201;
		if (i == 16)
			is(status_of(r), 400, "the 17th subscription: 400");
		json_decref(r);
	}
	is(n201, 16, "16 subscriptions per connection");
	wsc_close(&w);
}

#define FANOUT_SUBS 50
#define FANOUT_MSGS 600

static void fanout(struct hh_server *srv)
{
	static struct wsc w[FANOUT_SUBS];
	static struct got g[FANOUT_SUBS];
	struct hh_client pub;
	int all = 0, ordered = 0, gaps = 0;
	double t0 = hh_mono_s();

	hh_client_init(&pub, srv, HH_CLIENT_B, PROJECT);
	for (int i = 0; i < FANOUT_SUBS; i++) {
		json_t *r;

		wsc_open(&w[i], srv, "/v2/ws", "herald.v1");
		r = act(&w[i], "subscribe", HDRS,
			"{\"queue_name\": \"fan\", \"from\": \"oldest\"}");
		if (status_of(r) != 201)
			diag("subscriber %d: %d", i, status_of(r));
		json_decref(r);
	}
	/* 600 messages in posts of 10, while the subscribers read. */
	for (int i = 0; i < FANOUT_MSGS; i += 10)
		post_n(&pub, "fan", i, 10);
	for (int i = 0; i < FANOUT_SUBS; i++) {
		got_frames(&w[i], &g[i], FANOUT_MSGS, 10000);
		all += g[i].n == FANOUT_MSGS;
		ordered += !g[i].bad_order;
		gaps += g[i].gaps;
	}
	is(all, FANOUT_SUBS, "each of %d subscribers got all %d messages",
	   FANOUT_SUBS, FANOUT_MSGS);
	is(ordered, FANOUT_SUBS, "each in order, without duplicates");
	is(gaps, 0, "no gaps");
	{
		int extra = 0;

		for (int i = 0; i < FANOUT_SUBS; i++) {
			extra += !quiet(&w[i], i ? 10 : 300);
			wsc_close(&w[i]);
			free(g[i].ids);
		}
		is(extra, 0, "and nothing more");
	}
	diag("fan-out: %d x %d in %.2f s", FANOUT_SUBS, FANOUT_MSGS,
	     hh_mono_s() - t0);
	hh_client_close(&pub);
}

/* Names go into routed paths: they must not reach another route. */
static void injection(struct hh_server *srv)
{
	struct hh_client pub;
	struct hh_resp r = HH_RESP_INIT;
	struct wsc w;
	json_t *f;
	char id[64];

	hh_client_init(&pub, srv, HH_CLIENT_B, PROJECT);
	hh_call(&pub, &r, "POST", "/v2/queues/inj/messages",
		"{\"messages\": [{\"body\": \"keep me\"}]}");
	hh_copy(id, sizeof(id), hh_resource_ids(&r));
	ok(wsc_open(&w, srv, "/v2/ws", NULL), "connected");
	f = act(&w, "queue_delete", HDRS,
		hh_fmt("{\"queue_name\": \"inj/messages/%s\"}", id));
	is(status_of(f), 400, "a queue name with a slash is refused, not routed");
	json_decref(f);
	f = act(&w, "message_get_many", HDRS,
		hh_fmt("{\"queue_name\": \"inj\", \"message_ids\": [\"%s&pop=1\"]}",
		       id));
	is(status_of(f), 400, "an id cannot add query parameters");
	json_decref(f);
	hh_call(&pub, &r, "GET", hh_fmt("/v2/queues/inj/messages/%s", id), NULL);
	is(r.status, 200, "and the message is still there");
	wsc_close(&w);
	hh_resp_free(&r);
	hh_client_close(&pub);
}

/* A delayed message reaches a subscriber when it falls due, even when no
 * commit follows to wake it. */
static void delayed(struct hh_server *srv)
{
	struct hh_client pub;
	struct hh_resp r = HH_RESP_INIT;
	struct wsc w;
	struct got g = {0};

	hh_client_init(&pub, srv, HH_CLIENT_B, PROJECT);
	hh_call(&pub, &r, "PUT", "/v2/queues/late",
		"{\"_default_message_delay\": 1}");
	ok(wsc_open(&w, srv, "/v2/queues/late/stream?client_id=" HH_CLIENT_A
		    "&project_id=" PROJECT, NULL),
	   "a stream on a queue with delays");
	hh_call(&pub, &r, "POST", "/v2/queues/late/messages",
		"{\"messages\": [{\"body\": \"due in 1 s\", \"delay\": 1}]}");
	is(r.status, 201, "a message due in a second");
	ok(quiet(&w, 300), "is not sent before it is due");
	hh_clock_advance(srv, 2000);
	got_frames(&w, &g, 1, 5000);
	is(g.n, 1, "and is sent when it falls due, with no other commit");
	wsc_close(&w);
	free(g.ids);
	hh_resp_free(&r);
	hh_client_close(&pub);
}

/*
 * Workers' extensions over WebSocket: a message_post's Idempotency-Key
 * header (as HTTP's) keys the request, and a claim_update of a claim that
 * expired is refused as Zaqar refuses a missing one.
 */
#define HDRS_IDEM "{\"Client-ID\": \"" HH_CLIENT_A "\", \"X-Project-ID\": \"" \
	PROJECT "\", \"Idempotency-Key\": \"ws-1\"}"

static void workers(struct hh_server *srv)
{
	const char *post = "{\"queue_name\": \"wk\", \"messages\": [{\"body\": 1}]}";
	struct wsc w;
	json_t *r;
	char mid[64], cid[64];

	ok(wsc_open(&w, srv, "/v2/ws", NULL), "workers: open");
	r = act(&w, "message_post", HDRS_IDEM, post);
	is(status_of(r), 201, "message_post with an Idempotency-Key header");
	hh_copy(mid, sizeof(mid), hh_gets(r, "body.message_ids.0"));
	json_decref(r);
	r = act(&w, "message_post", HDRS_IDEM, post);
	ok(status_of(r) == 201 && strcmp(S(hh_gets(r, "body.message_ids.0")), mid) == 0,
	   "the repeat answers the original id");
	json_decref(r);
	r = act(&w, "message_post", HDRS, post);
	ok(status_of(r) == 201 && strcmp(S(hh_gets(r, "body.message_ids.0")), mid) != 0,
	   "without the header it is a new message");
	json_decref(r);
	r = act(&w, "message_post", "{\"Client-ID\": \"" HH_CLIENT_A "\", "
		"\"X-Project-ID\": \"" PROJECT "\", \"Idempotency-Key\": 7}", post);
	ok(status_of(r) == 400 &&
		   zaqar_error(r, "The Idempotency-Key header must be a string.", NULL),
	   "an Idempotency-Key that is no string: 400");
	json_decref(r);

	r = act(&w, "queue_create", HDRS,
		"{\"queue_name\": \"wk2\", \"metadata\": {\"_retry_delay\": -1}}");
	ok(status_of(r) == 400 &&
		   zaqar_error(r, "_retry_delay must be an integer number of "
			       "seconds from 0 (off) to 43200.", NULL),
	   "queue_create checks the worker settings as PUT: %s", hh_dump(r));
	json_decref(r);

	r = act(&w, "claim_create", HDRS,
		"{\"queue_name\": \"wk\", \"limit\": 1, \"ttl\": 60}");
	is(status_of(r), 201, "a claim of 60 s");
	hh_copy(cid, sizeof(cid), hh_gets(r, "body.claim_id"));
	json_decref(r);
	hh_clock_advance(srv, 30000);
	r = act(&w, "claim_update", HDRS,
		hh_fmt("{\"queue_name\": \"wk\", \"claim_id\": \"%s\", \"ttl\": 60}", cid));
	is(status_of(r), 204, "renewed at 30 s");
	json_decref(r);
	hh_clock_advance(srv, 60001);
	r = act(&w, "claim_update", HDRS,
		hh_fmt("{\"queue_name\": \"wk\", \"claim_id\": \"%s\", \"ttl\": 60}", cid));
	ok(status_of(r) == 404 &&
		   zaqar_error(r, hh_fmt("Claim %s does not exist in queue wk, "
					 "project " PROJECT, cid),
			       hh_fmt("Claim %s does not exist.", cid)),
	   "claim_update of an expired claim: 404 as a missing one: %s",
	   hh_dump(r));
	json_decref(r);
	wsc_close(&w);
}

/*
 * Stream subscribers that never read cost the server their socket buffers
 * and one frame each, not the backlog: frames are made only when lws says
 * the connection can take one (the log is the buffer).
 */
static void stalled_readers(struct hh_server *srv)
{
	enum { N = 20 };
	struct hh_client pub;
	struct wsc w[N];
	long before, after;
	struct got g = {0};

	hh_client_init(&pub, srv, HH_CLIENT_B, PROJECT);
	hh_post_bulk(&pub, "warm", 100); /* malloc reaches its steady state */
	before = hh_rss_anon_kb(srv);
	for (int i = 0; i < N; i++)
		if (!wsc_open(&w[i], srv, "/v2/queues/stall/stream?client_id="
			      HH_CLIENT_A "&project_id=" PROJECT, NULL))
			bail_out("stream %d did not open", i);
	hh_post_bulk(&pub, "stall", 400);
	after = hh_rss_anon_kb(srv);
	diag("server heap %ld KiB before, %ld KiB after 20 MB under %d stalled "
	     "WebSocket subscribers", before, after, N);
	if (hh_sanitized(srv))
		skip(1, "RSS is not a measure under AddressSanitizer");
	else
		ok(before > 0 && after - before < STALLED_GROWTH_MAX_KB,
		   "stalled WebSocket subscribers do not buffer the backlog "
		   "(+%ld KiB)", after - before);
	got_frames(&w[0], &g, 5, 5000);
	/* At least: a write carries whatever is pending (coalesced). */
	ok(g.n >= 5, "and a stalled stream still flows when read (%zu)", g.n);
	for (int i = 0; i < N; i++)
		wsc_close(&w[i]);
	free(g.ids);
	hh_client_close(&pub);
}

int main(void)
{
	struct hh_server srv;

	hh_start(&srv, NULL);
	transcript(&srv);
	subscribe_resume(&srv);
	echo_and_unsubscribe(&srv);
	gap_after_expiry(&srv);
	stream_url(&srv);
	bad_marker_everywhere(&srv);
	endpoints(&srv);
	root_endpoint(&srv);
	zaqar_differences(&srv);
	limits(&srv);
	fanout(&srv);
	injection(&srv);
	delayed(&srv);
	workers(&srv);
	stalled_readers(&srv);
	return hh_finish(&srv);
}
