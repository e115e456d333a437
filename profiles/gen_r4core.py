#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Write fhirgen's compact R4 core (data/r4core/) from the official package.

    gen_r4core.py [PACKAGE_DIR [OUT_DIR]]

PACKAGE_DIR is the `package/` folder of hl7.fhir.r4.core#4.0.1 (default:
../shared/fhir-packages/hl7.fhir.r4.core#4.0.1/package next to the source
tree); OUT_DIR defaults to data/r4core of the source tree.

The output keeps the FHIR shape of every resource, with the few shortcuts
listed below, so the registry reads it with nearly the same code as any
package. It drops what validation does not read: narrative, mappings,
definitions and comments, examples, element extensions. Three files:

  constraints.json  every distinct invariant (key, severity, human,
                    expression, source) once; an element's "constraint"
                    array holds indexes into this list instead of objects;
  structures.json   every StructureDefinition (resources, datatypes,
                    primitives, the core profiles and extension
                    definitions) with its snapshot reduced to the fields in
                    ELEMENT_KEYS. To keep the parser's work small, an
                    element id equal to its path, min 0 and false
                    isModifier / mustSupport are left out (the defaults),
                    base.max is kept only where it differs from max, and a
                    type that is only a code is written as that string;
  terminology.json  the ValueSets named by a binding of any structure (any
                    strength: a profile may make a preferred binding
                    required), the value sets they import, and the
                    CodeSystems those value sets draw on.

