/*
 * test_feedtime.c - hub/api/feedtime.c: the feeds' dates, written and
 * read back (RFC 3339, IMF-fixdate), and what is refused; and the
 * small checks of feeds.c the renderers use (URLs, IRIs, field names).
 */
#include <string.h>

#include "tap.h"
#include "api/feeds.h"

#define T0 1795352400000ULL /* 2026-11-22T13:00:00.000Z, a Sunday */

static void writes(void)
{
	char a[32], h[40];

	hub_feed_time_3339(a, T0 + 5250);
	is_str(a, "2026-11-22T13:00:05.250Z", "RFC 3339 with milliseconds");
	hub_feed_time_http(h, T0 + 5250);
	is_str(h, "Sun, 22 Nov 2026 13:00:05 GMT", "IMF-fixdate, no fraction");
}

static void reads_3339(void)
{
	uint64_t ms = 0;

	ok(hub_feed__parse_3339("2026-11-22T13:00:00Z", &ms) && ms == T0,
	   "Z");
	ok(hub_feed__parse_3339("2026-11-22T14:30:00+01:30", &ms) && ms == T0,
	   "a positive offset is subtracted");
	ok(hub_feed__parse_3339("2026-11-22T08:00:00-05:00", &ms) && ms == T0,
	   "a negative offset is added");
	ok(hub_feed__parse_3339("2026-11-22t13:00:00.1234z", &ms) &&
		   ms == T0 + 123,
	   "lower-case t and z; a fraction to the millisecond");
	ok(!hub_feed__parse_3339("2026-11-22 13:00:00Z", &ms),
	   "a space for T is refused");
	ok(!hub_feed__parse_3339("2026-11-22T13:00:00", &ms),
	   "no zone is refused");
	ok(!hub_feed__parse_3339("2026-11-22T13:00:00.Z", &ms),
	   "a dot without digits is refused");
	ok(!hub_feed__parse_3339("2026-11-22T13:00:00Zjunk", &ms),
	   "trailing text is refused");
	ok(!hub_feed__parse_3339("2026-13-22T13:00:00Z", &ms),
	   "month 13 is refused");
	ok(!hub_feed__parse_3339("1969-12-31T23:59:59Z", &ms),
	   "before 1970 is refused");
	ok(!hub_feed__parse_3339("yesterday", &ms), "words are refused");
}

static void reads_http(void)
{
	uint64_t ms = 0;
	char h[40];

	hub_feed_time_http(h, T0 + 999);
	ok(hub_feed__parse_http_date(h, &ms) && ms == T0,
	   "what Herald writes reads back, to the second");
	ok(!hub_feed__parse_http_date("Sun, 22 Nov 2026 13:00:00", &ms),
	   "no GMT is refused");
	ok(!hub_feed__parse_http_date("Sun, 22 Foo 2026 13:00:00 GMT", &ms),
	   "an unknown month is refused");
	ok(!hub_feed__parse_http_date("Sunday, 22-Nov-26 13:00:00 GMT", &ms),
	   "the obsolete RFC 850 form is refused (no 304 from it)");
	ok(!hub_feed__parse_http_date("", &ms), "empty is refused");
}

static void names(void)
{
	ok(hub_feed_is_url("https://example.org/a") &&
		   hub_feed_is_url("HTTP://x"),
	   "http(s) URLs, any case");
	ok(!hub_feed_is_url("ftp://x") && !hub_feed_is_url("/v2/x"),
	   "others are not");
	ok(hub_feed_is_iri("tag:example.org,2026:7") &&
		   hub_feed_is_iri("urn:x:y"),
	   "IRIs have a scheme");
	ok(!hub_feed_is_iri("alert-42") && !hub_feed_is_iri("a b:c") &&
		   !hub_feed_is_iri("x:") && !hub_feed_is_iri(""),
	   "plain words, blanks and empty rests are not");
	ok(hub_feed_field_ok("categories") && !hub_feed_field_ok("tags"),
	   "the mappable fields are the entry's, not the body's keys");
}

int main(void)
{
	writes();
	reads_3339();
	reads_http();
	names();
	done_testing();
}
