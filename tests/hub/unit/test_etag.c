/*
 * test_etag.c - entity tags (hub/etag.c): what makes two tags differ,
 * and If-None-Match.
 */
#include <stdio.h>
#include <string.h>

#include "etag.h"
#include "req.h"
#include "tap.h"

/* The tag of strings a and b, added as two fields. */
static void tag2(const char *a, const char *b, char out[HUB_ETAG_MAX])
{
	struct hub_etag e;

	hub_etag_init(&e);
	hub_etag_add_str(&e, a);
	hub_etag_add_str(&e, b);
	hub_etag_format(&e, false, out);
}

int main(void)
{
	char t1[HUB_ETAG_MAX], t2[HUB_ETAG_MAX], weak[HUB_ETAG_MAX];
	char id[] = "000000000300000000000017";
	struct hub_etag e;
	struct hub_req r = {0};
	int changed = 0, bits = 0;

	tag2("ab", "c", t1);
	tag2("ab", "c", t2);
	is_str(t1, t2, "the same fields make the same tag");
	ok(strlen(t1) == 18 && t1[0] == '"' && t1[17] == '"',
	   "a strong tag is 16 hex digits in quotes");
	tag2("a", "bc", t2);
	ok(strcmp(t1, t2) != 0, "(ab, c) and (a, bc) differ: lengths go in");
	tag2("", "x", t1);
	tag2(NULL, "x", t2);
	ok(strcmp(t1, t2) != 0, "an absent field differs from an empty one");
	tag2("abcdefgh", "", t1);
	tag2("abcdefgh\0", "", t2);
	is_str(t1, t2, "a string ends at its NUL");

	/* Every bit of every byte of an id (3 words, the last partial)
	 * changes the tag. */
	tag2(id, NULL, t1);
	for (size_t i = 0; i < strlen(id); i++)
		for (int b = 0; b < 7; b++) {
			id[i] ^= (char)(1 << b);
			tag2(id, NULL, t2);
			changed += strcmp(t1, t2) != 0;
			bits++;
			id[i] ^= (char)(1 << b);
		}
	is(changed, bits, "each of an id's %d bits changes the tag", bits);

	hub_etag_init(&e);
	hub_etag_add_u64(&e, 1);
	hub_etag_format(&e, false, t1);
	hub_etag_init(&e);
	hub_etag_add_u64(&e, 1ULL << 63);
	hub_etag_format(&e, false, t2);
	ok(strcmp(t1, t2) != 0, "an integer's low and high bits both count");
	hub_etag_format(&e, true, weak);
	ok(strncmp(weak, "W/", 2) == 0 && strcmp(weak + 2, t2) == 0,
	   "a weak tag is W/ and the same quoted hash");

	r.if_none_match = t2;
	ok(hub_etag_matches(&r, t2), "If-None-Match of the tag matches");
	ok(hub_etag_matches(&r, weak), "weak and strong compare equal");
	r.if_none_match = "\"0000000000000000\", W/\"1111111111111111\"";
	ok(!hub_etag_matches(&r, t2), "a list without the tag does not match");
	char list[80];
	snprintf(list, sizeof(list), "\"0000000000000000\", %s", weak);
	r.if_none_match = list;
	ok(hub_etag_matches(&r, t2), "a list holding it does");
	r.if_none_match = "*";
	ok(hub_etag_matches(&r, t2), "* matches any tag");
	r.if_none_match = "";
	ok(!hub_etag_matches(&r, t2), "no If-None-Match matches nothing");
	done_testing();
	return exit_status();
}
