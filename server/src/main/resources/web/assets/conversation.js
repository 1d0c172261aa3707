// The views of a conversation: one "turn" per run (the user's message and the assistant's answer, with the
// agent's steps while it works), built with DOM calls only; text always goes into text nodes.

import { renderMarkdown } from './markdown.js';
import { describe } from './errors.js';
import { el } from './elements.js';

const MAX_JSON_CHARS = 20000;
const RENDER_EVERY_MS = 60;
const STORED_EVENT_TYPES = new Set([
  'agent_started', 'agent_thinking', 'tool_executing', 'tool_completed', 'partial_result', 'agent_completed', 'agent_error',
  'cost_updated', 'budget_warning', 'approval_required', 'approval_resolved',
]);
const DECISION_WORDS = {
  approved: 'Approved', rejected: 'Rejected', expired: 'Expired: nobody decided in time', cancelled: 'Cancelled',
};

/** What a turn says when its run stopped because the user's spending limit ran out. */
const BUDGET_EXHAUSTED = 'Stopped: your spending limit for this period ran out. This is the part of the answer '
  + 'written before that.';
const BUDGET_EXHAUSTED_EMPTY = 'Stopped before any answer was written: your spending limit for this period ran out.';

const integer = new Intl.NumberFormat('en-US');
const dollars = new Intl.NumberFormat('en-US', {
  style: 'currency', currency: 'USD', minimumFractionDigits: 2, maximumFractionDigits: 4,
});

/** "1,234 input + 567 output tokens · $0.0123 · 2.4 s" */
function formatUsage(usage, executionTimeMs) {
  const input = Number(usage && usage.input_tokens) || 0;
  const output = Number(usage && usage.output_tokens) || 0;
  const cost = Number(usage && usage.cost_usd) || 0;
  let text = `${integer.format(input)} input + ${integer.format(output)} output tokens · ${dollars.format(cost)}`;
  if (Number.isFinite(executionTimeMs) && executionTimeMs >= 0) {
    text += ` · ${(executionTimeMs / 1000).toFixed(1)} s`;
  }
  return text;
}

function json(value) {
  let text;
  try {
    text = JSON.stringify(value, null, 2);
  } catch {
    text = String(value);
  }
  if (text === undefined) {
    text = '';
  }
  return text.length > MAX_JSON_CHARS ? text.slice(0, MAX_JSON_CHARS) + '\n… (cut short)' : text;
}

/**
 * One turn of the conversation. States: pending (sent, not yet started), running, completed, cancelled, failed,
 * or history (rendered from stored messages).
 */
export class TurnView {
  #userBody;
  #assistant;
  #progress;
  #progressLabel;
  #progressBar;
  #steps;
  #answer;
  #outcome;
  #usage;
  #tools = new Map();
  #approvals = new Map();
  #text = '';
  #renderTimer = null;
  #stepCount = 0;

