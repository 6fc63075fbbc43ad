/*
 * test_auth_jwt.c - the `jwt` strategy (hub/auth_jwt.c) end to end: keys
 * made at run time with the openssl command (RSA 2048, EC P-256, an
 * HS256 secret), served once as a JWKS (kid-selected) and once as a single
 * PEM key with a required issuer; tokens signed here with libjwt. Expiry
 * is moved with the injected clock. Refused: a bad signature, another
 * key's kid, HS256 made with the RSA public key as its secret (algorithm
 * confusion), alg none, no exp, the wrong issuer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jwt.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "harness.h"
#include "wsc.h"

#define CLIENT "Client-ID: " HH_CLIENT_A "\r\n"
/* The server's clock, in seconds: tokens' exp is from it. */
static const struct hh_server *clock_of;
#define NOW_S ((long long)(clock_of->now_ms / 1000))

static char dir[] = "/tmp/herald-jwt-XXXXXX";

static const char *path_of(const char *name)
{
	return hh_fmt("%s/%s", dir, name);
}

static char *slurp(const char *name, size_t *len)
{
	FILE *f = fopen(path_of(name), "rb");
	char *buf = calloc(1, 16384);
	size_t n = f && buf ? fread(buf, 1, 16383, f) : 0;

	if (f)
		fclose(f);
	if (!n)
		bail_out("cannot read %s", name);
	*len = n;
	return buf;
}

static void run(const char *cmd)
{
	if (system(hh_fmt("cd '%s' && ( %s ) >/dev/null 2>&1", dir, cmd)))
		bail_out("failed: %s", cmd);
}

static void b64url(const unsigned char *b, size_t n, char *out)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				"0123456789-_";
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)b[i] << 16 |
			     (i + 1 < n ? (unsigned)b[i + 1] << 8 : 0) |
			     (i + 2 < n ? b[i + 2] : 0);

		out[o++] = a[(v >> 18) & 63];
		out[o++] = a[(v >> 12) & 63];
		if (i + 1 < n)
			out[o++] = a[(v >> 6) & 63];
		if (i + 2 < n)
			out[o++] = a[v & 63];
	}
	out[o] = '\0';
}

/* A public key parameter as base64url (width: left-padded bytes, or 0). */
static const char *param(EVP_PKEY *pk, const char *name, int width)
{
	static char out[4][1024];
	static int next;
	unsigned char bin[600];
	BIGNUM *bn = NULL;
	int n;
	char *o = out[next++ % 4];

	if (!EVP_PKEY_get_bn_param(pk, name, &bn))
		bail_out("no %s", name);
	n = width ? BN_bn2binpad(bn, bin, width) : BN_bn2bin(bn, bin);
	BN_free(bn);
	b64url(bin, (size_t)n, o);
	return o;
}

static EVP_PKEY *read_pub(const char *name)
{
	FILE *f = fopen(path_of(name), "r");
	EVP_PKEY *pk = f ? PEM_read_PUBKEY(f, NULL, NULL, NULL) : NULL;

	if (f)
		fclose(f);
	if (!pk)
		bail_out("cannot read %s", name);
	return pk;
}

/* The keys, by the openssl command, and the JWKS of their public parts. */
static void make_keys(void)
{
	EVP_PKEY *rsa, *ec;
	char k[128], *secret;
	size_t len;
	FILE *f;

	if (!mkdtemp(dir))
		bail_out("mkdtemp");
	run("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 "
	    "-out rsa.pem && openssl pkey -in rsa.pem -pubout -out rsa_pub.pem");
	run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 "
	    "-out ec.pem && openssl pkey -in ec.pem -pubout -out ec_pub.pem");
	run("openssl rand -hex 32 | tr -d '\\n' > hs.secret");
	rsa = read_pub("rsa_pub.pem");
	ec = read_pub("ec_pub.pem");
	secret = slurp("hs.secret", &len);
	b64url((unsigned char *)secret, len, k);
	f = fopen(path_of("jwks.json"), "w");
	if (!f)
		bail_out("jwks.json");
	fprintf(f, "{\"keys\": [\n"
		" {\"kty\": \"RSA\", \"kid\": \"rs\", \"alg\": \"RS256\", "
		"\"use\": \"sig\", \"n\": \"%s\", \"e\": \"%s\"},\n"
		" {\"kty\": \"EC\", \"kid\": \"es\", \"crv\": \"P-256\", "
		"\"x\": \"%s\", \"y\": \"%s\"},\n"
		" {\"kty\": \"oct\", \"kid\": \"hs\", \"k\": \"%s\"},\n"
		" {\"kty\": \"OKP\", \"kid\": \"ed\", \"crv\": \"Ed25519\", "
		"\"x\": \"AAAA\"}\n]}\n",
		param(rsa, OSSL_PKEY_PARAM_RSA_N, 0),
		param(rsa, OSSL_PKEY_PARAM_RSA_E, 0),
		param(ec, OSSL_PKEY_PARAM_EC_PUB_X, 32),
		param(ec, OSSL_PKEY_PARAM_EC_PUB_Y, 32), k);
	fclose(f);
	free(secret);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ec);
}

