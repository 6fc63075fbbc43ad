/*
 * share.c - pre-signed URLs: POST /v2/queues/{queue}/share (hub_share),
 * which signs paths and methods of one queue for the caller's project
 * until a date.
 *
 * Pre-signed URLs (zaqar-api.md §9)
 * ---------------------------------
 * The signature is lowercase hex HMAC-SHA256, keyed with the configured
 * signing key, of
 *
 *   paths,sorted \n methods,sorted \n project \n YYYY-MM-DDTHH:MM:SS
 *
 * where each "\n" is the two characters backslash and n (Zaqar formats a
 * Python raw string). hub_share() signs (sign.c); the auth layer checks a
 * request's signature in every strategy (auth.c, hub_sign_check).
 *
 * Dates are read as Zaqar reads them, with Python's iso8601.parse_date
 * (hub_sign_parse_time), and signed as YYYY-MM-DDTHH:MM:SS in UTC, seconds
 * truncated (hub_sign_expires). Error texts are Zaqar's, Python reprs
 * included (put_repr).
 *
 * Threads: everything here runs on the loop thread.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "req.h"
#include "render.h"
#include "sign.h"
#include "api/api.h"

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * A value as Python's repr() shows it inside a set, for Zaqar's error
 * texts: strings quoted the way Python quotes them, anything else as JSON
 * (integers print alike). Appends to buf.
 */
static void put_repr(char *buf, size_t size, json_t *v)
{
	size_t len = strlen(buf);

	if (!json_is_string(v)) {
		char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);

		snprintf(buf + len, size - len, "%s", text ? text : "?");
		free(text);
		return;
	}
	const char *s = json_string_value(v);
	char quote = strchr(s, '\'') && !strchr(s, '"') ? '"' : '\'';

	if (len + 1 < size)
		buf[len++] = quote;
	for (; *s && len + 5 < size; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '\\' || c == (unsigned char)quote) {
			buf[len++] = '\\';
			buf[len++] = (char)c;
		} else if (c == '\n' || c == '\r' || c == '\t') {
			buf[len++] = '\\';
			buf[len++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
		} else if (c < 0x20 || c == 0x7f) {
			len += (size_t)snprintf(buf + len, size - len,
						"\\x%02x", c);
		} else {
			buf[len++] = (char)c;
		}
	}
	if (len + 1 < size)
		buf[len++] = quote;
	buf[len] = '\0';
}

/* Replies 400 "Invalid API request" "<what>: {<repr>, ...}". */
static void reply_bad_set(struct hub_req *r, const char *what,
			  json_t *const *items, size_t n)
{
	char buf[1024];

	snprintf(buf, sizeof(buf), "%s: {", what);
	for (size_t i = 0; i < n; i++) {
		if (i)
			strncat(buf, ", ", sizeof(buf) - strlen(buf) - 1);
		put_repr(buf, sizeof(buf), items[i]);
	}
	strncat(buf, "}", sizeof(buf) - strlen(buf) - 1);
	hub_reply_error(r, 400, "Invalid API request", "%s", buf);
}

/*
 * The integer Python's int() reads from an `expires` value, as decimal
 * text into out; false when int() would fail or read 0 (Zaqar then
 * parses the value as a date).
 */
