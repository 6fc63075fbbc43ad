/*
 * render.c - the shapes Herald shares between routes: message objects,
 * hrefs, times, client ids and queue metadata.
 *
 * Message bodies are stored as the text a client posted them as (api/
 * batch.c finds those bytes), so rendering a message is writing its
 * fields and splicing the stored text in: no decode, no encode, as the
 * live transports' frames (live/cursor.c) do. Only what needs the body as
 * a value decodes it: the checksum (enable-checksum) and the message as
 * data for WebSocket's actions (hub_msg_data). feed never looks inside.
 * Ages and ttls are whole seconds, as Zaqar reports them.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>
#include <time.h>

#include "req.h"
#include "render.h"
#include "checksum.h"

void hub_uuid_new(char out[37])
{
	uuid_t u;

	uuid_generate_random(u);
	uuid_unparse_lower(u, out);
}

int hub_uuid_parse(const char *text, uint8_t out[16])
{
	char hex[33];
	size_t n = 0;
	const char *s = text;

	/* Python's uuid.UUID(): drop "urn:" and "uuid:", braces, dashes;
	 * then exactly 32 hex digits. */
	if (strncasecmp(s, "urn:", 4) == 0)
		s += 4;
	if (strncasecmp(s, "uuid:", 5) == 0)
		s += 5;
	while (*s == '{')
		s++;
	for (; *s && *s != '}'; s++) {
		if (*s == '-')
			continue;
		if (!isxdigit((unsigned char)*s) || n == 32)
			return -1;
		hex[n++] = (char)tolower((unsigned char)*s);
	}
	while (*s == '}')
		s++;
	if (*s || n != 32)
		return -1;
	for (int i = 0; i < 16; i++) {
		int hi = hex[2 * i], lo = hex[2 * i + 1];

		hi = hi <= '9' ? hi - '0' : hi - 'a' + 10;
		lo = lo <= '9' ? lo - '0' : lo - 'a' + 10;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* The collection r's {queue} is in, as its path names it. */
static const char *collection(const struct hub_req *r)
{
	return r->topic ? "topics" : "queues";
}

char *hub_queue_href(const struct hub_req *r, const char *queue)
{
	size_t len = strlen(r->prefix) + strlen("/topics/") + strlen(queue) + 1;
	char *s = malloc(len);

	if (s)
		snprintf(s, len, "%s/%s/%s", r->prefix, collection(r), queue);
	return s;
}

/* Seconds since m was created, 0 for a time after r's clock (a group
 * commit stamps messages with the latest clock of its group). */
static long long msg_age_s(const struct hub_req *r, const feed_msg_t *m)
{
	return hub_secs(r->now_ms > m->created_ms ? r->now_ms - m->created_ms
						  : 0);
}

json_t *hub_msg_data(const struct hub_req *r, const feed_msg_t *m,
		     json_t *body)
{
	return json_pack("{s:s, s:o, s:I, s:I, s:O}", "id", m->id, "claim_id",
			 m->claim_id[0] ? json_string(m->claim_id) : json_null(),
			 "ttl",
			 (json_int_t)hub_secs(m->expires_ms - m->created_ms),
			 "age", (json_int_t)msg_age_s(r, m), "body", body);
}

/* s escaped as in a JSON string, without the quotes. */
static void put_escaped(struct hub_buf *out, const char *s)
{
	const char *run = s;

	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		char esc[8];

		if (ch >= 0x20 && ch != '"' && ch != '\\')
			continue;
		hub_buf_add(out, run, (size_t)(s - run));
		run = s + 1;
		switch (ch) {
		case '"': hub_buf_add(out, "\\\"", 2); break;
		case '\\': hub_buf_add(out, "\\\\", 2); break;
		case '\b': hub_buf_add(out, "\\b", 2); break;
		case '\f': hub_buf_add(out, "\\f", 2); break;
		case '\n': hub_buf_add(out, "\\n", 2); break;
		case '\r': hub_buf_add(out, "\\r", 2); break;
		case '\t': hub_buf_add(out, "\\t", 2); break;
		default:
			snprintf(esc, sizeof(esc), "\\u%04X", ch);
			hub_buf_add(out, esc, 6);
		}
	}
	hub_buf_add(out, run, (size_t)(s - run));
}

