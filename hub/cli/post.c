/*
 * post.c - `herald post` and `herald claim`.
 *
 * post: every body (an argument, or a line of stdin) is parsed as JSON
 * first; a word that is not JSON stops the command with exit 2. Bodies
 * are gathered into batches that stay under the queue's post size limit
 * (`_max_messages_post_size` from GET /v2/queues/Q, which includes the
 * server's own limit) and posted as
 *
 *     POST /v2/queues/Q/messages  {"messages": [{"body": B, "ttl": T}, ...]}
 *
 * From stdin a batch also goes out whenever stdin has nothing more to
 * read right now, so `producer | herald post q` posts as lines come in,
 * not at the end. The new ids are printed in posting order as each batch
 * is committed; on an error, the batches before it stay posted.
 *
 * claim: POST /v2/queues/Q/claims, each claimed message printed with its
 * claim id (taken from its href), then, with --delete, deleted with
 * DELETE .../messages/ID?claim_id=C.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "cli.h"

/* {"messages":[]} around the messages, and a comma between two. */
#define ENVELOPE 15

struct batch {
	struct cli *c;
	const char *queue;
	long ttl, delay;
	size_t limit;       /* bytes a post may have */
	json_t *msgs;       /* the messages gathered so far */
	size_t bytes;       /* their encoded size, with the envelope */
};

/* Posts what is gathered and prints the ids; an exit code. */
static int flush(struct batch *b)
{
	json_t *doc, *res, *href;
	struct cli_resp r;
	char path[256], id[128], *text;
	size_t i;
	int rc;

	if (!json_array_size(b->msgs))
		return CLI_OK;
	doc = json_pack("{sO}", "messages", b->msgs);
	text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	json_array_clear(b->msgs);
	b->bytes = ENVELOPE;
	if (!text)
		return CLI_USAGE;
	snprintf(path, sizeof(path), "/v2/queues/%s/messages", cli_qs(b->queue));
	rc = cli_call(b->c, "POST", path, text, 60, 201, 0, &r);
	free(text);
	if (rc)
		return rc;
	res = json_object_get(r.json, "resources");
	json_array_foreach(res, i, href) {
		cli_href_id(json_string_value(href), id, sizeof(id));
		printf("%s\n", id);
	}
	fflush(stdout);
	cli_resp_free(&r);
	return CLI_OK;
}

/* Parses `text` as one message body and adds it, posting the batch first
 * when the message would not fit. `what` names it for errors. */
static int add(struct batch *b, const char *text, const char *what)
{
	json_error_t err;
	json_t *body = json_loads(text, JSON_DECODE_ANY, &err), *m;
	char *enc;
	size_t n;
	int rc;

	if (!body) {
		fprintf(stderr, "herald post: %s is not JSON (%s)%s\n", what, err.text,
			text[0] != '"' ? "; a string needs quotes: '\"...\"'" : "");
		return CLI_USAGE;
	}
	m = json_pack("{so}", "body", body);
	if (b->ttl >= 0)
		json_object_set_new(m, "ttl", json_integer(b->ttl));
	if (b->delay >= 0)
		json_object_set_new(m, "delay", json_integer(b->delay));
	enc = json_dumps(m, JSON_COMPACT | JSON_ENCODE_ANY);
	n = enc ? strlen(enc) + 1 : 0;
	free(enc);
	if (json_array_size(b->msgs) && b->bytes + n > b->limit) {
		rc = flush(b);
		if (rc) {
			json_decref(m);
			return rc;
		}
	}
	json_array_append_new(b->msgs, m);
	b->bytes += n;
	return CLI_OK;
}

/* The queue's post size limit; an exit code. */
static int post_limit(struct batch *b)
{
	struct cli_resp r;
	char path[256];
	json_t *v;
	int rc;

	b->limit = 262144; /* Zaqar's default, when the server does not say */
	snprintf(path, sizeof(path), "/v2/queues/%s", cli_qs(b->queue));
	rc = cli_request(b->c, "GET", path, NULL, 30, &r);
	if (rc)
		return rc;
	v = json_object_get(r.json, "_max_messages_post_size");
	if (r.status == 200 && json_integer_value(v) > ENVELOPE)
		b->limit = (size_t)json_integer_value(v);
	cli_resp_free(&r);
	return CLI_OK;
}

/* Stdin, line by line, noticing when it has nothing more for now. */
struct lines {
	struct hub_buf in; /* read, from `start` on not yet returned */
	size_t start;
	bool eof;
};

/* The next line (without its newline; NULL at the end). Before a read
 * that would wait, posts the batch gathered so far. */
