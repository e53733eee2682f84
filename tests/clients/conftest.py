"""Starts the testkit's fake providers and a real `switchyard serve` in front of them.

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
UPSTREAM_KEY = "testkit-key"

# model id -> (display name of its provider, prompt price, completion price) in USD/token
MODELS = {
    "fake/gpt": ("Fake OpenAI", "0.000001", "0.000002"),
    "fake/claude": ("Fake Anthropic", "0.000003", "0.000015"),
    "fake/gemini": ("Fake Gemini", "0.0000003", "0.0000025"),
}

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
    (tmp / "config.toml").write_text(cfg)
    env = dict(os.environ, FAKE_KEY=UPSTREAM_KEY, SWITCHYARD_API_KEYS=KEY, RUST_LOG="warn")
    server, url = _start(
        [
            _bin("SWITCHYARD_BIN", "switchyard"),
            "serve",
            "--config",
            str(tmp / "config.toml"),
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            str(tmp / "data"),
        ],
        env=env,
    )
    yield {"base_url": url + "/api/v1", "openai_base_url": url + "/v1", "key": KEY}
    for p in (server, upstream):
        p.terminate()
        p.wait(timeout=10)
