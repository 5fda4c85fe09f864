// A Node program's own test suite (node:test), run by test_transparency.py
// plainly and under uvdb: the same tests must pass with the probe preloaded.
// It exercises the loop broadly (timers, the microtask and tick queues, fs on
// the thread pool, loopback TCP, dns, crypto, zlib, streams, a worker, a child
// process, AbortController). Run it directly, `node FILE` (node:test runs in
// this process and prints TAP), not `node --test` (a child per file).
// Deterministic: only orderings Node guarantees are asserted, loopback only,
// every test bounded by TIMEOUT.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import dns from 'node:dns';
import { once } from 'node:events';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep, setImmediate as immediate } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import zlib from 'node:zlib';

// Generous: each test takes milliseconds; this only turns a hang into a
// failure (under ASan-built tools or a loaded CI machine too).
const TIMEOUT = { timeout: 20000 };

// A macrotask context for ordering tests: the test function itself runs
// inside a promise job, where a new promise job runs before process.nextTick
// callbacks; from a callback of the loop, Node's documented order holds.
function fromImmediate(fn) {
  return new Promise((resolve, reject) => setImmediate(() => fn(resolve, reject)));
}

describe('timers', () => {
  test('setTimeout callbacks fire in order of their delays', TIMEOUT, async () => {
    const order = [];
    await new Promise((resolve) => {
      setTimeout(() => { order.push(30); resolve(); }, 30);
      setTimeout(() => order.push(0), 0);
      setTimeout(() => order.push(15), 15);
    });
    assert.deepEqual(order, [0, 15, 30]);
  });

  test('timers with the same delay fire in the order they were set', TIMEOUT, async () => {
    const order = [];
    await new Promise((resolve) => {
      for (let i = 0; i < 5; i++) setTimeout(() => order.push(i), 5);
      setTimeout(resolve, 5);
    });
    assert.deepEqual(order, [0, 1, 2, 3, 4]);
  });

  test('setInterval repeats until clearInterval', TIMEOUT, async () => {
    let ticks = 0;
    await new Promise((resolve) => {
      const t = setInterval(() => {
        if (++ticks === 4) { clearInterval(t); setTimeout(resolve, 20); }
      }, 2);
    });
    assert.equal(ticks, 4);
  });

  test('clearTimeout cancels a pending timer', TIMEOUT, async () => {
    let fired = false;
    const t = setTimeout(() => { fired = true; }, 5);
    clearTimeout(t);
    await sleep(20);
    assert.equal(fired, false);
  });

  test('timeout.refresh() restarts the timer', TIMEOUT, async () => {
    // Due at 30 ms, refreshed at 20 ms: due at 50 ms or later, after the
    // marker due at 40 ms.  Only due times on the loop's clock are compared
    // (a wall clock read can be a millisecond off the loop's cached time).
    const order = [];
    await new Promise((resolve) => {
      const t = setTimeout(() => { order.push('refreshed'); resolve(); }, 30);
      setTimeout(() => t.refresh(), 20);
      setTimeout(() => order.push('marker'), 40);
    });
    assert.deepEqual(order, ['marker', 'refreshed']);
  });

  test('timers/promises setTimeout resolves with its value', TIMEOUT, async () => {
    assert.equal(await sleep(1, 'value'), 'value');
  });
});

describe('ordering of queues', () => {
  test('nextTick before promise jobs before setImmediate, from a loop callback', TIMEOUT, async () => {
    const order = await fromImmediate((resolve) => {
      const seen = [];
      setImmediate(() => { seen.push('immediate'); resolve(seen); });
      Promise.resolve().then(() => seen.push('promise'));
      queueMicrotask(() => seen.push('microtask'));
      process.nextTick(() => seen.push('tick'));
      seen.push('sync');
    });
    assert.deepEqual(order, ['sync', 'tick', 'promise', 'microtask', 'immediate']);
  });

  test('a nextTick queued by a nextTick runs before promise jobs', TIMEOUT, async () => {
    const order = await fromImmediate((resolve) => {
      const seen = [];
      Promise.resolve().then(() => { seen.push('promise'); resolve(seen); });
      process.nextTick(() => { seen.push('tick1'); process.nextTick(() => seen.push('tick2')); });
    });
    assert.deepEqual(order, ['tick1', 'tick2', 'promise']);
  });

  test('from an I/O callback, setImmediate runs before setTimeout 0', TIMEOUT, async () => {
    const order = await new Promise((resolve, reject) => {
      fs.stat(os.tmpdir(), (err) => {
        if (err) return reject(err);
        const seen = [];
        setTimeout(() => { seen.push('timeout'); resolve(seen); }, 0);
        setImmediate(() => seen.push('immediate'));
      });
    });
    assert.deepEqual(order, ['immediate', 'timeout']);
  });

  test('an immediate queued by an immediate runs in the next iteration', TIMEOUT, async () => {
    const order = await fromImmediate((resolve) => {
      const seen = [];
      setImmediate(() => { seen.push('a'); setImmediate(() => { seen.push('c'); resolve(seen); }); });
      setImmediate(() => seen.push('b'));
    });
    assert.deepEqual(order, ['a', 'b', 'c']);
  });

  test('await resumes in promise job order', TIMEOUT, async () => {
    const seen = [];
    const a = (async () => { seen.push('a1'); await null; seen.push('a2'); })();
    const b = (async () => { seen.push('b1'); await null; seen.push('b2'); })();
    await Promise.all([a, b]);
    assert.deepEqual(seen, ['a1', 'b1', 'a2', 'b2']);
  });
});

