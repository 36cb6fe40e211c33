"""How long an approval takes to publish, per target, on loopback. Prints figures; never fails.

    .venv/bin/python bench/publish.py

Each run approves a fresh local candidate (normalise, record, publish) and times the whole
`approve_candidate` call and the publish step alone, for the local folder, S3 (moto's real
HTTP server on 127.0.0.1) and the AutoGPT store (tests/fake_store_api.py).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from imagegen.approval import approve_candidate  # noqa: E402
from imagegen.generation import run_generation, start_generation  # noqa: E402
from imagegen.publish import publish_approval  # noqa: E402
from imagegen.recipes import make_spec  # noqa: E402
from imagegen.records import Publication  # noqa: E402
from imagegen.settings import Settings  # noqa: E402
from imagegen.jobs import open_workspace  # noqa: E402

RUNS = 8


def candidates(ws, n: int) -> list[int]:
    spec = make_spec(ws, ws.get_agent("pixel-poster"), provider="local", count=n, seed=1)
    gen_id = start_generation(ws, "pixel-poster", spec)
    asyncio.run(run_generation(ws, gen_id))
    return [c.id for c in ws.get_generation(gen_id).candidates]


def measure(label: str, env: dict[str, str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.update(IMAGEGEN_DATA_DIR=tmp, **env)
        ws = open_workspace(Settings())
        approve_ms, publish_ms = [], []
        for cand in candidates(ws, RUNS):
            start = time.perf_counter()
            approval = approve_candidate(ws, cand)
            approve_ms.append((time.perf_counter() - start) * 1000)
            with ws.session() as s, s.begin():  # publish the same approval again, from scratch
                pub = s.query(Publication).filter_by(approval_id=approval.id).one()
                pub.status, pub.store_media_url = "failed", None
            start = time.perf_counter()
            publish_approval(ws, approval.id)
            publish_ms.append((time.perf_counter() - start) * 1000)
        ws.close()
        for key in env:
            os.environ.pop(key)
    print(f"{label:<14} approve+publish median {statistics.median(approve_ms):7.1f} ms   "
          f"publish alone median {statistics.median(publish_ms):7.1f} ms   (n={RUNS})")


def main() -> None:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log

    from tests.fake_store_api import FakeStoreAPI, submission

    measure("local folder", {})
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    aws = {"AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
           "AWS_REGION": "us-east-1"}
    import boto3

    os.environ.update(aws)
    boto3.client("s3").create_bucket(Bucket="bench")
    measure("s3 (moto)", {**aws, "IMAGEGEN_PUBLISH_URL": "s3://bench/thumbs"})
    moto.stop()
    store = FakeStoreAPI([submission("pixel-poster", "v-1")], max_requests=1000)
    measure("autogpt-store", {"IMAGEGEN_PUBLISH_URL": "autogpt-store", "IMAGEGEN_STORE_API_URL": store.base_url,
                              "IMAGEGEN_STORE_API_TOKEN": "owner-token-for-tests"})
    store.stop()


if __name__ == "__main__":
    main()
