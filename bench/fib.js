// CPU-bound work in timer callbacks, for the profiler's cost: a recursive
// fib(DEPTH) per callback, callbacks back to back for SECONDS (argv[2]),
// then "fib_calls=N seconds=S calls_per_s=R" (the throughput compared).
'use strict';
const seconds = Number(process.argv[2] || 5);
const depth = Number(process.argv[3] || 24);
if (!(seconds > 0) || !(depth >= 1 && depth <= 40)) {
  console.error('usage: fib.js SECONDS [DEPTH 1..40]');
  process.exit(2);
}
function fib(n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}
let calls = 0, sink = 0;
const start = process.hrtime.bigint();
function tick() {
  sink += fib(depth);
  calls++;
  const s = Number(process.hrtime.bigint() - start) / 1e9;
  if (s < seconds) setTimeout(tick, 0);
  else console.log(`fib_calls=${calls} seconds=${s.toFixed(3)} calls_per_s=${(calls / s).toFixed(1)} sink=${sink % 7}`);
}
setTimeout(tick, 0);
