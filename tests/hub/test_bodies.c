/*
 * test_bodies.c - a message body comes back as the bytes it was posted
 * as (docs/api.md, "Message bodies"): through a listing, a get by id, a
 * get by ids, a claim and its get, the SSE events and the stream URL's
 * frames. JSON's line breaks and tabs between tokens become spaces; what
 * jansson refuses (integers beyond 64 bits, reals beyond a double,
 * \u0000) is a 400 as before. A post of exactly the size limit is taken,
 * one byte more refused.
 */
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "wsc.h"

#define IDENT "client_id=" HH_CLIENT_B "&project_id=bodies"
#define POST_MAX 262144 /* the default max-messages-post-size */

/* Each body as posted, and as it is stored and answered. */
static const struct {
	const char *posted, *stored, *what;
} bodies[] = {
	{"{\"a\": 1,   \"b\" :[ 1 , 2 ] ,\"c\":{ }, \"d\":\"x  y\"}", NULL,
	 "an object with odd spacing"},
	{"\"\\u00e9t\\u00e9 \\ud83d\\ude00 \\\" \\\\ \\/ \\n\"", NULL,
	 "a string of escapes: \\u, a surrogate pair, \\/"},
	{"\"caf\xc3\xa9 \xf0\x9f\x98\x80\"", NULL, "raw UTF-8"},
	{"1.10", NULL, "a real with a trailing zero"},
	{"1E+2", NULL, "a real in exponent form"},
	{"-0", NULL, "minus zero"},
	{"9223372036854775807", NULL, "the largest 64-bit integer"},
	{"-9223372036854775808", NULL, "the smallest 64-bit integer"},
	{"[true,false , null]", NULL, "literals"},
	{"{\"k\":\n\t[1,\r\n 2]}", "{\"k\":  [1,   2]}",
	 "line breaks and tabs: spaces, one for one"},
};
#define N_BODIES (sizeof(bodies) / sizeof(*bodies))

static const char *stored(size_t i)
{
	return bodies[i].stored ? bodies[i].stored : bodies[i].posted;
}

/* How many of the bodies `text` holds as `"body": <stored>` followed by
 * `end` (the byte after the body in that shape). */
static size_t found_in(const char *text, const char *end)
{
	size_t n = 0;

	for (size_t i = 0; i < N_BODIES; i++)
		n += strstr(text, hh_fmt("\"body\": %s%s", stored(i), end)) !=
		     NULL;
	return n;
}

static void post_all(struct hh_client *c, const char *queue, char *ids,
		     size_t len)
{
	struct hh_resp r = HH_RESP_INIT;
	char doc[4096] = "{\"messages\": [";

	for (size_t i = 0; i < N_BODIES; i++)
		snprintf(doc + strlen(doc), sizeof(doc) - strlen(doc),
			 "%s{\"ttl\": 300, \"body\": %s}", i ? ", " : "",
			 bodies[i].posted);
	strcat(doc, "]}");
	hh_call(c, &r, "POST", hh_fmt("/v2/queues/%s/messages", queue), doc);
	if (r.status != 201)
		bail_out("post: %d %s", r.status, r.body);
	hh_copy(ids, len, hh_resource_ids(&r));
	hh_resp_free(&r);
}

static void http_reads(struct hh_client *c)
{
	struct hh_resp r = HH_RESP_INIT;
	char ids[2048], first[64];
	size_t n;

	post_all(c, "q", ids, sizeof(ids));
	hh_copy(first, sizeof(first), ids);
	if (strchr(first, ','))
		*strchr(first, ',') = '\0';

	hh_call(c, &r, "GET", "/v2/queues/q/messages?echo=true&limit=20", NULL);
	is(r.status, 200, "the listing answers 200");
	is(hh_len(r.json, "messages"), (long long)N_BODIES,
	   "with every message, as JSON a client parses");
	n = found_in(r.body, "}");
	is(n, N_BODIES, "a listing has every body byte for byte (%zu of %zu)",
	   n, N_BODIES);
	for (size_t i = 0; i < N_BODIES; i++)
		if (!strstr(r.body, hh_fmt("\"body\": %s}", stored(i))))
			diag("missing: %s: %s", bodies[i].what, stored(i));

	hh_call(c, &r, "GET", hh_fmt("/v2/queues/q/messages/%s", first), NULL);
	is(r.status, 200, "a get by id answers 200");
	ok(strstr(r.body, hh_fmt("\"body\": %s}", stored(0))) != NULL,
	   "with the body as posted (%s)", bodies[0].what);

	hh_call(c, &r, "GET", hh_fmt("/v2/queues/q/messages?ids=%s", ids), NULL);
	is(r.status, 200, "a get by ids answers 200");
	is(found_in(r.body, "}"), N_BODIES, "with every body byte for byte");

	hh_call(c, &r, "POST", "/v2/queues/q/claims?limit=20",
		"{\"ttl\": 60, \"grace\": 60}");
	is(r.status, 201, "a claim answers 201");
	is(found_in(r.body, "}"), N_BODIES,
	   "with every claimed body byte for byte");
	{
		const char *loc = hh_header(&r, "Location");
		char path[256];

		hh_copy(path, sizeof(path), loc);
		hh_call(c, &r, "GET", path, NULL);
		is(r.status, 200, "the claim's get answers 200");
		is(found_in(r.body, "}"), N_BODIES,
		   "with every body byte for byte");
		ok(hh_geti(r.json, "ttl") == 60 && hh_gets(r.json, "href"),
		   "and its age, ttl and href as before");
	}
	hh_resp_free(&r);
}

