"""Starts the testkit's fake providers and real `switchyard serve` processes in front of them.

Two gateways, one per session:
- `gateway`: the three fake provider families (OpenAI, Anthropic, Gemini protocols) served by
  `switchyard-testkit`, as `fake/gpt`, `fake/claude`, `fake/gemini`;
- `demo`: `switchyard serve --demo`, the simulated in-process catalogue (`switchyard/demo-*`).

Both accept the inference key KEY and the management key MANAGEMENT_KEY (given to the gateway
as SWITCHYARD_MANAGEMENT_KEY), which the management calls (`/keys`, `/credits`, `/activity`) need.

The binaries come from the cargo target directory (built by .ci/run first); override with
SWITCHYARD_BIN / SWITCHYARD_TESTKIT_BIN.
"""

import os
import pathlib
import re
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
TARGET = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
KEY = "sk-sy-v1-sdk-conformance"
MANAGEMENT_KEY = "sk-sy-v1-sdk-conformance-management"
UPSTREAM_KEY = "testkit-key"

# model id -> (display name of its provider, prompt price, completion price) in USD/token
MODELS = {
    "fake/gpt": ("Fake OpenAI", "0.000001", "0.000002"),
    "fake/claude": ("Fake Anthropic", "0.000003", "0.000015"),
    "fake/gemini": ("Fake Gemini", "0.0000003", "0.0000025"),
}

# The demo catalogue (catalog/demo.toml): model id -> its endpoints as
# (provider name, prompt price, completion price), in routing order.
DEMO_MODELS = {
    "switchyard/demo-fast": [
        ("Simulated Alpha", "0.0000001", "0.0000004"),
        ("Simulated Beta", "0.00000015", "0.0000006"),
    ],
    "switchyard/demo-flaky": [
        ("Simulated Flaky", "0.00000005", "0.0000002"),
        ("Simulated Alpha", "0.0000001", "0.0000004"),
    ],
}

# Every (server, model) the endpoint tests run against: each fake provider family and the demo.
TARGETS = {**{m: "gateway" for m in MODELS}, **{m: "demo" for m in DEMO_MODELS}}

# Embeddings: an embedding model on each fake provider family that has an embeddings API
# (Anthropic has none), and the demo's; model -> the server that serves it.
EMBEDDING_SERVERS = {
    "fake/embed": "gateway",
    "fake/gemini-embed": "gateway",
    "switchyard/demo-embed": "demo",
}
EMBEDDING_TARGETS = list(EMBEDDING_SERVERS)


# The tool and the JSON schema every SDK test offers.
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}

CITY_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
    "required": ["city", "population"],
    "additionalProperties": False,
}


def endpoint_prices(model):
    """[(provider name, prompt price, completion price)] of a target model's endpoints."""
    if model in MODELS:
        return [MODELS[model]]
    return DEMO_MODELS[model]

# embedding model id -> (display name of its provider, prompt price in USD/token)
EMBED_MODELS = {
    "fake/embed": ("Fake OpenAI", "0.00000002"),
    "fake/gemini-embed": ("Fake Gemini", "0.00000015"),
}


def _bin(env, name):
    path = pathlib.Path(os.environ.get(env, TARGET / "debug" / name))
    if not path.exists():
        pytest.fail(f"{path} not found: build with `cargo build --workspace` first")
    return str(path)


def _start(cmd, env=None):
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    for _ in range(50):
        line = proc.stdout.readline()
        if not line:
            break
        m = re.search(r"listening on (http://\S+)", line)
        if m:
            return proc, m.group(1)
    proc.kill()
    pytest.fail(f"{cmd[0]} did not start")


def _stop(*procs):
    for p in procs:
        p.terminate()
        p.wait(timeout=10)


def _serve(tmp, config, *args):
    """A real `switchyard serve` with `config` and both keys; returns (process, root URL)."""
    (tmp / "config.toml").write_text(config)
    env = dict(
        os.environ,
        FAKE_KEY=UPSTREAM_KEY,
        SWITCHYARD_API_KEYS=KEY,
        SWITCHYARD_MANAGEMENT_KEY=MANAGEMENT_KEY,
        RUST_LOG="warn",
    )
    return _start(
        [
            _bin("SWITCHYARD_BIN", "switchyard"),
            "serve",
            "--config",
            str(tmp / "config.toml"),
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            str(tmp / "data"),
            *args,
        ],
        env=env,
    )


def _urls(url):
    return {
        "url": url,
        "base_url": url + "/api/v1",
        "openai_base_url": url + "/v1",
        "key": KEY,
        "management_key": MANAGEMENT_KEY,
    }


CONFIG = """
default_catalog = false
[server]
keepalive_ms = 2000

[[providers]]
slug = "fake-openai"
name = "Fake OpenAI"
protocol = "openai"
base_url = "{up}/openai/v1"
api_key_env = "FAKE_KEY"

[[providers]]
slug = "fake-anthropic"
name = "Fake Anthropic"
protocol = "anthropic"
base_url = "{up}/anthropic/v1"
api_key_env = "FAKE_KEY"

[[providers]]
slug = "fake-gemini"
name = "Fake Gemini"
protocol = "gemini"
base_url = "{up}/gemini/v1beta"
api_key_env = "FAKE_KEY"
"""

MODEL = """
[[models]]
id = "{id}"
name = "{id}"
context_length = 100000
endpoints = [{{ provider = "{slug}", upstream_id = "{upstream}", prompt = "{p}", completion = "{c}" }}]
"""

# The demo server: the demo catalogue only (no default catalogue, whatever provider keys the
# environment holds).
DEMO_CONFIG = """
default_catalog = false
[server]
keepalive_ms = 2000
"""

EMBED_MODEL = """
[[models]]
id = "{id}"
name = "{id}"
context_length = 8192
output_modalities = ["embeddings"]
endpoints = [{{ provider = "{slug}", upstream_id = "{upstream}", prompt = "{p}", completion = "0" }}]
"""


@pytest.fixture(scope="session")
def gateway(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("switchyard")
    upstream, up_url = _start([_bin("SWITCHYARD_TESTKIT_BIN", "switchyard-testkit")])
    cfg = CONFIG.format(up=up_url)
    for model, slug, upstream_id in [
        ("fake/gpt", "fake-openai", "gpt-fake"),
        ("fake/claude", "fake-anthropic", "claude-fake"),
        ("fake/gemini", "fake-gemini", "gemini-fake"),
    ]:
        _, p, c = MODELS[model]
        cfg += MODEL.format(id=model, slug=slug, upstream=upstream_id, p=p, c=c)
    for model, slug, upstream_id in [
        ("fake/embed", "fake-openai", "embed-fake"),
        ("fake/gemini-embed", "fake-gemini", "gemini-embed-fake"),
    ]:
        cfg += EMBED_MODEL.format(id=model, slug=slug, upstream=upstream_id, p=EMBED_MODELS[model][1])
    try:
        server, url = _serve(tmp, cfg)
    except BaseException:
        _stop(upstream)
        raise
    yield _urls(url)
    _stop(server, upstream)


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("switchyard-demo")
    server, url = _serve(tmp, DEMO_CONFIG, "--demo")
    yield _urls(url)
    _stop(server)
