/*
 * test_cluster.c - the shard hash and the map parser (hub/cluster.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "tap.h"

/* A whole map: shard s on node names[s * n / 4096], plus `extra`. */
static char *map_text(const char *const *names, int n, const char *extra)
{
	size_t cap = 4096 * 16 + strlen(extra) + 1, len = 0;
	char *t = malloc(cap);

	for (unsigned s = 0; s < HUB_SHARDS; s++)
		len += (size_t)snprintf(t + len, cap - len, "%u %s\n", s,
					names[(size_t)s * (size_t)n /
					      HUB_SHARDS]);
	snprintf(t + len, cap - len, "%s", extra);
	return t;
}

static bool refused(const char *text, const char *want_err, const char *name)
{
	struct hub_cluster_map m;
	char err[256] = "";
	int rc = hub_cluster_map_parse(&m, text, strlen(text), err, sizeof(err));

	ok(rc == -1 && strstr(err, want_err), "%s: refused (%s)", name, err);
	return rc == -1;
}

int main(void)
{
	static const char *const abc[] = {"a", "b", "c"};
	struct hub_cluster_map m;
	char err[256];
	char *t;

	/* CRC-32's check value: crc32("123456789") = 0xcbf43926. */
	is(hub_cluster_shard("123456789", 9), 0x926,
	   "the shard is CRC-32 mod 4096 (the check value's low 12 bits)");
	is(hub_cluster_shard("", 0), 0, "the empty name is shard 0");

	t = map_text(abc, 3, "# a comment\n\n  \t\r\n");
	is(hub_cluster_map_parse(&m, t, strlen(t), err, sizeof(err)), 0,
	   "a whole map with comments and blank lines is taken");
	is((long long)m.n_nodes, 3, "three nodes");
	is_str(m.node[m.owner[0]], "a", "shard 0 on a");
	is_str(m.node[m.owner[2048]], "b", "shard 2048 on b");
	is_str(m.node[m.owner[4095]], "c", "shard 4095 on c");
	hub_cluster_map_free(&m);
	free(t);

	t = map_text(abc, 3, "17 b\n");
	refused(t, "line 4097: shard 17 is placed twice", "a shard twice");
	free(t);
	t = map_text(abc, 3, "4096 a\n");
	refused(t, "not below 4096", "shard 4096");
	free(t);
	t = map_text(abc, 3, "5 bad/name\n");
	refused(t, "a node's name", "a name with a slash");
	free(t);
	t = map_text(abc, 3, "x a\n");
	refused(t, "want \"SHARD NODE\"", "no number");
	free(t);
	t = map_text(abc, 3, "99999999999999999999 a\n");
	refused(t, "want \"SHARD NODE\"", "a number out of range");
	free(t);
	refused("0 a\n1 b\n", "shard 2 (and 4093 more) is placed nowhere",
		"a map missing shards");
	refused("", "shard 0 (and 4095 more)", "an empty map");

	/* IP:PORT, as --cluster-nodes and --cluster-bus give them. */
	{
		char addr[64];
		int port = 0;
		const char *bad[] = {"127.0.0.1", "127.0.0.1:", ":80",
				     "localhost:80", "127.0.0.1:0",
				     "127.0.0.1:65536", "127.0.0.1:12345678",
				     "127.0.0.1:80x", "[::1]:80"};

		ok(hub_cluster_parse_address("10.0.0.1:8888", 13, false, addr,
					     sizeof(addr), &port) == 0 &&
		   !strcmp(addr, "10.0.0.1") && port == 8888, "IPv4:port");
		ok(hub_cluster_parse_address("::1:4222", 8, false, addr,
					     sizeof(addr), &port) == 0 &&
		   !strcmp(addr, "::1") && port == 4222,
		   "IPv6:port, the last colon ends the address");
		ok(hub_cluster_parse_address("[::1]:4222", 10, true, addr,
					     sizeof(addr), &port) == 0 &&
		   !strcmp(addr, "::1") && port == 4222,
		   "[IPv6]:port where brackets are allowed");
		for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
			ok(hub_cluster_parse_address(bad[i], strlen(bad[i]),
						     false, addr, sizeof(addr),
						     &port) == -1,
			   "\"%s\" is refused", bad[i]);
		ok(hub_cluster_parse_address("10.0.0.1:80", 11, false, addr, 8,
					     &port) == -1,
		   "an address longer than its room is refused");
	}
	return exit_status();
}
