// Chapter 14: a program with a hot path to find.  Every 10 ms a timer
// "handles a request": it builds a report (JSON) and checksums it with a
// slow, hand-written hash.  Forty requests, then it ends.  The question a
// profiler answers: where does the time go?
'use strict';

function slowHash(text) {
  let h = 0;
  for (let round = 0; round < 40; round++) {
    for (let i = 0; i < text.length; i++) h = (Math.imul(h, 31) + text.charCodeAt(i)) | 0;
  }
  return h >>> 0;
}

function buildReport(n) {
  const rows = [];
  for (let i = 0; i < 500; i++) rows.push({ id: i, name: `item ${i}`, price: (i * 7) % 100, request: n });
  return JSON.stringify(rows);
}

function handleRequest(n) {
  const report = buildReport(n);
  return slowHash(report);
}

let n = 0, checksum = 0;
const timer = setInterval(() => {
  checksum ^= handleRequest(n);
  if (++n === 40) {
    clearInterval(timer);
    console.log(`40 requests handled, checksum ${checksum}`);
  }
}, 10);