/* A token: claims (JSON), signed with key file `keyfile` as alg, header
 * kid (NULL: none). Static buffer. */
static const char *sign(const char *claims, jwt_alg_t alg, const char *keyfile,
			const char *kid)
{
	static char out[4][4096];
	static int next;
	char *o = out[next++ % 4], *t;
	size_t len = 0;
	char *key = keyfile ? slurp(keyfile, &len) : NULL;
	jwt_t *j = NULL;

	if (jwt_new(&j) || jwt_add_grants_json(j, claims) ||
	    (kid && jwt_add_header(j, "kid", kid)) ||
	    jwt_set_alg(j, alg, (unsigned char *)key, (int)len))
		bail_out("cannot make a token of %s", claims);
	t = jwt_encode_str(j);
	if (!t)
		bail_out("cannot encode a token");
	snprintf(o, 4096, "%s", t);
	free(t);
	free(key);
	jwt_free(j);
	return o;
}

/* Claims for the shop project (a static buffer of its own: hh_fmt's
 * rotate). */
static const char *claims(const char *roles, long exp_in_s)
{
	static char out[4][512];
	static int next;
	char *o = out[next++ % 4];

	snprintf(o, 512, "{\"project\": \"shop\", \"roles\": %s, \"queues\": "
		 "[\"a-*\"], \"exp\": %lld, \"iss\": \"herald-test\"}",
		 roles, NOW_S + exp_in_s);
	return o;
}

static int get_queues(struct hh_client *c, struct hh_resp *r, const char *tok)
{
	return hh_callh(c, r, "GET", "/v2/queues",
			hh_fmt(CLIENT "Authorization: Bearer %s\r\n", tok), NULL);
}

static void each_algorithm(struct hh_client *c, struct hh_resp *r)
{
	const char *cl = claims("[\"read\", \"manage\"]", 3600);

	is(get_queues(c, r, sign(cl, JWT_ALG_HS256, "hs.secret", "hs")), 200,
	   "HS256 token (JWKS oct key): 200");
	is(get_queues(c, r, sign(cl, JWT_ALG_RS256, "rsa.pem", "rs")), 200,
	   "RS256 token (JWKS RSA key): 200");
	is(get_queues(c, r, sign(cl, JWT_ALG_ES256, "ec.pem", "es")), 200,
	   "ES256 token (JWKS EC P-256 key): 200");
	get_queues(c, r, sign(cl, JWT_ALG_RS256, "rsa.pem", "es"));
	expect_4xx(r, 401, "an RS256 token naming the EC key's kid");
	get_queues(c, r, sign(cl, JWT_ALG_HS256, "rsa_pub.pem", "rs"));
	expect_4xx(r, 401, "HS256 with the RSA public key as secret "
		   "(algorithm confusion)");
	get_queues(c, r, sign(cl, JWT_ALG_NONE, NULL, NULL));
	expect_4xx(r, 401, "alg none");
	get_queues(c, r, sign("{\"project\": \"shop\", \"roles\": \"read\"}",
			      JWT_ALG_HS256, "hs.secret", "hs"));
	expect_4xx(r, 401, "a token without exp");
	{
		char bad[4096];

		hh_copy(bad, sizeof(bad), sign(cl, JWT_ALG_RS256, "rsa.pem", "rs"));
		bad[strlen(bad) - 3] ^= 1; /* a flipped signature bit */
		get_queues(c, r, bad);
		expect_4xx(r, 401, "a damaged signature");
	}
}

