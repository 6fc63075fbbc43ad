/*
 * feeds.c - the entry model of GET /v2/queues/{q}/feed.{atom,rss,json}
 * (feeds.h): which messages a page shows, what each entry says, the URLs
 * and the conditional GET. The formats (atom.c, rss.c, jsonfeed.c) only
 * render what this builds.
 *
 * What is in a feed: every live message that is due - claimed ones too,
 * and every client's (a feed is not a worker's view: no claim or echo
 * filter); limit 1..100, default 20; newest first.
 *
 * The newest N. Reads go forward from a marker, and a marker is an id:
 * (generation, seq - W) is the read after which the newest W messages of
 * the log stand, from the newest id in the queue's stats - or, for a page
 * ?before=<id>, from that id, the read stopping at it. Deleted and expired
 * messages leave holes, so a window of W may hold fewer than N live ones:
 * W doubles until it holds N or covers the log. The cost is O(N + the
 * messages in the holes walked), never a scan of the queue. A ring keeps
 * the newest N + 1 of a window as it is read: the one past N says that
 * an older page exists.
 *
 * Paging (RFC 5005 "paged feeds"). A page that is not the oldest links
 * rel="next" to ?before=<the oldest id it shows>: the messages strictly
 * older than that, so walking next links shows every message once, with
 * no gap, while new ones arrive at the top.
 *
 * Entries. An object body maps to entry fields by its string members,
 * first found wins:
 *
 *   title      <- title                 link    <- link, url (http(s) only)
 *   summary    <- summary, description  content <- content
 *   author     <- author                id      <- id, guid
 *   updated    <- updated, published (RFC 3339; else the creation time)
 *   categories <- category (a string), tags (an array of strings)
 *
 * The queue's reserved metadata `_feed_fields` (checked by meta.c) names
 * another body key for a field: {"title": "subject"}. A body without a
 * title gets its JSON's first 80 characters; one with no field at all (or
 * no object) shows its JSON as the content.
 *
 * URLs. RFC 4287 wants ids that never change (urn:herald:{project}:{q},
 * the project percent-encoded so the parts stay apart) and readers want
 * absolute links: {origin}/v2/queues/{q}..., where the origin is the
 * public-url setting, else "http://" (or the forwarded proto) and the
 * Host header (or the forwarded host) - the forwarded headers only when
 * trust-forwarded is on, since any client can send them. A request that
 * tells no host (a WebSocket action) gets absolute paths. Hosts and
 * protos that do not look like one are ignored, so nothing a client
 * sends can break out of an attribute or a URL.
 *
 * Conditional GET. The ETag hashes what the document is a function of:
 * the format, project, queue, query, origin, the queue's mapping and each
 * entry's id, creation time and body - so it is strong. An empty feed's
 * updated is the time of the request, so its tag is weak. Last-Modified
 * is the newest shown message's creation: If-Modified-Since gives 304
 * when it is not newer - and only without If-None-Match, which wins (RFC
 * 9110 §13.2.2), since a deletion can change a feed without moving it.
 *
 * Dates: feedtime.c. Loop thread only (reads).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "req.h"
#include "api/api.h"
#include "render.h"
#include "etag.h"
#include "msgs.h"
#include "feeds.h"

#define FEED_DEFAULT_LIMIT 20
#define FEED_MAX_LIMIT 100
#define FEED_READ_CHUNK 64 /* messages per feed_read */

/* ------------------------------------------------------------ the newest */

/* A position in the log. */
struct pos {
	uint64_t generation, seq;
};

/* The newest `cap` messages seen so far (only msg_id, created_ms and the
 * body of each entry are set); the oldest is overwritten. */
struct ring {
	struct hub_feed_entry *v;
	size_t cap;
	size_t n;    /* held, <= cap */
	size_t next; /* the slot written next */
};

static void ring_reset(struct ring *ring)
{
	for (size_t i = 0; i < ring->n; i++) {
		free(ring->v[i].body);
		ring->v[i].body = NULL;
	}
	ring->n = ring->next = 0;
}

static int ring_put(struct ring *ring, const feed_msg_t *m)
{
	struct hub_feed_entry *e = &ring->v[ring->next];
	char *body = malloc(m->body_len + 1);

	if (!body)
		return FEED_ENOMEM;
	memcpy(body, m->body, m->body_len);
	body[m->body_len] = '\0';
	free(e->body);
	memcpy(e->msg_id, m->id, sizeof(e->msg_id));
	e->created_ms = m->created_ms;
	e->body = body;
	e->body_len = m->body_len;
	ring->next = (ring->next + 1) % ring->cap;
	if (ring->n < ring->cap)
		ring->n++;
	return 0;
}

