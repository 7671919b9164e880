"""A fault-injecting HTTP/1.1 proxy for the remote tests (Python standard library only).

It sits between sft and nginx (or answers by itself) and does, per request,
what the test's rule says:

    proxy = FaultProxy(upstream_port=srv.http_port, tls=(cert, key))
    proxy.rule = lambda i, req: {"kind": "reset_after", "bytes": 1000} if i == 1 else None
    proxy.url("model.safetensors")       # https://127.0.0.1:PORT/model.safetensors
    ...
    proxy.log                            # every request: index, time, method, target, host, headers

Request i (from 0, in arrival order) is given to rule(i, request); None means
"forward unchanged". Actions (dicts with a "kind"):

    reset_after  bytes=N      forward the head and N body bytes, then reset the connection (RST)
    truncate     bytes=N      forward the head (its Content-Length intact) and N body bytes, then close
    set_headers  headers={}   forward with these response headers replaced (value None removes one)
    status_200                forward a 206 as "200 OK" without its Content-Range (a server ignoring ranges)
    gzip                      forward with the body gzip-compressed and Content-Encoding: gzip
    stall        bytes=N, seconds=S   forward the head and N body bytes, then send nothing for S seconds
    respond      status, headers={}, body=b"", length=len(body), stall=S
                                           answer without asking upstream (declaring `length` body
                                           bytes; with `stall`, wait S seconds after the body, then close)
    redirect     location, status=302           answer with a redirect
    forever      chunk=65536                    answer 200 with no length and stream zeros until the client leaves
    overlong     extra=N                        forward a 206 close-delimited (no Content-Length), N bytes past its range
    hook         fn                             call fn() before forwarding (e.g. replace the file upstream)
    ignore_range                                forward without the Range header (a server that ignores ranges)

The proxy itself runs on a thread of its own with an asyncio loop; stop()
ends it. It speaks HTTP/1.1 to the client (so TLS clients negotiate
http/1.1) and opens one upstream connection per request.
"""

import asyncio
import gzip as gzip_module
import socket
import ssl
import struct
import threading
import time


class Request:
    def __init__(self, method, target, version, headers):
        self.method, self.target, self.version = method, target, version
        self.headers = headers  # list of (name, value), as received

    def header(self, name):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None


def _parse_head(head):
    lines = head.decode("latin-1").split("\r\n")
    first = lines[0].split(" ")
    headers = []
    for line in lines[1:]:
        if not line:
            continue
        k, _, v = line.partition(":")
        headers.append((k.strip(), v.strip()))
    return first, headers


