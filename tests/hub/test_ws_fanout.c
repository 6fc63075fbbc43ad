/*
 * test_ws_fanout.c - fan-out at scale over the real server: 1,000
 * concurrent WebSocket subscribers on the stream URL each receive every
 * one of 10,000 messages exactly once and in order, with no gap frame.
 *
 * The subscribers are one event-driven client (tests/bench/ws/swarm.c)
 * in this thread; the publisher is a harness client on the same loop,
 * posting 100 messages of {"seq": N} at a time with one post in flight,
 * so the subscribers read while the server works on the next post. Every subscriber opens the stream
 * after the id of a first message posted before them (marker=), so what
 * each must receive does not depend on when its subscription started.
 *
 * Checked per subscriber, as the frames come: seq numbers 0, 1, 2, ...
 * with nothing skipped or repeated, ids strictly increasing, only
 * "messages" frames, and nothing after the 10,000th message.
 *
 * Needs ~1,000 file descriptors on each side: the soft RLIMIT_NOFILE is
 * raised to the hard limit first (the server inherits it); below 2,100
 * the test is skipped. Against a server built with AddressSanitizer
 * (hh_sanitized) there are 2,000 messages instead of 10,000 (still 1,000
 * subscribers), and a diag line says so.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "swarm.h"

#define PROJECT "fanproj"
#define QUEUE "fan"
#define SUBS 1000
#define MSGS 10000
#define PER_POST 100
#define MSGS_SANITIZED 2000
#define FD_NEEDED 2100
/* Reading gives up when no message arrived for this long. */
#define STALL_MS 30000

struct sub {
	unsigned got;        /* messages received */
	long long last_seq;  /* -1: none yet */
	char last_id[32];
	unsigned bad_seq;    /* a seq that is not last_seq + 1 */
	unsigned bad_id;     /* an id not above the previous one */
	unsigned gaps;       /* gap frames */
	unsigned odd;        /* frames neither "messages" nor "gap" */
	bool up, down;
};

struct fan {
	struct sub *sub;
	unsigned n_subs, msgs;
	unsigned complete;   /* subscribers with all msgs */
	unsigned long long delivered;
	const char *down_why;
};

static void on_up(void *arg, unsigned i)
{
	struct fan *f = arg;

	f->sub[i].up = true;
}

static void on_down(void *arg, unsigned i, const char *why)
{
	struct fan *f = arg;

	f->sub[i].down = true;
	if (!f->down_why)
		f->down_why = why;
}

/* One message of subscriber s. */
static void on_message(struct fan *f, struct sub *s, json_t *m)
{
	const char *id = json_string_value(json_object_get(m, "id"));
	json_t *seq = json_object_get(json_object_get(m, "body"), "seq");
	long long n = json_is_integer(seq) ? json_integer_value(seq) : -2;

	if (n != s->last_seq + 1)
		s->bad_seq++;
	if (!id || strlen(id) >= sizeof(s->last_id) ||
	    strcmp(id, s->last_id) <= 0)
		s->bad_id++;
	else
		memcpy(s->last_id, id, strlen(id) + 1);
	s->last_seq = n;
	s->got++;
	f->delivered++;
	if (s->got == f->msgs)
		f->complete++;
}

static void on_text(void *arg, unsigned i, const char *text, size_t len)
{
	struct fan *f = arg;
	struct sub *s = &f->sub[i];
	json_t *frame = json_loadb(text, len, 0, NULL), *m;
	const char *ev = json_string_value(json_object_get(frame, "event"));
	size_t k;

	if (ev && strcmp(ev, "messages") == 0) {
		json_array_foreach(json_object_get(frame, "messages"), k, m)
			on_message(f, s, m);
	} else if (ev && strcmp(ev, "gap") == 0) {
		s->gaps++;
	} else {
		if (!s->odd)
			diag("subscriber %u: unexpected frame %.*s", i,
			     (int)(len < 200 ? len : 200), text);
		s->odd++;
	}
	json_decref(frame);
}

