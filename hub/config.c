/*
 * config.c - every setting of `herald serve`, in one table.
 *
 * A setting has one name, used everywhere: `--name VALUE` (or
 * `--name=VALUE`) on the command line, `name = value` in the config file,
 * and HERALD_NAME (upper case, '-' -> '_') in the environment. Later
 * sources win: defaults < config file < environment < command line. The
 * table also produces `herald serve --help`, so documentation and parsing
 * cannot drift apart.
 *
 * Config file: one `name = value` per line; blank lines and lines starting
 * with '#' are ignored; values are taken verbatim after trimming blanks.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "config.h"

enum kind {
	K_LISTEN, K_PATH, K_STR, K_U32, K_SIZE, K_DURABILITY, K_LEVEL, K_BOOL
};

struct setting {
	const char *name;
	enum kind kind;
	size_t off;      /* into struct hub_config */
	size_t size;     /* of the field (strings: buffer size) */
	uint64_t min, max;
	const char *help;
};

#define F(field) offsetof(struct hub_config, field), sizeof(((struct hub_config *)0)->field)
#define L(field) F(limits.field)

static const struct setting settings[] = {
	{"listen", K_LISTEN, F(listen_host), 0, 0,
	 "HOST:PORT to serve on (port 0: any free port; [::1]:PORT for IPv6)"},
	{"data", K_PATH, F(data_dir), 0, 0,
	 "data directory (created if missing)"},
	{"durability", K_DURABILITY, F(durability), 0, 0,
	 "sync: every acknowledged write is on disk; interval: commits are "
	 "flushed every sync-interval ms; nosync: the OS writes them back. "
	 "interval and nosync survive a process crash; a system crash may "
	 "lose the last writes (and, on a file system that reorders writes, "
	 "corrupt the file): see docs/storage.md"},
	{"sync-interval", K_U32, F(sync_interval_ms), 1, 3600000,
	 "milliseconds between flushes with --durability interval"},
	{"map-size", K_SIZE, F(map_size), 1 << 20, UINT64_MAX,
	 "initial LMDB map size (K, M, G, T suffixes); grows by doubling"},
	{"max-map-size", K_SIZE, F(max_map_size), 1 << 20, UINT64_MAX,
	 "most the data may grow to; past it writes get 507"},
	{"signing-key", K_STR, F(signing_key), 0, 0,
	 "secret for pre-signed URLs (POST .../share); empty: off"},
	{"public-url", K_STR, F(public_url), 0, 0,
	 "origin of the feeds' absolute links, e.g. https://hub.example.org; "
	 "empty: http:// and the request's Host"},
	{"trust-forwarded", K_BOOL, F(trust_forwarded), 0, 0,
	 "true: take the feeds' scheme and host from Forwarded / "
	 "X-Forwarded-Proto / X-Forwarded-Host (only behind a proxy that "
	 "sets them)"},
	{"enable-checksum", K_BOOL, F(enable_checksum), 0, 0,
	 "true: v1.1 and v2 messages carry \"checksum\": \"MD5:<md5 of the "
	 "body as JSON>\", as Zaqar's enable_checksum"},
	{"web-dir", K_PATH, F(web_dir), 0, 0,
	 "the dashboard's files (default: the installed copy, else the "
	 "source tree's web/)"},
	{"log-level", K_LEVEL, F(log_level), 0, 0,
	 "error, warn, info (one line per request) or debug"},
	{"compact-interval", K_U32, F(compact_interval_ms), 10, 3600000,
	 "milliseconds between compaction passes"},
	{"compact-budget", K_U32, F(compact_budget), 1, 1000000,
	 "records one compaction step may touch"},
	{"max-connections", K_U32, F(max_connections), 0, 10000000,
	 "connection cap; 0: as many as the fd limit allows"},
	{"loops", K_U32, F(loops), 1, HUB_LOOPS_MAX,
	 "service loops, each a thread with its own lws context: loop 0 "
	 "accepts and hands connections out in turn (Herald extension)"},
	{"max-subscriptions-per-connection", K_U32, F(max_subs_per_connection),
	 1, 10000, "WebSocket subscriptions one connection may hold"},
	{"max-subscribers", K_U32, F(max_subscribers), 1, 100000000,
	 "live subscribers (WebSocket subscriptions, SSE streams, held "
	 "long-polls) the server holds at once"},
	{"webhook-allow", K_STR, F(webhook_allow), 0, 0,
	 "webhook subscribers that may be reached (the SSRF guard): comma-"
	 "separated host names, addresses, CIDR networks, \"public\" (any "
	 "public address) or \"*\""},
	{"webhook-connections", K_U32, F(webhook_connections), 1, 100000,
	 "webhook POSTs out at once"},
	{"webhook-timeout", K_U32, F(webhook_timeout_s), 1, 3600,
	 "seconds a webhook POST may take before it counts as failed"},
	{"require-confirmation", K_BOOL, F(require_confirmation), 0, 0,
	 "true: notify only confirmed subscriptions, and send each new one "
	 "a confirmation request (needs --signing-key), as Zaqar's "
	 "[notification] require_confirmation"},
	{"metrics", K_STR, F(metrics), 0, 0,
	 "who may scrape GET /metrics (Prometheus): off, open, or token "
	 "(a bearer token, see metrics-token-file); default: open when "
	 "listening on a loopback address, off otherwise"},
	{"metrics-token-file", K_PATH, F(metrics_token_file), 0, 0,
	 "metrics = token: a file whose first line is the SHA-256 (64 hex "
	 "digits) of the scrapers' bearer token"},
	{"auth", K_STR, F(auth), 0, 0,
	 "who may do what: none (anyone who reaches the port; loopback only "
	 "unless --insecure-no-auth), tokens (--auth-tokens file), jwt "
	 "(--auth-jwt-key / --auth-jwt-jwks) or keystone (--keystone-*): "
	 "see docs/security.md"},
	{"auth-tokens", K_PATH, F(auth_tokens), 0, 0,
	 "--auth tokens: the token file (SHA-256 of each token, project, "
	 "roles, queue patterns; re-read on SIGHUP)"},
	{"auth-jwt-key", K_PATH, F(auth_jwt_key), 0, 0,
	 "--auth jwt: a PEM public key (RS256, ES256) or a file holding the "
	 "HS256 secret; re-read on SIGHUP"},
	{"auth-jwt-jwks", K_PATH, F(auth_jwt_jwks), 0, 0,
	 "--auth jwt: a JWKS file (keys chosen by \"kid\"); re-read on "
	 "SIGHUP"},
	{"auth-jwt-issuer", K_STR, F(auth_jwt_issuer), 0, 0,
	 "--auth jwt: the \"iss\" tokens must carry; empty: any"},
	{"auth-jwt-audience", K_STR, F(auth_jwt_audience), 0, 0,
	 "--auth jwt: a value tokens' \"aud\" must hold; empty: any"},
	{"node", K_STR, F(node), 0, 0,
	 "this node's name in the cluster map (with --cluster-map); "
	 "empty: not a cluster"},
	{"cluster-map", K_PATH, F(cluster_map), 0, 0,
	 "the shard map, \"SHARD NODE\" per line for shards 0-4095 (the "
	 "same file as HAProxy's map; herald cluster haproxy-config writes "
	 "it); a queue of another node's shard gets 421; re-read on SIGHUP"},
	{"cluster-nodes", K_STR, F(cluster_nodes), 0, 0,
	 "with --cluster-map: every node's address, NAME=IP:PORT,... (this "
	 "one's may be left out), so a project's queue list is gathered from "
	 "all of them"},
	{"cluster-bus", K_STR, F(cluster_bus), 0, 0,
	 "with --cluster-map: NATS at nats://IP:PORT, so that a WebSocket "
	 "subscriber here gets the queues of other nodes (they publish "
	 "news of their commits; empty: such a subscribe gets 421)"},
	{"keystone-url", K_STR, F(keystone_url), 0, 0,
	 "--auth keystone: the identity service's URL, e.g. "
	 "http://127.0.0.1:5000 (its host name is resolved at start and at "
	 "each SIGHUP)"},
	{"keystone-user", K_STR, F(keystone_user), 0, 0,
	 "--auth keystone: the service user that validates tokens"},
	{"keystone-password-file", K_PATH, F(keystone_password_file), 0, 0,
	 "--auth keystone: a file whose first line is that user's password "
	 "(re-read on SIGHUP)"},
	{"keystone-project", K_STR, F(keystone_project), 0, 0,
	 "--auth keystone: the service user's project (its token's scope)"},
	{"keystone-domain", K_STR, F(keystone_domain), 0, 0,
	 "--auth keystone: the domain (name) of the service user and project"},
	{"keystone-cache-seconds", K_U32, F(keystone_cache_seconds), 0, 86400,
	 "--auth keystone: how long a validated token is trusted without "
	 "asking again (never past its expires_at; 0: ask every time); "
	 "unknown tokens are remembered for at most 5 s"},
	{"keystone-cache-size", K_U32, F(keystone_cache_size), 1, 10000000,
	 "--auth keystone: tokens the cache holds at most"},
	{"keystone-timeout", K_U32, F(keystone_timeout_s), 1, 300,
	 "--auth keystone: seconds one request to Keystone may take; then "
	 "the request it holds gets 503"},
	{"keystone-roles", K_STR, F(keystone_roles), 0, 0,
	 "--auth keystone: Keystone role -> Herald roles, "
	 "\"ksrole=role,role;...\" (case-insensitive; roles not listed "
	 "grant nothing)"},
	{"insecure-no-auth", K_BOOL, F(insecure_no_auth), 0, 0,
	 "true: allow --auth none on a non-loopback address (anyone who "
	 "reaches the port may do anything); a bare --insecure-no-auth "
	 "means true"},
	{"tls-cert", K_PATH, F(tls_cert), 0, 0,
	 "serve https and wss: the certificate (PEM, the server's first, "
	 "then its intermediates); needs tls-key; re-read on SIGHUP"},
	{"tls-key", K_PATH, F(tls_key), 0, 0,
	 "the certificate's private key (PEM, not encrypted); re-read on "
	 "SIGHUP"},
	{"cors-origins", K_STR, F(cors_origins), 0, 0,
	 "origins whose pages may call the API from a browser (CORS) and "
	 "open its WebSockets and event streams: comma-separated, e.g. "
	 "https://app.example.org, or \"*\"; empty: same origin only"},
	{"clock-file", K_PATH, F(clock_file), 0, 0,
	 "TESTING ONLY: read the time (ms since the epoch) from this file"},
	{"default-message-ttl", K_U32, L(default_message_ttl), 60, 1209600,
	 "seconds a message lives when the post gives no ttl"},
	{"default-message-delay", K_U32, L(default_message_delay), 0, 900,
	 "delay of messages on queues with delays, seconds"},
	{"default-claim-ttl", K_U32, L(default_claim_ttl), 60, 43200,
	 "claim ttl when a claim gives none, seconds"},
	{"default-claim-grace", K_U32, L(default_claim_grace), 60, 43200,
	 "claim grace when a claim gives none, seconds"},
	{"max-queues-per-page", K_U32, L(max_queues_per_page), 1, 1000,
	 "largest limit of a queue listing"},
	{"max-messages-per-page", K_U32, L(max_messages_per_page), 1, 1000,
	 "largest limit of a message listing, and most ids per request"},
	{"max-messages-per-claim-or-pop", K_U32,
	 L(max_messages_per_claim_or_pop), 1, 1000,
	 "most messages one claim or pop takes"},
	{"max-queue-metadata", K_U32, L(max_queue_metadata), 1, 16 << 20,
	 "largest queue metadata, bytes"},
	{"max-messages-post-size", K_U32, L(max_messages_post_size), 1,
	 64 << 20, "largest message post body, bytes"},
	{"max-message-ttl", K_U32, L(max_message_ttl), 60, 1u << 31,
	 "largest message ttl, seconds"},
	{"max-message-delay", K_U32, L(max_message_delay), 0, 1u << 31,
	 "largest message delay, seconds"},
	{"max-claim-ttl", K_U32, L(max_claim_ttl), 60, 1u << 31,
	 "largest claim ttl, seconds"},
	{"max-claim-grace", K_U32, L(max_claim_grace), 60, 1u << 31,
	 "largest claim grace, seconds"},
};

