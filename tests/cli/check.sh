# The end-to-end CLI tests' shared check: check NAME EXPECTED ACTUAL counts a pass when ACTUAL
# contains EXPECTED, else prints both. Part of tests/cli; sourced by the cli_*.sh scripts.
pass=0; fail=0
check() { # name, expected-substring, actual
  case "$3" in
    *"$2"*) pass=$((pass + 1)); echo "ok   $1" ;;
    *) fail=$((fail + 1)); printf 'FAIL %s: expected to find %s in:\n%s\n' "$1" "$2" "$3" ;;
  esac
}
