#!/usr/bin/python3
"""Turns the benchmarks' lines into the tables of docs/performance.md and the data of its plot.

  ladder_report.py LOG OUT_DIR

Writes OUT_DIR/ladder.md: ingest_bench's LADDER lines as one table per broker and QoS (the median over
rounds of every figure, per offered rate and arm, with the ratios to the limit arm), hot_path_bench's
instructions per reading, actuation_bench's ACTUATION lines (medians per broker and rate) and
IngestBench.Soak's SOAK_SUMMARY lines; and
OUT_DIR/ladder-<broker>-qos<q>.dat, the columns gnuplot draws (rate, then p99 lag and CPU per reading of
each Kafka arm).
"""
import statistics
import sys
from collections import defaultdict
from pathlib import Path

ARMS = ["limit", "naive", "mosq", "script", "archer", "relaxed"]
KAFKA_ARMS = ARMS[1:]


def number(text):
    try:
        return float(text)
    except ValueError:
        return None


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def shown(value, decimals=1):
    return "–" if value is None else f"{value:,.{decimals}f}"


def rate_key(rate):
    return float("inf") if rate == "max" else float(rate)


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    steps = defaultdict(list)  # (broker, qos, rate, arm) -> [fields]
    hot_path = []  # fields of each BENCH hot_path line
    soaks = []  # fields of each SOAK_SUMMARY line
    actuation = defaultdict(list)  # (broker, rate) -> [fields]
    for line in Path(sys.argv[1]).read_text(errors="replace").splitlines():
        for marker in ("LADDER broker=", "BENCH hot_path arm=", "ACTUATION broker=", "SOAK_SUMMARY "):
            at = line.find(marker)
            if at < 0:
                continue
            fields = dict(item.split("=", 1) for item in line[at:].split() if "=" in item)
            if marker.startswith("LADDER"):
                steps[(fields["broker"], fields["qos"], fields["rate"], fields["arm"])].append(fields)
            elif marker.startswith("BENCH"):
                hot_path.append(fields)
            elif marker.startswith("SOAK"):
                soaks.append(fields)
            elif "rate" in fields:  # not a "skipped" line
                actuation[(fields["broker"], fields["rate"])].append(fields)
    if not steps and not hot_path and not actuation and not soaks:
        print("ladder_report: no LADDER, BENCH hot_path, ACTUATION or SOAK_SUMMARY lines in " + sys.argv[1],
              file=sys.stderr)
        return 1

    def med(key, name):
        return median(number(f.get(name, "na")) for f in steps.get(key, []))

    out_dir = Path(sys.argv[2])
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = []
    for broker, qos in sorted({(k[0], k[1]) for k in steps}, key=lambda x: (x[0] != "devkafka", -int(x[1]))):
        rates = sorted({k[2] for k in steps if k[0] == broker and k[1] == qos}, key=rate_key)
        rounds = max(len(v) for k, v in steps.items() if k[0] == broker and k[1] == qos)
        lines.append(f"### {broker}, QoS {qos} (median of {rounds} rounds)\n")
        lines.append("| offered/s | arm | delivered/offered | delivered/s | CPU µs/reading | × limit CPU | "
                     "switches/reading | lag p50 ms | p99 | p99.9 | max | peak RSS MiB |")
        lines.append("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        dat = [["# rate"] + [f"{arm}_p99_ms {arm}_cpu_us" for arm in KAFKA_ARMS]]
        for rate in rates:
            limit_cpu = med((broker, qos, rate, "limit"), "cpu_us_per_reading")
            row = [rate]
            for arm in ARMS:
                key = (broker, qos, rate, arm)
                if key not in steps:
                    continue
                sent = med(key, "sent")
                delivered = med(key, "delivered")
                cpu = med(key, "cpu_us_per_reading")
                ratio = cpu / limit_cpu if cpu and limit_cpu else None
                offered = "max (" + shown(med(key, "publish_rate"), 0) + ")" if rate == "max" else f"{int(rate):,}"
                lines.append(
                    f"| {offered} | {arm} | {shown(delivered / sent if sent else None, 3)} | "
                    f"{shown(med(key, 'delivered_per_s'), 0)} | {shown(cpu, 1)} | {shown(ratio, 2)} | "
                    f"{shown(med(key, 'switches_per_reading'), 2)} | {shown(med(key, 'lag_p50_ms'))} | "
                    f"{shown(med(key, 'lag_p99_ms'))} | "
                    f"{shown(med(key, 'lag_p999_ms'))} | {shown(med(key, 'lag_max_ms'))} | "
                    f"{shown((med(key, 'max_rss_kib') or 0) / 1024, 1)} |")
            if rate != "max":
                for arm in KAFKA_ARMS:
                    key = (broker, qos, rate, arm)
                    p99 = med(key, "lag_p99_ms")
                    cpu = med(key, "cpu_us_per_reading")
                    row.append(f"{p99 if p99 is not None else 'NaN'} {cpu if cpu is not None else 'NaN'}")
                dat.append(row)
        lines.append("")
        (out_dir / f"ladder-{broker}-qos{qos}.dat").write_text("\n".join(" ".join(r) for r in dat) + "\n")
    if hot_path:
        lines.append("### Instructions per reading (callgrind, hot_path_bench)\n")
        lines.append("| arm | readings | instructions per reading | × limit |")
        lines.append("| --- | ---: | ---: | ---: |")
        for f in hot_path:
            lines.append(f"| {f['arm']} | {f['readings']} | {shown(number(f['per_reading']), 0)} | "
                         f"{f.get('ratio_to_limit', 'na')} |")
        lines.append("")
    for broker in sorted({k[0] for k in actuation}, key=lambda b: b != "devkafka"):
        rounds = max(len(v) for k, v in actuation.items() if k[0] == broker)
        lines.append(f"### Actuation, {broker} (median of {rounds} rounds)\n")
        lines.append("| offered/s | outcomes/s | written→outcome p50 ms | p99 | round trip p50 ms | p99 | p99.9 | "
                     "CPU µs/command | peak RSS MiB | first outcome ms |")
        lines.append("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for rate in sorted({k[1] for k in actuation if k[0] == broker}, key=rate_key):
            rows = actuation[(broker, rate)]

            def amed(name):
                return median(number(f.get(name, "na")) for f in rows)
            lines.append(f"| {rate} | {shown(amed('outcomes_per_s'), 0)} | {shown(amed('written_to_outcome_p50_ms'))} | "
                         f"{shown(amed('p99_ms'))} | {shown(amed('round_trip_p50_ms'))} | "
                         f"{shown(amed('round_trip_p99_ms'))} | {shown(amed('round_trip_p999_ms'))} | "
                         f"{shown(amed('cpu_us_per_command'), 0)} | {shown((amed('max_rss_kib') or 0) / 1024, 1)} | "
                         f"{shown(amed('first_outcome_ms'), 0)} |")
        lines.append("")
    if soaks:
        lines.append("### Memory over a long feed (IngestBench.Soak, archer-devkafka, QoS 1)\n")
        lines.append("| devices | offered/s | seconds | published/s | acknowledged | delivered | RSS at 1 min MiB | "
                     "last | peak | growth MiB per 10 min |")
        lines.append("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for f in soaks:
            def mib(name):
                value = number(f.get(name, "na"))
                return None if value is None else value / 1024
            lines.append(f"| {int(f['devices']):,} | {f['rate']} | {f['seconds']} | "
                         f"{shown(number(f['publish_rate']), 0)} | {int(f['acked']):,} | {int(f['delivered']):,} | "
                         f"{shown(mib('rss_at_1min_kib'))} | {shown(mib('rss_last_kib'))} | "
                         f"{shown(mib('rss_max_kib'))} | {shown(mib('growth_kib_per_10min'), 2)} |")
        lines.append("")
    (out_dir / "ladder.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
