/*
 * config.h - the settings of `herald serve` and the API's limits: one
 * table of defaults, overridden by the config file, HERALD_* variables and
 * flags (config.c).
 */
#ifndef HERALD_HUB_CONFIG_H
#define HERALD_HUB_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "feed.h"
#include "log.h"

#define HUB_VERSION_STRING "0.1.0"

/* The most service loops `loops` may ask for (server.c). */
#define HUB_LOOPS_MAX 16

/* ---------------------------------------------------------------- config */

/* Zaqar's limits and defaults (zaqar-api.md §4); all configurable. */
struct hub_limits {
	uint32_t default_message_ttl;    /* 3600 */
	uint32_t default_message_delay;  /* 0 */
	uint32_t default_claim_ttl;      /* 300 */
	uint32_t default_claim_grace;    /* 60 */
	uint32_t max_queues_per_page;    /* 20 */
	uint32_t max_messages_per_page;  /* 20: list limit, ids per request */
	uint32_t max_messages_per_claim_or_pop; /* 20 */
	uint32_t max_queue_metadata;     /* 65536 bytes */
	uint32_t max_messages_post_size; /* 262144 bytes */
	uint32_t max_message_ttl;        /* 1209600 */
	uint32_t max_message_delay;      /* 900 */
	uint32_t max_claim_ttl;          /* 43200 */
	uint32_t max_claim_grace;        /* 43200 */
};

/* Hard minimums of the API, not configurable. */
#define HUB_MIN_MESSAGE_TTL 60
#define HUB_MIN_CLAIM_TTL 60
#define HUB_MIN_CLAIM_GRACE 60

/* When commits reach the disk (docs/storage.md#durability). */
enum hub_durability {
	/* Every commit is flushed before its write is answered (LMDB's
	 * default; feed's FEED_SYNC). */
	HUB_DURABILITY_SYNC = 0,
	/* Commits are not flushed (FEED_NOSYNC); the server flushes them all
	 * (feed_sync) every sync_interval_ms, and when it stops. */
	HUB_DURABILITY_INTERVAL,
	/* Commits are not flushed (FEED_NOSYNC); the OS writes them back
	 * when it will. The server flushes only when it stops. */
	HUB_DURABILITY_NOSYNC,
};

/* "sync", "interval" or "nosync". */
const char *hub_durability_name(enum hub_durability d);

struct hub_config {
	char listen_host[256];           /* 127.0.0.1 */
	int listen_port;                 /* 8888; 0 = any free port */
	char data_dir[PATH_MAX];         /* ./herald-data */
	enum hub_durability durability;  /* sync */
	uint32_t sync_interval_ms;       /* interval mode's flushes, 1000 */
	uint64_t map_size;               /* feed's initial map, bytes */
	uint64_t max_map_size;           /* feed's maximum, bytes */
	char signing_key[256];           /* pre-signed URLs; "" = off */
	/* The feeds' absolute URLs: this origin ("https://hub.example.org");
	 * "" = from the request's Host. */
	char public_url[512];
	bool trust_forwarded;            /* honour Forwarded, X-Forwarded-* */
	bool enable_checksum;            /* Zaqar's: messages' "checksum" */
	char web_dir[PATH_MAX];          /* the dashboard's files; "" = found */
	enum hub_log_level log_level;    /* info */
	uint32_t compact_interval_ms;    /* 1000 */
	uint32_t compact_budget;         /* records per compaction step */
	uint32_t max_connections;        /* 0 = as the fd limit allows */
	uint32_t loops;                  /* service loops (threads), 1 */
	uint32_t max_subs_per_connection; /* WebSocket subscriptions, 16 */
	uint32_t max_subscribers;        /* live subscribers in all, 100000 */
	/* Webhooks (live/hooks.h): who may be reached ("public"), POSTs out
	 * at once (64), the time one may take (10 s), and Zaqar's
	 * require_confirmation (false). */
	char webhook_allow[1024];
	uint32_t webhook_connections;
	uint32_t webhook_timeout_s;
	bool require_confirmation;
	/* Who may scrape /metrics: "off", "open" or "token" ("" = open on
	 * a loopback listener, off otherwise), and for token the file with
	 * the token's SHA-256 (metrics.h). */
	char metrics[16];
	char metrics_token_file[PATH_MAX];
	/* Who may do what (auth.h, docs/security.md): the strategy
	 * ("none", "tokens", "jwt", "keystone"), its files, and protected mode's
	 * override (none on a non-loopback address). */
	char auth[32];
	char auth_tokens[PATH_MAX];      /* tokens: the token file */
	char auth_jwt_key[PATH_MAX];     /* jwt: a PEM public key or secret */
	char auth_jwt_jwks[PATH_MAX];    /* jwt: a JWKS file */
	char auth_jwt_issuer[256];       /* jwt: required "iss"; "" any */
	char auth_jwt_audience[256];     /* jwt: required in "aud"; "" any */
	/* keystone (auth_keystone.c): the identity service, the service
	 * user that validates tokens, the cache's window (seconds, also
	 * bounded by each token's expires_at) and size (entries), the
	 * time one request to Keystone may take (seconds), and how
	 * Keystone's role names map onto Herald's roles. */
	char keystone_url[512];
	char keystone_user[256];
	char keystone_password_file[PATH_MAX];
	char keystone_project[256];
	char keystone_domain[256];       /* "Default" */
	uint32_t keystone_cache_seconds; /* 60 */
	uint32_t keystone_cache_size;    /* 10000 */
	uint32_t keystone_timeout_s;     /* 5 */
	char keystone_roles[1024];
	bool insecure_no_auth;
	/* TLS (tls.h): the certificate chain and its key, PEM; both or
	 * neither ("": plain HTTP). */
	char tls_cert[PATH_MAX];
	char tls_key[PATH_MAX];
	/* Browsers' origins allowed beyond the hub's own (cors.h): a
	 * comma-separated list, "*" for any; "": same origin only. */
	char cors_origins[2048];
	/* A node of a cluster (cluster.h): its name and the shard map;
	 * both or neither ("": one machine, every queue local). */
	char node[64];
	char cluster_map[PATH_MAX];
	/* The other nodes' addresses, "NAME=IP:PORT,...": for the answers
	 * gathered from every node (a project's queue list). */
	char cluster_nodes[4096];
	/* The cluster's bus (bus.h): NATS at "nats://IP:PORT"; "": none,
	 * and a WebSocket subscribe to another node's queue gets 421. */
	char cluster_bus[256];
	/* Testing only: read "now" (ms since the epoch) from this file
	 * instead of the system clock, so tests can move time. */
	char clock_file[PATH_MAX];
	struct hub_limits limits;
};

/* Fills *cfg with the defaults. */
void hub_config_defaults(struct hub_config *cfg);
/*
 * Applies, in this order (later wins): the config file named by --config
 * or HERALD_CONFIG, HERALD_* environment variables, then command-line
 * options of `herald serve`. Prints a clear message to stderr and returns
 * -1 on a bad setting; returns 1 when --help was printed, 0 otherwise.
 */
int hub_config_load(struct hub_config *cfg, int argc, char **argv);
/* Prints `herald serve --help`. */
void hub_config_usage(FILE *out);


#endif /* HERALD_HUB_CONFIG_H */
