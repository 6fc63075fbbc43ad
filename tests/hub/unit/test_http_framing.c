/*
 * test_http_framing.c - the request line and framing checks
 * (hub/transport/http_framing.c), one case at a time; the end-to-end
 * refusals are in tests/hub/test_hostile_http.c.
 */
#include <string.h>

#include "tap.h"
#include "transport/http_framing.h"

/* The status for a request (0: accepted; then *len is the length). */
static int check(const char *version, const char *path, size_t path_len,
		 const char *cl, bool te, long long *len)
{
	struct hub_http_framing f = {
		.version = version, .path = path, .path_len = path_len,
		.content_length = cl, .transfer_encoding = te,
	};
	struct hub_http_refusal why;
	long long l;

	if (!hub_http_framing_check(&f, len ? len : &l, &why))
		return why.status;
	return 0;
}

static int cl(const char *v, long long *len)
{
	return check("HTTP/1.1", "/v2/ping", 8, v, false, len);
}

int main(void)
{
	static char long_path[HUB_HTTP_PATH_MAX + 2];
	long long len = 0;

	is(cl(NULL, &len), 0, "no Content-Length is accepted");
	is(len, -1, "... with no length");
	is(cl("27", &len), 0, "Content-Length 27 is accepted");
	is(len, 27, "... as 27");
	is(cl("0", &len), 0, "Content-Length 0 is accepted");
	is(cl("27 ", &len), 0, "a blank after the digits is accepted");
	is(cl("999999999999999999", &len), 0, "18 digits are accepted");
	is(cl("9999999999999999999", NULL), 400, "19 digits are refused");
	is(cl("", NULL), 400, "an empty Content-Length is refused");
	is(cl("abc", NULL), 400, "Content-Length abc is refused");
	is(cl("+2", NULL), 400, "a sign is refused");
	is(cl("-1", NULL), 400, "a negative length is refused");
	is(cl("2 2", NULL), 400, "two headers (joined by lws) are refused");
	is(cl("2,2", NULL), 400, "a list is refused");
	is(cl("0x10", NULL), 400, "hexadecimal is refused");
	is(check("HTTP/1.1", "/", 1, "2", true, NULL), 400,
	   "Content-Length with Transfer-Encoding is refused with 400");
	is(check("HTTP/1.1", "/", 1, NULL, true, NULL), 411,
	   "Transfer-Encoding alone is refused with 411");

	is(check("HTTP/1.0", "/", 1, NULL, false, NULL), 0, "HTTP/1.0 is served");
	is(check("HTTP/9.9", "/", 1, NULL, false, NULL), 400,
	   "HTTP/9.9 is refused");
	is(check("HTTP/2.0", "/", 1, NULL, false, NULL), 400,
	   "HTTP/2.0 over HTTP/1 is refused");
	is(check("HTTP/1.1x", "/", 1, NULL, false, NULL), 400,
	   "HTTP/1.1x is refused");
	is(check("", "/", 1, NULL, false, NULL), 400,
	   "a request line without a version is refused");

	memset(long_path, 'a', sizeof(long_path) - 1);
	long_path[0] = '/';
	is(check("HTTP/1.1", long_path, HUB_HTTP_PATH_MAX, NULL, false, NULL),
	   0, "a path of the longest length is served");
	is(check("HTTP/1.1", long_path, HUB_HTTP_PATH_MAX + 1, NULL, false,
		 NULL), 414, "one byte longer is refused with 414");
	is(check("HTTP/1.1", "/a\001b", 4, NULL, false, NULL), 400,
	   "a control character in the path is refused");
	is(check("HTTP/1.1", "/a\0b", 4, NULL, false, NULL), 400,
	   "a NUL in the path is refused");
	is(check("HTTP/1.1", "/a\177", 3, NULL, false, NULL), 400,
	   "DEL in the path is refused");
	is(check("HTTP/1.1", "/caf\303\251", 6, NULL, false, NULL), 0,
	   "UTF-8 in the path is left to the routes");
	return exit_status();
}
