/*
 * test_hostile_http.c - requests whose framing a proxy and lws could read
 * differently (issue #12, hostile testing, defects 5 and 6): each is
 * refused before its body is read, with a status, a JSON error body,
 * "Connection: close" and a line in the server's log - never a silent
 * close, never served. Raw bytes on a fresh connection each.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct hh_server srv;

#define CID "Client-ID: " HH_CLIENT_A "\r\n"
#define POST_HEAD "POST /v2/queues/hostile/messages HTTP/1.1\r\nHost: x\r\n" \
	CID "Content-Type: application/json\r\n"
#define BODY "{\"messages\": [{\"body\": 1}]}"

/* How many times `needle` is in the server's log. */
static int log_count(const char *needle)
{
	FILE *f = fopen(srv.log, "r");
	char line[8192];
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

/* What the refusals' log lines say: of framing (http.c), and of what
 * the HTTP parser of lws gave up on (http_fallback.c). */
static const char *log_needle = "refused before its body";

/* Sends `req` on a new connection; the answer must be `status` with a
 * JSON error whose title is `title`, the connection closed after it, and
 * one more refusal in the log. */
static void refused(const char *req, size_t len, int status,
		    const char *title, const char *name)
{
	struct hh_client c;
	struct hh_resp r = HH_RESP_INIT;
	int logged = log_count(log_needle);

	hh_client_init(&c, &srv, NULL, NULL);
	hh_send(&c, req, len);
	hh_recv(&c, &r, false);
	is(r.status, status, "%s: answered %d", name, status);
	ok(r.json && hh_gets(r.json, "title") &&
		   strcmp(hh_gets(r.json, "title"), title) == 0 &&
		   hh_gets(r.json, "description"),
	   "%s: a JSON error \"%s\" with a description", name, title);
	ok(r.closed || hh_wait_closed(&c), "%s: the connection is closed after",
	   name);
	is(log_count(log_needle), logged + 1,
	   "%s: the refusal is logged", name);
	hh_resp_free(&r);
	hh_client_close(&c);
}

static void refused_s(const char *req, int status, const char *title,
		      const char *name)
{
	refused(req, strlen(req), status, title, name);
}

static long long stored(void)
{
	struct hh_client c;
	struct hh_resp r = HH_RESP_INIT;
	long long n;

	hh_client_init(&c, &srv, HH_CLIENT_A, NULL);
	hh_call(&c, &r, "GET", "/v2/queues/hostile/stats", NULL);
	n = r.status == 200 ? hh_geti(r.json, "messages.total") : 0;
	hh_resp_free(&r);
	hh_client_close(&c);
	return n;
}

static void content_length(void)
{
	refused_s(POST_HEAD "Content-Length: abc\r\n\r\n" BODY, 400,
		  "Invalid request", "Content-Length: abc");
	refused_s(POST_HEAD "Content-Length: +27\r\n\r\n" BODY, 400,
		  "Invalid request", "Content-Length: +27");
	refused_s(POST_HEAD "Content-Length: -1\r\n\r\n" BODY, 400,
		  "Invalid request", "Content-Length: -1");
	refused_s(POST_HEAD "Content-Length: 27\r\nContent-Length: 27\r\n\r\n"
		  BODY, 400, "Invalid request", "two Content-Length headers");
	refused_s(POST_HEAD "Content-Length: 27, 27\r\n\r\n" BODY, 400,
		  "Invalid request", "Content-Length: 27, 27");
	refused_s(POST_HEAD "Content-Length: 99999999999999999999\r\n\r\n" BODY,
		  400, "Invalid request", "a Content-Length past 64 bits");
	refused_s(POST_HEAD "Content-Length: 27\r\nTransfer-Encoding: chunked"
		  "\r\n\r\n" BODY, 400, "Invalid request",
		  "Content-Length with Transfer-Encoding");
	is(stored(), 0, "none of them stored a message");
}

static void request_line(void)
{
	char *line = malloc(6000);

	refused_s("GET /v2/ping HTTP/9.9\r\nHost: x\r\n" CID "\r\n", 400,
		  "Invalid request", "HTTP/9.9");
	refused_s("GET /v2/ping HTTP/1.1x\r\nHost: x\r\n" CID "\r\n", 400,
		  "Invalid request", "HTTP/1.1x");
	refused_s("GET /v2/queues/a%01b HTTP/1.1\r\nHost: x\r\n" CID "\r\n",
		  400, "Invalid request", "%01 in the path");
	if (!line)
		bail_out("out of memory");
	memcpy(line, "GET /v2/", 8);
	memset(line + 8, 'a', 5000);
	strcpy(line + 5008, " HTTP/1.1\r\nHost: x\r\n" CID "\r\n");
	refused_s(line, 414, "URI Too Long", "a path of 5,000 characters");
	free(line);
}

/* What lws's parser gives up on: no longer its HTML 403. */
static void unknown_method(void)
{
	static const char tls[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";
	struct hh_client c;
	struct hh_resp r = HH_RESP_INIT;
	const char *two = "GET /v2/ping HTTP/1.1\r\nHost: x\r\n" CID "\r\n"
			  "FOO /v2/ping HTTP/1.1\r\nHost: x\r\n\r\n";

	log_needle = "refused: ";
	refused_s("FOO /v2/queues HTTP/1.1\r\nHost: x\r\n\r\n", 501,
		  "Not Implemented", "an unknown method");
	refused_s("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n"
		  "\r\n", 501, "Not Implemented", "CONNECT");
	refused(tls, sizeof(tls) - 1, 400, "Invalid request",
		"a TLS handshake on the plain port");
	hh_client_init(&c, &srv, NULL, NULL);
	hh_send(&c, two, strlen(two));
	hh_recv(&c, &r, false);
	is(r.status, 204, "a request before an unknown method is answered");
	hh_recv(&c, &r, false);
	is(r.status, 501, "an unknown method after a request on the same "
	   "connection gets 501");
	hh_resp_free(&r);
	hh_client_close(&c);
	log_needle = "refused before its body";
}

/* What lws 4.1.6 decides before Herald sees the request. */
static void lws_decides(void)
{
	struct hh_client c;
	struct hh_resp r = HH_RESP_INIT;
	const char *lower = "get /v2/ping HTTP/1.1\r\nHost: x\r\n" CID "\r\n";

	hh_client_init(&c, &srv, NULL, NULL);
	hh_send(&c, lower, strlen(lower));
	hh_recv(&c, &r, false);
	todo_start("libwebsockets 4.1.6 matches methods case-insensitively "
		   "and keeps no copy of the method as sent");
	is(r.status, 400, "a lowercase method (get) is refused");
	todo_end();
	hh_resp_free(&r);
	hh_client_close(&c);
}

/* A well-formed request with the same parts still works. */
static void still_served(void)
{
	struct hh_client c;
	struct hh_resp r = HH_RESP_INIT;
	const char *req = POST_HEAD "Content-Length: 27\r\n\r\n" BODY;

	hh_client_init(&c, &srv, NULL, NULL);
	hh_send(&c, req, strlen(req));
	hh_recv(&c, &r, false);
	is(r.status, 201, "a POST with one well-formed Content-Length is served");
	hh_resp_free(&r);
	req = "GET /v2/ping HTTP/1.0\r\nHost: x\r\n" CID "\r\n";
	hh_send(&c, req, strlen(req));
	hh_recv(&c, &r, false);
	is(r.status, 204, "HTTP/1.0 is served");
	hh_resp_free(&r);
	hh_client_close(&c);
}

int main(void)
{
	hh_start(&srv, NULL);
	content_length();
	request_line();
	unknown_method();
	lws_decides();
	still_served();
	return hh_finish(&srv);
}
