// SPDX-License-Identifier: Apache-2.0
// The scripted model: a coherent history document (data/schema/history.schema.json)
// built from a skeleton, varied deterministically by the skeleton's index.
//
// Wellness visits across the window (vital signs, smoking status, a yearly
// flu shot), a diagnosis visit and follow-ups for each skeleton condition
// (the labs, drugs, procedures and care plan of its module), a note per
// encounter. Codes come only from the terminology tables (terminology.mjs).

import { SNOMED, fakeSnomed } from './terminology.mjs';

const DAY = 86400000;
const MAX_ENCOUNTERS = 80;
const MAX_FOLLOWUPS_PER_CONDITION = 6;

// Small deterministic generator (mulberry32) seeded from the index.
function rng(seed) {
  let a = (seed >>> 0) ^ 0x9e3779b9;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const r = {
    next,
    int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: (arr) => arr[Math.floor(next() * arr.length)],
    normal(mean, sd) {
      const u = Math.max(next(), 1e-9);
      const v = next();
      return mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    },
  };
  return r;
}

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

function parseDate(s) {
  if (typeof s !== 'string' || !DATE_RE.test(s)) return NaN;
  const t = Date.parse(s + 'T00:00:00Z');
  return Number.isFinite(t) && new Date(t).toISOString().slice(0, 10) === s ? t : NaN;
}

const iso = (ms) => new Date(ms).toISOString().slice(0, 19) + 'Z';
const round = (x, d) => Number(x.toFixed(d));
const clamp = (x, lo, hi) => Math.min(hi, Math.max(lo, x));

// Checks a skeleton (from the request) and returns it with parsed dates, or
// throws an Error whose message names the member at fault.
export function checkSkeleton(s) {
  const bad = (m) => { throw new Error(`skeleton: ${m}`); };
  if (!s || typeof s !== 'object' || Array.isArray(s)) bad('not a JSON object');
  if (!Number.isInteger(s.index) || s.index < 0) bad('index: expected a non-negative integer');
  if (s.sex !== 'male' && s.sex !== 'female') bad('sex: expected "male" or "female"');
  for (const k of ['given', 'family']) {
    if (typeof s[k] !== 'string' || !s[k] || s[k].length > 200) bad(`${k}: expected a name`);
  }
  const birth = parseDate(s.birth_date);
  if (Number.isNaN(birth)) bad('birth_date: expected YYYY-MM-DD');
  const start = parseDate(s.history_start);
  const end = parseDate(s.history_end);
  if (Number.isNaN(start)) bad('history_start: expected YYYY-MM-DD');
  if (Number.isNaN(end)) bad('history_end: expected YYYY-MM-DD');
  if (end < start) bad('history_end is before history_start');
  let death = null;
  if (s.deceased_date !== null && s.deceased_date !== undefined) {
    death = parseDate(s.deceased_date);
    if (Number.isNaN(death)) bad('deceased_date: expected null or YYYY-MM-DD');
  }
  if (!Array.isArray(s.conditions)) bad('conditions: expected an array');
  if (s.conditions.length > 100) bad('conditions: more than 100');
  const conditions = s.conditions.map((c, i) => {
    if (!c || typeof c !== 'object') bad(`conditions[${i}]: expected an object`);
    for (const k of ['system', 'code', 'display']) {
      if (typeof c[k] !== 'string' || !c[k]) bad(`conditions[${i}].${k}: expected a string`);
    }
    const onset = parseDate(c.onset);
    if (Number.isNaN(onset)) bad(`conditions[${i}].onset: expected YYYY-MM-DD`);
    return { ...c, onsetMs: onset };
  });
  return { ...s, birthMs: birth, startMs: start, endMs: end, deathMs: death, conditions };
}