static void claims_rights(struct hh_server *s, struct hh_client *c,
			  struct hh_resp *r)
{
	const char *mgr = sign(claims("\"manage, read\"", 600), JWT_ALG_ES256,
			       "ec.pem", "es");
	const char *rd = sign(claims("[\"read\"]", 600), JWT_ALG_RS256,
			      "rsa.pem", "rs");
	char keep[4096];

	hh_copy(keep, sizeof(keep), mgr);
	hh_callh(c, r, "PUT", "/v2/queues/a-1",
		 hh_fmt(CLIENT "X-Auth-Token: %s\r\n", keep), NULL);
	is(r->status, 201, "the claims' roles and queues: manage creates a-1");
	hh_callh(c, r, "PUT", "/v2/queues/b-1",
		 hh_fmt(CLIENT "X-Auth-Token: %s\r\n", keep), NULL);
	expect_4xx(r, 403, "a queue outside the claims' patterns");
	hh_callh(c, r, "DELETE", "/v2/queues/a-1",
		 hh_fmt(CLIENT "X-Auth-Token: %s\r\n", rd), NULL);
	expect_4xx(r, 403, "a read token cannot delete");
	hh_clock_advance(s, 600 * 1000);
	get_queues(c, r, keep);
	expect_4xx(r, 401, "at its exp (the injected clock) the token expired");
	ok(hh_gets(r->json, "description") &&
	   strstr(hh_gets(r->json, "description"), "expired"),
	   "and says so");
}

static void ws_expiry(struct hh_server *s)
{
	struct wsc w;
	json_t *f;
	const char *tok = sign(claims("[\"read\"]", 60), JWT_ALG_HS256,
			       "hs.secret", "hs");

	wsc_open(&w, s, "/v2/ws", "herald.v1");
	char head[1024];

	snprintf(head, sizeof(head), "{\"X-Auth-Token\": \"%s\"}", tok);
	f = act(&w, "authenticate", head, "{}");
	is(hh_geti(f, "headers.status"), 200, "WebSocket authenticate with a JWT");
	json_decref(f);
	f = act(&w, "queue_list", "{\"Client-ID\": \"" HH_CLIENT_A "\"}", "{}");
	is(hh_geti(f, "headers.status"), 200, "then it acts");
	json_decref(f);
	hh_clock_advance(s, 60 * 1000);
	f = act(&w, "queue_list", "{\"Client-ID\": \"" HH_CLIENT_A "\"}", "{}");
	is(hh_geti(f, "headers.status"), 401, "past exp its actions get 401");
	json_decref(f);
	wsc_close(&w);
}

int main(void)
{
	struct hh_server s, s2;
	struct hh_client c;
	struct hh_resp r = HH_RESP_INIT;
	char other[256];

	make_keys();
	clock_of = &s;
	hh_start(&s, (const char *[]){"--auth", "jwt", "--auth-jwt-jwks",
				      path_of("jwks.json"), NULL});
	hh_client_init(&c, &s, NULL, NULL);
	each_algorithm(&c, &r);
	claims_rights(&s, &c, &r);
	ws_expiry(&s);
	hh_client_close(&c);

	hh_start(&s2, (const char *[]){"--auth", "jwt", "--auth-jwt-key",
				       path_of("rsa_pub.pem"),
				       "--auth-jwt-issuer", "herald-test", NULL});
	clock_of = &s2;
	hh_client_init(&c, &s2, NULL, NULL);
	is(get_queues(&c, &r, sign(claims("[\"read\"]", 600), JWT_ALG_RS256,
				   "rsa.pem", NULL)),
	   200, "a PEM key file: an RS256 token without kid");
	snprintf(other, sizeof(other), "{\"project\": \"shop\", \"roles\": "
		 "\"read\", \"exp\": %lld, \"iss\": \"someone\"}", NOW_S + 600);
	get_queues(&c, &r, sign(other, JWT_ALG_RS256, "rsa.pem", NULL));
	expect_4xx(&r, 401, "another issuer than --auth-jwt-issuer");
	hh_client_close(&c);
	hh_resp_free(&r);
	hh_discard(&s2);
	if (system(hh_fmt("rm -rf '%s'", dir)))
		diag("could not remove %s", dir);
	return hh_finish(&s);
}
