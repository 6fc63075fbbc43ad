/*
 * test_metrics.c - GET /metrics end to end, read by the reference parser
 * (Debian's python3-prometheus-client, through metrics_parse.py), and
 * the health report that costs nothing.
 *
 *   - counters move by exactly what the test did: posts (messages and
 *     requests), group commits and their sizes, claims, a 404, a
 *     WebSocket subscriber, body bytes; gauges say what is stored;
 *   - route labels are the route table's patterns, never a queue name;
 *   - N health calls make zero commits (and no queue), with Zaqar's
 *     answer shape;
 *   - access: token mode answers 401 with a JSON body without the token
 *     or with a wrong one, 200 with it; off makes the route a 404.
 *
 * The servers run with compaction's timer out of the way (its steps are
 * group commits too), so every commit counted is one of the test's.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "wsc.h"

#define PROJECT "metrics"
#define TOKEN "scrape-token-7"
/* printf %s scrape-token-7 | sha256sum */
#define TOKEN_SHA256                                                           \
	"a81dc43bb1bf3eb5dc3df2cded6a5f8a93c1c8c3a3706e28714100b37e9c0aeb"
#define TOKEN2 "scrape-token-8"
#define TOKEN2_SHA256                                                          \
	"6a959a2c394dc01b59c1879528f672382592370f1181534e2c666c06b2ac8315"
#define POST_ROUTE "route=/v2/queues/{queue}/messages"
#define CLAIM_ROUTE "route=/v2/queues/{queue}/claims"

static const char *const quiet[] = {"--compact-interval", "3600000", NULL};

/* metrics_parse.py's exit code when prometheus_client is missing. */
#define PARSER_MISSING 77

static bool parser_missing;

/*
 * Runs the parser on text: its JSON ({"types", "samples"}, new
 * reference), or NULL when it failed (said with diag) or is missing.
 */
static json_t *parse(const char *text, size_t len)
{
	char in[] = "/tmp/herald-metrics-XXXXXX";
	const char *parser = getenv("HERALD_METRICS_PARSER");
	json_error_t err;
	json_t *j = NULL;
	int fd = mkstemp(in), status;
	FILE *p;

	if (fd < 0 || !parser)
		return NULL;
	if (write(fd, text, len) != (ssize_t)len) {
		close(fd);
		unlink(in);
		return NULL;
	}
	close(fd);
	p = popen(hh_fmt("/usr/bin/python3 %s < %s", parser, in), "r");
	if (p) {
		j = json_loadf(p, 0, &err);
		status = pclose(p);
		if (WIFEXITED(status) && WEXITSTATUS(status) == PARSER_MISSING)
			parser_missing = true;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			json_decref(j);
			j = NULL;
		}
	}
	unlink(in);
	return j;
}

/* One scrape, parsed: NULL when it was not a 200 or did not parse. */
static json_t *scrape(struct hh_client *c, const char *headers)
{
	struct hh_resp r = HH_RESP_INIT;
	const char *type;
	json_t *j = NULL;

	hh_callh(c, &r, "GET", "/metrics", headers, NULL);
	type = hh_header(&r, "Content-Type");
	if (r.status == 200 && type &&
	    strstr(type, "text/plain; version=0.0.4"))
		j = parse(r.body, r.body_len);
	else
		diag("GET /metrics: %d %s", r.status, type ? type : "");
	hh_resp_free(&r);
	return j;
}

/* A sample's value ("name{k=v,...}", labels sorted); -1 when absent. */
static double val(json_t *m, const char *key)
{
	json_t *v = json_object_get(json_object_get(m, "samples"), key);

	return v ? json_number_value(v) : -1;
}

/* A sample's change between two scrapes (absent counts as 0). */
static double delta(json_t *a, json_t *b, const char *key)
{
	double va = val(a, key), vb = val(b, key);

	return (vb < 0 ? 0 : vb) - (va < 0 ? 0 : va);
}

static const char *family_type(json_t *m, const char *name)
{
	return json_string_value(
		json_object_get(json_object_get(m, "types"), name));
}

