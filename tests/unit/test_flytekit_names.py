"""More of flytekit's names and options, in-process (issue 23, point 12): each checked against
what flytekit 1.16 does with the same program."""

from __future__ import annotations

import functools
import os

import pandas as pd
import pytest
from workflows import flytekit_names as fn

from sdk import CompileError, ConfigError, TypeConversionError, map_task, task
from sdk.types.structured import StructuredDataset

# ---- map task classes ---------------------------------------------------------------------


def test_array_node_map_task_bound_inputs_values_fix_an_input_for_every_item():
    assert fn.bound_values_wf(xs=[1, 2, 3]) == [3, 6, 9]
    assert fn.scaled_by_3(x=[1, 2]) == [3, 6]
    assert fn.scaled_by_3(x=[1, 2], a=100) == [3, 6]  # the bound value wins, as flytekit's
    assert list(fn.scaled_by_3.interface.inputs) == ["x", "b"]
    assert fn.scaled_by_3.bound_inputs == {"a"}
    # over a partial: bound_inputs_values win over its keywords too
    from sdk.core.array_node_map_task import ArrayNodeMapTask

    both = ArrayNodeMapTask(functools.partial(fn.affine, a=5, b=1), bound_inputs_values={"a": 7})
    assert both(x=[1, 2]) == [8, 15]


def test_array_node_map_task_bound_inputs_are_given_once_at_the_call():
    assert fn.bound_names_wf(xs=[1, 2], a=5) == [5, 10]
    assert fn.given_once.interface.inputs["a"] == {"t": "int"}  # not a list
    assert fn.given_once.interface.inputs["x"] == {"t": "list", "of": {"t": "int"}}


def test_array_node_map_task_checks_as_flytekit():
    from sdk.core.array_node_map_task import ArrayNodeMapTask

    with pytest.raises(ConfigError, match="should have the same keys"):
        ArrayNodeMapTask(fn.affine, bound_inputs={"b"}, bound_inputs_values={"a": 1})
    with pytest.raises(CompileError, match="does not take"):
        ArrayNodeMapTask(fn.affine, bound_inputs_values={"nope": 1})
    with pytest.raises(ConfigError, match="run_all_sub_nodes"):
        ArrayNodeMapTask(fn.affine, run_all_sub_nodes=True)
    m = ArrayNodeMapTask(fn.affine, concurrency=2, min_success_ratio=0.5, run_all_sub_nodes=False)
    assert (m.concurrency, m.min_success_ratio, m.python_function_task) == (2, 0.5, fn.affine)
    assert m.interface.outputs["o0"] == {"t": "list", "of": {"t": "optional", "of": {"t": "int"}}}


def test_map_task_takes_run_all_sub_nodes_false_only():
    assert map_task(fn.affine, run_all_sub_nodes=False)(x=[1], a=[2]) == [2]
    with pytest.raises(ConfigError, match="run_all_sub_nodes"):
        map_task(fn.affine, run_all_sub_nodes=True)


def test_array_node_maps_a_launch_plan_and_nothing_else():
    from sdk.core.array_node import array_node

    assert fn.array_node_wf(xs=[1, 2]) == [105, 110]
    assert array_node(fn.affine_lp)(x=[1, 2]) == [105, 110]
    with pytest.raises(ConfigError, match="launch plans and reference tasks only"):
        array_node(fn.affine)
    from sdk import reference_task, reference_workflow

    @reference_task(project="p", domain="d", name="pkg.t", version="v1")
    def referenced(x: int) -> int: ...

    @reference_workflow(project="p", domain="d", name="pkg.w", version="v1")
    def referenced_wf(x: int) -> int: ...

    assert array_node(referenced).interface.inputs == {"x": {"t": "list", "of": {"t": "int"}}}
    with pytest.raises(ConfigError, match="reference tasks only"):
        array_node(referenced_wf)


def test_kwtypes_is_at_flytekits_base_task_path():
    import sdk
    from sdk.core.base_task import kwtypes

    assert kwtypes is sdk.kwtypes and list(kwtypes(a=int, b=str)) == ["a", "b"]


def test_legacy_map_task_is_the_same_map():
    from sdk.core.array_node_map_task import array_node_map_task
    from sdk.core.legacy_map_task import MapPythonTask
    from sdk.core.legacy_map_task import map_task as legacy

    assert fn.legacy_wf(xs=[1, 2], bs=[3, 4]) == [4, 8]
    assert legacy(fn.affine, concurrency=0)(x=[2], a=[3]) == [6]
    assert MapPythonTask(fn.affine, bound_inputs={"a"})(x=[1, 2], a=3) == [3, 6]
    assert array_node_map_task(fn.affine)(x=[1], a=[4], b=[1]) == [5]




