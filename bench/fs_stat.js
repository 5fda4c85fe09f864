// An fs-bound Node program for the thread-pool probe's cost: N fs.stat calls
// (argv[2], default 100000) on one path (argv[4], default "/"), at most
// IN_FLIGHT (argv[3], default 64) at a time, each a job of libuv's thread
// pool.  Prints the nanoseconds per stat measured inside, and the process's
// CPU time and context switches per stat over the same stretch.
'use strict';
const fs = require('fs');
const target = Number(process.argv[2] || 100000);
const inFlight = Number(process.argv[3] || 64);
const path = process.argv[4] || '/';
let started = 0, finished = 0;
function usageNow() {
  const u = process.resourceUsage(); // microseconds, all threads
  return { cpuNs: (u.userCPUTime + u.systemCPUTime) * 1e3,
           switches: u.voluntaryContextSwitches + u.involuntaryContextSwitches };
}
const u0 = usageNow();
const t0 = process.hrtime.bigint();

function onStat(err) {
  if (err) throw err;
  if (++finished === target) {
    const ns = Number(process.hrtime.bigint() - t0);
    const u1 = usageNow();
    console.log(`ns_per_op=${(ns / finished).toFixed(2)} cpu_ns_per_op=${((u1.cpuNs - u0.cpuNs) / finished).toFixed(2)} ` +
                `switches_per_op=${((u1.switches - u0.switches) / finished).toFixed(3)} ops=${finished} ` +
                `in_flight=${inFlight} libuv=${process.versions.uv}`);
  } else if (started < target) {
    startStat();
  }
}

function startStat() {
  started++;
  fs.stat(path, onStat);
}

for (let i = 0; i < inFlight && started < target; i++) startStat();
