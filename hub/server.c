/*
 * server.c - `herald serve`: opens the storage, starts the writer thread,
 * runs the libwebsockets loops, and shuts down cleanly; compaction and the
 * interval flush run on loop 0's timers (upkeep.c).
 *
 * Shutdown (SIGTERM or SIGINT): new requests get 503 with
 * "Connection: close"; requests in flight are finished, their writes
 * committed and their responses sent (for at most DRAIN_MS); then the
 * writer finishes what it holds, the loop and its connections go, and the
 * environment is closed. Exit status 0.
 *
 * The core knows no transport's code: main.c hands the HTTP and WebSocket
 * protocols in; the server adds one of its own ("herald-core", last) that
 * collects the writer's finished jobs when the loop is woken
 * (EVENT_WAIT_CANCELLED), and tells the transports to drain with
 * HUB_CALLBACK_DRAIN.
 *
 * Service loops (--loops N, docs/configuration.md): Debian's lws 4.1.6
 * has one service thread per context, so N loops are N contexts, each
 * run by a thread of its own (loop 0 by the main thread) with its own
 * vhost - made the same way, TLS included - its own subscriber registry
 * (so a queue's shared tail is rendered once per loop), its own held
 * requests and timers. Only loop 0's vhost listens:
 *
 *   loop 0: accept()  FILTER_NETWORK_CONNECTION: the next loop in turn;
 *           not loop 0: dup the socket into that loop's inbox, wake it
 *           (lws_cancel_service), tell lws to drop its own copy
 *   loop k: EVENT_WAIT_CANCELLED: adopt each inbox socket into its vhost
 *           as lws's listener would (lws_adopt_descriptor_vhost)
 *
 * A connection lives on one loop. The writer stays one thread: each job
 * goes back to the loop that sent it, and every committed append wakes
 * every loop's subscribers of the queue (writer.c). Compaction, flushes
 * and webhooks run on loop 0. Signals wake every loop; each drains its
 * own requests. What the loops share is thread-safe where it is written:
 * the subscriber totals (atomics), metrics (a part per loop), the
 * certificate (a lock, tls.c), the webhook deliverer (a mailbox,
 * hooks.c); the credentials are each loop's own copy.
 *
 * Durability (config.h, docs/storage.md#durability): in sync mode feed
 * flushes every commit before its write is answered; in interval mode
 * upkeep.c flushes on a timer; in interval and nosync modes the server
 * flushes once more when it stops, after the writer finished.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"
#include "auth.h"
#include "cluster.h"
#include "config.h"
#include "metrics.h"
#include "req.h"
#include "clock.h"
#include "server.h"
#include "tls.h"
#include "upkeep.h"
#include "writer.h"
#include "live/hooks.h"
#include "live/sub.h"

#define DRAIN_MS 10000

/* The service loops of the process. */
struct hub_loops {
	unsigned n;
	struct hub_server *loop[HUB_LOOPS_MAX];
	pthread_t thread[HUB_LOOPS_MAX];
	bool running[HUB_LOOPS_MAX]; /* thread started, not yet joined */
	unsigned next;               /* the turn: loop 0's thread only */
	struct hub_sub_totals subs;  /* every registry counts here */
};

static volatile sig_atomic_t got_signal;
/* SIGHUPs so far: each loop reloads when its count is behind. */
static volatile sig_atomic_t hup_count;
/* The contexts a signal wakes; set before the handler is installed. */
static struct lws_context *signal_ctx[HUB_LOOPS_MAX];
static unsigned signal_n;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		hup_count++;
	else
		got_signal = 1;
	for (unsigned i = 0; i < signal_n; i++)
		if (signal_ctx[i])
			lws_cancel_service(signal_ctx[i]);
}

/* --------------------------------------------------------------- serving */

