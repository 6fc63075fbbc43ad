/*
 * hooks.c - the webhook deliverer (hooks.h): one `struct hook` per live
 * subscription, each a small state machine over its queue's log.
 *
 *   IDLE     nothing to send, or woken: read the message after the
 *            marker (feed_read, one message); none - wait for a wake (a
 *            commit, or the due time the read gave); one - render its
 *            notification and send it
 *   READY    rendered, waiting for a connection slot (h->ready, FIFO)
 *   POSTING  the transport has it; hub_hooks_posted() answers
 *   WAITING  the last attempt failed: a timer for the next one, on the
 *            API clock (hub_now_ms), so a test that moves its clock is
 *            served within a second, as sub.h's due timers are
 *
 * Delivered (200..499, as Zaqar counts it) or given up: the marker moves
 * past the message in memory at once, and in LMDB by an advance job
 * (feed_sub_advance_tx); a hook has at most one out and sends the newest
 * marker when it returns, so markers are written about once per commit
 * of the writer, not once per message. After a restart a hook resumes
 * from the stored marker: a message delivered whose advance was not yet
 * committed is delivered again (at least once).
 *
 * A confirmation (hub_hooks_confirmation) is a "control" message: sent
 * ahead of the log, never moving the marker.
 *
 * Threads: the deliverer lives on the thread that made it (the server's
 * loop 0). With several service loops (--loops) the API's writes on the
 * other loops still tell it of their commits: hub_hooks_reload() and
 * hub_hooks_confirmation() called on another thread leave a letter in a
 * locked mailbox and wake its loop (lws_cancel_service), which reads it
 * in hub_hooks_collect().
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "hooks.h"
#include "log.h"
#include "route.h"
#include "sub.h"
#include "writer.h"
#include "sign.h"

enum hook_state { H_IDLE, H_READY, H_POSTING, H_WAITING };

struct hook {
	lws_dll2_t node;  /* h->all */
	lws_dll2_t ready; /* h->ready while READY */
	struct hub_sub sub;
	struct hub_hooks *h;
	char project[FEED_PROJECT_MAX + 1];
	char queue[FEED_NAME_MAX + 1];
	char id[FEED_SUB_ID_LEN + 1];
	char *url;
	json_t *options;
	bool confirmed;
	uint64_t expires_ms;
	char marker[FEED_ID_LEN + 1]; /* delivered up to */
	char stored[FEED_ID_LEN + 1]; /* in LMDB, or on its way there */
	bool advancing;               /* an advance job is out */
	bool dead;                    /* gone: freed once nothing is out */
	bool seen;                    /* reload's mark */
	enum hook_state state;
	/* The notification being delivered. */
	char *body;
	size_t body_len;
	char next[FEED_ID_LEN + 1]; /* marker once delivered; "" control */
	unsigned retries;
	bool have_policy;
	struct hub_retry_policy policy;
	uint64_t sent_ms;     /* when the last attempt started (API clock) */
	uint64_t retry_at_ms;
	char *control; /* a confirmation waiting its turn */
	lws_sorted_usec_list_t timer;
};

struct hub_hooks {
	struct lws_context *ctx;
	feed_t *feed;
	struct hub_writer *writer;
	struct hub_subs *subs;
	const struct hub_config *cfg;
	struct hub_hooks_transport t;
	lws_dll2_owner_t all, ready;
	size_t in_flight;
	bool stopping;
	/* Drops the hooks whose ttl passed while idle (nothing woke them). */
	lws_sorted_usec_list_t sweep;
	/* counts, in_flight and all.count, read by hub_hooks_counts() from
	 * any loop (/health): changed and read under counts_lock. */
	struct hub_hooks_counts counts;
	pthread_mutex_t counts_lock;
	pthread_t owner;          /* the loop thread it lives on */
	pthread_mutex_t mail_lock;
	struct letter *mail, **mail_tail; /* from other threads */
};

/* A call made on another thread, for the owner's loop to make. */
struct letter {
	struct letter *next;
	bool confirmation, unsubscribed;
	char project[FEED_PROJECT_MAX + 1];
	char queue[FEED_NAME_MAX + 1];
	char id[FEED_SUB_ID_LEN + 1];
};

