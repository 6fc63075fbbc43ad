/*
 * meta.h - queue metadata rules shared by the queue and message handlers
 * (implemented in meta.c).
 *
 * Zaqar reserves metadata keys that start with "_" (zaqar-api.md §6.2):
 * some change how the queue behaves (_default_message_ttl,
 * _max_messages_post_size, _default_message_delay, ...), and GET shows
 * them with the server's defaults filled in. A v2 PATCH changes metadata
 * through a JSON-patch document, which is checked ("washed") here before
 * the queue routes apply it.
 */
#ifndef HERALD_HUB_META_H
#define HERALD_HUB_META_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "req.h"

/* `_idempotency_window` (a Herald extension, docs/api.md): how long a
 * message's idempotency key is remembered, seconds; 0 turns keys off. */
#define HUB_IDEM_WINDOW_DEFAULT 300
#define HUB_IDEM_WINDOW_MAX 86400
/* `_retry_delay`, `_retry_delay_max` (Herald extensions: retry backoff):
 * the largest either may be, seconds. */
#define HUB_RETRY_DELAY_MAX 43200

/*
 * Checks the reserved keys of `meta` (a JSON object, borrowed) against
 * r's limits, in Zaqar's order and with its texts (then Herald's worker
 * settings, with its own: see hub_meta_check()), for r's queue. On a
 * violation replies 400 with `title` ("Invalid API request" for PUT,
 * "Invalid request body" for PATCH) and returns false.
 */
bool hub_meta_validate(struct hub_req *r, json_t *meta, const char *title);

/*
 * The check of hub_meta_validate() without a request or a reply, for the
 * writer thread: `meta` (a JSON object, borrowed) of the queue named
 * `queue` against the limits `l`. Zaqar's keys get Zaqar's checks; where
 * Zaqar has none, Herald refuses what it could not act on: a negative
 * `_max_claim_count`, a `_dead_letter_queue` that is no queue name or is
 * the queue itself; and its own keys (`_retry_delay`, `_retry_delay_max`,
 * `_idempotency_window`, `_feed_fields`) out of type or range. Returns
 * NULL when meta is valid; otherwise why not: either `buf` (written,
 * NUL-terminated, at most `size` bytes) or a string constant. Touches
 * nothing else.
 */
const char *hub_meta_check(const struct hub_limits *l, const char *queue,
			   json_t *meta, char *buf, size_t size);

/*
 * Whether `key` is one of the reserved keys that have a default (those
 * hub_meta_with_defaults() fills in). A PATCH may remove or replace such
 * a key even when the stored metadata does not hold it.
 */
bool hub_meta_is_reserved(const char *key);

/*
 * The metadata as v2 shows it: a new reference, a copy of `stored`
 * (borrowed; NULL or not an object = {}) where every reserved key whose
 * value is missing or falsy (null, false, 0, "", [], {}) gets its default:
 * _max_messages_post_size, _default_message_ttl and _default_message_delay
 * from r's limits, _dead_letter_queue, _dead_letter_queue_messages_ttl and
 * _max_claim_count null, _enable_encrypt_messages false.
 */
json_t *hub_meta_with_defaults(const struct hub_req *r, json_t *stored);

/*
 * Washes the JSON-patch document of PATCH /v2/queues/{queue}: `doc`
 * (borrowed, any JSON type) is checked change by change as Zaqar's
 * queue_patching checks it, and turned into the operations to apply: a
 * new reference to an array, in the document's order, of
 *
 *   {"op": "add" | "remove" | "replace", "key": <string>,
 *    "value": <the change's value; null when it has none (remove)>}
 *
 * Replies nothing on success. When the document is not an array, a change
 * is malformed (no object, an unknown op, a path that is no string or a
 * bad pointer, a pointer of other than two parts, add or replace without
 * a value or outside /metadata), or memory runs out, replies 400 "Invalid
 * request body" with Zaqar's text (or Herald's, where Zaqar answers 503)
 * and returns NULL. Values are not checked here: hub_meta_check() does,
 * once the operations are applied.
 */
json_t *hub_meta_patch_ops(struct hub_req *r, json_t *doc);

/* Zaqar's check of an object's `_retry_policy` (queue metadata, or a
 * subscription's options): NULL when it is good, else the 400's text
 * (static, or written into buf). */
const char *hub_meta_retry_check(json_t *obj, char *buf, size_t size);

#endif /* HERALD_HUB_META_H */
