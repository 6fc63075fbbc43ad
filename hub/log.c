/*
 * log.c - one line per event on stderr: UTC time, level, message.
 * Called from the loop thread and the writer thread; each line is one
 * write(2)-sized fprintf, so lines do not interleave.
 */
#include <stdio.h>
#include <sys/time.h>
#include <time.h>

#include "log.h"

static enum hub_log_level threshold = HUB_LOG_INFO;

void hub_log_set_level(enum hub_log_level level)
{
	threshold = level;
}

void hub_log(enum hub_log_level level, const char *fmt, ...)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};
	char msg[2048], stamp[32];
	struct timeval tv;
	struct tm tm;
	va_list ap;

	if (level > threshold)
		return;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s.%03ldZ %s %s\n", stamp, (long)(tv.tv_usec / 1000),
		names[level], msg);
}
