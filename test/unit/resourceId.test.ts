import assert from 'node:assert/strict';
import { describe, it } from 'vitest';
import { isBroadScope, isSubnetId, parseResourceId, storageAccountOfScope } from '../../src/domain/resourceId.js';

const sub = '/subscriptions/0000';
describe('resource IDs', () => {
  it('parses an account ID', () => {
    assert.deepEqual(parseResourceId(`${sub}/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/a1`), {
      subscriptionId: '0000',
      resourceGroup: 'rg',
      type: 'Microsoft.CognitiveServices/accounts',
      name: 'a1',
    });
  });
  it('refuses IDs that are not resources in a resource group', () => {
    for (const id of [
      sub,
      `${sub}/resourceGroups/rg`,
      `${sub}/resourceGroups/rg/providers/X/accounts`,
      'accounts/a1',
      '',
    ]) {
      assert.equal(parseResourceId(id), undefined, id);
    }
  });
  it('knows broad scopes', () => {
    assert.equal(isBroadScope('/'), true);
    assert.equal(isBroadScope('/providers/Microsoft.Management/managementGroups/mg1'), true);
    assert.equal(isBroadScope(sub), true);
    assert.equal(isBroadScope(`${sub}/resourceGroups/rg`), true);
    assert.equal(isBroadScope(`${sub}/RESOURCEGROUPS/rg/`), true);
    assert.equal(isBroadScope(`${sub}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/s`), false);
  });
  it('finds the storage account of a scope at or below it', () => {
    const sa = `${sub}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st1`;
    assert.equal(storageAccountOfScope(sa), sa);
    assert.equal(storageAccountOfScope(`${sa}/blobServices/default/containers/c`), sa);
    assert.equal(storageAccountOfScope(`${sub}/resourceGroups/rg`), undefined);
    assert.equal(
      storageAccountOfScope(`${sa}x/../other`),
      `${sub}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st1x`,
    );
  });
  it('recognises subnet IDs only', () => {
    assert.equal(isSubnetId(`${sub}/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/s`), true);
    assert.equal(isSubnetId(`${sub}/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v`), false);
    assert.equal(
      isSubnetId(`${sub}/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/s/x/y`),
      false,
    );
  });
});
