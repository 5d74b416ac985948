import assert from 'node:assert/strict';
import { describe, it } from 'vitest';
import { isTransientStatus } from '../../src/collect/transient.js';
import { ArmReadError } from '../../src/collect/armReads.js';

/** One definition of a transient HTTP status, for ARM/Resource Graph, ARM reads and webhooks. */
const TABLE: ReadonlyArray<[status: number, transient: boolean]> = [
  [200, false],
  [302, false],
  [400, false],
  [401, false],
  [403, false],
  [404, false],
  [408, true],
  [409, false],
  [429, true],
  [500, true],
  [501, false],
  [502, true],
  [503, true],
  [504, true],
  [505, false],
  [507, true],
  [599, true],
];

describe('isTransientStatus', () => {
  for (const [status, transient] of TABLE) {
    it(`${status} is ${transient ? '' : 'not '}transient`, () => {
      assert.equal(isTransientStatus(status), transient);
      assert.equal(new ArmReadError(`HTTP ${status}`, status).transient, transient, 'ArmReadError agrees');
    });
  }

  it('a read without an answer is transient', () => {
    assert.equal(new ArmReadError('socket hang up', undefined).transient, true);
  });
});
