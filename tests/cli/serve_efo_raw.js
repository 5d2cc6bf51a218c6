// SubscribeToShard on the wire, with Node's own http2 module and this
// file's event-stream decoder (prelude and message CRC-32s checked): the
// framing and headers of a JSON subscription, a CBOR one shaped as the AWS
// SDK for Java v2 sends it (AT_TIMESTAMP as tag 1 over epoch milliseconds,
// record data as byte strings), and the HTTP/1.1 refusal.
// Usage: node serve_efo_raw.js PORT STREAM
//        node serve_efo_raw.js PORT STREAM hold: subscribes and waits until
//        the server ends the stream (SIGTERM); prints how it ended.
//        node serve_efo_raw.js PORT STREAM many: holds a subscription to each
//        of 6 shards on one connection (against a server with --threads 2:
//        subscriptions must not hold its workers) while other requests, on
//        that connection and another, are answered and records arrive.
"use strict";
const assert = require("node:assert/strict");
const http = require("node:http");
const http2 = require("node:http2");
const { randomBytes } = require("node:crypto");

const port = Number(process.argv[2]);
const stream = process.argv[3];
const streamArn = `arn:aws:kinesis:us-east-1:000000000000:stream/${stream}`;
let checks = 0;
const check = (cond, what) => { assert.ok(cond, what); checks++; };

// ---- CRC-32 (zlib's polynomial) and the event-stream decoder ----
const CRC_TABLE = new Uint32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
// Splits `buf` into whole messages; returns them and the bytes left over.
function decodeMessages(buf) {
  const out = [];
  while (buf.length >= 12) {
    const total = buf.readUInt32BE(0), headersLen = buf.readUInt32BE(4);
    assert.equal(buf.readUInt32BE(8), crc32(buf.subarray(0, 8)), "prelude CRC");
    if (buf.length < total) break;
    assert.equal(buf.readUInt32BE(total - 4), crc32(buf.subarray(0, total - 4)), "message CRC");
    const headers = {};
    let at = 12;
    while (at < 12 + headersLen) {
      const nameLen = buf[at];
      const name = buf.toString("utf8", at + 1, at + 1 + nameLen);
      const type = buf[at + 1 + nameLen];
      assert.equal(type, 7, `header ${name} is a string`);
      const len = buf.readUInt16BE(at + 2 + nameLen);
      headers[name] = buf.toString("utf8", at + 4 + nameLen, at + 4 + nameLen + len);
      at += 4 + nameLen + len;
    }
    assert.equal(at, 12 + headersLen, "headers fill their length");
    out.push({ headers, payload: buf.subarray(12 + headersLen, total - 4) });
    checks += 3;
    buf = buf.subarray(total);
  }
  return { messages: out, rest: buf };
}

