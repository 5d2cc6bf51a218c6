"""Puts numbered records through kstream-serve (PutRecords of `batch`) until
told to stop or `count` are written; prints one line per acknowledged record
("key data"), so a test can check that every acknowledged record is stored.
Usage: serve_writer.py URL STREAM PREFIX COUNT BATCH"""
import sys

from serve_client import Conn, b64

url, stream, prefix, count, batch = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
conn = Conn(url)
n = 0
try:
    while n < count:
        recs = [(f"{prefix}-{i}", f"{prefix} record {i}") for i in range(n, min(n + batch, count))]
        status, body = conn.call("PutRecords", {"StreamName": stream, "Records": [
            {"PartitionKey": k, "Data": b64(d.encode())} for k, d in recs]})
        assert status == 200 and body["FailedRecordCount"] == 0, (status, body)
        for k, d in recs:
            print(k, d, flush=True)
        n += len(recs)
except (ConnectionError, OSError):
    pass  # the server stopped: what was acknowledged is printed
