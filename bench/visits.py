#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Where and when care happens, measured over a folder of patient histories.

    build/cli/fhirgen generate -n 2000 --seed 2026 -f history -o OUT
    bench/visits.py OUT/histories

Local time is the history's patient.tz, else the zone of the address's state
(data/tables/states.tsv), read with Python's own time-zone database. Prints:
  - the share of ambulatory encounters starting outside 07:00-19:00 local time,
    and of clinic visits (not urgent care, not prenatal) on a weekend or
    outside 08:00-17:00;
  - patients with two or more clinic visits on one local day (urgent and
    prenatal visits not counted), and with two or more ambulatory encounters;
  - patient-days whose immunizations are split over more than one encounter;
  - vaccines against the schedule in force: live zoster (CVX 121) after 2020,
    quadrivalent HPV (62) after 2016, COVID-19, RSV, recombinant zoster (187),
    PCV20 (216), and coverage of a few doses.

Figures, 2,000 patients, --seed 2026 --end-date 2026-12-01, before (UTC times, one
follow-up visit per condition, the Synthea schedule) and after (local clinic hours,
one clinic visit a day, the schedule in force at each date):

    ambulatory encounters outside 07:00-19:00 local    48.4%  ->  0.5% (urgent care to 20:00)
    clinic visits on a weekend                          28.7%  ->  0.0%
    clinic visits outside 08:00-17:00 local             61.4%  ->  0.0%
    patients with >= 2 clinic visits on one day         38.2%  ->  0.0%
    patients with >= 2 ambulatory encounters on a day   40.6%  ->  5.2% (urgent care, prenatal)
    patient-days with immunizations in > 1 encounter      468  ->  0
    live zoster after 2020 / quadrivalent HPV after 2016  275 / 805  ->  0 / 0
    HPV series of 3 doses / 2 doses                     259 / 14  ->  2 / 166
    MMR >= 1 dose at 2-5 years                         100.0%  ->  88.4% (NIS-Child 91.6%)
    HPV >= 1 dose at 13-17 years                        99.3%  ->  61.9% (NIS-Teen 65.5%)
    COVID-19 / RSV / RZV / PCV20 doses                 0/0/0/0  ->  3804/145/340/74
