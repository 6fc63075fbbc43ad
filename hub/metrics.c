/*
 * metrics.c - the server's counters and histograms (metrics.h) and their
 * Prometheus text exposition, format 0.0.4 (docs/operations.md#metrics).
 *
 * State: one static struct, in parts on separate cache lines, one per
 * writing thread, so no thread's updates move another's lines (one loop
 * part per service loop, --loops; a scrape sums them):
 *
 *   loop part      HTTP requests by slot x status, latency histograms by
 *                  slot, bytes, rejections, posted and claimed messages,
 *                  compaction
 *   writer part    group commits: count, failures, size and duration
 *                  histograms, the last one's result; solo jobs
 *
 * A slot is a row of the route table (route.c) under one version prefix
 * (none, /v1, /v1.1, /v2) - the route label is the prefix plus the row's
 * pattern, never the path sent, so the label set is bounded by the table
 * - plus one slot per method for paths no row has ("unmatched"). Statuses
 * are counted in a fixed list, the rest as "other".
 *
 * Every word has one writer (metrics.h), so updates are plain adds
 * through relaxed atomics. Gauges are read at scrape time: the writer's
 * queue, subscribers by transport (counted by the registry, live/sub.c,
 * and handed in by the handler: O(1)),
 * feed's map (feed_env_info) and record totals (feed_env_totals: LMDB's
 * entry counts, O(1)).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <strings.h>

#include "log.h"
#include "metrics.h"
#include "route.h"
#include "writer.h"

/* ---------------------------------------------------------------- shape */

#define VERSIONS 4       /* none, v1, v1.1, v2 */
#define ROUTE_ROWS 96    /* at least the route table's rows */
#define SLOTS (ROUTE_ROWS * VERSIONS + HUB_METHOD_COUNT + 1)
#define UNMATCHED (ROUTE_ROWS * VERSIONS) /* + method */

static const int statuses[] = {
	200, 201, 204, 300, 301, 302, 304, 400, 401, 403, 404, 405, 406,
	409, 410, 411, 413, 414, 415, 416, 426, 429, 500, 501, 503,
};
#define N_STATUS (sizeof(statuses) / sizeof(*statuses) + 1) /* + other */

/* Seconds, as nanoseconds: latencies and commit times. */
static const uint64_t time_bounds[] = {
	100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000,
	25000000, 50000000, 100000000, 250000000, 500000000, 1000000000,
	2500000000u, 5000000000u, 10000000000u,
};
#define N_TIME (sizeof(time_bounds) / sizeof(*time_bounds))

/* Jobs per group commit. */
static const uint64_t size_bounds[] = {1, 2, 4, 8, 16, 32, 64, 128, 256,
				       512, 1024};
#define N_SIZE (sizeof(size_bounds) / sizeof(*size_bounds))

/* Buckets are kept per bucket (not cumulative) and summed at scrape. */
struct histo_time {
	hub_counter_t bucket[N_TIME + 1]; /* the last: +Inf */
	hub_counter_t sum;                /* nanoseconds */
};
struct histo_size {
	hub_counter_t bucket[N_SIZE + 1];
	hub_counter_t sum;
};

static const char *const reject_names[HUB_REJECT_COUNT] = {
	"body_too_large", "framing", "checks", "method", "pipelined",
	"shutting_down", "subscribers", "metrics_auth", "unauthenticated",
	"forbidden", "bad_signature",
};

static const char *const method_names[HUB_METHOD_COUNT + 1] = {
	"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other",
};

static const char *const version_prefixes[VERSIONS] = {"", "/v1", "/v1.1",
						       "/v2"};

/* A loop thread's counters: counters only (loop_totals sums them as an
 * array of words). */
struct loop_part {
	hub_counter_t requests[SLOTS][N_STATUS];
	struct histo_time latency[SLOTS];
	hub_counter_t rejected[HUB_REJECT_COUNT];
	hub_counter_t http_in, http_out, ws_in, ws_out;
	hub_counter_t posted, claimed;
	hub_counter_t compact_messages, compact_claims, compact_keys,
		compact_dropped, compact_subs;
	hub_counter_t connections; /* accepted onto this loop */
};
_Static_assert(sizeof(struct loop_part) % sizeof(hub_counter_t) == 0,
	       "a loop part is an array of counters");

