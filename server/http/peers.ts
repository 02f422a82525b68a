/**
 * Several server processes on one PostgreSQL (behind one port through Node's cluster, or a
 * reverse proxy): each tells the others, through PostgreSQL's LISTEN/NOTIFY, what its writes
 * changed and what live events it heard. The others retire the same cached answers (and read the
 * tiles' change boxes at once), and pass the events to their own open streams. Without it they
 * would learn of another process's writes only when their answers expire (60 s), and the wall
 * displays connected to them would miss incidents reported through another process.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Db } from '../db/db.ts';
import type { ReadCache } from './cache.ts';
import type { EventBus, LiveEvent } from './events.ts';
import type { TileCache } from './tile-cache.ts';

const CHANNEL = 'gridplan';
/** NOTIFY payloads stop at 8,000 bytes: a message larger than this is sent as "everything changed". */
const MAX_PAYLOAD = 7_000;

type Message = { from: string; kind: 'written'; domains: string[] } | { from: string; kind: 'event'; event: LiveEvent };

export class Peers {
  readonly id = randomUUID();
  private client: pg.Client | null = null;
  private closed = false;

  constructor(
    private readonly db: Db,
    private readonly parts: { cache: ReadCache | null; tiles: TileCache | null; events: EventBus },
  ) {}

  async start(): Promise<void> {
    if (!this.db.url) return;
    const client = new pg.Client({ connectionString: this.db.url });
    client.on('notification', (n) => void this.receive(n.payload ?? ''));
    // A dropped connection: reconnect, and meanwhile answers expire on their own.
    client.on('error', () => void this.restart());
    await client.connect();
    await client.query(`LISTEN ${CHANNEL}`);
    this.client = client;
    this.parts.cache?.onBump((domains) => this.send({ from: this.id, kind: 'written', domains }));
    this.parts.events.onPublish((event) => this.send({ from: this.id, kind: 'event', event }));
  }

  private async restart(): Promise<void> {
    if (this.closed) return;
    const old = this.client;
    this.client = null;
    await old?.end().catch(() => {});
    setTimeout(() => void this.start().catch(() => this.restart()), 1000).unref();
  }

  private send(message: Message): void {
    let payload = JSON.stringify(message);
    if (payload.length > MAX_PAYLOAD) payload = JSON.stringify({ from: this.id, kind: 'written', domains: ['plan', 'layout', 'plan*', 'incidents'] });
    void this.db.query('SELECT pg_notify($1, $2)', [CHANNEL, payload]).catch(() => {});
  }

  private async receive(payload: string): Promise<void> {
    let message: Message;
    try {
      message = JSON.parse(payload) as Message;
    } catch {
      return;
    }
    if (message.from === this.id) return;
    if (message.kind === 'written') {
      this.parts.cache?.bump(message.domains, true);
      await this.parts.tiles?.sync(this.db).catch(() => {});
    } else if (message.kind === 'event') this.parts.events.publish(message.event, true);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.client?.end().catch(() => {});
    this.client = null;
  }
}