#define N_SETTINGS (sizeof(settings) / sizeof(*settings))

const char *hub_durability_name(enum hub_durability d)
{
	switch (d) {
	case HUB_DURABILITY_SYNC: return "sync";
	case HUB_DURABILITY_INTERVAL: return "interval";
	case HUB_DURABILITY_NOSYNC: return "nosync";
	}
	return "?";
}

void hub_config_defaults(struct hub_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->listen_host, sizeof(cfg->listen_host), "127.0.0.1");
	cfg->listen_port = 8888;
	snprintf(cfg->data_dir, sizeof(cfg->data_dir), "./herald-data");
	cfg->durability = HUB_DURABILITY_SYNC;
	cfg->sync_interval_ms = 1000;
	cfg->map_size = UINT64_C(64) << 20;
	cfg->max_map_size = UINT64_C(1) << 40;
	cfg->log_level = HUB_LOG_INFO;
	cfg->compact_interval_ms = 1000;
	cfg->compact_budget = 10000;
	cfg->loops = 1;
	cfg->max_subs_per_connection = 16;
	cfg->max_subscribers = 100000;
	snprintf(cfg->webhook_allow, sizeof(cfg->webhook_allow), "public");
	snprintf(cfg->auth, sizeof(cfg->auth), "none");
	snprintf(cfg->keystone_domain, sizeof(cfg->keystone_domain),
		 "Default");
	snprintf(cfg->keystone_roles, sizeof(cfg->keystone_roles),
		 "admin=admin;member=read,publish,consume,subscribe,manage;"
		 "_member_=read,publish,consume,subscribe,manage;reader=read");
	cfg->keystone_cache_seconds = 60;
	cfg->keystone_cache_size = 10000;
	cfg->keystone_timeout_s = 5;
	cfg->webhook_connections = 64;
	cfg->webhook_timeout_s = 10;
	cfg->limits = (struct hub_limits){
		.default_message_ttl = 3600,
		.default_message_delay = 0,
		.default_claim_ttl = 300,
		.default_claim_grace = 60,
		.max_queues_per_page = 20,
		.max_messages_per_page = 20,
		.max_messages_per_claim_or_pop = 20,
		.max_queue_metadata = 65536,
		.max_messages_post_size = 262144,
		.max_message_ttl = 1209600,
		.max_message_delay = 900,
		.max_claim_ttl = 43200,
		.max_claim_grace = 43200,
	};
}

