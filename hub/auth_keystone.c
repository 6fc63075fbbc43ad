/*
 * auth_keystone.c - the `keystone` strategy (auth.h): OpenStack tokens,
 * sent as X-Auth-Token (or Authorization: Bearer), validated by Keystone
 * v3 the way keystonemiddleware's auth_token validates them for Zaqar
 * (docs/security.md#keystone).
 *
 *   verify(token)                          Keystone
 *     cache hit  -> OK / 401 at once
 *     a check of that token already out -> wait with it
 *     else a check:        (no service token yet, or about to expire:)
 *                          POST /v3/auth/tokens  password auth of the
 *                          service user -> X-Subject-Token, expires_at
 *                          GET /v3/auth/tokens?nocatalog
 *                            X-Auth-Token: service, X-Subject-Token: token
 *     200 -> token.project.id, token.roles[].name, token.expires_at
 *     404 -> 401 (invalid, expired or revoked)
 *     401 -> the service token is stale: a fresh one, the check once more
 *     anything else, no answer in --keystone-timeout -> 503
 *
 * The identity: project = the token's project id (X-Project-Id is not
 * read), roles = the token's role names through --keystone-roles (by
 * default admin -> admin; member and _member_ -> read, publish, consume,
 * subscribe, manage; reader -> read; other names grant nothing, so a
 * token with none of them is authenticated and then refused with 403).
 * A token scoped to no project (unscoped, domain or system scope) is
 * refused with 401.
 *
 * Keystone is asked by the hclient (hclient.h): the lws client on the
 * server's own context, so the loop never blocks and no thread is
 * needed; the answers come back as callbacks on the loop. The URL's host
 * name is resolved when the settings are loaded (at start, at SIGHUP),
 * since lws 4.1.6 would resolve it on the loop for each connection.
 *
 * Two parts, because a reload must not drop a request waiting for
 * Keystone (auth.h):
 *
 *   struct ks_state   the settings, made by load(), replaced at SIGHUP
 *   struct ks_live    made once (live_new), attached to each state:
 *                     the cache, the checks out with their waiters,
 *                     the service token and its fetch
 *
 * The cache: cache-size slots found by the token's SHA-256 (tokens are
 * not kept, only their digests), 8 slots probed, the one nearest its end
 * replaced when all are taken. A good token is trusted for
 * --keystone-cache-seconds, never past its expires_at; a token Keystone
 * does not know for at most NEG_CACHE_MS (so a fresh token is not
 * refused for long, and a flood of bad ones does not reach Keystone).
 * Windows run on the API's clock (hub_now_ms, which tests move); the
 * service token's renewal on the real one, as Keystone's expires_at is.
 * A reload empties the cache (a changed role map counts at once).
 *
 * Loop thread only.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <jansson.h>
#include <libwebsockets.h>
#include <openssl/evp.h>

#include "auth.h"
#include "clock.h"
#include "hclient.h"
#include "log.h"

#define TOKEN_MAX 1024            /* the longest token taken (fernet ~200) */
#define NEG_CACHE_MS 5000         /* an unknown token is remembered */
#define SERVICE_RENEW_MS 300000   /* the service token is renewed this
				   * long before its end */
#define CHECKS_MAX 4096           /* checks out at once; more: 503 */
#define BODY_MAX (1u << 20)       /* Keystone's answers, at most */
#define PROBE 8

struct rolemap {
	char name[64];
	unsigned roles;
};

struct ks_live;

struct ks_state {
	bool tls;
	char address[INET6_ADDRSTRLEN];
	int port;
	char host[300];     /* the Host header */
	char base[256];     /* the URL's path, no trailing "/" nor "/v3" */
	char *auth_body;    /* the service user's password auth (JSON) */
	uint64_t cache_ms;
	uint32_t cache_size;
	unsigned timeout_s;
	struct rolemap *roles;
	size_t n_roles;
	struct ks_live *live;
};

struct entry {
	unsigned char digest[32];
	bool used, valid;
	uint64_t until_ms;   /* trusted until (API clock) */
	uint64_t expires_ms; /* the token's end (API clock) */
	unsigned roles;
	char project[FEED_PROJECT_MAX + 1];
};

