/*
 * xml.h - the one XML escaper of the feeds (xml.c): Atom (atom.c) and RSS
 * (rss.c) write every piece of text through it, so what XML 1.0 cannot
 * carry is handled in one place.
 */
#ifndef HERALD_HUB_API_XML_H
#define HERALD_HUB_API_XML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum hub_xml_mode {
	HUB_XML_TEXT, /* character data; what XML cannot carry -> U+FFFD */
	HUB_XML_ATTR, /* an attribute value in double quotes */
	HUB_XML_JSON, /* JSON text as character data: what XML cannot carry
		       * goes out as a JSON escape, so the JSON parses to the
		       * same value */
	HUB_XML_HTML, /* plain text where the XML's text is HTML (RSS's
		       * description): & < > escaped for HTML, then for XML
		       * ("&amp;lt;"); otherwise as HUB_XML_TEXT */
};

/*
 * Writes s[0..len) (UTF-8; bad bytes become U+FFFD) escaped for `mode`,
 * at most max_chars code points (0: all). Returns true when it stopped
 * short.
 */
bool hub_xml_put(FILE *f, const char *s, size_t len, enum hub_xml_mode mode,
		 size_t max_chars);
/* hub_xml_put() of a NUL-terminated string, whole. */
void hub_xml_puts(FILE *f, const char *s, enum hub_xml_mode mode);

#endif /* HERALD_HUB_API_XML_H */
