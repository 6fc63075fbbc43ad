/*
 * main.c - the `herald` client commands: option parsing shared by all of
 * them, the Client-ID kept between runs, and the two listing commands
 * (`queues`, `stats`). post and claim live in post.c, tail in
 * tail.c, the HTTP client in net.c.
 *
 * Options: one table of every option, each with the set of commands that
 * take it; getopt_long parses them anywhere on the line (`--` ends them,
 * e.g. before a message body that starts with '-').
 *
 * Client-ID (the Zaqar header that hides a client's own messages from its
 * listings): --client-id, else the UUID in
 * $XDG_CONFIG_HOME/herald/client-id (~/.config/...), created on first use;
 * when that file can be neither read nor written, a fresh UUID per run.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "cli.h"

enum {
	C_POST = 1 << 0,
	C_TAIL = 1 << 1,
	C_CLAIM = 1 << 2,
	C_STATS = 1 << 3,
	C_QUEUES = 1 << 4,
	C_ALL = 0x1f,
};

static const struct command {
	const char *name;
	unsigned bit;
	const char *args;   /* positional arguments, for usage */
	const char *help;   /* what it does and its own options */
} commands[] = {
	{"post", C_POST, "QUEUE [JSON...]",
	 "Posts messages: each JSON argument is one message body; with none,\n"
	 "reads one JSON value per line from stdin. Prints the new ids.\n\n"
	 "  --ttl S       message ttl in seconds (server default: 3600)\n"
	 "  --delay S     delay in seconds (queues with a default delay)\n"},
	{"tail", C_TAIL, "QUEUE",
	 "Prints the queue's messages, one JSON line each (id, ttl, age, body).\n\n"
	 "  --marker M    start after the message with id M\n"
	 "  --from W      oldest (default) or now: where to start without a marker\n"
	 "  --echo        include the messages this client posted itself\n"
	 "  -f, --follow  keep waiting for new messages (WebSocket stream, or\n"
	 "                long-poll where the server has no stream); Ctrl-C ends\n"
	 "  --poll        with --follow: long-poll only, no WebSocket\n"},
	{"claim", C_CLAIM, "QUEUE",
	 "Claims messages and prints them, one JSON line each with claim_id.\n\n"
	 "  --limit N     at most N messages (server default: 10)\n"
	 "  --ttl S       claim ttl in seconds (default 300)\n"
	 "  --grace S     grace in seconds (default 60)\n"
	 "  --delete      delete each message after printing it\n"},
	{"stats", C_STATS, "[QUEUE]",
	 "With QUEUE, prints its stats; without, one line per queue of the\n"
	 "project: name total claimed free.\n"},
	{"queues", C_QUEUES, "", "Lists the project's queues, one name per line.\n"},
};

enum { O_URL = 256, O_PROJECT, O_CLIENT, O_TTL, O_DELAY, O_MARKER, O_FROM,
       O_ECHO, O_POLL, O_LIMIT, O_GRACE, O_DELETE, O_TOKEN, O_CA, O_HELP = 'h',
       O_FOLLOW = 'f' };

static const struct option long_opts[] = {
	{"url", required_argument, NULL, O_URL},
	{"project", required_argument, NULL, O_PROJECT},
	{"client-id", required_argument, NULL, O_CLIENT},
	{"help", no_argument, NULL, O_HELP},
	{"ttl", required_argument, NULL, O_TTL},
	{"delay", required_argument, NULL, O_DELAY},
	{"marker", required_argument, NULL, O_MARKER},
	{"from", required_argument, NULL, O_FROM},
	{"follow", no_argument, NULL, O_FOLLOW},
	{"echo", no_argument, NULL, O_ECHO},
	{"poll", no_argument, NULL, O_POLL},
	{"limit", required_argument, NULL, O_LIMIT},
	{"grace", required_argument, NULL, O_GRACE},
	{"delete", no_argument, NULL, O_DELETE},
	{"token", required_argument, NULL, O_TOKEN},
	{"ca", required_argument, NULL, O_CA},
	{NULL, 0, NULL, 0},
};

