/*
 * ws_actions.c - Zaqar's WebSocket actions (zaqar-api.md §12), served by
 * the same handlers as HTTP.
 *
 * An action becomes a struct hub_req, as if it had come over HTTP:
 *
 *   {"action": "message_post",                 POST /v2/queues/q/messages
 *    "headers": {"Client-ID": c,        --->   Client-ID: c
 *                "X-Project-ID": p},           X-Project-ID: p
 *    "body": {"queue_name": "q",               {"messages": [...]}
 *             "messages": [...]}}
 *
 * then hub_route() runs it with the WS transport below: the handler
 * answers at once (reads) or after a deferred write (the writer calls
 * job_out / job_back / resume, as for HTTP). Its reply - a status, a JSON
 * value and named fields (reply.h: claim id, created ids, messages as
 * data, the feed error behind an error) - is then shaped into Zaqar's
 * WebSocket frame, from that data alone (no reply text is parsed back):
 *
 *   {"request": {"action", "body", "headers", "api": "v2"},
 *    "body": <Zaqar's WS body>, "headers": {"status": N}}
 *
 * where bodies differ from HTTP's: no hrefs or links, message objects
 * {"id", "claim_id", "ttl", "age", "body"}, plain strings for creations
 * and removals ("Queue q created."), {"message_ids": [...]} for a post,
 * {"claim_id", "messages"} for a claim, and errors as
 * {"exception": <what HTTP calls the description>, "error": null | text}.
 *
 * Schema checks come first, as Zaqar's: required headers (Client-ID and
 * X-Project-ID) and body fields present and of the right JSON type, else
 * 400 {"error": "Schema validation failed."}.
 */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "transport/ws.h"

enum verb_id {
	V_QUEUE_LIST,
	V_QUEUE_CREATE,
	V_QUEUE_GET,
	V_QUEUE_DELETE,
	V_QUEUE_STATS,
	V_QUEUE_PURGE,
	V_MESSAGE_POST,
	V_MESSAGE_LIST,
	V_MESSAGE_GET,
	V_MESSAGE_GET_MANY,
	V_MESSAGE_DELETE,
	V_MESSAGE_DELETE_MANY,
	V_CLAIM_CREATE,
	V_CLAIM_GET,
	V_CLAIM_UPDATE,
	V_CLAIM_DELETE,
	V_CONN,         /* answered by ws.c: subscribe, subscription_* */
	/* subscription_* of stored (webhook) subscriptions: routed */
	V_SUB_CREATE,
	V_SUB_LIST,
	V_SUB_GET,
	V_SUB_DELETE,
	V_AUTHENTICATE,
};

/* Body fields' types, for the schema checks. */
enum ftype { F_STR, F_INT, F_BOOL, F_ARRAY, F_OBJECT, F_ANY };

struct field {
	const char *name;
	enum ftype type;
	bool required;
};

#define MAX_FIELDS 6

struct ws_verb {
	const char *name;
	enum verb_id id;
	struct field fields[MAX_FIELDS];
};

#define Q {"queue_name", F_STR, true}

static const struct ws_verb verbs[] = {
	{"queue_list", V_QUEUE_LIST,
	 {{"marker", F_STR, false}, {"limit", F_INT, false},
	  {"detailed", F_BOOL, false}}},
	{"queue_create", V_QUEUE_CREATE, {Q, {"metadata", F_OBJECT, false}}},
	{"queue_get", V_QUEUE_GET, {Q}},
	{"queue_delete", V_QUEUE_DELETE, {Q}},
	{"queue_get_stats", V_QUEUE_STATS, {Q}},
	{"queue_purge", V_QUEUE_PURGE, {Q, {"resource_types", F_ARRAY, false}}},
	{"message_post", V_MESSAGE_POST, {Q, {"messages", F_ARRAY, true}}},
	{"message_list", V_MESSAGE_LIST,
	 {Q, {"marker", F_STR, false}, {"limit", F_INT, false},
	  {"echo", F_BOOL, false}, {"include_claimed", F_BOOL, false}}},
	{"message_get", V_MESSAGE_GET, {Q, {"message_id", F_STR, true}}},
	{"message_get_many", V_MESSAGE_GET_MANY,
	 {Q, {"message_ids", F_ARRAY, true}}},
	{"message_delete", V_MESSAGE_DELETE,
	 {Q, {"message_id", F_STR, true}, {"claim_id", F_STR, false}}},
	{"message_delete_many", V_MESSAGE_DELETE_MANY,
	 {Q, {"message_ids", F_ARRAY, false}, {"claim_ids", F_ARRAY, false},
	  {"pop", F_INT, false}}},
	{"claim_create", V_CLAIM_CREATE,
	 {Q, {"limit", F_INT, false}, {"ttl", F_INT, false},
	  {"grace", F_INT, false}}},
	{"claim_get", V_CLAIM_GET, {Q, {"claim_id", F_STR, true}}},
	{"claim_update", V_CLAIM_UPDATE,
	 {Q, {"claim_id", F_STR, true}, {"ttl", F_INT, false},
	  {"grace", F_INT, false}}},
	{"claim_delete", V_CLAIM_DELETE, {Q, {"claim_id", F_STR, true}}},
	{"subscribe", V_CONN,
	 {Q, {"marker", F_ANY, false}, {"from", F_STR, false},
	  {"echo", F_BOOL, false}}},
	{"unsubscribe", V_CONN, {{"subscription", F_STR, true}}},
	{"subscription_create", V_CONN,
	 {Q, {"subscriber", F_STR, false}, {"ttl", F_INT, false},
	  {"options", F_OBJECT, false}}},
	{"subscription_list", V_CONN, {Q}},
	{"subscription_get", V_CONN, {Q, {"subscription_id", F_STR, true}}},
	{"subscription_delete", V_CONN, {Q, {"subscription_id", F_STR, true}}},
	{"authenticate", V_AUTHENTICATE, {{NULL, F_ANY, false}}},
};

