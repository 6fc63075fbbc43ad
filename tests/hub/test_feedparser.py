#!/usr/bin/python3
"""test_feedparser.py - the three feeds as a real feed library reads them.

Atom (feed.atom) and RSS 2.0 (feed.rss) are read by feedparser (Debian's
python3-feedparser), fetching over HTTP as a feed reader does: no
headers, the ids in the query. Titles, links, summaries, dates and
categories must come out as the alert bodies said, with the bozo flag
clear; conditional GET (ETag, Last-Modified) gives 304; next links walk
the whole history. JSON Feed 1.1 (feed.json) is checked with the json
module against the version 1.1 fields.

Starts $HERALD_BIN on 127.0.0.1 (any free port) with its own data
directory and --clock-file, moves the clock instead of sleeping, and
stops it. Prints TAP; skips when feedparser is not importable.
"""
import html
import json
import shutil
import sys
import tempfile
import time
import urllib.request

try:
    import feedparser
except ImportError:
    print("1..0 # SKIP no python3-feedparser")
    sys.exit(0)

EPOCH_MS = 1795352400000  # 2026-11-22T13:00:00Z, as harness.h
CLIENT = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
PROJECT = "fp"

from taplib import ok, is_  # noqa: E402  (after the skip above)
import heraldproc  # noqa: E402
import taplib  # noqa: E402


class Server(heraldproc.Herald):
    def __init__(self):
        try:
            super().__init__(tempfile.mkdtemp(prefix="herald-fp-"), EPOCH_MS)
        except heraldproc.StartError as e:
            print("Bail out! %s" % e)
            sys.exit(1)

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        status, _, raw = self.request(
            method, path, {"Client-ID": CLIENT, "X-Project-Id": PROJECT,
                           "Content-Type": "application/json"}, data, 10)
        return status, raw

    def stop(self):
        rc = super().stop()
        shutil.rmtree(self.dir, ignore_errors=True)
        return rc


ALERTS = [
    {"title": "Disk full on db1", "link": "https://example.org/a/1",
     "summary": "sda1 at 99%", "updated": "2026-11-20T10:00:00Z",
     "tags": ["disk", "db1"], "author": "ops"},
    {"title": "Load high on web2", "url": "https://example.org/a/2",
     "description": "load 12 <over> 8 & rising",
     "published": "2026-11-21T08:30:00+02:00", "category": "load"},
    {"title": "Backup done", "link": "https://example.org/a/3",
     "summary": "nightly backup finished", "content": "42 GB in 3 minutes",
     "guid": "https://example.org/a/3#backup"},
]

WANT_DATES = [(2026, 11, 20, 10, 0, 0), (2026, 11, 21, 6, 30, 0), None]


def feed_url(srv, ext, query=""):
    return "%s/v2/queues/alerts/feed.%s?client_id=%s&project_id=%s%s" % (
        srv.base, ext, CLIENT, PROJECT, query)


def check_entries(kind, d, srv):
    """The three alerts, newest first, as feedparser reads them."""
    ok(not d.bozo, "%s: bozo is clear" % kind, d.get("bozo_exception"))
    is_(len(d.entries), 3, "%s: three entries" % kind)
    for i, alert in enumerate(reversed(ALERTS)):
        e = d.entries[i]
        n = len(ALERTS) - 1 - i
        is_(e.get("title"), alert["title"], "%s: entry %d title" % (kind, n))
        is_(e.get("link"), alert.get("link", alert.get("url")),
            "%s: entry %d link" % (kind, n))
        want_summary = alert.get("summary", alert.get("description"))
        summary = e.get("summary")
        if e.get("summary_detail", {}).get("type") == "text/html":
            summary = html.unescape(summary)  # what a reader shows
        is_(summary, want_summary, "%s: entry %d summary" % (kind, n))
        when = WANT_DATES[n]
        parsed = e.get("updated_parsed") or e.get("published_parsed")
        if when is None:
            created = time.gmtime(srv.created_s[n])
            is_(tuple(parsed[:6]) if parsed else None, tuple(created[:6]),
                "%s: entry %d without a date: its creation time" % (kind, n))
        else:
            is_(tuple(parsed[:6]) if parsed else None, when,
                "%s: entry %d date as the body said" % (kind, n))
        tags = [t.get("term") for t in e.get("tags", [])]
        want_tags = alert.get("tags") or (
            [alert["category"]] if "category" in alert else [])
        is_(tags, want_tags, "%s: entry %d categories" % (kind, n))


