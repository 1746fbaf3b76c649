"""How faithful the mock tools are: a fixed probe set through the mock MCP server, with an MCP client.

    python benchmarks/mock_fidelity.py                     # the bundled mocks (mock_tools/)
    python benchmarks/mock_fidelity.py --dir WS/mock_tools  # another mock folder
    python benchmarks/mock_fidelity.py --toucan DIR         # also build and probe the mocks of a TOUCAN catalog

Prints pass rates for: echo (an output that means an argument repeats it), known computation answers
(days in February 2024/2025, ISO weeks and weekdays of known dates, timestamp round trips,
temperature and unit conversions, arithmetic), state round trips (write -> read, create -> list,
delete -> get), unknown ids refused, and the spread of list lengths (the share of lists per length).
For a catalog (``--toucan``), the generic probes: echo over every tool with sample arguments, known
answers of every tool of a recognised computation family, unknown ids refused by closed lookups,
list lengths.
"""

from __future__ import annotations

import argparse
import asyncio
import calendar
import datetime as dt
import json
import logging
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from fastmcp import Client

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from graph_toucan.mock import MockRuntime, SandboxPool, bundled_mock_folder, read_mock_folder
from graph_toucan.mock.build import family_plan, same_answer, sample_arguments
from graph_toucan.mock.files import mock_server_module
from graph_toucan.mock.flatten import flat_fields
from graph_toucan.mock.runtime import schema_problem
from graph_toucan.mock.state import EntityStore, effect_of, is_id, missing_reference, produced_kinds
from graph_toucan.mock.values import echo_values

META = "graph-toucan/conversation"


class Tally:
    def __init__(self) -> None:
        self.counts: dict[str, list[int]] = {}
        self.failures: dict[str, list[str]] = {}

    def add(self, name: str, ok: bool, detail: str = "") -> None:
        passed, total = self.counts.setdefault(name, [0, 0])
        self.counts[name] = [passed + int(ok), total + 1]
        if not ok:
            self.failures.setdefault(name, []).append(detail)

    def report(self, title: str, lengths: Counter[int]) -> None:
        print(f"\n## {title}\n")
        print("| probe | passed | total | rate |")
        print("|---|---|---|---|")
        for name, (passed, total) in self.counts.items():
            print(f"| {name} | {passed} | {total} | {100 * passed / total:.1f}% |")
        total = sum(lengths.values())
        if total:
            spread = ", ".join(f"{n}: {100 * c / total:.0f}%" for n, c in sorted(lengths.items()))
            print(
                f"\nlist lengths over {total} lists: {spread}; most common {100 * max(lengths.values()) / total:.0f}%"
            )
        for name, details in self.failures.items():
            for detail in details[:3]:
                print(f"- failed {name}: {detail[:240]}")


def list_lengths(output: Any, found: Counter[int]) -> None:
    if isinstance(output, dict):
        for value in output.values():
            list_lengths(value, found)
    elif isinstance(output, list):
        if (output and all(isinstance(v, dict) for v in output)) or (
            output and not any(isinstance(v, list) for v in output)
        ):
            found[len(output)] += 1
        for value in output:
            list_lengths(value, found)


class Probe:
    def __init__(self, client: Client, lengths: Counter[int]) -> None:
        self.client = client
        self.lengths = lengths
        self.n = 0

    async def call(
        self, name: str, arguments: dict[str, Any], conversation: str | None = None
    ) -> tuple[bool, Any]:
        """(ok, structured output or error text)."""
        self.n += 1
        meta = {META: conversation or f"probe-{self.n}"}
        result = await self.client.call_tool(name, arguments, meta=meta, raise_on_error=False)
        if result.is_error:
            return False, " ".join(getattr(c, "text", "") for c in result.content)
        output = result.structured_content
        list_lengths(output, self.lengths)
        return True, output


def _dates(rng: random.Random, n: int) -> list[dt.date]:
    return [dt.date(2020, 1, 1) + dt.timedelta(days=rng.randint(0, 2500)) for _ in range(n)]


