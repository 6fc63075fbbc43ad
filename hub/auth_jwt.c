/*
 * auth_jwt.c - the `jwt` strategy (auth.h): bearer JSON Web Tokens signed
 * HS256, RS256 or ES256, checked with libjwt (1.10, Debian's libjwt-dev)
 * against the operator's keys (docs/security.md).
 *
 * Keys come from --auth-jwt-key (one PEM public key: RSA -> RS256, EC
 * P-256 -> ES256; any other file is an HS256 secret, its trailing newline
 * dropped, at least 32 bytes) and/or --auth-jwt-jwks (a JWK Set: "RSA",
 * "EC" P-256 and "oct" keys; libjwt 1.10 reads no JWKS, so the public
 * keys are rebuilt with OpenSSL and handed to libjwt as PEM).
 *
 * A token is checked in this order:
 *
 *   header    its "alg" must be HS256, RS256 or ES256 - and the key's:
 *             the key is picked by "kid" (or, without one, the first key
 *             of that algorithm) BEFORE anything is verified, so a token
 *             cannot choose to be checked as HS256 with an RSA key's PEM
 *             as the secret (the classic algorithm confusion), nor "none"
 *   signature jwt_decode() with that key; jwt_get_alg() must agree
 *   claims    "exp" required (seconds; expired at or after it, on the
 *             hub's clock, which tests move), "nbf" if present, "iss" and
 *             "aud" when configured; "project" (or "project_id"), "roles"
 *             (an array or a comma-separated string) and "queues" (an
 *             array of glob patterns; absent: every queue)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "auth.h"
#include "log.h"

#define HS256_MIN_SECRET 32

struct jkey {
	char kid[128];         /* "" when the key has none */
	jwt_alg_t alg;
	unsigned char *key;    /* PEM text, or the HMAC secret */
	size_t len;
};

struct jwt_state {
	struct jkey *v;
	size_t n;
	char issuer[256], audience[256];
};

/* ---------------------------------------------------------- base64url */

/* Decodes base64url (no padding needed) into a new buffer; NULL if bad. */
static unsigned char *b64url_decode(const char *s, size_t len, size_t *out_len)
{
	size_t padded = (len + 3) / 4 * 4;
	char *tmp = malloc(padded + 1);
	unsigned char *out = malloc(padded / 4 * 3 + 1);
	int n;

	if (!tmp || !out)
		goto fail;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c == '-')
			c = '+';
		else if (c == '_')
			c = '/';
		else if (c == '=' || c == '+' || c == '/')
			goto fail; /* base64url has no padding, no + or / */
		tmp[i] = c;
	}
	for (size_t i = len; i < padded; i++)
		tmp[i] = '=';
	tmp[padded] = '\0';
	n = padded ? EVP_DecodeBlock(out, (unsigned char *)tmp, (int)padded)
		   : 0;
	if (n < 0)
		goto fail;
	*out_len = (size_t)n - (padded - len); /* drop the padding's zeros */
	out[*out_len] = '\0';
	free(tmp);
	return out;
fail:
	free(tmp);
	free(out);
	return NULL;
}

/* ------------------------------------------------------------- keys */

static int key_add(struct jwt_state *st, const char *kid, jwt_alg_t alg,
		   const void *key, size_t len)
{
	struct jkey *v = realloc(st->v, (st->n + 1) * sizeof(*v));

	if (!v)
		return -1;
	st->v = v;
	v += st->n;
	memset(v, 0, sizeof(*v));
	snprintf(v->kid, sizeof(v->kid), "%s", kid ? kid : "");
	v->alg = alg;
	v->key = malloc(len + 1);
	if (!v->key)
		return -1;
	memcpy(v->key, key, len);
	v->key[len] = '\0';
	v->len = len;
	st->n++;
	return 0;
}

/* The algorithm a public key is for: RS256 (RSA), ES256 (EC P-256). */
static jwt_alg_t pkey_alg(EVP_PKEY *pk)
{
	char group[64] = "";

	if (EVP_PKEY_is_a(pk, "RSA"))
		return JWT_ALG_RS256;
	if (EVP_PKEY_is_a(pk, "EC") &&
	    EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME,
					   group, sizeof(group), NULL) &&
	    strcmp(group, "prime256v1") == 0)
		return JWT_ALG_ES256;
	return JWT_ALG_INVAL;
}

