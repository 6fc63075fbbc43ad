/*
 * meta.c - Zaqar's rules for queue metadata (meta.h): the reserved keys,
 * their checks and the defaults v2 shows, and the washing of a v2 PATCH
 * document into plain operations. The queue routes (queues.c) store
 * and apply; the rules live here.
 *
 * Reserved keys (zaqar-api.md §6.2)
 * ---------------------------------
 * Keys that start with "_" change how a queue behaves. Two tables hold
 * them in Zaqar's orders: reserved[] in the order Zaqar appends the
 * defaults (hub_meta_with_defaults), int_keys[] in the order it checks
 * the integers (hub_meta_check), so the first violation reported is
 * Zaqar's, with its text. Values are judged as Python judges them, since
 * clients see the difference: isinstance(v, int) takes a bool, and a
 * falsy value of another type passes. After Zaqar's checks come Herald's:
 * of Zaqar's worker keys that Zaqar leaves unchecked (a negative
 * _max_claim_count, a _dead_letter_queue that is no usable queue name),
 * then of its own keys (_retry_delay, _retry_delay_max,
 * _idempotency_window, _feed_fields), each refused with its own text.
 *
 * PATCH washing
 * -------------
 * Zaqar's queue_patching, change by change and in its order: the "op"
 * (add, remove, replace), then the "path", a restricted JSON pointer
 * (pointer_check, with Zaqar's texts) split and decoded (pointer_split)
 * into exactly two parts, "metadata" and the key. What comes out is
 *
 *   [{"op": "add" | "remove" | "replace", "key": <string>,
 *     "value": <the change's value, or null when it has none>}, ...]
 *
 * which queues.c applies on the writer thread. Where Zaqar fails
 * with a 503 (WASH_UNREADABLE: a path that is no string, a document that
 * is no array), Herald answers 400 and says what is wrong.
 *
 * Threads: hub_meta_check() and hub_meta_is_reserved() touch neither a
 * request nor feed, so the writer thread calls them; the functions that
 * take a request reply through it and run on the loop thread.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "req.h"
#include "route.h"
#include "api/api.h"
#include "meta.h"
#include "feeds.h"

#define FEED_FIELD_NAMES                                                       \
	"title, link, summary, content, author, updated, id, categories"

#define PATCH_OPS "add, remove, replace"
#define RETRY_MIN_DELAY 10   /* Zaqar's retry policy defaults */
#define RETRY_MAX_DELAY 3600
#define RETRY_MIN_SPAN 10    /* 2 * its linear interval */

/* ------------------------------------------------- reserved metadata */

enum reserved_default { D_POST_SIZE, D_TTL, D_DELAY, D_NULL, D_FALSE };

/* In the order Zaqar appends the defaults. */
static const struct {
	const char *key;
	enum reserved_default dflt;
} reserved[] = {
	{"_max_messages_post_size", D_POST_SIZE},
	{"_default_message_ttl", D_TTL},
	{"_default_message_delay", D_DELAY},
	{"_dead_letter_queue", D_NULL},
	{"_dead_letter_queue_messages_ttl", D_NULL},
	{"_max_claim_count", D_NULL},
	{"_enable_encrypt_messages", D_FALSE},
};

#define N_RESERVED (sizeof(reserved) / sizeof(*reserved))

bool hub_meta_is_reserved(const char *key)
{
	for (size_t i = 0; i < N_RESERVED; i++)
		if (strcmp(key, reserved[i].key) == 0)
			return true;
	return false;
}

/* Python's `not v`; a missing value (NULL) counts as falsy. */
static bool py_falsy(json_t *v)
{
	switch (v ? json_typeof(v) : JSON_NULL) {
	case JSON_OBJECT:
		return json_object_size(v) == 0;
	case JSON_ARRAY:
		return json_array_size(v) == 0;
	case JSON_STRING:
		return json_string_length(v) == 0;
	case JSON_INTEGER:
		return json_integer_value(v) == 0;
	case JSON_REAL:
		return json_real_value(v) == 0.0;
	case JSON_TRUE:
		return false;
	default:
		return true;
	}
}

/* Python's isinstance(v, int), where bools are ints. */
static bool py_int(json_t *v, long long *n)
{
	if (json_is_integer(v))
		*n = json_integer_value(v);
	else if (json_is_boolean(v))
		*n = json_is_true(v);
	else
		return false;
	return true;
}

