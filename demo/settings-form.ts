/**
 * The settings tab: the form for cloud endpoint and models with prices, local model, embedder,
 * device, mode and cloud-share target. Apply checks everything (parseSettings) and restarts the
 * router; the API key stays in this page's memory and is never written anywhere.
 */
import { byId, errorText, h } from './dom';
import { REPLAY_BASE } from './replay-fetch';
import { DEFAULT_SETTINGS, MODES, parseSettings, type DemoCloudModel, type DemoSettings } from './settings';

export interface SettingsContext {
  /** Applies checked settings (and the in-memory key); rejects when the router cannot start. */
  apply(settings: DemoSettings, apiKey: string | undefined): Promise<void>;
}

export function mountSettings(initial: DemoSettings, context: SettingsContext): void {
  const form = byId<HTMLFormElement>('settings-form');
  const rows = byId<HTMLTableSectionElement>('set-cloud-rows');
  const problem = byId('settings-problem');

  function cloudRow(m: DemoCloudModel): HTMLTableRowElement {
    // data-label: a phone shows each row as a small card with these as captions (demo.css).
    const LABELS: Record<string, string> = {
      id: 'profile id',
      model: 'provider model',
      usdPerMTokIn: '$ / M input tokens',
      usdPerMTokOut: '$ / M output tokens',
    };
    const input = (name: string, value: string, type = 'text'): HTMLTableCellElement =>
      h(
        'td',
        { 'data-label': LABELS[name] ?? name },
        h('input', { name, value, type, ...(type === 'number' ? { step: 'any', min: '0' } : {}), 'aria-label': LABELS[name] ?? name }),
      );
    const remove = h('button', { type: 'button', class: 'remove' }, 'Remove');
    const row = h(
      'tr',
      { class: 'cloud-model' },
      input('id', m.id),
      input('model', m.model),
      input('usdPerMTokIn', String(m.usdPerMTokIn), 'number'),
      input('usdPerMTokOut', String(m.usdPerMTokOut), 'number'),
      h('td', {}, remove),
    );
    remove.addEventListener('click', () => row.remove());
    return row;
  }

  function fill(s: DemoSettings): void {
    byId<HTMLInputElement>('set-cloud-url').value = s.cloudBaseUrl;
    rows.replaceChildren(...s.cloudModels.map(cloudRow));
    byId<HTMLSelectElement>('set-local-kind').value = s.local.kind;
    byId<HTMLInputElement>('set-local-model').value = 'model' in s.local ? s.local.model : '';
    byId<HTMLInputElement>('set-local-profile').value = 'profileId' in s.local ? s.local.profileId : '';
    byId<HTMLSelectElement>('set-embedder').value = s.embedder.kind;
    byId<HTMLInputElement>('set-embedder-model').value = s.embedder.kind === 'transformers' ? s.embedder.model : 'edgeroute-tiny-embed';
    byId<HTMLInputElement>('set-remote').checked = s.allowRemoteModels;
    byId<HTMLSelectElement>('set-device').value = s.device;
    byId<HTMLSelectElement>('set-mode').value = s.mode;
    byId<HTMLInputElement>('set-share').value = String(Math.round(s.cloudShare * 100));
    byId<HTMLInputElement>('set-max-tokens').value = String(s.maxTokens);
    syncVisibility();
  }

  function syncVisibility(): void {
    const kind = byId<HTMLSelectElement>('set-local-kind').value;
    byId('set-local-model-row').hidden = kind === 'none' || kind === 'prompt-api';
    byId('set-local-profile-row').hidden = kind === 'none';
    byId('set-embedder-model-row').hidden = byId<HTMLSelectElement>('set-embedder').value !== 'transformers';
    byId('set-share-value').textContent = `${byId<HTMLInputElement>('set-share').value}%`;
  }

  /** The form as the raw object parseSettings checks. */
  function read(): unknown {
    const kind = byId<HTMLSelectElement>('set-local-kind').value;
    const cell = (row: Element, name: string): string => row.querySelector<HTMLInputElement>(`input[name="${name}"]`)?.value ?? '';
    return {
      cloudBaseUrl: byId<HTMLInputElement>('set-cloud-url').value,
      cloudModels: [...rows.querySelectorAll('tr.cloud-model')].map((row) => ({
        id: cell(row, 'id'),
        model: cell(row, 'model'),
        usdPerMTokIn: cell(row, 'usdPerMTokIn'),
        usdPerMTokOut: cell(row, 'usdPerMTokOut'),
      })),
      local: { kind, model: byId<HTMLInputElement>('set-local-model').value, profileId: byId<HTMLInputElement>('set-local-profile').value },
      embedder: { kind: byId<HTMLSelectElement>('set-embedder').value, model: byId<HTMLInputElement>('set-embedder-model').value },
      allowRemoteModels: byId<HTMLInputElement>('set-remote').checked,
      device: byId<HTMLSelectElement>('set-device').value,
      mode: byId<HTMLSelectElement>('set-mode').value,
      cloudShare: Number(byId<HTMLInputElement>('set-share').value) / 100,
      maxTokens: byId<HTMLInputElement>('set-max-tokens').value,
    };
  }

  byId<HTMLSelectElement>('set-mode').replaceChildren(...MODES.map((m) => h('option', { value: m }, m)));
  fill(initial);
  form.addEventListener('input', syncVisibility);
  byId('set-use-replay').addEventListener('click', () => {
    byId<HTMLInputElement>('set-cloud-url').value = REPLAY_BASE;
    problem.textContent = 'The in-page replay cloud is set; Apply to use it.';
  });
  byId('set-cloud-add').addEventListener('click', () => rows.append(cloudRow({ id: '', model: '', usdPerMTokIn: 0, usdPerMTokOut: 0 })));
  byId('set-reset').addEventListener('click', () => {
    fill(DEFAULT_SETTINGS);
    problem.textContent = 'Defaults restored in the form; Apply to use them.';
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    let settings: DemoSettings;
    try {
      settings = parseSettings(read());
    } catch (error) {
      // Nothing is lost: the form keeps what was typed, the running router keeps running.
      problem.textContent = errorText(error);
      problem.dataset.state = 'error';
      return;
    }
    const key = byId<HTMLInputElement>('set-api-key').value.trim();
    problem.textContent = 'Applying: restarting the router…';
    problem.dataset.state = 'applying';
    context.apply(settings, key === '' ? undefined : key).then(
      () => {
        problem.textContent = 'Applied.';
        problem.dataset.state = 'applied';
      },
      (error: unknown) => {
        problem.textContent = `The router did not start with these settings: ${errorText(error)}`;
        problem.dataset.state = 'error';
      },
    );
  });
}
