/*
 * queues.c - the queue routes of every API version: list, create,
 * get, patch, delete, purge, and v1's metadata resource. The rules of the
 * metadata itself (reserved keys, PATCH documents) are meta.c's; a queue's
 * stats and counters are stats.c's.
 *
 * Reads (list, get, v1 metadata) run here on the loop thread.
 * Writes are deferred to the writer thread through one context:
 *
 *   handler (loop)            run (writer)                 done (loop)
 *   PUT    validate, dump --> feed_queue_create ---------> 201 / 204
 *   DELETE             ----> feed_queue_delete ---------> 204
 *   PATCH  wash the ops ---> meta_get, apply, check, ---> 200 + metadata
 *                            meta_set
 *   purge              ----> feed_queue_purge steps ----> 204
 *   v1 metadata PUT    ----> feed_queue_meta_set -------> 204
 *
 * A PATCH reads, changes and writes the metadata inside its run: the
 * writer runs one job at a time and is the only writer, so two PATCHes
 * of one queue cannot lose each other's changes. The job copies what
 * run needs (project, queue, limits), since run must not touch r.
 *
 * Versions differ only in small ways (zaqar-api.md §6.1, §8, §11):
 * v1 answers an empty listing and an existing queue with 204 and sets
 * Content-Location; v1.1 shows metadata as stored; v2 fills in the
 * reserved defaults, filters listings and patches.
 *
 * Topics (/v2/topics, route.c) run these handlers on the topics' storage:
 * the same list, create, get, patch, delete and purge, with Zaqar's topic
 * differences - the listing's key is "topics" and it has no with_count
 * (a with_count parameter is a metadata filter there, as in Zaqar), and a
 * topic reserves only three metadata keys (topics.c).
 *
 * A Zaqar quirk kept on purpose, because clients see it: a missing
 * project is "None" in 404 texts (hub_project_text, in the one feed
 * error table).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "auth.h"
#include "req.h"
#include "api/api.h"
#include "api/gather.h"
#include "writer.h"
#include "render.h"
#include "meta.h"
#include "topics.h"
#include "live/hooks.h"

#define QUEUES_DEFAULT_LIMIT 10
#define LIST_BATCH 100  /* queues read per step when filtering */
#define PURGE_STEP 1000 /* messages per writer job: others write between */
#define PATCH_TYPE "application/openstack-messaging-v2.0-json-patch"

/* ------------------------------------------------------------ helpers */

/* Content-Length over the metadata limit (checked before parsing). */
static bool meta_too_large(struct hub_req *r, const char *title)
{
	uint32_t max = r->cfg->limits.max_queue_metadata;

	if (!r->has_body || r->body_len <= max)
		return false;
	hub_reply_error(r, 400, title,
			"Queue metadata is too large. Max size: %u", max);
	return true;
}

/* v2's view of metadata (new reference): with the reserved defaults of
 * a queue, or of a topic on a topic route. */
static json_t *meta_shown(const struct hub_req *r, json_t *meta)
{
	return r->topic ? hub_topic_meta_with_defaults(r, meta)
			: hub_meta_with_defaults(r, meta);
}

/* Stored metadata parsed; {} when empty or unreadable. New reference. */
static json_t *meta_parse(const void *data, size_t len)
{
	json_t *m = len ? json_loadb(data, len, 0, NULL) : NULL;

	if (json_is_object(m))
		return m;
	json_decref(m);
	return json_object();
}

/* Appends "sep key=value" percent-encoded to out (sized by the caller). */
static char *uri_add(char *o, char sep, const char *key, const char *val)
{
	const char *s[2] = {key, val};

	*o++ = sep;
	for (int i = 0; i < 2; i++) {
		for (const unsigned char *c = (const void *)s[i]; *c; c++) {
			if (isalnum(*c) || strchr("-_.~,", *c))
				*o++ = (char)*c;
			else
				o += sprintf(o, "%%%02X", *c);
		}
		if (i == 0)
			*o++ = '=';
	}
	*o = '\0';
	return o;
}

/* The request's relative URI (v1's Content-Location for listings),
 * rebuilt from the parsed query. New malloc'd string. */
