/*
 * main.c - the `herald` command: dispatches to its subcommands.
 */
#include <jansson.h>
#include <libwebsockets.h>

#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "config.h"
#include "server.h"
#include "transport/nats.h"
#include "transport/hclient.h"
#include "transport/http.h"
#include "transport/webhook.h"
#include "transport/ws.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: herald COMMAND [OPTIONS]\n\n"
		"Herald, a notification hub with the OpenStack Zaqar / Cloud "
		"Queues API.\n\n"
		"commands:\n"
		"  serve      run the server (herald serve --help for every "
		"setting)\n"
		"  post       post messages to a queue\n"
		"  tail       print a queue's messages; --follow waits for more\n"
		"  claim      claim messages (and --delete them)\n"
		"  stats      a queue's stats, or every queue's\n"
		"  queues     list the queues\n"
		"  backup     copy the data directory while the server runs\n"
		"  token      hash a token for the token file (token hash), or "
		"make one\n             (token new PROJECT ROLES [PATTERN...])\n"
		"  cluster    a cluster's shard map and HAProxy configuration "
		"(cluster map,\n             cluster haproxy-config, cluster "
		"shard NAME)\n"
		"  (herald COMMAND --help for its options; the client commands "
		"talk to\n   $HERALD_URL, default http://127.0.0.1:8888)\n\n"
		"  --help     this text\n"
		"  --version  print the version\n");
}

int main(int argc, char **argv)
{
	struct hub_config cfg;
	int rc;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("herald %s (libwebsockets %s, %s, jansson %s)\n",
		       HUB_VERSION_STRING, lws_get_library_version(),
		       feed_version(), JANSSON_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "serve") == 0) {
		hub_config_defaults(&cfg);
		rc = hub_config_load(&cfg, argc - 2, argv + 2);
		if (rc)
			return rc < 0 ? 2 : 0;
		hub_log_set_level(cfg.log_level);
		return hub_server_run(&cfg, &(struct hub_server_transports){
					      .http = &hub_http_protocol,
					      .http_fallback =
						      &hub_http_fallback_protocol,
					      .ws = &hub_ws_protocol,
					      .webhook = &hub_webhook_protocol,
					      .webhook_post = hub_webhook_post,
					      .hclient = &hub_hclient_protocol,
					      .hclient_start = hub_hclient_start,
					      .hclient_cancel =
						      hub_hclient_cancel,
					      .bus = &hub_bus_protocol,
					      .bus_start = hub_bus_start,
					      .bus_end = hub_bus_end});
	}
	if (strcmp(argv[1], "backup") == 0)
		return hub_cli_backup(argc - 1, argv + 1);
	if (strcmp(argv[1], "token") == 0)
		return hub_cli_token(argc - 1, argv + 1);
	if (strcmp(argv[1], "cluster") == 0)
		return hub_cli_cluster(argc - 1, argv + 1);
	if (hub_cli_is_command(argv[1]))
		return hub_cli_main(argc - 1, argv + 1);
	fprintf(stderr, "herald: unknown command \"%s\"\n\n", argv[1]);
	usage(stderr);
	return 2;
}