/* Which commands take each option (same order as long_opts). */
static const unsigned opt_cmds[] = {
	C_ALL, C_ALL, C_ALL, C_ALL, C_POST | C_CLAIM, C_POST, C_TAIL, C_TAIL,
	C_TAIL, C_TAIL, C_TAIL, C_CLAIM, C_CLAIM, C_CLAIM, C_ALL, C_ALL,
};

bool hub_cli_is_command(const char *cmd)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i].name, cmd))
			return true;
	return false;
}

static void usage(const struct command *cmd, FILE *out)
{
	fprintf(out, "usage: herald %s [OPTIONS] %s\n\n%s\n", cmd->name, cmd->args,
		cmd->help);
	fprintf(out,
		"common options:\n"
		"  --url URL         the server (default $HERALD_URL, else "
		"http://127.0.0.1:8888)\n"
		"  --project P       X-Project-Id (default $HERALD_PROJECT, else none:\n"
		"                    the server's default project)\n"
		"  --token T         X-Auth-Token (default $HERALD_TOKEN): a token "
		"or JWT\n"
		"                    for a server with --auth tokens, jwt or keystone\n"
		"  --ca FILE         https/wss: trust the CA certificates in "
		"FILE (PEM;\n"
		"                    default $HERALD_CA, else the system's); "
		"the server's\n"
		"                    certificate and host name are always "
		"checked\n"
		"  --client-id UUID  Client-ID (default: kept in "
		"~/.config/herald/client-id;\n"
		"                    a fresh one per run when that cannot be written)\n"
		"  -h, --help        this text\n\n"
		"exit status: 0 done, 1 the server refused, 2 usage or bad input, "
		"3 no connection\n");
}

static int parse_num(const struct cli *c, const char *name, const char *s,
		     long *out)
{
	char *end;

	errno = 0;
	*out = strtol(s, &end, 10);
	if (errno || end == s || *end || *out < 0) {
		fprintf(stderr, "herald %s: --%s wants a number, not \"%s\"\n",
			c->cmd, name, s);
		return -1;
	}
	return 0;
}

/* Applies one parsed option; 0, or -1 after printing why. */
static int set_opt(struct cli *c, struct cli_opts *o, const char **url,
		   int opt, const char *arg)
{
	switch (opt) {
	case O_URL: *url = arg; return 0;
	case O_PROJECT:
		if (!*arg || strlen(arg) >= sizeof(c->project)) {
			fprintf(stderr, "herald %s: --project wants 1 to 256 bytes\n",
				c->cmd);
			return -1;
		}
		snprintf(c->project, sizeof(c->project), "%s", arg);
		return 0;
	case O_CLIENT:
		snprintf(c->client_id, sizeof(c->client_id), "%s", arg);
		return 0;
	case O_TTL: return parse_num(c, "ttl", arg, &o->ttl);
	case O_DELAY: return parse_num(c, "delay", arg, &o->delay);
	case O_GRACE: return parse_num(c, "grace", arg, &o->grace);
	case O_LIMIT: return parse_num(c, "limit", arg, &o->limit);
	case O_MARKER: o->marker = arg; return 0;
	case O_FROM:
		if (strcmp(arg, "oldest") && strcmp(arg, "now")) {
			fprintf(stderr, "herald %s: --from wants oldest or now\n", c->cmd);
			return -1;
		}
		o->from = arg;
		return 0;
	case O_FOLLOW: o->follow = true; return 0;
	case O_ECHO: o->echo = true; return 0;
	case O_POLL: o->poll = true; return 0;
	case O_DELETE: o->del = true; return 0;
	case O_TOKEN:
		if (strlen(arg) >= sizeof(c->token)) {
			fprintf(stderr, "herald %s: --token is too long\n", c->cmd);
			return -1;
		}
		snprintf(c->token, sizeof(c->token), "%s", arg);
		return 0;
	case O_CA:
		if (!*arg || strlen(arg) >= sizeof(c->ca)) {
			fprintf(stderr, "herald %s: --ca wants a file name\n",
				c->cmd);
			return -1;
		}
		snprintf(c->ca, sizeof(c->ca), "%s", arg);
		return 0;
	}
	return -1;
}

