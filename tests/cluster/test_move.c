/*
 * test_move.c - a shard moved between nodes under load (docs/scale.md,
 * "Moving a shard"): three nodes behind HAProxy (cluster.c), a shard of
 * node a holding three queues, and a publisher posting to them (and to a
 * queue of another shard of a) through HAProxy without pause while
 * `herald cluster move` takes the shard to node b, retrying what is
 * refused with 503 or 421 (with its Idempotency-Key, as docs/scale.md
 * tells publishers to). Afterwards, through HAProxy, from b:
 *
 *   - every message whose POST got 201 is there, in order, exactly once,
 *     with the id its 201 gave;
 *   - a marker taken before the move reads on after it with no gap and
 *     no repeat; a claim taken before it is still held;
 *   - a holds none of them (its own list; 421 naming b);
 *   - writes were refused only while the command ran, and never to the
 *     other shard's queue.
 *
 * Before that, the admin endpoints one by one: the freeze's 503 (with
 * Retry-After and a JSON body) and what it leaves alone, admin only, a
 * bad blob's 400. After it, the command run again finishes nothing new.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cluster.h"

#define N_MOVED 3

/* moved[N_MOVED]: the live stream's queue, the publisher's not. */
static char moved[N_MOVED + 1][32], other[32];
static unsigned shard;

/* N_MOVED names of one shard of node a (and that shard), and a name of
 * another shard of a. */
static void pick_names(void)
{
	int found = 0;

	name_on(moved[0], sizeof(moved[0]), "mv", 0);
	shard = shard_of(moved[0]);
	found = 1;
	for (int i = 0; found < N_MOVED + 1; i++) {
		char q[32];

		snprintf(q, sizeof(q), "q%d", i);
		if (shard_of(q) == shard)
			snprintf(moved[found++], sizeof(moved[0]), "%s", q);
	}
	for (int i = 0;; i++) {
		snprintf(other, sizeof(other), "other-%d", i);
		if (owner_of(other) == 0 && shard_of(other) != shard)
			break;
	}
}

/* -------------------------------------------------------- the publisher */

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

/*
 * Child: posts {"n": N} to moved[N % 3] (and every fourth to `other`)
 * through HAProxy until SIGTERM, each with Idempotency-Key "Q-N",
 * retrying one until it gets its 201. Writes "ok Q N ID" for each 201
 * and "refused Q STATUS T" for each refusal (T: CLOCK_MONOTONIC) to out.
 */
static void publish(const char *out)
{
	FILE *f = fopen(out, "w");
	struct hh_client c;
	struct hh_resp r = HH_RESP_INIT;

	signal(SIGTERM, on_term);
	hh_client_init(&c, &proxy, HH_CLIENT_A, "cl");
	c.timeout_ms = 10000;
	for (int n = 1; !stop && f; n++) {
		const char *q = n % 4 == 0 ? other : moved[n % N_MOVED];
		int tries = 0;

		for (;;) {
			int st = hh_callh(&c, &r, "POST",
					  hh_fmt("/v2/queues/%s/messages", q),
					  hh_fmt("Idempotency-Key: %s-%d\r\n",
						 q, n),
					  hh_fmt("{\"messages\": [{\"body\": "
						 "{\"n\": %d}, \"ttl\": 3600}]}",
						 n));

			if (st == 201) {
				fprintf(f, "ok %s %d %s\n", q, n,
					hh_gets(r.json, "resources.0") ?
					hh_gets(r.json, "resources.0") : "-");
				break;
			}
			fprintf(f, "refused %s %d %.6f\n", q, st, hh_mono_s());
			if (r.closed || st < 0)
				hh_client_close(&c);
			if (++tries > 2000) {
				fprintf(f, "gave-up %s %d\n", q, n);
				break;
			}
			sleep_ms(20);
		}
	}
	if (f)
		fclose(f);
	hh_resp_free(&r);
	hh_client_close(&c);
	_exit(0); /* not exit(): the parent's atexit handlers are its own */
}

