/*
 * test_metrics.c - the metrics core (hub/metrics.c) alone: access
 * settings and the token check, histogram buckets and labels in the
 * rendered text. End to end, with the reference parser:
 * tests/hub/test_metrics.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "metrics.h"
#include "route.h"
#include "tap.h"

/* printf %s scrape-token-7 | sha256sum */
#define TOKEN_SHA256                                                           \
	"a81dc43bb1bf3eb5dc3df2cded6a5f8a93c1c8c3a3706e28714100b37e9c0aeb"

static int configure(const char *mode, const char *listen, const char *file)
{
	struct hub_config cfg;

	hub_config_defaults(&cfg);
	snprintf(cfg.metrics, sizeof(cfg.metrics), "%s", mode);
	snprintf(cfg.listen_host, sizeof(cfg.listen_host), "%s", listen);
	snprintf(cfg.metrics_token_file, sizeof(cfg.metrics_token_file), "%s",
		 file ? file : "");
	return hub_metrics_configure(&cfg);
}

/* A token file holding `text`; its path in path[64]. */
static const char *token_file(char *path, const char *text)
{
	FILE *f;

	snprintf(path, 64, "/tmp/herald-unit-token-XXXXXX");
	close(mkstemp(path));
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

static void access_settings(void)
{
	char good_path[64], bad_path[64];
	const char *good = token_file(good_path, TOKEN_SHA256 "  -\n");
	const char *bad = token_file(bad_path, "not a hash\n");

	is(configure("", "127.0.0.1", NULL), 0, "default on loopback: fine");
	is(hub_metrics_access(), HUB_METRICS_OPEN, "... and open");
	is(configure("", "0.0.0.0", NULL), 0, "default on 0.0.0.0: fine");
	is(hub_metrics_access(), HUB_METRICS_OFF, "... and off");
	is(configure("open", "0.0.0.0", NULL), 0, "open asked for: open");
	is(hub_metrics_access(), HUB_METRICS_OPEN, "... on any address");
	is(configure("maybe", "127.0.0.1", NULL), -1, "an unknown mode: -1");
	is(configure("token", "127.0.0.1", NULL), -1,
	   "token without a token file: -1");
	is(configure("token", "127.0.0.1", "/nonexistent/token"), -1,
	   "token with a missing file: -1");
	is(configure("token", "127.0.0.1", bad), -1,
	   "token with a file that holds no hash: -1");
	is(configure("token", "127.0.0.1", good), 0,
	   "token with sha256sum's output: fine");
	is(hub_metrics_access(), HUB_METRICS_TOKEN, "... and token");
	ok(hub_metrics_token_ok("Bearer scrape-token-7"), "the token passes");
	ok(hub_metrics_token_ok("bearer scrape-token-7"),
	   "the scheme is case-insensitive");
	ok(!hub_metrics_token_ok("Bearer scrape-token-8"),
	   "another token does not");
	ok(!hub_metrics_token_ok("Bearer "), "an empty one does not");
	ok(!hub_metrics_token_ok("scrape-token-7"), "nor one without Bearer");
	ok(!hub_metrics_token_ok(NULL), "nor none");
	unlink(good);
	unlink(bad);
}

static void rendering(void)
{
	struct hub_metrics_sources src = {0};
	struct hub_route_match m;
	struct hub_buf b = {0};
	char *text;

	hub_route_lookup(HUB_POST, "/v2/queues/q-secret/messages", &m);
	/* 0.3 ms: in the 0.0005 bucket and above, not in 0.00025. */
	hub_metrics_http(&m, HUB_POST, 201, 300000, 10, 20, false);
	hub_metrics_http(&m, HUB_POST, 299, 300000, 0, 0, true);
	hub_metrics_group(3, 2000000, 0);
	src.subscribers[HUB_METRICS_SSE] = 4;
	hub_metrics_render(&b, &src);
	text = hub_buf_take(&b, NULL);
	ok(text && strstr(text, "herald_http_requests_total{route=\"/v2/queues/"
			  "{queue}/messages\",method=\"POST\",code=\"201\"} 1\n"),
	   "a request is counted under its route's pattern and status");
	ok(text && strstr(text, "method=\"POST\",code=\"other\"} 1\n"),
	   "a status off the list counts as other");
	ok(text && !strstr(text, "q-secret"), "the queue's name is nowhere");
	ok(text && strstr(text, "method=\"POST\",le=\"0.00025\"} 0\n") &&
		   strstr(text, "method=\"POST\",le=\"0.0005\"} 1\n") &&
		   strstr(text, "method=\"POST\",le=\"+Inf\"} 1\n"),
	   "latency buckets are cumulative; a stream is not observed");
	ok(text && strstr(text, "herald_group_commit_jobs_bucket{le=\"2\"} 0\n") &&
		   strstr(text, "herald_group_commit_jobs_bucket{le=\"4\"} 1\n") &&
		   strstr(text, "herald_group_commit_jobs_sum 3\n"),
	   "a commit of 3 jobs lands in the le=4 bucket");
	ok(text && strstr(text, "herald_subscribers{transport=\"sse\"} 4\n"),
	   "subscribers by transport come from the sources");
	ok(text && strstr(text, "herald_storage_up 0\n"),
	   "no feed: storage is down, not a crash");
	free(text);
}

int main(void)
{
	access_settings();
	rendering();
	done_testing();
	return exit_status();
}
