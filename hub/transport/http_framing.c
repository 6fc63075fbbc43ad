/*
 * http_framing.c - the request line and the framing headers, checked
 * before anything reads a body (issue #12, "defects found by hostile
 * testing" 5 and 6). lws 4.1.6 is lenient where a proxy in front of the
 * hub may not be, and the two disagreeing on where a request ends is
 * how requests are smuggled (RFC 9112 §11.2):
 *
 *   Content-Length   lws reads it with atoll(): "abc" is 0, "+2" is 2,
 *                    and two headers are joined ("2 2", read as 2). Only
 *                    one run of digits is taken here (RFC 9110 §8.6).
 *   both framings    Content-Length with Transfer-Encoding: refused
 *                    (RFC 9112 §6.1: "ought to be handled as an error");
 *                    Transfer-Encoding alone is 411 (lws does not decode
 *                    chunked bodies).
 *   version          lws takes anything after the path and answers an
 *                    unknown one as HTTP/1.0: only HTTP/1.0 and HTTP/1.1
 *                    are served; any other is 400.
 *   path             longer than any route: 414; a control character
 *                    (decoded from %01 ... or sent raw) has no meaning in
 *                    a name: 400. (lws itself drops a connection whose
 *                    path holds a NUL or %00, unanswered.)
 */
#include <string.h>

#include "transport/http_framing.h"

static bool refuse(struct hub_http_refusal *why, int status,
		   const char *title, const char *description)
{
	why->status = status;
	why->title = title;
	why->description = description;
	return false;
}

static bool version_ok(const char *v, struct hub_http_refusal *why)
{
	if (strcmp(v, "HTTP/1.1") == 0 || strcmp(v, "HTTP/1.0") == 0)
		return true;
	/* 400 rather than RFC 9110's 505 for another major: one answer for
	 * every version we do not serve, a client error as the brief of
	 * issue #12 asks. */
	return refuse(why, 400, "Invalid request",
		      "Unsupported HTTP version in the request line: this "
		      "server speaks HTTP/1.1 (and HTTP/1.0).");
}

static bool path_ok(const char *p, size_t len, struct hub_http_refusal *why)
{
	if (len > HUB_HTTP_PATH_MAX)
		return refuse(why, 414, "URI Too Long",
			      "The request path is longer than 2048 bytes.");
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c < 0x20 || c == 0x7f)
			return refuse(why, 400, "Invalid request",
				      "The request path holds a control "
				      "character.");
	}
	return true;
}

/* One run of decimal digits, optional blanks after it (lws drops those
 * before); at most 18 digits, so it fits a long long. */
static bool length_parse(const char *s, long long *out)
{
	size_t n = strspn(s, "0123456789"), end = n;
	long long v = 0;

	while (s[end] == ' ' || s[end] == '\t')
		end++;
	if (n == 0 || n > 18 || s[end] != '\0')
		return false;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	*out = v;
	return true;
}

bool hub_http_framing_check(const struct hub_http_framing *f,
			    long long *length, struct hub_http_refusal *why)
{
	*length = -1;
	if (!version_ok(f->version, why) ||
	    !path_ok(f->path, f->path_len, why))
		return false;
	if (f->transfer_encoding && f->content_length)
		return refuse(why, 400, "Invalid request",
			      "Content-Length and Transfer-Encoding together "
			      "are ambiguous; send a Content-Length only.");
	if (f->transfer_encoding)
		return refuse(why, 411, "Length Required",
			      "Chunked request bodies are not supported; "
			      "send a Content-Length.");
	if (f->content_length && !length_parse(f->content_length, length))
		return refuse(why, 400, "Invalid request",
			      "Malformed Content-Length: one header, one "
			      "decimal number.");
	return true;
}
