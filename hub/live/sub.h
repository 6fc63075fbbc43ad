/*
 * sub.h - the subscriber registry: who waits on which queue (sub.c).
 */
#ifndef HERALD_HUB_LIVE_SUB_H
#define HERALD_HUB_LIVE_SUB_H

#include <libwebsockets.h>
#include <stddef.h>

struct hub_server;

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

#endif /* HERALD_HUB_LIVE_SUB_H */
