// The chat page: sign-in, the thread list, the conversation and its live runs. State that must survive a
// reload lives in sessionStorage (the open thread, and each unfinished run with the events seen so far and its
// last seq); the access token lives in memory only (see session.js).

import { Session } from './session.js';
import { Connection } from './socket.js';
import { RunTracker } from './runs.js';
import { TurnView, el, formatWhen } from './conversation.js';
import { ApiError, describe } from './errors.js';

const THREAD_KEY = 'parley.thread';
const RUNS_KEY = 'parley.runs';
const MAX_STORED_CHARS = 1_500_000;
const THREAD_PAGE = 50;
const MESSAGE_PAGE = 50;
const RUN_INFO_LOOKUPS = 20;

const $ = (id) => document.getElementById(id);

const session = new Session();
const views = new Map(); // run id → TurnView of every run this page follows
const tracker = new RunTracker(onRunEvent, requestResume);
const connection = new Connection(session, {
  onEvent: onSocketEvent,
  onOpen: onSocketOpen,
  onStatus: setConnectionStatus,
  onSignedOut: (reason) => leaveApp(reason),
});

const state = {
  config: { providers: [], dev_login: false, registration_open: true },
  mode: 'signin',
  inApp: false,
  threads: [],
  threadsTotal: 0,
  threadId: null,
  threadTitle: null,
  loadToken: 0,
  oldestMessageId: null,
  pending: null, // { messageId, text, threadId, view }
  stops: new Map(), // client message id → run id
  resumes: new Set(), // run ids whose resume is awaited
  renameId: null,
  deleteId: null,
  persistTimer: null,
  threadsTimer: null,
  budget: null, // GET /api/budget, kept current by cost_updated
  budgetWarned: false,
};

// ---------------------------------------------------------------------------------------------------------------
// Start

wireUi();
boot();

