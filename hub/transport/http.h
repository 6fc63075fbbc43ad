/*
 * http.h - the HTTP transport on lws (http.c).
 */
#ifndef HERALD_HUB_TRANSPORT_HTTP_H
#define HERALD_HUB_TRANSPORT_HTTP_H

#include <libwebsockets.h>

struct hub_server;

extern const struct lws_protocols hub_http_protocol;

/* Ends every long-poll wait now: each held request answers (shutdown). */
void hub_http_release_holds(struct hub_server *srv);

#endif /* HERALD_HUB_TRANSPORT_HTTP_H */
