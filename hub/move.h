/*
 * move.h - a shard moving between cluster nodes: the freeze of its writes
 * on the node it leaves (move.c), and the blob's text form. The admin
 * endpoints that drive a move are api/shards.c; the command is `herald
 * cluster move` (cli/cluster.c); docs/scale.md tells the whole story.
 *
 * While shard S is frozen on a node, every write to a queue of S is
 * refused with 503, a Retry-After of 1 s and a JSON body saying the shard
 * is moving - at routing (hub_move_route) and again on the writer thread
 * for writes that were already on their way (writer.c asks
 * hub_move_frozen for each job before it runs it), so that once the
 * freeze's barrier has passed the writer no write to S commits here: the
 * export taken after it holds every write this node acknowledged. Reads
 * go on. Thread-safe (an atomic bitmap).
 */
#ifndef HERALD_HUB_MOVE_H
#define HERALD_HUB_MOVE_H

#include <stdbool.h>
#include <stddef.h>

struct hub_req;

/* Freezes (on) or thaws shard s; returns whether it was frozen. */
bool hub_move_freeze(unsigned s, bool on);
bool hub_move_frozen(unsigned s);
/* Whether any shard is frozen (the cheap test before hashing a name). */
bool hub_move_any(void);

/* The 503 of a write to frozen shard s (Retry-After: 1, JSON body). */
void hub_move_refuse(struct hub_req *r, unsigned s);
/* For a request naming queue `name`: false after refusing it when it is
 * a write (POST, PUT, PATCH, DELETE) to a frozen shard. */
bool hub_move_route(struct hub_req *r, const char *name);
/* The same for another queue a write of r writes to (any method). */
bool hub_move_route_also(struct hub_req *r, const char *name);

/* Base64 (RFC 4648, padded): the blob in JSON. encode: a new string
 * (free it), NULL out of memory; decode: a new buffer and *len, NULL when
 * s is not base64 (or out of memory). */
char *hub_b64_encode(const void *data, size_t len);
void *hub_b64_decode(const char *s, size_t slen, size_t *len);

#endif