/* Posts n small messages in one request; returns the body's length. */
static size_t post(struct hh_client *c, const char *queue, int n)
{
	char body[1024] = "{\"messages\": [";
	struct hh_resp r = HH_RESP_INIT;

	for (int i = 0; i < n; i++)
		snprintf(body + strlen(body), sizeof(body) - strlen(body),
			 "%s{\"ttl\": 300, \"body\": {\"n\": %d}}",
			 i ? ", " : "", i);
	strcat(body, "]}");
	hh_call(c, &r, "POST", hh_fmt("/v2/queues/%s/messages", queue), body);
	is(r.status, 201, "post of %d messages to %s: 201", n, queue);
	hh_resp_free(&r);
	return strlen(body);
}

/* The test's own traffic, then what the counters say of it. */
static void counters(struct hh_server *s, struct hh_client *c)
{
	struct hh_resp r = HH_RESP_INIT;
	struct wsc w, st;
	json_t *a, *b, *j;
	size_t in = 0;
	const char *claim_body = "{\"ttl\": 60, \"grace\": 60}";

	a = scrape(c, NULL);
	if (parser_missing) {
		skip_all("no python3-prometheus-client for /usr/bin/python3");
	}
	ok(a != NULL, "the first scrape parses");
	in += post(c, "q1", 3);
	in += post(c, "q2", 2);
	hh_call(c, &r, "POST", "/v2/queues/q1/claims?limit=2", claim_body);
	is(r.status, 201, "a claim of 2: 201");
	is(hh_len(r.json, "messages"), 2, "it took 2 messages");
	in += strlen(claim_body);
	hh_call(c, &r, "GET", "/v2/nowhere/at/all", NULL);
	is(r.status, 404, "an unknown path: 404");
	ok(wsc_open(&w, s, "/v2/ws", "herald.v1") && w.status == 101,
	   "a WebSocket connects");
	j = act(&w, "subscribe",
		"{\"Client-ID\": \"" HH_CLIENT_A "\", \"X-Project-ID\": \""
		PROJECT "\"}", "{\"queue_name\": \"q1\"}");
	is(hh_geti(j, "headers.status"), 201, "it subscribes to q1");
	json_decref(j);
	ok(wsc_open(&st, s, "/v2/queues/q2/stream?client_id=" HH_CLIENT_A
		    "&project_id=" PROJECT, NULL) && st.status == 101,
	   "the stream URL of q2 connects");

	b = scrape(c, NULL);
	ok(b != NULL, "the second scrape parses");
	is(delta(a, b, "herald_messages_posted_total"), 5,
	   "messages posted: +5");
	is(delta(a, b, "herald_messages_claimed_total"), 2,
	   "messages claimed: +2");
	/* Each request waited for its own commit: nothing else ran. */
	is(delta(a, b, "herald_group_commits_total"), 3,
	   "group commits: +3 (two posts, one claim)");
	is(delta(a, b, "herald_group_commit_jobs_count"), 3,
	   "commit size histogram: 3 more observations");
	is(delta(a, b, "herald_group_commit_jobs_sum"), 3,
	   "... of one job each");
	is(delta(a, b, "herald_group_commit_duration_seconds_count"), 3,
	   "commit duration histogram: 3 more observations");
	is(delta(a, b, "herald_http_requests_total{code=201,method=POST,"
		 POST_ROUTE "}"), 2, "POST messages answered 201: +2");
	is(delta(a, b, "herald_http_requests_total{code=201,method=POST,"
		 CLAIM_ROUTE "}"), 1, "POST claims answered 201: +1");
	is(delta(a, b, "herald_http_requests_total{code=404,method=GET,"
		 "route=unmatched}"), 1, "unmatched paths answered 404: +1");
	is(delta(a, b, "herald_http_requests_total{code=200,method=GET,"
		 "route=/metrics}"), 1, "the first scrape counted once");
	is(delta(a, b, "herald_http_request_duration_seconds_count{method=POST,"
		 POST_ROUTE "}"), 2, "POST messages latency: 2 observations");
	is(delta(a, b, "herald_http_request_duration_seconds_bucket{le=+Inf,"
		 "method=POST," POST_ROUTE "}"), 2, "... the +Inf bucket too");
	is(delta(a, b, "herald_received_bytes_total{transport=http}"),
	   (double)in, "HTTP body bytes received: exactly the bodies sent");
	ok(delta(a, b, "herald_received_bytes_total{transport=ws}") > 0,
	   "WebSocket bytes received moved");
	is(val(b, "herald_subscribers{transport=ws}"), 1,
	   "subscribers on WebSocket: 1");
	is(val(b, "herald_subscribers{transport=stream}"), 1,
	   "subscribers on the stream URL: 1");
	is(val(b, "herald_subscribers{transport=sse}"), 0,
	   "subscribers on SSE: 0");
	is(val(b, "herald_queues"), 2, "queues: 2");
	is(val(b, "herald_messages_stored"), 5, "messages stored: 5");
	is(val(b, "herald_claims_stored"), 1, "claims stored: 1");
	is(val(b, "herald_storage_up"), 1, "storage up");
	ok(val(b, "herald_lmdb_map_used_bytes") > 0 &&
	   val(b, "herald_lmdb_map_used_bytes") <=
		   val(b, "herald_lmdb_map_size_bytes") &&
	   val(b, "herald_lmdb_map_size_bytes") <=
		   val(b, "herald_lmdb_map_max_bytes"),
	   "LMDB map: 0 < used <= size <= max");
	ok(family_type(b, "herald_http_requests") &&
	   strcmp(family_type(b, "herald_http_requests"), "counter") == 0,
	   "requests are a counter");
	ok(family_type(b, "herald_http_request_duration_seconds") &&
	   strcmp(family_type(b, "herald_http_request_duration_seconds"),
		  "histogram") == 0, "latency is a histogram");
	ok(family_type(b, "herald_subscribers") &&
	   strcmp(family_type(b, "herald_subscribers"), "gauge") == 0,
	   "subscribers are a gauge");
	{
		const char *key;
		json_t *v;
		bool named = false;

		json_object_foreach(json_object_get(b, "samples"), key, v)
			named |= strstr(key, "q1") || strstr(key, "q2") ||
				 strstr(key, "nowhere");
		ok(!named, "no label holds a queue name or a raw path");
	}
	wsc_close(&w);
	wsc_close(&st);
	json_decref(a);
	json_decref(b);
	hh_resp_free(&r);
}

