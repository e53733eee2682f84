"""A stand-in Anthropic API that logs every request, for re-learning what Claude Code sends
after an upgrade (CLAUDE_CODE.md was written from its logs). Not a test.

    python3 capture.py PORT LOG.jsonl      # then ANTHROPIC_BASE_URL=http://127.0.0.1:PORT claude -p …

Each request is appended to LOG.jsonl as {method, path, headers, body}. `POST /v1/messages`
(any query string) gets a minimal valid answer, streamed when asked; `count_tokens` and
`GET /v1/models` get minimal answers; anything else a 404 in Anthropic's envelope.
CAPTURE_MODE scripts a failure: `404` (every message call), `500stream` (streamed calls get a
500), `badstream` (a stream cut after message_start), `tool` (a Read tool call first, text
after its result).
"""

import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODE = os.environ.get("CAPTURE_MODE", "")
NOT_FOUND = b'{"type":"error","error":{"type":"not_found_error","message":"Not Found"}}'


def sse(name, data):
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


def message(model, content, stop):
    return {
        "id": "msg_capture",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 5},
    }


def stream(model, block, delta, stop):
    out = sse("message_start", {"type": "message_start", "message": message(model, [], None)})
    out += sse("content_block_start", {"type": "content_block_start", "index": 0, "content_block": block})
    out += sse("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta})
    out += sse("content_block_stop", {"type": "content_block_stop", "index": 0})
    out += sse(
        "message_delta",
        {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None}, "usage": {"output_tokens": 5}},
    )
    return out + sse("message_stop", {"type": "message_stop"})


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _log(self, body):
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = body.decode(errors="replace")
        entry = {"t": time.time(), "method": self.command, "path": self.path, "headers": dict(self.headers.items()), "body": parsed}
        with open(sys.argv[2], "a") as log:
            log.write(json.dumps(entry) + "\n")
        return parsed if isinstance(parsed, dict) else {}

    def _send(self, code, ctype, payload):
        self.send_response(code)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def do_HEAD(self):
        self._log(b"")
        self._send(200, "application/json", b"")

    def do_GET(self):
        self._log(b"")
        if self.path.startswith("/v1/models"):
            self._send(200, "application/json", b'{"data":[],"has_more":false,"first_id":null,"last_id":null}')
        else:
            self._send(404, "application/json", NOT_FOUND)

    def do_POST(self):
        req = self._log(self.rfile.read(int(self.headers.get("content-length") or 0)))
        if self.path.startswith("/v1/messages/count_tokens"):
            return self._send(200, "application/json", b'{"input_tokens": 42}')
        if not self.path.startswith("/v1/messages") or MODE == "404":
            return self._send(404, "application/json", NOT_FOUND)
        streamed, model = req.get("stream"), req.get("model", "m")
        if MODE == "500stream" and streamed:
            return self._send(500, "application/json", b'{"type":"error","error":{"type":"api_error","message":"boom"}}')
        if MODE == "badstream" and streamed:
            return self._send(200, "text/event-stream", sse("message_start", {"type": "message_start"}))
        last = (req.get("messages") or [{}])[-1].get("content")
        answered = isinstance(last, list) and any(isinstance(b, dict) and b.get("type") == "tool_result" for b in last)
        if MODE == "tool" and streamed and not answered:
            block = {"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {}}
            delta = {"type": "input_json_delta", "partial_json": json.dumps({"file_path": os.path.abspath("hello.txt")})}
            return self._send(200, "text/event-stream", stream(model, block, delta, "tool_use"))
        text = "Hello from capture"
        if streamed:
            block, delta = {"type": "text", "text": ""}, {"type": "text_delta", "text": text}
            return self._send(200, "text/event-stream", stream(model, block, delta, "end_turn"))
        body = message(model, [{"type": "text", "text": text}], "end_turn")
        self._send(200, "application/json", json.dumps(body).encode())


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