static char *next_line(struct lines *l, struct batch *b, int *rc)
{
	for (;;) {
		char *nl = memchr(l->in.data + l->start, '\n',
				  l->in.len - l->start);
		char *line = l->in.data + l->start;
		struct pollfd p = {.fd = 0, .events = POLLIN};
		ssize_t n;

		if (nl || (l->eof && l->start < l->in.len)) {
			if (nl)
				*nl = '\0';
			l->start = nl ? (size_t)(nl - l->in.data) + 1
				      : l->in.len;
			return line;
		}
		if (l->eof)
			return NULL;
		memmove(l->in.data, line, l->in.len - l->start);
		l->in.len -= l->start;
		l->start = 0;
		/* Room for a read and the NUL after it. */
		if (!hub_buf_reserve(&l->in, 4096 + 1))
			return NULL;
		if (poll(&p, 1, 0) == 0) {
			*rc = flush(b);
			if (*rc)
				return NULL;
		}
		n = read(0, l->in.data + l->in.len, l->in.cap - l->in.len - 1);
		if (n < 0 && errno == EINTR && !cli_interrupted)
			continue;
		if (n <= 0)
			l->eof = true;
		else
			l->in.len += (size_t)n;
		l->in.data[l->in.len] = '\0';
	}
}

static int post_stdin(struct batch *b)
{
	struct lines l = {.start = 0};
	char what[64], *line;
	int rc = CLI_OK;
	long no = 0;

	if (!hub_buf_reserve(&l.in, 65536))
		return CLI_USAGE;
	l.in.data[0] = '\0';
	while (!rc && (line = next_line(&l, b, &rc))) {
		no++;
		if (!line[strspn(line, " \t\r")])
			continue; /* blank lines carry no message */
		snprintf(what, sizeof(what), "line %ld", no);
		rc = add(b, line, what);
		if (rc == CLI_USAGE)
			flush(b); /* the lines before the bad one go out */
	}
	hub_buf_free(&l.in);
	return rc ? rc : flush(b);
}

int cli_cmd_post(struct cli *c, const struct cli_opts *o, int argc,
		 char **argv)
{
	struct batch b = {.c = c, .ttl = o->ttl, .delay = o->delay,
			  .bytes = ENVELOPE};
	char what[64];
	int rc;

	if (argc < 1) {
		fprintf(stderr, "herald post: which queue? (herald post --help)\n");
		return CLI_USAGE;
	}
	b.queue = argv[0];
	b.msgs = json_array();
	/* Arguments are all checked before anything is posted. */
	for (int i = 1; i < argc; i++) {
		json_t *j = json_loads(argv[i], JSON_DECODE_ANY, NULL);

		snprintf(what, sizeof(what), "argument %d", i);
		if (!j) {
			rc = add(&b, argv[i], what);
			json_decref(b.msgs);
			return rc;
		}
		json_decref(j);
	}
	rc = post_limit(&b);
	for (int i = 1; i < argc && !rc; i++) {
		snprintf(what, sizeof(what), "argument %d", i);
		rc = add(&b, argv[i], what);
	}
	if (!rc)
		rc = argc > 1 ? flush(&b) : post_stdin(&b);
	json_decref(b.msgs);
	return rc;
}

/* Deletes a claimed message; an exit code. */
static int delete_claimed(struct cli *c, const char *queue, const char *id,
			  const char *claim)
{
	struct cli_resp r;
	char path[512];
	int rc;

	snprintf(path, sizeof(path), "/v2/queues/%s/messages/%s?claim_id=%s",
		 cli_qs(queue), cli_qs(id), cli_qs(claim));
	rc = cli_call(c, "DELETE", path, NULL, 30, 204, 0, &r);
	if (rc == CLI_OK)
		cli_resp_free(&r);
	return rc;
}

int cli_cmd_claim(struct cli *c, const struct cli_opts *o, int argc,
		  char **argv)
{
	json_t *req = json_object(), *m;
	struct cli_resp r;
	char path[256], *body;
	size_t i;
	int rc;

	if (argc != 1) {
		fprintf(stderr, "herald claim: one queue, please (herald claim --help)\n");
		json_decref(req);
		return CLI_USAGE;
	}
	if (o->ttl >= 0)
		json_object_set_new(req, "ttl", json_integer(o->ttl));
	if (o->grace >= 0)
		json_object_set_new(req, "grace", json_integer(o->grace));
	body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	snprintf(path, sizeof(path), "/v2/queues/%s/claims", cli_qs(argv[0]));
	if (o->limit >= 0)
		snprintf(path + strlen(path), sizeof(path) - strlen(path), "?limit=%ld",
			 o->limit);
	rc = cli_call(c, "POST", path, body, 60, 201, 204, &r);
	free(body);
	if (rc)
		return rc;
	json_array_foreach(json_object_get(r.json, "messages"), i, m) {
		const char *href = json_string_value(json_object_get(m, "href"));
		const char *at = href ? strstr(href, "claim_id=") : NULL;
		const char *id = json_string_value(json_object_get(m, "id"));
		char cid[128] = "";

		if (at)
			snprintf(cid, sizeof(cid), "%.*s", (int)strcspn(at + 9, "&"),
				 at + 9);
		cli_print_message(m, at ? cid : NULL);
		if (o->del && id && at)
			rc = delete_claimed(c, argv[0], id, cid);
		if (rc)
			break;
	}
	cli_resp_free(&r);
	return rc;
}
