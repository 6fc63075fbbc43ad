/*
 * test_auth.c - who may do what (hub/auth.c, docs/security.md), end to
 * end: the `tokens` strategy (401 vs 403 bodies, roles, queue patterns,
 * X-Roles and X-Project-Id not counting, pre-signed URLs, SIGHUP reloads
 * on a connection kept open, a bad file kept out), WebSocket
 * authentication (the action, the upgrade), protected mode under `none`,
 * and the hostile-testing defects #1 and #4 of issue #12.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "wsc.h"

#define CLIENT "Client-ID: " HH_CLIENT_A "\r\n"

static char keydir[] = "/tmp/herald-auth-XXXXXX";
static char tokens_path[256];

/* SHA-256 hex of a token, by the CLI under test's own command. */
static const char *hash_of(const char *token)
{
	static char out[8][80];
	static int next;
	char *buf = out[next++ % 8];
	FILE *p = popen(hh_fmt("'%s' token hash '%s'", getenv("HERALD_BIN"),
			       token), "r");

	if (!p || !fgets(buf, 80, p))
		bail_out("herald token hash failed");
	pclose(p);
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs(text, f) < 0 || fclose(f))
		bail_out("cannot write %s", path);
}

static void write_tokens(bool with_read, bool with_new)
{
	char text[4096];

	snprintf(text, sizeof(text),
		 "# token file of test_auth\n"
		 "%s shop publish\n"
		 "%s shop manage,publish,consume orders-*\n"
		 "%s * admin\n"
		 "%s shop subscribe orders-*\n"
		 "%s%s%s"
		 "%s%s%s",
		 hash_of("pubtok"), hash_of("mgrtok"), hash_of("admintok"),
		 hash_of("subtok"), with_read ? hash_of("readtok") : "",
		 with_read ? " shop read\n" : "", "",
		 with_new ? hash_of("newtok") : "",
		 with_new ? " shop read\n" : "", "");
	write_file(tokens_path, text);
}

static const char *bearer(const char *token)
{
	return hh_fmt("Authorization: Bearer %s\r\n", token);
}

static const char *xauth(const char *token)
{
	return hh_fmt("X-Auth-Token: %s\r\n", token);
}

/* 401 or 403 with a JSON body (title and description). */
static void refused(const struct hh_resp *r, int status, const char *name)
{
	expect_4xx(r, status, name);
	if (status == 401)
		ok(hh_header(r, "WWW-Authenticate") != NULL,
		   "%s: WWW-Authenticate", name);
}

