/*
 * test_sse.c - Server-Sent Events: GET /v2/queues/{q}/events streams the
 * backlog after a marker, then live messages; resumes after Last-Event-ID
 * with no gap and no duplicate across a reconnect; reports messages lost
 * to expiry as a gap event; takes Client-ID and project from the query
 * (EventSource cannot set headers); leaves the reader's own messages out
 * with echo=false; a gap's resume_marker, when the batch budget cuts its
 * page, resumes at exactly the next unseen message; a delayed message
 * falling due wakes the stream within a second or so; an event's data is
 * byte for byte the message object the stream URL's frames carry (both
 * are the queue's shared rendering).
 *
 * An event stream has no length, so the test reads the socket raw until
 * the events it expects have arrived (every read has a timeout).
 */
#include <poll.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "wsc.h"

/* Buffering the backlog for 20 stalled subscribers would grow the heap by
 * 20 x 20 MB; what they may cost is a batch and a partial frame each plus
 * the allocator's slack, which is noisy (glibc keeps freed 50 KB request
 * bodies and the writer thread's arena; up to 16.5 MB seen on a loaded
 * machine). The bound sits well between the two. */
#define STALLED_GROWTH_MAX_KB (64 * 1024)

struct stream {
	struct hh_client c;
	char *buf;
	size_t len;
};

/* Opens an event stream (raw request on its own connection). */
static void open_stream(struct stream *s, const struct hh_server *srv,
			const char *query, const char *extra_headers)
{
	const char *req = hh_fmt("GET /v2/queues/%s HTTP/1.1\r\nHost: t\r\n"
				 "Accept: text/event-stream\r\n%s\r\n",
				 query, extra_headers ? extra_headers : "");

	memset(s, 0, sizeof(*s));
	hh_client_init(&s->c, srv, NULL, NULL);
	if (hh_send(&s->c, req, strlen(req)) != 0)
		bail_out("cannot open the event stream");
}

/* Reads until `needle` has arrived (true) or ms pass (false). */
static bool read_until(struct stream *s, const char *needle, int ms)
{
	while (!s->buf || !memmem(s->buf, s->len, needle, strlen(needle))) {
		struct pollfd p = {.fd = s->c.fd, .events = POLLIN};
		char chunk[4096];
		ssize_t n;

		if (poll(&p, 1, ms) <= 0)
			return false;
		n = read(s->c.fd, chunk, sizeof(chunk));
		if (n <= 0)
			return false;
		s->buf = realloc(s->buf, s->len + (size_t)n + 1);
		if (!s->buf)
			bail_out("out of memory");
		memcpy(s->buf + s->len, chunk, (size_t)n);
		s->len += (size_t)n;
		s->buf[s->len] = '\0';
	}
	return true;
}

