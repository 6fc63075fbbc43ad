/*
 * req.c - the request API handlers use, whatever the transport: query
 * parameters, JSON bodies, next links. A request is a struct hub_req;
 * http.c and ws_actions.c fill it and render what a handler put in its
 * reply (reply.c).
 *
 * Query values are percent-decoded by the transport; booleans and
 * integers are read the way Zaqar (falcon) reads them.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "req.h"

/* ------------------------------------------------------- query and body */

const char *hub_query(const struct hub_req *r, const char *name)
{
	for (size_t i = 0; i < r->n_query; i++)
		if (strcmp(r->query[i].key, name) == 0)
			return r->query[i].value;
	return NULL;
}

int hub_query_take(struct hub_req *r, char *block, char *value)
{
	struct hub_kv *kv;

	if (r->n_query == r->query_cap) {
		size_t cap = r->query_cap ? 2 * r->query_cap : 4;

		kv = realloc(r->query, cap * sizeof(*kv));
		if (!kv) {
			free(block);
			return -1;
		}
		r->query = kv;
		r->query_cap = cap;
	}
	kv = &r->query[r->n_query++];
	kv->key = block;
	kv->value = value;
	kv->len = strlen(value);
	return 0;
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

bool hub_body_present(struct hub_req *r)
{
	if (r->has_body && r->body_len)
		return true;
	hub_reply_error(r, 400, "Invalid request body",
			"Request body can not be empty");
	return false;
}

void hub_body_refuse(struct hub_req *r, const json_error_t *err)
{
	if (json_error_code(err) == json_error_numeric_overflow)
		hub_reply_error(r, 400, "Invalid request body",
				"JSON contains integer that is too large.");
	else
		hub_reply_error(r, 400, "Invalid request body",
				"Request body could not be parsed.");
}

json_t *hub_body_json(struct hub_req *r, int want)
{
	json_error_t err;
	json_t *doc;

	if (!hub_body_present(r))
		return NULL;
	doc = json_loadb(r->body, r->body_len,
			 JSON_DECODE_ANY, &err); /* duplicates: last wins, as Python */
	if (!doc) {
		hub_body_refuse(r, &err);
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

/* Appends "?key=value" or "&key=value", the value percent-encoded. */
static void link_add(struct hub_buf *b, const char *key, const char *val)
{
	hub_buf_add(b, b->len && memchr(b->data, '?', b->len) ? "&" : "?", 1);
	hub_buf_printf(b, "%s=", key);
	for (const unsigned char *c = (const unsigned char *)val; *c; c++) {
		if (isalnum(*c) || strchr("-_.~", *c))
			hub_buf_add(b, c, 1);
		else
			hub_buf_printf(b, "%%%02X", *c);
	}
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
	struct hub_buf b = {0};
	bool marker_done = false;
	char num[32];

	hub_buf_adds(&b, r->path);
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
		link_add(&b, k, v);
	}
	if (!marker_done)
		link_add(&b, "marker", marker);
	return hub_buf_take(&b, NULL);
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
	for (size_t i = 0; i < r->n_query; i++)
		free(r->query[i].key); /* the value is in its block */
	free(r->query);
	r->query = NULL;
	r->n_query = r->query_cap = 0;
	hub_reply_release(&r->reply);
}
