// Enhanced fan-out with the AWS SDK for JavaScript v3 against kstream-serve:
// RegisterStreamConsumer, wait for ACTIVE, SubscribeToShard on each shard
// through the SDK's event-stream iterator (HTTP/2, h2c), records put before
// and during the subscription received byte-exact and in order, resumption
// from ContinuationSequenceNumber, ChildShards at the end of a split shard,
// the service's errors, then DeregisterStreamConsumer.
// Usage: node serve_efo.mjs URL STREAM
import { createRequire } from "node:module";
import { randomBytes } from "node:crypto";
import assert from "node:assert/strict";

const require = createRequire(process.env.KSTREAM_NPM_DIR + "/package.json");
const K = require("@aws-sdk/client-kinesis");

const [url, stream] = process.argv.slice(2);
const client = new K.KinesisClient({
  endpoint: url,
  region: "us-east-1",
  credentials: { accessKeyId: "test", secretAccessKey: "test" },
});
const send = (Command, input, options) => client.send(new Command(input), options);
let checks = 0;
const check = (cond, what) => { assert.ok(cond, what); checks++; };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function expectError(name, promise, what) {
  try {
    await promise;
  } catch (e) {
    check(e.name === name, `${what}: ${e.name} (${e.message}), expected ${name}`);
    return e;
  }
  assert.fail(`${what}: no error, expected ${name}`);
}

await send(K.CreateStreamCommand, { StreamName: stream, ShardCount: 2 });
const summary = async () =>
  (await send(K.DescribeStreamSummaryCommand, { StreamName: stream })).StreamDescriptionSummary;
const streamArn = (await summary()).StreamARN;
check(streamArn === `arn:aws:kinesis:us-east-1:000000000000:stream/${stream}`, streamArn);

// Records put before the subscription: random binary data, keyed so both
// shards get some; expected[shard] in put order.
const expected = new Map();
async function put(count, tag) {
  const records = [];
  for (let i = 0; i < count; i++)
    records.push({ PartitionKey: `${tag}-${i}`, Data: randomBytes((i * 97) % 2000 + 1) });
  const r = await send(K.PutRecordsCommand, { StreamName: stream, Records: records });
  check(r.FailedRecordCount === 0, "put-records");
  r.Records.forEach((res, i) => {
    if (!expected.has(res.ShardId)) expected.set(res.ShardId, []);
    expected.get(res.ShardId).push({ seq: res.SequenceNumber, key: records[i].PartitionKey,
      data: records[i].Data });
  });
}
await put(60, "before");

// Register; the answer is CREATING, as the service's; wait for ACTIVE.
const reg = (await send(K.RegisterStreamConsumerCommand,
  { StreamARN: streamArn, ConsumerName: "app-1" })).Consumer;
check(reg.ConsumerStatus === "CREATING", `registered: ${reg.ConsumerStatus}`);
check(new RegExp(`^${streamArn}/consumer/app-1:[0-9]+$`).test(reg.ConsumerARN), reg.ConsumerARN);
check(reg.ConsumerCreationTimestamp instanceof Date, "creation timestamp");
check(String(Math.floor(reg.ConsumerCreationTimestamp.getTime() / 1000)) ===
  reg.ConsumerARN.split(":").pop(), "the ARN ends with the creation epoch seconds");
const consumerArn = reg.ConsumerARN;
let status = "";
for (let i = 0; i < 100 && status !== "ACTIVE"; i++) {
  const d = (await send(K.DescribeStreamConsumerCommand, { ConsumerARN: consumerArn }))
    .ConsumerDescription;
  check(d.StreamARN === streamArn && d.ConsumerName === "app-1", "describe-stream-consumer");
  status = d.ConsumerStatus;
  if (status !== "ACTIVE") await sleep(100);
}
check(status === "ACTIVE", "the consumer became ACTIVE");
const byName = (await send(K.DescribeStreamConsumerCommand,
  { StreamARN: streamArn, ConsumerName: "app-1" })).ConsumerDescription;
check(byName.ConsumerARN === consumerArn, "describe by stream ARN and name");
await expectError("ResourceInUseException",
  send(K.RegisterStreamConsumerCommand, { StreamARN: streamArn, ConsumerName: "app-1" }),
  "a second registration of one name");
