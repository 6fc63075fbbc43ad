/*
 * test_bus.c - live subscribers across nodes (docs/scale.md): three Herald
 * nodes (cluster.c: behind HAProxy) and a real nats-server (Debian's 2.9)
 * on loopback, each node with --cluster-bus. One /v2/ws connection to node
 * a subscribes to a queue of every node; the owners publish news of their
 * commits on NATS and node a reads them from its subscribers' markers.
 *
 *   - every message of the three queues once, in order per queue, the
 *     bodies byte for byte;
 *   - NATS stopped: news is lost; the periodic check (the test moves
 *     node a's clock) and NATS's return (the reconnection reads) bring
 *     every message still, once;
 *   - the owner restarted under the subscriber: nothing lost or repeated;
 *   - from a marker, from now, echo off: as a local subscription;
 *   - the owner down at subscribe: 503 naming it; a bad marker: 400;
 *   - /v2/ws through HAProxy (any node): the three queues all the same;
 *   - the queue_list action: every node's queues (gathered);
 *   - a's queue moved to b (herald cluster move) under its subscribers on
 *     a: the /v2/ws subscription goes on, read from b; the stream URL's
 *     connection is closed, to reconnect through HAProxy.
 *
 * Skips when nats-server (or haproxy) is not installed, unless
 * HERALD_REQUIRE_NATS=1 (HERALD_REQUIRE_HAPROXY=1): .ci/run sets both.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "cluster.h"
#include "harness.h"
#include "wsc.h"

static pid_t nats_pid;
static int nats_port;
static char nats_log[64];

/* ------------------------------------------------------------ nats */

static bool nats_listening(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)nats_port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	bool up;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	up = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	if (fd >= 0)
		close(fd);
	return up;
}

static void nats_stop(void)
{
	if (nats_pid > 0) {
		kill(nats_pid, SIGTERM);
		waitpid(nats_pid, NULL, 0);
		nats_pid = 0;
	}
}

