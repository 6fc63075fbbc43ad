/*
 * auth.c - who may do what: the layer before routing (auth.h).
 *
 * Every request a transport hands on passes hub_auth_request() once,
 * before its handler, in this order:
 *
 *   URL-Signature sent?     a pre-signed URL (sign.c), in every strategy:
 *                           good: the signed method + paths, for the
 *                           signed project, this request only; bad (even
 *                           empty): Zaqar's 404
 *   the route needs none    versions, home documents, ping, dashboard: on
 *   the strategy            none: X-Project-Id and X-Roles as sent (today's
 *                           behaviour); tokens, jwt (keystone): the token
 *                           -> identity, or 401; a strategy may answer
 *                           later (HUB_AUTH_PENDING, struct hub_auth_wait)
 *   the identity's rights   expiry (401), the route's need against the
 *                           roles (403), the route's queue against the
 *                           queue patterns (403)
 *
 * Then r->ident is the identity and r->project its project: handlers read
 * nothing else. X-Project-Id counts only under `none`, for a pre-signed
 * URL (which is signed for it) and for a credential of project "*".
 *
 * What each role grants (docs/security.md has the table): a route's need
 * (enum hub_auth, route.h) is met by any role in need_roles[need]:
 * consume, subscribe and manage include read (they see the messages
 * anyway); admin includes everything and alone meets HUB_AUTH_ADMIN.
 *
 * Reloads (SIGHUP, hub_auth_reload): the strategy loads its files into a
 * new state; only when that worked does it replace the old one, so a bad
 * file leaves the server as it was (and says why in the log).
 *
 * Loop thread only.
 */
#include <arpa/inet.h>
#include <fnmatch.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "auth.h"
#include "log.h"
#include "metrics.h"
#include "req.h"
#include "route.h"
#include "sign.h"

struct hub_auth_ctx {
	const struct hub_auth_strategy *s; /* NULL: none */
	void *state;
	void *live;  /* the strategy's lasting part (live_new), or NULL */
	const struct hub_config *cfg;
};

/* The strategies --auth can name; NULL: none. */
static const struct {
	const char *name;
	const struct hub_auth_strategy *s;
} strategies[] = {
	{"none", NULL},
	{"tokens", &hub_auth_tokens},
	{"jwt", &hub_auth_jwt},
	{"keystone", &hub_auth_keystone},
};

/* ---------------------------------------------------------------- roles */

static const struct {
	const char *name;
	unsigned bit;
} role_names[] = {
	{"read", HUB_ROLE_READ},       {"publish", HUB_ROLE_PUBLISH},
	{"consume", HUB_ROLE_CONSUME}, {"subscribe", HUB_ROLE_SUBSCRIBE},
	{"manage", HUB_ROLE_MANAGE},   {"admin", HUB_ROLE_ADMIN},
};

/* Any one of these roles meets the need (enum hub_auth). */
static const unsigned need_roles[] = {
	[HUB_AUTH_NONE] = HUB_ROLES_ALL,
	[HUB_AUTH_READ] = HUB_ROLE_READ | HUB_ROLE_CONSUME |
			  HUB_ROLE_SUBSCRIBE | HUB_ROLE_MANAGE | HUB_ROLE_ADMIN,
	[HUB_AUTH_PUBLISH] = HUB_ROLE_PUBLISH | HUB_ROLE_ADMIN,
	[HUB_AUTH_CONSUME] = HUB_ROLE_CONSUME | HUB_ROLE_ADMIN,
	[HUB_AUTH_SUBSCRIBE] = HUB_ROLE_SUBSCRIBE | HUB_ROLE_ADMIN,
	[HUB_AUTH_WRITE] = HUB_ROLE_MANAGE | HUB_ROLE_ADMIN,
	[HUB_AUTH_ADMIN] = HUB_ROLE_ADMIN,
};

bool hub_auth_roles_parse(const char *s, unsigned *roles, const char **bad,
			  size_t *bad_len)
{
	*roles = 0;
	while (*s) {
		size_t len, i;

		s += strspn(s, " \t,");
		len = strcspn(s, ",");
		while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
			len--;
		for (i = 0; len && i < sizeof(role_names) / sizeof(*role_names);
		     i++) {
			if (strlen(role_names[i].name) == len &&
			    strncasecmp(s, role_names[i].name, len) == 0)
				break;
		}
		if (len && i == sizeof(role_names) / sizeof(*role_names)) {
			*bad = s;
			*bad_len = len;
			return false;
		}
		if (len)
			*roles |= role_names[i].bit;
		s += strcspn(s, ",");
	}
	return true;
}

