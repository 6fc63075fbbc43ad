/*
 * harness.h - end-to-end tests of the herald server: start the real binary,
 * talk HTTP/1.1 to it over loopback, move its clock.
 *
 * The server under test is $HERALD_BIN. hh_start() runs
 *
 *     herald serve --listen 127.0.0.1:0 --data DIR/data \
 *                  --clock-file DIR/clock --log-level warn [extra args]
 *
 * in a fresh mkdtemp directory DIR, waits (with a timeout) for its one
 * stdout line "listening on 127.0.0.1:PORT" and keeps its stderr in
 * DIR/stderr.log, which is shown with diag() when something fails. The
 * clock file holds "now" in milliseconds since the epoch; tests move time
 * with hh_clock_advance() instead of sleeping.
 *
 * The client is deliberately small and blocking, on raw sockets, so that
 * tests can also send malformed requests byte for byte. Every read has a
 * timeout, a watchdog alarm ends a program that hangs, and the server is
 * killed when the program exits, however it exits.
 *
 *     struct hh_server srv;
 *     struct hh_client c;
 *     struct hh_resp r = HH_RESP_INIT;
 *
 *     hh_start(&srv, NULL);
 *     hh_client_init(&c, &srv, HH_CLIENT_A, "projA");
 *     hh_call(&c, &r, "PUT", "/v2/queues/q1", NULL);
 *     is(r.status, 201, "queue is created");
 *     ...
 *     hh_resp_free(&r);
 *     hh_client_close(&c);
 *     return hh_finish(&srv);   (pings, stops, checks exit 0, cleans up)
 *
 * Not thread-safe: one thread per test program.
 */
#ifndef HERALD_TEST_HARNESS_H
#define HERALD_TEST_HARNESS_H

#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tap.h"

/* Two well-formed client ids and the starting clock (2026-11-22T13:00:00Z). */
#define HH_CLIENT_A "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
#define HH_CLIENT_B "8e1f2c3a-1b2c-4d5e-8f90-a1b2c3d4e5f6"
#define HH_EPOCH_MS 1795352400000ULL
/* A well-formed UUID that names nothing. */
#define HH_NO_SUCH_ID "00000000-0000-4000-8000-000000000000"

/* ---------------------------------------------------------------- server */

struct hh_server {
	pid_t pid;               /* 0 when not running */
	int port;
	int out_fd;              /* the server's stdout, after the first line */
	char dir[PATH_MAX / 2];  /* the test's temporary directory */
	char data[PATH_MAX];     /* DIR/data: herald's --data */
	char clock[PATH_MAX];    /* DIR/clock: herald's --clock-file */
	char log[PATH_MAX];      /* DIR/stderr.log */
	uint64_t now_ms;         /* what the clock file says */
	char *extra[16];         /* extra arguments, kept for restarts */
	int n_extra;
	struct hh_server *prev;  /* started before it, still tracked */
};

/*
 * Starts the server in a fresh directory; `extra` is a NULL-terminated
 * list of more arguments (may be NULL). Arms a watchdog. Bails out (the
 * whole program) when the server does not come up.
 */
void hh_start(struct hh_server *s, const char *const *extra);
/* Sends SIGTERM and waits (with a timeout; then SIGKILL). Returns the exit
 * status, 128 + signal when killed by one, -1 on timeout. */
int hh_stop(struct hh_server *s);
/* Starts the server again on the same data directory and clock. Bails out
 * when it does not come up. */
void hh_restart(struct hh_server *s);
/* Sets the clock file to now_ms (atomically: written aside and renamed). */
void hh_clock_set(struct hh_server *s, uint64_t now_ms);
void hh_clock_advance(struct hh_server *s, uint64_t ms);
/* Shows the server's stderr with diag(). */
void hh_show_log(const struct hh_server *s);
/*
 * The end of every program: checks that the server still answers
 * GET /v2/ping with 204 and exits 0 on SIGTERM (two test points), shows
 * the server's log when any point failed, removes the directory and
 * returns exit_status().
 */
