/*
 * test_tls.c - https and wss on one port (--tls-cert, --tls-key), the
 * certificate's reload on SIGHUP, and the client's --ca.
 *
 * The test makes its own CA and certificates with the openssl command in
 * a temporary directory: cert A (the first), cert B (the reload; same CA,
 * another subject), "other" (a name that is not the server's), a garbage
 * file and a key that belongs to no certificate here. curl (--cacert),
 * the herald client and a TLS connection of the test's own (OpenSSL, to
 * read which certificate the server presents) talk to the server.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
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

static char dir[256];  /* the certificates */
static const char *bin; /* herald */

static const char *path_of(const char *name)
{
	return hh_fmt("%s/%s", dir, name);
}

/* The CA, the certificates and the bad files (see the top). */
static void make_certs(void)
{
	static const char script[] =
		"set -e; cd \"$1\"\n"
		"q() { \"$@\" >/dev/null 2>&1; }\n"
		"q openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:"
		"prime256v1 -nodes -keyout ca.key -out ca.pem -days 2 "
		"-subj '/CN=Herald Test CA'\n"
		"printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n"
		"basicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\n' "
		"> local.ext\n"
		"printf 'subjectAltName=DNS:other.example\\n' > other.ext\n"
		"mk() { q openssl req -newkey ec -pkeyopt ec_paramgen_curve:"
		"prime256v1 -nodes -keyout $1.key -out $1.csr -subj /CN=$2; "
		"q openssl x509 -req -in $1.csr -CA ca.pem -CAkey ca.key "
		"-CAcreateserial -out $1.pem -days 1 -extfile $3.ext; }\n"
		"mk a herald-a local; mk b herald-b local; "
		"mk other other.example other\n"
		"q openssl genpkey -algorithm EC -pkeyopt "
		"ec_paramgen_curve:prime256v1 -out stray.key\n"
		"echo 'not a certificate' > garbage.pem\n";
	const char *argv[] = {"sh", "-c", script, "sh", dir, NULL};
	char *out = NULL;

	if (hh_run(argv, path_of("openssl.log"), &out) != 0)
		bail_out("openssl could not make the certificates: %s", out);
	free(out);
}

/* ------------------------------------------------- the test's own TLS */

/* The SHA-256 of a PEM certificate file's first certificate. */
static void file_fp(const char *file, unsigned char md[32])
{
	FILE *f = fopen(file, "r");
	X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;
	unsigned n = 32;

	if (f)
		fclose(f);
	if (!x)
		bail_out("cannot read %s", file);
	X509_digest(x, EVP_sha256(), md, &n);
	X509_free(x);
}

struct tconn {
	SSL_CTX *ctx;
	SSL *ssl;
	int fd;
};

/* A verified TLS connection to the server (CA file, IP 127.0.0.1). */
static bool tconn_open(struct tconn *t, const struct hh_server *s)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)s->port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct timeval tv = {.tv_sec = 5};

	memset(t, 0, sizeof(*t));
	t->fd = socket(AF_INET, SOCK_STREAM, 0);
	t->ctx = SSL_CTX_new(TLS_client_method());
	if (t->fd < 0 || !t->ctx ||
	    connect(t->fd, (struct sockaddr *)&a, sizeof(a)))
		return false;
	setsockopt(t->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	SSL_CTX_load_verify_locations(t->ctx, path_of("ca.pem"), NULL);
	SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
	t->ssl = SSL_new(t->ctx);
	SSL_set1_host(t->ssl, "127.0.0.1");
	SSL_set_fd(t->ssl, t->fd);
	return SSL_connect(t->ssl) == 1;
}

static void tconn_close(struct tconn *t)
{
	if (t->ssl)
		SSL_free(t->ssl);
	if (t->ctx)
		SSL_CTX_free(t->ctx);
	if (t->fd >= 0)
		close(t->fd);
	ERR_clear_error();
	memset(t, 0, sizeof(*t));
	t->fd = -1;
}

/* Whether the connection's certificate is the one in `file`. */
static bool tconn_is(const struct tconn *t, const char *file)
{
	unsigned char want[32], got[32];
	unsigned n = 32;
	X509 *x = SSL_get1_peer_certificate(t->ssl);
	bool same;

	if (!x)
		return false;
	file_fp(file, want);
	X509_digest(x, EVP_sha256(), got, &n);
	X509_free(x);
	same = memcmp(want, got, 32) == 0;
	return same;
}

/* Which certificate a new connection gets: "a", "b" or "?" ("-": none). */
static const char *served(const struct hh_server *s)
{
	struct tconn t;
	const char *who = "-";

	if (tconn_open(&t, s))
		who = tconn_is(&t, path_of("a.pem"))   ? "a"
		      : tconn_is(&t, path_of("b.pem")) ? "b"
						       : "?";
	tconn_close(&t);
	return who;
}

