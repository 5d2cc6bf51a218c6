// The streams of one HTTP/2 connection to kstream-serve are answered at
// once, through Node's own http2 client (one session, many streams):
//
//   node serve_h2_streams.js PORT slow STREAM LOCK
//     A PutRecords into STREAM (one shard) waits on the shard's writer lock
//     LOCK, held by another process (flock(1)), as it would behind any other
//     writer of the store; a ListStreams sent after it on the same
//     connection is answered meanwhile. Released, the put is answered.
//   node serve_h2_streams.js PORT many STREAM
//     100 streams at once on one connection: PutRecords of random bytes,
//     then GetShardIterator, then GetRecords mixed with more PutRecords;
//     every answer belongs to its stream and every record reads back
//     byte-exact at the sequence number its put was answered with.
//   node serve_h2_streams.js PORT stop STREAM LOCK SERVER_PID
//     PutRecords in flight (held by LOCK) when the server gets SIGTERM, and
//     more sent until its GOAWAY arrives: each stream is either answered
//     200 or above the GOAWAY's last stream id (refused, safe to retry).
//     Prints the data of the answered puts, one per line, to stdout.
"use strict";
const assert = require("node:assert/strict");
const crypto = require("node:crypto");
const http2 = require("node:http2");
const { spawn } = require("node:child_process");

const [port, mode, stream, lockPath, serverPid] = process.argv.slice(2);

// A Kinesis call on `session`; resolves with {status, json, id} (id: the
// HTTP/2 stream id), or {refused, id} if the stream never got an answer.
function call(session, op, body) {
  return new Promise((resolve, reject) => {
    const req = session.request({
      ":method": "POST", ":path": "/", "content-type": "application/x-amz-json-1.1",
      "x-amz-target": `Kinesis_20131202.${op}`,
    });
    let status = 0;
    const chunks = [];
    req.on("response", (h) => { status = h[":status"]; });
    req.on("data", (d) => chunks.push(d));
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString();
      resolve({ status, id: req.id, json: text ? JSON.parse(text) : null });
    });
    req.on("error", (e) => (status ? reject(e) : resolve({ refused: true, id: req.id, error: e })));
    req.end(JSON.stringify(body));
  });
}

function ok(r, what) {
  assert.ok(!r.refused, `${what}: refused (${r.error})`);
  assert.equal(r.status, 200, `${what}: ${JSON.stringify(r.json)}`);
  return r.json;
}

// Holds LOCK with flock(1) until release() (flock's stdin closes).
async function holdLock(path) {
  const child = spawn("flock", [path, "sh", "-c", "echo held; exec cat >/dev/null"],
    { stdio: ["pipe", "pipe", "inherit"] });
  await new Promise((resolve, reject) => {
    child.stdout.once("data", resolve);
    child.once("exit", (code) => reject(new Error(`flock exited ${code}`)));
  });
  return () => new Promise((resolve) => { child.once("exit", resolve); child.stdin.end(); });
}

// Resolves with p's value, or fails after ms: a hang, not a timing check.
function within(ms, p, what) {
  let timer;
  const t = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms / 1000} s`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

const connect = () => http2.connect(`http://127.0.0.1:${port}`);
const b64 = (buf) => buf.toString("base64");

async function slow() {
  const release = await holdLock(lockPath);
  const session = connect();
  let putDone = false;
  const put = call(session, "PutRecords", { StreamName: stream,
    Records: [{ PartitionKey: "k", Data: b64(Buffer.from("behind the lock")) }] })
    .then((r) => { putDone = true; return r; });
  const list = await within(30000, call(session, "ListStreams", {}),
    "ListStreams on the connection of a PutRecords held by the shard's lock");
  assert.ok(ok(list, "ListStreams").StreamNames.includes(stream));
  assert.equal(putDone, false, "the PutRecords is still held by the lock");
  await release();
  const answer = ok(await within(30000, put, "the PutRecords once the lock is free"), "PutRecords");
  assert.equal(answer.FailedRecordCount, 0);
  assert.ok(list.id > 0 && (await put).id < list.id, "the put was the earlier stream");
  session.close();
  console.log("slow put, quick list: ok");
}