int hh_finish(struct hh_server *s);
/*
 * The end of a second server that ran beside the program's main one:
 * stops it (hh_stop's status), removes its directory and forgets it, so
 * the exit handler and the watchdog go on guarding the others.
 */
int hh_discard(struct hh_server *s);
/* Re-arms the watchdog: the program bails out after `seconds`. */
void hh_watchdog(unsigned seconds);

/* ---------------------------------------------------------------- client */

struct hh_client {
	const struct hh_server *srv;
	int fd;                 /* -1 when not connected */
	char *buf;              /* bytes read but not yet consumed */
	size_t len, cap;
	const char *client_id;  /* sent as Client-ID unless NULL */
	const char *project;    /* sent as X-Project-Id unless NULL */
	int connects;           /* TCP connections opened so far */
	int timeout_ms;         /* per read; default 5000 */
	bool eof_at_start;      /* the last hh_recv saw EOF before any byte */
	bool timed_out;         /* the last read timed out */
};

struct hh_header {
	char *name;
	char *value;
};

struct hh_resp {
	int status;              /* -1: no response (timeout, closed, garbage) */
	struct hh_header *h;
	size_t nh;
	char *body;              /* NUL-terminated copy; "" when none */
	size_t body_len;
	json_t *json;            /* body parsed as JSON, NULL when not JSON */
	bool closed;             /* the server closed the connection after it */
	bool timed_out;          /* status -1 because nothing came in time */
};
#define HH_RESP_INIT {.status = -1}

void hh_client_init(struct hh_client *c, const struct hh_server *s,
		    const char *client_id, const char *project);
void hh_client_close(struct hh_client *c);

/*
 * One request with the client's default headers (Host, Client-ID,
 * X-Project-Id), `headers` (more raw "Name: value\r\n" lines, may be NULL)
 * and `body` (NULL: no body and no Content-Length; "" : Content-Length 0).
 * With a body, Content-Type is application/json unless `headers` sets one.
 * Reconnects when the previous response closed the connection. Frees what
 * `r` held before. Returns r->status.
 */
int hh_call(struct hh_client *c, struct hh_resp *r, const char *method,
	    const char *path, const char *body);
int hh_callh(struct hh_client *c, struct hh_resp *r, const char *method,
	     const char *path, const char *headers, const char *body);
/* The same with a body of explicit length (may hold any byte). */
int hh_callb(struct hh_client *c, struct hh_resp *r, const char *method,
	     const char *path, const char *headers, const void *body,
	     size_t len);
/* Sends raw bytes (connecting first if needed). 0 when all went out, 1
 * when the server answered (or closed) before that, -1 on error. */
int hh_send(struct hh_client *c, const void *bytes, size_t len);
/* Reads one response; `head` when it answers a HEAD (no body). Returns
 * r->status, -1 when none came within the timeout or the connection
 * closed first. */
int hh_recv(struct hh_client *c, struct hh_resp *r, bool head);
/* Waits until the server closes the connection: true when it did within
 * the timeout (bytes that arrive meanwhile are discarded). */
bool hh_wait_closed(struct hh_client *c);
void hh_resp_free(struct hh_resp *r);

/* A response header, case-insensitively; NULL when absent. */
const char *hh_header(const struct hh_resp *r, const char *name);
/* True when the comma-separated header `name` lists `token`. */
bool hh_header_has(const struct hh_resp *r, const char *name,
		   const char *token);

/* --------------------------------------------------------------- helpers */

/* printf into one of 16 rotating static buffers of 8 KiB. */
const char *hh_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * Follows a dotted path ("messages.0.href") through objects and arrays.
 * Borrowed reference; NULL when anything along the way is missing.
 */
json_t *hh_get(json_t *root, const char *path);
/* The string at path, or NULL. */
const char *hh_gets(json_t *root, const char *path);
/* The integer at path, or LLONG_MIN. */
long long hh_geti(json_t *root, const char *path);
/* The size of the array at path, or -1. */
long long hh_len(json_t *root, const char *path);
/* True when `obj` is an object whose keys are exactly the comma-separated
 * `keys` (in any order). */