/* ----------------------------------------------------------- a stream */

/* Reads s until its response ends (the last chunk, or the connection
 * closed): true within ms. */
static bool sse_ended(struct sse_reader *s, int ms)
{
	for (;;) {
		struct pollfd p = {.fd = s->c.fd, .events = POLLIN};
		ssize_t k;

		if (strstr(s->buf, "\r\n0\r\n\r\n"))
			return true;
		if (s->len + 1 >= sizeof(s->buf) || poll(&p, 1, ms) <= 0)
			return false;
		k = read(s->c.fd, s->buf + s->len, sizeof(s->buf) - 1 - s->len);
		if (k <= 0)
			return true;
		s->len += (size_t)k;
		s->buf[s->len] = '\0';
	}
}

/* ---------------------------------------------------------------- reading */

/* Every message of q through c after marker ("" from the oldest), as
 * "n,n,..." (their bodies), their ids into ids (may be NULL); the gap
 * header if any read said one. */
static const char *read_all(struct hh_client *c, const char *q,
			    const char *marker, char (*ids)[32], int max,
			    bool *gap)
{
	static char out[65536];
	struct hh_resp r = HH_RESP_INIT;
	char m[64];
	size_t o = 0;
	int n = 0;

	out[0] = '\0';
	*gap = false;
	snprintf(m, sizeof(m), "%s", marker);
	for (int page = 0; page < 2000; page++) {
		hh_call(c, &r, "GET",
			hh_fmt("/v2/queues/%s/messages?echo=true&limit=20&"
			       "include_claimed=true%s%s", q,
			       m[0] ? "&marker=" : "", m), NULL);
		if (r.status != 200)
			break;
		*gap |= hh_header(&r, "Herald-Gap") != NULL;
		json_t *msgs = json_object_get(r.json, "messages");
		size_t k;
		json_t *v;

		if (!json_array_size(msgs))
			break;
		json_array_foreach(msgs, k, v) {
			const char *id = json_string_value(
				json_object_get(v, "id"));

			json_t *b = json_object_get(v, "body");

			/* {"n": N} from the publisher, N before it */
			if (json_is_object(b))
				b = json_object_get(b, "n");
			o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%lld",
					      o ? "," : "",
					      json_integer_value(b));
			if (ids && n < max && id)
				snprintf(ids[n], sizeof(ids[n]), "%s", id);
			n++;
		}
		const char *href = hh_gets(r.json, "links.0.href");
		const char *at = href ? strstr(href, "marker=") : NULL;

		if (!at)
			break;
		snprintf(m, sizeof(m), "%.*s", (int)strcspn(at + 7, "&"),
			 at + 7);
	}
	hh_resp_free(&r);
	return out;
}

/* ---------------------------------------------------- the endpoints alone */

