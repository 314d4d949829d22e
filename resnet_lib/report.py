"""Execute the claim notebooks headless with papermill: `python -m resnet_lib.report`.

    python -m resnet_lib.report                      # every notebook, profile 'cpu'
    python -m resnet_lib.report --profile smoke 01   # notebooks whose name starts with 01
    python -m resnet_lib.report -p seeds "[0, 1]"    # override a notebook parameter
    python -m resnet_lib.report --retrain            # train again even where results exist

The `py:percent` files in notebooks/ are the sources: each is read with jupytext, checked for
the parameters passed (an unknown one is an error, not papermill's silent warning), and
executed into results/<profile>/notebooks/<name>.ipynb, with figures and result files written
by the notebook itself.
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
import tempfile
import time
from pathlib import Path

from . import atomic, claims
from .data import REPO_ROOT
from .profiles import PROFILES, get_profile
from .notebook import OVERRIDES, STAGE_ENV, STAGED_ROOTS, override_scope
from .store import RESULTS_DIR

NOTEBOOKS_DIR = REPO_ROOT / "notebooks"


def notebook_sources(select: list[str] | None = None) -> list[Path]:
    """notebooks/NN_*.py, optionally only those whose name starts with one of `select`."""
    paths = sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.py"))
    if select:
        paths = [p for p in paths if any(p.stem.startswith(s) for s in select)]
        if not paths:
            raise ValueError(f"no notebook matches {select}; have "
                             f"{[p.stem for p in sorted(NOTEBOOKS_DIR.glob('[0-9][0-9]_*.py'))]}")
    return paths


def _to_ipynb(source: Path, folder: Path) -> Path:
    import jupytext

    nb = jupytext.read(source)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = folder / f"{source.stem}.ipynb"
    jupytext.write(nb, path)
    return path


def declared_parameters(source: Path) -> set[str]:
    import papermill

    with tempfile.TemporaryDirectory() as tmp:
        return set(papermill.inspect_notebook(str(_to_ipynb(source, Path(tmp)))))


def run_notebook(source: Path, profile: str, parameters: dict | None = None,
                 output_dir: Path | None = None, retrain: bool = False) -> Path:
    """Execute one notebook; return the path of the executed copy.

    The notebook is executed into a temporary file, and writes its figures and tables into a
    temporary folder (notebook.staged); they replace the executed copy and the published outputs
    only when every cell succeeded. A failed notebook leaves the previous copy as it was and is kept for
    reading as <output_dir>/failed/<name>.ipynb (papermill's PapermillExecutionError is raised);
    one that waits for runs a campaign has not finished (store.RunsNotComplete) is not kept."""
    import papermill

    get_profile(profile)  # fail before starting a kernel on an unknown profile
    parameters = {"profile": profile, **(parameters or {})}
    declared = declared_parameters(source)
    unknown = set(parameters) - declared
    if unknown:
        raise ValueError(f"{source.name} has no parameter(s) {sorted(unknown)}; it declares "
                         f"{sorted(declared)}")
    check_parameter_types(source, profile, parameters)
    output_dir = output_dir or executed_dir(profile, _scope(source, profile, parameters))
    output_dir.mkdir(parents=True, exist_ok=True)
    output = output_dir / f"{source.stem}.ipynb"
    failed = failed_copy(source, output_dir)
    env_before = {k: os.environ.get(k) for k in ("RESNET_LIB_RETRAIN", STAGE_ENV)}
    if retrain:
        os.environ["RESNET_LIB_RETRAIN"] = "1"  # the kernel inherits the environment
    try:
        with tempfile.TemporaryDirectory() as tmp:
            stage = Path(tmp) / "outputs"  # figures and tables, published only on success
            os.environ[STAGE_ENV] = str(stage)
            staged = Path(tmp) / "executed.ipynb"
            try:
                papermill.execute_notebook(str(_to_ipynb(source, Path(tmp))), str(staged),
                                           parameters=parameters, kernel_name="python3",
                                           cwd=str(NOTEBOOKS_DIR), progress_bar=False,
                                           **kernel_options())
            except papermill.PapermillExecutionError as e:
                if e.ename == "RunsNotComplete":  # waiting for the campaign, not a failure
                    failed.unlink(missing_ok=True)
                elif staged.exists():
                    failed.parent.mkdir(parents=True, exist_ok=True)
                    atomic.write_text(failed, staged.read_text())
                raise
            publish_staged(stage)
            _strip_volatile(staged)
            atomic.write_text(output, staged.read_text())
        failed.unlink(missing_ok=True)  # an earlier failure of this notebook is superseded
    finally:
        for k, v in env_before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return output


def publish_staged(stage: Path) -> list[Path]:
    """Move the figures and tables a notebook wrote under `stage` (notebook.staged) to their
    places under the results and figures folders, each file atomically; the published paths."""
    out = []
    for kind, root in STAGED_ROOTS:
        for f in sorted((stage / kind).rglob("*")) if (stage / kind).is_dir() else ():
            if f.is_file():
                target = root / f.relative_to(stage / kind)
                atomic.write_bytes(target, f.read_bytes())
                out.append(target)
    return out


def kernel_options() -> dict:
    """papermill's keyword arguments for the kernel of one notebook: the manager
    (_ipc_kernel_manager) and nbclient's hooks that tell it whether a cell is running."""
    cell = _CellState()
    return {"kernel_manager_class": _ipc_kernel_manager(cell),
            "on_cell_execute": cell.started, "on_cell_executed": cell.ended}


class _CellState:
    """Whether a cell of the notebook is executing, kept by nbclient's hooks."""
    running = False

    def started(self, **_):
        self.running = True

    def ended(self, **_):  # after the reply and the kernel's "idle": the cell is over
        self.running = False


def _ipc_kernel_manager(cell: _CellState):
    """nbclient's kernel manager, talking to the kernel over local IPC sockets (files in
    Jupyter's runtime folder) rather than TCP ports on localhost: no port is opened, and the
    kernel has no reason to warn that its TCP traffic is unencrypted.

    jupyter_client interrupts a kernel before it shuts it down (KernelManager.
    _async_shutdown_kernel), to stop a cell that is still running. This one does so only while
    a cell runs (a report stopped by Ctrl-C or by a time limit): after the last cell papermill
    asks for kernel_info and shuts the kernel down as soon as the reply comes, while ipykernel
    is still inside that request's handler with SIGINT enabled (Kernel.pre_handler_hook), so
    an interrupt landing there printed "KeyboardInterrupt caught in kernel." on the terminal
    of a run that went well (seen on a loaded 2-core CI machine)."""
    from jupyter_client import AsyncKernelManager
    from traitlets import CaselessStrEnum

    class IPCKernelManager(AsyncKernelManager):
        transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)

        async def _async_interrupt_kernel(self):
            if self.shutting_down and not cell.running:
                return  # idle: the shutdown request alone ends it
            await super()._async_interrupt_kernel()

    return IPCKernelManager


