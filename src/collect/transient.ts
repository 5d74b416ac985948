/**
 * The one answer to "is this HTTP status worth retrying?", for every client of this project: the
 * ARM and Resource Graph pacing policy (throttle.ts), ARM reads for change events (armReads.ts) and
 * webhook delivery (alerts/delivery.ts).
 *
 * Transient: 408 Request Timeout, 429 Too Many Requests, and 5xx except 501 Not Implemented and
 * 505 HTTP Version Not Supported, which state that the server does not support the request or its
 * protocol version (RFC 9110 §15.6.2, §15.6.6: https://www.rfc-editor.org/rfc/rfc9110#section-15.6),
 * so the same request fails the same way again. The Azure SDK's default retry policy draws the same
 * line (`@azure/core-rest-pipeline`, exponentialRetryStrategy: "408, or greater or equal than 500,
 * except for 501 and 505"; 429 is its throttling retry).
 */
export function isTransientStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status !== 501 && status !== 505);
}
