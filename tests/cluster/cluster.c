/*
 * cluster.c - what the cluster tests share (cluster.h): three Herald
 * nodes a, b, c behind a real HAProxy (Debian's 2.6), on loopback, the
 * shard map and HAProxy's configuration both written by `herald cluster`,
 * and the test's own idea of where a queue lives.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "cluster.h"

char map_path[300];
const char *const names[N_NODES] = {"a", "b", "c"};
struct hh_server node[N_NODES];
struct hh_server proxy;  /* only .port: HAProxy, for the client */
static pid_t haproxy_pid;
char cluster_dir[256];

void stop_haproxy(void)
{
	if (haproxy_pid > 0) {
		kill(haproxy_pid, SIGTERM);
		waitpid(haproxy_pid, NULL, 0);
		haproxy_pid = 0;
	}
}

const char *path_of(const char *leaf)
{
	return hh_fmt("%s/%s", cluster_dir, leaf);
}

/* The shard as the test computes it: zlib's crc32 of the name mod 4096. */
unsigned shard_of(const char *queue)
{
	return (unsigned)(crc32(crc32(0L, Z_NULL, 0), (const Bytef *)queue,
				(uInt)strlen(queue)) % SHARDS);
}

/* Its owner: the map's runs (shard s is on node s * 3 / 4096, as
 * `herald cluster map a b c`). */
int owner_of(const char *queue)
{
	return (int)((size_t)shard_of(queue) * N_NODES / SHARDS);
}

/* The first name PREFIX-0, PREFIX-1, ... that node n owns, into q. */
void name_on(char *q, size_t len, const char *prefix, int n)
{
	for (int i = 0;; i++) {
		snprintf(q, len, "%s-%d", prefix, i);
		if (owner_of(q) == n)
			return;
	}
}

/* Posts one message each with the bodies from..to (numbers) to q. */
void post_numbered(struct hh_client *c, const char *q, int from,
			  int to)
{
	struct hh_resp r = HH_RESP_INIT;

	for (int i = from; i <= to; i++)
		hh_call(c, &r, "POST", hh_fmt("/v2/queues/%s/messages", q),
			hh_fmt("{\"messages\": [{\"body\": %d}]}", i));
	hh_resp_free(&r);
}

int free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t n = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    getsockname(fd, (struct sockaddr *)&a, &n))
		bail_out("a free port: %s", strerror(errno));
	port = ntohs(a.sin_port);
	close(fd);
	return port;
}

void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* Polls GET path through c until it answers `want` (a server we started
 * getting ready, or HAProxy's health check seeing a node): true in time. */
bool wait_status(struct hh_client *c, const char *path, int want,
			int seconds)
{
	struct hh_resp r = HH_RESP_INIT;

	for (int i = 0; i < seconds * 10; i++) {
		int st = hh_call(c, &r, "GET", path, NULL);

		if (st == want) {
			hh_resp_free(&r);
			return true;
		}
		hh_client_close(c);
		sleep_ms(100);
	}
	hh_resp_free(&r);
	return false;
}

static void write_map(const char *path, const char *const *argv_nodes)
{
	const char *argv[8] = {getenv("HERALD_BIN"), "cluster", "map"};
	int n = 3;
	char *out = NULL;
	FILE *f;

	for (int i = 0; argv_nodes[i]; i++)
		argv[n++] = argv_nodes[i];
	argv[n] = NULL;
	if (hh_run(argv, path_of("map.log"), &out) != 0)
		bail_out("herald cluster map: %s", out ? out : "");
	f = fopen(path, "w");
	if (!f || fputs(out, f) < 0 || fclose(f))
		bail_out("writing %s", path);
	free(out);
}

static void start_haproxy(const char *map)
{
	const char *argv[16];
	char addr[N_NODES][64];
	char *out = NULL;
	int n = 0;
	FILE *f;

	proxy.port = free_port();
	argv[n++] = getenv("HERALD_BIN");
	argv[n++] = "cluster";
	argv[n++] = "haproxy-config";
	argv[n++] = "--map";
	argv[n++] = map;
	argv[n++] = "--listen";
	argv[n++] = hh_fmt("127.0.0.1:%d", proxy.port);
	argv[n++] = "--stats-socket";
	argv[n++] = path_of("haproxy.sock");
	for (int i = 0; i < N_NODES; i++) {
		snprintf(addr[i], sizeof(addr[i]), "%s=127.0.0.1:%d", names[i],
			 node[i].port);
		argv[n++] = addr[i];
	}
	argv[n] = NULL;
	is(hh_run(argv, path_of("haproxy-config.log"), &out), 0,
	   "herald cluster haproxy-config writes the configuration");
	f = fopen(path_of("haproxy.cfg"), "w");
	if (!f || fputs(out ? out : "", f) < 0 || fclose(f))
		bail_out("writing haproxy.cfg");
	free(out);
	const char *check[] = {"haproxy", "-c", "-q", "-f",
			       path_of("haproxy.cfg"), NULL};
	is(hh_run(check, path_of("haproxy-check.log"), NULL), 0,
	   "haproxy -c accepts it");

	haproxy_pid = fork();
	if (haproxy_pid < 0)
		bail_out("fork: %s", strerror(errno));
	if (haproxy_pid == 0) {
		const char *cfg = path_of("haproxy.cfg");
		int fd = open(path_of("haproxy.log"), O_WRONLY | O_CREAT |
			      O_TRUNC, 0644);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execlp("haproxy", "haproxy", "-db", "-f", cfg, (char *)NULL);
		_exit(127);
	}
	atexit(stop_haproxy);
}

/* One command on HAProxy's runtime API (the stats socket); its answer
 * (static buffer). */
const char *haproxy_cmd(const char *cmd)
{
	static char out[4096];
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	size_t len = 0;
	ssize_t k;

	out[0] = '\0';
	snprintf(a.sun_path, sizeof(a.sun_path), "%s",
		 path_of("haproxy.sock"));
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		diag("haproxy's socket: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return out;
	}
	if (write(fd, cmd, strlen(cmd)) != (ssize_t)strlen(cmd) ||
	    write(fd, "\n", 1) != 1)
		diag("haproxy's socket: short write");
	while (len < sizeof(out) - 1 &&
	       (k = read(fd, out + len, sizeof(out) - 1 - len)) > 0)
		len += (size_t)k;
	out[len] = '\0';
	close(fd);
	return out;
}


/* ----------------------------------------------------- an SSE reader */

void sse_open(struct sse_reader *s, const char *q, const char *last_id)
{
	const char *req = hh_fmt(
		"GET /v2/queues/%s/events?client_id=%s&project_id=cl HTTP/1.1\r\n"
		"Host: t\r\nAccept: text/event-stream\r\n%s%s%s\r\n", q,
		HH_CLIENT_B, last_id ? "Last-Event-ID: " : "",
		last_id ? last_id : "", last_id ? "\r\n" : "");

	s->len = 0;
	s->buf[0] = '\0';
	hh_client_init(&s->c, &proxy, NULL, NULL);
	if (hh_send(&s->c, req, strlen(req)) != 0)
		bail_out("cannot open the event stream");
}

/* Reads until `n` message events have come (true) or ms pass. */
bool sse_events(struct sse_reader *s, int n, int ms)
{
	for (;;) {
		int have = 0;

		for (const char *p = s->buf; (p = strstr(p, "event: message"));
		     p++)
			have++;
		if (have >= n)
			return true;
		struct pollfd p = {.fd = s->c.fd, .events = POLLIN};
		ssize_t k;

		if (s->len + 1 >= sizeof(s->buf) || poll(&p, 1, ms) <= 0)
			return false;
		k = read(s->c.fd, s->buf + s->len, sizeof(s->buf) - 1 - s->len);
		if (k <= 0)
			return false;
		s->len += (size_t)k;
		s->buf[s->len] = '\0';
	}
}

/* The data: of each message event, in order, as "n,n,..." (its bodies
 * are numbers), and the last event's id into last. */
const char *sse_bodies(const struct sse_reader *s, char *last,
			      size_t last_len)
{
	static char out[1024];
	size_t o = 0;

	out[0] = '\0';
	for (const char *p = s->buf; (p = strstr(p, "id: ")); p += 4) {
		const char *d = strstr(p, "\ndata: ");
		json_t *j;

		if (!d)
			break;
		snprintf(last, last_len, "%.24s", p + 4);
		j = json_loads(d + 7, JSON_DISABLE_EOF_CHECK, NULL);
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%lld",
				      o ? "," : "",
				      json_integer_value(json_object_get(j,
								"body")));
		json_decref(j);
	}
	return out;
}

