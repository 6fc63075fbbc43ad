/*
 * etag.c - conditional GET: entity tags and If-None-Match (RFC 9110
 * §8.8.3, §13.1.2), for the v2 message listing and the Atom feed.
 *
 * A tag is a hash of what the answer depends on, taken by the handler as
 * it reads: never the answer's ages (they change every second while
 * nothing else does), always everything else - the request, the ids and
 * claim ids of the messages (an id stands for its body, which never
 * changes), the next marker, a gap. So a
 * poller that sends back the tag of its last answer gets a bodyless 304
 * until something it would see has changed.
 *
 *   hub_etag_init(&e);                  ... hub_etag_add*(&e, ...) ...
 *   hub_etag_format(&e, weak, tag);     "\"<16 hex>\"" or "W/\"...\""
 *   hub_header(r, "ETag", "%s", tag);
 *   if (hub_etag_matches(r, tag)) -> hub_reply(r, 304, NULL)
 *
 * The hash takes a 64-bit word a step (FNV-1a's xor and multiply, then
 * the high half folded into the low, so every bit reaches every later
 * one), and the tag is the state after a final avalanche (MurmurHash3's
 * fmix64). ETags guard against nothing but staleness, so a cryptographic
 * hash would buy nothing; 64 bits make a false "not modified" a 1-in-2^64
 * event. Every field goes in with its length first, so ("ab", "c") and
 * ("a", "bc") never collide by construction, and a field's last partial
 * word is padded with zeros. (It hashed a byte a step before: for a page
 * of 20 messages that was ~5 % of a GET's time.)
 */
#include <string.h>

#include "config.h"
#include "req.h"
#include "etag.h"

#define SEED 0xcbf29ce484222325ULL
#define PRIME 0x100000001b3ULL

void hub_etag_init(struct hub_etag *e)
{
	e->h = SEED;
	hub_etag_add_str(e, "herald " HUB_VERSION_STRING);
}

static void mix(struct hub_etag *e, uint64_t w)
{
	e->h = (e->h ^ w) * PRIME;
	e->h ^= e->h >> 32;
}

void hub_etag_add_u64(struct hub_etag *e, uint64_t v)
{
	mix(e, v);
}

void hub_etag_add(struct hub_etag *e, const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t w;

	mix(e, len);
	for (; len >= 8; p += 8, len -= 8) {
		memcpy(&w, p, 8);
		mix(e, w);
	}
	if (len) {
		w = 0;
		memcpy(&w, p, len);
		mix(e, w);
	}
}

void hub_etag_add_str(struct hub_etag *e, const char *s)
{
	if (!s) {
		/* Absent differs from empty. */
		hub_etag_add_u64(e, UINT64_MAX);
		return;
	}
	hub_etag_add(e, s, strlen(s));
}

void hub_etag_format(const struct hub_etag *e, bool weak,
		     char out[HUB_ETAG_MAX])
{
	uint64_t h = e->h;

	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	snprintf(out, HUB_ETAG_MAX, "%s\"%016llx\"", weak ? "W/" : "",
		 (unsigned long long)h);
}

/* The opaque part of an entity tag: what is between its quotes. */
static const char *opaque(const char *tag, size_t *len)
{
	const char *end;

	if (strncmp(tag, "W/", 2) == 0)
		tag += 2;
	if (*tag != '"')
		return NULL;
	end = strchr(tag + 1, '"');
	if (!end)
		return NULL;
	*len = (size_t)(end - tag - 1);
	return tag + 1;
}

/*
 * If-None-Match = "*" / #entity-tag, compared weakly (§13.1.2: W/ is
 * ignored on both sides). Anything that does not parse ends the list:
 * no match, so the client gets a full answer - never a wrong 304.
 */
bool hub_etag_matches(const struct hub_req *r, const char *tag)
{
	const char *s = r->if_none_match, *want, *got;
	size_t want_len, got_len;

	if (!s || !*s)
		return false;
	want = opaque(tag, &want_len);
	if (!want)
		return false;
	for (;;) {
		s += strspn(s, " \t,");
		if (!*s)
			return false;
		if (*s == '*')
			return true; /* a current representation exists */
		got = opaque(s, &got_len);
		if (!got)
			return false;
		if (got_len == want_len && memcmp(got, want, want_len) == 0)
			return true;
		s = got + got_len + 1;
	}
}
