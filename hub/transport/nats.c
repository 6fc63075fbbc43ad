/*
 * nats.c - the cluster's bus (bus.h) over NATS core: one lws raw client
 * connection per service loop to --cluster-bus, speaking NATS's text
 * protocol (https://docs.nats.io/reference/reference-protocols/nats-protocol):
 *
 *   server: INFO {...}          client: CONNECT {"verbose":false,...}
 *                                       SUB herald.q.Q SID  (each watch)
 *   client: PUB herald.q.Q N\r\nPROJECT      (loop 0, at each commit)
 *   server: MSG herald.q.Q SID N\r\nPROJECT  --> hub_sub_notify
 *   server: PING                client: PONG
 *   client: PING (every 20 s)   server: PONG  (two unanswered: dropped)
 *
 * The connection is made again whenever it ends (backing off to 5 s);
 * every watched subject is subscribed again then, and every remote reader
 * reads (hub_remotes_heal), since news may have been lost meanwhile. What
 * is written waits in one buffer, flushed at the next writable callback;
 * news that would take it past OUT_MAX is dropped (counted and logged):
 * readers find those messages at their next read.
 *
 * Loop thread only.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bus.h"
#include "clock.h"
#include "cluster.h"
#include "log.h"
#include "server.h"
#include "live/sub.h"
#include "transport/nats.h"
#include "transport/remote.h"

#define PROTOCOL_NAME "herald-bus"
#define OUT_MAX (4u << 20)    /* bytes waiting to be written, at most */
#define RX_LINE_MAX 8192      /* a protocol line (INFO is the longest) */
#define RECONNECT_MIN_MS 100u
#define RECONNECT_MAX_MS 5000u
#define PING_MS 20000u       /* our PING, so a silent peer is noticed */
#define PINGS_UNANSWERED 2u  /* ... and given up on after this many */

struct watch {
	struct watch *next;
	unsigned refs;
	unsigned sid;
	char queue[FEED_NAME_MAX + 1];
};

struct bus {
	struct hub_server *srv;
	char address[64];
	int port;
	struct lws *wsi;
	bool joined;              /* INFO came, CONNECT and the SUBs sent */
	struct hub_buf rx;        /* what came and is not yet handled */
	struct hub_buf out;       /* to write, LWS_PRE headroom */
	lws_sorted_usec_list_t reconnect;
	unsigned failures;
	lws_sorted_usec_list_t ping;
	unsigned pings_out;       /* sent and not answered */
	struct watch *buckets[256];
	unsigned next_sid;
	/* News in `out` not yet written, by hash of (project, queue): a
	 * commit whose news waits there already needs no second one (the
	 * waiting one goes out after it). */
	uint64_t pending[128];
	unsigned n_pending;
	unsigned long dropped;    /* news not sent: the buffer was full */
	uint64_t dropped_logged;
};

static void connect_now(lws_sorted_usec_list_t *sul);
static void ping_due(lws_sorted_usec_list_t *sul);

/* --------------------------------------------------------- the output */

static void out_flush_later(struct bus *b)
{
	if (b->wsi && b->out.len > LWS_PRE)
		lws_callback_on_writable(b->wsi);
}

