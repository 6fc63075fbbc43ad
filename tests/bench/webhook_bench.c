/*
 * webhook_bench.c - webhook delivery throughput: messages per second that
 * herald POSTs to a receiver on loopback, against the receiver's capacity
 * measured in the same run by a plain client making the same requests
 * (one POST per connection, as herald sends them) with the same
 * concurrency.
 *
 *   HERALD_BIN=build-rel/hub/herald build-rel/tests/bench/webhook_bench \
 *       [--subs N] [--messages M] [--durability sync|nosync]
 *
 * N subscriptions of one queue (each delivers in order, one POST at a
 * time; herald's webhook-connections caps them at 64 at once); M messages
 * posted in requests of 10; the figure is N x M deliveries over the time
 * from the first post to the last delivery.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "receiver.h"
#include "span.h"

#define MSG "{\"ttl\": 3600, \"body\": {\"n\": 12345, \"text\": \"a bench message\"}}"

/* CPU seconds the process has used (user + system). */
static double cpu_s(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut = 0, st = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f || !fgets(buf, sizeof(buf), f)) {
		if (f)
			fclose(f);
		return 0;
	}
	fclose(f);
	p = strrchr(buf, ')');
	if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
			"%llu %llu", &ut, &st) == 2)
		return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
	return 0;
}

/* ----------------------------------------------------------- the peer */

struct peer {
	int port;
	unsigned n;
	pthread_t thread;
};

static void *peer_run(void *arg)
{
	struct peer *p = arg;
	static const char body[] =
		"{\"ttl\": 3600, \"body\": {\"n\": 12345, \"text\": \"a bench "
		"message\"}, \"Message_Type\": \"Notification\", "
		"\"queue_name\": \"bench\"}";
	char req[512], resp[512];
	int len = snprintf(req, sizeof(req),
			   "POST /peer HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
			   "Content-Type: application/json\r\n"
			   "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
			   p->port, sizeof(body) - 1, body);

	for (unsigned i = 0; i < p->n; i++) {
		struct sockaddr_in a = {.sin_family = AF_INET,
					.sin_port = htons((uint16_t)p->port)};
		int fd = socket(AF_INET, SOCK_STREAM, 0);

		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) ||
		    write(fd, req, (size_t)len) != len) {
			fprintf(stderr, "peer: %s\n", strerror(errno));
			exit(1);
		}
		while (read(fd, resp, sizeof(resp)) > 0)
			;
		close(fd);
	}
	return NULL;
}

/* Requests per second of `conc` clients making `total` POSTs in all. */
static double peer_rate(struct rx *rx, unsigned conc, unsigned total)
{
	struct peer *p = calloc(conc, sizeof(*p));
	size_t base = rx_count(rx);
	double t0 = clock_s(CLOCK_MONOTONIC);

	for (unsigned i = 0; i < conc; i++) {
		p[i].port = rx_port(rx);
		p[i].n = total / conc;
		pthread_create(&p[i].thread, NULL, peer_run, &p[i]);
	}
	for (unsigned i = 0; i < conc; i++)
		pthread_join(p[i].thread, NULL);
	free(p);
	return (double)(rx_count(rx) - base) / (clock_s(CLOCK_MONOTONIC) - t0);
}

/* ------------------------------------------------------------- herald */

static double herald_rate(struct hh_server *srv, struct rx *rx,
			  unsigned subs, unsigned messages)
{
	struct hh_client c;
	struct hh_resp r = HH_RESP_INIT;
	size_t want = rx_count(rx) + (size_t)subs * messages;
	double t0;

	hh_client_init(&c, srv, HH_CLIENT_A, "bench");
	for (unsigned i = 0; i < subs; i++) {
		hh_call(&c, &r, "POST", "/v2/queues/bench/subscriptions",
			hh_fmt("{\"subscriber\": \"http://127.0.0.1:%d/s%u\"}",
			       rx_port(rx), i));
		if (r.status != 201)
			bail_out("subscribe: %d %s", r.status, r.body);
	}
	t0 = clock_s(CLOCK_MONOTONIC);
	for (unsigned i = 0; i < messages; i += 10) {
		hh_call(&c, &r, "POST", "/v2/queues/bench/messages",
			"{\"messages\": [" MSG "," MSG "," MSG "," MSG "," MSG ","
			MSG "," MSG "," MSG "," MSG "," MSG "]}");
		if (r.status != 201)
			bail_out("post: %d %s", r.status, r.body);
	}
	if (!rx_wait(rx, want, 600 * 1000))
		bail_out("only %zu of %zu deliveries came", rx_count(rx), want);
	hh_resp_free(&r);
	hh_client_close(&c);
	return (double)subs * messages / (clock_s(CLOCK_MONOTONIC) - t0);
}

int main(int argc, char **argv)
{
	unsigned subs = 16, messages = 2000;
	const char *durability = "sync";
	struct hh_server srv;
	struct rx *rx = rx_start_n(8, true);
	double rate, peer, cpu0, cpu;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--subs") == 0)
			subs = (unsigned)atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--messages") == 0)
			messages = (unsigned)atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--durability") == 0)
			durability = argv[i + 1];
	}
	if (subs < 1 || messages < 10) {
		fprintf(stderr, "usage: webhook_bench [--subs N] [--messages M] "
			"[--durability sync|interval|nosync]\n");
		return 2;
	}
	const char *args[] = {"--webhook-allow", "127.0.0.1", "--durability",
			      durability, NULL};
	hh_start(&srv, args);
	hh_watchdog(1800);
	cpu0 = cpu_s(srv.pid);
	rate = herald_rate(&srv, rx, subs, messages);
	cpu = cpu_s(srv.pid) - cpu0;
	hh_discard(&srv);
	peer = peer_rate(rx, subs < 64 ? subs : 64,
			 subs * messages < 100000 ? subs * messages : 100000);
	printf("webhook deliveries: %u subscriptions x %u messages, "
	       "durability %s\n", subs, messages, durability);
	printf("  herald   %10.0f deliveries/s   server CPU %.2f s "
	       "(%.0f deliveries per CPU-second)\n",
	       rate, cpu, cpu > 0 ? (double)subs * messages / cpu : 0);
	printf("  peer     %10.0f POSTs/s (a plain client, %u at once, one "
	       "POST per connection)\n", peer, subs < 64 ? subs : 64);
	printf("  ratio    %10.2f\n", rate / peer);
	rx_stop(rx);
	return 0;
}
