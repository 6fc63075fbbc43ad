/*
 * batch.c - a message post's document, decoded by jansson one value at a
 * time so that the exact bytes of every message's body are known (see
 * batch.h). Those bytes are what Herald stores and what every answer
 * splices back in: a body is never re-encoded.
 *
 * The documents, and what the walk looks into (the rest is one value):
 *
 *   v1.1, v2   { "messages" : [ ENTRY , ENTRY ... ] , "key" : VALUE ... }
 *   v1         [ ENTRY , ENTRY ... ]
 *   ENTRY      { "ttl" : VALUE , "body" : VALUE , ... }
 *
 * jansson decodes every key and every VALUE: json_loadb() with
 * JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK decodes one value from a
 * position, and its error's `position` (set on success too) is how many
 * bytes it took - the leading whitespace included, the byte after a
 * number not (jansson 2.14 puts its lookahead back; tests/hub/unit/
 * test_batch.c holds it to that). The walk only steps over JSON's four
 * whitespace bytes and the punctuation { } [ ] , : between those values,
 * and builds the objects and arrays of the document and its entries from
 * the decoded values, so the tree is the one a whole-text json_loadb()
 * makes. Anything that is not a document of that shape (a top level that
 * is no object, messages that are no array, an entry that is no object)
 * is simply one value the validation of messages.c refuses, as before.
 *
 * When the walk fails the text is not JSON, and jansson's whole-text
 * parse is run for its error, so a refused post reads exactly as before.
 *
 * One difference, on purpose: jansson limits nesting to 2048 levels per
 * decode, so a body may be nested up to that deep here, the document's
 * own two or three levels not counted.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "api/batch.h"

struct walk {
	const char *s;
	size_t len, pos;
	struct hub_batch *b;
	size_t cap;
};

static void skip_ws(struct walk *w)
{
	while (w->pos < w->len &&
	       (w->s[w->pos] == ' ' || w->s[w->pos] == '\t' ||
		w->s[w->pos] == '\n' || w->s[w->pos] == '\r'))
		w->pos++;
}

/* The next byte after whitespace is c: true (and steps over it). */
static bool eat(struct walk *w, char c)
{
	skip_ws(w);
	if (w->pos < w->len && w->s[w->pos] == c) {
		w->pos++;
		return true;
	}
	return false;
}

static bool next_is(struct walk *w, char c)
{
	skip_ws(w);
	return w->pos < w->len && w->s[w->pos] == c;
}

/* One value decoded by jansson from the walk's position (new reference;
 * NULL when it does not decode); its bytes into *span when not NULL. */
static json_t *value(struct walk *w, struct hub_batch_span *span)
{
	json_error_t e;
	json_t *v;

	skip_ws(w);
	v = json_loadb(w->s + w->pos, w->len - w->pos,
		       JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK, &e);
	if (!v)
		return NULL;
	if (e.position <= 0 || (size_t)e.position > w->len - w->pos) {
		json_decref(v); /* not what jansson 2.14 does: refuse */
		return NULL;
	}
	if (span) {
		span->off = w->pos;
		span->len = (size_t)e.position;
	}
	w->pos += (size_t)e.position;
	return v;
}

static json_t *entries(struct walk *w);

/*
 * An object the walk looks into: the document (`entry` (size_t)-1) or
 * entry number `entry`, whose "body" span it records. New reference;
 * NULL when the text is not JSON.
 */
static json_t *object(struct walk *w, size_t entry)
{
	bool doc = entry == (size_t)-1;
	json_t *o = json_object(), *k = NULL, *v;

	if (!o || !eat(w, '{'))
		goto fail;
	if (eat(w, '}'))
		return o;
	do {
		const char *key;

		k = value(w, NULL);
		if (!json_is_string(k) || !eat(w, ':'))
			goto fail;
		key = json_string_value(k);
		if (doc && strcmp(key, "messages") == 0)
			v = entries(w);
		else if (!doc && strcmp(key, "body") == 0)
			v = value(w, &w->b->spans[entry]);
		else
			v = value(w, NULL);
		if (!v || json_object_set_new(o, key, v))
			goto fail;
		json_decref(k);
		k = NULL;
	} while (eat(w, ','));
	if (eat(w, '}'))
		return o;
fail:
	json_decref(k);
	json_decref(o);
	return NULL;
}

/* A span for one more entry; false on ENOMEM. */
static bool span_add(struct walk *w)
{
	struct hub_batch *b = w->b;

	if (b->n == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 16;
		struct hub_batch_span *s = realloc(b->spans, cap * sizeof(*s));

		if (!s)
			return false;
		b->spans = s;
		w->cap = cap;
	}
	b->spans[b->n++] = (struct hub_batch_span){0, 0};
	return true;
}

/* The messages array (new reference; NULL when not JSON). Not an array:
 * one value, no entries. */
static json_t *entries(struct walk *w)
{
	json_t *arr, *v;

	w->b->n = 0; /* a repeated "messages": the last one counts */
	if (!next_is(w, '['))
		return value(w, NULL);
	arr = json_array();
	if (!arr || !eat(w, '['))
		goto fail;
	if (eat(w, ']'))
		return arr;
	do {
		if (!span_add(w))
			goto fail;
		v = next_is(w, '{') ? object(w, w->b->n - 1) : value(w, NULL);
		if (!v || json_array_append_new(arr, v))
			goto fail;
	} while (eat(w, ','));
	if (eat(w, ']'))
		return arr;
fail:
	json_decref(arr);
	return NULL;
}

void hub_batch_free(struct hub_batch *b)
{
	json_decref(b->doc);
	free(b->spans);
	memset(b, 0, sizeof(*b));
}

int hub_batch_parse(struct hub_batch *b, const char *text, size_t len,
		    bool bare, json_error_t *err)
{
	struct walk w = {.s = text, .len = len, .b = b};
	json_t *whole;

	memset(b, 0, sizeof(*b));
	if (bare)
		b->doc = entries(&w);
	else
		b->doc = next_is(&w, '{') ? object(&w, (size_t)-1)
					  : value(&w, NULL);
	skip_ws(&w);
	if (b->doc && w.pos == len)
		return 0;
	hub_batch_free(b);
	/* Not JSON: jansson's own words for the whole text. */
	whole = json_loadb(text, len, JSON_DECODE_ANY, err);
	if (whole) {
		/* The walk and jansson disagree: a bug of the walk. */
		hub_log(HUB_LOG_ERROR, "batch: a post jansson reads was "
			"refused by the walk at byte %zu", w.pos);
		json_decref(whole);
		memset(err, 0, sizeof(*err));
		snprintf(err->text, sizeof(err->text),
			 "unexpected document at byte %zu", w.pos);
	}
	return -1;
}
