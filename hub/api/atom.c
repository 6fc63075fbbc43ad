/*
 * atom.c - GET /v2/queues/{q}/feed.atom[?limit=N]: the newest messages of
 * a queue as an Atom 1.0 feed (RFC 4287), with ETag / If-None-Match.
 *
 *   <feed xmlns="http://www.w3.org/2005/Atom">
 *     <id>urn:herald:{project}:{q}</id>          stable, absolute IRI
 *     <title>, <updated> (the newest entry's), <author>, <generator>,
 *     <link rel="self" href="/v2/queues/{q}/feed.atom"/>
 *     <link rel="alternate" href="/v2/queues/{q}"/>
 *     <entry>                                    newest first
 *       <id>urn:herald:{project}:{q}:{message id}</id>
 *       <title>the body's first 80 characters</title>
 *       <published>, <updated>                   its creation time
 *       <link rel="alternate" href="/v2/queues/{q}/messages/{id}"/>
 *       <content type="application/json">the body, XML-escaped</content>
 *     </entry> ...
 *   </feed>
 *
 * What is in it: every live message that is due - claimed ones too, and
 * every client's (a feed is not a worker's view: no claim or echo
 * filter); limit 1..100, default 20.
 *
 * Ids. An atom:id must be an absolute IRI that never changes. The queue's
 * URL is neither here: Herald knows only the path (the scheme and host a
 * client used are the proxy's business), and the project, which tells
 * two feeds of one path apart, travels in a header. So the feed's id is
 * urn:herald:{project}:{q}, the project percent-encoded (anything but
 * ALPHA / DIGIT / "-._~", ":" included, so the parts stay apart); an
 * entry's is that plus ":{message id}", as API.md says. hrefs are
 * absolute paths, which RFC 4287 allows (resolved against the feed's URL).
 *
 * Escaping. The body is the compact JSON text Herald stored, in UTF-8. It
 * goes out as character data: & < > as entities; CR as &#13; (a parser
 * would turn a raw one into LF). XML 1.0 cannot carry U+0000-U+001F other
 * than tab, LF and CR, nor U+FFFE and U+FFFF, not even as character
 * references; in valid JSON these can only stand inside strings, so they
 * go out as JSON escapes (\u0001, \ufffe): the XML is well-formed and the
 * JSON parses to the very same value. Bytes that are not UTF-8 (Herald
 * never stores any: jansson wrote them) become U+FFFD. Titles and other
 * text take U+FFFD for what XML cannot carry.
 *
 * Times are RFC 3339 UTC with milliseconds, so entries posted within one
 * second still sort.
 *
 * The newest N. Reads go forward from a marker, and a marker is an id:
 * (generation, seq - W) is the read after which the newest W messages of
 * the log stand, from the newest id in the queue's stats. Deleted and
 * expired messages leave holes, so a window of W may hold fewer than N
 * live ones: W doubles until it holds N or covers the log. The cost is
 * O(N + the messages in the holes walked), never a scan of the queue.
 * A ring keeps the newest N of a window as it is read.
 *
 * ETag: a hash of what the document is a function of - the request
 * (project, queue, limit) and each entry's id, creation time and body -
 * so it is strong. An empty feed's <updated> is the time of the request
 * (the queue's creation time is feed's to tell, not exposed), so its body
 * changes every second while nothing else does: its tag is the same hash
 * but weak (W/), and If-None-Match compares weakly as RFC 9110 says.
 *
 * Loop thread only (reads).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "req.h"
#include "api/api.h"
#include "render.h"
#include "etag.h"
#include "msgs.h"

#define ATOM_DEFAULT_LIMIT 20
#define ATOM_MAX_LIMIT 100
#define ATOM_READ_CHUNK 64   /* messages per feed_read */
#define ATOM_TITLE_CHARS 80  /* of the body, in an entry's title */

/* ----------------------------------------------------------- the newest */

