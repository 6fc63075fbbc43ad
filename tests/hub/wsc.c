/*
 * wsc.c - a minimal RFC 6455 client on blocking sockets for the
 * end-to-end tests (wsc.h): frames masked client to server, as the RFC
 * requires; pings answered.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "wsc.h"

static int wsc_fill(struct wsc *w, int timeout_ms)
{
	struct pollfd p = {.fd = w->fd, .events = POLLIN};
	ssize_t n;

	if (poll(&p, 1, timeout_ms) <= 0)
		return -1;
	if (w->cap - w->len < 65536) {
		w->cap = w->cap ? w->cap * 2 : 131072;
		w->buf = realloc(w->buf, w->cap);
		if (!w->buf)
			bail_out("out of memory");
	}
	n = recv(w->fd, w->buf + w->len, w->cap - w->len, 0);
	if (n <= 0)
		return -1;
	w->len += (size_t)n;
	return 0;
}

static void wsc_consume(struct wsc *w, size_t n)
{
	memmove(w->buf, w->buf + n, w->len - n);
	w->len -= n;
}

/* Opens `path` with the upgrade handshake; w->status says how it went. */
bool wsc_open(struct wsc *w, const struct hh_server *s,
		     const char *path, const char *subprotocol)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	char req[2048];
	int one = 1;
	char *end;

	memset(w, 0, sizeof(*w));
	w->status = -1;
	w->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	a.sin_port = htons((uint16_t)s->port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (w->fd < 0 || connect(w->fd, (struct sockaddr *)&a, sizeof(a)))
		bail_out("cannot connect: %s", strerror(errno));
	setsockopt(w->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	snprintf(req, sizeof(req),
		 "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
		 "Connection: Upgrade\r\n"
		 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
		 "Sec-WebSocket-Version: 13\r\n%s%s%s\r\n",
		 path, subprotocol ? "Sec-WebSocket-Protocol: " : "",
		 subprotocol ? subprotocol : "", subprotocol ? "\r\n" : "");
	if (send(w->fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req))
		return false;
	for (;;) {
		if (w->len) {
			w->buf[w->len < w->cap ? w->len : w->cap - 1] = 0;
			end = strstr((char *)w->buf, "\r\n\r\n");
			if (end)
				break;
		}
		if (wsc_fill(w, 5000))
			return false;
	}
	sscanf((char *)w->buf, "HTTP/1.%*d %d", &w->status);
	wsc_consume(w, (size_t)(end + 4 - (char *)w->buf));
	return w->status == 101;
}

void wsc_close(struct wsc *w)
{
	if (w->fd >= 0)
		close(w->fd);
	free(w->buf);
	memset(w, 0, sizeof(*w));
	w->fd = -1;
}

/* Sends one masked frame. */
void wsc_send_op(struct wsc *w, int opcode, const void *data, size_t len)
{
	unsigned char *f = malloc(len + 14), mask[4] = {0x37, 0xfa, 0x21, 0x3d};
	size_t h = 0;

	f[h++] = (unsigned char)(0x80 | opcode);
	if (len < 126) {
		f[h++] = (unsigned char)(0x80 | len);
	} else if (len < 65536) {
		f[h++] = 0x80 | 126;
		f[h++] = (unsigned char)(len >> 8);
		f[h++] = (unsigned char)len;
	} else {
		f[h++] = 0x80 | 127;
		for (int i = 7; i >= 0; i--)
			f[h++] = (unsigned char)((uint64_t)len >> (8 * i));
	}
	memcpy(f + h, mask, 4);
	h += 4;
	for (size_t i = 0; i < len; i++)
		f[h + i] = ((const unsigned char *)data)[i] ^ mask[i % 4];
	for (size_t off = 0; off < h + len;) {
		ssize_t n = send(w->fd, f + off, h + len - off, MSG_NOSIGNAL);

		if (n <= 0)
			break;
		off += (size_t)n;
	}
	free(f);
}

void wsc_send(struct wsc *w, const char *text)
{
	wsc_send_op(w, 1, text, strlen(text));
}

/* The next text frame (malloc'd), answering pings; NULL on timeout,
 * close or error. */
char *wsc_recv_text(struct wsc *w, int timeout_ms)
{
	for (;;) {
		size_t need = 2, plen, h;
		int op;

		while (w->len < need || (need == 2 && w->len >= 2 &&
					 ((w->buf[1] & 127) == 126 ? w->len < 4
					  : (w->buf[1] & 127) == 127 ? w->len < 10
								     : false))) {
			if (wsc_fill(w, timeout_ms))
				return NULL;
		}
		op = w->buf[0] & 15;
		plen = w->buf[1] & 127;
		h = 2;
		if (plen == 126) {
			plen = (size_t)w->buf[2] << 8 | w->buf[3];
			h = 4;
		} else if (plen == 127) {
			plen = 0;
			for (int i = 0; i < 8; i++)
				plen = plen << 8 | w->buf[2 + i];
			h = 10;
		}
		while (w->len < h + plen)
			if (wsc_fill(w, timeout_ms))
				return NULL;
		if (op == 9) { /* ping: pong */
			wsc_send_op(w, 10, w->buf + h, plen);
			wsc_consume(w, h + plen);
			continue;
		}
		if (op == 8) {
			wsc_consume(w, h + plen);
			return NULL;
		}
		if (op == 1 || op == 0) {
			char *t = malloc(plen + 1);

			memcpy(t, w->buf + h, plen);
			t[plen] = 0;
			wsc_consume(w, h + plen);
			return t;
		}
		wsc_consume(w, h + plen);
	}
}

json_t *wsc_recv(struct wsc *w, int timeout_ms)
{
	char *t = wsc_recv_text(w, timeout_ms);
	json_t *j = t ? json_loads(t, JSON_DECODE_ANY, NULL) : NULL;

	if (t && !j)
		diag("not JSON: %.200s", t);
	free(t);
	return j;
}

/* Sends an action and returns its response frame (new reference). Frames
 * of subscriptions that arrive first are skipped. */
json_t *act(struct wsc *w, const char *action, const char *headers,
		   const char *body)
{
	char *frame;

	/* Any size (hh_fmt's buffer would cut a big body short). */
	if (asprintf(&frame, "{\"action\": \"%s\", \"headers\": %s, "
		     "\"body\": %s}", action, headers, body) < 0)
		return NULL;
	wsc_send(w, frame);
	free(frame);
	for (;;) {
		json_t *j = wsc_recv(w, 5000);

		if (!j || json_object_get(j, "request"))
			return j;
		json_decref(j);
	}
}
