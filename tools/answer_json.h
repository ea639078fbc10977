// The wire format of answers and verdicts: an answer read from JSON (the validate_answer tool's
// arguments, the investigate loop's submit_answer, `fasten-mcp validate`'s file) into the
// validator's Answer, and the validator's Verdict and IntegrityVerdict written as JSON (the
// validate_answer tool result, `validate --json`, the investigate transcript and repair turn).
// The validator (validator/citations.h, validator/integrity_verdict.h) works on the types only.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include "store/timestamp.h"
#include "util/status.h"
#include "validator/citations.h"
#include "validator/integrity_verdict.h"

namespace fasten {

// Reads an answer: {"claims": [{"text": "...", "citations": [{"stream", "seq", "hash"}],
// "integrity": "intact"|"tampered"|null, "scope": {"since", "until", "nodes"}|null}]},
// optionally with "answer" (prose, checked for integrity statements only), "unknowns" (strings,
// not checked) and "window" ({"since", "until"}, RFC 3339 or a date alone; relative bounds
// "now-1h" are read against `now`), as submit_answer produces it. null stands for an absent
// optional member. Unknown members are errors. InvalidArgument naming the path.
Status ParseAnswer(const nlohmann::json& json, Answer* out, Micros now);
Status ParseAnswer(const nlohmann::json& json, Answer* out);  // now = the system clock

// The verdict as JSON (the validate_answer tool result, `validate --json`, the repair turn).
nlohmann::json VerdictJson(const Verdict& verdict);

// {"ok", "basis", "window": {"since", "until", "nodes"}, "nodes": [{source_node_id, ok, present,
//  from_seq, to_seq, rows_in_window, sealed, valid, unsealed, invalid, first_break: {seq, id,
//  reason, category} | null}], "unsealed", "line"}
nlohmann::json IntegrityVerdictJson(const IntegrityVerdict& verdict);

}  // namespace fasten
