/*
 * swarm.c - many WebSocket client connections on one epoll loop. See
 * swarm.h.
 *
 * A connection's life:
 *
 *   WAITING --slot free--> CONNECTING --writable: send the upgrade-->
 *   HANDSHAKE --"HTTP/1.1 101 ...\r\n\r\n"--> OPEN --close/error--> DONE
 *                        (anything else: DONE, "refused")
 *
 * Reading: when a connection has no bytes left over from its last read,
 * recv() goes into one buffer shared by all connections and frames are
 * parsed in place; only the tail of a frame that is not complete yet is
 * copied aside into the connection's own buffer (freed once empty), and
 * the next read appends to it there. A fragmented message is assembled
 * in a second per-connection buffer until its final fragment. One recv
 * per readiness event, so busy connections do not starve the others.
 *
 * What the client sends (the upgrade request, pongs, the close reply)
 * is small and goes out with one send(); a short send fails the
 * connection rather than queue bytes, which these frames never need.
 */
#include "swarm.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define RD_SIZE (256u * 1024)       /* the shared read buffer */
#define RD_MIN (64u * 1024)         /* room for a read into a conn's buffer */
#define HEAD_MAX (16u * 1024)       /* the upgrade response's headers */
#define FRAME_MAX (64u * 1024 * 1024) /* larger: a protocol error */

enum state { WAITING, CONNECTING, HANDSHAKE, OPEN, DONE };

struct conn {
	int fd;
	enum state state;
	char *path;                 /* until the request is sent */
	unsigned char *buf;         /* left over from the last read */
	size_t len, cap;
	unsigned char *msg;         /* fragments of a message so far */
	size_t msg_len, msg_cap;
	bool in_msg, msg_text;
};

struct swarm {
	struct conn *c;
	unsigned n, sources;
	int port, ep;
	unsigned *queue, q_head, q_tail; /* WAITING, in order */
	unsigned connecting, up, down;
	uint32_t mask_seed;
	unsigned char *rd;
	struct swarm_cbs cbs;
};

struct swarm *swarm_new(unsigned n, int port, unsigned sources,
			const struct swarm_cbs *cbs)
{
	struct swarm *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->n = n;
	s->port = port;
	s->sources = sources ? sources : 1;
	s->cbs = *cbs;
	s->mask_seed = 0x9e3779b9u;
	s->c = calloc(n ? n : 1, sizeof(*s->c));
	s->queue = calloc(n ? n : 1, sizeof(*s->queue));
	s->rd = malloc(RD_SIZE);
	s->ep = epoll_create1(EPOLL_CLOEXEC);
	if (!s->c || !s->queue || !s->rd || s->ep < 0) {
		swarm_free(s);
		return NULL;
	}
	for (unsigned i = 0; i < n; i++) {
		s->c[i].fd = -1;
		s->c[i].state = DONE;
	}
	return s;
}

static void conn_release(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->path);
	free(c->buf);
	free(c->msg);
	c->path = NULL;
	c->buf = c->msg = NULL;
	c->len = c->cap = c->msg_len = c->msg_cap = 0;
	c->in_msg = false;
}

void swarm_free(struct swarm *s)
{
	if (!s)
		return;
	for (unsigned i = 0; s->c && i < s->n; i++)
		conn_release(&s->c[i]);
	if (s->ep >= 0)
		close(s->ep);
	free(s->c);
	free(s->queue);
	free(s->rd);
	free(s);
}

int swarm_fd(const struct swarm *s)
{
	return s->ep;
}

unsigned swarm_up(const struct swarm *s)
{
	return s->up;
}

unsigned swarm_down(const struct swarm *s)
{
	return s->down;
}

static void start_waiting(struct swarm *s);

/* Ends connection i and says why. */
static void conn_down(struct swarm *s, unsigned i, const char *why)
{
	struct conn *c = &s->c[i];
	enum state was = c->state;

	if (was == DONE)
		return;
	conn_release(c);
	c->state = DONE;
	s->down++;
	if (was == OPEN)
		s->up--;
	if (was == CONNECTING || was == HANDSHAKE) {
		s->connecting--;
		start_waiting(s);
	}
	if (s->cbs.down)
		s->cbs.down(s->cbs.arg, i, why);
}