/* stmt on h's counters, under their lock. */
#define COUNTED(h, stmt)                                                       \
	do {                                                                   \
		pthread_mutex_lock(&(h)->counts_lock);                         \
		stmt;                                                          \
		pthread_mutex_unlock(&(h)->counts_lock);                       \
	} while (0)

static void hook_kick(struct hook *k);
static void hook_send(struct hook *k);
static void hook_failed(struct hook *k, int status);

/* ------------------------------------------------------------- lifetime */

static void hook_free(struct hook *k)
{
	lws_sul_cancel(&k->timer);
	hub_sub_detach(k->h->subs, &k->sub);
	lws_dll2_remove(&k->ready);
	COUNTED(k->h, lws_dll2_remove(&k->node));
	free(k->url);
	json_decref(k->options);
	free(k->body);
	free(k->control);
	free(k);
}

/* Takes k out of service; freed now or once its post or advance is
 * back. */
static void hook_drop(struct hook *k)
{
	k->dead = true;
	lws_sul_cancel(&k->timer);
	hub_sub_detach(k->h->subs, &k->sub);
	lws_dll2_remove(&k->ready);
	if (k->state == H_READY)
		k->state = H_IDLE;
	if (k->state != H_POSTING && !k->advancing)
		hook_free(k);
}

static void hook_wake(struct hub_sub *sub)
{
	hook_kick(lws_container_of(sub, struct hook, sub));
}

/* Takes what s says (but a marker behind the one in memory). */
static void hook_update(struct hook *k, const feed_sub_t *s)
{
	uint64_t g1, q1, g2, q2;
	char *url = strdup(s->subscriber);
	json_t *opt = json_loads(s->options, 0, NULL);

	if (url) {
		free(k->url);
		k->url = url;
	}
	if (opt) {
		json_decref(k->options);
		k->options = opt;
	}
	k->confirmed = s->confirmed;
	k->expires_ms = s->expires_ms;
	k->have_policy = false;
	if (!k->marker[0] || feed_id_parse(k->marker, &g1, &q1) ||
	    feed_id_parse(s->marker, &g2, &q2) || g1 != g2 || q2 > q1) {
		memcpy(k->marker, s->marker, sizeof(k->marker));
		memcpy(k->stored, s->marker, sizeof(k->stored));
	}
}

static struct hook *hook_new(struct hub_hooks *h, const feed_sub_t *s)
{
	struct hook *k = calloc(1, sizeof(*k));

	if (!k)
		return NULL;
	k->h = h;
	k->sub.wake = hook_wake;
	k->sub.kind = HUB_SUB_WEBHOOK;
	snprintf(k->project, sizeof(k->project), "%s", s->project);
	snprintf(k->queue, sizeof(k->queue), "%s", s->queue);
	snprintf(k->id, sizeof(k->id), "%s", s->id);
	hook_update(k, s);
	if (!k->url || !k->options ||
	    hub_sub_attach(h->subs, &k->sub, k->project, k->queue)) {
		free(k->url);
		json_decref(k->options);
		free(k);
		return NULL;
	}
	COUNTED(h, lws_dll2_add_tail(&k->node, &h->all));
	return k;
}

static struct hook *hook_find(struct hub_hooks *h, const char *project,
			      const char *queue, const char *id)
{
	lws_start_foreach_dll(struct lws_dll2 *, d, lws_dll2_get_head(&h->all)) {
		struct hook *k = lws_container_of(d, struct hook, node);

		if (!k->dead && strcmp(k->id, id) == 0 &&
		    strcmp(k->queue, queue) == 0 &&
		    strcmp(k->project, project) == 0)
			return k;
	} lws_end_foreach_dll(d);
	return NULL;
}

struct hub_hooks *hub_hooks_new(struct lws_context *ctx, feed_t *feed,
				struct hub_writer *w, struct hub_subs *subs,
				const struct hub_config *cfg,
				const struct hub_hooks_transport *t)
{
	struct hub_hooks *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->ctx = ctx;
	h->feed = feed;
	h->writer = w;
	h->subs = subs;
	h->cfg = cfg;
	h->t = *t;
	h->owner = pthread_self();
	pthread_mutex_init(&h->mail_lock, NULL);
	pthread_mutex_init(&h->counts_lock, NULL);
	h->mail_tail = &h->mail;
	return h;
}

/* Off the owner's thread: posts the call; true when it was posted (or
 * dropped for want of memory: said in the log). */
