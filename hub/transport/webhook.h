/*
 * webhook.h - the webhook transport (webhook.c): the lws client that
 * makes the webhook deliverer's POSTs (live/hooks.h).
 */
#ifndef HERALD_HUB_TRANSPORT_WEBHOOK_H
#define HERALD_HUB_TRANSPORT_WEBHOOK_H

#include <libwebsockets.h>

#include "live/hooks.h"

/* The client protocol; its state lives on the vhost it is given to. */
extern const struct lws_protocols hub_webhook_protocol;

/* The deliverer's post (struct hub_hooks_transport): arg is the vhost
 * the protocol runs on. */
int hub_webhook_post(void *arg, const struct hub_hook_post *p);

#endif /* HERALD_HUB_TRANSPORT_WEBHOOK_H */
