"""The calls of the planted scenarios (scenarios.py) that background activity never makes,
shaped as the records of real detonations show them (Stratus Red Team's detonation logs
and CloudTrail's documentation were the reference)."""

from __future__ import annotations

from trailsweep.emulator.template import Template, api, read

S3_BROWSER = "S3 Browser 11.5.7 https://s3browser.com"
TRUFFLEHOG = "TruffleHog"
ATTACKER_CLI = (
    "aws-cli/2.13.25 Python/3.11.5 Linux/6.5.0-kali3-amd64 exe/x86_64.kali.2023 prompt/off"
)
_TEMPLATED_POLICY = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject",'
    '"s3:PutObject","s3:ListBucket"],"Resource":["arn:aws:s3:::<YOUR-BUCKET-NAME>",'
    '"arn:aws:s3:::<YOUR-BUCKET-NAME>/*"]}]}'
)
_NEW_USER = {
    "user": {
        "path": "/",
        "userName": "$target",
        "userId": "$new_user_id",
        "arn": "arn:aws:iam::{account}:user/{target}",
        "createDate": "$date",
    }
}
_TRAIL = (("AWS::CloudTrail::Trail", "trail_arn", None),)
_KEY = (("AWS::KMS::Key", "key_arn", "key_arn"),)

