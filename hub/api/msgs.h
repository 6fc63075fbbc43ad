/*
 * msgs.h - what the two message route files share (msgs.c): messages.c
 * (post, list) and message.c (by ids: get, bulk delete, pop; one
 * message). Loop thread only: they take the request.
 */
#ifndef HERALD_HUB_API_MSGS_H
#define HERALD_HUB_API_MSGS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "buf.h"
#include "req.h"

/* Replies what feed's FEED_ENOMEM maps to. */
void hub_msgs_reply_nomem(struct hub_req *r);

/* Replies 400 "Limit must be at least 1 and may not be greater than
 * <max>." (too many ids in a get or a v1 delete). */
void hub_msgs_reply_limit(struct hub_req *r, unsigned max);

/* Writes s percent-encoded as Zaqar writes query values in its links
 * (unreserved characters and -._~,:@!$'()*+;/ as they are). */
void hub_msgs_put_encoded(struct hub_buf *b, const char *s);

/* v1 GETs carry Content-Location: the request URI (§11), rebuilt from
 * the parsed query, percent-encoded. Does nothing for v1.1 and v2. */
void hub_msgs_v1_content_location(struct hub_req *r);

/*
 * Whether the message routes put a claimed message's claim id into its
 * href (hub_msg_text's href_claim): v1 does so only in claim responses
 * (format_message_v1 is given no claim id elsewhere), so it is left out
 * of v1 lists and gets; the message as data has it always.
 */
static inline bool hub_msgs_href_claim(const struct hub_req *r)
{
	return r->version != HUB_V1;
}

/* GET .../messages?ids=: the n ids (at most the page limit; more is a
 * 400) as Zaqar answers them (message.c). */
void hub_msgs_get_ids(struct hub_req *r, const char *const *ids, size_t n);

#endif /* HERALD_HUB_API_MSGS_H */
