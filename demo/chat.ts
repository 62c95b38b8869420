/**
 * The chat tab. Each answer streams in and carries a route label (on device / sent to the cloud
 * before generating / escalated on low confidence, in words and an icon, not colour alone),
 * who answered in plain words (a recorded Llama-3.2-1B answer, the repo's tiny test model, a
 * recorded or live cloud answer), ✓/✗ against the reference for recorded prompts, the local
 * confidence, cost and latency. The tally compares quality and cost with always calling the
 * best cloud model. Stop aborts the request and marks the answer "Stopped".
 */
import { raceAbort } from '../src/common/abort';
import { EdgeRouteError, errorCode } from '../src/common/errors';
import type { RoutedChunk, RoutingReport } from 'edgeroute';
import type { DemoRouter } from './demo-router';
import { RECORDED_LOCAL_ID } from './demo-router';
import { byId, errorText, h, usd } from './dom';
import { describeAnswer, exampleTitle, type DemoExample, type ExampleBook } from './examples';
import { addAnswer, describeTotals, NO_SAVINGS, type SavingsTotals } from './savings';
import type { DemoCloudModel } from './settings';

export interface ChatContext {
  /** The current router (it changes when settings are applied). */
  router(): Promise<DemoRouter>;
  /** The best configured cloud model, the baseline. */
  bestCloud(): DemoCloudModel | undefined;
  /** The profile id the local model answers under, if there is one. */
  localId(): string | undefined;
  /** The local engine's model name (for a typed question's label). */
  localEngine(): string | undefined;
  maxTokens(): number;
  /** The recorded prompts, once loaded. */
  book(): Promise<ExampleBook | undefined>;
  /** True when the cloud is the in-page replay cloud. */
  replayCloud(): boolean;
}

export type Route = 'local' | 'cloud' | 'escalated';

export function routeOf(r: RoutingReport, localId: string | undefined): Route {
  if (r.escalated && r.model !== localId) return 'escalated';
  return r.model === localId ? 'local' : 'cloud';
}

const ROUTE_TEXT: Record<Route, (model: string) => string> = {
  local: () => '⌂ On device',
  cloud: (model) => `☁ Cloud · ${model}, sent before generating`,
  escalated: (model) => `↑ Escalated: low confidence → ${model}`,
};

/** Who wrote the answer, in words: never the test model under Llama's name. */
export function answeredBy(
  r: RoutingReport,
  route: Route,
  recorded: DemoExample | undefined,
  replayedLocal: boolean,
  replayCloud: boolean,
  engine: string | undefined,
): string {
  if (route === 'local' || r.degraded) {
    if (replayedLocal)
      return `Recorded Llama-3.2-1B answer (${recorded?.set ?? 'cascade set'}), confidence ${r.localConfidence?.toFixed(2) ?? '—'} (log-prob of its answer)`;
    return `The repo's tiny test model${engine ? ` (${engine})` : ''} ran on this device: ~1M parameters, routed as Llama-3.2-1B but not Llama, so its text is not meant to be a good answer`;
  }
  return replayCloud ? `Recorded ${r.model} answer (replay cloud)` : `${r.model} via your endpoint`;
}

function metaLine(r: RoutingReport, spentUsd: number): string {
  const parts: string[] = [];
  if (r.localConfidence !== undefined) parts.push(`local confidence ${r.localConfidence.toFixed(2)}`);
  if (r.escalationRule !== undefined && r.escalationRule !== 'threshold' && r.localError !== undefined) {
    parts.push(`${r.escalationRule} rule (chosen by cross-validation): P(local wrong) ${r.localError.toFixed(2)}`);
  } else if (r.escalationRule === 'threshold') parts.push('confidence threshold');
  parts.push(`cost ${usd(spentUsd)}`);
  const l = r.latencyMs;
  parts.push(
    `${Math.round(l.total)} ms (embed ${Math.round(l.embed)}, decide ${l.decide.toFixed(1)}, local ${Math.round(l.local)}, cloud ${Math.round(l.cloud)})`,
  );
  return parts.join(' · ');
}

/** Examples interleaved across sets, so the first few are not all from one benchmark. */
export function interleave(items: readonly DemoExample[]): DemoExample[] {
  const bySet = new Map<string, DemoExample[]>();
  for (const e of items) bySet.set(e.set, [...(bySet.get(e.set) ?? []), e]);
  const queues = [...bySet.values()];
  const out: DemoExample[] = [];
  for (let i = 0; out.length < items.length; i++) for (const q of queues) if (i < q.length) out.push(q[i]!);
  return out;
}

