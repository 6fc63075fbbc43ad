/*
 * topics.h - what sets a topic's metadata apart from a queue's
 * (topics.c). Topic routes run the queue handlers on the topics' storage
 * (route.c); Zaqar's topic resources reserve fewer metadata keys.
 */
#ifndef HERALD_HUB_API_TOPICS_H
#define HERALD_HUB_API_TOPICS_H

#include <stdbool.h>

#include <jansson.h>

#include "req.h"

/*
 * Whether `key` is one of a topic's reserved keys with a default
 * (_max_messages_post_size, _default_message_ttl, _default_message_delay):
 * those a topic's PATCH may remove or replace when they are not stored.
 * Touches nothing: the writer thread calls it.
 */
bool hub_topic_meta_is_reserved(const char *key);

/*
 * A topic's metadata as Zaqar shows it (GET, a detailed listing, the
 * answer to PATCH): a new reference, a copy of `stored` (borrowed; NULL
 * or not an object = {}) where each of the topic's reserved keys whose
 * value is missing or falsy gets r's default, as hub_meta_with_defaults()
 * gives it - and nothing else is added.
 */
json_t *hub_topic_meta_with_defaults(const struct hub_req *r, json_t *stored);

#endif /* HERALD_HUB_API_TOPICS_H */
