/*
 * notify.h - telling a service manager how the server is doing: systemd's
 * readiness protocol (sd_notify(3)), for units of Type=notify.
 *
 * Each call is a no-op when the process was not started with
 * $NOTIFY_SOCKET (not under systemd, or not Type=notify), and when herald
 * was built without libsystemd (meson finds it through pkg-config).
 */
#ifndef HERALD_HUB_NOTIFY_H
#define HERALD_HUB_NOTIFY_H

/* The listening socket is up and the storage open: "READY=1" with a
 * one-line STATUS= (printf-style). */
void hub_notify_ready(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
/* SIGTERM/SIGINT: the drain began. "STOPPING=1" with a STATUS= line. */
void hub_notify_stopping(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

#endif /* HERALD_HUB_NOTIFY_H */