/*
 * Accept back-off (issue #12, hostile testing, defect 2). Out of file
 * descriptors, accept() fails with EMFILE while the connection waits in
 * the backlog: lws 4.1.6 logs "accept: errno 24" and polls the listening
 * socket again at once - a spin of some 150,000 lines a second. lws only
 * stops polling it when its own fd table is full, which the data file,
 * the writer's pipes and the webhooks' sockets keep from happening. So:
 * lws's line is taken as the signal (it is the only one lws gives); the
 * loop then stops polling the listening socket for ACCEPT_PAUSE_MS (the
 * connections open are served meanwhile; new ones wait in the kernel's
 * backlog) and says so once per ACCEPT_LOG_MS, with the count of failed
 * accepts. lws itself polls it again as soon as a connection closes;
 * the timer does it when what ran out was not ours.
 */
#define ACCEPT_PAUSE_MS 1000
#define ACCEPT_LOG_MS 10000

/* lws's last failed accept, for serve() on loop 0 (lws logs from every
 * loop's thread; only loop 0 accepts). */
static _Atomic int accept_errno;

/* Whether an accept error says resources ran out (pause), rather than
 * that one client went away (ECONNABORTED: accept the next). */
static bool accept_starved(int err)
{
	return err == EMFILE || err == ENFILE || err == ENOBUFS ||
	       err == ENOMEM;
}

static void lws_emit(int level, const char *line)
{
	size_t n = strlen(line);
	int err;

	if (sscanf(line, "accept: errno %d", &err) == 1 &&
	    accept_starved(err)) {
		accept_errno = err; /* serve() logs it, once an interval */
		return;
	}
	while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	hub_log(level == LLL_ERR ? HUB_LOG_ERROR : HUB_LOG_WARN, "lws: %.*s",
		(int)n, line);
}

/*
 * One server per data directory. LMDB lets several processes open an
 * environment (that is how `herald backup` reads beside the server), so
 * it would not stop a second `herald serve` on the same directory - whose
 * subscribers would never hear of the first one's commits. An exclusive
 * flock on DATA/herald.lock, held for the process's life (the kernel
 * drops it when the process ends, however it ends), does. It is no LMDB
 * file and no part of a backup.
 */
static int dir_lock_fd = -1;

static int lock_data_dir(const char *dir)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/herald.lock", dir);
	dir_lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (dir_lock_fd < 0) {
		hub_log(HUB_LOG_ERROR, "cannot open %s: %s", path,
			strerror(errno));
		return -1;
	}
	if (flock(dir_lock_fd, LOCK_EX | LOCK_NB) == 0)
		return 0;
	if (errno == EWOULDBLOCK)
		hub_log(HUB_LOG_ERROR, "another herald serve has %s open (it "
			"holds %s)", dir, path);
	else
		hub_log(HUB_LOG_ERROR, "cannot lock %s: %s", path,
			strerror(errno));
	close(dir_lock_fd);
	dir_lock_fd = -1;
	return -1;
}

static void accept_resume(lws_sorted_usec_list_t *sul)
{
	struct hub_server *srv =
		lws_container_of(sul, struct hub_server, accept_sul);

	srv->accept_paused = false;
	lws_rx_flow_control(srv->listen_wsi, 1);
}

/* After a failed accept (accept_errno): the pause, and the line. */
static void accept_pause(struct hub_server *srv, int err)
{
	uint64_t now = hub_mono_ms();

	srv->accept_failures++;
	if (srv->listen_wsi && !srv->accept_paused) {
		srv->accept_paused = true;
		lws_rx_flow_control(srv->listen_wsi, 0);
		lws_sul_schedule(srv->ctx, 0, &srv->accept_sul, accept_resume,
				 ACCEPT_PAUSE_MS * LWS_US_PER_MS);
	}
	if (srv->accept_logged_ms &&
	    now - srv->accept_logged_ms < ACCEPT_LOG_MS)
		return;
	hub_log(HUB_LOG_ERROR, "cannot accept connections: %s (errno %d); "
		"new connections wait %d ms at a time, the open ones are "
		"served (%lu failed accepts since the last such line)",
		strerror(err), err, ACCEPT_PAUSE_MS, srv->accept_failures);
	srv->accept_logged_ms = now;
	srv->accept_failures = 0;
}

