#!/usr/bin/env python3
"""Self-tests of tests/fakes/fake_llm.py: the real script over real sockets, driven with raw
urllib.request calls. Checks each flavour's wire shapes, scripting, templating from tool results,
every fault, streaming, the request log and SIGTERM. Standard library only."""
import gzip
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE = os.path.join(HERE, "fake_llm.py")
KEY = "sk-test-SECRET-0123456789"

AUDIT_ROW = {"monotonic_seq": 1250, "hash": "097bc7c6" + "a" * 56, "source_node_id": "edge-us-1",
             "code": "REFUND_ROLLED_BACK", "request_id": "3a7b1c9e4d20",
             "detail": {"stripe_status": 502,
                        "note": {"monotonic_seq": 99999, "hash": "d" * 64}}}  # data, not a row
AUDIT_ROW2 = {"monotonic_seq": 1249, "hash": "1" * 64, "source_node_id": "edge-eu-1",
              "code": "REFUND_REQUESTED", "request_id": "3a7b1c9e4d20", "detail": None}
API_ROW = {"stream": "api", "seq": 77, "digest": "e" * 64, "request_id": "3a7b1c9e4d20",
           "payload": {"status": 502, "route": "POST /v1/webhooks/stripe/refund"}}
RESULT = {"rows": [AUDIT_ROW, AUDIT_ROW2], "truncated": False, "total_matched": 2,
          "next_cursor": None}
TRACE = {"request_id": "3a7b1c9e4d20",
         "timeline": [{"stream": "audit", "row": AUDIT_ROW2}, {"stream": "api", "row": API_ROW}]}

ANTHROPIC_HEADERS = {"x-api-key": KEY, "anthropic-version": "2023-06-01",
                     "content-type": "application/json"}
BEARER = {"authorization": "Bearer " + KEY, "content-type": "application/json"}
AUDIT_TOOL = {"name": "audit_query", "description": "Read audit rows.",
              "input_schema": {"type": "object", "properties": {"code": {"type": ["string", "null"]}},
                               "required": ["code"], "additionalProperties": False}}
SUBMIT_TOOL = {"name": "submit_answer", "description": "Submit.",
               "input_schema": {"type": "object", "properties": {}}}


def oa_tool(name):
    return {"type": "function", "function": {"name": name, "parameters": {"type": "object"}}}


