/*
 * http.h - the HTTP transport on lws (http.c).
 */
#ifndef HERALD_HUB_TRANSPORT_HTTP_H
#define HERALD_HUB_TRANSPORT_HTTP_H

#include <libwebsockets.h>

/* The HTTP transport: every URL of the vhost. It answers the server's
 * HUB_CALLBACK_DRAIN by ending every long-poll wait at once. */
extern const struct lws_protocols hub_http_protocol;
/* What the HTTP parser of lws gives up on (an unknown method, bytes that
 * are no request): answered 501 or 400 with a JSON body, then closed
 * (http_fallback.c). The vhost's "raw" protocol. */
extern const struct lws_protocols hub_http_fallback_protocol;

#endif /* HERALD_HUB_TRANSPORT_HTTP_H */
