/*
 * test_reply.c - a handler's reply as data (hub/reply.c) and how the
 * transports render it: HTTP's body and header lines from a reply with
 * fields; the one feed-error table and a call's overrides; WebSocket's
 * shaping (hub/transport/ws_actions.c) of a claim reply and of a delete
 * refused with FEED_ECLAIMED or FEED_ENOTCLAIMED - from the fields, never
 * from reply text.
 */
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "config.h"
#include "req.h"
#include "render.h"
#include "transport/ws.h"

#define CLAIM "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
#define NOW_MS 1800000000000ull

static struct hub_config cfg;

static void req_init(struct hub_req *r, const char *path)
{
	memset(r, 0, sizeof(*r));
	r->cfg = &cfg;
	r->path = path;
	r->project = "";
	r->content_type = "";
	r->queue = "q1";
	r->prefix = "/v2";
	r->version = HUB_V2;
	r->now_ms = NOW_MS;
}

/* A message of a claim: 60 s old, ttl 300, claimed. */
static feed_msg_t msg(const char *id, const char *claim, const char *body)
{
	feed_msg_t m;

	memset(&m, 0, sizeof(m));
	snprintf(m.id, sizeof(m.id), "%s", id);
	snprintf(m.claim_id, sizeof(m.claim_id), "%s", claim);
	m.created_ms = NOW_MS - 60000;
	m.expires_ms = m.created_ms + 300000;
	m.body = body;
	m.body_len = strlen(body);
	return m;
}

/* json_dumps of v, compact with sorted keys, into a static buffer. */
static const char *dump(json_t *v)
{
	static char out[2048];
	char *s = v ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS |
					    JSON_ENCODE_ANY)
		    : NULL;

	snprintf(out, sizeof(out), "%s", s ? s : "(null)");
	free(s);
	return out;
}

static void http_rendering(void)
{
	struct hub_req r;
	char *text;
	size_t len;

	req_init(&r, "/v2/queues/q1/claims");
	hub_header(&r, "Content-Location", "%s", "/v2/queues/q1");
	hub_reply_set_location(&r, "/v2/queues/q1/claims/%s", CLAIM);
	hub_reply_set_claim(&r, CLAIM);
	hub_reply(&r, 201, json_pack("{s:[{s:i}]}", "messages", "ttl", 300));
	ok(r.reply.text == NULL, "the body stays a JSON value until rendered");
	hub_reply_http(&r.reply);
	is(r.reply.status, 201, "status 201");
	is_str(r.reply.text, "{\"messages\": [{\"ttl\": 300}]}",
	       "JSON rendered with Zaqar's spacing");
	is(r.reply.text_len, strlen(r.reply.text), "its length");
	ok(r.reply.type == NULL, "type: application/json (NULL)");
	text = hub_buf_take(&r.reply.headers, &len);
	is_str(text,
	       "Content-Location: /v2/queues/q1\r\n"
	       "Location: /v2/queues/q1/claims/" CLAIM "\r\n",
	       "header lines: the handler's, then Location from its field");
	free(text);
	is_str(r.reply.claim_id, CLAIM, "the claim id is a field");
	hub_reply_http(&r.reply);
	ok(r.reply.headers.len == 0, "rendering twice adds nothing");
	hub_req_release(&r);

	req_init(&r, "/v2/");
	hub_reply_raw(&r, 200, "application/json-home", "{}", 2);
	hub_reply(&r, 500, NULL);
	hub_reply_http(&r.reply);
	is(r.reply.status, 200, "a second reply is ignored");
	is_str(r.reply.type, "application/json-home", "raw text keeps its type");
	is(r.reply.text_len, 2, "and its bytes");
	hub_req_release(&r);

	req_init(&r, "/v2/queues/q1");
	hub_reply(&r, 204, NULL);
	hub_reply_http(&r.reply);
	ok(r.reply.text == NULL && r.reply.text_len == 0, "204: no body");
	hub_req_release(&r);
}

