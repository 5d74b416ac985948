import { z } from 'zod';
import { SEVERITIES, type Severity } from '../domain/rule.js';
import { SettingsError } from './settings.js';

/**
 * Alert webhook settings. `ALERT_WEBHOOKS` lists the webhooks (no secrets); each webhook's URL and
 * signing secret come from their own settings, `ALERT_WEBHOOK_<NAME>_URL` and
 * `ALERT_WEBHOOK_<NAME>_SECRET`, so that in Azure each can be a Key Vault reference
 * (`@Microsoft.KeyVault(SecretUri=…)`). Errors name the setting, never its value.
 */

export const WEBHOOK_FORMATS = ['cloudevents', 'teams', 'slack'] as const;
export type WebhookFormat = (typeof WEBHOOK_FORMATS)[number];

export interface WebhookConfig {
  /** Upper-case name, `[A-Z0-9_]`, used in setting names, logs and dead letters (never the URL). */
  readonly name: string;
  readonly format: WebhookFormat;
  readonly url: URL;
  /** Standard Webhooks secret (`whsec_…`); required for `cloudevents`. */
  readonly secret?: string;
  /** Transitions below this severity are not sent to this webhook. */
  readonly minSeverity: Severity;
  /** Allow destinations that resolve to private, loopback or link-local addresses (tests, the demo). */
  readonly allowPrivateDestinations: boolean;
}

const Entry = z
  .object({
    name: z.string().regex(/^[A-Z][A-Z0-9_]{0,39}$/, 'an upper-case name of letters, digits and _'),
    format: z.enum(WEBHOOK_FORMATS),
    minSeverity: z.enum(SEVERITIES as [Severity, ...Severity[]]).optional(),
    allowPrivateDestinations: z.boolean().optional(),
  })
  .strict();

/** The setting that holds webhook `name`'s URL: `ALERT_WEBHOOK_<NAME>_URL`. */
export function webhookUrlSetting(name: string): string {
  return `ALERT_WEBHOOK_${name}_URL`;
}

/** The setting that holds webhook `name`'s signing secret: `ALERT_WEBHOOK_<NAME>_SECRET`. */
export function webhookSecretSetting(name: string): string {
  return `ALERT_WEBHOOK_${name}_SECRET`;
}

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

/**
 * Checks a webhook URL: `https`, or plain `http` only to a loopback host (tests and the demo);
 * no credentials in the URL. @throws SettingsError naming `setting`.
 */
export function checkWebhookUrl(text: string, setting: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new SettingsError(`invalid settings: ${setting}: not a URL`);
  }
  if (url.protocol === 'http:' && !LOOPBACK.test(url.hostname)) {
    throw new SettingsError(`invalid settings: ${setting}: webhooks must use https (plain http only to a loopback address)`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new SettingsError(`invalid settings: ${setting}: webhooks must use https`);
  if (url.username || url.password) throw new SettingsError(`invalid settings: ${setting}: credentials in the URL are not allowed`);
  return url;
}

/**
 * Reads the webhooks from an environment; none when `ALERT_WEBHOOKS` is unset or empty.
 * @throws SettingsError naming the offending setting.
 */
export function loadWebhooks(env: Record<string, string | undefined>, defaultMinSeverity: Severity = 'high'): WebhookConfig[] {
  const text = env.ALERT_WEBHOOKS?.trim();
  if (!text) return [];
  let list: unknown;
  try {
    list = JSON.parse(text);
  } catch {
    throw new SettingsError('invalid settings: ALERT_WEBHOOKS: not JSON (expected an array of { name, format, minSeverity?, allowPrivateDestinations? })');
  }
  const parsed = z.array(Entry).safeParse(list);
  if (!parsed.success) {
    throw new SettingsError(`invalid settings: ALERT_WEBHOOKS: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  const names = new Set<string>();
  return parsed.data.map((e) => {
    if (names.has(e.name)) throw new SettingsError(`invalid settings: ALERT_WEBHOOKS: name ${e.name} appears twice`);
    names.add(e.name);
    const urlSetting = webhookUrlSetting(e.name);
    const secretSetting = webhookSecretSetting(e.name);
    const urlText = env[urlSetting];
    if (!urlText) throw new SettingsError(`invalid settings: ${urlSetting} is not set`);
    const secret = env[secretSetting] || undefined;
    if (e.format === 'cloudevents' && !secret) throw new SettingsError(`invalid settings: ${secretSetting} is required for a cloudevents webhook`);
    if (secret !== undefined && !/^whsec_[A-Za-z0-9+/]{32,}={0,2}$/.test(secret)) {
      throw new SettingsError(`invalid settings: ${secretSetting}: expected a Standard Webhooks secret (whsec_ followed by base64 of at least 24 bytes)`);
    }
    return {
      name: e.name,
      format: e.format,
      url: checkWebhookUrl(urlText, urlSetting),
      ...(secret ? { secret } : {}),
      minSeverity: e.minSeverity ?? defaultMinSeverity,
      allowPrivateDestinations: e.allowPrivateDestinations ?? false,
    };
  });
}
