/*
 * http.c - the HTTP transport: one request's life on libwebsockets, from
 * parsed headers to the last byte of its answer. Handlers see only the
 * struct hub_req it fills (and reply through reply.c). It knows no path:
 * what a route takes and answers are the route's attributes.
 *
 *   LWS_CALLBACK_HTTP            headers parsed: build the request, look
 *                                its route up (route.c), refuse what
 *                                cannot be read (http_framing.c: the
 *                                version, the path, Content-Length and
 *                                Transfer-Encoding; answered at once,
 *                                then closed) or served (the route's
 *                                body limit)
 *   LWS_CALLBACK_HTTP_BODY       body bytes, up to the route's limit
 *   LWS_CALLBACK_HTTP_BODY_COMPLETION  (or at once for requests without a
 *                                body) pre-routing checks (http_checks.c),
 *                                then dispatch to the route
 *   handler                      replies now, defers a write (answered
 *                                from the writer's done), waits (long-poll:
 *                                held until its queue changes) or streams
 *                                (SSE: a producer feeds the connection)
 *   LWS_CALLBACK_HTTP_WRITEABLE  headers, then the body in slices; then
 *                                the transaction completes (keep-alive)
 *   LWS_CALLBACK_CLOSED_HTTP     frees the request, or orphans it to its
 *                                job when a write is still out
 *
 * lws 4.1 traps handled here (see notes/libwebsockets-4.1.md): PUT/PATCH
 * with Content-Length 0 get no body callbacks; a POST/PUT/PATCH without a
 * Content-Length would hang (served bodiless, then closed), and chunked
 * bodies are not decoded (411); held and streamed responses spin when
 * their client leaves unless reading is off, yet WRITEABLE never comes
 * while it is off; custom headers need the lower-case name with its
 * colon; one lws_write per WRITEABLE, with LWS_PRE headroom; every
 * non-streamed response has a length.
 *
 * Pipelining (bytes of a next request read together with this one). The
 * rule: a write the hub committed is answered; a request it cannot answer
 * is never started. lws 4.1.6 keeps the bytes left over in the
 * connection's buflist and serves them from lws_service_do_ripe_rxflow()
 * at the end of every loop pass (while reading is on); what it does with
 * them (read in its sources, and seen with its debug log):
 *
 *   behind a body    the wsi stays in LRS_BODY with nothing left to read:
 *                    lws_read_h1 jumps to postbody_completion and fires
 *                    BODY_COMPLETION again, each pass, consuming nothing
 *                    (roles/h1/ops-h1.c). The repeats are ignored; the
 *                    first marks the request close_after.
 *   behind no body   the wsi is in LRS_DOING_TRANSACTION, which reads
 *                    nothing: the bytes wait (the loop polls without
 *                    sleeping meanwhile) until lws_http_transaction_
 *                    completed() keeps the header table "as pipeline"
 *                    and, one pass later (LRS_DEFERRING_ACTION, then
 *                    POLLOUT), parses them. A next request WITHOUT a body
 *                    is then served well. One WITH a body is not:
 *                    lws_http_action() hands the buffered bytes - its own
 *                    headers included - to lws_read_h1 as the body, then
 *                    loops for ever on the completion, or reads the freed
 *                    buffer (roles/http/server/server.c, "consuming").
 *
 * So the connection is ended where lws would go wrong, before the next
 * request starts: a request with bytes behind its body is answered with
 * "Connection: close", and the connection closes after it (the client
 * knows that nothing after it was processed, RFC 9112 §9.6, and sends the
 * rest again); a request with a body that lws parsed out of its buffer
 * (its headers come in the loop pass right after the previous
 * transaction ended - a fresh read comes at least one pass later, see
 * finish()) is refused before lws reads its body: 503, "Connection:
 * close", nothing done.
 *
 * A request that ends without an answer is logged with why (on_closed).
 */
#include <ctype.h>
#include <sys/socket.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "metrics.h"
#include "config.h"
#include "req.h"
#include "buf.h"
#include "clock.h"
#include "cluster.h"
#include "server.h"
#include "writer.h"
#include "live/wait.h"
#include "live/sub.h"
#include "route.h"
#include "cors.h"
#include "transport/http.h"
#include "transport/http_checks.h"
#include "transport/http_framing.h"

#define SLICE 65536   /* body bytes per WRITEABLE */

enum state {
	READING,
	HANDLING,
	AUTHING,      /* its credentials are being checked (auth.h) */
	DEFERRED,     /* a write is out at the writer */
	HELD,         /* long-poll: waiting for its queue */
	STREAM_HEAD,  /* a streaming answer starts */
	STREAMING,    /* ... and goes on until it ends or the client leaves */
	WRITING_HEAD,
	WRITING_BODY,
	FLUSHING,     /* all written; lws still holds some of it */
	DONE
};

struct http_req {
	struct hub_req pub;
	struct lws *wsi;
	struct hub_server *srv;
	enum state state;
	struct hub_job *job;   /* out at the writer */
	struct hub_sub sub;    /* while HELD: hung on its queue */
	lws_sorted_usec_list_t wait_sul; /* looks for the end of its wait */
	uint64_t wait_mono_ms; /* the wait's end in real time (hub_mono_ms) */
	lws_dll2_t held;       /* in srv->held while it waits */
	bool rx_off;           /* reading stopped for a hold */
	const struct hub_stream_ops *stream; /* a streaming answer's producer */
	void *stream_state;
	const char *stream_type;
	char *path;
	struct hub_route_match match; /* looked up at header time */
	struct hub_buf body;
	size_t body_limit;
	bool too_big;          /* body unread or over its limit: close after */
	bool close_after;      /* lws dropped pipelined bytes: close after */
	bool job_back;         /* a write came back from the writer */
	int completions;
	size_t sent;
	uint64_t started_ns;
	enum hub_method method;
	long long length;      /* Content-Length; -1 when none */
	struct hub_http_heads heads;
	/* What a feed needs of the headers (hub_req's host ...). */
	struct {
		char host[256];
		char forwarded[512];
		char x_forwarded_proto[64];
		char x_forwarded_host[256];
		char if_modified_since[64];
	} feedh;
	char authorization[1024]; /* for /metrics' token (api/metrics.c) */
	/* CORS (cors.h): the browser's Origin and the Host it went to;
	 * cors_listed: the answer carries Access-Control-Allow-Origin. */
	char origin[512];
	char host[256];
	bool cors_listed;
};

