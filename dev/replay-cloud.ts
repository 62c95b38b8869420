/**
 * A fake cloud on 127.0.0.1 that speaks the OpenAI Chat Completions API and answers AS the
 * recorded models of the routing data sets: for a prompt that is in a set, model X gets exactly
 * the answer X gave when the set was recorded. Lets the cloud client, the router and the
 * calibration command be tested end to end, offline, with real answers, plus injected faults.
 *
 *   npx tsx dev/replay-cloud.ts --data ../shared/data --port 8787 [--sets a,b]
 *       [--latency-ms 0] [--jitter-ms 0] [--fault 429] [--fault-rate 0.2 --faults 429,500] [--seed 1]
 *
 * Endpoints: POST /v1/chat/completions (JSON or SSE), GET /v1/models, GET /healthz.
 * Faults: option `fault` (every request), `faultRate` + `faults` (seeded random), or per request
 * the header `x-replay-fault: <fault>[; key=value...]` (wins over both; `none` disables):
 *   timeout        never answers; the socket is closed after `hangMs` (or `; ms=N`) so nothing leaks
 *   429            Retry-After: `retryAfterSeconds` (or `; retry-after=N`)
 *   500            server error JSON
 *   malformed-json 200 whose body is cut JSON (an SSE request gets a cut `data:` line, then [DONE])
 *   cut-stream     the SSE stream stops half-way without [DONE] and the socket closes
 *                  (a non-streaming request gets half its Content-Length, then the close)
 *   reset          the socket is destroyed before any byte is sent
 * Per-request latency: header `x-replay-latency-ms: N`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { createRng, type Rng } from '../src/core/random';
import {
  validateLocalChatRequest as validateChatRequest,
  type ChatCompletion,
  type ChatCompletionChunk,
  type LocalChatRequest as ChatCompletionRequest,
  type ChatMessage,
  type CompletionUsage,
} from '../src/common/openai';
import { loadReplaySets, recordedText, type ReplayItem, type ReplaySet } from './replay-data';

export const REPLAY_FAULTS = ['timeout', '429', '500', 'malformed-json', 'cut-stream', 'reset'] as const;
export type ReplayFault = (typeof REPLAY_FAULTS)[number];

/** Same rule of thumb as dev/data.ts: the recordings have no token counts. */
const CHARS_PER_TOKEN = 4;
/** Cap on a request body: the longest recorded prompt is ~10 kB; this is far above any real one. */
const MAX_BODY_BYTES = 4 * 1024 * 1024;

export interface ReplayCloudOptions {
  /** A data folder (../shared/data layout) or a sample .jsonl (test/fixtures/replay-sample.jsonl)… */
  readonly data?: string;
  /** …or sets already loaded (tests). */
  readonly sets?: readonly ReplaySet[];
  /** With `data`: only these sets. */
  readonly setNames?: readonly string[];
  /** 0 (default) = a free port. */
  readonly port?: number;
  /** Fixed delay before the first byte, ms. */
  readonly latencyMs?: number;
  /** Extra uniform random delay in [0, jitterMs), ms. */
  readonly jitterMs?: number;
  /** Delay between SSE chunks, ms (default 0). */
  readonly chunkDelayMs?: number;
  /** A fault for every request (the header still overrides it). */
  readonly fault?: ReplayFault;
  /** Share of requests in [0, 1] that get one of `faults`, drawn with the seeded RNG. */
  readonly faultRate?: number;
  readonly faults?: readonly ReplayFault[];
  /** Seed for jitter and random faults (default 1). */
  readonly seed?: number;
  /** Retry-After of a 429, seconds (default 1). */
  readonly retryAfterSeconds?: number;
  /** How long a 'timeout' request is held before its socket is closed, ms (default 30 000). */
  readonly hangMs?: number;
}

export interface ReplayStats {
  requests: number;
  /** Chat completions answered with a recorded response (JSON or a complete stream). */
  answered: number;
  streamed: number;
  /** Injected faults by kind. */
  faults: Record<ReplayFault, number>;
  /** Responses by HTTP status (faults without a status, timeout and reset, are not counted here). */
  status: Record<number, number>;
}

export interface ReplayCloud {
  /** Base URL of the API, e.g. http://127.0.0.1:8787/v1 (what an OpenAI client takes as baseURL). */
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  /** Live counters. */
  readonly stats: ReplayStats;
  /** Model ids that have recorded responses. */
  readonly models: readonly string[];
  /** Stops listening, clears every timer and destroys open connections; resolves in any case. */
  close(): Promise<void>;
}

