// The live board: for each window kind the current period (the one that contains the wall
// clock in the board's time zone, as the query API answers without period: empty until its
// first event) and, for daily and weekly, the previous period (final once closed), then
// every rank_change of the push topic (server-sent events from /live/<board>) folded in,
// movers highlighted for a few seconds. At each window's end the page moves to the new
// period by itself, so a board left open past midnight shows the new, empty day and
// yesterday's standings.
'use strict';
const board = decodeURIComponent(location.pathname.split('/')[2] || '');
const N = Number(new URLSearchParams(location.search).get('n') || 10);
const HIGHLIGHT_MS = 4000;
const ROLLOVER_SLACK_MS = 1500; // ask a little after window_end: the clocks may differ a bit
// panel id -> {kind, previous, period, page, rows: Map(user -> {rank, score}), marks}
// ids: "daily", "weekly", "all" (current) and "daily-previous", "weekly-previous".
const panels = {};
const rollovers = {};
let kinds = [];
let pending = [];     // events received while the first standings load
let loaded = false;

document.getElementById('title').textContent = board;
document.title = `${board} · rankstream`;

function fmt(instant) {
  return instant ? instant.replace('T', ' ').replace(/(:00)?(\.\d+)?Z$/, ' UTC') : '';
}

async function fetchJson(url) {
  const response = await fetch(url);
  const body = await response.json();
  if (!response.ok) throw new Error(body.message || response.status);
  return body;
}

function show(id, kind, previous, page) {
  const panel = panels[id] || (panels[id] = {kind, previous, marks: new Map()});
  panel.period = page.period;
  panel.page = page;
  panel.rows = new Map(page.entries.map(e => [e.user, {rank: e.rank, score: e.score}]));
  render(id);
}

function hide(id) {
  delete panels[id];
  const section = document.getElementById(`window-${id}`);
  if (section) section.remove();
}

async function load(kind) {
  const base = `/boards/${encodeURIComponent(board)}/${kind}`;
  const page = await fetchJson(`${base}?limit=${N}`);
  show(kind, kind, false, page);
  clearTimeout(rollovers[kind]);
  if (page.window_end) {
    const wait = Date.parse(page.window_end) - Date.now() + ROLLOVER_SLACK_MS;
    rollovers[kind] = setTimeout(() => load(kind).catch(() => {}), Math.max(1000, wait));
  }
  if (kind === 'all') return;
  // The previous period: the newest open or retained one before the current.
  const info = await fetchJson(`/api/boards/${encodeURIComponent(board)}`);
  const before = [...info.open, ...info.retained]
    .filter(w => w.window === kind && w.period && w.period < page.period)
    .sort((a, b) => (a.period < b.period ? 1 : -1))[0];
  if (!before) { hide(`${kind}-previous`); return; }
  const old = await fetchJson(`${base}?limit=${N}&period=${encodeURIComponent(before.period)}`);
  show(`${kind}-previous`, kind, true, old);
}

function apply(record) {
  const current = panels[record.window];
  if (!current) return;
  if (record.type === 'window_closed') {
    const shown = Object.values(panels).some(p => p.kind === record.window && p.period === record.period);
    if (shown) setTimeout(() => load(record.window).catch(() => {}), 300);
    return;
  }
  if (record.type !== 'rank_change') return;
  if (current.period !== null && record.period > current.period) {
    // A newer period than ours: the wall clock has moved on (or is about to); re-ask.
    load(record.window).catch(() => {});
    return;
  }
  const id = Object.keys(panels).find(
    k => panels[k].kind === record.window && panels[k].period === record.period);
  if (id === undefined) return;
  const panel = panels[id];
  const {user, old_rank: before, new_rank: after, score} = record;
  if (after === null || after > N) panel.rows.delete(user);
  else panel.rows.set(user, {rank: after, score});
  const until = Date.now() + HIGHLIGHT_MS;
  if (before === null && after !== null) panel.marks.set(user, ['new', until]);
  else if (after !== null && before !== null && after < before) panel.marks.set(user, ['up', until]);
  else if (after !== null && before !== null && after > before) panel.marks.set(user, ['down', until]);
  render(id);
}