static void endpoints(void)
{
	struct hh_resp r = HH_RESP_INIT;
	struct hh_client c;
	char q[32];
	unsigned s;

	/* A shard of node c, frozen by hand. */
	name_on(q, sizeof(q), "frz", 2);
	s = shard_of(q);
	hh_client_init(&c, &proxy, HH_CLIENT_A, "cl");
	is(hh_call(&c, &r, "PUT", hh_fmt("/v2/queues/%s", q), "{}"), 201,
	   "queue %s on node c", q);
	hh_client_close(&c);
	hh_client_init(&c, &node[2], HH_CLIENT_A, "cl");
	hh_call(&c, &r, "POST", hh_fmt("/v2/cluster/shards/%u/freeze", s),
		"{}");
	is(r.status, 403, "freeze without the admin role: 403");
	hh_callh(&c, &r, "POST", hh_fmt("/v2/cluster/shards/%u/freeze",
					s + 1 == SHARDS ? 0 : s + 1),
		 "X-Roles: admin\r\n", "{}");
	ok(r.status == 200 || r.status == 409, "(a neighbour shard: %d)",
	   r.status);
	hh_callh(&c, &r, "POST", hh_fmt("/v2/cluster/shards/%u/thaw",
					s + 1 == SHARDS ? 0 : s + 1),
		 "X-Roles: admin\r\n", "{}");
	hh_callh(&c, &r, "POST", hh_fmt("/v2/cluster/shards/%u/freeze", s),
		 "X-Roles: admin\r\n", "{}");
	is(r.status, 200, "freeze with it: 200");
	ok(hh_geti(r.json, "shard") == s && json_is_true(hh_get(r.json,
								"frozen")) &&
	   hh_len(r.json, "queues") == 1 &&
	   !strcmp(hh_gets(r.json, "queues.0.queue"), q) &&
	   hh_geti(r.json, "next_generation") > 1,
	   "it lists the shard's queue and the node's next generation");
	hh_client_close(&c);
	hh_client_init(&c, &proxy, HH_CLIENT_A, "cl");
	hh_call(&c, &r, "POST", hh_fmt("/v2/queues/%s/messages", q),
		"{\"messages\": [{\"body\": 1}]}");
	is(r.status, 503, "a post to a frozen shard: 503");
	is_str(hh_header(&r, "Retry-After"), "1", "Retry-After: 1");
	ok(json_is_true(hh_get(r.json, "moving")) &&
	   hh_gets(r.json, "description") &&
	   strstr(hh_gets(r.json, "description"), "moving"),
	   "a JSON body saying the shard is moving");
	is(hh_call(&c, &r, "DELETE", hh_fmt("/v2/queues/%s", q), NULL), 503,
	   "a queue delete too");
	is(hh_call(&c, &r, "GET", hh_fmt("/v2/queues/%s/messages?echo=true",
					 q), NULL), 200, "reads go on");
	is(hh_call(&c, &r, "PUT", "/v2/queues/jobs-unfrozen", "{}"), 201,
	   "other shards take writes");
	{
		char src[32];

		for (int i = 0;; i++) {
			snprintf(src, sizeof(src), "src-%d", i);
			if (owner_of(src) == 2 && shard_of(src) != s)
				break;
		}
		hh_call(&c, &r, "POST", hh_fmt("/v2/queues/%s/redrive", src),
			hh_fmt("{\"destination\": \"%s\"}", q));
		ok(r.status == 503 && json_is_true(hh_get(r.json, "moving")),
		   "a redrive from another shard into it: 503 too (%d)",
		   r.status);
	}
	hh_client_close(&c);
	hh_client_init(&c, &node[2], HH_CLIENT_A, "cl");
	hh_callh(&c, &r, "POST", hh_fmt("/v2/cluster/shards/%u/import", s),
		 "X-Roles: admin\r\n", "{\"blob\": \"bm90IGEgYmxvYg==\"}");
	ok(r.status == 400 && hh_gets(r.json, "description"),
	   "an import of a bad blob: 400 with a JSON body");
	hh_callh(&c, &r, "POST", hh_fmt("/v2/cluster/shards/%u/drop", s),
		 "X-Roles: admin\r\n", "{}");
	is(r.status, 409, "drop of a shard the node still owns: 409");
	hh_callh(&c, &r, "POST", hh_fmt("/v2/cluster/shards/%u/thaw", s),
		 "X-Roles: admin\r\n", "{}");
	is(r.status, 200, "thaw");
	hh_client_close(&c);
	hh_client_init(&c, &proxy, HH_CLIENT_A, "cl");
	is(hh_call(&c, &r, "POST", hh_fmt("/v2/queues/%s/messages", q),
		   "{\"messages\": [{\"body\": 1}]}"), 201,
	   "then the post goes through");
	hh_client_close(&c);
	hh_resp_free(&r);
}

/* A move to a node that does not answer stops before the map changes:
 * the shard stays on a, which takes writes again at once. */
