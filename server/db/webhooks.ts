import { createHmac, randomBytes } from 'node:crypto';
import { lookup as lookupCallback, type LookupAddress } from 'node:dns';
import { lookup } from 'node:dns/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { networkInterfaces } from 'node:os';
import { InputError, notFound } from '../domain/errors.ts';
import type { Db, Queryable } from './db.ts';
import { recordChange } from './regions.ts';

/**
 * Outgoing webhooks (command centre issue §4): a county connects its SMS, WeCom or DingTalk
 * gateway. Each delivery is a POST of the event as JSON, signed with the hook's secret:
 *
 *   X-GridPlan-Signature: sha256=<hex HMAC-SHA256(secret, `${X-GridPlan-Timestamp}.${body}`)>
 *
 * A delivery that fails (no answer within 10 s, or a status outside 2xx) is tried again after
 * 30 s, 2 min, 10 min, 1 h and 6 h; after the sixth failure it is dead until an admin resends it.
 * Sending happens outside any transaction: a delivery is first leased (its next try moved a
 * minute on), so a slow gateway never holds the database and two senders never send one twice.
 */
export const BACKOFF_SECONDS = [30, 120, 600, 3_600, 21_600];
export const MAX_ATTEMPTS = BACKOFF_SECONDS.length + 1;
const LEASE_SECONDS = 60;
const TIMEOUT_MS = 10_000;

export interface WebhookJson {
  id: number;
  url: string;
  events: string[];
  label: string;
  createdBy: string;
  createdAt: string;
  /** The secret is shown once, when the hook is made; after that never (this is a mask). */
  secretHint: string;
  deliveries: { pending: number; delivered: number; dead: number };
}

const HOOK_SQL = `SELECT w.id, w.url, w.events, w.label, w.created_by AS "createdBy", w.created_at AS "createdAt",
    '••••••' AS "secretHint",
    json_build_object('pending', (SELECT count(*) FROM webhook_delivery x WHERE x.webhook_id = w.id AND x.status = 'pending'),
                      'delivered', (SELECT count(*) FROM webhook_delivery x WHERE x.webhook_id = w.id AND x.status = 'delivered'),
                      'dead', (SELECT count(*) FROM webhook_delivery x WHERE x.webhook_id = w.id AND x.status = 'dead')) AS deliveries
  FROM webhook w`;

export async function listWebhooks(db: Queryable): Promise<WebhookJson[]> {
  return (await db.query<WebhookJson>(`${HOOK_SQL} ORDER BY w.id`)).rows;
}

/**
 * Addresses no webhook calls: this machine (loopback, unless allowed) and link-local addresses
 * (169.254.0.0/16 holds cloud metadata services). Private ranges stay allowed: a county's SMS or
 * WeCom gateway usually sits on its government intranet (10.x, 172.16–31.x, 192.168.x).
 */
export function forbiddenAddress(address: string, loopback: boolean): string | null {
  const v4 = isIP(address) === 4 ? address : embeddedV4(address);
  const own = () => (!loopback && ownAddresses().has(canonical(address)) ? 'this machine' : null);
  if (v4 !== null) {
    const [a, b] = v4.split('.').map(Number) as [number, number];
    if (a === 127 || a === 0) return loopback ? null : 'this machine';
    if (a === 169 && b === 254) return 'a link-local address (cloud metadata)';
    // Alibaba Cloud's metadata service (government clouds are often Alibaba's)
    if (v4 === '100.100.100.200' || v4 === '168.63.129.16') return 'a cloud metadata address'; // (and Azure's)
    if (!loopback && ownAddresses().has(v4)) return 'this machine';
    if (isIP(address) === 4) return null;
  }
  const words = ipv6Words(address);
  if (!words) return null;
  if (words.every((w, i) => w === (i === 7 ? 1 : 0)) || words.every((w) => w === 0)) return loopback ? null : 'this machine';
  if ((words[0]! & 0xffc0) === 0xfe80) return 'a link-local address';
  // AWS's metadata service over IPv6
  if (words.join(':') === [0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254].join(':')) return 'a cloud metadata address';
  return own();
}

/** An IPv6 address written one way (its eight words), an IPv4 one as it is. */
const canonical = (address: string) => ipv6Words(address)?.join(':') ?? address;

