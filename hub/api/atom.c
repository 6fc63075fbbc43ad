/*
 * atom.c - GET /v2/queues/{q}/feed.atom[?limit=N&before=ID]: a page of
 * the feed (feeds.c builds it) as Atom 1.0 (RFC 4287), paged as RFC 5005
 * says.
 *
 *   <feed xmlns="http://www.w3.org/2005/Atom">
 *     <id>urn:herald:{project}:{q}</id>          stable, absolute IRI
 *     <title>, <updated> (the newest entry's), <author>, <generator>,
 *     <link rel="self" href="{origin}/v2/queues/{q}/feed.atom?..."/>
 *     <link rel="alternate" type="text/html" href="{origin}/#/q/{q}"/>
 *                                the dashboard's page (readers show a
 *                                feed's HTML alternate as its home)
 *     <link rel="related" href="{origin}/v2/queues/{q}"/>  the API's
 *     <link rel="next" href="...before={oldest id shown}"/>  not the oldest
 *     <entry>                                    newest first
 *       <id>the body's id when it is an absolute IRI, else
 *           urn:herald:{project}:{q}:{message id}</id>
 *       <title>, <published> and <updated>, <author> when the body has one
 *       <link rel="alternate" href="the body's link, else the message"/>
 *       <link rel="related" type="application/json" href="the message"/>
 *       <category term=".."/>, <summary type="text">
 *       <content type="text">the body's content, or its JSON text</content>
 *     </entry> ...
 *   </feed>
 *
 * Content is type="text": RFC 4287 §4.1.3.3 wants Base64 for other media
 * types than text and XML, which readers do not show. JSON text goes
 * through xml.c's HUB_XML_JSON, so it parses back to the very value. An
 * alert-shaped body that gives a summary but no content has no content
 * element (its alternate link stands in, as §4.1.1.1 allows).
 *
 * Loop thread only.
 */
#include <string.h>

#include "config.h"
#include "req.h"
#include "api/api.h"
#include "feeds.h"
#include "xml.h"

static void put_time(FILE *f, const char *element, uint64_t ms)
{
	char text[32];

	hub_feed_time_3339(text, ms);
	fprintf(f, "<%s>%s</%s>\n", element, text, element);
}

static void put_link(FILE *f, const char *rel, const char *type,
		     const char *href)
{
	fprintf(f, "<link rel=\"%s\" ", rel);
	if (type)
		fprintf(f, "type=\"%s\" ", type);
	fputs("href=\"", f);
	hub_xml_puts(f, href, HUB_XML_ATTR);
	fputs("\"/>\n", f);
}

/* <name>text</name> with its text escaped. */
static void put_elem(FILE *f, const char *name, const char *attrs,
		     const char *text)
{
	fprintf(f, "<%s%s>", name, attrs);
	hub_xml_puts(f, text, HUB_XML_TEXT);
	fprintf(f, "</%s>\n", name);
}

static void put_entry(FILE *f, const struct hub_feed_entry *e)
{
	const char *id = e->id && hub_feed_is_iri(e->id) ? e->id : e->urn;

	fputs("  <entry>\n    ", f);
	put_elem(f, "id", "", id);
	fputs("    ", f);
	put_elem(f, "title", " type=\"text\"", e->title);
	fputs("    ", f);
	put_time(f, "published", e->updated_ms);
	fputs("    ", f);
	put_time(f, "updated", e->updated_ms);
	if (e->author) {
		fputs("    <author>", f);
		put_elem(f, "name", "", e->author);
		fputs("    </author>\n", f);
	}
	fputs("    ", f);
	put_link(f, "alternate", e->link ? NULL : "application/json",
		 e->link ? e->link : e->href);
	if (e->link) {
		fputs("    ", f);
		put_link(f, "related", "application/json", e->href);
	}
	for (size_t i = 0; i < e->n_categories; i++) {
		fputs("    <category term=\"", f);
		hub_xml_puts(f, e->categories[i], HUB_XML_ATTR);
		fputs("\"/>\n", f);
	}
	if (e->summary) {
		fputs("    ", f);
		put_elem(f, "summary", " type=\"text\"", e->summary);
	}
	if (e->content) {
		fputs("    ", f);
		put_elem(f, "content", " type=\"text\"", e->content);
	} else if (!e->summary) {
		fputs("    <content type=\"text\">", f);
		hub_xml_put(f, e->body, e->body_len, HUB_XML_JSON, 0);
		fputs("</content>\n", f);
	}
	fputs("  </entry>\n", f);
}

static void atom_render(FILE *f, const struct hub_req *r,
			const struct hub_feed *feed)
{
	(void)r;
	fputs("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
	      "<feed xmlns=\"http://www.w3.org/2005/Atom\">\n  ", f);
	put_elem(f, "id", "", feed->urn);
	fputs("  ", f);
	put_elem(f, "title", " type=\"text\"", feed->title);
	fputs("  ", f);
	put_time(f, "updated", feed->updated_ms);
	fputs("  <author><name>Herald</name></author>\n"
	      "  <generator version=\"" HUB_VERSION_STRING "\">Herald"
	      "</generator>\n  ", f);
	put_link(f, "self", "application/atom+xml", feed->self);
	fputs("  ", f);
	put_link(f, "alternate", "text/html", feed->home_url);
	fputs("  ", f);
	put_link(f, "related", "application/json", feed->queue_url);
	if (feed->next) {
		fputs("  ", f);
		put_link(f, "next", "application/atom+xml", feed->next);
	}
	for (size_t i = 0; i < feed->n; i++)
		put_entry(f, &feed->v[i]);
	fputs("</feed>\n", f);
}

void hub_queue_atom(struct hub_req *r)
{
	hub_feed_serve(r, HUB_FEED_ATOM, "application/atom+xml", atom_render);
}
