// The AWS SDK for JavaScript v3 (@aws-sdk/client-kinesis) against
// kstream-serve: the whole round trip with byte-exact binary data.
// Usage: node serve_js.mjs URL STREAM http1|h2|h2-shared (NODE_PATH unused:
// run from the cache dir's node_modules via createRequire). "h2" keeps the
// client's default handler, HTTP/2 (h2c with prior knowledge on an http://
// URL), which for Kinesis opens a connection per request (the client sets
// disableConcurrentStreams: true);
// "h2-shared" is NodeHttp2Handler with disableConcurrentStreams: false, all
// requests as streams of one connection; "http1" passes NodeHttpHandler, as
// users of HTTP/1.1-only emulators must.
import { createRequire } from "node:module";
import { randomBytes } from "node:crypto";
import assert from "node:assert/strict";

const require = createRequire(process.env.KSTREAM_NPM_DIR + "/package.json");
const K = require("@aws-sdk/client-kinesis");
const { NodeHttpHandler, NodeHttp2Handler } = require("@smithy/node-http-handler");

const [url, stream, protocol] = process.argv.slice(2);
assert.ok(["http1", "h2", "h2-shared"].includes(protocol), "protocol: http1, h2 or h2-shared");
const handlers = {
  http1: () => new NodeHttpHandler(),
  "h2-shared": () => new NodeHttp2Handler({ disableConcurrentStreams: false }),
};
const client = new K.KinesisClient({
  endpoint: url,
  region: "us-east-1",
  credentials: { accessKeyId: "test", secretAccessKey: "test" },
  ...(handlers[protocol] ? { requestHandler: handlers[protocol]() } : {}),
});
const send = (Command, input) => client.send(new Command(input));
let checks = 0;
const check = (cond, what) => { assert.ok(cond, what); checks++; };
const handler = client.config.requestHandler;
check((handler.metadata?.handlerProtocol ?? "") === (protocol === "http1" ? "http/1.1" : "h2"),
  `request handler ${handler.constructor.name} speaks ${protocol}`);

async function readShard(shardId) {
  let it = (await send(K.GetShardIteratorCommand, {
    StreamName: stream, ShardId: shardId, ShardIteratorType: "TRIM_HORIZON" })).ShardIterator;
  const out = [];
  for (;;) {
    const r = await send(K.GetRecordsCommand, { ShardIterator: it, Limit: 50 });
    out.push(...r.Records);
    if (!r.NextShardIterator) return { records: out, children: r.ChildShards };
    if (r.Records.length === 0) return { records: out, children: null };
    it = r.NextShardIterator;
  }
}

await send(K.CreateStreamCommand, { StreamName: stream, ShardCount: 2 });
const d = (await send(K.DescribeStreamCommand, { StreamName: stream })).StreamDescription;
check(d.StreamStatus === "ACTIVE" && d.Shards.length === 2, "describe");
check(d.StreamCreationTimestamp instanceof Date && !isNaN(d.StreamCreationTimestamp), "timestamp");

const payloads = new Map();
for (let i = 0; i < 120; i++) payloads.set(`k${i}`, randomBytes((i * 53) % 3000 + 1));
const one = await send(K.PutRecordCommand, {
  StreamName: stream, PartitionKey: "one", Data: Uint8Array.from([0, 1, 2, 255, 10]) });
check(one.ShardId.startsWith("shardId-") && BigInt(one.SequenceNumber) > 0n, "put-record");
const put = await send(K.PutRecordsCommand, { StreamName: stream,
  Records: [...payloads].map(([k, v]) => ({ PartitionKey: k, Data: v })) });
check(put.FailedRecordCount === 0 && put.Records.length === 120, "put-records");
// Near the 5 MiB request limit: bodies and answers that span many frames and windows.
const big = [0, 1, 2, 3].map((i) => [`big${i}`, randomBytes(1000000 + i)]);
const putBig = await send(K.PutRecordsCommand, { StreamName: stream,
  Records: big.map(([k, v]) => ({ PartitionKey: k, Data: v })) });
check(putBig.FailedRecordCount === 0, "put-records of 4 MB");
for (const [k, v] of big) payloads.set(k, v);

const shards = (await send(K.ListShardsCommand, { StreamName: stream })).Shards;
check(shards.length === 2, "list-shards");
const got = new Map();
// The shards are read at the same time (over h2-shared: streams of one connection).
for (const shard of await Promise.all(shards.map((s) => readShard(s.ShardId))))
  for (const r of shard.records) {
    got.set(r.PartitionKey, Buffer.from(r.Data));
    check(r.ApproximateArrivalTimestamp instanceof Date, "arrival timestamp");
  }
check(Buffer.from([0, 1, 2, 255, 10]).equals(got.get("one")), "put-record data");
for (const [k, v] of payloads) check(v.equals(got.get(k)), `data of ${k} byte-exact`);

await send(K.SplitShardCommand, { StreamName: stream, ShardToSplit: "shardId-000000000000",
  NewStartingHashKey: "85070591730234615865843651857942052864" });
const end = await readShard("shardId-000000000000");
check(end.children && end.children.length === 2, "split: ChildShards at shard end");
await send(K.MergeShardsCommand, { StreamName: stream, ShardToMerge: "shardId-000000000002",
  AdjacentShardToMerge: "shardId-000000000003" });
const usc = await send(K.UpdateShardCountCommand, { StreamName: stream, TargetShardCount: 3,
  ScalingType: "UNIFORM_SCALING" });
check(usc.CurrentShardCount === 2 && usc.TargetShardCount === 3, "update-shard-count");
const summary = (await send(K.DescribeStreamSummaryCommand, { StreamName: stream }))
  .StreamDescriptionSummary;
check(summary.OpenShardCount === 3, "3 open shards");

try {
  await send(K.GetShardIteratorCommand, { StreamName: "nope", ShardId: "shardId-000000000000",
    ShardIteratorType: "LATEST" });
  check(false, "missing stream");
} catch (e) {
  check(e.name === "ResourceNotFoundException", `missing stream: ${e.name}`);
}
// Many requests in flight (over h2-shared: streams of one HTTP/2 connection).
const many = await Promise.all([...Array(40).keys()].map((i) => send(K.PutRecordCommand, {
  StreamName: stream, PartitionKey: `m${i}`, Data: Buffer.from(`many-${i}`) })));
check(many.every((r) => r.ShardId.startsWith("shardId-")), "40 concurrent put-records");
await send(K.DeleteStreamCommand, { StreamName: stream });
const names = (await send(K.ListStreamsCommand, {})).StreamNames;
check(!names.includes(stream), "delete-stream");
console.log(`js sdk (${protocol}): ${checks} checks`);
