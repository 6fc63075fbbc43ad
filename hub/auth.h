/*
 * auth.h - who may do what (ARCHITECTURE.md "Who may do what",
 * docs/security.md): the one layer between a transport and the route
 * table that turns a request's credentials into an identity - a project,
 * roles and the queue-name patterns it may touch - or refuses it with 401
 * (no or bad credentials) or 403 (not allowed), JSON bodies both, before
 * any handler runs. Handlers see only r->ident; none reads a credential.
 *
 *   transport                 auth.c                        strategy
 *   reads headers  --cred-->  hub_auth_request()  --token-->  none | tokens
 *   (http_checks.c,           pre-signed URL? (sign.c)        | jwt | keystone
 *    ws*.c)                   identity x route need x queue   (auth_*.c)
 *                             -> OK / 401 / 403 / PENDING
 *
 * A strategy may answer later (Keystone asks a server): it returns
 * HUB_AUTH_PENDING and calls hub_auth_wait_done() when it knows; the
 * transport parks the request meanwhile (struct hub_auth_wait) and goes
 * on from the wait's `done` callback. See struct hub_auth_strategy.
 *
 * Loop thread only (strategies may use threads of their own, but hand
 * their answers back on the loop).
 */
#ifndef HERALD_HUB_AUTH_H
#define HERALD_HUB_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "feed.h"

struct hub_req;
struct hub_route_match;
struct hub_hclient;

/* Roles, as bits. What each grants is in auth.c (need_roles) and
 * docs/security.md's table. */
enum hub_role {
	HUB_ROLE_READ = 1u << 0,      /* read queues, messages, feeds */
	HUB_ROLE_PUBLISH = 1u << 1,   /* post messages */
	HUB_ROLE_CONSUME = 1u << 2,   /* claim, delete (ack), pop */
	HUB_ROLE_SUBSCRIBE = 1u << 3, /* live streams: SSE, WebSocket */
	HUB_ROLE_MANAGE = 1u << 4,    /* create, change, delete queues... */
	HUB_ROLE_ADMIN = 1u << 5,     /* all of it, and the operator's routes */
};
#define HUB_ROLES_ALL 0x3fu

/* Parses a comma-separated role list ("publish, consume"): the bits into
 * *roles. False on an unknown role (its name then in *bad, borrowed from
 * s, length *bad_len). */
bool hub_auth_roles_parse(const char *s, unsigned *roles, const char **bad,
			  size_t *bad_len);

/* Room for an identity's queue patterns (NUL-separated). */
#define HUB_AUTH_QUEUES_MAX 1024

/* Who a request (or a WebSocket connection) is. Plain data: copyable. */
struct hub_ident {
	bool resolved;       /* false: no identity (yet) */
	char project[FEED_PROJECT_MAX + 1];
	/* The credential names no project: the request's X-Project-Id
	 * says (an operator's token, project "*"). */
	bool any_project;
	unsigned roles;      /* enum hub_role bits */
	/* Queue-name glob patterns (fnmatch), n_queues of them one after
	 * the other, each NUL-terminated; none: every queue. */
	char queues[HUB_AUTH_QUEUES_MAX];
	size_t n_queues;
	uint64_t expires_ms; /* the credential's end (JWT exp); 0: none */
	bool presigned;      /* a pre-signed URL: this request only */
};

/* Adds a queue pattern to id; false when there is no room. */
bool hub_ident_add_queue(struct hub_ident *id, const char *pattern,
			 size_t len);
/* Whether id may touch queue `name` (its patterns; true when none). */
bool hub_ident_queue_ok(const struct hub_ident *id, const char *name);

/* What a transport read of a request's credentials; all borrowed, NULL
 * when absent. */
