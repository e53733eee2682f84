"""Conformance with the official SDKs: each does a plain call, a streamed call, a tool-call
round trip and a structured-output call against every fake provider family, and checks
content, tool arguments, usage and cost; the openai SDK's `embeddings.create` too."""

import base64
import json
import struct
from decimal import Decimal

import openai
import pytest
from openrouter import OpenRouter

from conftest import CITY_SCHEMA, EMBED_MODELS, MODELS, WEATHER_TOOL


def expected_cost(model, prompt_tokens, completion_tokens):
    _, p, c = MODELS[model]
    return Decimal(p) * prompt_tokens + Decimal(c) * completion_tokens


def check_usage(model, usage):
    """usage: a dict with prompt/completion/total tokens and cost."""
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    cost = Decimal(str(usage["cost"]))
    assert cost == expected_cost(model, usage["prompt_tokens"], usage["completion_tokens"])


def as_dict(obj):
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj
    return obj.model_dump()


@pytest.fixture(scope="module")
def oai(gateway):
    return openai.OpenAI(base_url=gateway["openai_base_url"], api_key=gateway["key"], max_retries=0)


@pytest.fixture(scope="module")
def orc(gateway):
    return OpenRouter(api_key=gateway["key"], server_url=gateway["base_url"])


# ---------------- openai SDK ----------------


@pytest.mark.parametrize("model", MODELS)
def test_openai_plain(oai, model):
    r = oai.chat.completions.create(model=model, messages=[{"role": "user", "content": "hello gateway"}])
    assert r.choices[0].message.content == "Echo: hello gateway"
    assert r.choices[0].finish_reason == "stop"
    assert r.model == model
    assert r.id.startswith("gen-")
    assert r.provider == MODELS[model][0]
    check_usage(model, as_dict(r.usage))


@pytest.mark.parametrize("model", MODELS)
def test_openai_stream(oai, model):
    stream = oai.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "stream this please"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text, finish, usage = "", [], None
    for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
            if chunk.choices[0].finish_reason:
                finish.append(chunk.choices[0].finish_reason)
        if chunk.usage:
            usage = as_dict(chunk.usage)
    assert text == "Echo: stream this please"
    assert finish == ["stop"]
    check_usage(model, usage)


@pytest.mark.parametrize("model", MODELS)
def test_openai_tool_round_trip(oai, model):
    messages = [{"role": "user", "content": "What is the weather in Paris?"}]
    r = oai.chat.completions.create(model=model, messages=messages, tools=[WEATHER_TOOL])
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    check_usage(model, as_dict(r.usage))

    messages.append(choice.message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": json.dumps({"temp_c": 18})})
    r2 = oai.chat.completions.create(model=model, messages=messages, tools=[WEATHER_TOOL])
    assert r2.choices[0].finish_reason == "stop"
    assert "18" in r2.choices[0].message.content


@pytest.mark.parametrize("model", MODELS)
def test_openai_streamed_tool_call(oai, model):
    stream = oai.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[WEATHER_TOOL],
        stream=True,
    )
    name, args, finish = "", "", None
    for chunk in stream:
        for tc in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            assert tc.index == 0
            name += tc.function.name or "" if tc.function else ""
            args += tc.function.arguments or "" if tc.function else ""
        if chunk.choices and chunk.choices[0].finish_reason:
            finish = chunk.choices[0].finish_reason
    assert name == "get_weather"
    assert json.loads(args) == {"city": "Paris"}
    assert finish == "tool_calls"


@pytest.mark.parametrize("model", MODELS)
def test_openai_structured_output(oai, model):
    r = oai.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "Largest city in France?"}],
        response_format={"type": "json_schema", "json_schema": {"name": "city", "strict": True, "schema": CITY_SCHEMA}},
    )
    assert json.loads(r.choices[0].message.content) == {"city": "Paris", "population": 42}
    check_usage(model, as_dict(r.usage))


