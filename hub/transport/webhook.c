/*
 * webhook.c - the webhook transport: the HTTP client that makes the
 * deliverer's POSTs (live/hooks.h), on the server's own lws context.
 *
 * One POST per connection (Content-Length body, Connection: close), the
 * answer's status handed back with hub_hooks_posted(). The SSRF guard is
 * applied to the address actually connected to: a subscriber's host name
 * is resolved here, the addresses checked against webhook-allow, and lws
 * connects to the checked address (the Host header keeps the name), so a
 * name that later resolves elsewhere cannot slip past the check.
 *
 * Names are resolved by a thread of this transport (getaddrinfo blocks;
 * the loop must not), results kept for a short while; the loop hears of a
 * result through lws_cancel_service (LWS_CALLBACK_EVENT_WAIT_CANCELLED,
 * which every protocol gets). Literal addresses need no thread.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "log.h"
#include "server.h"
#include "live/hooks.h"
#include "transport/webhook.h"

#define PROTOCOL_NAME "herald-webhook"
/* How long a resolved name is kept. */
#define CACHE_MS 30000
#define CACHE_SLOTS 64

/* One POST, from post() to its answer. */
struct post {
	struct post *next;          /* waiting for its name */
	struct webhook *w;
	struct hub_hooks *from;
	void *token;
	bool tls, reported;
	int port, status;
	char host[256];
	char hostport[264];
	char *path;                 /* with the query */
	char *body;
	size_t body_len;
	char *headers;              /* "name:\0value\0"..., "\0" ends */
	char addr[INET6_ADDRSTRLEN];
	struct sockaddr_storage resolved; /* the resolver's answer */
	int gai_rc;                       /* and its getaddrinfo code */
	struct lws *wsi;
};

struct cached {
	char host[256];
	struct sockaddr_storage sa;
	int rc;                     /* getaddrinfo's, 0 ok */
	uint64_t until_ms;
};

struct webhook {
	struct lws_context *ctx;
	struct lws_vhost *vhost;
	const struct hub_config *cfg;
	pthread_t thread;
	bool running, stop;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct post *todo, **todo_tail; /* for the thread */
	struct post *done;              /* resolved, for the loop */
	struct cached cache[CACHE_SLOTS]; /* loop thread only */
};

/* -------------------------------------------------------------- answers */

static void post_free(struct post *p)
{
	free(p->path);
	free(p->body);
	free(p->headers);
	free(p);
}

/* Hands the answer back, once. */
static void report(struct post *p, int status)
{
	if (p->reported)
		return;
	p->reported = true;
	hub_hooks_posted(p->from, p->token, status);
}

/* ----------------------------------------------------------- connecting */

/* Connects p to the address in sa (checked against the allowlist first);
 * false when it cannot start. */
static bool post_connect(struct post *p, const struct sockaddr *sa)
{
	struct lws_client_connect_info i;
	char why[256];
	const void *a = sa->sa_family == AF_INET
				? (const void *)&((const struct sockaddr_in *)
							  (const void *)sa)->sin_addr
				: (const void *)&((const struct sockaddr_in6 *)
							  (const void *)sa)->sin6_addr;

	if (!hub_hooks_addr_allowed(p->w->cfg->webhook_allow, p->host, sa, why,
				    sizeof(why))) {
		hub_log(HUB_LOG_WARN, "webhooks: %s", why);
		return false;
	}
	inet_ntop(sa->sa_family, a, p->addr, sizeof(p->addr));
	memset(&i, 0, sizeof(i));
	i.context = p->w->ctx;
	i.vhost = p->w->vhost;
	i.address = p->addr;
	i.port = p->port;
	i.ssl_connection = p->tls ? LCCSCF_USE_SSL : 0;
	i.path = p->path;
	i.host = p->hostport;
	i.method = "POST";
	i.alpn = "http/1.1";
	i.protocol = PROTOCOL_NAME;
	i.local_protocol_name = PROTOCOL_NAME;
	i.opaque_user_data = p;
	i.pwsi = &p->wsi;
	return lws_client_connect_via_info(&i) != NULL;
}

static struct cached *cache_find(struct webhook *w, const char *host)
{
	uint64_t now = hub_mono_ms();

