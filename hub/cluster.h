/*
 * cluster.h - which node owns which queue (docs/scale.md).
 *
 * A queue's name hashes onto one of HUB_SHARDS virtual shards:
 *
 *     shard = crc32(name) mod 4096      (zlib's CRC-32, IEEE)
 *
 * the same as HAProxy's `path,field(4,/),crc32,mod(4096)` on
 * /VERSION/queues/NAME/..., so the balancer and every node agree on where
 * a queue lives without talking to each other. A map file places every
 * shard on a node, one "SHARD NODE" line per shard (blank lines and '#'
 * comments aside); the same file is HAProxy's `map` for `use_backend`,
 * with one backend per node named after it. `herald cluster
 * haproxy-config` writes both (cli/cluster.c).
 *
 * Only the name is hashed, not the project: under --auth tokens, jwt or
 * keystone the project comes from a credential the balancer cannot read,
 * while the name is in every URL. A queue name's every project lives on
 * the same node.
 *
 * With --node and --cluster-map set, a request for a queue of a shard the
 * node does not own is answered 421 Misdirected Request with a JSON body
 * naming the owner (and Herald-Owner / Herald-Shard headers), never by
 * creating the queue here. The map is read at start and again at SIGHUP
 * (a bad file keeps the old map). Without --cluster-map every queue is
 * local. Thread-safe.
 */
#ifndef HERALD_HUB_CLUSTER_H
#define HERALD_HUB_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HUB_SHARDS 4096u
#define HUB_NODE_MAX 64   /* a node's name, NUL included */

struct hub_config;
struct hub_req;

/* Whether s[0..n) may name a node: 1 to HUB_NODE_MAX - 1 of A-Z a-z 0-9
 * _ - . (what a HAProxy backend's name takes). */
bool hub_cluster_node_name_ok(const char *s, size_t n);

/* The shard of a queue name. */
unsigned hub_cluster_shard(const char *name, size_t len);

/*
 * The placement, parsed: owner[shard] indexes node[]. Returns 0, or -1
 * with why in err (the line and what is wrong with it).
 */
struct hub_cluster_map {
	uint16_t owner[HUB_SHARDS];
	char (*node)[HUB_NODE_MAX];
	size_t n_nodes;
};
int hub_cluster_map_parse(struct hub_cluster_map *m, const char *text,
			  size_t len, char *err, size_t errlen);
int hub_cluster_map_read(struct hub_cluster_map *m, const char *path,
			 char *err, size_t errlen);
void hub_cluster_map_free(struct hub_cluster_map *m);

/* Reads --cluster-map (when set) for --node; -1 after logging why
 * (a node not in the map, a bad map). */
int hub_cluster_init(const struct hub_config *cfg);
/* SIGHUP (and POST /v2/cluster/map/reload): reads the map again; a bad
 * one keeps the old (logged) and returns -1. */
int hub_cluster_reload(void);
/* Whether shard s is this node's; owner (HUB_NODE_MAX bytes) gets its
 * node's name (untouched without a cluster: true). */
bool hub_cluster_shard_owner(unsigned s, char *owner);
/* This node's name (--node), "" without a cluster. */
const char *hub_cluster_self(void);
void hub_cluster_end(void);
/* Whether this process runs as a node of a cluster. */
bool hub_cluster_on(void);

/*
 * Whether queue `name` is this node's. When it is not, owner (at least
 * HUB_NODE_MAX bytes) gets the owner's name and *shard the shard.
 */
bool hub_cluster_owns(const char *name, char *owner, unsigned *shard);

/* The description of a 421 for queue `name` of `owner`'s `shard`. */
void hub_cluster_misdirected(char *buf, size_t len, const char *name,
			     const char *owner, unsigned shard);

/* For a request naming a queue: true when it is this node's; else
 * answers r with 421 and returns false. */
bool hub_cluster_route(struct hub_req *r, const char *name);

/* "IP:PORT" in s[0..n) (the last colon ends the address, so an IPv6
 * one needs no brackets; with `brackets`, "[IPv6]:PORT" too): a numeric
 * address into addr (addrlen bytes) and a port 1-65535. 0, or -1. */
int hub_cluster_parse_address(const char *s, size_t n, bool brackets,
			      char *addr, size_t addrlen, int *port);

/* The other nodes (--cluster-nodes, this node left out): numeric
 * address and port, for requests made to them. Set once at start. */
struct hub_cluster_peer {
	char name[HUB_NODE_MAX];
	char address[64];
	int port;
};
size_t hub_cluster_peers(const struct hub_cluster_peer **peers);
/* The address of node `name` from --cluster-nodes, this node's too when
 * it is listed; NULL when it is not. */
const struct hub_cluster_peer *hub_cluster_address(const char *name);

#endif