// ---- a small CBOR encoder and decoder (maps, arrays, strings, bytes, ints, tag 1) ----
function cborHead(major, n) {
  if (n < 24) return Buffer.from([(major << 5) | n]);
  if (n < 256) return Buffer.from([(major << 5) | 24, n]);
  if (n < 65536) { const b = Buffer.alloc(3); b[0] = (major << 5) | 25; b.writeUInt16BE(n, 1); return b; }
  if (n < 2 ** 32) { const b = Buffer.alloc(5); b[0] = (major << 5) | 26; b.writeUInt32BE(n, 1); return b; }
  const b = Buffer.alloc(9); b[0] = (major << 5) | 27; b.writeBigUInt64BE(BigInt(n), 1); return b;
}
class Tag { constructor(tag, value) { this.tag = tag; this.value = value; } }
function cbor(v) {
  if (v instanceof Tag) return Buffer.concat([cborHead(6, v.tag), cbor(v.value)]);
  if (Buffer.isBuffer(v)) return Buffer.concat([cborHead(2, v.length), v]);
  if (typeof v === "string") { const b = Buffer.from(v); return Buffer.concat([cborHead(3, b.length), b]); }
  if (typeof v === "number") return v >= 0 ? cborHead(0, v) : cborHead(1, -1 - v);
  if (Array.isArray(v)) return Buffer.concat([cborHead(4, v.length), ...v.map(cbor)]);
  const keys = Object.keys(v);
  return Buffer.concat([cborHead(5, keys.length), ...keys.flatMap((k) => [cbor(k), cbor(v[k])])]);
}
function uncbor(buf) {
  let at = 0;
  const item = () => {
    const b = buf[at++], major = b >> 5, info = b & 31;
    let n = info;
    if (info === 24) n = buf[at++];
    else if (info === 25) { n = buf.readUInt16BE(at); at += 2; }
    else if (info === 26) { n = buf.readUInt32BE(at); at += 4; }
    else if (info === 27) { n = Number(buf.readBigUInt64BE(at)); at += 8; }
    // Indefinite lengths (kstream-serve's writer uses them for maps and
    // arrays, as Jackson, the Java SDK's parser, accepts): items to a 0xff.
    const more = (i) => (info === 31 ? (buf[at] === 0xff ? (at++, false) : true) : i < n);
    switch (major) {
      case 0: return n;
      case 1: return -1 - n;
      case 2: { const v = Buffer.from(buf.subarray(at, at + n)); at += n; return v; }
      case 3: { const v = buf.toString("utf8", at, at + n); at += n; return v; }
      case 4: { const a = []; for (let i = 0; more(i); i++) a.push(item()); return a; }
      case 5: { const o = {}; for (let i = 0; more(i); i++) { const k = item(); o[k] = item(); } return o; }
      case 6: return new Tag(n, item());
      case 7: return info === 20 ? false : info === 21 ? true : null;
    }
    throw new Error("bad CBOR");
  };
  const v = item();
  assert.equal(at, buf.length, "one CBOR item fills the payload");
  return v;
}

// ---- requests ----
const JSON_TYPE = "application/x-amz-json-1.1", CBOR_TYPE = "application/x-amz-cbor-1.1";
function call(session, op, body, type = JSON_TYPE) {
  return new Promise((resolve, reject) => {
    const req = session.request({ ":method": "POST", ":path": "/", "content-type": type,
      "x-amz-target": `Kinesis_20131202.${op}` });
    let headers = {};
    const chunks = [];
    req.on("response", (h) => { headers = h; });
    req.on("data", (d) => chunks.push(d));
    req.on("end", () => {
      const raw = Buffer.concat(chunks);
      resolve({ status: headers[":status"], headers,
        body: type === CBOR_TYPE ? (raw.length ? uncbor(raw) : {}) : (raw.length ? JSON.parse(raw) : {}) });
    });
    req.on("error", reject);
    req.end(type === CBOR_TYPE ? cbor(body) : JSON.stringify(body));
  });
}
async function ok(session, op, body, type) {
  const r = await call(session, op, body, type);
  assert.equal(r.status, 200, `${op}: ${JSON.stringify(r.body)}`);
  return r.body;
}

// Subscribes; collects messages until `enough(messages)` or the stream ends.
function subscribe(session, body, type, enough) {
  return new Promise((resolve, reject) => {
    const req = session.request({ ":method": "POST", ":path": "/", "content-type": type,
      "x-amz-target": "Kinesis_20131202.SubscribeToShard" });
    let headers = {}, rest = Buffer.alloc(0);
    const messages = [];
    req.on("response", (h) => { headers = h; });
    req.on("data", (d) => {
      if (headers[":status"] !== 200) return;  // an error body, not a stream
      const r = decodeMessages(Buffer.concat([rest, d]));
      rest = r.rest;
      messages.push(...r.messages);
      if (enough(messages)) { req.close(http2.constants.NGHTTP2_CANCEL); resolve({ headers, messages, ended: false }); }
    });
    req.on("end", () => {
      check(rest.length === 0, "no partial message at the stream's end");
      resolve({ headers, messages, ended: true });
    });
    req.on("error", reject);
    req.end(type === CBOR_TYPE ? cbor(body) : JSON.stringify(body));
  });
}
const recordsOf = (messages, decode) => messages
  .filter((m) => m.headers[":event-type"] === "SubscribeToShardEvent")
  .flatMap((m) => decode(m.payload).Records);

