/*
 * test_checksum.c - Zaqar's message checksums (hub/checksum.c): bodies
 * serialized byte for byte as Python's json.dumps() writes them, and
 * their MD5. The expected values were made with CPython 3:
 * json.dumps(json.loads(text)) and hashlib.md5.
 */
#include <stdlib.h>
#include <string.h>

#include "checksum.h"
#include "tap.h"

static const struct {
	const char *in, *py;
} dumps[] = {
	{"{\"b\":[1,2.5,\"\\u00e9\"],\"a\":null,\"s\":\"x\\\"y\\\\/\\n\\u0001\\u007f\"}",
	 "{\"b\": [1, 2.5, \"\\u00e9\"], \"a\": null, \"s\": \"x\\\"y\\\\/\\n\\u0001\\u007f\"}"},
	{"\"two\"", "\"two\""},
	{"[3]", "[3]"},
	{"{\"z\":{\"y\":[false,{}]},\"a\":-7}", "{\"z\": {\"y\": [false, {}]}, \"a\": -7}"},
	{"0.1", "0.1"},
	{"0.10000000000000001", "0.1"},
	{"0.5", "0.5"},
	{"1e16", "1e+16"},
	{"1.5e16", "1.5e+16"},
	{"1e15", "1000000000000000.0"},
	{"100.0", "100.0"},
	{"1e-05", "1e-05"},
	{"0.0001", "0.0001"},
	{"-0.0", "-0.0"},
	{"123456789.125", "123456789.125"},
	{"1.7976931348623157e308", "1.7976931348623157e+308"},
	{"5e-324", "5e-324"},
	{"1e22", "1e+22"},
	{"12345678901234567890.0", "1.2345678901234567e+19"},
	{"-2.5e-7", "-2.5e-07"},
	{"\"\\ud83d\\ude00\"", "\"\\ud83d\\ude00\""},
	{"\"\\u00e9t\\u00e9\\t\"", "\"\\u00e9t\\u00e9\\t\""},
	{"{}", "{}"},
	{"[]", "[]"},
	{"true", "true"},
};

int main(void)
{
	char sum[HUB_CHECKSUM_LEN];
	json_t *v;

	for (size_t i = 0; i < sizeof(dumps) / sizeof(*dumps); i++) {
		char *got;

		v = json_loads(dumps[i].in, JSON_DECODE_ANY, NULL);
		got = v ? hub_checksum_pyjson(v) : NULL;
		is_str(got, dumps[i].py, "%s is written as json.dumps writes it",
		       dumps[i].in);
		free(got);
		json_decref(v);
	}

	v = json_loads("{\"event\": \"one\"}", 0, NULL);
	ok(hub_checksum(v, sum) == 0, "an object has a checksum");
	is_str(sum, "MD5:3bb59b0b14f678192df9b2a37b2495cb",
	       "MD5: and md5(json.dumps(body)), as Zaqar's get_checksum");
	json_decref(v);
	v = json_loads("{\"b\":[1,2.5,\"\\u00e9\"],\"a\":null,"
		       "\"s\":\"x\\\"y\\\\/\\n\\u0001\\u007f\"}", 0, NULL);
	hub_checksum(v, sum);
	is_str(sum, "MD5:e5f32c4cf1e31d57d2c459c2322583b9",
	       "of escapes, non-ASCII and keys in their order too");
	json_decref(v);
	v = json_null();
	is(hub_checksum(v, sum), 1, "a null body has none (Zaqar's is \"\")");
	done_testing();
	return exit_status();
}