class Fake:
    """One fake_llm.py process with a script; the port comes from its first stdout line."""

    def __init__(self, script, *args):
        self.dir = tempfile.TemporaryDirectory()
        self.script_path = os.path.join(self.dir.name, "script.json")
        self.log_path = os.path.join(self.dir.name, "log.jsonl")
        with open(self.script_path, "w") as f:
            json.dump(script, f)
        self.proc = subprocess.Popen(
            [sys.executable, FAKE, "--script", self.script_path, "--port", "0",
             "--log", self.log_path, *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        m = re.fullmatch(r"listening on http://127\.0\.0\.1:(\d+)\n", line)
        if not m:
            self.proc.kill()
            raise AssertionError(f"bad first line {line!r}: {self.proc.stderr.read()}")
        self.port = int(m.group(1))
        self.base = f"http://127.0.0.1:{self.port}"

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()
        self.dir.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def post(self, path, body, headers=None, timeout=10, raw=False):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method="POST",
                                     headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                payload = r.read()
                status, hdrs = r.status, {k.lower(): v for k, v in r.headers.items()}
        except urllib.error.HTTPError as e:
            payload = e.read()
            status, hdrs = e.code, {k.lower(): v for k, v in e.headers.items()}
        if raw:
            return status, hdrs, payload
        return status, hdrs, json.loads(payload)

    def get(self, path):
        with urllib.request.urlopen(self.base + path, timeout=10) as r:
            return json.loads(r.read())

    def log(self):
        with open(self.log_path) as f:
            return [json.loads(line) for line in f]


def anthropic_req(messages, tools=(AUDIT_TOOL, SUBMIT_TOOL), **extra):
    body = {"model": "claude-sonnet-4-6", "max_tokens": 1024, "messages": messages}
    if tools:
        body["tools"] = list(tools)
    body.update(extra)
    return body


def openai_req(messages, tools=("audit_query", "submit_answer"), **extra):
    body = {"model": "gpt-4.1-mini", "messages": messages}
    if tools:
        body["tools"] = [oa_tool(t) for t in tools]
    body.update(extra)
    return body


Q = [{"role": "user", "content": "Why did request 3a7b1c9e4d20 fail?"}]
OA_Q = [{"role": "system", "content": "Cite rows."}] + Q


def anthropic_followup(call, result, is_error=False):
    """Q + the assistant turn with `call` + a user turn with its result."""
    block = {"type": "tool_result", "tool_use_id": call["id"], "content": json.dumps(result)}
    if is_error:
        block["is_error"] = True
    return Q + [{"role": "assistant", "content": [call]},
                {"role": "user", "content": [block]}]


def openai_followup(msg, result):
    return OA_Q + [msg] + [{"role": "tool", "tool_call_id": tc["id"], "content": json.dumps(result)}
                           for tc in msg["tool_calls"]]


TOOL_TURN = {"text": "Checking.", "tool_calls": [{"name": "audit_query",
                                                  "input": {"code": "REFUND_ROLLED_BACK"}}]}
PICK_TURN = {"submit_answer_from_tool_results": {
    "pick": "first_audit_row", "where": {"code": "REFUND_ROLLED_BACK"},
    "claim": "Stripe returned {{row.detail.stripe_status}} for {{row.request_id}}."}}


class AnthropicTest(unittest.TestCase):
    def test_tool_call_then_cited_answer(self):
        script = {"turns": [
            dict(TOOL_TURN, expect={"headers_present": ["x-api-key", "anthropic-version"],
                                    "tools": ["audit_query", "submit_answer"]}),
            PICK_TURN]}
        with Fake(script) as f:
            st, h, r = f.post("/anthropic/v1/messages", anthropic_req(Q), ANTHROPIC_HEADERS)
            self.assertEqual(st, 200)
            self.assertTrue(h["request-id"].startswith("req_01"))
            self.assertTrue(h["content-type"].startswith("application/json"))
            self.assertEqual(r["type"], "message")
            self.assertEqual(r["role"], "assistant")
            self.assertEqual(r["model"], "claude-sonnet-4-6")
            self.assertRegex(r["id"], r"^msg_01[0-9A-Za-z]{22}$")
            self.assertEqual(r["stop_reason"], "tool_use")
            self.assertIsNone(r["stop_sequence"])
            self.assertEqual(r["content"][0], {"type": "text", "text": "Checking."})
            call = r["content"][1]
            self.assertEqual(call["type"], "tool_use")
            self.assertRegex(call["id"], r"^toolu_01[0-9A-Za-z]{22}$")
            self.assertEqual(call["input"], {"code": "REFUND_ROLLED_BACK"})
            for k in ("input_tokens", "output_tokens", "cache_creation_input_tokens",
                      "cache_read_input_tokens"):
                self.assertIsInstance(r["usage"][k], int)

            st, _, r = f.post("/anthropic/v1/messages",
                              anthropic_req(anthropic_followup(call, RESULT)), ANTHROPIC_HEADERS)
            self.assertEqual(st, 200, r)
            self.assertEqual(r["stop_reason"], "tool_use")
            (sub,) = r["content"]
            self.assertEqual(sub["name"], "submit_answer")
            self.assertEqual(sub["input"]["claims"], [{
                "text": "Stripe returned 502 for 3a7b1c9e4d20.",
                "citations": [{"stream": "audit", "seq": 1250, "hash": AUDIT_ROW["hash"]}]}])
            self.assertEqual(sub["input"]["unknowns"], [])
            self.assertEqual(f.get("/_fake/status")["failures"], [])

    def test_unmatched_tool_result_is_400_without_consuming_a_turn(self):
        with Fake({"turns": [{"text": "ok"}]}) as f:
            bad = Q + [{"role": "assistant", "content": [
                {"type": "tool_use", "id": "toolu_a", "name": "audit_query", "input": {}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_b",
                                              "content": "x"}]}]
            st, _, r = f.post("/v1/messages", anthropic_req(bad), ANTHROPIC_HEADERS)
            self.assertEqual(st, 400)
            self.assertEqual(r["type"], "error")
            self.assertEqual(r["error"]["type"], "invalid_request_error")
            self.assertIn("toolu_a", r["error"]["message"])
            st, _, r = f.post("/v1/messages", anthropic_req(Q), ANTHROPIC_HEADERS)
            self.assertEqual((st, r["content"][0]["text"]), (200, "ok"))

    def test_missing_key_and_version(self):
        with Fake({"turns": [{"text": "ok"}], "api_keys": {"anthropic": KEY}}) as f:
            st, _, r = f.post("/v1/messages", anthropic_req(Q), {"anthropic-version": "2023-06-01"})
            self.assertEqual((st, r["error"]["type"]), (401, "authentication_error"))
            st, _, r = f.post("/v1/messages", anthropic_req(Q),
                              dict(ANTHROPIC_HEADERS, **{"x-api-key": "wrong"}))
            self.assertEqual((st, r["error"]["type"]), (401, "authentication_error"))
            h = dict(ANTHROPIC_HEADERS)
            del h["anthropic-version"]
            st, _, r = f.post("/v1/messages", anthropic_req(Q), h)
            self.assertEqual(st, 400)
            st, _, r = f.post("/v1/messages", anthropic_req(Q), ANTHROPIC_HEADERS)
            self.assertEqual(st, 200)

    def test_stop_reasons(self):
        turns = [dict(TOOL_TURN, stop_reason="max_tokens"),
                 {"refusal": "", "stop_reason": "refusal"},
                 {"text": "x", "stop_reason": "context_exceeded"}]
        with Fake({"turns": turns}) as f:
            got = [f.post("/v1/messages", anthropic_req(Q), ANTHROPIC_HEADERS)[2]["stop_reason"]
                   for _ in turns]
            self.assertEqual(got, ["max_tokens", "refusal", "model_context_window_exceeded"])

    def test_stream(self):
        with Fake({"turns": [TOOL_TURN]}) as f:
            st, h, raw = f.post("/v1/messages", anthropic_req(Q, stream=True), ANTHROPIC_HEADERS,
                                raw=True)
            self.assertEqual(st, 200)
            self.assertTrue(h["content-type"].startswith("text/event-stream"))
            events = re.findall(r"event: (\S+)\ndata: (.*)\n\n", raw.decode())
            names = [e for e, _ in events]
            self.assertEqual(names[:2], ["message_start", "ping"])
            self.assertEqual(names[-2:], ["message_delta", "message_stop"])
            partial = "".join(json.loads(d)["delta"]["partial_json"] for e, d in events
                              if e == "content_block_delta" and "input_json_delta" in d)
            self.assertEqual(json.loads(partial), {"code": "REFUND_ROLLED_BACK"})
            text = "".join(json.loads(d)["delta"]["text"] for e, d in events
                           if e == "content_block_delta" and "text_delta" in d)
            self.assertEqual(text, "Checking.")
            delta = json.loads(dict(events)["message_delta"])
            self.assertEqual(delta["delta"]["stop_reason"], "tool_use")
            self.assertIn("output_tokens", delta["usage"])

    def test_mid_stream_error(self):
        with Fake({"turns": [dict(TOOL_TURN, fault="mid_stream_error")]}) as f:
            st, _, raw = f.post("/v1/messages", anthropic_req(Q, stream=True), ANTHROPIC_HEADERS,
                                raw=True)
            self.assertEqual(st, 200)
            events = re.findall(r"event: (\S+)\ndata: (.*)\n\n", raw.decode())
            self.assertEqual(events[-1][0], "error")
            self.assertEqual(json.loads(events[-1][1])["error"]["type"], "overloaded_error")
            self.assertNotIn("message_stop", [e for e, _ in events])


class OpenAITest(unittest.TestCase):
    def test_tool_call_then_answer_with_placeholders(self):
        script = {"turns": [
            dict(TOOL_TURN, expect={"headers": {"authorization": "Bearer " + KEY}}),
            {"submit_answer": {"answer": "Rolled back.", "claims": [{
                "text": "Refund {{tool_result[0].rows[0].request_id}} was rolled back.",
                "citations": [{"stream": "audit",
                               "seq": "{{tool_result[0].rows[0].monotonic_seq}}",
                               "hash": "{{tool_result[-1].rows[0].hash}}"}]}]},
             "expect": {"tool_result_count": 1}}]}
        with Fake(script) as f:
            st, h, r = f.post("/openai/v1/chat/completions", openai_req(OA_Q), BEARER)
            self.assertEqual(st, 200, r)
            self.assertIn("x-request-id", h)
            self.assertEqual(r["object"], "chat.completion")
            self.assertRegex(r["id"], r"^chatcmpl-[0-9A-Za-z]{29}$")
            self.assertIsInstance(r["created"], int)
            ch = r["choices"][0]
            self.assertEqual(ch["finish_reason"], "tool_calls")
            msg = ch["message"]
            self.assertEqual(msg["role"], "assistant")
            self.assertEqual(msg["content"], "Checking.")
            self.assertIsNone(msg["refusal"])
            (tc,) = msg["tool_calls"]
            self.assertRegex(tc["id"], r"^call_[0-9A-Za-z]{24}$")
            self.assertEqual(tc["type"], "function")
            self.assertIsInstance(tc["function"]["arguments"], str)
            self.assertEqual(json.loads(tc["function"]["arguments"]), {"code": "REFUND_ROLLED_BACK"})
            u = r["usage"]
            self.assertEqual(u["total_tokens"], u["prompt_tokens"] + u["completion_tokens"])
            self.assertIn("cached_tokens", u["prompt_tokens_details"])
            self.assertIn("reasoning_tokens", u["completion_tokens_details"])

            st, _, r = f.post("/openai/v1/chat/completions",
                              openai_req(openai_followup(msg, RESULT)), BEARER)
            self.assertEqual(st, 200, r)
            args = json.loads(r["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"])
            self.assertEqual(args["claims"][0]["text"], "Refund 3a7b1c9e4d20 was rolled back.")
            self.assertEqual(args["claims"][0]["citations"][0]["seq"], 1250)  # an int, not "1250"
            self.assertEqual(args["claims"][0]["citations"][0]["hash"], AUDIT_ROW["hash"])

    def test_unanswered_tool_call_is_400(self):
        with Fake({"turns": [{"text": "x"}]}) as f:
            msg = {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_1", "type": "function",
                 "function": {"name": "audit_query", "arguments": "{}"}}]}
            st, _, r = f.post("/v1/chat/completions", openai_req(OA_Q + [msg] + Q), BEARER)
            self.assertEqual(st, 400)
            self.assertIn("call_1", r["error"]["message"])
            self.assertEqual(r["error"]["type"], "invalid_request_error")

    def test_missing_bearer_is_401(self):
        with Fake({"turns": [{"text": "x"}]}) as f:
            st, _, r = f.post("/openai/v1/chat/completions", openai_req(OA_Q), {})
            self.assertEqual(st, 401)
            self.assertEqual(set(r["error"]), {"message", "type", "param", "code"})

    def test_stream_with_usage(self):
        with Fake({"turns": [TOOL_TURN]}) as f:
            st, h, raw = f.post("/openai/v1/chat/completions",
                                openai_req(OA_Q, stream=True,
                                           stream_options={"include_usage": True}),
                                BEARER, raw=True)
            self.assertEqual(st, 200)
            lines = re.findall(r"data: (.*)\n\n", raw.decode())
            self.assertEqual(lines[-1], "[DONE]")
            chunks = [json.loads(x) for x in lines[:-1]]
            self.assertTrue(all(c["object"] == "chat.completion.chunk" for c in chunks))
            self.assertEqual(chunks[-1]["choices"], [])
            self.assertIn("prompt_tokens", chunks[-1]["usage"])
            args = "".join(tc["function"].get("arguments", "")
                           for c in chunks for ch in c["choices"]
                           for tc in ch["delta"].get("tool_calls", []))
            self.assertEqual(json.loads(args), {"code": "REFUND_ROLLED_BACK"})
            self.assertEqual(chunks[-2]["choices"][0]["finish_reason"], "tool_calls")


