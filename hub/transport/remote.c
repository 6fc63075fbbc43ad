/*
 * remote.c - reading a queue of another node for a live subscriber here
 * (remote.h): a marker, one request to the owner at a time, and at most
 * one batch ready for the transport.
 *
 *   open --> (from now) GET .../stats, its Herald-Tail is the marker
 *        --> GET .../messages?marker=M&limit=L&echo=E&include_claimed=true
 *              200: Herald-Gap --> a gap batch; messages --> a batch,
 *                   the marker after the last; a full page reads again
 *                   as soon as the batch is taken
 *              no answer, 5xx, 421 --> asked again after a back-off
 *              401/403/4xx --> first read: the subscription is refused;
 *                   later: asked again at the next check (logged)
 *        <-- the registry's wake (news on the bus, a due check,
 *            hub_remotes_heal): read again, once the ready batch is taken
 *
 * The listing answer is decoded by jansson (api/batch.c) with where each
 * body lies in the text, so the messages are rendered as a local cursor
 * renders them and the bodies go on byte for byte.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "clock.h"
#include "cluster.h"
#include "server.h" /* bus.h, hclient.h (a name transport/ has too) */
#include "log.h"
#include "api/batch.h"
#include "api/gather.h"
#include "live/sub.h"
#include "transport/remote.h"

#define RETRY_MIN_MS 250u
#define RETRY_MAX_MS 4000u

struct hub_remotes {
	struct lws_context *ctx;
	struct hub_subs *subs;
	const struct hub_hclient *hclient;
	const struct hub_bus *bus;
	unsigned page_limit;
	size_t body_max;
	lws_dll2_owner_t all;
};

enum phase {
	PHASE_TAIL,    /* asking for the marker "from now" */
	PHASE_READ,    /* reading after the marker */
};

struct hub_remote {
	lws_dll2_t node;              /* in rs->all */
	struct hub_remotes *rs;
	struct hub_sub sub;           /* woken by news and due checks */
	struct hub_remote_opts o;     /* its callbacks; strings copied: */
	char project[FEED_PROJECT_MAX + 1];
	char queue[FEED_NAME_MAX + 1];
	char owner[HUB_NODE_MAX];
	char *token;
	uint8_t client_id[16];
	bool has_client;
	bool watching;                /* on the bus */

	char marker[FEED_ID_LEN + 1]; /* after the last message delivered */
	enum phase phase;
	bool opened;                  /* the first read was answered */
	bool reading;                 /* q is out */
	bool again;                   /* woken while reading or ready */
	bool more;                    /* the last page was full */
	unsigned failures;            /* in a row: the back-off */
	lws_sorted_usec_list_t retry;
	struct hub_hclient_req q;
	char path[512];
	char *headers;

	/* What is ready: a gap (told once per marker), then messages. */
	bool gap_ready;
	int64_t missed;
	char gap_marker[FEED_ID_LEN + 1];
	char gap_told[FEED_ID_LEN + 1]; /* the marker a gap was told at */
	bool msgs_ready;
	struct hub_buf text;          /* the rendered messages */
	size_t n;
	size_t len[HUB_CURSOR_LIMIT_MAX];
	char ids[HUB_CURSOR_LIMIT_MAX][FEED_ID_LEN + 1];
	char batch_marker[FEED_ID_LEN + 1];
};

static void start_read(struct hub_remote *rm);

/* ------------------------------------------------------------ requests */

/* The subscriber's credentials as it gave them, and Herald-Local. */
static char *headers_of(const struct hub_remote *rm)
{
	const struct hub_auth_cred c = {.project = rm->project,
					.token = rm->token};

	return hub_gather_headers(&c, rm->has_client ? rm->client_id : NULL);
}

static void on_retry(lws_sorted_usec_list_t *sul)
{
	struct hub_remote *rm = lws_container_of(sul, struct hub_remote, retry);

	start_read(rm);
}

/* Asks again later: the owner could not answer now. */
static void back_off(struct hub_remote *rm)
{
	unsigned ms = hub_backoff_ms(RETRY_MIN_MS, RETRY_MAX_MS, &rm->failures);

	lws_sul_schedule(rm->rs->ctx, 0, &rm->retry, on_retry,
			 (lws_usec_t)ms * LWS_US_PER_MS);
}

/* The first read's outcome; false when the reader was refused (and the
 * owner told: it closes rm). */
static bool open_done(struct hub_remote *rm, int status, const char *why)
{
	if (rm->opened)
		return true;
	if (status) {
		rm->o.opened(rm, status, why);
		return false;
	}
	rm->opened = true;
	rm->o.opened(rm, 0, NULL);
	return true;
}

