#!/usr/bin/env python3
"""An emulation of the fasten reader API (the read-only HTTP API the fasten SDK mounts, usually
under /api/v1/logs), serving a fasten SQLite store. Both SDK behaviours are selectable: --flavor
go|python picks error styles, row shapes, JSON encoding and the `after` cursor direction.

Stdlib only. See tests/reader/README.md for the endpoints, flags and the choices made where the
upstream behaviour is not pinned down.

Prints `listening 127.0.0.1:PORT` as its first stdout line.
"""
import argparse
import hmac
import json
import os
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fasten_rows as fr  # noqa: E402

MAX_QUERY_LENGTH = 1024
AUDIT_FILTERS = ("request_id", "code", "domain", "source_node_id", "tenant_id", "actor", "target")


class HardError(Exception):
    def __init__(self, status, text):
        super().__init__(text)
        self.status = status
        self.text = text


def int_param(q, name, default, lo, hi=None):
    """422 when the value is not an integer in [lo, hi]."""
    if name not in q:
        return default
    raw = q[name]
    try:
        v = int(raw, 10)
    except ValueError:
        raise HardError(422, "%s: not an integer: %r" % (name, raw))
    if v < lo or (hi is not None and v > hi):
        if hi is None:
            raise HardError(422, "%s must be >= %d" % (name, lo))
        raise HardError(422, "%s must be between %d and %d" % (name, lo, hi))
    return v