struct check;

struct waiter {
	struct waiter *next;
	struct hub_auth_wait *w;
	struct check *check;
};

/* One token's validation, shared by every request that waits for it. */
struct check {
	struct check *next;
	struct ks_live *live;
	unsigned char digest[32];
	char token[TOKEN_MAX + 1];
	struct waiter *waiters;
	bool out;           /* q is at the client */
	bool retried;       /* sent again with a fresh service token */
	struct hub_hclient_req q;
	char address[INET6_ADDRSTRLEN];
	char host[300];
	char path[320];
	char headers[2 * (TOKEN_MAX + HUB_HCLIENT_HEADER_MAX) + 64];
};

struct ks_live {
	struct hub_hclient client;
	struct ks_state *st;          /* the settings now */
	struct entry *cache;
	size_t cache_n;
	struct check *checks;
	size_t n_checks;
	/* The service token, and its fetch. */
	char service[HUB_HCLIENT_HEADER_MAX];
	uint64_t service_renew_ms;    /* real time: renew from then on */
	bool fetching;
	struct hub_hclient_req sq;
	char sq_address[INET6_ADDRSTRLEN];
	char sq_host[300];
	char sq_path[320];
	char *sq_body;
};

/* ------------------------------------------------------------ helpers */

static uint64_t real_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Keystone's "2026-12-02T09:30:00.000000Z" as ms since the epoch; 0 when
 * it is not that. */
static uint64_t parse_time(const char *s)
{
	struct tm tm;
	int y, mo, d, h, mi, sec;
	time_t t;

	if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi,
			 &sec) != 6)
		return 0;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	return t > 0 ? (uint64_t)t * 1000u : 0;
}

/* Whether a token may go into a header: printable ASCII, no blanks. */
static bool token_ok(const char *t)
{
	size_t n = strlen(t);

	if (n == 0 || n > TOKEN_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)t[i] < 0x21 || (unsigned char)t[i] > 0x7e)
			return false;
	return true;
}

/* Packs "name:\0value\0" pairs (hclient.h) into buf; NULL names end. */
static void pack_headers(char *buf, const char *const *kv)
{
	for (; *kv; kv += 2) {
		size_t n = strlen(kv[0]) + 1, m = strlen(kv[1]) + 1;

		memcpy(buf, kv[0], n);
		memcpy(buf + n, kv[1], m);
		buf += n + m;
	}
	*buf = '\0';
}

/* -------------------------------------------------------------- cache */

static struct entry *cache_slot(struct ks_live *l, const unsigned char *dg,
				uint64_t now_ms, bool for_insert)
{
	size_t at, best = SIZE_MAX;

	if (!l->cache_n)
		return NULL;
	memcpy(&at, dg, sizeof(at));
	for (size_t k = 0; k < PROBE && k < l->cache_n; k++) {
		size_t i = (at + k) % l->cache_n;
		struct entry *e = &l->cache[i];

		if (e->used && memcmp(e->digest, dg, 32) == 0)
			return for_insert || e->until_ms > now_ms ? e : NULL;
		if (!for_insert)
			continue;
		if (!e->used || e->until_ms <= now_ms)
			return e;
		if (best == SIZE_MAX || e->until_ms < l->cache[best].until_ms)
			best = i;
	}
	return for_insert && best != SIZE_MAX ? &l->cache[best] : NULL;
}

static void cache_put(struct ks_live *l, const struct entry *from,
		      uint64_t until_ms)
{
	struct entry *e;

	if (until_ms <= hub_now_ms())
		return;
	e = cache_slot(l, from->digest, hub_now_ms(), true);
	if (!e)
		return;
	*e = *from;
	e->used = true;
	e->until_ms = until_ms;
}

static void fill_ident(const struct entry *e, struct hub_ident *id)
{
	memset(id, 0, sizeof(*id));
	snprintf(id->project, sizeof(id->project), "%s", e->project);
	id->roles = e->roles;
	id->expires_ms = e->expires_ms;
}

/* ------------------------------------------------------------- checks */

