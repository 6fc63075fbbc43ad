/*
 * test_ws_shared.c - shared rendering seen from the subscribers, over the
 * real server: a queue's messages are rendered once into its shared tail
 * (hub/live/tail.c) and every caught-up subscriber is sent those bytes
 * with its own framing. Each frame carries that subscriber's subscription
 * id; echo=false hides exactly the subscriber's own client's messages; a
 * subscriber that starts in the middle of a cached batch gets exactly
 * the messages after its marker; every subscriber sees the same message
 * objects. (Catching up from the log when behind the tail: the unit test
 * tests/hub/unit/test_tail.c; SSE and the stream URL sharing the bytes:
 * test_sse.c.)
 */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "wsc.h"

#define PROJECT "shproj"
#define HDRS_A "{\"Client-ID\": \"" HH_CLIENT_A "\", \"X-Project-ID\": \"" PROJECT "\"}"
#define HDRS_B "{\"Client-ID\": \"" HH_CLIENT_B "\", \"X-Project-ID\": \"" PROJECT "\"}"

/* What one connection received, per subscription. */
struct seen {
	char sid[2][64];
	int nsubs;
	json_t *msgs[2];  /* each subscription's messages, in order */
	int foreign;      /* frames naming another subscription */
};

static const char *subscribe(struct wsc *w, const char *hdrs,
			     const char *body, char sid[64])
{
	json_t *r = act(w, "subscribe", hdrs, body);

	hh_copy(sid, 64, hh_gets(r, "body.subscription"));
	json_decref(r);
	return sid;
}

/* Reads frames until each subscription has `want` messages or a timeout. */
static void collect(struct wsc *w, struct seen *s, size_t want)
{
	for (;;) {
		bool done = true;
		json_t *f;
		int k;

		for (k = 0; k < s->nsubs; k++)
			done = done && json_array_size(s->msgs[k]) >= want;
		if (done)
			return;
		f = wsc_recv(w, 5000);
		if (!f)
			return;
		for (k = 0; k < s->nsubs; k++)
			if (strcmp(hh_gets(f, "subscription") ? hh_gets(f, "subscription") : "",
				   s->sid[k]) == 0)
				break;
		if (k == s->nsubs)
			s->foreign++;
		else
			json_array_extend(s->msgs[k], json_object_get(f, "messages"));
		json_decref(f);
	}
}

static void seen_init(struct seen *s)
{
	memset(s, 0, sizeof(*s));
	s->msgs[0] = json_array();
	s->msgs[1] = json_array();
}

static void seen_free(struct seen *s)
{
	json_decref(s->msgs[0]);
	json_decref(s->msgs[1]);
}

static void post(struct hh_client *c, const char *q, int from, int n)
{
	struct hh_resp r = HH_RESP_INIT;
	char body[4096];
	size_t len = 0;

	len += (size_t)snprintf(body, sizeof(body), "{\"messages\": [");
	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(body + len, sizeof(body) - len,
					"%s{\"body\": {\"n\": %d}, \"ttl\": 600}",
					i ? ", " : "", from + i);
	snprintf(body + len, sizeof(body) - len, "]}");
	if (hh_call(c, &r, "POST", hh_fmt("/v2/queues/%s/messages", q), body) != 201)
		diag("post to %s: %d %s", q, r.status, r.body);
	hh_resp_free(&r);
}

static bool quiet(struct wsc *w, int ms)
{
	char *t = wsc_recv_text(w, ms);

	if (t)
		diag("unexpected frame: %.200s", t);
	free(t);
	return t == NULL;
}