/*
 * The vhost's listening wsi, which lws does not hand out: the one
 * listening socket of ours among the open descriptors (wsi_from_fd() is
 * lws's own lookup; it reads its table unchecked, so only below the fd
 * limit the table was sized by).
 */
static struct lws *listen_wsi_find(struct lws_context *ctx)
{
	struct rlimit rl;
	int max = 1024;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)max)
		max = (int)rl.rlim_cur;
	for (int fd = 0; fd < max; fd++) {
		int on = 0;
		socklen_t len = sizeof(on);

		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == 0 &&
		    on && wsi_from_fd(ctx, fd))
			return wsi_from_fd(ctx, fd);
	}
	hub_log(HUB_LOG_WARN, "the listening socket was not found: no "
		"back-off when accept() runs out of descriptors");
	return NULL;
}

static int open_storage(struct hub_server *srv)
{
	feed_options_t opts = {
		.map_size = srv->cfg.map_size,
		.max_map_size = srv->cfg.max_map_size,
		.durability = srv->cfg.durability == HUB_DURABILITY_SYNC
				      ? FEED_SYNC : FEED_NOSYNC,
		.max_metadata = srv->cfg.limits.max_queue_metadata,
	};
	int rc;

	if (mkdir(srv->cfg.data_dir, 0755) && errno != EEXIST) {
		hub_log(HUB_LOG_ERROR, "cannot create data directory %s: %s",
			srv->cfg.data_dir, strerror(errno));
		return -1;
	}
	if (lock_data_dir(srv->cfg.data_dir))
		return -1;
	rc = feed_open(&srv->feed, srv->cfg.data_dir, &opts);
	if (rc) {
		hub_log(HUB_LOG_ERROR, "cannot open storage in %s: %s",
			srv->cfg.data_dir, feed_strerror(rc));
		return -1;
	}
	return 0;
}

/* ---------------------------------------------------- handing sockets */

/* Loop 0, in lws's accept: hands the socket fd to the next loop in turn.
 * true: handed (lws is to close its own descriptor); false: loop 0
 * serves it (its turn; stopping; or no descriptor or memory to hand it
 * with). */
static bool hand_out(struct hub_server *srv, int fd)
{
	struct hub_loops *loops = srv->loops;
	struct hub_server *to;
	int copy;

	if (loops->n < 2 || got_signal)
		return false;
	to = loops->loop[loops->next++ % loops->n];
	if (to == srv)
		return false;
	copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (copy < 0)
		return false;
	pthread_mutex_lock(&to->inbox_lock);
	if (to->inbox_n == to->inbox_cap) {
		size_t cap = to->inbox_cap ? to->inbox_cap * 2 : 64;
		int *more = realloc(to->inbox, cap * sizeof(*more));

		if (!more) {
			pthread_mutex_unlock(&to->inbox_lock);
			close(copy);
			return false;
		}
		to->inbox = more;
		to->inbox_cap = cap;
	}
	to->inbox[to->inbox_n++] = copy;
	pthread_mutex_unlock(&to->inbox_lock);
	lws_cancel_service(to->ctx);
	return true;
}

/* Loop k, woken: adopts the sockets handed to it, as lws's listener does
 * (lib/roles/listen/ops-listen.c: a socket, HTTP first, TLS if the vhost
 * has it). A socket lws cannot adopt it closes itself. */
static void adopt_inbox(struct hub_server *srv)
{
	lws_sock_file_fd_type fd;
	int *list, type = LWS_ADOPT_SOCKET | LWS_ADOPT_HTTP;
	size_t n;

	if (srv->tls)
		type |= LWS_ADOPT_ALLOW_SSL;
	pthread_mutex_lock(&srv->inbox_lock);
	list = srv->inbox;
	n = srv->inbox_n;
	srv->inbox = NULL;
	srv->inbox_n = srv->inbox_cap = 0;
	pthread_mutex_unlock(&srv->inbox_lock);
	for (size_t i = 0; i < n; i++) {
		fd.sockfd = list[i];
		if (lws_adopt_descriptor_vhost(srv->vhost, type, fd, NULL,
					       NULL))
			hub_metrics_connection();
		else
			hub_log(HUB_LOG_WARN, "loop %u: cannot adopt a "
				"connection", srv->loop);
	}
	free(list);
}