static void nats_start(void)
{
	nats_pid = fork();
	if (nats_pid < 0)
		bail_out("fork: %s", strerror(errno));
	if (nats_pid == 0) {
		int fd = open(nats_log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execlp("nats-server", "nats-server", "-a", "127.0.0.1", "-p",
		       hh_fmt("%d", nats_port), (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100 && !nats_listening(); i++)
		sleep_ms(50);
	if (!nats_listening())
		bail_out("nats-server did not start (see %s)", nats_log);
}

/* ----------------------------------------------------------- helpers */

static struct hh_client owner_client[N_NODES];

/* Posts bodies from..to (numbers) to q at its owner, one per post. */
static void post_to_owner(const char *q, int from, int to)
{
	post_numbered(&owner_client[owner_of(q)], q, from, to);
}

/* What a connection's subscriptions delivered, per queue. */
#define MAXQ 4
#define MAXN 256
struct seen {
	const char *queue[MAXQ];
	int n_queues;
	int body[MAXQ][MAXN];
	int n[MAXQ];
	char last_id[MAXQ][32];
	bool bad_frame;
	int gaps;
};

static int seen_index(struct seen *s, const char *queue)
{
	for (int i = 0; i < s->n_queues; i++)
		if (strcmp(s->queue[i], queue) == 0)
			return i;
	return -1;
}

/* A subscription's frame into s. */
static void take_frame(struct seen *s, json_t *j)
{
	const char *event = hh_gets(j, "event");
	const char *queue = hh_gets(j, "queue_name");
	int qi = seen_index(s, queue ? queue : "");
	json_t *msgs = json_object_get(j, "messages");

	if (event && !strcmp(event, "gap"))
		s->gaps++;
	if (qi < 0 || !event) {
		s->bad_frame = true;
		diag("unexpected frame %s", hh_dump(j));
		return;
	}
	for (size_t k = 0; k < json_array_size(msgs); k++) {
		json_t *m = json_array_get(msgs, k);
		const char *id = hh_gets(m, "id");

		if (s->n[qi] < MAXN)
			s->body[qi][s->n[qi]++] =
				(int)json_integer_value(json_object_get(m, "body"));
		hh_copy(s->last_id[qi], sizeof(s->last_id[qi]), id ? id : "");
		if (!hh_keys_are(m, "id,ttl,age,body"))
			s->bad_frame = true;
	}
}

/* Reads frames until every queue of s has `want` messages (want[i] < 0:
 * not waited for) or nothing comes for timeout_ms. */
static void collect(struct wsc *w, struct seen *s, const int *want,
		    int timeout_ms)
{
	for (;;) {
		bool done = true;
		json_t *j;

		for (int i = 0; i < s->n_queues; i++)
			done &= want[i] < 0 || s->n[i] >= want[i];
		if (done || !(j = wsc_recv(w, timeout_ms)))
			return;
		take_frame(s, j);
		json_decref(j);
	}
}

/* Whether queue i of s got exactly bodies from..to, in order. */
static bool got_exactly(const struct seen *s, int i, int from, int to)
{
	if (s->n[i] != to - from + 1)
		return false;
	for (int k = 0; k < s->n[i]; k++)
		if (s->body[i][k] != from + k)
			return false;
	return true;
}

/* subscribe: its status (and answer, when resp is not NULL); frames of
 * the connection's subscriptions that come first go into s. */
static int subscribe(struct wsc *w, struct seen *s, const char *headers,
		     const char *body, json_t **resp)
{
	int status;

	wsc_send(w, hh_fmt("{\"action\": \"subscribe\", \"headers\": %s, "
			   "\"body\": %s}", headers, body));
	for (;;) {
		json_t *j = wsc_recv(w, 10000);

		if (!j)
			return 0;
		if (!json_object_get(j, "request")) {
			take_frame(s, j);
			json_decref(j);
			continue;
		}
		status = (int)hh_geti(j, "headers.status");
		if (resp)
			*resp = j;
		else
			json_decref(j);
		return status;
	}
}

static const char *const hdrs =
	"{\"Client-ID\": \"" HH_CLIENT_B "\", \"X-Project-ID\": \"cl\"}";

/* ------------------------------------------------------------- tests */

static char q[N_NODES][32];

static void across_nodes(void)
{
	struct wsc w;
	struct seen s = {.n_queues = N_NODES};
	int st, want[MAXQ];

	for (int i = 0; i < N_NODES; i++) {
		name_on(q[i], sizeof(q[i]), "bus", i);
		s.queue[i] = q[i];
		post_to_owner(q[i], 1, 3);
	}
	ok(wsc_open(&w, &node[0], "/v2/ws", NULL) && w.status == 101,
	   "a /v2/ws connection to node a");
	for (int i = 0; i < N_NODES; i++) {
		st = subscribe(&w, &s, hdrs,
			       hh_fmt("{\"queue_name\": \"%s\", \"from\": "
				      "\"oldest\"}", q[i]), NULL);
		is(st, 201, "subscribe to %s, a queue of node %s", q[i],
		   names[i]);
	}
	for (int i = 0; i < N_NODES; i++)
		want[i] = 3;
	collect(&w, &s, want, 10000);
	for (int i = 0; i < N_NODES; i++)
		ok(got_exactly(&s, i, 1, 3), "the backlog of %s (node %s)",
		   q[i], names[i]);
	for (int i = 0; i < N_NODES; i++)
		post_to_owner(q[i], 4, 40);
	for (int i = 0; i < N_NODES; i++)
		want[i] = 40;
	collect(&w, &s, want, 10000);
	for (int i = 0; i < N_NODES; i++)
		ok(got_exactly(&s, i, 1, 40), "%s: messages 1-40 once, in "
		   "order, as they are posted (node %s; %d came)", q[i],
		   names[i], s.n[i]);
	ok(!s.bad_frame && s.gaps == 0, "every frame a messages frame of a "
	   "subscribed queue, Zaqar's message objects, no gap");

	/* NATS down: the owners' news is lost. The periodic check finds
	 * what came (node a's clock moved past it). */
	nats_stop();
	post_to_owner(q[1], 41, 45);
	post_to_owner(q[2], 41, 45);
	post_to_owner(q[0], 41, 45);
	hh_clock_advance(&node[0], 6000);
	want[0] = want[1] = want[2] = 45;
	collect(&w, &s, want, 10000);
	for (int i = 0; i < N_NODES; i++)
		ok(got_exactly(&s, i, 1, 45), "NATS down: %s's 41-45 come "
		   "with the periodic check (%d)", q[i], s.n[i]);

	/* Lost news while NATS is down, healed when it is back (no clock
	 * moved this time). */
	post_to_owner(q[1], 46, 50);
	post_to_owner(q[2], 46, 50);
	nats_start();
	want[0] = -1;
	want[1] = want[2] = 50;
	collect(&w, &s, want, 15000);
	ok(got_exactly(&s, 1, 1, 50) && got_exactly(&s, 2, 1, 50),
	   "NATS back: the reconnection reads what its news missed (%d, %d)",
	   s.n[1], s.n[2]);
	/* And the bus carries news again (each node rejoined). */
	for (int t = 0; t < 50; t++) {
		/* Until the owner has rejoined, its news is lost: the next
		 * post's news brings the earlier ones too. */
		post_to_owner(q[1], 51 + t, 51 + t);
		want[1] = 51 + t;
		want[2] = -1;
		collect(&w, &s, want, 400);
		if (s.n[1] == 51 + t)
			break;
	}
	ok(got_exactly(&s, 1, 1, s.n[1]) && s.n[1] >= 51,
	   "news flows again after NATS came back (%d)", s.n[1]);
	int last = s.n[1];

	/* The owner restarts under the subscriber. */
	is(hh_stop(&node[1]), 0, "node b stops under the subscriber");
	hh_restart(&node[1]);
	hh_client_close(&owner_client[1]);
	post_to_owner(q[1], last + 1, last + 10);
	hh_clock_advance(&node[0], 6000); /* in case b's news came early */
	want[1] = last + 10;
	collect(&w, &s, want, 15000);
	ok(got_exactly(&s, 1, 1, last + 10), "node b restarted: its queue "
	   "goes on with no gap or repeat (%d of %d)", s.n[1], last + 10);
	ok(!s.bad_frame && s.gaps == 0, "no gap frame, nothing unexpected");
	wsc_close(&w);
}

static void like_a_local_subscription(void)
{
	struct hh_resp r = HH_RESP_INIT;
	struct wsc w;
	struct seen s = {.n_queues = 1};
	char marker[32];
	int st, want[MAXQ] = {0};
	json_t *j;

	/* The stats' Herald-Tail is the marker "from now". */
	hh_call(&owner_client[2], &r, "GET",
		hh_fmt("/v2/queues/%s/stats", q[2]), NULL);
	ok(r.status == 200 && hh_header(&r, "Herald-Tail") &&
	   strlen(hh_header(&r, "Herald-Tail")) == 24,
	   "GET stats carries Herald-Tail");
	/* From a marker: the id of message 10 of node c's queue. */
	hh_call(&owner_client[2], &r, "GET",
		hh_fmt("/v2/queues/%s/messages?limit=10&echo=true", q[2]),
		NULL);
	j = hh_get(r.json, "messages");
	hh_copy(marker, sizeof(marker),
		hh_gets(json_array_get(j, 9), "id") ? hh_gets(json_array_get(j, 9), "id") : "");
	ok(wsc_open(&w, &node[0], "/v2/ws", NULL) && w.status == 101,
	   "another connection to node a");
	s.queue[0] = q[2];
	st = subscribe(&w, &s, hdrs, hh_fmt("{\"queue_name\": \"%s\", "
					    "\"marker\": \"%s\"}", q[2], marker),
		       NULL);
	is(st, 201, "subscribe to node c's queue from a marker");
	want[0] = 40;
	collect(&w, &s, want, 10000);
	ok(got_exactly(&s, 0, 11, 50), "exactly the messages after it "
	   "(11-50: %d)", s.n[0]);
	wsc_close(&w);

	/* From now, echo off: only what others post after the subscribe. */
	ok(wsc_open(&w, &node[0], "/v2/ws", NULL) && w.status == 101,
	   "a third connection");
	memset(&s, 0, sizeof(s));
	s.n_queues = 1;
	s.queue[0] = q[2];
	st = subscribe(&w, &s, "{\"Client-ID\": \"" HH_CLIENT_A "\", "
			   "\"X-Project-ID\": \"cl\"}",
		       hh_fmt("{\"queue_name\": \"%s\"}", q[2]), NULL);
	is(st, 201, "subscribe from now with echo off");
	/* owner_client[2] posts as client A: its own, not delivered. */
	post_to_owner(q[2], 101, 102);
	struct hh_client other;
	hh_client_init(&other, &node[2], HH_CLIENT_B, "cl");
	hh_call(&other, &r, "POST", hh_fmt("/v2/queues/%s/messages", q[2]),
		"{\"messages\": [{\"body\": 103}, {\"body\": 104}]}");
	want[0] = 2;
	collect(&w, &s, want, 10000);
	collect(&w, &s, (int[]){3}, 500); /* nothing more comes */
	ok(got_exactly(&s, 0, 103, 104), "only the other client's 103, 104 "
	   "(%d)", s.n[0]);
	/* Bodies byte for byte: as posted, through the owner's listing. */
	hh_call(&other, &r, "POST",
		hh_fmt("/v2/queues/%s/messages", q[2]),
		"{\"messages\": [{\"body\": {\"a\":[1,2.50,\"\\u00e9\"]}}]}");
	char *text = wsc_recv_text(&w, 10000);

	ok(text && strstr(text, "\"body\": {\"a\":[1,2.50,\"\\u00e9\"]}"),
	   "a body comes byte for byte as posted");
	if (text && !strstr(text, "2.50"))
		diag("got %s", text);
	free(text);
	hh_client_close(&other);
	wsc_close(&w);
	hh_resp_free(&r);
}

static void refusals(void)
{
	struct wsc w;
	struct seen s = {.n_queues = 0};
	int st;
	json_t *j = NULL;

	ok(wsc_open(&w, &node[0], "/v2/ws", NULL) && w.status == 101,
	   "a connection for refusals");
	st = subscribe(&w, &s, hdrs, hh_fmt("{\"queue_name\": \"%s\", "
					    "\"marker\": \"zz\"}", q[1]), NULL);
	is(st, 400, "a malformed marker: 400, as for a local queue");
	is(hh_stop(&node[2]), 0, "node c stops");
	st = subscribe(&w, &s, hdrs, hh_fmt("{\"queue_name\": \"%s\"}", q[2]),
		       &j);
	is(st, 503, "subscribe to a queue of a node that is down: 503");
	ok(strstr(hh_dump(j), "Node c") != NULL, "naming the node (%s)",
	   hh_dump(j));
	json_decref(j);
	hh_restart(&node[2]);
	hh_client_close(&owner_client[2]);
	st = subscribe(&w, &s, hdrs, hh_fmt("{\"queue_name\": \"%s\"}", q[2]),
		       NULL);
	is(st, 201, "node c back: the subscribe works");
	wsc_close(&w);
}

/* A node stops while its readers of other nodes' queues retry: it exits
 * cleanly (sanitizers watch the requests and timers it ends). */
static void stop_under_readers(void)
{
	struct wsc w;
	struct seen s = {.n_queues = 0};

	ok(wsc_open(&w, &node[0], "/v2/ws", NULL) && w.status == 101,
	   "a connection with readers of nodes b and c");
	for (int i = 1; i < N_NODES; i++)
		is(subscribe(&w, &s, hdrs, hh_fmt("{\"queue_name\": \"%s\"}",
						  q[i]), NULL),
		   201, "subscribed to %s", q[i]);
	is(hh_stop(&node[1]), 0, "node b stops");
	is(hh_stop(&node[2]), 0, "node c stops");
	hh_clock_advance(&node[0], 6000); /* the readers ask, and back off */
	sleep_ms(1500);
	is(hh_stop(&node[0]), 0, "node a stops cleanly, its readers retrying");
	wsc_close(&w);
	for (int i = 0; i < N_NODES; i++)
		hh_restart(&node[i]);
}

/* Zaqar's queue_list action on node a: every node's queues, as the
 * HTTP list through HAProxy gathers them. */
static void ws_queue_list(void)
{
	struct wsc w;
	json_t *j, *qs;
	bool seen[N_NODES] = {false};
	size_t i;
	json_t *v;

	ok(wsc_open(&w, &node[0], "/v2/ws", NULL) && w.status == 101,
	   "a connection for queue_list");
	j = act(&w, "queue_list", hdrs, "{\"limit\": 20}");
	qs = hh_get(j, "body.queues");
	is((int)hh_geti(j, "headers.status"), 200, "queue_list answers 200");
	json_array_foreach(qs, i, v)
		for (int k = 0; k < N_NODES; k++)
			seen[k] |= hh_gets(v, "name") &&
				   !strcmp(hh_gets(v, "name"), q[k]);
	ok(seen[0] && seen[1] && seen[2], "with the queues of nodes a, b "
	   "and c (%s)", hh_dump(qs));
	json_decref(j);
	wsc_close(&w);
}

/* /v2/ws through HAProxy, which sends it to any node: a queue of every
 * node all the same, from a marker. */
static void through_haproxy(void)
{
	struct wsc w;
	struct seen s = {.n_queues = N_NODES};
	int want[MAXQ];

	ok(wsc_open(&w, &proxy, "/v2/ws", NULL) && w.status == 101,
	   "a /v2/ws connection through HAProxy");
	for (int i = 0; i < N_NODES; i++) {
		s.queue[i] = q[i];
		want[i] = 5;
		is(subscribe(&w, &s, hdrs,
			     hh_fmt("{\"queue_name\": \"%s\"}", q[i]), NULL),
		   201, "subscribe to %s (node %s) through HAProxy", q[i],
		   names[i]);
	}
	for (int i = 0; i < N_NODES; i++)
		post_to_owner(q[i], 201, 205);
	collect(&w, &s, want, 10000);
	for (int i = 0; i < N_NODES; i++)
		ok(got_exactly(&s, i, 201, 205), "%s: 201-205 once, in order "
		   "(%d)", q[i], s.n[i]);
	wsc_close(&w);
}

/* Whether w's server closes it within ms (frames before are dropped). */
static bool closed_within(struct wsc *w, int ms)
{
	uint64_t end = hh_mono_ms() + (uint64_t)ms;

	while (hh_mono_ms() < end) {
		char *t = wsc_recv_text(w, (int)(end - hh_mono_ms()));

		if (!t)
			return hh_mono_ms() < end;
		free(t);
	}
	return false;
}

/*
 * Node a's queue moves to node b (herald cluster move) under its
 * subscribers on a: the /v2/ws subscription goes on, read from b, with
 * no gap or repeat; the stream URL's connection is closed (its client
 * reconnects through HAProxy, which now sends it to b).
 */
static void moved_under_subscribers(void)
{
	struct wsc w, st;
	struct seen s = {.n_queues = 1};
	int want[MAXQ] = {3};
	unsigned shard = shard_of(q[0]);
	char arg[5][64], *said = NULL;

	ok(wsc_open(&w, &node[0], "/v2/ws", NULL) && w.status == 101,
	   "a /v2/ws connection to node a, for its own queue %s", q[0]);
	s.queue[0] = q[0];
	is(subscribe(&w, &s, hdrs, hh_fmt("{\"queue_name\": \"%s\"}", q[0]),
		     NULL), 201, "subscribed to %s from now", q[0]);
	ok(wsc_open(&st, &node[0],
		    hh_fmt("/v2/queues/%s/stream?project_id=cl", q[0]), NULL) &&
	   st.status == 101, "and its stream URL on node a");
	post_to_owner(q[0], 301, 303);
	collect(&w, &s, want, 10000);
	ok(got_exactly(&s, 0, 301, 303), "both get 301-303 on node a (%d)",
	   s.n[0]);

	snprintf(arg[0], sizeof(arg[0]), "%u", shard);
	for (int i = 0; i < N_NODES; i++)
		snprintf(arg[1 + i], sizeof(arg[1]), "%s=127.0.0.1:%d", names[i],
			 node[i].port);
	snprintf(arg[4], sizeof(arg[4]), "%s", path_of("haproxy.sock"));
	const char *argv[] = {getenv("HERALD_BIN"), "cluster", "move", arg[0],
			      "--from", arg[1], "--to", arg[2], "--node",
			      arg[3], "--map", map_path, "--haproxy-socket",
			      arg[4], NULL};

	is(hh_run(argv, path_of("move.log"), &said), 0,
	   "herald cluster move %u --from a --to b", shard);
	free(said);
	ok(closed_within(&st, 5000), "the stream URL's connection on node a "
	   "is closed, so its client reconnects to b");
	wsc_close(&st);
	/* Now b's queue: posted there, read from there by node a. */
	post_numbered(&owner_client[1], q[0], 304, 306);
	want[0] = 6;
	collect(&w, &s, want, 10000);
	ok(got_exactly(&s, 0, 301, 306), "the /v2/ws subscription goes on "
	   "from b: 304-306 once, after 301-303 (%d)", s.n[0]);
	ok(!s.bad_frame && s.gaps == 0, "no gap frame, nothing unexpected");
	wsc_close(&w);
}

/* --cluster-bus that cannot work stops the server at its start. */
static void bad_options(const char *bus)
{
	const char *data = path_of("data-bad");
	const char *alone[] = {getenv("HERALD_BIN"), "serve", "--data", data,
			       "--listen", "127.0.0.1:0", "--cluster-bus", bus,
			       NULL};
	const char *named[] = {getenv("HERALD_BIN"), "serve", "--data", data,
			       "--listen", "127.0.0.1:0", "--node", "a",
			       "--cluster-map", map_path, "--cluster-bus",
			       "nats://localhost:4222", NULL};
	char *out = NULL;

	is(hh_run(alone, path_of("bad-bus.log"), &out), 1,
	   "--cluster-bus without --node and --cluster-map: exit 1");
	ok(out && strstr(out, "--cluster-bus goes with --node"),
	   "saying what it goes with");
	free(out);
	out = NULL;
	is(hh_run(named, path_of("bad-bus2.log"), &out), 1,
	   "--cluster-bus with a host name: exit 1");
	ok(out && strstr(out, "want nats://IP:PORT"), "asking for an address");
	free(out);
}

int main(void)
{
	const char *v[] = {"nats-server", "--version", NULL};
	static char bus[64];
	int fd;

	if (hh_run(v, "/dev/null", NULL) == 127) {
		const char *req = getenv("HERALD_REQUIRE_NATS");

		if (req && !strcmp(req, "1"))
			bail_out("nats-server is not installed");
		skip_all("nats-server is not installed (apt-get install "
			 "nats-server)");
	}
	hh_watchdog(240);
	/* NATS first: the nodes find it at their start. */
	snprintf(nats_log, sizeof(nats_log), "/tmp/herald-nats-XXXXXX");
	if ((fd = mkstemp(nats_log)) < 0)
		bail_out("mkstemp: %s", strerror(errno));
	close(fd);
	nats_port = free_port();
	nats_start();
	snprintf(bus, sizeof(bus), "nats://127.0.0.1:%d", nats_port);
	if (cluster_start("herald-bus",
			  (const char *const[]){"--cluster-bus", bus, NULL}))
		bail_out("HAProxy did not come up in front of the nodes");
	for (int i = 0; i < N_NODES; i++)
		hh_client_init(&owner_client[i], &node[i], HH_CLIENT_A, "cl");
	bad_options(bus);
	across_nodes();
	like_a_local_subscription();
	refusals();
	through_haproxy();
	ws_queue_list();
	moved_under_subscribers();
	stop_under_readers();
	for (int i = 0; i < N_NODES; i++)
		hh_client_close(&owner_client[i]);
	nats_stop();
	unlink(nats_log);
	return cluster_end();
}
