/**
 * A small static file server on 127.0.0.1 for the browser tests and the demo. It serves each
 * mount (URL prefix → folder) with the MIME types and isolation headers the engines need:
 * COOP/COEP make the page cross-origin isolated, which ONNX Runtime's threaded WASM requires.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.onnx': 'application/octet-stream',
  '.bin': 'application/octet-stream',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

export interface StaticMount {
  /** URL prefix, starting and ending with '/'. */
  readonly prefix: string;
  readonly dir: string;
}

export interface StaticServer {
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

/** A URL prefix forwarded to another server: the same-origin proxy a site puts before its LLM API. */
export interface ProxyMount {
  readonly prefix: string;
  /** Base URL the rest of the path is appended to, e.g. 'http://127.0.0.1:8787/'. */
  readonly target: string;
}

export interface StaticServerOptions {
  readonly mounts: readonly StaticMount[];
  readonly proxies?: readonly ProxyMount[];
  readonly port?: number;
  /** Extra headers on every response (a test adds a Content-Security-Policy, say). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Exact paths answered with JSON computed per request (the demo's lab data); undefined = 404. */
  readonly jsonRoutes?: Readonly<Record<string, (url: URL) => unknown>>;
}

export async function startStaticServer(options: StaticServerOptions): Promise<StaticServer> {
  const mounts = [...options.mounts].sort((a, b) => b.prefix.length - a.prefix.length).map((m) => ({ prefix: m.prefix, dir: resolve(m.dir) }));
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    const proxy = options.proxies?.find((p) => path.startsWith(p.prefix));
    if (proxy) {
      forward(req, res, new URL((req.url ?? '/').slice(proxy.prefix.length), proxy.target));
      return;
    }
    const mount = mounts.find((m) => path.startsWith(m.prefix));
    const headers = {
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
      'Cache-Control': 'no-cache',
      ...options.headers,
    };
    const route = options.jsonRoutes?.[path];
    if (route) {
      let body: unknown;
      try {
        body = route(new URL(req.url ?? '/', 'http://localhost'));
      } catch (error) {
        res.writeHead(400, { ...headers, 'Content-Type': 'application/json' }).end(JSON.stringify({ error: String(error) }));
        return;
      }
      if (body === undefined) res.writeHead(404, headers).end('not found');
      else res.writeHead(200, { ...headers, 'Content-Type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
      return;
    }
    if (!mount) {
      res.writeHead(404, headers).end('not found');
      return;
    }
    let file = normalize(join(mount.dir, path.slice(mount.prefix.length)));
    if (file !== mount.dir && !file.startsWith(mount.dir + sep)) {
      res.writeHead(403, headers).end('forbidden');
      return;
    }
    try {
      let info = await stat(file);
      if (info.isDirectory()) {
        file = join(file, 'index.html');
        info = await stat(file);
      }
      res.writeHead(200, {
        ...headers,
        'Content-Type': MIME[extname(file)] ?? 'application/octet-stream',
        'Content-Length': String(info.size),
      });
      if (req.method === 'HEAD') res.end();
      else createReadStream(file).pipe(res);
    } catch {
      res.writeHead(404, headers).end('not found');
    }
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(options.port ?? 0, '127.0.0.1', () => ok());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

/** Pipes one request to `target` and its answer back (streaming bodies included, e.g. SSE). */
function forward(req: IncomingMessage, res: ServerResponse, target: URL): void {
  const upstream = httpRequest(target, { method: req.method, headers: { ...req.headers, host: target.host } }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, { ...answer.headers, 'Cross-Origin-Resource-Policy': 'same-origin' });
    answer.pipe(res);
    answer.on('error', () => res.destroy());
  });
  upstream.on('error', () => (res.headersSent ? res.destroy() : res.writeHead(502).end('upstream unreachable')));
  res.on('close', () => upstream.destroy());
  req.pipe(upstream);
}
