"""docker-compose.yml's wiring, checked without Docker (none is available where paperlens is built):
three clustered Qdrant nodes with health checks, and an API that talks to them with settings that
exist and a bind it is allowed to serve."""

from __future__ import annotations

import re

import pytest
import yaml
from support import ROOT

from paperlens.errors import PaperlensError
from paperlens.settings import Settings

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES = COMPOSE["services"]
NODES = [name for name in SERVICES if name.startswith("qdrant")]


def test_three_clustered_qdrant_nodes_with_health_checks():
    assert len(NODES) == 3
    first = NODES[0]
    for name in NODES:
        node = SERVICES[name]
        assert node["environment"]["QDRANT__CLUSTER__ENABLED"] == "true"
        assert node["healthcheck"]["test"] and "/readyz" in " ".join(node["healthcheck"]["test"])
        cmd = node["command"]
        assert cmd[cmd.index("--uri") + 1] == f"http://{name}:6335"  # each node announces itself
        if name != first:  # the others join the first, once it is healthy
            assert cmd[cmd.index("--bootstrap") + 1] == f"http://{first}:6335"
            assert node["depends_on"][first]["condition"] == "service_healthy"
        assert any(v.endswith(":/qdrant/storage") for v in node["volumes"])


def test_api_uses_the_cluster_with_real_settings():
    api = SERVICES["api"]
    env = api["environment"]
    assert all(api["depends_on"][n]["condition"] == "service_healthy" for n in NODES)
    # Every PAPERLENS_* variable names a real setting (a typo would be ignored silently).
    fields = {f"PAPERLENS_{name.upper()}" for name in Settings.model_fields}
    assert set(env) <= fields, set(env) - fields
    host = re.match(r"http://([\w-]+):6333$", env["PAPERLENS_QDRANT_URL"])
    assert host and host.group(1) in NODES
    assert (int(env["PAPERLENS_QDRANT_SHARDS"]), int(env["PAPERLENS_QDRANT_REPLICAS"])) == (3, 2)
    assert api["ports"] == ["127.0.0.1:8000:8000"]


def test_api_bind_needs_keys_and_compose_demands_them(tmp_path):
    from paperlens.api.security import check_bind

    env = SERVICES["api"]["environment"]
    # ${VAR:?message}: compose refuses to start without the keys instead of starting an API that
    # refuses to serve.
    assert re.fullmatch(r"\$\{PAPERLENS_API_KEYS:\?.+\}", env["PAPERLENS_API_KEYS"])
    without = Settings(_env_file=None, data_dir=tmp_path)
    with pytest.raises(PaperlensError, match="without API keys"):
        check_bind(env["PAPERLENS_HOST"], without)
    check_bind(env["PAPERLENS_HOST"], Settings(_env_file=None, data_dir=tmp_path, api_keys=["a-long-random-key"]))
