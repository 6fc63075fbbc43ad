/*
 * test_atom.c - GET /v2/queues/{q}/feed.atom (an Atom 1.0 feed of the
 * newest messages) and conditional GET (ETag / If-None-Match) on it and on
 * the v2 message listing.
 *
 * Every feed is parsed with libxml2: well-formed XML, the elements RFC 4287
 * requires, ids, times, links; bodies full of what XML must escape (and
 * cannot carry) parse back from <content> to the JSON that was posted.
 * Tags must ignore ages: the clock moves a second and the tag stays.
 */
#include "harness.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef HERALD_NO_LIBXML2

int main(void)
{
	skip_all("libxml2 (libxml2-dev) is not installed");
}

#else

#include <libxml/parser.h>
#include <libxml/tree.h>

#define ATOM_NS "http://www.w3.org/2005/Atom"

static struct hh_server srv;
static struct hh_client a;  /* client A, project "atomp": reads */
static struct hh_client b;  /* client B, project "atomp": posts */
static struct hh_resp r = HH_RESP_INIT;

/* ------------------------------------------------------------ XML helpers */

/* The parsed feed of the last response; NULL when it is not well-formed. */
static xmlDoc *doc;

static xmlDoc *parse(const struct hh_resp *resp)
{
	xmlFreeDoc(doc);
	doc = xmlReadMemory(resp->body, (int)resp->body_len, "feed.atom", NULL,
			    XML_PARSE_NONET | XML_PARSE_NOERROR |
				    XML_PARSE_NOWARNING);
	return doc;
}

static bool is_atom(const xmlNode *n, const char *name)
{
	return n && n->type == XML_ELEMENT_NODE && n->ns &&
	       strcmp((const char *)n->ns->href, ATOM_NS) == 0 &&
	       strcmp((const char *)n->name, name) == 0;
}

static xmlNode *root(void)
{
	xmlNode *n = doc ? xmlDocGetRootElement(doc) : NULL;

	return is_atom(n, "feed") ? n : NULL;
}

/* The i-th Atom child element `name` of parent, or NULL. */
static xmlNode *child(const xmlNode *parent, const char *name, int i)
{
	for (xmlNode *n = parent ? parent->children : NULL; n; n = n->next)
		if (is_atom(n, name) && i-- == 0)
			return n;
	return NULL;
}

static int count(const xmlNode *parent, const char *name)
{
	int n = 0;

	while (child(parent, name, n))
		n++;
	return n;
}

/* Text of a node, or of an attribute when attr is set (a rotating
 * static copy; "" when missing). */
static const char *text(const xmlNode *n, const char *attr)
{
	static char *ring[8];
	static int next;
	xmlChar *s = NULL;

	if (n)
		s = attr ? xmlGetProp(n, (const xmlChar *)attr)
			 : xmlNodeGetContent(n);
	next = (next + 1) % 8;
	free(ring[next]);
	ring[next] = strdup(s ? (const char *)s : "");
	xmlFree(s);
	return ring[next];
}

static const char *ctext(const xmlNode *parent, const char *name, int i)
{
	return text(child(parent, name, i), NULL);
}

/* RFC 3339 as Herald writes it: YYYY-MM-DDTHH:MM:SS.mmmZ. */
static bool rfc3339(const char *s)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";

	if (strlen(s) != strlen(shape))
		return false;
	for (size_t i = 0; shape[i]; i++)
		if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
			return false;
	return true;
}

static const char *atom_time(uint64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char text_[32];

	gmtime_r(&t, &tm);
	strftime(text_, sizeof(text_), "%Y-%m-%dT%H:%M:%S", &tm);
	return hh_fmt("%s.%03uZ", text_, (unsigned)(ms % 1000));
}

/*
 * What RFC 4287 requires of a feed and its entries (§4.1.1, §4.1.2),
 * plus Herald's shape: exactly one id, title, updated; an author; every
 * entry with one id, title, updated, an alternate link and a content of
 * type application/json. Returns why not, or NULL.
 */
static const char *shape_error(void)
{
	xmlNode *f = root();

	if (!f)
		return "the root is not an Atom <feed>";
	if (count(f, "id") != 1 || count(f, "title") != 1 ||
	    count(f, "updated") != 1)
		return "the feed needs exactly one id, title and updated";
	if (count(f, "author") < 1 || !child(child(f, "author", 0), "name", 0))
		return "the feed needs an author with a name";
	if (!rfc3339(ctext(f, "updated", 0)))
		return "the feed's updated is not RFC 3339";
	for (int i = 0; i < count(f, "entry"); i++) {
		xmlNode *e = child(f, "entry", i);

		if (count(e, "id") != 1 || count(e, "title") != 1 ||
		    count(e, "updated") != 1 || count(e, "content") > 1)
			return "an entry needs one id, title, updated";
		if (!count(e, "content") && !count(e, "summary"))
			return "an entry needs a content or a summary";
		if (!rfc3339(ctext(e, "updated", 0)))
			return "an entry's updated is not RFC 3339";
		if (count(e, "content") &&
		    strcmp(text(child(e, "content", 0), "type"), "text") != 0)
			return "an entry's content is not type=\"text\"";
		if (strcmp(text(child(e, "link", 0), "rel"), "alternate") != 0)
			return "an entry has no alternate link";
		if (strncmp(text(child(e, "link", 0), "href"), "http", 4) != 0)
			return "an entry's link is not absolute";
	}
	return NULL;
}

