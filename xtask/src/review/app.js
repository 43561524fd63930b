// The review console's script: loads the queue and records from the JSON API and builds every
// element with textContent (never innerHTML), so record text always shows as text.
'use strict';

const FILTERS = ['scenario', 'template', 'kind', 'complexity', 'validation', 'state'];
const ui = {
  items: [],
  currentId: null,
  detail: null,
  mode: 'view', // view | edit | reject
  reasons: [],
  facetsLoaded: false,
};
const token = new URLSearchParams(location.search).get('token');

async function api(method, path, body) {
  const headers = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers['X-Review-Token'] = token;
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    return { ok: false, status: 0, data: { error: 'the server cannot be reached: ' + e } };
  }
  let data = null;
  try {
    data = await res.json();
  } catch (_) {
    data = { error: 'the server answered ' + res.status };
  }
  return { ok: res.ok, status: res.status, data };
}

// Builds an element; strings become text nodes, never markup.
function el(tag, props, ...children) {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') n.className = v;
    else if (k === 'text') n.textContent = v;
    else if (k.startsWith('on')) n.addEventListener(k.slice(2), v);
    else n.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    n.append(typeof c === 'string' ? document.createTextNode(c) : c);
  }
  return n;
}

function say(text, kind, action) {
  const box = document.getElementById('message');
  box.replaceChildren();
  box.className = kind || '';
  if (!text) return;
  box.append(document.createTextNode(text));
  if (action) box.append(el('button', { type: 'button', onclick: action.run, text: action.label }));
}

function filterQuery() {
  const q = new URLSearchParams();
  for (const f of FILTERS) {
    const v = document.getElementById('f-' + f).value;
    if (v) q.set(f, v);
  }
  return q.toString();
}

function fillSelect(id, values, labels) {
  const sel = document.getElementById(id);
  const keep = sel.value;
  sel.replaceChildren(el('option', { value: '', text: 'any' }));
  for (const v of values) sel.append(el('option', { value: v, text: (labels && labels[v]) || v }));
  sel.value = values.includes(keep) ? keep : '';
}

function renderProgress(data) {
  const c = data.counts;
  const decided = c.accepted + c.rejected;
  const box = document.getElementById('progress');
  box.replaceChildren(
    el('progress', { max: String(Math.max(data.total, 1)), value: String(decided) }),
    el('span', { id: 'progress-text', text: `${decided} of ${data.total} decided` }),
    el('span', { class: 'badge accepted', text: `accepted ${c.accepted}` }),
    el('span', { class: 'badge rejected', text: `rejected ${c.rejected}` }),
    el('span', { class: 'badge edited', text: `edited ${c.edited}` }),
    el('span', { class: 'badge pending', text: `pending ${c.pending}` }),
  );
}

function renderQueue() {
  const list = document.getElementById('queue-list');
  list.replaceChildren();
  for (const it of ui.items) {
    const li = el(
      'li',
      {
        class: it.id === ui.currentId ? 'current' : '',
        'data-id': it.id,
        onclick: () => select(it.id),
      },
      el('span', { class: 'badge ' + it.state, text: it.state }),
      el('span', { class: 'badge ' + it.validation, text: it.validation === 'failed' ? 'checks failed' : 'checks ok' }),
      el('span', { class: 'qid', text: it.id }),
      el('span', { class: 'qtext', text: it.query }),
      el('span', { class: 'chip', text: it.scenario }),
      el('span', { class: 'chip', text: it.kind }),
      el('span', { class: 'chip', text: it.complexity }),
    );
    list.append(li);
  }
}

async function loadQueue(selectFirst) {
  const r = await api('GET', '/api/records?' + filterQuery());
  if (!r.ok) {
    say(r.data.error || 'cannot load the queue', 'error');
    return;
  }
  const d = r.data;
  ui.reasons = d.reasons;
  if (!ui.facetsLoaded) {
    fillSelect('f-scenario', d.facets.scenario);
    fillSelect('f-template', d.facets.template);
    fillSelect('f-kind', d.facets.kind);
    fillSelect('f-complexity', d.facets.complexity);
    const checks = d.facets.checks.map((c) => c);
    const labels = { passed: 'all checks passed', failed: 'some check failed' };
    for (const c of checks) labels[c] = 'failed: ' + c;
    fillSelect('f-validation', ['passed', 'failed', ...checks], labels);
    fillSelect('f-state', ['pending', 'edited', 'accepted', 'rejected']);
    ui.facetsLoaded = true;
  }
  ui.items = d.items;
  renderProgress(d);
  document.getElementById('queue-count').textContent = `${d.shown} of ${d.total} records shown`;
  renderQueue();
  if (selectFirst) {
    // Resume: the first record nobody decided on, else the first one shown.
    const next = ui.items.find((i) => i.state === 'pending' || i.state === 'edited') || ui.items[0];
    if (next) await select(next.id);
    else showEmpty();
  }
}

