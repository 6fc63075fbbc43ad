/*
 * test_clock.c - the injected clock (hub/clock.c): the system clock by
 * default, the test clock file when asked, which is re-read only after the
 * file is replaced, and the monotonic clock, which the test clock does not
 * move.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "fixture.h"
#include "tap.h"

static void write_clock(const char *path, unsigned long long ms)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f || fprintf(f, "%llu\n", ms) < 0 || fclose(f) != 0 ||
	    rename(tmp, path) != 0)
		bail_out("cannot write %s", path);
}

int main(void)
{
	const char *dir = fixture_mkdir();
	char path[4096];
	uint64_t sys, mono0;

	sys = hub_now_ms();
	ok(sys > 1600000000000ULL, "by default now is the system clock");

	snprintf(path, sizeof(path), "%s/clock", dir);
	ok(hub_clock_init(path) == -1, "a missing clock file is refused");
	ok(hub_now_ms() >= sys, "and the system clock stays in use");

	write_clock(path, 5000);
	ok(hub_clock_init(path) == 0, "a readable clock file is taken");
	is((long long)hub_now_ms(), 5000, "now is the file's time");
	is((long long)hub_now_ms(), 5000, "and stays there while it is "
	       "unchanged");
	mono0 = hub_mono_ms();
	write_clock(path, 65000);
	is((long long)hub_now_ms(), 65000,
	       "a replaced file is seen at the next call");
	ok(hub_mono_ms() - mono0 < 60000,
	   "the monotonic clock does not jump with the test clock");
	write_clock(path, 70000);
	write_clock(path, 71000);
	is((long long)hub_now_ms(), 71000,
	       "after two replacements the last one counts");
	hub_clock_close();
	ok(hub_now_ms() > 1600000000000ULL, "close goes back to the system clock");

	fixture_rmdir(dir);

	/* The doubling back-off, up to its bound. */
	{
		const unsigned want[] = {250, 500, 1000, 2000, 4000, 4000, 4000};
		unsigned failures = 0;
		bool all = true;

		for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++)
			all &= hub_backoff_ms(250, 4000, &failures) == want[i];
		ok(all && failures == 7, "back-off: 250, 500 ... 4000, then "
		   "4000 again (%u failures counted)", failures);
		failures = 40; /* no overflow however long it failed */
		is((long long)hub_backoff_ms(100, 5000, &failures), 5000,
		   "a long run of failures stays at the bound");
	}
	done_testing();
	return exit_status();
}
