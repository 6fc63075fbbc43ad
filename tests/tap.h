/*
 * tap.h - a small producer of TAP (Test Anything Protocol, version 13).
 *
 * Every test program is a meson test with protocol 'tap': it prints a plan,
 * one "ok N - name" / "not ok N - name" line per test point, and diagnostics
 * as "# ..." lines. A failed is()/is_str() says what it got and expected.
 *
 *     plan(3);                  or  ... done_testing();
 *     ok(x > 0, "x is positive");
 *     is(feed_read(...), 0, "read succeeds");
 *     is_str(msg.id, want, "first id");
 *     return exit_status();
 *
 * Not thread-safe: call it from one thread.
 */
#ifndef HERALD_TAP_H
#define HERALD_TAP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

/* Declares N test points up front. */
void plan(int n);
/* Skips the whole program (e.g. a missing facility). Exits 0. */
void skip_all(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Prints the plan for the points run so far, when plan() was not called. */
void done_testing(void);
/* 0 when every point passed and the plan was met, else 1. */
int exit_status(void);

/* One test point; returns cond so callers can react to a failure. */
bool ok_(bool cond, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
bool is_int_(long long got, long long want, const char *file, int line,
	     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
bool is_str_(const char *got, const char *want, const char *file, int line,
	     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Records `n` skipped points, with a reason. */
void skip(int n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * Points run between todo_start() and todo_end() are marked "# TODO
 * reason": known gaps, reported but not counted as failures. Use it only
 * for a gap the code cannot close, and say why.
 */
void todo_start(const char *reason);
void todo_end(void);
/* A diagnostic line ("# ...") on stdout. */
void diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Stops the program at once: "Bail out!" then exit 255. */
void bail_out(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#define ok(cond, ...) ok_(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is(got, want, ...)                                                     \
	is_int_((long long)(got), (long long)(want), __FILE__, __LINE__,       \
		__VA_ARGS__)
#define is_str(got, want, ...) is_str_((got), (want), __FILE__, __LINE__, __VA_ARGS__)

#endif /* HERALD_TAP_H */
