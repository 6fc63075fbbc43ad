/*
 * message.c - the message routes that take messages by id or take
 * them away, in v1, v1.1 and v2 (zaqar-api.md §6.5, §8, §11): get by ids,
 * bulk delete by ids, pop, get one, delete one. Post and list are
 * messages.c's, as are the helpers both files use (msgs.h).
 *
 *   route                 v2, v1.1                  v1
 *   DELETE messages       ?ids= or ?pop=, not both  ?ids= only
 *   GET messages/{id}     the message               + Content-Location
 *   DELETE messages/{id}  ?claim_id= if claimed     same
 *
 * Gets run here on the loop thread; every delete and pop goes to the
 * writer thread through hub_defer, with a write_ctx that owns copies of
 * everything the writer needs (r may be gone by then) and gets back what
 * it found.
 *
 * Zaqar's answers are kept where clients see them: a pop reports the id of
 * a throw-away claim, as Zaqar pops through one; deleting an unclaimed
 * message with a claim id is "not currently claimed" whatever the claim;
 * and a claim id that is not a UUID still gets a 204 for a missing message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "config.h"
#include "req.h"
#include "api/api.h"
#include "writer.h"
#include "render.h"
#include "msgs.h"
#include "checksum.h"

/* ------------------------------------------------------------- helpers */

/* Seconds since `ms`; 0 for a time after r's clock (a group commit
 * stamps messages with the latest clock of its group). */
static long long age_s(const struct hub_req *r, uint64_t ms)
{
	return r->now_ms > ms ? hub_secs(r->now_ms - ms) : 0;
}

/* A stored body back as JSON (new reference; null if it does not parse,
 * which never happens for what Herald stored). */
static json_t *body_json(const feed_msg_t *m)
{
	json_t *body = json_loadb(m->body, m->body_len, JSON_DECODE_ANY, NULL);

	return body ? body : json_null();
}

/*
 * Context of a deferred message write: owns copies of what the writer
 * needs, and the writer's results.
 */
struct write_ctx {
	char *project, *queue;
	char *id, *claim_id;
	char **ids;
	size_t n_ids;
	size_t limit;
	feed_msgs_t msgs;
};

static void write_ctx_free(struct write_ctx *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_ids; i++)
		free(c->ids[i]);
	free(c->ids);
	free(c->project);
	free(c->queue);
	free(c->id);
	free(c->claim_id);
	feed_msgs_free(&c->msgs);
	free(c);
}

/* A context with the request's project and queue; NULL after replying. */
static struct write_ctx *write_ctx_new(struct hub_req *r)
{
	struct write_ctx *c = calloc(1, sizeof(*c));

	if (c) {
		c->project = strdup(r->project ? r->project : "");
		c->queue = strdup(r->queue);
	}
	if (!c || !c->project || !c->queue) {
		write_ctx_free(c);
		hub_msgs_reply_nomem(r);
		return NULL;
	}
	return c;
}

/* ---------------------------------------------------- bulk delete, pop */

static int delete_many_run(feed_txn_t *txn, void *ctx, uint64_t now_ms)
{
	struct write_ctx *c = ctx;

	return feed_delete_many_tx(txn, c->project, c->queue,
				(const char *const *)c->ids, c->n_ids, now_ms,
				NULL);
}

static void no_content_done(struct hub_req *r, void *ctx, int rc)
{
	if (r && rc)
		hub_reply_feed_error(r, rc, NULL);
	else if (r)
		hub_reply(r, 204, NULL);
	write_ctx_free(ctx);
}

static void messages_delete_ids(struct hub_req *r, const char **ids,
				size_t n)
{
	struct write_ctx *c = write_ctx_new(r);

	if (!c)
		return;
	c->ids = calloc(n, sizeof(*c->ids));
	for (size_t i = 0; c->ids && i < n; i++) {
		c->ids[i] = strdup(ids[i]);
		if (!c->ids[i])
			break;
		c->n_ids++;
	}
	if (c->n_ids < n) {
		write_ctx_free(c);
		hub_msgs_reply_nomem(r);
		return;
	}
	hub_defer(r, delete_many_run, no_content_done, c);
}

static int pop_run(feed_txn_t *txn, void *ctx, uint64_t now_ms)
{
	struct write_ctx *c = ctx;

	feed_msgs_free(&c->msgs); /* a run before this one may have filled it */
	return feed_pop_tx(txn, c->project, c->queue, c->limit, now_ms,
			&c->msgs);
}

/* Zaqar pops through a throw-away claim and reports its id; so do we. */
static void random_uuid(char out[FEED_CLAIM_ID_LEN + 1])
{
	uint8_t b[16] = {0};

	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
		memset(b, 0, sizeof(b));
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	snprintf(out, FEED_CLAIM_ID_LEN + 1,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
		 b[10], b[11], b[12], b[13], b[14], b[15]);
}

