/*
 * messages.c - the message collection of v1, v1.1 and v2 (zaqar-api.md
 * §6.5, §8, §11): post and list; GET with ?ids= goes to message.c. What
 * both files use is msgs.c's (msgs.h).
 *
 * One implementation; the versions differ only where Zaqar's differ:
 *
 *   route           v2                     v1.1            v1
 *   POST messages   {"messages": [..]},    same, without   bare array, ttl
 *                   queue's default ttl,   the queue's     required, 404 for
 *                   size cap and delay     metadata        a missing queue,
 *                                                          "partial": false
 *   GET messages    include_delayed        no delay        204 when empty,
 *                   forced on for queues   filter          no "id" key
 *                   without a delay
 *   GET ?ids=       404 when none found    same            bare array / 204
 *
 * Topics (/v2/topics/{t}/messages, route.c) are served by the same code
 * on the topics' storage, as v2; a post never creates a topic.
 *
 * Reads (lists, gets) run here on the loop thread; a post goes to the
 * writer thread through hub_defer_append, with a context that owns copies
 * of everything the writer needs (r may be gone by then).
 *
 * Posts are validated whole before anything is written, in Zaqar's order:
 * size, document shape, then every entry's fields (types first, for all
 * entries), then the ranges. A batch is all or nothing.
 *
 * v1 hrefs carry ?claim_id= only in claim responses, as in Zaqar.
 *
 * Idempotency keys (a Herald extension, docs/api.md): a message object
 * may carry "idempotency_key", and a v1.1/v2 document one for the whole
 * request, which stands for "<key>\0<index>" for each message without
 * its own (a NUL no message's key holds, so the two never collide). Keys
 * are 1..HUB_IDEM_KEY_MAX bytes. feed answers a repeat within the queue's
 * `_idempotency_window` with the original's id; the 201 is the same as
 * for a fresh post, with "duplicates": [indexes of the repeats] added
 * whenever keys were in play.
 *
 * Next links follow what Zaqar really does (transcript_v2_messages1.txt):
 * the recognised parameters in Zaqar's fixed order marker, limit, echo,
 * include_claimed, include_delayed with their parsed values; a marker that
 * was not sent goes last.
 *
 * Conditional GET (v2 listings, a Herald extension): a 200 carries an ETag
 * hashed from what its body is a function of apart from the ages - each
 * message's id (which stands for its body: bodies never change), claim
 * id and ttl, the next link, the gap header -
 * so a poller's If-None-Match gets a bodyless 304 while nothing it would
 * see has changed. With wait=N as well, a request whose tag still matches
 * is held like an empty long-poll: it answers 200 when a commit changes
 * its page, or 304 when the wait ends.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "req.h"
#include "api/api.h"
#include "writer.h"
#include "live/cursor.h"
#include "live/wait.h"
#include "render.h"
#include "etag.h"
#include "buf.h"
#include "msgs.h"
#include "batch.h"
#include "meta.h"

#define LIST_DEFAULT_LIMIT 10

/* ------------------------------------------------------------- helpers */

/* v1 message list and post require a Client-ID (§2, point 4). */
static bool v1_client_id_ok(struct hub_req *r)
{
	if (r->version != HUB_V1 || r->has_client_id)
		return true;
	hub_reply_error(r, 400, "Missing header value",
			"The \"Client-ID\" header is required.");
	return false;
}

/* ---------------------------------------------------------------- post */

struct post_ctx {
	feed_append_req_t areq;
	feed_msg_in_t *msgs;
	char *text;        /* the bodies' bytes, one after the other:
			    * msgs[i].body point into it */
	char (*ids)[FEED_ID_LEN + 1];
	feed_key_t *keys;  /* NULL when the post carries none (or keys off) */
	char **key_bufs;
	bool *dups;
	size_t n;
	char *project, *queue;
};

static void post_ctx_free(struct post_ctx *c)
{
	if (!c)
		return;
	for (size_t i = 0; c->key_bufs && i < c->n; i++)
		free(c->key_bufs[i]);
	free(c->key_bufs);
	free(c->keys);
	free(c->dups);
	free(c->text);
	free(c->msgs);
	free(c->ids);
	free(c->project);
	free(c->queue);
	free(c);
}

