/*
 * test_sub.c - the subscriber registry (hub/live/sub.c) alone: wakes go
 * through a FIFO with a per-pass budget, so a fan-out to many is spread
 * over loop passes, each subscriber woken once per round however many
 * commits came meanwhile; and the buckets grow with the queues.
 *
 * No lws context: the registry then runs no timer, so each notify is one
 * "pass" of the budget and nothing here waits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "live/sub.h"
#include "tap.h"

#define N 600

struct counted {
	struct hub_sub sub;
	int wakes;
};

static void on_wake(struct hub_sub *sub)
{
	lws_container_of(sub, struct counted, sub)->wakes++;
}

static void budget_and_fifo(void)
{
	struct hub_subs *subs = hub_subs_new(NULL);
	struct counted *c = calloc(N, sizeof(*c));
	int min = 1000, max = 0, total = 0;

	for (int i = 0; i < N; i++) {
		c[i].sub.wake = on_wake;
		if (hub_sub_attach(subs, &c[i].sub, "p", "q"))
			bail_out("attach");
	}
	hub_sub_notify(subs, "p", "q");
	for (int i = 0; i < N; i++)
		total += c[i].wakes;
	ok(total > 0 && total < N, "one notify to %d wakes a pass's budget now "
	   "(%d), not all", N, total);
	/* More commits while the rest wait their turn. */
	hub_sub_notify(subs, "p", "q");
	hub_sub_notify(subs, "p", "q");
	for (int i = 0; i < N; i++) {
		if (c[i].wakes < min)
			min = c[i].wakes;
		if (c[i].wakes > max)
			max = c[i].wakes;
	}
	ok(min >= 1 && max <= 2, "waiting ones keep their place: each woken "
	   "once or twice after three notifies (%d..%d)", min, max);
	for (int i = 0; i < N; i++)
		hub_sub_detach(subs, &c[i].sub);
	is(hub_sub_count(subs), 0, "all detached, off the wake queue too");
	hub_sub_notify(subs, "p", "q");
	free(c);
	hub_subs_free(subs);
}

static void buckets_grow(void)
{
	struct hub_subs *subs = hub_subs_new(NULL);
	struct counted *c = calloc(5000, sizeof(*c));
	char name[32];
	int woken = 0;

	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "q%d", i);
		c[i].sub.wake = on_wake;
		if (hub_sub_attach(subs, &c[i].sub, "p", name))
			bail_out("attach");
	}
	for (int i = 0; i < 5000; i += 499) {
		snprintf(name, sizeof(name), "q%d", i);
		hub_sub_notify(subs, "p", name);
	}
	for (int i = 0; i < 5000; i++)
		woken += c[i].wakes;
	is(woken, 11, "5,000 queues (past the first buckets): each notify "
	   "finds its own queue's subscriber");
	for (int i = 0; i < 5000; i++)
		hub_sub_detach(subs, &c[i].sub);
	free(c);
	hub_subs_free(subs);
}

int main(void)
{
	budget_and_fifo();
	buckets_grow();
	done_testing();
	return exit_status();
}