async function many() {
  const session = connect();
  const expected = new Map();  // "shard/seq" -> data
  const batches = [];          // per put stream: [{shard, seq, data}]
  const put = async (i) => {
    const records = [];
    for (let j = 0; j < 1 + (i % 25); j++) {
      const data = crypto.randomBytes(crypto.randomInt(0, 3000));
      records.push({ PartitionKey: `k${i}-${j}-${crypto.randomInt(1e9)}`, Data: data });
    }
    const r = ok(await call(session, "PutRecords", { StreamName: stream,
      Records: records.map((x) => ({ PartitionKey: x.PartitionKey, Data: b64(x.Data) })) }),
    `PutRecords ${i}`);
    assert.equal(r.FailedRecordCount, 0);
    assert.equal(r.Records.length, records.length, `PutRecords ${i}: one result per record`);
    const batch = r.Records.map((x, j) => {
      const key = `${x.ShardId}/${x.SequenceNumber}`;
      assert.ok(!expected.has(key), `PutRecords ${i}: sequence number ${key} given twice`);
      expected.set(key, records[j].Data);
      return { shard: x.ShardId, seq: x.SequenceNumber, data: records[j].Data };
    });
    batches.push(batch);
  };
  // Reads `limit` records of a shard from a record's sequence number and
  // checks each against what its put was answered with.
  const readFrom = async (first, limit) => {
    const it = ok(await call(session, "GetShardIterator", { StreamName: stream,
      ShardId: first.shard, ShardIteratorType: "AT_SEQUENCE_NUMBER",
      StartingSequenceNumber: first.seq }), "GetShardIterator").ShardIterator;
    const got = ok(await call(session, "GetRecords", { ShardIterator: it, Limit: limit }),
      "GetRecords").Records;
    assert.ok(got.length >= 1, "GetRecords from a record that exists");
    assert.equal(got[0].SequenceNumber, first.seq, "GetRecords starts at its iterator");
    for (const rec of got) {
      const want = expected.get(`${first.shard}/${rec.SequenceNumber}`);
      assert.ok(want, `record ${rec.SequenceNumber} was put`);
      assert.ok(Buffer.from(rec.Data, "base64").equals(want), `record ${rec.SequenceNumber} byte-exact`);
    }
  };
  await Promise.all(Array.from({ length: 100 }, (_, i) => put(i)));
  // 50 reads and 50 more puts at once on the same connection.
  const firsts = batches.slice(0, 50).map((b) => b[0]);
  await Promise.all([...firsts.map((f, i) => readFrom(f, 1 + (i % 25))),
    ...Array.from({ length: 50 }, (_, i) => put(100 + i))]);
  // Every record of every shard, read back in full: exactly what was put.
  const shards = ok(await call(session, "ListShards", { StreamName: stream }), "ListShards").Shards;
  let seen = 0;
  await Promise.all(shards.map(async (s) => {
    let it = ok(await call(session, "GetShardIterator", { StreamName: stream, ShardId: s.ShardId,
      ShardIteratorType: "TRIM_HORIZON" }), "GetShardIterator").ShardIterator;
    for (;;) {
      const r = ok(await call(session, "GetRecords", { ShardIterator: it, Limit: 10000 }), "GetRecords");
      for (const rec of r.Records) {
        const want = expected.get(`${s.ShardId}/${rec.SequenceNumber}`);
        assert.ok(want && Buffer.from(rec.Data, "base64").equals(want),
          `${s.ShardId} record ${rec.SequenceNumber} byte-exact`);
        seen++;
      }
      if (r.Records.length === 0 || r.MillisBehindLatest === 0 && r.Records.length < 10000) break;
      it = r.NextShardIterator;
    }
  }));
  assert.equal(seen, expected.size, "every record put is read back once");
  session.close();
  console.log(`100 streams: ${batches.length} puts, ${expected.size} records byte-exact: ok`);
}

async function stop() {
  const release = await holdLock(lockPath);
  const session = connect();
  const goaway = new Promise((resolve) =>
    session.on("goaway", (code, lastStreamID) => resolve({ code, lastStreamID })));
  let sawGoaway = false;
  goaway.then(() => { sawGoaway = true; });
  session.on("error", () => {});
  const puts = [];
  const sendPut = (n) => {
    const data = `put-${n}`;
    puts.push(call(session, "PutRecords", { StreamName: stream,
      Records: [{ PartitionKey: data, Data: b64(Buffer.from(data)) }] }).then((r) => ({ r, data })));
  };
  for (let n = 0; n < 5; n++) sendPut(n);
  // Answered only once the server has read the puts before it: they are in flight.
  ok(await within(30000, call(session, "ListStreams", {}), "ListStreams"), "ListStreams");
  process.kill(Number(serverPid), "SIGTERM");
  // More puts until the GOAWAY comes: some may cross it.
  for (let n = 5; !sawGoaway && n < 1000; n++) {
    try { sendPut(n); } catch { break; }  // the session is closing
    await new Promise((r) => setImmediate(r));
  }
  const { code, lastStreamID } = await within(30000, goaway, "GOAWAY after SIGTERM");
  assert.equal(code, 0, "GOAWAY without error");
  await release();
  let answered = 0;
  const refused = [];
  for (const { r, data } of await within(30000, Promise.all(puts), "the puts in flight")) {
    if (r.refused) {
      assert.ok(r.id === undefined || r.id > lastStreamID,
        `stream ${r.id} refused though at or below the GOAWAY's last stream id ${lastStreamID}`);
      refused.push(r.id ?? "unsent");
    } else {
      assert.ok(r.id <= lastStreamID, `stream ${r.id} answered above last stream id ${lastStreamID}`);
      assert.equal(ok(r, data).FailedRecordCount, 0);
      console.log(data);
      answered++;
    }
  }
  assert.ok(answered >= 5, "the puts sent before SIGTERM are answered");
  console.error(`stop: ${answered} answered, ${refused.length} refused (streams ${refused.join(" ")}),` +
    ` last stream id ${lastStreamID}`);
  session.destroy();
}

({ slow, many, stop })[mode]().catch((e) => { console.error(e); process.exit(1); });