static bool mail_post(struct hub_hooks *h, const char *project,
		      const char *queue, const char *id, bool unsubscribed)
{
	struct letter *l;

	if (pthread_equal(h->owner, pthread_self()))
		return false;
	l = calloc(1, sizeof(*l));
	if (!l) {
		hub_log(HUB_LOG_ERROR, "webhooks: out of memory: the "
			"subscriptions of %s are read again at the next "
			"change", queue);
		return true;
	}
	snprintf(l->project, sizeof(l->project), "%s", project);
	snprintf(l->queue, sizeof(l->queue), "%s", queue);
	if (id) {
		l->confirmation = true;
		l->unsubscribed = unsubscribed;
		snprintf(l->id, sizeof(l->id), "%s", id);
	}
	pthread_mutex_lock(&h->mail_lock);
	*h->mail_tail = l;
	h->mail_tail = &l->next;
	pthread_mutex_unlock(&h->mail_lock);
	lws_cancel_service(h->ctx);
	return true;
}

void hub_hooks_collect(struct hub_hooks *h)
{
	struct letter *list;

	if (!h)
		return;
	pthread_mutex_lock(&h->mail_lock);
	list = h->mail;
	h->mail = NULL;
	h->mail_tail = &h->mail;
	pthread_mutex_unlock(&h->mail_lock);
	while (list) {
		struct letter *l = list;

		list = l->next;
		if (l->confirmation)
			hub_hooks_confirmation(h, l->project, l->queue, l->id,
					       l->unsubscribed);
		else
			hub_hooks_reload(h, l->project, l->queue);
		free(l);
	}
}

/* Every minute: a subscription whose ttl passed goes from memory too
 * (the store forgot it at once; a busy hook notices at its next wake). */
#define SWEEP_US (60 * LWS_US_PER_SEC)

static void hooks_sweep(lws_sorted_usec_list_t *sul)
{
	struct hub_hooks *h = lws_container_of(sul, struct hub_hooks, sweep);
	uint64_t now = hub_now_ms();

	lws_start_foreach_dll_safe(struct lws_dll2 *, d, d1,
				   lws_dll2_get_head(&h->all)) {
		struct hook *k = lws_container_of(d, struct hook, node);

		if (!k->dead && k->expires_ms <= now)
			hook_drop(k);
	} lws_end_foreach_dll_safe(d, d1);
	if (!h->stopping)
		lws_sul_schedule(h->ctx, 0, &h->sweep, hooks_sweep, SWEEP_US);
}

int hub_hooks_start(struct hub_hooks *h)
{
	uint8_t resume[FEED_SUB_RESUME_LEN] = {0};
	bool more = true;
	int rc = 0;

	while (rc == 0 && more) {
		feed_subs_t page;

		rc = feed_sub_scan(h->feed, resume, 256, hub_now_ms(), &page,
				   &more);
		for (size_t i = 0; rc == 0 && i < page.n; i++) {
			struct hook *k = hook_new(h, &page.v[i]);

			if (!k)
				rc = FEED_ENOMEM;
			else
				hook_kick(k);
		}
		feed_subs_free(&page);
	}
	if (h->all.count)
		hub_log(HUB_LOG_INFO, "webhooks: %u subscriptions",
			(unsigned)h->all.count);
	lws_sul_schedule(h->ctx, 0, &h->sweep, hooks_sweep, SWEEP_US);
	return rc;
}

void hub_hooks_free(struct hub_hooks *h)
{
	if (!h)
		return;
	while (h->all.head)
		hook_free(lws_container_of(h->all.head, struct hook, node));
	while (h->mail) {
		struct letter *l = h->mail;

		h->mail = l->next;
		free(l);
	}
	pthread_mutex_destroy(&h->mail_lock);
	pthread_mutex_destroy(&h->counts_lock);
	free(h);
}

void hub_hooks_counts(const struct hub_hooks *h, struct hub_hooks_counts *out)
{
	pthread_mutex_lock((pthread_mutex_t *)&h->counts_lock);
	*out = h->counts;
	out->subscriptions = (size_t)h->all.count;
	out->in_flight = h->in_flight;
	pthread_mutex_unlock((pthread_mutex_t *)&h->counts_lock);
}