/* GETs a feed and checks that it is well-formed Atom (two points). */
static int get_feed(struct hh_client *c, const char *path, const char *name)
{
	const char *why;

	hh_call(c, &r, "GET", path, NULL);
	if (r.status != 200)
		return r.status;
	ok(parse(&r) != NULL, "%s: well-formed XML", name);
	why = shape_error();
	ok(why == NULL, "%s: a valid Atom feed%s%s", name, why ? ": " : "",
	   why ? why : "");
	return r.status;
}

static int entries(void)
{
	return count(root(), "entry");
}

/* The message id at the end of the i-th entry's id. */
static const char *entry_msg_id(int i)
{
	const char *id = ctext(child(root(), "entry", i), "id", 0);
	const char *colon = strrchr(id, ':');

	return colon ? colon + 1 : "";
}

/* --------------------------------------------------------------- helpers */

/* The origin of the feeds' links, from the Host the client sends. */
static const char *origin(void)
{
	return hh_fmt("http://127.0.0.1:%d", srv.port);
}

static const char *etag(void)
{
	const char *t = hh_header(&r, "etag");

	return t ? hh_fmt("%s", t) : "";
}

/* GET with If-None-Match: tag. */
static int get_if(struct hh_client *c, const char *path, const char *tag)
{
	return hh_callh(c, &r, "GET", path,
			hh_fmt("If-None-Match: %s\r\n", tag), NULL);
}

/* Posts one message with body `body` (JSON text) as b; its id. */
static const char *post1(const char *queue, const char *body)
{
	hh_call(&b, &r, "POST", hh_fmt("/v2/queues/%s/messages", queue),
		hh_fmt("{\"messages\": [{\"body\": %s, \"ttl\": 3600}]}", body));
	if (r.status != 201)
		diag("post to %s: %d %s", queue, r.status, r.body);
	return hh_fmt("%s", hh_resource_ids(&r));
}

/* ------------------------------------------------------------------ tests */

static void empty_feed(void)
{
	char tag[64];

	is(get_feed(&a, "/v2/queues/nothing/feed.atom", "an empty queue"), 200,
	   "the feed of a queue without messages is 200");
	ok(hh_header(&r, "content-type") &&
		   strcmp(hh_header(&r, "content-type"),
			  "application/atom+xml") == 0,
	   "Content-Type application/atom+xml");
	is(entries(), 0, "with no entries");
	is_str(ctext(root(), "id", 0), "urn:herald:atomp:nothing",
	       "the feed's id is urn:herald:{project}:{queue}");
	is_str(ctext(root(), "updated", 0), atom_time(srv.now_ms),
	       "an empty feed's updated is now");
	hh_copy(tag, sizeof(tag), etag());
	ok(strncmp(tag, "W/\"", 3) == 0,
	   "an empty feed's ETag is weak (its updated moves): %s", tag);
	hh_clock_advance(&srv, 1000);
	get_if(&a, "/v2/queues/nothing/feed.atom", tag);
	is(r.status, 304, "a second later it is still 304 Not Modified");
	is(r.body_len, 0, "with no body");
}

/* Bodies with everything XML escapes or cannot carry. */
static const char *const tricky[] = {
	"{\"html\": \"<b>bold</b> & <i>more</i>\", \"q\": \"\\\"double\\\" "
	"'single'\"}",
	"\"]]> and ]]&gt; and &amp; literally\"",
	"\"unicode: \xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80 \xe2\x80\xa8\"",
	"\"controls: \\u0001\\u0008\\u000b\\u001f tab\\t lf\\n cr\\r end\"",
	"\"non-characters: \\ufffe \\uffff and nul-free\"",
	"[1, 2.5, true, null, {\"nested\": [\"<\", \">\", \"&\"]}]",
};
#define N_TRICKY (sizeof(tricky) / sizeof(*tricky))

static void escaping(void)
{
	char ids[N_TRICKY][64];

	for (size_t i = 0; i < N_TRICKY; i++)
		hh_copy(ids[i], sizeof(ids[i]), post1("esc", tricky[i]));
	is(get_feed(&a, "/v2/queues/esc/feed.atom", "tricky bodies"), 200,
	   "the feed of a queue of tricky bodies is 200");
	is(entries(), (int)N_TRICKY, "one entry per message, other clients' too");
	for (size_t i = 0; i < N_TRICKY; i++) {
		/* Newest first. */
		xmlNode *e = child(root(), "entry", (int)(N_TRICKY - 1 - i));
		json_t *want = json_loads(tricky[i], JSON_DECODE_ANY, NULL);
		json_t *got = json_loads(ctext(e, "content", 0),
					 JSON_DECODE_ANY, NULL);

		is_str(ctext(e, "id", 0),
		       hh_fmt("urn:herald:atomp:esc:%s", ids[i]),
		       "entry id %zu is urn:herald:{project}:{queue}:{id}", i);
		ok(want && got && json_equal(want, got),
		   "body %zu comes back from <content> as the same JSON: %s", i,
		   ctext(e, "content", 0));
		ok(strlen(ctext(e, "title", 0)) > 0, "entry %zu has a title", i);
		is_str(text(child(e, "link", 0), "href"),
		       hh_fmt("%s/v2/queues/esc/messages/%s", origin(), ids[i]),
		       "entry %zu links to its message", i);
		json_decref(want);
		json_decref(got);
	}
	ok(strstr(r.body, "<b>") == NULL && strstr(r.body, "&lt;b&gt;"),
	   "markup in bodies is escaped, not markup");
}