enum int_range { R_NONE, R_TTL, R_POST_SIZE, R_DELAY, R_DLQ_TTL,
		 R_CLAIM_COUNT };

/* The integer keys, in the order Zaqar checks them. */
static const struct {
	const char *key;
	enum int_range range;
} int_keys[] = {
	{"_default_message_ttl", R_TTL},
	{"_max_messages_post_size", R_POST_SIZE},
	{"_max_claim_count", R_CLAIM_COUNT},
	{"_dead_letter_queue_messages_ttl", R_DLQ_TTL},
	{"_default_message_delay", R_DELAY},
};

/* Checks n against the range of an integer key; NULL when inside. */
static const char *range_check(const struct hub_limits *l, enum int_range rg,
			       const char *key, long long n, char *buf,
			       size_t size)
{
	switch (rg) {
	case R_TTL:
		if (n >= HUB_MIN_MESSAGE_TTL && n <= l->max_message_ttl)
			return NULL;
		snprintf(buf, size, "%s can not exceed %u seconds, and must "
			 "be at least %d seconds long.", key,
			 l->max_message_ttl, HUB_MIN_MESSAGE_TTL);
		return buf;
	case R_POST_SIZE:
		if (n > 0 && n <= l->max_messages_post_size)
			return NULL;
		snprintf(buf, size, "%s can not exceed %u,  and must be at "
			 "least greater than 0.", key,
			 l->max_messages_post_size);
		return buf;
	case R_DELAY:
		if (n >= 0 && n <= l->max_message_delay)
			return NULL;
		snprintf(buf, size, "The TTL can not exceed %u seconds, and "
			 "must be at least 0 seconds long.",
			 l->max_message_delay);
		return buf;
	case R_DLQ_TTL:
		if (n >= HUB_MIN_MESSAGE_TTL && n <= l->max_message_ttl)
			return NULL;
		snprintf(buf, size, "The TTL for a message may not exceed %u "
			 "seconds, and must be at least %d seconds long.",
			 l->max_message_ttl, HUB_MIN_MESSAGE_TTL);
		return buf;
	case R_CLAIM_COUNT:
		/* Zaqar takes any integer; Herald refuses what it cannot
		 * count to (0 is falsy: none, as null). */
		if (n >= 0 && n <= UINT32_MAX)
			return NULL;
		snprintf(buf, size, "%s must be a positive integer (at most "
			 "%u), or 0 or null for none.", key, UINT32_MAX);
		return buf;
	default:
		return NULL;
	}
}

/* Zaqar's check of `_retry_policy` (used by subscriptions' webhooks). */
static const char *retry_check(json_t *meta, char *buf, size_t size)
{
	static const char *const ints[] = {
		"retries_with_no_delay", "minimum_delay_retries",
		"minimum_delay", "maximum_delay", "maximum_delay_retries"};
	static const char *const funcs[] = {"linear", "arithmetic",
					    "exponential", "geometric"};
	json_t *p = json_object_get(meta, "_retry_policy"), *v;
	long long lo = RETRY_MIN_DELAY, hi = RETRY_MAX_DELAY, n;
	bool known = false;

	if (py_falsy(p))
		return NULL;
	if (!json_is_object(p))
		return "retry_policy must be a dict.";
	for (size_t i = 0; i < sizeof(ints) / sizeof(*ints); i++) {
		v = json_object_get(p, ints[i]);
		if (!py_falsy(v) && !py_int(v, &n)) {
			snprintf(buf, size, "Retry policy: %s must be a "
				 "integer.", ints[i]);
			return buf;
		}
	}
	v = json_object_get(p, "retry_backoff_function");
	if (!py_falsy(v) && !json_is_string(v))
		return "retry_backoff_function must be a string.";
	for (size_t i = 0; !py_falsy(v) && i < sizeof(funcs) / sizeof(*funcs);
	     i++)
		known |= strcmp(json_string_value(v), funcs[i]) == 0;
	if (!py_falsy(v) && !known)
		return "invalid retry_backoff_function.";
	v = json_object_get(p, "ignore_subscription_override");
	if (!py_falsy(v) && !json_is_boolean(v))
		return "ignore_subscription_override must be a boolean.";
	if (py_int(json_object_get(p, "minimum_delay"), &n))
		lo = n;
	if (py_int(json_object_get(p, "maximum_delay"), &n))
		hi = n;
	if (hi < lo)
		return "minimum_delay must less than maximum_delay.";
	if (hi - lo < RETRY_MIN_SPAN)
		return "invalid minimum_delay and maximum_delay.";
	return NULL;
}

