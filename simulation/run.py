"""Drive one world through salesai: clean and set up, then one driver or several processes in step.

On PostgreSQL the drive is split over processes (two by default; one with reviews, see
:func:`default_processes`), each delivering the events of its
own share of the accounts, in step: at every simulated hour all of them wait until each has delivered
everything before it, sweep together (``SKIP LOCKED`` shares the due accounts out), and wait again
before going on, so no account is analysed out of its time. Each account's events stay in one process,
in order; the morning inbox snapshots are taken by the first while the others wait.
"""

from __future__ import annotations

import multiprocessing
import queue
import time
import traceback
from collections.abc import Callable

from django.db import connection, connections

from simulation.driver import Driver, Observed
from simulation.market import World
from simulation.stage import Credentials, clean, set_up

PART_POLL_SECONDS = 2.0


def default_processes(*, reviews: bool = False) -> int:
    """Two driver processes on PostgreSQL with two or more cores, else one (SQLite takes one writer).

    One with ``reviews``: a scored run is a measurement only if the same seed gives the same figures,
    and two processes do not repeat. They race for row ids (which settle ties in the inbox) and each
    retrains on the other's reviews as they land; one process gives the same rows every time."""
    if reviews:
        return 1
    return 2 if connection.vendor == "postgresql" and (multiprocessing.cpu_count() or 1) >= 2 else 1


class PartFailed(RuntimeError):
    """A driver process failed; the message holds its traceback."""


def _drive_part(world: World, credentials: Credentials, part: int, parts: int, k: int, progress: bool,
                reviews: bool, barrier, results) -> None:  # fmt: skip
    """One forked driver process: deliver its share, send back what it observed (or its traceback)."""
    try:
        driver = Driver(world, credentials, k=k, part=part, parts=parts, sync=barrier.wait, reviews=reviews)
        results.put((part, driver.run(progress=progress and part == 0), None))
    except BaseException:
        barrier.abort()  # the others stop waiting for this one
        results.put((part, None, traceback.format_exc()))
    finally:
        connections.close_all()


def drive_in_parts(world: World, credentials: Credentials, *, parts: int, k: int = 10, progress: bool = True,
                   reviews: bool = False) -> Observed:  # fmt: skip
    """Drive one world with ``parts`` forked processes in step (see the module docstring) and merge
    what they observed. A process that fails or dies breaks the others' barrier; the error is raised."""
    started = time.perf_counter()
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(parts), context.Queue()
    connections.close_all()  # each process opens its own
    processes = [
        context.Process(target=_drive_part, args=(world, credentials, part, parts, k, progress, reviews, barrier, results),
                        name=f"simulation-part-{part}", daemon=True)
        for part in range(parts)
    ]  # fmt: skip
    for process in processes:
        process.start()
    observed: dict[int, Observed] = {}
    failures: list[str] = []
    while len(observed) + len(failures) < parts:
        try:
            part, out, error = results.get(timeout=PART_POLL_SECONDS)
        except queue.Empty:
            dead = [p for p in processes if p.exitcode not in (None, 0)]
            if dead and results.empty():
                barrier.abort()
                failures += [f"{p.name} exited with code {p.exitcode}" for p in dead]
                break
            continue
        if error:
            failures.append(error)
        else:
            observed[part] = out
    for process in processes:
        process.join(timeout=30)
        if process.is_alive():
            process.terminate()
    if failures:
        # a broken barrier in the others is only the echo of the first failure
        failures.sort(key=lambda f: "BrokenBarrierError" in f)
        raise PartFailed(failures[0])
    merged = Observed(snapshots=observed[0].snapshots, sweeps=observed[0].sweeps)
    for part in sorted(observed):
        merged.sightings += observed[part].sightings
        merged.requests += observed[part].requests
        merged.refused += observed[part].refused
        merged.moments += observed[part].moments
        merged.ended.update(observed[part].ended)
        for decision, count in observed[part].reviews.items():
            merged.reviews[decision] += count
    merged.seconds = time.perf_counter() - started
    return merged


def drive(world: World, *, force: bool = False, progress: bool = True, k: int = 10, processes: int | None = None,
          reviews: bool = False, on_ready: Callable[[], None] | None = None) -> Observed:  # fmt: skip
    """Clean, set up and drive one world; return what was observed. ``processes`` (default: see
    :func:`default_processes`) above one splits the drive over forked processes in step; ``reviews``:
    the reps review every morning and the market answers what salesai sends."""
    clean(force=force)
    credentials = set_up(world)
    if on_ready:
        on_ready()
    parts = processes or default_processes(reviews=reviews)
    if parts > 1:
        return drive_in_parts(world, credentials, parts=parts, k=k, progress=progress, reviews=reviews)
    return Driver(world, credentials, k=k, reviews=reviews).run(progress=progress)
