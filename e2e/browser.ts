/**
 * How every browser test launches Chromium: Debian's build (never a downloaded one), headless,
 * with WebGPU on SwiftShader (the CPU) so GPU code paths run on machines without a GPU.
 */
import { existsSync } from 'node:fs';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--enable-unsafe-webgpu',
  '--use-webgpu-adapter=swiftshader',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The same flags minus WebGPU, to prove the WASM fallback. */
export const CHROMIUM_ARGS_NO_WEBGPU = ['--disable-webgpu', '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export function requireChromium(): string {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM_PATH}. Install Debian's build with `
        + '`sudo apt-get install -y chromium` (or set CHROMIUM_PATH to a Chromium binary). '
        + 'Do not run `npx playwright install`: edgeroute tests use the system browser.',
    );
  }
  return CHROMIUM_PATH;
}