/* A refusal's description from the owner's JSON error, into buf. */
static const char *refusal_text(const struct hub_buf *body, char *buf,
				size_t len)
{
	json_t *j = json_loadb(body->data ? body->data : "", body->len, 0, NULL);
	const char *d = json_string_value(json_object_get(j, "description"));

	snprintf(buf, len, "%s", d ? d : "The queue's node refused the read.");
	json_decref(j);
	return buf;
}

/* A message of the page as the live transports send it, or false. */
static bool take_message(struct hub_remote *rm, json_t *m,
			 const struct hub_batch_span *span, const char *text)
{
	const char *id = json_string_value(json_object_get(m, "id"));
	json_t *ttl = json_object_get(m, "ttl"), *age = json_object_get(m, "age");
	size_t start = rm->text.len;

	if (!id || strlen(id) != FEED_ID_LEN || !json_is_integer(ttl) ||
	    !json_is_integer(age) || !span->len ||
	    rm->n == HUB_CURSOR_LIMIT_MAX)
		return false;
	/* hub_cursor_render_msg's shape, with the body as it came. */
	hub_buf_printf(&rm->text, "{\"id\": \"%s\", \"ttl\": %lld, \"age\": "
		       "%lld, \"body\": ", id,
		       (long long)json_integer_value(ttl),
		       (long long)json_integer_value(age));
	hub_buf_add(&rm->text, text + span->off, span->len);
	hub_buf_add(&rm->text, "}", 1);
	memcpy(rm->ids[rm->n], id, FEED_ID_LEN + 1);
	rm->len[rm->n++] = rm->text.len - start;
	return !rm->text.failed;
}

/* A 200 of the listing: the page into the ready batch. False when the
 * answer makes no sense (then it is asked again, as for no answer). */
static bool take_page(struct hub_remote *rm, const struct hub_hclient_req *q)
{
	struct hub_batch page;
	json_error_t err;
	json_t *msgs;

	if (hub_batch_parse(&page, q->body_in.data ? q->body_in.data : "",
			    q->body_in.len, false, &err))
		return false;
	msgs = json_object_get(page.doc, "messages");
	hub_buf_reset(&rm->text, 0);
	rm->n = 0;
	for (size_t i = 0; i < page.n; i++)
		if (!take_message(rm, json_array_get(msgs, i), &page.spans[i],
				  q->body_in.data)) {
			hub_batch_free(&page);
			return false;
		}
	hub_batch_free(&page);
	/* Herald-Gap: messages after the marker were lost; told once per
	 * marker, with where delivery resumes. */
	if (q->header[0] && strcmp(rm->gap_told, rm->marker) != 0) {
		char *end;
		long long v = strtoll(q->header, &end, 10);

		rm->gap_ready = true;
		rm->missed = *end || v < 0 ? -1 : v;
		memcpy(rm->gap_told, rm->marker, sizeof(rm->marker));
		if (!rm->n || feed_marker_before(rm->ids[0], rm->gap_marker))
			memcpy(rm->gap_marker, rm->marker, sizeof(rm->marker));
	}
	rm->more = rm->n >= rm->rs->page_limit;
	if (rm->n) {
		rm->msgs_ready = true;
		memcpy(rm->batch_marker, rm->ids[rm->n - 1], FEED_ID_LEN + 1);
		memcpy(rm->marker, rm->batch_marker, sizeof(rm->marker));
	}
	return true;
}

