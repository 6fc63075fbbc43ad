/*
 * batch.h - a message post's document as jansson reads it, with where
 * each message's body lies in the text (batch.c): a body is stored as
 * the bytes it arrived as, never re-encoded.
 */
#ifndef HERALD_HUB_API_BATCH_H
#define HERALD_HUB_API_BATCH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Where a value lies in the text: bytes [off, off + len); len 0: none. */
struct hub_batch_span {
	size_t off, len;
};

struct hub_batch {
	json_t *doc;                  /* the document, owned */
	struct hub_batch_span *spans; /* one per entry of the messages array,
				       * owned: its "body" value (len 0 when
				       * the entry is no object or has none) */
	size_t n;                     /* = that array's size; 0 when the
				       * document has no such array */
};

/*
 * Decodes text[0..len) into b: b->doc is the tree json_loadb(text, len,
 * JSON_DECODE_ANY) makes of it (duplicate keys: the last wins), the
 * messages array is the document itself when `bare` (v1) and the
 * top-level object's "messages" member otherwise (the last one, when the
 * key repeats). Every value is decoded by jansson; batch.c only steps
 * over whitespace and the punctuation of the document and its entries.
 * Returns 0, or -1 with *err exactly as json_loadb() sets it for the
 * whole text (b is empty then). Free b with hub_batch_free().
 */
int hub_batch_parse(struct hub_batch *b, const char *text, size_t len,
		    bool bare, json_error_t *err);
void hub_batch_free(struct hub_batch *b);

#endif /* HERALD_HUB_API_BATCH_H */