static void feed_fields(void)
{
	const char *first, *second;
	char id1[64], id2[64];
	uint64_t t1;

	t1 = srv.now_ms + 1234;
	hh_clock_set(&srv, t1);
	hh_copy(id1, sizeof(id1), post1("f", "\"first\""));
	hh_clock_advance(&srv, 60500);
	hh_copy(id2, sizeof(id2), post1("f", "\"second\""));
	hh_clock_advance(&srv, 5000);
	get_feed(&a, "/v2/queues/f/feed.atom", "two messages");
	first = entry_msg_id(0);
	second = entry_msg_id(1);
	ok(strcmp(first, id2) == 0 && strcmp(second, id1) == 0,
	   "entries are newest first");
	is_str(ctext(child(root(), "entry", 1), "updated", 0), atom_time(t1),
	       "an entry's updated is its creation time, to the millisecond");
	is_str(ctext(root(), "updated", 0), atom_time(t1 + 60500),
	       "the feed's updated is the newest message's creation time");
	is_str(ctext(root(), "title", 0), "Queue f of project atomp",
	       "the feed has a title");
	is_str(text(child(root(), "link", 0), "rel"), "self",
	       "the feed has a self link");
	is_str(text(child(root(), "link", 0), "href"),
	       hh_fmt("%s/v2/queues/f/feed.atom", origin()),
	       "to the feed, absolute from the Host header");
	ok(strncmp(etag(), "\"", 1) == 0 && strlen(etag()) == 18,
	   "a feed with entries has a strong ETag: %s", etag());

	/* A long body's title is its beginning: 80 characters, then "…". */
	post1("long", hh_fmt("\"%s\"", "\u00e9abcdefghijklmnopqrstuvwxyz"
				     "abcdefghijklmnopqrstuvwxyz"
				     "abcdefghijklmnopqrstuvwxyz"
				     "abcdefghijklmnopqrstuvwxyz"));
	get_feed(&a, "/v2/queues/long/feed.atom", "a long body");
	is_str(ctext(child(root(), "entry", 0), "title", 0),
	       "\"\xc3\xa9" "abcdefghijklmnopqrstuvwxyz"
	       "abcdefghijklmnopqrstuvwxyz"
	       "abcdefghijklmnopqrstuvwxyz\xe2\x80\xa6",
	       "a long body's title is its first 80 characters and an "
	       "ellipsis");

	/* A project of any bytes stays one part of the URN. */
	{
		struct hh_client odd;

		hh_client_init(&odd, &srv, HH_CLIENT_A, "team:x/y z");
		hh_call(&odd, &r, "POST", "/v2/queues/f/messages",
			"{\"messages\": [{\"body\": 1}]}");
		get_feed(&odd, "/v2/queues/f/feed.atom", "an odd project");
		is_str(ctext(root(), "id", 0), "urn:herald:team%3Ax%2Fy%20z:f",
		       "the project is percent-encoded in the feed's id");
		is(entries(), 1, "and its feed has its own messages only");
		hh_client_close(&odd);
	}
}

static void claimed_and_delayed(void)
{
	hh_call(&b, &r, "POST", "/v2/queues/cl/messages",
		"{\"messages\": [{\"body\": 1}, {\"body\": 2}, {\"body\": 3}]}");
	hh_call(&b, &r, "POST", "/v2/queues/cl/claims?limit=2",
		"{\"ttl\": 300, \"grace\": 60}");
	is(r.status, 201, "two messages are claimed");
	get_feed(&a, "/v2/queues/cl/feed.atom", "claimed messages");
	is(entries(), 3, "claimed messages are in the feed too");

	hh_call(&b, &r, "PUT", "/v2/queues/dl", "{\"_default_message_delay\": 30}");
	is(r.status, 201, "a queue with delays");
	hh_call(&b, &r, "POST", "/v2/queues/dl/messages",
		"{\"messages\": [{\"body\": \"now\", \"delay\": 0}]}");
	hh_call(&b, &r, "POST", "/v2/queues/dl/messages",
		"{\"messages\": [{\"body\": \"later\", \"delay\": 60}]}");
	is(r.status, 201, "a delayed message is posted");
	get_feed(&a, "/v2/queues/dl/feed.atom", "a delayed message");
	is(entries(), 1, "a message not yet due is not in the feed");
	hh_clock_advance(&srv, 61000);
	get_feed(&a, "/v2/queues/dl/feed.atom", "a due message");
	is(entries(), 2, "once due, it is");
}

