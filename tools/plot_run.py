#!/usr/bin/env python3
"""PNG figures of a qosroute training run, a load sweep, or per-request latencies.

Usually run through `qosroute plot` (launch/plot_command.cc), which finds this script and the
Debian python3 with matplotlib. Direct use:

  plot_run.py run RUN_DIR OUT_DIR
      RUN_DIR/metrics/train.csv and RUN_DIR/metrics/eval.csv (required) and
      RUN_DIR/metrics/select.csv (optional) -> learning_curve.png, throughput.png, losses.png
  plot_run.py sweep SWEEP OUT_DIR
      SWEEP is a launch/sweep.sh output folder or one CSV -> sweep_qos.png, sweep_latency.png
  plot_run.py latency CSV OUT_DIR
      per-request latencies -> latency_cdf.png

Inputs are parsed by header name; extra columns are ignored, and an empty field, a missing
column, or a non-finite number means "no value" (never plotted as 0).

run: train.csv needs `updates`; rows of kind `log` (or rows without a kind column) give
  wall_s, frames_per_s, updates_per_s, critic_loss, actor_loss, alpha, entropy; any row with
  a rolling_qos value gives the rolling training QoS. eval.csv needs `updates` and `avg_qos`
  (avg_qos_ci95, policy and greedy_qos, the strong heuristic on the same episodes, are
  optional). select.csv (frames,updates,margin,rate,...,
  paired_gain,...,mean_gain,min_gain,selected) gives the validation gain against greedy-qos.

sweep: either a folder written by launch/sweep.sh, holding NAME_rateR.csv files from
  `qosroute simulate/evaluate --out` (rows of heuristics_rateR.csv as they are; in any other
  NAME_rateR.csv the row `sac` is renamed NAME; the rate comes from the file name), or one CSV
  with the columns rate,policy,avg_qos,avg_qos_ci95,latency_per_token_mean (a CSV without
  a rate column takes it from a file name ending in _rateR.csv). Optional columns: upper_bound
  (drawn as a dashed mark per rate) and sla_s (latency-per-token SLA in seconds, drawn as a
  horizontal line on the latency figure; also accepted under the names latency_sla_s and sla).

latency: a CSV with one row per request and the columns
    policy,latency_per_token_s
  latency_per_token_s is the request's latency per output token in seconds; leave it empty
  for a request without one (dropped): it counts in the total but never as served, so that
  policy's curve ends below 1. Optional columns: rate (requests/s; with several rates each policy and rate is its own
  curve) and sla_s (drawn as a vertical line).

Every PNG written is printed, one path per line. Exit codes: 0 done; 2 bad usage, a missing
file or a missing required column (one line on stderr naming the file and column); 3 matplotlib
is not installed (install python3-matplotlib: launch/install-deps.sh).
"""

import csv
import math
import os
import re
import sys

DPI = 150
WIDE = (8.0, 4.5)
TALL = (8.0, 6.5)
EXIT_USAGE = 2
EXIT_NO_MATPLOTLIB = 3


class PlotError(Exception):
    """Bad input: the message names the file (and column)."""


# ---------------------------------------------------------------------------------------------
# CSV input


class Table:
    def __init__(self, path, header, rows):
        self.path = path
        self.header = header
        self.rows = rows  # list of dicts, column name -> raw string

    def has(self, column):
        return column in self.header

    def require(self, *columns):
        for c in columns:
            if c not in self.header:
                raise PlotError("%s: missing column '%s'" % (self.path, c))


def read_table(path, required=()):
    if not os.path.isfile(path):
        raise PlotError("%s: no such file" % path)
    try:
        with open(path, newline="") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None:
                raise PlotError("%s: empty file (no header line)" % path)
            header = [h.strip() for h in header]
            rows = []
            for fields in reader:
                if not fields or all(not x.strip() for x in fields):
                    continue
                rows.append({h: (fields[i].strip() if i < len(fields) else "")
                             for i, h in enumerate(header)})
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise PlotError("%s: cannot read (%s)" % (path, e))
    table = Table(path, header, rows)
    table.require(*required)
    return table


