"""The engines' examples in deploy/ and the Dockerfile: each manifest checked against its
engine's own schema, then its commands run here as the engine runs them.

Schemas: the Kubernetes manifests through the `kubernetes` client's models (a field the
API does not know is dropped by the model, so the round trip differs); the AWS Batch
requests and the Step Functions tasks' Parameters against botocore's service model of
Batch; the GitHub Actions workflow's structure. The Dockerfile is parsed (there is no
container runtime on these machines: it is never built here).

Runs: against the emulator (CloudTrail, Organizations, STS) and moto's S3 server
(AWS_ENDPOINT_URL_S3), the manifest's own command lines with their placeholders
substituted as a user would: BUCKET by the test's bucket, RUN by a run name, the
absolute window by the test's window inside the emulator's data (`WINDOW`). The test's
extra flags (`EXTRA`: no progress bar, the emulator's quota lifted with --rate, small
parts and pages so that parts close before a kill) are inserted right after the word
`sweep` of the command, as a user adds flags to it. The engine's variables are set as
the engine sets them: JOB_COMPLETION_INDEX (with Kubernetes' `$(VAR)` expansion of
args), AWS_BATCH_JOB_ARRAY_INDEX/SIZE (with Batch's `Ref::` parameters and the real
`sh -c`), the matrix value (with `${{ }}` expressions and the real bash). The merged
object must be byte for byte one unsharded `sweep --output FILE` over the same window.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import re
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from aiohttp import web
from botocore.validate import ParamValidator
from kubernetes.client import ApiClient
from ruamel.yaml import YAML

from trailsweep.api.plan import deal
from trailsweep.emulator import EmulatorThread
from trailsweep.emulator.tamper import Call, Honest
from trailsweep.settings.timeparse import format_time, from_epoch

from inproc import run_here
from s3_support import MotoS3
from support import NOW_EPOCH, aws_env, expected_ndjson, settings, wait_for

ROOT = Path(__file__).parents[1]
DEPLOY = ROOT / "deploy"
START, END = NOW_EPOCH - 3600, NOW_EPOCH - 1
WINDOW = (format_time(from_epoch(START)), format_time(from_epoch(END)))
EXTRA = ["--no-progress", "--rate", "100", "--part-size", "64KiB", "--page-size", "10",
         "--no-slices", "--read-ahead", "0"]  # fmt: skip
BIN = str(Path(sys.executable).parent)  # where `trailsweep` is installed, for PATH
BATCH = botocore.session.get_session().get_service_model("batch")


def _yaml(path: Path) -> list[Any]:
    return [doc for doc in YAML(typ="safe").load_all(path.read_text()) if doc is not None]


def _json(path: Path) -> Any:
    return json.loads(path.read_text())


# ---------------------------------------------------------------- the Dockerfile


def _stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile's instructions (continuation lines joined), stage by stage."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    stages: list[list[tuple[str, str]]] = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        word, _, rest = line.strip().partition(" ")
        if word.upper() == "FROM":
            stages.append([])
        stages[-1].append((word.upper(), rest.strip()))
    return stages


def test_the_dockerfile_installs_as_the_readme_does_as_a_non_root_user() -> None:
    """A slim Python 3.11 base; the package installed by the README's Install line; a
    non-root USER (numeric, so Kubernetes' runAsNonRoot can check it) in force in both
    stages; the default (last) stage's ENTRYPOINT is trailsweep, the Batch stage has
    none (AWS Batch cannot replace one)."""
    stages = _stages()
    base = dict(stages[0])
    assert re.fullmatch(r"python:3\.11-slim(-\w+)? AS batch", base["FROM"])
    readme = (ROOT / "README.md").read_text()
    assert "python3 -m pip install ." in readme
    runs = [rest for word, rest in stages[0] if word == "RUN"]
    assert any(re.match(r"python3 -m pip install \.( |$)", r) for r in runs)
    users = [rest for word, rest in stages[0] if word == "USER"]
    assert users and users[-1].isdigit() and int(users[-1]) != 0
    assert not any(word == "ENTRYPOINT" for word, _ in stages[0])
    last = stages[-1]
    assert last[0] == ("FROM", "batch AS trailsweep")
    assert not any(word == "USER" for word, _ in last)  # the base stage's user stays
    assert [json.loads(rest) for word, rest in last if word == "ENTRYPOINT"] == [["trailsweep"]]
    copied = [rest.split()[0] for word, rest in stages[0] if word == "COPY"]
    assert all((ROOT / name).exists() for name in copied)


# ---------------------------------------------------------------- schemas


def _k8s_round_trip(doc: dict[str, Any]) -> Any:
    client = ApiClient()
    model = client.deserialize(json.dumps(doc), f"V1{doc['kind']}", "application/json")
    return client.sanitize_for_serialization(model)  # type: ignore[no-untyped-call]


@pytest.mark.parametrize("name", ["serviceaccount.yaml", "sweep-job.yaml", "merge-job.yaml"])
def test_kubernetes_manifests_are_the_clients_models(name: str) -> None:
    """Each document read into its model and written back is the same document: a field
    spelled wrong (or one this API version lacks) is dropped and fails the comparison."""
    for doc in _yaml(DEPLOY / "kubernetes" / name):
        assert doc["kind"] in ("Job", "ServiceAccount")
        assert _k8s_round_trip(doc) == doc


def test_the_kubernetes_misspelling_check_can_fail() -> None:
    doc = _yaml(DEPLOY / "kubernetes" / "sweep-job.yaml")[0]
    doc["spec"]["backofLimitPerIndex"] = 3
    assert _k8s_round_trip(doc) != doc


def test_the_sweep_job_is_an_indexed_job_of_absolute_windows() -> None:
    (job,) = _yaml(DEPLOY / "kubernetes" / "sweep-job.yaml")
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed"
    assert spec["completions"] == spec["parallelism"] >= 2
    assert spec["backoffLimitPerIndex"] >= 1
    assert spec["template"]["spec"]["restartPolicy"] == "Never"
    assert spec["template"]["spec"]["serviceAccountName"] == "trailsweep"
    args = spec["template"]["spec"]["containers"][0]["args"]
    assert args[args.index("--shard") + 1] == f"auto/{spec['completions']}"
    for flag in ("--start-time", "--end-time"):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", args[args.index(flag) + 1])
    (account,) = _yaml(DEPLOY / "kubernetes" / "serviceaccount.yaml")
    assert account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].startswith(
        "arn:aws:iam::"
    )
    (merge,) = _yaml(DEPLOY / "kubernetes" / "merge-job.yaml")
    inputs = [
        a for a in merge["spec"]["template"]["spec"]["containers"][0]["args"] if "shard-" in a
    ]
    assert inputs == [f"s3://BUCKET/RUN/shard-{i}" for i in range(spec["completions"])]


def _validate(params: Any, operation: str) -> None:
    shape = BATCH.operation_model(operation).input_shape
    report = ParamValidator().validate(params, shape)
    assert not report.has_errors(), report.generate_report()


@pytest.mark.parametrize(
    ("name", "operation"),
    [("job-definition.json", "RegisterJobDefinition"), ("array-job.json", "SubmitJob"),
     ("merge-job.json", "SubmitJob")],
)  # fmt: skip
def test_batch_requests_are_valid_for_botocores_batch_model(name: str, operation: str) -> None:
    _validate(_json(DEPLOY / "aws-batch" / name), operation)


def test_the_batch_check_can_fail() -> None:
    with pytest.raises(AssertionError, match="Unknown parameter"):
        _validate({**_json(DEPLOY / "aws-batch" / "array-job.json"), "arraySize": 3}, "SubmitJob")


def _from_asl(value: Any, shape: Any) -> Any:
    """Step Functions' Parameters for a Batch call as botocore's parameters: its keys are
    the API's members capitalised; a key ending `.$` takes a JSONPath or an intrinsic
    function, replaced here by a value of the member's type."""
    if shape.type_name == "structure":
        out = {}
        for key, item in value.items():
            name = key.removesuffix(".$")
            member = name[0].lower() + name[1:]
            assert member in shape.members, f"{key}: not a member of {shape.name}"
            out[member] = _example(shape.members[member]) if key.endswith(".$") else (
                _from_asl(item, shape.members[member])
            )  # fmt: skip
        return out
    if shape.type_name == "map":
        return {k.removesuffix(".$"): "x" if k.endswith(".$") else v for k, v in value.items()}
    if shape.type_name == "list":
        return [_from_asl(item, shape.member) for item in value]
    return value


def _example(shape: Any) -> Any:
    return {"list": ["x"], "integer": 1, "long": 1, "boolean": True, "map": {}}.get(
        shape.type_name, "x"
    )


def test_the_state_machine_runs_the_array_job_then_the_merge() -> None:
    machine = _json(DEPLOY / "aws-batch" / "state-machine.asl.json")
    states = machine["States"]
    assert machine["StartAt"] == "Sweep"
    assert states["Sweep"]["Next"] == "Merge" and states["Merge"]["End"] is True
    submit = BATCH.operation_model("SubmitJob").input_shape
    for state in states.values():
        assert state["Type"] == "Task"
        assert state["Resource"] == "arn:aws:states:::batch:submitJob.sync"
        assert "ResultPath" in state  # keeps the input (bucket, run) for the next state
        params = _from_asl(state["Parameters"], submit)
        report = ParamValidator().validate(params, submit)
        assert not report.has_errors(), report.generate_report()
    sweep = states["Sweep"]["Parameters"]
    defaults = _json(DEPLOY / "aws-batch" / "job-definition.json")["parameters"]
    assert {k.removesuffix(".$") for k in sweep["Parameters"]} == set(defaults)
    command = states["Merge"]["Parameters"]["ContainerOverrides"]["Command.$"]
    size = sweep["ArrayProperties"]["Size"]
    assert [f"shard-{i}" in command for i in range(size + 1)] == [True] * size + [False]


def test_the_github_workflow_is_a_matrix_then_a_merge() -> None:
    (flow,) = _yaml(DEPLOY / "github-actions" / "sweep-matrix.yml")
    jobs = flow["jobs"]
    shards = jobs["sweep"]["strategy"]["matrix"]["shard"]
    assert shards == list(range(len(shards)))
    assert jobs["merge"]["needs"] == "sweep"
    for job in jobs.values():
        assert all("uses" in step or "run" in step for step in job["steps"])
    sweep = _run_of(jobs["sweep"], "trailsweep sweep")
    assert f"--shard ${{{{ matrix.shard }}}}/{len(shards)}" in sweep
    merge = _run_of(jobs["merge"], "trailsweep merge")
    assert all(f"shard-{i}" in merge for i in shards)
    assert not (ROOT / ".github").exists()  # an example: it does not run here


def _run_of(job: dict[str, Any], start: str) -> str:
    (found,) = [s["run"] for s in job["steps"] if s.get("run", "").startswith(start)]
    return str(found)


# ---------------------------------------------------------------- runs


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorThread]:
    """3 accounts x 2 regions, a few hundred events an hour each, no quota to wait on."""
    fast = settings(members=2, suspended=0, events_per_day=2000.0,
                    faults={"rate": 1e4, "burst": 1e4})  # fmt: skip
    with EmulatorThread(fast) as running:
        yield running


