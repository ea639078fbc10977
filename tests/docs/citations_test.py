#!/usr/bin/env python3
"""Fails when a tracked file cites a document that is not in this repository.

Comments in the code used to point at specification files kept outside the repository (the
store, MCP, LLM and performance specifications the project was built against). A reader of the
repository cannot open those, so every citation must name a document under docs/ instead
(docs/format.md, docs/mcp.md, docs/providers.md, docs/benchmarks.md, ...).

Scanned: every tracked source, script, build and configuration file (C++, Python, JavaScript,
shell, CMake, YAML, data/*.json) and every Markdown document. Not scanned: this script, whose
patterns would match themselves, and tests/vectors/, a copy of the upstream chain vectors that
names files of the upstream fasten repository.

The check cannot pass by finding nothing: it fails unless it scanned a minimum number of files,
among them a fixed list of files that are known to exist, and unless its patterns recognise a set
of known-bad and known-good samples.

Usage: citations_test.py [REPO_ROOT]   (default: two levels above this script)
"""
import os
import re
import subprocess
import sys

HERE = os.path.abspath(__file__)
DEFAULT_ROOT = os.path.join(os.path.dirname(HERE), "..", "..")
ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_ROOT)

CODE_SUFFIXES = (".cc", ".h", ".py", ".mjs", ".js", ".sh", ".yml", ".yaml", ".cmake")
CODE_NAMES = ("CMakeLists.txt",)

# Outside documents, as code cites them. A bare "mcp.md" is the outside MCP specification;
# "docs/mcp.md" is ours.
CODE_PATTERN = re.compile(
    r"substrate\.md|performance\.md|llm\.md|(?<!docs/)\bmcp\.md|shared/spec|\bspec/|\bsubstrate §"
)
# In Markdown, links are relative ("[mcp.md](mcp.md)"), so a bare mcp.md counts only when a
# section sign follows it outside a link ("mcp.md §13"); the other names no document of ours has.
DOC_PATTERN = re.compile(
    r"substrate\.md|performance\.md|llm\.md|shared/spec|\.\./shared|(?<![/\[\w])mcp\.md\s*§"
)

# Files that must be among those scanned (the scan would otherwise pass vacuously if, say, the
# file list came back empty or the root were wrong).
MUST_SCAN = (
    "validator/chain.cc",
    "validator/citations.h",
    "store/reader.h",
    "store/payload_tenant.h",
    "llm/wire.h",
    "mcp/http_transport.h",
    "scripts/fasten_peer.py",
    "tests/fakes/fake_llm.py",
    "tests/clients/raw-stdio.mjs",
    "tests/clients/http-probes.sh",
    "tests/CMakeLists.txt",
    "data/prices.json",
    "README.md",
    "docs/format.md",
)
MIN_FILES = 200

BAD_SAMPLES = (
    "// see substrate.md §5.5",
    "// (performance.md §13.5)",
    "// (llm.md §7.5)",
    "// (mcp.md §7.4)",
    "# (spec/substrate.md)",
    '"""(shared/spec/llm.md §8.3)"""',
    "// (substrate §3.1)",
)
GOOD_SAMPLES = (
    "// see docs/format.md §5.5",
    "// (docs/mcp.md §6)",
    "// (docs/providers.md §4)",
    "// (docs/benchmarks.md)",
    '"Two engines allocated independently (spec §2.1)."',
)


def tracked_files():
    try:
        out = subprocess.run(
            ["git", "-C", ROOT, "ls-files", "-z"], check=True, capture_output=True
        ).stdout.decode("utf-8", "replace")
        files = [f for f in out.split("\0") if f]
        if files:
            return files
    except (OSError, subprocess.CalledProcessError):
        pass
    # No git (an exported tree): walk it, skipping build output and npm packages.
    files = []
    for d, dirs, names in os.walk(ROOT):
        dirs[:] = [
            x for x in dirs if x not in (".git", "node_modules") and not x.startswith("build")
        ]
        for n in names:
            files.append(os.path.relpath(os.path.join(d, n), ROOT))
    return files


def selected(path):
    if os.path.abspath(os.path.join(ROOT, path)) == HERE or path.startswith("tests/vectors/"):
        return None
    if "node_modules/" in path:
        return None
    name = os.path.basename(path)
    if path.endswith(".md"):
        return DOC_PATTERN
    if path.endswith(CODE_SUFFIXES) or name in CODE_NAMES:
        return CODE_PATTERN
    if path.startswith("data/") and path.endswith(".json"):
        return CODE_PATTERN
    return None


def main():
    failures = []
    for s in BAD_SAMPLES:
        if not CODE_PATTERN.search(s):
            failures.append(f"self-check: the pattern misses the outside citation {s!r}")
    for s in GOOD_SAMPLES:
        if CODE_PATTERN.search(s):
            failures.append(f"self-check: the pattern flags the in-repository citation {s!r}")

    scanned = set()
    hits = []
    for path in tracked_files():
        pattern = selected(path)
        if pattern is None:
            continue
        full = os.path.join(ROOT, path)
        if not os.path.isfile(full):
            continue
        with open(full, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        scanned.add(path)
        for lineno, line in enumerate(text.split("\n"), 1):
            m = pattern.search(line)
            if m:
                hits.append(f"{path}:{lineno}: cites '{m.group(0)}': {line.strip()[:160]}")

    missing = [p for p in MUST_SCAN if p not in scanned]
    if missing:
        failures.append("not scanned (wrong root or file list?): " + ", ".join(missing))
    if len(scanned) < MIN_FILES:
        failures.append(f"only {len(scanned)} files scanned, expected at least {MIN_FILES}")
    if hits:
        failures.append(
            f"{len(hits)} citation(s) of documents outside the repository; cite the document "
            "under docs/ that holds the fact (docs/format.md, docs/mcp.md, docs/providers.md, "
            "docs/benchmarks.md, ...), adding the fact there if it is missing:\n  "
            + "\n  ".join(hits)
        )

    if failures:
        print("FAIL: " + "\nFAIL: ".join(failures))
        return 1
    print(f"OK: {len(scanned)} files scanned under {ROOT}, no citation of an outside document")
    return 0


if __name__ == "__main__":
    sys.exit(main())
