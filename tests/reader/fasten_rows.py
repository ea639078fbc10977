"""Row helpers shared by the reader emulation and its test client (stdlib only).

- timestamps: every spelling a fasten writer stores (docs/format.md §3.1), parsed to
  (UTC microseconds, raw fraction digits) and rendered as the canonical `...ffffffZ`, as Python
  `isoformat()` (`+00:00`, microseconds only when non-zero) and as Go RFC3339Nano;
- a token-preserving JSON parser and a writer with the options the reader flavours need
  (Go: compact, sorted map keys, HTML escaping; Python: insertion order);
- the canonical JSON of docs/format.md §5.1 and the hashes of forms "1" and "2" (§5.2, §5.3),
  with the upstream-compatible chain walk (docs/format.md §6.1) used by /audit/doctor;
- `selftest(vectors_path)`: both the canonical bytes and the hash of every chain vector.
"""
import datetime
import hashlib
import json
import re
import sqlite3

# ---------------------------------------------------------------------------------------------
# Timestamps

_TS = re.compile(r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)?$")
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


class Ts:
    """A parsed timestamp: `us` = microseconds since the epoch (truncated), `frac9` = the
    fraction as 9 digits (nanoseconds, for Go's RFC3339Nano rendering)."""

    __slots__ = ("us", "frac9", "dt")

    def __init__(self, dt, frac9):
        self.dt = dt
        self.frac9 = frac9
        delta = dt - _EPOCH
        self.us = (delta.days * 86400 + delta.seconds) * 1000000 + delta.microseconds

    def canonical(self):
        return self.dt.strftime("%Y-%m-%dT%H:%M:%S") + ".%06dZ" % self.dt.microsecond

    def isoformat(self):
        base = self.dt.strftime("%Y-%m-%dT%H:%M:%S")
        if self.dt.microsecond:
            base += ".%06d" % self.dt.microsecond
        return base + "+00:00"

    def rfc3339nano(self):
        base = self.dt.strftime("%Y-%m-%dT%H:%M:%S")
        frac = self.frac9.rstrip("0")
        return base + ("." + frac if frac else "") + "Z"


def parse_ts(text, require_offset=False):
    """Parses any stored spelling; None when it does not parse."""
    if not isinstance(text, str):
        return None
    m = _TS.match(text)
    if not m:
        return None
    y, mo, d, h, mi, s, frac, off = m.groups()
    if off is None and require_offset:
        return None
    frac9 = ((frac or "") + "000000000")[:9]
    try:
        dt = datetime.datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), int(frac9[:6]),
                               tzinfo=datetime.timezone.utc)
    except ValueError:
        return None
    if off and off != "Z":
        sign = 1 if off[0] == "+" else -1
        dt -= sign * datetime.timedelta(hours=int(off[1:3]), minutes=int(off[4:6]))
    return Ts(dt, frac9)


def ts_key(text):
    """Sort key by parsed instant; unparseable text sorts oldest."""
    t = parse_ts(text)
    return t.us if t else -(1 << 62)


# ---------------------------------------------------------------------------------------------
# Token-preserving JSON


class Tok(str):
    """A JSON number (or NaN / Infinity) kept as its original token."""


def loads(text):
    return json.loads(text, parse_float=Tok, parse_int=Tok, parse_constant=Tok)


_LONE = re.compile("[\ud800-\udfff]")


def _escape(s, ensure_ascii, html):
    out = json.dumps(s, ensure_ascii=ensure_ascii)
    if not ensure_ascii and _LONE.search(out):
        # a lone surrogate (Python writers can store one) cannot be sent as UTF-8: Go's encoder
        # writes U+FFFD, the Python flavour keeps the \\uXXXX escape
        out = _LONE.sub((lambda m: "\ufffd") if html else (lambda m: "\\u%04x" % ord(m.group())), out)
    if html:
        out = (out.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
               .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))
    return out


def dumps(value, ensure_ascii=True, html=False, sort_keys=False, compact=True):
    """JSON text; Tok values are written as their tokens. compact=False gives Python's default
    separators (", " and ": ")."""
    item_sep, key_sep = (",", ":") if compact else (", ", ": ")
    parts = []

    def emit(v):
        if isinstance(v, Tok):
            parts.append(str(v))
        elif v is None:
            parts.append("null")
        elif v is True:
            parts.append("true")
        elif v is False:
            parts.append("false")
        elif isinstance(v, str):
            parts.append(_escape(v, ensure_ascii, html))
        elif isinstance(v, (int, float)):
            parts.append(json.dumps(v))
        elif isinstance(v, dict):
            parts.append("{")
            keys = sorted(v) if sort_keys else list(v)
            for i, k in enumerate(keys):
                if i:
                    parts.append(item_sep)
                parts.append(_escape(k, ensure_ascii, html))
                parts.append(key_sep)
                emit(v[k])
            parts.append("}")
        elif isinstance(v, (list, tuple)):
            parts.append("[")
            for i, x in enumerate(v):
                if i:
                    parts.append(item_sep)
                emit(x)
            parts.append("]")
        else:
            raise TypeError("cannot serialise %r" % (v,))

    emit(value)
    return "".join(parts)


