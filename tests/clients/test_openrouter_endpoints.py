"""Exact wire conformance with the official `openrouter` Python SDK: every call the SDK makes
to the endpoints Switchyard serves (or is to serve), against each fake provider family and the
demo catalogue. The SDK validates each response (and each streamed chunk) against OpenRouter's
schema and raises `ResponseValidationError` on any mismatch; no test catches it, so a
validation error fails the test with the SDK's own message.

Chat: plain, streamed, tool call (plain and streamed), structured output, each with and without
`X-OpenRouter-Metadata: enabled`. Then models list / count / user, a model's endpoints, ZDR
endpoints, providers, generation, the current key, keys CRUD, credits, activity, embeddings.
Each SDK call has its own test: what a test needs set up first (a key to read, update or
delete; the model count) is set up over plain HTTP, so one call's failure hides no other's.
"""

import json
import time
import urllib.request
from decimal import Decimal

import pytest
from openrouter import OpenRouter, errors

from conftest import (
    CITY_SCHEMA,
    DEMO_MODELS,
    EMBEDDING_SERVERS,
    EMBEDDING_TARGETS,
    MODELS,
    TARGETS,
    WEATHER_TOOL,
    endpoint_prices,
)

SERVERS = ["gateway", "demo"]

METADATA = pytest.mark.parametrize("metadata", [False, True], ids=["no-metadata", "metadata"])
TARGET = pytest.mark.parametrize("model", list(TARGETS))
SERVER = pytest.mark.parametrize("server", SERVERS)


def srv(request, name):
    return request.getfixturevalue(name)


def client(server, key=None):
    return OpenRouter(api_key=key or server["key"], server_url=server["base_url"])


@pytest.fixture
def target(request, model):
    """(server, inference client) for a target model."""
    s = srv(request, TARGETS.get(model) or EMBEDDING_SERVERS[model])
    return s, client(s)


def raw(server, method, path, key=None, body=None):
    """A plain HTTP call (no SDK, no validation), for setting up what a test needs."""
    req = urllib.request.Request(
        server["base_url"] + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key or server['key']}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def new_key(server, name, **fields):
    """Creates a key over plain HTTP: (hash, secret)."""
    r = raw(server, "POST", "/keys", server["management_key"], {"name": name, **fields})
    return r["data"]["hash"], r["key"]


def unique(prefix):
    return f"{prefix}-{time.time_ns()}"


def as_dict(obj):
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj
    return obj.model_dump()


def check_text(model, prompt, text):
    if model in MODELS:
        assert text == f"Echo: {prompt}"
    else:
        assert text.startswith("(Simulated answer from "), text


def check_usage(model, usage):
    """usage: a dict with prompt/completion/total tokens and cost, priced at one of the model's
    endpoints (the fakes have one; the demo routes to the first that answers)."""
    assert usage is not None, "no usage"
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    cost = Decimal(str(usage["cost"]))
    priced = [
        Decimal(p) * usage["prompt_tokens"] + Decimal(c) * usage["completion_tokens"]
        for _, p, c in endpoint_prices(model)
    ]
    assert cost in priced, (cost, priced)


def check_metadata(model, meta, enabled):
    """`openrouter_metadata` is there (and SDK-valid, or the call raised) exactly when asked for."""
    if not enabled:
        assert meta is None
        return
    assert meta is not None, "X-OpenRouter-Metadata: enabled but no openrouter_metadata"
    m = as_dict(meta)
    assert m["requested"] == model
    assert m["attempt"] >= 1


def send(orc, model, metadata, **kw):
    return orc.chat.send(model=model, x_open_router_metadata="enabled" if metadata else None, **kw)


def collect(stream):
    """Reads a stream to its end: text, finish reasons, usage, metadata, tool-call name/args."""
    out = {"text": "", "finish": [], "usage": None, "metadata": None, "name": "", "args": "", "ids": set()}
    with stream as events:
        for chunk in events:
            out["ids"].add(chunk.id)
            if chunk.openrouter_metadata is not None:
                out["metadata"] = chunk.openrouter_metadata
            if chunk.usage:
                out["usage"] = as_dict(chunk.usage)
            for choice in chunk.choices or []:
                out["text"] += choice.delta.content or ""
                for tc in choice.delta.tool_calls or []:
                    assert tc.index == 0
                    if tc.function:
                        out["name"] += tc.function.name or ""
                        out["args"] += tc.function.arguments or ""
                if choice.finish_reason:
                    out["finish"].append(choice.finish_reason)
    return out


