/*
 * cluster.c - the shard map and the ownership check (cluster.h).
 *
 * The map in force is one pointer under a read-write lock: requests on
 * any loop read it, SIGHUP replaces it whole. A map is never changed in
 * place.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <zlib.h>

#include "cluster.h"
#include "config.h"
#include "log.h"
#include "reply.h"
#include "req.h"

#define MAP_FILE_MAX (4u << 20)

static pthread_rwlock_t lock = PTHREAD_RWLOCK_INITIALIZER;
static struct hub_cluster_map *current;   /* NULL: no cluster */
static char self[HUB_NODE_MAX];
static char map_path[4096];
#define PEERS_MAX 256
static struct hub_cluster_peer peers[PEERS_MAX];
static size_t n_peers;
static struct hub_cluster_peer self_peer; /* when listed; port 0: not */

unsigned hub_cluster_shard(const char *name, size_t len)
{
	uLong c = crc32(0L, Z_NULL, 0);

	c = crc32(c, (const Bytef *)name, (uInt)len);
	return (unsigned)(c % HUB_SHARDS);
}

/* ------------------------------------------------------------------ map */

bool hub_cluster_node_name_ok(const char *s, size_t n)
{
	if (!n || n >= HUB_NODE_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' &&
		    s[i] != '-' && s[i] != '.')
			return false;
	return true;
}

static int node_index(struct hub_cluster_map *m, const char *s, size_t n)
{
	for (size_t i = 0; i < m->n_nodes; i++)
		if (strlen(m->node[i]) == n && !memcmp(m->node[i], s, n))
			return (int)i;
	if (m->n_nodes == UINT16_MAX)
		return -1;
	void *v = realloc(m->node, (m->n_nodes + 1) * sizeof(*m->node));

	if (!v)
		return -1;
	m->node = v;
	memcpy(m->node[m->n_nodes], s, n);
	m->node[m->n_nodes][n] = '\0';
	return (int)m->n_nodes++;
}

int hub_cluster_map_parse(struct hub_cluster_map *m, const char *text,
			  size_t len, char *err, size_t errlen)
{
	bool seen[HUB_SHARDS] = {false};
	const char *p = text, *end = text + len;
	unsigned line = 0, n_seen = 0;

	memset(m, 0, sizeof(*m));
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *e = eol ? eol : end, *s = p, *w;
		unsigned long shard;
		char *num_end;
		int idx;

		line++;
		p = eol ? eol + 1 : end;
		while (s < e && (*s == ' ' || *s == '\t' || *s == '\r'))
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t' ||
				 e[-1] == '\r'))
			e--;
		if (s == e || *s == '#')
			continue;
		if (!isdigit((unsigned char)*s))
			goto bad;
		errno = 0;
		shard = strtoul(s, &num_end, 10);
		if (errno || num_end >= e || (*num_end != ' ' &&
					      *num_end != '\t'))
			goto bad;
		if (shard >= HUB_SHARDS) {
			snprintf(err, errlen, "line %u: shard %lu is not below "
				 "%u", line, shard, HUB_SHARDS);
			goto fail;
		}
		w = num_end;
		while (w < e && (*w == ' ' || *w == '\t'))
			w++;
		if (!hub_cluster_node_name_ok(w, (size_t)(e - w))) {
			snprintf(err, errlen, "line %u: a node's name is 1 to "
				 "%u of A-Z a-z 0-9 _ - .", line,
				 HUB_NODE_MAX - 1);
			goto fail;
		}
		if (seen[shard]) {
			snprintf(err, errlen, "line %u: shard %lu is placed "
				 "twice", line, shard);
			goto fail;
		}
		if ((idx = node_index(m, w, (size_t)(e - w))) < 0) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		seen[shard] = true;
		n_seen++;
		m->owner[shard] = (uint16_t)idx;
		continue;
bad:
		snprintf(err, errlen, "line %u: want \"SHARD NODE\"", line);
		goto fail;
	}
	if (n_seen != HUB_SHARDS) {
		for (unsigned i = 0; i < HUB_SHARDS; i++)
			if (!seen[i]) {
				snprintf(err, errlen, "shard %u (and %u more) "
					 "is placed nowhere: every shard "
					 "0-%u needs a line", i,
					 HUB_SHARDS - n_seen - 1,
					 HUB_SHARDS - 1);
				break;
			}
		goto fail;
	}
	return 0;