async function hold(session) {
  const consumer = (await ok(session, "DescribeStreamConsumer",
    { StreamARN: streamArn, ConsumerName: "holder" })).ConsumerDescription.ConsumerARN;
  const goaway = new Promise((resolve) => session.on("goaway", (code) => resolve(code)));
  let announced = false;
  const r = await subscribe(session, { ConsumerARN: consumer, ShardId: "shardId-000000000000",
    StartingPosition: { Type: "LATEST" } }, JSON_TYPE, (m) => {
    if (m.length >= 2 && !announced) { announced = true; console.log("subscribed"); }
    return false;
  });
  const last = r.messages[r.messages.length - 1];
  console.log(`stream ended: ${r.ended}, last ${last.headers[":message-type"]}`);
  console.log(`goaway ${await goaway}`);
  session.destroy();
}

async function many(session) {
  // Subscriptions that held workers would leave requests unanswered: fail, not hang.
  setTimeout(() => { console.error("many: timed out"); process.exit(1); }, 30000).unref();
  const shards = 6;
  await ok(session, "CreateStream", { StreamName: stream, ShardCount: shards });
  const consumer = (await ok(session, "RegisterStreamConsumer",
    { StreamARN: streamArn, ConsumerName: "many" })).Consumer.ConsumerARN;
  const subs = [];
  for (let i = 0; i < shards; i++) {
    const shardId = `shardId-00000000000${i}`;
    let got = 0, resolveFirst, resolveRecord;
    const first = new Promise((r) => { resolveFirst = r; });
    const record = new Promise((r) => { resolveRecord = r; });
    subscribe(session, { ConsumerARN: consumer, ShardId: shardId,
      StartingPosition: { Type: "LATEST" } }, JSON_TYPE, (m) => {
      if (m.length >= 2) resolveFirst();
      got = recordsOf(m, JSON.parse).length;
      if (got > 0) resolveRecord();
      return got > 0;
    }).catch((e) => { console.error(e); process.exit(1); });
    subs.push({ shardId, first, record });
  }
  for (const s of subs) await s.first;
  check(true, `${shards} subscriptions open`);
  // Requests still answered, on this connection and on another.
  for (let i = 0; i < 3; i++) check((await ok(session, "ListStreams", {})).StreamNames.includes(stream),
    "list-streams beside the subscriptions");
  const other = http2.connect(`http://127.0.0.1:${port}`);
  check((await ok(other, "DescribeStreamSummary", { StreamName: stream }))
    .StreamDescriptionSummary.ConsumerCount === 1, "another connection is answered");
  // A record for every shard arrives on its subscription.
  const hashKeys = (await ok(other, "ListShards", { StreamName: stream })).Shards
    .map((s) => s.HashKeyRange.StartingHashKey);
  for (const [i, key] of hashKeys.entries())
    await ok(other, "PutRecord", { StreamName: stream, PartitionKey: `p${i}`,
      ExplicitHashKey: key, Data: Buffer.from(`r${i}`).toString("base64") });
  for (const s of subs) await s.record;
  check(true, "every subscription received its record");
  other.close();
  console.log(`many efo: ${checks} checks passed`);
  session.close();
}

