import { z } from 'zod';
import { type Observed, read, unread } from '../domain/observed.js';
import { idKey, lastSegment, parentId, parseResourceId, sameId } from '../domain/resourceId.js';
import type {
  AccessLogReading,
  AccessRule,
  AccountSnapshot,
  ManagedIdentity,
  NetworkSettings,
  PerimeterAssociation,
  PerimeterConfiguration,
  PrivateEndpointConnection,
  RoleAssignment,
  SearchService,
  StorageAccount,
  TenantContext,
} from '../domain/snapshot.js';
import { type RawInventory, type SubscriptionCoverage, TABLES, type TableRead } from './inventory.js';

/**
 * Raw Resource Graph rows and ARM responses → account snapshots and tenant context.
 *
 * - Azure's defaults for absent (or null) properties are applied here and only here
 *   (RULES.md, "Azure defaults applied by the normalizer"); see `AZURE_DEFAULTS`.
 * - Every filter the queries applied is checked again (table type, subscription scope), and rows
 *   are de-duplicated by ID, so a source that returns extra rows changes nothing.
 * - A malformed part of a row makes only that part `unread`; a row that cannot be attributed to a
 *   resource makes the whole table's data unread, because it could concern any account.
 */

/** The defaults of RULES.md, written once. */
export const AZURE_DEFAULTS = {
  publicNetworkAccess: 'Enabled',
  defaultAction: 'Allow',
  bypass: 'None',
  disableLocalAuth: false,
  restrictOutboundNetworkAccess: false,
  identityType: 'None',
  keySource: 'Microsoft.CognitiveServices',
  accessMode: 'Learning',
  provisioningState: 'Succeeded',
} as const;

/** The normalizer's output. */
export interface NormalizedTenant {
  readonly accounts: AccountSnapshot[];
  readonly tenant: TenantContext;
  /** Rows that could not be used, in words (for scan.json coverage). */
  readonly problems: string[];
}

const optStr = z.string().nullish();
const optStrArray = z.array(z.string()).nullish();
/** Account properties read per account (made once: building a zod schema costs more than using it). */
const OptionalBooleanSchema = z.boolean().nullish();
const EncryptionSchema = z.object({ keySource: optStr }).nullish();

const NetworkSchema = z.object({
  publicNetworkAccess: optStr,
  networkAcls: z
    .object({
      defaultAction: optStr,
      bypass: optStr,
      ipRules: z.array(z.object({ value: z.string() })).nullish(),
      virtualNetworkRules: z.array(z.object({ id: z.string() })).nullish(),
    })
    .nullish(),
});

const IdentitySchema = z
  .object({
    type: optStr,
    principalId: optStr,
    userAssignedIdentities: z.record(z.string(), z.object({ principalId: optStr }).nullish()).nullish(),
  })
  .nullish();

const PrivateEndpointsSchema = z
  .array(
    z.object({
      id: optStr,
      properties: z.object({ privateLinkServiceConnectionState: z.object({ status: optStr }).nullish() }).nullish(),
    }),
  )
  .nullish();

const AssociationSchema = z.object({
  id: z.string().min(1),
  properties: z.object({
    privateLinkResource: z.object({ id: z.string().min(1) }),
    profile: z.object({ id: optStr }).nullish(),
    accessMode: optStr,
    provisioningState: optStr,
  }),
});

const AccessRuleSchema = z.object({
  id: z.string().min(1),
  name: optStr,
  properties: z.object({
    direction: z.string(),
    addressPrefixes: optStrArray,
    subscriptions: z.array(z.object({ id: z.string() })).nullish(),
    fullyQualifiedDomainNames: optStrArray,
  }),
});

const RoleAssignmentSchema = z.object({
  id: z.string().min(1),
  properties: z.object({
    principalId: z.string().min(1),
    roleDefinitionId: z.string().min(1),
    scope: z.string(),
  }),
});

