#!/usr/bin/python3
"""test_keystone.py - `--auth keystone` against a real Keystone.

Starts Debian's Keystone (the `keystone` package: sqlite, fernet tokens,
`keystone-manage bootstrap`) on 127.0.0.1 under Python's WSGI server,
makes projects, users and roles in it, starts $HERALD_BIN with
`--auth keystone` and a service user of its own, and checks what an
OpenStack client sees:

  - no token, a made-up token, an unscoped token: 401 with a JSON body;
  - a member's token works; the project is the token's (X-Project-Id is
    not read), so another project's member sees nothing of it;
  - a reader may read and not post; a token with no mapped role: 403;
  - a revoked token works until its cache entry ends (moved by the clock
    file, not by sleeping), then 401;
  - Keystone down: an uncached token gets 503 with Retry-After, a cached
    one still works; Keystone back: the new token works;
  - the WebSocket `authenticate` action with a Keystone token;
  - python-zaqarclient authenticating through Keystone (its `keystone`
    auth backend) drives queues, messages and claims, and the `openstack`
    CLI finds Herald in Keystone's catalog (service type `messaging`).

Prints TAP. Skips when Keystone or keystoneclient is missing, unless
HERALD_REQUIRE_KEYSTONE=1 (CI sets it), when that is a failure.
"""
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import heraldproc
import taplib
from taplib import ok, is_

REQUIRE = os.environ.get("HERALD_REQUIRE_KEYSTONE") == "1"
try:
    from keystoneauth1 import session as ks_session
    from keystoneauth1.identity import v3 as ks_v3
    from keystoneclient.v3 import client as ks_client
    have = shutil.which("keystone-manage") is not None
except ImportError:
    have = False
if not have:
    if REQUIRE:
        print("1..1\nnot ok 1 - keystone, python3-keystoneclient installed")
        sys.exit(1)
    print("1..0 # SKIP no keystone / python3-keystoneclient")
    sys.exit(0)

CLIENT = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
PASS = "admin-secret"
SERVICE_PASS = "herald-secret"
USER_PASS = "user-secret"
PY = "/usr/bin/python3"
LOOPS = int(os.environ.get("HERALD_TEST_LOOPS") or "1")



def bail(why):
    taplib.fail_unnumbered()
    print("Bail out! " + why)
    sys.stdout.flush()
    sys.exit(1)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(what, cond, seconds):
    """Polls cond() until it holds (readiness of a server we started)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.1)
    bail("%s not ready after %d s" % (what, seconds))


TOP = tempfile.mkdtemp(prefix="herald-ks-")
procs = []


def cleanup():
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    if not taplib.failed():
        shutil.rmtree(TOP, ignore_errors=True)
    else:
        print("# files kept in " + TOP)


# ------------------------------------------------------------- Keystone

SERVE = r"""
import os, sys, socketserver
port = int(sys.argv[1])
sys.argv = sys.argv[:1]  # oslo.config reads the command line
from wsgiref import simple_server
from keystone.server import wsgi
app = wsgi.initialize_public_application()
class Quiet(simple_server.WSGIRequestHandler):
    def log_message(self, *a):
        pass
class Server(simple_server.WSGIServer):
    # One request at a time: Keystone's sqlite does not take concurrent
    # writers ("database is locked"), and nothing here needs them.
    allow_reuse_address = True
srv = simple_server.make_server('127.0.0.1', port, app,
                                server_class=Server, handler_class=Quiet)
