"""How many realistic 50-event LookupEvents pages the emulator serves per second of its CPU.

The emulator runs in its own process (`trailsweep emulator`); this process signs requests
with botocore's SigV4 and sends them with aiohttp. The figure that matters is pages per
second of the *server's* CPU time (read from /proc), so the client's own cost does not
count against it. Cold = first time each page is rendered; warm = rendered pages cached.

    python benchmarks/emulator.py [--pages 400] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

TARGET = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents"
RESULTS = Path(__file__).parent / "results"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def signed(info: dict[str, Any], body: bytes) -> dict[str, str]:
    req = AWSRequest(
        method="POST",
        url=info["url"] + "/",
        data=body,
        headers={"X-Amz-Target": TARGET, "Content-Type": "application/x-amz-json-1.1"},
    )
    creds = Credentials(info["access_key_id"], info["secret_access_key"])
    SigV4Auth(creds, "cloudtrail", info["region"]).add_auth(req)
    return dict(req.headers.items())


async def run(pages: int, concurrency: int) -> dict[str, Any]:
    proc = subprocess.Popen(  # noqa: ASYNC220 - started once, before any concurrency
        [sys.executable, "-m", "trailsweep", "emulator", "--port", "0", "--rate", "1000000",
         "--events-per-day", "3000", "--skew", "1", "--members", "1"],
        stdout=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        async with aiohttp.ClientSession() as http:
            bodies: list[bytes] = []
            token = None
            sizes = []
            cpu0 = cpu_seconds(proc.pid)
            for _ in range(pages):  # cold: walk the NextToken chain, every page rendered anew
                req: dict[str, Any] = {"MaxResults": 50}
                if token:
                    req["NextToken"] = token
                body = json.dumps(req).encode()
                bodies.append(body)
                async with http.post(info["url"] + "/", data=body, headers=signed(info, body)) as r:
                    payload = await r.read()
                    assert r.status == 200, payload[:200]
                doc = json.loads(payload)
                sizes.append(len(payload))
                token = doc.get("NextToken")
            cold_cpu = cpu_seconds(proc.pid) - cpu0
            requests = [(b, signed(info, b)) for b in bodies]
            queue: asyncio.Queue[tuple[bytes, dict[str, str]]] = asyncio.Queue()
            for item in requests * 3:
                queue.put_nowait(item)

            async def worker() -> None:
                while not queue.empty():
                    body, headers = queue.get_nowait()
                    async with http.post(info["url"] + "/", data=body, headers=headers) as r:
                        await r.read()
                        assert r.status == 200

            cpu0, t0 = cpu_seconds(proc.pid), time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            warm_cpu, warm_wall = cpu_seconds(proc.pid) - cpu0, time.perf_counter() - t0
        warm_pages = len(requests) * 3
        return {
            "pages_cold": pages,
            "pages_warm": warm_pages,
            "mean_page_bytes": round(sum(sizes) / len(sizes)),
            "cold_pages_per_cpu_second": round(pages / cold_cpu, 1),
            "warm_pages_per_cpu_second": round(warm_pages / warm_cpu, 1),
            "warm_pages_per_wall_second": round(warm_pages / warm_wall, 1),
            "warm_over_cold": round((warm_pages / warm_cpu) / (pages / cold_cpu), 2),
        }
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    result = asyncio.run(run(args.pages, args.concurrency))
    print("| figure | value |\n| --- | --- |")
    for key, value in result.items():
        print(f"| {key} | {value} |")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "emulator.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
