/*
 * cluster.c - `herald cluster ...`: the shard map and the HAProxy
 * configuration of a cluster (docs/scale.md), so no operator writes
 * either by hand.
 *
 *   herald cluster map NODE...
 *       an even map: shards 0-4095 in contiguous runs, one per node in
 *       the order given (4096 "SHARD NODE" lines)
 *   herald cluster haproxy-config --map FILE [--listen HOST:PORT]
 *       [--stats-socket PATH] NODE=HOST:PORT...
 *       HAProxy 2.6's configuration: the shard of /VERSION/queues/NAME/...
 *       (and topics) by `path,field(4,/),crc32,mod(4096)`, its node by
 *       `map(FILE)`, one backend per node with a health check on
 *       /v2/ping; requests that name no queue go to any node that is up;
 *       every error HAProxy answers itself has a JSON body
 *   herald cluster shard [--map FILE] NAME...
 *       NAME's shard (and its node, with a map)
 *
 *   herald cluster move SHARD --from A=IP:PORT --to B=IP:PORT --map FILE
 *       [--node C=IP:PORT]... [--haproxy-socket PATH] [--token T]
 *       moves the shard's queues from A to B and flips the map (move.c)
 *
 * The map file is the one the nodes read (--cluster-map) and the one
 * HAProxy maps with; moving a shard is moving its queues, editing one
 * line of it, the nodes reading it again and `set map` on HAProxy's
 * runtime API - all of which `herald cluster move` does
 * (docs/operations.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cluster.h"

static int usage(FILE *out)
{
	fprintf(out,
		"usage: herald cluster map NODE...\n"
		"       herald cluster haproxy-config --map FILE [--listen "
		"HOST:PORT]\n"
		"                [--stats-socket PATH] NODE=HOST:PORT...\n"
		"       herald cluster shard [--map FILE] NAME...\n"
		"       herald cluster move SHARD --from NODE=IP:PORT --to "
		"NODE=IP:PORT --map FILE\n"
		"                [--node NODE=IP:PORT]... [--haproxy-socket "
		"PATH] [--token T]\n\n"
		"The shard map (\"SHARD NODE\" lines; herald serve --node N "
		"--cluster-map FILE)\nand the HAProxy configuration that "
		"routes by it (docs/scale.md).\n");
	return out == stdout ? CLI_OK : CLI_USAGE;
}

static int cmd_map(int argc, char **argv)
{
	size_t n = (size_t)argc - 2;

	if (argc < 3)
		return usage(stderr);
	for (int i = 2; i < argc; i++) {
		if (!hub_cluster_node_name_ok(argv[i], strlen(argv[i]))) {
			fprintf(stderr, "herald cluster map: \"%s\": a node's "
				"name is 1 to %u of A-Z a-z 0-9 _ - .\n",
				argv[i], HUB_NODE_MAX - 1);
			return CLI_USAGE;
		}
		for (int j = 2; j < i; j++)
			if (!strcmp(argv[i], argv[j])) {
				fprintf(stderr, "herald cluster map: %s is "
					"named twice\n", argv[i]);
				return CLI_USAGE;
			}
	}
	printf("# herald shard map: SHARD NODE, shards 0-%u "
	       "(herald cluster map)\n", HUB_SHARDS - 1);
	for (unsigned s = 0; s < HUB_SHARDS; s++)
		printf("%u %s\n", s, argv[2 + (size_t)s * n / HUB_SHARDS]);
	return CLI_OK;
}

struct node_addr {
	char name[HUB_NODE_MAX];
	const char *addr;
};

/* A HOST:PORT HAProxy can take: no blanks, a port at the end. */
static bool addr_ok(const char *a)
{
	const char *colon = strrchr(a, ':');

	if (!colon || colon == a || !colon[1] || strlen(colon + 1) > 5)
		return false;
	for (const char *p = colon + 1; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	for (const char *p = a; *p; p++)
		if (*p <= ' ' || *p == '#' || *p == '"' || *p == '\\')
			return false;
	return true;
}

/* One line of HAProxy config quoting a JSON error body. */
static void http_error(int status, const char *title, const char *desc)
{
	printf("    http-error status %d content-type application/json "
	       "string '{\"title\": \"%s\", \"description\": \"%s\"}'\n",
	       status, title, desc);
}

/* The health check: Herald's ping, as HTTP/1.1 with a Host and the
 * Client-ID every v2 request carries. */
static const char check[] =
	"    option httpchk\n"
	"    http-check send meth GET uri /v2/ping ver HTTP/1.1 hdr Host "
	"herald-check hdr Client-ID 00000000-0000-4000-8000-0000000000c0\n"
	"    http-check expect status 204\n";

static int cmd_haproxy(int argc, char **argv)
{
	const char *map = NULL, *listen = "127.0.0.1:8880", *stats = NULL;
	struct hub_cluster_map m;
	struct node_addr *nodes;
	size_t n = 0;
	char err[256];
	int rc = CLI_USAGE;

	nodes = calloc((size_t)argc, sizeof(*nodes));
	if (!nodes)
		return CLI_USAGE;
	for (int i = 2; i < argc; i++) {
		const char *eq;

		if (!strcmp(argv[i], "--map") && i + 1 < argc) {
			map = argv[++i];
		} else if (!strcmp(argv[i], "--listen") && i + 1 < argc) {
			listen = argv[++i];
		} else if (!strcmp(argv[i], "--stats-socket") &&
			   i + 1 < argc) {
			stats = argv[++i];
		} else if ((eq = strchr(argv[i], '=')) && argv[i][0] != '-') {
			size_t nlen = (size_t)(eq - argv[i]);

			if (!hub_cluster_node_name_ok(argv[i], nlen) ||
			    !addr_ok(eq + 1)) {
				fprintf(stderr, "herald cluster haproxy-config:"
					" \"%s\": want NODE=HOST:PORT\n",
					argv[i]);
				goto out;
			}
			memcpy(nodes[n].name, argv[i], (size_t)(eq - argv[i]));
			nodes[n++].addr = eq + 1;
		} else {
			usage(stderr);
			goto out;
		}
	}
	if (!map || !n || !addr_ok(listen)) {
		fprintf(stderr, "herald cluster haproxy-config: --map FILE, a "
			"HOST:PORT to listen on and one NODE=HOST:PORT per "
			"node\n");
		goto out;
	}
	if (strchr(map, ' ') || strchr(map, '"') || (stats &&
	    (strchr(stats, ' ') || strchr(stats, '"')))) {
		fprintf(stderr, "herald cluster haproxy-config: paths with "
			"blanks or quotes are not taken\n");
		goto out;
	}
	if (hub_cluster_map_read(&m, map, err, sizeof(err)) < 0) {
		fprintf(stderr, "herald cluster haproxy-config: %s\n", err);
		goto out;
	}
	/* Every node of the map has an address, and the other way. */
	for (size_t i = 0; i < m.n_nodes; i++) {
		bool found = false;

		for (size_t j = 0; j < n; j++)
			found = found || !strcmp(m.node[i], nodes[j].name);
		if (!found) {
			fprintf(stderr, "herald cluster haproxy-config: the map "
				"places shards on %s: give its address "
				"(%s=HOST:PORT)\n", m.node[i], m.node[i]);
			hub_cluster_map_free(&m);
			goto out;
		}
	}
	for (size_t j = 0; j < n; j++) {
		bool found = false;

		for (size_t i = 0; i < m.n_nodes; i++)
			found = found || !strcmp(m.node[i], nodes[j].name);
		if (!found)
			fprintf(stderr, "herald cluster haproxy-config: note: "
				"%s holds no shard of the map\n",
				nodes[j].name);
	}
	hub_cluster_map_free(&m);

	printf("# HAProxy configuration of a Herald cluster, written by "
	       "`herald cluster haproxy-config`.\n"
	       "# A queue's requests go to the node of its shard: "
	       "crc32(NAME) mod %u, placed by\n# %s (the nodes' "
	       "--cluster-map). Change a placement at run time with the "
	       "runtime\n# API (`set map %s SHARD NODE`) after the nodes "
	       "have read the new map.\n", HUB_SHARDS, map, map);
	/* No maxconn: HAProxy derives it from the descriptor limit
	 * (raise LimitNOFILE for more connections, docs/scale.md). */
	printf("global\n");
	if (stats)
		printf("    stats socket %s mode 600 level admin\n", stats);
	printf("\ndefaults\n    mode http\n    timeout connect 5s\n"
	       "    # long-polls wait up to 20 s; streams and WebSockets "
	       "stay open\n"
	       "    timeout client 1h\n    timeout server 1h\n"
	       "    timeout tunnel 1h\n    timeout http-request 30s\n"
	       "    option redispatch\n    retries 2\n");
	http_error(503, "Service Unavailable", "The node that holds this "
		   "queue is down; try again later.");
	http_error(502, "Bad Gateway", "The node that holds this queue "
		   "gave no valid answer.");
	http_error(504, "Gateway Timeout", "The node that holds this queue "
		   "did not answer in time.");
	http_error(400, "Bad Request", "The request could not be parsed.");
	http_error(408, "Request Timeout", "The request did not arrive in "
		   "time.");
	printf("\nfrontend herald\n    bind %s\n"
	       "    # /VERSION/queues/NAME/... and /VERSION/topics/NAME/...: "
	       "field 4 is NAME\n"
	       "    acl names_queue path_reg ^/v[0-9.]+/(queues|topics)/"
	       "[^/]+\n"
	       "    http-request set-var(txn.shard) path,field(4,/),crc32,"
	       "mod(%u) if names_queue\n"
	       "    use_backend herald_%%[var(txn.shard),map(%s)] if "
	       "names_queue\n"
	       "    # the rest (queue lists, health, /v2/ws, the dashboard): "
	       "any node\n"
	       "    default_backend herald_any\n", listen, HUB_SHARDS, map);
	for (size_t j = 0; j < n; j++)
		printf("\nbackend herald_%s\n%s"
		       "    server %s %s check inter 1s fall 2 rise 1\n",
		       nodes[j].name, check, nodes[j].name, nodes[j].addr);
	printf("\nbackend herald_any\n    balance roundrobin\n%s", check);
	for (size_t j = 0; j < n; j++)
		printf("    server %s %s check inter 1s fall 2 rise 1\n",
		       nodes[j].name, nodes[j].addr);
	rc = CLI_OK;
out:
	free(nodes);
	return rc;
}

static int cmd_shard(int argc, char **argv)
{
	struct hub_cluster_map m;
	bool have_map = false;
	char err[256];
	int i = 2;

	if (argc >= 4 && !strcmp(argv[2], "--map")) {
		if (hub_cluster_map_read(&m, argv[3], err, sizeof(err)) < 0) {
			fprintf(stderr, "herald cluster shard: %s\n", err);
			return CLI_USAGE;
		}
		have_map = true;
		i = 4;
	}
	if (i >= argc) {
		if (have_map)
			hub_cluster_map_free(&m);
		return usage(stderr);
	}
	for (; i < argc; i++) {
		unsigned s = hub_cluster_shard(argv[i], strlen(argv[i]));

		if (have_map)
			printf("%s %u %s\n", argv[i], s, m.node[m.owner[s]]);
		else
			printf("%s %u\n", argv[i], s);
	}
	if (have_map)
		hub_cluster_map_free(&m);
	return CLI_OK;
}

int hub_cli_cluster(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "map"))
		return cmd_map(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "haproxy-config"))
		return cmd_haproxy(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "shard"))
		return cmd_shard(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "move"))
		return hub_cli_cluster_move(argc, argv);
	return usage(argc >= 2 && !strcmp(argv[1], "--help") ? stdout
							      : stderr);
}
