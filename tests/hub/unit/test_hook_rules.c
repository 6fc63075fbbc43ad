/*
 * test_hook_rules.c - the webhook deliverer's pure rules (live/hooks.h):
 * Zaqar's retry policy, each backoff function's delays against the lists
 * Zaqar's own code computes (zaqar/notification/tasks/webhook.py, run with
 * Python for these values), and the SSRF allowlist.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "live/hooks.h"
#include "tap.h"

/* The delays of retries 1.. until the policy gives up, as "a,b,c". */
static const char *delays(const struct hub_retry_policy *p)
{
	static char buf[512];
	size_t len = 0;

	buf[0] = '\0';
	for (unsigned n = 1; n < 100; n++) {
		long d = hub_retry_delay(p, n);

		if (d < 0)
			break;
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%ld",
					n > 1 ? "," : "", d);
	}
	return buf;
}

static const char *policy_delays(const char *sub, const char *queue)
{
	json_t *s = sub ? json_loads(sub, 0, NULL) : NULL;
	json_t *q = queue ? json_loads(queue, 0, NULL) : NULL;
	struct hub_retry_policy p;

	hub_retry_policy(s, q, &p);
	json_decref(s);
	json_decref(q);
	return delays(&p);
}

static void test_policy(void)
{
	is_str(policy_delays(NULL, NULL),
	       "0,0,0,5,5,5,5,10,15,20,25,30,30,30",
	       "Zaqar's defaults: 3 at once, 3 at 5 s, linear 5..25, 3 at 30 s");
	is_str(policy_delays("{\"_retry_policy\": {\"retries_with_no_delay\": 0,"
			     " \"minimum_delay_retries\": 0, "
			     "\"maximum_delay_retries\": 0, "
			     "\"retry_backoff_function\": \"geometric\"}}",
			     NULL),
	       "5,7,12,19,30", "geometric 5..30");
	is_str(policy_delays("{\"_retry_policy\": {\"retries_with_no_delay\": 0,"
			     " \"minimum_delay_retries\": 0, "
			     "\"maximum_delay_retries\": 0, "
			     "\"retry_backoff_function\": \"exponential\"}}",
			     NULL),
	       "5,7,12,19,30", "exponential 5..30");
	is_str(policy_delays("{\"_retry_policy\": {\"retries_with_no_delay\": 0,"
			     " \"minimum_delay_retries\": 0, "
			     "\"maximum_delay_retries\": 0, "
			     "\"retry_backoff_function\": \"arithmetic\"}}",
			     NULL),
	       "5,7,12,20,30", "arithmetic 5..30");
	is_str(policy_delays("{\"_retry_policy\": {\"retries_with_no_delay\": 0,"
			     " \"minimum_delay_retries\": 0, \"minimum_delay\": "
			     "10, \"maximum_delay\": 100, "
			     "\"maximum_delay_retries\": 0, "
			     "\"retry_backoff_function\": \"arithmetic\"}}",
			     NULL),
	       "10,10,11,13,15,18,22,26,31,36,42,48,55,63,71,80,90,100",
	       "arithmetic 10..100");
	is_str(policy_delays("{\"_retry_policy\": {\"retries_with_no_delay\": 0,"
			     " \"minimum_delay_retries\": 0, \"minimum_delay\": "
			     "10, \"maximum_delay\": 100, "
			     "\"maximum_delay_retries\": 0, "
			     "\"retry_backoff_function\": \"geometric\"}}",
			     NULL),
	       "10,11,13,15,17,19,22,25,29,33,38,44,50,58,66,76,87,100",
	       "geometric 10..100");

	const char *sub = "{\"_retry_policy\": {\"retries_with_no_delay\": 1,"
			  " \"minimum_delay_retries\": 0, "
			  "\"maximum_delay_retries\": 0, \"minimum_delay\": 5, "
			  "\"maximum_delay\": 15}}";
	const char *queue = "{\"_retry_policy\": {\"retries_with_no_delay\": 2,"
			    " \"minimum_delay_retries\": 0, "
			    "\"maximum_delay_retries\": 0, \"minimum_delay\": 5,"
			    " \"maximum_delay\": 15}}";
	is_str(policy_delays(sub, queue), "0,5,10",
	       "the subscription's policy wins");
	is_str(policy_delays("{}", queue), "0,0,5,10",
	       "the queue's when the subscription has none");
	is_str(policy_delays(sub,
			     "{\"_retry_policy\": {\"retries_with_no_delay\": 2,"
			     " \"minimum_delay_retries\": 0, "
			     "\"maximum_delay_retries\": 0, \"minimum_delay\": "
			     "5, \"maximum_delay\": 15, "
			     "\"ignore_subscription_override\": true}}"),
	       "0,0,5,10", "the queue's with ignore_subscription_override");
}

