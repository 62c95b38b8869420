/**
 * Entry of the drop-in <script> build: everything of the ESM entry, as the global `EdgeRoute`.
 * The worker file is looked up beside the script itself, whose URL is only known while the
 * script is first evaluated (document.currentScript is null afterwards), so it is captured here.
 */
import { setScriptBase } from './script-base';

const current = typeof document !== 'undefined' ? document.currentScript : null;
if (current instanceof HTMLScriptElement && current.src) setScriptBase(current.src);

export * from './index';
