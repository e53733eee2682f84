// Embeddings with @openrouter/sdk against each provider family that has an embeddings API
// (Anthropic has none) and the demo.
import assert from "node:assert/strict";
import { CONFIG, call, client, server, describe, test } from "./helpers.mjs";

describe("embeddings", () => {
  for (const model of CONFIG.embedding_targets) {
    test(model, async () => {
      const r = await call(() =>
        client(server(CONFIG.embedding_servers[model])).embeddings.generate({ requestBody: { model, input: ["first text", "second text"] } }),
      );
      assert.equal(typeof r, "object", String(r));
      assert.deepEqual(r.data.map((d) => d.index), [0, 1]);
      for (const d of r.data) assert.ok(Array.isArray(d.embedding) && d.embedding.length > 0);
      assert.ok(r.usage.promptTokens > 0);
    });
  }
});