static _Thread_local unsigned this_loop;   /* hub_metrics_loop() */
static _Atomic unsigned loops_seen = 1;    /* hub_metrics_loops() */
#define LP (&m.loop[this_loop])

static struct {
	_Alignas(64) struct loop_part loop[HUB_LOOPS_MAX];
	_Alignas(64) struct {
		hub_counter_t commits, failures, solo;
		hub_counter_t last_ns;
		_Atomic int last_rc;
		struct histo_size size;
		struct histo_time seconds;
	} writer;
} m;

/* token_sha256 is replaced on SIGHUP (loop 0) while other loops check
 * scrapes against it: the lock. */
static struct {
	enum hub_metrics_access access;
	unsigned char token_sha256[32];
	pthread_rwlock_t lock;
} access_cfg = {.lock = PTHREAD_RWLOCK_INITIALIZER};

/* ------------------------------------------------------------- updates */

static void time_observe(struct histo_time *h, uint64_t ns)
{
	size_t i = 0;

	while (i < N_TIME && ns > time_bounds[i])
		i++;
	hub_counter_add(&h->bucket[i], 1);
	hub_counter_add(&h->sum, ns);
}

static size_t version_index(enum hub_version v)
{
	return v == HUB_V1 ? 1 : v == HUB_V1_1 ? 2 : v == HUB_V2 ? 3 : 0;
}

static size_t slot_of(const struct hub_route_match *rm, enum hub_method method)
{
	size_t row;

	if (rm && rm->route) {
		row = hub_route_index(rm->route);
		if (row < ROUTE_ROWS)
			return row * VERSIONS + version_index(rm->version);
	}
	return UNMATCHED + (method < HUB_METHOD_COUNT ? method
						      : HUB_METHOD_COUNT);
}

static size_t status_index(int status)
{
	for (size_t i = 0; i < N_STATUS - 1; i++)
		if (statuses[i] == status)
			return i;
	return N_STATUS - 1;
}

void hub_metrics_http(const struct hub_route_match *rm,
		      enum hub_method method, int status,
		      uint64_t duration_ns, size_t bytes_in, size_t bytes_out,
		      bool stream)
{
	size_t slot = slot_of(rm, method);

	hub_counter_add(&LP->requests[slot][status_index(status)], 1);
	if (!stream)
		time_observe(&LP->latency[slot], duration_ns);
	hub_counter_add(&LP->http_in, bytes_in);
	hub_counter_add(&LP->http_out, bytes_out);
}

void hub_metrics_reject(enum hub_reject why)
{
	if (why < HUB_REJECT_COUNT)
		hub_counter_add(&LP->rejected[why], 1);
}

void hub_metrics_ws_bytes(size_t in, size_t out)
{
	hub_counter_add(&LP->ws_in, in);
	hub_counter_add(&LP->ws_out, out);
}

void hub_metrics_connection(void)
{
	hub_counter_add(&LP->connections, 1);
}

void hub_metrics_posted(size_t n)
{
	hub_counter_add(&LP->posted, n);
}

void hub_metrics_claimed(size_t n)
{
	hub_counter_add(&LP->claimed, n);
}

void hub_metrics_compacted(const feed_compact_result_t *res)
{
	hub_counter_add(&LP->compact_messages, res->messages);
	hub_counter_add(&LP->compact_claims, res->claims);
	hub_counter_add(&LP->compact_keys, res->keys);
	hub_counter_add(&LP->compact_dropped, res->dropped);
	hub_counter_add(&LP->compact_subs, res->subs);
}

void hub_metrics_group(size_t n, uint64_t duration_ns, int rc)
{
	size_t i = 0;

	while (i < N_SIZE && n > size_bounds[i])
		i++;
	hub_counter_add(&m.writer.size.bucket[i], 1);
	hub_counter_add(&m.writer.size.sum, n);
	time_observe(&m.writer.seconds, duration_ns);
	if (rc)
		hub_counter_add(&m.writer.failures, 1);
	atomic_store_explicit(&m.writer.last_rc, rc, memory_order_relaxed);
	atomic_store_explicit(&m.writer.last_ns, duration_ns,
			      memory_order_relaxed);
	/* Last: a reader that sees the count sees the rest (release). */
	atomic_store_explicit(&m.writer.commits,
			      hub_counter_get(&m.writer.commits) + 1,
			      memory_order_release);
}

