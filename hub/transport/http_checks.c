/*
 * http_checks.c - an HTTP request's headers and query, read from lws, and
 * the API's pre-routing checks on them (zaqar-api.md §2), in Zaqar's
 * order:
 *
 *   media types      no form-encoded bodies; Accept must allow what the
 *                    route answers (hub_route_accepts)
 *   Client-ID        required on /v1.1/ and /v2/, a UUID wherever sent
 *   X-Project-Id     not empty, no control characters, not too long
 *   then             the credentials, read for the auth layer (auth.c,
 *                    which http.c calls next): the token (Authorization:
 *                    Bearer, X-Auth-Token), X-Roles, a pre-signed URL's
 *                    URL-* values; Last-Event-ID
 *
 * Header values are read one way for all (hub_http__copy_custom, _hdr):
 * blanks around a value are dropped, and a value holding a NUL or another
 * control character is refused rather than cut (issue #12, hostile
 * testing #4: "pa\0pb" acted as "pa", "B " named another project than
 * "B").
 *
 * What a check needs to know of the route comes from its lookup (struct
 * hub_route_match): this file matches no path. On live streams and feeds
 * (ids_in_query) Client-ID and X-Project-Id may come as the query
 * parameters client_id and project_id instead. Each check replies when it
 * fails.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "render.h"
#include "api/api.h"
#include "transport/http_checks.h"

/* ---------------------------------------------------- reading headers */

/*
 * A header value as copied into buf (n bytes as lws counted them): blanks
 * trimmed both ends; 1, or -1 when it holds a NUL or another control
 * character (HTAB only inside).
 */
static int clean_value(char *buf, size_t n)
{
	size_t start = 0, end = n;

	if (strlen(buf) != n)
		return -1; /* a NUL inside */
	while (start < end && (buf[start] == ' ' || buf[start] == '\t'))
		start++;
	while (end > start && (buf[end - 1] == ' ' || buf[end - 1] == '\t'))
		end--;
	for (size_t i = start; i < end; i++)
		if (((unsigned char)buf[i] < 0x20 && buf[i] != '\t') ||
		    buf[i] == 0x7f)
			return -1;
	memmove(buf, buf + start, end - start);
	buf[end - start] = '\0';
	return 1;
}

int hub_http__copy_hdr(struct lws *wsi, enum lws_token_indexes h, char *buf,
		       size_t len)
{
	int n = lws_hdr_total_length(wsi, h);

	buf[0] = '\0';
	if (n <= 0)
		return 0;
	if ((size_t)n >= len || lws_hdr_copy(wsi, buf, (int)len, h) < 0)
		return -1;
	return clean_value(buf, (size_t)n);
}

int hub_http__copy_custom(struct lws *wsi, const char *name, char *buf,
			  size_t len)
{
	int nlen = (int)strlen(name), n = lws_hdr_custom_length(wsi, name, nlen);

	buf[0] = '\0';
	if (n < 0)
		return 0;
	if ((size_t)n >= len)
		return -1;
	if (lws_hdr_custom_copy(wsi, buf, (int)len, name, nlen) < 0)
		return -1;
	return clean_value(buf, (size_t)n);
}

/* One query fragment, "key=value" (decoded), added to r->query: split in
 * place, the fragment's copy becoming the parameter's block. */
static int query_add(struct hub_req *r, char *frag)
{
	char *eq = strchr(frag, '=');

	if (!eq || eq[1] == '\0') {
		free(frag);
		return 0; /* blank values are as if absent */
	}
	*eq = '\0';
	return hub_query_take(r, frag, eq + 1);
}

int hub_http__query_load(struct lws *wsi, struct hub_req *r)
{
	/* Each fragment at its own length: a query may take most of the
	 * header table (HUB_MAX_HEADER_DATA), and a fixed buffer would end
	 * the walk at the first longer one. Past the last fragment the copy
	 * fails; an empty one (a=1&&b=2) is skipped. */
	for (int i = 0;; i++) {
		int len = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, i);
		char *frag = malloc((size_t)len + 1);
		int n, rc;

		if (!frag)
			return -1;
		n = lws_hdr_copy_fragment(wsi, frag, len + 1,
					  WSI_TOKEN_HTTP_URI_ARGS, i);
		if (n > 0) {
			rc = query_add(r, frag);
		} else {
			rc = 0;
			free(frag);
		}
		if (n < 0)
			return 0;
		if (rc)
			return -1;
	}
}

