/*
 * receiver.c - the tests' webhook receiver (receiver.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "receiver.h"
#include "tap.h"

#define RX_MAX 8192
#define RX_THREADS 16

struct rx {
	int fd, port;
	unsigned n_threads;
	bool count_only; /* keep no requests, count them */
	size_t counted;
	pthread_t thread[RX_THREADS];
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	int status, next_n, next_status;
	struct rx_request *reqs[RX_MAX];
	size_t n;
};

/* Reads one request from fd into req; false on a malformed one. */
static bool read_request(int fd, struct rx_request *req)
{
	char *buf = NULL, *end = NULL;
	size_t len = 0, cap = 0, want = 0;
	long clen = 0;

	for (;;) {
		struct pollfd p = {fd, POLLIN, 0};
		ssize_t n;

		if (len + 4096 > cap) {
			char *b = realloc(buf, cap = (cap + 4096) * 2);

			if (!b)
				break;
			buf = b;
		}
		if (poll(&p, 1, 5000) != 1)
			break;
		n = read(fd, buf + len, cap - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		if (!end && (end = strstr(buf, "\r\n\r\n"))) {
			const char *cl = strcasestr(buf, "\ncontent-length:");

			clen = cl ? strtol(cl + 16, NULL, 10) : 0;
			want = (size_t)(end - buf) + 4 + (size_t)clen;
		}
		if (end && len >= want) {
			char *sp1 = strchr(buf, ' ');
			char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
			char *eol = strstr(buf, "\r\n");

			if (!sp1 || !sp2)
				break;
			req->method = strndup(buf, (size_t)(sp1 - buf));
			req->path = strndup(sp1 + 1, (size_t)(sp2 - sp1 - 1));
			req->headers = strndup(eol + 2, (size_t)(end - eol));
			req->body = strndup(end + 4, (size_t)clen);
			free(buf);
			return true;
		}
	}
	free(buf);
	return false;
}

static void req_free(struct rx_request *r)
{
	free(r->method);
	free(r->path);
	free(r->headers);
	free(r->body);
	free(r);
}

static void *serve(void *arg)
{
	struct rx *rx = arg;

	for (;;) {
		struct pollfd p = {rx->fd, POLLIN, 0};
		struct rx_request *req;
		char out[128];
		int fd, status;

		pthread_mutex_lock(&rx->lock);
		if (rx->stop) {
			pthread_mutex_unlock(&rx->lock);
			return NULL;
		}
		pthread_mutex_unlock(&rx->lock);
		if (poll(&p, 1, 100) != 1)
			continue;
		fd = accept(rx->fd, NULL, NULL);
		if (fd < 0)
			continue;
		req = calloc(1, sizeof(*req));
		if (!req || !read_request(fd, req)) {
			free(req);
			close(fd);
			continue;
		}
		pthread_mutex_lock(&rx->lock);
		status = rx->status;
		if (rx->next_n > 0) {
			rx->next_n--;
			status = rx->next_status;
		}
		req->answered = status;
		if (rx->count_only) {
			rx->counted++;
			req_free(req);
		} else if (rx->n < RX_MAX) {
			rx->reqs[rx->n++] = req;
		} else {
			req_free(req);
		}
		pthread_cond_broadcast(&rx->cond);
		pthread_mutex_unlock(&rx->lock);
		snprintf(out, sizeof(out), "HTTP/1.1 %d Scripted\r\n"
			 "Content-Length: 2\r\nConnection: close\r\n\r\nok",
			 status);
		if (write(fd, out, strlen(out)) < 0)
			diag("receiver: write: %s", strerror(errno));
		close(fd);
	}
}

struct rx *rx_start(void)
{
	return rx_start_n(1, false);
}

struct rx *rx_start_n(unsigned threads, bool count_only)
{
	struct rx *rx = calloc(1, sizeof(*rx));
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a);

	if (!rx)
		bail_out("receiver: out of memory");
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	rx->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (rx->fd < 0 || bind(rx->fd, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(rx->fd, 512) ||
	    getsockname(rx->fd, (struct sockaddr *)&a, &alen))
		bail_out("receiver: %s", strerror(errno));
	rx->port = ntohs(a.sin_port);
	/* Threads poll one socket: the losers of an accept must not block. */
	fcntl(rx->fd, F_SETFL, O_NONBLOCK);
	rx->status = 200;
	pthread_mutex_init(&rx->lock, NULL);
	pthread_cond_init(&rx->cond, NULL);
	rx->count_only = count_only;
	rx->n_threads = threads < 1 ? 1 : threads > RX_THREADS ? RX_THREADS
							      : threads;
	for (unsigned i = 0; i < rx->n_threads; i++)
		if (pthread_create(&rx->thread[i], NULL, serve, rx))
			bail_out("receiver: cannot start its threads");
	return rx;
}

void rx_stop(struct rx *rx)
{
	pthread_mutex_lock(&rx->lock);
	rx->stop = true;
	pthread_mutex_unlock(&rx->lock);
	for (unsigned i = 0; i < rx->n_threads; i++)
		pthread_join(rx->thread[i], NULL);
	close(rx->fd);
	for (size_t i = 0; i < rx->n; i++)
		req_free(rx->reqs[i]);
	free(rx);
}

int rx_port(const struct rx *rx)
{
	return rx->port;
}

void rx_answer(struct rx *rx, int status)
{
	pthread_mutex_lock(&rx->lock);
	rx->status = status;
	pthread_mutex_unlock(&rx->lock);
}

void rx_answer_next(struct rx *rx, int n, int status)
{
	pthread_mutex_lock(&rx->lock);
	rx->next_n = n;
	rx->next_status = status;
	pthread_mutex_unlock(&rx->lock);
}

size_t rx_count(struct rx *rx)
{
	size_t n;

	pthread_mutex_lock(&rx->lock);
	n = rx->n + rx->counted;
	pthread_mutex_unlock(&rx->lock);
	return n;
}

bool rx_wait(struct rx *rx, size_t n, int timeout_ms)
{
	struct timespec until;
	bool ok;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&rx->lock);
	while (rx->n + rx->counted < n &&
	       pthread_cond_timedwait(&rx->cond, &rx->lock, &until) == 0)
		;
	ok = rx->n + rx->counted >= n;
	pthread_mutex_unlock(&rx->lock);
	return ok;
}

const struct rx_request *rx_get(struct rx *rx, size_t i)
{
	const struct rx_request *r;

	pthread_mutex_lock(&rx->lock);
	r = i < rx->n ? rx->reqs[i] : NULL;
	pthread_mutex_unlock(&rx->lock);
	return r;
}

size_t rx_count_body(struct rx *rx, const char *needle, int status)
{
	size_t n = 0;

	pthread_mutex_lock(&rx->lock);
	for (size_t i = 0; i < rx->n; i++)
		n += rx->reqs[i]->answered == status &&
		     strstr(rx->reqs[i]->body, needle) != NULL;
	pthread_mutex_unlock(&rx->lock);
	return n;
}