/* A key's PEM (SubjectPublicKeyInfo), as libjwt reads it. */
static int key_add_pkey(struct jwt_state *st, const char *kid, EVP_PKEY *pk)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *pem;
	long len;
	int rc = -1;
	jwt_alg_t alg = pkey_alg(pk);

	if (bio && alg != JWT_ALG_INVAL && PEM_write_bio_PUBKEY(bio, pk)) {
		len = BIO_get_mem_data(bio, &pem);
		rc = len > 0 ? key_add(st, kid, alg, pem, (size_t)len) : -1;
	}
	BIO_free(bio);
	return rc;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    n < (1 << 20) && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		}
		if (buf) {
			buf[n] = '\0';
			*len = (size_t)n;
		}
	}
	fclose(f);
	return buf;
}

/* --auth-jwt-key: a PEM public key, or an HS256 secret. */
static int load_key_file(struct jwt_state *st, const char *path)
{
	size_t len = 0;
	char *text = read_file(path, &len);
	int rc = -1;

	if (!text) {
		hub_log(HUB_LOG_ERROR, "auth: cannot read the JWT key %s: %s",
			path, strerror(errno ? errno : EINVAL));
		return -1;
	}
	if (strstr(text, "-----BEGIN")) {
		BIO *bio = BIO_new_mem_buf(text, (int)len);
		EVP_PKEY *pk = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL)
				   : NULL;

		rc = pk ? key_add_pkey(st, NULL, pk) : -1;
		if (rc)
			hub_log(HUB_LOG_ERROR, "auth: %s: not an RSA or EC "
				"P-256 public key (\"-----BEGIN PUBLIC KEY\")",
				path);
		EVP_PKEY_free(pk);
		BIO_free(bio);
	} else {
		while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
			len--;
		if (len < HS256_MIN_SECRET)
			hub_log(HUB_LOG_ERROR, "auth: %s: an HS256 secret needs "
				"at least %d bytes", path, HS256_MIN_SECRET);
		else
			rc = key_add(st, NULL, JWT_ALG_HS256, text, len);
	}
	free(text);
	return rc;
}

/* A JWK member, base64url-decoded into a BIGNUM. */
static BIGNUM *jwk_bn(json_t *jwk, const char *name)
{
	const char *s = json_string_value(json_object_get(jwk, name));
	size_t len = 0;
	unsigned char *b = s ? b64url_decode(s, strlen(s), &len) : NULL;
	BIGNUM *bn = b && len ? BN_bin2bn(b, (int)len, NULL) : NULL;

	free(b);
	return bn;
}

/* A public key from its JWK parameters (RSA n, e; EC P-256 x, y). */
static EVP_PKEY *jwk_pkey(json_t *jwk, bool rsa)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	BIGNUM *a = jwk_bn(jwk, rsa ? "n" : "x"), *b = jwk_bn(jwk, rsa ? "e" : "y");
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, rsa ? "RSA" : "EC",
						       NULL);
	OSSL_PARAM *params = NULL;
	EVP_PKEY *pk = NULL;
	unsigned char pub[65];
	bool ok = bld && a && b && ctx;

	if (ok && rsa) {
		ok = OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, a) &&
		     OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, b);
	} else if (ok) {
		/* An uncompressed point: 04 || x || y, 32 bytes each. */
		pub[0] = 4;
		ok = BN_bn2binpad(a, pub + 1, 32) == 32 &&
		     BN_bn2binpad(b, pub + 33, 32) == 32 &&
		     OSSL_PARAM_BLD_push_utf8_string(
			     bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) &&
		     OSSL_PARAM_BLD_push_octet_string(
			     bld, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub));
	}
	if (ok)
		params = OSSL_PARAM_BLD_to_param(bld);
	if (!params || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		pk = NULL;
	OSSL_PARAM_free(params);
	EVP_PKEY_CTX_free(ctx);
	BN_free(a);
	BN_free(b);
	OSSL_PARAM_BLD_free(bld);
	return pk;
}

/* One JWK of the set; 0 when taken or skipped (logged), -1: no memory. */
static int load_jwk(struct jwt_state *st, json_t *jwk, size_t i)
{
	const char *kty = json_string_value(json_object_get(jwk, "kty"));
	const char *kid = json_string_value(json_object_get(jwk, "kid"));
	const char *alg = json_string_value(json_object_get(jwk, "alg"));
	const char *use = json_string_value(json_object_get(jwk, "use"));
	const char *want = !kty ? NULL : !strcmp(kty, "RSA") ? "RS256"
			   : !strcmp(kty, "EC") ? "ES256"
			   : !strcmp(kty, "oct") ? "HS256" : NULL;
	EVP_PKEY *pk;
	int rc;

	if (!want || (alg && strcmp(alg, want)) || (use && strcmp(use, "sig"))) {
		hub_log(HUB_LOG_WARN, "auth: JWKS key %zu (kid %s) skipped: "
			"only RSA/RS256, EC/ES256 and oct/HS256 signing keys "
			"are used", i, kid ? kid : "none");
		return 0;
	}
	if (!strcmp(kty, "oct")) {
		const char *k = json_string_value(json_object_get(jwk, "k"));
		size_t len = 0;
		unsigned char *secret = k ? b64url_decode(k, strlen(k), &len)
					  : NULL;

		rc = secret && len >= HS256_MIN_SECRET
			     ? key_add(st, kid, JWT_ALG_HS256, secret, len)
			     : 1;
		free(secret);
	} else {
		pk = jwk_pkey(jwk, !strcmp(kty, "RSA"));
		rc = pk ? key_add_pkey(st, kid, pk) : 1;
		EVP_PKEY_free(pk);
	}
	if (rc > 0)
		hub_log(HUB_LOG_WARN, "auth: JWKS key %zu (kid %s) skipped: "
			"its parameters do not make a usable key", i,
			kid ? kid : "none");
	return rc < 0 ? -1 : 0;
}

