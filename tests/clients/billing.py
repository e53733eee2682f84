"""Plain-HTTP helpers the dialect SDK tests share: a fresh key per test (so its usage is the
test's alone), that key's usage, a generation record, and the check that an answer's reported
cost is what was recorded and charged. Amounts are read as exact decimals."""

import json
import time
import urllib.error
import urllib.request
from decimal import Decimal

from conftest import MODELS


def http(server, method, path, key=None, body=None, headers=None):
    """(status, parsed JSON body or text) of a call under `/api/v1`; HTTP errors are returned."""
    req = urllib.request.Request(
        server["base_url"] + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={
            "Authorization": f"Bearer {key or server['key']}",
            "Content-Type": "application/json",
            **(headers or {}),
        },
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            status, raw = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    try:
        return status, json.loads(raw, parse_float=Decimal)
    except ValueError:
        return status, raw.decode(errors="replace")


def new_key(server, name):
    """A fresh inference key of the operator's account: its secret."""
    status, r = http(server, "POST", "/keys", server["management_key"], {"name": f"{name}-{time.time_ns()}"})
    assert status in (200, 201), r
    return r["key"]


def key_usage(server, key):
    """What the key has spent so far (USD, exact)."""
    status, r = http(server, "GET", "/key", key)
    assert status == 200, r
    return Decimal(str(r["data"]["usage"]))


def generation(server, key, gen_id, seconds=10):
    """The generation record (`data`), waiting for the ledger to write it."""
    deadline = time.monotonic() + seconds
    while True:
        status, r = http(server, "GET", f"/generation?id={gen_id}", key)
        if status == 200:
            return r["data"]
        assert status == 404, (status, r)
        assert time.monotonic() < deadline, f"no generation record for {gen_id}"
        time.sleep(0.1)


def price(model, prompt_tokens, completion_tokens):
    _, p, c = MODELS[model]
    return Decimal(p) * prompt_tokens + Decimal(c) * completion_tokens


def check_billed(server, key, before, gen_id, reported_cost, model, seconds=10):
    """The answer's reported cost is its generation record's `total_cost`, the price of the
    record's tokens at the model's prices, and what the key was charged since `before`.
    Returns the record."""
    reported = Decimal(str(reported_cost))
    assert reported > 0, f"{model}: reported cost {reported}"
    g = generation(server, key, gen_id, seconds)
    assert Decimal(str(g["total_cost"])) == reported, (model, g)
    assert g["model"] == model, g
    assert reported == price(model, g["tokens_prompt"], g["tokens_completion"]), (model, g)
    # The key's spending is updated at settlement; give the accounts cache a moment.
    deadline = time.monotonic() + seconds
    while key_usage(server, key) - before != reported and time.monotonic() < deadline:
        time.sleep(0.1)
    assert key_usage(server, key) - before == reported, f"{model}: the key was charged what the answer said"
    return g