def check_jsonfeed(srv):
    with urllib.request.urlopen(feed_url(srv, "json"), timeout=10) as resp:
        ctype = resp.headers.get("Content-Type")
        doc = json.loads(resp.read())
    is_(ctype, "application/feed+json", "JSON Feed: its media type")
    is_(doc.get("version"), "https://jsonfeed.org/version/1.1",
        "JSON Feed: version 1.1")
    ok(isinstance(doc.get("title"), str) and doc["title"],
       "JSON Feed: a title")
    is_(doc.get("home_page_url"), srv.base + "/#/q/alerts",
        "JSON Feed: home_page_url, absolute")
    ok(doc.get("feed_url", "").startswith(srv.base + "/v2/queues/alerts/feed.json"),
       "JSON Feed: feed_url, absolute")
    items = doc.get("items", [])
    is_(len(items), 3, "JSON Feed: three items")
    first = items[2]
    is_(first.get("title"), "Disk full on db1", "JSON Feed: title")
    is_(first.get("url"), "https://example.org/a/1", "JSON Feed: url")
    is_(first.get("summary"), "sda1 at 99%", "JSON Feed: summary")
    is_(first.get("tags"), ["disk", "db1"], "JSON Feed: tags")
    is_(first.get("authors"), [{"name": "ops"}], "JSON Feed: authors")
    is_(first.get("date_published"), "2026-11-20T10:00:00.000Z",
        "JSON Feed: date_published, RFC 3339")
    ok(all(isinstance(it.get("id"), str) and it["id"] for it in items),
       "JSON Feed: every item has a string id")
    ok(all(isinstance(it.get("content_text"), str) for it in items),
       "JSON Feed: every item has content_text")
    is_(items[0].get("id"), "https://example.org/a/3#backup",
        "JSON Feed: id <- guid")
    is_(items[0].get("content_text"), "42 GB in 3 minutes",
        "JSON Feed: content_text <- content")


def check_conditional(srv):
    d = feedparser.parse(feed_url(srv, "atom"))
    ok(d.get("etag") and d.get("modified"),
       "feedparser sees an ETag and a Last-Modified")
    again = feedparser.parse(feed_url(srv, "atom"), etag=d.get("etag"))
    is_(again.get("status"), 304, "with its ETag: 304")
    again = feedparser.parse(feed_url(srv, "atom"), modified=d.get("modified"))
    is_(again.get("status"), 304, "with its Last-Modified: 304")


def check_paging(srv):
    for i in range(9):
        srv.advance(1000)
        srv.call("POST", "/v2/queues/pages/messages",
                 {"messages": [{"body": {"title": "n%d" % i}, "ttl": 3600}]})
    url = ("%s/v2/queues/pages/feed.atom?limit=4&client_id=%s&project_id=%s"
           % (srv.base, CLIENT, PROJECT))
    titles, pages = [], 0
    while url and pages < 10:
        d = feedparser.parse(url)
        ok(not d.bozo, "page %d: bozo is clear" % pages)
        titles += [e.title for e in d.entries]
        nxt = [l.href for l in d.feed.get("links", []) if l.rel == "next"]
        url = nxt[0] if nxt else None
        pages += 1
    is_(titles, ["n%d" % i for i in range(8, -1, -1)],
        "next links walk the whole history, newest first, no gap or repeat")
    is_(pages, 3, "in three pages of 4")


def main():
    srv = Server()
    srv.created_s = []
    try:
        for alert in ALERTS:
            srv.advance(61000)
            srv.created_s.append(srv.now_ms // 1000)
            srv.call("POST", "/v2/queues/alerts/messages",
                     {"messages": [{"body": alert, "ttl": 3600}]})
        d = feedparser.parse(feed_url(srv, "atom"))
        is_(d.get("status"), 200, "Atom: fetched by feedparser, 200")
        is_(d.get("version"), "atom10", "Atom: read as Atom 1.0")
        ok(d.feed.get("title"), "Atom: the feed has a title")
        is_(d.feed.get("link"), srv.base + "/#/q/alerts",
            "Atom: the feed's link is absolute: the dashboard's page")
        check_entries("Atom", d, srv)
        d = feedparser.parse(feed_url(srv, "rss"))
        is_(d.get("version"), "rss20", "RSS: read as RSS 2.0")
        is_(d.feed.get("link"), srv.base + "/#/q/alerts",
            "RSS: the channel's link is absolute")
        check_entries("RSS", d, srv)
        is_(d.entries[0].get("id"), "https://example.org/a/3#backup",
            "RSS: guid <- guid")
        check_jsonfeed(srv)
        check_conditional(srv)
        check_paging(srv)
    finally:
        is_(srv.stop(), 0, "herald exits 0 on SIGTERM")
    taplib.plan()
    return 1 if taplib.failed() else 0


if __name__ == "__main__":
    sys.exit(main())
