/*
 * move.c - `herald cluster move SHARD --from A=IP:PORT --to B=IP:PORT
 * --map FILE [--node C=IP:PORT]... [--haproxy-socket PATH] [--token T]`:
 * a shard's queues from node A to node B, then the map flipped, through
 * the nodes' admin endpoints (api/shards.c; docs/operations.md):
 *
 *    1 freeze S on A         writes to S answer 503 from now; A lists
 *                            S's queues and its next generation
 *    2 drop S on B           B holds no copy of S before the flip (a
 *                            failed earlier run may have left some)
 *    3 raise B's counter     to A's next generation (feed.h's rule)
 *    4 each queue: export from A, import to B
 *    5 the map file          S -> B, written whole and renamed over FILE
 *    6 every node reads it   B first, then A (which answers 421 for S
 *                            from then on), then the others
 *    7 HAProxy               `set map FILE S B` on its runtime socket
 *    8 drop S on A, thaw A
 *
 * A failure before 5 thaws A and drops B's partial copies again: A goes
 * on as before. From 5 on B is the owner: the command goes on, and a run
 * again with the same arguments finds the map already flipped and does
 * 6-8 (each step is idempotent). Writes refused while frozen are never
 * acknowledged: publishers retry them (Retry-After: 1).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "cli.h"
#include "cluster.h"

#define NODES_MAX 64
#define TIMEOUT_S 600

struct node {
	char name[HUB_NODE_MAX];
	char host[64];
	int port;
};

struct move {
	unsigned shard;
	struct node from, to, others[NODES_MAX];
	size_t n_others;
	const char *map, *haproxy;
	struct cli c;
};

static int say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("herald cluster move: ", stdout);
	vprintf(fmt, ap);
	fputc('\n', stdout);
	fflush(stdout);
	va_end(ap);
	return 0;
}

/* NAME=IP:PORT into n; false when it is not that. */
static bool node_parse(const char *arg, struct node *n)
{
	const char *eq = strchr(arg, '='), *colon = strrchr(arg, ':');
	char *end;
	long port;

	if (!eq || !colon || colon < eq ||
	    !hub_cluster_node_name_ok(arg, (size_t)(eq - arg)) ||
	    (size_t)(colon - eq - 1) >= sizeof(n->host) || colon == eq + 1)
		return false;
	port = strtol(colon + 1, &end, 10);
	if (*end || port < 1 || port > 65535)
		return false;
	memset(n, 0, sizeof(*n));
	memcpy(n->name, arg, (size_t)(eq - arg));
	memcpy(n->host, eq + 1, (size_t)(colon - eq - 1));
	n->port = (int)port;
	return true;
}

/* The next requests go to node n. */
static void at(struct move *m, const struct node *n)
{
	snprintf(m->c.host, sizeof(m->c.host), "%s", n->host);
	m->c.port = n->port;
}

/* One admin call to node n: CLI_OK with *r when it answers want (or
 * also), else the refusal printed. */
static int call(struct move *m, const struct node *n, const char *method,
		const char *what, const char *body, int want, int also,
		struct cli_resp *r)
{
	char path[128];

	at(m, n);
	snprintf(path, sizeof(path), "/v2/cluster/%s", what);
	return cli_call(&m->c, method, path, body, TIMEOUT_S, want, also, r);
}

/* ----------------------------------------------------------- the map */

/* The whole of the file (NUL-terminated, *len bytes), or NULL after
 * saying why. */
static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *text = NULL;
	size_t cap = 0;

	*len = 0;
	if (!f) {
		fprintf(stderr, "herald cluster move: %s: %s\n", path,
			strerror(errno));
		return NULL;
	}
	for (;;) {
		size_t k;

		if (*len + 4096 > cap) {
			char *t = realloc(text, cap = cap * 2 + 8192);

			if (!t) {
				free(text);
				text = NULL;
				break;
			}
			text = t;
		}
		k = fread(text + *len, 1, cap - *len - 1, f);
		*len += k;
		if (k == 0) {
			text[*len] = '\0';
			break;
		}
	}
	fclose(f);
	return text;
}

/* The map's text with the shard's line naming `to` (comments and the
 * other lines as they are), *olen bytes; *already when it named it. */
static char *rewrite(const struct move *m, char *text, size_t len,
		     size_t *olen, bool *found, bool *already)
{
	char *out = malloc(len + 2 * HUB_NODE_MAX + 2);
	size_t o = 0;

	*found = *already = false;
	for (char *p = text, *nl; out && *p; p = nl) {
		char *e = strchr(p, '\n'), *s = p, *num_end;

		nl = e ? e + 1 : p + strlen(p);
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s >= '0' && *s <= '9' &&
		    strtoul(s, &num_end, 10) == m->shard &&
		    (*num_end == ' ' || *num_end == '\t')) {
			const char *w = num_end + strspn(num_end, " \t");
			size_t wl = strcspn(w, " \t\r\n");

			*already = wl == strlen(m->to.name) &&
				   !strncmp(w, m->to.name, wl);
			*found = true;
			o += (size_t)sprintf(out + o, "%u %s\n", m->shard,
					     m->to.name);
			continue;
		}
		memcpy(out + o, p, (size_t)(nl - p));
		o += (size_t)(nl - p);
	}
	*olen = o;
	return out;
}

