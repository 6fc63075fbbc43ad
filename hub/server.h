/*
 * server.h - the server's own state, shared by the core, the live
 * registry and the transports. Handlers never see it.
 *
 * One struct hub_server per service loop (--loops, server.c): the lws
 * context it is the user of, and what that loop's thread alone touches
 * (its vhost, subscriber registry, credentials, held requests, counts).
 * What the loops share is borrowed from loop 0's and marked so below.
 */
#ifndef HERALD_HUB_SERVER_H
#define HERALD_HUB_SERVER_H

#include <libwebsockets.h>
#include <pthread.h>
#include <signal.h>

#include "buf.h"
#include "bus.h"
#include "config.h"
#include "feed.h"
#include "hclient.h"

/* The most bytes a request's line and headers may take (lws's header
 * table; its default is 4096). */
#define HUB_MAX_HEADER_DATA 16384

struct hub_writer;
struct hub_subs;
struct hub_hooks;
struct hub_hook_post;
struct hub_auth_ctx;
struct hub_tls;
struct hub_loops;
struct hub_remotes;

struct hub_server {
	struct hub_config cfg;     /* each loop's copy, read only */
	unsigned loop;             /* this loop's index: 0 accepts */
	struct hub_loops *loops;   /* all of them (server.c) */
	feed_t *feed;              /* shared */
	struct lws_context *ctx;
	struct lws_vhost *vhost;
	struct hub_writer *writer; /* shared: the one writer thread */
	struct hub_subs *subs;     /* sub.c */
	/* live/hooks.c: webhook delivery, shared: it runs on loop 0 and
	 * takes the other loops' calls by mail */
	struct hub_hooks *hooks;
	/* auth.c: who may do what - each loop's own, reloaded by each on
	 * SIGHUP (a strategy's state is loop-thread only) */
	struct hub_auth_ctx *auth;
	/* tls.c: the certificate, shared (it locks); NULL: plain */
	struct hub_tls *tls;
	struct hub_hclient hclient;    /* requests out (Keystone) */
	/* The cluster's bus (bus.h) and the readers of other nodes'
	 * queues it wakes (transport/remote.h): the transport's, this
	 * loop's; zero and NULL without --cluster-bus. */
	struct hub_bus bus;
	struct hub_remotes *remotes;
	void (*bus_end)(struct hub_server *srv);
	lws_dll2_owner_t held;     /* long-poll requests waiting (http.c) */
	lws_sorted_usec_list_t compact_sul;
	bool compacting;     /* a compaction job is queued or running */
	lws_sorted_usec_list_t sync_sul; /* interval durability's flushes */
	bool syncing;        /* a flush job is queued or running */
	unsigned long long syncs; /* flushes done while running */
	bool stopping;       /* SIGTERM/SIGINT seen: drain, then exit */
	unsigned inflight;   /* requests accepted, not yet fully answered */
	unsigned ws_conns;   /* WebSocket connections open (ws.c) */
	struct hub_buf frame; /* the loop's WebSocket frame buffer (ws.c) */
	/* The loop's buffer for an HTTP answer's head and first slice
	 * (http.c): reused, since lws copies what the socket does not take. */
	struct hub_buf http_out;
	/* Sockets loop 0 accepted for this loop, to adopt (server.c). */
	pthread_mutex_t inbox_lock;
	int *inbox;
	size_t inbox_n, inbox_cap;
	unsigned hup_seen;   /* SIGHUPs this loop has reloaded for */
	/* lws_service() calls so far: the loop pass, for the HTTP transport
	 * to tell what lws parsed out of its buffer (http.c) */
	uintptr_t passes;
	/* Accept back-off (server.c): the listening wsi, paused while the
	 * process is out of descriptors, and the failures not yet logged. */
	struct lws *listen_wsi;
	lws_sorted_usec_list_t accept_sul;
	bool accept_paused;
	uint64_t accept_logged_ms;
	unsigned long accept_failures;
};

/*
 * The transports the server runs (main.c wires them; the core knows none
 * of their code): `http` serves every URL of the vhost (its protocol name
 * is the mount's), `ws` is the default for WebSocket upgrades that name no
 * subprotocol (browsers' plain `new WebSocket(url)`).
 */
struct hub_server_transports {
	const struct lws_protocols *http;
	const struct lws_protocols *ws;
	/* What lws's HTTP parser gives up on (an unknown method): the
	 * vhost's "raw" protocol, may be NULL (lws answers its own 403). */
	const struct lws_protocols *http_fallback;
	/* The webhook client (live/hooks.h) and its post, whose arg is the
	 * vhost. */
	const struct lws_protocols *webhook;
	int (*webhook_post)(void *vhost, const struct hub_hook_post *p);
	/* The HTTP client for requests out of the server (hclient.h: the
	 * keystone strategy's), whose arg is the struct hub_server. */
	const struct lws_protocols *hclient;
	int (*hclient_start)(void *srv, struct hub_hclient_req *q);
	void (*hclient_cancel)(void *srv, struct hub_hclient_req *q);
	/* The cluster's bus (bus.h): its client protocol, started on each
	 * loop once its registry exists (fills srv->bus; 0 or -1) and
	 * ended after its context. */
	const struct lws_protocols *bus;
	int (*bus_start)(struct hub_server *srv);
	void (*bus_end)(struct hub_server *srv);
};

/*
 * Callback reason the server sends every protocol of its vhost (with a
 * NULL user) when it starts to drain on SIGTERM/SIGINT: a transport then
 * ends whatever it holds open (long-poll waits answer at once).
 */
#define HUB_CALLBACK_DRAIN (LWS_CALLBACK_USER + 1)

/* Runs `herald serve` with a loaded configuration; returns the exit code. */
int hub_server_run(const struct hub_config *cfg,
		   const struct hub_server_transports *transports);

#endif /* HERALD_HUB_SERVER_H */
