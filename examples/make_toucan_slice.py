"""Build the bundled example catalog: a small, cross-linked slice of the TOUCAN MCP server catalog.

The slice is a fixed list of "usable" TOUCAN servers (files without a ``tf_``/``cf_`` prefix, i.e. connected
servers whose live ``tools/list`` schemas passed validation) chosen so that tools of different servers feed
each other: geolocation -> weather/hotels/time zones, search -> fetch/archive/download -> files,
prices -> currency conversion/calculator/charts.

The script copies the chosen files byte-identical from a TOUCAN ``mcp_servers`` folder into
``examples/toucan/mcp_servers/``, removes any other ``*.json`` file there, verifies the selection (usable
servers only, unique non-empty tool names, non-empty tool descriptions, valid JSON Schema inputs, tool count
in range) and prints a short summary. It is deterministic: same input folder, same output.

Usage (from the repository root)::

    python examples/make_toucan_slice.py [TOUCAN_MCP_SERVERS_DIR] [--dest DIR] [--check]

The default source is ``$GRAPH_TOUCAN_TOUCAN_DIR/mcp_servers`` (the folder of the full TOUCAN catalog). ``--check``
only verifies the files already in the destination (byte-identical to the source) and copies nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from graph_toucan.errors import SchemaError
from graph_toucan.schema import check_schema

REPO_ROOT = Path(__file__).resolve().parent.parent
TOUCAN_ENV = "GRAPH_TOUCAN_TOUCAN_DIR"
DEFAULT_DEST = REPO_ROOT / "examples" / "toucan" / "mcp_servers"

MIN_TOOLS = 90
MAX_TOOLS = 120
MAX_TOOLS_PER_SERVER = 12
# Servers whose tool lists contain duplicate tool names; never select them.
EXCLUDED = frozenset(
    {
        "0070.@samihalawa_visual-ui-debug-agent-mcp_labeled.json",
        "0554.@jimpick_mcp-json-db-collection-server_labeled.json",
    }
)

SELECTED_FILES: list[str] = [
    # --- travel & maps ---
    # IP geolocation: City, Latitude/Longitude, IANA Timezone, Country Code feed weather, time, hotels, news.
    "0967.@kukapay_whereami-mcp_labeled.json",
    # find-place turns a place name into latitude/longitude for search-hotels, weather and distance tools.
    "0056.@jinkoso_jinko-mcp_labeled.json",
    # airbnb_search takes a city (whereami/find-place) and YYYY-MM-DD dates (time); listing links go to QR.
    "0115.@openbnb-org_mcp-server-airbnb_labeled.json",
    # Distance/area over [lon, lat] points that come from find-place or whereami.
    "1144.@NodeGIS_geo-mcp-server_labeled.json",
    # --- weather ---
    # US weather/alerts/local time by a "lat,lng" string built from find-place or whereami coordinates.
    "0059.@smithery-ai_national-weather-service_labeled.json",
    # Forecast by numeric latitude/longitude (the same fields search-hotels takes); alerts by US state code.
    "0166.@turkyden_weather_labeled.json",
    # Weather by English city name and YYYY-MM-DD date range (from time tools); clock by IANA timezone.
    "0113.@isdaniel_mcp_weather_server_labeled.json",
    # Converts weather temperatures between C and F (plus volume/weight units).
    "2164.@sellisd_mcp-units_labeled.json",
    # --- time ---
    # Converts times between IANA zones (from whereami) and yields dates for bookings, rates and prices.
    "0039.@yokingma_time-mcp_labeled.json",
    # --- finance ---
    # Stock prices by symbol and YYYY-MM-DD date; prices feed currency conversion, calculator and charts.
    "0633.@maxscheijen_mcp-yahoo-finance_labeled.json",
    # Converts amounts (stock, crypto, hotel prices) between currency codes, latest or on a given date.
    "0978.@anirbanbasu_frankfurtermcp_labeled.json",
    # coingecko_list gives coin ids for coingecko_price; crypto prices feed currency conversion, calculator.
    "0926.@Hott-J_coingecko-mcp-server_labeled.json",
    # Arithmetic on numbers taken from prices, exchange rates, temperatures and distances.
    "0765.@mzdz_calc-mcp-server_labeled.json",
    # Charts price/temperature series (labels + datasets); download_chart writes to an outputPath.
    "0266.@Magic-Sauce_quickchart-mcp-server_labeled.json",
    # --- web search, fetching, news ---
    # Web search whose result URLs feed get_details, fetch, markdown download, Exa crawling and Wayback.
    "2308.@gianlucamazza_mcp-duckduckgo_labeled.json",
    # Web/company/Wikipedia search; crawling_exa takes URLs found by other search tools.
    "0001.exa_exa-search_labeled.json",
    # Fetches any URL (search results, listings, archived pages) as HTML/Markdown/text/JSON.
    "0051.fetch-mcp_fetch-mcp-server_labeled.json",
    # Snapshots for a URL from search; the snapshot timestamp feeds get_archived_page.
    "0875.@Cyreslab-AI_wayback-mcp-server_labeled.json",
    # News by location (city from whereami/find-place) and Google trends by country code (from whereami).
    "0950.@jmanek_google-news-trends-mcp_labeled.json",
    # --- files & documents ---
    # Saves a URL (from search) as a Markdown file; its download directory feeds the file tools.
    "0197.@dazeb_markdown-downloader_labeled.json",
    # Lists/reads/writes files at paths produced by the downloader and chart tools.
    "0050.@GongRzhe_terminal-controller-mcp_labeled.json",
    # Encodes a URL or text (listing link, article URL, booking summary) as a QR code.
    "1848.@jwalsh_mcp-server-qrcode_labeled.json",
]


@dataclass(frozen=True)
class ServerSummary:
    """What the summary prints for one selected server."""

    file: str
    server_name: str
    primary_label: str
    tool_count: int
    sha256: str


def _fail(message: str) -> NoReturn:
    raise SystemExit(f"make_toucan_slice: {message}")


def _check_server(path: Path) -> ServerSummary:
    """Verify one TOUCAN server file and return its summary; exit with a message on any problem."""
    name = path.name
    if name.startswith(("tf_", "cf_")):
        _fail(f"{name}: not a usable server (tf_/cf_ prefix)")
    if name in EXCLUDED:
        _fail(f"{name}: excluded (duplicate tool names)")
    raw = path.read_bytes()
    data: dict[str, Any] = json.loads(raw)
    labels: dict[str, Any] = data["labels"]
    metadata: dict[str, Any] = data["metadata"]
    if not (labels.get("is_connected") and labels.get("is_remote_tool_valid")):
        _fail(f"{name}: labels say the server is not usable")
    if metadata["server_info_crawled"].get("remote_or_local") != "Remote":
        _fail(f"{name}: not a remote server")
    tools: list[dict[str, Any]] = metadata["remote_server_response"]["tools"]
    if not tools:
        _fail(f"{name}: no tools")
    if len(tools) > MAX_TOOLS_PER_SERVER:
        _fail(f"{name}: {len(tools)} tools (more than {MAX_TOOLS_PER_SERVER})")
    tool_names = [tool["name"] for tool in tools]
    if len(set(tool_names)) != len(tool_names) or not all(tool_names):
        _fail(f"{name}: empty or duplicate tool names")
    for tool in tools:
        if not (tool.get("description") or "").strip():
            _fail(f"{name}: tool {tool['name']!r} has no description")
        schema = tool.get("input_schema")
        if not isinstance(schema, dict):
            _fail(f"{name}: tool {tool['name']!r} has no input schema")
        try:
            check_schema(schema)
        except SchemaError as exc:
            _fail(f"{name}: tool {tool['name']!r} has an invalid input schema: {exc}")
    return ServerSummary(
        file=name,
        server_name=metadata["server_name"],
        primary_label=labels["primary_label"],
        tool_count=len(tools),
        sha256=hashlib.sha256(raw).hexdigest(),
    )


def _check_selection() -> None:
    if len(set(SELECTED_FILES)) != len(SELECTED_FILES):
        _fail("SELECTED_FILES has duplicates")


def build(source: Path, dest: Path, *, check_only: bool = False) -> list[ServerSummary]:
    """Copy (or, with check_only, compare) the selected files and return their verified summaries."""
    _check_selection()
    if not source.is_dir():
        _fail(f"source folder not found: {source}")
    missing = [name for name in SELECTED_FILES if not (source / name).is_file()]
    if missing:
        _fail(f"missing in {source}: {', '.join(missing)}")
    summaries = [_check_server(source / name) for name in SELECTED_FILES]
    total = sum(summary.tool_count for summary in summaries)
    if not MIN_TOOLS <= total <= MAX_TOOLS:
        _fail(f"{total} tools in total, expected {MIN_TOOLS}..{MAX_TOOLS}")

    if check_only:
        extra = sorted(p.name for p in dest.glob("*.json") if p.name not in SELECTED_FILES)
        if extra:
            _fail(f"unexpected files in {dest}: {', '.join(extra)}")
    else:
        dest.mkdir(parents=True, exist_ok=True)
        for stale in sorted(dest.glob("*.json")):
            if stale.name not in SELECTED_FILES:
                stale.unlink()
        for name in SELECTED_FILES:
            shutil.copyfile(source / name, dest / name)
    for summary in summaries:
        target = dest / summary.file
        if not target.is_file() or hashlib.sha256(target.read_bytes()).hexdigest() != summary.sha256:
            _fail(f"{target} is not byte-identical to the source")
    return summaries


def print_summary(summaries: list[ServerSummary], dest: Path) -> None:
    """Print servers, tools and primary labels of the slice."""
    total = sum(summary.tool_count for summary in summaries)
    try:
        shown = dest.resolve().relative_to(REPO_ROOT)
    except ValueError:
        shown = dest
    print(f"{len(summaries)} servers, {total} tools -> {shown}")
    for summary in summaries:
        print(f"  {summary.tool_count:>3}  {summary.file}  [{summary.primary_label}] {summary.server_name}")
    labels = Counter(summary.primary_label for summary in summaries)
    print("primary labels: " + ", ".join(f"{label} {count}" for label, count in sorted(labels.items())))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "source",
        nargs="?",
        type=Path,
        help=f"TOUCAN mcp_servers folder (default: ${TOUCAN_ENV}/mcp_servers)",
    )
    parser.add_argument(
        "--dest", type=Path, default=DEFAULT_DEST, help=f"output folder (default: {DEFAULT_DEST})"
    )
    parser.add_argument(
        "--check", action="store_true", help="verify the destination against the source, copy nothing"
    )
    args = parser.parse_args(argv)
    if args.source is None:
        if not os.environ.get(TOUCAN_ENV):
            parser.error(f"name the TOUCAN mcp_servers folder, or set {TOUCAN_ENV} to the catalog's folder")
        args.source = Path(os.environ[TOUCAN_ENV]) / "mcp_servers"
    summaries = build(args.source, args.dest, check_only=args.check)
    print_summary(summaries, args.dest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
