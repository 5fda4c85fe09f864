// Chapter 13: V8's garbage collector and the loop.  Twenty timer callbacks
// each allocate 200k small objects; the young generation fills and V8
// scavenges it (and now and then collects the whole heap) on the loop's
// thread, which runs nothing else meanwhile.  Each tick also queues one
// microtask, run at the checkpoint after the callback.
let keep = [];
let ticks = 0;
let settled = 0;

const timer = setInterval(() => {
  for (let i = 0; i < 200000; i++) keep.push({ i, s: 'x' + i });
  if (keep.length > 1000000) keep = [];
  Promise.resolve().then(() => settled++);
  if (++ticks === 20) {
    clearInterval(timer);
    setImmediate(() => console.log(`${ticks} ticks, ${settled} promises settled`));
  }
}, 5);