print('serving', flush=True)
srv.serve_forever()
"""


class Keystone:
    def __init__(self):
        self.dir = os.path.join(TOP, "keystone")
        os.makedirs(self.dir)
        self.port = free_port()
        self.url = "http://127.0.0.1:%d/v3" % self.port
        self.conf = os.path.join(self.dir, "keystone.conf")
        with open(self.conf, "w") as f:
            f.write("[DEFAULT]\nlog_file = %s/keystone.log\n"
                    "[database]\nconnection = sqlite:///%s/keystone.db\n"
                    "[token]\nprovider = fernet\n"
                    "[fernet_tokens]\nkey_repository = %s/fernet-keys\n"
                    "[credential]\nkey_repository = %s/credential-keys\n"
                    % ((self.dir,) * 4))
        user = ["--keystone-user", "root", "--keystone-group", "root"]
        for cmd in (["db_sync"], ["fernet_setup"] + user,
                    ["credential_setup"] + user,
                    ["bootstrap", "--bootstrap-password", PASS,
                     "--bootstrap-admin-url", self.url + "/",
                     "--bootstrap-public-url", self.url + "/",
                     "--bootstrap-region-id", "RegionOne"]):
            r = subprocess.run(["keystone-manage", "--config-file",
                                self.conf] + cmd, capture_output=True,
                               text=True)
            if r.returncode != 0:
                bail("keystone-manage %s: %s" % (cmd[0], r.stderr[-2000:]))
        # Write-ahead logging, so that a request's open read does not lock
        # out the next request's write ("database is locked" otherwise).
        db = sqlite3.connect(os.path.join(self.dir, "keystone.db"))
        db.execute("PRAGMA journal_mode=WAL")
        db.close()
        self.proc = None
        self.start()

    def start(self):
        env = dict(os.environ, OS_KEYSTONE_CONFIG_FILES=self.conf)
        self.log = open(os.path.join(self.dir, "serve.log"), "a")
        self.proc = subprocess.Popen([PY, "-c", SERVE, str(self.port)],
                                     env=env, stdout=subprocess.PIPE,
                                     stderr=self.log, text=True)
        procs.append(self.proc)
        line = self.proc.stdout.readline()
        if "serving" not in line:
            bail("keystone did not start (see %s)" % self.log.name)

        def up():
            try:
                with urllib.request.urlopen(self.url, timeout=5) as r:
                    return r.status == 200
            except (OSError, urllib.error.URLError):
                return False
        wait_for("keystone", up, 60)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()

    def session(self, user, password, project=None):
        kw = {}
        if project:
            kw = {"project_name": project, "project_domain_id": "default"}
        auth = ks_v3.Password(auth_url=self.url, username=user,
                              password=password, user_domain_id="default",
                              **kw)
        return ks_session.Session(auth=auth)

    def token(self, user, password, project=None):
        return self.session(user, password, project).get_token()


# --------------------------------------------------------------- Herald

class Herald(heraldproc.Herald):
    def __init__(self, ks, pwfile):
        # The cache runs on the API clock; start it at the real time so
        # that the tokens' expires_at (Keystone's real clock) are ahead.
        try:
            super().__init__(
                os.path.join(TOP, "herald"), int(time.time() * 1000),
                ["--auth", "keystone", "--keystone-url",
                 "http://127.0.0.1:%d" % ks.port,
                 "--keystone-user", "herald", "--keystone-password-file",
                 pwfile, "--keystone-project", "service",
                 "--keystone-cache-seconds", "30", "--keystone-timeout", "5"]
                # HERALD_TEST_LOOPS=N: N service loops, each with its own
                # Keystone client and cache (meson test --setup loops2).
                + (["--loops", os.environ["HERALD_TEST_LOOPS"]]
                   if os.environ.get("HERALD_TEST_LOOPS") else []))
        except heraldproc.StartError as e:
            bail(str(e))
        procs.append(self.proc)

    def call(self, method, path, token=None, body=None, project=None):
        """(status, headers, parsed JSON body or None, raw body)."""
        headers = {"Client-ID": CLIENT, "Content-Type": "application/json"}
        if token is not None:
            headers["X-Auth-Token"] = token
        if project is not None:
            headers["X-Project-Id"] = project
        data = json.dumps(body).encode() if body is not None else None
        status, hdrs, raw = self.request(method, path, headers, data)
        try:
            doc = json.loads(raw) if raw else None
        except ValueError:
            doc = None
        return status, hdrs, doc, raw

    def stop(self):
        return super().stop(log_lines=40)


def refused(h, method, path, token, want, name, project=None):
    st, _, doc, raw = h.call(method, path, token, project=project)
    is_(st, want, name, raw)
    ok(isinstance(doc, dict) and ("title" in doc or "description" in doc),
       name + ": a JSON error body", raw)


# ----------------------------------------------------------------- test

def main():
    ks = Keystone()
    admin = ks_client.Client(session=ks.session("admin", PASS, "admin"))

    # The people: herald's service user (the `service` role lets it
    # validate others' tokens under Keystone's default policy), members
    # of two projects, a reader, and one whose only role Herald maps to
    # nothing.
    role = {r.name: r for r in admin.roles.list()}
    for name in ("service", "observer"):
        if name not in role:
            role[name] = admin.roles.create(name)
    proj = {}
    for name in ("service", "alpha", "beta"):
        proj[name] = admin.projects.create(name, domain="default")

    def person(name, pw, project, rolename):
        u = admin.users.create(name, domain="default", password=pw)
        admin.roles.grant(role[rolename], user=u, project=proj[project])
        return u
    person("herald", SERVICE_PASS, "service", "service")
    person("alice", USER_PASS, "alpha", "member")
    person("bob", USER_PASS, "beta", "member")
    person("rita", USER_PASS, "alpha", "reader")
    person("nemo", USER_PASS, "alpha", "observer")

    pwfile = os.path.join(TOP, "herald.pw")
    with open(pwfile, "w") as f:
        f.write(SERVICE_PASS + "\n")
    os.chmod(pwfile, 0o600)
    h = Herald(ks, pwfile)

    alice = ks.token("alice", USER_PASS, "alpha")
    bob = ks.token("bob", USER_PASS, "beta")
    rita = ks.token("rita", USER_PASS, "alpha")
    nemo = ks.token("nemo", USER_PASS, "alpha")
    unscoped = ks.token("alice", USER_PASS)

    # Refusals.
    refused(h, "GET", "/v2/queues", None, 401, "no token: 401")
    refused(h, "GET", "/v2/queues", "gAAAAABnot-a-real-token", 401,
            "a made-up token: 401")
    refused(h, "GET", "/v2/queues", unscoped, 401,
            "a token scoped to no project: 401")
    refused(h, "GET", "/v2/queues", nemo, 403,
            "a token whose roles Herald maps to nothing: 403")

    # A member: its project is the token's, whatever X-Project-Id says.
    st, _, doc, raw = h.call("PUT", "/v2/queues/orders", alice,
                             body={}, project="beta")
    is_(st, 201, "alice (member of alpha) creates a queue", raw)
    msgs = {"messages": [{"ttl": 300, "body": {"n": i}} for i in range(3)]}
    st, _, doc, raw = h.call("POST", "/v2/queues/orders/messages", alice,
                             body=msgs)
    is_(st, 201, "alice posts three messages", raw)
    ok(isinstance(doc, dict) and len(doc.get("resources", [])) == 3,
       "201 names the three messages", raw)
    st, _, doc, raw = h.call("GET", "/v2/queues/orders/messages?echo=true",
                             alice)
    is_(st, 200, "alice reads them", raw)
    bodies = [m["body"] for m in (doc or {}).get("messages", [])]
    is_(bodies, [{"n": 0}, {"n": 1}, {"n": 2}], "in order, as posted")

    st, _, doc, raw = h.call("GET", "/v2/queues", bob, project=None)
    is_(st, 200, "bob (member of beta) lists his queues", raw)
    names = [q["name"] for q in (doc or {}).get("queues", [])]
    is_(names, [], "beta has none: X-Project-Id did not put alpha's "
        "queue into beta")
    st, _, _, raw = h.call("GET", "/v2/queues/orders/messages?echo=true",
                           bob, project=proj["alpha"].id)
    ok(st in (200, 204) and b'"n"' not in raw,
       "bob naming alpha's id in X-Project-Id reads nothing of alpha's",
       "%d %r" % (st, raw))
    st, _, doc, raw = h.call("GET", "/v2/queues", rita)
    names = [q["name"] for q in (doc or {}).get("queues", [])]
    ok(st == 200 and names == ["orders"],
       "rita (reader of alpha) sees alpha's queue", raw)
    refused(h, "POST", "/v2/queues/orders/messages", rita, 403,
            "a reader may not post: 403")

    # Revocation: cached for --keystone-cache-seconds (30), then refused.
    doomed = ks.token("alice", USER_PASS, "alpha")
    st, _, _, raw = h.call("GET", "/v2/queues", doomed)
    is_(st, 200, "a second token of alice's works", raw)
    admin.tokens.revoke_token(doomed)
    st, _, _, raw = h.call("GET", "/v2/queues", doomed)
    if LOOPS > 1:
        # Each loop has its own cache: a connection on a loop that had
        # not seen the token asks Keystone, and is refused sooner.
        ok(st in (200, 401), "revoked at Keystone: trusted from a loop's "
           "cache, or refused by a loop that asks (%d loops)" % LOOPS, raw)
    else:
        is_(st, 200, "revoked at Keystone, it is still trusted from the "
            "cache", raw)
    h.advance(31 * 1000)
    refused(h, "GET", "/v2/queues", doomed, 401,
            "past the cache window the revoked token is refused")
    st, _, _, raw = h.call("GET", "/v2/queues", alice)
    is_(st, 200, "alice's first token, asked again, still works", raw)

    # WebSocket: Zaqar's authenticate action with a Keystone token.
    ws_checks(h, alice)

    # python-zaqarclient and the openstack CLI, through Keystone.
    zaqarclient_checks(ks, h, admin)

    # Keystone down.
    fresh = ks.token("alice", USER_PASS, "alpha")
    st, _, _, raw = h.call("GET", "/v2/queues", alice)
    is_(st, 200, "before Keystone stops: alice's token is cached", raw)
    ks.stop()
    st, hdrs, doc, raw = h.call("GET", "/v2/queues", fresh)
    is_(st, 503, "Keystone down: an uncached token gets 503", raw)
    ok(hdrs.get("Retry-After") is not None, "with Retry-After",
       str(dict(hdrs)))
    ok(isinstance(doc, dict), "and a JSON body", raw)
    st, _, _, raw = h.call("GET", "/v2/queues", alice)
    is_(st, 200, "Keystone down: a cached token still works", raw)
    ks.start()
    st, _, _, raw = h.call("GET", "/v2/queues", fresh)
    is_(st, 200, "Keystone back: the token refused with 503 now works", raw)

    rc = h.stop()
    is_(rc, 0, "herald exits 0 on SIGTERM")
    ks.stop()


WS_CLIENT = r"""
import json, sys, websocket
url, token, client = sys.argv[1:4]
ws = websocket.create_connection(url, timeout=10)
def req(action, body, headers):
    headers = dict(headers, **{"Client-ID": client})
    ws.send(json.dumps({"action": action, "body": body,
                        "headers": headers}))
    return json.loads(ws.recv())