struct hub_auth_cred {
	/* `Authorization: Bearer T`, `X-Auth-Token: T`, or on WebSocket
	 * upgrades the access_token parameter or a "bearer.T" subprotocol. */
	const char *token;
	const char *project;  /* X-Project-Id (checked by the transport) */
	const char *roles;    /* X-Roles: counts only under `none` */
	/* A pre-signed URL's four values (URL-* headers or, where the
	 * route allows, the query): has_signature when URL-Signature was
	 * sent at all, even empty. */
	bool has_signature;
	const char *signature, *expires, *methods, *paths;
	/* Why the credentials cannot be read at all (a malformed
	 * Authorization header...): then a 401 with this text. */
	const char *malformed;
};

enum hub_auth_verdict {
	HUB_AUTH_OK,        /* the identity is set: go on */
	HUB_AUTH_REFUSED,   /* answered (401, 403 or the signature's 404) */
	HUB_AUTH_PENDING,   /* the strategy answers later (hub_auth_wait) */
	/* The strategy cannot tell now (Keystone does not answer): a 503,
	 * never a pass. hub_auth_request() answers it and returns REFUSED;
	 * hub_auth_resolve() returns it as is. */
	HUB_AUTH_UNAVAILABLE,
};

/*
 * A request parked while its strategy works (PENDING). The transport
 * owns it (inside its request), sets `done` and keeps it alive until
 * `done` ran or it called hub_auth_cancel(). done() runs on the loop
 * thread, never from inside the call that returned PENDING, with
 * HUB_AUTH_OK (r->ident set: dispatch) or HUB_AUTH_REFUSED (r's reply
 * set - 401, 403 or 503: send it).
 */
struct hub_auth_wait {
	void (*done)(struct hub_auth_wait *w, enum hub_auth_verdict v);
	/* Set by auth.c: what it resumes (r NULL: a credential alone,
	 * hub_auth_resolve(); then done() gets the verdict as is, and why
	 * says why when it is REFUSED or UNAVAILABLE). */
	struct hub_auth_ctx *auth;
	struct hub_req *r;
	struct hub_ident *id;
	const char *why;
	int need;                  /* enum hub_auth of the route */
	char queue[FEED_NAME_MAX + 1];
	void *strategy_data;       /* the strategy's, while it works */
};

/*
 * A strategy (auth_none.c's table in auth.c, auth_tokens.c, auth_jwt.c,
 * auth_keystone.c). All on the loop thread.
 */
struct hub_auth_strategy {
	const char *name; /* --auth NAME */
	/* Reads its settings and files into a new state. 0, or -1 after
	 * logging why (at a reload the old state is kept). */
	int (*load)(const struct hub_config *cfg, void **state);
	void (*free)(void *state);
	/*
	 * Resolves a token at now_ms: fills *id and returns HUB_AUTH_OK;
	 * or HUB_AUTH_REFUSED with why (a 401's description, static
	 * text); or HUB_AUTH_UNAVAILABLE with why when it cannot tell (its
	 * server is down); or, only when w is not NULL, HUB_AUTH_PENDING,
	 * keeping w: then, once it knows - on a later loop pass, never
	 * inside verify() - it fills *w->id and calls
	 * hub_auth_wait_done(w, verdict, why), unless cancel(state, w) came
	 * first. A strategy that never answers later leaves cancel NULL.
	 */
	enum hub_auth_verdict (*verify)(void *state, const char *token,
					uint64_t now_ms, struct hub_ident *id,
					const char **why,
					struct hub_auth_wait *w);
	void (*cancel)(void *state, struct hub_auth_wait *w);
	/*
	 * Optional, for a strategy that answers later: its lasting part -
	 * the pending waits, the requests out, the cache - which a reload
	 * must not drop. live_new() makes it once the loop runs
	 * (hub_auth_start(), with the HTTP client it asks with); attach()
	 * hands it to every state load() makes, at start and at each
	 * reload, before that state is used (and before the old state is
	 * freed); live_free() ends it before the loop goes (hub_auth_stop():
	 * pending waits are dropped, their requests go with the loop).
	 */
	void *(*live_new)(const struct hub_hclient *client);
	void (*attach)(void *state, void *live);
	void (*live_free)(void *live);
};