/* What the feed shows of a message: a copy. */
struct entry {
	char id[FEED_ID_LEN + 1];
	uint64_t created_ms;
	char *body;
	size_t body_len;
};

/* The newest `cap` entries seen so far; the oldest is overwritten. */
struct ring {
	struct entry *v;
	size_t cap;
	size_t n;    /* held, <= cap */
	size_t next; /* the slot written next */
};

static void ring_reset(struct ring *ring)
{
	for (size_t i = 0; i < ring->n; i++) {
		free(ring->v[i].body);
		ring->v[i].body = NULL;
	}
	ring->n = ring->next = 0;
}

static int ring_put(struct ring *ring, const feed_msg_t *m)
{
	struct entry *e = &ring->v[ring->next];
	char *body = malloc(m->body_len ? m->body_len : 1);

	if (!body)
		return FEED_ENOMEM;
	memcpy(body, m->body, m->body_len);
	free(e->body);
	memcpy(e->id, m->id, sizeof(e->id));
	e->created_ms = m->created_ms;
	e->body = body;
	e->body_len = m->body_len;
	ring->next = (ring->next + 1) % ring->cap;
	if (ring->n < ring->cap)
		ring->n++;
	return 0;
}

/* The i-th newest entry (0: the newest). */
static const struct entry *ring_get(const struct ring *ring, size_t i)
{
	return &ring->v[(ring->next + ring->cap - 1 - i) % ring->cap];
}

/* Reads every message after `marker` (NULL: from the oldest) into the
 * ring, leaving out those not yet due. */
static int read_after(struct hub_req *r, const char *marker,
		      struct ring *ring)
{
	feed_read_opts_t opts = {
		.limit = ATOM_READ_CHUNK,
		.flags = FEED_READ_INCLUDE_CLAIMED | FEED_READ_ECHO |
			 FEED_READ_INCLUDE_DELAYED,
	};
	char next[FEED_ID_LEN + 1];
	int rc = 0;

	for (;;) {
		feed_msgs_t msgs = {0};
		size_t n;

		rc = feed_read(r->feed, r->project, r->queue, marker, &opts,
			       r->now_ms, &msgs);
		if (rc)
			return rc;
		for (size_t i = 0; i < msgs.n && !rc; i++)
			if (msgs.v[i].due_ms <= r->now_ms)
				rc = ring_put(ring, &msgs.v[i]);
		n = msgs.n;
		memcpy(next, msgs.next_marker, sizeof(next));
		feed_msgs_free(&msgs);
		/* Each read that returns messages moves the marker past them;
		 * one that returns none is at the end of the log. */
		if (rc || n == 0 || !next[0])
			return rc;
		marker = next;
	}
}

/*
 * The marker of (generation, seq), as feed writes ids: 10 hex digits of
 * generation, 14 of seq. feed_id_parse() is the contract; a marker it does
 * not read back as (generation, seq) is refused (*out = "").
 */
static void marker_format(char out[FEED_ID_LEN + 1], uint64_t generation,
			  uint64_t seq)
{
	uint64_t g, s;

	snprintf(out, FEED_ID_LEN + 1, "%010llx%014llx",
		 (unsigned long long)(generation & 0xffffffffffULL),
		 (unsigned long long)(seq & 0xffffffffffffffULL));
	if (feed_id_parse(out, &g, &s) || g != generation || s != seq)
		out[0] = '\0';
}

/* Fills the ring with the newest due messages of r->queue (see the top). */
static int read_newest(struct hub_req *r, struct ring *ring)
{
	feed_queue_stats_t st;
	uint64_t generation, seq;
	int rc = feed_queue_stats(r->feed, r->project, r->queue, r->now_ms,
				  &st);

	if (rc || st.total == 0)
		return rc;
	if (st.total <= ring->cap ||
	    feed_id_parse(st.newest.id, &generation, &seq))
		return read_after(r, NULL, ring);
	for (uint64_t w = ring->cap;; w *= 2) {
		char marker[FEED_ID_LEN + 1] = "";

		if (w < seq)
			marker_format(marker, generation, seq - w);
		ring_reset(ring);
		rc = read_after(r, marker[0] ? marker : NULL, ring);
		if (rc || !marker[0] || ring->n == ring->cap)
			return rc;
	}
}

