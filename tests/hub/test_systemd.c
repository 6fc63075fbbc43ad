/*
 * test_systemd.c - running under systemd: the readiness protocol, the
 * SIGTERM drain, and the unit file (hub/systemd/herald.service.in).
 *
 * Readiness: the test binds a unix datagram socket and starts the server
 * with NOTIFY_SOCKET naming it, as systemd does for Type=notify. READY=1
 * must come from the server's own pid once it serves (a ping answers), and
 * never from a server that could not listen or whose data directory
 * another server has open; STOPPING=1 when SIGTERM starts the drain.
 *
 * Drain: POSTs whose bytes reached the server before SIGTERM are in
 * flight; each is answered (201, or 503 for one the server had not started
 * yet - never a dropped connection), and every one answered 201 is there
 * after a restart. A WebSocket subscriber gets a close frame with 1001
 * (going away), an event stream its end. Exit status 0.
 *
 * The unit: `systemd-analyze verify` finds nothing to say about it, and
 * `systemd-analyze security --offline` rates its exposure at most 2.0
 * ("OK"). Skipped where systemd-analyze does not run.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "harness.h"
#include "wsc.h"

#define N_POSTS 6

static int notify_fd = -1;
static char notify_path[108];

/* Binds the notify socket, SO_PASSCRED on: datagrams carry the sender. */
static void notify_open(void)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	char dir[] = "/tmp/herald-sd-XXXXXX";
	int one = 1;

	if (!mkdtemp(dir))
		bail_out("mkdtemp: %s", strerror(errno));
	snprintf(notify_path, sizeof(notify_path), "%s/notify", dir);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", notify_path);
	notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (notify_fd < 0 ||
	    setsockopt(notify_fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof(one)) ||
	    bind(notify_fd, (struct sockaddr *)&a, sizeof(a)))
		bail_out("notify socket: %s", strerror(errno));
}

static void notify_remove(void)
{
	char *slash;

	close(notify_fd);
	unlink(notify_path);
	slash = strrchr(notify_path, '/');
	*slash = '\0';
	rmdir(notify_path);
}

/* The next datagram within timeout_ms into buf (NUL-terminated); *pid its
 * sender. false when none came. */
static bool notify_recv(char *buf, size_t n, pid_t *pid, int timeout_ms)
{
	struct pollfd p = {.fd = notify_fd, .events = POLLIN};
	char ctl[CMSG_SPACE(sizeof(struct ucred))];
	struct iovec iov = {buf, n - 1};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1,
			   .msg_control = ctl, .msg_controllen = sizeof(ctl)};
	struct cmsghdr *c;
	ssize_t got;

	*pid = 0;
	if (poll(&p, 1, timeout_ms) <= 0)
		return false;
	got = recvmsg(notify_fd, &m, 0);
	if (got < 0)
		return false;
	buf[got] = '\0';
	for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == SOL_SOCKET &&
		    c->cmsg_type == SCM_CREDENTIALS) {
			struct ucred uc;

			memcpy(&uc, CMSG_DATA(c), sizeof(uc));
			*pid = uc.pid;
		}
	return true;
}

