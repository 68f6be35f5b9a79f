#!/usr/bin/env python3
"""Hostile clients and a hostile peer for BENCHMARKS.md ("Under attack").

  flood.py idle  HOST:PORT N SRC      hold N idle connections from address SRC,
                                      reopening each one the server closes
  flood.py slow  HOST:PORT N SRC      N connections sending a statement body one
                                      byte per second
  flood.py sigs  URL N                N loops re-sending the log's first entry with
                                      its signature line repeated 99 times
  flood.py peer  PORT                 a gossip peer answering 100,000 junk
                                      checkpoints of whatever origin it is asked about
                                      (origin taken from the log at URL in $LOG)
Runs until killed. Standard library only.
"""
import base64, json, os, socket, sys, threading, time, urllib.request


def idle(addr, n, src):
    host, port = addr.split(":")
    def one():
        while True:
            try:
                s = socket.socket()
                s.bind((src, 0))
                s.connect((host, int(port)))
                s.recv(1)  # until the server closes it
                s.close()
            except OSError:
                pass
            time.sleep(1)
    for _ in range(n):
        threading.Thread(target=one, daemon=True).start()


def slow(addr, n, src):
    host, port = addr.split(":")
    def one():
        while True:
            try:
                s = socket.socket()
                s.bind((src, 0))
                s.connect((host, int(port)))
                s.sendall(b"POST /v1/statements HTTP/1.1\r\nHost: x\r\nContent-Length: 16000\r\n\r\n")
                while True:
                    s.sendall(b"u")
                    time.sleep(1)
            except OSError:
                pass
            time.sleep(1)
    for _ in range(n):
        threading.Thread(target=one, daemon=True).start()


def first_entry(url):
    b = urllib.request.urlopen(url + "/tile/entries/000.p/1").read()
    n = int.from_bytes(b[:2], "big")
    return b[2:2 + n]


def sigs(url, n):
    entry = first_entry(url)
    text, sig = entry.split(b"\n\n", 1)
    line = sig.split(b"\n")[0] + b"\n"
    body = text + b"\n\n" + line * 100
    def one():
        while True:
            try:
                req = urllib.request.Request(url + "/v1/statements", data=body, method="POST")
                urllib.request.urlopen(req).read()
            except Exception:
                pass
    for _ in range(n):
        threading.Thread(target=one, daemon=True).start()


def peer(port):
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    info = json.load(urllib.request.urlopen(os.environ["LOG"] + "/v1/log"))
    vkey = info.get("verifier_key") or info.get("key") or ""
    origin = vkey.split("+")[0] if vkey else info.get("origin", "")
    key_id = bytes.fromhex(vkey.split("+")[1]) if vkey else b"\0\0\0\0"
    cps = []
    for i in range(100_000):
        sig = base64.b64encode(key_id + bytes([(i + j) % 256 for j in range(64)])).decode()
        root = base64.b64encode(bytes([i % 256]) * 32).decode()
        note = f"{origin}\n{i + 1}\n{root}\n\n\u2014 {origin} {sig}\n"
        cps.append({"origin": origin, "size": i + 1, "checkpoint": note})
    body = json.dumps({"checkpoints": cps}).encode()
    class H(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except OSError:
                pass
        def log_message(self, *a):
            pass
    ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "idle":
        idle(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif mode == "slow":
        slow(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif mode == "sigs":
        sigs(sys.argv[2], int(sys.argv[3]))
    elif mode == "peer":
        peer(int(sys.argv[2]))
        sys.exit(0)
    while True:
        time.sleep(3600)
