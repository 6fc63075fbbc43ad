/*
 * test_errors.c - the pre-routing checks of zaqar-api.md §2 (Client-ID,
 * X-Project-Id, Accept), routing errors (§3: 404, 405 with Allow,
 * OPTIONS), and bad input of every kind: each must be a clear 4xx with a
 * JSON error body, never a crash or a hang. Raw bytes on the socket for
 * what a normal client would never send (no Content-Length, chunked,
 * pipelining, garbage, truncated requests).
 */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

static struct hh_server srv;
static struct hh_client c;
static struct hh_resp r = HH_RESP_INIT;

/*
 * The server still answers on a new connection. When it does not, the
 * point fails and the server is restarted (SIGKILL after the stop timeout)
 * so that the rest of the program still tests something.
 */
static void alive(const char *after)
{
	struct hh_client p;
	struct hh_resp pr = HH_RESP_INIT;

	hh_client_init(&p, &srv, HH_CLIENT_A, "projE");
	p.timeout_ms = 3000;
	hh_call(&p, &pr, "GET", "/v2/ping", NULL);
	if (!is(pr.status, 204, "the server still answers after %s", after)) {
		diag("restarting the server to go on");
		hh_client_close(&c);
		hh_restart(&srv);
	}
	hh_resp_free(&pr);
	hh_client_close(&p);
}

static void headers(void)
{
	struct hh_client h;

	hh_client_init(&h, &srv, NULL, "projE");
	hh_call(&h, &r, "GET", "/v2/queues", NULL);
	expect_error(&r, 400, "Missing header value",
		     "The \"Client-ID\" header is required.", "v2 without Client-ID");
	hh_call(&h, &r, "GET", "/v1.1/queues", NULL);
	expect_error(&r, 400, "Missing header value",
		     "The \"Client-ID\" header is required.", "v1.1 without Client-ID");
	ok(hh_header_has(&r, "vary", "Accept"), "error responses carry Vary: Accept");
	ok(hh_header(&r, "content-type") != NULL &&
		   strncmp(hh_header(&r, "content-type"), "application/json", 16) == 0,
	   "error responses are application/json");

	h.client_id = HH_CLIENT_A;
	h.project = NULL;
	/* Herald's decision (issue #3): a missing X-Project-Id means the
	 * default project, on every version; Zaqar refuses it on v1.1/v2. */
	hh_call(&h, &r, "PUT", "/v2/queues/noproj", "");
	is(r.status, 201, "v2 without X-Project-Id creates in the default project");
	hh_call(&h, &r, "GET", "/v2/queues", NULL);
	ok(r.status == 200 && strstr(r.body, "\"noproj\"") != NULL,
	   "v2 without X-Project-Id lists the default project's queues");
	hh_call(&h, &r, "GET", "/v1/queues/noproj", NULL);
	is(r.status, 204, "v1 without a project sees the same default project");
	hh_call(&h, &r, "GET", "/v2/ping", NULL);
	is(r.status, 204, "/v2/ping without X-Project-Id");
	hh_call(&h, &r, "GET", "/v2/", NULL);
	is(r.status, 200, "/v2/ without X-Project-Id");
	h.project = "projE";
	hh_call(&h, &r, "GET", "/v2/queues", NULL);
	ok(r.status == 200 && strstr(r.body, "\"noproj\"") == NULL,
	   "another project does not see the default project's queue");
	h.project = NULL;
	hh_callh(&h, &r, "GET", "/v2/queues", "x-project-id: projE\r\n", NULL);
	is(r.status, 200, "the X-Project-Id header name is case-insensitive");
	hh_callh(&h, &r, "GET", "/v2/queues", "X-PROJECT-ID: projE\r\n", NULL);
	is(r.status, 200, "X-PROJECT-ID in upper case");
	h.project = "";
	hh_call(&h, &r, "GET", "/v2/queues", NULL);
	expect_error(&r, 400, "Empty project header not allowed",
		     "X-PROJECT-ID cannot be an empty string. Specify the right "
		     "header X-PROJECT-ID and retry.",
		     "empty X-Project-Id");
	h.project = "projE";

	{
		static const char *bad[] = {
			"not-a-uuid", "", "3f2504e0-4f89-41d3-9a0c-0305e82c330",
			"3f2504e0-4f89-41d3-9a0c-0305e82c3301x",
			"zf2504e0-4f89-41d3-9a0c-0305e82c3301",
			"{3f2504e0-4f89-41d3-9a0c}-0305e82c3301",
		};
		static const char *good[] = {
			"3f2504e04f8941d39a0c0305e82c3301",
			"{3f2504e0-4f89-41d3-9a0c-0305e82c3301}",
			"urn:uuid:3f2504e0-4f89-41d3-9a0c-0305e82c3301",
			"3F2504E0-4F89-41D3-9A0C-0305E82C3301",
			"3f2504e0-4f89-41d3-9a0c-0305e82c3301-",
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			h.client_id = bad[i];
			hh_call(&h, &r, "GET", "/v2/queues", NULL);
			expect_error(&r, 400, "Wrong UUID value",
				     "Malformed hexadecimal UUID.",
				     hh_fmt("Client-ID \"%s\"", bad[i]));
		}
		for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
			h.client_id = good[i];
			hh_call(&h, &r, "GET", "/v2/queues", NULL);
			is(r.status, 200, "Client-ID \"%s\" is accepted", good[i]);
		}
	}
	hh_client_close(&h);

	hh_client_init(&h, &srv, NULL, NULL);
	hh_call(&h, &r, "GET", "/", NULL);
	is(r.status, 300, "GET / needs no headers");
	hh_client_close(&h);

	hh_callh(&c, &r, "GET", "/v2/queues", "Accept: text/plain\r\n", NULL);
	is(r.status, 406, "Accept: text/plain is 406");
	is(r.body_len, 0, "the 406 has no body");
	hh_callh(&c, &r, "GET", "/v2/queues", "Accept: */*\r\n", NULL);
	is(r.status, 200, "Accept: */* is fine");
	hh_callh(&c, &r, "GET", "/v2/queues", "Accept: application/*\r\n", NULL);
	is(r.status, 200, "Accept: application/* is fine");
}