describe('fs', () => {
  let dir;
  before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'uvdb-node-suite-')); });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('promises: writeFile, readFile, appendFile', TIMEOUT, async () => {
    const f = path.join(dir, 'a.txt');
    await fsp.writeFile(f, 'hello ');
    await fsp.appendFile(f, 'world');
    assert.equal(await fsp.readFile(f, 'utf8'), 'hello world');
  });

  test('callbacks: write, stat, read', TIMEOUT, async () => {
    const f = path.join(dir, 'b.bin');
    const data = Buffer.alloc(10000, 7);
    await promisify(fs.writeFile)(f, data);
    const st = await promisify(fs.stat)(f);
    assert.equal(st.size, 10000);
    assert.ok(st.isFile());
    const back = await new Promise((resolve, reject) => fs.readFile(f, (e, b) => (e ? reject(e) : resolve(b))));
    assert.ok(back.equals(data));
  });

  test('FileHandle: open, write at a position, read back', TIMEOUT, async () => {
    const fh = await fsp.open(path.join(dir, 'c.bin'), 'w+');
    try {
      await fh.write(Buffer.from('abcdef'), 0, 6, 0);
      await fh.write(Buffer.from('XY'), 0, 2, 2);
      const buf = Buffer.alloc(6);
      const { bytesRead } = await fh.read(buf, 0, 6, 0);
      assert.equal(bytesRead, 6);
      assert.equal(buf.toString(), 'abXYef');
      assert.equal((await fh.stat()).size, 6);
    } finally {
      await fh.close();
    }
  });

  test('mkdir and readdir list what was created', TIMEOUT, async () => {
    const sub = path.join(dir, 'sub');
    await fsp.mkdir(path.join(sub, 'deep'), { recursive: true });
    await Promise.all(['z', 'm', 'a'].map((n) => fsp.writeFile(path.join(sub, n), n)));
    assert.deepEqual((await fsp.readdir(sub)).sort(), ['a', 'deep', 'm', 'z']);
    const entries = await fsp.readdir(sub, { withFileTypes: true });
    assert.deepEqual(entries.filter((e) => e.isDirectory()).map((e) => e.name), ['deep']);
  });

  test('many reads at once on the thread pool', TIMEOUT, async () => {
    const files = Array.from({ length: 32 }, (_, i) => path.join(dir, `many-${i}`));
    await Promise.all(files.map((f, i) => fsp.writeFile(f, String(i))));
    const back = await Promise.all(files.map((f) => fsp.readFile(f, 'utf8')));
    assert.deepEqual(back, files.map((_, i) => String(i)));
  });

  test('a missing file fails with ENOENT', TIMEOUT, async () => {
    await assert.rejects(fsp.readFile(path.join(dir, 'missing')), { code: 'ENOENT' });
    const err = await new Promise((resolve) => fs.stat(path.join(dir, 'missing'), resolve));
    assert.equal(err.code, 'ENOENT');
  });

  test('rename and unlink', TIMEOUT, async () => {
    const a = path.join(dir, 'r1'), b = path.join(dir, 'r2');
    await fsp.writeFile(a, 'x');
    await fsp.rename(a, b);
    await assert.rejects(fsp.access(a), { code: 'ENOENT' });
    await fsp.unlink(b);
    await assert.rejects(fsp.access(b), { code: 'ENOENT' });
  });
});