const EXAMPLES_SHOWN = 6;

export function mountChat(context: ChatContext): { reset(): void } {
  const log = byId<HTMLOListElement>('chat-log');
  const form = byId<HTMLFormElement>('chat-form');
  const field = byId<HTMLTextAreaElement>('chat-input');
  const send = byId<HTMLButtonElement>('chat-send');
  const stop = byId<HTMLButtonElement>('chat-stop');
  const list = byId<HTMLUListElement>('chat-examples');
  const more = byId<HTMLButtonElement>('chat-more-examples');
  const savings = byId('chat-savings');
  let totals: SavingsTotals = NO_SAVINGS;
  let ordered: DemoExample[] = [];
  let page = 0;
  let inFlight: AbortController | undefined;

  const showTotals = (): void => {
    savings.textContent = describeTotals(totals, context.bestCloud()?.id ?? 'the best cloud model', usd);
    savings.dataset.answers = String(totals.answers);
  };
  showTotals();

  function showExamples(): void {
    if (ordered.length === 0) return;
    const start = (page * EXAMPLES_SHOWN) % ordered.length;
    const shown = [...ordered, ...ordered].slice(start, start + Math.min(EXAMPLES_SHOWN, ordered.length));
    list.replaceChildren(
      ...shown.map((e) => {
        const button = h(
          'button',
          { type: 'button', class: 'example', 'data-example': e.id },
          h('span', { class: 'set' }, e.set === 'cascade-medmcqa' ? 'MedMCQA' : 'MMLU'),
          ' ',
          exampleTitle(e.prompt),
        );
        button.addEventListener('click', () => {
          if (inFlight) return;
          field.value = e.prompt;
          form.requestSubmit();
        });
        return h('li', {}, button);
      }),
    );
    more.hidden = ordered.length <= EXAMPLES_SHOWN;
  }
  void context.book().then((book) => {
    ordered = interleave(book?.examples.items ?? []);
    showExamples();
  });
  more.addEventListener('click', () => {
    page++;
    showExamples();
  });

  stop.addEventListener('click', () => inFlight?.abort());
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const text = field.value.trim();
    if (!text || inFlight) return;
    field.value = '';
    void ask(text);
  });
  field.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) form.requestSubmit();
  });

  /** Keeps the newest text in view unless the reader scrolled up to read something older. */
  function follow(force = false): void {
    const nearBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 80;
    if (force || nearBottom) log.scrollTop = log.scrollHeight;
  }

  async function ask(text: string): Promise<void> {
    const recorded = (await context.book())?.find(text);
    log.append(
      h(
        'li',
        { class: 'user' },
        h('span', { class: 'who' }, 'You'),
        recorded ? h('span', { class: 'tag' }, `recorded prompt · ${recorded.set}`) : '',
        h('div', { class: 'content' }, text),
      ),
    );
    const badge = h('span', { class: 'badge' }, 'Routing…');
    const who = h('span', { class: 'who' }, '');
    const content = h('div', { class: 'content', 'aria-live': 'off' });
    const verdict = h('span', { class: 'verdict' });
    const meta = h('small', { class: 'meta' });
    const item = h('li', { class: 'answer pending', 'aria-busy': 'true' }, h('div', { class: 'head' }, badge, ' ', who), content, verdict, meta);
    log.append(item);
    follow(true);
    inFlight = new AbortController();
    send.disabled = true;
    stop.disabled = false;
    field.setAttribute('aria-busy', 'true');
    let streamed = '';
    try {
      const demo = await context.router();
      // Raced against Stop: a local engine still loading its model only sees the cancel once it
      // starts generating, and the reader should not wait for that.
      const stream = await raceAbort(
        demo.router.chat.completions.create(
          { messages: [{ role: 'user', content: text }], max_tokens: context.maxTokens(), stream: true },
          { signal: inFlight.signal },
        ),
        inFlight.signal,
        () => new EdgeRouteError('aborted', 'stopped by the reader'),
      );
      let report: RoutingReport | undefined;
      let completionId = '';
      badge.textContent = 'Answering…';
      for await (const chunk of stream as AsyncIterable<RoutedChunk>) {
        completionId = chunk.id;
        streamed += chunk.choices[0]?.delta.content ?? '';
        content.textContent = streamed;
        if (chunk.edgeroute) report = chunk.edgeroute;
        follow();
      }
      if (!report) throw new Error('the answer ended without a routing report');
      const localId = context.localId();
      const route = routeOf(report, localId);
      const replayedLocal = demo.replayedIds.has(completionId) || (report.degraded && recorded !== undefined && localId === RECORDED_LOCAL_ID);
      item.className = `answer ${route}${report.degraded ? ' degraded' : ''}`;
      item.dataset.model = report.model;
      item.dataset.route = route;
      item.dataset.escalated = String(report.escalated);
      badge.className = `badge ${route}`;
      badge.textContent = report.degraded ? '⌂ On device (the cloud did not answer)' : ROUTE_TEXT[route](report.model);
      who.textContent = answeredBy(report, route, recorded, replayedLocal, context.replayCloud(), context.localEngine());
      if (recorded) {
        const reference = recorded.reference;
        content.textContent = describeAnswer(recorded.prompt, streamed);
        const right = recorded.scores[report.model] === 1;
        verdict.textContent = right ? '✓ correct' : `✗ wrong${reference ? ` (reference: ${describeAnswer(recorded.prompt, reference)})` : ''}`;
        verdict.className = `verdict ${right ? 'right' : 'wrong'}`;
      }
      const local = route === 'local' || report.degraded;
      totals = addAnswer(
        totals,
        {
          model: report.model,
          costUsd: report.costUsd,
          escalated: report.escalated,
          local,
          promptChars: text.length,
          answerChars: streamed.length,
          ...(recorded ? { recorded } : {}),
        },
        context.bestCloud(),
      );
      const spent = local ? 0 : (recorded?.costs[report.model] ?? report.costUsd);
      meta.textContent = metaLine(report, spent);
      const notes =
        report.degraded && !recorded && context.replayCloud()
          ? [
              'The local answer was not confident enough to keep, but the replay cloud has no recorded answer for your own question, so the on-device answer is shown. Set your own endpoint in Settings to escalate for real.',
            ]
          : report.notes;
      for (const note of notes) item.append(h('small', { class: 'note' }, note));
      if (route === 'escalated' && recorded && replayedLocal === false && localId === RECORDED_LOCAL_ID && report.localConfidence !== undefined) {
        // What the device had said before it gave way: the recorded Llama-3.2-1B answer.
        const first = recorded.responses[RECORDED_LOCAL_ID];
        if (first !== undefined) {
          item.append(
            h(
              'small',
              { class: 'note' },
              `On device, the recorded Llama-3.2-1B answer was ${describeAnswer(recorded.prompt, first)} (${recorded.scores[RECORDED_LOCAL_ID] === 1 ? '✓' : '✗'}) with confidence ${report.localConfidence.toFixed(2)}, too low to keep.`,
            ),
          );
        }
      }
      showTotals();
    } catch (error) {
      if (inFlight.signal.aborted || errorCode(error) === 'aborted') {
        item.className = 'answer stopped';
        badge.className = 'badge stopped';
        badge.textContent = '■ Stopped';
        who.textContent = streamed ? 'You stopped the answer; what had arrived is kept.' : 'You stopped it before an answer arrived.';
      } else if (context.replayCloud() && !recorded && /not-recorded|only replays recorded answers/.test(errorText(error))) {
        item.className = 'answer explained';
        badge.className = 'badge cloud';
        badge.textContent = '☁ Sent to the cloud';
        who.textContent = '';
        content.textContent =
          'The router sent your question to the cloud (UniRoute predicted the on-device model would get it wrong). '
          + "This demo's cloud is a replay of recorded GPT-4o / GPT-4o-mini answers and only knows the example prompts below. "
          + 'To ask anything, set your own OpenAI-compatible endpoint in Settings.';
      } else {
        item.className = 'answer error';
        badge.className = 'badge error';
        badge.textContent = '⚠ No answer';
        content.textContent = errorText(error);
      }
    } finally {
      item.removeAttribute('aria-busy');
      field.removeAttribute('aria-busy');
      inFlight = undefined;
      send.disabled = false;
      stop.disabled = true;
      follow();
    }
  }

  return {
    reset() {
      totals = NO_SAVINGS;
      showTotals();
    },
  };
}
