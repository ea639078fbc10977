#!/usr/bin/env python3
"""A scripted fake LLM provider for offline tests (docs/providers.md §7). Standard library only.

One loopback HTTP server speaks the three wire formats fasten-mcp's `llm/` adapters talk:

  Anthropic Messages          POST /anthropic/v1/messages
  OpenAI Chat Completions     POST /openai/v1/chat/completions
  vLLM (OpenAI-compatible)    POST /vllm/v1/chat/completions
  Ollama /v1                  POST /ollama/v1/chat/completions
  Ollama native               POST /ollama/api/chat
  llama.cpp                   POST /llamacpp/v1/chat/completions
  llama.cpp, older builds     POST /llamacpp-legacy/v1/chat/completions

Unprefixed paths work too: /v1/messages is Anthropic, /api/chat is Ollama native, and
/v1/chat/completions uses the flavour given by --flavor (default openai). Any flavour prefix also
accepts /v1/messages (vLLM and Ollama serve an Anthropic-compatible surface). GET .../v1/models
lists the script's model; GET /_fake/status reports the script's progress and expectation
failures. Neither consumes a turn.

Each model request consumes the next turn of the script (JSON; format in tests/fakes/README.md):
a text answer, tool calls, a submit_answer call (literal or picked from the rows the client sent
back in tool results, with {{…}} placeholders), or a fault (HTTP errors in each provider's own
envelope with retry-after headers, slow answers, malformed or truncated bodies, dropped
connections). Every request is appended to the --log JSONL file, secrets redacted.

Usage: fake_llm.py --script S.json [--port 0] [--log L.jsonl] [--flavor openai]
Prints "listening on http://127.0.0.1:PORT" (one flushed line) and serves until SIGTERM/SIGINT.
"""
import argparse
import copy
import gzip
import hashlib
import http.server
import json
import os
import re
import signal
import socket
import struct
import sys
import threading
import time

FLAVORS = ("anthropic", "openai", "vllm", "ollama", "llamacpp", "llamacpp-legacy")
QUIRKS = {
    "args_object",        # function.arguments is a JSON object, not a string
    "args_invalid_json",  # function.arguments is a string that is not valid JSON
    "no_tool_ids",        # tool calls without an id
    "no_tool_type",       # tool calls without "type":"function"
    "finish_stop",        # finish_reason "stop" although tool calls are present
    "finish_tool",        # legacy llama.cpp finish_reason "tool"
    "no_usage",           # usage object absent
    "partial_usage",      # usage with the prompt side only
    "content_null",       # message.content null (text is dropped)
    "content_empty",      # message.content "" when there is no text
    "extra_fields",       # reasoning / reasoning_content and other fields a client must ignore
    "tool_call_as_text",  # tool calls written as JSON text in content, no tool_calls (no parser)
    "error_flat",         # vLLM (older) flat error body {"object":"error",...}
    "error_string",       # error body {"error":"<message>"}
    "no_prompt_eval_count",  # Ollama native: prompt_eval_count omitted (prompt served from cache)
}
# What each flavour does without being asked (docs/providers.md §4).
FLAVOR_QUIRKS = {"llamacpp-legacy": {"finish_tool", "no_tool_ids", "no_tool_type"}}
SECRET_HEADERS = ("x-api-key", "authorization", "api-key", "proxy-authorization", "cookie")
B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
HTML_502 = ("<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
            "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
            "</body>\r\n</html>\r\n")


class ScriptError(Exception):
    """A turn could not be rendered (bad template, nothing to pick): the script is wrong."""


# ---------------------------------------------------------------------------------------------
# Ids


class Ids:
    """Deterministic, realistically shaped ids."""

    def __init__(self):
        self.n = 0
        self.lock = threading.Lock()

    def _chars(self, alphabet, length):
        with self.lock:
            self.n += 1
            n = self.n
        out, i = "", 0
        while len(out) < length:
            h = hashlib.sha256(f"fake-llm/{n}/{i}".encode()).digest()
            out += "".join(alphabet[b % len(alphabet)] for b in h)
            i += 1
        return out[:length]

    def b62(self, length):
        return self._chars(B62, length)

    def lower(self, length):
        return self._chars("0123456789abcdefghijklmnopqrstuvwxyz", length)

    def hex(self, length):
        return self._chars("0123456789abcdef", length)


IDS = Ids()


def message_id(flavor):
    if flavor == "anthropic":
        return "msg_01" + IDS.b62(22)
    if flavor == "openai":
        return "chatcmpl-" + IDS.b62(29)
    if flavor == "ollama":
        return "chatcmpl-" + str(100 + int(IDS.hex(4), 16) % 900)
    return "chatcmpl-" + IDS.hex(32)


def tool_call_id(flavor):
    if flavor == "anthropic":
        return "toolu_01" + IDS.b62(22)
    if flavor == "openai":
        return "call_" + IDS.b62(24)
    if flavor == "vllm":
        return IDS.b62(9)  # Mistral-style 9-character ids; clients must echo them exactly
    if flavor in ("ollama", "ollama-native"):
        return "call_" + IDS.lower(8)
    return IDS.b62(32)  # llama.cpp


def request_id(flavor):
    if flavor == "anthropic":
        return "req_01" + IDS.b62(22)
    return "req_" + IDS.hex(32)


# ---------------------------------------------------------------------------------------------
# Reading what the client sent


def _parse_result_text(text):
    """A tool result as the model sees it: JSON when it is JSON (possibly after a fence or a
    preamble), else the text itself."""
    if not isinstance(text, str):
        return text
    s = text.strip()
    try:
        return json.loads(s)
    except ValueError:
        pass
    dec = json.JSONDecoder()
    for m in re.finditer(r"[\[{]", s):
        try:
            value, _ = dec.raw_decode(s, m.start())
            return value
        except ValueError:
            continue
    return text


def _content_text(content):
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts = []
    if isinstance(content, list):
        for block in content:
            if isinstance(block, str):
                parts.append(block)
            elif isinstance(block, dict):
                if block.get("type") in ("text", "input_text") or "text" in block:
                    parts.append(str(block.get("text", "")))
                elif block.get("type") == "search_result":
                    parts.append(_content_text(block.get("content")))
    return "\n".join(parts)


def extract_tool_results(fmt, body):
    """Tool results in the request, in conversation order: [{id, name, is_error, text, json,
    message_index}]."""
    out = []
    names = {}
    messages = body.get("messages") if isinstance(body, dict) else None
    if not isinstance(messages, list):
        return out
    for mi, m in enumerate(messages):
        if not isinstance(m, dict):
            continue
        role, content = m.get("role"), m.get("content")
        if fmt == "anthropic":
            if role == "assistant" and isinstance(content, list):
                for b in content:
                    if isinstance(b, dict) and b.get("type") == "tool_use":
                        names[b.get("id")] = b.get("name")
            if role == "user" and isinstance(content, list):
                for b in content:
                    if isinstance(b, dict) and b.get("type") == "tool_result":
                        text = _content_text(b.get("content"))
                        out.append({"id": b.get("tool_use_id"), "name": names.get(b.get("tool_use_id")),
                                    "is_error": bool(b.get("is_error")), "text": text,
                                    "json": _parse_result_text(text), "message_index": mi})
        else:
            if role == "assistant":
                for tc in m.get("tool_calls") or []:
                    if isinstance(tc, dict):
                        fn = tc.get("function") or {}
                        names[tc.get("id")] = fn.get("name")
            if role == "tool":
                text = _content_text(content)
                tid = m.get("tool_call_id")
                out.append({"id": tid, "name": m.get("tool_name") or names.get(tid),
                            "is_error": False, "text": text, "json": _parse_result_text(text),
                            "message_index": mi})
    return out


