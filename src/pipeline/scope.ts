import { type ProgressLog, type ScanScope, subscriptionsUnder } from '../collect/collector.js';
import type { ResourceGraphReader } from '../collect/resourceGraph.js';
import type { Policy, ScopeList } from '../config/policy.js';

/**
 * Step 1 of the pipeline (docs/architecture.md): what a scan or a change event covers. One rule for
 * every entry point: the scope the caller names (CLI flags, `SCAN_SUBSCRIPTIONS` /
 * `SCAN_MANAGEMENT_GROUPS`) comes first, else the policy's `scope.include`; the policy's
 * `scope.exclude` always applies; the policy's resource groups (include and exclude) filter
 * accounts after subscriptions are chosen (README, "Policy").
 */

/** The resolved scope of a scan or an event. */
export interface ScopeSpec {
  /** Subscriptions and management groups to read; both empty: the tenant. */
  readonly include: ScanScope;
  /** Resource group IDs (`/subscriptions/{id}/resourceGroups/{name}`) the policy limits accounts to; empty: no limit. */
  readonly resourceGroups: readonly string[];
  /** What the policy excludes. */
  readonly exclude: ScopeList;
}

/** The scope of a scan or event: `given` first, else the policy's include; the policy's exclusions. */
export function scopeSpec(given: ScanScope, policy: Policy): ScopeSpec {
  const include = policy.scope.include;
  const named = given.subscriptions.length + given.managementGroups.length > 0;
  return {
    include: named ? given : { subscriptions: include.subscriptions, managementGroups: include.managementGroups },
    resourceGroups: include.resourceGroups,
    exclude: policy.scope.exclude,
  };
}

const rgKey = (a: { subscriptionId: string; resourceGroup: string }) => `/subscriptions/${a.subscriptionId}/resourcegroups/${a.resourceGroup}`.toLowerCase();

/**
 * The policy's resource-group filter over accounts of subscriptions already in scope; remembers
 * the included resource groups it saw so a typo can be reported (`warnUnseen`).
 */
export class ResourceGroupFilter {
  private readonly included: ReadonlySet<string>;
  private readonly excluded: ReadonlySet<string>;
  private readonly seen = new Set<string>();

  constructor(spec: Pick<ScopeSpec, 'resourceGroups' | 'exclude'>) {
    this.included = new Set(spec.resourceGroups.map((r) => r.toLowerCase()));
    this.excluded = new Set(spec.exclude.resourceGroups.map((r) => r.toLowerCase()));
  }

  /** True when the account's resource group is in scope. */
  has(account: { subscriptionId: string; resourceGroup: string }): boolean {
    const key = rgKey(account);
    if (this.included.size > 0 && !this.included.has(key)) return false;
    this.seen.add(key);
    return !this.excluded.has(key);
  }

  /** The included resource groups no account was seen in (lower-case IDs). */
  unseen(): string[] {
    return [...this.included].filter((rg) => !this.seen.has(rg));
  }
}

/**
 * Logs each resource group the policy includes that no shard found an account in (a typo?).
 * @param unseenByPart each part's `unseenResourceGroups`
 */
export function warnUnseenResourceGroups(unseenByPart: ReadonlyArray<readonly string[]>, log: ProgressLog): void {
  const [first, ...rest] = unseenByPart;
  for (const rg of first ?? []) if (rest.every((u) => u.includes(rg))) log(`warning: the policy includes resource group ${rg}, but no AI account was found in it (a typo?)`);
}

/**
 * The scope test of one account for a change event: the same subscriptions a scan would read
 * (named subscriptions, those under named management groups — one Resource Graph listing per
 * management group the spec names — minus exclusions), then the resource-group filter.
 * @throws the Resource Graph error when a named management group cannot be listed (the event is
 *   retried); Error when management groups are named and no reader is given
 */
export async function accountScope(
  graph: ResourceGraphReader | undefined,
  spec: ScopeSpec,
): Promise<(account: { subscriptionId: string; resourceGroup: string }) => boolean> {
  const under = async (groups: readonly string[]) => {
    const out = new Set<string>();
    if (groups.length > 0 && !graph) throw new Error(`the scope names management groups (${groups.join(', ')}): listing their subscriptions needs a Resource Graph reader`);
    for (const g of groups) for (const s of await subscriptionsUnder(graph as ResourceGraphReader, g)) out.add(s.id.toLowerCase());
    return out;
  };
  const wholeTenant = spec.include.subscriptions.length + spec.include.managementGroups.length === 0;
  const included = new Set([...spec.include.subscriptions.map((s) => s.toLowerCase()), ...(await under(spec.include.managementGroups))]);
  const excluded = new Set([...spec.exclude.subscriptions.map((s) => s.toLowerCase()), ...(await under(spec.exclude.managementGroups))]);
  const groups = new ResourceGroupFilter(spec);
  return (account) => {
    const sub = account.subscriptionId.toLowerCase();
    return (wholeTenant || included.has(sub)) && !excluded.has(sub) && groups.has(account);
  };
}