static int load_jwks(struct jwt_state *st, const char *path)
{
	json_error_t err;
	json_t *doc = json_load_file(path, 0, &err), *keys, *jwk;
	size_t i;
	int rc = 0;

	keys = json_object_get(doc, "keys");
	if (!json_is_array(keys)) {
		hub_log(HUB_LOG_ERROR, "auth: %s is no JWK Set (an object with "
			"\"keys\"): %s", path, doc ? "no \"keys\" array"
						   : err.text);
		json_decref(doc);
		return -1;
	}
	json_array_foreach(keys, i, jwk)
		if (rc == 0)
			rc = load_jwk(st, jwk, i);
	json_decref(doc);
	return rc;
}

static void jwt_state_free(void *state)
{
	struct jwt_state *st = state;

	for (size_t i = 0; st && i < st->n; i++)
		free(st->v[i].key);
	if (st)
		free(st->v);
	free(st);
}

static int jwt_load(const struct hub_config *cfg, void **state)
{
	struct jwt_state *st = calloc(1, sizeof(*st));
	int rc = st ? 0 : -1;

	if (rc == 0 && !cfg->auth_jwt_key[0] && !cfg->auth_jwt_jwks[0]) {
		hub_log(HUB_LOG_ERROR, "auth: --auth jwt needs --auth-jwt-key "
			"FILE or --auth-jwt-jwks FILE (docs/security.md)");
		rc = -1;
	}
	if (rc == 0 && cfg->auth_jwt_key[0])
		rc = load_key_file(st, cfg->auth_jwt_key);
	if (rc == 0 && cfg->auth_jwt_jwks[0])
		rc = load_jwks(st, cfg->auth_jwt_jwks);
	if (rc == 0 && st->n == 0) {
		hub_log(HUB_LOG_ERROR, "auth: no usable JWT key");
		rc = -1;
	}
	if (rc) {
		jwt_state_free(st);
		return -1;
	}
	snprintf(st->issuer, sizeof(st->issuer), "%s", cfg->auth_jwt_issuer);
	snprintf(st->audience, sizeof(st->audience), "%s",
		 cfg->auth_jwt_audience);
	hub_log(HUB_LOG_INFO, "auth: %zu JWT key(s)", st->n);
	*state = st;
	return 0;
}

/* ------------------------------------------------------------ checking */

/* The key a token's header asks for, or NULL (*why says). */
static const struct jkey *pick_key(const struct jwt_state *st,
				   const char *token, const char **why)
{
	const char *dot = strchr(token, '.');
	size_t len = 0;
	unsigned char *text = dot ? b64url_decode(token, (size_t)(dot - token),
						  &len)
				  : NULL;
	json_t *head = text ? json_loadb((char *)text, len, 0, NULL) : NULL;
	const char *alg = json_string_value(json_object_get(head, "alg"));
	const char *kid = json_string_value(json_object_get(head, "kid"));
	jwt_alg_t a = alg ? jwt_str_alg(alg) : JWT_ALG_INVAL;
	const struct jkey *k = NULL;

	bool alg_ok = a == JWT_ALG_HS256 || a == JWT_ALG_RS256 ||
		      a == JWT_ALG_ES256;

	*why = !head ? "The token is not a JWT."
	       : !alg_ok ? "The token's algorithm is not HS256, RS256 or ES256."
			 : "No key for the token's \"kid\" and \"alg\".";
	for (size_t i = 0; head && alg_ok && i < st->n && !k; i++)
		if (st->v[i].alg == a && (!kid || !strcmp(kid, st->v[i].kid)))
			k = &st->v[i];
	json_decref(head);
	free(text);
	return k;
}

