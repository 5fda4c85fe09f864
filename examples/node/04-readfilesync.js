// Chapter 4: sync I/O on the loop thread.  readFileSync of a 50 MB file
// holds the loop for as long as the disk and the copy take; the async
// readFile would hand the same work to the thread pool.  The file is
// written first (asynchronously) and removed at the end.
const fs = require('fs');
const os = require('os');
const path = require('path');

const file = path.join(os.tmpdir(), `uvdb-50mb-${process.pid}.bin`);
fs.writeFile(file, Buffer.alloc(50 * 1024 * 1024, 7), (err) => {
  if (err) throw err;
  setTimeout(function readItAll() {
    const data = fs.readFileSync(file);
    console.log(`read ${data.length} bytes`);
    fs.unlink(file, () => {});
  }, 10);
});
