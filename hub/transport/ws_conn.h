/*
 * ws_conn.h - a WebSocket connection, as its two halves share it: ws.c
 * (the lws protocol, frames in and out, the action queue) and ws_sub.c
 * (its subscriptions and the stream URL). Private to those two files;
 * ws.c calls ws_sub.c, never the other way round.
 *
 * Loop (lws service) thread only.
 */
#ifndef HERALD_HUB_WS_CONN_H
#define HERALD_HUB_WS_CONN_H

#include "buf.h"
#include "transport/ws.h"
#include "transport/keepalive.h"

struct ws_sub; /* ws_sub.c */

/* The stream URL's parameters, checked at the upgrade (ws_sub.c). */
struct hub_ws_stream {
	char queue[FEED_NAME_MAX + 1]; /* "" for /v2/ws */
	char marker[FEED_ID_LEN + 1];  /* "" = from now */
	char project[FEED_PROJECT_MAX + 1];
	bool echo, has_client;
	uint8_t client[16];
};

struct hub_ws_conn {
	struct lws *wsi;
	struct hub_server *srv;
	char id[37];
	struct hub_ws_stream stream;
	/* Who the connection is (auth.h): from a token at the upgrade, or
	 * the `authenticate` action; until then, when the server asks for
	 * credentials, no action but authenticate runs. */
	struct hub_ident ident;
	/* The token that ident came from, as sent (NULL: none), for the
	 * reads of other nodes' queues made on the subscriber's behalf. */
	char *token;
	/* Subscriptions share one project and client: the last frame's. */
	char project[FEED_PROJECT_MAX + 1];
	uint8_t client_id[16];
	bool has_client_id;
	/* The message being received. */
	struct hub_buf rx;
	bool rx_started, rx_binary, rx_too_big;
	/* Actions, in order: answered (ready) ones wait to be written. */
	struct hub_ws_action *head, **tail;
	struct hub_ws_action *running;
	unsigned queued;
	bool rx_paused, in_run;
	lws_dll2_owner_t subs;
	struct ws_sub *rr;         /* round-robin: the last one served */
	/* Idle checks (keepalive.h), once established: its vhost's sweep. */
	struct hub_ka_conn ka;
	struct hub_ka *ka_owner;
	bool ping_due;             /* the sweep asked for a ping */
};

/* ------------------------------------------------------------- ws_sub.c */

/*
 * Renders one frame for the next subscription with something pending,
 * round-robin, into `frame` (empty: the renderer allocates it, with
 * LWS_PRE bytes of headroom, only when there is a frame; the caller writes
 * it: ws.c owns the socket). Returns 1 when a frame
 * was rendered, 0 when none was, -1 to drop the connection.
 */
int hub_ws_sub_serve(struct hub_ws_conn *c, struct hub_buf *frame);
/* Whether a subscription may have something to send. */
bool hub_ws_sub_pending(struct hub_ws_conn *c);
/* Ends every subscription of c (the connection closes). */
void hub_ws_sub_close_all(struct hub_ws_conn *c);
/*
 * The upgrade's path and stream parameters: -1 when the path is not a
 * stream URL (c->stream.queue stays ""), 0 when they are good (filled
 * in), else the status of the refusal with its title and description.
 */
int hub_ws_stream_parse(struct lws *wsi, struct hub_ws_stream *st,
			const char **title, const char **desc);
/*
 * The upgrade's credentials (auth.h): a token in Authorization: Bearer,
 * X-Auth-Token, the access_token parameter or a "bearer.TOKEN" entry of
 * Sec-WebSocket-Protocol (Herald extensions). Fills *id (unresolved when
 * none came, which an actions endpoint allows). 0, or the status of a
 * refusal (401, 403) with *why: the stream URL needs the subscribe role
 * on its queue.
 */
int hub_ws_upgrade_auth(struct lws *wsi, struct hub_server *srv,
			const struct hub_ws_stream *st, struct hub_ident *id,
			const char **why);
/* Keeps the upgrade's token (hub_ws_upgrade_auth) as c->token. */
void hub_ws_conn_keep_upgrade_token(struct hub_ws_conn *c, struct lws *wsi);
/* The stream URL's one subscription, when the connection is established.
 * -1 to drop the connection. */
int hub_ws_stream_open(struct hub_ws_conn *c);

#endif /* HERALD_HUB_WS_CONN_H */