static void routing(void)
{
	static const char *unknown[] = {
		"/v2/queues/q/bogus", "/v3/", "/v2/queues/q/messages/m/extra",
		"/nope", "/v2/queue", "/v2/queues/q/claims/c/x",
	};

	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		hh_call(&c, &r, "GET", unknown[i], NULL);
		expect_error(&r, 404, "404 Not Found", NULL,
			     hh_fmt("GET %s", unknown[i]));
	}
	hh_call(&c, &r, "PUT", "/v2/queues/q/stats", "");
	expect_error(&r, 405, "405 Method Not Allowed", NULL, "PUT on stats");
	ok(hh_header_has(&r, "allow", "GET"), "405 Allow lists GET (%s)",
	   hh_header(&r, "allow") ? hh_header(&r, "allow") : "none");
	ok(!hh_header_has(&r, "allow", "PUT"), "405 Allow does not list PUT");
	hh_call(&c, &r, "DELETE", "/v2/queues", NULL);
	expect_error(&r, 405, "405 Method Not Allowed", NULL, "DELETE /v2/queues");
	hh_call(&c, &r, "POST", "/v2/queues/q/messages/" HH_NO_SUCH_ID, "{}");
	expect_error(&r, 405, "405 Method Not Allowed", NULL, "POST on a message");
	ok(hh_header_has(&r, "allow", "GET") && hh_header_has(&r, "allow", "DELETE"),
	   "Allow of a message: GET, DELETE (%s)",
	   hh_header(&r, "allow") ? hh_header(&r, "allow") : "none");
	hh_call(&c, &r, "BREW", "/v2/queues", NULL);
	ok((r.status >= 400 && r.status < 500) || r.status == 501 ||
		   (r.status == -1 && !r.timed_out),
	   "an unknown method is a 4xx, 501 or a close (got %d)", r.status);
	alive("an unknown method");
	hh_call(&c, &r, "OPTIONS", "/v2/queues/q", NULL);
	is(r.status, 200, "OPTIONS is 200");
	ok(hh_header_has(&r, "allow", "GET") && hh_header_has(&r, "allow", "PUT") &&
		   hh_header_has(&r, "allow", "PATCH") && hh_header_has(&r, "allow", "DELETE"),
	   "OPTIONS Allow of a v2 queue (%s)",
	   hh_header(&r, "allow") ? hh_header(&r, "allow") : "none");
	is(r.body_len, 0, "OPTIONS has an empty body");
}

