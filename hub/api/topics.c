/*
 * topics.c - the metadata rules of Zaqar's topics (v2_0/topic.py), where
 * they differ from a queue's.
 *
 * A topic is a queue without claims (Zaqar >= 8): route.c runs the queue
 * and message handlers for /v2/topics..., on the topics' storage
 * (hub_topic_storage()). What Zaqar does differently for a topic's
 * metadata is only this: its _get_reserved_metadata() names three keys -
 * the post size, the default ttl, the default delay - so a topic's GET
 * shows those three defaults (not a queue's dead-letter and encryption
 * keys), and its PATCH may replace or remove only those three when absent.
 * The defaults themselves and the falsy rule are meta.c's: this file
 * takes a queue's view and keeps of it what a topic shows.
 */
#include <string.h>

#include "req.h"
#include "meta.h"
#include "topics.h"

static const char *const topic_reserved[] = {
	"_max_messages_post_size",
	"_default_message_ttl",
	"_default_message_delay",
};

bool hub_topic_meta_is_reserved(const char *key)
{
	for (size_t i = 0; i < sizeof(topic_reserved) / sizeof(*topic_reserved);
	     i++)
		if (strcmp(key, topic_reserved[i]) == 0)
			return true;
	return false;
}

json_t *hub_topic_meta_with_defaults(const struct hub_req *r, json_t *stored)
{
	json_t *out = hub_meta_with_defaults(r, stored), *v;
	const char *key;
	void *tmp;

	if (!out)
		return NULL;
	/* A queue's other defaults go; what was stored under their keys
	 * comes back as stored. */
	json_object_foreach_safe(out, tmp, key, v) {
		json_t *s = json_object_get(stored, key);

		if (hub_topic_meta_is_reserved(key))
			continue;
		if (s)
			json_object_set(out, key, s);
		else
			json_object_del(out, key);
	}
	return out;
}
