/*
 * server.h - the server's own state, shared by the core, the live
 * registry and the transports. Handlers never see it.
 */
#ifndef HERALD_HUB_SERVER_H
#define HERALD_HUB_SERVER_H

#include <libwebsockets.h>
#include <signal.h>

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

struct hub_server {
	struct hub_config cfg;
	feed_t *feed;
	struct lws_context *ctx;
	struct lws_vhost *vhost;
	struct hub_writer *writer;
	struct hub_subs *subs;     /* sub.c */
	struct hub_hooks *hooks;   /* live/hooks.c: webhook delivery */
	struct hub_auth_ctx *auth;     /* auth.c: who may do what */
	struct hub_tls *tls;       /* tls.c: the certificate; NULL: plain */
	struct hub_hclient hclient;    /* requests out (Keystone) */
	lws_dll2_owner_t held;     /* long-poll requests waiting (http.c) */
	lws_sorted_usec_list_t compact_sul;
	bool compacting;     /* a compaction job is queued or running */
	lws_sorted_usec_list_t sync_sul; /* interval durability's flushes */
	bool syncing;        /* a flush job is queued or running */
	unsigned long long syncs; /* flushes done while running */
	bool stopping;       /* SIGTERM/SIGINT seen: drain, then exit */
	unsigned inflight;   /* requests accepted, not yet fully answered */
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