void hub_metrics_solo(void)
{
	hub_counter_add(&m.writer.solo, 1);
}

void hub_metrics_last_commit(struct hub_metrics_commit *out)
{
	out->commits = atomic_load_explicit(&m.writer.commits,
					    memory_order_acquire);
	out->failures = hub_counter_get(&m.writer.failures);
	out->last_ns = hub_counter_get(&m.writer.last_ns);
	out->last_rc = atomic_load_explicit(&m.writer.last_rc,
					    memory_order_relaxed);
}

/* ------------------------------------------------------------ rendering */

static void family(struct hub_buf *b, const char *name, const char *type,
		   const char *help)
{
	hub_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
		       type);
}

static void sample(struct hub_buf *b, const char *name, const char *labels,
		   uint64_t v)
{
	hub_buf_printf(b, "%s%s%s%s %llu\n", name, labels[0] ? "{" : "",
		       labels, labels[0] ? "}" : "", (unsigned long long)v);
}

static void one(struct hub_buf *b, const char *name, const char *type,
		const char *help, uint64_t v)
{
	family(b, name, type, help);
	sample(b, name, "", v);
}

/* A histogram's series; labels "" or `a="b",` (a trailing comma). scale:
 * bounds and sum are divided by it (1e9: nanoseconds to seconds). */
static void histo(struct hub_buf *b, const char *name, const char *labels,
		  const uint64_t *bounds, size_t n, const hub_counter_t *bucket,
		  uint64_t sum, double scale)
{
	uint64_t acc = 0;
	size_t llen = strlen(labels);

	for (size_t i = 0; i <= n; i++) {
		acc += hub_counter_get(&bucket[i]);
		if (i < n)
			hub_buf_printf(b, "%s_bucket{%sle=\"%g\"} %llu\n", name,
				       labels, (double)bounds[i] / scale,
				       (unsigned long long)acc);
		else
			hub_buf_printf(b, "%s_bucket{%sle=\"+Inf\"} %llu\n",
				       name, labels, (unsigned long long)acc);
	}
	/* The labels without their trailing comma. */
	hub_buf_printf(b, "%s_sum%s%.*s%s %.9g\n", name, llen ? "{" : "",
		       (int)(llen ? llen - 1 : 0), labels, llen ? "}" : "",
		       (double)sum / scale);
	hub_buf_printf(b, "%s_count%s%.*s%s %llu\n", name, llen ? "{" : "",
		       (int)(llen ? llen - 1 : 0), labels, llen ? "}" : "",
		       (unsigned long long)acc);
}

/* A slot's labels route="...",method="...", (trailing comma). */
static void slot_labels(size_t slot, char *out, size_t len)
{
	const char *pattern;
	enum hub_method method;
	unsigned versions;

	if (slot >= UNMATCHED) {
		snprintf(out, len, "route=\"unmatched\",method=\"%s\",",
			 method_names[slot - UNMATCHED]);
		return;
	}
	hub_route_row(slot / VERSIONS, &pattern, &method, &versions);
	/* "/v2" + "/" is the version's root: "/v2/". */
	snprintf(out, len, "route=\"%s%s\",method=\"%s\",",
		 version_prefixes[slot % VERSIONS], pattern,
		 method_names[method]);
}

static bool slot_used(const struct loop_part *t, size_t slot)
{
	for (size_t s = 0; s < N_STATUS; s++)
		if (hub_counter_get(&t->requests[slot][s]))
			return true;
	return false;
}

