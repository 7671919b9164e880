"""A real web server for the remote tests: nginx from Debian, on loopback.

    with NginxFixture(root=DIR, work=BUILD_SUBDIR) as srv:
        srv.url("model.safetensors")            # http://127.0.0.1:PORT/model.safetensors
        srv.url("model.safetensors", tls=True)  # https://127.0.0.1:PORT/... (HTTP/2 offered)
        srv.ca_file                             # the test CA that signed the server's certificate
        srv.access_log()                        # parsed lines of the access log

Everything lives under `work`: the configuration, the pid file, the logs,
nginx's temporary directories and a throw-away certificate authority made
with the openssl command line (no network). Ports are chosen at run time.
nginx is stopped when the block ends, whether it ends by an exception or not,
and also at interpreter exit or on SIGTERM as a last resort.

find_nginx() returns the nginx binary or None; skip_or_fail() implements the
suite's rule: without nginx a test skips (exit 77) unless SFT_REQUIRE_NGINX=1,
when it fails.
"""

import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

SKIP = 77

# One line per request: what the remote tests assert on. $bytes_sent counts
# the response headers too; $body_bytes_sent is the body alone.
LOG_FORMAT = ('$status $body_bytes_sent $bytes_sent "$http_range" "$request_method" "$request_uri" '
              '"$server_protocol" "$http_if_match" "$http_authorization" "$http_accept_encoding" $msec')


def find_nginx():
    for cand in (os.environ.get("SFT_NGINX"), shutil.which("nginx"), "/usr/sbin/nginx"):
        if cand and os.path.isfile(cand) and os.access(cand, os.X_OK):
            return cand
    return None


