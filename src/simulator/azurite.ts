import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Spawns Azurite from `node_modules` (no containers) on an ephemeral loopback port, in memory.
 * Used by the integration tests and by `perimeter-auditor demo`.
 */

/** Azurite's documented development account key: public, identical in every Azurite install. */
const DEV_ACCOUNT = 'devstoreaccount1';
const DEV_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface Azurite {
  readonly blobEndpoint: string;
  /** Set when the Queue service was started too. */
  readonly queueEndpoint?: string;
  /** Connection string for `BlobServiceClient.fromConnectionString`. */
  readonly connectionString: string;
  stop(): Promise<void>;
}

function findBin(name: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'node_modules', '.bin', name);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find ${name} in node_modules (run npm ci)`);
    dir = parent;
  }
}

async function spawnService(service: 'blob' | 'queue', timeoutMs: number): Promise<{ child: ChildProcess; port: number }> {
  const child: ChildProcess = spawn(
    findBin(`azurite-${service}`),
    [`--${service}Host`, '127.0.0.1', `--${service}Port`, '0', '--inMemoryPersistence', '--disableTelemetry', '--skipApiVersionCheck', '--silent'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const port = await new Promise<number>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`Azurite ${service} did not start within ${timeoutMs} ms: ${output.slice(-500)}`));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const m = /(?:listening at|listens on) https?:\/\/127\.0\.0\.1:(\d+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Azurite ${service} exited with code ${code}: ${output.slice(-500)}`));
    });
  });
  return { child, port };
}

const stopChild = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });

/**
 * Starts the Blob service, and the Queue service when `options.queue` (each its own process, as
 * `azurite-blob` and `azurite-queue`). Resolves when Azurite prints its ports (about 1 s each).
 * @throws Error when Azurite exits or does not report a port within `timeoutMs` (default 30000 ms).
 */
export async function startAzurite(timeoutMs = 30_000, options: { queue?: boolean } = {}): Promise<Azurite> {
  const blob = await spawnService('blob', timeoutMs);
  const queue = options.queue ? await spawnService('queue', timeoutMs).catch(async (error: unknown) => {
    await stopChild(blob.child);
    throw error;
  }) : undefined;
  const blobEndpoint = `http://127.0.0.1:${blob.port}/${DEV_ACCOUNT}`;
  const queueEndpoint = queue ? `http://127.0.0.1:${queue.port}/${DEV_ACCOUNT}` : undefined;
  return {
    blobEndpoint,
    ...(queueEndpoint ? { queueEndpoint } : {}),
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${DEV_ACCOUNT};AccountKey=${DEV_KEY};BlobEndpoint=${blobEndpoint};${queueEndpoint ? `QueueEndpoint=${queueEndpoint};` : ''}`,
    stop: async () => {
      await Promise.all([stopChild(blob.child), ...(queue ? [stopChild(queue.child)] : [])]);
    },
  };
}
