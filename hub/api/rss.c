/*
 * rss.c - GET /v2/queues/{q}/feed.rss: the page of the feed feeds.c
 * builds, as RSS 2.0 (https://www.rssboard.org/rss-specification), a
 * Herald extension.
 *
 *   <rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">
 *    <channel>
 *     <title>, <link> (the dashboard's page of the queue), <description>,
 *     <lastBuildDate>,
 *     <generator>, <atom:link rel="self">, <atom:link rel="next"> (paging,
 *     as in Atom; RSS has none of its own)
 *     <item>                                   newest first
 *       <title>, <link> (the body's link, else the message's URL),
 *       <description> (the summary, else the content, else the JSON: text,
 *       so HTML-escaped before XML-escaped - RSS descriptions are HTML),
 *       <guid isPermaLink="false"> (the body's id, else the message's
 *       urn; isPermaLink only when it is an absolute http(s) URL),
 *       <pubDate> (RFC 822), <category>...
 *     </item> ...
 *
 * Text goes through xml.c, the one escaper. Loop thread only.
 */
#include "config.h"
#include "req.h"
#include "api/api.h"
#include "feeds.h"
#include "xml.h"

static void put_elem(FILE *f, const char *indent, const char *name,
		     const char *text)
{
	fprintf(f, "%s<%s>", indent, name);
	hub_xml_puts(f, text, HUB_XML_TEXT);
	fprintf(f, "</%s>\n", name);
}

static void put_atom_link(FILE *f, const char *rel, const char *href)
{
	fprintf(f, "    <atom:link rel=\"%s\" type=\"application/rss+xml\" "
		"href=\"", rel);
	hub_xml_puts(f, href, HUB_XML_ATTR);
	fputs("\"/>\n", f);
}

static void put_item(FILE *f, const struct hub_feed_entry *e)
{
	const char *guid = e->id ? e->id : e->urn;
	char date[40];

	fputs("    <item>\n", f);
	put_elem(f, "      ", "title", e->title);
	put_elem(f, "      ", "link", e->link ? e->link : e->href);
	fputs("      <description>", f);
	if (e->summary || e->content)
		hub_xml_puts(f, e->summary ? e->summary : e->content,
			     HUB_XML_HTML);
	else
		hub_xml_put(f, e->body, e->body_len, HUB_XML_HTML, 0);
	fputs("</description>\n", f);
	fprintf(f, "      <guid isPermaLink=\"%s\">",
		hub_feed_is_url(guid) ? "true" : "false");
	hub_xml_puts(f, guid, HUB_XML_TEXT);
	fputs("</guid>\n", f);
	hub_feed_time_http(date, e->updated_ms);
	fprintf(f, "      <pubDate>%s</pubDate>\n", date);
	for (size_t i = 0; i < e->n_categories; i++)
		put_elem(f, "      ", "category", e->categories[i]);
	fputs("    </item>\n", f);
}

static void rss_render(FILE *f, const struct hub_req *r,
		       const struct hub_feed *feed)
{
	char date[40];

	fputs("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
	      "<rss version=\"2.0\" "
	      "xmlns:atom=\"http://www.w3.org/2005/Atom\">\n  <channel>\n", f);
	put_elem(f, "    ", "title", feed->title);
	put_elem(f, "    ", "link", feed->home_url);
	fputs("    <description>The messages of queue ", f);
	hub_xml_puts(f, r->queue, HUB_XML_TEXT);
	fputs(", newest first.</description>\n", f);
	hub_feed_time_http(date, feed->updated_ms);
	fprintf(f, "    <lastBuildDate>%s</lastBuildDate>\n"
		"    <generator>Herald " HUB_VERSION_STRING "</generator>\n",
		date);
	put_atom_link(f, "self", feed->self);
	if (feed->next)
		put_atom_link(f, "next", feed->next);
	for (size_t i = 0; i < feed->n; i++)
		put_item(f, &feed->v[i]);
	fputs("  </channel>\n</rss>\n", f);
}

void hub_queue_rss(struct hub_req *r)
{
	hub_feed_serve(r, HUB_FEED_RSS, "application/rss+xml", rss_render);
}
