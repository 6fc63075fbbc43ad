/*
 * notify.c - systemd's readiness protocol through libsystemd's sd_notify
 * (see notify.h). sd_notify keeps $NOTIFY_SOCKET in the environment
 * (unset_environment 0): both messages go to the same socket.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#ifdef HERALD_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "log.h"
#include "notify.h"

static void notify(const char *state, const char *fmt, va_list ap)
{
#ifdef HERALD_HAVE_SYSTEMD
	char status[256], msg[300];
	int rc;

	vsnprintf(status, sizeof(status), fmt, ap);
	snprintf(msg, sizeof(msg), "%s\nSTATUS=%s", state, status);
	rc = sd_notify(0, msg);
	if (rc < 0)
		hub_log(HUB_LOG_WARN, "sd_notify %s: %s", state,
			strerror(-rc));
#else
	(void)state;
	(void)fmt;
	(void)ap;
#endif
}

void hub_notify_ready(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	notify("READY=1", fmt, ap);
	va_end(ap);
}

void hub_notify_stopping(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	notify("STOPPING=1", fmt, ap);
	va_end(ap);
}
