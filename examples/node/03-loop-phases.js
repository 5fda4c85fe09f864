// Chapter 3: one Node program that keeps every phase of the loop busy:
// timers, setImmediate (check), a file read (thread pool, then poll) and a
// TCP echo on loopback (poll). It ends by itself.
'use strict';
const fs = require('fs');
const net = require('net');

let ticks = 0;
const timer = setInterval(() => {
  if (++ticks === 3) clearInterval(timer);
}, 5);

let immediates = 0;
(function again() {
  if (++immediates < 10) setImmediate(again);
})();

fs.readFile(__filename, (err, data) => {
  if (err) throw err;
  console.log(`read ${data.length} bytes of ${require('path').basename(__filename)}`);
});

const server = net.createServer((socket) => socket.pipe(socket));
server.listen(0, '127.0.0.1', () => {
  const client = net.connect(server.address().port, '127.0.0.1', () => client.write('hello, loop\n'));
  client.on('data', (chunk) => {
    process.stdout.write(`echo: ${chunk}`);
    client.end();
    server.close();
  });
});

process.on('exit', () => console.log(`interval fired ${ticks} times, ${immediates} immediates`));
