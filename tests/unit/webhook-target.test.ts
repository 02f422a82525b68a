import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { networkInterfaces } from 'node:os';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../server/domain/errors.ts';
import { forbiddenAddress, postPinned } from '../../server/db/webhooks.ts';

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

  it("refuses this machine's own addresses on every interface, and the metadata services of Alibaba Cloud and AWS", () => {
    const own = Object.values(networkInterfaces())
      .flat()
      .flatMap((i) => (i && !i.internal && !i.address.startsWith('fe80') ? [i.address] : []));
    for (const a of own) {
      expect(forbiddenAddress(a, false), a).toBe('this machine');
      expect(forbiddenAddress(a, true), a).toBeNull();
    }
    for (const a of ['100.100.100.200', '::ffff:100.100.100.200', 'fd00:ec2::254']) expect(forbiddenAddress(a, true), a).toBe('a cloud metadata address');
    expect(forbiddenAddress('100.100.100.201', false)).toBeNull();
  });

  it('posts to the address its own lookup checked: a name for this machine is refused at the connection', async () => {
    const hits: string[] = [];
    const server: Server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        hits.push(`${req.headers['content-length']}:${body}`);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const init = { headers: { 'content-type': 'application/json' }, body: '{"a":"甲"}', timeoutMs: 5_000 };
      // localhost resolves to this machine: refused by the lookup the connection itself makes (no second lookup to rebind)
      await expect(postPinned(`http://localhost:${port}/hook`, { ...init, loopback: false })).rejects.toBeInstanceOf(InputError);
      await expect(postPinned(`http://127.0.0.1:${port}/hook`, { ...init, loopback: false })).rejects.toBeInstanceOf(InputError);
      expect(hits).toEqual([]);
      // allowed (tests, a gateway on this machine): sent whole, with its length
      expect(await postPinned(`http://localhost:${port}/hook`, { ...init, loopback: true })).toBe(204);
      expect(hits).toEqual([`${Buffer.byteLength('{"a":"甲"}')}:{"a":"甲"}`]);
    } finally {
      server.close();
    }
  });

  it('gives up on a gateway that drips its headers a byte at a time, whatever the socket hears', async () => {
    const sockets: Socket[] = [];
    const drip = createTcpServer((socket) => {
      sockets.push(socket);
      socket.write('HTTP/1.1 200 OK\r\nX-A: ');
      const t = setInterval(() => socket.write('a'), 50);
      socket.on('close', () => clearInterval(t));
      socket.on('error', () => clearInterval(t));
    });
    await new Promise<void>((r) => drip.listen(0, '127.0.0.1', r));
    const port = (drip.address() as { port: number }).port;
    try {
      const err = await postPinned(`http://127.0.0.1:${port}/hook`, { headers: {}, body: '{}', timeoutMs: 300, loopback: true }).catch((e: Error) => e);
      expect((err as Error).name).toBe('TimeoutError');
    } finally {
      for (const s of sockets) s.destroy();
      drip.close();
    }
  });
});
