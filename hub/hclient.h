/*
 * hclient.h - one-shot HTTP requests out of the server, on its own loop:
 * what the core (auth_keystone.c) asks of the transport that makes them
 * (transport/hclient.c, on the lws context). The core knows no transport's
 * code: the server hands a struct hub_hclient in (server.c, main.c wires
 * it), as it does the webhook client.
 *
 *   caller                      hclient (transport)
 *   fills a hub_hclient_req --start--> connect, send, read
 *   keeps it alive          <--done--- status, one response header, body
 *                           --cancel-> (before done): done never runs
 *
 * A request is the caller's storage from start() until done() ran or it
 * called cancel(); hclient copies nothing out of it and writes only its
 * results. One request per connection (no keep-alive). Loop thread only.
 */
#ifndef HERALD_HUB_HCLIENT_H
#define HERALD_HUB_HCLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* Room for the one response header a request keeps (a Keystone token). */
#define HUB_HCLIENT_HEADER_MAX 1024

struct hub_hclient_req {
	/* In: where. `address` is a numeric address (the caller resolves
	 * names: lws 4.1.6 would block the loop in getaddrinfo); `host` is
	 * the Host header and, with tls, the certificate's name. */
	bool tls;
	const char *address;
	int port;
	const char *host;
	/* In: what. path with its query; headers as "name:\0value\0" pairs,
	 * lower-case names with the colon, ending in "\0" (NULL: none);
	 * body sent with Content-Length when not NULL. */
	const char *method;
	const char *path;
	const char *headers;
	const char *body;
	size_t body_len;
	/* In: the response header to keep ("x-subject-token:", or NULL),
	 * the most body bytes kept (more: the request fails), and the
	 * seconds the whole request may take. */
	const char *keep_header;
	size_t body_max;
	unsigned timeout_s;
	/* In: called once on the loop thread with the results below. */
	void (*done)(struct hub_hclient_req *q);
	/* Out: the response's status, 0 when there is none (no
	 * connection, timeout, a broken or oversized response: why says
	 * which, static text); the kept header ("" when absent); the body
	 * (freed by hclient after done() returns, even when done()
	 * freed or restarted q: copy what is to be kept). */
	int status;
	const char *why;
	char header[HUB_HCLIENT_HEADER_MAX];
	struct hub_buf body_in;
	/* hclient's, while the request runs. */
	void *priv;
};

/* The client the server hands to whoever needs one. */
struct hub_hclient {
	/* Starts q: 0, or -1 when it cannot start (then done() never
	 * runs). */
	int (*start)(void *arg, struct hub_hclient_req *q);
	/* Ends q before its done() (which then never runs). */
	void (*cancel)(void *arg, struct hub_hclient_req *q);
	void *arg;
};

#endif /* HERALD_HUB_HCLIENT_H */
