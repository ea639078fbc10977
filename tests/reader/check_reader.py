#!/usr/bin/env python3
"""Checks a fasten reader API endpoint (the read-only HTTP API of the fasten SDK, usually under
/api/v1/logs) against expectations computed from the SQLite store it serves.

Only behaviour the reader API defines is checked unconditionally; SDK-specific details (row keys,
error body style, HTML escaping, the `after` direction) are checked only when --flavor / --cursor
ask for them, so the same client can run against the emulation in this directory and against any
other implementation (fasten-mcp's `serve --http`).

Exit status 0 when every check passes; otherwise every failing check is printed and the exit
status is 1. Stdlib only. See tests/reader/README.md.
"""
import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fasten_rows as fr  # noqa: E402

REFUND = "3a7b1c9e4d20"
GO_KEYS = {"wire_version", "id", "origin_id", "monotonic_seq", "timestamp", "code", "action",
           "severity", "service_id", "source_node_id", "tenant_id", "actor", "actor_kind",
           "target", "category", "domain", "method", "request_id", "detail", "pii_in_detail",
           "canonical_form_id", "prev_hash"}
PY_KEYS = {"id", "origin_id", "monotonic_seq", "timestamp", "code", "action", "severity",
           "service_id", "source_node_id", "tenant_id", "actor", "actor_kind", "target",
           "category", "domain", "method", "request_id", "detail", "wire_version", "shipped_at",
           "canonical_form_id", "prev_hash", "hash", "detail_salt", "detail_commitment"}


class Resp:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        self.text = body.decode("utf-8", "replace")
        self._json = None

    def json(self):
        if self._json is None:
            self._json = json.loads(self.text)
        return self._json


