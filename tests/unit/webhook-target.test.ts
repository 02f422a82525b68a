import { describe, expect, it } from 'vitest';
import { forbiddenAddress } from '../../server/db/webhooks.ts';

describe('the addresses a webhook may call', () => {
  it('refuses this machine (unless allowed) and link-local addresses; allows the intranet and the internet', () => {
    for (const a of ['127.0.0.1', '127.1.2.3', '0.0.0.0', '::1', '::', '::ffff:127.0.0.1']) {
      expect(forbiddenAddress(a, false), a).toBe('this machine');
      expect(forbiddenAddress(a, true), a).toBeNull();
    }
    for (const a of ['169.254.169.254', '::ffff:169.254.0.1', 'fe80::1', 'FEBF::2']) {
      expect(forbiddenAddress(a, true), a).not.toBeNull();
    }
    for (const a of ['10.0.0.1', '172.16.5.4', '192.168.1.10', '8.8.8.8', '2001:db8::1']) {
      expect(forbiddenAddress(a, false), a).toBeNull();
    }
  });
});