static void limits(void)
{
	char ids[45][64];
	const char *del;

	for (int i = 0; i < 45; i++)
		hh_copy(ids[i], sizeof(ids[i]),
			post1("lim", hh_fmt("{\"n\": %d}", i)));
	get_feed(&a, "/v2/queues/lim/feed.atom", "45 messages");
	is(entries(), 20, "the default limit is 20");
	is_str(entry_msg_id(0), ids[44], "the first entry is the newest");
	is_str(entry_msg_id(19), ids[25], "the last is the 20th newest");
	get_feed(&a, "/v2/queues/lim/feed.atom?limit=3", "limit=3");
	is(entries(), 3, "limit=3: three entries");
	is_str(entry_msg_id(2), ids[42], "the three newest");
	is_str(text(child(root(), "link", 0), "href"),
	       hh_fmt("%s/v2/queues/lim/feed.atom?limit=3", origin()),
	       "the self link keeps the limit");
	get_feed(&a, "/v2/queues/lim/feed.atom?limit=100", "limit=100");
	is(entries(), 45, "limit=100 (the maximum): all 45");

	hh_call(&a, &r, "GET", "/v2/queues/lim/feed.atom?limit=0", NULL);
	expect_error(&r, 400, "Invalid API request",
		     "Limit must be at least 1 and may not be greater than 100.",
		     "limit=0");
	hh_call(&a, &r, "GET", "/v2/queues/lim/feed.atom?limit=101", NULL);
	is(r.status, 400, "limit=101 is refused");
	hh_call(&a, &r, "GET", "/v2/queues/lim/feed.atom?limit=many", NULL);
	is(r.status, 400, "limit=many is refused");

	/* Holes: the 30 newest deleted, the feed reaches further back. */
	for (int i = 15; i < 45; i += 15) {
		del = hh_fmt("/v2/queues/lim/messages?ids=%s", ids[i]);
		for (int j = i + 1; j < i + 15; j++)
			del = hh_fmt("%s,%s", del, ids[j]);
		hh_call(&b, &r, "DELETE", del, NULL);
	}
	get_feed(&a, "/v2/queues/lim/feed.atom?limit=10", "after deletes");
	is(entries(), 10, "with the 30 newest deleted, still 10 entries");
	is_str(entry_msg_id(0), ids[14], "from the newest left");
	is_str(entry_msg_id(9), ids[5], "to the 10th newest left");
	get_feed(&a, "/v2/queues/lim/feed.atom?limit=20", "fewer than limit");
	is(entries(), 15, "15 left: all of them");
}

static void feed_etags(void)
{
	char tag[64], tag2[64];

	post1("et", "\"one\"");
	get_feed(&a, "/v2/queues/et/feed.atom", "etag");
	hh_copy(tag, sizeof(tag), etag());
	ok(tag[0] == '"', "the feed has an ETag: %s", tag);
	get_if(&a, "/v2/queues/et/feed.atom", tag);
	is(r.status, 304, "If-None-Match with it: 304 Not Modified");
	is(r.body_len, 0, "with no body");
	is_str(hh_header(&r, "etag"), tag, "and the ETag again");
	ok(hh_header(&r, "content-type") == NULL, "and no Content-Type");
	get_if(&a, "/v2/queues/et/feed.atom", hh_fmt("W/%s", tag));
	is(r.status, 304, "the weak form of the tag matches too");
	get_if(&a, "/v2/queues/et/feed.atom",
	       hh_fmt("\"nope\", W/\"other\",%s", tag));
	is(r.status, 304, "so does a list holding it");
	get_if(&a, "/v2/queues/et/feed.atom", "*");
	is(r.status, 304, "and *");
	get_if(&a, "/v2/queues/et/feed.atom", "\"0000000000000000\"");
	is(r.status, 200, "another tag: 200");
	get_if(&a, "/v2/queues/et/feed.atom", "garbage");
	is(r.status, 200, "a malformed If-None-Match: 200");
	hh_clock_advance(&srv, 1000);
	get_if(&a, "/v2/queues/et/feed.atom", tag);
	is(r.status, 304, "a second later, nothing new: still 304");
	hh_call(&b, &r, "POST", "/v2/queues/et/claims", "{\"ttl\": 60}");
	get_if(&a, "/v2/queues/et/feed.atom", tag);
	is(r.status, 304, "a claim changes nothing in the feed: 304");
	get_if(&a, "/v2/queues/et/feed.atom?limit=5", tag);
	is(r.status, 200, "another limit is another document: 200");

	post1("et", "\"two\"");
	get_if(&a, "/v2/queues/et/feed.atom", tag);
	is(r.status, 200, "after a post: 200");
	hh_copy(tag2, sizeof(tag2), etag());
	ok(tag2[0] && strcmp(tag, tag2) != 0, "with a new ETag");
	parse(&r);
	is(entries(), 2, "and the new entry");
	get_if(&a, "/v2/queues/et/feed.atom", tag2);
	is(r.status, 304, "which then gets 304");
}

