import type { InferResponseType } from 'hono/client';
import { can, type Capability } from '../../server/domain/roles.ts';
import { api, ok, onUnauthorized } from '../lib/api.ts';

export type Me = InferResponseType<typeof api.auth.me.$get, 200>;

/** Who is signed in. `undefined` while asking the server, `null` when nobody is. */
class Session {
  me = $state<Me | null | undefined>(undefined);

  /** Whether the account holds the capability (or any of several). */
  can(capability: Capability | Capability[]): boolean {
    const me = this.me;
    if (!me) return false;
    return Array.isArray(capability) ? capability.some((c) => can(me.role, c)) : can(me.role, capability);
  }

  /** Whether the account may change this region: everywhere, or within the region it is limited to. */
  mayEdit(region: { id: number; properties: { ancestors: { id: number }[] } } | null): boolean {
    const me = this.me;
    if (!me || !region || !can(me.role, 'plan:write')) return false;
    if (me.role === 'admin' || me.regionId === null) return true;
    return region.id === me.regionId || region.properties.ancestors.some((a) => a.id === me.regionId);
  }

  /** Asks the server; a wall display opened with `?token=` signs in with it first (and drops it from the address bar). */
  async load(): Promise<void> {
    const params = new URLSearchParams(location.search);
    const token = params.get('token');
    if (token) {
      params.delete('token');
      history.replaceState(null, '', location.pathname + (params.size ? `?${params}` : ''));
      try {
        this.me = await ok(api.auth.screen.$post({ json: { token } }));
        return;
      } catch {
        // an unknown or revoked token: fall through to whatever session there is
      }
    }
    // 200 with null when nobody is signed in: no failed request for the browser to log
    this.me = (await ok(api.auth.session.$get())).me;
  }

  async login(username: string, password: string): Promise<void> {
    // whoever signs in does not find the last account's answers kept for offline use
    await forgetAnswers();
    this.me = await ok(api.auth.login.$post({ json: { username, password } }));
  }

  async logout(): Promise<void> {
    await ok(api.auth.logout.$post()).catch(() => {});
    await forgetAnswers();
    this.me = null;
  }

  /** A request came back 401: the session ended (expired, signed out elsewhere, account changed). */
  expired(): void {
    void forgetAnswers();
    if (this.me) this.me = null;
  }
}

/**
 * The last answers the service worker kept for offline use (`gridplan-api`) are the account's that was signed in: a
 * shared phone forgets them when that session ends, however it ends, and before another signs in.
 */
async function forgetAnswers(): Promise<void> {
  if ('caches' in globalThis) await caches.delete('gridplan-api').catch(() => false);
}

export const session = new Session();
onUnauthorized(() => session.expired());
