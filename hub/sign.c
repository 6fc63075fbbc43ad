/*
 * sign.c - the signature of Zaqar's pre-signed URLs (sign.h): used by
 * the share resource and its check (api/share.c) and by the webhook
 * deliverer's confirmation messages (live/hooks.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "sign.h"

/* Appends strs[0..n) joined by ',' at *pos. */
static void put_joined(char **pos, const char *const *strs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(strs[i]);

		if (i)
			*(*pos)++ = ',';
		memcpy(*pos, strs[i], len);
		*pos += len;
	}
}

bool hub_sign(const char *key, const char *const *paths, size_t n_paths,
	      const char *const *methods, size_t n_methods,
	      const char *project, const char *expires, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	size_t len = strlen(project) + strlen(expires) + 6 + n_paths +
		     n_methods;
	char *msg, *pos;

	for (size_t i = 0; i < n_paths; i++)
		len += strlen(paths[i]);
	for (size_t i = 0; i < n_methods; i++)
		len += strlen(methods[i]);
	msg = malloc(len);
	if (!msg)
		return false;
	pos = msg;
	put_joined(&pos, paths, n_paths);
	memcpy(pos, "\\n", 2);
	pos += 2;
	put_joined(&pos, methods, n_methods);
	memcpy(pos, "\\n", 2);
	pos += 2;
	memcpy(pos, project, strlen(project));
	pos += strlen(project);
	memcpy(pos, "\\n", 2);
	pos += 2;
	memcpy(pos, expires, strlen(expires));
	pos += strlen(expires);
	if (!HMAC(EVP_sha256(), key, (int)strlen(key),
		  (const unsigned char *)msg, (size_t)(pos - msg), md,
		  &md_len) || md_len != 32) {
		free(msg);
		return false;
	}
	free(msg);
	for (unsigned int i = 0; i < md_len; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return true;
}

void hub_sign_expires(char out[32], int64_t us)
{
	int64_t secs = us / 1000000 - (us % 1000000 < 0);
	time_t t = (time_t)secs;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
}


bool hub_presign(const char *key, const char *path, const char *method,
		 const char *project, int64_t expires_us, char sig[65],
		 char expires[32])
{
	hub_sign_expires(expires, expires_us);
	return hub_sign(key, &path, 1, &method, 1, project, expires, sig);
}
