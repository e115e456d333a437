// SPDX-License-Identifier: Apache-2.0
// Terminology and condition modules for the scripted stories.
//
// Every code a scripted answer carries comes from data/terminology/*.tsv,
// read here at start-up; the condition modules (data/conditions/*.json) say
// which labs, drugs, procedures and care plans go with which condition, and
// each of their terms is kept only when the tables hold its code. Generic
// items (vital signs, the wellness visit, the progress note, the flu shot,
// smoking status) are found in the tables by their display, so no code is
// written in this source.

import fs from 'node:fs';
import path from 'node:path';

export const SNOMED = 'http://snomed.info/sct';
export const LOINC = 'http://loinc.org';
export const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm';
export const CVX = 'http://hl7.org/fhir/sid/cvx';

// Displays of the generic items; looked up case-insensitively.
const GENERIC = {
  wellness: [SNOMED, 'General examination of patient (procedure)'],
  wellChild: [SNOMED, 'Well child visit (procedure)'],
  checkup: [SNOMED, 'Encounter for check up (procedure)'],
  problem: [SNOMED, 'Encounter for problem (procedure)'],
  symptom: [SNOMED, 'Encounter for symptom (procedure)'],
  followup: [SNOMED, 'Follow-up encounter (procedure)'],
  progressNote: [LOINC, 'Provider-unspecified Progress note'],
  bpPanel: [LOINC, 'Blood pressure panel with all children optional'],
  systolic: [LOINC, 'Systolic Blood Pressure'],
  diastolic: [LOINC, 'Diastolic Blood Pressure'],
  heartRate: [LOINC, 'Heart rate'],
  respRate: [LOINC, 'Respiratory rate'],
  weight: [LOINC, 'Body Weight'],
  height: [LOINC, 'Body Height'],
  bmi: [LOINC, 'Body mass index (BMI) [Ratio]'],
  temperature: [LOINC, 'Body temperature'],
  smoking: [LOINC, 'Tobacco smoking status'],
  neverSmoked: [SNOMED, 'Never smoked tobacco (finding)'],
  exSmoker: [SNOMED, 'Ex-smoker (finding)'],
  smoker: [SNOMED, 'Smokes tobacco daily (finding)'],
  flu: [CVX, 'Influenza, split virus, trivalent, PF'],
  td: [CVX, 'Td (adult), 5 Lf tetanus toxoid, preservative free, adsorbed'],
  naturalDeath: [SNOMED, 'Natural death with unknown cause'],
};

function readTsv(file, rows) {
  // Lines starting with '#' are comments (before the header too).
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => !l.startsWith('#'));
  const head = (lines[0] || '').replace(/\r$/, '').split('\t');
  const col = (n) => head.indexOf(n);
  const [cs, cc, cd, cu] = ['system_uri', 'code', 'display', 'unit'].map(col);
  if (cs < 0 || cc < 0 || cd < 0) throw new Error(`${file}: header lacks system_uri/code/display`);
  for (let i = 1; i < lines.length; i++) {
    if (!lines[i].trim()) continue;
    const f = lines[i].replace(/\r$/, '').split('\t');
    rows.push({ system: f[cs], code: f[cc], display: f[cd], unit: cu >= 0 ? (f[cu] || '') : '' });
  }
}

