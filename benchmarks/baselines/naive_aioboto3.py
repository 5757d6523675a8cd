"""The obvious script: aioboto3's LookupEvents paginator, one region after another, one
JSON line per event. What trailsweep is compared against in benchmarks/sweep.py.

    python naive_aioboto3.py START END REGION [REGION ...]   (credentials from the env)
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime

import aioboto3


async def main(start: int, end: int, regions: list[str]) -> None:
    session = aioboto3.Session()
    out = sys.stdout
    for region in regions:
        async with session.client("cloudtrail", region_name=region) as ct:
            paginator = ct.get_paginator("lookup_events")
            window = {
                "StartTime": datetime.fromtimestamp(start, UTC),
                "EndTime": datetime.fromtimestamp(end, UTC),
            }
            async for page in paginator.paginate(**window):
                for event in page["Events"]:
                    event["EventTime"] = event["EventTime"].isoformat()
                    event["CloudTrailEvent"] = json.loads(event["CloudTrailEvent"])
                    out.write(json.dumps({"region": region, **event}) + "\n")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]))