/* GET /v2/ping on the connection: the status line's code, or -1. */
static int tconn_ping(struct tconn *t)
{
	static const char req[] = "GET /v2/ping HTTP/1.1\r\nHost: 127.0.0.1\r\n"
				  "Client-ID: " HH_CLIENT_A "\r\n\r\n";
	char buf[1024];
	int n, code = -1;

	if (SSL_write(t->ssl, req, sizeof(req) - 1) != sizeof(req) - 1)
		return -1;
	n = SSL_read(t->ssl, buf, sizeof(buf) - 1);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if (sscanf(buf, "HTTP/1.1 %d", &code) != 1)
		return -1;
	return code;
}

/* ------------------------------------------------------------ helpers */

static const char *url(const struct hh_server *s, const char *scheme)
{
	return hh_fmt("%s://127.0.0.1:%d", scheme, s->port);
}

/* curl with the test's CA; *out gets what it printed. Its exit code. */
static int curl(const struct hh_server *s, char **out, const char *method,
		const char *path, const char *body)
{
	const char *argv[] = {
		"curl", "-sS", "--max-time", "10", "--cacert", path_of("ca.pem"),
		"-X", method, "-H", "Client-ID: " HH_CLIENT_A,
		"-H", "X-Project-Id: tls", "-H", "Content-Type: application/json",
		"-w", "\n%{http_code}", body ? "--data-binary" : "-G",
		body ? body : "--data-urlencode", body ? hh_fmt("%s%s",
		url(s, "https"), path) : "echo=true",
		body ? NULL : hh_fmt("%s%s", url(s, "https"), path), NULL};

	return hh_run(argv, path_of("curl.out"), out);
}

/* The last line of curl's output: -w's status. */
static int curl_status(const char *out)
{
	const char *nl = out ? strrchr(out, '\n') : NULL;

	return nl ? atoi(nl + 1) : -1;
}

/* `herald ARGS...` (the client); its exit code, *out what it printed. */
static int herald(char **out, const char *const *args)
{
	const char *argv[24] = {bin};
	int n = 1;

	for (; args[n - 1] && n < 23; n++)
		argv[n] = args[n - 1];
	argv[n] = NULL;
	return hh_run(argv, path_of("herald.out"), out);
}

/* A serve that must not start: its exit code and output. */
static int serve_refused(char **out, const char *cert, const char *key)
{
	const char *argv[12] = {bin, "serve", "--listen", "127.0.0.1:0",
				"--data", path_of("refused-data")};
	int n = 6;

	if (cert) {
		argv[n++] = "--tls-cert";
		argv[n++] = cert;
	}
	if (key) {
		argv[n++] = "--tls-key";
		argv[n++] = key;
	}
	argv[n] = NULL;
	return hh_run(argv, path_of("refused.out"), out);
}

/* ------------------------------------------------------------- checks */

static void start_refusals(void)
{
	char *out = NULL;

	ok(serve_refused(&out, path_of("a.pem"), NULL) != 0 &&
		   strstr(out, "--tls-key"),
	   "a certificate without a key: the server does not start, and "
	   "says --tls-key is missing");
	free(out);
	ok(serve_refused(&out, NULL, path_of("a.key")) != 0 &&
		   strstr(out, "--tls-cert"),
	   "a key without a certificate: refused, naming --tls-cert");
	free(out);
	ok(serve_refused(&out, path_of("missing.pem"), path_of("a.key")) != 0 &&
		   strstr(out, "missing.pem"),
	   "a certificate file that does not exist: refused, naming it");
	free(out);
	ok(serve_refused(&out, path_of("garbage.pem"), path_of("a.key")) != 0 &&
		   strstr(out, "cannot load the certificate"),
	   "a file that holds no certificate: refused");
	free(out);
	ok(serve_refused(&out, path_of("a.pem"), path_of("stray.key")) != 0 &&
		   strstr(out, "does not belong"),
	   "a key that is not the certificate's: refused");
	free(out);
}

static void https_curl(const struct hh_server *s)
{
	char *out = NULL;
	int rc;

	rc = curl(s, &out, "POST", "/v2/queues/q/messages",
		  "{\"messages\": [{\"ttl\": 300, \"body\": {\"over\": "
		  "\"https\"}}]}");
	ok(rc == 0 && curl_status(out) == 201,
	   "curl --cacert posts over https: 201 (curl %d)", rc);
	free(out);
	rc = curl(s, &out, "GET", "/v2/queues/q/messages", NULL);
	ok(rc == 0 && curl_status(out) == 200 &&
		   strstr(out, "\"over\": \"https\""),
	   "curl --cacert reads the message back over https");
	if (rc)
		diag("curl: %s", out);
	free(out);
	{
		const char *argv[] = {"curl", "-sS", "--max-time", "10",
				      hh_fmt("%s/v2/ping", url(s, "https")),
				      NULL};

		rc = hh_run(argv, path_of("curl.out"), NULL);
		is(rc, 60, "curl without the CA refuses the certificate "
			   "(exit 60): it is checked");
	}
}