static void roles_and_queues(struct hh_client *c, struct hh_resp *r)
{
	hh_callh(c, r, "GET", "/v2/queues", CLIENT, NULL);
	refused(r, 401, "no credentials: 401");
	ok(hh_gets(r->json, "title") && !strcmp(hh_gets(r->json, "title"),
						"Unauthorized"),
	   "401's title is Unauthorized");
	hh_callh(c, r, "GET", "/v2/queues", hh_fmt(CLIENT "%s", bearer("nope")),
		 NULL);
	refused(r, 401, "an unknown token: 401");
	hh_callh(c, r, "GET", "/v2/queues",
		 CLIENT "Authorization: Basic dTpw\r\n", NULL);
	refused(r, 401, "a Basic credential: 401");
	hh_callh(c, r, "GET", "/v2/health", CLIENT "X-Roles: admin\r\n", NULL);
	refused(r, 401, "X-Roles alone counts for nothing");
	hh_callh(c, r, "GET", "/v2/health",
		 hh_fmt(CLIENT "X-Roles: admin\r\n%s", xauth("pubtok")), NULL);
	refused(r, 403, "X-Roles: admin with a publish token: 403");
	hh_callh(c, r, "GET", "/v2/health", hh_fmt(CLIENT "%s", xauth("admintok")),
		 NULL);
	is(r->status, 200, "the admin token reads the health report");

	/* X-Project-Id does not choose the project of a token that has one. */
	hh_callh(c, r, "PUT", "/v2/queues/orders-1",
		 hh_fmt(CLIENT "X-Project-Id: elsewhere\r\n%s", bearer("mgrtok")),
		 NULL);
	is(r->status, 201, "manage token creates orders-1");
	hh_callh(c, r, "PUT", "/v2/queues/orders-2",
		 hh_fmt(CLIENT "%s", bearer("mgrtok")), NULL);
	is(r->status, 201, "and orders-2");
	hh_callh(c, r, "PUT", "/v2/queues/secret",
		 hh_fmt(CLIENT "%s", bearer("mgrtok")), NULL);
	refused(r, 403, "a queue outside the token's patterns: 403");
	hh_callh(c, r, "PUT", "/v2/queues/secret",
		 hh_fmt(CLIENT "X-Project-Id: shop\r\n%s", xauth("admintok")),
		 NULL);
	is(r->status, 201, "a \"*\" admin token names its project: secret in shop");
	hh_callh(c, r, "GET", "/v2/queues",
		 hh_fmt(CLIENT "X-Project-Id: elsewhere\r\n%s", xauth("admintok")),
		 NULL);
	is(hh_len(r->json, "queues"), 0,
	   "project elsewhere has no queues: orders-1 went to the token's");
	hh_callh(c, r, "GET", "/v2/queues", hh_fmt(CLIENT "%s", xauth("mgrtok")),
		 NULL);
	ok(r->status == 200 && hh_len(r->json, "queues") == 2 &&
	   !strcmp(hh_gets(r->json, "queues.0.name"), "orders-1") &&
	   !strcmp(hh_gets(r->json, "queues.1.name"), "orders-2"),
	   "listing shows the manage token only orders-*");
	hh_callh(c, r, "GET", "/v2/queues", hh_fmt(CLIENT "%s", xauth("readtok")),
		 NULL);
	is(hh_len(r->json, "queues"), 3, "a read token without patterns sees all 3");

	hh_callh(c, r, "POST", "/v2/queues/orders-1/messages",
		 hh_fmt(CLIENT "%s", xauth("pubtok")),
		 "{\"messages\": [{\"ttl\": 300, \"body\": {\"n\": 1}}]}");
	ok(r->status == 201, "publish token posts (got %d %s)", r->status, r->body);
	hh_callh(c, r, "GET", "/v2/queues/orders-1/messages?echo=true",
		 hh_fmt(CLIENT "%s", xauth("pubtok")), NULL);
	refused(r, 403, "publish token cannot read");
	hh_callh(c, r, "GET", "/v2/queues/orders-1/messages?echo=true",
		 hh_fmt(CLIENT "%s", xauth("readtok")), NULL);
	ok(r->status == 200 && hh_len(r->json, "messages") == 1,
	   "read token reads the message");
	hh_callh(c, r, "POST", "/v2/queues/orders-1/messages",
		 hh_fmt(CLIENT "%s", xauth("readtok")),
		 "{\"messages\": [{\"body\": 1}]}");
	refused(r, 403, "read token cannot post");
	hh_callh(c, r, "POST", "/v2/queues/orders-1/claims",
		 hh_fmt(CLIENT "%s", xauth("readtok")), "{}");
	refused(r, 403, "read token cannot claim");
	hh_callh(c, r, "DELETE", "/v2/queues/orders-2",
		 hh_fmt(CLIENT "%s", xauth("pubtok")), NULL);
	refused(r, 403, "publish token cannot delete a queue");
	hh_callh(c, r, "GET", "/v2/queues/orders-1/events",
		 hh_fmt(CLIENT "%s", xauth("readtok")), NULL);
	refused(r, 403, "read token cannot open a live stream (subscribe)");
	hh_callh(c, r, "GET", "/v2/ping", CLIENT, NULL);
	is(r->status, 204, "ping needs no credentials");
}

/* The head of a streaming answer to GET path (an SSE stream never ends,
 * so the harness's reader would wait for its close): static buffer. */
static const char *stream_head(const struct hh_server *s, const char *path)
{
	static char head[1024];
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)s->port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	const char *req = hh_fmt("GET %s HTTP/1.1\r\nHost: t\r\n"
				 "Accept: text/event-stream\r\n\r\n", path);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct pollfd p = {.fd = fd, .events = POLLIN};
	size_t n = 0;

	head[0] = '\0';
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req))
		bail_out("cannot open a stream");
	while (n < sizeof(head) - 1 && !strstr(head, "\r\n\r\n") &&
	       poll(&p, 1, 5000) == 1) {
		ssize_t got = recv(fd, head + n, sizeof(head) - 1 - n, 0);

		if (got <= 0)
			break;
		n += (size_t)got;
		head[n] = '\0';
	}
	close(fd);
	return head;
}

