// The thread list (paged, renamed and deleted in dialogs) and the open conversation: its stored messages as turns,
// with any run of it that this page follows live shown in place.

import { TurnView } from './conversation.js';
import { el } from './elements.js';
import { describe } from './errors.js';
import {
  $, THREAD_KEY, announce, closeSidebar, hideAlert, removeSession, scrollToEnd, session, showAlert, showChatAlert,
  state, views, writeSession,
} from './page.js';
import { attach, connection, persistRunsSoon, requestResume, tracker } from './live.js';
import { updateComposer } from './composer.js';

const THREAD_PAGE = 50;
const MESSAGE_PAGE = 50;
const RUN_INFO_LOOKUPS = 20;

/** "just now", "5 min ago", "3 h ago" or the date. */
function formatWhen(iso) {
  const time = Date.parse(iso);
  if (!Number.isFinite(time)) {
    return '';
  }
  const seconds = Math.round((Date.now() - time) / 1000);
  if (seconds < 60) {
    return 'just now';
  }
  if (seconds < 3600) {
    return `${Math.floor(seconds / 60)} min ago`;
  }
  if (seconds < 86400) {
    return `${Math.floor(seconds / 3600)} h ago`;
  }
  return new Date(time).toLocaleDateString(undefined, { day: 'numeric', month: 'short', year: 'numeric' });
}

export async function loadThreads({ more = false } = {}) {
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

export function loadThreadsSoon() {
  clearTimeout(state.threadsTimer);
  state.threadsTimer = setTimeout(() => loadThreads(), 300);
}

export function renderThreadList() {
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

export function markThreadRunning(threadId, running) {
  const item = $('thread-list').querySelector(`.thread-item[data-thread-id="${CSS.escape(threadId || '')}"]`);
  if (item) {
    item.querySelector('.thread-running').hidden = !(running || isThreadRunning(threadId));
  }
}

/** Shows a thread (null: a new, empty conversation), with any run of it that is still going. */
export async function openThread(threadId, { focus = false } = {}) {
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

export async function loadEarlier() {
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

export async function submitRename(event) {
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

export async function submitDelete(event) {
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
