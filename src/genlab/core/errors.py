"""Exceptions genlab raises on purpose; the CLI turns them into one clear message."""


class GenlabError(Exception):
    """Base class: a problem the user can fix (bad config, missing data, diverged run)."""

    exit_code = 1


class ConfigError(GenlabError, ValueError):
    """Unknown name, bad override or invalid config value (CLI exit code 2)."""

    exit_code = 2


class DataError(GenlabError):
    """Missing, corrupt or wrongly shaped data or files given by the user (CLI exit code 2)."""

    exit_code = 2


class NonFiniteLossError(GenlabError):
    """A loss became NaN/inf; training stopped and the last good checkpoint was kept."""

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
    """

    def __init__(self, step: int, signum: int, checkpoint: str | None):
        import signal

        self.step, self.signum, self.checkpoint = step, signum, checkpoint
        self.exit_code = 128 + signum
        name = signal.Signals(signum).name
        super().__init__(f"{name} at step {step}: checkpoint {checkpoint} saved; "
                         "continue with --resume")