/* Whether "aud" (a string or an array of them) holds want. */
static bool aud_has(json_t *aud, const char *want)
{
	json_t *v;
	size_t i;

	if (json_is_string(aud))
		return !strcmp(json_string_value(aud), want);
	json_array_foreach(aud, i, v)
		if (json_is_string(v) && !strcmp(json_string_value(v), want))
			return true;
	return false;
}

/* "roles" and "queues" into id; false with *why. */
static bool claims_rights(json_t *c, struct hub_ident *id, const char **why)
{
	json_t *roles = json_object_get(c, "roles"), *queues, *v;
	const char *bad;
	size_t bad_len, i;
	unsigned bits;

	*why = "The token's \"roles\" are not a list of known roles.";
	if (json_is_string(roles)) {
		if (!hub_auth_roles_parse(json_string_value(roles), &id->roles,
					  &bad, &bad_len))
			return false;
	} else if (json_is_array(roles)) {
		json_array_foreach(roles, i, v) {
			if (!json_is_string(v) ||
			    !hub_auth_roles_parse(json_string_value(v), &bits,
						  &bad, &bad_len))
				return false;
			id->roles |= bits;
		}
	}
	if (!id->roles) {
		*why = "The token grants no roles.";
		return false;
	}
	queues = json_object_get(c, "queues");
	*why = "The token's \"queues\" are not a list of patterns.";
	if (queues && !json_is_array(queues))
		return false;
	json_array_foreach(queues, i, v)
		if (!json_is_string(v) ||
		    !hub_ident_add_queue(id, json_string_value(v),
					 json_string_length(v)))
			return false;
	return true;
}

/* The claims of a verified token into id; false with *why. */
static bool claims_read(const struct jwt_state *st, json_t *c,
			uint64_t now_ms, struct hub_ident *id, const char **why)
{
	json_t *exp = json_object_get(c, "exp"), *nbf = json_object_get(c, "nbf");
	json_t *project = json_object_get(c, "project");
	const char *iss = json_string_value(json_object_get(c, "iss"));

	if (!project)
		project = json_object_get(c, "project_id");
	*why = "The token has no \"exp\".";
	if (!json_is_number(exp))
		return false;
	*why = "The token expired.";
	if (json_number_value(exp) <= 0 ||
	    (double)now_ms >= json_number_value(exp) * 1000.0)
		return false;
	*why = "The token is not valid yet (\"nbf\").";
	if (nbf && (!json_is_number(nbf) ||
		    (double)now_ms < json_number_value(nbf) * 1000.0))
		return false;
	*why = "The token's issuer is not the expected one.";
	if (st->issuer[0] && (!iss || strcmp(iss, st->issuer)))
		return false;
	*why = "The token is not meant for this audience.";
	if (st->audience[0] && !aud_has(json_object_get(c, "aud"), st->audience))
		return false;
	*why = "The token names no valid \"project\".";
	if (!json_is_string(project) ||
	    json_string_length(project) > FEED_PROJECT_MAX ||
	    !json_string_length(project))
		return false;
	if (!strcmp(json_string_value(project), "*"))
		id->any_project = true;
	else
		snprintf(id->project, sizeof(id->project), "%s",
			 json_string_value(project));
	id->expires_ms = (uint64_t)(json_number_value(exp) * 1000.0);
	return claims_rights(c, id, why);
}

static enum hub_auth_verdict jwt_verify(void *state, const char *token,
					uint64_t now_ms, struct hub_ident *id,
					const char **why,
					struct hub_auth_wait *w)
{
	const struct jwt_state *st = state;
	const struct jkey *k = pick_key(st, token, why);
	jwt_t *jwt = NULL;
	char *grants;
	json_t *claims;
	bool ok;

	(void)w;
	if (!k)
		return HUB_AUTH_REFUSED;
	if (jwt_decode(&jwt, token, k->key, (int)k->len) || !jwt ||
	    jwt_get_alg(jwt) != k->alg) {
		jwt_free(jwt);
		*why = "The token's signature is not valid.";
		return HUB_AUTH_REFUSED;
	}
	grants = jwt_get_grants_json(jwt, NULL);
	claims = grants ? json_loads(grants, 0, NULL) : NULL;
	ok = json_is_object(claims) && claims_read(st, claims, now_ms, id, why);
	if (!claims)
		*why = "The token's claims cannot be read.";
	json_decref(claims);
	free(grants);
	jwt_free(jwt);
	return ok ? HUB_AUTH_OK : HUB_AUTH_REFUSED;
}

const struct hub_auth_strategy hub_auth_jwt = {
	.name = "jwt",
	.load = jwt_load,
	.free = jwt_state_free,
	.verify = jwt_verify,
	.cancel = NULL,
};