/* Sends the post of seq from..from+n-1 (the answer is read later). */
static bool post_send(struct hh_client *pub, unsigned from, unsigned n)
{
	size_t cap = (size_t)n * 48 + 512, len = 0, head;
	char *req = malloc(cap);
	int rc;

	/* The body first, after room for the head. */
	len = head = 256;
	len += (size_t)snprintf(req + len, cap - len, "{\"messages\": [");
	for (unsigned i = 0; i < n; i++)
		len += (size_t)snprintf(req + len, cap - len,
					"%s{\"body\": {\"seq\": %u}}",
					i ? ", " : "", from + i);
	len += (size_t)snprintf(req + len, cap - len, "]}");
	{
		char h[256];
		int hl = snprintf(h, sizeof(h),
				  "POST /v2/queues/" QUEUE "/messages HTTP/1.1\r\n"
				  "Host: 127.0.0.1\r\nClient-ID: %s\r\n"
				  "X-Project-Id: " PROJECT "\r\n"
				  "Content-Type: application/json\r\n"
				  "Content-Length: %zu\r\n\r\n",
				  pub->client_id, len - head);

		memcpy(req + head - (size_t)hl, h, (size_t)hl);
		rc = hh_send(pub, req + head - (size_t)hl, len - head + (size_t)hl);
	}
	free(req);
	if (rc != 0)
		diag("post of %u..%u: cannot send it", from, from + n - 1);
	return rc == 0;
}

/* Reads the answer of the post in flight; false unless it is a 201. */
static bool post_done(struct hh_client *pub, unsigned from)
{
	struct hh_resp r = HH_RESP_INIT;
	bool ok = hh_recv(pub, &r, false) == 201;

	if (!ok)
		diag("post from %u: %d %.200s", from, r.status,
		     r.body ? r.body : "");
	hh_resp_free(&r);
	return ok;
}

/* CPU seconds of this process so far. */
static double self_cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * Publishes f->msgs messages, PER_POST at a time with one post in flight,
 * while the subscribers read; then reads until every subscriber has all
 * its messages. Gives up when nothing moved (no message delivered, no
 * post answered) for STALL_MS, or when every connection ended. Sets
 * *t_pub to when the last post was answered.
 */
static void publish_and_read(struct hh_client *pub, struct swarm *sw,
			     struct fan *f, double *t_pub)
{
	unsigned next = 0;
	bool in_flight = false;
	unsigned long long seen = f->delivered;
	double last = hh_mono_s();

	*t_pub = 0;
	while (f->complete < f->n_subs && hh_mono_s() - last < STALL_MS / 1e3 &&
	       swarm_up(sw) > 0) {
		struct pollfd pf[2] = {{.fd = swarm_fd(sw), .events = POLLIN}};

		if (!in_flight && next < f->msgs) {
			in_flight = post_send(pub, next, PER_POST);
			if (!in_flight)
				next = f->msgs; /* stop publishing */
		}
		pf[1].fd = pub->fd;
		pf[1].events = POLLIN;
		if (poll(pf, in_flight ? 2 : 1, 100) < 0)
			continue;
		if ((pf[0].revents & POLLIN) && swarm_poll(sw, 0) < 0)
			bail_out("epoll failed");
		if (in_flight && pf[1].revents) {
			in_flight = false;
			next = post_done(pub, next) ? next + PER_POST : f->msgs;
			if (next >= f->msgs && *t_pub == 0)
				*t_pub = hh_mono_s();
			last = hh_mono_s();
		}
		if (f->delivered != seen) {
			seen = f->delivered;
			last = hh_mono_s();
		}
	}
	if (*t_pub == 0)
		*t_pub = hh_mono_s();
}