def find_rows(value, out, seen):
    """Citable rows anywhere in a tool result: audit rows {monotonic_seq, hash} and sys/api rows
    {stream, seq, digest}. A row's own contents are not searched (its detail is data)."""
    if isinstance(value, dict):
        if isinstance(value.get("monotonic_seq"), int) and isinstance(value.get("hash"), str):
            cite = {"stream": "audit", "seq": value["monotonic_seq"], "hash": value["hash"]}
        elif value.get("stream") in ("sys", "api") and isinstance(value.get("seq"), int) and \
                isinstance(value.get("digest", value.get("hash")), str):
            cite = {"stream": value["stream"], "seq": value["seq"],
                    "hash": value.get("digest", value.get("hash"))}
        else:
            for v in value.values():
                find_rows(v, out, seen)
            return
        key = (cite["stream"], cite["seq"], cite["hash"])
        if key not in seen:
            seen.add(key)
            out.append(dict(cite, row=value))
    elif isinstance(value, list):
        for v in value:
            find_rows(v, out, seen)


class Context:
    """What templates can see: the request and the tool results in it."""

    def __init__(self, fmt, body, turn_index):
        self.body = body
        self.tool_results = extract_tool_results(fmt, body)
        last_mi = max((r["message_index"] for r in self.tool_results), default=None)
        # The latest batch: results after the last assistant message.
        last_assistant = -1
        for i, m in enumerate(body.get("messages") or []):
            if isinstance(m, dict) and m.get("role") == "assistant":
                last_assistant = i
        self.last_results = [r for r in self.tool_results
                             if r["message_index"] > last_assistant] if last_mi is not None else []
        self.rows = []
        seen = set()
        for i, r in enumerate(self.tool_results):
            n = len(self.rows)
            find_rows(r["json"], self.rows, seen)
            for row in self.rows[n:]:
                row["tool_result_index"] = i
        self.last_rows = []
        seen_last = set()
        for r in self.last_results:
            find_rows(r["json"], self.last_rows, seen_last)
        self.vars = {
            "tool_result": [r["json"] for r in self.tool_results],
            "tool_result_meta": [{k: r[k] for k in ("id", "name", "is_error", "text")}
                                 for r in self.tool_results],
            "last_tool_result": [r["json"] for r in self.last_results],
            "rows": self.rows,
            "last_rows": self.last_rows,
            "request": body,
            "turn": turn_index,
        }


# ---------------------------------------------------------------------------------------------
# Templates

_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")
_PATH_TOKEN = re.compile(r"\.?([A-Za-z_][A-Za-z0-9_-]*)|\[(-?\d+)\]|\[\"([^\"]*)\"\]")


def resolve(expr, variables):
    expr, _, filt = expr.partition("|")
    expr, filt = expr.strip(), filt.strip()
    pos, cur, first = 0, None, True
    while pos < len(expr):
        m = _PATH_TOKEN.match(expr, pos)
        if not m or m.end() == pos:
            raise ScriptError(f"bad placeholder path {expr!r} at {pos}")
        pos = m.end()
        name, index, quoted = m.group(1), m.group(2), m.group(3)
        key = name if name is not None else quoted
        if first:
            if key is None or key not in variables:
                raise ScriptError(f"unknown placeholder variable in {expr!r} "
                                  f"(known: {', '.join(sorted(variables))})")
            cur, first = variables[key], False
            continue
        if index is not None:
            i = int(index)
            if not isinstance(cur, list) or not -len(cur) <= i < len(cur):
                n = len(cur) if isinstance(cur, list) else "not a list"
                raise ScriptError(f"{expr!r}: index [{i}] out of range ({n})")
            cur = cur[i]
        else:
            if isinstance(cur, str):  # a tool result that is JSON text inside JSON text
                cur = _parse_result_text(cur)
            if not isinstance(cur, dict) or key not in cur:
                raise ScriptError(f"{expr!r}: no field {key!r}")
            cur = cur[key]
    if filt == "json":
        return json.dumps(cur, separators=(",", ":"))
    if filt == "len":
        return len(cur)
    if filt:
        raise ScriptError(f"unknown filter {filt!r} (json, len)")
    return cur


def render(value, variables):
    """Substitutes {{path}} placeholders; a string that is exactly one placeholder keeps the
    value's JSON type (a seq stays an integer)."""
    if isinstance(value, str):
        m = _PLACEHOLDER.fullmatch(value.strip())
        if m and value.strip() == value:
            return copy.deepcopy(resolve(m.group(1), variables))

        def sub(mm):
            v = resolve(mm.group(1), variables)
            return v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))
        return _PLACEHOLDER.sub(sub, value)
    if isinstance(value, list):
        return [render(v, variables) for v in value]
    if isinstance(value, dict):
        return {k: render(v, variables) for k, v in value.items()}
    return value


def _get_path(obj, dotted):
    for part in dotted.split("."):
        if isinstance(obj, str):
            obj = _parse_result_text(obj)
        if not isinstance(obj, dict) or part not in obj:
            return None
        obj = obj[part]
    return obj


def fabricated_hash(h):
    return hashlib.sha256(("fabricated:" + str(h)).encode()).hexdigest()


def pick_answer(spec, ctx):
    """{"submit_answer_from_tool_results": {...}}: claims citing rows the client sent back."""
    pick = spec.get("pick", "first_audit_row")
    pool = ctx.last_rows if spec.get("_last_only") or spec.get("from") == "last" else ctx.rows
    stream = spec.get("stream")
    if "audit" in pick:
        stream = stream or "audit"
    rows = [r for r in pool if stream is None or r["stream"] == stream]
    for path, want in (spec.get("where") or {}).items():
        rows = [r for r in rows if _get_path(r["row"], path) == want]
    if pick.startswith("first"):
        rows = rows[:1]
    elif pick.startswith("last"):
        rows = rows[-1:]
    elif isinstance(spec.get("count"), int):
        rows = rows[:spec["count"]]
    if not rows:
        raise ScriptError(f"submit_answer_from_tool_results: no row matches pick={pick!r} "
                          f"stream={stream!r} where={spec.get('where')!r} "
                          f"({len(pool)} rows seen)")
    tamper = spec.get("tamper")
    cites = []
    for r in rows:
        c = {"stream": r["stream"], "seq": r["seq"], "hash": r["hash"]}
        if tamper == "hash":
            c["hash"] = fabricated_hash(c["hash"])
        elif tamper == "seq":
            c["seq"] = c["seq"] + 1000000
        elif tamper == "stream":
            c["stream"] = {"audit": "sys", "sys": "api", "api": "audit"}[c["stream"]]
        elif tamper not in (None, "uncite"):
            raise ScriptError(f"unknown tamper {tamper!r} (hash, seq, stream, uncite)")
        cites.append((r, c))
    claim_tpl = spec.get("claim", "{{row.code}} recorded as {{cite.stream}} row {{cite.seq}}")
    claims = []
    if spec.get("one_claim"):
        variables = dict(ctx.vars, row=rows[0]["row"], cite=cites[0][1], rows_picked=rows)
        claims.append({"text": render(claim_tpl, variables), "citations": [c for _, c in cites]})
    else:
        for r, c in cites:
            variables = dict(ctx.vars, row=r["row"], cite=c)
            claims.append({"text": render(claim_tpl, variables), "citations": [c]})
    if tamper == "uncite":
        for cl in claims:
            cl["citations"] = []
    first_vars = dict(ctx.vars, row=rows[0]["row"], cite=cites[0][1])
    claims += render(spec.get("extra_claims", []), first_vars)
    answer = render(spec.get("answer", " ".join(cl["text"] for cl in claims)), first_vars)
    return {"answer": answer, "claims": claims,
            "unknowns": render(spec.get("unknowns", []), first_vars)}


