"""A minimal client of `cordon lsp` for scripts: LSP framing over the
server's stdin/stdout, requests with ids, a scripted answer to each
server-to-client request (sandbox/approve, workspace/applyEdit, ...), and
the notifications kept in order.

Used by replay.py (the scripted agent session of `make bench`) and handy
by hand: python3 testdata/scripts/lspclient.py CORDON ROOT 'COMMAND'.
"""
import json
import os
import subprocess
import sys
import threading


class Client:
    def __init__(self, cordon, root, answer=None, env=None, approvals=True):
        self.p = subprocess.Popen([cordon, "lsp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, env=env)
        self.root = os.path.realpath(root)
        self.answer = answer or (lambda method, params: None)
        self.lock = threading.Lock()
        self.seq = 0
        self.waiting = {}
        self.notes = []
        self.calls = []  # (method, params) of every server-to-client request
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        uri = "file://" + self.root
        self.request("initialize", {
            "processId": os.getpid(), "rootUri": uri,
            "workspaceFolders": [{"uri": uri, "name": os.path.basename(self.root)}],
            "capabilities": {"workspace": {"applyEdit": True}},
            "initializationOptions": {"approvals": approvals},
        })
        self.notify("initialized", {})

    def _send(self, msg):
        body = json.dumps(msg).encode()
        with self.lock:
            self.p.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
            self.p.stdin.flush()

    def _read(self):
        f = self.p.stdout
        while True:
            n = None
            while True:
                line = f.readline()
                if not line:
                    self._fail_all()
                    return
                line = line.strip()
                if not line:
                    break
                k, _, v = line.partition(b":")
                if k.lower() == b"content-length":
                    n = int(v)
            msg = json.loads(f.read(n))
            if "method" in msg and "id" in msg:
                self.calls.append((msg["method"], msg.get("params")))
                threading.Thread(target=self._answer, args=(msg,), daemon=True).start()
            elif "method" in msg:
                self.notes.append(msg)
            else:
                ev = self.waiting.get(msg["id"])
                if ev:
                    ev[1] = msg
                    ev[0].set()

    def _answer(self, msg):
        try:
            result = self.answer(msg["method"], msg.get("params"))
            self._send({"jsonrpc": "2.0", "id": msg["id"], "result": result})
        except Exception as e:  # noqa: BLE001 - reported to the server as an error
            self._send({"jsonrpc": "2.0", "id": msg["id"], "error": {"code": -32603, "message": str(e)}})

    def _fail_all(self):
        for ev in list(self.waiting.values()):
            ev[1] = {"error": {"code": -1, "message": "server closed"}}
            ev[0].set()

    def request(self, method, params, timeout=600):
        with self.lock:
            self.seq += 1
            rid = self.seq
        ev = [threading.Event(), None]
        self.waiting[rid] = ev
        self._send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        if not ev[0].wait(timeout):
            raise TimeoutError(method)
        del self.waiting[rid]
        if "error" in ev[1]:
            raise RuntimeError("%s: %s" % (method, ev[1]["error"].get("message")))
        return ev[1].get("result")

    def notify(self, method, params):
        self._send({"jsonrpc": "2.0", "method": method, "params": params})

    def output(self, run_id):
        return "".join(n["params"]["data"] for n in self.notes
                       if n["method"] == "sandbox/output" and n["params"].get("runId") == run_id)

    def close(self):
        try:
            self.request("shutdown", None, timeout=30)
            self.notify("exit", None)
        except Exception:  # noqa: BLE001 - the server may be gone already
            pass
        try:
            self.p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.p.kill()


if __name__ == "__main__":
    c = Client(sys.argv[1], sys.argv[2], answer=lambda m, p: {"decision": "deny"} if m == "sandbox/approve" else None)
    res = c.request("sandbox/run", {"command": sys.argv[3]})
    sys.stdout.write(c.output(res["runId"]))
    for v in res["violations"]:
        print("violation:", json.dumps(v))
    print("server asked:", [m for m, _ in c.calls])
    c.close()
