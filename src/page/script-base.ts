/** The URL of the edgeroute <script> file (IIFE build only); workers are resolved against it. */
let scriptBase: string | undefined;

export function setScriptBase(url: string): void {
  scriptBase = url;
}

export function getScriptBase(): string {
  return scriptBase ?? (typeof location !== 'undefined' ? location.href : '');
}
