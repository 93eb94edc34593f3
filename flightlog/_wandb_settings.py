"""`flightlog.Settings` accepting wandb's field names, so `wandb.Settings(...)` lines in real
scripts keep working.

A wandb field that means something here is applied under flightlog's name (`run_name` ->
`name`, `x_stats_sampling_interval` -> `stats_interval`, ...). A wandb field with no meaning
offline (`start_method`, `init_timeout`, ...) is accepted and said once per field. A name that
is neither flightlog's nor wandb's is a TypeError naming it: it is a typo, not a wandb setting.
"""

from __future__ import annotations

import warnings
from dataclasses import fields
from typing import Any

from ._settings import Settings as _Settings

#: wandb 0.31 field -> flightlog field
RENAMED = {
    "run_name": "name",
    "run_notes": "notes",
    "run_tags": "tags",
    "run_id": "id",
    "run_group": "group",
    "run_job_type": "job_type",
    "root_dir": "dir",
    "x_label": "label",
    "x_stats_sampling_interval": "stats_interval",
    "quiet": "silent",
}

#: wandb 0.31's Settings fields (the public and x_ ones), for telling them from typos
WANDB_FIELDS = frozenset(
    """allow_media_symlink allow_offline_artifacts allow_val_change anonymous api_key
    azure_account_url_to_access_key app_url_override base_url code_dir config_paths console
    console_multipart console_chunk_max_bytes console_chunk_max_seconds capture_loggers
    credentials_file disable_code disable_git disable_git_fork_point disable_job_creation docker
    email entity organization force fork_from git_commit git_remote git_remote_url git_root
    heartbeat_seconds host http_proxy https_proxy identity_token_file ignore_globs init_timeout
    finish_timeout finish_timeout_raises insecure_disable_ssl job_name job_source label_disable
    launch launch_config_path login_timeout mode notebook_name program program_abspath
    program_relpath project quiet reinit relogin resume resume_from resumed root_dir run_group
    run_id run_job_type run_name run_notes run_tags sagemaker_disable save_code settings_system
    stop_fn max_end_of_run_history_metrics max_end_of_run_summary_metrics show_colors show_emoji
    show_errors show_info show_warnings silent stop_on_fatal_error strict summary_timeout
    summary_warnings sweep_id sweep_param_path symlink sync_tensorboard
    table_raise_on_max_row_limit_exceeded use_dot_wandb username start_method _disable_stats
    _disable_meta _service_wait""".split()
) | {"x_" + n for n in ("disable_stats", "disable_meta", "primary", "save_requirements")}

_fields = {f.name for f in fields(_Settings)}
_said: set[str] = set()


class Settings(_Settings):
    """flightlog's settings, built from flightlog's or wandb's field names (see module doc)."""

    def __init__(self, **kwargs: Any) -> None:
        own: dict[str, Any] = {}
        for key, value in kwargs.items():
            name = RENAMED.get(key, key)
            if name in _fields:
                own[name] = value
            elif key in ("x_disable_stats", "_disable_stats"):
                if value:
                    own["stats_interval"] = 0
            elif key in WANDB_FIELDS or key.startswith("x_"):
                say_ignored(key)
            else:
                raise TypeError(
                    f"Settings() got an unknown field {key!r}: it is neither a flightlog nor a "
                    f"wandb setting; flightlog's are {', '.join(sorted(_fields))}"
                )
        if own.get("console") in ("wrap_raw", "wrap_emu"):
            own["console"] = "wrap"
        super().__init__(**own)


def say_ignored(key: str) -> None:
    if key not in _said:
        _said.add(key)
        warnings.warn(
            f"flightlog: wandb setting {key!r} has no meaning in flightlog and is ignored",
            RuntimeWarning,
            stacklevel=4,
        )
