"""Where a screen's tasks run: a Dask cluster on this machine (``local``), a running scheduler, or
SLURM/PBS batch jobs through dask-jobqueue (:class:`ClusterSpec`, :func:`start_cluster`), and the
small config file of a batch cluster (:func:`read_cluster_config`).
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from core.runtime.parallel import usable_cores
from core.screen.errors import ScreenError

CLUSTERS = ("local", "slurm", "pbs")


DEFAULT_RETRIES = 2


DEFAULT_WORKER_TIMEOUT = 600.0
"""Seconds a screen with formulas left waits while the cluster has no worker (none started
yet, or all gone) before it stops with an error (``screen --worker-timeout``)."""


SUBMIT_COMMANDS = {"slurm": "sbatch", "pbs": "qsub"}
"""The batch system's submit command dask-jobqueue runs for each worker job: it must be on
this machine's PATH (a login node of the cluster)."""


JOBQUEUE_KEYS = ("queue", "cores", "memory", "walltime", "account", "processes", "interface", "job_extra_directives",
                 "local_directory", "log_directory", "python", "job_script_prologue")
"""Keys a ``--cluster slurm|pbs`` config file may set (passed to dask-jobqueue's cluster class)."""


SINGLE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@dataclass(frozen=True)
class ClusterSpec:
    """Where the screen's tasks run.

    Attributes
    ----------
    kind : str
        ``local`` (a LocalCluster in this process), ``scheduler`` (connect to
        ``address``), ``slurm`` or ``pbs`` (dask-jobqueue).
    address : str or None
        Scheduler address for ``scheduler``, e.g. ``tcp://10.0.0.5:8786``.
    workers : int or None
        Local: worker processes (default one per core); slurm/pbs: batch jobs.
    threads_per_worker : int
    config : dict
        dask-jobqueue keyword arguments (:data:`JOBQUEUE_KEYS`), from the config file.
    """

    kind: str = "local"
    address: str | None = None
    workers: int | None = None
    threads_per_worker: int = 1
    config: dict = field(default_factory=dict)


def read_cluster_config(path: str | os.PathLike) -> dict:
    """The dask-jobqueue settings of a small JSON or ``key = value`` file (queue, cores,
    memory, walltime, account, ...); an unknown key is an error naming the line."""
    import json

    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ScreenError(f"{path}: {exc.strerror}") from None
    if text.lstrip().startswith("{"):
        try:
            config = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ScreenError(f"{path} line {exc.lineno}: not valid JSON ({exc.msg})") from None
        lines = {key: 1 for key in config}
    else:
        config, lines = {}, {}
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            if "=" not in line:
                raise ScreenError(f"{path} line {number}: expected 'key = value', got {raw.strip()!r}")
            key, value = (part.strip() for part in line.split("=", 1))
            config[key] = int(value) if value.isdigit() else value.strip("'\"")
            lines[key] = number
    for key in config:
        if key not in JOBQUEUE_KEYS:
            raise ScreenError(f"{path} line {lines[key]}: unknown setting {key!r} "
                              f"(known: {', '.join(JOBQUEUE_KEYS)})")
    return config


def start_cluster(spec: ClusterSpec, retries: int = DEFAULT_RETRIES):
    """A Dask ``Client`` for ``spec`` and the cluster object it owns (None for a scheduler
    address). Close both when done (the client first). A scheduler started here lets a task
    whose worker died run ``retries`` more times (``allowed-failures``)."""
    import dask
    from distributed import Client, LocalCluster

    dask.config.set({"distributed.scheduler.allowed-failures": retries})

    if spec.kind == "scheduler":
        try:
            return Client(spec.address, timeout="20s"), None
        except OSError as exc:
            raise ScreenError(f"no Dask scheduler answers at {spec.address}: {exc}") from None
    if spec.kind == "local":
        dask.config.set({"distributed.worker.daemon": False})  # a worker may start its own processes
        workers = spec.workers or usable_cores()
        # Dask's warnings on a Ctrl-C (cancelled tasks, workers killed on shutdown) are its own
        # housekeeping: our lines say what happened; its errors still show
        cluster = LocalCluster(n_workers=workers, threads_per_worker=spec.threads_per_worker, processes=True,
                               dashboard_address=":0", env=dict(SINGLE_THREAD_ENV), silence_logs=logging.ERROR)
        return Client(cluster), cluster
    if spec.kind in ("slurm", "pbs"):
        command = SUBMIT_COMMANDS[spec.kind]
        if shutil.which(command) is None:  # dask-jobqueue would log the failed submission and wait for ever
            raise ScreenError(f"--cluster {spec.kind}: the batch command '{command}' is not found on this "
                              f"machine (PATH); run the screen on a login node of the {spec.kind.upper()} "
                              "cluster, or use --cluster local or --scheduler")
        cluster = jobqueue_cluster(spec)
        cluster.scale(jobs=spec.workers or 1)
        return Client(cluster), cluster
    raise ScreenError(f"unknown cluster {spec.kind!r}: choose from {', '.join(CLUSTERS)} or give --scheduler")


def jobqueue_cluster(spec: ClusterSpec):
    """The dask-jobqueue cluster of a ``slurm`` or ``pbs`` spec, not scaled yet (no job
    submitted): each batch job is one worker process of one thread by default, with the
    single-thread BLAS/OpenMP environment; the config file's settings override."""
    try:
        import dask_jobqueue
    except ImportError:
        raise ScreenError(f"--cluster {spec.kind} needs dask-jobqueue: pip install dask-jobqueue "
                          "(or pip install 'alphacrystal-studio[cluster]')") from None
    cls = dask_jobqueue.SLURMCluster if spec.kind == "slurm" else dask_jobqueue.PBSCluster
    config = {"cores": 1, "processes": 1, "memory": "4GB", **spec.config}
    config.setdefault("job_script_prologue", [f"export {k}={v}" for k, v in SINGLE_THREAD_ENV.items()])
    try:
        return cls(**config)
    except (TypeError, ValueError) as exc:
        raise ScreenError(f"--cluster {spec.kind}: {exc}") from None