await send(K.RegisterStreamConsumerCommand, { StreamARN: streamArn, ConsumerName: "app-2" });
const page1 = await send(K.ListStreamConsumersCommand, { StreamARN: streamArn, MaxResults: 1 });
check(page1.Consumers.length === 1 && page1.NextToken, "list-stream-consumers page 1");
const page2 = await send(K.ListStreamConsumersCommand,
  { StreamARN: streamArn, NextToken: page1.NextToken });
check(page2.Consumers.length === 1 && !page2.NextToken, "list-stream-consumers page 2");
check([...page1.Consumers, ...page2.Consumers].map((c) => c.ConsumerName).join() ===
  "app-1,app-2", "listed by name");
check((await summary()).ConsumerCount === 2, "ConsumerCount");
await expectError("ResourceInUseException", send(K.DeleteStreamCommand, { StreamName: stream }),
  "delete-stream with registered consumers");

// Reads one subscription until `until` says it has enough (or the stream
// ends); returns the records, the events and how it ended.
async function subscribe(shardId, position, until, duringFirst) {
  const abort = new AbortController();
  const res = await send(K.SubscribeToShardCommand,
    { ConsumerARN: consumerArn, ShardId: shardId, StartingPosition: position },
    { abortSignal: abort.signal });
  const got = { records: [], events: [], ended: false, error: null };
  try {
    for await (const ev of res.EventStream) {
      if (!ev.SubscribeToShardEvent) continue;
      const e = ev.SubscribeToShardEvent;
      got.events.push(e);
      got.records.push(...e.Records);
      if (got.events.length === 1 && duringFirst) await duringFirst();
      if (until(got)) break;
    }
    got.ended = true;
  } catch (e) {
    got.error = e;
  } finally {
    abort.abort();
  }
  return got;
}

function checkRecords(got, want, what) {
  check(got.length === want.length, `${what}: ${got.length} records, expected ${want.length}`);
  for (let i = 0; i < want.length; i++) {
    check(got[i].SequenceNumber === want[i].seq && got[i].PartitionKey === want[i].key &&
      Buffer.from(got[i].Data).equals(want[i].data), `${what}: record ${i} byte-exact`);
    check(got[i].ApproximateArrivalTimestamp instanceof Date, `${what}: arrival timestamp`);
  }
}

// Each shard from TRIM_HORIZON: the records put before, and those put
// during the subscription (after its first event), in order.
let putDuring = false;
const last = new Map();
for (const shardId of ["shardId-000000000000", "shardId-000000000001"]) {
  const during = async () => {
    if (!putDuring) {
      putDuring = true;
      await put(40, "during");
    }
  };
  const got = await subscribe(shardId, { Type: "TRIM_HORIZON" },
    (g) => putDuring && g.records.length >= expected.get(shardId).length, during);
  check(!got.error, `subscription of ${shardId}: ${got.error}`);
  checkRecords(got.records, expected.get(shardId), shardId);
  const lastEvent = got.events[got.events.length - 1];
  check(lastEvent.ContinuationSequenceNumber === got.records[got.records.length - 1].SequenceNumber,
    "ContinuationSequenceNumber is the last record's");
  check(typeof lastEvent.MillisBehindLatest === "number", "MillisBehindLatest");
  last.set(shardId, lastEvent.ContinuationSequenceNumber);
}

// Resume from ContinuationSequenceNumber: only what came after.
const shard0 = "shardId-000000000000";
const before = expected.get(shard0).length;
await put(30, "resume");
const resumed = await subscribe(shard0,
  { Type: "AFTER_SEQUENCE_NUMBER", SequenceNumber: last.get(shard0) },
  (g) => g.records.length >= expected.get(shard0).length - before);
checkRecords(resumed.records, expected.get(shard0).slice(before), "resumed");
last.set(shard0, resumed.events[resumed.events.length - 1].ContinuationSequenceNumber);

// A second subscription of the same consumer and shard within 5 s of an
// active one is refused with ResourceInUseException.
{
  const abort = new AbortController();
  const first = await send(K.SubscribeToShardCommand, { ConsumerARN: consumerArn,
    ShardId: "shardId-000000000001", StartingPosition: { Type: "LATEST" } },
  { abortSignal: abort.signal });
  const it = first.EventStream[Symbol.asyncIterator]();
  check(!(await it.next()).done, "the first subscription's first event");
  await expectError("ResourceInUseException", send(K.SubscribeToShardCommand, {
    ConsumerARN: consumerArn, ShardId: "shardId-000000000001",
    StartingPosition: { Type: "LATEST" } }), "a second subscription while one is active");
  abort.abort();
}