static void fanout(struct hh_server *srv, unsigned n_subs, unsigned msgs)
{
	struct fan f = {.n_subs = n_subs, .msgs = msgs};
	struct swarm_cbs cbs = {on_up, on_text, on_down, &f, NULL};
	struct hh_client pub;
	struct hh_resp r = HH_RESP_INIT;
	struct swarm *sw;
	char marker[64];
	unsigned up = 0, all = 0, seq_ok = 0, id_ok = 0, gaps = 0, odd = 0;
	double t0, t_up, t_pub, t_done, srv_cpu0 = swarm_cpu_seconds(srv->pid),
	       cpu0 = self_cpu_s();

	f.sub = calloc(n_subs, sizeof(*f.sub));
	for (unsigned i = 0; i < n_subs; i++)
		f.sub[i].last_seq = -1;
	hh_client_init(&pub, srv, HH_CLIENT_B, PROJECT);
	is(hh_call(&pub, &r, "POST", "/v2/queues/" QUEUE "/messages",
		   "{\"messages\": [{\"body\": {\"start\": true}}]}"), 201,
	   "a first message gives the subscribers their marker");
	hh_copy(marker, sizeof(marker), hh_resource_ids(&r));
	hh_resp_free(&r);

	sw = swarm_new(n_subs, srv->port, 1, &cbs);
	if (!sw)
		bail_out("out of memory");
	t0 = hh_mono_s();
	for (unsigned i = 0; i < n_subs; i++)
		swarm_connect(sw, i, hh_fmt("/v2/queues/" QUEUE "/stream?marker="
					    "%s&client_id=" HH_CLIENT_A
					    "&project_id=" PROJECT, marker));
	while (swarm_up(sw) + swarm_down(sw) < n_subs)
		if (swarm_poll(sw, 100) < 0)
			bail_out("epoll failed");
	t_up = hh_mono_s();
	is(swarm_up(sw), n_subs, "all %u subscribers are connected "
	   "(the server answered each upgrade)", n_subs);
	if (f.down_why)
		diag("first connection that ended: %s", f.down_why);

	publish_and_read(&pub, sw, &f, &t_pub);
	t_done = hh_mono_s();

	for (unsigned i = 0; i < n_subs; i++) {
		struct sub *s = &f.sub[i];

		up += s->up && !s->down;
		all += s->got == msgs;
		seq_ok += s->bad_seq == 0;
		id_ok += s->bad_id == 0;
		gaps += s->gaps;
		odd += s->odd;
	}
	is(all, n_subs, "every subscriber received exactly %u messages", msgs);
	is(seq_ok, n_subs, "each in order: seq 0..%u, none missing or repeated",
	   msgs - 1);
	is(id_ok, n_subs, "each saw strictly increasing message ids");
	is(gaps, 0, "no gap frame");
	is(odd, 0, "no frame other than \"messages\"");
	/* A late duplicate would arrive after the last message: give it a
	 * moment to show (not needed for the counts above). */
	for (double t = hh_mono_s(); hh_mono_s() - t < 0.3;)
		swarm_poll(sw, 50);
	{
		unsigned more = 0;

		for (unsigned i = 0; i < n_subs; i++)
			more += f.sub[i].got != msgs;
		is(more, 0, "nothing after the last message");
	}
	is(up, n_subs, "all subscribers are still connected");
	for (unsigned i = 0; i < n_subs && all != n_subs; i++) {
		struct sub *s = &f.sub[i];

		if (s->got != msgs || s->bad_seq || s->bad_id) {
			diag("subscriber %u: got %u, last seq %lld, %u out of "
			     "sequence, %u ids not increasing%s", i, s->got,
			     s->last_seq, s->bad_seq, s->bad_id,
			     s->down ? ", disconnected" : "");
			break;
		}
	}
	diag("%u subscribers connected in %.2f s; %u messages posted in "
	     "%.2f s; all delivered %.2f s after the last post", n_subs,
	     t_up - t0, msgs, t_pub - t_up, t_done - t_pub);
	diag("%llu deliveries in %.2f s: %.0f messages/s", f.delivered,
	     t_done - t_up, (double)f.delivered / (t_done - t_up));
	diag("CPU: server %.1f s, this client %.1f s",
	     swarm_cpu_seconds(srv->pid) - srv_cpu0, self_cpu_s() - cpu0);
	swarm_free(sw);
	free(f.sub);
	hh_client_close(&pub);
}

int main(void)
{
	struct hh_server srv;
	struct rlimit rl;
	unsigned subs = SUBS, msgs = MSGS;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		skip_all("cannot read RLIMIT_NOFILE");
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < FD_NEEDED)
		skip_all("needs %d file descriptors, the hard limit is %llu",
			 FD_NEEDED, (unsigned long long)rl.rlim_max);
	/* "unlimited" is not a value the kernel takes for NOFILE. */
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY ? 65536 : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl))
		skip_all("cannot raise RLIMIT_NOFILE to its hard limit");

	hh_start(&srv, NULL);
	hh_watchdog(280);
	if (hh_sanitized(&srv)) {
		/* All of it takes ~70 s there (4x slower); the connections
		 * stay, the messages are fewer. */
		msgs = MSGS_SANITIZED;
		diag("the server runs under AddressSanitizer: %u subscribers x "
		     "%u messages instead of %u x %u", subs, msgs, SUBS, MSGS);
	}
	fanout(&srv, subs, msgs);
	return hh_finish(&srv);
}