static void bad_json(void)
{
	static const char *bodies[] = {
		"{\"messages\": [{\"body\": 1, \"ttl\": 1e30}]}",
		"{\"messages\": [{\"body\": 1, \"ttl\": 99999999999999999999}]}",
		"{\"messages\": [{\"body\": 1, \"ttl\": -5}]}",
		"{\"messages\": [{\"body\": 1, \"ttl\": 60.5}]}",
		"{\"messages\": [{\"body\": 1, \"ttl\": true}]}",
		"{\"messages\": \"x\"}",
		"{\"messages\": null}",
		"{\"messages\": [null]}",
		"{\"messages\": [[1]]}",
		"null",
		"42",
		"\"str\"",
		"{",
		"}{",
		"{\"messages\": [{\"body\": 1}]} trailing",
		"{\"messages\": [{\"body\": 1}],}",
		"{'messages': []}",
		"{\"messages\": [{\"body\": \"\\ud800\"}]}",
	};
	static const char nonutf8[] = "{\"messages\": [{\"body\": \"\xff\xfe\xc3\"}]}";
	static const char nul[] = "{\"messages\": [{\"body\": \"a\0b\"}]}";

	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		hh_call(&c, &r, "POST", "/v2/queues/bj/messages", bodies[i]);
		expect_4xx(&r, 400, hh_fmt("post %s", bodies[i]));
	}
	hh_callb(&c, &r, "POST", "/v2/queues/bj/messages", NULL, nonutf8,
		 sizeof(nonutf8) - 1);
	expect_4xx(&r, 400, "post a body that is not UTF-8");
	hh_callb(&c, &r, "POST", "/v2/queues/bj/messages", NULL, nul,
		 sizeof(nul) - 1);
	expect_4xx(&r, 400, "post a body with a raw NUL byte");
	hh_call(&c, &r, "POST", "/v2/queues/bj/claims", "{\"ttl\": 1e30}");
	expect_4xx(&r, 400, "claim ttl 1e30");
	hh_call(&c, &r, "POST", "/v2/queues/bj/claims", "{\"ttl\": 99999999999999999999}");
	expect_4xx(&r, 400, "claim ttl 99999999999999999999");
	hh_call(&c, &r, "POST", "/v2/queues/bj/claims", "{\"ttl\": -1, \"grace\": -1}");
	expect_4xx(&r, 400, "claim ttl -1");
	hh_call(&c, &r, "PUT", "/v2/queues/bj", "{\"_default_message_ttl\": 1e30}");
	expect_4xx(&r, 400, "PUT _default_message_ttl 1e30");
	hh_call(&c, &r, "PUT", "/v2/queues/bj",
		"{\"_default_message_ttl\": 99999999999999999999}");
	expect_4xx(&r, 400, "PUT _default_message_ttl 99999999999999999999");
	{
		/* deeply nested JSON must not blow the stack */
		size_t depth = 100000;
		char *deep = malloc(2 * depth + 64);
		size_t n = 0;
		int head;

		if (!deep)
			bail_out("out of memory");
		head = sprintf(deep, "{\"messages\": [{\"body\": ");
		if (head < 0)
			bail_out("sprintf failed");
		n += (size_t)head;
		memset(deep + n, '[', depth);
		n += depth;
		memset(deep + n, ']', depth);
		n += depth;
		strcpy(deep + n, "}]}");
		hh_call(&c, &r, "POST", "/v2/queues/bj/messages", deep);
		ok(r.status == 201 || (r.status >= 400 && r.status < 500),
		   "a body nested 100000 deep is refused or stored (got %d)", r.status);
		free(deep);
		alive("deeply nested JSON");
	}
	hh_call(&c, &r, "GET", "/v2/queues/bj/stats", NULL);
	ok(hh_geti(r.json, "messages.total") <= 1,
	   "refused posts stored nothing (total %lld)", hh_geti(r.json, "messages.total"));
}

/* A request libwebsockets refuses before Herald runs: a 4xx or a close,
 * never a hang; its body is lws's, not Herald's JSON (a known gap). */