out = {}
out["before"] = req("queue_list", {}, {})["headers"]["status"]
out["auth"] = req("authenticate", {}, {"X-Auth-Token": token})["headers"]["status"]
r = req("queue_list", {}, {})
out["after"] = r["headers"]["status"]
out["queues"] = [q["name"] for q in r["body"].get("queues", [])]
out["bad"] = req("authenticate", {}, {"X-Auth-Token": "nope"})["headers"]["status"]
print(json.dumps(out))
"""


def ws_checks(h, token):
    try:
        import websocket  # noqa: F401  (python3-websocket)
    except ImportError:
        ok(False, "python3-websocket for the WebSocket checks")
        return
    url = "ws://127.0.0.1:%d/v2/ws" % h.port
    r = subprocess.run([PY, "-c", WS_CLIENT, url, token, CLIENT],
                       capture_output=True, text=True, timeout=60)
    try:
        out = json.loads(r.stdout)
    except ValueError:
        ok(False, "the WebSocket client ran", r.stdout + r.stderr)
        return
    is_(out["before"], 403,
        "WS: before authenticate, queue_list is 403 (as Zaqar answers)")
    is_(out["auth"], 200, "WS: authenticate with a Keystone token: 200")
    is_(out["after"], 200, "WS: then queue_list works")
    is_(out["queues"], ["orders"], "WS: it lists the token's project")
    is_(out["bad"], 401, "WS: authenticate with a made-up token: 401")


ZAQAR_CLIENT = r"""
import json, sys
from zaqarclient.queues import client
url, auth_url, pw = sys.argv[1:4]
conf = {'auth_opts': {'backend': 'keystone', 'options': {
    'os_auth_url': auth_url, 'os_username': 'alice', 'os_password': pw,
    'os_project_name': 'alpha', 'os_user_domain_id': 'default',
    'os_project_domain_id': 'default'}}}
