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

#endif /* HERALD_HUB_SIGN_H */
