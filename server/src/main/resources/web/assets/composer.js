// The composer: sending a message (creating its thread first when the conversation is new) and the state of the
// send and stop buttons.

import { TurnView } from './conversation.js';
import { describe } from './errors.js';
import {
  $, THREAD_KEY, hideAlert, randomId, scrollToEnd, session, showChatAlert, state, writeSession,
} from './page.js';
import { connection, currentRun } from './live.js';
import { renderThreadList } from './threads.js';

export async function send(text) {
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

export function updateComposer() {
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