describe('net', () => {
  // An echo server on loopback, port chosen by the kernel.
  async function echoServer() {
    const server = net.createServer((sock) => sock.pipe(sock));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return server;
  }

  async function exchange(port, message) {
    const sock = net.connect(port, '127.0.0.1');
    await once(sock, 'connect');
    const chunks = [];
    sock.on('data', (c) => chunks.push(c));
    sock.end(message);
    await once(sock, 'close');
    return Buffer.concat(chunks).toString();
  }

  test('a loopback TCP client gets its bytes echoed', TIMEOUT, async () => {
    const server = await echoServer();
    try {
      assert.equal(await exchange(server.address().port, 'hello over tcp'), 'hello over tcp');
    } finally {
      server.close();
      await once(server, 'close');
    }
  });

  test('eight concurrent connections each get their own bytes', TIMEOUT, async () => {
    const server = await echoServer();
    try {
      const { port } = server.address();
      const msgs = Array.from({ length: 8 }, (_, i) => `client ${i} `.repeat(100 + i));
      assert.deepEqual(await Promise.all(msgs.map((m) => exchange(port, m))), msgs);
    } finally {
      server.close();
      await once(server, 'close');
    }
  });

  test('a large transfer arrives whole', TIMEOUT, async () => {
    const server = await echoServer();
    try {
      const big = crypto.createHash('sha256').update('seed').digest().toString('hex').repeat(16384); // 1 MiB
      assert.equal(await exchange(server.address().port, big), big);
    } finally {
      server.close();
      await once(server, 'close');
    }
  });

  test('connecting to a closed port fails with ECONNREFUSED', TIMEOUT, async () => {
    const server = await echoServer();
    const { port } = server.address();
    server.close();
    await once(server, 'close');
    const sock = net.connect(port, '127.0.0.1');
    const [err] = await once(sock, 'error').catch((e) => [e]);
    assert.equal(err.code, 'ECONNREFUSED');
  });
});

describe('dns', () => {
  test('lookup of localhost gives 127.0.0.1', TIMEOUT, async () => {
    const { address, family } = await new Promise((resolve, reject) =>
      dns.lookup('localhost', { family: 4 }, (e, address, family) => (e ? reject(e) : resolve({ address, family }))));
    assert.equal(address, '127.0.0.1');
    assert.equal(family, 4);
  });

  test('promises lookup with all: true includes 127.0.0.1', TIMEOUT, async () => {
    const all = await dns.promises.lookup('localhost', { all: true });
    assert.ok(all.some((a) => a.address === '127.0.0.1' && a.family === 4), JSON.stringify(all));
  });
});