static void lws_refused(const struct hh_resp *resp, const char *name)
{
	ok((resp->status >= 400 && resp->status < 500) ||
		   (resp->status == -1 && !resp->timed_out),
	   "%s: refused with a 4xx or a close (got %d)", name, resp->status);
	todo_start("libwebsockets 4.1 answers undecodable URLs itself");
	ok(json_is_string(hh_get(resp->json, "title")) &&
		   json_is_string(hh_get(resp->json, "description")),
	   "%s: JSON error body with title and description", name);
	todo_end();
}

static void bad_query(void)
{
	static const char *limits[] = {
		"99999999999999999999", "-1", "-99999999999999999999", "1e3",
		"0x10", "", "5abc", "%35",
	};

	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		hh_call(&c, &r, "GET", hh_fmt("/v2/queues/bq/messages?limit=%s", limits[i]), NULL);
		if (limits[i][0] == '\0' || strcmp(limits[i], "%35") == 0)
			is(r.status, 200, "list limit=%s is fine", limits[i]);
		else
			expect_4xx(&r, 400, hh_fmt("list limit=%s", limits[i]));
	}
	hh_call(&c, &r, "POST", "/v2/queues/bq/claims?limit=99999999999999999999", "{}");
	expect_4xx(&r, 400, "claim limit=99999999999999999999");
	hh_call(&c, &r, "DELETE", "/v2/queues/bq/messages?pop=-3", NULL);
	expect_4xx(&r, 400, "pop=-3");
	hh_call(&c, &r, "DELETE", "/v2/queues/bq/messages?pop=99999999999999999999", NULL);
	expect_4xx(&r, 400, "pop=99999999999999999999");
	hh_call(&c, &r, "GET", "/v2/queues?limit=99999999999999999999", NULL);
	expect_4xx(&r, 400, "queue list limit=99999999999999999999");

	/*
	 * libwebsockets 4.1 refuses a request line it cannot decode itself,
	 * before Herald sees it: 403 with its own HTML page, or (%00) a
	 * closed connection. The refusal is checked; the JSON body is a
	 * known gap (docs/api.md, "What the HTTP layer refuses").
	 */
	hh_call(&c, &r, "GET", "/v2/queues/bq/messages?limit=%zz", NULL);
	lws_refused(&r, "bad percent-encoding in the query");
	hh_call(&c, &r, "GET", "/v2/queues/bq/messages?limit=%", NULL);
	lws_refused(&r, "a lone % in the query");
	hh_call(&c, &r, "GET", "/v2/queues/q%zz/messages", NULL);
	lws_refused(&r, "bad percent-encoding in the path");
	hh_call(&c, &r, "GET", "/v2/queues/q%/messages", NULL);
	lws_refused(&r, "a lone % in the path");
	hh_call(&c, &r, "PUT", "/v2/queues/q%00x", "");
	lws_refused(&r, "%00 in the queue name");
	hh_call(&c, &r, "PUT", "/v2/queues/q%2Fx", "");
	ok(r.status >= 400 && r.status < 500 && json_is_string(hh_get(r.json, "title")),
	   "%%2F in the queue name: a 4xx with a JSON title (got %d)", r.status);
	hh_call(&c, &r, "PUT", "/v2/queues/%71ok", "");
	ok(r.status == 201 || r.status == 400,
	   "a percent-encoded valid name is 201 or 400 (got %d)", r.status);
	hh_call(&c, &r, "GET", "/v2/queues/../../etc/passwd", NULL);
	ok(r.status == 404 || r.status == 400 || r.status == 403,
	   "a path with .. is refused (got %d)", r.status);
	hh_call(&c, &r, "GET",
		"/v2/queues/bq/messages?ids=%zz," HH_NO_SUCH_ID, NULL);
	ok(r.status >= 400 && r.status < 500, "bad percent-encoding in ids (got %d)", r.status);
	alive("bad percent-encoding");
}

