/*
 * xml.c - escaping text for XML 1.0 character data and attributes, for
 * every feed renderer (xml.h).
 *
 * Text is UTF-8 (Herald stores the compact JSON jansson wrote). & < > go
 * out as entities, and " in attributes; CR as &#13; (a parser would turn
 * a raw one into LF), and tab and LF in attributes as references (a
 * parser would fold them to spaces). XML 1.0 cannot carry U+0000-U+001F
 * other than tab, LF and CR, nor U+FFFE and U+FFFF, not even as character
 * references: in JSON text (HUB_XML_JSON) these can only stand inside
 * strings, so they go out as JSON escapes (\u0001, \ufffe) and the JSON
 * parses to the very same value; other text takes U+FFFD for them. Bytes
 * that are not UTF-8 become U+FFFD. Where the element's text is itself
 * HTML (HUB_XML_HTML: RSS's description), & < > are escaped twice, so a
 * reader shows them rather than taking them for markup.
 *
 * Any thread: it touches only its arguments.
 */
#include <stdint.h>

#include "xml.h"

/* One UTF-8 sequence at s (len > 0): its code point, or -1 when it is not
 * well-formed UTF-8; *n = the bytes it takes (1 for a bad byte). */
static long utf8_next(const unsigned char *s, size_t len, size_t *n)
{
	unsigned c = s[0];
	size_t need;
	long cp, min;

	*n = 1;
	if (c < 0x80)
		return (long)c;
	if (c >= 0xc2 && c <= 0xdf)
		need = 1;
	else if (c >= 0xe0 && c <= 0xef)
		need = 2;
	else if (c >= 0xf0 && c <= 0xf4)
		need = 3;
	else
		return -1;
	cp = c & (0x3f >> need);
	min = need == 1 ? 0x80 : need == 2 ? 0x800 : 0x10000;
	if (len <= need)
		return -1;
	for (size_t i = 1; i <= need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return -1;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*n = need + 1;
	return cp;
}

/* XML 1.0's Char production, for code points that are valid Unicode. */
static bool xml_char(long cp)
{
	if (cp < 0x20)
		return cp == 0x9 || cp == 0xa || cp == 0xd;
	return cp != 0xfffe && cp != 0xffff;
}

bool hub_xml_put(FILE *f, const char *s, size_t len, enum hub_xml_mode mode,
		 size_t max_chars)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t chars = 0, n;

	for (size_t i = 0; i < len; i += n, chars++) {
		long cp = utf8_next(p + i, len - i, &n);

		if (max_chars && chars == max_chars)
			return true;
		if (mode == HUB_XML_HTML && (cp == '&' || cp == '<' || cp == '>'))
			fputs(cp == '&' ? "&amp;amp;" : cp == '<' ? "&amp;lt;"
						     : "&amp;gt;", f);
		else if (cp == '&')
			fputs("&amp;", f);
		else if (cp == '<')
			fputs("&lt;", f);
		else if (cp == '>')
			fputs("&gt;", f);
		else if (cp == '"' && mode == HUB_XML_ATTR)
			fputs("&quot;", f);
		else if (cp == 0xd ||
			 (mode == HUB_XML_ATTR && (cp == 0x9 || cp == 0xa)))
			fprintf(f, "&#%ld;", cp); /* parsers would fold these */
		else if (cp >= 0 && !xml_char(cp) && mode == HUB_XML_JSON)
			fprintf(f, "\\u%04lx", cp);
		else if (cp < 0 || !xml_char(cp))
			fputs("\xef\xbf\xbd", f); /* U+FFFD */
		else
			fwrite(p + i, 1, n, f);
	}
	return false;
}

void hub_xml_puts(FILE *f, const char *s, enum hub_xml_mode mode)
{
	size_t len = 0;

	while (s[len])
		len++;
	hub_xml_put(f, s, len, mode, 0);
}