static void per_subscriber(struct hh_server *srv)
{
	struct hh_client pub;
	struct wsc w1, w2, late;
	struct seen s1, s2, sl;
	const char *mid;

	hh_client_init(&pub, srv, HH_CLIENT_B, PROJECT);
	seen_init(&s1);
	seen_init(&s2);
	seen_init(&sl);
	wsc_open(&w1, srv, "/v2/ws", NULL);
	wsc_open(&w2, srv, "/v2/ws", NULL);
	subscribe(&w1, HDRS_A, "{\"queue_name\": \"sh\"}", s1.sid[0]);
	subscribe(&w1, HDRS_A, "{\"queue_name\": \"sh\"}", s1.sid[1]);
	subscribe(&w2, HDRS_A, "{\"queue_name\": \"sh\"}", s2.sid[0]);
	s1.nsubs = 2;
	s2.nsubs = 1;
	post(&pub, "sh", 0, 10);
	collect(&w1, &s1, 10);
	collect(&w2, &s2, 10);
	ok(json_array_size(s1.msgs[0]) == 10 && json_array_size(s1.msgs[1]) == 10
	   && json_array_size(s2.msgs[0]) == 10,
	   "three subscriptions on two connections each get the 10 messages");
	ok(s1.foreign == 0 && s2.foreign == 0 &&
	   strcmp(s1.sid[0], s1.sid[1]) && strcmp(s1.sid[0], s2.sid[0]),
	   "every frame carries the id of its own subscription");
	ok(json_equal(s1.msgs[0], s1.msgs[1]) && json_equal(s1.msgs[0], s2.msgs[0]),
	   "and the same message objects");
	is(hh_geti(json_array_get(s2.msgs[0], 9), "body.n"), 9,
	   "in order, to the last");

	/* The 10 are in the tail now; start after the 5th. */
	mid = hh_gets(json_array_get(s1.msgs[0], 4), "id");
	wsc_open(&late, srv, "/v2/ws", NULL);
	subscribe(&late, HDRS_A,
		  hh_fmt("{\"queue_name\": \"sh\", \"marker\": \"%s\"}", mid),
		  sl.sid[0]);
	sl.nsubs = 1;
	collect(&late, &sl, 5);
	ok(json_array_size(sl.msgs[0]) == 5 &&
	   hh_geti(json_array_get(sl.msgs[0], 0), "body.n") == 5 &&
	   hh_geti(json_array_get(sl.msgs[0], 4), "body.n") == 9,
	   "a subscriber starting in the middle of a cached batch gets exactly "
	   "the messages after its marker");
	ok(quiet(&late, 300), "and nothing more");
	post(&pub, "sh", 10, 2);
	collect(&late, &sl, 7);
	collect(&w2, &s2, 12);
	ok(json_array_size(sl.msgs[0]) == 7 && json_array_size(s2.msgs[0]) == 12,
	   "then the next post reaches the late one and the others alike");
	wsc_close(&late);
	wsc_close(&w2);
	wsc_close(&w1);
	seen_free(&sl);
	seen_free(&s2);
	seen_free(&s1);
	hh_client_close(&pub);
}

/* The message numbers of `msgs` as "n,n,n". */
static const char *numbers(json_t *msgs)
{
	static char out[256];
	size_t i, len = 0;
	json_t *m;

	out[0] = '\0';
	json_array_foreach(msgs, i, m)
		len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%lld",
					i ? "," : "", hh_geti(m, "body.n"));
	return out;
}

static void echo(struct hh_server *srv)
{
	struct hh_client pa, pb;
	struct wsc wa, wb, wall;
	struct seen sa, sb, sall;

	hh_client_init(&pa, srv, HH_CLIENT_A, PROJECT);
	hh_client_init(&pb, srv, HH_CLIENT_B, PROJECT);
	seen_init(&sa);
	seen_init(&sb);
	seen_init(&sall);
	wsc_open(&wa, srv, "/v2/ws", NULL);
	wsc_open(&wb, srv, "/v2/ws", NULL);
	wsc_open(&wall, srv, "/v2/ws", NULL);
	subscribe(&wa, HDRS_A, "{\"queue_name\": \"ec\", \"echo\": false}", sa.sid[0]);
	subscribe(&wb, HDRS_B, "{\"queue_name\": \"ec\", \"echo\": false}", sb.sid[0]);
	subscribe(&wall, HDRS_A, "{\"queue_name\": \"ec\", \"echo\": true}",
		  sall.sid[0]);
	sa.nsubs = sb.nsubs = sall.nsubs = 1;
	post(&pa, "ec", 0, 2);
	post(&pb, "ec", 2, 3);
	post(&pa, "ec", 5, 1);
	collect(&wall, &sall, 6);
	collect(&wa, &sa, 3);
	collect(&wb, &sb, 3);
	is_str(numbers(sall.msgs[0]), "0,1,2,3,4,5",
	       "echo=true: every message, its own client's too");
	is_str(numbers(sa.msgs[0]), "2,3,4",
	       "echo=false, client A: exactly client B's messages");
	is_str(numbers(sb.msgs[0]), "0,1,5",
	       "echo=false, client B: exactly client A's messages");
	ok(quiet(&wa, 200) && quiet(&wb, 200), "and nothing more");
	wsc_close(&wall);
	wsc_close(&wb);
	wsc_close(&wa);
	seen_free(&sall);
	seen_free(&sb);
	seen_free(&sa);
	hh_client_close(&pb);
	hh_client_close(&pa);
}

int main(void)
{
	struct hh_server srv;

	hh_watchdog(120);
	hh_start(&srv, NULL);
	per_subscriber(&srv);
	echo(&srv);
	return hh_finish(&srv);
}