/* ------------------------------------------------------------- escaping */

enum esc {
	ESC_TEXT, /* character data; what XML cannot carry -> U+FFFD */
	ESC_ATTR, /* an attribute value in double quotes */
	ESC_JSON, /* JSON text as character data; see the top */
};

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

/*
 * Writes s[0..len) escaped for `mode`, at most max_chars code points (0:
 * all). Returns true when it stopped short.
 */
static bool put_xml(FILE *f, const char *s, size_t len, enum esc mode,
		    size_t max_chars)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t chars = 0, n;

	for (size_t i = 0; i < len; i += n, chars++) {
		long cp = utf8_next(p + i, len - i, &n);

		if (max_chars && chars == max_chars)
			return true;
		if (cp == '&')
			fputs("&amp;", f);
		else if (cp == '<')
			fputs("&lt;", f);
		else if (cp == '>')
			fputs("&gt;", f);
		else if (cp == '"' && mode == ESC_ATTR)
			fputs("&quot;", f);
		else if (cp == 0xd ||
			 (mode == ESC_ATTR && (cp == 0x9 || cp == 0xa)))
			fprintf(f, "&#%ld;", cp); /* parsers would fold these */
		else if (cp >= 0 && !xml_char(cp) && mode == ESC_JSON)
			fprintf(f, "\\u%04lx", cp);
		else if (cp < 0 || !xml_char(cp))
			fputs("\xef\xbf\xbd", f); /* U+FFFD */
		else
			fwrite(p + i, 1, n, f);
	}
	return false;
}

static void put_text(FILE *f, const char *s, enum esc mode)
{
	put_xml(f, s, strlen(s), mode, 0);
}

/* Writes s as a part of a urn:herald: id (see the top). */
static void put_urn_part(FILE *f, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("-._~", c))
			fputc(c, f);
		else
			fprintf(f, "%%%02X", c);
	}
}

/* RFC 3339 UTC with milliseconds: "2026-11-22T13:00:00.000Z". */
static void put_time(FILE *f, const char *element, uint64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char text[32];

	gmtime_r(&t, &tm);
	strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(f, "<%s>%s.%03uZ</%s>\n", element, text,
		(unsigned)(ms % 1000), element);
}

/* ------------------------------------------------------------- the feed */

static void put_entry(FILE *f, const struct hub_req *r, const char *base,
		      const struct entry *e)
{
	fputs("  <entry>\n    <id>urn:herald:", f);
	put_urn_part(f, r->project);
	fprintf(f, ":%s:%s</id>\n    <title>", r->queue, e->id);
	if (put_xml(f, e->body, e->body_len, ESC_TEXT, ATOM_TITLE_CHARS))
		fputs("\xe2\x80\xa6", f); /* U+2026, an ellipsis */
	fputs("</title>\n    ", f);
	put_time(f, "published", e->created_ms);
	fputs("    ", f);
	put_time(f, "updated", e->created_ms);
	fputs("    <link rel=\"alternate\" type=\"application/json\" "
	      "href=\"", f);
	put_text(f, base, ESC_ATTR);
	fprintf(f, "/messages/%s\"/>\n", e->id);
	fputs("    <content type=\"application/json\">", f);
	put_xml(f, e->body, e->body_len, ESC_JSON, 0);
	fputs("</content>\n  </entry>\n", f);
}

