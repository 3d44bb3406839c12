"""gunicorn settings read from the working directory (``gunicorn wsgi:app``): metrics across workers.

With ``PROMETHEUS_MULTIPROC_DIR`` set (docs/rules.md rule 43), every worker
writes its metric values to files in that directory and /metrics adds them
up. The directory is emptied when the server starts (values of an earlier
run would be counted again), and a dead worker's live gauges are dropped.
Everything else comes from the command line or ``GUNICORN_CMD_ARGS``.
"""
import glob
import os


def on_starting(server):
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        os.makedirs(directory, exist_ok=True)
        for path in glob.glob(os.path.join(directory, "*.db")):
            os.remove(path)


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