async def bundled_probes(probe: Probe, tally: Tally) -> None:
    rng = random.Random(23)
    # -- echo
    echo_cases = [
        (
            "get_latest_exchange_rates",
            {"base_currency": "JPY"},
            lambda o: all(r["base"] == "JPY" for r in o["rates"]),
        ),
        (
            "get_latest_exchange_rates",
            {"base_currency": "EUR", "symbols": ["USD", "GBP"]},
            lambda o: (
                [r["currency"] for r in o["rates"]] == ["USD", "GBP"]
                and all(r["base"] == "EUR" for r in o["rates"])
            ),
        ),
        (
            "get_current_datetime",
            {"timezone_name": "Europe/Berlin"},
            lambda o: o["timezone"] == "Europe/Berlin",
        ),
        ("write_file", {"path": "notes.txt", "content": "hi"}, lambda o: o["file_path"] == "notes.txt"),
        ("get_current_stock_price", {"symbol": "MSFT"}, lambda o: "currency" in o),
        (
            "find-place",
            {"query": "Eiffel Tower, Paris"},
            lambda o: all("Paris" in p["address"] and 48 < p["latitude"] < 49.5 for p in o["places"]),
        ),
        (
            "search-hotels",
            {"latitude": 48.86, "longitude": 2.35},
            lambda o: all("Paris" in h["address"] for h in o["hotels"]),
        ),
        ("convert_temperature", {"value": 20, "from_unit": "C", "to_unit": "F"}, lambda o: o["unit"] == "F"),
        (
            "get_historical_exchange_rates",
            {"base_currency": "GBP", "specific_date": "2024-05-02"},
            lambda o: all(r["base"] == "GBP" and r["date"] == "2024-05-02" for r in o["rates"]),
        ),
        (
            "convert_time",
            {
                "sourceTimezone": "Asia/Shanghai",
                "targetTimezone": "Europe/London",
                "time": "2025-03-23 12:30:00",
            },
            lambda o: o["timezone"] == "Europe/London",
        ),
    ]
    for name, arguments, check in echo_cases:
        ok, output = await probe.call(name, arguments)
        tally.add("echo", ok and bool(check(output)), f"{name}{arguments} -> {output}")
    # -- known computation answers
    cases: list[tuple[str, dict[str, Any], Any]] = []
    for year in (2024, 2025):
        for day in (1, 10, 28):
            cases.append(
                ("days_in_month", {"date": f"{year}-02-{day:02d}"}, ("days", calendar.monthrange(year, 2)[1]))
            )
    for day in _dates(rng, 30):
        cases.append(
            (
                "days_in_month",
                {"date": day.isoformat()},
                ("days", calendar.monthrange(day.year, day.month)[1]),
            )
        )
        cases.append(("get_week_year", {"date": day.isoformat()}, ("iso_week", day.isocalendar()[1])))
    for day in _dates(rng, 15):
        moment = dt.datetime.combine(day, dt.time(rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)))
        text = moment.strftime("%Y-%m-%d %H:%M:%S")
        stamp = calendar.timegm(moment.timetuple())
        cases.append(("get_timestamp", {"time": text}, ("timestamp", stamp)))
        cases.append(("relative_time", {"time": text}, ("day_of_week", moment.strftime("%A"))))
    for value in (-40, 0, 37, 100, 212.5):
        cases.append(
            (
                "convert_temperature",
                {"value": value, "from_unit": "C", "to_unit": "F"},
                ("converted_value", value * 9 / 5 + 32),
            )
        )
        cases.append(
            (
                "convert_temperature",
                {"value": value, "from_unit": "F", "to_unit": "C"},
                ("converted_value", (value - 32) * 5 / 9),
            )
        )
    for value, a, b, expected in [
        (1, "cup", "ml", 236.5882365),
        (2, "l", "ml", 2000),
        (3, "tsp", "tbsp", 1),
        (1, "kg", "lb", 2.20462262),
        (16, "oz", "lb", 1),
        (500, "g", "kg", 0.5),
    ]:
        tool = "convert_volume" if a in ("cup", "l", "tsp") else "convert_weight"
        cases.append((tool, {"value": value, "from_unit": a, "to_unit": b}, ("converted_value", expected)))
    for _ in range(6):
        x, y = rng.randint(-50, 50), rng.randint(1, 50)
        cases += [
            ("add", {"a": x, "b": y}, ("result", x + y)),
            ("subtract", {"a": x, "b": y}, ("result", x - y)),
            ("multiply", {"a": x, "b": y}, ("result", x * y)),
            ("divide", {"a": x, "b": y}, ("result", x / y)),
        ]
    cases += [
        ("power", {"base": 2, "exponent": 10}, ("result", 1024)),
        ("sqrt", {"value": 81}, ("result", 9)),
    ]
    cases += [("evaluate_expression", {"expression": "(2+3)*4-6/3"}, ("result", 18))]
    for day in _dates(rng, 6):
        moment = f"{day.isoformat()} 12:00:00"
        cases.append(
            (
                "convert_time",
                {"sourceTimezone": "UTC", "targetTimezone": "Asia/Tokyo", "time": moment},
                ("datetime", f"{day.isoformat()}T21:00"),
            )
        )
    for name, arguments, (field, expected) in cases:
        ok, output = await probe.call(name, arguments)
        actual = output.get(field) if ok and isinstance(output, dict) else output
        tally.add(
            "known answers",
            ok and same_answer(actual, expected),
            f"{name}{arguments}: {field} {actual!r} != {expected!r}",
        )
    # currency conversion consistent with the rates returned earlier in the same conversation
    for base, quote in (("USD", "EUR"), ("JPY", "GBP"), ("EUR", "CHF")):
        _, rates = await probe.call(
            "get_latest_exchange_rates", {"base_currency": base, "symbols": [quote]}, f"fx-{base}"
        )
        ok, converted = await probe.call(
            "convert_currency_latest",
            {"amount": 250, "from_currency": base, "to_currency": quote},
            f"fx-{base}",
        )
        rate = rates["rates"][0]["rate"] if isinstance(rates, dict) else None
        good = (
            ok
            and rate == converted["rate"]
            and same_answer(converted["converted_amount"], round(250 * rate, 2))
        )
        tally.add("known answers", good, f"{base}->{quote}: rates {rates} then {converted}")
    # -- state round trips
    for n in range(10):
        chat = f"state-{n}"
        content = f"line one {n}\nline two\nline three"
        await probe.call("write_file", {"path": f"notes{n}.txt", "content": content}, chat)
        ok, read = await probe.call("read_file", {"path": f"notes{n}.txt"}, chat)
        tally.add(
            "state: write -> read",
            ok and read.get("content") == content and read.get("size_bytes") == len(content.encode()),
            f"{read}",
        )
        url = f"https://example.org/page-{n}"
        await probe.call("download_markdown", {"url": url}, chat)
        ok, listed = await probe.call("list_downloaded_files", {}, chat)
        files = [f.get("file_path", "") for f in listed.get("files", [])] if ok else []
        tally.add("state: create -> list", any(f"page-{n}" in f for f in files), f"{listed}")
        await probe.call("delete_file_content", {"path": f"notes{n}.txt", "row": 1}, chat)
        ok, after = await probe.call("read_file", {"path": f"notes{n}.txt"}, chat)
        tally.add(
            "state: delete -> get", ok and "line two" not in after.get("content", "line two"), f"{after}"
        )
        ok, found = await probe.call("search-hotels", {"latitude": 40.7, "longitude": -74.0}, chat)
        hotel = found["hotels"][0] if ok else {}
        ok, details = await probe.call(
            "get-hotel-details", {"session_id": "s", "hotel_id": hotel.get("hotel_id", "")}, chat
        )
        tally.add(
            "state: search -> details",
            ok and details.get("name") == hotel.get("name"),
            f"{hotel} vs {details}",
        )
    # -- unknown ids refused
    for n in range(10):
        for name, arguments in (
            ("get-hotel-details", {"session_id": "s", "hotel_id": f"hotel_{n:08x}"}),
            ("book-hotel", {"session_id": "s", "hotel_id": f"hotel_{n:08x}", "rate_id": "r1"}),
            ("airbnb_listing_details", {"id": f"listing_{n:08x}"}),
        ):
            ok, output = await probe.call(name, arguments)
            tally.add(
                "unknown ids refused", not ok and "not found" in str(output), f"{name}{arguments} -> {output}"
            )
    # -- list lengths: a spread of searches
    for n in range(12):
        for name, arguments in (
            ("search-hotels", {"latitude": 30 + n, "longitude": 2.0 + n}),
            ("get_news_by_keyword", {"keyword": f"topic {n}"}),
            ("airbnb_search", {"location": ["Paris", "Lyon", "Tokyo"][n % 3], "adults": n % 4 + 1}),
            ("get_supported_currencies", {} if n == 0 else {"_": n}),
        ):
            if "_" in arguments:
                continue
            await probe.call(name, arguments)