static size_t count(const struct stream *s, const char *needle)
{
	size_t n = 0;

	for (const char *p = s->buf; p && (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static void close_stream(struct stream *s)
{
	hh_client_close(&s->c);
	free(s->buf);
	memset(s, 0, sizeof(*s));
}

static void post(struct hh_client *c, const char *queue, const char *body)
{
	struct hh_resp r = HH_RESP_INIT;

	hh_call(c, &r, "POST", hh_fmt("/v2/queues/%s/messages", queue),
		hh_fmt("{\"messages\": [{\"body\": %s}]}", body));
	if (r.status != 201)
		bail_out("post to %s: %d", queue, r.status);
	hh_resp_free(&r);
}

#define ID(n) "0000000001000000000000" n /* ids of the first queue made */
#define IDENT "client_id=" HH_CLIENT_B "&project_id=sse"

static void backlog_live_resume(const struct hh_server *srv, struct hh_client *pub)
{
	struct stream s;

	post(pub, "q", "\"one\"");
	post(pub, "q", "\"two\"");
	open_stream(&s, srv, "q/events?marker=" ID("01") "&" IDENT, NULL);
	ok(read_until(&s, "HTTP/1.1 200", 5000), "the stream answers 200");
	ok(strstr(s.buf, "text/event-stream") != NULL, "as text/event-stream");
	ok(read_until(&s, "\"body\": \"two\"}\n\n", 5000),
	   "the backlog after the marker arrives");
	ok(strstr(s.buf, "\"one\"") == NULL, "not the message of the marker itself");
	ok(strstr(s.buf, "id: " ID("02") "\nevent: message\ndata: {\"id\": \"" ID("02") "\", ") != NULL,
	   "each event has the message id as its id");

	post(pub, "q", "{\"three\": 3}");
	/* Bodies go out as stored: the text they were posted as. */
	ok(read_until(&s, "{\"three\": 3}}\n\n", 5000), "a live message follows");
	close_stream(&s);

	/* The client reconnects with the last id it saw. */
	post(pub, "q", "\"four\"");
	open_stream(&s, srv, "q/events?" IDENT, "Last-Event-ID: " ID("03") "\r\n");
	ok(read_until(&s, "\"four\"}\n\n", 5000),
	   "after a reconnect with Last-Event-ID, what came meanwhile arrives");
	is(count(&s, "event: message"), 1, "exactly once: no duplicate, no gap");
	close_stream(&s);

	/* Without a marker a stream starts from now. */
	open_stream(&s, srv, "q/events?" IDENT, NULL);
	ok(read_until(&s, "HTTP/1.1 200", 5000), "a stream from now");
	post(pub, "q", "\"five\"");
	ok(read_until(&s, "\"five\"}\n\n", 5000), "gets only what comes after");
	is(count(&s, "event: message"), 1, "and nothing older");
	close_stream(&s);
}

static void echo_and_idents(const struct hh_server *srv)
{
	struct hh_client a;
	struct stream s;
	struct hh_resp r = HH_RESP_INIT;

	hh_client_init(&a, srv, HH_CLIENT_A, "sse");
	open_stream(&s, srv, "e/events?echo=false&client_id=" HH_CLIENT_A
		    "&project_id=sse", NULL);
	ok(read_until(&s, "HTTP/1.1 200", 5000), "a stream with echo=false");
	post(&a, "e", "\"mine\"");
	hh_client_close(&a);
	hh_client_init(&a, srv, HH_CLIENT_B, "sse");
	post(&a, "e", "\"theirs\"");
	ok(read_until(&s, "\"theirs\"}\n\n", 5000), "another client's message arrives");
	ok(strstr(s.buf, "\"mine\"") == NULL, "the reader's own message does not");
	close_stream(&s);

	open_stream(&s, srv, "e/events?project_id=sse", NULL);
	ok(read_until(&s, "\r\n\r\n", 5000) && strstr(s.buf, "HTTP/1.1 400"),
	   "without a Client-ID (header or client_id=) the stream is refused");
	close_stream(&s);

	/* Projects keep streams apart. */
	open_stream(&s, srv, "e/events?client_id=" HH_CLIENT_A "&project_id=other",
		    NULL);
	ok(read_until(&s, "HTTP/1.1 200", 5000), "a stream in another project");
	post(&a, "e", "\"sse-project-only\"");
	ok(!read_until(&s, "sse-project-only", 300),
	   "does not see the first project's messages");
	close_stream(&s);
	hh_resp_free(&r);
	hh_client_close(&a);
}

static void gap(struct hh_server *srv, struct hh_client *pub)
{
	struct stream s;
	struct hh_resp r = HH_RESP_INIT;
	char marker[64];

	/* A queue with one kept message, then three that expire. */
	hh_call(pub, &r, "POST", "/v2/queues/g/messages",
		"{\"messages\": [{\"body\": \"kept\", \"ttl\": 3600}]}");
	hh_copy(marker, sizeof(marker), hh_resource_ids(&r));
	hh_call(pub, &r, "POST", "/v2/queues/g/messages",
		"{\"messages\": [{\"body\": 1, \"ttl\": 60}, {\"body\": 2, \"ttl\": 60},"
		" {\"body\": 3, \"ttl\": 60}]}");
	post(pub, "g", "\"after\"");
	hh_clock_advance(srv, 61 * 1000);

	open_stream(&s, srv, hh_fmt("g/events?marker=%s&" IDENT, marker), NULL);
	ok(read_until(&s, "\"after\"}\n\n", 5000), "the stream resumes past the loss");
	ok(strstr(s.buf, "event: gap\ndata: {\"missed\": 3, \"resume_marker\": ") != NULL,
	   "with a gap event counting the 3 expired messages");
	ok(strstr(s.buf, "event: gap") < strstr(s.buf, "\"after\""),
	   "the gap comes before the messages after it");
	close_stream(&s);

	/* A marker from a deleted and re-created queue. */
	hh_call(pub, &r, "DELETE", "/v2/queues/g", NULL);
	post(pub, "g", "\"new generation\"");
	open_stream(&s, srv, hh_fmt("g/events?marker=%s&" IDENT, marker), NULL);
	ok(read_until(&s, "\"new generation\"}\n\n", 5000),
	   "a stale marker resumes at the new queue's oldest message");
	ok(strstr(s.buf, "event: gap\ndata: {\"missed\": null") != NULL,
	   "after a gap of unknown size");
	close_stream(&s);
	hh_resp_free(&r);
}

/* The id of the first event after `from` in s's bytes (static), or "". */
static const char *first_event_id(const struct stream *s, const char *from)
{
	static char id[32];
	const char *p = s->buf ? strstr(from ? from : s->buf, "id: ") : NULL;

	id[0] = '\0';
	if (p)
		sscanf(p + 4, "%31[0-9a-f]", id);
	return id;
}

/*
 * A gap whose page is cut by the ~64 KiB batch budget: its resume_marker
 * is the marker before the first message after the hole, so resuming
 * from it delivers exactly the next message not yet seen (the end of the
 * page would skip what the budget held back).
 */
static void gap_cut_by_budget(struct hh_server *srv, struct hh_client *pub)
{
	struct stream s;
	struct hh_resp r = HH_RESP_INIT;
	char kept[64], first_after[64], resume[64] = "";
	char *big = malloc(20010), *body = malloc(20100);
	const char *p;

	memset(big, 'x', 20000);
	big[0] = big[19999] = '"';
	big[20000] = '\0';
	hh_call(pub, &r, "POST", "/v2/queues/cut/messages",
		"{\"messages\": [{\"body\": \"kept\", \"ttl\": 3600}]}");
	hh_copy(kept, sizeof(kept), hh_resource_ids(&r));
	hh_call(pub, &r, "POST", "/v2/queues/cut/messages",
		"{\"messages\": [{\"body\": 1, \"ttl\": 60}, {\"body\": 2, \"ttl\": 60}]}");
	for (int i = 0; i < 8; i++) {
		snprintf(body, 20100, "{\"messages\": [{\"body\": %s, \"ttl\": 3600}]}",
			 big);
		hh_call(pub, &r, "POST", "/v2/queues/cut/messages", body);
		if (i == 0)
			hh_copy(first_after, sizeof(first_after),
				hh_resource_ids(&r));
	}
	hh_clock_advance(srv, 61 * 1000);

	open_stream(&s, srv, hh_fmt("cut/events?marker=%s&" IDENT, kept), NULL);
	ok(read_until(&s, "event: gap\ndata: ", 5000) &&
	   read_until(&s, "\"}\n\n", 5000), "a gap event on a page of large "
	   "messages");
	p = s.buf ? strstr(s.buf, "\"resume_marker\": \"") : NULL;
	if (p)
		sscanf(p + 18, "%31[0-9a-f]", resume);
	ok(strstr(s.buf ? s.buf : "", "\"missed\": 2") != NULL,
	   "counting the 2 expired messages");
	close_stream(&s);

	open_stream(&s, srv, hh_fmt("cut/events?marker=%s&" IDENT, resume), NULL);
	ok(read_until(&s, "event: message", 5000),
	   "a stream resumed from the gap's resume_marker delivers");
	is_str(first_event_id(&s, NULL), first_after,
	       "exactly the first message after the hole, next unseen");
	ok(strstr(s.buf ? s.buf : "", "event: gap") == NULL, "with no gap");
	close_stream(&s);
	free(big);
	free(body);
	hh_resp_free(&r);
}

/* A delayed message falling due wakes a stream at once, not at its
 * heartbeat: the test clock moves past the due time, and the event
 * arrives within about a second of real time. */
static void delayed_wakes(struct hh_server *srv, struct hh_client *pub)
{
	struct stream s;
	struct hh_resp r = HH_RESP_INIT;
	double t0;

	hh_call(pub, &r, "PUT", "/v2/queues/late", "{\"_default_message_delay\": 5}");
	open_stream(&s, srv, "late/events?" IDENT, NULL);
	ok(read_until(&s, "HTTP/1.1 200", 5000), "a stream on a queue with delays");
	hh_call(pub, &r, "POST", "/v2/queues/late/messages",
		"{\"messages\": [{\"body\": \"due in 5 s\"}]}");
	is(r.status, 201, "a message due in 5 s");
	ok(!read_until(&s, "event: message", 300), "is not sent before it is due");
	t0 = hh_mono_s();
	hh_clock_advance(srv, 6000);
	ok(read_until(&s, "\"due in 5 s\"}\n\n", 3000),
	   "and is sent when the clock passes its due time");
	ok(hh_mono_s() - t0 < 2.0, "within a second or two, not at the 15 s "
	   "heartbeat (%.2f s)", hh_mono_s() - t0);
	close_stream(&s);
	hh_resp_free(&r);
}

/* An idle stream gets a heartbeat comment after 15-30 s without a write
 * (the sweep runs on the test clock), and none before. */
static void heartbeat(struct hh_server *srv, struct hh_client *pub)
{
	struct stream s;
	struct hh_resp r = HH_RESP_INIT;

	hh_call(pub, &r, "PUT", "/v2/queues/quiet", "{}");
	open_stream(&s, srv, "quiet/events?" IDENT, NULL);
	ok(read_until(&s, "\r\n\r\n", 5000), "an idle stream");
	hh_clock_advance(srv, 10000);
	ok(!read_until(&s, ": ping", 1500), "no heartbeat after 10 s");
	hh_clock_advance(srv, 21000);
	ok(read_until(&s, ": ping\n\n", 3000),
	   "a heartbeat comment within 30 s of silence");
	close_stream(&s);
	hh_resp_free(&r);
}

/*
 * Subscribers that never read cost the server their socket buffers and
 * one rendered batch each, not the backlog: 20 of them under a 20 MB
 * backlog grow its heap by a few MB (buffering it would be 400 MB).
 */
static void stalled_readers(struct hh_server *srv, struct hh_client *pub)
{
	enum { N = 20 };
	struct stream s[N];
	struct hh_resp r = HH_RESP_INIT;
	long before, after;

	hh_post_bulk(pub, "warm", 100); /* malloc reaches its steady state */
	before = hh_rss_anon_kb(srv);
	for (int i = 0; i < N; i++) {
		open_stream(&s[i], srv, "slow/events?marker=&" IDENT, NULL);
		if (!read_until(&s[i], "\r\n\r\n", 5000))
			bail_out("stream %d did not start", i);
	}
	hh_post_bulk(pub, "slow", 400);
	hh_call(pub, &r, "GET", "/v2/ping", NULL);
	hh_resp_free(&r);
	after = hh_rss_anon_kb(srv);
	diag("server heap %ld KiB before, %ld KiB after 20 MB under %d "
	     "stalled subscribers", before, after, N);
	if (hh_sanitized(srv))
		skip(1, "RSS is not a measure under AddressSanitizer");
	else
		ok(before > 0 && after - before < STALLED_GROWTH_MAX_KB,
		   "stalled subscribers do not buffer the backlog (+%ld KiB)",
		   after - before);
	ok(read_until(&s[0], "id: ", 5000), "and a stalled stream still flows when read");
	for (int i = 0; i < N; i++)
		close_stream(&s[i]);
}

/* SSE and the stream URL are sent the same rendered message objects. */
static void same_bytes(const struct hh_server *srv, struct hh_client *pub)
{
	struct stream s;
	struct wsc w;
	char frames[8192] = "", *t;
	const char *at;
	int n = 0, found = 0;

	open_stream(&s, srv, "same/events?" IDENT, NULL);
	ok(read_until(&s, "HTTP/1.1 200", 5000), "an event stream");
	ok(wsc_open(&w, srv, "/v2/queues/same/stream?" IDENT, NULL),
	   "and a stream URL on the same queue");
	post(pub, "same", "{\"k\": [1, 2]}");
	post(pub, "same", "\"two\"");
	post(pub, "same", "3");
	ok(read_until(&s, "\"body\": 3}\n\n", 5000), "the events arrive");
	while (!strstr(frames, "\"body\": 3}") && (t = wsc_recv_text(&w, 5000))) {
		snprintf(frames + strlen(frames), sizeof(frames) - strlen(frames),
			 "%s", t);
		free(t);
	}
	for (at = s.buf; (at = strstr(at, "data: ")); at++) {
		const char *end = strchr(at, '\n');
		char obj[512];

		snprintf(obj, sizeof(obj), "%.*s", (int)(end - at - 6), at + 6);
		n++;
		found += strstr(frames, obj) != NULL;
	}
	ok(n == 3 && found == 3, "each event's data is byte for byte a message "
	   "object of the stream URL's frames (%d of %d)", found, n);
	wsc_close(&w);
	close_stream(&s);
}

int main(void)
{
	struct hh_server srv;
	struct hh_client pub;

	hh_watchdog(120);
	hh_start(&srv, NULL);
	hh_client_init(&pub, &srv, HH_CLIENT_A, "sse");
	backlog_live_resume(&srv, &pub);
	echo_and_idents(&srv);
	gap(&srv, &pub);
	gap_cut_by_budget(&srv, &pub);
	delayed_wakes(&srv, &pub);
	heartbeat(&srv, &pub);
	stalled_readers(&srv, &pub);
	same_bytes(&srv, &pub);
	hh_client_close(&pub);
	return hh_finish(&srv);
}