static void list_etags(void)
{
	const char *path = "/v2/queues/le/messages?echo=true&include_claimed=true";
	char tag[64], tag2[64];
	long long age;

	hh_call(&a, &r, "GET", "/v2/queues/le/messages", NULL);
	ok(r.status == 200 && hh_header(&r, "etag"),
	   "an empty v2 listing has an ETag");
	hh_copy(tag, sizeof(tag), etag());
	get_if(&a, "/v2/queues/le/messages", tag);
	is(r.status, 304, "and matches it");

	post1("le", "{\"a\": 1}");
	post1("le", "{\"b\": 2}");
	hh_call(&a, &r, "GET", path, NULL);
	is(r.status, 200, "a listing of two messages");
	hh_copy(tag, sizeof(tag), etag());
	ok(tag[0] == '"' && strlen(tag) == 18, "has a strong ETag: %s", tag);
	age = hh_geti(r.json, "messages.0.age");
	hh_clock_advance(&srv, 1000);
	hh_call(&a, &r, "GET", path, NULL);
	is(hh_geti(r.json, "messages.0.age"), age + 1,
	   "a second later the ages moved");
	is_str(etag(), tag, "but the ETag did not");
	get_if(&a, path, tag);
	is(r.status, 304, "If-None-Match: 304");
	is(r.body_len, 0, "with no body");
	ok(hh_header(&r, "content-type") == NULL, "and no Content-Type");

	hh_call(&b, &r, "POST", "/v2/queues/le/claims?limit=1", "{\"ttl\": 60}");
	is(r.status, 201, "a message is claimed");
	get_if(&a, path, tag);
	is(r.status, 200, "a listing with include_claimed changes: 200");
	hh_copy(tag2, sizeof(tag2), etag());
	ok(strcmp(tag, tag2) != 0, "with a new ETag");
	ok(strstr(r.body, "claim_id=") != NULL, "showing the claim");

	post1("le", "{\"c\": 3}");
	get_if(&a, path, tag2);
	is(r.status, 200, "after a post: 200");
	is(hh_len(r.json, "messages"), 3, "with the new message");
	ok(strcmp(etag(), tag2) != 0, "and a new ETag");

	hh_call(&a, &r, "GET", "/v2/queues/le/messages?limit=1", NULL);
	hh_copy(tag2, sizeof(tag2), etag());
	get_if(&a, "/v2/queues/le/messages?limit=2", tag2);
	is(r.status, 200, "another page is another ETag");

	hh_call(&a, &r, "GET", "/v1.1/queues/le/messages?echo=true", NULL);
	ok(r.status == 200 && !hh_header(&r, "etag"),
	   "v1.1 listings have no ETag (a v2 extension)");
}

/* Sends a GET on c without reading its answer. */
static void send_held(struct hh_client *c, const char *path, const char *tag)
{
	const char *req = hh_fmt("GET %s HTTP/1.1\r\nHost: t\r\nClient-ID: %s\r\n"
				 "X-Project-Id: %s\r\nIf-None-Match: %s\r\n\r\n",
				 path, c->client_id, c->project, tag);

	if (hh_send(c, req, strlen(req)) != 0)
		bail_out("cannot send GET %s", path);
}

static void long_poll(void)
{
	const char *path = "/v2/queues/lp/messages?echo=true&wait=20";
	struct hh_client held;
	char tag[64];
	struct timespec t0, t1;

	post1("lp", "\"first\"");
	hh_call(&a, &r, "GET", path, NULL);
	is(r.status, 200, "a long-poll with messages answers at once");
	hh_copy(tag, sizeof(tag), etag());

	hh_client_init(&held, &srv, HH_CLIENT_A, "atomp");
	held.timeout_ms = 25000;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	send_held(&held, path, tag);
	usleep(300 * 1000);
	post1("lp", "\"second\"");
	is(hh_recv(&held, &r, false), 200,
	   "with If-None-Match of its page it waits, and a post answers it");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ok(t1.tv_sec - t0.tv_sec < 5, "at once, not at the end of the wait");
	is(hh_len(r.json, "messages"), 2, "with both messages");
	ok(strcmp(etag(), tag) != 0, "and a new ETag");

	hh_copy(tag, sizeof(tag), etag());
	get_if(&a, "/v2/queues/lp/messages?echo=true&wait=1", tag);
	is(r.status, 304, "when the wait ends with nothing new: 304");
	hh_client_close(&held);
}

/* A feed reader sends no Client-ID or project headers, and asks for Atom. */
static void feed_reader(void)
{
	struct hh_client reader;

	hh_client_init(&reader, &srv, NULL, NULL);
	hh_callh(&reader, &r, "GET",
		 "/v2/queues/f/feed.atom?client_id=" HH_CLIENT_A "&project_id=atomp",
		 "Accept: application/atom+xml\r\n", NULL);
	is(r.status, 200, "a feed reader without headers, identified by the query");
	ok(parse(&r) && is_atom(root(), "feed"), "gets the feed as Atom");
	hh_callh(&reader, &r, "GET", "/v2/queues/f/feed.atom",
		 "Accept: application/atom+xml\r\n", NULL);
	is(r.status, 400, "without any Client-ID the feed is refused, as every v2 route");
	hh_callh(&reader, &r, "GET",
		 "/v2/queues/f/messages?client_id=" HH_CLIENT_A "&project_id=atomp",
		 NULL, NULL);
	is(r.status, 400, "the query does not stand in for headers on other routes");
	hh_client_close(&reader);
}

/* ------------------------------------------------ alerts, URLs, paging */

#define ALERT                                                                  \
	"{\"title\": \"Disk full on db1\", \"link\": "                         \
	"\"https://example.org/a/1\", \"summary\": \"sda1 at 99% & rising\", " \
	"\"author\": \"ops\", \"updated\": \"2026-11-20T10:00:00+01:00\", "    \
	"\"tags\": [\"disk\", \"db\"], \"severity\": 2}"