cli = client.Client(url, version=2, conf=conf)
out = {}
q = cli.queue('zc-jobs')
q.ensure_exists()
q.post([{'body': {'job': i}, 'ttl': 600} for i in range(4)])
out['listed'] = [m.body for m in q.messages(echo=True)]
claim = q.claim(ttl=60, grace=60, limit=2)
got = list(claim)
out['claimed'] = len(got)
for m in got:
    m.delete()
out['left'] = sorted(m.body['job'] for m in q.messages(echo=True))
out['queues'] = sorted(x.name for x in cli.queues()[0])
q.delete()
out['after_delete'] = sorted(x.name for x in cli.queues()[0])
print(json.dumps(out))
"""


def zaqarclient_checks(ks, h, admin):
    try:
        import zaqarclient  # noqa: F401  (python3-zaqarclient)
    except ImportError:
        ok(False, "python3-zaqarclient for the client checks")
        return
    r = subprocess.run([PY, "-c", ZAQAR_CLIENT, h.base, ks.url, USER_PASS],
                       capture_output=True, text=True, timeout=120)
    try:
        out = json.loads(r.stdout)
    except ValueError:
        ok(False, "zaqarclient ran through Keystone", r.stdout + r.stderr)
        return
    is_(out["listed"], [{"job": i} for i in range(4)],
        "zaqarclient (keystone auth): posted and listed four messages")
    is_(out["claimed"], 2, "zaqarclient: claimed two")
    ok(len(out["left"]) == 2, "zaqarclient: deleted the two claimed ones",
       out["left"])
    is_(out["queues"], ["orders", "zc-jobs"],
        "zaqarclient: lists alpha's queues")
    is_(out["after_delete"], ["orders"], "zaqarclient: deleted its queue")

    # The openstack CLI finds Herald in the catalog, as it finds Zaqar.
    svc = admin.services.create("herald", type="messaging")
    for iface in ("public", "internal", "admin"):
        admin.endpoints.create(svc, h.base, interface=iface,
                               region="RegionOne")
    env = dict(os.environ, OS_AUTH_URL=ks.url, OS_USERNAME="alice",
               OS_PASSWORD=USER_PASS, OS_PROJECT_NAME="alpha",
               OS_USER_DOMAIN_ID="default", OS_PROJECT_DOMAIN_ID="default",
               OS_IDENTITY_API_VERSION="3", OS_MESSAGING_API_VERSION="2", OS_MESSAGE_CLIENT_ID=CLIENT)
    osc = shutil.which("openstack")
    if osc is None:
        ok(False, "the openstack CLI (python3-openstackclient)")
        return

    def run(*args):
        return subprocess.run([osc] + list(args), env=env,
                              capture_output=True, text=True, timeout=120)
    r = run("messaging", "queue", "create", "osc-q")
    is_(r.returncode, 0, "openstack messaging queue create", r.stderr[-1500:])
    r = run("messaging", "queue", "list", "-f", "json")
    try:
        names = sorted(next(iter(q.values())) for q in json.loads(r.stdout))
    except (ValueError, AttributeError, StopIteration):
        names = None
    is_(names, ["orders", "osc-q"], "openstack messaging queue list finds "
        "Herald through the catalog", r.stdout + r.stderr[-1500:])
    r = run("messaging", "message", "post", "osc-q", json.dumps(
        [{"body": {"from": "osc"}, "ttl": 300}]))
    is_(r.returncode, 0, "openstack messaging message post", r.stderr[-1500:])
    r = run("messaging", "message", "list", "osc-q", "--echo", "-f", "json")
    ok(r.returncode == 0 and "osc" in r.stdout,
       "openstack messaging message list shows it", r.stdout + r.stderr[-1500:])


try:
    main()
except SystemExit:
    raise
except BaseException as e:  # a crash of the test itself is one failure
    import traceback
    ok(False, "the test ran to its end", traceback.format_exc())
finally:
    taplib.plan()
    cleanup()
sys.exit(1 if taplib.failed() else 0)