fail:
	hub_cluster_map_free(m);
	return -1;
}

int hub_cluster_map_read(struct hub_cluster_map *m, const char *path,
			 char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;
	int rc;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	buf = malloc(MAP_FILE_MAX + 1);
	if (!buf) {
		fclose(f);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	n = fread(buf, 1, MAP_FILE_MAX + 1, f);
	if (ferror(f) || n > MAP_FILE_MAX) {
		snprintf(err, errlen, "%s: %s", path, ferror(f) ?
			 "cannot read it" : "larger than 4 MiB");
		fclose(f);
		free(buf);
		return -1;
	}
	fclose(f);
	rc = hub_cluster_map_parse(m, buf, n, err, errlen);
	free(buf);
	return rc;
}

void hub_cluster_map_free(struct hub_cluster_map *m)
{
	free(m->node);
	m->node = NULL;
	m->n_nodes = 0;
}

/* ------------------------------------------------------------ in force */

/* A map read from map_path that names self, or NULL after logging. */
static struct hub_cluster_map *load(void)
{
	struct hub_cluster_map *m = malloc(sizeof(*m));
	char err[256];
	bool found = false;

	if (!m)
		return NULL;
	if (hub_cluster_map_read(m, map_path, err, sizeof(err)) < 0) {
		hub_log(HUB_LOG_ERROR, "cluster map %s: %s", map_path, err);
		free(m);
		return NULL;
	}
	for (size_t i = 0; i < m->n_nodes; i++)
		found = found || !strcmp(m->node[i], self);
	if (!found)
		hub_log(HUB_LOG_WARN, "cluster map %s: no shard is placed on "
			"this node (%s): every queue request gets 421",
			map_path, self);
	return m;
}

int hub_cluster_parse_address(const char *s, size_t n, bool brackets,
			      char *addr, size_t addrlen, int *port)
{
	const char *colon = NULL, *a = s;
	size_t alen;
	char digits[8], *end;
	struct in6_addr a6;
	long v;

	for (const char *c = s + n; c > s; c--)
		if (c[-1] == ':') {
			colon = c - 1;
			break;
		}
	if (!colon || (size_t)(s + n - colon - 1) >= sizeof(digits))
		return -1;
	alen = (size_t)(colon - s);
	if (brackets && alen >= 2 && s[0] == '[' && colon[-1] == ']') {
		a = s + 1; /* [v6]:port */
		alen -= 2;
	}
	if (alen >= addrlen)
		return -1;
	memcpy(addr, a, alen);
	addr[alen] = '\0';
	memcpy(digits, colon + 1, (size_t)(s + n - colon - 1));
	digits[s + n - colon - 1] = '\0';
	v = strtol(digits, &end, 10);
	if (!digits[0] || *end || v < 1 || v > 65535 ||
	    (inet_pton(AF_INET, addr, &a6) != 1 &&
	     inet_pton(AF_INET6, addr, &a6) != 1))
		return -1;
	*port = (int)v;
	return 0;
}

/* --cluster-nodes: NAME=IP:PORT,...; -1 after logging why. */
static int peers_parse(const char *list)
{
	const char *p = list;

	n_peers = 0;
	memset(&self_peer, 0, sizeof(self_peer));
	while (*p) {
		const char *end = strchr(p, ','), *eq;
		size_t len;
		struct hub_cluster_peer *pe;

		end = end ? end : p + strlen(p);
		len = (size_t)(end - p);
		eq = memchr(p, '=', len);
		if (!eq || n_peers == PEERS_MAX ||
		    !hub_cluster_node_name_ok(p, (size_t)(eq - p)))
			goto bad;
		pe = &peers[n_peers];
		memset(pe, 0, sizeof(*pe));
		memcpy(pe->name, p, (size_t)(eq - p));
		if (hub_cluster_parse_address(eq + 1, (size_t)(end - eq - 1),
					      false, pe->address,
					      sizeof(pe->address), &pe->port))
			goto bad;
		if (strcmp(pe->name, self))
			n_peers++;
		else
			self_peer = *pe;
		p = *end ? end + 1 : end;
		continue;
bad:
		hub_log(HUB_LOG_ERROR, "--cluster-nodes: \"%.*s\": want "
			"NAME=IP:PORT (a numeric address)", (int)len, p);
		return -1;
	}
	return 0;
}

size_t hub_cluster_peers(const struct hub_cluster_peer **out)
{
	*out = peers;
	return n_peers;
}

const struct hub_cluster_peer *hub_cluster_address(const char *name)
{
	for (size_t i = 0; i < n_peers; i++)
		if (strcmp(peers[i].name, name) == 0)
			return &peers[i];
	return self_peer.port && strcmp(self_peer.name, name) == 0 ? &self_peer
								   : NULL;
}

int hub_cluster_init(const struct hub_config *cfg)
{
	struct hub_cluster_map *m;

	if (!cfg->cluster_map[0] && !cfg->node[0])
		return 0;
	if (!cfg->cluster_map[0] || !cfg->node[0]) {
		hub_log(HUB_LOG_ERROR, "--node and --cluster-map go together");
		return -1;
	}
	if (!hub_cluster_node_name_ok(cfg->node, strlen(cfg->node))) {
		hub_log(HUB_LOG_ERROR, "--node: 1 to %u of A-Z a-z 0-9 _ - .",
			HUB_NODE_MAX - 1);
		return -1;
	}
	snprintf(self, sizeof(self), "%s", cfg->node);
	snprintf(map_path, sizeof(map_path), "%s", cfg->cluster_map);
	if (peers_parse(cfg->cluster_nodes) < 0 || !(m = load()))
		return -1;
	pthread_rwlock_wrlock(&lock);
	current = m;
	pthread_rwlock_unlock(&lock);
	return 0;
}

int hub_cluster_reload(void)
{
	struct hub_cluster_map *m, *old;

	if (!hub_cluster_on())
		return 0;
	if (!(m = load())) {
		hub_log(HUB_LOG_ERROR, "cluster map: keeping the map in force");
		return -1;
	}
	pthread_rwlock_wrlock(&lock);
	old = current;
	current = m;
	pthread_rwlock_unlock(&lock);
	if (old) {
		hub_cluster_map_free(old);
		free(old);
	}
	hub_log(HUB_LOG_INFO, "cluster map %s read again", map_path);
	return 0;
}

bool hub_cluster_shard_owner(unsigned s, char *owner)
{
	bool mine;

	if (!hub_cluster_on() || s >= HUB_SHARDS)
		return !hub_cluster_on();
	pthread_rwlock_rdlock(&lock);
	const char *who = current->node[current->owner[s]];

	mine = !strcmp(who, self);
	snprintf(owner, HUB_NODE_MAX, "%s", who);
	pthread_rwlock_unlock(&lock);
	return mine;
}

const char *hub_cluster_self(void)
{
	return self;
}

void hub_cluster_end(void)
{
	pthread_rwlock_wrlock(&lock);
	if (current) {
		hub_cluster_map_free(current);
		free(current);
		current = NULL;
	}
	pthread_rwlock_unlock(&lock);
}

bool hub_cluster_on(void)
{
	return self[0] != '\0';
}

bool hub_cluster_owns(const char *name, char *owner, unsigned *shard)
{
	unsigned s;
	bool mine;

	if (!hub_cluster_on())
		return true;
	s = hub_cluster_shard(name, strlen(name));
	pthread_rwlock_rdlock(&lock);
	const char *who = current->node[current->owner[s]];

	mine = !strcmp(who, self);
	if (!mine) {
		snprintf(owner, HUB_NODE_MAX, "%s", who);
		*shard = s;
	}
	pthread_rwlock_unlock(&lock);
	return mine;
}

void hub_cluster_misdirected(char *buf, size_t len, const char *name,
			     const char *owner, unsigned shard)
{
	snprintf(buf, len, "Queue %s is in shard %u, which node %s holds, not "
		 "this node (%s): send the request through the cluster's "
		 "balancer, or to %s.", name, shard, owner, self, owner);
}

bool hub_cluster_route(struct hub_req *r, const char *name)
{
	char owner[HUB_NODE_MAX];
	unsigned shard;
	char desc[512];

	if (hub_cluster_owns(name, owner, &shard))
		return true;
	hub_cluster_misdirected(desc, sizeof(desc), name, owner, shard);
	hub_header(r, "Herald-Owner", "%s", owner);
	hub_header(r, "Herald-Shard", "%u", shard);
	hub_reply(r, 421, json_pack("{s:s, s:s, s:s, s:I}", "title",
				    "Misdirected Request", "description", desc,
				    "owner", owner, "shard", (json_int_t)shard));
	return false;
}
