"""The official `openai` Python SDK against the gateway's OpenAI Responses dialect
(`POST /responses`) and legacy text completions (`POST /completions`), in front of every fake
provider family. (`embeddings.create` is covered in test_sdks.py.)

The gateway is stateless: `store: true` and `previous_response_id` are refused (400), the
client resends the conversation as `input`. OpenRouter's `usage.cost` is read from the SDK
models' extra fields and checked against the generation record and the key's usage.
"""

import json
from decimal import Decimal

import openai
import pytest

from billing import check_billed, key_usage, new_key, price
from conftest import CITY_SCHEMA, MODELS

FAMILIES = pytest.mark.parametrize("model", list(MODELS))

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather in a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


def client(gateway, key=None, prefix="openai_base_url"):
    return openai.OpenAI(base_url=gateway[prefix], api_key=key or gateway["key"], max_retries=0)


@pytest.fixture(scope="module")
def oai(gateway):
    return client(gateway)


def cost_of(usage):
    """OpenRouter's `usage.cost`, an extra field to the SDK."""
    d = usage.to_dict() if hasattr(usage, "to_dict") else dict(usage)
    assert "cost" in d, f"no usage.cost in {d}"
    return Decimal(str(d["cost"]))


def check_response_usage(model, usage):
    assert usage.input_tokens > 0 and usage.output_tokens > 0, usage
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    assert cost_of(usage) == price(model, usage.input_tokens, usage.output_tokens), usage


def check_completion_usage(model, usage):
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0, usage
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert cost_of(usage) == price(model, usage.prompt_tokens, usage.completion_tokens), usage


# ---------------- responses: whole answers ----------------


@FAMILIES
@pytest.mark.parametrize("prefix", ["openai_base_url", "base_url"], ids=["v1", "api-v1"])
def test_responses_string_input(gateway, model, prefix):
    r = client(gateway, prefix=prefix).responses.create(model=model, input="hello responses")
    assert r.object == "response"
    assert r.status == "completed"
    assert r.output_text == "Echo: hello responses"
    assert r.model == model
    assert r.id
    check_response_usage(model, r.usage)


@FAMILIES
def test_responses_item_list_and_instructions(oai, model):
    r = oai.responses.create(
        model=model,
        instructions="Answer tersely.",
        input=[
            {"role": "user", "content": "first question"},
            {"role": "assistant", "content": "first answer"},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "second question"}]},
        ],
    )
    assert r.output_text == "Echo: second question"
    messages = [o for o in r.output if o.type == "message"]
    assert len(messages) == 1 and messages[0].role == "assistant"


@FAMILIES
def test_responses_function_call_round_trip(oai, model):
    items = [{"role": "user", "content": "What is the weather in Paris?"}]
    r = oai.responses.create(model=model, input=items, tools=[WEATHER])
    calls = [o for o in r.output if o.type == "function_call"]
    assert len(calls) == 1, r.output
    call = calls[0]
    assert call.name == "get_weather"
    assert json.loads(call.arguments) == {"city": "Paris"}
    assert call.call_id
    check_response_usage(model, r.usage)

    items += [o.to_dict() for o in r.output]
    items.append({"type": "function_call_output", "call_id": call.call_id, "output": json.dumps({"temp_c": 18})})
    r2 = oai.responses.create(model=model, input=items, tools=[WEATHER])
    assert r2.status == "completed"
    assert "18" in r2.output_text


@FAMILIES
def test_responses_json_schema(oai, model):
    r = oai.responses.create(
        model=model,
        input="Largest city in France?",
        text={"format": {"type": "json_schema", "name": "city", "strict": True, "schema": CITY_SCHEMA}},
    )
    assert json.loads(r.output_text) == {"city": "Paris", "population": 42}
    check_response_usage(model, r.usage)


# ---------------- responses: streams ----------------


@FAMILIES
def test_responses_stream_raw_events(oai, model):
    kinds, text, completed = [], "", None
    for ev in oai.responses.create(model=model, input="stream this please", stream=True):
        kinds.append(ev.type)
        if ev.type == "response.output_text.delta":
            text += ev.delta
        if ev.type == "response.completed":
            completed = ev.response
    assert kinds[0] == "response.created", kinds
    assert kinds[-1] == "response.completed", kinds
    assert "response.output_item.added" in kinds and "response.output_item.done" in kinds
    assert text == "Echo: stream this please"
    assert completed.output_text == text
    assert completed.status == "completed"
    check_response_usage(model, completed.usage)


