/*
 * stream_workers.c - the Redis peer of the HTTP claim + delete test: workers
 * of a Redis Streams consumer group, as tests/bench/http/run drives them.
 *
 *   stream_workers fill   PORT STREAM GROUP N BYTES
 *   stream_workers work   PORT STREAM GROUP CLIENTS THREADS COUNT SECONDS
 *   stream_workers read   PORT STREAM - CLIENTS THREADS COUNT SECONDS
 *
 * fill: XADD STREAM * f <BYTES bytes>, N times, pipelined 1,000 to a round
 * trip (with appendfsync always: one fsync per round trip), then
 * XGROUP CREATE STREAM GROUP 0, so that the group starts at the first entry.
 *
 * work: CLIENTS connections (consumer c<i> each) spread over THREADS threads,
 * each one loop of a real worker, pipelined per batch:
 *
 *   round trip 1   XREADGROUP GROUP g c<i> COUNT n STREAMS s >
 *   round trip 2   XACK s g <ids...>  +  XDEL s <ids...>   (one write)
 *
 * for SECONDS seconds. A read that finds nothing (the stream is drained) is
 * counted and the worker reads again at once, as a Herald claim that finds
 * nothing answers 204 and wrk goes on. Prints one line:
 *
 *   RESULT test=xreadgroup+xack+xdel batches=.. msgs=.. msgs_s=..
 *          p50_ms=.. p99_ms=..          per round trip (what wrk times)
 *          batch_p50_ms=.. batch_p99_ms=..  per batch: read + ack/del
 *          empty_reads=.. drained_at_s=..   (0 when never drained)
 *
 * msgs = ids acknowledged (XACK's replies) in batches completed within
 * SECONDS.
 *
 * read: the peer of the HTTP GET-by-marker test: CLIENTS readers, each
 * following its own position (one round trip per page):
 *
 *   XREAD COUNT n STREAMS s <the last id it read>
 *
 * from the stream's start, and from the start again when a read finds
 * nothing (as the GET readers start over on an empty page). msgs = entries
 * returned; RESULT test=xread.
 *
 *   stream_workers get    PORT QUEUE - CLIENTS THREADS LIMIT SECONDS
 *
 * get: the same readers on the same loop, against Herald: each follows its
 * own marker through queue QUEUE (project "bench") with
 *
 *   GET /v2/queues/QUEUE/messages?limit=n&echo=true[&marker=M] HTTP/1.1
 *
 * (keep-alive), taking the next marker from the page's next link and
 * starting over on an empty page, as tests/bench/http/get.lua does for wrk.
 * wrk runs a Lua script per response; this client does what XREAD's does -
 * find the framing, count the messages, copy the marker - so both sides of
 * the GET comparison are driven by the same code. Prints RESULT test=get
 * with get.lua's fields.
 *
 * Loopback only; plain C and sockets (RESP2 and HTTP/1.1 by hand), no
 * client library.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_COUNT 100     /* most ids per batch */
#define ID_MAX 48         /* longest stream id text */
#define IN_CAP (1 << 20)  /* a connection's input buffer */
#define OUT_CAP (1 << 18) /* a connection's output buffer: one XADD of
			   * the largest --bytes of run (64 KiB) fits */
#define FILL_CHUNK 1000   /* XADDs per round trip when filling */
#define MAX_ARGS (3 + MAX_COUNT)

struct config {
	int port;
	const char *stream, *group;
	int clients, threads, count;
	bool reading;     /* the read mode: XREAD, no group */
	bool http;        /* the get mode: Herald's GET (stream = the queue) */
	double seconds;
	double t0, deadline;
};