interface Entry {
  readonly set: string;
  readonly item: ReplayItem;
}

interface FaultPlan {
  readonly fault: ReplayFault | undefined;
  readonly params: Readonly<Record<string, string>>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    readonly code: string | null,
    message: string,
  ) {
    super(message);
  }
}

function isFault(s: string): s is ReplayFault {
  return (REPLAY_FAULTS as readonly string[]).includes(s);
}

/** `429; retry-after=3` → { fault: '429', params: { 'retry-after': '3' } }. */
export function parseFaultHeader(value: string): FaultPlan | { error: string } {
  const [head = '', ...rest] = value.split(';').map((s) => s.trim());
  const params: Record<string, string> = {};
  for (const p of rest) {
    const eq = p.indexOf('=');
    if (eq > 0) params[p.slice(0, eq).trim().toLowerCase()] = p.slice(eq + 1).trim();
  }
  if (head === 'none' || head === '') return { fault: undefined, params };
  if (!isFault(head)) return { error: `x-replay-fault: unknown fault "${head}"; use none or one of ${REPLAY_FAULTS.join(', ')}` };
  return { fault: head, params };
}

function positiveNumber(raw: string | undefined, fallback: number): number {
  const n = raw === undefined ? NaN : Number(raw);
  return Number.isFinite(n) && n >= 0 ? n : fallback;
}

const estimateTokens = (text: string): number => Math.ceil(text.length / CHARS_PER_TOKEN);

/** Splits text into up to `n` pieces of about equal length (code points kept whole). */
export function splitDeltas(text: string, n = 6): string[] {
  const chars = Array.from(text);
  if (chars.length === 0) return [''];
  const count = Math.min(n, chars.length);
  const size = Math.ceil(chars.length / count);
  const out: string[] = [];
  for (let i = 0; i < chars.length; i += size) out.push(chars.slice(i, i + size).join(''));
  return out;
}

/**
 * Keys under which a request's prompt may be indexed: the last user message, then the simple
 * ways a client may have split the recorded prompt into a system and a user message.
 */
function lookupKeys(messages: readonly ChatMessage[]): string[] {
  const user = messages[messages.length - 1]!.content;
  const keys = [user.trim()];
  const system = messages[0]?.role === 'system' ? messages[0].content : undefined;
  if (system !== undefined) {
    for (const sep of ['\n\n', '\n', ' ', '']) keys.push(`${system}${sep}${user}`.trim());
  }
  if (messages.length > 2)
    keys.push(
      messages
        .map((m) => m.content)
        .join('\n\n')
        .trim(),
    );
  return [...new Set(keys)];
}

