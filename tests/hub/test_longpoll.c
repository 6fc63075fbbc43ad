/*
 * test_longpoll.c - long-poll: GET .../messages?wait=N and POST
 * .../claims?wait=N answer as soon as a commit gives them something, and
 * 204 when the wait ends with nothing; a delayed message falling due and
 * an expiring claim answer them within a second or so (the test clock
 * moves, nothing commits); a held request whose client left
 * costs nothing; a shutdown answers the held requests.
 *
 * A held request is sent raw on its own connection and read later, while
 * another client publishes. The promptness checks compare against the
 * wait (20 s): an answer within 5 s can only come from the publish.
 */
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

/* True when nothing arrives on c for ms milliseconds (nothing is read:
 * hh_recv would drop the connection on its timeout). */
static bool quiet_for(const struct hh_client *c, int ms)
{
	struct pollfd p = {.fd = c->fd, .events = POLLIN};

	return poll(&p, 1, ms) == 0;
}

static void wake_on_post(struct hh_server *srv)
{
	struct hh_client held, pub;
	struct hh_resp r = HH_RESP_INIT;
	double t0;

	hh_client_init(&held, srv, HH_CLIENT_A, "lp");
	hh_client_init(&pub, srv, HH_CLIENT_B, "lp");
	held.timeout_ms = 25000;
	hh_call(&pub, &r, "PUT", "/v2/queues/q1", "");

	t0 = hh_mono_s();
	hh_send_request(&held, "GET", "/v2/queues/q1/messages?wait=20", NULL);
	ok(quiet_for(&held, 300), "an empty long-poll is held, not answered");

	hh_call(&pub, &r, "POST", "/v2/queues/q1/messages",
		"{\"messages\": [{\"body\": \"wake up\"}]}");
	is(r.status, 201, "another client posts");
	is(hh_recv(&held, &r, false), 200, "the held GET answers 200");
	ok(hh_mono_s() - t0 < 5.0, "right after the post, not at the end of the wait");
	is_str(hh_gets(r.json, "messages.0.body"), "wake up",
	       "with the posted message");
	ok(hh_len(r.json, "links") == 1, "and a next link");

	/* From the next marker nothing is new: the wait runs out. */
	{
		const char *next = hh_gets(r.json, "links.0.href");
		char path[512];

		hh_copy(path, sizeof(path), hh_fmt("%s&wait=1", next));
		hh_call(&held, &r, "GET", path, NULL);
		is(r.status, 204, "a long-poll that finds nothing in its wait is 204");
	}
	hh_resp_free(&r);
	hh_client_close(&held);
	hh_client_close(&pub);
}

static void claims(struct hh_server *srv)
{
	struct hh_client held, pub, worker;
	struct hh_resp r = HH_RESP_INIT;
	char claim[128];
	double t0;

	hh_client_init(&held, srv, HH_CLIENT_A, "lp");
	hh_client_init(&pub, srv, HH_CLIENT_B, "lp");
	hh_client_init(&worker, srv, HH_CLIENT_B, "lp");
	held.timeout_ms = 25000;

	t0 = hh_mono_s();
	hh_send_request(&held, "POST", "/v2/queues/cq/claims?wait=20&limit=5",
		  "{\"ttl\": 60, \"grace\": 60}");
	hh_call(&pub, &r, "POST", "/v2/queues/cq/messages",
		"{\"messages\": [{\"body\": 1}, {\"body\": 2}]}");
	is(hh_recv(&held, &r, false), 201, "a held claim answers 201 after a post");
	ok(hh_mono_s() - t0 < 5.0, "right after the post");
	is(hh_len(r.json, "messages"), 2, "claiming what was posted");
	hh_copy(claim, sizeof(claim),
		hh_href_claim(hh_gets(r.json, "messages.0.href")));

	/* A release wakes a waiting claimer too. */
	t0 = hh_mono_s();
	hh_send_request(&worker, "POST", "/v2/queues/cq/claims?wait=20", "{}");
	hh_call(&pub, &r, "DELETE", hh_fmt("/v2/queues/cq/claims/%s", claim),
		NULL);
	is(r.status, 204, "the first claim is released");
	worker.timeout_ms = 25000;
	is(hh_recv(&worker, &r, false), 201,
	   "a claimer waiting on claimed messages gets them on release");
	ok(hh_mono_s() - t0 < 5.0, "right after the release");

	hh_call(&held, &r, "POST", "/v2/queues/cq/claims?wait=1", "{}");
	is(r.status, 204, "a long-polled claim of nothing is 204 when its wait ends");
	hh_resp_free(&r);
	hh_client_close(&held);
	hh_client_close(&pub);
	hh_client_close(&worker);
}

/* A delayed message falling due answers a held listing within a second
 * or so of its due time: the test clock moves past it, nothing commits. */
static void delayed_wakes(struct hh_server *srv)
{
	struct hh_client held, pub;
	struct hh_resp r = HH_RESP_INIT;
	double t0;

	hh_client_init(&held, srv, HH_CLIENT_A, "lp");
	hh_client_init(&pub, srv, HH_CLIENT_B, "lp");
	held.timeout_ms = 25000;
	hh_call(&pub, &r, "PUT", "/v2/queues/late", "{\"_default_message_delay\": 5}");
	hh_call(&pub, &r, "POST", "/v2/queues/late/messages",
		"{\"messages\": [{\"body\": \"due in 5 s\"}]}");
	is(r.status, 201, "a message due in 5 s");
	hh_send_request(&held, "GET", "/v2/queues/late/messages?wait=20", NULL);
	ok(quiet_for(&held, 300), "a long-poll of the queue is held");
	t0 = hh_mono_s();
	hh_clock_advance(srv, 6000);
	is(hh_recv(&held, &r, false), 200, "the held GET answers 200");
	ok(hh_mono_s() - t0 < 2.0, "within a second or two of the clock passing "
	   "the due time, with no commit (%.2f s)", hh_mono_s() - t0);
	is_str(hh_gets(r.json, "messages.0.body"), "due in 5 s",
	       "with the message that fell due");
	hh_resp_free(&r);
	hh_client_close(&held);
	hh_client_close(&pub);
}