/* One worker: a connection and where it is in its loop. */
struct conn {
	int fd, idx;
	bool acking;      /* waiting for XACK + XDEL, else for XREADGROUP */
	bool idle;        /* past the deadline: sends no more */
	int need;         /* replies still awaited */
	double t_rt, t_batch;
	char last[ID_MAX]; /* read mode: where the reader is */
	char ids[MAX_COUNT][ID_MAX];
	size_t id_len[MAX_COUNT];
	int n_ids;
	char *in;
	size_t in_len;
	char out[OUT_CAP];
	size_t out_len, out_off;
};

/* Growing array of latencies, ms. */
struct lat {
	float *v;
	size_t n, cap;
};

/* A thread of workers and what they did before the deadline. */
struct thread {
	pthread_t th;
	const struct config *cfg;
	struct conn *conns;
	int n_conns, ep;
	struct lat rt, batch;
	uint64_t batches, msgs, empty;
	uint64_t non200, nomarker; /* get mode */
	double drained_at; /* first empty read, seconds from start; 0 none */
};

static void fail(const char *what)
{
	fprintf(stderr, "stream_workers: %s: %s\n", what,
		errno ? strerror(errno) : "failed");
	exit(1);
}

static void fail_reply(const char *what, const char *p, size_t n)
{
	fprintf(stderr, "stream_workers: %s: %.*s\n", what,
		(int)(n > 200 ? 200 : n), p);
	exit(1);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void lat_add(struct lat *l, double ms)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 65536;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		if (!l->v)
			fail("realloc");
	}
	l->v[l->n++] = (float)ms;
}

static int connect_to(int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port)};
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		fail("socket");
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		fail("connect");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* ------------------------------------------------------------------ RESP */

/* Length of the complete RESP2 value at p, 0 while it is incomplete. */
static size_t resp_len(const char *p, const char *end)
{
	const char *nl;
	long long n;
	size_t head;

	if (p >= end)
		return 0;
	nl = memchr(p, '\n', (size_t)(end - p));
	if (!nl)
		return 0;
	head = (size_t)(nl + 1 - p);
	switch (p[0]) {
	case '+':
	case '-':
	case ':':
		return head;
	case '$':
		n = strtoll(p + 1, NULL, 10);
		if (n < 0)
			return head;
		return (size_t)(end - p) >= head + (size_t)n + 2
			       ? head + (size_t)n + 2
			       : 0;
	case '*': {
		const char *q = p + head;

		n = strtoll(p + 1, NULL, 10);
		for (long long i = 0; i < n; i++) {
			size_t l = resp_len(q, end);

			if (!l)
				return 0;
			q += l;
		}
		return (size_t)(q - p);
	}
	default:
		fail_reply("not a RESP2 reply", p, (size_t)(end - p));
		return 0;
	}
}

/* The header of the (complete) value at p: its type and number; returns
 * what follows the header line. */
static const char *resp_head(const char *p, char *type, long long *n)
{
	*type = p[0];
	*n = strtoll(p + 1, NULL, 10);
	return strchr(p, '\n') + 1;
}

/* Appends one command to c->out. */
static void put_cmd(struct conn *c, int argc, const char *const *argv,
		    const size_t *lens)
{
	int w = snprintf(c->out + c->out_len, OUT_CAP - c->out_len, "*%d\r\n",
			 argc);

	c->out_len += (size_t)w;
	for (int i = 0; i < argc; i++) {
		w = snprintf(c->out + c->out_len, OUT_CAP - c->out_len,
			     "$%zu\r\n", lens[i]);
		c->out_len += (size_t)w;
		if (c->out_len + lens[i] + 2 > OUT_CAP)
			fail("command too long");
		memcpy(c->out + c->out_len, argv[i], lens[i]);
		c->out_len += lens[i];
		memcpy(c->out + c->out_len, "\r\n", 2);
		c->out_len += 2;
	}
}

static void put_cmdv(struct conn *c, int argc, const char *const *argv)
{
	size_t lens[MAX_ARGS];

	for (int i = 0; i < argc; i++)
		lens[i] = strlen(argv[i]);
	put_cmd(c, argc, argv, lens);
}

