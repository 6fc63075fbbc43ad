/*
 * ws.h - what the WebSocket files share: ws.c (the lws protocol, the
 * connection and its frames), ws_sub.c (its subscriptions and fan-out)
 * and ws_actions.c (Zaqar's actions served through hub_route, and their
 * replies reshaped into Zaqar's WebSocket response frames).
 *
 * An action's life: ws.c decodes a text frame and queues a struct
 * hub_ws_action on its connection; actions of one connection run one at
 * a time, in the order received (a message_list sent after a message_post
 * sees the post). ws_actions.c runs it through hub_route with the WS
 * transport (replying at once, or after a deferred write) and calls the
 * action's ready_fn once its response frame is set; or it returns
 * HUB_WS_ACTION_CONN for the actions that need the connection (subscribe,
 * subscription_*), which ws.c then answers itself. ws.c writes the frames
 * in request order.
 *
 * Calls go one way, ws.c -> ws_actions.c: ws_actions.c reaches ws.c only
 * through the ready_fn that ws.c set (no circle between the two files).
 *
 * Loop thread only.
 */
#ifndef HERALD_HUB_WS_H
#define HERALD_HUB_WS_H

#include "auth.h"
#include "req.h"
#include "server.h"
#include "writer.h"
#include "live/sub.h"
#include "route.h"
#include "render.h"
#include "live/wait.h"
#include "api/api.h"

struct hub_ws_conn;
struct ws_verb; /* ws_actions.c's table row */

struct hub_ws_action {
	struct hub_req pub;          /* first: the transport casts back */
	struct hub_ws_action *next;  /* in its connection's queue */
	struct hub_ws_conn *conn;    /* ws.c's; ws_actions.c never looks in */
	/* Set by ws.c: a's frame is set - write it in its turn, run the
	 * next action. Called once per action that hub_ws_action_run() did
	 * not hand back as HUB_WS_ACTION_CONN. */
	void (*ready_fn)(struct hub_ws_action *a);
	struct hub_job *job;         /* a deferred write out at the writer */
	/* The connection's identity (ws.c sets it; `authenticate` replaces
	 * it), and this action's, with the action's project (pub.ident
	 * points here). */
	struct hub_ident *conn_ident;
	struct hub_ident ident;
	/* The credentials as the client gave them (the connection's token,
	 * the action's X-Project-ID), for what a node asks the cluster's
	 * other nodes on the action's behalf (api/gather.c): pub.cred. */
	struct hub_auth_cred cred;
	/* `authenticate` with a strategy that answers later: parked here
	 * (auth.h) until it does; ws.c cancels it if the connection goes. */
	struct hub_auth_wait auth_wait;
	bool auth_pending;
	const struct ws_verb *verb;  /* NULL: answered without routing */
	json_t *request;             /* the echo: action, body, headers, api */
	json_t *body;                /* borrowed from request: "body" */
	bool started, ready;
	char *frame;                 /* LWS_PRE + the response frame */
	size_t frame_len;
	/* Storage behind pub's pointers. */
	char project[FEED_PROJECT_MAX + 1];
	char path[512];
	char *req_body;
};

/* ------------------------------------------------------- ws_actions.c */

enum hub_ws_action_run_result {
	HUB_WS_ACTION_STARTED, /* answered now or later: a->ready_fn follows */
	HUB_WS_ACTION_CONN,    /* a connection's action, checked: ws.c's to
				* answer (and then to mark ready) */
};

/* Runs a queued action (a->request decoded, an object with a string
 * "action"): hub_ws_action_check(), then the connection's identity and
 * rights (auth.h), then its route. */
enum hub_ws_action_run_result hub_ws_action_run(struct hub_ws_action *a);

enum hub_ws_action_check_result {
	HUB_WS_CHECK_ANSWERED, /* refused or answered: a's frame is set */
	HUB_WS_CHECK_AUTH,     /* `authenticate`: run() resolves it */
	HUB_WS_CHECK_CONN,     /* a connection's action (ws.c answers) */
	HUB_WS_CHECK_ROUTE,    /* a's request is built: to be routed */
};

/*
 * The checks of an action before anything is read or written - its verb,
 * headers, schema, names - and, for one to route, its request built
 * (method, path, query, body) on a->pub. Sets a's frame for what it
 * answers. Reads no storage and calls no lws: tests/fuzz drives it.
 */
enum hub_ws_action_check_result hub_ws_action_check(struct hub_ws_action *a);
/* Sets a's response frame {"request": a->request, "body": body,
 * "headers": {"status": status}} (steals body; NULL = {}). */
void hub_ws_action_reply(struct hub_ws_action *a, int status, json_t *body);
/* The same with body {"exception": text, "error": error (NULL: null)}. */
void hub_ws_action_fail(struct hub_ws_action *a, int status, const char *text,
			const char *error);
/*
 * Zaqar's WS body for the reply of a routed action: r->reply as its
 * handler left it (status, JSON value, fields), `action` the action's
 * name, `body` its body (borrowed). *status: the frame's status. Reads
 * only structured data: no reply text is parsed. New reference (NULL:
 * {}).
 */
json_t *hub_ws_reply_body(struct hub_req *r, const char *action,
			  json_t *body, int *status);
/* Frees what a holds (not a itself), and its frame. */
void hub_ws_action_clear(struct hub_ws_action *a);

/* ------------------------------------------------------------- ws_sub.c */

/*
 * The actions the connection answers itself, as they touch it (ws_sub.c):
 * subscribe, unsubscribe, subscription_create/list/get/delete. Called by
 * ws.c when hub_ws_action_run() says HUB_WS_ACTION_CONN; sets a's frame
 * and calls a->ready_fn.
 */
void hub_ws_conn_action(struct hub_ws_action *a, const char *action);
/* Whether subscription `id` of (project, queue) is one of c's own
 * (subscription_create without a subscriber URL); and those as Zaqar's
 * subscription objects (a new array). The others are stored webhooks,
 * which ws_actions.c routes to the subscriptions resource. */
/* The token the connection's identity came from, as sent; NULL: none. */
const char *hub_ws_conn_token(const struct hub_ws_conn *c);
/* `authenticate` accepted `token`: the connection's from now on (for
 * the reads of other nodes' queues, ws_sub.c). */
void hub_ws_conn_keep_token(struct hub_ws_conn *c, const char *token);
bool hub_ws_conn_owns_sub(struct hub_ws_conn *c, const char *project,
			  const char *queue, const char *id);
json_t *hub_ws_conn_subs_json(struct hub_ws_conn *c, const char *project,
			      const char *queue, uint64_t now_ms);
/*
 * LWS_CALLBACK_HTTP_CONFIRM_UPGRADE (asked of the vhost's default
 * protocol, herald.v1, before any mount applies): a stream URL with bad parameters - a malformed marker, client id, queue
 * name or project - is answered here with 400 and a JSON error, as HTTP
 * answers it, instead of upgrading. Returns what the callback returns.
 */
int hub_ws_confirm_upgrade(struct lws *wsi);

extern const struct lws_protocols hub_ws_protocol;

#endif /* HERALD_HUB_WS_H */