/* The i-th newest entry (0: the newest). */
static struct hub_feed_entry *ring_get(const struct ring *ring, size_t i)
{
	return &ring->v[(ring->next + ring->cap - 1 - i) % ring->cap];
}

/* Whether message id `id` stands at or after `stop`. */
static bool at_or_after(const char *id, const struct pos *stop)
{
	uint64_t g, s;

	if (feed_id_parse(id, &g, &s))
		return false;
	return g > stop->generation || (g == stop->generation && s >= stop->seq);
}

/* Reads every message after `marker` (NULL: from the oldest) and before
 * `stop` (NULL: to the newest) into the ring, leaving out those not yet
 * due. */
static int read_after(struct hub_req *r, const char *marker,
		      const struct pos *stop, struct ring *ring)
{
	feed_read_opts_t opts = {
		.limit = FEED_READ_CHUNK,
		.flags = FEED_READ_INCLUDE_CLAIMED | FEED_READ_ECHO |
			 FEED_READ_INCLUDE_DELAYED,
	};
	char next[FEED_ID_LEN + 1];
	bool done = false;
	int rc = 0;

	while (!done) {
		feed_msgs_t msgs = {0};

		rc = feed_read(r->feed, r->project, r->queue, marker, &opts,
			       r->now_ms, &msgs);
		if (rc)
			return rc;
		for (size_t i = 0; i < msgs.n && !rc && !done; i++) {
			if (stop && at_or_after(msgs.v[i].id, stop))
				done = true;
			else if (msgs.v[i].due_ms <= r->now_ms)
				rc = ring_put(ring, &msgs.v[i]);
		}
		memcpy(next, msgs.next_marker, sizeof(next));
		/* Each read that returns messages moves the marker past them;
		 * one that returns none is at the end of the log. */
		done = done || rc || msgs.n == 0 || !next[0];
		feed_msgs_free(&msgs);
		marker = next;
	}
	return rc;
}

/*
 * The marker of (generation, seq), as feed writes ids: 10 hex digits of
 * generation, 14 of seq. feed_id_parse() is the contract; a marker it does
 * not read back as (generation, seq) is refused (*out = "").
 */
static void marker_format(char out[FEED_ID_LEN + 1], uint64_t generation,
			  uint64_t seq)
{
	uint64_t g, s;

	snprintf(out, FEED_ID_LEN + 1, "%010llx%014llx",
		 (unsigned long long)(generation & 0xffffffffffULL),
		 (unsigned long long)(seq & 0xffffffffffffffULL));
	if (feed_id_parse(out, &g, &s) || g != generation || s != seq)
		out[0] = '\0';
}

/* Fills the ring with the newest due messages of r->queue before `stop`
 * (NULL: the newest of all; see the top). */
static int read_newest(struct hub_req *r, const struct pos *stop,
		       struct ring *ring)
{
	feed_queue_stats_t st;
	struct pos from;
	int rc = feed_queue_stats(r->feed, r->project, r->queue, r->now_ms,
				  &st);

	if (rc || st.total == 0)
		return rc;
	if (stop)
		from = *stop;
	if (st.total <= ring->cap ||
	    (!stop && feed_id_parse(st.newest.id, &from.generation, &from.seq)))
		return read_after(r, NULL, stop, ring);
	for (uint64_t w = ring->cap;; w *= 2) {
		char marker[FEED_ID_LEN + 1] = "";

		if (w < from.seq)
			marker_format(marker, from.generation, from.seq - w);
		ring_reset(ring);
		rc = read_after(r, marker[0] ? marker : NULL, stop, ring);
		if (rc || !marker[0] || ring->n == ring->cap)
			return rc;
	}
}

/* -------------------------------------------------------------- entries */

enum field {
	F_TITLE, F_LINK, F_SUMMARY, F_CONTENT, F_AUTHOR, F_UPDATED, F_ID,
	F_CATEGORIES, F_COUNT
};