static void out_printf(struct bus *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void out_printf(struct bus *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	hub_buf_vprintf(&b->out, fmt, ap);
	va_end(ap);
}

static int out_write(struct bus *b)
{
	size_t n = b->out.len - LWS_PRE;

	if (b->out.failed)
		return -1; /* out of memory mid-command: start over */
	if (!n)
		return 0;
	if (lws_write(b->wsi, (unsigned char *)b->out.data + LWS_PRE, n,
		      LWS_WRITE_RAW) < (int)n)
		return -1;
	hub_buf_reset(&b->out, LWS_PRE);
	b->n_pending = 0;
	return 0;
}

/* ------------------------------------------------------------ watches */

/* FNV-1a 64 of s and its NUL, continuing h (FNV_OFFSET to start). */
#define FNV_OFFSET 0xcbf29ce484222325ULL
static uint64_t fnv(uint64_t h, const char *s)
{
	do
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	while (*s++);
	return h;
}

static struct watch **watch_find(struct bus *b, const char *queue)
{
	struct watch **p = &b->buckets[fnv(FNV_OFFSET, queue) & 255u];

	while (*p && strcmp((*p)->queue, queue))
		p = &(*p)->next;
	return p;
}

static int bus_watch(void *arg, const char *queue)
{
	struct bus *b = arg;
	struct watch **p = watch_find(b, queue), *w = *p;

	if (w) {
		w->refs++;
		return 0;
	}
	if (strlen(queue) > FEED_NAME_MAX || !(w = calloc(1, sizeof(*w))))
		return -1;
	w->refs = 1;
	w->sid = ++b->next_sid;
	memcpy(w->queue, queue, strlen(queue) + 1);
	*p = w;
	if (b->joined) {
		out_printf(b, "SUB " HUB_BUS_SUBJECT "%s %u\r\n", queue, w->sid);
		out_flush_later(b);
	}
	return 0;
}

static void bus_unwatch(void *arg, const char *queue)
{
	struct bus *b = arg;
	struct watch **p = watch_find(b, queue), *w = *p;

	if (!w || --w->refs)
		return;
	*p = w->next;
	if (b->joined) {
		out_printf(b, "UNSUB %u\r\n", w->sid);
		out_flush_later(b);
	}
	free(w);
}

static void bus_publish(void *arg, const char *project, const char *queue)
{
	struct bus *b = arg;
	uint64_t now = hub_mono_ms(), h = fnv(fnv(FNV_OFFSET, project), queue);

	if (!b->joined)
		return; /* down: the readers' checks find it */
	for (unsigned i = 0; i < b->n_pending; i++)
		if (b->pending[i] == h)
			return;
	if (b->out.len > OUT_MAX) {
		if (!b->dropped++ || now - b->dropped_logged > 10000) {
			hub_log(HUB_LOG_WARN, "bus: NATS is behind, news of %lu "
				"commits dropped so far", b->dropped);
			b->dropped_logged = now;
		}
		return;
	}
	out_printf(b, "PUB " HUB_BUS_SUBJECT "%s %zu\r\n%s\r\n", queue,
		   strlen(project), project);
	if (b->n_pending < sizeof(b->pending) / sizeof(*b->pending))
		b->pending[b->n_pending++] = h;
	out_flush_later(b);
}

/* --------------------------------------------------------- the protocol */

/* INFO: the server is there. Who we are, and every subscription. */
static void join(struct bus *b)
{
	out_printf(b, "CONNECT {\"verbose\":false,\"pedantic\":false,"
		   "\"lang\":\"c\",\"name\":\"herald %s loop %u\","
		   "\"protocol\":1}\r\n",
		   b->srv->cfg.node, b->srv->loop);
	for (size_t i = 0; i < 256; i++)
		for (struct watch *w = b->buckets[i]; w; w = w->next)
			out_printf(b, "SUB " HUB_BUS_SUBJECT "%s %u\r\n",
				   w->queue, w->sid);
	b->joined = true;
	b->failures = 0;
	b->pings_out = 0;
	lws_sul_schedule(b->srv->ctx, 0, &b->ping, ping_due,
			 (lws_usec_t)PING_MS * LWS_US_PER_MS);
	out_flush_later(b);
	hub_log(HUB_LOG_INFO, "bus: joined NATS at %s:%d", b->address,
		b->port);
	/* News may have been lost while the bus was down. */
	if (b->srv->remotes)
		hub_remotes_heal(b->srv->remotes);
}

/* MSG's news: wake the readers of (project, queue). */
static void heard(struct bus *b, const char *subject, const char *payload,
		  size_t len)
{
	size_t pre = strlen(HUB_BUS_SUBJECT);
	char project[FEED_PROJECT_MAX + 1];

	if (strncmp(subject, HUB_BUS_SUBJECT, pre) || len > FEED_PROJECT_MAX ||
	    strlen(subject + pre) > FEED_NAME_MAX)
		return;
	memcpy(project, payload, len);
	project[len] = '\0';
	hub_sub_notify(b->srv->subs, project, subject + pre);
}

/* The first "\r\n" of p[0..n), or NULL. */
static char *find_crlf(char *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i++)
		if (p[i] == '\r' && p[i + 1] == '\n')
			return p + i;
	return NULL;
}

/*
 * Handles what b->rx holds: whole lines, and a MSG's payload once all of
 * it came. Returns -1 to drop the connection (a line too long, an -ERR).
 */