// Loads the tables and the condition modules under dataDir. Throws with the
// file at fault when a table cannot be read.
export function loadTerminology(dataDir) {
  const tdir = path.join(dataDir, 'terminology');
  const rows = [];
  for (const f of fs.readdirSync(tdir).filter((n) => n.endsWith('.tsv')).sort()) {
    readTsv(path.join(tdir, f), rows);
  }
  const byCode = new Map();
  const byDisplay = new Map();
  for (const r of rows) {
    const k = r.system + '|' + r.code;
    if (!byCode.has(k)) byCode.set(k, r);
    const d = r.system + '|' + r.display.toLowerCase();
    if (!byDisplay.has(d)) byDisplay.set(d, r);
  }
  const term = (r) => ({ system: r.system, code: r.code, display: r.display });
  const t = {
    rows,
    has: (system, code) => byCode.has(system + '|' + code),
    // The table's term for a module term, or null when its code is unknown.
    ground(x) {
      if (!x || typeof x.code !== 'string') return null;
      const r = byCode.get(x.system + '|' + x.code);
      return r ? term(r) : null;
    },
    unitOf(system, code) {
      const r = byCode.get(system + '|' + code);
      return r ? r.unit : '';
    },
    generic: {},
    modules: new Map(),
  };
  for (const [k, [system, display]] of Object.entries(GENERIC)) {
    const r = byDisplay.get(system + '|' + display.toLowerCase());
    t.generic[k] = r ? { ...term(r), unit: r.unit } : null;
  }
  const cdir = path.join(dataDir, 'conditions');
  if (fs.existsSync(cdir)) {
    for (const f of fs.readdirSync(cdir).filter((n) => n.endsWith('.json')).sort()) {
      try {
        const m = JSON.parse(fs.readFileSync(path.join(cdir, f), 'utf8'));
        if (m && typeof m.name === 'string') t.modules.set(m.name, groundModule(t, m));
      } catch (e) {
        throw new Error(`${path.join(cdir, f)}: ${e.message}`);
      }
    }
  }
  t.acute = [];
  t.allergies = [];
  t.urgent = null;
  const edir = path.join(dataDir, 'episodes');
  const readJson = (f) => {
    try {
      return JSON.parse(fs.readFileSync(f, 'utf8'));
    } catch (e) {
      throw new Error(`${f}: ${e.message}`);
    }
  };
  if (fs.existsSync(path.join(edir, 'acute.json'))) {
    const a = readJson(path.join(edir, 'acute.json'));
    const u = a.settings && a.settings.urgent;
    t.urgent = u && t.ground(u.type) ? { type: t.ground(u.type), minutes: u.minutes || [15, 40] } : null;
    for (const e of a.episodes || []) {
      const dx = t.ground(e.diagnosis);
      if (!dx) continue;
      const meds = [];
      for (const m of e.medications || []) {
        for (const o of m.options || []) {
          if (t.ground(o.term)) meds.push({ ...o, term: t.ground(o.term) });
        }
      }
      t.acute.push({ name: e.name, diagnosis: dx, lastsDays: e.lasts_days || [7, 14], meds });
    }
  }
  if (fs.existsSync(path.join(edir, 'allergies.json'))) {
    const a = readJson(path.join(edir, 'allergies.json'));
    const reactions = new Map();
    for (const [k, v] of Object.entries(a.reactions || {})) if (t.ground(v)) reactions.set(k, t.ground(v));
    for (const al of a.allergies || []) {
      const sub = t.ground(al.substance);
      const rs = Object.keys(al.reactions || {}).filter((k) => reactions.has(k)).map((k) => reactions.get(k));
      if (sub && ['food', 'medication', 'environment'].includes(al.category)) {
        t.allergies.push({ name: al.name, term: sub, category: al.category, reactions: rs });
      }
    }
  }
  return t;
}

// Keeps the parts of a condition module whose codes the tables hold.
function groundModule(t, m) {
  const g = (x) => t.ground(x);
  const labs = (m.labs || []).map((l) => ({ ...l, term: g(l.term) })).filter((l) => l.term && l.unit);
  const panels = new Map();
  for (const p of m.panels || []) {
    const pt = g(p.term);
    if (pt) panels.set(p.key, pt);
  }
  const medications = (m.medications || []).map((s) => ({
    ...s,
    drugs: (s.drugs || []).map((d) => ({ ...d, term: g(d.term) })).filter((d) => d.term),
  })).filter((s) => s.drugs.length > 0);
  const procedures = (m.procedures || []).map((p) => ({ ...p, term: g(p.term) })).filter((p) => p.term);
  let careplan = null;
  if (m.careplan && g(m.careplan.category)) {
    careplan = {
      term: g(m.careplan.category),
      activities: (m.careplan.activities || []).map(g).filter(Boolean),
    };
  }
  return {
    name: m.name,
    term: g(m.term),
    labs,
    panels,
    medications,
    procedures,
    careplan,
    vitals: m.vitals || null,
    followupMonths: m.followup && m.followup.months > 0 ? m.followup.months : 12,
    followupEncounter: m.followup ? g(m.followup.encounter) : null,
    diagnosisEncounter: g(m.diagnosis_encounter),
  };
}

// Verhoeff check digit (the one SNOMED CT identifiers end with).
const VD = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5], [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
  [3, 4, 0, 1, 2, 8, 9, 5, 6, 7], [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
  [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3], [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
  [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]];
const VP = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4], [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
  [8, 9, 1, 6, 0, 4, 3, 5, 2, 7], [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
  [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8]];
const VINV = [0, 4, 3, 2, 1, 5, 6, 7, 8, 9];

export function verhoeffValid(digits) {
  let c = 0;
  const a = digits.split('').reverse();
  for (let i = 0; i < a.length; i++) c = VD[c][VP[i % 8][Number(a[i])]];
  return c === 0;
}

function verhoeffDigit(digits) {
  let c = 0;
  const a = digits.split('').reverse();
  for (let i = 0; i < a.length; i++) c = VD[c][VP[(i + 1) % 8][Number(a[i])]];
  return VINV[c];
}

// A SNOMED-shaped identifier (concept partition "00") whose check digit is
// deliberately wrong, so it can never be a real concept.
export function fakeSnomed(seed) {
  const body = String(4100000 + (seed % 800000)) + '00';
  const good = verhoeffDigit(body);
  const code = body + String((good + 1 + (seed % 8)) % 10);
  if (verhoeffValid(code)) throw new Error('fake SNOMED code passed the check digit');
  return code;
}
