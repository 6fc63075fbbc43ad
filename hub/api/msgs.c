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
void hub_msgs_put_encoded(FILE *f, const char *s)
{
	static const char keep[] = "-._~,:@!$'()*+;/";

	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || strchr(keep, ch))
			fputc(ch, f);
		else
			fprintf(f, "%%%02X", ch);
	}
}

void hub_msgs_v1_content_location(struct hub_req *r)
{
	char *uri = NULL;
	size_t len = 0;
	FILE *f;

	if (r->version != HUB_V1)
		return;
	f = open_memstream(&uri, &len);
	if (!f)
		return;
	fputs(r->path, f);
	for (size_t i = 0; i < r->n_query; i++) {
		fputc(i ? '&' : '?', f);
		hub_msgs_put_encoded(f, r->query[i].key);
		fputc('=', f);
		hub_msgs_put_encoded(f, r->query[i].value);
	}
	fclose(f);
	hub_header(r, "Content-Location", "%s", uri);
	free(uri);
}