class Reader:
    def __init__(self, args):
        self.args = args
        self.go = args.flavor == "go"
        self.cursor = args.cursor or ("newer" if self.go else "older")
        self.audit = None
        if args.audit_db and not args.no_audit_store:
            self.audit = fr.load_audit(args.audit_db, args.audit_table, args.node)
            self.audit.sort(key=fr.read_order_key)
        # streams: (rows newest first, completeness)
        self.streams = {}
        for name, ring, db, table in (("sys", args.sys_ring, args.sys_db, "syslog"),
                                      ("api", args.api_ring, args.api_db, "api_log")):
            if db:
                rows, comp = fr.load_stream(db, table), "store"
            elif ring:
                rows, comp = fr.load_ring(ring), "ring"
            else:
                rows, comp = [], "ring"
            rows.sort(key=lambda r: -int(r["seq"]))
            for r in rows:
                r["_tenant"] = fr.payload_tenant(r["payload"])
                r["_lower"] = r["payload"].encode("utf-8").lower().decode("utf-8")
            self.streams[name] = (rows, comp)
        self.tenant_tokens = {}
        for spec in args.tenant_token or ():
            tok, _, tenant = spec.partition("=")
            self.tenant_tokens[tok] = tenant
        self.scoped = bool(args.tenant_header or self.tenant_tokens)
        self.requests = 0
        self.lock = threading.Lock()

    # ---- shaping -------------------------------------------------------------------------------

    def render_ts(self, raw, parsed):
        if parsed is None:
            return raw
        return parsed.rfc3339nano() if self.go else parsed.isoformat()

    def audit_row(self, r):
        ts = self.render_ts(r["timestamp"], r["_ts"])
        shipped = self.render_ts(r["shipped_at"], r["_shipped"]) if r["shipped_at"] else None
        if self.go:
            # Go rowToMap: tenant_id always present; shipped_at only when set, hash only when
            # non-empty.
            out = {"wire_version": r["wire_version"] or "1", "id": r["id"],
                   "origin_id": r["origin_id"], "monotonic_seq": int(r["monotonic_seq"]),
                   "timestamp": ts}
            for k in ("code", "action", "severity", "service_id", "source_node_id", "tenant_id",
                      "actor", "actor_kind", "target", "category", "domain", "method",
                      "request_id"):
                out[k] = r[k]
            out["detail"] = r["_detail"] if r["_detail"] is not None else {}
            out["pii_in_detail"] = bool(r["pii_in_detail"])
            out["canonical_form_id"] = r["canonical_form_id"]
            out["prev_hash"] = r["prev_hash"]
            if shipped:
                out["shipped_at"] = shipped
            if r["hash"]:
                out["hash"] = r["hash"]
            return out
        # Python: dataclasses.asdict(AuditRow), datetimes as isoformat; no pii_in_detail.
        out = {}
        for k in ("id", "origin_id", "monotonic_seq", "timestamp", "code", "action", "severity",
                  "service_id", "source_node_id", "tenant_id", "actor", "actor_kind", "target",
                  "category", "domain", "method", "request_id", "detail", "wire_version",
                  "shipped_at", "canonical_form_id", "prev_hash", "hash", "detail_salt",
                  "detail_commitment"):
            out[k] = r[k]
        out["monotonic_seq"] = int(r["monotonic_seq"])
        out["timestamp"] = ts
        out["shipped_at"] = shipped
        out["detail"] = r["_detail"]
        return out

    def stream_row(self, r):
        try:
            return fr.loads(r["payload"])
        except ValueError:
            return r["payload"]

    def encode(self, obj):
        if self.go:
            # encoding/json: compact, map keys sorted, HTML escaping on, raw UTF-8, newline.
            return (fr.dumps(obj, ensure_ascii=False, html=True, sort_keys=True) + "\n").encode()
        return fr.dumps(obj, ensure_ascii=False).encode()

    # ---- parameters ----------------------------------------------------------------------------

    def time_param(self, q, name):
        if name not in q:
            return None
        t = fr.parse_ts(q[name], require_offset=self.go)
        if t is None:
            raise HardError(422, "%s: not an RFC 3339 timestamp: %r" % (name, q[name]))
        return t

    def tenant_scope(self, headers):
        """None when unscoped; else the tenant (401 when unresolved or empty)."""
        if not self.scoped:
            return None
        tenant = None
        if self.args.tenant_header:
            tenant = headers.get(self.args.tenant_header)
        else:
            auth = headers.get("Authorization") or ""
            if auth.startswith("Bearer "):
                tenant = self.tenant_tokens.get(auth[len("Bearer "):])
        if not tenant:
            raise HardError(401, "unauthenticated: tenant scope unresolved")
        return tenant

    def tenant_filter(self, q, scope):
        """The tenant filter in force: scope wins; `?tenant_id=` is ignored under a scope."""
        if scope is not None:
            return scope
        if "tenant_id" in q:
            if q["tenant_id"] == "" and self.go:
                return None  # Go treats an empty value as absent
            return q["tenant_id"]  # Python: an empty tenant_id filters to nothing
        return None

    # ---- endpoints -----------------------------------------------------------------------------

    def audit_matches(self, q, scope, since, until, with_filters=True):
        tenant = self.tenant_filter(q, scope)
        out = []
        for r in self.audit:
            if tenant is not None and r["tenant_id"] != tenant:
                continue
            if with_filters:
                skip = False
                for k in AUDIT_FILTERS:
                    if k == "tenant_id":
                        continue
                    v = q.get(k)
                    if v is not None and (v != "" or not self.go) and r[k] != v:
                        skip = True
                        break
                if skip:
                    continue
            if since or until:
                ts = r["_ts"]
                if ts is None or (since and ts.us < since.us) or (until and ts.us > until.us):
                    continue
            out.append(r)
        return out

    def get_audit(self, q, scope):
        limit = int_param(q, "limit", 100, 1, 1000)
        offset = int_param(q, "offset", 0, 0)
        after = int_param(q, "after", None, 1)
        since, until = self.time_param(q, "since"), self.time_param(q, "until")
        if self.audit is None:
            return {"error": "audit store not configured"}
        rows = self.audit_matches(q, scope, since, until)
        total = len(rows)
        if after is not None:
            if self.cursor == "older":
                rows = [r for r in rows if int(r["monotonic_seq"]) < after]
            else:
                rows = [r for r in rows if int(r["monotonic_seq"]) > after]
        page = rows[offset:offset + limit]
        return {"rows": [self.audit_row(r) for r in page], "total": total, "limit": limit,
                "offset": offset,
                "next_after": min(int(r["monotonic_seq"]) for r in page) if page else None,
                "completeness": {"audit": "store"}}

    def stream_select(self, name, q, scope, filters, since, until):
        rows, _ = self.streams[name]
        tenant = scope
        out = []
        for r in rows:
            if tenant is not None and r["_tenant"] != tenant:
                continue
            ok = True
            for k in filters:
                v = q.get(k)
                if v is None or (v == "" and self.go):
                    continue
                if k == "status":
                    try:
                        want = int(v, 10)
                    except ValueError:
                        raise HardError(422, "status: not an integer: %r" % v)
                    if r["status"] is None or int(r["status"]) != want:
                        ok = False
                        break
                elif r[k] != v:
                    ok = False
                    break
            if not ok:
                continue
            ts = r["timestamp"] or ""
            if since and ts < since.canonical():
                continue
            if until and ts > until.canonical():
                continue
            out.append(r)
        return out

    def search_guards(self, q, since):
        text = q.get("q")
        if text is not None and len(text) > MAX_QUERY_LENGTH:
            raise HardError(400, "q= is capped at %d characters" % MAX_QUERY_LENGTH)
        if self.args.search_disabled:
            raise HardError(400, "search disabled: set FASTEN_SEARCH_ENABLED")
        if since is None:
            raise HardError(400, "q= search requires a 'since' bound (no unbounded scans)")
        if not text:
            raise HardError(400, "q= is required")
        return text.encode("utf-8").lower().decode("utf-8")

    def stream_search(self, name, needle, scope, since, until, limit):
        rows, comp = self.streams[name]
        if comp != "store":
            return None, "%s search requires %s persistence (a stream store)" % (name, name)
        hits = [r for r in self.stream_select(name, {}, scope, (), since, until)
                if needle in r["_lower"]]
        return hits[:limit], None

    def get_stream(self, name, q, scope):
        filters = ("level", "request_id", "service_id", "event") if name == "sys" else \
            ("method", "path", "request_id", "status")
        if name == "api" and "q" in q:
            raise HardError(400, "free-text q= not accepted on /api \u2014 use /search?streams=api")
        if name == "sys" and "q" in q and any(k in q for k in filters):
            raise HardError(400, "q= cannot be combined with level, request_id, service_id or event")
        limit = int_param(q, "limit", 100, 1, 1000)
        since, until = self.time_param(q, "since"), self.time_param(q, "until")
        _, comp = self.streams[name]
        if name == "sys" and "q" in q:
            needle = self.search_guards(q, since)
            hits, err = self.stream_search("sys", needle, scope, since, until, limit)
            if err:
                return {"rows": [], "completeness": {"sys": comp}, "error": err}
            return {"rows": [self.stream_row(r) for r in hits], "completeness": {"sys": comp}}
        rows = self.stream_select(name, q, scope, filters, since, until)[:limit]
        return {"rows": [self.stream_row(r) for r in rows], "completeness": {name: comp}}

    def get_correlate(self, q, scope):
        rid = q.get("request_id")
        if not rid:
            raise HardError(400, "request_id is required")
        limit = int_param(q, "limit", 100, 1, 1000)
        out = {"request_id": rid, "audit": [], "api": [], "sys": [],
               "counts": {}, "totals": {}, "truncated": {}, "completeness": {}}
        if self.audit is None:
            out["totals"]["audit"] = None
            out["truncated"]["audit"] = None
            out["counts"]["audit"] = 0
            out["completeness"]["audit"] = None
            out["error"] = "audit store not configured"
        else:
            matches = [r for r in self.audit if r["request_id"] == rid and
                       (scope is None or r["tenant_id"] == scope)]
            out["audit"] = [self.audit_row(r) for r in matches[:limit]]
            out["counts"]["audit"] = len(out["audit"])
            out["totals"]["audit"] = len(matches)
            out["truncated"]["audit"] = len(matches) > limit
            out["completeness"]["audit"] = "store"
        for name in ("api", "sys"):
            matches = self.stream_select(name, {"request_id": rid}, scope, ("request_id",), None, None)
            out[name] = [self.stream_row(r) for r in matches[:limit]]
            out["counts"][name] = len(out[name])
            out["totals"][name] = len(matches)
            out["truncated"][name] = len(matches) > limit
            out["completeness"][name] = self.streams[name][1]
        return out

    def get_search(self, q, scope):
        limit = int_param(q, "limit", 50, 1, 200)
        streams = [s.strip() for s in (q.get("streams") or "sys").split(",") if s.strip()]
        for s in streams:
            if s not in ("audit", "api", "sys"):
                raise HardError(400, "unknown stream %r (allowed: audit, api, sys)" % s)
        since, until = self.time_param(q, "since"), self.time_param(q, "until")
        needle = self.search_guards(q, since)
        out = {"matches": [], "counts": {}, "completeness": {}}
        errors = {}
        for s in ("sys", "api", "audit"):
            if s not in streams:
                continue
            if s == "audit":
                if self.audit is None:
                    errors["audit"] = "audit search requires an audit store"
                    continue
                tq = {"tenant_id": q["tenant_id"]} if "tenant_id" in q else {}
                hits = [r for r in self.audit_matches(tq, scope, since, until, with_filters=False)
                        if r["detail"] is not None and
                        needle in r["detail"].encode("utf-8").lower().decode("utf-8")][:limit]
                for r in hits:
                    out["matches"].append({"stream": "audit", "request_id": r["request_id"],
                                           "ts": self.render_ts(r["timestamp"], r["_ts"]),
                                           "summary": r["code"], "row": self.audit_row(r)})
                out["counts"]["audit"] = len(hits)
                out["completeness"]["audit"] = "store"
                continue
            hits, err = self.stream_search(s, needle, scope, since, until, limit)
            out["completeness"][s] = self.streams[s][1]
            if err:
                errors[s] = err
                continue
            for r in hits:
                summary = r["event"] if s == "sys" else "%s %s" % (r["method"], r["path"])
                out["matches"].append({"stream": s, "request_id": r["request_id"],
                                       "ts": r["timestamp"], "summary": summary,
                                       "row": self.stream_row(r)})
            out["counts"][s] = len(hits)
        if errors:
            out["errors"] = errors
        return out

    def get_topology(self, q, scope):
        since, until = self.time_param(q, "since"), self.time_param(q, "until")
        if self.audit is None:
            return {"error": "audit store not configured"}
        groups = {}
        for r in self.audit_matches({}, scope, since, until, with_filters=False):
            key = (r["source_node_id"], r["service_id"], r["tenant_id"])
            g = groups.setdefault(key, [0, None, None])
            g[0] += 1
            if r["_ts"] is not None:
                if g[1] is None or r["_ts"].us < g[1].us:
                    g[1] = r["_ts"]
                if g[2] is None or r["_ts"].us > g[2].us:
                    g[2] = r["_ts"]
        order = sorted(groups.items(), key=lambda kv: (-kv[1][0], kv[0][0], kv[0][1], kv[0][2] or ""))
        sources = [{"source_node_id": k[0], "service_id": k[1], "tenant_id": k[2], "rows": g[0],
                    "first_seen": self.render_ts(None, g[1]) if g[1] else None,
                    "last_seen": self.render_ts(None, g[2]) if g[2] else None}
                   for k, g in order]
        return {"sources": sources,
                "nodes": len({k[0] for k in groups}),
                "services": len({k[1] for k in groups}),
                "tenants": len({k[2] for k in groups if k[2] is not None})}

    def get_doctor(self):
        import datetime
        node = self.args.node
        store = None
        chain = {"verified": None, "breaks": None, "last_verified_at": None,
                 "first_break_at": None if not self.go else 0, "reason": None if not self.go else "",
                 "error": None if not self.go else ""}
        if self.audit is not None:
            store = {"kind": "*fasten.SQLiteStore" if self.go else "SQLiteStore",
                     "reachable": True, "rows": len(self.audit), "last_insert_at": None,
                     "last_error": None if not self.go else ""}
            if node is not None:
                mine = sorted((r for r in self.audit if r["source_node_id"] == node),
                              key=lambda r: -int(r["monotonic_seq"]))[:50]
                if any(r["hash"] for r in mine):
                    verified, brk, reason = fr.verify_rows(mine)
                    now = datetime.datetime.now(datetime.timezone.utc)
                    chain["verified"] = verified
                    chain["breaks"] = 0 if brk is None else 1
                    chain["last_verified_at"] = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                    if brk is not None:
                        chain["first_break_at"] = brk
                        chain["reason"] = reason
        return {"store": store, "queue": None,
                "transport": {"stdout_active": False,
                              "syslog_ring_depth": len(self.streams["sys"][0])
                              if self.streams["sys"][1] == "ring" else 0,
                              "api_ring_depth": len(self.streams["api"][0])
                              if self.streams["api"][1] == "ring" else 0},
                "redactor": {"active": True},
                "init": {"service_id": self.args.service, "node_id": node, "tenant_id": None,
                         "failure_strategy": "raise", "worker_pid": os.getpid()},
                "chain": chain}