/*
 * A popped message as Zaqar's mongodb driver renders it (_basic_message),
 * with its "checksum" under enable-checksum as every other rendering of
 * a message (Zaqar's pop does not project the stored one, so gives none).
 */
static json_t *popped_json(const struct hub_req *r, const feed_msg_t *m,
			   const char *claim_id)
{
	char sum[HUB_CHECKSUM_LEN];
	json_t *o = json_pack("{s:s,s:I,s:I,s:o,s:s,s:I}", "id", m->id, "age",
			      (json_int_t)age_s(r, m->created_ms), "ttl",
			      (json_int_t)hub_secs(m->expires_ms -
						   m->created_ms),
			      "body", body_json(m), "claim_id", claim_id,
			      "claim_count", (json_int_t)m->claim_count);

	if (o && r->cfg->enable_checksum &&
	    hub_checksum(json_object_get(o, "body"), sum) == 0)
		json_object_set_new(o, "checksum", json_string(sum));
	return o;
}

static void pop_done(struct hub_req *r, void *ctx, int rc)
{
	struct write_ctx *c = ctx;
	char claim_id[FEED_CLAIM_ID_LEN + 1];
	json_t *arr;

	if (!r)
		goto out;
	if (rc) {
		hub_reply_feed_error(r, rc, NULL);
		goto out;
	}
	random_uuid(claim_id);
	arr = json_array();
	for (size_t i = 0; i < c->msgs.n; i++)
		json_array_append_new(arr, popped_json(r, &c->msgs.v[i],
						       claim_id));
	hub_reply(r, 200, json_pack("{s:o}", "messages", arr));
out:
	write_ctx_free(c);
}

static void messages_pop(struct hub_req *r, long long pop)
{
	struct write_ctx *c = write_ctx_new(r);

	if (!c)
		return;
	c->limit = (size_t)pop;
	hub_defer(r, pop_run, pop_done, c);
}

void hub_messages_delete(struct hub_req *r)
{
	const struct hub_limits *lim = &r->cfg->limits;
	unsigned max = lim->max_messages_per_page;
	const char **ids = calloc(max + 1, sizeof(*ids));
	bool has_pop = r->version != HUB_V1 && hub_query(r, "pop");
	long long pop = 0;
	size_t n = 0;

	if (!ids) {
		hub_msgs_reply_nomem(r);
		return;
	}
	hub_query_list(r, "ids", ids, max + 1, &n);
	if (r->version == HUB_V1) {
		/* v1: ids required, no pop. */
		if (n == 0)
			hub_reply_error(r, 400, "Missing parameter",
					"The \"ids\" parameter is required.");
		else if (n > max)
			hub_msgs_reply_limit(r, max);
		else
			messages_delete_ids(r, ids, n);
		goto out;
	}
	if (has_pop && !hub_query_int(r, "pop", 0, &pop))
		goto out;
	if (n && has_pop && pop)
		hub_reply_error(r, 400, "Invalid API request",
				"pop and id params cannot be present together "
				"in the delete request.");
	else if (!n && !has_pop)
		hub_reply_error(r, 400, "Invalid API request",
				"The request should have either \"ids\" or "
				"\"pop\" parameter in the request, to be able "
				"to delete.");
	else if (has_pop &&
		 (pop < 1 || pop > lim->max_messages_per_claim_or_pop))
		hub_reply_error(r, 400, "Invalid API request",
				"Pop value must be at least 1 and may not be "
				"greater than %u.",
				lim->max_messages_per_claim_or_pop);
	else if (n > max)
		hub_reply_error(r, 400, "Invalid API request",
				"ids parameter should have at least 1 and not "
				"greater than %u values.",
				max);
	else if (n)
		messages_delete_ids(r, ids, n);
	else
		messages_pop(r, pop);
out:
	free(ids);
}

/* ----------------------------------------------------- one message */

void hub_message_get(struct hub_req *r)
{
	feed_msgs_t msgs = {0};
	bool exists = false;
	char what[160];
	json_t *data;
	int rc;

	hub_msgs_v1_content_location(r);
	rc = feed_get(r->feed, r->project, r->queue, r->id, r->now_ms, &msgs);
	if (rc == 0) {
		struct hub_buf text = {0};

		data = r->wants_msg_data ? json_array() : NULL;
		hub_msg_text(&text, r, &msgs.v[0], hub_msgs_href_claim(r),
			     data);
		hub_reply_set_msgs(r, data);
		hub_reply_text(r, 200, &text, NULL);
	} else if (rc == FEED_ENOTFOUND || rc == FEED_EBADID) {
		/* Zaqar names the queue when that is what is missing. */
		rc = feed_queue_exists(r->feed, r->project, r->queue, &exists);
		snprintf(what, sizeof(what), "Message %s", r->id);
		hub_reply_feed_error(r, rc ? rc
					   : exists ? FEED_ENOTFOUND
						    : FEED_ENOQUEUE,
				     what);
	} else {
		hub_reply_feed_error(r, rc, NULL);
	}
	feed_msgs_free(&msgs);
}