async function boot() {
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

function setMode(mode) {
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

async function submitSignIn(event) {
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

async function signInWith(path, body) {
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

function leaveApp(reason) {
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

// ---------------------------------------------------------------------------------------------------------------
// The socket

function onSocketOpen({ reconnected }) {
  state.resumes.clear();
  const unfinished = tracker.incomplete();
  for (const run of unfinished) {
    requestResume(run.runId, run.lastSeq);
  }
  if (unfinished.length) {
    setConnectionStatus(reconnected ? 'Reconnected, resuming…' : 'Connected, resuming…', 'pending');
  } else {
    setConnectionStatus(reconnected ? 'Reconnected' : 'Connected', 'ok');
  }
  if (reconnected) {
    loadThreads();
  }
  updateComposer();
}

function requestResume(runId, lastSeq) {
  tracker.resuming(runId, true);
  state.resumes.add(runId);
  connection.send('resume', { run_id: runId, last_seq: lastSeq });
}

function onSocketEvent(event) {
  const data = event.data || event.payload || {};
  switch (event.type) {
    case 'resumed':
      onResumed(data);
      return;
    case 'resume_failed':
      onResumeFailed(data);
      return;
    case 'error':
      onRefused(data);
      return;
    case 'thread_history':
      return;
    default:
      if (typeof event.run_id === 'string') {
        tracker.accept(event);
      }
  }
}

function onResumed(data) {
  const runId = data.run_id;
  tracker.resuming(runId, false);
  state.resumes.delete(runId);
  if (tracker.hasGap(runId) || (data.complete && !tracker.isComplete(runId))) {
    // The replay did not close the run's story: fall back to what the server stored.
    dropRun(runId);
  }
  if (state.resumes.size === 0) {
    setConnectionStatus('Reconnected, resumed', 'ok');
  }
}

function onResumeFailed(data) {
  const runId = data.run_id;
  state.resumes.delete(runId);
  dropRun(runId);
  setConnectionStatus('Reconnected; the conversation was reloaded', 'ok');
}

/** Forgets a run followed live and shows its thread as the server stored it. */
function dropRun(runId) {
  const view = views.get(runId);
  tracker.forget(runId);
  views.delete(runId);
  persistRunsSoon();
  if (view && view.threadId === state.threadId) {
    openThread(state.threadId, { focus: false });
  }
  updateComposer();
}

/** An `error` event: a client message of ours was refused. */
function onRefused(data) {
  const error = data.error || {};
  const inReplyTo = data.in_reply_to;
  if (state.pending && inReplyTo === state.pending.messageId) {
    const pending = state.pending;
    state.pending = null;
    pending.view.element.remove();
    const input = $('composer-input');
    if (!input.value.trim()) {
      input.value = pending.text;
    }
    showChatAlert(error.code === 'budget_exceeded' ? budgetRefusal(error) : describe(error));
    if (error.code === 'budget_exceeded') {
      loadBudget();
    }
    updateComposer();
    return;
  }
  if (state.stops.has(inReplyTo)) {
    const runId = state.stops.get(inReplyTo);
    state.stops.delete(inReplyTo);
    if (error.code === 'run_finished') {
      return; // it ended on its own; its last event is on the way
    }
    if (error.code === 'run_not_found') {
      dropRun(runId);
      return;
    }
    showChatAlert(describe(error));
    updateComposer();
    return;
  }
  if (inReplyTo === 'resume' || inReplyTo === 'auth_refresh' || inReplyTo === 'heartbeat_ack' || inReplyTo === 'ping') {
    return; // resume failures arrive as resume_failed; a refused token keeps the socket's old expiry
  }
  if (error.code === 'rate_limited' || error.code === 'run_in_progress') {
    showChatAlert(describe(error));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Runs

/** Every run event, in seq order and exactly once (RunTracker). */
function onRunEvent(event) {
  const runId = event.run_id;
  const data = event.data || event.payload || {};
  let view = views.get(runId);
  if (!view && event.type === 'agent_started') {
    // Our own message: the turn already on screen becomes the run's view (focus and reading position stay put).
    const pending = state.pending;
    if (pending && pending.threadId === event.thread_id && pending.text === data.user_request) {
      state.pending = null;
      view = pending.view;
      view.threadId = event.thread_id;
      views.set(runId, view);
    }
  }
  if (!view) {
    view = new TurnView({ runId, threadId: event.thread_id });
    views.set(runId, view);
  }
  if (event.type === 'agent_started' && !state.threads.some((thread) => thread.id === event.thread_id)) {
    loadThreadsSoon();
  }
  view.apply(event);
  if (event.type === 'cost_updated' && data.remaining_usd !== undefined && state.budget) {
    state.budget.remaining_usd = data.remaining_usd;
    showBudget();
  } else if (event.type === 'budget_warning') {
    state.budgetWarned = true;
    showChatAlert(`You have spent ${formatUsd(data.spent_usd)} of your ${formatUsd(data.limit_usd)} spending limit `
      + 'for this period.');
    loadBudget();
  }
  if (view.threadId === state.threadId) {
    attach(view);
  }
  markThreadRunning(view.threadId, !view.complete);
  if (view.complete) {
    pruneViews();
    announce(view.state === 'cancelled' ? 'The assistant stopped.'
      : view.state === 'failed' ? 'The answer failed.'
        : data.status === 'budget_exhausted' ? 'The assistant stopped: your spending limit ran out.'
          : 'The answer is complete.');
    if (data.status === 'budget_exhausted') {
      loadBudget();
    }
    loadThreadsSoon();
  } else if (event.type === 'agent_started') {
    announce('The assistant is working on it.');
  }
  persistRunsSoon();
  updateComposer();
}

/** Keeps the finished views this page holds bounded; a thread shown again then comes from the server. */
function pruneViews() {
  const MAX_VIEWS = 40;
  for (const [runId, view] of views) {
    if (views.size <= MAX_VIEWS) {
      return;
    }
    if (view.complete && !view.element.isConnected) {
      views.delete(runId);
    }
  }
}

/** Places a live view in the open conversation: where its turn from history is, or at the end. */
function attach(view) {
  if (view.element.isConnected) {
    return;
  }
  const messages = $('messages');
  const stored = [...messages.children].find((node) => node.dataset.runId === view.runId && node !== view.element);
  if (stored) {
    if (!view.userText && stored.__userText) {
      view.setUserText(stored.__userText);
    }
    stored.replaceWith(view.element);
  } else {
    messages.appendChild(view.element);
    scrollToEnd();
  }
  $('welcome').hidden = true;
}

function currentRun() {
  for (const view of views.values()) {
    if (view.threadId === state.threadId && view.running) {
      return view;
    }
  }
  return null;
}

function stopRun() {
  const view = currentRun();
  if (!view) {
    return;
  }
  view.stopping();
  updateComposer();
  const messageId = 'stop-' + randomId();
  state.stops.set(messageId, view.runId);
  if (!connection.send('stop_agent', { run_id: view.runId }, messageId)) {
    state.stops.delete(messageId);
    session.request('POST', `/api/runs/${encodeURIComponent(view.runId)}/cancel`).catch((error) => {
      if (error.code !== 'run_finished') {
        showChatAlert(describe(error));
      }
    });
  }
  announce('Stopping the assistant…');
}

/**
 * Sends the user's decision on a tool call that waits for one. The run's approval_resolved event updates the view
 * (in every tab); a decision that another tab made first is not an error worth showing.
 */
function decideApproval(button) {
  const buttons = [...button.parentElement.querySelectorAll('button')];
  buttons.forEach((each) => { each.disabled = true; });
  const path = `/api/approvals/${encodeURIComponent(button.dataset.approvalId)}`;
  session.request('POST', path, { decision: button.dataset.decision }).then(() => {
    announce(button.dataset.decision === 'approve' ? 'Approved.' : 'Rejected.');
  }).catch((error) => {
    if (error.code === 'approval_resolved') {
      return;
    }
    buttons.forEach((each) => { each.disabled = false; });
    showChatAlert(describe(error));
  });
}

/** Saves the unfinished runs (events seen and last seq) so that a reload can show them and resume. */
function persistRunsSoon() {
  if (state.persistTimer) {
    return;
  }
  state.persistTimer = setTimeout(persistRuns, 250);
}

function persistRuns() {
  clearTimeout(state.persistTimer);
  state.persistTimer = null;
  if (!state.inApp) {
    return;
  }
  const runs = [];
  for (const view of views.values()) {
    if (!view.complete && view.runId && tracker.has(view.runId)) {
      runs.push({
        run_id: view.runId, thread_id: view.threadId, last_seq: tracker.lastSeq(view.runId), events: view.events,
      });
    }
  }
  if (!runs.length) {
    removeSession(RUNS_KEY);
    return;
  }
  let text = JSON.stringify(runs);
  if (text.length > MAX_STORED_CHARS) {
    // Too much to keep: keep just the runs, and replay them from their start after a reload.
    text = JSON.stringify(runs.map((run) => ({ run_id: run.run_id, thread_id: run.thread_id, last_seq: 0, events: [] })));
  }
  writeSession(RUNS_KEY, text);
}

function restoreRuns() {
  let runs;
  try {
    runs = JSON.parse(readSession(RUNS_KEY) || '[]');
  } catch {
    runs = [];
  }
  if (!Array.isArray(runs)) {
    return;
  }
  for (const run of runs) {
    if (!run || typeof run.run_id !== 'string' || tracker.has(run.run_id)) {
      continue;
    }
    const events = Array.isArray(run.events) ? run.events : [];
    tracker.follow(run.run_id, run.thread_id, 0);
    for (const event of events) {
      tracker.accept(event); // shows what the page had before the reload
    }
    // Events the page did not keep are replayed by the resume (from 0 if none were kept).
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Threads

async function loadThreads({ more = false } = {}) {
  try {
    const offset = more ? state.threads.length : 0;
    const limit = more ? THREAD_PAGE : Math.max(THREAD_PAGE, Math.min(100, state.threads.length));
    const page = await session.request('GET', `/api/threads?limit=${limit}&offset=${offset}`);
    const threads = Array.isArray(page.threads) ? page.threads : [];
    state.threads = more ? state.threads.concat(threads) : threads;
    state.threadsTotal = Number(page.total) || state.threads.length;
    renderThreadList();
  } catch (error) {
    if (session.signedIn) {
      showChatAlert(describe(error));
    }
  }
}

function loadThreadsSoon() {
  clearTimeout(state.threadsTimer);
  state.threadsTimer = setTimeout(() => loadThreads(), 300);
}

function renderThreadList() {
  const list = $('thread-list');
  const focusedId = document.activeElement && document.activeElement.closest('.thread-item')
    ? document.activeElement.closest('.thread-item').dataset.threadId : null;
  const focusedClass = document.activeElement ? document.activeElement.className : '';
  list.replaceChildren();
  for (const thread of state.threads) {
    const item = el('li', 'thread-item');
    item.dataset.threadId = thread.id;
    const open = el('button', 'thread-open');
    open.type = 'button';
    open.appendChild(el('span', 'thread-title', thread.title || 'Untitled'));
    const meta = el('span', 'thread-meta');
    const count = Number(thread.message_count) || 0;
    meta.textContent = `${count} message${count === 1 ? '' : 's'} · ${formatWhen(thread.updated_at)}`;
    open.appendChild(meta);
    const running = el('span', 'thread-running', 'working…');
    running.hidden = !isThreadRunning(thread.id);
    open.appendChild(running);
    if (thread.id === state.threadId) {
      open.setAttribute('aria-current', 'page');
      item.classList.add('current');
    }
    open.addEventListener('click', () => {
      closeSidebar();
      openThread(thread.id, { focus: true });
    });
    const actions = el('div', 'thread-actions');
    const rename = el('button', 'thread-rename link-button', 'Rename');
    rename.type = 'button';
    rename.setAttribute('aria-label', `Rename “${thread.title}”`);
    rename.addEventListener('click', () => askRename(thread));
    const remove = el('button', 'thread-delete link-button', 'Delete');
    remove.type = 'button';
    remove.setAttribute('aria-label', `Delete “${thread.title}”`);
    remove.addEventListener('click', () => askDelete(thread));
    actions.append(rename, remove);
    item.append(open, actions);
    list.appendChild(item);
    if (thread.id === state.threadId) {
      state.threadTitle = thread.title;
      $('chat-title').textContent = thread.title;
    }
  }
  $('threads-empty').hidden = state.threads.length > 0;
  $('threads-more').hidden = state.threads.length >= state.threadsTotal;
  if (focusedId) {
    // Keep keyboard focus on the same control after the list is rebuilt.
    const again = list.querySelector(`.thread-item[data-thread-id="${CSS.escape(focusedId)}"] .${focusedClass.split(' ')[0]}`);
    if (again) {
      again.focus();
    }
  }
}

function isThreadRunning(threadId) {
  for (const view of views.values()) {
    if (view.threadId === threadId && view.running) {
      return true;
    }
  }
  return false;
}

function markThreadRunning(threadId, running) {
  const item = $('thread-list').querySelector(`.thread-item[data-thread-id="${CSS.escape(threadId || '')}"]`);
  if (item) {
    item.querySelector('.thread-running').hidden = !(running || isThreadRunning(threadId));
  }
}

/** Shows a thread (null: a new, empty conversation), with any run of it that is still going. */
async function openThread(threadId, { focus = false } = {}) {
  const token = ++state.loadToken;
  state.threadId = threadId || null;
  if (state.threadId) {
    writeSession(THREAD_KEY, state.threadId);
  } else {
    removeSession(THREAD_KEY);
  }
  hideAlert('chat-alert');
  $('messages').replaceChildren();
  $('load-earlier').hidden = true;
  state.oldestMessageId = null;
  highlightThread();
  if (!state.threadId) {
    state.threadTitle = null;
    $('chat-title').textContent = 'New conversation';
    $('welcome').hidden = false;
    updateComposer();
    if (focus) {
      $('composer-input').focus();
    }
    return;
  }
  const known = state.threads.find((thread) => thread.id === threadId);
  $('chat-title').textContent = known ? known.title : 'Loading…';
  $('welcome').hidden = true;
  let thread;
  let page;
  try {
    [thread, page] = await Promise.all([
      session.request('GET', `/api/threads/${encodeURIComponent(threadId)}`),
      session.request('GET', `/api/threads/${encodeURIComponent(threadId)}/messages?limit=${MESSAGE_PAGE}`),
    ]);
  } catch (error) {
    if (token !== state.loadToken) {
      return;
    }
    if (error.code === 'thread_not_found' || error.code === 'not_found') {
      await openThread(null);
      showChatAlert(describe({ code: 'thread_not_found' }));
      loadThreadsSoon();
    } else {
      showChatAlert(describe(error));
    }
    return;
  }
  if (token !== state.loadToken) {
    return;
  }
  state.threadTitle = thread.title;
  $('chat-title').textContent = thread.title;
  const messages = Array.isArray(page.messages) ? page.messages : [];
  renderMessages(messages, { prepend: false });
  $('load-earlier').hidden = messages.length < MESSAGE_PAGE;
  for (const view of views.values()) {
    if (view.threadId === threadId) {
      attach(view);
    }
  }
  $('welcome').hidden = $('messages').childElementCount > 0;
  updateComposer();
  scrollToEnd();
  findRunningRun(threadId, messages, token);
  if (focus) {
    $('chat-title').focus();
  }
}

async function loadEarlier() {
  if (!state.threadId || !state.oldestMessageId) {
    return;
  }
  const token = state.loadToken;
  try {
    const page = await session.request('GET', `/api/threads/${encodeURIComponent(state.threadId)}/messages?limit=${MESSAGE_PAGE}`
      + `&before=${encodeURIComponent(state.oldestMessageId)}`);
    if (token !== state.loadToken) {
      return;
    }
    const messages = Array.isArray(page.messages) ? page.messages : [];
    renderMessages(messages, { prepend: true });
    $('load-earlier').hidden = messages.length < MESSAGE_PAGE;
  } catch (error) {
    showChatAlert(describe(error));
  }
}

/** Renders stored messages as turns; a run this page follows live shows as its live view instead. */
function renderMessages(messages, { prepend }) {
  if (messages.length) {
    state.oldestMessageId = messages[0].id;
  }
  const turns = [];
  const byRun = new Map();
  for (const message of messages) {
    const runId = message.run_id;
    let turn = runId ? byRun.get(runId) : null;
    if (!turn || (message.role === 'user' && turn.user) || (message.role === 'assistant' && turn.assistant)) {
      turn = { runId, user: null, assistant: null };
      turns.push(turn);
      if (runId) {
        byRun.set(runId, turn);
      }
    }
    turn[message.role === 'user' ? 'user' : 'assistant'] = message;
  }
  const fragment = document.createDocumentFragment();
  const lookups = [];
  for (const turn of turns) {
    const live = turn.runId ? views.get(turn.runId) : null;
    if (live) {
      if (!live.userText && turn.user) {
        live.setUserText(turn.user.content);
      }
      fragment.appendChild(live.element);
      continue;
    }
    const view = TurnView.fromHistory(turn.user, turn.assistant);
    if (turn.user) {
      view.element.__userText = turn.user.content;
    }
    fragment.appendChild(view.element);
    if (turn.runId && turn.assistant) {
      lookups.push({ runId: turn.runId, view });
    }
  }
  const messagesElement = $('messages');
  if (prepend) {
    messagesElement.insertBefore(fragment, messagesElement.firstChild);
  } else {
    messagesElement.appendChild(fragment);
  }
  fillRunInfo(lookups.slice(-RUN_INFO_LOOKUPS));
}

/** Usage and stopped/failed endings of stored answers come from their runs, a few requests at a time. */
async function fillRunInfo(lookups) {
  const token = state.loadToken;
  const queue = lookups.slice();
  const worker = async () => {
    while (queue.length && token === state.loadToken) {
      const { runId, view } = queue.shift();
      try {
        view.setRunInfo(await session.request('GET', `/api/runs/${encodeURIComponent(runId)}`));
      } catch {
        // the run is gone; the message stands on its own
      }
    }
  };
  await Promise.all([worker(), worker(), worker()]);
}

/**
 * A thread's last request may still be running (started in another tab, or before a reload whose state was
 * lost): follow it and replay it from its start.
 */
async function findRunningRun(threadId, messages, token) {
  const last = messages[messages.length - 1];
  if (!last || last.role !== 'user' || !last.run_id || views.has(last.run_id)) {
    return;
  }
  let run;
  try {
    run = await session.request('GET', `/api/runs/${encodeURIComponent(last.run_id)}`);
  } catch {
    return;
  }
  if (token !== state.loadToken || views.has(last.run_id)) {
    return;
  }
  const stored = [...$('messages').children].find((node) => node.dataset.runId === last.run_id);
  if (run.status === 'running') {
    const view = new TurnView({ runId: last.run_id, threadId });
    view.setUserText(last.content);
    views.set(last.run_id, view);
    tracker.follow(last.run_id, threadId, 0);
    attach(view);
    if (connection.isOpen()) {
      requestResume(last.run_id, 0);
    }
    markThreadRunning(threadId, true);
    updateComposer();
  } else if (stored && run.status === 'failed') {
    const turn = TurnView.fromHistory(last, null);
    turn.setRunInfo(run);
    stored.replaceWith(turn.element);
  }
}

function highlightThread() {
  for (const item of $('thread-list').children) {
    const current = item.dataset.threadId === state.threadId;
    item.classList.toggle('current', current);
    const open = item.querySelector('.thread-open');
    if (current) {
      open.setAttribute('aria-current', 'page');
    } else {
      open.removeAttribute('aria-current');
    }
  }
}

function askRename(thread) {
  state.renameId = thread.id;
  $('rename-input').value = thread.title || '';
  hideAlert('rename-alert');
  $('rename-dialog').showModal();
  $('rename-input').select();
}

async function submitRename(event) {
  event.preventDefault();
  const title = $('rename-input').value.trim();
  if (!title) {
    showAlert('rename-alert', 'Enter a title.');
    return;
  }
  $('rename-save').disabled = true;
  try {
    const thread = await session.request('PATCH', `/api/threads/${encodeURIComponent(state.renameId)}`, { title });
    state.threads = state.threads.map((t) => (t.id === thread.id ? { ...t, ...thread } : t));
    if (thread.id === state.threadId) {
      $('chat-title').textContent = thread.title;
    }
    $('rename-dialog').close();
    renderThreadList();
    announce('Conversation renamed.');
  } catch (error) {
    showAlert('rename-alert', describe(error));
  } finally {
    $('rename-save').disabled = false;
  }
}

function askDelete(thread) {
  state.deleteId = thread.id;
  $('delete-text').textContent = `“${thread.title}” and all its messages will be deleted for good.`;
  hideAlert('delete-alert');
  $('delete-dialog').showModal();
  $('delete-cancel').focus();
}

async function submitDelete(event) {
  event.preventDefault();
  const threadId = state.deleteId;
  $('delete-confirm').disabled = true;
  try {
    await session.request('DELETE', `/api/threads/${encodeURIComponent(threadId)}`);
    $('delete-dialog').close();
    for (const [runId, view] of views) {
      if (view.threadId === threadId) {
        views.delete(runId);
        tracker.forget(runId);
      }
    }
    persistRunsSoon();
    state.threads = state.threads.filter((thread) => thread.id !== threadId);
    state.threadsTotal = Math.max(0, state.threadsTotal - 1);
    renderThreadList();
    if (threadId === state.threadId) {
      await openThread(null);
    }
    announce('Conversation deleted.');
    $('new-thread').focus();
  } catch (error) {
    showAlert('delete-alert', describe(error));
  } finally {
    $('delete-confirm').disabled = false;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Tool connections: the caller's MCP servers, and their own credential for a server that takes one

const CONNECTION_WORDS = {
  connected: 'Connected',
  needs_auth: 'Needs your credential',
  unavailable: 'Unavailable',
};

function openConnections() {
  hideAlert('connections-alert');
  $('connections-dialog').showModal();
  loadConnections();
}

async function loadConnections() {
  try {
    const body = await session.request('GET', '/api/mcp/servers');
    renderConnections(Array.isArray(body && body.servers) ? body.servers : []);
  } catch (error) {
    showAlert('connections-alert', describe(error));
  }
}

function renderConnections(servers) {
  const list = $('tool-servers');
  list.replaceChildren();
  $('connections-empty').hidden = servers.length > 0;
  for (const server of servers) {
    const id = String(server.id);
    const status = String(server.status);
    const item = el('li', 'tool-server');
    item.dataset.serverId = id;
    item.dataset.status = status;
    const heading = el('p', 'tool-server-heading');
    heading.appendChild(el('span', 'tool-server-name', id));
    heading.appendChild(el('span', 'tool-server-state', CONNECTION_WORDS[status] || status));
    item.appendChild(heading);
    const tools = Array.isArray(server.tools) ? server.tools.map((tool) => String(tool.name)) : [];
    if (tools.length > 0) {
      item.appendChild(el('p', 'hint tool-server-tools', `Tools: ${tools.join(', ')}`));
    }
    if (status === 'needs_auth') {
      item.appendChild(credentialForm(id));
    } else if (server.user_credential === true) {
      const actions = el('div', 'tool-server-actions');
      actions.appendChild(el('span', 'hint', 'Your credential is stored.'));
      const remove = el('button', 'secondary tool-server-remove', 'Remove');
      remove.type = 'button';
      remove.addEventListener('click', () => removeCredential(id, remove));
      actions.appendChild(remove);
      item.appendChild(actions);
    }
    list.appendChild(item);
  }
}

function credentialForm(serverId) {
  const form = el('form', 'tool-server-form');
  const inputId = `credential-${serverId}`;
  const label = el('label', null, `Token for ${serverId}`);
  label.htmlFor = inputId;
  const input = el('input', 'tool-server-token');
  input.id = inputId;
  input.type = 'password';
  input.autocomplete = 'off';
  input.required = true;
  input.maxLength = 8192;
  const save = el('button', 'primary tool-server-save', 'Save');
  save.type = 'submit';
  form.append(label, input, save);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (!token) {
      showAlert('connections-alert', 'Enter a token.');
      return;
    }
    hideAlert('connections-alert');
    save.disabled = true;
    try {
      await session.request('PUT', `/api/mcp/servers/${encodeURIComponent(serverId)}/credentials`, { token });
      input.value = '';
      announce(`Credential for ${serverId} saved.`);
      await loadConnections();
    } catch (error) {
      showAlert('connections-alert', describe(error));
      save.disabled = false;
    }
  });
  return form;
}

async function removeCredential(serverId, button) {
  hideAlert('connections-alert');
  button.disabled = true;
  try {
    await session.request('DELETE', `/api/mcp/servers/${encodeURIComponent(serverId)}/credentials`);
    announce(`Credential for ${serverId} removed.`);
    await loadConnections();
  } catch (error) {
    showAlert('connections-alert', describe(error));
    button.disabled = false;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Sending

async function send(text) {
  const request = text.trim();
  if (!request || state.pending) {
    return;
  }
  hideAlert('chat-alert');
  if (!connection.isOpen()) {
    showChatAlert('Not connected yet, so nothing was sent. The page is reconnecting; try again in a moment.');
    return;
  }
  if (currentRun()) {
    showChatAlert(describe({ code: 'run_in_progress' }));
    return;
  }
  const input = $('composer-input');
  input.value = '';
  const view = TurnView.pending(request);
  const pending = { messageId: 'start-' + randomId(), text: request, threadId: state.threadId, view };
  state.pending = pending;
  $('welcome').hidden = true;
  $('messages').appendChild(view.element);
  scrollToEnd();
  updateComposer();
  if (!pending.threadId) {
    try {
      const thread = await session.request('POST', '/api/threads', { title: titleFrom(request) });
      pending.threadId = thread.id;
      state.threadId = thread.id;
      writeSession(THREAD_KEY, thread.id);
      state.threads = [thread, ...state.threads.filter((t) => t.id !== thread.id)];
      state.threadsTotal++;
      $('chat-title').textContent = thread.title;
      renderThreadList();
    } catch (error) {
      state.pending = null;
      view.element.remove();
      input.value = request;
      showChatAlert(describe(error));
      updateComposer();
      return;
    }
  }
  if (!connection.send('start_agent', { user_request: request, thread_id: pending.threadId }, pending.messageId)) {
    state.pending = null;
    view.element.remove();
    input.value = request;
    showChatAlert('The connection dropped before the message went out. It is still in the box; send it again.');
    updateComposer();
  }
}

/** A title from the request's first words, as the server makes one for threads it creates itself. */
function titleFrom(text) {
  const words = text.split(/\s+/).filter(Boolean);
  let title = '';
  for (const word of words.slice(0, 8)) {
    if ((title + ' ' + word).trim().length > 60) {
      return title ? title + '…' : word.slice(0, 60) + '…';
    }
    title = (title + ' ' + word).trim();
  }
  return words.length > 8 ? title + '…' : title || 'New conversation';
}

function updateComposer() {
  const running = currentRun();
  const open = connection.isOpen();
  const stop = $('stop');
  stop.hidden = !running;
  stop.disabled = !!running && running.state === 'stopping';
  stop.textContent = running && running.state === 'stopping' ? 'Stopping…' : 'Stop';
  const blocked = !open || !!running || !!state.pending;
  $('send').disabled = blocked || !$('composer-input').value.trim();
  $('composer-hint').textContent = !open ? 'Waiting for the connection…'
    : running ? 'The assistant is working. Stop it to send something else.'
      : 'Enter to send · Shift+Enter for a new line';
  for (const button of document.querySelectorAll('.suggestion')) {
    button.disabled = blocked;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Usage data

// ---------------------------------------------------------------------------------------------------------------
// Spend budget

/** Reads what is left of the user's spending limit in this period and shows it in the top bar. */
async function loadBudget() {
  try {
    state.budget = await session.request('GET', '/api/budget');
    showBudget();
  } catch {
    // the top bar keeps what it showed; the next run's cost_updated or a reload tries again
  }
}

function showBudget() {
  const status = $('budget-status');
  const budget = state.budget;
  if (!budget || budget.limit_usd === null || budget.limit_usd === undefined) {
    status.hidden = true;
    return;
  }
  const left = Number(budget.remaining_usd);
  const limit = Number(budget.limit_usd);
  status.textContent = `${formatUsd(left)} left this ${budget.period || 'period'}`;
  status.title = `Spending limit ${formatUsd(limit)}, resets ${formatDate(budget.period_end)}`;
  status.dataset.kind = left <= 0 ? 'exhausted' : (state.budgetWarned || left < limit * (1 - Number(budget.warn_at || 0.8)))
    ? 'warning' : 'ok';
  status.hidden = false;
}

/** The sentence for a start the budget refused: what is left and when it resets. */
function budgetRefusal(error) {
  let sentence = describe(error);
  if (error.remaining_usd !== undefined) {
    sentence += ` ${formatUsd(error.remaining_usd)} is left`;
    sentence += error.resets_at ? `; the limit resets ${formatDate(error.resets_at)}.` : '.';
  }
  return sentence;
}

function formatUsd(value) {
  const number = Number(value);
  if (!Number.isFinite(number)) {
    return '$?';
  }
  return '$' + number.toLocaleString('en-US', {
    minimumFractionDigits: 2, maximumFractionDigits: Math.abs(number) < 1 && number !== 0 ? 4 : 2,
  });
}

function formatDate(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? 'at the end of the period'
    : 'on ' + date.toLocaleString('en-US', { dateStyle: 'medium', timeStyle: 'short', timeZone: 'UTC' }) + ' UTC';
}

async function loadUsageSummary() {
  try {
    const summary = await session.request('GET', '/api/usage/summary');
    showUsageSummary(summary && summary.totals);
  } catch {
    // the welcome text stays generic
  }
}

function showUsageSummary(totals) {
  const requests = totals ? Number(totals.requests) || 0 : 0;
  const text = $('usage-summary');
  if (requests > 0) {
    text.textContent = `You have ${requests.toLocaleString('en-US')} usage records`
      + (totals.first_day && totals.last_day ? ` from ${totals.first_day} to ${totals.last_day}.` : '.')
      + ' Ask about costs, latency or cheaper options.';
  } else {
    text.textContent = 'You have no usage records yet. Load a sample month to try Parley, then ask about it.';
  }
}

async function loadSample() {
  const button = $('load-sample');
  const result = $('sample-result');
  button.disabled = true;
  result.textContent = 'Loading sample data…';
  try {
    const answer = await session.request('POST', '/api/usage/sample', {});
    result.textContent = `Loaded ${Number(answer.accepted).toLocaleString('en-US')} sample records`
      + (answer.first_day ? ` from ${answer.first_day} to ${answer.last_day}` : '')
      + '. Now ask “Analyze my AI costs”.';
    result.dataset.state = 'loaded';
    loadUsageSummary();
  } catch (error) {
    result.textContent = describe(error);
    result.dataset.state = 'error';
  } finally {
    button.disabled = false;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Small things

function wireUi() {
  $('signin-form').addEventListener('submit', submitSignIn);
  $('switch-mode').addEventListener('click', () => setMode(state.mode === 'signin' ? 'register' : 'signin'));
  $('dev-login-button').addEventListener('click', () => {
    const email = $('signin-email').value.trim();
    signInWith('/auth/dev/login', email ? { email } : {});
  });
  $('signout').addEventListener('click', () => session.signOut());
  $('new-thread').addEventListener('click', () => {
    closeSidebar();
    openThread(null, { focus: true });
  });
  $('threads-more').addEventListener('click', () => loadThreads({ more: true }));
  $('load-earlier').addEventListener('click', loadEarlier);
  $('load-sample').addEventListener('click', loadSample);
  $('messages').addEventListener('click', (event) => {
    const button = event.target.closest('button[data-approval-id]');
    if (button) {
      decideApproval(button);
    }
  });
  for (const button of document.querySelectorAll('.suggestion')) {
    button.addEventListener('click', () => send(button.textContent));
  }
  $('composer').addEventListener('submit', (event) => {
    event.preventDefault();
    send($('composer-input').value);
  });
  $('composer-input').addEventListener('input', updateComposer);
  $('composer-input').addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing && !event.altKey && !event.ctrlKey
      && !event.metaKey) {
      event.preventDefault();
      if (!$('send').disabled) {
        send($('composer-input').value);
      }
    }
  });
  $('stop').addEventListener('click', stopRun);
  $('rename-form').addEventListener('submit', submitRename);
  $('rename-cancel').addEventListener('click', () => $('rename-dialog').close());
  $('delete-form').addEventListener('submit', submitDelete);
  $('delete-cancel').addEventListener('click', () => $('delete-dialog').close());
  $('connections-open').addEventListener('click', openConnections);
  $('connections-close').addEventListener('click', () => $('connections-dialog').close());
  $('threads-toggle').addEventListener('click', () => {
    const open = !document.body.classList.contains('sidebar-open');
    document.body.classList.toggle('sidebar-open', open);
    $('threads-toggle').setAttribute('aria-expanded', String(open));
    if (open) {
      $('new-thread').focus();
    }
  });
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && document.body.classList.contains('sidebar-open')) {
      closeSidebar();
      $('threads-toggle').focus();
    }
  });
  window.addEventListener('pagehide', persistRuns);
}

function closeSidebar() {
  document.body.classList.remove('sidebar-open');
  $('threads-toggle').setAttribute('aria-expanded', 'false');
}

function setConnectionStatus(text, kind) {
  const status = $('connection-status');
  if (status.textContent !== text) {
    status.textContent = text;
  }
  status.dataset.kind = kind;
  updateComposer();
}

function announce(text) {
  const announcer = $('announcer');
  announcer.textContent = '';
  setTimeout(() => {
    announcer.textContent = text;
  }, 50);
}

function showChatAlert(text) {
  showAlert('chat-alert', text);
}

function showAlert(id, text) {
  const alert = $(id);
  alert.textContent = text;
  alert.hidden = false;
}

function hideAlert(id) {
  const alert = $(id);
  alert.hidden = true;
  alert.textContent = '';
}

function scrollToEnd() {
  const scroller = $('scroller');
  scroller.scrollTop = scroller.scrollHeight;
}

function randomId() {
  return crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2);
}

function readSession(key) {
  try {
    return sessionStorage.getItem(key);
  } catch {
    return null;
  }
}

function writeSession(key, value) {
  try {
    sessionStorage.setItem(key, value);
  } catch {
    // storage full or disabled: a reload then starts from the server's state
  }
}

function removeSession(key) {
  try {
    sessionStorage.removeItem(key);
  } catch {
    // nothing stored
  }
}
