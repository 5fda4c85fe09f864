// Chapter 12: a pipeline of child processes, as a shell runs `gen | square`.
// The parent starts two node children running this same file: `generate`
// writes the numbers 1..N, one a line, one every 5 ms; `square` reads lines
// on its stdin and writes each number with its square.  The parent copies
// the first child's stdout into the second's stdin, reads the second's
// stdout, and prints a summary once both have exited.
// Argument: N, the lines to send (default 20).  No network, no files.
'use strict';
const { spawn } = require('child_process');
const role = process.argv[2];

if (role === 'generate') {
  const n = Number(process.argv[3]);
  let i = 0;
  const t = setInterval(() => {
    process.stdout.write(`${++i}\n`);
    if (i === n) clearInterval(t);
  }, 5);
} else if (role === 'square') {
  let rest = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk) => {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop();
    for (const line of lines) process.stdout.write(`${line} squared is ${line * line}\n`);
  });
} else {
  const n = Number(process.argv[2] || 20);
  const gen = spawn(process.execPath, [__filename, 'generate', String(n)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const square = spawn(process.execPath, [__filename, 'square'], { stdio: ['pipe', 'pipe', 'inherit'] });
  // What gen writes goes to square, through this process, with backpressure
  // (chapter 8); the end of gen's output ends square's input.  By hand rather
  // than gen.stdout.pipe(), which would make process.stdout and
  // process.stderr (and their handles) to compare them with its destination.
  gen.stdout.on('data', (chunk) => {
    if (!square.stdin.write(chunk)) {
      gen.stdout.pause();
      square.stdin.once('drain', () => gen.stdout.resume());
    }
  });
  gen.stdout.on('end', () => square.stdin.end());
  let out = '';
  square.stdout.setEncoding('utf8');
  square.stdout.on('data', (chunk) => { out += chunk; });
  const closed = (child) => new Promise((resolve) => child.on('close', (code, signal) => resolve(code ?? signal)));
  Promise.all([closed(gen), closed(square)]).then(([g, s]) => {
    const lines = out.split('\n').filter(Boolean);
    const sum = lines.reduce((a, l) => a + Number(l.split(' ').pop()), 0);
    console.log(`generate exited with ${g}, square exited with ${s}`);
    console.log(`${lines.length} lines through the pipeline`);
    console.log(`first: ${lines[0]}`);
    console.log(`last: ${lines[lines.length - 1]}`);
    console.log(`sum of the squares: ${sum}`);
  });
}