// Builds the history document for a checked skeleton. opts.fault: null,
// 'hallucinate' (a made-up SNOMED code and an encounter before birth).
export function buildStory(t, sk, opts = {}) {
  const r = rng(sk.index * 2654435761 + 17);
  const g = t.generic;
  const birth = sk.birthMs;
  const lastDay = sk.deathMs !== null ? Math.min(sk.endMs, sk.deathMs) : sk.endMs;
  const first = Math.max(sk.startMs, birth + DAY);
  const doc = {
    fhirgen_history: '1',
    patient: {
      id: 'pat',
      given: sk.given,
      middle: null,
      family: sk.family,
      prefix: null,
      sex: sk.sex,
      birth_date: sk.birth_date,
      death: sk.deathMs !== null ? iso(sk.deathMs + DAY - 1000) : null,
      race: null, race_display: null, ethnicity: null, ethnicity_display: null,
      marital_status: null, language: null, address: null, phone: null, mrn: `MRN-T${String(sk.index).padStart(8, '0')}`, ssn: null,
    },
    organizations: [], practitioners: [], locations: [], encounters: [],
    conditions: [], observations: [], reports: [], medications: [], immunizations: [],
    procedures: [], allergies: [], careplans: [], notes: [], death_cause: null,
  };
  const town = r.pick(['Maple Grove', 'Riverside', 'Fairview', 'Oak Hill', 'Lakeside', 'Brookfield']);
  doc.organizations.push({ id: 'org1', name: `${town} Family Medicine`, npi: null, address: null, phone: null });
  const docs = [['Dana', 'Okafor', 'female'], ['Luis', 'Marsh', 'male'], ['Priya', 'Lind', 'female'],
    ['Tom', 'Reyes', 'male'], ['Mei', 'Carter', 'female'], ['Omar', 'Novak', 'male']];
  const d1 = r.int(0, docs.length - 1);
  const d2 = (d1 + 1 + r.int(0, docs.length - 2)) % docs.length;
  for (const [i, d] of [[1, docs[d1]], [2, docs[d2]]]) {
    doc.practitioners.push({ id: `dr${i}`, prefix: 'Dr.', given: d[0], family: d[1], sex: d[2], npi: null, organization: 'org1' });
  }
  doc.locations.push({ id: 'loc1', name: `${town} Family Medicine clinic`, organization: 'org1', address: null, phone: null });

  if (first > lastDay) return doc;
  let nEnc = 0;
  let nId = 0;
  const id = (p) => `${p}${++nId}`;
  const ageAt = (ms) => (ms - birth) / (365.25 * DAY);
  const smoking = r.next() < 0.6 ? g.neverSmoked : (r.next() < 0.6 ? g.exSmoker : g.smoker);
  const baseWeight = sk.sex === 'male' ? r.normal(84, 12) : r.normal(71, 11);
  const heightCm = sk.sex === 'male' ? r.normal(176, 7) : r.normal(163, 6);
  const treated = new Set();
  const encounters = [];

  const addEncounter = (startMs, type, reason, minutes) => {
    if (nEnc >= MAX_ENCOUNTERS || !type) return null;
    const s = clamp(startMs, first, lastDay) + (8 + r.int(0, 8)) * 3600000 + r.int(0, 3) * 900000;
    const e = {
      id: id('enc'), class: 'AMB', type: { system: type.system, code: type.code, display: type.display },
      reason: reason ? { ...reason } : null, start: iso(s), end: iso(s + minutes * 60000),
      organization: 'org1', practitioner: r.next() < 0.8 ? 'dr1' : 'dr2', location: 'loc1',
    };
    nEnc++;
    doc.encounters.push(e);
    const rec = { e, s, lines: [], diastolicShift: 0, systolicShift: 0 };
    encounters.push(rec);
    return rec;
  };
  const at = (rec, min) => iso(rec.s + min * 60000);

  const quantity = (rec, gen, category, value, decimals, min) => {
    if (!gen || !gen.unit) return null;
    const o = {
      id: id('obs'), encounter: rec.e.id, category, term: { system: gen.system, code: gen.code, display: gen.display },
      time: at(rec, min), value_kind: 'quantity', value: round(value, decimals), unit: gen.unit, decimals,
      code_value: null, components: [],
    };
    doc.observations.push(o);
    return o;
  };

  const vitals = (rec, cond) => {
    const age = ageAt(rec.s);
    let sys = r.normal(118 + Math.max(0, age - 30) * 0.4, 8) + rec.systolicShift;
    let dia = r.normal(76, 6) + rec.diastolicShift;
    sys = Math.round(clamp(sys, 90, 200));
    dia = Math.round(clamp(dia, 50, Math.min(sys - 20, 120)));
    if (g.bpPanel && g.systolic && g.diastolic) {
      doc.observations.push({
        id: id('obs'), encounter: rec.e.id, category: 'vital-signs',
        term: { system: g.bpPanel.system, code: g.bpPanel.code, display: g.bpPanel.display },
        time: at(rec, 5), value_kind: 'none', value: null, unit: null, decimals: 0, code_value: null,
        components: [
          { term: { system: g.systolic.system, code: g.systolic.code, display: g.systolic.display }, value: sys, unit: g.systolic.unit || 'mm[Hg]' },
          { term: { system: g.diastolic.system, code: g.diastolic.code, display: g.diastolic.display }, value: dia, unit: g.diastolic.unit || 'mm[Hg]' },
        ],
      });
      rec.lines.push(`BP ${sys}/${dia} mmHg.`);
    }
    const hr = Math.round(clamp(r.normal(72, 8), 50, 110));
    quantity(rec, g.heartRate, 'vital-signs', hr, 0, 5);
    if (cond) return;
    if (r.next() < 0.5) quantity(rec, g.respRate, 'vital-signs', Math.round(clamp(r.normal(15, 2), 10, 24)), 0, 5);
    if (age >= 18) {
      const w = clamp(baseWeight + r.normal(0, 1.5) + (age - 40) * 0.1, 40, 180);
      quantity(rec, g.weight, 'vital-signs', w, 1, 6);
      quantity(rec, g.height, 'vital-signs', heightCm, 1, 6);
      quantity(rec, g.bmi, 'vital-signs', w / ((heightCm / 100) ** 2), 1, 6);
      rec.lines.push(`Weight ${w.toFixed(1)} kg, heart rate ${hr}/min.`);
    }
    if (r.next() < 0.3) quantity(rec, g.temperature, 'vital-signs', clamp(r.normal(36.8, 0.2), 36, 37.8), 1, 5);
  };

  // Wellness visits: about yearly across the window.
  const wellness = [];
  for (let ms = first + r.int(10, 200) * DAY; ms <= lastDay; ms += r.int(540, 800) * DAY) wellness.push(ms);
  if (wellness.length === 0) wellness.push(first);

  // Conditions first, so the wellness notes can name the problem list.
  const condIds = new Map();
  const condPlans = [];
  for (const c of sk.conditions) {
    const mod = t.modules.get(c.name) || null;
    const term = { system: c.system, code: c.code, display: c.display };
    condPlans.push({ c, mod, term, diag: c.onsetMs >= first && c.onsetMs <= lastDay });
  }

  const wellRecs = [];
  for (const ms of wellness) {
    const child = ageAt(ms) < 18;
    const rec = addEncounter(ms, (child ? g.wellChild : g.wellness) || g.checkup, null, child ? 30 : 40);
    if (!rec) break;
    wellRecs.push(rec);
  }
  // A condition that began before the window is recorded at the first visit.
  for (const p of condPlans) {
    let rec;
    if (p.diag) {
      const type = (p.mod && p.mod.diagnosisEncounter) || g.problem || g.followup;
      rec = addEncounter(p.c.onsetMs, type, p.term, 30);
    } else {
      rec = wellRecs[0] || encounters[0];
    }
    if (!rec) continue;
    const cid = id('cond');
    condIds.set(p, cid);
    const onsetMs = p.diag ? rec.s + 20 * 60000 : Math.max(p.c.onsetMs + 12 * 3600000, birth + DAY);
    doc.conditions.push({
      id: cid, encounter: rec.e.id, category: 'problem-list-item', term: p.term,
      onset: iso(onsetMs), abatement: null, recorded: iso(Math.max(rec.s + 20 * 60000, onsetMs)),
    });
    rec.lines.push(p.diag ? `New diagnosis: ${p.c.display}.` : `Known ${p.c.display}, on the problem list.`);
    p.rec = rec;
  }

  // Per condition: diagnosis-time treatment, then follow-ups.
  for (const p of condPlans) {
    if (!p.rec) continue;
    const cid = condIds.get(p);
    const mod = p.mod;
    treatAtStart(p, cid);
    if (!mod) continue;
    const fuType = mod.followupEncounter || g.followup;
    let k = 0;
    for (let ms = p.rec.s + mod.followupMonths * 30.4 * DAY; ms <= lastDay && k < MAX_FOLLOWUPS_PER_CONDITION;
      ms += mod.followupMonths * 30.4 * DAY + r.int(-10, 10) * DAY, k++) {
      const rec = addEncounter(ms, fuType, p.term, 20);
      if (!rec) break;
      rec.lines.push(`Follow-up for ${p.c.display}.`);
      if (mod.vitals) vitals(rec, true);
      if (k % 2 === 1) labs(rec, p, cid, k);
      if (k === 1 && mod.medications.length > 1 && r.next() < 0.5) {
        prescribe(rec, mod.medications[1], cid, 'Not at goal; adding');
      }
      for (const pr of mod.procedures.filter((x) => x.at === 'followup')) {
        if (r.next() < Math.min(0.5, pr.p ?? 0.5)) procedure(rec, pr, cid);
      }
    }
  }

  function labs(rec, p, cid, k) {
    const groups = new Map();
    for (const l of p.mod.labs) {
      if (k >= 0 && l.followup === false) continue;
      if (l.every > 1 && k >= 0 && k % l.every !== 0) continue;
      const dist = treated.has(cid) && l.treated ? l.treated : l.untreated;
      if (!dist) continue;
      const [lo, hi] = Array.isArray(l.range) ? l.range : [-1e9, 1e9];
      const v = clamp(r.normal(dist.mean, dist.sd || 0), lo, hi);
      const o = quantity(rec, { ...l.term, unit: l.unit }, l.category || 'laboratory', v, l.decimals ?? 1, 15);
      if (!o) continue;
      const pt = l.panel ? p.mod.panels.get(l.panel) : null;
      const key = pt ? pt.code : null;
      if (key) {
        if (!groups.has(key)) groups.set(key, { term: pt, ids: [] });
        groups.get(key).ids.push(o.id);
      }
      if (o.value_kind === 'quantity') rec.lines.push(`${l.term.display}: ${o.value} ${o.unit}.`);
    }
    for (const { term, ids } of groups.values()) {
      doc.reports.push({ id: id('rep'), encounter: rec.e.id, term, time: at(rec, 120), results: ids });
    }
  }

  function prescribe(rec, step, cid, verb) {
    const weights = step.drugs.map((d) => d.weight || 1);
    let x = r.next() * weights.reduce((a, b) => a + b, 0);
    let drug = step.drugs[0];
    for (let i = 0; i < step.drugs.length; i++) {
      x -= weights[i];
      if (x < 0) { drug = step.drugs[i]; break; }
    }
    if (doc.medications.some((m) => m.term.code === drug.term.code)) return;
    doc.medications.push({
      id: id('med'), encounter: rec.e.id, term: drug.term, status: 'active', start: at(rec, 18), end: null,
      reason: cid, dosage: drug.dosage || null, per_day: Number.isInteger(drug.per_day) ? drug.per_day : 1,
      as_needed: !!drug.as_needed,
    });
    treated.add(cid);
    rec.lines.push(`${verb} ${drug.term.display}${drug.dosage ? ' (' + drug.dosage + ')' : ''}.`);
  }

  function procedure(rec, pr, cid) {
    const minutes = clamp(pr.minutes || 15, 5, 120);
    doc.procedures.push({
      id: id('proc'), encounter: rec.e.id, term: pr.term, start: at(rec, 5), end: at(rec, 5 + minutes), reason: cid,
    });
    const enc = rec.e;
    if (Date.parse(enc.end) < rec.s + (5 + minutes) * 60000) enc.end = at(rec, 5 + minutes + 5);
    rec.lines.push(`${pr.term.display.replace(/ \(procedure\)$/, '')} done.`);
  }

  function treatAtStart(p, cid) {
    const rec = p.rec;
    const mod = p.mod;
    if (!mod) return;
    if (mod.vitals && rec.e.reason) vitals(rec, true);
    labs(rec, p, cid, -1);
    for (const pr of mod.procedures.filter((x) => x.at === 'diagnosis')) {
      if (r.next() < (pr.p ?? 1)) procedure(rec, pr, cid);
    }
    const step = mod.medications.find((s) => s.when === 'diagnosis') || null;
    if (step && r.next() < Math.max(0.6, step.p_start ?? 0.8)) {
      prescribe(rec, step, cid, p.diag ? 'Started' : 'Continues');
    }
    if (mod.careplan && mod.careplan.activities.length > 0) {
      doc.careplans.push({
        id: id('cp'), encounter: rec.e.id, term: mod.careplan.term, start: at(rec, 19), end: null,
        addresses: [cid], activities: mod.careplan.activities.slice(0, 1 + r.int(0, mod.careplan.activities.length - 1)),
      });
      rec.lines.push('Care plan discussed and agreed.');
    }
  }

  // Wellness content: vitals, smoking status, a flu shot most years.
  for (const rec of wellRecs) {
    vitals(rec, false);
    if (ageAt(rec.s) >= 13 && smoking && g.smoking) {
      doc.observations.push({
        id: id('obs'), encounter: rec.e.id, category: 'social-history',
        term: { system: g.smoking.system, code: g.smoking.code, display: g.smoking.display },
        time: at(rec, 10), value_kind: 'code', value: null, unit: null, decimals: null,
        code_value: { system: smoking.system, code: smoking.code, display: smoking.display }, components: [],
      });
      rec.lines.push(`Smoking status: ${smoking.display.replace(/ \(finding\)$/, '').toLowerCase()}.`);
    }
    if (g.flu && ageAt(rec.s) >= 1 && r.next() < 0.7) {
      doc.immunizations.push({ id: id('imm'), encounter: rec.e.id, term: { system: g.flu.system, code: g.flu.code, display: g.flu.display }, time: at(rec, 30) });
      rec.lines.push('Seasonal influenza vaccine given.');
    }
    rec.lines.unshift(ageAt(rec.s) < 18 ? 'Well-child visit.' : r.pick(['Annual wellness visit.', 'Yearly physical examination.', 'Routine health check.']));
    rec.lines.push(r.pick(['No new complaints.', 'Feels well overall.', 'Sleeping and eating well.', 'Reports good energy.']));
  }

  // Now and then an acute episode at an urgent visit, and an allergy noted
  // at the first wellness visit.
  if (t.acute.length > 0 && t.urgent && r.next() < 0.5 && lastDay - first > 60 * DAY) {
    const ep = r.pick(t.acute);
    const rec = addEncounter(first + r.int(30, Math.floor((lastDay - first) / DAY) - 30) * DAY, t.urgent.type,
      ep.diagnosis, r.int(t.urgent.minutes[0], t.urgent.minutes[1]));
    if (rec) {
      const onset = rec.s + 10 * 60000;
      const abate = Math.min(onset + r.int(ep.lastsDays[0], ep.lastsDays[1]) * DAY, lastDay + 23 * 3600000);
      const cid = id('cond');
      doc.conditions.push({
        id: cid, encounter: rec.e.id, category: 'encounter-diagnosis', term: ep.diagnosis,
        onset: iso(onset), abatement: abate > onset ? iso(abate) : null, recorded: iso(onset),
      });
      rec.lines.push(`Seen for ${ep.diagnosis.display.replace(/ \(disorder\)$/, '').toLowerCase()}.`);
      vitals(rec, true);
      const age = ageAt(rec.s);
      const opts = ep.meds.filter((m) => (m.min_age ?? 0) <= age && (m.max_age ?? 200) >= age);
      if (opts.length > 0 && r.next() < 0.7) {
        const m = r.pick(opts);
        const days = Array.isArray(m.days) ? r.int(m.days[0], m.days[1]) : 7;
        const end = Math.min(rec.s + 15 * 60000 + days * DAY, lastDay + 23 * 3600000);
        doc.medications.push({
          id: id('med'), encounter: rec.e.id, term: m.term, status: end < lastDay ? 'completed' : 'active',
          start: at(rec, 15), end: end < lastDay ? iso(end) : null, reason: cid, dosage: m.dosage || null,
          per_day: Number.isInteger(m.per_day) ? m.per_day : 1, as_needed: !!m.as_needed,
        });
        rec.lines.push(`${m.term.display} for ${days} days.`);
      }
    }
  }
  if (t.allergies.length > 0 && wellRecs.length > 0 && r.next() < 0.3) {
    const al = r.pick(t.allergies);
    const rec = wellRecs[0];
    const reaction = al.reactions.length > 0 && r.next() < 0.8 ? r.pick(al.reactions) : null;
    doc.allergies.push({
      id: id('alg'), encounter: rec.e.id, term: al.term, category: al.category, high_criticality: r.next() < 0.3,
      onset: at(rec, 12), reaction, severity: reaction ? r.pick(['mild', 'moderate', 'severe']) : null,
    });
    rec.lines.push(`Allergy recorded: ${al.term.display.replace(/ \((substance|product)\)$/, '')}.`);
  }

  if (sk.deathMs !== null && g.naturalDeath) {
    doc.death_cause = { system: g.naturalDeath.system, code: g.naturalDeath.code, display: g.naturalDeath.display };
  }

  // The scenario, when the cohort has one, colours the first note.
  if (typeof sk.scenario === 'string' && sk.scenario.trim() && encounters.length > 0) {
    encounters[0].lines.unshift(`Background: ${sk.scenario.trim().replace(/\s+/g, ' ').slice(0, 500)}.`);
  }

  // A note per encounter, written last so it says what the record says.
  if (g.progressNote) {
    for (const rec of encounters) {
      const end = Date.parse(rec.e.end);
      if (rec.lines.length === 0) rec.lines.push('Visit completed.');
      rec.lines.push(r.pick(['Plan reviewed with the patient.', 'Return as scheduled.', 'Questions answered.']));
      doc.notes.push({
        id: id('note'), encounter: rec.e.id,
        type: { system: g.progressNote.system, code: g.progressNote.code, display: g.progressNote.display },
        time: iso(end), text: rec.lines.join('\n'),
      });
    }
  }

  if (opts.fault === 'hallucinate') hallucinate(doc, sk, nId);
  return doc;
}

