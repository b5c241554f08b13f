"""The seed's KNN example (examples/knn.py) run in-process, unchanged."""

import importlib.util
import pathlib

import pytest

KNN = pathlib.Path(__file__).resolve().parents[2] / "examples" / "knn.py"


@pytest.fixture
def knn(tmp_path, monkeypatch):
    """The example module, imported by path, running in a scratch working directory (its
    get_models task writes model files to the current directory)."""
    monkeypatch.chdir(tmp_path)
    spec = importlib.util.spec_from_file_location("knn_example", KNN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_knn_workflow_scores_six_models(knn, tmp_path):
    rows = knn.wf()
    assert len(rows) == 6
    assert [row[0] for row in rows] == [f"model-k{k}.joblib.dat" for k in range(2, 8)]
    for name, accuracy, std in rows:
        assert isinstance(accuracy, str) and isinstance(std, str)
        assert 0.5 < float(accuracy) <= 1.0, (name, accuracy)
        assert 0.0 <= float(std) < 0.05, (name, std)
    # the models were written to the scratch folder, not the repository
    assert sorted(p.name for p in tmp_path.glob("model-k*.joblib.dat")) == [
        f"model-k{k}.joblib.dat" for k in range(2, 8)]


def test_knn_second_run_hits_the_cache(knn, tmp_path):
    first = knn.wf()
    for model in tmp_path.glob("model-k*.joblib.dat"):
        model.unlink()
    # every node is cached or downstream of a cached dynamic: nothing is rewritten
    assert knn.wf() == first
    assert list(tmp_path.glob("model-k*.joblib.dat")) == []
