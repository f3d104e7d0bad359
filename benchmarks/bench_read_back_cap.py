"""Prints driftctl's peak RSS when a Pushgateway answers the read-back with a huge body, capped and not.

    python benchmarks/bench_read_back_cap.py [--megabytes 600]

A loopback server streams `--megabytes` MB (chunked, no Content-Length, so the cap must count what it
reads); each read-back runs in a child process whose peak RSS is reported: once with driftctl's cap
(`MAX_RESPONSE_BYTES`), once with the cap lifted (every byte held, as before the cap).
Figures, not assertions.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from driftctl.history.pushgateway import MAX_RESPONSE_BYTES, PushgatewayError, PushOptions, read_back

_CHUNK = b"x" * (1 << 20)


def _server(megabytes: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                for _ in range(megabytes):
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(_CHUNK), _CHUNK))
                self.wfile.write(b"0\r\n\r\n")
            except OSError:
                pass  # the client stopped reading: the cap did its job

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _child(url: str, cap: int, out: multiprocessing.Queue[tuple[str, float, int]]) -> None:
    started = time.perf_counter()
    options = PushOptions(url=url, job="j", attempts=1, timeout_seconds=120, max_response_bytes=cap)
    try:
        read_back(options)
        said = "read whole"
    except PushgatewayError as error:
        said = "refused: " + str(error).split(": ")[-1].split(";")[0]
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out.put((said, time.perf_counter() - started, peak_kib))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=600)
    args = parser.parse_args()
    server = _server(args.megabytes)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    context = multiprocessing.get_context("spawn")
    for label, cap in (("capped (64 MiB)", MAX_RESPONSE_BYTES), ("cap lifted", 1 << 40)):
        queue: multiprocessing.Queue[tuple[str, float, int]] = context.Queue()
        child = context.Process(target=_child, args=(url, cap, queue))
        child.start()
        said, seconds, peak_kib = queue.get(timeout=600)
        child.join(timeout=60)
        peak = f"peak RSS {peak_kib / 1024:5.0f} MB"
        print(f"{args.megabytes} MB body, {label:<16} {peak}  {seconds:6.2f} s  {said}")
    server.shutdown()


if __name__ == "__main__":
    main()
