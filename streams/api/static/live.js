// The live board: standings from the query API, then every rank_change of the push topic
// (server-sent events from /live/<board>) folded in, movers highlighted for a few seconds.
'use strict';
const board = decodeURIComponent(location.pathname.split('/')[2] || '');
const N = Number(new URLSearchParams(location.search).get('n') || 10);
const HIGHLIGHT_MS = 4000;
const columns = {};   // kind -> {period, rows: Map(user -> {rank, score}), marks: Map(user -> [cls, until])}
let pending = [];     // events received while the first standings load
let loaded = false;

document.getElementById('title').textContent = board;
document.title = `${board} · rankstream`;

function fmt(instant) {
  return instant ? instant.replace('T', ' ').replace(/(:00)?(\.\d+)?Z$/, ' UTC') : '';
}

async function load(kind) {
  const response = await fetch(`/boards/${encodeURIComponent(board)}/${kind}?limit=${N}`);
  const page = await response.json();
  if (!response.ok) throw new Error(page.message || response.status);
  const col = columns[kind] || (columns[kind] = {marks: new Map()});
  col.period = page.period;
  col.page = page;
  col.rows = new Map(page.entries.map(e => [e.user, {rank: e.rank, score: e.score}]));
  render(kind);
}

function apply(record) {
  const col = columns[record.window];
  if (!col) return;
  if (record.type === 'window_closed') {
    if (record.period === col.period) setTimeout(() => load(record.window).catch(() => {}), 300);
    return;
  }
  if (record.type !== 'rank_change') return;
  if (record.period !== col.period) {
    if (col.period === null || record.period > col.period) load(record.window).catch(() => {});
    return;
  }
  const {user, old_rank: before, new_rank: after, score} = record;
  if (after === null || after > N) col.rows.delete(user);
  else col.rows.set(user, {rank: after, score});
  const until = Date.now() + HIGHLIGHT_MS;
  if (before === null && after !== null) col.marks.set(user, ['new', until]);
  else if (after !== null && before !== null && after < before) col.marks.set(user, ['up', until]);
  else if (after !== null && before !== null && after > before) col.marks.set(user, ['down', until]);
  render(record.window);
}

function render(kind) {
  const col = columns[kind];
  let section = document.getElementById(`window-${kind}`);
  if (!section) {
    section = document.createElement('section');
    section.id = `window-${kind}`;
    section.className = 'window';
    section.innerHTML = `<h2>${kind}</h2><p class="meta"></p>
      <table><thead><tr><th>#</th><th>user</th><th class="score">score</th></tr></thead><tbody></tbody></table>`;
    document.getElementById('windows').append(section);
  }
  const page = col.page;
  const meta = page.period
    ? `period ${page.period} · ${fmt(page.window_start)} → ${fmt(page.window_end)} · closes at ${fmt(page.closes_at)}`
    : 'all time · never closes';
  section.querySelector('.meta').textContent = `${meta} · ${page.size} users`;
  const now = Date.now();
  const rows = [...col.rows.entries()].sort((a, b) => a[1].rank - b[1].rank);
  const body = section.querySelector('tbody');
  body.replaceChildren(...rows.map(([user, row]) => {
    const tr = document.createElement('tr');
    tr.dataset.user = user;
    const mark = col.marks.get(user);
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
  const info = await (await fetch(`/api/boards/${encodeURIComponent(board)}`)).json();
  const kinds = info.windows || ['daily', 'weekly', 'all'];
  await Promise.all(kinds.map(kind => load(kind).catch(err => { status.textContent = String(err); })));
  loaded = true;
  for (const record of pending) apply(record);   // changes are absolute: replaying is safe
  pending = [];
  // Re-read now and then: heals anything missed across a reconnect; clears highlights.
  setInterval(() => kinds.forEach(kind => load(kind).catch(() => {})), 15000);
  setInterval(() => kinds.forEach(kind => columns[kind] && render(kind)), 1000);
}

start().catch(err => { document.getElementById('status').textContent = `error: ${err}`; });
