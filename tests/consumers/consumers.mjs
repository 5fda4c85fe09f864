// Opens one of uvdb's exports in its real consumer (speedscope in headless
// Chromium, the SVG flamegraph in Chromium, pprof-format) and prints what
// the consumer shows as one JSON object; test_consumers.py judges it.
//   node consumers.mjs speedscope FILE
//   node consumers.mjs svg FILE ZOOM_FRAME SEARCH_TEXT...
//   node consumers.mjs pprof FILE
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import zlib from 'node:zlib';

import { Profile } from 'pprof-format';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SPEEDSCOPE = path.join(HERE, 'node_modules', 'speedscope', 'dist', 'release');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
// Generous: a hang fails the test instead of blocking CI, and a slow, busy
// two-core machine still passes.
const STEP_MS = 60000;

function withTimeout(promise, what) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer in ${STEP_MS / 1000} s`)), STEP_MS);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

// Everything the page says on its own: a consumer that rejects a file
// says so in one of these, not by throwing into this script.  A prompt
// gets reply()'s text (null: cancelled), any other dialog is dismissed.
function watch(page, reply = () => null) {
  const seen = { page_errors: [], console: [], dialogs: [] };
  page.on('pageerror', (e) => seen.page_errors.push(String(e.message || e)));
  page.on('console', (m) => seen.console.push({ type: m.type(), text: m.text() }));
  page.on('dialog', (d) => {
    seen.dialogs.push({ type: d.type(), message: d.message() });
    const text = d.type() === 'prompt' ? reply() : null;
    (text === null ? d.dismiss() : d.accept(text)).catch(() => {});
  });
  return seen;
}

async function launch() {
  return withTimeout(chromium.launch({ executablePath: CHROMIUM, timeout: STEP_MS }), 'launching Chromium');
}

// page.evaluate has no timeout of its own.
function evaluate(page, fn, arg) {
  return withTimeout(page.evaluate(fn, arg), 'reading the page');
}

// ---- pprof ----

// The profile as pprof-format decodes it, summed per function name the
// way a pprof viewer does: flat (leaf) and cumulative (once per sample).
function pprof(file) {
  const p = Profile.decode(zlib.gunzipSync(fs.readFileSync(file)));
  const str = (i) => p.stringTable.strings[Number(i)];
  const locations = new Map(p.location.map((l) => [Number(l.id), l]));
  const functions = new Map(p.function.map((f) => [Number(f.id), f]));
  const undefinedIds = [];
  const byName = {};
  let samples = 0;
  for (const s of p.sample) {
    const n = Number(s.value[0]);
    samples += n;
    const names = [];
    for (const id of s.locationId) {
      const loc = locations.get(Number(id));
      if (!loc) {
        undefinedIds.push(`location ${id}`);
        continue;
      }
      for (const line of loc.line) {
        const fn = functions.get(Number(line.functionId));
        if (!fn) undefinedIds.push(`function ${line.functionId}`);
        else names.push(str(fn.name));
      }
    }
    names.forEach((name, i) => {
      const f = (byName[name] ||= { self: 0, total: 0 });
      if (i === 0) f.self += n; // leaf first
    });
    for (const name of new Set(names)) byName[name].total += n;
  }
  return {
    sample_types: p.sampleType.map((t) => [str(t.type), str(t.unit)]),
    period_type: p.periodType ? [str(p.periodType.type), str(p.periodType.unit)] : null,
    period: Number(p.period),
    samples,
    sample_values: p.sample.map((s) => s.value.map(Number)),
    functions: byName,
    undefined_ids: undefinedIds,
  };
}

// ---- speedscope ----

// speedscope's built files and the one exported file, on loopback only.
async function serve(file) {
  const name = path.basename(file);
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://127.0.0.1');
    let target = null;
    if (url.pathname === `/data/${encodeURIComponent(name)}`) {
      target = file;
    } else {
      const p = path.resolve(SPEEDSCOPE, '.' + decodeURIComponent(url.pathname));
      if (p.startsWith(SPEEDSCOPE + path.sep)) target = p;
    }
    if (!target) {
      res.writeHead(404).end();
      return;
    }
    fs.readFile(target, (err, data) => {
      if (err) {
        res.writeHead(404).end();
        return;
      }
      const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm' };
      res.writeHead(200, { 'Content-Type': types[path.extname(target)] || 'application/octet-stream' }).end(data);
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const base = `http://127.0.0.1:${server.address().port}`;
  return { server, page: `${base}/index.html`, data: `${base}/data/${encodeURIComponent(name)}` };
}

// In the page: the toolbar's title, the active profile's name followed by
// "(i/n)" when the file holds several.  The toolbar is the element that
// holds the view tabs and the Export button; the title is its second line.
const TITLE = () => {
  let bar = [...document.querySelectorAll('div')].find((d) => d.textContent.endsWith('Sandwich') &&
    d.children.length <= 2);
  while (bar && !bar.textContent.includes('Export')) bar = bar.parentElement;
  return bar ? bar.innerText.split('\n').map((l) => l.trim()).filter(Boolean)[1] || '' : '';
};

