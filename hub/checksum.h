/*
 * checksum.h - Zaqar's message checksums (checksum.c): with
 * enable-checksum on, v1.1 and v2 render each message with
 * "checksum": "MD5:<hex>", as Zaqar's enable_checksum does.
 */
#ifndef HERALD_HUB_CHECKSUM_H
#define HERALD_HUB_CHECKSUM_H

#include <jansson.h>
#include <stddef.h>

/* "MD5:" and 32 lowercase hex digits, and the NUL. */
#define HUB_CHECKSUM_LEN (4 + 32 + 1)

/*
 * Writes into out Zaqar's checksum of a message body (borrowed): "MD5:"
 * and the MD5 of the body serialized as Python's json.dumps() does it
 * (zaqar/storage/utils.py get_checksum). Returns 0; 1 when the body has
 * no checksum (a null body: Zaqar's is ""); -1 when out of memory or the
 * digest fails.
 */
int hub_checksum(json_t *body, char out[HUB_CHECKSUM_LEN]);

/*
 * The body as Python's json.dumps(body) writes it (ensure_ascii, ", " and
 * ": " separators, keys in their stored order, floats as repr()): a new
 * string (free()), NULL when out of memory. For hub_checksum and its
 * tests.
 */
char *hub_checksum_pyjson(json_t *body);

#endif /* HERALD_HUB_CHECKSUM_H */
