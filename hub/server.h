/*
 * server.h - the server's own state, shared by server.c, http.c and
 * writer.c. Handlers see only hub.h.
 */
#ifndef HERALD_HUB_SERVER_H
#define HERALD_HUB_SERVER_H

#include <libwebsockets.h>
#include <signal.h>

#include "hub.h"

struct hub_writer;
struct hub_subs;

struct hub_server {
	struct hub_config cfg;
	feed_t *feed;
	struct lws_context *ctx;
	struct lws_vhost *vhost;
	struct hub_writer *writer;
	struct hub_subs *subs;     /* sub.c */
	lws_dll2_owner_t held;     /* long-poll requests waiting (http.c) */
	lws_sorted_usec_list_t compact_sul;
	bool compacting;     /* a compaction job is queued or running */
	bool stopping;       /* SIGTERM/SIGINT seen: drain, then exit */
	unsigned inflight;   /* requests accepted, not yet fully answered */
};

/* The server's clock: the system clock, or the test clock file. */
uint64_t hub_server_now(const struct hub_server *srv);

/* Runs `herald serve` with a loaded configuration; returns the exit code. */
int hub_server_run(const struct hub_config *cfg);

/* ---------------------------------------------------------- writer.c */

/*
 * A deferred write. The loop thread fills it and submits it; the writer
 * thread runs it (grouping consecutive appends into one feed_append_group
 * call, so they share one commit) and hands it back; the loop thread then
 * calls done. `req` belongs to the loop thread only: it is cleared when the
 * client goes away while the job is out.
 */
struct hub_job {
	struct hub_job *next;
	struct hub_req *req;
	hub_run_fn run;        /* NULL for an append */
	feed_append_req_t *areq;
	hub_done_fn done;
	void *ctx;
	uint64_t now_ms;
	int rc;
};

int hub_writer_start(struct hub_server *srv);
/* Finishes every submitted job, then stops the thread. */
void hub_writer_stop(struct hub_server *srv);
void hub_writer_submit(struct hub_server *srv, struct hub_job *job);
/* Loop thread: calls `done` for every finished job (from the lws
 * EVENT_WAIT_CANCELLED callback). */
void hub_writer_collect(struct hub_server *srv);
/* Jobs submitted and not yet collected. */
unsigned hub_writer_busy(const struct hub_server *srv);

/* ------------------------------------------------------------- sub.c */

/*
 * A subscriber: a wake callback hung on one queue (see sub.c). Embed it
 * in the owner's state; zero it before the first attach.
 */
struct hub_sub {
	lws_dll2_t node;
	struct hub_subq *q; /* NULL while detached */
	void (*wake)(struct hub_sub *sub);
};

int hub_subs_init(struct hub_server *srv);
void hub_subs_free(struct hub_server *srv);
/* Hangs sub on (project, queue), moving it if attached elsewhere. */
int hub_sub_attach(struct hub_server *srv, struct hub_sub *sub,
		   const char *project, const char *queue);
/* Takes sub off its queue; no-op when detached. */
void hub_sub_detach(struct hub_server *srv, struct hub_sub *sub);
/* Wakes every subscriber of (project, queue) once. */
void hub_sub_notify(struct hub_server *srv, const char *project,
		    const char *queue);
size_t hub_sub_count(const struct hub_server *srv);

/* ------------------------------------------------------------ http.c */

extern const struct lws_protocols hub_http_protocol;

/* Ends every long-poll wait now: each held request answers (shutdown). */
void hub_http_release_holds(struct hub_server *srv);

#endif /* HERALD_HUB_SERVER_H */
