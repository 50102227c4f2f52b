// Drives `tailor serve` with the official openai npm package (the version
// pinned in package.json): model list, chat completions whole and streamed
// (with usage), text completions, and the SDK's error classes for an unknown
// model and a wrong API key. Exits 0 when every check passes.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const program = process.env.TAILOR_PROGRAM;
const model = `${process.env.TAILOR_TEST_DATA}/models/stories260K.gguf`;
const key = 'compat-key';

const server = spawn(program, ['serve', model, '--port', '0', '--api-key', key,
  '--chat-template', 'chatml', '-c', '512', '-np', '2', '-t', '1'],
  { stdio: ['ignore', 'pipe', 'inherit'] });
const port = await new Promise((resolve, reject) => {
  const rl = createInterface({ input: server.stdout });
  rl.once('line', (line) => resolve(Number(line.slice(line.lastIndexOf(':') + 1))));
  server.once('exit', (code) => reject(new Error(`tailor serve exited with ${code}`)));
});
const baseURL = `http://127.0.0.1:${port}/v1`;

async function ready() {
  for (let i = 0; i < 500; i++) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/health`);
      if (r.status === 200) return;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('the server never became ready');
}

let failed = false;
try {
  await ready();
  const client = new OpenAI({ apiKey: key, baseURL, maxRetries: 0 });

  const models = await client.models.list();
  const ids = [];
  for await (const m of models) ids.push(m.id);
  assert.deepEqual(ids, ['stories260K']);

  const messages = [{ role: 'user', content: 'Tell me a story' }];
  const whole = await client.chat.completions.create({
    model: 'stories260K', messages, max_tokens: 12, temperature: 0,
  });
  assert.equal(whole.object, 'chat.completion');
  assert.equal(whole.choices[0].message.role, 'assistant');
  assert.equal(typeof whole.choices[0].message.content, 'string');
  assert.ok(['stop', 'length'].includes(whole.choices[0].finish_reason));
  assert.equal(whole.usage.total_tokens, whole.usage.prompt_tokens + whole.usage.completion_tokens);

  const stream = await client.chat.completions.create({
    model: 'stories260K', messages, max_tokens: 12, temperature: 0, stream: true,
    stream_options: { include_usage: true },
  });
  let text = '';
  let usage = null;
  let finish = null;
  for await (const chunk of stream) {
    if (chunk.choices.length) {
      text += chunk.choices[0].delta.content ?? '';
      finish = chunk.choices[0].finish_reason ?? finish;
    }
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(text, whole.choices[0].message.content);
  assert.equal(finish, whole.choices[0].finish_reason);
  assert.equal(usage.completion_tokens, whole.usage.completion_tokens);

  const cmpl = await client.completions.create({
    model: 'stories260K', prompt: 'Once upon a time', max_tokens: 8, temperature: 0,
  });
  assert.equal(cmpl.object, 'text_completion');
  assert.ok(cmpl.choices[0].text.length > 0);

  await assert.rejects(
    client.chat.completions.create({ model: 'no-such-model', messages }),
    (e) => e instanceof OpenAI.NotFoundError && e.status === 404 && e.code === 'model_not_found');
  const wrong = new OpenAI({ apiKey: 'wrong', baseURL, maxRetries: 0 });
  await assert.rejects(wrong.models.list(),
    (e) => e instanceof OpenAI.AuthenticationError && e.status === 401);
  await assert.rejects(
    client.chat.completions.create({ model: 'stories260K', messages, max_tokens: 'ten' }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'max_tokens');
  console.log(`openai ${OpenAI.VERSION ?? ''}: all checks passed`);
} catch (e) {
  console.error(e);
  failed = true;
}
server.kill('SIGTERM');
const code = await new Promise((resolve) => server.once('exit', (c) => resolve(c)));
if (code !== 0) {
  console.error(`tailor serve exited with ${code} after SIGTERM`);
  failed = true;
}
process.exit(failed ? 1 : 0);
