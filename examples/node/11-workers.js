// Chapter 11: worker threads.  A pool of 3 Workers, each a thread of its own
// with its own event loop, shares the CPU work of finding the primes below a
// bound: the main thread posts each worker a range by message, the worker
// counts the primes in it and posts the count back.  A SharedArrayBuffer
// holds one counter all threads add to with Atomics, and a tick counter each
// worker's timer bumps.
'use strict';
const { Worker, isMainThread, parentPort, workerData } = require('worker_threads');

const WORKERS = 3;
const ROUNDS = Number(process.argv[2] || 6); // ranges per worker
const SPAN = 200000;
const SLICE = 10000; // numbers a worker tests per turn of its loop

function countPrimes(from, to) {
  let n = 0;
  for (let i = Math.max(from, 2); i < to; i++) {
    let prime = true;
    for (let d = 2; d * d <= i; d++)
      if (i % d === 0) { prime = false; break; }
    if (prime) n++;
  }
  return n;
}

if (isMainThread) {
  const shared = new SharedArrayBuffer(8 * Int32Array.BYTES_PER_ELEMENT);
  const counters = new Int32Array(shared); // [0]: ranges done, [1 + i]: worker i's ticks
  let next = 0, total = 0, done = 0;
  const workers = [];
  const give = (w) => {
    if (next >= WORKERS * ROUNDS) return w.postMessage({ stop: true });
    w.postMessage({ from: next * SPAN, to: (next + 1) * SPAN });
    next++;
  };
  for (let i = 0; i < WORKERS; i++) {
    const w = new Worker(__filename, { workerData: { shared, index: i }, name: `primes-${i}` });
    w.on('message', (m) => {
      total += m.primes;
      give(w);
    });
    w.on('exit', () => {
      if (++done === WORKERS)
        console.log(`${total} primes below ${WORKERS * ROUNDS * SPAN}, ` +
                    `${Atomics.load(counters, 0)} ranges counted by ${WORKERS} workers`);
    });
    workers.push(w);
    give(w);
  }
} else {
  const counters = new Int32Array(workerData.shared);
  const tick = setInterval(() => Atomics.add(counters, 1 + workerData.index, 1), 1);
  parentPort.on('message', (m) => {
    if (m.stop) {
      clearInterval(tick);
      return parentPort.close();
    }
    // The range is counted in slices, one per turn of the worker's loop
    // (setImmediate), so that its loop keeps turning while it works.
    let primes = 0;
    const slice = (from) => {
      const to = Math.min(from + SLICE, m.to);
      primes += countPrimes(from, to);
      if (to < m.to) return setImmediate(slice, to);
      Atomics.add(counters, 0, 1);
      parentPort.postMessage({ primes });
    };
    setImmediate(slice, m.from);
  });
}
