/*
 * clock.h - the server's two clocks (clock.c).
 *
 * hub_now_ms() is the clock of the API: message ages, TTLs, claims,
 * delays. It is a function pointer set once at start: the system clock in
 * production, or - for tests only, `--clock-file` - a file holding "now"
 * that the tests move. hub_mono_ms() is CLOCK_MONOTONIC, for the server's
 * own deadlines (shutdown drain, log timings); tests never move it, so a
 * frozen test clock cannot stop a deadline from passing.
 */
#ifndef HERALD_HUB_CLOCK_H
#define HERALD_HUB_CLOCK_H

#include <stdint.h>

/* Milliseconds since the epoch, by the clock chosen at start. Any thread. */
uint64_t hub_now_ms(void);
/* Monotonic milliseconds (arbitrary origin). Any thread. */
uint64_t hub_mono_ms(void);
/* The clock of idle checks (the keep-alive sweep): monotonic, so a step
 * of the system clock closes nothing; the test clock when one was chosen,
 * so tests move it. Any thread. */
uint64_t hub_idle_ms(void);

/* A doubling back-off: min_ms after the first failure, twice as long
 * after each next one, never more than max_ms; counts *failures up (the
 * caller zeroes it on success). */
unsigned hub_backoff_ms(unsigned min_ms, unsigned max_ms, unsigned *failures);

/*
 * Chooses the clock, once, before any thread starts: the system clock
 * when `test_file` is NULL or "", else the test clock, which reads the
 * file at start and again only after it changed (inotify on its folder;
 * tests replace it by rename). Returns 0, or -1 with a message on stderr.
 */
int hub_clock_init(const char *test_file);
/* Back to the system clock; releases the test clock's watch. */
void hub_clock_close(void);

#endif /* HERALD_HUB_CLOCK_H */
