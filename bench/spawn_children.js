// Child processes' start-up, for follow-children's cost: runs `node -e 0`
// COUNT times (argv[2], default 20), one after the other, and prints the
// median and each quartile of the time from spawn to exit, in ms.
'use strict';
const { execFile } = require('child_process');
const count = Number(process.argv[2] || 20);
if (!(count >= 1 && count <= 1000)) {
  console.error('usage: spawn_children.js [COUNT 1..1000]');
  process.exit(2);
}
const times = [];
function one() {
  const start = process.hrtime.bigint();
  execFile(process.execPath, ['-e', '0'], (err) => {
    if (err) throw err;
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
    if (times.length < count) return one();
    times.sort((a, b) => a - b);
    const q = (f) => times[Math.min(times.length - 1, Math.floor(f * times.length))].toFixed(2);
    console.log(`children=${count} p25_ms=${q(0.25)} median_ms=${q(0.5)} p75_ms=${q(0.75)}`);
  });
}
one();
