/*
 * harness.c - runs the herald binary for end-to-end tests and speaks a small
 * blocking HTTP/1.1 to it. See harness.h.
 *
 * The server: fork + exec with stdout on a pipe (we read the "listening on"
 * line from it) and stderr appended to DIR/stderr.log. The child asks the
 * kernel to SIGKILL it when the test program dies (PR_SET_PDEATHSIG), and
 * an atexit handler and a SIGALRM watchdog kill it too, so no test leaves
 * a server behind or hangs forever.
 *
 * The client keeps one connection and a read buffer: bytes after the end
 * of one response stay in the buffer for the next one, so pipelined
 * responses are read correctly. A response ends by Content-Length, by
 * chunked encoding, or (neither) when the server closes the connection.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HH_START_TIMEOUT_MS 15000
#define HH_STOP_TIMEOUT_MS 15000
#define HH_WATCHDOG_S 240
#define HH_MAX_HEAD (1 << 20)

/* The servers started and not yet finished, newest first (through
 * ->prev), for the watchdog and the atexit handler. */
static struct hh_server *current;
static bool atexit_done;

/* -------------------------------------------------------------- plumbing */

double hh_mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

uint64_t hh_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		bail_out("out of memory");
	return q;
}

static char *xstrndup(const char *s, size_t n)
{
	char *d = xrealloc(NULL, n + 1);

	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

static void kill_server(struct hh_server *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
		s->pid = 0;
	}
}

