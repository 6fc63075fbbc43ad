/*
 * test_cluster.c - three Herald nodes behind a real HAProxy (Debian's
 * 2.6), on loopback, with the shard map and HAProxy's configuration both
 * written by `herald cluster` (docs/scale.md).
 *
 *   - `herald cluster map a b c` places the 4096 shards in three runs;
 *     the test computes each queue's node on its own (zlib's crc32 of the
 *     name mod 4096, the run it falls in), not by asking Herald;
 *   - through HAProxy: queues are created, posted to, read, claimed and
 *     fed (Atom) on every node, and each node holds exactly the queues of
 *     its shards (its own GET /v2/queues);
 *   - straight to a node that does not own the queue: 421 with a JSON
 *     body and Herald-Owner naming the owner, for HTTP, for the stream
 *     URL's upgrade and for the WebSocket subscribe action; nothing is
 *     created there;
 *   - a node down: its queues get HAProxy's 503 with a JSON body, the
 *     others' go on; back up, its messages are all there;
 *   - the map changed and SIGHUP: a node takes a moved shard's queue.
 *
 * Skips when haproxy is not installed, unless HERALD_REQUIRE_HAPROXY=1
 * (.ci/run sets it).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "cluster.h"
#include "wsc.h"

#define N_QUEUES 24

/* ------------------------------------------- a live subscriber, restarted */

/*
 * `herald tail -f` through HAProxy (the stream URL: a WebSocket routed by
 * the queue's name) on a queue of node b, while b stops and starts again:
 * every message once, in order.
 */
