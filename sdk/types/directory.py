"""`sdk.types.directory`, as `flytekit.types.directory`: the directory type, its Flyte name and
the preformatted folders."""

from sdk.values.file_formats import TensorboardLogs, TFRecordsDirectory, tensorboard, tfrecords_dir
from sdk.values.files import Directory

FlyteDirectory = Directory

__all__ = ["Directory", "FlyteDirectory", "TFRecordsDirectory", "TensorboardLogs", "tensorboard",
           "tfrecords_dir"]
