/*
 * test_loops.c - `--loops 2`: loop 0 accepts and hands every other
 * connection to loop 1, and every transport works on either loop.
 *
 * Many connections at once, so that both loops serve some (checked with
 * herald_loop_connections_total): HTTP posts, GET by marker and claims on
 * connections of their own; WebSocket subscribers (Zaqar's subscribe)
 * that each get every message exactly once and in order, whichever loop
 * published it; SSE streams; held long-polls woken by a post made on
 * another connection (so, for half of them, on the other loop); each
 * loop's idle checks. Then SIGTERM: every loop drains and the server
 * exits 0.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "wsc.h"

#define PROJECT "loops"
#define HDRS "{\"Client-ID\": \"" HH_CLIENT_A "\", \"X-Project-ID\": \"" PROJECT "\"}"
#define N_HTTP 6
#define N_WS 8
#define N_SSE 4
#define N_POLL 4
#define MSGS 60
#define PER_POST 5

#define S(x) ((x) ? (x) : "")

/* ------------------------------------------------------------- helpers */

struct got {
	char ids[MSGS + 8][32];
	long long seq[MSGS + 8];
	size_t n;
	int gaps;
	bool bad_order;
};

/* Reads subscription frames until `want` messages came or a read times
 * out. */
static void got_frames(struct wsc *w, struct got *g, size_t want)
{
	while (g->n < want) {
		json_t *f = wsc_recv(w, 5000), *m;
		const char *ev = hh_gets(f, "event");
		size_t i;

		if (!f)
			return;
		if (ev && strcmp(ev, "gap") == 0)
			g->gaps++;
		json_array_foreach(json_object_get(f, "messages"), i, m) {
			const char *id = hh_gets(m, "id");

			if (g->n == MSGS + 8)
				break;
			if (g->n && strcmp(g->ids[g->n - 1], S(id)) >= 0)
				g->bad_order = true;
			hh_copy(g->ids[g->n], 32, id);
			g->seq[g->n++] = hh_geti(m, "body.seq");
		}
		json_decref(f);
	}
}

/* Whether an SSE stream's bytes hold the message of seq n. */
static bool has_seq(const char *buf, int n)
{
	return buf && (strstr(buf, hh_fmt("\"seq\":%d}", n)) ||
		       strstr(buf, hh_fmt("\"seq\": %d}", n)));
}

/* The value of herald_loop_connections_total{loop="i"}, or -1. */
static long long loop_connections(struct hh_client *c, unsigned i)
{
	struct hh_resp r = HH_RESP_INIT;
	const char *key = hh_fmt("herald_loop_connections_total{loop=\"%u\"} ", i);
	const char *at;
	long long v = -1;

	if (hh_call(c, &r, "GET", "/metrics", NULL) == 200 &&
	    (at = strstr(r.body, key)))
		v = atoll(at + strlen(key));
	else
		diag("GET /metrics: %d, no %s", r.status, key);
	hh_resp_free(&r);
	return v;
}

/* -------------------------------------------------------------- tests */

/* POST, GET by marker and claims, each client on its own connection. */
static void http_on_both(struct hh_server *srv)
{
	struct hh_client c[N_HTTP];
	struct hh_resp r = HH_RESP_INIT;
	int posted = 0, listed = 0, claimed = 0;

	for (int i = 0; i < N_HTTP; i++)
		hh_client_init(&c[i], srv, HH_CLIENT_A, PROJECT);
	hh_call(&c[0], &r, "PUT", "/v2/queues/work", "");
	for (int i = 0; i < N_HTTP; i++) {
		hh_call(&c[i], &r, "POST", "/v2/queues/work/messages",
			hh_fmt("{\"messages\": [{\"body\": {\"n\": %d}}]}", i));
		posted += r.status == 201;
	}
	is(posted, N_HTTP, "every connection's post is answered 201");
	for (int i = 0; i < N_HTTP; i++) {
		hh_callh(&c[i], &r, "GET",
			 "/v2/queues/work/messages?echo=true&limit=10", NULL,
			 NULL);
		listed += r.status == 200 &&
			  hh_len(r.json, "messages") == N_HTTP;
	}
	is(listed, N_HTTP, "every connection lists all the messages");
	{
		char path[512], first[64];

		hh_call(&c[1], &r, "GET",
			"/v2/queues/work/messages?echo=true&limit=2", NULL);
		hh_copy(first, sizeof(first), S(hh_gets(r.json, "messages.1.id")));
		hh_copy(path, sizeof(path), S(hh_gets(r.json, "links.0.href")));
		hh_call(&c[2], &r, "GET", path, NULL);
		ok(hh_len(r.json, "messages") == 2 &&
		   strcmp(S(hh_gets(r.json, "messages.0.id")), first) > 0,
		   "a marker from one connection pages on another");
	}
	for (int i = 0; i < N_HTTP; i++) {
		hh_call(&c[i], &r, "POST", "/v2/queues/work/claims?limit=1",
			"{\"ttl\": 60, \"grace\": 60}");
		claimed += r.status == 201 && hh_len(r.json, "messages") == 1;
	}
	is(claimed, N_HTTP, "claims on every connection each get one message");
	hh_call(&c[3], &r, "POST", "/v2/queues/work/claims?limit=1",
		"{\"ttl\": 60, \"grace\": 60}");
	is(r.status, 204, "and no message was claimed twice");
	hh_resp_free(&r);
	for (int i = 0; i < N_HTTP; i++)
		hh_client_close(&c[i]);
}

