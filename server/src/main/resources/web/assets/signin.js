// Signing in and out: the start of the page (a stored login, a provider's redirect, or the sign-in form), entering
// the signed-in page and leaving it.

import { el } from './elements.js';
import { ApiError, describe } from './errors.js';
import {
  $, RUNS_KEY, THREAD_KEY, hideAlert, readSession, removeSession, session, showAlert, state, views,
} from './page.js';
import { connection, restoreRuns, tracker } from './live.js';
import { loadThreads, openThread } from './threads.js';
import { updateComposer } from './composer.js';
import { loadUsageSummary } from './usage.js';
import { loadBudget } from './budget.js';

export async function boot() {
  const fragment = readFragment();
  state.config = await loadConfig();
  renderSignInOptions();
  session.addEventListener('ended', (event) => leaveApp(event.detail.reason));
  window.addEventListener('hashchange', () => {
    const next = readFragment();
    if (!state.inApp && (next.oauthCode || next.oauthError)) {
      signInFromProvider(next);
    }
  });
  if (fragment.oauthCode || fragment.oauthError) {
    await signInFromProvider(fragment);
    return;
  }
  if (session.hasStoredLogin()) {
    for (let delay = 1000; ; delay = Math.min(delay * 2, 30000)) {
      try {
        await session.refresh();
        await enterApp();
        return;
      } catch (error) {
        if (error.code !== 'network' && !(error.status >= 500)) {
          if ($('signin-view').hidden) {
            showSignIn(describe(error)); // (a 401 has already ended the session and shown the reason)
          }
          return;
        }
        setBoot('Cannot reach the server. Trying again…');
        await new Promise((resolve) => setTimeout(resolve, delay * (0.5 + Math.random() / 2)));
      }
    }
  }
  showSignIn();
}

/**
 * The end of a provider sign-in: the server redirected here with a one-time code to exchange for tokens, or with
 * an error to show. Written so that the page still works where the exchange route does not exist.
 */
async function signInFromProvider(fragment) {
  if (fragment.oauthError) {
    showSignIn(oauthErrorSentence(fragment));
    return;
  }
  try {
    const pair = await session.request('POST', '/auth/exchange', { code: fragment.oauthCode }, { auth: false });
    session.adopt(pair);
    await enterApp();
  } catch (error) {
    const unavailable = error instanceof ApiError && (error.status === 404 || error.status === 405);
    showSignIn(unavailable ? describe({ code: 'oauth_unavailable' })
      : error.code === 'network' || error.code === 'invalid_code' ? describe(error)
        : describe({ code: 'exchange_failed' }));
  }
}

function readFragment() {
  const hash = location.hash.startsWith('#') ? location.hash.slice(1) : '';
  if (!hash) {
    return {};
  }
  const params = new URLSearchParams(hash);
  const result = {
    oauthCode: params.get('oauth_code'),
    oauthError: params.get('oauth_error'),
    message: params.get('message'),
  };
  if (result.oauthCode || result.oauthError) {
    // The one-time code must not stay in the address bar or the history.
    history.replaceState(null, '', location.pathname + location.search);
  }
  return result;
}

function oauthErrorSentence(fragment) {
  const message = typeof fragment.message === 'string' ? fragment.message.trim().slice(0, 300) : '';
  if (message) {
    return 'Sign-in did not complete: ' + message;
  }
  return `Sign-in with the provider did not complete (${fragment.oauthError.slice(0, 60)}). Try again.`;
}

async function loadConfig() {
  try {
    const config = await session.request('GET', '/auth/config', undefined, { auth: false });
    return {
      providers: Array.isArray(config.providers) ? config.providers : [],
      dev_login: config.dev_login === true,
      registration_open: config.registration_open !== false,
    };
  } catch {
    return { providers: [], dev_login: false, registration_open: true };
  }
}

function setBoot(text) {
  const boot = $('boot');
  boot.hidden = false;
  boot.textContent = text;
}

// ---------------------------------------------------------------------------------------------------------------
// Sign-in

function renderSignInOptions() {
  $('dev-login').hidden = !state.config.dev_login;
  $('switch-mode-row').hidden = !state.config.registration_open;
  const list = $('provider-list');
  list.replaceChildren();
  for (const provider of state.config.providers) {
    const link = providerLink(provider);
    if (link) {
      const item = el('li');
      item.appendChild(link);
      list.appendChild(item);
    }
  }
  $('providers').hidden = list.childElementCount === 0;
}

