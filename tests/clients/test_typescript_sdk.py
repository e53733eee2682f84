"""Runs the @openrouter/sdk (TypeScript) conformance tests in tests/clients/ts with node's
built-in test runner, against the gateways this conftest starts, as one pytest test per node
test (`<file>::<describe> > <test>`), each failing with node's report of it (the SDK call and
the fields its schema rejected).

Collection asks each test file for its test names (SWITCHYARD_SDK_LIST=1, see helpers.mjs);
the first test of a file runs the whole file once with `node --test` and a junit report, and
every test of that file reads its own result from it. scripts/test installs the npm packages
(`npm ci` in tests/clients/ts); without node or them, every test here fails saying so."""

import json
import os
import pathlib
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

from conftest import EMBEDDING_SERVERS, EMBEDDING_TARGETS, MODELS, TARGETS, endpoint_prices

TS = pathlib.Path(__file__).resolve().parent / "ts"
FILES = sorted(p.name for p in TS.glob("*.test.mjs"))


def _problem():
    """Why the node tests cannot run here, or None."""
    node = shutil.which("node")
    if node is None:
        return "node is not installed: the TypeScript SDK tests need node >= 20 (and npm)"
    version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()
    if int(version.lstrip("v").split(".")[0]) < 20:
        return f"node {version} is too old: the TypeScript SDK tests need node >= 20"
    if not (TS / "node_modules" / "@openrouter" / "sdk").is_dir():
        return f"@openrouter/sdk is not installed: run `npm ci --no-audit --no-fund` in {TS}"
    return None


def _config(servers):
    return json.dumps(
        {
            "servers": {n: {k: s[k] for k in ("base_url", "key", "management_key")} for n, s in servers.items()},
            "targets": TARGETS,
            "prices": {m: endpoint_prices(m) for m in TARGETS},
            "fakes": list(MODELS),
            "embedding_targets": EMBEDDING_TARGETS,
            "embedding_servers": EMBEDDING_SERVERS,
        }
    )


def _names(file):
    """The full names of a file's node tests, without running them."""
    placeholder = {"base_url": "http://listing.invalid/api/v1", "key": "", "management_key": ""}
    env = dict(os.environ, SWITCHYARD_SDK_LIST="1", SWITCHYARD_SDK_CONFIG=_config({"gateway": placeholder, "demo": placeholder}))
    r = subprocess.run(["node", file], cwd=TS, env=env, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        return None, f"node {file} (listing its tests) failed:\n{r.stdout}\n{r.stderr}"
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()], None


def pytest_generate_tests(metafunc):
    if "ts_case" not in metafunc.fixturenames:
        return
    problem = _problem()
    cases = []
    for file in FILES:
        names, error = (None, problem) if problem else _names(file)
        if names is None:
            cases.append(pytest.param((file, None, error), id=f"{file}::<cannot run>"))
        else:
            cases += [pytest.param((file, name, None), id=f"{file}::{name}") for name in names]
    metafunc.parametrize("ts_case", cases)


def _failure_text(failure):
    """node's junit failure text without its wrapper and stack. node writes the thrown error
    inside an ERR_TEST_FAILURE: `Error [ERR_TEST_FAILURE]: <message>\n    at … {\n  code: …`,
    or `[Error [ERR_TEST_FAILURE]: <message>] { code: … }` when the error's stack is its
    message (as helpers.mjs makes them), on one line or several."""
    text = (failure.text or failure.get("message", "")).strip()
    text = re.sub(r"\s*\{\s*code: 'ERR_TEST_FAILURE'.*$", "", text, flags=re.S)
    if text.startswith("[Error [ERR_TEST_FAILURE]: "):
        text = text.removeprefix("[Error [ERR_TEST_FAILURE]: ").removesuffix("]")
    text = text.removeprefix("Error [ERR_TEST_FAILURE]: ")
    return re.split(r"\n\s+at ", text, maxsplit=1)[0].rstrip()


@pytest.fixture(scope="module")
def ts_run(gateway, demo, tmp_path_factory):
    """file -> {full test name: None (passed) or failure text}, or an error string; each file
    runs once, the first time one of its tests asks."""
    config = _config({"gateway": gateway, "demo": demo})
    out = tmp_path_factory.mktemp("node-junit")
    results = {}

    def run(file):
        if file in results:
            return results[file]
        junit = out / f"{file}.xml"
        env = dict(os.environ, SWITCHYARD_SDK_CONFIG=config, NO_COLOR="1")
        r = subprocess.run(
            ["node", "--test", "--test-reporter=junit", f"--test-reporter-destination={junit}", file],
            cwd=TS,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if not junit.exists():
            results[file] = f"node --test {file} wrote no report (exit {r.returncode}):\n{r.stdout}\n{r.stderr}"
            return results[file]
        cases = {}
        for suite in ET.parse(junit).getroot().iter("testsuite"):
            for case in suite.findall("testcase"):
                failure = case.find("failure")
                cases[f"{suite.get('name')} > {case.get('name')}"] = None if failure is None else _failure_text(failure)
        results[file] = cases if cases else f"node --test {file} reported no tests:\n{r.stdout}\n{r.stderr}"
        return results[file]

    return run


def test_typescript_sdk(request, ts_case):
    file, name, error = ts_case
    if error:
        pytest.fail(error, pytrace=False)
    cases = request.getfixturevalue("ts_run")(file)
    if isinstance(cases, str):
        pytest.fail(cases, pytrace=False)
    if name not in cases:
        pytest.fail(f"node --test {file} did not report {name!r}", pytrace=False)
    if cases[name] is not None:
        pytest.fail(cases[name], pytrace=False)