# The tables are laid out by hand, one call per entry.
# fmt: off
CALLS: dict[str, Template] = {t.name: t for t in (
    api("cloudtrail", "StopLogging", 0, "", res=_TRAIL, req={"name": "$trail_arn"}),
    api("cloudtrail", "DeleteTrail", 0, "", res=_TRAIL, req={"name": "$trail"}),
    api("cloudtrail", "PutEventSelectors", 0, "", res=_TRAIL,
        req={"trailName": "$trail", "eventSelectors": [{"readWriteType": "All",
             "includeManagementEvents": False, "dataResources": [],
             "excludeManagementEventSources": []}]},
        resp={"trailARN": "$trail_arn", "eventSelectors": [{"readWriteType": "All",
              "includeManagementEvents": False, "dataResources": [],
              "excludeManagementEventSources": []}]}),
    api("guardduty", "UpdateDetector", 0, "", req={"detectorId": "$detector", "enable": False}),
    api("guardduty", "DeleteDetector", 0, "", req={"detectorId": "$detector"}),
    api("guardduty", "CreateIPSet", 0, "", req={"detectorId": "$detector", "name": "trusted",
        "format": "TXT", "location": "https://s3.amazonaws.com/{bucket}/trusted.txt",
        "activate": True}, resp={"ipSetId": "{token}"}),
    api("ec2", "DeleteFlowLogs", 0, "",
        req={"DeleteFlowLogsRequest": {"FlowLogId": {"content": "$flow_log", "tag": 1}}},
        resp={"DeleteFlowLogsResponse": {"xmlns": "http://ec2.amazonaws.com/doc/2016-11-15/",
              "requestId": "$uuid", "unsuccessful": ""}}),
    read("config", "DescribeConfigurationRecorders", 0, "", req={}),
    api("config", "StopConfigurationRecorder", 0, "",
        req={"configurationRecorderName": "default"}),
    api("config", "DeleteDeliveryChannel", 0, "", req={"deliveryChannelName": "default"}),
    api("ec2", "ModifyInstanceAttribute", 0, "",
        res=(("AWS::EC2::Instance", "instance", None),),
        req={"instanceId": "$instance", "attribute": "userData",
             "userData": "<sensitiveDataRemoved>"},
        resp={"requestId": "$uuid", "_return": True}),
    api("ec2", "StopInstances", 0, "", res=(("AWS::EC2::Instance", "instance", None),),
        req={"instancesSet": {"items": [{"instanceId": "$instance"}]}, "force": True},
        resp={"requestId": "$uuid", "instancesSet": {"items": [{"instanceId": "$instance",
              "currentState": {"code": 64, "name": "stopping"},
              "previousState": {"code": 16, "name": "running"}}]}}),
    api("ec2", "StartInstances", 0, "", res=(("AWS::EC2::Instance", "instance", None),),
        req={"instancesSet": {"items": [{"instanceId": "$instance"}]}},
        resp={"requestId": "$uuid", "instancesSet": {"items": [{"instanceId": "$instance",
              "currentState": {"code": 0, "name": "pending"},
              "previousState": {"code": 80, "name": "stopped"}}]}}),
    api("ec2", "AuthorizeSecurityGroupIngress", 0, "",
        res=(("AWS::EC2::SecurityGroup", "sg", None),),
        req={"groupId": "$sg", "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 22,
             "toPort": 22, "groups": {}, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]},
             "ipv6Ranges": {}, "prefixListIds": {}}]}},
        resp={"requestId": "$uuid", "_return": True, "securityGroupRuleSet": {"items": [
              {"groupOwnerId": "$account", "groupId": "$sg", "securityGroupRuleId": "sgr-{token}",
               "isEgress": False, "ipProtocol": "tcp", "fromPort": 22, "toPort": 22,
               "cidrIpv4": "0.0.0.0/0"}]}}),
    api("ec2", "ModifySnapshotAttribute", 0, "",
        res=(("AWS::EC2::Snapshot", "snapshot", None),),
        req={"snapshotId": "$snapshot", "attributeType": "CREATE_VOLUME_PERMISSION",
             "createVolumePermission": {"add": {"items": [{"userId": "$outsider"}]}}},
        resp={"requestId": "$uuid", "_return": True}),
    read("sts", "GetCallerIdentity", 0, ""),
    read("s3", "ListBuckets", 0, "", req={"Host": "s3.amazonaws.com"}),
    read("iam", "ListUsers", 0, ""),
    read("ec2", "DescribeInstances", 0, "", req={"instancesSet": {}, "filterSet": {}}),
    api("iam", "CreateUser", 0, "", res=(("AWS::IAM::User", "target", None),),
        req={"userName": "$target"}, resp=_NEW_USER),
    api("iam", "AttachUserPolicy", 0, "", res=(("AWS::IAM::User", "target", None),),
        req={"userName": "$target", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}),
    api("iam", "PutUserPolicy", 0, "", res=(("AWS::IAM::User", "target", None),),
        req={"userName": "$target", "policyName": "s3-access",
             "policyDocument": _TEMPLATED_POLICY}),
    api("iam", "CreateAccessKey", 0, "", res=(("AWS::IAM::User", "target", None),),
        req={"userName": "$target"},
        resp={"accessKey": {"accessKeyId": "$new_key", "status": "Active",
              "userName": "$target", "createDate": "$date"}}),
    api("iam", "CreateLoginProfile", 0, "", res=(("AWS::IAM::User", "target", None),),
        req={"userName": "$target", "passwordResetRequired": False},
        resp={"loginProfile": {"userName": "$target", "createDate": "$date",
              "passwordResetRequired": False}}),
    api("iam", "UpdateLoginProfile", 0, "", res=(("AWS::IAM::User", "target", None),),
        req={"userName": "$target", "passwordResetRequired": False}),
    api("kms", "CreateKey", 0, "", res=_KEY, record_res=True,
        req={"keyUsage": "ENCRYPT_DECRYPT", "keySpec": "SYMMETRIC_DEFAULT", "origin": "EXTERNAL",
             "multiRegion": False},
        resp={"keyMetadata": {"aWSAccountId": "$account", "keyId": "$key_id", "arn": "$key_arn",
              "creationDate": "$date", "enabled": False, "keyUsage": "ENCRYPT_DECRYPT",
              "keyState": "PendingImport", "origin": "EXTERNAL", "keyManager": "CUSTOMER",
              "keySpec": "SYMMETRIC_DEFAULT", "multiRegion": False}}),
    read("kms", "GetParametersForImport", 0, "", res=_KEY, record_res=True,
         req={"keyId": "$key_id", "wrappingAlgorithm": "RSAES_OAEP_SHA_256",
              "wrappingKeySpec": "RSA_2048"}),
    api("kms", "ImportKeyMaterial", 0, "", res=_KEY, record_res=True,
        req={"keyId": "$key_id", "expirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"}),
    api("rds", "RestoreDBInstanceFromDBSnapshot", 0, "",
        res=(("AWS::RDS::DBInstance", "restored", None),),
        req={"dBInstanceIdentifier": "$restored", "dBSnapshotIdentifier": "{db}-nightly",
             "publiclyAccessible": True, "vpcSecurityGroupIds": ["$sg"]},
        resp={"dBInstanceIdentifier": "$restored", "dBInstanceClass": "db.t3.medium",
              "engine": "postgres", "dBInstanceStatus": "creating",
              "publiclyAccessible": True, "storageEncrypted": True}),
    api("rds", "ModifyDBInstance", 0, "", res=(("AWS::RDS::DBInstance", "restored", None),),
        req={"dBInstanceIdentifier": "$restored", "masterUserPassword": "****",
             "applyImmediately": True},
        resp={"dBInstanceIdentifier": "$restored", "dBInstanceStatus": "available",
              "publiclyAccessible": True, "pendingModifiedValues": {
              "masterUserPassword": "****"}}),
    api("securityhub", "BatchUpdateFindings", 0, "",
        req={"findingIdentifiers": [{"id": "arn:aws:securityhub:{region}:{account}:subscription/"
             "aws-foundational-security-best-practices/v/1.0.0/GuardDuty.1/finding/{uuid}",
             "productArn": "arn:aws:securityhub:{region}::product/aws/securityhub"}],
             "workflow": {"status": "SUPPRESSED"}, "note": {"text": "accepted risk",
             "updatedBy": "$session_name"}},
        resp={"processedFindings": [{"id": "arn:aws:securityhub:{region}:{account}:"
              "subscription/aws-foundational-security-best-practices/v/1.0.0/GuardDuty.1/"
              "finding/{uuid}", "productArn":
              "arn:aws:securityhub:{region}::product/aws/securityhub"}],
              "unprocessedFindings": []}),
    api("sso-directory", "DisableExternalIdPConfigurationForDirectory", 0, "",
        req={"directoryId": "d-{token}"}),
    api("sso-directory", "EnableExternalIdPConfigurationForDirectory", 0, "",
        req={"directoryId": "d-{token}", "externalIdPConfiguration":
             {"metadataUrl": "https://login.example-idp.net/saml/metadata"}}),
    api("ssm", "SendCommand", 0, "",
        req={"instanceIds": ["$instance"], "documentName": "AWS-RunShellScript",
             "parameters": "HIDDEN_DUE_TO_SECURITY_REASONS", "interactive": False},
        resp={"command": {"commandId": "$uuid", "documentName": "AWS-RunShellScript",
              "instanceIds": ["$instance"], "parameters": "HIDDEN_DUE_TO_SECURITY_REASONS",
              "status": "Pending", "requestedDateTime": "$date", "targetCount": 1}}),
    api("organizations", "LeaveOrganization", 0, ""),
)}
# fmt: on