static void render_http(struct hub_buf *b, const struct loop_part *t)
{
	char labels[200];

	family(b, "herald_http_requests_total", "counter",
	       "HTTP requests answered, by route pattern, method and status");
	for (size_t slot = 0; slot < SLOTS; slot++) {
		if (!slot_used(t, slot))
			continue;
		slot_labels(slot, labels, sizeof(labels));
		for (size_t s = 0; s < N_STATUS; s++) {
			uint64_t v = hub_counter_get(&t->requests[slot][s]);
			char all[260];

			if (!v)
				continue;
			if (s < N_STATUS - 1)
				snprintf(all, sizeof(all), "%scode=\"%d\"",
					 labels, statuses[s]);
			else
				snprintf(all, sizeof(all), "%scode=\"other\"",
					 labels);
			sample(b, "herald_http_requests_total", all, v);
		}
	}
	family(b, "herald_http_request_duration_seconds", "histogram",
	       "Time from a request's headers to its answer's last byte "
	       "(streams excluded), by route pattern and method");
	for (size_t slot = 0; slot < SLOTS; slot++) {
		if (!slot_used(t, slot))
			continue;
		slot_labels(slot, labels, sizeof(labels));
		histo(b, "herald_http_request_duration_seconds", labels,
		      time_bounds, N_TIME, t->latency[slot].bucket,
		      hub_counter_get(&t->latency[slot].sum), 1e9);
	}
	family(b, "herald_http_rejected_total", "counter",
	       "Requests refused before their handler, by reason");
	for (size_t i = 0; i < HUB_REJECT_COUNT; i++) {
		snprintf(labels, sizeof(labels), "reason=\"%s\"",
			 reject_names[i]);
		sample(b, "herald_http_rejected_total", labels,
		       hub_counter_get(&t->rejected[i]));
	}
	family(b, "herald_received_bytes_total", "counter",
	       "Payload bytes received: HTTP request bodies, WebSocket "
	       "frames");
	sample(b, "herald_received_bytes_total", "transport=\"http\"",
	       hub_counter_get(&t->http_in));
	sample(b, "herald_received_bytes_total", "transport=\"ws\"",
	       hub_counter_get(&t->ws_in));
	family(b, "herald_sent_bytes_total", "counter",
	       "Payload bytes sent: HTTP response bodies (streams included), "
	       "WebSocket frames");
	sample(b, "herald_sent_bytes_total", "transport=\"http\"",
	       hub_counter_get(&t->http_out));
	sample(b, "herald_sent_bytes_total", "transport=\"ws\"",
	       hub_counter_get(&t->ws_out));
}

static void render_writer(struct hub_buf *b, struct hub_writer *w)
{
	one(b, "herald_group_commits_total", "counter",
	    "Group commits: write transactions of the writer thread",
	    hub_counter_get(&m.writer.commits));
	one(b, "herald_group_commit_failures_total", "counter",
	    "Group commits whose transaction failed",
	    hub_counter_get(&m.writer.failures));
	family(b, "herald_group_commit_jobs", "histogram",
	       "Jobs (requests' writes) per group commit");
	histo(b, "herald_group_commit_jobs", "", size_bounds, N_SIZE,
	      m.writer.size.bucket, hub_counter_get(&m.writer.size.sum), 1);
	family(b, "herald_group_commit_duration_seconds", "histogram",
	       "Time of a group commit, its fsync included (durability sync)");
	histo(b, "herald_group_commit_duration_seconds", "", time_bounds,
	      N_TIME, m.writer.seconds.bucket,
	      hub_counter_get(&m.writer.seconds.sum), 1e9);
	one(b, "herald_writer_solo_jobs_total", "counter",
	    "Writer jobs run alone, outside any group commit",
	    hub_counter_get(&m.writer.solo));
	one(b, "herald_writer_pending_jobs", "gauge",
	    "Writes submitted to the writer and not yet answered",
	    w ? hub_writer_busy(w) : 0);
}

static void render_messages(struct hub_buf *b, const struct loop_part *t)
{
	one(b, "herald_messages_posted_total", "counter",
	    "Messages stored by posts (repeats of idempotency keys not "
	    "counted)", hub_counter_get(&t->posted));
	one(b, "herald_messages_claimed_total", "counter",
	    "Messages handed out by claims", hub_counter_get(&t->claimed));
	family(b, "herald_compaction_removed_total", "counter",
	       "Records compaction removed, by kind");
	sample(b, "herald_compaction_removed_total", "kind=\"messages\"",
	       hub_counter_get(&t->compact_messages));
	sample(b, "herald_compaction_removed_total", "kind=\"claims\"",
	       hub_counter_get(&t->compact_claims));
	sample(b, "herald_compaction_removed_total", "kind=\"keys\"",
	       hub_counter_get(&t->compact_keys));
	sample(b, "herald_compaction_removed_total", "kind=\"dropped\"",
	       hub_counter_get(&t->compact_dropped));
	sample(b, "herald_compaction_removed_total", "kind=\"subscriptions\"",
	       hub_counter_get(&t->compact_subs));
}

