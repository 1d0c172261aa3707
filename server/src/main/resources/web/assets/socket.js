// The WebSocket to the server: opens it with the access token in the jwt-auth subprotocol (never in the URL),
// answers heartbeats, notices a dead connection, and reconnects by itself with exponential backoff and jitter,
// or after the delay a draining server asks for. Resuming runs is the caller's job (onOpen).

const BASE_DELAY_MS = 1000;
const MAX_DELAY_MS = 30000;
const OPEN_TIMEOUT_MS = 15000;
const WATCH_EVERY_MS = 5000;

export class Connection {
  #session;
  #handlers;
  #ws = null;
  #established = false;
  #stopped = true;
  #attempt = 0;
  #hadConnection = false;
  #serverDelayMs = null;
  #reconnectTimer = null;
  #openTimer = null;
  #watchTimer = null;
  #lastFrameAt = 0;
  #pingSentAt = 0;
  #heartbeatMs = 25000;

  /**
   * @param session the Session that supplies access tokens
   * @param handlers onEvent(event), onOpen({reconnected}), onStatus(text, kind), onSignedOut(reason)
   */
  constructor(session, handlers) {
    this.#session = session;
    this.#handlers = handlers;
    session.addEventListener('tokens', (event) => {
      // A new access token extends the open socket's life too.
      if (this.isOpen()) {
        this.send('auth_refresh', { token: event.detail.accessToken });
      }
    });
    window.addEventListener('online', () => this.#wakeUp());
    window.addEventListener('offline', () => {
      if (!this.#stopped) {
        this.#status('You are offline. The page will reconnect when the network is back.', 'warning');
      }
    });
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') {
        this.#wakeUp();
      }
    });
  }

  start() {
    if (!this.#stopped) {
      return;
    }
    this.#stopped = false;
    this.#attempt = 0;
    this.#hadConnection = false;
    this.#connect();
  }

  /** Closes for good (sign-out). */
  stop() {
    this.#stopped = true;
    clearTimeout(this.#reconnectTimer);
    clearTimeout(this.#openTimer);
    clearInterval(this.#watchTimer);
    const ws = this.#ws;
    this.#ws = null;
    this.#established = false;
    if (ws) {
      detach(ws);
      try {
        ws.close(1000);
      } catch {
        // already closed
      }
    }
  }

  isOpen() {
    return this.#established && this.#ws !== null && this.#ws.readyState === WebSocket.OPEN;
  }

  /** Sends a client message; false when the socket is not open. */
  send(type, payload, messageId) {
    if (!this.isOpen()) {
      return false;
    }
    const frame = { type, payload: payload || {} };
    if (messageId) {
      frame.message_id = messageId;
    }
    this.#ws.send(JSON.stringify(frame));
    return true;
  }

  async #connect() {
    clearTimeout(this.#reconnectTimer);
    if (this.#stopped || this.#ws) {
      return;
    }
    this.#status(this.#hadConnection ? 'Reconnecting…' : 'Connecting…', 'pending');
    let token;
    try {
      token = await this.#session.token(30000);
    } catch (error) {
      if (!this.#session.signedIn) {
        return; // the session ended; the page shows the sign-in form
      }
      this.#scheduleReconnect();
      return;
    }
    if (this.#stopped || this.#ws) {
      return;
    }
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    let ws;
    try {
      ws = new WebSocket(`${scheme}//${location.host}/ws`, ['jwt-auth', 'jwt.' + base64Url(token)]);
    } catch {
      this.#scheduleReconnect();
      return;
    }
    this.#ws = ws;
    this.#established = false;
    ws.onmessage = (event) => this.#onFrame(ws, event.data);
    ws.onclose = (event) => this.#onClose(ws, event.code, event.reason);
    ws.onerror = () => {}; // a close event follows
    this.#openTimer = setTimeout(() => {
      if (this.#ws === ws && !this.#established) {
        this.#abandon(ws);
      }
    }, OPEN_TIMEOUT_MS);
  }

  #onFrame(ws, text) {
    if (ws !== this.#ws) {
      return;
    }
    this.#lastFrameAt = Date.now();
    this.#pingSentAt = 0;
    let event;
    try {
      event = JSON.parse(text);
    } catch {
      return;
    }
    if (!event || typeof event.type !== 'string') {
      return;
    }
    const data = event.data || event.payload || {};
    switch (event.type) {
      case 'connection_established': {
        clearTimeout(this.#openTimer);
        this.#established = true;
        const reconnected = this.#hadConnection;
        this.#hadConnection = true;
        this.#attempt = 0;
        this.#serverDelayMs = null;
        if (Number.isFinite(data.heartbeat_interval_ms) && data.heartbeat_interval_ms > 0) {
          this.#heartbeatMs = data.heartbeat_interval_ms;
        }
        this.#watch();
        this.#handlers.onOpen({ reconnected });
        return;
      }
      case 'heartbeat':
        this.send('heartbeat_ack', {});
        return;
      case 'heartbeat_ack':
      case 'pong':
      case 'auth_refreshed':
        return;
      case 'auth_expiring':
        this.#session.socketExpiring(data.expires_at);
        return;
      case 'server_shutdown':
        if (Number.isFinite(data.reconnect_after_ms) && data.reconnect_after_ms >= 0) {
          this.#serverDelayMs = Math.min(data.reconnect_after_ms, MAX_DELAY_MS);
        }
        this.#status('The server is restarting. Reconnecting…', 'warning');
        return;
      default:
        this.#handlers.onEvent(event);
    }
  }

  #onClose(ws, code, reason) {
    if (ws !== this.#ws) {
      return;
    }
    const wasEstablished = this.#established;
    this.#ws = null;
    this.#established = false;
    clearTimeout(this.#openTimer);
    clearInterval(this.#watchTimer);
    if (this.#stopped) {
      return;
    }
    if (code === 1008 && reason === 'token_revoked') {
      this.#stopped = true;
      this.#handlers.onSignedOut('token_revoked');
      return;
    }
    if (code === 1008 || !wasEstablished) {
      // Expired or refused credentials, or a refused upgrade (whose status a browser does not reveal): check the
      // session over HTTP, which refreshes the token or ends the session, before trying again.
      this.#session.request('GET', '/auth/me').then(() => this.#scheduleReconnect(), (error) => {
        if (this.#session.signedIn || error.code === 'network') {
          this.#scheduleReconnect();
        }
      });
      this.#status(wasEstablished ? 'Connection lost. Reconnecting…' : 'Cannot connect yet. Retrying…', 'warning');
      return;
    }
    if (code === 1013 && reason === 'too_many_connections') {
      this.#attempt = Math.max(this.#attempt, 3);
    }
    this.#status(this.#serverDelayMs !== null ? 'The server is restarting. Reconnecting…' : 'Connection lost. Reconnecting…',
      'warning');
    this.#scheduleReconnect();
  }

  /** Exponential backoff with jitter (half fixed, half random), or the server's own delay after a shutdown. */
  #scheduleReconnect() {
    if (this.#stopped) {
      return;
    }
    clearTimeout(this.#reconnectTimer);
    let delay;
    if (this.#serverDelayMs !== null) {
      delay = this.#serverDelayMs;
      this.#serverDelayMs = null;
    } else {
      const base = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** this.#attempt);
      delay = base / 2 + Math.random() * base / 2;
    }
    this.#attempt++;
    this.#reconnectTimer = setTimeout(() => this.#connect(), delay);
  }

  /** Back online or visible again: do not wait out a long backoff. */
  #wakeUp() {
    if (!this.#stopped && !this.#ws && this.#reconnectTimer) {
      this.#attempt = 0;
      this.#connect();
    }
  }

  /** Notices a connection that died silently: pings when quiet, gives up when the server stays silent. */
  #watch() {
    clearInterval(this.#watchTimer);
    this.#lastFrameAt = Date.now();
    this.#watchTimer = setInterval(() => {
      const ws = this.#ws;
      if (!ws || !this.#established) {
        return;
      }
      const quiet = Date.now() - this.#lastFrameAt;
      if (quiet > 2 * this.#heartbeatMs + 10000) {
        this.#abandon(ws);
      } else if (quiet > this.#heartbeatMs + 5000 && !this.#pingSentAt) {
        this.#pingSentAt = Date.now();
        this.send('ping', { timestamp: new Date().toISOString() });
      }
    }, WATCH_EVERY_MS);
  }

  /** Drops a socket without waiting for its close handshake (which never comes on a dead connection). */
  #abandon(ws) {
    detach(ws);
    try {
      ws.close(4000, 'abandoned');
    } catch {
      // already closed
    }
    this.#onClose(ws, 1006, '');
  }

  #status(text, kind) {
    this.#handlers.onStatus(text, kind);
  }
}

function detach(ws) {
  const onclose = ws.onclose;
  ws.onmessage = null;
  ws.onerror = null;
  ws.onclose = null;
  return onclose;
}

/** base64url of an ASCII string (a JWT), without padding. */
function base64Url(text) {
  return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