static void plain_http(const struct hh_server *s)
{
	struct hh_client c;
	struct hh_resp r = HH_RESP_INIT;

	hh_client_init(&c, s, HH_CLIENT_A, "tls");
	c.timeout_ms = 3000;
	hh_call(&c, &r, "GET", "/v2/queues/q/messages?echo=true", NULL);
	ok(r.status == -1 && !strstr(r.body ? r.body : "", "https"),
	   "plain HTTP to the TLS port gets no HTTP answer and no data "
	   "(status %d)", r.status);
	hh_resp_free(&r);
	hh_client_close(&c);
}

static void cli_https(const struct hh_server *s)
{
	char *out = NULL;
	const char *base[] = {"--url", url(s, "https"), "--project", "tls",
			      "--client-id", HH_CLIENT_B};
	int rc;

	rc = herald(&out, (const char *[]){"post", base[0], base[1], base[2],
					   base[3], base[4], base[5], "--ca",
					   path_of("ca.pem"), "q",
					   "{\"from\": \"cli\"}", NULL});
	is(rc, 0, "herald post --ca over https");
	free(out);
	rc = herald(&out, (const char *[]){"tail", base[0], base[1], base[2],
					   base[3], base[4], base[5], "--echo",
					   "q", NULL});
	ok(rc == 3 && strstr(out, "certificate"),
	   "herald tail without --ca refuses the server's certificate "
	   "(exit 3, says why)");
	free(out);
	setenv("HERALD_CA", path_of("ca.pem"), 1);
	rc = herald(&out, (const char *[]){"tail", base[0], base[1], base[2],
					   base[3], base[4], base[5], "--echo",
					   "q", NULL});
	ok(rc == 0 && strstr(out, "\"from\":\"cli\""),
	   "HERALD_CA trusts the CA as --ca does: tail reads the message");
	free(out);
	unsetenv("HERALD_CA");
	rc = herald(&out, (const char *[]){"tail", base[0], base[1], base[2],
					   base[3], base[4], base[5], "--ca",
					   path_of("garbage.pem"), "q", NULL});
	ok(rc == 2 && strstr(out, "garbage.pem"),
	   "--ca naming a file without a certificate is a usage error");
	free(out);
}

/* `herald tail -f` over wss, its output in files; its pid. */
static pid_t tail_follow(const struct hh_server *s, const char *marker)
{
	int out = open(path_of("follow.out"), O_WRONLY | O_CREAT | O_TRUNC,
		       0644);
	int err = open(path_of("follow.err"), O_WRONLY | O_CREAT | O_TRUNC,
		       0644);
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(out, STDOUT_FILENO);
		dup2(err, STDERR_FILENO);
		execl(bin, bin, "tail", "-f", "--echo", "--url",
		      url(s, "wss"), "--ca", path_of("ca.pem"), "--project",
		      "tls", "--client-id", HH_CLIENT_B, "--marker", marker,
		      "q", (char *)NULL);
		_exit(127);
	}
	close(out);
	close(err);
	return pid;
}

/* Whether `file` comes to hold `text` within 10 s (polled). */
static bool file_gets(const char *file, const char *text)
{
	for (int i = 0; i < 200; i++) {
		FILE *f = fopen(file, "r");
		char buf[8192];
		size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

		if (f)
			fclose(f);
		buf[n] = '\0';
		if (strstr(buf, text))
			return true;
		usleep(50000);
	}
	return false;
}

/* Posts one message through curl; its id ("" on failure). */
static const char *post(const struct hh_server *s, const char *body)
{
	static char id[64];
	char *out = NULL;
	const char *p;

	id[0] = '\0';
	curl(s, &out, "POST", "/v2/queues/q/messages",
	     hh_fmt("{\"messages\": [{\"ttl\": 300, \"body\": %s}]}", body));
	p = out ? strstr(out, "/messages/") : NULL;
	if (p)
		snprintf(id, sizeof(id), "%.*s", (int)strcspn(p + 10, "\""),
			 p + 10);
	free(out);
	return id;
}

