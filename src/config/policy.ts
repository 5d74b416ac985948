import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import type { RuleParameters } from '../domain/rule.js';
import { RULES } from '../rules/index.js';

/** RULES.md, "Parameters": the defaults. */
export const DEFAULT_PARAMETERS: RuleParameters = {
  perimeterKinds: ['OpenAI', 'AIServices'],
  maxRuleAddresses: 65536,
  expectedBypass: 'AzureServices',
  dataAccessRoleIds: [
    '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1',
    'ba92f5b4-2d11-453d-a403-e96b0029c9fe',
    'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
    '1407120a-92aa-4202-b7e9-c0e197c71c8f',
    '8ebe5a00-799e-43f5-93ac-243d3dce84a7',
  ],
  privilegedRoleIds: [
    '8e3af657-a8ff-443c-a75c-2fe8c4bcb635',
    'b24988ac-6180-42a0-ab88-20f7382dd24c',
    '18d7d88d-d35e-4fb5-a5c3-7773c20a72d9',
    'f58310d9-a9f6-439a-9e8d-f62e7b41a168',
  ],
  deepInspection: true,
};

/** The effective policy: parameters and the set of enabled rule IDs. */
export interface Policy {
  readonly parameters: RuleParameters;
  readonly enabledRules: ReadonlySet<string>;
}

const guid = z.string().regex(/^[0-9a-fA-F-]{36}$/, 'a role definition GUID');

/**
 * The policy file schema (JSON). Every field is optional; absent fields keep their defaults.
 * Unknown fields are errors, so a typo never silently keeps a default.
 */
export const PolicyFileSchema = z
  .object({
    parameters: z
      .object({
        perimeterKinds: z.array(z.string().min(1)).min(1),
        maxRuleAddresses: z.number().int().positive(),
        expectedBypass: z.enum(['AzureServices', 'None']),
        dataAccessRoleIds: z.array(guid),
        privilegedRoleIds: z.array(guid),
        deepInspection: z.boolean(),
      })
      .partial()
      .strict(),
    rules: z.record(z.string(), z.object({ enabled: z.boolean() }).strict()),
  })
  .partial()
  .strict();

export type PolicyFile = z.infer<typeof PolicyFileSchema>;

/** The default policy: default parameters, every rule that is on by default. */
export function defaultPolicy(): Policy {
  return {
    parameters: DEFAULT_PARAMETERS,
    enabledRules: new Set(RULES.filter((r) => r.enabledByDefault).map((r) => r.id)),
  };
}

/** Thrown for a policy that does not validate; the message names the file and the field. */
export class PolicyError extends Error {}

/**
 * Builds the effective policy from a parsed policy document.
 * @throws PolicyError naming `source` and the offending field.
 */
export function policyFrom(document: unknown, source: string): Policy {
  const parsed = PolicyFileSchema.safeParse(document);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new PolicyError(`${source}: ${issues}`);
  }
  const base = defaultPolicy();
  const enabled = new Set(base.enabledRules);
  for (const [key, value] of Object.entries(parsed.data.rules ?? {})) {
    const rule = RULES.find((r) => r.id.toLowerCase() === key.toLowerCase() || r.slug === key);
    if (!rule) throw new PolicyError(`${source}: rules.${key}: no such rule`);
    if (value.enabled) enabled.add(rule.id);
    else enabled.delete(rule.id);
  }
  const p = parsed.data.parameters ?? {};
  const lower = (ids: string[] | undefined) => ids?.map((id) => id.toLowerCase());
  return {
    parameters: {
      ...DEFAULT_PARAMETERS,
      ...p,
      ...(p.dataAccessRoleIds ? { dataAccessRoleIds: lower(p.dataAccessRoleIds) ?? [] } : {}),
      ...(p.privilegedRoleIds ? { privilegedRoleIds: lower(p.privilegedRoleIds) ?? [] } : {}),
    },
    enabledRules: enabled,
  };
}

/**
 * Reads and validates a JSON policy file.
 * @throws PolicyError when the file cannot be read, is not JSON, or does not validate.
 */
export async function loadPolicyFile(path: string): Promise<Policy> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new PolicyError(`${path}: cannot read the policy file (${(error as Error).message})`);
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new PolicyError(`${path}: not valid JSON (${(error as Error).message})`);
  }
  return policyFrom(document, path);
}
