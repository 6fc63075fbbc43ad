/*
 * meta.h - queue metadata rules shared by the queue and message handlers
 * (implemented in api_queues.c).
 *
 * Zaqar reserves metadata keys that start with "_" (zaqar-api.md §6.2):
 * some change how the queue behaves (_default_message_ttl,
 * _max_messages_post_size, _default_message_delay, ...), and GET shows
 * them with the server's defaults filled in.
 */
#ifndef HERALD_HUB_META_H
#define HERALD_HUB_META_H

#include <stdbool.h>

#include <jansson.h>

#include "hub.h"

/*
 * Checks the reserved keys of `meta` (a JSON object, borrowed) against
 * r's limits, in Zaqar's order and with its texts. On a violation replies
 * 400 with `title` ("Invalid API request" for PUT, "Invalid request body"
 * for PATCH) and returns false.
 */
bool hub_meta_validate(struct hub_req *r, json_t *meta, const char *title);

/*
 * The metadata as v2 shows it: a new reference, a copy of `stored`
 * (borrowed; NULL or not an object = {}) where every reserved key whose
 * value is missing or falsy (null, false, 0, "", [], {}) gets its default:
 * _max_messages_post_size, _default_message_ttl and _default_message_delay
 * from r's limits, _dead_letter_queue, _dead_letter_queue_messages_ttl and
 * _max_claim_count null, _enable_encrypt_messages false.
 */
json_t *hub_meta_with_defaults(const struct hub_req *r, json_t *stored);

#endif /* HERALD_HUB_META_H */