(async () => {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  if (process.argv[4] === "hold") return hold(session);
  if (process.argv[4] === "many") return many(session);
  await ok(session, "CreateStream", { StreamName: stream, ShardCount: 1 });
  const consumer = (await ok(session, "RegisterStreamConsumer",
    { StreamARN: streamArn, ConsumerName: "raw" })).Consumer.ConsumerARN;
  const data = [randomBytes(300), Buffer.from([0, 255, 10, 13, 0]), randomBytes(70000)];
  const seqs = [];
  for (const [i, d] of data.entries())
    seqs.push((await ok(session, "PutRecord", { StreamName: stream, PartitionKey: `k${i}`,
      Data: d.toString("base64") })).SequenceNumber);

  // JSON: 200, the event-stream content type, no content-length; an
  // initial-response, then the records.
  const json = await subscribe(session, { ConsumerARN: consumer, ShardId: "shardId-000000000000",
    StartingPosition: { Type: "TRIM_HORIZON" } }, JSON_TYPE,
  (m) => recordsOf(m, JSON.parse).length >= data.length);
  check(json.headers[":status"] === 200, "status 200");
  check(json.headers["content-type"] === "application/vnd.amazon.eventstream", "content type");
  check(json.headers["content-length"] === undefined, "no content-length on a stream");
  check(typeof json.headers["x-amzn-requestid"] === "string", "a request id");
  const [initial, first] = json.messages;
  check(initial.headers[":message-type"] === "event" &&
    initial.headers[":event-type"] === "initial-response" &&
    initial.headers[":content-type"] === JSON_TYPE && initial.payload.toString() === "{}",
  "initial-response");
  check(first.headers[":message-type"] === "event" &&
    first.headers[":event-type"] === "SubscribeToShardEvent", "a SubscribeToShardEvent");
  const records = recordsOf(json.messages, JSON.parse);
  records.forEach((r, i) => {
    check(Buffer.from(r.Data, "base64").equals(data[i]) && r.SequenceNumber === seqs[i] &&
      r.PartitionKey === `k${i}` && typeof r.ApproximateArrivalTimestamp === "number",
    `json record ${i}`);
  });
  const event = JSON.parse(json.messages[json.messages.length - 1].payload);
  check(event.ContinuationSequenceNumber === seqs[2] && event.MillisBehindLatest === 0,
    "continuation and lag");

  // CBOR, as the Java SDK v2 sends it: AT_TIMESTAMP as tag 1 over epoch
  // milliseconds; the answer's events are CBOR with byte-string data.
  const cborReq = { ConsumerARN: consumer, ShardId: "shardId-000000000000",
    StartingPosition: { Type: "AT_TIMESTAMP", Timestamp: new Tag(1, Date.now() - 3600 * 1000) } };
  // (The JSON subscription was cancelled, so this one may start at once;
  // retried for a while in case the server has not seen the cancel yet.)
  let cborSub;
  for (let i = 0; i < 80; i++) {
    cborSub = await subscribe(session, cborReq, CBOR_TYPE,
      (m) => recordsOf(m, uncbor).length >= data.length);
    if (cborSub.headers[":status"] === 200) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  check(cborSub.headers[":status"] === 200, `cbor subscription: ${cborSub.headers[":status"]}`);
  check(cborSub.messages[0].headers[":content-type"] === CBOR_TYPE, "cbor events");
  check(Object.keys(uncbor(cborSub.messages[0].payload)).length === 0, "cbor initial-response {}");
  const crecords = recordsOf(cborSub.messages, uncbor);
  crecords.forEach((r, i) => {
    check(Buffer.isBuffer(r.Data) && r.Data.equals(data[i]) && r.SequenceNumber === seqs[i],
      `cbor record ${i} byte-exact`);
    check(r.ApproximateArrivalTimestamp instanceof Tag && r.ApproximateArrivalTimestamp.tag === 1 &&
      Number.isInteger(r.ApproximateArrivalTimestamp.value), "cbor arrival: tag 1 epoch ms");
  });

  // An error answered before the stream starts is an ordinary error body.
  const bad = await call(session, "SubscribeToShard", { ConsumerARN: consumer,
    ShardId: "shardId-000000000007", StartingPosition: { Type: "LATEST" } });
  check(bad.status === 400 && bad.body.__type === "ResourceNotFoundException", "unknown shard");

  // HTTP/1.1: refused with a clear error (the answer is an event stream).
  const h1 = await new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, method: "POST", path: "/", headers: {
      "content-type": JSON_TYPE, "x-amz-target": "Kinesis_20131202.SubscribeToShard" } }, (res) => {
      const chunks = [];
      res.on("data", (d) => chunks.push(d));
      res.on("end", () => resolve({ status: res.statusCode, body: JSON.parse(Buffer.concat(chunks)) }));
    });
    req.on("error", reject);
    req.end(JSON.stringify({ ConsumerARN: consumer, ShardId: "shardId-000000000000",
      StartingPosition: { Type: "LATEST" } }));
  });
  check(h1.status === 400 && h1.body.__type === "InvalidArgumentException" &&
    /HTTP\/2/.test(h1.body.message), `HTTP/1.1: ${JSON.stringify(h1.body)}`);

  // For the hold mode of a later run.
  await ok(session, "RegisterStreamConsumer", { StreamARN: streamArn, ConsumerName: "holder" });
  console.log(`raw efo: ${checks} checks passed`);
  session.close();
})().catch((e) => { console.error(e); process.exit(1); });