class CompatFlavorsTest(unittest.TestCase):
    def test_vllm(self):
        turns = [TOOL_TURN, {"fault": "vllm_auto_tool_choice"},
                 {"fault": "bad_request", "quirks": ["error_flat"]}]
        with Fake({"turns": turns}) as f:
            st, _, r = f.post("/vllm/v1/chat/completions", openai_req(OA_Q), BEARER)
            self.assertEqual(st, 200)
            tc = r["choices"][0]["message"]["tool_calls"][0]
            self.assertRegex(tc["id"], r"^[0-9A-Za-z]{9}$")
            self.assertEqual(json.loads(tc["function"]["arguments"]), {"code": "REFUND_ROLLED_BACK"})
            self.assertEqual(set(r["usage"]), {"prompt_tokens", "completion_tokens",
                                               "total_tokens", "prompt_tokens_details"})
            self.assertEqual(r["choices"][0]["message"]["reasoning_content"], None)
            st, _, r = f.post("/vllm/v1/chat/completions", openai_req(OA_Q), BEARER)
            self.assertEqual(st, 400)
            self.assertEqual(r["error"]["message"],
                             '"auto" tool choice requires --enable-auto-tool-choice and '
                             '--tool-call-parser to be set')
            self.assertEqual(r["error"]["code"], 400)  # an int on vLLM
            st, _, r = f.post("/vllm/v1/chat/completions", openai_req(OA_Q), BEARER)
            self.assertEqual(st, 400)
            self.assertEqual((r["object"], r["code"]), ("error", 400))

    def test_vllm_auth_is_a_string_error(self):
        with Fake({"turns": [], "api_keys": {"vllm": KEY}}) as f:
            st, _, r = f.post("/vllm/v1/chat/completions", openai_req(OA_Q),
                              {"authorization": "Bearer nope"})
            self.assertEqual((st, r), (401, {"error": "Unauthorized"}))

    def test_ollama_v1(self):
        with Fake({"turns": [{"tool_calls": TOOL_TURN["tool_calls"]}, {"fault": "not_found"}]}) as f:
            st, _, r = f.post("/ollama/v1/chat/completions", openai_req(OA_Q),
                              {"authorization": "Bearer ollama"})
            self.assertEqual(st, 200)
            self.assertEqual(r["system_fingerprint"], "fp_ollama")
            msg = r["choices"][0]["message"]
            self.assertEqual(msg["content"], "")
            self.assertRegex(msg["tool_calls"][0]["id"], r"^call_[0-9a-z]{8}$")
            self.assertIsInstance(msg["tool_calls"][0]["function"]["arguments"], str)
            self.assertEqual(r["choices"][0]["finish_reason"], "tool_calls")
            st, _, r = f.post("/ollama/v1/chat/completions", openai_req(OA_Q), {})
            self.assertEqual((st, r["error"]["type"]), (404, "not_found_error"))

    def test_ollama_native(self):
        turns = [TOOL_TURN, TOOL_TURN, {"fault": {"kind": "bad_request", "message": "bad model"}},
                 dict(TOOL_TURN, quirks=["no_prompt_eval_count", "no_tool_ids"])]
        with Fake({"turns": turns}) as f:
            body = openai_req(Q, stream=False)
            st, _, r = f.post("/ollama/api/chat", body, {})
            self.assertEqual(st, 200)
            self.assertEqual(r["done_reason"], "stop")  # stop, although tools were called
            tc = r["message"]["tool_calls"][0]
            self.assertEqual(tc["function"]["arguments"], {"code": "REFUND_ROLLED_BACK"})
            self.assertEqual(tc["function"]["index"], 0)
            self.assertIn("prompt_eval_count", r)
            self.assertIn("eval_count", r)
            # stream defaults to true: NDJSON
            body.pop("stream")
            st, h, raw = f.post("/api/chat", body, {}, raw=True)
            self.assertEqual(h["content-type"], "application/x-ndjson")
            lines = [json.loads(x) for x in raw.decode().splitlines()]
            self.assertTrue(lines[-1]["done"])
            self.assertTrue(any("tool_calls" in x["message"] for x in lines))
            st, _, r = f.post("/api/chat", dict(body, stream=False), {})
            self.assertEqual((st, r), (400, {"error": "bad model"}))
            st, _, r = f.post("/api/chat", dict(body, stream=False), {})
            self.assertNotIn("prompt_eval_count", r)
            self.assertNotIn("id", r["message"]["tool_calls"][0])

    def test_llamacpp(self):
        turns = [TOOL_TURN, {"fault": "unavailable"}]
        with Fake({"turns": turns}) as f:
            st, _, r = f.post("/llamacpp/v1/chat/completions", openai_req(OA_Q), {})
            self.assertEqual(r["choices"][0]["finish_reason"], "tool_calls")
            self.assertIn("id", r["choices"][0]["message"]["tool_calls"][0])
            st, _, r = f.post("/llamacpp/v1/chat/completions", openai_req(OA_Q), {})
            self.assertEqual(st, 503)
            self.assertEqual(r, {"error": {"code": 503, "message": "Loading model",
                                           "type": "unavailable_error"}})

    def test_llamacpp_legacy(self):
        with Fake({"turns": [TOOL_TURN]}) as f:
            st, _, r = f.post("/llamacpp-legacy/v1/chat/completions", openai_req(OA_Q), {})
            self.assertEqual(r["choices"][0]["finish_reason"], "tool")
            tc = r["choices"][0]["message"]["tool_calls"][0]
            self.assertNotIn("id", tc)
            self.assertNotIn("type", tc)

    def test_flavor_option_for_unprefixed_path(self):
        with Fake({"turns": [TOOL_TURN]}, "--flavor", "vllm") as f:
            st, _, r = f.post("/v1/chat/completions", openai_req(OA_Q), {})
            self.assertRegex(r["choices"][0]["message"]["tool_calls"][0]["id"], r"^[0-9A-Za-z]{9}$")
            self.assertEqual(f.log()[0]["flavor"], "vllm")

    def test_quirks(self):
        turns = [dict(TOOL_TURN, quirks=["args_object", "finish_stop", "no_usage"]),
                 dict(TOOL_TURN, quirks=["args_invalid_json", "partial_usage", "extra_fields"]),
                 dict(TOOL_TURN, quirks=["tool_call_as_text"]),
                 {"tool_calls": TOOL_TURN["tool_calls"], "quirks": ["content_null"]},
                 {"tool_calls": [{"name": "audit_query", "raw_arguments": "{\"code\": "}]}]
        with Fake({"turns": turns}) as f:
            _, _, r = f.post("/openai/v1/chat/completions", openai_req(OA_Q), BEARER)
            self.assertEqual(r["choices"][0]["finish_reason"], "stop")
            self.assertEqual(r["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"],
                             {"code": "REFUND_ROLLED_BACK"})
            self.assertNotIn("usage", r)
            _, _, r = f.post("/openai/v1/chat/completions", openai_req(OA_Q), BEARER)
            args = r["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]
            self.assertRaises(ValueError, json.loads, args)
            self.assertEqual(set(r["usage"]), {"prompt_tokens"})
            self.assertIn("reasoning_content", r["choices"][0]["message"])
            _, _, r = f.post("/openai/v1/chat/completions", openai_req(OA_Q), BEARER)
            self.assertNotIn("tool_calls", r["choices"][0]["message"])
            self.assertIn('"name": "audit_query"', r["choices"][0]["message"]["content"])
            self.assertEqual(r["choices"][0]["finish_reason"], "stop")
            _, _, r = f.post("/openai/v1/chat/completions", openai_req(OA_Q), BEARER)
            self.assertIsNone(r["choices"][0]["message"]["content"])
            _, _, r = f.post("/openai/v1/chat/completions", openai_req(OA_Q), BEARER)
            self.assertEqual(r["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"],
                             "{\"code\": ")

    def test_script_level_flavor_quirks(self):
        script = {"turns": [TOOL_TURN, TOOL_TURN], "flavor_quirks": {"vllm": ["finish_stop"]}}
        with Fake(script) as f:
            _, _, r = f.post("/vllm/v1/chat/completions", openai_req(OA_Q), {})
            self.assertEqual(r["choices"][0]["finish_reason"], "stop")
            _, _, r = f.post("/openai/v1/chat/completions", openai_req(OA_Q), BEARER)
            self.assertEqual(r["choices"][0]["finish_reason"], "tool_calls")

    def test_same_script_every_flavour(self):
        """One flavour-neutral script drives every wire format to the same cited answer."""
        for prefix in ("/anthropic", "/openai", "/vllm", "/ollama", "/llamacpp", "/llamacpp-legacy"):
            with self.subTest(prefix), Fake({"turns": [TOOL_TURN, PICK_TURN]}) as f:
                if prefix == "/anthropic":
                    _, _, r = f.post(prefix + "/v1/messages", anthropic_req(Q), ANTHROPIC_HEADERS)
                    call = r["content"][1]
                    _, _, r = f.post(prefix + "/v1/messages",
                                     anthropic_req(anthropic_followup(call, RESULT)),
                                     ANTHROPIC_HEADERS)
                    ans = r["content"][0]["input"]
                else:
                    path = prefix + "/v1/chat/completions"
                    _, _, r = f.post(path, openai_req(OA_Q), BEARER)
                    msg = r["choices"][0]["message"]
                    if prefix == "/llamacpp-legacy":  # the client synthesises the missing ids
                        for i, tc in enumerate(msg["tool_calls"]):
                            tc["id"], tc["type"] = f"call_{i}", "function"
                    _, _, r = f.post(path, openai_req(openai_followup(msg, RESULT)), BEARER)
                    self.assertEqual(r.get("error"), None)
                    ans = json.loads(r["choices"][0]["message"]["tool_calls"][0]["function"]
                                     ["arguments"])
                self.assertEqual(ans["claims"][0]["citations"][0]["seq"], 1250)
                self.assertEqual(f.get("/_fake/status")["failures"], [])


class TemplatingTest(unittest.TestCase):
    def _answer(self, turn, result=RESULT, earlier=None):
        """Runs one tool round on Anthropic and returns the submit_answer input of `turn`."""
        with Fake({"turns": [TOOL_TURN, turn]}) as f:
            _, _, r = f.post("/v1/messages", anthropic_req(Q), ANTHROPIC_HEADERS)
            call = r["content"][1]
            msgs = anthropic_followup(call, result)
            if earlier is not None:  # an earlier round whose result is not the latest
                first = dict(call, id="toolu_early")
                msgs = Q + [{"role": "assistant", "content": [first]},
                            {"role": "user", "content": [{"type": "tool_result",
                                                          "tool_use_id": "toolu_early",
                                                          "content": json.dumps(earlier)}]},
                            {"role": "assistant", "content": [call]},
                            msgs[-1]]
            st, _, r = f.post("/v1/messages", anthropic_req(msgs), ANTHROPIC_HEADERS)
            self.assertEqual(st, 200, r)
            return r["content"][-1]["input"]

    def test_correct_answer_from_trace_rows(self):
        ans = self._answer({"submit_answer_from_tool_results": {
            "pick": "all_rows", "one_claim": True,
            "claim": "Request {{row.request_id}} failed with 502."}}, result=TRACE)
        self.assertEqual(ans["claims"][0]["citations"], [
            {"stream": "audit", "seq": 1249, "hash": "1" * 64},
            {"stream": "api", "seq": 77, "hash": "e" * 64}])

    def test_rows_inside_detail_are_not_rows(self):
        ans = self._answer({"submit_answer_from_tool_results": {"pick": "all_rows"}})
        seqs = [c["citations"][0]["seq"] for c in ans["claims"]]
        self.assertEqual(seqs, [1250, 1249])  # not 99999 from the detail

    def test_fabricated_hash(self):
        ans = self._answer({"submit_answer_from_tool_results":
                            dict(PICK_TURN["submit_answer_from_tool_results"], tamper="hash")})
        c = ans["claims"][0]["citations"][0]
        self.assertEqual(c["seq"], 1250)
        self.assertRegex(c["hash"], r"^[0-9a-f]{64}$")
        self.assertNotEqual(c["hash"], AUDIT_ROW["hash"])

    def test_row_never_shown_and_uncited_claim(self):
        ans = self._answer({"submit_answer": {"answer": "x", "claims": [
            {"text": "Row 1251 was also involved.",
             "citations": [{"stream": "audit", "seq": 1251, "hash": "f" * 64}]},
            {"text": "Everything else is fine.", "citations": []}]}})
        self.assertEqual(ans["claims"][0]["citations"][0]["seq"], 1251)
        self.assertEqual(ans["claims"][1]["citations"], [])
        ans = self._answer({"submit_answer_from_tool_results": {
            "pick": "first_audit_row", "tamper": "uncite"}})
        self.assertEqual(ans["claims"][0]["citations"], [])

    def test_wrong_status_code_and_extra_claims(self):
        ans = self._answer({"submit_answer_from_tool_results": {
            "pick": "first_audit_row", "claim": "Stripe returned 503 for {{row.request_id}}.",
            "extra_claims": [{"text": "Uncited aside.", "citations": []}],
            "answer": "See {{cite.seq}}."}})
        self.assertEqual(ans["claims"][0]["text"], "Stripe returned 503 for 3a7b1c9e4d20.")
        self.assertEqual(ans["claims"][1]["text"], "Uncited aside.")
        self.assertEqual(ans["answer"], "See 1250.")

    def test_last_tool_result_only(self):
        ans = self._answer({"submit_answer_from_last_tool_result": {"pick": "all_rows"}},
                           result={"rows": [AUDIT_ROW2]}, earlier={"rows": [AUDIT_ROW]})
        self.assertEqual([c["citations"][0]["seq"] for c in ans["claims"]], [1249])
        ans = self._answer({"submit_answer_from_tool_results": {"pick": "all_rows"}},
                           result={"rows": [AUDIT_ROW2]}, earlier={"rows": [AUDIT_ROW]})
        self.assertEqual([c["citations"][0]["seq"] for c in ans["claims"]], [1250, 1249])

    def test_fenced_and_block_list_results(self):
        with Fake({"turns": [{"text": "{{tool_result[0].rows[0].code}} "
                                      "{{tool_result_meta[0].is_error}} {{rows|len}}"}]}) as f:
            call = {"type": "tool_use", "id": "toolu_x", "name": "audit_query", "input": {}}
            msgs = Q + [{"role": "assistant", "content": [call]},
                        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_x",
                                                      "is_error": False, "content": [
                                                          {"type": "text", "text":
                                                           "<<data 7f3a>>\n" + json.dumps(RESULT) +
                                                           "\n<</data 7f3a>>"}]}]}]
            _, _, r = f.post("/v1/messages", anthropic_req(msgs), ANTHROPIC_HEADERS)
            self.assertEqual(r["content"][0]["text"], "REFUND_ROLLED_BACK false 2")

    def test_template_error_is_a_500_and_a_failure(self):
        with Fake({"turns": [{"text": "{{tool_result[3].rows}}"}, PICK_TURN]}) as f:
            st, _, r = f.post("/v1/messages", anthropic_req(Q), ANTHROPIC_HEADERS)
            self.assertEqual(st, 500)
            self.assertIn("out of range", r["error"]["message"])
            st, _, r = f.post("/v1/messages", anthropic_req(Q), ANTHROPIC_HEADERS)
            self.assertEqual(st, 500)
            self.assertIn("no row matches", r["error"]["message"])
            self.assertEqual(len(f.get("/_fake/status")["failures"]), 2)


