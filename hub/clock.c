/*
 * clock.c - the API clock as an injected function, and the monotonic clock.
 *
 * Production reads CLOCK_REALTIME through the pointer `now_fn` and pays
 * nothing else. The test clock (`--clock-file`, see clock.h) keeps the
 * file's value in memory and re-reads the file only when inotify reports a
 * change in its folder: one non-blocking read() of the watch per call, no
 * open or parse, and the value is exact as soon as the test's rename has
 * happened (the watch event is queued before rename() returns).
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

static uint64_t ts_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t system_now(void)
{
	return ts_ms(CLOCK_REALTIME);
}

static uint64_t (*now_fn)(void) = system_now;

uint64_t hub_now_ms(void)
{
	return now_fn();
}

uint64_t hub_mono_ms(void)
{
	return ts_ms(CLOCK_MONOTONIC);
}

uint64_t hub_idle_ms(void)
{
	return now_fn == system_now ? hub_mono_ms() : now_fn();
}

/* ------------------------------------------------------ the test clock */

static struct {
	pthread_mutex_t lock;
	char path[PATH_MAX];
	int watch_fd;
	uint64_t ms;
} test = {.lock = PTHREAD_MUTEX_INITIALIZER, .watch_fd = -1};

/* Reads the file into test.ms; keeps the old value when it cannot. */
static int test_load(void)
{
	FILE *f = fopen(test.path, "r");
	unsigned long long ms = 0;
	int n = f ? fscanf(f, "%llu", &ms) : 0;

	if (f)
		fclose(f);
	if (n != 1) {
		hub_log(HUB_LOG_WARN, "clock file %s unreadable; keeping %llu",
			test.path, (unsigned long long)test.ms);
		return -1;
	}
	test.ms = ms;
	return 0;
}

static uint64_t test_now(void)
{
	char events[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool changed = false;
	uint64_t ms;

	pthread_mutex_lock(&test.lock);
	while (read(test.watch_fd, events, sizeof(events)) > 0)
		changed = true;
	if (changed)
		test_load();
	ms = test.ms;
	pthread_mutex_unlock(&test.lock);
	return ms;
}

int hub_clock_init(const char *test_file)
{
	char dir[PATH_MAX];

	hub_clock_close();
	if (!test_file || !*test_file)
		return 0;
	if (strlen(test_file) >= sizeof(test.path)) {
		fprintf(stderr, "herald: clock file path too long\n");
		return -1;
	}
	strcpy(test.path, test_file);
	strcpy(dir, test_file);
	test.watch_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (test.watch_fd < 0 ||
	    inotify_add_watch(test.watch_fd, dirname(dir),
			      IN_MOVED_TO | IN_CLOSE_WRITE | IN_CREATE) < 0) {
		fprintf(stderr, "herald: cannot watch the clock file %s: %s\n",
			test_file, strerror(errno));
		hub_clock_close();
		return -1;
	}
	if (test_load() != 0) {
		fprintf(stderr, "herald: cannot read the clock file %s\n",
			test_file);
		hub_clock_close();
		return -1;
	}
	now_fn = test_now;
	return 0;
}

void hub_clock_close(void)
{
	now_fn = system_now;
	if (test.watch_fd >= 0)
		close(test.watch_fd);
	test.watch_fd = -1;
}

unsigned hub_backoff_ms(unsigned min_ms, unsigned max_ms, unsigned *failures)
{
	unsigned ms = min_ms;

	for (unsigned i = 0; i < *failures && ms < max_ms; i++)
		ms *= 2;
	(*failures)++;
	return ms < max_ms ? ms : max_ms;
}
