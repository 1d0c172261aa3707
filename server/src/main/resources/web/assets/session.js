// The signed-in session: the access token (in memory only), the refresh token (in localStorage), refreshing
// before expiry, and authenticated JSON requests.
//
// Why localStorage for the refresh token: the session survives a reload and a browser restart, and every tab of
// the same browser shares one login, which is what people expect. The cost is that script running in the page
// could read it; the page allows no inline or foreign script (Content-Security-Policy) and no HTML strings in the
// DOM (Trusted Types), which is the defence. sessionStorage would not help here: a duplicated tab copies it, and
// two tabs spending the same refresh token revoke the whole login (reuse detection). Instead, tabs take turns:
// a refresh runs under a Web Lock shared by all tabs and always reads the newest refresh token first, so the
// same token is never spent twice.

import { ApiError, errorOf } from './errors.js';

const REFRESH_KEY = 'parley.refresh_token';
const USER_KEY = 'parley.user';
const LOCK_NAME = 'parley.refresh';

export class Session extends EventTarget {
  #accessToken = null;
  #expiresAt = 0; // by this browser's clock, from expires_in: what refreshes are scheduled by
  #tokenExp = 0; // the token's own exp claim, by the server's clock: what the socket's expires_at is compared with
  #ttlMs = 0;
  #user = null;
  #refreshing = null;
  #timer = null;
  #retryMs = 2000;

  constructor() {
    super();
    window.addEventListener('storage', (event) => {
      // Signed out in another tab: this tab's login is over too.
      if (event.key === REFRESH_KEY && event.newValue === null && this.#accessToken) {
        this.#end('signed_out_elsewhere');
      }
    });
    document.addEventListener('visibilitychange', () => {
      // Timers of hidden tabs are throttled; catch up as soon as the tab is visible again.
      if (document.visibilityState === 'visible' && this.#accessToken && this.#remaining() < this.#margin()) {
        this.refresh().catch(() => {});
      }
    });
  }

  get user() {
    return this.#user;
  }

  get signedIn() {
    return this.#accessToken !== null;
  }

  /** Whether a refresh token from an earlier visit is stored. */
  hasStoredLogin() {
    return !!readStorage(REFRESH_KEY);
  }