class FaultProxy:
    def __init__(self, upstream_port, tls=None, upstream_host="127.0.0.1"):
        self.upstream = (upstream_host, upstream_port)
        self.tls = tls  # (cert, key) or None
        self.rule = None
        self.log = []
        self._count = 0
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fault proxy did not start")

    # --- public ------------------------------------------------------------------------------
    def url(self, name, host="127.0.0.1"):
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{host}:{self.port}/{name}"

    def reset(self, rule=None):
        with self._lock:
            self.log = []
            self._count = 0
            self.rule = rule

    def stop(self):
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    # --- machinery ------------------------------------------------------------------------------
    def _run(self):
        asyncio.set_event_loop(self._loop)
        ctx = None
        if self.tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*self.tls)
            ctx.set_alpn_protocols(["http/1.1"])
        server = self._loop.run_until_complete(
            asyncio.start_server(self._client, "127.0.0.1", 0, ssl=ctx, limit=1 << 20))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()
            for task in asyncio.all_tasks(self._loop):
                task.cancel()
            try:
                self._loop.run_until_complete(asyncio.sleep(0))
            except Exception:
                pass
            self._loop.close()

    async def _client(self, reader, writer):
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                first, headers = _parse_head(head)
                if len(first) < 3:
                    return
                req = Request(first[0], first[1], first[2], headers)
                with self._lock:
                    index = self._count
                    self._count += 1
                    rule = self.rule
                entry = {"index": index, "time": time.monotonic(), "method": req.method, "target": req.target,
                         "host": req.header("host"), "range": req.header("range"),
                         "authorization": req.header("authorization"), "if_match": req.header("if-match"),
                         "accept_encoding": req.header("accept-encoding"), "headers": headers}
                with self._lock:
                    self.log.append(entry)
                action = (rule(index, req) if rule else None) or {"kind": "pass"}
                entry["action"] = action.get("kind")
                keep = await self._serve(req, action, reader, writer)
                if not keep:
                    return
        except (ConnectionError, asyncio.CancelledError, ssl.SSLError):
            return
        finally:
            try:
                writer.close()
            except Exception:
                pass

    @staticmethod
    def _reset(writer):
        sock = writer.get_extra_info("socket")
        try:
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        writer.transport.abort()

    @staticmethod
    def _head(status, reason, headers):
        lines = [f"HTTP/1.1 {status} {reason}"] + [f"{k}: {v}" for k, v in headers]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def _serve(self, req, action, reader, writer):
        kind = action["kind"]
        if kind == "hook":
            action["fn"]()
            kind = "pass"
        if kind == "respond":
            body = action.get("body", b"")
            length = action.get("length", len(body))
            hdrs = list(action.get("headers", {}).items()) + [("Content-Length", str(length))]
            writer.write(self._head(action["status"], action.get("reason", "Test"), hdrs) + body)
            await writer.drain()
            if "stall" in action:  # then send nothing more for a while, and hang up
                await asyncio.sleep(action["stall"])
                return False
            return length == len(body)
        if kind == "redirect":
            hdrs = [("Location", action["location"]), ("Content-Length", "0")]
            writer.write(self._head(action.get("status", 302), "Found", hdrs))
            await writer.drain()
            return True
        if kind == "forever":
            writer.write(self._head(200, "OK", [("Content-Type", "application/octet-stream"), ("Connection", "close")]))
            chunk = b"\0" * action.get("chunk", 65536)
            while True:
                writer.write(chunk)
                await writer.drain()  # raises once the client has gone

        # Forward to upstream.
        ur, uw = await asyncio.open_connection(*self.upstream)
        lines = [f"{req.method} {req.target} HTTP/1.1"]
        dropped = {"connection"} | ({"range"} if kind == "ignore_range" else set())
        for k, v in req.headers:
            if k.lower() not in dropped:
                lines.append(f"{k}: {v}")
        lines.append("Connection: close")
        uw.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        await uw.drain()
        head = await ur.readuntil(b"\r\n\r\n")
        first, headers = _parse_head(head)
        status, reason = int(first[1]), " ".join(first[2:])
        length = None
        for k, v in headers:
            if k.lower() == "content-length":
                length = int(v)

        async def body_chunks():
            left = length
            while left is None or left > 0:
                data = await ur.read(65536 if left is None else min(65536, left))
                if not data:
                    return
                if left is not None:
                    left -= len(data)
                yield data

        def without(hs, *names):
            names = {n.lower() for n in names}
            return [(k, v) for k, v in hs if k.lower() not in names]

        headers = without(headers, "connection")
        try:
            if kind == "set_headers":
                for name, value in action["headers"].items():
                    headers = without(headers, name)
                    if value is not None:
                        headers.append((name, value))
            if kind == "status_200" and status == 206:
                status, reason = 200, "OK"
                headers = without(headers, "content-range")
            if kind == "gzip":
                body = b"".join([c async for c in body_chunks()])
                body = gzip_module.compress(body)
                headers = without(headers, "content-length", "content-encoding")
                headers += [("Content-Encoding", "gzip"), ("Content-Length", str(len(body)))]
                writer.write(self._head(status, reason, headers) + body)
                await writer.drain()
                return True
            if kind == "overlong":
                headers = without(headers, "content-length") + [("Connection", "close")]
                writer.write(self._head(status, reason, headers))
                async for c in body_chunks():
                    writer.write(c)
                writer.write(b"\x55" * action.get("extra", 4096))
                await writer.drain()
                return False

            writer.write(self._head(status, reason, headers))
            limit = action.get("bytes") if kind in ("reset_after", "truncate", "stall") else None
            sent = 0
            async for c in body_chunks():
                if limit is not None and sent + len(c) > limit:
                    c = c[:limit - sent]
                writer.write(c)
                sent += len(c)
                await writer.drain()
                if limit is not None and sent >= limit:
                    break
            await writer.drain()
            if kind == "reset_after":
                self._reset(writer)
                return False
            if kind == "truncate":
                return False
            if kind == "stall":
                await asyncio.sleep(action.get("seconds", 5))
                return False
            return True
        finally:
            uw.close()