@pytest.fixture(scope="module")
def unsharded(emu: EmulatorThread, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """One unsharded `sweep --output FILE` over the window: what every merge must equal
    (and the emulator's truth, so that the comparison cannot pass on two empty files)."""
    out = tmp_path_factory.mktemp("unsharded") / "org.ndjson"
    args = ["sweep", "--accounts", "org", "--regions", "all", "--start-time", WINDOW[0],
            "--end-time", WINDOW[1], "--no-progress", "--rate", "100",
            "--output", str(out)]  # fmt: skip
    done = run_here(args, env=aws_env(emu))
    assert done.returncode == 0, done.stderr.decode()
    accounts = sorted(a.id for a in emu.emulator.world.accounts)
    pairs = [(a, r) for a in accounts for r in ("eu-west-1", "us-east-1")]
    assert out.read_bytes() == expected_ndjson(emu, pairs, start=START, end=END)
    assert out.stat().st_size > 100_000
    return out.read_bytes()


@pytest.fixture
def bucket(s3: MotoS3) -> str:
    return s3.make_bucket(f"deploy-{uuid.uuid4().hex[:16]}")


def _env(emu: EmulatorThread, s3: MotoS3, **extra: str) -> dict[str, str]:
    return aws_env(emu, AWS_ENDPOINT_URL_S3=s3.url, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}",
                   **extra)  # fmt: skip


