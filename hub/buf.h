/*
 * buf.h - the one growable byte buffer of hub/ (buf.c): request bodies,
 * rendered frames and events, response headers, links.
 *
 * A buffer starts zeroed ({0}) or with hub_buf_init(b, headroom): the
 * first `headroom` bytes are reserved (LWS_PRE for a frame lws writes in
 * place) and count in len. Appends never fail loudly: the first allocation
 * failure sets `failed`, later appends do nothing, and the owner checks
 * `failed` once when the text is complete. Whoever fills a buffer frees
 * it (hub_buf_free) or takes its bytes (hub_buf_take).
 */
#ifndef HERALD_HUB_BUF_H
#define HERALD_HUB_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct hub_buf {
	char *data;
	size_t len; /* bytes used, headroom included */
	size_t cap;
	bool failed;
};

/* Empties b and reserves `headroom` bytes at its start. */
void hub_buf_init(struct hub_buf *b, size_t headroom);
/* Makes room for `more` bytes beyond len; false (and failed) on ENOMEM. */
bool hub_buf_reserve(struct hub_buf *b, size_t more);
/* hub_buf_add's way when b must grow first (buf.c). */
void hub_buf__add_grow(struct hub_buf *b, const void *data, size_t len);

/* Appends: inline while the bytes fit (a listing makes ~20 appends a
 * message; an append of a literal then costs no strlen and no call). */
static inline void hub_buf_add(struct hub_buf *b, const void *data, size_t len)
{
	if (len <= b->cap - b->len && !b->failed) {
		if (len)
			memcpy(b->data + b->len, data, len);
		b->len += len;
		return;
	}
	hub_buf__add_grow(b, data, len);
}

static inline void hub_buf_adds(struct hub_buf *b, const char *s)
{
	hub_buf_add(b, s, strlen(s));
}
/* v in decimal, as printf's %lld writes it, without printf's cost (the
 * hot renderers: a listing's and a frame's every message). */
void hub_buf_add_int(struct hub_buf *b, long long v);
void hub_buf_printf(struct hub_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void hub_buf_vprintf(struct hub_buf *b, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* Keeps b's memory, forgets its bytes (headroom kept). */
void hub_buf_reset(struct hub_buf *b, size_t headroom);
/* NUL-terminates (not counted in len) and hands the bytes over: the
 * caller frees them; b is empty after. NULL when b failed. */
char *hub_buf_take(struct hub_buf *b, size_t *len);
void hub_buf_free(struct hub_buf *b);

#endif /* HERALD_HUB_BUF_H */
