/**
 * <edgeroute-chat>: a small chat box wired to the drop-in router (window.EdgeRoute.router).
 * Answers stream in as they are generated; each then shows which model answered, where it ran
 * (on device, the cloud chosen before generating, or an escalation after a low-confidence local
 * answer), the local confidence, the cost and the latency. While a request runs the box is
 * busy and its button stops it. No framework; styles live in its shadow root.
 *
 * Attributes: `placeholder` (the message box's hint).
 */
import { errorCode } from '../../common/errors';
import type { Router } from '../create-router';
import type { RoutingReport } from '../router';
import { answerNote } from './answer-note';

const STYLE = `
:host { display: block; font: 14px/1.4 system-ui, sans-serif; max-width: 40rem; border: 1px solid #ccc; border-radius: 8px; padding: 8px; }
ol { list-style: none; margin: 0 0 8px; padding: 0; max-height: 24rem; overflow: auto; }
li { margin: 6px 0; padding: 6px 8px; border-radius: 6px; white-space: pre-wrap; }
li.user { background: #eef3ff; }
li.answer { background: #f5f5f5; }
li.error { background: #fdecec; }
li.stopped { color: #555; font-style: italic; }
small { display: block; color: #555; margin-top: 4px; }
form { display: flex; gap: 6px; }
textarea { flex: 1; min-height: 2.5em; }
`;

const DEFAULT_PLACEHOLDER = 'Ask a question…';

export class EdgeRouteChatElement extends HTMLElement {
  static readonly observedAttributes = ['placeholder'];
  private router: Promise<Router> | undefined;
  private running: AbortController | undefined;

  connectedCallback(): void {
    if (this.shadowRoot) return;
    const root = this.attachShadow({ mode: 'open' });
    root.innerHTML = `<style>${STYLE}</style><ol part="log" aria-live="polite"></ol>
      <form part="form"><textarea name="prompt" aria-label="Message" required></textarea><button type="submit">Send</button></form>`;
    root.querySelector('textarea')!.placeholder = this.getAttribute('placeholder') ?? DEFAULT_PLACEHOLDER;
    root.querySelector('form')!.addEventListener('submit', (event) => {
      event.preventDefault();
      if (this.running) {
        this.running.abort();
        return;
      }
      const field = root.querySelector('textarea')!;
      const text = field.value.trim();
      if (text) void this.send(text);
      field.value = '';
    });
  }

  attributeChangedCallback(name: string, _old: string | null, value: string | null): void {
    const field = this.shadowRoot?.querySelector('textarea');
    if (name === 'placeholder' && field) field.placeholder = value ?? DEFAULT_PLACEHOLDER;
  }

  /** Uses this router instead of the script tag's. */
  use(router: Promise<Router> | Router): void {
    this.router = Promise.resolve(router);
  }

  private line(kind: string, text: string): HTMLLIElement {
    const item = document.createElement('li');
    item.className = kind;
    item.append(document.createTextNode(text));
    const log = this.shadowRoot!.querySelector('ol')!;
    log.append(item);
    log.scrollTop = log.scrollHeight;
    return item;
  }

  /** Busy while a request runs: the button stops it, and assistive technology is told. */
  private setBusy(controller: AbortController | undefined): void {
    this.running = controller;
    const button = this.shadowRoot!.querySelector('button')!;
    button.textContent = controller ? 'Stop' : 'Send';
    this.shadowRoot!.querySelector('textarea')!.required = !controller;
    if (controller) this.setAttribute('aria-busy', 'true');
    else this.removeAttribute('aria-busy');
  }

  private async send(text: string): Promise<void> {
    this.line('user', text);
    const router = this.router ?? (window as unknown as { EdgeRoute?: { router?: Promise<Router> } }).EdgeRoute?.router;
    if (!router) {
      this.line('error', 'No router: add data-cloud-url and data-cloud-model to the edgeroute <script> tag, or call element.use(router).');
      return;
    }
    const controller = new AbortController();
    this.setBusy(controller);
    let answer: HTMLLIElement | undefined;
    try {
      const stream = await (await router).chat.completions.create({ messages: [{ role: 'user', content: text }], stream: true }, { signal: controller.signal });
      let report: RoutingReport | undefined;
      for await (const chunk of stream) {
        const delta = chunk.choices[0]?.delta.content ?? '';
        answer ??= this.line('answer', '');
        (answer.firstChild as Text).appendData(delta);
        report = chunk.edgeroute ?? report;
      }
      answer ??= this.line('answer', '');
      if (report) {
        const small = document.createElement('small');
        small.textContent = answerNote(report);
        answer.append(small);
      }
    } catch (error) {
      if (controller.signal.aborted || errorCode(error) === 'aborted') this.line('stopped', 'Stopped');
      else this.line('error', error instanceof Error ? error.message : String(error));
    } finally {
      this.setBusy(undefined);
    }
  }
}
