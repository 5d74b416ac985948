import { afterAll, beforeAll } from 'vitest';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { type Azurite, startAzurite } from '../../src/simulator/azurite.js';

/**
 * The one Azurite fixture of the test suite: call `useAzurite()` inside a `describe` (or at a
 * file's top level); Azurite starts before the block's first test and stops after its last. The
 * returned handle is valid inside tests and hooks only.
 */
export interface AzuriteFixture {
  readonly connectionString: string;
  readonly blobEndpoint: string;
  /** A container client of this Azurite's Blob service (not created). */
  container(name: string): ContainerClient;
}

export function useAzurite(options: { queue?: boolean } = {}): AzuriteFixture {
  let azurite: Azurite | undefined;
  beforeAll(async () => {
    azurite = await startAzurite(60_000, options);
  });
  afterAll(async () => {
    await azurite?.stop();
    azurite = undefined;
  });
  const started = (): Azurite => {
    if (!azurite) throw new Error('Azurite is not running: use the fixture inside a test or hook of the block that called useAzurite()');
    return azurite;
  };
  return {
    get connectionString() {
      return started().connectionString;
    },
    get blobEndpoint() {
      return started().blobEndpoint;
    },
    container: (name) => BlobServiceClient.fromConnectionString(started().connectionString).getContainerClient(name),
  };
}

/** Starts Azurite for the length of `fn` (a test that needs its own instance), and stops it. */
export async function withAzurite<T>(fn: (azurite: Azurite) => Promise<T>, options: { queue?: boolean } = {}): Promise<T> {
  const azurite = await startAzurite(60_000, options);
  try {
    return await fn(azurite);
  } finally {
    await azurite.stop();
  }
}