def num(row, column):
    """The value as a float, or None when the column is missing, empty or not a finite number."""
    raw = row.get(column, "")
    if raw == "" or raw is None:
        return None
    try:
        v = float(raw)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def series(rows, xcol, ycol):
    """(xs, ys) sorted by x over the rows where both values are present."""
    pts = []
    for r in rows:
        x, y = num(r, xcol), num(r, ycol)
        if x is not None and y is not None:
            pts.append((x, y))
    pts.sort(key=lambda p: p[0])
    return [p[0] for p in pts], [p[1] for p in pts]


# ---------------------------------------------------------------------------------------------
# matplotlib


def load_pyplot():
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        if os.environ.get("QOSROUTE_PLOT_FROM_CLI"):  # qosroute plot says it in one line
            sys.exit(EXIT_NO_MATPLOTLIB)
        sys.stderr.write("plot_run.py: error: matplotlib is not installed for %s "
                         "(install python3-matplotlib: launch/install-deps.sh)\n" % sys.executable)
        sys.exit(EXIT_NO_MATPLOTLIB)
    plt.rcParams.update({
        "font.size": 9,
        "axes.titlesize": 10,
        "axes.labelsize": 9,
        "legend.fontsize": 8,
        "axes.grid": True,
        "grid.alpha": 0.3,
        "figure.dpi": DPI,
    })
    return plt


def save(fig, out_dir, name, written):
    path = os.path.join(out_dir, name)
    fig.savefig(path, dpi=DPI)
    import matplotlib.pyplot as plt
    plt.close(fig)
    written.append(path)


def no_data(ax, what):
    ax.text(0.5, 0.5, "no %s values" % what, transform=ax.transAxes, ha="center", va="center",
            color="0.5")


