"""Fuzz the HTTP API from its own OpenAPI schema (schemathesis), against a real uvicorn server that
holds a small real library: no request may get a server error or a response that breaks the schema
(status codes, content types, bodies, headers)."""

from __future__ import annotations


import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from paperlens.api.app import create_app
from paperlens.ingest.pipeline import Ingestor, IngestRequest, open_library

from support import free_port, make_settings, serving, write_jsonl
from test_pipeline import RECORDS

EXAMPLES = 40  # per operation and mode: about 45 s on two busy cores


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory, embedder, xling):
    tmp = tmp_path_factory.mktemp("fuzz")
    # arXiv on a closed local port: fuzzed ingest jobs fail at once instead of reaching the internet
    closed = f"http://127.0.0.1:{free_port()}"
    conf = make_settings(tmp / "data", rate_limit_per_minute=0, max_upload_mb=1, ingest_queue_max=10_000,
                         arxiv_api_url=f"{closed}/api/query", arxiv_pdf_url=closed + "/pdf/{id}", arxiv_retries=0)
    library = open_library(conf, embedder=embedder, xling=xling)
    Ingestor(library, conf).run(IngestRequest(paths=[write_jsonl(tmp / "meta.jsonl", RECORDS)]))
    assert library.catalog.count_papers() == len(RECORDS)
    with serving(create_app(conf, library)) as base:
        # POST /api/ingest is fuzzed too: server paths are off unless ingest_roots is set (here it
        # is not), so a fuzzed "/" is refused with 403 instead of ingesting the machine.
        yield schemathesis.openapi.from_url(f"{base}/openapi.json")
    library.close()


# Modes: positive cases (valid by the schema) must be answered as documented; negative ones must be
# refused with a documented 4xx problem. (schemathesis.pytest.from_fixture does not run under
# pytest 9, hence a loop over the operations with plain Hypothesis.)
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
def test_api_holds_its_schema(api_schema, mode):
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 8, [op.label for op in operations]
    failures = []
    for op in operations:
        try:
            _fuzz(op, mode)
        except Unsatisfiable:  # negative mode: nothing here can be invalid (no parameters, free strings)
            assert mode is GenerationMode.NEGATIVE, op.label
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 (each operation gets its turn)
            failures.append(f"{op.label}: {exc}")
    assert not failures, "\n\n".join(failures)


def _fuzz(op, mode: GenerationMode) -> None:
    # no schema can say "a PDF": schema-valid uploads are random bytes, refused with 400
    excluded = [positive_data_acceptance] if op.path == "/api/ingest/upload" else []

    @given(case=op.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def exercise(case):
        case.call_and_validate(timeout=60, excluded_checks=excluded)

    exercise()
