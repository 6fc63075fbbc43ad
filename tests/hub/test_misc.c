/*
 * test_misc.c - versions and home documents (zaqar-api.md §1, §6.8, §8,
 * §11), ping and health, and pre-signed URLs (§9) with the server started
 * with --signing-key test-secret-key.
 */
#include "harness.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <string.h>

static struct hh_server srv;
static struct hh_client c;
static struct hh_resp r = HH_RESP_INIT;

static void versions(void)
{
	struct hh_client n;

	hh_client_init(&n, &srv, NULL, NULL);
	hh_call(&n, &r, "GET", "/", NULL);
	is(r.status, 300, "GET / is 300 Multiple Choices");
	ok(hh_json_eq(&r,
		      "{\"versions\": ["
		      "{\"id\": \"1\", \"status\": \"DEPRECATED\", \"updated\": \"2014-9-11T17:47:05Z\","
		      " \"media-types\": [{\"base\": \"application/json\", \"type\": \"application/vnd.openstack.messaging-v1+json\"}],"
		      " \"links\": [{\"href\": \"/v1/\", \"rel\": \"self\"}]},"
		      "{\"id\": \"1.1\", \"status\": \"DEPRECATED\", \"updated\": \"2016-7-29T02:22:47Z\","
		      " \"media-types\": [{\"base\": \"application/json\", \"type\": \"application/vnd.openstack.messaging-v1_1+json\"}],"
		      " \"links\": [{\"href\": \"/v1.1/\", \"rel\": \"self\"}]},"
		      "{\"id\": \"2\", \"status\": \"CURRENT\", \"updated\": \"2014-9-24T04:06:47Z\","
		      " \"media-types\": [{\"base\": \"application/json\", \"type\": \"application/vnd.openstack.messaging-v2+json\"}],"
		      " \"links\": [{\"href\": \"/v2/\", \"rel\": \"self\"}]}]}"),
	   "GET / lists the three versions as Zaqar does");
	ok(hh_header(&r, "content-type") != NULL &&
		   strncmp(hh_header(&r, "content-type"), "application/json", 16) == 0,
	   "GET / is application/json");
	hh_client_close(&n);
}

static void home(const char *path, const char *tmpl, const char *const *rels)
{
	hh_call(&c, &r, "GET", path, NULL);
	is(r.status, 200, "GET %s", path);
	ok(hh_header(&r, "content-type") != NULL &&
		   strncmp(hh_header(&r, "content-type"), "application/json-home", 21) == 0,
	   "%s is application/json-home", path);
	is_str(hh_header(&r, "cache-control"), "max-age=86400",
	       "%s Cache-Control", path);
	is_str(hh_gets(r.json, "resources.rel/queues.href-template"), tmpl,
	       "%s rel/queues href-template", path);
	for (int i = 0; rels[i] != NULL; i++)
		ok(json_is_object(json_object_get(hh_get(r.json, "resources"), rels[i])),
		   "%s has %s", path, rels[i]);
}

static void homes(void)
{
	static const char *const v2[] = {
		"rel/queues", "rel/queue", "rel/queue_stats", "rel/queue_share",
		"rel/queue_purge", "rel/messages", "rel/post_messages",
		"rel/messages_delete", "rel/message_delete", "rel/message_get",
		"rel/claim", "rel/post_claim", "rel/patch_claim", "rel/delete_claim",
		"rel/ping", NULL,
	};
	static const char *const v11[] = {
		"rel/queues", "rel/queue", "rel/queue_stats", "rel/messages",
		"rel/post_messages", "rel/messages_delete", "rel/message_delete",
		"rel/claim", "rel/post_claim", "rel/patch_claim",
		"rel/delete_claim", "rel/ping", NULL,
	};
	static const char *const v1[] = {
		"rel/queues", "rel/queue", "rel/queue-metadata", "rel/queue-stats",
		"rel/messages", "rel/post-messages", "rel/claim", NULL,
	};

	home("/v2/", "/v2/queues{?marker,limit,detailed}", v2);
	home("/v1.1/", "/v1.1/queues{?marker,limit,detailed}", v11);
	home("/v1/", "/v1/queues{?marker,limit,detailed}", v1);
	hh_call(&c, &r, "GET", "/v2", NULL);
	ok(r.status == 200 || r.status == 404 || r.status == 301,
	   "GET /v2 without the slash is answered (got %d)", r.status);
}