static void render_live(struct hub_buf *b, const uint64_t *subscribers)
{
	static const char *const labels[HUB_METRICS_TRANSPORTS] = {
		"transport=\"ws\"", "transport=\"stream\"",
		"transport=\"sse\"", "transport=\"long-poll\"",
		"transport=\"webhook\"",
	};

	family(b, "herald_subscribers", "gauge",
	       "Live subscribers attached, by transport");
	for (size_t i = 0; i < HUB_METRICS_TRANSPORTS; i++)
		sample(b, "herald_subscribers", labels[i], subscribers[i]);
}

static void render_storage(struct hub_buf *b, feed_t *feed)
{
	feed_env_info_t info = {0};
	feed_env_totals_t t = {0};
	bool up = feed && feed_env_info(feed, &info) == 0 &&
		  feed_env_totals(feed, &t) == 0;

	one(b, "herald_storage_up", "gauge",
	    "1 when storage answered this scrape's reads", up);
	one(b, "herald_queues", "gauge", "Queues that exist (topics included)",
	    t.queues);
	one(b, "herald_messages_stored", "gauge",
	    "Message records stored (expired ones compaction has not "
	    "removed yet included)", t.messages);
	one(b, "herald_claims_stored", "gauge",
	    "Claim records not released yet (expired ones included)",
	    t.claims);
	one(b, "herald_lmdb_map_size_bytes", "gauge",
	    "LMDB map size now (it grows by doubling)", info.map_size);
	one(b, "herald_lmdb_map_max_bytes", "gauge",
	    "The most the LMDB map may grow to (max-map-size)",
	    info.max_map_size);
	one(b, "herald_lmdb_map_used_bytes", "gauge",
	    "LMDB pages in use by the last commit, bytes", info.used_bytes);
	one(b, "herald_lmdb_readers", "gauge", "LMDB reader slots in use",
	    info.readers);
}

/* The connections each service loop was given (--loops). */
static void render_loops(struct hub_buf *b)
{
	unsigned n = atomic_load_explicit(&loops_seen, memory_order_relaxed);
	char labels[32];

	family(b, "herald_loop_connections_total", "counter",
	       "Connections accepted, by the service loop that serves them");
	for (unsigned i = 0; i < n; i++) {
		snprintf(labels, sizeof(labels), "loop=\"%u\"", i);
		sample(b, "herald_loop_connections_total", labels,
		       hub_counter_get(&m.loop[i].connections));
	}
}

/* Every loop part's counters, summed into *t. */
static void loop_totals(struct loop_part *t)
{
	const size_t words = sizeof(*t) / sizeof(hub_counter_t);
	unsigned n = atomic_load_explicit(&loops_seen, memory_order_relaxed);
	hub_counter_t *out = (hub_counter_t *)t;

	for (size_t w = 0; w < words; w++) {
		uint64_t v = 0;

		for (unsigned i = 0; i < n; i++)
			v += hub_counter_get((const hub_counter_t *)&m.loop[i] + w);
		atomic_init(&out[w], v);
	}
}

void hub_metrics_render(struct hub_buf *b,
			const struct hub_metrics_sources *src)
{
	struct loop_part *t = malloc(sizeof(*t));

	if (!t) {
		hub_buf_printf(b, "# out of memory\n");
		return;
	}
	loop_totals(t);
	render_http(b, t);
	render_writer(b, src->writer);
	render_messages(b, t);
	render_loops(b);
	free(t);
	render_live(b, src->subscribers);
	render_storage(b, src->feed);
}

/* --------------------------------------------------------------- access */