static char *relative_uri(const struct hub_req *r)
{
	size_t need = strlen(r->path) + 1;
	char *s, *o;

	for (size_t i = 0; i < r->n_query; i++)
		need += 2 + 3 * (strlen(r->query[i].key) +
				 strlen(r->query[i].value));
	s = malloc(need);
	if (!s)
		return NULL;
	o = stpcpy(s, r->path);
	for (size_t i = 0; i < r->n_query; i++)
		o = uri_add(o, i ? '&' : '?', r->query[i].key,
			    r->query[i].value);
	return s;
}

/* What every deferred queue write carries to the writer thread. */
struct qjob {
	char project[FEED_PROJECT_MAX + 1];
	char queue[FEED_NAME_MAX + 1];
	char *meta;               /* PUT: metadata to store (JSON) */
	size_t meta_len;
	bool created;             /* PUT: the queue was new */
	bool topic;               /* PATCH: a topic's reserved keys */
	json_t *ops;              /* PATCH: [{"op", "key"[, "value"]}] */
	struct hub_limits limits; /* the server's: checks and error texts */
	json_t *result;           /* PATCH: the metadata stored */
	int status;               /* PATCH: 0, or 400/409 with msg */
	char msg[512];
	bool more;                /* purge: messages may be left */
	bool purge_messages;      /* purge: what resource_types asks */
	bool purge_subs;
	/* Told when the queue's subscriptions may have changed (delete,
	 * purge): r may be gone by then. */
	struct hub_hooks *hooks;
};

static struct qjob *qjob_new(struct hub_req *r)
{
	struct qjob *j = calloc(1, sizeof(*j));

	if (!j) {
		hub_reply_feed_error(r, FEED_ENOMEM, NULL);
		return NULL;
	}
	snprintf(j->project, sizeof(j->project), "%s", r->project);
	snprintf(j->queue, sizeof(j->queue), "%s", r->queue);
	j->limits = r->cfg->limits;
	j->topic = r->topic;
	j->hooks = r->hooks;
	return j;
}

static void qjob_free(struct qjob *j)
{
	free(j->meta);
	json_decref(j->ops);
	json_decref(j->result);
	free(j);
}

/* Serializes meta into j (nothing for {}); false after replying 503. */
static bool qjob_set_meta(struct hub_req *r, struct qjob *j, json_t *meta)
{
	if (json_object_size(meta) == 0)
		return true;
	j->meta = json_dumps(meta, JSON_COMPACT);
	if (j->meta) {
		j->meta_len = strlen(j->meta);
		return true;
	}
	hub_reply_feed_error(r, FEED_ENOMEM, NULL);
	return false;
}

/* Replies a failed queue write: metadata too large for feed is Zaqar's
 * metadata limit, under the title of the method (PUT, PATCH). */
static void reply_write_error(struct hub_req *r, const struct qjob *j, int rc,
			      const char *title)
{
	char text[128];
	const struct hub_feed_words words[] = {
		{FEED_ETOOBIG, 400, title, text},
		{0, 0, NULL, NULL},
	};

	snprintf(text, sizeof(text), "Queue metadata is too large. Max size: %u",
		 j->limits.max_queue_metadata);
	hub_reply_feed_error_as(r, rc, "Queue", words);
}

/* ------------------------------------------------------------ listing */

static const char *const list_params_v2[] = {"marker", "limit", "detailed",
					     "name", "with_count", NULL};
static const char *const list_params_v1[] = {"marker", "limit", "detailed",
					     NULL};
static const char *const list_params_topics[] = {"marker", "limit",
						 "detailed", "name", NULL};

struct list_opts {
	long long limit;
	bool detailed, with_count;
	const char *name;   /* v2: names containing it */
	bool meta_filter;   /* v2: unknown parameters filter by metadata */
};

/* The parameters r's listing recognises, in Zaqar's order. */
static const char *const *list_params(const struct hub_req *r)
{
	if (r->topic)
		return list_params_topics;
	return r->version == HUB_V2 ? list_params_v2 : list_params_v1;
}

/* Whether a v2 parameter is a listing's own, not a metadata filter. */
static bool list_param(const struct hub_req *r, const char *key)
{
	for (const char *const *p = list_params(r); *p; p++)
		if (strcmp(key, *p) == 0)
			return true;
	return false;
}

