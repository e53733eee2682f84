"""The official `anthropic` Python SDK against the gateway's Anthropic Messages dialect
(`POST /api/v1/messages`, `/messages/count_tokens`), in front of every fake provider family:
the dialect translates to OpenAI-, Anthropic- and Gemini-protocol upstreams alike.

The SDK is pointed at `<gateway>/api` (it appends `/v1/messages`) and authenticates with
`x-api-key` (`api_key=`) or `Authorization: Bearer` (`auth_token=`). Its models keep unknown
fields, so OpenRouter's `usage.cost` is read from `model_extra`; every billed call's cost is
checked against its generation record (`GET /generation?id=`, the id from the
`x-generation-id` header, which is also the message id) and the key's usage.
"""

import json
from decimal import Decimal

import anthropic
import pytest

from billing import check_billed, key_usage, new_key, price
from conftest import MODELS

FAMILIES = pytest.mark.parametrize("model", list(MODELS))

WEATHER = {
    "name": "get_weather",
    "description": "Current weather in a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


def client(gateway, key=None, bearer=False):
    key = key or gateway["key"]
    if bearer:
        return anthropic.Anthropic(base_url=gateway["url"] + "/api", auth_token=key, api_key=None, max_retries=0)
    return anthropic.Anthropic(base_url=gateway["url"] + "/api", api_key=key, max_retries=0)


@pytest.fixture(scope="module")
def ant(gateway):
    return client(gateway)


def user(text):
    return [{"role": "user", "content": text}]


def cost_of(usage):
    """OpenRouter's `usage.cost`, an extension the SDK keeps as an extra field."""
    extra = usage.model_extra or {}
    assert "cost" in extra, f"no usage.cost in {usage.to_dict()}"
    return Decimal(str(extra["cost"]))


def check_usage(model, usage):
    assert usage.input_tokens > 0 and usage.output_tokens > 0, usage
    assert cost_of(usage) == price(model, usage.input_tokens, usage.output_tokens), usage.to_dict()


def text_of(msg):
    return "".join(b.text for b in msg.content if b.type == "text")


# ---------------- whole answers ----------------


@FAMILIES
@pytest.mark.parametrize("bearer", [False, True], ids=["x-api-key", "bearer"])
def test_create_plain(gateway, model, bearer):
    msg = client(gateway, bearer=bearer).messages.create(model=model, max_tokens=256, messages=user("hello anthropic"))
    assert msg.type == "message" and msg.role == "assistant"
    assert text_of(msg) == "Echo: hello anthropic"
    assert msg.stop_reason == "end_turn"
    assert msg.model == model
    assert msg.id
    check_usage(model, msg.usage)


@FAMILIES
def test_create_with_system(ant, model):
    msg = ant.messages.create(
        model=model,
        max_tokens=256,
        system=[{"type": "text", "text": "You are terse.", "cache_control": {"type": "ephemeral"}}],
        messages=user("hello with a system prompt"),
    )
    assert text_of(msg) == "Echo: hello with a system prompt"
    msg = ant.messages.create(model=model, max_tokens=256, system="Be terse.", messages=user("plain system"))
    assert text_of(msg) == "Echo: plain system"


@FAMILIES
def test_create_multi_turn(ant, model):
    msg = ant.messages.create(
        model=model,
        max_tokens=256,
        messages=[
            {"role": "user", "content": "first question"},
            {"role": "assistant", "content": "first answer"},
            {"role": "user", "content": [{"type": "text", "text": "second question"}]},
        ],
    )
    assert text_of(msg) == "Echo: second question"


@FAMILIES
def test_tool_use_round_trip(ant, model):
    messages = user("What is the weather in Paris?")
    msg = ant.messages.create(model=model, max_tokens=256, tools=[WEATHER], messages=messages)
    assert msg.stop_reason == "tool_use"
    calls = [b for b in msg.content if b.type == "tool_use"]
    assert len(calls) == 1
    assert calls[0].name == "get_weather"
    assert calls[0].input == {"city": "Paris"}
    assert calls[0].id
    check_usage(model, msg.usage)

    messages = messages + [
        {"role": "assistant", "content": [b.to_dict() for b in msg.content]},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": calls[0].id, "content": json.dumps({"temp_c": 18})}
            ],
        },
    ]
    msg = ant.messages.create(model=model, max_tokens=256, tools=[WEATHER], messages=messages)
    assert msg.stop_reason == "end_turn"
    assert "18" in text_of(msg)


# ---------------- streams ----------------


@FAMILIES
def test_stream_text(ant, model):
    with ant.messages.stream(model=model, max_tokens=256, messages=user("stream this please")) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Echo: stream this please"
    assert text_of(final) == text
    assert final.stop_reason == "end_turn"
    assert final.model == model
    assert final.usage.input_tokens > 0 and final.usage.output_tokens > 0


@FAMILIES
def test_stream_events_carry_the_cost(ant, model):
    """The raw events: message_start first, message_stop last, and the usage with the cost in
    message_delta (the SDK's accumulated message keeps only the token counts)."""
    kinds, delta_usage = [], None
    with ant.messages.stream(model=model, max_tokens=256, messages=user("count my events")) as stream:
        for event in stream:
            kinds.append(event.type)
            if event.type == "message_delta":
                delta_usage = event.usage
        final = stream.get_final_message()
    assert kinds[0] == "message_start", kinds
    assert kinds[-1] == "message_stop", kinds
    assert "content_block_start" in kinds and "content_block_stop" in kinds
    assert delta_usage is not None
    assert delta_usage.output_tokens == final.usage.output_tokens
    assert cost_of(delta_usage) == price(model, final.usage.input_tokens, final.usage.output_tokens)


