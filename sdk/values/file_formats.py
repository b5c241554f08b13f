"""flytekit's preformatted file and folder types (`flytekit.types.file`,
`flytekit.types.directory`): `File` and `Directory` of one format each, and the formats
themselves, as `Annotated[str, FileExt(...)]` (files) or `TypeVar`s (folders)."""

from __future__ import annotations

import typing
from typing import Annotated

from sdk.values.files import Directory, File, FileExt

hdf5 = Annotated[str, FileExt("hdf5")]
HDF5EncodedFile = File[hdf5]
html = Annotated[str, FileExt("html")]
HTMLPage = File[html]
joblib = Annotated[str, FileExt("joblib")]
jpeg = Annotated[str, FileExt("jpeg")]
JPEGImageFile = File[jpeg]
pdf = Annotated[str, FileExt("pdf")]
PDFFile = File[pdf]
png = Annotated[str, FileExt("png")]
PNGImageFile = File[png]
python_pickle = Annotated[str, FileExt("python_pickle")]
PythonPickledFile = File[python_pickle]
ipynb = Annotated[str, FileExt("ipynb")]
PythonNotebook = File[ipynb]
svg = Annotated[str, FileExt("svg")]
SVGImageFile = File[svg]
csv = Annotated[str, FileExt("csv")]
CSVFile = File[csv]
onnx = Annotated[str, FileExt("onnx")]
ONNXFile = File[onnx]
tfrecords_file = Annotated[str, FileExt("tfrecord")]
TFRecordFile = File[tfrecords_file]
jsonl_file = Annotated[str, FileExt("jsonl")]
JSONLFile = File[jsonl_file]

tensorboard = typing.TypeVar("tensorboard")
TensorboardLogs = Directory[tensorboard]
tfrecords_dir = typing.TypeVar("tfrecords_dir")
TFRecordsDirectory = Directory[tfrecords_dir]