/* N health calls: the answer's shape, and nothing written. */
static void health(struct hh_client *c)
{
	static const char *const ops[] = {
		"create_queue", "post_messages", "claim_messages",
		"list_messages", "delete_messages", "delete_claim",
		"bulk_delete_messages", "delete_queue",
	};
	struct hh_resp r = HH_RESP_INIT;
	json_t *a, *b;
	bool shape = true;
	int n = 5;

	a = scrape(c, NULL);
	for (int i = 0; i < n; i++) {
		hh_callh(c, &r, "GET", i % 2 ? "/v1.1/health" : "/v2/health",
			 "X-Roles: admin\r\n", NULL);
		shape &= r.status == 200 &&
			 hh_keys_are(r.json, "storage_reachable,"
				     "operation_status") &&
			 json_is_true(json_object_get(r.json,
						      "storage_reachable")) &&
			 json_object_size(hh_get(r.json, "operation_status")) ==
				 8;
		for (size_t k = 0; k < sizeof(ops) / sizeof(*ops); k++) {
			json_t *op = hh_get(r.json,
					    hh_fmt("operation_status.%s", ops[k]));

			shape &= hh_keys_are(op, "succeeded,seconds,ref") &&
				 json_is_true(json_object_get(op, "succeeded")) &&
				 json_is_real(json_object_get(op, "seconds")) &&
				 json_is_null(json_object_get(op, "ref"));
		}
	}
	ok(shape, "%d health calls: 200, Zaqar's shape, every operation "
	   "succeeded", n);
	hh_call(c, &r, "GET", "/v2/health", NULL);
	is(r.status, 403, "v2 health without the admin role: still 403");
	b = scrape(c, NULL);
	is(delta(a, b, "herald_group_commits_total"), 0,
	   "%d health calls: zero group commits", n);
	/* Every write goes through the writer (only it opens write
	 * transactions): Zaqar's cycle ran as a solo job of 8 commits. */
	is(delta(a, b, "herald_writer_solo_jobs_total"), 0,
	   "... and zero solo writer jobs");
	is(delta(a, b, "herald_queues"), 0, "... and no queue made");
	is(delta(a, b, "herald_messages_stored"), 0, "... nor any message");
	json_decref(a);
	json_decref(b);
	hh_resp_free(&r);
}

/* Whether the server's log has a line with text in it. */
static bool log_has(const struct hh_server *s, const char *text)
{
	char line[1024];
	bool found = false;
	FILE *f = fopen(s->log, "r");

	while (f && !found && fgets(line, sizeof(line), f))
		found = strstr(line, text) != NULL;
	if (f)
		fclose(f);
	return found;
}

