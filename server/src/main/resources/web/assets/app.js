// The chat page's entry: wires the controls to the parts of the page and starts it. The parts: page.js (shared
// state and DOM helpers), signin.js, live.js (the socket and the runs it carries), threads.js, composer.js,
// tools.js (tool connections and approvals), budget.js and usage.js.

import { $, closeSidebar, session, state } from './page.js';
import { boot, setMode, signInWith, submitSignIn } from './signin.js';
import { persistRuns, stopRun } from './live.js';
import { loadEarlier, loadThreads, openThread, submitDelete, submitRename } from './threads.js';
import { send, updateComposer } from './composer.js';
import { decideApproval, openConnections } from './tools.js';
import { loadSample } from './usage.js';

wireUi();
boot();

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