/* The strategies (auth_tokens.c, auth_jwt.c, auth_keystone.c). */
extern const struct hub_auth_strategy hub_auth_tokens;
extern const struct hub_auth_strategy hub_auth_jwt;
extern const struct hub_auth_strategy hub_auth_keystone;

/* ---------------------------------------------------- the server's auth */

struct hub_auth_ctx; /* auth.c */

/* The strategy of cfg->auth, loaded. NULL after logging why. */
struct hub_auth_ctx *hub_auth_new(const struct hub_config *cfg);
/* Once the loop runs, before the first request: the strategy's lasting
 * part, with the client it may ask with (borrowed; it outlives a until
 * hub_auth_stop). 0, or -1 after logging why. */
int hub_auth_start(struct hub_auth_ctx *a, const struct hub_hclient *client);
/* Before the loop goes: ends what hub_auth_start began (waits dropped). */
void hub_auth_stop(struct hub_auth_ctx *a);
void hub_auth_free(struct hub_auth_ctx *a);
/* SIGHUP: loads the strategy's files again; on failure keeps the state
 * it had (and logs). Requests and connections go on. */
void hub_auth_reload(struct hub_auth_ctx *a);
/* Whether clients must authenticate (a strategy other than `none`). */
bool hub_auth_required(const struct hub_auth_ctx *a);
/*
 * Protected mode: with --auth none the server listens only on a loopback
 * address unless --insecure-no-auth is set. -1 after printing why.
 */
int hub_auth_check_listen(const struct hub_config *cfg);

/* ------------------------------------------------------------ requests */

/*
 * The layer: r's credentials c, against what route m needs. Resolves the
 * identity into *id (the transport's storage, kept for r's life), sets
 * r->ident and r->project. Returns HUB_AUTH_OK (dispatch r), REFUSED
 * (r answered) or PENDING (w is used; see struct hub_auth_wait).
 */
enum hub_auth_verdict hub_auth_request(struct hub_auth_ctx *a, struct hub_req *r,
				       const struct hub_auth_cred *c,
				       const struct hub_route_match *m,
				       struct hub_ident *id,
				       struct hub_auth_wait *w);
/* Drops a parked request (the client left): the strategy's cancel()
 * runs; done() will not. Only for a wait that is PENDING. */
void hub_auth_cancel(struct hub_auth_wait *w);
/* A strategy's later answer (see struct hub_auth_strategy). */
void hub_auth_wait_done(struct hub_auth_wait *w, enum hub_auth_verdict v,
			const char *why);

/*
 * A credential alone (WebSocket: at the upgrade, and the authenticate
 * action): the identity of token c->token, or of the headers under
 * `none`. HUB_AUTH_REFUSED with *why when it is not good, UNAVAILABLE
 * (with *why) when the strategy cannot tell now; PENDING only
 * when w is not NULL (w->r must be NULL, w->done set): then done() comes
 * later with the verdict, *id filled, w->why.
 */
enum hub_auth_verdict hub_auth_resolve(struct hub_auth_ctx *a,
				       const struct hub_auth_cred *c,
				       uint64_t now_ms, struct hub_ident *id,
				       const char **why,
				       struct hub_auth_wait *w);
/*
 * Whether identity id may do what `need` (enum hub_auth) asks on `queue`
 * (NULL or "": no queue) at now_ms. False with *status (401: expired,
 * 403) and *why.
 */
bool hub_auth_permits(const struct hub_ident *id, int need, const char *queue,
		      uint64_t now_ms, int *status, const char **why);
/* Replies 401 (with WWW-Authenticate), 403 or 503 with a JSON body. */
void hub_auth_reply(struct hub_req *r, int status, const char *why);

/* Whether r's identity may see queue `name` (listings). */
bool hub_auth_queue_ok(const struct hub_req *r, const char *name);
/* Whether r's identity is held to queue patterns. */
bool hub_auth_queues_limited(const struct hub_req *r);

#endif /* HERALD_HUB_AUTH_H */
