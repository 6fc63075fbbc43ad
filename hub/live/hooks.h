/*
 * hooks.h - the webhook deliverer: every subscription of every queue
 * (feed/sub.c) gets each message POSTed to its subscriber, in log order,
 * at least once (hooks.c).
 *
 * A subscription is a marker into its queue's log, like any live
 * subscriber: it is hung on the registry (sub.h), so a commit to its queue
 * wakes it; it reads the next message after its marker, hands the POST to
 * the transport (transport/webhook.c: lws client), and when the subscriber
 * answered 200..499 moves its marker - in memory at once, in LMDB through
 * the writer, one advance in flight per subscription. A failure is retried
 * by the retry policy (Zaqar's `_retry_policy`, from the subscription's
 * options or the queue's metadata); when the policy gives up, the message
 * is skipped and logged. Nothing is buffered: a subscriber that is down
 * costs one message and a timer, whatever is posted meanwhile. At most
 * `webhook-connections` POSTs are out at once; others wait their turn in
 * order.
 *
 * Loop (lws service) thread only.
 */
#ifndef HERALD_HUB_LIVE_HOOKS_H
#define HERALD_HUB_LIVE_HOOKS_H

#include <jansson.h>
#include <libwebsockets.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "feed.h"

/* Zaqar's default subscription ttl (transport default_subscription_ttl). */
#define HUB_DEFAULT_SUBSCRIPTION_TTL 3600

struct hub_hooks;
struct hub_subs;
struct hub_writer;

/* One POST the transport makes. */
struct hub_hook_post {
	const char *url;     /* http:// or https:// */
	const char *body;    /* JSON */
	size_t body_len;
	json_t *headers;     /* {name: value} to add (post_headers); may be NULL */
	struct hub_hooks *from; /* and the token: hub_hooks_posted(from, token) */
	void *token;
};

/* What the deliverer needs of its transport. */
struct hub_hooks_transport {
	/* Starts the POST (copying what it needs of p); 0, or -1 when it
	 * cannot start (then hub_hooks_posted() is not called). */
	int (*post)(void *arg, const struct hub_hook_post *p);
	void *arg;
};

/* A deliverer on ctx's loop, writing markers through w, woken through
 * subs. NULL when out of memory. */
struct hub_hooks *hub_hooks_new(struct lws_context *ctx, feed_t *feed,
				struct hub_writer *w, struct hub_subs *subs,
				const struct hub_config *cfg,
				const struct hub_hooks_transport *t);
/* Loads every live subscription and starts delivering; 0 or a feed
 * error. */
int hub_hooks_start(struct hub_hooks *h);
/* Stops delivering (the server is stopping): what is out is forgotten
 * when it comes back. NULL ok. */
void hub_hooks_stop(struct hub_hooks *h);
/* Frees h: before the registry goes, after the writer stopped and the
 * lws context was destroyed. NULL ok. */
void hub_hooks_free(struct hub_hooks *h);

/* A write to (project, queue)'s subscriptions committed (or the queue was
 * deleted or purged): read them again from LMDB. NULL h: no-op. Any
 * thread (off the deliverer's, it is posted: hub_hooks_collect). */
void hub_hooks_reload(struct hub_hooks *h, const char *project,
		      const char *queue);
/* Sends the subscriber of `id` Zaqar's SubscriptionConfirmation (or, with
 * unsubscribed, UnsubscribeConfirmation) message, with a pre-signed URL
 * for its confirm resource, ahead of any message. NULL h: no-op. Any
 * thread, as hub_hooks_reload. */
void hub_hooks_confirmation(struct hub_hooks *h, const char *project,
			    const char *queue, const char *id,
			    bool unsubscribed);
/* The deliverer's loop thread, when its loop is woken (EVENT_WAIT_
 * CANCELLED): makes the reload and confirmation calls other threads
 * posted to it (several service loops). NULL h: no-op. */
void hub_hooks_collect(struct hub_hooks *h);
/* The transport's answer to a post: the HTTP status, or 0 when it failed
 * before one (no connection, refused by the allowlist, timed out). */
void hub_hooks_posted(struct hub_hooks *h, void *token, int status);

/* What delivery did so far (for /health and the logs). */
struct hub_hooks_counts {
	unsigned long long delivered, failed_attempts, given_up, gaps;
	size_t subscriptions, in_flight;
};
void hub_hooks_counts(const struct hub_hooks *h, struct hub_hooks_counts *out);

/* ------------------------------------------------------ retry policy */

/* Zaqar's retry policy (zaqar/notification/tasks/webhook.py). */
enum hub_backoff {
	HUB_BACKOFF_LINEAR,
	HUB_BACKOFF_ARITHMETIC,
	HUB_BACKOFF_GEOMETRIC,
	HUB_BACKOFF_EXPONENTIAL,
};

struct hub_retry_policy {
	unsigned no_delay;     /* retries_with_no_delay (3) */
	unsigned min_retries;  /* minimum_delay_retries (3) */
	unsigned min_delay;    /* minimum_delay, s (5) */
	unsigned max_delay;    /* maximum_delay, s (30) */
	unsigned max_retries;  /* maximum_delay_retries (3) */
	enum hub_backoff backoff;
};

/* The policy of a subscription: its options' `_retry_policy`, unless the
 * queue's (metadata `_retry_policy`) says ignore_subscription_override, or
 * the subscription has none; Zaqar's defaults for what neither gives.
 * Either object may be NULL. */
void hub_retry_policy(json_t *sub_options, json_t *queue_meta,
		      struct hub_retry_policy *p);
/* Seconds to wait before retry number n (1: the first retry, after the
 * first attempt failed), or -1 when the policy has no retry n. */
long hub_retry_delay(const struct hub_retry_policy *p, unsigned n);

/* ------------------------------------------------------- the allowlist */

/*
 * The SSRF guard: whether a subscriber may be reached. `list` is the
 * webhook-allow setting: comma-separated entries, each a host name, an
 * address, a CIDR network, "public" (any public unicast address) or "*"
 * (anything). A target is allowed when an entry names its host or
 * contains its address.
 *
 * hub_hooks_uri_allowed: for a subscription being created - a literal
 * address must be allowed; a host name is checked at delivery (its
 * addresses may change). hub_hooks_addr_allowed: at delivery, for the
 * address a host resolved to. Both write why not into why.
 */
bool hub_hooks_uri_allowed(const struct hub_config *cfg, const char *uri,
			   char *why, size_t len);

/* An http(s) subscriber URI taken apart: the one reading of a URI both
 * the allowlist and the transport use. */
struct hub_hook_uri {
	bool tls;          /* https */
	char host[256];    /* without userinfo and brackets */
	int port;          /* the scheme's when the URI gives none */
	const char *path;  /* into the URI: the path and query ("" = /) */
	size_t path_len;   /* up to a fragment */
};
/* False when uri is not an http or https URI with a host (and a port
 * 1..65535 if it gives one). */
bool hub_hooks_uri_split(const char *uri, struct hub_hook_uri *u);
bool hub_hooks_addr_allowed(const char *list, const char *host,
			    const struct sockaddr *sa, char *why, size_t len);

#endif /* HERALD_HUB_LIVE_HOOKS_H */
