// bluegreen dashboard: plain JavaScript, no framework, no build step.
//
// Everything that comes from the API (app names, images, messages, errors,
// container log lines) is untrusted. It reaches the page only as text nodes
// (textContent, createTextNode), as plain attribute values (title, data-*)
// or as numbers; never as HTML. The page changes state only by POSTing JSON
// to the API's action routes after the operator confirmed.
'use strict';

(function () {
  const HEALTH_LIMIT = 40;      // checks per color in a sparkline
  const HISTORY_LIMIT = 8;      // deployments in a timeline
  const POLL_MS = 2000;         // health and connection counts have no events: poll them
  const EVENT_DEBOUNCE_MS = 50; // events in a burst share one refresh
  const RETRY_MIN_MS = 500;
  const RETRY_MAX_MS = 10000;
  const FEED_MAX = 30;
  // The phases of a deployment in their usual order (canary and verifying
  // only when it is verified); a rollback adds its own.
  const PHASES = ['pulling', 'starting', 'health_checking', 'canary', 'switching', 'verifying', 'draining', 'stopping'];
  const BAD_PHASES = new Set(['reverting', 'rollback']);
  const COLORS = ['blue', 'green'];
  const FINAL = new Set(['completed', 'failed', 'rolled_back', 'superseded', 'interrupted']);
  const SVG_NS = 'http://www.w3.org/2000/svg';

  const apps = new Map(); // name -> app view state
  const feed = [];        // recent events, newest first
  let ws = null;
  let connected = false;
  let retryMs = RETRY_MIN_MS;
  let retryTimer = 0;
  let retryAt = 0;
  let closeReason = '';
  let lastEventId = 0;
  let skewMs = 0; // server clock minus this browser's clock
  let loadedOnce = false;

  // ---------- DOM helpers: text only, never HTML ----------

  // h builds an element. props: class, text, title, data (object), on (object
  // of listeners), and plain attributes. Children: nodes, strings (as text),
  // arrays, null/false (skipped).
  function h(tag, props, ...kids) {
    return build(document.createElement(tag), props, kids);
  }

  function s(tag, props, ...kids) {
    return build(document.createElementNS(SVG_NS, tag), props, kids);
  }

  function build(el, props, kids) {
    for (const [k, v] of Object.entries(props || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.setAttribute('class', v);
      else if (k === 'text') el.textContent = String(v);
      else if (k === 'data') for (const [dk, dv] of Object.entries(v)) el.dataset[dk] = String(dv);
      else if (k === 'on') for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
      else if (/^(on|style$|href$|src$|srcdoc$|action$|formaction$)/i.test(k)) throw new Error('refused attribute ' + k);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    append(el, kids);
    return el;
  }

  function append(el, kids) {
    for (const kid of kids) {
      if (kid === null || kid === undefined || kid === false) continue;
      if (Array.isArray(kid)) append(el, kid);
      else if (kid instanceof Node) el.appendChild(kid);
      else el.appendChild(document.createTextNode(String(kid)));
    }
  }

  // fill replaces an element's children (nodes, strings as text, arrays;
  // null and false skipped).
  function fill(el, ...kids) {
    el.replaceChildren();
    append(el, kids);
    return el;
  }

  const byId = (id) => document.getElementById(id);

  // ---------- time and number formats ----------

  const now = () => Date.now() + skewMs;

  function fmtDur(ms) {
    if (!(ms >= 0)) return '–';
    if (ms < 1000) return Math.round(ms) + ' ms';
    const sec = ms / 1000;
    if (sec < 10) return sec.toFixed(2) + ' s';
    if (sec < 60) return sec.toFixed(1) + ' s';
    const m = Math.floor(sec / 60);
    if (m < 60) return m + 'm ' + String(Math.floor(sec % 60)).padStart(2, '0') + 's';
    return Math.floor(m / 60) + 'h ' + String(m % 60).padStart(2, '0') + 'm';
  }

  function fmtRT(ms) {
    if (!(ms >= 0)) return '–';
    if (ms < 10) return ms.toFixed(2) + ' ms';
    if (ms < 100) return ms.toFixed(1) + ' ms';
    return Math.round(ms) + ' ms';
  }

  function fmtAgo(t) {
    const d = (now() - t) / 1000;
    if (d < 5) return 'just now';
    if (d < 60) return Math.floor(d) + ' s ago';
    if (d < 3600) return Math.floor(d / 60) + ' min ago';
    if (d < 86400) return Math.floor(d / 3600) + ' h ago';
    return Math.floor(d / 86400) + ' d ago';
  }

  function fmtClock(t) {
    return new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
  }

  function fmtWhen(t) {
    return new Date(t).toLocaleString([], { hourCycle: 'h23' });
  }

  const parseTime = (v) => (v ? Date.parse(v) : NaN);
  const label = (status) => String(status || 'unknown').replace(/_/g, ' ');
  const healthLabel = (v) => (v === 'unknown' ? 'not checked' : v === 'none' ? 'no container' : label(v));

  // splitRef splits an image reference into repository and tag or digest
  // (with its ':' or '@'); the tag is '' when there is none.
  function splitRef(ref) {
    ref = String(ref || '');
    const at = ref.indexOf('@');
    if (at >= 0) return [ref.slice(0, at), ref.slice(at)];
    const colon = ref.lastIndexOf(':');
    if (colon > ref.lastIndexOf('/')) return [ref.slice(0, colon), ref.slice(colon)];
    return [ref, ''];
  }

  // images shows "from → to" compactly: the repository once when both share
  // it, the tags always visible.
  function images(from, to) {
    const [fr, ft] = splitRef(from);
    const [tr, tt] = splitRef(to);
    if (from && from !== to && fr === tr && ft && tt) {
      return [h('code', { class: 'tag-from', title: from }, ft), h('span', { class: 'arrow' }, '→'),
        h('code', { class: 'tag-to', title: to }, tt), h('code', { class: 'repo', title: tr }, tr)];
    }
    return [from && from !== to ? [h('code', { class: 'from', title: from }, from), h('span', { class: 'arrow' }, '→')] : null,
      h('code', { class: 'to', title: to || '' }, to || '')];
  }

  // phaseOrder sorts phase names: the usual ones in order, others after.
  function phaseOrder(names) {
    const rank = (n) => (PHASES.indexOf(n) < 0 ? PHASES.length : PHASES.indexOf(n));
    return Array.from(new Set(names)).sort((x, y) => rank(x) - rank(y));
  }

  // A live relative time or elapsed time: the ticker rewrites its text.
  function ago(t) {
    return h('time', { class: 'ago', datetime: new Date(t).toISOString(), title: fmtWhen(t), data: { at: t } }, fmtAgo(t));
  }

  function elapsed(start) {
    return h('span', { class: 'elapsed', data: { start: start } }, fmtDur(now() - start));
  }

  // ---------- API ----------

  class APIError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  // A read that failed in the network (the browser saw the host's network
  // change, a tunnel hiccup) is tried once more; a POST never is.
  async function api(path, opts) {
    const init = Object.assign({ cache: 'no-store', headers: { Accept: 'application/json' } }, opts);
    const retry = !init.method || init.method === 'GET';
    let resp;
    for (let attempt = 0; ; attempt++) {
      try {
        resp = await fetch(path, init);
        break;
      } catch (e) {
        if (!retry || attempt > 0) throw new APIError(0, 'unreachable', 'cannot reach bluegreen serve: ' + e.message);
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    noteServerDate(resp.headers.get('Date'));
    const text = await resp.text();
    let body = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch (e) {
      body = null;
    }
    if (!resp.ok) {
      const err = body && body.error;
      if (err && typeof err.message === 'string') throw new APIError(resp.status, String(err.code || ''), err.message);
      throw new APIError(resp.status, 'http_' + resp.status, text.trim().slice(0, 500) || resp.statusText);
    }
    return body;
  }

  function post(path, body) {
    return api(path, {
      method: 'POST',
      headers: { Accept: 'application/json', 'Content-Type': 'application/json' },
      body: JSON.stringify(body || {}),
    });
  }

  const appPath = (name, rest) => '/api/apps/' + encodeURIComponent(name) + rest;

  // The HTTP Date header has a resolution of one second: trust it only for a
  // clear skew. Events give a finer estimate (noteEventTime).
  function noteServerDate(v) {
    const t = Date.parse(v || '');
    if (isNaN(t)) return;
    const d = t + 500 - Date.now();
    if (Math.abs(d) > 2000 && Math.abs(d - skewMs) > 1000) skewMs = d;
  }

  function noteEventTime(at) {
    const t = parseTime(at);
    if (isNaN(t)) return;
    const d = t - Date.now();
    skewMs = Math.abs(d) > 1000 ? d : 0;
  }

  // ---------- app state and refresh ----------

  function getApp(name) {
    let a = apps.get(name);
    if (!a) {
      a = {
        name: name, status: null, health: null, history: null, running: null,
        details: new Map(), open: new Set(), pending: {}, timer: 0, inflight: false,
        msg: null, busy: false, el: null, readError: '',
      };
      a.el = makeCard(a);
      apps.set(name, a);
      placeCards();
    }
    return a;
  }

  function dropApp(name) {
    const a = apps.get(name);
    if (!a) return;
    clearTimeout(a.timer);
    a.el.card.remove();
    apps.delete(name);
    placeCards();
  }

  // want asks for a refresh of parts of an app (status, health, history);
  // asks close together are merged into one round of requests.
  function want(a, parts) {
    Object.assign(a.pending, parts);
    if (!a.timer && !a.inflight) a.timer = setTimeout(() => refresh(a), EVENT_DEBOUNCE_MS);
  }

  async function refresh(a) {
    a.timer = 0;
    const p = a.pending;
    a.pending = {};
    a.inflight = true;
    try {
      // Each part on its own: one that fails leaves the others shown.
      const jobs = [];
      if (p.status) jobs.push(appAPI(a, '/status').then((v) => { a.status = v; }));
      if (p.health) jobs.push(appAPI(a, '/health?limit=' + HEALTH_LIMIT).then((v) => { a.health = v; }));
      if (p.history) jobs.push(appAPI(a, '/history?limit=' + HISTORY_LIMIT).then((v) => { a.history = v; }));
      const failed = (await Promise.allSettled(jobs)).filter((r) => r.status === 'rejected').map((r) => r.reason);
      if (failed.some((e) => e.appGone)) {
        dropApp(a.name); // removed from the apps folder
        return;
      }
      if (failed.some((e) => e.status === 0)) {
        noteTrouble(failed[0]);
        return;
      }
      a.readError = failed.length ? 'could not read ' + a.name + ': ' + errText(failed[0]) : '';
      const run = a.status && a.status.deployment;
      if (!run) a.running = null;
      try {
        if (run && (p.history || p.status || p.running)) a.running = await api('/api/deployments/' + Number(run.deployment_id));
      } catch (e) {
        a.running = null; // the status's own copy is shown instead
      }
      for (const id of Array.from(a.open)) {
        if (!p.history && a.details.has(id)) continue;
        try {
          await loadDetail(a, id);
        } catch (e) {
          a.open.delete(id);
          showMsg(a, false, 'deployment #' + id + ': ' + errText(e));
        }
      }
      render(a);
    } catch (e) {
      noteTrouble(e);
    } finally {
      a.inflight = false;
      if (Object.keys(a.pending).length && apps.has(a.name)) want(a, {});
    }
  }

  // appAPI reads one of an app's routes; a 404 there means the app is gone.
  function appAPI(a, rest) {
    return api(appPath(a.name, rest)).catch((e) => {
      if (e.status === 404) e.appGone = true;
      throw e;
    });
  }

  async function loadDetail(a, id) {
    a.details.set(id, await api('/api/deployments/' + Number(id)));
  }

  // loadAll reads every app's status and, for apps new to the page (or all
  // apps after a reconnect), their history and health.
  async function loadAll(full) {
    let list;
    try {
      list = await api('/api/apps');
    } catch (e) {
      if (!apps.size) byId('empty').textContent = 'Could not read the apps: ' + errText(e);
      throw e;
    }
    const seen = new Set();
    for (const st of list || []) {
      seen.add(st.name);
      const fresh = !apps.has(st.name);
      const a = getApp(st.name);
      a.status = st;
      if (fresh || full) want(a, { health: true, history: true, status: !!st.deployment });
      else render(a);
    }
    for (const name of Array.from(apps.keys())) if (!seen.has(name)) dropApp(name);
    loadedOnce = true;
    renderSummary();
  }

  async function poll() {
    if (!connected || document.hidden) return;
    try {
      const list = await api('/api/apps');
      const seen = new Set();
      for (const st of list || []) {
        seen.add(st.name);
        const known = apps.has(st.name);
        const a = getApp(st.name);
        const prev = a.status;
        a.status = st;
        const changed = !known || !prev || prev.status !== st.status || prev.current_image !== st.current_image ||
          prev.active_color !== st.active_color || !!prev.deployment !== !!st.deployment;
        want(a, { health: true, history: changed || !a.history, running: !!st.deployment });
      }
      for (const name of Array.from(apps.keys())) if (!seen.has(name)) dropApp(name);
      renderSummary();
    } catch (e) {
      noteTrouble(e);
    }
  }

  function noteTrouble(e) {
    if (e && e.status === 0 && ws) {
      // serve is gone while the socket has not noticed (e.g. a dropped tunnel).
      closeReason = 'serve did not answer';
      ws.close();
    }
  }

  // ---------- live events ----------

  function connect() {
    clearTimeout(retryTimer);
    retryTimer = 0;
    if (ws) return;
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    let sock;
    try {
      sock = new WebSocket(proto + '//' + location.host + '/api/events/stream');
    } catch (e) {
      closeReason = String(e.message || e);
      scheduleReconnect();
      return;
    }
    ws = sock;
    setConn('connecting');
    sock.addEventListener('open', () => {
      if (ws !== sock) return;
      connected = true;
      retryMs = RETRY_MIN_MS;
      closeReason = '';
      setConn('live');
      catchUp();
    });
    sock.addEventListener('message', (m) => {
      let ev;
      try {
        ev = JSON.parse(m.data);
      } catch (e) {
        return;
      }
      if (ev && typeof ev === 'object') onEvent(ev, true);
    });
    sock.addEventListener('close', (c) => {
      if (ws !== sock) return;
      ws = null;
      connected = false;
      if (!closeReason) closeReason = c.code === 1001 ? 'serve is stopping or upgrading' : 'connection lost';
      scheduleReconnect();
    });
  }

  function scheduleReconnect() {
    const jitter = 0.8 + Math.random() * 0.4;
    const wait = Math.round(retryMs * jitter);
    retryMs = Math.min(retryMs * 2, RETRY_MAX_MS);
    retryAt = Date.now() + wait;
    clearTimeout(retryTimer);
    retryTimer = setTimeout(connect, wait);
    setConn('down');
  }

  // catchUp runs on every (re)connect: the socket only carries what happens
  // from now on, so re-read everything and the events missed meanwhile.
  async function catchUp() {
    try {
      if (lastEventId > 0) {
        const missed = await api('/api/events?limit=200&after_id=' + Number(lastEventId));
        for (const ev of missed || []) onEvent(ev, false);
      }
      await loadAll(true);
    } catch (e) {
      noteTrouble(e);
    }
  }

  function onEvent(ev, live) {
    const id = Number(ev.id) || 0;
    if (id && id <= lastEventId) return;
    if (id) lastEventId = id;
    if (live) noteEventTime(ev.at);
    feed.unshift(ev);
    if (feed.length > FEED_MAX) feed.length = FEED_MAX;
    renderFeed();
    const type = String(ev.type || '');
    const name = typeof ev.app === 'string' ? ev.app : '';
    if (!name || !apps.has(name) || type.startsWith('config.') || type.startsWith('supervisor.')) {
      loadAll(false).catch(noteTrouble);
      if (!name || !apps.has(name)) return;
    }
    const a = apps.get(name);
    if (type.startsWith('deployment.')) want(a, { status: true, history: true });
    else if (type.startsWith('container.') || type.startsWith('proxy.') || type.startsWith('drain.')) want(a, { status: true, health: true });
    else want(a, { status: true });
  }

  // ---------- rendering ----------

  function placeCards() {
    const main = byId('apps');
    const names = Array.from(apps.keys()).sort();
    byId('empty').hidden = names.length > 0;
    if (!names.length) byId('empty').textContent = loadedOnce ? 'No apps configured: add a YAML file to the apps folder and reload.' : 'Loading apps…';
    for (const n of names) main.appendChild(apps.get(n).el.card);
  }

  function makeCard(a) {
    const el = {};
    el.name = h('h2', { class: 'app-name', text: a.name, title: a.name });
    el.badges = h('div', { class: 'badges' });
    el.stats = h('div', { class: 'stats' });
    el.meta = h('div', { class: 'meta' });
    el.problem = h('div', { class: 'problem', hidden: true });
    el.input = h('input', {
      class: 'deploy-image', type: 'text', spellcheck: 'false', autocomplete: 'off',
      placeholder: 'image to deploy (empty: redeploy the current one)', 'aria-label': 'image to deploy for ' + a.name,
    });
    el.input.addEventListener('input', () => { el.input.dataset.edited = '1'; });
    el.input.addEventListener('keydown', (e) => { if (e.key === 'Enter') doDeploy(a); });
    el.deploy = h('button', { class: 'btn primary btn-deploy', type: 'button', on: { click: () => doDeploy(a) } }, iconDeploy(), 'Deploy');
    el.rollback = h('button', { class: 'btn btn-rollback', type: 'button', on: { click: () => doRollback(a) } }, iconBack(), 'Roll back');
    el.switch = h('button', { class: 'btn btn-switch', type: 'button', on: { click: () => doSwitch(a) } }, iconSwitch(), 'Switch');
    el.traffic = h('span', { class: 'traffic-state' });
    el.pause = h('button', { class: 'btn btn-pause', type: 'button', on: { click: () => doPause(a) } }, iconPause(), 'Pause');
    el.maint = h('button', { class: 'btn btn-maintenance', type: 'button', on: { click: () => doMaintenance(a) } }, iconMaint(), 'Maintenance');
    el.resume = h('button', { class: 'btn btn-resume', type: 'button', on: { click: () => doResume(a) } }, iconResume(), 'Resume');
    el.msg = h('div', { class: 'msg', role: 'status', hidden: true });
    el.running = h('section', { class: 'running', hidden: true });
    el.colors = h('div', { class: 'colors' });
    el.timeline = h('section', { class: 'timeline' });
    el.card = h('article', { class: 'card', data: { app: a.name } },
      h('header', { class: 'card-head' },
        h('div', { class: 'title' }, el.name, el.badges),
        el.meta, el.stats),
      el.problem,
      h('div', { class: 'actions' }, el.input, el.deploy, el.rollback, el.switch),
      h('div', { class: 'traffic' }, el.traffic, el.pause, el.maint, el.resume),
      el.msg,
      el.running,
      h('div', { class: 'body' }, el.colors, el.timeline));
    return el;
  }

  function render(a) {
    const st = a.status;
    if (!st) return;
    const el = a.el;
    el.card.dataset.status = st.status || '';

    fill(el.badges,
      h('span', { class: 'badge status-' + cls(st.status), title: 'app status' }, label(st.status)),
      st.active_color
        ? h('span', { class: 'badge color color-' + cls(st.active_color), title: 'the proxy sends traffic to this color' }, 'serving ' + st.active_color)
        : h('span', { class: 'badge muted', title: 'no color takes traffic' }, 'no active color'),
      trafficBadge(st.traffic));

    fill(el.meta,
      h('span', { class: 'kv' }, h('span', { class: 'k', text: 'image' }), h('code', { class: 'app-image', title: st.current_image || '' }, st.current_image || '–')),
      st.desired_image && st.desired_image !== st.current_image
        ? h('span', { class: 'kv' }, h('span', { class: 'k', text: 'desired' }), h('code', { class: 'desired-image', title: st.desired_image }, st.desired_image))
        : null,
      st.ports ? h('span', { class: 'kv' }, h('span', { class: 'k', text: 'proxy' }), h('code', {}, ':' + Number(st.ports.proxy))) : null);

    const sx = st.stats || {};
    fill(el.stats,
      stat(Number(sx.deployments) || 0, 'deploys'),
      stat(sx.deployments ? Math.round((Number(sx.success_rate) || 0) * 100) + '%' : '–', 'success'),
      stat(sx.deployments ? fmtDur(Number(sx.avg_duration_ms)) : '–', 'avg'),
      stat(sx.deployments ? fmtDur(Number(sx.p95_duration_ms)) : '–', 'p95'));

    const problem = [st.error ? String(st.error) : '', a.readError || ''].filter(Boolean).join(' · ');
    el.problem.hidden = !problem;
    el.problem.textContent = problem;

    if (!el.input.dataset.edited) el.input.value = st.current_image || '';
    const other = st.active_color === 'blue' ? 'green' : st.active_color === 'green' ? 'blue' : (st.containers && st.containers.blue ? 'blue' : 'green');
    el.switch.dataset.color = other;
    el.switch.lastChild.textContent = 'Switch to ' + other;
    const target = st.containers && st.containers[other];
    el.switch.disabled = a.busy || !target || !!st.deployment;
    el.switch.title = st.deployment ? 'a deployment is running: switch when it has ended'
      : !target ? 'no ' + other + ' container to switch to' : 'move traffic to the ' + other + ' container (health-checked first)';
    el.deploy.disabled = a.busy;
    el.rollback.disabled = a.busy;
    renderTraffic(a);
    el.rollback.title = 'deploy the image of the completed deployment before the current one';

    renderMsg(a);
    renderRunning(a);
    renderColors(a);
    renderTimeline(a);
    renderSummary();
    if (a.history && a.health && !performance.getEntriesByName('bluegreen:first-app').length) {
      performance.mark('bluegreen:first-app'); // read by the browser test's timing
    }
  }

  function stat(v, k) {
    return h('div', { class: 'stat' }, h('b', {}, String(v)), h('span', {}, k));
  }

  // cls turns an API word into a CSS class part: only [a-z0-9_-] survives.
  function cls(v) {
    return String(v || 'unknown').toLowerCase().replace(/[^a-z0-9_-]/g, '');
  }

  function renderMsg(a) {
    const el = a.el.msg;
    if (!a.msg) {
      el.hidden = true;
      fill(el);
      return;
    }
    el.hidden = false;
    el.className = 'msg ' + (a.msg.ok ? 'ok' : 'err');
    fill(el,
      h('span', { class: 'msg-time' }, fmtClock(a.msg.at)),
      h('span', { class: 'msg-text' }, a.msg.text),
      h('button', { class: 'msg-close', type: 'button', title: 'dismiss', 'aria-label': 'dismiss', on: { click: () => { a.msg = null; renderMsg(a); } } }, '×'));
  }

  function renderRunning(a) {
    const sec = a.el.running;
    const run = a.status && a.status.deployment;
    const d = run && a.running && a.running.deployment_id === run.deployment_id ? a.running : run;
    if (!d || FINAL.has(d.status)) {
      sec.hidden = true;
      fill(sec);
      return;
    }
    sec.hidden = false;
    const start = parseTime(d.started_at);
    const phases = Array.isArray(d.phases) ? d.phases : [];
    // The phases so far, then the usual ones still to come.
    const names = phases.map((p) => String(p.name));
    const lastRank = names.reduce((m, n) => Math.max(m, PHASES.indexOf(n)), -1);
    const v = d.verification;
    const todo = PHASES.slice(lastRank + 1).filter((n) => (n !== 'canary' && n !== 'verifying') ||
      (v && (n === 'verifying' || (Array.isArray(v.steps) && v.steps.length > 0))));
    if (!names.some((n) => BAD_PHASES.has(n))) for (const n of todo) names.push(n);
    const steps = names.map((name, i) => {
      const p = i < phases.length ? phases[i] : null; // a canary step per phase: the same name twice
      const current = p && i === phases.length - 1;
      let state = 'todo';
      if (current) state = 'now';
      else if (p) state = 'done';
      const t = p ? parseTime(p.started_at) : NaN;
      return h('li', { class: 'step ' + state + (BAD_PHASES.has(name) ? ' step-bad' : ''), data: { phase: name } },
        h('span', { class: 'step-dot' }),
        h('span', { class: 'step-name' }, label(name)),
        current && !isNaN(t) ? elapsed(t) : p ? h('span', { class: 'step-dur' }, fmtDur(Number(p.duration_ms))) : null);
    });
    fill(sec,
      h('div', { class: 'running-head' },
        h('span', { class: 'pulse' }),
        h('b', {}, 'Deployment #' + Number(d.deployment_id)),
        h('span', { class: 'phase-now' }, label(d.status)),
        h('code', { title: d.to_image || '' }, d.to_image || ''),
        d.color ? h('span', { class: 'badge color color-' + cls(d.color) }, 'into ' + d.color) : null,
        h('span', { class: 'muted' }, 'elapsed '), isNaN(start) ? '–' : elapsed(start)),
      h('ol', { class: 'steps' }, steps),
      renderWindow(a, d));
  }

  // renderWindow shows the verification window being watched: the step, its
  // time, the new color's requests, errors and p99 so far, and a Promote
  // button (docs/verification.md); null when none is watched.
  function renderWindow(a, d) {
    const v = d.verification;
    if (!v || v.result !== 'running' || (d.status !== 'canary' && d.status !== 'verifying')) return null;
    const step = Number(v.step) || 0;
    const windowMs = Number(v.window_ms) || 0;
    const elapsedMs = Math.min(Number(v.elapsed_ms) || 0, windowMs);
    const requests = Number(v.requests) || 0;
    const errors = Number(v.errors) || 0;
    const rate = (Number(v.error_rate) || 0) * 100;
    const bar = h('div', { class: 'window-bar', title: fmtDur(elapsedMs) + ' of ' + fmtDur(windowMs) });
    const fillEl = h('span', { class: 'window-fill' });
    fillEl.style.width = (windowMs ? Math.max(0, Math.min(100, (elapsedMs / windowMs) * 100)) : 0).toFixed(1) + '%';
    bar.appendChild(fillEl);
    const promote = h('button', { class: 'btn btn-promote', type: 'button', on: { click: () => doPromote(a, d) } }, iconDeploy(), 'Promote');
    promote.disabled = a.busy;
    promote.title = 'skip the rest of the canary steps and the window: all traffic to ' + (d.color || 'the new color') + ' now';
    return h('div', { class: 'window', data: { step: step } },
      h('div', { class: 'window-head' },
        h('b', { class: 'window-step' }, step < 100 ? 'canary ' + step + '%' : 'verifying'),
        Array.isArray(v.steps) && v.steps.length ? h('span', { class: 'muted window-steps' }, 'steps ' + v.steps.map(Number).join(' → ') + ' → 100%') : null,
        h('span', { class: 'window-time' }, fmtDur(elapsedMs) + ' / ' + fmtDur(windowMs)),
        promote),
      bar,
      h('div', { class: 'window-numbers' },
        h('span', {}, h('b', { class: 'window-requests' }, String(requests)), ' requests'),
        h('span', { class: errors ? 'window-bad' : '' }, h('b', { class: 'window-errors' }, String(errors)), ' errors (' + rate.toFixed(1) + '%)'),
        h('span', {}, 'p99 ', h('b', { class: 'window-p99' }, requests ? fmtDur(Number(v.p99_ms) || 0) : '–'))));
  }

  function renderColors(a) {
    const st = a.status;
    const panels = COLORS.map((color) => {
      const c = st.containers ? st.containers[color] : null;
      const hl = a.health ? a.health[color] : null;
      const conn = st.connections ? st.connections[color] : null;
      const active = st.active_color === color;
      const checks = hl && Array.isArray(hl.checks) ? hl.checks.slice().reverse() : [];
      const hstate = hl ? hl.status || (hl.healthy ? 'healthy' : 'unknown') : c ? c.health : 'none';
      const ok = checks.filter((x) => x.success);
      const rts = ok.map((x) => Number(x.response_time_ms) || 0);
      const last = checks.length ? checks[checks.length - 1] : null;
      // A check before the container's first pass is starting, not a failure.
      const fails = checks.filter((x) => !x.success && !x.starting).length;
      return h('section', { class: 'color-panel color-' + color + (active ? ' active' : ''), data: { color: color } },
        h('header', {},
          h('span', { class: 'swatch' }),
          h('b', { class: 'color-name' }, color),
          active ? h('span', { class: 'tag live' }, 'active') : c ? h('span', { class: 'tag' }, 'standby') : null,
          c || hstate !== 'none' ? h('span', { class: 'health health-' + cls(hstate), title: 'health: ' + label(hstate) }, healthLabel(hstate)) : null),
        c
          ? h('div', { class: 'container' },
            h('code', { class: 'container-image', title: c.image || '' }, c.image || '–'),
            h('span', { class: 'state state-' + cls(c.state), title: 'container ' + (c.id || '').slice(0, 12) }, label(c.state)))
          : h('div', { class: 'container none' }, 'no container', st.active_color && !active ? h('span', { class: 'muted' }, ' · the next deployment starts here') : null),
        sparkline(checks),
        h('div', { class: 'spark-legend' },
          last ? h('span', {}, 'last ', h('b', {}, last.success ? fmtRT(Number(last.response_time_ms)) : last.starting ? 'starting' : 'failed')) : h('span', { class: 'muted' }, 'no checks yet'),
          rts.length ? h('span', {}, 'max ', h('b', {}, fmtRT(Math.max(...rts)))) : null,
          checks.length ? h('span', { class: fails ? 'bad' : '' }, fails + '/' + checks.length + ' failed') : null,
          hl && hl.consecutive_failures ? h('span', { class: 'bad' }, hl.consecutive_failures + ' in a row') : null),
        h('div', { class: 'conns', title: 'open proxied connections' },
          h('span', {}, h('b', { class: 'conn-http' }, String(conn ? Number(conn.http) || 0 : 0)), ' http'),
          h('span', {}, h('b', { class: 'conn-ws' }, String(conn ? Number(conn.websocket) || 0 : 0)), ' websocket')));
    });
    fill(a.el.colors, ...panels);
  }

  // sparkline draws response times of checks (oldest first) as a line, with
  // a red mark for each failed check and a grey one for each starting check
  // (before the container's first pass).
  function sparkline(checks) {
    const W = 240, H = 40, PAD = 3;
    const root = s('svg', { class: 'spark', viewBox: '0 0 ' + W + ' ' + H, preserveAspectRatio: 'none', role: 'img', 'aria-label': 'health check response times' });
    if (!checks.length) {
      root.appendChild(s('line', { x1: 0, y1: H - PAD, x2: W, y2: H - PAD, class: 'spark-empty' }));
      return root;
    }
    const n = Math.max(checks.length, 2);
    const max = Math.max(1, ...checks.filter((c) => c.success).map((c) => Number(c.response_time_ms) || 0)) * 1.15;
    const x = (i) => (checks.length === 1 ? W / 2 : (i / (n - 1)) * W);
    const y = (v) => H - PAD - (Math.min(v, max) / max) * (H - 2 * PAD);
    const pts = [];
    checks.forEach((c, i) => {
      if (c.success) pts.push([x(i), y(Number(c.response_time_ms) || 0)]);
    });
    if (pts.length) {
      const line = pts.map((p) => p[0].toFixed(1) + ',' + p[1].toFixed(1)).join(' ');
      const area = 'M' + pts[0][0].toFixed(1) + ',' + (H - PAD) + ' L' + line.replace(/ /g, ' L') + ' L' + pts[pts.length - 1][0].toFixed(1) + ',' + (H - PAD) + ' Z';
      root.appendChild(s('path', { d: area, class: 'spark-area' }));
      root.appendChild(s('polyline', { points: line, class: 'spark-line' }));
      const lp = pts[pts.length - 1];
      root.appendChild(s('circle', { cx: lp[0].toFixed(1), cy: lp[1].toFixed(1), r: 2.2, class: 'spark-dot' }));
    }
    checks.forEach((c, i) => {
      if (c.success) return;
      const t = s('rect', { x: (x(i) - 1.5).toFixed(1), y: 0, width: 3, height: H, class: c.starting ? 'spark-starting' : 'spark-fail' });
      t.appendChild(s('title', {}, fmtClock(parseTime(c.at)) + (c.starting ? ' starting' : ' failed') + (c.status_code ? ' (' + Number(c.status_code) + ')' : '') + (c.error ? ': ' + c.error : '')));
      root.appendChild(t);
    });
    return root;
  }

  function renderTimeline(a) {
    const list = Array.isArray(a.history) ? a.history : [];
    const present = phaseOrder(list.flatMap((d) => (Array.isArray(d.phases) ? d.phases.map((p) => String(p.name)) : [])));
    const head = h('h3', {}, 'Recent deployments', h('span', { class: 'legend' },
      present.map((p) => h('span', { class: 'lg' }, h('i', { class: 'ph-' + cls(p) }), label(p)))));
    if (!list.length) {
      fill(a.el.timeline, head, h('p', { class: 'muted' }, a.history ? 'No deployments yet.' : 'Loading…'));
      return;
    }
    const total = (d) => {
      if (FINAL.has(d.status)) return Number(d.duration_ms) || 0;
      const t = parseTime(d.started_at);
      return isNaN(t) ? 0 : Math.max(0, now() - t);
    };
    const longest = Math.max(1, ...list.map(total));
    const rows = list.map((d) => {
      const id = Number(d.deployment_id);
      const open = a.open.has(id);
      const dur = total(d);
      const start = parseTime(d.started_at);
      const bar = h('div', { class: 'bar', title: 'phases, to scale with the longest deployment shown' });
      const phases = Array.isArray(d.phases) ? d.phases : [];
      for (let i = 0; i < phases.length; i++) {
        const p = phases[i];
        let ms = Number(p.duration_ms) || 0;
        if (!FINAL.has(d.status) && i === phases.length - 1) ms = Math.max(ms, now() - parseTime(p.started_at)) || 0;
        const seg = h('span', { class: 'seg ph-' + cls(p.name) + (p.error ? ' seg-err' : ''), title: label(p.name) + ' ' + fmtDur(ms) + (p.error ? ': ' + p.error : '') });
        seg.style.width = Math.max(0.6, (ms / longest) * 100).toFixed(2) + '%';
        bar.appendChild(seg);
      }
      const row = h('li', { class: 'dep dep-' + cls(d.status) + (open ? ' open' : ''), data: { id: id } },
        h('button', { class: 'dep-row', type: 'button', 'aria-expanded': open ? 'true' : 'false', on: { click: () => toggle(a, id) } },
          h('span', { class: 'dep-id' }, '#' + id),
          h('span', { class: 'badge status-' + cls(d.status) }, label(d.status)),
          h('span', { class: 'dep-images' }, images(d.from_image, d.to_image)),
          h('span', { class: 'dep-meta' },
            d.kind ? h('span', { class: 'kind kind-' + cls(d.kind), title: 'kind' }, d.kind) : null,
            h('span', { class: 'trigger', title: 'trigger' }, d.trigger_source || ''),
            isNaN(start) ? null : ago(start),
            h('b', { class: 'dep-dur' }, FINAL.has(d.status) ? fmtDur(dur) : elapsed(start))),
          bar),
        d.error && !open ? h('div', { class: 'dep-error' }, d.error) : null,
        open ? detail(a.details.get(id) || d) : null);
      return row;
    });
    fill(a.el.timeline, head, h('ol', { class: 'deps' }, rows));
  }

  function detail(d) {
    const phases = Array.isArray(d.phases) ? d.phases : [];
    const logs = Array.isArray(d.logs) ? d.logs : [];
    return h('div', { class: 'dep-detail' },
      h('dl', {},
        h('dt', {}, 'color'), h('dd', {}, d.color || '–'),
        h('dt', {}, 'started'), h('dd', {}, d.started_at ? fmtWhen(parseTime(d.started_at)) : '–'),
        h('dt', {}, 'ended'), h('dd', {}, d.completed_at ? fmtWhen(parseTime(d.completed_at)) : '–')),
      phases.length
        ? h('table', { class: 'phases' }, h('tbody', {}, phases.map((p) => h('tr', {},
          h('td', {}, h('i', { class: 'ph-' + cls(p.name) }), label(p.name)),
          h('td', { class: 'num' }, fmtDur(Number(p.duration_ms))),
          h('td', { class: 'bad' }, p.error && p.error !== d.error ? p.error : '')))))
        : null,
      d.error ? h('p', { class: 'dep-error' }, d.error) : null,
      logs.length ? [h('h4', {}, 'last container log lines'), h('pre', { class: 'logs' }, logs.join('\n'))] : null);
  }

  async function toggle(a, id) {
    if (a.open.has(id)) {
      a.open.delete(id);
      render(a);
      return;
    }
    a.open.add(id);
    render(a);
    try {
      await loadDetail(a, id);
      render(a);
    } catch (e) {
      showMsg(a, false, 'deployment #' + id + ': ' + errText(e));
    }
  }

  function renderSummary() {
    const counts = {};
    for (const a of apps.values()) if (a.status) counts[a.status.status] = (counts[a.status.status] || 0) + 1;
    const order = ['failed', 'degraded', 'deploying', 'stable', 'stopped'];
    const parts = [h('span', { class: 'sum-apps' }, apps.size + (apps.size === 1 ? ' app' : ' apps'))];
    for (const k of order) if (counts[k]) parts.push(h('span', { class: 'badge status-' + k }, counts[k] + ' ' + k));
    fill(byId('summary'), ...parts);
    const bad = (counts.failed || 0) + (counts.degraded || 0);
    document.title = (bad ? '⚠ ' + bad + ' unhealthy · ' : counts.deploying ? '⟳ deploying · ' : '') + 'bluegreen';
  }

  function renderFeed() {
    fill(byId('feed'), ...feed.map((ev) => {
      const t = parseTime(ev.at);
      return h('li', { class: 'ev ev-' + cls(String(ev.type || '').split('.')[0]) },
        h('time', { title: isNaN(t) ? '' : fmtWhen(t) }, isNaN(t) ? '' : fmtClock(t)),
        h('span', { class: 'ev-name' }, ev.app || 'supervisor'),
        h('span', { class: 'ev-type' }, String(ev.type || '')),
        h('span', { class: 'ev-msg' }, String(ev.message || '')));
    }));
  }

  function setConn(state) {
    const el = byId('conn');
    el.dataset.state = state;
    byId('conn-text').textContent = state === 'live' ? 'live' : state === 'connecting' ? 'connecting' : 'disconnected';
    for (const a of apps.values()) a.el.card.classList.toggle('stale', state === 'down');
    updateBanner();
  }

  function updateBanner() {
    const b = byId('banner');
    const down = !connected && retryTimer !== 0;
    b.hidden = !down;
    if (!down) return;
    const secs = Math.max(0, Math.ceil((retryAt - Date.now()) / 1000));
    byId('banner-text').textContent = 'Disconnected from bluegreen serve (' + (closeReason || 'connection lost') +
      '). ' + (secs > 0 ? 'Reconnecting in ' + secs + ' s…' : 'Reconnecting…') + ' What you see may be out of date.';
  }

  // ---------- actions ----------

  function errText(e) {
    if (e instanceof APIError) return (e.status ? e.status + ' ' : '') + (e.code ? e.code + ': ' : '') + e.message;
    return String((e && e.message) || e);
  }

  function showMsg(a, ok, text) {
    a.msg = { ok: ok, text: text, at: Date.now() };
    renderMsg(a);
  }

  async function act(a, run) {
    if (a.busy) return;
    a.busy = true;
    render(a);
    try {
      showMsg(a, true, await run());
      want(a, { status: true, history: true, health: true });
    } catch (e) {
      showMsg(a, false, errText(e));
    } finally {
      a.busy = false;
      render(a);
    }
  }

  // ---------- traffic control (pause, maintenance, resume) ----------

  const trafficMode = (t) => (t && (t.mode === 'paused' || t.mode === 'maintenance') ? t.mode : 'serving');

  // trafficBadge is the badge of a mode other than serving, or of requests
  // held while serving (the outage hold); null otherwise.
  function trafficBadge(t) {
    const mode = trafficMode(t);
    const held = Number(t && t.held) || 0;
    if (mode === 'serving' && !held) return null;
    const text = (mode === 'maintenance' ? 'in maintenance' : mode) + (held ? ' · ' + held + ' held' : '');
    return h('span', { class: 'badge traffic-badge traffic-' + mode, title: 'traffic mode: ' + mode }, text);
  }

  function renderTraffic(a) {
    const el = a.el;
    const t = (a.status && a.status.traffic) || {};
    const mode = trafficMode(t);
    el.card.dataset.traffic = mode;
    const since = t.since ? Date.parse(t.since) : NaN;
    const parts = [h('span', { class: 'k', text: 'traffic' }), h('b', { class: 'traffic-mode' }, mode)];
    if (mode !== 'serving' && !isNaN(since)) parts.push(' since ', ago(since));
    if (mode === 'paused') parts.push(' · max wait ' + fmtWait(t.max_wait_ms));
    if (mode === 'paused' || Number(t.held) > 0) parts.push(' · ', h('span', { class: 'traffic-held' }, String(Number(t.held) || 0)), ' held');
    if (mode === 'maintenance') parts.push(' · ', h('q', { class: 'traffic-message' }, String(t.message || '')));
    fill(el.traffic, ...parts);
    el.pause.disabled = a.busy;
    el.pause.title = mode === 'paused' ? 'change how long a request is held' : 'hold every new request until resume';
    el.maint.disabled = a.busy;
    el.maint.title = 'answer every new request with 503 and the maintenance page';
    el.resume.disabled = a.busy || mode === 'serving';
    el.resume.title = mode === 'serving' ? 'the app serves' : mode === 'paused' ? 'send the held requests, in order, and serve again' : 'end the maintenance';
  }

  async function doPause(a) {
    const t = (a.status && a.status.traffic) || {};
    const v = await confirmAction({
      title: 'Pause ' + a.name + '?',
      text: 'Hold every new request (WebSocket handshakes too) until you resume: none reaches a container. ' +
        'A request held longer than the max wait gets 503. Requests in flight finish; deployments go on.',
      details: [['app', a.name], ['traffic now', trafficMode(t)]],
      fields: [{ key: 'max_wait', label: 'max wait', value: t.mode === 'paused' ? fmtWait(t.max_wait_ms) : '30s', hint: '1s to 10m' }],
      ok: 'Pause',
      danger: true,
    });
    if (!v) return;
    act(a, async () => {
      const r = await post(appPath(a.name, '/pause'), { max_wait: v.max_wait });
      if (r && r.name) a.status = r;
      return 'Paused: new requests are held, each up to ' + fmtDur(Number(r && r.traffic && r.traffic.max_wait_ms)) + ', until Resume.';
    });
  }

  async function doMaintenance(a) {
    const t = (a.status && a.status.traffic) || {};
    const v = await confirmAction({
      title: 'Maintenance for ' + a.name + '?',
      text: 'Answer every new request with 503 and the maintenance page (JSON to API clients). Requests a pause holds get it too.',
      details: [['app', a.name], ['traffic now', trafficMode(t)]],
      fields: [
        { key: 'message', label: 'message', value: t.mode === 'maintenance' ? String(t.message || '') : '', hint: 'empty: the default message' },
        { key: 'retry_after', label: 'retry after', value: t.mode === 'maintenance' ? fmtWait(t.retry_after_ms) : '60s', hint: '1s to 24h' },
      ],
      ok: 'Start maintenance',
      danger: true,
    });
    if (!v) return;
    act(a, async () => {
      const r = await post(appPath(a.name, '/maintenance'), { message: v.message, retry_after: v.retry_after });
      if (r && r.name) a.status = r;
      return 'In maintenance: new requests get 503 with the message.';
    });
  }

  async function doResume(a) {
    const t = (a.status && a.status.traffic) || {};
    const ok = await confirmAction({
      title: 'Resume ' + a.name + '?',
      text: trafficMode(t) === 'paused' ? 'Send the held requests to the active color, in the order they came, and serve again.' : 'End the maintenance and serve again.',
      details: [['app', a.name], ['traffic now', trafficMode(t)], ['held', String(Number(t.held) || 0)]],
      ok: 'Resume',
    });
    if (!ok) return;
    act(a, async () => {
      const r = await post(appPath(a.name, '/resume'), {});
      if (r && r.name) a.status = r;
      return 'Resumed: ' + a.name + ' serves again.';
    });
  }

  // fmtWait writes milliseconds as a duration the API reads (90s, 2m).
  function fmtWait(ms) {
    const sec = Math.round((Number(ms) || 0) / 1000);
    return sec % 60 === 0 && sec >= 60 ? sec / 60 + 'm' : sec + 's';
  }

  function answerText(r, what) {
    if (!r) return what + ': done';
    if (r.status === 'unchanged') return 'Nothing to do: that image is already active and healthy (deployment #' + Number(r.deployment_id) + ').';
    if (r.status === 'queued') return what + ' queued as deployment #' + Number(r.deployment_id) + ': it starts when the running one ends.';
    if (r.status === 'rolling_back') return 'Rolling back deployment #' + Number(r.deployment_id) + ': all traffic is back on the old color.';
    return what + ' started: deployment #' + Number(r.deployment_id) + '.';
  }

  async function doDeploy(a) {
    const image = a.el.input.value.trim();
    const st = a.status || {};
    const ok = await confirmAction({
      title: 'Deploy ' + a.name + '?',
      text: image ? 'Start a deployment of this image. Traffic moves only after it passes its health checks.'
        : 'Redeploy the current image as a new deployment (applies changed container settings).',
      details: [['app', a.name], ['from', st.current_image || '–'], ['to', image || st.current_image || '–']],
      ok: 'Deploy',
    });
    if (!ok) return;
    act(a, async () => {
      const body = { trigger_source: 'manual' };
      if (image) body.desired_image = image;
      const r = await post(appPath(a.name, '/deploy'), body);
      delete a.el.input.dataset.edited;
      return answerText(r, 'Deployment');
    });
  }

  async function doRollback(a) {
    const st = a.status || {};
    const run = st.deployment;
    const inWindow = run && (run.status === 'canary' || run.status === 'verifying');
    const ok = await confirmAction({
      title: 'Roll back ' + a.name + '?',
      text: inWindow ? 'Take deployment #' + Number(run.deployment_id) + ' back: all traffic goes back to the old color now, and the new one is removed.'
        : 'Deploy the image of the last completed deployment before the current one.',
      details: [['app', a.name], ['current image', st.current_image || '–']],
      ok: 'Roll back',
      danger: true,
    });
    if (!ok) return;
    act(a, async () => answerText(await post(appPath(a.name, '/rollback'), {}), 'Rollback'));
  }

  async function doPromote(a, d) {
    const st = a.status || {};
    const v = d.verification || {};
    const ok = await confirmAction({
      title: 'Promote deployment #' + Number(d.deployment_id) + '?',
      text: 'Skip the rest of its canary steps and verification window: all traffic moves to the new color now, and the old one drains.',
      details: [['app', a.name], ['from', st.current_image || '–'], ['to', d.to_image || '–'],
        ['window', (Number(v.step) < 100 ? 'canary ' + Number(v.step) + '%' : 'verifying') + ', ' + (Number(v.requests) || 0) + ' requests, ' + (Number(v.errors) || 0) + ' errors']],
      ok: 'Promote',
    });
    if (!ok) return;
    act(a, async () => {
      const r = await post(appPath(a.name, '/promote'), {});
      if (r && r.name) a.status = r;
      return 'Promoted: deployment #' + Number(d.deployment_id) + ' moves all traffic to ' + (d.color || 'the new color') + '.';
    });
  }

  async function doSwitch(a) {
    const color = a.el.switch.dataset.color;
    const st = a.status || {};
    const c = st.containers && st.containers[color];
    const ok = await confirmAction({
      title: 'Switch ' + a.name + ' to ' + color + '?',
      text: 'Move traffic to the ' + color + ' container. It must pass its health checks first.',
      details: [['app', a.name], ['from', (st.active_color || 'none') + ' ' + (st.current_image || '')], ['to', color + ' ' + ((c && c.image) || '')]],
      ok: 'Switch to ' + color,
      danger: true,
    });
    if (!ok) return;
    act(a, async () => {
      const r = await post(appPath(a.name, '/switch'), { color: color });
      if (r && r.name) a.status = r;
      return 'Switched: ' + ((r && r.active_color) || color) + ' now takes the traffic.';
    });
  }

  // confirmAction shows the confirmation dialog and resolves false on
  // cancel, else true, or with o.fields the values typed ({key: value}).
  function confirmAction(o) {
    const dlg = byId('confirm');
    if (dlg.open) return Promise.resolve(false); // one question at a time
    byId('confirm-title').textContent = o.title;
    byId('confirm-text').textContent = o.text;
    fill(byId('confirm-details'), ...o.details.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, h('code', {}, v))]));
    const inputs = {};
    fill(byId('confirm-fields'), ...(o.fields || []).map((f) => {
      inputs[f.key] = h('input', { type: 'text', name: f.key, spellcheck: 'false', autocomplete: 'off', value: f.value || '', placeholder: f.hint || '' });
      return h('label', { class: 'field' }, h('span', {}, f.label), inputs[f.key], f.hint ? h('small', { class: 'muted' }, f.hint) : null);
    }));
    const okBtn = byId('confirm-ok');
    okBtn.textContent = o.ok;
    okBtn.className = 'btn ' + (o.danger ? 'danger' : 'primary');
    return new Promise((resolve) => {
      const done = (v) => {
        okBtn.removeEventListener('click', yes);
        byId('confirm-cancel').removeEventListener('click', no);
        dlg.removeEventListener('close', no);
        if (dlg.open) dlg.close();
        if (v && o.fields) {
          const vals = {};
          for (const [k, el] of Object.entries(inputs)) vals[k] = el.value.trim();
          resolve(vals);
          return;
        }
        resolve(v);
      };
      const yes = () => done(true);
      const no = () => done(false);
      okBtn.addEventListener('click', yes);
      byId('confirm-cancel').addEventListener('click', no);
      dlg.addEventListener('close', no);
      dlg.showModal();
      (o.fields && o.fields.length ? inputs[o.fields[0].key] : okBtn).focus();
    });
  }

  // ---------- icons (inline SVG) ----------

  function icon(d) {
    return s('svg', { class: 'icon', viewBox: '0 0 24 24', 'aria-hidden': 'true' }, s('path', { d: d }));
  }
  const iconDeploy = () => icon('M12 3 5 10l1.4 1.4L11 6.8V17h2V6.8l4.6 4.6L19 10l-7-7zM5 19h14v2H5z');
  const iconBack = () => icon('M12 5V2L7 6l5 4V7a6 6 0 1 1-6 6H4a8 8 0 1 0 8-8z');
  const iconPause = () => icon('M7 5h4v14H7zm6 0h4v14h-4z');
  const iconMaint = () => icon('M22.7 19 13.6 9.9c.9-2.3.4-5-1.5-6.9-2-2-5-2.4-7.4-1.3L9 6 6 9 1.6 4.7C.4 7.1.9 10.1 2.9 12.1c1.9 1.9 4.6 2.4 6.9 1.5l9.1 9.1c.4.4 1 .4 1.4 0l2.3-2.3c.5-.4.5-1.1.1-1.4z');
  const iconResume = () => icon('M8 5v14l11-7z');
  const iconSwitch = () => icon('M7 7h11l-3-3 1.4-1.4L22 8l-5.6 5.4L15 12l3-3H7V7zm10 10H6l3 3-1.4 1.4L2 16l5.6-5.4L9 12l-3 3h11v2z');

  // ---------- start ----------

  function tick() {
    for (const el of document.querySelectorAll('.elapsed')) el.textContent = fmtDur(now() - Number(el.dataset.start));
    for (const el of document.querySelectorAll('time.ago')) el.textContent = fmtAgo(Number(el.dataset.at));
    updateBanner();
  }

  byId('banner-retry').addEventListener('click', () => {
    retryMs = RETRY_MIN_MS;
    connect();
  });
  document.addEventListener('visibilitychange', () => { if (!document.hidden) poll(); });
  setInterval(tick, 1000);
  setInterval(poll, POLL_MS);
  loadAll(false).catch(noteTrouble); // first data without waiting for the socket
  connect();
})();