/* ----------------------------------------------------------------- fill */

static void write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			fail("write");
		p += w;
		n -= (size_t)w;
	}
}

/* Reads and consumes `n` replies; fails on an error reply. */
static void read_replies(struct conn *c, int n)
{
	size_t at = 0;

	while (n > 0) {
		size_t l = resp_len(c->in + at, c->in + c->in_len);
		ssize_t r;

		if (l) {
			if (c->in[at] == '-')
				fail_reply("redis", c->in + at, l);
			at += l;
			n--;
			continue;
		}
		memmove(c->in, c->in + at, c->in_len - at);
		c->in_len -= at;
		at = 0;
		r = read(c->fd, c->in + c->in_len, IN_CAP - c->in_len);
		if (r <= 0)
			fail("read");
		c->in_len += (size_t)r;
	}
	memmove(c->in, c->in + at, c->in_len - at);
	c->in_len -= at;
}

static int do_fill(const struct config *cfg, long long n, size_t bytes)
{
	static struct conn c;
	char *value = malloc(bytes ? bytes : 1);
	double t0 = now_s();
	long long done = 0;

	if (!value)
		fail("malloc");
	memset(value, 'v', bytes);
	c.in = malloc(IN_CAP);
	if (!c.in)
		fail("malloc");
	c.fd = connect_to(cfg->port);
	while (done < n) {
		int k = n - done < FILL_CHUNK ? (int)(n - done) : FILL_CHUNK;
		const char *argv[] = {"XADD", cfg->stream, "*", "f", value};
		size_t lens[] = {4, strlen(cfg->stream), 1, 1, bytes};

		for (int i = 0; i < k; i++) {
			if (c.out_len > OUT_CAP - bytes - 128) {
				write_all(c.fd, c.out, c.out_len);
				c.out_len = 0;
			}
			put_cmd(&c, 5, argv, lens);
		}
		write_all(c.fd, c.out, c.out_len);
		c.out_len = 0;
		read_replies(&c, k);
		done += k;
	}
	{
		const char *argv[] = {"XGROUP", "CREATE", cfg->stream,
				      cfg->group, "0"};

		put_cmdv(&c, 5, argv);
		write_all(c.fd, c.out, c.out_len);
		c.out_len = 0;
		read_replies(&c, 1);
	}
	close(c.fd);
	printf("filled %s with %lld entries of %zu bytes in %.2f s, group %s "
	       "at 0\n", cfg->stream, n, bytes, now_s() - t0, cfg->group);
	free(value);
	free(c.in);
	return 0;
}

/* ----------------------------------------------------------------- work */

static void conn_flush(struct thread *t, struct conn *c)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};

	while (c->out_off < c->out_len) {
		ssize_t w = write(c->fd, c->out + c->out_off,
				  c->out_len - c->out_off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			ev.events = EPOLLIN | EPOLLOUT;
			if (epoll_ctl(t->ep, EPOLL_CTL_MOD, c->fd, &ev))
				fail("epoll_ctl");
			return;
		}
		if (w <= 0)
			fail("write");
		c->out_off += (size_t)w;
	}
	c->out_off = c->out_len = 0;
	if (epoll_ctl(t->ep, EPOLL_CTL_MOD, c->fd, &ev))
		fail("epoll_ctl");
}

/* The get mode's request: the page after c's marker (c->last). */
static void put_get(const struct thread *t, struct conn *c)
{
	int n = snprintf(c->out, OUT_CAP,
			 "GET /v2/queues/%s/messages?limit=%d&echo=true%s%s "
			 "HTTP/1.1\r\nHost: 127.0.0.1\r\n"
			 "Client-ID: 9d3f4c2a-6b1e-4f7a-8c5d-2e9b0a1f3c71\r\n"
			 "X-Project-Id: bench\r\n"
			 "Content-Type: application/json\r\n\r\n",
			 t->cfg->stream, t->cfg->count,
			 c->last[0] ? "&marker=" : "", c->last);

	if (n < 0 || n >= OUT_CAP)
		fail("request too long");
	c->out_len = (size_t)n;
	c->out_off = 0;
}

