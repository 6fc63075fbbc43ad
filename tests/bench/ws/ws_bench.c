/*
 * ws_bench.c - WebSocket fan-out benchmark: one publisher posting at a
 * fixed rate, N stream-URL subscribers on loopback, publish-to-delivery
 * latency, deliveries per second and the server's memory per connection.
 * A program, not a test: it prints figures (docs/benchmarks.md).
 *
 *   ws_bench --herald PATH [--subs N] [--rate R] [--batch B]
 *            [--duration S] [--durability sync|nosync] [--sources K]
 *            [--perf FILE] [--loops L1,L2,...] [--peer nats]
 *
 * --loops runs the whole measure once per Herald loop count (`herald
 * serve --loops L`; default: one run, the server's default). --peer nats
 * adds a run against Debian's nats-server (started here on loopback,
 * WebSocket enabled, no TLS) with the same subscribers, rate and posts:
 * subscribers speak NATS over WebSocket (CONNECT, SUB; messages come as
 * MSG lines in binary frames, several to a frame or split across them),
 * the publisher plain NATS over TCP, a post being its PUBs and a PING
 * whose PONG stands for the answer (NATS handles a connection's commands
 * in order). NATS core keeps no history and acknowledges nothing to disk:
 * it is the delivery-speed peer. A table of every run closes the output.
 *
 * What it does, in order:
 *
 *   1. raises RLIMIT_NOFILE to the hard limit (the server inherits it);
 *      fewer subscribers than asked when it cannot hold them, and it says so
 *   2. starts `herald serve` on 127.0.0.1, port 0, a fresh data directory
 *      under $TMPDIR, --durability as told (sync by default), and posts one
 *      message whose id every subscriber's marker= starts after
 *   3. VmRSS of the server: "before"
 *   4. opens N subscribers (tests/bench/ws/swarm.c, one epoll loop) on
 *      /v2/queues/bench/stream?marker=..., waits until all are up, then 2 s
 *      idle: VmRSS "idle"; (idle - before) / N is the memory per idle
 *      connection
 *   5. a publisher thread posts --rate messages a second for --duration
 *      seconds, --batch messages per POST (more when a slow answer put it
 *      behind), on one keep-alive HTTP connection; each message body is
 *      {"seq": n, "due_us": D, "sent_us": T}: D when the schedule wanted it
 *      sent, T the CLOCK_REALTIME microseconds just before its POST was
 *      written (both CLOCK_REALTIME microseconds)
 *   6. the main thread reads every subscriber; a message's latency is the
 *      CLOCK_REALTIME at the read that completed its frame minus sent_us;
 *      VmRSS and the server's CPU are sampled every second
 *   7. after the publisher stops, reads on until every subscriber has every
 *      message (at most 60 s, and not after 10 s without one), prints the
 *      figures, stops the server (SIGTERM) and removes its directory
 *
 * Latencies go into histograms (10 us steps below 1 s, 1 ms above), over
 * all deliveries to all subscribers, from sent_us and from due_us: the
 * second also counts the time a message waited at the publisher because
 * the server was slow to answer its previous post (coordinated omission).
 * Messages that never arrive (within the drain) count as slower than any. Frames are scanned for "seq" and
 * "sent_us" without a JSON parser, so that the client is not the
 * bottleneck; a subscriber whose seq numbers are not 0, 1, 2, ... is
 * counted (a check, not a test: test_ws_fanout is the test).
 *
 * --perf FILE runs `perf record -F 999 -g -p SERVER -o FILE` over the
 * load phase.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "swarm.h"

#define QUEUE "bench"
#define PROJECT "wsbench"
#define PUB_CLIENT "8e1f2c3a-1b2c-4d5e-8f90-a1b2c3d4e5f6"
#define SUB_CLIENT "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
#define DRAIN_STALL_S 10
#define DRAIN_MAX_S 60
#define HIST_FINE 100000u   /* 10 us steps: 0 .. 1 s */
#define HIST_COARSE 600000u /* 1 ms steps: 1 s .. 600 s */
#define POST_HIST_MS 10000u /* posts' answer times: 1 ms steps to 10 s */
#define PUB_MAX 1000        /* messages in one post, at most */
#define PUB_MAX_BYTES (PUB_MAX * 160 + 64)

#define MAX_RUNS 8

struct opts {
	const char *herald, *durability, *perf;
	unsigned subs, rate, batch, duration, sources;
	unsigned loops[MAX_RUNS], n_loops; /* --loops; 0: the default */
	bool nats;                         /* --peer nats */
};

struct server {
	pid_t pid;
	int port;     /* Herald's HTTP, or NATS's client port */
	int ws_port;  /* NATS's WebSocket port; Herald: port */
	char dir[256];
};

/* One subscriber's check: its next seq number. */
struct sub {
	uint32_t next_seq;
	uint32_t got;
	/* NATS: bytes of a MSG a frame split, until the rest comes. */
	char *pend;
	size_t pend_len;
};

/* What a run found, for the closing table. */
struct result {
	char name[32];
	unsigned subs;
	double p50_ms, p99_ms;  /* from sending; < 0: not delivered */
	unsigned post_p99_ms;
	unsigned long long posts, failed;
	double srv_cpu_pct, delivered_per_cpu_s, deliv_rate;
};

