/*
 * key.c - the text forms of ids, and building result sets.
 *
 * Message id / marker: 24 lowercase hex characters,
 *
 *     +------------------+----------------------------+
 *     | generation       | sequence number            |
 *     | 40 bits, 10 hex  | 56 bits, 14 hex            |
 *     +------------------+----------------------------+
 *
 * so ids sort like the log within a queue and a marker of a deleted
 * generation is told apart from one of the current queue. Claim ids are
 * random UUIDs from libuuid in canonical text form.
 *
 * Result sets (feed_msgs_t) are two allocations: the array of feed_msg_t
 * and one arena holding every body, so freeing is two calls however many
 * messages a read returned.
 */
#include <stdlib.h>
#include <uuid/uuid.h>

#include "feed_internal.h"

static const char hex[] = "0123456789abcdef";

static void hex_put(char *out, uint64_t v, int digits)
{
	for (int i = digits - 1; i >= 0; i--) {
		out[i] = hex[v & 15];
		v >>= 4;
	}
}

void feed__id_format(char out[FEED_ID_LEN + 1], uint64_t gen, uint64_t seq)
{
	hex_put(out, gen, 10);
	hex_put(out + 10, seq, 14);
	out[FEED_ID_LEN] = '\0';
}

static int hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int feed_id_parse(const char *id, uint64_t *generation, uint64_t *seq)
{
	uint64_t v[2] = {0, 0};

	if (!id)
		return FEED_EBADID;
	for (int i = 0; i < FEED_ID_LEN; i++) {
		int d = hex_val(id[i]);

		if (d < 0)
			return FEED_EBADID;
		v[i >= 10] = v[i >= 10] << 4 | (uint64_t)d;
	}
	if (id[FEED_ID_LEN] != '\0' || v[0] == 0)
		return FEED_EBADID;
	if (generation)
		*generation = v[0];
	if (seq)
		*seq = v[1];
	return 0;
}

int feed_marker_before(const char *id, char out[FEED_ID_LEN + 1])
{
	uint64_t gen, seq;
	int rc = feed_id_parse(id, &gen, &seq);

	if (rc)
		return rc;
	if (seq == 0)
		return FEED_EBADID; /* a marker, not a message */
	feed__id_format(out, gen, seq - 1);
	return 0;
}

void feed__claim_id_format(char out[FEED_CLAIM_ID_LEN + 1],
			   const uint8_t id[16])
{
	uuid_unparse_lower(id, out);
}

int feed_claim_id_parse(const char *text, uint8_t out[16])
{
	if (!text || strlen(text) != FEED_CLAIM_ID_LEN)
		return FEED_EBADID;
	if (uuid_parse(text, out) != 0 || feed__zero16(out))
		return FEED_EBADID;
	return 0;
}

/* ---------------------------------------------------------- result sets */

void feed__msgbuf_init(struct feed__msgbuf *b, feed_msgs_t *out)
{
	memset(out, 0, sizeof(*out));
	memset(b, 0, sizeof(*b));
	out->missed = 0;
	b->out = out;
}

int feed__msgbuf_add(struct feed__msgbuf *b, uint64_t gen, uint64_t seq,
		     const struct feed__mrec *m, const MDB_val *body,
		     uint64_t now_ms)
{
	feed_msgs_t *out = b->out;
	feed_msg_t *msg;

	if (out->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 16;
		feed_msg_t *v = realloc(out->v, cap * sizeof(*v));

		if (!v)
			return FEED_ENOMEM;
		out->v = v;
		b->cap = cap;
	}
	if (body->mv_size > b->arena_cap - b->arena_used) {
		size_t cap = b->arena_cap ? b->arena_cap : 4096;
		char *arena;

		while (cap - b->arena_used < body->mv_size)
			cap *= 2;
		arena = realloc(out->arena_, cap);
		if (!arena)
			return FEED_ENOMEM;
		out->arena_ = arena;
		b->arena_cap = cap;
	}
	msg = &out->v[out->n++];
	memset(msg, 0, sizeof(*msg));
	feed__id_format(msg->id, gen, seq);
	msg->seq = seq;
	msg->created_ms = m->created_ms;
	msg->expires_ms = m->expires_ms;
	msg->due_ms = m->due_ms;
	memcpy(msg->client_id, m->client_id, 16);
	if (feed__claimed(m, now_ms)) {
		feed__claim_id_format(msg->claim_id, m->claim_id);
		msg->claim_expires_ms = m->claim_expires_ms;
	}
	msg->claim_count = m->claim_count;
	/* An offset until finish(): the arena may still move. */
	msg->body = (const void *)(uintptr_t)b->arena_used;
	msg->body_len = body->mv_size;
	if (body->mv_size)
		memcpy(out->arena_ + b->arena_used, body->mv_data,
		       body->mv_size);
	b->arena_used += body->mv_size;
	return 0;
}

void feed__msgbuf_finish(struct feed__msgbuf *b)
{
	feed_msgs_t *out = b->out;

	for (size_t i = 0; i < out->n; i++) {
		uintptr_t off = (uintptr_t)out->v[i].body;

		out->v[i].body = out->arena_ ? out->arena_ + off : "";
	}
}

void feed_msgs_free(feed_msgs_t *msgs)
{
	if (!msgs)
		return;
	free(msgs->v);
	free(msgs->arena_);
	memset(msgs, 0, sizeof(*msgs));
}

void feed_claim_free(feed_claim_t *claim)
{
	if (claim)
		feed_msgs_free(&claim->msgs);
}