/* ------------------------------------------------------------- checks */

/* One request under check. */
struct check {
	struct hub_req *r;
	struct lws *wsi;
	const struct hub_route_match *m;
	struct hub_http_heads *hd;
};

/* A header, or where the route allows it the query parameter standing in
 * for it. */
static int copy_ident(const struct check *c, const char *header,
		      const char *param, char *buf, size_t len)
{
	int n = hub_http__copy_custom(c->wsi, header, buf, len);
	const char *v;

	if (n != 0 || !c->m->attrs->ids_in_query ||
	    !(v = hub_query(c->r, param)))
		return n;
	if (strlen(v) >= len)
		return -1;
	memcpy(buf, v, strlen(v) + 1);
	return 1;
}

/* Content-Type of the body and Accept of the answer. */
static bool check_media(const struct check *c)
{
	struct hub_req *r = c->r;
	char *accept = c->hd->accept;

	if (r->has_body && r->body_len &&
	    strncasecmp(r->content_type, "application/x-www-form-urlencoded",
			33) == 0) {
		hub_reply_error(r, 400, "Invalid Content-Type",
				"Endpoint does not accept "
				"`application/x-www-form-urlencoded` content; "
				"currently supported media type is "
				"`application/json`; specify proper client-side "
				"media type with the \"Content-Type\" header.");
		return false;
	}
	if (hub_http__copy_hdr(c->wsi, WSI_TOKEN_HTTP_ACCEPT, accept,
			       sizeof(c->hd->accept)) < 0)
		accept[0] = '\0'; /* too long to matter */
	r->accept = accept;
	if (accept[0] && !hub_route_accepts(c->m->attrs, accept)) {
		hub_header(r, "Vary", "Accept");
		hub_reply(r, 406, NULL);
		return false;
	}
	return true;
}

/* Client-ID: required on /v1.1 and /v2, a UUID wherever it is sent. */
static bool check_client(const struct check *c)
{
	struct hub_req *r = c->r;
	char id[512];
	int n = copy_ident(c, "client-id:", "client_id", id, sizeof(id));

	if (n == 0 && c->m->client_id_required) {
		hub_reply_error(r, 400, "Missing header value",
				"The \"Client-ID\" header is required.");
		return false;
	}
	if (n != 0 && (n < 0 || hub_uuid_parse(id, r->client_id) != 0)) {
		hub_reply_error(r, 400, "Wrong UUID value",
				"Malformed hexadecimal UUID.");
		return false;
	}
	r->has_client_id = n != 0;
	return true;
}

/*
 * X-Project-ID, as read into hd->project (n: copy_ident's result). A
 * missing one means the default project on every version (Herald's
 * issue #3 says so; Zaqar refuses it on /v1.1 and /v2); an empty one is
 * refused, as Zaqar does.
 */
static bool check_project(const struct check *c, int n)
{
	const char *project = c->hd->project;

	if (n == 1 && project[0] == '\0') {
		hub_reply_error(c->r, 400, "Empty project header not allowed",
				"X-PROJECT-ID cannot be an empty string. "
				"Specify the right header X-PROJECT-ID and "
				"retry.");
		return false;
	}
	if (n < 0 || (n == 1 && !hub_project_ok(project))) {
		hub_route_refuse_name(c->r, c->m->topic);
		return false;
	}
	return true;
}

/* Idempotency-Key of a POST (the messages post reads it): one too long
 * to keep is refused there by its length. */
static void idempotency_key(struct hub_req *r, struct lws *wsi,
			    struct hub_http_heads *hd)
{
	int n;

	if (r->method != HUB_POST)
		return;
	n = hub_http__copy_custom(wsi, "idempotency-key:", hd->idempotency_key,
				  sizeof(hd->idempotency_key));
	if (n == 0)
		return;
	r->idempotency_key = hd->idempotency_key;
	r->idempotency_key_len = n == 1 ? strlen(hd->idempotency_key)
				       : sizeof(hd->idempotency_key);
}

