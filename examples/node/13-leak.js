// Chapter 13: a leak that grows.  A "cache" of sessions keyed by id gets
// 20 000 new entries every 10 ms and never forgets one, so the old
// generation grows by a few megabytes a tick: V8 scavenges the young
// generation often, and marks and compacts the whole heap more and more
// rarely and more and more slowly, each time with more to keep.
'use strict';
const TICKS = Number(process.argv[2] || 60);
const cache = new Map();
let next = 0;
let ticks = 0;

const timer = setInterval(() => {
  for (let i = 0; i < 20000; i++, next++)
    cache.set(next, { id: next, user: 'user' + next, seen: [next, next + 1] });
  if (++ticks === TICKS) {
    clearInterval(timer);
    const mb = process.memoryUsage().heapUsed / 1048576;
    console.log(`${cache.size} sessions cached, heap used ${mb.toFixed(0)} MB`);
  }
}, 10);