static void put_feed(FILE *f, const struct hub_req *r, const char *base,
		     const struct ring *ring, long long limit)
{
	uint64_t updated = r->now_ms;

	if (ring->n) {
		updated = 0;
		for (size_t i = 0; i < ring->n; i++)
			if (ring_get(ring, i)->created_ms > updated)
				updated = ring_get(ring, i)->created_ms;
	}
	fputs("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
	      "<feed xmlns=\"http://www.w3.org/2005/Atom\">\n  <id>urn:herald:",
	      f);
	put_urn_part(f, r->project);
	fprintf(f, ":%s</id>\n  <title>Queue %s", r->queue, r->queue);
	if (*r->project) {
		fputs(" of project ", f);
		put_text(f, r->project, ESC_TEXT);
	}
	fputs("</title>\n  ", f);
	put_time(f, "updated", updated);
	fputs("  <author><name>Herald</name></author>\n"
	      "  <generator version=\"" HUB_VERSION_STRING "\">Herald"
	      "</generator>\n"
	      "  <link rel=\"self\" type=\"application/atom+xml\" href=\"",
	      f);
	put_text(f, base, ESC_ATTR);
	fputs("/feed.atom", f);
	if (hub_query(r, "limit"))
		fprintf(f, "?limit=%lld", limit);
	fputs("\"/>\n  <link rel=\"alternate\" type=\"application/json\" "
	      "href=\"", f);
	put_text(f, base, ESC_ATTR);
	fputs("\"/>\n", f);
	for (size_t i = 0; i < ring->n; i++)
		put_entry(f, r, base, ring_get(ring, i));
	fputs("</feed>\n", f);
}

static void atom_reply(struct hub_req *r, const struct ring *ring,
		       long long limit)
{
	char *base = hub_queue_href(r, r->queue), *doc = NULL;
	size_t len = 0;
	FILE *f = base ? open_memstream(&doc, &len) : NULL;

	if (!f) {
		free(base);
		hub_msgs_reply_nomem(r);
		return;
	}
	put_feed(f, r, base, ring, limit);
	if (fclose(f) || !doc)
		hub_msgs_reply_nomem(r);
	else
		hub_reply_raw(r, 200, "application/atom+xml", doc, len);
	free(doc);
	free(base);
}

/* The feed's tag: what the document is a function of (see the top). */
static void atom_etag(const struct hub_req *r, const struct ring *ring,
		      long long limit, char tag[HUB_ETAG_MAX])
{
	struct hub_etag e;

	hub_etag_init(&e);
	hub_etag_add_str(&e, "atom");
	hub_etag_add_str(&e, r->project);
	hub_etag_add_str(&e, r->queue);
	hub_etag_add_u64(&e, (uint64_t)limit);
	hub_etag_add_u64(&e, hub_query(r, "limit") != NULL);
	for (size_t i = 0; i < ring->n; i++) {
		const struct entry *en = ring_get(ring, i);

		hub_etag_add_str(&e, en->id);
		hub_etag_add_u64(&e, en->created_ms);
		hub_etag_add(&e, en->body, en->body_len);
	}
	hub_etag_format(&e, ring->n == 0, tag);
}

void hub_queue_atom(struct hub_req *r)
{
	struct ring ring = {.v = NULL};
	char tag[HUB_ETAG_MAX];
	long long limit;
	int rc;

	if (!hub_query_int(r, "limit", ATOM_DEFAULT_LIMIT, &limit))
		return;
	if (limit < 1 || limit > ATOM_MAX_LIMIT) {
		hub_msgs_reply_limit(r, ATOM_MAX_LIMIT);
		return;
	}
	ring.cap = (size_t)limit;
	ring.v = calloc(ring.cap, sizeof(*ring.v));
	if (!ring.v) {
		hub_msgs_reply_nomem(r);
		return;
	}
	rc = read_newest(r, &ring);
	if (rc) {
		hub_reply_feed_error(r, rc, NULL);
		goto out;
	}
	atom_etag(r, &ring, limit, tag);
	hub_header(r, "ETag", "%s", tag);
	if (hub_etag_matches(r, tag))
		hub_reply(r, 304, NULL);
	else
		atom_reply(r, &ring, limit);
out:
	ring_reset(&ring);
	free(ring.v);
}
