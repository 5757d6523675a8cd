"""The catalogue's identity, governance and security calls: IAM, STS, sign-in, Organizations,
Identity Center, CloudTrail, Config, GuardDuty, Security Hub, IAM Access Analyzer,
Inspector, Health.

What background activity never does (the planted scenarios do, scenarios.py): stop or
delete a trail, change event selectors, delete or disable a GuardDuty detector, stop
Config recording, update another user's login profile, import KMS key material, touch an
Identity Center directory's IdP, update Security Hub findings, send SSM commands.
"""

from __future__ import annotations

from trailsweep.emulator.template import Template, api, read

# The tables are laid out by hand, one call per entry.
# fmt: off

_ROLE = (("AWS::IAM::Role", "role_arn", "role_arn"),)
_USER = (("AWS::IAM::User", "user", None),)
_TRAIL = (("AWS::CloudTrail::Trail", "trail_arn", None),)
_USER_RESP = {"user": {"path": "/", "userName": "$user", "userId": "$user_id",
              "arn": "$user_arn", "createDate": "$date"}}
_TRUST = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":'
    '"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
)

IAM: tuple[Template, ...] = (
    read("iam", "GetRole", 12, "ci tf cfg aa adm", res=_ROLE, req={"roleName": "$role"}),
    read("iam", "ListRoles", 6, "hum adm cfg", req=None),
    read("iam", "GetUser", 4, "hum adm", res=_USER, req={"userName": "$user"}),
    read("iam", "ListUsers", 4, "adm cfg root", req=None),
    read("iam", "ListAttachedRolePolicies", 6, "tf cfg aa", req={"roleName": "$role"}),
    read("iam", "ListRolePolicies", 4, "tf cfg", req={"roleName": "$role"}),
    read("iam", "GetPolicy", 4, "tf cfg", req={"policyArn": "$policy_arn"}),
    read("iam", "GetPolicyVersion", 4, "tf aa",
         req={"policyArn": "$policy_arn", "versionId": "v3"}),
    read("iam", "ListAccessKeys", 3, "adm cfg", req={"userName": "$user"}),
    read("iam", "ListMFADevices", 2, "adm root", req={"userName": "$user"}),
    read("iam", "GetAccountSummary", 2, "root adm", req=None),
    read("iam", "GetAccountPasswordPolicy", 1, "cfg root", req=None),
    read("iam", "GenerateCredentialReport", 1, "cfg", req=None),
    read("iam", "ListInstanceProfilesForRole", 2, "tf", req={"roleName": "$role"}),
    api("iam", "CreateRole", 1, "tf", res=_ROLE,
        req={"roleName": "$role", "assumeRolePolicyDocument": _TRUST, "path": "/"},
        resp={"role": {"path": "/", "roleName": "$role", "roleId": "$new_role_id",
              "arn": "$role_arn", "createDate": "$date", "assumeRolePolicyDocument": _TRUST}}),
    api("iam", "AttachRolePolicy", 2, "tf", res=_ROLE,
        req={"roleName": "$role", "policyArn": "$policy_arn"}),
    api("iam", "PutRolePolicy", 2, "tf", res=_ROLE,
        req={"roleName": "$role", "policyName": "inline-{role}", "policyDocument":
             '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["logs:*"],'
             '"Resource":"*"}]}'}),
    api("iam", "UpdateAssumeRolePolicy", 1, "tf", res=_ROLE,
        req={"roleName": "$role", "policyDocument": _TRUST}),
    api("iam", "TagRole", 1, "tf", res=_ROLE, req={"roleName": "$role",
        "tags": [{"key": "team", "value": "platform"}]}),
    api("iam", "CreatePolicyVersion", 1, "tf", req={"policyArn":
        "arn:aws:iam::{account}:policy/deploy-boundary", "policyDocument": "{...}",
        "setAsDefault": True}, resp={"policyVersion": {"versionId": "v4", "isDefaultVersion":
        True, "createDate": "$date"}}),
    api("iam", "CreateServiceLinkedRole", 1, "adm", req={"aWSServiceName":
        "elasticloadbalancing.amazonaws.com"}, resp={"role": {"path":
        "/aws-service-role/elasticloadbalancing.amazonaws.com/", "roleName":
        "AWSServiceRoleForElasticLoadBalancing", "arn": "arn:aws:iam::{account}:role/"
        "aws-service-role/elasticloadbalancing.amazonaws.com/"
        "AWSServiceRoleForElasticLoadBalancing", "createDate": "$date"}}),
    api("iam", "ChangePassword", 1, "hum", req=None),
)