static void stopped_early(void)
{
	struct hh_resp r = HH_RESP_INIT;
	struct hh_client c;
	char *said = NULL;
	char arg[3][300];

	snprintf(arg[0], sizeof(arg[0]), "%u", shard);
	snprintf(arg[1], sizeof(arg[1]), "a=127.0.0.1:%d", node[0].port);
	/* b's name at a port nobody listens on (1: privileged, unused). */
	snprintf(arg[2], sizeof(arg[2]), "b=127.0.0.1:1");
	const char *argv[] = {getenv("HERALD_BIN"), "cluster", "move", arg[0],
			      "--from", arg[1], "--to", arg[2], "--map",
			      map_path, NULL};

	is(hh_run(argv, path_of("move-fail.log"), &said), 3, "a move to a "
	   "node that does not answer fails (exit status 3)");
	ok(said && strstr(said, "stopped before the map changed") &&
	   strstr(said, "stays on a"), "saying the shard stays on a");
	for (char *p = said, *nl; p && (nl = strchr(p, '\n')); p = nl + 1)
		diag("%.*s", (int)(nl - p), p);
	free(said);
	said = NULL;
	const char *shard_argv[] = {getenv("HERALD_BIN"), "cluster", "shard",
				    "--map", map_path, moved[0], NULL};

	hh_run(shard_argv, path_of("shard0.log"), &said);
	ok(said && strstr(said, hh_fmt("%s %u a", moved[0], shard)),
	   "the map file still gives the shard to a");
	free(said);
	hh_client_init(&c, &proxy, HH_CLIENT_A, "cl");
	is(hh_call(&c, &r, "POST", hh_fmt("/v2/queues/%s/messages", moved[2]),
		   "{\"messages\": [{\"body\": 0}]}"), 201,
	   "and a takes writes to it again");
	hh_client_close(&c);
	hh_resp_free(&r);
}

/* POST /v2/cluster/shards/SHARD/what as an admin; the status. */
static int admin_post(struct hh_client *c, struct hh_resp *r,
		      const char *what, const char *body)
{
	return hh_callh(c, r, "POST", hh_fmt("/v2/cluster/shards/%u/%s",
					     shard, what),
			"X-Roles: admin\r\n", body);
}

/* ------------------------------------------------------------- the move */

struct acked {
	char ids[4096][32];
	int n[4096];
	int count;
};

static struct acked acked[N_MOVED + 1]; /* [N_MOVED]: `other` */

static int index_of(const char *q)
{
	for (int i = 0; i < N_MOVED; i++)
		if (!strcmp(q, moved[i]))
			return i;
	return !strcmp(q, other) ? N_MOVED : -1;
}