/*
 * A pre-signed URL's values, when the request carries one: Zaqar's URL-*
 * headers, or - where the route takes ids in the query (feeds, live
 * streams: feed readers and browsers cannot send headers) - the same four
 * values as the query parameters signature, expires, methods and paths (a
 * Herald extension). Headers win when both are there. A URL-Signature
 * header that is sent counts even when empty or blank (hostile testing
 * #1): the auth layer refuses it then.
 */
static void read_signature(const struct check *c, struct hub_auth_cred *cr)
{
	static const char *const headers[4] = {"url-signature:", "url-expires:",
					       "url-methods:", "url-paths:"};
	static const char *const params[4] = {"signature", "expires",
					      "methods", "paths"};
	struct hub_http_heads *hd = c->hd;
	const char **out[4] = {&cr->signature, &cr->expires, &cr->methods,
			       &cr->paths};
	int n = hub_http__copy_custom(c->wsi, headers[0], hd->sig[0],
				      sizeof(hd->sig[0]));

	if (n != 0) {
		cr->has_signature = true;
		for (int i = 0; i < 4; i++) {
			if (i && hub_http__copy_custom(c->wsi, headers[i],
						       hd->sig[i],
						       sizeof(hd->sig[i])) != 1)
				continue;
			if (i == 0 && n != 1)
				hd->sig[0][0] = '\0'; /* unusable: no match */
			*out[i] = hd->sig[i];
		}
		return;
	}
	if (!c->m->attrs->ids_in_query || !hub_query(c->r, "signature"))
		return;
	cr->has_signature = true;
	for (int i = 0; i < 4; i++)
		*out[i] = hub_query(c->r, params[i]);
}

/* The token: "Authorization: Bearer T" or "X-Auth-Token: T" (the same
 * one if both). */
static void read_token(const struct check *c, struct hub_auth_cred *cr)
{
	struct hub_http_heads *hd = c->hd;
	int na = hub_http__copy_hdr(c->wsi, WSI_TOKEN_HTTP_AUTHORIZATION,
				    hd->authorization, sizeof(hd->authorization));
	int nx = hub_http__copy_hdr(c->wsi, WSI_TOKEN_X_AUTH_TOKEN, hd->token,
				    sizeof(hd->token));
	const char *bearer = hd->authorization;

	if (na < 0 || nx < 0) {
		cr->malformed = "The credentials are too long or hold control "
				"characters.";
		return;
	}
	if (na == 1) {
		if (strncasecmp(bearer, "Bearer ", 7) != 0) {
			cr->malformed = "Only \"Authorization: Bearer\" "
					"credentials are taken.";
			return;
		}
		bearer += 7 + strspn(bearer + 7, " ");
		if (nx == 1 && strcmp(bearer, hd->token)) {
			cr->malformed = "Authorization and X-Auth-Token name "
					"two different tokens.";
			return;
		}
		cr->token = bearer;
	} else if (nx == 1) {
		cr->token = hd->token;
	}
	if (cr->token && strpbrk(cr->token, " ,")) {
		/* lws joins repeated headers with ',': two tokens. */
		cr->malformed = "More than one token was sent.";
		cr->token = NULL;
	}
}

bool hub_http__checks(struct hub_req *r, struct lws *wsi,
		      const struct hub_route_match *m,
		      struct hub_http_heads *hd)
{
	const struct check c = {.r = r, .wsi = wsi, .m = m, .hd = hd};
	struct hub_auth_cred *cr = &hd->cred;
	int n_project;

	n_project = copy_ident(&c, "x-project-id:", "project_id", hd->project,
			       sizeof(hd->project));
	if (n_project == 1)
		r->project = hd->project;
	if (!check_media(&c) || !check_client(&c) ||
	    !check_project(&c, n_project))
		return false;
	memset(cr, 0, sizeof(*cr));
	cr->project = n_project == 1 ? hd->project : NULL;
	if (hub_http__copy_custom(wsi, "x-roles:", hd->roles,
				  sizeof(hd->roles)) == 1)
		cr->roles = hd->roles;
	read_signature(&c, cr);
	read_token(&c, cr);
	if (m->attrs->ids_in_query &&
	    hub_http__copy_custom(wsi, "last-event-id:", hd->last_event_id,
				  sizeof(hd->last_event_id)) < 0)
		hd->last_event_id[0] = '\0'; /* too long: no id of ours */
	idempotency_key(r, wsi, hd);
	return true;
}
