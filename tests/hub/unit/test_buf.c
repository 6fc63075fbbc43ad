/*
 * test_buf.c - the growable buffer (hub/buf.c).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "tap.h"

int main(void)
{
	struct hub_buf b = {0};
	char *text, big[10000];
	size_t len = 0;

	hub_buf_adds(&b, "abc");
	hub_buf_printf(&b, "-%d-%s", 42, "x");
	is((long long)b.len, 8, "appends count their bytes");
	ok(memcmp(b.data, "abc-42-x", 8) == 0,
	   "printf appends after what was there");
	text = hub_buf_take(&b, &len);
	is_str(text, "abc-42-x", "take hands over a NUL-terminated string");
	is((long long)len, 8, "take reports the length without the NUL");
	ok(b.data == NULL && b.len == 0, "the buffer is empty after take");
	free(text);

	hub_buf_init(&b, 16);
	is((long long)b.len, 16, "init reserves the headroom in len");
	memset(big, 'z', sizeof(big));
	for (int i = 0; i < 100; i++)
		hub_buf_add(&b, big, sizeof(big));
	is((long long)b.len, 16 + 100 * (long long)sizeof(big),
	       "a megabyte of appends lands whole");
	ok(!b.failed && b.cap >= b.len, "capacity grew to hold it");
	ok(b.data[16] == 'z' && b.data[b.len - 1] == 'z',
	   "the bytes are where they were put");
	hub_buf_reset(&b, 16);
	is((long long)b.len, 16, "reset keeps only the headroom");
	ok(b.cap >= 1000000, "reset keeps the memory");
	hub_buf_free(&b);
	ok(b.data == NULL && b.cap == 0, "free releases everything");

	/* A printf that does not fit the free space grows the buffer and
	 * formats again: nothing lost at the boundary. */
	hub_buf_add(&b, big, 4090);
	hub_buf_printf(&b, "[%s|%d]", "0123456789", 12345);
	is((long long)b.len, 4090 + 18, "a printf across the capacity lands whole");
	ok(memcmp(b.data + 4090, "[0123456789|12345]", 18) == 0,
	   "with its bytes in place");
	hub_buf_free(&b);

	/* Integers as %lld writes them, the ends of the range included. */
	{
		const long long v[] = {0, 7, -1, 10, 99, 3600, -4096,
				       1234567890123LL, LLONG_MAX, LLONG_MIN};
		char want[32];

		for (size_t i = 0; i < sizeof(v) / sizeof(*v); i++) {
			hub_buf_reset(&b, 0);
			hub_buf_add_int(&b, v[i]);
			snprintf(want, sizeof(want), "%lld", v[i]);
			ok(b.len == strlen(want) &&
			   memcmp(b.data, want, b.len) == 0,
			   "add_int %s", want);
		}
		hub_buf_free(&b);
	}

	b.failed = true;
	hub_buf_adds(&b, "lost");
	ok(b.len == 0 && b.data == NULL, "a failed buffer takes no more bytes");
	ok(hub_buf_take(&b, NULL) == NULL, "take of a failed buffer is NULL");
	ok(!b.failed, "and take leaves the buffer clean for reuse");
	done_testing();
	return exit_status();
}