/* Takes s off the list of tracked servers. */
static void untrack(struct hh_server *s)
{
	for (struct hh_server **p = &current; *p; p = &(*p)->prev) {
		if (*p == s) {
			*p = s->prev;
			break;
		}
	}
	s->prev = NULL;
}

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void remove_dir(struct hh_server *s)
{
	if (s->dir[0] != '\0' && getenv("HERALD_KEEP") == NULL)
		nftw(s->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	s->dir[0] = '\0';
}

static void at_exit(void)
{
	if (atexit_done)
		return;
	atexit_done = true;
	for (struct hh_server *s = current; s; s = s->prev) {
		kill_server(s);
		remove_dir(s);
	}
}

static void on_alarm(int sig)
{
	static const char msg[] = "Bail out! watchdog: the test took too long\n";
	ssize_t w;

	(void)sig;
	for (struct hh_server *s = current; s; s = s->prev)
		if (s->pid > 0)
			kill(s->pid, SIGKILL);
	w = write(STDOUT_FILENO, msg, sizeof(msg) - 1);
	(void)w;
	_exit(255);
}

void hh_watchdog(unsigned seconds)
{
	alarm(seconds);
}

/* ---------------------------------------------------------------- server */

void hh_clock_set(struct hh_server *s, uint64_t now_ms)
{
	char tmp[PATH_MAX + 8];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", s->clock);
	f = fopen(tmp, "w");
	if (f == NULL)
		bail_out("cannot write %s: %s", tmp, strerror(errno));
	fprintf(f, "%llu\n", (unsigned long long)now_ms);
	if (fclose(f) != 0 || rename(tmp, s->clock) != 0)
		bail_out("cannot write %s: %s", s->clock, strerror(errno));
	s->now_ms = now_ms;
}

void hh_clock_advance(struct hh_server *s, uint64_t ms)
{
	hh_clock_set(s, s->now_ms + ms);
}

void hh_show_log(const struct hh_server *s)
{
	char line[1024];
	FILE *f = fopen(s->log, "r");
	int n = 0;

	if (f == NULL)
		return;
	diag("---- server stderr (%s) ----", s->log);
	while (fgets(line, sizeof(line), f) != NULL && n < 400) {
		line[strcspn(line, "\n")] = '\0';
		diag("%s", line);
		n++;
	}
	diag("---- end of server stderr ----");
	fclose(f);
}

static const char *loops_env(void)
{
	const char *v = getenv("HERALD_TEST_LOOPS");

	return v && *v ? v : NULL;
}

static bool has_arg(const struct hh_server *s, const char *name)
{
	for (int i = 0; i < s->n_extra; i++)
		if (strcmp(s->extra[i], name) == 0 ||
		    (strncmp(s->extra[i], name, strlen(name)) == 0 &&
		     s->extra[i][strlen(name)] == '='))
			return true;
	return false;
}

static void spawn(struct hh_server *s)
{
	const char *bin = getenv("HERALD_BIN");
	char *argv[32];
	int argc = 0, out[2], logfd;
	pid_t pid;

	if (bin == NULL || bin[0] == '\0')
		bail_out("HERALD_BIN is not set");
	if (pipe(out) != 0)
		bail_out("pipe: %s", strerror(errno));
	logfd = open(s->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (logfd < 0)
		bail_out("open %s: %s", s->log, strerror(errno));
	argv[argc++] = (char *)bin;
	argv[argc++] = "serve";
	argv[argc++] = "--listen";
	argv[argc++] = "127.0.0.1:0";
	argv[argc++] = "--data";
	argv[argc++] = s->data;
	argv[argc++] = "--clock-file";
	argv[argc++] = s->clock;
	argv[argc++] = "--log-level";
	argv[argc++] = "warn";
	for (int i = 0; i < s->n_extra; i++)
		argv[argc++] = s->extra[i];
	/* HERALD_TEST_LOOPS=N runs every server with N service loops
	 * (meson test --setup loops2), unless the test chose itself. */
	if (loops_env() && !has_arg(s, "--loops")) {
		argv[argc++] = "--loops";
		argv[argc++] = (char *)loops_env();
	}
	argv[argc] = NULL;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		bail_out("fork: %s", strerror(errno));
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(out[1], STDOUT_FILENO);
		dup2(logfd, STDERR_FILENO);
		close(out[0]);
		close(out[1]);
		signal(SIGPIPE, SIG_DFL);
		execv(bin, argv);
		dprintf(STDERR_FILENO, "exec %s: %s\n", bin, strerror(errno));
		_exit(127);
	}
	close(out[1]);
	close(logfd);
	s->pid = pid;
	s->out_fd = out[0];
}

/* Reads the "listening on 127.0.0.1:PORT" line; false on timeout/exit. */
static bool read_port(struct hh_server *s)
{
	char line[256];
	size_t n = 0;
	uint64_t deadline = hh_mono_ms() + HH_START_TIMEOUT_MS;

	while (n < sizeof(line) - 1) {
		struct pollfd p = {.fd = s->out_fd, .events = POLLIN};
		uint64_t now = hh_mono_ms();
		ssize_t got;

		if (now >= deadline) {
			diag("the server printed no port within %d ms",
			     HH_START_TIMEOUT_MS);
			return false;
		}
		if (poll(&p, 1, (int)(deadline - now)) <= 0)
			continue;
		got = read(s->out_fd, line + n, 1);
		if (got <= 0) {
			diag("the server closed its stdout before printing a port");
			return false;
		}
		if (line[n] == '\n')
			break;
		n++;
	}
	line[n] = '\0';
	if (sscanf(line, "listening on 127.0.0.1:%d", &s->port) != 1 ||
	    s->port <= 0 || s->port > 65535) {
		diag("unexpected first line on the server's stdout: \"%s\"",
		     line);
		return false;
	}
	fcntl(s->out_fd, F_SETFL, O_NONBLOCK);
	return true;
}

static void launch(struct hh_server *s)
{
	spawn(s);
	if (!read_port(s)) {
		kill_server(s);
		hh_show_log(s);
		bail_out("the server did not start");
	}
}

void hh_start(struct hh_server *s, const char *const *extra)
{
	const char *tmp = getenv("TMPDIR");

	memset(s, 0, sizeof(*s));
	s->out_fd = -1;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, on_alarm);
	alarm(HH_WATCHDOG_S);
	atexit(at_exit);
	snprintf(s->dir, sizeof(s->dir), "%s/herald-e2e-XXXXXX",
		 tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	if (mkdtemp(s->dir) == NULL)
		bail_out("mkdtemp: %s", strerror(errno));
	snprintf(s->data, sizeof(s->data), "%s/data", s->dir);
	snprintf(s->clock, sizeof(s->clock), "%s/clock", s->dir);
	snprintf(s->log, sizeof(s->log), "%s/stderr.log", s->dir);
	if (mkdir(s->data, 0755) != 0)
		bail_out("mkdir %s: %s", s->data, strerror(errno));
	for (int i = 0; extra != NULL && extra[i] != NULL && i < 16; i++)
		s->extra[s->n_extra++] = xstrndup(extra[i], strlen(extra[i]));
	hh_clock_set(s, HH_EPOCH_MS);
	diag("server directory %s", s->dir);
	s->prev = current;
	current = s;
	launch(s);
}

int hh_stop(struct hh_server *s)
{
	uint64_t deadline = hh_mono_ms() + HH_STOP_TIMEOUT_MS;
	int status;

	if (s->pid <= 0)
		return -1;
	kill(s->pid, SIGTERM);
	for (;;) {
		pid_t w = waitpid(s->pid, &status, WNOHANG);

		if (w == s->pid)
			break;
		if (w < 0 && errno != EINTR) {
			s->pid = 0;
			return -1;
		}
		if (hh_mono_ms() >= deadline) {
			diag("the server did not exit within %d ms of SIGTERM",
			     HH_STOP_TIMEOUT_MS);
			kill_server(s);
			return -1;
		}
		poll(NULL, 0, 10);
	}
	s->pid = 0;
	if (s->out_fd >= 0) {
		close(s->out_fd);
		s->out_fd = -1;
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status)) {
		diag("the server died of signal %d", WTERMSIG(status));
		return 128 + WTERMSIG(status);
	}
	return -1;
}

