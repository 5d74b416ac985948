/**
 * Endpoint URLs given by a user (`--arm-endpoint`, `--blob-account-url`, the `ARM_ENDPOINT`,
 * `AUDIT_STORAGE_ACCOUNT_URL` and `REPORT_BASE_URL` settings), checked before first use:
 * an endpoint must parse, must be `https` where a token travels, and must not carry credentials
 * (`https://user:secret@host`): credentials come from the credential chain, and a URL that holds
 * them would be printed in progress lines and errors. No message here repeats the credentials.
 */

/** Thrown for an endpoint that cannot be used; the message names the input, never its credentials. */
export class EndpointError extends Error {}

/** `scheme://host[:port]/path` of `url`, without user info, query or fragment: safe to print. */
export function printableUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname === '/' ? '' : url.pathname}`;
}

/**
 * Checks one endpoint.
 * @param name the flag or setting, e.g. `--arm-endpoint`, used in the message
 * @returns the parsed URL
 * @throws EndpointError when `value` is not a URL, carries credentials (user info, or a query or fragment), or is
 *   not https when `https` is asked
 */
export function checkEndpoint(name: string, value: string, o: { readonly https: boolean }): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    // The value may hold a secret the URL parser could not split off: do not repeat it.
    throw new EndpointError(`${name} is not a URL`);
  }
  if (url.username !== '' || url.password !== '')
    throw new EndpointError(`${name} must not carry credentials (user:password@ in the URL); the credential comes from az login, a managed identity or the environment`);
  // A query or fragment is where tokens travel (a SAS `sig=`, `access_token=`); these endpoints take neither.
  if (url.search !== '' || url.hash !== '')
    throw new EndpointError(`${name} must not carry a query or fragment (where tokens such as a SAS sig= travel); use Entra ID, or --blob-connection-string for Azurite`);
  if (o.https && url.protocol !== 'https:') throw new EndpointError(`${name} must be an https URL (got ${printableUrl(url)})`);
  return url;
}

/**
 * True when `value` parses as a URL without user name, password, query or fragment (for settings
 * schemas): the same test as `checkEndpoint`, without the scheme rule, which each setting states itself.
 */
export function hasNoCredentials(value: string): boolean {
  try {
    checkEndpoint('', value, { https: false });
    return true;
  } catch {
    return false;
  }
}
