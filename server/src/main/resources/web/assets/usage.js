// Usage data: the summary of the user's usage records on the welcome screen, and loading a sample month.

import { describe } from './errors.js';
import { $, session } from './page.js';

export async function loadUsageSummary() {
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

export async function loadSample() {
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
