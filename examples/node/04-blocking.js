// Chapter 4: blocking the loop.  A setTimeout callback spins for 200 ms;
// nothing else can run meanwhile: not the next timer, not I/O.  Node's own
// monitorEventLoopDelay watches the delay, and the program prints both its
// measure of the spin and that histogram's maximum, as JSON.
const { monitorEventLoopDelay } = require('perf_hooks');

const delay = monitorEventLoopDelay({ resolution: 10 });
delay.enable();

function blockFor200ms() {
  const start = process.hrtime.bigint();
  while (process.hrtime.bigint() - start < 200_000_000n);
  return Number(process.hrtime.bigint() - start) / 1e6;
}

let blockedMs = 0;
setTimeout(() => { blockedMs = blockFor200ms(); }, 100);
setTimeout(() => {
  delay.disable();
  console.log(JSON.stringify({ blocked_ms: blockedMs, eld_max_ms: delay.max / 1e6 }));
}, 500);