/* The server's own protocol: the writer's hand-backs, the sockets
 * handed to this loop, the webhook deliverer's mail (loop 0). */
static int callback_core(struct lws *wsi, enum lws_callback_reasons reason,
			 void *user, void *in, size_t len)
{
	struct hub_server *srv =
		wsi ? lws_context_user(lws_get_context(wsi)) : NULL;

	if (reason == LWS_CALLBACK_EVENT_WAIT_CANCELLED && srv) {
		if (srv->writer)
			hub_writer_collect(srv->writer, srv->loop);
		if (srv->loop == 0)
			hub_hooks_collect(srv->hooks);
		if (srv->loop) /* loop 0 hands out, it is handed nothing */
			adopt_inbox(srv);
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/*
 * protocols[0] - the HTTP transport's - gets two calls the server takes:
 * TLS (tls.c): lws hands a vhost's new SSL_CTX to it in
 * LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS, and nowhere else
 * (installing the certificate); and LWS_CALLBACK_FILTER_NETWORK_CONNECTION,
 * each socket loop 0 accepted (hand_out: non-zero makes lws close its
 * descriptor of it). So protocols[0]'s callback is this one, which hands
 * every other call to the transport's own.
 */
static lws_callback_function *http_callback;

static int callback_http_front(struct lws *wsi,
			       enum lws_callback_reasons reason, void *user,
			       void *in, size_t len)
{
	struct hub_server *srv = lws_context_user(lws_get_context(wsi));

	if (reason == LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS &&
	    srv->tls)
		return hub_tls_install(srv->tls, user) ? -1 : 0;
	if (reason == LWS_CALLBACK_FILTER_NETWORK_CONNECTION) {
		if (hand_out(srv, (int)(intptr_t)in))
			return 1;
		hub_metrics_connection();
	}
	return http_callback(wsi, reason, user, in, len);
}

/*
 * Debian's lws 4.1.6 is built with _DEBUG: every connection it opens or
 * closes scans its whole fd table (sanity_assert_no_sockfd_traces,
 * delete_from_fd), whose size is the fd limit at context creation - one
 * slot per possible descriptor, up to millions. So with max-connections
 * set, the soft fd limit is lowered to it (plus room for the data file,
 * logs and threads): the table, and each scan, is that size. Lookups
 * stay direct. 0 leaves the limit as it is.
 */
#define FD_RESERVE 128

static void fd_cap(uint32_t max_connections)
{
	struct rlimit rl;

	if (!max_connections || getrlimit(RLIMIT_NOFILE, &rl))
		return;
	if (rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur <= (rlim_t)max_connections + FD_RESERVE)
		return;
	rl.rlim_cur = (rlim_t)max_connections + FD_RESERVE;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		hub_log(HUB_LOG_WARN, "cannot lower the fd limit to %u: %s",
			max_connections + FD_RESERVE, strerror(errno));
}

/* srv's context and vhost; only loop 0's listens. */
static int start_lws(struct hub_server *srv,
		     const struct hub_server_transports *t)
{
	/* lws keeps pointing at these for the context's life. */
	static struct lws_protocols protocols[8];
	size_t n = 5;
	static struct lws_http_mount mount = {
		.mountpoint = "/",
		.mountpoint_len = 1,
		.origin_protocol = LWSMPRO_CALLBACK,
	};
	/* WebSocket upgrades without a subprotocol (browsers' plain
	 * `new WebSocket(url)`) go to the vhost's default protocol: make
	 * it the WebSocket transport's (notes: trap 8). It checks the path. */
	static const struct lws_protocol_vhost_options ws_default = {
		NULL, NULL, "default", "1"};
	static struct lws_protocol_vhost_options pvo = {
		NULL, &ws_default, NULL, ""};
	/* Requests lws's HTTP parser gives up on (an unknown method) go to
	 * the fallback protocol as raw sockets, not to lws's HTML 403. */
	static const struct lws_protocol_vhost_options raw_default = {
		NULL, NULL, "raw", "1"};
	static struct lws_protocol_vhost_options raw_pvo = {
		NULL, &raw_default, NULL, ""};
	struct lws_context_creation_info info;

	/* The HTTP protocol first: lws gives it unmounted URLs too. */
	protocols[0] = *t->http;
	http_callback = t->http->callback;
	protocols[0].callback = callback_http_front;
	protocols[1] = *t->ws;
	protocols[2] = *t->webhook;
	protocols[3] = (struct lws_protocols){.name = "herald-core",
					      .callback = callback_core};
	protocols[4] = *t->hclient;
	if (t->bus)
		protocols[n++] = *t->bus;
	if (t->http_fallback) {
		protocols[n++] = *t->http_fallback;
		raw_pvo.name = t->http_fallback->name;
		pvo.next = &raw_pvo;
	}
	mount.protocol = t->http->name;
	pvo.name = t->ws->name;
	lws_set_log_level(LLL_ERR | LLL_WARN, lws_emit);
	memset(&info, 0, sizeof(info));
	/* DO_SSL_GLOBAL_INIT: the webhook client may speak https. Once,
	 * by loop 0's context: a second context's global init leaves
	 * OpenSSL objects that no context frees (LeakSanitizer). The
	 * vhosts all get it (below): lws reads it there too, as "this
	 * vhost may serve TLS". */
	info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS |
		       LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT * !srv->loop |
		       LWS_SERVER_OPTION_DISABLE_IPV6 * !strchr(srv->cfg.listen_host, ':');
	info.user = srv;
	info.protocols = protocols;
	/* The connection cap is the fd limit itself (fd_cap), not
	 * fd_limit_per_thread: set below the fd limit, that makes lws find
	 * every socket by scanning its table. */
	fd_cap(srv->cfg.max_connections);
	/* lws reads at most this much per connection per service pass; its
	 * 4 KiB default starves a publisher's large POST while thousands of
	 * subscribers are written to in the same passes. */
	info.pt_serv_buf_size = 65536;
	/* Both are the context's, read by lws_create_context() only (set on
	 * the vhost's info they did nothing: requests were held to 4096
	 * bytes of headers). A request whose request line and headers pass
	 * HUB_MAX_HEADER_DATA is closed by lws unanswered ("Ran out of
	 * header data space" in the log): lws never hands it to us. */
	info.max_http_header_data = HUB_MAX_HEADER_DATA;
	/* lws's wait for a request's headers and for each piece of its body
	 * (and other handshakes): a client that stalls 5 s is dropped. */
	info.timeout_secs = 5;
	srv->ctx = lws_create_context(&info);
	if (!srv->ctx) {
		hub_log(HUB_LOG_ERROR, "cannot create the lws context");
		return -1;
	}
	info.vhost_name = "default";
	info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.iface = srv->cfg.listen_host;
	/* The other loops' vhosts serve what loop 0 hands them. */
	info.port = srv->loop ? CONTEXT_PORT_NO_LISTEN_SERVER
			      : srv->cfg.listen_port;
	info.mounts = &mount;
	info.pvo = &pvo;
	/* No info.retry_and_idle_policy: lws's validity timers cost
	 * O(connections) per pong; WebSocket idle checks are ws.c's sweep
	 * (transport/keepalive.h). */
	info.alpn = "http/1.1";
	if (t->http_fallback)
		info.options |=
			LWS_SERVER_OPTION_FALLBACK_TO_APPLY_LISTEN_ACCEPT_CONFIG;
	info.keepalive_timeout = 60;
	/* TLS: lws makes the SSL_CTX, tls.c loads the certificate into it
	 * (see callback_http_tls); lws is told no file, see tls.c. */
	if (srv->tls)
		info.options |= LWS_SERVER_OPTION_CREATE_VHOST_SSL_CTX;
	srv->vhost = lws_create_vhost(srv->ctx, &info);
	if (!srv->vhost) {
		hub_log(HUB_LOG_ERROR, "cannot listen on %s:%d",
			srv->cfg.listen_host, srv->cfg.listen_port);
		return -1;
	}
	if (srv->loop == 0)
		srv->listen_wsi = listen_wsi_find(srv->ctx);
	return 0;
}

static void install_signals(struct hub_loops *loops)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (unsigned i = 0; i < loops->n; i++)
		signal_ctx[i] = loops->loop[i]->ctx;
	signal_n = loops->n;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* SIGHUP: the loop's credentials; loop 0 the shared files too. */
static void reload(struct hub_server *srv)
{
	hub_auth_reload(srv->auth);
	if (srv->loop)
		return;
	hub_metrics_reload(&srv->cfg);
	hub_cluster_reload();
	if (srv->tls)
		hub_tls_reload(srv->tls);
}

/* Runs the loop until a signal, then drains its own requests. */
static void serve(struct hub_server *srv)
{
	uint64_t deadline = 0;

	while (!deadline || hub_mono_ms() < deadline) {
		unsigned hups = (unsigned)hup_count;

		srv->passes++;
		if (lws_service(srv->ctx, 0) < 0)
			break;
		if (srv->loop == 0 && accept_errno) {
			accept_pause(srv, accept_errno);
			accept_errno = 0;
		}
		if (srv->hup_seen != hups) {
			srv->hup_seen = hups;
			reload(srv);
		}
		if (got_signal && !srv->stopping) {
			srv->stopping = true;
			deadline = hub_mono_ms() + DRAIN_MS;
			hub_log(HUB_LOG_INFO, "stopping: finishing %u "
				"requests in flight%s", srv->inflight,
				srv->loops->n > 1 ? " on one loop" : "");
			if (srv->loop == 0)
				hub_notify_stopping("stopping: finishing %u "
						    "requests in flight",
						    srv->inflight);
			lws_callback_vhost_protocols_vhost(
				srv->vhost, HUB_CALLBACK_DRAIN, NULL, 0);
		}
		if (srv->stopping && srv->inflight == 0 &&
		    hub_writer_busy_loop(srv->writer, srv->loop) == 0)
			break;
	}
}

/* Loops 1..n-1: a thread each. */
static void *loop_main(void *arg)
{
	struct hub_server *srv = arg;

	hub_metrics_loop(srv->loop);
	serve(srv);
	return NULL;
}

/* The writer's hooks (writer.h), one set per loop. */
static void writer_wake(void *arg)
{
	struct hub_server *srv = arg;

	lws_cancel_service(srv->ctx);
}

/* A change that is no append, on this loop: the others hear of it. */
static void subs_relay(void *arg, const char *project, const char *queue)
{
	struct hub_server *srv = arg;

	hub_writer_notify(srv->writer, srv->loop, project, queue);
}

static void writer_committed(void *arg, const char *project,
			     const char *queue)
{
	struct hub_server *srv = arg;

	hub_sub_notify(srv->subs, project, queue);
	/* The other nodes' subscribers hear of it (bus.h): from one loop,
	 * as every loop is told of every commit. */
	if (srv->loop == 0 && srv->bus.publish)
		srv->bus.publish(srv->bus.arg, project, queue);
}

/* Loop i's own parts: its server, context, vhost, registry and
 * credentials (the shared ones are loop 0's, set by the caller). */
static int loop_start(struct hub_loops *loops, unsigned i,
		      const struct hub_config *cfg,
		      const struct hub_server_transports *t)
{
	struct hub_server *srv = calloc(1, sizeof(*srv));
	struct hub_server *first = loops->loop[0];

	if (!srv)
		return -1;
	loops->loop[i] = srv;
	srv->cfg = *cfg;
	srv->loop = i;
	srv->loops = loops;
	pthread_mutex_init(&srv->inbox_lock, NULL);
	if (i) {
		srv->feed = first->feed;
		srv->tls = first->tls;
	}
	/* The credentials before anything listens. */
	if (!(srv->auth = hub_auth_new(&srv->cfg)))
		return -1;
	if (i == 0 && (hub_tls_check_config(&srv->cfg) ||
		       (hub_tls_wanted(&srv->cfg) &&
			!(srv->tls = hub_tls_new(&srv->cfg)))))
		return -1;
	if ((i == 0 && open_storage(srv)) || start_lws(srv, t))
		return -1;
	srv->hclient = (struct hub_hclient){t->hclient_start, t->hclient_cancel,
					    srv};
	if (hub_auth_start(srv->auth, &srv->hclient))
		return -1;
	srv->subs = hub_subs_new(srv->ctx);
	if (!srv->subs)
		return -1;
	hub_subs_share_totals(srv->subs, &loops->subs);
	hub_subs_set_relay(srv->subs, subs_relay, srv);
	/* Each loop renders its own copy of a queue's tail: the memory for
	 * tails stays what one loop would have. */
	hub_subs_tail_limits(srv->subs, HUB_TAIL_QUEUE_MAX / loops->n,
			     HUB_TAIL_TOTAL_MAX / loops->n);
	if (t->bus_start && t->bus_start(srv))
		return -1;
	srv->bus_end = t->bus_end;
	return 0;
}

/* After every loop thread ended: loop i's own parts go. */
static void loop_free(struct hub_server *srv)
{
	if (!srv)
		return;
	if (srv->ctx)
		lws_context_destroy(srv->ctx);
	if (srv->bus_end)
		srv->bus_end(srv); /* after its connections closed */
	for (size_t k = 0; k < srv->inbox_n; k++)
		close(srv->inbox[k]); /* handed as the loop ended */
	free(srv->inbox);
	pthread_mutex_destroy(&srv->inbox_lock);
	hub_buf_free(&srv->frame);
	hub_buf_free(&srv->http_out);
}

/* The shared parts - the writer, the webhook deliverer - and loop 0's
 * timers. */
static int shared_start(struct hub_loops *loops,
			const struct hub_server_transports *t)
{
	struct hub_server *srv = loops->loop[0];
	struct hub_writer_hooks hooks[HUB_LOOPS_MAX];
	int rc = 0;

	for (unsigned i = 0; i < loops->n; i++)
		hooks[i] = (struct hub_writer_hooks){
			.wake = writer_wake,
			.committed = writer_committed,
			.arg = loops->loop[i],
		};
	srv->writer = hub_writer_start(srv->feed, hooks, loops->n);
	if (!srv->writer) {
		hub_log(HUB_LOG_ERROR, "cannot start the writer thread");
		return -1;
	}
	srv->hooks = hub_hooks_new(srv->ctx, srv->feed, srv->writer,
				   srv->subs, &srv->cfg,
				   &(struct hub_hooks_transport){
					   t->webhook_post, srv->vhost});
	if (!srv->hooks || (rc = hub_hooks_start(srv->hooks)) != 0) {
		hub_log(HUB_LOG_ERROR, "cannot start webhook delivery: %s",
			srv->hooks ? feed_strerror(rc) : "out of memory");
		return -1;
	}
	for (unsigned i = 1; i < loops->n; i++) {
		loops->loop[i]->writer = srv->writer;
		loops->loop[i]->hooks = srv->hooks;
	}
	return 0;
}

static void announce(struct hub_loops *loops)
{
	struct hub_server *srv = loops->loop[0];
	int port = lws_get_vhost_listen_port(srv->vhost);
	char mode[64], nloops[40] = "";

	if (srv->cfg.durability == HUB_DURABILITY_INTERVAL)
		snprintf(mode, sizeof(mode), "durability interval, flushed "
			 "every %u ms", srv->cfg.sync_interval_ms);
	else
		snprintf(mode, sizeof(mode), "durability %s",
			 hub_durability_name(srv->cfg.durability));
	if (loops->n > 1)
		snprintf(nloops, sizeof(nloops), ", %u service loops",
			 loops->n);
	hub_log(HUB_LOG_INFO, "herald %s serving %s on %s://%s:%d (%s)%s",
		HUB_VERSION_STRING, srv->cfg.data_dir,
		srv->tls ? "https" : "http", srv->cfg.listen_host, port, mode,
		nloops);
	printf("listening on %s:%d\n", srv->cfg.listen_host, port);
	fflush(stdout);
	hub_notify_ready("serving %s on %s:%d", srv->cfg.data_dir,
			 srv->cfg.listen_host, port);
}

/* Starts loops 1..n-1 on threads of their own; false if one failed (the
 * started ones are stopped by the caller's signal). */
static bool threads_start(struct hub_loops *loops)
{
	for (unsigned i = 1; i < loops->n; i++) {
		if (pthread_create(&loops->thread[i], NULL, loop_main,
				   loops->loop[i])) {
			hub_log(HUB_LOG_ERROR, "cannot start loop %u's "
				"thread", i);
			return false;
		}
		loops->running[i] = true;
	}
	return true;
}

int hub_server_run(const struct hub_config *cfg,
		   const struct hub_server_transports *transports)
{
	struct hub_loops *loops = calloc(1, sizeof(*loops));
	struct hub_server *srv = NULL;
	bool threads_ok;
	int rc = 1;

	if (!loops)
		return 1;
	loops->n = cfg->loops ? cfg->loops : 1;
	if (loops->n > HUB_LOOPS_MAX)
		loops->n = HUB_LOOPS_MAX;
	if (hub_clock_init(cfg->clock_file) || hub_metrics_configure(cfg) ||
	    hub_cluster_init(cfg))
		goto out;
	hub_metrics_loops(loops->n);
	/* Protected mode, and the credentials, before anything listens. */
	if (hub_auth_check_listen(cfg))
		goto out;
	for (unsigned i = 0; i < loops->n; i++)
		if (loop_start(loops, i, cfg, transports))
			goto out;
	srv = loops->loop[0];
	if (shared_start(loops, transports))
		goto out;
	install_signals(loops);
	hub_upkeep_start(srv);
	announce(loops);
	threads_ok = threads_start(loops);
	if (!threads_ok)
		got_signal = 1; /* the started loops drain and end */
	hub_metrics_loop(0);
	serve(srv);
	rc = threads_ok ? 0 : 1;
out:
	for (unsigned i = 0; i < loops->n; i++) {
		if (loops->running[i]) {
			lws_cancel_service(loops->loop[i]->ctx);
			pthread_join(loops->thread[i], NULL);
			loops->running[i] = false;
		}
		if (loops->loop[i])
			loops->loop[i]->stopping = true; /* done() queue no more */
	}
	if (srv) {
		hub_hooks_stop(srv->hooks);
		hub_upkeep_stop(srv);
		lws_sul_cancel(&srv->accept_sul);
		hub_writer_stop(srv->writer);
		srv->writer = NULL;
		hub_upkeep_last_flush(srv);
	}
	signal_n = 0;
	for (unsigned i = 0; i < loops->n; i++)
		if (loops->loop[i])
			/* its requests out go with the context */
			hub_auth_stop(loops->loop[i]->auth);
	for (unsigned i = 0; i < loops->n; i++)
		loop_free(loops->loop[i]);
	if (loops->loop[0])
		feed_close(loops->loop[0]->feed);
	if (dir_lock_fd >= 0)
		close(dir_lock_fd); /* after the storage: see lock_data_dir */
	dir_lock_fd = -1;
	hub_clock_close();
	if (srv)
		hub_hooks_free(srv->hooks); /* after the contexts: posts end */
	for (unsigned i = 0; i < loops->n; i++) {
		struct hub_server *l = loops->loop[i];

		if (!l)
			continue;
		hub_subs_free(l->subs); /* after the context: see sub.h */
		hub_auth_free(l->auth);
	}
	/* after the contexts: their SSL_CTXs call it */
	if (loops->loop[0])
		hub_tls_free(loops->loop[0]->tls);
	hub_cluster_end();
	if (rc == 0)
		hub_log(HUB_LOG_INFO, "stopped");
	for (unsigned i = 0; i < loops->n; i++)
		free(loops->loop[i]);
	free(loops);
	return rc;
}