function showEmpty() {
  ui.currentId = null;
  ui.detail = null;
  document.getElementById('record').replaceChildren(el('p', { class: 'empty', text: 'No record matches the filters.' }));
}

async function select(id, keepMessage) {
  if (!keepMessage) say('');
  const r = await api('GET', '/api/records/' + encodeURIComponent(id));
  if (!r.ok) {
    say(r.data.error || 'cannot load the record', 'error');
    return;
  }
  ui.currentId = id;
  ui.detail = r.data;
  ui.mode = 'view';
  renderQueue();
  renderRecord();
  const li = document.querySelector(`#queue-list li.current`);
  if (li) li.scrollIntoView({ block: 'nearest' });
}

function move(delta) {
  if (!ui.items.length) return;
  const i = ui.items.findIndex((x) => x.id === ui.currentId);
  const j = i < 0 ? 0 : Math.min(Math.max(i + delta, 0), ui.items.length - 1);
  if (j !== i) select(ui.items[j].id);
}

function pretty(v) {
  return JSON.stringify(v, null, 2);
}

function findingEl(f) {
  const where = f.step === undefined ? '' : ` (step ${f.step + 1}${f.call === undefined ? '' : ', call ' + (f.call + 1)})`;
  return el(
    'div',
    { class: 'finding ' + (f.passed ? 'pass' : 'fail') },
    el('strong', { text: (f.passed ? '✓ ' : '✗ ') + f.check }),
    where + (f.message ? ': ' + f.message : ''),
  );
}

function stepBlock(s, i, findings) {
  const step = s.step;
  const editing = ui.mode === 'edit';
  const box = el('div', { class: 'block step ' + step.type, 'data-step': String(i) });
  const kind = { tool_calls: 'tool calls', final_answer: 'final answer', give_up: 'give up' }[step.type] || step.type;
  box.append(el('h3', { text: `Step ${i + 1} · ${kind}` }));
  if (editing) {
    box.append(
      el('div', { class: 'label', text: 'Thought' }),
      el('textarea', { rows: '2', 'data-edit': 'thought', 'data-step': String(i), 'aria-label': `thought of step ${i + 1}` }),
    );
    box.lastChild.value = step.thought || '';
  } else if (step.thought) {
    box.append(el('div', { class: 'thought', text: step.thought }));
  }
  const calls = step.calls || [];
  calls.forEach((c, j) => {
    box.append(el('div', null, el('span', { class: 'label', text: 'Call' }), el('span', { class: 'call-name', text: c.name })));
    if (editing) {
      const ta = el('textarea', {
        rows: String(Math.min(12, pretty(c.arguments).split('\n').length + 1)),
        'data-edit': 'arguments',
        'data-step': String(i),
        'data-call': String(j),
        'aria-label': `arguments of call ${j + 1} of step ${i + 1}`,
      });
      ta.value = pretty(c.arguments);
      box.append(ta, el('div', { class: 'field-error', 'data-error-for': `steps[${i}].step.calls[${j}].arguments` }));
    } else {
      box.append(el('pre', { class: 'arguments', text: pretty(c.arguments) }));
    }
    const o = (s.observations || [])[j];
    if (o) {
      box.append(
        el('div', { class: 'label', text: o.is_error ? 'Observation (error)' : 'Observation' }),
        el('pre', { class: 'observation' + (o.is_error ? ' error' : ''), text: o.content }),
      );
    }
    for (const f of findings.filter((f) => f.step === i && f.call === j)) box.append(findingEl(f));
  });
  if (step.type === 'final_answer') {
    box.append(el('div', { class: 'label', text: 'Answer' }));
    if (editing) {
      const ta = el('textarea', { rows: '4', 'data-edit': 'answer', 'data-step': String(i), 'aria-label': 'final answer' });
      ta.value = step.answer;
      box.append(ta);
    } else {
      box.append(el('div', { class: 'answer', text: step.answer }));
    }
  }
  if (step.type === 'give_up') {
    box.append(el('div', { text: step.restart ? 'Gives up and restarts.' : 'Gives up.' }));
  }
  for (const f of findings.filter((f) => f.step === i && f.call === undefined)) box.append(findingEl(f));
  return box;
}