/*
 * Parses argv (argv[0] is the command); on return argv[*first..argc) are
 * the positional arguments. Returns 0, 1 when --help was printed, or -1.
 */
static int parse_args(struct cli *c, struct cli_opts *o, const char **url,
		      const struct command *cmd, int argc, char **argv,
		      int *first)
{
	int opt, idx;

	opterr = 0;
	optind = 1;
	for (;;) {
		idx = -1;
		opt = getopt_long(argc, argv, ":hf", long_opts, &idx);
		if (opt == -1)
			break;
		if (opt == '?' || opt == ':') {
			fprintf(stderr, "herald %s: %s option %s\n", c->cmd,
				opt == '?' ? "unknown" : "missing value for",
				argv[optind - 1]);
			return -1;
		}
		if (opt == O_HELP) {
			usage(cmd, stdout);
			return 1;
		}
		for (idx = 0; long_opts[idx].name && long_opts[idx].val != opt; idx++)
			;
		if (!(opt_cmds[idx] & cmd->bit)) {
			fprintf(stderr, "herald %s: --%s is not an option of %s\n",
				c->cmd, long_opts[idx].name, c->cmd);
			return -1;
		}
		if (set_opt(c, o, url, opt, optarg))
			return -1;
	}
	*first = optind;
	return 0;
}

/* Reads or creates the kept client id; false when neither worked. */
static bool kept_client_id(char *out, size_t n)
{
	char dir[4096], path[4200], tmp[4300], line[64];
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	uuid_t u;
	FILE *f;

	if (xdg && *xdg)
		snprintf(dir, sizeof(dir), "%s/herald", xdg);
	else if (home && *home)
		snprintf(dir, sizeof(dir), "%s/.config/herald", home);
	else
		return false;
	snprintf(path, sizeof(path), "%s/client-id", dir);
	f = fopen(path, "r");
	if (f) {
		bool good = fgets(line, sizeof(line), f) &&
			    (line[strcspn(line, "\n")] = '\0', !uuid_parse(line, u));

		fclose(f);
		if (good) {
			snprintf(out, n, "%s", line);
			return true;
		}
	}
	/* Create it: written aside and renamed, so two first runs at once
	 * never read half a file. */
	*strrchr(dir, '/') = '\0';
	mkdir(dir, 0700);
	snprintf(dir + strlen(dir), sizeof(dir) - strlen(dir), "/herald");
	mkdir(dir, 0700);
	snprintf(tmp, sizeof(tmp), "%s.%ld", path, (long)getpid());
	f = fopen(tmp, "w");
	if (!f)
		return false;
	fprintf(f, "%s\n", out);
	if (fclose(f) || rename(tmp, path)) {
		unlink(tmp);
		return false;
	}
	return true;
}

static int pick_client_id(struct cli *c)
{
	uuid_t u;

	if (c->client_id[0]) {
		if (uuid_parse(c->client_id, u)) {
			fprintf(stderr, "herald %s: --client-id wants a UUID, not \"%s\"\n",
				c->cmd, c->client_id);
			return -1;
		}
		return 0;
	}
	uuid_generate_random(u);
	uuid_unparse_lower(u, c->client_id);
	kept_client_id(c->client_id, sizeof(c->client_id));
	return 0;
}

/* ----------------------------------------------------- queues and stats */

/*
 * Calls fn(c, name, arg) for every queue of the project, page by page
 * (following the next links until an empty page). Returns an exit code.
 */
static int each_queue(struct cli *c,
		      int (*fn)(struct cli *, const char *, void *), void *arg)
{
	char path[2048] = "/v2/queues?limit=20";
	struct cli_resp r;
	int rc = CLI_OK;

	while (rc == CLI_OK) {
		json_t *qs, *q, *next;
		size_t i;

		rc = cli_call(c, "GET", path, NULL, 30, 200, 0, &r);
		if (rc)
			return rc;
		qs = json_object_get(r.json, "queues");
		json_array_foreach(qs, i, q) {
			rc = fn(c, json_string_value(json_object_get(q, "name")), arg);
			if (rc)
				break;
		}
		next = json_object_get(json_array_get(json_object_get(r.json, "links"), 0),
				       "href");
		if (!json_array_size(qs) || !json_is_string(next) ||
		    strncmp(json_string_value(next), "/v2/queues?", 11)) {
			cli_resp_free(&r);
			break;
		}
		snprintf(path, sizeof(path), "%s", json_string_value(next));
		cli_resp_free(&r);
	}
	return rc;
}