/* Zaqar compares a filter value that parses as an int as an int. */
static bool filter_match(json_t *v, const char *want)
{
	char *end;
	long long n = strtoll(want, &end, 10);

	if (*want && !*end)
		return (json_is_integer(v) && json_integer_value(v) == n) ||
		       (json_is_real(v) && json_real_value(v) == (double)n);
	return json_is_string(v) && strcmp(json_string_value(v), want) == 0;
}

/* Whether a queue passes v2's name and metadata filters. */
static bool list_match(const struct hub_req *r, const struct list_opts *o,
		       const char *name, json_t *meta)
{
	if (o->name && !strstr(name, o->name))
		return false;
	for (size_t i = 0; o->meta_filter && i < r->n_query; i++) {
		const struct hub_kv *kv = &r->query[i];

		if (!list_param(r, kv->key) &&
		    !filter_match(json_object_get(meta, kv->key), kv->value))
			return false;
	}
	return true;
}

/* {"name"[, "metadata"], "href"}, or NULL when filtered out. */
static json_t *list_entry(const struct hub_req *r, const struct list_opts *o,
			  const feed_queue_entry_t *e)
{
	json_t *meta = meta_parse(e->metadata, e->meta_len), *q = NULL;
	char *href;

	if (!list_match(r, o, e->name, meta))
		goto out;
	href = hub_queue_href(r, e->name);
	q = json_object();
	json_object_set_new(q, "name", json_string(e->name));
	if (o->detailed)
		json_object_set_new(q, "metadata",
				    r->version == HUB_V2
					    ? meta_shown(r, meta)
					    : json_incref(meta));
	json_object_set_new(q, "href", json_string(href ? href : ""));
	free(href);
out:
	json_decref(meta);
	return q;
}

/*
 * Fills `queues` with up to o->limit queues after `marker` that pass the
 * filters. Unfiltered, that is one read; filtered, it reads on in
 * batches until the page is full or the project's queues run out.
 */
static int list_fill(const struct hub_req *r, const struct list_opts *o,
		     const char *marker, json_t *queues)
{
	/* A credential held to queue patterns sees only those (auth.h). */
	bool filtered = o->name || o->meta_filter || hub_auth_queues_limited(r);
	size_t batch = filtered ? LIST_BATCH : (size_t)o->limit;
	char from[FEED_NAME_MAX + 1];
	feed_queue_list_t list;
	bool more = true;
	int rc = 0;

	/* Names are at most FEED_NAME_MAX: a longer marker sorts
	 * exactly as its prefix of that length. */
	snprintf(from, sizeof(from), "%s", marker ? marker : "");
	while (more && rc == 0) {
		rc = feed_queue_list(r->feed, r->project, from, batch,
				     o->detailed || o->meta_filter, &list);
		if (rc)
			break;
		more = filtered && list.n == batch;
		for (size_t i = 0; i < list.n; i++) {
			json_t *q = hub_auth_queue_ok(r, list.v[i].name)
					    ? list_entry(r, o, &list.v[i])
					    : NULL;

			if (q)
				json_array_append_new(queues, q);
			if (json_array_size(queues) == (size_t)o->limit) {
				more = false;
				break;
			}
		}
		if (list.n)
			snprintf(from, sizeof(from), "%s",
				 list.v[list.n - 1].name);
		feed_queue_list_free(&list);
	}
	return rc;
}

/* Reads the listing's parameters; false after replying 400. */
static bool list_opts_read(struct hub_req *r, struct list_opts *o)
{
	uint32_t max = r->cfg->limits.max_queues_per_page;

	memset(o, 0, sizeof(*o));
	if (!hub_query_int(r, "limit", QUEUES_DEFAULT_LIMIT, &o->limit) ||
	    !hub_query_bool(r, "detailed", false, &o->detailed))
		return false;
	if (r->version == HUB_V2) {
		if (!r->topic &&
		    !hub_query_bool(r, "with_count", false, &o->with_count))
			return false;
		o->name = hub_query(r, "name");
		for (size_t i = 0; i < r->n_query; i++)
			o->meta_filter |= !list_param(r, r->query[i].key);
	}
	if (o->limit < 1 || o->limit > max) {
		hub_reply_error(r, 400, "Invalid API request",
				"Limit must be at least 1 and no greater "
				"than %u.", max);
		return false;
	}
	return true;
}

