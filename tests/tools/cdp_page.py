#!/usr/bin/env python3
"""Drives one page in headless Chromium over the DevTools protocol (--remote-debugging-pipe, so
no port and no websocket library) and prints what a browser test needs as one JSON object:
console errors and uncaught exceptions, screenshots at 1280 and 390 px (light) and 1280 px
(dark), a walk of the page with the Tab key (what got focus, its accessible name as Chromium
computes it, whether the focus is visible), the focusable elements Tab never reached, and the
values of expressions evaluated in the page.

usage: cdp_page.py URL SHOT_PREFIX [options]
  --ready EXPR        wait (20 s) until EXPR is true after each load (default: body data-ready)
  --token KEY=VALUE   put KEY=VALUE in sessionStorage before the page's scripts run
  --login TOKEN       wait for the token form, type TOKEN into it and press Enter
  --step sh:CMD       run CMD (a shell command) with the page open
  --step wait:S:EXPR  wait up to S seconds for EXPR to be true in the page (else a failure)
  --step eval:EXPR    evaluate EXPR then (its JSON value is in "evals", before those of --eval)
  --step focus:CSS    move the focus to the element CSS selects (as Tab would)
  --step type:TEXT    type TEXT into the focused element
  --step key:NAME     press Enter, Tab or Space
  --eval EXPR         evaluate EXPR at the end (its JSON value is in "evals")
  --allow TEXT        ignore console errors containing TEXT (e.g. an expected 401)
"""
import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import time

FOCUSABLE = """(() => {
  const sel = 'a[href], button:not([disabled]), input:not([disabled]):not([type=hidden]), ' +
              'select:not([disabled]), textarea:not([disabled]), summary, [tabindex]';
  return [...document.querySelectorAll(sel)]
    .filter(e => e.tabIndex >= 0 && e.checkVisibility({visibilityProperty: true}))
    .map(e => e.outerHTML.slice(0, 120));
})()"""

DESCRIBE = """(() => {
  const e = document.activeElement;
  if (!e || e === document.body) return null;
  const cs = getComputedStyle(e);
  const outline = cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) > 0;
  return {html: e.outerHTML.slice(0, 120), outline: outline || cs.boxShadow !== 'none'};
})()"""


class Browser:
    def __init__(self, profile):
        r1, w1 = os.pipe()  # we write commands -> chromium reads fd 3
        r2, w2 = os.pipe()  # chromium writes fd 4 -> we read
        self.proc = subprocess.Popen(
            ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--remote-debugging-pipe", "--user-data-dir=" + profile,
             "about:blank"],
            pass_fds=(3, 4), preexec_fn=lambda: (os.dup2(r1, 3), os.dup2(w2, 4)),
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(profile, "chromium.log"), "w"))
        os.close(r1)
        os.close(w2)
        self.w, self.r = w1, r2
        self.buf = b""
        self.next_id = 0
        self.events = []
        self.session = None

    def send(self, method, params=None, session=True, timeout=30):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        deadline = time.time() + timeout
        while True:
            m = self.read(deadline)
            if m is None:
                raise RuntimeError("no answer to " + method)
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError(method + ": " + json.dumps(m["error"]))
                return m.get("result", {})
            self.events.append(m)

    def read(self, deadline):
        import select
        while b"\0" not in self.buf:
            left = deadline - time.time()
            if left <= 0 or not select.select([self.r], [], [], left)[0]:
                return None
            chunk = os.read(self.r, 1 << 20)
            if not chunk:
                return None
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def pump(self, seconds):
        deadline = time.time() + seconds
        while True:
            m = self.read(deadline)
            if m is None:
                return
            self.events.append(m)

    def eval(self, expr):
        r = self.send("Runtime.evaluate", {"expression": expr, "returnByValue": True,
                                           "awaitPromise": True})
        if "exceptionDetails" in r:
            raise RuntimeError("evaluating %s: %s" % (expr, json.dumps(r["exceptionDetails"])[:400]))
        return r["result"].get("value")

    def wait(self, expr, seconds):
        deadline = time.time() + seconds
        while time.time() < deadline:
            try:
                if self.eval("!!(%s)" % expr):
                    return True
            except RuntimeError:
                pass  # the page is between documents, or EXPR reads what is not there yet
            self.pump(0.1)
        return False

    def close(self):
        try:
            self.send("Browser.close", session=False, timeout=5)
        except Exception:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def key(b, name, code, vk, shift=False):
    mods = 8 if shift else 0
    base = {"key": name, "code": code, "windowsVirtualKeyCode": vk, "modifiers": mods}
    b.send("Input.dispatchKeyEvent", dict(base, type="rawKeyDown"))
    if name in ("Enter", " "):
        b.send("Input.dispatchKeyEvent", dict(base, type="char",
                                              text="\r" if name == "Enter" else " "))
    b.send("Input.dispatchKeyEvent", dict(base, type="keyUp"))


def ax_name(b):
    obj = b.send("Runtime.evaluate", {"expression": "document.activeElement"})["result"]
    nodes = b.send("Accessibility.getPartialAXTree",
                   {"objectId": obj["objectId"], "fetchRelatives": False})["nodes"]
    for n in nodes:
        if not n.get("ignored"):
            return (n.get("name") or {}).get("value", ""), (n.get("role") or {}).get("value", "")
    return "", ""