/* Herald's `_feed_fields` (feeds.c): {entry field: body key}; null or
 * absent is the default mapping. */
static const char *feed_fields_check(json_t *meta, char *buf, size_t size)
{
	json_t *p = json_object_get(meta, "_feed_fields"), *v;
	const char *field;

	if (!p || json_is_null(p))
		return NULL;
	if (!json_is_object(p))
		return "_feed_fields must be an object mapping entry fields "
		       "(" FEED_FIELD_NAMES ") to body keys.";
	json_object_foreach(p, field, v) {
		if (!hub_feed_field_ok(field)) {
			snprintf(buf, size, "_feed_fields: \"%.64s\" is not an "
				 "entry field; the fields are " FEED_FIELD_NAMES
				 ".", field);
			return buf;
		}
		if (!json_is_string(v) || json_string_length(v) == 0) {
			snprintf(buf, size, "_feed_fields: the body key of "
				 "\"%s\" must be a non-empty string.", field);
			return buf;
		}
	}
	return NULL;
}

/* Herald's `_idempotency_window` (messages.c): seconds a message's
 * idempotency key is remembered, 0 = keys are ignored; null or absent is
 * the default (HUB_IDEM_WINDOW_DEFAULT). */
static const char *idem_window_check(json_t *meta, char *buf, size_t size)
{
	json_t *v = json_object_get(meta, "_idempotency_window");

	if (!v || json_is_null(v))
		return NULL;
	if (json_is_integer(v) && json_integer_value(v) >= 0 &&
	    json_integer_value(v) <= HUB_IDEM_WINDOW_MAX)
		return NULL;
	snprintf(buf, size, "_idempotency_window must be an integer number "
		 "of seconds from 0 (off) to %d.", HUB_IDEM_WINDOW_MAX);
	return buf;
}

/* `_dead_letter_queue`, which Zaqar does not check: null, "" or absent
 * (none), else the name of another queue of the project. */
static const char *dlq_check(const char *queue, json_t *meta, char *buf,
			     size_t size)
{
	json_t *v = json_object_get(meta, "_dead_letter_queue");
	const char *name = json_string_value(v);

	if (!v || json_is_null(v) || (name && !*name))
		return NULL;
	if (!name || !hub_queue_name_ok(name, json_string_length(v)))
		return "_dead_letter_queue must be a queue name: 1 to 64 "
		       "ASCII letters, digits, underscores and hyphens.";
	if (queue && strcmp(name, queue) == 0) {
		snprintf(buf, size, "_dead_letter_queue must name another "
			 "queue than %s itself.", queue);
		return buf;
	}
	return NULL;
}

/* Herald's `_retry_delay` and `_retry_delay_max` (claims.c): seconds, 1
 * to HUB_RETRY_DELAY_MAX; null or absent is none (0 too, for the delay:
 * backoff off). */
static const char *retry_delay_check(json_t *meta, char *buf, size_t size)
{
	static const char *const keys[] = {"_retry_delay", "_retry_delay_max"};

	for (int i = 0; i < 2; i++) {
		json_t *v = json_object_get(meta, keys[i]);
		long long n = json_integer_value(v), lo = i ? 1 : 0;

		if (!v || json_is_null(v) ||
		    (json_is_integer(v) && n >= lo && n <= HUB_RETRY_DELAY_MAX))
			continue;
		snprintf(buf, size, "%s must be an integer number of seconds "
			 "from %lld%s to %d.", keys[i], lo,
			 i ? "" : " (off)", HUB_RETRY_DELAY_MAX);
		return buf;
	}
	return NULL;
}

/* Zaqar's queue_metadata_putting (NULL when meta is valid, else why),
 * then Herald's checks of what Zaqar leaves unchecked. */
const char *hub_meta_check(const struct hub_limits *l, const char *queue,
			   json_t *meta, char *buf, size_t size)
{
	const char *why;
	json_t *v;
	long long n;

	for (size_t i = 0; i < sizeof(int_keys) / sizeof(*int_keys); i++) {
		v = json_object_get(meta, int_keys[i].key);
		if (!v || json_is_null(v))
			continue;
		if (!py_int(v, &n)) {
			if (py_falsy(v))
				continue;
			snprintf(buf, size, "%s must be integer.",
				 int_keys[i].key);
			return buf;
		}
		why = range_check(l, int_keys[i].range, int_keys[i].key, n,
				  buf, size);
		if (why)
			return why;
	}
	v = json_object_get(meta, "_enable_encrypt_messages");
	if (!py_falsy(v) && !json_is_boolean(v))
		return "_enable_encrypt_messages must be boolean.";
	why = retry_check(meta, buf, size);
	if (!why)
		why = dlq_check(queue, meta, buf, size);
	if (!why)
		why = retry_delay_check(meta, buf, size);
	if (!why)
		why = idem_window_check(meta, buf, size);
	if (!why)
		why = feed_fields_check(meta, buf, size);
	return why;
}