class Handler(BaseHTTPRequestHandler):
    server_version = "fasten-reader-emulation"
    protocol_version = "HTTP/1.1"
    reader = None  # set in main

    def log_message(self, fmt, *args):
        if self.reader.args.verbose:
            sys.stderr.write("%s\n" % (fmt % args))

    def send(self, status, body, ctype):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def send_text(self, status, text):
        # Go http.Error appends a newline; the Python router sends the text as is.
        body = (text + "\n") if self.reader.go else text
        self.send(status, body.encode("utf-8"), "text/plain; charset=utf-8")

    def do_GET(self):
        rd = self.reader
        with rd.lock:
            rd.requests += 1
            n = rd.requests
        if rd.args.fail_after is not None and n > rd.args.fail_after:
            return self.send_text(500, "internal error (injected by --fail-after)")
        url = urllib.parse.urlsplit(self.path)
        prefix = rd.args.prefix.rstrip("/")
        if not url.path.startswith(prefix + "/"):
            return self.send_text(404, "404 page not found")
        route = url.path[len(prefix):]
        q = {}
        for k, v in urllib.parse.parse_qsl(url.query, keep_blank_values=True):
            q.setdefault(k, v)  # the first value wins, as url.Values.Get does
        try:
            if rd.args.token is not None:
                auth = self.headers.get("Authorization") or ""
                given = auth[len("Bearer "):] if auth.startswith("Bearer ") else ""
                if not auth.startswith("Bearer ") or \
                        not hmac.compare_digest(given.encode(), rd.args.token.encode()):
                    raise HardError(401, "unauthenticated")
            if route == "/audit/doctor":
                body = rd.get_doctor()
            else:
                handlers = {"/audit": rd.get_audit, "/correlate": rd.get_correlate,
                            "/search": rd.get_search, "/topology": rd.get_topology,
                            "/sys": lambda q, s: rd.get_stream("sys", q, s),
                            "/api": lambda q, s: rd.get_stream("api", q, s)}
                if route not in handlers:
                    return self.send_text(404, "404 page not found")
                scope = rd.tenant_scope(self.headers)
                body = handlers[route](q, scope)
        except HardError as e:
            return self.send_text(e.status, e.text)
        except Exception as e:  # noqa: BLE001 - a reader answers 500, never dies
            return self.send_text(500, "internal error: %s" % type(e).__name__)
        self.send(200, rd.encode(body), "application/json")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--audit-db", help="fasten SQLite store holding the audit table")
    p.add_argument("--audit-table", default="audit_log")
    p.add_argument("--node", help="serve only this source_node_id's audit rows")
    p.add_argument("--service", default=None, help="init.service_id shown by /audit/doctor")
    p.add_argument("--prefix", default="/api/v1/logs")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--flavor", choices=("go", "python"), default="python")
    p.add_argument("--cursor", choices=("older", "newer"),
                   help="`after` direction: older = seq < after (python default), "
                        "newer = seq > after (go default)")
    p.add_argument("--token", help="require Authorization: Bearer TOKEN (401 `unauthenticated`)")
    p.add_argument("--tenant-header", help="tenant scope taken from this request header")
    p.add_argument("--tenant-token", action="append", metavar="TOKEN=TENANT",
                   help="tenant scope from the bearer token (repeatable)")
    p.add_argument("--sys-ring", help="sys NDJSON lines held in memory (completeness ring)")
    p.add_argument("--api-ring", help="api NDJSON lines held in memory (completeness ring)")
    p.add_argument("--sys-db", help="SQLite file with a syslog table (completeness store)")
    p.add_argument("--api-db", help="SQLite file with an api_log table (completeness store)")
    p.add_argument("--no-audit-store", action="store_true",
                   help="answer audit reads with the soft error `audit store not configured`")
    p.add_argument("--search-disabled", action="store_true", help="refuse q= searches (400)")
    p.add_argument("--fail-after", type=int, help="after N requests answer 500 to everything")
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args(argv)
    if not args.audit_db and not args.no_audit_store:
        p.error("--audit-db or --no-audit-store is required")
    Handler.reader = Reader(args)
    srv = ThreadingHTTPServer((args.host, args.port), Handler)
    srv.daemon_threads = True
    print("listening %s:%d" % (args.host, srv.server_address[1]), flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()


if __name__ == "__main__":
    main()