def tab_walk(b):
    # Tab starts where focus last was: put that point at the top of the page
    b.eval("(() => { const d = document.body; d.tabIndex = -1; d.focus(); "
           "d.removeAttribute('tabindex'); window.scrollTo(0, 0); })()")
    seen, order, empty = set(), [], 0
    for _ in range(300):
        key(b, "Tab", "Tab", 9)
        d = b.eval(DESCRIBE)
        if not d:
            empty += 1
            if empty > 2:
                break
            continue
        if d["html"] in seen:
            break
        seen.add(d["html"])
        name, role = ax_name(b)
        d.update(name=name, role=role)
        order.append(d)
    return order


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("shot")
    ap.add_argument("--ready", default="document.body && document.body.dataset.ready === '1'")
    ap.add_argument("--token", action="append", default=[])
    ap.add_argument("--login")
    ap.add_argument("--step", action="append", default=[])
    ap.add_argument("--eval", action="append", default=[])
    ap.add_argument("--allow", action="append", default=[])
    a = ap.parse_args()
    out = {"url": a.url, "failures": [], "screenshots": [], "evals": []}
    with tempfile.TemporaryDirectory() as profile:
        b = Browser(profile)
        try:
            tid = b.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            b.session = b.send("Target.attachToTarget", {"targetId": tid, "flatten": True},
                               session=False)["sessionId"]
            for d in ("Page", "Runtime", "Log"):
                b.send(d + ".enable")
            if a.token:
                js = "".join("sessionStorage.setItem(%s, %s);" % tuple(
                    json.dumps(x) for x in t.split("=", 1)) for t in a.token)
                b.send("Page.addScriptToEvaluateOnNewDocument", {"source": js})
            first = True
            for width, height, scheme in ((1280, 900, "light"), (390, 844, "light"),
                                          (1280, 900, "dark")):
                b.send("Emulation.setDeviceMetricsOverride", {
                    "width": width, "height": height, "deviceScaleFactor": 1,
                    "mobile": width < 500})
                b.send("Emulation.setEmulatedMedia", {"features": [
                    {"name": "prefers-color-scheme", "value": scheme}]})
                if first:
                    b.send("Page.navigate", {"url": a.url})
                    if a.login:
                        if not b.wait("document.getElementById('auth') && "
                                      "!document.getElementById('auth').hidden", 20):
                            out["failures"].append("the token form was not shown")
                        else:
                            b.eval("document.getElementById('auth-token').focus()")
                            b.send("Input.insertText", {"text": a.login})
                            key(b, "Enter", "Enter", 13)
                    if not b.wait(a.ready, 20):
                        out["failures"].append("not ready: " + a.ready)
                    for s in a.step:
                        kind, _, rest = s.partition(":")
                        if kind == "sh":
                            subprocess.run(rest, shell=True, check=False)
                        elif kind == "focus":
                            b.eval("document.querySelector(%s).focus()" % json.dumps(rest))
                        elif kind == "type":
                            b.send("Input.insertText", {"text": rest})
                        elif kind == "key":
                            key(b, *{"Enter": ("Enter", "Enter", 13), "Tab": ("Tab", "Tab", 9),
                                     "Space": (" ", "Space", 32)}[rest])
                        elif kind == "eval":
                            out["evals"].append(b.eval(rest))
                        elif kind == "wait":
                            secs, _, expr = rest.partition(":")
                            t0 = time.time()
                            ok = b.wait(expr, float(secs))
                            out.setdefault("waits", []).append(
                                {"expr": expr, "ok": ok, "seconds": round(time.time() - t0, 2)})
                            if not ok:
                                out["failures"].append("not within %s s: %s" % (secs, expr))
                    first = False
                b.pump(0.3)
                png = base64.b64decode(b.send("Page.captureScreenshot", {"format": "png"})["data"])
                name = "%s-%d-%s.png" % (a.shot, width, scheme)
                with open(name, "wb") as f:
                    f.write(png)
                out["screenshots"].append(name)
            b.send("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 900,
                                                          "deviceScaleFactor": 1, "mobile": False})
            order = tab_walk(b)
            out["tab"] = order
            reached = {d["html"] for d in order}
            for html in b.eval(FOCUSABLE):
                if html not in reached:
                    out["failures"].append("not reachable with Tab: " + html)
            for d in order:
                if not d["name"].strip():
                    out["failures"].append("no accessible name: " + d["html"])
                if not d["outline"]:
                    out["failures"].append("focus not visible: " + d["html"])
            for e in a.eval:
                out["evals"].append(b.eval(e))
            b.pump(0.2)
        finally:
            b.close()
    errors = []
    for m in b.events:
        meth, p = m.get("method"), m.get("params", {})
        text = None
        if meth == "Runtime.exceptionThrown":
            d = p["exceptionDetails"]
            text = "exception: " + (d.get("exception", {}).get("description") or d.get("text"))
        elif meth == "Runtime.consoleAPICalled" and p["type"] in ("error", "assert", "warning"):
            text = "console.%s: %s" % (p["type"], " ".join(
                str(x.get("value", x.get("description", ""))) for x in p["args"]))
        elif meth == "Log.entryAdded" and p["entry"]["level"] in ("error", "warning"):
            text = "log: %s (%s)" % (p["entry"]["text"], p["entry"].get("url", ""))
        if text and not any(s in text for s in a.allow):
            errors.append(text)
    out["console_errors"] = errors
    out["failures"] += ["console: " + e for e in errors]
    json.dump(out, sys.stdout, indent=1)
    print()
    return 1 if out["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