static void ping_health(void)
{
	hh_call(&c, &r, "GET", "/v2/ping", NULL);
	is(r.status, 204, "GET /v2/ping");
	is(r.body_len, 0, "ping has no body");
	hh_call(&c, &r, "HEAD", "/v2/ping", NULL);
	is(r.status, 204, "HEAD /v2/ping");
	hh_call(&c, &r, "GET", "/v1.1/ping", NULL);
	is(r.status, 204, "GET /v1.1/ping");
	hh_call(&c, &r, "HEAD", "/v1.1/ping", NULL);
	is(r.status, 204, "HEAD /v1.1/ping");
	hh_call(&c, &r, "GET", "/v2/health", NULL);
	if (r.status == 404) {
		skip(4, "the server has no /v2/health (admin mode off)");
	} else {
		expect_error(&r, 403, "Not authorized",
			     "You are not authorized to complete this action.",
			     "GET /v2/health without the admin role");
		hh_callh(&c, &r, "GET", "/v2/health", "X-Roles: member, admin\r\n", NULL);
		ok(r.status == 200 && json_is_true(hh_get(r.json, "storage_reachable")),
		   "GET /v2/health with X-Roles admin: 200, storage reachable (got %d)",
		   r.status);
	}
	/* Zaqar 15 checks the admin role on v2's health only. */
	hh_call(&c, &r, "GET", "/v1.1/health", NULL);
	ok(r.status == 200 && json_is_true(hh_get(r.json, "storage_reachable")),
	   "GET /v1.1/health needs no admin role: 200, storage reachable "
	   "(got %d)", r.status);
}

/* Headers of a pre-signed request built from a share response. */
static const char *signed_headers(json_t *share, const char *sig_override,
				  const char *methods_override)
{
	char paths[1024] = "", methods[256] = "";
	size_t i;
	json_t *v;

	json_array_foreach(hh_get(share, "paths"), i, v)
		snprintf(paths + strlen(paths), sizeof(paths) - strlen(paths),
			 "%s%s", i ? "," : "", json_string_value(v));
	json_array_foreach(hh_get(share, "methods"), i, v)
		snprintf(methods + strlen(methods), sizeof(methods) - strlen(methods),
			 "%s%s", i ? "," : "", json_string_value(v));
	return hh_fmt("URL-Signature: %s\r\nURL-Expires: %s\r\nURL-Methods: %s\r\n"
		      "URL-Paths: %s\r\n",
		      sig_override ? sig_override : hh_gets(share, "signature"),
		      hh_gets(share, "expires"),
		      methods_override ? methods_override : methods, paths);
}

