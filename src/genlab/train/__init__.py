"""The family-agnostic trainer and its parts.

* `trainer`: the `Trainer` loop (build from a config, `fit`, per-update backward/clip/step, save) and
  the `Hook` protocol for work beside training;
* `resume`: continuing a run from its latest checkpoint exactly, or refusing a config that would
  change what the saved data position means;
* `window`: the log window, device-side sums of losses and logged values between two flushes, and
  the finiteness check made at each flush;
* `run_folder`: which folders a run may use (an existing run is resumed, overwritten or refused) and
  `runlock`, the per-folder lock behind it;
* `loggers`: where a run is logged (`train.loggers`: metrics.jsonl always, TensorBoard, MLflow,
  W&B), continued across resumes and by `genlab eval`;
* `runlog`: reading metrics.jsonl, and the progress bar; `ema`: weight averages;
  `distributed`: torchrun process groups and gradient averaging; `signals`: stopping at a step
  boundary on SIGINT/SIGTERM.
"""

from genlab.train.trainer import Trainer

__all__ = ["Trainer"]
