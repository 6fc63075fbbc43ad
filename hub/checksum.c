/*
 * checksum.c - Zaqar's message checksums (checksum.h).
 *
 * Zaqar (enable_checksum) stores, at post time, "MD5:" + md5(json.dumps(
 * body)) and returns it as the message's "checksum". Herald computes it at
 * render time from the stored body instead: the same value for the same
 * body, with nothing more stored - so a client checks the body it got
 * against it exactly as against Zaqar's. (Unlike Zaqar, turning the option
 * on also gives checksums to messages posted before.)
 *
 * What has to match is the byte string Python's json.dumps writes, not
 * jansson's:
 *
 *   {"b": [1, 2.5, "\u00e9"], "a": null}
 *      ^   ^  ^       ^
 *      |   |  |       ensure_ascii: \uXXXX (lowercase hex; surrogate
 *      |   |  |       pairs past U+FFFF), control characters and DEL too
 *      |   |  floats as repr(): the shortest digits that read back the
 *      |   |  same double; fixed from 1e-4 up to 1e16, else 1e+16, 1e-05
 *      |   ", " between items, ": " after keys
 *      keys in the order they were posted (jansson keeps it, as Python)
 *
 * Loop thread (render time); no state.
 */
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checksum.h"

/* Decodes one UTF-8 sequence at s (jansson's strings are valid UTF-8);
 * the code point, *n its length. */
static unsigned long utf8_next(const unsigned char *s, size_t left, size_t *n)
{
	unsigned long cp;
	size_t len, i;

	if (s[0] < 0x80) {
		*n = 1;
		return s[0];
	}
	len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : 2;
	if (len > left)
		len = left;
	cp = s[0] & (0x7f >> len);
	for (i = 1; i < len; i++)
		cp = (cp << 6) | (s[i] & 0x3f);
	*n = len;
	return cp;
}

static void put_string(FILE *f, const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, n;

	fputc('"', f);
	while (i < len) {
		unsigned long cp = utf8_next(s + i, len - i, &n);

		i += n;
		switch (cp) {
		case '"': fputs("\\\"", f); continue;
		case '\\': fputs("\\\\", f); continue;
		case '\n': fputs("\\n", f); continue;
		case '\r': fputs("\\r", f); continue;
		case '\t': fputs("\\t", f); continue;
		case '\b': fputs("\\b", f); continue;
		case '\f': fputs("\\f", f); continue;
		default: break;
		}
		if (cp >= 0x20 && cp < 0x7f) {
			fputc((int)cp, f);
		} else if (cp < 0x10000) {
			fprintf(f, "\\u%04lx", cp);
		} else {
			cp -= 0x10000;
			fprintf(f, "\\u%04lx\\u%04lx", 0xd800 | (cp >> 10),
				0xdc00 | (cp & 0x3ff));
		}
	}
	fputc('"', f);
}

/* A double as Python's repr(): the shortest round-tripping digits, in
 * fixed notation for exponents -4..15, else d[.ddd]e+XX. */
static void put_real(FILE *f, double v)
{
	char buf[64], digits[32];
	int p, exp, nd = 0;
	char *e;

	for (p = 1; p <= 17; p++) {
		snprintf(buf, sizeof(buf), "%.*e", p - 1, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	/* buf: [-]d[.ddd]e[+-]XX */
	e = strchr(buf, 'e');
	exp = atoi(e + 1);
	for (char *c = buf; c < e; c++)
		if (*c >= '0' && *c <= '9')
			digits[nd++] = *c;
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	digits[nd] = '\0';
	if (buf[0] == '-')
		fputc('-', f);
	if (exp < -4 || exp >= 16) {
		fputc(digits[0], f);
		if (nd > 1)
			fprintf(f, ".%s", digits + 1);
		fprintf(f, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
	} else if (exp < 0) {
		fputs("0.", f);
		for (int i = exp + 1; i < 0; i++)
			fputc('0', f);
		fputs(digits, f);
	} else {
		for (int i = 0; i <= exp; i++)
			fputc(i < nd ? digits[i] : '0', f);
		fprintf(f, ".%s", nd > exp + 1 ? digits + exp + 1 : "0");
	}
}

static void put_value(FILE *f, json_t *v)
{
	const char *key;
	json_t *item;
	size_t i;
	bool first = true;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		fputc('{', f);
		json_object_foreach(v, key, item) {
			if (!first)
				fputs(", ", f);
			first = false;
			put_string(f, key, strlen(key));
			fputs(": ", f);
			put_value(f, item);
		}
		fputc('}', f);
		break;
	case JSON_ARRAY:
		fputc('[', f);
		json_array_foreach(v, i, item) {
			if (i)
				fputs(", ", f);
			put_value(f, item);
		}
		fputc(']', f);
		break;
	case JSON_STRING:
		put_string(f, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		fprintf(f, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		put_real(f, json_real_value(v));
		break;
	case JSON_TRUE:
		fputs("true", f);
		break;
	case JSON_FALSE:
		fputs("false", f);
		break;
	default:
		fputs("null", f);
		break;
	}
}

char *hub_checksum_pyjson(json_t *body)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	put_value(f, body);
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

int hub_checksum(json_t *body, char out[HUB_CHECKSUM_LEN])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	char *text;
	int ok;

	if (!body || json_is_null(body))
		return 1;
	text = hub_checksum_pyjson(body);
	if (!text)
		return -1;
	ok = EVP_Digest(text, strlen(text), md, &md_len, EVP_md5(), NULL);
	free(text);
	if (!ok || md_len != 16)
		return -1;
	memcpy(out, "MD5:", 4);
	for (unsigned i = 0; i < 16; i++)
		snprintf(out + 4 + 2 * i, 3, "%02x", md[i]);
	return 0;
}