static void read_done(struct hub_hclient_req *q)
{
	struct hub_remote *rm = lws_container_of(q, struct hub_remote, q);
	char why[256];

	rm->reading = false;
	free(rm->headers);
	rm->headers = NULL;
	if (q->status == 200 || q->status == 204 ||
	    (rm->phase == PHASE_TAIL && q->status == 404)) {
		bool ok = true;

		if (rm->phase == PHASE_TAIL) {
			/* The marker "from now" (or "" for no queue yet);
			 * then one read closes the race with the bus. */
			if (hub_cursor_marker_ok(q->header) &&
			    strlen(q->header) == FEED_ID_LEN)
				memcpy(rm->marker, q->header, FEED_ID_LEN + 1);
			else
				rm->marker[0] = '\0';
			rm->phase = PHASE_READ;
			rm->again = true;
		} else {
			ok = take_page(rm, q);
		}
		if (ok) {
			rm->failures = 0;
			/* A read in a while, whatever the bus brings (the
			 * registry keeps the earliest asked). */
			hub_sub_wake_at(&rm->sub,
					hub_now_ms() + HUB_REMOTE_CHECK_MS);
			if (!open_done(rm, 0, NULL))
				return;
			if (rm->gap_ready || rm->msgs_ready)
				rm->o.wake(rm);
			else if (rm->again || rm->more)
				start_read(rm);
			return;
		}
		hub_log(HUB_LOG_WARN, "cluster: node %s answered a read of %s "
			"with a page that cannot be read", rm->owner, rm->queue);
		q->status = 502;
	}
	if (q->status == 421) {
		/* The shard moved: its owner by this node's map (which the
		 * operator flips right after the balancer's). */
		char owner[HUB_NODE_MAX];
		unsigned shard;

		if (!hub_cluster_owns(rm->queue, owner, &shard))
			memcpy(rm->owner, owner, sizeof(rm->owner));
		else /* here now: read this node through its own API */
			snprintf(rm->owner, sizeof(rm->owner), "%s",
				 hub_cluster_self());
	}
	if (q->status == 0 || q->status >= 500 || q->status == 421) {
		/* Not now: the node is down, restarting, or the map moves. */
		if (!rm->opened) {
			snprintf(why, sizeof(why), "Node %s, which holds queue "
				 "%s, did not answer (%s); try again.",
				 rm->owner, rm->queue,
				 q->status ? "busy" : q->why ? q->why : "down");
			open_done(rm, 503, why);
			return;
		}
		back_off(rm);
		return;
	}
	/* Refused: the credential, the marker, the name. */
	if (!open_done(rm, q->status, refusal_text(&q->body_in, why,
						   sizeof(why))))
		return;
	hub_log(HUB_LOG_WARN, "cluster: node %s refused a read of %s (%d): "
		"asked again in %u s", rm->owner, rm->queue, q->status,
		HUB_REMOTE_CHECK_MS / 1000);
	hub_sub_wake_at(&rm->sub, hub_now_ms() + HUB_REMOTE_CHECK_MS);
}

/* One request to the owner, unless one is out or a batch waits. */
static void start_read(struct hub_remote *rm)
{
	const struct hub_cluster_peer *peer = hub_cluster_address(rm->owner);
	struct hub_hclient_req *q = &rm->q;
	char limit[16] = "";

	if (rm->reading || rm->gap_ready || rm->msgs_ready) {
		rm->again = true;
		return;
	}
	lws_sul_cancel(&rm->retry);
	rm->again = false;
	rm->more = false;
	if (!peer) { /* the map named another owner, with no address */
		back_off(rm);
		return;
	}
	if (rm->phase == PHASE_TAIL) {
		snprintf(rm->path, sizeof(rm->path), "/v2/queues/%s/stats",
			 rm->queue);
	} else {
		snprintf(limit, sizeof(limit), "%u", rm->rs->page_limit);
		snprintf(rm->path, sizeof(rm->path),
			 "/v2/queues/%s/messages?%s%s%slimit=%s&echo=%s"
			 "&include_claimed=true",
			 rm->queue, rm->marker[0] ? "marker=" : "", rm->marker,
			 rm->marker[0] ? "&" : "", limit,
			 rm->o.echo ? "true" : "false");
	}
	free(rm->headers);
	if (!(rm->headers = headers_of(rm))) {
		back_off(rm);
		return;
	}
	memset(q, 0, sizeof(*q));
	q->address = peer->address;
	q->port = peer->port;
	q->host = peer->address;
	q->method = "GET";
	q->path = rm->path;
	q->headers = rm->headers;
	q->keep_header = rm->phase == PHASE_TAIL ? "herald-tail:"
						 : "herald-gap:";
	q->body_max = rm->rs->body_max;
	q->timeout_s = 10;
	q->done = read_done;
	rm->reading = true;
	if (rm->rs->hclient->start(rm->rs->hclient->arg, q)) {
		rm->reading = false;
		back_off(rm);
	}
}

/* ------------------------------------------------------------- readers */

static void sub_woken(struct hub_sub *sub)
{
	start_read(lws_container_of(sub, struct hub_remote, sub));
}

