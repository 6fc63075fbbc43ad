/*
 * http_framing.h - whether an HTTP/1.1 request's line and framing headers
 * can be served at all: its version, its path, its Content-Length and
 * Transfer-Encoding (RFC 9112 §2.3, §3, §6). Pure: it reads the strings
 * lws parsed and decides; http.c answers and closes. No lws, no socket,
 * so a fuzzer drives it as it is (tests/fuzz/fuzz_request.c).
 */
#ifndef HERALD_HUB_TRANSPORT_HTTP_FRAMING_H
#define HERALD_HUB_TRANSPORT_HTTP_FRAMING_H

#include <stdbool.h>
#include <stddef.h>

/* The longest path served (the query apart): no route's path comes
 * near it; a longer one is refused with 414. */
#define HUB_HTTP_PATH_MAX 2048

/* What lws parsed of a request, borrowed. */
struct hub_http_framing {
	const char *version;        /* "HTTP/1.1"; "" when absent */
	const char *path;           /* decoded, without the query */
	size_t path_len;            /* its bytes (a NUL inside counts) */
	const char *content_length; /* NULL when absent; lws joins repeats
				     * with a space */
	bool transfer_encoding;     /* Transfer-Encoding was sent */
};

/* Why a request is refused: a status and the JSON error's two strings
 * (static). */
struct hub_http_refusal {
	int status;
	const char *title;
	const char *description;
};

/*
 * Checks f in this order: version (400 unless HTTP/1.0 or HTTP/1.1),
 * path (414 longer than HUB_HTTP_PATH_MAX, 400 with a NUL or another
 * control character), framing (400 Content-Length with
 * Transfer-Encoding, 411 Transfer-Encoding alone, 400 a Content-Length
 * that is not one run of digits - a sign, a repeat, a list, anything
 * else). Returns true and sets *length (-1: no Content-Length) when the
 * request may be read; false and fills *why otherwise.
 */
bool hub_http_framing_check(const struct hub_http_framing *f,
			    long long *length, struct hub_http_refusal *why);

#endif /* HERALD_HUB_TRANSPORT_HTTP_FRAMING_H */