/* Adds {"rel": "next", "href"} after the page's last queue to links. */
static void list_link(const struct hub_req *r, json_t *queues, json_t *links)
{
	json_t *last = json_array_get(queues, json_array_size(queues) - 1);
	const char *marker = json_string_value(json_object_get(last, "name"));
	char *href = hub_next_link(r, list_params(r), marker, NULL);

	json_array_append_new(links, json_pack("{s:s, s:s}", "rel", "next",
					       "href", href ? href : ""));
	free(href);
}

/* The 200 (or v1's 204) of a page of queues (borrowed). */
static void list_reply(struct hub_req *r, json_t *queues, uint64_t count)
{
	json_t *links = json_array(), *body;

	if (json_array_size(queues) == 0 && r->version == HUB_V1) {
		hub_reply(r, 204, NULL);
		json_decref(links);
		return;
	}
	if (json_array_size(queues))
		list_link(r, queues, links);
	body = json_pack("{s:O, s:o}", r->topic ? "topics" : "queues", queues,
			 "links", links);
	if (count)
		json_object_set_new(body, "count", json_integer((json_int_t)count));
	if (r->version == HUB_V1) {
		char *uri = relative_uri(r);

		hub_header(r, "Content-Location", "%s", uri ? uri : r->path);
		free(uri);
	}
	hub_reply(r, 200, body);
}

/* A page gathered from every node of a cluster (api/gather.h): this
 * node's page and theirs, merged by name, the first `limit` of them. */
struct gathered {
	json_t *queues;   /* this node's page */
	uint64_t count;
	uint32_t limit;
};

static int by_name(const void *a, const void *b)
{
	const char *x = json_string_value(json_object_get(*(json_t *const *)a,
							  "name"));
	const char *y = json_string_value(json_object_get(*(json_t *const *)b,
							  "name"));

	return strcmp(x ? x : "", y ? y : "");
}

static void gathered_free(void *ctx)
{
	struct gathered *g = ctx;

	json_decref(g->queues);
	free(g);
}

static void gathered_reply(struct hub_req *r, json_t *const *answers,
			   size_t n, void *ctx)
{
	struct gathered *g = ctx;
	const char *key = r->topic ? "topics" : "queues";
	json_t *page = json_array(), *v, **sorted;
	uint64_t count = g->count;
	size_t k;

	/* g->queues is the gather's own: every node's page joins it. */
	for (size_t i = 0; i < n; i++) {
		json_array_extend(g->queues, json_object_get(answers[i], key));
		count += (uint64_t)json_integer_value(
			json_object_get(answers[i], "count"));
	}
	sorted = calloc(json_array_size(g->queues) + 1, sizeof(*sorted));
	if (!page || !sorted) {
		json_decref(page);
		free(sorted);
		hub_reply_error(r, 500, "Internal server error",
				"Out of memory.");
		return;
	}
	/* Names are unique across nodes (each queue lives on one), so
	 * sorting gives the one order every node's own page has. */
	json_array_foreach(g->queues, k, v)
		sorted[k] = v;
	qsort(sorted, json_array_size(g->queues), sizeof(*sorted), by_name);
	for (k = 0; k < json_array_size(g->queues) && k < g->limit; k++)
		json_array_append(page, sorted[k]);
	free(sorted);
	list_reply(r, page, count);
	json_decref(page);
}

void hub_queues_list(struct hub_req *r)
{
	json_t *queues = json_array();
	struct list_opts o;
	uint64_t count = 0;
	int rc;

	if (!list_opts_read(r, &o))
		goto out;
	rc = list_fill(r, &o, hub_query(r, "marker"), queues);
	if (rc == 0 && o.with_count)
		rc = feed_queue_count(r->feed, r->project, &count);
	if (rc) {
		hub_reply_feed_error(r, rc, "Queues");
		goto out;
	}
	if (hub_gather_wanted(r)) {
		/* A cluster: every node's queues of the project, merged. */
		struct gathered *g = malloc(sizeof(*g));
		char *uri = relative_uri(r);

		if (!g || !uri) {
			free(g);
			free(uri);
			hub_reply_error(r, 500, "Internal server error",
					"Out of memory.");
			goto out;
		}
		*g = (struct gathered){json_incref(queues), count, o.limit};
		hub_gather(r, uri, gathered_reply, g, gathered_free);
		free(uri);
		goto out;
	}
	list_reply(r, queues, count);
out:
	json_decref(queues);
}