/* A pre-signed URL works with no token, for what it signed only. */
static void presigned(struct hh_client *c, struct hh_resp *r)
{
	char sig[65], exp[40], hdrs[1024];

	hh_callh(c, r, "POST", "/v2/queues/orders-1/share",
		 hh_fmt(CLIENT "%s", xauth("pubtok")), "{}");
	refused(r, 403, "share needs the manage role");
	hh_callh(c, r, "POST", "/v2/queues/orders-1/share",
		 hh_fmt(CLIENT "%s", xauth("mgrtok")),
		 "{\"paths\": [\"messages\", \"feed.atom\"]}");
	is(r->status, 200, "manage token signs orders-1's messages and feed");
	hh_copy(sig, sizeof(sig), hh_gets(r->json, "signature"));
	hh_copy(exp, sizeof(exp), hh_gets(r->json, "expires"));
	snprintf(hdrs, sizeof(hdrs),
		 CLIENT "X-Project-Id: shop\r\nURL-Signature: %s\r\n"
		 "URL-Expires: %s\r\nURL-Methods: GET\r\nURL-Paths: "
		 "/v2/queues/orders-1/feed.atom,/v2/queues/orders-1/messages\r\n",
		 sig, exp);
	hh_callh(c, r, "GET", "/v2/queues/orders-1/messages?echo=true", hdrs,
		 NULL);
	ok(r->status == 200 && hh_len(r->json, "messages") == 1,
	   "the pre-signed messages URL reads without a token");
	hh_callh(c, r, "DELETE", "/v2/queues/orders-1", hdrs, NULL);
	expect_error(r, 404, "404 Not Found", NULL,
		     "a method it did not sign: Zaqar's 404");
	hh_callh(c, r, "GET",
		 hh_fmt("/v2/queues/orders-1/feed.atom?project_id=shop&"
			"client_id=" HH_CLIENT_A "&signature=%s&expires=%s&methods=GET&paths=/v2/queues/"
			"orders-1/feed.atom,/v2/queues/orders-1/messages",
			sig, exp),
		 "Accept: application/atom+xml\r\n", NULL);
	ok(r->status == 200 && strstr(r->body, "<feed"),
	   "a pre-signed Atom feed URL needs no header (got %d)", r->status);
	hh_callh(c, r, "GET",
		 hh_fmt("/v2/queues/orders-1/feed.atom?project_id=shop&"
			"client_id=" HH_CLIENT_A "&expires=%s&methods=GET&paths=/v2/queues/orders-1/"
			"feed.atom",
			exp),
		 "Accept: application/atom+xml\r\n", NULL);
	refused(r, 401, "the feed without signature or token: 401");

	hh_callh(c, r, "POST", "/v2/queues/orders-1/share",
		 hh_fmt(CLIENT "%s", xauth("mgrtok")), "{\"paths\": [\"events\"]}");
	hh_copy(sig, sizeof(sig), hh_gets(r->json, "signature"));
	hh_copy(exp, sizeof(exp), hh_gets(r->json, "expires"));
	ok(!strncmp(stream_head(c->srv,
				hh_fmt("/v2/queues/orders-1/events?project_id=shop&"
				       "client_id=" HH_CLIENT_A "&signature=%s&"
				       "expires=%s&methods=GET&paths=/v2/queues/"
				       "orders-1/events", sig, exp)),
		    "HTTP/1.1 200", 12),
	   "a pre-signed SSE URL streams with no header (EventSource)");
	ok(!strncmp(stream_head(c->srv, "/v2/queues/orders-1/events?project_id="
				"shop&client_id=" HH_CLIENT_A),
		    "HTTP/1.1 401", 12),
	   "the same stream without its signature: 401");
}

/* Sends SIGHUP and retries `path` with `token` until it answers `want`. */
static bool reload_until(struct hh_server *s, struct hh_client *c,
			 struct hh_resp *r, const char *token, int want)
{
	kill(s->pid, SIGHUP);
	for (int i = 0; i < 200; i++) {
		hh_callh(c, r, "GET", "/v2/queues",
			 hh_fmt(CLIENT "%s", xauth(token)), NULL);
		if (r->status == want)
			return true;
		usleep(10000); /* the loop reloads at its next pass */
	}
	return false;
}

static void reload(struct hh_server *s, struct hh_client *c,
		   struct hh_resp *r)
{
	int connects;
	FILE *log;
	char line[1024];
	bool said = false;