@FAMILIES
def test_responses_stream_helper(oai, model):
    with oai.responses.stream(model=model, input="stream with the helper") as stream:
        deltas = [ev.delta for ev in stream if ev.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == "Echo: stream with the helper"
    assert final.output_text == "Echo: stream with the helper"
    check_response_usage(model, final.usage)


@FAMILIES
def test_responses_stream_function_call(oai, model):
    with oai.responses.stream(model=model, input="Weather in Paris?", tools=[WEATHER]) as stream:
        args = "".join(ev.delta for ev in stream if ev.type == "response.function_call_arguments.delta")
        final = stream.get_final_response()
    calls = [o for o in final.output if o.type == "function_call"]
    assert [c.name for c in calls] == ["get_weather"]
    assert json.loads(calls[0].arguments) == {"city": "Paris"}
    assert json.loads(args) == {"city": "Paris"}


# ---------------- responses: refusals ----------------


def test_responses_stateful_fields_are_refused(gateway, oai):
    with pytest.raises(openai.BadRequestError) as e:
        oai.responses.create(model="fake/gpt", input="x", store=True)
    assert "store" in str(e.value)
    with pytest.raises(openai.BadRequestError) as e:
        oai.responses.create(model="fake/gpt", input="x", previous_response_id="resp_123")
    assert "previous_response_id" in str(e.value)
    # store: false is what stateless clients send, and fine.
    assert oai.responses.create(model="fake/gpt", input="x", store=False).output_text == "Echo: x"


def test_responses_errors_are_typed(gateway, oai):
    with pytest.raises(openai.AuthenticationError):
        client(gateway, "sk-sy-v1-wrong").responses.create(model="fake/gpt", input="x")
    with pytest.raises(openai.NotFoundError):
        oai.responses.create(model="nobody/nothing", input="x")
    with pytest.raises(openai.RateLimitError):
        oai.responses.create(model="fake/gpt", input="x #fail:429")


# ---------------- responses: billing ----------------


@FAMILIES
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_responses_cost_is_recorded_and_charged(gateway, model, stream):
    key = new_key(gateway, "responses-billing")
    oai = client(gateway, key)
    before = key_usage(gateway, key)
    if stream:
        raw = oai.responses.with_raw_response.create(model=model, input="bill my stream", stream=True)
        r = None
        for ev in raw.parse():
            if ev.type == "response.completed":
                r = ev.response
        assert r is not None, "no response.completed"
    else:
        raw = oai.responses.with_raw_response.create(model=model, input="bill me")
        r = raw.parse()
    gen_id = raw.headers.get("x-generation-id")
    assert gen_id, "x-generation-id header"
    g = check_billed(gateway, key, before, gen_id, cost_of(r.usage), model)
    assert g["tokens_prompt"] == r.usage.input_tokens
    assert g["tokens_completion"] == r.usage.output_tokens
    assert g["streamed"] is stream


# ---------------- legacy completions ----------------


@FAMILIES
def test_completions_plain(oai, model):
    r = oai.completions.create(model=model, prompt="Say hello", max_tokens=64)
    assert r.object == "text_completion"
    assert r.model == model
    assert r.id
    assert r.choices[0].text == "Echo: Say hello"
    assert r.choices[0].index == 0
    assert r.choices[0].finish_reason == "stop"
    check_completion_usage(model, r.usage)
    assert r.to_dict()["provider"] == MODELS[model][0]


@FAMILIES
def test_completions_stream(oai, model):
    text, finish, usage, ids = "", [], None, set()
    for chunk in oai.completions.create(
        model=model, prompt="Say hello again", stream=True, stream_options={"include_usage": True}
    ):
        ids.add(chunk.id)
        assert chunk.object == "text_completion"
        for c in chunk.choices:
            text += c.text
            if c.finish_reason:
                finish.append(c.finish_reason)
        if chunk.usage:
            usage = chunk.usage
    assert text == "Echo: Say hello again"
    assert finish == ["stop"]
    assert len(ids) == 1
    check_completion_usage(model, usage)


def test_completions_refusals(oai):
    with pytest.raises(openai.BadRequestError) as e:
        oai.completions.create(model="fake/gpt", prompt=["one", "two"])
    assert "prompt" in str(e.value)
    with pytest.raises(openai.BadRequestError) as e:
        oai.completions.create(model="fake/gpt", prompt=[1, 2, 3])
    assert "prompt" in str(e.value)
    with pytest.raises(openai.BadRequestError) as e:
        oai.completions.create(model="fake/gpt", prompt="x", n=2)
    assert "`n`" in str(e.value)
    with pytest.raises(openai.BadRequestError):
        oai.completions.create(model="fake/gpt", prompt="x", echo=True)
    with pytest.raises(openai.BadRequestError):
        oai.completions.create(model="fake/gpt", prompt="x", logprobs=2)
    with pytest.raises(openai.BadRequestError):
        oai.completions.create(model="fake/gpt", prompt="x", suffix="y")
    with pytest.raises(openai.NotFoundError):
        oai.completions.create(model="nobody/nothing", prompt="x")
    # One prompt in a list is one prompt.
    assert oai.completions.create(model="fake/gpt", prompt=["just one"]).choices[0].text == "Echo: just one"


def test_completions_mid_stream_failure_raises(oai):
    stream = oai.completions.create(model="fake/claude", prompt="one two three #midstream-error", stream=True)
    with pytest.raises(openai.APIError):
        for _ in stream:
            pass


@FAMILIES
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_completions_cost_is_recorded_and_charged(gateway, model, stream):
    key = new_key(gateway, "completions-billing")
    oai = client(gateway, key)
    before = key_usage(gateway, key)
    if stream:
        raw = oai.completions.with_raw_response.create(model=model, prompt="bill my stream", stream=True)
        usage = None
        for chunk in raw.parse():
            usage = chunk.usage or usage
        gen_id = raw.headers.get("x-generation-id")
    else:
        raw = oai.completions.with_raw_response.create(model=model, prompt="bill me")
        r = raw.parse()
        usage = r.usage
        gen_id = raw.headers.get("x-generation-id")
        assert r.id == gen_id
    assert gen_id
    g = check_billed(gateway, key, before, gen_id, cost_of(usage), model)
    assert g["tokens_prompt"] == usage.prompt_tokens
    assert g["tokens_completion"] == usage.completion_tokens
    assert g["streamed"] is stream
