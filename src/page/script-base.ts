/** The URL of the edgeroute <script> file (IIFE build only); workers are resolved against it. */
let scriptBase: string | undefined;

export function setScriptBase(url: string): void {
  scriptBase = url;
}

export function getScriptBase(): string {
  return scriptBase ?? (typeof location !== 'undefined' ? location.href : '');
}

/** The <script> file's URL when the IIFE build set it, else undefined (an ESM import). */
export function scriptBaseIfSet(): string | undefined {
  return scriptBase;
}