/* Reads the token's SHA-256 (64 hex digits, first line) from path into
 * out; on failure says why and leaves out alone. */
static int load_token_hash(const char *path, unsigned char out[32])
{
	unsigned char digest[32];
	char line[256];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f) {
		fprintf(stderr, "herald: cannot read metrics-token-file %s: "
			"%s\n", path, strerror(errno));
		return -1;
	}
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	fclose(f);
	n = strcspn(line, " \t\r\n");
	line[n] = '\0';
	if (n != 64 ||
	    OPENSSL_hexstr2buf_ex(digest, 32, &n, line, '\0') != 1 ||
	    n != 32) {
		fprintf(stderr, "herald: metrics-token-file %s must start with "
			"the token's SHA-256 as 64 hex digits (e.g. the output "
			"of: printf %%s TOKEN | sha256sum)\n", path);
		return -1;
	}
	memcpy(out, digest, 32);
	return 0;
}

/* Whether the listen address is a loopback one. */
static bool loopback(const char *host)
{
	return strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0 ||
	       strcmp(host, "[::1]") == 0 || strcmp(host, "localhost") == 0;
}

int hub_metrics_configure(const struct hub_config *cfg)
{
	const char *mode = cfg->metrics;

	access_cfg.access = HUB_METRICS_OFF;
	memset(access_cfg.token_sha256, 0, sizeof(access_cfg.token_sha256));
	if (!mode[0])
		mode = loopback(cfg->listen_host) ? "open" : "off";
	if (strcmp(mode, "off") == 0) {
		access_cfg.access = HUB_METRICS_OFF;
	} else if (strcmp(mode, "open") == 0) {
		access_cfg.access = HUB_METRICS_OPEN;
	} else if (strcmp(mode, "token") == 0) {
		if (!cfg->metrics_token_file[0]) {
			fprintf(stderr, "herald: metrics = token needs "
				"metrics-token-file\n");
			return -1;
		}
		if (load_token_hash(cfg->metrics_token_file,
				    access_cfg.token_sha256))
			return -1;
		access_cfg.access = HUB_METRICS_TOKEN;
	} else {
		fprintf(stderr, "herald: bad value for metrics: \"%s\" (off, "
			"open or token)\n", mode);
		return -1;
	}
	/* Said once, so that a 404 at /metrics is never a mystery. */
	hub_log(HUB_LOG_INFO, "metrics: GET /metrics is %s%s", mode,
		cfg->metrics[0] ? "" : " (the default for this listen address)");
	return 0;
}

void hub_metrics_loops(unsigned n)
{
	atomic_store(&loops_seen, n >= 1 && n <= HUB_LOOPS_MAX ? n : 1);
}

void hub_metrics_loop(unsigned loop)
{
	this_loop = loop < HUB_LOOPS_MAX ? loop : 0;
}

void hub_metrics_reload(const struct hub_config *cfg)
{
	unsigned char fresh[32];

	if (access_cfg.access != HUB_METRICS_TOKEN)
		return;
	if (load_token_hash(cfg->metrics_token_file, fresh)) {
		hub_log(HUB_LOG_ERROR, "metrics: reload failed: the scrape "
			"token stays as it was");
		return;
	}
	pthread_rwlock_wrlock(&access_cfg.lock);
	memcpy(access_cfg.token_sha256, fresh, sizeof(fresh));
	pthread_rwlock_unlock(&access_cfg.lock);
	hub_log(HUB_LOG_INFO, "metrics: token file reloaded");
}

enum hub_metrics_access hub_metrics_access(void)
{
	return access_cfg.access;
}

bool hub_metrics_token_ok(const char *authorization)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	const char *token;
	bool ok;

	if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
		return false;
	token = authorization + 7;
	while (*token == ' ')
		token++;
	if (!*token || !EVP_Digest(token, strlen(token), md, &md_len,
				   EVP_sha256(), NULL) || md_len != 32)
		return false;
	/* Hashes compared: the time says nothing of the token. */
	pthread_rwlock_rdlock(&access_cfg.lock);
	ok = CRYPTO_memcmp(md, access_cfg.token_sha256, 32) == 0;
	pthread_rwlock_unlock(&access_cfg.lock);
	return ok;
}
