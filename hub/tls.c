/*
 * tls.c - the server's certificate and key (tls.h).
 *
 * lws 4.1.6 loads a vhost's certificate once, at the vhost's creation,
 * and has no way to swap it cleanly later: lws_tls_cert_updated() loads
 * the files straight into the live SSL_CTX, reports no failure, and a bad
 * file leaves the context half changed. Worse, at creation lws skips
 * files that do not exist without a word and serves TLS with no
 * certificate at all. So lws is given no file names; the vhost is made
 * with LWS_SERVER_OPTION_CREATE_VHOST_SSL_CTX, and this file does the
 * loading (server.c hands it lws's SSL_CTX from the
 * LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS callback):
 *
 *   pair_load()   a scratch SSL_CTX reads the chain file and the key
 *                 file, checks that they match (and that the certificate
 *                 has not expired); the certificate, key and chain are
 *                 kept (references), the scratch context dropped
 *   cert_cb()     OpenSSL's certificate callback on lws's SSL_CTX, run
 *                 for every handshake after the ClientHello: the
 *                 connection's SSL gets the pair in use now (its old
 *                 slots cleared first, so a change of key type - RSA to
 *                 EC - cannot leave the old certificate selectable)
 *
 * A reload swaps `cur` only when pair_load() succeeded. An SSL that used
 * the old pair took its own references, so nothing it needs is freed
 * under it: connections stay up with the certificate they began with.
 *
 * Threads: every service loop (--loops) has a vhost of its own whose
 * SSL_CTX cert_cb serves from the one `cur`; OpenSSL calls cert_cb on
 * that loop's thread, inside lws's SSL_accept, and loop 0 reloads. So
 * `cur` is read under a read lock (SSL_use_cert_and_key takes the SSL's
 * own references within it) and swapped under the write lock; the old
 * pair is freed after, when no handshake can be using it.
 */
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "tls.h"

struct pair {
	X509 *cert;
	EVP_PKEY *key;
	STACK_OF(X509) *chain; /* the intermediates; may be NULL */
};

struct hub_tls {
	char cert_file[PATH_MAX];
	char key_file[PATH_MAX];
	pthread_rwlock_t lock; /* over cur */
	struct pair cur;
};

bool hub_tls_wanted(const struct hub_config *cfg)
{
	return cfg->tls_cert[0] && cfg->tls_key[0];
}

int hub_tls_check_config(const struct hub_config *cfg)
{
	if (!cfg->tls_cert[0] == !cfg->tls_key[0])
		return 0;
	fprintf(stderr, "herald: --tls-cert and --tls-key go together: %s "
		"was given without %s\n",
		cfg->tls_cert[0] ? "--tls-cert" : "--tls-key",
		cfg->tls_cert[0] ? "--tls-key" : "--tls-cert");
	return -1;
}

static void pair_free(struct pair *p)
{
	X509_free(p->cert);
	EVP_PKEY_free(p->key);
	sk_X509_pop_free(p->chain, X509_free);
	memset(p, 0, sizeof(*p));
}

/* OpenSSL's last error as text (and its queue emptied). */
static const char *ssl_error(void)
{
	static _Thread_local char text[256];
	unsigned long e = ERR_peek_last_error();

	if (e)
		ERR_error_string_n(e, text, sizeof(text));
	else
		snprintf(text, sizeof(text), "unknown error");
	ERR_clear_error();
	return text;
}

/* An encrypted key would make OpenSSL ask for its passphrase on the
 * terminal: refuse instead (the key must be readable as it is). */
static int no_passphrase(char *buf, int size, int rw, void *u)
{
	(void)buf;
	(void)size;
	(void)rw;
	(void)u;
	return 0;
}

/* The certificate's subject and end, for the log. */
static void describe(X509 *x, char *out, size_t n)
{
	char subject[256], until[64] = "?";
	BIO *b = BIO_new(BIO_s_mem());
	int len;

	X509_NAME_oneline(X509_get_subject_name(x), subject, sizeof(subject));
	if (b && ASN1_TIME_print(b, X509_get0_notAfter(x))) {
		len = BIO_read(b, until, sizeof(until) - 1);
		until[len > 0 ? len : 0] = '\0';
	}
	BIO_free(b);
	snprintf(out, n, "%s, valid until %s", subject, until);
}

/*
 * Reads the chain and the key into *p: 0, or -1 with why (n bytes) set.
 */
static int pair_load(const char *cert_file, const char *key_file,
		     struct pair *p, char *why, size_t n)
{
	SSL_CTX *c = SSL_CTX_new(TLS_server_method());
	STACK_OF(X509) *chain = NULL;
	EVP_PKEY *key = NULL;
	FILE *f;
	int rc = -1;

