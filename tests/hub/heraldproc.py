"""heraldproc.py - `herald serve` for the Python tests (test_feedparser.py,
test_keystone.py): started on 127.0.0.1, port 0, with its data and a test
clock in a folder of the test's, asked over HTTP, and stopped with SIGTERM.
Imported from the tests' own folder (sys.path[0])."""
import os
import signal
import subprocess
import urllib.error
import urllib.request

import taplib


class StartError(Exception):
    """herald did not say it listens (the message has its stderr)."""


class Herald:
    def __init__(self, folder, now_ms, extra=()):
        self.dir = folder
        os.makedirs(folder, exist_ok=True)
        self.clock = os.path.join(folder, "clock")
        self.set_clock(now_ms)
        self.log = open(os.path.join(folder, "stderr.log"), "w+")
        self.proc = subprocess.Popen(
            [os.environ["HERALD_BIN"], "serve", "--listen", "127.0.0.1:0",
             "--data", os.path.join(folder, "data"), "--clock-file",
             self.clock, "--log-level", "warn"] + list(extra),
            stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline()
        if "listening on" not in line:
            self.proc.kill()
            self.proc.wait()
            self.log.seek(0)
            raise StartError("herald did not start: %r %s"
                             % (line, self.log.read()))
        self.port = int(line.rsplit(":", 1)[1])
        self.base = "http://127.0.0.1:%d" % self.port

    def set_clock(self, ms):
        """The server's "now" (its --clock-file, replaced by rename)."""
        self.now_ms = ms
        tmp = self.clock + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % ms)
        os.rename(tmp, self.clock)

    def advance(self, ms):
        self.set_clock(self.now_ms + ms)

    def request(self, method, path, headers, data=None, timeout=15):
        """(status, headers, body bytes); an HTTP error status is an
        answer like any other."""
        req = urllib.request.Request(self.base + path, data=data,
                                     method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def stop(self, log_lines=None):
        """SIGTERM, and its exit status (-1 when it had to be killed);
        when a test point failed, the last log_lines (None: all) of its
        stderr as TAP diagnostics."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = -1
        if taplib.failed():
            self.log.seek(0)
            lines = self.log.read().splitlines()
            for line in lines[-log_lines:] if log_lines else lines:
                print("# " + line)
        self.log.close()
        return rc
