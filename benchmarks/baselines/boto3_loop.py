"""The plainest script: boto3's LookupEvents paginator, one region after another, each
event written as one JSON line with `json.dumps`. What benchmarks/cpu.py compares the
client's CPU per event with.

    python boto3_loop.py START END REGION [REGION ...]   (credentials from the env)
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime

import boto3


def main(start: int, end: int, regions: list[str]) -> None:
    session = boto3.Session()
    window = {
        "StartTime": datetime.fromtimestamp(start, UTC),
        "EndTime": datetime.fromtimestamp(end, UTC),
    }
    out = sys.stdout
    for region in regions:
        client = session.client("cloudtrail", region_name=region)
        for page in client.get_paginator("lookup_events").paginate(**window):
            for event in page["Events"]:
                out.write(json.dumps({"region": region, **event}, default=str) + "\n")


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:])