function renderRecord() {
  const d = ui.detail;
  const root = document.getElementById('record');
  root.replaceChildren();
  if (!d) return showEmpty();
  const rec = d.record;
  const head = el(
    'div',
    { class: 'record-head' },
    el('h2', { text: d.id }),
    el('span', { class: 'badge ' + d.state, id: 'record-state', text: d.state + (d.reason ? ': ' + d.reason : '') }),
    el('span', { class: 'chip', text: 'scenario ' + d.scenario }),
    el('span', { class: 'chip', text: d.kind }),
    el('span', { class: 'chip', text: d.complexity }),
    d.template ? el('span', { class: 'chip', text: 'template ' + d.template }) : null,
    rec.provenance && rec.provenance.source ? el('span', { class: 'chip', text: 'source ' + rec.provenance.source }) : null,
  );
  root.append(head, actionsBar());
  const general = d.findings.filter((f) => f.step === undefined);
  if (general.length) root.append(el('div', { class: 'block findings' }, el('h3', { text: 'Validation' }), general.map(findingEl)));
  if (rec.steps) {
    root.append(el('div', { class: 'block' }, el('h3', { text: 'Query' }), el('div', { class: 'query', text: rec.query })));
    if (rec.history && rec.history.length) {
      root.append(
        el('div', { class: 'block' }, el('h3', { text: 'Earlier conversation' }),
          rec.history.map((m) => el('div', null, el('span', { class: 'label', text: m.role }), el('span', { text: typeof m.content === 'string' ? m.content : pretty(m.content) })))),
      );
    }
    const tools = rec.tools || [];
    root.append(
      el('details', { class: 'block tools' },
        el('summary', {
          text: tools.length
            ? `Tools offered (${tools.length}): ` + tools.map((t) => t.name).join(', ')
            : 'Tools offered: none listed (calls are checked against the built-in tools)',
        }),
        tools.map((t) => el('div', { class: 'tool-spec' },
          el('span', { class: 'call-name', text: t.name }),
          d.deterministic_tools.includes(t.name) ? el('span', { class: 'chip', text: 're-executable' }) : null,
          el('div', { text: t.description || '' }),
          el('pre', { text: pretty(t.parameters || {}) })))),
    );
    rec.steps.forEach((s, i) => root.append(stepBlock(s, i, d.findings)));
    root.append(el('div', { class: 'block', text: 'Outcome: ' + rec.outcome }));
  } else if (rec.messages) {
    root.append(
      el('div', { class: 'block' }, el('h3', { text: 'Conversation' }),
        rec.messages.map((m) => el('div', null,
          el('div', { class: 'label', text: m.role }),
          el('pre', { text: (typeof m.content === 'string' ? m.content : pretty(m.content ?? '')) +
            (m.tool_calls && m.tool_calls.length ? '\n' + pretty(m.tool_calls) : '') })))),
    );
  }
  if (d.decisions.length) {
    root.append(
      el('div', { class: 'block decisions' }, el('h3', { text: 'Decisions' }),
        d.decisions.map((x) => el('div', { text: `${x.time} · ${x.action}${x.reason ? ' (' + x.reason + ')' : ''}${x.diff ? ' · ' + x.diff.length + ' change(s)' : ''}${x.notes ? ' · ' + x.notes.join('; ') : ''}` }))),
    );
  }
}

function actionsBar() {
  const bar = el('div', { class: 'actions' });
  if (ui.mode === 'edit') {
    bar.append(
      el('button', { type: 'button', class: 'accept', id: 'save', onclick: saveEdit, text: 'Save edit (Ctrl+Enter)' }),
      el('button', { type: 'button', id: 'cancel', onclick: cancel, text: 'Cancel (Esc)' }),
    );
  } else if (ui.mode === 'reject') {
    const sel = el('select', { id: 'reject-reason', 'aria-label': 'reason' }, ui.reasons.map((r) => el('option', { value: r, text: r.replace(/_/g, ' ') })));
    const other = el('input', { id: 'reject-text', type: 'text', placeholder: 'or say why', 'aria-label': 'reason in your words' });
    bar.append(
      el('span', { class: 'reject-panel' }, 'Reject because', sel, other,
        el('button', { type: 'button', class: 'reject', id: 'reject-confirm', onclick: confirmReject, text: 'Reject (Ctrl+Enter)' }),
        el('button', { type: 'button', onclick: cancel, text: 'Cancel (Esc)' })),
    );
    setTimeout(() => sel.focus(), 0);
  } else {
    bar.append(
      el('button', { type: 'button', class: 'accept', id: 'accept', onclick: accept, text: 'Accept (a)' }),
      el('button', { type: 'button', class: 'reject', id: 'reject', onclick: startReject, text: 'Reject (r)' }),
      ui.detail && ui.detail.record.steps ? el('button', { type: 'button', id: 'edit', onclick: startEdit, text: 'Edit (e)' }) : null,
    );
  }
  return bar;
}

function cancel() {
  ui.mode = 'view';
  say('');
  renderRecord();
}

function startReject() {
  if (!ui.detail) return;
  ui.mode = 'reject';
  renderRecord();
}

function startEdit() {
  if (!ui.detail || !ui.detail.record.steps) return;
  ui.mode = 'edit';
  renderRecord();
  const first = document.querySelector('#record textarea');
  if (first) first.focus();
}

