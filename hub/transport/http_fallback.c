/*
 * http_fallback.c - what lws's HTTP parser gives up on: a request line
 * whose method lws does not know ("FOO /", a TLS handshake on the plain
 * port, any bytes that are no request). lws 4.1.6 would answer those
 * itself, an HTML 403 (roles/http/parsers.c, "Unknown method -
 * dropping"). With LWS_SERVER_OPTION_FALLBACK_TO_APPLY_LISTEN_ACCEPT_
 * CONFIG on the vhost, lws instead hands the connection, as a raw socket,
 * to the vhost's "raw" protocol - this one - with the bytes it read
 * (lws_http_to_fallback(): RAW_ADOPT, then RAW_RX). It answers at once,
 * from RAW_RX, and the connection closes:
 *
 *   a method token (RFC 9110 §9: tchars)   501, "Unknown HTTP method"
 *   anything else                          400, "not an HTTP request"
 *
 * with a JSON error body and a warn line. Nothing of it is read further.
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "transport/http.h"

/* The length of the method token at the start of buf: 0 when the bytes
 * up to the first space are not one (at most 32 tchars). */
static size_t method_token(const char *buf, size_t len)
{
	static const char tchar_extra[] = "!#$%&'*+-.^_`|~";
	size_t n = 0;

	while (n < len && n <= 32 && buf[n] != ' ') {
		unsigned char c = (unsigned char)buf[n];

		if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
		      (c >= 'a' && c <= 'z') || (c && strchr(tchar_extra, c))))
			return 0;
		n++;
	}
	return n < len && n <= 32 ? n : 0;
}

static int answer(struct lws *wsi, const char *in, size_t len)
{
	unsigned char buf[LWS_PRE + 512];
	size_t m = method_token(in, len);
	const char *body = m
		? "{\"title\": \"Not Implemented\", \"description\": "
		  "\"Unknown HTTP method.\"}"
		: "{\"title\": \"Invalid request\", \"description\": "
		  "\"This is not an HTTP/1.1 request.\"}";
	int n = snprintf((char *)buf + LWS_PRE, sizeof(buf) - LWS_PRE,
			 "HTTP/1.1 %s\r\ncontent-type: application/json\r\n"
			 "content-length: %zu\r\nconnection: close\r\n\r\n%s",
			 m ? "501 Not Implemented" : "400 Bad Request",
			 strlen(body), body);

	if (m)
		hub_log(HUB_LOG_WARN, "%.*s: refused: 501 unknown method", (int)m,
			in);
	else
		hub_log(HUB_LOG_WARN, "refused: 400 not an HTTP request "
			"(%zu bytes)", len);
	lws_write(wsi, buf + LWS_PRE, (size_t)n, LWS_WRITE_RAW);
	return -1; /* closes: lws flushes what it could not send yet */
}

static int callback_fallback(struct lws *wsi, enum lws_callback_reasons reason,
			     void *user, void *in, size_t len)
{
	(void)user;
	if (reason == LWS_CALLBACK_RAW_RX)
		return answer(wsi, in ? in : "", in ? len : 0);
	return 0;
}

const struct lws_protocols hub_http_fallback_protocol = {
	.name = "herald-http-fallback",
	.callback = callback_fallback,
	.per_session_data_size = 0,
	.rx_buffer_size = 0,
};
