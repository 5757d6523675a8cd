"""What realistic CloudTrail management events look like: the calls principals make, with
their shapes, and each service's errors.

The background catalogue (`TEMPLATES`) is the tables of apis_compute.py, apis_data.py and
apis_identity.py; `SESSION_TEMPLATES` are the calls that open sessions and `CONSOLE_LOGIN`
the console sign-in, which history.py places itself (cast.py says who makes them). Global
services (IAM, STS's sign-in, Organizations, CloudFront, Route 53) only appear in
us-east-1, as in real CloudTrail.
"""

from __future__ import annotations

import re

from trailsweep.emulator import apis_compute, apis_data, apis_identity
from trailsweep.emulator.template import Template, api

TEMPLATES: tuple[Template, ...] = (
    apis_compute.TEMPLATES + apis_data.TEMPLATES + apis_identity.TEMPLATES
)

_SESSION_RES = (
    ("AWS::IAM::Role", "role_arn", "role_arn"),
    ("AWS::IAM::AccessKey", "session_key", None),
    ("AWS::STS::AssumedRole", "session_arn", None),
)
_CREDENTIALS = {
    "accessKeyId": "$session_key",
    "sessionToken": "$session_token",
    "expiration": "$expires",
}
_ASSUMED = {"assumedRoleId": "{role_id}:{session_name}", "arn": "$session_arn"}
SESSION_TEMPLATES: dict[str, Template] = {
    "AssumeRole": api(
        "sts",
        "AssumeRole",
        0,
        "",
        ro=True,
        res=_SESSION_RES,
        record_res=True,
        req={"roleArn": "$role_arn", "roleSessionName": "$session_name", "durationSeconds": 3600},
        resp={"credentials": _CREDENTIALS, "assumedRoleUser": _ASSUMED},
    ),
    "AssumeRoleWithSAML": api(
        "sts",
        "AssumeRoleWithSAML",
        0,
        "",
        ro=True,
        res=_SESSION_RES,
        record_res=True,
        req={
            "sAMLAssertionID": "_{uuid}",
            "roleSessionName": "$session_name",
            "principalArn": "$saml_provider",
            "roleArn": "$role_arn",
            "durationSeconds": 3600,
        },
        resp={
            "credentials": _CREDENTIALS,
            "assumedRoleUser": _ASSUMED,
            "packedPolicySize": 0,
            "subject": "$session_name",
            "subjectType": "persistent",
            "issuer": "https://portal.sso.{region}.amazonaws.com/saml/assertion/{saml_id}",
            "audience": "https://signin.aws.amazon.com/saml",
            "nameQualifier": "$saml_id",
        },
    ),
    "AssumeRoleWithWebIdentity": api(
        "sts",
        "AssumeRoleWithWebIdentity",
        0,
        "",
        ro=True,
        res=_SESSION_RES,
        record_res=True,
        req={"roleArn": "$role_arn", "roleSessionName": "$session_name", "durationSeconds": 3600},
        resp={
            "credentials": _CREDENTIALS,
            "subjectFromWebIdentityToken": "$subject",
            "assumedRoleUser": _ASSUMED,
            "provider": "$oidc_provider",
            "audience": "sts.amazonaws.com",
        },
        extra={"identityProviderConnectionVerificationMethod": "IAMTrustStore"},
    ),
    "GetSessionToken": api(
        "sts",
        "GetSessionToken",
        0,
        "",
        ro=True,
        res=(("AWS::IAM::AccessKey", "session_key", None),),
        req={"durationSeconds": 3600, "serialNumber": "arn:aws:iam::{account}:mfa/{session_name}"},
        resp={"credentials": _CREDENTIALS},
    ),
}
CONSOLE_LOGIN = api(
    "signin",
    "ConsoleLogin",
    4,
    "",
    resp={"ConsoleLogin": "Success"},
    extra={
        "LoginTo": "https://console.aws.amazon.com/console/home?state=hashArgs%23&isauthcode=true",
        "MobileVersion": "No",
        "MFAUsed": "$mfa_used",
    },
)

INSIGHT_TEMPLATES: tuple[Template, ...] = (
    api("ec2", "RunInstances", 3, ""),
    api("iam", "CreateAccessKey", 1, ""),
    api("s3", "PutBucketPolicy", 1, ""),
    api("kms", "Decrypt", 2, "", ro=True),
)

