"""Sequential measurement of several targets, interleaved in blocks, with CPU per target.

Each target (a ``Series``) has its own keep-alive connection and a function
building its i-th request. Blocks of requests alternate between targets so
that drift in the machine (other processes, frequency, caches) hits all alike;
the CPU of the server processes is read before and after each block and
charged to the target the block ran against.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bench import _client
from bench._harness import (
    host_port,
    median,
    ms,
    p99,
)
from bench._procfs import CpuMeter


@dataclass
class Series:
    """One target's requests: how to build the i-th, and what came back."""

    name: str
    client: _client.Client
    build: Callable[[int], bytes]
    stream: bool = False
    tokens: int | None = None  # content events a good stream has
    exchanges: list[_client.Exchange] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    cpu: CpuMeter | None = None
    count: int = 0

    @property
    def totals_ms(self) -> list[float]:
        return [ms(e.total) for e in self.exchanges]

    @property
    def ttfts_ms(self) -> list[float]:
        return [ms(e.ttft) for e in self.exchanges if e.ttft is not None]

    def cpu_ms_per_request(self, process: str) -> float:
        assert self.cpu is not None
        requests = max(1, len(self.exchanges) + len(self.errors))
        return ms(self.cpu.totals.get(process, 0.0)) / requests

    def summary(self) -> dict[str, object]:
        totals, ttfts = self.totals_ms, self.ttfts_ms
        return {
            "total_p50_ms": median(totals),
            "total_p99_ms": p99(totals),
            "ttft_p50_ms": median(ttfts) if ttfts else None,
            "ttft_p99_ms": p99(ttfts) if ttfts else None,
            "errors": len(self.errors),
            "cpu_s": self.cpu.totals if self.cpu else {},
        }


def series(
    name: str,
    url: str,
    build: Callable[[str, int, int], bytes],
    *,
    stream: bool = False,
    tokens: int | None = None,
) -> Series:
    """A target at ``url``; ``build(host, port, i)`` makes its i-th request."""
    host, port = host_port(url)
    return Series(
        name,
        _client.Client(host, port),
        lambda i: build(host, port, i),
        stream=stream,
        tokens=tokens,
    )


async def _run(target: Series, indexes: range, measured: bool) -> None:
    for i in indexes:
        exchange = await target.client.request(target.build(i), stream=target.stream)
        if not measured:
            continue
        problem = _client.check(exchange, stream=target.stream, tokens=target.tokens)
        if problem:
            target.errors.append(problem)
        else:
            target.exchanges.append(exchange)


async def measure(
    targets: list[Series], pids: dict[str, int], *, requests: int, warmup: int, block: int
) -> None:
    """Warm each target up, then run ``requests`` each in interleaved blocks."""
    for target in targets:
        target.cpu = CpuMeter(pids)
        await _run(target, range(target.count, target.count + warmup), measured=False)
        target.count += warmup
    done = 0
    while done < requests:
        size = min(block, requests - done)
        for target in targets:
            assert target.cpu is not None
            target.cpu.start()
            await _run(target, range(target.count, target.count + size), measured=True)
            target.cpu.stop()
            target.count += size
        done += size
    for target in targets:
        target.client.close()