static void check_send(struct check *c);
static int service_fetch(struct ks_live *l);

/* Unlinks c and frees it (its waiters answered already). */
static void check_free(struct check *c)
{
	struct ks_live *l = c->live;

	for (struct check **p = &l->checks; *p; p = &(*p)->next) {
		if (*p == c) {
			*p = c->next;
			break;
		}
	}
	l->n_checks--;
	if (c->out)
		l->client.cancel(l->client.arg, &c->q);
	free(c);
}

/* Answers c's waiters (e: the identity, for OK) and ends c. */
static void check_answer(struct check *c, enum hub_auth_verdict v,
			 const struct entry *e, const char *why)
{
	struct waiter *w = c->waiters;

	c->waiters = NULL;
	check_free(c);
	while (w) {
		struct waiter *next = w->next;

		if (v == HUB_AUTH_OK)
			fill_ident(e, w->w->id);
		hub_auth_wait_done(w->w, v, why);
		free(w);
		w = next;
	}
}

/* The service token is there (and fresh): the checks waiting for it go. */
static void checks_resume(struct ks_live *l, bool service_ok)
{
	struct check *c;

	for (;;) {
		/* A check that found the token stale again waits for the
		 * next fetch, with the rest. */
		if (service_ok && l->fetching)
			return;
		for (c = l->checks; c && c->out; c = c->next)
			;
		if (!c)
			return;
		if (service_ok)
			check_send(c); /* out, or answered 503 */
		else
			check_answer(c, HUB_AUTH_UNAVAILABLE, NULL,
				     "The identity service is unavailable.");
	}
}

/* The identity Keystone's 200 describes, into e; NULL, or why not. */
static const char *parse_validation(const struct ks_state *st,
				    const struct hub_buf *body, struct entry *e)
{
	json_t *j = json_loadb(body->data ? body->data : "", body->len, 0, NULL);
	json_t *token = json_object_get(j, "token"), *role;
	const char *project = json_string_value(
		json_object_get(json_object_get(token, "project"), "id"));
	uint64_t expires = parse_time(json_string_value(
		json_object_get(token, "expires_at")));
	uint64_t now_real = real_ms();
	const char *why = NULL;
	size_t i;

	if (!json_is_object(token) || !expires) {
		why = "-"; /* not Keystone's answer: 503 */
		goto out;
	}
	if (!project || !*project || strlen(project) > FEED_PROJECT_MAX) {
		why = "The token is not scoped to a project.";
		goto out;
	}
	if (expires <= now_real) {
		why = "The token expired.";
		goto out;
	}
	snprintf(e->project, sizeof(e->project), "%s", project);
	e->valid = true;
	e->expires_ms = hub_now_ms() + (expires - now_real);
	json_array_foreach(json_object_get(token, "roles"), i, role) {
		const char *name = json_string_value(json_object_get(role, "name"));

		for (size_t k = 0; name && k < st->n_roles; k++)
			if (strcasecmp(name, st->roles[k].name) == 0)
				e->roles |= st->roles[k].roles;
	}
out:
	json_decref(j);
	return why;
}

static void check_done(struct hub_hclient_req *q)
{
	struct check *c = lws_container_of(q, struct check, q);
	struct ks_live *l = c->live;
	const struct ks_state *st = l->st;
	struct entry e = {0};
	const char *why;
	uint64_t now = hub_now_ms(), until;

	c->out = false;
	memcpy(e.digest, c->digest, 32);
	switch (q->status) {
	case 200:
		why = parse_validation(st, &q->body_in, &e);
		if (why && strcmp(why, "-") == 0)
			break;
		if (why) {
			cache_put(l, &e, now + (st->cache_ms < NEG_CACHE_MS
						? st->cache_ms : NEG_CACHE_MS));
			check_answer(c, HUB_AUTH_REFUSED, NULL, why);
			return;
		}
		until = now + st->cache_ms;
		cache_put(l, &e, until < e.expires_ms ? until : e.expires_ms);
		check_answer(c, HUB_AUTH_OK, &e, NULL);
		return;
	case 404:
		cache_put(l, &e, now + (st->cache_ms < NEG_CACHE_MS
					? st->cache_ms : NEG_CACHE_MS));
		check_answer(c, HUB_AUTH_REFUSED, NULL, "The token is not valid.");
		return;
	case 400:
		check_answer(c, HUB_AUTH_REFUSED, NULL, "The token is not valid.");
		return;
	case 401:
		/* Our service token: revoked, or expired early. Once more
		 * with a fresh one. */
		if (!c->retried) {
			c->retried = true;
			l->service[0] = '\0';
			check_send(c);
			return;
		}
		break;
	default:
		break;
	}
	if (q->status)
		hub_log(HUB_LOG_WARN, "keystone: validating a token: status %d",
			q->status);
	else
		hub_log(HUB_LOG_WARN, "keystone: validating a token: %s",
			q->why ? q->why : "no answer");
	check_answer(c, HUB_AUTH_UNAVAILABLE, NULL,
		     "The identity service is unavailable.");
}

