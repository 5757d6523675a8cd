"""Filling a call's shapes (requestParameters, responseElements, ...) for one event.

A shape is JSON written in catalog tables with placeholders: a string "$name" is replaced
whole by the value `name` (which may be a number, a list or a dict), a string holding
"{name}" is formatted (a text with other braces, such as a policy document, is kept as it is).
`compile_shape` turns a shape into a function once, so rendering an
event walks no table; `Ctx` holds one event's values and works each out the first time a
shape asks for it (`VALUES`). Resources come from small per-account pools (a dozen
instances, a few buckets), so the same resources recur, as in a real account.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from trailsweep.emulator.world import stable_hash

Shape = Callable[["Ctx"], Any]
_FIELD = re.compile(r"\{[a-z_0-9]+\}")  # a value's place in a text; other braces are text


class Ctx(dict[str, Any]):
    """One event's values, each made when first asked for (see VALUES)."""

    __slots__ = ("account", "detail", "region", "time")

    def __init__(self, account: str, region: str, detail: int, time: int) -> None:
        super().__init__()
        self.account, self.region, self.detail, self.time = account, region, detail, time

    def __missing__(self, key: str) -> Any:
        value = self[key] = VALUES[key](self)
        return value

    def pick(self, kind: str, size: int) -> int:
        """Which of `size` pooled resources of `kind` this event touches."""
        return (self.detail >> (stable_small(kind) % 40)) % size


@lru_cache(maxsize=512)
def stable_small(text: str) -> int:
    return stable_hash("shift", text)


@lru_cache(maxsize=65536)
def hexid(account: str, kind: str, n: int, length: int = 17) -> str:
    """A stable lowercase hex id (EC2's 17 characters by default)."""
    high, low = stable_hash("hex", account, kind, n), stable_hash("hex2", account, kind, n)
    return f"{high:016x}{low:016x}"[:length]


def uuid_of(account: str, kind: str, n: int) -> str:
    h = hexid(account, kind, n, 32)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


