"""The catalogue's data and secrets calls: S3 (bucket-level, the management events), DynamoDB,
RDS, EFS, KMS, Secrets Manager, SSM Parameter Store, CloudWatch Logs, Glue, Athena, AWS
Backup. KMS and bucket calls carry the record's `resources` with ARNs, as AWS writes them.
"""

from __future__ import annotations

from trailsweep.emulator.template import Template, api, read

# The tables are laid out by hand, one call per entry.
# fmt: off

_BUCKET = (("AWS::S3::Bucket", "bucket", "bucket_arn"),)
_KEY = (("AWS::KMS::Key", "key_arn", "key_arn"),)
_KMS_CTX = {"encryptionAlgorithm": "SYMMETRIC_DEFAULT"}
_TABLE = (("AWS::DynamoDB::Table", "table", "table_arn"),)
_DB = (("AWS::RDS::DBInstance", "db", "db_arn"),)
_SECRET = (("AWS::SecretsManager::Secret", "secret_arn", "secret_arn"),)
_PARAM = (("AWS::SSM::Parameter", "parameter", "parameter_arn"),)
_S3_EXTRA = {"SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256",
             "bytesTransferredIn": 0, "AuthenticationMethod": "AuthHeader",
             "x-amz-id-2": "{token}", "bytesTransferredOut": 0}


def _s3(name: str, weight: int, who: str, *, ro: bool, req: dict[str, object]) -> Template:
    return api("s3", name, weight, who, ro=ro, req={"bucketName": "$bucket",
               "Host": "{bucket}.s3.{region}.amazonaws.com", **req}, extra=_S3_EXTRA,
               res=_BUCKET, record_res=True)