# ---------------------------------------------------------------------------------------------
# Neutral turn -> provider bodies


def neutral_turn(turn, ctx):
    """The model's answer for this turn: {texts, tool_calls[{id?, name, input}], stop, refusal}."""
    variables = ctx.vars
    texts = []
    if "text" in turn:
        t = render(turn["text"], variables)
        texts = t if isinstance(t, list) else [t]
    calls = []
    for tc in turn.get("tool_calls", []):
        call = {"name": tc["name"], "input": render(tc.get("input", {}), variables)}
        if "id" in tc:
            call["id"] = tc["id"]
        if "raw_arguments" in tc:  # OpenAI-style arguments string, verbatim (may be invalid)
            call["raw_arguments"] = tc["raw_arguments"]
        calls.append(call)
    if "submit_answer" in turn:
        ans = render(turn["submit_answer"], variables)
        ans.setdefault("unknowns", [])
        calls.append({"name": "submit_answer", "input": ans})
    for key in ("submit_answer_from_tool_results", "submit_answer_from_last_tool_result"):
        if key in turn:
            spec = dict(turn[key], _last_only=(key == "submit_answer_from_last_tool_result"))
            calls.append({"name": "submit_answer", "input": pick_answer(spec, ctx)})
    return {"texts": [t for t in texts if t is not None], "tool_calls": calls,
            "stop": turn.get("stop_reason"), "refusal": turn.get("refusal")}


