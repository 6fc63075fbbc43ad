/*
 * tap.c - the TAP producer behind tap.h. State is a handful of counters;
 * output goes to stdout, flushed after every line so a crash mid-program
 * still shows which point ran last.
 */
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int planned = -1;
static int run;
static int failed;
static const char *todo; /* reason, while points are known gaps */

void plan(int n)
{
	planned = n;
	printf("1..%d\n", n);
	fflush(stdout);
}

void skip_all(const char *fmt, ...)
{
	va_list ap;

	printf("1..0 # SKIP ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	exit(0);
}

void done_testing(void)
{
	if (planned < 0) {
		planned = run;
		printf("1..%d\n", run);
	}
	fflush(stdout);
}

int exit_status(void)
{
	if (planned < 0)
		done_testing();
	if (failed)
		return 1;
	if (run != planned) {
		printf("# planned %d test points but ran %d\n", planned, run);
		return 1;
	}
	return 0;
}

static void point(bool cond, const char *fmt, va_list ap)
{
	run++;
	if (!cond && !todo)
		failed++;
	printf("%sok %d - ", cond ? "" : "not ", run);
	vprintf(fmt, ap);
	if (todo)
		printf(" # TODO %s", todo);
	printf("\n");
}

void todo_start(const char *reason)
{
	todo = reason;
}

void todo_end(void)
{
	todo = NULL;
}

bool ok_(bool cond, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	point(cond, fmt, ap);
	va_end(ap);
	if (!cond)
		printf("#   failed at %s:%d\n", file, line);
	fflush(stdout);
	return cond;
}

bool is_int_(long long got, long long want, const char *file, int line,
	     const char *fmt, ...)
{
	va_list ap;
	bool cond = got == want;

	va_start(ap, fmt);
	point(cond, fmt, ap);
	va_end(ap);
	if (!cond)
		printf("#   failed at %s:%d\n#        got: %lld\n#   expected: %lld\n",
		       file, line, got, want);
	fflush(stdout);
	return cond;
}

bool is_str_(const char *got, const char *want, const char *file, int line,
	     const char *fmt, ...)
{
	va_list ap;
	bool cond;

	if (got == NULL || want == NULL)
		cond = got == want;
	else
		cond = strcmp(got, want) == 0;
	va_start(ap, fmt);
	point(cond, fmt, ap);
	va_end(ap);
	if (!cond)
		printf("#   failed at %s:%d\n#        got: \"%s\"\n#   expected: \"%s\"\n",
		       file, line, got ? got : "(null)", want ? want : "(null)");
	fflush(stdout);
	return cond;
}

void skip(int n, const char *fmt, ...)
{
	va_list ap;

	for (int i = 0; i < n; i++) {
		run++;
		printf("ok %d # SKIP ", run);
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf("\n");
	}
	fflush(stdout);
}

void diag(const char *fmt, ...)
{
	char text[8192];
	const char *line = text;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	/* Every line of a diagnostic is a comment, or TAP parsers choke. */
	for (;;) {
		size_t n = strcspn(line, "\n");

		printf("# %.*s\n", (int)n, line);
		if (!line[n] || !line[n + 1])
			break;
		line += n + 1;
	}
	fflush(stdout);
}

void bail_out(const char *fmt, ...)
{
	va_list ap;

	printf("Bail out! ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	exit(255);
}