/* Sends c's validation, or waits for a service token; answers 503 when
 * neither can start. */
static void check_send(struct check *c)
{
	struct ks_live *l = c->live;
	const struct ks_state *st = l->st;
	const char *kv[] = {"x-auth-token:", l->service, "x-subject-token:",
			    c->token, NULL};

	if (!st) {
		check_answer(c, HUB_AUTH_UNAVAILABLE, NULL,
			     "The server is stopping.");
		return;
	}
	if (!l->service[0] || real_ms() >= l->service_renew_ms) {
		l->service[0] = '\0';
		if (!l->fetching && service_fetch(l))
			check_answer(c, HUB_AUTH_UNAVAILABLE, NULL,
				     "The identity service cannot be reached.");
		return; /* checks_resume() sends it */
	}
	snprintf(c->address, sizeof(c->address), "%s", st->address);
	snprintf(c->host, sizeof(c->host), "%s", st->host);
	snprintf(c->path, sizeof(c->path), "%s/v3/auth/tokens?nocatalog",
		 st->base);
	pack_headers(c->headers, kv);
	memset(&c->q, 0, sizeof(c->q));
	c->q.tls = st->tls;
	c->q.address = c->address;
	c->q.port = st->port;
	c->q.host = c->host;
	c->q.method = "GET";
	c->q.path = c->path;
	c->q.headers = c->headers;
	c->q.body_max = BODY_MAX;
	c->q.timeout_s = st->timeout_s;
	c->q.done = check_done;
	if (l->client.start(l->client.arg, &c->q)) {
		check_answer(c, HUB_AUTH_UNAVAILABLE, NULL,
			     "The identity service cannot be reached.");
		return;
	}
	c->out = true;
}

/* --------------------------------------------------- the service token */

static void service_done(struct hub_hclient_req *q)
{
	struct ks_live *l = lws_container_of(q, struct ks_live, sq);
	json_t *j;
	uint64_t expires, now = real_ms(), life;

	l->fetching = false;
	free(l->sq_body);
	l->sq_body = NULL;
	if (q->status != 201 || !q->header[0]) {
		hub_log(HUB_LOG_WARN, "keystone: the service user cannot "
			"authenticate: %s%d%s", q->status ? "status " : "",
			q->status, q->status ? "" : q->why ? q->why : "");
		checks_resume(l, false);
		return;
	}
	j = json_loadb(q->body_in.data ? q->body_in.data : "", q->body_in.len,
		       0, NULL);
	expires = parse_time(json_string_value(json_object_get(
		json_object_get(j, "token"), "expires_at")));
	json_decref(j);
	/* Renewed SERVICE_RENEW_MS before its end, or half way through a
	 * shorter life; a minute when its end is unknown. */
	life = expires > now ? expires - now : 60000;
	snprintf(l->service, sizeof(l->service), "%s", q->header);
	l->service_renew_ms = now + (life > 2 * SERVICE_RENEW_MS
					     ? life - SERVICE_RENEW_MS
					     : life / 2);
	checks_resume(l, true);
}

/* Starts the password auth of the service user: 0, or -1 when it cannot
 * start. */
