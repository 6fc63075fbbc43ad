/*
 * backup.c - `herald backup TARGET`: a hot, compacted copy of the server's
 * data directory into the empty directory TARGET, while the server runs.
 *
 * It finds the data directory the way `herald serve` does (the same
 * settings: --data, --config FILE, HERALD_CONFIG, HERALD_DATA), so an
 * operator names the server's config and nothing else. The copy is made in
 * this process by feed_backup() (feed.h, feed/backup.c says why that is
 * safe beside the running server); the server is not asked anything, so it
 * needs no admin endpoint and its own writes never wait on the copy.
 *
 * Exit status: 0 done, 1 the copy failed, 2 bad command line or a target
 * that cannot take a backup (missing, not a directory, not empty) or a
 * data directory that holds no data.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "cli.h"
#include "feed.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: herald backup [SETTINGS] TARGET\n\n"
		"Writes a compacted, consistent copy of the server's data into "
		"TARGET,\nan existing empty directory, while the server goes on "
		"serving. Every\nwrite acknowledged before the backup began is in "
		"it. Run it as the\nserver's user (or root): it opens the data "
		"directory's lock file.\n\n"
		"  SETTINGS  those of herald serve that name the data directory:\n"
		"            --data DIR, --config FILE (also HERALD_DATA,\n"
		"            HERALD_CONFIG); others are accepted and ignored\n"
		"  -h, --help  this text\n\n"
		"Restore: stop the server, move its data directory aside, put "
		"TARGET's\ndata.mdb in its place (no lock.mdb), start it: see "
		"docs/operations.md.\n\n"
		"exit status: 0 done, 1 the copy failed, 2 usage, bad TARGET or no "
		"data\n");
}

/* Says why feed_backup() refused; returns the exit status. */
static int refused(int rc, const char *data, const char *target)
{
	int err = errno;

	switch (rc) {
	case FEED_EINVAL:
		fprintf(stderr, "herald backup: cannot back up into %s: %s "
			"(TARGET must be an existing empty directory)\n",
			target, strerror(err));
		return CLI_USAGE;
	case FEED_EEXISTS:
		fprintf(stderr, "herald backup: cannot back up into %s: it is "
			"not empty (a backup goes into a new, empty "
			"directory)\n", target);
		return CLI_USAGE;
	case FEED_ENOTFOUND:
		fprintf(stderr, "herald backup: %s holds no Herald data (no "
			"data.mdb): is it the server's data directory?\n",
			data);
		return CLI_USAGE;
	default:
		fprintf(stderr, "herald backup: copying %s to %s failed: %s "
			"(%s)\n", data, target, feed_strerror(rc),
			strerror(err));
		return CLI_REFUSED;
	}
}

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int hub_cli_backup(int argc, char **argv)
{
	struct hub_config cfg;
	feed_backup_info_t info;
	const char *target;
	long long t0;
	int rc;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return CLI_OK;
		}
	}
	if (argc < 2 || !strncmp(argv[argc - 1], "--", 2)) {
		usage(stderr);
		return CLI_USAGE;
	}
	target = argv[argc - 1];
	hub_config_defaults(&cfg);
	if (hub_config_load(&cfg, argc - 2, argv + 1))
		return CLI_USAGE;
	t0 = mono_ms();
	rc = feed_backup(cfg.data_dir, target, &info);
	if (rc)
		return refused(rc, cfg.data_dir, target);
	printf("backed up %s (%llu bytes) to %s: %llu bytes, compacted, in "
	       "%lld ms\n", cfg.data_dir,
	       (unsigned long long)info.source_bytes, target,
	       (unsigned long long)info.backup_bytes, mono_ms() - t0);
	return CLI_OK;
}
