/*
 * cors.h - which browser origins may use the API (cors.c,
 * docs/security.md#cors): --cors-origins, one list for CORS answers,
 * preflights, WebSocket upgrades and event streams.
 *
 * A request with no Origin header is no browser's cross-origin call: it
 * is not judged here. One with an Origin is allowed when the origin is
 * the hub's own (its host[:port] is the request's Host), or is listed, or
 * the list holds "*".
 */
#ifndef HERALD_HUB_CORS_H
#define HERALD_HUB_CORS_H

#include <stdbool.h>

/* What a preflight allows (Access-Control-Allow-*). */
#define HUB_CORS_METHODS "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
#define HUB_CORS_HEADERS                                                   \
	"Authorization, X-Auth-Token, Client-ID, X-Project-Id, "           \
	"Content-Type, Accept, If-None-Match, Last-Event-ID, "             \
	"Idempotency-Key, URL-Signature, URL-Expires, URL-Methods, "       \
	"URL-Paths"
/* Answer headers a page's script may read. */
#define HUB_CORS_EXPOSE "Location, ETag, Content-Location, Herald-Gap, "   \
	"Retry-After, Allow"
#define HUB_CORS_MAX_AGE "600"

/* Whether origin is named by `list` (comma-separated, "*" any): the
 * origins that get CORS headers. Case-insensitive, a final '/' ignored. */
bool hub_cors_listed(const char *list, const char *origin);
/* Whether a browser's request from origin may be served: its own origin
 * (host as in the Host header) or a listed one. */
bool hub_cors_allowed(const char *list, const char *origin, const char *host);
/* Whether `list` is "*" (or holds it): answers say "*", not the origin. */
bool hub_cors_any(const char *list);

#endif /* HERALD_HUB_CORS_H */
