"""Coding agents, run headless against the gateway: Claude Code (`claude -p`) through the
Anthropic Messages dialect. What Claude Code sends and why each setting below is there:
tests/clients/agents/CLAUDE_CODE.md.

Each run gets a fresh HOME and working directory, a fresh gateway key (so its usage is the
run's alone) and a prompt with `#notools`: Claude Code offers a dozen tools on every call
and the testkit's fakes would otherwise call the first. The answer is the fakes'
deterministic `Echo: <last user text>`.

Claude Code is installed by `npm ci --ignore-scripts` in tests/clients/agents (scripts/test
does it); its postinstall only copies the platform's native binary over a placeholder, so
the binary is run from its platform package directly.
"""

import json
import os
import pathlib
import platform
import subprocess
from decimal import Decimal

import pytest

from billing import generation, key_usage, new_key
from conftest import CONFIG, KEY, MANAGEMENT_KEY, MODEL, MODELS, _bin, _serve, _start, _stop

AGENTS = pathlib.Path(__file__).resolve().parent / "agents"

# Model ids Claude Code recognises (it then sends `thinking: enabled` with a budget instead of
# `adaptive`, and no mid-conversation system message), served by the fake providers.
KNOWN = {
    "anthropic/claude-sonnet-4.5": ("fake-anthropic", "claude-fake"),
    "anthropic/claude-haiku-4.5": ("fake-openai", "gpt-fake"),
}


def claude_binary():
    arch = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}.get(platform.machine().lower())
    pkg = AGENTS / "node_modules" / "@anthropic-ai"
    for candidate in [pkg / f"claude-code-linux-{arch}" / "claude", pkg / f"claude-code-linux-{arch}-musl" / "claude"]:
        if candidate.exists():
            return str(candidate)
    pytest.fail(f"Claude Code is not installed: run `npm ci --ignore-scripts` in {AGENTS}")


@pytest.fixture(scope="module")
def known_gateway(tmp_path_factory):
    """A gateway whose model ids are ones Claude Code knows, in front of the fakes."""
    tmp = tmp_path_factory.mktemp("switchyard-agents")
    upstream, up_url = _start([_bin("SWITCHYARD_TESTKIT_BIN", "switchyard-testkit")])
    cfg = CONFIG.format(up=up_url)
    for model, (slug, upstream_id) in KNOWN.items():
        cfg += MODEL.format(id=model, slug=slug, upstream=upstream_id, p="0.000003", c="0.000015")
    try:
        server, url = _serve(tmp, cfg)
    except BaseException:
        _stop(upstream)
        raise
    yield {"url": url, "base_url": url + "/api/v1", "key": KEY, "management_key": MANAGEMENT_KEY}
    _stop(server, upstream)


def run_claude(tmp_path, gateway, model, prompt, *args, key=None, timeout=180):
    """Runs `claude -p prompt` against the gateway; returns the CompletedProcess."""
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir(exist_ok=True)
    work.mkdir(exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "TERM": "dumb",
        # Claude Code appends /v1/messages (with ?beta=true) itself.
        "ANTHROPIC_BASE_URL": gateway["url"],
        "ANTHROPIC_AUTH_TOKEN": key or gateway["key"],
        "ANTHROPIC_API_KEY": "",
        "ANTHROPIC_MODEL": model,
        "ANTHROPIC_DEFAULT_HAIKU_MODEL": model,
        "ANTHROPIC_SMALL_FAST_MODEL": model,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_AUTOUPDATER": "1",
        # A broken stream must fail the run, not be retried non-streamed (which hides it).
        "CLAUDE_CODE_DISABLE_NONSTREAMING_FALLBACK": "1",
        # An error must fail at once, not after minutes of retries.
        "CLAUDE_CODE_MAX_RETRIES": "0",
    }
    return subprocess.run(
        [claude_binary(), "-p", prompt, *args],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def check_ok(p):
    assert p.returncode == 0, f"exit {p.returncode}\nstdout: {p.stdout[-3000:]}\nstderr: {p.stderr[-3000:]}"


def stream_json(stdout):
    """The events of `--output-format stream-json`, one JSON object a line."""
    return [json.loads(line) for line in stdout.splitlines() if line.strip().startswith("{")]


def servers(request, gateway_name):
    return request.getfixturevalue(gateway_name)


# Every fake family under the ids the conftest gateway serves (unknown to Claude Code), and
# ids Claude Code knows.
TARGETS = [(m, "gateway") for m in MODELS] + [(m, "known_gateway") for m in KNOWN]
TARGET = pytest.mark.parametrize("model,server", TARGETS, ids=[m for m, _ in TARGETS])


@TARGET
def test_claude_code_answers(request, tmp_path, model, server):
    gw = servers(request, server)
    key = new_key(gw, "claude-code")
    p = run_claude(tmp_path, gw, model, "Say hello #notools", key=key)
    check_ok(p)
    out = p.stdout.strip()
    assert out.startswith("Echo: "), out
    assert out.endswith("Say hello #notools"), out
    assert key_usage(gw, key) > 0, "the call was billed to the key"


@TARGET
def test_claude_code_call_is_recorded_and_billed(request, tmp_path, model, server):
    """stream-json output gives the API message id, which is the generation id: its record
    holds what the key was charged, and that is the run's whole bill (one call)."""
    gw = servers(request, server)
    key = new_key(gw, "claude-code-billing")
    before = key_usage(gw, key)
    p = run_claude(
        tmp_path, gw, model, "Bill me #notools", "--output-format", "stream-json", "--verbose", key=key
    )
    check_ok(p)
    events = stream_json(p.stdout)
    assistant = [e["message"] for e in events if e.get("type") == "assistant"]
    assert assistant, p.stdout
    ids = {m["id"] for m in assistant}
    assert len(ids) == 1, ids
    gen_id = ids.pop()
    result = [e for e in events if e.get("type") == "result"]
    assert result and result[-1].get("is_error") is False, result
    assert result[-1]["result"].endswith("Bill me #notools"), result[-1]
    g = generation(gw, key, gen_id)
    assert g["model"] == model
    assert g["streamed"] is True
    assert g["tokens_completion"] > 0
    assert key_usage(gw, key) - before == Decimal(str(g["total_cost"])) > 0


@TARGET
def test_claude_code_tool_round_trip(request, tmp_path, model, server):
    """Without `#notools` the fake calls the first tool offered; with `--tools Read` that is
    Read (or, for ids Claude Code does not know, its deferred-tools placeholder). Claude Code
    runs it, sends the tool_result back, and prints the fake's answer to it."""
    gw = servers(request, server)
    p = run_claude(tmp_path, gw, model, "Read a file", "--tools", "Read", "--max-turns", "4")
    check_ok(p)
    assert p.stdout.strip().startswith("The tool returned: "), p.stdout