def canonical(value):
    """docs/format.md §5.1: sorted keys (code point order), no whitespace, ASCII escapes."""
    return dumps(value, ensure_ascii=True, html=False, sort_keys=True, compact=True)


# ---------------------------------------------------------------------------------------------
# Audit rows

AUDIT_COLUMNS = ("id", "origin_id", "monotonic_seq", "timestamp", "code", "action", "severity",
                 "service_id", "source_node_id", "tenant_id", "actor", "actor_kind", "target",
                 "category", "domain", "method", "request_id", "detail", "pii_in_detail",
                 "shipped_at", "wire_version", "hash", "prev_hash", "canonical_form_id",
                 "detail_salt", "detail_commitment")
DEFAULTS = {"pii_in_detail": 0, "wire_version": "1", "hash": "", "prev_hash": "genesis",
            "canonical_form_id": "1", "detail_salt": None, "detail_commitment": None,
            "tenant_id": None, "shipped_at": None}


def parse_detail(text):
    if text is None:
        return None
    try:
        return loads(text)
    except ValueError:
        return text


def load_audit(path, table="audit_log", node=None):
    """Every audit row as a dict of column values (missing columns filled with their
    defaults), plus `_ts` (parsed timestamp or None) and `_detail` (parsed detail)."""
    con = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        present = [r[1] for r in con.execute("PRAGMA table_info(%s)" % table)]
        if not present:
            raise ValueError("no table %s in %s" % (table, path))
        cols = [c for c in AUDIT_COLUMNS if c in present]
        sql = "SELECT %s FROM %s" % (", ".join('"%s"' % c for c in cols), table)
        args = ()
        if node is not None:
            sql += " WHERE source_node_id = ?"
            args = (node,)
        rows = []
        for values in con.execute(sql, args):
            row = dict(DEFAULTS)
            row.update(zip(cols, values))
            row["_ts"] = parse_ts(row["timestamp"])
            row["_shipped"] = parse_ts(row["shipped_at"]) if row["shipped_at"] else None
            row["_detail"] = parse_detail(row["detail"])
            rows.append(row)
        return rows
    finally:
        con.close()


def read_order_key(row):
    """Read order (newest first): parsed timestamp DESC, monotonic_seq DESC, then
    source_node_id and id so that the order is total."""
    return (-ts_key(row["timestamp"]), -int(row["monotonic_seq"]), row["source_node_id"], row["id"])


def load_stream(path, table):
    """sys/api rows from a fasten stream table: dicts with the lifted columns and `payload`."""
    con = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    try:
        present = [r[1] for r in con.execute("PRAGMA table_info(%s)" % table)]
        if "seq" not in present or "payload" not in present:
            raise ValueError("%s in %s is not a fasten stream table" % (table, path))
        wanted = ("seq", "request_id", "timestamp", "level", "service_id", "event", "method",
                  "path", "status", "payload")
        cols = [c for c in wanted if c in present]
        out = []
        for values in con.execute("SELECT %s FROM %s" % (", ".join(cols), table)):
            r = {c: None for c in wanted}
            r.update(zip(cols, values))
            out.append(r)
        return out
    finally:
        con.close()


def load_ring(path):
    """sys/api NDJSON lines (one JSON object a line, `shape` dropped) as stream rows; the line
    number is the seq (the ring's order)."""
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            obj = json.loads(line)
            obj.pop("shape", None)
            payload = json.dumps(obj)
            r = {"seq": n, "payload": payload}
            for c in ("request_id", "timestamp", "level", "service_id", "event", "method", "path"):
                v = obj.get(c)
                r[c] = v if isinstance(v, str) else None
            st = obj.get("status")
            r["status"] = st if isinstance(st, int) and not isinstance(st, bool) else None
            out.append(r)
    return out


def payload_tenant(payload_text):
    """The payload's top-level string `tenant_id`, else None."""
    try:
        obj = json.loads(payload_text)
    except ValueError:
        return None
    if isinstance(obj, dict) and isinstance(obj.get("tenant_id"), str):
        return obj["tenant_id"]
    return None


# ---------------------------------------------------------------------------------------------
# Hash forms and the upstream chain walk

_H1_KEYS = ("action", "actor", "actor_kind", "canonical_form_id", "category", "code", "domain",
            "id", "method", "origin_id", "prev_hash", "request_id", "service_id", "severity",
            "source_node_id", "target", "tenant_id")


def _base(row):
    h = {k: row.get(k) for k in _H1_KEYS}
    h["canonical_form_id"] = row.get("canonical_form_id") or "1"
    h["monotonic_seq"] = int(row["monotonic_seq"])
    h["wire_version"] = row.get("wire_version") or "1"
    return h


