/*
 * jsonfeed.c - GET /v2/queues/{q}/feed.json: the page of the feed feeds.c
 * builds, as JSON Feed 1.1 (https://jsonfeed.org/version/1.1), a Herald
 * extension.
 *
 *   {"version": "https://jsonfeed.org/version/1.1", "title",
 *    "home_page_url" (the dashboard's page of the queue), "feed_url" (this
 *    page),
 *    "next_url" (the older page; absent on the oldest),
 *    "items": [{"id" (the body's id, else the message's urn), "url" (the
 *               body's link, else the message's URL), "title",
 *               "content_text" (the content, else the summary, else the
 *               JSON), "summary", "date_published", "date_modified",
 *               "tags", "authors": [{"name"}]}, ...]}
 *
 * jansson writes the JSON: no escaping of our own. Loop thread only.
 */
#include "req.h"
#include "api/api.h"
#include "feeds.h"

/* Sets key to a new string s unless s is NULL. */
static void set_str(json_t *obj, const char *key, const char *s)
{
	if (s)
		json_object_set_new(obj, key, json_string(s));
}

/* An item (new reference). */
static json_t *item(const struct hub_feed_entry *e)
{
	json_t *it = json_object(), *tags;
	char date[32];

	set_str(it, "id", e->id ? e->id : e->urn);
	set_str(it, "url", e->link ? e->link : e->href);
	set_str(it, "title", e->title);
	if (e->content || e->summary)
		set_str(it, "content_text", e->content ? e->content : e->summary);
	else
		json_object_set_new(it, "content_text",
				    json_stringn(e->body, e->body_len));
	set_str(it, "summary", e->summary);
	hub_feed_time_3339(date, e->updated_ms);
	set_str(it, "date_published", date);
	set_str(it, "date_modified", date);
	if (e->n_categories) {
		tags = json_array();
		for (size_t i = 0; i < e->n_categories; i++)
			json_array_append_new(tags,
					      json_string(e->categories[i]));
		json_object_set_new(it, "tags", tags);
	}
	if (e->author)
		json_object_set_new(it, "authors",
				    json_pack("[{s:s}]", "name", e->author));
	return it;
}

static void jsonfeed_render(FILE *f, const struct hub_req *r,
			    const struct hub_feed *feed)
{
	json_t *doc = json_object(), *items = json_array();

	(void)r;
	set_str(doc, "version", "https://jsonfeed.org/version/1.1");
	set_str(doc, "title", feed->title);
	set_str(doc, "home_page_url", feed->home_url);
	set_str(doc, "feed_url", feed->self);
	set_str(doc, "next_url", feed->next);
	for (size_t i = 0; i < feed->n; i++)
		json_array_append_new(items, item(&feed->v[i]));
	json_object_set_new(doc, "items", items);
	/* A document jansson cannot write leaves f short: the reply is then
	 * a truncated document, never a crash - and with Herald's own
	 * strings (UTF-8 from jansson) it does not happen. */
	json_dumpf(doc, f, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	fputc('\n', f);
	json_decref(doc);
}

void hub_queue_jsonfeed(struct hub_req *r)
{
	hub_feed_serve(r, HUB_FEED_JSON, "application/feed+json",
		       jsonfeed_render);
}