def executed_dir(profile: str, scope: str | None = None) -> Path:
    """Where a profile's executed notebooks go; those run with parameters other than the
    profile's defaults go beside their own outputs (notebook.override_scope)."""
    base = RESULTS_DIR / profile
    return (base if scope is None else base / OVERRIDES / scope) / "notebooks"


def _scope(source: Path, profile: str, parameters: dict) -> str | None:
    return override_scope(source.stem, profile, parameters) if _is_claim(source) else None


def _is_claim(source: Path) -> bool:
    return source.stem.split("_")[0] in claims.NOTEBOOKS


def failed_copy(source: Path, output_dir: Path) -> Path:
    """Where the executed copy of a notebook that failed is kept for reading."""
    return output_dir / "failed" / f"{source.stem}.ipynb"


def check_parameter_types(source: Path, profile: str, parameters: dict) -> None:
    """Refuse, before a kernel starts, a value whose type differs from the profile's default for
    that parameter (e.g. `-p depths 20,32`, a tuple, where a list like "[20, 32]" is expected)."""
    defaults = claims.defaults(source.stem, profile) if _is_claim(source) else {}
    for name, value in parameters.items():
        default = defaults.get(name)
        if default is None or value is None:
            continue
        kind = type(default)
        ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        if ok and kind is list and default and value:
            ok = all(isinstance(v, type(default[0])) for v in value)
        if not ok:
            what = kind.__name__
            if kind is list and default:
                what += f" of {type(default[0]).__name__}s"
            raise ValueError(f"parameter {name!r} must look like {default!r} (a {what}); got "
                             f"{value!r}. E.g. -p {name} \"{default!r}\"")


def _strip_volatile(path: Path) -> None:
    """Drop what changes on every execution (timestamps, durations, random cell ids, temporary
    paths), so `git diff` of an executed notebook shows only changed results."""
    import nbformat

    from . import atomic

    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i:02d}"
        cell.metadata.pop("execution", None)
        for key in ("start_time", "end_time", "duration"):
            cell.metadata.get("papermill", {}).pop(key, None)
    for key in ("start_time", "end_time", "duration", "input_path", "output_path"):
        nb.metadata.get("papermill", {}).pop(key, None)
    atomic.write_text(path, nbformat.writes(nb) + "\n")


def _literal(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text  # a bare word is a string


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m resnet_lib.report", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("notebooks", nargs="*", help="name prefixes, e.g. 01 (default: all)")
    ap.add_argument("--profile", default="cpu", choices=sorted(PROFILES))
    ap.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                    metavar=("NAME", "VALUE"), help="notebook parameter (a Python literal)")
    ap.add_argument("--retrain", action="store_true", help="train even where results exist")
    args = ap.parse_args(argv)
    params = {k: _literal(v) for k, v in args.parameter}
    import papermill

    waiting = []  # notebooks whose runs the campaign has not finished (notebook.RunsNotComplete)
    try:
        sources = notebook_sources(args.notebooks)
        for source in sources:
            t0 = time.time()
            print(f"== {source.stem} (profile {args.profile})", flush=True)
            try:
                out = run_notebook(source, args.profile, params, retrain=args.retrain)
            except papermill.PapermillExecutionError as e:
                message = (str(e.evalue).splitlines() or [""])[0]
                unchanged = "its executed copy, figures and tables are unchanged"
                if e.ename == "RunsNotComplete":  # run_notebook keeps no failed copy of it
                    print(f"   waiting for runs: {message}; {unchanged}", flush=True)
                    waiting.append(source.stem)
                    continue
                kept = failed_copy(source, executed_dir(args.profile, _scope(source, args.profile, params)))
                print(f"error: {source.stem} failed ({e.ename}: {message}); {unchanged}; the "
                      f"failed run is kept at {kept}", file=sys.stderr)
                return 1
            print(f"   done in {(time.time() - t0) / 60:.1f} min -> {out}",
                  flush=True)
        if waiting:
            print(f"== not executed, waiting for runs: {', '.join(waiting)}", flush=True)
        if not params:  # the profile's own report, not an override's: its HTML pages too
            from . import html_report

            print(f"== HTML report -> {html_report.build(args.profile)}", flush=True)
            if args.profile in html_report.README_PROFILES and html_report.update_readme(html_report.README):
                print(f"== README results table rewritten ({html_report.README})", flush=True)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
