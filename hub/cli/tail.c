/*
 * tail.c - `herald tail`: a queue's messages as JSON lines, once or
 * following.
 *
 * Everything hangs on one marker, the position after the last message
 * printed (Zaqar markers are opaque; we take them from the next links and
 * the stream frames, never compute them):
 *
 *   start    --marker M; else --from now: the id of the newest message
 *            (from the queue's stats); else none (the oldest message).
 *   once     GET .../messages?limit=20&echo=E[&marker=M], then the next
 *            link, until an empty page.
 *   follow   without a marker yet, long-poll (below) until one comes:
 *            the stream URL without one starts from "now", which cannot
 *            be resumed exactly; then the WebSocket stream
 *                GET .../stream?client_id=C&project_id=P&echo=E[&marker=M]
 *            whose "messages" and "gap" frames move the marker; when the
 *            connection drops, a new one resumes after the marker, after
 *            a backoff (250 ms doubling to 8 s, reset once connected).
 *            When the first upgrade fails (a server without the stream
 *            answers it with plain HTTP or drops it), we long-poll
 *            instead (so does --poll):
 *                GET .../messages?limit=20&echo=E&wait=20[&marker=M]
 *
 * Resuming from the marker means nothing is printed twice and nothing is
 * skipped; what the server could not keep (compacted, or a deleted and
 * re-created queue) is reported as a gap on stderr, from the stream's gap
 * frames or the listing's Herald-Gap header. SIGINT and SIGTERM end a
 * follow with exit 0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

struct tail {
	struct cli *c;
	const char *queue;
	bool echo;
	char marker[256];   /* "" = from the oldest message */
	bool up;            /* the stream connection came up */
};

static void print_gap(const char *missed)
{
	if (missed && strcmp(missed, "unknown"))
		fprintf(stderr, "gap: %s messages missed\n", missed);
	else
		fprintf(stderr, "gap: unknown number of messages missed\n");
}

/* The marker= value of a next link into t->marker; false when none. */
static bool marker_from_link(struct tail *t, json_t *links)
{
	const char *href = json_string_value(json_object_get(json_array_get(links, 0),
							      "href"));
	const char *m = href ? strstr(href, "marker=") : NULL;

	if (!m || m == href || (m[-1] != '?' && m[-1] != '&'))
		return false;
	snprintf(t->marker, sizeof(t->marker), "%.*s", (int)strcspn(m + 7, "&"),
		 m + 7);
	return true;
}

/* One page of the listing (wait_s > 0: long-poll). Prints it, moves the
 * marker; *n is how many messages came. An exit code. */
static int page(struct tail *t, int wait_s, size_t *n)
{
	char path[1024];
	struct cli_resp r;
	json_t *msgs, *m;
	size_t i;
	int rc;

	snprintf(path, sizeof(path), "/v2/queues/%s/messages?limit=20&echo=%s%s%s",
		 cli_qs(t->queue), t->echo ? "true" : "false",
		 t->marker[0] ? "&marker=" : "", cli_qs(t->marker));
	if (wait_s)
		snprintf(path + strlen(path), sizeof(path) - strlen(path), "&wait=%d",
			 wait_s);
	*n = 0;
	rc = cli_call(t->c, "GET", path, NULL, wait_s + 30, 200, 204, &r);
	if (rc)
		return rc;
	if (r.gap[0])
		print_gap(r.gap);
	msgs = json_object_get(r.json, "messages");
	json_array_foreach(msgs, i, m)
		cli_print_message(m, NULL);
	*n = json_array_size(msgs);
	if (*n && !marker_from_link(t, json_object_get(r.json, "links")))
		snprintf(t->marker, sizeof(t->marker), "%s",
			 json_string_value(json_object_get(json_array_get(msgs, *n - 1),
							   "id")));
	cli_resp_free(&r);
	return CLI_OK;
}

/* --from now: the newest message's id becomes the marker. */
static int start_now(struct tail *t)
{
	char path[256];
	struct cli_resp r;
	int rc;

	snprintf(path, sizeof(path), "/v2/queues/%s/stats", cli_qs(t->queue));
	rc = cli_call(t->c, "GET", path, NULL, 30, 200, 0, &r);
	if (rc)
		return rc;
	cli_href_id(json_string_value(json_object_get(
			    json_object_get(json_object_get(r.json, "messages"),
					    "newest"), "href")),
		    t->marker, sizeof(t->marker));
	cli_resp_free(&r);
	return CLI_OK;
}