// The hallucinating model: one condition gets a made-up SNOMED code, and the
// first encounter (with everything in it) is moved to before the birth date.
function hallucinate(doc, sk, seed) {
  const code = fakeSnomed(sk.index * 7919 + seed);
  doc.conditions.push({
    id: 'cond-extra', encounter: doc.encounters.length ? doc.encounters[0].id : 'enc1',
    category: 'encounter-diagnosis',
    term: { system: SNOMED, code, display: 'Chronic intermittent wellness syndrome (disorder)' },
    onset: doc.encounters.length ? doc.encounters[0].start : iso(sk.startMs),
    abatement: null,
    recorded: doc.encounters.length ? doc.encounters[0].start : iso(sk.startMs),
  });
  if (doc.encounters.length === 0) return;
  const e = doc.encounters[0];
  const shift = (sk.birthMs - 400 * DAY) - Date.parse(e.start);
  const mv = (s) => (s ? iso(Date.parse(s) + shift) : s);
  e.start = mv(e.start);
  e.end = mv(e.end);
  const own = (x) => x.encounter === e.id;
  for (const x of doc.observations.filter(own)) x.time = mv(x.time);
  for (const x of doc.reports.filter(own)) x.time = mv(x.time);
  for (const x of doc.immunizations.filter(own)) x.time = mv(x.time);
  for (const x of doc.notes.filter(own)) x.time = mv(x.time);
  for (const x of doc.procedures.filter(own)) { x.start = mv(x.start); x.end = mv(x.end); }
}
