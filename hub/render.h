/*
 * render.h - how the API writes things: hrefs, messages, times, ids
 * (render.c).
 */
#ifndef HERALD_HUB_RENDER_H
#define HERALD_HUB_RENDER_H

#include <jansson.h>
#include <stdint.h>

#include "buf.h"
#include "req.h"

/* ------------------------------------------------------------ rendering */

/* The queue's path prefix: e.g. "/v2/queues/q1", or "/v2/topics/t1" on a
 * topic route (new malloc'd string). Message hrefs follow it. */
char *hub_queue_href(const struct hub_req *r, const char *queue);
/*
 * A message as Zaqar renders it over HTTP, written as JSON text into out:
 * {"id", "href", "ttl", "age", "body"} (v1: no id), and "checksum" on
 * v1.1 and v2 with enable-checksum (checksum.h), in jansson's spacing
 * (", " and ": "). The body is the stored text spliced in as it is, never
 * decoded (but for the checksum). The href carries ?claim_id= when the
 * message is claimed and `href_claim` (v1 leaves it out but in claim
 * responses: msgs.h). When `data` (an array, borrowed) is not NULL and r
 * wants it (r->wants_msg_data: WebSocket), the message is also appended
 * to it as hub_msg_data(), its body decoded once for both. 0, or
 * FEED_ENOMEM (out marks `failed` too).
 */
int hub_msg_text(struct hub_buf *out, const struct hub_req *r,
		 const feed_msg_t *m, bool href_claim, json_t *data);
/* n messages as a JSON array of hub_msg_text()s: "[m, m]" ("[]"). */
int hub_msg_array_text(struct hub_buf *out, const struct hub_req *r,
		       const feed_msg_t *v, size_t n, bool href_claim,
		       json_t *data);
/* Writes s (UTF-8, NUL-terminated) as a JSON string, quoted and escaped as
 * jansson's encoder does by default. */
void hub_render_str(struct hub_buf *out, const char *s);
/*
 * A message as data, whatever the transport: {"id", "claim_id" (null when
 * unclaimed), "ttl", "age", "body"} - also Zaqar's WebSocket message
 * object. `body` is the parsed body (borrowed: the object takes its own
 * reference). New reference.
 */
json_t *hub_msg_data(const struct hub_req *r, const feed_msg_t *m,
		     json_t *body);
/* Parses a Client-ID the way Zaqar does (dashed, dash-less, {braces},
 * urn:uuid: prefix) into 16 bytes; 0 or -1. */
/* A new random UUID, lower-case canonical text (ids of connections and
 * subscriptions). */
void hub_uuid_new(char out[37]);
int hub_uuid_parse(const char *text, uint8_t out[16]);
/* Seconds from ms, for ages and ttls: whole seconds, rounding down. */
static inline long long hub_secs(uint64_t ms)
{
	return (long long)(ms / 1000);
}
/* RFC 3339 UTC "YYYY-MM-DDTHH:MM:SSZ" of ms since the epoch. */
void hub_time_format(char out[32], uint64_t ms);

/* Queue metadata as JSON (new reference; {} when none or no queue). */
json_t *hub_queue_meta(const struct hub_req *r, const char *queue);
/* Reads an integer reserved key of the metadata; def when absent/not int. */
long long hub_meta_int(json_t *meta, const char *key, long long def);


#endif /* HERALD_HUB_RENDER_H */