/*
 * The subscription actions as they route to the subscriptions resource:
 * subscription_create with a subscriber URL (a webhook, stored), the
 * listing (stored ones, then the connection's own), and get/delete of an
 * id that is not one of the connection's (sub_routed()). Not in verbs[]:
 * what a client names is always the action above.
 */
static const struct ws_verb sub_verbs[] = {
	{"subscription_create", V_SUB_CREATE, {Q}},
	{"subscription_list", V_SUB_LIST, {Q}},
	{"subscription_get", V_SUB_GET, {Q}},
	{"subscription_delete", V_SUB_DELETE, {Q}},
};

static struct hub_ws_action *priv(struct hub_req *r)
{
	return (struct hub_ws_action *)r;
}

/* ---------------------------------------------------------------- frames */

void hub_ws_action_reply(struct hub_ws_action *a, int status, json_t *body)
{
	json_t *frame = json_object();
	char *text;
	size_t len;

	json_object_set(frame, "request", a->request);
	json_object_set_new(frame, "body", body ? body : json_object());
	json_object_set_new(frame, "headers",
			    json_pack("{s:i}", "status", status));
	text = json_dumps(frame, JSON_ENCODE_ANY);
	json_decref(frame);
	free(a->frame);
	a->frame = NULL;
	a->frame_len = 0;
	if (!text)
		return; /* ws.c answers a frame it cannot build with a close */
	len = strlen(text);
	a->frame = malloc(LWS_PRE + len);
	if (a->frame) {
		memcpy(a->frame + LWS_PRE, text, len);
		a->frame_len = len;
	}
	free(text);
}

static json_t *fail_body(const char *text, const char *error);

void hub_ws_action_fail(struct hub_ws_action *a, int status, const char *text,
			const char *error)
{
	hub_ws_action_reply(a, status, fail_body(text, error));
}

static void schema_failed(struct hub_ws_action *a)
{
	hub_ws_action_reply(a, 400, json_pack("{s:s}", "error",
					      "Schema validation failed."));
}

void hub_ws_action_clear(struct hub_ws_action *a)
{
	hub_req_release(&a->pub);
	free(a->req_body);
	free(a->frame);
	json_decref(a->request);
	memset(a, 0, sizeof(*a));
}

/* ------------------------------------------------------- the transport */

static void finish(struct hub_ws_action *a);

static void ws_job_out(struct hub_req *r, struct hub_job *job)
{
	priv(r)->job = job;
}

static void ws_job_back(struct hub_req *r)
{
	priv(r)->job = NULL;
}

static void ws_resume(struct hub_req *r)
{
	if (!priv(r)->job) /* not deferred again */
		finish(priv(r));
}

/* No `hold`: actions never long-poll (they send no `wait`). */
static const struct hub_transport ws_transport = {
	.job_out = ws_job_out,
	.job_back = ws_job_back,
	.resume = ws_resume,
};

/* --------------------------------------------------- building requests */

static bool type_ok(json_t *v, enum ftype t)
{
	switch (t) {
	case F_STR:
		return json_is_string(v);
	case F_INT:
		return json_is_integer(v);
	case F_BOOL:
		return json_is_boolean(v);
	case F_ARRAY:
		return json_is_array(v);
	case F_OBJECT:
		return json_is_object(v);
	default:
		return true;
	}
}

static bool schema_ok(const struct ws_verb *v, json_t *body)
{
	for (size_t i = 0; i < MAX_FIELDS && v->fields[i].name; i++) {
		const struct field *f = &v->fields[i];
		json_t *val = json_object_get(body, f->name);

		if (!val && f->required)
			return false;
		if (val && !type_ok(val, f->type))
			return false;
	}
	return true;
}

/* Adds a query parameter from a JSON scalar or array of strings (joined
 * with commas, as HTTP clients send lists). */
static int query_add(struct hub_req *r, const char *key, json_t *v)
{
	char *val, *block;
	size_t klen, vlen;

	if (!v || json_is_null(v))
		return 0;
	if (json_is_string(v)) {
		val = strdup(json_string_value(v));
	} else if (json_is_boolean(v)) {
		val = strdup(json_is_true(v) ? "true" : "false");
	} else if (json_is_integer(v)) {
		val = json_dumps(v, JSON_ENCODE_ANY);
	} else if (json_is_array(v)) {
		size_t len = 1, i;
		json_t *e;

		json_array_foreach(v, i, e) {
			if (json_is_string(e))
				len += strlen(json_string_value(e)) + 1;
		}
		val = calloc(1, len);
		json_array_foreach(v, i, e) {
			if (!val || !json_is_string(e))
				continue;
			if (*val)
				strcat(val, ",");
			strcat(val, json_string_value(e));
		}
	} else {
		return -1;
	}
	if (!val)
		return -1;
	if (!*val) {
		free(val); /* blank values are as if absent, as over HTTP */
		return 0;
	}
	klen = strlen(key);
	vlen = strlen(val);
	block = malloc(klen + 1 + vlen + 1);
	if (block) {
		memcpy(block, key, klen + 1);
		memcpy(block + klen + 1, val, vlen + 1);
	}
	free(val);
	return block ? hub_query_take(r, block, block + klen + 1) : -1;
}

