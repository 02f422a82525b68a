/**
 * A sign-in flood, in its own (niced) process so that the load generator's own work does not
 * count against the server: `attackers` connections, each sending `POST /api/auth/login` with an
 * 18 MB body nested millions of levels deep, without a session, one after another, for `seconds`.
 * Raw sockets: the body leaves through the kernel without JavaScript copying it. Prints
 * `{"sent":n,"answers":{…}}` when done.
 *   tsx scripts/bench/lib/flood.ts <port> <attackers> <seconds>
 */
import { connect } from 'node:net';

const [port, attackers, seconds] = process.argv.slice(2).map(Number) as [number, number, number];
const body = Buffer.from(`{"username":"x","password":"x","pad":${'['.repeat(9_000_000)}${']'.repeat(9_000_000)}}`);
const head = Buffer.from(
  `POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
);
const until = Date.now() + seconds * 1000;
const answers: Record<string, number> = {};
let sent = 0;

function once(): Promise<void> {
  return new Promise((done) => {
    sent++;
    const socket = connect(port, '127.0.0.1');
    let reply = '';
    let finished = false;
    const finish = (what: string) => {
      if (finished) return;
      finished = true;
      answers[what] = (answers[what] ?? 0) + 1;
      socket.destroy();
      done();
    };
    socket.on('connect', () => {
      socket.write(head);
      socket.write(body);
    });
    socket.on('data', (d) => {
      reply += d.toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(reply);
      if (m) finish(m[1]!);
    });
    socket.on('error', () => finish(reply.slice(9, 12) || 'reset'));
    socket.on('close', () => finish(reply.slice(9, 12) || 'closed'));
  });
}

await Promise.all(
  Array.from({ length: attackers }, async () => {
    while (Date.now() < until) await once();
  }),
);
console.log(JSON.stringify({ sent, answers }));
