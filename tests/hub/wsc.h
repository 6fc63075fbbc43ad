/*
 * wsc.h - the end-to-end tests' WebSocket client (wsc.c): a minimal RFC
 * 6455 client on blocking sockets, able to send what a library would not.
 */
#ifndef HERALD_TEST_WSC_H
#define HERALD_TEST_WSC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "harness.h"

struct wsc {
	int fd;
	unsigned char *buf;
	size_t len, cap;
	int status; /* of the upgrade: 101 when it worked */
};

/* Opens `path` with the upgrade handshake; w->status says how it went. */
bool wsc_open(struct wsc *w, const struct hh_server *s, const char *path,
	      const char *subprotocol);
void wsc_close(struct wsc *w);
/* Sends one masked frame of `opcode`. */
void wsc_send_op(struct wsc *w, int opcode, const void *data, size_t len);
/* Sends one text frame. */
void wsc_send(struct wsc *w, const char *text);
/* The next text frame (malloc'd), answering pings; NULL on timeout,
 * close or error. */
char *wsc_recv_text(struct wsc *w, int timeout_ms);
/* The next text frame as JSON (new reference); NULL as above. */
json_t *wsc_recv(struct wsc *w, int timeout_ms);
/* Sends an action and returns its response frame (new reference). Frames
 * of subscriptions that arrive first are skipped. */
json_t *act(struct wsc *w, const char *action, const char *headers,
	    const char *body);

#endif /* HERALD_TEST_WSC_H */