static void sizes(void)
{
	char *big;
	size_t n = 262145;

	hh_call(&c, &r, "POST", "/v2/queues/sz/messages", "{\"messages\": []}");
	expect_error(&r, 400, "Invalid API request", "No messages to enqueu.",
		     "an empty batch");
	big = malloc(n + 1);
	memset(big, ' ', n);
	memcpy(big, "{\"messages\": [{\"body\": 1}]}", 27);
	big[n] = '\0';
	hh_call(&c, &r, "POST", "/v2/queues/sz/messages", big);
	expect_error(&r, 400, "Invalid API request",
		     "Message collection size is too large. Max size 262144",
		     "a 262145-byte batch (mostly whitespace)");
	free(big);
	{
		/* many tiny messages: the byte size is what counts */
		size_t cap = 262144, len = 0;
		char *s = malloc(cap + 1);

		len += (size_t)sprintf(s, "{\"messages\": [");
		while (len + 32 < cap - 4)
			len += (size_t)sprintf(s + len, "{\"body\": 1},");
		s[len - 1] = ']';
		s[len++] = '}';
		s[len] = '\0';
		hh_call(&c, &r, "POST", "/v2/queues/sz/messages", s);
		is(r.status, 201, "a batch of ~23000 tiny messages under 256 KiB is accepted");
		free(s);
	}
	hh_call(&c, &r, "GET", "/v2/queues/sz/stats", NULL);
	ok(hh_geti(r.json, "messages.total") > 20000, "they are all there (%lld)",
	   hh_geti(r.json, "messages.total"));
	hh_call(&c, &r, "DELETE", "/v2/queues/sz", NULL);
	is(r.status, 204, "delete the big queue");
	hh_call(&c, &r, "GET", "/v2/queues/sz/stats", NULL);
	is(hh_geti(r.json, "messages.total"), 0, "the big queue is gone");
}