struct pss {
	struct http_req *req;
};

static struct http_req *priv(struct hub_req *r)
{
	return (struct http_req *)r;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static const char *method_name(enum hub_method m)
{
	static const char *const names[] = {"GET", "HEAD", "POST", "PUT",
					    "PATCH", "DELETE", "OPTIONS", "?"};

	return names[m < HUB_METHOD_COUNT ? m : HUB_METHOD_COUNT];
}

/* --------------------------------------------------------- the transport */

static void http_job_out(struct hub_req *r, struct hub_job *job)
{
	priv(r)->job = job;
	priv(r)->state = DEFERRED;
}

static void http_job_back(struct hub_req *r)
{
	priv(r)->job = NULL;
	priv(r)->job_back = true;
	priv(r)->state = HANDLING;
}

static void held_end(struct http_req *h);

static void http_resume(struct hub_req *r)
{
	struct http_req *h = priv(r);

	if (h->state != HANDLING)
		return; /* deferred again, or holding */
	held_end(h);
	if (h->rx_off) {
		/* The end of a long-poll: reading resumes before writing,
		 * or lws 4.1 never calls WRITEABLE. */
		lws_rx_flow_control(h->wsi, 1);
		h->rx_off = false;
	}
	if (!r->reply.replied)
		hub_reply_error(r, 500, "Internal server error",
				"The request was not answered.");
	h->state = WRITING_HEAD;
	lws_callback_on_writable(h->wsi);
}

/*
 * Long-poll holds. lws 4.1 spins at 100 % CPU on a held response whose
 * client went away (upstream #2455), so reading stops while a request is
 * held; when it wakes, a peek tells whether the peer is still there, and
 * reading resumes before the answer is written (or it would never go).
 */
static void held_end(struct http_req *h)
{
	hub_sub_detach(h->srv->subs, &h->sub);
	lws_sul_cancel(&h->wait_sul);
	lws_dll2_remove(&h->held);
}

static bool peer_gone(struct lws *wsi)
{
	char c;

	return recv(lws_get_socket_fd(wsi), &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

/* A request whose client went away while it waited: nothing to answer;
 * the connection is closed from the loop. */
static void abandon(struct http_req *h)
{
	h->state = DONE;
	h->srv->inflight--;
	lws_set_timeout(h->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

/* Runs a held request's handler again: it answers, or holds again. */
static void held_rerun(struct http_req *h, bool expired)
{
	struct hub_req *r = &h->pub;

	hub_sub_detach(h->srv->subs, &h->sub);
	if (expired) {
		r->wait_over = true; /* no more waiting: answer now */
		r->wait_until_ms = 0;
	}
	if (h->state == DEFERRED) {
		/* A re-run's write (a long-polled claim) is still out: it
		 * answers when it comes back, and no longer waits. */
		if (expired)
			held_end(h);
		return;
	}
	if (peer_gone(h->wsi)) {
		held_end(h);
		abandon(h);
		return;
	}
	h->state = HANDLING;
	r->now_ms = hub_now_ms();
	hub_route(r);
	http_resume(r);
}

static void held_wake(struct hub_sub *sub)
{
	held_rerun(lws_container_of(sub, struct http_req, sub), false);
}

/*
 * The end of a wait. wait_until_ms is on the API clock, which a test may
 * hold still or move; the wait ends when that clock reaches it or when as
 * long has passed in real time, whichever comes first. So the timer looks
 * at least every WAIT_STEP_MS and re-arms until one of them is there.
 */
#define WAIT_STEP_MS 1000

static void held_tick(lws_sorted_usec_list_t *sul);

static void held_tick_arm(struct http_req *h)
{
	uint64_t now = hub_now_ms(), mono = hub_mono_ms();
	uint64_t api_left = h->pub.wait_until_ms > now
				    ? h->pub.wait_until_ms - now : 0;
	uint64_t real_left = h->wait_mono_ms > mono ? h->wait_mono_ms - mono : 0;
	uint64_t ms = api_left < real_left ? api_left : real_left;

	if (ms > WAIT_STEP_MS)
		ms = WAIT_STEP_MS;
	lws_sul_schedule(h->srv->ctx, 0, &h->wait_sul, held_tick,
			 (lws_usec_t)ms * LWS_US_PER_MS);
}

static void held_tick(lws_sorted_usec_list_t *sul)
{
	struct http_req *h = lws_container_of(sul, struct http_req, wait_sul);

	if (hub_now_ms() < h->pub.wait_until_ms &&
	    hub_mono_ms() < h->wait_mono_ms) {
		held_tick_arm(h);
		return;
	}
	held_rerun(h, true);
}

static void http_hold(struct hub_req *r)
{
	struct http_req *h = priv(r);
	struct hub_server *srv = h->srv;

	h->sub.wake = held_wake;
	h->sub.kind = HUB_SUB_LONGPOLL;
	if (!r->queue ||
	    hub_sub_attach(srv->subs, &h->sub, r->project, r->queue)) {
		r->wait_over = true;
		hub_route(r); /* cannot wait: answer now */
		return;
	}
	h->state = HELD;
	/* A delayed message falling due, a claim expiring: the registry
	 * wakes the queue's waiters then, as a commit would. */
	hub_sub_wake_at(&h->sub, r->wait_wake_ms);
	if (!h->held.owner) {
		/* The first hold: the wait's end, as long from now in real
		 * time as it is on the request's clock. */
		h->wait_mono_ms = hub_mono_ms() +
				  (r->wait_until_ms > r->now_ms
					   ? r->wait_until_ms - r->now_ms
					   : 0);
		lws_dll2_add_tail(&h->held, &srv->held);
		held_tick_arm(h);
		lws_rx_flow_control(h->wsi, 0);
		h->rx_off = true;
	}
}

/* Ends every long-poll wait now: each held request answers (drain). */
static void release_holds(struct hub_server *srv)
{
	struct lws_dll2 *d;

	while ((d = lws_dll2_get_head(&srv->held)))
		held_rerun(lws_container_of(d, struct http_req, held), true);
}

/* Streaming answers (SSE): see hub_stream() and on_writeable(). */
static void http_stream(struct hub_req *r, const char *content_type,
			const struct hub_stream_ops *ops, void *state)
{
	struct http_req *h = priv(r);

	h->stream = ops;
	h->stream_state = state;
	h->stream_type = content_type;
	h->state = STREAM_HEAD;
	r->reply.status = 200;
	/* A stream never finishes like a request: it is not in flight. */
	h->srv->inflight--;
	lws_callback_on_writable(h->wsi);
}

static void stream_idle(struct http_req *h, bool idle);

static void http_stream_wake(struct hub_req *r)
{
	if (priv(r)->state == STREAMING)
		stream_idle(priv(r), false);
}

static const struct hub_transport http_transport = {
	.job_out = http_job_out,
	.job_back = http_job_back,
	.resume = http_resume,
	.hold = http_hold,
	.stream = http_stream,
	.stream_wake = http_stream_wake,
};

/* ----------------------------------------------------- reading a request */

static int write_start(struct http_req *h, bool with_body);
static void log_request(struct http_req *h);

/* Whether the answer's body goes on the wire (not for HEAD, 204, 304). */
static bool sends_body(const struct http_req *h)
{
	int status = h->pub.reply.status;

	return h->method != HUB_HEAD && status != 204 && status != 304;
}

static enum hub_method method_of(int m)
{
	switch (m) {
	case LWSHUMETH_GET: return HUB_GET;
	case LWSHUMETH_POST: return HUB_POST;
	case LWSHUMETH_OPTIONS: return HUB_OPTIONS;
	case LWSHUMETH_PUT: return HUB_PUT;
	case LWSHUMETH_PATCH: return HUB_PATCH;
	case LWSHUMETH_DELETE: return HUB_DELETE;
	case LWSHUMETH_HEAD: return HUB_HEAD;
	default: return HUB_METHOD_COUNT;
	}
}

static void req_free(struct http_req *h)
{
	hub_req_release(&h->pub);
	free(h->path);
	hub_buf_free(&h->body);
	free(h);
}

/*
 * A strategy answered later (auth.h): dispatch, or send the refusal. The
 * request was parked like a long-poll (reading stopped: lws 4.1 spins on
 * a parked request whose client left, see held_end), so the peer may be
 * gone: then nothing is dispatched. http_resume() reads again before it
 * writes.
 */
static void auth_done(struct hub_auth_wait *w, enum hub_auth_verdict v)
{
	struct http_req *h = lws_container_of(w, struct http_req, heads.wait);

	if (peer_gone(h->wsi)) {
		abandon(h);
		return;
	}
	h->state = HANDLING;
	if (v == HUB_AUTH_OK)
		hub_route_dispatch(&h->pub, &h->match);
	else
		hub_metrics_reject(HUB_REJECT_CHECKS);
	http_resume(&h->pub);
}

/*
 * CORS (cors.h, docs/security.md#cors), before the auth layer: a
 * preflight carries no credentials. An OPTIONS with Origin and
 * Access-Control-Request-Method is a preflight: 204 with what may be
 * sent, or 403 for an origin not allowed. An event stream (SSE) a page
 * of another origin opens is refused the same way, as the WebSocket
 * upgrade is (ws_sub.c). True when it answered.
 */
static bool cors_answered(struct http_req *h)
{
	struct hub_req *r = &h->pub;
	const char *list = h->srv->cfg.cors_origins;
	char m[64];
	bool allowed = hub_cors_allowed(list, h->origin, h->host);

	if (!h->origin[0])
		return false;
	if (h->method == HUB_OPTIONS &&
	    hub_http__copy_custom(h->wsi, "access-control-request-method:", m,
				  sizeof(m)) > 0) {
		if (!allowed) {
			hub_reply_error(r, 403, "Forbidden", "Origin %.200s "
					"may not call this API (see "
					"--cors-origins).", h->origin);
			return true;
		}
		hub_header(r, "Access-Control-Allow-Methods", "%s",
			   HUB_CORS_METHODS);
		hub_header(r, "Access-Control-Allow-Headers", "%s",
			   HUB_CORS_HEADERS);
		hub_header(r, "Access-Control-Max-Age", "%s", HUB_CORS_MAX_AGE);
		hub_reply(r, 204, NULL);
		return true;
	}
	if (!allowed && (h->match.attrs->media & HUB_MEDIA_SSE)) {
		hub_reply_error(r, 403, "Forbidden", "Origin %.200s may not "
				"open this event stream (see --cors-origins).",
				h->origin);
		return true;
	}
	return false;
}

/* The CORS headers of an answer to a listed origin (cors.h). */
static int cors_headers(struct http_req *h, unsigned char **p,
			unsigned char *end)
{
	const char *list = h->srv->cfg.cors_origins;
	const char *acao = hub_cors_any(list) ? "*" : h->origin;

	if (!h->cors_listed)
		return 0;
	if (lws_add_http_header_by_name(h->wsi, (unsigned char *)
					"access-control-allow-origin:",
					(const unsigned char *)acao,
					(int)strlen(acao), p, end) ||
	    lws_add_http_header_by_name(h->wsi, (unsigned char *)
					"access-control-expose-headers:",
					(const unsigned char *)HUB_CORS_EXPOSE,
					(int)strlen(HUB_CORS_EXPOSE), p, end) ||
	    lws_add_http_header_by_name(h->wsi, (unsigned char *)"vary:",
					(const unsigned char *)"Origin", 6, p,
					end))
		return -1;
	return 0;
}

/* The request is whole: the pre-routing checks (http_checks.c), the auth
 * layer (auth.c), then its route as looked up at header time. Each check
 * replies when it fails. */
static void dispatch(struct http_req *h)
{
	struct hub_req *r = &h->pub;
	enum hub_auth_verdict v;

	/* lws's read timeout no longer applies; a deferred write may take a
	 * commit or two. */
	lws_set_timeout(h->wsi, NO_PENDING_TIMEOUT, 0);
	r->now_ms = hub_now_ms();
	if (h->srv->stopping) {
		hub_metrics_reject(HUB_REJECT_SHUTTING_DOWN);
		hub_header(r, "Connection", "close");
		hub_reply_error(r, 503, "Service temporarily unavailable",
				"The server is shutting down.");
		return;
	}
	if (cors_answered(h))
		return;
	if (!hub_http__checks(r, h->wsi, &h->match, &h->heads))
		return;
	h->heads.wait.done = auth_done;
	v = hub_auth_request(h->srv->auth, r, &h->heads.cred, &h->match,
			     &h->heads.ident, &h->heads.wait);
	if (v == HUB_AUTH_PENDING) {
		h->state = AUTHING; /* auth_done() goes on */
		lws_rx_flow_control(h->wsi, 0);
		h->rx_off = true;
	} else if (v == HUB_AUTH_OK)
		hub_route_dispatch(r, &h->match);
	else
		hub_metrics_reject(HUB_REJECT_CHECKS);
}

/* Herald-Local: 1, another node's request (api/gather.h). Looked for
 * only in a cluster: no header lookup per request on one machine. */
static bool cluster_local(struct lws *wsi)
{
	char local[4];

	return hub_http__copy_custom(wsi, "herald-local:", local,
				     sizeof(local)) == 1 &&
	       strcmp(local, "1") == 0;
}

/* A new request on the connection, bound to the server's services. */
static struct http_req *req_new(struct lws *wsi, struct pss *pss,
				struct hub_server *srv)
{
	struct http_req *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	pss->req = h;
	h->wsi = wsi;
	h->srv = srv;
	h->started_ns = mono_ns();
	h->pub.transport = &http_transport;
	h->pub.srv = srv;
	h->pub.writer = srv->writer;
	h->pub.loop = srv->loop;
	h->pub.subs = srv->subs;
	h->pub.hooks = srv->hooks;
	h->pub.feed = srv->feed;
	h->pub.cfg = &srv->cfg;
	h->pub.project = "";
	h->pub.content_type = h->heads.content_type;
	h->pub.if_none_match = h->heads.if_none_match;
	h->pub.last_event_id = h->heads.last_event_id;
	h->pub.host = h->feedh.host;
	h->pub.forwarded = h->feedh.forwarded;
	h->pub.x_forwarded_proto = h->feedh.x_forwarded_proto;
	h->pub.x_forwarded_host = h->feedh.x_forwarded_host;
	h->pub.if_modified_since = h->feedh.if_modified_since;
	h->pub.authorization = h->authorization;
	h->pub.cred = &h->heads.cred;
	h->pub.hclient = &srv->hclient;
	h->pub.cluster_local = hub_cluster_on() && cluster_local(wsi);
	h->pub.prefix = "";
	srv->inflight++;
	return h;
}

enum framing {
	FRAMING_REFUSED, /* answered already (411, 400, too large) */
	FRAMING_BODY,    /* a body follows: wait for its completion */
	FRAMING_NONE,    /* no body to read: handle now */
};

/* How the request's body comes, by its Content-Length (checked by
 * framing_ok()), against the route's body limit. */
static enum framing body_framing(struct http_req *h)
{
	if (h->length < 0) {
		/* No length: lws 4.1 would wait for an endless body. Serve
		 * it as a request without a body (as Zaqar does `curl -X
		 * PUT`), then close, since the stream's state is unknown. */
		if (h->method == HUB_POST || h->method == HUB_PUT ||
		    h->method == HUB_PATCH)
			h->too_big = true;
		return FRAMING_NONE;
	}
	h->pub.has_body = true;
	h->body_limit = hub_route_body_max(h->match.attrs, &h->srv->cfg.limits);
	if ((unsigned long long)h->length > h->body_limit) {
		/* Refused unread: no need to buffer what we refuse. */
		hub_metrics_reject(HUB_REJECT_BODY_TOO_LARGE);
		hub_route_refuse_body(&h->pub, h->match.attrs);
		h->too_big = true;
		return FRAMING_REFUSED;
	}
	/* lws gives a POST of any length a body completion (and a PUT or
	 * PATCH of length 0 none): wait for it when it comes. */
	return h->length > 0 || h->method == HUB_POST ? FRAMING_BODY
						      : FRAMING_NONE;
}

/* The headers a feed's URLs and If-Modified-Since come from; one too long
 * for its buffer is as if absent (the URLs fall back to paths). Only the
 * feed routes read them, so other requests (the publishers' hot path)
 * skip the copies. */
static void copy_feed_headers(struct http_req *h)
{
	if (!(h->match.attrs->media &
	      (HUB_MEDIA_ATOM | HUB_MEDIA_RSS | HUB_MEDIA_JSONFEED)))
		return;
	hub_http__copy_hdr(h->wsi, WSI_TOKEN_HOST, h->feedh.host,
			   sizeof(h->feedh.host));
	hub_http__copy_hdr(h->wsi, WSI_TOKEN_HTTP_IF_MODIFIED_SINCE,
			   h->feedh.if_modified_since,
			   sizeof(h->feedh.if_modified_since));
	hub_http__copy_custom(h->wsi, "forwarded:", h->feedh.forwarded,
			      sizeof(h->feedh.forwarded));
	hub_http__copy_custom(h->wsi, "x-forwarded-proto:",
			      h->feedh.x_forwarded_proto,
			      sizeof(h->feedh.x_forwarded_proto));
	hub_http__copy_custom(h->wsi, "x-forwarded-host:",
			      h->feedh.x_forwarded_host,
			      sizeof(h->feedh.x_forwarded_host));
}

/*
 * Whether lws will read a body for this request that it parsed out of its
 * own buffer of pipelined bytes (the header comment; finish() notes the
 * pass in which the previous transaction ended). lws reads a body when
 * Content-Length is above 0, and for a POST, PUT or PATCH without one.
 */
static bool from_lws_buffer(struct http_req *h)
{
	uintptr_t ended = (uintptr_t)lws_get_opaque_user_data(h->wsi);
	int cl = lws_hdr_total_length(h->wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH);
	char v[32] = "";

	if (!ended || ended + 1 != h->srv->passes)
		return false;
	if (cl > 0)
		hub_http__copy_hdr(h->wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, v,
				   sizeof(v));
	/* lws's own reading of it: atoll, and 100 MB when absent. */
	return cl > 0 ? atoll(v) > 0
		      : h->method == HUB_POST || h->method == HUB_PUT ||
				h->method == HUB_PATCH;
}

/*
 * Answers the reply set on h at once, from LWS_CALLBACK_HTTP, and closes
 * the connection: returns -1 from that callback, so lws_http_action()
 * returns before it touches the body (lws must not read it: its framing
 * is unknown, or lws would misread it), and lws flushes the answer before
 * it closes.
 */
static int answer_and_close(struct http_req *h)
{
	struct hub_reply *rp = &h->pub.reply;
	bool body = sends_body(h);

	h->close_after = true;
	hub_reply_http(rp);
	/* An error's body is far below a slice: all of it goes at once. */
	if (write_start(h, body) == 0 && (!body || h->sent == rp->text_len))
		h->state = DONE;
	if (h->state == DONE) {
		log_request(h);
		h->srv->inflight--;
	}
	return -1;
}

/* Refuses a request from_lws_buffer() found, unread. */
static int refuse_from_buffer(struct http_req *h)
{
	hub_log(HUB_LOG_WARN, "%s %s came pipelined behind a request without "
		"a body: refused unread (lws 4.1 cannot read its body)",
		method_name(h->method), h->path);
	hub_metrics_reject(HUB_REJECT_PIPELINED);
	hub_header(&h->pub, "Retry-After", "0");
	hub_reply_error(&h->pub, 503, "Service temporarily unavailable",
			"This request came pipelined behind one without a "
			"body, which this server cannot read: it was not "
			"processed. Send it again.");
	return answer_and_close(h);
}

/*
 * The request line and framing headers (http_framing.c): whether the
 * request can be read at all. Sets h->length. On a refusal replies and
 * returns false: the caller answers at once and closes.
 */
static bool framing_ok(struct http_req *h, const char *uri, int uri_len)
{
	struct lws *wsi = h->wsi;
	struct hub_http_refusal why;
	char version[16], cl[32];
	struct hub_http_framing f = {
		.version = version,
		.path = uri,
		.path_len = uri_len > 0 ? (size_t)uri_len : 0,
		.transfer_encoding = lws_hdr_total_length(
			wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0,
	};
	int n;

	if (hub_http__copy_hdr(wsi, WSI_TOKEN_HTTP, version,
			       sizeof(version)) < 0)
		strcpy(version, "?"); /* too long to be a version */
	n = hub_http__copy_hdr(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, cl,
			       sizeof(cl));
	if (n < 0)
		strcpy(cl, "?"); /* longer than any length we take */
	f.content_length = n != 0 ? cl : NULL;
	if (hub_http_framing_check(&f, &h->length, &why))
		return true;
	hub_log(HUB_LOG_WARN, "%s %.200s refused before its body: %d %s",
		method_name(h->method), h->path, why.status, why.description);
	hub_metrics_reject(HUB_REJECT_FRAMING);
	hub_reply_error(&h->pub, why.status, why.title, "%s", why.description);
	return false;
}

/* Builds the request from the parsed headers. Returns -1 to drop the
 * connection. */
static int on_headers(struct lws *wsi, struct pss *pss, struct hub_server *srv)
{
	struct http_req *h = req_new(wsi, pss, srv);
	char *uri;
	int len, m;

	if (!h)
		return -1;
	m = lws_http_get_uri_and_method(wsi, &uri, &len);
	h->method = h->pub.method = method_of(m);
	h->path = strndup(m < 0 ? "" : uri, m < 0 ? 0 : (size_t)len);
	if (!h->path || hub_http__query_load(wsi, &h->pub))
		return -1;
	h->pub.path = h->path;
	if (!framing_ok(h, m < 0 ? "" : uri, m < 0 ? 0 : len))
		return answer_and_close(h);
	hub_route_lookup(h->method, h->path, &h->match);
	if (h->method == HUB_METHOD_COUNT) {
		hub_metrics_reject(HUB_REJECT_METHOD);
		hub_reply_error(&h->pub, 405, "405 Method Not Allowed", NULL);
		goto reply;
	}
	hub_http__copy_hdr(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, h->authorization,
			   sizeof(h->authorization));
	hub_http__copy_hdr(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
			   h->heads.content_type, sizeof(h->heads.content_type));
	/* Longer than the buffer: as if absent (a full answer, not a 304). */
	hub_http__copy_hdr(wsi, WSI_TOKEN_HTTP_IF_NONE_MATCH,
			   h->heads.if_none_match,
			   sizeof(h->heads.if_none_match));
	copy_feed_headers(h);
	/* Too long for its buffer: as if absent (no CORS headers; a
	 * browser then refuses the answer to the page). */
	hub_http__copy_hdr(wsi, WSI_TOKEN_ORIGIN, h->origin, sizeof(h->origin));
	hub_http__copy_hdr(wsi, WSI_TOKEN_HOST, h->host, sizeof(h->host));
	h->cors_listed = hub_cors_listed(srv->cfg.cors_origins, h->origin);
	if (from_lws_buffer(h))
		return refuse_from_buffer(h);
	switch (body_framing(h)) {
	case FRAMING_REFUSED:
		goto reply;
	case FRAMING_BODY:
		h->state = READING;
		return 0;
	case FRAMING_NONE:
		break;
	}
	h->state = HANDLING;
	dispatch(h);
	if (h->state != HANDLING)
		return 0; /* deferred, held or streaming */
reply:
	h->state = WRITING_HEAD;
	lws_callback_on_writable(wsi);
	return 0;
}

static int on_writeable(struct http_req *h);

static int on_body(struct http_req *h, const void *in, size_t len)
{
	if (h->state != READING || len == 0)
		return 0;
	if (h->body.len + len > h->body_limit) {
		/* More than Content-Length said: refuse, then close. */
		h->too_big = true;
		return 0;
	}
	hub_buf_add(&h->body, in, len);
	return h->body.failed ? -1 : 0;
}

/*
 * Bytes of a next request came behind this one's body (lws fires the
 * body completion again): lws 4.1.6 cannot serve a request with a body
 * out of its buffer (lws_http_action() hands the buffered bytes, its
 * headers included, to the body parser and then loops for ever:
 * roles/http/server/server.c, "consuming"), so that request is never
 * started. This one is answered with "Connection: close" and the
 * connection closes after it: the client knows the rest was not
 * processed (RFC 9112 §9.6) and sends it again.
 */
static void refuse_pipelined(struct http_req *h)
{
	hub_log(HUB_LOG_WARN, "%s %s: a pipelined request follows its body; "
		"it is not read: this one is answered with Connection: close",
		method_name(h->method), h->path ? h->path : "");
	h->close_after = true;
}

static int on_body_done(struct http_req *h)
{
	/* lws 4.1 fires the completion again, once a loop pass, while bytes
	 * of a next request wait behind this body (the header comment): the
	 * first repeat marks the request close_after, the rest are ignored,
	 * and the answer goes out. (Dropping the connection here, as before,
	 * left a write already at the writer committed and unanswered.) */
	if (++h->completions > 1) {
		if (h->state != DONE && !h->close_after)
			refuse_pipelined(h);
		return 0;
	}
	if (h->state != READING)
		return 0;
	h->pub.body = h->body.data ? h->body.data : "";
	h->pub.body_len = h->body.len;
	h->state = HANDLING;
	if (h->too_big) {
		hub_metrics_reject(HUB_REJECT_BODY_TOO_LARGE);
		hub_route_refuse_body(&h->pub, h->match.attrs);
	} else {
		dispatch(h);
	}
	if (h->state != HANDLING)
		return 0; /* deferred, held or streaming */
	h->state = WRITING_HEAD;
	lws_callback_on_writable(h->wsi);
	return 0;
}

/* --------------------------------------------------------------- writing */

/*
 * Writes the answer's head and, when with_body, the first SLICE bytes of
 * its body (h->sent counts them) in ONE lws_write: a small answer is one
 * send in one loop pass instead of two. On HTTP/1.1 (the only protocol
 * the listener offers: server.c's ALPN) lws issues headers and body alike
 * as raw bytes of the stream (rops_write_role_protocol_h1), so one write
 * may carry both; lws's own Content-Length bookkeeping counts only for
 * files and HTTP/2. Returns -1 when the write fails.
 */
static int write_start(struct http_req *h, bool with_body)
{
	struct hub_reply *rp = &h->pub.reply;
	size_t body = with_body ? rp->text_len < SLICE ? rp->text_len : SLICE : 0;
	/* Room for lws's own headers and ours, whatever their size (a
	 * Location may list thousands of ids), and the body's first slice. */
	size_t size = LWS_PRE + 2048 + rp->headers.len + body;
	struct hub_buf *out = &h->srv->http_out;
	unsigned char *start, *p, *end;
	const char *line = rp->headers.data, *lend = line + rp->headers.len;
	bool empty = rp->status == 204 || rp->status == 304;
	int rc = -1;

	hub_buf_reset(out, 0);
	if (!hub_buf_reserve(out, size)) {
		/* Not kept failed: the next answer may find the memory. */
		hub_buf_free(out);
		return -1;
	}
	start = p = (unsigned char *)out->data + LWS_PRE;
	end = (unsigned char *)out->data + size;
	/* 204 and 304 carry no body, hence no type (as Zaqar). */
	if (lws_add_http_common_headers(h->wsi, (unsigned)rp->status,
					empty ? NULL
					: rp->type ? rp->type
						   : "application/json",
					rp->text_len, &p, end))
		goto out;
	while (line && line < lend) {
		const char *colon = memchr(line, ':', (size_t)(lend - line));
		const char *eol = memmem(line, (size_t)(lend - line), "\r\n", 2);
		char name[128];
		size_t nlen;

		if (!colon || !eol || colon > eol)
			break;
		nlen = (size_t)(colon - line);
		if (nlen + 2 > sizeof(name))
			break;
		for (size_t i = 0; i < nlen; i++)
			name[i] = (char)tolower((unsigned char)line[i]);
		name[nlen] = ':';
		name[nlen + 1] = '\0';
		if (lws_add_http_header_by_name(h->wsi, (unsigned char *)name,
						(const unsigned char *)colon + 2,
						(int)(eol - colon - 2), &p, end))
			goto out;
		line = eol + 2;
	}
	if (cors_headers(h, &p, end))
		goto out;
	if ((h->too_big || h->close_after) &&
	    lws_add_http_header_by_name(h->wsi, (unsigned char *)"connection:",
					(const unsigned char *)"close", 5, &p,
					end))
		goto out;
	if (lws_finalize_http_header(h->wsi, &p, end) ||
	    (size_t)(end - p) < body)
		goto out;
	/* One write is what lws sends at once (pt_serv_buf_size, a slice);
	 * past it lws would copy the rest aside. */
	if ((size_t)(p - start) + body > SLICE)
		body = (size_t)(p - start) < SLICE ? SLICE - (size_t)(p - start) : 0;
	if (body) /* an empty answer may have no text at all */
		memcpy(p, rp->text, body);
	p += body;
	if (lws_write(h->wsi, start, (size_t)(p - start),
		      body == rp->text_len ? LWS_WRITE_HTTP_FINAL
					   : LWS_WRITE_HTTP) == (int)(p - start)) {
		h->sent = body;
		rc = 0;
	}
out:
	if (out->cap > 1024 * 1024)
		hub_buf_free(out); /* a rare big answer's memory goes back */
	return rc;
}

/*
 * A client that does not read its answer is dropped, 60 s after the
 * answer's first write, when that write did not take all of it. (An answer
 * that went whole completes the transaction at once, whose keep-alive
 * timeout lws sets: setting one here as well cost every request a walk
 * of lws's sorted timer list.)
 */
static void reader_deadline(struct http_req *h)
{
	lws_set_timeout(h->wsi, PENDING_TIMEOUT_USER_OK, 60);
}

/* The request's log line, and its count in the metrics. */
static void log_request(struct http_req *h)
{
	uint64_t ns = mono_ns() - h->started_ns;
	size_t out = h->stream ? h->sent
		     : h->method == HUB_HEAD ? 0 : h->pub.reply.text_len;

	hub_log(HUB_LOG_INFO, "%s %s %d %zu %lluus", method_name(h->method),
		h->path ? h->path : "", h->pub.reply.status,
		h->stream ? h->sent : h->pub.reply.text_len,
		(unsigned long long)(ns / 1000));
	hub_metrics_http(&h->match, h->method, h->pub.reply.status, ns,
			 h->body.len, out, h->stream != NULL);
}

/*
 * Ends the transaction: returns -1 to close the connection.
 *
 * Only once the answer is all in the kernel and the socket is writable:
 * then lws moves the connection on at the very next pass (LRS_DEFERRING_
 * ACTION -> POLLOUT -> LRS_ESTABLISHED), and parses the bytes it kept, if
 * any, at the end of that pass - while a request read afresh comes a pass
 * later at the earliest. The pass is noted on the wsi (its opaque user
 * data: the session data does not outlive the transaction) for
 * from_lws_buffer(). (Ending with bytes still buffered for sending would
 * also make lws defer the end, and meanwhile buffer what the client
 * sends.)
 */
static int finish(struct http_req *h)
{
	bool close_it = h->too_big || h->close_after || h->srv->stopping;
	struct lws *wsi = h->wsi;

	if (lws_partial_buffered(wsi) || lws_send_pipe_choked(wsi)) {
		/* lws calls WRITEABLE when what it holds left and the socket
		 * takes more: try then. */
		if (h->state != FLUSHING)
			reader_deadline(h);
		h->state = FLUSHING;
		lws_callback_on_writable(wsi);
		return 0;
	}
	h->state = DONE;
	log_request(h);
	h->srv->inflight--;
	if (close_it)
		return -1;
	lws_set_opaque_user_data(wsi, (void *)(uintptr_t)h->srv->passes);
	/* The completion may drop the protocol or start the next pipelined
	 * request at once, both of which free h: touch nothing after. */
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* The headers of a streaming answer. */
static int stream_head(struct http_req *h)
{
	unsigned char buf[LWS_PRE + 1024];
	unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf);

	if (lws_add_http_common_headers(h->wsi, 200, h->stream_type,
					LWS_ILLEGAL_HTTP_CONTENT_LEN, &p, end) ||
	    lws_add_http_header_by_name(h->wsi, (unsigned char *)"cache-control:",
					(const unsigned char *)"no-cache", 8, &p,
					end) ||
	    cors_headers(h, &p, end) ||
	    lws_finalize_write_http_header(h->wsi, start, &p, end))
		return -1;
	/* (lws_http_mark_sse() is for h2 streams in 4.1; on h1 the missing
	 * length already makes this a close-delimited response.) */
	h->state = STREAMING;
	lws_callback_on_writable(h->wsi);
	return 0;
}

/*
 * lws 4.1 spins on a held response whose client left unless reading is
 * off - but with reading off it never calls WRITEABLE. So a stream reads
 * only while it has something to write: off when idle, on (before asking
 * to write) when woken. A departed client is found by the next write,
 * at the latest the producer's heartbeat.
 */
static void stream_idle(struct http_req *h, bool idle)
{
	lws_rx_flow_control(h->wsi, !idle);
	if (!idle)
		lws_callback_on_writable(h->wsi);
}

static int stream_more(struct http_req *h)
{
	unsigned char buf[LWS_PRE + SLICE];
	long n = h->stream->next(h->stream_state, (char *)buf + LWS_PRE, SLICE);

	if (n < 0)
		return -1; /* the producer ended the stream */
	if (n == 0) {
		stream_idle(h, true); /* nothing until a wake */
		return 0;
	}
	if (lws_write(h->wsi, buf + LWS_PRE, (size_t)n, LWS_WRITE_HTTP) != n)
		return -1;
	h->sent += (size_t)n;
	lws_callback_on_writable(h->wsi); /* there may be more */
	return 0;
}

static int on_writeable(struct http_req *h)
{
	struct hub_req *r = &h->pub;
	struct hub_reply *rp = &r->reply;
	unsigned char buf[LWS_PRE + SLICE];
	size_t n;
	int flags;

	if (h->state == STREAM_HEAD)
		return stream_head(h);
	if (h->state == STREAMING)
		return stream_more(h);

	if (h->state == WRITING_HEAD) {
		hub_reply_http(rp);
		if (write_start(h, sends_body(h)))
			return -1;
		h->state = WRITING_BODY;
		if (!sends_body(h) || h->sent == rp->text_len)
			return finish(h);
		reader_deadline(h);
		lws_callback_on_writable(h->wsi);
		return 0;
	}
	if (h->state == FLUSHING)
		return finish(h);
	if (h->state != WRITING_BODY)
		return 0; /* spurious */
	n = rp->text_len - h->sent;
	if (n > SLICE)
		n = SLICE;
	flags = h->sent + n == rp->text_len ? LWS_WRITE_HTTP_FINAL
					    : LWS_WRITE_HTTP;
	memcpy(buf + LWS_PRE, rp->text + h->sent, n);
	if (lws_write(h->wsi, buf + LWS_PRE, n, (enum lws_write_protocol)flags) !=
	    (int)n)
		return -1;
	h->sent += n;
	if (h->sent == rp->text_len)
		return finish(h);
	lws_callback_on_writable(h->wsi);
	return 0;
}

/* Who ended a connection, as far as the socket still tells. */
static const char *close_cause(struct lws *wsi)
{
	char c;
	ssize_t n = recv(lws_get_socket_fd(wsi), &c, 1, MSG_PEEK | MSG_DONTWAIT);

	if (n == 0)
		return "the client closed the connection";
	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
		return "the connection failed (reset by the client)";
	return "the server closed the connection (an lws timeout, or a "
	       "write error) with the client still there";
}

/*
 * A request whose connection ends before its answer was written: logged
 * with what it was doing then, and who closed (issue #9: no request ends
 * unanswered without a trace).
 */
static void log_unanswered(struct http_req *h)
{
	const char *what, *cause = close_cause(h->wsi);
	char detail[96] = "";

	switch (h->state) {
	case READING:
		what = "while its body was read";
		snprintf(detail, sizeof(detail), " (%zu bytes of it came)",
			 h->body.len);
		break;
	case DEFERRED:
		what = "while its write was at the writer (the write goes on "
		       "and may commit unanswered)";
		break;
	case HELD:
		what = "while it waited (long-poll)";
		break;
	case AUTHING:
		what = "while its credentials were checked";
		break;
	case WRITING_HEAD:
	case WRITING_BODY:
	case FLUSHING:
		what = h->job_back ? "after its write came back, before its "
				     "answer was written"
				   : "before its answer was written";
		snprintf(detail, sizeof(detail), " (status %d, %zu of %zu body "
			 "bytes sent)", h->pub.reply.status, h->sent,
			 h->pub.reply.text_len);
		break;
	default:
		what = "before it was answered";
		break;
	}
	hub_log(HUB_LOG_WARN, "%s %s ended without an answer %s: %s%s",
		method_name(h->method), h->path ? h->path : "", what, cause,
		detail);
}

static void on_closed(struct pss *pss, struct hub_server *srv)
{
	struct http_req *h;

	/* lws closes connections it refused itself without session data. */
	if (!pss || !pss->req)
		return;
	h = pss->req;
	pss->req = NULL;
	if (h->stream) {
		log_request(h); /* a stream's line: its bytes and duration */
		h->stream->free(h->stream_state);
	} else if (h->state != DONE) {
		log_unanswered(h);
		srv->inflight--;
	}
	held_end(h);
	if (h->state == AUTHING)
		hub_auth_cancel(&h->heads.wait);
	if (h->job) {
		/* The write goes on; its done() learns the client left. */
		h->job->req = NULL;
	}
	req_free(h);
}

static int callback_http(struct lws *wsi, enum lws_callback_reasons reason,
			 void *user, void *in, size_t len)
{
	struct pss *pss = user;
	struct hub_server *srv =
		wsi ? lws_context_user(lws_get_context(wsi)) : NULL;

	switch ((int)reason) { /* HUB_CALLBACK_DRAIN is no lws reason */
	case LWS_CALLBACK_HTTP:
		if (!pss)
			return -1;
		if (pss->req)
			on_closed(pss, srv); /* the previous transaction's */
		return on_headers(wsi, pss, srv);
	case LWS_CALLBACK_HTTP_BODY:
		return pss && pss->req ? on_body(pss->req, in, len) : -1;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		return pss && pss->req ? on_body_done(pss->req) : -1;
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return pss && pss->req ? on_writeable(pss->req) : 0;
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
	case LWS_CALLBACK_CLOSED_HTTP:
		on_closed(pss, srv);
		break;
	case HUB_CALLBACK_DRAIN:
		if (srv)
			release_holds(srv);
		break;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

const struct lws_protocols hub_http_protocol = {
	.name = "herald-http",
	.callback = callback_http,
	.per_session_data_size = sizeof(struct pss),
	.rx_buffer_size = 0,
};