static void share(void)
{
	struct hh_client p, o;
	json_t *sh;
	char bad[128];

	hh_client_init(&p, &srv, HH_CLIENT_A, "projP");
	hh_client_init(&o, &srv, HH_CLIENT_B, "projP");
	hh_call(&p, &r, "POST", "/v2/queues/pq/share",
		"{\"paths\": [\"messages\", \"claims\"], \"methods\": [\"POST\", \"GET\"],"
		" \"expires\": \"2030-01-01T00:00:00\"}");
	is(r.status, 200, "share with paths, methods and expires");
	ok(hh_json_eq(&r, "{\"paths\": [\"/v2/queues/pq/claims\", \"/v2/queues/pq/messages\"],"
			  " \"methods\": [\"GET\", \"POST\"], \"project\": \"projP\","
			  " \"expires\": \"2030-01-01T00:00:00\","
			  " \"signature\": \"bc11eea7a2cf812812e29d0a8b570ca06ebaf81ff44bd882a1b456103d86ad35\"}"),
	   "share answers Zaqar's verified signature");
	sh = json_incref(r.json);

	hh_callh(&o, &r, "POST", "/v2/queues/pq/messages",
		 signed_headers(sh, NULL, NULL),
		 "{\"messages\": [{\"body\": \"signed\"}]}");
	is(r.status, 201, "a POST with the signature headers succeeds");
	hh_callh(&o, &r, "GET", "/v2/queues/pq/messages?echo=true",
		 signed_headers(sh, NULL, NULL), NULL);
	is(r.status, 200, "a GET with the signature headers succeeds");
	is_str(hh_gets(r.json, "messages.0.body"), "signed", "and reads the message");
	hh_callh(&o, &r, "GET",
		 hh_fmt("/v2/queues/pq/messages/%s", hh_gets(r.json, "messages.0.id")),
		 signed_headers(sh, NULL, NULL), NULL);
	is(r.status, 200, "the messages path also covers one message");

	hh_copy(bad, sizeof(bad), hh_gets(sh, "signature"));
	bad[0] = bad[0] == 'a' ? 'b' : 'a';
	hh_callh(&o, &r, "GET", "/v2/queues/pq/messages", signed_headers(sh, bad, NULL), NULL);
	expect_error(&r, 404, "404 Not Found", NULL, "a tampered signature");
	hh_callh(&o, &r, "GET", "/v2/queues/pq/messages",
		 signed_headers(sh, NULL, "GET,POST,DELETE"), NULL);
	expect_error(&r, 404, "404 Not Found", NULL, "tampered URL-Methods");
	hh_callh(&o, &r, "DELETE", "/v2/queues/pq/messages?pop=1",
		 signed_headers(sh, NULL, NULL), NULL);
	expect_error(&r, 404, "404 Not Found", NULL, "a method the URL does not allow");
	hh_callh(&o, &r, "GET", "/v2/queues/pq/stats", signed_headers(sh, NULL, NULL), NULL);
	expect_error(&r, 404, "404 Not Found", NULL, "a path the URL does not cover");
	hh_callh(&o, &r, "GET", "/v2/queues/other/messages", signed_headers(sh, NULL, NULL), NULL);
	expect_error(&r, 404, "404 Not Found", NULL, "another queue");
	o.project = "projQ";
	hh_callh(&o, &r, "GET", "/v2/queues/pq/messages", signed_headers(sh, NULL, NULL), NULL);
	expect_error(&r, 404, "404 Not Found", NULL, "another project");
	o.project = "projP";
	hh_callh(&o, &r, "GET", "/v2/queues/pq/messages",
		 "URL-Signature: bc11eea7a2cf812812e29d0a8b570ca06ebaf81ff44bd882a1b456103d86ad35\r\n", NULL);
	expect_error(&r, 404, "404 Not Found", NULL, "a signature without its other headers");
	json_decref(sh);

	hh_call(&p, &r, "POST", "/v2/queues/pq/share", "{}");
	is(r.status, 200, "share with {} (defaults)");
	is_str(hh_gets(r.json, "paths.0"), "/v2/queues/pq/messages", "default path: messages");
	is(hh_len(r.json, "paths"), 1, "only messages");
	ok(hh_len(r.json, "methods") == 1 && strcmp(hh_gets(r.json, "methods.0"), "GET") == 0,
	   "default method: GET");
	{
		char want[32];

		hh_copy(want, sizeof(want), hh_time(srv.now_ms + 86400000));
		want[19] = '\0'; /* no Z */
		is_str(hh_gets(r.json, "expires"), want, "default expiry: now + 24 h");
	}
	ok(hh_gets(r.json, "signature") != NULL && strlen(hh_gets(r.json, "signature")) == 64,
	   "a 64-hex signature");

	/* expiry follows the server's clock */
	hh_call(&p, &r, "POST", "/v2/queues/pq/share",
		hh_fmt("{\"expires\": \"%.19s\"}", hh_time(srv.now_ms + 3600000)));
	is(r.status, 200, "share expiring in an hour");
	sh = json_incref(r.json);
	hh_callh(&o, &r, "GET", "/v2/queues/pq/messages", signed_headers(sh, NULL, NULL), NULL);
	is(r.status, 200, "usable before it expires");
	hh_clock_advance(&srv, 3601000);
	hh_callh(&o, &r, "GET", "/v2/queues/pq/messages", signed_headers(sh, NULL, NULL), NULL);
	expect_error(&r, 404, "404 Not Found", NULL, "an expired signature");
	json_decref(sh);

	hh_call(&p, &r, "POST", "/v2/queues/pq/share", "{\"project_id\": \"x\"}");
	expect_error(&r, 400, "Invalid API request", "Unknown keys: {'project_id'}",
		     "share with an unknown key");
	hh_call(&p, &r, "POST", "/v2/queues/pq/share", "{\"paths\": [\"stats\"]}");
	expect_error(&r, 400, "Invalid API request", "Invalid paths: {'stats'}",
		     "share with a bad path");
	hh_call(&p, &r, "POST", "/v2/queues/pq/share", "{\"expires\": \"123\"}");
	expect_error(&r, 400, "Invalid API request",
		     "`expires` should be date format, for example "
		     "2016-01-01T00:00:00, not integer value: 123",
		     "share with an integer expires");
	hh_call(&p, &r, "POST", "/v2/queues/pq/share", "{\"expires\": \"2001-01-01T00:00:00\"}");
	expect_error(&r, 400, "Invalid API request",
		     "`expires` is lower than the current time", "share with a past expires");
	hh_call(&p, &r, "POST", "/v2/queues/pq/share", "");
	expect_error(&r, 400, "Invalid request body", "Request body can not be empty",
		     "share with an empty body");
	hh_call(&p, &r, "POST", "/v2/queues/pq/share", "{\"expires\": \"soon\"}");
	expect_4xx(&r, 400, "share with an unparsable expires");
	hh_client_close(&p);
	hh_client_close(&o);
}