	hh_callh(c, r, "GET", "/v2/queues", hh_fmt(CLIENT "%s", xauth("newtok")),
		 NULL);
	refused(r, 401, "newtok is not in the file yet");
	connects = c->connects;
	write_tokens(false, true);
	ok(reload_until(s, c, r, "newtok", 200),
	   "after SIGHUP the new token works");
	is(c->connects, connects, "on the same connection: none was dropped");
	hh_callh(c, r, "GET", "/v2/queues", hh_fmt(CLIENT "%s", xauth("readtok")),
		 NULL);
	refused(r, 401, "the token taken out of the file no longer works");

	write_file(tokens_path, "this is not a token line\n");
	kill(s->pid, SIGHUP);
	for (int i = 0; i < 200 && !said; i++) {
		log = fopen(s->log, "r");
		while (log && fgets(line, sizeof(line), log))
			said |= strstr(line, "reload failed") != NULL;
		if (log)
			fclose(log);
		if (!said)
			usleep(10000);
	}
	ok(said, "a bad file on reload is logged");
	hh_callh(c, r, "GET", "/v2/queues", hh_fmt(CLIENT "%s", xauth("newtok")),
		 NULL);
	is(r->status, 200, "and the tokens it had keep working");
	write_tokens(true, true);
	ok(reload_until(s, c, r, "readtok", 200), "a good file again: reloaded");
}

/* The answer to an upgrade of path that is refused: its status, when it
 * came with a JSON error body. */
static int upgrade_status(struct hh_server *s, const char *path)
{
	struct hh_client c;
	struct hh_resp r = HH_RESP_INIT;
	const char *req = hh_fmt("GET %s HTTP/1.1\r\nHost: t\r\n"
				 "Upgrade: websocket\r\nConnection: Upgrade\r\n"
				 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
				 "Sec-WebSocket-Version: 13\r\n\r\n", path);
	int status;

	hh_client_init(&c, s, NULL, NULL);
	hh_send(&c, req, strlen(req));
	hh_recv(&c, &r, false);
	status = hh_gets(r.json, "description") ? r.status : -1;
	hh_resp_free(&r);
	hh_client_close(&c);
	return status;
}

static void ws_actions(struct hh_server *s)
{
	struct wsc w;
	json_t *f;

	ok(wsc_open(&w, s, "/v2/ws", "herald.v1"), "the actions endpoint "
	   "upgrades without credentials");
	f = act(&w, "queue_list", "{\"Client-ID\": \"" HH_CLIENT_A "\"}", "{}");
	ok(hh_geti(f, "headers.status") == 403 &&
	   !strcmp(hh_gets(f, "body.error") ? hh_gets(f, "body.error") : "",
		   "Not authentified."),
	   "an action before authenticate: 403 Not authentified.");
	json_decref(f);
	f = act(&w, "authenticate", "{\"X-Auth-Token\": \"nope\"}", "{}");
	is(hh_geti(f, "headers.status"), 401, "authenticate with a bad token: 401");
	json_decref(f);
	f = act(&w, "authenticate", "{\"X-Auth-Token\": \"readtok\"}", "{}");
	is(hh_geti(f, "headers.status"), 200, "authenticate with readtok: 200");
	json_decref(f);
	f = act(&w, "queue_list", "{\"Client-ID\": \"" HH_CLIENT_A "\"}", "{}");
	ok(hh_geti(f, "headers.status") == 200 && hh_len(f, "body.queues") == 3,
	   "then queue_list lists shop's queues");
	json_decref(f);
	f = act(&w, "message_post", "{\"Client-ID\": \"" HH_CLIENT_A "\"}",
		"{\"queue_name\": \"orders-1\", \"messages\": [{\"body\": 1}]}");
	is(hh_geti(f, "headers.status"), 403, "message_post with read: 403");
	json_decref(f);
	f = act(&w, "subscribe", "{\"Client-ID\": \"" HH_CLIENT_A "\"}",
		"{\"queue_name\": \"orders-1\"}");
	is(hh_geti(f, "headers.status"), 403, "subscribe with read: 403");
	json_decref(f);
	wsc_close(&w);

	ok(wsc_open(&w, s, "/v2/ws", "herald.v1, bearer.subtok"),
	   "a bearer.TOKEN subprotocol upgrades");
	f = act(&w, "subscribe", "{\"Client-ID\": \"" HH_CLIENT_A "\"}",
		"{\"queue_name\": \"orders-1\"}");
	is(hh_geti(f, "headers.status"), 201,
	   "and authenticates the connection: subscribe 201");
	json_decref(f);
	wsc_close(&w);

	is(upgrade_status(s, "/v2/queues/orders-1/stream?client_id="
			  HH_CLIENT_A), 401,
	   "the stream URL without a token: 401 (JSON)");
	is(upgrade_status(s, "/v2/queues/orders-1/stream?client_id="
			  HH_CLIENT_A "&access_token=readtok"), 403,
	   "the stream URL with a read token: 403 (JSON)");
	ok(wsc_open(&w, s, "/v2/queues/orders-1/stream?client_id=" HH_CLIENT_A
		    "&access_token=subtok", NULL),
	   "the stream URL with a subscribe token: 101");
	wsc_close(&w);
}

