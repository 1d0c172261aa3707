// Tools: the caller's MCP servers and their own credential for a server that takes one, and the user's decision
// on a tool call that waits for approval.

import { el } from './elements.js';
import { describe } from './errors.js';
import { $, announce, hideAlert, session, showAlert, showChatAlert } from './page.js';

const CONNECTION_WORDS = {
  connected: 'Connected',
  needs_auth: 'Needs your credential',
  unavailable: 'Unavailable',
};

export function openConnections() {
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

/**
 * Sends the user's decision on a tool call that waits for one. The run's approval_resolved event updates the view
 * (in every tab); a decision that another tab made first is not an error worth showing.
 */
export function decideApproval(button) {
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
