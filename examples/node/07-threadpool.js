// Chapter 7: the thread pool behind Node's crypto.  Eight pbkdf2 calls go
// to libuv's pool at once; with UV_THREADPOOL_SIZE=2 two run and six wait.
// Optional argument: the number of calls.
const crypto = require('crypto');

const calls = Number(process.argv[2] || 8);
let done = 0;
for (let i = 0; i < calls; i++) {
  crypto.pbkdf2('secret', `salt${i}`, 100000, 64, 'sha512', (err) => {
    if (err) throw err;
    if (++done === calls) console.log(`${calls} pbkdf2 calls done`);
  });
}
