/*
 * render.c - the shapes Herald shares between routes: message objects,
 * hrefs, times, client ids and queue metadata.
 *
 * Message bodies are stored as the compact JSON text of the body a client
 * posted, so rendering one is a parse of what was stored; feed never looks
 * inside. Ages and ttls are whole seconds, as Zaqar reports them.
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

json_t *hub_msg_json(const struct hub_req *r, const feed_msg_t *m,
		     json_t *data)
{
	char href[256], sum[HUB_CHECKSUM_LEN];
	json_t *body, *o;

	body = json_loadb(m->body, m->body_len, JSON_DECODE_ANY, NULL);
	if (!body)
		return NULL;
	if (m->claim_id[0])
		snprintf(href, sizeof(href),
			 "%s/%s/%s/messages/%s?claim_id=%s", r->prefix,
			 collection(r), r->queue, m->id, m->claim_id);
	else
		snprintf(href, sizeof(href), "%s/%s/%s/messages/%s",
			 r->prefix, collection(r), r->queue, m->id);
	if (data && r->wants_msg_data)
		json_array_append_new(data, hub_msg_data(r, m, body));
	o = json_object();
	if (r->version != HUB_V1)
		json_object_set_new(o, "id", json_string(m->id));
	json_object_set_new(o, "href", json_string(href));
	json_object_set_new(o, "ttl",
			    json_integer(hub_secs(m->expires_ms - m->created_ms)));
	json_object_set_new(o, "age", json_integer(msg_age_s(r, m)));
	json_object_set_new(o, "body", body);
	/* Zaqar renders its checksum in v1.1's and v2's message format
	 * only (format_message_v1_1); not v1's, not the WebSocket's. */
	if (r->cfg && r->cfg->enable_checksum && r->version != HUB_V1 &&
	    hub_checksum(body, sum) == 0)
		json_object_set_new(o, "checksum", json_string(sum));
	return o;
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