/* Raw requests on a fresh connection; the server must answer or close. */
static void raw(void)
{
	struct hh_client x;
	const char *hdr = "Host: x\r\nClient-ID: " HH_CLIENT_A "\r\nX-Project-Id: projE\r\n";

	hh_client_init(&x, &srv, NULL, NULL);
	{
		const char *req = hh_fmt("POST /v2/queues/raw/messages HTTP/1.1\r\n%s"
					 "Content-Type: application/json\r\n\r\n", hdr);

		hh_send(&x, req, strlen(req));
	}
	hh_recv(&x, &r, false);
	/* The brief says 411; zaqar-api.md §3 says Zaqar answers 400
	 * "Request body can not be empty" when there is no Content-Length. */
	ok(r.status == 411 ||
		   (r.status == 400 &&
		    hh_gets(r.json, "description") != NULL &&
		    strcmp(hh_gets(r.json, "description"),
			   "Request body can not be empty") == 0),
	   "POST without Content-Length: 411, or 400 \"Request body can not be empty\" (got %d)",
	   r.status);
	expect_4xx(&r, r.status == 400 ? 400 : 411, "POST without Content-Length");
	hh_client_close(&x);

	hh_client_init(&x, &srv, NULL, NULL);
	{
		const char *req = hh_fmt("POST /v2/queues/raw/messages HTTP/1.1\r\n%s"
					 "Content-Type: application/json\r\n"
					 "Transfer-Encoding: chunked\r\n\r\n"
					 "1c\r\n{\"messages\": [{\"body\": 1}]}\r\n0\r\n\r\n", hdr);

		hh_send(&x, req, strlen(req));
		hh_recv(&x, &r, false);
		expect_4xx(&r, 411, "POST with Transfer-Encoding: chunked");
	}
	hh_client_close(&x);
	hh_call(&c, &r, "GET", "/v2/queues/raw/stats", NULL);
	is(hh_geti(r.json, "messages.total"), 0, "neither stored a message");

	/*
	 * Pipelining (issue #9: every committed write answered, none
	 * answered uncommitted). lws 4.1 cannot read a request with a body
	 * out of the bytes it buffered behind another (http.c's design
	 * comment): what follows a body is not started, and the request
	 * before is answered with Connection: close; a request with a body
	 * behind one without is refused unread (503). Bodiless requests are
	 * served in order.
	 */
	hh_client_init(&x, &srv, NULL, NULL);
	{
		const char *body = "{\"messages\": [{\"body\": \"piped\"}]}";
		const char *req = hh_fmt(
			"GET /v2/queues/raw/stats HTTP/1.1\r\n%s\r\n"
			"POST /v2/queues/raw/messages HTTP/1.1\r\n%s"
			"Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
			hdr, hdr, strlen(body), body);
		int s1, s2;

		hh_send(&x, req, strlen(req));
		s1 = hh_recv(&x, &r, false);
		is(s1, 200, "pipelined GET, then a POST: the GET is answered");
		s2 = x.fd >= 0 ? hh_recv(&x, &r, false) : -1;
		expect_4xx(&r, 503, "the POST behind it");
		ok(r.closed, "the connection closes after the refusal");
		hh_call(&c, &r, "GET", "/v2/queues/raw/stats", NULL);
		is(hh_geti(r.json, "messages.total"), 0,
		   "the refused POST stored nothing (got %d for it)", s2);
	}
	hh_client_close(&x);

	hh_client_init(&x, &srv, NULL, NULL);
	{
		const char *one = hh_fmt("GET /v2/queues/raw/stats HTTP/1.1\r\n%s\r\n", hdr);
		char three[4096];

		snprintf(three, sizeof(three), "%s%s%s", one, one, one);
		hh_send(&x, three, strlen(three));
		is(hh_recv(&x, &r, false), 200, "three pipelined GETs: the first is answered");
		is(x.fd >= 0 ? hh_recv(&x, &r, false) : -1, 200, "the second too");
		is(x.fd >= 0 ? hh_recv(&x, &r, false) : -1, 200, "the third too");
		ok(!r.closed, "and the connection stays open");
	}
	hh_client_close(&x);

	/* two POSTs with bodies in one write (one send()) */
	hh_client_init(&x, &srv, NULL, NULL);
	{
		const char *body = "{\"messages\": [{\"body\": \"p2\"}]}";
		const char *one = hh_fmt("POST /v2/queues/raw2/messages HTTP/1.1\r\n%s"
					 "Content-Length: %zu\r\n\r\n%s", hdr, strlen(body), body);
		char both[4096];
		long long stored;
		int s1, s2, answered;

		snprintf(both, sizeof(both), "%s%s", one, one);
		hh_send(&x, both, strlen(both));
		s1 = hh_recv(&x, &r, false);
		is(s1, 201, "first of two pipelined POSTs is answered");
		ok(hh_header_has(&r, "connection", "close"),
		   "with Connection: close (the second is not processed)");
		s2 = x.fd >= 0 ? hh_recv(&x, &r, false) : -1;
		is(s2, -1, "the second gets no answer: the connection closed");
		ok(!r.timed_out, "(closed, not left hanging)");
		hh_call(&c, &r, "GET", "/v2/queues/raw2/stats", NULL);
		stored = hh_geti(r.json, "messages.total");
		answered = (s1 == 201) + (s2 == 201);
		is(stored, answered, "no unanswered post was stored "
		   "(%lld stored, %d answered)", stored, answered);
		/* The client sends what was not answered again. */
		hh_client_close(&x);
		hh_client_init(&x, &srv, NULL, NULL);
		hh_send(&x, one, strlen(one));
		is(hh_recv(&x, &r, false), 201, "the retried second POST is answered");
		hh_call(&c, &r, "GET", "/v2/queues/raw2/stats", NULL);
		is(hh_geti(r.json, "messages.total"), 2,
		   "two posts, two messages: the retry duplicated nothing");
	}
	hh_client_close(&x);
	alive("pipelined requests");

	/* garbage */
	{
		static const char *junk[] = {
			"HELLO\r\n\r\n",
			"GET\r\n\r\n",
			"GET /v2/ping HTTP/9.9\r\n\r\n",
			"GET /v2/ping HTTP/1.1\r\nNo colon here\r\n\r\n",
			"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
			"GET /v2/queues HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
			"POST /v2/queues/raw/messages HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
			"POST /v2/queues/raw/messages HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
			"POST /v2/queues/raw/messages HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
		};

		for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
			int st;

			hh_client_init(&x, &srv, NULL, NULL);
			/* Headers that never complete are closed by lws
			 * after twice its 5 s timeout: wait longer. */
			x.timeout_ms = 15000;
			hh_send(&x, junk[i], strlen(junk[i]));
			st = hh_recv(&x, &r, false);
			ok((st >= 400 && st < 500) || (st == -1 && !r.timed_out),
			   "garbage #%zu gets a 4xx or a close (got %d)", i, st);
			hh_client_close(&x);
		}
	}
	alive("garbage requests");

	/*
	 * Header sizes. The request line and headers may take 16384 bytes
	 * (HUB_MAX_HEADER_DATA; it used to be set where lws ignores it, and
	 * 4,100 bytes got a closed connection). Past it lws closes the
	 * connection without an answer ("Ran out of header data space" in
	 * the log): it never hands the request on, so no 431 can be sent.
	 */
	{
		static const size_t sizes[] = {4100, 10000};

		for (size_t i = 0; i < 2; i++) {
			char *req = malloc(sizes[i] + 512);
			int len = sprintf(req, "GET /v2/queues/raw/stats HTTP/1.1\r\n"
					  "%sX-Filler: ", hdr);

			memset(req + len, 'a', sizes[i]);
			strcpy(req + len + sizes[i], "\r\n\r\n");
			hh_client_init(&x, &srv, NULL, NULL);
			hh_send(&x, req, strlen(req));
			is(hh_recv(&x, &r, false), 200, "a %zu-byte header is served",
			   sizes[i]);
			hh_client_close(&x);
			free(req);
		}
	}
	{
		char *req = malloc(9000 + 512);
		int len = sprintf(req, "GET /v2/queues/raw/messages?pad=");

		memset(req + len, 'b', 9000);
		sprintf(req + len + 9000, "&limit=abc HTTP/1.1\r\n%s\r\n", hdr);
		hh_client_init(&x, &srv, NULL, NULL);
		hh_send(&x, req, strlen(req));
		hh_recv(&x, &r, false);
		expect_4xx(&r, 400, "a 9000-byte query value, then limit=abc: "
			   "the parameter after it is read");
		hh_client_close(&x);
		free(req);
	}
	hh_client_init(&x, &srv, NULL, NULL);
	{
		size_t n = 17000;
		char *req = malloc(n + 256);
		int len = sprintf(req, "GET /v2/queues HTTP/1.1\r\n%sX-Big: ", hdr);

		memset(req + len, 'a', n);
		strcpy(req + len + n, "\r\n\r\n");
		hh_send(&x, req, strlen(req));
		is(hh_recv(&x, &r, false), -1,
		   "a 17000-byte header gets no answer (lws closes)");
		ok(!r.timed_out, "the connection is closed, not left open");
		free(req);
	}
	hh_client_close(&x);

	/* a header far too large */
	hh_client_init(&x, &srv, NULL, NULL);
	{
		size_t n = 200000;
		char *req = malloc(n + 256);
		int st;

		strcpy(req, "GET /v2/queues HTTP/1.1\r\nX-Big: ");
		memset(req + strlen(req), 'a', n);
		strcpy(req + strlen("GET /v2/queues HTTP/1.1\r\nX-Big: ") + n, "\r\n\r\n");
		hh_send(&x, req, strlen(req));
		st = hh_recv(&x, &r, false);
		ok((st >= 400 && st < 500) || (st == -1 && !r.timed_out),
		   "a 200 KB header gets a 4xx or a close (got %d)", st);
		free(req);
	}
	hh_client_close(&x);

	/* a body cut short, then the client goes away */
	hh_client_init(&x, &srv, NULL, NULL);
	{
		const char *req = hh_fmt("POST /v2/queues/raw3/messages HTTP/1.1\r\n%s"
					 "Content-Length: 100\r\n\r\n{\"messages\": [", hdr);

		hh_send(&x, req, strlen(req));
	}
	hh_client_close(&x);
	/* a body cut short, the client waits: the server must not spin */
	hh_client_init(&x, &srv, NULL, NULL);
	x.timeout_ms = 1500;
	{
		const char *req = hh_fmt("POST /v2/queues/raw3/messages HTTP/1.1\r\n%s"
					 "Content-Length: 100\r\n\r\n{\"messages\": [", hdr);

		hh_send(&x, req, strlen(req));
		hh_recv(&x, &r, false);
		ok(r.status == -1 || r.status == 400 || r.status == 408,
		   "a short body is waited for, or refused (got %d)", r.status);
	}
	hh_client_close(&x);
	/* a request line with no end, then close */
	hh_client_init(&x, &srv, NULL, NULL);
	hh_send(&x, "GET /v2/queues/raw HTTP/1.1\r\nHost: x\r\n", 39);
	hh_client_close(&x);
	hh_call(&c, &r, "GET", "/v2/queues/raw3/stats", NULL);
	is(hh_geti(r.json, "messages.total"), 0, "truncated posts stored nothing");
	alive("truncated requests");

	/* many connections opened and dropped */
	for (int i = 0; i < 200; i++) {
		hh_client_init(&x, &srv, NULL, NULL);
		hh_send(&x, "GET /v2/ping HTTP/1.1\r\n", 23);
		hh_client_close(&x);
	}
	alive("200 dropped connections");
}

