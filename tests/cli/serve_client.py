"""A minimal Kinesis JSON 1.1 client on the standard library, for the
kstream-serve CLI tests: raw requests (bad ones included) without an SDK."""
import base64
import http.client
import json
import urllib.parse

TARGET = "Kinesis_20131202."
JSON_TYPE = "application/x-amz-json-1.1"
CBOR_TYPE = "application/x-amz-cbor-1.1"


class Conn:
    def __init__(self, url):
        u = urllib.parse.urlparse(url)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)

    def raw(self, target, body, content_type=JSON_TYPE):
        """POST / with the given X-Amz-Target and bytes; (status, headers, body)."""
        headers = {"Content-Type": content_type, "Authorization": "AWS4-HMAC-SHA256 dummy"}
        if target is not None:
            headers["X-Amz-Target"] = target
        self.conn.request("POST", "/", body=body, headers=headers)
        r = self.conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()

    def call(self, op, request):
        """A JSON request; (status, decoded body or None)."""
        status, _, body = self.raw(TARGET + op, json.dumps(request).encode())
        return status, (json.loads(body) if body else None)

    def ok(self, op, request):
        status, body = self.call(op, request)
        assert status == 200, (op, status, body)
        return body


def b64(data):
    return base64.b64encode(data).decode()