static void conn_start(struct swarm *s, unsigned i)
{
	struct conn *c = &s->c[i];
	struct sockaddr_in dst = {.sin_family = AF_INET};
	struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = i};

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	c->state = CONNECTING;
	s->connecting++;
	if (c->fd < 0) {
		conn_down(s, i, strerror(errno));
		return;
	}
	if (s->sources > 1) {
		struct sockaddr_in src = {.sin_family = AF_INET};
		int one = 1;

		/* The port is picked at connect(), per destination: the
		 * 4-tuple has to be unique, not the local port. */
		setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
			   sizeof(one));
		src.sin_addr.s_addr = htonl(INADDR_LOOPBACK + i % s->sources);
		if (bind(c->fd, (struct sockaddr *)&src, sizeof(src))) {
			conn_down(s, i, strerror(errno));
			return;
		}
	}
	dst.sin_port = htons((uint16_t)s->port);
	dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(c->fd, (struct sockaddr *)&dst, sizeof(dst)) &&
	    errno != EINPROGRESS) {
		conn_down(s, i, strerror(errno));
		return;
	}
	if (epoll_ctl(s->ep, EPOLL_CTL_ADD, c->fd, &ev))
		conn_down(s, i, strerror(errno));
}

static void start_waiting(struct swarm *s)
{
	while (s->connecting < SWARM_CONNECTING && s->q_head != s->q_tail)
		conn_start(s, s->queue[s->q_head++]);
}

void swarm_connect(struct swarm *s, unsigned i, const char *path)
{
	struct conn *c = &s->c[i];

	if (i >= s->n || c->state != DONE || s->q_tail == s->n)
		return; /* a programmer error: each connection opens once */
	c->path = strdup(path);
	c->state = WAITING;
	s->queue[s->q_tail++] = i;
	start_waiting(s);
}

/* The connect finished: send the upgrade request. */
static void send_request(struct swarm *s, unsigned i)
{
	struct conn *c = &s->c[i];
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};
	char req[2048];
	socklen_t elen = sizeof(int);
	int err = 0, n;

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &elen) || err) {
		conn_down(s, i, strerror(err ? err : errno));
		return;
	}
	n = snprintf(req, sizeof(req),
		     "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
		     "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
		     "Sec-WebSocket-Version: 13\r\n\r\n",
		     c->path, s->port);
	free(c->path);
	c->path = NULL;
	if (n <= 0 || n >= (int)sizeof(req) ||
	    send(c->fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
		conn_down(s, i, "cannot send the upgrade request");
		return;
	}
	c->state = HANDSHAKE;
	if (epoll_ctl(s->ep, EPOLL_CTL_MOD, c->fd, &ev))
		conn_down(s, i, strerror(errno));
}

/* Sends one masked control frame (payload <= 125 bytes). */
static bool send_control(struct swarm *s, struct conn *c, int op,
			 const unsigned char *p, size_t len)
{
	unsigned char f[2 + 4 + 125];
	uint32_t m;

	if (len > 125)
		len = 125;
	/* xorshift: masks only need to differ, not to be secret, here. */
	m = s->mask_seed;
	m ^= m << 13;
	m ^= m >> 17;
	m ^= m << 5;
	s->mask_seed = m;
	f[0] = (unsigned char)(0x80 | op);
	f[1] = (unsigned char)(0x80 | len);
	memcpy(f + 2, &m, 4);
	for (size_t k = 0; k < len; k++)
		f[6 + k] = p[k] ^ f[2 + k % 4];
	return send(c->fd, f, 6 + len, MSG_NOSIGNAL) == (ssize_t)(6 + len);
}