static bool expires_as_int(json_t *v, char out[64])
{
	const char *s;
	size_t n = 0, digits = 0;

	if (json_is_integer(v) || json_is_real(v) || json_is_true(v)) {
		double x = json_is_real(v) ? json_real_value(v) : 0;
		long long i;

		/* Python's int() of a huge float is a huge integer; a cast
		 * would overflow. */
		if (json_is_real(v) && (x >= 9.2e18 || x <= -9.2e18)) {
			snprintf(out, 64, "%.0f", x);
			return true;
		}
		i = json_is_integer(v) ? json_integer_value(v) :
		    json_is_real(v) ? (long long)x : 1;
		snprintf(out, 64, "%lld", i);
		return i != 0;
	}
	if (!json_is_string(v))
		return false;
	s = json_string_value(v);
	while (isspace((unsigned char)*s))
		s++;
	if (*s == '-')
		out[n++] = '-';
	if (*s == '-' || *s == '+')
		s++;
	if (!isdigit((unsigned char)*s))
		return false;
	for (; isdigit((unsigned char)*s) ||
	       (*s == '_' && isdigit((unsigned char)s[1])); s++) {
		/* Python drops the separators and the leading zeros. */
		if (*s == '_' || (*s == '0' && digits == 0))
			continue;
		if (n + 1 < 64)
			out[n++] = *s;
		digits++;
	}
	while (isspace((unsigned char)*s))
		s++;
	out[n] = '\0';
	return !*s && digits > 0;
}

/*
 * Reads the share's `expires` into *us; default now + 24 h. Replies 400
 * and returns false when it is no date or not in the future.
 */
static bool share_expires(struct hub_req *r, json_t *v, int64_t *us)
{
	char num[64];
	int64_t now_us = (int64_t)r->now_ms * 1000;

	if (!v || json_is_null(v)) {
		*us = ((int64_t)r->now_ms / 1000 + 86400) * 1000000;
		return true;
	}
	if (expires_as_int(v, num)) {
		hub_reply_error(r, 400, "Invalid API request",
				"`expires` should be date format, for example "
				"2016-01-01T00:00:00, not integer value: %s",
				num);
		return false;
	}
	if (!json_is_string(v)) {
		hub_reply_error(r, 400, "Invalid API request",
				"Expecting a string");
		return false;
	}
	if (!hub_sign_parse_time(json_string_value(v), us)) {
		hub_reply_error(r, 400, "Invalid API request",
				"Unable to parse date string '%s'",
				json_string_value(v));
		return false;
	}
	if (*us <= now_us) {
		hub_reply_error(r, 400, "Invalid API request",
				"`expires` is lower than the current time");
		return false;
	}
	return true;
}

/* Zaqar's three resources, and Herald's feeds and event stream (which
 * readers and browsers fetch without headers: the signature then travels
 * in the query). */
static bool share_path_valid(json_t *v)
{
	static const char *const valid[] = {
		"messages", "subscriptions", "claims",
		"feed.atom", "feed.rss", "feed.json", "events",
	};
	const char *s = json_string_value(v);

	for (size_t i = 0; s && i < sizeof(valid) / sizeof(*valid); i++)
		if (!strcmp(s, valid[i]))
			return true;
	return false;
}

/* A JSON value Python would find false (None, [], "", 0, False, {}). */
static bool py_falsy(json_t *v)
{
	return !v || json_is_null(v) || json_is_false(v) ||
	       (json_is_array(v) && json_array_size(v) == 0) ||
	       (json_is_object(v) && json_object_size(v) == 0) ||
	       (json_is_string(v) && json_string_length(v) == 0) ||
	       (json_is_integer(v) && json_integer_value(v) == 0) ||
	       (json_is_real(v) && json_real_value(v) == 0.0);
}