export async function startReplayCloud(options: ReplayCloudOptions): Promise<ReplayCloud> {
  const sets = options.sets ?? (options.data !== undefined ? await loadReplaySets(options.data, options.setNames) : undefined);
  if (!sets || sets.length === 0) throw new Error('startReplayCloud: give `data` (folder or sample file) or `sets`');
  for (const f of options.faults ?? []) if (!isFault(f)) throw new Error(`unknown fault "${String(f)}"`);
  if (options.fault !== undefined && !isFault(options.fault)) throw new Error(`unknown fault "${String(options.fault)}"`);
  const faultRate = options.faultRate ?? 0;
  if (!(faultRate >= 0 && faultRate <= 1)) throw new Error(`faultRate must be in [0, 1], got ${faultRate}`);
  if (faultRate > 0 && (options.faults ?? []).length === 0) throw new Error('faultRate needs a non-empty `faults` list');

  // Prompt text → every set item with that prompt (routerbench-mix repeats the two slices).
  const index = new Map<string, Entry[]>();
  const modelSets = new Map<string, string[]>();
  for (const s of sets) {
    for (const item of s.items) {
      const key = item.prompt.trim();
      const list = index.get(key) ?? [];
      list.push({ set: s.name, item });
      index.set(key, list);
      for (const m of Object.keys(item.responses)) {
        const names = modelSets.get(m) ?? [];
        if (!names.includes(s.name)) names.push(s.name);
        modelSets.set(m, names);
      }
    }
  }
  const models = [...modelSets.keys()].sort();
  const created = Math.floor(Date.now() / 1000);

  const rng: Rng = createRng(options.seed ?? 1);
  const stats: ReplayStats = {
    requests: 0,
    answered: 0,
    streamed: 0,
    status: {},
    faults: Object.fromEntries(REPLAY_FAULTS.map((f) => [f, 0])) as Record<ReplayFault, number>,
  };
  // Every pending delay, so close() can clear its timer and let its handler finish.
  const timers = new Map<NodeJS.Timeout, () => void>();
  const sockets = new Set<Socket>();
  let closing = false;
  let nextId = 1;

  /** Waits `ms` on a timer close() clears; resolves false when the request or server went away first. */
  const sleep = (ms: number, res: ServerResponse): Promise<boolean> =>
    new Promise((ok) => {
      if (ms <= 0 || closing || res.destroyed) return ok(!res.destroyed && !closing);
      const finish = (alive: boolean): void => {
        clearTimeout(t);
        timers.delete(t);
        res.off('close', onClose);
        ok(alive);
      };
      const onClose = (): void => finish(false);
      const t = setTimeout(() => finish(!res.destroyed && !closing), ms);
      timers.set(t, () => finish(false));
      res.once('close', onClose);
    });

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    stats.status[status] = (stats.status[status] ?? 0) + 1;
    const text = JSON.stringify(body);
    res
      .writeHead(status, {
        'Content-Type': 'application/json; charset=utf-8',
        'Content-Length': String(Buffer.byteLength(text)),
        ...headers,
      })
      .end(text);
  };

  const sendError = (res: ServerResponse, e: HttpError, headers: Record<string, string> = {}): void =>
    send(res, e.status, { error: { message: e.message, type: e.type, param: null, code: e.code } }, headers);

  const readBody = (req: IncomingMessage): Promise<string> =>
    new Promise((ok, fail) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY_BYTES) {
          fail(new HttpError(413, 'invalid_request_error', 'request_too_large', `request body over ${MAX_BODY_BYTES} bytes`));
          req.resume();
          return;
        }
        chunks.push(c);
      });
      req.on('end', () => ok(Buffer.concat(chunks).toString('utf8')));
      req.on('error', fail);
    });

  function parseRequest(text: string): ChatCompletionRequest & { model: string } {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (error) {
      throw new HttpError(400, 'invalid_request_error', 'invalid_json', `request body is not valid JSON: ${(error as Error).message}`);
    }
    try {
      validateChatRequest(body);
    } catch (error) {
      throw new HttpError(400, 'invalid_request_error', 'invalid_request', (error as Error).message);
    }
    if (body.model === undefined) throw new HttpError(400, 'invalid_request_error', 'missing_model', 'you must provide a `model`');
    return body as ChatCompletionRequest & { model: string };
  }

  function findRecording(request: ChatCompletionRequest & { model: string }): { entry: Entry; text: string } {
    const model = request.model;
    if (!modelSets.has(model)) {
      throw new HttpError(
        404,
        'invalid_request_error',
        'model_not_found',
        `The model \`${model}\` does not exist in this replay (recorded models: ${models.join(', ')}).`,
      );
    }
    const keys = lookupKeys(request.messages);
    for (const key of keys) {
      const entries = index.get(key);
      if (!entries) continue;
      // The first set that recorded this model on this prompt; duplicates across sets agree.
      const hit = entries.find((e) => e.item.responses[model] !== undefined);
      if (hit) return { entry: hit, text: recordedText(hit.item.responses[model]!) };
      throw new HttpError(
        404,
        'invalid_request_error',
        'prompt_not_found',
        `The prompt is in ${entries.map((e) => `${e.set}/${e.item.id}`).join(', ')}, but model \`${model}\` `
          + `has no recorded response there (it is recorded in: ${modelSets.get(model)!.join(', ')}).`,
      );
    }
    const last = request.messages[request.messages.length - 1]!.content.trim();
    throw new HttpError(
      404,
      'invalid_request_error',
      'prompt_not_found',
      `No recorded item has this prompt (${last.length} chars, starting ${JSON.stringify(last.slice(0, 60))}). `
        + 'The last user message must equal a data-set prompt (after trimming), optionally after a system message '
        + `joined to it; sets loaded: ${sets!.map((s) => s.name).join(', ')}.`,
    );
  }

  function pickFault(req: IncomingMessage): FaultPlan {
    const header = req.headers['x-replay-fault'];
    if (typeof header === 'string') {
      const plan = parseFaultHeader(header);
      if ('error' in plan) throw new HttpError(400, 'invalid_request_error', 'invalid_fault', plan.error);
      return plan;
    }
    if (faultRate > 0 && rng.next() < faultRate) {
      const list = options.faults!;
      return { fault: list[rng.int(list.length)], params: {} };
    }
    return { fault: options.fault, params: {} };
  }

  async function handleChat(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const plan = pickFault(req);
    const request = parseRequest(await readBody(req));
    const stream = request.stream === true;
    const latencyHeader = req.headers['x-replay-latency-ms'];
    const latency =
      typeof latencyHeader === 'string' ? positiveNumber(latencyHeader, 0) : (options.latencyMs ?? 0) + (options.jitterMs ? rng.next() * options.jitterMs : 0);

    const fault = plan.fault;
    if (fault !== undefined) stats.faults[fault]++;
    if (fault === 'reset') {
      req.socket.destroy();
      return;
    }
    if (fault === 'timeout') {
      // Hold the request without a byte, then drop the socket: the client's own timeout should fire first.
      await sleep(positiveNumber(plan.params['ms'], options.hangMs ?? 30_000), res);
      req.socket.destroy();
      return;
    }
    if (!(await sleep(latency, res))) return;
    if (fault === '429') {
      const after = positiveNumber(plan.params['retry-after'], options.retryAfterSeconds ?? 1);
      sendError(
        res,
        new HttpError(429, 'requests', 'rate_limit_exceeded', `Rate limit reached for ${request.model} (replay fault). Please try again in ${after}s.`),
        { 'Retry-After': String(after) },
      );
      return;
    }
    if (fault === '500') {
      sendError(res, new HttpError(500, 'server_error', null, 'The server had an error while processing your request (replay fault).'));
      return;
    }

    const { entry, text } = findRecording(request);
    const id = `chatcmpl-replay-${nextId++}`;
    const promptText = request.messages.map((m) => m.content).join('\n');
    const usage: CompletionUsage = {
      prompt_tokens: estimateTokens(promptText),
      completion_tokens: estimateTokens(text),
      total_tokens: estimateTokens(promptText) + estimateTokens(text),
    };
    const headers: Record<string, string> = { 'x-edgeroute-replay': `${entry.set}/${entry.item.id}` };
    const cost = entry.item.costs?.[request.model];
    if (cost !== undefined) headers['x-edgeroute-replay-cost'] = String(cost);

    if (!stream) {
      const completion: ChatCompletion = {
        id,
        object: 'chat.completion',
        created,
        model: request.model,
        choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop', logprobs: null }],
        usage,
      };
      if (fault === 'malformed-json' || fault === 'cut-stream') {
        const full = JSON.stringify(completion);
        const cut = full.slice(0, Math.max(1, Math.floor(full.length / 2)));
        stats.status[200] = (stats.status[200] ?? 0) + 1;
        if (fault === 'malformed-json') {
          res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', ...headers }).end(cut);
        } else {
          // Promise the whole body, send half, hang up: the client sees a truncated response.
          res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(Buffer.byteLength(full)), ...headers });
          res.write(cut, () => req.socket.destroy());
        }
        return;
      }
      stats.answered++;
      send(res, 200, completion, headers);
      return;
    }

    stats.status[200] = (stats.status[200] ?? 0) + 1;
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache',
      Connection: 'keep-alive',
      ...headers,
    });
    const chunk = (delta: ChatCompletionChunk['choices'][number]['delta'], finish: 'stop' | null): ChatCompletionChunk => ({
      id,
      object: 'chat.completion.chunk',
      created,
      model: request.model,
      choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
    });
    const events: string[] = [JSON.stringify(chunk({ role: 'assistant', content: '' }, null))];
    for (const piece of splitDeltas(text)) events.push(JSON.stringify(chunk({ content: piece }, null)));
    events.push(JSON.stringify(chunk({}, 'stop')));
    const wantUsage = (request as { stream_options?: { include_usage?: boolean } }).stream_options?.include_usage === true;
    if (wantUsage) {
      const last: ChatCompletionChunk = { id, object: 'chat.completion.chunk', created, model: request.model, choices: [], usage };
      events.push(JSON.stringify(last));
    }
    if (fault === 'malformed-json') events.splice(2, 0, events[1]!.slice(0, Math.floor(events[1]!.length / 2)));
    const stopAt = fault === 'cut-stream' ? Math.max(1, Math.floor(events.length / 2)) : events.length;
    for (let i = 0; i < stopAt; i++) {
      if (i > 0 && !(await sleep(options.chunkDelayMs ?? 0, res))) return;
      const last = fault === 'cut-stream' && i === stopAt - 1;
      // Cut: no [DONE], no final chunk; the socket closes once the last event has gone out.
      res.write(`data: ${events[i]}\n\n`, last ? () => req.socket.destroy() : undefined);
    }
    if (fault === 'cut-stream') return;
    stats.answered++;
    stats.streamed++;
    res.end('data: [DONE]\n\n');
  }

  const server = createServer((req, res) => {
    stats.requests++;
    const path = new URL(req.url ?? '/', 'http://localhost').pathname.replace(/\/+$/, '');
    const run = async (): Promise<void> => {
      if (path === '/healthz') {
        send(res, 200, { ok: true, sets: sets!.map((s) => ({ name: s.name, items: s.items.length })), models: models.length });
        return;
      }
      if (path === '/v1/models' && req.method === 'GET') {
        send(res, 200, {
          object: 'list',
          data: models.map((id) => ({ id, object: 'model', created, owned_by: `replay:${modelSets.get(id)!.join(',')}` })),
        });
        return;
      }
      if (path === '/v1/chat/completions') {
        if (req.method !== 'POST') {
          throw new HttpError(405, 'invalid_request_error', 'method_not_allowed', `use POST for ${path}`);
        }
        await handleChat(req, res);
        return;
      }
      throw new HttpError(404, 'invalid_request_error', 'unknown_url', `Unknown request URL: ${req.method ?? 'GET'} ${path}`);
    };
    run().catch((error: unknown) => {
      if (res.headersSent || res.destroyed) return;
      if (error instanceof HttpError) sendError(res, error);
      else sendError(res, new HttpError(500, 'server_error', null, `replay server bug: ${(error as Error)?.message ?? String(error)}`));
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', fail);
      ok();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  let closed: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    port,
    server,
    stats,
    models,
    close: () => {
      closed ??= new Promise<void>((ok) => {
        closing = true;
        for (const cancel of [...timers.values()]) cancel();
        server.close(() => ok());
        // Held 'timeout' requests and keep-alive sockets would otherwise keep close() waiting.
        for (const s of sockets) s.destroy();
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

function parseList(raw: string | undefined): string[] {
  return raw
    ? raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : [];
}

async function main(argv: readonly string[]): Promise<void> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      data: { type: 'string', default: '../shared/data' },
      sets: { type: 'string' },
      port: { type: 'string', default: '8787' },
      'latency-ms': { type: 'string', default: '0' },
      'jitter-ms': { type: 'string', default: '0' },
      'chunk-delay-ms': { type: 'string', default: '0' },
      fault: { type: 'string' },
      'fault-rate': { type: 'string', default: '0' },
      faults: { type: 'string' },
      seed: { type: 'string', default: '1' },
      'retry-after': { type: 'string', default: '1' },
      'hang-ms': { type: 'string', default: '30000' },
    },
  });
  const fault = values.fault;
  if (fault !== undefined && !isFault(fault)) throw new Error(`--fault: unknown fault "${fault}" (${REPLAY_FAULTS.join(', ')})`);
  const faults = parseList(values.faults);
  const bad = faults.filter((f) => !isFault(f));
  if (bad.length > 0) throw new Error(`--faults: unknown ${bad.join(', ')} (${REPLAY_FAULTS.join(', ')})`);
  const cloud = await startReplayCloud({
    data: values.data,
    setNames: parseList(values.sets),
    port: Number(values.port),
    latencyMs: Number(values['latency-ms']),
    jitterMs: Number(values['jitter-ms']),
    chunkDelayMs: Number(values['chunk-delay-ms']),
    ...(fault !== undefined ? { fault } : {}),
    faultRate: Number(values['fault-rate']),
    faults: faults as ReplayFault[],
    seed: Number(values.seed),
    retryAfterSeconds: Number(values['retry-after']),
    hangMs: Number(values['hang-ms']),
  });
  console.log(`replay cloud on ${cloud.url} — ${cloud.models.length} models from ${values.data}`);
  console.log(`  curl ${cloud.url}/models`);
  const stop = (): void => {
    console.log(`\nstats: ${JSON.stringify(cloud.stats)}`);
    void cloud.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    console.error(`replay-cloud: ${(error as Error)?.message ?? String(error)}`);
    process.exit(1);
  });
}
