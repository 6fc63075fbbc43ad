/*
 * fuzz_ws_action.c - libFuzzer target: a WebSocket action frame, as ws.c
 * queues it (the frame decoded as JSON; action, body and headers taken
 * into the echoed request) and ws_actions.c checks it
 * (hub_ws_action_check: verb, headers, schema, names, and for a routed
 * one the built request), then the built request's route lookup. No
 * connection and no storage: what the checks send on to a handler is as
 * far as it goes.
 */
#include <jansson.h>
#include <stdint.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "route.h"
#include "transport/ws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static struct hub_config cfg;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	hub_config_defaults(&cfg);
	hub_log_set_level(HUB_LOG_ERROR);
	return 0;
}

static void ready(struct hub_ws_action *a)
{
	a->ready = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *doc = json_loadb((const char *)data, size, 0, NULL);
	json_t *action, *body, *headers;
	struct hub_ws_action a;
	struct hub_route_match m;

	if (!json_is_object(doc)) {
		json_decref(doc);
		return 0;
	}
	memset(&a, 0, sizeof(a));
	a.ready_fn = ready;
	a.pub.cfg = &cfg;
	a.pub.project = "";
	a.pub.content_type = "";
	a.pub.prefix = "";
	/* As ws.c's action_queue() takes a frame. */
	action = json_object_get(doc, "action");
	body = json_object_get(doc, "body");
	headers = json_object_get(doc, "headers");
	a.request = json_pack("{s:O?, s:o, s:o, s:s}", "action", action,
			      "body", body ? json_incref(body) : json_object(),
			      "headers",
			      headers ? json_incref(headers) : json_object(),
			      "api", "v2");
	json_decref(doc);
	if (!a.request)
		return 0;
	a.body = json_object_get(a.request, "body");
	if (json_is_string(action) && json_is_object(a.body) &&
	    json_is_object(json_object_get(a.request, "headers")) &&
	    hub_ws_action_check(&a) == HUB_WS_CHECK_ROUTE && a.pub.path)
		hub_route_lookup(a.pub.method, a.pub.path, &m);
	hub_ws_action_clear(&a);
	return 0;
}