def aws_date(epoch: int) -> str:
    """A date as AWS writes it in responseElements ("Jul 30, 2024, 9:53:13 PM")."""
    head, tail = _date_parts(epoch // 3600)
    rest = epoch % 3600
    return f"{head}{rest // 60:02d}:{rest % 60:02d} {tail}"


@lru_cache(maxsize=4096)
def _date_parts(hour: int) -> tuple[str, str]:
    d = datetime.fromtimestamp(hour * 3600, UTC)
    return f"{d:%b} {d.day}, {d.year}, {d.hour % 12 or 12}:", "AM" if d.hour < 12 else "PM"


def _pool(kind: str, size: int, fmt: str) -> Callable[[Ctx], str]:
    """A value from a per-account pool: `fmt` formatted with h (17 hex), n, a (account),
    r (region)."""

    def value(c: Ctx) -> str:
        n = c.pick(kind, size)
        return fmt.format(h=hexid(c.account, kind, n), n=n, a=c.account, r=c.region)

    return value


def _choice(kind: str, names: tuple[str, ...]) -> Callable[[Ctx], str]:
    return lambda c: names[c.pick(kind, len(names))]


_BUCKETS = ("logs", "artifacts", "data-lake", "backups", "static-site", "athena-results")
_TABLES = ("orders", "sessions", "invoices", "feature-flags")
_STACKS = ("network", "orders-api", "data-pipeline", "observability")
_PARAMS = ("/app/prod/db-url", "/app/prod/feature-flags", "/app/common/api-endpoint", "/ci/ami-id")
_SECRETS = ("prod/orders/db", "prod/payments/api-key", "common/datadog")
_ROLES = ("orders-api-execution-role", "GitHubActionsDeploy", "eks-node-role", "data-pipeline-role")
_USERS = ("alice", "bob", "carol", "dmitri", "terraform", "ci-deploy", "backup-bot")
_POLICIES = ("ReadOnlyAccess", "AmazonS3ReadOnlyAccess", "CloudWatchLogsFullAccess",
             "AmazonSSMManagedInstanceCore", "AWSLambdaBasicExecutionRole")  # fmt: skip
_CLUSTERS = ("prod", "staging")
_SERVICES = ("orders-api", "invoice-worker", "web")
_DBS = ("orders-prod", "analytics", "legacy-crm")
_TYPES = ("t3.medium", "m6i.large", "c7g.xlarge", "r6i.large")


def _res_arn(c: Ctx, service: str, rest: str, *, region: bool = True) -> str:
    return f"arn:aws:{service}:{c.region if region else ''}:{c.account}:{rest}"


VALUES: dict[str, Callable[[Ctx], Any]] = {
    "account": lambda c: c.account,
    "region": lambda c: c.region,
    "date": lambda c: aws_date(c.time),
    "expires": lambda c: aws_date(c.time + 3600),
    "uuid": lambda c: uuid_of(c.account, "uuid", c.detail),
    "token": lambda c: hexid(c.account, "tok", c.detail, 32),
    "instance": _pool("i", 12, "i-{h}"),
    "instance_type": _choice("itype", _TYPES),
    "ami": _pool("ami", 3, "ami-{h}"),
    "sg": _pool("sg", 6, "sg-{h}"),
    "vpc": _pool("vpc", 2, "vpc-{h}"),
    "subnet": _pool("subnet", 4, "subnet-{h}"),
    "volume": _pool("vol", 10, "vol-{h}"),
    "snapshot": _pool("snap", 6, "snap-{h}"),
    "eni": _pool("eni", 8, "eni-{h}"),
    "flow_log": _pool("fl", 2, "fl-{h}"),
    "launch_template": _pool("lt", 3, "lt-{h}"),
    "bucket": lambda c: f"{_BUCKETS[c.pick('bucket', 6)]}-{c.account}",
    "bucket_arn": lambda c: f"arn:aws:s3:::{c['bucket']}",
    "function": _choice("fn", ("orders-api", "invoice-worker", "thumbnailer", "audit-forwarder")),
    "function_arn": lambda c: _res_arn(c, "lambda", f"function:{c['function']}"),
    "key_id": lambda c: uuid_of(c.account + c.region, "kms", c.pick("kms", 3)),
    "key_arn": lambda c: _res_arn(c, "kms", f"key/{c['key_id']}"),
    "table": _choice("table", _TABLES),
    "table_arn": lambda c: _res_arn(c, "dynamodb", f"table/{c['table']}"),
    "stack": _choice("stack", _STACKS),
    "stack_id": lambda c: _res_arn(
        c, "cloudformation", f"stack/{c['stack']}/{uuid_of(c.account, c['stack'], 0)}"
    ),
    "log_group": lambda c: f"/aws/lambda/{c['function']}",
    "parameter": _choice("param", _PARAMS),
    "parameter_arn": lambda c: _res_arn(c, "ssm", f"parameter{c['parameter']}"),
    "secret": _choice("secret", _SECRETS),
    "secret_arn": lambda c: _res_arn(
        c, "secretsmanager", f"secret:{c['secret']}-{hexid(c.account, c['secret'], 0, 6)}"
    ),
    "role": _choice("role", _ROLES),
    "role_arn": lambda c: f"arn:aws:iam::{c.account}:role/{c['role']}",
    "user": _choice("user", _USERS),
    "user_arn": lambda c: f"arn:aws:iam::{c.account}:user/{c['user']}",
    "user_id": lambda c: "AIDA" + hexid(c.account, c["user"], 0, 17).upper(),
    "policy_arn": lambda c: f"arn:aws:iam::aws:policy/{_POLICIES[c.pick('policy', 5)]}",
    "cluster": _choice("cluster", _CLUSTERS),
    "cluster_arn": lambda c: _res_arn(c, "ecs", f"cluster/{c['cluster']}"),
    "ecs_service": _choice("svc", _SERVICES),
    "task_def": lambda c: f"{c['ecs_service']}:{c.pick('rev', 40) + 1}",
    "repo": _choice("repo", _SERVICES),
    "db": _choice("db", _DBS),
    "db_arn": lambda c: _res_arn(c, "rds", f"db:{c['db']}"),
    "zone": lambda c: "Z" + hexid(c.account, "zone", c.pick("zone", 2), 20).upper(),
    "distribution": lambda c: "E" + hexid(c.account, "cf", c.pick("cf", 2), 13).upper(),
    "queue_url": lambda c: (
        f"https://sqs.{c.region}.amazonaws.com/{c.account}/{c['ecs_service']}-jobs"
    ),
    "topic_arn": lambda c: _res_arn(c, "sns", f"{c['ecs_service']}-alerts"),
    "alarm": lambda c: f"{c['ecs_service']}-5xx-high",
    "rule": lambda c: f"{c['function']}-schedule",
    "asg": lambda c: f"{c['ecs_service']}-asg",
    "lb_arn": lambda c: _res_arn(
        c, "elasticloadbalancing", f"loadbalancer/app/web/{hexid(c.account, 'lb', 0, 16)}"
    ),
    "tg_arn": lambda c: _res_arn(
        c, "elasticloadbalancing", f"targetgroup/web/{hexid(c.account, 'tg', 0, 16)}"
    ),
    "cert_arn": lambda c: _res_arn(c, "acm", f"certificate/{uuid_of(c.account, 'acm', 0)}"),
    "detector": lambda c: hexid(c.account + c.region, "gd", 0, 32),
    "trail": lambda c: "org-trail",
    "trail_arn": lambda c: _res_arn(c, "cloudtrail", "trail/org-trail"),
    "filesystem": _pool("fs", 2, "fs-{h}"),
    "new_user_id": lambda c: "AIDA" + hexid(c.account, "newuser", c.detail).upper(),
    "new_role_id": lambda c: "AROA" + hexid(c.account, "newrole", c.detail).upper(),
    "new_key": lambda c: "AKIA" + hexid(c.account, "newkey", c.detail, 16).upper(),
    "cidr": lambda c: f"10.{c.pick('net', 4)}.0.0/16",
    "repo_uri": lambda c: f"{c.account}.dkr.ecr.{c.region}.amazonaws.com/{c['repo']}",
    "digest": lambda c: "sha256:" + hexid(c.account, "digest", c.detail, 32) * 2,
    "ou": lambda c: "ou-" + hexid(c.account, "ou", 0, 4) + "-" + hexid(c.account, "ou1", 0, 8),
    "graph": lambda c: "arn:aws:detective:{}:{}:graph:{}".format(
        c.region, c.account, hexid(c.account, "g", 0, 32)
    ),
}


def compile_shape(shape: Any) -> Shape:
    """The function that fills `shape` for one event (see the module's docstring)."""
    if isinstance(shape, dict):
        parts = [(k, compile_shape(v)) for k, v in shape.items()]
        if all(getattr(f, "constant", False) for _, f in parts):
            return _constant(shape)
        return lambda c: {k: f(c) for k, f in parts}
    if isinstance(shape, list):
        items = [compile_shape(v) for v in shape]
        if all(getattr(f, "constant", False) for f in items):
            return _constant(shape)
        return lambda c: [f(c) for f in items]
    if isinstance(shape, str) and shape.startswith("$"):
        key = shape[1:]
        return lambda c: c[key]
    if isinstance(shape, str) and "{" in shape and shape.count("{") == len(_FIELD.findall(shape)):
        text = shape
        return lambda c: text.format_map(c)
    return _constant(shape)


def _constant(value: Any) -> Shape:
    def same(_: Ctx) -> Any:
        return value

    same.constant = True  # type: ignore[attr-defined]
    return same
