/*
 * receiver.h - a webhook receiver for the tests: a small HTTP/1.1 server
 * on 127.0.0.1 (any free port), in a thread of the test program, that
 * records every POST it gets and answers each with the status the test
 * scripted (receiver.c). One request per connection, as Herald sends.
 */
#ifndef HERALD_TEST_RECEIVER_H
#define HERALD_TEST_RECEIVER_H

#include <stdbool.h>
#include <stddef.h>

struct rx_request {
	char *method, *path;
	char *headers; /* the raw header lines */
	char *body;    /* NUL-terminated */
	int answered;  /* the status it got */
};

struct rx;

/* Starts a receiver; bails out when it cannot. */
struct rx *rx_start(void);
/* One served by `threads` threads (at most 16) at once; with count_only
 * it keeps no request, only counts them (benchmarks). */
struct rx *rx_start_n(unsigned threads, bool count_only);
void rx_stop(struct rx *rx);
int rx_port(const struct rx *rx);
/* The status answered from now on (200 at first). */
void rx_answer(struct rx *rx, int status);
/* The next n requests get `status`, then the usual one again. */
void rx_answer_next(struct rx *rx, int n, int status);
/* Requests received so far. */
size_t rx_count(struct rx *rx);
/* Waits until at least n requests came, up to timeout_ms; true if so. */
bool rx_wait(struct rx *rx, size_t n, int timeout_ms);
/* Request i (0 = the first); valid until rx_stop. NULL past the end. */
const struct rx_request *rx_get(struct rx *rx, size_t i);
/* How many of the requests that were answered `status` have a body
 * containing `needle`. */
size_t rx_count_body(struct rx *rx, const char *needle, int status);

#endif /* HERALD_TEST_RECEIVER_H */
