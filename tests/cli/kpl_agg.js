// The aws-kinesis-agg npm module on the other side of cli.kpl_interop.
//
//   node kpl_agg.js aggregate   < put-records entries  -> one entry: the aggregate
//   node kpl_agg.js deaggregate < kstream-get --json    -> one entry per user record
//
// Entries are {"PartitionKey","ExplicitHashKey"?,"Data"(base64)}, the input
// of kstream-put --json. NODE_PATH names the module's install directory.
'use strict';
const agg = require('aws-kinesis-agg');
const readline = require('readline');

const lines = [];
readline.createInterface({input: process.stdin}).on('line', (l) => {
  if (l.trim()) lines.push(JSON.parse(l));
}).on('close', () => {
  if (process.argv[2] === 'aggregate') {
    const aggregator = new agg.RecordAggregator();
    for (const e of lines) {
      const r = {partitionKey: e.PartitionKey, data: Buffer.from(e.Data, 'base64')};
      if (e.ExplicitHashKey) r.explicitHashKey = e.ExplicitHashKey;
      aggregator.addUserRecord(r);  // throws if they do not fit in one record
    }
    const out = aggregator.build();
    const entry = {PartitionKey: out.partitionKey, Data: out.data.toString('base64')};
    if (out.ExplicitHashKey) entry.ExplicitHashKey = out.ExplicitHashKey;
    process.stdout.write(JSON.stringify(entry) + '\n');
  } else if (process.argv[2] === 'deaggregate') {
    for (const e of lines) {
      const record = {partitionKey: e.PartitionKey, sequenceNumber: e.SequenceNumber, data: e.Data};
      agg.deaggregateSync(record, true, (err, users) => {
        if (err) throw err;
        for (const u of users) {
          const entry = {PartitionKey: u.partitionKey, Data: u.data};
          if (u.explicitPartitionKey) entry.ExplicitHashKey = u.explicitPartitionKey;
          process.stdout.write(JSON.stringify(entry) + '\n');
        }
      });
    }
  } else {
    throw new Error('usage: kpl_agg.js aggregate|deaggregate');
  }
});