void hub_hooks_reload(struct hub_hooks *h, const char *project,
		      const char *queue)
{
	feed_subs_t list;
	int rc;

	if (!h || h->stopping || mail_post(h, project, queue, NULL, false))
		return;
	rc = feed_sub_list(h->feed, project, queue, NULL, 0, hub_now_ms(),
			   &list);
	if (rc) {
		hub_log(HUB_LOG_ERROR, "webhooks: cannot read the "
			"subscriptions of %s: %s", queue, feed_strerror(rc));
		return;
	}
	lws_start_foreach_dll_safe(struct lws_dll2 *, d, d1,
				   lws_dll2_get_head(&h->all)) {
		struct hook *k = lws_container_of(d, struct hook, node);

		k->seen = strcmp(k->queue, queue) || strcmp(k->project, project);
	} lws_end_foreach_dll_safe(d, d1);
	for (size_t i = 0; i < list.n; i++) {
		struct hook *k = hook_find(h, project, queue, list.v[i].id);

		if (k)
			hook_update(k, &list.v[i]);
		else
			k = hook_new(h, &list.v[i]);
		if (!k) {
			hub_log(HUB_LOG_ERROR, "webhooks: out of memory");
			continue;
		}
		k->seen = true;
		hook_kick(k);
	}
	feed_subs_free(&list);
	lws_start_foreach_dll_safe(struct lws_dll2 *, d, d1,
				   lws_dll2_get_head(&h->all)) {
		struct hook *k = lws_container_of(d, struct hook, node);

		if (!k->seen && !k->dead)
			hook_drop(k);
	} lws_end_foreach_dll_safe(d, d1);
}

/* -------------------------------------------------------------- markers */

struct advance_job {
	struct hook *k;
	char project[FEED_PROJECT_MAX + 1];
	char queue[FEED_NAME_MAX + 1];
	char id[FEED_SUB_ID_LEN + 1];
	char marker[FEED_ID_LEN + 1];
};

static int advance_run(feed_txn_t *txn, void *ctx, uint64_t now_ms)
{
	struct advance_job *a = ctx;

	return feed_sub_advance_tx(txn, a->project, a->queue, a->id,
				   a->marker, now_ms);
}

static void hook_advance(struct hook *k);

static void advance_done(struct hub_req *r, void *ctx, int rc)
{
	struct advance_job *a = ctx;
	struct hook *k = a->k;

	(void)r;
	k->advancing = false;
	/* Gone meanwhile (deleted, expired): nothing to keep. */
	if (rc && rc != FEED_ENOTFOUND && rc != FEED_EBADID)
		hub_log(HUB_LOG_ERROR, "webhooks: the marker of subscription "
			"%s: %s", k->id, feed_strerror(rc));
	if (k->dead) {
		if (k->state != H_POSTING)
			hook_free(k);
	} else if (!k->h->stopping) {
		hook_advance(k);
	}
	free(a);
}

/* Writes the marker in memory to LMDB, unless it is there or on its way. */
static void hook_advance(struct hook *k)
{
	struct advance_job *a;
	struct hub_job *j;

	if (k->advancing || strcmp(k->marker, k->stored) == 0)
		return;
	a = calloc(1, sizeof(*a));
	j = calloc(1, sizeof(*j));
	if (!a || !j) {
		free(a);
		free(j);
		return; /* the next delivery tries again */
	}
	a->k = k;
	memcpy(a->project, k->project, sizeof(a->project));
	memcpy(a->queue, k->queue, sizeof(a->queue));
	memcpy(a->id, k->id, sizeof(a->id));
	memcpy(a->marker, k->marker, sizeof(a->marker));
	memcpy(k->stored, k->marker, sizeof(k->stored));
	j->run = advance_run;
	j->done = advance_done;
	j->ctx = a;
	j->now_ms = hub_now_ms();
	k->advancing = true;
	hub_writer_submit(k->h->writer, j);
}

/* ------------------------------------------------------------ rendering */

/* Replaces every `"$zaqar_message$"` of tmpl by msg (Zaqar's post_data).
 * New malloc'd, or NULL. */