# ---- tables at a path or a URL ------------------------------------------------------------


def test_a_table_given_a_uri_is_written_there_and_read_back(tmp_path):
    parquet_dir, csv_dir = tmp_path / "parquet", tmp_path / "csv"
    assert fn.table_at_wf(parquet_dir=str(parquet_dir), csv_dir=str(csv_dir)) == \
        ([1, 2], [1, 2], [3, 4])
    # as flytekit's encoders: a folder holding `00000` (Parquet) or `.csv`
    assert [p.name for p in parquet_dir.iterdir()] == ["00000"]
    assert pd.read_parquet(parquet_dir / "00000")["b"].tolist() == ["x", "y"]
    assert [p.name for p in csv_dir.iterdir()] == [".csv"]
    assert pd.read_csv(csv_dir / ".csv")["a"].tolist() == [3, 4]


def test_a_table_is_written_to_and_read_from_a_url():
    fsspec = pytest.importorskip("fsspec")
    where = "memory://graft-tests/table-at-url"
    sd = fn.write_table(where=where)
    assert fsspec.filesystem("memory").exists("/graft-tests/table-at-url/00000")
    assert fn.column_a(sd=sd) == [1, 2]
    assert fn.column_a(sd=StructuredDataset(uri=where)) == [1, 2]  # read at the URL
    assert fn.column_a_at(where=where, file_format="parquet") == [1, 2]