/* metrics = token, then metrics = off. */
static void access_modes(void)
{
	struct hh_server s;
	struct hh_client c;
	struct hh_resp r = HH_RESP_INIT;
	char file[] = "/tmp/herald-metrics-token-XXXXXX";
	int fd = mkstemp(file);
	const char *extra[] = {"--compact-interval", "3600000", "--metrics",
			       "token", "--metrics-token-file", file, NULL};
	json_t *m;

	if (fd < 0 || write(fd, TOKEN_SHA256 "\n", 65) != 65)
		bail_out("cannot write the token file");
	close(fd);
	hh_start(&s, extra);
	hh_client_init(&c, &s, NULL, NULL);
	hh_call(&c, &r, "GET", "/metrics", NULL);
	expect_4xx(&r, 401, "token mode, no Authorization");
	ok(hh_header(&r, "WWW-Authenticate") != NULL,
	   "... with a WWW-Authenticate challenge");
	hh_callh(&c, &r, "GET", "/metrics",
		 "Authorization: Bearer not-the-token\r\n", NULL);
	expect_4xx(&r, 401, "token mode, a wrong token");
	hh_callh(&c, &r, "GET", "/metrics", "Authorization: " TOKEN "\r\n",
		 NULL);
	expect_4xx(&r, 401, "token mode, the token without Bearer");
	m = scrape(&c, "Authorization: Bearer " TOKEN "\r\n");
	ok(m != NULL, "token mode, the token: 200, and it parses");
	is(val(m, "herald_http_rejected_total{reason=metrics_auth}"), 3,
	   "the three refused scrapes are counted as rejected");
	is(val(m, "herald_http_requests_total{code=401,method=GET,"
	       "route=/metrics}"), 3, "... and as 401s of the route");
	json_decref(m);

	/* SIGHUP re-reads the file: the new token works on the same
	 * connection (polled: the signal is handled by the next loop pass),
	 * the old one no longer does; a bad file keeps the token. */
	fd = open(file, O_WRONLY | O_TRUNC);
	if (fd < 0 || write(fd, TOKEN2_SHA256 "\n", 65) != 65)
		bail_out("cannot rewrite the token file");
	close(fd);
	kill(s.pid, SIGHUP);
	for (int i = 0; i < 300; i++) {
		hh_callh(&c, &r, "GET", "/metrics",
			 "Authorization: Bearer " TOKEN2 "\r\n", NULL);
		if (r.status == 200)
			break;
		usleep(10000);
	}
	is(r.status, 200, "after SIGHUP the new scrape token works");
	hh_callh(&c, &r, "GET", "/metrics",
		 "Authorization: Bearer " TOKEN "\r\n", NULL);
	expect_4xx(&r, 401, "... and the old one is refused");
	fd = open(file, O_WRONLY | O_TRUNC);
	if (fd < 0 || write(fd, "not a hash\n", 11) != 11)
		bail_out("cannot rewrite the token file");
	close(fd);
	kill(s.pid, SIGHUP);
	for (int i = 0; i < 300 && !log_has(&s, "metrics: reload failed");
	     i++)
		usleep(10000);
	ok(log_has(&s, "metrics: reload failed"),
	   "a bad token file on reload is logged");
	hh_callh(&c, &r, "GET", "/metrics",
		 "Authorization: Bearer " TOKEN2 "\r\n", NULL);
	is(r.status, 200, "... and the token it had keeps working");
	hh_client_close(&c);
	is(hh_discard(&s), 0, "the token-mode server stops cleanly");
	unlink(file);

	{
		const char *off[] = {"--metrics", "off", NULL};

		hh_start(&s, off);
		hh_client_init(&c, &s, NULL, NULL);
		hh_call(&c, &r, "GET", "/metrics", NULL);
		expect_error(&r, 404, "404 Not Found", NULL,
			     "metrics off: the route's 404 is routing's own");
		hh_client_close(&c);
		is(hh_discard(&s), 0, "the metrics-off server stops cleanly");
	}
	hh_resp_free(&r);
}

int main(void)
{
	struct hh_server s;
	struct hh_client c;

	hh_start(&s, quiet);
	hh_client_init(&c, &s, HH_CLIENT_A, PROJECT);
	counters(&s, &c);
	if (!parser_missing) {
		health(&c);
		access_modes();
	}
	hh_client_close(&c);
	return hh_finish(&s);
}