static void keepalive(void)
{
	struct hh_client k;
	int good = 0;

	hh_client_init(&k, &srv, HH_CLIENT_A, "projE");
	for (int i = 0; i < 300; i++) {
		switch (i % 4) {
		case 0:
			hh_call(&k, &r, "POST", "/v2/queues/ka/messages",
				"{\"messages\": [{\"body\": 1}]}");
			good += r.status == 201;
			break;
		case 1:
			hh_call(&k, &r, "GET", "/v2/queues/ka/messages?echo=true&limit=1", NULL);
			good += r.status == 200;
			break;
		case 2:
			hh_call(&k, &r, "GET", "/v2/queues/nope/bogus", NULL);
			good += r.status == 404;
			break;
		default:
			hh_call(&k, &r, "HEAD", "/v2/ping", NULL);
			good += r.status == 204;
			break;
		}
	}
	is(good, 300, "300 mixed requests on one connection all answered right");
	is(k.connects, 1, "they all went over one connection");
	hh_call(&k, &r, "POST", "/v2/queues/ka/messages", "{\"messages\": [{\"ttl\": 1}]}");
	is(r.status, 400, "an error response keeps the connection...");
	hh_call(&k, &r, "GET", "/v2/queues/ka/stats", NULL);
	is(hh_geti(r.json, "messages.total"), 75, "...and the next request works");
	is(k.connects, 1, "still one connection");
	{
		/*
		 * Issue #9: ws_bench reported a committed post "failed" under
		 * fan-out load. The server had answered it; the bench's
		 * client gave up on an answer head over 8 KiB and closed
		 * (the server's log: "ended without an answer ... the client
		 * closed the connection (status 201, 0 of 27123 body bytes
		 * sent)"). A post of many messages has such a head - its
		 * Location lists every id - and must arrive whole.
		 */
		char *big = malloc(500 * 16 + 64);
		size_t len = (size_t)sprintf(big, "{\"messages\": [");

		for (int i = 0; i < 500; i++)
			len += (size_t)sprintf(big + len, "%s{\"body\": %d}",
					       i ? ", " : "", i);
		sprintf(big + len, "]}");
		hh_call(&k, &r, "POST", "/v2/queues/ka/messages", big);
		is(r.status, 201, "a post of 500 messages is answered");
		ok(hh_header(&r, "location") &&
			   strlen(hh_header(&r, "location")) > 8192,
		   "its head is over 8 KiB (Location: %zu bytes)",
		   hh_header(&r, "location") ? strlen(hh_header(&r, "location")) : 0);
		is(hh_len(r.json, "resources"), 500, "with all 500 ids in its body");
		hh_call(&k, &r, "GET", "/v2/queues/ka/stats", NULL);
		is(hh_geti(r.json, "messages.total"), 575, "the next request on the "
		   "connection works");
		is(k.connects, 1, "one connection still");
		free(big);
	}
	hh_callh(&k, &r, "GET", "/v2/ping", "Connection: close\r\n", NULL);
	is(r.status, 204, "a request with Connection: close is answered");
	ok(r.closed || hh_wait_closed(&k), "and the server closes the connection");
	hh_client_close(&k);
}

int main(void)
{
	hh_start(&srv, NULL);
	hh_client_init(&c, &srv, HH_CLIENT_A, "projE");

	headers();
	routing();
	bad_json();
	bad_query();
	sizes();
	raw();
	keepalive();

	hh_resp_free(&r);
	hh_client_close(&c);
	return hh_finish(&srv);
}
