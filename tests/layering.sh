#!/bin/sh
# Layering check (STYLE.md): only src/bind includes lua.h, only the workbench includes curses,
# only the lowering and CPU-runtime files include llvm-c. Part of tests/.
set -u
cd "${1:-.}"
bad=0
check() { # pattern, allowed-path-regex, what
  hits=$(grep -rlE "$1" src --include='*.c' --include='*.h' | grep -vE "$2" || true)
  if [ -n "$hits" ]; then
    echo "FAIL $3 included outside its layer:"; echo "$hits"; bad=1
  else
    echo "ok   $3"
  fi
}
check '#include *[<"](lua|lauxlib|lualib)\.h' '^src/(bind|cli)/' 'lua.h'
check '#include *[<"](n)?curses(w)?(\.h|/)' '^src/wb/' 'curses'
check '#include *[<"]llvm-c/' '^src/(lower|rt/cpu)' 'llvm-c'
if [ $bad = 0 ]; then echo "layering: 3 passed, 0 failed"; else echo "layering: failed"; fi
exit $bad
