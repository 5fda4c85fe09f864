// A loop-bound Node program: N setImmediate turns (argv[2], default 1M),
// each one loop iteration.  Prints the nanoseconds per turn measured inside.
'use strict';
const target = Number(process.argv[2] || 1000000);
let turns = 0;
const t0 = process.hrtime.bigint();
(function turn() {
  if (++turns < target) return setImmediate(turn);
  const ns = Number(process.hrtime.bigint() - t0);
  console.log(`ns_per_iteration=${(ns / turns).toFixed(2)} iterations=${turns}`);
})();