S3: tuple[Template, ...] = (
    api("s3", "ListBuckets", 12, "hum cfg", ro=True, req={"Host": "s3.{region}.amazonaws.com"},
        extra=_S3_EXTRA),
    _s3("GetBucketAcl", 10, "cfg aa", ro=True, req={"acl": ""}),
    _s3("GetBucketPolicy", 6, "cfg aa", ro=True, req={"policy": ""}),
    _s3("GetBucketLocation", 8, "hum ci app", ro=True, req={"location": ""}),
    _s3("GetBucketVersioning", 4, "cfg", ro=True, req={"versioning": ""}),
    _s3("GetBucketEncryption", 4, "cfg", ro=True, req={"encryption": ""}),
    _s3("GetBucketPublicAccessBlock", 4, "cfg aa", ro=True, req={"publicAccessBlock": ""}),
    _s3("GetBucketTagging", 3, "tf cfg", ro=True, req={"tagging": ""}),
    _s3("CreateBucket", 1, "tf", ro=False, req={"CreateBucketConfiguration":
        {"LocationConstraint": "$region"}}),
    _s3("PutBucketPolicy", 1, "tf", ro=False, req={"policy": "", "bucketPolicy": {"Version":
        "2012-10-17", "Statement": [{"Sid": "DenyInsecureTransport", "Effect": "Deny",
        "Principal": "*", "Action": "s3:*", "Resource": ["{bucket_arn}/*", "$bucket_arn"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}}),
    _s3("PutBucketTagging", 1, "tf", ro=False, req={"tagging": "", "Tagging": {"TagSet":
        {"Tag": {"Key": "team", "Value": "platform"}}}}),
    _s3("PutBucketLifecycle", 1, "tf", ro=False, req={"lifecycle": ""}),
    _s3("PutBucketPublicAccessBlock", 1, "tf", ro=False, req={"publicAccessBlock": "",
        "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "IgnorePublicAcls": True,
        "BlockPublicPolicy": True, "RestrictPublicBuckets": True}}),
)

DATA: tuple[Template, ...] = (
    read("dynamodb", "DescribeTable", 12, "app cfg tf", res=_TABLE, record_res=True,
         req={"tableName": "$table"}),
    read("dynamodb", "ListTables", 4, "hum cfg", req={}),
    read("dynamodb", "DescribeContinuousBackups", 3, "bot cfg", res=_TABLE,
         req={"tableName": "$table"}),
    api("dynamodb", "UpdateTable", 1, "tf", res=_TABLE, record_res=True,
        req={"tableName": "$table", "billingMode": "PAY_PER_REQUEST"},
        resp={"tableDescription": {"tableName": "$table", "tableArn": "$table_arn",
              "tableStatus": "UPDATING"}}),
    api("dynamodb", "CreateBackup", 2, "bot", res=_TABLE, record_res=True,
        req={"tableName": "$table", "backupName": "{table}-nightly"},
        resp={"backupDetails": {"backupArn": "{table_arn}/backup/{token}", "backupName":
              "{table}-nightly", "backupStatus": "CREATING", "backupType": "USER"}}),
    read("rds", "DescribeDBInstances", 10, "hum cfg tf bot", req={"dBInstanceIdentifier": "$db"}),
    read("rds", "DescribeDBClusters", 4, "cfg", req={}),
    read("rds", "DescribeDBSnapshots", 4, "bot cfg", req={"dBInstanceIdentifier": "$db"}),
    read("rds", "DescribeDBLogFiles", 2, "hum", req={"dBInstanceIdentifier": "$db"}),
    api("rds", "CreateDBSnapshot", 2, "bot", res=_DB,
        req={"dBSnapshotIdentifier": "{db}-nightly-{token}", "dBInstanceIdentifier": "$db"},
        resp={"dBSnapshotIdentifier": "{db}-nightly-{token}", "dBInstanceIdentifier": "$db",
              "status": "creating", "engine": "postgres", "encrypted": True}),
    api("rds", "ModifyDBInstance", 1, "tf", res=_DB,
        req={"dBInstanceIdentifier": "$db", "backupRetentionPeriod": 14, "applyImmediately": False},
        resp={"dBInstanceIdentifier": "$db", "dBInstanceClass": "db.r6g.large",
              "engine": "postgres", "dBInstanceStatus": "available",
              "publiclyAccessible": False}),
    read("elasticfilesystem", "DescribeFileSystems", 3, "cfg bot", req={}),
    read("elasticfilesystem", "DescribeMountTargets", 2, "cfg",
         req={"fileSystemId": "$filesystem"}),
    read("kms", "Decrypt", 40, "app ci hum", res=_KEY, record_res=True,
         req={"encryptionAlgorithm": "SYMMETRIC_DEFAULT", "encryptionContext":
              {"aws:lambda:FunctionArn": "$function_arn"}}),
    read("kms", "GenerateDataKey", 20, "app bot", res=_KEY, record_res=True,
         req={"keyId": "$key_arn", "keySpec": "AES_256", "encryptionContext":
              {"aws:s3:arn": "$bucket_arn"}}),
    read("kms", "DescribeKey", 6, "cfg tf", res=_KEY, record_res=True, req={"keyId": "$key_id"}),
    read("kms", "ListAliases", 4, "hum tf", req=None),
    read("kms", "GetKeyRotationStatus", 3, "cfg", res=_KEY, record_res=True,
         req={"keyId": "$key_arn"}),
    api("kms", "Encrypt", 6, "app", ro=True, res=_KEY, record_res=True,
        req={"keyId": "$key_arn", **_KMS_CTX}),
    api("kms", "CreateKey", 1, "tf", res=_KEY, record_res=True,
        req={"keyUsage": "ENCRYPT_DECRYPT", "keySpec": "SYMMETRIC_DEFAULT", "origin": "AWS_KMS",
             "description": "application data", "multiRegion": False},
        resp={"keyMetadata": {"aWSAccountId": "$account", "keyId": "$key_id", "arn": "$key_arn",
              "creationDate": "$date", "enabled": True, "keyUsage": "ENCRYPT_DECRYPT",
              "keyState": "Enabled", "origin": "AWS_KMS", "keyManager": "CUSTOMER",
              "keySpec": "SYMMETRIC_DEFAULT", "multiRegion": False}}),
    api("kms", "EnableKeyRotation", 1, "tf", res=_KEY, record_res=True, req={"keyId": "$key_id"}),
    read("secretsmanager", "GetSecretValue", 12, "app ci", res=_SECRET, record_res=True,
         req={"secretId": "$secret"}),
    read("secretsmanager", "DescribeSecret", 4, "cfg tf", res=_SECRET, req={"secretId": "$secret"}),
    read("secretsmanager", "ListSecrets", 2, "hum", req=None),
    api("secretsmanager", "PutSecretValue", 1, "bot", res=_SECRET,
        req={"secretId": "$secret", "clientRequestToken": "$uuid"},
        resp={"arn": "$secret_arn", "name": "$secret", "versionId": "$uuid",
              "versionStages": ["AWSPENDING"]}),
    api("secretsmanager", "RotateSecret", 1, "bot", res=_SECRET,
        req={"secretId": "$secret", "clientRequestToken": "$uuid"},
        resp={"arn": "$secret_arn", "name": "$secret", "versionId": "$uuid"}),
    read("ssm", "GetParameter", 15, "app ci", res=_PARAM, req={"name": "$parameter",
         "withDecryption": True}),
    read("ssm", "GetParametersByPath", 5, "app", req={"path": "/app/prod", "recursive": True,
         "withDecryption": True}),
    read("ssm", "DescribeInstanceInformation", 4, "cfg hum", req={}),
    read("ssm", "ListCommandInvocations", 1, "hum", req={}),
    api("ssm", "PutParameter", 2, "ci tf", res=_PARAM,
        req={"name": "$parameter", "type": "String", "overwrite": True},
        resp={"version": 12, "tier": "Standard"}),
    api("ssm", "UpdateInstanceInformation", 10, "cfg", req={"instanceId": "$instance",
        "agentVersion": "3.3.380.0", "agentStatus": "Active", "platformType": "Linux",
        "platformName": "Amazon Linux", "platformVersion": "2023"}),
    read("logs", "DescribeLogGroups", 8, "hum cfg tf", req={"logGroupNamePrefix": "/aws/lambda/"}),
    read("logs", "DescribeLogStreams", 4, "hum", req={"logGroupName": "$log_group",
         "descending": True, "orderBy": "LastEventTime"}),
    read("logs", "FilterLogEvents", 6, "hum", req={"logGroupName": "$log_group",
         "filterPattern": "ERROR"}),
    api("logs", "CreateLogGroup", 1, "app", req={"logGroupName": "$log_group"}),
    api("logs", "PutRetentionPolicy", 1, "tf", req={"logGroupName": "$log_group",
        "retentionInDays": 30}),
    read("glue", "GetTables", 3, "app hum", req={"databaseName": "analytics"}),
    api("glue", "StartJobRun", 2, "app", req={"jobName": "nightly-etl"},
        resp={"jobRunId": "jr_{token}"}),
    read("athena", "GetQueryExecution", 5, "hum app", req={"queryExecutionId": "$uuid"}),
    api("athena", "StartQueryExecution", 3, "hum app", req={"queryString": "***",
        "workGroup": "primary", "resultConfiguration": {"outputLocation":
        "s3://athena-results-{account}/"}}, resp={"queryExecutionId": "$uuid"}),
    read("backup", "ListBackupJobs", 3, "bot", req={}),
    api("backup", "StartBackupJob", 1, "bot", req={"backupVaultName": "Default",
        "resourceArn": "$table_arn", "iamRoleArn": "arn:aws:iam::{account}:role/service-role/"
        "AWSBackupDefaultServiceRole"}, resp={"backupJobId": "$uuid", "creationDate": "$date",
        "isParent": False}),
)

TEMPLATES: tuple[Template, ...] = S3 + DATA
# fmt: on