bool swarm_send(struct swarm *s, unsigned i, const char *text, size_t len)
{
	struct conn *c = &s->c[i];

	return i < s->n && c->state == OPEN && len <= 125 &&
	       send_control(s, c, 0x1, (const unsigned char *)text, len);
}

static bool msg_append(struct conn *c, const unsigned char *p, size_t len)
{
	if (c->msg_len + len > c->msg_cap) {
		size_t cap = c->msg_cap ? c->msg_cap : 4096;
		unsigned char *nb;

		while (cap < c->msg_len + len)
			cap *= 2;
		nb = realloc(c->msg, cap);
		if (!nb)
			return false;
		c->msg = nb;
		c->msg_cap = cap;
	}
	memcpy(c->msg + c->msg_len, p, len);
	c->msg_len += len;
	return true;
}

/*
 * Handles one whole frame. Returns false when the connection ended.
 */
static bool on_frame(struct swarm *s, unsigned i, int op, bool fin,
		     const unsigned char *p, size_t len)
{
	struct conn *c = &s->c[i];

	switch (op) {
	case 0x9: /* ping */
		if (!send_control(s, c, 0xA, p, len)) {
			conn_down(s, i, "cannot send a pong");
			return false;
		}
		return true;
	case 0xA: /* pong */
		return true;
	case 0x8: /* close: echo its status, then end */
		send_control(s, c, 0x8, p, len >= 2 ? 2 : 0);
		conn_down(s, i, "closed by the server (close frame)");
		return false;
	case 0x1: /* text */
	case 0x2: /* binary */
		if (c->in_msg) {
			conn_down(s, i, "a new message inside a fragmented one");
			return false;
		}
		if (fin) {
			if (op == 0x1 && s->cbs.text)
				s->cbs.text(s->cbs.arg, i, (const char *)p, len);
			else if (op == 0x2 && s->cbs.binary)
				s->cbs.binary(s->cbs.arg, i, (const char *)p,
					      len);
			return c->state == OPEN;
		}
		c->in_msg = true;
		c->msg_text = op == 0x1;
		c->msg_len = 0;
		break;
	case 0x0: /* continuation */
		if (!c->in_msg) {
			conn_down(s, i, "a continuation without a message");
			return false;
		}
		break;
	default:
		conn_down(s, i, "unknown opcode");
		return false;
	}
	if (!msg_append(c, p, len)) {
		conn_down(s, i, "out of memory");
		return false;
	}
	if (fin) {
		c->in_msg = false;
		if (c->msg_text && s->cbs.text)
			s->cbs.text(s->cbs.arg, i, (const char *)c->msg,
				    c->msg_len);
		else if (!c->msg_text && s->cbs.binary)
			s->cbs.binary(s->cbs.arg, i, (const char *)c->msg,
				      c->msg_len);
		if (c->state != OPEN)
			return false;
		free(c->msg);
		c->msg = NULL;
		c->msg_len = c->msg_cap = 0;
	}
	return true;
}

/*
 * Parses the frames in p[0..len). Returns the bytes consumed (a partial
 * frame at the end is left), or -1 when the connection ended.
 */
static long parse_frames(struct swarm *s, unsigned i, const unsigned char *p,
			 size_t len)
{
	size_t off = 0;

	while (len - off >= 2) {
		const unsigned char *f = p + off;
		size_t avail = len - off, h = 2;
		uint64_t plen = f[1] & 127;

		if (f[1] & 0x80) {
			conn_down(s, i, "a masked frame from the server");
			return -1;
		}
		if (plen == 126) {
			if (avail < 4)
				break;
			plen = (uint64_t)f[2] << 8 | f[3];
			h = 4;
		} else if (plen == 127) {
			if (avail < 10)
				break;
			plen = 0;
			for (int k = 0; k < 8; k++)
				plen = plen << 8 | f[2 + k];
			h = 10;
		}
		if (plen > FRAME_MAX) {
			conn_down(s, i, "a frame over 64 MiB");
			return -1;
		}
		if (avail < h + plen)
			break;
		if (!on_frame(s, i, f[0] & 15, f[0] & 0x80, f + h, (size_t)plen))
			return -1;
		off += h + (size_t)plen;
	}
	return (long)off;
}

