// Chapter 2: in which order does Node run what a program asks for?  The
// main code queues a timer, a promise reaction and a nextTick; each timer
// queues microtasks of its own, and the second timer starts a file read
// whose callback queues one of each kind again.  Every callback prints a
// label numbered in the order Node runs them, whatever the machine: no two
// callbacks here race (chapter 6 shows the one pair that does).
'use strict';
const fs = require('fs');

const log = (label) => console.log(label);

log('1 sync: the main code runs to its end first');
setTimeout(() => {
  log('4 macrotask: the first setTimeout 0 (timers phase)');
  process.nextTick(() => log('5 microtask: nextTick queued by the first timer'));
  Promise.resolve().then(() => log('6 microtask: promise queued by the first timer'));
}, 0);
setTimeout(() => {
  log('7 macrotask: the second setTimeout 0, after the first one\'s microtasks');
  Promise.resolve().then(() => log('8 microtask: promise queued by the second timer'));
  fs.stat(__filename, () => {
    log('9 macrotask: the fs.stat callback (poll phase)');
    setTimeout(() => log('12 macrotask: setTimeout 0 queued by the I/O callback'), 0);
    setImmediate(() => log('11 macrotask: setImmediate queued by the I/O callback (check phase)'));
    Promise.resolve().then(() => log('10 microtask: promise queued by the I/O callback'));
  });
}, 0);
Promise.resolve().then(() => log('3 microtask: promise queued by the main code'));
process.nextTick(() => log('2 microtask: nextTick queued by the main code'));
log('1 sync: still the main code; nothing queued has run yet');