/* Each field's name (in _feed_fields) and its default body keys. */
static const struct {
	const char *name;
	const char *keys[2];
} fields[F_COUNT] = {
	[F_TITLE] = {"title", {"title", NULL}},
	[F_LINK] = {"link", {"link", "url"}},
	[F_SUMMARY] = {"summary", {"summary", "description"}},
	[F_CONTENT] = {"content", {"content", NULL}},
	[F_AUTHOR] = {"author", {"author", NULL}},
	[F_UPDATED] = {"updated", {"updated", "published"}},
	[F_ID] = {"id", {"id", "guid"}},
	[F_CATEGORIES] = {"categories", {"category", "tags"}},
};

bool hub_feed_field_ok(const char *name)
{
	for (int f = 0; f < F_COUNT; f++)
		if (strcmp(name, fields[f].name) == 0)
			return true;
	return false;
}

bool hub_feed_is_url(const char *s)
{
	return strncasecmp(s, "http://", 7) == 0 ||
	       strncasecmp(s, "https://", 8) == 0;
}

bool hub_feed_is_iri(const char *s)
{
	size_t n = 0;

	if (!isalpha((unsigned char)s[0]))
		return false;
	while (isalnum((unsigned char)s[n]) || (s[n] && strchr("+-.", s[n])))
		n++;
	return s[n] == ':' && s[n + 1] && !strpbrk(s, " \t\r\n<>\"");
}

/* The non-empty string member `key` of obj, or NULL (borrowed). */
static const char *str_of(json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s && *s ? s : NULL;
}

/* The first member of `body` that gives field f, by the queue's mapping
 * `map` (an object, or NULL): a string or, for categories, an array. */
static json_t *field_value(json_t *body, json_t *map, enum field f)
{
	const char *over = map ? str_of(map, fields[f].name) : NULL;
	json_t *v;

	if (over)
		return json_object_get(body, over);
	for (int k = 0; k < 2 && fields[f].keys[k]; k++) {
		v = json_object_get(body, fields[f].keys[k]);
		if (json_is_string(v) && json_string_length(v) > 0)
			return v;
		if (f == F_CATEGORIES && json_is_array(v))
			return v;
	}
	return NULL;
}

static char *dup_field(json_t *body, json_t *map, enum field f)
{
	const char *s = json_string_value(field_value(body, map, f));

	return s && *s ? strdup(s) : NULL;
}

/* Adds v when it is a non-empty string (and memory allows). */
static void add_category(struct hub_feed_entry *e, json_t *v)
{
	char *s = json_is_string(v) && json_string_length(v) > 0
			  ? strdup(json_string_value(v))
			  : NULL;

	if (s)
		e->categories[e->n_categories++] = s;
}

static void map_categories(struct hub_feed_entry *e, json_t *v)
{
	size_t i;
	json_t *c;

	if (json_is_string(v))
		add_category(e, v);
	json_array_foreach(v, i, c) {
		if (e->n_categories == HUB_FEED_MAX_CATEGORIES)
			break;
		add_category(e, c);
	}
}

/* The body's first HUB_FEED_TITLE_CHARS characters, and an ellipsis when
 * cut (a new string). The body is UTF-8: characters are counted by their
 * first bytes. */
static char *body_title(const struct hub_feed_entry *e)
{
	size_t len = 0, chars = 0;
	char *t;

	while (len < e->body_len) {
		if (((unsigned char)e->body[len] & 0xc0) != 0x80 &&
		    chars++ == HUB_FEED_TITLE_CHARS)
			break;
		len++;
	}
	t = malloc(len + 4);
	if (!t)
		return NULL;
	memcpy(t, e->body, len);
	t[len] = '\0';
	if (len < e->body_len)
		strcat(t + len, "\xe2\x80\xa6"); /* U+2026, an ellipsis */
	return t;
}

/* Fills e's fields from its body by the mapping (see the top). */
static int map_entry(struct hub_feed_entry *e, json_t *map)
{
	json_t *body = json_loadb(e->body, e->body_len, JSON_DECODE_ANY, NULL);
	const char *up;

	e->updated_ms = e->created_ms;
	if (json_is_object(body)) {
		e->title = dup_field(body, map, F_TITLE);
		e->link = dup_field(body, map, F_LINK);
		e->summary = dup_field(body, map, F_SUMMARY);
		e->content = dup_field(body, map, F_CONTENT);
		e->author = dup_field(body, map, F_AUTHOR);
		e->id = dup_field(body, map, F_ID);
		map_categories(e, field_value(body, map, F_CATEGORIES));
		up = json_string_value(field_value(body, map, F_UPDATED));
		if (up && !hub_feed__parse_3339(up, &e->updated_ms))
			e->updated_ms = e->created_ms;
	}
	json_decref(body);
	if (e->link && !hub_feed_is_url(e->link)) {
		free(e->link);
		e->link = NULL;
	}
	if (!e->title)
		e->title = body_title(e);
	return e->title ? 0 : FEED_ENOMEM;
}

