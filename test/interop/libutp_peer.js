// test/interop/libutp_peer.js — libutp (npm utp-native 2.5.3, which bundles it) as a raw
// µTP byte-stream peer for libutp_test.cpp. Its UDP socket keeps the kernel's default
// receive buffer, as deployed BitTorrent clients' do. Reports on stdout, one line each:
//   listening PORT                      (recv: ready)
//   done BYTES SECONDS SHA256           (the stream it read or wrote, hashed)
//   error TEXT
//   node libutp_peer.js recv HOST           accept one connection, read it to EOF
//   node libutp_peer.js send HOST PORT N    connect, write N bytes (see pattern()), end
//   node libutp_peer.js hear HOST PORT N    connect, write nothing, read N bytes, end;
//                                           also reports `first MS`: connect to first byte
// It exits when done, on error, or when its stdin closes (the test went away).
'use strict';
const utp = require('utp-native');
const crypto = require('crypto');

const [role, host, port, count] = process.argv.slice(2);
process.stdin.on('end', () => process.exit(3));
process.stdin.resume();

// 1 MiB of xorshift32 bytes, repeated; the reader hashes what it gets, so any pattern works.
function pattern() {
  const b = Buffer.alloc(1 << 20);
  let x = 2463534242;
  for (let i = 0; i < b.length; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

function report(bytes, hash, start) {
  const s = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(`done ${bytes} ${s} ${hash.digest('hex')}`);
}

function fail(e) {
  console.log('error ' + String(e).replace(/\n/g, ' '));
  process.exit(1);
}

if (role === 'recv') {
  const server = utp.createServer((conn) => {
    const hash = crypto.createHash('sha256');
    let bytes = 0;
    let start = null;
    conn.on('data', (d) => {
      if (start === null) start = process.hrtime.bigint();
      hash.update(d);
      bytes += d.length;
    });
    conn.on('end', () => {
      report(bytes, hash, start === null ? process.hrtime.bigint() : start);
      conn.end();
      setTimeout(() => process.exit(0), 200);
    });
    conn.on('error', fail);
  });
  server.on('error', fail);
  server.listen(0, host, () => console.log('listening ' + server.address().port));
} else if (role === 'send') {
  const total = Number(count);
  const block = pattern();
  const hash = crypto.createHash('sha256');
  const conn = utp.connect(Number(port), host);
  const start = process.hrtime.bigint();
  let sent = 0;
  conn.on('error', fail);
  conn.on('data', () => {});
  conn.on('end', () => { report(sent, hash, start); process.exit(0); });
  (function write() {
    while (sent < total) {
      const chunk = block.subarray(0, Math.min(block.length, total - sent));
      hash.update(chunk);
      sent += chunk.length;
      if (!conn.write(chunk)) return conn.once('drain', write);
    }
    conn.end();
  })();
} else if (role === 'hear') {
  // The server speaks first: we only read.
  const total = Number(count);
  const hash = crypto.createHash('sha256');
  const conn = utp.connect(Number(port), host);
  const start = process.hrtime.bigint();
  let got = 0;
  conn.on('error', fail);
  conn.on('data', (d) => {
    if (got === 0) console.log(`first ${Number(process.hrtime.bigint() - start) / 1e6}`);
    hash.update(d);
    got += d.length;
    if (got >= total) {
      report(got, hash, start);
      conn.end();
      setTimeout(() => process.exit(0), 200);
    }
  });
} else {
  fail('usage: libutp_peer.js recv HOST | send HOST PORT N | hear HOST PORT N');
}
