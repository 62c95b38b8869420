/**
 * <edgeroute-chat>: a small chat box wired to the drop-in router (window.EdgeRoute.router).
 * Each answer shows which model answered, the local confidence, whether it escalated, the cost
 * and the latency. No framework; styles live in its shadow root.
 */
import type { Router } from '../create-router';

const STYLE = `
:host { display: block; font: 14px/1.4 system-ui, sans-serif; max-width: 40rem; border: 1px solid #ccc; border-radius: 8px; padding: 8px; }
ol { list-style: none; margin: 0 0 8px; padding: 0; max-height: 24rem; overflow: auto; }
li { margin: 6px 0; padding: 6px 8px; border-radius: 6px; white-space: pre-wrap; }
li.user { background: #eef3ff; }
li.answer { background: #f5f5f5; }
li.error { background: #fdecec; }
small { display: block; color: #555; margin-top: 4px; }
form { display: flex; gap: 6px; }
textarea { flex: 1; min-height: 2.5em; }
`;

export class EdgeRouteChatElement extends HTMLElement {
  private router: Promise<Router> | undefined;

  connectedCallback(): void {
    if (this.shadowRoot) return;
    const root = this.attachShadow({ mode: 'open' });
    root.innerHTML = `<style>${STYLE}</style><ol part="log" aria-live="polite"></ol>
      <form part="form"><textarea name="prompt" aria-label="Message" required></textarea><button type="submit">Send</button></form>`;
    root.querySelector('form')!.addEventListener('submit', (event) => {
      event.preventDefault();
      const field = root.querySelector('textarea')!;
      const text = field.value.trim();
      if (text) void this.send(text);
      field.value = '';
    });
  }

  /** Uses this router instead of the script tag's. */
  use(router: Promise<Router> | Router): void {
    this.router = Promise.resolve(router);
  }

  private line(kind: string, text: string, note?: string): void {
    const item = document.createElement('li');
    item.className = kind;
    item.textContent = text;
    if (note) {
      const small = document.createElement('small');
      small.textContent = note;
      item.append(small);
    }
    this.shadowRoot!.querySelector('ol')!.append(item);
  }

  private async send(text: string): Promise<void> {
    this.line('user', text);
    const router = this.router ?? (window as unknown as { EdgeRoute?: { router?: Promise<Router> } }).EdgeRoute?.router;
    if (!router) {
      this.line('error', 'No router: add data-cloud-url and data-cloud-model to the edgeroute <script> tag, or call element.use(router).');
      return;
    }
    try {
      const answer = await (await router).chat.completions.create({ messages: [{ role: 'user', content: text }] });
      const r = answer.edgeroute;
      const confidence = r.localConfidence === undefined ? '' : ` · local confidence ${r.localConfidence.toFixed(2)}`;
      this.line(
        'answer',
        answer.choices[0]?.message.content ?? '',
        `${r.model}${r.escalated ? ' (escalated)' : ''}${r.degraded ? ' (degraded)' : ''}${confidence} · $${r.costUsd.toFixed(5)} · ${Math.round(r.latencyMs.total)} ms`,
      );
    } catch (error) {
      this.line('error', error instanceof Error ? error.message : String(error));
    }
  }
}