def _with_extra(args: list[str]) -> list[str]:
    at = args.index("sweep") + 1
    return [*args[:at], *EXTRA, *args[at:]]


def _window(args: list[str]) -> list[str]:
    """The manifest's absolute window replaced by the test's."""
    out = list(args)
    for flag, value in zip(("--start-time", "--end-time"), WINDOW, strict=True):
        out[out.index(flag) + 1] = value
    return out


def _placed(text: str, bucket: str, run: str) -> str:
    return text.replace("s3://BUCKET/RUN/", f"s3://{bucket}/{run}/")


_K8S_VAR = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def _k8s_expand(value: str, env: dict[str, str]) -> str:
    """Kubernetes' expansion of args: `$(NAME)` of a variable the container's env
    defines becomes its value, any other `$(NAME)` stays as written, `$$` is `$`."""

    def one(found: re.Match[str]) -> str:
        name = found.group(1)
        if name is None:
            return "$"
        return env.get(name, found.group(0))

    return _K8S_VAR.sub(one, value)


class HoldShard:
    """An emulator tamper: the LookupEvents calls of `pairs` (one shard's) are answered
    until `pages` of them were, then each waits for `release`; `holding` is set when the
    first one waits. The other shards' calls are answered as ever."""

    def __init__(self, pairs: set[tuple[str, str]], pages: int) -> None:
        self.pairs, self.pages, self.served = pairs, pages, 0
        self.holding, self.release = threading.Event(), threading.Event()

    async def __call__(self, call: Call, honest: Honest) -> web.StreamResponse:
        if call.operation == "LookupEvents" and (call.account, call.region) in self.pairs:
            self.served += 1  # the emulator's thread only
            if self.served > self.pages:
                self.holding.set()
                await asyncio.to_thread(self.release.wait, 120)
        return await honest()