void hh_restart(struct hh_server *s)
{
	if (s->pid > 0)
		hh_stop(s);
	launch(s);
}

int hh_discard(struct hh_server *s)
{
	int rc = hh_stop(s);

	for (int i = 0; i < s->n_extra; i++)
		free(s->extra[i]);
	s->n_extra = 0;
	remove_dir(s);
	untrack(s);
	return rc;
}

int hh_finish(struct hh_server *s)
{
	struct hh_client c;
	struct hh_resp r = HH_RESP_INIT;
	int rc;

	if (s->pid > 0) {
		hh_client_init(&c, s, HH_CLIENT_A, "projFinish");
		hh_call(&c, &r, "GET", "/v2/ping", NULL);
		is(r.status, 204, "the server still answers GET /v2/ping at the end");
		hh_resp_free(&r);
		hh_client_close(&c);
		is(hh_stop(s), 0, "the server exits 0 on SIGTERM");
	} else {
		ok(0, "the server was still running at the end");
		skip(1, "no server to stop");
	}
	rc = exit_status();
	if (rc != 0)
		hh_show_log(s);
	for (int i = 0; i < s->n_extra; i++)
		free(s->extra[i]);
	s->n_extra = 0;
	remove_dir(s);
	untrack(s);
	alarm(0);
	return rc;
}

/* ---------------------------------------------------------------- client */

void hh_client_init(struct hh_client *c, const struct hh_server *s,
		    const char *client_id, const char *project)
{
	memset(c, 0, sizeof(*c));
	c->srv = s;
	c->fd = -1;
	c->client_id = client_id;
	c->project = project;
	c->timeout_ms = 5000;
}

static void drop_conn(struct hh_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->len = 0;
}

void hh_client_close(struct hh_client *c)
{
	drop_conn(c);
	free(c->buf);
	c->buf = NULL;
	c->cap = 0;
}