	for (size_t i = 0; i < CACHE_SLOTS; i++)
		if (w->cache[i].until_ms > now &&
		    strcasecmp(w->cache[i].host, host) == 0)
			return &w->cache[i];
	return NULL;
}

static void cache_put(struct webhook *w, const char *host,
		      const struct sockaddr_storage *sa, int rc)
{
	struct cached *c = &w->cache[0];

	for (size_t i = 1; i < CACHE_SLOTS && c->until_ms; i++)
		if (w->cache[i].until_ms < c->until_ms)
			c = &w->cache[i];
	snprintf(c->host, sizeof(c->host), "%s", host);
	c->sa = *sa;
	c->rc = rc;
	c->until_ms = hub_mono_ms() + (rc ? CACHE_MS / 10 : CACHE_MS);
}

/* A name was resolved (or not): connect, or fail the post. */
static void resolved(struct post *p, const struct cached *c)
{
	if (c->rc) {
		hub_log(HUB_LOG_WARN, "webhooks: cannot resolve %s: %s",
			p->host, gai_strerror(c->rc));
		report(p, 0);
		post_free(p);
		return;
	}
	if (!post_connect(p, (const struct sockaddr *)&c->sa)) {
		report(p, 0);
		post_free(p);
	}
}

/* ------------------------------------------------------------- resolver */

