"""The admin fixtures (``harness``, ``harness_with``) for the security tests."""

from tests.admin.conftest import harness, harness_with

__all__ = ["harness", "harness_with"]
