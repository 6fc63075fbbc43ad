/*
 * web.c - the dashboard's files: GET / for a browser, GET /dashboard/NAME.
 *
 * The dashboard is static files (web/: HTML, CSS, ES modules; no build
 * step) that speak only the public API. GET / stays Zaqar's versions
 * document for API clients; a browser, which asks for text/html, gets the
 * dashboard's index.html there instead. Its other files are under
 * /dashboard/, one path segment each, read from the web directory:
 *
 *   --web-dir (setting)  >  the installed copy (HERALD_WEB_DIR, from
 *   meson's datadir)  >  the source tree's web/ (running from a build)
 *
 * Files are small and read per request (the page cache keeps them);
 * answers carry a strict Content-Security-Policy: everything from this
 * origin, WebSocket connections back to it, no inline code.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "config.h"
#include "req.h"
#include "api/api.h"

#define FILE_MAX (4u << 20)

static const struct {
	const char *ext, *type;
} types[] = {
	{".html", "text/html; charset=utf-8"},
	{".js", "text/javascript; charset=utf-8"},
	{".css", "text/css; charset=utf-8"},
	{".svg", "image/svg+xml"},
	{".png", "image/png"},
	{".ico", "image/x-icon"},
	{".json", "application/json"},
};

static const char *type_of(const char *name)
{
	size_t n = strlen(name);

	for (size_t i = 0; i < sizeof(types) / sizeof(*types); i++) {
		size_t e = strlen(types[i].ext);

		if (n > e && strcmp(name + n - e, types[i].ext) == 0)
			return types[i].type;
	}
	return NULL;
}

static bool dir_has_index(const char *dir)
{
	char path[PATH_MAX];
	struct stat st;

	snprintf(path, sizeof(path), "%s/index.html", dir);
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The directory the dashboard is served from; NULL when there is none. */
static const char *web_dir(const struct hub_config *cfg)
{
	if (cfg->web_dir[0])
		return cfg->web_dir;
	if (dir_has_index(HERALD_WEB_DIR))
		return HERALD_WEB_DIR;
	if (dir_has_index(HERALD_WEB_SOURCE_DIR))
		return HERALD_WEB_SOURCE_DIR;
	return NULL;
}

/* Reads `name` from the web directory and replies with it. */
static void send_file(struct hub_req *r, const char *name)
{
	const char *dir = web_dir(r->cfg), *type = type_of(name);
	char path[PATH_MAX], *data = NULL;
	size_t len = 0;
	FILE *f = NULL;

	if (!dir || !type ||
	    (size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >=
		    sizeof(path))
		goto missing;
	f = fopen(path, "rb");
	if (!f)
		goto missing;
	data = malloc(FILE_MAX);
	if (data)
		len = fread(data, 1, FILE_MAX, f);
	if (!data || ferror(f) || !feof(f)) {
		hub_log(HUB_LOG_ERROR, "dashboard file %s: cannot read it whole",
			path);
		hub_reply_error(r, 500, "Internal server error",
				"The dashboard file could not be read.");
		goto out;
	}
	hub_header(r, "Content-Security-Policy",
		   "default-src 'self'; connect-src 'self' ws: wss:; "
		   "img-src 'self' data:; frame-ancestors 'none'");
	hub_header(r, "X-Content-Type-Options", "nosniff");
	hub_header(r, "Cache-Control", "no-cache");
	hub_reply_raw(r, 200, type, data, len);
	goto out;
missing:
	hub_reply_error(r, 404, "404 Not Found", NULL);
out:
	if (f)
		fclose(f);
	free(data);
}

bool hub_web_wanted(const struct hub_req *r)
{
	return r->accept && strstr(r->accept, "text/html");
}

void hub_web_index(struct hub_req *r)
{
	send_file(r, "index.html");
}

void hub_web_file(struct hub_req *r)
{
	const char *name = r->id;

	/* One plain segment: no dot files, no way out of the directory. */
	if (!name || name[0] == '.' || strspn(name, "abcdefghijklmnopqrstuvwxyz"
						 "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
						 "0123456789._-") !=
						 strlen(name)) {
		hub_reply_error(r, 404, "404 Not Found", NULL);
		return;
	}
	send_file(r, name);
}
