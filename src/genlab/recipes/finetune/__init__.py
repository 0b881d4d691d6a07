"""Fine-tuning a shipped feature CNN on another data set (https://kexue.fm/archives/4611).

A GLU feature layer (glu.py), center loss with its centre-update rule (center_loss.py), staged unfreezing
(schedule.py), the fine-tuned classifier `FineTuned` (model.py) and target-data preparation (data.py).
`python -m genlab.recipes.finetune` fine-tunes the Fashion-MNIST network on a few digits per class and
compares it with the same network trained from scratch on the same budget.
"""

from genlab.recipes.finetune.center_loss import CenterLoss
from genlab.recipes.finetune.data import few_per_class, resize_images
from genlab.recipes.finetune.glu import GLU
from genlab.recipes.finetune.model import GROUPS, FineTuned
from genlab.recipes.finetune.schedule import Unfreezing

__all__ = ["GLU", "GROUPS", "CenterLoss", "FineTuned", "Unfreezing", "few_per_class", "resize_images"]
