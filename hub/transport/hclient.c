/*
 * hclient.c - one-shot HTTP requests out of the server (hclient.h), made
 * by an lws client on the server's own context and vhost: the loop never
 * blocks on them.
 *
 *   hub_hclient_start ──connect──> APPEND_HANDSHAKE_HEADER (headers, length)
 *   (deadline timer armed)         CLIENT_HTTP_WRITEABLE   (the body)
 *                                  ESTABLISHED_CLIENT_HTTP (status, header)
 *                                  RECEIVE_CLIENT_HTTP[_READ] (body bytes)
 *            <──q->done()───────── COMPLETED_CLIENT_HTTP | CLOSED_CLIENT_HTTP
 *                                  | CONNECTION_ERROR | the deadline
 *
 * A request's state (struct conn) is bound to its connection with lws's
 * opaque user data; once the request is finished (answered, failed,
 * timed out or cancelled) the connection is detached from it and closed,
 * so no later callback sees it. The webhook client (webhook.c) keeps its
 * own callback: it adds the SSRF guard and a resolver, and reads no
 * answers.
 *
 * Loop thread only.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "server.h"
#include "hclient.h"
#include "transport/hclient.h"

#define PROTOCOL_NAME "herald-hclient"

struct conn {
	struct hub_hclient_req *q;
	struct lws *wsi;
	lws_sorted_usec_list_t deadline;
	size_t sent;
	bool starting;   /* inside lws_client_connect_via_info */
	bool failed;     /* ... which failed already */
};

/* Detaches c from its connection (closed soon) and frees it. */
static void conn_end(struct conn *c)
{
	lws_sul_cancel(&c->deadline);
	if (c->wsi) {
		lws_set_opaque_user_data(c->wsi, NULL);
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK,
				LWS_TO_KILL_ASYNC);
	}
	c->q->priv = NULL;
	free(c);
}

/* The request's end: its results handed over, once. */
static void finish(struct conn *c, int status, const char *why)
{
	struct hub_hclient_req *q = c->q;

	if (c->starting) {
		/* start() says so itself: done() never runs. */
		c->failed = true;
		return;
	}
	/* done() reads the answer in q->body_in and may free q, or start q
	 * again (which empties q->body_in): the bytes are freed from a copy
	 * of the buffer, after it. */
	struct hub_buf body = q->body_in;

	q->status = status;
	q->why = why;
	if (!status)
		q->header[0] = '\0';
	conn_end(c);
	q->done(q);
	hub_buf_free(&body);
}

static void on_deadline(lws_sorted_usec_list_t *sul)
{
	finish(lws_container_of(sul, struct conn, deadline), 0, "timed out");
}

int hub_hclient_start(void *arg, struct hub_hclient_req *q)
{
	struct hub_server *srv = arg;
	struct lws_client_connect_info i;
	struct conn *c = calloc(1, sizeof(*c));
	struct lws *wsi;

	if (!c)
		return -1;
	c->q = q;
	q->priv = c;
	q->status = 0;
	q->why = NULL;
	q->header[0] = '\0';
	memset(&q->body_in, 0, sizeof(q->body_in));
	memset(&i, 0, sizeof(i));
	i.context = srv->ctx;
	i.vhost = srv->vhost;
	i.address = q->address;
	i.port = q->port;
	i.ssl_connection = q->tls ? LCCSCF_USE_SSL : 0;
	i.path = q->path;
	i.host = q->host;
	i.method = q->method;
	i.alpn = "http/1.1";
	i.protocol = PROTOCOL_NAME;
	i.local_protocol_name = PROTOCOL_NAME;
	i.opaque_user_data = c;
	i.pwsi = &c->wsi;
	c->starting = true;
	wsi = lws_client_connect_via_info(&i);
	c->starting = false;
	if (!wsi || c->failed) {
		if (!wsi)
			c->wsi = NULL;
		conn_end(c);
		return -1;
	}
	lws_sul_schedule(srv->ctx, 0, &c->deadline, on_deadline,
			 (lws_usec_t)(q->timeout_s ? q->timeout_s : 10) *
				 LWS_US_PER_SEC);
	return 0;
}

void hub_hclient_cancel(void *arg, struct hub_hclient_req *q)
{
	(void)arg;
	if (q->priv)
		conn_end(q->priv);
	hub_buf_free(&q->body_in);
}

/* ------------------------------------------------------------ protocol */

static int add_header(struct lws *wsi, const char *name, const char *value,
		      unsigned char **p, unsigned char *end)
{
	return lws_add_http_header_by_name(wsi, (const unsigned char *)name,
					   (const unsigned char *)value,
					   (int)strlen(value), p, end);
}

