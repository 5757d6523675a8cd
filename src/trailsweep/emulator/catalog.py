"""What realistic CloudTrail management events look like: services, calls, resources, people.

Each template is one API call a real account makes, with how common it is. Global services
(IAM, STS global, sign-in, Organizations, CloudFront, Route 53) only appear in us-east-1,
as in real CloudTrail.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Template:
    source: str  # e.g. "ec2.amazonaws.com"
    name: str  # e.g. "RunInstances"
    read_only: bool
    resource_type: str | None  # e.g. "AWS::EC2::Instance"
    weight: int  # relative frequency
    global_service: bool = False


def _t(
    source: str, name: str, ro: bool, rtype: str | None, weight: int, g: bool = False
) -> Template:
    return Template(source + ".amazonaws.com", name, ro, rtype, weight, g)


TEMPLATES: tuple[Template, ...] = (
    _t("ec2", "DescribeInstances", True, None, 60),
    _t("ec2", "RunInstances", False, "AWS::EC2::Instance", 6),
    _t("ec2", "TerminateInstances", False, "AWS::EC2::Instance", 4),
    _t("ec2", "StartInstances", False, "AWS::EC2::Instance", 3),
    _t("ec2", "StopInstances", False, "AWS::EC2::Instance", 3),
    _t("ec2", "CreateSecurityGroup", False, "AWS::EC2::SecurityGroup", 2),
    _t("ec2", "AuthorizeSecurityGroupIngress", False, "AWS::EC2::SecurityGroup", 3),
    _t("ec2", "DescribeSecurityGroups", True, None, 30),
    _t("ec2", "CreateVolume", False, "AWS::EC2::Volume", 2),
    _t("ec2", "DescribeVolumes", True, None, 15),
    _t("s3", "CreateBucket", False, "AWS::S3::Bucket", 2),
    _t("s3", "PutBucketPolicy", False, "AWS::S3::Bucket", 2),
    _t("s3", "GetBucketAcl", True, "AWS::S3::Bucket", 25),
    _t("s3", "ListBuckets", True, None, 20),
    _t("lambda", "CreateFunction20150331", False, "AWS::Lambda::Function", 2),
    _t("lambda", "UpdateFunctionCode20150331v2", False, "AWS::Lambda::Function", 5),
    _t("lambda", "ListFunctions20150331", True, None, 15),
    _t("kms", "Decrypt", True, "AWS::KMS::Key", 50),
    _t("kms", "GenerateDataKey", True, "AWS::KMS::Key", 30),
    _t("kms", "CreateKey", False, "AWS::KMS::Key", 1),
    _t("cloudformation", "CreateStack", False, "AWS::CloudFormation::Stack", 2),
    _t("cloudformation", "DescribeStacks", True, None, 20),
    _t("rds", "DescribeDBInstances", True, None, 10),
    _t("rds", "CreateDBInstance", False, "AWS::RDS::DBInstance", 1),
    _t("dynamodb", "CreateTable", False, "AWS::DynamoDB::Table", 1),
    _t("dynamodb", "DescribeTable", True, "AWS::DynamoDB::Table", 15),
    _t("logs", "CreateLogGroup", False, "AWS::Logs::LogGroup", 3),
    _t("logs", "DescribeLogGroups", True, None, 10),
    _t("ssm", "GetParameter", True, "AWS::SSM::Parameter", 25),
    _t("ssm", "PutParameter", False, "AWS::SSM::Parameter", 3),
    _t("secretsmanager", "GetSecretValue", True, "AWS::SecretsManager::Secret", 12),
    _t("ecr", "GetAuthorizationToken", True, None, 12),
    _t("sts", "AssumeRole", True, "AWS::IAM::Role", 40),
    _t("iam", "CreateUser", False, "AWS::IAM::User", 1, g=True),
    _t("iam", "CreateAccessKey", False, "AWS::IAM::AccessKey", 1, g=True),
    _t("iam", "AttachRolePolicy", False, "AWS::IAM::Role", 2, g=True),
    _t("iam", "PutRolePolicy", False, "AWS::IAM::Role", 2, g=True),
    _t("iam", "GetRole", True, "AWS::IAM::Role", 20, g=True),
    _t("iam", "ListRoles", True, None, 15, g=True),
    _t("signin", "ConsoleLogin", False, None, 4, g=True),
    _t("organizations", "DescribeOrganization", True, None, 4, g=True),
    _t("cloudfront", "CreateInvalidation", False, "AWS::CloudFront::Distribution", 1, g=True),
    _t("route53", "ChangeResourceRecordSets", False, "AWS::Route53::HostedZone", 2, g=True),
)

INSIGHT_TEMPLATES: tuple[Template, ...] = (
    _t("ec2", "RunInstances", False, None, 3),
    _t("iam", "CreateAccessKey", False, None, 1),
    _t("s3", "PutBucketPolicy", False, None, 1),
    _t("kms", "Decrypt", True, None, 2),
)

USERS = ("alice", "bob", "carol", "dmitri", "ci-deploy", "terraform", "backup-bot")
ROLE_SESSIONS = (
    ("OrganizationAccountAccessRole", "admin-session"),
    ("GitHubActionsDeploy", "gha-1711"),
    ("AWSReservedSSO_ReadOnly_3c1e", "erin@example.com"),
    ("AWSServiceRoleForConfig", "AWSConfig-Describe"),
)
USER_AGENTS = (
    "aws-cli/2.17.4 md/Botocore#1.34.131 ua/2.0 os/linux#6.1 md/arch#x86_64 lang/python#3.11.8",
    "Boto3/1.34.131 md/Botocore#1.34.131 ua/2.0 os/linux#5.10 lang/python#3.12.3",
    "APN/1.0 HashiCorp/1.0 Terraform/1.8.5 (+https://www.terraform.io) aws-sdk-go-v2/1.30.1",
    "console.amazonaws.com",
    "config.amazonaws.com",
    "aws-sdk-java/2.25.60 Linux/5.10 OpenJDK_64-Bit_Server_VM/17.0.11",
)
ERROR_CODES = (
    ("AccessDenied", "User is not authorized to perform this operation"),
    ("Client.UnauthorizedOperation", "You are not authorized to perform this operation."),
    ("NoSuchEntityException", "The role with name legacy-app cannot be found."),
    ("ThrottlingException", "Rate exceeded"),
)


def resource_name(rtype: str, account: str, region: str, n: int) -> str:
    """A believable resource name for a resource type."""
    suffix = f"{n:017x}"[-17:]
    match rtype:
        case "AWS::EC2::Instance":
            return f"i-{suffix}"
        case "AWS::EC2::SecurityGroup":
            return f"sg-{suffix}"
        case "AWS::EC2::Volume":
            return f"vol-{suffix}"
        case "AWS::S3::Bucket":
            return f"data-{account}-{region}-{n % 7}"
        case "AWS::Lambda::Function":
            return f"arn:aws:lambda:{region}:{account}:function:svc-{n % 11}"
        case "AWS::KMS::Key":
            key_id = f"{suffix[:8]}-{suffix[8:12]}-4e1c-9a7d-0c2f{suffix[12:]}"
            return f"arn:aws:kms:{region}:{account}:key/{key_id}"
        case "AWS::IAM::Role":
            return f"arn:aws:iam::{account}:role/{ROLE_SESSIONS[n % len(ROLE_SESSIONS)][0]}"
        case "AWS::IAM::User":
            return USERS[n % len(USERS)]
        case "AWS::IAM::AccessKey":
            return f"AKIA{suffix[:12].upper()}XMPL"
        case _:
            return f"{rtype.split('::')[-1].lower()}-{n % 97}"
