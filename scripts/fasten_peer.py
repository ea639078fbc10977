#!/usr/bin/env python3
"""fasten_peer: an independent CPython reference ("peer") for the fasten audit hash chain.

Why this file exists
--------------------
fasten-mcp verifies fasten audit chains with a hand-written C++ canonical writer. This script
computes the same verdicts a second, independent way, so that

  * tests can use it as an oracle: every row hash, commitment and chain verdict the C++ code
    produces can be cross-checked against this script; and
  * the benchmark can measure the "CPython peer" (docs/benchmarks.md, L_py) on the same store.

It deliberately builds the canonical bytes with CPython's own JSON module:

    json.dumps(obj, sort_keys=True, separators=(',', ':'), default=str)   # ensure_ascii=True

because that call *is* the upstream reference rendering (docs/format.md §5.1). Nothing here is
hand-rolled canonical JSON: the point of a peer is that it shares no code and no cleverness with
the implementation it checks. The cost is known and accepted: `json.loads` re-renders numbers
through Python floats, so a detail token that CPython itself would not produce (Go's `1e-7`,
`1E5`, `1.50`) re-renders differently and the row fails here while the token-preserving C++ reader
passes it. On CPython-written data (the reference SDK) the two must agree exactly.

Coverage (sections of docs/format.md): column introspection and defaults (§2.1), unsealed rows
(§5.6), timestamp spellings with truncation to microseconds (§3.1), detail parsing (§5.1), form "1"
(§5.2), form "2" with its commitment (§5.3), the form1-z-timestamp legacy fallback (§5.5), and the
upstream chain walk (§5.4, §6.2) — except that this peer does not stop at the first failure: it
reports every failing check of every row. The other §5.5 fallbacks (pre-form-id,
go-control-escapes, shipped-after-seal, pg-us-rounding) are out of scope; rows needing them are
reported as plain hash failures.

Usage
-----
    fasten_peer.py vectors PATH/chain-vectors.json
    fasten_peer.py verify  DB_PATH [--table NAME]
    fasten_peer.py bench   DB_PATH [--table NAME] [--runs 5]

Exit status: 0 all good; 1 a vector failed or the chain has failures; 2 usage or I/O error.

Verdict details a cross-checking test needs to know
---------------------------------------------------
* Rows are streamed in `ORDER BY monotonic_seq, source_node_id, id`; only one tip per node is kept.
* Each failing check yields one entry {"seq", "node", "id", "kind"}; a row can yield several.
  Per row the order is: duplicate, then unknown_form | (bad_detail, commitment, bad_timestamp,
  hash), then link.
  - unknown_form: canonical_form_id is not "1" or "2" (SQL NULL counts as "1"); nothing else is
    computed for the row's content.
  - bad_timestamp: `timestamp`, or a non-null `shipped_at`, is not a recognised spelling; the row
    hash is not computed (upstream counts this as a hash mismatch).
  - bad_detail: `detail` is needed (form 1 always; form 2 when detail_salt is non-empty) but is
    not valid JSON; the value that needed it is not computed.
  - commitment / hash: recomputation differs from the stored value.
  - link: the immediately preceding row of the node is sealed and its hash != this prev_hash.
  - duplicate: another sealed row of the node already has this monotonic_seq (with another id).
    The row is otherwise checked literally like any other row, link included.
* A row whose (node, seq, id) repeats the immediately preceding row of its node is a re-delivered
  replica: it is dropped (counted in "rows" and "redelivered" only), as upstream keeps the first
  row per id.
* "seconds" (verify) times the SELECT, including SQLite's sort for the ORDER BY, and the loop;
  opening the file and introspecting the table are not timed.
* "verified" counts sealed rows with no failure under the conformant hash; "verified_form1_z"
  counts those that pass only under [LEGACY FALLBACK: form1-z-timestamp]. So
  sealed == verified + verified_form1_z + failed_rows.
"""

import argparse
import datetime
import hashlib
import json
import re
import resource
import sqlite3
import sys
import time

