"""Coding agents, run headless against the gateway: Claude Code (`claude -p`) through the
Anthropic Messages dialect, Codex (`codex exec`) through the OpenAI Responses dialect. What
each sends and why each setting below is there: tests/clients/agents/CLAUDE_CODE.md and
crates/server/src/dialects/fixtures/responses/CODEX.md.

Each run gets a fresh HOME and working directory, a fresh gateway key (so its usage is the
run's alone) and a prompt with `#notools`: Claude Code offers a dozen tools on every call
and the testkit's fakes would otherwise call the first. The answer is the fakes'
deterministic `Echo: <last user text>`.

Both are installed by `npm ci --ignore-scripts` in tests/clients/agents (scripts/test does
it). Claude Code's postinstall only copies the platform's native binary over a placeholder, so
that binary is run from its platform package directly; Codex's `bin/codex.js` finds its
platform package itself.
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


# ---------------- Codex ----------------

CODEX_CONFIG = """
model = "{model}"
model_provider = "switchyard"

[model_providers.switchyard]
name = "Switchyard"
base_url = "{base_url}"
env_key = "SWITCHYARD_KEY"
wire_api = "responses"
# A failure must fail the run at once, not after retries.
request_max_retries = 0
stream_max_retries = 0
"""


def codex_script():
    script = AGENTS / "node_modules" / "@openai" / "codex" / "bin" / "codex.js"
    if not script.exists():
        pytest.fail(f"Codex is not installed: run `npm ci --ignore-scripts` in {AGENTS}")
    return str(script)


def run_codex(tmp_path, gateway, model, prompt, key, timeout=180):
    """Runs `codex exec --json` against the gateway (a `wire_api = "responses"` provider in a
    fresh CODEX_HOME); returns (CompletedProcess, JSON events of stdout)."""
    home, codex_home, work = tmp_path / "home", tmp_path / "codex", tmp_path / "work"
    for d in (home, codex_home, work):
        d.mkdir(exist_ok=True)
    (codex_home / "config.toml").write_text(CODEX_CONFIG.format(model=model, base_url=gateway["url"] + "/v1"))
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "CODEX_HOME": str(codex_home),
        "SWITCHYARD_KEY": key,
        "TERM": "dumb",
        "NO_COLOR": "1",
    }
    p = subprocess.run(
        ["node", codex_script(), "exec", "--skip-git-repo-check", "--json", prompt],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        # Without a terminal, `codex exec` also reads stdin: it must see its end at once.
        stdin=subprocess.DEVNULL,
    )
    return p, stream_json(p.stdout)


def codex_messages(events):
    return [
        e["item"]["text"] for e in events if e.get("type") == "item.completed" and e["item"].get("type") == "agent_message"
    ]


CODEX_TARGETS = pytest.mark.parametrize("model", list(MODELS))


@CODEX_TARGETS
def test_codex_answers_and_is_billed(gateway, tmp_path, model):
    """One model turn: the fake's answer is Codex's message, and the usage Codex reports is
    what the key was charged for, at the model's prices (one request, one charge)."""
    key = new_key(gateway, "codex")
    before = key_usage(gateway, key)
    p, events = run_codex(tmp_path, gateway, model, "Say hello #notools", key)
    check_ok(p)
    # The fakes echo the last user turn; for providers that take no two user turns in a row
    # (Anthropic, Gemini) Codex's environment-context message and the prompt are one turn.
    messages = codex_messages(events)
    assert len(messages) == 1, p.stdout
    assert messages[0].startswith("Echo: ") and messages[0].endswith("Say hello #notools"), p.stdout
    turns = [e for e in events if e.get("type") == "turn.completed"]
    assert len(turns) == 1, p.stdout
    usage = turns[0]["usage"]
    assert usage["input_tokens"] > 0 and usage["output_tokens"] > 0, usage
    _, prompt_price, completion_price = MODELS[model]
    expected = Decimal(prompt_price) * usage["input_tokens"] + Decimal(completion_price) * usage["output_tokens"]
    assert key_usage(gateway, key) - before == expected, usage


@CODEX_TARGETS
def test_codex_tool_round_trip(gateway, tmp_path, model):
    """Without `#notools` the fake calls Codex's first tool (`exec_command`, arguments filled
    from its schema: Codex refuses them, `4.5` is not a count); Codex sends its answer back as
    `function_call_output`, and the fake's answer to that is the final message."""
    key = new_key(gateway, "codex-tools")
    p, events = run_codex(tmp_path, gateway, model, "Run something", key)
    check_ok(p)
    messages = codex_messages(events)
    assert len(messages) == 1 and messages[0].startswith("The tool returned: "), p.stdout
    turns = [e for e in events if e.get("type") == "turn.completed"]
    assert len(turns) == 1, p.stdout
