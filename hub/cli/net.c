/*
 * net.c - the client commands' HTTP and WebSocket client over lws:
 * "send this request, give me the status and the body", synchronously.
 *
 * One lws context per process (no listening vhost, one protocol whose
 * callback serves both roles). A request is a struct xfer on the caller's
 * stack, bound to its connection with lws's opaque user data; the caller
 * runs lws_service until the xfer says it is done:
 *
 *     cli_request ──connect──> APPEND_HANDSHAKE_HEADER (Client-ID, ...)
 *                              CLIENT_HTTP_WRITEABLE  (body, 16 KiB a go)
 *                              ESTABLISHED_CLIENT_HTTP (status, Herald-Gap)
 *                              RECEIVE_CLIENT_HTTP[_READ] (body bytes)
 *                 <──done───── COMPLETED_CLIENT_HTTP | CONNECTION_ERROR |
 *                              CLOSED_CLIENT_HTTP | deadline timer
 *
 * Before the xfer goes out of scope its connection (if any is left) is
 * detached from it and closed at once, so no callback ever sees a stale
 * xfer. A 250 ms tick keeps lws_service from sleeping long, so a SIGINT
 * (which only sets cli_interrupted) ends a wait promptly.
 *
 * A WebSocket stream (tail --follow) is the same xfer with `ws` set: the
 * frames are collected until the final fragment and handed over as JSON.
 *
 * TLS (https://, wss://): lws verifies the server's certificate against
 * the system's CAs, or those of --ca, and its name against the URL's
 * host (an IP address against the certificate's IP entries); nothing
 * turns that off. lws only logs a CA file it cannot read, so the file is
 * read here first, for a clear refusal.
 *
 * Everything runs on the one thread of the process.
 */
#include <errno.h>
#include <libwebsockets.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "cli.h"

volatile sig_atomic_t cli_interrupted;

#define CLI_CHUNK 16384

struct xfer {
	struct cli *c;
	struct lws *wsi;
	const char *method;
	const char *body;          /* request body or NULL */
	size_t body_len, sent;
	struct cli_resp *r;        /* HTTP: the response being filled */
	struct hub_buf in;         /* received bytes (body or WS frame) */
	const struct cli_ws_handler *ws; /* WebSocket: the handler */
	bool up;                   /* WS handshake done */
	int done;                  /* 0 running, 1 finished, -1 failed */
	char err[160];             /* why it failed */
	lws_sorted_usec_list_t deadline;
};

static int append(struct xfer *x, const void *p, size_t n)
{
	hub_buf_add(&x->in, p, n);
	return x->in.failed ? -1 : 0;
}

static void fail(struct xfer *x, const char *why)
{
	if (x->done)
		return;
	x->done = -1;
	snprintf(x->err, sizeof(x->err), "%s",
		 why && *why ? why : "connection failed");
}

static int add_headers(struct lws *wsi, struct xfer *x, unsigned char **p,
		       unsigned char *end)
{
	const struct cli *c = x->c;
	char cl[32];

	if (lws_add_http_header_by_name(wsi, (const unsigned char *)"client-id:",
					(const unsigned char *)c->client_id,
					(int)strlen(c->client_id), p, end))
		return -1;
	if (c->project[0] &&
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"x-project-id:",
					(const unsigned char *)c->project,
					(int)strlen(c->project), p, end))
		return -1;
	if (c->token[0] &&
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"x-auth-token:",
					(const unsigned char *)c->token,
					(int)strlen(c->token), p, end))
		return -1;
	if (c->roles[0] &&
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"x-roles:",
					(const unsigned char *)c->roles,
					(int)strlen(c->roles), p, end))
		return -1;
	if (x->ws)
		return 0;
	if (lws_add_http_header_by_name(wsi, (const unsigned char *)"accept:",
					(const unsigned char *)"application/json",
					16, p, end))
		return -1;
	if (!x->body)
		return 0;
	snprintf(cl, sizeof(cl), "%zu", x->body_len);
	if (lws_add_http_header_by_name(wsi, (const unsigned char *)"content-type:",
					(const unsigned char *)"application/json",
					16, p, end) ||
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"content-length:",
					(const unsigned char *)cl, (int)strlen(cl),
					p, end))
		return -1;
	lws_client_http_body_pending(wsi, 1);
	lws_callback_on_writable(wsi);
	return 0;
}