/* WebSocket and SSE subscribers on both loops get every message once, in
 * order, from publishers on both loops. */
static void live_on_both(struct hh_server *srv)
{
	struct wsc w[N_WS];
	struct got *g = calloc(N_WS, sizeof(*g));
	struct hh_client pub[2], sse[N_SSE];
	char *sse_buf[N_SSE] = {0};
	size_t sse_len[N_SSE] = {0};
	struct hh_resp r = HH_RESP_INIT;
	int subscribed = 0, complete = 0, in_order = 0, streams = 0;
	int sse_all = 0;

	hh_client_init(&pub[0], srv, HH_CLIENT_B, PROJECT);
	hh_client_init(&pub[1], srv, HH_CLIENT_B, PROJECT);
	hh_call(&pub[0], &r, "PUT", "/v2/queues/live", "");
	for (int i = 0; i < N_WS; i++) {
		json_t *a;

		if (!wsc_open(&w[i], srv, "/v2/ws", "herald.v1"))
			bail_out("WebSocket %d did not open", i);
		a = act(&w[i], "subscribe", HDRS,
			"{\"queue_name\": \"live\", \"from\": \"oldest\"}");
		subscribed += hh_geti(a, "headers.status") == 201;
		json_decref(a);
	}
	is(subscribed, N_WS, "every WebSocket subscribes");
	for (int i = 0; i < N_SSE; i++) {
		static const char req[] =
			"GET /v2/queues/live/events?marker=&client_id="
			HH_CLIENT_A "&project_id=" PROJECT " HTTP/1.1\r\n"
			"Host: t\r\nAccept: text/event-stream\r\n\r\n";

		hh_client_init(&sse[i], srv, NULL, NULL);
		if (hh_send(&sse[i], req, sizeof(req) - 1))
			bail_out("cannot open SSE stream %d", i);
		streams += hh_read_until(sse[i].fd, &sse_buf[i], &sse_len[i],
				      "\r\n\r\n", 5000);
	}
	is(streams, N_SSE, "every SSE stream starts");
	/* Posts alternate between two connections (so two loops). */
	for (int m = 0; m < MSGS; m += PER_POST) {
		char body[512];
		size_t len = 0;

		len += (size_t)snprintf(body + len, sizeof(body) - len,
					"{\"messages\": [");
		for (int k = 0; k < PER_POST; k++)
			len += (size_t)snprintf(body + len, sizeof(body) - len,
						"%s{\"body\": {\"seq\": %d}}",
						k ? ", " : "", m + k);
		snprintf(body + len, sizeof(body) - len, "]}");
		hh_call(&pub[(m / PER_POST) % 2], &r, "POST",
			"/v2/queues/live/messages", body);
		if (r.status != 201)
			bail_out("post %d: %d", m, r.status);
	}
	for (int i = 0; i < N_WS; i++) {
		bool ordered = !g[i].bad_order && g[i].gaps == 0;

		got_frames(&w[i], &g[i], MSGS);
		for (size_t k = 0; k < g[i].n; k++)
			ordered = ordered && g[i].seq[k] == (long long)k;
		complete += g[i].n == MSGS;
		in_order += ordered;
	}
	is(complete, N_WS, "every WebSocket subscriber got all %d messages",
	   MSGS);
	is(in_order, N_WS, "each exactly once and in order, no gap");
	for (int i = 0; i < N_SSE; i++) {
		size_t n = 0;

		while (!has_seq(sse_buf[i], MSGS - 1) &&
		       hh_read_some(sse[i].fd, &sse_buf[i], &sse_len[i], 5000))
			;
		for (int m = 0; m < MSGS; m++)
			n += has_seq(sse_buf[i], m);
		sse_all += n == MSGS;
		if (n != MSGS)
			diag("SSE %d: %zu of %d; %.300s", i, n, MSGS,
			     sse_buf[i] ? sse_buf[i] : "(nothing)");
		free(sse_buf[i]);
		hh_client_close(&sse[i]);
	}
	is(sse_all, N_SSE, "every SSE stream got all %d messages", MSGS);
	for (int i = 0; i < N_WS; i++)
		wsc_close(&w[i]);
	hh_client_close(&pub[0]);
	hh_client_close(&pub[1]);
	hh_resp_free(&r);
	free(g);
}

