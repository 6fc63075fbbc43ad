/*
 * route.h - the route table: method + path -> handler (route.c), and the
 * API's name rules.
 */
#ifndef HERALD_HUB_ROUTE_H
#define HERALD_HUB_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#include "req.h"

/* --------------------------------------------------------------- routes */

/* The API's rule for queue names: ^[a-zA-Z0-9_.-]+$, 1..64 characters. */
bool hub_queue_name_ok(const char *s, size_t len);
/* A project id: at most FEED_PROJECT_MAX bytes, no control characters
 * (which a query parameter or a WebSocket frame could carry). */
bool hub_project_ok(const char *s);

/* Dispatches r (after the pre-routing checks) to its handler, or replies
 * 404 / 405 / OPTIONS. route.c. */
void hub_route(struct hub_req *r);

#endif /* HERALD_HUB_ROUTE_H */
