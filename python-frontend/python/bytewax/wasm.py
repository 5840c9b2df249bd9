"""Steps written in Rust and compiled to WebAssembly components, usable in Python flows.

`step("steps.wasm", "tokenize")` stands wherever a callable goes::

    flow.flat_map(bytewax.wasm.step("steps.wasm", "tokenize"))

The engine calls the component once per batch, without the GIL, in a sandbox: no files,
network, environment or clock, a memory cap and a CPU deadline per call (see docs/wasm.md).
Items cross the boundary as MessagePack: None, bool, int, float, str, bytes, tuple, list and
dict; arrays come back as tuples.
"""

from pathlib import Path
from typing import Any, Dict, Iterable, Mapping, Optional, Union

__all__ = ["WasmStep", "step"]


class WasmStep:
    """A named step of a WebAssembly component, with its resource limits."""

    def __init__(
        self,
        component: Union[str, Path],
        export: str,
        *,
        memory_mb: Optional[int] = None,
        deadline_ms: Optional[int] = None,
        clock: bool = False,
        env: Iterable[str] = (),
        read_dirs: Optional[Mapping[str, Union[str, Path]]] = None,
    ):
        path = Path(component)
        if not path.is_file():
            raise FileNotFoundError(f"WebAssembly component {str(path)!r} does not exist")
        if not isinstance(export, str) or not export:
            raise TypeError("export must be the step's name in the component, a non-empty str")
        for name, value in (("memory_mb", memory_mb), ("deadline_ms", deadline_ms)):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise ValueError(f"{name} must be a positive int; got {value!r}")
        # Absolute, so the plan means the same file whatever the working directory later is.
        self.component = str(path.resolve())
        self.export = export
        self.memory_mb = memory_mb
        self.deadline_ms = deadline_ms
        if isinstance(env, str):
            raise TypeError("env must be a collection of variable names, not a str")
        self.grants: Dict[str, Any] = {}
        if clock:
            self.grants["clock"] = True
        if env:
            self.grants["env"] = [str(name) for name in env]
        if read_dirs:
            self.grants["read_dirs"] = [
                {"guest": guest, "host": str(Path(host).resolve())} for guest, host in read_dirs.items()
            ]
        self.__name__ = export

    def __call__(self, *args: Any) -> Any:
        raise TypeError(
            f"WASM step {self.export!r} runs inside a dataflow; it cannot be called from Python directly"
        )

    def _plan_ref(self) -> Dict[str, Any]:
        ref: Dict[str, Any] = {"kind": "wasm", "component": self.component, "export": self.export}
        limits = {k: v for k, v in (("memory_mb", self.memory_mb), ("deadline_ms", self.deadline_ms)) if v is not None}
        if limits:
            ref["limits"] = limits
        if self.grants:
            ref["grants"] = self.grants
        return ref

    def __repr__(self) -> str:
        return f"WasmStep({self.component!r}, {self.export!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, WasmStep) and self._plan_ref() == other._plan_ref()

    def __hash__(self) -> int:
        return hash((self.component, self.export))


def step(
    component: Union[str, Path],
    export: str,
    *,
    memory_mb: Optional[int] = None,
    deadline_ms: Optional[int] = None,
    clock: bool = False,
    env: Iterable[str] = (),
    read_dirs: Optional[Mapping[str, Union[str, Path]]] = None,
) -> WasmStep:
    """The step named `export` of the component at `component`.

    Limits default to 64 MiB of memory and 2000 ms per batch call. The guest gets no clock,
    environment or files unless granted: `clock=True` for real clocks, `env=["NAME"]` to pass
    host variables through, `read_dirs={"/data": "host/dir"}` to mount directories read-only.
    """
    return WasmStep(
        component, export, memory_mb=memory_mb, deadline_ms=deadline_ms, clock=clock, env=env, read_dirs=read_dirs
    )
