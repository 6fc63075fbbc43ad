/*
 * log.h - the server's log: one line per event on stderr, filtered by level
 * (log.c). Any thread.
 */
#ifndef HERALD_HUB_LOG_H
#define HERALD_HUB_LOG_H

#include <stdarg.h>

enum hub_log_level { HUB_LOG_ERROR, HUB_LOG_WARN, HUB_LOG_INFO, HUB_LOG_DEBUG };

void hub_log_set_level(enum hub_log_level level);
void hub_log(enum hub_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif /* HERALD_HUB_LOG_H */