/* ------------------------------------------------------- create, delete */

static int put_run(feed_txn_t *txn, void *ctx, uint64_t now_ms)
{
	struct qjob *j = ctx;

	return feed_queue_create_tx(txn, j->project, j->queue, j->meta,
				 j->meta_len, now_ms, &j->created);
}

static void put_done(struct hub_req *r, void *ctx, int rc)
{
	struct qjob *j = ctx;

	if (r && rc) {
		reply_write_error(r, j, rc, "Invalid API request");
	} else if (r) {
		hub_reply_set_location(r, "%s", r->path);
		hub_reply(r, j->created ? 201 : 204, NULL);
	}
	qjob_free(j);
}

void hub_queue_put(struct hub_req *r)
{
	json_t *meta = NULL;
	struct qjob *j = NULL;

	/* v1 ignores the body; v1.1 and v2 store it as the metadata. */
	if (r->version != HUB_V1 && r->has_body && r->body_len) {
		if (meta_too_large(r, "Invalid API request"))
			return;
		meta = hub_body_json(r, JSON_OBJECT);
		if (!meta || !hub_meta_validate(r, meta, "Invalid API request"))
			goto fail;
	}
	j = qjob_new(r);
	if (!j || !qjob_set_meta(r, j, meta))
		goto fail;
	json_decref(meta);
	hub_defer(r, put_run, put_done, j);
	return;
fail:
	json_decref(meta);
	if (j)
		qjob_free(j);
}

static int delete_run(feed_txn_t *txn, void *ctx, uint64_t now_ms)
{
	struct qjob *j = ctx;

	(void)now_ms;
	return feed_queue_delete_tx(txn, j->project, j->queue);
}

/* The done of writes that answer 204 (delete, purge). */
static void no_content_done(struct hub_req *r, void *ctx, int rc)
{
	if (r && rc)
		hub_reply_feed_error(r, rc, "Queue");
	else if (r)
		hub_reply(r, 204, NULL);
	qjob_free(ctx);
}

/* A deleted queue's subscriptions went with it. */
static void delete_done(struct hub_req *r, void *ctx, int rc)
{
	struct qjob *j = ctx;

	if (rc == 0)
		hub_hooks_reload(j->hooks, j->project, j->queue);
	no_content_done(r, ctx, rc);
}

void hub_queue_delete(struct hub_req *r)
{
	struct qjob *j = qjob_new(r);

	if (j)
		hub_defer(r, delete_run, delete_done, j);
}

/* ---------------------------------------------------------------- get */

void hub_queue_get(struct hub_req *r)
{
	json_t *meta;
	bool exists;
	int rc;

	if (r->version == HUB_V2) {
		meta = hub_queue_meta(r, r->queue);
		hub_reply(r, 200, meta_shown(r, meta));
		json_decref(meta);
		return;
	}
	if (r->version == HUB_V1_1) {
		hub_reply(r, 200, hub_queue_meta(r, r->queue));
		return;
	}
	rc = feed_queue_exists(r->feed, r->project, r->queue, &exists);
	if (rc) {
		hub_reply_feed_error(r, rc, "Queue");
		return;
	}
	hub_header(r, "Content-Location", "%s", r->path);
	hub_reply(r, exists ? 204 : 404, NULL);
}

/* -------------------------------------------------------------- patch */

/* Records why the patch cannot apply; returns -1 for the caller. */
static int patch_refuse(struct qjob *j, int status, const char *fmt,
			const char *key)
{
	j->status = status;
	snprintf(j->msg, sizeof(j->msg), fmt, key);
	return -1;
}

/* A reserved key with a default, for j's queue or topic. */
static bool patch_reserved(const struct qjob *j, const char *key)
{
	return j->topic ? hub_topic_meta_is_reserved(key)
			: hub_meta_is_reserved(key);
}