  /** Takes a token pair from register, login, refresh, dev login or the provider exchange. */
  adopt(pair) {
    if (!pair || typeof pair.access_token !== 'string' || typeof pair.refresh_token !== 'string') {
      throw new ApiError('invalid_request', 'The server answered without a token pair.');
    }
    this.#accessToken = pair.access_token;
    this.#ttlMs = Math.max(1, Number(pair.expires_in) || 60) * 1000;
    this.#expiresAt = Date.now() + this.#ttlMs;
    this.#tokenExp = expiryClaim(pair.access_token);
    writeStorage(REFRESH_KEY, pair.refresh_token);
    if (pair.user && typeof pair.user === 'object') {
      this.#user = { id: pair.user.id, email: pair.user.email, name: pair.user.name };
      writeStorage(USER_KEY, JSON.stringify(this.#user));
    }
    this.#retryMs = 2000;
    this.#schedule(this.#ttlMs - this.#margin());
    this.dispatchEvent(new CustomEvent('tokens', { detail: { accessToken: this.#accessToken } }));
  }

  /** An access token valid for at least {@code minValidityMs}, refreshing first when needed. */
  async token(minValidityMs = 15000) {
    if (this.#accessToken && this.#remaining() > minValidityMs) {
      return this.#accessToken;
    }
    await this.refresh();
    return this.#accessToken;
  }

  /**
   * Spends the stored refresh token for a new pair. One refresh at a time in this tab, and across tabs under a
   * shared lock; a 401 ends the session.
   */
  refresh() {
    if (!this.#refreshing) {
      this.#refreshing = this.#refreshUnderLock().finally(() => {
        this.#refreshing = null;
      });
    }
    return this.#refreshing;
  }

  async #refreshUnderLock() {
    const spend = async () => {
      const token = readStorage(REFRESH_KEY);
      if (!token) {
        this.#end('signed_out_elsewhere');
        throw new ApiError('unauthorized', 'No stored login.', 401);
      }
      let response;
      try {
        response = await fetch('/auth/refresh', {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
          body: JSON.stringify({ refresh_token: token }),
          cache: 'no-store',
        });
      } catch {
        this.#retryLater();
        throw new ApiError('network', 'The server cannot be reached.');
      }
      if (!response.ok) {
        const error = await errorOf(response);
        if (response.status === 401) {
          if (readStorage(REFRESH_KEY) === token) {
            removeStorage(REFRESH_KEY);
          }
          this.#end(error.code);
        } else {
          this.#retryLater();
        }
        throw error;
      }
      this.adopt(await response.json());
    };
    if (navigator.locks && typeof navigator.locks.request === 'function') {
      return navigator.locks.request(LOCK_NAME, spend);
    }
    return spend();
  }

  /**
   * The server warned that the socket's token expires at {@code expiresAt}. If this tab already holds a newer token,
   * the socket gets that one; if the scheduled refresh might come too late (a hidden tab's timers are throttled),
   * refresh now; otherwise the scheduled refresh, before expiry, does it.
   */
  socketExpiring(expiresAt) {
    const socketExp = Date.parse(expiresAt);
    if (this.#accessToken && Number.isFinite(socketExp) && this.#tokenExp > socketExp + 1000) {
      this.dispatchEvent(new CustomEvent('tokens', { detail: { accessToken: this.#accessToken } }));
      return;
    }
    if (this.#accessToken && this.#remaining() <= this.#margin() + 5000) {
      this.refresh().catch(() => {});
    }
  }

  /** Signs out: revokes this login on the server (best effort) and forgets every token here. */
  async signOut() {
    const token = this.#accessToken;
    this.#end('signed_out');
    removeStorage(REFRESH_KEY);
    removeStorage(USER_KEY);
    if (token) {
      try {
        await fetch('/auth/logout', { method: 'POST', headers: { Authorization: 'Bearer ' + token }, cache: 'no-store' });
      } catch {
        // the tokens are gone from this browser either way
      }
    }
  }

  /**
   * A JSON request. With auth, a token close to expiry is refreshed first, and a 401 for an expired token is
   * retried once after a refresh.
   */
  async request(method, path, body, { auth = true, retry = true } = {}) {
    const headers = { Accept: 'application/json' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
    }
    if (auth) {
      headers.Authorization = 'Bearer ' + await this.token();
    }
    let response;
    try {
      response = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
      });
    } catch {
      throw new ApiError('network', 'The server cannot be reached.');
    }
    if (!response.ok) {
      const error = await errorOf(response);
      if (auth && response.status === 401) {
        if (retry && (error.code === 'token_expired' || error.code === 'invalid_token')) {
          await this.refresh();
          return this.request(method, path, body, { auth, retry: false });
        }
        this.#end(error.code);
      }
      throw error;
    }
    if (response.status === 204) {
      return null;
    }
    const text = await response.text();
    return text ? JSON.parse(text) : null;
  }

  #remaining() {
    return this.#expiresAt - Date.now();
  }

  /** How long before expiry to refresh: a minute, or a quarter of a short lifetime. */
  #margin() {
    return Math.min(60000, this.#ttlMs / 4);
  }

  #schedule(delayMs) {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.refresh().catch(() => {}), Math.max(1000, delayMs));
  }

  #retryLater() {
    if (this.#accessToken) {
      this.#schedule(this.#retryMs * (0.5 + Math.random() / 2));
      this.#retryMs = Math.min(60000, this.#retryMs * 2);
    }
  }

  #end(reason) {
    const wasSignedIn = this.#accessToken !== null;
    clearTimeout(this.#timer);
    this.#accessToken = null;
    this.#expiresAt = 0;
    this.#user = null;
    if (wasSignedIn || reason !== 'signed_out') {
      this.dispatchEvent(new CustomEvent('ended', { detail: { reason } }));
    }
  }
}

/** The exp claim of a JWT in milliseconds, or 0 when it cannot be read. */
function expiryClaim(token) {
  try {
    const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const claims = JSON.parse(atob(payload + '='.repeat((4 - payload.length % 4) % 4)));
    return Number.isFinite(claims.exp) ? claims.exp * 1000 : 0;
  } catch {
    return 0;
  }
}

function readStorage(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function writeStorage(key, value) {
  try {
    localStorage.setItem(key, value);
  } catch {
    // storage disabled: the login lasts as long as the page
  }
}

function removeStorage(key) {
  try {
    localStorage.removeItem(key);
  } catch {
    // nothing stored
  }
}
