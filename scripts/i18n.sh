#!/usr/bin/env bash
# Manage leefbaar's message catalogues with Babel (see src/leefbaar/i18n.py).
#   scripts/i18n.sh extract   code -> src/leefbaar/locale/leefbaar.pot
#   scripts/i18n.sh update    extract, then merge the .pot into the nl and en .po files; English msgstrs that are
#                             still empty get their msgid (message ids are the English text); Dutch ones stay empty
#                             for a translator (tests/test_i18n.py fails until they are filled)
#   scripts/i18n.sh compile   .po -> .mo (build products, not committed; scripts/test.sh runs this)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
loc=src/leefbaar/locale
pybabel() { python3 -c 'import sys; from babel.messages.frontend import main; sys.argv[0] = "pybabel"; main()' "$@"; }
extract() {
  pybabel -q extract -F babel.cfg --no-location --sort-output -w 120 --project leefbaar --copyright-holder \
    "leefbaar contributors" --msgid-bugs-address "" -k N_ -o "$loc/leefbaar.pot" src/leefbaar
}
case "${1:-}" in
  extract) extract ;;
  update)
    extract
    for lang in nl en; do
      if [[ -f "$loc/$lang/LC_MESSAGES/leefbaar.po" ]]; then
        pybabel -q update -i "$loc/leefbaar.pot" -d "$loc" -D leefbaar -l "$lang" --no-fuzzy-matching -w 120 \
          --ignore-obsolete
      else
        pybabel -q init -i "$loc/leefbaar.pot" -d "$loc" -D leefbaar -l "$lang" -w 120
      fi
    done
    python3 - "$loc/en/LC_MESSAGES/leefbaar.po" <<'PY'
import sys
from babel.messages.pofile import read_po, write_po
path = sys.argv[1]
with open(path, "rb") as fh:
    cat = read_po(fh)
for m in cat:
    if m.id and not (m.string if isinstance(m.string, str) else all(m.string)):
        m.string = m.id
with open(path, "wb") as fh:
    write_po(fh, cat, width=120, omit_header=False, sort_output=True)
PY
    ;;
  compile)
    # leefbaar.i18n.compile_po, not 'pybabel compile': Babel's checks read '10% of' as a %-placeholder, while
    # leefbaar's texts use named str.format fields (tests/test_i18n.py checks those).
    for lang in nl en; do
      PYTHONPATH="$here/src${PYTHONPATH:+:$PYTHONPATH}" python3 -c 'import sys, pathlib
from leefbaar.i18n import compile_po
po = pathlib.Path(sys.argv[1]); po.with_suffix(".mo").write_bytes(compile_po(po))' "$loc/$lang/LC_MESSAGES/leefbaar.po"
    done ;;
  *) echo "usage: scripts/i18n.sh extract|update|compile" >&2; exit 2 ;;
esac
