/*
 * etag.h - entity tags for conditional GET (etag.c).
 */
#ifndef HERALD_HUB_ETAG_H
#define HERALD_HUB_ETAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "req.h"

/* ------------------------------------------------------ conditional GET */

/*
 * Entity tags (etag.c): a hash of what an answer depends on - never of its
 * ages - for ETag / If-None-Match. A handler starts one, adds the inputs
 * of its answer, formats the tag, sends it as the ETag header and, when
 * hub_etag_matches(), replies 304 with no body instead of the answer.
 */
struct hub_etag {
	uint64_t h;
};
/* "W/" + quote + 16 hex + quote + NUL. */
#define HUB_ETAG_MAX 24

/* Starts a tag (seeded with Herald's version: an upgrade changes tags). */
void hub_etag_init(struct hub_etag *e);
/* Adds bytes, a string (NULL differs from ""), an integer. */
void hub_etag_add(struct hub_etag *e, const void *data, size_t len);
void hub_etag_add_str(struct hub_etag *e, const char *s);
void hub_etag_add_u64(struct hub_etag *e, uint64_t v);
/* The tag as an ETag header value: "\"<16 hex>\"", W/ first when weak. */
void hub_etag_format(const struct hub_etag *e, bool weak,
		     char out[HUB_ETAG_MAX]);
/* Whether r's If-None-Match matches `tag` (RFC 9110 §13.1.2: "*", a
 * list, W/ ignored on both sides). */
bool hub_etag_matches(const struct hub_req *r, const char *tag);


#endif /* HERALD_HUB_ETAG_H */
