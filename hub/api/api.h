/*
 * api.h - the route handlers, one file of hub/api/ per resource. A handler
 * parses its request, calls feed, and replies through req.h; it never
 * calls lws.
 */
#ifndef HERALD_HUB_API_API_H
#define HERALD_HUB_API_API_H

#include <stdbool.h>

#include "req.h"

typedef void (*hub_handler_fn)(struct hub_req *r);

/* home.c: versions, home documents, ping, health. */
void hub_get_versions(struct hub_req *r);   /* GET / */
void hub_get_home(struct hub_req *r);       /* GET /v2/ ... */
void hub_ping(struct hub_req *r);           /* GET|HEAD /v2/ping */
void hub_health(struct hub_req *r);         /* GET or HEAD of a health route */
/* A WebSocket endpoint asked over plain HTTP: 426 Upgrade Required. */
void hub_upgrade_required(struct hub_req *r);

/* shards.c: moving a shard between cluster nodes (docs/api.md), under
 * /v2/cluster/shards/SHARD/...: freeze, thaw, queues, export, import,
 * drop; and the node's generation counter and map. */
void hub_shard_freeze(struct hub_req *r);
void hub_shard_thaw(struct hub_req *r);
void hub_shard_queues(struct hub_req *r);
void hub_shard_export(struct hub_req *r);
void hub_shard_import(struct hub_req *r);
void hub_shard_drop(struct hub_req *r);
void hub_cluster_generation(struct hub_req *r); /* POST /v2/cluster/generation */
void hub_cluster_map_reload(struct hub_req *r); /* POST /v2/cluster/map/reload */

/* metrics.c: GET /metrics, Prometheus' scrape (its own access setting). */
void hub_metrics_get(struct hub_req *r);

/* share.c: pre-signed URLs (checked by auth.c, with sign.c). */
void hub_share(struct hub_req *r);          /* POST /v2/queues/q/share */

/* web.c: the dashboard. hub_web_wanted: r asks for HTML (a browser). */
bool hub_web_wanted(const struct hub_req *r);
void hub_web_index(struct hub_req *r);      /* GET / for a browser */
void hub_web_file(struct hub_req *r);       /* GET /dashboard/NAME */

/* transport/sse.c: GET /v2/queues/q/events, Server-Sent Events (the
 * handler and its framing are one: the stream is its answer). */
void hub_queue_events(struct hub_req *r);

/* queues.c; stats.c: stats and counters */
void hub_queues_list(struct hub_req *r);    /* GET /queues */
void hub_queue_put(struct hub_req *r);      /* PUT /queues/q */
void hub_queue_get(struct hub_req *r);      /* GET|HEAD /queues/q */
void hub_queue_patch(struct hub_req *r);    /* PATCH /v2/queues/q */
void hub_queue_delete(struct hub_req *r);   /* DELETE /queues/q */
void hub_queue_stats(struct hub_req *r);    /* GET /queues/q/stats */
void hub_queue_counters(struct hub_req *r); /* GET /v2/queues/q/counters */
void hub_queue_purge(struct hub_req *r);    /* POST /v2/queues/q/purge */
void hub_queue_meta_get(struct hub_req *r); /* GET /v1/queues/q/metadata */
void hub_queue_meta_put(struct hub_req *r); /* PUT /v1/queues/q/metadata */
/* Topics (route.c) run the queue and message handlers above, but for: */
void hub_topic_stats(struct hub_req *r);    /* GET /v2/topics/t/stats */

/* messages.c */
void hub_messages_post(struct hub_req *r);   /* POST /queues/q/messages */
void hub_messages_get(struct hub_req *r);    /* GET  /queues/q/messages */

/* message.c */
void hub_messages_delete(struct hub_req *r); /* DELETE /queues/q/messages */
void hub_message_get(struct hub_req *r);     /* GET /queues/q/messages/id */
void hub_message_delete(struct hub_req *r);  /* DELETE .../messages/id */

/* claims.c */
void hub_claims_post(struct hub_req *r);   /* POST /queues/q/claims */
void hub_claim_get(struct hub_req *r);     /* GET /queues/q/claims/id */
void hub_claim_patch(struct hub_req *r);   /* PATCH /queues/q/claims/id */
void hub_claim_delete(struct hub_req *r);  /* DELETE /queues/q/claims/id */
void hub_queue_redrive(struct hub_req *r);  /* POST /v2/queues/q/redrive */

/* subscriptions.c: webhook subscriptions (Zaqar v2) */
void hub_subscriptions_post(struct hub_req *r); /* POST .../subscriptions */
void hub_subscriptions_get(struct hub_req *r);  /* GET .../subscriptions */
void hub_subscription_get(struct hub_req *r);   /* GET .../subscriptions/id */
void hub_subscription_patch(struct hub_req *r); /* PATCH .../subscriptions/id */
void hub_subscription_delete(struct hub_req *r); /* DELETE ... */
void hub_subscription_confirm(struct hub_req *r); /* PUT .../id/confirm */
/* atom.c, rss.c, jsonfeed.c: the feeds (their model: feeds.c) */
void hub_queue_atom(struct hub_req *r);    /* GET /v2/queues/q/feed.atom */
void hub_queue_rss(struct hub_req *r);     /* GET /v2/queues/q/feed.rss */
void hub_queue_jsonfeed(struct hub_req *r); /* GET /v2/queues/q/feed.json */

#endif /* HERALD_HUB_API_API_H */