bool hh_keys_are(json_t *obj, const char *keys);
/* True when the body is JSON equal to `want` (JSON text). */
bool hh_json_eq(const struct hh_resp *r, const char *want);
/* The last path segment of an href, without its query (static buffer). */
const char *hh_href_id(const char *href);
/* The claim id after "claim_id=" in an href (static buffer), or NULL. */
const char *hh_href_claim(const char *href);
/* Copies src (or "" when NULL) into dst of size n. */
void hh_copy(char *dst, size_t n, const char *src);
/* The ids of a post's "resources", comma-joined (static buffer). */
const char *hh_resource_ids(const struct hh_resp *r);
/* A message's body as compact JSON text (static buffer). */
const char *hh_dump(json_t *j);
/* Seconds since the epoch as Zaqar's "YYYY-MM-DDTHH:MM:SSZ". */
const char *hh_time(uint64_t ms);

/*
 * Error checks, each three test points: the status, then the body's
 * "title" and "description" (desc NULL: the body must have no
 * description, as routing errors). `name` names the request.
 */
void hh_expect_error_(const struct hh_resp *r, int status, const char *title,
		      const char *desc, const char *file, int line,
		      const char *name);
#define expect_error(r, status, title, desc, name)                             \
	hh_expect_error_((r), (status), (title), (desc), __FILE__, __LINE__,   \
			 (name))
/*
 * A clear client error, two test points: the status is `status` (or any
 * 4xx when status is 0), and the body is a JSON object with a string
 * "title" and a string "description".
 */
void hh_expect_4xx_(const struct hh_resp *r, int status, const char *file,
		    int line, const char *name);
#define expect_4xx(r, status, name)                                            \
	hh_expect_4xx_((r), (status), __FILE__, __LINE__, (name))

/* ------------------------------------------------------- memory, load */

/* The server's anonymous resident memory (its heap, not the mapped data
 * file) in KiB; -1 when unknown. */
long hh_rss_anon_kb(const struct hh_server *s);
/* Whether the server runs under AddressSanitizer (whose quarantine keeps
 * freed memory resident, so RSS says nothing about buffering). */
bool hh_sanitized(const struct hh_server *s);
/* Posts `n` requests of 5 messages of 10 KB each (50 KB a request) to
 * queue; bails out on a failure. */
void hh_post_bulk(struct hh_client *c, const char *queue, int n);

/* ------------------------------------------------------- other programs */

/*
 * Runs argv[0] (searched in PATH) with argv, its stdout and stderr both
 * into the file out_path, and waits for it. *output (may be NULL) gets a
 * malloc'd copy of what it printed. Returns its exit status, 128 + signal
 * when killed by one, 127 when it could not be run.
 */
int hh_run(const char *const *argv, const char *out_path, char **output);
/*
 * Reads fd (another program's output) into buf (NUL-terminated, cap bytes,
 * appended to what it holds) until it holds `want` lines or nothing comes
 * for timeout_ms. Returns the lines it holds.
 */
int hh_read_lines(int fd, char *buf, size_t cap, int want, int timeout_ms);

/* The monotonic clock (real time, never the server's test clock): in
 * seconds with its nanoseconds, and in whole milliseconds. */
double hh_mono_s(void);
uint64_t hh_mono_ms(void);

/* Sends a request on c (its Client-ID and project, a JSON body or none)
 * without reading the answer: a long-poll to hold, pipelined bytes. */
void hh_send_request(struct hh_client *c, const char *method, const char *path,
		     const char *body);
/* Appends what fd has to read within ms to *buf (NUL-terminated, *len
 * bytes; realloc'd): false when nothing came or it closed. */
bool hh_read_some(int fd, char **buf, size_t *len, int ms);
/* hh_read_some until `needle` is in *buf (true) or a read waited ms. */
bool hh_read_until(int fd, char **buf, size_t *len, const char *needle, int ms);

#endif /* HERALD_TEST_HARNESS_H */