bool hub_meta_validate(struct hub_req *r, json_t *meta, const char *title)
{
	char buf[512];
	const char *why = hub_meta_check(&r->cfg->limits, r->queue, meta,
					 buf, sizeof(buf));

	if (!why)
		return true;
	hub_reply_error(r, 400, title, "%s", why);
	return false;
}

static json_t *reserved_value(const struct hub_limits *l,
			      enum reserved_default d)
{
	switch (d) {
	case D_POST_SIZE:
		return json_integer(l->max_messages_post_size);
	case D_TTL:
		return json_integer(l->default_message_ttl);
	case D_DELAY:
		return json_integer(l->default_message_delay);
	case D_FALSE:
		return json_false();
	default:
		return json_null();
	}
}

json_t *hub_meta_with_defaults(const struct hub_req *r, json_t *stored)
{
	json_t *out = json_is_object(stored) ? json_copy(stored)
					     : json_object();

	if (!out)
		return NULL;
	for (size_t i = 0; i < N_RESERVED; i++) {
		if (!py_falsy(json_object_get(out, reserved[i].key)))
			continue;
		json_object_set_new(out, reserved[i].key,
				    reserved_value(&r->cfg->limits,
						   reserved[i].dflt));
	}
	return out;
}

/* ------------------------------------------------------ PATCH washing */

enum { WASH_OK, WASH_BAD, WASH_UNREADABLE };

static int wash_fail(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int wash_fail(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return WASH_BAD;
}

/* Python's str() of a JSON value, for error texts. */
static void py_str(json_t *v, char *buf, size_t size)
{
	char *s;

	if (json_is_string(v)) {
		snprintf(buf, size, "%s", json_string_value(v));
	} else if (json_is_boolean(v)) {
		snprintf(buf, size, "%s", json_is_true(v) ? "True" : "False");
	} else {
		s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
		snprintf(buf, size, "%s", s ? s : "");
		free(s);
	}
}

/* Zaqar's check of the limited JSON pointers it accepts. */
static int pointer_check(const char *p, char *buf, size_t size)
{
	size_t n = strlen(p), a = 1, b = n;
	const char *why = NULL;

	if (p[0] != '/')
		why = "does not start with \"/\".";
	for (size_t i = 1; !why && i < n; i++) {
		size_t j = i + 1;

		while (p[i] == '/' && isspace((unsigned char)p[j]))
			j++;
		if (p[i] == '/' && p[j] == '/')
			why = "contains adjacent \"/\".";
	}
	if (!why && n > 1 && p[n - 1] == '/')
		why = "end with \"/\".";
	while (a < n && isspace((unsigned char)p[a]))
		a++;
	while (b > a && isspace((unsigned char)p[b - 1]))
		b--;
	if (!why && b - a == 1 && p[a] == '/')
		why = "does not contains valid token.";
	for (size_t i = 0; !why && i < n; i++)
		if (p[i] == '~' && p[i + 1] != '0' && p[i + 1] != '1')
			why = "contains \"~\" not part of a recognized escape "
			      "sequence.";
	if (!why)
		return WASH_OK;
	return wash_fail(buf, size, "Pointer `%s` %s", p, why);
}

/*
 * Splits a checked pointer as Zaqar does: leading slashes dropped, split
 * on "/", "~1" and "~0" decoded, each part stripped of white space.
 * Returns the parts (a new JSON array of strings; NULL without memory).
 */
static json_t *pointer_split(const char *p)
{
	json_t *parts = json_array();
	char *part = malloc(strlen(p) + 1), *o, *s;

	if (!parts || !part)
		goto fail;
	while (*p == '/')
		p++;
	for (;;) {
		for (o = part; *p && *p != '/'; p++)
			*o++ = *p != '~' ? *p : *++p == '1' ? '/' : '~';
		*o = '\0';
		for (s = part; isspace((unsigned char)*s); s++)
			;
		while (o > s && isspace((unsigned char)o[-1]))
			*--o = '\0';
		if (json_array_append_new(parts, json_string(s)))
			goto fail;
		if (!*p++)
			break;
	}
	free(part);
	return parts;
fail:
	free(part);
	json_decref(parts);
	return NULL;
}

/* "a/b/c" of the parts, as Zaqar quotes a bad path. */
static void parts_join(json_t *parts, char *buf, size_t size)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < json_array_size(parts) && len < size; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s%s",
					i ? "/" : "",
					json_string_value(json_array_get(parts,
									 i)));
}