/* Length of the complete HTTP response at p (head and Content-Length
 * bytes of body), 0 while it is incomplete. */
static size_t http_len(const char *p, const char *end)
{
	const char *head_end = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
	const char *cl;
	size_t head;

	if (!head_end)
		return 0;
	head = (size_t)(head_end - p) + 4;
	cl = memmem(p, head, "\r\ncontent-length:", 17);
	if (!cl)
		cl = memmem(p, head, "\r\nContent-Length:", 17);
	if (!cl)
		fail_reply("an answer without Content-Length", p, head);
	head += (size_t)strtoull(cl + 17, NULL, 10);
	return head <= (size_t)(end - p) ? head : 0;
}

/* One page (a complete response at p): the messages on it, and c->last
 * set to the marker of its next link ("" to start over). False for an
 * answer other than 200 (counted). */
static bool parse_page(struct thread *t, struct conn *c, const char *p,
		       size_t len, bool in_time)
{
	const char *body = (const char *)memmem(p, len, "\r\n\r\n", 4) + 4;
	const char *end = p + len;
	const char *at = body, *m;
	int n = 0;

	c->n_ids = 0;
	c->last[0] = '\0';
	if (len < 12 || memcmp(p + 9, "200", 3)) {
		if (in_time)
			t->non200++;
		return false;
	}
	while ((at = memmem(at, (size_t)(end - at), "\"id\":", 5))) {
		n++;
		at += 5;
	}
	c->n_ids = n;
	if (!n)
		return true;
	m = memmem(body, (size_t)(end - body), "marker=", 7);
	if (m) {
		size_t k = strcspn(m + 7, "\"&");

		if (k && k < ID_MAX && m + 7 + k <= end) {
			memcpy(c->last, m + 7, k);
			c->last[k] = '\0';
			return true;
		}
	}
	if (in_time)
		t->nomarker++;
	return true;
}

static void send_read(struct thread *t, struct conn *c, double now)
{
	char consumer[32], count[16];
	const char *argv[] = {"XREADGROUP", "GROUP",   t->cfg->group,
			      consumer,     "COUNT",   count,
			      "STREAMS",    t->cfg->stream, ">"};

	if (now >= t->cfg->deadline) {
		c->idle = true;
		return;
	}
	snprintf(consumer, sizeof(consumer), "c%d", c->idx);
	snprintf(count, sizeof(count), "%d", t->cfg->count);
	if (t->cfg->http) {
		put_get(t, c);
	} else if (t->cfg->reading) {
		const char *rargv[] = {"XREAD", "COUNT", count, "STREAMS",
				       t->cfg->stream,
				       c->last[0] ? c->last : "0-0"};

		put_cmdv(c, 6, rargv);
	} else {
		put_cmdv(c, 9, argv);
	}
	c->acking = false;
	c->need = 1;
	c->t_rt = c->t_batch = now;
	conn_flush(t, c);
}

/* XACK and XDEL of the ids read, in one write. */
static void send_ackdel(struct thread *t, struct conn *c, double now)
{
	const char *argv[MAX_ARGS];
	size_t lens[MAX_ARGS];
	int n = c->n_ids;

	argv[0] = "XACK", lens[0] = 4;
	argv[1] = t->cfg->stream, lens[1] = strlen(t->cfg->stream);
	argv[2] = t->cfg->group, lens[2] = strlen(t->cfg->group);
	for (int i = 0; i < n; i++)
		argv[3 + i] = c->ids[i], lens[3 + i] = c->id_len[i];
	put_cmd(c, 3 + n, argv, lens);
	argv[0] = "XDEL", lens[0] = 4;
	for (int i = 0; i < n; i++)
		argv[2 + i] = c->ids[i], lens[2 + i] = c->id_len[i];
	put_cmd(c, 2 + n, argv, lens);
	c->acking = true;
	c->need = 2;
	c->t_rt = now;
	conn_flush(t, c);
}

