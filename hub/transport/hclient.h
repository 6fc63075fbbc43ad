/*
 * transport/hclient.h - the lws side of hclient.h: the client protocol
 * (on the server's vhost) and the struct hub_hclient functions, whose arg
 * is the struct hub_server.
 */
#ifndef HERALD_HUB_TRANSPORT_HCLIENT_H
#define HERALD_HUB_TRANSPORT_HCLIENT_H

#include <libwebsockets.h>

#include "hclient.h"

extern const struct lws_protocols hub_hclient_protocol;

int hub_hclient_start(void *srv, struct hub_hclient_req *q);
void hub_hclient_cancel(void *srv, struct hub_hclient_req *q);

#endif /* HERALD_HUB_TRANSPORT_HCLIENT_H */
