#!/usr/bin/env python3
"""A local stand-in for the two GitHub REST calls Forja makes, for scripts that run the forja
binary: GET /repos/{owner}/{repo}/contents/{path}?ref=SHA answers the file as it is at SHA in
the bare repository GIT_DIR/{repo}.git (raw, as with Accept: application/vnd.github.raw), and
POST /repos/{owner}/{repo}/statuses/{sha} is accepted and counted. Writes its port to
PORT_FILE once it listens on 127.0.0.1.

usage: github_standin.py GIT_DIR PORT_FILE
"""
import http.server
import os
import subprocess
import sys
import urllib.parse


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as two writes
    statuses = 0

    def log_message(self, fmt, *args):  # quiet: the scripts print their own figures
        pass

    def answer(self, code, body, ctype="application/json"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        parts = url.path.split("/", 5)
        # ['', 'repos', owner, repo, 'contents', path]
        if len(parts) != 6 or parts[1] != "repos" or parts[4] != "contents":
            self.answer(404, b'{"message":"Not Found"}')
            return
        ref = urllib.parse.parse_qs(url.query).get("ref", ["HEAD"])[0]
        repo = os.path.join(self.server.git_dir, parts[3] + ".git")
        path = urllib.parse.unquote(parts[5])
        key = (repo, ref, path)
        body = self.server.cache.get(key)
        if body is None:
            show = subprocess.run(["git", "--git-dir", repo, "show", f"{ref}:{path}"],
                                  capture_output=True)
            if show.returncode != 0:
                self.answer(404, b'{"message":"Not Found"}')
                return
            body = show.stdout
            # a file at a commit never changes; only full shas are worth keeping
            if len(ref) == 40:
                self.server.cache[key] = body
        self.answer(200, body, "application/vnd.github.raw")

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(n)
        Handler.statuses += 1
        self.answer(201, b"{}")


class Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # a client killed mid-request (the soak's SIGKILLs) is not the stand-in's error


def main():
    git_dir, port_file = sys.argv[1], sys.argv[2]
    srv = Server(("127.0.0.1", 0), Handler)
    srv.git_dir = git_dir
    srv.cache = {}
    srv.daemon_threads = True
    with open(port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(port_file + ".tmp", port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
