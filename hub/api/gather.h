/*
 * gather.h - one request asked of every node of the cluster, for answers
 * that span nodes (a project's queue list; docs/scale.md).
 *
 * The node that got the request asks each other node (--cluster-nodes)
 * the same GET, with the caller's credentials as they were sent and
 * `Herald-Local: 1` (so the other node answers for itself only), on the
 * loop's HTTP client, and holds the request meanwhile (the transport's
 * deferred state, as for a write). When every node has answered, finish()
 * gets their parsed 200 bodies and replies; when one did not, the caller
 * gets 503 naming it (a partial list would silently be wrong). Loop
 * thread only.
 */
#ifndef HERALD_HUB_API_GATHER_H
#define HERALD_HUB_API_GATHER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hub_req;
struct hub_auth_cred;

/* answers[i]: node i's body (borrowed; NULL for an empty 204). */
typedef void (*hub_gather_fn)(struct hub_req *r, json_t *const *answers,
			      size_t n, void *ctx);

/* Whether r should be gathered: a cluster with other nodes, a request
 * that carries its credentials, and not itself a node's local request. */
bool hub_gather_wanted(const struct hub_req *r);

/*
 * The headers of a request one node makes to another on a caller's
 * behalf, as hclient.h takes them ("name:\0value\0"...): Herald-Local:
 * 1, the caller's Client-ID (client_id, 16 bytes; NULL: none) and its
 * credentials as sent. A new string (free it); NULL out of memory.
 */
char *hub_gather_headers(const struct hub_auth_cred *c,
			 const uint8_t *client_id);

/*
 * Asks every other node GET `path_query` for r, and takes r over: it is
 * answered now (500 out of memory, 503 when a request could not start)
 * or later, by finish() or with 503. ctx is the gather's from here on,
 * freed with free_ctx (may be NULL) after finish or when the caller left.
 */
void hub_gather(struct hub_req *r, const char *path_query,
		hub_gather_fn finish, void *ctx, void (*free_ctx)(void *));

#endif
