/**
 * The drop-in <script> tag's configuration, read from its data-* attributes:
 *
 *   <script src="/edgeroute/edgeroute.iife.js"
 *           data-cloud-url="/api/llm/v1" data-cloud-model="gpt-4o"></script>
 *
 * The profile and the embedder default to the shipped ones beside the script (copy-assets).
 *
 * Pure: attributes in, RouterConfig out, with precise errors for what is missing or malformed.
 */
import { EdgeRouteError } from '../../common/errors';
import type { RouterConfig } from '../create-router';
import { isRouterMode, ROUTER_MODES } from '../../common/modes';

function numberAttr(attrs: Readonly<Record<string, string | undefined>>, name: string, fallback: number): number {
  const raw = attrs[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0) throw new EdgeRouteError('invalid-config', `data-${name}="${raw}" must be a finite number ≥ 0`);
  return value;
}

/** data-cloud-share is a fraction of prompts: "30" is a typo for 0.3, not 30 times every prompt. */
function shareAttr(raw: string): number {
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || value < 0 || value > 1) {
    throw new EdgeRouteError('invalid-config', `data-cloud-share="${raw}" must be a fraction between 0 and 1 (e.g. 0.3 for 30% of prompts to the cloud)`);
  }
  return value;
}

/** `attrs` are the script's dataset entries by attribute name without "data-" (e.g. 'cloud-url'). */
export function routerConfigFromAttributes(attrs: Readonly<Record<string, string | undefined>>): RouterConfig | undefined {
  const cloudUrl = attrs['cloud-url'];
  const cloudModel = attrs['cloud-model'];
  if (!cloudUrl && !cloudModel) return undefined; // a plain include: the page builds its own router
  if (!cloudUrl || !cloudModel) {
    throw new EdgeRouteError(
      'invalid-config',
      'The edgeroute <script> tag needs both data-cloud-url (an OpenAI-compatible base URL, ideally a same-origin proxy like /api/llm/v1) and data-cloud-model.',
    );
  }
  const mode = attrs['mode'] ?? 'hybrid';
  if (!isRouterMode(mode)) throw new EdgeRouteError('invalid-config', `data-mode="${mode}" is not one of ${ROUTER_MODES.join(', ')}`);
  const modelPath = attrs['model-path'] ?? '/models/';
  const localModel = attrs['local-model'];
  const share = attrs['cloud-share'];
  const device = attrs['device'] ?? 'auto';
  if (device !== 'auto' && device !== 'webgpu' && device !== 'wasm')
    throw new EdgeRouteError('invalid-config', `data-device="${device}" must be auto, webgpu or wasm`);
  const embedder = attrs['embedder'];
  return {
    // Without data-embedder: createRouter's default, USE lite from the script's folder (copy-assets puts it there).
    ...(embedder
      ? {
          embedder: {
            kind: 'transformers' as const,
            model: embedder,
            localModelPath: modelPath,
            allowRemoteModels: attrs['allow-remote-models'] === 'true',
            device,
          },
        }
      : {}),
    ...(localModel && mode !== 'cloud-only'
      ? {
          local: { kind: 'transformers' as const, model: localModel, localModelPath: modelPath, device, profileId: attrs['local-profile-id'] ?? 'llama3.2-1b' },
        }
      : {}),
    cloud: [
      {
        id: attrs['cloud-id'] ?? cloudModel,
        model: cloudModel,
        baseURL: cloudUrl,
        usdPerMTokIn: numberAttr(attrs, 'cloud-price-in', 0),
        usdPerMTokOut: numberAttr(attrs, 'cloud-price-out', 0),
      },
    ],
    ...(attrs['profile'] ? { profile: attrs['profile'] } : {}),
    mode: localModel ? mode : 'cloud-only',
    ...(share !== undefined ? { lambda: { kind: 'cloudShare' as const, share: shareAttr(share) } } : {}),
  };
}
