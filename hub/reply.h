/*
 * reply.h - a handler's reply as data (reply.c): a status, a JSON value
 * or pre-rendered text, and named fields that say what the reply means.
 * Every transport renders it its own way, from the data:
 *
 *   handler --hub_reply*(), hub_header(), hub_reply_set_*()--> struct hub_reply
 *     HTTP (http.c)          hub_reply_http(): status, type, body bytes,
 *                            header lines (Location from its field)
 *     WebSocket (ws_actions.c)  Zaqar's frame from the status, the JSON
 *                            value and the fields: no text is parsed back
 *
 * The fields:
 *
 *   location    what a 201 created ("Location" over HTTP)
 *   claim_id    the claim a claim creation made
 *   msg_ids     the ids of the messages a post created
 *   msgs        the messages the reply shows, as data (hub_msg_data())
 *   feed_err    the feed error behind an error reply (FEED_E*), 0 else
 *   error_title, error_text   an error reply's words (Zaqar's
 *               {"title", "description"}); borrowed from `json`
 *
 * Feed errors map to HTTP through ONE table (hub_reply_feed_error); a call
 * whose place Zaqar words differently passes overrides, never its own
 * copy of the mapping.
 *
 * Loop thread only. A reply owns everything its pointers point at, except
 * `type` (a string constant) and the borrowed error words.
 */
#ifndef HERALD_HUB_REPLY_H
#define HERALD_HUB_REPLY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "feed.h"

struct hub_req;

struct hub_reply {
	int status;
	/* The body: a JSON value (owned) or pre-rendered text (owned) of
	 * type `type`, or both (hub_reply_text: text for HTTP, the value
	 * for WebSocket); neither: no body. hub_reply_http() renders json
	 * to text when there is no text (json is kept: other transports
	 * read it). */
	json_t *json;
	char *text;
	size_t text_len;
	const char *type;          /* NULL: application/json */
	struct hub_buf headers;    /* HTTP-only lines "Name: value\r\n" */

	/* Named fields (see the top). */
	char *location;
	char claim_id[FEED_CLAIM_ID_LEN + 1];
	json_t *msg_ids;           /* array of strings, owned */
	json_t *msgs;              /* array of hub_msg_data() objects, owned */
	int feed_err;
	const char *error_title;   /* borrowed from json */
	const char *error_text;    /* borrowed from json; NULL: none */

	bool replied;
	bool rendered;             /* hub_reply_http() ran */
};

/* ---------------------------------------------------------------- replies */

/*
 * Replies `status` with a JSON body (steals `body`; NULL = no body, e.g.
 * 204). Content-Type application/json either way, as Zaqar does.
 * A handler replies exactly once, now or in a deferred write's `done`.
 */
void hub_reply(struct hub_req *r, int status, json_t *body);
/*
 * Replies `status` with JSON text the handler rendered (application/
 * json): takes text's bytes (text is empty after), and steals `json`
 * (may be NULL), the same reply as a value for the transports that read
 * one (WebSocket's frames: only what they read need be in it). A text
 * that failed to grow is answered as FEED_ENOMEM.
 */
void hub_reply_text(struct hub_req *r, int status, struct hub_buf *text,
		    json_t *json);
/* Replies with a raw body of the given content type (a string constant;
 * the body is copied). */
void hub_reply_raw(struct hub_req *r, int status, const char *type,
		   const void *body, size_t len);
/* Replies Zaqar's error body {"title": ..., "description": ...};
 * `fmt` NULL leaves the description out (routing errors). */
void hub_reply_error(struct hub_req *r, int status, const char *title,
		     const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * A call's own words for a feed error where Zaqar words it differently in
 * that place (a delete's unknown claim is a 400 "Unable to delete", not
 * the table's 404). Zero fields keep the table's: status 0, title NULL,
 * text NULL. `text` is the whole description, already formatted.
 */
struct hub_feed_words {
	int err;                /* FEED_E*; 0 ends a list */
	int status;
	const char *title;
	const char *text;
};
/* Replies the one status and body that map feed error `err` (the one
 * table); `what` names the thing for FEED_ENOTFOUND (e.g. "Message
 * <id>"; may be NULL) and for the log. Records err in reply.feed_err. */
void hub_reply_feed_error(struct hub_req *r, int err, const char *what);
/* The same, with `words` (a list ended by err 0; may be NULL) replacing
 * the table's words for the errors it names. */
void hub_reply_feed_error_as(struct hub_req *r, int err, const char *what,
			     const struct hub_feed_words *words);

/* Adds a response header (HTTP only; e.g. "Content-Location"). */
void hub_header(struct hub_req *r, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Sets the Location field: what the reply created. */
void hub_reply_set_location(struct hub_req *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Sets the claim_id field. */
void hub_reply_set_claim(struct hub_req *r, const char *claim_id);
/* Sets the msg_ids field (steals `ids`, an array of strings). */
void hub_reply_set_ids(struct hub_req *r, json_t *ids);
/* Sets the msgs field (steals `msgs`, an array of hub_msg_data()). */
void hub_reply_set_msgs(struct hub_req *r, json_t *msgs);

/* The project as Zaqar prints it in its texts: as sent (on a topic route
 * too: r->project_sent), "None" when there is none (Python's None).
 * Borrowed: r's, or a string constant. */
const char *hub_project_text(const struct hub_req *r);

/* ------------------------------------------------------------- transports */

/*
 * Renders rp for HTTP, once: its JSON value to text (Zaqar's ", " and ": "
 * spacing) and its Location field into its header lines. A value that
 * cannot be encoded becomes a 500 error reply. After it rp->text,
 * rp->text_len, rp->headers are what HTTP sends, rp->type the body's type
 * (NULL: application/json; no type at all for 204 and 304).
 */
void hub_reply_http(struct hub_reply *rp);
/* Frees what rp holds; rp is empty after. */
void hub_reply_release(struct hub_reply *rp);

#endif /* HERALD_HUB_REPLY_H */
