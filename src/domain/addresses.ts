import ipaddr from 'ipaddr.js';

/**
 * IP address and CIDR arithmetic for NET-03, NET-04 and NSP-03, on ipaddr.js.
 *
 * Parsing is strict: IPv4 must be four decimal parts without leading zeros (so `010.0.0.1` is not
 * read as octal), and a prefix must be a decimal number within the family's width.
 */

/** An address or CIDR, parsed. `first`/`last` are the range's bounds as integers. */
export interface AddressRange {
  readonly family: 'ipv4' | 'ipv6';
  /** Prefix length; 32 or 128 for a single address. */
  readonly prefix: number;
  /** True when the text had a `/prefix`. */
  readonly isCidr: boolean;
  readonly first: bigint;
  readonly last: bigint;
}

function toBigInt(bytes: number[]): bigint {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return n;
}

/** Parsed ranges by text: tenants repeat the same few ranges across thousands of accounts and three rules read them. */
const cache = new Map<string, AddressRange | undefined>();
const CACHE_LIMIT = 10_000;

/**
 * Parses `a.b.c.d`, `a.b.c.d/p`, an IPv6 address or an IPv6 CIDR. Host bits below the prefix are
 * ignored (the range is the network that contains the address). Returns undefined for anything else.
 * Pure, so results are memoized (at most 10,000 texts; the memo is emptied when full).
 */
export function parseAddressRange(text: string): AddressRange | undefined {
  if (cache.has(text)) return cache.get(text);
  const range = parse(text);
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(text, range === undefined ? undefined : Object.freeze(range));
  return range;
}

function parse(text: string): AddressRange | undefined {
  const trimmed = text.trim();
  const slash = trimmed.indexOf('/');
  const address = slash === -1 ? trimmed : trimmed.slice(0, slash);
  const prefixText = slash === -1 ? undefined : trimmed.slice(slash + 1);
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return undefined;

  let family: 'ipv4' | 'ipv6';
  let bytes: number[];
  if (ipaddr.IPv4.isValidFourPartDecimal(address)) {
    family = 'ipv4';
    bytes = ipaddr.IPv4.parse(address).toByteArray();
  } else if (!address.includes('%') && ipaddr.IPv6.isValid(address)) {
    family = 'ipv6';
    bytes = ipaddr.IPv6.parse(address).toByteArray();
  } else {
    return undefined;
  }
  const width = family === 'ipv4' ? 32 : 128;
  const prefix = prefixText === undefined ? width : Number(prefixText);
  if (prefix > width) return undefined;
  const hostBits = BigInt(width - prefix);
  const value = toBigInt(bytes);
  const first = (value >> hostBits) << hostBits;
  const last = first + (1n << hostBits) - 1n;
  return { family, prefix, isCidr: prefixText !== undefined, first, last };
}

/**
 * How many addresses an IP rule or prefix covers: 2^(32−p) for IPv4, 2^(128−p) for IPv6, 1 for a
 * single address (RULES.md, NET-04). Undefined for text that is not an address or CIDR.
 */
export function addressCount(text: string): bigint | undefined {
  const range = parseAddressRange(text);
  return range === undefined ? undefined : range.last - range.first + 1n;
}

/**
 * Private and reserved IPv4 space that Azure AI services IP rules must not overlap
 * (RULES.md NET-03; ai-services-virtual-networks.txt: "only valid public IP (nonreserved) addresses are accepted").
 */
export const RESERVED_IPV4_RANGES: readonly string[] = [
  '10.0.0.0/8',
  '172.16.0.0/12',
  '192.168.0.0/16',
  '0.0.0.0/8',
  '127.0.0.0/8',
  '169.254.0.0/16',
  '100.64.0.0/10',
  '224.0.0.0/4',
  '240.0.0.0/4',
];

const RESERVED = RESERVED_IPV4_RANGES.map((cidr) => {
  const range = parseAddressRange(cidr);
  if (!range) throw new Error(`bad reserved range ${cidr}`);
  return { cidr, range };
});

/** The reserved ranges (CIDR text) that an IPv4 range overlaps; empty when it is all public. */
export function overlappingReservedRanges(range: AddressRange): string[] {
  if (range.family !== 'ipv4') return [];
  return RESERVED.filter(({ range: r }) => range.first <= r.last && r.first <= range.last).map(({ cidr }) => cidr);
}