static char *template_fill(const char *tmpl, const char *msg)
{
	static const char key[] = "\"$zaqar_message$\"";
	size_t klen = sizeof(key) - 1, mlen = strlen(msg), n = 0, len;
	const char *p, *q;
	char *out, *o;

	for (p = tmpl; (q = strstr(p, key)); p = q + klen)
		n++;
	len = strlen(tmpl) + n * mlen - n * klen;
	out = malloc(len + 1);
	if (!out)
		return NULL;
	o = out;
	for (p = tmpl; (q = strstr(p, key)); p = q + klen) {
		memcpy(o, p, (size_t)(q - p));
		o += q - p;
		memcpy(o, msg, mlen);
		o += mlen;
	}
	strcpy(o, p);
	return out;
}

/* The text of notification doc (stolen) for k: Zaqar's message JSON
 * with "queue_name", through post_data if k's options have one. New
 * malloc'd, or NULL. */
static char *notification_text(const struct hook *k, json_t *doc)
{
	const char *tmpl = json_string_value(json_object_get(k->options,
							     "post_data"));
	char *text;

	if (!doc)
		return NULL;
	json_object_set_new(doc, "queue_name", json_string(k->queue));
	text = json_dumps(doc, JSON_ENCODE_ANY);
	json_decref(doc);
	if (text && tmpl) {
		char *filled = template_fill(tmpl, text);

		free(text);
		text = filled;
	}
	return text;
}

/* Makes doc (stolen) the notification k delivers next. */
static bool hook_render(struct hook *k, json_t *doc)
{
	char *text = notification_text(k, doc);

	if (!text)
		return false;
	free(k->body);
	k->body = text;
	k->body_len = strlen(text);
	k->retries = 0;
	return true;
}

static json_t *message_doc(const feed_msg_t *m)
{
	json_t *body = json_loadb(m->body, m->body_len, JSON_DECODE_ANY, NULL);
	uint64_t ttl = m->expires_ms > m->created_ms
			       ? (m->expires_ms - m->created_ms) / 1000
			       : 0;

	if (!body)
		return NULL;
	return json_pack("{s:I, s:o, s:s}", "ttl", (json_int_t)ttl, "body",
			 body, "Message_Type", "Notification");
}

/* ------------------------------------------------------------- delivery */

static void hook_timer(lws_sorted_usec_list_t *sul)
{
	struct hook *k = lws_container_of(sul, struct hook, timer);
	uint64_t now = hub_now_ms();

	if (k->state != H_WAITING)
		return;
	if (now < k->retry_at_ms) {
		uint64_t ms = k->retry_at_ms - now;

		lws_sul_schedule(k->h->ctx, 0, &k->timer, hook_timer,
				 (lws_usec_t)(ms < 1000 ? ms : 1000) *
					 LWS_US_PER_MS);
		return;
	}
	k->state = H_IDLE;
	hook_send(k);
}

/* Reads the next message for k, or takes its waiting confirmation; false
 * when there is nothing to send now. */
static bool hook_next(struct hook *k)
{
	struct hub_hooks *h = k->h;
	feed_read_opts_t o = {.limit = 1,
			      .flags = FEED_READ_ECHO |
				       FEED_READ_INCLUDE_CLAIMED};
	feed_msgs_t m;
	int rc;

	if (k->control) {
		free(k->body);
		k->body = k->control;
		k->body_len = strlen(k->body);
		k->control = NULL;
		k->next[0] = '\0';
		k->retries = 0;
		return true;
	}
	if (h->cfg->require_confirmation && !k->confirmed)
		return false;
	rc = feed_read(h->feed, k->project, k->queue, k->marker, &o,
		       hub_now_ms(), &m);
	if (rc) {
		hub_log(HUB_LOG_ERROR, "webhooks: reading %s for subscription "
			"%s: %s", k->queue, k->id, feed_strerror(rc));
		return false;
	}
	if (m.gap) {
		COUNTED(h, h->counts.gaps++);
		hub_log(HUB_LOG_WARN, "webhooks: subscription %s of %s missed "
			"%lld expired or purged messages", k->id, k->queue,
			(long long)m.missed);
	}
	if (m.n == 0) {
		if (m.next_marker[0])
			memcpy(k->marker, m.next_marker, sizeof(k->marker));
		if (m.wake_ms)
			hub_sub_wake_at(&k->sub, m.wake_ms);
		feed_msgs_free(&m);
		return false;
	}
	memcpy(k->next, m.next_marker, sizeof(k->next));
	if (!hook_render(k, message_doc(&m.v[0]))) {
		/* A body that cannot be rendered is skipped, not retried. */
		hub_log(HUB_LOG_ERROR, "webhooks: message %s of %s cannot be "
			"rendered; skipped", m.v[0].id, k->queue);
		memcpy(k->marker, k->next, sizeof(k->marker));
		feed_msgs_free(&m);
		hook_advance(k);
		return false;
	}
	feed_msgs_free(&m);
	return true;
}

