"""A fault-injecting proxy for the --endpoint tests, between a kstream tool
and a Kinesis-compatible endpoint (on 127.0.0.1 only).

It forwards every call, except that it makes PutRecords and GetRecords fail
the ways Amazon Kinesis does under load, without ever losing or duplicating
a record:
  - PutRecords call 1: HTTP 500 InternalFailure (nothing forwarded);
  - PutRecords call 2: HTTP 400 ProvisionedThroughputExceededException;
  - every later PutRecords of more than one record: only the first half is
    forwarded; the rest is answered as per-record
    ProvisionedThroughputExceededException failures (FailedRecordCount), as
    a shard throttled part-way through a call;
  - every third GetRecords: HTTP 400 ProvisionedThroughputExceededException.
Counters (calls, injected faults, the largest PutRecords seen in records and
bytes) are rewritten to STATS_FILE after every call.

usage: endpoint_proxy.py UPSTREAM_URL STATS_FILE
"""
import base64
import json
import sys
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

UPSTREAM, STATS_FILE = sys.argv[1], sys.argv[2]
LOCK = threading.Lock()
STATS = {"put_calls": 0, "get_calls": 0, "faults": 0, "record_faults": 0,
         "max_put_records": 0, "max_put_bytes": 0}


def save_stats():
    with open(STATS_FILE + ".tmp", "w") as f:
        json.dump(STATS, f)
    import os
    os.replace(STATS_FILE + ".tmp", STATS_FILE)


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body):
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def fault(self, status, kind, message):
        STATS["faults"] += 1
        save_stats()
        self.answer(status, {"__type": kind, "message": message})

    def forward(self, body):
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("host", "content-length", "connection")}
        req = urllib.request.Request(UPSTREAM + "/", data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        op = self.headers.get("X-Amz-Target", "").split(".")[-1]
        with LOCK:
            if op == "PutRecords":
                self.put_records(body)
                return
            if op == "GetRecords":
                STATS["get_calls"] += 1
                if STATS["get_calls"] % 3 == 0:
                    self.fault(400, "ProvisionedThroughputExceededException",
                               "Rate exceeded for shard in stream under account 000000000000.")
                    return
            status, data = self.forward(body)
            save_stats()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def put_records(self, body):
        STATS["put_calls"] += 1
        request = json.loads(body)
        records = request["Records"]
        size = sum(len(base64.b64decode(r["Data"])) + len(r["PartitionKey"].encode())
                   for r in records)
        STATS["max_put_records"] = max(STATS["max_put_records"], len(records))
        STATS["max_put_bytes"] = max(STATS["max_put_bytes"], size)
        if STATS["put_calls"] == 1:
            return self.fault(500, "InternalFailure", "injected")
        if STATS["put_calls"] == 2:
            return self.fault(400, "ProvisionedThroughputExceededException", "injected")
        keep = len(records) if len(records) == 1 else len(records) // 2
        request["Records"] = records[:keep]
        status, data = self.forward(json.dumps(request).encode())
        if status != 200:
            save_stats()
            return self.answer(status, json.loads(data or b"{}"))
        result = json.loads(data)
        for _ in records[keep:]:
            result["Records"].append({"ErrorCode": "ProvisionedThroughputExceededException",
                                      "ErrorMessage": "Rate exceeded for shard (injected)."})
        STATS["record_faults"] += len(records) - keep
        result["FailedRecordCount"] = result.get("FailedRecordCount", 0) + len(records) - keep
        save_stats()
        self.answer(200, result)


server = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
save_stats()
print("listening on %d" % server.server_address[1], flush=True)
server.serve_forever()