static int rx_handle(struct bus *b)
{
	/* What the loop handles does not touch b->rx: its bytes stay put. */
	char *const data = b->rx.data;
	const size_t len_all = b->rx.len;
	size_t at = 0;
	int rc = 0;

	if (!data)
		return 0;
	while (at < len_all) {
		char *line = data + at;
		char *eol = find_crlf(line, len_all - at);
		size_t n;

		if (!eol) {
			if (len_all - at > RX_LINE_MAX)
				rc = -1;
			break;
		}
		n = (size_t)(eol - line);
		*eol = '\0';
		if (strncasecmp(line, "MSG ", 4) == 0) {
			char subject[256];
			unsigned sid;
			size_t len;
			char tail[64];

			/* MSG SUBJECT SID [REPLY-TO] LEN */
			if (sscanf(line + 4, "%255s %u %63s", subject, &sid,
				   tail) != 3 || n > 512) {
				rc = -1;
				break;
			}
			{
				const char *last = strrchr(line, ' ');
				char *end;

				len = strtoul(last + 1, &end, 10);
				if (*end || len > 1u << 20) {
					rc = -1;
					break;
				}
			}
			if (len_all - at < n + 2 + len + 2)
				break; /* its payload is still coming */
			heard(b, subject, eol + 2, len);
			at += n + 2 + len + 2;
			continue;
		}
		if (strncasecmp(line, "INFO ", 5) == 0) {
			if (!b->joined)
				join(b);
		} else if (strcasecmp(line, "PING") == 0) {
			out_printf(b, "PONG\r\n");
			out_flush_later(b);
		} else if (strcasecmp(line, "PONG") == 0) {
			b->pings_out = 0;
		} else if (strncasecmp(line, "-ERR", 4) == 0) {
			hub_log(HUB_LOG_WARN, "bus: NATS says %.200s", line);
		} /* +OK */
		at += n + 2;
	}
	if (at) {
		memmove(data, data + at, len_all - at);
		b->rx.len = len_all - at;
	}
	return rc;
}

/* ------------------------------------------------------- the connection */

static void schedule_connect(struct bus *b)
{
	unsigned ms = hub_backoff_ms(RECONNECT_MIN_MS, RECONNECT_MAX_MS,
				     &b->failures);

	lws_sul_schedule(b->srv->ctx, 0, &b->reconnect, connect_now,
			 (lws_usec_t)ms * LWS_US_PER_MS);
}

/*
 * Every PING_MS while joined: a PING, and a connection whose server left
 * PINGS_UNANSWERED of them unanswered is dropped (a peer gone without a
 * FIN would otherwise hold the bus down until TCP gives up).
 */
static void ping_due(lws_sorted_usec_list_t *sul)
{
	struct bus *b = lws_container_of(sul, struct bus, ping);

	if (!b->joined || !b->wsi)
		return;
	if (b->pings_out >= PINGS_UNANSWERED) {
		hub_log(HUB_LOG_WARN, "bus: NATS at %s:%d left %u PINGs "
			"unanswered; reconnecting", b->address, b->port,
			b->pings_out);
		lws_set_timeout(b->wsi, PENDING_TIMEOUT_USER_OK,
				LWS_TO_KILL_ASYNC);
		return;
	}
	b->pings_out++;
	out_printf(b, "PING\r\n");
	out_flush_later(b);
	lws_sul_schedule(b->srv->ctx, 0, &b->ping, ping_due,
			 (lws_usec_t)PING_MS * LWS_US_PER_MS);
}

/* The connection ended (or never began): start over later. */
static void ended(struct bus *b, const char *why)
{
	if (b->joined)
		hub_log(HUB_LOG_WARN, "bus: lost NATS at %s:%d (%s); "
			"reconnecting", b->address, b->port, why);
	b->wsi = NULL;
	b->joined = false;
	lws_sul_cancel(&b->ping);
	hub_buf_reset(&b->rx, 0);
	hub_buf_reset(&b->out, LWS_PRE);
	b->n_pending = 0;
	if (!b->srv->stopping)
		schedule_connect(b);
}