static const struct setting *find(const char *name, size_t len)
{
	for (size_t i = 0; i < N_SETTINGS; i++)
		if (strlen(settings[i].name) == len &&
		    strncmp(settings[i].name, name, len) == 0)
			return &settings[i];
	return NULL;
}

/* Parses "123", "64M", "1G"... */
static int parse_u64(const char *v, bool suffixes, uint64_t *out)
{
	char *end;
	unsigned long long n;

	if (!*v || *v == '-')
		return -1;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno || end == v)
		return -1;
	if (suffixes && *end) {
		static const char units[] = "KMGT";
		const char *u = strchr(units, toupper((unsigned char)*end));
		int shift;

		if (!u || end[1])
			return -1;
		shift = 10 * (int)(u - units + 1);
		if (n > (UINT64_MAX >> shift))
			return -1;
		n <<= shift;
		end++;
	}
	if (*end)
		return -1;
	*out = n;
	return 0;
}

static int set_listen(struct hub_config *cfg, const char *v)
{
	const char *colon = strrchr(v, ':');
	const char *host = v;
	size_t hlen;
	uint64_t port;

	if (!colon || parse_u64(colon + 1, false, &port) || port > 65535)
		return -1;
	hlen = (size_t)(colon - v);
	if (hlen >= 2 && v[0] == '[' && v[hlen - 1] == ']') {
		host++;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= sizeof(cfg->listen_host))
		return -1;
	memcpy(cfg->listen_host, host, hlen);
	cfg->listen_host[hlen] = '\0';
	cfg->listen_port = (int)port;
	return 0;
}

