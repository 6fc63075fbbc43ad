/*
 * hook_rules.c - the two rules of webhook delivery that are pure
 * functions (hooks.h): Zaqar's retry policy, and the allowlist that keeps
 * subscribers from reaching what they should not (the SSRF guard).
 */
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hooks.h"

/* ------------------------------------------------------- retry policy */

/* Zaqar's defaults (zaqar/common/consts.py RETRY_OPS). */
#define RETRIES_WITH_NO_DELAY 3
#define MINIMUM_DELAY_RETRIES 3
#define MINIMUM_DELAY 5
#define MAXIMUM_DELAY 30
#define MAXIMUM_DELAY_RETRIES 3
#define LINEAR_INTERVAL 5

/* Python's truth of a JSON value, for `a or b`. */
static bool truthy(json_t *v)
{
	return v && !json_is_null(v) && !json_is_false(v) &&
	       !(json_is_object(v) && json_object_size(v) == 0) &&
	       !(json_is_integer(v) && json_integer_value(v) == 0);
}

/* policy.get(name, def) for a count or a delay: a non-negative integer
 * (what validation let through), else def. */
static unsigned get_uint(json_t *policy, const char *name, unsigned def)
{
	json_t *v = json_object_get(policy, name);
	json_int_t n;

	if (!json_is_integer(v))
		return def;
	n = json_integer_value(v);
	return n < 0 ? 0 : n > 86400 * 30 ? 86400 * 30 : (unsigned)n;
}

void hub_retry_policy(json_t *sub_options, json_t *queue_meta,
		      struct hub_retry_policy *p)
{
	json_t *sp = json_object_get(sub_options, "_retry_policy");
	json_t *qp = json_object_get(queue_meta, "_retry_policy");
	json_t *use;
	const char *fn;

	if (!json_is_object(sp))
		sp = NULL;
	if (!json_is_object(qp))
		qp = NULL;
	if (json_is_true(json_object_get(sp, "ignore_subscription_override")) ||
	    json_is_true(json_object_get(qp, "ignore_subscription_override")))
		use = qp;
	else
		use = truthy(sp) ? sp : qp;
	p->no_delay = get_uint(use, "retries_with_no_delay",
			       RETRIES_WITH_NO_DELAY);
	p->min_retries = get_uint(use, "minimum_delay_retries",
				  MINIMUM_DELAY_RETRIES);
	p->min_delay = get_uint(use, "minimum_delay", MINIMUM_DELAY);
	p->max_delay = get_uint(use, "maximum_delay", MAXIMUM_DELAY);
	p->max_retries = get_uint(use, "maximum_delay_retries",
				  MAXIMUM_DELAY_RETRIES);
	fn = json_string_value(json_object_get(use, "retry_backoff_function"));
	p->backoff = !fn ? HUB_BACKOFF_LINEAR
		     : !strcmp(fn, "arithmetic")  ? HUB_BACKOFF_ARITHMETIC
		     : !strcmp(fn, "geometric")   ? HUB_BACKOFF_GEOMETRIC
		     : !strcmp(fn, "exponential") ? HUB_BACKOFF_EXPONENTIAL
						  : HUB_BACKOFF_LINEAR;
}

/*
 * The backoff phase: how many retries it has, and the delay of its i-th
 * (1-based), as Zaqar's _Linear_function & co. list them. The curves
 * other than linear need at least two points and a minimum above 0
 * (Zaqar's validation asks maximum - minimum >= 10); a policy without
 * them backs off linearly.
 */
static unsigned backoff_len(const struct hub_retry_policy *p, bool *linear)
{
	unsigned span = p->max_delay > p->min_delay
				? p->max_delay - p->min_delay
				: 0;
	unsigned x_max = span / LINEAR_INTERVAL;

	*linear = p->backoff == HUB_BACKOFF_LINEAR || x_max < 2 ||
		  p->min_delay == 0;
	if (*linear)
		return (span + LINEAR_INTERVAL - 1) / LINEAR_INTERVAL;
	return x_max;
}

static long backoff_delay(const struct hub_retry_policy *p, unsigned i,
			  unsigned x_max, bool linear)
{
	double lo = p->min_delay, hi = p->max_delay, k, d;

	if (linear)
		return (long)p->min_delay + (long)(i - 1) * LINEAR_INTERVAL;
	/* Zaqar's own expression, so the rounding below matches its. */
	k = pow(10, log10(hi / lo) / (x_max - 1));
	switch (p->backoff) {
	case HUB_BACKOFF_GEOMETRIC:
		return (long)(lo * pow(k, i - 1));
	case HUB_BACKOFF_EXPONENTIAL:
		return (long)(lo / k * pow(k, i));
	default: /* arithmetic */
		d = 2.0 * (hi - lo) / ((double)x_max * (x_max - 1));
		return (long)(lo + (double)(i - 1) * i * d / 2);
	}
}

