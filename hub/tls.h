/*
 * tls.h - the server's certificate and key (tls.c, docs/security.md#tls):
 * loaded from --tls-cert and --tls-key with OpenSSL, handed to the lws
 * vhost's SSL_CTX, and re-read on SIGHUP without dropping a connection.
 *
 *   start   hub_tls_new()      both files read and checked (the key
 *                              matches the certificate) or the server
 *                              does not start
 *   vhost   hub_tls_install()  lws's SSL_CTX gets the pair, and a
 *                              certificate callback that hands every new
 *                              handshake the pair loaded last
 *   SIGHUP  hub_tls_reload()   both files read again; only a good pair
 *                              replaces the one in use (a bad one is
 *                              logged and the old one kept)
 *
 * Connections already open keep the certificate they were made with
 * (their SSL holds its own reference); new handshakes get the new one.
 *
 * Loop thread only.
 */
#ifndef HERALD_HUB_TLS_H
#define HERALD_HUB_TLS_H

#include <stdbool.h>

#include "config.h"

struct hub_tls; /* tls.c */

/* Whether cfg asks for TLS (both files named). */
bool hub_tls_wanted(const struct hub_config *cfg);
/*
 * Checks cfg's TLS settings: both files or neither (-1 after printing
 * why when only one is named), 0 otherwise.
 */
int hub_tls_check_config(const struct hub_config *cfg);
/* Loads cfg's certificate chain and key. NULL after logging why. */
struct hub_tls *hub_tls_new(const struct hub_config *cfg);
void hub_tls_free(struct hub_tls *t);
/*
 * Gives the lws vhost's SSL_CTX (an OpenSSL SSL_CTX *, void here so this
 * header needs no OpenSSL) the pair, and the callback that serves
 * reloads. 0, or -1 after logging why.
 */
int hub_tls_install(struct hub_tls *t, void *ssl_ctx);
/*
 * Reads the files again: 0 when the new pair is in use for new
 * connections, -1 (logged) when it was refused and the old one is kept.
 */
int hub_tls_reload(struct hub_tls *t);

#endif /* HERALD_HUB_TLS_H */
