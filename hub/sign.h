/*
 * sign.h - Zaqar's pre-signed URLs (zaqar-api.md §9): the signature is
 * lowercase hex HMAC-SHA256, keyed with the signing key, of
 *
 *   paths,sorted \n methods,sorted \n project \n YYYY-MM-DDTHH:MM:SS
 *
 * where each "\n" is the two characters backslash and n (sign.c).
 */
#ifndef HERALD_HUB_SIGN_H
#define HERALD_HUB_SIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The signature into out (64 hex characters and a NUL); paths and
 * methods must be sorted. False when out of memory. */
bool hub_sign(const char *key, const char *const *paths, size_t n_paths,
	      const char *const *methods, size_t n_methods,
	      const char *project, const char *expires, char out[65]);
/* "YYYY-MM-DDTHH:MM:SS" (UTC) of us since the epoch, seconds truncated:
 * how an expiry is signed. */
void hub_sign_expires(char out[32], int64_t us);
/* Signs one path for one method until expires_us: the signature and the
 * expiry as signed. */
bool hub_presign(const char *key, const char *path, const char *method,
		 const char *project, int64_t expires_us, char sig[65],
		 char expires[32]);

/* Parses the ISO 8601 forms of Python's iso8601.parse_date (which Zaqar
 * uses): YYYY[-]M[M][-]D[D], optionally [T ]HH[[:]MM[[:]S[S][.frac]]],
 * optionally Z or +-HH[[:]MM]; no zone means UTC. The whole string must
 * match. *out_us = microseconds since the epoch, UTC. */
bool hub_sign_parse_time(const char *s, int64_t *out_us);

/* A request that carries a pre-signed URL's values (URL-Signature,
 * URL-Expires, URL-Methods, URL-Paths as sent), all borrowed. */
struct hub_sign_req {
	const char *method;  /* "GET", ... */
	const char *path;    /* the request's decoded path */
	const char *project; /* X-Project-Id as sent ("" when absent) */
	uint64_t now_ms;
	const char *signature, *expires, *methods, *paths;
};
/* Whether q's signature is good under `key`: signed with it for q's
 * project, not expired, listing q's method and a path covering q's. An
 * absent or empty key, a missing value or an empty signature: false. */
bool hub_sign_check(const char *key, const struct hub_sign_req *q);

#endif /* HERALD_HUB_SIGN_H */
