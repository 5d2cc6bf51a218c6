// kstream-serve's h2c side with Node's own http2 module and raw sockets:
// garbage after the preface, a broken header block and a bad preface are
// refused (GOAWAY or a closed connection) while the server keeps serving;
// an oversize body is 413, a GET 404, the advertised stream cap is there.
// Usage: node serve_h2_raw.js PORT
//        node serve_h2_raw.js PORT hold: one request, then the connection
//        is held open until the server stops it with GOAWAY (SIGTERM).
"use strict";
const assert = require("node:assert/strict");
const http2 = require("node:http2");
const net = require("node:net");

const port = Number(process.argv[2]);
const PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const EMPTY_SETTINGS = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);

// Sends `bytes` on a new connection; resolves with everything the server
// sent until it closed the connection (fails after 8 s).
function raw(bytes) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    const sock = net.connect(port, "127.0.0.1", () => sock.write(bytes));
    const timer = setTimeout(() => reject(new Error("server did not close the connection")), 8000);
    sock.on("data", (d) => chunks.push(d));
    sock.on("error", () => {});
    sock.on("close", () => { clearTimeout(timer); resolve(Buffer.concat(chunks)); });
  });
}

// The frame types in an HTTP/2 byte stream from the server.
function frameTypes(buf) {
  const types = [];
  for (let at = 0; at + 9 <= buf.length; at += 9 + buf.readUIntBE(at, 3)) types.push(buf[at + 3]);
  return types;
}
const GOAWAY = 7;

function request(session, headers, body) {
  return new Promise((resolve, reject) => {
    const req = session.request(headers);
    let status = 0;
    const chunks = [];
    req.on("response", (h) => { status = h[":status"]; });
    req.on("data", (d) => chunks.push(d));
    req.on("end", () => resolve({ status, body: Buffer.concat(chunks).toString() }));
    req.on("error", reject);
    req.end(body);
  });
}
const listStreams = {
  ":method": "POST", ":path": "/", "content-type": "application/x-amz-json-1.1",
  "x-amz-target": "Kinesis_20131202.ListStreams",
};

async function healthy(what) {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  const r = await request(session, listStreams, "{}");
  assert.equal(r.status, 200, `${what}: the server still answers`);
  assert.match(r.body, /"StreamNames"/);
  session.close();
}

async function hold() {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  const goaway = new Promise((resolve) => session.on("goaway", (code) => resolve(code)));
  assert.equal((await request(session, listStreams, "{}")).status, 200);
  console.log("holding");
  console.log(`goaway ${await goaway}`);
  session.destroy();
}

(async () => {
  if (process.argv[3] === "hold") return hold();
  // Garbage frames after a valid preface: GOAWAY, connection closed.
  const garbage = Buffer.concat([Buffer.from(PREFACE), EMPTY_SETTINGS,
    Buffer.from([0xff, 0xff, 0xff, 0x01, 0xff, 0x7f, 0xff, 0xff, 0xff]), Buffer.alloc(64, 0xab)]);
  assert.ok(frameTypes(await raw(garbage)).includes(GOAWAY), "garbage frames: GOAWAY");
  await healthy("after garbage frames");

  // A HEADERS frame whose HPACK block is nonsense (an index past the tables).
  const badHpack = Buffer.concat([Buffer.from(PREFACE), EMPTY_SETTINGS,
    Buffer.from([0, 0, 2, 1, 5, 0, 0, 0, 1, 0xff, 0xff])]);
  assert.ok(frameTypes(await raw(badHpack)).includes(GOAWAY), "bad header block: GOAWAY");
  // Random bytes in place of the preface's tail: not HTTP/2, refused as HTTP/1.1.
  const notH2 = await raw(Buffer.concat([Buffer.from("PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n"),
    Buffer.alloc(100, 0x00)]));
  assert.ok(!frameTypes(notH2).includes(4) || notH2.toString().startsWith("HTTP/1.1 4"),
    "a broken preface is not taken for HTTP/2");
  // A preface cut short, then silence: the server closes it in time.
  await raw(Buffer.from(PREFACE.slice(0, 10)));
  await healthy("after bad prefaces");

  const session = http2.connect(`http://127.0.0.1:${port}`);
  await new Promise((resolve) => session.on("remoteSettings", resolve));
  assert.equal(session.remoteSettings.maxConcurrentStreams, 100, "stream cap advertised");
  const get = await request(session, { ":method": "GET", ":path": "/" });
  assert.equal(get.status, 404, "GET is not routed, as over HTTP/1.1");
  const huge = await request(session, listStreams, Buffer.alloc((16 << 20) + 1, 0x20));
  assert.equal(huge.status, 413, "a body past the 16 MiB limit is 413");
  const after = await request(session, listStreams, "{}");
  assert.equal(after.status, 200, "the connection still serves after a 413");
  session.close();
  console.log("raw h2: ok");
})().catch((e) => { console.error(e); process.exit(1); });