/* The dashboard's files: a browser gets them, API clients do not. */
static void dashboard(void)
{
	hh_callh(&c, &r, "GET", "/", "Accept: text/html,*/*;q=0.8\r\n", NULL);
	is(r.status, 200, "GET / for a browser (Accept text/html) is the dashboard");
	ok(hh_header(&r, "content-type") &&
		   strncmp(hh_header(&r, "content-type"), "text/html", 9) == 0,
	   "as text/html");
	ok(hh_header(&r, "content-security-policy") &&
		   strstr(hh_header(&r, "content-security-policy"),
			  "default-src 'self'"),
	   "with a Content-Security-Policy of its own origin only");
	hh_callh(&c, &r, "GET", "/", "Accept: text/html\r\n", NULL);
	is(r.status, 200, "also for Accept: text/html alone");
	hh_callh(&c, &r, "GET", "/", "Accept: application/json\r\n", NULL);
	is(r.status, 300, "GET / for an API client is still the versions document");
	hh_call(&c, &r, "GET", "/dashboard/index.html", NULL);
	is(r.status, 200, "a dashboard file by name");
	hh_call(&c, &r, "GET", "/dashboard/no-such.js", NULL);
	is(r.status, 404, "a missing file is 404");
	hh_call(&c, &r, "GET", "/dashboard/.hidden", NULL);
	is(r.status, 404, "dot files are never served");
	hh_call(&c, &r, "GET", "/dashboard/..%2Fmeson.build", NULL);
	is(r.status, 404, "nothing outside the web directory (encoded slash)");
	hh_call(&c, &r, "GET", "/dashboard/index.sh", NULL);
	is(r.status, 404, "only known file types");
}