def _start(argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip


def _finish(proc: subprocess.Popen[bytes]) -> None:
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()


def _merged(s3: MotoS3, bucket: str, run: str) -> bytes:
    return gzip.decompress(s3.get(bucket, f"{run}/org.ndjson.gz"))


def _parts(s3: MotoS3, bucket: str, prefix: str) -> list[str]:
    return [k for k in s3.keys(bucket, prefix + "/") if "/trailsweep-" in k]


def test_kubernetes_indexed_job_with_a_killed_index_then_the_merge_job(
    emu: EmulatorThread, s3: MotoS3, bucket: str, unsharded: bytes
) -> None:
    """The Indexed Job's N pods (the container's args, `$(JOB_COMPLETION_INDEX)` expanded
    with each index) run at once; the one with the most events is held by the emulator
    after 12 of its pages, with parts of it on S3, and SIGKILLed; started again with the
    same index (backoffLimitPerIndex), it finishes; then the merge Job's args: the object
    is the unsharded sweep's bytes."""
    (job,) = _yaml(DEPLOY / "kubernetes" / "sweep-job.yaml")
    (merge,) = _yaml(DEPLOY / "kubernetes" / "merge-job.yaml")
    count = job["spec"]["completions"]
    container = job["spec"]["template"]["spec"]["containers"][0]
    run = "run-k8s"
    accounts = sorted(a.id for a in emu.emulator.world.accounts)
    plan = deal([(a, r) for a in accounts for r in ("eu-west-1", "us-east-1")], count)
    events = [0] * count
    for row in plan.rows:
        events[row.shard] += len(emu.truth(row.account, row.region, start=START, end=END))
    victim = max(range(count), key=lambda i: events[i])
    assert events[victim] > 300  # pages enough to hold after 12 of them (10 events each)
    hold = HoldShard({(r.account, r.region) for r in plan.rows if r.shard == victim}, 12)

    def pod(index: int) -> subprocess.Popen[bytes]:
        defined = {e["name"]: str(index) for e in container["env"]}
        assert defined == {"JOB_COMPLETION_INDEX": str(index)}
        args = [_placed(_k8s_expand(a, defined), bucket, run) for a in container["args"]]
        env = _env(emu, s3, **defined)
        return _start([sys.executable, "-m", "trailsweep", *_with_extra(_window(args))], env)

    emu.set_tamper(hold)
    try:
        pods = {i: pod(i) for i in range(count)}
        assert hold.holding.wait(timeout=120)
        prefix = f"{run}/shard-{victim}"
        # Objects another process puts: no event can say so (support.wait_for).
        assert wait_for(lambda: len(_parts(s3, bucket, prefix)) >= 1, timeout=60)
        pods[victim].kill()
        pods[victim].wait(timeout=30)
        assert pods[victim].returncode == -9
    finally:
        hold.release.set()
        emu.set_tamper(None)
    assert len(_parts(s3, bucket, prefix)) >= 1  # the retry resumes after these
    pods[victim] = pod(victim)
    for proc in pods.values():
        _finish(proc)
    args = [
        _placed(a, bucket, run) for a in merge["spec"]["template"]["spec"]["containers"][0]["args"]
    ]
    done = run_here(args, env=_env(emu, s3))
    assert done.returncode == 0, done.stderr.decode()
    assert _merged(s3, bucket, run) == unsharded


def _ref(argv: list[str], parameters: dict[str, str]) -> list[str]:
    """Batch's parameter substitution: an argument `Ref::NAME` becomes the parameter's
    value (SubmitJob's over the job definition's default)."""
    return [parameters[a[5:]] if a.startswith("Ref::") else a for a in argv]


def test_batch_array_job_then_the_merge_job(
    emu: EmulatorThread, s3: MotoS3, bucket: str, unsharded: bytes
) -> None:
    """The job definition's command (`sh -c`, its Ref:: parameters from the array job's
    SubmitJob, as a user submits a run: this bucket, a run name, the test's window) for
    each child index, with AWS_BATCH_JOB_ARRAY_INDEX and _SIZE set; then the merge job's
    command: the object is the unsharded sweep's bytes."""
    definition = _json(DEPLOY / "aws-batch" / "job-definition.json")
    array = _json(DEPLOY / "aws-batch" / "array-job.json")
    merge = _json(DEPLOY / "aws-batch" / "merge-job.json")
    run = "run-batch"
    array["parameters"] = {"bucket": bucket, "run": run, "start": WINDOW[0], "end": WINDOW[1]}
    parameters = {**definition["parameters"], **array["parameters"]}
    command = _ref(definition["containerProperties"]["command"], parameters)
    assert command[:2] == ["sh", "-c"]
    command[2] = command[2].replace("trailsweep sweep ", f"trailsweep sweep {' '.join(EXTRA)} ")
    size = array["arrayProperties"]["size"]
    children = [
        _start(command, _env(emu, s3, AWS_BATCH_JOB_ARRAY_INDEX=str(i),
                             AWS_BATCH_JOB_ARRAY_SIZE=str(size)))
        for i in range(size)
    ]  # fmt: skip
    for child in children:
        _finish(child)
    assert merge["dependsOn"] == [{"jobId": "ARRAY_JOB_ID"}]
    argv = [_placed(a, bucket, run) for a in merge["containerOverrides"]["command"]]
    done = subprocess.run(argv, env=_env(emu, s3), capture_output=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr.decode()
    assert _merged(s3, bucket, run) == unsharded


def _gha(text: str, shard: str | None) -> str:
    """The workflow's `${{ }}` expressions this workflow uses, evaluated."""
    values = {"matrix.shard": shard or "", "github.run_id": "4242"}
    return re.sub(r"\$\{\{\s*([\w.]+)\s*\}\}", lambda m: values[m.group(1)], text)


def test_github_matrix_then_the_merge_job(
    emu: EmulatorThread, s3: MotoS3, bucket: str, unsharded: bytes
) -> None:
    """Each matrix job's sweep step, its expressions evaluated and run by bash with the
    workflow's env (its window replaced by the test's), then the merge job's step: the
    object is the unsharded sweep's bytes."""
    (flow,) = _yaml(DEPLOY / "github-actions" / "sweep-matrix.yml")
    jobs = flow["jobs"]
    env = {k: _gha(str(v), None) for k, v in flow["env"].items()}
    env.update(START_TIME=WINDOW[0], END_TIME=WINDOW[1])
    run = env["RUN"]
    sweep = _run_of(jobs["sweep"], "trailsweep sweep").replace("s3://BUCKET/", f"s3://{bucket}/")
    sweep = sweep.replace("trailsweep sweep ", f"trailsweep sweep {' '.join(EXTRA)} ")
    steps = [
        _start(["bash", "-e", "-c", _gha(sweep, str(shard))], _env(emu, s3, **env))
        for shard in jobs["sweep"]["strategy"]["matrix"]["shard"]
    ]
    for step in steps:
        _finish(step)
    merge = _run_of(jobs["merge"], "trailsweep merge").replace("s3://BUCKET/", f"s3://{bucket}/")
    done = subprocess.run(["bash", "-e", "-c", _gha(merge, None)], env=_env(emu, s3, **env),
                          capture_output=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    assert _merged(s3, bucket, run) == unsharded