IDENTITY: tuple[Template, ...] = (
    read("sts", "GetCallerIdentity", 15, "hum ci tf bot", req=None),
    read("organizations", "DescribeOrganization", 3, "adm cfg", req=None),
    read("organizations", "ListAccounts", 3, "adm", req=None),
    read("organizations", "ListPoliciesForTarget", 2, "adm", req={"targetId": "$account",
         "filter": "SERVICE_CONTROL_POLICY"}),
    read("organizations", "DescribeAccount", 2, "adm", req={"accountId": "$account"}),
    read("sso", "ListAccountAssignments", 2, "adm", req={"instanceArn":
         "arn:aws:sso:::instance/ssoins-{token}", "accountId": "$account"}),
    read("sso", "ListPermissionSets", 2, "adm", req={"instanceArn":
         "arn:aws:sso:::instance/ssoins-{token}"}),
    read("cloudtrail", "DescribeTrails", 6, "cfg adm", req={"includeShadowTrails": True}),
    read("cloudtrail", "GetTrailStatus", 4, "cfg adm", res=_TRAIL, req={"name": "$trail_arn"}),
    read("cloudtrail", "GetEventSelectors", 3, "cfg", res=_TRAIL, req={"trailName": "$trail_arn"}),
    read("cloudtrail", "LookupEvents", 4, "hum adm", req={"maxResults": 50,
         "lookupAttributes": [{"attributeKey": "EventName", "attributeValue": "ConsoleLogin"}]}),
    read("config", "DescribeConfigurationRecorderStatus", 4, "cfg adm", req={}),
    read("config", "DescribeConfigRules", 4, "cfg", req={}),
    api("config", "PutEvaluations", 20, "cfg", req={"evaluations": [{"complianceResourceType":
        "AWS::EC2::Instance", "complianceResourceId": "$instance", "complianceType":
        "COMPLIANT", "orderingTimestamp": "$date"}], "resultToken": "***"},
        resp={"failedEvaluations": []}),
    api("config", "PutConfigRule", 1, "adm", req={"configRule": {"configRuleName":
        "s3-bucket-public-read-prohibited", "source": {"owner": "AWS", "sourceIdentifier":
        "S3_BUCKET_PUBLIC_READ_PROHIBITED"}}}),
    read("guardduty", "ListDetectors", 4, "cfg adm", req={}),
    read("guardduty", "GetDetector", 3, "cfg adm", req={"detectorId": "$detector"}),
    read("guardduty", "ListFindings", 4, "adm", req={"detectorId": "$detector",
         "maxResults": 50}),
    read("guardduty", "GetFindings", 3, "adm", req={"detectorId": "$detector",
         "findingIds": ["{token}"]}),
    read("securityhub", "GetFindings", 5, "adm", req={"maxResults": 100, "filters":
         {"recordState": [{"value": "ACTIVE", "comparison": "EQUALS"}]}}),
    read("securityhub", "DescribeHub", 2, "cfg adm", req={}),
    read("securityhub", "GetEnabledStandards", 2, "adm", req={}),
    read("access-analyzer", "ListAnalyzers", 3, "aa adm", req={}),
    read("access-analyzer", "ListFindings", 3, "aa adm", req={"analyzerArn":
         "arn:aws:access-analyzer:{region}:{account}:analyzer/org-analyzer"}),
    read("inspector2", "ListFindings", 3, "adm", req={"maxResults": 100}),
    read("inspector2", "ListCoverage", 2, "adm", req={}),
    read("health", "DescribeEvents", 3, "adm hum", req={"filter": {"eventStatusCodes":
         ["open", "upcoming"]}}),
)

TEMPLATES: tuple[Template, ...] = tuple(t for t in IAM + IDENTITY if t.weight > 0)
# fmt: on