/* Applies the washed operations to meta, as Zaqar's _do_<op>. */
static int patch_apply(struct qjob *j, json_t *meta)
{
	json_t *change;
	size_t i;

	json_array_foreach(j->ops, i, change) {
		const char *op = json_string_value(json_object_get(change,
								   "op"));
		const char *key = json_string_value(json_object_get(change,
								    "key"));
		bool has = json_object_get(meta, key) != NULL;

		if (strcmp(op, "remove") == 0 && has)
			json_object_del(meta, key);
		else if (strcmp(op, "remove") == 0 &&
			 !patch_reserved(j, key))
			return patch_refuse(j, 409, "Can't remove non-existent "
					    "object %s.", key);
		else if (strcmp(op, "remove") && strcmp(op, "add") && !has &&
			 !patch_reserved(j, key))
			return patch_refuse(j, 409, "Can't replace non-existent "
					    "object %s.", key);
		else if (strcmp(op, "remove"))
			json_object_set(meta, key,
					json_object_get(change, "value"));
	}
	return 0;
}

/* Writer thread: read, patch, check and store the metadata at once. */
static int patch_run(feed_t *feed, void *ctx, uint64_t now_ms)
{
	struct qjob *j = ctx;
	void *data = NULL;
	size_t len = 0;
	char *text = NULL;
	const char *why;
	json_t *meta;
	int rc;

	(void)now_ms;
	rc = feed_queue_meta_get(feed, j->project, j->queue, &data, &len);
	if (rc)
		return rc;
	meta = meta_parse(data, len);
	free(data);
	if (patch_apply(j, meta))
		goto out;
	why = hub_meta_check(&j->limits, j->queue, meta, j->msg,
			     sizeof(j->msg));
	if (why) {
		j->status = 400;
		if (why != j->msg)
			snprintf(j->msg, sizeof(j->msg), "%s", why);
		goto out;
	}
	if (json_object_size(meta)) {
		text = json_dumps(meta, JSON_COMPACT);
		if (!text) {
			rc = FEED_ENOMEM;
			goto out;
		}
	}
	rc = feed_queue_meta_set(feed, j->project, j->queue, text,
				 text ? strlen(text) : 0);
	if (rc == 0) {
		j->result = meta;
		meta = NULL;
	}
out:
	free(text);
	json_decref(meta);
	return rc;
}

static void patch_done(struct hub_req *r, void *ctx, int rc)
{
	struct qjob *j = ctx;

	if (r && rc)
		reply_write_error(r, j, rc, "Invalid request body");
	else if (r && j->status)
		hub_reply_error(r, j->status, j->status == 409
				? "Resource conflict" : "Invalid request body",
				"%s", j->msg);
	else if (r)
		hub_reply(r, 200, meta_shown(r, j->result));
	qjob_free(j);
}


void hub_queue_patch(struct hub_req *r)
{
	json_t *doc, *ops;
	struct qjob *j;

	if (meta_too_large(r, "Invalid request body"))
		return;
	if (strcmp(r->content_type, PATCH_TYPE) != 0) {
		hub_reply_error(r, 415, "Accepted media type for PATCH: "
				"{'Accept-Patch': '" PATCH_TYPE "'}.", NULL);
		return;
	}
	if (!r->has_body || r->body_len == 0) {
		hub_reply_error(r, 400, "Invalid request body",
				"PATCH body could not be empty for update.");
		return;
	}
	doc = hub_body_json(r, -1);
	if (!doc)
		return;
	ops = hub_meta_patch_ops(r, doc);
	json_decref(doc);
	if (!ops)
		return;
	j = qjob_new(r);
	if (!j) {
		json_decref(ops);
		return;
	}
	j->ops = ops;
	hub_defer_solo(r, patch_run, patch_done, j);
}

/* -------------------------------------------------------------- purge */

/*
 * Writer thread: removes what pops would (so claimed messages stay, as in
 * Zaqar), PURGE_STEP messages at most: a large queue is purged in steps,
 * each its own job, so the writer serves other requests between them.
 */
static int purge_run(feed_txn_t *txn, void *ctx, uint64_t now_ms)
{
	struct qjob *j = ctx;
	int rc = 0;

	j->more = false;
	if (j->purge_subs)
		rc = feed_sub_purge_tx(txn, j->project, j->queue, NULL);
	if (rc == 0 && j->purge_messages)
		rc = feed_queue_purge_tx(txn, j->project, j->queue, PURGE_STEP,
					 now_ms, NULL, &j->more);
	return rc;
}

/* The next step, or the answer. A purge whose client left stops at a
 * step: what was popped stays gone. */