/* The ids of an XREADGROUP reply (complete, at p): *[ *[name, *[ *[id,
 * *[f, v]] ... ]] ], or a nil array when nothing was there. */
static void parse_read(struct conn *c, const char *p, size_t len)
{
	const char *end = p + len;
	long long n, m;
	char type;

	c->n_ids = 0;
	if (p[0] == '-')
		fail_reply("XREADGROUP", p, len);
	p = resp_head(p, &type, &n);
	if (type != '*')
		fail_reply("XREADGROUP: unexpected reply", p, len);
	if (n <= 0)
		return;
	p = resp_head(p, &type, &n);    /* [name, entries] */
	p += resp_len(p, end);          /* the stream's name */
	p = resp_head(p, &type, &m);    /* entries */
	for (long long i = 0; i < m; i++) {
		long long id_len;

		p = resp_head(p, &type, &n); /* [id, fields] */
		p = resp_head(p, &type, &id_len);
		if (type != '$' || id_len <= 0 || id_len >= ID_MAX ||
		    c->n_ids == MAX_COUNT)
			fail_reply("XREADGROUP: unexpected entry", p, 40);
		memcpy(c->ids[c->n_ids], p, (size_t)id_len);
		c->id_len[c->n_ids++] = (size_t)id_len;
		p += id_len + 2;
		p += resp_len(p, end); /* fields */
	}
}

/* A reply came for c: the next step of its loop. */
static void on_reply(struct thread *t, struct conn *c, const char *p,
		     size_t len, double now)
{
	bool in_time = now <= t->cfg->deadline;

	if (t->cfg->http) {
		bool ok = parse_page(t, c, p, len, in_time);

		if (in_time) {
			lat_add(&t->rt, 1e3 * (now - c->t_rt));
			t->batches++;
			t->msgs += (uint64_t)c->n_ids;
			t->empty += ok && c->n_ids == 0; /* as get.lua */
		}
		send_read(t, c, now);
		return;
	}
	if (!c->acking) {
		parse_read(c, p, len);
		if (in_time)
			lat_add(&t->rt, 1e3 * (now - c->t_rt));
		if (t->cfg->reading) {
			/* One page: on from its last id, or from the start. */
			if (c->n_ids > 0) {
				memcpy(c->last, c->ids[c->n_ids - 1],
				       c->id_len[c->n_ids - 1]);
				c->last[c->id_len[c->n_ids - 1]] = '\0';
				if (in_time) {
					t->msgs += (uint64_t)c->n_ids;
					t->batches++;
				}
			} else {
				c->last[0] = '\0';
				if (in_time)
					t->empty++;
			}
			send_read(t, c, now);
			return;
		}
		if (c->n_ids > 0) {
			send_ackdel(t, c, now);
			return;
		}
		if (in_time) {
			t->empty++;
			if (!t->drained_at)
				t->drained_at = now - t->cfg->t0;
		}
		send_read(t, c, now);
		return;
	}
	/* c->need counts what is still to come after this reply. */
	if (p[0] != ':')
		fail_reply(c->need ? "XACK" : "XDEL", p, len);
	if (c->need) {
		if (in_time)
			t->msgs += (uint64_t)strtoll(p + 1, NULL, 10);
		return;
	}
	if (in_time) {
		lat_add(&t->rt, 1e3 * (now - c->t_rt));
		lat_add(&t->batch, 1e3 * (now - c->t_batch));
		t->batches++;
	}
	send_read(t, c, now);
}

