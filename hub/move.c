/*
 * move.c - the freeze of a moving shard's writes (move.h).
 *
 * One bit per shard, set and read atomically: the loop threads test it
 * at routing, the writer thread before each job of a frozen shard's
 * queue. The freeze endpoint (api/shards.c) sets the bit before it hands
 * its barrier to the writer, so every job the writer takes after the
 * barrier sees it: writer.c answers those with the same 503, never runs
 * them, and the barrier's reply means nothing of the shard will commit.
 */
#include <jansson.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "move.h"
#include "reply.h"
#include "req.h"

static _Atomic uint64_t frozen[HUB_SHARDS / 64];
static atomic_uint n_frozen;

bool hub_move_freeze(unsigned s, bool on)
{
	uint64_t bit = UINT64_C(1) << (s % 64), was;

	if (s >= HUB_SHARDS)
		return false;
	if (on)
		was = atomic_fetch_or(&frozen[s / 64], bit);
	else
		was = atomic_fetch_and(&frozen[s / 64], ~bit);
	if (on && !(was & bit))
		atomic_fetch_add(&n_frozen, 1);
	else if (!on && (was & bit))
		atomic_fetch_sub(&n_frozen, 1);
	return (was & bit) != 0;
}

bool hub_move_frozen(unsigned s)
{
	return s < HUB_SHARDS &&
	       (atomic_load(&frozen[s / 64]) & UINT64_C(1) << (s % 64));
}

bool hub_move_any(void)
{
	return atomic_load(&n_frozen) != 0;
}

void hub_move_refuse(struct hub_req *r, unsigned s)
{
	char desc[256];

	snprintf(desc, sizeof(desc), "Shard %u is moving to another node: "
		 "writes to its queues are refused for the moment of the "
		 "move. Retry the request in a second.", s);
	hub_header(r, "Retry-After", "1");
	hub_header(r, "Herald-Shard", "%u", s);
	hub_reply(r, 503, json_pack("{s:s, s:s, s:I, s:b}", "title",
				    "Service Unavailable", "description", desc,
				    "shard", (json_int_t)s, "moving", 1));
}

bool hub_move_route(struct hub_req *r, const char *name)
{
	if (r->method == HUB_GET || r->method == HUB_HEAD ||
	    r->method == HUB_OPTIONS)
		return true;
	return hub_move_route_also(r, name);
}

bool hub_move_route_also(struct hub_req *r, const char *name)
{
	unsigned s;

	if (!hub_move_any())
		return true;
	s = hub_cluster_shard(name, strlen(name));
	if (!hub_move_frozen(s))
		return true;
	hub_move_refuse(r, s);
	return false;
}

/* --------------------------------------------------------------- base64 */

/* OpenSSL's base64 (EVP_EncodeBlock / EVP_DecodeBlock), whose lengths
 * are ints: blobs stay far below that (HUB_BODY_SHARD_MAX). */
char *hub_b64_encode(const void *data, size_t len)
{
	char *out;

	if (len > (size_t)INT_MAX / 4 * 3 - 3)
		return NULL;
	out = malloc((len + 2) / 3 * 4 + 1);
	if (out)
		EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	return out;
}

void *hub_b64_decode(const char *s, size_t slen, size_t *len)
{
	size_t pad = 0;
	uint8_t *out;
	int n;

	*len = 0;
	if (slen % 4 || slen > (size_t)INT_MAX)
		return NULL;
	/* DecodeBlock counts the padding as bytes: taken off below. */
	while (pad < 2 && pad < slen && s[slen - 1 - pad] == '=')
		pad++;
	if (!(out = malloc(slen / 4 * 3 + 1)))
		return NULL;
	n = EVP_DecodeBlock(out, (const unsigned char *)s, (int)slen);
	if (n < 0 || (size_t)n < pad) {
		free(out);
		return NULL;
	}
	*len = (size_t)n - pad;
	return out;
}