static void entry_free(struct hub_feed_entry *e)
{
	free(e->body);
	free(e->title);
	free(e->link);
	free(e->summary);
	free(e->content);
	free(e->author);
	free(e->id);
	free(e->urn);
	free(e->href);
	for (size_t i = 0; i < e->n_categories; i++)
		free(e->categories[i]);
}

/* ----------------------------------------------------------------- URLs */

/* A host as a Host header may name it: a name, IPv4 or [IPv6], a port. */
static bool host_ok(const char *s, size_t n)
{
	if (n == 0 || n > 255)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr(".-_:[]", s[i]))
			return false;
	return true;
}

/* Copies s[0..n) trimmed of blanks and quotes into out (size 256). */
static void copy_token(char out[256], const char *s, size_t n)
{
	while (n && (*s == ' ' || *s == '\t' || *s == '"'))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '"'))
		n--;
	if (n > 255)
		n = 0;
	memcpy(out, s, n);
	out[n] = '\0';
}

/* RFC 7239: proto= and host= of the first element of Forwarded. */
static void forwarded(const char *v, char proto[256], char host[256])
{
	size_t end = strcspn(v, ",");

	while (end) {
		size_t n = strcspn(v, ";,"), eq = strcspn(v, "=");
		char key[256];

		if (eq < n) {
			copy_token(key, v, eq);
			if (strcasecmp(key, "proto") == 0)
				copy_token(proto, v + eq + 1, n - eq - 1);
			else if (strcasecmp(key, "host") == 0)
				copy_token(host, v + eq + 1, n - eq - 1);
		}
		if (n >= end)
			break;
		v += n + 1;
		end -= n + 1;
	}
}

/* The origin of r's URLs: "scheme://host", or "" when r tells no host
 * (new string; see the top). */
static char *origin(const struct hub_req *r)
{
	const char *pub = r->cfg->public_url;
	char proto[256] = "http", host[256] = "", fp[256] = "", fh[256] = "";
	char *out = NULL;
	size_t n = strlen(pub);

	if (n) {
		while (n && pub[n - 1] == '/')
			n--;
		return strndup(pub, n);
	}
	if (r->host)
		copy_token(host, r->host, strlen(r->host));
	if (r->cfg->trust_forwarded) {
		if (r->forwarded && *r->forwarded)
			forwarded(r->forwarded, fp, fh);
		if (!fp[0] && r->x_forwarded_proto)
			copy_token(fp, r->x_forwarded_proto,
				   strcspn(r->x_forwarded_proto, ","));
		if (!fh[0] && r->x_forwarded_host)
			copy_token(fh, r->x_forwarded_host,
				   strcspn(r->x_forwarded_host, ","));
		if (!strcasecmp(fp, "http") || !strcasecmp(fp, "https"))
			snprintf(proto, sizeof(proto), "%s",
				 tolower((unsigned char)fp[4]) == 's' ? "https"
								       : "http");
		if (host_ok(fh, strlen(fh)))
			memcpy(host, fh, sizeof(host));
	}
	if (!host_ok(host, strlen(host)))
		return strdup("");
	if (asprintf(&out, "%s://%s", proto, host) < 0)
		return NULL;
	return out;
}

static const char *const exts[] = {"atom", "rss", "json"};

/* The URL of a page of the feed: {queue_url}/feed.{ext} and the query -
 * limit when sent, the ids when they came in it (a reader follows links
 * with no headers), and before (NULL: none). New string. */
static char *page_url(const struct hub_req *r, const struct hub_feed *feed,
		      long long limit, const char *before)
{
	static const char *const ids[] = {"client_id", "project_id"};
	struct hub_buf b = {0};
	char sep = '?';

	hub_buf_printf(&b, "%s/feed.%s", feed->queue_url, exts[feed->format]);
	if (hub_query(r, "limit")) {
		hub_buf_printf(&b, "?limit=%lld", limit);
		sep = '&';
	}
	for (int i = 0; i < 2; i++) {
		if (!hub_query(r, ids[i]))
			continue;
		hub_buf_printf(&b, "%c%s=", sep, ids[i]);
		hub_msgs_put_encoded(&b, hub_query(r, ids[i]));
		sep = '&';
	}
	if (before)
		hub_buf_printf(&b, "%cbefore=%s", sep, before);
	return hub_buf_take(&b, NULL);
}

