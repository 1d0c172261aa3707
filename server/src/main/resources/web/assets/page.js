// What every part of the chat page shares: the signed-in session, the page state, the live views of runs, and
// small DOM and storage helpers. State that must survive a reload lives in sessionStorage (the open thread, and
// each unfinished run with the events seen so far and its last seq); the access token lives in memory only (see
// session.js).

import { Session } from './session.js';

export const THREAD_KEY = 'parley.thread';
export const RUNS_KEY = 'parley.runs';

export const $ = (id) => document.getElementById(id);

export const session = new Session();
export const views = new Map(); // run id → TurnView of every run this page follows

export const state = {
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

export function closeSidebar() {
  document.body.classList.remove('sidebar-open');
  $('threads-toggle').setAttribute('aria-expanded', 'false');
}

export function announce(text) {
  const announcer = $('announcer');
  announcer.textContent = '';
  setTimeout(() => {
    announcer.textContent = text;
  }, 50);
}

export function showChatAlert(text) {
  showAlert('chat-alert', text);
}

export function showAlert(id, text) {
  const alert = $(id);
  alert.textContent = text;
  alert.hidden = false;
}

export function hideAlert(id) {
  const alert = $(id);
  alert.hidden = true;
  alert.textContent = '';
}

export function scrollToEnd() {
  const scroller = $('scroller');
  scroller.scrollTop = scroller.scrollHeight;
}

export function randomId() {
  return crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2);
}

export function readSession(key) {
  try {
    return sessionStorage.getItem(key);
  } catch {
    return null;
  }
}

export function writeSession(key, value) {
  try {
    sessionStorage.setItem(key, value);
  } catch {
    // storage full or disabled: a reload then starts from the server's state
  }
}

export function removeSession(key) {
  try {
    sessionStorage.removeItem(key);
  } catch {
    // nothing stored
  }
}
