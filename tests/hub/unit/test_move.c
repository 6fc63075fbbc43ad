/*
 * test_move.c - the pieces of a shard move that stand alone (hub/move.c):
 * the freeze's bitmap and the blob's base64.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "move.h"
#include "tap.h"

/* Round trip of n bytes through base64, against the RFC's text. */
static void round_trip(const char *bytes, size_t n, const char *want)
{
	char *text = hub_b64_encode(bytes, n);
	size_t len = 0;
	unsigned char *back = text ? hub_b64_decode(text, strlen(text), &len)
				   : NULL;

	ok(text && strcmp(text, want) == 0, "\"%.*s\" encodes as \"%s\" (%s)",
	   (int)n, bytes, want, text ? text : "NULL");
	ok(back && len == n && memcmp(back, bytes, n) == 0,
	   "and decodes back to its %zu bytes", n);
	free(text);
	free(back);
}

static void refused(const char *text, const char *what)
{
	size_t len = 7;
	void *back = hub_b64_decode(text, strlen(text), &len);

	ok(back == NULL && len == 0, "%s is refused", what);
	free(back);
}

int main(void)
{
	/* RFC 4648 section 10's test vectors. */
	round_trip("", 0, "");
	round_trip("f", 1, "Zg==");
	round_trip("fo", 2, "Zm8=");
	round_trip("foo", 3, "Zm9v");
	round_trip("foob", 4, "Zm9vYg==");
	round_trip("fooba", 5, "Zm9vYmE=");
	round_trip("foobar", 6, "Zm9vYmFy");
	{
		unsigned char all[256];
		char *text;
		size_t len = 0;
		unsigned char *back;

		for (int i = 0; i < 256; i++)
			all[i] = (unsigned char)i;
		text = hub_b64_encode(all, sizeof(all));
		back = text ? hub_b64_decode(text, strlen(text), &len) : NULL;
		ok(back && len == sizeof(all) && !memcmp(back, all, len),
		   "every byte value round-trips");
		free(text);
		free(back);
	}
	refused("Zm9", "a length that is no multiple of 4");
	refused("Zm9@", "a byte outside the alphabet");

	ok(!hub_move_any() && !hub_move_frozen(7), "nothing is frozen at first");
	ok(!hub_move_freeze(7, true) && hub_move_frozen(7) && hub_move_any(),
	   "shard 7 frozen");
	ok(!hub_move_frozen(6) && !hub_move_frozen(8), "and only shard 7");
	ok(hub_move_freeze(7, false) && !hub_move_frozen(7) && !hub_move_any(),
	   "thawed again");
	done_testing();
	return exit_status();
}
