"""sft.validate and sft.inspect: what `sft validate` and `sft inspect` report."""

import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Union

from ._sft import _Checkpoint, _header_info, _validate_file


@dataclass
class ValidationResult:
    """The outcome of sft.validate for one path.

    status: "valid", "invalid" (the file breaks a rule) or "unreadable" (it
    could not be read at all); errors: SafetensorError objects, with their
    code, offset and tensor (several with strict=True); warnings: for
    checkpoints, total_size problems that are errors only when strict.
    """

    path: str
    status: str
    errors: List[Exception] = field(default_factory=list)
    warnings: List[Exception] = field(default_factory=list)
    checkpoint: bool = False

    @property
    def ok(self) -> bool:
        return self.status == "valid"

    def __bool__(self) -> bool:
        return self.ok


def _is_checkpoint(path: str) -> bool:
    return os.path.isdir(path) or path.endswith(".json")


def validate(path: Union[str, os.PathLike], strict: bool = False) -> ValidationResult:
    """Checks a file (or a checkpoint: a directory or an index, with every
    shard) against the format's rules, as `sft validate` does. With strict,
    also what the format's README forbids but the reference accepts
    (docs/format.md, "strict mode"). Never raises for a bad file: the result
    says what is wrong."""
    p = os.fspath(path)
    if not _is_checkpoint(p):
        status, errors = _validate_file(p, strict)
        return ValidationResult(p, status, list(errors))
    from ._sft import SafetensorError

    try:
        c = _Checkpoint(p, "dlpack", "cpu", "pread", False)
    except SafetensorError as e:
        unreadable = e.code is not None and e.code.name in ("io_error", "no_checkpoint")
        return ValidationResult(p, "unreadable" if unreadable else "invalid", [e], [], True)
    errors, warnings = c.check(strict)
    errors = list(errors)
    if strict and not errors:
        for shard in c.shard_paths():
            status, found = _validate_file(shard, True)
            errors.extend(found)
    c.close()
    status = "valid"
    if errors:
        status = "unreadable" if any(e.code is not None and e.code.name == "io_error" for e in errors) else "invalid"
    return ValidationResult(p, status, errors, list(warnings), True)


def inspect(path: Union[str, os.PathLike]) -> Dict[str, Any]:
    """A file's header as `sft inspect --json` shows it: header_bytes,
    data_bytes, file_bytes, metadata (or None) and tensors in data order
    (name, dtype, shape, data_offsets)."""
    return _header_info(os.fspath(path))
