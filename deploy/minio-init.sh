#!/bin/sh
# One-shot set-up of the compose.yaml demo bucket, run with MinIO's `mc` once MinIO is healthy:
# the bucket SES would write to, and the mail prefix inside it (what an S3 receipt rule's
# "object key prefix" names). Safe to run again: existing ones are left alone.
set -eu

: "${S3_ENDPOINT:=http://minio:9000}"
: "${POP3_AWS_S3_BUCKET:?bucket name}"
: "${POP3_AWS_S3_PREFIX:=}"

mc alias set demo "$S3_ENDPOINT" "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null
mc mb --ignore-existing "demo/$POP3_AWS_S3_BUCKET"

prefix="${POP3_AWS_S3_PREFIX%/}"
if [ -n "$prefix" ]; then
    # an explicit folder, as the S3 console's "Create folder" makes one; pop3srv does not list
    # it as a message. Not fatal: the prefix also appears with the first message.
    mc mb --ignore-existing "demo/$POP3_AWS_S3_BUCKET/$prefix" \
        || echo "note: could not create the folder $prefix/; it appears with the first message"
fi
mc ls --recursive "demo/$POP3_AWS_S3_BUCKET" || true
echo "bucket $POP3_AWS_S3_BUCKET ready (mail prefix: ${POP3_AWS_S3_PREFIX:-<bucket root>})"
