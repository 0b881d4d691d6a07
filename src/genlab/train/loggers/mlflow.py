"""MLflow tracking: the config as parameters, every logged scalar as a metric at its step, sample
grids, loss.png and eval.json as artifacts.

The store is `train.mlflow_uri`, else $MLFLOW_TRACKING_URI, else the file store RUN/mlruns (view it
with `mlflow ui --backend-store-uri RUN/mlruns`). MLflow 3 refuses file stores unless
MLFLOW_ALLOW_FILE_STORE is set; genlab sets it (if unset) for `file:` stores only, because
mlflow-skinny has no database backend. Needs `mlflow-skinny` (the `track` extra).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from genlab import __version__
from genlab.config import Config
from genlab.core.errors import ConfigError
from genlab.train.loggers.base import LOGGERS, flatten_config, missing_extra

PARAM_BATCH = 100  # MLflow's limit of parameters per log_batch call


def tracking_uri(cfg: Config, run_dir: Path) -> str:
    """The store the run is tracked in; a local path becomes an absolute `file:` URI, so a resume
    or `genlab eval` from another working directory finds the same store."""
    uri = cfg.train.mlflow_uri or os.environ.get("MLFLOW_TRACKING_URI") or str(run_dir / "mlruns")
    path = store_path(uri)
    return Path(path).expanduser().resolve().as_uri() if path is not None else uri


def store_path(uri: str) -> str | None:
    """The folder of a file store (`file:` URI or plain path), else None (a server, a database)."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return parsed.path
    if parsed.scheme == "" or (len(parsed.scheme) == 1 and os.name == "nt"):  # a path (C:\\ on Windows)
        return uri
    return None


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


@LOGGERS.register("mlflow")
class MlflowLogger:
    """One MLflow run per genlab run; its id is kept in RUN/trackers.json so that `--resume` and
    `genlab eval` log into the same MLflow run."""

    name = "mlflow"

    def __init__(self) -> None:
        self.client: Any = None
        self.run_id = ""

    @classmethod
    def check(cls, cfg: Config, run_dir: Path) -> None:
        try:
            import mlflow.tracking  # noqa: F401
        except ImportError:
            raise missing_extra("mlflow", "mlflow-skinny") from None
        path = store_path(tracking_uri(cfg, run_dir))
        if path is None:
            return  # a server or database: reached in start(), still before training
        folder = Path(path)
        while not folder.exists():  # mkdir would start at the nearest existing ancestor
            folder = folder.parent
        if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
            raise ConfigError(f"train.mlflow_uri: the MLflow file store {path} cannot be written "
                              f"({folder} is not a writable folder)")

    def start(self, run_dir: Path, cfg: Config, saved: dict[str, Any] | None,
              resume_step: int | None) -> tuple[dict[str, Any], int | None]:
        from mlflow.entities import Param
        from mlflow.tracking import MlflowClient

        uri = saved["tracking_uri"] if saved else tracking_uri(cfg, run_dir)
        if store_path(uri) is not None:
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        params = flatten_config(cfg)
        held = None
        try:
            self.client = client = MlflowClient(tracking_uri=uri)
            if saved:  # continue the run: log only parameters it lacks (MLflow's are write-once)
                self.run_id = saved["run_id"]
                run = client.get_run(self.run_id)
                if run.info.lifecycle_stage != "active":
                    raise ConfigError(f"MLflow run {self.run_id} was deleted")
                client.update_run(self.run_id, status="RUNNING")
                old = run.data.params
                new = [Param(k, v) for k, v in params.items() if k not in old]
                changed = {f"changed.{k}": v for k, v in params.items() if k in old and old[k] != v}
                for k, v in changed.items():  # a longer train.steps, eval settings of `genlab eval`
                    client.set_tag(self.run_id, k, v)
                held = max((m.step for key in run.data.metrics
                            for m in client.get_metric_history(self.run_id, key)), default=0)
            else:
                experiment = client.get_experiment_by_name(cfg.train.mlflow_experiment)
                experiment_id = (experiment.experiment_id if experiment is not None
                                 else client.create_experiment(cfg.train.mlflow_experiment))
                tags = {"genlab.run_dir": str(run_dir.resolve()), "genlab.version": __version__}
                run = client.create_run(experiment_id, run_name=run_dir.name, tags=tags)
                self.run_id = run.info.run_id
                new = [Param(k, v) for k, v in params.items()]
            for i in range(0, len(new), PARAM_BATCH):
                client.log_batch(self.run_id, params=new[i:i + PARAM_BATCH])
        except ConfigError as err:
            raise ConfigError(f"train.loggers: mlflow cannot start ({uri}): {err}") from None
        except Exception as err:  # any failure to reach the store is a refusal before training
            raise ConfigError(f"train.loggers: mlflow cannot start ({uri}): {_first_line(err)}") from None
        return {"tracking_uri": uri, "run_id": self.run_id}, held

    def scalars(self, step: int, values: Mapping[str, float]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(k, float(v), now, step) for k, v in values.items()]
        self.client.log_batch(self.run_id, metrics=metrics)

    def summary(self, step: int, values: Mapping[str, float]) -> None:
        self.scalars(step, values)  # MLflow shows a metric's latest value as the run's result

    def artifact(self, path: Path, step: int, folder: str = "") -> None:
        self.client.log_artifact(self.run_id, str(path), folder or None)

    def close(self, status: str = "FINISHED") -> None:
        if self.client is not None:
            self.client.set_terminated(self.run_id, status)
            self.client = None