describe('crypto', () => {
  test('pbkdf2 matches RFC 6070 (2 iterations)', TIMEOUT, async () => {
    const key = await promisify(crypto.pbkdf2)('password', 'salt', 2, 20, 'sha1');
    assert.equal(key.toString('hex'), 'ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957');
  });

  test('several pbkdf2 jobs at once all finish', TIMEOUT, async () => {
    const keys = await Promise.all(Array.from({ length: 6 }, (_, i) =>
      promisify(crypto.pbkdf2)('password', `salt${i}`, 1000, 32, 'sha256')));
    assert.equal(new Set(keys.map((k) => k.toString('hex'))).size, 6);
    for (const [i, k] of keys.entries()) {
      assert.ok(k.equals(crypto.pbkdf2Sync('password', `salt${i}`, 1000, 32, 'sha256')));
    }
  });

  test('randomBytes gives the length asked, different each time', TIMEOUT, async () => {
    const a = await promisify(crypto.randomBytes)(32);
    const b = await promisify(crypto.randomBytes)(32);
    assert.equal(a.length, 32);
    assert.equal(b.length, 32);
    assert.notDeepEqual(a, b);
  });

  test('webcrypto digest of "abc" is the SHA-256 test vector', TIMEOUT, async () => {
    const d = await crypto.webcrypto.subtle.digest('SHA-256', new TextEncoder().encode('abc'));
    assert.equal(Buffer.from(d).toString('hex'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});

describe('zlib', () => {
  test('gzip then gunzip gives back the input', TIMEOUT, async () => {
    const input = Buffer.from('the event loop turns '.repeat(5000));
    const gz = await promisify(zlib.gzip)(input);
    assert.ok(gz.length < input.length / 10);
    assert.ok((await promisify(zlib.gunzip)(gz)).equals(input));
  });

  test('a gzip stream piped into a gunzip stream round-trips 1 MiB', TIMEOUT, async () => {
    const input = crypto.createHash('sha512').update('x').digest().toString('hex').repeat(8192); // 1 MiB
    const out = [];
    await pipeline(Readable.from([input.slice(0, 300000), input.slice(300000)]), zlib.createGzip(),
      zlib.createGunzip(), new Writable({ write(c, _e, cb) { out.push(c); cb(); } }));
    assert.equal(Buffer.concat(out).toString(), input);
  });
});

describe('streams', () => {
  test('a slow writable applies backpressure and drains', TIMEOUT, async () => {
    const got = [];
    const sink = new Writable({
      highWaterMark: 64,
      write(chunk, _enc, cb) { got.push(chunk.toString()); setImmediate(cb); },
    });
    let refused = 0, drains = 0;
    sink.on('drain', () => drains++);
    for (let i = 0; i < 50; i++) {
      if (!sink.write(`chunk-${String(i).padStart(3, '0')}-`.padEnd(40, '.'))) {
        refused++;
        await once(sink, 'drain');
      }
    }
    sink.end();
    await once(sink, 'finish');
    assert.ok(refused > 0, 'write() never returned false');
    assert.equal(drains, refused);
    assert.equal(got.length, 50);
    assert.equal(got[49].slice(0, 10), 'chunk-049-');
  });

  test('pipeline through a transform keeps order', TIMEOUT, async () => {
    async function* numbers() { for (let i = 0; i < 200; i++) { if (i % 50 === 0) await immediate(); yield i; } }
    const out = [];
    await pipeline(numbers, new Transform({
      objectMode: true,
      transform(n, _e, cb) { setImmediate(() => cb(null, n * 2)); },
    }), new Writable({ objectMode: true, highWaterMark: 2, write(n, _e, cb) { out.push(n); cb(); } }));
    assert.deepEqual(out, Array.from({ length: 200 }, (_, i) => i * 2));
  });

  test('a file read stream with a small buffer copies a file', TIMEOUT, async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'uvdb-node-stream-'));
    try {
      const src = path.join(dir, 'src'), dst = path.join(dir, 'dst');
      const data = Buffer.from(Array.from({ length: 200000 }, (_, i) => i % 251));
      await fsp.writeFile(src, data);
      await pipeline(fs.createReadStream(src, { highWaterMark: 4096 }), fs.createWriteStream(dst));
      assert.ok((await fsp.readFile(dst)).equals(data));
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });
});

describe('worker_threads', () => {
  test('a worker echoes a message and exits 0', TIMEOUT, async () => {
    const w = new Worker(`
      const { parentPort } = require('node:worker_threads');
      parentPort.once('message', (m) => { parentPort.postMessage('echo: ' + m); parentPort.close(); });
    `, { eval: true });
    const exited = once(w, 'exit');
    w.postMessage('ping');
    const [reply] = await once(w, 'message');
    assert.equal(reply, 'echo: ping');
    const [code] = await exited;
    assert.equal(code, 0);
  });
});

describe('child_process', () => {
  test('execFile of /bin/echo returns its output', TIMEOUT, async () => {
    const { stdout, stderr } = await promisify(execFile)('/bin/echo', ['hello', 'from', 'echo']);
    assert.equal(stdout, 'hello from echo\n');
    assert.equal(stderr, '');
  });

  test('execFile of /bin/false fails with exit code 1', TIMEOUT, async () => {
    await assert.rejects(promisify(execFile)('/bin/false'), { code: 1 });
  });
});

describe('AbortController', () => {
  test('aborting a timers/promises setTimeout rejects with AbortError', TIMEOUT, async () => {
    const ac = new AbortController();
    const p = sleep(10000, 'late', { signal: ac.signal });
    setTimeout(() => ac.abort(), 5);
    await assert.rejects(p, { name: 'AbortError' });
  });

  test('AbortSignal.timeout aborts a long wait', TIMEOUT, async () => {
    await assert.rejects(sleep(10000, 'late', { signal: AbortSignal.timeout(10) }), { name: 'AbortError' });
  });

  test('an already aborted signal rejects at once, the callback never runs', TIMEOUT, async () => {
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(sleep(1, 'x', { signal: ac.signal }), { name: 'AbortError' });
    let ran = false;
    const t = setTimeout(() => { ran = true; }, 5);
    const ac2 = new AbortController();
    ac2.signal.addEventListener('abort', () => clearTimeout(t));
    ac2.abort();
    await sleep(20);
    assert.equal(ran, false);
  });
});
