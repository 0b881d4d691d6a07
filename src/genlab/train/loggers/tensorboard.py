"""TensorBoard: every logged scalar at its step and the sample grids and loss.png as images, in
RUN/tensorboard (`tensorboard --logdir RUN/tensorboard`). Needs `tensorboard` (the `track` extra)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from genlab.config import Config
from genlab.train.loggers.base import LOGGERS, missing_extra


@LOGGERS.register("tensorboard")
class TensorBoardLogger:
    """Event files in RUN/tensorboard. A resumed run purges the events past its checkpoint
    (`purge_step`), so the replayed steps are written once."""

    name = "tensorboard"

    def __init__(self) -> None:
        self.writer: Any = None

    @classmethod
    def check(cls, cfg: Config, run_dir: Path) -> None:
        try:
            import torch.utils.tensorboard  # noqa: F401
        except ImportError:
            raise missing_extra("tensorboard", "tensorboard") from None

    def start(self, run_dir: Path, cfg: Config, saved: dict[str, Any] | None,
              resume_step: int | None) -> tuple[dict[str, Any], int | None]:
        from torch.utils.tensorboard import SummaryWriter

        purge = None if resume_step is None else resume_step + 1
        self.writer = SummaryWriter(str(run_dir / "tensorboard"), purge_step=purge)
        return {}, resume_step

    def scalars(self, step: int, values: Mapping[str, float]) -> None:
        for k, v in values.items():
            self.writer.add_scalar(k, v, step)

    def summary(self, step: int, values: Mapping[str, float]) -> None:
        self.scalars(step, values)

    def artifact(self, path: Path, step: int, folder: str = "") -> None:
        if path.suffix.lower() != ".png":
            return  # TensorBoard shows scalars and images only
        import numpy as np
        from PIL import Image

        with Image.open(path) as image:
            pixels = np.asarray(image.convert("RGB"))
        self.writer.add_image(folder or path.stem, pixels, step,  # samples: one image per step
                              dataformats="HWC")

    def close(self, status: str = "FINISHED") -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