/* The request body: an object of those of the listed fields of the
 * action's body that were sent. */
/* The routed request's body: `text` (taken over; NULL = out of memory). */
static int body_take(struct hub_ws_action *a, char *text)
{
	a->req_body = text;
	if (!text)
		return -1;
	a->pub.has_body = true;
	a->pub.body = text;
	a->pub.body_len = strlen(text);
	return 0;
}

/* The routed request's body: the named fields of the action's body
 * (NULL-terminated, or at most 3). */
static int body_set(struct hub_ws_action *a, const char *const *names)
{
	json_t *o = json_object();
	int rc;

	for (size_t i = 0; i < 3 && names[i]; i++) {
		json_t *v = json_object_get(a->body, names[i]);

		if (v)
			json_object_set(o, names[i], v);
	}
	rc = body_take(a, json_dumps(o, 0));
	json_decref(o);
	return rc;
}

static const char *str(json_t *body, const char *name)
{
	return json_string_value(json_object_get(body, name));
}

/*
 * How a routed action becomes a request: its method; the path below
 * /v2/queues/{queue_name} (NULL: /v2/queues itself); a body field that is
 * one more path segment; query parameters from body fields ("name" or
 * "name=field"); body fields copied into the request body.
 */
struct plan {
	enum verb_id id;
	enum hub_method method;
	const char *suffix;
	const char *segment;
	const char *query[4];
	const char *body[3];
};

static const struct plan plans[] = {
	{V_QUEUE_LIST, HUB_GET, NULL, NULL, {"marker", "limit"}, {NULL}},
	{V_QUEUE_CREATE, HUB_PUT, "", NULL, {NULL}, {NULL}}, /* + metadata */
	{V_QUEUE_DELETE, HUB_DELETE, "", NULL, {NULL}, {NULL}},
	{V_QUEUE_STATS, HUB_GET, "/stats", NULL, {NULL}, {NULL}},
	{V_QUEUE_PURGE, HUB_POST, "/purge", NULL, {NULL}, {NULL}}, /* + types */
	{V_MESSAGE_POST, HUB_POST, "/messages", NULL, {NULL}, {"messages"}},
	{V_MESSAGE_LIST, HUB_GET, "/messages", NULL,
	 {"marker", "limit", "echo", "include_claimed"}, {NULL}},
	{V_MESSAGE_GET, HUB_GET, "/messages", "message_id", {NULL}, {NULL}},
	{V_MESSAGE_GET_MANY, HUB_GET, "/messages", NULL, {"ids=message_ids"},
	 {NULL}},
	{V_MESSAGE_DELETE, HUB_DELETE, "/messages", "message_id", {"claim_id"},
	 {NULL}},
	{V_MESSAGE_DELETE_MANY, HUB_DELETE, "/messages", NULL,
	 {"ids=message_ids", "claim_ids", "pop"}, {NULL}},
	{V_CLAIM_CREATE, HUB_POST, "/claims", NULL, {"limit"},
	 {"ttl", "grace"}},
	{V_CLAIM_GET, HUB_GET, "/claims", "claim_id", {NULL}, {NULL}},
	{V_CLAIM_UPDATE, HUB_PATCH, "/claims", "claim_id", {NULL},
	 {"ttl", "grace"}},
	{V_CLAIM_DELETE, HUB_DELETE, "/claims", "claim_id", {NULL}, {NULL}},
	{V_SUB_CREATE, HUB_POST, "/subscriptions", NULL, {NULL},
	 {"subscriber", "ttl", "options"}},
	{V_SUB_LIST, HUB_GET, "/subscriptions", NULL, {NULL}, {NULL}},
	{V_SUB_GET, HUB_GET, "/subscriptions", "subscription_id", {NULL},
	 {NULL}},
	{V_SUB_DELETE, HUB_DELETE, "/subscriptions", "subscription_id", {NULL},
	 {NULL}},
};

static const struct plan *plan_find(enum verb_id id)
{
	for (size_t i = 0; i < sizeof(plans) / sizeof(*plans); i++)
		if (plans[i].id == id)
			return &plans[i];
	return NULL;
}

/*
 * Zaqar's WS queue_purge checks no resource types (HTTP's purge refuses
 * unknown ones): it purges messages if "messages" is listed, the queue's
 * subscriptions if "subscriptions" is, and ignores anything else; no list
 * is both. Whether it has messages to purge.
 */
static bool purge_wants(json_t *body, const char *type)
{
	json_t *types = json_object_get(body, "resource_types"), *t;
	size_t i;

	if (!types)
		return true;
	json_array_foreach(types, i, t)
		if (json_is_string(t) && strcmp(json_string_value(t), type) == 0)
			return true;
	return false;
}

