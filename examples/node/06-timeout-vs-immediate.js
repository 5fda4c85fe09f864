// Chapter 6: setTimeout(0) against setImmediate. From the main module their
// order depends on how long the loop took to start; inside an I/O callback
// setImmediate always wins, because check comes right after poll.
'use strict';
const fs = require('fs');

const fromMain = [];
const fromIo = [];
setTimeout(() => fromMain.push('setTimeout'), 0);
setImmediate(() => fromMain.push('setImmediate'));

fs.stat(__filename, () => {
  setTimeout(() => fromIo.push('setTimeout'), 0);
  setImmediate(() => fromIo.push('setImmediate'));
});

process.on('exit', () => {
  console.log(`from the main module: ${fromMain.join(' before ')}`);
  console.log(`from an I/O callback: ${fromIo.join(' before ')}`);
});