/* An alert-shaped body becomes the entry's fields. */
static void alert_entries(void)
{
	xmlNode *e;

	post1("al", ALERT);
	post1("al", "{\"title\": \"t2\", \"url\": \"ftp://x/y\", "
		    "\"description\": \"d2\", \"content\": \"c2\", "
		    "\"category\": \"one\", \"guid\": \"tag:example.org,2026:7\", "
		    "\"published\": \"not a date\"}");
	get_feed(&a, "/v2/queues/al/feed.atom", "alert bodies");
	e = child(root(), "entry", 1);
	is_str(ctext(e, "title", 0), "Disk full on db1", "title <- title");
	is_str(text(child(e, "link", 0), "href"), "https://example.org/a/1",
	       "the alternate link <- link");
	is_str(text(child(e, "link", 1), "rel"), "related",
	       "and the message is a related link");
	is_str(ctext(e, "summary", 0), "sda1 at 99% & rising",
	       "summary <- summary");
	is(count(e, "content"), 0, "no content: the summary stands in");
	is_str(ctext(child(e, "author", 0), "name", 0), "ops", "author <- author");
	is_str(ctext(e, "updated", 0), "2026-11-20T09:00:00.000Z",
	       "updated <- updated, its offset applied");
	is(count(e, "category"), 2, "tags become categories");
	is_str(text(child(e, "category", 1), "term"), "db", "in their order");
	ok(strncmp(ctext(e, "id", 0), "urn:herald:atomp:al:", 20) == 0,
	   "no id in the body: the message's urn");
	e = child(root(), "entry", 0);
	is_str(ctext(e, "summary", 0), "d2", "summary <- description");
	is_str(ctext(e, "content", 0), "c2", "content <- content");
	is_str(text(child(e, "content", 0), "type"), "text", "as text");
	ok(strstr(text(child(e, "link", 0), "href"), "/v2/queues/al/messages/"),
	   "a link that is not http(s) is not used: the message's URL");
	is_str(ctext(e, "id", 0), "tag:example.org,2026:7",
	       "id <- guid when it is an IRI");
	is_str(text(child(e, "category", 0), "term"), "one",
	       "category (a string) is one category");
	is_str(ctext(e, "updated", 0), ctext(e, "published", 0),
	       "a date that does not parse: the creation time");
}

/* _feed_fields maps other body keys, and is checked. */
static void feed_fields_meta(void)
{
	xmlNode *e;

	hh_call(&b, &r, "PUT", "/v2/queues/ff",
		"{\"_feed_fields\": {\"title\": \"subject\", \"link\": \"href\"}}");
	is(r.status, 201, "a queue with _feed_fields");
	post1("ff", "{\"subject\": \"Mapped\", \"title\": \"not this\", "
		    "\"href\": \"https://example.org/m\"}");
	get_feed(&a, "/v2/queues/ff/feed.atom", "mapped fields");
	e = child(root(), "entry", 0);
	is_str(ctext(e, "title", 0), "Mapped", "title <- subject, as mapped");
	is_str(text(child(e, "link", 0), "href"), "https://example.org/m",
	       "link <- href, as mapped");

	hh_call(&b, &r, "PUT", "/v2/queues/ff2", "{\"_feed_fields\": \"title\"}");
	expect_error(&r, 400, "Invalid API request",
		     "_feed_fields must be an object mapping entry fields "
		     "(title, link, summary, content, author, updated, id, "
		     "categories) to body keys.", "_feed_fields not an object");
	hh_call(&b, &r, "PUT", "/v2/queues/ff2",
		"{\"_feed_fields\": {\"colour\": \"c\"}}");
	expect_error(&r, 400, "Invalid API request",
		     "_feed_fields: \"colour\" is not an entry field; the "
		     "fields are title, link, summary, content, author, "
		     "updated, id, categories.", "an unknown entry field");
	hh_call(&b, &r, "PUT", "/v2/queues/ff2",
		"{\"_feed_fields\": {\"title\": 3}}");
	expect_error(&r, 400, "Invalid API request",
		     "_feed_fields: the body key of \"title\" must be a "
		     "non-empty string.", "a body key that is no string");
	hh_callh(&b, &r, "PATCH", "/v2/queues/ff",
		 "Content-Type: application/openstack-messaging-v2.0-json-patch\r\n",
		 "[{\"op\": \"add\", \"path\": \"/metadata/_feed_fields\", "
		 "\"value\": []}]");
	is(r.status, 400, "a PATCH is checked too");
}

/* Links from the Host header; forwarded headers not trusted by default. */
static void untrusted_forwarded(void)
{
	hh_callh(&a, &r, "GET", "/v2/queues/al/feed.atom",
		 "X-Forwarded-Proto: https\r\nX-Forwarded-Host: evil.example\r\n"
		 "Forwarded: proto=https;host=evil.example\r\n", NULL);
	parse(&r);
	is_str(text(child(root(), "link", 0), "href"),
	       hh_fmt("%s/v2/queues/al/feed.atom", origin()),
	       "forwarded headers are ignored unless trust-forwarded is on");
	hh_callh(&a, &r, "GET", "/v2/queues/al/feed.atom",
		 "Host: \"><x\r\n", NULL);
	ok(parse(&r) && strstr(r.body, "<x") == NULL,
	   "a Host that is no host is not used");
}

/* The path and query of an absolute URL (static copy). */
static const char *path_of(const char *url)
{
	const char *p = strstr(url, "://");

	p = p ? strchr(p + 3, '/') : url;
	return hh_fmt("%s", p ? p : "");
}

static const char *next_link(void)
{
	for (int i = 0; child(root(), "link", i); i++)
		if (!strcmp(text(child(root(), "link", i), "rel"), "next"))
			return text(child(root(), "link", i), "href");
	return NULL;
}

