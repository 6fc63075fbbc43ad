/*
 * metrics.c - GET /metrics: the Prometheus scrape (a Herald extension;
 * docs/operations.md#metrics). The counters and their text are the
 * core's (hub/metrics.c); this handler decides who may read them and
 * adds what only live/ knows, the subscribers by transport.
 *
 * Access is its own setting, apart from the API's (config `metrics`):
 * off - the route is a 404, as if it did not exist; open - anyone who
 * reaches the port; token - `Authorization: Bearer <token>`, checked
 * against the token's SHA-256 from metrics-token-file (scrapers carry one
 * static token; the server never holds it in clear). A scrape without it
 * is a 401 with a JSON body and a WWW-Authenticate challenge.
 *
 * Cost of a scrape: O(routes x statuses) words of counters and two O(1)
 * reads of feed (metrics.h) - the same with one queue or a million.
 */
#include "buf.h"
#include "metrics.h"
#include "req.h"
#include "api/api.h"
#include "live/sub.h"

/* The registry's kinds, in the order of hub_metrics_sources. */
static const enum hub_sub_kind kinds[HUB_METRICS_TRANSPORTS] = {
	[HUB_METRICS_WS] = HUB_SUB_WS,
	[HUB_METRICS_STREAM] = HUB_SUB_STREAM,
	[HUB_METRICS_SSE] = HUB_SUB_SSE,
	[HUB_METRICS_LONGPOLL] = HUB_SUB_LONGPOLL,
	[HUB_METRICS_WEBHOOK] = HUB_SUB_WEBHOOK,
};

void hub_metrics_get(struct hub_req *r)
{
	struct hub_metrics_sources src = {.feed = r->feed,
					  .writer = r->writer};
	struct hub_buf b;

	switch (hub_metrics_access()) {
	case HUB_METRICS_OFF:
		hub_reply_error(r, 404, "404 Not Found", NULL);
		return;
	case HUB_METRICS_TOKEN:
		if (hub_metrics_token_ok(r->authorization))
			break;
		hub_metrics_reject(HUB_REJECT_METRICS_AUTH);
		hub_header(r, "WWW-Authenticate", "Bearer realm=\"metrics\"");
		hub_reply_error(r, 401, "Unauthorized",
				"The metrics need the scrape token: send "
				"Authorization: Bearer <token>.");
		return;
	case HUB_METRICS_OPEN:
		break;
	}
	for (size_t i = 0; i < HUB_METRICS_TRANSPORTS; i++)
		src.subscribers[i] = hub_sub_count_kind(r->subs, kinds[i]);
	hub_buf_init(&b, 0);
	hub_metrics_render(&b, &src);
	if (b.failed)
		hub_reply_error(r, 503, "Service temporarily unavailable",
				"Out of memory. Please try again in a few "
				"seconds.");
	else
		hub_reply_raw(r, 200, "text/plain; version=0.0.4; charset=utf-8",
			      b.data, b.len);
	hub_buf_free(&b);
}