/* Applies one setting; prints why and returns -1 when the value is bad. */
static int apply(struct hub_config *cfg, const struct setting *s,
		 const char *v, const char *source)
{
	char *field = (char *)cfg + s->off;
	uint64_t n;

	switch (s->kind) {
	case K_LISTEN:
		if (set_listen(cfg, v) == 0)
			return 0;
		break;
	case K_PATH:
	case K_STR:
		if (strlen(v) < s->size) {
			memcpy(field, v, strlen(v) + 1);
			return 0;
		}
		break;
	case K_U32:
	case K_SIZE:
		if (parse_u64(v, s->kind == K_SIZE, &n) == 0 && n >= s->min &&
		    n <= s->max) {
			if (s->kind == K_U32)
				*(uint32_t *)(void *)field = (uint32_t)n;
			else
				*(uint64_t *)(void *)field = n;
			return 0;
		}
		break;
	case K_DURABILITY:
		for (int d = HUB_DURABILITY_SYNC; d <= HUB_DURABILITY_NOSYNC; d++) {
			if (strcmp(v, hub_durability_name((enum hub_durability)d)) == 0) {
				cfg->durability = (enum hub_durability)d;
				return 0;
			}
		}
		break;
	case K_BOOL:
		if (!strcmp(v, "true") || !strcmp(v, "false") ||
		    !strcmp(v, "1") || !strcmp(v, "0")) {
			*(bool *)(void *)field = v[0] == 't' || v[0] == '1';
			return 0;
		}
		break;
	case K_LEVEL: {
		static const char *const levels[] = {"error", "warn", "info",
						     "debug"};

		for (int i = 0; i < 4; i++) {
			if (strcmp(v, levels[i]) == 0) {
				cfg->log_level = (enum hub_log_level)i;
				return 0;
			}
		}
		break;
	}
	}
	fprintf(stderr, "herald: bad value for %s (from %s): \"%s\"\n", s->name,
		source, v);
	if (s->kind == K_U32 || s->kind == K_SIZE)
		fprintf(stderr, "herald: %s must be a whole number from %llu "
			"to %llu\n", s->name, (unsigned long long)s->min,
			(unsigned long long)s->max);
	return -1;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int load_file(struct hub_config *cfg, const char *path)
{
	FILE *f = fopen(path, "r");
	char line[4096];
	int lineno = 0, rc = 0;

	if (!f) {
		fprintf(stderr, "herald: cannot read config file %s: %s\n", path,
			strerror(errno));
		return -1;
	}
	while (rc == 0 && fgets(line, sizeof(line), f)) {
		char *s = trim(line), *eq, source[PATH_MAX + 32];
		const struct setting *set;

		lineno++;
		if (!*s || *s == '#')
			continue;
		eq = strchr(s, '=');
		snprintf(source, sizeof(source), "%s:%d", path, lineno);
		if (!eq) {
			fprintf(stderr, "herald: %s: expected name = value\n",
				source);
			rc = -1;
			break;
		}
		*eq = '\0';
		s = trim(s);
		set = find(s, strlen(s));
		if (!set) {
			fprintf(stderr, "herald: %s: unknown setting \"%s\"\n",
				source, s);
			rc = -1;
			break;
		}
		rc = apply(cfg, set, trim(eq + 1), source);
	}
	fclose(f);
	return rc;
}

/* Whether v is a boolean's value (a bare boolean flag takes none). */
static bool bool_word(const char *v)
{
	return v && (!strcmp(v, "true") || !strcmp(v, "false") ||
		     !strcmp(v, "1") || !strcmp(v, "0"));
}

static int load_env(struct hub_config *cfg)
{
	for (size_t i = 0; i < N_SETTINGS; i++) {
		char name[64] = "HERALD_";
		size_t n = strlen(name);
		const char *v;

		for (const char *c = settings[i].name; *c && n < sizeof(name) - 1;
		     c++)
			name[n++] = *c == '-' ? '_' : (char)toupper((unsigned char)*c);
		name[n] = '\0';
		v = getenv(name);
		if (v && apply(cfg, &settings[i], v, name))
			return -1;
	}
	return 0;
}

void hub_config_usage(FILE *out)
{
	struct hub_config d;

	hub_config_defaults(&d);
	fprintf(out,
		"usage: herald serve [--config FILE] [--NAME VALUE]...\n\n"
		"Serves the Zaqar / Cloud Queues API over HTTP.\n\n"
		"Every setting below is also read from the config file "
		"(NAME = VALUE)\nand from the environment (HERALD_NAME); "
		"the command line wins, then\nthe environment, then the file "
		"(--config FILE or HERALD_CONFIG).\n\n");
	for (size_t i = 0; i < N_SETTINGS; i++) {
		const struct setting *s = &settings[i];
		const char *field = (const char *)&d + s->off;
		char def[300];

		switch (s->kind) {
		case K_LISTEN:
			snprintf(def, sizeof(def), "%s:%d", d.listen_host,
				 d.listen_port);
			break;
		case K_PATH:
		case K_STR:
			snprintf(def, sizeof(def), "%s", *field ? field : "(none)");
			break;
		case K_U32:
			snprintf(def, sizeof(def), "%u",
				 *(const uint32_t *)(const void *)field);
			break;
		case K_SIZE:
			snprintf(def, sizeof(def), "%lluM",
				 (unsigned long long)(*(const uint64_t *)(const void *)field >> 20));
			break;
		case K_DURABILITY:
			snprintf(def, sizeof(def), "%s",
				 hub_durability_name(d.durability));
			break;
		case K_LEVEL:
			snprintf(def, sizeof(def), "info");
			break;
		case K_BOOL:
			snprintf(def, sizeof(def), "%s",
				 *(const bool *)(const void *)field ? "true"
								   : "false");
			break;
		}
		fprintf(out, "  --%-30s %s\n  %-32s [default: %s]\n", s->name,
			s->help, "", def);
	}
	fprintf(out, "\n  --config FILE                  read settings from FILE\n"
		     "  --help                         this text\n");
}

/* A default beyond its maximum would refuse every request relying on it:
 * say so at start rather than with every such request. */
static int check_defaults(const struct hub_config *cfg)
{
	const struct hub_limits *l = &cfg->limits;
	const struct {
		const char *def, *max;
		uint32_t dv, mv;
	} pairs[] = {
		{"default-message-ttl", "max-message-ttl", l->default_message_ttl,
		 l->max_message_ttl},
		{"default-message-delay", "max-message-delay",
		 l->default_message_delay, l->max_message_delay},
		{"default-claim-ttl", "max-claim-ttl", l->default_claim_ttl,
		 l->max_claim_ttl},
		{"default-claim-grace", "max-claim-grace", l->default_claim_grace,
		 l->max_claim_grace},
	};

	for (size_t i = 0; i < sizeof(pairs) / sizeof(*pairs); i++) {
		if (pairs[i].dv > pairs[i].mv) {
			fprintf(stderr, "herald: %s (%u) is larger than %s (%u)\n",
				pairs[i].def, pairs[i].dv, pairs[i].max,
				pairs[i].mv);
			return -1;
		}
	}
	return 0;
}

int hub_config_load(struct hub_config *cfg, int argc, char **argv)
{
	const char *file = getenv("HERALD_CONFIG");

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			hub_config_usage(stdout);
			return 1;
		}
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			file = argv[i + 1];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			file = argv[i] + 9;
	}
	if (file && *file && load_file(cfg, file))
		return -1;
	if (load_env(cfg))
		return -1;
	for (int i = 0; i < argc; i++) {
		const char *arg = argv[i], *eq, *value;
		const struct setting *s;

		if (strncmp(arg, "--", 2) != 0) {
			fprintf(stderr, "herald: unexpected argument \"%s\" "
				"(see herald serve --help)\n", arg);
			return -1;
		}
		arg += 2;
		eq = strchr(arg, '=');
		if (strncmp(arg, "config", 6) == 0 && (arg[6] == '\0' || arg[6] == '=')) {
			i += eq ? 0 : 1;
			continue;
		}
		s = find(arg, eq ? (size_t)(eq - arg) : strlen(arg));
		if (!s) {
			fprintf(stderr, "herald: unknown option --%s (see herald "
				"serve --help)\n", arg);
			return -1;
		}
		if (eq) {
			value = eq + 1;
		} else if (s->kind == K_BOOL && !bool_word(i + 1 < argc
							    ? argv[i + 1]
							    : NULL)) {
			value = "true"; /* a bare flag: --insecure-no-auth */
		} else if (i + 1 < argc) {
			value = argv[++i];
		} else {
			fprintf(stderr, "herald: --%s needs a value\n", arg);
			return -1;
		}
		if (apply(cfg, s, value, "the command line"))
			return -1;
	}
	if (cfg->public_url[0] && strncmp(cfg->public_url, "http://", 7) &&
	    strncmp(cfg->public_url, "https://", 8)) {
		fprintf(stderr, "herald: public-url must start with http:// or "
			"https:// (got \"%s\")\n", cfg->public_url);
		return -1;
	}
	if (cfg->max_map_size < cfg->map_size)
		cfg->max_map_size = cfg->map_size;
	return check_defaults(cfg);
}