/* Sends the next piece of the request body. */
static int write_body(struct lws *wsi, struct xfer *x)
{
	unsigned char buf[LWS_PRE + CLI_CHUNK];
	size_t n = x->body_len - x->sent;
	enum lws_write_protocol wp = LWS_WRITE_HTTP_FINAL;

	if (n > CLI_CHUNK) {
		n = CLI_CHUNK;
		wp = LWS_WRITE_HTTP;
	}
	memcpy(buf + LWS_PRE, x->body + x->sent, n);
	if (lws_write(wsi, buf + LWS_PRE, n, wp) != (int)n)
		return -1;
	x->sent += n;
	if (x->sent < x->body_len)
		lws_callback_on_writable(wsi);
	else
		lws_client_http_body_pending(wsi, 0);
	return 0;
}

/* A complete WebSocket text message is in x->in. */
static void ws_message(struct xfer *x)
{
	json_t *j = json_loadb(x->in.data ? x->in.data : "", x->in.len, 0,
			       NULL);

	hub_buf_reset(&x->in, 0);
	if (!j)
		return; /* not ours to judge: skip what is not JSON */
	x->ws->frame(x->ws->arg, j);
	json_decref(j);
}

static int http_event(struct lws *wsi, struct xfer *x, int reason, void *in,
		      size_t len)
{
	char tmp[1024 + LWS_PRE], *px = tmp + LWS_PRE;
	int lenx = (int)sizeof(tmp) - LWS_PRE;

	switch (reason) {
	case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
		x->r->status = (int)lws_http_client_http_response(wsi);
		if (lws_hdr_custom_copy(wsi, x->r->gap, sizeof(x->r->gap),
					"herald-gap:", 11) < 0)
			x->r->gap[0] = '\0';
		return 0;
	case LWS_CALLBACK_CLIENT_HTTP_WRITEABLE:
		return x->body ? write_body(wsi, x) : 0;
	case LWS_CALLBACK_RECEIVE_CLIENT_HTTP:
		return lws_http_client_read(wsi, &px, &lenx) < 0 ? -1 : 0;
	case LWS_CALLBACK_RECEIVE_CLIENT_HTTP_READ:
		return append(x, in, len);
	case LWS_CALLBACK_COMPLETED_CLIENT_HTTP:
		if (!x->done)
			x->done = 1;
		return 0;
	case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
		x->wsi = NULL;
		fail(x, "connection closed before the response ended");
		return 0;
	}
	return 0;
}

/*
 * Why a TLS connection failed, when it was the certificate: lws says only
 * "connect SSL err 1" and OpenSSL's queue holds nothing useful, but the
 * SSL still knows its verification result.
 */
static void tls_fail(struct xfer *x, struct lws *wsi, const char *in)
{
	SSL *ssl = x->c->tls ? lws_get_ssl(wsi) : NULL;
	long v = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
	char why[160];

	if (v == X509_V_OK) {
		fail(x, in);
		return;
	}
	snprintf(why, sizeof(why), "the server's certificate was refused: "
		 "%s%s", X509_verify_cert_error_string(v),
		 x->c->ca[0] ? "" : " (--ca FILE trusts a private CA)");
	fail(x, why);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason,
		    void *user, void *in, size_t len)
{
	struct xfer *x = wsi ? lws_get_opaque_user_data(wsi) : NULL;

	if (!x)
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	switch (reason) {
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		tls_fail(x, wsi, in ? (const char *)in : NULL);
		x->wsi = NULL;
		return 0;
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
		return add_headers(wsi, x, (unsigned char **)in,
				   *(unsigned char **)in + len);
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		x->up = true;
		if (x->ws && x->ws->up)
			x->ws->up(x->ws->arg);
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (!x->ws || append(x, in, len))
			return -1;
		if (lws_is_final_fragment(wsi) &&
		    !lws_remaining_packet_payload(wsi))
			ws_message(x);
		return 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
		x->wsi = NULL;
		if (!x->done)
			x->done = 1;
		return 0;
	default:
		return x->r ? http_event(wsi, x, (int)reason, in, len) : 0;
	}
}

static const struct lws_protocols protocols[] = {
	{"herald-cli", callback, 0, 0, 0, NULL, 0},
	{NULL, NULL, 0, 0, 0, NULL, 0},
};

static void on_signal(int sig)
{
	(void)sig;
	cli_interrupted = 1;
}

