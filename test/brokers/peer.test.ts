import { describe, expect, it } from 'vitest';
import { importPeer } from '../../src/brokers/peer.js';

describe('importPeer', () => {
  it('says which packages to install when a broker client is missing', async () => {
    const missing = 'herald-no-such-client-package';
    await expect(importPeer('carrier', [missing, 'other'], () => import(missing))).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: `the carrier publisher needs the packages '${missing}' and 'other': npm install ${missing} other`,
    });
  });

  it('returns the module when it is installed', async () => {
    const yaml = await importPeer('yaml', ['yaml'], () => import('yaml'));
    expect(typeof yaml.parse).toBe('function');
  });
});