/* Under `none`: whether X-Roles lists admin (other names are Keystone's
 * and the operator's business: ignored, as before). */
static bool roles_admin(const char *roles)
{
	while (roles && *roles) {
		size_t len;

		roles += strspn(roles, " ,");
		len = strcspn(roles, ",");
		while (len && roles[len - 1] == ' ')
			len--;
		if (len == 5 && strncmp(roles, "admin", 5) == 0)
			return true;
		roles += strcspn(roles, ",");
	}
	return false;
}

/* --------------------------------------------------------------- queues */

bool hub_ident_add_queue(struct hub_ident *id, const char *pattern,
			 size_t len)
{
	size_t used = 0;

	for (size_t i = 0; i < id->n_queues; i++)
		used += strlen(id->queues + used) + 1;
	if (len == 0 || memchr(pattern, '\0', len) ||
	    used + len + 1 > sizeof(id->queues))
		return false;
	memcpy(id->queues + used, pattern, len);
	id->queues[used + len] = '\0';
	id->n_queues++;
	return true;
}

bool hub_ident_queue_ok(const struct hub_ident *id, const char *name)
{
	const char *p = id->queues;

	if (id->n_queues == 0)
		return true;
	for (size_t i = 0; i < id->n_queues; i++, p += strlen(p) + 1)
		if (fnmatch(p, name, 0) == 0)
			return true;
	return false;
}

bool hub_auth_queue_ok(const struct hub_req *r, const char *name)
{
	return !r->ident || hub_ident_queue_ok(r->ident, name);
}

bool hub_auth_queues_limited(const struct hub_req *r)
{
	return r->ident && r->ident->n_queues > 0;
}

/* ------------------------------------------------------ the server's */

struct hub_auth_ctx *hub_auth_new(const struct hub_config *cfg)
{
	struct hub_auth_ctx *a = NULL;
	size_t i;

	for (i = 0; i < sizeof(strategies) / sizeof(*strategies); i++)
		if (strcmp(cfg->auth, strategies[i].name) == 0)
			break;
	if (i == sizeof(strategies) / sizeof(*strategies)) {
		hub_log(HUB_LOG_ERROR, "auth: unknown strategy \"%s\" (none, "
			"tokens, jwt or keystone)", cfg->auth);
		return NULL;
	}
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->cfg = cfg;
	a->s = strategies[i].s;
	if (a->s && a->s->load(cfg, &a->state)) {
		free(a);
		return NULL;
	}
	return a;
}

int hub_auth_start(struct hub_auth_ctx *a, const struct hub_hclient *client)
{
	if (!a || !a->s || !a->s->live_new)
		return 0;
	a->live = a->s->live_new(client);
	if (!a->live) {
		hub_log(HUB_LOG_ERROR, "auth: cannot start the %s strategy",
			a->s->name);
		return -1;
	}
	a->s->attach(a->state, a->live);
	return 0;
}

void hub_auth_stop(struct hub_auth_ctx *a)
{
	if (!a || !a->live)
		return;
	a->s->attach(a->state, NULL);
	a->s->live_free(a->live);
	a->live = NULL;
}

void hub_auth_free(struct hub_auth_ctx *a)
{
	if (!a)
		return;
	hub_auth_stop(a);
	if (a->s)
		a->s->free(a->state);
	free(a);
}

void hub_auth_reload(struct hub_auth_ctx *a)
{
	void *fresh = NULL;

	if (!a || !a->s)
		return;
	if (a->s->load(a->cfg, &fresh)) {
		hub_log(HUB_LOG_ERROR, "auth: reload failed: the %s strategy "
			"keeps the credentials it had", a->s->name);
		return;
	}
	/* The pending waits stay where they are: in the lasting part,
	 * which the fresh state takes over. */
	if (a->live)
		a->s->attach(fresh, a->live);
	a->s->free(a->state);
	a->state = fresh;
	hub_log(HUB_LOG_INFO, "auth: %s reloaded", a->s->name);
}

bool hub_auth_required(const struct hub_auth_ctx *a)
{
	return a && a->s;
}