/* What a post is checked against, from the version and queue metadata. */
struct post_rules {
	long long queue_max_size; /* v2 _max_messages_post_size; 0 = none */
	long long default_ttl;
	bool ttl_required;        /* v1 */
	bool delay;               /* v2 queue with _default_message_delay */
	long long default_delay;
	long long idem_window;    /* v2 _idempotency_window; 0 = keys off */
};

static void post_rules_get(struct hub_req *r, struct post_rules *pr)
{
	const struct hub_limits *lim = &r->cfg->limits;

	memset(pr, 0, sizeof(*pr));
	pr->default_ttl = lim->default_message_ttl;
	pr->ttl_required = r->version == HUB_V1;
	pr->idem_window = HUB_IDEM_WINDOW_DEFAULT;
	if (r->version == HUB_V2) {
		json_t *meta = hub_queue_meta(r, r->queue);
		long long ttl = hub_meta_int(meta, "_default_message_ttl", 0);

		if (ttl)
			pr->default_ttl = ttl;
		pr->queue_max_size =
			hub_meta_int(meta, "_max_messages_post_size", 0);
		pr->default_delay =
			hub_meta_int(meta, "_default_message_delay", 0);
		pr->delay = pr->default_delay != 0;
		pr->idem_window = hub_meta_int(meta, "_idempotency_window",
					       HUB_IDEM_WINDOW_DEFAULT);
		json_decref(meta);
	}
}

/* Zaqar checks Content-Length before parsing anything. */
static bool post_size_ok(struct hub_req *r, const struct post_rules *pr)
{
	long long cfg_max = r->cfg->limits.max_messages_post_size;
	long long len = (long long)r->body_len;

	if (!r->has_body)
		return true;
	if (pr->queue_max_size > 0) {
		long long max = pr->queue_max_size < cfg_max
					? pr->queue_max_size
					: cfg_max;

		if (len > max) {
			hub_reply_error(
				r, 400, "Invalid API request",
				"Message collection size is too large. The max "
				"size for current queue is %lld. It is "
				"calculated by max size = "
				"min(max_messages_post_size_config: %lld, "
				"max_messages_post_size_queue: %lld).",
				max, cfg_max, pr->queue_max_size);
			return false;
		}
	}
	if (len > cfg_max) {
		hub_reply_error(r, 400, "Invalid API request",
				"Message collection size is too large. Max "
				"size %lld",
				cfg_max);
		return false;
	}
	return true;
}

/* The array of messages of a parsed post (borrowed); NULL after replying. */
static json_t *post_entries(struct hub_req *r, json_t *doc)
{
	json_t *arr = doc;

	if (r->version != HUB_V1) {
		arr = json_is_object(doc) ? json_object_get(doc, "messages")
					  : NULL;
		if (!arr) {
			hub_reply_error(r, 400, "Invalid API request",
					"No messages were found in the request "
					"body.");
			return NULL;
		}
	}
	if (!json_is_array(arr)) {
		hub_reply_error(r, 400, "Invalid request body",
				"Document type not supported.");
		return NULL;
	}
	return arr;
}

/* An idempotency key as sent (v may be NULL: none); false after
 * replying 400. */
static bool idem_key_ok(struct hub_req *r, json_t *v, const char *where)
{
	size_t len = json_string_length(v);

	if (!v || (json_is_string(v) && len >= 1 && len <= HUB_IDEM_KEY_MAX &&
		   strlen(json_string_value(v)) == len))
		return true;
	hub_reply_error(r, 400, "Invalid request body",
			"The idempotency_key of %s must be a string of 1 to %d "
			"bytes without NUL characters.",
			where, HUB_IDEM_KEY_MAX);
	return false;
}

/* Field types of every entry (Zaqar's sanitize), into ttl[] and delay[]. */
static bool post_fields(struct hub_req *r, json_t *arr,
			const struct post_rules *pr, long long *ttl,
			long long *delay)
{
	for (size_t i = 0; i < json_array_size(arr); i++) {
		json_t *m = json_array_get(arr, i);

		/* Zaqar answers 500 "'int' object is not subscriptable". */
		if (!json_is_object(m)) {
			hub_reply_error(r, 400, "Invalid request body",
					"Each message must be a JSON object.");
			return false;
		}
		if (!hub_body_int(r, m, "ttl", pr->ttl_required, pr->default_ttl,
			       &ttl[i]))
			return false;
		if (!json_object_get(m, "body")) {
			hub_reply_error(r, 400, "Invalid request body",
					"Missing \"body\" field.");
			return false;
		}
		delay[i] = 0;
		if (pr->delay && !hub_body_int(r, m, "delay", false,
					    pr->default_delay, &delay[i]))
			return false;
		if (!idem_key_ok(r, json_object_get(m, "idempotency_key"),
				 "a message"))
			return false;
	}
	return true;
}

