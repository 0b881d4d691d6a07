"""A labelled-image classifier (genlab's feature CNN) trained by the common trainer."""

from genlab.models.classifier.model import Classifier

__all__ = ["Classifier"]