/* Walking next links shows each message once, newest first. */
static void paging(void)
{
	char ids[25][64];
	const char *next, *path = "/v2/queues/pg/feed.atom?limit=7";
	int seen = 0, pages = 0;
	bool in_order = true;

	for (int i = 0; i < 25; i++)
		hh_copy(ids[i], sizeof(ids[i]),
			post1("pg", hh_fmt("{\"title\": \"n%d\"}", i)));
	hh_call(&b, &r, "DELETE", hh_fmt("/v2/queues/pg/messages?ids=%s,%s",
					  ids[20], ids[3]), NULL);
	while (path && pages < 10) {
		get_feed(&a, path, hh_fmt("page %d", pages));
		for (int i = 0; i < entries(); i++, seen++) {
			int want = 24 - seen - (seen >= 4) - (seen >= 20);

			in_order &= want >= 0 && !strcmp(entry_msg_id(i), ids[want]);
		}
		next = next_link();
		if (next && pages == 0)
			ok(strstr(next, "limit=7") && strstr(next, "before="),
			   "the next link keeps the limit: %s", next);
		path = next ? path_of(next) : NULL;
		pages++;
	}
	is(seen, 23, "the pages show all 23 messages");
	ok(in_order, "each once, newest first, no gap");
	is(pages, 4, "in four pages of 7, the last with no next link");

	hh_call(&a, &r, "GET", "/v2/queues/pg/feed.atom?before=zzz", NULL);
	expect_error(&r, 400, "Invalid API request",
		     "before must be a message id, as a feed's next link "
		     "gives it.", "a malformed before");
	hh_call(&a, &r, "GET", "/v2/queues/pg/feed.json?limit=7", NULL);
	ok(hh_gets(r.json, "next_url") &&
		   strstr(hh_gets(r.json, "next_url"), "before="),
	   "JSON Feed: next_url");
	hh_call(&a, &r, "GET", "/v2/queues/pg/feed.rss?limit=7", NULL);
	ok(strstr(r.body, "<atom:link rel=\"next\"") != NULL,
	   "RSS: an atom:link rel=next");
}

/* Last-Modified and If-Modified-Since; Cache-Control. */
static void modified_since(void)
{
	char lm[64];

	post1("ims", "\"x\"");
	hh_call(&a, &r, "GET", "/v2/queues/ims/feed.atom", NULL);
	is_str(hh_header(&r, "cache-control"), "max-age=30",
	       "Cache-Control: max-age=30");
	hh_copy(lm, sizeof(lm), hh_header(&r, "last-modified"));
	ok(strlen(lm) == 29 && strstr(lm, " GMT"), "Last-Modified: %s", lm);
	hh_clock_advance(&srv, 5000);
	hh_callh(&a, &r, "GET", "/v2/queues/ims/feed.atom",
		 hh_fmt("If-Modified-Since: %s\r\n", lm), NULL);
	is(r.status, 304, "If-Modified-Since: Last-Modified gives 304");
	is_str(hh_header(&r, "cache-control"), "max-age=30", "with Cache-Control");
	hh_callh(&a, &r, "GET", "/v2/queues/ims/feed.atom",
		 "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n", NULL);
	is(r.status, 200, "an older date: 200");
	hh_callh(&a, &r, "GET", "/v2/queues/ims/feed.atom",
		 hh_fmt("If-Modified-Since: %s\r\nIf-None-Match: \"0\"\r\n", lm),
		 NULL);
	is(r.status, 200, "If-None-Match wins over If-Modified-Since");
	post1("ims", "\"y\"");
	hh_callh(&a, &r, "GET", "/v2/queues/ims/feed.atom",
		 hh_fmt("If-Modified-Since: %s\r\n", lm), NULL);
	is(r.status, 200, "after a post: 200");
}

static bool is_rss(const xmlNode *n, const char *name)
{
	return n && n->type == XML_ELEMENT_NODE && !n->ns &&
	       strcmp((const char *)n->name, name) == 0;
}

static xmlNode *rss_child(const xmlNode *parent, const char *name, int i)
{
	for (xmlNode *n = parent ? parent->children : NULL; n; n = n->next)
		if (is_rss(n, name) && i-- == 0)
			return n;
	return NULL;
}