/* The upgrade response: returns the bytes of its headers, 0 while they
 * are incomplete, -1 when the connection ended. */
static long parse_head(struct swarm *s, unsigned i, const unsigned char *p,
		       size_t len)
{
	struct conn *c = &s->c[i];
	const unsigned char *end = memmem(p, len, "\r\n\r\n", 4);
	char why[96];
	int status = 0;

	if (!end) {
		if (len <= HEAD_MAX)
			return 0;
		conn_down(s, i, "upgrade response headers too long");
		return -1;
	}
	if (sscanf((const char *)p, "HTTP/1.1 %d", &status) != 1 ||
	    status != 101) {
		snprintf(why, sizeof(why), "upgrade refused: status %d", status);
		conn_down(s, i, why);
		return -1;
	}
	c->state = OPEN;
	s->connecting--;
	s->up++;
	start_waiting(s);
	if (s->cbs.up)
		s->cbs.up(s->cbs.arg, i);
	return c->state == OPEN ? (long)(end + 4 - p) : -1;
}

/* Keeps p[0..len) as connection c's leftover. */
static bool keep(struct conn *c, const unsigned char *p, size_t len)
{
	if (len > c->cap) {
		unsigned char *nb = malloc(len + RD_MIN);

		if (!nb)
			return false;
		free(c->buf);
		c->buf = nb;
		c->cap = len + RD_MIN;
	}
	memmove(c->buf, p, len);
	c->len = len;
	return true;
}

static void on_readable(struct swarm *s, unsigned i)
{
	struct conn *c = &s->c[i];
	unsigned char *data;
	size_t total;
	ssize_t n;
	long used = 0, more;

	if (c->len == 0) {
		data = s->rd;
		n = recv(c->fd, data, RD_SIZE, 0);
		total = n > 0 ? (size_t)n : 0;
	} else {
		if (c->cap - c->len < RD_MIN) {
			unsigned char *nb = realloc(c->buf, c->len + RD_MIN * 2);

			if (!nb) {
				conn_down(s, i, "out of memory");
				return;
			}
			c->buf = nb;
			c->cap = c->len + RD_MIN * 2;
		}
		data = c->buf;
		n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
		total = c->len + (n > 0 ? (size_t)n : 0);
	}
	if (n == 0) {
		conn_down(s, i, c->state == HANDSHAKE
			  ? "closed during the upgrade" : "closed by the server");
		return;
	}
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			conn_down(s, i, strerror(errno));
		return;
	}
	if (c->state == HANDSHAKE) {
		used = parse_head(s, i, data, total);
		if (used <= 0) {
			if (used == 0 && !keep(c, data, total))
				conn_down(s, i, "out of memory");
			return;
		}
	}
	more = parse_frames(s, i, data + used, total - (size_t)used);
	if (more < 0)
		return;
	used += more;
	if ((size_t)used == total) {
		/* Nothing left over: an idle connection holds no buffer. */
		free(c->buf);
		c->buf = NULL;
		c->len = c->cap = 0;
	} else if (!keep(c, data + used, total - (size_t)used)) {
		conn_down(s, i, "out of memory");
	}
}

int swarm_poll(struct swarm *s, int timeout_ms)
{
	struct epoll_event ev[512];
	int n = epoll_wait(s->ep, ev, 512, timeout_ms);

	if (n < 0)
		return errno == EINTR ? 0 : -1;
	for (int k = 0; k < n; k++) {
		unsigned i = ev[k].data.u32;
		struct conn *c = &s->c[i];

		if (c->state == CONNECTING)
			send_request(s, i);
		else if (c->state == HANDSHAKE || c->state == OPEN)
			on_readable(s, i);
	}
	return n;
}

double swarm_cpu_seconds(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	FILE *fp;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fp = fopen(path, "r");
	if (!fp)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	/* Fields 14 and 15, counted after the ")" that ends the name. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
			 "%llu %llu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}