static void live_reads(const struct hh_server *srv, struct hh_client *c)
{
	const char *req = "GET /v2/queues/live/events?" IDENT " HTTP/1.1\r\n"
			  "Host: t\r\nAccept: text/event-stream\r\n\r\n";
	const char *last = hh_fmt("\"body\": %s}", stored(N_BODIES - 1));
	struct hh_client sse;
	struct wsc w;
	char *events = NULL, frames[16384] = "", *t, ids[2048];
	size_t len = 0;

	hh_client_init(&sse, srv, NULL, NULL);
	if (hh_send(&sse, req, strlen(req)) != 0)
		bail_out("cannot open the event stream");
	ok(hh_read_until(sse.fd, &events, &len, "\r\n\r\n", 5000),
	   "an event stream");
	ok(wsc_open(&w, srv, "/v2/queues/live/stream?" IDENT, NULL),
	   "and a stream URL");
	post_all(c, "live", ids, sizeof(ids));
	ok(hh_read_until(sse.fd, &events, &len, last, 5000), "the events arrive");
	is(found_in(events, "}\n\n"), N_BODIES,
	   "every event's data has its body byte for byte, one line each");
	while (!strstr(frames, last) && (t = wsc_recv_text(&w, 5000))) {
		snprintf(frames + strlen(frames), sizeof(frames) - strlen(frames),
			 "%s", t);
		free(t);
	}
	is(found_in(frames, "}"), N_BODIES,
	   "the stream URL's frames have every body byte for byte");
	wsc_close(&w);
	hh_client_close(&sse);
	free(events);
}

static void refused(struct hh_client *c)
{
	static const struct {
		const char *body, *desc, *what;
	} bad[] = {
		{"123456789012345678901234567890",
		 "JSON contains integer that is too large.",
		 "an integer beyond 64 bits"},
		{"1e400", "JSON contains integer that is too large.",
		 "a real beyond a double (jansson: a numeric overflow too)"},
		{"\"a\\u0000b\"", "Request body could not be parsed.",
		 "a string with \\u0000"},
		{"01", "Request body could not be parsed.", "a leading zero"},
		{"{\"a\" 1}", "Request body could not be parsed.",
		 "an object without its colon"},
	};
	struct hh_resp r = HH_RESP_INIT;

	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		hh_call(c, &r, "POST", "/v2/queues/q/messages",
			hh_fmt("{\"messages\": [{\"ttl\": 300, \"body\": %s}]}",
			       bad[i].body));
		expect_error(&r, 400, "Invalid request body", bad[i].desc,
			     bad[i].what);
	}
	hh_call(c, &r, "POST", "/v2/queues/q/messages",
		"{\"messages\": [{\"ttl\": 300, \"body\": 1}],}");
	expect_error(&r, 400, "Invalid request body",
		     "Request body could not be parsed.",
		     "a trailing comma after the messages");
	hh_resp_free(&r);
}

/* A post of exactly `len` bytes: one message whose string body pads it. */
static char *post_of(size_t len)
{
	static const char head[] = "{\"messages\": [{\"ttl\": 300, \"body\": \"";
	static const char tail[] = "\"}]}";
	char *doc = malloc(len + 1);

	if (!doc)
		bail_out("out of memory");
	memcpy(doc, head, sizeof(head) - 1);
	memset(doc + sizeof(head) - 1, 'x', len - (sizeof(head) - 1) -
						    (sizeof(tail) - 1));
	memcpy(doc + len - (sizeof(tail) - 1), tail, sizeof(tail));
	return doc;
}

static void size_limit(struct hh_client *c)
{
	struct hh_resp r = HH_RESP_INIT;
	char *doc = post_of(POST_MAX), id[64];
	const char *body = strstr(doc, "\"x"), *at;
	size_t blen = strlen(body) - 3; /* up to "}]} */

	hh_call(c, &r, "POST", "/v2/queues/big/messages", doc);
	is(r.status, 201, "a post of exactly the size limit is taken");
	hh_copy(id, sizeof(id), hh_resource_ids(&r));
	hh_call(c, &r, "GET", hh_fmt("/v2/queues/big/messages/%s", id), NULL);
	at = r.status == 200 ? strstr(r.body, "\"body\": ") : NULL;
	ok(at && strncmp(at + 8, body, blen) == 0 && at[8 + blen] == '}',
	   "and its %zu-byte body comes back byte for byte", blen);
	free(doc);
	doc = post_of(POST_MAX + 1);
	hh_call(c, &r, "POST", "/v2/queues/big/messages", doc);
	expect_error(&r, 400, "Invalid API request",
		     "Message collection size is too large. Max size 262144",
		     "one byte more");
	free(doc);
	hh_resp_free(&r);
}

int main(void)
{
	struct hh_server srv;
	struct hh_client c;

	hh_watchdog(120);
	hh_start(&srv, NULL);
	hh_client_init(&c, &srv, HH_CLIENT_A, "bodies");
	http_reads(&c);
	live_reads(&srv, &c);
	refused(&c);
	size_limit(&c);
	hh_client_close(&c);
	return hh_finish(&srv);
}