def estimate_usage(turn, body_bytes, out_obj):
    u = turn.get("usage", {}) if isinstance(turn.get("usage", {}), dict) else {}
    return {
        "input": u.get("input", max(1, len(body_bytes) // 4)),
        "output": u.get("output", max(1, len(json.dumps(out_obj)) // 4)),
        "cache_read": u.get("cache_read", 0),
        "cache_write": u.get("cache_write", 0),
        "reasoning": u.get("reasoning", 0),
    }


ANTHROPIC_STOPS = {"end_turn", "tool_use", "max_tokens", "stop_sequence", "pause_turn", "refusal",
                   "model_context_window_exceeded"}


def anthropic_stop(nt, quirks):
    stop = nt["stop"]
    if stop == "context_exceeded":
        stop = "model_context_window_exceeded"
    if stop:
        return stop
    if nt["refusal"] is not None:
        return "refusal"
    return "tool_use" if nt["tool_calls"] else "end_turn"


def openai_finish(nt, quirks, calls_present):
    stop = nt["stop"]
    mapping = {"end_turn": "stop", "tool_use": "tool_calls", "max_tokens": "length",
               "refusal": "stop", "context_exceeded": "length", "stop_sequence": "stop"}
    if stop:
        return mapping.get(stop, stop)
    if calls_present:
        if "finish_tool" in quirks:
            return "tool"
        if "finish_stop" in quirks:
            return "stop"
        return "tool_calls"
    return "stop"


def as_text_calls(nt):
    """tool_call_as_text: the model wrote its calls as text (no parser on the server)."""
    if not nt["tool_calls"]:
        return nt
    nt = dict(nt)
    texts = list(nt["texts"])
    for c in nt["tool_calls"]:
        texts.append("```json\n" + json.dumps({"name": c["name"], "arguments": c["input"]}) + "\n```")
    nt["texts"], nt["tool_calls"] = texts, []
    return nt


def anthropic_body(nt, turn, model, body_bytes, quirks):
    if "tool_call_as_text" in quirks:
        nt = as_text_calls(nt)
    content = [{"type": "text", "text": t} for t in nt["texts"]]
    if nt["refusal"] is not None and nt["refusal"] != "":
        content.append({"type": "text", "text": nt["refusal"]})
    for c in nt["tool_calls"]:
        block = {"type": "tool_use", "id": c.get("id") or tool_call_id("anthropic"),
                 "name": c["name"], "input": c["input"]}
        if "no_tool_ids" in quirks:
            del block["id"]
        content.append(block)
    out = {"id": message_id("anthropic"), "type": "message", "role": "assistant", "model": model,
           "content": content, "stop_reason": anthropic_stop(nt, quirks), "stop_sequence": None}
    if turn.get("usage", {}) is not None and "no_usage" not in quirks:
        u = estimate_usage(turn, body_bytes, content)
        usage = {"input_tokens": u["input"],
                 "cache_creation_input_tokens": u["cache_write"],
                 "cache_read_input_tokens": u["cache_read"],
                 "cache_creation": {"ephemeral_5m_input_tokens": u["cache_write"],
                                    "ephemeral_1h_input_tokens": 0},
                 "output_tokens": u["output"],
                 "service_tier": "standard"}
        if "partial_usage" in quirks:
            usage = {"input_tokens": u["input"]}
        out["usage"] = usage
    return out


def openai_message(nt, flavor, quirks):
    """choices[0].message for the OpenAI-compatible flavours."""
    if "tool_call_as_text" in quirks:
        nt = as_text_calls(nt)
    text = "".join(nt["texts"]) if nt["texts"] else None
    calls = []
    for i, c in enumerate(nt["tool_calls"]):
        if "raw_arguments" in c:
            args = c["raw_arguments"]
        elif "args_object" in quirks:
            args = c["input"]
        else:
            sep = (", ", ": ") if flavor == "vllm" else (",", ":")
            args = json.dumps(c["input"], separators=sep)
            if "args_invalid_json" in quirks:
                args = args[:-1]
        tc = {"id": c.get("id") or tool_call_id(flavor), "type": "function",
              "function": {"name": c["name"], "arguments": args}}
        if flavor == "ollama":
            tc = {"id": tc["id"], "index": i, "type": "function", "function": tc["function"]}
        if "no_tool_ids" in quirks:
            tc.pop("id")
        if "no_tool_type" in quirks:
            tc.pop("type")
        calls.append(tc)
    if text is None and flavor == "ollama":
        text = ""  # Ollama never sends null content
    if text is None and "content_empty" in quirks:
        text = ""
    if "content_null" in quirks:
        text = None
    msg = {"role": "assistant", "content": text}
    if flavor == "openai":
        msg["refusal"] = nt["refusal"]
    elif nt["refusal"] is not None and text is None:
        msg["content"] = nt["refusal"]
    if calls:
        msg["tool_calls"] = calls
    elif flavor == "vllm":
        msg["tool_calls"] = []
    if flavor == "openai":
        msg["annotations"] = []
    if flavor == "vllm" or "extra_fields" in quirks:
        msg["reasoning_content"] = None
    if "extra_fields" in quirks:
        msg["reasoning"] = "(fake reasoning a client must ignore)"
    return msg, bool(calls)


def openai_usage(u, flavor, quirks):
    if "no_usage" in quirks:
        return None
    if "partial_usage" in quirks:
        return {"prompt_tokens": u["input"] + u["cache_read"]}
    prompt = u["input"] + u["cache_read"]
    usage = {"prompt_tokens": prompt, "completion_tokens": u["output"],
             "total_tokens": prompt + u["output"]}
    if flavor == "openai":
        usage["prompt_tokens_details"] = {"cached_tokens": u["cache_read"], "audio_tokens": 0}
        usage["completion_tokens_details"] = {"reasoning_tokens": u["reasoning"], "audio_tokens": 0,
                                              "accepted_prediction_tokens": 0,
                                              "rejected_prediction_tokens": 0}
    elif flavor == "vllm":
        usage["prompt_tokens_details"] = None
    return usage


def openai_body(nt, turn, model, body_bytes, flavor, quirks):
    msg, calls_present = openai_message(nt, flavor, quirks)
    choice = {"index": 0, "message": msg, "logprobs": None,
              "finish_reason": openai_finish(nt, quirks, calls_present)}
    if flavor == "vllm":
        choice["stop_reason"] = None
    out = {"id": message_id(flavor), "object": "chat.completion", "created": int(time.time()),
           "model": model, "choices": [choice]}
    if flavor == "openai":
        out["service_tier"] = "default"
        out["system_fingerprint"] = "fp_fake" + IDS.hex(5)
    elif flavor == "ollama":
        out["system_fingerprint"] = "fp_ollama"
    elif flavor.startswith("llamacpp"):
        out["system_fingerprint"] = "b7000-fake"
    if turn.get("usage", {}) is not None:
        usage = openai_usage(estimate_usage(turn, body_bytes, msg), flavor, quirks)
        if usage is not None:
            out["usage"] = usage
    if flavor.startswith("llamacpp"):
        out["timings"] = {"prompt_n": 1, "prompt_ms": 1.0, "predicted_n": 1, "predicted_ms": 1.0}
    return out


def ollama_native_body(nt, turn, model, body_bytes, quirks):
    if "tool_call_as_text" in quirks:
        nt = as_text_calls(nt)
    msg = {"role": "assistant", "content": "".join(nt["texts"])}
    if nt["tool_calls"]:
        calls = []
        for i, c in enumerate(nt["tool_calls"]):
            tc = {"id": c.get("id") or tool_call_id("ollama-native"),
                  "function": {"index": i, "name": c["name"], "arguments": c["input"]}}
            if "no_tool_ids" in quirks:
                del tc["id"]
            calls.append(tc)
        msg["tool_calls"] = calls
    stop = nt["stop"]
    done_reason = "length" if stop in ("max_tokens", "context_exceeded") else "stop"
    out = {"model": model, "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime()),
           "message": msg, "done": True, "done_reason": done_reason,
           "total_duration": 912000000, "load_duration": 1000000, "prompt_eval_duration": 100000000,
           "eval_duration": 800000000}
    if turn.get("usage", {}) is not None and "no_usage" not in quirks:
        u = estimate_usage(turn, body_bytes, msg)
        if "no_prompt_eval_count" not in quirks:
            out["prompt_eval_count"] = u["input"]
        if "partial_usage" not in quirks:
            out["eval_count"] = u["output"]
    return out


# ---------------------------------------------------------------------------------------------
# Streams


def sse(event, data):
    head = f"event: {event}\n" if event else ""
    return (head + "data: " + json.dumps(data, separators=(",", ":")) + "\n\n").encode()


def _pieces(s, n=2):
    if len(s) <= 1:
        return [s]
    step = max(1, (len(s) + n - 1) // n)
    return [s[i:i + step] for i in range(0, len(s), step)]


def anthropic_stream(full, mid_error=None):
    start = dict(full, content=[], stop_reason=None)
    usage = full.get("usage")
    if usage is not None:
        start["usage"] = dict(usage, output_tokens=1)
    yield sse("message_start", {"type": "message_start", "message": start})
    yield sse("ping", {"type": "ping"})
    for i, block in enumerate(full["content"]):
        if block["type"] == "text":
            yield sse("content_block_start", {"type": "content_block_start", "index": i,
                                              "content_block": {"type": "text", "text": ""}})
            for p in _pieces(block["text"]):
                yield sse("content_block_delta", {"type": "content_block_delta", "index": i,
                                                  "delta": {"type": "text_delta", "text": p}})
        else:
            cb = dict(block, input={})
            yield sse("content_block_start", {"type": "content_block_start", "index": i,
                                              "content_block": cb})
            for p in _pieces(json.dumps(block["input"]), 3):
                yield sse("content_block_delta", {"type": "content_block_delta", "index": i,
                                                  "delta": {"type": "input_json_delta",
                                                            "partial_json": p}})
        if mid_error is not None:
            yield sse("error", mid_error)
            return
        yield sse("content_block_stop", {"type": "content_block_stop", "index": i})
    if mid_error is not None:
        yield sse("error", mid_error)
        return
    delta = {"type": "message_delta",
             "delta": {"stop_reason": full["stop_reason"], "stop_sequence": None}}
    if usage is not None:
        delta["usage"] = {"output_tokens": usage.get("output_tokens", 0)}
    yield sse("message_delta", delta)
    yield sse("message_stop", {"type": "message_stop"})


def openai_stream(full, include_usage, mid_error=None):
    base = {k: full[k] for k in ("id", "object", "created", "model") if k in full}
    base["object"] = "chat.completion.chunk"
    if "system_fingerprint" in full:
        base["system_fingerprint"] = full["system_fingerprint"]
    choice = full["choices"][0]
    msg = choice["message"]

    def chunk(delta, finish=None):
        return ("data: " + json.dumps(dict(base, choices=[{"index": 0, "delta": delta,
                                                            "logprobs": None,
                                                            "finish_reason": finish}]),
                                      separators=(",", ":")) + "\n\n").encode()
    yield chunk({"role": "assistant", "content": ""})
    if msg.get("content"):
        for p in _pieces(msg["content"]):
            yield chunk({"content": p})
    if mid_error is not None:
        yield ("data: " + json.dumps(mid_error) + "\n\n").encode()
        return
    for i, tc in enumerate(msg.get("tool_calls") or []):
        head = {k: v for k, v in tc.items() if k in ("id", "type")}
        head["index"] = i
        args = tc["function"]["arguments"]
        if not isinstance(args, str):
            args = json.dumps(args)
        head["function"] = {"name": tc["function"]["name"], "arguments": ""}
        yield chunk({"tool_calls": [head]})
        for p in _pieces(args, 3):
            yield chunk({"tool_calls": [{"index": i, "function": {"arguments": p}}]})
    yield chunk({}, choice["finish_reason"])
    if include_usage and "usage" in full:
        yield ("data: " + json.dumps(dict(base, choices=[], usage=full["usage"]),
                                     separators=(",", ":")) + "\n\n").encode()
    yield b"data: [DONE]\n\n"


def ollama_stream(full, mid_error=None):
    base = {"model": full["model"], "created_at": full["created_at"]}
    msg = full["message"]
    for p in _pieces(msg.get("content", "")) if msg.get("content") else []:
        yield (json.dumps(dict(base, message={"role": "assistant", "content": p}, done=False)) +
               "\n").encode()
    if mid_error is not None:
        yield (json.dumps({"error": mid_error}) + "\n").encode()
        return
    if msg.get("tool_calls"):
        yield (json.dumps(dict(base, message={"role": "assistant", "content": "",
                                              "tool_calls": msg["tool_calls"]}, done=False)) +
               "\n").encode()
    last = dict(full, message={"role": "assistant", "content": ""})
    yield (json.dumps(last) + "\n").encode()


# ---------------------------------------------------------------------------------------------
# Errors


ERROR_KINDS = {
    # kind: (status, anthropic type, openai type, openai code, llama.cpp type, message)
    "bad_request": (400, "invalid_request_error", "invalid_request_error", None,
                    "invalid_request_error", "fake_llm: bad request"),
    "auth": (401, "authentication_error", "invalid_request_error", "invalid_api_key",
             "authentication_error", "invalid x-api-key"),
    "permission": (403, "permission_error", "invalid_request_error", None, "permission_error",
                   "Your API key does not have permission to use the specified resource."),
    "not_found": (404, "not_found_error", "invalid_request_error", "model_not_found",
                  "not_found_error", "model not found"),
    "too_large": (413, "request_too_large", "invalid_request_error", None,
                  "invalid_request_error", "Request exceeds the maximum allowed number of bytes."),
    "rate_limit": (429, "rate_limit_error", "requests", "rate_limit_exceeded",
                   "server_error", "Rate limit reached for requests"),
    "quota": (429, "billing_error", "insufficient_quota", "insufficient_quota", "server_error",
              "You exceeded your current quota, please check your plan and billing details."),
    "server_error": (500, "api_error", "server_error", None, "server_error",
                     "Internal server error"),
    "overloaded": (529, "overloaded_error", "server_error", None, "unavailable_error",
                   "Overloaded"),
    "unavailable": (503, "api_error", "server_error", None, "unavailable_error", "Loading model"),
}
VLLM_TYPES = {400: "BadRequestError", 401: "Unauthorized", 404: "NotFoundError",
              429: "RateLimitError", 500: "InternalServerError", 503: "ServiceUnavailableError"}
OLLAMA_TYPES = {400: "invalid_request_error", 404: "not_found_error"}


def error_body(fmt, flavor, status, etype, message, code, quirks, rid):
    """The error envelope of this provider (docs/providers.md §3, §4)."""
    if fmt == "ollama-native" or "error_string" in quirks:
        return {"error": message}
    if fmt == "anthropic":
        return {"type": "error", "error": {"type": etype, "message": message}, "request_id": rid}
    if flavor == "vllm":
        vtype = VLLM_TYPES.get(status, "BadRequestError" if status < 500 else "InternalServerError")
        if "error_flat" in quirks:
            return {"object": "error", "message": message, "type": vtype, "param": None,
                    "code": status}
        return {"error": {"message": message, "type": vtype, "param": None, "code": status}}
    if flavor == "ollama":
        return {"error": {"message": message, "type": OLLAMA_TYPES.get(status, "api_error"),
                          "param": None, "code": None}}
    if flavor.startswith("llamacpp"):
        return {"error": {"code": status, "message": message, "type": etype}}
    return {"error": {"message": message, "type": etype, "param": None, "code": code}}


def fault_response(fault, fmt, flavor, quirks, rid):
    """(status, headers, body dict) for an HTTP error fault."""
    kind = fault.get("kind", "http")
    if kind == "vllm_auto_tool_choice":
        status, at, ot, code, lt = 400, "invalid_request_error", "BadRequestError", 400, \
            "invalid_request_error"
        msg = ('"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser '
               'to be set')
    elif kind in ERROR_KINDS:
        status, at, ot, code, lt, msg = ERROR_KINDS[kind]
    elif kind == "http":
        status = int(fault.get("status", 500))
        at = ot = lt = "api_error" if status >= 500 else "invalid_request_error"
        code, msg = None, f"fake_llm: HTTP {status}"
    else:
        raise ScriptError(f"unknown fault kind {kind!r}")
    if kind == "overloaded" and fmt != "anthropic":
        status = 503  # 529 is Anthropic's own
    if kind == "auth" and fmt == "openai" and flavor == "openai":
        msg = "Incorrect API key provided: sk-fake***. You can find your API key at https://platform.openai.com/account/api-keys."
    if kind == "rate_limit" and fmt == "anthropic":
        msg = "This request would exceed the rate limit for your organization. Retry later."
    if kind == "quota" and fmt == "anthropic":
        msg = "This request would exceed your organization's monthly spend limit."
    if kind == "auth" and flavor == "vllm" and fmt != "anthropic":
        quirks = set(quirks) | {"error_string"}
        msg = "Unauthorized"
    status = int(fault.get("status", status))
    msg = fault.get("message", msg)
    etype = fault.get("error_type", at if fmt == "anthropic" else
                      (lt if flavor.startswith("llamacpp") else ot))
    code = fault.get("code", code)
    headers = {}
    ra = fault.get("retry_after", 1 if kind == "rate_limit" else None)
    if ra is not None:
        headers["retry-after"] = str(ra)
    if fault.get("retry_after_ms") is not None:
        headers["retry-after-ms"] = str(fault["retry_after_ms"])
    if fault.get("should_retry") is not None:
        headers["x-should-retry"] = "true" if fault["should_retry"] else "false"
    headers.update({k.lower(): str(v) for k, v in (fault.get("headers") or {}).items()})
    body = fault.get("body", error_body(fmt, flavor, status, etype, msg, code, quirks, rid))
    return status, headers, body


# ---------------------------------------------------------------------------------------------
# Request validation (what the real APIs reject with a 400)


def validate_request(fmt, body, headers):
    """A message for a request the real API would refuse, else None."""
    if not isinstance(body, dict):
        return "request body must be a JSON object"
    if not isinstance(body.get("messages"), list) or not body["messages"]:
        return "messages: field required"
    if "model" not in body:
        return "model: field required"
    msgs = body["messages"]
    if fmt == "anthropic":
        if "max_tokens" not in body:
            return "max_tokens: field required"
        if "anthropic-version" not in headers:
            return "anthropic-version: header is required"
        prev = None
        for i, m in enumerate(msgs):
            role = m.get("role") if isinstance(m, dict) else None
            if role not in ("user", "assistant"):
                return f"messages.{i}.role: Input should be 'user' or 'assistant'"
            if role == prev:
                return f"messages.{i}: roles must alternate between \"user\" and \"assistant\""
            prev = role
            content = m.get("content")
            uses = []
            if role == "assistant" and isinstance(content, list):
                uses = [b.get("id") for b in content
                        if isinstance(b, dict) and b.get("type") == "tool_use"]
            if uses:
                nxt = msgs[i + 1] if i + 1 < len(msgs) else None
                if nxt is None:
                    continue  # prefill of an assistant turn; not our case but legal
                got = [b.get("tool_use_id") for b in (nxt.get("content") or [])
                       if isinstance(b, dict) and b.get("type") == "tool_result"] \
                    if isinstance(nxt.get("content"), list) else []
                missing = [u for u in uses if u not in got]
                if missing:
                    return (f"messages.{i + 1}: `tool_use` ids were found without `tool_result` "
                            f"blocks immediately after: {', '.join(map(str, missing))}. Each "
                            f"`tool_use` block must have a corresponding `tool_result` block in "
                            f"the next message.")
            if role == "user" and isinstance(content, list):
                prev_uses = []
                if i > 0 and isinstance(msgs[i - 1].get("content"), list):
                    prev_uses = [b.get("id") for b in msgs[i - 1]["content"]
                                 if isinstance(b, dict) and b.get("type") == "tool_use"]
                for j, b in enumerate(content):
                    if isinstance(b, dict) and b.get("type") == "tool_result" and \
                            b.get("tool_use_id") not in prev_uses:
                        return (f"messages.{i}.content.{j}: unexpected `tool_use_id` found in "
                                f"`tool_result` blocks: {b.get('tool_use_id')}. Each "
                                f"`tool_result` block must have a corresponding `tool_use` block "
                                f"in the previous message.")
        return None
    # OpenAI-compatible and Ollama native
    pending = []
    for i, m in enumerate(msgs):
        role = m.get("role") if isinstance(m, dict) else None
        if role not in ("system", "developer", "user", "assistant", "tool"):
            return f"messages[{i}].role: invalid value {role!r}"
        if role == "tool":
            tid = m.get("tool_call_id")
            if fmt == "ollama-native" and tid is None:
                continue  # older Ollama results carry only tool_name
            if tid not in pending:
                return (f"Invalid parameter: messages with role 'tool' must be a response to a "
                        f"preceeding message with 'tool_calls'. (messages[{i}], tool_call_id "
                        f"{tid!r})")
            pending.remove(tid)
            continue
        if pending and fmt != "ollama-native":
            return (f"An assistant message with 'tool_calls' must be followed by tool messages "
                    f"responding to each 'tool_call_id'. The following tool_call_ids did not "
                    f"have response messages: {', '.join(map(str, pending))}")
        pending = []
        if role == "assistant":
            for tc in m.get("tool_calls") or []:
                if fmt != "ollama-native" and isinstance(tc, dict) and not tc.get("id"):
                    return f"messages[{i}].tool_calls: each tool call needs an id"
                pending.append(tc.get("id") if isinstance(tc, dict) else None)
    if pending and fmt != "ollama-native":
        return (f"An assistant message with 'tool_calls' must be followed by tool messages "
                f"responding to each 'tool_call_id'. The following tool_call_ids did not have "
                f"response messages: {', '.join(map(str, pending))}")
    return None


def declared_tools(fmt, body):
    names = []
    for t in body.get("tools") or [] if isinstance(body, dict) else []:
        if not isinstance(t, dict):
            continue
        if fmt == "anthropic":
            names.append(t.get("name"))
        else:
            names.append((t.get("function") or {}).get("name", t.get("name")))
    return names


def _subset(want, got, path="$"):
    """Differences where `want` is not contained in `got`."""
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return [f"{path}: want object, got {json.dumps(got)[:200]}"]
        diffs = []
        for k, v in want.items():
            if k not in got:
                diffs.append(f"{path}.{k}: missing (want {json.dumps(v)[:200]})")
            else:
                diffs += _subset(v, got[k], f"{path}.{k}")
        return diffs
    if want != got:
        return [f"{path}: want {json.dumps(want)[:200]}, got {json.dumps(got)[:200]}"]
    return []


def check_expect(expect, method, path, flavor, fmt, headers, body):
    diffs = []
    if "method" in expect and expect["method"].upper() != method:
        diffs.append(f"method: want {expect['method']}, got {method}")
    if "path" in expect and expect["path"] != path:
        diffs.append(f"path: want {expect['path']}, got {path}")
    if "flavor" in expect and expect["flavor"] != flavor:
        diffs.append(f"flavor: want {expect['flavor']}, got {flavor}")
    if "format" in expect and expect["format"] != fmt:
        diffs.append(f"format: want {expect['format']}, got {fmt}")
    for h in expect.get("headers_present", []):
        if h.lower() not in headers:
            diffs.append(f"header {h}: missing")
    for h in expect.get("headers_absent", []):
        if h.lower() in headers:
            diffs.append(f"header {h}: present, expected absent")
    for h, v in (expect.get("headers") or {}).items():
        if headers.get(h.lower()) != v:
            got = headers.get(h.lower())
            if h.lower() in SECRET_HEADERS:
                got = "<redacted>" if got is not None else None
            diffs.append(f"header {h}: want {v!r}, got {got!r}")
    if "json_subset" in expect:
        diffs += _subset(expect["json_subset"], body)
    if "tools" in expect:
        got = declared_tools(fmt, body)
        if sorted(expect["tools"]) != sorted(got):
            diffs.append(f"tools: want {sorted(expect['tools'])}, got {sorted(got)}")
    if expect.get("no_tools") and declared_tools(fmt, body):
        diffs.append(f"tools: want none, got {declared_tools(fmt, body)}")
    if "tool_result_count" in expect:
        n = len(extract_tool_results(fmt, body))
        if n != expect["tool_result_count"]:
            diffs.append(f"tool results: want {expect['tool_result_count']}, got {n}")
    if "body_contains" in expect:
        raw = json.dumps(body)
        for s in ([expect["body_contains"]] if isinstance(expect["body_contains"], str)
                  else expect["body_contains"]):
            if s not in raw:
                diffs.append(f"body: does not contain {s!r}")
    if "body_lacks" in expect:
        raw = json.dumps(body)
        for s in ([expect["body_lacks"]] if isinstance(expect["body_lacks"], str)
                  else expect["body_lacks"]):
            if s in raw:
                diffs.append(f"body: contains {s!r}")
    return diffs


# ---------------------------------------------------------------------------------------------
# The server


class Script:
    def __init__(self, path, default_flavor, cli_quirks):
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        if isinstance(doc, list):
            doc = {"turns": doc}
        self.dir = os.path.dirname(os.path.abspath(path))
        self.model = doc.get("model")
        self.quirks = set(doc.get("quirks", [])) | set(cli_quirks)
        self.flavor_quirks = {k: set(v) for k, v in (doc.get("flavor_quirks") or {}).items()}
        self.api_keys = doc.get("api_keys") or {}
        self.validate = doc.get("validate", True)
        self.on_exhausted = doc.get("on_exhausted", {"kind": "http", "status": 500,
                                                     "message": "fake_llm: script exhausted"})
        self.turns = []
        for t in doc.get("turns", []):
            for _ in range(int(t.get("repeat", 1))):
                self.turns.append(t)
        for q in self.quirks | {q for v in self.flavor_quirks.values() for q in v} | \
                {q for t in self.turns for q in t.get("quirks", [])}:
            if q not in QUIRKS:
                raise SystemExit(f"fake_llm: unknown quirk {q!r}")
        self.default_flavor = default_flavor
        self.next = 0
        self.failures = []
        self.lock = threading.Lock()

    def take(self):
        with self.lock:
            if self.next >= len(self.turns):
                self.next += 1
                return None, self.next - 1
            t = self.turns[self.next]
            self.next += 1
            return t, self.next - 1


PATH_RE = re.compile(r"^/(%s)(/.*)$" % "|".join(re.escape(f) for f in
                                                 sorted(FLAVORS, key=len, reverse=True)))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-llm/1"
    sys_version = ""

    def log_message(self, fmt, *args):  # quiet; the JSONL log is the record
        pass

    def version_string(self):
        return self.server_version

    # -- plumbing --------------------------------------------------------------------------

    def _route(self):
        path = self.path.split("?", 1)[0]
        m = PATH_RE.match(path)
        flavor, rest = (m.group(1), m.group(2)) if m else (None, path)
        if rest == "/v1/messages":
            return flavor or "anthropic", "anthropic"
        if rest == "/api/chat":
            return "ollama", "ollama-native"
        if rest == "/v1/chat/completions":
            flavor = flavor or self.server.script.default_flavor
            if flavor == "anthropic":
                return flavor, None
            return flavor, "openai"
        return flavor or self.server.script.default_flavor, None

    def _headers(self):
        return {k.lower(): v for k, v in self.headers.items()}

    def _redacted(self, headers):
        out = {}
        for k, v in headers.items():
            if k in SECRET_HEADERS:
                scheme = v.split(" ", 1)[0] + " " if k == "authorization" and " " in v else ""
                out[k] = f"{scheme}[redacted len={len(v) - len(scheme)}]"
            else:
                out[k] = v
        return out

    def _log(self, record):
        srv = self.server
        if not srv.log_path:
            return
        with srv.log_lock:
            with open(srv.log_path, "a", encoding="utf-8") as f:
                f.write(json.dumps(record, separators=(",", ":")) + "\n")
                f.flush()

    def _send(self, status, headers, payload, content_type="application/json", gz=False,
              truncate=False):
        if isinstance(payload, (dict, list)):
            data = json.dumps(payload, separators=(",", ":")).encode()
        elif isinstance(payload, str):
            data = payload.encode()
        else:
            data = payload
        if gz:
            data = gzip.compress(data)
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(data)))
        if gz:
            self.send_header("content-encoding", "gzip")
        for k, v in headers.items():
            self.send_header(k, v)
        if truncate:
            self.send_header("connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(data[:len(data) // 2] if truncate else data)
        self.wfile.flush()
        if truncate:
            self._drop(reset=False)

    def _send_stream(self, status, headers, chunks, content_type):
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("transfer-encoding", "chunked")
        self.send_header("cache-control", "no-cache")
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        for c in chunks:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(c), c))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _drop(self, reset):
        self.close_connection = True
        try:
            if reset:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
                self.connection.close()
            else:
                self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _error(self, fmt, flavor, quirks, rid, status, etype, message, code=None, extra=None):
        body = error_body(fmt or "openai", flavor, status, etype, message, code, quirks, rid)
        self._send(status, self._rid_headers(fmt, rid) | (extra or {}), body)

    @staticmethod
    def _rid_headers(fmt, rid):
        if fmt == "anthropic":
            return {"request-id": rid}
        return {"x-request-id": rid}

    # -- verbs -----------------------------------------------------------------------------

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        headers = self._headers()
        if path == "/_fake/status":
            s = self.server.script
            with s.lock:
                status = {"served": min(s.next, len(s.turns)), "requests": s.next,
                          "turns": len(s.turns), "remaining": max(0, len(s.turns) - s.next),
                          "failures": list(s.failures)}
            self._send(200, {}, status)
            return
        flavor, _ = self._route()
        self._log({"time": time.time(), "method": "GET", "path": path, "flavor": flavor,
                   "headers": self._redacted(headers)})
        if path.endswith("/v1/models"):
            model = self.server.script.model or "fake-model"
            self._send(200, {}, {"object": "list", "data": [
                {"id": model, "object": "model", "created": 1767225600, "owned_by": "fake-llm"}]})
            return
        self._send(404, {}, {"error": {"message": f"no route for GET {path}",
                                       "type": "not_found_error", "param": None, "code": None}})

    def do_POST(self):
        try:
            self._post()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (e.g. its timeout fired)

    def _post(self):
        srv = self.server
        script = srv.script
        headers = self._headers()
        path = self.path.split("?", 1)[0]
        length = int(headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        flavor, fmt = self._route()
        quirks = set(script.quirks) | FLAVOR_QUIRKS.get(flavor, set()) | \
            script.flavor_quirks.get(flavor, set())
        rid = request_id(fmt or flavor)
        record = {"time": time.time(), "method": "POST", "path": path, "flavor": flavor,
                  "format": fmt, "headers": self._redacted(headers)}
        try:
            body = json.loads(raw) if raw else None
            record["body"] = body
        except ValueError:
            body = None
            record["body_raw"] = raw.decode("utf-8", "replace")
        if fmt is None:
            record["response"] = {"status": 404}
            self._log(record)
            self._error("openai", flavor, quirks, rid, 404, "not_found_error",
                        f"no route for POST {path}")
            return
        if isinstance(body, dict):
            record["tools"] = declared_tools(fmt, body)
            record["tool_choice"] = body.get("tool_choice")
            record["stream"] = bool(body.get("stream", fmt == "ollama-native"))
            record["tool_results"] = [{k: r[k] for k in ("id", "name", "is_error")}
                                      for r in extract_tool_results(fmt, body)]

        # Authentication, before the script: the real services refuse without looking further.
        auth_err = self._check_auth(fmt, flavor, headers)
        if auth_err:
            record["response"] = {"status": 401, "auth": auth_err}
            self._log(record)
            fault = {"kind": "auth", "message": auth_err}
            status, h, b = fault_response(fault, fmt, flavor, quirks, rid)
            self._send(status, self._rid_headers(fmt, rid) | h, b)
            return
        if body is None or not isinstance(body, dict):
            record["response"] = {"status": 400, "validation_error": "body is not a JSON object"}
            self._log(record)
            self._error(fmt, flavor, quirks, rid, 400, "invalid_request_error",
                        "There was an error parsing the body" if fmt == "anthropic"
                        else "We could not parse the JSON body of your request.")
            return
        if script.validate:
            problem = validate_request(fmt, body, headers)
            if problem:
                record["response"] = {"status": 400, "validation_error": problem}
                self._log(record)
                self._error(fmt, flavor, quirks, rid, 400, "invalid_request_error", problem)
                return

        turn, index = script.take()
        record["turn"] = index
        if turn is None:
            turn = {"fault": script.on_exhausted}
            record["script_exhausted"] = True
            with script.lock:
                script.failures.append(f"request {index}: script exhausted ({path})")
        quirks |= set(turn.get("quirks", []))
        diffs = check_expect(turn.get("expect") or {}, "POST", path, flavor, fmt, headers, body)
        if diffs:
            record["expect_failed"] = diffs
            with script.lock:
                script.failures.append({"turn": index, "diffs": diffs})
            record["response"] = {"status": 400}
            self._log(record)
            self._error(fmt, flavor, quirks, rid, 400, "invalid_request_error",
                        "fake_llm expectation failed: " + "; ".join(diffs))
            return
        try:
            self._respond(turn, index, fmt, flavor, quirks, rid, body, raw, record)
        except ScriptError as e:
            record["script_error"] = str(e)
            record["response"] = {"status": 500}
            with script.lock:
                script.failures.append({"turn": index, "script_error": str(e)})
            self._log(record)
            self._error(fmt, flavor, quirks, rid, 500, "api_error", f"fake_llm script error: {e}")

    def _check_auth(self, fmt, flavor, headers):
        keys = self.server.script.api_keys
        want = keys.get(flavor if fmt != "ollama-native" else "ollama")
        if fmt == "anthropic":
            got = headers.get("x-api-key")
            if got is None and headers.get("authorization", "").startswith("Bearer "):
                got = headers["authorization"][7:]
            if flavor == "anthropic" and got is None:
                return "x-api-key header is required"
        else:
            auth = headers.get("authorization")
            got = auth[7:] if auth and auth.startswith("Bearer ") else None
            if flavor == "openai" and got is None:
                return ("You didn't provide an API key. You need to provide your API key in an "
                        "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).")
        if want is not None and got != want:
            if fmt == "anthropic":
                return "invalid x-api-key"
            return "Unauthorized" if flavor == "vllm" else "Invalid API Key"
        return None

    def _respond(self, turn, index, fmt, flavor, quirks, rid, body, raw, record):
        ctx = Context(fmt, body, index)
        model = turn.get("model") or self.server.script.model or body.get("model") or "fake-model"
        fault = turn.get("fault")
        if isinstance(fault, str):
            fault = {"kind": fault}
        delay = turn.get("delay_ms", (fault or {}).get("delay_ms", 0))
        stream = bool(body.get("stream", fmt == "ollama-native"))
        gz = bool(turn.get("gzip")) and "gzip" in self._headers().get("accept-encoding", "")
        hdrs = self._rid_headers(fmt, rid) | {k.lower(): str(v) for k, v in
                                              (turn.get("headers") or {}).items()}
        kind = (fault or {}).get("kind")
        resp_rec = {"status": 200}
        record["response"] = resp_rec
        if fault:
            resp_rec["fault"] = kind

        # Low-level: a literal response (docs/providers.md §7 `respond`).
        if "respond" in turn:
            r = turn["respond"]
            status = int(r.get("status", 200))
            resp_rec["status"] = status
            payload = r.get("body", "")
            if "body_file" in r or "sse_file" in r:
                name = r.get("body_file") or r.get("sse_file")
                with open(os.path.join(self.server.script.dir, name), "rb") as f:
                    payload = f.read()
            ctype = r.get("content_type", "text/event-stream" if "sse_file" in r else
                          "application/json")
            self._log(record)
            time.sleep(r.get("delay_ms", delay) / 1000.0)
            self._send(status, hdrs | {k.lower(): str(v) for k, v in
                                       (r.get("headers") or {}).items()},
                       render(payload, ctx.vars) if isinstance(payload, (dict, list)) else payload,
                       ctype, gz, truncate=bool(r.get("close_early")))
            return

        if kind in ("drop", "reset"):
            resp_rec["status"] = None
            self._log(record)
            time.sleep(delay / 1000.0)
            self._drop(reset=(kind == "reset"))
            return
        if kind == "html":
            resp_rec["status"] = int(fault.get("status", 502))
            self._log(record)
            time.sleep(delay / 1000.0)
            self._send(resp_rec["status"], {}, fault.get("body", HTML_502), "text/html")
            return
        if kind == "malformed":
            text = fault.get("body")
            if text is None:
                text = ('{"id":"msg_01fake","type":"message","role":"assistant","content":[{"type"'
                        ':"text","text":"unterminated' if fmt == "anthropic" else
                        '{"id":"chatcmpl-fake","object":"chat.completion","choices":[{"index":0,'
                        '"message":{"role":"assistant","content":"unterminated')
            resp_rec["status"] = int(fault.get("status", 200))
            self._log(record)
            time.sleep(delay / 1000.0)
            self._send(resp_rec["status"], hdrs, text)
            return
        if fault and kind not in ("truncated", "mid_stream_error", "timeout"):
            status, h, b = fault_response(fault, fmt, flavor, quirks, rid)
            resp_rec["status"] = status
            resp_rec["headers"] = h
            self._log(record)
            time.sleep(delay / 1000.0)
            self._send(status, hdrs | h, b)
            return

        # A model turn (possibly truncated, delayed or broken mid-stream).
        if not any(k in turn for k in ("text", "tool_calls", "submit_answer", "refusal",
                                       "submit_answer_from_tool_results",
                                       "submit_answer_from_last_tool_result")):
            turn = dict(turn, text=turn.get("text", "(fake_llm: empty turn)"))
        nt = neutral_turn(turn, ctx)
        if fmt == "anthropic":
            full = anthropic_body(nt, turn, model, raw, quirks)
        elif fmt == "ollama-native":
            full = ollama_native_body(nt, turn, model, raw, quirks)
        else:
            full = openai_body(nt, turn, model, raw, flavor, quirks)
        resp_rec["body"] = full
        self._log(record)
        time.sleep(delay / 1000.0)
        if kind == "timeout":
            # Hold the request until the client gives up (or `hold_ms`), then answer nothing.
            time.sleep(fault.get("hold_ms", 30000) / 1000.0)
            self._drop(reset=False)
            return
        mid = None
        if kind == "mid_stream_error":
            mid = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}} \
                if fmt == "anthropic" else ("fake_llm: mid-stream failure" if fmt == "ollama-native"
                                            else {"error": {"message": "fake_llm: mid-stream failure",
                                                            "type": "server_error", "param": None,
                                                            "code": None}})
            if not stream:
                status, h, b = fault_response({"kind": "overloaded"}, fmt, flavor, quirks, rid)
                resp_rec["status"] = status
                self._send(status, hdrs | h, b)
                return
        if stream:
            if fmt == "anthropic":
                chunks = anthropic_stream(full, mid)
                ctype = "text/event-stream; charset=utf-8"
            elif fmt == "ollama-native":
                chunks = ollama_stream(full, mid)
                ctype = "application/x-ndjson"
            else:
                include = bool((body.get("stream_options") or {}).get("include_usage"))
                chunks = openai_stream(full, include, mid)
                ctype = "text/event-stream; charset=utf-8"
            chunks = list(chunks)
            if kind == "truncated":
                chunks = chunks[:max(1, len(chunks) // 2)]
                self.send_response(200)
                self.send_header("content-type", ctype)
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                for c in chunks:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(c), c))
                self.wfile.flush()
                self._drop(reset=False)
                return
            self._send_stream(200, hdrs, chunks, ctype)
            return
        self._send(200, hdrs, full, gz=gz, truncate=(kind == "truncated"))


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)):
            return
        super().handle_error(request, client_address)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--script", required=True, help="JSON script of turns")
    ap.add_argument("--port", type=int, default=0, help="0 = an ephemeral port (default)")
    ap.add_argument("--log", help="append every request received to this JSONL file")
    ap.add_argument("--flavor", default="openai", choices=[f for f in FLAVORS if f != "anthropic"],
                    help="flavour of unprefixed /v1/chat/completions (default openai)")
    ap.add_argument("--quirks", default="", help="comma-separated quirks applied to every turn")
    args = ap.parse_args(argv)
    cli_quirks = [q for q in args.quirks.split(",") if q]
    script = Script(args.script, args.flavor, cli_quirks)
    srv = Server(("127.0.0.1", args.port), Handler)
    srv.script = script
    srv.log_path = args.log
    srv.log_lock = threading.Lock()
    if args.log:
        open(args.log, "a").close()

    def stop(signum, frame):
        threading.Thread(target=srv.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"listening on http://127.0.0.1:{srv.server_address[1]}", flush=True)
    try:
        srv.serve_forever(poll_interval=0.1)
    finally:
        srv.server_close()
        if script.failures:
            print(f"fake_llm: {len(script.failures)} failure(s): "
                  f"{json.dumps(script.failures)[:2000]}", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
