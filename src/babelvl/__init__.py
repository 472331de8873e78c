"""babelvl: build, check and evaluate multilingual vision-language data and models."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("babelvl")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+local"

__all__ = ["__version__"]
