// Shared by the @openrouter/sdk conformance tests. The servers are started by pytest
// (tests/clients/conftest.py); tests/clients/test_typescript_sdk.py runs `node --test` here
// (one pytest test per node test) with SWITCHYARD_SDK_CONFIG, a JSON object:
//   { "servers": { "gateway": {base_url, key, management_key}, "demo": {...} },
//     "targets": { "<model id>": "<server name>" },
//     "prices":  { "<model id>": [[provider name, prompt price, completion price], ...] },
//     "fakes":   ["fake/gpt", ...],
//     "embedding_targets": [...] }
import assert from "node:assert/strict";
import * as nodeTest from "node:test";
import { OpenRouter } from "@openrouter/sdk";
import * as errors from "@openrouter/sdk/models/errors";

const configText = process.env.SWITCHYARD_SDK_CONFIG;
if (!configText) {
  throw new Error(
    "SWITCHYARD_SDK_CONFIG is not set: run these tests through pytest " +
      "(python -m pytest tests/clients/test_typescript_sdk.py), which starts the gateways",
  );
}
export const CONFIG = JSON.parse(configText);
export const SERVERS = Object.keys(CONFIG.servers);
export const TARGETS = Object.keys(CONFIG.targets);
export { errors };

// `describe` and `test` for the test files: node's, or with SWITCHYARD_SDK_LIST=1 (how pytest
// collects one test per node test) stand-ins that print each test's full name, one JSON
// string a line, as "<describe> > <test>" (the names node's junit report gives), and run none.
const LIST = process.env.SWITCHYARD_SDK_LIST === "1";
const suites = [];
export function describe(name, fn) {
  if (!LIST) return nodeTest.describe(name, fn);
  suites.push(name);
  try {
    fn();
  } finally {
    suites.pop();
  }
}
export function test(name, fn) {
  if (!LIST) return nodeTest.test(name, fn);
  process.stdout.write(`${JSON.stringify([...suites, name].join(" > "))}\n`);
}

export const server = (name) => CONFIG.servers[name];
export const serverOf = (model) => server(CONFIG.targets[model]);
export const modelsOf = (name) => TARGETS.filter((m) => CONFIG.targets[m] === name);
export const isFake = (model) => CONFIG.fakes.includes(model);

/** A client with no retries: a failure must show, not be retried for an hour. */
export function client(srv, key) {
  return new OpenRouter({
    apiKey: key ?? srv.key,
    serverURL: srv.base_url,
    retryConfig: { strategy: "none" },
  });
}

/** Zod issues as `path: message` lines. A union (the SDK parses a chat answer as "ChatResult
 * or event stream") is opened up: the branches that fail only as a whole (the wrong kind of
 * answer) are dropped, so what shows is why the right branch rejected the body. */
export function issues(list, prefix = []) {
  const out = [];
  for (const i of list ?? []) {
    const path = [...prefix, ...(i.path ?? [])];
    if (i.code === "invalid_union" && Array.isArray(i.errors)) {
      const branches = i.errors.filter((b) => !(b.length === 1 && b[0].code === "custom" && !b[0].path?.length));
      const flat = branches.map((b) => issues(b, path));
      if (branches.length > 1 && flat.every((b) => b.length === 1 && b[0].startsWith(`${path.join(".") || "(body)"}: `))) {
        // One field, several accepted shapes (an enum open to unknown strings, say): one line.
        const cut = (l) => l.slice(l.indexOf(": ") + 2).replace(/^Invalid input: /, "");
        out.push(`${path.join(".") || "(body)"}: none of the accepted shapes: ${flat.map((b) => cut(b[0])).join(" | ")}`);
        continue;
      }
      if (branches.length) {
        branches.forEach((b, n) => {
          if (branches.length > 1) out.push(`${path.join(".") || "(body)"}: union branch ${n + 1}:`);
          out.push(...issues(b, path).map((l) => (branches.length > 1 ? `  ${l}` : l)));
        });
        continue;
      }
    }
    out.push(`${path.join(".") || "(body)"}: ${i.message}`);
  }
  return out;
}

/** An error whose report is its message alone (the SDK's own errors carry nested errors and
 * stacks that would bury the one line that matters). */
function short(message) {
  const e = new Error(message);
  e.stack = message;
  return e;
}

/** What the SDK threw, as one readable error: a ResponseValidationError (a JSON answer the
 * schema rejected) or a bare ZodError (a streamed chunk, which the SDK does not wrap) with
 * each offending field and the start of the body; an HTTP error with its status and body. */
