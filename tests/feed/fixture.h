/*
 * fixture.h - shared helpers for feed's tests: temporary directories and a
 * fixed client id. Every test uses its own directory under $TMPDIR and
 * removes it at the end.
 */
#ifndef HERALD_TEST_FIXTURE_H
#define HERALD_TEST_FIXTURE_H

#include <stdint.h>

#include "feed.h"

/* A new empty directory; bails out on failure. Returns a static buffer
 * owned by the fixture (valid until fixture_rmdir). */
const char *fixture_mkdir(void);
/* Removes the directory made by fixture_mkdir and everything in it. */
void fixture_rmdir(const char *dir);
/* Opens a feed in a fresh directory with `opts` (may be NULL); bails out on
 * failure. */
feed_t *fixture_open(const char **dir_out, const feed_options_t *opts);
/* One TAP point: feed_debug_check() finds every index invariant holding
 * ("index invariants hold <what>"); the first violation as a diagnostic. */
void fixture_check(feed_t *feed, const char *what);
/* Deletes the first entry of LMDB database `db` of the (closed) feed in
 * dir, through LMDB directly: damage for feed_debug_check() to find. */
void fixture_drop_first(const char *dir, const char *db);
/* Fills `id` with a client id made from `n` (distinct n, distinct ids). */
void fixture_client(uint8_t id[16], unsigned n);

#endif