def _detail_value(row):
    d = row.get("_detail") if "_detail" in row else row.get("detail")
    if isinstance(d, str) and "_detail" not in row:
        d = parse_detail(d)
    return d


def canonical_h1(row, z_timestamps=False):
    h = _base(row)
    ts = parse_ts(row["timestamp"])
    sh = parse_ts(row["shipped_at"]) if row.get("shipped_at") else None
    if ts is None:
        return None
    render = (lambda t: t.canonical()) if z_timestamps else (lambda t: t.isoformat())
    h["timestamp"] = render(ts)
    h["shipped_at"] = render(sh) if sh else None
    h["detail"] = _detail_value(row)
    return canonical(h)


def commitment(row):
    return hashlib.sha256(row["detail_salt"].encode("ascii") +
                          canonical(_detail_value(row)).encode("ascii")).hexdigest()


def canonical_h2(row):
    h = _base(row)
    ts = parse_ts(row["timestamp"])
    sh = parse_ts(row["shipped_at"]) if row.get("shipped_at") else None
    if ts is None:
        return None
    h["timestamp"] = ts.canonical()
    h["shipped_at"] = sh.canonical() if sh else None
    h["detail_commitment"] = row.get("detail_commitment")
    return canonical(h)


def _sha(text):
    return hashlib.sha256(text.encode("ascii")).hexdigest() if text is not None else None


def check_row(row):
    """None when the row's hash verifies (forms "1" and "2", plus the form1-z-timestamp
    fallback the upstream verifier accepts), else the upstream reason string."""
    form = row.get("canonical_form_id") or "1"
    rid = row["id"]
    if form == "1":
        if _sha(canonical_h1(row)) == row["hash"]:
            return None
        if _sha(canonical_h1(row, z_timestamps=True)) == row["hash"]:
            return None
        return "row %s: hash mismatch" % rid
    if form == "2":
        if _detail_value(row) is not None and row.get("detail_salt"):
            if commitment(row) != (row.get("detail_commitment") or ""):
                return "row %s: detail does not match its commitment" % rid
        if _sha(canonical_h2(row)) == row["hash"]:
            return None
        return "row %s: hash mismatch" % rid
    return 'row %s: unknown canonical_form_id "%s"' % (rid, form)


def verify_rows(rows):
    """The upstream walk over one node's rows (docs/format.md §6.1) without the duplicate check:
    returns (verified_count, break_seq or None, reason or None). verified_count counts the
    sealed rows that passed before the first failure."""
    rows = sorted(rows, key=lambda r: (int(r["monotonic_seq"]), r["id"]))
    verified = 0
    prev = None
    for r in rows:
        if r["hash"] == "":
            prev = r
            continue
        reason = check_row(r)
        if reason is None and prev is not None and prev["hash"] != "" and \
                r["prev_hash"] != prev["hash"]:
            reason = "row %s: prev_hash does not match preceding row %s" % (r["id"], prev["id"])
        if reason is not None:
            return verified, int(r["monotonic_seq"]), reason
        verified += 1
        prev = r
    return verified, None, None


def selftest(vectors_path):
    """Checks the canonical bytes and the hash of every chain vector; returns failure strings."""
    with open(vectors_path, encoding="utf-8") as f:
        doc = loads(f.read())
    failures = []
    for v in doc["vectors"]:
        rows = v.get("rows") or [v["row"]]
        expected = v.get("expected_hashes") or [v.get("expected_hash")]
        for row, want in zip(rows, expected):
            row = dict(row)
            row["_detail"] = row.get("detail")
            form = row.get("canonical_form_id") or "1"
            if form == "2":
                text = canonical_h2(row)
            elif v["label"] == "form1_legacy_z_timestamp":
                text = canonical_h1(row, z_timestamps=True)
            else:
                text = canonical_h1(row)
            if "canonical_json_hashed" in v and len(rows) == 1 and text != v["canonical_json_hashed"]:
                failures.append("%s: canonical bytes differ:\n  got  %s\n  want %s"
                                % (v["label"], text, v["canonical_json_hashed"]))
            if _sha(text) != want:
                failures.append("%s: hash %s, want %s" % (v["label"], _sha(text), want))
            if "expected_detail_commitment" in v and commitment(row) != v["expected_detail_commitment"]:
                failures.append("%s: commitment differs" % v["label"])
        if "expected_verify" in v:
            rs = [dict(r, _detail=r.get("detail")) for r in rows]
            _, brk, reason = verify_rows(rs)
            exp = v["expected_verify"]
            if bool(exp.get("ok")) != (brk is None):
                failures.append("%s: verify ok=%s, want %s (%s)" % (v["label"], brk is None,
                                                                   exp.get("ok"), reason))
    return failures


if __name__ == "__main__":
    import sys
    fails = selftest(sys.argv[1])
    for f in fails:
        print("FAIL", f)
    print("vectors:", "ok" if not fails else "%d failure(s)" % len(fails))
    sys.exit(1 if fails else 0)