export function explain(e) {
  if (e instanceof errors.ResponseValidationError) {
    const body = typeof e.body === "string" ? e.body : JSON.stringify(e.rawValue);
    const why = e.cause?.issues ? issues(e.cause.issues) : [e.pretty()];
    return short(`ResponseValidationError:\n  ${why.join("\n  ")}\n  body: ${String(body).slice(0, 400)}`);
  }
  if (e instanceof errors.OpenRouterError) {
    return short(`${e.name}: HTTP ${e.statusCode}: ${String(e.body).slice(0, 300)}`);
  }
  if (e?.name === "ZodError" || Array.isArray(e?.issues)) {
    return short(`stream chunk rejected by the SDK's schema (ZodError):\n  ${issues(e.issues).join("\n  ")}`);
  }
  return e;
}

/** Runs an SDK call; any failure is rethrown through `explain`. */
export async function call(fn) {
  try {
    return await fn();
  } catch (e) {
    throw explain(e);
  }
}

export const WEATHER_TOOL = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Current weather in a city",
    parameters: {
      type: "object",
      properties: { city: { type: "string" } },
      required: ["city"],
    },
  },
};

export const CITY_SCHEMA = {
  type: "object",
  properties: { city: { type: "string" }, population: { type: "integer" } },
  required: ["city", "population"],
  additionalProperties: false,
};

export function checkText(model, prompt, text) {
  if (isFake(model)) assert.equal(text, `Echo: ${prompt}`);
  else assert.ok(text.startsWith("(Simulated answer from "), text);
}

/** Usage priced at one of the model's endpoints (the fakes have one; the demo routes to the
 * first that answers). Costs are JS numbers here, so compared to 1e-9 relative. */
export function checkUsage(model, usage) {
  assert.ok(usage, "no usage");
  assert.ok(usage.promptTokens > 0 && usage.completionTokens > 0, JSON.stringify(usage));
  assert.equal(usage.totalTokens, usage.promptTokens + usage.completionTokens);
  const priced = CONFIG.prices[model].map(
    ([, p, c]) => Number(p) * usage.promptTokens + Number(c) * usage.completionTokens,
  );
  assert.ok(
    priced.some((x) => Math.abs(x - usage.cost) <= 1e-9 * Math.max(x, 1e-12)),
    `cost ${usage.cost} is none of ${priced}`,
  );
}

export function checkMetadata(model, meta, enabled) {
  if (!enabled) {
    assert.equal(meta, undefined);
    return;
  }
  assert.ok(meta, "X-OpenRouter-Metadata: enabled but no openrouter_metadata");
  assert.equal(meta.requested, model);
  assert.ok(meta.attempt >= 1);
}

/** Reads a stream to its end. */
export async function collect(stream) {
  const out = { text: "", finish: [], usage: undefined, metadata: undefined, name: "", args: "", ids: new Set() };
  for await (const chunk of stream) {
    out.ids.add(chunk.id);
    if (chunk.openrouterMetadata) out.metadata = chunk.openrouterMetadata;
    if (chunk.usage) out.usage = chunk.usage;
    for (const choice of chunk.choices ?? []) {
      out.text += choice.delta?.content ?? "";
      for (const tc of choice.delta?.toolCalls ?? []) {
        assert.equal(tc.index, 0);
        out.name += tc.function?.name ?? "";
        out.args += tc.function?.arguments ?? "";
      }
      if (choice.finishReason) out.finish.push(choice.finishReason);
    }
  }
  return out;
}

/** The generation record and activity are written by the ledger shortly after the answer:
 * retries a lookup that answers 404 (any other error, a validation error above all, fails). */
export async function retryNotFound(fn, seconds = 10) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (!(e instanceof errors.NotFoundResponseError) || Date.now() > deadline) throw explain(e);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** A plain HTTP call (no SDK, no validation), for setting up what a test needs. */
export async function raw(srv, method, path, { key, body } = {}) {
  const r = await fetch(srv.base_url + path, {
    method,
    headers: { Authorization: `Bearer ${key ?? srv.key}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
  return JSON.parse(text);
}

/** Creates a key over plain HTTP: { hash, key }. */
export async function newKey(srv, name, fields = {}) {
  const r = await raw(srv, "POST", "/keys", { key: srv.management_key, body: { name, ...fields } });
  return { hash: r.data.hash, key: r.key };
}

let counter = 0;
export const unique = (prefix) => `${prefix}-${process.pid}-${Date.now()}-${counter++}`;
