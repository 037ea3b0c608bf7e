// serve-openai-check.mjs — drives `joule serve` with the official `openai` npm client:
// completions, chat, streaming, echo logprobs, concurrent greedy requests, and an error.
// Usage: node serve-openai-check.mjs BASE_URL MODEL_ID, with `openai` in node_modules beside it
// Exits non-zero with a message on the first check that fails.
import { createRequire } from "node:module";
import assert from "node:assert/strict";

const require = createRequire(import.meta.url);
const OpenAI = require("openai").default;
const [base, model] = process.argv.slice(2);
if (!base || !model) {
  console.error("usage: node serve-openai-check.mjs BASE_URL MODEL_ID");
  process.exit(2);
}
const client = new OpenAI({ baseURL: base, apiKey: process.env.JOULE_API_KEY || "none", maxRetries: 0 });

function checkUsage(u) {
  assert.ok(u && Number.isInteger(u.prompt_tokens) && Number.isInteger(u.completion_tokens), "usage tokens");
  assert.equal(typeof u.energy_joules, "number", "usage.energy_joules");
  assert.ok(u.energy_joules >= 0);
  assert.ok(["counter", "power-integrated", "estimate"].includes(u.energy_source), "energy_source");
}

const models = await client.models.list();
assert.equal(models.data[0].id, model, "/v1/models lists the model");

// completions: whole and streamed give the same greedy text
const prompt = "Once upon a time";
const whole = await client.completions.create({ model, prompt, max_tokens: 16, temperature: 0 });
assert.equal(whole.choices.length, 1);
checkUsage(whole.usage);
let streamed = "", last = null;
for await (const ev of await client.completions.create({ model, prompt, max_tokens: 16, temperature: 0, stream: true })) {
  streamed += ev.choices[0].text;
  last = ev;
}
assert.equal(streamed, whole.choices[0].text, "stream = whole");
assert.ok(last.choices[0].finish_reason, "last event has finish_reason");
checkUsage(last.usage);

// chat, whole and streamed
const messages = [{ role: "system", content: "Be brief." }, { role: "user", content: "Hello" }];
const chat = await client.chat.completions.create({ model, messages, max_tokens: 12, temperature: 0 });
assert.equal(chat.choices[0].message.role, "assistant");
checkUsage(chat.usage);
let chatText = "";
for await (const ev of await client.chat.completions.create({ model, messages, max_tokens: 12, temperature: 0, stream: true }))
  chatText += ev.choices[0]?.delta?.content ?? "";
assert.equal(chatText, chat.choices[0].message.content, "chat stream = whole");

// echo + logprobs with max_tokens 0 (how lm-eval's local-completions scores a text)
const lp = await client.completions.create({ model, prompt: [1, 45, 211, 338], max_tokens: 0, echo: true, logprobs: 1 });
const l = lp.choices[0].logprobs;
assert.equal(l.token_logprobs.length, 4);
assert.equal(l.token_logprobs[0], null);
for (const x of l.token_logprobs.slice(1)) assert.ok(x <= 0, "a logprob is <= 0");

// 8 at once: each greedy text equals the same request alone
const prompts = Array.from({ length: 8 }, (_, i) => `Request ${i}: the story of`);
const alone = [];
for (const p of prompts) alone.push((await client.completions.create({ model, prompt: p, max_tokens: 10, temperature: 0 })).choices[0].text);
const together = await Promise.all(prompts.map((p) => client.completions.create({ model, prompt: p, max_tokens: 10, temperature: 0 })));
together.forEach((r, i) => assert.equal(r.choices[0].text, alone[i], `concurrent ${i}`));

// a bad request is an APIError with its status; the server still answers
await assert.rejects(client.completions.create({ model, prompt: "x", max_tokens: -1 }), (e) => e.status === 400);
await assert.rejects(client.completions.create({ model: "no-such-model", prompt: "x" }), (e) => e.status === 404);
const after = await client.models.list();
assert.equal(after.data.length, 1);
console.log("serve-openai-check: ok (models, completions, stream, chat, chat stream, echo logprobs, 8 concurrent, errors)");