/* Whether every address `host` stands for is a loopback address. */
static bool loopback_only(const char *host)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
				 .ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL;
	bool ok;

	if (getaddrinfo(host, NULL, &hints, &res) || !res)
		return false;
	ok = true;
	for (struct addrinfo *ai = res; ai && ok; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET) {
			const struct sockaddr_in *in = (void *)ai->ai_addr;

			ok = (ntohl(in->sin_addr.s_addr) >> 24) == 127;
		} else if (ai->ai_family == AF_INET6) {
			const struct sockaddr_in6 *in6 = (void *)ai->ai_addr;

			ok = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
		} else {
			ok = false;
		}
	}
	freeaddrinfo(res);
	return ok;
}

int hub_auth_check_listen(const struct hub_config *cfg)
{
	if (strcmp(cfg->auth, "none") || cfg->insecure_no_auth ||
	    loopback_only(cfg->listen_host))
		return 0;
	fprintf(stderr,
		"herald: refusing to listen on %s with --auth none: anyone who "
		"reaches that address could read, change and delete every "
		"queue.\nherald: choose --auth tokens, jwt or keystone (see "
		"docs/security.md), listen on 127.0.0.1, or accept the risk "
		"with --insecure-no-auth.\n",
		cfg->listen_host);
	return -1;
}

/* ------------------------------------------------------------ checking */

bool hub_auth_permits(const struct hub_ident *id, int need, const char *queue,
		      uint64_t now_ms, int *status, const char **why)
{
	if (need == HUB_AUTH_NONE)
		return true;
	*status = 401;
	if (!id || !id->resolved) {
		*why = "This request needs credentials.";
		return false;
	}
	if (id->expires_ms && now_ms >= id->expires_ms) {
		*why = "The credential expired.";
		return false;
	}
	*status = 403;
	if (need < 0 || (size_t)need >= sizeof(need_roles) / sizeof(*need_roles) ||
	    !(id->roles & need_roles[need])) {
		*why = "You are not authorized to complete this action.";
		return false;
	}
	if (queue && *queue && !hub_ident_queue_ok(id, queue)) {
		*why = "This credential may not use this queue.";
		return false;
	}
	return true;
}

void hub_auth_reply(struct hub_req *r, int status, const char *why)
{
	if (status == 503) {
		hub_header(r, "Retry-After", "5");
		hub_reply_error(r, 503, "Service Unavailable", "%s", why);
		return;
	}
	hub_metrics_reject(status == 401 ? HUB_REJECT_UNAUTHENTICATED
					 : HUB_REJECT_FORBIDDEN);
	if (status == 401) {
		hub_header(r, "WWW-Authenticate", "Bearer realm=\"herald\"");
		hub_reply_error(r, 401, "Unauthorized", "%s", why);
	} else {
		/* Zaqar's title for a refused policy. */
		hub_reply_error(r, 403, "Not authorized", "%s", why);
	}
}

/* Under `none`: the identity the headers claim. */
static void ident_none(const struct hub_auth_cred *c, struct hub_ident *id)
{
	id->resolved = true;
	id->any_project = true;
	id->roles = HUB_ROLES_ALL & ~HUB_ROLE_ADMIN;
	if (roles_admin(c->roles))
		id->roles |= HUB_ROLE_ADMIN;
}

enum hub_auth_verdict hub_auth_resolve(struct hub_auth_ctx *a,
				       const struct hub_auth_cred *c,
				       uint64_t now_ms, struct hub_ident *id,
				       const char **why,
				       struct hub_auth_wait *w)
{
	enum hub_auth_verdict v;

	memset(id, 0, sizeof(*id));
	if (!hub_auth_required(a)) {
		ident_none(c, id);
		return HUB_AUTH_OK;
	}
	if (w) {
		w->auth = a;
		w->id = id;
	}
	if (c->malformed) {
		*why = c->malformed;
		return HUB_AUTH_REFUSED;
	}
	if (!c->token || !*c->token) {
		*why = "This request needs credentials: a token in "
		       "\"Authorization: Bearer\" or \"X-Auth-Token\".";
		return HUB_AUTH_REFUSED;
	}
	v = a->s->verify(a->state, c->token, now_ms, id, why, w);
	if (v == HUB_AUTH_OK)
		id->resolved = true;
	if (v == HUB_AUTH_PENDING && !w) {
		/* A caller that cannot wait (the contract says strategies
		 * answer such calls at once; a safe answer if one does not). */
		*why = "This credential cannot be checked here.";
		v = HUB_AUTH_UNAVAILABLE;
	}
	return v;
}