/* Writes s as a part of a urn:herald: id (see the top). */
static void put_urn_part(FILE *f, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (isalnum(c) || strchr("-._~", c))
			fputc(c, f);
		else
			fprintf(f, "%%%02X", c);
	}
}

/* urn:herald:{project}:{queue}[:{id}] (new string). */
static char *urn(const struct hub_req *r, const char *id)
{
	char *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);

	if (!f)
		return NULL;
	fputs("urn:herald:", f);
	put_urn_part(f, r->project);
	fprintf(f, ":%s%s%s", r->queue, id ? ":" : "", id ? id : "");
	if (fclose(f))
		return NULL;
	return s;
}

/* ---------------------------------------------------------------- pages */

/* The feed's own fields: ids, title, URLs (without the entries'). */
static int feed_head(const struct hub_req *r, struct hub_feed *feed,
		     long long limit)
{
	char *o = origin(r), *path = hub_queue_href(r, r->queue);

	feed->urn = urn(r, NULL);
	if (o && path && asprintf(&feed->queue_url, "%s%s", o, path) < 0)
		feed->queue_url = NULL;
	if (o && asprintf(&feed->home_url, "%s/#/q/%s", o, r->queue) < 0)
		feed->home_url = NULL;
	free(o);
	free(path);
	if (*r->project) {
		if (asprintf(&feed->title, "Queue %s of project %s", r->queue,
			     r->project) < 0)
			feed->title = NULL;
	} else if (asprintf(&feed->title, "Queue %s", r->queue) < 0) {
		feed->title = NULL;
	}
	if (!feed->urn || !feed->queue_url || !feed->home_url || !feed->title)
		return FEED_ENOMEM;
	feed->self = page_url(r, feed, limit, hub_query(r, "before"));
	return feed->self ? 0 : FEED_ENOMEM;
}

/* Moves the newest `limit` of the ring into the feed, newest first, and
 * maps them; an entry past them makes a next link. */
static int feed_fill(const struct hub_req *r, struct ring *ring,
		     long long limit, json_t *map, struct hub_feed *feed)
{
	int rc = feed_head(r, feed, limit);

	feed->n = ring->n < (size_t)limit ? ring->n : (size_t)limit;
	feed->v = calloc(feed->n ? feed->n : 1, sizeof(*feed->v));
	if (rc || !feed->v)
		return FEED_ENOMEM;
	feed->updated_ms = feed->n ? 0 : r->now_ms;
	for (size_t i = 0; i < feed->n && !rc; i++) {
		struct hub_feed_entry *e = &feed->v[i], *src = ring_get(ring, i);

		*e = *src;
		src->body = NULL; /* moved */
		rc = map_entry(e, map);
		e->urn = urn(r, e->msg_id);
		if (asprintf(&e->href, "%s/messages/%s", feed->queue_url,
			     e->msg_id) < 0)
			e->href = NULL;
		if (!rc && (!e->urn || !e->href))
			rc = FEED_ENOMEM;
		if (e->updated_ms > feed->updated_ms)
			feed->updated_ms = e->updated_ms;
		if (e->created_ms > feed->modified_ms)
			feed->modified_ms = e->created_ms;
	}
	if (!rc && ring->n > (size_t)limit) {
		feed->next = page_url(r, feed, limit,
				      feed->v[feed->n - 1].msg_id);
		rc = feed->next ? 0 : FEED_ENOMEM;
	}
	return rc;
}

static void feed_free(struct hub_feed *feed)
{
	for (size_t i = 0; i < feed->n; i++)
		entry_free(&feed->v[i]);
	free(feed->v);
	free(feed->urn);
	free(feed->title);
	free(feed->queue_url);
	free(feed->home_url);
	free(feed->self);
	free(feed->next);
}

/* ------------------------------------------------------ conditional GET */