// The sandwich view's table (one row per frame: total, self, name), read
// whole: it is a virtual list, so it is scrolled a screen at a time and
// each row kept by its position.
async function sandwichTable(page) {
  const rows = new Map();
  for (let screen = 0; ; screen++) {
    const got = await evaluate(page, async (screenNo) => {
      const th = [...document.querySelectorAll('th')].find((t) => t.textContent.includes('Symbol Name'));
      if (!th) return null;
      const view = th.closest('table').parentElement;
      const scroller = [...view.querySelectorAll('div')].find((d) =>
        ['auto', 'scroll'].includes(getComputedStyle(d).overflowY));
      scroller.scrollTop = screenNo * scroller.clientHeight;
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
      const list = scroller.firstElementChild.getBoundingClientRect();
      const out = [];
      for (const tr of scroller.querySelectorAll('tr')) {
        const td = tr.querySelectorAll('td');
        if (td.length !== 3) continue;
        const box = tr.getBoundingClientRect();
        out.push({
          index: Math.round((box.top - list.top) / box.height),
          total: td[0].firstChild.textContent.trim(),
          self: td[1].firstChild.textContent.trim(),
          name: td[2].textContent,
        });
      }
      // the last screen, or a list that cannot scroll: the loop ends either way
      const h = scroller.clientHeight;
      return { rows: out, done: !h || (screenNo + 1) * h >= scroller.scrollHeight - 1 };
    }, screen);
    if (!got) throw new Error('speedscope shows no sandwich table');
    for (const r of got.rows) rows.set(r.index, { total: r.total, self: r.self, name: r.name });
    if (got.done) break;
  }
  return [...rows.keys()].sort((a, b) => a - b).map((i) => rows.get(i));
}

// Loads FILE as a person would (speedscope's page with #profileURL=), then
// reads, for each profile in it, its name and its sandwich table.
async function speedscope(file) {
  const site = await serve(file);
  const browser = await launch();
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 }, locale: 'en-US' });
    page.setDefaultTimeout(STEP_MS);
    const seen = watch(page);
    await withTimeout(page.goto(`${site.page}#profileURL=${encodeURIComponent(site.data)}`), 'opening speedscope');
    // speedscope sets the title once the profile is imported; a failed
    // import shows an error or an alert instead, and so ends the wait too.
    await page.waitForFunction(() => document.title.endsWith(' - speedscope') ||
      document.body.innerText.includes('Something went wrong'), null, { timeout: STEP_MS });
    const result = {
      title: await withTimeout(page.title(), 'reading the title'),
      body: (await evaluate(page, () => document.body.innerText)).slice(0, 2000),
      profiles: [],
      ...seen,
    };
    if (!result.title.endsWith(' - speedscope') || seen.dialogs.length) return result;
    await page.getByText('Sandwich', { exact: false }).first().click();
    let title = await evaluate(page, TITLE);
    const count = Number((/\((\d+)\/(\d+)\)$/.exec(title) || [0, 1, 1])[2]);
    for (let i = 0; i < count; i++) {
      if (i > 0) {
        const before = title;
        await page.keyboard.press('n'); // speedscope's key for the next profile
        await page.waitForFunction(`(${TITLE})() !== ${JSON.stringify(before)}`, null, { timeout: STEP_MS });
        title = await evaluate(page, TITLE);
      }
      result.profiles.push({ name: title.replace(/ \(\d+\/\d+\)$/, ''), table: await sandwichTable(page) });
    }
    return result;
  } finally {
    await withTimeout(browser.close(), 'closing Chromium');
    site.server.closeAllConnections();
    site.server.close();
  }
}

// ---- the SVG flamegraph ----

// Every frame as Chromium lays it out: its tooltip, its rendered box, its
// label, its fill, whether it is shown.
async function frames(page) {
  return evaluate(page, () => [...document.querySelectorAll('g.f')].map((g) => {
    const r = g.querySelector('rect');
    const box = r.getBoundingClientRect();
    return {
      title: g.querySelector('title').textContent,
      depth: Number(g.getAttribute('data-d')),
      shown: getComputedStyle(g).display !== 'none',
      x: box.x,
      width: box.width,
      label: g.querySelector('text').textContent,
      fill: r.getAttribute('fill'),
    };
  }));
}

// Opens the SVG file itself, then uses it: hovers and clicks ZOOM_FRAME
// (the first frame of that name), clicks the root to zoom out, zooms
// again and clicks [reset zoom], then searches each SEARCH_TEXT.
async function svg(file, zoom, searches) {
  const browser = await launch();
  try {
    const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
    page.setDefaultTimeout(STEP_MS);
    let answer = null;
    const seen = watch(page, () => answer);
    await withTimeout(page.goto(pathToFileURL(file).href, { waitUntil: 'load' }), 'opening the SVG');
    const result = { ...seen, heading: await page.locator('svg > text').first().textContent() };
    result.frames = await frames(page);
    const all = await page.locator('g.f').all();
    const names = result.frames.map((f) => f.title.slice(0, f.title.lastIndexOf(' (')));
    const at = names.indexOf(zoom);
    if (at < 0) return result;
    const target = all[at];
    await target.hover();
    result.hover_stroke = await target.locator('rect').evaluate((r) => getComputedStyle(r).stroke, null,
      { timeout: STEP_MS });
    await target.click();
    result.zoomed = await frames(page);
    await all[0].click(); // the root: a click on a lower frame zooms out
    result.zoomed_out = await frames(page);
    await target.click();
    await page.getByText('[reset zoom]').click();
    result.reset = await frames(page);
    result.searched = {};
    for (const text of searches) {
      answer = text;
      await page.getByText('[search]').click();
      result.searched[text] = await frames(page);
    }
    return result;
  } finally {
    await withTimeout(browser.close(), 'closing Chromium');
  }
}

const [what, file, ...rest] = process.argv.slice(2);
let out;
if (what === 'pprof') out = pprof(file);
else if (what === 'speedscope') out = await speedscope(file);
else if (what === 'svg') out = await svg(file, rest[0], rest.slice(1));
else {
  console.error('usage: consumers.mjs speedscope|svg|pprof FILE [ZOOM_FRAME SEARCH_TEXT...]');
  process.exit(2);
}
process.stdout.write(JSON.stringify(out) + '\n');
