// Chapter 9: an HTTP server and one client on loopback, in one process.
// The client keeps its connection alive, so the loop holds three TCP handles:
// the listening socket, the server's side of the connection and the client's.
// With --hold the program keeps them open until it is stopped (for a uvdb
// session: `info handles` in poll); without, it closes everything and exits.
'use strict';
const http = require('http');

const hold = process.argv.includes('--hold');
const server = http.createServer((req, res) => res.end(`hello from ${req.url}\n`));

server.listen(0, '127.0.0.1', () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const { port } = server.address();
  http.get({ host: '127.0.0.1', port, path: '/loop', agent }, (res) => {
    let body = '';
    res.on('data', (chunk) => (body += chunk));
    res.on('end', () => {
      process.stdout.write(`response: ${body}`);
      if (hold) {
        console.log(`holding the connection open (pid ${process.pid})`);
        return;
      }
      agent.destroy();
      server.close();
    });
  });
});
