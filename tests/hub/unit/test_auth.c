/*
 * test_auth.c - the auth layer's decisions (hub/auth.c) without a server:
 * role lists, queue patterns, what each role meets, expiry, protected
 * mode's idea of loopback. The strategies and the layer in a request's
 * path are tested end to end (tests/hub/test_auth*.c).
 */
#include <string.h>

#include "auth.h"
#include "config.h"
#include "route.h"
#include "tap.h"

static struct hub_ident with_roles(unsigned roles)
{
	struct hub_ident id;

	memset(&id, 0, sizeof(id));
	id.resolved = true;
	id.roles = roles;
	return id;
}

static bool permits(const struct hub_ident *id, int need, const char *queue,
		    uint64_t now_ms, int *status)
{
	const char *why = NULL;

	*status = 0;
	return hub_auth_permits(id, need, queue, now_ms, status, &why);
}

static void roles(void)
{
	unsigned r = 0;
	const char *bad = NULL;
	size_t bad_len = 0;

	ok(hub_auth_roles_parse(" publish, consume ,read", &r, &bad, &bad_len) &&
	   r == (HUB_ROLE_PUBLISH | HUB_ROLE_CONSUME | HUB_ROLE_READ),
	   "a role list with blanks around its names");
	ok(hub_auth_roles_parse("ADMIN", &r, &bad, &bad_len) &&
	   r == HUB_ROLE_ADMIN, "role names are case-insensitive");
	ok(!hub_auth_roles_parse("read,owner", &r, &bad, &bad_len) &&
	   bad_len == 5 && strncmp(bad, "owner", 5) == 0,
	   "an unknown role is named");
	ok(hub_auth_roles_parse("", &r, &bad, &bad_len) && r == 0,
	   "an empty list is no roles");
}

static void needs(void)
{
	struct hub_ident rd = with_roles(HUB_ROLE_READ);
	struct hub_ident pub = with_roles(HUB_ROLE_PUBLISH);
	struct hub_ident con = with_roles(HUB_ROLE_CONSUME);
	struct hub_ident sub = with_roles(HUB_ROLE_SUBSCRIBE);
	struct hub_ident mgr = with_roles(HUB_ROLE_MANAGE);
	struct hub_ident adm = with_roles(HUB_ROLE_ADMIN);
	struct hub_ident none;
	int st;

	memset(&none, 0, sizeof(none));
	ok(permits(&none, HUB_AUTH_NONE, NULL, 0, &st), "open routes need nothing");
	ok(!permits(&none, HUB_AUTH_READ, NULL, 0, &st) && st == 401,
	   "no identity: 401");
	ok(permits(&rd, HUB_AUTH_READ, "q", 0, &st), "read reads");
	ok(!permits(&rd, HUB_AUTH_PUBLISH, "q", 0, &st) && st == 403,
	   "read does not publish: 403");
	ok(permits(&pub, HUB_AUTH_PUBLISH, "q", 0, &st) &&
	   !permits(&pub, HUB_AUTH_READ, "q", 0, &st),
	   "publish publishes and does not read");
	ok(permits(&con, HUB_AUTH_CONSUME, "q", 0, &st) &&
	   permits(&con, HUB_AUTH_READ, "q", 0, &st) &&
	   !permits(&con, HUB_AUTH_PUBLISH, "q", 0, &st),
	   "consume claims and reads");
	ok(permits(&sub, HUB_AUTH_SUBSCRIBE, "q", 0, &st) &&
	   permits(&sub, HUB_AUTH_READ, "q", 0, &st) &&
	   !permits(&sub, HUB_AUTH_CONSUME, "q", 0, &st),
	   "subscribe streams and reads");
	ok(permits(&mgr, HUB_AUTH_WRITE, "q", 0, &st) &&
	   !permits(&mgr, HUB_AUTH_ADMIN, NULL, 0, &st),
	   "manage changes queues, is no admin");
	ok(permits(&adm, HUB_AUTH_ADMIN, NULL, 0, &st) &&
	   permits(&adm, HUB_AUTH_PUBLISH, "q", 0, &st),
	   "admin does all");
	adm.expires_ms = 1000;
	ok(permits(&adm, HUB_AUTH_READ, NULL, 999, &st) &&
	   !permits(&adm, HUB_AUTH_READ, NULL, 1000, &st) && st == 401,
	   "an expired credential: 401 from its expiry on");
}

static void patterns(void)
{
	struct hub_ident id = with_roles(HUB_ROLE_READ);
	int st;

	ok(hub_ident_queue_ok(&id, "anything"), "no patterns: every queue");
	ok(hub_ident_add_queue(&id, "orders-*", 8) &&
	   hub_ident_add_queue(&id, "inv?", 4), "two patterns");
	ok(hub_ident_queue_ok(&id, "orders-1") && hub_ident_queue_ok(&id, "inv1"),
	   "names matching either pattern");
	ok(!hub_ident_queue_ok(&id, "orders") && !hub_ident_queue_ok(&id, "inv12"),
	   "names matching neither");
	ok(!permits(&id, HUB_AUTH_READ, "secret", 0, &st) && st == 403,
	   "a queue outside the patterns: 403");
	ok(permits(&id, HUB_AUTH_READ, NULL, 0, &st),
	   "a route without a queue (the listing) is not held to them");
	ok(!hub_ident_add_queue(&id, "", 0), "an empty pattern is refused");
	for (int i = 0; i < 200; i++)
		hub_ident_add_queue(&id, "pattern-xx", 10);
	ok(!hub_ident_add_queue(&id, "pattern-xx", 10),
	   "patterns beyond the room are refused, not cut");
}

static void protected_mode(void)
{
	struct hub_config cfg;

	hub_config_defaults(&cfg);
	is(hub_auth_check_listen(&cfg), 0, "none on 127.0.0.1: allowed");
	snprintf(cfg.listen_host, sizeof(cfg.listen_host), "127.0.0.2");
	is(hub_auth_check_listen(&cfg), 0, "any of 127/8 is loopback");
	snprintf(cfg.listen_host, sizeof(cfg.listen_host), "::1");
	is(hub_auth_check_listen(&cfg), 0, "::1 is loopback");
	snprintf(cfg.listen_host, sizeof(cfg.listen_host), "0.0.0.0");
	is(hub_auth_check_listen(&cfg), -1, "none on 0.0.0.0: refused");
	snprintf(cfg.listen_host, sizeof(cfg.listen_host), "::");
	is(hub_auth_check_listen(&cfg), -1, "none on :: refused");
	cfg.insecure_no_auth = true;
	is(hub_auth_check_listen(&cfg), 0, "unless --insecure-no-auth");
	cfg.insecure_no_auth = false;
	snprintf(cfg.auth, sizeof(cfg.auth), "jwt");
	is(hub_auth_check_listen(&cfg), 0, "other strategies listen anywhere");
}

int main(void)
{
	roles();
	needs();
	patterns();
	protected_mode();
	return exit_status();
}