Output is deterministic: resources sorted by url, keys sorted, one resource
per line, so a regenerated copy can be compared byte for byte.
"""

import glob
import json
import os
import sys

SD_KEYS = ["url", "version", "name", "type", "kind", "abstract", "baseDefinition",
           "derivation", "context", "fhirVersion"]
ELEMENT_KEYS = ["id", "path", "sliceName", "min", "max", "contentReference",
                "isModifier", "mustSupport"]
# Kept on the types of primitive values: the FHIR type and the format.
TYPE_EXTS = ("http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type",
             "http://hl7.org/fhir/StructureDefinition/regex")
VS_KEYS = ["url", "version", "name", "status"]
CS_KEYS = ["url", "version", "name", "status", "content", "caseSensitive",
           "hierarchyMeaning", "valueSet"]


# Three core extension definitions (json-type, xml-type, rdf-type) carry
# their id and url types only as an XML schema type in _code.
XSD_TYPES = {"xsd:string": "string", "xsd:anyUri": "uri"}


def type_code(t):
    if "code" in t:
        return t["code"]
    for ext in t.get("_code", {}).get("extension", []):
        if ext.get("valueString") in XSD_TYPES:
            return XSD_TYPES[ext["valueString"]]
    return "string"


def reduce_type(t):
    out = {"code": type_code(t)}
    for k in ("profile", "targetProfile"):
        if k in t:
            out[k] = t[k]
    exts = [x for x in t.get("extension", []) if x.get("url") in TYPE_EXTS]
    if exts:
        out["extension"] = exts
    return out


def reduce_element(e, ctable):
    out = {k: e[k] for k in ELEMENT_KEYS if k in e}
    if out.get("id") == out.get("path"):
        del out["id"]
    for k, default in (("min", 0), ("isModifier", False), ("mustSupport", False)):
        if k in out and out[k] == default:
            del out[k]
    if "base" in e and "max" in e["base"] and e["base"]["max"] != e.get("max"):
        out["base"] = {"max": e["base"]["max"]}
    if "type" in e:
        types = [reduce_type(t) for t in e["type"]]
        out["type"] = [t["code"] if len(t) == 1 else t for t in types]
    b = e.get("binding")
    if b and "strength" in b:
        out["binding"] = {"strength": b["strength"]}
        if "valueSet" in b:
            out["binding"]["valueSet"] = b["valueSet"]
    for k, v in e.items():
        if k.startswith("fixed") or k.startswith("pattern"):
            out[k] = v
    cons = []
    for c in e.get("constraint", []):
        rc = {k: c[k] for k in ("key", "severity", "human", "expression", "source") if k in c}
        cons.append(ctable.index(rc))
    if cons:
        out["constraint"] = cons
    if "slicing" in e:
        s = e["slicing"]
        out["slicing"] = {k: s[k] for k in ("discriminator", "ordered", "rules") if k in s}
    return out


class ConstraintTable:
    """Constraints repeat on every element (ele-1 alone 10,000 times), so
    elements name them by index into one table at the top of the file."""

    def __init__(self):
        self.items, self.pos = [], {}

    def index(self, c):
        k = json.dumps(c, sort_keys=True)
        if k not in self.pos:
            self.pos[k] = len(self.items)
            self.items.append(c)
        return self.pos[k]


def reduce_sd(sd, ctable):
    out = {"resourceType": "StructureDefinition"}
    for k in SD_KEYS:
        if k in sd:
            out[k] = sd[k]
    elems = sd.get("snapshot", {}).get("element", [])
    out["snapshot"] = {"element": [reduce_element(e, ctable) for e in elems]}
    return out


def reduce_concepts(concepts):
    out = []
    for c in concepts:
        rc = {"code": c["code"]}
        if "display" in c:
            rc["display"] = c["display"]
        props = [p for p in c.get("property", []) if "code" in p]
        if props:
            rc["property"] = [{k: v for k, v in p.items() if k == "code" or k.startswith("value")}
                              for p in props]
        if "concept" in c:
            rc["concept"] = reduce_concepts(c["concept"])
        out.append(rc)
    return out


def reduce_include(inc):
    out = {k: inc[k] for k in ("system", "version", "valueSet", "filter") if k in inc}
    if "concept" in inc:
        out["concept"] = [{k: c[k] for k in ("code", "display") if k in c} for c in inc["concept"]]
    return out


def reduce_vs(vs):
    out = {"resourceType": "ValueSet"}
    for k in VS_KEYS:
        if k in vs:
            out[k] = vs[k]
    comp = vs.get("compose")
    if comp:
        rc = {}
        for k in ("include", "exclude"):
            if k in comp:
                rc[k] = [reduce_include(i) for i in comp[k]]
        if "inactive" in comp:
            rc["inactive"] = comp["inactive"]
        out["compose"] = rc
    exp = vs.get("expansion")
    if exp and "contains" in exp and not comp:
        out["expansion"] = {"contains": [
            {k: c[k] for k in ("system", "code", "display") if k in c} for c in exp["contains"]]}
    return out


def reduce_cs(cs):
    out = {"resourceType": "CodeSystem"}
    for k in CS_KEYS:
        if k in cs:
            out[k] = cs[k]
    if "property" in cs:
        out["property"] = [{k: p[k] for k in ("code", "type") if k in p} for p in cs["property"]]
    if "concept" in cs:
        out["concept"] = reduce_concepts(cs["concept"])
    return out


def strip_version(url):
    return url.split("|", 1)[0]


def load_dir(pkg):
    sds, vss, css = {}, {}, {}
    for f in sorted(glob.glob(os.path.join(pkg, "*.json"))):
        name = os.path.basename(f)
        if not name.startswith(("StructureDefinition-", "ValueSet-", "CodeSystem-")):
            continue
        with open(f, encoding="utf-8") as fh:
            res = json.load(fh)
        rt, url = res.get("resourceType"), res.get("url")
        if not url:
            continue
        if rt == "StructureDefinition":
            sds[url] = res
        elif rt == "ValueSet":
            vss[url] = res
        elif rt == "CodeSystem":
            css[url] = res
    return sds, vss, css


def needed_valuesets(sds, vss):
    want = set()
    for sd in sds.values():
        for e in sd.get("snapshot", {}).get("element", []):
            b = e.get("binding", {})
            if "valueSet" in b:
                want.add(strip_version(b["valueSet"]))
    # imports, transitively
    todo = list(want)
    while todo:
        vs = vss.get(todo.pop())
        if not vs:
            continue
        comp = vs.get("compose", {})
        for inc in comp.get("include", []) + comp.get("exclude", []):
            for imp in inc.get("valueSet", []):
                u = strip_version(imp)
                if u not in want:
                    want.add(u)
                    todo.append(u)
    return sorted(u for u in want if u in vss)


def needed_codesystems(vs_urls, vss, css):
    want = set()
    for u in vs_urls:
        comp = vss[u].get("compose", {})
        for inc in comp.get("include", []) + comp.get("exclude", []):
            if "system" in inc and inc["system"] in css:
                want.add(inc["system"])
    return sorted(want)


def write_lines(path, head, key, items):
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write("{" + json.dumps(head, sort_keys=True, separators=(",", ":"))[1:-1])
        fh.write(',"%s":[\n' % key)
        fh.write(",\n".join(json.dumps(i, sort_keys=True, separators=(",", ":"),
                                       ensure_ascii=False) for i in items))
        fh.write("\n]}\n")


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    pkg = argv[1] if len(argv) > 1 else os.path.join(
        root, "..", "shared", "fhir-packages", "hl7.fhir.r4.core#4.0.1", "package")
    out = argv[2] if len(argv) > 2 else os.path.join(root, "data", "r4core")
    if not os.path.isfile(os.path.join(pkg, "package.json")):
        sys.stderr.write("gen_r4core: no package.json in %s: pass the package/ folder of "
                         "hl7.fhir.r4.core#4.0.1\n" % pkg)
        return 2
    sds, vss, css = load_dir(pkg)
    vs_urls = needed_valuesets(sds, vss)
    cs_urls = needed_codesystems(vs_urls, vss, css)
    os.makedirs(out, exist_ok=True)
    head = {"source": "hl7.fhir.r4.core#4.0.1 (CC0, HL7), reduced by profiles/gen_r4core.py",
            "format": 1}
    ctable = ConstraintTable()
    structures = [reduce_sd(sds[u], ctable) for u in sorted(sds)]
    write_lines(os.path.join(out, "constraints.json"), head, "constraints", ctable.items)
    write_lines(os.path.join(out, "structures.json"), head, "structures", structures)
    term = [reduce_vs(vss[u]) for u in vs_urls] + [reduce_cs(css[u]) for u in cs_urls]
    write_lines(os.path.join(out, "terminology.json"), head, "resources", term)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
