import assert from 'node:assert/strict';
import { describe, it } from 'vitest';
import { addressCount, overlappingReservedRanges, parseAddressRange } from '../../src/domain/addresses.js';

describe('addresses', () => {
  const counts: Array<[string, bigint | undefined]> = [
    ['203.0.113.7', 1n],
    ['203.0.113.0/24', 256n],
    ['0.0.0.0/0', 4294967296n],
    ['52.0.0.0/16', 65536n],
    ['2001:db8::1', 1n],
    ['2001:db8::/64', 2n ** 64n],
    ['::/0', 2n ** 128n],
    ['203.0.113.0/33', undefined],
    ['2001:db8::/129', undefined],
    ['203.0.113', undefined],
    ['010.0.0.1', undefined],
    ['0x7f.0.0.1', undefined],
    ['1.2.3.4/ 8', undefined],
    ['1.2.3.4/-1', undefined],
    ['fe80::1%eth0', undefined],
    ['', undefined],
  ];
  for (const [text, expected] of counts) {
    it(`counts ${JSON.stringify(text)} as ${expected}`, () => assert.equal(addressCount(text), expected));
  }

  it('ignores host bits below the prefix', () => {
    const r = parseAddressRange('203.0.113.77/24');
    assert.ok(r);
    assert.equal(r.first, (203n << 24n) | (0n << 16n) | (113n << 8n));
    assert.equal(r.isCidr, true);
    assert.equal(r.prefix, 24);
  });

  it('finds every reserved range a wide range overlaps', () => {
    const r = parseAddressRange('96.0.0.0/3');
    assert.ok(r);
    assert.deepEqual(overlappingReservedRanges(r), ['127.0.0.0/8', '100.64.0.0/10']);
  });

  it('treats the edges of reserved ranges exactly', () => {
    const below = parseAddressRange('100.63.255.255');
    const inside = parseAddressRange('100.127.255.255');
    const above = parseAddressRange('100.128.0.0');
    assert.ok(below && inside && above);
    assert.deepEqual(overlappingReservedRanges(below), []);
    assert.deepEqual(overlappingReservedRanges(inside), ['100.64.0.0/10']);
    assert.deepEqual(overlappingReservedRanges(above), []);
  });

  it('never reports IPv6 as overlapping IPv4 reserved space', () => {
    const r = parseAddressRange('::ffff:10.0.0.1');
    assert.ok(r);
    assert.deepEqual(overlappingReservedRanges(r), []);
  });
});
