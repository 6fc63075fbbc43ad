/*
 * test_batch.c - hub/api/batch.c: a post's document decoded by jansson
 * value by value gives the tree a whole-text parse gives, the exact byte
 * span of each body, and jansson's own error for a text it refuses. It
 * also holds jansson (2.14) to what the walk relies on: json_loadb with
 * JSON_DISABLE_EOF_CHECK reports in err.position the bytes it took, the
 * byte after a number not included.
 */
#include <string.h>

#include "tap.h"
#include "api/batch.h"

static size_t position(const char *text)
{
	json_error_t e;
	json_t *v = json_loadb(text, strlen(text),
			       JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK, &e);

	json_decref(v);
	return v ? (size_t)e.position : 0;
}

static void jansson_positions(void)
{
	is(position("123}"), 3, "a number: its digits, not the byte after");
	is(position("1.10]"), 4, "a real: as written");
	is(position("  -0,"), 4, "leading whitespace counts");
	is(position("\"a\\\"b\" :"), 6, "a string: up to its closing quote");
	is(position("{\"a\" : [1, 2] } ,"), 15, "an object: up to its brace");
	is(position("null}"), 4, "a literal");
}

/* The body of entry i as text (static buffer). */
static const char *span(const struct hub_batch *b, const char *text,
			size_t i)
{
	static char out[256];

	snprintf(out, sizeof(out), "%.*s", (int)b->spans[i].len,
		 text + b->spans[i].off);
	return out;
}

/* Parses text; true when the tree equals json_loadb's. */
static bool same_tree(struct hub_batch *b, const char *text, bool bare)
{
	json_error_t err;
	json_t *whole = json_loadb(text, strlen(text), JSON_DECODE_ANY, NULL);
	bool same;

	if (hub_batch_parse(b, text, strlen(text), bare, &err))
		return false;
	same = json_equal(whole, b->doc);
	json_decref(whole);
	return same;
}

static void spans(void)
{
	const char *doc = " {\"messages\" : [ {\"ttl\":60,\"body\":1.10},"
			  "{\"body\" : {\"a\" :  [1 ,2]} , \"ttl\": 5},\n"
			  "{\"body\":\"\\ud83d\\ude00\"} ], \"idempotency_key\""
			  ": \"k\" } \n";
	struct hub_batch b;

	ok(same_tree(&b, doc, false), "v2: the tree of a whole-text parse");
	is(b.n, 3, "one span per entry");
	is_str(span(&b, doc, 0), "1.10", "a number's bytes, exactly");
	is_str(span(&b, doc, 1), "{\"a\" :  [1 ,2]}",
	       "an object's bytes, inner spacing and all");
	is_str(span(&b, doc, 2), "\"\\ud83d\\ude00\"", "escapes as sent");
	hub_batch_free(&b);

	doc = "[{\"body\": [1], \"ttl\": 60}, 7, {\"ttl\": 1}]";
	ok(same_tree(&b, doc, true), "v1: the bare array");
	is(b.n, 3, "every entry counted");
	is_str(span(&b, doc, 0), "[1]", "the body of an object entry");
	ok(b.spans[1].len == 0 && b.spans[2].len == 0,
	   "no span for an entry that is no object or has no body");
	hub_batch_free(&b);

	doc = "{\"messages\": [{\"body\": 1}, {\"body\": 2}], "
	      "\"messages\": [{\"body\": 3, \"body\": 4}]}";
	ok(same_tree(&b, doc, false), "repeated keys: the last wins");
	ok(b.n == 1 && strcmp(span(&b, doc, 0), "4") == 0,
	   "the last messages array, and the last body, are the spans");
	hub_batch_free(&b);

	ok(same_tree(&b, "[1, 2]", false) && b.n == 0,
	   "v2: a document that is no object is one value, no entries");
	hub_batch_free(&b);
	ok(same_tree(&b, "{\"messages\": 3}", false) && b.n == 0,
	   "messages that are no array: one value");
	hub_batch_free(&b);
}

/* Refused as jansson refuses it: the same error text and code. */
static void refused(const char *text, const char *what)
{
	struct hub_batch b;
	json_error_t mine, theirs;
	json_t *whole = json_loadb(text, strlen(text), JSON_DECODE_ANY,
				   &theirs);

	ok(!whole && hub_batch_parse(&b, text, strlen(text), false,
				     &mine) == -1 &&
	   strcmp(mine.text, theirs.text) == 0 &&
	   json_error_code(&mine) == json_error_code(&theirs),
	   "%s: refused with jansson's error (%s)", what, theirs.text);
	json_decref(whole);
}

int main(void)
{
	jansson_positions();
	spans();
	refused("", "nothing");
	refused("{\"messages\": [{\"body\": 1},]}", "a trailing comma");
	refused("{\"messages\": [{\"body\": 123456789012345678901234567890}]}",
		"an integer beyond 64 bits");
	refused("{\"messages\": [{\"body\": 1e400}]}", "a real beyond a double");
	refused("{\"messages\": [{\"body\": \"\\u0000\"}]}", "\\u0000");
	refused("{\"messages\": [{\"body\" 1}]}", "a missing colon");
	refused("{\"messages\": [{1: 1}]}", "a key that is no string");
	refused("{\"messages\": []} x", "bytes after the document");
	refused("{\"messages\": [{\"body\": 1}]", "an unclosed document");
	done_testing();
	return exit_status();
}
