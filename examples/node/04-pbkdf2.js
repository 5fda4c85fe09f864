// Chapter 4: CPU work in native code.  `sync` (the default) hashes a
// password with crypto.pbkdf2Sync on the loop's thread; `async` asks
// crypto.pbkdf2 for the same hash, which a thread-pool worker computes.
// A 10 ms interval counts how often the loop got to run meanwhile.  The
// first line is printed from the main code, so that the first write to
// stdout (which loads Node's stream code) is not in a callback.
const crypto = require('crypto');

const mode = process.argv[2] === 'async' ? 'async' : 'sync';
console.log(`${mode}: hashing a password, 300 000 rounds of PBKDF2-SHA512`);
// libuv starts its thread pool at the first job, and the thread that
// submits it waits for the workers to start: let that be the main code's
// wait, at start-up, rather than the timer callback's.
require('fs').stat(__filename, () => {});
let ticks = 0;
const interval = setInterval(() => ticks++, 10);

setTimeout(function hashPassword() {
  const start = process.hrtime.bigint();
  ticks = 0;
  const done = () => {
    clearInterval(interval);
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    console.log(`${mode}: the hash took ${ms.toFixed(0)} ms; the 10 ms interval ran ${ticks} times meanwhile`);
  };
  if (mode === 'sync') {
    crypto.pbkdf2Sync('secret', 'salt', 300000, 64, 'sha512');
    done();
  } else {
    crypto.pbkdf2('secret', 'salt', 300000, 64, 'sha512', done);
  }
}, 50);