/* The request body of an action whose plan copies no fields. */
static int body_special(struct hub_ws_action *a)
{
	json_t *meta = json_object_get(a->body, "metadata");
	json_t *doc;
	int rc;

	if (a->verb->id == V_QUEUE_CREATE && meta)
		return body_take(a, json_dumps(meta, 0));
	if (a->verb->id != V_QUEUE_PURGE)
		return 0;
	/* The known types of those listed, for HTTP's purge. */
	doc = json_pack("{s:[]}", "resource_types");
	meta = json_object_get(doc, "resource_types");
	if (purge_wants(a->body, "messages"))
		json_array_append_new(meta, json_string("messages"));
	if (purge_wants(a->body, "subscriptions"))
		json_array_append_new(meta, json_string("subscriptions"));
	rc = body_take(a, doc ? json_dumps(doc, 0) : NULL);
	json_decref(doc);
	return rc;
}

/* Method, path, query and body of a routed action, by its plan. */
static int build(struct hub_ws_action *a)
{
	const struct plan *p = plan_find(a->verb->id);
	struct hub_req *r = &a->pub;
	json_t *b = a->body;
	int rc = 0, n;

	if (!p)
		return -1;
	r->method = p->method;
	if (!p->suffix)
		n = snprintf(a->path, sizeof(a->path), "/v2/queues");
	else
		n = snprintf(a->path, sizeof(a->path), "/v2/queues/%s%s%s%s",
			     str(b, "queue_name"), p->suffix,
			     p->segment ? "/" : "",
			     p->segment ? str(b, p->segment) : "");
	if (n < 0 || (size_t)n >= sizeof(a->path))
		return -1;
	for (size_t i = 0; i < 4 && p->query[i]; i++) {
		const char *eq = strchr(p->query[i], '=');
		char name[32];

		snprintf(name, sizeof(name), "%.*s",
			 (int)(eq ? (size_t)(eq - p->query[i])
				  : strlen(p->query[i])),
			 p->query[i]);
		rc |= query_add(r, name,
				json_object_get(b, eq ? eq + 1 : p->query[i]));
	}
	if (p->body[0])
		rc |= body_set(a, p->body);
	else
		rc |= body_special(a);
	return rc ? -1 : 0;
}

/* ------------------------------------------------------------ reshaping */

static const struct ws_verb *verb_find(const char *name)
{
	for (size_t i = 0; i < sizeof(verbs) / sizeof(*verbs); i++)
		if (strcmp(verbs[i].name, name) == 0)
			return &verbs[i];
	return NULL;
}

static json_t *fail_body(const char *text, const char *error)
{
	return json_pack("{s:s, s:o}", "exception", text, "error",
			 error ? json_string(error) : json_null());
}

/* The reply's messages as data (hub_msg_data), [] when none. */
static json_t *msgs_of(const struct hub_reply *rp)
{
	return rp->msgs ? json_incref(rp->msgs) : json_array();
}

/* Queue metadata as stored: no reserved defaults (Zaqar's WS queue_get). */
static json_t *queues_shape(struct hub_req *r, json_t *body, json_t *list)
{
	bool detailed = json_is_true(json_object_get(body, "detailed"));
	json_t *out = json_array(), *q;
	size_t i;

	json_array_foreach(list, i, q) {
		const char *name = str(q, "name");
		json_t *o = json_pack("{s:s}", "name", name ? name : "");

		if (detailed)
			json_object_set_new(o, "metadata",
					    hub_queue_meta(r, name ? name : ""));
		json_array_append_new(out, o);
	}
	return out;
}

/*
 * The `error` Zaqar's WS handlers give a storage failure (5xx) of each
 * action; "%s": the queue, or the claim of claim_*.
 */
static const char *failure_words(enum verb_id verb)
{
	switch (verb) {
	case V_QUEUE_LIST:
		return "Queues could not be listed.";
	case V_QUEUE_CREATE:
		return "Queue %s could not be created.";
	case V_QUEUE_DELETE:
		return "Queue %s could not be deleted.";
	case V_QUEUE_STATS:
		return "Queue stats could not be read.";
	case V_QUEUE_PURGE:
		return "Queue %s could not be purged.";
	case V_MESSAGE_POST:
		return "Messages could not be enqueued.";
	case V_MESSAGE_LIST:
		return "Messages could not be listed.";
	case V_MESSAGE_GET:
	case V_MESSAGE_GET_MANY:
		return "Message could not be retrieved.";
	case V_MESSAGE_DELETE:
		return "Message could not be deleted.";
	case V_MESSAGE_DELETE_MANY:
		return "Messages could not be deleted.";
	case V_CLAIM_CREATE:
		return "Claim could not be created.";
	case V_CLAIM_GET:
		return "Claim %s could not be queried.";
	case V_CLAIM_UPDATE:
		return "Claim %s could not be updated.";
	case V_CLAIM_DELETE:
		return "Claim %s could not be deleted.";
	default:
		return "Unexpected error.";
	}
}

/*
 * An error reply, as Zaqar's WS transport words it: {"exception": the
 * storage exception's text, "error": the handler's summary, or null
 * where the handler gives none}. Its mongodb driver's exceptions name
 * what is missing ("Claim C does not exist in queue Q, project P"); a
 * delete refused for its claim names the message; storage failures get
 * the action's summary (failure_words). Otherwise the exception is what
 * HTTP calls the description, with a null error.
 */
