// The live part of the page: the socket, and every run this page follows on it (in seq order through RunTracker),
// with the unfinished ones kept in sessionStorage so that a reload can show them and resume.

import { TurnView } from './conversation.js';
import { describe } from './errors.js';
import { RunTracker } from './runs.js';
import { Connection } from './socket.js';
import {
  $, RUNS_KEY, announce, randomId, readSession, removeSession, scrollToEnd, session, showChatAlert, state, views,
  writeSession,
} from './page.js';
import { leaveApp } from './signin.js';
import { loadThreads, loadThreadsSoon, markThreadRunning, openThread } from './threads.js';
import { updateComposer } from './composer.js';
import { budgetRefusal, formatUsd, loadBudget, showBudget } from './budget.js';

const MAX_STORED_CHARS = 1_500_000;

export const tracker = new RunTracker(onRunEvent, requestResume);
export const connection = new Connection(session, {
  onEvent: onSocketEvent,
  onOpen: onSocketOpen,
  onStatus: setConnectionStatus,
  onSignedOut: (reason) => leaveApp(reason),
});

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

export function requestResume(runId, lastSeq) {
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
export function attach(view) {
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

export function currentRun() {
  for (const view of views.values()) {
    if (view.threadId === state.threadId && view.running) {
      return view;
    }
  }
  return null;
}

export function stopRun() {
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

/** Saves the unfinished runs (events seen and last seq) so that a reload can show them and resume. */
export function persistRunsSoon() {
  if (state.persistTimer) {
    return;
  }
  state.persistTimer = setTimeout(persistRuns, 250);
}

export function persistRuns() {
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

export function restoreRuns() {
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

function setConnectionStatus(text, kind) {
  const status = $('connection-status');
  if (status.textContent !== text) {
    status.textContent = text;
  }
  status.dataset.kind = kind;
  updateComposer();
}
