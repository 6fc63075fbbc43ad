/*
 * test_keepalive.c - the coarse idle sweep (hub/transport/keepalive.c)
 * alone, on a clock the test moves: every connection is looked at within
 * one ping interval of ticks; a silent one gets exactly one ping between
 * ping and 2 x ping of silence and is hung up between hangup and hangup
 * + ping; a connection heard from is left alone; a tick's work is a slice
 * (about N x tick / ping), not all N, unless the clock moved a whole
 * ping interval since the last tick; removing connections mid-way,
 * the one the sweep would look at next included, keeps it sound.
 */
#include <stdlib.h>

#include "tap.h"
#include "transport/keepalive.h"

#define N 1000
#define PING 30000
#define HANGUP 75000
#define TICK 1000

struct conn {
	struct hub_ka_conn ka;
	unsigned pings, hangups;
	uint64_t first_ping_ms, hangup_ms;
	bool talks; /* answers every tick */
};

static uint64_t now;

static void on_ping(struct hub_ka_conn *k, void *arg)
{
	struct conn *c = lws_container_of(k, struct conn, ka);

	(void)arg;
	if (!c->pings++)
		c->first_ping_ms = now;
}

static void on_hangup(struct hub_ka_conn *k, void *arg)
{
	struct conn *c = lws_container_of(k, struct conn, ka);

	(void)arg;
	if (!c->hangups++)
		c->hangup_ms = now;
}

int main(void)
{
	struct conn *c = calloc(N, sizeof(*c));
	struct hub_ka ka;
	size_t max_slice = 0, looked = 0;
	bool ping_window = true, hangup_window = true, one_ping = true;
	bool talkers_quiet = true;

	hub_ka_init(&ka, PING, HANGUP, TICK, on_ping, on_hangup, NULL);
	is(hub_ka_sweep(&ka, 0), 0, "an empty sweep looks at nothing");
	now = 1000000;
	for (int i = 0; i < N; i++) {
		c[i].talks = i % 10 == 0;
		hub_ka_add(&ka, &c[i].ka, now);
	}
	/* Two and a half minutes of ticks; the talkers are heard from at
	 * every tick, the others never. */
	for (uint64_t t = 0; t <= 150000; t += TICK) {
		size_t n;

		now = 1000000 + t;
		for (int i = 0; i < N; i++)
			if (c[i].talks)
				hub_ka_seen(&c[i].ka, now);
		n = hub_ka_sweep(&ka, now);
		looked += n;
		if (n > max_slice)
			max_slice = n;
	}
	for (int i = 0; i < N; i++) {
		uint64_t ping_at = c[i].first_ping_ms - 1000000,
			 hup_at = c[i].hangup_ms - 1000000;

		if (c[i].talks) {
			talkers_quiet &= c[i].pings == 0 && c[i].hangups == 0;
			continue;
		}
		one_ping &= c[i].pings == 1;
		ping_window &= ping_at >= PING && ping_at < 2 * PING;
		hangup_window &= c[i].hangups >= 1 && hup_at >= HANGUP &&
				 hup_at < HANGUP + PING;
	}
	ok(talkers_quiet, "connections heard from get no ping, no hangup");
	ok(one_ping, "a silent connection gets exactly one ping");
	ok(ping_window, "after 1 to 2 ping intervals of silence");
	ok(hangup_window, "and is hung up after hangup to hangup + ping");
	ok(max_slice <= N * TICK / PING + 2,
	   "a tick looks at a slice, not every connection (%zu of %d)",
	   max_slice, N);
	ok(looked <= (size_t)151 * (N * TICK / PING + 2),
	   "O(1) per connection per ping interval (%zu looks in 151 ticks)",
	   looked);

	/* Removal: every other one, the sweep's next one among them. */
	for (int i = 0; i < N; i += 2) {
		hub_ka_remove(&ka, &c[i].ka);
		hub_ka_remove(&ka, &c[i].ka); /* twice: a no-op */
	}
	is((long long)ka.conns.count, N / 2, "removed connections leave");
	for (int i = 1; i < N; i += 2) {
		c[i].pings = c[i].hangups = 0;
		hub_ka_seen(&c[i].ka, now);
	}
	for (uint64_t t = TICK; t <= 2 * PING; t += TICK) {
		now += TICK;
		hub_ka_sweep(&ka, now);
	}
	{
		bool all = true;

		for (int i = 1; i < N; i += 2)
			all &= c[i].pings == 1 && c[i].hangups == 0;
		ok(all, "the rest are swept on: one ping each within two "
		   "intervals, no hangup yet");
	}
	/* The clock jumps (or the ticks came late): one sweep catches up. */
	now += PING + 1000;
	is(hub_ka_sweep(&ka, now), (size_t)N / 2,
	   "after a ping interval without a tick, one sweep looks at all");
	for (int i = 1; i < N; i += 2)
		hub_ka_remove(&ka, &c[i].ka);
	is(hub_ka_sweep(&ka, now), 0, "and with none left, nothing is looked at");
	free(c);
	done_testing();
	return exit_status();
}
