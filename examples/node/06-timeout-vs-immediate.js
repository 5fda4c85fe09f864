// Chapter 6: setTimeout(0) against setImmediate. From the main module their
// order depends on how long the loop took to start; inside an I/O callback
// setImmediate always wins, because check comes right after poll.
'use strict';
const fs = require('fs');

const order = [];
setTimeout(() => order.push('timeout (main)'), 0);
setImmediate(() => order.push('immediate (main)'));

fs.stat(__filename, () => {
  setTimeout(() => {
    order.push('timeout (in I/O callback)');
    console.log(order.join('\n'));
  }, 0);
  setImmediate(() => order.push('immediate (in I/O callback)'));
});
