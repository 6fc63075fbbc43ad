/*
 * test_cors.c - --cors-origins through the real server: preflights
 * (answered before auth), CORS headers on answers, and the Origin check
 * of WebSocket upgrades and event streams.
 */
#include <string.h>

#include "harness.h"
#include "wsc.h"

#define APP "https://app.example"
#define EVIL "https://evil.example"

static const char *upgrade(const char *origin)
{
	return hh_fmt("Upgrade: websocket\r\nConnection: Upgrade\r\n"
		      "Sec-WebSocket-Version: 13\r\n"
		      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
		      "Origin: %s\r\n", origin);
}

int main(void)
{
	struct hh_server srv;
	struct hh_client c;
	struct hh_resp r = HH_RESP_INIT;
	struct wsc w;

	/* tokens: a preflight must pass without any credential. */
	hh_start(&srv, (const char *[]){"--cors-origins", APP ", https://b.example",
					NULL});
	hh_client_init(&c, &srv, HH_CLIENT_A, "cors");

	hh_callh(&c, &r, "OPTIONS", "/v2/queues/q/messages",
		 "Origin: " APP "\r\nAccess-Control-Request-Method: POST\r\n"
		 "Access-Control-Request-Headers: authorization, client-id\r\n",
		 NULL);
	is(r.status, 204, "a preflight from a listed origin: 204");
	is_str(hh_header(&r, "Access-Control-Allow-Origin"), APP,
	       "... allows that origin");
	ok(hh_header_has(&r, "Access-Control-Allow-Headers", "Authorization") &&
		   hh_header_has(&r, "Access-Control-Allow-Headers", "X-Project-Id") &&
		   hh_header_has(&r, "Access-Control-Allow-Headers", "URL-Signature"),
	   "... and the API's headers (Authorization, X-Project-Id, URL-*)");
	ok(hh_header_has(&r, "Access-Control-Allow-Methods", "DELETE"),
	   "... and its methods");
	ok(hh_header(&r, "Access-Control-Max-Age") != NULL, "... with a Max-Age");

	hh_callh(&c, &r, "OPTIONS", "/v2/queues/q/messages",
		 "Origin: " EVIL "\r\nAccess-Control-Request-Method: POST\r\n",
		 NULL);
	expect_4xx(&r, 403, "a preflight from another origin");
	ok(!hh_header(&r, "Access-Control-Allow-Origin"),
	   "... carries no Access-Control-Allow-Origin");

	hh_callh(&c, &r, "POST", "/v2/queues/q/messages", "Origin: " APP "\r\n",
		 "{\"messages\": [{\"ttl\": 300, \"body\": 1}]}");
	is(r.status, 201, "a post from a listed origin is served");
	is_str(hh_header(&r, "Access-Control-Allow-Origin"), APP,
	       "... with Access-Control-Allow-Origin");
	ok(hh_header_has(&r, "Vary", "Origin"), "... and Vary: Origin");
	ok(hh_header_has(&r, "Access-Control-Expose-Headers", "Location"),
	   "... exposing Location to the page");
	hh_callh(&c, &r, "GET", "/v2/queues/q/messages?echo=true",
		 "Origin: " EVIL "\r\n", NULL);
	ok(r.status == 200 && !hh_header(&r, "Access-Control-Allow-Origin"),
	   "an answer to another origin carries no CORS headers (the browser "
	   "keeps it from the page)");
	hh_call(&c, &r, "GET", "/v2/queues/q/messages?echo=true", NULL);
	ok(r.status == 200 && !hh_header(&r, "Access-Control-Allow-Origin"),
	   "no Origin: no CORS headers");

	hh_callh(&c, &r, "GET", "/v2/ws", upgrade(EVIL), NULL);
	ok(r.status != 101, "a WebSocket upgrade of /v2/ws from another "
	   "origin is refused (status %d)", r.status);
	hh_client_close(&c);
	hh_client_init(&c, &srv, HH_CLIENT_A, "cors");
	hh_callh(&c, &r, "GET", "/v2/queues/q/stream", upgrade(EVIL), NULL);
	expect_4xx(&r, 403, "the stream URL's upgrade from another origin");
	hh_client_close(&c);
	hh_client_init(&c, &srv, HH_CLIENT_A, "cors");
	hh_callh(&c, &r, "GET", "/v2/queues/q/events?client_id=" HH_CLIENT_A
		 "&project_id=cors", "Origin: " EVIL "\r\n", NULL);
	expect_4xx(&r, 403, "an event stream opened from another origin");
	hh_client_close(&c);
	hh_client_init(&c, &srv, HH_CLIENT_A, "cors");

	ok(wsc_open(&w, &srv, "/v2/ws", NULL) && w.status == 101,
	   "a WebSocket upgrade without Origin (no browser) is served");
	wsc_close(&w);

	hh_resp_free(&r);
	hh_client_close(&c);
	return hh_finish(&srv);
}