struct bench {
	struct sub *sub;
	unsigned n;
	/* Latency from the post's writing (sent_us) and from the message's
	 * due time (due_us); HIST_FINE + HIST_COARSE + 1 buckets each. */
	uint64_t *hist, *hist_due;
	uint64_t lat_max_us, due_max_us;
	uint64_t delivered, bad_seq, bad_frames, gaps;
	uint64_t now_us;         /* CLOCK_REALTIME of the current read */
	const char *down_why;
	unsigned down;
	/* The publisher. */
	atomic_uint_fast64_t published;
	atomic_bool stop, pub_done;
	uint64_t posts, late_posts, post_fail, post_max_us;
	uint32_t post_ms[POST_HIST_MS + 1]; /* posts by answer time, 1 ms steps */
	int port;
	unsigned rate, batch, duration;
	bool nats;
	struct swarm *sw;
	uint64_t nats_errors;
};

/* The q-quantile of the posts' answer times, ms (upper bound of its step). */
static unsigned post_quantile(const struct bench *b, double q)
{
	uint64_t want = (uint64_t)(q * (double)b->posts + 0.999999), seen = 0;

	for (unsigned ms = 0; ms <= POST_HIST_MS; ms++) {
		seen += b->post_ms[ms];
		if (seen >= want && want)
			return ms + 1;
	}
	return 0;
}

/* --------------------------------------------------------------- clocks */

static uint64_t real_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double self_cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---------------------------------------------------------------- /proc */

static long rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	fp = fopen(path, "r");
	if (!fp)
		return -1;
	while (fgets(line, sizeof(line), fp))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	fclose(fp);
	return kb;
}

/* The machine's busy and total jiffies, from the first line of /proc/stat. */
static void machine_jiffies(unsigned long long *busy, unsigned long long *total)
{
	unsigned long long v[8] = {0};
	FILE *fp = fopen("/proc/stat", "r");

	*busy = *total = 0;
	if (!fp)
		return;
	if (fscanf(fp, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
		   &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) == 8) {
		for (int i = 0; i < 8; i++)
			*total += v[i];
		*busy = *total - v[3] - v[4];
	}
	fclose(fp);
}

/* --------------------------------------------------------------- server */

static struct server *current;

static int rm_entry(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void server_stop(struct server *s)
{
	int status;

	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		for (int i = 0; i < 1500; i++) {
			if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
				s->pid = 0;
				break;
			}
			poll(NULL, 0, 10);
		}
		if (s->pid > 0) {
			fprintf(stderr, "ws_bench: the server ignored SIGTERM; "
				"killing it\n");
			kill(s->pid, SIGKILL);
			waitpid(s->pid, &status, 0);
			s->pid = 0;
		}
	}
	if (s->dir[0])
		nftw(s->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	s->dir[0] = '\0';
}

static void at_exit(void)
{
	if (current)
		server_stop(current);
}

