/*
 * buf.c - the growable byte buffer (buf.h). Capacity doubles from 4 KiB,
 * so a buffer filled by many small appends costs O(log n) reallocations.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

#define BUF_FIRST_CAP 4096

void hub_buf_init(struct hub_buf *b, size_t headroom)
{
	memset(b, 0, sizeof(*b));
	if (headroom && hub_buf_reserve(b, headroom))
		b->len = headroom;
}

bool hub_buf_reserve(struct hub_buf *b, size_t more)
{
	size_t cap;
	char *p;

	if (b->failed)
		return false;
	if (b->len + more <= b->cap)
		return true;
	cap = b->cap ? b->cap : BUF_FIRST_CAP;
	while (cap < b->len + more) {
		if (cap > (size_t)-1 / 2) {
			b->failed = true;
			return false;
		}
		cap *= 2;
	}
	p = realloc(b->data, cap);
	if (!p) {
		b->failed = true;
		return false;
	}
	b->data = p;
	b->cap = cap;
	return true;
}

void hub_buf__add_grow(struct hub_buf *b, const void *data, size_t len)
{
	if (!len || !hub_buf_reserve(b, len))
		return;
	memcpy(b->data + b->len, data, len);
	b->len += len;
}

void hub_buf_add_int(struct hub_buf *b, long long v)
{
	char digits[24], *p = digits + sizeof(digits);
	/* The magnitude in unsigned arithmetic: LLONG_MIN has no positive. */
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v
				     : (unsigned long long)v;

	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	hub_buf_add(b, p, (size_t)(digits + sizeof(digits) - p));
}

void hub_buf_vprintf(struct hub_buf *b, const char *fmt, va_list ap)
{
	va_list again;
	size_t room;
	int n;

	/* Format straight into the free space: one vsnprintf when it fits
	 * (frames are built from many small printfs on the fan-out path);
	 * a second, after growing, only when it did not. */
	if (b->failed || !hub_buf_reserve(b, 1))
		return;
	room = b->cap - b->len;
	va_copy(again, ap);
	n = vsnprintf(b->data + b->len, room, fmt, ap);
	if (n < 0) {
		b->failed = true;
	} else if ((size_t)n < room) {
		b->len += (size_t)n;
	} else if (hub_buf_reserve(b, (size_t)n + 1)) {
		/* vsnprintf writes the NUL too: reserved, not counted. */
		vsnprintf(b->data + b->len, (size_t)n + 1, fmt, again);
		b->len += (size_t)n;
	}
	va_end(again);
}

void hub_buf_printf(struct hub_buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	hub_buf_vprintf(b, fmt, ap);
	va_end(ap);
}

void hub_buf_reset(struct hub_buf *b, size_t headroom)
{
	b->failed = false;
	b->len = 0;
	if (headroom && hub_buf_reserve(b, headroom))
		b->len = headroom;
}

char *hub_buf_take(struct hub_buf *b, size_t *len)
{
	char *p = NULL;

	if (!b->failed && hub_buf_reserve(b, 1)) {
		b->data[b->len] = '\0';
		p = b->data;
		if (len)
			*len = b->len;
		b->data = NULL;
	}
	hub_buf_free(b);
	return p;
}

void hub_buf_free(struct hub_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}