function section(id) {
  let found = document.getElementById(`window-${id}`);
  if (found) return found;
  const panel = panels[id];
  found = document.createElement('section');
  found.id = `window-${id}`;
  found.className = panel.previous ? 'window previous' : 'window';
  const title = panel.previous ? `previous ${panel.kind === 'daily' ? 'day' : 'week'}` : panel.kind;
  found.innerHTML = `<h2></h2><p class="meta"></p>
    <table><thead><tr><th>#</th><th>user</th><th class="score">score</th></tr></thead><tbody></tbody></table>`;
  found.querySelector('h2').textContent = title;
  // Current windows in kind order, each previous period right after its current one.
  const order = [];
  for (const kind of kinds) order.push(kind, `${kind}-previous`);
  const next = order.slice(order.indexOf(id) + 1)
    .map(k => document.getElementById(`window-${k}`)).find(Boolean);
  document.getElementById('windows').insertBefore(found, next || null);
  return found;
}

function render(id) {
  const panel = panels[id];
  const page = panel.page;
  const node = section(id);
  let meta;
  if (!page.period) meta = 'all time · never closes';
  else if (panel.previous) {
    meta = page.open
      ? `period ${page.period} · closing at ${fmt(page.closes_at)}`
      : `period ${page.period} · final standings`;
  } else {
    meta = `period ${page.period} · ${fmt(page.window_start)} → ${fmt(page.window_end)} · closes at ${fmt(page.closes_at)}`;
  }
  node.querySelector('.meta').textContent = page.size
    ? `${meta} · ${page.size} users`
    : `${meta} · no events yet`;
  const now = Date.now();
  const rows = [...panel.rows.entries()].sort((a, b) => a[1].rank - b[1].rank);
  const body = node.querySelector('tbody');
  body.replaceChildren(...rows.map(([user, row]) => {
    const tr = document.createElement('tr');
    tr.dataset.user = user;
    const mark = panel.marks.get(user);
    if (mark && mark[1] > now) tr.className = mark[0];
    const arrow = {up: '▲', down: '▼', new: '★'}[tr.className] || '';
    tr.innerHTML = '<td class="rank"></td><td class="user"></td><td class="score"></td>';
    tr.children[0].textContent = row.rank;
    tr.children[1].textContent = user;
    if (arrow) tr.children[1].insertAdjacentHTML('beforeend', `<span class="arrow">${arrow}</span>`);
    tr.children[2].textContent = row.score;
    return tr;
  }));
}

async function start() {
  const status = document.getElementById('status');
  const source = new EventSource(`/live/${encodeURIComponent(board)}`);
  source.onopen = () => { status.textContent = 'live'; status.className = 'status live'; };
  source.onerror = () => { status.textContent = 'reconnecting…'; status.className = 'status'; };
  source.onmessage = (message) => {
    const record = JSON.parse(message.data);
    if (loaded) apply(record); else pending.push(record);
  };
  const info = await fetchJson(`/api/boards/${encodeURIComponent(board)}`);
  kinds = info.windows || ['daily', 'weekly', 'all'];
  await Promise.all(kinds.map(kind => load(kind).catch(err => { status.textContent = String(err); })));
  loaded = true;
  for (const record of pending) apply(record);   // changes are absolute: replaying is safe
  pending = [];
  // Re-read now and then: heals anything missed across a reconnect; clears highlights.
  setInterval(() => kinds.forEach(kind => load(kind).catch(() => {})), 15000);
  setInterval(() => Object.keys(panels).forEach(render), 1000);
}

start().catch(err => { document.getElementById('status').textContent = `error: ${err}`; });
