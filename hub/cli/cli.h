/*
 * cli.h - what the files of the `herald` client commands share (post,
 * tail, claim, stats, queues): the options every command takes, exit
 * codes, and a small synchronous HTTP / WebSocket client over lws.
 *
 * The client speaks to a Herald (or Zaqar) server with the headers of the
 * Zaqar API: Client-ID always, X-Project-Id when a project was given. One
 * lws context serves the whole process; each request is its own
 * connection and runs the loop until it completes or its timeout passes.
 *
 * JSON: every json_t * a function returns is a new reference.
 */
#ifndef HERALD_CLI_H
#define HERALD_CLI_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

/* Exit codes of every client command. */
enum cli_exit {
	CLI_OK = 0,      /* done */
	CLI_REFUSED = 1, /* the server answered with an error */
	CLI_USAGE = 2,   /* bad command line or input */
	CLI_CONN = 3,    /* no answer: connection refused, reset, timed out */
};

/* The client: where the server is and who we are. */
struct cli {
	const char *cmd;         /* "post", ... for messages */
	bool tls;                /* https:// or wss:// */
	char host[256];
	int port;
	char base[256];          /* path prefix of --url, without a final / */
	char client_id[64];
	char project[257];       /* "" = send no X-Project-Id */
	char token[4096];        /* X-Auth-Token (docs/security.md); "" none */
	/* X-Roles, for a server with --auth none (its admin routes want
	 * "admin" there); "" = send none. */
	char roles[64];
	/* https/wss: a PEM file of the CA(s) to trust instead of the
	 * system's; "" = the system's. The certificate and the host name
	 * are always verified. */
	char ca[4096];
	struct lws_context *ctx; /* created by cli_net_open */
	bool quiet;              /* do not print connection failures */
};

/* A response. */
struct cli_resp {
	int status;              /* HTTP status */
	char *body;              /* NUL-terminated, "" when none; owned */
	size_t len;
	char gap[32];            /* Herald-Gap header, "" when absent */
	json_t *json;            /* body as JSON or NULL; owned */
};

/* Set by SIGINT / SIGTERM (see cli_net_open); loops end when it is. */
extern volatile sig_atomic_t cli_interrupted;

/* Runs `herald CMD ...` (argv[0] is CMD). Returns the exit code. */
int hub_cli_main(int argc, char **argv);
/* True when `cmd` is a client command. */
bool hub_cli_is_command(const char *cmd);
/* Runs `herald backup ...` (argv[0] is "backup"; backup.c): a hot copy
 * of the data directory, no server involved. Returns the exit code. */
int hub_cli_backup(int argc, char **argv);

/* `herald token hash [TOKEN]` and `herald token new` (token.c): the
 * token file's hashes. argv[0] is "token". Returns the exit code. */
int hub_cli_token(int argc, char **argv);

/* `herald cluster map|haproxy-config|shard|move ...` (cluster.c): the
 * shard map and HAProxy's configuration. argv[0] is "cluster". */
int hub_cli_cluster(int argc, char **argv);
/* `herald cluster move SHARD ...` (move.c): a shard from one node to
 * another (docs/operations.md). argv[0] is "cluster", argv[1] "move". */
int hub_cli_cluster_move(int argc, char **argv);

/* The commands (post.c, tail.c, main.c); argv[0] is the command,
 * the remaining arguments are the positional ones after options. */
struct cli_opts;
int cli_cmd_post(struct cli *c, const struct cli_opts *o, int argc,
		 char **argv);
int cli_cmd_claim(struct cli *c, const struct cli_opts *o, int argc,
		  char **argv);
int cli_cmd_tail(struct cli *c, const struct cli_opts *o, int argc,
		 char **argv);

/* Per-command options, parsed in cli.c. -1 / NULL = not given. */
struct cli_opts {
	long ttl, delay, grace, limit;
	const char *marker;
	const char *from;        /* "oldest" | "now" | NULL */
	bool follow, echo, poll, del;
};

/* ------------------------------------------------------------------ net */

/*
 * Parses `url` (http[s]://host[:port][/prefix]) into c and creates the lws
 * context; installs SIGINT/SIGTERM handlers that set cli_interrupted.
 * Returns 0, or CLI_USAGE after printing why.
 */
int cli_net_open(struct cli *c, const char *url);
void cli_net_close(struct cli *c);

/*
 * One request: `method` `path` (below the --url prefix, with its query),
 * `body` (NULL: none) sent as application/json. Waits at most timeout_s
 * seconds, or until cli_interrupted. Returns CLI_OK with r filled (any
 * status; cli_resp_free it), or CLI_CONN after printing why.
 */
int cli_request(struct cli *c, const char *method, const char *path,
		const char *body, int timeout_s, struct cli_resp *r);
void cli_resp_free(struct cli_resp *r);
/* Prints "herald CMD: STATUS TITLE: DESCRIPTION" for an error response
 * and returns CLI_REFUSED. */
int cli_refused(const struct cli *c, const struct cli_resp *r);
/*
 * cli_request() that expects an answer: CLI_OK with *r filled when the
 * status is `want` or `also` (0: none), else the refusal printed, *r
 * freed and CLI_REFUSED (or CLI_CONN when no answer came).
 */
int cli_call(struct cli *c, const char *method, const char *path,
	     const char *body, int timeout_s, int want, int also,
	     struct cli_resp *r);

/* WebSocket stream events, for cli_ws_stream. */
struct cli_ws_handler {
	/* A text frame parsed as JSON (borrowed). */
	void (*frame)(void *arg, json_t *frame);
	/* The connection is up (handshake done). */
	void (*up)(void *arg);
	void *arg;
};

/*
 * Opens a WebSocket to `path` (below the --url prefix, with its query)
 * and hands every frame to h until the connection ends or
 * cli_interrupted is set. Returns CLI_OK when it was up and ended
 * (closed by the peer, or interrupted), CLI_CONN when it
 * never came up (no server, or the upgrade was refused or dropped).
 */
int cli_ws_stream(struct cli *c, const char *path,
		  const struct cli_ws_handler *h);

/* Sleeps up to ms, returning early when cli_interrupted is set. */
void cli_sleep_ms(long ms);

/* ------------------------------------------------------------- helpers */

/* `s` percent-encoded for a query (static buffer, rotating). */
const char *cli_qs(const char *s);
/* Prints a JSON value on one line to stdout (and flushes). */
void cli_print_json(json_t *j);
/* Prints a message (borrowed) as one line {"id","ttl","age","body"}, plus
 * "claim_id" when not NULL. */
void cli_print_message(json_t *m, const char *claim_id);
/* The last path segment of an href, without its query, into dst. */
void cli_href_id(const char *href, char *dst, size_t n);

#endif /* HERALD_CLI_H */