def test_a_table_is_read_at_an_http_url(tmp_path):
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    pd.DataFrame({"a": [9, 8]}).to_parquet(tmp_path / "t.parquet")
    (tmp_path / "t").mkdir()
    pd.DataFrame({"a": [7]}).to_csv(tmp_path / "t" / ".csv", index=False)

    class Quiet(SimpleHTTPRequestHandler):  # serves no byte ranges, as some servers do not
        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0),
                                 functools.partial(Quiet, directory=str(tmp_path)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        assert fn.column_a(sd=StructuredDataset(uri=f"{url}/t.parquet")) == [9, 8]
        assert fn.column_a_at(where=f"{url}/t.parquet", file_format="parquet") == [9, 8]
        assert fn.column_a_at(where=f"{url}/t", file_format="csv") == [7]
    finally:
        server.shutdown()
        server.server_close()


def test_a_structured_dataset_needs_a_dataframe_or_a_uri():
    with pytest.raises(TypeConversionError, match="needs a dataframe or a uri"):
        fn.point_at_table(where="", file_format="parquet")


# ---- pickle_untyped -----------------------------------------------------------------------


def test_pickle_untyped_makes_unannotated_inputs_and_outputs_any():
    assert fn.make_point.interface.inputs == {"x": {"t": "any"}}
    assert fn.make_point.interface.outputs == {"o0": {"t": "any"}}
    assert fn.untyped_wf(x=3, k=2) == [6, "Point"]  # the Point went pickled between tasks
    assert fn.untyped_dynamic(x=4) == [40, "Point"]
    assert isinstance(fn.make_point(x=[1, 2]), fn.Point)


def test_without_pickle_untyped_an_unannotated_input_is_refused():
    with pytest.raises(CompileError, match=r"no type annotation.*pickle_untyped=True"):
        @task
        def bare(x):
            return x


def test_pickle_untyped_needs_a_return_statement_without_a_return_annotation():
    with pytest.raises(CompileError, match="must return a value"):
        @task(pickle_untyped=True)
        def prints(x):
            print(x)

    @task(pickle_untyped=True)
    def prints_typed(x) -> None:
        print(x)

    assert prints_typed.interface.outputs == {}
    with pytest.raises(ConfigError, match="pickle_untyped must be True or False"):
        task(pickle_untyped="yes")(prints_typed.fn)


# ---- Resources pairs ----------------------------------------------------------------------


def test_resources_pairs_are_request_and_limit_and_single_quantities_requests_only():
    from sdk.model.resources import Resources

    assert fn.paired.requests == Resources(cpu="1", mem="100Mi")
    assert fn.paired.limits == Resources(cpu="2", mem="600Mi")
    assert fn.requested.requests == Resources(cpu="1", mem="600Mi")
    assert fn.requested.limits == Resources()  # flytekit's rule: a single value requests
    nodes = {n.id: n for n in fn.resources_wf.compile().nodes}
    assert nodes["paired"].requests == {"cpu": 1.0, "mem_bytes": 100 * 2**20}
    assert nodes["paired"].limits == {"cpu": 2.0, "mem_bytes": 600 * 2**20}
    assert nodes["paired"].memory_bytes == 600 * 2**20  # the limit picks the tier
    assert nodes["requested"].memory_bytes == 600 * 2**20  # the request, without a limit
    overridden = nodes["paired-1"]
    assert overridden.requests == {"mem_bytes": 50 * 2**20}
    assert overridden.limits == {"mem_bytes": 200 * 2**20}
    assert fn.resources_wf(x=1) == (2, 3, 2)
    assert Resources(cpu=["1", "2"]).cpu == ("1", "2")


def test_resources_pairs_are_checked_as_flytekit_checks_them():
    from sdk.model.resources import Resources

    with pytest.raises(ConfigError, match="of length 2"):
        Resources(cpu=("1", "2", "3"))
    with pytest.raises(ConfigError, match="malformed CPU quantity None"):
        Resources(cpu=["1", None])
    with pytest.raises(ConfigError, match="pairs go in resources="):
        task(requests=Resources(mem=("1Gi", "2Gi")))(fn.affine.fn)
    with pytest.raises(ConfigError, match="not both"):
        task(resources=Resources(cpu=("1", "2")), limits=Resources(cpu="2"))(fn.affine.fn)


# ---- Cache policies -----------------------------------------------------------------------


def _expected_policy_version() -> str:
    import hashlib
    import inspect

    source = hashlib.sha256(("v1" + inspect.getsource(fn.cached_by_policy.fn)).encode())
    return hashlib.sha256((source.hexdigest() + "v1:img:1").encode()).hexdigest()


def test_cache_policies_compute_the_version_as_flytekit_does(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAFT_CACHE_DIR", str(tmp_path))
    assert fn.cached_by_policy.cache_version == _expected_policy_version()
    fn.RUNS.clear()
    assert fn.cached_by_policy_wf(x=3) == 21
    assert fn.cached_by_policy_wf(x=3) == 21
    assert fn.RUNS == [3]  # the second run was a cache hit


def test_cache_policy_faces_and_errors():
    from sdk import CachePolicy as TopCachePolicy
    from sdk.core.cache import Cache, CachePolicy, VersionParameters

    assert TopCachePolicy is CachePolicy
    assert isinstance(fn.SourceHash(), CachePolicy) and not isinstance(object(), CachePolicy)
    assert VersionParameters(func=print).container_image is None
    assert Cache(version="1", ignored_inputs="a").get_ignored_inputs() == ("a",)
    with pytest.raises(ConfigError, match="at least one cache policy"):
        Cache()
    with pytest.raises(ConfigError, match="takes a CachePolicy"):
        Cache(policies=[object()])

    class Boom:
        def get_version(self, salt: str, params: VersionParameters) -> str:
            raise RuntimeError("no source")

    with pytest.raises(ConfigError, match="Failed to generate version for cache policy"):
        task(cache=Cache(policies=Boom()))(fn.affine.fn)


def test_a_cache_override_needs_a_version():
    from sdk import workflow
    from sdk.core.cache import Cache

    with pytest.raises(ConfigError, match="must specify cache version when overriding"):
        @workflow
        def wf(x: int) -> int:
            return fn.affine(x=x, a=1).with_overrides(cache=Cache(policies=fn.ImageName()))

        wf.compile()


# ---- files and folders --------------------------------------------------------------------

PngFile = fn.FlyteFile["png"]
OtherDirectory = fn.FlyteDirectory["other"]


def test_remote_paths_new_remote_files_and_downloaded(tmp_path):
    file_at, dir_at = tmp_path / "remote" / "f.txt", tmp_path / "remote" / "dir"
    assert fn.remote_files_wf(file_at=str(file_at), dir_at=str(dir_at)) == (
        "hello|False|True|f.txt", ["a.txt", "sub/b.txt"], "made|False|True|made.txt", ["x.txt"])
    assert file_at.read_text() == "hello"  # also put where remote_path said
    assert (dir_at / "sub" / "b.txt").read_text() == "B"


def test_a_new_remote_file_goes_under_another_prefix_head_when_given(tmp_path):
    f = fn.new_file_at(alt=str(tmp_path / "other"))
    assert (tmp_path / "other" / "elsewhere.txt").read_text() == "elsewhere"
    assert fn.read_file(f=f).startswith("elsewhere|")


def test_remote_paths_may_be_urls():
    fsspec = pytest.importorskip("fsspec")
    memory = fsspec.filesystem("memory")
    f = fn.put_file(where="memory://graft-tests/remote/f.txt")
    assert f.remote_source == "memory://graft-tests/remote/f.txt"  # it travels as the URL
    assert memory.cat("/graft-tests/remote/f.txt") == b"hello"
    assert fn.read_file(f=f) == "hello|False|True|f.txt"
    d = fn.put_dir(where="memory://graft-tests/remote/dir")
    assert sorted(memory.find("/graft-tests/remote/dir")) == [
        "/graft-tests/remote/dir/a.txt", "/graft-tests/remote/dir/sub/b.txt"]
    assert fn.read_dir(d=d) == ["a.txt", "sub/b.txt"]


def test_a_downloader_runs_once_when_the_path_is_first_used(tmp_path):
    from sdk.types.directory import FlyteDirectory
    from sdk.types.file import FlyteFile

    (tmp_path / "f").write_text("x")
    calls: list[str] = []
    f = FlyteFile(str(tmp_path / "f"), downloader=lambda: calls.append("f"))
    d = FlyteDirectory(str(tmp_path), downloader=lambda: calls.append("d"))
    assert (f.downloaded, d.downloaded, calls) == (False, False, [])
    with open(f) as fh:
        assert fh.read() == "x" and os.fspath(f) == str(tmp_path / "f")
    assert os.listdir(d) and d.download() == str(tmp_path)
    assert (f.downloaded, d.downloaded, calls) == (True, True, ["f", "d"])
    assert FlyteFile("x", remote_path="s3://b/k").remote_path == "s3://b/k"
    assert FlyteDirectory("x", remote_directory=False).remote_directory is False
    with pytest.raises(ValueError, match="Stem should not have a file extension"):
        FlyteDirectory.new_remote(stem="x.txt")


def test_formats_of_files_and_folders():
    import typing

    from sdk.types import file as files
    from sdk.types.directory import FlyteDirectory, TensorboardLogs, TFRecordsDirectory
    from sdk.types.file import FileExt, FlyteFile

    assert fn.formats_wf() == ["jpeg", "tensorboard", "", "tar.gz"]
    assert FlyteFile[typing.TypeVar("jpeg")].extension() == "jpeg"
    assert FlyteFile[".csv"] is FlyteFile["csv"] and FlyteFile[""] is FlyteFile
    assert FlyteFile[None] is FlyteFile and FlyteFile[3].extension() == "3"
    assert FlyteFile[typing.Annotated[str, FileExt("tar.gz")]].extension() == "tar.gz"
    with pytest.raises(ValueError, match="must be of type <str>"):
        FlyteFile[typing.Annotated[int, FileExt("x")]]
    assert issubclass(files.JPEGImageFile, FlyteFile)
    assert [files.CSVFile.extension(), files.PNGImageFile.extension(),
            files.PythonPickledFile.extension(), files.TFRecordFile.extension()] == \
        ["csv", "png", "python_pickle", "tfrecord"]
    assert (TensorboardLogs.extension(), TFRecordsDirectory.extension()) == \
        ("tensorboard", "tfrecords_dir")
    assert issubclass(TensorboardLogs, FlyteDirectory)


def test_formats_must_fit_as_on_a_flyte_cluster():
    from sdk import workflow

    @task
    def takes_png(f: PngFile) -> str:
        return f.path

    @task
    def takes_other(d: OtherDirectory) -> str:
        return d.path

    with pytest.raises(CompileError, match=r"File\[jpeg\], which does not fit File\[png\]"):
        @workflow
        def wf() -> str:
            return takes_png(f=fn.image())

        wf.compile()
    with pytest.raises(CompileError, match=r"Directory\[tensorboard\], which does not fit"):
        @workflow
        def wf2() -> str:
            return takes_other(d=fn.logs())

        wf2.compile()


# ---- CronSchedule(offset=), .cron_expression ----------------------------------------------


def test_cron_schedule_keeps_an_offset_and_its_cron_expression():
    from sdk.core.schedule import CronSchedule

    plan = CronSchedule(schedule="*/5 * * * *", offset="PT1H", kickoff_time_input_arg="t")
    assert (plan.cron_schedule.schedule, plan.cron_schedule.offset) == ("*/5 * * * *", "PT1H")
    assert plan.cron_expression is None  # as flytekit's: only what cron_expression= gave
    assert CronSchedule(schedule="@daily").cron_schedule.offset is None
    for offset in ("P1D", "-PT5M", "+P1Y2M", "PT1.5S", "P"):  # flytekit's pattern takes these
        assert CronSchedule(schedule="@daily", offset=offset).offset == offset
    with pytest.raises(ConfigError, match="offset is invalid"):
        CronSchedule(schedule="@daily", offset="an hour")
    # the offset does not move the ticks (Flyte's native scheduler ignores it)
    assert plan.to_json() == CronSchedule(schedule="*/5 * * * *",
                                          kickoff_time_input_arg="t").to_json()


# ---- with_overrides(aliases=) -------------------------------------------------------------


def test_with_overrides_records_output_aliases():
    from sdk import workflow
    from sdk.model.spec import GraphSpec

    @workflow
    def wf(x: int) -> int:
        return fn.affine(x=x, a=2).with_overrides(aliases={"o0": "doubled"})

    [node] = wf.compile().nodes
    assert node.aliases == (("o0", "doubled"),)
    assert GraphSpec.from_json(wf.compile().to_json()).nodes[0].aliases == node.aliases
    assert wf(x=4) == 8  # recorded only: outputs keep their names
    def compile_with(aliases: object) -> None:
        @workflow
        def bad(x: int) -> int:
            return fn.affine(x=x, a=2).with_overrides(aliases=aliases)

        bad.compile()

    with pytest.raises(ConfigError, match="dict"):
        compile_with(["o0"])
    with pytest.raises(ConfigError, match="does not have"):
        compile_with({"o1": "x"})


# ---- node_dependency_hints ----------------------------------------------------------------


def test_a_dynamic_takes_node_dependency_hints():
    from sdk import dynamic

    assert fn.hinted(x=1) == 105
    assert fn.hinted.node_dependency_hints == (fn.affine, fn.affine_wf, fn.affine_lp)
    assert fn.affine.node_dependency_hints is None
    with pytest.raises(ConfigError, match="should only be used on dynamic tasks"):
        task(node_dependency_hints=[fn.affine])(fn.affine.fn)
    with pytest.raises(ConfigError, match="not a task, a workflow or a launch plan"):
        dynamic(node_dependency_hints=[1])(fn.hinted.fn)
    with pytest.raises(ConfigError, match="must be a list"):
        dynamic(node_dependency_hints=3)(fn.hinted.fn)


# ---- the local cache's switches and LocalTaskCache ----------------------------------------


@pytest.fixture
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAFT_CACHE_DIR", str(tmp_path))
    fn.RUNS.clear()
    return monkeypatch


def test_flyte_local_cache_enabled_false_turns_the_in_process_cache_off(own_cache):
    own_cache.setenv("FLYTE_LOCAL_CACHE_ENABLED", "false")
    fn.cached_by_policy_wf(x=2)
    fn.cached_by_policy_wf(x=2)
    assert fn.RUNS == [2, 2]
    own_cache.setenv("FLYTE_LOCAL_CACHE_ENABLED", "")  # flytekit reads "" as false too
    fn.cached_by_policy_wf(x=2)
    assert fn.RUNS == [2, 2, 2]
    own_cache.setenv("FLYTE_LOCAL_CACHE_ENABLED", "True")
    fn.cached_by_policy_wf(x=2)
    fn.cached_by_policy_wf(x=2)
    assert fn.RUNS == [2, 2, 2, 2]


def test_flyte_local_cache_overwrite_runs_again_and_replaces_the_entry(own_cache):
    from sdk.runtime.cache import LOCAL_FOLDER, CacheIndex
    from sdk.values.store import open_store

    def entries() -> list:
        return CacheIndex(open_store(os.environ["GRAFT_CACHE_DIR"]), LOCAL_FOLDER).entries()

    fn.cached_by_policy_wf(x=5)
    [first] = entries()
    own_cache.setenv("FLYTE_LOCAL_CACHE_OVERWRITE", "1")
    fn.cached_by_policy_wf(x=5)
    assert fn.RUNS == [5, 5]
    [second] = entries()
    assert (second.key, second.execution != first.execution) == (first.key, True)  # replaced
    own_cache.delenv("FLYTE_LOCAL_CACHE_OVERWRITE")
    fn.cached_by_policy_wf(x=5)
    assert fn.RUNS == [5, 5]  # a hit again, on the replaced entry


def test_local_task_cache_clear_empties_the_in_process_cache(own_cache):
    from sdk.core.local_cache import LocalTaskCache

    fn.cached_by_policy_wf(x=7)
    fn.cached_by_policy_wf(x=7)
    LocalTaskCache.clear()
    fn.cached_by_policy_wf(x=7)
    assert fn.RUNS == [7, 7]
