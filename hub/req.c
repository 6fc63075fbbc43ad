/*
 * req.c - the request API handlers use, whatever the transport: replies,
 * query parameters, JSON bodies, next links. A request is a struct
 * hub_req; http.c and ws_actions.c fill it and send what a handler put in
 * it (status, body, extra headers).
 *
 * Errors are Zaqar's JSON bodies, {"title": ..., "description": ...}, and
 * feed's error codes map to HTTP in one table (hub_reply_feed_error).
 * Query values are percent-decoded by the transport; booleans and
 * integers are read the way Zaqar (falcon) reads them.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "req.h"

/* ---------------------------------------------------------------- replies */

static void set_body(struct hub_req *r, int status, const char *type,
		     char *body, size_t len)
{
	if (r->replied) {
		hub_log(HUB_LOG_ERROR, "handler replied twice to %s", r->path);
		free(body);
		return;
	}
	r->replied = true;
	r->status = status;
	r->resp_type = type;
	r->resp_body = body;
	r->resp_len = len;
}

void hub_reply(struct hub_req *r, int status, json_t *body)
{
	char *text = NULL;
	size_t len = 0;

	if (body) {
		text = json_dumps(body, JSON_ENCODE_ANY); /* ", " and ": " as Zaqar */
		json_decref(body);
		if (!text) {
			hub_reply_error(r, 500, "Internal server error",
					"The response could not be encoded.");
			return;
		}
		len = strlen(text);
	}
	set_body(r, status, "application/json", text, len);
}

void hub_reply_raw(struct hub_req *r, int status, const char *type,
		   const void *body, size_t len)
{
	char *copy = NULL;

	if (len) {
		copy = malloc(len);
		if (!copy) {
			set_body(r, 503, "application/json", NULL, 0);
			return;
		}
		memcpy(copy, body, len);
	}
	set_body(r, status, type, copy, len);
}

void hub_reply_error(struct hub_req *r, int status, const char *title,
		     const char *fmt, ...)
{
	json_t *body = json_object();

	json_object_set_new(body, "title", json_string(title));
	if (fmt) {
		char text[1024];
		va_list ap;

		va_start(ap, fmt);
		vsnprintf(text, sizeof(text), fmt, ap);
		va_end(ap);
		json_object_set_new(body, "description", json_string(text));
	}
	hub_header(r, "Vary", "Accept");
	hub_reply(r, status, body);
}

/* The one table from feed's errors to HTTP. */
void hub_reply_feed_error(struct hub_req *r, int err, const char *what)
{
	const char *project = *r->project ? r->project : "None";

	switch (err) {
	case FEED_ENOQUEUE:
		hub_reply_error(r, 404, "Not found",
				"Queue %s does not exist for project %s",
				r->queue ? r->queue : "", project);
		return;
	case FEED_ENOTFOUND:
		hub_reply_error(r, 404, "Not found",
				"%s does not exist in queue %s for project %s",
				what ? what : "Resource",
				r->queue ? r->queue : "", project);
		return;
	case FEED_ENOCLAIM:
		hub_reply_error(r, 404, "Not found",
				"Claim %s does not exist in queue %s for project %s",
				r->id ? r->id : "", r->queue ? r->queue : "",
				project);
		return;
	case FEED_ECLAIMED:
		hub_reply_error(r, 403, "Unable to delete",
				"This message is claimed; it cannot be deleted "
				"without a valid claim ID.");
		return;
	case FEED_ENOTCLAIMED:
		hub_reply_error(r, 400, "Unable to delete",
				"A claim was specified, but the message is not "
				"currently claimed.");
		return;
	case FEED_EINVAL:
	case FEED_EBADID:
		hub_reply_error(r, 400, "Invalid API request", "%s.",
				feed_strerror(err));
		return;
	case FEED_ETOOBIG:
		hub_reply_error(r, 400, "Invalid API request",
				"The request is too large.");
		return;
	case FEED_EFULL:
		hub_reply_error(r, 507, "Insufficient storage",
				"Storage is full. Delete messages or queues, "
				"or raise --max-map-size.");
		return;
	default:
		hub_log(HUB_LOG_ERROR, "%s %s: storage error: %s", r->path,
			what ? what : "", feed_strerror(err));
		hub_reply_error(r, 503, "Service temporarily unavailable",
				"Storage failed: %s. Please try again in a few "
				"seconds.", feed_strerror(err));
		return;
	}
}