function providerLink(provider) {
  const id = typeof provider === 'string' ? provider
    : provider && typeof provider === 'object' ? (provider.id || provider.provider || provider.name) : null;
  if (typeof id !== 'string' || !id) {
    return null;
  }
  const label = (provider && typeof provider === 'object' && (provider.display_name || provider.label || provider.name)) || id;
  const given = provider && typeof provider === 'object' && typeof provider.login_url === 'string' ? provider.login_url : null;
  const href = safeUrl(given || '/auth/login?provider=' + encodeURIComponent(id));
  if (!href) {
    return null;
  }
  const link = el('a', 'provider-link', 'Sign in with ' + String(label).charAt(0).toUpperCase() + String(label).slice(1));
  link.href = href;
  return link;
}

/** Same-origin paths and https URLs only: never javascript: or data: links from the server's answer. */
function safeUrl(value) {
  try {
    const url = new URL(value, location.origin);
    if (url.origin === location.origin || url.protocol === 'https:') {
      return url.href;
    }
  } catch {
    // not a URL
  }
  return null;
}

export function setMode(mode) {
  state.mode = mode;
  const register = mode === 'register';
  $('signin-title').textContent = register ? 'Create an account' : 'Sign in';
  $('signin-submit').textContent = register ? 'Create account' : 'Sign in';
  $('name-field').hidden = !register;
  $('password-hint').hidden = !register;
  $('signin-password').autocomplete = register ? 'new-password' : 'current-password';
  $('switch-mode-text').textContent = register ? 'Have an account?' : 'New here?';
  $('switch-mode').textContent = register ? 'Sign in instead' : 'Create an account';
  hideAlert('signin-alert');
}

function showSignIn(message) {
  state.inApp = false;
  $('boot').hidden = true;
  $('app-view').hidden = true;
  $('signin-view').hidden = false;
  if (message) {
    showAlert('signin-alert', message);
  } else {
    hideAlert('signin-alert');
  }
  $('signin-email').focus();
}

export async function submitSignIn(event) {
  event.preventDefault();
  hideAlert('signin-alert');
  const email = $('signin-email').value.trim();
  const password = $('signin-password').value;
  const register = state.mode === 'register';
  if (!email) {
    showAlert('signin-alert', 'Enter your email address.');
    $('signin-email').focus();
    return;
  }
  if (!password || (register && [...password].length < 8)) {
    showAlert('signin-alert', register ? describe({ code: 'weak_password' }) : 'Enter your password.');
    $('signin-password').focus();
    return;
  }
  const body = { email, password };
  const name = $('signin-name').value.trim();
  if (register && name) {
    body.name = name;
  }
  await signInWith(register ? '/auth/register' : '/auth/login', body);
}

export async function signInWith(path, body) {
  const button = $('signin-submit');
  button.disabled = true;
  $('dev-login-button').disabled = true;
  try {
    session.adopt(await session.request('POST', path, body, { auth: false }));
    $('signin-password').value = '';
    await enterApp();
  } catch (error) {
    showAlert('signin-alert', describe(error));
    $(error.code === 'weak_password' || error.code === 'invalid_credentials' ? 'signin-password' : 'signin-email').focus();
  } finally {
    button.disabled = false;
    $('dev-login-button').disabled = false;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Entering and leaving the signed-in page

async function enterApp() {
  if (state.inApp) {
    return;
  }
  state.inApp = true;
  $('boot').hidden = true;
  $('signin-view').hidden = true;
  $('app-view').hidden = false;
  const user = session.user;
  $('user-label').textContent = user ? (user.name || user.email || '') : '';
  if (!user) {
    session.request('GET', '/auth/me').then((me) => {
      $('user-label').textContent = me.name || me.email || '';
    }, () => {});
  }
  restoreRuns();
  state.threadId = readSession(THREAD_KEY);
  connection.start();
  updateComposer();
  loadThreads();
  loadUsageSummary();
  loadBudget();
  await openThread(state.threadId, { focus: false });
  $('composer-input').focus();
}

export function leaveApp(reason) {
  connection.stop();
  tracker.clear();
  views.clear();
  state.pending = null;
  state.threads = [];
  state.threadId = null;
  state.resumes.clear();
  clearTimeout(state.persistTimer);
  removeSession(RUNS_KEY);
  removeSession(THREAD_KEY);
  $('messages').replaceChildren();
  $('thread-list').replaceChildren();
  setMode('signin');
  const sentences = {
    signed_out: 'You are signed out.',
    signed_out_elsewhere: 'You signed out in another tab.',
  };
  showSignIn(sentences[reason] || describe({ code: reason || 'token_expired' }));
}
