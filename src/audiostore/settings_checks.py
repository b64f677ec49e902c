"""Start-time checks of settings that no single field can check on its own.

Each failure is a `ConfigurationError` whose message names the environment variable to fix,
so a misconfigured deployment stops at start with one clear line instead of failing on its
first request. `load_settings()` does the same for values pydantic rejects while reading.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import ValidationError

from .errors import ConfigurationError
from .settings import Settings

SSE_ALGORITHMS = ("AES256", "aws:kms", "aws:kms:dsse")
DATABASE_SCHEMES = ("sqlite", "postgresql", "postgres")


def env_name(field: str) -> str:
    """`s3_bucket` -> `AUDIOSTORE_S3_BUCKET`."""
    return f"AUDIOSTORE_{field.upper()}"


def load_settings() -> Settings:
    """Read settings from the environment; a rejected value names its variable."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            problems.append(f"{env_name(field)}: {error['msg']}")
        raise ConfigurationError("Invalid settings: " + "; ".join(problems) + ".") from exc


def check_settings(settings: Settings) -> None:
    """Raise `ConfigurationError` naming the first setting that cannot work."""
    for problem in settings_problems(settings):
        raise ConfigurationError(problem)


def settings_problems(settings: Settings) -> list[str]:
    """Every problem found, one sentence each, each naming its setting."""
    problems: list[str] = []
    problems += _storage_problems(settings)
    problems += _catalogue_problems(settings)
    if settings.url_default_expiry < 1:
        problems.append("AUDIOSTORE_URL_DEFAULT_EXPIRY must be at least 1 second.")
    if settings.url_default_expiry > settings.url_max_expiry:
        problems.append(
            "AUDIOSTORE_URL_DEFAULT_EXPIRY is longer than AUDIOSTORE_URL_MAX_EXPIRY "
            f"({settings.url_default_expiry} > {settings.url_max_expiry})."
        )
    if settings.max_upload_bytes < 1:
        problems.append("AUDIOSTORE_MAX_UPLOAD_BYTES must be positive.")
    if not settings.max_duration_seconds > 0:
        problems.append("AUDIOSTORE_MAX_DURATION_SECONDS must be positive.")
    if settings.min_sample_rate < 1:
        problems.append("AUDIOSTORE_MIN_SAMPLE_RATE must be at least 1 Hz.")
    if settings.min_sample_rate > settings.max_sample_rate:
        problems.append(
            "AUDIOSTORE_MIN_SAMPLE_RATE is above AUDIOSTORE_MAX_SAMPLE_RATE "
            f"({settings.min_sample_rate} > {settings.max_sample_rate})."
        )
    return problems


def _storage_problems(s: Settings) -> list[str]:
    if s.store != "s3":
        return []
    problems: list[str] = []
    if not s.s3_bucket:
        problems.append("AUDIOSTORE_S3_BUCKET is required when AUDIOSTORE_STORE=s3.")
    if bool(s.s3_access_key_id) != bool(s.s3_secret_access_key):
        given, missing = (
            ("AUDIOSTORE_S3_ACCESS_KEY_ID", "AUDIOSTORE_S3_SECRET_ACCESS_KEY")
            if s.s3_access_key_id else
            ("AUDIOSTORE_S3_SECRET_ACCESS_KEY", "AUDIOSTORE_S3_ACCESS_KEY_ID")
        )
        problems.append(f"{given} is set but {missing} is not; set both, or neither to use "
                        "the AWS credential chain.")
    if s.s3_endpoint:
        parts = urlsplit(s.s3_endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            problems.append(
                f"AUDIOSTORE_S3_ENDPOINT must be an http(s) URL such as "
                f"https://s3.example.com, not {s.s3_endpoint!r}."
            )
        elif parts.scheme == "http" and not s.s3_allow_http:
            problems.append(
                "AUDIOSTORE_S3_ENDPOINT is plain http; set AUDIOSTORE_S3_ALLOW_HTTP=true to allow "
                "it (local development only)."
            )
    if s.s3_sse and s.s3_sse not in SSE_ALGORITHMS:
        problems.append(f"AUDIOSTORE_S3_SSE must be one of {', '.join(SSE_ALGORITHMS)}, "
                        f"not {s.s3_sse!r}.")
    if s.s3_sse_kms_key_id and not (s.s3_sse or "").startswith("aws:kms"):
        problems.append("AUDIOSTORE_S3_SSE_KMS_KEY_ID needs AUDIOSTORE_S3_SSE=aws:kms.")
    return problems


def _catalogue_problems(s: Settings) -> list[str]:
    if not s.database_url:
        return []
    scheme = s.database_url.split(":", 1)[0].split("+", 1)[0].lower()
    if "://" not in s.database_url or scheme not in DATABASE_SCHEMES:
        return [
            "AUDIOSTORE_DATABASE_URL must be sqlite:///path.db or "
            "postgresql://user:password@host:5432/db."
        ]
    return []