int cluster_start(const char *tmp_prefix, const char *const *extra_args)
{
	const char *haproxy_v[] = {"haproxy", "-v", NULL};
	struct hh_client c;
	char tmpl[64];
	bool up;

	if (hh_run(haproxy_v, "/dev/null", NULL) == 127) {
		const char *req = getenv("HERALD_REQUIRE_HAPROXY");

		if (req && !strcmp(req, "1"))
			bail_out("haproxy is not installed");
		skip_all("haproxy is not installed (apt-get install haproxy)");
	}
	snprintf(tmpl, sizeof(tmpl), "/tmp/%s-XXXXXX", tmp_prefix);
	if (!mkdtemp(tmpl))
		bail_out("mkdtemp: %s", strerror(errno));
	snprintf(cluster_dir, sizeof(cluster_dir), "%s", tmpl);
	snprintf(map_path, sizeof(map_path), "%s", path_of("shards.map"));
	write_map(map_path, (const char *const[]){"a", "b", "c", NULL});

	/* Ports of their own (the later --listen wins), kept across
	 * restarts: HAProxy's configuration and --cluster-nodes name them. */
	static char listen[N_NODES][32], peers[256];

	for (int i = 0; i < N_NODES; i++) {
		int port = free_port();

		snprintf(listen[i], sizeof(listen[i]), "127.0.0.1:%d", port);
		snprintf(peers + strlen(peers), sizeof(peers) - strlen(peers),
			 "%s%s=127.0.0.1:%d", i ? "," : "", names[i], port);
	}
	for (int i = 0; i < N_NODES; i++) {
		const char *extra[16] = {"--node", names[i], "--cluster-map",
					 map_path, "--listen", listen[i],
					 "--cluster-nodes", peers};
		int n = 8;

		for (int k = 0; extra_args && extra_args[k] && n < 15; k++)
			extra[n++] = extra_args[k];
		extra[n] = NULL;
		hh_start(&node[i], extra);
	}
	start_haproxy(map_path);
	hh_client_init(&c, &proxy, HH_CLIENT_A, "cl");
	up = wait_status(&c, "/v2/ping", 204, 20);
	hh_client_close(&c);
	return up ? 0 : -1;
}

int cluster_end(void)
{
	const char *rm[] = {"rm", "-rf", cluster_dir, NULL};

	stop_haproxy();
	for (int i = N_NODES - 1; i > 0; i--)
		is(hh_discard(&node[i]), 0, "node %s stops cleanly", names[i]);
	hh_run(rm, "/dev/null", NULL);
	return hh_finish(&node[0]);
}
