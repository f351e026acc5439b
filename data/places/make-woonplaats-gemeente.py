#!/usr/bin/env python3
"""Derive woonplaats-gemeente.tsv from a CBS "Woonplaatsen in Nederland" CSV export.

Data tooling only; see PROVENANCE-woonplaats-gemeente.md for where the input comes from.

Usage:
    make-woonplaats-gemeente.py CBS_CSV PLACES_DIR OUT_TSV

CBS_CSV     the CBS StatLine export (semicolon-separated, quoted, UTF-8 with BOM,
            two header lines, a final "Bron: CBS" line). Columns used: 0 woonplaats,
            2 gemeente name, 4 provincie name.
PLACES_DIR  directory holding woonplaatsen.txt, gemeenten.txt, provincies.txt
            (the OpenTaal/bag-addresses name lists).
OUT_TSV     output: woonplaats<TAB>gemeente<TAB>provincie, one line per distinct
            triple, sorted by code point, UTF-8, LF line ends.

Name handling:
  * woonplaats: the register spells same-named places with a qualifier so that each
    name is unique ("Haren Gn", "Rijswijk (NB)", "Bergen L", "Winterswijk Meddo").
    The OpenTaal lists drop those qualifiers, so a register name that is not itself
    in woonplaatsen.txt is reduced by removing one qualifier (a trailing "(...)",
    a trailing "gem ..."/"gem. ...", one trailing token from QUALIFIER_TOKENS, or the
    leading "Winterswijk "); the result must be in woonplaatsen.txt, else the script
    stops.
  * gemeente: this CBS export writes municipality names without spaces
    ("AlphenaandenRijn") and the two Bergens as "Bergen(L.)" / "Bergen(NH.)". Each
    is mapped to the name in gemeenten.txt whose space-free form is equal (after
    dropping a trailing "(...)"); no match stops the script.
  * provincie: must be in provincies.txt.
Rows whose woonplaats cannot be reduced to a name in woonplaatsen.txt stop the
script; nothing is silently dropped.
"""
import csv
import re
import sys
from collections import defaultdict

QUALIFIER_TOKENS = {"L", "AC", "NB", "NH", "Gld", "Gn", "GN", "Ut", "ca",
                    "Rotterdam", "Oldebroek"}


def read_list(path):
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f if line.strip()]


def reduce_woonplaats(name, known):
    if name in known:
        return name
    candidates = []
    m = re.fullmatch(r"(.+?) \([^()]*\)", name)
    if m:
        candidates.append(m.group(1))
    m = re.fullmatch(r"(.+?) gem\.? .+", name)
    if m:
        candidates.append(m.group(1))
    head, _, last = name.rpartition(" ")
    if head and last in QUALIFIER_TOKENS:
        candidates.append(head)
    if name.startswith("Winterswijk "):
        candidates.append(name[len("Winterswijk "):])
    for c in candidates:
        if c in known:
            return c
    raise SystemExit(f"woonplaats not reducible to a known name: {name!r}")


def main():
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    cbs_csv, places_dir, out_tsv = sys.argv[1:]
    woonplaatsen = set(read_list(f"{places_dir}/woonplaatsen.txt"))
    gemeenten = read_list(f"{places_dir}/gemeenten.txt")
    provincies = set(read_list(f"{places_dir}/provincies.txt"))

    by_squeezed = {}
    for g in gemeenten:
        key = g.replace(" ", "")
        if key in by_squeezed:
            raise SystemExit(f"two municipalities squeeze to {key!r}")
        by_squeezed[key] = g

    def gemeente_name(raw):
        key = re.sub(r"\([^()]*\)$", "", raw.strip()).replace(" ", "")
        if key not in by_squeezed:
            raise SystemExit(f"unknown gemeente: {raw!r}")
        return by_squeezed[key]

    with open(cbs_csv, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f, delimiter=";"))
    data = [r for r in rows[2:] if len(r) >= 5]
    trailer = [r for r in rows[2:] if len(r) < 5]
    if trailer != [["Bron: CBS"]]:
        raise SystemExit(f"unexpected short rows: {trailer!r}")

    triples = set()
    places = defaultdict(list)  # name -> [(register name, gemeente, provincie)]
    for r in data:
        raw_wp, raw_gm, raw_pv = r[0].strip(), r[2], r[4].strip()
        wp = reduce_woonplaats(raw_wp, woonplaatsen)
        gm = gemeente_name(raw_gm)
        if raw_pv not in provincies:
            raise SystemExit(f"unknown provincie: {raw_pv!r}")
        triples.add((wp, gm, raw_pv))
        places[wp].append((raw_wp, gm, raw_pv))

    with open(out_tsv, "w", encoding="utf-8", newline="\n") as out:
        for t in sorted(triples):
            out.write("\t".join(t) + "\n")

    missing = sorted(woonplaatsen - set(places))
    multi_place = {n: v for n, v in places.items() if len(v) > 1}
    multi_gm = {n: v for n, v in places.items()
                if len({(g, p) for _, g, p in v}) > 1}
    multi_pv = {n for n, v in places.items() if len({p for _, _, p in v}) > 1}
    same_gm = sorted(n for n in multi_place if n not in multi_gm)

    print(f"CBS rows: {len(data)}; distinct register names: "
          f"{len({r[0].strip() for r in data})}")
    print(f"TSV lines: {len(triples)}; residence names covered: {len(places)}"
          f" of {len(woonplaatsen)}; not covered: {missing}")
    print(f"gemeenten used: {len({g for _, g, _ in triples})} of {len(gemeenten)}")
    print(f"names with more than one place (CBS rows): {len(multi_place)}")
    print(f"names in more than one municipality: {len(multi_gm)}"
          f" (of which in more than one province: {len(multi_pv)})")
    print(f"names with two places in the same municipality: {same_gm}")
    for n in sorted(multi_gm):
        desc = "; ".join(f"{g} ({p}) [{raw}]" for raw, g, p in sorted(
            multi_gm[n], key=lambda x: (x[1], x[2], x[0])))
        print(f"  {n}: {desc}")


if __name__ == "__main__":
    main()