static void *resolver(void *arg)
{
	struct webhook *w = arg;

	pthread_mutex_lock(&w->lock);
	while (!w->stop) {
		struct post *p = w->todo;
		struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
		char port[8];
		int rc;

		if (!p) {
			pthread_cond_wait(&w->cond, &w->lock);
			continue;
		}
		w->todo = p->next;
		if (!w->todo)
			w->todo_tail = &w->todo;
		pthread_mutex_unlock(&w->lock);
		snprintf(port, sizeof(port), "%d", p->port);
		rc = getaddrinfo(p->host, port, &hints, &res);
		/* The first address is the one connected to, and the one
		 * checked. */
		if (rc == 0) {
			memcpy(&p->resolved, res->ai_addr, res->ai_addrlen);
			freeaddrinfo(res);
		}
		p->gai_rc = rc;
		pthread_mutex_lock(&w->lock);
		p->next = w->done;
		w->done = p;
		lws_cancel_service(w->ctx);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* Loop thread: the names resolved since the last call. */
static void collect(struct webhook *w)
{
	struct post *p;

	pthread_mutex_lock(&w->lock);
	p = w->done;
	w->done = NULL;
	pthread_mutex_unlock(&w->lock);
	while (p) {
		struct post *next = p->next;

		p->next = NULL;
		cache_put(w, p->host, &p->resolved, p->gai_rc);
		resolved(p, cache_find(w, p->host));
		p = next;
	}
}

/* --------------------------------------------------------------- posting */

/* Takes url apart into p (hub_hooks_uri_split); false when it is not an
 * http(s) URL. */
static bool url_parse(struct post *p, const char *url)
{
	struct hub_hook_uri u;
	bool v6;

	if (!hub_hooks_uri_split(url, &u))
		return false;
	p->tls = u.tls;
	p->port = u.port;
	snprintf(p->host, sizeof(p->host), "%s", u.host);
	/* Host: the name, with a port that is not the scheme's. */
	v6 = strchr(u.host, ':') != NULL;
	/* (https: the name alone, which lws also sends as the TLS server
	 * name.) */
	if (u.tls || u.port == 80)
		snprintf(p->hostport, sizeof(p->hostport), v6 ? "[%s]" : "%s",
			 u.host);
	else
		snprintf(p->hostport, sizeof(p->hostport),
			 v6 ? "[%s]:%d" : "%s:%d", u.host, u.port);
	p->path = malloc(u.path_len + 2);
	if (!p->path)
		return false;
	snprintf(p->path, u.path_len + 2, "%s%.*s",
		 u.path_len && *u.path == '/' ? "" : "/", (int)u.path_len,
		 u.path);
	return true;
}

/*
 * Whether a post_headers entry may be sent: a token for a name, no CR,
 * LF or NUL in the value, and none of the headers that frame the request
 * (those are Herald's to set: a subscription may not split or reshape its
 * own request).
 */
static bool header_ok(const char *name, json_t *v)
{
	static const char *const framing[] = {"host", "content-length",
					      "transfer-encoding", "connection",
					      "upgrade", "te", "trailer"};
	const char *val = json_string_value(v);

	if (!val || !*name || strpbrk(val, "\r\n") ||
	    strlen(val) != json_string_length(v))
		return false;
	for (const char *c = name; *c; c++)
		if (!strchr("!#$%&'*+-.^_`|~", *c) &&
		    !(*c >= '0' && *c <= '9') && !(*c >= 'a' && *c <= 'z') &&
		    !(*c >= 'A' && *c <= 'Z'))
			return false;
	for (size_t i = 0; i < sizeof(framing) / sizeof(*framing); i++)
		if (strcasecmp(name, framing[i]) == 0)
			return false;
	return true;
}

/* The post_headers object as "name:\0value\0"... (lws's form). */
static char *headers_pack(json_t *headers)
{
	const char *key;
	json_t *v;
	size_t len = 1;
	char *out, *o;

	json_object_foreach(headers, key, v)
		if (header_ok(key, v))
			len += strlen(key) + 2 + json_string_length(v) + 1;
	out = malloc(len);
	if (!out)
		return NULL;
	o = out;
	json_object_foreach(headers, key, v) {
		if (!header_ok(key, v))
			continue;
		for (const char *k = key; *k; k++)
			*o++ = (char)((*k >= 'A' && *k <= 'Z') ? *k | 0x20 : *k);
		*o++ = ':';
		*o++ = '\0';
		memcpy(o, json_string_value(v), json_string_length(v) + 1);
		o += json_string_length(v) + 1;
	}
	*o = '\0';
	return out;
}

int hub_webhook_post(void *arg, const struct hub_hook_post *hp)
{
	struct lws_vhost *vh = arg;
	struct webhook *w = lws_protocol_vh_priv_get(
		vh, lws_vhost_name_to_protocol(vh, PROTOCOL_NAME));
	struct post *p = calloc(1, sizeof(*p));
	struct sockaddr_in6 s6 = {0};
	struct sockaddr_in s4 = {0};
	struct cached *c;

	if (!w || !p)
		goto fail;
	p->w = w;
	p->from = hp->from;
	p->token = hp->token;
	if (!url_parse(p, hp->url))
		goto fail;
	p->body = malloc(hp->body_len);
	p->headers = hp->headers ? headers_pack(hp->headers) : NULL;
	if (!p->body || (hp->headers && !p->headers))
		goto fail;
	memcpy(p->body, hp->body, hp->body_len);
	p->body_len = hp->body_len;
	if (inet_pton(AF_INET, p->host, &s4.sin_addr) == 1) {
		s4.sin_family = AF_INET;
		if (!post_connect(p, (struct sockaddr *)&s4))
			goto fail;
		return 0;
	}
	if (inet_pton(AF_INET6, p->host, &s6.sin6_addr) == 1) {
		s6.sin6_family = AF_INET6;
		if (!post_connect(p, (struct sockaddr *)&s6))
			goto fail;
		return 0;
	}
	c = cache_find(w, p->host);
	if (c) {
		resolved(p, c);
		return 0;
	}
	pthread_mutex_lock(&w->lock);
	*w->todo_tail = p;
	w->todo_tail = &p->next;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	return 0;
fail:
	if (p)
		post_free(p);
	return -1;
}

/* ----------------------------------------------------------- lifetime */

static int webhook_init(struct lws_context *ctx, struct lws_vhost *vh,
			const struct lws_protocols *prot)
{
	struct webhook *w = lws_protocol_vh_priv_zalloc(vh, prot, sizeof(*w));

	if (!w)
		return -1;
	w->ctx = ctx;
	w->vhost = vh;
	w->cfg = &((struct hub_server *)lws_context_user(w->ctx))->cfg;
	w->todo_tail = &w->todo;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	if (pthread_create(&w->thread, NULL, resolver, w))
		return -1;
	w->running = true;
	return 0;
}

static void webhook_destroy(struct lws_vhost *vh,
			    const struct lws_protocols *prot)
{
	struct webhook *w = lws_protocol_vh_priv_get(vh, prot);
	struct post *p;

	if (!w || !w->running)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	w->running = false;
	/* What never reached a connection is answered as failed. */
	while ((p = w->todo)) {
		w->todo = p->next;
		report(p, 0);
		post_free(p);
	}
	while ((p = w->done)) {
		w->done = p->next;
		report(p, 0);
		post_free(p);
	}
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
}

/* ------------------------------------------------------------- protocol */

static int add_headers(struct lws *wsi, struct post *p, unsigned char **pos,
		       unsigned char *end)
{
	char cl[32];
	bool own_type = false;

	/* post_headers may replace the Content-Type (Zaqar updates its
	 * headers with them). */
	for (const char *h = p->headers; h && *h;) {
		const char *v = h + strlen(h) + 1;

		own_type |= strcmp(h, "content-type:") == 0;
		h = v + strlen(v) + 1;
	}
	snprintf(cl, sizeof(cl), "%zu", p->body_len);
	if ((!own_type &&
	     lws_add_http_header_by_name(wsi, (const unsigned char *)"content-type:",
					 (const unsigned char *)"application/json",
					 16, pos, end)) ||
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"content-length:",
					(const unsigned char *)cl, (int)strlen(cl),
					pos, end) ||
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"user-agent:",
					(const unsigned char *)"herald-webhook",
					14, pos, end))
		return -1;
	for (const char *h = p->headers; h && *h;) {
		const char *v = h + strlen(h) + 1;

		if (lws_add_http_header_by_name(wsi, (const unsigned char *)h,
						(const unsigned char *)v,
						(int)strlen(v), pos, end))
			return -1;
		h = v + strlen(v) + 1;
	}
	lws_client_http_body_pending(wsi, 1);
	lws_callback_on_writable(wsi);
	return 0;
}

