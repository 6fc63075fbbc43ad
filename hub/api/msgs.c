/*
 * msgs.c - what the message routes share (msgs.h): messages.c (post,
 * list) and message.c (by ids, one message) render messages, answer the
 * common errors and v1's Content-Location the same way. Loop thread only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "req.h"
#include "render.h"
#include "msgs.h"

void hub_msgs_reply_nomem(struct hub_req *r)
{
	hub_reply_feed_error(r, FEED_ENOMEM, NULL);
}

void hub_msgs_reply_limit(struct hub_req *r, unsigned max)
{
	hub_reply_error(r, 400, "Invalid API request",
			"Limit must be at least 1 and may not be greater than "
			"%u.",
			max);
}

/* Writes s percent-encoded, keeping what a query value may hold as is. */
void hub_msgs_put_encoded(struct hub_buf *b, const char *s)
{
	static const char keep[] = "-._~,:@!$'()*+;/", hex[] = "0123456789ABCDEF";
	const char *run = s;

	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		char esc[3] = {'%', hex[ch >> 4], hex[ch & 15]};

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || strchr(keep, ch))
			continue;
		hub_buf_add(b, run, (size_t)(s - run));
		hub_buf_add(b, esc, 3);
		run = s + 1;
	}
	hub_buf_add(b, run, (size_t)(s - run));
}

void hub_msgs_v1_content_location(struct hub_req *r)
{
	struct hub_buf b = {0};
	char *uri;

	if (r->version != HUB_V1)
		return;
	hub_buf_adds(&b, r->path);
	for (size_t i = 0; i < r->n_query; i++) {
		hub_buf_add(&b, i ? "&" : "?", 1);
		hub_msgs_put_encoded(&b, r->query[i].key);
		hub_buf_add(&b, "=", 1);
		hub_msgs_put_encoded(&b, r->query[i].value);
	}
	uri = hub_buf_take(&b, NULL);
	if (uri)
		hub_header(r, "Content-Location", "%s", uri);
	free(uri);
}