def legend(ax, **kwargs):
    """A legend when the axes has labelled artists (matplotlib warns otherwise)."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(**kwargs)


def time_unit(seconds_max):
    if seconds_max >= 2 * 3600:
        return 3600.0, "h"
    if seconds_max >= 2 * 60:
        return 60.0, "min"
    return 1.0, "s"


# ---------------------------------------------------------------------------------------------
# run


def plot_run(run_dir, out_dir):
    metrics = os.path.join(run_dir, "metrics")
    train = read_table(os.path.join(metrics, "train.csv"), ["updates"])
    evals = read_table(os.path.join(metrics, "eval.csv"), ["updates", "avg_qos"])
    select_path = os.path.join(metrics, "select.csv")
    select = None
    if os.path.exists(select_path):
        select = read_table(select_path, ["updates", "margin"])
        if not select.has("mean_gain") and not select.has("paired_gain"):
            raise PlotError("%s: missing column 'mean_gain'" % select_path)
    plt = load_pyplot()
    os.makedirs(out_dir, exist_ok=True)
    name = os.path.basename(os.path.normpath(run_dir)) or run_dir
    written = []
    log_rows = [r for r in train.rows if r.get("kind", "log") == "log"]
    learning_curve(plt, name, train, evals, select, out_dir, written)
    throughput(plt, name, log_rows, out_dir, written)
    losses(plt, name, log_rows, out_dir, written)
    return written


def learning_curve(plt, name, train, evals, select, out_dir, written):
    panels = 2 if select is not None and select.rows else 1
    fig, axes = plt.subplots(panels, 1, figsize=TALL if panels == 2 else WIDE, sharex=True,
                             squeeze=False, gridspec_kw={"height_ratios": [3, 2][:panels]})
    ax = axes[0][0]
    # Training QoS first, so that the evaluation curve is drawn over it.
    rx, ry = series(train.rows, "updates", "rolling_qos")
    if rx:
        ax.plot(rx, ry, color="tab:gray", alpha=0.45, lw=1.0, label="training requests (rolling QoS)")
    policies = []
    for r in evals.rows:
        p = r.get("policy", "") or "sac"
        if p not in policies:
            policies.append(p)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    plotted = False
    for i, p in enumerate(policies):
        rows = [r for r in evals.rows if (r.get("policy", "") or "sac") == p]
        pts = sorted(((num(r, "updates"), num(r, "avg_qos"), num(r, "avg_qos_ci95")) for r in rows
                      if num(r, "updates") is not None and num(r, "avg_qos") is not None),
                     key=lambda t: t[0])
        if not pts:
            continue
        plotted = True
        c = colors[i % len(colors)]
        xs = [t[0] for t in pts]
        ys = [t[1] for t in pts]
        ax.plot(xs, ys, color=c, marker="o", ms=3, lw=1.5, label="%s, held-out eval" % p)
        band = [t for t in pts if t[2] is not None]
        if band:
            ax.fill_between([t[0] for t in band], [t[1] - t[2] for t in band],
                            [t[1] + t[2] for t in band], color=c, alpha=0.2, lw=0,
                            label="%s, 95%% interval" % p)
    # greedy-qos on the same held-out episodes (eval.csv's greedy_qos, when the run wrote it).
    gx, gy = series(evals.rows, "updates", "greedy_qos")
    if gx:
        ax.plot(gx, gy, color="black", ls="--", lw=1.2, label="greedy-qos, same episodes")
    if not plotted and not rx:
        no_data(ax, "avg_qos")
    ax.set_ylabel("average QoS per request")
    ax.set_title("Learning curve: %s" % name)
    legend(ax, loc="lower right")
    if panels == 2:
        gain_panel(axes[1][0], select)
    axes[-1][0].set_xlabel("SAC updates")
    fig.tight_layout()
    save(fig, out_dir, "learning_curve.png", written)


def gain_panel(ax, select):
    # One value per (snapshot, margin): mean_gain, or the mean of paired_gain over the rates.
    snaps = {}
    selected = {}
    for r in select.rows:
        u, m = num(r, "updates"), num(r, "margin")
        if u is None or m is None:
            continue
        entry = snaps.setdefault(u, {}).setdefault(m, {"mean": None, "gains": []})
        mg = num(r, "mean_gain")
        if mg is not None:
            entry["mean"] = mg
        g = num(r, "paired_gain")
        if g is not None:
            entry["gains"].append(g)
        if num(r, "selected") == 1:
            selected[u] = m
    by_snapshot = {}
    for u, margins in snaps.items():
        for m, e in margins.items():
            v = e["mean"]
            if v is None and e["gains"]:
                v = sum(e["gains"]) / len(e["gains"])
            if v is not None:
                by_snapshot.setdefault(u, {})[m] = v
    updates = sorted(by_snapshot)
    if not updates:
        no_data(ax, "selection gain")
        ax.set_ylabel("QoS gain vs greedy-qos")
        return
    all_margins = sorted({m for u in updates for m in by_snapshot[u]})
    ax.axhline(0.0, color="black", lw=0.8, label="greedy-qos")
    if 0.0 in all_margins:
        xs = [u for u in updates if 0.0 in by_snapshot[u]]
        ax.plot(xs, [by_snapshot[u][0.0] for u in xs], color="tab:blue", marker="o", ms=3,
                label="margin 0")
    if all_margins != [0.0]:
        bx = updates
        by = [max(by_snapshot[u].values()) for u in bx]
        ax.plot(bx, by, color="tab:orange", marker="s", ms=3, ls="--",
                label="best margin (of %s)" % ", ".join("%g" % m for m in all_margins))
    sx = [u for u in sorted(selected) if selected[u] in by_snapshot.get(u, {})]
    if sx:
        ax.plot(sx, [by_snapshot[u][selected[u]] for u in sx], ls="none", marker="*", ms=10,
                color="tab:red", label="selected snapshot")
    ax.set_ylabel("QoS gain vs greedy-qos\n(validation, mean over rates)")
    legend(ax, loc="lower right", ncol=2)


def throughput(plt, name, log_rows, out_dir, written):
    fig, ax = plt.subplots(figsize=WIDE)
    fx, fy = series(log_rows, "wall_s", "frames_per_s")
    ux, uy = series(log_rows, "wall_s", "updates_per_s")
    scale, unit = time_unit(max(fx + ux + [0.0]))
    handles = []
    if fx:
        handles += ax.plot([x / scale for x in fx], fy, color="tab:blue", lw=1.3,
                           label="frames/s (env steps)")
    else:
        no_data(ax, "frames_per_s")
    ax.set_ylabel("frames per second", color="tab:blue")
    ax.tick_params(axis="y", colors="tab:blue")
    ax2 = ax.twinx()
    ax2.grid(False)
    if ux:
        handles += ax2.plot([x / scale for x in ux], uy, color="tab:orange", lw=1.3,
                            label="updates/s (SAC gradient steps)")
    ax2.set_ylabel("updates per second", color="tab:orange")
    ax2.tick_params(axis="y", colors="tab:orange")
    for a in (ax, ax2):
        a.set_ylim(bottom=0)
    ax.set_xlabel("wall time (%s)" % unit)
    ax.set_title("Training throughput: %s" % name)
    if handles:
        ax.legend(handles=handles, labels=[h.get_label() for h in handles], loc="lower right")
    fig.tight_layout()
    save(fig, out_dir, "throughput.png", written)


def losses(plt, name, log_rows, out_dir, written):
    fig, axes = plt.subplots(2, 2, figsize=TALL, sharex=True)
    specs = [("critic_loss", "critic loss (squared TD error, reward²)", "tab:blue", False),
             ("actor_loss", "actor loss (reward units)", "tab:orange", False),
             ("alpha", "temperature α", "tab:green", True),
             ("entropy", "policy entropy (nats)", "tab:purple", False)]
    for ax, (col, label, color, log) in zip(axes.flat, specs):
        xs, ys = series(log_rows, "updates", col)
        if log and ys and min(ys) <= 0:
            log = False
        if xs:
            ax.plot(xs, ys, color=color, lw=1.2, label=col)
            legend(ax, loc="best")
            if log:
                ax.set_yscale("log")
                label += " (log scale)"
        else:
            no_data(ax, col)
        ax.set_title(label)
        ax.set_ylabel(col)
    for ax in axes[1]:
        ax.set_xlabel("SAC updates")
    fig.suptitle("SAC losses: %s" % name)
    fig.tight_layout()
    save(fig, out_dir, "losses.png", written)


# ---------------------------------------------------------------------------------------------
# sweep

RATE_IN_NAME = re.compile(r"^(?P<name>.+)_rate(?P<rate>[0-9]+(?:\.[0-9]+)?)\.csv$")
SWEEP_COLUMNS = ["policy", "avg_qos", "avg_qos_ci95", "latency_per_token_mean"]
SLA_COLUMNS = ["sla_s", "latency_sla_s", "sla"]


def read_sweep(path):
    """Records (rate, policy, row) from a sweep folder or one CSV, first of each pair kept."""
    records = []
    seen = set()

    def add(rate, policy, row):
        if (rate, policy) not in seen:
            seen.add((rate, policy))
            records.append((rate, policy, row))

    if os.path.isdir(path):
        files = []
        for f in sorted(os.listdir(path)):
            m = RATE_IN_NAME.match(f)
            if m and os.path.isfile(os.path.join(path, f)):
                files.append((m.group("name"), float(m.group("rate")), os.path.join(path, f)))
        if not files:
            raise PlotError("%s: no NAME_rateR.csv files (a launch/sweep.sh output folder?)" % path)
        # Heuristic rows from the heuristics files first; policy files add their `sac` row.
        files.sort(key=lambda t: (t[0] != "heuristics", t[1], t[0]))
        for fname, rate, fpath in files:
            t = read_table(fpath, SWEEP_COLUMNS)
            for r in t.rows:
                p = r["policy"]
                if p == "sac" and fname != "heuristics":
                    p = fname
                add(rate, p, r)
        return records
    t = read_table(path, SWEEP_COLUMNS)
    file_rate = None
    if not t.has("rate"):
        m = RATE_IN_NAME.match(os.path.basename(path))
        if not m:
            raise PlotError("%s: missing column 'rate' (and no _rateR in the file name)" % path)
        file_rate = float(m.group("rate"))
    for r in t.rows:
        rate = file_rate if file_rate is not None else num(r, "rate")
        if rate is None:
            continue
        add(rate, r["policy"], r)
    if not records:
        raise PlotError("%s: no rows with a rate" % path)
    return records


def sweep_sla(records):
    for col in SLA_COLUMNS:
        vals = [num(row, col) for _, _, row in records]
        vals = [v for v in vals if v is not None]
        if vals:
            return vals[0]
    return None


def plot_sweep(path, out_dir):
    records = read_sweep(path)
    plt = load_pyplot()
    os.makedirs(out_dir, exist_ok=True)
    rates = sorted({r for r, _, _ in records})
    policies = []
    for _, p, _ in records:
        if p not in policies:
            policies.append(p)
    value = {(r, p): row for r, p, row in records}
    written = []
    label = os.path.basename(os.path.normpath(path))
    grouped_bars(plt, rates, policies, value, "avg_qos", "avg_qos_ci95",
                 "average QoS per request (± 95% interval)",
                 "Load sweep: average QoS (%s)" % label, out_dir, "sweep_qos.png", written,
                 upper_bound=True)
    sla = sweep_sla(records)
    grouped_bars(plt, rates, policies, value, "latency_per_token_mean", None,
                 "mean latency per output token (s)",
                 "Load sweep: latency per token (%s)" % label, out_dir, "sweep_latency.png",
                 written, sla=sla)
    return written


def grouped_bars(plt, rates, policies, value, col, err_col, ylabel, title, out_dir, fname,
                 written, upper_bound=False, sla=None):
    fig, ax = plt.subplots(figsize=WIDE)
    n = max(len(policies), 1)
    width = 0.8 / n
    cmap = plt.get_cmap("tab10" if n <= 10 else "tab20")
    all_vals = []
    for i, p in enumerate(policies):
        xs, ys, es = [], [], []
        for k, r in enumerate(rates):
            row = value.get((r, p))
            v = num(row, col) if row is not None else None
            if v is None:
                continue
            xs.append(k - 0.4 + width * (i + 0.5))
            ys.append(v)
            e = num(row, err_col) if err_col else None
            es.append(e if e is not None else 0.0)
        all_vals += ys
        if not xs:
            continue
        ax.bar(xs, ys, width=width * 0.92, color=cmap(i % cmap.N), label=p,
               yerr=es if err_col else None, capsize=2 if err_col else 0,
               error_kw={"lw": 0.8, "ecolor": "0.2"})
    if upper_bound:
        first = True
        for k, r in enumerate(rates):
            ubs = [num(value[(r, p)], "upper_bound") for p in policies if (r, p) in value]
            ubs = [u for u in ubs if u is not None]
            if ubs:
                ax.hlines(max(ubs), k - 0.45, k + 0.45, colors="black", linestyles="--", lw=1.0,
                          label="upper bound" if first else None)
                first = False
    if sla is not None:
        ax.axhline(sla, color="tab:red", ls="--", lw=1.2, label="SLA %g s/token" % sla)
        all_vals.append(sla)
    positive = [v for v in all_vals if v > 0]
    if not upper_bound and positive and max(positive) / min(positive) > 30:
        ax.set_yscale("log")
        ylabel += ", log scale"
    ax.set_xticks(range(len(rates)))
    ax.set_xticklabels(["%g" % r for r in rates])
    ax.set_xlim(-0.6, len(rates) - 0.4)
    ax.set_xlabel("arrival rate (requests/s)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(axis="x", visible=False)
    if upper_bound and positive:
        ax.set_ylim(0, max(positive + [0.0]) * 1.08)
    legend(ax, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    save(fig, out_dir, fname, written)


# ---------------------------------------------------------------------------------------------
# latency


def plot_latency(path, out_dir):
    t = read_table(path, ["policy", "latency_per_token_s"])
    plt = load_pyplot()
    os.makedirs(out_dir, exist_ok=True)
    rates = sorted({num(r, "rate") for r in t.rows if num(r, "rate") is not None})
    multi_rate = len(rates) > 1
    curves = {}
    missing = {}
    for r in t.rows:
        key = r["policy"]
        if multi_rate and num(r, "rate") is not None:
            key = "%s @ %g req/s" % (key, num(r, "rate"))
        v = num(r, "latency_per_token_s")
        curves.setdefault(key, [])
        missing.setdefault(key, 0)
        if v is None:
            missing[key] += 1
        else:
            curves[key].append(v)
    fig, ax = plt.subplots(figsize=WIDE)
    values = [v for vs in curves.values() for v in vs]
    positive = [v for v in values if v > 0]
    log = bool(positive) and len(positive) == len(values) and max(positive) / min(positive) > 100
    for key, vs in curves.items():
        # Fractions of all the policy's requests: one without a latency (dropped) never counts
        # as served, so the curve tops out at the served share.
        vs.sort()
        total = len(vs) + missing[key]
        label = "%s (%d requests" % (key, total)
        label += ", %d without latency)" % missing[key] if missing[key] else ")"
        if not vs:
            ax.plot([], [], label=label)
            continue
        ys = [(i + 1) / total for i in range(len(vs))]
        ax.step(vs, ys, where="post", lw=1.3, label=label)
    slas = [num(r, "sla_s") for r in t.rows if num(r, "sla_s") is not None]
    if slas:
        ax.axvline(slas[0], color="tab:red", ls="--", lw=1.2, label="SLA %g s/token" % slas[0])
    if not values:
        no_data(ax, "latency_per_token_s")
    if log:
        ax.set_xscale("log")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("latency per output token (s%s)" % (", log scale" if log else ""))
    ax.set_ylabel("fraction of requests with latency ≤ x")
    ax.set_title("Latency-per-token CDF (%s)" % os.path.basename(path))
    legend(ax, loc="lower right")
    fig.tight_layout()
    written = []
    save(fig, out_dir, "latency_cdf.png", written)
    return written


# ---------------------------------------------------------------------------------------------

USAGE = ("usage: plot_run.py run RUN_DIR OUT_DIR | sweep SWEEP(.csv or folder) OUT_DIR | "
         "latency CSV OUT_DIR")


def main(argv):
    if len(argv) == 2 and argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0
    if len(argv) != 4 or argv[1] not in ("run", "sweep", "latency"):
        sys.stderr.write(USAGE + "\n")
        return EXIT_USAGE
    mode, src, out_dir = argv[1:]
    try:
        if mode == "run":
            if not os.path.isdir(src):
                raise PlotError("%s: no such run directory" % src)
            written = plot_run(src, out_dir)
        elif mode == "sweep":
            written = plot_sweep(src, out_dir)
        else:
            written = plot_latency(src, out_dir)
    except PlotError as e:
        sys.stderr.write("plot_run.py: error: %s\n" % e)
        return EXIT_USAGE
    except OSError as e:
        sys.stderr.write("plot_run.py: error: %s\n" % e)
        return EXIT_USAGE
    for p in written:
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