static void on_fatal_signal(int sig)
{
	if (current && current->pid > 0)
		kill(current->pid, SIGKILL);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("ws_bench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

static void server_start(struct server *s, const struct opts *o,
			 unsigned loops)
{
	char nloops[16];

	const char *tmp = getenv("TMPDIR");
	char data[320], log[320], line[256];
	int out[2];
	size_t n = 0;

	snprintf(s->dir, sizeof(s->dir), "%s/ws-bench-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(s->dir))
		die("mkdtemp: %s", strerror(errno));
	snprintf(data, sizeof(data), "%s/data", s->dir);
	snprintf(log, sizeof(log), "%s/stderr.log", s->dir);
	if (pipe(out))
		die("pipe: %s", strerror(errno));
	current = s;
	atexit(at_exit);
	signal(SIGINT, on_fatal_signal);
	signal(SIGTERM, on_fatal_signal);
	s->pid = fork();
	if (s->pid < 0)
		die("fork: %s", strerror(errno));
	if (s->pid == 0) {
		int err = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(out[1], 1);
		if (err >= 0)
			dup2(err, 2);
		close(out[0]);
		snprintf(nloops, sizeof(nloops), "%u", loops ? loops : 1);
		execl(o->herald, o->herald, "serve", "--listen", "127.0.0.1:0",
		      "--data", data, "--durability", o->durability,
		      "--log-level", "warn", "--loops", nloops, (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	for (;;) {
		struct pollfd p = {.fd = out[0], .events = POLLIN};

		if (poll(&p, 1, 15000) <= 0 || read(out[0], line + n, 1) != 1)
			die("the server did not start (see %s)", log);
		if (line[n] == '\n' || n == sizeof(line) - 2)
			break;
		n++;
	}
	line[n] = '\0';
	if (sscanf(line, "listening on 127.0.0.1:%d", &s->port) != 1)
		die("unexpected first line from the server: %s", line);
	s->ws_port = s->port;
	close(out[0]);
}

/* A free loopback port (bound, read, closed: nats-server takes it). */
static int free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(fd, (struct sockaddr *)&a, &len))
		die("cannot find a free port: %s", strerror(errno));
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static bool port_open(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	bool ok;

	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

/* nats-server on loopback: client port and WebSocket (no TLS). */
static void nats_start(struct server *s)
{
	const char *tmp = getenv("TMPDIR");
	char conf[320], log[320];
	FILE *f;

	snprintf(s->dir, sizeof(s->dir), "%s/ws-bench-nats-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(s->dir))
		die("mkdtemp: %s", strerror(errno));
	snprintf(conf, sizeof(conf), "%s/nats.conf", s->dir);
	snprintf(log, sizeof(log), "%s/stderr.log", s->dir);
	s->port = free_port();
	s->ws_port = free_port();
	f = fopen(conf, "w");
	if (!f)
		die("cannot write %s", conf);
	fprintf(f, "listen: \"127.0.0.1:%d\"\nmax_connections: 1000000\n"
		"websocket {\n  listen: \"127.0.0.1:%d\"\n  no_tls: true\n}\n",
		s->port, s->ws_port);
	fclose(f);
	current = s;
	atexit(at_exit);
	signal(SIGINT, on_fatal_signal);
	signal(SIGTERM, on_fatal_signal);
	s->pid = fork();
	if (s->pid < 0)
		die("fork: %s", strerror(errno));
	if (s->pid == 0) {
		int err = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (err >= 0) {
			dup2(err, 1);
			dup2(err, 2);
		}
		execlp("nats-server", "nats-server", "-c", conf, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 1500 && !(port_open(s->port) &&
				      port_open(s->ws_port)); i++)
		poll(NULL, 0, 10);
	if (!port_open(s->port) || !port_open(s->ws_port))
		die("nats-server did not start (see %s)", log);
}

/* ----------------------------------------------------- a small HTTP POST */

static int http_connect(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)))
		die("cannot connect to the server: %s", strerror(errno));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/*
 * POSTs body to the queue on fd (keep-alive) and reads the response.
 * Returns the status (-1: no response); the body's first bytes go to
 * resp (NUL-terminated) when it is not NULL.
 */
static int http_post(int fd, const char *body, size_t len, char *resp,
		     size_t resp_len)
{
	/* The head lists every id in Location: 25 bytes each, so a post of
	 * PUB_MAX messages answers with a head of ~25 KiB. */
	char head[512], buf[65536];
	size_t got = 0, need = 0;
	int hl, status = -1;
	char *end = NULL;

	hl = snprintf(head, sizeof(head),
		      "POST /v2/queues/" QUEUE "/messages HTTP/1.1\r\n"
		      "Host: 127.0.0.1\r\nClient-ID: " PUB_CLIENT "\r\n"
		      "X-Project-Id: " PROJECT "\r\n"
		      "Content-Type: application/json\r\n"
		      "Content-Length: %zu\r\n\r\n", len);
	if (send(fd, head, (size_t)hl, MSG_NOSIGNAL | MSG_MORE) != hl ||
	    send(fd, body, len, MSG_NOSIGNAL) != (ssize_t)len)
		return -1;
	/* The head (and what fits of the body) in buf; the rest of the
	 * body is read and dropped. */
	for (size_t seen = 0;;) {
		ssize_t n;

		if (end && seen >= need)
			break;
		if (end && got == sizeof(buf) - 1) {
			char drop[16384];
			size_t want = need - seen < sizeof(drop) ? need - seen
								 : sizeof(drop);

			n = recv(fd, drop, want, 0);
			if (n <= 0)
				return -1;
			seen += (size_t)n;
			continue;
		}
		n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
		if (n <= 0)
			return -1;
		got += (size_t)n;
		seen += (size_t)n;
		buf[got] = '\0';
		if (!end && (end = strstr(buf, "\r\n\r\n"))) {
			const char *cl = strcasestr(buf, "\r\ncontent-length:");

			need = (size_t)(end + 4 - buf) +
			       (cl ? strtoul(cl + 17, NULL, 10) : 0);
			sscanf(buf, "HTTP/1.1 %d", &status);
		}
		if (!end && got == sizeof(buf) - 1)
			return -1; /* a head over 64 KiB */
	}
	if (resp && resp_len)
		snprintf(resp, resp_len, "%s", end + 4);
	return status;
}

/* ------------------------------------------------------------ NATS */

/* Reads fd until a line starting with `want` came; false on EOF. The
 * lines before (INFO, +OK) are dropped. */
static bool nats_await(int fd, const char *want)
{
	char buf[8192];
	size_t got = 0;

	for (;;) {
		char *nl;
		ssize_t n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);

		if (n <= 0)
			return false;
		got += (size_t)n;
		buf[got] = '\0';
		while ((nl = strstr(buf, "\r\n"))) {
			bool hit = strncmp(buf, want, strlen(want)) == 0;

			if (strncmp(buf, "-ERR", 4) == 0)
				fprintf(stderr, "ws_bench: nats: %.*s\n",
					(int)(nl - buf), buf);
			got -= (size_t)(nl + 2 - buf);
			memmove(buf, nl + 2, got + 1);
			if (hit)
				return true;
		}
		if (got == sizeof(buf) - 1)
			got = 0; /* a long INFO: its end is what counts */
	}
}

static int nats_connect(int port)
{
	static const char hello[] = "CONNECT {\"verbose\":false,"
				    "\"pedantic\":false}\r\n";
	int fd = http_connect(port);

	if (!nats_await(fd, "INFO") ||
	    send(fd, hello, sizeof(hello) - 1, MSG_NOSIGNAL) < 0)
		die("nats-server did not greet the publisher");
	return fd;
}

/*
 * The NATS post of the messages in body (the JSON of a Herald post):
 * a PUB per message, then PING; the PONG is its answer. 201 or -1.
 */
static int nats_post(int fd, const char *body, size_t len)
{
	static char out[PUB_MAX_BYTES];
	const char *p = strstr(body, "{\"body\": "), *end = body + len;
	size_t n = 0;

	while (p && p < end) {
		const char *m = p + 9, *e = strstr(m, "}}");

		if (!e)
			break;
		e++; /* the message's body ends with its first '}' */
		n += (size_t)snprintf(out + n, sizeof(out) - n,
				      "PUB " QUEUE " %zu\r\n%.*s\r\n",
				      (size_t)(e - m), (int)(e - m), m);
		p = strstr(e, "{\"body\": ");
	}
	n += (size_t)snprintf(out + n, sizeof(out) - n, "PING\r\n");
	if (send(fd, out, n, MSG_NOSIGNAL) != (ssize_t)n)
		return -1;
	return nats_await(fd, "PONG") ? 201 : -1;
}

/* ------------------------------------------------------------ publisher */

/*
 * Posts o.rate messages a second: message n is due at t0 + n / rate. A
 * post carries the messages due (at least --batch of them, at most
 * PUB_MAX); when the server holds a post up, the next one carries all
 * that came due meanwhile, as a publisher with a buffer would, so the
 * offered rate stays the same. Each message's body has its due time and
 * the time its post was written.
 */

static void *publisher(void *arg)
{
	struct bench *b = arg;
	int fd = b->nats ? nats_connect(b->port) : http_connect(b->port);
	size_t cap = (size_t)PUB_MAX * 96 + 64;
	char *body = malloc(cap);
	double t0 = mono_s();
	uint64_t t0_us = real_us(), seq = 0,
		 total = (uint64_t)b->rate * b->duration;

	while (!atomic_load(&b->stop) && seq < total) {
		/* Messages 0 .. due - 1 are due: message n at n / rate. */
		uint64_t due = (uint64_t)((mono_s() - t0) * b->rate) + 1, n,
			 sent, t1;
		size_t len = 0;
		int st;

		if (due > total)
			due = total;
		n = due > seq ? due - seq : 0;
		if (n < b->batch && due < total) {
			double at = t0 + (double)(seq + b->batch - 1) / b->rate,
			       w = at - mono_s();
			struct timespec ts = {.tv_sec = (time_t)w};

			if (w > 0) {
				ts.tv_nsec = (long)((w - (double)ts.tv_sec) * 1e9);
				nanosleep(&ts, NULL);
			}
			continue;
		}
		if (n > PUB_MAX)
			n = PUB_MAX;
		if (n > b->batch)
			b->late_posts++; /* catching up */
		sent = real_us();
		len += (size_t)snprintf(body + len, cap - len, "{\"messages\": [");
		for (uint64_t i = 0; i < n; i++)
			len += (size_t)snprintf(
				body + len, cap - len,
				"%s{\"body\": {\"seq\": %llu, \"due_us\": %llu, "
				"\"sent_us\": %llu}}", i ? ", " : "",
				(unsigned long long)(seq + i),
				(unsigned long long)(t0_us + (seq + i) * 1000000u /
								b->rate),
				(unsigned long long)sent);
		len += (size_t)snprintf(body + len, cap - len, "]}");
		st = b->nats ? nats_post(fd, body, len)
			     : http_post(fd, body, len, NULL, 0);
		t1 = real_us();
		if (st != 201) {
			b->post_fail++;
			if (st < 0)
				break;
		} else {
			seq += n;
			atomic_store(&b->published, seq);
		}
		if (t1 - sent > b->post_max_us)
			b->post_max_us = t1 - sent;
		b->post_ms[(t1 - sent) / 1000 < POST_HIST_MS ? (t1 - sent) / 1000
							      : POST_HIST_MS]++;
		b->posts++;
	}
	free(body);
	close(fd);
	atomic_store(&b->pub_done, true);
	return NULL;
}

/* ---------------------------------------------------------- subscribers */

static void hist_add(uint64_t *hist, uint64_t *max, uint64_t us)
{
	size_t i = us < 1000000u ? us / 10
		   : us / 1000 - 1000 < HIST_COARSE
			   ? HIST_FINE + us / 1000 - 1000
			   : HIST_FINE + HIST_COARSE;

	hist[i]++;
	if (us > *max)
		*max = us;
}

/*
 * The latency (us) under which a fraction q of the `expected` deliveries
 * fell; messages never delivered count as slower than any. -1 when the
 * quantile falls among those.
 */
static double hist_quantile(const uint64_t *hist, double q, uint64_t expected)
{
	uint64_t want = (uint64_t)(q * (double)expected), sum = 0;

	for (size_t i = 0; i <= HIST_FINE + HIST_COARSE; i++) {
		sum += hist[i];
		if (sum > want)
			return i < HIST_FINE ? (double)(i + 1) * 10
					     : (double)(i - HIST_FINE + 1001) * 1000;
	}
	return -1;
}

static void print_quantile(const char *name, double us)
{
	if (us < 0)
		printf("%s > the run (not delivered)", name);
	else
		printf("%s %.1f ms", name, us / 1000);
}

/* The unsigned number after "key" and a colon at p; false when none. */
static bool number_after(const char **p, const char *end, const char *key,
			 size_t klen, uint64_t *v)
{
	const char *k = memmem(*p, (size_t)(end - *p), key, klen), *q;

	if (!k)
		return false;
	q = k + klen;
	while (q < end && (*q == ' ' || *q == ':'))
		q++;
	*v = 0;
	if (q >= end || *q < '0' || *q > '9')
		return false;
	while (q < end && *q >= '0' && *q <= '9')
		*v = *v * 10 + (uint64_t)(*q++ - '0');
	*p = q;
	return true;
}

/* The messages of one frame (Herald) or one MSG's payload (NATS). */
static void scan(struct bench *b, struct sub *s, const char *text, size_t len)
{
	const char *p = text, *end = text + len;
	uint64_t seq, due, sent;

	if (!b->now_us)
		b->now_us = real_us();
	while (number_after(&p, end, "\"seq\"", 5, &seq)) {
		if (!number_after(&p, end, "\"due_us\"", 8, &due) ||
		    !number_after(&p, end, "\"sent_us\"", 9, &sent)) {
			b->bad_frames++;
			return;
		}
		if (seq != s->next_seq)
			b->bad_seq++;
		s->next_seq = (uint32_t)seq + 1;
		s->got++;
		b->delivered++;
		hist_add(b->hist, &b->lat_max_us,
			 b->now_us > sent ? b->now_us - sent : 0);
		hist_add(b->hist_due, &b->due_max_us,
			 b->now_us > due ? b->now_us - due : 0);
	}
}

static void on_text(void *arg, unsigned i, const char *text, size_t len)
{
	struct bench *b = arg;

	if (len > 12 && memmem(text, len < 40 ? len : 40, "\"gap\"", 5)) {
		b->gaps++;
		return;
	}
	scan(b, &b->sub[i], text, len);
}

/* NATS: the whole MSG units in p[0..len); returns the bytes used. */
static size_t nats_units(struct bench *b, unsigned i, const char *p,
			 size_t len)
{
	size_t off = 0;

	for (;;) {
		const char *line = p + off,
			   *nl = memmem(line, len - off, "\r\n", 2);
		size_t llen;

		if (!nl)
			return off;
		llen = (size_t)(nl - line);
		if (llen > 4 && memcmp(line, "MSG ", 4) == 0) {
			const char *sp = memrchr(line, ' ', llen);
			size_t plen = sp ? strtoul(sp + 1, NULL, 10) : 0;

			if (len - off < llen + 2 + plen + 2)
				return off; /* the rest comes in a next frame */
			scan(b, &b->sub[i], nl + 2, plen);
			off += llen + 2 + plen + 2;
			continue;
		}
		if (llen == 4 && memcmp(line, "PING", 4) == 0)
			swarm_send(b->sw, i, "PONG\r\n", 6);
		else if (llen >= 4 && memcmp(line, "-ERR", 4) == 0 &&
			 !b->nats_errors++)
			fprintf(stderr, "ws_bench: nats subscriber: %.*s\n",
				(int)llen, line);
		off += llen + 2;
	}
}

static void on_binary(void *arg, unsigned i, const char *data, size_t len)
{
	struct bench *b = arg;
	struct sub *s = &b->sub[i];
	size_t used;

	if (!s->pend_len) {
		used = nats_units(b, i, data, len);
		if (used == len)
			return;
		data += used;
		len -= used;
	}
	s->pend = realloc(s->pend, s->pend_len + len);
	if (!s->pend)
		die("out of memory");
	memcpy(s->pend + s->pend_len, data, len);
	s->pend_len += len;
	used = nats_units(b, i, s->pend, s->pend_len);
	memmove(s->pend, s->pend + used, s->pend_len - used);
	s->pend_len -= used;
}

/* NATS: a subscriber's upgrade went through: say who, and SUB. */
static void on_up(void *arg, unsigned i)
{
	static const char hello[] = "CONNECT {\"verbose\":false}\r\n";
	static const char sub[] = "SUB " QUEUE " 1\r\n";
	struct bench *b = arg;

	if (b->nats && (!swarm_send(b->sw, i, hello, sizeof(hello) - 1) ||
			!swarm_send(b->sw, i, sub, sizeof(sub) - 1)))
		b->nats_errors++;
}

static void on_down(void *arg, unsigned i, const char *why)
{
	struct bench *b = arg;

	(void)i;
	b->down++;
	if (!b->down_why)
		b->down_why = why;
}

/* One round of the swarm; the clock of its deliveries is read once. */
static void pump(struct swarm *sw, struct bench *b, int timeout_ms)
{
	b->now_us = 0;
	if (swarm_poll(sw, timeout_ms) < 0)
		die("epoll_wait: %s", strerror(errno));
}

/* ------------------------------------------------------------------ main */

static void usage(int rc)
{
	fprintf(rc ? stderr : stdout,
		"usage: ws_bench --herald PATH [--subs N] [--rate MSGS_PER_S] "
		"[--batch MSGS_PER_POST]\n"
		"                [--duration S] [--durability sync|nosync] "
		"[--sources K] [--perf FILE]\n"
		"                [--loops L1,L2,...] [--peer nats]\n");
	exit(rc);
}

static unsigned uarg(const char *v, unsigned lo, unsigned hi, const char *name)
{
	char *e;
	unsigned long n = strtoul(v ? v : "", &e, 10);

	if (!v || *e || n < lo || n > hi)
		die("%s wants a number in %u..%u", name, lo, hi);
	return (unsigned)n;
}

static void parse(int argc, char **argv, struct opts *o)
{
	*o = (struct opts){.durability = "sync", .subs = 10000, .rate = 1000,
			   .batch = 10, .duration = 25};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "-h") || !strcmp(a, "--help"))
			usage(0);
		if (!v)
			usage(2);
		i++;
		if (!strcmp(a, "--herald"))
			o->herald = v;
		else if (!strcmp(a, "--durability"))
			o->durability = v;
		else if (!strcmp(a, "--perf"))
			o->perf = v;
		else if (!strcmp(a, "--subs"))
			o->subs = uarg(v, 1, 1000000, a);
		else if (!strcmp(a, "--rate"))
			o->rate = uarg(v, 1, 1000000, a);
		else if (!strcmp(a, "--batch"))
			o->batch = uarg(v, 1, 1000, a);
		else if (!strcmp(a, "--duration"))
			o->duration = uarg(v, 1, 3600, a);
		else if (!strcmp(a, "--sources"))
			o->sources = uarg(v, 1, 250, a);
		else if (!strcmp(a, "--peer") && !strcmp(v, "nats"))
			o->nats = true;
		else if (!strcmp(a, "--loops")) {
			char *list = strdup(v), *save = NULL;

			for (char *t = strtok_r(list, ",", &save);
			     t && o->n_loops < MAX_RUNS - 1;
			     t = strtok_r(NULL, ",", &save))
				o->loops[o->n_loops++] = uarg(t, 1, 16, a);
			free(list);
		}
		else
			usage(2);
	}
	if (!o->herald)
		usage(2);
	if (!o->n_loops)
		o->n_loops = 1; /* loops[0] = 0: the server's default */
}

/* Raises the fd limit; returns how many subscribers fit. */
static unsigned fit_fds(unsigned want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		die("getrlimit: %s", strerror(errno));
	/* "unlimited" is not a value the kernel takes for NOFILE. */
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ? 1048576 : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		die("setrlimit: %s", strerror(errno));
	printf("fd limit: %llu (raised to the hard limit)\n",
	       (unsigned long long)rl.rlim_cur);
	if (rl.rlim_cur < (rlim_t)want + 64) {
		printf("LIMITED: %u subscribers do not fit under RLIMIT_NOFILE "
		       "%llu; measuring %llu\n", want,
		       (unsigned long long)rl.rlim_cur,
		       (unsigned long long)rl.rlim_cur - 64);
		return (unsigned)(rl.rlim_cur - 64);
	}
	return want;
}

/* Source addresses needed for n connections (ephemeral ports). */
static unsigned sources_for(unsigned n)
{
	unsigned lo = 32768, hi = 60999;
	FILE *fp = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");

	if (fp) {
		if (fscanf(fp, "%u %u", &lo, &hi) != 2)
			lo = 32768, hi = 60999;
		fclose(fp);
	}
	return n / ((hi - lo + 1) * 9 / 10) + 1;
}

static pid_t perf_start(const char *file, pid_t pid, unsigned secs)
{
	char p[16], s[16];
	pid_t child = fork();

	snprintf(p, sizeof(p), "%d", (int)pid);
	snprintf(s, sizeof(s), "%u", secs);
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		execlp("perf", "perf", "record", "-q", "-F", "999", "-g", "-p", p,
		       "-o", file, "--", "sleep", s, (char *)NULL);
		_exit(127);
	}
	return child;
}

/* One run: Herald with `loops` (0: its default) or, nats, the peer. */
static void run_one(const struct opts *op, bool nats, unsigned loops,
		    struct result *res)
{
	static struct server srv;
	struct opts o = *op;
	static struct bench b;
	struct swarm_cbs cbs = {on_up, on_text, on_down, &b, on_binary};
	struct swarm *sw;
	pthread_t pub;
	char resp[4096], marker[64] = "", *id;
	long rss_before, rss_idle, rss_load_max = 0, rss_end;
	double t, t_conn, t_load, t_pub_end, t_end, srv_cpu0, srv_cpu1, cli_cpu0, cli_cpu1;
	unsigned long long mb0, mt0, mb1, mt1;
	uint64_t expected, deliv_load;
	pid_t perf = 0;
	int fd;

	memset(&b, 0, sizeof(b));
	memset(&srv, 0, sizeof(srv));
	b.nats = nats;
	b.n = fit_fds(o.subs);
	if (!o.sources)
		o.sources = sources_for(b.n);
	b.sub = calloc(b.n, sizeof(*b.sub));
	b.hist = calloc(HIST_FINE + HIST_COARSE + 1, sizeof(*b.hist));
	b.hist_due = calloc(HIST_FINE + HIST_COARSE + 1, sizeof(*b.hist));
	if (!b.sub || !b.hist || !b.hist_due)
		die("out of memory");
	if (nats) {
		nats_start(&srv);
		snprintf(res->name, sizeof(res->name), "nats-server");
	} else {
		server_start(&srv, &o, loops);
		snprintf(res->name, sizeof(res->name), "herald --loops %u",
			 loops ? loops : 1);
	}
	b.port = srv.port;
	b.rate = o.rate;
	b.batch = o.batch;
	b.duration = o.duration;
	printf("\n==== %s: pid %d on 127.0.0.1:%d, --durability %s; %u "
	       "subscribers from %u source address(es); %u msgs/s in posts of "
	       "%u for %u s\n", res->name, (int)srv.pid, srv.ws_port,
	       nats ? "(none: NATS core)" : o.durability, b.n, o.sources,
	       o.rate, o.batch, o.duration);

	if (!nats) {
		/* The marker every subscriber starts after. */
		fd = http_connect(srv.port);
		if (http_post(fd, "{\"messages\": [{\"body\": \"start\"}]}",
			      33, resp, sizeof(resp)) != 201 ||
		    !(id = strstr(resp, "/messages/")))
			die("the first post failed: %.200s", resp);
		snprintf(marker, sizeof(marker), "%.*s",
			 (int)strcspn(id + 10, "\""), id + 10);
		close(fd);
	}
	poll(NULL, 0, 500);
	rss_before = rss_kb(srv.pid);

	sw = swarm_new(b.n, srv.ws_port, o.sources, &cbs);
	if (!sw)
		die("out of memory");
	b.sw = sw;
	t = mono_s();
	for (unsigned i = 0; i < b.n; i++) {
		char path[256];

		if (nats)
			snprintf(path, sizeof(path), "/");
		else
			snprintf(path, sizeof(path), "/v2/queues/" QUEUE
				 "/stream?marker=%s&client_id=" SUB_CLIENT
				 "&project_id=" PROJECT, marker);
		swarm_connect(sw, i, path);
	}
	while (swarm_up(sw) + swarm_down(sw) < b.n && mono_s() - t < 120)
		pump(sw, &b, 100);
	t_conn = mono_s() - t;
	printf("connected: %u of %u in %.2f s (%u failed%s%s)\n", swarm_up(sw),
	       b.n, t_conn, swarm_down(sw), b.down_why ? ": " : "",
	       b.down_why ? b.down_why : "");
	for (t = mono_s(); mono_s() - t < 2;)
		pump(sw, &b, 100);
	rss_idle = rss_kb(srv.pid);
	printf("server VmRSS: %ld KiB before, %ld KiB with %u idle "
	       "subscribers: %.2f KiB per connection\n", rss_before, rss_idle,
	       swarm_up(sw),
	       swarm_up(sw) ? (double)(rss_idle - rss_before) / swarm_up(sw) : 0);
	if (!swarm_up(sw))
		die("no subscriber connected");

	/* Load. */
	srv_cpu0 = swarm_cpu_seconds(srv.pid);
	cli_cpu0 = self_cpu_s();
	machine_jiffies(&mb0, &mt0);
	if (o.perf) {
		char file[400];

		snprintf(file, sizeof(file), "%s.%s%u", o.perf,
			 nats ? "nats" : "loops", nats ? 0 : loops ? loops : 1);
		perf = perf_start(file, srv.pid, o.duration);
		printf("perf profile of the server: %s\n", file);
	}
	if (pthread_create(&pub, NULL, publisher, &b))
		die("cannot start the publisher");
	t = mono_s();
	for (double next = t + 1; mono_s() - t < o.duration;) {
		pump(sw, &b, 20);
		if (mono_s() >= next) {
			long r = rss_kb(srv.pid);

			if (r > rss_load_max)
				rss_load_max = r;
			next += 1;
		}
	}
	atomic_store(&b.stop, true);
	t_load = mono_s() - t;
	deliv_load = b.delivered;
	srv_cpu1 = swarm_cpu_seconds(srv.pid);
	cli_cpu1 = self_cpu_s();
	machine_jiffies(&mb1, &mt1);
	/* A post may still wait for its answer: read on meanwhile. */
	while (!atomic_load(&b.pub_done))
		pump(sw, &b, 20);
	pthread_join(pub, NULL);
	t_pub_end = mono_s() - t;
	if (perf > 0)
		waitpid(perf, NULL, 0);

	/* Drain: every subscriber gets every message, or nothing moves. */
	expected = (uint64_t)atomic_load(&b.published) * swarm_up(sw);
	for (double t_seen = mono_s(), t_drain = mono_s(); b.delivered < expected &&
	     mono_s() - t_drain < DRAIN_MAX_S &&
	     mono_s() - t_seen < DRAIN_STALL_S;) {
		uint64_t seen = b.delivered;

		pump(sw, &b, 100);
		if (b.delivered != seen)
			t_seen = mono_s();
	}
	t_end = mono_s() - t;
	rss_end = rss_kb(srv.pid);

	printf("\npublished: %llu messages in %llu posts; the last answered "
	       "%.1f s after the start (%llu failed, %llu catching up with more "
	       "than --batch, slowest post %.1f ms)\n",
	       (unsigned long long)atomic_load(&b.published),
	       (unsigned long long)b.posts, t_pub_end,
	       (unsigned long long)b.post_fail, (unsigned long long)b.late_posts,
	       (double)b.post_max_us / 1000);
	printf("delivered: %llu of %llu (%.2f %%); %llu during the load "
	       "(%.0f msgs/s), all %.1f s after the start (%.0f msgs/s)\n",
	       (unsigned long long)b.delivered, (unsigned long long)expected,
	       expected ? 100.0 * (double)b.delivered / (double)expected : 0,
	       (unsigned long long)deliv_load, (double)deliv_load / t_load,
	       t_end, (double)b.delivered / t_end);
	printf("post answer time: p50 %u ms, p99 %u ms (1 ms steps)\n",
	       post_quantile(&b, 0.50), post_quantile(&b, 0.99));
	printf("latency from the post's sending: ");
	print_quantile("p50", hist_quantile(b.hist, 0.50, expected));
	print_quantile(", p99", hist_quantile(b.hist, 0.99, expected));
	printf(", max %.1f ms%s\n", (double)b.lat_max_us / 1000,
	       b.delivered < expected ? " (of those delivered)" : "");
	printf("latency from the due time:     ");
	print_quantile("p50", hist_quantile(b.hist_due, 0.50, expected));
	print_quantile(", p99", hist_quantile(b.hist_due, 0.99, expected));
	printf(", max %.1f ms%s\n", (double)b.due_max_us / 1000,
	       b.delivered < expected ? " (of those delivered)" : "");
	printf("checks: %llu out-of-sequence, %llu unparsed frames, %llu gap "
	       "frames, %llu NATS errors, %u connections lost%s%s\n",
	       (unsigned long long)b.bad_seq, (unsigned long long)b.bad_frames,
	       (unsigned long long)b.gaps, (unsigned long long)b.nats_errors,
	       swarm_down(sw), b.down_why ? ": " : "",
	       b.down_why ? b.down_why : "");
	printf("server VmRSS: %ld KiB before, %ld idle-connected, %ld max "
	       "under load, %ld at the end\n", rss_before, rss_idle,
	       rss_load_max, rss_end);
	printf("CPU during the load: server %.0f %% of one CPU, this client "
	       "%.0f %%, machine %.0f %% busy (of %ld CPUs)\n",
	       100 * (srv_cpu1 - srv_cpu0) / t_load,
	       100 * (cli_cpu1 - cli_cpu0) / t_load,
	       mt1 > mt0 ? 100.0 * (double)(mb1 - mb0) / (double)(mt1 - mt0) : 0,
	       sysconf(_SC_NPROCESSORS_ONLN));
	res->subs = swarm_up(sw);
	res->p50_ms = hist_quantile(b.hist, 0.50, expected) / 1000;
	res->p99_ms = hist_quantile(b.hist, 0.99, expected) / 1000;
	res->post_p99_ms = post_quantile(&b, 0.99);
	res->posts = b.posts;
	res->failed = b.post_fail;
	res->srv_cpu_pct = 100 * (srv_cpu1 - srv_cpu0) / t_load;
	res->deliv_rate = (double)deliv_load / t_load;
	res->delivered_per_cpu_s = srv_cpu1 > srv_cpu0
		? (double)deliv_load / (srv_cpu1 - srv_cpu0) : 0;
	swarm_free(sw);
	server_stop(&srv);
	current = NULL;
	for (unsigned i = 0; i < b.n; i++)
		free(b.sub[i].pend);
	free(b.sub);
	free(b.hist);
	free(b.hist_due);
}

int main(int argc, char **argv)
{
	struct result res[MAX_RUNS];
	struct opts o;
	unsigned n = 0;

	parse(argc, argv, &o);
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (unsigned i = 0; i < o.n_loops; i++)
		run_one(&o, false, o.loops[i], &res[n++]);
	if (o.nats)
		run_one(&o, true, 0, &res[n++]);
	printf("\n| server | subscribers | p50 | p99 from sending | post p99 "
	       "| posts (failed) | server CPU | deliveries/s | deliveries per "
	       "server CPU-s |\n| --- | ---: | ---: | ---: | ---: | --- | ---: "
	       "| ---: | ---: |\n");
	for (unsigned i = 0; i < n; i++) {
		char p50[32], p99[32];

		snprintf(p50, sizeof(p50), res[i].p50_ms < 0 ? "not delivered"
							     : "%.1f ms",
			 res[i].p50_ms);
		snprintf(p99, sizeof(p99), res[i].p99_ms < 0 ? "not delivered"
							     : "%.1f ms",
			 res[i].p99_ms);
		printf("| %s | %u | %s | %s | %u ms | %llu (%llu) | %.0f %% | "
		       "%.0f | %.0f |\n", res[i].name, res[i].subs, p50, p99,
		       res[i].post_p99_ms, res[i].posts, res[i].failed,
		       res[i].srv_cpu_pct, res[i].deliv_rate,
		       res[i].delivered_per_cpu_s);
	}
	return 0;
}
