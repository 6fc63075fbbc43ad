/*
 * cluster.h - what the cluster tests share (cluster.c): three nodes a, b
 * and c, each started with --node, --cluster-map and --cluster-nodes,
 * behind HAProxy configured by `herald cluster haproxy-config`, with its
 * runtime socket; the map `herald cluster map a b c` makes (shard s on
 * node s * 3 / 4096). Skips when haproxy is not installed, unless
 * HERALD_REQUIRE_HAPROXY=1 (.ci/run sets it).
 */
#ifndef HERALD_TEST_CLUSTER_H
#define HERALD_TEST_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>

#include "harness.h"

#define N_NODES 3
#define SHARDS 4096u

extern const char *const names[N_NODES];
extern struct hh_server node[N_NODES];
extern struct hh_server proxy; /* only .port: HAProxy, for the client */
extern char map_path[300];     /* the shard map every node reads */
extern char cluster_dir[256];  /* the test's directory */

/* A file of the test's directory (rotating static buffer, hh_fmt). */
const char *path_of(const char *leaf);
/* The shard as the test computes it: zlib's crc32 of the name mod 4096. */
unsigned shard_of(const char *queue);
/* Its owner in the first map: node shard * 3 / 4096. */
int owner_of(const char *queue);
/* The first name PREFIX-0, PREFIX-1, ... that node n owns, into q. */
void name_on(char *q, size_t len, const char *prefix, int n);
/* Posts one message each with the bodies from..to (numbers) to q. */
void post_numbered(struct hh_client *c, const char *q, int from, int to);
void sleep_ms(int ms);
/* A port of 127.0.0.1 that nothing listens on now. */
int free_port(void);
/* Polls GET path through c until it answers `want`: true in time. */
bool wait_status(struct hh_client *c, const char *path, int want,
		 int seconds);
/* One command on HAProxy's runtime API; its answer (static buffer). */
const char *haproxy_cmd(const char *cmd);
void stop_haproxy(void);

/* An SSE reader through HAProxy, project "cl", as client B. */
struct sse_reader {
	struct hh_client c;
	char buf[32768];
	size_t len;
};
/* Opens GET /v2/queues/q/events, with Last-Event-ID when last_id. */
void sse_open(struct sse_reader *s, const char *q, const char *last_id);
/* Reads until `n` message events have come (true) or ms pass. */
bool sse_events(struct sse_reader *s, int n, int ms);
/* The bodies (numbers) of its message events, in order, as "n,n,...",
 * and the last event's id into last (static buffer). */
const char *sse_bodies(const struct sse_reader *s, char *last,
		       size_t last_len);

/* Makes the directory (under /tmp, named tmp_prefix-XXXXXX) and the map,
 * starts the nodes (with extra_args, NULL-terminated, may be NULL) and
 * HAProxy: 0 once HAProxy answers, -1 if it does not in 20 s. */
int cluster_start(const char *tmp_prefix, const char *const *extra_args);
/* Stops HAProxy and the nodes (b and c each a TAP point), removes the
 * directory; returns hh_finish(&node[0]) for main's return. */
int cluster_end(void);

#endif
