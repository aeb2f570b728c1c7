"""Score the package's streaming detectors on the Numenta Anomaly Benchmark (NAB), per series.

Each detector runs over all 58 series at once (one series per entity of a time step), as
a worker would, with one set of parameters for every series and no look-ahead, as NAB's
rules require. Scores use NAB's standard profile, with one threshold optimised for the
whole corpus. The per-series table shows the raw NAB score of the first detector beside
the raw score that ARTime, the best entry on NAB's scoreboard, reached on the same file.

    .venv/bin/python benchmarks/detect_nab.py
    .venv/bin/python benchmarks/detect_nab.py --json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

from detectors.evaluation.datasets import DEFAULT_DATA_ROOT
from detectors.evaluation.report import as_json, render_table
from detectors.evaluation.runs import NAB_DETECTORS, evaluate_nab

# NAB scoreboard, standard profile, "as of NAB v1.0" (README of github.com/numenta/NAB).
SCOREBOARD = (
    ("Perfect", 100.0),
    ("ARTime", 74.9),
    ("Numenta HTM", "70.5-69.7"),
    ("CAD OSE", 69.9),
    ("earthgecko Skyline", 58.2),
    ("KNN CAD", 58.0),
    ("Relative Entropy", 54.6),
    ("Random Cut Forest", 51.7),
    ("Twitter ADVec v1.0.0", 47.1),
    ("Windowed Gaussian", 39.6),
    ("Etsy Skyline", 35.7),
    ("Bayesian Changepoint", 17.7),
    ("EXPoSE", 16.4),
    ("Random", 11.0),
    ("Null", 0.0),
)

# Raw standard-profile score of ARTime per file, rounded to 3 decimals, from
# results/ARTime/ARTime_standard_scores.csv in github.com/numenta/NAB (total 57.661).
ARTIME_RAW = {
    "artificialNoAnomaly/art_daily_no_noise.csv": -0.110,
    "artificialNoAnomaly/art_daily_perfect_square_wave.csv": 0.0,
    "artificialNoAnomaly/art_daily_small_noise.csv": 0.0,
    "artificialNoAnomaly/art_flatline.csv": 0.0,
    "artificialNoAnomaly/art_noisy.csv": 0.0,
    "artificialWithAnomaly/art_daily_flatmiddle.csv": 0.804,
    "artificialWithAnomaly/art_daily_jumpsdown.csv": 0.993,
    "artificialWithAnomaly/art_daily_jumpsup.csv": 0.859,
    "artificialWithAnomaly/art_daily_nojump.csv": -1.110,
    "artificialWithAnomaly/art_increase_spike_density.csv": 0.846,
    "artificialWithAnomaly/art_load_balancer_spikes.csv": 0.049,
    "realAWSCloudwatch/ec2_cpu_utilization_24ae8d.csv": 1.632,
    "realAWSCloudwatch/ec2_cpu_utilization_53ea38.csv": 0.398,
    "realAWSCloudwatch/ec2_cpu_utilization_5f5533.csv": 1.698,
    "realAWSCloudwatch/ec2_cpu_utilization_77c1ca.csv": 0.250,
    "realAWSCloudwatch/ec2_cpu_utilization_825cc2.csv": 0.820,
    "realAWSCloudwatch/ec2_cpu_utilization_ac20cd.csv": 0.624,
    "realAWSCloudwatch/ec2_cpu_utilization_c6585a.csv": -0.110,
    "realAWSCloudwatch/ec2_cpu_utilization_fe7f93.csv": -0.334,
    "realAWSCloudwatch/ec2_disk_write_bytes_1ef3de.csv": 0.467,
    "realAWSCloudwatch/ec2_disk_write_bytes_c0d644.csv": 0.281,
    "realAWSCloudwatch/ec2_network_in_257a54.csv": 0.765,
    "realAWSCloudwatch/ec2_network_in_5abac7.csv": 1.035,
    "realAWSCloudwatch/elb_request_count_8c0756.csv": 1.364,
    "realAWSCloudwatch/grok_asg_anomaly.csv": 2.231,
    "realAWSCloudwatch/iio_us-east-1_i-a2eb1cd9_NetworkIn.csv": -2.330,
    "realAWSCloudwatch/rds_cpu_utilization_cc0c53.csv": 1.490,
    "realAWSCloudwatch/rds_cpu_utilization_e47b3b.csv": 1.406,
    "realAdExchange/exchange-2_cpc_results.csv": 0.532,
    "realAdExchange/exchange-2_cpm_results.csv": -0.145,
    "realAdExchange/exchange-3_cpc_results.csv": 2.701,
    "realAdExchange/exchange-3_cpm_results.csv": 0.642,
    "realAdExchange/exchange-4_cpc_results.csv": 2.047,
    "realAdExchange/exchange-4_cpm_results.csv": 1.257,
    "realKnownCause/ambient_temperature_system_failure.csv": 1.658,
    "realKnownCause/cpu_utilization_asg_misconfiguration.csv": -0.257,
    "realKnownCause/ec2_request_latency_system_failure.csv": 1.391,
    "realKnownCause/machine_temperature_system_failure.csv": 2.556,
    "realKnownCause/nyc_taxi.csv": 3.775,
    "realKnownCause/rogue_agent_key_hold.csv": -1.281,
    "realKnownCause/rogue_agent_key_updown.csv": -2.568,
    "realTraffic/TravelTime_387.csv": 1.928,
    "realTraffic/TravelTime_451.csv": 0.855,
    "realTraffic/occupancy_6005.csv": 0.360,
    "realTraffic/occupancy_t4013.csv": 1.614,
    "realTraffic/speed_6005.csv": 0.839,
    "realTraffic/speed_7578.csv": 3.108,
    "realTraffic/speed_t4013.csv": 1.614,
    "realTweets/Twitter_volume_AAPL.csv": 2.916,
    "realTweets/Twitter_volume_AMZN.csv": 2.737,
    "realTweets/Twitter_volume_CRM.csv": 2.101,
    "realTweets/Twitter_volume_CVS.csv": 1.838,
    "realTweets/Twitter_volume_FB.csv": 1.214,
    "realTweets/Twitter_volume_GOOG.csv": 1.406,
    "realTweets/Twitter_volume_IBM.csv": 0.778,
    "realTweets/Twitter_volume_KO.csv": 2.225,
    "realTweets/Twitter_volume_PFE.csv": 2.587,
    "realTweets/Twitter_volume_UPS.csv": 3.214,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", type=Path, default=DEFAULT_DATA_ROOT, help="folder that contains nab/ (default ../shared/data)")
    parser.add_argument("--detectors", nargs="*", default=list(NAB_DETECTORS), choices=list(NAB_DETECTORS), help="detectors to run; the first gets the per-series table")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    arguments = parser.parse_args()

    started = time.perf_counter()
    runs = evaluate_nab(arguments.detectors, arguments.data_root)
    elapsed = time.perf_counter() - started

    if arguments.json:
        print(json.dumps({"runs": as_json(runs), "scoreboard": SCOREBOARD, "artime_raw": ARTIME_RAW, "seconds": elapsed}, indent=2))
        return

    first = runs[0]
    print(f"NAB standard profile, {len(first.result.files)} series; {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {elapsed:.0f} s")
    print()
    print(f"Per series, detector {first.detector} at threshold {first.result.threshold:.4g} (raw NAB score; 0 windows = no anomaly labelled):")
    rows = [
        [file.name, file.true_positives + file.false_negatives, file.true_positives, file.false_positives, file.raw, file.normalized, ARTIME_RAW.get(file.name)]
        for file in first.result.files
    ]
    print(render_table(["series", "windows", "found", "false", "raw", "normalised", "ARTime raw"], rows))
    print()
    ours = [[run.detector, run.result.normalized, run.result.raw, f"{run.result.threshold:.4g}", run.seconds] for run in runs]
    print(render_table(["detector", "NAB score", "raw total", "threshold", "seconds"], ours))
    print()
    print("Published NAB scoreboard, standard profile (NAB v1.0 README):")
    print(render_table(["detector", "NAB score"], [[name, str(score)] for name, score in SCOREBOARD]))


if __name__ == "__main__":
    main()
