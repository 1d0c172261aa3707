// A local model provider for benchmarks that run Parley with a language model and a spend budget: it speaks the
// OpenAI Chat Completions streaming wire format (SSE `data:` chunks, a usage chunk, `[DONE]`) and answers every
// request the same way, so that each run makes a fixed number of calls at a fixed reported usage.
//
//   node bench/model-server.mjs [--port 0] [--calls 2] [--prompt-tokens 1000] [--completion-tokens 200]
//                               [--delay-ms 0] [--no-usage]
//
// It prints `model-server listening on http://127.0.0.1:<port>/v1` once ready. A run's first calls-1 calls ask for
// the price_catalog tool, the last one answers in text; which call of its run a request is comes from the tool
// results it carries, so any number of runs can share the server. --delay-ms pauses each stream after its first
// chunk (a model that takes its time); --no-usage leaves out the usage chunk, as some OpenAI-compatible servers do.
// Point Parley at it with PARLEY_LLM_PROVIDER=openai, PARLEY_LLM_API_KEY=<anything>, PARLEY_LLM_MODEL=gpt-4o-mini
// (priced by the bundled catalog) and PARLEY_LLM_BASE_URL=<the printed URL>.
import http from 'node:http';

// Standalone (no dependencies): `--name value` or a bare `--flag`.
const args = {};
for (let i = 2; i < process.argv.length; i++) {
  const name = process.argv[i].replace(/^--/, '');
  args[name] = i + 1 < process.argv.length && !process.argv[i + 1].startsWith('--') ? process.argv[++i] : true;
}

function num(all, name, fallback) {
  const value = all[name] === undefined ? fallback : Number(all[name]);
  if (!Number.isFinite(value)) {
    throw new Error(`--${name} must be a number, not '${all[name]}'`);
  }
  return value;
}

const calls = num(args, 'calls', 2);
const promptTokens = num(args, 'prompt-tokens', 1000);
const completionTokens = num(args, 'completion-tokens', 200);
const delayMs = num(args, 'delay-ms', 0);
const usage = !args['no-usage'];
const MODEL = 'gpt-4o-mini';

function chunk(choices, usageJson) {
  return `data: ${JSON.stringify({
    id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 1764300000, model: MODEL, choices, usage: usageJson,
  })}\n\n`;
}

function delta(content, finish) {
  return chunk([{ index: 0, delta: content, finish_reason: finish }], null);
}

const server = http.createServer((request, response) => {
  const parts = [];
  request.on('data', (part) => parts.push(part));
  request.on('end', async () => {
    let body = {};
    try {
      body = JSON.parse(Buffer.concat(parts).toString('utf8'));
    } catch {
      response.writeHead(400, { 'Content-Type': 'application/json' });
      response.end('{"error":{"message":"the body is not JSON","type":"invalid_request_error"}}');
      return;
    }
    const toolResults = (body.messages || []).filter((message) => message.role === 'tool').length;
    response.writeHead(200, { 'Content-Type': 'text/event-stream' });
    const toolCall = toolResults < calls - 1;
    response.write(delta(toolCall ? { role: 'assistant', content: null } : { role: 'assistant', content: 'Your spend ' },
      null));
    if (delayMs > 0) {
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
    if (toolCall) {
      response.write(delta({
        tool_calls: [{
          index: 0, id: `call_${toolResults}`, type: 'function',
          function: { name: 'price_catalog', arguments: JSON.stringify({ models: [MODEL] }) },
        }],
      }, null));
      response.write(delta({}, 'tool_calls'));
    } else {
      response.write(delta({ content: 'is mostly on gpt-4o-mini.' }, null));
      response.write(delta({}, 'stop'));
    }
    if (usage) {
      response.write(chunk([], {
        prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens,
      }));
    }
    response.end('data: [DONE]\n\n');
  });
});

server.listen(num(args, 'port', 0), '127.0.0.1', () => {
  console.log(`model-server listening on http://127.0.0.1:${server.address().port}/v1`);
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