static void connect_now(lws_sorted_usec_list_t *sul)
{
	struct bus *b = lws_container_of(sul, struct bus, reconnect);
	struct lws_client_connect_info i;

	if (b->wsi || b->srv->stopping)
		return;
	memset(&i, 0, sizeof(i));
	i.context = b->srv->ctx;
	i.vhost = b->srv->vhost;
	i.address = b->address;
	i.port = b->port;
	i.host = b->address;
	i.origin = b->address;
	i.path = "";
	i.method = "RAW";
	i.protocol = PROTOCOL_NAME;
	i.local_protocol_name = PROTOCOL_NAME;
	i.opaque_user_data = b;
	i.pwsi = &b->wsi;
	if (!lws_client_connect_via_info(&i)) {
		b->wsi = NULL;
		schedule_connect(b);
	}
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason,
		    void *user, void *in, size_t len)
{
	struct bus *b = wsi ? lws_get_opaque_user_data(wsi) : NULL;

	(void)user;
	if (!b)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_RAW_CONNECTED:
		return 0; /* INFO comes first */
	case LWS_CALLBACK_RAW_RX:
		hub_buf_add(&b->rx, in, len);
		if (b->rx.failed || rx_handle(b)) {
			lws_set_opaque_user_data(wsi, NULL);
			ended(b, "a line it could not read");
			return -1;
		}
		return 0;
	case LWS_CALLBACK_RAW_WRITEABLE:
		if (out_write(b)) {
			lws_set_opaque_user_data(wsi, NULL);
			ended(b, "a write failed");
			return -1;
		}
		return 0;
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		lws_set_opaque_user_data(wsi, NULL);
		ended(b, in ? (const char *)in : "cannot connect");
		return 0;
	case LWS_CALLBACK_RAW_CLOSE:
		lws_set_opaque_user_data(wsi, NULL);
		ended(b, "closed");
		return 0;
	default:
		return 0;
	}
}

const struct lws_protocols hub_bus_protocol = {
	.name = PROTOCOL_NAME,
	.callback = callback,
};

/* --cluster-bus: nats://IP:PORT or IP:PORT, a numeric address. */
static int bus_address(const char *url, char *addr, size_t len, int *port)
{
	const char *p = strncmp(url, "nats://", 7) == 0 ? url + 7 : url;

	return hub_cluster_parse_address(p, strlen(p), true, addr, len, port);
}

int hub_bus_start(struct hub_server *srv)
{
	const struct hub_config *cfg = &srv->cfg;
	struct bus *b;

	if (!cfg->cluster_bus[0])
		return 0;
	if (!hub_cluster_on()) {
		hub_log(HUB_LOG_ERROR, "--cluster-bus goes with --node and "
			"--cluster-map");
		return -1;
	}
	if (!(b = calloc(1, sizeof(*b))))
		return -1;
	b->srv = srv;
	if (bus_address(cfg->cluster_bus, b->address, sizeof(b->address),
			&b->port)) {
		hub_log(HUB_LOG_ERROR, "--cluster-bus: \"%.200s\": want "
			"nats://IP:PORT (a numeric address)", cfg->cluster_bus);
		free(b);
		return -1;
	}
	hub_buf_init(&b->out, LWS_PRE);
	srv->bus = (struct hub_bus){bus_publish, bus_watch, bus_unwatch, b};
	srv->remotes = hub_remotes_new(srv->ctx, srv->subs, &srv->hclient,
				       &srv->bus,
				       cfg->limits.max_messages_per_page,
				       (size_t)cfg->limits.max_messages_per_page *
						       cfg->limits.max_messages_post_size +
					       65536);
	if (!srv->remotes) {
		srv->bus = (struct hub_bus){0};
		hub_buf_free(&b->out);
		free(b);
		return -1;
	}
	lws_sul_schedule(srv->ctx, 0, &b->reconnect, connect_now, 1);
	return 0;
}

void hub_bus_end(struct hub_server *srv)
{
	struct bus *b = srv->bus.arg;

	hub_remotes_free(srv->remotes);
	srv->remotes = NULL;
	if (!b)
		return;
	for (size_t i = 0; i < 256; i++)
		while (b->buckets[i]) {
			struct watch *w = b->buckets[i];

			b->buckets[i] = w->next;
			free(w);
		}
	hub_buf_free(&b->rx);
	hub_buf_free(&b->out);
	free(b);
	srv->bus = (struct hub_bus){0};
}