def skip_or_fail(reason):
    """Exit 77 (skip) with the reason, or 1 when SFT_REQUIRE_NGINX=1 says the server must be there."""
    if os.environ.get("SFT_REQUIRE_NGINX") == "1":
        print(f"FAIL: {reason} (SFT_REQUIRE_NGINX=1: the remote tests must run; "
              "install nginx-light, libcurl4-openssl-dev and openssl)", file=sys.stderr)
        sys.exit(1)
    print(f"SKIP: {reason} (install nginx-light and openssl; CI sets SFT_REQUIRE_NGINX=1)", file=sys.stderr)
    sys.exit(SKIP)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_ca(work):
    """A CA and a server certificate for localhost and 127.0.0.1, made by `openssl`.

    Returns (ca_pem, server_pem, server_key)."""
    openssl = shutil.which("openssl")
    if not openssl:
        raise FileNotFoundError("openssl")
    d = os.path.join(work, "pki")
    os.makedirs(d, exist_ok=True)
    ca_key, ca_pem = os.path.join(d, "ca.key"), os.path.join(d, "ca.pem")
    key, csr, pem = os.path.join(d, "server.key"), os.path.join(d, "server.csr"), os.path.join(d, "server.pem")
    ext = os.path.join(d, "server.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n"
                "basicConstraints=critical,CA:FALSE\n"
                "keyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=serverAuth\n")

    def run(*args):
        subprocess.run([openssl, *args], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run("req", "-x509", *ec, "-keyout", ca_key, "-out", ca_pem, "-days", "2", "-subj", "/CN=sft test CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("req", *ec, "-keyout", key, "-out", csr, "-subj", "/CN=localhost")
    run("x509", "-req", "-in", csr, "-CA", ca_pem, "-CAkey", ca_key, "-CAcreateserial", "-out", pem,
        "-days", "2", "-extfile", ext)
    return ca_pem, pem, key


class NginxFixture:
    def __init__(self, root, work, workers=2):
        self.root = os.path.abspath(root)
        self.work = os.path.abspath(work)
        self.workers = workers
        self.proc = None
        self.http_port = self.https_port = None

    # --- lifecycle ------------------------------------------------------------------------
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self):
        nginx = find_nginx()
        if not nginx:
            raise FileNotFoundError("nginx")
        if os.path.isdir(self.work):
            shutil.rmtree(self.work)
        for sub in ("tmp/body", "tmp/proxy", "tmp/fastcgi", "tmp/uwsgi", "tmp/scgi", "logs"):
            os.makedirs(os.path.join(self.work, sub), exist_ok=True)
        self.ca_file, self.cert, self.key = make_ca(self.work)
        for attempt in range(5):
            self.http_port, self.https_port = free_port(), free_port()
            conf = self._write_conf()
            self.proc = subprocess.Popen([nginx, "-p", self.work, "-c", conf, "-e", self.error_log],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            atexit.register(self.stop)
            if self._wait_ready():
                _install_sigterm_handler()
                return
            self.stop()
        raise RuntimeError("nginx did not start: " + self._tail(self.error_log))

    def stop(self):
        p, self.proc = self.proc, None
        if p is None or p.poll() is not None:
            return
        p.send_signal(signal.SIGTERM)  # fast shutdown of master and workers
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()

    # --- configuration ----------------------------------------------------------------------
    @property
    def access_log_path(self):
        return os.path.join(self.work, "logs", "access.log")

    @property
    def error_log(self):
        return os.path.join(self.work, "logs", "error.log")

    def _write_conf(self):
        w = self.work
        user = "user root root;\n" if hasattr(os, "geteuid") and os.geteuid() == 0 else ""
        conf = f"""# written by tests/remote/nginx_fixture.py
{user}daemon off;
master_process on;
worker_processes {self.workers};
pid {w}/nginx.pid;
error_log {self.error_log} warn;
events {{ worker_connections 1024; }}
http {{
  log_format sft '{LOG_FORMAT}';
  access_log {self.access_log_path} sft;
  client_body_temp_path {w}/tmp/body;
  proxy_temp_path {w}/tmp/proxy;
  fastcgi_temp_path {w}/tmp/fastcgi;
  uwsgi_temp_path {w}/tmp/uwsgi;
  scgi_temp_path {w}/tmp/scgi;
  types {{ application/json json; application/octet-stream safetensors; }}
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 100000;
  keepalive_timeout 60s;
  # Redirect fixtures: /redirect/NAME -> /NAME on the same server, /loop/N -> /loop/N+1 forever.
  server {{
    listen 127.0.0.1:{self.http_port};
    root {self.root};
    location /redirect/ {{ rewrite ^/redirect/(.*)$ /$1 redirect; }}
    location /loop/ {{ rewrite ^/loop/(.*)$ /loop/$1x redirect; }}
  }}
  server {{
    listen 127.0.0.1:{self.https_port} ssl http2;
    ssl_certificate {self.cert};
    ssl_certificate_key {self.key};
    root {self.root};
    location /redirect/ {{ rewrite ^/redirect/(.*)$ /$1 redirect; }}
    location /loop/ {{ rewrite ^/loop/(.*)$ /loop/$1x redirect; }}
  }}
}}
"""
        path = os.path.join(w, "nginx.conf")
        with open(path, "w") as f:
            f.write(conf)
        return path

    def _wait_ready(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            ok = 0
            for port in (self.http_port, self.https_port):
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                        ok += 1
                except OSError:
                    pass
            if ok == 2:
                return True
            time.sleep(0.02)
        return False

    @staticmethod
    def _tail(path, n=2000):
        try:
            with open(path, errors="replace") as f:
                return f.read()[-n:]
        except OSError:
            return "(no log)"

    # --- use ----------------------------------------------------------------------------------
    def url(self, name, tls=False, host="127.0.0.1"):
        if tls:
            return f"https://{host}:{self.https_port}/{name}"
        return f"http://{host}:{self.http_port}/{name}"

    def access_log(self):
        """The access log so far: a list of dicts (status, body_bytes, bytes, range, method, uri, ...)."""
        out = []
        try:
            f = open(self.access_log_path)
        except FileNotFoundError:
            return out
        with f:
            for line in f:
                out.append(parse_log_line(line))
        return out

    def log_mark(self):
        """A position in the access log; access_log_since(mark) gives the lines after it."""
        return len(self.access_log())

    def access_log_since(self, mark):
        return self.access_log()[mark:]


def parse_log_line(line):
    # status body bytes "range" "method" "uri" "proto" "if-match" "authorization" "accept-encoding" msec
    parts, i, line = [], 0, line.rstrip("\n")
    while i < len(line):
        if line[i] == " ":
            i += 1
            continue
        if line[i] == '"':
            j = line.index('"', i + 1)
            parts.append(line[i + 1:j])
            i = j + 1
        else:
            j = line.find(" ", i)
            j = len(line) if j < 0 else j
            parts.append(line[i:j])
            i = j
    parts = [_unescape(p) for p in parts]
    keys = ["status", "body_bytes", "bytes", "range", "method", "uri", "protocol", "if_match",
            "authorization", "accept_encoding", "msec"]
    d = dict(zip(keys, parts))
    for k in ("status", "body_bytes", "bytes"):
        d[k] = int(d[k])
    d["msec"] = float(d["msec"])
    for k in ("range", "if_match", "authorization", "accept_encoding"):
        if d[k] == "-":
            d[k] = ""
    return d


def _unescape(s):
    # nginx writes '"' and other unsafe bytes of a logged value as \xHH.
    out, i = [], 0
    while i < len(s):
        if s.startswith("\\x", i) and i + 4 <= len(s):
            try:
                out.append(chr(int(s[i + 2:i + 4], 16)))
                i += 4
                continue
            except ValueError:
                pass
        out.append(s[i])
        i += 1
    return "".join(out)


_fixtures_handler_installed = False


def _install_sigterm_handler():
    # ctest kills a test that runs past its timeout with SIGTERM: run atexit (which stops nginx) then.
    global _fixtures_handler_installed
    if _fixtures_handler_installed:
        return
    _fixtures_handler_installed = True
    previous = signal.getsignal(signal.SIGTERM)

    def handler(signum, frame):
        if callable(previous):
            previous(signum, frame)
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


if __name__ == "__main__":
    # Manual use: serve a directory until interrupted.
    import argparse

    ap = argparse.ArgumentParser(description="serve DIR with nginx on loopback (http and https)")
    ap.add_argument("root")
    ap.add_argument("--work", default="/tmp/sft-nginx")
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    with NginxFixture(a.root, a.work, a.workers) as srv:
        print(srv.url(""), srv.url("", tls=True), "CA:", srv.ca_file, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