static void test_ready(struct hh_server *srv)
{
	struct hh_client c;
	struct hh_resp r = HH_RESP_INIT;
	char msg[512];
	const char *argv[12];
	char *out = NULL;
	int argc = 0;
	pid_t pid;
	bool got;

	got = notify_recv(msg, sizeof(msg), &pid, 10000);
	ok(got && strstr(msg, "READY=1") != NULL,
	   "the server sends READY=1 to $NOTIFY_SOCKET");
	if (got)
		diag("notify: %s", msg);
	is(pid, srv->pid, "from its own pid (NotifyAccess=main)");
	ok(got && strstr(msg, hh_fmt(":%d", srv->port)) != NULL,
	   "its STATUS= names the port it serves");
	hh_client_init(&c, srv, HH_CLIENT_A, "sd");
	is(hh_call(&c, &r, "GET", "/v2/ping", NULL), 204,
	   "once READY=1 came, the port answers");
	hh_resp_free(&r);
	hh_client_close(&c);
	ok(!notify_recv(msg, sizeof(msg), &pid, 0),
	   "READY=1 comes once, with nothing else while it serves");

	/* A second server on the same port cannot listen. */
	argv[argc++] = getenv("HERALD_BIN");
	argv[argc++] = "serve";
	argv[argc++] = "--listen";
	argv[argc++] = hh_fmt("127.0.0.1:%d", srv->port);
	argv[argc++] = "--data";
	argv[argc++] = hh_fmt("%s/other-data", srv->dir);
	argv[argc] = NULL;
	setenv("NOTIFY_SOCKET", notify_path, 1);
	ok(hh_run(argv, hh_fmt("%s/other.out", srv->dir), NULL) != 0,
	   "a server whose port is taken exits non-zero");
	unsetenv("NOTIFY_SOCKET");
	got = notify_recv(msg, sizeof(msg), &pid, 0);
	ok(!got || !strstr(msg, "READY=1"),
	   "and never says READY=1");
	if (got)
		diag("it sent: %s", msg);

	/* Nor can a second server on the same data directory. */
	argv[3] = "127.0.0.1:0";
	argv[5] = srv->data;
	setenv("NOTIFY_SOCKET", notify_path, 1);
	ok(hh_run(argv, hh_fmt("%s/second.out", srv->dir), &out) != 0,
	   "a second server on the same data directory exits non-zero");
	unsetenv("NOTIFY_SOCKET");
	ok(strstr(out, "another herald serve has") != NULL,
	   "saying another server has it open");
	if (!strstr(out, "another herald serve has"))
		diag("it said: %s", out);
	free(out);
	got = notify_recv(msg, sizeof(msg), &pid, 0);
	ok(!got || !strstr(msg, "READY=1"),
	   "and never says READY=1 either");
}

/* A complete POST of one message on its own connection, not read. */
static void post_unread(struct hh_client *c, const struct hh_server *srv,
			int n)
{
	const char *body = hh_fmt("{\"messages\": [{\"body\": {\"drain\": %d}}]}",
				  n);
	const char *req = hh_fmt(
		"POST /v2/queues/dq/messages HTTP/1.1\r\nHost: t\r\n"
		"Client-ID: " HH_CLIENT_A "\r\nX-Project-Id: sd\r\n"
		"Content-Type: application/json\r\nContent-Length: %zu\r\n"
		"\r\n%s", strlen(body), body);

	hh_client_init(c, srv, HH_CLIENT_A, "sd");
	if (hh_send(c, req, strlen(req)) != 0)
		bail_out("cannot send a POST");
}

/* The close frame's status code from a WebSocket, -1 when none came. */
static int ws_close_code(struct wsc *w)
{
	for (int i = 0; i < 100; i++) {
		if (w->len >= 4 && w->buf[0] == 0x88)
			return w->buf[2] << 8 | w->buf[3];
		if (w->len >= 2 && w->buf[0] != 0x88) {
			size_t skip = 2 + (w->buf[1] & 0x7f); /* small frames */

			if (w->len < skip)
				skip = w->len;
			memmove(w->buf, w->buf + skip, w->len - skip);
			w->len -= skip;
			continue;
		}
		{
			struct pollfd p = {.fd = w->fd, .events = POLLIN};
			ssize_t n;

			if (w->cap - w->len < 1024) {
				w->cap = w->cap * 2 + 4096;
				w->buf = realloc(w->buf, w->cap);
				if (!w->buf)
					bail_out("out of memory");
			}
			if (poll(&p, 1, 5000) <= 0)
				return -1;
			n = recv(w->fd, w->buf + w->len, w->cap - w->len, 0);
			if (n <= 0)
				return -1;
			w->len += (size_t)n;
		}
	}
	return -1;
}

