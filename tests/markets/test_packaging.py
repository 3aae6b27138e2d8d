"""What ships: the image installs the wheel (not a list of folders) and compose runs a job worker.

The wheel itself is checked by scripts/check_wheel.sh in CI (built, installed outside the checkout,
served); these read the two files that use it, since CI has no Docker engine.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("domain", "graph", "markets", "persistence")


def test_the_image_is_built_from_the_wheel() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^RUN pip wheel .*\.\s*$", dockerfile, re.MULTILINE)
    assert re.search(r"pip install --no-index --find-links /wheels markets", dockerfile)
    copies = re.findall(r"^COPY\s+(.*)$", dockerfile, re.MULTILINE)
    assert not [c for c in copies if any(re.search(rf"\b{p}\b", c) for p in PACKAGES)], copies
    assert dockerfile.rstrip().endswith('CMD ["markets", "serve", "--host", "0.0.0.0", "--port", "8000"]')


def test_compose_runs_a_worker_wherever_jobs_go_to_redis() -> None:
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    api = services["api"]
    assert api["environment"]["REDIS_URL"]
    workers = [s for s in services.values() if s.get("command") == ["markets", "worker"]]
    assert len(workers) == 1
    [worker] = workers
    assert worker["environment"] == api["environment"]
    assert worker["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