static void conn_input(struct thread *t, struct conn *c)
{
	size_t at = 0;
	ssize_t r = read(c->fd, c->in + c->in_len, IN_CAP - c->in_len);
	double now;

	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0)
		fail(t->cfg->http ? "read from herald" : "read from redis");
	c->in_len += (size_t)r;
	now = now_s();
	while (c->need > 0) {
		size_t l = t->cfg->http ? http_len(c->in + at, c->in + c->in_len)
				       : resp_len(c->in + at, c->in + c->in_len);

		if (!l)
			break;
		c->need--;
		on_reply(t, c, c->in + at, l, now);
		at += l;
	}
	memmove(c->in, c->in + at, c->in_len - at);
	c->in_len -= at;
}

static void *thread_main(void *arg)
{
	struct thread *t = arg;
	int busy = t->n_conns;

	for (int i = 0; i < t->n_conns; i++)
		send_read(t, &t->conns[i], now_s());
	while (busy > 0) {
		struct epoll_event evs[64];
		int n = epoll_wait(t->ep, evs, 64, 1000);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			fail("epoll_wait");
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;

			if (evs[i].events & EPOLLOUT)
				conn_flush(t, c);
			if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				conn_input(t, c);
		}
		busy = 0;
		for (int i = 0; i < t->n_conns; i++)
			busy += !t->conns[i].idle;
		if (now_s() > t->cfg->deadline + 10)
			break; /* a reply that never came: leave it */
	}
	return NULL;
}

static int cmp_float(const void *a, const void *b)
{
	float x = *(const float *)a, y = *(const float *)b;

	return (x > y) - (x < y);
}

static double pct(const struct lat *l, double p)
{
	if (!l->n)
		return 0;
	return l->v[(size_t)(p / 100 * (double)(l->n - 1))];
}

static void lat_merge(struct lat *into, const struct lat *from)
{
	for (size_t i = 0; i < from->n; i++)
		lat_add(into, from->v[i]);
}