static int service_fetch(struct ks_live *l)
{
	const struct ks_state *st = l->st;
	struct hub_hclient_req *q = &l->sq;

	l->sq_body = strdup(st->auth_body);
	if (!l->sq_body)
		return -1;
	snprintf(l->sq_address, sizeof(l->sq_address), "%s", st->address);
	snprintf(l->sq_host, sizeof(l->sq_host), "%s", st->host);
	snprintf(l->sq_path, sizeof(l->sq_path), "%s/v3/auth/tokens?nocatalog",
		 st->base);
	memset(q, 0, sizeof(*q));
	q->tls = st->tls;
	q->address = l->sq_address;
	q->port = st->port;
	q->host = l->sq_host;
	q->method = "POST";
	q->path = l->sq_path;
	q->body = l->sq_body;
	q->body_len = strlen(l->sq_body);
	q->keep_header = "x-subject-token:";
	q->body_max = BODY_MAX;
	q->timeout_s = st->timeout_s;
	q->done = service_done;
	if (l->client.start(l->client.arg, q)) {
		free(l->sq_body);
		l->sq_body = NULL;
		return -1;
	}
	l->fetching = true;
	return 0;
}

/* ----------------------------------------------------------- strategy */

static enum hub_auth_verdict ks_verify(void *state, const char *token,
				       uint64_t now_ms, struct hub_ident *id,
				       const char **why,
				       struct hub_auth_wait *w)
{
	struct ks_state *st = state;
	struct ks_live *l = st->live;
	unsigned char dg[32];
	unsigned int dlen = 0;
	const struct entry *e;
	struct check *c;
	struct waiter *wt;

	if (!token_ok(token)) {
		*why = "The token is not valid.";
		return HUB_AUTH_REFUSED;
	}
	if (!l || !EVP_Digest(token, strlen(token), dg, &dlen, EVP_sha256(),
			      NULL)) {
		*why = "The token cannot be checked now.";
		return HUB_AUTH_UNAVAILABLE;
	}
	e = cache_slot(l, dg, now_ms, false);
	if (e && e->valid) {
		fill_ident(e, id);
		return HUB_AUTH_OK;
	}
	if (e) {
		*why = "The token is not valid.";
		return HUB_AUTH_REFUSED;
	}
	if (!w) {
		*why = "The token cannot be checked here.";
		return HUB_AUTH_UNAVAILABLE;
	}
	for (c = l->checks; c && memcmp(c->digest, dg, 32); c = c->next)
		;
	if (!c) {
		if (l->n_checks >= CHECKS_MAX) {
			*why = "Too many tokens are being checked.";
			return HUB_AUTH_UNAVAILABLE;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			*why = "Out of memory.";
			return HUB_AUTH_UNAVAILABLE;
		}
		c->live = l;
		memcpy(c->digest, dg, 32);
		memcpy(c->token, token, strlen(token) + 1);
		c->next = l->checks;
		l->checks = c;
		l->n_checks++;
		/* No waiter yet: a check that fails at once answers nobody
		 * (and is gone); this request gets the 503 itself. */
		check_send(c);
		for (c = l->checks; c && memcmp(c->digest, dg, 32); c = c->next)
			;
		if (!c) {
			*why = "The identity service cannot be reached.";
			return HUB_AUTH_UNAVAILABLE;
		}
	}
	wt = calloc(1, sizeof(*wt));
	if (!wt) {
		*why = "Out of memory.";
		return HUB_AUTH_UNAVAILABLE;
	}
	wt->w = w;
	wt->check = c;
	wt->next = c->waiters;
	c->waiters = wt;
	w->strategy_data = wt;
	return HUB_AUTH_PENDING;
}

static void ks_cancel(void *state, struct hub_auth_wait *w)
{
	struct waiter *wt = w->strategy_data;

	(void)state;
	if (!wt)
		return;
	/* The check goes on: its answer still fills the cache. */
	for (struct waiter **p = &wt->check->waiters; *p; p = &(*p)->next) {
		if (*p == wt) {
			*p = wt->next;
			break;
		}
	}
	free(wt);
	w->strategy_data = NULL;
}

