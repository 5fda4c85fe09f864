// A Node HTTP server for the blocking probes' cost under load: listens on
// 127.0.0.1:PORT (argv[2]) and answers every request with a small body.
// Exits once CONNECTIONS (argv[3], default 0: never) connections have
// closed, or on SIGTERM or SIGINT.  bench/loadgen.c drives it.
'use strict';
const http = require('http');
const port = Number(process.argv[2]);
const closeAfter = Number(process.argv[3] || 0);
if (!(port >= 1 && port <= 65535) || !(closeAfter >= 0)) {
  console.error('usage: http_server.js PORT [CONNECTIONS >= 0]');
  process.exit(2);
}
const body = Buffer.from('hello from uvdb\'s bench\n');
let closed = 0;

const server = http.createServer((req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': body.length });
  res.end(body);
});
server.keepAliveTimeout = 60000;
server.on('connection', (socket) => {
  socket.setNoDelay(true);
  socket.on('close', () => {
    if (++closed === closeAfter) stop();
  });
});

let stopped = false;
function stop() {
  if (stopped) return;
  stopped = true;
  server.close();
  server.closeAllConnections();
  console.log(`http_server connections_closed=${closed}`);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
server.listen(port, '127.0.0.1');