static int do_work(struct config *cfg)
{
	struct thread *ts = calloc((size_t)cfg->threads, sizeof(*ts));
	struct conn *conns = calloc((size_t)cfg->clients, sizeof(*conns));
	struct lat rt = {0}, batch = {0};
	uint64_t batches = 0, msgs = 0, empty = 0, non200 = 0, nomarker = 0;
	double drained = 0;

	if (!ts || !conns)
		fail("calloc");
	for (int i = 0; i < cfg->clients; i++) {
		conns[i].idx = i;
		conns[i].fd = connect_to(cfg->port);
		conns[i].in = malloc(IN_CAP);
		if (!conns[i].in)
			fail("malloc");
		if (fcntl(conns[i].fd, F_SETFL, O_NONBLOCK) != 0)
			fail("fcntl");
	}
	cfg->t0 = now_s();
	cfg->deadline = cfg->t0 + cfg->seconds;
	for (int k = 0; k < cfg->threads; k++) {
		struct thread *t = &ts[k];
		int from = cfg->clients * k / cfg->threads;
		int to = cfg->clients * (k + 1) / cfg->threads;

		t->cfg = cfg;
		t->conns = conns + from;
		t->n_conns = to - from;
		t->ep = epoll_create1(0);
		if (t->ep < 0)
			fail("epoll_create1");
		for (int i = 0; i < t->n_conns; i++) {
			struct epoll_event ev = {.events = EPOLLIN,
						 .data.ptr = &t->conns[i]};

			if (epoll_ctl(t->ep, EPOLL_CTL_ADD, t->conns[i].fd,
				      &ev))
				fail("epoll_ctl");
		}
		if (pthread_create(&t->th, NULL, thread_main, t))
			fail("pthread_create");
	}
	for (int k = 0; k < cfg->threads; k++) {
		struct thread *t = &ts[k];

		pthread_join(t->th, NULL);
		batches += t->batches;
		msgs += t->msgs;
		empty += t->empty;
		non200 += t->non200;
		nomarker += t->nomarker;
		if (t->drained_at && (!drained || t->drained_at < drained))
			drained = t->drained_at;
		lat_merge(&rt, &t->rt);
		lat_merge(&batch, &t->batch);
		free(t->rt.v);
		free(t->batch.v);
		close(t->ep);
	}
	qsort(rt.v, rt.n, sizeof(float), cmp_float);
	qsort(batch.v, batch.n, sizeof(float), cmp_float);
	if (cfg->http) /* get.lua's fields */
		printf("RESULT test=get requests=%" PRIu64 " seconds=%.2f "
		       "req_s=%.1f msgs=%" PRIu64 " msgs_s=%.1f p50_ms=%.3f "
		       "p90_ms=%.3f p99_ms=%.3f max_ms=%.3f non2xx=%" PRIu64
		       " pages=%" PRIu64 " empty_pages=%" PRIu64
		       " pages_without_marker=%" PRIu64 " client=c\n",
		       batches, cfg->seconds, (double)batches / cfg->seconds,
		       msgs, (double)msgs / cfg->seconds, pct(&rt, 50),
		       pct(&rt, 90), pct(&rt, 99), rt.n ? rt.v[rt.n - 1] : 0.0,
		       non200, batches - non200, empty, nomarker);
	else printf("RESULT test=%s clients=%d threads=%d "
	       "count=%d seconds=%.2f batches=%" PRIu64 " msgs=%" PRIu64
	       " msgs_s=%.1f round_trips=%zu p50_ms=%.3f p90_ms=%.3f "
	       "p99_ms=%.3f max_ms=%.3f batch_p50_ms=%.3f batch_p90_ms=%.3f "
	       "batch_p99_ms=%.3f batch_max_ms=%.3f empty_reads=%" PRIu64
	       " drained_at_s=%.2f\n",
	       cfg->reading ? "xread" : "xreadgroup+xack+xdel", cfg->clients, cfg->threads, cfg->count, cfg->seconds, batches,
	       msgs, (double)msgs / cfg->seconds, rt.n, pct(&rt, 50),
	       pct(&rt, 90), pct(&rt, 99), rt.n ? rt.v[rt.n - 1] : 0.0,
	       pct(&batch, 50), pct(&batch, 90), pct(&batch, 99),
	       batch.n ? batch.v[batch.n - 1] : 0.0, empty, drained);
	for (int i = 0; i < cfg->clients; i++) {
		close(conns[i].fd);
		free(conns[i].in);
	}
	free(rt.v);
	free(batch.v);
	free(conns);
	free(ts);
	return 0;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: stream_workers fill PORT STREAM GROUP N BYTES\n"
		"       stream_workers work PORT STREAM GROUP CLIENTS THREADS "
		"COUNT SECONDS\n"
		"       stream_workers read PORT STREAM - CLIENTS THREADS "
		"COUNT SECONDS\n"
		"       stream_workers get PORT QUEUE - CLIENTS THREADS "
		"LIMIT SECONDS\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct config cfg = {0};

	if (argc < 5)
		return usage();
	cfg.port = atoi(argv[2]);
	cfg.stream = argv[3];
	cfg.group = argv[4];
	if (!strcmp(argv[1], "fill") && argc == 7)
		return do_fill(&cfg, atoll(argv[5]), (size_t)atol(argv[6]));
	cfg.reading = !strcmp(argv[1], "read");
	cfg.http = !strcmp(argv[1], "get");
	if ((strcmp(argv[1], "work") && !cfg.reading && !cfg.http) ||
	    argc != 9)
		return usage();
	cfg.clients = atoi(argv[5]);
	cfg.threads = atoi(argv[6]);
	cfg.count = atoi(argv[7]);
	cfg.seconds = atof(argv[8]);
	if (cfg.port <= 0 || cfg.clients < 1 || cfg.threads < 1 ||
	    cfg.threads > cfg.clients || cfg.count < 1 ||
	    cfg.count > MAX_COUNT || cfg.seconds <= 0)
		return usage();
	return do_work(&cfg);
}
