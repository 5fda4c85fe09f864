// Chapter 1: sync and async, and where errors go.  One file read four ways
// (readFileSync, a callback, a promise, async/await), and a missing file
// read the same ways, in a fixed order: each step starts the next one.
'use strict';
const fs = require('fs');
const fsp = require('fs/promises');

const FILE = __filename;
const MISSING = `${__dirname}/no-such-file`;

console.log('main: start');
const text = fs.readFileSync(FILE, 'utf8'); // waits here until the file is read
console.log(`main: readFileSync returned (${text.startsWith('//') ? 'this file' : '?'})`);

try {
  fs.readFile(MISSING, (err, data) => { // error-first: the error is the first argument
    console.log(`callback: error-first, err.code = ${err.code}, data = ${data}`);
    withPromises();
  });
} catch (err) {
  console.log('never printed: the error comes later, after this try has ended');
}
console.log('main: end, no callback has run yet');

function withPromises() {
  fsp.readFile(MISSING)
    .then(() => console.log('never printed'))
    .catch((err) => {
      console.log(`promise: rejected, .catch got ${err.code}`);
      withAwait();
    });
}

async function withAwait() {
  try {
    await fsp.readFile(MISSING);
  } catch (err) {
    console.log(`async/await: try/catch caught ${err.code}`);
  }
  const again = await fsp.readFile(FILE, 'utf8');
  console.log(`async/await: read ${again === text ? 'the same file' : '?'}`);
}