/** This machine's own addresses, on every interface (a gateway on 0.0.0.0 here is reachable through them): read each time, they change. */
function ownAddresses(): Set<string> {
  return new Set(
    Object.values(networkInterfaces())
      .flat()
      .flatMap((i) => (i ? [canonical(i.address)] : [])),
  );
}

/**
 * A POST to a hook, connected to the very address that was checked: the host is looked up once, by the connection,
 * and refused there when any of its addresses is forbidden (a name that answered the check with a public address and
 * the connection with 127.0.0.1 — DNS rebinding — never reaches this machine).
 */
export function postPinned(url: string, init: { headers: Record<string, string>; body: string; timeoutMs: number; loopback: boolean }): Promise<number> {
  const target = new URL(url);
  const pinned: LookupFunction = (host, options, callback) => {
    lookupCallback(host, { all: true, verbatim: true }, (err, found: LookupAddress[]) => {
      if (err) return callback(err, '', 0);
      const bad = found.map((a) => forbiddenAddress(a.address, init.loopback)).find((why) => why !== null);
      if (bad || found.length === 0) return callback(new InputError('forbidden_target', `a webhook may not call ${bad ?? 'nowhere'} (${host})`, 'url'), '', 0);
      if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, found);
      callback(null, found[0]!.address, found[0]!.family);
    });
  };
  const host = target.hostname.replace(/^\[|\]$/g, '');
  if (isIP(host)) {
    const why = forbiddenAddress(host, init.loopback);
    if (why) return Promise.reject(new InputError('forbidden_target', `a webhook may not call ${why} (${host})`, 'url'));
  }
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      target,
      { method: 'POST', headers: { ...init.headers, 'content-length': String(Buffer.byteLength(init.body)) }, lookup: pinned, timeout: init.timeoutMs },
      (res) => {
        // the status is the answer: the body is not waited for (a gateway dripping it holds nothing)
        clearTimeout(deadline);
        res.destroy();
        resolve(res.statusCode ?? 0);
      },
    );
    // the whole call within the time, the headers' arrival included (the socket's own timeout is only for silence,
    // which a gateway sending a byte every few seconds never leaves: it held every other gateway's deliveries)
    const late = () => req.destroy(Object.assign(new Error('no answer'), { name: 'TimeoutError' }));
    const deadline = setTimeout(late, init.timeoutMs);
    req.on('timeout', late);
    req.on('error', (err) => {
      clearTimeout(deadline);
      reject(err);
    });
    req.end(init.body);
  });
}

/** The eight 16-bit words of an IPv6 address (`::` expanded, a dotted IPv4 tail read), or null. */
function ipv6Words(address: string): number[] | null {
  if (isIP(address) !== 6) return null;
  let text = address.toLowerCase().replace(/%.*$/, '');
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const part = (t: string | undefined) => (t ? t.split(':').map((w) => parseInt(w, 16)) : []);
  const h = part(head);
  const t = part(tail);
  const words = tail === undefined ? h : [...h, ...Array<number>(8 - h.length - t.length).fill(0), ...t];
  return words.length === 8 && words.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffff) ? words : null;
}

/**
 * The IPv4 address an IPv6 one carries, however it is written: mapped (::ffff:7f00:1, which is how
 * the URL parser writes [::ffff:127.0.0.1]), compatible (::7f00:1), NAT64 (64:ff9b::/96), 6to4 (2002::/16).
 */
function embeddedV4(address: string): string | null {
  const w = ipv6Words(address);
  if (!w) return null;
  const quad = (hi: number, lo: number) => `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`;
  const zeros = (from: number, to: number) => w.slice(from, to).every((x) => x === 0);
  if (zeros(0, 5) && (w[5] === 0xffff || (w[5] === 0 && (w[6]! !== 0 || w[7]! > 1)))) return quad(w[6]!, w[7]!);
  if (w[0] === 0x64 && w[1] === 0xff9b && zeros(2, 6)) return quad(w[6]!, w[7]!);
  if (w[0] === 0x2002) return quad(w[1]!, w[2]!);
  return null;
}

/** Resolves the hook's host and refuses it when any of its addresses is forbidden. */
export async function checkHookTarget(raw: string, loopback: boolean, path = 'url'): Promise<void> {
  const host = new URL(raw).hostname.replace(/^\[|\]$/g, '');
  let addresses: string[];
  try {
    addresses = isIP(host) ? [host] : (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);
  } catch {
    throw new InputError('unknown_host', `the gateway's host ${JSON.stringify(host)} cannot be found`, path);
  }
  for (const a of addresses) {
    const why = forbiddenAddress(a, loopback);
    if (why) throw new InputError('forbidden_target', `a webhook may not call ${why} (${host})`, path);
  }
}

