/*
 * transport/remote.h - a live subscriber's reader of a queue that another node of
 * the cluster owns (remote.c; docs/scale.md, "Live subscribers across
 * nodes").
 *
 * It is the cursor of cursor.h with the owner's HTTP API for a log: its
 * marker is this node's, its reads are the owner's message listing
 * (GET /v2/queues/Q/messages?marker=M, with the subscriber's credentials
 * and Herald-Local: 1), and it is woken by the bus (bus.h) instead of the
 * writer:
 *
 *   news of Q on the bus,  --> registry wake --> one listing read after
 *   a due check, the bus's                      the marker --> a batch
 *   reconnection                                (gap / messages), marker
 *                                               moved --> the owner's wake
 *
 * So a lost news item is healed by the next read from the marker: by the
 * periodic check (HUB_REMOTE_CHECK_MS on the API clock) or the bus's
 * reconnection. An owner that cannot be reached is asked again, backing
 * off; the marker stays, so nothing is skipped or repeated. The owner's
 * Herald-Gap header becomes the same gap batch a local cursor gives.
 *
 * Batches are struct hub_cursor_batch, with the messages rendered as
 * hub_cursor_render_msg renders them (the bodies spliced in as the owner
 * sent them), so the transports frame both kinds alike.
 *
 * Loop (lws service) thread only.
 */
#ifndef HERALD_HUB_TRANSPORT_REMOTE_H
#define HERALD_HUB_TRANSPORT_REMOTE_H

#include <stdbool.h>
#include <stdint.h>

#include "live/cursor.h"

struct hub_bus;
struct hub_hclient;

/* How often a caught-up reader reads anyway, on the API clock. */
#define HUB_REMOTE_CHECK_MS 5000u

/* A loop's remote readers, and what they use (the server's). */
struct hub_remotes;
struct hub_remote;

struct hub_remotes *hub_remotes_new(struct lws_context *ctx,
				    struct hub_subs *subs,
				    const struct hub_hclient *hclient,
				    const struct hub_bus *bus,
				    unsigned page_limit, size_t body_max);
/* Every reader must be closed first. */
void hub_remotes_free(struct hub_remotes *rs);
/* The bus (re)joined: news may have been lost, every reader reads. */
void hub_remotes_heal(struct hub_remotes *rs);

struct hub_remote_opts {
	const char *project;
	const char *queue;
	enum hub_cursor_from from;
	const char *marker;           /* HUB_CURSOR_MARKER only */
	bool echo;                    /* the reader's own messages too */
	const uint8_t *client_id;     /* the reader's; NULL: none */
	const char *token;            /* its credential as sent; NULL: none */
	/* The first read's answer: status 0 (reading), or the refusal
	 * (401, 403, 503...) with why; the reader is then to be closed.
	 * opened() with 0 must not close it. NULL: a subscription that goes
	 * on from elsewhere (its queue moved away): every failure, the
	 * first too, is asked again. */
	void (*opened)(struct hub_remote *rm, int status, const char *why);
	/* Something may be ready: call hub_remote_next soon. */
	void (*wake)(struct hub_remote *rm);
	void *user;
};

/*
 * Starts reading o->queue of node `owner` (its address from
 * --cluster-nodes). NULL with *why (static text) when it cannot start:
 * the owner has no address here, out of memory. opened() follows later.
 */
struct hub_remote *hub_remote_open(struct hub_remotes *rs, const char *owner,
				   const struct hub_remote_opts *o,
				   const char **why);
void hub_remote_close(struct hub_remote *rm);
void *hub_remote_user(const struct hub_remote *rm);

/*
 * The next batch, as hub_cursor_next gives one: a gap, messages (the
 * marker moved past them) or NONE (the reader wakes when there may be
 * more). Free b with hub_cursor_batch_free().
 */
void hub_remote_next(struct hub_remote *rm, struct hub_cursor_batch *b);
/* Whether a batch is ready now. */
bool hub_remote_ready(const struct hub_remote *rm);

#endif /* HERALD_HUB_TRANSPORT_REMOTE_H */