/* The feed's tag: what the document is a function of (see the top). */
static void feed_etag(const struct hub_req *r, const struct hub_feed *feed,
		      const char *map_text, char tag[HUB_ETAG_MAX])
{
	struct hub_etag e;

	hub_etag_init(&e);
	hub_etag_add_str(&e, exts[feed->format]);
	hub_etag_add_str(&e, r->project);
	hub_etag_add_str(&e, r->queue);
	hub_etag_add_str(&e, feed->self);
	hub_etag_add_str(&e, feed->next);
	hub_etag_add_str(&e, map_text);
	for (size_t i = 0; i < feed->n; i++) {
		const struct hub_feed_entry *en = &feed->v[i];

		hub_etag_add_str(&e, en->msg_id);
		hub_etag_add_u64(&e, en->created_ms);
		hub_etag_add(&e, en->body, en->body_len);
	}
	hub_etag_format(&e, feed->n == 0, tag);
}

/* Sets the validators and caching headers; true when the client has the
 * document (304). */
static bool not_modified(struct hub_req *r, const struct hub_feed *feed,
			 const char *map_text)
{
	char tag[HUB_ETAG_MAX], date[40];
	uint64_t since;

	feed_etag(r, feed, map_text, tag);
	hub_header(r, "ETag", "%s", tag);
	hub_header(r, "Cache-Control", "max-age=%d", HUB_FEED_MAX_AGE_S);
	if (feed->modified_ms) {
		hub_feed_time_http(date, feed->modified_ms);
		hub_header(r, "Last-Modified", "%s", date);
	}
	if (r->if_none_match && *r->if_none_match)
		return hub_etag_matches(r, tag);
	return feed->modified_ms && r->if_modified_since &&
	       hub_feed__parse_http_date(r->if_modified_since, &since) &&
	       feed->modified_ms / 1000 <= since / 1000;
}

/* ---------------------------------------------------------------- serve */

/* ?before=: a message id, or absent. Replies 400 and returns false when
 * it is not an id. */
static bool query_before(struct hub_req *r, struct pos *before, bool *has)
{
	const char *v = hub_query(r, "before");

	*has = v != NULL;
	if (!v || (strlen(v) == FEED_ID_LEN &&
		   feed_id_parse(v, &before->generation, &before->seq) == 0))
		return true;
	hub_reply_error(r, 400, "Invalid API request",
			"before must be a message id, as a feed's next link "
			"gives it.");
	return false;
}

/* Renders the document and replies it. */
static void feed_reply(struct hub_req *r, const struct hub_feed *feed,
		       const char *type, hub_feed_render_fn render)
{
	char *doc = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&doc, &len);

	if (!f) {
		hub_msgs_reply_nomem(r);
		return;
	}
	render(f, r, feed);
	if (fclose(f) || !doc)
		hub_msgs_reply_nomem(r);
	else
		hub_reply_raw(r, 200, type, doc, len);
	free(doc);
}

void hub_feed_serve(struct hub_req *r, enum hub_feed_format format,
		    const char *type, hub_feed_render_fn render)
{
	struct hub_feed feed = {.format = format};
	struct ring ring = {.v = NULL};
	struct pos before;
	json_t *meta = NULL, *map;
	char *map_text = NULL;
	long long limit;
	bool has_before;
	int rc;

	if (!hub_query_int(r, "limit", FEED_DEFAULT_LIMIT, &limit))
		return;
	if (limit < 1 || limit > FEED_MAX_LIMIT) {
		hub_msgs_reply_limit(r, FEED_MAX_LIMIT);
		return;
	}
	if (!query_before(r, &before, &has_before))
		return;
	ring.cap = (size_t)limit + 1;
	ring.v = calloc(ring.cap, sizeof(*ring.v));
	meta = hub_queue_meta(r, r->queue);
	map = json_object_get(meta, "_feed_fields");
	map = json_is_object(map) ? map : NULL;
	map_text = map ? json_dumps(map, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	rc = ring.v && meta && (!map || map_text) ? 0 : FEED_ENOMEM;
	if (!rc)
		rc = read_newest(r, has_before ? &before : NULL, &ring);
	if (!rc)
		rc = feed_fill(r, &ring, limit, map, &feed);
	if (rc)
		hub_reply_feed_error(r, rc, NULL);
	else if (not_modified(r, &feed, map_text))
		hub_reply(r, 304, NULL);
	else
		feed_reply(r, &feed, type, render);
	feed_free(&feed);
	ring_reset(&ring);
	free(ring.v);
	free(map_text);
	json_decref(meta);
}
