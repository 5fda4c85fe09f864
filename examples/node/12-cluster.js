// Chapter 12: a cluster.  The primary forks two workers, each a node
// process with a loop of its own, that do some CPU work on a timer and
// report to the primary, which prints the reports in order and exits once
// both workers have.  Argument: the ticks each worker runs (default 40).
'use strict';
const cluster = require('cluster');
const ticks = Number(process.argv[2] || 40);

function fib(n) {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

if (cluster.isPrimary) {
  const reports = [];
  for (let i = 0; i < 2; i++) {
    cluster.fork().on('message', (m) => reports.push(m));
  }
  let exited = 0;
  cluster.on('exit', () => {
    if (++exited < 2) return;
    for (const r of reports.sort((a, b) => a.id - b.id)) console.log(`worker ${r.id}: ${r.ticks} ticks, fib ${r.fib}`);
    console.log('primary: both workers done');
  });
} else {
  let n = 0, last = 0;
  const t = setInterval(() => {
    last = fib(24);
    if (++n === ticks) {
      clearInterval(t);
      process.send({ id: cluster.worker.id, ticks: n, fib: last }, () => process.disconnect());
    }
  }, 2);
}
