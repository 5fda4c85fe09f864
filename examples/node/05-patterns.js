// Chapter 5: practical async patterns.  An error-first callback API written
// by hand, the same API through util.promisify, and eight pbkdf2 calls on
// the thread pool one after the other (`await` in a loop) or together
// (Promise.all).  Argument: `sequential` or `all` to run only that part;
// none: the patterns, then both, in turn.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const util = require('util');

// An error-first callback API: the callback is called once, always later
// (never before the function returns), with (err) or (null, result).
function readFirstLine(path, callback) {
  if (typeof path !== 'string') {
    process.nextTick(callback, new TypeError('path must be a string')); // later, even for this error
    return;
  }
  fs.readFile(path, 'utf8', (err, text) => {
    if (err) return callback(err);
    callback(null, text.split('\n')[0]);
  });
}

// util.promisify turns any error-first API into one that returns a promise.
const readFirstLineP = util.promisify(readFirstLine);
const pbkdf2 = util.promisify(crypto.pbkdf2);

function derive(i) {
  return pbkdf2(`password ${i}`, 'salt', 20000, 32, 'sha256');
}

async function sequential() {
  const keys = [];
  for (let i = 0; i < 8; i++) keys.push(await derive(i)); // one at a time
  return keys;
}

function all() {
  return Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map(derive)); // all at once
}

async function patterns() {
  await new Promise((done) => readFirstLine(__filename, (err, line) => { // the callback, then on
    console.log(`callback: ${err ? err.message : line}`);
    done();
  }));
  console.log(`promisify: ${await readFirstLineP(__filename)}`);
  try {
    await readFirstLineP(42);
  } catch (err) {
    console.log(`promisify: rejected with ${err.name}: ${err.message}`);
  }
  const results = await Promise.allSettled([readFirstLineP(__filename), readFirstLineP('/no/such/file')]);
  console.log(`allSettled: ${results.map((r) => r.status).join(', ')}`);
}

async function main() {
  const modes = { sequential, all };
  if (!process.argv[2]) await patterns();
  for (const name of process.argv[2] ? [process.argv[2]] : ['sequential', 'all']) {
    const start = process.hrtime.bigint();
    const keys = await modes[name]();
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    console.log(`${name}: ${keys.length} keys in ${ms.toFixed(0)} ms`);
  }
}

main();