# Each service's errors as CloudTrail records them: its access-denied code, its not-found
# code with a message (or None), its throttling code. The query-protocol services (IAM, STS,
# EC2, RDS, ...) and S3 say AccessDenied or their own; JSON services AccessDeniedException.
SERVICE_ERRORS: dict[str, tuple[str, tuple[str, str] | None, str]] = {
    "ec2": (
        "Client.UnauthorizedOperation",
        ("Client.InvalidInstanceID.NotFound", "The instance ID '{instance}' does not exist"),
        "Client.RequestLimitExceeded",
    ),
    "s3": ("AccessDenied", ("NoSuchBucketPolicy", "The bucket policy does not exist"), "SlowDown"),
    "iam": (
        "AccessDenied",
        ("NoSuchEntityException", "The role with name {role} cannot be found."),
        "Throttling",
    ),
    "sts": ("AccessDenied", None, "Throttling"),
    "signin": ("AccessDenied", None, "Throttling"),
    "kms": (
        "AccessDeniedException",
        ("NotFoundException", "Key '{key_arn}' does not exist"),
        "ThrottlingException",
    ),
    "lambda": (
        "AccessDenied",
        ("ResourceNotFoundException", "Function not found: {function_arn}"),
        "TooManyRequestsException",
    ),
    "rds": (
        "AccessDenied",
        ("DBInstanceNotFoundFault", "DBInstance {db} not found."),
        "Throttling",
    ),
    "ssm": (
        "AccessDeniedException",
        ("ParameterNotFound", "Parameter {parameter} not found."),
        "ThrottlingException",
    ),
    "secretsmanager": (
        "AccessDenied",
        ("ResourceNotFoundException", "Secrets Manager can't find the specified secret."),
        "ThrottlingException",
    ),
    "dynamodb": (
        "AccessDeniedException",
        ("ResourceNotFoundException", "Requested resource not found: Table: {table} not found"),
        "ThrottlingException",
    ),
    "cloudformation": (
        "AccessDenied",
        ("ValidationError", "Stack with id {stack} does not exist"),
        "Throttling",
    ),
    "logs": (
        "AccessDeniedException",
        ("ResourceNotFoundException", "The specified log group does not exist."),
        "ThrottlingException",
    ),
    "ecs": (
        "AccessDeniedException",
        ("ServiceNotFoundException", "Service not found."),
        "ThrottlingException",
    ),
    "ecr": (
        "AccessDeniedException",
        (
            "RepositoryNotFoundException",
            "The repository with name '{repo}' does not exist in the registry with id '{account}'",
        ),
        "ThrottlingException",
    ),
    "autoscaling": ("AccessDenied", None, "Throttling"),
    "elasticloadbalancing": (
        "AccessDenied",
        ("TargetGroupNotFoundException", "One or more target groups not found"),
        "Throttling",
    ),
    "monitoring": (
        "AccessDenied",
        ("ResourceNotFound", "The alarm {alarm} does not exist."),
        "Throttling",
    ),
    "organizations": ("AccessDeniedException", None, "TooManyRequestsException"),
    "guardduty": (
        "AccessDeniedException",
        (
            "BadRequestException",
            "The request is rejected because the input detectorId is not owned by the "
            "current account.",
        ),
        "TooManyRequestsException",
    ),
    "route53": (
        "AccessDenied",
        ("NoSuchHostedZone", "No hosted zone found with ID: {zone}"),
        "Throttling",
    ),
}
_DEFAULT_ERRORS: tuple[str, tuple[str, str] | None, str] = (
    "AccessDeniedException",
    None,
    "ThrottlingException",
)
_VERSIONED = re.compile(r"20\d{6}(v\d)?$")
IAM_PREFIX = {"monitoring": "cloudwatch", "elasticfilesystem": "elasticfilesystem"}


def errors_of(service: str) -> tuple[str, tuple[str, str] | None, str]:
    """The access-denied code, the not-found error and the throttling code of a service."""
    return SERVICE_ERRORS.get(service, _DEFAULT_ERRORS)


def action_of(t: Template) -> str:
    """The IAM action of a call: `lambda:UpdateFunctionCode` for
    UpdateFunctionCode20150331v2, `cloudwatch:` for monitoring."""
    return f"{IAM_PREFIX.get(t.service, t.service)}:{_VERSIONED.sub('', t.name)}"
