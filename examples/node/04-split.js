// Chapter 4, the fix for 04-blocking.js: the same 200 ms of work, cut into
// 100 slices of 2 ms with setImmediate between them.  The loop goes round
// between two slices, so a timer or a packet waits 2 ms at most, not 200.
// Node's monitorEventLoopDelay watches the delay, as in 04-blocking.js.
// The first line is printed from the main code: the first write to stdout
// loads Node's stream code, which would otherwise be the longest stretch.
const { monitorEventLoopDelay } = require('perf_hooks');

const delay = monitorEventLoopDelay({ resolution: 10 });
delay.enable();

function workFor2ms() {
  const start = process.hrtime.bigint();
  while (process.hrtime.bigint() - start < 2_000_000n);
}

function workInSlices(slices, done) {
  let ran = 0;
  (function slice() {
    workFor2ms();
    if (++ran < slices) setImmediate(slice);
    else done(ran);
  })();
}

console.log('working 200 ms in slices of 2 ms');
setTimeout(() => {
  workInSlices(100, (ran) => {
    delay.disable();
    console.log(`worked 200 ms in ${ran} slices; the longest delay Node saw: ${(delay.max / 1e6).toFixed(1)} ms`);
  });
}, 100);