/* The ranges (Zaqar's message_posting). */
static bool post_ranges(struct hub_req *r, size_t n, const long long *ttl,
			const long long *delay)
{
	const struct hub_limits *lim = &r->cfg->limits;

	if (n == 0) {
		hub_reply_error(r, 400, "Invalid API request",
				"No messages to enqueu.");
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (ttl[i] < HUB_MIN_MESSAGE_TTL ||
		    ttl[i] > lim->max_message_ttl) {
			hub_reply_error(r, 400, "Invalid API request",
					"The TTL for a message may not exceed "
					"%u seconds, and must be at least %d "
					"seconds long.",
					lim->max_message_ttl,
					HUB_MIN_MESSAGE_TTL);
			return false;
		}
		if (delay[i] < 0 || delay[i] > lim->max_message_delay) {
			hub_reply_error(r, 400, "Invalid API request",
					"The Delay TTL for a message may not "
					"exceed %u seconds,and must be at "
					"least 0 seconds long.",
					lim->max_message_delay);
			return false;
		}
	}
	return true;
}

/*
 * The request's key into *out (a new reference; NULL when none): the
 * document's "idempotency_key" (v1.1, v2), else the Idempotency-Key
 * header (any version). Both may be sent only when they are the same.
 * false after replying 400.
 */
static bool post_request_key(struct hub_req *r, json_t *doc, json_t **out)
{
	json_t *body = json_is_object(doc) ? json_object_get(doc,
							     "idempotency_key")
					   : NULL, *head = NULL;
	bool ok;

	*out = NULL;
	if (!idem_key_ok(r, body, "the request"))
		return false;
	if (r->idempotency_key) {
		size_t len = r->idempotency_key_len;

		if (len < 1 || len > HUB_IDEM_KEY_MAX ||
		    strlen(r->idempotency_key) != len) {
			hub_reply_error(r, 400, "Invalid request body",
					"The Idempotency-Key header must be 1 "
					"to %d bytes.", HUB_IDEM_KEY_MAX);
			return false;
		}
		head = json_stringn(r->idempotency_key, len);
		if (!head) {
			hub_msgs_reply_nomem(r);
			return false;
		}
	}
	ok = !body || !head || json_equal(body, head);
	if (!ok)
		hub_reply_error(r, 400, "Invalid request body",
				"The Idempotency-Key header and the body's "
				"idempotency_key differ: send one of them, or "
				"the same key in both.");
	*out = ok ? json_incref(body ? body : head) : NULL;
	json_decref(head);
	return ok;
}

/*
 * Message i's key into c (a copy): its own, else the request's with the
 * index, else none. false on ENOMEM.
 */
static bool post_key(struct post_ctx *c, size_t i, json_t *own, json_t *req)
{
	const char *k = json_string_value(own ? own : req);
	size_t len = json_string_length(own ? own : req);
	char *buf;

	if (!k)
		return true;
	buf = malloc(len + 24);
	if (!buf)
		return false;
	memcpy(buf, k, len);
	if (!own)
		len += (size_t)sprintf(buf + len, "%c%zu", 0, i);
	c->key_bufs[i] = buf;
	c->keys[i] = (feed_key_t){buf, len};
	return true;
}

/* The keys of the batch, when any and the queue's window is on. */
static bool post_ctx_keys(struct post_ctx *c, json_t *req, json_t *arr,
			  const struct post_rules *pr)
{
	bool any = req != NULL;

	for (size_t i = 0; !any && i < c->n; i++)
		any = json_object_get(json_array_get(arr, i),
				      "idempotency_key") != NULL;
	if (!any || pr->idem_window <= 0)
		return true;
	c->keys = calloc(c->n, sizeof(*c->keys));
	c->key_bufs = calloc(c->n, sizeof(*c->key_bufs));
	c->dups = calloc(c->n, sizeof(*c->dups));
	if (!c->keys || !c->key_bufs || !c->dups)
		return false;
	for (size_t i = 0; i < c->n; i++)
		if (!post_key(c, i,
			      json_object_get(json_array_get(arr, i),
					      "idempotency_key"),
			      req))
			return false;
	c->areq.keys = c->keys;
	c->areq.dups = c->dups;
	c->areq.idem_window_s = (uint32_t)pr->idem_window;
	return true;
}

