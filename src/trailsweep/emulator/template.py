"""One API call as the catalogue states it (catalog.py): which service, how often, who makes
it, and the shapes of its record (shapes.py fills them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from trailsweep.emulator.shapes import Shape, compile_shape

# Services whose events CloudTrail records in us-east-1 whatever region was called, and
# the host their calls go to (tlsDetails.clientProvidedHostHeader).
GLOBAL_HOSTS = {
    "iam.amazonaws.com": "iam.amazonaws.com",
    "signin.amazonaws.com": "signin.aws.amazon.com",
    "organizations.amazonaws.com": "organizations.us-east-1.amazonaws.com",
    "cloudfront.amazonaws.com": "cloudfront.amazonaws.com",
    "route53.amazonaws.com": "route53.amazonaws.com",
}


@dataclass(frozen=True, slots=True, eq=False)
class Template:
    """Compared and hashed by identity: each entry is one object, made once."""

    source: str  # e.g. "ec2.amazonaws.com"
    name: str  # e.g. "RunInstances"
    read_only: bool
    resource_type: str | None  # the first resource's type, e.g. "AWS::EC2::Instance"
    weight: int  # relative frequency among the calls its callers make
    global_service: bool = False
    who: frozenset[str] = frozenset()  # the audiences that make it (cast.Actor.audience)
    # The record's shapes, compiled (shapes.py); None: the field is null / absent.
    request: Shape | None = field(default=None, compare=False)
    response: Shape | None = field(default=None, compare=False)
    additional: Shape | None = field(default=None, compare=False)  # additionalEventData
    # Resources: (type, the value naming it, the value holding its ARN or None).
    res: tuple[tuple[str, str, str | None], ...] = ()
    record_resources: bool = False  # the record carries `resources` (ARNs), as AWS's do
    event_type: str = "AwsApiCall"

    @property
    def service(self) -> str:
        return self.source.split(".", 1)[0]


def api(
    service: str, name: str, weight: int, who: str, *, ro: bool = False, req: Any = None,
    resp: Any = None, extra: Any = None, res: tuple[tuple[str, str, str | None], ...] = (),
    record_res: bool = False, source: str | None = None,
) -> Template:  # fmt: skip
    """A catalogue entry; `who` lists audiences, space-separated."""
    src = source or f"{service}.amazonaws.com"
    return Template(
        source=src, name=name, read_only=ro, resource_type=res[0][0] if res else None,
        weight=weight, global_service=src in GLOBAL_HOSTS, who=frozenset(who.split()),
        request=None if req is None else compile_shape(req),
        response=None if resp is None else compile_shape(resp),
        additional=None if extra is None else compile_shape(extra),
        res=res, record_resources=record_res,
    )  # fmt: skip


def read(service: str, name: str, weight: int, who: str, **kw: Any) -> Template:
    return api(service, name, weight, who, ro=True, **kw)
