/**
 * The chat tab: each answer shows which model answered, the local confidence, whether it
 * escalated, its cost and latency; the header keeps the running total against always calling
 * the best cloud model. A Stop button aborts the request in flight.
 */
import type { Router } from '../src/page/create-router';
import type { RoutingReport } from '../src/page/router';
import { byId, errorText, h, usd } from './dom';
import { addAnswer, NO_SAVINGS, type SavingsTotals } from './savings';
import type { DemoCloudModel } from './settings';

export interface ChatContext {
  /** The current router (it changes when settings are applied). */
  router(): Promise<Router>;
  /** The best configured cloud model, the savings baseline. */
  bestCloud(): DemoCloudModel | undefined;
  /** The profile id the local model answers under, if there is one. */
  localId(): string | undefined;
  maxTokens(): number;
}

interface Example {
  readonly set: string;
  readonly models: readonly string[];
  readonly prompt: string;
}

function describe(r: RoutingReport): string {
  const parts = [r.model];
  if (r.localConfidence !== undefined) parts.push(`local confidence ${r.localConfidence.toFixed(2)}`);
  if (r.escalated) parts.push('escalated after a low-confidence local answer');
  else if (r.routedTo !== r.model && !r.degraded) parts.push(`routed to ${r.routedTo}, answered by ${r.model}`);
  else if (r.model === r.routedTo && r.localConfidence === undefined) parts.push('sent to the cloud before generating');
  if (r.degraded) parts.push('cloud unreachable: local answer');
  parts.push(usd(r.costUsd));
  parts.push(`${Math.round(r.latencyMs.total)} ms (embed ${Math.round(r.latencyMs.embed)}, decide ${r.latencyMs.decide.toFixed(1)}, local ${Math.round(r.latencyMs.local)}, cloud ${Math.round(r.latencyMs.cloud)})`);
  return parts.join(' · ');
}

export function mountChat(context: ChatContext): { reset(): void } {
  const log = byId<HTMLOListElement>('chat-log');
  const form = byId<HTMLFormElement>('chat-form');
  const field = byId<HTMLTextAreaElement>('chat-input');
  const send = byId<HTMLButtonElement>('chat-send');
  const stop = byId<HTMLButtonElement>('chat-stop');
  const exampleButton = byId<HTMLButtonElement>('chat-example');
  const savings = byId('chat-savings');
  let totals: SavingsTotals = NO_SAVINGS;
  let examples: Example[] = [];
  let nextExample = 0;
  let inFlight: AbortController | undefined;

  const showTotals = (): void => {
    const best = context.bestCloud();
    const saved = totals.baselineUsd - totals.spentUsd;
    const share = totals.baselineUsd > 0 ? Math.round(100 * saved / totals.baselineUsd) : 0;
    savings.textContent = totals.answers === 0
      ? `No answers yet. Savings are counted against always calling ${best?.id ?? 'the best cloud model'}.`
      : `${totals.answers} answers, ${totals.local} on this device, ${totals.escalated} escalated · spent ${usd(totals.spentUsd)} · always ${best?.id ?? 'cloud'}: ${usd(totals.baselineUsd)} · saved ${usd(saved)} (${share}%)`;
    savings.dataset.answers = String(totals.answers);
  };
  showTotals();

  // Prompts the replay cloud has recorded answers for (only `npm start` serves this list).
  void fetch(new URL('demo/examples.json', location.href)).then(async (response) => {
    if (!response.ok) return;
    const body = (await response.json()) as { examples?: Example[] };
    examples = body.examples ?? [];
    exampleButton.hidden = examples.length === 0;
  }).catch(() => undefined);
  exampleButton.hidden = true;
  exampleButton.addEventListener('click', () => {
    const wanted = context.bestCloud()?.id;
    const usable = examples.filter((e) => wanted === undefined || e.models.includes(wanted));
    const pool = usable.length > 0 ? usable : examples;
    if (pool.length === 0) return;
    field.value = pool[nextExample++ % pool.length]!.prompt;
    field.focus();
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

  async function ask(text: string): Promise<void> {
    log.append(h('li', { class: 'user' }, text));
    const pending = h('li', { class: 'answer pending' }, 'Routing…');
    log.append(pending);
    pending.scrollIntoView({ block: 'nearest' });
    inFlight = new AbortController();
    send.disabled = true;
    stop.disabled = false;
    try {
      const router = await context.router();
      const answer = await router.chat.completions.create({ messages: [{ role: 'user', content: text }], max_tokens: context.maxTokens() }, { signal: inFlight.signal });
      const r = answer.edgeroute;
      const content = answer.choices[0]?.message.content ?? '';
      const local = r.model === context.localId();
      pending.className = `answer ${local ? 'local' : 'cloud'}`;
      pending.replaceChildren(h('div', { class: 'content' }, content), h('small', { class: 'meta' }, describe(r)));
      pending.dataset.model = r.model;
      pending.dataset.escalated = String(r.escalated);
      totals = addAnswer(totals, { model: r.model, costUsd: r.costUsd, escalated: r.escalated, local, promptChars: text.length, answerChars: content.length }, context.bestCloud());
      showTotals();
    } catch (error) {
      pending.className = 'answer error';
      pending.textContent = errorText(error);
    } finally {
      inFlight = undefined;
      send.disabled = false;
      stop.disabled = true;
    }
  }

  return {
    reset() {
      totals = NO_SAVINGS;
      showTotals();
    },
  };
}