/* Writer thread: feed_delete checks in Zaqar's order (a message not
 * currently claimed first, then the claim). */
static int delete_one_run(feed_txn_t *txn, void *ctx, uint64_t now_ms)
{
	struct write_ctx *c = ctx;

	return feed_delete_tx(txn, c->project, c->queue, c->id, c->claim_id,
			   now_ms, NULL);
}

static void delete_one_done(struct hub_req *r, void *ctx, int rc)
{
	/* A delete's claim that is not there: Zaqar's words in this place. */
	static const struct hub_feed_words words[] = {
		{FEED_ENOCLAIM, 400, "Unable to delete",
		 "The specified claim does not exist or has expired."},
		{0, 0, NULL, NULL},
	};

	if (!r)
		goto out;
	if (rc == 0 || rc == FEED_EBADID) /* a malformed id: no message */
		hub_reply(r, 204, NULL);
	else
		hub_reply_feed_error_as(r, rc, NULL, words);
out:
	write_ctx_free(ctx);
}

/*
 * A claim id that is not a UUID cannot exist. Zaqar still answers 204 when
 * the message is missing and 400 only when it exists, so such an id goes to
 * feed as the nil UUID (never a claim's id) instead of being refused here.
 */
#define NO_CLAIM_ID "00000000-0000-0000-0000-000000000000"

void hub_message_delete(struct hub_req *r)
{
	const char *claim = hub_query(r, "claim_id");
	uint8_t bytes[16];
	struct write_ctx *c = write_ctx_new(r);

	if (!c)
		return;
	if (claim && feed_claim_id_parse(claim, bytes))
		claim = NO_CLAIM_ID;
	c->id = strdup(r->id);
	c->claim_id = claim ? strdup(claim) : NULL;
	if (!c->id || (claim && !c->claim_id)) {
		write_ctx_free(c);
		hub_msgs_reply_nomem(r);
		return;
	}
	hub_defer(r, delete_one_run, delete_one_done, c);
}

/* ------------------------------------------------------------ get by ids */

/* Writes s as Python's repr() of a str does (for Zaqar's 404 text). */
static void put_pyrepr(FILE *f, const char *s)
{
	char q = strchr(s, '\'') && !strchr(s, '"') ? '"' : '\'';

	fputc(q, f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '\\' || ch == (unsigned char)q)
			fprintf(f, "\\%c", ch);
		else if (ch == '\n')
			fputs("\\n", f);
		else if (ch == '\r')
			fputs("\\r", f);
		else if (ch == '\t')
			fputs("\\t", f);
		else if (ch < 0x20 || ch == 0x7f)
			fprintf(f, "\\x%02x", ch);
		else
			fputc(ch, f);
	}
	fputc(q, f);
}

static void reply_ids_not_found(struct hub_req *r, const char *const *ids,
				size_t n)
{
	char *list = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&list, &len);

	if (!f) {
		hub_msgs_reply_nomem(r);
		return;
	}
	fputc('[', f);
	for (size_t i = 0; i < n; i++) {
		if (i)
			fputs(", ", f);
		put_pyrepr(f, ids[i]);
	}
	fputc(']', f);
	fclose(f);
	hub_reply_error(r, 404, "Not found",
			"No messages with IDs: %s found in the queue %s for "
			"project %s.",
			list, r->queue, hub_project_text(r));
	free(list);
}

/* 200: the messages found, and the same as data. */
static void reply_ids_found(struct hub_req *r, const feed_msgs_t *msgs)
{
	struct hub_buf text = {0};
	json_t *data = r->wants_msg_data ? json_array() : NULL;

	if (r->version != HUB_V1)
		hub_buf_adds(&text, "{\"messages\": ");
	hub_msg_array_text(&text, r, msgs->v, msgs->n, hub_msgs_href_claim(r),
			   data);
	if (r->version != HUB_V1)
		hub_buf_add(&text, "}", 1);
	hub_reply_set_msgs(r, data);
	hub_reply_text(r, 200, &text, NULL);
}

void hub_msgs_get_ids(struct hub_req *r, const char *const *ids, size_t n)
{
	unsigned max = r->cfg->limits.max_messages_per_page;
	feed_msgs_t msgs = {0};
	int rc;

	if (n > max) {
		hub_msgs_reply_limit(r, max);
		return;
	}
	rc = feed_get_many(r->feed, r->project, r->queue, ids, n, r->now_ms,
			   &msgs);
	if (rc)
		hub_reply_feed_error(r, rc, NULL);
	else if (msgs.n == 0 && r->version == HUB_V1)
		hub_reply(r, 204, NULL);
	else if (msgs.n == 0)
		reply_ids_not_found(r, ids, n);
	else
		reply_ids_found(r, &msgs);
	feed_msgs_free(&msgs);
}