/* Held long-polls on both loops wake on a post from one of them. */
static void longpoll_on_both(struct hh_server *srv)
{
	struct hh_client held[N_POLL], pub;
	struct hh_resp r = HH_RESP_INIT;
	int woken = 0;

	hh_client_init(&pub, srv, HH_CLIENT_B, PROJECT);
	hh_call(&pub, &r, "PUT", "/v2/queues/poll", "");
	for (int i = 0; i < N_POLL; i++) {
		struct pollfd p;

		hh_client_init(&held[i], srv, HH_CLIENT_A, PROJECT);
		held[i].timeout_ms = 15000;
		hh_send_request(&held[i], "GET", "/v2/queues/poll/messages?wait=20",
			 NULL);
		p = (struct pollfd){.fd = held[i].fd, .events = POLLIN};
		if (poll(&p, 1, 100) != 0)
			diag("long-poll %d answered before any post", i);
	}
	hh_call(&pub, &r, "POST", "/v2/queues/poll/messages",
		"{\"messages\": [{\"body\": \"wake\"}]}");
	is(r.status, 201, "a post to the long-polled queue");
	for (int i = 0; i < N_POLL; i++) {
		woken += hh_recv(&held[i], &r, false) == 200 &&
			 strcmp(S(hh_gets(r.json, "messages.0.body")),
				"wake") == 0;
		hh_client_close(&held[i]);
	}
	is(woken, N_POLL, "every held long-poll answers with the message");
	hh_client_close(&pub);
	hh_resp_free(&r);
}

/*
 * Idle checks (the sweep of each loop, hub/transport/keepalive.h), on the
 * test's clock: a client that answers pings stays; one that never reads
 * gets a ping after 30 s of silence and is hung up after 75 s.
 */
static void keepalive_on_both(struct hh_server *srv)
{
	struct wsc talker[2], mute[2];
	unsigned char got[2][64];
	size_t got_n[2] = {0, 0};
	int pinged = 0, closed = 0, alive = 0;

	for (int i = 0; i < 2; i++) {
		if (!wsc_open(&talker[i], srv, "/v2/ws", "herald.v1") ||
		    !wsc_open(&mute[i], srv, "/v2/ws", "herald.v1"))
			bail_out("WebSocket did not open");
		/* An answer from each: the server saw it established (the
		 * 101 can arrive before it notes the time) before the clock
		 * moves. */
		json_decref(act(&talker[i], "queue_list", HDRS, "{}"));
		json_decref(act(&mute[i], "queue_list", HDRS, "{}"));
	}
	hh_clock_advance(srv, 31000);
	for (int i = 0; i < 2; i++) {
		struct pollfd p = {.fd = mute[i].fd, .events = POLLIN};
		ssize_t n;

		free(wsc_recv_text(&talker[i], 2500)); /* answers the ping */
		if (poll(&p, 1, 3000) == 1 &&
		    (n = read(mute[i].fd, got[i], sizeof(got[i]))) > 0)
			got_n[i] = (size_t)n;
		pinged += got_n[i] >= 2 && got[i][0] == 0x89;
		if (got_n[i] < 2 || got[i][0] != 0x89)
			diag("mute %d: %zu bytes, first %02x", i, got_n[i],
			     got_n[i] ? got[i][0] : 0);
	}
	is(pinged, 2, "a silent connection is pinged after 30 s (both loops)");
	hh_clock_advance(srv, 45000);
	for (int i = 0; i < 2; i++) {
		struct pollfd p = {.fd = mute[i].fd, .events = POLLIN};
		char buf[64];

		free(wsc_recv_text(&talker[i], 2500));
		closed += poll(&p, 1, 5000) == 1 &&
			  read(mute[i].fd, buf, sizeof(buf)) <= 0;
	}
	is(closed, 2, "and hung up after 75 s without an answer");
	for (int i = 0; i < 2; i++) {
		json_t *r = act(&talker[i], "queue_list", HDRS, "{}");

		alive += hh_geti(r, "headers.status") == 200;
		if (hh_geti(r, "headers.status") != 200)
			diag("talker %d: %s", i, r ? hh_dump(r) : "no answer");
		json_decref(r);
		wsc_close(&talker[i]);
		wsc_close(&mute[i]);
	}
	is(alive, 2, "a connection that answers the pings stays up");
}

static void both_loops_used(struct hh_server *srv)
{
	struct hh_client c;
	long long l0, l1;

	hh_client_init(&c, srv, HH_CLIENT_A, PROJECT);
	l0 = loop_connections(&c, 0);
	l1 = loop_connections(&c, 1);
	diag("connections: loop 0 %lld, loop 1 %lld", l0, l1);
	ok(l0 >= 10 && l1 >= 10, "both loops served connections");
	ok(l0 - l1 <= 1 && l1 - l0 <= 1, "handed out in turn");
	is(loop_connections(&c, 2), -1, "and there is no third loop");
	hh_client_close(&c);
}

int main(void)
{
	const char *const extra[] = {"--loops", "2", NULL};
	struct hh_server srv;

	hh_watchdog(120);
	hh_start(&srv, extra);
	http_on_both(&srv);
	live_on_both(&srv);
	longpoll_on_both(&srv);
	keepalive_on_both(&srv);
	both_loops_used(&srv);
	hh_restart(&srv);
	{
		struct hh_client c;

		hh_client_init(&c, &srv, HH_CLIENT_A, PROJECT);
		ok(loop_connections(&c, 1) >= 0,
		   "the server stopped cleanly and restarts with two loops");
		hh_client_close(&c);
	}
	return hh_finish(&srv);
}