/** A URL a gateway listens on: http(s), no credentials in it. */
export function checkHookUrl(raw: string, path = 'url'): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InputError('invalid_url', 'give the full address of the gateway, e.g. https://sms.example.gov.cn/hook', path);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InputError('invalid_url', 'a webhook address starts with http:// or https://', path);
  if (url.username || url.password) throw new InputError('invalid_url', 'put no user name or password in the address; the secret signs each call', path);
  return url.toString();
}

export async function createWebhook(
  tx: Queryable,
  actor: string,
  hook: { url: string; events: string[]; secret?: string | undefined; label?: string | undefined },
): Promise<WebhookJson & { secret: string }> {
  const secret = hook.secret ?? randomBytes(24).toString('base64url');
  if (secret.length < 16 || /\s/.test(secret)) throw new InputError('secret_too_short', 'a secret has at least 16 characters and no spaces', 'secret');
  const { rows } = await tx.query<{ id: number }>('INSERT INTO webhook (url, events, secret, label, created_by) VALUES ($1, $2, $3, $4, $5) RETURNING id', [
    checkHookUrl(hook.url),
    [...new Set(hook.events)],
    secret,
    hook.label?.trim() ?? '',
    actor,
  ]);
  const made = (await tx.query<WebhookJson>(`${HOOK_SQL} WHERE w.id = $1`, [rows[0]!.id])).rows[0]!;
  // the log keeps where it goes and what it hears, never the secret
  await recordChange(tx, { actor, action: 'create', entity: 'webhook', entityId: made.id, before: null, after: { ...made, deliveries: undefined } });
  return { ...made, secret };
}

export async function deleteWebhook(tx: Queryable, actor: string, id: number): Promise<void> {
  const found = (await tx.query<WebhookJson>(`${HOOK_SQL} WHERE w.id = $1 FOR UPDATE OF w`, [id])).rows[0];
  if (!found) throw notFound('webhook', id);
  await tx.query('DELETE FROM webhook WHERE id = $1', [id]);
  await recordChange(tx, { actor, action: 'delete', entity: 'webhook', entityId: id, before: { ...found, deliveries: undefined }, after: null });
}

export interface DeliveryJson {
  id: number;
  webhookId: number;
  url: string;
  event: string;
  status: 'pending' | 'delivered' | 'dead';
  attempts: number;
  nextAt: string | null;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: string;
  deliveredAt: string | null;
  payload: unknown;
}

const DELIVERY_SQL = `SELECT x.id::int AS id, x.webhook_id AS "webhookId", w.url, x.event, x.status, x.attempts,
    CASE WHEN x.status = 'pending' THEN x.next_at END AS "nextAt", x.last_status AS "lastStatus", x.last_error AS "lastError",
    x.created_at AS "createdAt", x.delivered_at AS "deliveredAt", x.payload
  FROM webhook_delivery x JOIN webhook w ON w.id = x.webhook_id`;

export async function listDeliveries(
  db: Queryable,
  f: { status?: 'pending' | 'delivered' | 'dead' | undefined; webhookId?: number | undefined; limit: number },
): Promise<DeliveryJson[]> {
  const params: unknown[] = [f.limit];
  const where = ['true'];
  if (f.status) where.push(`x.status = $${params.push(f.status)}`);
  if (f.webhookId !== undefined) where.push(`x.webhook_id = $${params.push(f.webhookId)}`);
  return (await db.query<DeliveryJson>(`${DELIVERY_SQL} WHERE ${where.join(' AND ')} ORDER BY x.id DESC LIMIT $1`, params)).rows;
}