static void *ks_live_new(const struct hub_hclient *client)
{
	struct ks_live *l = calloc(1, sizeof(*l));

	if (l)
		l->client = *client;
	return l;
}

static void ks_attach(void *state, void *live)
{
	struct ks_state *st = state;
	struct ks_live *l = live;

	if (!l) {
		if (st->live)
			st->live->st = NULL;
		st->live = NULL;
		return;
	}
	st->live = l;
	l->st = st;
	/* New settings: nothing cached under the old ones counts. The
	 * service token is fetched again (the user may have changed). */
	free(l->cache);
	l->cache = calloc(st->cache_size, sizeof(*l->cache));
	l->cache_n = l->cache ? st->cache_size : 0;
	l->service[0] = '\0';
}

static void ks_live_free(void *live)
{
	struct ks_live *l = live;

	if (!l)
		return;
	while (l->checks) {
		struct check *c = l->checks;

		/* The requests waiting go with the loop: nobody is told. */
		while (c->waiters) {
			struct waiter *w = c->waiters;

			c->waiters = w->next;
			w->w->strategy_data = NULL;
			free(w);
		}
		check_free(c);
	}
	if (l->fetching)
		l->client.cancel(l->client.arg, &l->sq);
	free(l->sq_body);
	free(l->cache);
	free(l);
}

/* ------------------------------------------------------------- loading */

/* The URL into st (its host resolved); -1 after logging why. */
static int load_url(const struct hub_config *cfg, struct ks_state *st)
{
	char tmp[sizeof(cfg->keystone_url)];
	const char *prot, *ads, *path;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	size_t n;
	int rc;

	snprintf(tmp, sizeof(tmp), "%s", cfg->keystone_url);
	if (!strstr(cfg->keystone_url, "://") ||
	    lws_parse_uri(tmp, &prot, &ads, &st->port, &path) || !*ads ||
	    (strcmp(prot, "http") && strcmp(prot, "https"))) {
		hub_log(HUB_LOG_ERROR, "auth: --keystone-url \"%s\" is not an "
			"http(s) URL", cfg->keystone_url);
		return -1;
	}
	st->tls = strcmp(prot, "https") == 0;
	rc = getaddrinfo(ads, NULL, &hints, &res);
	if (rc || !res) {
		hub_log(HUB_LOG_ERROR, "auth: cannot resolve %s (--keystone-url): "
			"%s", ads, gai_strerror(rc));
		return -1;
	}
	inet_ntop(res->ai_family,
		  res->ai_family == AF_INET6
			  ? (const void *)&((struct sockaddr_in6 *)(void *)
						    res->ai_addr)->sin6_addr
			  : (const void *)&((struct sockaddr_in *)(void *)
						    res->ai_addr)->sin_addr,
		  st->address, sizeof(st->address));
	freeaddrinfo(res);
	if ((st->tls && st->port == 443) || (!st->tls && st->port == 80))
		snprintf(st->host, sizeof(st->host), "%s", ads);
	else
		snprintf(st->host, sizeof(st->host), strchr(ads, ':')
			 ? "[%s]:%d" : "%s:%d", ads, st->port);
	/* lws_parse_uri gives the path without its leading '/'. */
	snprintf(st->base, sizeof(st->base), "%s%s", *path ? "/" : "", path);
	n = strlen(st->base);
	while (n && st->base[n - 1] == '/')
		st->base[--n] = '\0';
	if (n >= 3 && strcmp(st->base + n - 3, "/v3") == 0)
		st->base[n - 3] = '\0';
	return 0;
}

/* The password file's first line into pw; -1 after logging why. */
static int load_password(const char *path, char *pw, size_t len)
{
	FILE *f = fopen(path, "r");

	if (!f || !fgets(pw, (int)len, f)) {
		hub_log(HUB_LOG_ERROR, "auth: cannot read the Keystone password "
			"from %s", path);
		if (f)
			fclose(f);
		return -1;
	}
	fclose(f);
	pw[strcspn(pw, "\r\n")] = '\0';
	if (!*pw) {
		hub_log(HUB_LOG_ERROR, "auth: %s holds no password", path);
		return -1;
	}
	return 0;
}