/* The files the server reads become cert_file and key_file (links). */
static void install(const char *cert_file, const char *key_file)
{
	unlink(path_of("live.pem"));
	unlink(path_of("live.key"));
	if (link(path_of(cert_file), path_of("live.pem")) ||
	    link(path_of(key_file), path_of("live.key")))
		bail_out("link: %s", strerror(errno));
}

/* The log has `text` in it within a few seconds (the reload's line). */
static bool log_says(const struct hh_server *s, const char *text)
{
	return file_gets(s->log, text);
}

static void reload(struct hh_server *s)
{
	const char *marker = post(s, "{\"n\": 0}");
	struct tconn old;
	pid_t follower;
	int st;

	ok(marker[0], "a first message to follow from");
	follower = tail_follow(s, marker);
	post(s, "{\"n\": 1}");
	ok(file_gets(path_of("follow.out"), "\"n\":1"),
	   "herald tail -f over wss gets a message");
	is_str(served(s), "a", "new connections get certificate A");
	ok(tconn_open(&old, s) && tconn_is(&old, path_of("a.pem")),
	   "an https connection opened before the reload has A");

	/* B into the files the server was started with, then SIGHUP. */
	install("b.pem", "b.key");
	kill(s->pid, SIGHUP);
	ok(log_says(s, "TLS: reloaded"), "SIGHUP: the log says it reloaded");
	is_str(served(s), "b", "after SIGHUP new connections get certificate B");
	is(tconn_ping(&old), 204, "the connection opened before it still "
				  "serves requests");
	ok(tconn_is(&old, path_of("a.pem")), "... with the certificate it "
					      "began with");
	tconn_close(&old);
	post(s, "{\"n\": 2}");
	ok(file_gets(path_of("follow.out"), "\"n\":2"),
	   "the wss subscription made before the reload gets a message "
	   "posted after it");
	ok(!file_gets(path_of("follow.err"), "reconnecting") ||
		   (diag("tail: reconnected"), false),
	   "... on the same connection (the client never reconnected)");

	/* A bad replacement: garbage in the certificate file. */
	install("garbage.pem", "b.key");
	kill(s->pid, SIGHUP);
	ok(log_says(s, "TLS: reload refused"), "SIGHUP with a broken "
	       "certificate file: the log says the reload was refused");
	is_str(served(s), "b", "... and new connections still get B");
	/* And a key of another certificate. */
	install("b.pem", "stray.key");
	kill(s->pid, SIGHUP);
	ok(log_says(s, "does not belong"), "SIGHUP with a key that does "
	       "not match: refused, and the log says why");
	is_str(served(s), "b", "... B is still served");
	kill(follower, SIGTERM);
	waitpid(follower, &st, 0);
}

static void hostname_checked(const struct hh_server *main_srv)
{
	struct hh_server other;
	char *out = NULL;
	int rc;

	(void)main_srv;
	hh_start(&other, (const char *[]){"--tls-cert", path_of("other.pem"),
					  "--tls-key", path_of("other.key"),
					  NULL});
	rc = herald(&out, (const char *[]){"queues", "--url",
					   url(&other, "https"), "--ca",
					   path_of("ca.pem"), NULL});
	ok(rc == 3 && strstr(out, "certificate"),
	   "a certificate of the right CA for another name: herald refuses "
	   "it (the host name is checked)");
	free(out);
	hh_discard(&other);
}

int main(void)
{
	struct hh_server srv;
	char *out = NULL;
	int rc;

	bin = getenv("HERALD_BIN");
	snprintf(dir, sizeof(dir), "/tmp/herald-tls-XXXXXX");
	if (!bin || !mkdtemp(dir))
		bail_out("HERALD_BIN unset or no temporary directory");
	setenv("XDG_CONFIG_HOME", dir, 1);
	make_certs();
	start_refusals();

	/* The server reads live.pem / live.key: the reload swaps them. */
	install("a.pem", "a.key");
	hh_start(&srv, (const char *[]){"--tls-cert", path_of("live.pem"),
					"--tls-key", path_of("live.key"),
					"--log-level", "info", NULL});
	https_curl(&srv);
	plain_http(&srv);
	cli_https(&srv);
	reload(&srv);
	hostname_checked(&srv);

	rc = curl(&srv, &out, "GET", "/v2/ping", NULL);
	ok(rc == 0 && curl_status(out) == 204,
	   "the server still answers GET /v2/ping over https at the end");
	free(out);
	is(hh_stop(&srv), 0, "the server exits 0 on SIGTERM");
	done_testing();
	if (exit_status())
		hh_show_log(&srv);
	hh_discard(&srv);
	{
		const char *argv[] = {"rm", "-rf", dir, NULL};

		hh_run(argv, "/dev/null", NULL);
	}
	return exit_status();
}
