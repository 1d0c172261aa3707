// The spend budget: what is left of the user's spending limit in this period, shown in the top bar, and the
// sentence for a start the budget refused.

import { describe } from './errors.js';
import { $, session, state } from './page.js';

/** Reads what is left of the user's spending limit in this period and shows it in the top bar. */
export async function loadBudget() {
  try {
    state.budget = await session.request('GET', '/api/budget');
    showBudget();
  } catch {
    // the top bar keeps what it showed; the next run's cost_updated or a reload tries again
  }
}

export function showBudget() {
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
export function budgetRefusal(error) {
  let sentence = describe(error);
  if (error.remaining_usd !== undefined) {
    sentence += ` ${formatUsd(error.remaining_usd)} is left`;
    sentence += error.resets_at ? `; the limit resets ${formatDate(error.resets_at)}.` : '.';
  }
  return sentence;
}

export function formatUsd(value) {
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
