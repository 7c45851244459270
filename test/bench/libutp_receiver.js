// libutp_receiver.js — libutp (npm utp-native, which bundles it) as the receiving peer of
// test/bench/loss_bench.sh: accepts one connection on 127.0.0.1, reads it to EOF and
// prints one line: {"bytes":N,"sha256":"…","seconds":S}. Its UDP socket keeps the
// kernel's default receive buffer, as deployed BitTorrent clients' do.
//   NODE_PATH=.deps/npm/node_modules node libutp_receiver.js   -> prints "port N" first
'use strict';
const utp = require('utp-native');
const crypto = require('crypto');

const server = utp.createServer((conn) => {
  const hash = crypto.createHash('sha256');
  let bytes = 0;
  let start = null;
  conn.on('data', (d) => {
    if (start === null) start = process.hrtime.bigint();
    hash.update(d);
    bytes += d.length;
  });
  const finish = (error) => {
    const ns = start === null ? 0n : process.hrtime.bigint() - start;
    console.log(JSON.stringify({ bytes, sha256: hash.digest('hex'),
                                 seconds: Number(ns) / 1e9, error: error || '' }));
    process.exit(error ? 1 : 0);
  };
  conn.on('end', () => { conn.end(); finish(''); });
  conn.on('error', (e) => finish(String(e)));
});
server.listen(0, '127.0.0.1', () => console.log('port ' + server.address().port));