static void tail_across_restart(struct hh_client *c)
{
	struct hh_resp r = HH_RESP_INIT;
	char q[32] = "", buf[16384] = "", url[64];
	int out[2];
	pid_t pid;
	bool in_order = true;

	name_on(q, sizeof(q), "live", 1);
	hh_call(c, &r, "PUT", hh_fmt("/v2/queues/%s", q), "{}");
	post_numbered(c, q, 1, 5);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", proxy.port);
	if (pipe(out))
		bail_out("pipe: %s", strerror(errno));
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 0);
		dup2(out[1], 1);
		dup2(open(path_of("tail.err"), O_WRONLY | O_CREAT | O_TRUNC,
			  0644), 2);
		close(out[0]);
		setenv("HOME", cluster_dir, 1);
		execl(getenv("HERALD_BIN"), "herald", "tail", "--url", url,
		      "--project", "cl", "--client-id", HH_CLIENT_B, "-f", q,
		      (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	is(hh_read_lines(out[0], buf, sizeof(buf), 5, 15000), 5,
	   "tail -f through HAProxy prints node b's queue %s", q);
	post_numbered(c, q, 6, 8);
	is(hh_read_lines(out[0], buf, sizeof(buf), 8, 15000), 8,
	   "and what is posted while it follows (the stream URL through "
	   "HAProxy)");
	is(hh_stop(&node[1]), 0, "node b stops under the following tail");
	hh_restart(&node[1]);
	ok(wait_status(c, hh_fmt("/v2/queues/%s/stats", q), 200, 20),
	   "node b is back behind HAProxy");
	post_numbered(c, q, 9, 12);
	is(hh_read_lines(out[0], buf, sizeof(buf), 12, 20000), 12,
	   "tail reconnects through HAProxy and prints what came since");
	kill(pid, SIGINT);
	hh_read_lines(out[0], buf, sizeof(buf), 1000, 2000);
	waitpid(pid, NULL, 0);
	close(out[0]);
	/* Every line once, bodies 1..12 in order. */
	int n = 0;

	for (char *line = buf, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
		json_t *j = json_loadb(line, (size_t)(nl - line), 0, NULL);

		n++;
		in_order &= j && json_integer_value(json_object_get(j, "body"))
				     == n;
		json_decref(j);
	}
	ok(n == 12 && in_order, "each of the 12 messages once, in order "
	   "(%d lines)", n);
	FILE *f = fopen(path_of("tail.err"), "r");
	char line[512];

	while (f && fgets(line, sizeof(line), f))
		diag("tail said: %s", line);
	if (f)
		fclose(f);
	hh_resp_free(&r);
}

/* The project's queue list through HAProxy, page by page: every node's
 * queues once, in name order, whichever node answers each page. */
static void list_across_nodes(struct hh_client *c, int n_want)
{
	struct hh_resp r = HH_RESP_INIT;
	char path[512] = "/v2/queues?limit=4", prev[64] = "";
	int n = 0, pages = 0;
	bool sorted = true, ok_all = true;

	while (path[0] && pages < 40) {
		pages++;
		hh_call(c, &r, "GET", path, NULL);
		ok_all &= r.status == 200;
		json_t *qs = json_object_get(r.json, "queues");
		size_t k;
		json_t *v;

		json_array_foreach(qs, k, v) {
			const char *name = json_string_value(
				json_object_get(v, "name"));

			sorted &= name && strcmp(prev, name) < 0;
			hh_copy(prev, sizeof(prev), name);
			n++;
		}
		const char *next = json_array_size(qs)
					   ? hh_gets(r.json, "links.0.href")
					   : NULL;

		hh_copy(path, sizeof(path), next);
	}
	ok(ok_all && n == n_want && sorted,
	   "through HAProxy, the project's queue list pages through all %d "
	   "queues of the three nodes once each, in order (%d in %d pages)",
	   n_want, n, pages);
	hh_call(c, &r, "GET", "/v2/queues?with_count=true&limit=1", NULL);
	is(hh_geti(r.json, "count"), n_want, "with_count counts every node's");
	hh_callh(c, &r, "GET", "/v2/health", "X-Roles: admin\r\n", NULL);
	ok(r.status == 200 && json_is_true(json_object_get(r.json,
							   "storage_reachable")) &&
	   json_is_true(hh_get(r.json, "operation_status.post_messages."
				       "succeeded")),
	   "/v2/health through HAProxy: every node's storage reachable");
	hh_resp_free(&r);
}

/* -------------------------------------------- an SSE reader, restarted */

/*
 * An SSE reader through HAProxy (routed by the queue's name) on a queue
 * of node b, while b restarts: it reconnects with Last-Event-ID, as an
 * EventSource does, and gets every message once, in order.
 */
static void sse_across_restart(struct hh_client *c)
{
	struct hh_resp r = HH_RESP_INIT;
	struct sse_reader *s = calloc(1, sizeof(*s));
	char q[32] = "", last[32] = "", first[1024];

	name_on(q, sizeof(q), "sse", 1);
	hh_call(c, &r, "PUT", hh_fmt("/v2/queues/%s", q), "{}");
	post_numbered(c, q, 1, 3);
	sse_open(s, q, NULL);
	/* From now: the stream opens with none of the three before it. */
	ok(!sse_events(s, 1, 700) && strstr(s->buf, "HTTP/1.1 200") &&
	   strstr(s->buf, "text/event-stream"),
	   "an SSE stream through HAProxy on node b's queue %s, from now", q);
	post_numbered(c, q, 4, 6);
	ok(sse_events(s, 3, 10000), "it gets what is posted while it is open");
	snprintf(first, sizeof(first), "%s", sse_bodies(s, last, sizeof(last)));
	is_str(first, "4,5,6", "in order");
	is(hh_stop(&node[1]), 0, "node b stops under the stream");
	hh_client_close(&s->c);
	hh_restart(&node[1]);
	ok(wait_status(c, hh_fmt("/v2/queues/%s/stats", q), 200, 20),
	   "node b is back");
	post_numbered(c, q, 7, 9);
	sse_open(s, q, last);
	ok(sse_events(s, 3, 10000), "reconnected with Last-Event-ID through "
	   "HAProxy, it gets what came since");
	is_str(sse_bodies(s, last, sizeof(last)), "7,8,9",
	       "each once, in order, none lost across the restart");
	hh_client_close(&s->c);
	free(s);
	hh_resp_free(&r);
}

/* --------------------------------------------------------------- checks */

static char queue[N_QUEUES][32];

static void through_haproxy(struct hh_client *c)
{
	struct hh_resp r = HH_RESP_INIT;
	int per_node[N_NODES] = {0};
	bool all_ok = true, read_ok = true, claim_ok = true, feed_ok = true;

	for (int i = 0; i < N_QUEUES; i++) {
		const char *q = queue[i];
		const char *base = hh_fmt("/v2/queues/%s", q);

		per_node[owner_of(q)]++;
		all_ok &= hh_call(c, &r, "PUT", base, "{}") == 201;
		all_ok &= hh_call(c, &r, "POST", hh_fmt("%s/messages", base),
				  hh_fmt("{\"messages\": [{\"body\": "
					 "{\"q\": \"%s\", \"n\": 1}}, {\"body\":"
					 " {\"q\": \"%s\", \"n\": 2}}]}",
					 q, q)) == 201;
		hh_call(c, &r, "GET", hh_fmt("%s/messages?echo=true", base),
			NULL);
		read_ok &= r.status == 200 &&
			   hh_len(r.json, "messages") == 2 &&
			   hh_geti(r.json, "messages.0.body.n") == 1 &&
			   hh_geti(r.json, "messages.1.body.n") == 2 &&
			   !strcmp(hh_gets(r.json, "messages.0.body.q"), q);
		hh_call(c, &r, "POST", hh_fmt("%s/claims?limit=1", base),
			"{\"ttl\": 60, \"grace\": 60}");
		claim_ok &= r.status == 201 && hh_len(r.json, "messages") == 1;
		hh_call(c, &r, "GET", hh_fmt("%s/feed.atom?project_id=cl",
					     base), NULL);
		feed_ok &= r.status == 200 && strstr(r.body, "<feed") &&
			   strstr(r.body, "<entry>");
	}
	ok(all_ok, "through HAProxy: %d queues created and posted to",
	   N_QUEUES);
	ok(read_ok, "through HAProxy: each one's messages read back, in "
		    "order, from its own node");
	ok(claim_ok, "through HAProxy: a claim on each");
	ok(feed_ok, "through HAProxy: each one's Atom feed");
	ok(per_node[0] && per_node[1] && per_node[2],
	   "the queues fall on all three nodes (%d, %d, %d)", per_node[0],
	   per_node[1], per_node[2]);
	hh_resp_free(&r);
}

/* Each node's own list (Herald-Local): exactly the queues of its
 * shards. */
static void each_node_holds_its_own(void)
{
	struct hh_resp r = HH_RESP_INIT;

	for (int n = 0; n < N_NODES; n++) {
		struct hh_client c;
		int want = 0, got = 0;
		bool only_own = true;

		hh_client_init(&c, &node[n], HH_CLIENT_A, "cl");
		for (int i = 0; i < N_QUEUES; i++)
			want += owner_of(queue[i]) == n;
		/* Herald-Local: the node's own queues, not gathered. */
		hh_callh(&c, &r, "GET", "/v2/queues?limit=20",
			 "Herald-Local: 1\r\n", NULL);
		json_t *qs = json_object_get(r.json, "queues");
		size_t k;
		json_t *v;

		json_array_foreach(qs, k, v) {
			const char *name = json_string_value(
				json_object_get(v, "name"));

			got++;
			only_own &= name && owner_of(name) == n;
		}
		ok(r.status == 200 && got == want && only_own,
		   "node %s holds exactly its %d queues (has %d)", names[n],
		   want, got);
		hh_client_close(&c);
	}
	hh_resp_free(&r);
}

static void misdirected(void)
{
	struct hh_resp r = HH_RESP_INIT;
	const char *q = queue[0];
	int own = owner_of(q), other = (own + 1) % N_NODES;
	struct hh_client c;
	struct wsc w;

	hh_client_init(&c, &node[other], HH_CLIENT_A, "cl");
	hh_call(&c, &r, "GET", hh_fmt("/v2/queues/%s/messages?echo=true", q),
		NULL);
	is(r.status, 421, "straight to node %s, %s's queue %s: 421",
	   names[other], names[own], q);
	is_str(hh_gets(r.json, "owner"), names[own],
	       "the JSON body names the owner");
	is(hh_geti(r.json, "shard"), (long long)shard_of(q),
	   "and the shard");
	ok(hh_gets(r.json, "title") && hh_gets(r.json, "description"),
	   "with a title and a description");
	is_str(hh_header(&r, "Herald-Owner"), names[own],
	       "Herald-Owner says so too");
	hh_call(&c, &r, "PUT", "/v2/queues/not-here-xyz", "{}");
	if (owner_of("not-here-xyz") != other) {
		is(r.status, 421, "a PUT of another node's queue: 421");
		hh_call(&c, &r, "GET", "/v2/queues?limit=20", NULL);
		ok(!strstr(r.body, "not-here-xyz"),
		   "and it was not created here");
	} else {
		is(r.status, 201, "(the name is this node's: created)");
		ok(true, "(nothing more to check)");
	}
	hh_client_close(&c);

	/* The stream URL: refused at the upgrade. */
	wsc_open(&w, &node[other],
		 hh_fmt("/v2/queues/%s/stream?project_id=cl&client_id=%s", q,
			HH_CLIENT_A), NULL);
	is(w.status, 421, "the stream URL of another node's queue: refused "
			  "with 421 at the upgrade");
	wsc_close(&w);
	/* /v2/ws subscribe. */
	ok(wsc_open(&w, &node[other], "/v2/ws", NULL) && w.status == 101,
	   "a /v2/ws connection to node %s", names[other]);
	json_t *res = act(&w, "subscribe",
			  "{\"Client-ID\": \"" HH_CLIENT_A "\", "
			  "\"X-Project-ID\": \"cl\"}",
			  hh_fmt("{\"queue_name\": \"%s\"}", q));

	is(hh_geti(res, "headers.status"), 421,
	   "its subscribe to another node's queue: 421");
	json_decref(res);
	wsc_close(&w);
	hh_resp_free(&r);
}

static void node_down(struct hh_client *c)
{
	struct hh_resp r = HH_RESP_INIT;
	const int down = 1;
	bool own_503 = true, json = true, others_ok = true;
	int n_down = 0;

	is(hh_stop(&node[down]), 0, "node %s stops", names[down]);
	for (int i = 0; i < N_QUEUES; i++) {
		hh_call(c, &r, "GET", hh_fmt("/v2/queues/%s/messages?echo="
					     "true", queue[i]), NULL);
		if (owner_of(queue[i]) == down) {
			n_down++;
			own_503 &= r.status == 503;
			json &= hh_gets(r.json, "title") != NULL;
		} else {
			others_ok &= r.status == 200;
		}
		if (r.closed)
			hh_client_close(c);
	}
	ok(n_down && own_503, "node %s down: its %d queues get 503 through "
	   "HAProxy", names[down], n_down);
	ok(json, "with a JSON body");
	ok(others_ok, "the other nodes' queues are served as before");
	hh_callh(c, &r, "GET", "/v2/health", "X-Roles: admin\r\n", NULL);
	is(r.status, 503, "/v2/health through HAProxy: 503 while node b is "
			  "down");
	hh_call(c, &r, "GET", "/v2/queues", NULL);
	ok(r.status == 503 && hh_gets(r.json, "description") &&
	   strstr(hh_gets(r.json, "description"), "Node b"),
	   "the project's queue list says 503, naming node b, rather than "
	   "leave its queues out (%d)", r.status);
	if (r.closed)
		hh_client_close(c);

	hh_restart(&node[down]);
	const char *q = NULL;

	for (int i = 0; i < N_QUEUES && !q; i++)
		if (owner_of(queue[i]) == down)
			q = queue[i];
	ok(wait_status(c, hh_fmt("/v2/queues/%s/messages?echo=true", q), 200,
		       20), "node %s back: HAProxy sends its queues to it "
			    "again", names[down]);
	bool kept = true;

	for (int i = 0; i < N_QUEUES; i++) {
		if (owner_of(queue[i]) != down)
			continue;
		hh_call(c, &r, "GET", hh_fmt("/v2/queues/%s/messages?echo="
					     "true&include_claimed=true",
					     queue[i]), NULL);
		kept &= r.status == 200 && hh_len(r.json, "messages") == 2;
	}
	ok(kept, "with every message it had");
	hh_resp_free(&r);
}

static void map_reload(void)
{
	struct hh_resp r = HH_RESP_INIT;
	const char *q = queue[0];
	int own = owner_of(q), to = (own + 1) % N_NODES;
	unsigned s = shard_of(q);
	struct hh_client c;
	FILE *f = fopen(path_of("shards.map"), "w");

	/* The same runs, with q's shard on `to`. */
	fprintf(f, "# moved shard %u\n", s);
	for (unsigned i = 0; i < SHARDS; i++)
		fprintf(f, "%u %s\n", i,
			names[i == s ? to : (int)((size_t)i * N_NODES /
						   SHARDS)]);
	fclose(f);
	for (int n = 0; n < N_NODES; n++)
		kill(node[n].pid, SIGHUP);
	hh_client_init(&c, &node[to], HH_CLIENT_A, "cl");
	ok(wait_status(&c, hh_fmt("/v2/queues/%s/stats", q), 404, 10) ||
	   wait_status(&c, hh_fmt("/v2/queues/%s/stats", q), 200, 1),
	   "after SIGHUP with a new map, node %s takes shard %u (no 421)",
	   names[to], s);
	hh_client_close(&c);
	hh_client_init(&c, &node[own], HH_CLIENT_A, "cl");
	hh_call(&c, &r, "GET", hh_fmt("/v2/queues/%s/stats", q), NULL);
	is(r.status, 421, "and node %s sends it away", names[own]);
	is_str(hh_header(&r, "Herald-Owner"), names[to],
	       "naming its new owner");
	hh_client_close(&c);

	/* HAProxy still sends it to the old node, which refuses it clearly,
	 * until its map changes too, at run time. */
	hh_client_init(&c, &proxy, HH_CLIENT_A, "cl");
	hh_call(&c, &r, "GET", hh_fmt("/v2/queues/%s/stats", q), NULL);
	is(r.status, 421, "through HAProxy before its map changes: the old "
			  "node's 421");
	const char *said = haproxy_cmd(hh_fmt("set map %s %u %s",
					      path_of("shards.map"), s,
					      names[to]));
	ok(strspn(said, "\n") == strlen(said),
	   "HAProxy's runtime API takes `set map FILE %u %s`", s, names[to]);
	hh_call(&c, &r, "GET", hh_fmt("/v2/queues/%s/stats", q), NULL);
	ok(r.status != 421 && r.status > 0, "then HAProxy sends the queue to "
	   "node %s (status %d)", names[to], r.status);
	hh_client_close(&c);

	/* A bad map is refused and the old one stays. */
	f = fopen(path_of("shards.map"), "w");
	fputs("0 a\n", f);
	fclose(f);
	kill(node[own].pid, SIGHUP);
	hh_client_init(&c, &node[own], HH_CLIENT_A, "cl");
	sleep_ms(300); /* the reload is asynchronous; the answer stays 421 */
	hh_call(&c, &r, "GET", hh_fmt("/v2/queues/%s/stats", q), NULL);
	is(r.status, 421, "a map missing shards is refused at SIGHUP: the "
			  "old one stays");
	hh_client_close(&c);
	hh_resp_free(&r);
}

int main(void)
{
	struct hh_client c;

	ok(cluster_start("herald-cluster", NULL) == 0,
	   "HAProxy is up in front of the nodes");
	hh_client_init(&c, &proxy, HH_CLIENT_A, "cl");
	for (int i = 0; i < N_QUEUES; i++)
		snprintf(queue[i], sizeof(queue[i]), "jobs-%02d", i);

	through_haproxy(&c);
	each_node_holds_its_own();
	list_across_nodes(&c, N_QUEUES);
	misdirected();
	node_down(&c);
	tail_across_restart(&c);
	sse_across_restart(&c);
	map_reload();
	hh_client_close(&c);
	return cluster_end();
}