static json_t *error_shape(struct hub_req *r, enum verb_id verb,
			   json_t *body, const struct hub_reply *rp)
{
	const char *q = str(body, "queue_name"), *cid = str(body, "claim_id");
	const char *mid = str(body, "message_id");
	const char *desc = rp->error_text    ? rp->error_text
			   : rp->error_title ? rp->error_title
					     : "Error";
	char text[512], error[256];

	if (verb == V_MESSAGE_DELETE && rp->feed_err == FEED_ECLAIMED) {
		/* MessageIsClaimed, or MessageNotClaimedBy with a claim id. */
		if (cid)
			snprintf(text, sizeof(text), "Message %s is not claimed "
				 "by %s", mid, cid);
		else
			snprintf(text, sizeof(text), "Message %s is claimed",
				 mid);
		return fail_body(text, rp->error_text);
	}
	if (verb == V_MESSAGE_DELETE && rp->feed_err == FEED_ENOTCLAIMED) {
		snprintf(text, sizeof(text), "Message %s is not claimed", mid);
		return fail_body(text, rp->error_text);
	}
	if (rp->feed_err == FEED_ENOCLAIM && cid &&
	    (verb == V_MESSAGE_DELETE || verb == V_CLAIM_GET ||
	     verb == V_CLAIM_UPDATE)) {
		snprintf(text, sizeof(text), "Claim %s does not exist in queue "
			 "%s, project %s", cid, q, r->project);
		if (verb == V_MESSAGE_DELETE)
			return fail_body(text, "The specified claim does not "
					 "exist or has expired.");
		snprintf(error, sizeof(error), "Claim %s does not exist.", cid);
		return fail_body(text, error);
	}
	if (verb == V_MESSAGE_GET && rp->status == 404 && mid) {
		snprintf(text, sizeof(text), "Message %s does not exist in "
			 "queue %s, project %s", mid, q, r->project);
		return fail_body(text, NULL);
	}
	if (rp->status >= 500) {
		snprintf(error, sizeof(error), failure_words(verb),
			 verb >= V_CLAIM_GET && verb <= V_CLAIM_DELETE && cid
				 ? cid
				 : q);
		return fail_body(desc, error);
	}
	return fail_body(desc, NULL);
}

/* Stats with the oldest and newest as Zaqar's mongodb driver gives them
 * and its WebSocket transport passes them on: {id, age, created}, no href
 * (the ids come as data, stats.c). A new copy. */
static json_t *stats_shape(const struct hub_reply *rp)
{
	json_t *out = json_deep_copy(rp->json);
	json_t *m = json_object_get(out, "messages");
	const char *which[] = {"oldest", "newest"};

	for (size_t i = 0; i < 2; i++) {
		json_t *ref = json_object_get(m, which[i]);
		const char *id = str(json_array_get(rp->msgs, i), "id");

		if (!json_is_object(ref))
			continue;
		json_object_set_new(m, which[i], json_pack(
			"{s:s?, s:O?, s:O?}", "id", id, "age",
			json_object_get(ref, "age"), "created",
			json_object_get(ref, "created")));
	}
	return out;
}

/* A successful reply's WS body; NULL = {}. */
static json_t *success_shape(struct hub_req *r, enum verb_id verb,
			     json_t *body)
{
	const struct hub_reply *rp = &r->reply;
	const char *q = str(body, "queue_name");

	switch (verb) {
	case V_QUEUE_LIST:
		return json_pack("{s:o}", "queues",
				 queues_shape(r, body,
					      json_object_get(rp->json, "queues")));
	case V_QUEUE_CREATE:
		return json_sprintf("Queue %s created.", q);
	case V_QUEUE_DELETE:
		return json_sprintf("Queue %s removed.", q);
	case V_MESSAGE_POST:
		return json_pack("{s:o}", "message_ids",
				 rp->msg_ids ? json_incref(rp->msg_ids)
					     : json_array());
	case V_MESSAGE_LIST:
	case V_MESSAGE_GET_MANY:
		return json_pack("{s:o}", "messages", msgs_of(rp));
	case V_MESSAGE_GET:
		return json_pack("{s:O?}", "messages",
				 json_array_get(rp->msgs, 0));
	case V_MESSAGE_DELETE_MANY:
		return json_incref(rp->json); /* pop: already Zaqar's shape */
	case V_CLAIM_CREATE:
		if (rp->status != 201 || !rp->claim_id[0])
			return json_pack("{s:n}", "claim_id");
		return json_pack("{s:s, s:o}", "claim_id", rp->claim_id,
				 "messages", msgs_of(rp));
	case V_CLAIM_GET:
		return json_pack("{s:O?, s:O?, s:o}", "age",
				 json_object_get(rp->json, "age"), "ttl",
				 json_object_get(rp->json, "ttl"), "messages",
				 msgs_of(rp));
	case V_CLAIM_UPDATE:
		return json_sprintf("Claim %s updated.", str(body, "claim_id"));
	case V_CLAIM_DELETE:
		return json_sprintf("Claim %s deleted.", str(body, "claim_id"));
	case V_QUEUE_STATS:
		return stats_shape(rp);
	case V_SUB_CREATE:
		return json_pack("{s:O?, s:o}", "subscription_id",
				 json_object_get(rp->json, "subscription_id"),
				 "message",
				 json_sprintf("Subscription %s created.", q));
	case V_SUB_LIST: {
		json_t *list = json_deep_copy(
			json_object_get(rp->json, "subscriptions"));
		json_t *own = hub_ws_conn_subs_json(priv(r)->conn, r->project,
						    q, r->now_ms);

		json_array_extend(list, own);
		json_decref(own);
		return json_pack("{s:o}", "subscriptions",
				 list ? list : json_array());
	}
	case V_SUB_GET:
		return json_incref(rp->json);
	case V_SUB_DELETE:
		return json_sprintf("Subscription %s removed.",
				    str(body, "subscription_id"));
	default: /* purge, message_delete: {} */
		return NULL;
	}
}

