"""Exceptions genlab raises on purpose; the CLI turns them into one clear message."""


class GenlabError(Exception):
    """Base class: a problem the user can fix (bad config, missing data, diverged run).

    Example:
        Catch every deliberate genlab error at once; `exit_code` is what the CLI exits with:

        >>> from genlab import load_config
        >>> try:
        ...     load_config("vae-digits", ["train.steps=0"])
        ... except GenlabError as err:
        ...     print(type(err).__name__, err.exit_code)
        ConfigError 2
    """

    exit_code = 1


class ConfigError(GenlabError, ValueError):
    """Unknown name, bad override or invalid config value (CLI exit code 2).

    Example:
        A misspelt override fails with one line listing the valid keys:

        >>> from genlab import load_config
        >>> load_config("vae-digits", ["train.step=5"])
        Traceback (most recent call last):
          ...
        genlab.core.errors.ConfigError: unknown config key train.step; valid keys here: ...
        >>> issubclass(ConfigError, ValueError)  # code expecting a ValueError still catches it
        True
    """

    exit_code = 2


class DataError(GenlabError):
    """Missing, corrupt or wrongly shaped data or files given by the user (CLI exit code 2).

    Example:
        A data folder that does not exist:

        >>> from genlab import DATASETS
        >>> DATASETS.get("mnist")(data_dir="/no/such/folder")
        Traceback (most recent call last):
          ...
        genlab.core.errors.DataError: data folder /no/such/folder does not exist (it should hold ...)
    """

    exit_code = 2


class NonFiniteLossError(GenlabError):
    """A loss became NaN/inf; training stopped and the last good checkpoint was kept.

    Example:
        What the trainer raises when the loss diverges at step 7 before any checkpoint:

        >>> err = NonFiniteLossError(7, ["loss"], None)
        >>> print(err)
        non-finite loss (loss) at step 7; training stopped (no checkpoint was saved yet). Try a lower ...
        >>> err.step, err.exit_code
        (7, 1)
    """

    def __init__(self, step: int, names: list[str], checkpoint: str | None):
        self.step, self.names, self.checkpoint = step, names, checkpoint
        where = f"last good checkpoint: {checkpoint}" if checkpoint else "no checkpoint was saved yet"
        super().__init__(
            f"non-finite loss ({', '.join(names)}) at step {step}; training stopped ({where}). "
            "Try a lower learning rate, gradient clipping or a warm-up."
        )


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped on SIGINT/SIGTERM at a step boundary, after saving a checkpoint.

    A KeyboardInterrupt, so code that stops on Ctrl-C still does; `exit_code` is the shell's
    128 + signal number (130 for Ctrl-C, 143 for SIGTERM).

    Example:
        What the trainer raises after Ctrl-C at step 120:

        >>> import signal
        >>> err = TrainingInterrupted(120, signal.SIGINT, "runs/v/checkpoints/step-120")
        >>> err.exit_code, isinstance(err, KeyboardInterrupt)
        (130, True)
        >>> print(err)
        SIGINT at step 120: checkpoint runs/v/checkpoints/step-120 saved; continue with --resume
    """

    def __init__(self, step: int, signum: int, checkpoint: str | None):
        import signal

        self.step, self.signum, self.checkpoint = step, signum, checkpoint
        self.exit_code = 128 + signum
        name = signal.Signals(signum).name
        super().__init__(f"{name} at step {step}: checkpoint {checkpoint} saved; "
                         "continue with --resume")
