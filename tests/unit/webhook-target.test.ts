import { describe, expect, it } from 'vitest';
import { forbiddenAddress } from '../../server/db/webhooks.ts';

describe('the addresses a webhook may call', () => {
  it('refuses this machine (unless allowed) and link-local addresses; allows the intranet and the internet', () => {
    // (the URL parser writes [::ffff:127.0.0.1] as [::ffff:7f00:1]; NAT64 and 6to4 carry an IPv4 address too)
    const loopbacks = ['127.0.0.1', '127.1.2.3', '0.0.0.0', '::1', '::', '::ffff:127.0.0.1', '::ffff:7f00:1', '0:0:0:0:0:ffff:7f00:1', '::7f00:1'];
    for (const a of [...loopbacks, '64:ff9b::7f00:1', '2002:7f00:1::', '0000:0000:0000:0000:0000:0000:0000:0001']) {
      expect(forbiddenAddress(a, false), a).toBe('this machine');
      expect(forbiddenAddress(a, true), a).toBeNull();
    }
    for (const a of ['169.254.169.254', '::ffff:169.254.0.1', '::ffff:a9fe:a9fe', '64:ff9b::a9fe:a9fe', 'fe80::1', 'FEBF::2', 'fe80::1%eth0']) {
      expect(forbiddenAddress(a, true), a).not.toBeNull();
    }
    for (const a of ['10.0.0.1', '172.16.5.4', '192.168.1.10', '8.8.8.8', '2001:db8::1', '::ffff:a00:1', '2400:3200::1']) {
      expect(forbiddenAddress(a, false), a).toBeNull();
    }
  });
});