/* GET /v2/queues/q/counters: what rates are made of. */
static void counters(void)
{
	hh_call(&c, &r, "GET", "/v2/queues/cnt/counters", NULL);
	ok(r.status == 200 && hh_geti(r.json, "posted") == 0 &&
		   hh_geti(r.json, "total") == 0,
	   "a missing queue counts zeros");
	hh_call(&c, &r, "POST", "/v2/queues/cnt/messages",
		"{\"messages\": [{\"body\": 1}, {\"body\": 2}, {\"body\": 3}]}");
	hh_call(&c, &r, "DELETE", "/v2/queues/cnt/messages?pop=2", NULL);
	hh_call(&c, &r, "GET", "/v2/queues/cnt/counters", NULL);
	is(hh_geti(r.json, "posted"), 3, "posted counts every message ever posted");
	is(hh_geti(r.json, "total"), 1, "total what is left");
	is(hh_geti(r.json, "time_ms"), (long long)srv.now_ms,
	   "and the server's clock comes with them");
	hh_call(&c, &r, "GET", "/v1.1/queues/cnt/counters", NULL);
	is(r.status, 404, "counters are a v2 extension");
}

/* Review fixes: a default beyond its maximum, control characters in a
 * project, a Location listing every id of a large post. */
static void edges(void)
{
	const char *bin = getenv("HERALD_BIN");
	char cmd[PATH_MAX + 128], *body;
	size_t len = 0;
	int st;

	snprintf(cmd, sizeof(cmd), "'%s' serve --max-message-ttl 600 "
		 "--listen 127.0.0.1:0 --data /nonexistent/x 2>/dev/null",
		 bin ? bin : "herald");
	st = system(cmd);
	is(WIFEXITED(st) ? WEXITSTATUS(st) : -1, 2,
	   "a default ttl beyond max-message-ttl refuses to start (exit 2)");

	{
		struct hh_client bare;

		/* No headers: the query's project is the one used. */
		hh_client_init(&bare, &srv, NULL, NULL);
		hh_call(&bare, &r, "GET", "/v2/queues/q/feed.atom?client_id="
			HH_CLIENT_A "&project_id=%01herald-health", NULL);
		is(r.status, 400,
		   "a project id with a control character is refused");
		hh_client_close(&bare);
	}

	body = malloc(1000 * 16 + 64);
	if (!body)
		bail_out("out of memory");
	len += (size_t)sprintf(body, "{\"messages\": [");
	for (int i = 0; i < 1000; i++)
		len += (size_t)sprintf(body + len, "%s{\"body\": %d}",
				       i ? ", " : "", i);
	sprintf(body + len, "]}");
	hh_call(&c, &r, "POST", "/v2/queues/many/messages", body);
	free(body);
	is(r.status, 201, "a post of 1,000 messages");
	{
		const char *loc = hh_header(&r, "location");
		size_t ids = 0;

		for (const char *p = loc; p && (p = strchr(p, ',')); p++)
			ids++;
		is(loc ? (long long)ids + 1 : 0, 1000,
		   "its Location lists every id");
	}
}

/*
 * A pre-signed feed URL (Herald's extension): the signature's four values
 * in the query, for feed readers, which send no headers. It serves the
 * feed with no header but Host; an altered signature, another queue's
 * feed and an expired one are refused (404, as Zaqar refuses a bad
 * signature).
 */
/* s, or "" for NULL. */
static const char *S(const char *s)
{
	return s ? s : "";
}

static const char *feed_url(const char *queue, json_t *sh, const char *sig)
{
	return hh_fmt("/v2/queues/%s/feed.atom?project_id=projF&client_id="
		      HH_CLIENT_A "&signature=%s&expires=%s&methods=GET"
		      "&paths=%s", queue, sig ? sig : hh_gets(sh, "signature"),
		      hh_gets(sh, "expires"), hh_gets(sh, "paths.0"));
}