static void feed_errors(void)
{
	static const struct hub_feed_words words[] = {
		{FEED_ENOCLAIM, 400, "Unable to delete", "Not here."},
		{0, 0, NULL, NULL},
	};
	struct hub_req r;

	req_init(&r, "/v2/queues/q1/stats");
	hub_reply_feed_error(&r, FEED_ENOQUEUE, NULL);
	is(r.reply.status, 404, "FEED_ENOQUEUE: 404");
	is(r.reply.feed_err, FEED_ENOQUEUE, "the feed code is a field");
	is_str(r.reply.error_title, "Not found", "title");
	is_str(r.reply.error_text, "Queue q1 does not exist for project None",
	       "a missing project is None, as Zaqar prints it");
	hub_reply_http(&r.reply);
	is_str(r.reply.text,
	       "{\"title\": \"Not found\", \"description\": \"Queue q1 does not "
	       "exist for project None\"}",
	       "Zaqar's error body");
	hub_req_release(&r);

	req_init(&r, "/v2/queues/q1/messages/m1");
	r.project = "p7";
	hub_reply_feed_error(&r, FEED_ENOTFOUND, "Message m1");
	is_str(r.reply.error_text,
	       "Message m1 does not exist in queue q1 for project p7",
	       "FEED_ENOTFOUND names what is missing");
	hub_req_release(&r);

	req_init(&r, "/v2/queues/q1/messages/m1");
	hub_reply_feed_error_as(&r, FEED_ENOCLAIM, NULL, words);
	is(r.reply.status, 400, "an override's status");
	is_str(r.reply.error_title, "Unable to delete", "its title");
	is_str(r.reply.error_text, "Not here.", "its words");
	is(r.reply.feed_err, FEED_ENOCLAIM, "the feed code is still recorded");
	hub_req_release(&r);

	req_init(&r, "/v2/queues/q1/messages/m1");
	hub_reply_feed_error_as(&r, FEED_ECLAIMED, NULL, words);
	is(r.reply.status, 403, "an error the overrides do not name: the table");
	hub_req_release(&r);

	req_init(&r, "/v2/queues/q1");
	hub_reply_feed_error(&r, FEED_EFULL, "Queue");
	is(r.reply.status, 507, "FEED_EFULL: 507");
	hub_req_release(&r);
}

static void ws_claim(void)
{
	feed_msg_t m1 = msg("m1", CLAIM, "{\"k\": 1}");
	feed_msg_t m2 = msg("m2", CLAIM, "\"two\"");
	json_t *body = json_pack("{s:s}", "queue_name", "q1");
	feed_msg_t both[2];
	json_t *data = json_array(), *ws;
	struct hub_buf text = {0};
	struct hub_req r;
	int st = 0;

	both[0] = m1;
	both[1] = m2;
	req_init(&r, "/v2/queues/q1/claims");
	hub_msg_text(&text, &r, &m1, true, data);
	is(json_array_size(data), 0,
	   "over HTTP a message is not also built as data");
	hub_buf_add(&text, "", 1); /* a C string to compare */
	is_str(text.data,
	       "{\"id\": \"m1\", \"href\": \"/v2/queues/q1/messages/m1"
	       "?claim_id=" CLAIM "\", \"ttl\": 300, \"age\": 60, "
	       "\"body\": {\"k\": 1}}",
	       "a message as text: the stored body spliced in as stored");
	hub_buf_reset(&text, 0);
	r.wants_msg_data = true; /* as the WebSocket transport asks */
	hub_buf_adds(&text, "{\"messages\": ");
	hub_msg_array_text(&text, &r, both, 2, true, data);
	hub_buf_add(&text, "}", 1);
	hub_reply_set_location(&r, "/v2/queues/q1/claims/%s", CLAIM);
	hub_reply_set_claim(&r, CLAIM);
	hub_reply_set_msgs(&r, data);
	hub_reply_text(&r, 201, &text, NULL);
	ws = hub_ws_reply_body(&r, "claim_create", body, &st);
	is(st, 201, "claim_create: 201");
	is_str(dump(ws),
	       "{\"claim_id\":\"" CLAIM "\",\"messages\":["
	       "{\"age\":60,\"body\":{\"k\":1},\"claim_id\":\"" CLAIM "\","
	       "\"id\":\"m1\",\"ttl\":300},"
	       "{\"age\":60,\"body\":\"two\",\"claim_id\":\"" CLAIM "\","
	       "\"id\":\"m2\",\"ttl\":300}]}",
	       "Zaqar's claim frame body, from the fields");
	json_decref(ws);
	hub_req_release(&r);

	req_init(&r, "/v2/queues/q1/claims");
	hub_reply(&r, 204, NULL);
	ws = hub_ws_reply_body(&r, "claim_create", body, &st);
	is(st, 204, "nothing to claim: 204");
	is_str(dump(ws), "{\"claim_id\":null}", "claim_id null");
	json_decref(ws);
	hub_req_release(&r);

	req_init(&r, "/v2/queues/q1/messages");
	hub_reply_set_ids(&r, json_pack("[s,s]", "m1", "m2"));
	/* the hrefs say something else: the field is what counts */
	hub_reply(&r, 201, json_pack("{s:[s]}", "resources", "/elsewhere/x"));
	ws = hub_ws_reply_body(&r, "message_post", body, &st);
	is_str(dump(ws), "{\"message_ids\":[\"m1\",\"m2\"]}",
	       "message_post: the created ids");
	json_decref(ws);
	hub_req_release(&r);
	json_decref(body);
}