class FaultTest(unittest.TestCase):
    def test_http_errors_in_each_envelope(self):
        turns = [{"fault": {"kind": "rate_limit", "retry_after": 2}},
                 {"fault": {"kind": "rate_limit", "retry_after": None, "retry_after_ms": 1200}},
                 {"fault": "overloaded"}, {"fault": "server_error"}, {"fault": "auth"},
                 {"fault": "bad_request"}, {"fault": "quota"},
                 {"fault": {"kind": "server_error", "should_retry": False}},
                 {"fault": {"kind": "http", "status": 504}}]
        with Fake({"turns": turns * 2}) as f:
            got = [f.post("/v1/messages", anthropic_req(Q), ANTHROPIC_HEADERS) for _ in turns]
            self.assertEqual([g[0] for g in got], [429, 429, 529, 500, 401, 400, 429, 500, 504])
            self.assertEqual([g[2]["error"]["type"] for g in got[:7]],
                             ["rate_limit_error", "rate_limit_error", "overloaded_error",
                              "api_error", "authentication_error", "invalid_request_error",
                              "billing_error"])
            self.assertTrue(all(g[2]["type"] == "error" and "request_id" in g[2] for g in got))
            self.assertEqual(got[0][1]["retry-after"], "2")
            self.assertNotIn("retry-after", got[1][1])
            self.assertEqual(got[1][1]["retry-after-ms"], "1200")
            self.assertEqual(got[7][1]["x-should-retry"], "false")

            got = [f.post("/openai/v1/chat/completions", openai_req(OA_Q), BEARER) for _ in turns]
            self.assertEqual([g[0] for g in got], [429, 429, 503, 500, 401, 400, 429, 500, 504])
            self.assertEqual(got[0][2], {"error": {"message": "Rate limit reached for requests",
                                                   "type": "requests", "param": None,
                                                   "code": "rate_limit_exceeded"}})
            self.assertEqual(got[0][1]["retry-after"], "2")
            self.assertEqual(got[6][2]["error"]["code"], "insufficient_quota")
            self.assertEqual(got[4][2]["error"]["code"], "invalid_api_key")

    def test_html_and_malformed(self):
        with Fake({"turns": [{"fault": "html"}, {"fault": "malformed"}]}) as f:
            st, h, raw = f.post("/openai/v1/chat/completions", openai_req(OA_Q), BEARER, raw=True)
            self.assertEqual((st, h["content-type"]), (502, "text/html"))
            self.assertIn(b"502 Bad Gateway", raw)
            st, h, raw = f.post("/openai/v1/chat/completions", openai_req(OA_Q), BEARER, raw=True)
            self.assertEqual(st, 200)
            self.assertRaises(ValueError, json.loads, raw)

    def test_truncated_body(self):
        with Fake({"turns": [dict(TOOL_TURN, fault="truncated")]}) as f:
            with self.assertRaises(http.client.IncompleteRead):
                f.post("/v1/messages", anthropic_req(Q), ANTHROPIC_HEADERS)

    def test_drop_and_reset(self):
        with Fake({"turns": [{"fault": "drop"}, {"fault": "reset"}, {"text": "back"}]}) as f:
            for _ in range(2):
                with self.assertRaises((urllib.error.URLError, OSError,
                                        http.client.HTTPException)):
                    f.post("/v1/messages", anthropic_req(Q), ANTHROPIC_HEADERS)
            st, _, r = f.post("/v1/messages", anthropic_req(Q), ANTHROPIC_HEADERS)
            self.assertEqual(r["content"][0]["text"], "back")

    def test_delay_beyond_client_timeout_then_retry(self):
        with Fake({"turns": [{"text": "late", "delay_ms": 3000}, {"text": "on time"}]}) as f:
            t0 = time.monotonic()
            with self.assertRaises((socket.timeout, urllib.error.URLError, TimeoutError)):
                f.post("/v1/messages", anthropic_req(Q), ANTHROPIC_HEADERS, timeout=0.5)
            self.assertLess(time.monotonic() - t0, 2.5)
            st, _, r = f.post("/v1/messages", anthropic_req(Q), ANTHROPIC_HEADERS)
            self.assertEqual(r["content"][0]["text"], "on time")

    def test_timeout_fault_never_answers(self):
        with Fake({"turns": [{"fault": {"kind": "timeout", "hold_ms": 1500}}]}) as f:
            with self.assertRaises((socket.timeout, urllib.error.URLError, TimeoutError)):
                f.post("/v1/messages", anthropic_req(Q), ANTHROPIC_HEADERS, timeout=0.5)

    def test_repeat_and_exhaustion(self):
        with Fake({"turns": [{"fault": "overloaded", "repeat": 2}, {"text": "ok"}]}) as f:
            sts = [f.post("/v1/messages", anthropic_req(Q), ANTHROPIC_HEADERS)[0] for _ in range(4)]
            self.assertEqual(sts, [529, 529, 200, 500])
            s = f.get("/_fake/status")
            self.assertEqual((s["turns"], s["remaining"]), (3, 0))
            self.assertIn("script exhausted", s["failures"][0])

    def test_gzip(self):
        with Fake({"turns": [{"text": "zipped", "gzip": True}]}) as f:
            st, h, raw = f.post("/v1/messages", anthropic_req(Q),
                                dict(ANTHROPIC_HEADERS, **{"accept-encoding": "gzip"}), raw=True)
            self.assertEqual(h["content-encoding"], "gzip")
            self.assertEqual(json.loads(gzip.decompress(raw))["content"][0]["text"], "zipped")

    def test_literal_respond(self):
        with Fake({"turns": [{"respond": {"status": 200, "body": {"hello": "{{turn}}"},
                                          "headers": {"x-extra": "1"}}}]}) as f:
            st, h, r = f.post("/v1/messages", anthropic_req(Q), ANTHROPIC_HEADERS)
            self.assertEqual((st, r, h["x-extra"]), (200, {"hello": 0}, "1"))


