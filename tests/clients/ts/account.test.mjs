// Generation lookup, the current key, keys CRUD, credits and activity with @openrouter/sdk.
// Each SDK call has its own test: what it needs first (a key to read, update or delete) is
// set up over plain HTTP, so one call's failure hides no other's.
import assert from "node:assert/strict";
import {
  SERVERS, TARGETS, call, client, errors, modelsOf, newKey, raw, retryNotFound, server, serverOf, unique, describe, test,
} from "./helpers.mjs";

describe("generation", () => {
  for (const model of TARGETS) {
    test(model, async () => {
      const orc = client(serverOf(model));
      const r = await call(() =>
        orc.chat.send({ chatRequest: { model, messages: [{ role: "user", content: "look me up" }] } }),
      );
      const g = await retryNotFound(() => orc.generations.getGeneration({ id: r.id }));
      assert.equal(g.data.id, r.id);
      assert.equal(g.data.model, model);
      assert.equal(g.data.tokensPrompt, r.usage.promptTokens);
      assert.equal(g.data.tokensCompletion, r.usage.completionTokens);
      assert.equal(g.data.totalCost, r.usage.cost);
    });
  }
});

for (const name of SERVERS) {
  describe(`account ${name}`, () => {
    const srv = server(name);
    const mgmt = () => client(srv, srv.management_key);

    test("current key (inference)", async () => {
      const r = await call(() => client(srv).apiKeys.getCurrentKeyMetadata());
      assert.equal(r.data.isManagementKey, false);
    });

    test("current key (management)", async () => {
      const r = await call(() => mgmt().apiKeys.getCurrentKeyMetadata());
      assert.equal(r.data.isManagementKey, true);
    });

    test("current key (a created key with a limit)", async () => {
      const { key } = await newKey(srv, unique("sdk-ts-own"), { limit: 1.5 });
      const r = await call(() => client(srv, key).apiKeys.getCurrentKeyMetadata());
      assert.equal(r.data.isManagementKey, false);
      assert.equal(r.data.limit, 1.5);
    });

    test("keys create", async () => {
      const keyName = unique("sdk-ts-create");
      const created = await call(() => mgmt().apiKeys.create({ requestBody: { name: keyName, limit: 1.5 } }));
      assert.ok(created.key);
      assert.equal(created.data.name, keyName);
      assert.equal(created.data.limit, 1.5);
      const stored = await raw(srv, "GET", `/keys/${created.data.hash}`, { key: srv.management_key });
      assert.equal(stored.data.name, keyName);
    });

    test("keys get", async () => {
      const keyName = unique("sdk-ts-get");
      const { hash } = await newKey(srv, keyName);
      const r = await call(() => mgmt().apiKeys.get({ hash }));
      assert.equal(r.data.hash, hash);
      assert.equal(r.data.name, keyName);
    });

    test("keys list", async () => {
      const live = (await newKey(srv, unique("sdk-ts-list"))).hash;
      const off = (await newKey(srv, unique("sdk-ts-list-disabled"))).hash;
      await raw(srv, "PATCH", `/keys/${off}`, { key: srv.management_key, body: { disabled: true } });
      const listed = (await call(() => mgmt().apiKeys.list())).data.map((k) => k.hash);
      assert.ok(listed.includes(live));
      assert.ok(!listed.includes(off));
      const all = (await call(() => mgmt().apiKeys.list({ includeDisabled: true }))).data.map((k) => k.hash);
      assert.ok(all.includes(off));
    });

    test("keys update", async () => {
      const keyName = unique("sdk-ts-update");
      const { hash } = await newKey(srv, keyName);
      const r = await call(() =>
        mgmt().apiKeys.update({ hash, requestBody: { name: `${keyName}-renamed`, disabled: true } }),
      );
      assert.equal(r.data.name, `${keyName}-renamed`);
      assert.equal(r.data.disabled, true);
    });

    test("keys delete", async () => {
      const { hash } = await newKey(srv, unique("sdk-ts-delete"));
      const r = await call(() => mgmt().apiKeys.delete({ hash }));
      assert.equal(r.deleted, true);
      await assert.rejects(() => mgmt().apiKeys.get({ hash }), errors.NotFoundResponseError);
    });

    test("credits", async () => {
      const r = await call(() => mgmt().credits.getCredits());
      assert.ok(r.data.totalCredits >= 0 && r.data.totalUsage >= 0, JSON.stringify(r.data));
    });

    test("activity", async () => {
      const model = modelsOf(name)[0];
      await raw(srv, "POST", "/chat/completions", {
        body: { model, messages: [{ role: "user", content: "count me" }] },
      });
      // The ledger records the call shortly after the answer.
      const deadline = Date.now() + 10_000;
      let rows, mine;
      for (;;) {
        rows = (await call(() => mgmt().analytics.getUserActivity())).data;
        mine = rows.filter((row) => row.model === model);
        if (mine.length || Date.now() > deadline) break;
        await new Promise((res) => setTimeout(res, 100));
      }
      assert.ok(mine.length, `no activity row for ${model}: ${JSON.stringify(rows)}`);
      assert.ok(mine[0].requests >= 1 && mine[0].promptTokens > 0);
    });
  });
}