/* The answers of routed subscription actions that differ from the
 * resource's: Zaqar's WS texts for a duplicate and a missing one. */
static json_t *sub_error_shape(json_t *body, const struct hub_reply *rp,
			       enum verb_id verb)
{
	const char *sid = str(body, "subscription_id");
	char text[160], error[160];

	if (verb == V_SUB_CREATE && rp->status == 409)
		return json_sprintf("Subscription %s not created.",
				    str(body, "queue_name"));
	if (verb == V_SUB_GET && rp->status == 404) {
		snprintf(text, sizeof(text), "Subscription %.64s does not exist",
			 sid);
		snprintf(error, sizeof(error),
			 "Subscription %.64s does not exist.", sid);
		return fail_body(text, error);
	}
	return NULL;
}

static json_t *reply_body(struct hub_req *r, const struct ws_verb *v,
			  json_t *body, int *status)
{
	const struct hub_reply *rp = &r->reply;
	json_t *sub_err;

	*status = rp->status;
	if (!v)
		return fail_body("Unknown action.", NULL);
	if (rp->status >= 400 && (sub_err = sub_error_shape(body, rp, v->id)))
		return sub_err;
	/* Zaqar's WS stats of a queue that is not there: 404 with all
	 * zeros (HTTP answers them 200 on v1.1 and v2). */
	if (v->id == V_QUEUE_STATS && rp->feed_err == FEED_ENOQUEUE) {
		*status = 404;
		return json_pack("{s:{s:i, s:i, s:i}}", "messages", "claimed", 0,
				 "free", 0, "total", 0);
	}
	/* Zaqar's WS message_get_many lists what it found, nothing too,
	 * where HTTP answers no hits 404. */
	if (v->id == V_MESSAGE_GET_MANY && rp->status == 404) {
		*status = 200;
		return json_pack("{s:[]}", "messages");
	}
	if (rp->status < 400)
		return success_shape(r, v->id, body);
	return error_shape(r, v->id, body, rp);
}

json_t *hub_ws_reply_body(struct hub_req *r, const char *action,
			  json_t *body, int *status)
{
	return reply_body(r, verb_find(action), body, status);
}

static void finish(struct hub_ws_action *a)
{
	json_t *body;
	int status;

	if (!a->pub.reply.replied)
		hub_reply_error(&a->pub, 500, "Internal server error",
				"The request was not answered.");
	body = reply_body(&a->pub, a->verb, a->body, &status);
	hub_ws_action_reply(a, status, body);
	/* The frame holds all of it now: let go of the routed request's
	 * copies while the frame waits for the client to read it. */
	hub_req_release(&a->pub);
	free(a->req_body);
	a->req_body = NULL;
	a->ready_fn(a);
}

/* ----------------------------------------------------------- running */

/* Idempotency-Key (a Herald extension), as HTTP's header: message_post
 * hands it to the handler, which checks it; a string, as every header. */
static bool idempotency_key_ok(struct hub_ws_action *a, json_t *h)
{
	json_t *v = json_object_get(h, "Idempotency-Key");

	if (!v || a->verb->id != V_MESSAGE_POST)
		return true;
	if (!json_is_string(v)) {
		hub_ws_action_fail(a, 400, "The Idempotency-Key header must be "
				   "a string.", NULL);
		return false;
	}
	a->pub.idempotency_key = json_string_value(v);
	a->pub.idempotency_key_len = json_string_length(v);
	return true;
}

/*
 * Client-ID, as the schema requires it, and X-Project-ID: as on HTTP
 * (issue #3), a missing project is the default project; an empty or
 * oversized one is refused.
 */
static bool headers_ok(struct hub_ws_action *a)
{
	json_t *h = json_object_get(a->request, "headers");
	const char *cid = str(h, "Client-ID"), *project = str(h, "X-Project-ID");
	bool has_project = json_object_get(h, "X-Project-ID") != NULL;
	struct hub_req *r = &a->pub;

	if (!cid || (has_project && !project)) {
		schema_failed(a);
		return false;
	}
	if (hub_uuid_parse(cid, r->client_id) != 0) {
		hub_ws_action_fail(a, 400, "Malformed hexadecimal UUID.", NULL);
		return false;
	}
	if (has_project && (!*project || !hub_project_ok(project))) {
		hub_ws_action_fail(a, 400, "The format of the submitted queue "
				   "name or project id is not valid.", NULL);
		return false;
	}
	r->has_client_id = true;
	snprintf(a->project, sizeof(a->project), "%s",
		 has_project ? project : "");
	r->project = a->project;
	return idempotency_key_ok(a, h);
}

/* An id that can stand as one path segment or one value of an ids= list
 * (it is routed as one). */
static bool segment_ok(json_t *v)
{
	const char *s = json_string_value(v);

	/* No route parameter is longer than 127 bytes (route.h). */
	return !v || (s && *s && strlen(s) < 128 && !strpbrk(s, "/?#%&=,"));
}