/* Hands k's body to the transport, or queues k for a slot. */
static void hook_send(struct hook *k)
{
	struct hub_hooks *h = k->h;
	struct hub_hook_post p = {k->url, k->body, k->body_len,
				  json_object_get(k->options, "post_headers"),
				  h, k};

	if (h->in_flight >= h->cfg->webhook_connections) {
		k->state = H_READY;
		lws_dll2_add_tail(&k->ready, &h->ready);
		return;
	}
	if (!json_is_object(p.headers))
		p.headers = NULL;
	k->state = H_POSTING;
	k->sent_ms = hub_now_ms();
	COUNTED(h, h->in_flight++);
	hub_log(HUB_LOG_DEBUG, "webhooks: subscription %s of %s: POST to %s "
		"(attempt %u)", k->id, k->queue, k->url, k->retries + 1);
	if (h->t.post(h->t.arg, &p) == 0)
		return;
	/* Not even started (a URL it cannot use, an address the allowlist
	 * refuses, no memory): a failed attempt like any other. */
	COUNTED(h, h->in_flight--);
	k->state = H_IDLE;
	hook_failed(k, 0);
}

static void hook_kick(struct hook *k)
{
	if (k->dead || k->state != H_IDLE || k->h->stopping)
		return;
	if (k->expires_ms <= hub_now_ms()) {
		hook_drop(k);
		return;
	}
	if (hook_next(k))
		hook_send(k);
}

/* The next hook waiting for a slot, if any. */
static void ready_next(struct hub_hooks *h)
{
	struct hook *k;

	if (!h->ready.head || h->in_flight >= h->cfg->webhook_connections)
		return;
	k = lws_container_of(h->ready.head, struct hook, ready);
	lws_dll2_remove(&k->ready);
	k->state = H_IDLE;
	hook_send(k);
}

/* The policy for k's retries: its options and its queue's metadata. */
static void hook_policy(struct hook *k)
{
	void *data = NULL;
	size_t len = 0;
	json_t *meta = NULL;

	if (k->have_policy)
		return;
	if (feed_queue_meta_get(k->h->feed, k->project, k->queue, &data,
				&len) == 0 && len)
		meta = json_loadb(data, len, 0, NULL);
	free(data);
	hub_retry_policy(k->options, meta, &k->policy);
	json_decref(meta);
	k->have_policy = true;
}

/* The last attempt failed: wait for the next, or give the message up. */
static void hook_failed(struct hook *k, int status)
{
	struct hub_hooks *h = k->h;
	long delay;

	COUNTED(h, h->counts.failed_attempts++);
	hook_policy(k);
	delay = hub_retry_delay(&k->policy, ++k->retries);
	hub_log(HUB_LOG_DEBUG, "webhooks: subscription %s of %s: attempt %u "
		"failed (%d); next in %ld s", k->id, k->queue, k->retries,
		status, delay);
	if (delay >= 0) {
		/* Delays count from the start of the attempt that failed. */
		k->state = H_WAITING;
		k->retry_at_ms = k->sent_ms + (uint64_t)delay * 1000;
		lws_sul_schedule(h->ctx, 0, &k->timer, hook_timer,
				 (lws_usec_t)(delay ? LWS_US_PER_SEC : 0));
		return;
	}
	COUNTED(h, h->counts.given_up++);
	hub_log(HUB_LOG_WARN, "webhooks: gave up %s for subscription %s of "
		"%s after %u attempts (last: %s %d)",
		k->next[0] ? "a message" : "a confirmation", k->id, k->queue,
		k->retries, status ? "HTTP" : "no answer", status);
	if (k->next[0])
		memcpy(k->marker, k->next, sizeof(k->marker));
	hook_advance(k);
	hook_kick(k);
}