  constructor({ runId = null, threadId = null } = {}) {
    this.runId = runId;
    this.threadId = threadId;
    this.state = 'pending';
    this.userText = null;
    this.events = [];
    this.element = el('div', 'turn');
    if (runId) {
      this.element.dataset.runId = runId;
    }
    this.element.dataset.state = this.state;
    const user = el('article', 'message user');
    user.appendChild(el('h3', 'sr-only', 'You said'));
    this.#userBody = el('div', 'bubble');
    user.appendChild(this.#userBody);
    this.element.appendChild(user);
  }

  /** A turn shown at once for a message being sent. */
  static pending(text) {
    const view = new TurnView();
    view.setUserText(text);
    return view;
  }

  /** A finished turn from stored messages (either may be missing). */
  static fromHistory(userMessage, assistantMessage) {
    const runId = (userMessage && userMessage.run_id) || (assistantMessage && assistantMessage.run_id) || null;
    const view = new TurnView({ runId, threadId: (userMessage || assistantMessage).thread_id || null });
    view.#setState('history');
    if (userMessage) {
      view.setUserText(userMessage.content);
    } else {
      view.element.firstChild.hidden = true;
    }
    if (assistantMessage) {
      view.#ensureAssistant();
      view.#text = assistantMessage.content || '';
      view.#renderAnswer();
      view.#answer.setAttribute('aria-busy', 'false');
      view.element.dataset.messageId = assistantMessage.id;
    }
    return view;
  }

  get complete() {
    return this.state === 'completed' || this.state === 'cancelled' || this.state === 'failed' || this.state === 'history';
  }

  get running() {
    return this.state === 'running' || this.state === 'stopping';
  }

  get answerText() {
    return this.#text;
  }

  setUserText(text) {
    this.userText = text;
    this.#userBody.textContent = text;
    this.element.firstChild.hidden = false;
  }

  /** Marks a pending turn as refused; the caller removes it or leaves the sentence. */
  fail(sentence) {
    this.#setState('failed');
    this.#ensureAssistant();
    this.#showOutcome(sentence, 'error');
  }

  /** Shows that a stop was asked for; the run's end confirms it. */
  stopping() {
    if (this.state === 'running') {
      this.#setState('stopping');
      if (this.#progressLabel) {
        this.#progressLabel.textContent = 'Stopping…';
      }
    }
  }

  /** Applies one run event, in seq order. */
  apply(event) {
    const data = event.data || event.payload || {};
    if (STORED_EVENT_TYPES.has(event.type)) {
      this.events.push({
        type: event.type, seq: event.seq, run_id: event.run_id, thread_id: event.thread_id,
        agent_name: event.agent_name, timestamp: event.timestamp, data,
      });
    }
    if (!this.runId && event.run_id) {
      this.runId = event.run_id;
      this.element.dataset.runId = event.run_id;
    }
    this.threadId = this.threadId || event.thread_id || null;
    switch (event.type) {
      case 'agent_started':
        if (typeof data.user_request === 'string') {
          this.setUserText(data.user_request);
        }
        this.#ensureAssistant();
        if (this.state === 'pending' || this.state === 'history') {
          this.#setState('running');
        }
        break;
      case 'agent_thinking':
        this.#ensureRunning();
        this.#thinking(data, event.agent_name);
        break;
      case 'tool_executing':
        this.#ensureRunning();
        this.#toolStarted(data, event.agent_name);
        break;
      case 'tool_completed':
        this.#ensureRunning();
        this.#toolCompleted(data);
        break;
      case 'approval_required':
        this.#ensureRunning();
        this.#approvalRequired(data);
        break;
      case 'approval_resolved':
        this.#approvalResolved(data);
        break;
      case 'partial_result':
        this.#ensureRunning();
        if (typeof data.delta === 'string') {
          this.#text += data.delta;
          this.#scheduleRender();
        }
        break;
      case 'agent_completed':
        this.#completed(data);
        break;
      case 'agent_error':
        this.#failed(data);
        break;
      default:
        break;
    }
  }

  /** Adds what the stored run says to a turn from history: usage, and a stopped or failed ending. */
  setRunInfo(run) {
    if (!run || this.state !== 'history') {
      return;
    }
    if (run.status === 'cancelled') {
      this.#ensureAssistant();
      this.#showOutcome(this.#text.trim() ? 'Stopped. This is the part of the answer written before the stop.'
        : 'Stopped before any answer was written.', 'stopped');
      this.element.dataset.runStatus = 'cancelled';
    } else if (run.status === 'budget_exhausted') {
      this.#ensureAssistant();
      this.#showOutcome(this.#text.trim() ? BUDGET_EXHAUSTED : BUDGET_EXHAUSTED_EMPTY, 'budget');
      this.element.dataset.runStatus = 'budget_exhausted';
    } else if (run.status === 'failed') {
      this.#ensureAssistant();
      this.#showOutcome('No answer: ' + describe({ code: run.error_code || 'internal' }), 'error');
      this.element.dataset.runStatus = 'failed';
    } else if (run.status) {
      this.element.dataset.runStatus = run.status;
    }
    if (run.usage && run.status !== 'running') {
      this.#ensureAssistant();
      this.#showUsage(run.usage);
    }
  }

  // ---- building ----