long hub_retry_delay(const struct hub_retry_policy *p, unsigned n)
{
	bool linear;
	unsigned len;

	if (n == 0)
		return 0;
	if (n <= p->no_delay)
		return 0;
	n -= p->no_delay;
	if (n <= p->min_retries)
		return p->min_delay;
	n -= p->min_retries;
	len = backoff_len(p, &linear);
	if (n <= len)
		return backoff_delay(p, n, len, linear);
	n -= len;
	if (n <= p->max_retries)
		return p->max_delay;
	return -1;
}

/* ---------------------------------------------------------- allowlist */

/* Whether an IPv4 address (host order) is public unicast. */
static bool v4_public(uint32_t a)
{
	static const struct {
		uint32_t net;
		int bits;
	} private[] = {
		{0x00000000, 8},  {0x0a000000, 8},  {0x64400000, 10},
		{0x7f000000, 8},  {0xa9fe0000, 16}, {0xac100000, 12},
		{0xc0000000, 24}, {0xc0000200, 24}, {0xc0a80000, 16},
		{0xc6120000, 15}, {0xc6336400, 24}, {0xcb007100, 24},
		{0xe0000000, 4},  {0xf0000000, 4},
	};

	for (size_t i = 0; i < sizeof(private) / sizeof(*private); i++) {
		uint32_t mask = ~UINT32_C(0) << (32 - private[i].bits);

		if ((a & mask) == private[i].net)
			return false;
	}
	return true;
}

/* An IPv6 address's embedded IPv4 address (mapped ::ffff:a.b.c.d, or
 * NAT64 64:ff9b::a.b.c.d), in host order. */
static bool v6_embedded_v4(const uint8_t b[16], uint32_t *a)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0,
					   0, 0, 0, 0, 0xff, 0xff};
	static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b};

	if (memcmp(b, mapped, 12) && memcmp(b, nat64, 12))
		return false;
	*a = (uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 |
	     (uint32_t)b[14] << 8 | b[15];
	return true;
}

static bool v6_public(const uint8_t b[16])
{
	static const uint8_t zero[15];
	uint32_t a;

	if (v6_embedded_v4(b, &a))
		return v4_public(a);
	if (memcmp(b, zero, 15) == 0)            /* :: and ::1 */
		return false;
	if ((b[0] & 0xfe) == 0xfc ||             /* fc00::/7 unique local */
	    (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) || /* fe80::/10 */
	    b[0] == 0xff ||                      /* multicast */
	    (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8))
		return false;                    /* documentation */
	return true;
}

/* Whether the address (family af, bytes b) is in the network `entry`
 * ("a.b.c.d", "a.b.c.d/n", "v6", "v6/n"). */
static bool in_network(const char *entry, int af, const uint8_t *b)
{
	char text[64];
	const char *slash = strchr(entry, '/');
	size_t len = slash ? (size_t)(slash - entry) : strlen(entry);
	uint8_t net[16];
	int bits, max = af == AF_INET ? 32 : 128;

	if (len >= sizeof(text))
		return false;
	memcpy(text, entry, len);
	text[len] = '\0';
	if (inet_pton(af, text, net) != 1)
		return false;
	bits = slash ? atoi(slash + 1) : max;
	if (bits < 0 || bits > max)
		return false;
	for (int i = 0; i < bits; i++) {
		int bit = 7 - i % 8;

		if (((net[i / 8] >> bit) & 1) != ((b[i / 8] >> bit) & 1))
			return false;
	}
	return true;
}

/* Calls fn for each trimmed entry of list; true when one says so. */
static bool any_entry(const char *list,
		      bool (*fn)(const char *entry, const void *arg),
		      const void *arg)
{
	char buf[sizeof(((struct hub_config *)0)->webhook_allow)];
	char *save = NULL;

	snprintf(buf, sizeof(buf), "%s", list);
	for (char *e = strtok_r(buf, ", \t", &save); e;
	     e = strtok_r(NULL, ", \t", &save))
		if (fn(e, arg))
			return true;
	return false;
}

static bool entry_names(const char *entry, const void *host)
{
	return strcmp(entry, "*") == 0 || strcasecmp(entry, host) == 0;
}

struct addr_arg {
	int af;
	const uint8_t *b;
};

