// Chapter 8: a fast producer piped into a slow consumer, over loopback TCP,
// in one process.  The producer makes 32 MiB in 64 KiB chunks; the consumer
// takes one chunk per millisecond.  By default the producer waits for
// 'drain' when write() returns false (backpressure); with --no-backpressure
// it ignores write()'s answer and writes everything at once.
'use strict';
const net = require('net');
const { Writable } = require('stream');
const v8 = require('v8');
const vm = require('vm');

v8.setFlagsFromString('--expose-gc'); // to measure live memory, not garbage
const gc = vm.runInNewContext('gc');

const CHUNK = 64 * 1024, TOTAL = 32 * 1024 * 1024;
const backpressure = !process.argv.includes('--no-backpressure');
let peakQueued = 0, peakMemory = 0, received = 0;

function sample(socket) {
  peakQueued = Math.max(peakQueued, socket.writableLength);
}

// Memory in buffers that is still in use: collect the garbage first.
function sampleMemory() {
  gc();
  peakMemory = Math.max(peakMemory, process.memoryUsage().arrayBuffers);
}

// The slow consumer: a Writable that takes 1 ms per chunk (a disk, a
// database, a slow client...).  pipe() pauses the socket when it is full.
function slowConsumer(done) {
  return new Writable({
    highWaterMark: CHUNK,
    write(chunk, encoding, callback) {
      received += chunk.length;
      setTimeout(callback, 1);
    },
    final(callback) {
      callback();
      done();
    },
  });
}

// The fast producer: each chunk is new memory, as real data would be.
function produce(socket) {
  let sent = 0;
  function more() {
    while (sent < TOTAL) {
      const ok = socket.write(Buffer.alloc(CHUNK, sent / CHUNK));
      sent += CHUNK;
      sample(socket);
      if (!ok && backpressure) {
        socket.once('drain', more);
        return;
      }
    }
    socket.end();
  }
  more();
}

const server = net.createServer((conn) => {
  conn.pipe(slowConsumer(() => {
    const mib = (n) => (n / 1048576).toFixed(1);
    console.log(`backpressure ${backpressure ? 'on' : 'off'}: ${mib(received)} MiB received`);
    console.log(`peak queued in the producer's socket: ${mib(peakQueued)} MiB`);
    console.log(`peak memory held in buffers: ${mib(peakMemory)} MiB`);
    server.close();
  }));
});

server.listen(0, '127.0.0.1', () => {
  const socket = net.connect(server.address().port, '127.0.0.1', () => produce(socket));
  const timer = setInterval(sampleMemory, 10);
  socket.on('close', () => clearInterval(timer));
});