struct hub_remote *hub_remote_open(struct hub_remotes *rs, const char *owner,
				   const struct hub_remote_opts *o,
				   const char **why)
{
	struct hub_remote *rm;

	*why = "Out of memory.";
	if (!hub_cluster_address(owner)) {
		*why = "The queue's node has no address here (--cluster-nodes).";
		return NULL;
	}
	if (!(rm = calloc(1, sizeof(*rm))))
		return NULL;
	rm->rs = rs;
	rm->o = *o;
	snprintf(rm->project, sizeof(rm->project), "%s", o->project);
	snprintf(rm->queue, sizeof(rm->queue), "%s", o->queue);
	snprintf(rm->owner, sizeof(rm->owner), "%s", owner);
	rm->has_client = o->client_id != NULL;
	if (o->client_id)
		memcpy(rm->client_id, o->client_id, 16);
	if (o->token && !(rm->token = strdup(o->token)))
		goto fail;
	rm->phase = o->from == HUB_CURSOR_NOW ? PHASE_TAIL : PHASE_READ;
	rm->opened = !o->opened; /* a subscription going on: no answer due */
	if (o->from == HUB_CURSOR_MARKER && o->marker)
		snprintf(rm->marker, sizeof(rm->marker), "%s", o->marker);
	rm->sub.wake = sub_woken;
	rm->sub.kind = HUB_SUB_WS;
	if (hub_sub_attach(rs->subs, &rm->sub, rm->project, rm->queue))
		goto fail;
	/* News before the first read: nothing between is missed. */
	if (rs->bus->watch(rs->bus->arg, rm->queue)) {
		hub_sub_detach(rs->subs, &rm->sub);
		goto fail;
	}
	rm->watching = true;
	lws_dll2_add_tail(&rm->node, &rs->all);
	start_read(rm);
	return rm;
fail:
	free(rm->token);
	free(rm);
	return NULL;
}

void hub_remote_close(struct hub_remote *rm)
{
	if (!rm)
		return;
	if (rm->reading)
		rm->rs->hclient->cancel(rm->rs->hclient->arg, &rm->q);
	lws_sul_cancel(&rm->retry);
	hub_sub_detach(rm->rs->subs, &rm->sub);
	if (rm->watching)
		rm->rs->bus->unwatch(rm->rs->bus->arg, rm->queue);
	lws_dll2_remove(&rm->node);
	hub_buf_free(&rm->text);
	free(rm->headers);
	free(rm->token);
	free(rm);
}

void *hub_remote_user(const struct hub_remote *rm)
{
	return rm->o.user;
}

bool hub_remote_ready(const struct hub_remote *rm)
{
	return rm->gap_ready || rm->msgs_ready;
}

void hub_remote_next(struct hub_remote *rm, struct hub_cursor_batch *b)
{
	memset(b, 0, offsetof(struct hub_cursor_batch, items_));
	b->now_ms = hub_now_ms();
	b->kind = HUB_BATCH_NONE;
	if (rm->gap_ready) {
		rm->gap_ready = false;
		b->kind = HUB_BATCH_GAP;
		b->missed = rm->missed;
		memcpy(b->marker, rm->gap_marker, sizeof(b->marker));
		return;
	}
	if (rm->msgs_ready) {
		size_t off = 0;

		rm->msgs_ready = false;
		b->kind = HUB_BATCH_MSGS;
		b->n = rm->n;
		memcpy(b->marker, rm->batch_marker, sizeof(b->marker));
		/* The batch takes the text; the reader renders anew. */
		b->text_ = rm->text;
		memset(&rm->text, 0, sizeof(rm->text));
		for (size_t i = 0; i < rm->n; i++) {
			b->items_[i].id = rm->ids[i];
			b->items_[i].json = b->text_.data + off;
			b->items_[i].len = rm->len[i];
			off += rm->len[i];
		}
		b->items = b->items_;
	}
	/* Taken: what came meanwhile, or the rest of a full page. */
	if (rm->again || rm->more)
		start_read(rm);
}

/* ------------------------------------------------------------ the loop */

struct hub_remotes *hub_remotes_new(struct lws_context *ctx,
				    struct hub_subs *subs,
				    const struct hub_hclient *hclient,
				    const struct hub_bus *bus,
				    unsigned page_limit, size_t body_max)
{
	struct hub_remotes *rs = calloc(1, sizeof(*rs));

	if (!rs)
		return NULL;
	rs->ctx = ctx;
	rs->subs = subs;
	rs->hclient = hclient;
	rs->bus = bus;
	rs->page_limit = page_limit ? page_limit : 20;
	if (rs->page_limit > HUB_CURSOR_LIMIT_MAX)
		rs->page_limit = HUB_CURSOR_LIMIT_MAX;
	rs->body_max = body_max;
	return rs;
}

void hub_remotes_free(struct hub_remotes *rs)
{
	free(rs);
}

void hub_remotes_heal(struct hub_remotes *rs)
{
	lws_start_foreach_dll_safe(struct lws_dll2 *, d, d1,
				   lws_dll2_get_head(&rs->all)) {
		struct hub_remote *rm =
			lws_container_of(d, struct hub_remote, node);

		if (rm->opened && !rm->reading)
			start_read(rm);
	} lws_end_foreach_dll_safe(d, d1);
}
