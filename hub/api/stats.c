/*
 * stats.c - what a queue holds now: Zaqar's stats (GET .../stats, every
 * version; a topic's, GET /v2/topics/{t}/stats) and Herald's counters for
 * rates (GET /v2/queues/{q}/counters).
 *
 * Both are one feed_queue_stats() read on the loop thread: O(log n) plus
 * the expired messages compaction has not yet removed, never a walk of the
 * queue. A missing queue reads as empty, except on v1, which alone tells a
 * missing queue (404) from an empty one over HTTP - and Zaqar's WebSocket
 * queue_get_stats, which answers it 404 with the zeros: the stats reply
 * records FEED_ENOQUEUE in reply.feed_err for it to tell.
 *
 * Zaqar's mongodb driver gives the oldest and newest as {id, age,
 * created}; its HTTP resource swaps the id for an href, its WebSocket
 * transport passes them as they are. So the HTTP body has the hrefs and
 * the ids go along as data (reply.msgs: [{"id": oldest}, {"id": newest}])
 * for the WebSocket's frame.
 */
#include <stdlib.h>
#include <string.h>

#include "req.h"
#include "api/api.h"
#include "render.h"

/* {"age", "created", "href"} of the oldest or newest message. */
static json_t *stats_ref(const struct hub_req *r, const feed_msg_ref_t *m,
			 const char *queue_href)
{
	uint64_t age_ms = r->now_ms > m->created_ms ? r->now_ms - m->created_ms
						    : 0;
	char created[32];

	hub_time_format(created, m->created_ms);
	return json_pack("{s:I, s:s, s:s++}", "age",
			 (json_int_t)hub_secs(age_ms), "created", created,
			 "href", queue_href, "/messages/", m->id);
}

/* The stats of r's queue (zeros when it does not exist: *exists false).
 * False after replying the error, naming `what` ("Queue", "Topic"). */
static bool stats_load(struct hub_req *r, const char *what,
		       feed_queue_stats_t *st, bool *exists)
{
	int rc = feed_queue_exists(r->feed, r->project, r->queue, exists);

	memset(st, 0, sizeof(*st));
	if (rc == 0 && *exists)
		rc = feed_queue_stats(r->feed, r->project, r->queue, r->now_ms,
				      st);
	if (rc)
		hub_reply_feed_error(r, rc, what);
	return rc == 0;
}

/* The oldest and newest messages into msgs, when there are any. */
static void stats_ends(const struct hub_req *r, const feed_queue_stats_t *st,
		       json_t *msgs)
{
	char *href;

	if (!st->total)
		return;
	href = hub_queue_href(r, r->queue);
	json_object_set_new(msgs, "oldest",
			    stats_ref(r, &st->oldest, href ? href : ""));
	json_object_set_new(msgs, "newest",
			    stats_ref(r, &st->newest, href ? href : ""));
	free(href);
}

void hub_queue_stats(struct hub_req *r)
{
	feed_queue_stats_t st;
	bool exists = true;
	json_t *msgs;
	char tail[FEED_ID_LEN + 1];

	if (!stats_load(r, "Queue", &st, &exists))
		return;
	/* v1 alone tells a missing queue from an empty one over HTTP. */
	if (!exists && r->version == HUB_V1) {
		hub_reply_feed_error(r, FEED_ENOQUEUE, "Queue");
		return;
	}
	msgs = json_pack("{s:I, s:I, s:I}", "claimed", (json_int_t)st.claimed,
			 "free", (json_int_t)st.free, "total",
			 (json_int_t)st.total);
	stats_ends(r, &st, msgs);
	if (r->version == HUB_V1)
		hub_header(r, "Content-Location", "%s", r->path);
	/* Herald-Tail (a Herald extension): the marker from which a read
	 * gets exactly what is appended after this answer - a subscriber
	 * of another node starts "from now" with it (transport/remote.c). */
	if (feed_queue_tail(r->feed, r->project, r->queue, tail) == 0 &&
	    tail[0])
		hub_header(r, "Herald-Tail", "%s", tail);
	hub_reply(r, 200, json_pack("{s:o}", "messages", msgs));
	if (!exists)
		r->reply.feed_err = FEED_ENOQUEUE; /* the zeros of no queue */
	if (st.total && r->wants_msg_data)
		hub_reply_set_msgs(r, json_pack("[{s:s}, {s:s}]", "id",
						st.oldest.id, "id",
						st.newest.id));
}

/*
 * A topic's stats, as Zaqar's mongodb driver gives them (its
 * MessageTopicHandler): {"total"} and, when there are messages, the oldest
 * and newest - no claimed or free, as a topic has no claims. A missing
 * topic reads as Zaqar's zeros, claimed and free included.
 */
void hub_topic_stats(struct hub_req *r)
{
	feed_queue_stats_t st;
	bool exists = true;
	json_t *msgs;

	if (!stats_load(r, "Topic", &st, &exists))
		return;
	if (!exists) {
		hub_reply(r, 200, json_pack("{s:{s:i, s:i, s:i}}", "messages",
					    "claimed", 0, "free", 0, "total",
					    0));
		return;
	}
	msgs = json_pack("{s:I}", "total", (json_int_t)st.total);
	stats_ends(r, &st, msgs);
	hub_reply(r, 200, json_pack("{s:o}", "messages", msgs));
}

/*
 * Herald's extension for rates (the dashboard's messages in and out per
 * second): monotonic counters that a client differences over time. Zaqar's
 * stats body stays exactly Zaqar's. {"posted": messages ever posted to this
 * generation of the queue, "total": live now, "claimed": claimed now,
 * "time_ms": the server's clock}; posted - total have gone (consumed or
 * expired). A missing queue reads as all zeros.
 */
void hub_queue_counters(struct hub_req *r)
{
	feed_queue_stats_t st;
	int rc = feed_queue_stats(r->feed, r->project, r->queue, r->now_ms,
				  &st);

	if (rc) {
		hub_reply_feed_error(r, rc, "Queue");
		return;
	}
	hub_reply(r, 200, json_pack("{s:I, s:I, s:I, s:I}", "posted",
				    (json_int_t)st.posted, "total",
				    (json_int_t)st.total, "claimed",
				    (json_int_t)st.claimed, "time_ms",
				    (json_int_t)r->now_ms));
}