class Checker:
    def __init__(self, args):
        self.a = args
        self.failures = []
        self.passed = 0
        self.notes = []

    # ---- plumbing ------------------------------------------------------------------------------

    def get(self, path, params=None, auth=True, tenant=True, headers=None):
        url = self.a.base.rstrip("/") + path
        if params:
            url += "?" + urllib.parse.urlencode(params)
        h = dict(headers or {})
        if auth and self.a.token:
            h["Authorization"] = "Bearer " + self.a.token
        if tenant and self.a.tenant_header and self.a.tenant is not None:
            h[self.a.tenant_header] = self.a.tenant
        req = urllib.request.Request(url, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=self.a.timeout) as r:
                return Resp(r.status, r.headers, r.read())
        except urllib.error.HTTPError as e:
            return Resp(e.code, e.headers, e.read())

    def check(self, name, cond, detail=""):
        if cond:
            self.passed += 1
        else:
            self.failures.append("%s%s" % (name, (": " + detail) if detail else ""))
        return cond

    def ok_json(self, name, path, params=None, **kw):
        r = self.get(path, params, **kw)
        if not self.check(name + " status 200", r.status == 200,
                          "got %d %s" % (r.status, r.text[:200])):
            return None
        try:
            return r.json()
        except ValueError:
            self.check(name + " JSON body", False, r.text[:200])
            return None

    def hard_error(self, name, path, params, status, **kw):
        """A hard error: the status and a plain-text (not JSON) body."""
        r = self.get(path, params, **kw)
        if not self.check("%s -> %d" % (name, status), r.status == status,
                          "got %d %s" % (r.status, r.text[:200])):
            return r
        ctype = (r.headers.get("Content-Type") or "")
        self.check("%s plain-text body" % name, ctype.startswith("text/plain") and r.text.strip()
                   and not r.text.lstrip().startswith("{"), "Content-Type %r body %r" % (ctype, r.text[:120]))
        if self.a.flavor == "go":
            self.check("%s go body ends with newline" % name, r.text.endswith("\n"), repr(r.text))
        elif self.a.flavor == "python":
            self.check("%s python body has no trailing newline" % name, not r.text.endswith("\n"),
                       repr(r.text))
        return r

    # ---- expectations --------------------------------------------------------------------------

    def load(self):
        a = self.a
        rows = fr.load_audit(a.audit_db, a.audit_table, a.node)
        if a.tenant is not None:
            rows = [r for r in rows if r["tenant_id"] == a.tenant]
        rows.sort(key=fr.read_order_key)
        self.audit = rows
        self.streams = {}
        for name, ring, table in (("sys", a.sys_ring, "syslog"), ("api", a.api_ring, "api_log")):
            if ring:
                srows, comp = fr.load_ring(ring), "ring"
            elif a.streams_from_db:
                srows, comp = fr.load_stream(a.audit_db, table), "store"
            else:
                srows, comp = None, None
            if srows is not None:
                srows.sort(key=lambda r: -int(r["seq"]))
                for r in srows:
                    r["_tenant"] = fr.payload_tenant(r["payload"])
                if a.tenant is not None:
                    srows = [r for r in srows if r["_tenant"] == a.tenant]
            self.streams[name] = (srows, comp)

    def audit_where(self, **eq):
        return [r for r in self.audit if all(r[k] == v for k, v in eq.items())]

    # ---- row comparison ------------------------------------------------------------------------

    def compare_rows(self, name, got, want, ordered=True):
        gids = [r.get("id") for r in got]
        wids = [r["id"] for r in want]
        if ordered:
            if not self.check(name + " rows in read order", gids == wids,
                              self.diff(gids, wids)):
                return False
        else:
            self.check(name + " row set", sorted(gids) == sorted(wids), self.diff(gids, wids))
        by_id = {r["id"]: r for r in want}
        bad = []
        for g in got:
            w = by_id.get(g.get("id"))
            if w is None:
                continue
            why = self.row_mismatch(g, w)
            if why:
                bad.append("%s: %s" % (w["id"], why))
        return self.check(name + " row contents", not bad, "; ".join(bad[:5]))

    @staticmethod
    def diff(got, want):
        gs, ws = set(got), set(want)
        return "got %d rows, want %d; unexpected %s; missing %s" % (
            len(got), len(want), sorted(gs - ws)[:5], sorted(ws - gs)[:5])

    def row_mismatch(self, g, w):
        for k in ("origin_id", "code", "action", "severity", "service_id", "source_node_id",
                  "tenant_id", "actor", "actor_kind", "target", "category", "domain", "method",
                  "request_id"):
            if g.get(k) != w[k]:
                return "%s %r != %r" % (k, g.get(k), w[k])
        if g.get("monotonic_seq") != int(w["monotonic_seq"]):
            return "monotonic_seq %r != %r" % (g.get("monotonic_seq"), w["monotonic_seq"])
        gt = fr.parse_ts(g.get("timestamp"))
        if w["_ts"] is not None and (gt is None or gt.us != w["_ts"].us):
            return "timestamp %r is not the instant %r" % (g.get("timestamp"), w["timestamp"])
        wd = json.loads(w["detail"]) if w["detail"] is not None else None
        gd = g.get("detail")
        if gd != wd and not (wd is None and gd in ({}, None)):
            return "detail %r != %r" % (gd, wd)
        if w["hash"] and g.get("hash") != w["hash"]:
            return "hash %r != %r" % (g.get("hash"), w["hash"])
        if self.a.flavor == "go":
            keys = set(GO_KEYS)
            if w["shipped_at"]:
                keys.add("shipped_at")
            if w["hash"]:
                keys.add("hash")
            if set(g) != keys:
                return "go row keys differ: extra %s missing %s" % (sorted(set(g) - keys),
                                                                   sorted(keys - set(g)))
            if not str(g.get("timestamp")).endswith("Z"):
                return "go timestamp %r is not RFC3339Nano (Z)" % g.get("timestamp")
        elif self.a.flavor == "python":
            if set(g) != PY_KEYS:
                return "python row keys differ: extra %s missing %s" % (
                    sorted(set(g) - PY_KEYS), sorted(PY_KEYS - set(g)))
            if not str(g.get("timestamp")).endswith("+00:00"):
                return "python timestamp %r is not isoformat (+00:00)" % g.get("timestamp")
        return None

    # ---- checks --------------------------------------------------------------------------------

    def check_audit_basic(self):
        d = self.ok_json("/audit", "/audit")
        if d is None:
            return
        for k in ("rows", "total", "limit", "offset", "next_after", "completeness"):
            self.check("/audit response has %s" % k, k in d, sorted(d))
        self.check("/audit default limit 100", d.get("limit") == 100, repr(d.get("limit")))
        self.check("/audit default offset 0", d.get("offset") == 0, repr(d.get("offset")))
        self.check("/audit total", d.get("total") == len(self.audit),
                   "got %r want %d" % (d.get("total"), len(self.audit)))
        self.check("/audit completeness", isinstance(d.get("completeness"), dict) and
                   d["completeness"].get("audit") in ("store", "store-degraded"),
                   repr(d.get("completeness")))
        rows = d.get("rows") or []
        self.compare_rows("/audit first page", rows, self.audit[:100])
        if rows:
            self.check("/audit next_after = smallest seq in page",
                       d.get("next_after") == min(r["monotonic_seq"] for r in rows),
                       repr(d.get("next_after")))
        d = self.ok_json("/audit limit 1000", "/audit", {"limit": 1000})
        if d is not None:
            self.check("/audit limit echoed", d.get("limit") == 1000, repr(d.get("limit")))
            self.compare_rows("/audit limit=1000", d.get("rows") or [], self.audit[:1000])

    def check_audit_offset_paging(self):
        limit = 500
        seen = []
        for off in range(0, len(self.audit) + limit, limit):
            d = self.ok_json("/audit offset paging", "/audit", {"limit": limit, "offset": off})
            if d is None:
                return
            rows = d.get("rows")
            self.check("/audit offset=%d offset echoed" % off, d.get("offset") == off)
            if not rows:
                break
            seen.extend(r["id"] for r in rows)
        dup = [i for i, n in Counter(seen).items() if n > 1]
        self.check("/audit offset paging has no repeats", not dup, repr(dup[:5]))
        self.check("/audit offset paging covers every row (in read order)",
                   seen == [r["id"] for r in self.audit], self.diff(seen, [r["id"] for r in self.audit]))

    def simulate_page(self, rows, after, limit):
        if after is None:
            sel = rows
        elif self.a.cursor == "older":
            sel = [r for r in rows if int(r["monotonic_seq"]) < after]
        else:
            sel = [r for r in rows if int(r["monotonic_seq"]) > after]
        return sel[:limit]

    def check_cursor(self):
        nodes = Counter(r["source_node_id"] for r in self.audit)
        if not nodes:
            self.notes.append("cursor checks skipped: no audit rows in scope")
            return
        for node in ([self.a.page_node or self.a.node] if (self.a.page_node or self.a.node)
                     else sorted(nodes)):
            self.check_cursor_node(node)

    def check_cursor_node(self, node):
        rows = [r for r in self.audit if r["source_node_id"] == node]
        limit = self.a.page_limit
        base = {"source_node_id": node, "limit": limit}
        name = "/audit after (%s, node %s)" % (self.a.cursor, node)
        seqs = sorted(int(r["monotonic_seq"]) for r in rows)
        if self.a.cursor == "older":
            # walk next_after until an empty page; each page exactly as the cursor defines it
            after, got, want_union, steps = None, [], [], 0
            while steps < len(rows) + 2:
                steps += 1
                params = dict(base)
                if after is not None:
                    params["after"] = after
                d = self.ok_json(name, "/audit", params)
                if d is None:
                    return
                page = d.get("rows") or []
                want = self.simulate_page(rows, after, limit)
                if not self.compare_rows("%s page after=%s" % (name, after), page, want):
                    return
                if not page:
                    self.check(name + " empty page has next_after null", d.get("next_after") is None,
                               repr(d.get("next_after")))
                    break
                got.extend(r["id"] for r in page)
                want_union.extend(r["id"] for r in want)
                after = d.get("next_after")
                if not self.check(name + " next_after is the smallest seq",
                                  after == min(r["monotonic_seq"] for r in page), repr(after)):
                    return
            dup = [i for i, n in Counter(got).items() if n > 1]
            self.check(name + " walk has no repeats", not dup, repr(dup[:5]))
            missing = {r["id"] for r in rows} - set(got)
            predicted = {r["id"] for r in rows} - set(want_union)
            self.check(name + " walk misses only rows the seq-only cursor skips", missing == predicted,
                       "missing %s" % sorted(missing - predicted)[:5])
            if predicted:
                self.notes.append("%s: %d row(s) skipped by the seq-only cursor (timestamps out "
                                  "of seq order across a page boundary; an upstream limitation)"
                                  % (name, len(predicted)))
        # pivots: every row after the cursor is in its direction, offset paging covers them all
        for frac in (0.25, 0.5, 0.9):
            pivot = seqs[int(len(seqs) * frac)] if seqs else 1
            if self.a.cursor == "older":
                want = [r for r in rows if int(r["monotonic_seq"]) < pivot]
            else:
                want = [r for r in rows if int(r["monotonic_seq"]) > pivot]
            got = []
            for off in range(0, len(want) + limit, limit):
                d = self.ok_json(name, "/audit", dict(base, after=pivot, offset=off))
                if d is None:
                    return
                page = d.get("rows") or []
                if not page:
                    break
                got.extend(page)
            bad = [r["monotonic_seq"] for r in got if
                   (r["monotonic_seq"] >= pivot if self.a.cursor == "older" else r["monotonic_seq"] <= pivot)]
            self.check("%s after=%d returns only %s rows" % (name, pivot, self.a.cursor), not bad,
                       "seqs %s" % bad[:8])
            self.compare_rows("%s after=%d with offset paging" % (name, pivot), got, want)

    def check_audit_filters(self):
        cases = [({"request_id": REFUND}, dict(request_id=REFUND)),
                 ({"code": "REFUND_ROLLED_BACK"}, dict(code="REFUND_ROLLED_BACK")),
                 ({"code": "NO_SUCH_CODE"}, dict(code="NO_SUCH_CODE"))]
        if self.audit:
            r0 = self.audit[len(self.audit) // 2]
            cases += [({"actor": r0["actor"], "domain": r0["domain"]},
                       dict(actor=r0["actor"], domain=r0["domain"])),
                      ({"target": r0["target"]}, dict(target=r0["target"])),
                      ({"source_node_id": r0["source_node_id"]}, dict(source_node_id=r0["source_node_id"]))]
        for params, eq in cases:
            want = self.audit_where(**eq)
            d = self.ok_json("/audit %s" % params, "/audit", dict(params, limit=1000))
            if d is None:
                continue
            self.check("/audit %s total" % params, d.get("total") == len(want),
                       "got %r want %d" % (d.get("total"), len(want)))
            self.compare_rows("/audit %s" % params, d.get("rows") if d.get("rows") is not None
                              else [{"id": "<rows is null>"}], want[:1000])
            if not want:
                self.check("/audit %s empty rows is []" % params, d.get("rows") == [], repr(d.get("rows")))
                self.check("/audit %s empty next_after null" % params, d.get("next_after") is None)
        since, until = "2026-11-20T14:00:00Z", "2026-11-20T15:00:00.5+00:00"
        s, u = fr.parse_ts(since), fr.parse_ts(until)
        want = [r for r in self.audit if r["_ts"] and s.us <= r["_ts"].us <= u.us]
        d = self.ok_json("/audit since/until", "/audit", {"since": since, "until": until, "limit": 1000})
        if d is not None:
            self.check("/audit since/until total", d.get("total") == len(want),
                       "got %r want %d" % (d.get("total"), len(want)))
            self.compare_rows("/audit since/until", d.get("rows") or [], want[:1000])

    def check_hard_errors(self):
        for params in ({"limit": 0}, {"limit": 1001}, {"limit": "abc"}, {"offset": -1},
                       {"after": 0}, {"after": "x"}, {"since": "yesterday"}, {"until": "2026-13-45"}):
            self.hard_error("/audit %s" % params, "/audit", params, 422)
        self.hard_error("/correlate limit=0", "/correlate", {"request_id": REFUND, "limit": 0}, 422)
        self.hard_error("/correlate limit=1001", "/correlate", {"request_id": REFUND, "limit": 1001}, 422)
        self.hard_error("/sys limit=1001", "/sys", {"limit": 1001}, 422)
        self.hard_error("/api limit=0", "/api", {"limit": 0}, 422)
        self.hard_error("/search limit=201", "/search",
                        {"q": "x", "since": "2026-11-20T00:00:00Z", "limit": 201}, 422)
        self.hard_error("/correlate without request_id", "/correlate", {}, 400)
        self.hard_error("/search unknown stream", "/search",
                        {"q": "x", "since": "2026-11-20T00:00:00Z", "streams": "sys,bogus"}, 400)
        r = self.hard_error("/search q too long", "/search",
                            {"q": "x" * 1025, "since": "2026-11-20T00:00:00Z"}, 400)
        self.check("/search q too long message", "1024" in r.text, repr(r.text[:100]))
        r = self.hard_error("/search without since", "/search", {"q": "stripe"}, 400)
        self.check("/search without since message", "since" in r.text, repr(r.text[:100]))
        r = self.hard_error("/search without q", "/search", {"since": "2026-11-20T00:00:00Z"}, 400)
        self.check("/search without q message", "q=" in r.text, repr(r.text[:100]))
        r = self.hard_error("/api with q", "/api", {"q": "stripe"}, 400)
        self.check("/api with q message", "/search?streams=api" in r.text, repr(r.text[:100]))
        self.hard_error("/sys q with level", "/sys",
                        {"q": "stripe", "level": "error", "since": "2026-11-20T00:00:00Z"}, 400)

    def check_auth_and_scope(self):
        a = self.a
        if a.token:
            r = self.hard_error("/audit without token", "/audit", None, 401, auth=False)
            # `unauthenticated` (bearer check) or `unauthenticated: tenant scope unresolved` when the
            # token is also what resolves the tenant
            self.check("/audit without token body", r.text.strip().startswith("unauthenticated"),
                       repr(r.text))
            r = self.hard_error("/audit wrong token", "/audit", None, 401, auth=False,
                                headers={"Authorization": "Bearer wrong-" + a.token})
            self.check("/audit wrong token body", r.text.strip().startswith("unauthenticated"), repr(r.text))
        if a.tenant is not None:
            if a.tenant_header:
                r = self.hard_error("/audit without tenant header", "/audit", None, 401, tenant=False)
                self.check("/audit without tenant body",
                           r.text.strip() == "unauthenticated: tenant scope unresolved", repr(r.text))
                r = self.hard_error("/audit empty tenant header", "/audit", None, 401, tenant=False,
                                    headers={a.tenant_header: ""})
            d = self.ok_json("/audit scoped", "/audit", {"limit": 1000})
            if d is not None:
                bad = [r.get("id") for r in d.get("rows") or [] if r.get("tenant_id") != a.tenant]
                self.check("/audit rows all in the scope tenant", not bad, repr(bad[:5]))
            foreign = a.foreign_tenant
            r = self.get("/audit", {"tenant_id": foreign, "limit": 50})
            if a.foreign_tenant_status == "ignore":
                if self.check("/audit foreign tenant_id ignored under scope (200)", r.status == 200,
                              "got %d %s" % (r.status, r.text[:200])):
                    self.compare_rows("/audit foreign tenant_id ignored", r.json().get("rows") or [],
                                      self.audit[:50])
            else:
                self.check("/audit foreign tenant_id -> %s" % a.foreign_tenant_status,
                           r.status == int(a.foreign_tenant_status), "got %d %s" % (r.status, r.text[:200]))
            for name in ("sys", "api"):
                d = self.ok_json("/%s scoped" % name, "/" + name, {"limit": 1000})
                if d is not None:
                    bad = [x for x in d.get("rows") or []
                           if not isinstance(x, dict) or x.get("tenant_id") != a.tenant]
                    self.check("/%s rows all carry the scope tenant" % name, not bad, repr(bad[:2]))
        else:
            all_rows = fr.load_audit(a.audit_db, a.audit_table, a.node)
            tenants = sorted({r["tenant_id"] for r in all_rows if r["tenant_id"]})
            for t in tenants[:2]:
                want = sorted((r for r in all_rows if r["tenant_id"] == t), key=fr.read_order_key)
                d = self.ok_json("/audit tenant_id=%s" % t, "/audit", {"tenant_id": t, "limit": 200})
                if d is not None:
                    self.check("/audit tenant_id=%s total" % t, d.get("total") == len(want),
                               "got %r want %d" % (d.get("total"), len(want)))
                    self.compare_rows("/audit tenant_id=%s" % t, d.get("rows") or [], want[:200])
            # an empty tenant_id: Python checks `is not None` (filters to nothing), Go ignores it
            if self.a.flavor in ("go", "python"):
                d = self.ok_json("/audit tenant_id=(empty)", "/audit", {"tenant_id": "", "limit": 10})
                if d is not None:
                    want = 0 if self.a.flavor == "python" else len(self.audit)
                    self.check("/audit empty tenant_id total (%s)" % self.a.flavor,
                               d.get("total") == want, "got %r want %d" % (d.get("total"), want))

    def check_correlate(self):
        d = self.ok_json("/correlate", "/correlate", {"request_id": REFUND})
        if d is None:
            return
        for k in ("request_id", "audit", "api", "sys", "counts", "totals", "truncated", "completeness"):
            self.check("/correlate has %s" % k, k in d, sorted(d))
        want_audit = self.audit_where(request_id=REFUND)
        self.check("/correlate request_id echoed", d.get("request_id") == REFUND)
        self.compare_rows("/correlate audit", d.get("audit") or [], want_audit)
        self.check("/correlate totals.audit", (d.get("totals") or {}).get("audit") == len(want_audit),
                   repr(d.get("totals")))
        for s in ("api", "sys"):
            srows, comp = self.streams[s]
            if srows is None:
                continue
            want = [r for r in srows if r["request_id"] == REFUND]
            self.check("/correlate %s rows" % s, d.get(s) == [json.loads(r["payload"]) for r in want],
                       "got %d want %d" % (len(d.get(s) or []), len(want)))
            self.check("/correlate totals.%s" % s, (d.get("totals") or {}).get(s) == len(want),
                       repr(d.get("totals")))
            self.check("/correlate completeness.%s" % s, (d.get("completeness") or {}).get(s) == comp,
                       repr(d.get("completeness")))
        for s in ("audit", "api", "sys"):
            c, t, tr = (d.get("counts") or {}).get(s), (d.get("totals") or {}).get(s), \
                (d.get("truncated") or {}).get(s)
            self.check("/correlate counts.%s = len(%s)" % (s, s), c == len(d.get(s) or []), repr(c))
            self.check("/correlate %s is a list" % s, isinstance(d.get(s), list), repr(d.get(s))[:50])
            if t is not None:
                self.check("/correlate truncated.%s = counts < totals" % s, tr == (c < t),
                           "counts %r totals %r truncated %r" % (c, t, tr))
        d = self.ok_json("/correlate limit=1", "/correlate", {"request_id": REFUND, "limit": 1})
        if d is not None:
            for s in ("audit", "api", "sys"):
                c, t, tr = d["counts"].get(s), d["totals"].get(s), d["truncated"].get(s)
                self.check("/correlate limit=1 counts.%s <= 1" % s, c is not None and c <= 1, repr(c))
                if t is not None:
                    self.check("/correlate limit=1 truncated.%s" % s, tr == (t > 1),
                               "totals %r truncated %r" % (t, tr))
        d = self.ok_json("/correlate unknown", "/correlate", {"request_id": "no-such-request"})
        if d is not None:
            for s in ("audit", "api", "sys"):
                self.check("/correlate unknown %s is []" % s, d.get(s) == [], repr(d.get(s)))

    def check_streams(self):
        for s, cases in (("sys", [{}, {"level": "error"}, {"request_id": REFUND},
                                  {"event": "stripe_webhook_failed"}, {"service_id": "payments-worker"},
                                  {"since": "2026-11-20T14:00:00Z", "until": "2026-11-20T15:00:00Z"}]),
                         ("api", [{}, {"status": "502"}, {"status": "0502"}, {"method": "POST"},
                                  {"request_id": REFUND},
                                  {"since": "2026-11-20T14:00:00Z", "until": "2026-11-20T15:00:00Z"}])):
            srows, comp = self.streams[s]
            for params in cases:
                d = self.ok_json("/%s %s" % (s, params), "/" + s, dict(params, limit=1000))
                if d is None or srows is None:
                    continue
                want = srows
                for k, v in params.items():
                    if k == "status":
                        want = [r for r in want if r["status"] is not None and int(r["status"]) == int(v)]
                    elif k == "since":
                        want = [r for r in want if (r["timestamp"] or "") >= fr.parse_ts(v).canonical()]
                    elif k == "until":
                        want = [r for r in want if (r["timestamp"] or "") <= fr.parse_ts(v).canonical()]
                    else:
                        want = [r for r in want if r[k] == v]
                want = want[:1000]
                got = d.get("rows")
                self.check("/%s %s rows is a list" % (s, params), isinstance(got, list), repr(got)[:50])
                self.check("/%s %s rows (seq DESC)" % (s, params),
                           got == [json.loads(r["payload"]) for r in want],
                           "got %d rows, want %d" % (len(got or []), len(want)))
                self.check("/%s %s completeness" % (s, params),
                           (d.get("completeness") or {}).get(s) == comp, repr(d.get("completeness")))
            if srows is not None:
                d = self.ok_json("/%s default limit" % s, "/" + s)
                if d is not None:
                    self.check("/%s default limit 100" % s, len(d.get("rows") or []) == min(100, len(srows)))

    def check_search(self):
        since = "2026-11-20T00:00:00Z"
        d = self.ok_json("/search", "/search", {"q": "STRIPE", "since": since,
                                                "streams": "audit,api,sys"})
        if d is None:
            return
        for k in ("matches", "counts", "completeness"):
            self.check("/search has %s" % k, k in d, sorted(d))
        # streams defaults to sys; /sys?q= runs the same search over sys
        d0 = self.ok_json("/search default streams", "/search", {"q": "stripe", "since": since})
        if d0 is not None:
            self.check("/search default streams is sys only",
                       {m.get("stream") for m in d0.get("matches") or []} <= {"sys"} and
                       set(d0.get("counts") or {}) | set(d0.get("errors") or {}) <= {"sys"},
                       repr(d0.get("counts")))
        srows, comp = self.streams["sys"]
        d1 = self.ok_json("/sys q=", "/sys", {"q": "Stripe", "since": since})
        if d1 is not None and srows is not None and comp == "store":
            want = [json.loads(r["payload"]) for r in srows if "stripe" in r["payload"].lower()
                    and (r["timestamp"] or "") >= fr.parse_ts(since).canonical()][:100]
            self.check("/sys q= rows", d1.get("rows") == want,
                       "got %d want %d" % (len(d1.get("rows") or []), len(want)))
        order = [m.get("stream") for m in d.get("matches") or []]
        rank = {"sys": 0, "api": 1, "audit": 2}
        self.check("/search matches ordered sys, api, audit", order == sorted(order, key=lambda s: rank.get(s, 9)),
                   repr(order[:20]))
        counts = Counter(order)
        for s in ("sys", "api"):
            srows, comp = self.streams[s]
            if srows is None:
                continue
            if comp == "store":
                want = [r for r in srows if "stripe" in r["payload"].lower()
                        and (r["timestamp"] or "") >= fr.parse_ts(since).canonical()][:50]
                self.check("/search counts.%s" % s, (d.get("counts") or {}).get(s) == len(want) == counts[s],
                           "counts %r matches %d want %d" % (d.get("counts"), counts[s], len(want)))
                rows = [m.get("row") for m in d["matches"] if m.get("stream") == s]
                self.check("/search %s rows" % s, rows == [json.loads(r["payload"]) for r in want])
            else:
                self.check("/search %s without a store is an error, not zero matches" % s,
                           s in (d.get("errors") or {}) and counts[s] == 0, repr(d.get("errors")))
        want = [r for r in self.audit if r["detail"] and "stripe" in r["detail"].lower()
                and r["_ts"] and r["_ts"].us >= fr.parse_ts(since).us][:50]
        self.check("/search counts.audit", (d.get("counts") or {}).get("audit") == len(want) == counts["audit"],
                   "counts %r matches %d want %d" % (d.get("counts"), counts["audit"], len(want)))
        rows = [m.get("row") for m in d["matches"] if m.get("stream") == "audit"]
        self.compare_rows("/search audit rows", rows, want)
        for m in (d.get("matches") or [])[:200]:
            if not all(k in m for k in ("stream", "request_id", "ts", "summary", "row")):
                self.check("/search match keys", False, sorted(m))
                break
            if m["stream"] == "audit":
                ok = m["summary"] == m["row"].get("code")
            elif m["stream"] == "sys":
                ok = m["summary"] == m["row"].get("event")
            else:
                ok = m["summary"] == "%s %s" % (m["row"].get("method"), m["row"].get("path"))
            if not self.check("/search %s summary" % m["stream"], ok, repr(m["summary"])):
                break

    def check_topology(self):
        d = self.ok_json("/topology", "/topology")
        if d is None:
            return
        for k in ("sources", "nodes", "services", "tenants"):
            self.check("/topology has %s" % k, k in d, sorted(d))
        want = Counter((r["source_node_id"], r["service_id"], r["tenant_id"]) for r in self.audit)
        got = {}
        for s in d.get("sources") or []:
            got[(s.get("source_node_id"), s.get("service_id"), s.get("tenant_id"))] = s.get("rows")
        self.check("/topology groups and row counts", got == dict(want),
                   "got %s want %s" % (sorted(got.items())[:4], sorted(want.items())[:4]))
        counts = [s.get("rows") for s in d.get("sources") or []]
        self.check("/topology ordered by rows descending", counts == sorted(counts, reverse=True), repr(counts))
        for s in d.get("sources") or []:
            mine = [r["_ts"].us for r in self.audit if (r["source_node_id"], r["service_id"],
                    r["tenant_id"]) == (s.get("source_node_id"), s.get("service_id"), s.get("tenant_id"))
                    and r["_ts"]]
            f, l = fr.parse_ts(s.get("first_seen")), fr.parse_ts(s.get("last_seen"))
            if mine and not self.check("/topology first_seen/last_seen", f and l and f.us == min(mine)
                                       and l.us == max(mine), repr(s)):
                break
        for k, idx in (("nodes", 0), ("services", 1), ("tenants", 2)):
            distinct = {g[idx] for g in want if g[idx] is not None}
            v = d.get(k)
            self.check("/topology %s" % k, v == len(distinct) or
                       (isinstance(v, list) and sorted(v) == sorted(distinct)), repr(v))

    def check_doctor(self):
        d = self.ok_json("/audit/doctor", "/audit/doctor", tenant=False)
        if d is None:
            return
        shape = {"store": ("kind", "reachable", "rows", "last_insert_at", "last_error"),
                 "transport": ("stdout_active", "syslog_ring_depth", "api_ring_depth"),
                 "redactor": ("active",),
                 "init": ("service_id", "node_id", "tenant_id", "failure_strategy", "worker_pid"),
                 "chain": ("verified", "breaks", "last_verified_at", "first_break_at", "reason", "error")}
        self.check("/audit/doctor has queue", "queue" in d, sorted(d))
        for sec, keys in shape.items():
            v = d.get(sec)
            if not self.check("/audit/doctor section %s" % sec, isinstance(v, dict), repr(v)[:80]):
                continue
            missing = [k for k in keys if k not in v]
            self.check("/audit/doctor %s fields" % sec, not missing, "missing %s" % missing)
        chain = d.get("chain") or {}
        ver, brk = chain.get("verified"), chain.get("breaks")
        self.check("/audit/doctor chain: verified and breaks null together",
                   (ver is None) == (brk is None), repr(chain))
        self.check("/audit/doctor chain: verified is null, never 0, when nothing was verified",
                   ver is None or (isinstance(ver, int) and ver >= 1), repr(ver))
        if self.a.node:
            latest = sorted(fr.load_audit(self.a.audit_db, self.a.audit_table, self.a.node),
                            key=lambda r: -int(r["monotonic_seq"]))[:50]
            sealed = [r for r in latest if r["hash"]]
            if not sealed:
                self.check("/audit/doctor chain null for a node without sealed rows",
                           ver is None and brk is None, repr(chain))
            else:
                want_ver, want_brk, _ = fr.verify_rows(latest)
                self.check("/audit/doctor chain verdict on the latest 50 rows",
                           brk == (0 if want_brk is None else 1) and ver == want_ver, repr(chain))

    def check_no_audit_store(self):
        for path in ("/audit",):
            d = self.ok_json("%s without audit store" % path, path)
            if d is not None:
                self.check("%s soft error" % path, d.get("error") == "audit store not configured", repr(d))
        d = self.ok_json("/sys without audit store", "/sys")
        if d is not None:
            self.check("/sys without audit store still answers rows", isinstance(d.get("rows"), list),
                       repr(d)[:200])

    def check_html_escaping(self):
        if self.a.flavor not in ("go", "python"):
            return
        cand = [r for r in self.audit if r["detail"] and "<" in (r["detail"] or "")]
        if not cand:
            self.notes.append("html escaping check skipped: no detail with '<'")
            return
        r = self.get("/audit", {"request_id": cand[0]["request_id"], "limit": 1000})
        if not self.check("/audit (html escaping probe) status", r.status == 200, str(r.status)):
            return
        if self.a.flavor == "go":
            self.check("go JSON escapes '<' as \\u003c", "\\u003c" in r.text and "<" not in r.text,
                       r.text[:200])
        else:
            self.check("python JSON keeps '<' literal", "<" in r.text and "\\u003c" not in r.text,
                       r.text[:200])

    def run(self):
        if self.a.expect_no_audit_store:
            self.check_no_audit_store()
            return
        self.load()
        for step in (self.check_audit_basic, self.check_audit_offset_paging, self.check_cursor,
                     self.check_audit_filters, self.check_hard_errors, self.check_auth_and_scope,
                     self.check_correlate, self.check_streams, self.check_search,
                     self.check_topology, self.check_doctor, self.check_html_escaping):
            try:
                step()
            except (urllib.error.URLError, OSError):
                raise
            except Exception as e:  # noqa: BLE001 - an unexpected response shape is a failure
                self.failures.append("%s stopped on an unexpected response: %s: %s"
                                     % (step.__name__, type(e).__name__, e))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--base", required=True, help="reader API base URL, e.g. http://127.0.0.1:8080/api/v1/logs")
    p.add_argument("--audit-db", help="the SQLite store the reader serves (expectations)")
    p.add_argument("--audit-table", default="audit_log")
    p.add_argument("--node", help="the reader serves only this source_node_id's audit rows")
    p.add_argument("--page-node", help="walk the `after` cursor over this node only (default: "
                   "every node, one at a time)")
    p.add_argument("--page-limit", type=int, default=97)
    p.add_argument("--token", help="bearer token to send")
    p.add_argument("--tenant", help="the tenant the reader scopes to (expectations)")
    p.add_argument("--tenant-header", help="send --tenant in this request header")
    p.add_argument("--foreign-tenant", default="no-such-tenant-x",
                   help="tenant_id sent to probe scoping")
    p.add_argument("--foreign-tenant-status", choices=("ignore", "403"), default="ignore",
                   help="under a scope a foreign ?tenant_id= is ignored (upstream) or refused (403)")
    p.add_argument("--flavor", choices=("go", "python", "any"), default="any",
                   help="also check this SDK's row keys, error body and JSON escaping")
    p.add_argument("--cursor", choices=("older", "newer"), default="older",
                   help="direction of `after`: older = seq < after, newer = seq > after")
    p.add_argument("--sys-ring", help="the sys NDJSON ring the reader serves (completeness ring)")
    p.add_argument("--api-ring", help="the api NDJSON ring the reader serves (completeness ring)")
    p.add_argument("--no-streams-from-db", dest="streams_from_db", action="store_false",
                   help="do not take sys/api expectations from --audit-db's syslog/api_log tables")
    p.add_argument("--expect-no-audit-store", action="store_true",
                   help="the reader has no audit store: expect the soft error")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    args = p.parse_args(argv)
    if not args.audit_db and not args.expect_no_audit_store:
        p.error("--audit-db is required")
    c = Checker(args)
    try:
        c.run()
    except (urllib.error.URLError, OSError) as e:
        c.failures.append("transport: %s" % e)
    for n in c.notes:
        print("note:", n)
    for f in c.failures:
        print("FAIL:", f)
    print("%d check(s) passed, %d failed" % (c.passed, len(c.failures)))
    return 1 if c.failures else 0


if __name__ == "__main__":
    sys.exit(main())