/* A claim expiring makes its messages claimable: a claimer waiting on
 * them gets them within a second or so, not at the end of its wait. */
static void expired_claim_wakes(struct hh_server *srv)
{
	struct hh_client held, pub;
	struct hh_resp r = HH_RESP_INIT;
	double t0;

	hh_client_init(&held, srv, HH_CLIENT_A, "lp");
	hh_client_init(&pub, srv, HH_CLIENT_B, "lp");
	held.timeout_ms = 25000;
	hh_call(&pub, &r, "POST", "/v2/queues/ce/messages",
		"{\"messages\": [{\"body\": 1}, {\"body\": 2}]}");
	hh_call(&pub, &r, "POST", "/v2/queues/ce/claims", "{\"ttl\": 60}");
	is(r.status, 201, "a worker claims both messages for 60 s");
	hh_clock_advance(srv, 50 * 1000); /* 10 s of the claim left */
	hh_send_request(&held, "POST", "/v2/queues/ce/claims?wait=20",
		  "{\"ttl\": 60, \"grace\": 60}");
	ok(quiet_for(&held, 300), "a second claimer is held");
	t0 = hh_mono_s();
	hh_clock_advance(srv, 11 * 1000); /* the claim expires; wait not over */
	is(hh_recv(&held, &r, false), 201, "the held claim answers 201");
	ok(hh_mono_s() - t0 < 2.0, "within a second or two of the first claim's "
	   "expiry (%.2f s)", hh_mono_s() - t0);
	is(hh_len(r.json, "messages"), 2, "with the messages it had held");
	hh_resp_free(&r);
	hh_client_close(&held);
	hh_client_close(&pub);
}

static void params(struct hh_server *srv)
{
	struct hh_client c;
	struct hh_resp r = HH_RESP_INIT;
	double t0;

	hh_client_init(&c, srv, HH_CLIENT_A, "lp");
	hh_call(&c, &r, "GET", "/v2/queues/q1/messages?wait=21", NULL);
	expect_error(&r, 400, "Invalid API request",
			 "The wait may not be greater than 20 seconds, and "
			 "must be at least 0 seconds long.",
			 "wait=21");
	hh_call(&c, &r, "GET", "/v2/queues/q1/messages?wait=-1", NULL);
	is(r.status, 400, "wait=-1 is refused");
	hh_call(&c, &r, "GET", "/v2/queues/q1/messages?wait=soon", NULL);
	is(r.status, 400, "wait=soon is refused");
	t0 = hh_mono_s();
	hh_call(&c, &r, "GET", "/v2/queues/empty/messages?wait=0", NULL);
	ok(r.status == 200 && hh_mono_s() - t0 < 5.0,
	   "wait=0 answers at once, as Zaqar (got %d)", r.status);
	t0 = hh_mono_s();
	hh_call(&c, &r, "GET", "/v1.1/queues/empty/messages?wait=20", NULL);
	ok(r.status == 200 && hh_mono_s() - t0 < 5.0,
	   "v1.1 has no long-poll: it answers at once (got %d)", r.status);
	hh_resp_free(&r);
	hh_client_close(&c);
}

static void client_leaves(struct hh_server *srv)
{
	struct hh_client held, c;
	struct hh_resp r = HH_RESP_INIT;

	hh_client_init(&held, srv, HH_CLIENT_A, "lp");
	hh_client_init(&c, srv, HH_CLIENT_B, "lp");
	hh_send_request(&held, "GET", "/v2/queues/gone/messages?wait=20", NULL);
	usleep(100 * 1000); /* let the server hold it; not a correctness wait */
	hh_client_close(&held);
	/* A post wakes the orphan: the server must notice, not spin. */
	hh_call(&c, &r, "POST", "/v2/queues/gone/messages",
		"{\"messages\": [{\"body\": 1}]}");
	is(r.status, 201, "a post after the held client left");
	hh_call(&c, &r, "GET", "/v2/ping", NULL);
	is(r.status, 204, "the server still answers");
	hh_resp_free(&r);
	hh_client_close(&c);
}

static void shutdown_answers(struct hh_server *srv)
{
	struct hh_client held;
	struct hh_resp r = HH_RESP_INIT;

	hh_client_init(&held, srv, HH_CLIENT_A, "lp");
	held.timeout_ms = 25000;
	hh_send_request(&held, "GET", "/v2/queues/stop/messages?wait=20", NULL);
	usleep(100 * 1000); /* let the server hold it */
	is(hh_stop(srv), 0, "SIGTERM with a held request: exit 0");
	is(hh_recv(&held, &r, false), 204, "the held request was answered 204");
	hh_resp_free(&r);
	hh_client_close(&held);
}

int main(void)
{
	struct hh_server srv;

	hh_watchdog(120);
	hh_start(&srv, NULL);
	wake_on_post(&srv);
	claims(&srv);
	delayed_wakes(&srv);
	expired_claim_wakes(&srv);
	params(&srv);
	client_leaves(&srv);
	shutdown_answers(&srv);
	hh_restart(&srv);
	return hh_finish(&srv);
}
