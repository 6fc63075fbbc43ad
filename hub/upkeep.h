/*
 * upkeep.h - the server's own writes on a timer, on loop 0 (upkeep.c):
 *
 *   compaction  every compact-interval, a step of at most compact-budget
 *               records through the writer (committed with whatever else
 *               is waiting); at once again while there is more
 *   flushing    durability = interval: feed_sync every sync-interval, a
 *               solo job after the writes queued before it
 *
 * Loop thread only.
 */
#ifndef HERALD_HUB_UPKEEP_H
#define HERALD_HUB_UPKEEP_H

struct hub_server;

/* Schedules both (the writer is running). */
void hub_upkeep_start(struct hub_server *srv);
/* Cancels their timers (the drain began). */
void hub_upkeep_stop(struct hub_server *srv);
/* The last flush, once the writer stopped: interval and nosync modes. */
void hub_upkeep_last_flush(struct hub_server *srv);

#endif
