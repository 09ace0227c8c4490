"""One suite, every store: EdgeStore (embedded engine), ClientStore ':memory:' and 'local:<path>',
and the embedded engine again with quantized vectors (int8 and binary, originals on disk), and
local mode given the int8 setting (which it accepts and ignores: it searches by brute force).

Behaviour is checked against a Python-side model of the data, and rankings are compared across
stores: dense and sparse scores must agree, and so must the RRF fusion of both. The quantized
stores rescore with the original vectors, so their scores are exact cosines too; the binary store
oversamples enough to rescore every candidate, since one bit per dimension of these 32-dimension
random vectors ranks them too coarsely to find a top 15 among 300 otherwise.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from paperlens.errors import BadInput, FingerprintMismatch, StoreError, StoreLocked
from paperlens.index.client_store import ClientStore
from paperlens.index.edge_store import EdgeStore
from paperlens.index.sparse import Bm25Encoder, tokenize
from paperlens.index.store import (
    BM25,
    DENSE,
    XLING,
    HybridQuery,
    ScoredRecord,
    StoredPoint,
    StoreFilter,
    StoreSpec,
    VectorStorage,
)
from paperlens.models import author_keys, chunk_uuid

DIMS = {DENSE: 32, XLING: 16}
SPEC = StoreSpec(name="chunks_test", dense_dims=DIMS, sparse_names=[BM25], fingerprint="test-fp-1")
STORAGE = {
    "edge-int8": VectorStorage(quantization="int8", on_disk=True),
    "edge-binary": VectorStorage(quantization="binary", on_disk=True, oversampling=20.0),
    "memory-int8": VectorStorage(quantization="int8", on_disk=True),
}
KINDS = ["edge", "memory", "local", *STORAGE]
PERSISTENT = ["edge", "local", "edge-int8"]

SENTENCES = [
    "We propose a latent diffusion model that denoises in a compressed autoencoder space.",
    "SD-XL improves text-to-image synthesis with a larger UNet and two text encoders.",
    "Classifier-free guidance trades sample diversity for fidelity at inference time.",
    "Our x4 super-resolution model reaches a PSNR of 27.9 dB on DIV2K.",
    "Consistency models distill a diffusion sampler into a single-step generator.",
    "Flow matching regresses a velocity field along straight probability paths.",
    "DiT replaces the convolutional UNet backbone with a vision transformer.",
    "ControlNet adds spatial conditioning such as edges, depth and pose to a frozen model.",
    "Video diffusion models extend image priors with temporal attention layers.",
    "We evaluate FID and CLIP score on the MS-COCO validation captions.",
    "DreamBooth fine-tunes a text-to-image model on a handful of subject images.",
    "Rectified flow straightens trajectories so that few sampling steps suffice.",
    "LoRA adapters reduce the number of trainable parameters during fine-tuning.",
    "Score distillation sampling optimizes a NeRF with a 2D diffusion prior.",
    "我们提出一种基于扩散模型的图像超分辨率方法，在多个基准上取得了领先结果。",
    "本文研究视频生成中的时间一致性问题，并提出新的注意力机制。",
]
FILLER = (
    "ablation baseline benchmark appendix training schedule batch optimizer learning rate warmup "
    "checkpoint dataset split resolution crop augmentation evaluation protocol seed hardware gpu"
).split()
AUTHORS = [
    "Robin Rombach", "Patrick Esser", "Jonathan Ho", "Tim Salimans", "Yang Song", "Prafulla Dhariwal",
    "Chitwan Saharia", "Lvmin Zhang", "William Peebles", "Saining Xie", "Yaron Lipman", "Xingchao Liu",
]
CATEGORIES = ["cs.CV", "cs.LG", "cs.AI", "eess.IV"]
REVS = ["r1", "r2", "r3"]
DOC_KINDS = ["paper", "summary", "digest"]
N_POINTS = 300


def _unit(rng: np.random.Generator, dim: int) -> list[float]:
    v = rng.standard_normal(dim)
    return (v / np.linalg.norm(v)).tolist()


def build_points() -> list[StoredPoint]:
    rng = np.random.default_rng(20240517)
    encoder = Bm25Encoder()
    filler_sizes = rng.permutation(N_POINTS)
    points = []
    for i in range(N_POINTS):
        paper_id = f"arxiv:24{i % 12 + 1:02d}.{1000 + i % 30:05d}"
        doc_kind = DOC_KINDS[i % 7 % 3]
        rev = REVS[i % 5 % 3]
        picks = rng.choice(len(SENTENCES), size=int(rng.integers(1, 4)), replace=False)
        # Filler of a different length per point keeps BM25 scores of equal sentence mixes apart: tied scores
        # would be ordered arbitrarily by each engine, and the fused rankings could not be compared.
        filler = " ".join(rng.choice(FILLER, size=int(filler_sizes[i])))
        text = " ".join(SENTENCES[j] for j in picks) + f" Section {i % 9}, table {i}. {filler}"
        authors = [AUTHORS[j] for j in rng.choice(len(AUTHORS), size=int(rng.integers(1, 4)), replace=False)]
        categories = sorted({CATEGORIES[j] for j in rng.choice(len(CATEGORIES), size=int(rng.integers(1, 3)))})
        date = 20220101 + int(rng.integers(0, 4)) * 10000 + int(rng.integers(0, 12)) * 100 + int(rng.integers(0, 28))
        dense = {DENSE: _unit(rng, DIMS[DENSE])}
        if doc_kind == "summary" or any(ord(c) > 0x3000 for c in text):
            dense[XLING] = _unit(rng, DIMS[XLING])
        payload = {
            "paper_id": paper_id, "doc_kind": doc_kind, "rev": rev, "arxiv_id": paper_id.split(":")[1],
            "categories": categories, "authors": authors, "author_keys": author_keys(authors),
            "date_int": date, "text": text, "page_start": i % 17 + 1, "lang": "en",
            "section": None if i % 4 == 0 else f"{i % 9}. Method", "is_summary": doc_kind == "summary",
            "links": [{"url": f"https://arxiv.org/abs/{paper_id[6:]}", "page": i % 17 + 1, "score": 0.5}],
        }
        points.append(
            StoredPoint(chunk_uuid(paper_id, doc_kind, rev, i), dense, {BM25: encoder.encode_document(text)}, payload)
        )
    return points


POINTS = build_points()
BY_ID = {p.id: p for p in POINTS}


def open_store(kind: str, folder: Path, spec: StoreSpec = SPEC) -> EdgeStore | ClientStore:
    engine, _, _ = kind.partition("-")
    if kind in STORAGE and spec.storage == VectorStorage():
        spec = replace(spec, storage=STORAGE[kind])
    if engine == "edge":
        return EdgeStore(folder / kind, spec)
    if engine == "memory":
        return ClientStore(":memory:", spec)
    return ClientStore(f"local:{folder / kind}", spec)


def matches(payload: dict, flt: StoreFilter) -> bool:
    """The Python-side meaning of a StoreFilter, which every store must reproduce."""
    def any_of(value: object, wanted: list[str]) -> bool:
        values = value if isinstance(value, list) else [value]
        return not wanted or any(v in wanted for v in values)

    return (
        any_of(payload["paper_id"], flt.paper_ids)
        and any_of(payload["doc_kind"], flt.doc_kinds)
        and any_of(payload["categories"], flt.categories)
        and any_of(payload["author_keys"], flt.author_keys)
        and any_of(payload["rev"], flt.revs)
        and payload["rev"] not in flt.exclude_revs
        and (flt.date_from is None or payload["date_int"] >= flt.date_from)
        and (flt.date_to is None or payload["date_int"] <= flt.date_to)
    )


FILTERS = {
    "paper_ids": StoreFilter(paper_ids=[POINTS[3].payload["paper_id"], POINTS[8].payload["paper_id"]]),
    "doc_kinds": StoreFilter(doc_kinds=["summary"]),
    "categories": StoreFilter(categories=["eess.IV"]),
    "author_keys": StoreFilter(author_keys=["rombach", "jonathan ho"]),
    "date_range": StoreFilter(date_from=20230301, date_to=20240615),
    "date_from_only": StoreFilter(date_from=20250101),
    "revs": StoreFilter(revs=["r2"]),
    "exclude_revs": StoreFilter(exclude_revs=["r3"]),
    "combined": StoreFilter(categories=["cs.CV"], doc_kinds=["paper", "digest"], date_to=20241231, exclude_revs=["r1"]),
}


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> dict[str, EdgeStore | ClientStore]:
    """Read-only stores holding POINTS; tests that write open their own."""
    folder = tmp_path_factory.mktemp("filled")
    stores = {kind: open_store(kind, folder) for kind in KINDS}
    for store in stores.values():
        store.upsert(POINTS)
        store.optimize()
        store.flush()
    yield stores
    for store in stores.values():
        store.close()


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    return request.param


def assert_same_ranking(a: list[ScoredRecord], b: list[ScoredRecord], limit: int) -> None:
    """Same scores position by position, same ids in the same order; among equal scores the
    order is arbitrary, so those compare as sets (a tie group cut by `limit` is not compared)."""
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.score == pytest.approx(y.score, rel=1e-4, abs=1e-6)
    groups: list[list[int]] = []
    for i, x in enumerate(a):
        if groups and abs(a[groups[-1][0]].score - x.score) <= 1e-6:
            groups[-1].append(i)
        else:
            groups.append([i])
    if len(a) == limit:
        groups = groups[:-1]
    for g in groups:
        assert {a[i].id for i in g} == {b[i].id for i in g}


def _queries() -> dict[str, HybridQuery]:
    rng = np.random.default_rng(99)
    encoder = Bm25Encoder()
    dense = _unit(rng, DIMS[DENSE])
    xling = _unit(rng, DIMS[XLING])
    sparse = encoder.encode_query("diffusion model super-resolution PSNR")
    return {
        "dense": HybridQuery(dense={DENSE: dense}, limit=15),
        "xling": HybridQuery(dense={XLING: xling}, limit=15),
        "sparse": HybridQuery(sparse={BM25: sparse}, limit=15),
        "hybrid": HybridQuery(dense={DENSE: dense}, sparse={BM25: sparse}, limit=10, prefetch_limit=40),
        "hybrid3": HybridQuery(dense={DENSE: dense, XLING: xling}, sparse={BM25: sparse}, limit=10),
        "hybrid_filtered": HybridQuery(
            dense={DENSE: dense}, sparse={BM25: sparse}, filter=FILTERS["combined"], limit=10, prefetch_limit=30
        ),
    }


@pytest.mark.parametrize("name", list(_queries()))
def test_rankings_agree_across_stores(filled: dict, name: str) -> None:
    query = _queries()[name]
    results = {kind: filled[kind].search(query) for kind in KINDS}
    assert len(results["edge"]) == query.limit
    for kind in KINDS[1:]:
        assert_same_ranking(results["edge"], results[kind], query.limit)
    if name == "xling":  # only points that have the vector can be found by it
        assert all(XLING in BY_ID[r.id].dense for r in results["edge"])
    if name == "hybrid_filtered":
        assert all(matches(r.payload, query.filter) for r in results["edge"])


def test_dense_scores_are_cosine(filled: dict, kind: str) -> None:
    query = _queries()["dense"]
    q = np.array(query.dense[DENSE])
    expected = sorted(((float(np.dot(q, p.dense[DENSE])), p.id) for p in POINTS), reverse=True)[: query.limit]
    got = filled[kind].search(query)
    assert [r.id for r in got] == [i for _, i in expected]
    assert [r.score for r in got] == pytest.approx([s for s, _ in expected], abs=1e-5)
    assert got[0].payload == BY_ID[got[0].id].payload


def test_sparse_search_finds_the_words(filled: dict, kind: str) -> None:
    query = HybridQuery(sparse={BM25: Bm25Encoder().encode_query("ControlNet pose conditioning")}, limit=20)
    got = filled[kind].search(query)
    with_term = [p for p in POINTS if "controlnet" in tokenize(p.payload["text"])]
    assert with_term and len(got) == min(20, len(with_term))
    assert all("ControlNet" in r.payload["text"] for r in got)


def test_chinese_query_finds_chinese_text(filled: dict, kind: str) -> None:
    query = HybridQuery(sparse={BM25: Bm25Encoder().encode_query("扩散模型 超分辨率")}, limit=5)
    got = filled[kind].search(query)
    assert got and all("扩散模型的图像超分辨率" in r.payload["text"] for r in got)


def test_stopword_only_query_returns_nothing(filled: dict, kind: str) -> None:
    assert filled[kind].search(HybridQuery(sparse={BM25: Bm25Encoder().encode_query("the of and")})) == []
    with pytest.raises(BadInput):
        filled[kind].search(HybridQuery())
    with pytest.raises(BadInput, match="nope"):
        filled[kind].search(HybridQuery(dense={"nope": [1.0] * 32}))


@pytest.mark.parametrize("filter_name", list(FILTERS))
def test_filters_restrict_results(filled: dict, kind: str, filter_name: str) -> None:
    flt = FILTERS[filter_name]
    expected = {p.id for p in POINTS if matches(p.payload, flt)}
    assert 0 < len(expected) < N_POINTS, "the test data must make this filter selective"
    store = filled[kind]
    assert store.count(flt) == len(expected)
    hits = store.search(HybridQuery(dense={DENSE: POINTS[0].dense[DENSE]}, filter=flt, limit=N_POINTS))
    assert {h.id for h in hits} == expected
    assert all(matches(h.payload, flt) for h in hits)
    sparse = store.search(HybridQuery(sparse={BM25: Bm25Encoder().encode_query("diffusion")}, filter=flt, limit=50))
    assert sparse and all(h.id in expected for h in sparse)


def test_count_and_retrieve(filled: dict, kind: str) -> None:
    store = filled[kind]
    assert store.count() == N_POINTS
    unknown = str(uuid.uuid4())
    wanted = [POINTS[7].id, unknown, POINTS[2].id, POINTS[250].id]
    got = store.retrieve(wanted)
    assert [r.id for r in got] == [POINTS[7].id, POINTS[2].id, POINTS[250].id]
    assert all(r.score == 0.0 and r.payload == BY_ID[r.id].payload for r in got)
    assert store.retrieve([unknown]) == [] and store.retrieve([]) == []


def test_scroll_pages_cover_everything_once_in_id_order(filled: dict, kind: str) -> None:
    store = filled[kind]
    seen: list[str] = []
    offset: str | None = None
    pages = 0
    while True:
        page, offset = store.scroll(StoreFilter(), limit=37, offset=offset)
        seen.extend(r.id for r in page)
        pages += 1
        if offset is None:
            break
    assert pages == -(-N_POINTS // 37)
    assert sorted(seen, key=uuid.UUID) == seen and len(set(seen)) == len(seen) == N_POINTS
    flt = FILTERS["categories"]
    page, _ = store.scroll(flt, limit=N_POINTS)
    assert {r.id for r in page} == {p.id for p in POINTS if matches(p.payload, flt)}


def test_scroll_pages_agree_across_stores(filled: dict) -> None:
    pages = {kind: filled[kind].scroll(FILTERS["exclude_revs"], limit=25, offset=POINTS[11].id) for kind in KINDS}
    for kind in KINDS:
        records, next_offset = pages[kind]
        assert [r.id for r in records] == [r.id for r in pages["edge"][0]]
        assert next_offset == pages["edge"][1]


def test_upsert_is_idempotent_and_updates(tmp_path: Path, kind: str) -> None:
    with open_store(kind, tmp_path) as store:
        store.upsert(POINTS[:120])
        store.upsert(POINTS[:120])
        assert store.count() == 120
        changed = StoredPoint(POINTS[5].id, POINTS[5].dense, POINTS[5].sparse, {**POINTS[5].payload, "rev": "r9"})
        store.upsert([changed])
        assert store.count() == 120
        assert store.retrieve([changed.id])[0].payload["rev"] == "r9"
        assert store.count(StoreFilter(revs=["r9"])) == 1


def test_delete_by_filter_removes_exactly_those(tmp_path: Path, kind: str) -> None:
    with open_store(kind, tmp_path) as store:
        store.upsert(POINTS)
        flt = StoreFilter(paper_ids=[POINTS[4].payload["paper_id"]], revs=["r1", "r2"])
        doomed = {p.id for p in POINTS if matches(p.payload, flt)}
        assert doomed
        with pytest.raises(BadInput):
            store.delete(StoreFilter())
        store.delete(flt)
        assert store.count() == N_POINTS - len(doomed)
        assert store.count(flt) == 0
        remaining, _ = store.scroll(StoreFilter(), limit=N_POINTS)
        assert {r.id for r in remaining} == set(BY_ID) - doomed


def test_exclude_revs_hides_a_revision_being_written(tmp_path: Path, kind: str) -> None:
    with open_store(kind, tmp_path) as store:
        old = POINTS[:40]
        new = [StoredPoint(str(uuid.uuid5(uuid.NAMESPACE_URL, p.id)), p.dense, p.sparse, {**p.payload, "rev": "next"})
               for p in old]
        store.upsert(old + new)
        hidden = StoreFilter(exclude_revs=["next"])
        hits = store.search(HybridQuery(dense={DENSE: old[0].dense[DENSE]}, filter=hidden, limit=80))
        assert len(hits) == 40 and all(h.payload["rev"] != "next" for h in hits)
        assert store.count(hidden) == 40


@pytest.mark.parametrize("pkind", PERSISTENT)
def test_persists_across_close_and_reopen(tmp_path: Path, pkind: str) -> None:
    store = open_store(pkind, tmp_path)
    store.upsert(POINTS[:100])
    store.flush()
    before = store.search(_queries()["hybrid"])
    store.close()
    store.close()  # closing twice is harmless
    with open_store(pkind, tmp_path) as reopened:
        assert reopened.count() == 100
        assert reopened.retrieve([POINTS[42].id])[0].payload == POINTS[42].payload
        assert [r.id for r in reopened.search(_queries()["hybrid"])] == [r.id for r in before]


@pytest.mark.parametrize("pkind", PERSISTENT)
def test_refuses_another_fingerprint(tmp_path: Path, pkind: str) -> None:
    with open_store(pkind, tmp_path) as store:
        store.upsert(POINTS[:3])
    other = StoreSpec(SPEC.name, DIMS, [BM25], fingerprint="test-fp-2")
    with pytest.raises(FingerprintMismatch) as err:
        open_store(pkind, tmp_path, other)
    assert "test-fp-1" in str(err.value) and "test-fp-2" in str(err.value)
    with pytest.raises(FingerprintMismatch):
        open_store(pkind, tmp_path, StoreSpec(SPEC.name, {DENSE: 64, XLING: 16}, [BM25], SPEC.fingerprint))
    with open_store(pkind, tmp_path) as again:  # the refusal left the store usable
        assert again.count() == 3


@pytest.mark.parametrize("pkind", PERSISTENT)
def test_second_opener_gets_store_locked(tmp_path: Path, pkind: str) -> None:
    with open_store(pkind, tmp_path):
        with pytest.raises(StoreLocked):
            open_store(pkind, tmp_path)


def test_closed_store_raises_store_error(tmp_path: Path, kind: str) -> None:
    store = open_store(kind, tmp_path)
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.count()


def test_client_store_names_a_bad_location() -> None:
    with pytest.raises(BadInput, match="qdrant.example"):
        ClientStore("qdrant.example", SPEC)
    with pytest.raises(StoreError, match="127.0.0.1:9"):  # nothing listens on the discard port
        ClientStore("http://127.0.0.1:9", SPEC)


def test_edge_store_killed_while_creating_leaves_nothing_that_blocks(tmp_path: Path) -> None:
    # A process killed while creating the shard leaves at most its temporary folder (a shard
    # without paperlens_spec.json would be refused at every later start). Simulate that leftover
    # with a real half-made shard, then open: it is removed and a whole store is created.
    import qdrant_edge as qe
    from paperlens.index.edge_store import SPEC_FILE, _config

    leftover = tmp_path / ".edge.creating-99999"
    qe.EdgeShard.create(str(leftover), _config(SPEC)).close()
    with EdgeStore(tmp_path / "edge", SPEC) as store:
        store.upsert(POINTS[:2])
    assert not leftover.exists()
    assert (tmp_path / "edge" / SPEC_FILE).exists()
    with EdgeStore(tmp_path / "edge", SPEC) as again:
        assert again.count() == 2
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "file").write_text("x")
    with pytest.raises(StoreError, match="holds no Qdrant shard"):
        EdgeStore(tmp_path / "junk", SPEC)


def test_quantized_collections_are_made_as_asked(tmp_path: Path) -> None:
    # What the engine was told, read from its own saved config: the quantized copy pinned in RAM,
    # the originals cold on disk; and the default collection stays as it was (no quantization).
    for kind in ("edge-int8", "edge-binary", "edge"):
        open_store(kind, tmp_path).close()
        vectors = json.loads((tmp_path / kind / "edge_config.json").read_text())["vectors"]
        assert set(vectors) == set(DIMS)
        for params in vectors.values():
            if kind == "edge":
                assert "quantization_config" not in params and params.get("memory") != "cold"
            else:
                wanted = "scalar" if kind == "edge-int8" else "binary"
                assert params["memory"] == "cold"
                assert params["quantization_config"][wanted]["memory"] == "pinned"


def test_binary_search_without_rescoring_shows_the_quantized_scores(tmp_path: Path) -> None:
    # The setting reaches the engine's search: without rescoring, binary scores are bit
    # agreements, not the cosines that every rescored search above returns.
    spec = replace(SPEC, storage=VectorStorage(quantization="binary", rescore=False))
    with EdgeStore(tmp_path / "raw", spec) as store:
        store.upsert(POINTS)
        store.optimize()
        query = _queries()["dense"]
        q = np.array(query.dense[DENSE])
        got = store.search(query)
        cosines = [float(np.dot(q, BY_ID[r.id].dense[DENSE])) for r in got]
        assert len(got) == query.limit
        assert max(abs(r.score - c) for r, c in zip(got, cosines)) > 0.5


@pytest.mark.parametrize("pkind", ["edge", "local"])
def test_refuses_another_quantization(tmp_path: Path, pkind: str) -> None:
    with open_store(pkind, tmp_path) as store:
        store.upsert(POINTS[:3])
    int8 = replace(SPEC, storage=VectorStorage(quantization="int8"))
    with pytest.raises(FingerprintMismatch, match="'int8'"):
        open_store(pkind, tmp_path, int8)
    # on_disk only moves the same vectors: the collection opens, its stored layout kept
    with open_store(pkind, tmp_path, replace(SPEC, storage=VectorStorage(on_disk=True))) as again:
        assert again.count() == 3


def test_storage_settings_are_checked() -> None:
    with pytest.raises(BadInput, match="int4"):
        VectorStorage(quantization="int4")
    with pytest.raises(BadInput, match="oversampling"):
        VectorStorage(quantization="int8", oversampling=0.5)


def test_engine_refusal_is_a_store_error_naming_the_store(tmp_path: Path, kind: str) -> None:
    # Each engine refuses a vector of the wrong width with its own exception type (qdrant-edge a
    # plain Exception, local mode a ValueError); callers see one StoreError that names the store.
    with open_store(kind, tmp_path) as store:
        bad = StoredPoint(POINTS[0].id, {DENSE: [0.5] * 7}, {}, POINTS[0].payload)
        with pytest.raises(StoreError, match="upsert of 1 points failed") as err:
            store.upsert([bad])
        assert store.where in str(err.value) and err.value.__cause__ is not None
        assert store.count() == 0
