"""sbflink: the project's linker from clang-19 BPF objects to SBPF v0 shared objects (see link.py)."""

from .check import check_so
from .linker import LinkError, LinkResult, link, link_objects

__all__ = ["LinkError", "LinkResult", "check_so", "link", "link_objects"]
