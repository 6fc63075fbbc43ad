/*
 * http_checks.h - what http.c shares with http_checks.c: reading an HTTP
 * request's headers and query on lws, and the API's pre-routing checks.
 * Private to the HTTP transport (hub/transport/http*.c). Loop thread only.
 */
#ifndef HERALD_HUB_TRANSPORT_HTTP_CHECKS_H
#define HERALD_HUB_TRANSPORT_HTTP_CHECKS_H

#include <libwebsockets.h>
#include <stdbool.h>
#include <stddef.h>

#include "auth.h"
#include "req.h"
#include "route.h"

/* The headers a request keeps for its life: r's pointers point here. */
struct hub_http_heads {
	char project[FEED_PROJECT_MAX + 2];
	char content_type[128];
	char if_none_match[1024];
	char last_event_id[FEED_ID_LEN + 8];
	char accept[512];
	char idempotency_key[HUB_IDEM_KEY_MAX + 2];
	/* The credentials, for the auth layer (auth.h): cred points into
	 * these. */
	char roles[512];
	char authorization[8192];
	char token[8192];
	char sig[4][512];
	struct hub_auth_cred cred;
	struct hub_ident ident;
	struct hub_auth_wait wait;
};

/* Copies a known header: 1 set, 0 absent ("" in buf), -1 too long. */
int hub_http__copy_hdr(struct lws *wsi, enum lws_token_indexes h, char *buf,
		       size_t len);
/* Copies a custom header by its lower-case name with the colon
 * ("client-id:"): 1 set, 0 absent, -1 too long. */
int hub_http__copy_custom(struct lws *wsi, const char *name, char *buf,
			  size_t len);
/* Reads the query into r->query (decoded; blank values dropped). 0, or
 * -1 when memory runs out. */
int hub_http__query_load(struct lws *wsi, struct hub_req *r);

/*
 * The pre-routing checks of the API (zaqar-api.md §2), in Zaqar's order -
 * pre-signed URL, media types, Client-ID, X-Project-ID - by what the
 * lookup m says of the route (whether Client-ID is required, what it
 * answers, whether ids may come in its query). Fills r's project,
 * client id, Accept and Last-Event-ID, and hd->cred, the credentials for
 * hub_auth_request() (all stored in hd). Returns true when r may go on
 * to the auth layer; false after replying.
 */
bool hub_http__checks(struct hub_req *r, struct lws *wsi,
		      const struct hub_route_match *m,
		      struct hub_http_heads *hd);

#endif /* HERALD_HUB_TRANSPORT_HTTP_CHECKS_H */
