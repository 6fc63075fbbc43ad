/*
 * reply.c - a handler's reply as data (see reply.h), the one table from
 * feed's errors to HTTP, and the reply's HTTP rendering.
 *
 * A reply keeps its body as the JSON value the handler built; HTTP turns
 * it into text only when it sends it (hub_reply_http), WebSocket reads the
 * value and the named fields. Replies that carry messages are rendered by
 * their handlers as text with the stored bodies spliced in
 * (hub_reply_text), so HTTP sends them as they are; what WebSocket needs
 * of them travels as fields (and a small value where it reads one). Errors are Zaqar's JSON bodies,
 * {"title": ..., "description": ...}; their words stay readable as fields.
 *
 * The feed error table: one row per feed code, its status, title and
 * description (a format whose arguments the row names). A call may replace
 * a row's words (struct hub_feed_words) for its place; the mapping itself
 * is only here.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "reply.h"
#include "req.h"

/* ---------------------------------------------------------------- replies */

/* Sets r's reply once; false (and frees what it was given) after a first. */
static bool reply_set(struct hub_req *r, int status, json_t *json,
		      char *text, size_t len, const char *type)
{
	struct hub_reply *rp = &r->reply;

	if (rp->replied) {
		hub_log(HUB_LOG_ERROR, "handler replied twice to %s", r->path);
		json_decref(json);
		free(text);
		return false;
	}
	rp->replied = true;
	rp->status = status;
	rp->json = json;
	rp->text = text;
	rp->text_len = len;
	rp->type = type;
	return true;
}

void hub_reply(struct hub_req *r, int status, json_t *body)
{
	reply_set(r, status, body, NULL, 0, NULL);
}

void hub_reply_text(struct hub_req *r, int status, struct hub_buf *text,
		    json_t *json)
{
	size_t len = 0;
	char *bytes = hub_buf_take(text, &len);

	if (!bytes) {
		json_decref(json);
		hub_reply_feed_error(r, FEED_ENOMEM, NULL);
		return;
	}
	reply_set(r, status, json, bytes, len, NULL);
}

void hub_reply_raw(struct hub_req *r, int status, const char *type,
		   const void *body, size_t len)
{
	char *copy = NULL;

	if (len) {
		copy = malloc(len);
		if (!copy) {
			reply_set(r, 503, NULL, NULL, 0, NULL);
			return;
		}
		memcpy(copy, body, len);
	}
	reply_set(r, status, NULL, copy, len, type);
}

void hub_reply_error(struct hub_req *r, int status, const char *title,
		     const char *fmt, ...)
{
	json_t *body = json_object();

	json_object_set_new(body, "title", json_string(title));
	if (fmt) {
		char text[1024];
		va_list ap;

		va_start(ap, fmt);
		vsnprintf(text, sizeof(text), fmt, ap);
		va_end(ap);
		json_object_set_new(body, "description", json_string(text));
	}
	hub_header(r, "Vary", "Accept");
	if (!reply_set(r, status, body, NULL, 0, NULL))
		return;
	r->reply.error_title =
		json_string_value(json_object_get(body, "title"));
	r->reply.error_text =
		json_string_value(json_object_get(body, "description"));
}

const char *hub_project_text(const struct hub_req *r)
{
	const char *p = r->topic ? r->project_sent : r->project;

	return p && *p ? p : "None";
}

/* ------------------------------------------------- the feed error table */

/* What a row's description is formatted with. */
enum feed_args {
	A_NONE,
	A_QUEUE,    /* "Queue" or "Topic", queue, project */
	A_WHAT,     /* what, queue, project */
	A_CLAIM,    /* claim id, queue, project */
	A_STRERROR, /* feed_strerror(err) */
};

struct feed_row {
	int err; /* 0: every other code (storage failures) */
	int status;
	const char *title;
	const char *fmt;
	enum feed_args args;
};

static const struct feed_row feed_rows[] = {
	{FEED_ENOQUEUE, 404, "Not found",
	 "%s %s does not exist for project %s", A_QUEUE},
	{FEED_ENOTFOUND, 404, "Not found",
	 "%s does not exist in queue %s for project %s", A_WHAT},
	{FEED_ENOCLAIM, 404, "Not found",
	 "Claim %s does not exist in queue %s for project %s", A_CLAIM},
	{FEED_ECLAIMED, 403, "Unable to delete",
	 "This message is claimed; it cannot be deleted without a valid "
	 "claim ID.", A_NONE},
	{FEED_ENOTCLAIMED, 400, "Unable to delete",
	 "A claim was specified, but the message is not currently claimed.",
	 A_NONE},
	{FEED_EINVAL, 400, "Invalid API request", "%s.", A_STRERROR},
	{FEED_EBADID, 400, "Invalid API request", "%s.", A_STRERROR},
	{FEED_ETOOBIG, 400, "Invalid API request",
	 "The request is too large.", A_NONE},
	{FEED_EFULL, 507, "Insufficient storage",
	 "Storage is full. Delete messages or queues, or raise "
	 "--max-map-size.", A_NONE},
	{FEED_ENOMEM, 503, "Service temporarily unavailable",
	 "Out of memory. Please try again in a few seconds.", A_NONE},
	{0, 503, "Service temporarily unavailable",
	 "Storage failed: %s. Please try again in a few seconds.",
	 A_STRERROR},
};