# --------------------------------------------------------------------------------------------
# Constants from the spec
# --------------------------------------------------------------------------------------------

DEFAULT_TABLE = "audit_log"
MAX_LISTED_FAILURES = 1000
FETCH_BATCH = 1000
TABLE_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# Keys hashed by both forms (docs/format.md §5.2, §5.3). Form "1" adds `detail`, form "2" adds
# `detail_commitment`; either way the hashed object has 22 keys.
COMMON_HASH_KEYS = (
    "action", "actor", "actor_kind", "canonical_form_id", "category", "code", "domain", "id",
    "method", "monotonic_seq", "origin_id", "prev_hash", "request_id", "service_id", "severity",
    "shipped_at", "source_node_id", "target", "tenant_id", "timestamp", "wire_version",
)

# Columns without which no row can be hashed or ordered. Every writer (format.md §2.2) has them.
REQUIRED_COLUMNS = (
    "id", "origin_id", "monotonic_seq", "timestamp", "code", "action", "severity", "service_id",
    "source_node_id", "actor", "actor_kind", "target", "category", "domain", "method",
    "request_id", "detail",
)

# Columns that may be missing, with their value when absent (format.md §2.1). pii_in_detail is never
# hashed, so it is not read at all.
OPTIONAL_COLUMN_DEFAULTS = {
    "wire_version": "1",
    "hash": "",
    "prev_hash": "genesis",
    "canonical_form_id": "1",
    "detail_salt": None,
    "detail_commitment": None,
    "tenant_id": None,
    "shipped_at": None,
}

KNOWN_FORMS = ("1", "2")
FALLBACK_FORM1_Z = "form1-z-timestamp"

UTC = datetime.timezone.utc


class UsageError(Exception):
    """A problem with the command line, the input file or the table: exit status 2."""


# --------------------------------------------------------------------------------------------
# Value encodings (docs/format.md §3.1, §5.1)
# --------------------------------------------------------------------------------------------

# YYYY-MM-DDTHH:MM:SS, optional 1-9 digit fraction, then Z, ±HH:MM or nothing (= UTC).
# Explicit [0-9] rather than \d, which would also accept non-ASCII digits.
_TIMESTAMP_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]{1,9}))?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})?"
)


def parse_timestamp(text):
    """Parse one stored timestamp spelling into an aware UTC datetime.

    The fraction is truncated (never rounded) to microseconds, as Go's hash does. Returns None
    for anything that is not one of the accepted spellings, including impossible dates.
    """
    if not isinstance(text, str):
        return None
    m = _TIMESTAMP_RE.fullmatch(text)
    if m is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = m.groups()
    micros = int((fraction or "").ljust(6, "0")[:6])
    try:
        if zone is None or zone == "Z":
            tz = UTC
        else:
            off_h, off_m = int(zone[1:3]), int(zone[4:6])
            if off_h > 23 or off_m > 59:
                return None
            offset = datetime.timedelta(hours=off_h, minutes=off_m)
            tz = datetime.timezone(-offset if zone[0] == "-" else offset)
        value = datetime.datetime(int(year), int(month), int(day), int(hour), int(minute),
                                  int(second), micros, tzinfo=tz)
        return value.astimezone(UTC) if tz is not UTC else value
    except (ValueError, OverflowError):
        return None


def render_isoformat(instant):
    """Form "1" rendering: Python isoformat() of an aware UTC datetime (docs/format.md §3.2)."""
    return instant.isoformat()


def render_wire(instant):
    """Canonical wire spelling YYYY-MM-DDTHH:MM:SS.ffffffZ (form "2" and the Z fallback).

    Formatted by hand: strftime('%Y') does not zero-pad years below 1000 on glibc.
    """
    return "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ" % (
        instant.year, instant.month, instant.day,
        instant.hour, instant.minute, instant.second, instant.microsecond)


