#!/usr/bin/env bash
# npm run lint: eslint (mistakes), prettier (TypeScript and JavaScript layout) and clang-format
# (bpf/ and native/, each with its own .clang-format) check the tree; every check runs and the
# script fails if any of them failed. npm run format (--write) applies prettier and clang-format.
set -uo pipefail
cd "$(dirname "$0")/.."
say() { echo "lint: $*" >&2; }

JS=('{src,test,bench,scripts}/**/*.{ts,js}' eslint.config.mjs)
# vmlinux.h is generated (scripts/gen-vmlinux.sh).
C=(bpf/*.c $(ls bpf/include/*.h | grep -v '/vmlinux\.h$') native/*.cc native/*.h)

if ! command -v clang-format >/dev/null; then
  say "clang-format is not installed: run 'bash scripts/setup-test.sh' (Debian package clang-format)"
  exit 1
fi

if [ "${1:-}" = --write ]; then
  scripts/node node_modules/prettier/bin/prettier.cjs --log-level warn --write "${JS[@]}" &&
    clang-format -i "${C[@]}"
  exit
fi

failed=()
scripts/node node_modules/eslint/bin/eslint.js src test bench scripts eslint.config.mjs || failed+=(eslint)
scripts/node node_modules/prettier/bin/prettier.cjs --check "${JS[@]}" || failed+=(prettier)
clang-format --dry-run --Werror "${C[@]}" || failed+=(clang-format)
if [ ${#failed[@]} -gt 0 ]; then
  say "failed: ${failed[*]} (npm run format fixes the layout; eslint's findings are fixed by hand)"
  exit 1
fi
say "eslint, prettier and clang-format: clean"