const ConfigurationSchema = z.object({
  name: optStr,
  properties: z
    .object({
      provisioningState: optStr,
      provisioningIssues: z
        .array(
          z.object({
            name: optStr,
            properties: z.object({ issueType: optStr, severity: optStr, description: optStr }).nullish(),
          }),
        )
        .nullish(),
      networkSecurityPerimeter: z.object({ id: optStr }).nullish(),
      resourceAssociation: z.object({ name: optStr, accessMode: optStr }).nullish(),
      profile: z.object({ name: optStr, enabledLogCategories: optStrArray }).nullish(),
    })
    .nullish(),
});

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function describe(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.join('.') || '(row)'}: ${i.message}`)
    .join('; ');
}

function parsePart<T, U>(schema: z.ZodType<T>, value: unknown, what: string, build: (v: T) => U): Observed<U> {
  const r = schema.safeParse(value);
  return r.success ? read(build(r.data)) : unread(`malformed ${what} (${describe(r.error)})`);
}

/** A row as read: an object, or its JSON text (the collector keeps account rows as text to save memory). */
function rowObject(row: unknown): unknown {
  if (typeof row !== 'string') return row;
  try {
    return JSON.parse(row);
  } catch {
    return undefined;
  }
}

/** Rows of the expected type, de-duplicated by lower-case ID (first one wins); lazily, one at a time. */
function* rowsOfType(table: TableRead, type: string): Generator<Record<string, unknown>> {
  const seen = new Set<string>();
  for (const raw of table.rows) {
    const row = rowObject(raw);
    if (!isRecord(row)) continue;
    const rowType = str(row.type);
    if (rowType !== undefined && !sameId(rowType, type)) continue;
    const id = str(row.id);
    if (id !== undefined) {
      if (seen.has(idKey(id))) continue;
      seen.add(idKey(id));
    }
    yield row;
  }
}

/** Per-key data with per-key and table-wide read failures. */
class Index<T> {
  private readonly items = new Map<string, T[]>();
  private readonly failures = new Map<string, string>();
  constructor(private tableFailure: string | undefined) {}
  add(key: string, item: T): void {
    const list = this.items.get(key);
    if (list) list.push(item);
    else this.items.set(key, [item]);
  }

  fail(key: string, reason: string): void {
    if (!this.failures.has(key)) this.failures.set(key, reason);
  }

  failAll(reason: string): void {
    this.tableFailure ??= reason;
  }

  /** The table could not be read: this reason wins over a malformed row's. */
  failTable(reason: string): void {
    this.tableFailure = reason;
  }

  /** Whether `key` already holds an item with this ID (a row read twice). */
  has(key: string, id: string): boolean {
    return this.items.get(key)?.some((item) => sameId((item as { id?: string }).id ?? '', id)) ?? false;
  }

  get(key: string): Observed<T[]> {
    if (this.tableFailure !== undefined) return unread(this.tableFailure);
    const failure = this.failures.get(key);
    if (failure !== undefined) return unread(failure);
    return read(this.items.get(key) ?? []);
  }

  /** Every item read, key after key (malformed rows are not items). */
  * all(): Generator<T> {
    for (const list of this.items.values()) yield* list;
  }
}

function normalizeAssociation(row: z.infer<typeof AssociationSchema>): PerimeterAssociation {
  const perimeterId = parentId(row.id);
  return {
    id: row.id,
    perimeterId,
    perimeterName: lastSegment(perimeterId),
    profileId: row.properties.profile?.id ?? '',
    accessMode: row.properties.accessMode ?? AZURE_DEFAULTS.accessMode,
    provisioningState: row.properties.provisioningState ?? AZURE_DEFAULTS.provisioningState,
    resourceId: row.properties.privateLinkResource.id,
  };
}

function identityOf(raw: unknown): Observed<ManagedIdentity> {
  return parsePart(IdentitySchema, raw, 'identity', (id) => {
    const type = id?.type ?? AZURE_DEFAULTS.identityType;
    const parts = type.split(',').map((p) => p.trim().toLowerCase());
    const principals: string[] = [];
    if (id?.principalId) principals.push(id.principalId.toLowerCase());
    for (const uai of Object.values(id?.userAssignedIdentities ?? {})) {
      if (uai?.principalId) principals.push(uai.principalId.toLowerCase());
    }
    return {
      type,
      systemAssigned: parts.includes('systemassigned'),
      userAssigned: parts.includes('userassigned'),
      principalIds: [...new Set(principals)],
    };
  });
}

/** Why the principals of an identity are incomplete, or undefined when they are all known. */
function missingPrincipals(raw: unknown, identity: ManagedIdentity): string | undefined {
  if (!isRecord(raw)) return undefined;
  if (identity.systemAssigned && !str(raw.principalId)) {
    return 'the system-assigned identity has no principalId in the row';
  }
  if (identity.userAssigned) {
    const uais = isRecord(raw.userAssignedIdentities) ? Object.values(raw.userAssignedIdentities) : [];
    if (uais.length === 0) return 'the identity is UserAssigned but lists no user-assigned identities';
    if (uais.some((u) => !isRecord(u) || !str(u.principalId)))
      return 'a user-assigned identity has no principalId in the row';
  }
  return undefined;
}

function configurationsOf(list: readonly unknown[]): Observed<PerimeterConfiguration[]> {
  const out: PerimeterConfiguration[] = [];
  for (const item of list) {
    const r = ConfigurationSchema.safeParse(item);
    if (!r.success) return unread(`malformed perimeter configuration (${describe(r.error)})`);
    const p = r.data.properties;
    out.push({
      name: r.data.name ?? '',
      provisioningState: p?.provisioningState ?? 'Unknown',
      provisioningIssues: (p?.provisioningIssues ?? []).map((i) => ({
        issueType: i.properties?.issueType ?? i.name ?? 'Unknown',
        severity: i.properties?.severity ?? 'Unknown',
        description: i.properties?.description ?? '',
      })),
      perimeterId: p?.networkSecurityPerimeter?.id ?? '',
      accessMode: p?.resourceAssociation?.accessMode ?? '',
      enabledLogCategories: p?.profile?.enabledLogCategories ?? [],
    });
  }
  return read(out);
}

/**
 * Normalizes a raw inventory. Never throws on row content: what cannot be read becomes `unread`.
 * Perimeter configurations (deep inspection) are attached afterwards with `withPerimeterConfigurations`.
 *
 * @param raw the collector's Resource Graph output
 */
export function normalize(raw: RawInventory): NormalizedTenant {
  const prepared = prepareTenant(raw);
  const accounts = [...normalizeAccounts(raw.tables.accounts, prepared)];
  accounts.sort((a, b) => idKey(a.id).localeCompare(idKey(b.id)));
  return { accounts, tenant: prepared.tenant, problems: prepared.problems };
}

/** Everything but the accounts, indexed for joining: what `normalizeAccounts` needs. */
export interface PreparedTenant {
  readonly tenant: TenantContext;
  /** Problems found so far; `normalizeAccounts` appends to it. */
  readonly problems: string[];
  readonly readableSubscriptions: ReadonlySet<string>;
  readonly indexes: Indexes;
  /** What the perimeter's access logs say, by lower-case account ID (NSP-07; the plan reads them once per scan). */
  readonly accessLogs?: ReadonlyMap<string, AccessLogReading>;
}

/** The context tables an indexer takes (inventory.ts `TABLES`): all but subscriptions and accounts. */
export type ContextTableName = 'storageAccounts' | 'associations' | 'accessRules' | 'roleAssignments' | 'cosmosAccounts' | 'searchServices';

/**
 * Indexes the non-account tables (associations, access rules, role assignments, storage accounts)
 * of a raw inventory. Never throws on row content.
 */
export function prepareTenant(raw: Pick<RawInventory, 'subscriptions' | 'tables'>): PreparedTenant {
  const indexer = new ContextIndexer();
  const names: readonly ContextTableName[] = ['storageAccounts', 'associations', 'accessRules', 'roleAssignments', 'cosmosAccounts', 'searchServices'];
  // An inventory without a data-source table (a change event's) leaves those data sources unknown to the rules.
  const present = names.filter((name) => raw.tables[name] !== undefined);
  for (const name of present) indexer.add(name, raw.tables[name]?.rows ?? []);
  return indexer.finish(
    Object.fromEntries(present.map((name) => [name, raw.tables[name]?.failure])) as Partial<Record<ContextTableName, string>>,
    raw.subscriptions,
    present,
  );
}

/** One string for equal strings (role definition IDs, scope prefixes, perimeter and profile IDs): memory, not identity. */
class Interner {
  private readonly seen = new Map<string, string>();
  of(s: string): string {
    const known = this.seen.get(s);
    if (known !== undefined) return known;
    const own = flat(s);
    this.seen.set(own, own);
    return own;
  }
}

/**
 * A copy of `s` that holds no larger string alive: V8 makes substrings of 13 characters or more
 * views into their parent (a role assignment's 200-character ID kept alive by its 36-character GUID).
 */
function flat(s: string): string {
  return s.length < 13 ? s : (JSON.parse(JSON.stringify(s)) as string);
}

const ROLE_ASSIGNMENTS_SEGMENT = '/providers/Microsoft.Authorization/roleAssignments/';

/**
 * A role assignment as the index keeps it (the context's largest table: 190,000 rows at 100,000
 * accounts): its scope as an interned parent and a last segment, its role definition interned, and
 * of its ID only the GUID when the ID is `{scope}/providers/Microsoft.Authorization/roleAssignments/{guid}`.
 * `RoleAssignment`s are made from it when an account is joined.
 */
interface CompactAssignment {
  /** The scope up to its last `/` (undefined: the scope has none). */
  readonly scopeParent: string | undefined;
  readonly scopeName: string;
  /** The ID's last segment when the ID is the scope's role assignment path, else the whole ID. */
  readonly idTail: string;
  readonly derivedId: boolean;
  readonly roleDefinitionId: string;
}

/** Role assignments by lower-case principal ID, kept compact (`CompactAssignment`); `get` makes `RoleAssignment`s. */
class AssignmentIndex {
  private readonly items = new Map<string, CompactAssignment | CompactAssignment[]>();
  private readonly failures = new Map<string, string>();
  private readonly roleIds = new Map<string, string>();
  constructor(
    private readonly strings: Interner,
    private tableFailure: string | undefined = undefined,
  ) {}

  /** Adds one assignment; an ID the principal already holds is not added again (a row read twice). */
  add(principal: string, id: string, roleDefinitionId: string, scope: string): void {
    const cut = scope.lastIndexOf('/');
    const derivedId
      = id.length > scope.length + ROLE_ASSIGNMENTS_SEGMENT.length && id.startsWith(scope) && id.startsWith(ROLE_ASSIGNMENTS_SEGMENT, scope.length);
    const item: CompactAssignment = {
      scopeParent: cut < 0 ? undefined : this.strings.of(scope.slice(0, cut)),
      scopeName: flat(scope.slice(cut + 1)),
      idTail: derivedId ? flat(id.slice(scope.length + ROLE_ASSIGNMENTS_SEGMENT.length)) : id,
      derivedId,
      roleDefinitionId: this.strings.of(roleDefinitionId),
    };
    // The key is the row's own string (lower-cased), which holds nothing larger.
    const key = principal;
    const known = this.items.get(key);
    if (known === undefined) {
      this.items.set(key, item);
      return;
    }
    const list = Array.isArray(known) ? known : [known];
    if (list.some((k) => sameId(this.idOf(k), id))) return;
    list.push(item);
    if (!Array.isArray(known)) this.items.set(key, list);
  }

  fail(key: string, reason: string): void {
    if (!this.failures.has(key)) this.failures.set(key, reason);
  }

  failAll(reason: string): void {
    this.tableFailure ??= reason;
  }

  /** The table could not be read: this reason wins over a malformed row's. */
  failTable(reason: string): void {
    this.tableFailure = reason;
  }

  private scopeOf(a: CompactAssignment): string {
    return a.scopeParent === undefined ? a.scopeName : `${a.scopeParent}/${a.scopeName}`;
  }

  private idOf(a: CompactAssignment): string {
    return a.derivedId ? `${this.scopeOf(a)}${ROLE_ASSIGNMENTS_SEGMENT}${a.idTail}` : a.idTail;
  }

  private roleIdOf(roleDefinitionId: string): string {
    let roleId = this.roleIds.get(roleDefinitionId);
    if (roleId === undefined) this.roleIds.set(roleDefinitionId, (roleId = flat(lastSegment(roleDefinitionId).toLowerCase())));
    return roleId;
  }

  get(principal: string): Observed<RoleAssignment[]> {
    if (this.tableFailure !== undefined) return unread(this.tableFailure);
    const failure = this.failures.get(principal);
    if (failure !== undefined) return unread(failure);
    const known = this.items.get(principal);
    const list = known === undefined ? [] : Array.isArray(known) ? known : [known];
    return read(list.map((a) => ({
      id: this.idOf(a),
      principalId: principal,
      roleDefinitionId: a.roleDefinitionId,
      roleId: this.roleIdOf(a.roleDefinitionId),
      scope: this.scopeOf(a),
    })));
  }
}

/**
 * Storage accounts by lower-case ID (ID-04), kept as an interned parent and a name; a
 * `StorageAccount` is made on `get`, its perimeters from the association index as it is then (the
 * storage table is read before the associations).
 */
class StorageAccountMap implements ReadonlyMap<string, StorageAccount> {
  private readonly items = new Map<string, { readonly parent: string; readonly name: string }>();
  constructor(
    private readonly strings: Interner,
    private readonly associations: Index<PerimeterAssociation>,
  ) {}

  /** Adds a storage account unless its ID is known (first one wins). */
  add(id: string, name: string): void {
    const key = idKey(id);
    if (this.items.has(key)) return;
    const trimmed = id.replace(/\/+$/, '');
    this.items.set(flat(key), { parent: this.strings.of(trimmed.slice(0, trimmed.lastIndexOf('/'))), name: flat(name) });
  }

  get size(): number {
    return this.items.size;
  }

  has(key: string): boolean {
    return this.items.has(key);
  }

  get(key: string): StorageAccount | undefined {
    const item = this.items.get(key);
    if (item === undefined) return undefined;
    const perimeterIds = this.associations.get(key);
    return {
      id: `${item.parent}/${item.name}`,
      name: item.name,
      perimeterIds: perimeterIds.ok
        ? read(new Set(perimeterIds.value.filter((a) => sameId(a.provisioningState, 'Succeeded')).map((a) => idKey(a.perimeterId))))
        : perimeterIds,
    };
  }

  * entries(): MapIterator<[string, StorageAccount]> {
    for (const key of this.items.keys()) yield [key, this.get(key) as StorageAccount];
  }

  keys(): MapIterator<string> {
    return this.items.keys();
  }

  * values(): MapIterator<StorageAccount> {
    for (const [, v] of this.entries()) yield v;
  }

  [Symbol.iterator](): MapIterator<[string, StorageAccount]> {
    return this.entries();
  }

  forEach(f: (value: StorageAccount, key: string, map: ReadonlyMap<string, StorageAccount>) => void, thisArg?: unknown): void {
    for (const [k, v] of this.entries()) f.call(thisArg, v, k, this);
  }
}

/**
 * Indexes the context tables as their rows arrive (`add`, a page or a batch at a time, in the
 * tables' order), so a plan never holds a table's raw rows: the rows are dropped once indexed, and
 * the indexes keep what the rules read, compactly. `finish` makes the PreparedTenant. Rows are
 * checked as `prepareTenant` always did: the type filter again, malformed rows as problems (or a
 * table-wide failure when they could concern any account), and a row read twice (the same ID
 * under the same key) counted once.
 */
export class ContextIndexer {
  private readonly problems: string[] = [];
  private readonly strings = new Interner();
  private readonly associations = new Index<PerimeterAssociation>(undefined);
  private readonly rules = new Index<AccessRule>(undefined);
  private readonly assignments = new AssignmentIndex(this.strings);
  private readonly storageAccounts = new StorageAccountMap(this.strings, this.associations);
  private readonly cosmosAccounts = new StorageAccountMap(this.strings, this.associations);
  private readonly searchServices = new Map<string, SearchService>();

  /** Indexes rows of one table (objects, or their JSON text). */
  add(table: ContextTableName, rows: readonly unknown[]): void {
    const { problems } = this;
    if (table === 'associations') {
      for (const row of rowsOfType({ rows }, TABLES.associations.type)) {
        const r = AssociationSchema.safeParse(row);
        if (r.success) {
          const key = idKey(r.data.properties.privateLinkResource.id);
          if (!this.associations.has(key, r.data.id)) this.associations.add(key, this.compactAssociation(normalizeAssociation(r.data)));
          continue;
        }
        const props = isRecord(row.properties) ? row.properties : {};
        const target = isRecord(props.privateLinkResource) ? str(props.privateLinkResource.id) : undefined;
        const reason = `malformed perimeter association row ${str(row.id) ?? '(no id)'} (${describe(r.error)})`;
        if (target) this.associations.fail(idKey(target), reason);
        else this.associations.failAll(`${reason}; it could concern any account`);
        problems.push(target ? reason : `${reason}; it could concern any account`);
      }
    } else if (table === 'accessRules') {
      for (const row of rowsOfType({ rows }, TABLES.accessRules.type)) {
        const r = AccessRuleSchema.safeParse(row);
        const id = str(row.id);
        if (r.success) {
          const profileId = this.strings.of(parentId(r.data.id));
          if (this.rules.has(idKey(profileId), r.data.id)) continue;
          this.rules.add(idKey(profileId), {
            id: r.data.id,
            name: r.data.name ?? lastSegment(r.data.id),
            profileId,
            direction: this.strings.of(r.data.properties.direction),
            addressPrefixes: r.data.properties.addressPrefixes ?? [],
            subscriptionIds: (r.data.properties.subscriptions ?? []).map((s) => s.id),
            fullyQualifiedDomainNames: r.data.properties.fullyQualifiedDomainNames ?? [],
          });
          continue;
        }
        const reason = `malformed access rule row ${id ?? '(no id)'} (${describe(r.error)})`;
        if (id) this.rules.fail(idKey(parentId(id)), reason);
        else this.rules.failAll(`${reason}; it could belong to any profile`);
        problems.push(id ? reason : `${reason}; it could belong to any profile`);
      }
    } else if (table === 'roleAssignments') {
      for (const row of rowsOfType({ rows }, TABLES.roleAssignments.type)) {
        const r = RoleAssignmentSchema.safeParse(row);
        if (r.success) {
          const p = r.data.properties;
          this.assignments.add(p.principalId.toLowerCase(), r.data.id, p.roleDefinitionId, p.scope);
          continue;
        }
        const props = isRecord(row.properties) ? row.properties : {};
        const principal = str(props.principalId);
        const reason = `malformed role assignment row ${str(row.id) ?? '(no id)'} (${describe(r.error)})`;
        if (principal) this.assignments.fail(principal.toLowerCase(), reason);
        else this.assignments.failAll(`${reason}; it could concern any principal`);
        problems.push(principal ? reason : `${reason}; it could concern any principal`);
      }
    } else if (table === 'cosmosAccounts' || table === 'searchServices') {
      for (const row of rowsOfType({ rows }, TABLES[table].type)) {
        const id = str(row.id);
        const parsed = id === undefined ? undefined : parseResourceId(id);
        if (id === undefined || parsed === undefined) {
          problems.push(`${table === 'cosmosAccounts' ? 'Cosmos DB account' : 'Search service'} row without a valid id (${JSON.stringify(row.id ?? null)})`);
          continue;
        }
        if (table === 'cosmosAccounts') this.cosmosAccounts.add(id, parsed.name);
        else if (!this.searchServices.has(idKey(id))) this.searchServices.set(flat(idKey(id)), { id: flat(id), name: flat(parsed.name) });
      }
    } else {
      for (const row of rowsOfType({ rows }, TABLES.storageAccounts.type)) {
        const id = str(row.id);
        const parsed = id === undefined ? undefined : parseResourceId(id);
        if (id === undefined || parsed === undefined) {
          problems.push(`storage account row without a valid id (${JSON.stringify(row.id ?? null)})`);
          continue;
        }
        this.storageAccounts.add(id, parsed.name);
      }
    }
  }

  /** An association with its repeated strings interned. */
  private compactAssociation(a: PerimeterAssociation): PerimeterAssociation {
    const s = this.strings;
    return {
      ...a,
      perimeterId: s.of(a.perimeterId),
      perimeterName: s.of(a.perimeterName),
      profileId: s.of(a.profileId),
      accessMode: s.of(a.accessMode),
      provisioningState: s.of(a.provisioningState),
    };
  }

  /**
   * The associations indexed so far: every one once the associations table is read (its failure, if
   * any, is not in it until `finish`). For work that starts before the other tables are read.
   */
  associationsSoFar(): Indexes['associations'] {
    return this.associations;
  }

  /** The IDs of the Cosmos DB accounts indexed so far (each once): all of them once that table is read. */
  cosmosAccountIdsSoFar(): string[] {
    return [...this.cosmosAccounts.values()].map((c) => c.id);
  }

  /**
   * The prepared tenant. Call once, after every row was added.
   * @param failures why a table was not fully read, by table (TableRead.failure)
   * @param subscriptions the subscriptions in scope; accounts outside those `read` are skipped
   * @param read the data-source tables that were read (default both); the others are left out of the tenant
   */
  finish(
    failures: Partial<Record<ContextTableName, string | undefined>>,
    subscriptions: readonly SubscriptionCoverage[],
    read: readonly ContextTableName[] = ['cosmosAccounts', 'searchServices'],
  ): PreparedTenant {
    const failure = (name: ContextTableName, what: string) => {
      const f = failures[name];
      return f === undefined ? undefined : `${what} could not be read (${f})`;
    };
    const failed = (name: ContextTableName, what: string, index: { failTable(reason: string): void }) => {
      const f = failure(name, what);
      if (f !== undefined) index.failTable(f);
    };
    // A table's read failure wins over a malformed row's: it is what a lookup reports.
    failed('associations', 'perimeter associations', this.associations);
    failed('accessRules', 'perimeter access rules', this.rules);
    failed('roleAssignments', 'role assignments', this.assignments);
    const readableSubscriptions = new Set(subscriptions.filter((s) => s.status === 'read').map((s) => s.id.toLowerCase()));
    return {
      tenant: {
        storageAccounts: this.storageAccounts,
        // A data-source table that was not read, or not fully, is absent: its data sources are unknown to the rules.
        ...(read.includes('cosmosAccounts') && failures.cosmosAccounts === undefined ? { cosmosAccounts: this.cosmosAccounts } : {}),
        ...(read.includes('searchServices') && failures.searchServices === undefined ? { searchServices: this.searchServices } : {}),
      },
      problems: this.problems,
      readableSubscriptions,
      indexes: { associations: this.associations, rules: this.rules, assignments: this.assignments },
    };
  }
}

/**
 * The account snapshots of an accounts table, one at a time, in the table's order (memory stays
 * one row's worth however large the table). Rows outside the readable subscriptions are skipped;
 * unusable rows are recorded in `prepared.problems`.
 */
export function* normalizeAccounts(accountsTable: TableRead, prepared: PreparedTenant): Generator<AccountSnapshot> {
  const { problems, readableSubscriptions } = prepared;
  for (const row of rowsOfType(accountsTable, TABLES.accounts.type)) {
    const id = str(row.id);
    const parsed = id === undefined ? undefined : parseResourceId(id);
    if (id === undefined || parsed === undefined || !sameId(parsed.type, 'Microsoft.CognitiveServices/accounts')) {
      problems.push(
        `account row without a valid Cognitive Services account id (${JSON.stringify(row.id ?? null).slice(0, 200)})`,
      );
      continue;
    }
    if (!readableSubscriptions.has(parsed.subscriptionId.toLowerCase())) continue; // outside the scope read
    yield normalizeAccount(row, id, parsed, prepared.indexes);
  }
}

/** One table's rows by key, or why they could not be read (for that key or the whole table). */
export interface Lookup<T> {
  get(key: string): Observed<T[]>;
}

/** Joins for account rows: associations by resource, access rules by profile, role assignments by principal. */
export interface Indexes {
  /** Also every association read, whatever its resource (NSP-07 finds the Learning-mode accounts with it). */
  associations: Lookup<PerimeterAssociation> & { all(): Iterable<PerimeterAssociation> };
  rules: Lookup<AccessRule>;
  assignments: Lookup<RoleAssignment>;
}

function normalizeAccount(
  row: Record<string, unknown>,
  id: string,
  parsed: NonNullable<ReturnType<typeof parseResourceId>>,
  ix: Indexes,
): AccountSnapshot {
  // A projected row says whether `properties` existed before `pack` rebuilt it (inventory.ts).
  const props = row.hasProperties === false ? undefined : row.properties;
  const propsRead: Observed<Record<string, unknown>> = isRecord(props)
    ? read(props)
    : unread(`the account row has no readable properties (${props === undefined ? 'absent' : typeof props})`);
  const part = <U>(f: (p: Record<string, unknown>) => Observed<U>): Observed<U> =>
    propsRead.ok ? f(propsRead.value) : propsRead;

  const network = part((p) =>
    parsePart(
      NetworkSchema,
      p,
      'network settings',
      (n): NetworkSettings => ({
        publicNetworkAccess: n.publicNetworkAccess ?? AZURE_DEFAULTS.publicNetworkAccess,
        defaultAction: n.networkAcls?.defaultAction ?? AZURE_DEFAULTS.defaultAction,
        bypass: n.networkAcls?.bypass ?? AZURE_DEFAULTS.bypass,
        ipRules: (n.networkAcls?.ipRules ?? []).map((r) => r.value),
        virtualNetworkRules: (n.networkAcls?.virtualNetworkRules ?? []).map((r) => r.id),
      }),
    ),
  );
  const boolPart = (key: string, fallback: boolean): Observed<boolean> =>
    part((p) => parsePart(OptionalBooleanSchema, p[key], key, (v) => v ?? fallback));
  const keySource = part((p) =>
    parsePart(
      EncryptionSchema,
      p.encryption,
      'encryption',
      (e) => e?.keySource ?? AZURE_DEFAULTS.keySource,
    ),
  );
  const privateEndpointConnections = part((p) =>
    parsePart(PrivateEndpointsSchema, p.privateEndpointConnections, 'privateEndpointConnections', (list) =>
      (list ?? []).map(
        (c): PrivateEndpointConnection => ({
          id: c.id ?? '',
          status: c.properties?.privateLinkServiceConnectionState?.status ?? 'Unknown',
        }),
      ),
    ),
  );
  const kindRaw = row.kind;
  const kind: Observed<string>
    = typeof kindRaw === 'string' && kindRaw.length > 0 ? read(kindRaw) : unread(`the account row has no readable kind`);
  const identity = identityOf(row.identity);

  const key = idKey(id);
  const accountAssociations = ix.associations.get(key);
  let accessRules: Observed<AccessRule[]>;
  if (!accountAssociations.ok) {
    accessRules = accountAssociations;
  } else {
    const collected: AccessRule[] = [];
    let failure: string | undefined;
    const profiles = new Set<string>();
    for (const a of accountAssociations.value) {
      if (!sameId(a.provisioningState, 'Succeeded')) continue;
      if (a.profileId === '') {
        failure ??= `association ${a.id} names no profile`;
        continue;
      }
      profiles.add(idKey(a.profileId));
    }
    for (const profile of profiles) {
      const r = ix.rules.get(profile);
      if (r.ok) collected.push(...r.value);
      else failure ??= r.reason;
    }
    accessRules = failure === undefined ? read(collected) : unread(failure);
  }

  let roleAssignments: Observed<RoleAssignment[]>;
  if (!identity.ok) {
    roleAssignments = identity;
  } else {
    const missing = missingPrincipals(row.identity, identity.value);
    if (missing !== undefined) {
      roleAssignments = unread(missing);
    } else {
      const collected: RoleAssignment[] = [];
      let failure: string | undefined;
      for (const principal of identity.value.principalIds) {
        const r = ix.assignments.get(principal);
        if (r.ok) collected.push(...r.value);
        else failure ??= r.reason;
      }
      roleAssignments = failure === undefined ? read(collected) : unread(failure);
    }
  }

  const tags: Record<string, string> = {};
  if (isRecord(row.tags)) {
    for (const [k, v] of Object.entries(row.tags)) if (typeof v === 'string') tags[k] = v;
  }

  return {
    id,
    name: parsed.name,
    subscriptionId: parsed.subscriptionId,
    resourceGroup: parsed.resourceGroup,
    location: str(row.location) ?? '',
    kind,
    tags,
    network,
    identity,
    disableLocalAuth: boolPart('disableLocalAuth', AZURE_DEFAULTS.disableLocalAuth),
    restrictOutboundNetworkAccess: boolPart(
      'restrictOutboundNetworkAccess',
      AZURE_DEFAULTS.restrictOutboundNetworkAccess,
    ),
    encryptionKeySource: keySource,
    privateEndpointConnections,
    associations: accountAssociations,
    accessRules,
    roleAssignments,
    perimeterConfigurations: undefined,
  };
}

/**
 * Returns the snapshot with its deep-inspection result attached: the raw
 * `networkSecurityPerimeterConfigurations` list (validated here), or why it could not be read.
 */
export function withPerimeterConfigurations(
  account: AccountSnapshot,
  configurations: Observed<readonly unknown[]>,
): AccountSnapshot {
  return {
    ...account,
    perimeterConfigurations: configurations.ok ? configurationsOf(configurations.value) : configurations,
  };
}
