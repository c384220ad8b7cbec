"""One table from the newest redeploy and releases results: loopback and 50 Mbit/s side by side.

    python -m bench.summary [--markdown] [--results bench/results] [--docs FILE | --no-docs]

Reads the newest bench/results/<date>.json (bench.redeploy) and releases-<date>.json
(bench.releases); prints, per link, fab against the plain path (wall time and bytes of a
code-change deploy, with the ratios the issue asks for, and the longest outage), the no-change
deploy, and each release kind's failed requests and longest gap under load. `--markdown`
prints it as Markdown. Then it rewrites docs/performance.md from the same folder
(bench.docs_page: one table per kind of run, the newest of each); `--no-docs` leaves it be.
A --results other than bench/results writes no page unless --docs names one.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench.goals import CODE_BYTES_FRACTION, CODE_WALL_FRACTION
from bench.release_table import KIND_TITLES
from bench.shaping import LINK_TITLES
from bench.units import human_bytes

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def newest(folder: Path, pattern: str) -> Path | None:
    found = sorted(folder.glob(pattern))
    return found[-1] if found else None


def median(document: dict, case: str, pipeline: str, metric: str) -> float | None:
    summary = document.get("cases", {}).get(case, {}).get("summary", {}).get(pipeline, {})
    figure = summary.get(metric)
    return None if figure is None else figure["median"]


def case_label(case: str, link: str) -> str:
    return case if link == "loopback" else f"{case}@{link}"


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def _b(value: float | None) -> str:
    return "-" if value is None else human_bytes(value)


def _gap(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def _share(fab: float | None, plain: float | None, target: float) -> str:
    if fab is None or not plain:
        return "-"
    verdict = "met" if fab <= plain * target else "missed"
    shown = f"1/{plain / fab:,.0f}" if fab and plain / fab >= 10 else f"{fab / plain:.2f}x"
    return f"{shown} ({verdict})"


def rows(redeploy: dict | None, releases: dict | None, links: list[str]) -> list[list[str]]:
    table = [["figure", *(LINK_TITLES.get(link, link) for link in links)]]
    if redeploy is not None:
        figures = {
            link: {
                key: median(redeploy, case_label(case, link), pipeline, metric)
                for key, (case, pipeline, metric) in {
                    "fab_wall": ("code", "ours", "wall_seconds"),
                    "plain_wall": ("code", "baseline", "wall_seconds"),
                    "fab_bytes": ("code", "ours", "wire_bytes"),
                    "plain_bytes": ("code", "baseline", "wire_bytes"),
                    "none_wall": ("nochange", "ours", "wall_seconds"),
                    "none_bytes": ("nochange", "ours", "wire_bytes"),
                    "fab_outage": ("code", "ours", "downtime_seconds"),
                    "plain_outage": ("code", "baseline", "downtime_seconds"),
                }.items()
            }
            for link in links
        }
        f = figures
        table += [
            ["code change: wall, plain / fab"]
            + [f"{_s(f[k]['plain_wall'])} / {_s(f[k]['fab_wall'])}" for k in links],
            ["  fab / plain wall (target <= 1/5)"]
            + [_share(f[k]["fab_wall"], f[k]["plain_wall"], CODE_WALL_FRACTION) for k in links],
            ["code change: bytes at the NIC, plain / fab"]
            + [f"{_b(f[k]['plain_bytes'])} / {_b(f[k]['fab_bytes'])}" for k in links],
            ["  fab / plain bytes (target <= 1/1000)"]
            + [_share(f[k]["fab_bytes"], f[k]["plain_bytes"], CODE_BYTES_FRACTION) for k in links],
            ["code change: longest /health outage, plain / fab"]
            + [f"{_gap(f[k]['plain_outage'])} / {_gap(f[k]['fab_outage'])}" for k in links],
            ["no change: fab wall / bytes (target < 1 s, 10 KB)"]
            + [f"{_s(f[k]['none_wall'])} / {_b(f[k]['none_bytes'])}" for k in links],
        ]
        cells = []
        for link in links:
            steps = redeploy["cases"].get(case_label("code", link), {})
            steps = steps.get("phase_medians_seconds", {}).get("ours") or {}
            cells.append(
                ", ".join(f"{step} {sec:.1f}" for step, sec in steps.items() if sec >= 0.05)
            )
        table.append(["  fab code-change steps (median s)", *cells])
    for kind, title in KIND_TITLES.items() if releases is not None else ():
        cells = []
        for link in links:
            found = [r for r in releases["releases"] if r["link"] == link and r["kind"] == kind]
            if not found:
                cells.append("-")
                continue
            r = found[0]
            cells.append(
                f"{r['failed']} failed of {r['requests']} ({r['rate']:.0f}/s), "
                f"gap {r['longest_gap_seconds']:.2f} s, {r['wall_seconds']:.1f} s"
            )
        table.append([f"under load: {title}", *cells])
    if releases is not None:
        cells = []
        for link in links:
            found = [
                r["refresh"] for r in releases["releases"] if r["link"] == link and "refresh" in r
            ]
            cells.append(
                f"{found[0]['http_500s']} HTTP 500 of {found[0]['presses']} presses"
                if found
                else "-"
            )
        table.append(
            ["refresh-status pressed during a code-change deploy (goal 0 HTTP 500)", *cells]
        )
    return table


def render(table: list[list[str]], markdown: bool) -> str:
    width = max(len(r) for r in table)
    table = [r + [""] * (width - len(r)) for r in table]
    if markdown:
        lines = ["| " + " | ".join(table[0]) + " |", "|" + "---|" * width]
        lines += ["| " + " | ".join(r) + " |" for r in table[1:]]
        return "\n".join(lines)
    widths = [max(len(r[i]) for r in table) for i in range(width)]
    return "\n".join(
        ("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True))).rstrip()
        for r in table
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.summary", description=__doc__)
    parser.add_argument("--markdown", action="store_true", help="a Markdown table")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR)
    parser.add_argument("--docs", type=Path, help="the page to write (docs/performance.md)")
    parser.add_argument("--no-docs", action="store_true", help="write no page")
    args = parser.parse_args(argv)
    paths = [newest(args.results, "2*.json"), newest(args.results, "releases-*.json")]
    redeploy, releases = (json.loads(p.read_text()) if p else None for p in paths)
    if redeploy is None and releases is None:
        print(f"no results in {args.results}", file=sys.stderr)
        return 1
    links = (redeploy or {}).get("settings", {}).get("links") or ["loopback"]
    if releases is not None:
        links = list(dict.fromkeys([*links, *releases["settings"]["links"]]))
    print("side by side, from " + ", ".join(p.name for p in paths if p))
    print(render(rows(redeploy, releases, links), args.markdown))
    from bench import docs_page  # it renders with this module's rows: imported once both exist

    page = args.docs or (docs_page.PAGE if args.results.resolve() == RESULTS_DIR else None)
    if page is not None and not args.no_docs:
        docs_page.write_page(args.results, page)
    return 0


if __name__ == "__main__":
    sys.exit(main())