/*
 * The stored text of a body: the bytes it was posted as, with JSON's line
 * breaks and tabs (which only ever stand between tokens: a string holds
 * none unescaped) turned into spaces, so that a stored body is always one
 * line - as an SSE data: line needs it (docs/api.md). Same length.
 */
static void body_one_line(char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] == '\n' || p[i] == '\r' || p[i] == '\t')
			p[i] = ' ';
}

/* The validated batch as an append request (new context; NULL on ENOMEM):
 * one copy of the bodies' bytes, each message pointing into it. */
static struct post_ctx *post_ctx_new(struct hub_req *r, json_t *req_key,
				     const struct hub_batch *b,
				     json_t *arr, const struct post_rules *pr,
				     const long long *ttl,
				     const long long *delay)
{
	size_t n = json_array_size(arr), bytes = 0;
	struct post_ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	/* post_fields() saw a "body" in every entry: each has its span. */
	assert(b->n == n);
	for (size_t i = 0; i < n; i++)
		bytes += b->spans[i].len;
	c->n = n;
	c->msgs = calloc(n, sizeof(*c->msgs));
	c->text = malloc(bytes ? bytes : 1);
	c->ids = calloc(n, sizeof(*c->ids));
	c->project = strdup(r->project ? r->project : "");
	c->queue = strdup(r->queue);
	if (!c->msgs || !c->text || !c->ids || !c->project || !c->queue)
		goto fail;
	for (size_t i = 0, at = 0; i < n; i++) {
		assert(b->spans[i].len > 0);
		memcpy(c->text + at, r->body + b->spans[i].off,
		       b->spans[i].len);
		c->msgs[i].body = c->text + at;
		c->msgs[i].body_len = b->spans[i].len;
		body_one_line(c->text + at, b->spans[i].len);
		at += b->spans[i].len;
		c->msgs[i].ttl_s = (uint32_t)ttl[i];
		c->msgs[i].delay_s = (uint32_t)delay[i];
	}
	c->areq.project = c->project;
	c->areq.queue = c->queue;
	c->areq.msgs = c->msgs;
	c->areq.n_msgs = n;
	if (r->has_client_id)
		memcpy(c->areq.client_id, r->client_id, 16);
	/* v1 (mongodb, as its tests expect) refuses a missing queue; a
	 * topic is never made by a post (Zaqar's topic routes look the topic
	 * up and fail without one): 404, "Topic t does not exist ...". */
	c->areq.flags = r->version == HUB_V1 || r->topic
				? FEED_APPEND_NO_CREATE
				: 0;
	c->areq.ids = c->ids;
	if (!post_ctx_keys(c, req_key, arr, pr))
		goto fail;
	return c;
fail:
	post_ctx_free(c);
	return NULL;
}

/* 201: the hrefs, the Location of them all, and the ids as a field
 * (for WebSocket's frames only). */
static void post_reply(struct hub_req *r, struct post_ctx *c)
{
	char *base = hub_queue_href(r, r->queue);
	struct hub_buf loc = {0}, text = {0};
	json_t *ids = r->wants_msg_data ? json_array() : NULL;

	if (!base) {
		json_decref(ids);
		hub_msgs_reply_nomem(r);
		return;
	}
	hub_buf_adds(&loc, base);
	hub_buf_adds(&loc, "/messages?ids=");
	hub_buf_adds(&text, "{\"resources\": [");
	for (size_t i = 0; i < c->n; i++) {
		if (i) {
			hub_buf_add(&loc, ",", 1);
			hub_buf_add(&text, ", ", 2);
		}
		hub_buf_adds(&loc, c->ids[i]);
		hub_buf_add(&text, "\"", 1);
		hub_buf_adds(&text, base); /* route text: needs no escape */
		hub_buf_adds(&text, "/messages/");
		hub_buf_adds(&text, c->ids[i]);
		hub_buf_add(&text, "\"", 1);
		json_array_append_new(ids, json_string(c->ids[i]));
	}
	hub_buf_add(&text, "]", 1);
	if (r->version == HUB_V1)
		hub_buf_adds(&text, ", \"partial\": false");
	if (c->dups) {
		bool first = true;

		hub_buf_adds(&text, ", \"duplicates\": [");
		for (size_t i = 0; i < c->n; i++) {
			if (!c->dups[i])
				continue;
			hub_buf_printf(&text, "%s%zu", first ? "" : ", ", i);
			first = false;
		}
		hub_buf_add(&text, "]", 1);
	}
	hub_buf_add(&text, "}", 1);
	hub_buf_add(&loc, "", 1);
	free(base);
	if (loc.failed) {
		hub_buf_free(&loc);
		hub_buf_free(&text);
		json_decref(ids);
		hub_msgs_reply_nomem(r);
		return;
	}
	hub_reply_set_location(r, "%s", loc.data);
	hub_buf_free(&loc);
	hub_reply_set_ids(r, ids);
	hub_reply_text(r, 201, &text, NULL);
}

