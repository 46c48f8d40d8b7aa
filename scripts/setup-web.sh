#!/usr/bin/env bash
# Install what the leefbaar web dashboard needs, on a clean checkout (idempotent).
#   scripts/setup-web.sh           npm ci in frontend/ and copy the bundled JS/CSS into
#                                  src/leefbaar/web/static/vendor/ (git-ignored)
#   scripts/setup-web.sh --test    also install Debian's chromium (browser tests) and poppler-utils
#                                  (pdfinfo/pdftoppm, to look at report PDFs) when missing; needs root
# Needs node/npm on PATH. The browser is Debian's /usr/bin/chromium: never `playwright install`.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

(cd "$here/frontend" && npm ci --no-audit --no-fund --loglevel=error)
node "$here/frontend/build.mjs"

if [[ "${1:-}" == "--test" ]]; then
  missing=()
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v pdfinfo >/dev/null 2>&1 || missing+=(poppler-utils)
  if ((${#missing[@]})); then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" fonts-dejavu-core >/dev/null
  fi
fi
