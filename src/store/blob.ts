import type { TokenCredential } from '@azure/core-auth';
import { DefaultAzureCredential } from '@azure/identity';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';

/**
 * Creates the audit container client: identity-based (`DefaultAzureCredential` + account URL) in
 * Azure, or a connection string for Azurite. Exactly one of the two must be given.
 * @throws Error when neither or both are given.
 */
export function auditContainer(options: {
  accountUrl?: string | undefined;
  connectionString?: string | undefined;
  container: string;
  credential?: TokenCredential;
}): ContainerClient {
  if (options.connectionString && options.accountUrl) {
    throw new Error('give either an audit storage account URL or a connection string, not both');
  }
  if (options.connectionString) {
    return BlobServiceClient.fromConnectionString(options.connectionString).getContainerClient(options.container);
  }
  if (options.accountUrl) {
    const service = new BlobServiceClient(options.accountUrl, options.credential ?? new DefaultAzureCredential());
    return service.getContainerClient(options.container);
  }
  throw new Error('no audit storage configured');
}
