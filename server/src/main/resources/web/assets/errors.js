// Error codes of the wire contract, turned into sentences a person can act on.

/** An error from the server (HTTP body or socket event) or from the network, with its contract code. */
export class ApiError extends Error {
  constructor(code, message, status = 0, requestId = null, details = {}) {
    super(message || code);
    this.name = 'ApiError';
    this.code = code;
    this.status = status;
    this.requestId = requestId;
    this.details = details;
  }
}

const SENTENCES = {
  network: 'Cannot reach the server. Check your connection; the page keeps trying.',
  invalid_credentials: 'That email and password do not match an account.',
  email_taken: 'An account with this email already exists. Sign in instead.',
  weak_password: 'Choose a password of at least 8 characters.',
  invalid_email: 'That does not look like an email address.',
  registration_closed: 'This server does not accept new accounts. Ask its operator for one.',
  too_many_attempts: 'Too many sign-in attempts. Wait a few minutes, then try again.',
  unauthorized: 'Please sign in again.',
  invalid_token: 'Your session is no longer valid. Please sign in again.',
  token_expired: 'Your session has expired. Please sign in again.',
  token_revoked: 'You were signed out, for example from another tab or device. Please sign in again.',
  auth_failed: 'Your session is no longer valid. Please sign in again.',
  rate_limited: 'You are sending messages too quickly. Wait a moment, then try again.',
  message_too_large: 'That message is too long. Shorten it and try again.',
  run_in_progress: 'The assistant is still working in this conversation. Stop it or wait for it to finish.',
  run_finished: 'That answer had already finished.',
  run_not_found: 'That answer no longer exists.',
  thread_not_found: 'This conversation no longer exists. It may have been deleted.',
  not_found: 'That was not found on the server.',
  llm_unavailable: 'The AI model cannot be reached right now. Try again in a minute.',
  tool_failed: 'One of the assistant\'s tools failed. Try again, or ask in a different way.',
  approval_not_found: 'That approval no longer exists.',
  approval_resolved: 'That tool call was already decided.',
  timeout: 'The assistant took too long and was stopped. Try a narrower question.',
  upstream_unavailable: 'A service the server needs is unavailable. Try again shortly.',
  overloaded: 'The server is busy or restarting. Try again in a moment.',
  not_ready: 'The server is starting or restarting. Try again in a moment.',
  service_restart: 'The server restarted while working on this. Send your message again.',
  too_many_connections: 'Too many tabs or devices are connected to this account. Close some and reload.',
  events_expired: 'The details of that answer are no longer kept. The conversation was reloaded.',
  forbidden_origin: 'This page is not allowed to connect to the server from here.',
  invalid_json: 'The page sent something the server could not read. Reload the page and try again.',
  invalid_message: 'The page sent something the server could not read. Reload the page and try again.',
  invalid_request: 'The server could not accept that request. Check the fields and try again.',
  unknown_type: 'The page and the server disagree. Reload the page.',
  method_not_allowed: 'The server does not support that here.',
  oauth_unavailable: 'Signing in with an external provider is not available on this server.',
  exchange_failed: 'Signing in with the external provider did not complete. Try again.',
  invalid_code: 'That sign-in has expired or was already used. Please sign in again.',
  budget_exceeded: 'Your spending limit for this period is used up, so this message was not sent.',
  forbidden: 'This account may not do that.',
};

/**
 * A sentence for an error: {code, message, request_id} from the server, an ApiError, or anything thrown.
 * Internal errors carry the request id, so that a person can quote it.
 */
export function describe(error) {
  if (!error) {
    return 'Something went wrong.';
  }
  const code = error.code || (error.error && error.error.code);
  const requestId = error.requestId || error.request_id || (error.details && error.details.request_id)
    || (error.error && error.error.request_id);
  if (code === 'internal') {
    return 'Something went wrong on the server.' + (requestId ? ` If it keeps happening, report reference ${requestId}.` : '');
  }
  if (code === 'rate_limited') {
    const wait = error.details && error.details.retry_after_ms;
    if (Number.isFinite(wait) && wait > 0) {
      return `You are sending messages too quickly. Wait ${Math.ceil(wait / 1000)} s, then try again.`;
    }
  }
  if (code && Object.hasOwn(SENTENCES, code)) {
    return SENTENCES[code];
  }
  const message = error.message || (error.error && error.error.message);
  if (typeof message === 'string' && message.trim()) {
    return message.trim().slice(0, 300);
  }
  return 'Something went wrong.';
}

/** Reads a failed fetch Response into an ApiError with the contract's code. */
export async function errorOf(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const error = body && typeof body === 'object' && body.error && typeof body.error === 'object' ? body.error : null;
  if (error && typeof error.code === 'string') {
    const { code, message, request_id: requestId, ...details } = error;
    return new ApiError(code, message, response.status, requestId || response.headers.get('X-Request-Id'), details);
  }
  const fallback = response.status === 404 ? 'not_found'
    : response.status === 401 ? 'unauthorized'
      : response.status >= 500 ? 'upstream_unavailable' : 'invalid_request';
  return new ApiError(fallback, `HTTP ${response.status}`, response.status, response.headers.get('X-Request-Id'));
}
