/*
 * sign.c - the signature of Zaqar's pre-signed URLs (sign.h): made by
 * the share resource (api/share.c) and the webhook deliverer's
 * confirmation messages (live/hooks.c), checked by the auth layer
 * (auth.c) in every strategy.
 *
 * The check recomputes the signature over the request's URL-* values and
 * compares in constant time. Zaqar matches the request path with
 * re.search(entry, path); Herald does not treat the entries as regular
 * expressions: an entry covers the path when it is the path itself or a
 * prefix of it ending at a '/', so /v2/queues/q/messages covers
 * /v2/queues/q/messages/<id> (as in Zaqar) but a '.' in a queue name
 * matches only a '.'. Dates are read as Zaqar reads them, with Python's
 * iso8601.parse_date (hub_sign_parse_time).
 *
 * A URL-Signature that is sent is checked, whatever its value: an empty or
 * blank one is a bad signature, not "no signature" (issue #12, hostile
 * testing #1: it used to skip the check).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
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

/* ------------------------------------------------------------- checking */

static bool parse_digits(const char **s, int min, int max, int *out)
{
	int n = 0, v = 0;

	while (n < max && isdigit((unsigned char)(*s)[n])) {
		v = v * 10 + ((*s)[n] - '0');
		n++;
	}
	if (n < min)
		return false;
	*s += n;
	*out = v;
	return true;
}

static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30,
				    31, 31, 30, 31, 30, 31 };
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : days[m - 1];
}

/*
 * Parses the ISO 8601 forms of Python's iso8601.parse_date (which Zaqar
 * uses): YYYY[-]M[M][-]D[D], optionally [T ]HH[[:]MM[[:]S[S][.frac]]],
 * optionally Z or +-HH[[:]MM]; no zone means UTC. The whole string must
 * match. *out_us = microseconds since the epoch, UTC.
 */
bool hub_sign_parse_time(const char *s, int64_t *out_us)
{
	int y, mo, d, h = 0, mi = 0, sec = 0, tzh = 0, tzm = 0, tzsign = 0;
	int64_t frac_us = 0;

	if (!parse_digits(&s, 4, 4, &y))
		return false;
	s += *s == '-';
	if (!parse_digits(&s, 1, 2, &mo))
		return false;
	s += *s == '-';
	if (!parse_digits(&s, 1, 2, &d))
		return false;
	if (*s == 'T' || *s == ' ') {
		s++;
		if (!parse_digits(&s, 2, 2, &h))
			return false;
		const char *t = s + (*s == ':');

		if (parse_digits(&t, 2, 2, &mi)) {
			s = t;
			t = s + (*s == ':');
			if (parse_digits(&t, 1, 2, &sec)) {
				s = t;
				if ((*s == '.' || *s == ',') &&
				    isdigit((unsigned char)s[1])) {
					int64_t scale = 100000;

					for (s++; isdigit((unsigned char)*s);
					     s++, scale /= 10)
						frac_us += (*s - '0') * scale;
				}
			}
		}
		if (*s == 'Z') {
			s++;
		} else if (*s == '+' || *s == '-') {
			tzsign = *s++ == '-' ? -1 : 1;
			if (!parse_digits(&s, 2, 2, &tzh))
				return false;
			t = s + (*s == ':');
			if (parse_digits(&t, 2, 2, &tzm))
				s = t;
		}
	}
	if (*s || y < 1 || mo < 1 || mo > 12 || d < 1 ||
	    d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 59 ||
	    tzh > 23 || tzm > 59)
		return false;
	int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 +
		       mi * 60 + sec - tzsign * (tzh * 3600 + tzm * 60);

	*out_us = secs * 1000000 + frac_us;
	return true;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Splits a header's comma list in place (as Python's str.split(',')):
 * *n items into a new array of pointers into s. */
static char **split_commas(char *s, size_t *n)
{
	size_t count = 1;
	char **out;

	for (const char *c = s; *c; c++)
		count += *c == ',';
	out = calloc(count, sizeof(*out));
	if (!out)
		return NULL;
	for (size_t i = 0; i < count; i++) {
		out[i] = s;
		s += strcspn(s, ",");
		if (*s)
			*s++ = '\0';
	}
	*n = count;
	return out;
}

/* Whether a URL-Paths entry covers the request path: equal, or a prefix
 * that ends where a path segment does. */
static bool path_covers(const char *entry, const char *path)
{
	size_t len = strlen(entry);

	return len && !strncmp(path, entry, len) &&
	       (path[len] == '\0' || path[len] == '/' ||
		entry[len - 1] == '/');
}

static bool listed(char **list, size_t n, const char *method,
		   const char *path)
{
	for (size_t i = 0; i < n; i++)
		if (method ? !strcmp(list[i], method) : path_covers(list[i], path))
			return true;
	return false;
}

bool hub_sign_check(const char *key, const struct hub_sign_req *q)
{
	char *mcopy = NULL, *pcopy = NULL, **mlist = NULL, **plist = NULL;
	size_t n_m = 0, n_p = 0;
	char exp_str[32], want[65];
	int64_t exp_us;
	bool ok = false;

	if (!key[0] || !q->signature || !q->expires || !q->methods ||
	    !q->paths || strlen(q->signature) != 64)
		return false;
	if (!hub_sign_parse_time(q->expires, &exp_us) ||
	    exp_us <= (int64_t)q->now_ms * 1000)
		return false;
	mcopy = strdup(q->methods);
	pcopy = strdup(q->paths);
	if (!mcopy || !pcopy)
		goto out;
	mlist = split_commas(mcopy, &n_m);
	plist = split_commas(pcopy, &n_p);
	if (!mlist || !plist || !listed(mlist, n_m, q->method, NULL) ||
	    !listed(plist, n_p, NULL, q->path))
		goto out;
	qsort(mlist, n_m, sizeof(*mlist), cmp_str);
	qsort(plist, n_p, sizeof(*plist), cmp_str);
	hub_sign_expires(exp_str, exp_us);
	if (!hub_sign(key, (const char *const *)plist, n_p,
		      (const char *const *)mlist, n_m, q->project, exp_str,
		      want))
		goto out;
	ok = CRYPTO_memcmp(want, q->signature, 64) == 0;
out:
	free(mlist);
	free(plist);
	free(mcopy);
	free(pcopy);
	return ok;
}