static bool allowed(const char *list, const char *addr)
{
	struct sockaddr_in6 s6 = {.sin6_family = AF_INET6};
	struct sockaddr_in s4 = {.sin_family = AF_INET};
	char why[256];

	if (inet_pton(AF_INET, addr, &s4.sin_addr) == 1)
		return hub_hooks_addr_allowed(list, NULL, (void *)&s4, why,
					      sizeof(why));
	if (inet_pton(AF_INET6, addr, &s6.sin6_addr) != 1)
		bail_out("bad address %s", addr);
	return hub_hooks_addr_allowed(list, NULL, (void *)&s6, why,
				      sizeof(why));
}

static void test_allowlist(void)
{
	static const char *const refused[] = {
		"127.0.0.1", "10.0.0.1", "172.16.5.4", "192.168.1.1",
		"169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1",
		"255.255.255.255", "::1", "::", "fe80::1", "fd00::1", "ff02::1",
		"::ffff:127.0.0.1", "64:ff9b::10.0.0.1", "2001:db8::1"};
	static const char *const public_ok[] = {"8.8.8.8", "192.0.32.10",
						"2606:4700::1111",
						"::ffff:8.8.8.8"};
	bool all = true;

	for (size_t i = 0; i < sizeof(refused) / sizeof(*refused); i++) {
		bool a = allowed("public", refused[i]);

		if (a)
			diag("%s allowed by \"public\"", refused[i]);
		all &= !a;
	}
	ok(all, "\"public\" refuses loopback, private, link-local, "
	   "multicast, reserved and mapped forms");
	all = true;
	for (size_t i = 0; i < sizeof(public_ok) / sizeof(*public_ok); i++)
		all &= allowed("public", public_ok[i]);
	ok(all, "and allows public addresses");
	ok(allowed("public, 10.20.0.0/16", "10.20.3.4") &&
		   !allowed("public, 10.20.0.0/16", "10.21.0.1"),
	   "a CIDR entry allows its network only");
	ok(allowed("127.0.0.1", "::ffff:127.0.0.1"),
	   "an IPv4 entry covers its mapped IPv6 form");
	ok(allowed("fd00::/8", "fd12::1") && !allowed("fd00::/8", "fe80::1"),
	   "IPv6 networks");
	ok(!allowed("10.0.0.0/8", "8.8.8.8"), "a list without public refuses "
	   "public addresses");
	ok(allowed("*", "127.0.0.1"), "* allows anything");
	ok(!allowed("", "8.8.8.8"), "an empty list allows nothing");

	struct sockaddr_in s4 = {.sin_family = AF_INET};
	char why[256];
	inet_pton(AF_INET, "127.0.0.1", &s4.sin_addr);
	ok(hub_hooks_addr_allowed("hooks.internal", "HOOKS.internal",
				  (void *)&s4, why, sizeof(why)),
	   "a listed host name is allowed whatever it resolves to");
	ok(!hub_hooks_addr_allowed("public", "localhost", (void *)&s4, why,
				   sizeof(why)) &&
		   strstr(why, "127.0.0.1 of localhost"),
	   "a refusal names the address and the host");

	struct hub_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.webhook_allow, sizeof(cfg.webhook_allow), "public");
	ok(!hub_hooks_uri_allowed(&cfg, "http://user:pw@10.0.0.1:8080/x", why,
				  sizeof(why)),
	   "a URI's literal address is checked past its userinfo");
	ok(!hub_hooks_uri_allowed(&cfg, "http://[::1]:81/", why, sizeof(why)),
	   "and in brackets");
	ok(hub_hooks_uri_allowed(&cfg, "https://hooks.example.org/x", why,
				 sizeof(why)),
	   "a name is left to the delivery");
}

/* "host|port|path|tls" of a URI, or "-" when it is refused. */
static const char *split(const char *uri)
{
	static char buf[512];
	struct hub_hook_uri u;

	if (!hub_hooks_uri_split(uri, &u))
		return "-";
	snprintf(buf, sizeof(buf), "%s|%d|%.*s|%d", u.host, u.port,
		 (int)u.path_len, u.path, u.tls);
	return buf;
}

static void test_split(void)
{
	is_str(split("http://127.0.0.1:9999/hook?x=1"),
	       "127.0.0.1|9999|/hook?x=1|0", "host, port, path and query");
	is_str(split("HTTPS://Hooks.example.org"), "Hooks.example.org|443||1",
	       "https, its default port, an empty path");
	is_str(split("http://user:pw@10.0.0.1:8080/x"), "10.0.0.1|8080|/x|0",
	       "userinfo is no part of the host (lws_parse_uri took \"user\")");
	is_str(split("http://[::1]:81/p#frag"), "::1|81|/p|0",
	       "a bracketed IPv6 host; the fragment is not sent");
	is_str(split("http://h?q=1"), "h|80|?q=1|0", "a query with no path");
	is_str(split("ftp://h/x"), "-", "another scheme is refused");
	is_str(split("http://:80/x"), "-", "no host");
	is_str(split("http://h:0/x"), "-", "port 0");
	is_str(split("http://h:99999/x"), "-", "a port past 65535");
	is_str(split("http://h:8o/x"), "-", "a port that is not a number");
	is_str(split("http://[::1/x"), "-", "an unclosed bracket");
}

int main(void)
{
	test_policy();
	test_allowlist();
	test_split();
	done_testing();
	return exit_status();
}
