// jobrunner / jobchron status dashboard. Plain browser JavaScript, no build step and no external
// resources (works offline). The server does the heavy lifting: /api/queues returns the filtered,
// sorted top-N rows plus totals, /api/overview the daemon state; this file only renders them and
// refreshes on a timer. The admin token is kept in memory only (never stored, never in the URL).
(function () {
  'use strict';

  const NAME_COLUMNS = ['wiki', 'type'];
  const IDLE_DISCOVERY = {
    watching: 'woken by pushes',
    polling: 'polling',
    off: 'polling (push wake-up off or not supported)',
  };
  const state = {
    sort: 'attention',
    dir: 'desc',
    search: '',
    abandonedOnly: false,
    limit: 100,
    intervalMs: 2000,
    timer: null,
    inFlight: null,
    again: false,
    adminEnabled: false,
    token: null,
    // Row order is kept while the pointer is over the table or an action runs, so a refresh never
    // moves another queue's button under the pointer.
    pointerOnTable: false,
    pending: 0,
    // Set by the operator's own sort / filter changes, which must reorder even while frozen.
    reorder: false,
    order: [],
    lastQueues: null,
    // Result of the last action on a row, shown under that row: key → { text, failed }.
    rowResults: new Map(),
    charts: {},
    // The queue panel: { wiki, type, state } while open.
    detail: null,
  };

  const rowKey = (wiki, type) => JSON.stringify([wiki, type]);
  const frozen = () => state.pointerOnTable || state.pending > 0;

  const byId = (id) => document.getElementById(id);

  function el(tag, props, children) {
    const node = document.createElement(tag);
    if (props) {
      for (const [key, value] of Object.entries(props)) {
        if (value === undefined || value === null) continue;
        if (key === 'text') node.textContent = String(value);
        else if (key === 'className') node.className = value;
        else if (key === 'dataset') Object.assign(node.dataset, value);
        else node.setAttribute(key, String(value));
      }
    }
    for (const child of children || []) if (child) node.append(child);
    return node;
  }

  const numberFormat = new Intl.NumberFormat('en-US');
  function formatCount(n) {
    return typeof n === 'number' ? numberFormat.format(n) : '–';
  }

  function formatAge(seconds) {
    if (seconds === null || seconds === undefined) return '–';
    const s = Math.max(0, Math.floor(seconds));
    if (s < 60) return s + 's';
    if (s < 3600) return Math.floor(s / 60) + 'm' + String(s % 60).padStart(2, '0') + 's';
    if (s < 86400)
      return Math.floor(s / 3600) + 'h' + String(Math.floor((s % 3600) / 60)).padStart(2, '0') + 'm';
    return Math.floor(s / 86400) + 'd' + String(Math.floor((s % 86400) / 3600)).padStart(2, '0') + 'h';
  }

  function formatTime(ms) {
    if (!ms) return '–';
    return new Date(ms).toLocaleTimeString();
  }

  function formatMs(ms) {
    if (ms === null || ms === undefined) return '–';
    return ms < 1000 ? Math.round(ms) + ' ms' : (ms / 1000).toFixed(2) + ' s';
  }

  async function getJson(url) {
    const response = await fetch(url, { cache: 'no-store', headers: { Accept: 'application/json' } });
    if (!response.ok) {
      let message = 'HTTP ' + response.status;
      try {
        message += ': ' + (await response.json()).error;
      } catch (_) {
        // not JSON
      }
      throw new Error(url.split('?')[0] + ' ' + message);
    }
    return response.json();
  }

  function queueUrl() {
    const params = new URLSearchParams({ sort: state.sort, dir: state.dir, limit: String(state.limit) });
    if (state.search) params.set('q', state.search);
    if (state.abandonedOnly) params.set('abandoned', '1');
    return 'api/queues?' + params.toString();
  }

  // ---- farm queues -------------------------------------------------------------------------

  function setTotal(id, text, nonzero) {
    const node = byId(id);
    node.textContent = text;
    node.classList.toggle('nonzero', Boolean(nonzero));
  }

  function renderQueues(data) {
    const totals = data.totals;
    setTotal('total-queues', formatCount(totals.queues));
    setTotal('total-unclaimed', formatCount(totals.unclaimed));
    setTotal('total-claimed', formatCount(totals.claimed));
    setTotal('total-abandoned', formatCount(totals.abandoned), totals.abandoned > 0);
    setTotal('total-delayed', formatCount(totals.delayed));
    setTotal('total-oldest', formatAge(totals.oldestAgeSeconds));

    const errors = byId('partition-errors');
    errors.replaceChildren(
      ...data.errors.map((e) =>
        el('li', { text: 'Partition ' + e.partition + ' could not be read: ' + e.error }),
      ),
    );
    errors.hidden = data.errors.length === 0;

    const paused = data.paused || [];
    const pausedNote = byId('paused-list');
    pausedNote.textContent =
      paused.length === 0
        ? ''
        : 'Paused (runners take no new dispatch): ' + paused.map((p) => p.wiki + ' ' + p.type).join(', ');
    pausedNote.hidden = paused.length === 0;

    state.lastQueues = data;
    renderRows(data.rows);

    const matched = data.matchedTotals;
    const foot = byId('matched-totals');
    for (const key of ['unclaimed', 'claimed', 'abandoned', 'delayed', 'total']) {
      foot.querySelector('[data-col="' + key + '"]').textContent = formatCount(matched[key]);
    }
    foot.querySelector('[data-col="oldest"]').textContent = formatAge(matched.oldestAgeSeconds);
    foot.firstElementChild.textContent = 'Matching queues: ' + formatCount(data.matched);

    byId('match-info').textContent =
      data.matched > data.rows.length
        ? 'showing ' + formatCount(data.rows.length) + ' of ' + formatCount(data.matched) + ' matching queues'
        : formatCount(data.matched) + ' matching queues';
    byId('empty-note').textContent =
      data.emptyQueues > 0 ? data.emptyQueues + ' listed queue(s) hold no jobs and are not shown.' : '';

    for (const th of document.querySelectorAll('#queues th[data-sort]')) {
      const sorted = th.dataset.sort === data.sort;
      th.classList.toggle('sorted-asc', sorted && data.dir === 'asc');
      th.classList.toggle('sorted-desc', sorted && data.dir === 'desc');
      th.setAttribute('aria-sort', sorted ? (data.dir === 'asc' ? 'ascending' : 'descending') : 'none');
    }
  }

  // In the server's order, or in the order on screen while frozen (new rows at the end).
  function renderRows(rows) {
    let ordered = rows;
    if (frozen() && !state.reorder) {
      const at = new Map(state.order.map((key, i) => [key, i]));
      const place = (row) => at.get(rowKey(row.wiki, row.type)) ?? Number.MAX_SAFE_INTEGER;
      ordered = [...rows].sort((a, b) => place(a) - place(b));
    }
    state.reorder = false;
    state.order = ordered.map((row) => rowKey(row.wiki, row.type));
    const body = document.createElement('tbody');
    body.id = 'queue-rows';
    const columns = document.querySelectorAll('#queues thead th:not([hidden])').length;
    for (const row of ordered) {
      body.append(queueRow(row));
      const result = state.rowResults.get(rowKey(row.wiki, row.type));
      if (result) {
        body.append(
          el('tr', { className: 'row-result' + (result.failed ? ' failed' : ''), role: 'status' }, [
            el('td', { colspan: columns, text: result.text }),
          ]),
        );
      }
    }
    byId('queue-rows').replaceWith(body);
  }

  function queueRow(row) {
    const tr = el('tr', {
      className: (row.abandoned > 0 ? 'has-abandoned' : '') + (row.paused ? ' paused' : ''),
      dataset: { wiki: row.wiki, type: row.type, total: String(row.total), abandoned: String(row.abandoned) },
    });
    const typeCell = el('td', { dataset: { col: 'type' } }, [
      el('button', { type: 'button', className: 'link', text: row.type, dataset: { open: '1' } }),
    ]);
    if (row.paused) typeCell.append(el('span', { className: 'badge', text: 'paused' }));
    tr.append(el('td', { text: row.wiki, dataset: { col: 'wiki' } }), typeCell);
    for (const key of ['unclaimed', 'claimed', 'abandoned', 'delayed', 'total']) {
      tr.append(el('td', { className: 'num', text: formatCount(row[key]), dataset: { col: key } }));
    }
    tr.append(
      el('td', { className: 'num', text: formatAge(row.oldestAgeSeconds), dataset: { col: 'oldest' } }),
      el('td', { text: row.partitions.join(', '), className: 'muted', dataset: { col: 'partitions' } }),
    );
    if (state.adminEnabled && state.token) {
      const cell = el('td', { dataset: { col: 'actions' } });
      if (row.abandoned > 0) {
        cell.append(
          el('button', {
            type: 'button',
            text: 'Retry ' + row.abandoned,
            dataset: { action: 'retry-abandoned' },
          }),
          ' ',
        );
      }
      cell.append(
        el('button', {
          type: 'button',
          text: row.paused ? 'Resume' : 'Pause',
          dataset: { action: row.paused ? 'resume-queue' : 'pause-queue' },
        }),
        ' ',
        el('button', {
          type: 'button',
          className: 'danger',
          text: 'Delete',
          dataset: { action: 'delete-queue' },
        }),
      );
      tr.append(cell);
    }
    return tr;
  }

  // ---- daemons -----------------------------------------------------------------------------

  function card(label, value) {
    return el('div', { className: 'card' }, [
      el('span', { className: 'label', text: label }),
      el('span', { className: 'value', text: value }),
    ]);
  }

  // "2 of 2 busy, 2 closing": slots a reload removed finish their job, then disappear.
  function groupLine(group) {
    const closing = group.slots.filter((s) => s.retiring).length;
    const busyKept = group.slots.filter((s) => s.busy && !s.retiring).length;
    return (
      ' · ' +
      busyKept +
      ' of ' +
      group.runners +
      ' busy' +
      (closing > 0 ? ', ' + closing + ' closing when their job ends' : '') +
      ' · ' +
      group.mode +
      ' priority'
    );
  }

  function renderFailedJobs(stats) {
    const jobs = [...(stats.recentFailedJobs || [])].reverse().slice(0, 20);
    byId('failed-job-rows').replaceChildren(
      ...(jobs.length === 0
        ? [el('tr', {}, [el('td', { colspan: 4, className: 'muted', text: 'No failed jobs.' })])]
        : jobs.map((j) =>
            el('tr', {}, [
              el('td', { text: formatTime(j.at) }),
              el('td', { text: j.wiki }),
              el('td', { text: j.type }),
              el('td', { text: j.error }),
            ]),
          )),
    );
  }

  function renderRunner(stats, note) {
    const section = byId('runner');
    section.hidden = false;
    byId('runner-note').textContent = note || '';
    if (!stats || !stats.totals || !Array.isArray(stats.groups)) {
      if (stats && !note) byId('runner-note').textContent = 'This runner reports no slot state.';
      byId('runner-totals').replaceChildren();
      byId('groups').replaceChildren();
      byId('failure-rows').replaceChildren();
      byId('failed-job-rows').replaceChildren();
      return;
    }
    renderFailedJobs(stats);
    const t = stats.totals;
    const pickup = stats.pickupLatency || {};
    const notice = stats.noticeLatency || {};
    byId('runner-totals').replaceChildren(
      card('State', stats.state),
      card('Dispatches', formatCount(t.dispatches)),
      card('Jobs ok', formatCount(t.jobsOk)),
      card('Jobs failed', formatCount(t.jobsFailed)),
      card('Errors', formatCount(t.errors)),
      card('Timeouts', formatCount(t.timeouts)),
      card('Pickup p50 / p90 (since enqueue)', formatMs(pickup.p50Ms) + ' / ' + formatMs(pickup.p90Ms)),
      card('Notice → dispatch p50 / p90', formatMs(notice.p50Ms) + ' / ' + formatMs(notice.p90Ms)),
      card('Ready queues seen', formatCount(stats.knownQueues)),
      card('Idle discovery', IDLE_DISCOVERY[stats.pushWake] || '—'),
    );
    const now = Date.now();
    byId('groups').replaceChildren(
      ...stats.groups.map((group) =>
        el('div', { className: 'group', dataset: { group: group.name } }, [
          el('strong', { text: group.name }),
          el('span', {
            className: 'muted',
            text: groupLine(group),
          }),
          el(
            'div',
            { className: 'slots' },
            group.slots.map((slot) =>
              el('span', {
                className: 'slot' + (slot.busy ? ' busy' : '') + (slot.retiring ? ' retiring' : ''),
                title: slot.retiring ? 'Removed by a reload: closes when its job ends' : undefined,
                text:
                  (slot.retiring ? 'closing · ' : '') +
                  (slot.busy
                    ? '#' +
                      slot.index +
                      ' ' +
                      slot.wiki +
                      ' · ' +
                      slot.type +
                      ' · ' +
                      formatAge((now - slot.since) / 1000)
                    : '#' + slot.index + ' idle'),
              }),
            ),
          ),
        ]),
      ),
    );
    const failures = [...stats.recentFailures].reverse().slice(0, 20);
    byId('failure-rows').replaceChildren(
      ...(failures.length === 0
        ? [el('tr', {}, [el('td', { colspan: 6, className: 'muted', text: 'No failed dispatches.' })])]
        : failures.map((f) =>
            el('tr', {}, [
              el('td', { text: formatTime(f.at) }),
              el('td', { text: f.group }),
              el('td', { text: f.wiki }),
              el('td', { text: f.type }),
              el('td', { text: f.outcome + (f.errorKind ? ' (' + f.errorKind + ')' : '') }),
              el('td', {}, [
                el('span', { text: f.error }),
                f.excerpt ? el('pre', { className: 'excerpt', text: f.excerpt }) : null,
              ]),
            ]),
          )),
    );
  }

  function renderChron(stats, note) {
    const section = byId('chron');
    section.hidden = false;
    byId('chron-note').textContent = note || '';
    if (!stats || !Array.isArray(stats.partitions)) {
      if (stats && !note) byId('chron-note').textContent = 'This jobchron reports no pass state.';
      byId('chron-totals').replaceChildren();
      byId('chron-partition-rows').replaceChildren();
      return;
    }
    byId('chron-totals').replaceChildren(
      card('Running', stats.running ? 'yes' : 'no'),
      card('Passes', formatCount(stats.passes)),
      card('Failed passes', formatCount(stats.failedPasses)),
      card('Last pass', formatMs(stats.lastPassMs)),
      card('Last pass at', formatTime(stats.lastPassAt)),
      card('Recycled', formatCount(stats.recycled)),
      card('Abandoned', formatCount(stats.abandoned)),
      card('Undelayed', formatCount(stats.undelayed)),
      card('Pruned', formatCount(stats.pruned)),
      card('Live instances', formatCount(stats.liveInstances)),
    );
    byId('chron-partition-rows').replaceChildren(
      ...stats.partitions.map((p) =>
        el('tr', {}, [
          el('td', { text: p.name }),
          el('td', { text: p.leaseHeld ? 'held' : p.heldBy ? 'held by ' + p.heldBy : 'not held' }),
          el('td', { className: 'num', text: formatCount(p.passes) }),
          el('td', { className: 'num', text: formatMs(p.lastPassMs) }),
          el('td', { className: 'num', text: formatCount(p.lastPassQueues) }),
          el('td', { text: p.lastError || '' }),
        ]),
      ),
    );
  }

  // A daemon whose state cannot be drawn (older or newer shape) must not stop the queue table.
  function renderDaemon(role, daemon, note) {
    const render = role === 'jobrunner' ? renderRunner : role === 'jobchron' ? renderChron : null;
    if (!render) return;
    try {
      render(daemon, note);
    } catch (error) {
      render(null, 'Cannot show the ' + role + ' state: ' + error.message);
    }
  }

  function renderOverview(data) {
    const self = data.self;
    byId('role').textContent = self.role;
    document.title = self.role + ' status';
    const pill = byId('daemon-state');
    pill.textContent = self.ready ? 'ready' : 'not ready';
    pill.className = 'pill ' + (self.ready ? 'ok' : 'bad');
    byId('uptime').textContent = formatAge(self.uptimeSeconds);
    byId('version').textContent = self.version || '–';
    renderDaemon(self.role, self.daemon, '');
    if (data.peer) {
      if (data.peer.reachable)
        renderDaemon(
          data.peer.role,
          data.peer.status.daemon,
          'From the ' + data.peer.role + ' on this host.',
        );
      else
        renderDaemon(
          data.peer.role,
          null,
          'The ' + data.peer.role + ' status server is not reachable: ' + data.peer.error,
        );
    }
    const enabled = Boolean(self.admin && self.admin.enabled);
    if (enabled !== state.adminEnabled) {
      state.adminEnabled = enabled;
      byId('admin').hidden = !enabled;
      showAdminColumn();
    }
  }

  // ---- refresh loop --------------------------------------------------------------------------

  function showError(message) {
    const banner = byId('error-banner');
    banner.textContent = message;
    banner.hidden = !message;
  }

  async function load() {
    const [queues, overview, history] = await Promise.all([
      getJson(queueUrl()),
      getJson('api/overview'),
      getJson('api/history'),
    ]);
    renderQueues(queues);
    renderOverview(overview);
    renderHistory(history);
    if (state.detail) await loadDetail();
    const updated = byId('updated');
    updated.textContent = new Date(queues.generatedAt).toLocaleTimeString();
    updated.setAttribute('datetime', new Date(queues.generatedAt).toISOString());
    document.body.dataset.generatedAt = String(queues.generatedAt);
    showError('');
  }

  // One request at a time; a change made while one is running triggers exactly one more.
  function refresh() {
    if (state.inFlight) {
      state.again = true;
      return state.inFlight;
    }
    state.inFlight = load()
      .catch((error) => showError('Could not refresh: ' + error.message))
      .finally(() => {
        state.inFlight = null;
        if (state.again) {
          state.again = false;
          refresh();
        }
      });
    return state.inFlight;
  }

  function schedule() {
    clearTimeout(state.timer);
    if (state.intervalMs > 0) {
      state.timer = setTimeout(() => refresh().then(schedule), state.intervalMs);
    }
  }

  // ---- admin -----------------------------------------------------------------------------------

  function showAdminColumn() {
    const on = state.adminEnabled && Boolean(state.token);
    for (const node of document.querySelectorAll('.admin-only')) node.hidden = !on;
    byId('admin-lock').hidden = !state.token;
  }

  async function adminPost(action, body) {
    const response = await fetch('api/admin/' + action, {
      method: 'POST',
      cache: 'no-store',
      headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + state.token },
      body: JSON.stringify(body),
    });
    let parsed = {};
    try {
      parsed = await response.json();
    } catch (_) {
      parsed = { error: 'HTTP ' + response.status };
    }
    return { status: response.status, body: parsed };
  }

  function describeResult(action, wiki, type, r) {
    const what = type + ' on ' + wiki;
    let text;
    if (action === 'retry-abandoned')
      text =
        'Retried ' +
        r.moved +
        ' abandoned job(s) of ' +
        what +
        (r.noData ? ' (' + r.noData + ' without data left in place)' : '');
    else if (action === 'delete-queue')
      text = 'Deleted ' + r.queues + ' queue(s) (' + r.jobs + ' job(s)) of ' + what;
    else if (action === 'pause-queue') text = 'Paused ' + what + ': runners take no new dispatch for it';
    else text = 'Resumed ' + what;
    if (r.errors && r.errors.length > 0)
      text += '; errors: ' + r.errors.map((e) => e.partition + ': ' + e.error).join('; ');
    return text;
  }

  // The result is shown under the queue's own row (and in the admin section for the record).
  async function adminAction(action, wiki, type) {
    const key = rowKey(wiki, type);
    state.pending++;
    state.rowResults.set(key, { text: 'Working…', failed: false });
    if (state.lastQueues) renderRows(state.lastQueues.rows);
    let outcome;
    try {
      const { status, body } = await adminPost(action, { wiki, type });
      if (status === 401 || status === 403) {
        state.token = null;
        showAdminColumn();
        outcome = { text: 'Refused: ' + body.error, failed: true };
      } else if (body.error) {
        outcome = { text: 'Failed: ' + body.error, failed: true };
      } else {
        outcome = {
          text: describeResult(action, wiki, type, body.result),
          failed: body.result.errors && body.result.errors.length > 0,
        };
      }
    } catch (error) {
      outcome = { text: 'Failed: ' + error.message, failed: true };
    }
    state.rowResults.set(key, outcome);
    byId('admin-state').textContent = outcome.text;
    state.pending--;
    await refresh();
  }

  // A token is checked when it is entered: a wrong one never shows the actions.
  async function unlock(token) {
    const note = byId('admin-state');
    if (!token) {
      note.textContent = '';
      return;
    }
    note.textContent = 'Checking the token…';
    state.token = token;
    try {
      const { status, body } = await adminPost('check', {});
      if (status !== 200) {
        state.token = null;
        note.textContent = 'Not unlocked: ' + (body.error || 'HTTP ' + status);
      } else {
        note.textContent = 'Actions unlocked for this page.';
      }
    } catch (error) {
      state.token = null;
      note.textContent = 'Not unlocked: ' + error.message;
    }
    showAdminColumn();
    refresh();
  }

  function confirmation(action, tr) {
    const { wiki, type } = tr.dataset;
    const total = Number(tr.dataset.total);
    const abandoned = Number(tr.dataset.abandoned);
    const jobs = (n) => formatCount(n) + ' job' + (n === 1 ? '' : 's');
    if (action === 'delete-queue')
      return 'Delete the whole ' + type + ' queue of ' + wiki + ' (' + jobs(total) + ')? They are lost.';
    if (action === 'retry-abandoned')
      return 'Retry the ' + jobs(abandoned) + ' abandoned ' + type + ' job(s) of ' + wiki + '?';
    if (action === 'pause-queue')
      return (
        'Pause ' + type + ' on ' + wiki + ' (' + jobs(total) + ' wait)? No runner starts it until resumed.'
      );
    return 'Resume ' + type + ' on ' + wiki + '?';
  }

  // ---- one queue -----------------------------------------------------------------------------

  const SCORE_HEAD = {
    unclaimed: 'Position',
    claimed: 'Claimed',
    abandoned: 'Abandoned',
    delayed: 'Release',
  };

  async function loadDetail() {
    const d = state.detail;
    if (!d) return;
    const asked = d.state;
    const params = new URLSearchParams({ wiki: d.wiki, type: d.type, state: asked, limit: '50' });
    const data = await getJson('api/queue?' + params.toString());
    // Closed, or another queue or state opened, while the answer was on its way (a refresh tick or
    // an action's reload): showing it would reopen the panel the user just closed.
    if (state.detail !== d || d.state !== asked) return;
    renderDetail(data);
  }

  function renderDetail(data) {
    const section = byId('queue-detail');
    section.hidden = false;
    byId('detail-name').textContent = data.wiki + ' · ' + data.type;
    byId('detail-states').replaceChildren(
      ...Object.entries(data.counts).map(([name, count]) =>
        el('button', {
          type: 'button',
          className: name === data.state ? 'tab active' : 'tab',
          'aria-pressed': name === data.state ? 'true' : 'false',
          text: name + ' ' + formatCount(count),
          dataset: { state: name },
        }),
      ),
    );
    byId('detail-score-head').textContent = SCORE_HEAD[data.state] || 'Since';
    const shown = data.jobs.length;
    const total = data.counts[data.state];
    byId('detail-note').textContent =
      (total > shown ? 'Showing ' + shown + ' of ' + formatCount(total) + ' ' + data.state + ' jobs. ' : '') +
      (data.errors.length
        ? 'Unreadable: ' + data.errors.map((e) => e.partition + ': ' + e.error).join('; ')
        : '');
    const admin = state.adminEnabled && Boolean(state.token);
    byId('detail-rows').replaceChildren(
      ...(shown === 0
        ? [el('tr', {}, [el('td', { colspan: 8, className: 'muted', text: 'No ' + data.state + ' jobs.' })])]
        : data.jobs.map((job, i) => {
            const tr = el('tr', { dataset: { id: job.id, partition: job.partition } }, [
              el('td', { className: 'mono', text: job.id }),
              el('td', { className: 'num', text: String(job.attempts) }),
              el('td', { text: job.timestamp ? new Date(job.timestamp * 1000).toLocaleString() : '–' }),
              el('td', {
                text:
                  data.state === 'unclaimed'
                    ? 'next #' + (i + 1)
                    : job.score
                      ? new Date(job.score * 1000).toLocaleString()
                      : '–',
              }),
              el('td', { text: job.ok ? job.title || '(none)' : 'unreadable: ' + job.error }),
              el('td', {}, [
                job.ok ? el('pre', { className: 'excerpt', text: JSON.stringify(job.params) }) : null,
              ]),
              el('td', { className: 'muted', text: job.partition }),
            ]);
            if (admin) {
              const cell = el('td', {});
              if (data.state === 'abandoned')
                cell.append(
                  el('button', { type: 'button', text: 'Retry', dataset: { jobAction: 'retry-job' } }),
                  ' ',
                );
              cell.append(
                el('button', {
                  type: 'button',
                  className: 'danger',
                  text: 'Delete',
                  dataset: { jobAction: 'delete-job' },
                }),
              );
              tr.append(cell);
            }
            return tr;
          })),
    );
    showAdminColumn();
  }

  async function jobAction(action, id) {
    const d = state.detail;
    state.pending++;
    try {
      const { status, body } = await adminPost(action, { wiki: d.wiki, type: d.type, id });
      if (status === 401 || status === 403) {
        state.token = null;
        showAdminColumn();
      }
      const r = body.result;
      byId('detail-note').textContent = body.error
        ? 'Failed: ' + body.error
        : (r.done
            ? (action === 'retry-job' ? 'Retried job ' : 'Deleted job ') + id + ' on ' + r.partition
            : 'Job ' + id + ' was not found (already run or moved)') +
          (r.errors.length
            ? '; errors: ' + r.errors.map((e) => e.partition + ': ' + e.error).join('; ')
            : '');
    } catch (error) {
      byId('detail-note').textContent = 'Failed: ' + error.message;
    }
    state.pending--;
    const note = byId('detail-note').textContent;
    await Promise.all([refresh(), loadDetail()]);
    byId('detail-note').textContent = note;
  }

  // ---- last hour -----------------------------------------------------------------------------

  const CHARTS = {
    'chart-jobs': {
      series: [
        { key: 'jobsOkPerSec', label: 'ok jobs/s', stroke: '#157347' },
        { key: 'jobsFailedPerSec', label: 'failed jobs/s', stroke: '#b42318' },
        { key: 'dispatchErrorsPerSec', label: 'failed dispatches/s', stroke: '#b45309' },
      ],
    },
    'chart-age': { series: [{ key: 'oldestAgeSeconds', label: 'oldest job (s)', stroke: '#2a5db0' }] },
    'chart-pickup': {
      series: [
        { key: 'pickupP50Ms', label: 'p50 (ms)', stroke: '#2a5db0' },
        { key: 'pickupP99Ms', label: 'p99 (ms)', stroke: '#7c3aed' },
      ],
    },
  };
  const TOP_COLORS = ['#7c3aed', '#0e7490', '#b45309', '#be185d', '#4d7c0f'];

  function drawChart(id, series, data) {
    const figure = byId(id);
    const width = Math.max(300, figure.clientWidth - 16);
    const known = state.charts[id];
    const labels = series.map((s) => s.label).join('\n');
    if (known && known.labels === labels) {
      known.plot.setData(data);
      return;
    }
    if (known) known.plot.destroy();
    const plot = new window.uPlot(
      {
        width,
        height: 180,
        series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.stroke, width: 2, spanGaps: false }))],
        axes: [{}, { size: 60 }],
      },
      data,
      figure,
    );
    state.charts[id] = { plot, labels };
  }

  function renderHistory(h) {
    if (typeof window.uPlot !== 'function') {
      byId('history-note').textContent = 'Charts unavailable: the charting library did not load.';
      return;
    }
    byId('history').dataset.points = String(h.t.length);
    for (const [id, chart] of Object.entries(CHARTS)) {
      drawChart(id, chart.series, [h.t, ...chart.series.map((s) => h.series[s.key])]);
    }
    const backlog = [{ label: 'farm unclaimed', stroke: '#1d2329' }].concat(
      h.top.labels.map((label, i) => ({ label, stroke: TOP_COLORS[i % TOP_COLORS.length] })),
    );
    drawChart('chart-backlog', backlog, [h.t, h.series.unclaimed, ...h.top.values]);
  }

  // ---- wiring ------------------------------------------------------------------------------------

  function init() {
    for (const th of document.querySelectorAll('#queues th[data-sort]')) {
      th.addEventListener('click', () => {
        const key = th.dataset.sort;
        if (state.sort === key) state.dir = state.dir === 'asc' ? 'desc' : 'asc';
        else {
          state.sort = key;
          state.dir = NAME_COLUMNS.includes(key) ? 'asc' : 'desc';
        }
        state.reorder = true;
        refresh();
      });
    }
    byId('sort-attention').addEventListener('click', () => {
      state.sort = 'attention';
      state.dir = 'desc';
      state.reorder = true;
      refresh();
    });
    let typing = null;
    byId('filter').addEventListener('input', (event) => {
      clearTimeout(typing);
      typing = setTimeout(() => {
        state.search = event.target.value.trim();
        state.reorder = true;
        refresh();
      }, 200);
    });
    byId('abandoned-only').addEventListener('change', (event) => {
      state.abandonedOnly = event.target.checked;
      state.reorder = true;
      refresh();
    });
    byId('limit').addEventListener('change', (event) => {
      state.limit = Number(event.target.value);
      state.reorder = true;
      refresh();
    });
    byId('refresh').addEventListener('change', (event) => {
      state.intervalMs = Number(event.target.value);
      schedule();
    });
    byId('admin-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const input = byId('admin-token');
      const token = input.value.trim() || null;
      input.value = '';
      unlock(token);
    });
    byId('detail-close').addEventListener('click', () => {
      state.detail = null;
      byId('queue-detail').hidden = true;
    });
    byId('detail-states').addEventListener('click', (event) => {
      const tab = event.target.closest('button[data-state]');
      if (!tab || !state.detail) return;
      state.detail.state = tab.dataset.state;
      loadDetail().catch((error) => showError('Could not load the queue: ' + error.message));
    });
    byId('detail-rows').addEventListener('click', (event) => {
      const button = event.target.closest('button[data-job-action]');
      if (!button) return;
      const id = button.closest('tr').dataset.id;
      const action = button.dataset.jobAction;
      const question =
        action === 'delete-job'
          ? 'Delete job ' + id + ' of ' + state.detail.type + ' on ' + state.detail.wiki + '? It is lost.'
          : 'Retry abandoned job ' + id + ' (its attempts start again)?';
      if (window.confirm(question)) jobAction(action, id);
    });
    byId('admin-lock').addEventListener('click', () => {
      state.token = null;
      showAdminColumn();
      byId('admin-state').textContent = 'Actions locked.';
      refresh();
    });
    const table = byId('queues');
    table.addEventListener('pointerenter', () => {
      state.pointerOnTable = true;
    });
    table.addEventListener('pointerleave', () => {
      state.pointerOnTable = false;
    });
    table.addEventListener('click', (event) => {
      const open = event.target.closest('button[data-open]');
      if (open) {
        const tr = open.closest('tr');
        state.detail = { wiki: tr.dataset.wiki, type: tr.dataset.type, state: 'unclaimed' };
        loadDetail()
          .then(() => byId('queue-detail').scrollIntoView({ block: 'start' }))
          .catch((error) => showError('Could not load the queue: ' + error.message));
        return;
      }
      const button = event.target.closest('button[data-action]');
      if (!button) return;
      const tr = button.closest('tr');
      const action = button.dataset.action;
      if (window.confirm(confirmation(action, tr))) adminAction(action, tr.dataset.wiki, tr.dataset.type);
    });
    refresh().then(schedule);
  }

  document.addEventListener('DOMContentLoaded', init);
})();
