/*
 * test_hostile_fd.c - the server out of file descriptors (issue #12,
 * hostile testing, defect 2): it used to spin on accept() and log "lws:
 * accept: errno 24" some 150,000 times a second. Now it stops accepting
 * for a while, says so once, keeps answering the connections it has, and
 * accepts again once descriptors are free.
 *
 * The server's fd limit is lowered under it (prlimit) to FD_LIMIT; the
 * test then opens more connections than that.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FD_LIMIT 64
#define FLOOD 120

static struct hh_server srv;

static const char ping[] = "GET /v2/ping HTTP/1.1\r\nHost: x\r\nClient-ID: "
			   HH_CLIENT_A "\r\n\r\n";

static int connect_raw(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		bail_out("socket: %s", strerror(errno));
	a.sin_port = htons((uint16_t)srv.port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)))
		bail_out("connect: %s", strerror(errno));
	return fd;
}

/* Whether a 204 comes on fd within timeout_ms. */
static bool answered(int fd, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char buf[512];
	ssize_t n;

	if (poll(&p, 1, timeout_ms) != 1)
		return false;
	n = recv(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return strncmp(buf, "HTTP/1.1 204", 12) == 0;
}

static int log_count(const char *needle)
{
	FILE *f = fopen(srv.log, "r");
	char line[4096];
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

int main(void)
{
	struct rlimit old, rl;
	int keep, flood[FLOOD], last, pings = 0, served = 0;
	uint64_t until;

	hh_start(&srv, NULL);
	keep = connect_raw();
	send(keep, ping, strlen(ping), 0);
	ok(answered(keep, 5000), "a first connection is served");
	if (prlimit(srv.pid, RLIMIT_NOFILE, NULL, &old))
		bail_out("prlimit: %s", strerror(errno));
	rl = (struct rlimit){FD_LIMIT, old.rlim_max};
	if (prlimit(srv.pid, RLIMIT_NOFILE, &rl, NULL))
		bail_out("prlimit: %s", strerror(errno));
	for (int i = 0; i < FLOOD; i++)
		flood[i] = connect_raw();
	last = flood[FLOOD - 1];
	send(last, ping, strlen(ping), 0);

	/* For a second (the spin logged thousands of lines in that time),
	 * the open connection is used: it must keep being answered. */
	until = hh_mono_ms() + 1000;
	while (hh_mono_ms() < until) {
		send(keep, ping, strlen(ping), 0);
		pings++;
		served += answered(keep, 2000);
	}
	is(served, pings, "the open connection is answered all along (%d "
	   "pings)", pings);
	ok(!answered(last, 0), "a connection past the fd limit waits");
	is(log_count("accept: errno"), 0, "lws's accept error is not "
	   "logged each time");
	{
		int n = log_count("cannot accept connections");

		ok(n >= 1 && n <= 2, "running out is logged once an interval "
		   "(%d lines)", n);
	}

	/* Descriptors free up: the waiting connection is accepted and
	 * answered. */
	for (int i = 0; i < FLOOD - 1; i++)
		close(flood[i]);
	ok(answered(last, 5000), "once descriptors are free, a waiting "
	   "connection is accepted and answered");
	close(last);
	send(keep, ping, strlen(ping), 0);
	ok(answered(keep, 5000), "the first connection is still served");
	close(keep);
	prlimit(srv.pid, RLIMIT_NOFILE, &old, NULL);
	return hh_finish(&srv);
}