/* Checks the body of a share; replies 400 and returns false if bad. */
static bool share_check_body(struct hub_req *r, json_t *doc)
{
	json_t *bad[16];
	size_t n_bad = 0;
	const char *key;
	json_t *v, *paths = json_object_get(doc, "paths");
	json_t *methods = json_object_get(doc, "methods");
	size_t i;

	json_object_foreach(doc, key, v) {
		if (strcmp(key, "paths") && strcmp(key, "methods") &&
		    strcmp(key, "expires") &&
		    n_bad < sizeof(bad) / sizeof(bad[0]))
			bad[n_bad++] = json_string(key);
	}
	if (n_bad) {
		reply_bad_set(r, "Unknown keys", bad, n_bad);
		while (n_bad)
			json_decref(bad[--n_bad]);
		return false;
	}
	if (!py_falsy(paths)) {
		if (!json_is_array(paths)) {
			bad[n_bad++] = json_incref(paths);
		} else {
			json_array_foreach(paths, i, v) {
				if (!share_path_valid(v) &&
				    n_bad < sizeof(bad) / sizeof(bad[0]))
					bad[n_bad++] = json_incref(v);
			}
		}
		if (n_bad) {
			reply_bad_set(r, "Invalid paths", bad, n_bad);
			while (n_bad)
				json_decref(bad[--n_bad]);
			return false;
		}
	}
	if (!r->cfg->signing_key[0]) {
		hub_reply_error(r, 400, "Invalid API request",
				"The `key` can't be None");
		return false;
	}
	if (!py_falsy(methods)) {
		bool ok = json_is_array(methods);

		json_array_foreach(methods, i, v)
			ok = ok && json_is_string(v);
		if (!ok) {
			hub_reply_error(r, 400, "Invalid API request",
					"`methods` should be a list");
			return false;
		}
	}
	return true;
}

/* Collects a share's strings, sorted, into a new array (NULL: no memory).
 * Each item is prefix + the JSON string (or the default when `list` is
 * falsy). */
static char **share_list(json_t *list, const char *prefix, const char *def,
			 size_t *n)
{
	size_t count = py_falsy(list) ? 1 : json_array_size(list);
	char **out = calloc(count, sizeof(*out));

	if (!out)
		return NULL;
	for (size_t i = 0; i < count; i++) {
		const char *s = py_falsy(list) ? def :
				json_string_value(json_array_get(list, i));
		size_t len = strlen(prefix) + strlen(s) + 1;

		out[i] = malloc(len);
		if (!out[i]) {
			while (i)
				free(out[--i]);
			free(out);
			return NULL;
		}
		snprintf(out[i], len, "%s%s", prefix, s);
	}
	qsort(out, count, sizeof(*out), cmp_str);
	*n = count;
	return out;
}

static void free_list(char **list, size_t n)
{
	for (size_t i = 0; list && i < n; i++)
		free(list[i]);
	free(list);
}

static json_t *strings_json(char *const *list, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(list[i]));
	return a;
}

void hub_share(struct hub_req *r)
{
	json_t *doc = hub_body_json(r, JSON_OBJECT);
	char **paths = NULL, **methods = NULL, *prefix = NULL;
	size_t n_paths = 0, n_methods = 0;
	char expires[32], sig[65];
	int64_t exp_us;

	if (!doc)
		return;
	if (!share_check_body(r, doc) ||
	    !share_expires(r, json_object_get(doc, "expires"), &exp_us))
		goto out;
	hub_sign_expires(expires, exp_us);
	prefix = hub_queue_href(r, r->queue);
	if (prefix) {
		size_t len = strlen(prefix) + 2;
		char *p = realloc(prefix, len);

		if (p) {
			prefix = p;
			strcat(prefix, "/");
			paths = share_list(json_object_get(doc, "paths"),
					   prefix, "messages", &n_paths);
			methods = share_list(json_object_get(doc, "methods"),
					     "", "GET", &n_methods);
		}
	}
	if (!paths || !methods ||
	    !hub_sign(r->cfg->signing_key, (const char *const *)paths,
			n_paths, (const char *const *)methods, n_methods,
			r->project, expires, sig)) {
		hub_reply_error(r, 500, "Internal server error",
				"Out of memory.");
		goto out;
	}
	hub_reply(r, 200, json_pack("{s:o, s:o, s:s, s:s, s:s}",
				    "paths", strings_json(paths, n_paths),
				    "methods", strings_json(methods, n_methods),
				    "project", r->project, "expires", expires,
				    "signature", sig));
out:
	free_list(paths, n_paths);
	free_list(methods, n_methods);
	free(prefix);
	json_decref(doc);
}
