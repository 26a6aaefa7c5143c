"""The HTTP endpoint: liveness, readiness by role and last outcome, metrics, nothing else."""

from __future__ import annotations

import threading

import httpx

from reconciler.watch.endpoint import Endpoint
from reconciler.watch.metrics import WatchMetrics
from reconciler.watch.status import WatchStatus


def test_healthz_readyz_and_metrics_answer_by_role_and_last_outcome() -> None:
    status, metrics = WatchStatus(), WatchMetrics()
    endpoint = Endpoint("127.0.0.1", 0, status, metrics)
    endpoint.start()
    host, port = endpoint.address
    try:
        with httpx.Client(base_url=f"http://{host}:{port}", timeout=5) as http:
            assert http.get("/healthz").status_code == 200
            assert http.get("/readyz").status_code == 503, "not ready before the first run"
            status.leading(True)
            ready = http.get("/readyz")
            assert (ready.status_code, ready.text) == (200, "ready: leader\n")
            status.leading(False, "engine unreachable or failing")
            failed = http.get("/readyz")
            assert failed.status_code == 503
            assert failed.text == "not ready: leader (engine unreachable or failing)\n"
            status.standing_by(True, "another replica leads")
            assert http.get("/readyz").status_code == 200
            metrics.leader.set(1)
            text = http.get("/metrics").text
            assert "reconciler_watch_leader 1.0" in text
            assert "reconciler_watch_ready 1.0" in text
            assert http.get("/metrics/").status_code == 404
            assert http.get("/").status_code == 404
    finally:
        endpoint.stop()


def test_an_endpoint_never_started_stops_at_once() -> None:
    endpoint = Endpoint("127.0.0.1", 0, WatchStatus(), WatchMetrics())
    stopper = threading.Thread(target=endpoint.stop, daemon=True)
    stopper.start()
    stopper.join(5)
    assert not stopper.is_alive()