// Handles an answer to a decision: conflicts offer a reload; field errors show at the field.
async function afterDecision(r, okText, advance) {
  if (r.status === 409 && r.data.current === undefined) {
    say(r.data.error, 'error');
    return false;
  }
  if (r.status === 409) {
    say('Conflict: this record was changed in another tab or session after you opened it. Nothing was saved.', 'error', {
      label: 'Reload the record',
      run: () => select(ui.currentId),
    });
    return false;
  }
  if (!r.ok) {
    say(r.data.error || 'the decision was not saved', 'error');
    if (r.data.field) {
      const box = document.querySelector(`[data-error-for="${CSS.escape(r.data.field)}"]`);
      if (box) {
        box.textContent = r.data.error;
        const ta = box.previousElementSibling;
        if (ta) { ta.classList.add('invalid'); ta.focus(); }
      }
    }
    return false;
  }
  const notes = r.data.decision.notes || [];
  say(okText + (notes.length ? ' ' + notes.join('; ') : ''), 'ok');
  ui.detail = r.data.record;
  ui.mode = 'view';
  const id = ui.currentId;
  const index = ui.items.findIndex((x) => x.id === id);
  await loadQueue(false);
  const now = ui.items.findIndex((x) => x.id === id);
  if (advance) {
    // The next record: after this one when it is still shown, else the one now in its place.
    const next = now >= 0 ? ui.items[now + 1] : ui.items[Math.max(index, 0)] || ui.items[ui.items.length - 1];
    if (next) {
      await select(next.id, true);
      return true;
    }
  }
  renderQueue();
  renderRecord();
  return true;
}

async function accept() {
  if (!ui.detail || ui.mode !== 'view') return;
  const r = await api('POST', `/api/records/${encodeURIComponent(ui.detail.id)}/accept`, { base: ui.detail.revision });
  await afterDecision(r, `Accepted ${ui.detail.id}.`, true);
}

async function confirmReject() {
  const text = document.getElementById('reject-text').value.trim();
  const reason = text || document.getElementById('reject-reason').value;
  const r = await api('POST', `/api/records/${encodeURIComponent(ui.detail.id)}/reject`, { base: ui.detail.revision, reason });
  await afterDecision(r, `Rejected ${ui.detail.id} (${reason}).`, true);
}

async function saveEdit() {
  const steps = ui.detail.record.steps;
  const edits = [];
  for (const ta of document.querySelectorAll('#record textarea[data-edit]')) {
    ta.classList.remove('invalid');
    const i = Number(ta.dataset.step);
    const step = steps[i].step;
    if (ta.dataset.edit === 'thought') {
      if (ta.value !== (step.thought || '')) edits.push({ field: 'thought', step: i, text: ta.value });
    } else if (ta.dataset.edit === 'answer') {
      if (ta.value !== step.answer) edits.push({ field: 'answer', step: i, text: ta.value });
    } else if (ta.dataset.edit === 'arguments') {
      const j = Number(ta.dataset.call);
      if (ta.value !== pretty(step.calls[j].arguments)) {
        // Sent as text: the server parses and checks it against the tool's schema.
        edits.push({ field: 'arguments', step: i, call: j, arguments: ta.value });
      }
    }
  }
  for (const box of document.querySelectorAll('#record .field-error')) box.textContent = '';
  if (!edits.length) {
    say('Nothing changed.', 'error');
    return;
  }
  const r = await api('POST', `/api/records/${encodeURIComponent(ui.detail.id)}/edit`, { base: ui.detail.revision, edits });
  await afterDecision(r, `Saved the edit of ${ui.detail.id}.`, false);
}

document.addEventListener('keydown', (ev) => {
  const t = ev.target;
  const typing = t instanceof HTMLTextAreaElement || t instanceof HTMLInputElement || t instanceof HTMLSelectElement;
  if (ev.key === 'Escape' && ui.mode !== 'view') {
    ev.preventDefault();
    cancel();
    return;
  }
  if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) {
    ev.preventDefault();
    if (ui.mode === 'edit') saveEdit();
    else if (ui.mode === 'reject') confirmReject();
    return;
  }
  if (ev.key === 'Enter' && ui.mode === 'reject' && t.id === 'reject-text') {
    ev.preventDefault();
    confirmReject();
    return;
  }
  if (typing || ev.ctrlKey || ev.metaKey || ev.altKey || ui.mode !== 'view') return;
  const keys = { j: () => move(1), k: () => move(-1), a: accept, r: startReject, e: startEdit };
  const f = keys[ev.key];
  if (f) {
    ev.preventDefault();
    f();
  }
});

for (const f of FILTERS) {
  document.getElementById('f-' + f).addEventListener('change', () => loadQueue(true));
}

loadQueue(true);