int main(void)
{
	struct hh_resp r = HH_RESP_INIT;
	struct hh_client c;
	char marker[64] = "", claim_href[256] = "", before[N_MOVED][8192];
	const char *pub_out, *cmd_log;
	double t0, t1;
	pid_t pub;
	bool gap;

	ok(cluster_start("herald-move", NULL) == 0,
	   "HAProxy is up in front of the nodes");
	pick_names();
	diag("moving shard %u (%s, %s, %s); %s stays", shard, moved[0],
	     moved[1], moved[2], other);
	endpoints();

	hh_client_init(&c, &proxy, HH_CLIENT_A, "cl");
	for (int i = 0; i < N_MOVED; i++) {
		hh_call(&c, &r, "PUT", hh_fmt("/v2/queues/%s", moved[i]), "{}");
		post_numbered(&c, moved[i], -3, -1);
	}
	/* A reader's place before the move, and a claim. */
	hh_call(&c, &r, "GET", hh_fmt("/v2/queues/%s/messages?echo=true&"
				      "limit=2", moved[0]), NULL);
	{
		const char *href = hh_gets(r.json, "links.0.href");
		const char *at = href ? strstr(href, "marker=") : NULL;

		if (at)
			snprintf(marker, sizeof(marker), "%.*s",
				 (int)strcspn(at + 7, "&"), at + 7);
	}
	ok(marker[0], "a reader's marker after two messages of %s: %s",
	   moved[0], marker);
	hh_call(&c, &r, "POST", hh_fmt("/v2/queues/%s/claims?limit=1",
				       moved[1]), "{\"ttl\": 300, \"grace\": 60}");
	is(r.status, 201, "a claim on %s", moved[1]);
	snprintf(claim_href, sizeof(claim_href), "%s",
		 hh_header(&r, "Location") ? hh_header(&r, "Location") : "");
	/* A topic of the same name: stored apart, in the same shard. */
	is(hh_call(&c, &r, "PUT", hh_fmt("/v2/topics/%s", moved[0]), "{}"),
	   201, "a topic %s too", moved[0]);
	for (int i = 7; i <= 8; i++)
		hh_call(&c, &r, "POST", hh_fmt("/v2/topics/%s/messages",
					       moved[0]),
			hh_fmt("{\"messages\": [{\"body\": %d}]}", i));

	/* A live SSE reader through HAProxy (so on a), following. */
	static struct sse_reader sse;
	char last[32] = "";

	hh_call(&c, &r, "PUT", hh_fmt("/v2/queues/%s", moved[N_MOVED]), "{}");
	sse_open(&sse, moved[N_MOVED], NULL);
	/* From now: the stream's head first, then the posts. */
	ok(!sse_events(&sse, 1, 1000) && strstr(sse.buf, "HTTP/1.1 200"),
	   "an SSE stream of %s through HAProxy, from now", moved[N_MOVED]);
	post_numbered(&c, moved[N_MOVED], 1, 3);
	ok(sse_events(&sse, 3, 10000) &&
	   !strcmp(sse_bodies(&sse, last, sizeof(last)), "1,2,3"),
	   "an SSE reader of %s through HAProxy follows it", moved[N_MOVED]);
	hh_client_close(&c);

	stopped_early();

	pub_out = hh_fmt("%s", path_of("published"));
	static char pub_path[300];

	snprintf(pub_path, sizeof(pub_path), "%s", pub_out);
	pub = fork();
	if (pub < 0)
		bail_out("fork: %s", strerror(errno));
	if (pub == 0)
		publish(pub_path);
	sleep_ms(700); /* load before the move; correctness needs none */

	/* Kept: it runs twice, and hh_fmt's buffers rotate. */
	static char arg[5][300];

	snprintf(arg[0], sizeof(arg[0]), "%u", shard);
	for (int i = 0; i < N_NODES; i++)
		snprintf(arg[1 + i], sizeof(arg[0]), "%s=127.0.0.1:%d",
			 names[i], node[i].port);
	snprintf(arg[4], sizeof(arg[0]), "%s", path_of("haproxy.sock"));
	const char *argv[] = {
		getenv("HERALD_BIN"), "cluster", "move", arg[0], "--from",
		arg[1], "--to", arg[2], "--node", arg[3], "--map", map_path,
		"--haproxy-socket", arg[4], NULL};
	char *said = NULL;

	cmd_log = path_of("move.log");
	t0 = hh_mono_s();
	is(hh_run(argv, cmd_log, &said), 0, "herald cluster move %u --from a "
	   "--to b, under load", shard);
	t1 = hh_mono_s();
	for (char *p = said, *nl; p && (nl = strchr(p, '\n')); p = nl + 1)
		diag("%.*s", (int)(nl - p), p);
	ok(said && strstr(said, "done: shard"), "it says it is done");
	free(said);
	sleep_ms(500); /* the publisher goes on, now to b */
	kill(pub, SIGTERM);
	waitpid(pub, NULL, 0);

	/* What the publisher was told. */
	FILE *f = fopen(pub_path, "r");
	char line[256], q[64], id[64];
	int n_ok = 0, refused_moved = 0, refused_other = 0, outside = 0;
	int gave_up = 0;
	double t;
	int st, num;

	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "ok %63s %d %63s", q, &num, id) == 3) {
			struct acked *a = &acked[index_of(q)];

			if (a->count < 4096) {
				a->n[a->count] = num;
				snprintf(a->ids[a->count], sizeof(a->ids[0]),
					 "%.31s", strrchr(id, '/') ?
					 strrchr(id, '/') + 1 : id);
				a->count++;
			}
			n_ok++;
		} else if (sscanf(line, "refused %63s %d %lf", q, &st, &t) ==
			   3) {
			if (index_of(q) == N_MOVED)
				refused_other++;
			else
				refused_moved++;
			outside += t < t0 || t > t1;
		} else if (!strncmp(line, "gave-up", 7)) {
			gave_up++;
		}
	}
	if (f)
		fclose(f);
	diag("%d posts acknowledged, %d refusals to the moving shard during "
	     "%.3f s", n_ok, refused_moved, t1 - t0);
	ok(n_ok > 50 && !gave_up, "the publisher went on throughout (%d "
	   "acknowledged, %d given up)", n_ok, gave_up);
	for (int i = 0; i < N_MOVED; i++)
		ok(acked[i].count > 5, "%s got %d of them", moved[i],
		   acked[i].count);
	is(refused_other, 0, "no write to the other shard's queue %s was "
	   "refused", other);
	is(outside, 0, "writes to the moving shard were refused only while "
	   "the command ran");

	/* Through HAProxy, now from b: every acknowledged message once, in
	 * order, with the id it was acknowledged with. */
	hh_client_init(&c, &proxy, HH_CLIENT_B, "cl");
	for (int i = 0; i < N_MOVED; i++) {
		static char ids[5000][32];
		char want[65536];
		size_t o = 0;
		bool ids_ok = true;

		/* stopped_early()'s post to moved[2]: 0 */
		o += (size_t)snprintf(want, sizeof(want), "-3,-2,-1%s",
				      i == 2 ? ",0" : "");
		for (int k = 0; k < acked[i].count; k++)
			o += (size_t)snprintf(want + o, sizeof(want) - o,
					      ",%d", acked[i].n[k]);
		snprintf(before[i], sizeof(before[i]), "%s",
			 read_all(&c, moved[i], "", ids, 5000, &gap));
		for (int k = 0; k < acked[i].count; k++)
			ids_ok &= !strcmp(ids[k + 3 + (i == 2)],
					  acked[i].ids[k]);
		ok(!strcmp(before[i], want), "%s through HAProxy: the 3 "
		   "posted before and each of the %d acknowledged, once, in "
		   "order", moved[i], acked[i].count);
		if (strcmp(before[i], want))
			diag("got  %.300s\nwant %.300s", before[i], want);
		ok(ids_ok, "with the ids their 201s gave");
	}
	const char *after = read_all(&c, moved[0], marker, NULL, 0, &gap);

	ok(!gap && !strcmp(after, before[0] + strlen("-3,-2,")),
	   "the marker taken before the move reads on from the third "
	   "message: no gap, no repeat");
	hh_call(&c, &r, "GET", claim_href, NULL);
	ok(r.status == 200 && hh_len(r.json, "messages") == 1,
	   "the claim taken before the move is still held (%d)", r.status);
	hh_call(&c, &r, "GET", hh_fmt("/v2/topics/%s/messages?echo=true",
				      moved[0]), NULL);
	ok(r.status == 200 && hh_len(r.json, "messages") == 2 &&
	   hh_geti(r.json, "messages.1.body") == 8,
	   "the topic moved with them (%d)", r.status);
	/* The stream on a ended with the move; the reader reconnects with
	 * Last-Event-ID, as an EventSource does, and reads on from b. */
	ok(sse_ended(&sse, 5000), "the SSE stream a served has ended");
	hh_client_close(&sse.c);
	post_numbered(&c, moved[N_MOVED], 4, 6);
	sse_open(&sse, moved[N_MOVED], last);
	ok(sse_events(&sse, 3, 10000), "reconnected with Last-Event-ID, it "
	   "gets what came since");
	is_str(sse_bodies(&sse, last, sizeof(last)), "4,5,6",
	       "from b: no gap, no repeat");
	hh_client_close(&sse.c);
	hh_client_close(&c);

	/* a holds none; b holds them. */
	hh_client_init(&c, &node[0], HH_CLIENT_A, "cl");
	hh_callh(&c, &r, "GET", "/v2/queues?limit=20", "Herald-Local: 1\r\n",
		 NULL);
	bool none = r.status == 200;

	for (int i = 0; i < N_MOVED; i++)
		none &= !strstr(r.body, hh_fmt("\"%s\"", moved[i]));
	ok(none, "node a lists none of the shard's queues");
	hh_call(&c, &r, "GET", hh_fmt("/v2/queues/%s/stats", moved[0]), NULL);
	is(r.status, 421, "and sends them away");
	is_str(hh_header(&r, "Herald-Owner"), "b", "to b");
	hh_client_close(&c);
	hh_client_init(&c, &node[1], HH_CLIENT_A, "cl");
	hh_call(&c, &r, "GET", hh_fmt("/v2/queues/%s/stats", moved[2]), NULL);
	is(r.status, 200, "node b serves them itself");

	/* A copy of the shard on c, which does not own it (a failed
	 * move's, say): kept unless frozen or forced. */
	static char blob_req[65536];
	const char *which = hh_fmt("{\"project\": \"cl\", \"queue\": "
				   "\"%s\"}", moved[N_MOVED]);

	is(admin_post(&c, &r, "export", which), 409,
	   "b will not export a shard it takes writes for");
	admin_post(&c, &r, "freeze", "{}");
	is(admin_post(&c, &r, "export", which), 200, "frozen, it exports");
	snprintf(blob_req, sizeof(blob_req), "{\"blob\": \"%s\"}",
		 hh_gets(r.json, "blob") ? hh_gets(r.json, "blob") : "");
	admin_post(&c, &r, "thaw", "{}");
	hh_client_close(&c);
	hh_client_init(&c, &node[2], HH_CLIENT_A, "cl");
	is(admin_post(&c, &r, "import", blob_req), 201, "c imports it");
	is(admin_post(&c, &r, "import", blob_req), 409,
	   "a second import of it: 409");
	ok(admin_post(&c, &r, "drop", "{}") == 409 && strstr(r.body, "force"),
	   "c's copy is not dropped while the shard is not frozen there "
	   "(409)");
	ok(admin_post(&c, &r, "drop?force=true", "{}") == 200 &&
	   hh_geti(r.json, "dropped") == 1, "with force=true it is");
	hh_client_close(&c);

	/* The map says so, and a second run has nothing left to do. */
	const char *shard_argv[] = {getenv("HERALD_BIN"), "cluster", "shard",
				    "--map", map_path, moved[0], NULL};

	said = NULL;
	hh_run(shard_argv, path_of("shard.log"), &said);
	ok(said && strstr(said, hh_fmt("%s %u b", moved[0], shard)),
	   "the map file gives shard %u to b", shard);
	free(said);
	said = NULL;
	is(hh_run(argv, path_of("move2.log"), &said), 0, "the command run "
	   "again: done");
	ok(said && strstr(said, "already") && strstr(said, "dropped its 0"),
	   "it finds the map flipped and nothing left on a");
	free(said);
	hh_client_init(&c, &proxy, HH_CLIENT_B, "cl");
	ok(!strcmp(read_all(&c, moved[1], "", NULL, 0, &gap), before[1]),
	   "and the queues are as they were");
	hh_client_close(&c);
	hh_resp_free(&r);
	return cluster_end();
}