def retry_not_found(call, seconds=10):
    """The generation record and activity are written by the ledger shortly after the answer:
    retries a lookup that answers 404 (any other error, a validation error above all, fails)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return call()
        except errors.NotFoundResponseError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


# ---------------- chat ----------------


@TARGET
@METADATA
def test_chat_plain(target, model, metadata):
    _, orc = target
    r = send(orc, model, metadata, messages=[{"role": "user", "content": "hello gateway"}])
    assert r.id.startswith("gen-")
    assert r.model == model
    assert r.choices[0].finish_reason == "stop"
    check_text(model, "hello gateway", r.choices[0].message.content)
    check_usage(model, as_dict(r.usage))
    check_metadata(model, r.openrouter_metadata, metadata)


@TARGET
@METADATA
def test_chat_stream(target, model, metadata):
    _, orc = target
    out = collect(send(orc, model, metadata, messages=[{"role": "user", "content": "stream this please"}], stream=True))
    check_text(model, "stream this please", out["text"])
    assert out["finish"] == ["stop"]
    assert len(out["ids"]) == 1 and next(iter(out["ids"])).startswith("gen-")
    check_usage(model, out["usage"])
    check_metadata(model, out["metadata"], metadata)


@TARGET
@METADATA
def test_chat_tools(target, model, metadata):
    _, orc = target
    messages = [{"role": "user", "content": "What is the weather in Paris?"}]
    r = send(orc, model, metadata, messages=messages, tools=[WEATHER_TOOL])
    assert r.choices[0].finish_reason == "tool_calls"
    call = r.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    check_usage(model, as_dict(r.usage))
    check_metadata(model, r.openrouter_metadata, metadata)

    messages.append(
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": call.id, "type": "function", "function": {"name": call.function.name, "arguments": call.function.arguments}}
            ],
        }
    )
    messages.append({"role": "tool", "tool_call_id": call.id, "content": json.dumps({"temp_c": 18})})
    r2 = send(orc, model, metadata, messages=messages, tools=[WEATHER_TOOL])
    assert r2.choices[0].finish_reason == "stop"
    if model in MODELS:
        assert "18" in r2.choices[0].message.content
    else:
        assert r2.choices[0].message.content
    check_metadata(model, r2.openrouter_metadata, metadata)


@TARGET
@METADATA
def test_chat_tools_stream(target, model, metadata):
    _, orc = target
    out = collect(
        send(orc, model, metadata, messages=[{"role": "user", "content": "Weather in Paris?"}], tools=[WEATHER_TOOL], stream=True)
    )
    assert out["name"] == "get_weather"
    assert json.loads(out["args"]) == {"city": "Paris"}
    assert out["finish"] == ["tool_calls"]
    check_usage(model, out["usage"])
    check_metadata(model, out["metadata"], metadata)


@TARGET
@METADATA
def test_chat_structured_output(target, model, metadata):
    _, orc = target
    r = send(
        orc,
        model,
        metadata,
        messages=[{"role": "user", "content": "Largest city in France?"}],
        response_format={"type": "json_schema", "json_schema": {"name": "city", "strict": True, "schema": CITY_SCHEMA}},
    )
    assert json.loads(r.choices[0].message.content) == {"city": "Paris", "population": 42}
    check_usage(model, as_dict(r.usage))
    check_metadata(model, r.openrouter_metadata, metadata)


# ---------------- models, endpoints, providers ----------------


def server_models(server):
    return [m for m, s in TARGETS.items() if s == server]


@SERVER
def test_models_list(request, server):
    s = srv(request, server)
    page = client(s).models.list()
    ids = [m.id for m in page.result.data]
    assert set(server_models(server)) <= set(ids)


@SERVER
def test_models_count(request, server):
    s = srv(request, server)
    r = client(s).models.count()
    assert r.data.count == len(raw(s, "GET", "/models")["data"])


@SERVER
def test_models_user(request, server):
    s = srv(request, server)
    page = client(s).models.list_for_user(security={"bearer": s["key"]})
    ids = [m.id for m in page.result.data]
    assert set(server_models(server)) <= set(ids)


@TARGET
def test_model_endpoints(target, model):
    _, orc = target
    author, slug = model.split("/", 1)
    r = orc.endpoints.list(author=author, slug=slug)
    assert r.data.id == model
    assert [e.provider_name for e in r.data.endpoints] == [name for name, _, _ in endpoint_prices(model)]


@SERVER
def test_endpoints_zdr(request, server):
    s = srv(request, server)
    r = client(s).endpoints.list_zdr_endpoints()
    if server == "demo":
        # Every simulated provider is ZDR (catalog/demo.toml).
        assert {e.model_id for e in r.data} >= set(DEMO_MODELS)


@SERVER
def test_providers(request, server):
    s = srv(request, server)
    r = client(s).providers.list()
    names = {p.name for p in r.data}
    expected = {name for m in server_models(server) for name, _, _ in endpoint_prices(m)}
    assert expected <= names


# ---------------- generation, key, credits, activity ----------------


@TARGET
def test_generation(target, model):
    _, orc = target
    r = orc.chat.send(model=model, messages=[{"role": "user", "content": "look me up"}])
    g = retry_not_found(lambda: orc.generations.get_generation(id=r.id))
    assert g.data.id == r.id
    assert g.data.model == model
    assert g.data.tokens_prompt == r.usage.prompt_tokens
    assert g.data.tokens_completion == r.usage.completion_tokens
    assert Decimal(str(g.data.total_cost)) == Decimal(str(r.usage.cost))


@SERVER
@pytest.mark.parametrize("which", ["inference", "management", "created"])
def test_current_key(request, server, which):
    s = srv(request, server)
    if which == "created":
        _, key = new_key(s, unique("sdk-py-own"), limit=1.5)
    else:
        key = s["management_key"] if which == "management" else s["key"]
    r = client(s, key).api_keys.get_current_key_metadata()
    assert r.data.is_management_key == (which == "management")
    if which == "created":
        assert r.data.limit == 1.5


def mgmt(s):
    return client(s, s["management_key"])


@SERVER
def test_keys_create(request, server):
    s = srv(request, server)
    name = unique("sdk-py-create")
    created = mgmt(s).api_keys.create(name=name, limit=1.5)
    assert created.key and created.data.name == name and created.data.limit == 1.5
    assert raw(s, "GET", f"/keys/{created.data.hash}", s["management_key"])["data"]["name"] == name


@SERVER
def test_keys_get(request, server):
    s = srv(request, server)
    name = unique("sdk-py-get")
    h, _ = new_key(s, name)
    r = mgmt(s).api_keys.get(hash=h)
    assert r.data.hash == h and r.data.name == name


@SERVER
def test_keys_list(request, server):
    s = srv(request, server)
    live, _ = new_key(s, unique("sdk-py-list"))
    off, _ = new_key(s, unique("sdk-py-list-disabled"))
    raw(s, "PATCH", f"/keys/{off}", s["management_key"], {"disabled": True})
    listed = [k.hash for k in mgmt(s).api_keys.list().data]
    assert live in listed and off not in listed
    assert off in [k.hash for k in mgmt(s).api_keys.list(include_disabled=True).data]


@SERVER
def test_keys_update(request, server):
    s = srv(request, server)
    name = unique("sdk-py-update")
    h, _ = new_key(s, name)
    r = mgmt(s).api_keys.update(hash=h, name=name + "-renamed", disabled=True)
    assert r.data.name == name + "-renamed" and r.data.disabled


@SERVER
def test_keys_delete(request, server):
    s = srv(request, server)
    h, _ = new_key(s, unique("sdk-py-delete"))
    r = mgmt(s).api_keys.delete(hash=h)
    assert r.DELETED is True
    with pytest.raises(errors.NotFoundResponseError):
        mgmt(s).api_keys.get(hash=h)


@SERVER
def test_credits(request, server):
    s = srv(request, server)
    r = mgmt(s).credits.get_credits()
    assert r.data.total_credits >= 0 and r.data.total_usage >= 0


@SERVER
def test_activity(request, server):
    s = srv(request, server)
    model = server_models(server)[0]
    raw(s, "POST", "/chat/completions", body={"model": model, "messages": [{"role": "user", "content": "count me"}]})
    # The ledger records the call shortly after the answer.
    deadline = time.monotonic() + 10
    while True:
        rows = mgmt(s).analytics.get_user_activity().data
        mine = [row for row in rows if row.model == model]
        if mine or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert mine, f"no activity row for {model}: {rows}"
    assert mine[0].requests >= 1 and mine[0].prompt_tokens > 0


# ---------------- embeddings ----------------


@pytest.mark.parametrize("model", EMBEDDING_TARGETS)
def test_embeddings(target, model):
    _, orc = target
    r = orc.embeddings.generate(model=model, input=["first text", "second text"])
    assert not isinstance(r, str), r
    assert [d.index for d in r.data] == [0, 1]
    assert all(isinstance(d.embedding, list) and len(d.embedding) > 0 for d in r.data)
    assert r.usage.prompt_tokens > 0