static int parse_url(struct cli *c, const char *url)
{
	char tmp[600];
	const char *prot, *ads, *path;
	size_t n;

	if (snprintf(tmp, sizeof(tmp), "%s", url) >= (int)sizeof(tmp) ||
	    lws_parse_uri(tmp, &prot, &ads, &c->port, &path) || !*ads)
		return -1;
	if (!strcmp(prot, "https") || !strcmp(prot, "wss"))
		c->tls = true;
	else if (strcmp(prot, "http") && strcmp(prot, "ws"))
		return -1;
	if (!strstr(url, "://"))
		return -1;
	/* lws_parse_uri defaults the port to 80 or 443 by itself. */
	snprintf(c->host, sizeof(c->host), "%s", ads);
	/* path comes without its leading '/'. */
	snprintf(c->base, sizeof(c->base), "%s%s", *path ? "/" : "", path);
	n = strlen(c->base);
	while (n && c->base[n - 1] == '/')
		c->base[--n] = '\0';
	return 0;
}

/* Whether the file holds at least one PEM certificate; prints why not. */
static bool ca_readable(const struct cli *c)
{
	FILE *f = fopen(c->ca, "r");
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	int err = errno;

	if (f)
		fclose(f);
	if (x) {
		X509_free(x);
		return true;
	}
	ERR_clear_error();
	fprintf(stderr, "herald %s: --ca %s: %s\n", c->cmd, c->ca,
		f ? "no PEM certificate in it" : strerror(err));
	return false;
}

int cli_net_open(struct cli *c, const char *url)
{
	struct lws_context_creation_info info;
	struct sigaction sa;

	if (parse_url(c, url)) {
		fprintf(stderr, "herald %s: bad --url \"%s\" (want http[s]://HOST[:PORT])\n",
			c->cmd, url);
		return CLI_USAGE;
	}
	if (c->tls && c->ca[0] && !ca_readable(c))
		return CLI_USAGE;
	lws_set_log_level(getenv("HERALD_CLI_DEBUG") ? LLL_ERR | LLL_WARN |
			  LLL_NOTICE | LLL_INFO : 0, NULL);
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	info.options = c->tls ? LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT : 0;
	if (c->ca[0])
		info.client_ssl_ca_filepath = c->ca;
	/* Our own deadlines bound every wait; lws's must not be shorter
	 * than a long-poll (20 s). */
	info.timeout_secs = 120;
	c->ctx = lws_create_context(&info);
	if (!c->ctx) {
		fprintf(stderr, "herald %s: cannot create the lws context\n", c->cmd);
		return CLI_CONN;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: poll() returns */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	return 0;
}

void cli_net_close(struct cli *c)
{
	if (c->ctx)
		lws_context_destroy(c->ctx);
	c->ctx = NULL;
}

static void on_deadline(lws_sorted_usec_list_t *sul)
{
	struct xfer *x = lws_container_of(sul, struct xfer, deadline);

	fail(x, "timed out");
}

/* Connects x to path (HTTP or WebSocket, as x->ws says); 0 or -1. */
static int connect_to(struct xfer *x, const char *path)
{
	struct lws_client_connect_info i;
	struct cli *c = x->c;
	char full[4096];

	snprintf(full, sizeof(full), "%s%s", c->base, path);
	memset(&i, 0, sizeof(i));
	i.context = c->ctx;
	i.address = c->host;
	i.port = c->port;
	i.ssl_connection = c->tls ? LCCSCF_USE_SSL : 0;
	i.path = full;
	i.host = c->host; /* also the name the certificate must carry */
	/* No Origin: that is a browser's header, which the server checks
	 * against its allowed origins (docs/security.md#cors). */
	i.alpn = "http/1.1";
	i.method = x->ws ? NULL : x->method;
	i.protocol = x->ws ? "herald.v1" : "herald-cli";
	i.local_protocol_name = "herald-cli";
	i.opaque_user_data = x;
	i.pwsi = &x->wsi;
	if (!lws_client_connect_via_info(&i)) {
		x->wsi = NULL;
		fail(x, NULL);
		return -1;
	}
	return 0;
}

/* The tick only wakes lws_service up; it does nothing. */
static void on_tick(lws_sorted_usec_list_t *sul)
{
	(void)sul;
}

/* Runs the loop until x is done, bounded by timeout_s (0: none). */
static void run(struct xfer *x, int timeout_s)
{
	lws_sorted_usec_list_t tick;

	memset(&tick, 0, sizeof(tick));
	memset(&x->deadline, 0, sizeof(x->deadline));
	if (timeout_s > 0)
		lws_sul_schedule(x->c->ctx, 0, &x->deadline, on_deadline,
				 (lws_usec_t)timeout_s * LWS_US_PER_SEC);
	while (!x->done && !cli_interrupted) {
		lws_sul_schedule(x->c->ctx, 0, &tick, on_tick,
				 250 * LWS_US_PER_MS);
		if (lws_service(x->c->ctx, 0) < 0)
			fail(x, "lws service failed");
	}
	lws_sul_cancel(&tick);
	lws_sul_cancel(&x->deadline);
	if (x->wsi) {
		lws_set_opaque_user_data(x->wsi, NULL);
		lws_set_timeout(x->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_SYNC);
		x->wsi = NULL;
	}
}

int cli_request(struct cli *c, const char *method, const char *path,
		const char *body, int timeout_s, struct cli_resp *r)
{
	struct xfer x;

	memset(r, 0, sizeof(*r));
	memset(&x, 0, sizeof(x));
	x.c = c;
	x.method = method;
	x.body = body;
	x.body_len = body ? strlen(body) : 0;
	x.r = r;
	if (!connect_to(&x, path))
		run(&x, timeout_s);
	if (x.done != 1 || !r->status) {
		hub_buf_free(&x.in);
		memset(r, 0, sizeof(*r));
		if (!cli_interrupted && !c->quiet)
			fprintf(stderr, "herald %s: no answer from %s:%d: %s\n",
				c->cmd, c->host, c->port,
				x.done ? x.err : "no response");
		return CLI_CONN;
	}
	r->body = hub_buf_take(&x.in, &r->len);
	if (!r->body) {
		r->body = strdup("");
		r->len = 0;
	}
	r->json = json_loadb(r->body, r->len, JSON_DECODE_ANY, NULL);
	return CLI_OK;
}

void cli_resp_free(struct cli_resp *r)
{
	free(r->body);
	json_decref(r->json);
	memset(r, 0, sizeof(*r));
}

int cli_refused(const struct cli *c, const struct cli_resp *r)
{
	const char *title = json_string_value(json_object_get(r->json, "title"));
	const char *desc = json_string_value(json_object_get(r->json, "description"));

	if (title)
		fprintf(stderr, "herald %s: %d %s%s%s\n", c->cmd, r->status, title,
			desc ? ": " : "", desc ? desc : "");
	else
		fprintf(stderr, "herald %s: the server answered %d%s%.200s\n",
			c->cmd, r->status, r->len ? ": " : "", r->body ? r->body : "");
	return CLI_REFUSED;
}

int cli_ws_stream(struct cli *c, const char *path,
		  const struct cli_ws_handler *h)
{
	struct xfer x;

	memset(&x, 0, sizeof(x));
	x.c = c;
	x.ws = h;
	if (!connect_to(&x, path))
		run(&x, 0);
	hub_buf_free(&x.in);
	if (x.up)
		return CLI_OK;
	return CLI_CONN;
}

void cli_sleep_ms(long ms)
{
	struct timespec ts;

	while (ms > 0 && !cli_interrupted) {
		ts.tv_sec = 0;
		ts.tv_nsec = (ms > 100 ? 100 : ms) * 1000000L;
		nanosleep(&ts, NULL);
		ms -= 100;
	}
}

const char *cli_qs(const char *s)
{
	static char bufs[8][1024];
	static unsigned k;
	char *o = bufs[k++ & 7], *p = o;

	for (; *s && p < o + sizeof(bufs[0]) - 4; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || strchr("-_.~", ch))
			*p++ = (char)ch;
		else
			p += sprintf(p, "%%%02X", ch);
	}
	*p = '\0';
	return o;
}

