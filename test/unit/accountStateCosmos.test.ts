import assert from 'node:assert/strict';
import { describe, it } from 'vitest';
import { idKey } from '../../src/domain/resourceId.js';
import { stateOf } from '../../src/store/accountState.js';
import { anAccount, cosmosAssignment, cosmosId } from '../helpers/builders.js';

describe('account state and Cosmos DB data-plane role assignments (issue 21)', () => {
  it('records the assignments among the role assignments (a delete event finds the account) and their accounts among the data sources', () => {
    const a = cosmosAssignment('cdb1');
    const state = stateOf(anAccount(), [], { kind: 'scan', id: 's1', at: '2026-12-03T00:00:00.000Z' }, [a]);
    assert.ok(state.roleAssignments.includes(idKey(a.id)));
    assert.ok(state.dataSources.includes(idKey(cosmosId('cdb1'))));
  });
});