static int print_name(struct cli *c, const char *name, void *arg)
{
	printf("%s\n", name ? name : "");
	return CLI_OK;
}

/* GETs the queue's stats into *r (cli_resp_free it); an exit code. */
static int get_stats(struct cli *c, const char *queue, struct cli_resp *r)
{
	char path[256];

	snprintf(path, sizeof(path), "/v2/queues/%s/stats", cli_qs(queue));
	return cli_call(c, "GET", path, NULL, 30, 200, 0, r);
}

static int print_stats_line(struct cli *c, const char *name, void *arg)
{
	struct cli_resp r;
	json_t *m;
	int rc;

	rc = get_stats(c, name, &r);
	if (rc)
		return rc;
	m = json_object_get(r.json, "messages");
	printf("%s %lld %lld %lld\n", name,
	       (long long)json_integer_value(json_object_get(m, "total")),
	       (long long)json_integer_value(json_object_get(m, "claimed")),
	       (long long)json_integer_value(json_object_get(m, "free")));
	cli_resp_free(&r);
	return CLI_OK;
}

static int cmd_stats(struct cli *c, int argc, char **argv)
{
	struct cli_resp r;
	char *text;
	int rc;

	if (argc > 1) {
		fprintf(stderr, "herald stats: one queue at most\n");
		return CLI_USAGE;
	}
	if (argc == 0)
		return each_queue(c, print_stats_line, NULL);
	rc = get_stats(c, argv[0], &r);
	if (rc)
		return rc;
	text = json_dumps(r.json, JSON_INDENT(2));
	printf("%s\n", text ? text : r.body);
	free(text);
	cli_resp_free(&r);
	return CLI_OK;
}

static int run_command(struct cli *c, const struct cli_opts *o, int argc,
		       char **argv)
{
	const char *cmd = c->cmd;

	if (!strcmp(cmd, "post"))
		return cli_cmd_post(c, o, argc, argv);
	if (!strcmp(cmd, "claim"))
		return cli_cmd_claim(c, o, argc, argv);
	if (!strcmp(cmd, "tail"))
		return cli_cmd_tail(c, o, argc, argv);
	if (!strcmp(cmd, "stats"))
		return cmd_stats(c, argc, argv);
	if (argc > 0) {
		fprintf(stderr, "herald queues: takes no arguments\n");
		return CLI_USAGE;
	}
	return each_queue(c, print_name, NULL);
}

int hub_cli_main(int argc, char **argv)
{
	const struct command *cmd = NULL;
	struct cli c;
	struct cli_opts o = {.ttl = -1, .delay = -1, .grace = -1, .limit = -1};
	const char *url = getenv("HERALD_URL"), *project = getenv("HERALD_PROJECT");
	int first, rc;

	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i].name, argv[0]))
			cmd = &commands[i];
	if (!cmd)
		return CLI_USAGE;
	memset(&c, 0, sizeof(c));
	c.cmd = cmd->name;
	if (!url || !*url)
		url = "http://127.0.0.1:8888";
	if (project && *project)
		snprintf(c.project, sizeof(c.project), "%s", project);
	if (getenv("HERALD_CA"))
		snprintf(c.ca, sizeof(c.ca), "%s", getenv("HERALD_CA"));
	if (getenv("HERALD_TOKEN"))
		snprintf(c.token, sizeof(c.token), "%s", getenv("HERALD_TOKEN"));
	rc = parse_args(&c, &o, &url, cmd, argc, argv, &first);
	if (rc)
		return rc > 0 ? CLI_OK : CLI_USAGE;
	if (pick_client_id(&c))
		return CLI_USAGE;
	rc = cli_net_open(&c, url);
	if (rc)
		return rc;
	rc = run_command(&c, &o, argc - first, argv + first);
	cli_net_close(&c);
	return rc;
}
