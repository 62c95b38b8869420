/**
 * Entry of the drop-in <script> build: everything of the ESM entry, as the global `EdgeRoute`.
 * The worker file is looked up beside the script itself, whose URL is only known while the
 * script is first evaluated (document.currentScript is null afterwards), so it is captured here.
 * With data-cloud-url and data-cloud-model on the tag, a ready router is created as
 * `EdgeRoute.router` (a promise), and <edgeroute-chat> is defined.
 */
import { EdgeRouteChatElement } from './page/dropin/chat-element';
import { routerConfigFromAttributes } from './page/dropin/script-config';
import { createRouter, type Router } from './page/create-router';
import { setScriptBase } from './page/script-base';

const current = typeof document !== 'undefined' ? document.currentScript : null;
if (current instanceof HTMLScriptElement && current.src) setScriptBase(current.src);

function scriptTagRouter(): Promise<Router> | undefined {
  if (!(current instanceof HTMLScriptElement) || !current.src) return undefined;
  // dataset keys are camelCase (cloudUrl); the attributes are data-cloud-url.
  const attrs = Object.fromEntries(Object.entries(current.dataset).map(([k, v]) => [k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`), v]));
  try {
    const config = routerConfigFromAttributes(attrs);
    return config ? createRouter(config) : undefined;
  } catch (error) {
    return Promise.reject(error); // a bad attribute must not break the EdgeRoute global
  }
}

/** The script tag's router, when its data-* attributes configure one. */
export const router: Promise<Router> | undefined = scriptTagRouter();
router?.catch((error: unknown) => console.error('edgeroute: the <script> tag router could not start:', error));

if (typeof customElements !== 'undefined' && !customElements.get('edgeroute-chat')) {
  customElements.define('edgeroute-chat', EdgeRouteChatElement);
}

export { EdgeRouteChatElement };
export * from './index';
export * from './advanced';
