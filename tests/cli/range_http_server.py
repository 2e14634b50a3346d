#!/usr/bin/python3
"""A small HTTP file server for the fetch tests that answers Range requests (206 Partial Content),
which Python's http.server does not. Standard library only.

  range_http_server.py DIR [--log FILE] [--corrupt NAME]... [--ignore-range | --bad-range]

Binds 127.0.0.1 on a free port and prints the port on stdout once listening. --log appends one line
per request ("GET /name range=bytes=N- status=206"); --corrupt serves that file with one byte
flipped; --ignore-range answers every GET with the whole file (200), like a server without ranges;
--bad-range answers a Range request with 206 but the whole file (a broken server or proxy).
"""

import argparse
import http.server
import os
import re
import sys
import threading
import urllib.parse

_log_lock = threading.Lock()


def parse_range(header, size):
    """Returns (start, end) inclusive for a single 'bytes=' range, 'unsatisfiable', or None."""
    match = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", header or "")
    if not match or (match.group(1) == "" and match.group(2) == ""):
        return None
    if match.group(1) == "":  # suffix range: the last N bytes
        length = int(match.group(2))
        if length == 0:
            return "unsatisfiable"
        return max(0, size - length), size - 1
    start = int(match.group(1))
    end = int(match.group(2)) if match.group(2) else size - 1
    if start >= size or end < start:
        return "unsatisfiable"
    return start, min(end, size - 1)


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "RangeHTTP/1.0"

    def log_message(self, format, *args):  # keep the test output clean
        pass

    def record(self, status, range_header):
        if not self.server.log_path:
            return
        with _log_lock, open(self.server.log_path, "a") as log:
            log.write(f"{self.command} {self.path} range={range_header or '-'} status={status}\n")

    def load(self):
        name = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path).lstrip("/")
        if not name or ".." in name.split("/"):
            return None, name
        path = os.path.join(self.server.directory, name)
        if not os.path.isfile(path):
            return None, name
        with open(path, "rb") as f:
            data = bytearray(f.read())
        if name in self.server.corrupt and data:
            data[len(data) // 2] ^= 0xFF
        return bytes(data), name

    def respond(self, send_body):
        data, _ = self.load()
        range_header = self.headers.get("Range")
        if data is None:
            self.record(404, range_header)
            self.send_error(404, "Not Found")
            return
        size = len(data)
        byte_range = None if self.server.ignore_range else parse_range(range_header, size)
        if byte_range == "unsatisfiable":
            self.record(416, range_header)
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if byte_range is None:
            status, body = 200, data
        else:
            start, end = (0, size - 1) if self.server.bad_range else byte_range
            status, body = 206, data[start:end + 1]
        self.record(status, range_header)
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "none" if self.server.ignore_range else "bytes")
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        if send_body:
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

    def do_GET(self):
        self.respond(send_body=True)

    def do_HEAD(self):
        self.respond(send_body=False)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory")
    parser.add_argument("--log")
    parser.add_argument("--corrupt", action="append", default=[])
    parser.add_argument("--ignore-range", action="store_true")
    parser.add_argument("--bad-range", action="store_true")
    args = parser.parse_args()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.directory = os.path.abspath(args.directory)
    server.log_path = args.log
    server.corrupt = set(args.corrupt)
    server.ignore_range = args.ignore_range
    server.bad_range = args.bad_range
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
