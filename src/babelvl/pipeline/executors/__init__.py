"""Executors run a :class:`~babelvl.pipeline.Pipeline` over shards: local (default) or Ray Data."""

from __future__ import annotations

from typing import Any

from babelvl.errors import BabelvlError


def get_executor(name: str, **options: Any) -> Any:
    if name == "local":
        from babelvl.pipeline.executors.local import LocalExecutor

        return LocalExecutor(workers=options.get("workers", 1))
    if name == "ray":
        from babelvl.pipeline.executors.ray_executor import RayExecutor

        return RayExecutor(workers=options.get("workers", 2), address=options.get("ray_address"))
    raise BabelvlError(f"unknown executor '{name}' (known: local, ray)")
