"""Training on Ultralytics' own trainer; ``LSKADetectionTrainer`` is the class to pass as ``trainer=``."""

from lska_demo.train.trainer import LSKADetectionTrainer

__all__ = ["LSKADetectionTrainer"]