class ExpectAndLogTest(unittest.TestCase):
    def test_expectation_failure(self):
        script = {"turns": [{"text": "x", "expect": {"no_tools": True,
                                                     "json_subset": {"temperature": 0}}}]}
        with Fake(script) as f:
            st, _, r = f.post("/v1/messages", anthropic_req(Q), ANTHROPIC_HEADERS)
            self.assertEqual(st, 400)
            self.assertIn("fake_llm expectation failed", r["error"]["message"])
            (fail,) = f.get("/_fake/status")["failures"]
            self.assertEqual(fail["turn"], 0)
            self.assertTrue(any("temperature" in d for d in fail["diffs"]))
            self.assertTrue(any("tools" in d for d in fail["diffs"]))

    def test_final_step_without_tools_passes(self):
        script = {"turns": [{"text": "x", "expect": {"tools": ["submit_answer"],
                                                     "json_subset": {"tool_choice": {
                                                         "type": "tool", "name": "submit_answer"}}}}]}
        with Fake(script) as f:
            st, _, _ = f.post("/v1/messages",
                              anthropic_req(Q, tools=[SUBMIT_TOOL],
                                            tool_choice={"type": "tool", "name": "submit_answer"}),
                              ANTHROPIC_HEADERS)
            self.assertEqual(st, 200)
            self.assertEqual(f.get("/_fake/status")["failures"], [])

    def test_log_records_requests_without_secrets(self):
        with Fake({"turns": [TOOL_TURN, {"fault": "drop"}, {"text": "x"}]}) as f:
            f.post("/v1/messages", anthropic_req(Q), ANTHROPIC_HEADERS)
            with self.assertRaises((urllib.error.URLError, OSError, http.client.HTTPException)):
                f.post("/openai/v1/chat/completions", openai_req(OA_Q), BEARER)
            f.post("/ollama/api/chat", openai_req(Q, stream=False), {})
            f.get("/openai/v1/models")
            with open(f.log_path) as fh:
                text = fh.read()
            self.assertNotIn(KEY, text)
            log = f.log()
            self.assertEqual(len(log), 4)
            a, o, n, g = log
            self.assertEqual((a["method"], a["path"], a["flavor"], a["format"]),
                             ("POST", "/v1/messages", "anthropic", "anthropic"))
            self.assertEqual(a["headers"]["x-api-key"], f"[redacted len={len(KEY)}]")
            self.assertEqual(a["headers"]["anthropic-version"], "2023-06-01")
            self.assertEqual(a["tools"], ["audit_query", "submit_answer"])
            self.assertEqual(a["body"]["messages"], Q)
            self.assertEqual(a["turn"], 0)
            self.assertEqual(a["response"]["status"], 200)
            self.assertEqual(a["response"]["body"]["stop_reason"], "tool_use")
            self.assertEqual(o["headers"]["authorization"], f"Bearer [redacted len={len(KEY)}]")
            self.assertEqual(o["response"]["fault"], "drop")
            self.assertEqual((n["format"], n["flavor"], n["stream"]), ("ollama-native", "ollama", False))
            self.assertEqual((g["method"], g["path"]), ("GET", "/openai/v1/models"))

    def test_sigterm_exits_cleanly(self):
        f = Fake({"turns": []})
        try:
            f.proc.send_signal(signal.SIGTERM)
            self.assertEqual(f.proc.wait(5), 0)
        finally:
            f.close()

    def test_binds_loopback_only(self):
        with Fake({"turns": []}) as f:
            out = subprocess.run(["ss", "-ltnH", f"sport = :{f.port}"], capture_output=True,
                                 text=True)
            if out.returncode == 0 and out.stdout.strip():
                self.assertIn("127.0.0.1:", out.stdout)


if __name__ == "__main__":
    unittest.main()