async def catalog_probes(probe: Probe, tally: Tally, runtime: MockRuntime) -> None:
    """Generic probes for any catalog's mocks."""
    servers: dict[str, list[Any]] = {}
    for loaded in runtime.mocks.values():
        servers.setdefault(loaded.mock.tool.server_id, []).append(loaded.mock.tool)
    closed = {server: produced_kinds(tools) for server, tools in servers.items()}
    for name, loaded in sorted(runtime.mocks.items()):
        tool = loaded.mock.tool
        samples = sample_arguments(tool)
        arguments = samples[-1]
        plan = family_plan(tool)
        echoes = echo_values(flat_fields(tool.output_schema), arguments)
        effect = effect_of(tool)
        schema = (tool.input_schema.get("properties") or {}).get(effect.key_param or "", {})
        unknown = 987654321 if schema.get("type") in ("integer", "number") else "zz_never_returned_4242"
        probed = {**arguments, effect.key_param: unknown} if effect.key_param else None
        if (
            probed
            and schema_problem(loaded.arguments, probed) is None  # an id of the right shape
            and missing_reference(EntityStore(), tool, probed, closed[tool.server_id])
        ):
            ok, output = await probe.call(name, probed)
            tally.add(
                "unknown ids refused", not ok and "not found" in str(output), f"{name} -> {str(output)[:120]}"
            )
            continue
        ok, output = await probe.call(name, arguments)
        if not ok:
            continue
        paths = {f.key: f.path for f in flat_fields(tool.output_schema)}
        for key, value in echoes.items():
            if "[]" in paths.get(key, "") or is_id(paths.get(key, "")):
                continue
            actual = output
            for part in paths[key].split("."):
                actual = actual.get(part) if isinstance(actual, dict) else None
            tally.add("echo", actual == value, f"{name}: {paths[key]} {actual!r} != {value!r}")
        if plan is not None:
            for arguments, expected in plan.known:
                ok, output = await probe.call(name, arguments)
                for key, value in expected.items():
                    actual = output
                    for part in paths.get(key, key).split("."):
                        actual = actual.get(part) if isinstance(actual, dict) else None
                    tally.add(
                        f"known answers ({plan.family})",
                        ok and same_answer(actual, value),
                        f"{name}{arguments}: {actual!r} != {value!r}",
                    )


