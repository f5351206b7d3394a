"""The run configuration: schema, YAML loading with precise errors, dumping and docs.

`from rnncli.config import Config, load_config, config_to_yaml, ...` is the public surface;
the submodules are schema (the models), loader (files + --set), errors (messages),
dump (YAML/JSON Schema/reference table) and resolve (filling inferred keys from the data).
"""

from rnncli.config.dump import (
    config_reference_markdown,
    config_schema,
    config_to_dict,
    config_to_yaml,
)
from rnncli.config.loader import DEFAULT_CONFIG_YAML, load_config, parse_override, uses_builtin_demo
from rnncli.config.resolve import data_config_from, resolve_with_task
from rnncli.config.schema import Config, DataConfig, ModelConfig, TrainConfig

__all__ = [
    "DEFAULT_CONFIG_YAML",
    "Config",
    "DataConfig",
    "ModelConfig",
    "TrainConfig",
    "config_reference_markdown",
    "config_schema",
    "config_to_dict",
    "config_to_yaml",
    "load_config",
    "parse_override",
    "data_config_from",
    "resolve_with_task",
    "uses_builtin_demo",
]