/* herald serve with args; its exit status and stderr (static). */
static int serve_once(const char *args, const char **err)
{
	static char out[4096];
	char cmd[2048];
	FILE *p;
	size_t n;
	int st;

	snprintf(cmd, sizeof(cmd), "'%s' serve --data %s/data-once %s 2>&1",
		 getenv("HERALD_BIN"), keydir, args);
	p = popen(cmd, "r");
	n = p ? fread(out, 1, sizeof(out) - 1, p) : 0;
	out[n] = '\0';
	st = p ? pclose(p) : -1;
	*err = out;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void protected_mode(void)
{
	const char *err;
	int st = serve_once("--listen 0.0.0.0:0", &err);

	ok(st != 0 && strstr(err, "refusing to listen on 0.0.0.0"),
	   "--auth none refuses a non-loopback listen (exit %d)", st);
	/* Past the check (it comes before the listen), storage fails: so
	 * nothing listens on a non-loopback address in this test. */
	st = serve_once("--listen 0.0.0.0:0 --insecure-no-auth --data "
			"/proc/no/such/dir", &err);
	ok(st != 0 && !strstr(err, "refusing") && strstr(err, "data directory"),
	   "--insecure-no-auth lets it past protected mode");
	st = serve_once(hh_fmt("--listen 0.0.0.0:0 --auth tokens --auth-tokens "
			       "%s --data /proc/no/such/dir", tokens_path),
			&err);
	ok(st != 0 && !strstr(err, "refusing"),
	   "--auth tokens is not held to loopback");
	st = serve_once("--auth tokens --auth-tokens /no/such/file", &err);
	ok(st != 0 && strstr(err, "token file"),
	   "a missing token file stops the start");
}

/* Hostile testing #1 and #4 (issue #12), under `none`. */
static void defects(void)
{
	struct hh_server s;
	struct hh_client c;
	struct hh_resp r = HH_RESP_INIT;
	static const char *const extra[] = {"--signing-key", "k", NULL};
	static const char nul[] =
		"GET /v2/queues HTTP/1.1\r\nHost: x\r\n" CLIENT
		"X-Project-Id: pa\0pb\r\n\r\n";
	static const char ctl[] =
		"GET /v2/queues HTTP/1.1\r\nHost: x\r\n" CLIENT
		"X-Project-Id: p\x01q\r\n\r\n";

	hh_start(&s, extra);
	hh_client_init(&c, &s, HH_CLIENT_A, NULL);
	hh_callh(&c, &r, "PUT", "/v2/queues/other", "X-Project-Id: B\r\n", NULL);
	is(r.status, 201, "queue other in project B");
	hh_callh(&c, &r, "DELETE", "/v2/queues/other",
		 "X-Project-Id: B\r\nURL-Signature:\r\n"
		 "URL-Expires: 2030-01-01T00:00:00\r\nURL-Methods: GET\r\n"
		 "URL-Paths: /v2/queues/secret/messages\r\n", NULL);
	expect_error(&r, 404, "404 Not Found", NULL,
		     "#1: an empty URL-Signature is a bad signature");
	hh_callh(&c, &r, "DELETE", "/v2/queues/other",
		 "X-Project-Id: B\r\nURL-Signature:    \r\n"
		 "URL-Expires: 2030-01-01T00:00:00\r\nURL-Methods: DELETE\r\n"
		 "URL-Paths: /v2/queues/other\r\n", NULL);
	expect_error(&r, 404, "404 Not Found", NULL,
		     "#1: a blank URL-Signature too");
	hh_callh(&c, &r, "GET", "/v2/queues", "X-Project-Id: B\r\n", NULL);
	ok(hh_len(r.json, "queues") == 1, "#1: and the queue is still there");

	hh_callh(&c, &r, "GET", "/v2/queues", "X-Project-Id: B \r\n", NULL);
	ok(r.status == 200 && hh_len(r.json, "queues") == 1,
	   "#4: \"B \" is project B (trailing blanks trimmed, as leading)");
	hh_send(&c, nul, sizeof(nul) - 1);
	hh_recv(&c, &r, false);
	expect_4xx(&r, 400, "#4: a NUL inside X-Project-Id is refused");
	hh_client_close(&c);
	hh_client_init(&c, &s, HH_CLIENT_A, NULL);
	hh_send(&c, ctl, sizeof(ctl) - 1);
	hh_recv(&c, &r, false);
	expect_4xx(&r, 400, "#4: a control character too");
	hh_resp_free(&r);
	hh_client_close(&c);
	hh_discard(&s);
}

/* The value of one sample line of a /metrics scrape, -1 when absent. */
static long long sample(const char *text, const char *series)
{
	const char *p = text;
	size_t n = strlen(series);

	while ((p = strstr(p, series))) {
		if ((p == text || p[-1] == '\n') && p[n] == ' ')
			return atoll(p + n + 1);
		p += n;
	}
	return -1;
}

/* Refusals by auth are counted in /metrics, each under its reason. */
static void rejections(void)
{
	struct hh_server s;
	struct hh_client c;
	struct hh_resp r = HH_RESP_INIT;
	const char *extra[] = {"--auth", "tokens", "--auth-tokens", tokens_path,
			       "--signing-key", "k", NULL};

	hh_start(&s, extra);
	hh_client_init(&c, &s, NULL, NULL);
	hh_callh(&c, &r, "GET", "/v2/queues", CLIENT, NULL);
	is(r.status, 401, "metrics: a request without credentials");
	hh_callh(&c, &r, "GET", "/v2/queues",
		 hh_fmt(CLIENT "%s", bearer("nope")), NULL);
	is(r.status, 401, "metrics: one with an unknown token");
	hh_callh(&c, &r, "GET", "/v2/health",
		 hh_fmt(CLIENT "%s", bearer("pubtok")), NULL);
	is(r.status, 403, "metrics: a publish token asking for health");
	hh_callh(&c, &r, "GET", "/v2/queues/q/messages",
		 CLIENT "X-Project-Id: shop\r\nURL-Signature: 00\r\n"
		 "URL-Expires: 2030-01-01T00:00:00\r\nURL-Methods: GET\r\n"
		 "URL-Paths: /v2/queues/q/messages\r\n", NULL);
	is(r.status, 404, "metrics: a bad signature");
	hh_call(&c, &r, "GET", "/metrics", NULL);
	is(r.status, 200, "the scrape (open on loopback) needs no token");
	is(sample(r.body, "herald_http_rejected_total{reason=\"unauthenticated\"}"),
	   2, "the two 401s are rejected as unauthenticated");
	is(sample(r.body, "herald_http_rejected_total{reason=\"forbidden\"}"), 1,
	   "the 403 as forbidden");
	is(sample(r.body, "herald_http_rejected_total{reason=\"bad_signature\"}"),
	   1, "the bad signature as bad_signature");
	hh_resp_free(&r);
	hh_client_close(&c);
	is(hh_discard(&s), 0, "the server stops cleanly");
}

int main(void)
{
	struct hh_server s;
	struct hh_client c;
	struct hh_resp r = HH_RESP_INIT;
	const char *extra[] = {"--auth", "tokens", "--auth-tokens", tokens_path,
			       "--signing-key", "k", NULL};

	if (!mkdtemp(keydir))
		bail_out("mkdtemp");
	snprintf(tokens_path, sizeof(tokens_path), "%s/tokens", keydir);
	write_tokens(true, false);
	defects();
	protected_mode();
	rejections();
	hh_start(&s, extra);
	hh_client_init(&c, &s, NULL, NULL);
	roles_and_queues(&c, &r);
	presigned(&c, &r);
	ws_actions(&s);
	reload(&s, &c, &r);
	hh_resp_free(&r);
	hh_client_close(&c);
	unlink(tokens_path);
	if (system(hh_fmt("rm -rf '%s'", keydir)))
		diag("could not remove %s", keydir);
	return hh_finish(&s);
}
