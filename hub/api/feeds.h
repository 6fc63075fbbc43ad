/*
 * feeds.h - the entry model every feed format renders (feeds.c): a page of
 * a queue's newest messages as feed entries, with absolute URLs, paging
 * and conditional GET. atom.c, rss.c and jsonfeed.c render it; none of
 * them reads feed or looks at a request's headers.
 *
 * Loop thread only (reads, and takes the request).
 */
#ifndef HERALD_HUB_API_FEEDS_H
#define HERALD_HUB_API_FEEDS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "req.h"

#define HUB_FEED_MAX_CATEGORIES 16
#define HUB_FEED_TITLE_CHARS 80 /* of a body, in a title without one */
#define HUB_FEED_MAX_AGE_S 30   /* Cache-Control: max-age */

enum hub_feed_format { HUB_FEED_ATOM, HUB_FEED_RSS, HUB_FEED_JSON };

/*
 * One message as an entry. Every string is owned (NULL: the body did not
 * give it). An object body gives its fields by the queue's mapping (see
 * feeds.c); any other body gives none, and the renderers show its JSON.
 */
struct hub_feed_entry {
	char msg_id[FEED_ID_LEN + 1];
	uint64_t created_ms;
	uint64_t updated_ms;  /* the body's updated/published, else created */
	char *body;           /* the JSON text as stored, NUL-terminated */
	size_t body_len;
	char *title;          /* never NULL: the body's, else its first
			       * HUB_FEED_TITLE_CHARS characters (and an
			       * ellipsis when cut) */
	char *link;           /* the body's link: an absolute http(s) URL */
	char *summary, *content, *author;
	char *id;             /* the body's id / guid */
	char *urn;            /* urn:herald:{project}:{queue}:{message id} */
	char *href;           /* the message's URL (absolute when the
			       * request tells the host) */
	char *categories[HUB_FEED_MAX_CATEGORIES];
	size_t n_categories;
};

struct hub_feed {
	enum hub_feed_format format;
	struct hub_feed_entry *v; /* newest first */
	size_t n;
	char *urn;          /* urn:herald:{project}:{queue} */
	char *title;        /* "Queue q of project p" */
	char *queue_url;    /* {origin}/v2/queues/q */
	char *home_url;     /* {origin}/#/q/q: the dashboard's page of it */
	char *self;         /* this page's URL, with its query */
	char *next;         /* the next, older page's URL; NULL: the oldest */
	uint64_t updated_ms;  /* newest entry's updated; now when empty */
	uint64_t modified_ms; /* newest entry's creation; 0 when empty */
};

/* Renders a feed into f (the document of one format). */
typedef void (*hub_feed_render_fn)(FILE *f, const struct hub_req *r,
				   const struct hub_feed *feed);

/*
 * Serves GET .../feed.{atom,rss,json}: reads the page the query asks for
 * (limit, before), answers 400 for a bad one, 304 when If-None-Match or
 * If-Modified-Since says the client has it, else 200 with `type` and the
 * document `render` writes. ETag, Last-Modified and Cache-Control on both.
 */
void hub_feed_serve(struct hub_req *r, enum hub_feed_format format,
		    const char *type, hub_feed_render_fn render);

/* Whether `name` is an entry field _feed_fields may map (title, link,
 * summary, content, author, updated, id, categories). Any thread. */
bool hub_feed_field_ok(const char *name);

/* RFC 3339 UTC with milliseconds: "2026-11-22T13:00:00.000Z". */
void hub_feed_time_3339(char out[32], uint64_t ms);
/* RFC 9110's IMF-fixdate, also an RFC 822 date: "Sun, 22 Nov 2026
 * 13:00:00 GMT". */
void hub_feed_time_http(char out[40], uint64_t ms);
/* Reads an RFC 3339 date (any offset; fractions to the millisecond) into
 * ms since the epoch (feedtime.c); false when it is not one. */
bool hub_feed__parse_3339(const char *s, uint64_t *ms);
/* Reads an IMF-fixdate ("Sun, 22 Nov 2026 13:00:00 GMT"); false when it
 * is not one. */
bool hub_feed__parse_http_date(const char *s, uint64_t *ms);

/* Whether s is an absolute http: or https: URL. */
bool hub_feed_is_url(const char *s);
/* Whether s is an absolute IRI (a scheme, then ':'), as atom:id wants. */
bool hub_feed_is_iri(const char *s);

#endif /* HERALD_HUB_API_FEEDS_H */
