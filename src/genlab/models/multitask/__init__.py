"""A multi-task example model (shared encoder; class, reconstruction and rotation heads) whose
task weighting is any rule of `genlab.mtl`, chosen by `model.task_weighting`."""

from genlab.models.multitask.model import MultiTask, rotate_quarters
from genlab.models.multitask.weightings import TASK_WEIGHTINGS, Tasks, TaskWeighting, build_task_weighting

__all__ = ["TASK_WEIGHTINGS", "MultiTask", "TaskWeighting", "Tasks", "build_task_weighting",
           "rotate_quarters"]