/* A request with URL-Signature: Zaqar's check, whatever the strategy. */
static enum hub_auth_verdict presigned(struct hub_auth_ctx *a, struct hub_req *r,
				       const struct hub_auth_cred *c,
				       struct hub_ident *id)
{
	static const char *const methods[HUB_METHOD_COUNT] = {
		[HUB_GET] = "GET", [HUB_HEAD] = "HEAD", [HUB_POST] = "POST",
		[HUB_PUT] = "PUT", [HUB_PATCH] = "PATCH",
		[HUB_DELETE] = "DELETE", [HUB_OPTIONS] = "OPTIONS",
	};
	const struct hub_sign_req q = {
		.method = r->method < HUB_METHOD_COUNT ? methods[r->method] : "",
		.path = r->path,
		.project = c->project ? c->project : "",
		.now_ms = r->now_ms,
		.signature = c->signature,
		.expires = c->expires,
		.methods = c->methods,
		.paths = c->paths,
	};

	if (!hub_sign_check(a->cfg->signing_key, &q)) {
		hub_metrics_reject(HUB_REJECT_BAD_SIGNATURE);
		hub_reply_error(r, 404, "404 Not Found", NULL);
		return HUB_AUTH_REFUSED;
	}
	/* The signature names the method and the paths: what it signed is
	 * allowed, on the queue in them, and nothing else. */
	id->resolved = true;
	id->presigned = true;
	id->roles = HUB_ROLES_ALL & ~HUB_ROLE_ADMIN;
	snprintf(id->project, sizeof(id->project), "%s", q.project);
	r->project = id->project;
	return HUB_AUTH_OK;
}

/* The identity is known (or refused): its rights on the route. */
static enum hub_auth_verdict settle(struct hub_req *r,
				    const struct hub_auth_cred *c, int need,
				    const char *queue, struct hub_ident *id,
				    enum hub_auth_verdict v, const char *why)
{
	int status = 401;

	if (v == HUB_AUTH_OK &&
	    !hub_auth_permits(id, need, queue, r->now_ms, &status, &why))
		v = HUB_AUTH_REFUSED;
	if (v == HUB_AUTH_UNAVAILABLE)
		status = 503;
	if (v != HUB_AUTH_OK) {
		hub_auth_reply(r, status, why);
		return HUB_AUTH_REFUSED;
	}
	if (id->any_project)
		snprintf(id->project, sizeof(id->project), "%s",
			 c && c->project ? c->project : "");
	r->project = id->project;
	return HUB_AUTH_OK;
}

enum hub_auth_verdict hub_auth_request(struct hub_auth_ctx *a, struct hub_req *r,
				       const struct hub_auth_cred *c,
				       const struct hub_route_match *m,
				       struct hub_ident *id,
				       struct hub_auth_wait *w)
{
	int need = m->attrs->auth;
	enum hub_auth_verdict v;
	const char *why = NULL;

	memset(id, 0, sizeof(*id));
	r->ident = id;
	if (c->has_signature)
		return presigned(a, r, c, id);
	/* OPTIONS tells only the methods (a browser's CORS preflight never
	 * carries credentials). */
	if (r->method == HUB_OPTIONS)
		need = HUB_AUTH_NONE;
	if (need == HUB_AUTH_NONE && hub_auth_required(a)) {
		/* Open routes: no identity asked, no project claimed. */
		r->project = "";
		return HUB_AUTH_OK;
	}
	w->r = r;
	w->need = need;
	snprintf(w->queue, sizeof(w->queue), "%s", m->queue);
	v = hub_auth_resolve(a, c, r->now_ms, id, &why, w);
	if (v == HUB_AUTH_PENDING)
		return v;
	return settle(r, c, need, m->queue, id, v, why);
}

void hub_auth_cancel(struct hub_auth_wait *w)
{
	if (w && w->auth && w->auth->s && w->auth->s->cancel)
		w->auth->s->cancel(w->auth->state, w);
	if (w)
		w->strategy_data = NULL;
}

void hub_auth_wait_done(struct hub_auth_wait *w, enum hub_auth_verdict v,
			const char *why)
{
	w->strategy_data = NULL;
	w->why = why ? why : "Authentication failed.";
	if (v == HUB_AUTH_OK)
		w->id->resolved = true;
	/* The project a "*" credential takes was sent with the request:
	 * the transport still has it in r->project. */
	if (w->r)
		v = settle(w->r, &(struct hub_auth_cred){.project = w->r->project},
			   w->need, w->queue, w->id, v, w->why);
	w->done(w, v);
}