/* FILE with the shard on node `to`, written beside it and renamed over
 * it (so every reader sees the old map or the new, whole). */
static int map_flip(const struct move *m)
{
	char tmp[4200], err[256];
	struct hub_cluster_map parsed;
	size_t len, o;
	bool found, already;
	char *text = read_file(m->map, &len), *out = NULL;
	FILE *w;
	int rc = -1;

	if (text)
		out = rewrite(m, text, len, &o, &found, &already);
	if (!out)
		goto out;
	if (!found || hub_cluster_map_parse(&parsed, out, o, err,
					    sizeof(err)) < 0) {
		fprintf(stderr, "herald cluster move: %s: %s\n", m->map,
			found ? err : "no line for the shard");
		goto out;
	}
	hub_cluster_map_free(&parsed);
	snprintf(tmp, sizeof(tmp), "%s.move-%ld", m->map, (long)getpid());
	w = fopen(tmp, "wb");
	if (w) {
		bool ok = fwrite(out, 1, o, w) == o && fflush(w) == 0 &&
			  fsync(fileno(w)) == 0;

		if (fclose(w) || !ok)
			w = NULL;
	}
	if (!w || rename(tmp, m->map)) {
		fprintf(stderr, "herald cluster move: writing %s and renaming "
			"it over %s: %s\n", tmp, m->map, strerror(errno));
		unlink(tmp);
		goto out;
	}
	rc = 0;
out:
	free(text);
	free(out);
	return rc;
}

/* Where the map file puts the shard now, into owner. */
static int map_owner(const struct move *m, char owner[HUB_NODE_MAX])
{
	struct hub_cluster_map parsed;
	char err[256];

	if (hub_cluster_map_read(&parsed, m->map, err, sizeof(err)) < 0) {
		fprintf(stderr, "herald cluster move: %s\n", err);
		return -1;
	}
	snprintf(owner, HUB_NODE_MAX, "%s",
		 parsed.node[parsed.owner[m->shard]]);
	hub_cluster_map_free(&parsed);
	return 0;
}

/* `set map MAP SHARD NODE` on HAProxy's runtime API: it answers nothing
 * (a blank line) when it took it. */
