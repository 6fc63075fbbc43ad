/*
 * feedtime.c - the dates of the feeds (feeds.h): RFC 3339 out (Atom, JSON
 * Feed) and in (an alert body's updated / published), RFC 9110's
 * IMF-fixdate out (Last-Modified; RSS's pubDate, which RFC 822 also
 * reads) and in (If-Modified-Since). Every time is UTC milliseconds since
 * the epoch; dates before 1970 are refused.
 *
 * Any thread: it touches only its arguments.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "feeds.h"


static const char *const wdays[] = {"Sun", "Mon", "Tue", "Wed",
				    "Thu", "Fri", "Sat"};
static const char *const months[] = {"Jan", "Feb", "Mar", "Apr",
				     "May", "Jun", "Jul", "Aug",
				     "Sep", "Oct", "Nov", "Dec"};

void hub_feed_time_3339(char out[32], uint64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char text[20];

	gmtime_r(&t, &tm);
	if (strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		text[0] = '\0';
	snprintf(out, 32, "%s.%03uZ", text, (unsigned)(ms % 1000));
}

void hub_feed_time_http(char out[40], uint64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(out, 40, "%s, %02d %s %04d %02d:%02d:%02d GMT",
		 wdays[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
		 tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* ms since the epoch of broken-down UTC time plus an offset (seconds
 * east); false when out of range. */
static bool to_ms(struct tm *tm, long offset_s, unsigned frac_ms,
		  uint64_t *ms)
{
	time_t t;

	if (tm->tm_mon < 0 || tm->tm_mon > 11 || tm->tm_mday < 1 ||
	    tm->tm_mday > 31 || tm->tm_hour > 23 || tm->tm_min > 59 ||
	    tm->tm_sec > 60 || tm->tm_year < 70)
		return false;
	t = timegm(tm) - offset_s;
	if (t < 0)
		return false;
	*ms = (uint64_t)t * 1000 + frac_ms;
	return true;
}

/* RFC 3339: YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM). */
bool hub_feed__parse_3339(const char *s, uint64_t *ms)
{
	struct tm tm = {0};
	int n = 0, oh, om;
	unsigned frac = 0, scale = 100;
	long off = 0;

	if (sscanf(s, "%4d-%2d-%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		   &n) != 3 || n != 10 || (s[10] != 'T' && s[10] != 't'))
		return false;
	if (sscanf(s + 11, "%2d:%2d:%2d%n", &tm.tm_hour, &tm.tm_min,
		   &tm.tm_sec, &n) != 3 || n != 8)
		return false;
	s += 19;
	if (*s == '.') {
		if (!isdigit((unsigned char)*++s))
			return false;
		for (; isdigit((unsigned char)*s); s++, scale /= 10)
			frac += (unsigned)(*s - '0') * scale;
	}
	if (*s == '+' || *s == '-') {
		if (sscanf(s + 1, "%2d:%2d%n", &oh, &om, &n) != 2 || n != 5 ||
		    s[6])
			return false;
		off = (*s == '-' ? -1 : 1) * (long)(oh * 3600 + om * 60);
	} else if ((*s != 'Z' && *s != 'z') || s[1]) {
		return false;
	}
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return to_ms(&tm, off, frac, ms);
}

/* RFC 9110's IMF-fixdate (the only form Herald needs to read back). */
bool hub_feed__parse_http_date(const char *s, uint64_t *ms)
{
	struct tm tm = {0};
	char mon[4];
	int n = 0;

	if (strlen(s) < 5 || s[3] != ',' ||
	    sscanf(s + 4, " %2d %3s %4d %2d:%2d:%2d GMT%n", &tm.tm_mday, mon,
		   &tm.tm_year, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6 ||
	    s[4 + n])
		return false;
	tm.tm_mon = -1;
	for (int i = 0; i < 12; i++)
		if (strcmp(mon, months[i]) == 0)
			tm.tm_mon = i;
	tm.tm_year -= 1900;
	return to_ms(&tm, 0, 0, ms);
}
