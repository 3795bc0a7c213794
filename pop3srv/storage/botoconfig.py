"""How the pool's botocore clients are made: the pool's sizes and timeouts (``PoolSettings``),
the ``Config`` of every S3 and KMS client, and the credential arguments."""

from __future__ import annotations

from dataclasses import dataclass

from botocore.config import Config

from pop3srv.storage.base import S3Credentials


@dataclass(frozen=True)
class PoolSettings:
    """Sizes and timeouts of the pool and of the clients it creates."""

    #: clients kept at most (one per distinct endpoint/region/credentials)
    max_clients: int = 64
    #: seconds a client may stay unused before it is dropped
    idle_timeout: float = 900.0
    #: worker threads running blocking S3 calls at once (the shared limiter's tokens)
    threads: int = 16
    #: HTTP connections each client keeps; at least ``threads`` (RETR bodies hold one each)
    max_connections: int = 32
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    #: total attempts per request, first one included (botocore "adaptive" retry mode)
    max_attempts: int = 4

    def __post_init__(self) -> None:
        if self.threads < 1 or self.max_clients < 1 or self.max_attempts < 1:
            raise ValueError("pool sizes and max_attempts must be at least 1")
        if self.max_connections < self.threads:
            raise ValueError("max_connections must be >= threads (urllib3 pool would overflow)")


def service_config(settings: PoolSettings) -> Config:
    """The botocore ``Config`` every pooled client starts from (S3 and KMS alike)."""
    return Config(
        retries={"mode": "adaptive", "total_max_attempts": settings.max_attempts},
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        max_pool_connections=settings.max_connections,
        tcp_keepalive=True,
        user_agent_appid="pop3srv",
    )


def client_config(settings: PoolSettings, *, path_style: bool) -> Config:
    """The botocore ``Config`` of every pooled S3 client."""
    return service_config(settings).merge(
        Config(
            signature_version="s3v4",
            s3={"addressing_style": "path" if path_style else "auto"},
            response_checksum_validation="when_required",
            request_checksum_calculation="when_required",
        )
    )


def key_args(credentials: S3Credentials | None) -> dict[str, str | None]:
    """``create_client``'s key arguments; all None: the AWS default credential chain."""
    return {
        "aws_access_key_id": credentials.access_key_id if credentials else None,
        "aws_secret_access_key": credentials.secret_access_key if credentials else None,
        "aws_session_token": credentials.session_token if credentials else None,
    }
