"""Site configuration (TOML) into the validated objects of hmi.core.site."""

from hmi.config.loader import ConfigError, ConfigIssue, load_site, parse_site

__all__ = ["ConfigError", "ConfigIssue", "load_site", "parse_site"]
