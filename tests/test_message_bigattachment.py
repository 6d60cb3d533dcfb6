"""A 50 MB attachment read from a Python file object is streamed, never held whole."""

import json
import subprocess
import sys
import textwrap

SIZE = 50 * 1024 * 1024

SCRIPT = textwrap.dedent(
    """
    import io, json, resource, sys, tracemalloc
    import pocosmtp

    SIZE = int(sys.argv[1])

    class Pattern(io.RawIOBase):
        # SIZE bytes of a repeating pattern, made chunk by chunk.
        def __init__(self):
            self.left = SIZE
            self.block = bytes(range(256)) * 256
        def readable(self):
            return True
        def readinto(self, buffer):
            n = min(len(buffer), self.left, len(self.block))
            buffer[:n] = self.block[:n]
            self.left -= n
            return n

    class Counter:
        def __init__(self):
            self.total = 0
            self.largest = 0
        def write(self, data):
            self.total += len(data)
            self.largest = max(self.largest, len(data))
            return len(data)

    def message(source):
        msg = pocosmtp.MailMessage()
        msg.setSender("a@example.org")
        msg.addContent(pocosmtp.StringPartSource("see attachment"))
        msg.addAttachment("big.bin", source)
        return msg

    # Warm up, so first-use allocations do not count.
    message(pocosmtp.StringPartSource(b"x" * 100000)).write(Counter())

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    sink = Counter()
    message(pocosmtp.FileObjectPartSource(Pattern(), "application/octet-stream")).write(sink)
    _, py_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({
        "total": sink.total, "largest": sink.largest, "py_peak": py_peak,
        "rss_growth_kib": rss_after - rss_before,
    }))
    """
)


def test_fifty_megabyte_attachment_is_streamed_in_bounded_memory() -> None:
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(SIZE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)

    encoded = 4 * -(-SIZE // 3)
    line_breaks = 2 * ((encoded - 1) // 72)
    assert result["total"] > encoded + line_breaks
    assert result["largest"] <= 64 * 1024
    assert result["py_peak"] < 2 * 1024 * 1024
    assert result["rss_growth_kib"] < 16 * 1024