def load_detail(value, is_text):
    """Return (detail, ok). Stored detail is JSON text; SQL NULL and the text 'null' both mean
    "detail is null" (format.md §2.2). Vector rows already carry the parsed value (is_text False).
    """
    if not is_text or value is None:
        return value, True
    if not isinstance(value, (str, bytes, bytearray)):
        return None, False
    try:
        return json.loads(value), True
    except (ValueError, RecursionError):
        return None, False


def as_int(value):
    """monotonic_seq is hashed as a JSON integer; accept integral text or floats as well."""
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value):
        return int(value)
    return value


# --------------------------------------------------------------------------------------------
# Canonical bytes and hashes (docs/format.md §5.1 - §5.3)
# --------------------------------------------------------------------------------------------

def canonical_json(obj):
    """The upstream reference rendering. Output is pure ASCII (ensure_ascii=True)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def sha256_hex(text):
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def detail_commitment(salt, detail):
    """sha256(ascii(salt hex text) || canonical_json(detail)), lowercase hex (format.md §5.3)."""
    return hashlib.sha256(salt.encode("ascii") + canonical_json(detail).encode("ascii")).hexdigest()


class RowCheck:
    """The outcome of checking one sealed row's content (everything except chain links).

    kinds       failure kinds, in check order (empty when the content verifies)
    fallback    FALLBACK_FORM1_Z when the hash matched only under that fallback, else None
    form        the canonical form used ("1", "2" or the unknown value)
    canonical   bytes (as str) of the hash that matched, else of the conformant computation
    hash        the hash computed from `canonical`
    conformant_canonical / conformant_hash   the conformant computation (differs from the
                above only when the fallback matched)
    commitment  the recomputed detail_commitment, when one was computed
    """

    __slots__ = ("kinds", "fallback", "form", "canonical", "hash", "conformant_canonical",
                 "conformant_hash", "commitment")

    def __init__(self, form):
        self.kinds = []
        self.fallback = None
        self.form = form
        self.canonical = None
        self.hash = None
        self.conformant_canonical = None
        self.conformant_hash = None
        self.commitment = None


def check_row_content(row, detail_is_text=True):
    """Recompute the hash (and, for form "2", the commitment) of one sealed row.

    `row` maps every column name of REQUIRED_COLUMNS and OPTIONAL_COLUMN_DEFAULTS to its value,
    defaults already filled in. `detail_is_text` says whether row["detail"] is stored JSON text
    (database rows) or an already-parsed value (test vectors).
    """
    form = row["canonical_form_id"]
    if form is None:
        form = "1"
    result = RowCheck(form)
    if form not in KNOWN_FORMS:
        result.kinds.append("unknown_form")
        return result

    timestamp = parse_timestamp(row["timestamp"])
    shipped_raw = row["shipped_at"]
    shipped = None if shipped_raw is None else parse_timestamp(shipped_raw)
    timestamps_ok = timestamp is not None and (shipped_raw is None or shipped is not None)

    wire_version = row["wire_version"]
    if wire_version is None or wire_version == "":
        wire_version = "1"

    hashed = {key: row[key] for key in COMMON_HASH_KEYS}
    hashed["canonical_form_id"] = form
    hashed["wire_version"] = wire_version
    hashed["monotonic_seq"] = as_int(row["monotonic_seq"])
    stored_hash = row["hash"]

    if form == "1":
        detail, detail_ok = load_detail(row["detail"], detail_is_text)
        if not detail_ok:
            result.kinds.append("bad_detail")
        if not timestamps_ok:
            result.kinds.append("bad_timestamp")
        if result.kinds:
            return result
        hashed["detail"] = detail
        hashed["timestamp"] = render_isoformat(timestamp)
        hashed["shipped_at"] = None if shipped is None else render_isoformat(shipped)
        try:
            canonical = canonical_json(hashed)
        except (ValueError, RecursionError):
            result.kinds.append("bad_detail")
            return result
        digest = sha256_hex(canonical)
        result.canonical = result.conformant_canonical = canonical
        result.hash = result.conformant_hash = digest
        if digest == stored_hash:
            return result
        # [LEGACY FALLBACK: form1-z-timestamp]: Python before P1-48 hashed the wire spelling.
        hashed["timestamp"] = render_wire(timestamp)
        hashed["shipped_at"] = None if shipped is None else render_wire(shipped)
        canonical_z = canonical_json(hashed)
        digest_z = sha256_hex(canonical_z)
        if digest_z == stored_hash:
            result.canonical, result.hash = canonical_z, digest_z
            result.fallback = FALLBACK_FORM1_Z
        else:
            result.kinds.append("hash")
        return result

    # Form "2": detail is committed, not hashed. Check the commitment when both detail and a
    # salt are present; a redacted row (detail null, salt null) keeps its commitment as is.
    salt = row["detail_salt"]
    if salt is not None and salt != "":
        detail, detail_ok = load_detail(row["detail"], detail_is_text)
        if not detail_ok:
            result.kinds.append("bad_detail")
        elif detail is not None:
            try:
                result.commitment = detail_commitment(salt, detail)
            except (AttributeError, UnicodeEncodeError, ValueError, RecursionError):
                result.commitment = None  # a salt that is not ASCII text cannot match
            stored = row["detail_commitment"]
            if result.commitment != ("" if stored is None else stored):
                result.kinds.append("commitment")
    if not timestamps_ok:
        result.kinds.append("bad_timestamp")
        return result
    hashed["detail_commitment"] = row["detail_commitment"]
    hashed["timestamp"] = render_wire(timestamp)
    hashed["shipped_at"] = None if shipped is None else render_wire(shipped)
    canonical = canonical_json(hashed)
    digest = sha256_hex(canonical)
    result.canonical = result.conformant_canonical = canonical
    result.hash = result.conformant_hash = digest
    if digest != stored_hash:
        result.kinds.append("hash")
    return result


# --------------------------------------------------------------------------------------------
# Streaming chain verification (docs/format.md §5.4, §6)
# --------------------------------------------------------------------------------------------

class ChainVerifier:
    """Verifies rows fed in (monotonic_seq, source_node_id, id) order, one row at a time.

    State is one small record per source_node_id (the chain key), so memory does not grow with
    the number of rows. Rows must arrive in ascending seq order within each node.
    """

    def __init__(self):
        self.rows = 0
        self.sealed = 0
        self.unsealed = 0
        self.redelivered = 0
        self.verified = 0
        self.verified_form1_z = 0
        self.failed_rows = 0
        self.failure_count = 0
        self.failures = []
        # node -> [seq of preceding row, id of preceding row, preceding row sealed?,
        #          hash of preceding row, seq of the last sealed row or None]
        self._tips = {}

    def feed(self, row, detail_is_text=True):
        """Check one row; `row` is a full column mapping as for check_row_content."""
        self.rows += 1
        node = row["source_node_id"]
        seq = as_int(row["monotonic_seq"])
        row_id = row["id"]
        stored_hash = row["hash"]
        tip = self._tips.get(node)

        if tip is not None and tip[0] == seq and tip[1] == row_id:
            self.redelivered += 1  # the same row delivered twice: keep the first only
            return

        if stored_hash is None or stored_hash == "":
            # Unsealed (§5.6): neither verified nor broken, but it is the preceding row of the
            # next one, so that row's link is not checked.
            self.unsealed += 1
            if tip is None:
                self._tips[node] = [seq, row_id, False, "", None]
            else:
                tip[0], tip[1], tip[2], tip[3] = seq, row_id, False, ""
            return

        self.sealed += 1
        kinds = []
        if tip is not None and tip[4] == seq:
            kinds.append("duplicate")
        content = check_row_content(row, detail_is_text)
        kinds.extend(content.kinds)
        if tip is not None and tip[2] and row["prev_hash"] != tip[3]:
            kinds.append("link")

        if tip is None:
            self._tips[node] = [seq, row_id, True, stored_hash, seq]
        else:
            tip[0], tip[1], tip[2], tip[3], tip[4] = seq, row_id, True, stored_hash, seq

        if not kinds:
            if content.fallback is None:
                self.verified += 1
            else:
                self.verified_form1_z += 1
            return
        self.failed_rows += 1
        for kind in kinds:
            self.failure_count += 1
            if len(self.failures) < MAX_LISTED_FAILURES:
                self.failures.append({"seq": seq, "node": node, "id": row_id, "kind": kind})


def row_sort_key(row):
    """Python-side equivalent of ORDER BY monotonic_seq, source_node_id, id (for vectors)."""
    return (as_int(row["monotonic_seq"]), str(row["source_node_id"]), str(row["id"]))


def fill_defaults(mapping):
    """A full column mapping from a partial one (vector rows may omit optional columns)."""
    row = dict(OPTIONAL_COLUMN_DEFAULTS)
    for column in REQUIRED_COLUMNS:
        row[column] = None
    row.update(mapping)
    return row


# --------------------------------------------------------------------------------------------
# SQLite access
# --------------------------------------------------------------------------------------------

def open_read_only(path):
    """Open a SQLite file read-only via a URI; never creates the file."""
    escaped = path.replace("%", "%25").replace("?", "%3f").replace("#", "%23")
    try:
        return sqlite3.connect("file:%s?mode=ro" % escaped, uri=True)
    except sqlite3.Error as exc:
        raise UsageError("cannot open %s: %s" % (path, exc)) from exc


def plan_select(conn, table):
    """Introspect the table (format.md §2.1) and return (SELECT statement, column keys, defaults).

    `defaults` holds the fill-in values of the optional columns the table lacks.
    """
    if not TABLE_NAME_RE.fullmatch(table):
        raise UsageError("invalid table name %r (must match ^[A-Za-z_][A-Za-z0-9_]*$)" % table)
    try:
        info = conn.execute('PRAGMA table_info("%s")' % table).fetchall()
    except sqlite3.Error as exc:
        raise UsageError("cannot read schema: %s" % exc) from exc
    if not info:
        raise UsageError("no such table: %s" % table)
    # SQLite column names are case-insensitive; key everything by the lower-case spelling.
    present = {column[1].lower(): column[1] for column in info}
    missing = [c for c in REQUIRED_COLUMNS if c not in present]
    if missing:
        raise UsageError("table %s lacks required column(s): %s" % (table, ", ".join(missing)))
    keys = list(REQUIRED_COLUMNS)
    defaults = {}
    for column, default in OPTIONAL_COLUMN_DEFAULTS.items():
        if column in present:
            keys.append(column)
        else:
            defaults[column] = default
    select = 'SELECT %s FROM "%s" ORDER BY "%s", "%s", "%s"' % (
        ", ".join('"%s"' % present[k] for k in keys), table,
        present["monotonic_seq"], present["source_node_id"], present["id"])
    return select, tuple(keys), defaults


def run_verify_pass(conn, select, keys, defaults):
    """One streaming verification pass. Returns (ChainVerifier, elapsed seconds)."""
    verifier = ChainVerifier()
    feed = verifier.feed
    started = time.perf_counter()
    cursor = conn.execute(select)
    while True:
        batch = cursor.fetchmany(FETCH_BATCH)
        if not batch:
            break
        for values in batch:
            row = dict(defaults)
            row.update(zip(keys, values))
            feed(row)
    return verifier, time.perf_counter() - started


def verify_database(conn, table):
    """Verify the whole table; retries once with lossy UTF-8 decoding if a TEXT value is not
    valid UTF-8 (docs/format.md §5.1: invalid bytes read as U+FFFD). The fast path keeps sqlite3's
    built-in C decoder, which matters for the benchmark.
    """
    select, keys, defaults = plan_select(conn, table)
    try:
        return run_verify_pass(conn, select, keys, defaults)
    except sqlite3.OperationalError as exc:
        if "decode" not in str(exc).lower():
            raise
    conn.text_factory = lambda raw: raw.decode("utf-8", "replace")
    return run_verify_pass(conn, select, keys, defaults)


def peak_rss_kb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux


# --------------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------------

# Upstream reason substrings (format.md §6.1) -> this peer's failure kinds, for expected_verify.
REASON_KINDS = (
    ("hash mismatch", "hash"),
    ("prev_hash does not match", "link"),
    ("unknown canonical_form_id", "unknown_form"),
    ("detail does not match its commitment", "commitment"),
    ("duplicate monotonic_seq", "duplicate"),
)


def check_vector(vector):
    """Return a list of human-readable problems with one test vector (empty when it passes)."""
    problems = []
    raw_rows = vector["rows"] if "rows" in vector else [vector["row"]]
    rows = [fill_defaults(r) for r in raw_rows]
    if "expected_hashes" in vector:
        expected_hashes = vector["expected_hashes"]
    elif "expected_hash" in vector:
        expected_hashes = [vector["expected_hash"]]
    else:
        expected_hashes = [None] * len(rows)
    if len(expected_hashes) != len(rows):
        problems.append("%d expected hashes for %d rows" % (len(expected_hashes), len(rows)))

    expect_fallback = False
    for index, row in enumerate(rows):
        where = "row %d" % index if len(rows) > 1 else "row"
        result = check_row_content(row, detail_is_text=False)
        if "canonical_form_id" in vector and result.form != vector["canonical_form_id"]:
            problems.append("%s: form %r, vector says %r" % (where, result.form,
                                                          vector["canonical_form_id"]))
        expected = expected_hashes[index] if index < len(expected_hashes) else None
        if expected is not None and result.hash != expected:
            problems.append("%s: hash %s != expected %s" % (where, result.hash, expected))
        if "canonical_json_hashed" in vector and len(rows) == 1:
            if result.canonical != vector["canonical_json_hashed"]:
                problems.append("%s: canonical bytes differ:\n  got  %s\n  want %s" % (
                    where, result.canonical, vector["canonical_json_hashed"]))
        conformant = vector.get("conformant_form1_hash_for_same_row")
        if conformant is not None:
            if result.conformant_hash != conformant:
                problems.append("%s: conformant form-1 hash %s != %s" % (
                    where, result.conformant_hash, conformant))
            if conformant != expected:
                expect_fallback = True
        if "expected_detail_commitment" in vector:
            got = result.commitment
            if got is None and row["detail_salt"] and row["detail"] is not None:
                got = detail_commitment(row["detail_salt"], row["detail"])
            if got != vector["expected_detail_commitment"]:
                problems.append("%s: commitment %s != expected %s" % (
                    where, got, vector["expected_detail_commitment"]))
        # Form-1 rows may carry a salt and commitment that are not hashed (docs/format.md §5.2);
        # the vectors say they are still consistent, so hold them to it.
        if result.form == "1" and row["detail_salt"] and row["detail"] is not None \
                and row["detail_commitment"] is not None:
            got = detail_commitment(row["detail_salt"], row["detail"])
            if got != row["detail_commitment"]:
                problems.append("%s: informational form-1 commitment %s != stored %s" % (
                    where, got, row["detail_commitment"]))

    # The chain verdict, through the same streaming verifier the verify command uses.
    verifier = ChainVerifier()
    for row in sorted(rows, key=row_sort_key):
        verifier.feed(row, detail_is_text=False)
    expected_verify = vector.get("expected_verify", {"ok": True})
    ok = verifier.failure_count == 0
    if ok != expected_verify.get("ok", True):
        problems.append("verify ok=%s, expected %s (failures: %s)" % (
            ok, expected_verify.get("ok"), verifier.failures))
    if not ok and verifier.failures:
        first = verifier.failures[0]
        if "first_break_at" in expected_verify and first["seq"] != expected_verify["first_break_at"]:
            problems.append("first break at seq %s, expected %s" % (
                first["seq"], expected_verify["first_break_at"]))
        reason = expected_verify.get("reason_contains")
        if reason is not None:
            kinds = [kind for text, kind in REASON_KINDS if text in reason]
            if kinds and first["kind"] != kinds[0]:
                problems.append("first failure kind %r, expected %r (from reason %r)" % (
                    first["kind"], kinds[0], reason))
    if ok:
        want_z = len(rows) if expect_fallback else 0
        if verifier.verified_form1_z != want_z:
            problems.append("%d row(s) verified under %s, expected %d" % (
                verifier.verified_form1_z, FALLBACK_FORM1_Z, want_z))
    return problems


def command_vectors(args):
    try:
        with open(args.path, encoding="utf-8") as handle:
            document = json.load(handle)
        vectors = document["vectors"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError("cannot read vectors from %s: %s" % (args.path, exc)) from exc
    all_ok = True
    for vector in vectors:
        label = vector.get("label", "?")
        try:
            problems = check_vector(vector)
        except (KeyError, TypeError, ValueError) as exc:
            problems = ["malformed vector: %r" % (exc,)]
        if problems:
            all_ok = False
            print("FAIL %s: %s" % (label, "; ".join(problems)))
        else:
            print("ok %s" % label)
    return 0 if all_ok else 1


def command_verify(args):
    conn = open_read_only(args.db)
    try:
        verifier, seconds = verify_database(conn, args.table)
    except sqlite3.Error as exc:
        raise UsageError("cannot read %s: %s" % (args.db, exc)) from exc
    finally:
        conn.close()
    report = {
        "rows": verifier.rows,
        "sealed": verifier.sealed,
        "unsealed": verifier.unsealed,
        "redelivered": verifier.redelivered,
        "verified": verifier.verified,
        "verified_form1_z": verifier.verified_form1_z,
        "failed_rows": verifier.failed_rows,
        "failure_count": verifier.failure_count,
        "failures": verifier.failures,
        "seconds": seconds,
        "rows_per_sec": verifier.rows / seconds if seconds > 0 else 0.0,
        "peak_rss_kb": peak_rss_kb(),
    }
    print(json.dumps(report))
    return 0 if verifier.failure_count == 0 else 1


def command_bench(args):
    if args.runs < 1:
        raise UsageError("--runs must be at least 1")
    conn = open_read_only(args.db)
    rates = []
    rows = 0
    failure_count = 0
    try:
        for _ in range(args.runs):
            verifier, seconds = verify_database(conn, args.table)
            rows, failure_count = verifier.rows, verifier.failure_count
            rates.append(rows / seconds if seconds > 0 else 0.0)
    except sqlite3.Error as exc:
        raise UsageError("cannot read %s: %s" % (args.db, exc)) from exc
    finally:
        conn.close()
    ordered = sorted(rates)
    middle = len(ordered) // 2
    median = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    print(json.dumps({
        "runs": rates,
        "median_rows_per_sec": median,
        "rows": rows,
        "failure_count": failure_count,
        "peak_rss_kb": peak_rss_kb(),
    }))
    return 0


def build_parser():
    parser = argparse.ArgumentParser(
        prog="fasten_peer.py",
        description="Independent CPython reference for the fasten audit hash chain.")
    commands = parser.add_subparsers(dest="command", required=True)

    vectors = commands.add_parser("vectors", help="check every vector in chain-vectors.json")
    vectors.add_argument("path")
    vectors.set_defaults(handler=command_vectors)

    verify = commands.add_parser("verify", help="verify an audit table; print one JSON report")
    verify.add_argument("db")
    verify.add_argument("--table", default=DEFAULT_TABLE)
    verify.set_defaults(handler=command_verify)

    bench = commands.add_parser("bench", help="repeat the verify loop and report rows/s")
    bench.add_argument("db")
    bench.add_argument("--table", default=DEFAULT_TABLE)
    bench.add_argument("--runs", type=int, default=5)
    bench.set_defaults(handler=command_bench)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except UsageError as exc:
        print("fasten_peer: %s" % exc, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
