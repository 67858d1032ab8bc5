"""An OTLP/HTTP trace receiver for tests: keeps the spans it is sent and
shows them as JSON.

    python3 otlp_receiver.py PORT

    POST   /v1/traces          OTLP/HTTP export (protobuf or JSON, gzip or not)
    GET    /spans?service=S    the spans received from service S (all without
                               ?service), oldest first, as a JSON list
    GET    /tree?service=S     the same spans as a tree: a JSON list of lines,
                               each a span's name indented under its parent's,
                               with its status code or outcome
    DELETE /spans?service=S    forgets them
    GET    /healthz            200 when listening

Each span is flattened to one JSON object: trace_id, span_id and
parent_span_id in hex, name, kind, start and end in nanoseconds since the
epoch, attributes, status, and the resource's attributes (the service is
resource["service.name"]). At most MAX_SPANS are kept; older ones go first.
"""

import collections
import gzip
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

MAX_SPANS = 200_000

spans = collections.deque(maxlen=MAX_SPANS)
lock = threading.Lock()


def any_value(value):
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [any_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return attributes(value.kvlist_value.values)
    if kind == "bytes_value":
        return value.bytes_value.hex()
    return getattr(value, kind) if kind else None


def attributes(pairs):
    return {pair.key: any_value(pair.value) for pair in pairs}


def tree(found):
    """Lines of `found` as a tree, children under their parent in start order."""
    ids = {s["span_id"] for s in found}
    children = collections.defaultdict(list)
    for span in sorted(found, key=lambda s: s["start_ns"]):
        parent = span["parent_span_id"] if span["parent_span_id"] in ids else None
        children[parent].append(span)
    lines = []

    def walk(parent, depth):
        for span in children[parent]:
            attributes = span["attributes"]
            outcome = attributes.get("http.response.status_code", attributes.get("summer.outcome"))
            suffix = "" if outcome is None else f" {outcome}"
            lines.append("  " * depth + span["name"] + suffix)
            walk(span["span_id"], depth + 1)

    walk(None, 0)
    return lines


def flatten(request):
    for resource_spans in request.resource_spans:
        resource = attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                yield {
                    "trace_id": span.trace_id.hex(),
                    "span_id": span.span_id.hex(),
                    "parent_span_id": span.parent_span_id.hex(),
                    "trace_state": span.trace_state,
                    "name": span.name,
                    "kind": trace_pb2.Span.SpanKind.Name(span.kind),
                    "start_ns": span.start_time_unix_nano,
                    "end_ns": span.end_time_unix_nano,
                    "attributes": attributes(span.attributes),
                    "status": {
                        "code": trace_pb2.Status.StatusCode.Name(span.status.code),
                        "message": span.status.message,
                    },
                    "resource": resource,
                    "scope": scope_spans.scope.name,
                }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body, content_type="application/json"):
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def service(self):
        return parse_qs(urlparse(self.path).query).get("service", [None])[0]

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        if urlparse(self.path).path != "/v1/traces":
            return self.reply(404, b'{"error":"only /v1/traces"}')
        if self.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        request = trace_service_pb2.ExportTraceServiceRequest()
        try:
            if self.headers.get("content-type", "").startswith("application/json"):
                json_format.Parse(body, request)
            else:
                request.ParseFromString(body)
        except Exception as error:  # a malformed export is the client's fault
            return self.reply(400, json.dumps({"error": str(error)}).encode())
        with lock:
            spans.extend(flatten(request))
        answer = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
        self.reply(200, answer, "application/x-protobuf")

    def do_GET(self):
        path = urlparse(self.path).path
        if path == "/healthz":
            return self.reply(200, b"{}")
        if path not in ("/spans", "/tree"):
            return self.reply(404, b'{"error":"not found"}')
        service = self.service()
        with lock:
            found = [s for s in spans if service is None or s["resource"].get("service.name") == service]
        self.reply(200, json.dumps(found if path == "/spans" else tree(found)).encode())

    def do_DELETE(self):
        service = self.service()
        with lock:
            kept = [s for s in spans if service is not None and s["resource"].get("service.name") != service]
            spans.clear()
            spans.extend(kept)
        self.reply(200, b"{}")


def main():
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
    print(f"otlp receiver listening on 127.0.0.1:{sys.argv[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