  #ensureAssistant() {
    if (this.#assistant) {
      return;
    }
    const assistant = el('article', 'message assistant');
    assistant.appendChild(el('h3', 'sr-only', 'Assistant'));
    this.#answer = el('div', 'answer markdown');
    this.#answer.setAttribute('aria-live', 'polite');
    this.#answer.setAttribute('aria-busy', 'true');
    this.#outcome = el('p', 'run-outcome');
    this.#outcome.hidden = true;
    this.#usage = el('p', 'usage');
    this.#usage.hidden = true;
    assistant.append(this.#answer, this.#outcome, this.#usage);
    this.#assistant = assistant;
    this.element.appendChild(assistant);
  }

  #ensureRunning() {
    this.#ensureAssistant();
    if (this.state === 'pending' || this.state === 'history') {
      this.#setState('running');
    }
  }

  #ensureProgress() {
    if (this.#progress) {
      return;
    }
    this.#ensureAssistant();
    const progress = el('details', 'progress');
    progress.open = true;
    const summary = el('summary');
    this.#progressLabel = el('span', 'progress-label', 'Working…');
    this.#progressBar = el('progress', 'progress-bar');
    this.#progressBar.max = 100;
    this.#progressBar.setAttribute('aria-label', 'Progress');
    summary.append(this.#progressLabel, this.#progressBar);
    this.#steps = el('ol', 'steps');
    this.#steps.setAttribute('aria-label', 'Steps');
    progress.append(summary, this.#steps);
    this.#assistant.insertBefore(progress, this.#answer);
    this.#progress = progress;
  }

  #thinking(data, agentName) {
    this.#ensureProgress();
    const item = el('li', 'step thinking');
    if (agentName) {
      item.appendChild(el('span', 'agent', agentName));
    }
    item.appendChild(el('span', 'reasoning', typeof data.reasoning === 'string' ? data.reasoning : ''));
    this.#steps.appendChild(item);
    this.#stepCount++;
    if (Number.isFinite(data.progress_percentage)) {
      this.#progressBar.value = Math.max(0, Math.min(100, data.progress_percentage));
    }
  }

  #toolStarted(data, agentName) {
    this.#ensureProgress();
    const item = el('li', 'step tool');
    const details = el('details');
    const summary = el('summary');
    if (agentName) {
      summary.appendChild(el('span', 'agent', agentName));
    }
    summary.appendChild(el('span', 'tool-label', 'Tool '));
    summary.appendChild(el('code', 'tool-name', data.tool_name || 'tool'));
    const status = el('span', 'tool-status', 'running…');
    summary.appendChild(status);
    details.appendChild(summary);
    const body = el('div', 'tool-body');
    body.appendChild(el('p', 'tool-heading', 'Parameters'));
    body.appendChild(el('pre', 'tool-parameters', json(data.parameters ?? {})));
    const resultHeading = el('p', 'tool-heading', 'Result');
    const result = el('pre', 'tool-result', 'Waiting for the result…');
    body.append(resultHeading, result);
    details.appendChild(body);
    item.appendChild(details);
    item.dataset.state = 'running';
    this.#steps.appendChild(item);
    this.#stepCount++;
    this.#tools.set(data.tool_call_id || `tool-${this.#stepCount}`, { item, status, result });
  }

  /**
   * A tool call that waits for the user: what would run, and Approve / Reject buttons (the page's click handler sends
   * the decision; the server's approval_resolved settles the view, whichever tab decided).
   */
  #approvalRequired(data) {
    this.#ensureProgress();
    const item = el('li', 'step approval');
    item.dataset.state = 'pending';
    if (typeof data.approval_id === 'string') {
      item.dataset.approvalId = data.approval_id;
    }
    const heading = el('p', 'approval-heading');
    heading.appendChild(el('span', 'approval-label', 'Approval needed to run '));
    heading.appendChild(el('code', 'tool-name', data.tool_name || 'tool'));
    if (data.source && data.source.kind === 'mcp' && typeof data.source.server === 'string') {
      heading.appendChild(el('span', 'approval-source', ` (from ${data.source.server})`));
    }
    item.appendChild(heading);
    item.appendChild(el('pre', 'tool-parameters', json(data.parameters ?? {})));
    const status = el('p', 'approval-status');
    if (typeof data.expires_at === 'string') {
      status.textContent = 'Waiting for your decision until ' + new Date(data.expires_at).toLocaleTimeString() + '.';
    }
    item.appendChild(status);
    const actions = el('div', 'approval-actions');
    for (const [decision, label] of [['approve', 'Approve'], ['reject', 'Reject']]) {
      const button = el('button', `approval-${decision}`, label);
      button.type = 'button';
      button.dataset.approvalId = data.approval_id || '';
      button.dataset.decision = decision;
      actions.appendChild(button);
    }
    item.appendChild(actions);
    this.#steps.appendChild(item);
    this.#stepCount++;
    this.#approvals.set(data.approval_id, { item, status, actions });
  }

  #approvalResolved(data) {
    const approval = this.#approvals.get(data.approval_id);
    if (!approval) {
      return;
    }
    approval.actions.remove();
    approval.item.dataset.state = data.decision || 'resolved';
    approval.status.textContent = DECISION_WORDS[data.decision] || 'Decided.';
  }

  #toolCompleted(data) {
    let tool = this.#tools.get(data.tool_call_id);
    if (!tool) {
      this.#toolStarted({ tool_call_id: data.tool_call_id, tool_name: data.tool_name, parameters: {} });
      tool = this.#tools.get(data.tool_call_id);
    }
    const ok = data.status !== 'error';
    const took = Number.isFinite(data.execution_time_ms) ? ` in ${integer.format(data.execution_time_ms)} ms` : '';
    tool.status.textContent = ok ? `done${took}` : `failed${took}`;
    tool.item.dataset.state = ok ? 'success' : 'error';
    tool.result.textContent = json(data.result ?? null);
  }

  #scheduleRender() {
    if (this.#renderTimer) {
      return;
    }
    this.#renderTimer = setTimeout(() => {
      this.#renderTimer = null;
      this.#renderAnswer();
    }, RENDER_EVERY_MS);
  }

  #renderAnswer() {
    clearTimeout(this.#renderTimer);
    this.#renderTimer = null;
    this.#answer.replaceChildren(renderMarkdown(this.#text, { headingOffset: 2 }));
  }

  #completed(data) {
    this.#ensureAssistant();
    if (typeof data.final_response === 'string') {
      this.#text = data.final_response;
    }
    this.#renderAnswer();
    this.#answer.setAttribute('aria-busy', 'false');
    if (data.message_id) {
      this.element.dataset.messageId = data.message_id;
    }
    const cancelled = data.status === 'cancelled';
    const exhausted = data.status === 'budget_exhausted';
    this.#setState(cancelled ? 'cancelled' : 'completed');
    this.#finishProgress(cancelled || exhausted ? 'Stopped' : 'Done');
    if (cancelled) {
      this.#showOutcome(this.#text.trim()
        ? 'Stopped. This is the part of the answer written before the stop.'
        : 'Stopped before any answer was written.', 'stopped');
    } else if (exhausted) {
      this.element.dataset.runStatus = 'budget_exhausted';
      this.#showOutcome(this.#text.trim() ? BUDGET_EXHAUSTED : BUDGET_EXHAUSTED_EMPTY, 'budget');
    }
    this.#showUsage(data.usage, data.execution_time_ms);
  }

  #failed(data) {
    this.#ensureAssistant();
    if (this.#text) {
      this.#renderAnswer();
    }
    this.#answer.setAttribute('aria-busy', 'false');
    this.#setState('failed');
    this.#finishProgress('Failed');
    const error = data.error || {};
    let sentence = describe(error);
    if (data.retryable) {
      sentence += ' You can send the message again.';
    }
    this.#showOutcome(sentence, 'error');
  }

  #finishProgress(label) {
    if (!this.#progress) {
      return;
    }
    this.#progress.open = false;
    this.#progressBar.hidden = true;
    const steps = this.#stepCount === 1 ? '1 step' : `${this.#stepCount} steps`;
    this.#progressLabel.textContent = `${label} · ${steps}`;
  }

  #showOutcome(text, kind) {
    this.#outcome.textContent = text;
    this.#outcome.dataset.kind = kind;
    this.#outcome.hidden = false;
  }

  #showUsage(usage, executionTimeMs) {
    if (!usage) {
      return;
    }
    this.#usage.textContent = 'Usage: ' + formatUsage(usage, executionTimeMs);
    this.#usage.hidden = false;
  }

  #setState(state) {
    this.state = state;
    this.element.dataset.state = state;
  }
}