static void post_done(struct hub_req *r, void *ctx, int rc)
{
	struct post_ctx *c = ctx;

	if (r && rc)
		hub_reply_feed_error(r, rc, NULL);
	else if (r)
		post_reply(r, c);
	post_ctx_free(c);
}

void hub_messages_post(struct hub_req *r)
{
	struct post_rules pr;
	struct post_ctx *c = NULL;
	struct hub_batch b = {0};
	long long *ttl = NULL, *delay = NULL;
	json_t *arr, *req_key = NULL;
	json_error_t err;
	size_t n;

	if (!v1_client_id_ok(r))
		return;
	post_rules_get(r, &pr);
	if (!post_size_ok(r, &pr) || !hub_body_present(r))
		return;
	if (hub_batch_parse(&b, r->body, r->body_len, r->version == HUB_V1,
			    &err)) {
		hub_body_refuse(r, &err);
		return;
	}
	arr = post_entries(r, b.doc);
	if (!arr)
		goto out;
	n = json_array_size(arr);
	ttl = calloc(n ? n : 1, sizeof(*ttl));
	delay = calloc(n ? n : 1, sizeof(*delay));
	if (!ttl || !delay) {
		hub_msgs_reply_nomem(r);
		goto out;
	}
	if (!post_fields(r, arr, &pr, ttl, delay) ||
	    !post_request_key(r, b.doc, &req_key) ||
	    !post_ranges(r, n, ttl, delay))
		goto out;
	c = post_ctx_new(r, req_key, &b, arr, &pr, ttl, delay);
	if (!c) {
		hub_msgs_reply_nomem(r);
		goto out;
	}
	hub_defer_append(r, &c->areq, post_done, c);
out:
	free(ttl);
	free(delay);
	json_decref(req_key);
	hub_batch_free(&b);
}

/* ----------------------------------------------------------------- list */

struct list_params {
	const char *marker;
	long long limit;
	bool echo, include_claimed, include_delayed;
	bool delayed_forced; /* v2 queue without a delay */
};

/* The next link of a listing page, as Zaqar builds it (see the top). */
static char *list_link(const struct hub_req *r, const struct list_params *p,
		       const char *next)
{
	bool marker_sent = hub_query(r, "marker") != NULL;
	struct hub_buf b = {0};
	const char *sep = "?";

	hub_buf_adds(&b, r->path);
	if (marker_sent) {
		hub_buf_adds(&b, "?marker=");
		hub_msgs_put_encoded(&b, next);
		sep = "&";
	}
	if (hub_query(r, "limit")) {
		hub_buf_adds(&b, sep);
		hub_buf_adds(&b, "limit=");
		hub_buf_add_int(&b, p->limit);
		sep = "&";
	}
	if (hub_query(r, "echo")) {
		hub_buf_adds(&b, sep);
		hub_buf_adds(&b, p->echo ? "echo=true" : "echo=false");
		sep = "&";
	}
	if (hub_query(r, "include_claimed")) {
		hub_buf_adds(&b, sep);
		hub_buf_adds(&b, p->include_claimed ? "include_claimed=true"
						     : "include_claimed=false");
		sep = "&";
	}
	if (p->delayed_forced ||
	    (r->version == HUB_V2 && hub_query(r, "include_delayed"))) {
		hub_buf_adds(&b, sep);
		hub_buf_adds(&b, p->include_delayed ? "include_delayed=true"
						     : "include_delayed=false");
		sep = "&";
	}
	if (!marker_sent) {
		hub_buf_adds(&b, sep);
		hub_buf_adds(&b, "marker=");
		hub_msgs_put_encoded(&b, next);
	}
	return hub_buf_take(&b, NULL);
}