void hub_header(struct hub_req *r, const char *name, const char *fmt, ...)
{
	size_t len = r->resp_headers_len, nlen = strlen(name);
	va_list ap;
	char *p;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	/* "name: value\r\n", the value whole (a Location can list
	 * thousands of ids). */
	p = realloc(r->resp_headers, len + nlen + 2 + (size_t)n + 2 + 1);
	if (!p)
		return;
	r->resp_headers = p;
	memcpy(p + len, name, nlen);
	memcpy(p + len + nlen, ": ", 2);
	va_start(ap, fmt);
	vsnprintf(p + len + nlen + 2, (size_t)n + 1, fmt, ap);
	va_end(ap);
	memcpy(p + len + nlen + 2 + n, "\r\n", 3);
	r->resp_headers_len = len + nlen + 2 + (size_t)n + 2;
}

/* ------------------------------------------------------- query and body */

const char *hub_query(const struct hub_req *r, const char *name)
{
	for (size_t i = 0; i < r->n_query; i++)
		if (strcmp(r->query[i].key, name) == 0)
			return r->query[i].value;
	return NULL;
}

bool hub_query_int(struct hub_req *r, const char *name, long long def,
		   long long *out)
{
	const char *v = hub_query(r, name);
	char *end;

	*out = def;
	if (!v)
		return true;
	errno = 0;
	*out = strtoll(v, &end, 10);
	if (errno || end == v || *end) {
		hub_reply_error(r, 400, "Invalid parameter",
				"The \"%s\" parameter is invalid. The value "
				"must be an integer.", name);
		return false;
	}
	return true;
}

bool hub_query_bool(struct hub_req *r, const char *name, bool def, bool *out)
{
	static const char *const yes[] = {"true", "True", "t", "yes", "y",
					  "1", "on"};
	static const char *const no[] = {"false", "False", "f", "no", "n",
					 "0", "off"};
	const char *v = hub_query(r, name);

	*out = def;
	if (!v)
		return true;
	for (size_t i = 0; i < sizeof(yes) / sizeof(*yes); i++) {
		if (strcmp(v, yes[i]) == 0) {
			*out = true;
			return true;
		}
		if (strcmp(v, no[i]) == 0) {
			*out = false;
			return true;
		}
	}
	hub_reply_error(r, 400, "Invalid parameter",
			"The \"%s\" parameter is invalid. The value must be "
			"a boolean.", name);
	return false;
}

void hub_query_list(const struct hub_req *r, const char *name,
		    const char **out, size_t max, size_t *n)
{
	*n = 0;
	for (size_t i = 0; i < r->n_query; i++) {
		struct hub_kv *kv = &r->query[i];

		if (strcmp(kv->key, name) != 0)
			continue;
		/* Split once, in place: commas become NULs; kv->len keeps
		 * the whole extent for later calls. */
		for (char *c = kv->value; c < kv->value + kv->len; c++)
			if (*c == ',')
				*c = '\0';
		for (char *v = kv->value; v < kv->value + kv->len;
		     v += strlen(v) + 1) {
			if (!*v)
				continue;
			if (*n < max)
				out[*n] = v;
			(*n)++;
		}
	}
}

json_t *hub_body_json(struct hub_req *r, int want)
{
	json_error_t err;
	json_t *doc;

	if (!r->has_body || r->body_len == 0) {
		hub_reply_error(r, 400, "Invalid request body",
				"Request body can not be empty");
		return NULL;
	}
	doc = json_loadb(r->body, r->body_len,
			 JSON_DECODE_ANY, &err); /* duplicates: last wins, as Python */
	if (!doc) {
		if (json_error_code(&err) == json_error_numeric_overflow)
			hub_reply_error(r, 400, "Invalid request body",
					"JSON contains integer that is too "
					"large.");
		else
			hub_reply_error(r, 400, "Invalid request body",
					"Request body could not be parsed.");
		return NULL;
	}
	if (want >= 0 && (int)json_typeof(doc) != want) {
		json_decref(doc);
		hub_reply_error(r, 400, "Invalid request body",
				"Document type not supported.");
		return NULL;
	}
	return doc;
}

