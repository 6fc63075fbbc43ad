/*
 * cors.c - browser origins (cors.h). Plain string work on the list of
 * --cors-origins and the request's Origin and Host; the transports read
 * the headers and answer (http.c: preflights and CORS headers; ws_sub.c:
 * the WebSocket upgrade; http.c again for event streams).
 *
 * Same origin is judged by the origin's host[:port] against Host, not by
 * its scheme: behind a proxy that ends TLS the hub sees http while the
 * page was https, and the host is what an attacker's page cannot borrow.
 */
#include <string.h>
#include <strings.h>

#include "cors.h"

/* Whether the list's item [s, s+n) names origin (trimmed, no final /). */
static bool item_is(const char *s, size_t n, const char *origin)
{
	size_t on = strlen(origin);

	while (n && (*s == ' ' || *s == '\t'))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '/'))
		n--;
	while (on && origin[on - 1] == '/')
		on--;
	if (n == 1 && *s == '*')
		return true;
	return n && n == on && strncasecmp(s, origin, n) == 0;
}

bool hub_cors_listed(const char *list, const char *origin)
{
	if (!list || !origin || !*origin)
		return false;
	while (*list) {
		size_t n = strcspn(list, ",");

		if (item_is(list, n, origin))
			return true;
		list += n;
		if (*list == ',')
			list++;
	}
	return false;
}

bool hub_cors_any(const char *list)
{
	while (list && *list) {
		size_t n = strcspn(list, ",");

		if (item_is(list, n, "*") && strspn(list, " \t*/") >= n)
			return true;
		list += n;
		if (*list == ',')
			list++;
	}
	return false;
}

bool hub_cors_allowed(const char *list, const char *origin, const char *host)
{
	const char *authority = origin ? strstr(origin, "://") : NULL;

	if (!origin || !*origin)
		return true; /* no browser's cross-origin call */
	if (authority && host && *host) {
		size_t n;

		authority += 3;
		n = strcspn(authority, "/");
		if (n == strlen(host) && strncasecmp(authority, host, n) == 0)
			return true;
	}
	return hub_cors_listed(list, origin);
}
