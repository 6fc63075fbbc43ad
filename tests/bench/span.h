/*
 * span.h - the benchmarks' timers: wall and CPU seconds over spans of
 * work, summed (feed_bench, feed_bench_workers, webhook_bench).
 */
#ifndef HERALD_BENCH_SPAN_H
#define HERALD_BENCH_SPAN_H

#include <time.h>

struct span {
	double wall, cpu;   /* summed over the spans */
	double wall0, cpu0; /* where the open span started */
};

static inline double clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void span_start(struct span *s)
{
	s->wall0 = clock_s(CLOCK_MONOTONIC);
	s->cpu0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
}

static inline void span_stop(struct span *s)
{
	s->wall += clock_s(CLOCK_MONOTONIC) - s->wall0;
	s->cpu += clock_s(CLOCK_PROCESS_CPUTIME_ID) - s->cpu0;
}

#endif /* HERALD_BENCH_SPAN_H */