static int add_headers(struct lws *wsi, struct conn *c, unsigned char **p,
		       unsigned char *end)
{
	const struct hub_hclient_req *q = c->q;
	char cl[32];

	if (add_header(wsi, "user-agent:", "herald", p, end) ||
	    add_header(wsi, "accept:", "application/json", p, end))
		return -1;
	for (const char *h = q->headers; h && *h;) {
		const char *v = h + strlen(h) + 1;

		if (add_header(wsi, h, v, p, end))
			return -1;
		h = v + strlen(v) + 1;
	}
	if (!q->body)
		return 0;
	snprintf(cl, sizeof(cl), "%zu", q->body_len);
	if (add_header(wsi, "content-type:", "application/json", p, end) ||
	    add_header(wsi, "content-length:", cl, p, end))
		return -1;
	lws_client_http_body_pending(wsi, 1);
	lws_callback_on_writable(wsi);
	return 0;
}

#define CHUNK 16384

static int write_body(struct lws *wsi, struct conn *c)
{
	const struct hub_hclient_req *q = c->q;
	unsigned char buf[LWS_PRE + CHUNK];
	size_t n = q->body ? q->body_len - c->sent : 0;
	enum lws_write_protocol wp = LWS_WRITE_HTTP_FINAL;

	if (!q->body)
		return 0;
	if (n > CHUNK) {
		n = CHUNK;
		wp = LWS_WRITE_HTTP;
	}
	memcpy(buf + LWS_PRE, q->body + c->sent, n);
	if (lws_write(wsi, buf + LWS_PRE, n, wp) != (int)n)
		return -1;
	c->sent += n;
	if (c->sent < q->body_len)
		lws_callback_on_writable(wsi);
	else
		lws_client_http_body_pending(wsi, 0);
	return 0;
}

static void established(struct lws *wsi, struct conn *c)
{
	struct hub_hclient_req *q = c->q;

	q->status = (int)lws_http_client_http_response(wsi);
	if (q->keep_header &&
	    lws_hdr_custom_copy(wsi, q->header, sizeof(q->header),
				q->keep_header,
				(int)strlen(q->keep_header)) < 0)
		q->header[0] = '\0';
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason,
		    void *user, void *in, size_t len)
{
	struct conn *c = wsi ? lws_get_opaque_user_data(wsi) : NULL;
	char tmp[1024 + LWS_PRE], *px = tmp + LWS_PRE;
	int lenx = (int)sizeof(tmp) - LWS_PRE;

	if (!c)
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	switch (reason) {
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
		return add_headers(wsi, c, (unsigned char **)in,
				   *(unsigned char **)in + len);
	case LWS_CALLBACK_CLIENT_HTTP_WRITEABLE:
		return write_body(wsi, c);
	case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
		established(wsi, c);
		return 0;
	case LWS_CALLBACK_RECEIVE_CLIENT_HTTP:
		return lws_http_client_read(wsi, &px, &lenx) < 0 ? -1 : 0;
	case LWS_CALLBACK_RECEIVE_CLIENT_HTTP_READ:
		if (c->q->body_in.len + len > c->q->body_max) {
			finish(c, 0, "the response is too large");
			return -1;
		}
		hub_buf_add(&c->q->body_in, in, len);
		if (c->q->body_in.failed) {
			finish(c, 0, "out of memory");
			return -1;
		}
		return 0;
	case LWS_CALLBACK_COMPLETED_CLIENT_HTTP:
		c->wsi = NULL; /* lws closes it: returning -1 below */
		lws_set_opaque_user_data(wsi, NULL);
		finish(c, c->q->status, NULL);
		return -1;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		hub_log(HUB_LOG_DEBUG, "hclient: %s:%d: %s", c->q->address,
			c->q->port, in ? (const char *)in : "connection failed");
		c->wsi = NULL;
		lws_set_opaque_user_data(wsi, NULL);
		finish(c, 0, "cannot connect");
		return 0;
	case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
		/* A response that ends with its connection (no length):
		 * what came is the body; one that had not begun failed. */
		c->wsi = NULL;
		lws_set_opaque_user_data(wsi, NULL);
		finish(c, c->q->status,
		       c->q->status ? NULL : "the connection closed");
		return 0;
	default:
		return 0;
	}
}

const struct lws_protocols hub_hclient_protocol = {
	PROTOCOL_NAME, callback, 0, 0, 0, NULL, 0};