void cli_print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);

	if (s)
		printf("%s\n", s);
	free(s);
	fflush(stdout);
}

void cli_print_message(json_t *m, const char *claim_id)
{
	json_t *line = json_object();
	static const char *const keys[] = {"id", "ttl", "age", "body"};

	for (size_t i = 0; i < 4; i++) {
		json_t *v = json_object_get(m, keys[i]);

		json_object_set(line, keys[i], v ? v : json_null());
	}
	if (claim_id)
		json_object_set_new(line, "claim_id", json_string(claim_id));
	cli_print_json(line);
	json_decref(line);
}

void cli_href_id(const char *href, char *dst, size_t n)
{
	const char *slash = href ? strrchr(href, '/') : NULL;
	size_t len;

	if (!slash) {
		snprintf(dst, n, "%s", href ? href : "");
		return;
	}
	slash++;
	len = strcspn(slash, "?");
	snprintf(dst, n, "%.*s", (int)len, slash);
}

int cli_call(struct cli *c, const char *method, const char *path,
	     const char *body, int timeout_s, int want, int also,
	     struct cli_resp *r)
{
	int rc = cli_request(c, method, path, body, timeout_s, r);

	if (rc || r->status == want || (also && r->status == also))
		return rc;
	rc = cli_refused(c, r);
	cli_resp_free(r);
	return rc;
}