static void test_drain(struct hh_server *srv)
{
	struct hh_client posts[N_POSTS], ping, sse, check;
	struct hh_resp r = HH_RESP_INIT;
	char ids[N_POSTS][32], msg[512];
	const char *sse_req =
		"GET /v2/queues/dq/events?client_id=" HH_CLIENT_A
		"&project_id=sd HTTP/1.1\r\nHost: t\r\n"
		"Accept: text/event-stream\r\n\r\n";
	int answered = 0, created = 0, durable = 0, code;
	struct wsc w;
	pid_t pid;

	hh_client_init(&check, srv, HH_CLIENT_B, "sd");
	is(hh_call(&check, &r, "PUT", "/v2/queues/dq", NULL), 201,
	   "the drain's queue is created");
	ok(wsc_open(&w, srv, "/v2/queues/dq/stream?client_id=" HH_CLIENT_A
		    "&project_id=sd", NULL) && w.status == 101,
	   "a WebSocket subscriber is connected");
	hh_client_init(&sse, srv, NULL, NULL);
	if (hh_send(&sse, sse_req, strlen(sse_req)) != 0)
		bail_out("cannot open the event stream");
	is(hh_recv(&sse, &r, true), 200, "an event stream is open");
	for (int i = 0; i < N_POSTS; i++)
		post_unread(&posts[i], srv, i);
	/* The server has read what came before the ping by the time it
	 * answers it: those POSTs are in flight. */
	hh_client_init(&ping, srv, HH_CLIENT_A, "sd");
	is(hh_call(&ping, &r, "GET", "/v2/ping", NULL), 204,
	   "a ping after the POSTs is answered");

	kill(srv->pid, SIGTERM);
	/* The subscriber answers the server's close, as clients do. */
	code = ws_close_code(&w);
	is(code, 1001, "the WebSocket subscriber got a close frame: 1001 "
		       "going away");
	wsc_send_op(&w, 0x8, "\x03\xe9", 2);
	is(hh_stop(srv), 0, "SIGTERM with requests in flight: exit status 0");
	ok(notify_recv(msg, sizeof(msg), &pid, 5000) &&
	   strstr(msg, "STOPPING=1") != NULL,
	   "the server sent STOPPING=1 when the drain began");
	for (int i = 0; i < N_POSTS; i++) {
		ids[i][0] = '\0';
		hh_recv(&posts[i], &r, false);
		if (r.status == 201 || r.status == 503)
			answered++;
		if (r.status == 201) {
			created++;
			hh_copy(ids[i], sizeof(ids[i]),
				hh_href_id(hh_gets(r.json, "resources.0")));
		}
		hh_client_close(&posts[i]);
	}
	is(answered, N_POSTS, "every POST in flight was answered, none dropped");
	ok(created > 0, "POSTs in flight were committed and answered 201");
	diag("%d of %d POSTs answered 201", created, N_POSTS);
	ok(hh_wait_closed(&sse), "the event stream was ended");

	hh_restart(srv);
	for (int i = 0; i < N_POSTS; i++) {
		if (!ids[i][0])
			continue;
		hh_call(&check, &r, "GET",
			hh_fmt("/v2/queues/dq/messages/%s", ids[i]), NULL);
		durable += r.status == 200;
	}
	is(durable, created, "every POST answered 201 in the drain is there "
			     "after a restart");
	hh_resp_free(&r);
	wsc_close(&w);
	hh_client_close(&sse);
	hh_client_close(&ping);
	hh_client_close(&check);
}

static void test_unit(const struct hh_server *srv)
{
	const char *unit = getenv("HERALD_UNIT");
	const char *base = unit ? strrchr(unit, '/') : NULL;
	const char *verify[] = {"systemd-analyze", "verify", "--man=no", unit,
				NULL};
	const char *security[] = {"systemd-analyze", "security",
				  "--offline=yes", "--threshold=20", unit,
				  NULL};
	char *out = NULL;
	int st;

	if (!unit || !base)
		bail_out("HERALD_UNIT is not set");
	st = hh_run(verify, hh_fmt("%s/verify.out", srv->dir), &out);
	if (st == 127 || strstr(out, "ystem has not been booted")) {
		skip(3, "systemd-analyze does not run here: %s", out);
		free(out);
		return;
	}
	is(st, 0, "systemd-analyze verify accepts the unit");
	/* Other units of the machine may draw remarks; ours must not. */
	ok(!strstr(out, hh_fmt("%s:", base + 1)), "and has nothing to say "
						  "about it");
	if (st || strstr(out, hh_fmt("%s:", base + 1)))
		diag("%s", out);
	free(out);
	st = hh_run(security, hh_fmt("%s/security.out", srv->dir), &out);
	is(st, 0, "systemd-analyze security rates its exposure 2.0 or "
		  "less (OK)");
	if (st) {
		const char *level = strstr(out, "Overall exposure");

		diag("%s", level ? level : out);
	}
	free(out);
}

int main(void)
{
	struct hh_server srv;

#ifndef HERALD_HAVE_SYSTEMD
	skip_all("herald was built without libsystemd (libsystemd-dev)");
#endif
	notify_open();
	setenv("NOTIFY_SOCKET", notify_path, 1);
	hh_start(&srv, NULL);
	unsetenv("NOTIFY_SOCKET");
	test_ready(&srv);
	test_drain(&srv);
	test_unit(&srv);
	notify_remove();
	return hh_finish(&srv);
}
