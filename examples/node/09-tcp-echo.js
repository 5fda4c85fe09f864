// Chapter 9: one TCP connection on loopback, from accept to close, in Node.
// The same story as examples/c/09-tcp-echo.c: an echo server and one client
// in one process; the client sends "hello", reads the echo and ends; the
// server ends its side and stops listening, and the program exits.
'use strict';
const net = require('net');

const server = net.createServer(function onConnection(socket) {
  console.log('server: accepted a connection');
  socket.on('data', function onServerData(data) {
    console.log(`server: read ${data.length} bytes`);
    socket.write(data);
  });
  socket.on('end', function onServerEnd() {
    console.log('server: end of stream');
    socket.end();
    server.close();
  });
});

server.listen(0, '127.0.0.1', function onListening() {
  const client = net.connect(server.address().port, '127.0.0.1', function onConnect() {
    console.log('client: connected');
    client.write('hello');
  });
  client.on('data', function onClientData(data) {
    console.log(`client: got back "${data}"`);
    client.end();
  });
  client.on('close', () => console.log('client: closed'));
});