static bool entry_contains(const char *entry, const void *arg)
{
	const struct addr_arg *a = arg;
	uint32_t v4;

	if (strcmp(entry, "*") == 0)
		return true;
	if (strcmp(entry, "public") == 0)
		return a->af == AF_INET
			       ? v4_public((uint32_t)a->b[0] << 24 |
					   (uint32_t)a->b[1] << 16 |
					   (uint32_t)a->b[2] << 8 | a->b[3])
			       : v6_public(a->b);
	if (in_network(entry, a->af, a->b))
		return true;
	/* An IPv4 entry covers the address mapped into IPv6 too. */
	if (a->af == AF_INET6 && v6_embedded_v4(a->b, &v4)) {
		uint8_t b4[4] = {(uint8_t)(v4 >> 24), (uint8_t)(v4 >> 16),
				 (uint8_t)(v4 >> 8), (uint8_t)v4};

		return in_network(entry, AF_INET, b4);
	}
	return false;
}

bool hub_hooks_addr_allowed(const char *list, const char *host,
			    const struct sockaddr *sa, char *why, size_t len)
{
	struct addr_arg a;
	char text[INET6_ADDRSTRLEN] = "";

	if (host && any_entry(list, entry_names, host))
		return true;
	if (sa->sa_family == AF_INET) {
		a.af = AF_INET;
		a.b = (const uint8_t *)&((const struct sockaddr_in *)
						 (const void *)sa)->sin_addr;
	} else if (sa->sa_family == AF_INET6) {
		a.af = AF_INET6;
		a.b = (const uint8_t *)&((const struct sockaddr_in6 *)
						 (const void *)sa)->sin6_addr;
	} else {
		snprintf(why, len, "%s has no IP address", host ? host : "");
		return false;
	}
	if (any_entry(list, entry_contains, &a))
		return true;
	inet_ntop(a.af, a.b, text, sizeof(text));
	snprintf(why, len, "The subscriber's address %s%s%s is not allowed "
		 "by the server's webhook allowlist.", text,
		 host ? " of " : "", host ? host : "");
	return false;
}

bool hub_hooks_uri_split(const char *uri, struct hub_hook_uri *u)
{
	const char *p = strstr(uri, "://"), *end, *host_end, *port = NULL;
	size_t n;

	memset(u, 0, sizeof(*u));
	if (!p)
		return false;
	if ((size_t)(p - uri) == 5 && strncasecmp(uri, "https", 5) == 0)
		u->tls = true;
	else if ((size_t)(p - uri) != 4 || strncasecmp(uri, "http", 4))
		return false;
	p += 3;
	end = p + strcspn(p, "/?#");
	/* Userinfo is no part of the host. */
	for (const char *at = p; at < end; at++)
		if (*at == '@')
			p = at + 1;
	if (*p == '[') {
		host_end = memchr(p, ']', (size_t)(end - p));
		if (!host_end)
			return false;
		p++;
		if (host_end + 1 < end && host_end[1] == ':')
			port = host_end + 2;
		else if (host_end + 1 != end)
			return false;
	} else {
		host_end = memchr(p, ':', (size_t)(end - p));
		if (host_end)
			port = host_end + 1;
		else
			host_end = end;
	}
	n = (size_t)(host_end - p);
	if (n == 0 || n >= sizeof(u->host))
		return false;
	memcpy(u->host, p, n);
	u->port = u->tls ? 443 : 80;
	if (port && port < end) {
		char *stop;
		long v = strtol(port, &stop, 10);

		if (stop != end || v < 1 || v > 65535)
			return false;
		u->port = (int)v;
	}
	u->path = end;
	u->path_len = strcspn(end, "#");
	return true;
}

bool hub_hooks_uri_allowed(const struct hub_config *cfg, const char *uri,
			   char *why, size_t len)
{
	struct hub_hook_uri u;
	struct sockaddr_in6 s6;
	struct sockaddr_in s4;

	if (!hub_hooks_uri_split(uri, &u)) {
		snprintf(why, len, "The subscriber URI has no usable host.");
		return false;
	}
	memset(&s4, 0, sizeof(s4));
	memset(&s6, 0, sizeof(s6));
	if (inet_pton(AF_INET, u.host, &s4.sin_addr) == 1) {
		s4.sin_family = AF_INET;
		return hub_hooks_addr_allowed(cfg->webhook_allow, NULL,
					      (struct sockaddr *)&s4, why,
					      len);
	}
	if (inet_pton(AF_INET6, u.host, &s6.sin6_addr) == 1) {
		s6.sin6_family = AF_INET6;
		return hub_hooks_addr_allowed(cfg->webhook_allow, NULL,
					      (struct sockaddr *)&s6, why,
					      len);
	}
	/* A name: its addresses are checked at every delivery. */
	return true;
}
