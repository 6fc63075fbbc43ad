/*
 * test_durability.c - the three durability modes (docs/storage.md): each
 * is parsed from the command line and the config file, reported in the
 * server's first log line, and flushes where it says - interval mode on
 * its timer (the log counts the flushes), interval and nosync modes once
 * more when the server stops - and what was acknowledged is there after
 * a restart. A bad mode refuses to start.
 *
 * The server's log (DIR/stderr.log) is the counter: "durability: flushed
 * (N so far)" at debug level for each timed flush, "durability: flushed
 * at stop (N flushes while running)" at the end. The only waiting is for
 * a flush to show up in the log, bounded; nothing depends on how long it
 * takes.
 */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

static struct hh_server srv;
static struct hh_resp r = HH_RESP_INIT;

/* The server's log so far (malloc'd, NUL-terminated; "" when unread). */
static char *log_text(const struct hh_server *s)
{
	FILE *f = fopen(s->log, "r");
	char *text = NULL;
	size_t len = 0;

	if (f) {
		FILE *m = open_memstream(&text, &len);
		char buf[4096];
		size_t n;

		while (m && (n = fread(buf, 1, sizeof(buf), f)) > 0)
			fwrite(buf, 1, n, m);
		if (m)
			fclose(m);
		fclose(f);
	}
	return text ? text : calloc(1, 1);
}

static bool log_has(const struct hh_server *s, const char *what)
{
	char *text = log_text(s);
	bool found = strstr(text, what) != NULL;

	free(text);
	return found;
}

/* The last "durability: flushed (N so far)" count in the log, or 0. */
static long long flushes(const struct hh_server *s)
{
	char *text = log_text(s), *p = text;
	long long n = 0;

	while ((p = strstr(p, "durability: flushed (")) != NULL) {
		p += strlen("durability: flushed (");
		n = strtoll(p, NULL, 10);
	}
	free(text);
	return n;
}

/* Waits (bounded: 10 s) until the log counts more than `after` flushes. */
static long long flushes_past(const struct hh_server *s, long long after)
{
	struct timespec step = {0, 10 * 1000 * 1000};
	long long n = flushes(s);

	for (int i = 0; i < 1000 && n <= after; i++) {
		nanosleep(&step, NULL);
		n = flushes(s);
	}
	return n;
}

/* `herald serve ARGS` exits with this status before serving. */
static int refused(const char *args)
{
	const char *bin = getenv("HERALD_BIN");
	char cmd[PATH_MAX + 256];
	int st;

	snprintf(cmd, sizeof(cmd), "'%s' serve %s --listen 127.0.0.1:0 "
		 "--data /nonexistent/x 2>/dev/null", bin ? bin : "herald", args);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Posts one message to queue dq; returns its id (static buffer). */
static const char *post_one(struct hh_client *c, const char *body)
{
	static char id[128];

	hh_call(c, &r, "POST", "/v2/queues/dq/messages",
		hh_fmt("{\"messages\": [{\"body\": \"%s\"}]}", body));
	is(r.status, 201, "post %s", body);
	hh_copy(id, sizeof(id), hh_href_id(hh_gets(r.json, "resources.0")));
	return id;
}

static bool still_there(struct hh_client *c, const char *id)
{
	hh_call(c, &r, "GET", hh_fmt("/v2/queues/dq/messages/%s", id), NULL);
	return r.status == 200;
}

static void mode_sync(void)
{
	struct hh_client c;

	ok(log_has(&srv, "(durability sync)"),
	   "the default is sync, and the first log line says so");
	hh_client_init(&c, &srv, HH_CLIENT_A, "projD");
	post_one(&c, "s");
	hh_client_close(&c);
}

static void mode_interval(void)
{
	static struct hh_server s;
	static const char *const extra[] = {"--durability", "interval",
					    "--sync-interval", "20",
					    "--log-level", "debug", NULL};
	struct hh_client c;
	char id[128];
	long long before, after;

	hh_start(&s, extra);
	ok(log_has(&s, "(durability interval, flushed every 20 ms)"),
	   "interval mode is reported with its interval");
	hh_client_init(&c, &s, HH_CLIENT_A, "projD");
	hh_copy(id, sizeof(id), post_one(&c, "i1"));
	before = flushes(&s);
	after = flushes_past(&s, before);
	ok(after > before, "a flush (feed_sync) follows the post on the "
	   "timer (%lld, then %lld)", before, after);
	ok(flushes_past(&s, after) > after, "and the timer goes on");
	hh_client_close(&c);
	is(hh_stop(&s), 0, "the server stops (exit 0)");
	ok(log_has(&s, "durability: flushed at stop"),
	   "and flushes once more at the stop");
	hh_restart(&s);
	hh_client_init(&c, &s, HH_CLIENT_A, "projD");
	ok(still_there(&c, id), "the acknowledged message is there after "
	   "the restart");
	hh_client_close(&c);
	is(hh_discard(&s), 0, "the interval server exits 0");
}

static void mode_nosync(void)
{
	static struct hh_server s;
	static const char *const extra[] = {"--durability", "nosync",
					    "--sync-interval", "20",
					    "--log-level", "debug", NULL};
	struct hh_client c;
	char id[128];

	hh_start(&s, extra);
	ok(log_has(&s, "(durability nosync)"), "nosync mode is reported");
	hh_client_init(&c, &s, HH_CLIENT_A, "projD");
	hh_copy(id, sizeof(id), post_one(&c, "n1"));
	hh_client_close(&c);
	is(hh_stop(&s), 0, "the server stops (exit 0)");
	ok(log_has(&s, "durability: flushed at stop (0 flushes while running)"),
	   "nosync flushes only at the stop: no timer, whatever sync-interval");
	hh_restart(&s);
	hh_client_init(&c, &s, HH_CLIENT_A, "projD");
	ok(still_there(&c, id), "the message is there after the restart");
	hh_client_close(&c);
	is(hh_discard(&s), 0, "the nosync server exits 0");
}

static void config_file(void)
{
	static struct hh_server s;
	static char arg[PATH_MAX];
	static const char *extra[] = {"--config", arg, "--log-level", "info",
				      NULL};
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/durability.conf", srv.dir);
	f = fopen(path, "w");
	fprintf(f, "# interval mode from the file\ndurability = interval\n"
		   "sync-interval = 250\n");
	fclose(f);
	snprintf(arg, sizeof(arg), "%s", path);
	hh_start(&s, extra);
	ok(log_has(&s, "(durability interval, flushed every 250 ms)"),
	   "durability and sync-interval are read from the config file");
	is(hh_discard(&s), 0, "that server exits 0");

	is(refused("--durability everysec"), 2, "an unknown mode refuses to start");
	is(refused("--durability interval --sync-interval 0"), 2,
	   "a sync-interval of 0 refuses to start");
}

int main(void)
{
	static const char *const info[] = {"--log-level", "info", NULL};

	hh_start(&srv, info);
	mode_sync();
	mode_interval();
	mode_nosync();
	config_file();
	hh_resp_free(&r);
	return hh_finish(&srv);
}