void hub_hooks_posted(struct hub_hooks *h, void *token, int status)
{
	struct hook *k = token;

	COUNTED(h, h->in_flight--);
	k->state = H_IDLE;
	if (!h->stopping)
		ready_next(h);
	if (k->dead) {
		if (!k->advancing)
			hook_free(k);
		return;
	}
	if (h->stopping)
		return;
	if (status < 200 || status > 499) {
		hook_failed(k, status);
		return;
	}
	COUNTED(h, h->counts.delivered++);
	if (k->next[0]) {
		memcpy(k->marker, k->next, sizeof(k->marker));
		hook_advance(k);
	}
	hook_kick(k);
}

void hub_hooks_stop(struct hub_hooks *h)
{
	if (!h)
		return;
	h->stopping = true;
	lws_sul_cancel(&h->sweep);
	lws_start_foreach_dll(struct lws_dll2 *, d, lws_dll2_get_head(&h->all)) {
		struct hook *k = lws_container_of(d, struct hook, node);

		lws_sul_cancel(&k->timer);
		hub_sub_detach(h->subs, &k->sub);
	} lws_end_foreach_dll(d);
}

/* --------------------------------------------------------- confirmation */

void hub_hooks_confirmation(struct hub_hooks *h, const char *project,
			    const char *queue, const char *id,
			    bool unsubscribed)
{
	struct hook *k;
	const struct hub_config *cfg = h ? h->cfg : NULL;
	char path[256], sig[65], expires[32];
	uint64_t ttl_s;
	json_t *doc;

	if (!h || h->stopping || mail_post(h, project, queue, id, unsubscribed))
		return;
	k = hook_find(h, project, queue, id);
	if (!k)
		return;
	if (!cfg->signing_key[0]) {
		hub_log(HUB_LOG_ERROR, "webhooks: cannot send the confirmation "
			"of subscription %s: no --signing-key", id);
		return;
	}
	/* A topic's subscription is confirmed at its topic's path, by the
	 * project as its client knows it. */
	if (hub_topic_project(project)) {
		project = hub_topic_project(project);
		snprintf(path, sizeof(path),
			 "/v2/topics/%s/subscriptions/%s/confirm", queue, id);
	} else {
		snprintf(path, sizeof(path),
			 "/v2/queues/%s/subscriptions/%s/confirm", queue, id);
	}
	ttl_s = unsubscribed || k->expires_ms <= hub_now_ms()
			? HUB_DEFAULT_SUBSCRIPTION_TTL
			: (k->expires_ms - hub_now_ms()) / 1000;
	if (!hub_presign(cfg->signing_key, path, "PUT", project,
			       (int64_t)(hub_now_ms() + ttl_s * 1000) * 1000,
			       sig, expires))
		return;
	doc = json_object();
	if (cfg->public_url[0]) {
		size_t n = strlen(cfg->public_url);
		char *url = malloc(n + strlen(path) + 1);

		if (url) {
			sprintf(url, "%.*s%s", (int)(n && cfg->public_url[n - 1] ==
							       '/'
							   ? n - 1
							   : n),
				cfg->public_url, path);
			json_object_set_new(doc, "WSGISubscribeURL",
					    json_string(url));
			free(url);
		}
	}
	json_object_set_new(doc, "Message_Type",
			    json_string(unsubscribed
						? "UnsubscribeConfirmation"
						: "SubscriptionConfirmation"));
	if (unsubscribed) {
		char msg[160];

		snprintf(msg, sizeof(msg), "You have unsubscribed successfully "
			 "to the queue: %s, you can resubscribe it by using "
			 "confirmed=True.", queue);
		json_object_set_new(doc, "Message", json_string(msg));
	} else {
		char msg[128];

		snprintf(msg, sizeof(msg), "You have chosen to subscribe to "
			 "the queue: %s", queue);
		json_object_set_new(doc, "Message", json_string(msg));
	}
	json_object_set_new(doc, "URL-Signature", json_string(sig));
	json_object_set_new(doc, "URL-Methods", json_string("PUT"));
	json_object_set_new(doc, "URL-Paths", json_string(path));
	json_object_set_new(doc, "X-Project-ID", json_string(project));
	json_object_set_new(doc, "URL-Expires", json_string(expires));
	json_object_set_new(doc, "SubscribeBody",
			    json_pack("{s:b}", "confirmed", 1));
	json_object_set_new(doc, "UnsubscribeBody",
			    json_pack("{s:b}", "confirmed", 0));
	free(k->control);
	k->control = notification_text(k, doc);
	hook_kick(k);
}
