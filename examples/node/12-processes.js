// Chapter 12: child processes and signals, as examples/c/12-processes.c
// does them in C.  The parent spawns /bin/true, `/bin/sh -c 'exit 3'`, a
// /bin/sleep that it kills with SIGTERM and a file that does not exist;
// and it listens for SIGUSR2, which it sends itself twice (the second time
// from the first one's listener).  It prints each child's pid as it starts,
// and at the end how each child ended (in the order spawned: they end in
// any order).  (SIGUSR1 is Node's own: it starts the inspector.)
'use strict';
const { spawn } = require('child_process');

const started = [];
let ended = 0, signals = 0;
const keep = setInterval(() => {}, 1000); // a signal listener does not keep the loop alive

function maybeDone() {
  if (ended < 4 || signals < 2) return;
  clearInterval(keep);
  process.removeAllListeners('SIGUSR2');
  for (const c of started) console.log(`pid ${c.pid} ended: exit status ${c.code ?? 0}, signal ${c.signal ?? 0}`);
  console.log(`SIGUSR2 came ${signals} times`);
}

function start(what, file, args) {
  const child = spawn(file, args, { stdio: 'ignore' });
  const entry = { pid: child.pid };
  if (child.pid) {
    console.log(`spawned ${what}: pid ${child.pid}`);
    started.push(entry);
  }
  child.on('error', (e) => {
    console.log(`spawn ${what} failed: ${e.code}`);
    ended++;
    maybeDone();
  });
  child.on('exit', (code, signal) => {
    Object.assign(entry, { code, signal });
    ended++;
    maybeDone();
  });
  return child;
}

process.on('SIGUSR2', () => {
  if (++signals === 1) process.kill(process.pid, 'SIGUSR2');
  maybeDone();
});

start('true', '/bin/true', []);
start('exit3', '/bin/sh', ['-c', 'exit 3']);
start('sleep', '/bin/sleep', ['10']).kill('SIGTERM');
start('missing', '/nonexistent/program', []);
process.kill(process.pid, 'SIGUSR2');
