/*
 * transport/nats.h - the lws side of bus.h (bus.c): NATS core over a raw
 * client connection, one per service loop, and the loop's remote readers
 * (remote.h) that its news wakes.
 */
#ifndef HERALD_HUB_TRANSPORT_NATS_H
#define HERALD_HUB_TRANSPORT_NATS_H

#include <libwebsockets.h>

struct hub_server;

/* The client protocol, on every loop's vhost. */
extern const struct lws_protocols hub_bus_protocol;

/* With --cluster-bus: fills srv->bus and srv->remotes and starts
 * connecting (after srv's registry exists). 0, or -1 after logging why.
 * Without it: 0, and the server stays without a bus. */
int hub_bus_start(struct hub_server *srv);
/* After srv's context is destroyed (its connections closed). */
void hub_bus_end(struct hub_server *srv);

#endif /* HERALD_HUB_TRANSPORT_NATS_H */
