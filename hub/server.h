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

struct hub_writer;
struct hub_subs;

struct hub_server {
	struct hub_config cfg;
	feed_t *feed;
	struct lws_context *ctx;
	struct lws_vhost *vhost;
	struct hub_writer *writer;
	struct hub_subs *subs;     /* sub.c */
	lws_dll2_owner_t held;     /* long-poll requests waiting (http.c) */
	lws_sorted_usec_list_t compact_sul;
	bool compacting;     /* a compaction job is queued or running */
	bool stopping;       /* SIGTERM/SIGINT seen: drain, then exit */
	unsigned inflight;   /* requests accepted, not yet fully answered */
};

/* Runs `herald serve` with a loaded configuration; returns the exit code. */
int hub_server_run(const struct hub_config *cfg);

#endif /* HERALD_HUB_SERVER_H */
