// Test helper: a local Azurite Blob service (the azurite devDependency, in memory, on 127.0.0.1 at
// a free port) and a small HTTP proxy in front of it that counts requests and can fail or alter them.

import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/** The well-known Azurite development account (Azurite's built-in, public and documented; not a secret). */
export const DEV_ACCOUNT = 'devstoreaccount1';
export const DEV_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

/** A connection string for the dev account at a blob endpoint (Azurite's or a proxy's). */
export function devConnectionString(blobEndpoint: string): string {
  return `DefaultEndpointsProtocol=http;AccountName=${DEV_ACCOUNT};AccountKey=${DEV_KEY};BlobEndpoint=${blobEndpoint};`;
}

export interface Azurite {
  /** Origin, e.g. `http://127.0.0.1:41234`. */
  origin: string;
  /** Blob endpoint of the dev account: `<origin>/devstoreaccount1`. */
  blobEndpoint: string;
  connectionString: string;
  stop(): Promise<void>;
}

/** Starts Azurite's Blob service in memory on loopback; resolves once it listens. */
export async function startAzurite(): Promise<Azurite> {
  const require = createRequire(import.meta.url);
  const main = join(dirname(require.resolve('azurite/package.json')), 'dist/src/blob/main.js');
  // Its working folder (it writes nothing there in memory mode, but never the repo's).
  const cwd = mkdtempSync(join(tmpdir(), 'nspa-azurite-'));
  const child: ChildProcess = spawn(process.execPath, [
    main, '--blobHost', '127.0.0.1', '--blobPort', '0', '--inMemoryPersistence', '--extentMemoryLimit', '256',
    '--silent', '--skipApiVersionCheck', '--loose', '--disableTelemetry',
  ], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const origin = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Azurite did not start in 20 s:\n${output}`)), 20_000);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const m = /successfully listens on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (m) { clearTimeout(timer); resolve(m[1]!); }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`Azurite exited with ${code}:\n${output}`)); });
  });
  child.removeAllListeners('exit');
  const blobEndpoint = `${origin}/${DEV_ACCOUNT}`;
  return {
    origin, blobEndpoint, connectionString: devConnectionString(blobEndpoint),
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(cwd, { recursive: true, force: true });
    },
  };
}

/** One request the proxy saw. */
export interface SeenRequest {
  method: string;
  /** Path and query, as sent (a SAS included: tests only). */
  url: string;
  /** Decoded path without the query. */
  path: string;
  query: URLSearchParams;
}

/** An answer given by the proxy itself. */
export interface ProxyAnswer { status: number; body?: string; headers?: Record<string, string> }
/** Forward, but drop the connection after this many bytes of the answer's body. */
export interface ProxyCut { cutAfter: number }
/** What a hook may decide for a request: answer it here, cut it, or forward it (after an async action). */
export type ProxyHook = (req: SeenRequest) => Promise<ProxyAnswer | ProxyCut | void> | ProxyAnswer | ProxyCut | void;

export interface Proxy {
  origin: string;
  blobEndpoint: string;
  requests: SeenRequest[];
  /** Decides per request; set and reset by tests. */
  hook: ProxyHook | null;
  close(): Promise<void>;
}

/** An HTTP proxy on 127.0.0.1 in front of `target` (an origin), recording every request. */
export async function startProxy(target: string): Promise<Proxy> {
  const upstream = new URL(target);
  const proxy: Proxy = { origin: '', blobEndpoint: '', requests: [], hook: null, close: async () => {} };
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    const parsed = new URL(url, 'http://x');
    const seen: SeenRequest = { method: req.method ?? 'GET', url, path: decodeURIComponent(parsed.pathname), query: parsed.searchParams };
    proxy.requests.push(seen);
    const socket = req.socket;
    void (async () => {
      const decision = proxy.hook ? await proxy.hook(seen) : undefined;
      if (decision && 'status' in decision) {
        res.writeHead(decision.status, { 'content-type': 'application/xml', ...decision.headers });
        res.end(decision.body ?? '');
        req.resume();
        return;
      }
      const forward = http.request({
        host: upstream.hostname, port: upstream.port, method: req.method, path: url,
        headers: { ...req.headers, host: upstream.host },
      }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        if (!decision) { up.pipe(res); return; }
        let left = decision.cutAfter;
        up.on('data', (chunk: Buffer) => {
          if (left <= 0) return;
          res.write(chunk.subarray(0, left));
          left -= chunk.length;
          // A moment later, so the headers and bytes arrive before the connection drops.
          if (left <= 0) { up.destroy(); setTimeout(() => socket?.destroy(), 20); }
        });
        up.on('end', () => res.end());
      });
      forward.on('error', () => res.destroy());
      req.pipe(forward);
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.blobEndpoint = `${proxy.origin}/${DEV_ACCOUNT}`;
  proxy.close = () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); });
  return proxy;
}

/** A Storage error answer, as the service writes it (XML body with a code). */
export function storageError(status: number, code: string, message: string): { status: number; body: string; headers: Record<string, string> } {
  return {
    status,
    headers: { 'x-ms-error-code': code },
    body: `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`,
  };
}
