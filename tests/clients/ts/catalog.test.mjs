// Models list / count / user, a model's endpoints, ZDR endpoints and providers with
// @openrouter/sdk, on each gateway (fake providers and demo).
import assert from "node:assert/strict";
import { CONFIG, SERVERS, TARGETS, call, client, modelsOf, raw, server, serverOf, describe, test } from "./helpers.mjs";

for (const name of SERVERS) {
  describe(`catalog ${name}`, () => {
    const srv = server(name);

    test("models list", async () => {
      const page = await call(() => client(srv).models.list());
      const ids = page.result.data.map((m) => m.id);
      for (const m of modelsOf(name)) assert.ok(ids.includes(m), `${m} not in ${ids}`);
    });

    test("models count", async () => {
      const r = await call(() => client(srv).models.count());
      assert.equal(r.data.count, (await raw(srv, "GET", "/models")).data.length);
    });

    test("models user", async () => {
      const page = await call(() => client(srv).models.listForUser({ bearer: srv.key }));
      const ids = page.result.data.map((m) => m.id);
      for (const m of modelsOf(name)) assert.ok(ids.includes(m), `${m} not in ${ids}`);
    });

    test("endpoints zdr", async () => {
      const r = await call(() => client(srv).endpoints.listZdrEndpoints());
      if (name === "demo") {
        // Every simulated provider is ZDR (catalog/demo.toml).
        const ids = new Set(r.data.map((e) => e.modelId));
        for (const m of modelsOf(name)) assert.ok(ids.has(m), `${m} not ZDR`);
      }
    });

    test("providers", async () => {
      const r = await call(() => client(srv).providers.list());
      const names = new Set(r.data.map((p) => p.name));
      for (const m of modelsOf(name)) {
        for (const [provider] of CONFIG.prices[m]) assert.ok(names.has(provider), `${provider} not listed`);
      }
    });
  });
}

describe("model endpoints", () => {
  for (const model of TARGETS) {
    test(model, async () => {
      const [author, slug] = model.split("/");
      const r = await call(() => client(serverOf(model)).endpoints.list({ author, slug }));
      assert.equal(r.data.id, model);
      assert.deepEqual(
        r.data.endpoints.map((e) => e.providerName),
        CONFIG.prices[model].map(([provider]) => provider),
      );
    });
  }
});
