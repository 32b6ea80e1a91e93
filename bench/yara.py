"""YARA-X scan throughput on request bodies and IIS log lines: figures only, never pass/fail.

    .venv/bin/python bench/yara.py [--seconds 1.0] [--signature-base DIR]

For each rule set (our Exchange pack, signature-base's rules, both) it prints the compile time and scans/s
(and MB/s) for bodies of typical sizes: a 512 B form post, a 4 KiB EWS/SOAP request, a 64 KiB upload and a
1 MiB body (the default scan cap), made of real request text from the exploit builders and the OWA logon
page; then IIS W3C lines/s as ``honeyscope hunt`` scans them (one scan per line). One core, one scanner.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

from honeyscope.detect.yara import YaraScanner, builtin_yara_paths
from honeyscope.testing import exploits

HERE = Path(__file__).resolve().parent
DEFAULT_SIGNATURE_BASE = HERE.parents[1] / "shared" / "data" / "signature-base" / "yara"
LOGON = HERE.parent / "src" / "honeyscope" / "sensor" / "personas" / "exchange" / "data" / "logon.html"
IIS_LINE = (b"2021-08-09 23:59:53 10.0.0.5 POST /autodiscover/autodiscover.json a=kqzpa@mbxcv.xyz/powershell/"
            b"?X-Rps-CAT=VgEAVAdXaW5kb3dzQwBBCEtlcmJlcm9zTBlhZG1pbmlzdHJhdG9yQGNvbnRvc28uY29t&CorrelationID=<empty>;"
            b"&cafeReqId=3b6b9ea8-297b-5f12-9a92-8129e6c66076;&encoding=; 443 - 198.51.100.9 "
            b"Mozilla/5.0+(Windows+NT+10.0;+Win64;+x64) - 200 0 0 12")


def bodies() -> dict[str, bytes]:
    """Benign-looking bodies of each size (no rule should match: the common case at line rate)."""
    form = (b"destination=https%3A%2F%2Fmail.contoso.com%2Fowa%2F&flags=4&forcedownlevel=0&username=CONTOSO%5Cj.doe"
            b"&password=Winter2021%21&passwordText=&isUtf8=1&")
    soap = exploits.resolve_names_body().encode()
    page = LOGON.read_bytes()
    return {
        "512 B form": (form * 4)[:512],
        "4 KiB SOAP": (soap * 8)[:4096],
        "64 KiB upload": (page * 3)[:65536],
        "1 MiB body": (page * 40)[: 1 << 20],
    }


def rate(action: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``action`` over about ``seconds`` (bounded: at most 2,000,000 calls)."""
    action()
    count, started = 0, time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline and count < 2_000_000:
        for _ in range(16):
            action()
        count += 16
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=1.0, help="time per figure (default 1 s)")
    parser.add_argument("--signature-base", type=Path, default=DEFAULT_SIGNATURE_BASE,
                        help="signature-base yara directory (default: ../shared/data/signature-base/yara)")
    args = parser.parse_args()
    sets: dict[str, list[Path]] = {"ours": builtin_yara_paths()}
    if args.signature_base.is_dir():
        sets["signature-base"] = [args.signature_base]
        sets["ours + signature-base"] = [*builtin_yara_paths(), args.signature_base]
    else:
        print(f"signature-base not found at {args.signature_base}: only our rules are measured")
    samples = bodies()
    print(f"{'rule set':<24}{'rules':>6}{'compile':>10}  " + "".join(f"{name:>22}" for name in samples)
          + f"{'IIS lines/s':>14}")
    for name, paths in sets.items():
        started = time.perf_counter()
        scanner = YaraScanner.load(paths)
        compile_ms = (time.perf_counter() - started) * 1000
        cells = []
        for data in samples.values():
            per_second = rate(lambda data=data, scanner=scanner: scanner.scan_bytes(data), args.seconds)
            cells.append(f"{per_second:>10,.0f}/s {per_second * len(data) / 1e6:>7.1f}MB/s")
        lines = rate(lambda scanner=scanner: scanner.scan_bytes(IIS_LINE, "u_ex.log:1"), args.seconds)
        print(f"{name:<24}{scanner.rule_count:>6}{compile_ms:>8.0f}ms  " + "".join(f"{c:>22}" for c in cells)
              + f"{lines:>14,.0f}")
        assert scanner.timeouts == 0


if __name__ == "__main__":
    main()