/*
 * The names an action puts into its routed path: the queue name by the
 * API's rule, ids as single path segments - else "q/messages/ID" as a
 * queue name would reach another route.
 */
static bool names_ok(json_t *body)
{
	const char *q = json_string_value(json_object_get(body, "queue_name"));
	json_t *ids = json_object_get(body, "message_ids"), *id;
	size_t i;

	if (json_object_get(body, "queue_name") &&
	    !(q && hub_queue_name_ok(q, strlen(q))))
		return false;
	if (!segment_ok(json_object_get(body, "message_id")) ||
	    !segment_ok(json_object_get(body, "claim_id")) ||
	    !segment_ok(json_object_get(body, "subscription_id")))
		return false;
	json_array_foreach(ids, i, id)
		if (!segment_ok(id))
			return false;
	return true;
}


/* Which subscription action goes to the subscriptions resource (see
 * sub_verbs); NULL: the connection answers it. */
static const struct ws_verb *sub_routed(struct hub_ws_action *a,
					const char *name)
{
	const char *q = str(a->body, "queue_name");
	const char *sid = str(a->body, "subscription_id");
	enum verb_id id;

	if (strcmp(name, "subscription_create") == 0)
		id = json_object_get(a->body, "subscriber") ? V_SUB_CREATE
							    : V_CONN;
	else if (strcmp(name, "subscription_list") == 0)
		id = V_SUB_LIST;
	else if (strcmp(name, "subscription_get") == 0 ||
		 strcmp(name, "subscription_delete") == 0)
		id = hub_ws_conn_owns_sub(a->conn, a->pub.project, q, sid)
			     ? V_CONN
			     : name[13] == 'g' ? V_SUB_GET : V_SUB_DELETE;
	else
		id = V_CONN;
	for (size_t i = 0; i < sizeof(sub_verbs) / sizeof(*sub_verbs); i++)
		if (sub_verbs[i].id == id)
			return &sub_verbs[i];
	return NULL;
}

/* ------------------------------------------------------ who may act */

/* The answer to `authenticate`, now or from a strategy's later answer. */
static void authenticated(struct hub_ws_action *a, enum hub_auth_verdict v,
			  const char *why)
{
	if (v == HUB_AUTH_UNAVAILABLE) {
		hub_ws_action_reply(a, 503, json_pack("{s:s, s:s}", "error",
						      "Service Unavailable",
						      "exception", why));
		return;
	}
	if (v != HUB_AUTH_OK) {
		hub_ws_action_reply(a, 401, json_pack("{s:s, s:s}", "error",
						      "Authentication failed.",
						      "exception", why));
		return;
	}
	*a->conn_ident = a->ident;
	hub_ws_conn_keep_token(a->conn,
			       str(json_object_get(a->request, "headers"),
				   "X-Auth-Token"));
	hub_ws_action_reply(a, 200, json_pack("{s:s}", "message",
					      "Authentified."));
}

static void authenticate_done(struct hub_auth_wait *w,
			      enum hub_auth_verdict v)
{
	struct hub_ws_action *a =
		lws_container_of(w, struct hub_ws_action, auth_wait);

	a->auth_pending = false;
	authenticated(a, v, w->why);
	a->ready_fn(a);
}

/*
 * Zaqar's `authenticate`: the token in X-Auth-Token becomes the
 * connection's identity (auth.h). Where the server asks no credentials
 * (`none`) every connection may act already, and a well-formed request
 * is simply accepted. False when the strategy answers later
 * (authenticate_done() then finishes the action).
 */
static bool authenticate(struct hub_ws_action *a, json_t *h)
{
	struct hub_auth_ctx *auth = a->pub.srv->auth;
	struct hub_auth_cred cred = {.token = str(h, "X-Auth-Token"),
				     .project = str(h, "X-Project-ID")};
	const char *why = "Authentication failed.";
	enum hub_auth_verdict v;

	if (!cred.token || (!hub_auth_required(auth) && !cred.project)) {
		schema_failed(a);
		return true;
	}
	if (!hub_auth_required(auth)) {
		hub_ws_action_reply(a, 200, json_pack("{s:s}", "message",
						      "Authentified."));
		return true;
	}
	memset(&a->auth_wait, 0, sizeof(a->auth_wait));
	a->auth_wait.done = authenticate_done;
	v = hub_auth_resolve(auth, &cred, hub_now_ms(), &a->ident, &why,
			     &a->auth_wait);
	if (v == HUB_AUTH_PENDING) {
		a->auth_pending = true;
		return false;
	}
	authenticated(a, v, why);
	return true;
}

/*
 * The action's identity: the connection's, with the action's project
 * where the credential lets the client name one (`none`, a "*" token) -
 * else the credential's. An unauthenticated connection is refused, as
 * Zaqar refuses it: 403 "Not authentified.".
 */
