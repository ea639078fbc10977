#include "validator/chain.h"

#include <algorithm>
#include <unordered_map>

#include "util/crypto.h"
#include "validator/canonical.h"

namespace fasten {
namespace {

struct Failure {
  const char* category;
  std::string reason;
  std::string note;
  bool upstream;  // the newest Python verify_chain also fails this row
  bool go_restart = false;
};

constexpr size_t kMaxNotes = 20;

void AddNote(NodeReport* r, std::string note) {
  if (r->notes.size() < kMaxNotes)
    r->notes.push_back(std::move(note));
  else if (r->notes.size() == kMaxNotes)
    r->notes.push_back("(further notes omitted)");
}

struct SubChain {
  std::string last_hash;
  bool has_last = false;
};

struct NodeState {
  NodeReport report;
  bool has_prev = false;
  bool has_visible = false;  // a row of the caller's tenant was seen
  bool prev_visible = true;
  bool last_sealed_visible = true;
  int64_t prev_seq = 0;
  std::string prev_id;
  std::string prev_hash;  // stored hash of the previous row ("" when unsealed)
  bool has_last_sealed = false;
  int64_t last_sealed_seq = 0;
  std::string last_sealed_id;
  std::string last_sealed_hash;
  bool has_dup = false;
  int64_t dup_seq = 0;
  std::string dup_a, dup_b;
  std::optional<ChainBreak> upstream_break;
  bool first_break_go_restart = false;
  int64_t hash_failures = 0;
  bool subchains_ok = true;
  std::unordered_map<std::string, SubChain> by_service;
  int64_t bytes_hashed = 0;
};

bool HasFormFeedOrBackspace(const AuditRow& r) {
  auto has = [](const std::string& s) {
    return s.find('\b') != std::string::npos || s.find('\f') != std::string::npos;
  };
  auto escaped = [&has](const std::string& s) {
    return s.find("\\b") != std::string::npos || s.find("\\f") != std::string::npos ||
           s.find("\\u0008") != std::string::npos || s.find("\\u000c") != std::string::npos ||
           s.find("\\u000C") != std::string::npos || has(s);
  };
  return has(r.id) || has(r.origin_id) || has(r.code) || has(r.action) || has(r.severity) ||
         has(r.service_id) || has(r.source_node_id) || has(r.tenant_id.value) || has(r.actor) ||
         has(r.actor_kind) || has(r.target) || has(r.category) || has(r.domain) || has(r.method) ||
         has(r.request_id) || (!r.detail.null && escaped(r.detail.value));
}

}  // namespace

int64_t NodeReport::valid() const {
  int64_t n = verified;
  for (const auto& [label, count] : verified_fallback) n += count;
  return n;
}

std::string PythonRepr(const std::string& s) {
  char quote = '\'';
  if (s.find('\'') != std::string::npos && s.find('"') == std::string::npos) quote = '"';
  std::string out(1, quote);
  for (unsigned char c : s) {
    if (c == '\\' || c == static_cast<unsigned char>(quote)) {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7F) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  out.push_back(quote);
  return out;
}

struct RowChecker::Impl {
  Canonicalizer canon;
  Sha256 sha;
  std::string bytes, detail_bytes;
  char digest[64];
  int64_t bytes_hashed = 0;

  // Renders with `o` and compares with the stored hash. Sets *render_error on failure to render.
  bool HashMatches(const AuditRow& row, const RowHashOptions& o, std::string* render_error) {
    if (!canon.RowBytes(row, o, &bytes, render_error)) return false;
    bytes_hashed += static_cast<int64_t>(bytes.size());
    sha.HexInto(bytes, {}, digest);
    return row.hash.size() == 64 && std::equal(digest, digest + 64, row.hash.begin());
  }

  // Returns the fallback label under which the row verifies, "" for a plain pass, or nullopt.
  std::optional<std::string> CheckHash(const AuditRow& row, bool* upstream_ok, std::string* note) {
    RowHashOptions o;
    std::string render_error;
    *upstream_ok = false;
    if (HashMatches(row, o, &render_error)) {
      *upstream_ok = true;
      return std::string();
    }
    if (!render_error.empty()) {
      // Nothing else can render either (bad timestamp, bad detail).
      *note = render_error;
      return std::nullopt;
    }
    if (row.canonical_form_id == "1") {
      RowHashOptions z;
      z.timestamps = RowHashOptions::Timestamps::kCanonicalZ;
      if (HashMatches(row, z, &render_error)) {
        *upstream_ok = true;
        return std::string(kFallbackForm1Z);
      }
      RowHashOptions pre;
      pre.include_form_id = false;
      if (HashMatches(row, pre, &render_error)) return std::string(kFallbackPreFormId);
    }
    if (HasFormFeedOrBackspace(row)) {
      RowHashOptions go;
      go.escapes = EscapeStyle::kGo;
      if (HashMatches(row, go, &render_error)) return std::string(kFallbackGoEscapes);
    }
    if (!row.shipped_at.null) {
      RowHashOptions shipped;
      shipped.null_shipped_at = true;
      if (HashMatches(row, shipped, &render_error)) return std::string(kFallbackShippedAfterSeal);
    }
    if (row.from_timestamptz) {
      RowHashOptions pg;
      pg.timestamp_shift_us = -1;
      if (HashMatches(row, pg, &render_error)) return std::string(kFallbackPgRounding);
    }
    return std::nullopt;
  }

  RowCheck Check(const AuditRow& row) {
    RowCheck c;
    bytes_hashed = 0;
    c.sealed = row.sealed();
    if (!c.sealed) return c;
    const bool form2 = row.canonical_form_id == "2";
    if (!form2 && row.canonical_form_id != "1") {
      c.unknown_form = true;
      return c;
    }
    if (form2 && !row.detail_is_null() && !row.detail_salt.null && !row.detail_salt.value.empty()) {
      c.commitment_checked = true;
      c.commitment_ok = false;
      std::string note;
      if (canon.DetailBytes(row, EscapeStyle::kPython, &detail_bytes, &note)) {
        sha.HexInto(row.detail_salt.value, detail_bytes, digest);
        bytes_hashed += static_cast<int64_t>(row.detail_salt.value.size() + detail_bytes.size());
        const std::string& stored = row.detail_commitment.value;  // NULL compares as ""
        c.commitment_ok = stored.size() == 64 && std::equal(digest, digest + 64, stored.begin());
      } else {
        c.note = note;
      }
    }
    std::string note;
    std::optional<std::string> label = CheckHash(row, &c.upstream_ok, &note);
    c.hash_ok = label.has_value();
    if (label) c.label = *label;
    if (!note.empty()) c.note = note;
    c.bytes_hashed = bytes_hashed;
    return c;
  }
};

RowChecker::RowChecker() : impl_(std::make_unique<Impl>()) {}
RowChecker::~RowChecker() = default;
RowCheck RowChecker::Check(const AuditRow& row) {
  return impl_->Check(row);
}

std::string RowCheck::Summary() const {
  if (!sealed) return "unsealed";
  if (unknown_form) return "unknown canonical_form_id";
  if (!commitment_ok) return "detail does not match its commitment";
  if (!hash_ok) return note.empty() ? "hash mismatch" : "hash mismatch (" + note + ")";
  return label.empty() ? "verified" : "verified (" + label + ")";
}

struct ChainVerifier::Impl {
  Options options;
  // A one-tenant scope: rows of other tenants are hidden.
  bool OneTenant() const { return options.scope && !options.scope->all_tenants(); }
  std::unordered_map<std::string, NodeState> nodes;
  NodeState* last_node = nullptr;
  RowChecker checker;
  std::unordered_map<std::string, NodeState> marks;  // Mark()ed node states

  NodeState& Node(const std::string& id) {
    if (last_node && last_node->report.source_node_id == id) return *last_node;
    auto [it, inserted] = nodes.try_emplace(id);
    if (inserted) it->second.report.source_node_id = id;
    last_node = &it->second;
    return it->second;
  }

  void Add(const AuditRow& row) {
    NodeState& n = Node(row.source_node_id);
    NodeReport& r = n.report;
    // With a bound tenant, other tenants' rows carry the chain (links run through them) but are
    // never counted, checked, named or reported.
    const bool visible = !options.scope || options.scope->Sees(row);
    if (visible) ++r.total_rows;
    const int64_t seq = row.monotonic_seq;
    if (n.has_prev && seq == n.prev_seq && row.id == n.prev_id) return;  // re-delivered row
    if (visible) {
      if (!n.has_visible) {
        r.first_seq = seq;
      } else if (!OneTenant() && seq > n.prev_seq + 1) {
        r.seq_gaps += seq - n.prev_seq - 1;
      }
      if (seq > r.last_seq || !n.has_visible) r.last_seq = seq;
      n.has_visible = true;
    }

    if (!row.sealed()) {
      if (visible) ++r.unsealed;
      n.has_prev = true;
      n.prev_seq = seq;
      n.prev_id = row.id;
      n.prev_hash.clear();
      n.prev_visible = visible;
      return;
    }

    if (visible) Check(n, row);

    // Per-(node, service) sub-chains, to recognise legacy per-service allocation.
    SubChain& sc = n.by_service[row.service_id];
    if (sc.has_last ? row.prev_hash != sc.last_hash : row.prev_hash != "genesis") {
      n.subchains_ok = false;
    }
    sc.last_hash = row.hash;
    sc.has_last = true;

    n.has_prev = true;
    n.prev_seq = seq;
    n.prev_id = row.id;
    n.prev_hash = row.hash;
    n.prev_visible = visible;
    n.has_last_sealed = true;
    n.last_sealed_seq = seq;
    n.last_sealed_id = row.id;
    n.last_sealed_hash = row.hash;
    n.last_sealed_visible = visible;
    if (visible) {
      r.tip_seq = seq;
      r.tip_hash = row.hash;
    }
  }

  // The checks of one visible sealed row against the node's state before it.
  void Check(NodeState& n, const AuditRow& row) {
    NodeReport& r = n.report;
    const int64_t seq = row.monotonic_seq;
    const std::string& id = row.id;
    ++r.sealed;
    std::vector<Failure> failures;
    std::optional<std::string> label;
    bool hash_ok = false;

    if (n.has_last_sealed && n.last_sealed_seq == seq && n.last_sealed_visible) {
      if (!n.has_dup) {
        n.has_dup = true;
        n.dup_seq = seq;
        n.dup_a = n.last_sealed_id;
        n.dup_b = id;
      }
      failures.push_back({"duplicate",
                          "duplicate monotonic_seq " + std::to_string(seq) + " on node " +
                              PythonRepr(row.source_node_id) + ": rows " + n.last_sealed_id +
                              " and " + id + ". Two engines allocated independently (spec §2.1).",
                          "", false});
    }

    RowCheck check = checker.Check(row);
    n.bytes_hashed += check.bytes_hashed;
    if (row.canonical_form_id == "2") {
      if (row.detail_commitment.null) ++r.null_commitments;
      if (row.detail_is_null() && row.detail_salt.null) ++r.redacted;
    }
    if (check.unknown_form) {
      failures.push_back(
          {"unknown-form",
           "row " + id + ": unknown canonical_form_id \"" + row.canonical_form_id + "\"", "",
           true});
    } else {
      if (!check.commitment_ok) {
        failures.push_back({"commitment", "row " + id + ": detail does not match its commitment",
                            check.note, true});
      }
      hash_ok = check.hash_ok;
      if (hash_ok) label = check.label;
      if (!hash_ok) {
        ++n.hash_failures;
        failures.push_back({"hash", "row " + id + ": hash mismatch", check.note, true});
      } else if (!check.upstream_ok && !n.upstream_break) {
        // A labelled pass for us, a hash mismatch for the upstream verifier.
        n.upstream_break =
            ChainBreak{seq, id, "row " + id + ": hash mismatch", "hash", check.label};
      }
    }

    // Link check.
    const std::string prev_name =
        n.prev_visible ? n.prev_id : std::string("(a row not visible to this tenant)");
    if (n.has_prev) {
      if (!n.prev_hash.empty()) {
        if (row.prev_hash != n.prev_hash) {
          Failure f{"link", "row " + id + ": prev_hash does not match preceding row " + prev_name,
                    "", true};
          if (row.prev_hash == "genesis" && hash_ok) {
            f.go_restart = true;
            f.note = "prev_hash is \"genesis\" mid-chain (an older Go engine restarted)";
            ++r.legacy_restarts;
          }
          failures.push_back(std::move(f));
        }
      } else {
        ++r.links_skipped;
        if (n.has_last_sealed && row.prev_hash != n.last_sealed_hash) {
          AddNote(&r, "row " + id + " (seq " + std::to_string(seq) +
                          ") follows an unsealed row and does not link to the last sealed row" +
                          (n.last_sealed_visible ? " " + n.last_sealed_id : std::string()));
        }
      }
    } else if (seq == 1) {
      if (row.prev_hash != "genesis") {
        failures.push_back({"link",
                            "row " + id + ": prev_hash does not match preceding row genesis",
                            "the first row of a chain must carry prev_hash \"genesis\"", false});
      }
    } else if (options.predecessor) {
      std::optional<Predecessor> pred = options.predecessor(row.source_node_id, seq);
      if (pred) {
        if (row.prev_hash != pred->hash) {
          failures.push_back(
              {"link",
               "row " + id + ": prev_hash does not match preceding row " +
                   (OneTenant() ? std::string("(the row below the window)") : pred->id),
               "checked against the last sealed row below the window", false});
        }
      } else {
        AddNote(&r, "no sealed row below seq " + std::to_string(seq) +
                        " on this node: the first link is unchecked (rows purged?)");
      }
    } else {
      AddNote(&r, "chain starts at seq " + std::to_string(seq) +
                      " (earlier rows absent): the first link is unchecked");
    }

    if (failures.empty()) {
      if (label && !label->empty())
        ++r.verified_fallback[*label];
      else
        ++r.verified;
      return;
    }
    ++r.invalid;
    for (const Failure& f : failures) ++r.failures[f.category];
    if (!r.first_break) {
      const Failure& f = failures.front();
      r.first_break = ChainBreak{seq, id, f.reason, f.category, f.note};
      n.first_break_go_restart = f.go_restart;
    }
    if (!n.upstream_break) {
      for (const Failure& f : failures) {
        if (f.upstream) {
          n.upstream_break = ChainBreak{seq, id, f.reason, f.category, f.note};
          break;
        }
      }
    }
  }

  VerifyReport Finish() {
    VerifyReport rep;
    rep.caveat = kTailTruncationCaveat;
    std::vector<NodeState*> ordered;
    for (auto& [id, n] : nodes) {
      ordered.push_back(&n);
      rep.bytes_hashed += n.bytes_hashed;
    }
    std::sort(ordered.begin(), ordered.end(), [](const NodeState* a, const NodeState* b) {
      return a->report.source_node_id < b->report.source_node_id;
    });
    const NodeState* dup_node = nullptr;
    const NodeState* break_node = nullptr;
    for (NodeState* n : ordered) {
      NodeReport& r = n->report;
      if (!n->has_visible) continue;  // nothing of the caller's tenant on this node
      r.ok = r.invalid == 0;
      if (!r.ok) {
        if (n->has_dup) {
          r.classification = n->subchains_ok && n->hash_failures == 0 ? "legacy-per-service-chains"
                                                                      : "duplicate-allocation";
        } else if (r.first_break && r.first_break->category == "unknown-form") {
          r.classification = "unknown-form";
        } else if (n->first_break_go_restart) {
          r.classification = "legacy-go-restart";
        } else {
          r.classification = "tampered-or-corrupt";
        }
      }
      if (n->has_dup && !dup_node) dup_node = n;
      if (n->upstream_break && !break_node) break_node = n;
      rep.total_rows += r.total_rows;
      rep.sealed += r.sealed;
      rep.valid += r.valid();
      rep.unsealed += r.unsealed;
      rep.invalid += r.invalid;
      if (!r.ok) rep.ok = false;
      rep.nodes.push_back(r);
    }
    rep.upstream.total_rows = rep.total_rows;
    if (dup_node) {
      rep.upstream.ok = false;
      rep.upstream.first_break_at = dup_node->dup_seq;
      rep.upstream.reason = "duplicate monotonic_seq " + std::to_string(dup_node->dup_seq) +
                            " on node " + PythonRepr(dup_node->report.source_node_id) + ": rows " +
                            dup_node->dup_a + " and " + dup_node->dup_b +
                            ". Two engines allocated independently (spec §2.1).";
    } else if (break_node) {
      rep.upstream.ok = false;
      rep.upstream.first_break_at = break_node->upstream_break->seq;
      rep.upstream.reason = break_node->upstream_break->reason;
    }
    return rep;
  }
};

ChainVerifier::ChainVerifier() : ChainVerifier(Options{}) {}
ChainVerifier::ChainVerifier(Options options) : impl_(std::make_unique<Impl>()) {
  impl_->options = std::move(options);
}
ChainVerifier::~ChainVerifier() = default;

void ChainVerifier::Add(const AuditRow& row) {
  impl_->Add(row);
}

void ChainVerifier::AddDetachedUnsealed(const std::string& node) {
  NodeState& n = impl_->Node(node);
  ++n.report.total_rows;
  ++n.report.unsealed;
  // Without a tenant filter every row counts, so the node is reported even when all it holds
  // are detached unsealed rows. (Under a filter the row's tenant is unknown: it stays hidden.)
  if (!impl_->OneTenant()) n.has_visible = true;
}

void ChainVerifier::Mark(const std::string& node) {
  impl_->marks.insert_or_assign(node, impl_->Node(node));
}

void ChainVerifier::Commit(const std::string& node) {
  impl_->marks.erase(node);
}

void ChainVerifier::Rollback(const std::string& node) {
  auto mark = impl_->marks.find(node);
  if (mark == impl_->marks.end()) return;
  NodeState& n = impl_->Node(node);
  n = std::move(mark->second);
  impl_->marks.erase(mark);
}

VerifyReport ChainVerifier::Finish() {
  return impl_->Finish();
}

}  // namespace fasten