/* The connection is gone: says so once per outage, then waits. */
static void lost(struct tail *t, long *backoff_ms)
{
	if (!t->c->quiet)
		fprintf(stderr, "herald tail: connection lost; reconnecting\n");
	t->c->quiet = true;
	cli_sleep_ms(*backoff_ms);
	*backoff_ms = *backoff_ms < 8000 ? *backoff_ms * 2 : 8000;
}

/* Long-polls until interrupted (or, with until_marker, until there is a
 * marker); once the server was seen, a lost connection is retried. An
 * exit code. */
static int follow_poll(struct tail *t, bool seen, bool until_marker)
{
	long backoff = 250;
	size_t n;
	int rc;

	while (!cli_interrupted && !(until_marker && t->marker[0])) {
		rc = page(t, 20, &n);
		if (rc == CLI_CONN && seen && !cli_interrupted) {
			lost(t, &backoff);
			continue;
		}
		if (rc)
			return cli_interrupted ? CLI_OK : rc;
		seen = true;
		t->c->quiet = false;
		backoff = 250;
	}
	return CLI_OK;
}

static void on_frame(void *arg, json_t *f)
{
	struct tail *t = arg;
	const char *event = json_string_value(json_object_get(f, "event"));
	const char *marker = json_string_value(json_object_get(f, "marker"));
	json_t *m, *missed;
	char num[32];
	size_t i;

	if (!event)
		return;
	if (!strcmp(event, "messages")) {
		json_array_foreach(json_object_get(f, "messages"), i, m)
			cli_print_message(m, NULL);
	} else if (!strcmp(event, "gap")) {
		missed = json_object_get(f, "missed");
		snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(missed));
		print_gap(json_is_integer(missed) ? num : NULL);
	} else {
		return;
	}
	if (marker)
		snprintf(t->marker, sizeof(t->marker), "%s", marker);
}

static void on_up(void *arg)
{
	struct tail *t = arg;

	t->up = true;
	t->c->quiet = false;
}

/* Follows the stream, reconnecting; falls back to long-poll when the
 * server has none. An exit code. */
static int follow_ws(struct tail *t)
{
	const struct cli_ws_handler h = {on_frame, on_up, t};
	bool seen = false;
	long backoff = 250;
	char path[1024];
	int rc;

	while (!cli_interrupted) {
		snprintf(path, sizeof(path),
			 "/v2/queues/%s/stream?client_id=%s&echo=%s%s%s%s%s",
			 cli_qs(t->queue), cli_qs(t->c->client_id),
			 t->echo ? "true" : "false",
			 t->c->project[0] ? "&project_id=" : "", cli_qs(t->c->project),
			 t->marker[0] ? "&marker=" : "", cli_qs(t->marker));
		t->up = false;
		rc = cli_ws_stream(t->c, path, &h);
		if (cli_interrupted)
			break;
		/* Never up: no stream here (refused or dropped upgrade), or no
		 * server; long-poll tells which, and exits 3 on the latter. */
		if (rc == CLI_CONN && !seen)
			return follow_poll(t, true, false);
		if (t->up)
			backoff = 250;
		seen = true;
		lost(t, &backoff);
	}
	return CLI_OK;
}

int cli_cmd_tail(struct cli *c, const struct cli_opts *o, int argc,
		 char **argv)
{
	struct tail t = {.c = c, .echo = o->echo};
	size_t n;
	int rc = CLI_OK;

	if (argc != 1) {
		fprintf(stderr, "herald tail: one queue, please (herald tail --help)\n");
		return CLI_USAGE;
	}
	if (o->poll && !o->follow) {
		fprintf(stderr, "herald tail: --poll goes with --follow\n");
		return CLI_USAGE;
	}
	t.queue = argv[0];
	if (o->marker)
		snprintf(t.marker, sizeof(t.marker), "%s", o->marker);
	else if (o->from && !strcmp(o->from, "now"))
		rc = start_now(&t);
	if (rc)
		return rc;
	if (o->follow && o->poll)
		return follow_poll(&t, false, false);
	if (o->follow) {
		/* The stream URL without a marker starts from "now", which a
		 * reconnect cannot resume; so it is used once there is one. */
		rc = follow_poll(&t, false, true);
		return rc || cli_interrupted ? rc : follow_ws(&t);
	}
	do
		rc = page(&t, 0, &n);
	while (!rc && n && !cli_interrupted);
	return rc;
}