static bool identity(struct hub_ws_action *a)
{
	struct hub_auth_ctx *auth = a->pub.srv->auth;
	struct hub_auth_cred cred = {.project = a->project};
	const char *why;

	if (!hub_auth_required(auth)) {
		hub_auth_resolve(auth, &cred, a->pub.now_ms, &a->ident, &why,
				 NULL);
	} else if (!a->conn_ident->resolved) {
		hub_ws_action_reply(a, 403, json_pack("{s:s, s:s}", "error",
			"Not authentified.", "exception", "Send an "
			"\"authenticate\" action with X-Auth-Token first."));
		return false;
	} else {
		a->ident = *a->conn_ident;
	}
	if (a->ident.any_project)
		snprintf(a->ident.project, sizeof(a->ident.project), "%s",
			 a->project);
	a->pub.ident = &a->ident;
	a->pub.project = a->ident.project;
	/* A cluster's answers gathered from every node (the queue list,
	 * health) are asked with these, as HTTP's are with its headers. */
	a->cred = (struct hub_auth_cred){
		.token = hub_ws_conn_token(a->conn),
		.project = a->project[0] ? a->project : NULL,
	};
	a->pub.cred = &a->cred;
	a->pub.hclient = &a->pub.srv->hclient;
	return true;
}

/* Whether the action's identity may do what `need` asks on `queue`;
 * replies 401 or 403 when not. */
static bool permitted(struct hub_ws_action *a, int need, const char *queue)
{
	int status;
	const char *why;

	if (hub_auth_permits(&a->ident, need, queue, hub_now_ms(), &status,
			     &why))
		return true;
	hub_ws_action_reply(a, status, json_pack("{s:s, s:s}", "error",
						 status == 401
							 ? "Not authentified."
							 : "Not authorized.",
						 "exception", why));
	return false;
}

enum hub_ws_action_check_result hub_ws_action_check(struct hub_ws_action *a)
{
	const char *name = str(a->request, "action");
	struct hub_req *r = &a->pub;
	const struct ws_verb *v = verb_find(name);

	if (!v) {
		char text[256];

		snprintf(text, sizeof(text), "%.200s is not a valid action", name);
		hub_ws_action_reply(a, 400, json_pack("{s:s}", "error", text));
		return HUB_WS_CHECK_ANSWERED;
	}
	a->verb = v;
	if (v->id == V_AUTHENTICATE)
		return HUB_WS_CHECK_AUTH;
	if (!headers_ok(a))
		return HUB_WS_CHECK_ANSWERED;
	if (!schema_ok(v, a->body)) {
		schema_failed(a);
		return HUB_WS_CHECK_ANSWERED;
	}
	if (!names_ok(a->body)) {
		hub_ws_action_fail(a, 400, "The format of the submitted queue name "
				   "or project id is not valid.", NULL);
		return HUB_WS_CHECK_ANSWERED;
	}
	if (v->id == V_CONN) {
		a->verb = v = sub_routed(a, name);
		if (!v)
			return HUB_WS_CHECK_CONN;
	}
	if (v->id == V_QUEUE_GET)
		return HUB_WS_CHECK_ROUTE; /* run() answers it */
	r->wants_msg_data = true; /* frames are built from reply.msgs */
	r->content_type = "application/json";
	if (build(a)) {
		hub_ws_action_fail(a, 503, "Out of memory.", "Unexpected error.");
		return HUB_WS_CHECK_ANSWERED;
	}
	r->path = a->path;
	return HUB_WS_CHECK_ROUTE;
}

/* The actions answered here once the identity is known: a purge of
 * nothing, and queue_get. False when the action is to be routed. */
static bool answered_here(struct hub_ws_action *a)
{
	const char *q = str(a->body, "queue_name");

	if (a->verb->id == V_QUEUE_PURGE && !purge_wants(a->body, "messages") &&
	    !purge_wants(a->body, "subscriptions")) {
		/* Nothing of this queue to purge: Zaqar's 204. */
		hub_ws_action_reply(a, 204, NULL);
		return true;
	}
	if (a->verb->id != V_QUEUE_GET)
		return false;
	/* Zaqar's WS queue_get: the stored metadata, {} when none (even
	 * for a missing queue); no reserved defaults. */
	if (!hub_queue_name_ok(q, strlen(q)))
		hub_ws_action_fail(a, 400, "The format of the submitted "
				   "queue name or project id is not valid.",
				   NULL);
	else if (permitted(a, HUB_AUTH_READ, q))
		hub_ws_action_reply(a, 200, hub_queue_meta(&a->pub, q));
	return true;
}

enum hub_ws_action_run_result hub_ws_action_run(struct hub_ws_action *a)
{
	struct hub_req *r = &a->pub;
	struct hub_route_match m;

	switch (hub_ws_action_check(a)) {
	case HUB_WS_CHECK_AUTH:
		if (!authenticate(a, json_object_get(a->request, "headers")))
			return HUB_WS_ACTION_STARTED; /* ready_fn follows */
		goto out;
	case HUB_WS_CHECK_ANSWERED:
		goto out;
	case HUB_WS_CHECK_CONN:
		/* The connection's own subscriptions. */
		if (identity(a) &&
		    permitted(a, HUB_AUTH_SUBSCRIBE, str(a->body, "queue_name")))
			return HUB_WS_ACTION_CONN;
		goto out;
	case HUB_WS_CHECK_ROUTE:
		break;
	}
	if (!identity(a) || answered_here(a))
		goto out;
	r->transport = &ws_transport;
	hub_route_lookup(r->method, r->path, &m);
	if (!permitted(a, m.attrs->auth, m.queue))
		goto out;
	hub_route_dispatch(r, &m);
	if (!a->job)
		finish(a);
	return HUB_WS_ACTION_STARTED;
out:
	a->ready_fn(a);
	return HUB_WS_ACTION_STARTED;
}
