/*
 * render.h - how the API writes things: hrefs, messages, times, ids
 * (render.c).
 */
#ifndef HERALD_HUB_RENDER_H
#define HERALD_HUB_RENDER_H

#include <jansson.h>
#include <stdint.h>

#include "req.h"

/* ------------------------------------------------------------ rendering */

/* The queue's path prefix: e.g. "/v2/queues/q1", or "/v2/topics/t1" on a
 * topic route (new malloc'd string). Message hrefs follow it. */
char *hub_queue_href(const struct hub_req *r, const char *queue);
/*
 * A message as Zaqar renders it over HTTP: {id, href, ttl, age, body} (v1:
 * no id), and "checksum" on v1.1 and v2 with enable-checksum
 * (checksum.h); href carries ?claim_id= when the message is claimed. New
 * reference; NULL on a body that does not parse (never, for what Herald
 * stored). When `data` (an array, borrowed) is not NULL, the message is
 * also appended to it as hub_msg_data(), sharing the one parsed body.
 */
json_t *hub_msg_json(const struct hub_req *r, const feed_msg_t *m,
		     json_t *data);
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
