// Child processes' start-up, for follow-children's cost: runs `node -e 0`
// PAIRS times two (argv[2], default 20), one after the other, each timed
// from spawn to exit.  Children alternate: one as the environment has it
// (under uvdb with follow-children on: followed), one with UVDB_FOLLOW=0
// (as follow-children off would start it), so both kinds see the same
// machine at the same moments.  Prints each kind's median and the median
// of the pairs' differences, in ms.
'use strict';
const { execFile } = require('child_process');
const pairs = Number(process.argv[2] || 20);
if (!(pairs >= 1 && pairs <= 1000)) {
  console.error('usage: spawn_children.js [PAIRS 1..1000]');
  process.exit(2);
}
const asIs = process.env;
const unfollowed = { ...process.env, UVDB_FOLLOW: '0' };
const times = { on: [], off: [] };

function spawnTimed(env, done) {
  const start = process.hrtime.bigint();
  execFile(process.execPath, ['-e', '0'], { env }, (err) => {
    if (err) throw err;
    done(Number(process.hrtime.bigint() - start) / 1e6);
  });
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

function pair(i) {
  if (i === pairs) {
    const diffs = times.on.map((t, k) => t - times.off[k]);
    console.log(`pairs=${pairs} on_median_ms=${median(times.on).toFixed(2)} ` +
                `off_median_ms=${median(times.off).toFixed(2)} diff_median_ms=${median(diffs).toFixed(2)}`);
    return;
  }
  // which goes first alternates too, against any drift within a pair
  const order = i % 2 ? ['off', 'on'] : ['on', 'off'];
  spawnTimed(order[0] === 'on' ? asIs : unfollowed, (a) => {
    times[order[0]].push(a);
    spawnTimed(order[1] === 'on' ? asIs : unfollowed, (b) => {
      times[order[1]].push(b);
      pair(i + 1);
    });
  });
}
pair(0);