static const struct feed_row *feed_row(int err)
{
	size_t i = 0;

	while (feed_rows[i].err && feed_rows[i].err != err)
		i++;
	return &feed_rows[i];
}

/* The row's description for r. */
static void feed_text(const struct hub_req *r, const struct feed_row *row,
		      int err, const char *what, char *buf, size_t len)
{
	const char *queue = r->queue ? r->queue : "";
	const char *project = hub_project_text(r);

	/* The formats are the table's own, chosen by row->args. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	switch (row->args) {
	case A_QUEUE:
		snprintf(buf, len, row->fmt, r->topic ? "Topic" : "Queue",
			 queue, project);
		break;
	case A_WHAT:
		snprintf(buf, len, row->fmt, what ? what : "Resource", queue,
			 project);
		break;
	case A_CLAIM:
		snprintf(buf, len, row->fmt, r->id ? r->id : "", queue, project);
		break;
	case A_STRERROR:
		snprintf(buf, len, row->fmt, feed_strerror(err));
		break;
	default:
		snprintf(buf, len, "%s", row->fmt);
		break;
	}
#pragma GCC diagnostic pop
}

void hub_reply_feed_error_as(struct hub_req *r, int err, const char *what,
			     const struct hub_feed_words *words)
{
	const struct feed_row *row = feed_row(err);
	int status = row->status;
	const char *title = row->title, *text = NULL;
	char buf[1024];

	for (; words && words->err; words++) {
		if (words->err != err)
			continue;
		status = words->status ? words->status : status;
		title = words->title ? words->title : title;
		text = words->text;
		break;
	}
	if (!row->err)
		hub_log(HUB_LOG_ERROR, "%s %s: storage error: %s", r->path,
			what ? what : "", feed_strerror(err));
	if (!text) {
		feed_text(r, row, err, what, buf, sizeof(buf));
		text = buf;
	}
	if (r->reply.replied) {
		hub_log(HUB_LOG_ERROR, "handler replied twice to %s", r->path);
		return;
	}
	hub_reply_error(r, status, title, "%s", text);
	r->reply.feed_err = err;
}

void hub_reply_feed_error(struct hub_req *r, int err, const char *what)
{
	hub_reply_feed_error_as(r, err, what, NULL);
}

/* ----------------------------------------------------------------- fields */

void hub_header(struct hub_req *r, const char *name, const char *fmt, ...)
{
	struct hub_buf *b = &r->reply.headers;
	va_list ap;

	/* "Name: value\r\n", the value whole (a Location can list
	 * thousands of ids). */
	hub_buf_adds(b, name);
	hub_buf_add(b, ": ", 2);
	va_start(ap, fmt);
	hub_buf_vprintf(b, fmt, ap);
	va_end(ap);
	hub_buf_add(b, "\r\n", 2);
}

void hub_reply_set_location(struct hub_req *r, const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	free(r->reply.location);
	r->reply.location = s;
}

void hub_reply_set_claim(struct hub_req *r, const char *claim_id)
{
	snprintf(r->reply.claim_id, sizeof(r->reply.claim_id), "%s", claim_id);
}

void hub_reply_set_ids(struct hub_req *r, json_t *ids)
{
	json_decref(r->reply.msg_ids);
	r->reply.msg_ids = ids;
}

void hub_reply_set_msgs(struct hub_req *r, json_t *msgs)
{
	json_decref(r->reply.msgs);
	r->reply.msgs = msgs;
}

/* ------------------------------------------------------------- transports */

void hub_reply_http(struct hub_reply *rp)
{
	static const char failed[] =
		"{\"title\": \"Internal server error\", \"description\": "
		"\"The response could not be encoded.\"}";

	if (rp->rendered)
		return;
	rp->rendered = true;
	if (rp->json && !rp->text) {
		rp->text = json_dumps(rp->json, JSON_ENCODE_ANY);
		if (!rp->text) {
			rp->status = 500;
			rp->type = NULL;
			rp->text = strdup(failed);
		}
		rp->text_len = rp->text ? strlen(rp->text) : 0;
	}
	if (rp->location)
		hub_buf_printf(&rp->headers, "Location: %s\r\n", rp->location);
}

void hub_reply_release(struct hub_reply *rp)
{
	json_decref(rp->json);
	json_decref(rp->msg_ids);
	json_decref(rp->msgs);
	free(rp->text);
	free(rp->location);
	hub_buf_free(&rp->headers);
	memset(rp, 0, sizeof(*rp));
}