static void ws_delete_errors(void)
{
	json_t *body = json_pack("{s:s, s:s}", "queue_name", "q1", "message_id",
				 "m1");
	struct hub_req r;
	json_t *ws;
	int st = 0;

	req_init(&r, "/v2/queues/q1/messages/m1");
	hub_reply_feed_error(&r, FEED_ECLAIMED, NULL);
	ws = hub_ws_reply_body(&r, "message_delete", body, &st);
	is(st, 403, "FEED_ECLAIMED: 403");
	is_str(dump(ws),
	       "{\"error\":\"This message is claimed; it cannot be deleted "
	       "without a valid claim ID.\",\"exception\":\"Message m1 is "
	       "claimed\"}",
	       "the frame names the message as claimed");
	json_decref(ws);
	hub_req_release(&r);

	req_init(&r, "/v2/queues/q1/messages/m1");
	hub_reply_feed_error(&r, FEED_ENOTCLAIMED, NULL);
	ws = hub_ws_reply_body(&r, "message_delete", body, &st);
	is(st, 400, "FEED_ENOTCLAIMED: 400");
	is_str(dump(ws),
	       "{\"error\":\"A claim was specified, but the message is not "
	       "currently claimed.\",\"exception\":\"Message m1 is not "
	       "claimed\"}",
	       "the frame names the message as not claimed");
	json_decref(ws);
	hub_req_release(&r);

	/* The same words without the code behind them: no special frame. */
	req_init(&r, "/v2/queues/q1/messages/m1");
	hub_reply_error(&r, 400, "Unable to delete",
			"A claim was specified, but the message is not "
			"currently claimed.");
	ws = hub_ws_reply_body(&r, "message_delete", body, &st);
	is_str(dump(ws),
	       "{\"error\":null,\"exception\":\"A claim was specified, but the "
	       "message is not currently claimed.\"}",
	       "words alone are not matched");
	json_decref(ws);
	hub_req_release(&r);
	json_decref(body);
}

static void ws_frame(void)
{
	struct hub_ws_action a;
	json_t *frame;

	memset(&a, 0, sizeof(a));
	a.request = json_pack("{s:s, s:{}, s:{}, s:s}", "action", "claim_get",
			      "body", "headers", "api", "v2");
	hub_ws_action_fail(&a, 404, "Claim c does not exist", NULL);
	ok(a.frame != NULL, "the frame is built");
	frame = a.frame ? json_loadb(a.frame + LWS_PRE, a.frame_len, 0, NULL)
			: NULL;
	is_str(dump(frame),
	       "{\"body\":{\"error\":null,\"exception\":\"Claim c does not "
	       "exist\"},\"headers\":{\"status\":404},\"request\":{\"action\":"
	       "\"claim_get\",\"api\":\"v2\",\"body\":{},\"headers\":{}}}",
	       "request echo, body, status");
	json_decref(frame);
	hub_ws_action_clear(&a);
}

int main(void)
{
	hub_config_defaults(&cfg);
	http_rendering();
	feed_errors();
	ws_claim();
	ws_delete_errors();
	ws_frame();
	done_testing();
	return exit_status();
}