void hub_render_str(struct hub_buf *out, const char *s)
{
	hub_buf_add(out, "\"", 1);
	put_escaped(out, s);
	hub_buf_add(out, "\"", 1);
}

int hub_msg_text(struct hub_buf *out, const struct hub_req *r,
		 const feed_msg_t *m, bool href_claim, json_t *data)
{
	bool want_data = data && r->wants_msg_data;
	bool want_sum = r->cfg && r->cfg->enable_checksum &&
			r->version != HUB_V1;
	char sum[HUB_CHECKSUM_LEN];
	json_t *body = NULL;

	if (want_data || want_sum) {
		body = json_loadb(m->body, m->body_len, JSON_DECODE_ANY, NULL);
		if (!body)
			body = json_null(); /* never, for what Herald stored */
	}
	hub_buf_add(out, "{", 1);
	if (r->version != HUB_V1) {
		hub_buf_adds(out, "\"id\": \"");
		hub_buf_adds(out, m->id);
		hub_buf_adds(out, "\", ");
	}
	hub_buf_adds(out, "\"href\": \"");
	put_escaped(out, r->prefix);
	hub_buf_add(out, "/", 1);
	hub_buf_adds(out, collection(r));
	hub_buf_add(out, "/", 1);
	put_escaped(out, r->queue);
	hub_buf_adds(out, "/messages/");
	hub_buf_adds(out, m->id);
	if (href_claim && m->claim_id[0]) {
		hub_buf_adds(out, "?claim_id=");
		hub_buf_adds(out, m->claim_id);
	}
	hub_buf_add(out, "\"", 1);
	hub_buf_adds(out, ", \"ttl\": ");
	hub_buf_add_int(out, hub_secs(m->expires_ms - m->created_ms));
	hub_buf_adds(out, ", \"age\": ");
	hub_buf_add_int(out, msg_age_s(r, m));
	hub_buf_adds(out, ", \"body\": ");
	hub_buf_add(out, m->body, m->body_len);
	if (want_sum && hub_checksum(body, sum) == 0)
		hub_buf_printf(out, ", \"checksum\": \"%s\"", sum);
	hub_buf_add(out, "}", 1);
	if (want_data)
		json_array_append_new(data, hub_msg_data(r, m, body));
	json_decref(body);
	return out->failed ? FEED_ENOMEM : 0;
}

int hub_msg_array_text(struct hub_buf *out, const struct hub_req *r,
		       const feed_msg_t *v, size_t n, bool href_claim,
		       json_t *data)
{
	hub_buf_add(out, "[", 1);
	for (size_t i = 0; i < n; i++) {
		if (i)
			hub_buf_add(out, ", ", 2);
		hub_msg_text(out, r, &v[i], href_claim, data);
	}
	hub_buf_add(out, "]", 1);
	return out->failed ? FEED_ENOMEM : 0;
}

void hub_time_format(char out[32], uint64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

json_t *hub_queue_meta(const struct hub_req *r, const char *queue)
{
	void *meta = NULL;
	size_t len = 0;
	json_t *doc = NULL;

	if (feed_queue_meta_get(r->feed, r->project, queue, &meta, &len) == 0 &&
	    len)
		doc = json_loadb(meta, len, 0, NULL);
	free(meta);
	if (!json_is_object(doc)) {
		json_decref(doc);
		doc = json_object();
	}
	return doc;
}

long long hub_meta_int(json_t *meta, const char *key, long long def)
{
	json_t *v = json_object_get(meta, key);

	return json_is_integer(v) ? json_integer_value(v) : def;
}
