"""Record files, checkpoints, the AWS CLI formats and the exactly-once export."""