/* Appends "key=value" (percent-encoded) to a growing string. */
static int link_add(char **s, size_t *len, const char *key, const char *val)
{
	size_t vlen = strlen(val), need = strlen(key) + 2 + vlen * 3 + 1;
	char *p = realloc(*s, *len + need), *o;

	if (!p)
		return -1;
	*s = p;
	o = p + *len;
	*o++ = memchr(p, '?', *len) ? '&' : '?';
	o += sprintf(o, "%s=", key);
	for (const unsigned char *c = (const unsigned char *)val; *c; c++) {
		if (isalnum(*c) || strchr("-_.~", *c))
			*o++ = (char)*c;
		else
			o += sprintf(o, "%%%02X", *c);
	}
	*o = '\0';
	*len = (size_t)(o - p);
	return 0;
}

/* A query value as Zaqar echoes it in links: booleans as true/false,
 * integers normalised, anything else as sent. */
static const char *link_value(const char *v, char *buf, size_t len)
{
	static const char *const yes[] = {"true", "True", "t", "yes", "y",
					  "on"};
	static const char *const no[] = {"false", "False", "f", "no", "n",
					 "off"};
	char *end;
	long long n;

	for (size_t i = 0; i < sizeof(yes) / sizeof(*yes); i++) {
		if (strcmp(v, yes[i]) == 0)
			return "true";
		if (strcmp(v, no[i]) == 0)
			return "false";
	}
	errno = 0;
	n = strtoll(v, &end, 10);
	if (!errno && end != v && !*end) {
		snprintf(buf, len, "%lld", n);
		return buf;
	}
	return v;
}

char *hub_next_link(const struct hub_req *r, const char *const *recognised,
		    const char *marker, const char *extra)
{
	size_t len = strlen(r->path);
	char *s = malloc(len + 1), num[32];
	bool marker_done = false;

	if (!s)
		return NULL;
	memcpy(s, r->path, len + 1);
	/* Zaqar's order: the recognised parameters in their fixed order,
	 * the marker in its place if one was sent, else last. */
	for (size_t j = 0; recognised && recognised[j]; j++) {
		const char *k = recognised[j], *v = hub_query(r, k);

		if (strcmp(k, "marker") == 0) {
			if (!v)
				continue;
			v = marker;
			marker_done = true;
		} else if (!v && extra && strcmp(k, extra) == 0) {
			v = "true";
		} else if (!v) {
			continue;
		} else {
			v = link_value(v, num, sizeof(num));
		}
		if (link_add(&s, &len, k, v))
			goto fail;
	}
	if (!marker_done && link_add(&s, &len, "marker", marker))
		goto fail;
	return s;
fail:
	free(s);
	return NULL;
}

/* --------------------------------------------------------- body fields */

bool hub_body_int(struct hub_req *r, json_t *obj, const char *name,
		  bool required, long long def, long long *out)
{
	json_t *v = json_object_get(obj, name);

	if (!v && !required) {
		*out = def;
		return true;
	}
	if (!v) {
		hub_reply_error(r, 400, "Invalid request body",
				"Missing \"%s\" field.", name);
		return false;
	}
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
	} else if (json_is_boolean(v)) {
		*out = json_is_true(v);
	} else {
		hub_reply_error(r, 400, "Invalid request body",
				"The value of the \"%s\" field must be a int.",
				name);
		return false;
	}
	return true;
}

/* -------------------------------------------------------------- release */

void hub_req_release(struct hub_req *r)
{
	for (size_t i = 0; i < r->n_query; i++) {
		free(r->query[i].key);
		free(r->query[i].value);
	}
	free(r->query);
	free(r->resp_body);
	free(r->resp_headers);
	r->query = NULL;
	r->n_query = 0;
	r->resp_body = NULL;
	r->resp_headers = NULL;
}