static int haproxy_set(const struct move *m)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	char cmd[4300], ans[512];
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	size_t len = 0;
	ssize_t k;
	int n;

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", m->haproxy);
	n = snprintf(cmd, sizeof(cmd), "set map %s %u %s\n", m->map,
		     m->shard, m->to.name);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    write(fd, cmd, (size_t)n) != n) {
		fprintf(stderr, "herald cluster move: HAProxy's socket %s: "
			"%s\n", m->haproxy, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while (len < sizeof(ans) - 1 &&
	       (k = read(fd, ans + len, sizeof(ans) - 1 - len)) > 0)
		len += (size_t)k;
	ans[len] = '\0';
	close(fd);
	if (strspn(ans, "\r\n") != len) {
		fprintf(stderr, "herald cluster move: HAProxy refused `set "
			"map`: %s\n", ans);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ steps */

/* A project id as printable text (a topic's storage project starts with
 * a control byte): other bytes below 0x20 as \xNN (static buffer). */
static const char *printable(const char *s)
{
	static char out[4 * 256 + 1];
	size_t o = 0;

	for (; *s && o + 5 < sizeof(out); s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			o += (size_t)sprintf(out + o, "\\x%02x",
					     (unsigned char)*s);
		else
			out[o++] = *s;
	}
	out[o] = '\0';
	return out;
}

/* POSTs `req` (taken over; NULL: out of memory) as JSON to the shard's
 * `action` on node n. */
static int post_json(struct move *m, const struct node *n, const char *action,
		     json_t *req, int want, struct cli_resp *r)
{
	char what[64], *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	int rc;

	json_decref(req);
	snprintf(what, sizeof(what), "shards/%u/%s", m->shard, action);
	rc = body ? call(m, n, "POST", what, body, want, 0, r) : CLI_USAGE;
	free(body);
	return rc;
}

/* Moves one queue: its export from A, imported on B. */
static int move_queue(struct move *m, const char *project, const char *q)
{
	struct cli_resp r;
	json_t *req;
	long long bytes;
	int rc;

	rc = post_json(m, &m->from, "export",
		       json_pack("{s:s, s:s}", "project", project, "queue", q),
		       200, &r);
	if (rc)
		return rc;
	req = json_pack("{s:O}", "blob", json_object_get(r.json, "blob"));
	bytes = json_integer_value(json_object_get(r.json, "bytes"));
	cli_resp_free(&r);
	rc = post_json(m, &m->to, "import", req, 201, &r);
	if (rc)
		return rc;
	cli_resp_free(&r);
	say("queue %s%s%s: %lld bytes from %s to %s", printable(project),
	    project[0] ? "/" : "", q, bytes, m->from.name, m->to.name);
	return 0;
}

/* Steps 1-4: A frozen, B holding every queue of the shard. */
static int copy(struct move *m)
{
	struct cli_resp r, st;
	char what[64];
	json_t *qs, *v;
	size_t i;
	long long next;
	int rc;

	snprintf(what, sizeof(what), "shards/%u/freeze", m->shard);
	if ((rc = call(m, &m->from, "POST", what, "{}", 200, 0, &st)))
		return rc;
	qs = json_object_get(st.json, "queues");
	next = json_integer_value(json_object_get(st.json,
						  "next_generation"));
	say("shard %u frozen on %s: writes to it get 503 now; %zu queue(s)",
	    m->shard, m->from.name, json_array_size(qs));
	/* B never owned it: its copies are stale whatever its freeze. */
	snprintf(what, sizeof(what), "shards/%u/drop?force=true", m->shard);
	rc = call(m, &m->to, "POST", what, "{}", 200, 0, &r);
	if (rc == 0) {
		if (json_integer_value(json_object_get(r.json, "dropped")))
			say("%s held %lld stale queue(s) of shard %u (an "
			    "earlier run's): dropped", m->to.name,
			    json_integer_value(json_object_get(r.json,
							       "dropped")),
			    m->shard);
		cli_resp_free(&r);
		char body[64];

		snprintf(body, sizeof(body), "{\"at_least\": %lld}", next);
		rc = call(m, &m->to, "POST", "generation", body, 200, 0, &r);
	}
	if (rc == 0) {
		say("%s's generations now start at %lld (at least %s's %lld)",
		    m->to.name, json_integer_value(json_object_get(
					r.json, "next_generation")),
		    m->from.name, next);
		cli_resp_free(&r);
	}
	json_array_foreach(qs, i, v) {
		if (rc)
			break;
		rc = move_queue(m, json_string_value(json_object_get(v,
								 "project")),
				json_string_value(json_object_get(v, "queue")));
	}
	cli_resp_free(&st);
	/* Still frozen: A did not restart (the freeze is in memory) and
	 * take writes the copy lacks. */
	snprintf(what, sizeof(what), "shards/%u/queues", m->shard);
	if (rc == 0 && (rc = call(m, &m->from, "GET", what, NULL, 200, 0,
				  &r)) == 0) {
		if (!json_is_true(json_object_get(r.json, "frozen"))) {
			fprintf(stderr, "herald cluster move: %s is no longer "
				"frozen (did it restart?): the copy may lack "
				"writes it took since\n", m->from.name);
			rc = CLI_REFUSED;
		}
		cli_resp_free(&r);
	}
	return rc;
}

/* A failure before the flip: B's copies go, A takes writes again. */
static void undo(struct move *m)
{
	struct cli_resp r;
	char what[64];

	snprintf(what, sizeof(what), "shards/%u/drop?force=true", m->shard);
	if (call(m, &m->to, "POST", what, "{}", 200, 0, &r) == 0)
		cli_resp_free(&r);
	snprintf(what, sizeof(what), "shards/%u/thaw", m->shard);
	if (call(m, &m->from, "POST", what, "{}", 200, 0, &r) == 0) {
		cli_resp_free(&r);
		say("stopped before the map changed: shard %u stays on %s, "
		    "which takes its writes again; nothing was moved",
		    m->shard, m->from.name);
	} else {
		say("stopped before the map changed, and %s could not be "
		    "thawed: run the command again (or POST "
		    "/v2/cluster/shards/%u/thaw to %s)", m->from.name,
		    m->shard, m->from.name);
	}
}

/* Steps 6-8, once the map gives the shard to B. */
static int finish(struct move *m)
{
	struct cli_resp r;
	char what[64];
	int rc;

	if ((rc = call(m, &m->to, "POST", "map/reload", "{}", 200, 0, &r)))
		return rc;
	cli_resp_free(&r);
	if ((rc = call(m, &m->from, "POST", "map/reload", "{}", 200, 0, &r)))
		return rc;
	cli_resp_free(&r);
	for (size_t i = 0; i < m->n_others; i++) {
		if (call(m, &m->others[i], "POST", "map/reload", "{}", 200, 0,
			 &r) == 0)
			cli_resp_free(&r);
		else
			say("%s did not read the map again: send it SIGHUP",
			    m->others[i].name);
	}
	say("the nodes read the new map: shard %u is %s's; %s answers 421 "
	    "for it", m->shard, m->to.name, m->from.name);
	if (m->haproxy) {
		if (haproxy_set(m) < 0)
			return CLI_REFUSED;
		say("HAProxy sends shard %u to %s", m->shard, m->to.name);
	}
	snprintf(what, sizeof(what), "shards/%u/drop", m->shard);
	if ((rc = call(m, &m->from, "POST", what, "{}", 200, 0, &r)))
		return rc;
	say("%s dropped its %lld queue(s) of shard %u", m->from.name,
	    json_integer_value(json_object_get(r.json, "dropped")), m->shard);
	cli_resp_free(&r);
	snprintf(what, sizeof(what), "shards/%u/thaw", m->shard);
	if ((rc = call(m, &m->from, "POST", what, "{}", 200, 0, &r)))
		return rc;
	cli_resp_free(&r);
	say("done: shard %u moved from %s to %s", m->shard, m->from.name,
	    m->to.name);
	return CLI_OK;
}

static int usage(void)
{
	fprintf(stderr, "usage: herald cluster move SHARD --from NODE=IP:PORT "
		"--to NODE=IP:PORT --map FILE\n"
		"           [--node NODE=IP:PORT]... [--haproxy-socket PATH] "
		"[--token T]\n");
	return CLI_USAGE;
}

static int parse(struct move *m, int argc, char **argv)
{
	char *end;
	bool from = false, to = false;

	if (argc < 3)
		return usage();
	m->shard = (unsigned)strtoul(argv[2], &end, 10);
	if (*end || !argv[2][0] || m->shard >= HUB_SHARDS)
		return usage();
	for (int i = 3; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			return usage();
		if (!strcmp(argv[i], "--from") && node_parse(v, &m->from))
			from = true;
		else if (!strcmp(argv[i], "--to") && node_parse(v, &m->to))
			to = true;
		else if (!strcmp(argv[i], "--node") &&
			 m->n_others < NODES_MAX &&
			 node_parse(v, &m->others[m->n_others]))
			m->n_others++;
		else if (!strcmp(argv[i], "--map"))
			m->map = v;
		else if (!strcmp(argv[i], "--haproxy-socket"))
			m->haproxy = v;
		else if (!strcmp(argv[i], "--token") &&
			 strlen(v) < sizeof(m->c.token))
			snprintf(m->c.token, sizeof(m->c.token), "%s", v);
		else
			return usage();
		i++;
	}
	if (!from || !to || !m->map || !strcmp(m->from.name, m->to.name))
		return usage();
	return 0;
}

int hub_cli_cluster_move(int argc, char **argv)
{
	struct move *m = calloc(1, sizeof(*m));
	char owner[HUB_NODE_MAX], url[128];
	uuid_t u;
	int rc;

	if (!m)
		return CLI_USAGE;
	if ((rc = parse(m, argc, argv)))
		goto out;
	m->c.cmd = "cluster move";
	/* Under --auth none the admin routes want X-Roles: admin; under
	 * the others the token's roles count (X-Roles is ignored). */
	snprintf(m->c.roles, sizeof(m->c.roles), "admin");
	if (!m->c.token[0] && getenv("HERALD_TOKEN"))
		snprintf(m->c.token, sizeof(m->c.token), "%s",
			 getenv("HERALD_TOKEN"));
	uuid_generate(u);
	uuid_unparse_lower(u, m->c.client_id);
	snprintf(url, sizeof(url), "http://%s:%d", m->from.host,
		 m->from.port);
	if ((rc = cli_net_open(&m->c, url)))
		goto out;
	rc = CLI_USAGE;
	if (map_owner(m, owner) < 0)
		goto close;
	if (!strcmp(owner, m->to.name)) {
		say("the map gives shard %u to %s already: finishing an "
		    "earlier run", m->shard, m->to.name);
	} else if (strcmp(owner, m->from.name)) {
		fprintf(stderr, "herald cluster move: the map gives shard %u "
			"to %s, not %s\n", m->shard, owner, m->from.name);
		goto close;
	} else {
		rc = copy(m);
		if (rc == 0 && map_flip(m) < 0)
			rc = CLI_REFUSED;
		if (rc) {
			undo(m);
			goto close;
		}
		say("%s now gives shard %u to %s", m->map, m->shard,
		    m->to.name);
	}
	rc = finish(m);
	if (rc)
		say("stopped after the map changed: shard %u is %s's; run the "
		    "command again to finish", m->shard, m->to.name);
close:
	cli_net_close(&m->c);
out:
	free(m);
	return rc;
}
