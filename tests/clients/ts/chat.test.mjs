// Chat with @openrouter/sdk against each target (fake provider families and the demo):
// plain, streamed, tools (plain and streamed), structured output, each with and without
// `X-OpenRouter-Metadata: enabled`. Any response or chunk the SDK's schema rejects fails.
import assert from "node:assert/strict";
import {
  CITY_SCHEMA, TARGETS, WEATHER_TOOL, call, checkMetadata, checkText, checkUsage, client, collect,
  isFake, serverOf, describe, test,
} from "./helpers.mjs";

function send(model, metadata, chatRequest) {
  return call(() =>
    client(serverOf(model)).chat.send({
      ...(metadata ? { xOpenRouterMetadata: "enabled" } : {}),
      chatRequest: { model, ...chatRequest },
    }),
  );
}

for (const model of TARGETS) {
  for (const metadata of [false, true]) {
    describe(`chat ${model} ${metadata ? "metadata" : "no-metadata"}`, () => {
      test("plain", async () => {
        const r = await send(model, metadata, { messages: [{ role: "user", content: "hello gateway" }] });
        assert.ok(r.id.startsWith("gen-"));
        assert.equal(r.model, model);
        assert.equal(r.choices[0].finishReason, "stop");
        checkText(model, "hello gateway", r.choices[0].message.content);
        checkUsage(model, r.usage);
        checkMetadata(model, r.openrouterMetadata, metadata);
      });

      test("stream", async () => {
        const out = await call(async () =>
          collect(await send(model, metadata, { messages: [{ role: "user", content: "stream this please" }], stream: true })),
        );
        checkText(model, "stream this please", out.text);
        assert.deepEqual(out.finish, ["stop"]);
        assert.equal(out.ids.size, 1);
        assert.ok([...out.ids][0].startsWith("gen-"));
        checkUsage(model, out.usage);
        checkMetadata(model, out.metadata, metadata);
      });

      test("tools", async () => {
        const messages = [{ role: "user", content: "What is the weather in Paris?" }];
        const r = await send(model, metadata, { messages, tools: [WEATHER_TOOL] });
        assert.equal(r.choices[0].finishReason, "tool_calls");
        const tc = r.choices[0].message.toolCalls[0];
        assert.equal(tc.function.name, "get_weather");
        assert.deepEqual(JSON.parse(tc.function.arguments), { city: "Paris" });
        checkUsage(model, r.usage);
        checkMetadata(model, r.openrouterMetadata, metadata);

        messages.push({
          role: "assistant",
          content: null,
          toolCalls: [{ id: tc.id, type: "function", function: { name: tc.function.name, arguments: tc.function.arguments } }],
        });
        messages.push({ role: "tool", toolCallId: tc.id, content: JSON.stringify({ temp_c: 18 }) });
        const r2 = await send(model, metadata, { messages, tools: [WEATHER_TOOL] });
        assert.equal(r2.choices[0].finishReason, "stop");
        if (isFake(model)) assert.ok(r2.choices[0].message.content.includes("18"));
        else assert.ok(r2.choices[0].message.content);
        checkMetadata(model, r2.openrouterMetadata, metadata);
      });

      test("tools stream", async () => {
        const out = await call(async () =>
          collect(
            await send(model, metadata, {
              messages: [{ role: "user", content: "Weather in Paris?" }],
              tools: [WEATHER_TOOL],
              stream: true,
            }),
          ),
        );
        assert.equal(out.name, "get_weather");
        assert.deepEqual(JSON.parse(out.args), { city: "Paris" });
        assert.deepEqual(out.finish, ["tool_calls"]);
        checkUsage(model, out.usage);
        checkMetadata(model, out.metadata, metadata);
      });

      test("structured output", async () => {
        const r = await send(model, metadata, {
          messages: [{ role: "user", content: "Largest city in France?" }],
          responseFormat: { type: "json_schema", jsonSchema: { name: "city", strict: true, schema: CITY_SCHEMA } },
        });
        assert.deepEqual(JSON.parse(r.choices[0].message.content), { city: "Paris", population: 42 });
        checkUsage(model, r.usage);
        checkMetadata(model, r.openrouterMetadata, metadata);
      });
    });
  }
}