/* "ksrole=role,role;..." into st->roles; -1 after logging why. */
static int load_roles(const char *spec, struct ks_state *st)
{
	char buf[1024], *save = NULL, *item;

	snprintf(buf, sizeof(buf), "%s", spec);
	for (item = strtok_r(buf, ";", &save); item;
	     item = strtok_r(NULL, ";", &save)) {
		char *eq = strchr(item, '='), *name = item, *list;
		struct rolemap *v;
		const char *bad;
		size_t bad_len;
		unsigned roles;

		name += strspn(name, " \t");
		if (!eq || eq == name) {
			hub_log(HUB_LOG_ERROR, "auth: --keystone-roles: \"%s\" is "
				"not KEYSTONE-ROLE=ROLE,ROLE", item);
			return -1;
		}
		list = eq + 1;
		*eq = '\0';
		while (eq > name && (eq[-1] == ' ' || eq[-1] == '\t'))
			*--eq = '\0';
		if (!hub_auth_roles_parse(list, &roles, &bad,
					  &bad_len) ||
		    strlen(name) >= sizeof(v->name)) {
			hub_log(HUB_LOG_ERROR, "auth: --keystone-roles: bad entry "
				"for \"%s\" (roles: read, publish, consume, "
				"subscribe, manage, admin)", name);
			return -1;
		}
		v = realloc(st->roles, (st->n_roles + 1) * sizeof(*v));
		if (!v)
			return -1;
		st->roles = v;
		snprintf(v[st->n_roles].name, sizeof(v->name), "%s", name);
		v[st->n_roles++].roles = roles;
	}
	return 0;
}

static void ks_free(void *state)
{
	struct ks_state *st = state;

	if (!st)
		return;
	free(st->auth_body);
	free(st->roles);
	free(st);
}

static int ks_load(const struct hub_config *cfg, void **state)
{
	struct ks_state *st = calloc(1, sizeof(*st));
	char pw[1024];
	json_t *body;

	if (!st)
		return -1;
	if (!cfg->keystone_url[0] || !cfg->keystone_user[0] ||
	    !cfg->keystone_password_file[0] || !cfg->keystone_project[0]) {
		hub_log(HUB_LOG_ERROR, "auth: --auth keystone needs "
			"--keystone-url, --keystone-user, "
			"--keystone-password-file and --keystone-project "
			"(docs/security.md)");
		goto fail;
	}
	if (load_url(cfg, st) || load_roles(cfg->keystone_roles, st) ||
	    load_password(cfg->keystone_password_file, pw, sizeof(pw)))
		goto fail;
	body = json_pack("{s:{s:{s:[s], s:{s:{s:s, s:{s:s}, s:s}}}, "
			 "s:{s:{s:s, s:{s:s}}}}}",
			 "auth", "identity", "methods", "password", "password",
			 "user", "name", cfg->keystone_user, "domain", "name",
			 cfg->keystone_domain, "password", pw, "scope",
			 "project", "name", cfg->keystone_project, "domain",
			 "name", cfg->keystone_domain);
	st->auth_body = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	explicit_bzero(pw, sizeof(pw));
	if (!st->auth_body)
		goto fail;
	st->cache_ms = (uint64_t)cfg->keystone_cache_seconds * 1000u;
	st->cache_size = cfg->keystone_cache_size;
	st->timeout_s = cfg->keystone_timeout_s;
	hub_log(HUB_LOG_INFO, "auth: keystone at %s (%s:%d), service user %s "
		"of project %s, tokens trusted for %u s", cfg->keystone_url,
		st->address, st->port, cfg->keystone_user,
		cfg->keystone_project, cfg->keystone_cache_seconds);
	*state = st;
	return 0;
fail:
	explicit_bzero(pw, sizeof(pw));
	ks_free(st);
	return -1;
}

const struct hub_auth_strategy hub_auth_keystone = {
	.name = "keystone",
	.load = ks_load,
	.free = ks_free,
	.verify = ks_verify,
	.cancel = ks_cancel,
	.live_new = ks_live_new,
	.attach = ks_attach,
	.live_free = ks_live_free,
};