async def serve_and_probe(mocks: list[Any], title: str, bundled: bool) -> None:
    module = mock_server_module()
    tally, lengths = Tally(), Counter()
    started = time.perf_counter()
    async with SandboxPool(workers=2) as pool:
        runtime = MockRuntime(pool)
        server = module.create_server(runtime)
        await server.publish(mocks)
        async with Client(server.app) as client:
            probe = Probe(client, lengths)
            if bundled:
                await bundled_probes(probe, tally)
            else:
                await catalog_probes(probe, tally, runtime)
    tally.report(
        f"{title}: {len(mocks)} mocks, {probe.n} calls in {time.perf_counter() - started:.0f} s", lengths
    )


def toucan(folder: Path) -> list[Any]:
    """Import a TOUCAN catalog into a fresh workspace, annotate it and build its mocks (offline)."""
    workspace = Path(tempfile.mkdtemp(prefix="gt-fidelity-"))
    cli = [sys.executable, "-c", "from graph_toucan.cli import main; main()", "-w", str(workspace)]
    started = time.perf_counter()
    for step in (["import", str(folder)], ["annotate"], ["mock", "build", "--json"]):
        done = subprocess.run([*cli, *step], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(step)} failed: {done.stderr[-2000:]}")
    report = json.loads(done.stdout)
    print(
        f"TOUCAN catalog: {report['accepted'] + report['cached']} mocks accepted, {report['unmockable']} unmockable, "
        f"{report['skipped']} skipped, built in {time.perf_counter() - started:.0f} s"
    )
    reasons = Counter(r.split(":")[0][:70] for r in report["unmockable_tools"].values())
    for reason, count in reasons.most_common(6):
        print(f"- unmockable {count}: {reason}")
    return read_mock_folder(workspace / "mock_tools")


def main() -> None:
    logging.getLogger("fastmcp").setLevel(logging.CRITICAL)  # refused calls are the point of some probes
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--dir", type=Path, default=None, help="a mock folder (default: the bundled mock_tools/)"
    )
    parser.add_argument(
        "--toucan", type=Path, default=None, help="a TOUCAN mcp_servers folder: build and probe its mocks"
    )
    args = parser.parse_args()
    folder = args.dir or bundled_mock_folder()
    asyncio.run(
        serve_and_probe(read_mock_folder(folder), f"mocks of {folder.name}", bundled=args.dir is None)
    )
    if args.toucan:
        mocks = toucan(args.toucan)
        asyncio.run(serve_and_probe(mocks, "TOUCAN catalog mocks", bundled=False))


if __name__ == "__main__":
    main()