/* Parses and validates the listing parameters; false after replying. */
static bool list_params_get(struct hub_req *r, struct list_params *p)
{
	unsigned max = r->cfg->limits.max_messages_per_page;

	memset(p, 0, sizeof(*p));
	p->marker = hub_query(r, "marker");
	if (!hub_query_int(r, "limit", LIST_DEFAULT_LIMIT, &p->limit) ||
	    !hub_query_bool(r, "echo", false, &p->echo) ||
	    !hub_query_bool(r, "include_claimed", false, &p->include_claimed))
		return false;
	if (r->version == HUB_V2) {
		json_t *meta;

		if (!hub_query_bool(r, "include_delayed", false,
				    &p->include_delayed))
			return false;
		meta = hub_queue_meta(r, r->queue);
		if (!hub_meta_int(meta, "_default_message_delay", 0)) {
			p->include_delayed = true;
			p->delayed_forced = true;
		}
		json_decref(meta);
	}
	if (p->limit < 1 || p->limit > max) {
		hub_reply_error(r, 400, "Invalid API request",
				"Limit must be at least 1 and may not be "
				"greater than %u.",
				max);
		return false;
	}
	if (!hub_wait_param(r))
		return false;
	/* A long-poll is a live reader: the cursor's marker rule. */
	if (r->wait_asked && !hub_cursor_marker_ok(p->marker)) {
		hub_cursor_refuse(r);
		return false;
	}
	return true;
}

/* A listing page: what the reads gathered. */
struct page {
	struct hub_buf text;          /* {"messages": [ and the messages
				       * rendered, ", " between */
	size_t n;                     /* how many */
	json_t *data;                 /* the same as data (hub_msg_data),
				       * for WebSocket only; else NULL */
	char next[FEED_ID_LEN + 1];   /* marker for the next page */
	bool gap;
	int64_t missed;               /* -1: unknown */
	struct hub_etag etag;         /* of the messages kept, so far */
	uint64_t wake_ms;             /* 0, or when time alone changes it */
};

/* Adds one read's gap report to the page's. */
static void page_gap(struct page *pg, const feed_msgs_t *msgs)
{
	if (!msgs->gap)
		return;
	if (!pg->gap)
		pg->missed = msgs->missed;
	else if (pg->missed >= 0 && msgs->missed >= 0)
		pg->missed += msgs->missed;
	else
		pg->missed = -1;
	pg->gap = true;
}

/* Adds a message to the page, and what its rendering depends on but its
 * age to the page's tag. */
static void page_add(const struct hub_req *r, struct page *pg,
		     const feed_msg_t *m)
{
	/* The answer's head comes with its first message (list_reply). */
	hub_buf_adds(&pg->text, pg->n++ ? ", " : "{\"messages\": [");
	hub_msg_text(&pg->text, r, m, hub_msgs_href_claim(r), pg->data);
	/* The id stands for the body: a stored body never changes, and an
	 * id is never given to another message (ids name the queue's
	 * generation), so hashing the bytes again would buy nothing. */
	hub_etag_add_str(&pg->etag, m->id);
	hub_etag_add_str(&pg->etag, m->claim_id);
	hub_etag_add_u64(&pg->etag, m->expires_ms - m->created_ms);
}

/*
 * Fills a page. Zaqar leaves messages not yet due (delayed) out unless
 * include_delayed, and its marker moves past them: feed's
 * FEED_READ_SKIP_DELAYED, so a page is one read.
 */
static int list_read(struct hub_req *r, const struct list_params *p,
		     struct page *pg)
{
	feed_read_opts_t opts = {0};
	feed_msgs_t msgs = {0};
	int rc;

	opts.limit = (size_t)p->limit;
	opts.flags = (p->include_delayed ? FEED_READ_INCLUDE_DELAYED
					 : FEED_READ_SKIP_DELAYED) |
		     (p->echo ? FEED_READ_ECHO : 0) |
		     (p->include_claimed ? FEED_READ_INCLUDE_CLAIMED : 0);
	if (r->has_client_id)
		memcpy(opts.client_id, r->client_id, 16);
	rc = feed_read(r->feed, r->project, r->queue, p->marker, &opts,
		       r->now_ms, &msgs);
	/* Zaqar restarts from the beginning for an unknown marker. */
	if (rc == FEED_EBADID)
		rc = feed_read(r->feed, r->project, r->queue, NULL, &opts,
			       r->now_ms, &msgs);
	if (rc)
		return rc;
	page_gap(pg, &msgs);
	/* When time alone changes the page: a delayed message it skipped
	 * falls due, or a claim on one it skipped expires. */
	pg->wake_ms = msgs.wake_ms;
	for (size_t j = 0; j < msgs.n; j++)
		page_add(r, pg, &msgs.v[j]);
	if (msgs.next_marker[0])
		memcpy(pg->next, msgs.next_marker, sizeof(pg->next));
	feed_msgs_free(&msgs);
	return 0;
}