static void purge_done(struct hub_req *r, void *ctx, int rc)
{
	struct qjob *j = ctx;

	if (rc == 0 && j->purge_subs) {
		/* Done with the first step: the next ones purge messages. */
		j->purge_subs = false;
		hub_hooks_reload(j->hooks, j->project, j->queue);
	}
	if (r && rc == 0 && j->more) {
		hub_defer(r, purge_run, purge_done, j);
		return;
	}
	no_content_done(r, ctx, rc);
}

/* Zaqar's queue_purging: what to purge, messages and/or subscriptions.
 * False after replying 400. */
static bool purge_types(struct hub_req *r, json_t *doc, bool *messages,
			bool *subs)
{
	json_t *types = json_object_get(doc, "resource_types"), *t;
	size_t i;

	*messages = *subs = false;
	if (!types) {
		hub_reply_error(r, 400, "Invalid API request", "Post body must "
				"contain key \"resource_types\".");
		return false;
	}
	json_array_foreach(types, i, t) {
		const char *s = json_string_value(t);

		if (!s || (strcmp(s, "messages") && strcmp(s, "subscriptions")))
			break;
		*messages |= strcmp(s, "messages") == 0;
		*subs |= strcmp(s, "subscriptions") == 0;
	}
	if (json_is_array(types) && i == json_array_size(types))
		return true;
	hub_reply_error(r, 400, "Invalid API request", "Resource types must "
			"be a sub set of {'messages', 'subscriptions'}.");
	return false;
}

void hub_queue_purge(struct hub_req *r)
{
	bool messages = true, subs = false;
	struct qjob *j;
	json_t *doc;

	if (r->has_body && r->body_len) {
		doc = hub_body_json(r, -1);
		if (!doc)
			return;
		if (!purge_types(r, doc, &messages, &subs)) {
			json_decref(doc);
			return;
		}
		json_decref(doc);
	}
	if (!messages && !subs) {
		hub_reply(r, 204, NULL);
		return;
	}
	j = qjob_new(r);
	if (!j)
		return;
	j->purge_messages = messages;
	j->purge_subs = subs;
	hub_defer(r, purge_run, purge_done, j);
}

/* -------------------------------------------------------- v1 metadata */

void hub_queue_meta_get(struct hub_req *r)
{
	void *data = NULL;
	size_t len = 0;
	int rc = feed_queue_meta_get(r->feed, r->project, r->queue, &data,
				     &len);

	if (rc == FEED_ENOQUEUE) {
		hub_reply_feed_error(r, FEED_ENOQUEUE, "Queue");
		return;
	}
	if (rc) {
		hub_reply_feed_error(r, rc, "Queue");
		return;
	}
	hub_header(r, "Content-Location", "%s", r->path);
	hub_reply(r, 200, meta_parse(data, len));
	free(data);
}

static int meta_put_run(feed_txn_t *txn, void *ctx, uint64_t now_ms)
{
	struct qjob *j = ctx;

	(void)now_ms;
	return feed_queue_meta_set_tx(txn, j->project, j->queue, j->meta,
				   j->meta_len);
}

static void meta_put_done(struct hub_req *r, void *ctx, int rc)
{
	struct qjob *j = ctx;

	if (r && rc) {
		reply_write_error(r, j, rc, "Invalid API request");
	} else if (r) {
		hub_reply_set_location(r, "%s", r->path);
		hub_reply(r, 204, NULL);
	}
	qjob_free(j);
}

void hub_queue_meta_put(struct hub_req *r)
{
	struct qjob *j = NULL;
	const char *key;
	json_t *meta, *v;

	if (meta_too_large(r, "Invalid API request"))
		return;
	meta = hub_body_json(r, JSON_OBJECT);
	if (!meta)
		return;
	json_object_foreach(meta, key, v) {
		if (key[0] != '_')
			continue;
		hub_reply_error(r, 400, "Invalid API request", "Reserved queue "
				"attributes in metadata (which names start "
				"with \"_\") can not be set in API v1.");
		goto out;
	}
	j = qjob_new(r);
	if (!j || !qjob_set_meta(r, j, meta))
		goto out;
	hub_defer(r, meta_put_run, meta_put_done, j);
	j = NULL;
out:
	json_decref(meta);
	if (j)
		qjob_free(j);
}
