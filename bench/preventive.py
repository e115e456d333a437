#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Preventive care and pregnancy figures of a cohort of patient histories.

    fhirgen generate -n 2000 --seed 2026 --end-date 2026-01-01 -f history -o OUT
    bench/preventive.py OUT/histories

Screening uptake is "up to date at the cohort's end" among the eligible alive then (the
measure of the NHIS figures in data/tables/screenings.tsv): colorectal 50-75 (colonoscopy in
10 years or a stool test in 1), mammography women 50-74 (2 years), cervical women 21-65
(cytology in 3 years or HPV test in 5), lipid panel 40-75 (5 years), HbA1c 35-70 (3 years),
PHQ-2 18+ (1 year). Only the detailed window is seen, so a 10-year interval needs 10 years of
history (the default). Pregnancy: deliveries, their procedure codes, caesarean share, Tdap
share, and the weight gained from the first prenatal visit to delivery (the first visit is
at 7-11 weeks, so this misses the first-trimester gain of 0.5-2 kg).
"""
import datetime as dt
import glob
import json
import statistics
import sys

COLONOSCOPY = {"444783004", "73761001"}
FIT = {"29771-3"}
MAMMO = {"24623002", "71651007"}
CYTO, HPV = {"10524-7"}, {"30167-1"}
LIPID = {"57698-3", "2093-3"}
A1C = {"4548-4"}
PHQ2, PHQ9 = {"55758-7"}, {"44261-6"}
DELIVERY_TYPE = "183460006"
CAESAREAN = {"11466000", "177143000", "236985002"}
PRENATAL = {"424441002", "424619006"}
WEIGHT = "29463-7"
BMI = "39156-5"
IOM = [(18.5, 12.5, 18), (25, 11.5, 16), (30, 7, 11.5), (1e9, 5, 9)]  # IOM 2009, kg


def day(s):
    return dt.date.fromisoformat(s[:10])


def main(folder):
    files = sorted(glob.glob(folder + "/*.json"))
    elig = {k: [0, 0] for k in ("colorectal 50-75", "colorectal 45-49", "mammography 50-74",
                                "cervical 21-65", "lipid 40-75", "diabetes 35-70 (all)",
                                "diabetes 35-70 BMI>=25 no diabetes",
                                "depression 18+ (PHQ-2 in 1 y)")}
    phq2_n = phq2_pos = 0
    deliveries = as_procedure = caesarean = tdap = 0
    gains = []
    iom = [0, 0, 0]  # below, within, above the IOM range (from a weight in the year before)
    delivery_codes = {}
    res = res40 = n40 = 0
    for f in files:
        h = json.load(open(f))
        res += sum(len(h[k]) for k in ("encounters", "conditions", "observations", "reports",
                                       "medications", "immunizations", "procedures", "allergies",
                                       "careplans", "notes")) + 1
        pt = h["patient"]
        if pt["death"]:
            continue
        born = day(pt["birth_date"])
        ref = dt.date(2026, 1, 1)
        age = (ref - born).days / 365.25
        count = sum(len(h[k]) for k in ("encounters", "conditions", "observations", "reports",
                                        "medications", "immunizations", "procedures",
                                        "allergies", "careplans", "notes")) + 1
        if age >= 40:
            res40 += count
            n40 += 1
        female = pt["sex"] == "female"
        when = {}
        for o in h["observations"]:
            when.setdefault(o["term"]["code"], []).append(day(o["time"]))
        for p in h["procedures"]:
            when.setdefault(p["term"]["code"], []).append(day(p["start"]))
        for r in h["reports"]:
            when.setdefault(r["term"]["code"], []).append(day(r["time"]))

        def within(codes, years):
            return any((ref - d).days <= years * 365.25 for c in codes for d in when.get(c, []))

        def tally(key, ok, cond):
            if cond:
                elig[key][0] += 1
                elig[key][1] += ok
        tally("colorectal 50-75", within(COLONOSCOPY, 10) or within(FIT, 1), 50 <= age < 76)
        tally("colorectal 45-49", within(COLONOSCOPY, 10) or within(FIT, 1), 45 <= age < 50)
        tally("mammography 50-74", within(MAMMO, 2), female and 50 <= age < 75)
        tally("cervical 21-65", within(CYTO, 3) or within(HPV, 5), female and 21 <= age < 66)
        tally("lipid 40-75", within(LIPID, 5), 40 <= age < 76)
        tally("diabetes 35-70 (all)", within(A1C, 3), 35 <= age < 71)
        codes = {c["term"]["code"] for c in h["conditions"]}
        last_bmi = [o["value"] for o in sorted(h["observations"], key=lambda o: o["time"])
                    if o["term"]["code"] == "39156-5"]
        tally("diabetes 35-70 BMI>=25 no diabetes", within(A1C, 3),
              35 <= age < 71 and "44054006" not in codes and last_bmi and last_bmi[-1] >= 25)
        tally("depression 18+ (PHQ-2 in 1 y)", within(PHQ2, 1), age >= 18)
        for o in h["observations"]:
            if o["term"]["code"] in PHQ2:
                phq2_n += 1
                phq2_pos += o["value"] >= 3
        # pregnancy
        encs = {e["id"]: e for e in h["encounters"]}
        procs_by_enc = {}
        for p in h["procedures"]:
            procs_by_enc.setdefault(p["encounter"], []).append(p["term"])
        weights, bmis = {}, {}
        for o in h["observations"]:
            if o["term"]["code"] == WEIGHT:
                weights[o["encounter"]] = o["value"]
            elif o["term"]["code"] == BMI:
                bmis[o["encounter"]] = o["value"]
        pregnancy_encs = {e["id"] for e in h["encounters"]
                          if e["type"]["code"] in PRENATAL or e["type"]["code"] == DELIVERY_TYPE
                          or e["type"]["code"] == "169762003"}
        prenatal = sorted((e["start"], e["id"]) for e in h["encounters"]
                          if e["type"]["code"] in PRENATAL)
        imm = [(i["time"], i["term"]["code"]) for i in h["immunizations"]]
        for e in h["encounters"]:
            if e["type"]["code"] != DELIVERY_TYPE:
                continue
            deliveries += 1
            terms = procs_by_enc.get(e["id"], [])
            dterms = [t for t in terms if "delivery" in t["display"].lower()
                      or "cesarean" in t["display"].lower() or "parturition" in t["display"].lower()]
            for t in dterms:
                delivery_codes[t["display"]] = delivery_codes.get(t["display"], 0) + 1
            as_procedure += any(t["display"].endswith("(procedure)") for t in dterms)
            caesarean += any(t["code"] in CAESAREAN for t in dterms)
            start = day(e["start"])
            mine = [p for p in prenatal if 0 < (start - day(p[0])).days < 300]
            if any(c == "115" and 0 < (start - day(t)).days < 300 for t, c in imm):
                tdap += 1
            if mine and mine[0][1] in weights and e["id"] in weights and \
                    (start - day(mine[0][0])).days > 180:
                gains.append(weights[e["id"]] - weights[mine[0][1]])
                first = day(mine[0][0])
                before = sorted((x["start"], x["id"]) for x in h["encounters"]
                                if x["id"] in weights and x["id"] in bmis and
                                x["id"] not in pregnancy_encs and
                                0 < (first - day(x["start"])).days < 365)
                if before:
                    pre = before[-1][1]
                    lo, hi = next((a, b) for top, a, b in IOM if bmis[pre] < top)
                    g = weights[e["id"]] - weights[pre]
                    iom[0 if g < lo else 2 if g > hi else 1] += 1
    print(f"patients {len(files)}; resources {res} ({res / len(files):.1f} per patient); "
          f"alive aged 40+: {n40} at {res40 / max(n40, 1):.1f} resources each")
    print("screening up to date at the end (eligible alive)      n   share")
    for k, (n, ok) in elig.items():
        print(f"  {k:34s} {n:6d}  {100 * ok / max(n, 1):5.1f}%")
    print(f"PHQ-2 screens {phq2_n}, positive (>= 3) {100 * phq2_pos / max(phq2_n, 1):.1f}%")
    print(f"deliveries {deliveries}: coded as procedures {as_procedure}, "
          f"caesarean {100 * caesarean / max(deliveries, 1):.1f}%, "
          f"Tdap in pregnancy {100 * tdap / max(deliveries, 1):.1f}%")
    for k, v in sorted(delivery_codes.items(), key=lambda x: -x[1]):
        print(f"  {v:5d}  {k}")
    if gains:
        q = statistics.quantiles(gains, n=4)
        print(f"weight gain first prenatal visit -> delivery (n={len(gains)}): "
              f"median {statistics.median(gains):.1f} kg, IQR {q[0]:.1f}-{q[2]:.1f}")
    n = sum(iom)
    if n:
        print(f"gain from a weight in the year before the pregnancy (n={n}): below IOM "
              f"{100 * iom[0] / n:.0f}%, within {100 * iom[1] / n:.0f}%, "
              f"above {100 * iom[2] / n:.0f}%")


if __name__ == "__main__":
    main(sys.argv[1])