/* Checks a change's "op"; *op = its name. */
static int wash_op(json_t *change, const char **op, char *buf, size_t size)
{
	json_t *v = json_object_get(change, "op");
	char str[256];

	*op = json_string_value(v);
	if (!json_is_object(change))
		return wash_fail(buf, size, "Operations must be JSON objects.");
	if (!v || json_is_null(v))
		return wash_fail(buf, size, "Unable to find `op` in JSON Schema "
				 "change. It must be one of the following: "
				 PATCH_OPS ".");
	if (*op && (!strcmp(*op, "add") || !strcmp(*op, "remove") ||
		    !strcmp(*op, "replace")))
		return WASH_OK;
	py_str(v, str, sizeof(str));
	return wash_fail(buf, size, "Invalid operation: `%s`. It must be one "
			 "of the following: " PATCH_OPS ".", str);
}

/*
 * Zaqar's queue_patching for one change, in its order: appends
 * {"op", "key"[, "value"]} to out, or returns why not (WASH_BAD with the
 * text in buf, or WASH_UNREADABLE where Zaqar fails with a 503).
 */
static int wash_one(json_t *change, json_t *out, char *buf, size_t size)
{
	json_t *path, *parts, *value = json_object_get(change, "value");
	const char *op;
	char str[256];
	int rc = wash_op(change, &op, buf, size);

	if (rc)
		return rc;
	path = json_object_get(change, "path");
	if (!path)
		return wash_fail(buf, size, "Unable to find 'path' in JSON "
				 "Schema change");
	if (!json_is_string(path))
		return WASH_UNREADABLE;
	rc = pointer_check(json_string_value(path), buf, size);
	if (rc)
		return rc;
	parts = pointer_split(json_string_value(path));
	if (!parts)
		return WASH_UNREADABLE;
	parts_join(parts, str, sizeof(str));
	if (json_array_size(parts) != 2)
		rc = wash_fail(buf, size, "Invalid JSON pointer for this "
			       "resource: '/%s, e.g /metadata/key'", str);
	else if (strcmp(op, "remove") && !value)
		rc = wash_fail(buf, size, "Operation \"%s\" requires a member "
			       "named \"value\".", op);
	else if (strcmp(op, "remove") &&
		 strcasecmp(json_string_value(json_array_get(parts, 0)),
			    "metadata"))
		rc = wash_fail(buf, size, "The root of path must be metadata, "
			       "e.g /metadata/key.");
	else if (json_array_append_new(out, json_pack("{s:s, s:O, s:O?}", "op",
						      op, "key",
						      json_array_get(parts, 1),
						      "value", value)))
		rc = WASH_UNREADABLE;
	json_decref(parts);
	return rc;
}

json_t *hub_meta_patch_ops(struct hub_req *r, json_t *doc)
{
	json_t *ops = json_array(), *change;
	char why[1024];
	int rc = json_is_array(doc) && ops ? WASH_OK : WASH_UNREADABLE;
	size_t i;

	json_array_foreach(doc, i, change) {
		if (rc)
			break;
		rc = wash_one(change, ops, why, sizeof(why));
	}
	if (rc == WASH_OK)
		return ops;
	json_decref(ops);
	/* Zaqar answers these two with a 503 (a bug: the storage is fine,
	 * the request is not); Herald says what is wrong with a 400. */
	if (rc == WASH_BAD)
		hub_reply_error(r, 400, "Invalid request body", "%s", why);
	else if (!json_is_array(doc))
		hub_reply_error(r, 400, "Invalid request body",
				"Document type not supported.");
	else
		hub_reply_error(r, 400, "Invalid request body",
				"Each change must be an object with a string "
				"\"op\" and \"path\".");
	return NULL;
}

const char *hub_meta_retry_check(json_t *obj, char *buf, size_t size)
{
	return retry_check(obj, buf, size);
}
