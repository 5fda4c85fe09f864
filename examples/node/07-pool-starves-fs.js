// Chapter 7: a busy pool makes the file system wait.  Four pbkdf2 calls
// take the four threads of libuv's default pool; fs.readFile, asked for
// right after them, is a pool job too, and waits in the queue until one of
// them ends.  With UV_THREADPOOL_SIZE=5 it finds a free thread at once.
// Optional argument: the number of pbkdf2 calls.
const crypto = require('crypto');
const fs = require('fs');

const calls = Number(process.argv[2] || 4);
const start = process.hrtime.bigint();
const since = () => (Number(process.hrtime.bigint() - start) / 1e6).toFixed(1);
let readMs, cryptoMs = '0.0', left = calls + 1;

function finished() {
  if (--left > 0) return;
  console.log(`fs.readFile took ${readMs} ms`);
  console.log(`${calls} pbkdf2 calls took ${cryptoMs} ms`);
}

for (let i = 0; i < calls; i++) {
  crypto.pbkdf2('secret', `salt${i}`, 100000, 64, 'sha512', (err) => {
    if (err) throw err;
    cryptoMs = since(); // the last one's time stays
    finished();
  });
}
fs.readFile(__filename, (err) => {
  if (err) throw err;
  readMs = since();
  finished();
});
