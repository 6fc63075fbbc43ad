/*
 * test_cli.c - the `herald` client commands (post, tail, claim, stats,
 * queues) against a real server: each command runs as a subprocess of
 * $HERALD_BIN with HERALD_URL pointing at the test server and HOME in the
 * test's directory (so the kept Client-ID lands there), and its exit
 * status, stdout and stderr are checked. The harness's own client checks
 * what the server holds.
 *
 * `tail --follow` runs in the background with its stdout on a pipe: a
 * message posted after it started must come out, and SIGINT must end it
 * with exit 0; when the server restarts, tail must reconnect and go on
 * where it stopped. It is run both ways: the default (WebSocket stream
 * where the server has one, else long-poll) and --poll.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

/* The poster's and a reader's explicit ids; a command without
 * --client-id uses the one kept in $HOME. */
#define POSTER "--client-id=" HH_CLIENT_A
#define READER "--client-id=" HH_CLIENT_B

struct run {
	int status;      /* exit status; 128 + signal when killed by one */
	char *out, *err; /* what it printed */
};

static const char *bin;

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

/* Starts `herald argv...` with stdin from `in` (NULL: /dev/null);
 * *out_fd and *err_fd are its stdout and stderr. Returns the pid. */
static pid_t spawn(const char *const *argv, int *in_fd, int *out_fd,
		   int *err_fd)
{
	int pin[2], pout[2], perr[2];
	const char *args[32];
	pid_t pid;
	int n = 0;

	args[n++] = bin;
	while (*argv && n < 31)
		args[n++] = *argv++;
	args[n] = NULL;
	if (pipe(pin) || pipe(pout) || pipe(perr))
		bail_out("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		bail_out("fork: %s", strerror(errno));
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(pin[0], 0);
		dup2(pout[1], 1);
		dup2(perr[1], 2);
		for (int fd = 3; fd < 64; fd++)
			close(fd);
		execv(bin, (char *const *)args);
		_exit(127);
	}
	close(pin[0]);
	close(pout[1]);
	close(perr[1]);
	*in_fd = pin[1];
	*out_fd = pout[0];
	*err_fd = perr[0];
	return pid;
}