	memset(p, 0, sizeof(*p));
	if (!c) {
		snprintf(why, n, "%s", ssl_error());
		return -1;
	}
	SSL_CTX_set_default_passwd_cb(c, no_passphrase);
	if (SSL_CTX_use_certificate_chain_file(c, cert_file) != 1) {
		snprintf(why, n, "cannot load the certificate (chain) from "
			 "%s: %s", cert_file, ssl_error());
		goto out;
	}
	/* Read apart from the certificate, so that a key of another
	 * certificate is told from a file that holds none. */
	f = fopen(key_file, "r");
	if (f) {
		key = PEM_read_PrivateKey(f, NULL, no_passphrase, NULL);
		fclose(f);
	}
	if (!key) {
		snprintf(why, n, "cannot load the private key from %s (PEM, "
			 "not encrypted): %s", key_file,
			 f ? ssl_error() : strerror(errno));
		goto out;
	}
	if (SSL_CTX_use_PrivateKey(c, key) != 1 ||
	    SSL_CTX_check_private_key(c) != 1) {
		snprintf(why, n, "the key in %s does not belong to the "
			 "certificate in %s: %s", key_file, cert_file,
			 ssl_error());
		goto out;
	}
	p->cert = SSL_CTX_get0_certificate(c);
	p->key = SSL_CTX_get0_privatekey(c);
	if (X509_cmp_current_time(X509_get0_notAfter(p->cert)) < 0) {
		char what[400];

		describe(p->cert, what, sizeof(what));
		snprintf(why, n, "the certificate in %s has expired (%s)",
			 cert_file, what);
		memset(p, 0, sizeof(*p));
		goto out;
	}
	X509_up_ref(p->cert);
	EVP_PKEY_up_ref(p->key);
	if (SSL_CTX_get0_chain_certs(c, &chain) == 1 && chain)
		p->chain = X509_chain_up_ref(chain);
	rc = 0;
out:
	EVP_PKEY_free(key);
	SSL_CTX_free(c);
	return rc;
}

struct hub_tls *hub_tls_new(const struct hub_config *cfg)
{
	struct hub_tls *t = calloc(1, sizeof(*t));
	char why[1024], what[400];

	if (!t)
		return NULL;
	snprintf(t->cert_file, sizeof(t->cert_file), "%s", cfg->tls_cert);
	snprintf(t->key_file, sizeof(t->key_file), "%s", cfg->tls_key);
	if (pair_load(t->cert_file, t->key_file, &t->cur, why, sizeof(why))) {
		hub_log(HUB_LOG_ERROR, "TLS: %s", why);
		free(t);
		return NULL;
	}
	pthread_rwlock_init(&t->lock, NULL);
	describe(t->cur.cert, what, sizeof(what));
	hub_log(HUB_LOG_INFO, "TLS: certificate %s (%s)", t->cert_file, what);
	return t;
}

void hub_tls_free(struct hub_tls *t)
{
	if (!t)
		return;
	pair_free(&t->cur);
	pthread_rwlock_destroy(&t->lock);
	free(t);
}

/* Every handshake: the pair in use now (the top comment). 1 goes on,
 * 0 fails the handshake. */
static int cert_cb(SSL *s, void *arg)
{
	struct hub_tls *t = arg;
	int ok;

	SSL_certs_clear(s);
	pthread_rwlock_rdlock(&t->lock);
	ok = SSL_use_cert_and_key(s, t->cur.cert, t->cur.key, t->cur.chain,
				  1) == 1;
	pthread_rwlock_unlock(&t->lock);
	return ok;
}

int hub_tls_install(struct hub_tls *t, void *ssl_ctx)
{
	SSL_CTX *ctx = ssl_ctx;
	int ok;

	pthread_rwlock_rdlock(&t->lock);
	ok = ctx && SSL_CTX_use_cert_and_key(ctx, t->cur.cert, t->cur.key,
					     t->cur.chain, 1) == 1;
	pthread_rwlock_unlock(&t->lock);
	if (!ok) {
		hub_log(HUB_LOG_ERROR, "TLS: cannot give lws the certificate: "
			"%s", ctx ? ssl_error() : "lws made no SSL_CTX");
		return -1;
	}
	/* Nothing older than TLS 1.2 (Debian's OpenSSL agrees; say it
	 * here so the server does not depend on the system's policy). */
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_cert_cb(ctx, cert_cb, t);
	return 0;
}

int hub_tls_reload(struct hub_tls *t)
{
	struct pair p, old;
	char why[1024], what[400];

	if (pair_load(t->cert_file, t->key_file, &p, why, sizeof(why))) {
		hub_log(HUB_LOG_ERROR, "TLS: reload refused, the certificate "
			"in use is kept: %s", why);
		return -1;
	}
	describe(p.cert, what, sizeof(what));
	pthread_rwlock_wrlock(&t->lock);
	old = t->cur;
	t->cur = p;
	pthread_rwlock_unlock(&t->lock);
	pair_free(&old);
	hub_log(HUB_LOG_INFO, "TLS: reloaded %s (%s); new connections get it",
		t->cert_file, what);
	return 0;
}