/* The page's tag, finished with the rest of what the answer shows. */
static void list_etag(const struct hub_req *r, struct page *pg,
		      const char *link, char tag[HUB_ETAG_MAX])
{
	hub_etag_add_str(&pg->etag, r->queue);
	hub_etag_add_str(&pg->etag, link);
	hub_etag_add_u64(&pg->etag, pg->gap);
	hub_etag_add_u64(&pg->etag, (uint64_t)pg->missed);
	hub_etag_format(&pg->etag, false, tag);
}

/* The 200's text: {"messages": [..], "links": [{"rel": "next", ..}]},
 * the page's own buffer finished and handed over. */
static void list_reply_text(struct hub_req *r, struct page *pg,
			    const char *link)
{
	struct hub_buf *text = &pg->text;

	if (!pg->n) {
		hub_buf_adds(text, "{\"messages\": [], \"links\": []}");
	} else {
		hub_buf_adds(text,
			     "], \"links\": [{\"rel\": \"next\", \"href\": ");
		hub_render_str(text, link);
		hub_buf_adds(text, "}]}");
	}
	hub_reply_text(r, 200, text, NULL);
}

static void list_reply(struct hub_req *r, const struct list_params *p,
		       struct page *pg)
{
	bool empty = pg->n == 0;
	/* v1 always, and a long-poll that waited in vain: 204. */
	bool no_content = empty && (r->version == HUB_V1 || r->wait_asked);
	char *link = NULL, tag[HUB_ETAG_MAX] = "";

	if (pg->text.failed ||
	    (!empty && !(link = list_link(r, p, pg->next)))) {
		hub_msgs_reply_nomem(r);
		return;
	}
	if (r->version == HUB_V2 && !no_content) {
		list_etag(r, pg, link, tag);
		if (hub_etag_matches(r, tag) && hub_can_wait(r)) {
			free(link);
			hub_wait(r, pg->wake_ms); /* until the page changes */
			return;
		}
	}
	if (pg->gap && pg->missed >= 0)
		hub_header(r, "Herald-Gap", "%lld", (long long)pg->missed);
	else if (pg->gap)
		hub_header(r, "Herald-Gap", "unknown");
	if (tag[0])
		hub_header(r, "ETag", "%s", tag);
	hub_reply_set_msgs(r, json_incref(pg->data));
	if (tag[0] && hub_etag_matches(r, tag))
		hub_reply(r, 304, NULL);
	else if (no_content)
		hub_reply(r, 204, NULL);
	else
		list_reply_text(r, pg, link);
	free(link);
}

static void messages_list(struct hub_req *r)
{
	struct list_params p;
	struct page pg = {.n = 0};
	int rc;

	if (!v1_client_id_ok(r) || !list_params_get(r, &p))
		return;
	if (r->wants_msg_data && !(pg.data = json_array())) {
		hub_msgs_reply_nomem(r);
		return;
	}
	hub_etag_init(&pg.etag);
	rc = list_read(r, &p, &pg);
	if (rc)
		hub_reply_feed_error(r, rc, NULL);
	else if (pg.n == 0 && hub_can_wait(r))
		hub_wait(r, pg.wake_ms); /* long-poll: runs again on a commit */
	else
		list_reply(r, &p, &pg);
	hub_buf_free(&pg.text);
	json_decref(pg.data);
}

void hub_messages_get(struct hub_req *r)
{
	unsigned max = r->cfg->limits.max_messages_per_page;
	const char **ids = calloc(max + 1, sizeof(*ids));
	size_t n = 0;

	if (!ids) {
		hub_msgs_reply_nomem(r);
		return;
	}
	hub_msgs_v1_content_location(r);
	hub_query_list(r, "ids", ids, max + 1, &n);
	if (n)
		hub_msgs_get_ids(r, ids, n);
	else
		messages_list(r);
	free(ids);
}