/** Sends a dead (or failing) delivery again, from its first attempt. */
export async function resendDelivery(tx: Queryable, actor: string, id: number, now: Date): Promise<DeliveryJson> {
  const { rows } = await tx.query<{ status: string }>('SELECT status FROM webhook_delivery WHERE id = $1 FOR UPDATE', [id]);
  if (!rows[0]) throw notFound('delivery', id);
  if (rows[0].status === 'delivered') throw new InputError('already_delivered', 'this delivery reached its gateway; nothing to resend', 'id');
  if (rows[0].status !== 'dead') throw new InputError('not_dead', 'this delivery is still being tried; only a dead one is sent again', 'id');
  await tx.query(`UPDATE webhook_delivery SET status = 'pending', attempts = 0, next_at = $2 WHERE id = $1`, [id, now.toISOString()]);
  await recordChange(tx, {
    actor,
    action: 'resend',
    entity: 'webhook_delivery',
    entityId: id,
    before: { status: rows[0].status },
    after: { status: 'pending' },
  });
  return (await tx.query<DeliveryJson>(`${DELIVERY_SQL} WHERE x.id = $1`, [id])).rows[0]!;
}

/** The headers a receiver checks: the signature covers the timestamp and the exact body. */
export function signDelivery(secret: string, body: string, timestamp: number): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * Sends the deliveries due at `now` (at most `batch`), each leased first so that no other sender
 * takes it; returns how many were delivered, retried and dead.
 */
export async function deliverDue(
  db: Db,
  now: Date,
  loopback = false,
  send: typeof postPinned = postPinned,
  batch = 50,
): Promise<{ delivered: number; retried: number; dead: number }> {
  const due = await db.transaction(async (tx) => {
    const { rows } = await tx.query<{ id: number; url: string; secret: string; event: string; payload: unknown; attempts: number }>(
      `UPDATE webhook_delivery x SET next_at = $1::timestamptz + make_interval(secs => $3)
       FROM webhook w
       WHERE w.id = x.webhook_id AND x.id IN (
         SELECT id FROM webhook_delivery WHERE status = 'pending' AND next_at <= $1::timestamptz ORDER BY next_at, id LIMIT $2 FOR UPDATE SKIP LOCKED)
       RETURNING x.id::int AS id, w.url, w.secret, x.event, x.payload, x.attempts`,
      [now.toISOString(), batch, LEASE_SECONDS],
    );
    return rows;
  });
  const result = { delivered: 0, retried: 0, dead: 0 };
  const outcomes = await Promise.all(
    due.map(async (d) => {
      const body = JSON.stringify({ id: d.id, ...(d.payload as object) });
      const timestamp = Math.floor(now.getTime() / 1000);
      try {
        // checked again at each call: the host's addresses may have changed since the hook was made
        await checkHookTarget(d.url, loopback);
        const status = await send(d.url, {
          timeoutMs: TIMEOUT_MS,
          loopback,
          headers: {
            'content-type': 'application/json; charset=utf-8',
            'user-agent': 'GridPlan-Webhook/1',
            'x-gridplan-event': d.event,
            'x-gridplan-delivery': String(d.id),
            'x-gridplan-timestamp': String(timestamp),
            'x-gridplan-signature': signDelivery(d.secret, body, timestamp),
          },
          body,
        });
        const ok = status >= 200 && status < 300;
        return { d, status, error: ok ? null : `the gateway answered ${status}` };
      } catch (err) {
        const e = err as Error;
        if (err instanceof InputError) return { d, status: null, error: e.message };
        return { d, status: null, error: e.name === 'TimeoutError' ? 'no answer within 10 s' : `could not reach the gateway (${e.message.slice(0, 200)})` };
      }
    }),
  );
  if (outcomes.length === 0) return result;
  await db.transaction(async (tx) => {
    for (const o of outcomes) {
      const attempts = o.d.attempts + 1;
      if (o.error === null) {
        result.delivered++;
        await tx.query(
          `UPDATE webhook_delivery SET status = 'delivered', attempts = $2, last_status = $3, last_error = NULL, delivered_at = $4 WHERE id = $1`,
          [o.d.id, attempts, o.status, now.toISOString()],
        );
      } else if (attempts >= MAX_ATTEMPTS) {
        result.dead++;
        await tx.query(`UPDATE webhook_delivery SET status = 'dead', attempts = $2, last_status = $3, last_error = $4 WHERE id = $1`, [
          o.d.id,
          attempts,
          o.status,
          o.error,
        ]);
      } else {
        result.retried++;
        await tx.query(
          `UPDATE webhook_delivery SET attempts = $2, last_status = $3, last_error = $4, next_at = $5::timestamptz + make_interval(secs => $6) WHERE id = $1`,
          [o.d.id, attempts, o.status, o.error, now.toISOString(), BACKOFF_SECONDS[attempts - 1]],
        );
      }
    }
  });
  return result;
}
