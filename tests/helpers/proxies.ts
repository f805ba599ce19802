import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';

/** What the upstream app saw of one request. */
export interface EchoedRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly bodyLength: number;
}

export interface EchoApp {
  readonly port: number;
  readonly requests: EchoedRequest[];
  close(): Promise<void>;
}

/** A tiny app behind the proxy: answers 200 with the headers it received, as JSON. */
export async function startEchoApp(): Promise<EchoApp> {
  const requests: EchoedRequest[] = [];
  const server: Server = createServer((req, res) => {
    let bodyLength = 0;
    req.on('data', (chunk: Buffer) => {
      bodyLength += chunk.length;
    });
    req.on('end', () => {
      const seen = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        bodyLength,
      };
      requests.push(seen);
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(seen));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    port,
    requests,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

export interface RunningProxy {
  /** Base URLs on 127.0.0.1 and [::1]. */
  readonly urls: { readonly 4: string; readonly 6: string };
  stop(): Promise<void>;
}

/** Where the proxy finds ipgate and the app: both on 127.0.0.1. */
export interface ProxyTargets {
  readonly ipgatePort: number;
  readonly appPort: number;
}

/**
 * Runs Caddy with examples/Caddyfile as it is, only its environment placeholders set to
 * loopback addresses and free ports.
 */
export async function startCaddy(targets: ProxyTargets): Promise<RunningProxy> {
  const dir = await mkdtemp(join(tmpdir(), 'ipgate-caddy-'));
  const port = await freePort();
  const child = spawn(
    'caddy',
    ['run', '--config', 'examples/Caddyfile', '--adapter', 'caddyfile'],
    {
      env: {
        PATH: process.env.PATH,
        HOME: dir,
        XDG_CONFIG_HOME: dir,
        XDG_DATA_HOME: dir,
        CADDY_ADMIN: 'off',
        SITE_ADDRESS: `http://:${port}`,
        CADDY_BIND: '127.0.0.1 [::1]',
        IPGATE_ADDRESS: `127.0.0.1:${targets.ipgatePort}`,
        APP_ADDRESS: `127.0.0.1:${targets.appPort}`,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  return running(child, port, dir, 'caddy');
}

/**
 * Runs nginx with the server block of examples/nginx.conf, its listen ports and upstream
 * addresses replaced by loopback ones, inside a minimal main configuration.
 */
export async function startNginx(targets: ProxyTargets): Promise<RunningProxy> {
  const dir = await mkdtemp(join(tmpdir(), 'ipgate-nginx-'));
  const port = await freePort();
  const serverBlock = (await readFile('examples/nginx.conf', 'utf8'))
    .replace('listen 80;', `listen 127.0.0.1:${port};`)
    .replace('listen [::]:80;', `listen [::1]:${port};`)
    .replace('http://ipgate:8080/', `http://127.0.0.1:${targets.ipgatePort}/`)
    .replace('http://app:3000', `http://127.0.0.1:${targets.appPort}`);
  await mkdir(join(dir, 'logs'));
  const main = `
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log info;
events { worker_connections 64; }
http {
  access_log ${dir}/logs/access.log;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
${serverBlock}
}`;
  await writeFile(join(dir, 'nginx.conf'), main);
  const child = spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return running(child, port, dir, 'nginx');
}

async function running(
  child: ChildProcess,
  port: number,
  dir: string,
  name: string,
): Promise<RunningProxy> {
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  await waitForPort(
    port,
    () => child.exitCode !== null,
    () => `${name} did not start: ${stderr}`,
  );
  return {
    urls: { 4: `http://127.0.0.1:${port}`, 6: `http://[::1]:${port}` },
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function waitForPort(port: number, failed: () => boolean, why: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && !failed()) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(why());
}
