/*
 * gather.c - a GET asked of every other node, the request held until all
 * have answered (gather.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uuid/uuid.h>

#include "auth.h"
#include "cluster.h"
#include "hclient.h"
#include "log.h"
#include "reply.h"
#include "req.h"
#include "writer.h"
#include "api/gather.h"

#define GATHER_TIMEOUT_S 5
#define GATHER_BODY_MAX (4u << 20)

struct gather;

struct ask {
	struct hub_hclient_req q;
	struct gather *g;
	json_t *doc;
	bool ok, out;
};

struct gather {
	struct hub_job job;        /* job.req: NULL once the caller left */
	const struct hub_hclient *hc;
	const struct hub_cluster_peer *peers;
	struct ask *asks;
	size_t n, left;
	char *path, *headers;
	hub_gather_fn finish;
	void *ctx;
	void (*free_ctx)(void *);
};

bool hub_gather_wanted(const struct hub_req *r)
{
	const struct hub_cluster_peer *p;

	return hub_cluster_on() && !r->cluster_local && r->cred &&
	       r->hclient && hub_cluster_peers(&p) > 0;
}

static void gather_free(struct gather *g)
{
	for (size_t i = 0; i < g->n; i++)
		json_decref(g->asks[i].doc);
	if (g->free_ctx)
		g->free_ctx(g->ctx);
	free(g->asks);
	free(g->path);
	free(g->headers);
	free(g);
}

/* "name:\0value\0" appended to *buf (len, cap); false on ENOMEM. */
static bool header_add(char **buf, size_t *len, const char *name,
		       const char *value)
{
	size_t n = strlen(name) + 1, v = strlen(value) + 1;
	char *b = realloc(*buf, *len + n + v + 1);

	if (!b)
		return false;
	memcpy(b + *len, name, n);
	memcpy(b + *len + n, value, v);
	*len += n + v;
	b[*len] = '\0';
	*buf = b;
	return true;
}

char *hub_gather_headers(const struct hub_auth_cred *c,
			 const uint8_t *client_id)
{
	char *buf = NULL, id[37];
	size_t len = 0;
	bool ok = header_add(&buf, &len, "herald-local:", "1");

	if (client_id) {
		uuid_unparse_lower(client_id, id);
		ok = ok && header_add(&buf, &len, "client-id:", id);
	}
	if (ok && c->project && c->project[0])
		ok = header_add(&buf, &len, "x-project-id:", c->project);
	if (ok && c->roles && c->roles[0])
		ok = header_add(&buf, &len, "x-roles:", c->roles);
	if (ok && c->token && c->token[0])
		ok = header_add(&buf, &len, "x-auth-token:", c->token);
	if (!ok) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* The caller's credentials as sent, and Herald-Local. */
static char *headers_of(const struct hub_req *r)
{
	return hub_gather_headers(r->cred,
				  r->has_client_id ? r->client_id : NULL);
}

static void complete(struct gather *g)
{
	struct hub_req *r = g->job.req;
	json_t **docs;

	if (!r) {
		gather_free(g); /* the caller left */
		return;
	}
	r->transport->job_back(r);
	for (size_t i = 0; i < g->n; i++)
		if (!g->asks[i].ok) {
			hub_header(r, "Retry-After", "%d", 2);
			hub_reply_error(r, 503, "Service Unavailable",
					"Node %s of the cluster did not answer "
					"its part of the list; try again.",
					g->peers[i].name);
			goto out;
		}
	docs = calloc(g->n ? g->n : 1, sizeof(*docs));
	if (!docs) {
		hub_reply_error(r, 500, "Internal server error",
				"Out of memory.");
		goto out;
	}
	for (size_t i = 0; i < g->n; i++)
		docs[i] = g->asks[i].doc;
	g->finish(r, docs, g->n, g->ctx);
	free(docs);
out:
	r->transport->resume(r);
	gather_free(g);
}

static void ask_done(struct hub_hclient_req *q)
{
	struct ask *a = (struct ask *)q;
	struct gather *g = a->g;
	size_t i = (size_t)(a - g->asks);

	a->out = false;
	if (q->status == 200) {
		a->doc = json_loadb(q->body_in.data ? q->body_in.data : "",
				    q->body_in.len, 0, NULL);
		a->ok = a->doc != NULL;
	} else {
		a->ok = q->status == 204;
	}
	if (!a->ok && q->status)
		hub_log(HUB_LOG_WARN, "cluster: node %s, %s: status %d",
			g->peers[i].name, g->path, q->status);
	else if (!a->ok)
		hub_log(HUB_LOG_WARN, "cluster: node %s, %s: %s",
			g->peers[i].name, g->path,
			q->why ? q->why : "not JSON");
	if (--g->left == 0)
		complete(g);
}

void hub_gather(struct hub_req *r, const char *path_query,
		hub_gather_fn finish, void *ctx, void (*free_ctx)(void *))
{
	struct gather *g = calloc(1, sizeof(*g));
	bool started = true;

	if (g) {
		g->n = hub_cluster_peers(&g->peers);
		g->asks = calloc(g->n, sizeof(*g->asks));
		g->path = strdup(path_query);
		g->headers = headers_of(r);
		g->hc = r->hclient;
		g->finish = finish;
		g->ctx = ctx;
		g->free_ctx = free_ctx;
	}
	if (!g || !g->asks || !g->path || !g->headers) {
		if (g)
			gather_free(g);
		else if (free_ctx)
			free_ctx(ctx);
		hub_reply_error(r, 500, "Internal server error",
				"Out of memory.");
		return;
	}
	for (size_t i = 0; i < g->n && started; i++) {
		struct ask *a = &g->asks[i];

		a->g = g;
		a->q = (struct hub_hclient_req){
			.address = g->peers[i].address,
			.port = g->peers[i].port,
			.host = g->peers[i].address,
			.method = "GET",
			.path = g->path,
			.headers = g->headers,
			.body_max = GATHER_BODY_MAX,
			.timeout_s = GATHER_TIMEOUT_S,
			.done = ask_done,
		};
		started = g->hc->start(g->hc->arg, &a->q) == 0;
		a->out = started;
		if (!started)
			hub_reply_error(r, 503, "Service Unavailable",
					"Node %s of the cluster cannot be "
					"asked for its part of the list.",
					g->peers[i].name);
	}
	if (!started) {
		for (size_t i = 0; i < g->n; i++)
			if (g->asks[i].out)
				g->hc->cancel(g->hc->arg, &g->asks[i].q);
		gather_free(g);
		return;
	}
	g->left = g->n;
	g->job.req = r;
	r->transport->job_out(r, &g->job);
}