static int connect_to(struct hh_client *c)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	int one = 1;

	drop_conn(c);
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -1;
	a.sin_port = htons((uint16_t)c->srv->port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(c->fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		diag("connect to port %d: %s", c->srv->port, strerror(errno));
		drop_conn(c);
		return -1;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->connects++;
	return 0;
}

int hh_send(struct hh_client *c, const void *bytes, size_t len)
{
	const char *p = bytes;

	if (c->fd < 0 && connect_to(c) != 0)
		return -1;
	while (len > 0) {
		struct pollfd pf = {.fd = c->fd, .events = POLLOUT | POLLIN};
		ssize_t w;

		if (poll(&pf, 1, c->timeout_ms) <= 0) {
			diag("send timed out");
			return -1;
		}
		/* An answer before the whole request went out (e.g. a 400 for
		 * an oversize body): stop sending and read it, as curl does. */
		if (pf.revents & POLLIN)
			return 1;
		w = send(c->fd, p, len, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Reads more bytes into the buffer: 1 read, 0 EOF, -1 error/timeout. */
static int fill(struct hh_client *c)
{
	struct pollfd p = {.fd = c->fd, .events = POLLIN};
	ssize_t got;
	int pr;

	if (c->fd < 0)
		return 0;
	if (c->cap - c->len < 65536) {
		c->cap = c->cap * 2 + 65536;
		c->buf = xrealloc(c->buf, c->cap + 1);
	}
	do
		pr = poll(&p, 1, c->timeout_ms);
	while (pr < 0 && errno == EINTR);
	if (pr == 0) {
		diag("no answer within %d ms", c->timeout_ms);
		c->timed_out = true;
		return -1;
	}
	if (pr < 0)
		return -1;
	got = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
	if (got < 0)
		return errno == ECONNRESET ? 0 : -1;
	c->len += (size_t)got;
	return got > 0 ? 1 : 0;
}

static void consume(struct hh_client *c, size_t n)
{
	memmove(c->buf, c->buf + n, c->len - n);
	c->len -= n;
}

void hh_resp_free(struct hh_resp *r)
{
	for (size_t i = 0; i < r->nh; i++) {
		free(r->h[i].name);
		free(r->h[i].value);
	}
	free(r->h);
	free(r->body);
	if (r->json != NULL)
		json_decref(r->json);
	memset(r, 0, sizeof(*r));
	r->status = -1;
}

const char *hh_header(const struct hh_resp *r, const char *name)
{
	for (size_t i = 0; i < r->nh; i++)
		if (strcasecmp(r->h[i].name, name) == 0)
			return r->h[i].value;
	return NULL;
}

bool hh_header_has(const struct hh_resp *r, const char *name,
		   const char *token)
{
	const char *v = hh_header(r, name);
	size_t n = strlen(token);

	while (v != NULL && *v != '\0') {
		size_t len;

		v += strspn(v, " \t,");
		len = strcspn(v, ",");
		while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
			len--;
		if (len == n && strncasecmp(v, token, n) == 0)
			return true;
		v += strcspn(v, ",");
	}
	return false;
}

/* Parses the head in buf[0..n) into r. False on garbage. */
static bool parse_head(struct hh_resp *r, const char *buf, size_t n)
{
	const char *p = buf, *end = buf + n, *eol;
	int major, minor;

	eol = memchr(p, '\n', (size_t)(end - p));
	if (eol == NULL ||
	    sscanf(p, "HTTP/%d.%d %d", &major, &minor, &r->status) != 3) {
		r->status = -1;
		return false;
	}
	for (p = eol + 1; p < end; p = eol + 1) {
		const char *colon, *v, *ve;

		eol = memchr(p, '\n', (size_t)(end - p));
		if (eol == NULL)
			eol = end;
		ve = eol;
		if (ve > p && ve[-1] == '\r')
			ve--;
		if (ve == p)
			break;
		colon = memchr(p, ':', (size_t)(ve - p));
		if (colon == NULL)
			continue;
		v = colon + 1;
		while (v < ve && (*v == ' ' || *v == '\t'))
			v++;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		r->h = xrealloc(r->h, (r->nh + 1) * sizeof(*r->h));
		r->h[r->nh].name = xstrndup(p, (size_t)(colon - p));
		r->h[r->nh].value = xstrndup(v, (size_t)(ve - v));
		r->nh++;
	}
	if (major == 1 && minor == 0 &&
	    !hh_header_has(r, "connection", "keep-alive"))
		r->closed = true;
	if (hh_header_has(r, "connection", "close"))
		r->closed = true;
	return true;
}

/* Reads a chunked body into r; -1 on error. */
static int read_chunked(struct hh_client *c, struct hh_resp *r)
{
	size_t pos = 0;

	for (;;) {
		char *eol;
		unsigned long size;

		while ((eol = memchr(c->buf + pos, '\n', c->len - pos)) ==
		       NULL)
			if (fill(c) <= 0)
				return -1;
		size = strtoul(c->buf + pos, NULL, 16);
		pos = (size_t)(eol - c->buf) + 1;
		if (size == 0) {
			/* trailers up to the empty line */
			for (;;) {
				while ((eol = memchr(c->buf + pos, '\n',
						     c->len - pos)) == NULL)
					if (fill(c) <= 0)
						return -1;
				if (eol == c->buf + pos ||
				    (eol == c->buf + pos + 1 &&
				     c->buf[pos] == '\r')) {
					consume(c, (size_t)(eol - c->buf) + 1);
					return 0;
				}
				pos = (size_t)(eol - c->buf) + 1;
			}
		}
		while (c->len < pos + size + 2)
			if (fill(c) <= 0)
				return -1;
		r->body = xrealloc(r->body, r->body_len + size + 1);
		memcpy(r->body + r->body_len, c->buf + pos, size);
		r->body_len += size;
		pos += size + 2;
	}
}

static int read_body(struct hh_client *c, struct hh_resp *r, bool head)
{
	const char *cl = hh_header(r, "content-length");

	if (head || r->status == 204 || r->status == 304 ||
	    (r->status >= 100 && r->status < 200))
		return 0;
	if (hh_header_has(r, "transfer-encoding", "chunked"))
		return read_chunked(c, r);
	if (cl != NULL) {
		size_t n = strtoul(cl, NULL, 10);

		while (c->len < n)
			if (fill(c) <= 0)
				return -1;
		r->body = xstrndup(c->buf, n);
		r->body_len = n;
		consume(c, n);
		return 0;
	}
	for (;;) {
		int f = fill(c);

		if (f < 0)
			return -1;
		if (f == 0)
			break;
	}
	r->body = xstrndup(c->buf, c->len);
	r->body_len = c->len;
	consume(c, c->len);
	r->closed = true;
	return 0;
}

int hh_recv(struct hh_client *c, struct hh_resp *r, bool head)
{
	char *end;
	size_t head_len;

	hh_resp_free(r);
	c->eof_at_start = false;
	c->timed_out = false;
	for (;;) {
		int f;

		end = c->len >= 4 ? memmem(c->buf, c->len, "\r\n\r\n", 4)
				  : NULL;
		if (end != NULL)
			break;
		f = c->len > HH_MAX_HEAD ? -1 : fill(c);
		if (f <= 0) {
			c->eof_at_start = f == 0 && c->len == 0;
			r->timed_out = c->timed_out;
			r->closed = !r->timed_out;
			drop_conn(c);
			return r->status = -1;
		}
	}
	head_len = (size_t)(end - c->buf) + 4;
	if (!parse_head(r, c->buf, head_len)) {
		diag("garbage instead of an HTTP response");
		drop_conn(c);
		r->closed = true;
		return r->status = -1;
	}
	consume(c, head_len);
	if (read_body(c, r, head) != 0) {
		diag("the response body was cut short");
		r->timed_out = c->timed_out;
		drop_conn(c);
		r->closed = !r->timed_out;
		r->status = -1;
	}
	if (r->body == NULL)
		r->body = xstrndup("", 0);
	if (r->body_len > 0)
		r->json = json_loadb(r->body, r->body_len, JSON_DECODE_ANY,
				     NULL);
	r->timed_out = c->timed_out;
	if (r->closed)
		drop_conn(c);
	return r->status;
}

bool hh_wait_closed(struct hh_client *c)
{
	for (;;) {
		int f = fill(c);

		c->len = 0;
		if (f == 0) {
			drop_conn(c);
			return true;
		}
		if (f < 0)
			return false;
	}
}

static void add(char **s, size_t *len, size_t *cap, const void *p, size_t n)
{
	if (*len + n + 1 > *cap) {
		*cap = (*len + n + 1) * 2;
		*s = xrealloc(*s, *cap);
	}
	memcpy(*s + *len, p, n);
	*len += n;
	(*s)[*len] = '\0';
}

static void addf(char **s, size_t *len, size_t *cap, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void addf(char **s, size_t *len, size_t *cap, const char *fmt, ...)
{
	char tmp[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(tmp))
		bail_out("header too long for addf");
	add(s, len, cap, tmp, (size_t)n);
}

static bool has_header_line(const char *headers, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = headers; p != NULL && *p != '\0';) {
		if (strncasecmp(p, name, n) == 0 && p[n] == ':')
			return true;
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return false;
}

int hh_callb(struct hh_client *c, struct hh_resp *r, const char *method,
	     const char *path, const char *headers, const void *body,
	     size_t len)
{
	char *req = NULL;
	size_t rlen = 0, rcap = 0;
	bool head = strcmp(method, "HEAD") == 0;
	int attempt;

	addf(&req, &rlen, &rcap, "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n",
	     method, path, c->srv->port);
	if (c->client_id != NULL)
		addf(&req, &rlen, &rcap, "Client-ID: %s\r\n", c->client_id);
	if (c->project != NULL)
		addf(&req, &rlen, &rcap, "X-Project-Id: %s\r\n", c->project);
	if (headers != NULL)
		add(&req, &rlen, &rcap, headers, strlen(headers));
	if (body != NULL) {
		if (!has_header_line(headers, "content-type"))
			addf(&req, &rlen, &rcap,
			     "Content-Type: application/json\r\n");
		addf(&req, &rlen, &rcap, "Content-Length: %zu\r\n", len);
	}
	add(&req, &rlen, &rcap, "\r\n", 2);
	if (body != NULL)
		add(&req, &rlen, &rcap, body, len);

	/* A kept-alive connection the server closed while idle is retried
	 * once on a new one; a fresh connection is not. */
	for (attempt = 0; attempt < 2; attempt++) {
		bool reused = c->fd >= 0;

		bool sent;

		hh_resp_free(r);
		sent = hh_send(c, req, rlen) >= 0;
		/* Even when sending failed, the server may have answered. */
		if (c->fd >= 0 && hh_recv(c, r, head) >= 0)
			break;
		if (!reused || (sent && !c->eof_at_start))
			break;
		drop_conn(c);
	}
	free(req);
	return r->status;
}

int hh_callh(struct hh_client *c, struct hh_resp *r, const char *method,
	     const char *path, const char *headers, const char *body)
{
	return hh_callb(c, r, method, path, headers, body,
			body != NULL ? strlen(body) : 0);
}

int hh_call(struct hh_client *c, struct hh_resp *r, const char *method,
	    const char *path, const char *body)
{
	return hh_callh(c, r, method, path, NULL, body);
}

/* --------------------------------------------------------------- helpers */

const char *hh_fmt(const char *fmt, ...)
{
	static char bufs[16][8192];
	static int next;
	char *b = bufs[next++ % 16];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(b, sizeof(bufs[0]), fmt, ap);
	va_end(ap);
	return b;
}

json_t *hh_get(json_t *root, const char *path)
{
	char key[256];
	const char *p = path;

	while (root != NULL && *p != '\0') {
		size_t n = strcspn(p, ".");

		if (n >= sizeof(key))
			return NULL;
		memcpy(key, p, n);
		key[n] = '\0';
		if (json_is_object(root)) {
			root = json_object_get(root, key);
		} else if (json_is_array(root)) {
			char *e;
			unsigned long i = strtoul(key, &e, 10);

			root = *e == '\0' && n > 0 ? json_array_get(root, i)
						   : NULL;
		} else {
			return NULL;
		}
		p += n;
		if (*p == '.')
			p++;
	}
	return root;
}

const char *hh_gets(json_t *root, const char *path)
{
	return json_string_value(hh_get(root, path));
}

long long hh_geti(json_t *root, const char *path)
{
	json_t *j = hh_get(root, path);

	return json_is_integer(j) ? (long long)json_integer_value(j)
				  : LLONG_MIN;
}

long long hh_len(json_t *root, const char *path)
{
	json_t *j = path[0] != '\0' ? hh_get(root, path) : root;

	return json_is_array(j) ? (long long)json_array_size(j) : -1;
}

bool hh_keys_are(json_t *obj, const char *keys)
{
	char key[128];
	size_t want = 0;

	if (!json_is_object(obj))
		return false;
	for (const char *p = keys; *p != '\0';) {
		size_t n = strcspn(p, ",");

		if (n >= sizeof(key))
			return false;
		memcpy(key, p, n);
		key[n] = '\0';
		if (json_object_get(obj, key) == NULL)
			return false;
		want++;
		p += n;
		if (*p == ',')
			p++;
	}
	return json_object_size(obj) == want;
}

bool hh_json_eq(const struct hh_resp *r, const char *want)
{
	json_error_t err;
	json_t *w = json_loads(want, JSON_DECODE_ANY, &err);
	bool eq;

	if (w == NULL)
		bail_out("bad JSON in a test: %s: %s", want, err.text);
	eq = r->json != NULL && json_equal(r->json, w);
	if (!eq)
		diag("body: %s\n#  want: %s", r->body, want);
	json_decref(w);
	return eq;
}

const char *hh_href_id(const char *href)
{
	static char id[512];
	const char *q, *slash;
	size_t n;

	if (href == NULL)
		return NULL;
	q = href + strcspn(href, "?");
	slash = q;
	while (slash > href && slash[-1] != '/')
		slash--;
	n = (size_t)(q - slash);
	if (n >= sizeof(id))
		n = sizeof(id) - 1;
	memcpy(id, slash, n);
	id[n] = '\0';
	return id;
}

const char *hh_href_claim(const char *href)
{
	static char id[512];
	const char *p = href != NULL ? strstr(href, "claim_id=") : NULL;
	size_t n;

	if (p == NULL)
		return NULL;
	p += strlen("claim_id=");
	n = strcspn(p, "&");
	if (n >= sizeof(id))
		n = sizeof(id) - 1;
	memcpy(id, p, n);
	id[n] = '\0';
	return id;
}

void hh_copy(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src != NULL ? src : "");
}

const char *hh_resource_ids(const struct hh_resp *r)
{
	static char ids[8192];
	json_t *res = hh_get(r->json, "resources");
	size_t i, n = 0;
	json_t *v;

	ids[0] = '\0';
	json_array_foreach(res, i, v)
	{
		const char *id = hh_href_id(json_string_value(v));

		if (id == NULL)
			return NULL;
		n += (size_t)snprintf(ids + n, sizeof(ids) - n, "%s%s",
				      i > 0 ? "," : "", id);
		if (n >= sizeof(ids))
			return NULL;
	}
	return ids;
}

const char *hh_dump(json_t *j)
{
	static char buf[4096];
	char *s;

	if (j == NULL)
		return "(null)";
	s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
	snprintf(buf, sizeof(buf), "%s", s != NULL ? s : "(unencodable)");
	free(s);
	return buf;
}

const char *hh_time(uint64_t ms)
{
	static char buf[32];
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

void hh_expect_error_(const struct hh_resp *r, int status, const char *title,
		      const char *desc, const char *file, int line,
		      const char *name)
{
	json_t *d = hh_get(r->json, "description");

	if (!is_int_(r->status, status, file, line, "%s: status %d", name,
		     status))
		diag("body: %s", r->body != NULL ? r->body : "");
	is_str_(hh_gets(r->json, "title"), title, file, line, "%s: title",
		name);
	if (desc != NULL)
		is_str_(json_string_value(d), desc, file, line,
			"%s: description", name);
	else
		ok_(json_is_object(r->json) && d == NULL, file, line,
		    "%s: a JSON body without description", name);
}

void hh_expect_4xx_(const struct hh_resp *r, int status, const char *file,
		    int line, const char *name)
{
	bool st = status != 0 ? r->status == status
			      : r->status >= 400 && r->status < 500;

	if (!ok_(st, file, line, "%s: status %s", name,
		 status != 0 ? hh_fmt("%d", status) : "4xx"))
		diag("got status %d, body: %s", r->status,
		     r->body != NULL ? r->body : "");
	if (!ok_(json_is_string(hh_get(r->json, "title")) &&
		     json_is_string(hh_get(r->json, "description")),
		 file, line, "%s: JSON error body with title and description",
		 name))
		diag("body: %s", r->body != NULL ? r->body : "");
}

/* ------------------------------------------------------ memory, load */

/* The server's anonymous resident memory (heap, not the mapped data
 * file), KiB; -1 when unknown. */
long hh_rss_anon_kb(const struct hh_server *s)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)s->pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "RssAnon: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* Whether the server runs under AddressSanitizer, whose quarantine keeps
 * freed memory resident: its RSS says nothing about buffering then. */
bool hh_sanitized(const struct hh_server *s)
{
	char path[64], line[512];
	bool asan = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)s->pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	while (!asan && fgets(line, sizeof(line), f))
		asan = strstr(line, "libasan") != NULL;
	fclose(f);
	return asan;
}

/* Posts `n` requests of 5 messages of 10 KB each (50 KB a request). */
void hh_post_bulk(struct hh_client *c, const char *queue, int n)
{
	static const char head[] = "{\"messages\": [", tail[] = "]}";
	static const char open_body[] = "{\"body\": \"", close_body[] = "\"}";
	size_t len = 0, cap = sizeof(head) + 5 * (10000 + 32) + sizeof(tail);
	char *body = malloc(cap);
	struct hh_resp r = HH_RESP_INIT;

	if (!body)
		bail_out("out of memory");
	memcpy(body + len, head, sizeof(head) - 1);
	len += sizeof(head) - 1;
	for (int i = 0; i < 5; i++) {
		if (i) {
			memcpy(body + len, ", ", 2);
			len += 2;
		}
		memcpy(body + len, open_body, sizeof(open_body) - 1);
		len += sizeof(open_body) - 1;
		memset(body + len, 'x', 10000);
		len += 10000;
		memcpy(body + len, close_body, sizeof(close_body) - 1);
		len += sizeof(close_body) - 1;
	}
	memcpy(body + len, tail, sizeof(tail));
	for (int i = 0; i < n; i++) {
		hh_call(c, &r, "POST", hh_fmt("/v2/queues/%s/messages", queue),
			body);
		if (r.status != 201)
			bail_out("bulk post: %d", r.status);
	}
	hh_resp_free(&r);
	free(body);
}

int hh_run(const char *const *argv, const char *out_path, char **output)
{
	int fd, st;
	pid_t pid;
	FILE *f;

	fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		bail_out("open %s: %s", out_path, strerror(errno));
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		bail_out("fork: %s", strerror(errno));
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		execvp(argv[0], (char *const *)argv);
		dprintf(STDERR_FILENO, "exec %s: %s\n", argv[0],
			strerror(errno));
		_exit(127);
	}
	close(fd);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			bail_out("waitpid: %s", strerror(errno));
	if (output) {
		long n;

		f = fopen(out_path, "r");
		if (!f || fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0)
			bail_out("read %s: %s", out_path, strerror(errno));
		rewind(f);
		*output = xrealloc(NULL, (size_t)n + 1);
		(*output)[fread(*output, 1, (size_t)n, f)] = '\0';
		fclose(f);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int lines_in(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

int hh_read_lines(int fd, char *buf, size_t cap, int want, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	size_t len = strlen(buf);

	while (lines_in(buf) < want && len + 1 < cap &&
	       poll(&p, 1, timeout_ms) > 0) {
		ssize_t n = read(fd, buf + len, cap - len - 1);

		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
	}
	return lines_in(buf);
}

void hh_send_request(struct hh_client *c, const char *method, const char *path,
		     const char *body)
{
	const char *req = hh_fmt("%s %s HTTP/1.1\r\nHost: t\r\nClient-ID: %s\r\n"
				 "X-Project-Id: %s\r\n"
				 "Content-Type: application/json\r\n"
				 "Content-Length: %zu\r\n\r\n%s",
				 method, path, c->client_id, c->project,
				 body ? strlen(body) : 0, body ? body : "");

	if (hh_send(c, req, strlen(req)) != 0)
		bail_out("cannot send %s %s", method, path);
}

bool hh_read_some(int fd, char **buf, size_t *len, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char chunk[4096];
	ssize_t n;

	if (poll(&p, 1, ms) <= 0)
		return false;
	n = read(fd, chunk, sizeof(chunk));
	if (n <= 0)
		return false;
	*buf = realloc(*buf, *len + (size_t)n + 1);
	if (!*buf)
		bail_out("out of memory");
	memcpy(*buf + *len, chunk, (size_t)n);
	*len += (size_t)n;
	(*buf)[*len] = '\0';
	return true;
}

bool hh_read_until(int fd, char **buf, size_t *len, const char *needle, int ms)
{
	while (!*buf || !memmem(*buf, *len, needle, strlen(needle)))
		if (!hh_read_some(fd, buf, len, ms))
			return false;
	return true;
}