static int write_body(struct lws *wsi, struct post *p)
{
	unsigned char *buf = malloc(LWS_PRE + p->body_len);
	int n;

	if (!buf)
		return -1;
	memcpy(buf + LWS_PRE, p->body, p->body_len);
	n = lws_write(wsi, buf + LWS_PRE, p->body_len, LWS_WRITE_HTTP_FINAL);
	free(buf);
	lws_client_http_body_pending(wsi, 0);
	return n == (int)p->body_len ? 0 : -1;
}

static int webhook_callback(struct lws *wsi, enum lws_callback_reasons reason,
			    void *user, void *in, size_t len)
{
	struct post *p = wsi ? lws_get_opaque_user_data(wsi) : NULL;
	struct webhook *w;
	char tmp[1024 + LWS_PRE], *px = tmp + LWS_PRE;
	int lenx = (int)sizeof(tmp) - LWS_PRE;

	switch (reason) {
	case LWS_CALLBACK_PROTOCOL_INIT:
		return webhook_init(lws_get_context(wsi), lws_get_vhost(wsi),
				    lws_get_protocol(wsi));
	case LWS_CALLBACK_PROTOCOL_DESTROY:
		webhook_destroy(lws_get_vhost(wsi), lws_get_protocol(wsi));
		return 0;
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		w = lws_protocol_vh_priv_get(lws_get_vhost(wsi),
					     lws_get_protocol(wsi));
		if (w)
			collect(w);
		return 0;
	default:
		break;
	}
	if (!p)
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	switch (reason) {
	case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
		lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK,
				(int)p->w->cfg->webhook_timeout_s);
		return add_headers(wsi, p, (unsigned char **)in,
				   *(unsigned char **)in + len);
	case LWS_CALLBACK_CLIENT_HTTP_WRITEABLE:
		return write_body(wsi, p);
	case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
		p->status = (int)lws_http_client_http_response(wsi);
		report(p, p->status);
		return 0;
	case LWS_CALLBACK_RECEIVE_CLIENT_HTTP:
		return lws_http_client_read(wsi, &px, &lenx) < 0 ? -1 : 0;
	case LWS_CALLBACK_COMPLETED_CLIENT_HTTP:
		return -1; /* answered: close (one POST per connection) */
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		hub_log(HUB_LOG_DEBUG, "webhooks: %s:%d: %s", p->host,
			p->port, in ? (const char *)in : "connection failed");
		/* fallthrough */
	case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
		lws_set_opaque_user_data(wsi, NULL);
		report(p, 0);
		post_free(p);
		return 0;
	default:
		return 0;
	}
}

const struct lws_protocols hub_webhook_protocol = {
	PROTOCOL_NAME, webhook_callback, 0, 0, 0, NULL, 0};