/* RSS 2.0 and JSON Feed of the same entries. */
static void other_formats(void)
{
	xmlNode *ch, *it;

	hh_call(&a, &r, "GET", "/v2/queues/al/feed.rss", NULL);
	is(r.status, 200, "feed.rss is 200");
	is_str(hh_header(&r, "content-type"), "application/rss+xml",
	       "as application/rss+xml");
	ok(parse(&r) && is_rss(xmlDocGetRootElement(doc), "rss"),
	   "well-formed XML with an <rss> root");
	ch = rss_child(xmlDocGetRootElement(doc), "channel", 0);
	ok(rss_child(ch, "title", 0) && rss_child(ch, "link", 0) &&
		   rss_child(ch, "description", 0),
	   "the channel has a title, link and description");
	it = rss_child(ch, "item", 1);
	is_str(text(rss_child(it, "title", 0), NULL), "Disk full on db1",
	       "an item's title");
	is_str(text(rss_child(it, "link", 0), NULL), "https://example.org/a/1",
	       "its link");
	is_str(text(rss_child(it, "guid", 0), "isPermaLink"), "false",
	       "a urn guid is no permalink");
	is_str(text(rss_child(it, "pubDate", 0), NULL),
	       "Fri, 20 Nov 2026 09:00:00 GMT", "pubDate in RFC 822");
	is_str(text(rss_child(it, "category", 1), NULL), "db", "categories");
	hh_call(&a, &r, "GET", "/v2/queues/esc/feed.rss", NULL);
	ok(parse(&r) != NULL, "tricky bodies: RSS is well-formed");

	hh_call(&a, &r, "GET", "/v2/queues/al/feed.json", NULL);
	is_str(hh_header(&r, "content-type"), "application/feed+json",
	       "feed.json is application/feed+json");
	is_str(hh_gets(r.json, "version"), "https://jsonfeed.org/version/1.1",
	       "JSON Feed 1.1");
	is_str(hh_gets(r.json, "items.1.url"), "https://example.org/a/1",
	       "an item's url");
	is_str(hh_gets(r.json, "items.1.tags.0"), "disk", "its tags");
	is_str(hh_gets(r.json, "feed_url"),
	       hh_fmt("%s/v2/queues/al/feed.json", origin()), "feed_url");
	hh_callh(&a, &r, "GET", "/v2/queues/al/feed.json",
		 "Accept: application/feed+json\r\n", NULL);
	is(r.status, 200, "Accept: application/feed+json is served");
	hh_callh(&a, &r, "GET", "/v2/queues/al/feed.rss",
		 "Accept: application/rss+xml\r\n", NULL);
	is(r.status, 200, "Accept: application/rss+xml is served");
	hh_callh(&a, &r, "GET", "/v2/queues/al/feed.rss",
		 "Accept: image/png\r\n", NULL);
	is(r.status, 406, "another type is 406");
}

/* Stops a second server (hh_finish() is the program's end, once). */
static void stop_other(struct hh_server *s)
{
	is(hh_discard(s), 0, "the other server exits 0");
}

/* A server with public-url, another trusting forwarded headers. */
static void configured_origins(void)
{
	static const char *const pub[] = {"--public-url",
					  "https://hub.example.org/", NULL};
	static const char *const trust[] = {"--trust-forwarded", "true", NULL};
	/* static: hh_start() keeps a pointer to it for its exit handler */
	static struct hh_server s2;
	struct hh_client c;

	hh_start(&s2, pub);
	hh_client_init(&c, &s2, HH_CLIENT_A, "p");
	hh_callh(&c, &r, "GET", "/v2/queues/q/feed.atom",
		 "X-Forwarded-Host: other.example\r\n", NULL);
	parse(&r);
	is_str(text(child(root(), "link", 0), "href"),
	       "https://hub.example.org/v2/queues/q/feed.atom",
	       "public-url makes the links, whatever the request says");
	hh_client_close(&c);
	stop_other(&s2);

	hh_start(&s2, trust);
	hh_client_init(&c, &s2, HH_CLIENT_A, "p");
	hh_callh(&c, &r, "GET", "/v2/queues/q/feed.atom",
		 "X-Forwarded-Proto: https\r\nX-Forwarded-Host: px.example\r\n",
		 NULL);
	parse(&r);
	is_str(text(child(root(), "link", 0), "href"),
	       "https://px.example/v2/queues/q/feed.atom",
	       "trusted: X-Forwarded-Proto and X-Forwarded-Host");
	hh_callh(&c, &r, "GET", "/v2/queues/q/feed.atom",
		 "Forwarded: for=1.2.3.4;proto=https;host=\"fw.example:8443\", "
		 "proto=http\r\nX-Forwarded-Host: px.example\r\n", NULL);
	parse(&r);
	is_str(text(child(root(), "link", 0), "href"),
	       "https://fw.example:8443/v2/queues/q/feed.atom",
	       "trusted: RFC 7239 Forwarded, its first element, wins");
	hh_callh(&c, &r, "GET", "/v2/queues/q/feed.atom",
		 "X-Forwarded-Proto: gopher\r\n", NULL);
	parse(&r);
	is_str(text(child(root(), "link", 0), "href"),
	       hh_fmt("http://127.0.0.1:%d/v2/queues/q/feed.atom", s2.port),
	       "a proto other than http(s) is ignored");
	hh_client_close(&c);
	stop_other(&s2);
}

int main(void)
{
	hh_watchdog(120);
	hh_start(&srv, NULL);
	hh_client_init(&a, &srv, HH_CLIENT_A, "atomp");
	hh_client_init(&b, &srv, HH_CLIENT_B, "atomp");

	empty_feed();
	escaping();
	feed_fields();
	claimed_and_delayed();
	limits();
	feed_etags();
	list_etags();
	long_poll();
	feed_reader();
	alert_entries();
	feed_fields_meta();
	untrusted_forwarded();
	paging();
	modified_since();
	other_formats();

	hh_call(&a, &r, "GET", "/v1.1/queues/f/feed.atom", NULL);
	is(r.status, 404, "the feed is a v2 route");

	configured_origins();

	xmlFreeDoc(doc);
	xmlCleanupParser();
	hh_resp_free(&r);
	hh_client_close(&a);
	hh_client_close(&b);
	return hh_finish(&srv);
}

#endif /* HERALD_NO_LIBXML2 */
