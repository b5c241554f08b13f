"""`sdk.types.file`, as `flytekit.types.file`: file types, their Flyte names and formats."""

from sdk.values.file_formats import (
    CSVFile,
    HDF5EncodedFile,
    HTMLPage,
    JPEGImageFile,
    JSONLFile,
    ONNXFile,
    PDFFile,
    PNGImageFile,
    PythonNotebook,
    PythonPickledFile,
    SVGImageFile,
    TFRecordFile,
    csv,
    hdf5,
    html,
    ipynb,
    joblib,
    jpeg,
    jsonl_file,
    onnx,
    pdf,
    png,
    python_pickle,
    svg,
    tfrecords_file,
)
from sdk.values.files import File, FileExt, JoblibSerializedFile

FlyteFile = File

__all__ = ["CSVFile", "File", "FileExt", "FlyteFile", "HDF5EncodedFile", "HTMLPage",
           "JPEGImageFile", "JSONLFile", "JoblibSerializedFile", "ONNXFile", "PDFFile",
           "PNGImageFile", "PythonNotebook", "PythonPickledFile", "SVGImageFile",
           "TFRecordFile", "csv", "hdf5", "html", "ipynb", "joblib", "jpeg", "jsonl_file",
           "onnx", "pdf", "png", "python_pickle", "svg", "tfrecords_file"]
