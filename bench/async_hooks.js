// The server rows' async_hooks peer (`node -r bench/async_hooks.js ...`):
// what a Node-only tool built on async_hooks does to see the same events
// uvdb's probe records, each callback of every async resource timed
// (before/after) and counted by resource type.  Says its totals at exit.
'use strict';
const async_hooks = require('async_hooks');
const fs = require('fs');

const types = new Map(); // resource type -> resources created
const begun = []; // the callbacks under way, innermost last
let callbacks = 0;
let callbackNs = 0n;

async_hooks
  .createHook({
    init(asyncId, type) {
      types.set(type, (types.get(type) || 0) + 1);
    },
    before() {
      begun.push(process.hrtime.bigint());
    },
    after() {
      const t0 = begun.pop();
      if (t0 !== undefined) {
        callbacks++;
        callbackNs += process.hrtime.bigint() - t0;
      }
    },
    destroy() {},
  })
  .enable();

process.on('exit', () => {
  // fs.writeSync: console.log from an exit handler would itself be an async resource
  const resources = [...types.values()].reduce((a, b) => a + b, 0);
  fs.writeSync(1, `async_hooks resources=${resources} callbacks=${callbacks} callback_ms=${Number(callbackNs / 1000000n)}\n`);
});