"""
import collections
import datetime as dt
import glob
import json
import os
import sys
from zoneinfo import ZoneInfo

HERE = os.path.dirname(os.path.abspath(__file__))
URGENT = {"185345009"}
OBSTETRIC = {"424441002", "424619006", "169762003"}
COVID = {"207", "208", "212", "217", "218", "219", "221", "228", "229", "230", "300", "301",
         "302", "308", "309", "310", "311", "312", "313", "334"}
RSV = {"303", "305", "306", "307", "326"}


def state_zones():
    zones = {}
    path = os.path.join(HERE, "..", "data", "tables", "states.tsv")
    rows = [l.rstrip("\n").split("\t") for l in open(path) if not l.startswith("#")]
    head = rows[0]
    if "tz" not in head:
        return zones
    for r in rows[1:]:
        zones[r[head.index("usps")]] = r[head.index("tz")]
    return zones


# share of patients of an age (at the end of their record) with a dose of any of these codes
COVERAGE = [
    ("MMR >= 1 dose, ages 2-5", 2, 5, {"03"}),
    ("DTaP >= 1 dose, ages 2-5", 2, 5, {"20"}),
    ("Tdap, ages 13-17", 13, 17, {"115"}),
    ("HPV >= 1 dose, ages 13-17", 13, 17, {"62", "165"}),
    ("zoster (live or recombinant), ages 60+", 60, 200, {"121", "187"}),
    ("pneumococcal, ages 70+", 70, 200, {"33", "133", "216"}),
    ("COVID-19, ages 25+", 25, 200, COVID),
    ("RSV, ages 77+", 77, 200, RSV),
]


def parse(s):
    return dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)


def main(folder):
    zones = state_zones()
    n = amb = off_hours = clinic = weekend = clinic_off = 0
    two_clinic = two_amb = split_days = patients_imm = 0
    cvx = collections.Counter()
    late = collections.Counter()
    hpv_doses = collections.Counter()
    cov = collections.Counter()
    cov_n = collections.Counter()
    for f in sorted(glob.glob(os.path.join(folder, "*.json"))):
        h = json.load(open(f))
        n += 1
        p = h["patient"]
        name = (p.get("tz") or {}).get("name") or zones.get((p.get("address") or {}).get("state"))
        zone = ZoneInfo(name) if name else dt.timezone.utc
        encs = {e["id"]: e for e in h["encounters"]}
        clinic_days = collections.Counter()
        amb_days = collections.Counter()
        for e in h["encounters"]:
            if e["class"] != "AMB":
                continue
            t = parse(e["start"]).astimezone(zone)
            amb += 1
            off_hours += not (7 <= t.hour < 19)
            amb_days[t.date()] += 1
            if e["type"]["code"] in URGENT or e["type"]["code"] in OBSTETRIC:
                continue
            clinic += 1
            weekend += t.weekday() >= 5
            clinic_off += not (8 <= t.hour < 17)
            clinic_days[t.date()] += 1
        two_clinic += any(v >= 2 for v in clinic_days.values())
        two_amb += any(v >= 2 for v in amb_days.values())
        imm_days = collections.defaultdict(set)
        hpv = 0
        for im in h["immunizations"]:
            t = parse(im["time"]).astimezone(zone)
            imm_days[t.date()].add(im["encounter"])
            code = im["term"]["code"]
            cvx[code] += 1
            if code == "121" and t.year > 2020:
                late["121 after 2020"] += 1
            if code == "62" and t.year > 2016:
                late["62 after 2016"] += 1
            if code in ("62", "165"):
                hpv += 1
        if hpv:
            hpv_doses[hpv] += 1
        last = p.get("death") or "2026-12-01T00:00:00Z"
        age = int(last[:4]) - int(p["birth_date"][:4]) - (last[5:10] < p["birth_date"][5:10])
        codes = {im["term"]["code"] for im in h["immunizations"]}
        for name, lo, hi, want in COVERAGE:
            if lo <= age <= hi:
                cov_n[name] += 1
                cov[name] += bool(codes & want)
        patients_imm += bool(h["immunizations"])
        split_days += sum(1 for v in imm_days.values() if len(v) > 1)
    pct = lambda a, b: 100.0 * a / b if b else 0.0
    print(f"patients {n}")
    print(f"ambulatory encounters {amb}; starting outside 07:00-19:00 local: {pct(off_hours, amb):.1f}%")
    print(f"clinic visits {clinic}; on a weekend: {pct(weekend, clinic):.1f}%; "
          f"starting outside 08:00-17:00 local: {pct(clinic_off, clinic):.1f}%")
    print(f"patients with >= 2 clinic visits on one day: {two_clinic} ({pct(two_clinic, n):.1f}%)")
    print(f"patients with >= 2 ambulatory encounters on one day: {two_amb} ({pct(two_amb, n):.1f}%)")
    print(f"patient-days with immunizations in > 1 encounter: {split_days}")
    print("off-schedule doses: " + ", ".join(f"{k}: {late[k]}" for k in ("121 after 2020", "62 after 2016")))
    print(f"HPV doses per patient who had any: {dict(sorted(hpv_doses.items()))}")
    for name, lo, hi, want in COVERAGE:
        print(f"  {name}: {pct(cov[name], cov_n[name]):.1f}% of {cov_n[name]}")
    print(f"COVID-19 doses {sum(cvx[c] for c in COVID)}, RSV {sum(cvx[c] for c in RSV)}, "
          f"RZV (187) {cvx['187']}, PCV20 (216) {cvx['216']}, live zoster (121) {cvx['121']}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "out/histories")