@FAMILIES
def test_stream_tool_use(ant, model):
    partial = ""
    with ant.messages.stream(model=model, max_tokens=256, tools=[WEATHER], messages=user("Weather in Paris?")) as stream:
        for event in stream:
            if event.type == "input_json":
                partial += event.partial_json
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    calls = [b for b in final.content if b.type == "tool_use"]
    assert [c.name for c in calls] == ["get_weather"]
    assert calls[0].input == {"city": "Paris"}
    assert json.loads(partial) == {"city": "Paris"}


# ---------------- thinking ----------------


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_thinking_signature_round_trip(ant, stream):
    """The Anthropic fake reasons when asked (`#think`): the thinking block comes back with its
    signature, and a next turn that sends it back as it came is accepted."""
    model = "fake/claude"
    kw = dict(
        model=model,
        max_tokens=2048,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=user("think first #think"),
    )
    if stream:
        with ant.messages.stream(**kw) as s:
            msg = s.get_final_message()
    else:
        msg = ant.messages.create(**kw)
    thinking = [b for b in msg.content if b.type == "thinking"]
    assert thinking, msg.to_dict()
    assert thinking[0].thinking
    assert thinking[0].signature, "the signature must come back"
    assert text_of(msg).startswith("Echo: think first")

    follow = ant.messages.create(
        model=model,
        max_tokens=2048,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[
            *kw["messages"],
            {"role": "assistant", "content": [b.to_dict() for b in msg.content]},
            {"role": "user", "content": "and now?"},
        ],
    )
    assert text_of(follow) == "Echo: and now?"


# ---------------- count_tokens ----------------


@FAMILIES
def test_count_tokens(gateway, model):
    key = new_key(gateway, "count-tokens")
    ant = client(gateway, key)
    before = key_usage(gateway, key)
    short = ant.messages.count_tokens(model=model, messages=user("hi"))
    long = ant.messages.count_tokens(
        model=model, system="You are terse.", tools=[WEATHER], messages=user("hi " + "word " * 200)
    )
    assert short.input_tokens > 0
    assert long.input_tokens > short.input_tokens
    assert key_usage(gateway, key) == before, "counting tokens is not billed"


# ---------------- errors ----------------


def test_errors_are_typed(gateway, ant):
    with pytest.raises(anthropic.AuthenticationError):
        client(gateway, "sk-sy-v1-wrong").messages.create(model="fake/gpt", max_tokens=64, messages=user("x"))
    with pytest.raises(anthropic.AuthenticationError):
        client(gateway, "sk-sy-v1-wrong", bearer=True).messages.create(
            model="fake/gpt", max_tokens=64, messages=user("x")
        )
    with pytest.raises(anthropic.NotFoundError):
        ant.messages.create(model="nobody/nothing", max_tokens=64, messages=user("x"))
    with pytest.raises(anthropic.BadRequestError):
        ant.messages.create(model="fake/gpt", max_tokens=64, messages=[])
    with pytest.raises(anthropic.BadRequestError) as e:
        ant.messages.create(model="fake/gpt", max_tokens=64, messages=[{"role": "wizard", "content": "x"}])
    assert e.value.body["type"] == "error", e.value.body
    with pytest.raises(anthropic.RateLimitError):
        ant.messages.create(model="fake/gpt", max_tokens=64, messages=user("x #fail:429"))


def test_stream_errors_are_typed(ant):
    with pytest.raises(anthropic.NotFoundError):
        with ant.messages.stream(model="nobody/nothing", max_tokens=64, messages=user("x")) as s:
            s.get_final_message()
    # A failure after the stream started is an `error` event: the SDK raises it with the
    # stream's own status (200), as a plain APIStatusError.
    with pytest.raises(anthropic.APIStatusError) as e:
        with ant.messages.stream(model="fake/claude", max_tokens=64, messages=user("one two #midstream-error")) as s:
            s.get_final_message()
    assert type(e.value) is anthropic.APIStatusError, e.value


# ---------------- billing ----------------


@FAMILIES
def test_cost_is_recorded_and_charged(gateway, model):
    key = new_key(gateway, "anthropic-billing")
    ant = client(gateway, key)

    before = key_usage(gateway, key)
    raw = ant.messages.with_raw_response.create(model=model, max_tokens=256, messages=user("bill me"))
    msg = raw.parse()
    gen_id = raw.headers.get("x-generation-id")
    assert gen_id, "x-generation-id header"
    assert msg.id == gen_id, "the message id is the generation id"
    g = check_billed(gateway, key, before, gen_id, cost_of(msg.usage), model)
    assert g["tokens_prompt"] == msg.usage.input_tokens
    assert g["tokens_completion"] == msg.usage.output_tokens

    before = key_usage(gateway, key)
    delta_usage = None
    with ant.messages.stream(model=model, max_tokens=256, messages=user("bill my stream")) as stream:
        for event in stream:
            if event.type == "message_delta":
                delta_usage = event.usage
        final = stream.get_final_message()
        gen_id = stream.response.headers.get("x-generation-id")
    assert gen_id and final.id == gen_id
    g = check_billed(gateway, key, before, gen_id, cost_of(delta_usage), model)
    assert g["streamed"] is True
    assert g["tokens_completion"] == final.usage.output_tokens