// Split shard 0: resuming it delivers the rest, then an event with
// ChildShards and no ContinuationSequenceNumber, and the stream ends.
const before2 = expected.get(shard0).length;
await put(20, "split");
await send(K.SplitShardCommand, { StreamName: stream, ShardToSplit: shard0,
  NewStartingHashKey: "85070591730234615865843651857942052864" });
const ended = await subscribe(shard0,
  { Type: "AFTER_SEQUENCE_NUMBER", SequenceNumber: last.get(shard0) }, () => false);
check(ended.ended && !ended.error, `the closed shard's subscription ends cleanly: ${ended.error}`);
checkRecords(ended.records, expected.get(shard0).slice(before2), "before the split");
const endEvent = ended.events[ended.events.length - 1];
check(endEvent.ContinuationSequenceNumber === undefined, "no continuation at the shard's end");
const children = (endEvent.ChildShards ?? []).map((c) => c.ShardId).sort();
check(children.join() === "shardId-000000000002,shardId-000000000003",
  `ChildShards: ${children}`);
check(endEvent.ChildShards.every((c) => c.ParentShards.join() === shard0 &&
  c.HashKeyRange.StartingHashKey !== undefined), "child shards' parents and ranges");

// A child shard: a record put now arrives (LATEST, put during).
const child = await subscribe("shardId-000000000002", { Type: "LATEST" },
  (g) => g.records.length >= 1, async () => {
    const r = await send(K.PutRecordCommand, { StreamName: stream, PartitionKey: "c",
      Data: Buffer.from("child"), ExplicitHashKey: "1" });
    check(r.ShardId === "shardId-000000000002", "routed to the child");
  });
check(Buffer.from(child.records[0].Data).toString() === "child", "the child's record");

// Bad requests get the service's errors.
await expectError("ResourceNotFoundException", send(K.SubscribeToShardCommand, {
  ConsumerARN: `${streamArn}/consumer/nobody:1`, ShardId: shard0,
  StartingPosition: { Type: "LATEST" } }), "an unknown consumer");
await expectError("ValidationException", send(K.SubscribeToShardCommand, {
  ConsumerARN: "arn:aws:kinesis:nonsense", ShardId: shard0,
  StartingPosition: { Type: "LATEST" } }), "a malformed consumer ARN");
await expectError("ResourceNotFoundException", send(K.SubscribeToShardCommand, {
  ConsumerARN: consumerArn, ShardId: "shardId-000000000042",
  StartingPosition: { Type: "LATEST" } }), "a shard not in the stream");
await expectError("InvalidArgumentException", send(K.SubscribeToShardCommand, {
  ConsumerARN: consumerArn, ShardId: shard0, StartingPosition: { Type: "AT_SEQUENCE_NUMBER" } }),
"AT_SEQUENCE_NUMBER without a sequence number");
await expectError("ValidationException", send(K.RegisterStreamConsumerCommand, {
  StreamARN: streamArn, ConsumerName: "bad/name" }), "a bad consumer name");

// Deregister: DELETING for a moment, then gone.
await send(K.DeregisterStreamConsumerCommand, { ConsumerARN: consumerArn });
let gone = false;
for (let i = 0; i < 100 && !gone; i++) {
  try {
    const d = await send(K.DescribeStreamConsumerCommand, { ConsumerARN: consumerArn });
    check(d.ConsumerDescription.ConsumerStatus === "DELETING", "DELETING after deregister");
    await sleep(100);
  } catch (e) {
    check(e.name === "ResourceNotFoundException", `deregistered: ${e.name}`);
    gone = true;
  }
}
check(gone, "the deregistered consumer is gone");
await send(K.DeregisterStreamConsumerCommand, { StreamARN: streamArn, ConsumerName: "app-2" });
await send(K.DeleteStreamCommand, { StreamName: stream, EnforceConsumerDeletion: true });
console.log(`js efo: ${checks} checks passed`);
client.destroy();