static void share_feed_url(void)
{
	struct hh_client p, reader;
	char bad[128];
	json_t *sh;

	hh_client_init(&p, &srv, HH_CLIENT_A, "projF");
	hh_client_init(&reader, &srv, NULL, NULL); /* Host, nothing else */
	hh_call(&p, &r, "POST", "/v2/queues/fq/messages",
		"{\"messages\": [{\"body\": {\"title\": \"disk full\"}}]}");
	is(r.status, 201, "a message for the feed");
	hh_call(&p, &r, "POST", "/v2/queues/fq/share",
		"{\"paths\": [\"feed.atom\"], \"methods\": [\"GET\"],"
		" \"expires\": \"2030-01-01T00:00:00\"}");
	ok(r.status == 200 &&
		   strcmp(S(hh_gets(r.json, "paths.0")),
			  "/v2/queues/fq/feed.atom") == 0,
	   "share signs a feed path (got %d %s)", r.status, r.body);
	sh = json_incref(r.json);

	hh_call(&reader, &r, "GET", feed_url("fq", sh, NULL), NULL);
	ok(r.status == 200 && strstr(r.body, "disk full") &&
		   strncmp(S(hh_header(&r, "Content-Type")),
			   "application/atom+xml", 20) == 0,
	   "the signed feed URL serves the feed with no header (got %d)",
	   r.status);
	hh_copy(bad, sizeof(bad), hh_gets(sh, "signature"));
	bad[0] = bad[0] == 'a' ? 'b' : 'a';
	hh_call(&reader, &r, "GET", feed_url("fq", sh, bad), NULL);
	expect_error(&r, 404, "404 Not Found", NULL,
		     "a signed feed URL with an altered signature");
	hh_call(&reader, &r, "GET", feed_url("other", sh, NULL), NULL);
	expect_error(&r, 404, "404 Not Found", NULL,
		     "the signature used for another queue's feed");
	hh_clock_set(&srv, 1893456000000ULL + 1000); /* 2030-01-01T00:00:01Z */
	hh_call(&reader, &r, "GET", feed_url("fq", sh, NULL), NULL);
	expect_error(&r, 404, "404 Not Found", NULL,
		     "a signed feed URL past its expiry");
	hh_clock_set(&srv, HH_EPOCH_MS);
	hh_call(&p, &r, "POST", "/v2/queues/fq/share",
		"{\"paths\": [\"feed.xml\"]}");
	expect_error(&r, 400, "Invalid API request", "Invalid paths: {'feed.xml'}",
		     "share refuses a path that is no resource");
	json_decref(sh);
	hh_client_close(&p);
	hh_client_close(&reader);
}

/* The soft open-file limit of process pid (/proc/PID/limits), or -1. */
static long fd_soft_limit(pid_t pid)
{
	FILE *f = fopen(hh_fmt("/proc/%d/limits", (int)pid), "r");
	char line[256];
	long n = -1;

	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "Max open files", 14) == 0)
			n = strtol(line + 26, NULL, 10);
	if (f)
		fclose(f);
	return n;
}

/* max-connections lowers the server's own fd limit (lws's table). */
static void connection_cap(void)
{
	const char *args[] = {"--max-connections", "50", NULL};
	struct hh_server d;
	struct hh_client dc;
	struct hh_resp dr = HH_RESP_INIT;

	hh_start(&d, args);
	is((int)fd_soft_limit(d.pid), 178,
	   "max-connections 50 lowers the soft fd limit to 50 + 128");
	hh_client_init(&dc, &d, HH_CLIENT_A, "projM");
	hh_call(&dc, &dr, "PUT", "/v2/queues/capped", NULL);
	is(dr.status, 201, "and the server works");
	hh_resp_free(&dr);
	hh_client_close(&dc);
	hh_discard(&d);
}

int main(void)
{
	static const char *const args[] = {"--signing-key", "test-secret-key", NULL};

	hh_start(&srv, args);
	hh_client_init(&c, &srv, HH_CLIENT_A, "projM");

	versions();
	homes();
	ping_health();
	share();
	share_feed_url();
	dashboard();
	counters();
	edges();
	connection_cap();

	hh_resp_free(&r);
	hh_client_close(&c);
	return hh_finish(&srv);
}