def test_openai_errors_are_typed(oai):
    with pytest.raises(openai.NotFoundError):
        oai.chat.completions.create(model="nobody/nothing", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.RateLimitError):
        oai.chat.completions.create(model="fake/gpt", messages=[{"role": "user", "content": "x #fail:429"}])
    bad = openai.OpenAI(base_url=oai.base_url, api_key="sk-sy-v1-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(model="fake/gpt", messages=[{"role": "user", "content": "x"}])


def test_openai_mid_stream_failure_raises(oai):
    stream = oai.chat.completions.create(
        model="fake/claude", messages=[{"role": "user", "content": "one two three #midstream-error"}], stream=True
    )
    with pytest.raises(openai.APIError):
        for _ in stream:
            pass


def test_openai_models_list(oai):
    ids = {m.id for m in oai.models.list()}
    assert set(MODELS) <= ids


@pytest.mark.parametrize("model", EMBED_MODELS)
@pytest.mark.parametrize("encoding", [None, "float", "base64"])
def test_openai_embeddings(oai, model, encoding):
    """A string and a list, as floats (asked for, or the SDK's own default of fetching base64
    and decoding it) and as base64 strings of little-endian f32s."""
    extra = {} if encoding is None else {"encoding_format": encoding}
    one = oai.embeddings.create(model=model, input="hello embeddings", **extra)
    many = oai.embeddings.create(model=model, input=["alpha beta", "gamma", "alpha beta"], **extra)
    floats = oai.embeddings.create(model=model, input=["alpha beta", "gamma", "alpha beta"], encoding_format="float")
    for r, n in [(one, 1), (many, 3)]:
        assert r.object == "list" and r.model == model
        assert [d.index for d in r.data] == list(range(n))
        assert all(d.object == "embedding" for d in r.data)
        usage = as_dict(r.usage)
        assert usage["prompt_tokens"] > 0 and usage["total_tokens"] == usage["prompt_tokens"]
        assert Decimal(str(usage["cost"])) == Decimal(EMBED_MODELS[model][1]) * usage["prompt_tokens"]
    vectors = [d.embedding for d in many.data]
    if encoding == "base64":
        assert all(isinstance(v, str) for v in vectors)
        vectors = [list(struct.unpack(f"<{len(base64.b64decode(v)) // 4}f", base64.b64decode(v))) for v in vectors]
    assert all(isinstance(x, float) for v in vectors for x in v)
    want = [d.embedding for d in floats.data]
    assert len(want[0]) == 8
    # float32 values, whichever way they travelled
    assert [[struct.unpack("<f", struct.pack("<f", x))[0] for x in v] for v in vectors] == [
        [struct.unpack("<f", struct.pack("<f", x))[0] for x in v] for v in want
    ]
    assert vectors[0] == vectors[2] and vectors[0] != vectors[1]


def test_openai_embeddings_dimensions_and_errors(oai):
    r = oai.embeddings.create(model="fake/embed", input="short", dimensions=3)
    assert len(r.data[0].embedding) == 3
    with pytest.raises(openai.BadRequestError) as e:
        oai.embeddings.create(model="fake/gpt", input="x")
    assert "not an embedding model" in str(e.value)
    with pytest.raises(openai.BadRequestError):
        oai.embeddings.create(model="fake/embed", input="")


# ---------------- openrouter SDK ----------------


@pytest.mark.parametrize("model", MODELS)
def test_openrouter_plain(orc, model):
    r = orc.chat.send(model=model, messages=[{"role": "user", "content": "hello gateway"}])
    assert r.choices[0].message.content == "Echo: hello gateway"
    assert r.model == model
    check_usage(model, as_dict(r.usage))


@pytest.mark.parametrize("model", MODELS)
def test_openrouter_stream(orc, model):
    stream = orc.chat.send(model=model, messages=[{"role": "user", "content": "stream this please"}], stream=True)
    text, usage, finish = "", None, []
    with stream as events:
        for ev in events:
            chunk = ev.data if hasattr(ev, "data") else ev
            if chunk.choices:
                text += chunk.choices[0].delta.content or ""
                if chunk.choices[0].finish_reason:
                    finish.append(chunk.choices[0].finish_reason)
            if chunk.usage:
                usage = as_dict(chunk.usage)
    assert text == "Echo: stream this please"
    assert finish == ["stop"]
    check_usage(model, usage)


@pytest.mark.parametrize("model", MODELS)
def test_openrouter_tool_round_trip(orc, model):
    messages = [{"role": "user", "content": "What is the weather in Paris?"}]
    r = orc.chat.send(model=model, messages=messages, tools=[WEATHER_TOOL])
    msg = r.choices[0].message
    call = msg.tool_calls[0]
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    check_usage(model, as_dict(r.usage))
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
    r2 = orc.chat.send(model=model, messages=messages, tools=[WEATHER_TOOL])
    assert "18" in r2.choices[0].message.content


@pytest.mark.parametrize("model", MODELS)
def test_openrouter_structured_output(orc, model):
    r = orc.chat.send(
        model=model,
        messages=[{"role": "user", "content": "Largest city in France?"}],
        response_format={"type": "json_schema", "json_schema": {"name": "city", "strict": True, "schema": CITY_SCHEMA}},
    )
    assert json.loads(r.choices[0].message.content) == {"city": "Paris", "population": 42}
    check_usage(model, as_dict(r.usage))


# ---------------- openrouter SDK: catalogue and account API ----------------
# Each call parses the body into the SDK's own models, which reject a missing required field,
# a null where none is allowed and a wrong type: the gateway's side of the wire contract, as
# the official client enforces it.


def test_openrouter_catalogue_parses(orc, gateway):
    page = orc.models.list()
    ids = {m.id for m in page.result.data}
    assert set(MODELS) <= ids
    assert page.result.total_count == len(page.result.data)
    assert orc.models.count().data.count == len(page.result.data)
    user = orc.models.list_for_user(security={"bearer": gateway["key"]})
    assert {m.id for m in user.result.data} == ids
    for model in MODELS:
        author, slug = model.split("/")
        eps = orc.endpoints.list(author=author, slug=slug)
        assert eps.data.id == model
        assert eps.data.endpoints[0].provider_name == MODELS[model][0]
    assert isinstance(orc.endpoints.list_zdr_endpoints().data, list)
    slugs = {p.slug for p in orc.providers.list().data}
    assert "fake-openai" in slugs


def test_openrouter_key_generation_and_activity_parse(orc):
    key = orc.api_keys.get_current_key_metadata().data
    assert key.is_management_key is False
    r = orc.chat.send(model="fake/gpt", messages=[{"role": "user", "content": "hello stats"}])
    g = orc.generations.get_generation(id=r.id).data
    assert g.id == r.id
    assert g.model == "fake/gpt"
    assert Decimal(str(g.total_cost)) == Decimal(str(r.usage.cost))
    rows = orc.analytics.get_user_activity().data
    assert any(row.model == "fake/gpt" for row in rows)
