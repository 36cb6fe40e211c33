"""Settings from the environment, `.env` and `.streamlit/secrets.toml` (in that order of precedence)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from imagegen.providers.ideogram import IdeogramSettings
from imagegen.providers.replicate import ReplicateSettings
from imagegen.providers.base import blank_key_is_no_key

SECRETS_TOML = Path(".streamlit/secrets.toml")


class Settings(IdeogramSettings, ReplicateSettings):
    """Every setting. Each provider's own fields (key, base URL, models, limits) are declared in
    its module and composed in here, under the same variable names."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    data_dir: Path = Field(Path("data"), alias="IMAGEGEN_DATA_DIR")
    database_url: str | None = Field(None, alias="IMAGEGEN_DATABASE_URL")
    media_url: str | None = Field(None, alias="IMAGEGEN_MEDIA_URL")
    default_provider: str | None = Field(None, alias="IMAGEGEN_DEFAULT_PROVIDER")
    download_hosts: str | None = Field(None, alias="IMAGEGEN_DOWNLOAD_HOSTS")

    # Images from any provider are refused beyond these limits before they are decoded.
    max_image_bytes: int = Field(25 * 1024 * 1024, alias="IMAGEGEN_MAX_IMAGE_BYTES")
    max_image_pixels: int = Field(40_000_000, alias="IMAGEGEN_MAX_IMAGE_PIXELS")
    # What an approved upload looks like.
    upload_format: Literal["JPEG", "PNG", "WEBP"] = Field("PNG", alias="IMAGEGEN_UPLOAD_FORMAT")
    upload_max_width: int = Field(1280, alias="IMAGEGEN_UPLOAD_MAX_WIDTH", ge=64, le=8192)
    upload_background: str = Field("#FFFFFF", alias="IMAGEGEN_UPLOAD_BACKGROUND")
    # How many calls one provider may have in flight per process.
    local_concurrency: int = Field(4, alias="IMAGEGEN_LOCAL_CONCURRENCY", ge=1, le=64)
    # How long a runner's claim on a job lasts without renewal; it renews every third of it.
    lease_seconds: float = Field(30.0, alias="IMAGEGEN_LEASE_SECONDS", gt=0, le=3600)
    curator: str = Field("curator", alias="IMAGEGEN_CURATOR")
    prices: str | None = Field(None, alias="IMAGEGEN_PRICES")  # JSON file or text overriding the price table
    daily_budget: float | None = Field(None, alias="IMAGEGEN_DAILY_BUDGET", ge=0)
    upload_keep_recipe: bool = Field(False, alias="IMAGEGEN_UPLOAD_KEEP_RECIPE")
    # Catalog files beyond this are refused before they are read.
    import_max_mb: float = Field(50, alias="IMAGEGEN_IMPORT_MAX_MB", gt=0, le=10_000)
    # Every remote provider; what is one provider's own lives in its module (IdeogramSettings, ReplicateSettings).
    provider_timeout: float = Field(120.0, alias="IMAGEGEN_PROVIDER_TIMEOUT", gt=0, le=600)
    provider_attempts: int = Field(4, alias="IMAGEGEN_PROVIDER_ATTEMPTS", ge=1, le=10)
    retry_max_wait: float = Field(30.0, alias="IMAGEGEN_RETRY_MAX_WAIT", ge=0, le=300)
    # Who may do what once sign-in is configured (see imagegen/auth.py).
    admins: str = Field("", alias="IMAGEGEN_ADMINS")
    curators: str = Field("", alias="IMAGEGEN_CURATORS")
    viewers: str = Field("", alias="IMAGEGEN_VIEWERS")
    role_claim: str | None = Field(None, alias="IMAGEGEN_ROLE_CLAIM")
    public_showcase: bool = Field(False, alias="IMAGEGEN_PUBLIC_SHOWCASE")
    # Where approved images go (see imagegen/publish.py).
    publish_url: str | None = Field(None, alias="IMAGEGEN_PUBLISH_URL")
    publish_base_url: str | None = Field(None, alias="IMAGEGEN_PUBLISH_BASE_URL")
    store_api_url: str | None = Field(None, alias="IMAGEGEN_STORE_API_URL")
    store_api_token: SecretStr | None = Field(None, alias="IMAGEGEN_STORE_API_TOKEN")
    store_hosts: str | None = Field(None, alias="IMAGEGEN_STORE_HOSTS")

    @field_validator("store_api_token", mode="before")
    @classmethod
    def _no_store_token_when_blank(cls, value):
        return blank_key_is_no_key(value)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Streamlit's secrets file is plain TOML; reading it here keeps the library free of Streamlit.
        secrets = TomlConfigSettingsSource(settings_cls, toml_file=SECRETS_TOML)
        return init_settings, env_settings, dotenv_settings, secrets

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'imagegen.db').resolve()}"

    @property
    def resolved_media_url(self) -> str:
        return self.media_url or str((self.data_dir / "media").resolve())

    @property
    def thumbnail_dir(self) -> Path:
        return self.data_dir / "thumbs"

    @property
    def published_dir(self) -> Path:
        return self.data_dir / "published"