static int wait_exit(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Reads fd to its end into a new string. */
static void slurp_pair(int out_fd, int err_fd, char **out, char **err)
{
	struct pollfd p[2] = {{.fd = out_fd, .events = POLLIN},
			      {.fd = err_fd, .events = POLLIN}};
	char *bufs[2] = {calloc(1, 1), calloc(1, 1)};
	size_t lens[2] = {0, 0};
	char chunk[4096];

	while (p[0].fd >= 0 || p[1].fd >= 0) {
		if (poll(p, 2, 30000) <= 0)
			break;
		for (int i = 0; i < 2; i++) {
			ssize_t n;

			if (p[i].fd < 0 || !p[i].revents)
				continue;
			n = read(p[i].fd, chunk, sizeof(chunk));
			if (n <= 0) {
				close(p[i].fd);
				p[i].fd = -1;
				continue;
			}
			bufs[i] = realloc(bufs[i], lens[i] + (size_t)n + 1);
			memcpy(bufs[i] + lens[i], chunk, (size_t)n);
			lens[i] += (size_t)n;
			bufs[i][lens[i]] = '\0';
		}
	}
	for (int i = 0; i < 2; i++)
		if (p[i].fd >= 0)
			close(p[i].fd);
	*out = bufs[0];
	*err = bufs[1];
}

/* Runs `herald argv...` to its end, feeding it `in` (NULL: nothing). */
static int run_in(struct run *r, const char *in, const char *const *argv)
{
	int in_fd, out_fd, err_fd;
	pid_t pid = spawn(argv, &in_fd, &out_fd, &err_fd);

	if (in && write(in_fd, in, strlen(in)) != (ssize_t)strlen(in))
		diag("short write to the command's stdin");
	close(in_fd);
	slurp_pair(out_fd, err_fd, &r->out, &r->err);
	r->status = wait_exit(pid);
	if (r->err[0])
		diag("herald %s ... said: %s", argv[0], r->err);
	return r->status;
}

#define RUN(r, in, ...)                                                        \
	run_in((r), (in), (const char *const[]){__VA_ARGS__, NULL})

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* Line i (0-based) of s parsed as JSON, or NULL. New reference. */
static json_t *line_json(const char *s, int i)
{
	const char *end;

	while (i-- > 0 && s) {
		s = strchr(s, '\n');
		s = s ? s + 1 : NULL;
	}
	if (!s || !*s)
		return NULL;
	end = strchr(s, '\n');
	return json_loadb(s, end ? (size_t)(end - s) : strlen(s), JSON_DECODE_ANY,
			  NULL);
}

/* The body of line i as compact JSON (static buffer). */
static const char *line_body(const char *s, int i)
{
	static char buf[256];
	json_t *j = line_json(s, i);

	hh_copy(buf, sizeof(buf), j ? hh_dump(json_object_get(j, "body")) : "(none)");
	json_decref(j);
	return buf;
}

static void post_and_tail(struct hh_server *srv)
{
	struct run r = {0};
	char path[PATH_MAX], ids[4][32];
	json_t *j;
	struct stat st;

	is(RUN(&r, NULL, "post", POSTER, "q1", "{\"n\": 1}", "\"two\"", "3"), 0,
	   "post with three JSON arguments exits 0");
	is(count_lines(r.out), 3, "and prints three ids");
	ok(strlen(r.out) == 3 * 25, "each a 24-character id on its own line");
	sscanf(r.out, "%31s %31s %31s", ids[0], ids[1], ids[2]);
	run_free(&r);

	is(RUN(&r, "[4]\n\n  \nnull\n{\"n\": 6}", "post", POSTER, "q1"), 0,
	   "post from stdin (a final line without newline, blank lines) exits 0");
	is(count_lines(r.out), 3, "one id per non-blank line");
	sscanf(r.out, "%31s", ids[3]);
	run_free(&r);

	is(RUN(&r, NULL, "tail", READER, "q1"), 0, "tail exits 0");
	is(count_lines(r.out), 6, "tail prints the six messages");
	is_str(line_body(r.out, 0), "{\"n\":1}", "first the first posted");
	is_str(line_body(r.out, 1), "\"two\"", "then the second");
	is_str(line_body(r.out, 3), "[4]", "then the first line of stdin");
	is_str(line_body(r.out, 5), "{\"n\":6}", "the last one last");
	j = line_json(r.out, 0);
	ok(hh_keys_are(j, "id,ttl,age,body"),
	   "a line is exactly {id, ttl, age, body}");
	is_str(hh_gets(j, "id"), ids[0], "with the id post printed");
	json_decref(j);
	run_free(&r);

	is(RUN(&r, NULL, "tail", READER, "--marker", ids[2], "q1"), 0,
	   "tail --marker exits 0");
	is(count_lines(r.out), 3, "and prints only what follows the marker");
	is_str(line_body(r.out, 0), "[4]", "starting right after it");
	run_free(&r);

	RUN(&r, NULL, "tail", READER, "--from", "now", "q1");
	is(count_lines(r.out), 0, "tail --from now prints nothing old");
	run_free(&r);

	/* The kept Client-ID: the poster's own messages are hidden from it. */
	snprintf(path, sizeof(path), "%s/.config/herald/client-id", srv->dir);
	is(RUN(&r, NULL, "post", "own", "\"mine\""), 0,
	   "post with the kept client id");
	run_free(&r);
	ok(stat(path, &st) == 0,
	   "the client id is kept in ~/.config/herald/client-id");
	RUN(&r, NULL, "tail", "own");
	is(count_lines(r.out), 0, "tail hides the client's own messages");
	run_free(&r);
	RUN(&r, NULL, "tail", "--echo", "own");
	is_str(line_body(r.out, 0), "\"mine\"", "tail --echo shows them");
	run_free(&r);

	RUN(&r, NULL, "post", POSTER, "--ttl", "120", "q2", "1");
	run_free(&r);
	RUN(&r, NULL, "tail", READER, "q2");
	j = line_json(r.out, 0);
	is(hh_geti(j, "ttl"), 120, "post --ttl sets the messages' ttl");
	json_decref(j);
	run_free(&r);
}

/* Many messages: several pages for tail, several posts for post. */
static void big(struct hh_server *srv)
{
	struct hh_client c;
	struct hh_resp resp = HH_RESP_INIT;
	struct run r = {0};
	char *in = calloc(1, 64 * 64);
	size_t len = 0;

	for (int i = 0; i < 45; i++)
		len += (size_t)sprintf(in + len, "{\"i\": %d, \"pad\": \"%030d\"}\n", i, i);
	is(RUN(&r, in, "post", POSTER, "many"), 0, "post of 45 lines exits 0");
	is(count_lines(r.out), 45, "45 ids");
	run_free(&r);
	RUN(&r, NULL, "tail", READER, "many");
	is(count_lines(r.out), 45, "tail pages through all 45 (20 a page)");
	is_str(line_body(r.out, 44),
	       "{\"i\":44,\"pad\":\"000000000000000000000000000044\"}",
	       "in order to the last");
	run_free(&r);

	/* A queue whose posts may be 300 bytes: 10 messages of ~50 need
	 * several posts, which the command splits by itself. */
	hh_client_init(&c, srv, HH_CLIENT_A, NULL);
	hh_call(&c, &resp, "PUT", "/v2/queues/small",
		"{\"_max_messages_post_size\": 300}");
	is(resp.status, 201, "a queue with a 300-byte post limit");
	hh_client_close(&c);
	hh_resp_free(&resp);
	in[0] = '\0';
	len = 0;
	for (int i = 0; i < 10; i++)
		len += (size_t)sprintf(in + len, "{\"i\": %d, \"pad\": \"%020d\"}\n", i, i);
	is(RUN(&r, in, "post", POSTER, "small"), 0,
	   "post of 10 x 50 bytes to it exits 0");
	is(count_lines(r.out), 10, "all 10 posted, over several requests");
	run_free(&r);
	free(in);
}

static void claims_and_stats(struct hh_server *srv)
{
	struct run r = {0};
	json_t *j;

	is(RUN(&r, NULL, "claim", READER, "--limit", "2", "q1"), 0, "claim exits 0");
	is(count_lines(r.out), 2, "claim --limit 2 prints two messages");
	j = line_json(r.out, 0);
	ok(hh_keys_are(j, "id,ttl,age,body,claim_id"), "with their claim id");
	is_str(hh_dump(json_object_get(j, "body")), "{\"n\":1}", "the oldest first");
	json_decref(j);
	run_free(&r);

	RUN(&r, NULL, "stats", "q1");
	j = json_loads(r.out, 0, NULL);
	is(hh_geti(j, "messages.claimed"), 2, "stats QUEUE: two claimed");
	is(hh_geti(j, "messages.total"), 6, "of six");
	ok(strchr(r.out, '\n') != strrchr(r.out, '\n'),
	   "pretty-printed on several lines");
	json_decref(j);
	run_free(&r);

	is(RUN(&r, NULL, "claim", READER, "--delete", "--limit", "3", "q1"), 0,
	   "claim --delete exits 0");
	is(count_lines(r.out), 3, "it prints the three it claimed");
	is_str(line_body(r.out, 0), "3", "the next unclaimed ones, in order");
	run_free(&r);
	RUN(&r, NULL, "stats");
	ok(strstr(r.out, "q1 3 2 1\n") != NULL,
	   "stats: q1 3 total, 2 claimed, 1 free");
	ok(strstr(r.out, "many 45 0 45\n") != NULL, "and a line for every queue");
	run_free(&r);

	RUN(&r, NULL, "claim", READER, "--delete", "--limit", "5", "q1");
	is(count_lines(r.out), 1, "the last free message");
	run_free(&r);
	is(RUN(&r, NULL, "claim", READER, "q1"), 0, "claiming nothing exits 0");
	is_str(r.out, "", "and prints nothing");
	run_free(&r);

	is(RUN(&r, NULL, "queues"), 0, "queues exits 0");
	is_str(r.out, "many\nown\nq1\nq2\nsmall\n",
	       "queues lists every queue by name");
	run_free(&r);
	(void)srv;
}

/* A port nothing listens on. */
static int dead_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	bind(fd, (struct sockaddr *)&a, sizeof(a));
	getsockname(fd, (struct sockaddr *)&a, &len);
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

static void errors(struct hh_server *srv)
{
	struct run r = {0};
	char url[64];

	is(RUN(&r, NULL, "post", POSTER, "e", "1", "hello"), 2,
	   "a bare word is not JSON: exit 2");
	ok(strstr(r.err, "argument 2 is not JSON") != NULL, "and says which");
	run_free(&r);
	RUN(&r, NULL, "tail", READER, "e");
	is(count_lines(r.out), 0, "nothing was posted");
	run_free(&r);

	is(RUN(&r, "1\n{bad\n3\n", "post", POSTER, "e"), 2,
	   "a bad line on stdin: exit 2");
	ok(strstr(r.err, "line 2 is not JSON") != NULL, "naming the line");
	is(count_lines(r.out), 1, "the line before it was posted");
	run_free(&r);

	is(RUN(&r, NULL, "post", POSTER, "bad name!", "1"), 1,
	   "the server refuses a queue name: exit 1");
	ok(strstr(r.err, "400 Invalid queue identification") != NULL,
	   "printing its title and description");
	run_free(&r);
	is(RUN(&r, NULL, "claim", READER, "--ttl", "10", "q1"), 1,
	   "a claim ttl below 60: exit 1");
	run_free(&r);

	snprintf(url, sizeof(url), "--url=http://127.0.0.1:%d", dead_port());
	is(RUN(&r, NULL, "post", url, "q1", "1"), 3, "no server: exit 3");
	ok(r.err[0] != '\0', "with a message");
	run_free(&r);
	is(RUN(&r, NULL, "queues", url), 3, "queues with no server: exit 3");
	run_free(&r);
	is(RUN(&r, NULL, "tail", "--follow", url, "q1"), 3,
	   "tail --follow with no server: exit 3");
	run_free(&r);

	is(RUN(&r, NULL, "post"), 2, "post without a queue: exit 2");
	run_free(&r);
	is(RUN(&r, NULL, "tail", "--nope", "q1"), 2, "an unknown option: exit 2");
	run_free(&r);
	is(RUN(&r, NULL, "queues", "--follow"), 2, "another command's option: exit 2");
	run_free(&r);
	is(RUN(&r, NULL, "claim", "--limit", "x", "q1"), 2, "a bad number: exit 2");
	run_free(&r);
	is(RUN(&r, NULL, "post", "--client-id", "nope", "q1", "1"), 2,
	   "a client id that is not a UUID: exit 2");
	run_free(&r);
	is(RUN(&r, NULL, "post", "--help"), 0, "post --help exits 0");
	ok(strstr(r.out, "--ttl") && strstr(r.out, "--url"),
	   "and lists its options and the common ones");
	run_free(&r);
	is(RUN(&r, NULL, "--help"), 0, "herald --help exits 0");
	ok(strstr(r.out, "  tail ") && strstr(r.out, "  claim "),
	   "and lists the client commands");
	run_free(&r);
	(void)srv;
}

/* Messages lost to expiry after the marker are reported, not skipped
 * silently: the Herald-Gap header of a listing, the stream's gap frame. */
static void gap(struct hh_server *srv)
{
	struct run r = {0};
	char kept[32] = "", buf[4096] = "";
	int in_fd, out_fd, err_fd;
	char *out, *err;
	pid_t pid;

	RUN(&r, NULL, "post", POSTER, "g", "\"kept\"");
	sscanf(r.out, "%31s", kept);
	run_free(&r);
	RUN(&r, NULL, "post", POSTER, "--ttl", "60", "g", "1", "2", "3");
	run_free(&r);
	RUN(&r, NULL, "post", POSTER, "g", "\"after\"");
	run_free(&r);
	hh_clock_advance(srv, 61 * 1000);

	is(RUN(&r, NULL, "tail", READER, "--marker", kept, "g"), 0,
	   "tail over expired messages exits 0");
	is_str(line_body(r.out, 0), "\"after\"", "and resumes past the loss");
	is(count_lines(r.out), 1, "with nothing else");
	ok(strstr(r.err, "gap: 3 messages missed\n") != NULL,
	   "saying on stderr that 3 messages were missed");
	run_free(&r);

	/* The same when following (a stream's gap frame where the server
	 * has a stream). */
	pid = spawn((const char *const[]){"tail", READER, "-f", "--marker",
					  kept, "g", NULL},
		    &in_fd, &out_fd, &err_fd);
	close(in_fd);
	is(hh_read_lines(out_fd, buf, sizeof(buf), 1, 10000), 1,
	   "tail -f over expired messages prints what is left");
	kill(pid, SIGINT);
	slurp_pair(out_fd, err_fd, &out, &err);
	is(wait_exit(pid), 0, "and ends on SIGINT");
	ok(strstr(err, "gap: 3 messages missed\n") != NULL,
	   "after reporting the gap");
	free(out);
	free(err);
}

static void follow(struct hh_server *srv, const char *mode)
{
	char q[32], buf[8192] = "";
	struct run r = {0};
	int in_fd, out_fd, err_fd, rc;
	char *out, *err;
	pid_t pid;

	snprintf(q, sizeof(q), "f%s", mode ? "poll" : "ws");
	RUN(&r, NULL, "post", POSTER, q, "\"before\"");
	run_free(&r);
	/* mode NULL ends the list before it: the default */
	pid = spawn((const char *const[]){"tail", READER, "-f", q, mode, NULL},
		    &in_fd, &out_fd, &err_fd);
	close(in_fd);
	is(hh_read_lines(out_fd, buf, sizeof(buf), 1, 10000), 1,
	   "tail -f%s%s prints the backlog", mode ? " " : "", mode ? mode : "");
	RUN(&r, NULL, "post", POSTER, q, "\"after\"", "\"and more\"");
	run_free(&r);
	is(hh_read_lines(out_fd, buf, sizeof(buf), 3, 10000), 3,
	   "and the messages posted after it started");
	is_str(line_body(buf, 1), "\"after\"", "in order");
	is_str(line_body(buf, 2), "\"and more\"", "all of them");

	/* The server goes away and comes back on the same port: tail
	 * reconnects and resumes after the last message it printed. */
	is(hh_stop(srv), 0, "the server stops under a following tail");
	if (srv->n_extra == 0) {
		srv->extra[srv->n_extra++] = strdup("--listen");
		srv->extra[srv->n_extra++] =
			strdup(hh_fmt("127.0.0.1:%d", srv->port));
	}
	hh_restart(srv);
	RUN(&r, NULL, "post", POSTER, q, "\"after restart\"");
	run_free(&r);
	is(hh_read_lines(out_fd, buf, sizeof(buf), 4, 15000), 4,
	   "tail reconnects and prints what was posted since");
	is_str(line_body(buf, 3), "\"after restart\"", "once, and only that");
	kill(pid, SIGINT);
	slurp_pair(out_fd, err_fd, &out, &err);
	rc = wait_exit(pid);
	is(rc, 0, "SIGINT ends it with exit 0");
	is_str(out, "", "with nothing printed twice");
	if (err[0])
		diag("tail -f said: %s", err);
	free(out);
	free(err);
	(void)srv;
}

int main(void)
{
	struct hh_server srv;
	char url[64];

	bin = getenv("HERALD_BIN");
	if (!bin)
		bail_out("HERALD_BIN is not set");
	hh_start(&srv, NULL);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", srv.port);
	setenv("HERALD_URL", url, 1);
	setenv("HOME", srv.dir, 1);
	unsetenv("XDG_CONFIG_HOME");
	unsetenv("HERALD_PROJECT");

	post_and_tail(&srv);
	big(&srv);
	claims_and_stats(&srv);
	errors(&srv);
	gap(&srv);
	follow(&srv, NULL);
	follow(&srv, "--poll");
	return hh_finish(&srv);
}
